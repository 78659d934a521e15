/* tests/unit/test_pipeline.c: the engine's run of a table (engine/pipeline.c)
 * over drops in a scratch folder, into a SQLite warehouse beside them.
 *
 * The config comes from sl_config_load_mem as if it were the scratch
 * folder's sluice.yaml; drops are written into its drop folders and one
 * sl_pipeline_run takes them. Each test checks the run's counts, the table
 * as stored, the ledger, and where the drop went (done/, failed/,
 * quarantine/), and what sl_run_stats_text says about the run. */
#include "engine_fixture.h"

#include <jansson.h>

static const char CONFIG[] =
    "connections:\n"
    "  wh: { url: \"sqlite://wh.db\" }\n"
    "pipelines:\n"
    "  - name: orders\n"
    "    source: { kind: files, path: drops/orders, format: csv, settle: 0s }\n"
    "    destination: wh\n"
    "    tables:\n"
    "      - name: orders\n"
    "        kind: versioned\n"
    "        primary_key: [id]\n"
    "        version_key: v\n"
    "        columns: { id: bigint, v: bigint, amount: numeric, name: text }\n"
    "  - name: fresh\n"
    "    source: { kind: files, path: drops/fresh, format: csv, settle: 0s }\n"
    "    destination: wh\n"
    "    tables:\n"
    "      - { name: fresh, kind: append }\n"
    "  - name: held\n"
    "    source: { kind: files, path: drops/held, format: csv, settle: 0s }\n"
    "    destination: wh\n"
    "    tables:\n"
    "      - name: held\n"
    "        kind: versioned\n"
    "        primary_key: [id]\n"
    "        version_key: v\n"
    "        gates: { unique_key: quarantine }\n";

FX_SETUP_TEARDOWN(CONFIG)

static void assert_stats_text(const struct sl_run_stats *st, const char *want)
{
    char text[1024];
    sl_run_stats_text(st, text, sizeof text);
    assert_string_equal(text, want);
}

/* The ids of the ledger's rows, newest first, in state `state` (NULL: all). */
static char *ledger_ids(struct fx *f, const char *state)
{
    struct sl_rows r;
    struct sl_buf b;
    fx_list(f, NULL, state, 1000, &r);
    sl_buf_init(&b);
    sl_buf_puts(&b, "");
    for (size_t i = 0; i < r.nrows; i++)
        sl_buf_printf(&b, "%s%s", i ? " " : "", fx_cell(&r, i, "id"));
    sl_rows_free(&r);
    assert_false(b.oom);
    char *s = strdup(b.data);
    sl_buf_free(&b);
    return s;
}

/* Every column of the ledger's committed rows and of its content records:
 * what a failed batch must leave exactly as it was. */
static char *committed_ledger(struct fx *f)
{
    struct sl_rows r;
    struct sl_buf b;
    sl_buf_init(&b);
    fx_list(f, NULL, "committed", 1000, &r);
    for (size_t i = 0; i < r.nrows; i++) {
        for (size_t c = 0; c < r.ncols; c++) {
            const char *v = sl_rows_get(&r, i, c);
            sl_buf_printf(&b, "%s%s", c ? "|" : "", v ? v : "NULL");
        }
        sl_buf_putc(&b, '\n');
    }
    sl_rows_free(&r);
    fx_query(f, "SELECT table_name, content_hash, name, bytes, batch_id, loaded_at"
                " FROM {files} ORDER BY batch_id, name", &r);
    for (size_t i = 0; i < r.nrows; i++) {
        for (size_t c = 0; c < r.ncols; c++) {
            const char *v = sl_rows_get(&r, i, c);
            sl_buf_printf(&b, "%s%s", c ? "|" : "", v ? v : "NULL");
        }
        sl_buf_putc(&b, '\n');
    }
    sl_rows_free(&r);
    assert_false(b.oom);
    char *s = strdup(b.data ? b.data : "");
    sl_buf_free(&b);
    return s;
}

static void committed_drops_load_their_rows_and_are_counted(void **state)
{
    struct fx *f = *state;

    fx_drop(f, "drops/orders", "a.csv", "id,v,amount,name\n1,1,10.50,one\n2,1,20,two\n3,1,0.25,\n");
    fx_drop(f, "drops/orders", "b.csv",
            "id,v,amount,name\n1,2,11.00,\"one, again\"\n4,1,40,four\n");
    struct sl_run_stats st = fx_run(f, "orders");
    assert_int_equal(st.committed, 2);
    assert_int_equal(st.rows, 5);
    assert_int_equal(st.rows_written, 5);
    assert_int_equal(st.last_batch, 2);
    assert_int_equal(st.duplicates + st.failed + st.deferred + st.waiting + st.quarantined, 0);
    assert_int_equal(st.not_run + st.stopped + st.locked, 0);
    assert_int_equal(st.first_error.code, SL_E_NONE);
    assert_stats_text(&st, "2 committed (5 rows), 0 duplicate, 0 failed, 0 deferred,"
                           " 0 quarantined");

    /* the table: a.csv's rows, b.csv's newer version of 1 and its new 4 */
    char *got = fx_dump(f, "orders", NULL);
    assert_string_equal(got, "1|2|'11.00'|'one, again'|2\n"
                             "2|1|'20'|'two'|1\n"
                             "3|1|'0.25'|NULL|1\n"
                             "4|1|'40'|'four'|2\n");
    free(got);

    /* the ledger: a batch per drop, in the order they were dropped */
    struct sl_rows r;
    fx_list(f, "orders", NULL, 10, &r);
    assert_int_equal(r.nrows, 2);
    assert_string_equal(fx_cell(&r, 0, "id"), "2");
    assert_string_equal(fx_cell(&r, 0, "state"), "committed");
    assert_string_equal(fx_cell(&r, 0, "source_ref"), "drops/orders/b.csv");
    assert_string_equal(fx_cell(&r, 0, "rows_in"), "2");
    assert_string_equal(fx_cell(&r, 0, "kind"), "versioned");
    assert_string_equal(fx_cell(&r, 0, "pipeline"), "orders");
    assert_string_equal(fx_cell(&r, 1, "id"), "1");
    assert_string_equal(fx_cell(&r, 1, "source_ref"), "drops/orders/a.csv");
    assert_string_equal(fx_cell(&r, 1, "rows_in"), "3");
    assert_string_equal(fx_cell(&r, 1, "rows_written"), "3");
    sl_rows_free(&r);

    /* the drops moved to done/ */
    assert_true(fx_exists(f, "drops/orders/done/a.csv"));
    assert_true(fx_exists(f, "drops/orders/done/b.csv"));
    assert_false(fx_exists(f, "drops/orders/a.csv"));
    assert_false(fx_exists(f, "drops/orders/b.csv"));

    /* nothing more to do: an empty run */
    st = fx_run(f, "orders");
    assert_int_equal(st.committed, 0);
    assert_stats_text(&st, "0 committed (0 rows), 0 duplicate, 0 failed, 0 deferred,"
                           " 0 quarantined");
}

static void duplicate_drop_is_skipped_and_changes_nothing(void **state)
{
    struct fx *f = *state;
    const char *csv = "id,v,amount,name\n1,1,1,one\n2,1,2,two\n";

    fx_drop(f, "drops/orders", "a.csv", csv);
    int64_t first = fx_run_one(f, "orders");
    char *table = fx_dump(f, "orders", NULL);
    char *ledger = committed_ledger(f);
    char *ids = ledger_ids(f, NULL);

    /* the same bytes under another name */
    fx_drop(f, "drops/orders", "a-copy.csv", csv);
    struct sl_run_stats st = fx_run(f, "orders");
    assert_int_equal(st.duplicates, 1);
    assert_int_equal(st.committed, 0);
    assert_int_equal(st.failed, 0);
    assert_int_equal(st.rows, 0);
    assert_stats_text(&st, "0 committed (0 rows), 1 duplicate, 0 failed, 0 deferred,"
                           " 0 quarantined");

    char *after = fx_dump(f, "orders", NULL);
    assert_string_equal(after, table);
    free(after);
    after = committed_ledger(f);
    assert_string_equal(after, ledger);
    free(after);
    after = ledger_ids(f, NULL);
    assert_string_equal(after, ids);                /* no batch for it at all */
    free(after);
    assert_true(fx_exists(f, "drops/orders/done/a-copy.csv"));
    assert_false(fx_exists(f, "drops/orders/a-copy.csv"));

    /* other content loads as ever */
    fx_drop(f, "drops/orders", "b.csv", "id,v,amount,name\n3,1,3,three\n");
    assert_int_equal(fx_run_one(f, "orders"), first + 1);
    free(table);
    free(ledger);
    free(ids);
}

static void malformed_drop_fails_at_file_line_col_and_changes_nothing(void **state)
{
    struct fx *f = *state;

    fx_drop(f, "drops/orders", "good.csv", "id,v,amount,name\n1,1,1,one\n2,1,2,two\n");
    fx_run_one(f, "orders");
    char *table = fx_dump(f, "orders", NULL);
    char *ledger = committed_ledger(f);

    /* newer versions of both keys, so a half-load would show, then a quote
     * never closed */
    fx_drop(f, "drops/orders", "bad.csv", "id,v,amount,name\n1,2,9,changed\n2,2,9,changed\n"
                                          "3,2,3.0,\"never closed\n4,2,4.0,x\n");
    struct sl_run_stats st = fx_run(f, "orders");
    assert_int_equal(st.failed, 1);
    assert_int_equal(st.committed, 0);
    assert_int_equal(st.rows, 0);
    assert_int_equal(st.first_error.code, SL_E_INPUT);
    const char *where = "drops/orders/bad.csv:6:1: unterminated quoted field (started at 4:9)";
    assert_contains(st.first_error.msg, where);
    assert_stats_text(&st, "0 committed (0 rows), 0 duplicate, 1 failed, 0 deferred,"
                           " 0 quarantined");

    char *after = fx_dump(f, "orders", NULL);
    assert_string_equal(after, table);
    free(after);
    after = committed_ledger(f);
    assert_string_equal(after, ledger);
    free(after);
    /* the failure is on record, with the same words */
    struct sl_rows r;
    fx_list(f, "orders", "failed", 10, &r);
    assert_int_equal(r.nrows, 1);
    assert_contains(fx_cell(&r, 0, "error"), where);
    assert_string_equal(fx_cell(&r, 0, "source_ref"), "drops/orders/bad.csv");
    sl_rows_free(&r);
    /* the drop is set aside with a note of why */
    assert_true(fx_exists(f, "drops/orders/failed/bad.csv"));
    assert_false(fx_exists(f, "drops/orders/bad.csv"));
    char *note = fx_read(f, "drops/orders/failed/bad.csv.error");
    assert_contains(note, where);
    free(note);

    /* a value not of its column's type, named by column */
    fx_drop(f, "drops/orders", "type.csv", "id,v,amount,name\n1,3,9,x\n2,3,12x.5,y\n");
    st = fx_run(f, "orders");
    assert_int_equal(st.failed, 1);
    assert_contains(st.first_error.msg, "drops/orders/type.csv:3:5: column \"amount\" (numeric)");
    after = fx_dump(f, "orders", NULL);
    assert_string_equal(after, table);
    free(after);
    after = committed_ledger(f);
    assert_string_equal(after, ledger);
    free(after);
    free(table);
    free(ledger);
}

static void failed_first_drop_of_a_new_table_leaves_no_table(void **state)
{
    struct fx *f = *state;

    fx_drop(f, "drops/fresh", "f1.csv", "id,amount\n1,1.5\n2,2.5\n3,\"open\n");
    struct sl_run_stats st = fx_run(f, "fresh");
    assert_int_equal(st.failed, 1);
    assert_contains(st.first_error.msg, "drops/fresh/f1.csv:");
    assert_false(fx_table_exists(f, "fresh"));
    char *ids = ledger_ids(f, "committed");
    assert_string_equal(ids, "");
    free(ids);

    fx_drop(f, "drops/fresh", "f2.csv", "id,amount\n1,1.5\n");
    fx_run_one(f, "fresh");
    assert_true(fx_table_exists(f, "fresh"));
    assert_int_equal(fx_count(f, "SELECT count(*) FROM fresh"), 1);
}

static void unique_key_gate_quarantines_the_batch_and_nothing_is_visible(void **state)
{
    struct fx *f = *state;
    const char *dups = "id,v,val\n1,1,a\n1,2,b\n2,1,c\n";

    /* a new table: not even the table appears */
    fx_drop(f, "drops/held", "q.csv", dups);
    struct sl_run_stats st = fx_run(f, "held");
    assert_int_equal(st.quarantined, 1);
    assert_int_equal(st.committed, 0);
    assert_int_equal(st.failed, 0);
    assert_int_equal(st.rows, 0);
    assert_stats_text(&st, "0 committed (0 rows), 0 duplicate, 0 failed, 0 deferred,"
                           " 1 quarantined");
    assert_false(fx_table_exists(f, "held"));

    struct sl_rows r;
    fx_list(f, "held", NULL, 10, &r);
    assert_int_equal(r.nrows, 1);
    assert_string_equal(fx_cell(&r, 0, "state"), "quarantined");
    assert_string_equal(fx_cell(&r, 0, "held"), "quarantine/q.csv");
    int64_t id = strtoll(fx_cell(&r, 0, "id"), NULL, 10);
    json_t *report = json_loads(fx_cell(&r, 0, "report"), 0, NULL);
    sl_rows_free(&r);
    assert_non_null(report);
    json_t *uk = json_object_get(report, "unique_key");
    assert_non_null(uk);
    assert_string_equal(json_string_value(json_object_get(uk, "verdict")), "quarantine");
    assert_string_equal(json_string_value(json_object_get(uk, "message")),
                        "1 duplicate key (id), e.g. id=1 at lines 2 and 3");
    json_decref(report);
    /* its data is held aside, not in done/ or failed/ */
    assert_true(fx_exists(f, "drops/held/quarantine/q.csv"));
    assert_false(fx_exists(f, "drops/held/q.csv"));
    assert_false(fx_exists(f, "drops/held/done/q.csv"));

    /* approved: it loads as it is, as the same batch, the approval on record */
    struct sl_err err;
    sl_err_clear(&err);
    memset(&st, 0, sizeof st);
    assert_int_equal(sl_pipeline_release(f->cfg, sl_config_pipeline(f->cfg, "held"), id, 1,
                                         "tester", "duplicates are fine", &st, &err), 0);
    assert_int_equal(st.committed, 1);
    assert_int_equal(st.last_batch, id);
    assert_true(fx_table_exists(f, "held"));
    assert_state(f, id, "committed");
    assert_int_equal(fx_count(f, "SELECT count(*) FROM held"), 2);
    assert_int_equal(fx_count(f, "SELECT v FROM held WHERE id = 1"), 2);   /* the newer version */
    fx_list(f, "held", NULL, 10, &r);
    json_t *all = sl_ledger_decisions(fx_cell(&r, 0, "decision"));
    sl_rows_free(&r);
    assert_int_equal(json_array_size(all), 1);
    assert_string_equal(json_string_value(json_object_get(json_array_get(all, 0), "who")),
                        "tester");
    assert_string_equal(json_string_value(json_object_get(json_array_get(all, 0), "note")),
                        "duplicates are fine");
    json_decref(all);
}

static void unique_key_gate_holds_a_batch_of_a_loaded_table_which_waits_until_reject(void **state)
{
    struct fx *f = *state;

    fx_drop(f, "drops/held", "a.csv", "id,v,val\n1,1,a\n2,1,b\n");
    fx_run_one(f, "held");
    char *table = fx_dump(f, "held", NULL);
    char *ledger = committed_ledger(f);

    fx_drop(f, "drops/held", "q.csv", "id,v,val\n1,5,X\n2,5,Y\n2,6,Z\n");
    struct sl_run_stats st = fx_run(f, "held");
    assert_int_equal(st.quarantined, 1);
    assert_int_equal(st.committed, 0);
    char *after = fx_dump(f, "held", NULL);
    assert_string_equal(after, table);
    free(after);
    after = committed_ledger(f);
    assert_string_equal(after, ledger);
    free(after);
    assert_int_equal(fx_count(f, "SELECT count(*) FROM {batches} WHERE state = 'quarantined'"),
                     1);
    char *ids = ledger_ids(f, NULL);

    /* the table waits behind it: a new drop stays where it is */
    fx_drop(f, "drops/held", "c.csv", "id,v,val\n3,1,c\n");
    st = fx_run(f, "held");
    assert_int_equal(st.committed, 0);
    assert_int_equal(st.quarantined, 1);
    assert_true(fx_exists(f, "drops/held/c.csv"));
    after = fx_dump(f, "held", NULL);
    assert_string_equal(after, table);
    free(after);
    after = ledger_ids(f, NULL);
    assert_string_equal(after, ids);
    free(after);

    /* rejected: its data is set aside, the table is unpaused, c.csv loads */
    struct sl_rows r;
    struct sl_err err;
    fx_list(f, "held", "quarantined", 10, &r);
    assert_int_equal(r.nrows, 1);
    int64_t held = strtoll(fx_cell(&r, 0, "id"), NULL, 10);
    sl_rows_free(&r);
    memset(&st, 0, sizeof st);
    sl_err_clear(&err);
    assert_int_equal(sl_pipeline_release(f->cfg, sl_config_pipeline(f->cfg, "held"), held, 0,
                                         "tester", NULL, &st, &err), 0);
    assert_state(f, held, "rejected");
    after = fx_dump(f, "held", NULL);
    assert_string_equal(after, table);
    free(after);
    int64_t c = fx_run_one(f, "held");
    assert_true(c > held);
    assert_int_equal(fx_count(f, "SELECT count(*) FROM held"), 3);
    free(ids);
    free(table);
    free(ledger);
}

static void run_stats_text_says_what_happened(void **state)
{
    (void)state;
    struct sl_run_stats st;

    memset(&st, 0, sizeof st);
    assert_stats_text(&st, "0 committed (0 rows), 0 duplicate, 0 failed, 0 deferred,"
                           " 0 quarantined");
    st.committed = 2;
    st.rows = 10;
    st.duplicates = 1;
    st.waiting = 1;
    assert_stats_text(&st, "2 committed (10 rows), 1 duplicate, 0 failed,"
                           " 1 deferred (still being written), 0 quarantined");
    st.waiting = 0;
    st.deferred = 2;
    st.failed = 3;
    assert_stats_text(&st, "2 committed (10 rows), 1 duplicate, 3 failed,"
                           " 2 deferred (transient failures), 0 quarantined");
    st.deferred = 1;
    assert_stats_text(&st, "2 committed (10 rows), 1 duplicate, 3 failed,"
                           " 1 deferred (transient failure), 0 quarantined");
    st.waiting = 1;
    st.quarantined = 1;
    assert_stats_text(&st, "2 committed (10 rows), 1 duplicate, 3 failed,"
                           " 2 deferred (1 still being written, 1 transient failure),"
                           " 1 quarantined");

    memset(&st, 0, sizeof st);
    st.locked = 1;
    st.not_run = 1;
    snprintf(st.not_run_why, sizeof st.not_run_why, "destination \"wh\" could not be reached");
    assert_stats_text(&st, "0 committed (0 rows), 0 duplicate, 0 failed, 0 deferred,"
                           " 0 quarantined, 1 skipped (locked by another run), 1 table not run:"
                           " destination \"wh\" could not be reached");
    memset(&st, 0, sizeof st);
    st.stopped = 2;
    st.not_run = 3;
    assert_stats_text(&st, "0 committed (0 rows), 0 duplicate, 0 failed, 0 deferred,"
                           " 0 quarantined, 3 tables not run, 2 tables stopped early:"
                           " see the log");

    /* a short buffer gets the start of the line, terminated */
    char small[20];
    memset(small, 'x', sizeof small);
    sl_run_stats_text(&st, small, sizeof small);
    assert_string_equal(small, "0 committed (0 rows");
}

/* a test run in a scratch folder (setup, teardown) */
#define IN_SCRATCH(t) cmocka_unit_test_setup_teardown(t, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        IN_SCRATCH(committed_drops_load_their_rows_and_are_counted),
        IN_SCRATCH(duplicate_drop_is_skipped_and_changes_nothing),
        IN_SCRATCH(malformed_drop_fails_at_file_line_col_and_changes_nothing),
        IN_SCRATCH(failed_first_drop_of_a_new_table_leaves_no_table),
        IN_SCRATCH(unique_key_gate_quarantines_the_batch_and_nothing_is_visible),
        IN_SCRATCH(unique_key_gate_holds_a_batch_of_a_loaded_table_which_waits_until_reject),
        cmocka_unit_test(run_stats_text_says_what_happened),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
