/* tests/unit/test_rollback.c: taking committed batches back out
 * (engine/rollback.c) and restoring snapshots (engine/snapshot.c).
 *
 * Batches are loaded the way `sluice run` loads them: sl_pipeline_run over
 * a config from sl_config_load_mem whose files pipelines watch drop folders
 * in a scratch folder, into a SQLite warehouse beside them. Then
 * sl_rollback_batch / sl_snapshot_restore, and the table is compared as
 * stored (every column, each value quoted with its type, _sluice_batch too)
 * with what it was before the batch came. */
#include "engine_fixture.h"

#include <jansson.h>

#include "engine/snapshot.h"

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
    "        version_key: version\n"
    "        columns: { id: bigint, amount: numeric, at: timestamptz, version: bigint }\n"
    "  - name: events\n"
    "    source: { kind: files, path: drops/events, format: csv, settle: 0s }\n"
    "    destination: wh\n"
    "    tables:\n"
    "      - { name: events, kind: append }\n"
    "  - name: catalog\n"
    "    source: { kind: files, path: drops/catalog, format: csv, settle: 0s }\n"
    "    destination: wh\n"
    "    tables:\n"
    "      - { name: items, kind: snapshot, primary_key: [sku] }\n";

static const char *const ORDERS_PK[] = {"id"};

FX_SETUP_TEARDOWN(CONFIG)

/* Drop `csv` for pipeline `pipeline` and run it: one committed batch. */
static int64_t load(struct fx *f, const char *pipeline, const char *name, const char *csv)
{
    char folder[64];
    snprintf(folder, sizeof folder, "drops/%s", pipeline);
    fx_drop(f, folder, name, csv);
    return fx_run_one(f, pipeline);
}

static int rollback(struct fx *f, int64_t batch, int cascade, struct sl_rollback_result *res,
                    struct sl_err *err)
{
    sl_err_clear(err);
    return sl_rollback_batch(f->ops, f->d, batch, ORDERS_PK, 1, cascade, "tester", res, err);
}

/* Roll back `batch`, which must work. */
static void rollback_ok(struct fx *f, int64_t batch, int cascade, struct sl_rollback_result *res)
{
    struct sl_err err;
    if (rollback(f, batch, cascade, res, &err) != 0)
        fail_msg("rollback of batch %lld: %s", (long long)batch, err.msg);
}

/* The decisions on batch `id`, as a JSON array. */
static json_t *decisions_of(struct fx *f, int64_t id)
{
    struct sl_rows r;
    fx_list(f, NULL, NULL, 1000, &r);
    for (size_t i = 0; i < r.nrows; i++)
        if (strtoll(fx_cell(&r, i, "id"), NULL, 10) == id) {
            json_t *a = sl_ledger_decisions(fx_cell(&r, i, "decision"));
            sl_rows_free(&r);
            assert_non_null(a);
            return a;
        }
    sl_rows_free(&r);
    fail_msg("no batch %lld in the ledger", (long long)id);
    return NULL;
}

static void assert_one_rollback_decision(struct fx *f, int64_t id, const char *note)
{
    json_t *a = decisions_of(f, id);
    assert_int_equal(json_array_size(a), 1);
    json_t *d = json_array_get(a, 0);
    assert_string_equal(json_string_value(json_object_get(d, "what")), "rolled back");
    assert_string_equal(json_string_value(json_object_get(d, "who")), "tester");
    assert_non_null(json_string_value(json_object_get(d, "at")));
    if (note)
        assert_string_equal(json_string_value(json_object_get(d, "note")), note);
    else
        assert_true(json_is_null(json_object_get(d, "note")));
    json_decref(a);
}

#define ORDERS_HEAD "id,amount,at,version\n"

static void append_rollback_removes_only_the_batch_rows(void **state)
{
    struct fx *f = *state;
    struct sl_rollback_result res;

    int64_t e1 = load(f, "events", "e1.csv", "id,kind\n1,a\n2,b\n3,c\n");
    char *before = fx_dump(f, "events", NULL);
    int64_t bad = load(f, "events", "e2.csv", "id,kind\n100,BAD\n101,BAD\n");
    int64_t later = load(f, "events", "e3.csv", "id,kind\n4,d\n");
    assert_true(e1 < bad && bad < later);
    char cond[64], row[64];
    snprintf(cond, sizeof cond, "\"_sluice_batch\" = %lld", (long long)later);
    snprintf(row, sizeof row, "4|'d'|%lld\n", (long long)later);
    char *later_rows = fx_dump(f, "events", cond);
    assert_string_equal(later_rows, row);
    assert_int_equal(fx_count(f, "SELECT count(*) FROM events"), 6);

    rollback_ok(f, bad, 0, &res);
    assert_int_equal(res.nsteps, 1);
    assert_int_equal(res.steps[0].batch, bad);
    assert_string_equal(res.steps[0].table, "events");
    assert_string_equal(res.steps[0].kind, "append");
    assert_int_equal(res.steps[0].removed, 2);
    assert_int_equal(res.steps[0].restored, 0);
    assert_int_equal(res.steps[0].drops, 1);        /* e2.csv is forgotten */
    sl_rollback_result_free(&res);

    /* the rows before it, and the later batch's, exactly */
    char *want = fx_dump_union(before, later_rows);
    char *after = fx_dump(f, "events", NULL);
    assert_string_equal(after, want);
    assert_state(f, bad, "rolled_back");
    assert_state(f, e1, "committed");
    assert_state(f, later, "committed");
    assert_one_rollback_decision(f, bad, NULL);

    /* the forgotten drop, offered again, loads again (no duplicate) */
    int64_t again = load(f, "events", "e2-again.csv", "id,kind\n100,BAD\n101,BAD\n");
    assert_int_equal(fx_count(f, "SELECT count(*) FROM events WHERE kind = 'BAD'"), 2);
    assert_int_equal(fx_count(f, "SELECT min(\"_sluice_batch\") FROM events WHERE kind = 'BAD'"),
                     again);
    free(before);
    free(later_rows);
    free(want);
    free(after);
}

static void versioned_rollback_restores_replaced_rows(void **state)
{
    struct fx *f = *state;
    struct sl_rollback_result res;

    int64_t first = load(f, "orders", "a.csv", ORDERS_HEAD
                         "1,10.50,2026-01-01T00:00:00Z,1\n"
                         "2,20.00,2026-01-01T01:00:00Z,1\n"
                         "3,30.25,2026-01-01T02:00:00Z,1\n"
                         "4,40,2026-01-01T03:00:00Z,1\n");
    char *before = fx_dump(f, "orders", NULL);
    /* the dump holds every row, every column, each as stored */
    char want[128];
    snprintf(want, sizeof want, "1|'10.50'|'2026-01-01T00:00:00.000000Z'|1|%lld\n",
             (long long)first);
    assert_memory_equal(before, want, strlen(want));
    assert_int_equal(fx_count(f, "SELECT count(*) FROM orders"), 4);
    size_t lines = 0;
    for (const char *c = before; *c; c++)
        lines += *c == '\n';
    assert_int_equal(lines, 4);

    /* the bad batch: replaces 1 and 2, adds 7, carries an older 3 (left as it is) */
    int64_t bad = load(f, "orders", "bad.csv", ORDERS_HEAD
                       "1,-999,2030-01-01T00:00:00Z,5\n"
                       "2,-999,2030-01-01T00:00:00Z,5\n"
                       "7,-999,2030-01-01T00:00:00Z,5\n"
                       "3,-999,2030-01-01T00:00:00Z,0\n");
    char *during = fx_dump(f, "orders", NULL);
    assert_string_not_equal(during, before);
    assert_int_equal(fx_count(f, "SELECT count(*) FROM orders WHERE amount = -999"), 3);

    rollback_ok(f, bad, 0, &res);
    assert_int_equal(res.nsteps, 1);
    assert_int_equal(res.steps[0].batch, bad);
    assert_string_equal(res.steps[0].kind, "versioned");
    assert_int_equal(res.steps[0].removed, 3);      /* 1, 2, 7 */
    assert_int_equal(res.steps[0].restored, 2);     /* the images of 1 and 2 */
    sl_rollback_result_free(&res);

    char *after = fx_dump(f, "orders", NULL);
    assert_string_equal(after, before);             /* byte for byte, _sluice_batch too */
    assert_state(f, bad, "rolled_back");
    assert_state(f, first, "committed");
    assert_one_rollback_decision(f, bad, NULL);

    /* rolled back already: refused, naming the state, nothing changes */
    struct sl_err err;
    assert_int_equal(rollback(f, bad, 0, &res, &err), -1);
    assert_int_equal(err.code, SL_E_STATE);
    assert_contains(err.msg, "is rolled_back, not committed");
    assert_int_equal(res.nsteps, 0);
    free(after);
    after = fx_dump(f, "orders", NULL);
    assert_string_equal(after, before);
    free(before);
    free(during);
    free(after);
}

static void versioned_rollback_keeps_a_later_batch_on_other_keys(void **state)
{
    struct fx *f = *state;
    struct sl_rollback_result res;

    load(f, "orders", "a.csv", ORDERS_HEAD "1,1,2026-01-01T00:00:00Z,1\n"
                               "2,2,2026-01-01T00:00:00Z,1\n");
    char *before = fx_dump(f, "orders", NULL);
    int64_t bad = load(f, "orders", "b.csv", ORDERS_HEAD "2,-2,2026-01-02T00:00:00Z,2\n");
    int64_t later = load(f, "orders", "c.csv", ORDERS_HEAD "5,5,2026-01-03T00:00:00Z,1\n");
    char *later_rows = fx_dump(f, "orders", "id = 5");
    assert_int_equal(strlen(later_rows) > 0, 1);

    rollback_ok(f, bad, 0, &res);
    assert_int_equal(res.nsteps, 1);                /* the later batch stood in no one's way */
    sl_rollback_result_free(&res);
    char *want = fx_dump_union(before, later_rows);
    char *after = fx_dump(f, "orders", NULL);
    assert_string_equal(after, want);
    assert_state(f, later, "committed");
    free(before);
    free(later_rows);
    free(want);
    free(after);
}

static void versioned_rollback_refused_when_a_later_batch_replaced_its_rows_unless_cascade(
    void **state)
{
    struct fx *f = *state;
    struct sl_rollback_result res;
    struct sl_err err;

    load(f, "orders", "a.csv", ORDERS_HEAD "1,1,2026-01-01T00:00:00Z,1\n"
                               "2,2,2026-01-01T00:00:00Z,1\n3,3,2026-01-01T00:00:00Z,1\n");
    char *before = fx_dump(f, "orders", NULL);
    int64_t bad = load(f, "orders", "b.csv", ORDERS_HEAD "1,-1,2030-01-01T00:00:00Z,6\n"
                                             "2,-1,2030-01-01T00:00:00Z,6\n"
                                             "9,-1,2030-01-01T00:00:00Z,6\n");
    int64_t later = load(f, "orders", "c.csv", ORDERS_HEAD "2,-2,2030-01-01T00:00:00Z,7\n"
                                               "9,-2,2030-01-01T00:00:00Z,7\n");
    char *mid = fx_dump(f, "orders", NULL);

    assert_int_equal(rollback(f, bad, 0, &res, &err), -1);
    assert_int_equal(err.code, SL_E_INPUT);
    char want[512];
    snprintf(want, sizeof want, "cannot roll back batch %lld of table \"orders\": batch %lld"
             " (later) replaced keys of batch %lld: id=2, id=9; use --cascade to roll back"
             " batches %lld and %lld together, newest first", (long long)bad, (long long)later,
             (long long)bad, (long long)later, (long long)bad);
    assert_string_equal(err.msg, want);
    assert_int_equal(res.nsteps, 0);
    /* a refusal changes nothing: table and ledger */
    char *after = fx_dump(f, "orders", NULL);
    assert_string_equal(after, mid);
    free(after);
    assert_state(f, bad, "committed");
    assert_state(f, later, "committed");

    rollback_ok(f, bad, 1, &res);
    assert_int_equal(res.nsteps, 2);
    assert_int_equal(res.steps[0].batch, later);     /* newest first */
    assert_int_equal(res.steps[0].removed, 2);
    assert_int_equal(res.steps[0].restored, 2);
    assert_int_equal(res.steps[1].batch, bad);
    assert_int_equal(res.steps[1].removed, 3);
    assert_int_equal(res.steps[1].restored, 2);
    sl_rollback_result_free(&res);
    after = fx_dump(f, "orders", NULL);
    assert_string_equal(after, before);
    assert_state(f, bad, "rolled_back");
    assert_state(f, later, "rolled_back");
    snprintf(want, sizeof want, "with batch %lld (--cascade)", (long long)bad);
    assert_one_rollback_decision(f, later, want);
    assert_one_rollback_decision(f, bad, NULL);
    free(before);
    free(mid);
    free(after);
}

static void snapshot_rollback_puts_back_the_table_it_replaced_and_later_ones_block(void **state)
{
    struct fx *f = *state;
    struct sl_rollback_result res;
    struct sl_err err;

    load(f, "catalog", "c1.csv", "sku,name,price\nA,Widget,1.00\nB,Gadget,2.00\n");
    char *first = fx_dump(f, "items", NULL);
    int64_t bad = load(f, "catalog", "c2.csv", "sku,name,price\nZ,BAD,0\n");
    char *bad_table = fx_dump(f, "items", NULL);
    assert_string_not_equal(bad_table, first);
    int64_t later = load(f, "catalog", "c3.csv", "sku,name,price\nA,Widget,1.10\nC,Gizmo,3\n");

    /* the later snapshot replaced the table the bad one swapped in */
    assert_int_equal(rollback(f, bad, 0, &res, &err), -1);
    assert_int_equal(err.code, SL_E_INPUT);
    char want[512];
    snprintf(want, sizeof want, "cannot roll back batch %lld of table \"items\": batch %lld"
             " (later) replaced the whole table after batch %lld; use --cascade to roll back"
             " batches %lld and %lld together, newest first", (long long)bad, (long long)later,
             (long long)bad, (long long)later, (long long)bad);
    assert_string_equal(err.msg, want);
    assert_int_equal(res.nsteps, 0);
    assert_state(f, later, "committed");

    /* the later one alone: the bad table is back */
    rollback_ok(f, later, 0, &res);
    assert_int_equal(res.nsteps, 1);
    assert_string_equal(res.steps[0].kind, "snapshot");
    assert_int_equal(res.steps[0].removed, 2);
    assert_int_equal(res.steps[0].restored, 1);
    sl_rollback_result_free(&res);
    char *after = fx_dump(f, "items", NULL);
    assert_string_equal(after, bad_table);
    free(after);

    /* then the bad one: the first table is back, byte for byte */
    rollback_ok(f, bad, 0, &res);
    assert_int_equal(res.nsteps, 1);
    assert_int_equal(res.steps[0].restored, 2);
    sl_rollback_result_free(&res);
    after = fx_dump(f, "items", NULL);
    assert_string_equal(after, first);
    assert_state(f, bad, "rolled_back");
    free(first);
    free(bad_table);
    free(after);
}

static void snapshot_cascade_rolls_back_the_later_load_first(void **state)
{
    struct fx *f = *state;
    struct sl_rollback_result res;

    load(f, "catalog", "c1.csv", "sku,name,price\nA,Widget,1.00\nB,Gadget,2.00\n");
    char *first = fx_dump(f, "items", NULL);
    int64_t bad = load(f, "catalog", "c2.csv", "sku,name,price\nZ,BAD,0\n");
    int64_t later = load(f, "catalog", "c3.csv", "sku,name,price\nA,Widget,1.10\n");
    rollback_ok(f, bad, 1, &res);
    assert_int_equal(res.nsteps, 2);
    assert_int_equal(res.steps[0].batch, later);
    assert_int_equal(res.steps[1].batch, bad);
    sl_rollback_result_free(&res);
    char *after = fx_dump(f, "items", NULL);
    assert_string_equal(after, first);
    assert_state(f, later, "rolled_back");
    assert_state(f, bad, "rolled_back");
    free(first);
    free(after);
}

static void rollback_of_a_batch_not_loaded_is_refused(void **state)
{
    struct fx *f = *state;
    struct sl_rollback_result res;
    struct sl_err err;

    load(f, "orders", "a.csv", ORDERS_HEAD "1,1,2026-01-01T00:00:00Z,1\n");
    fx_drop(f, "drops/orders", "bad.csv", ORDERS_HEAD "2,2,2026-01-01T00:00:00Z,x\n");
    struct sl_run_stats st = fx_run(f, "orders");
    assert_int_equal(st.failed, 1);
    struct sl_rows r;
    fx_list(f, "orders", "failed", 10, &r);
    assert_int_equal(r.nrows, 1);
    int64_t failed = strtoll(fx_cell(&r, 0, "id"), NULL, 10);
    sl_rows_free(&r);

    assert_int_equal(rollback(f, failed, 1, &res, &err), -1);
    assert_int_equal(err.code, SL_E_STATE);
    char want[256];
    snprintf(want, sizeof want, "batch %lld of table \"orders\" is failed, not committed: only a"
             " committed batch can be rolled back", (long long)failed);
    assert_string_equal(err.msg, want);

    assert_int_equal(rollback(f, 999999, 0, &res, &err), -1);
    assert_int_equal(err.code, SL_E_NOTFOUND);
    assert_string_equal(err.msg, "no batch 999999 in the ledger");
}

static void snapshot_restore_brings_back_the_table_and_rolls_back_later_batches(void **state)
{
    struct fx *f = *state;
    struct sl_snapshot_restored out;
    struct sl_err err;
    struct sl_rows r;
    int64_t snap = 0;

    int64_t first = load(f, "orders", "a.csv", ORDERS_HEAD "1,1.5,2026-01-01T00:00:00Z,1\n"
                                                  "2,2.5,2026-01-01T00:00:00Z,1\n");
    char *before = fx_dump(f, "orders", NULL);
    sl_err_clear(&err);
    assert_int_equal(sl_snapshot_take(f->ops, f->d, "orders", &snap, &err), 0);
    assert_true(snap > 0);
    assert_int_equal(sl_snapshot_list(f->ops, f->d, "orders", &r, &err), 0);
    assert_int_equal(r.nrows, 1);
    assert_int_equal(strtoll(fx_cell(&r, 0, "id"), NULL, 10), snap);
    assert_int_equal(strtoll(fx_cell(&r, 0, "last_batch"), NULL, 10), first);
    assert_string_equal(fx_cell(&r, 0, "rows"), "2");
    sl_rows_free(&r);

    int64_t b2 = load(f, "orders", "b.csv", ORDERS_HEAD "2,-2,2026-01-02T00:00:00Z,2\n"
                                               "3,-3,2026-01-02T00:00:00Z,1\n");
    int64_t b3 = load(f, "orders", "c.csv", ORDERS_HEAD "1,-1,2026-01-03T00:00:00Z,3\n");
    char *during = fx_dump(f, "orders", NULL);
    assert_string_not_equal(during, before);

    sl_err_clear(&err);
    assert_int_equal(sl_snapshot_restore(f->ops, f->d, "orders", snap, "tester", &out, &err), 0);
    assert_int_equal(out.rows, 2);
    assert_int_equal(out.last_batch, first);
    assert_int_equal(out.nrolled_back, 2);
    assert_int_equal(out.rolled_back[0], b3);      /* newest first */
    assert_int_equal(out.rolled_back[1], b2);
    assert_int_equal(out.drops, 2);
    sl_snapshot_restored_free(&out);

    char *after = fx_dump(f, "orders", NULL);
    assert_string_equal(after, before);
    assert_state(f, first, "committed");
    assert_state(f, b2, "rolled_back");
    assert_state(f, b3, "rolled_back");
    char note[64];
    snprintf(note, sizeof note, "restored to snapshot %lld", (long long)snap);
    assert_one_rollback_decision(f, b3, note);
    assert_one_rollback_decision(f, b2, note);
    /* the snapshot is kept */
    assert_int_equal(sl_snapshot_list(f->ops, f->d, NULL, &r, &err), 0);
    assert_int_equal(r.nrows, 1);
    sl_rows_free(&r);
    /* and the table loads on from there: b.csv's content loads again */
    int64_t again = load(f, "orders", "b-again.csv", ORDERS_HEAD "2,-2,2026-01-02T00:00:00Z,2\n"
                                                        "3,-3,2026-01-02T00:00:00Z,1\n");
    assert_int_equal(fx_count(f, "SELECT count(*) FROM orders"), 3);
    assert_int_equal(fx_count(f, "SELECT \"_sluice_batch\" FROM orders WHERE id = 3"), again);
    free(before);
    free(during);
    free(after);
}

static void snapshot_restore_refuses_rows_of_a_batch_rolled_back_since(void **state)
{
    struct fx *f = *state;
    struct sl_snapshot_restored out;
    struct sl_rollback_result res;
    struct sl_err err;
    int64_t snap = 0;

    load(f, "orders", "a.csv", ORDERS_HEAD "1,1,2026-01-01T00:00:00Z,1\n");
    int64_t b2 = load(f, "orders", "b.csv", ORDERS_HEAD "2,2,2026-01-01T00:00:00Z,1\n");
    sl_err_clear(&err);
    assert_int_equal(sl_snapshot_take(f->ops, f->d, "orders", &snap, &err), 0);
    rollback_ok(f, b2, 0, &res);
    sl_rollback_result_free(&res);
    char *before = fx_dump(f, "orders", NULL);

    sl_err_clear(&err);
    assert_int_equal(sl_snapshot_restore(f->ops, f->d, "orders", snap, "tester", &out, &err), -1);
    assert_int_equal(err.code, SL_E_INPUT);
    char want[256];
    snprintf(want, sizeof want, "restoring table \"orders\" to snapshot %lld: snapshot %lld holds"
             " rows of batch(es) %lld, rolled back since it was taken: restoring it would bring"
             " them back", (long long)snap, (long long)snap, (long long)b2);
    assert_string_equal(err.msg, want);
    char *after = fx_dump(f, "orders", NULL);
    assert_string_equal(after, before);
    free(before);
    free(after);

    /* a snapshot of another table, or none at all */
    assert_int_equal(sl_snapshot_restore(f->ops, f->d, "orders", snap + 10, "tester", &out, &err),
                     -1);
    assert_int_equal(err.code, SL_E_NOTFOUND);
}

/* a test run in a scratch folder (setup, teardown) */
#define IN_SCRATCH(t) cmocka_unit_test_setup_teardown(t, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        IN_SCRATCH(append_rollback_removes_only_the_batch_rows),
        IN_SCRATCH(versioned_rollback_restores_replaced_rows),
        IN_SCRATCH(versioned_rollback_keeps_a_later_batch_on_other_keys),
        IN_SCRATCH(versioned_rollback_refused_when_a_later_batch_replaced_its_rows_unless_cascade),
        IN_SCRATCH(snapshot_rollback_puts_back_the_table_it_replaced_and_later_ones_block),
        IN_SCRATCH(snapshot_cascade_rolls_back_the_later_load_first),
        IN_SCRATCH(rollback_of_a_batch_not_loaded_is_refused),
        IN_SCRATCH(snapshot_restore_brings_back_the_table_and_rolls_back_later_batches),
        IN_SCRATCH(snapshot_restore_refuses_rows_of_a_batch_rolled_back_since),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
