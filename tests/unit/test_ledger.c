/* tests/unit/test_ledger.c: the batch ledger (engine/ledger.c) over a real
 * SQLite warehouse in a scratch folder, through engine/ledger.h only.
 *
 * Each test makes the ledger rows it needs the way the engine makes them
 * (open then commit, a failure, a quarantine, decisions) and reads them back
 * with the ledger's own readers (get, list, history, find_file, cursors),
 * checking states, figures and order exactly. */
#include "engine_fixture.h"

#include <jansson.h>

/* Each test gets a scratch folder of its own, removed after it even when
 * it fails. */
static int setup(void **state)
{
    *state = fx_new();
    return 0;
}

static int teardown(void **state)
{
    fx_free(*state);
    return 0;
}

/* ---- making batches ---- */

static int64_t opened(struct fx *f, const char *table, const char *ref, const char *hash,
                      uint64_t bytes)
{
    struct sl_batch_meta m = {"p", table, "append", ref, hash, bytes};
    struct sl_err err;
    int64_t id = 0;
    sl_err_clear(&err);
    if (sl_ledger_open(&f->l, &m, &id, &err) != 0)
        fail_msg("open: %s", err.msg);
    assert_true(id > 0);
    return id;
}

static int64_t committed(struct fx *f, const char *table, int64_t rows, uint64_t bytes)
{
    struct sl_err err;
    int64_t id = opened(f, table, "drop.csv", NULL, bytes);
    sl_err_clear(&err);
    if (sl_ledger_commit(&f->l, id, rows, rows, NULL, &err) != 0)
        fail_msg("commit: %s", err.msg);
    return id;
}

static int64_t failed(struct fx *f, const char *table, const char *error)
{
    struct sl_batch_meta m = {"p", table, "append", "bad.csv", NULL, 10};
    struct sl_err err;
    int64_t id = 0;
    sl_err_clear(&err);
    if (sl_ledger_record_failure(&f->l, &m, error, &id, &err) != 0)
        fail_msg("record_failure: %s", err.msg);
    assert_true(id > 0);
    return id;
}

static int64_t quarantined(struct fx *f, const char *table, const char *held)
{
    struct sl_batch_meta m = {"p", table, "versioned", "q.csv", "h-q", 77};
    struct sl_err err;
    int64_t id = 0;
    sl_err_clear(&err);
    if (sl_ledger_record_quarantine(&f->l, &m, "{\"unique_key\":{\"verdict\":\"quarantine\"}}",
                                    "unique_key: 2 duplicate keys", held, &id, &err) != 0)
        fail_msg("record_quarantine: %s", err.msg);
    assert_true(id > 0);
    return id;
}

static void decide(struct fx *f, int64_t id, const char *state, const char *what,
                   const char *who, const char *at, const char *note)
{
    struct sl_err err;
    char *d = sl_ledger_decision(what, who, at, note);
    assert_non_null(d);
    sl_err_clear(&err);
    if (sl_ledger_decide(&f->l, id, state, d, &err) != 0)
        fail_msg("decide: %s", err.msg);
    sl_free(d);
}

/* Every column of batch `id`'s ledger row, as stored. */
static void row_of(struct fx *f, int64_t id, struct sl_rows *out)
{
    struct sl_err err;
    char ids[24], sql[256];
    snprintf(ids, sizeof ids, "%lld", (long long)id);
    snprintf(sql, sizeof sql, "SELECT * FROM %s WHERE id = $1",
             f->ops->meta_table(f->d, "batches"));
    const char *p[] = {ids};
    sl_err_clear(&err);
    if (f->ops->exec(f->d, sql, 1, p, out, &err) != 0)
        fail_msg("%s", err.msg);
    if (out->nrows != 1)
        fail_msg("no batch %lld in the ledger", (long long)id);
}

/* "id id id ..." of the rows of a list, in their order. */
static char *ids_of(const struct sl_rows *r)
{
    struct sl_buf b;
    sl_buf_init(&b);
    sl_buf_puts(&b, "");
    for (size_t i = 0; i < r->nrows; i++)
        sl_buf_printf(&b, "%s%s", i ? " " : "", fx_cell(r, i, "id"));
    assert_false(b.oom);
    return sl_buf_steal(&b);
}

static void assert_list_ids(struct fx *f, const char *table, const char *state, long limit,
                            const char *want)
{
    struct sl_rows r;
    fx_list(f, table, state, limit, &r);
    char *got = ids_of(&r);
    if (strcmp(got, want) != 0)
        fail_msg("list(%s, %s, %ld): expected ids \"%s\", got \"%s\"", table ? table : "NULL",
                 state ? state : "NULL", limit, want, got);
    sl_free(got);
    sl_rows_free(&r);
}

/* ---- tests ---- */

static void open_records_a_received_batch_and_commit_its_figures(void **state)
{
    struct fx *f = *state;
    struct sl_rows r;
    struct sl_err err;

    int64_t id = opened(f, "orders", "drops/a.csv", "hash-a", 1234);
    int64_t next = opened(f, "orders", "drops/b.csv", NULL, 0);
    assert_int_equal(next, id + 1);

    sl_err_clear(&err);
    assert_int_equal(sl_ledger_get(&f->l, id, "p", &r, &err), 0);
    assert_int_equal(r.nrows, 1);
    assert_string_equal(sl_rows_get(&r, 0, 1), "p");
    assert_string_equal(sl_rows_get(&r, 0, 2), "orders");
    assert_string_equal(sl_rows_get(&r, 0, 3), "append");
    assert_string_equal(sl_rows_get(&r, 0, 4), "received");
    assert_string_equal(sl_rows_get(&r, 0, 5), "drops/a.csv");
    assert_null(sl_rows_get(&r, 0, 8));                     /* no error */
    sl_rows_free(&r);
    /* another pipeline's batch of that id is none of ours */
    assert_int_equal(sl_ledger_get(&f->l, id, "other", &r, &err), 0);
    assert_int_equal(r.nrows, 0);
    sl_rows_free(&r);

    row_of(f, id, &r);
    assert_null(fx_cell(&r, 0, "finished_at"));
    assert_string_equal(fx_cell(&r, 0, "bytes"), "1234");
    assert_string_equal(fx_cell(&r, 0, "content_hash"), "hash-a");
    assert_non_null(fx_cell(&r, 0, "started_at"));
    sl_rows_free(&r);

    assert_int_equal(sl_ledger_commit(&f->l, id, 10, 7, "{\"size\":{\"verdict\":\"pass\"}}", &err),
                     0);
    row_of(f, id, &r);
    assert_string_equal(fx_cell(&r, 0, "state"), "committed");
    assert_string_equal(fx_cell(&r, 0, "rows_in"), "10");
    assert_string_equal(fx_cell(&r, 0, "rows_written"), "7");
    assert_string_equal(fx_cell(&r, 0, "report"), "{\"size\":{\"verdict\":\"pass\"}}");
    assert_non_null(fx_cell(&r, 0, "finished_at"));
    assert_null(fx_cell(&r, 0, "error"));
    sl_rows_free(&r);

    /* a commit without a report keeps the one the batch had (a released batch
     * keeps the report of the gates that held it) */
    assert_int_equal(sl_ledger_commit(&f->l, id, 10, 7, NULL, &err), 0);
    row_of(f, id, &r);
    assert_string_equal(fx_cell(&r, 0, "report"), "{\"size\":{\"verdict\":\"pass\"}}");
    sl_rows_free(&r);

    /* the other batch is still only received */
    assert_state(f, next, "received");
}

static void failure_is_recorded_as_failed_with_its_error(void **state)
{
    struct fx *f = *state;
    struct sl_rows r;
    struct sl_batch_meta m = {"p", "orders", "versioned", "drops/bad.csv", "h-bad", 99};
    struct sl_err err;
    int64_t id = -1;

    int64_t before = committed(f, "orders", 5, 50);
    sl_err_clear(&err);
    assert_int_equal(sl_ledger_record_failure(&f->l, &m, "drops/bad.csv:4:9: unterminated quoted"
                                              " field (started at 4:3)", &id, &err), 0);
    assert_int_equal(id, before + 1);
    row_of(f, id, &r);
    assert_string_equal(fx_cell(&r, 0, "state"), "failed");
    assert_string_equal(fx_cell(&r, 0, "kind"), "versioned");
    assert_string_equal(fx_cell(&r, 0, "source_ref"), "drops/bad.csv");
    assert_string_equal(fx_cell(&r, 0, "bytes"), "99");
    assert_string_equal(fx_cell(&r, 0, "error"),
                        "drops/bad.csv:4:9: unterminated quoted field (started at 4:3)");
    assert_non_null(fx_cell(&r, 0, "finished_at"));
    assert_string_equal(fx_cell(&r, 0, "finished_at"), fx_cell(&r, 0, "started_at"));
    sl_rows_free(&r);
    /* a failure record commits on its own: the warehouse is not left in a
     * transaction (a second connection sees it at once) */
    struct fx *g = calloc(1, sizeof *g);
    assert_non_null(g);
    assert_int_equal(sl_dest_open(f->url, NULL, NULL, &g->ops, &g->d, &err), 0);
    g->l.ops = g->ops;
    g->l.d = g->d;
    assert_list_ids(g, NULL, "failed", 10, "2");
    g->ops->close(g->d);
    free(g);
    /* the id may be left out */
    assert_int_equal(sl_ledger_record_failure(&f->l, &m, "again", NULL, &err), 0);
    assert_list_ids(f, "orders", "failed", 10, "3 2");
    assert_state(f, before, "committed");
}

static void quarantine_keeps_report_summary_and_where_it_is_held(void **state)
{
    struct fx *f = *state;
    struct sl_rows r;
    struct sl_err err;
    int64_t first = 0;

    committed(f, "orders", 5, 50);
    sl_err_clear(&err);
    assert_int_equal(sl_ledger_first_quarantined(&f->l, "orders", &first, &err), 0);
    assert_int_equal(first, 0);

    int64_t q1 = quarantined(f, "orders", "quarantine/q.csv");
    int64_t q2 = quarantined(f, "orders", "quarantine/q-1.csv");
    quarantined(f, "other", "quarantine/x.csv");

    assert_int_equal(sl_ledger_get(&f->l, q1, "p", &r, &err), 0);
    assert_int_equal(r.nrows, 1);
    assert_string_equal(sl_rows_get(&r, 0, 4), "quarantined");
    assert_string_equal(sl_rows_get(&r, 0, 6), "quarantine/q.csv");
    assert_string_equal(sl_rows_get(&r, 0, 7), "{\"unique_key\":{\"verdict\":\"quarantine\"}}");
    assert_string_equal(sl_rows_get(&r, 0, 8), "unique_key: 2 duplicate keys");
    sl_rows_free(&r);

    /* the table waits behind its oldest quarantined batch */
    assert_int_equal(sl_ledger_first_quarantined(&f->l, "orders", &first, &err), 0);
    assert_int_equal(first, q1);
    row_of(f, q1, &r);
    char *held_at = strdup(fx_cell(&r, 0, "finished_at"));
    sl_rows_free(&r);

    /* approved: it leaves quarantine (and finishes again, now) and the next one is first */
    decide(f, q1, "approved", "approved", "alice", NULL, "checked");
    assert_int_equal(sl_ledger_first_quarantined(&f->l, "orders", &first, &err), 0);
    assert_int_equal(first, q2);
    row_of(f, q1, &r);
    assert_string_equal(fx_cell(&r, 0, "state"), "approved");
    assert_string_equal(fx_cell(&r, 0, "held"), "quarantine/q.csv");
    assert_string_equal(fx_cell(&r, 0, "report"), "{\"unique_key\":{\"verdict\":\"quarantine\"}}");
    assert_true(strcmp(fx_cell(&r, 0, "finished_at"), held_at) >= 0);
    sl_rows_free(&r);
    free(held_at);

    decide(f, q2, "rejected", "rejected", "bob", NULL, NULL);
    assert_int_equal(sl_ledger_first_quarantined(&f->l, "orders", &first, &err), 0);
    assert_int_equal(first, 0);
}

static void find_file_dedupes_by_table_and_content_hash(void **state)
{
    struct fx *f = *state;
    struct sl_err err;
    int64_t got = -1;

    int64_t a = committed(f, "orders", 3, 30);
    int64_t b = committed(f, "orders", 3, 30);
    sl_err_clear(&err);
    assert_int_equal(sl_ledger_find_file(&f->l, "orders", "h1", &got, &err), 0);
    assert_int_equal(got, 0);                       /* nothing recorded yet */
    assert_int_equal(sl_ledger_record_file(&f->l, "orders", "h1", "a.csv", 30, a, &err), 0);
    assert_int_equal(sl_ledger_record_file(&f->l, "orders", "h2", "b.csv", 30, b, &err), 0);

    assert_int_equal(sl_ledger_find_file(&f->l, "orders", "h1", &got, &err), 0);
    assert_int_equal(got, a);
    assert_int_equal(sl_ledger_find_file(&f->l, "orders", "h2", &got, &err), 0);
    assert_int_equal(got, b);
    /* the same content in another table is that table's first load */
    got = -1;
    assert_int_equal(sl_ledger_find_file(&f->l, "customers", "h1", &got, &err), 0);
    assert_int_equal(got, 0);
    got = -1;
    assert_int_equal(sl_ledger_find_file(&f->l, "orders", "h3", &got, &err), 0);
    assert_int_equal(got, 0);

    /* a snapshot table forgets what it loaded: only this table's */
    assert_int_equal(sl_ledger_record_file(&f->l, "customers", "h1", "a.csv", 30, b, &err), 0);
    assert_int_equal(sl_ledger_forget_files(&f->l, "orders", &err), 0);
    assert_int_equal(sl_ledger_find_file(&f->l, "orders", "h1", &got, &err), 0);
    assert_int_equal(got, 0);
    assert_int_equal(sl_ledger_find_file(&f->l, "orders", "h2", &got, &err), 0);
    assert_int_equal(got, 0);
    assert_int_equal(sl_ledger_find_file(&f->l, "customers", "h1", &got, &err), 0);
    assert_int_equal(got, b);
}

static void history_is_newest_first_without_rolled_back_or_failed(void **state)
{
    struct fx *f = *state;
    struct sl_err err;
    int64_t rows[8], bytes[8], last = -1;
    size_t count = 99;

    sl_err_clear(&err);
    assert_int_equal(sl_ledger_history(&f->l, "orders", 8, rows, bytes, &count, &err), 0);
    assert_int_equal(count, 0);
    assert_int_equal(sl_ledger_last_loaded(&f->l, "orders", &last, &err), 0);
    assert_int_equal(last, 0);

    committed(f, "orders", 100, 1000);                      /* 1 */
    int64_t gone = committed(f, "orders", 200, 2000);       /* 2: rolled back below */
    failed(f, "orders", "boom");                            /* 3 */
    committed(f, "other", 300, 3000);                       /* 4: another table */
    int64_t q = quarantined(f, "orders", "quarantine/q.csv");   /* 5: approved below */
    opened(f, "orders", "c.csv", NULL, 6000);               /* 6: never committed */
    committed(f, "orders", 400, 4000);                      /* 7 */
    quarantined(f, "orders", "quarantine/r.csv");           /* 8: still held */
    decide(f, gone, "rolled_back", "rolled back", "alice", NULL, NULL);
    assert_int_equal(sl_ledger_commit(&f->l, q, 250, 250, NULL, &err), 0);
    decide(f, q, "approved", "approved", "bob", NULL, NULL);

    assert_int_equal(sl_ledger_history(&f->l, "orders", 8, rows, bytes, &count, &err), 0);
    assert_int_equal(count, 3);
    assert_int_equal(rows[0], 400);                 /* 7 */
    assert_int_equal(bytes[0], 4000);
    assert_int_equal(rows[1], 250);                 /* 5: approved */
    assert_int_equal(bytes[1], 77);
    assert_int_equal(rows[2], 100);                 /* 1 */
    assert_int_equal(bytes[2], 1000);

    /* at most n, the newest */
    assert_int_equal(sl_ledger_history(&f->l, "orders", 1, rows, bytes, &count, &err), 0);
    assert_int_equal(count, 1);
    assert_int_equal(rows[0], 400);

    assert_int_equal(sl_ledger_last_loaded(&f->l, "orders", &last, &err), 0);
    assert_int_equal(last, 7);
    assert_int_equal(sl_ledger_last_loaded(&f->l, "other", &last, &err), 0);
    assert_int_equal(last, 4);
}

static void decide_keeps_every_decision_in_order_with_who_and_at(void **state)
{
    struct fx *f = *state;
    struct sl_rows r;
    struct sl_err err;

    int64_t id = quarantined(f, "orders", "quarantine/q.csv");
    decide(f, id, "approved", "approved", "alice", "2026-05-01T10:00:00.123456Z", "looks fine");
    sl_err_clear(&err);
    assert_int_equal(sl_ledger_commit(&f->l, id, 22, 22, NULL, &err), 0);
    row_of(f, id, &r);
    char *committed_at = strdup(fx_cell(&r, 0, "finished_at"));
    sl_rows_free(&r);

    decide(f, id, "rolled_back", "rolled back", "bob", NULL, NULL);
    row_of(f, id, &r);
    assert_string_equal(fx_cell(&r, 0, "state"), "rolled_back");
    /* a loaded batch keeps the time it committed */
    assert_string_equal(fx_cell(&r, 0, "finished_at"), committed_at);
    assert_string_equal(fx_cell(&r, 0, "report"), "{\"unique_key\":{\"verdict\":\"quarantine\"}}");
    json_t *all = sl_ledger_decisions(fx_cell(&r, 0, "decision"));
    sl_rows_free(&r);
    free(committed_at);

    assert_non_null(all);
    assert_int_equal(json_array_size(all), 2);
    json_t *a = json_array_get(all, 0), *b = json_array_get(all, 1);
    assert_string_equal(json_string_value(json_object_get(a, "what")), "approved");
    assert_string_equal(json_string_value(json_object_get(a, "who")), "alice");
    assert_string_equal(json_string_value(json_object_get(a, "at")), "2026-05-01T10:00:00.123456Z");
    assert_string_equal(json_string_value(json_object_get(a, "note")), "looks fine");
    assert_string_equal(json_string_value(json_object_get(b, "what")), "rolled back");
    assert_string_equal(json_string_value(json_object_get(b, "who")), "bob");
    const char *at = json_string_value(json_object_get(b, "at"));
    assert_non_null(at);
    assert_int_equal(strlen(at), strlen("2026-05-01T10:00:00.123456Z"));
    assert_int_equal(at[10], 'T');
    assert_int_equal(at[26], 'Z');
    assert_true(strcmp(at, "2026-05-01T10:00:00.123456Z") > 0);   /* now, after the approval */
    assert_true(json_is_null(json_object_get(b, "note")));

    struct sl_buf line;
    sl_buf_init(&line);
    assert_int_equal(sl_ledger_decision_line(a, 0, &line), 0);
    assert_string_equal(line.data, "approved by alice at 2026-05-01T10:00:00.123456Z: looks fine");
    sl_buf_reset(&line);
    assert_int_equal(sl_ledger_decision_line(a, 1, &line), 0);
    assert_string_equal(line.data, "approved by alice at 2026-05-01T10:00:00Z: looks fine");
    sl_buf_free(&line);
    json_decref(all);

    /* NULL state: only the decision is added */
    decide(f, id, NULL, "rejected", "carol", "2026-06-01T00:00:00.000000Z", "");
    row_of(f, id, &r);
    assert_string_equal(fx_cell(&r, 0, "state"), "rolled_back");
    all = sl_ledger_decisions(fx_cell(&r, 0, "decision"));
    sl_rows_free(&r);
    assert_int_equal(json_array_size(all), 3);
    assert_string_equal(json_string_value(json_object_get(json_array_get(all, 0), "who")), "alice");
    assert_string_equal(json_string_value(json_object_get(json_array_get(all, 1), "who")), "bob");
    assert_string_equal(json_string_value(json_object_get(json_array_get(all, 2), "who")), "carol");
    assert_true(json_is_null(json_object_get(json_array_get(all, 2), "note")));
    json_decref(all);

    /* what is not a decision object is refused and changes nothing */
    assert_int_equal(sl_ledger_decide(&f->l, id, "committed", "approved by dave", &err), -1);
    assert_int_equal(err.code, SL_E_INTERNAL);
    assert_state(f, id, "rolled_back");
    char *d = sl_ledger_decision("approved", "dave", NULL, NULL);
    sl_err_clear(&err);
    assert_int_equal(sl_ledger_decide(&f->l, id + 100, "approved", d, &err), -1);
    assert_int_equal(err.code, SL_E_NOTFOUND);
    assert_string_equal(err.msg, "no batch 101 in the ledger");
    sl_free(d);
}

static void decisions_read_a_one_line_value_of_an_earlier_version(void **state)
{
    (void)state;
    json_t *all = sl_ledger_decisions("approved by carol at 2026-01-02T03:04:05Z: was fine");
    assert_non_null(all);
    assert_int_equal(json_array_size(all), 1);
    json_t *d = json_array_get(all, 0);
    assert_string_equal(json_string_value(json_object_get(d, "what")), "approved");
    assert_string_equal(json_string_value(json_object_get(d, "who")), "carol");
    assert_string_equal(json_string_value(json_object_get(d, "at")), "2026-01-02T03:04:05Z");
    assert_string_equal(json_string_value(json_object_get(d, "note")), "was fine");
    json_decref(all);

    all = sl_ledger_decisions(NULL);
    assert_int_equal(json_array_size(all), 0);
    json_decref(all);
}

static void cursor_is_kept_per_pipeline_and_table_and_replaced_by_set(void **state)
{
    struct fx *f = *state;
    struct sl_err err;
    char *v = (char *)"untouched";

    sl_err_clear(&err);
    assert_int_equal(sl_ledger_get_cursor(&f->l, "p", "orders", &v, &err), 0);
    assert_null(v);                                 /* none yet */

    assert_int_equal(sl_ledger_set_cursor(&f->l, "p", "orders", "{\"id\":42}", 1, &err), 0);
    assert_int_equal(sl_ledger_set_cursor(&f->l, "p", "items", "{\"id\":7}", 2, &err), 0);
    assert_int_equal(sl_ledger_get_cursor(&f->l, "p", "orders", &v, &err), 0);
    assert_string_equal(v, "{\"id\":42}");
    sl_free(v);

    assert_int_equal(sl_ledger_set_cursor(&f->l, "p", "orders", "{\"id\":43}", 3, &err), 0);
    assert_int_equal(sl_ledger_get_cursor(&f->l, "p", "orders", &v, &err), 0);
    assert_string_equal(v, "{\"id\":43}");
    sl_free(v);
    assert_int_equal(sl_ledger_get_cursor(&f->l, "p", "items", &v, &err), 0);
    assert_string_equal(v, "{\"id\":7}");
    sl_free(v);
    /* another pipeline's cursor of the same table is its own */
    v = (char *)"untouched";
    assert_int_equal(sl_ledger_get_cursor(&f->l, "q", "orders", &v, &err), 0);
    assert_null(v);
    assert_int_equal(fx_count(f, "SELECT count(*) FROM {cursors}"), 2);
    assert_int_equal(fx_count(f, "SELECT batch_id FROM {cursors} WHERE table_name = 'orders'"),
                     3);
}

static void list_filters_by_table_and_state_newest_first(void **state)
{
    struct fx *f = *state;

    committed(f, "orders", 1, 1);           /* 1 */
    failed(f, "orders", "boom");            /* 2 */
    committed(f, "items", 1, 1);            /* 3 */
    quarantined(f, "orders", "q");          /* 4 */
    committed(f, "orders", 1, 1);           /* 5 */
    failed(f, "items", "bang");             /* 6 */

    assert_list_ids(f, NULL, NULL, 100, "6 5 4 3 2 1");
    assert_list_ids(f, "orders", NULL, 100, "5 4 2 1");
    assert_list_ids(f, "items", NULL, 100, "6 3");
    assert_list_ids(f, NULL, "failed", 100, "6 2");
    assert_list_ids(f, "orders", "committed", 100, "5 1");
    assert_list_ids(f, "orders", "quarantined", 100, "4");
    assert_list_ids(f, "customers", NULL, 100, "");
    assert_list_ids(f, NULL, NULL, 2, "6 5");
    assert_list_ids(f, "orders", NULL, 3, "5 4 2");

    struct sl_rows r;
    fx_list(f, "items", "failed", 100, &r);
    assert_int_equal(r.nrows, 1);
    assert_string_equal(fx_cell(&r, 0, "error"), "bang");
    assert_string_equal(fx_cell(&r, 0, "table_name"), "items");
    assert_string_equal(fx_cell(&r, 0, "pipeline"), "p");
    sl_rows_free(&r);
}

/* a test run in a scratch folder (setup, teardown) */
#define IN_SCRATCH(t) cmocka_unit_test_setup_teardown(t, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        IN_SCRATCH(open_records_a_received_batch_and_commit_its_figures),
        IN_SCRATCH(failure_is_recorded_as_failed_with_its_error),
        IN_SCRATCH(quarantine_keeps_report_summary_and_where_it_is_held),
        IN_SCRATCH(find_file_dedupes_by_table_and_content_hash),
        IN_SCRATCH(history_is_newest_first_without_rolled_back_or_failed),
        IN_SCRATCH(decide_keeps_every_decision_in_order_with_who_and_at),
        cmocka_unit_test(decisions_read_a_one_line_value_of_an_earlier_version),
        IN_SCRATCH(cursor_is_kept_per_pipeline_and_table_and_replaced_by_set),
        IN_SCRATCH(list_filters_by_table_and_state_newest_first),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
