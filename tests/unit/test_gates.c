/* tests/unit/test_gates.c: the five gates (gates/size.c, unique_key.c,
 * timestamps.c, rules.c, schema.c) driven the way the engine drives them.
 *
 * Each gate's settings come from YAML through sl_config_load_mem, as in a
 * real run; rows are raw text canonicalized with sl_value_canon under the
 * value context the gate asked for, then handed to row() with the line they
 * came from; finish() gives the verdict and the report, which is parsed
 * with jansson and checked figure by figure. The size gate reads a real
 * SQLite ledger. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "config/config.h"
#include "engine/ledger.h"
#include "base/mem.h"
#include "destinations/destination.h"
#include "gates/gate.h"

/* ---- building a config ---- */

#define HEAD                                                \
    "connections:\n"                                        \
    "  warehouse: { url: \"sqlite://w.db\" }\n"             \
    "pipelines:\n"                                          \
    "  - name: p\n"                                         \
    "    source: { kind: files, path: drops }\n"            \
    "    destination: warehouse\n"                          \
    "    tables:\n"                                         \
    "      - name: orders\n"
/* HEAD is 8 lines: a table's first own key is on line 9, column 9 */

static struct sl_config *load_ok(const char *yaml)
{
    struct sl_config *c = NULL;
    struct sl_err err;

    sl_err_clear(&err);
    if (sl_config_load_mem("sluice.yaml", "/tmp", yaml, strlen(yaml), &c, &err) != 0)
        fail_msg("config should load, got: %s", err.msg);
    return c;
}

static void expect_config_error(const char *yaml, const char *msg)
{
    struct sl_config *c = NULL;
    struct sl_err err;

    sl_err_clear(&err);
    assert_int_equal(sl_config_load_mem("sluice.yaml", "/tmp", yaml, strlen(yaml), &c, &err), -1);
    assert_null(c);
    assert_int_equal(err.code, SL_E_CONFIG);
    assert_string_equal(err.msg, msg);
}

static const struct sl_table_cfg *table_of(const struct sl_config *c)
{
    return &c->pipelines[0].tables[0];
}

static const struct sl_gate_cfg *gate_of(const struct sl_config *c, const char *name)
{
    const struct sl_table_cfg *t = table_of(c);
    for (size_t i = 0; i < t->ngates; i++)
        if (strcmp(t->gates[i].ops->name, name) == 0)
            return &t->gates[i];
    fail_msg("no gate \"%s\" in the config", name);
    return NULL;
}

/* ---- driving a gate ---- */

struct fake {
    struct sl_config *cfg;
    struct sl_schema schema;
    struct sl_schema_diff diff;
    struct sl_gate_env env;
};

/* A table from YAML (its lines after HEAD) and the batch's columns as
 * "name:type" pairs. */
static void fake_init(struct fake *f, const char *table_yaml, const char *const *cols)
{
    char yaml[4096];

    memset(f, 0, sizeof *f);
    snprintf(yaml, sizeof yaml, HEAD "%s", table_yaml);
    f->cfg = load_ok(yaml);
    for (size_t i = 0; cols && cols[i]; i++) {
        const char *colon = strchr(cols[i], ':');
        char name[64];
        enum sl_type t;
        assert_non_null(colon);
        snprintf(name, sizeof name, "%.*s", (int)(colon - cols[i]), cols[i]);
        assert_int_equal(sl_type_from_name(colon + 1, &t), 0);
        assert_int_equal(sl_schema_add(&f->schema, name, t), 0);
    }
    f->diff.table_existed = 1;
    f->env.pipeline = "p";
    f->env.table = table_of(f->cfg);
    f->env.schema = &f->schema;
    f->env.diff = &f->diff;
    f->env.batch_id = 1;
}

static void fake_free(struct fake *f)
{
    sl_schema_free(&f->schema);
    sl_config_free(f->cfg);
}

/* The value context the engine would read with, after the gate's hook. */
static struct sl_valctx valctx_for(const struct sl_gate_cfg *gc)
{
    struct sl_valctx v = {NULL, SL_DST_FAIL, SL_EPOCH_AUTO};
    if (gc->ops->value_ctx)
        gc->ops->value_ctx(gc->ctx, &v);
    return v;
}

/* Run one batch through the gate: rows[nrows][ncols] raw text (NULL = SQL
 * NULL), row i coming from line i + 2 (a header on line 1). Returns the
 * report (caller json_decref's it) and the verdict. */
static json_t *drive(struct fake *f, const char *gate, const char *const *rows, size_t nrows,
                     enum sl_verdict *verdict)
{
    const struct sl_gate_cfg *gc = gate_of(f->cfg, gate);
    size_t n = f->schema.ncols;
    struct sl_valctx v = valctx_for(gc);
    struct sl_gate_run *run = NULL;
    struct sl_cell *cells = calloc(n + 1, sizeof *cells), *raw = calloc(n + 1, sizeof *raw);
    struct sl_buf vals;
    size_t *off = calloc(n + 1, sizeof *off);
    struct sl_err err;
    char why[256];

    sl_err_clear(&err);
    sl_buf_init(&vals);
    if (gc->ops->start(gc->ctx, &f->env, &run, &err) != 0)
        fail_msg("start failed: %s", err.msg);
    for (size_t r = 0; r < nrows; r++) {
        sl_buf_reset(&vals);
        for (size_t i = 0; i < n; i++) {
            const char *s = rows[r * n + i];
            raw[i].s = s;
            raw[i].n = s ? strlen(s) : 0;
            raw[i].null = !s;
            cells[i].null = 1;
            off[i] = (size_t)-1;
            if (!s)
                continue;
            size_t start = vals.len;
            int c = sl_value_canon(f->schema.cols[i].type, s, strlen(s), SL_LEX_RAW, &v, &vals,
                                   why, sizeof why);
            if (c < 0)
                fail_msg("row %zu column %zu: \"%s\": %s", r, i, s, why);
            if (c == 0) {
                off[i] = start;
                cells[i].n = vals.len - start;
                cells[i].null = 0;
            }
        }
        for (size_t i = 0; i < n; i++)
            if (off[i] != (size_t)-1)
                cells[i].s = vals.data + off[i];
        if (gc->ops->row && gc->ops->row(run, cells, raw, (long)r + 2, &err) != 0)
            fail_msg("row failed: %s", err.msg);
    }
    struct sl_gate_result res = {SL_GATE_PASS, NULL};
    if (gc->ops->finish(run, &f->env, &res, &err) != 0)
        fail_msg("finish failed: %s", err.msg);
    gc->ops->free_run(run);
    sl_buf_free(&vals);
    free(cells);
    free(raw);
    free(off);

    json_error_t jerr;
    assert_non_null(res.report_json);
    json_t *rep = json_loads(res.report_json, 0, &jerr);
    if (!rep)
        fail_msg("report is not JSON: %s: %s", jerr.text, res.report_json);
    sl_free(res.report_json);
    assert_true(json_is_object(rep));
    /* every report says what it checked and how it went */
    assert_non_null(json_string_value(json_object_get(rep, "checked")));
    assert_non_null(json_string_value(json_object_get(rep, "message")));
    assert_true(json_is_boolean(json_object_get(rep, "passed")));
    *verdict = res.verdict;
    assert_int_equal(json_is_true(json_object_get(rep, "passed")), res.verdict == SL_GATE_PASS);
    return rep;
}

/* start() must refuse, with this message. */
static void expect_start_error(struct fake *f, const char *gate, const char *msg)
{
    const struct sl_gate_cfg *gc = gate_of(f->cfg, gate);
    struct sl_gate_run *run = NULL;
    struct sl_err err;

    sl_err_clear(&err);
    assert_int_equal(gc->ops->start(gc->ctx, &f->env, &run, &err), -1);
    assert_null(run);
    assert_string_equal(err.msg, msg);
}

static json_int_t jint(json_t *o, const char *path)
{
    json_t *v = o;
    char key[64];
    for (const char *p = path; v && *p;) {
        const char *dot = strchr(p, '.');
        size_t n = dot ? (size_t)(dot - p) : strlen(p);
        snprintf(key, sizeof key, "%.*s", (int)n, p);
        if (json_is_array(v))
            v = json_array_get(v, strtoul(key, NULL, 10));
        else
            v = json_object_get(v, key);
        p += n + (dot != NULL);
    }
    if (!json_is_integer(v))
        fail_msg("%s is not an integer", path);
    return json_integer_value(v);
}

static const char *jstr(json_t *o, const char *path)
{
    json_t *v = o;
    char key[64];
    for (const char *p = path; v && *p;) {
        const char *dot = strchr(p, '.');
        size_t n = dot ? (size_t)(dot - p) : strlen(p);
        snprintf(key, sizeof key, "%.*s", (int)n, p);
        if (json_is_array(v))
            v = json_array_get(v, strtoul(key, NULL, 10));
        else
            v = json_object_get(v, key);
        p += n + (dot != NULL);
    }
    if (!json_is_string(v))
        fail_msg("%s is not a string", path);
    return json_string_value(v);
}

static void assert_contains(const char *hay, const char *needle)
{
    if (!hay || !strstr(hay, needle))
        fail_msg("expected \"%s\" in \"%s\"", needle, hay ? hay : "(null)");
}

/* ==== size ==== */

static char dbdir[] = "/tmp/sl_test_gates_XXXXXX";
static char dburl[128], dbpath[96];

struct ledger_db {
    const struct sl_dest_ops *ops;
    struct sl_dest *d;
    struct sl_ledger l;
};

static void db_open(struct ledger_db *db)
{
    struct sl_err err;
    sl_err_clear(&err);
    unlink(dbpath);
    if (sl_dest_open(dburl, NULL, NULL, &db->ops, &db->d, &err) != 0)
        fail_msg("open %s: %s", dburl, err.msg);
    if (db->ops->ensure_meta(db->d, &err) != 0)
        fail_msg("ensure_meta: %s", err.msg);
    db->l.ops = db->ops;
    db->l.d = db->d;
}

static void db_close(struct ledger_db *db)
{
    db->ops->close(db->d);
    unlink(dbpath);
}

/* One committed batch of `table` with these sizes. */
static void db_batch(struct ledger_db *db, const char *table, int64_t rows, uint64_t bytes)
{
    struct sl_err err;
    int64_t id = 0;
    struct sl_batch_meta m = {"p", table, "versioned", "drop.csv", NULL, bytes};
    sl_err_clear(&err);
    if (sl_ledger_open(&db->l, &m, &id, &err) != 0 ||
        sl_ledger_commit(&db->l, id, rows, rows, NULL, &err) != 0)
        fail_msg("ledger: %s", err.msg);
}

/* The engine's answer to the size gate: the ledger's history. */
static int ledger_history(void *ctx, const char *table, size_t n, int64_t *rows, int64_t *bytes,
                          size_t *count, struct sl_err *err)
{
    return sl_ledger_history(ctx, table, n, rows, bytes, count, err);
}

static void size_history(struct ledger_db *db, int n, int64_t rows, uint64_t bytes)
{
    for (int i = 0; i < n; i++)
        db_batch(db, "orders", rows + (i % 3) - 1, bytes);   /* 99, 100, 101, ... */
}

static const char *const size_cols[] = {"id:bigint", NULL};

static void size_passes_within_range_of_median(void **state)
{
    (void)state;
    struct ledger_db db;
    struct fake f;
    enum sl_verdict v;

    db_open(&db);
    size_history(&db, 5, 100, 4000);
    db_batch(&db, "other_table", 100000, 9000000);     /* another table's history */
    struct sl_err err;
    struct sl_batch_meta m = {"p", "orders", "versioned", "x.csv", NULL, 99999999};
    sl_err_clear(&err);
    assert_int_equal(sl_ledger_record_failure(&db.l, &m, "boom", NULL, &err), 0);  /* not committed */

    fake_init(&f, "        kind: versioned\n        primary_key: [id]\n"
                  "        version_key: id\n        gates:\n"
                  "          size: { history: 14, max_ratio: 3.0 }\n", size_cols);
    f.env.history = ledger_history;
    f.env.history_ctx = &db.l;
    f.env.bytes = 5000;
    /* 120 rows streamed; env->rows left 0 as the engine may leave it */
    const char *rows[120];
    char ids[120][8];
    for (int i = 0; i < 120; i++) {
        snprintf(ids[i], sizeof ids[i], "%d", i);
        rows[i] = ids[i];
    }
    json_t *r = drive(&f, "size", rows, 120, &v);
    assert_int_equal(v, SL_GATE_PASS);
    assert_int_equal(jint(r, "rows"), 120);
    assert_int_equal(jint(r, "bytes"), 5000);
    assert_int_equal(jint(r, "history_count"), 5);
    assert_true(json_real_value(json_object_get(r, "median_rows")) == 100.0);
    assert_true(json_real_value(json_object_get(r, "median_bytes")) == 4000.0);
    assert_int_equal(jint(r, "allowed_rows.min"), 34);
    assert_int_equal(jint(r, "allowed_rows.max"), 300);
    assert_int_equal(jint(r, "allowed_bytes.min"), 1334);
    assert_int_equal(jint(r, "allowed_bytes.max"), 12000);
    assert_true(json_is_true(json_object_get(r, "enforced")));
    assert_string_equal(jstr(r, "verdict"), "pass");
    assert_string_equal(jstr(r, "message"),
                        "120 rows within 34..300 (median 100 rows of the last 5 batches)");
    json_decref(r);
    fake_free(&f);
    db_close(&db);
}

static void size_quarantines_a_batch_far_from_the_median(void **state)
{
    (void)state;
    struct ledger_db db;
    struct fake f;
    enum sl_verdict v;

    db_open(&db);
    size_history(&db, 20, 100, 0);      /* bytes unknown: only rows count */
    fake_init(&f, "        kind: append\n        gates:\n"
                  "          size: { history: 14 }\n", size_cols);
    f.env.history = ledger_history;
    f.env.history_ctx = &db.l;
    f.env.rows = 1000;
    json_t *r = drive(&f, "size", NULL, 0, &v);
    assert_int_equal(v, SL_GATE_QUARANTINE);
    assert_int_equal(jint(r, "history_count"), 14);
    assert_null(json_object_get(r, "allowed_bytes"));
    assert_string_equal(jstr(r, "verdict"), "quarantine");
    assert_string_equal(jstr(r, "message"), "1000 rows is outside 34..300 (median 100 rows of "
                                            "the last 14 batches, max_ratio 3)");
    json_decref(r);

    /* far below: 10 rows where 100 come */
    f.env.rows = 10;
    r = drive(&f, "size", NULL, 0, &v);
    assert_int_equal(v, SL_GATE_QUARANTINE);
    json_decref(r);
    fake_free(&f);
    db_close(&db);
}

static void size_on_fail_fail_fails_and_bytes_count_too(void **state)
{
    (void)state;
    struct ledger_db db;
    struct fake f;
    enum sl_verdict v;

    db_open(&db);
    size_history(&db, 4, 100, 1000);
    fake_init(&f, "        kind: append\n        gates:\n"
                  "          size: { max_ratio: 2, on_fail: fail }\n", size_cols);
    f.env.history = ledger_history;
    f.env.history_ctx = &db.l;
    f.env.rows = 100;
    f.env.bytes = 100000;       /* rows as usual, a hundred times the bytes */
    json_t *r = drive(&f, "size", NULL, 0, &v);
    assert_int_equal(v, SL_GATE_FAIL);
    assert_string_equal(jstr(r, "verdict"), "fail");
    assert_string_equal(jstr(r, "message"), "100000 bytes is outside 500..2000 (median 1000 "
                                            "bytes of the last 4 batches, max_ratio 2)");
    json_decref(r);
    fake_free(&f);
    db_close(&db);
}

static void size_is_not_enforced_without_enough_history(void **state)
{
    (void)state;
    struct ledger_db db;
    struct fake f;
    enum sl_verdict v;

    db_open(&db);
    size_history(&db, 2, 100, 1000);
    fake_init(&f, "        kind: append\n        gates:\n          size:\n", size_cols);
    f.env.history = ledger_history;
    f.env.history_ctx = &db.l;
    f.env.rows = 1000000;
    json_t *r = drive(&f, "size", NULL, 0, &v);
    assert_int_equal(v, SL_GATE_PASS);
    assert_true(json_is_false(json_object_get(r, "enforced")));
    assert_int_equal(jint(r, "history_count"), 2);
    assert_int_equal(jint(r, "min_history"), 3);
    assert_string_equal(jstr(r, "message"), "not enforced: 2 of 3 batches of history");
    json_decref(r);
    fake_free(&f);
    db_close(&db);
}

static void size_bad_settings_are_refused_at_start(void **state)
{
    (void)state;
    /* caught when the config loads, where the gate is */
    expect_config_error(HEAD "        kind: append\n        gates:\n"
                             "          size: { max_ratio: 0.5 }\n",
                        "sluice.yaml:11:11: pipeline \"p\": table \"orders\": gate \"size\": "
                        "max_ratio must be at least 1, not 0.5");
}

/* ==== unique_key ==== */

static const char *const kv_cols[] = {"id:bigint", "updated_at:bigint", "name:text", NULL};

static void unique_key_quarantines_duplicate_keys(void **state)
{
    (void)state;
    struct fake f;
    enum sl_verdict v;

    fake_init(&f, "        kind: append\n        primary_key: [id]\n        gates:\n"
                  "          unique_key: quarantine\n", kv_cols);
    const char *rows[] = {
        "1", "10", "a",     /* line 2 */
        "2", "10", "b",     /* line 3 */
        "1", "11", "c",     /* line 4: repeats line 2 */
        "3", "10", "d",     /* line 5 */
        "2", "12", "e",     /* line 6: repeats line 3 */
    };
    json_t *r = drive(&f, "unique_key", rows, 5, &v);
    assert_int_equal(v, SL_GATE_QUARANTINE);
    assert_string_equal(jstr(r, "policy"), "quarantine");
    assert_int_equal(jint(r, "rows"), 5);
    assert_int_equal(jint(r, "duplicates"), 2);
    assert_int_equal(jint(r, "distinct_keys"), 3);
    assert_string_equal(jstr(r, "columns.0"), "id");
    assert_int_equal(json_array_size(json_object_get(r, "examples")), 2);
    assert_string_equal(jstr(r, "examples.0.key.id"), "1");
    assert_int_equal(jint(r, "examples.0.first_line"), 2);
    assert_int_equal(jint(r, "examples.0.line"), 4);
    assert_int_equal(jint(r, "examples.1.first_line"), 3);
    assert_int_equal(jint(r, "examples.1.line"), 6);
    assert_null(json_object_get(r, "exact_duplicate_rows"));     /* not a snapshot */
    assert_string_equal(jstr(r, "message"), "2 duplicate keys (id), e.g. id=1 at lines 2 and 4");
    json_decref(r);

    /* no duplicates: a pass that says so */
    r = drive(&f, "unique_key", rows, 2, &v);
    assert_int_equal(v, SL_GATE_PASS);
    assert_string_equal(jstr(r, "message"), "no duplicate keys (id) among 2 rows");
    json_decref(r);
    fake_free(&f);
}

static void unique_key_fail_on_given_columns(void **state)
{
    (void)state;
    struct fake f;
    enum sl_verdict v;

    fake_init(&f, "        kind: append\n        gates:\n"
                  "          unique_key: { policy: fail, columns: [name, updated_at] }\n",
                  kv_cols);
    const char *rows[] = {
        "1", "1", "x",
        "2", "1", "x",      /* same (name, updated_at) as line 2 */
        "3", "2", "x",
        "4", "1", "x1",     /* cells are length-prefixed: ("x1","1") is not ("x","11") */
        "5", "11", "x",
        "6", NULL, "x",     /* a NULL in the key equals nothing */
        "7", NULL, "x",
    };
    json_t *r = drive(&f, "unique_key", rows, 7, &v);
    assert_int_equal(v, SL_GATE_FAIL);
    assert_int_equal(jint(r, "duplicates"), 1);
    assert_int_equal(jint(r, "distinct_keys"), 4);
    assert_int_equal(jint(r, "rows_with_null_key"), 2);
    assert_string_equal(jstr(r, "examples.0.key.name"), "x");
    assert_string_equal(jstr(r, "examples.0.key.updated_at"), "1");
    assert_string_equal(jstr(r, "message"),
                        "1 duplicate key (name, updated_at), e.g. name=x, updated_at=1 at lines "
                        "2 and 3");
    json_decref(r);
    fake_free(&f);
}

static void unique_key_keep_latest_passes_on_versioned_tables(void **state)
{
    (void)state;
    struct fake f;
    enum sl_verdict v;

    fake_init(&f, "        kind: versioned\n        primary_key: [id]\n"
                  "        version_key: updated_at\n        gates:\n"
                  "          unique_key: keep_latest\n", kv_cols);
    const char *rows[] = {"1", "10", "a", "1", "12", "b", "1", "11", "c", "2", "1", "d"};
    json_t *r = drive(&f, "unique_key", rows, 4, &v);
    assert_int_equal(v, SL_GATE_PASS);
    assert_int_equal(jint(r, "duplicates"), 2);
    assert_int_equal(jint(r, "distinct_keys"), 2);
    assert_string_equal(jstr(r, "kept"), "the row with the highest updated_at of each key");
    assert_string_equal(jstr(r, "message"),
                        "2 duplicate keys (id), e.g. id=1 at lines 2 and 3: the row with the "
                        "highest updated_at of each key is kept");
    json_decref(r);
    fake_free(&f);
}

static void unique_key_keep_latest_needs_a_versioned_table(void **state)
{
    (void)state;
    struct fake f;

    /* what the config says is checked when it loads */
    expect_config_error(HEAD "        kind: append\n        primary_key: [id]\n        gates:\n"
                             "          unique_key: { policy: keep_latest }\n",
                        "sluice.yaml:12:11: pipeline \"p\": table \"orders\": gate \"unique_key\": "
                        "keep_latest needs a versioned table (its merge keeps each key's highest "
                        "version_key); this table is append: use quarantine or fail");
    expect_config_error(HEAD "        kind: append\n        gates:\n          unique_key: fail\n",
                        "sluice.yaml:11:11: pipeline \"p\": table \"orders\": gate \"unique_key\": "
                        "no key to check: give the gate columns: [...] or the table a primary_key");

    fake_init(&f, "        kind: append\n        gates:\n"
                  "          unique_key: { columns: [nope] }\n", kv_cols);
    expect_start_error(&f, "unique_key",
                       "table \"orders\": gate \"unique_key\": column \"nope\" is not in the "
                       "table (columns: id, updated_at, name)");
    fake_free(&f);
}

static void unique_key_snapshot_counts_exact_duplicate_rows(void **state)
{
    (void)state;
    struct fake f;
    enum sl_verdict v;

    /* a snapshot without a key: exact duplicates only */
    fake_init(&f, "        kind: snapshot\n        gates:\n          unique_key: quarantine\n",
              kv_cols);
    const char *rows[] = {
        "1", "10", "a",
        "1", "10", "b",
        "1", "10", "a",     /* line 4 repeats line 2 */
        "1", "10", NULL,
        "1", "10", NULL,    /* line 6 repeats line 5, NULL and all */
        "1", "10", "",      /* "" is not NULL */
    };
    json_t *r = drive(&f, "unique_key", rows, 6, &v);
    assert_int_equal(v, SL_GATE_QUARANTINE);
    assert_int_equal(jint(r, "duplicates"), 0);
    assert_int_equal(jint(r, "exact_duplicate_rows"), 2);
    assert_int_equal(jint(r, "exact_duplicate_examples.0.first_line"), 2);
    assert_int_equal(jint(r, "exact_duplicate_examples.0.line"), 4);
    assert_string_equal(jstr(r, "exact_duplicate_examples.0.row.name"), "a");
    assert_true(json_is_null(json_object_get(
        json_object_get(json_array_get(json_object_get(r, "exact_duplicate_examples"), 1), "row"),
        "name")));
    assert_string_equal(jstr(r, "message"), "2 rows repeat an earlier row exactly, e.g. line 4 "
                                            "repeats line 2");
    json_decref(r);
    fake_free(&f);

    /* with a key: both counts */
    fake_init(&f, "        kind: snapshot\n        primary_key: [id]\n        gates:\n"
                  "          unique_key: fail\n", kv_cols);
    const char *rows2[] = {"1", "10", "a", "2", "10", "a", "1", "10", "a"};
    r = drive(&f, "unique_key", rows2, 3, &v);
    assert_int_equal(v, SL_GATE_FAIL);
    assert_int_equal(jint(r, "duplicates"), 1);
    assert_int_equal(jint(r, "exact_duplicate_rows"), 1);
    assert_string_equal(jstr(r, "message"), "1 duplicate key (id), e.g. id=1 at lines 2 and 4; "
                                            "1 row repeats an earlier row exactly");
    json_decref(r);
    fake_free(&f);
}

static void unique_key_scales_to_many_rows(void **state)
{
    (void)state;
    struct fake f;
    enum sl_verdict v;
    const size_t n = 200000;
    const char *cols[] = {"id:bigint", NULL};

    fake_init(&f, "        kind: append\n        primary_key: [id]\n        gates:\n"
                  "          unique_key: quarantine\n", cols);
    const char **rows = calloc(n, sizeof *rows);
    char *text = calloc(n, 12);
    for (size_t i = 0; i < n; i++) {
        /* every 1000th row repeats the row 7 before it */
        snprintf(text + i * 12, 12, "%zu", i % 1000 == 999 ? i - 7 : i);
        rows[i] = text + i * 12;
    }
    json_t *r = drive(&f, "unique_key", rows, n, &v);
    assert_int_equal(v, SL_GATE_QUARANTINE);
    assert_int_equal(jint(r, "duplicates"), 200);
    assert_int_equal(jint(r, "distinct_keys"), 199800);
    assert_int_equal(json_array_size(json_object_get(r, "examples")), 5);
    assert_string_equal(jstr(r, "examples.0.key.id"), "992");
    assert_int_equal(jint(r, "examples.0.first_line"), 994);
    assert_int_equal(jint(r, "examples.0.line"), 1001);
    json_decref(r);
    free(rows);
    free(text);
    fake_free(&f);
}

/* ==== timestamps ==== */

static const char *const ts_cols[] = {"id:bigint", "created_at:timestamptz", "day:date", NULL};

static void timestamps_reads_milliseconds_by_magnitude(void **state)
{
    (void)state;
    struct fake f;
    enum sl_verdict v;

    fake_init(&f, "        kind: append\n        gates:\n"
                  "          timestamps: { epoch_unit: auto }\n", ts_cols);
    const struct sl_valctx vc = valctx_for(gate_of(f.cfg, "timestamps"));
    assert_int_equal(vc.epoch_unit, SL_EPOCH_AUTO);
    assert_int_equal(vc.overlap, SL_DST_FAIL);
    const char *rows[] = {
        "1", "1700000000000", "2023-11-14",
        "2", "1700000000123", NULL,
        "3", "2023-11-14T22:13:20Z", NULL,      /* not an epoch: not counted as one */
        "4", NULL, NULL,
    };
    json_t *r = drive(&f, "timestamps", rows, 4, &v);
    assert_int_equal(v, SL_GATE_PASS);
    /* the default checks every timestamptz column, not dates */
    assert_int_equal(json_array_size(json_object_get(r, "columns")), 1);
    assert_string_equal(jstr(r, "columns.0.column"), "created_at");
    assert_string_equal(jstr(r, "columns.0.unit"), "ms");
    assert_string_equal(jstr(r, "columns.0.unit_from"), "magnitude");
    assert_int_equal(jint(r, "columns.0.values"), 3);
    assert_int_equal(jint(r, "columns.0.epoch_values"), 2);
    assert_int_equal(jint(r, "columns.0.units.ms"), 2);
    assert_int_equal(jint(r, "columns.0.units.s"), 0);
    assert_string_equal(jstr(r, "units_decided"), "created_at: ms (2 values)");
    assert_string_equal(jstr(r, "message"), "3 timestamps in 1 column, none later than now + "
                                            "1h; created_at: ms (2 values)");
    json_decref(r);
    fake_free(&f);
}

static void timestamps_reads_seconds_by_magnitude(void **state)
{
    (void)state;
    struct fake f;
    enum sl_verdict v;

    fake_init(&f, "        kind: append\n        gates:\n          timestamps:\n", ts_cols);
    const char *rows[] = {"1", "1700000000", NULL, "2", "1700000000.5", NULL,
                          "3", "100000000", NULL /* 1973-03-03: still seconds */};
    json_t *r = drive(&f, "timestamps", rows, 3, &v);
    assert_int_equal(v, SL_GATE_PASS);
    assert_string_equal(jstr(r, "columns.0.unit"), "s");
    assert_int_equal(jint(r, "columns.0.units.s"), 3);
    assert_string_equal(jstr(r, "units_decided"), "created_at: s (3 values)");
    json_decref(r);
    fake_free(&f);
}

static void timestamps_mixed_units_hold_the_batch(void **state)
{
    (void)state;
    struct fake f;
    enum sl_verdict v;

    fake_init(&f, "        kind: append\n        gates:\n          timestamps: {}\n", ts_cols);
    const char *rows[] = {
        "1", "1700000000000", NULL,
        "2", "1700000001000", NULL,
        "3", "1700000002000", NULL,
        "4", "1700000003000", NULL,
        "5", "1700000004000", NULL,
        "6", "1700000005", NULL,            /* line 7: seconds among milliseconds */
        "7", "1700000006000000", NULL,      /* line 8: microseconds */
    };
    json_t *r = drive(&f, "timestamps", rows, 7, &v);
    assert_int_equal(v, SL_GATE_QUARANTINE);
    assert_string_equal(jstr(r, "verdict"), "quarantine");
    assert_string_equal(jstr(r, "columns.0.unit"), "ms");
    assert_int_equal(jint(r, "columns.0.units.ms"), 5);
    assert_int_equal(jint(r, "columns.0.units.s"), 1);
    assert_int_equal(jint(r, "columns.0.units.us"), 1);
    assert_string_equal(jstr(r, "columns.0.mixed.0.unit"), "s");
    assert_int_equal(jint(r, "columns.0.mixed.0.examples.0.line"), 7);
    assert_string_equal(jstr(r, "columns.0.mixed.0.examples.0.value"), "1700000005");
    assert_string_equal(jstr(r, "message"),
                        "created_at mixes ms and s: 1 value looks like seconds, e.g. line 7: "
                        "1700000005; created_at mixes ms and us: 1 value looks like "
                        "microseconds, e.g. line 8: 1700000006000000");
    json_decref(r);
    fake_free(&f);
}

static void timestamps_configured_unit_is_used_and_checked(void **state)
{
    (void)state;
    struct fake f;
    enum sl_verdict v;

    fake_init(&f, "        kind: append\n        gates:\n"
                  "          timestamps: { epoch_unit: ms, overlap: later, on_fail: fail }\n",
              ts_cols);
    const struct sl_valctx vc = valctx_for(gate_of(f.cfg, "timestamps"));
    assert_int_equal(vc.epoch_unit, SL_EPOCH_MS);
    assert_int_equal(vc.overlap, SL_DST_LATER);
    const char *rows[] = {"1", "1700000000000", NULL, "2", "1700000000", NULL};
    json_t *r = drive(&f, "timestamps", rows, 2, &v);
    assert_int_equal(v, SL_GATE_FAIL);
    assert_string_equal(jstr(r, "columns.0.unit_from"), "config");
    assert_string_equal(jstr(r, "message"), "created_at: epoch_unit is ms but 1 value looks "
                                            "like seconds, e.g. line 3: 1700000000");
    json_decref(r);
    fake_free(&f);
}

static void timestamps_future_values_beyond_tolerance(void **state)
{
    (void)state;
    struct fake f;
    enum sl_verdict v;
    char soon[32], later[32], tomorrow_day[32];

    sl_time_format(sl_time_now() + (sl_usec)30 * 60 * 1000000, soon);     /* now + 30m */
    sl_time_format(sl_time_now() + (sl_usec)3 * 3600 * 1000000, later);   /* now + 3h */
    sl_time_format(sl_time_now() + (sl_usec)3 * 86400 * 1000000, tomorrow_day);
    tomorrow_day[10] = '\0';

    fake_init(&f, "        kind: append\n        gates:\n"
                  "          timestamps: { future_tolerance: 1h, columns: [created_at, day] }\n",
              ts_cols);
    const char *rows[] = {
        "1", soon, "2020-01-01",
        "2", later, NULL,               /* line 3 */
        "3", "2020-01-01T00:00:00Z", tomorrow_day,  /* line 4: a date three days ahead */
    };
    json_t *r = drive(&f, "timestamps", rows, 3, &v);
    assert_int_equal(v, SL_GATE_QUARANTINE);
    assert_int_equal(json_array_size(json_object_get(r, "columns")), 2);
    assert_int_equal(jint(r, "columns.0.future"), 1);
    assert_int_equal(jint(r, "columns.0.future_examples.0.line"), 3);
    assert_string_equal(jstr(r, "columns.0.future_examples.0.value"), later);
    assert_string_equal(jstr(r, "columns.1.type"), "date");
    assert_int_equal(jint(r, "columns.1.future"), 1);
    assert_int_equal(jint(r, "columns.1.future_examples.0.line"), 4);
    assert_true(json_real_value(json_object_get(r, "future_tolerance_s")) == 3600.0);
    assert_contains(jstr(r, "message"), "created_at: 1 value later than ");
    assert_contains(jstr(r, "message"), "(now + 1h), e.g. line 3: ");
    assert_contains(jstr(r, "message"), "; day: 1 value later than ");
    json_decref(r);

    /* within the tolerance */
    r = drive(&f, "timestamps", rows, 1, &v);
    assert_int_equal(v, SL_GATE_PASS);
    json_decref(r);
    fake_free(&f);
}

static void timestamps_columns_must_be_timestamps(void **state)
{
    (void)state;
    struct fake f;

    fake_init(&f, "        kind: append\n        gates:\n"
                  "          timestamps: { columns: [id] }\n", ts_cols);
    expect_start_error(&f, "timestamps",
                       "table \"orders\": gate \"timestamps\": column \"id\" is bigint, not a "
                       "timestamptz or date (declare its type under columns:)");
    fake_free(&f);
}

/* ==== rules ==== */

static const char *const rule_cols[] = {"id:bigint", "email:text", "status:text",
                                        "amount:numeric", "sku:text", "at:timestamptz",
                                        "score:double", NULL};

static void rules_each_kind_counts_rows_and_shows_examples(void **state)
{
    (void)state;
    struct fake f;
    enum sl_verdict v;

    fake_init(&f, "        kind: append\n        gates:\n"
                  "          rules:\n"
                  "            - { column: email, reject_match: \"@test\\\\.\" }\n"
                  "            - { column: status, accepted_values: [new, paid] }\n"
                  "            - { column: amount, min: 0, max: 1000000 }\n"
                  "            - { name: id present, column: id, not_null: true }\n"
                  "            - { column: sku, require_match: \"^[A-Z]\" }\n"
                  "            - { column: at, min: 2020-01-01 }\n"
                  "            - { column: score, max: 1.5e2 }\n", rule_cols);
    const char *rows[] = {
        /* id   email            status  amount         sku     at                     score */
        "1",  "a@shop.com",   "new",  "10",          "A1",   "2021-01-01T00:00:00Z", "1",
        "2",  "b@test.com",   "paid", "-0.01",       "b2",   "2019-12-31T23:59:59Z", "150",
        NULL, "c@test.org",   "lost", "1000000.00",  "C3",   NULL,                   "150.5",
        "4",  NULL,           NULL,   "1000000.001", NULL,   "2020-01-01",           "NaN",
    };
    json_t *r = drive(&f, "rules", rows, 4, &v);
    assert_int_equal(v, SL_GATE_QUARANTINE);
    assert_int_equal(jint(r, "rows"), 4);
    assert_int_equal(json_array_size(json_object_get(r, "rules")), 7);

    assert_string_equal(jstr(r, "rules.0.name"), "email reject_match");
    assert_string_equal(jstr(r, "rules.0.rule"), "reject_match");
    assert_string_equal(jstr(r, "rules.0.pattern"), "@test\\.");
    assert_int_equal(jint(r, "rules.0.rows_broken"), 2);
    assert_int_equal(jint(r, "rules.0.examples.0.line"), 3);
    assert_string_equal(jstr(r, "rules.0.examples.0.value"), "b@test.com");
    assert_int_equal(jint(r, "rules.0.examples.1.line"), 4);

    assert_string_equal(jstr(r, "rules.1.rule"), "accepted_values");
    assert_string_equal(jstr(r, "rules.1.accepted_values.1"), "paid");
    assert_int_equal(jint(r, "rules.1.rows_broken"), 1);        /* NULL breaks only not_null */
    assert_string_equal(jstr(r, "rules.1.examples.0.value"), "lost");

    assert_string_equal(jstr(r, "rules.2.rule"), "range");
    assert_string_equal(jstr(r, "rules.2.min"), "0");
    assert_int_equal(jint(r, "rules.2.rows_broken"), 2);        /* -0.01 and 1000000.001 */
    assert_int_equal(jint(r, "rules.2.examples.0.line"), 3);
    assert_string_equal(jstr(r, "rules.2.examples.1.value"), "1000000.001");

    assert_string_equal(jstr(r, "rules.3.name"), "id present");
    assert_int_equal(jint(r, "rules.3.rows_broken"), 1);
    assert_int_equal(jint(r, "rules.3.examples.0.line"), 4);
    assert_true(json_is_null(json_object_get(
        json_array_get(json_object_get(json_array_get(json_object_get(r, "rules"), 3),
                                       "examples"), 0), "value")));

    assert_int_equal(jint(r, "rules.4.rows_broken"), 1);
    assert_string_equal(jstr(r, "rules.4.examples.0.value"), "b2");

    assert_int_equal(jint(r, "rules.5.rows_broken"), 1);        /* 2020-01-01 itself is in */
    assert_string_equal(jstr(r, "rules.5.examples.0.value"), "2019-12-31T23:59:59.000000Z");

    assert_int_equal(jint(r, "rules.6.rows_broken"), 2);        /* 150.5 and NaN */
    assert_int_equal(jint(r, "rules.6.examples.1.line"), 5);

    assert_int_equal(jint(r, "broken_rules"), 7);
    assert_string_equal(jstr(r, "rules.0.on_fail"), "quarantine");
    assert_true(json_is_false(json_object_get(json_array_get(json_object_get(r, "rules"), 0),
                                              "passed")));
    assert_contains(jstr(r, "message"), "7 of 7 rules broken: email reject_match: 2 rows, e.g. "
                                        "line 3: b@test.com; status accepted_values: 1 row, "
                                        "e.g. line 4: lost;");
    assert_contains(jstr(r, "message"), "; id present: 1 row, e.g. line 4: NULL;");
    json_decref(r);

    /* rows that keep every rule */
    r = drive(&f, "rules", rows, 1, &v);
    assert_int_equal(v, SL_GATE_PASS);
    assert_int_equal(jint(r, "broken_rules"), 0);
    assert_string_equal(jstr(r, "message"), "all 7 rules hold for 1 row");
    json_decref(r);
    fake_free(&f);
}

static void rules_numbers_compare_exactly_and_on_fail_fails(void **state)
{
    (void)state;
    struct fake f;
    enum sl_verdict v;
    const char *cols[] = {"n:numeric", "b:bigint", NULL};

    fake_init(&f, "        kind: append\n        gates:\n"
                  "          rules:\n"
                  "            - { column: n, max: 0.1 }\n"
                  "            - { column: b, min: -9223372036854775807, on_fail: fail,\n"
                  "                accepted_values: [1, 2, \"-9223372036854775808\"] }\n", cols);
    const char *rows[] = {
        "0.1000000000000000000001", "1",                        /* n just above 0.1 */
        "0.1000", "-9223372036854775808",                       /* b below min, but accepted */
        "-12345678901234567890.5", "3",                         /* 3 not accepted */
    };
    json_t *r = drive(&f, "rules", rows, 3, &v);
    assert_int_equal(v, SL_GATE_FAIL);
    assert_string_equal(jstr(r, "verdict"), "fail");
    assert_int_equal(jint(r, "rules.0.rows_broken"), 1);
    assert_int_equal(jint(r, "rules.0.examples.0.line"), 2);
    /* an item with two checks gives two rules, in a fixed order */
    assert_string_equal(jstr(r, "rules.1.rule"), "accepted_values");
    assert_int_equal(jint(r, "rules.1.rows_broken"), 1);
    assert_int_equal(jint(r, "rules.1.examples.0.line"), 4);
    assert_string_equal(jstr(r, "rules.2.rule"), "range");
    assert_int_equal(jint(r, "rules.2.rows_broken"), 1);
    assert_int_equal(jint(r, "rules.2.examples.0.line"), 3);
    assert_string_equal(jstr(r, "rules.2.on_fail"), "fail");
    json_decref(r);
    fake_free(&f);
}

static void rules_are_checked_against_the_batch_columns_at_start(void **state)
{
    (void)state;
    struct fake f;

    fake_init(&f, "        kind: append\n        gates:\n"
                  "          rules: [ { column: nope, not_null: true } ]\n", rule_cols);
    expect_start_error(&f, "rules", "sluice.yaml:11:20: table \"orders\": gate \"rules\": rule "
                                    "\"nope not_null\": column \"nope\" is not in the table");
    fake_free(&f);

    fake_init(&f, "        kind: append\n        gates:\n"
                  "          rules: [ { column: email, min: a } ]\n", rule_cols);
    expect_start_error(&f, "rules", "sluice.yaml:11:20: table \"orders\": gate \"rules\": rule "
                                    "\"email range\": min and max need a number, date or "
                                    "timestamp column; \"email\" is text");
    fake_free(&f);

    fake_init(&f, "        kind: append\n        gates:\n"
                  "          rules: [ { column: amount, min: ten } ]\n", rule_cols);
    expect_start_error(&f, "rules", "sluice.yaml:11:20: table \"orders\": gate \"rules\": rule "
                                    "\"amount range\": min \"ten\" is not a numeric (not a "
                                    "number)");
    fake_free(&f);

    fake_init(&f, "        kind: append\n        gates:\n"
                  "          rules: [ { column: amount, min: 5, max: 1 } ]\n", rule_cols);
    expect_start_error(&f, "rules", "sluice.yaml:11:20: table \"orders\": gate \"rules\": rule "
                                    "\"amount range\": min 5 is above max 1");
    fake_free(&f);
}

/* ==== schema ==== */

static void set_list(struct sl_strlist *l, char **items, size_t n)
{
    l->items = items;
    l->n = n;
}

static void schema_evolve_passes_and_lists_the_changes(void **state)
{
    (void)state;
    struct fake f;
    enum sl_verdict v;
    char *added[] = {"discount", "channel"}, *missing[] = {"note"},
         *changed[] = {"amount: numeric -> text"};

    fake_init(&f, "        kind: append\n        gates:\n          schema: evolve\n", size_cols);
    set_list(&f.diff.added, added, 2);
    set_list(&f.diff.missing, missing, 1);
    set_list(&f.diff.changed, changed, 1);
    json_t *r = drive(&f, "schema", NULL, 0, &v);
    assert_int_equal(v, SL_GATE_PASS);
    assert_string_equal(jstr(r, "policy"), "evolve");
    assert_string_equal(jstr(r, "added.1"), "channel");
    assert_string_equal(jstr(r, "missing.0"), "note");
    assert_string_equal(jstr(r, "changed.0"), "amount: numeric -> text");
    assert_string_equal(jstr(r, "warnings.0"), "the drop lacks 1 column, which get NULL: note");
    assert_string_equal(jstr(r, "message"),
                        "2 new columns: discount, channel; 1 changed column: amount: numeric -> "
                        "text; the drop lacks 1 column, which get NULL: note (schema: evolve)");
    json_decref(r);
    fake_free(&f);
}

static void schema_quarantine_holds_new_or_changed_columns(void **state)
{
    (void)state;
    struct fake f;
    enum sl_verdict v;
    char *added[] = {"discount"}, *missing[] = {"note"};

    fake_init(&f, "        kind: append\n        gates:\n          schema: quarantine\n",
              size_cols);
    set_list(&f.diff.added, added, 1);
    json_t *r = drive(&f, "schema", NULL, 0, &v);
    assert_int_equal(v, SL_GATE_QUARANTINE);
    assert_string_equal(jstr(r, "verdict"), "quarantine");
    assert_contains(jstr(r, "message"), "1 new column: discount (schema: quarantine holds");
    json_decref(r);

    /* missing columns alone pass, with a warning */
    set_list(&f.diff.added, NULL, 0);
    set_list(&f.diff.missing, missing, 1);
    r = drive(&f, "schema", NULL, 0, &v);
    assert_int_equal(v, SL_GATE_PASS);
    assert_string_equal(jstr(r, "warnings.0"), "the drop lacks 1 column, which get NULL: note");
    json_decref(r);

    /* a batch that creates the table passes */
    set_list(&f.diff.added, added, 1);
    f.diff.table_existed = 0;
    r = drive(&f, "schema", NULL, 0, &v);
    assert_int_equal(v, SL_GATE_PASS);
    assert_true(json_is_false(json_object_get(r, "table_existed")));
    assert_string_equal(jstr(r, "message"), "the batch creates the table");
    json_decref(r);
    fake_free(&f);

    /* the mapping form and the default */
    fake_init(&f, "        kind: append\n        gates:\n          schema: { policy: quarantine }\n",
              size_cols);
    set_list(&f.diff.changed, added, 1);
    r = drive(&f, "schema", NULL, 0, &v);
    assert_int_equal(v, SL_GATE_QUARANTINE);
    json_decref(r);
    fake_free(&f);
    fake_init(&f, "        kind: append\n        gates:\n          schema:\n", size_cols);
    set_list(&f.diff.added, added, 1);
    r = drive(&f, "schema", NULL, 0, &v);
    assert_int_equal(v, SL_GATE_PASS);
    assert_string_equal(jstr(r, "policy"), "evolve");
    json_decref(r);
    fake_free(&f);
}

/* ==== config errors ==== */

static void config_errors_name_the_place_and_the_fix(void **state)
{
    (void)state;
    expect_config_error(HEAD "        kind: append\n        gates:\n"
                             "          unique_key: quarantin\n",
                        "sluice.yaml:11:23: gate \"unique_key\": expected one of quarantine, "
                        "fail, keep_latest (or a mapping with policy and columns), found "
                        "\"quarantin\"; did you mean \"quarantine\"?");
    expect_config_error(HEAD "        kind: append\n        gates:\n"
                             "          unique_key: { policy: keep_latst }\n",
                        "sluice.yaml:11:33: pipeline \"p\": table \"orders\": gate "
                        "\"unique_key\": key \"policy\": expected one of quarantine, fail, "
                        "keep_latest, found \"keep_latst\"; did you mean \"keep_latest\"?");
    expect_config_error(HEAD "        kind: append\n        gates:\n"
                             "          schema: evolv\n",
                        "sluice.yaml:11:19: gate \"schema\": expected evolve or quarantine, "
                        "found \"evolv\"; did you mean \"evolve\"?");
    expect_config_error(HEAD "        kind: append\n        gates:\n"
                             "          size: { histroy: 3 }\n",
                        "sluice.yaml:11:19: unknown key \"histroy\" in gate \"size\" (expected "
                        "one of: history, max_ratio, min_history, on_fail); did you mean "
                        "\"history\"?");
    expect_config_error(HEAD "        kind: append\n        gates:\n"
                             "          timestamps: { epoch_unit: msec }\n",
                        "sluice.yaml:11:37: pipeline \"p\": table \"orders\": gate "
                        "\"timestamps\": key \"epoch_unit\": expected one of auto, s, ms, us, ns, "
                        "none, found \"msec\"; did you mean \"ms\"?");
    /* a bad regex: at the regex itself */
    expect_config_error(HEAD "        kind: append\n        gates:\n"
                             "          rules:\n"
                             "            - { column: email, not_null: true }\n"
                             "            - { column: email, reject_match: \"a(b\" }\n",
                        "sluice.yaml:13:46: gate \"rules\" item 2: reject_match: bad regular "
                        "expression \"a(b\": Unmatched ( or \\(");
    expect_config_error(HEAD "        kind: append\n        gates:\n"
                             "          rules: [ { column: email } ]\n",
                        "sluice.yaml:11:20: gate \"rules\" item 1: column \"email\" has no check "
                        "(give one of: not_null, accepted_values, reject_match, require_match, "
                        "min, max)");
    expect_config_error(HEAD "        kind: append\n        gates:\n"
                             "          rules: [ { column: email, reject_matc: x } ]\n",
                        "sluice.yaml:11:37: unknown key \"reject_matc\" in gate \"rules\" item 1 "
                        "(expected one of: column, name, on_fail, not_null, accepted_values, "
                        "reject_match, require_match, min, max); did you mean \"reject_match\"?");
    expect_config_error(HEAD "        kind: append\n        gates:\n"
                             "          rules: { column: email, not_null: true }\n",
                        "sluice.yaml:11:18: gate \"rules\": expected a list of rules like [ { "
                        "column: email, reject_match: \"@test\\\\.\" } ], found a mapping");
    expect_config_error(HEAD "        kind: append\n        gates:\n"
                             "          rules: [ { column: s, accepted_values: [] } ]\n",
                        "sluice.yaml:11:50: gate \"rules\" item 1: accepted_values is empty: no "
                        "value could pass");
}

/* ==== allocation failures ==== */

/* One batch with the N-th allocation failing: the gate either copes or says
 * "out of memory"; nothing leaks (LeakSanitizer checks at exit). Rows are
 * given canonical, so only the gate allocates. */
static int run_failing_at(struct fake *f, const char *gate, const char *const *rows, size_t nrows,
                          long n)
{
    const struct sl_gate_cfg *gc = gate_of(f->cfg, gate);
    size_t nc = f->schema.ncols;
    struct sl_cell cells[8];
    struct sl_gate_run *run = NULL;
    struct sl_gate_result res = {SL_GATE_PASS, NULL};
    struct sl_err err;
    int rc = -1;

    assert_true(nc <= 8);
    sl_err_clear(&err);
    sl_mem_fail_at(n);
    if (gc->ops->start(gc->ctx, &f->env, &run, &err) != 0)
        goto out;
    for (size_t r = 0; r < nrows; r++) {
        for (size_t i = 0; i < nc; i++) {
            const char *s = rows[r * nc + i];
            cells[i].s = s;
            cells[i].n = s ? strlen(s) : 0;
            cells[i].null = !s;
        }
        if (gc->ops->row && gc->ops->row(run, cells, cells, (long)r + 2, &err) != 0)
            goto out;
    }
    if (gc->ops->finish(run, &f->env, &res, &err) != 0)
        goto out;
    rc = 0;
out:
    sl_mem_fail_at(0);
    if (run)
        gc->ops->free_run(run);
    sl_free(res.report_json);
    if (rc != 0 && err.code != SL_E_NOMEM)
        fail_msg("allocation %ld failing: %s", n, err.msg);
    return rc;
}

static void gates_survive_allocation_failures(void **state)
{
    (void)state;
    struct fake f;
    const char *rows[] = {"1", "a@test.com", "new", "5", "A", "2020-01-01T00:00:00.000000Z", "1",
                          "1", "b@x.com", "old", "-1", "b", "2019-01-01T00:00:00.000000Z", "NaN",
                          "1", "a@test.com", "new", "5", "A", "2020-01-01T00:00:00.000000Z", "1"};

    fake_init(&f, "        kind: snapshot\n        primary_key: [id]\n        gates:\n"
                  "          unique_key: quarantine\n"
                  "          timestamps: { columns: [at] }\n"
                  "          rules:\n"
                  "            - { column: email, reject_match: \"@test\\\\.\", not_null: true }\n"
                  "            - { column: status, accepted_values: [new] }\n"
                  "            - { column: amount, min: 0, max: 10 }\n"
                  "            - { column: at, min: 2020-01-01 }\n"
                  "          schema: quarantine\n", rule_cols);
    char *added[] = {"x"};
    f.diff.added.items = added;
    f.diff.added.n = 1;
    const char *gates[] = {"unique_key", "timestamps", "rules", "schema"};
    for (size_t k = 0; k < 4; k++) {
        int ok = 0;
        /* until a run no longer reaches the failing allocation */
        for (long n = 1; n < 1000 && ok < 3; n++)
            ok = run_failing_at(&f, gates[k], rows, 3, n) == 0 ? ok + 1 : 0;
        assert_int_equal(ok, 3);
    }
    fake_free(&f);
}

static void rules_config_survives_allocation_failures(void **state)
{
    (void)state;
    const char *yaml = HEAD "        kind: append\n        gates:\n"
                            "          unique_key: { columns: [a, b] }\n"
                            "          rules:\n"
                            "            - { column: email, reject_match: x, require_match: y }\n"
                            "            - { column: s, accepted_values: [a, b, c], min: 1 }\n";
    int ok = 0;
    for (long n = 1; n < 2000 && ok < 3; n++) {
        struct sl_config *c = NULL;
        struct sl_err err;
        sl_err_clear(&err);
        sl_mem_fail_at(n);
        int rc = sl_config_load_mem("sluice.yaml", "/tmp", yaml, strlen(yaml), &c, &err);
        sl_mem_fail_at(0);
        if (rc != 0 && err.code != SL_E_NOMEM)
            fail_msg("allocation %ld failing: %s", n, err.msg);
        ok = rc == 0 ? ok + 1 : 0;
        sl_config_free(c);
    }
    assert_int_equal(ok, 3);
}

static void design_example_gates_load(void **state)
{
    (void)state;
    /* the gates block of DESIGN.md's example, as written there */
    struct sl_config *c = load_ok(HEAD
        "        kind: versioned\n"
        "        primary_key: [id]\n"
        "        version_key: updated_at\n"
        "        columns: { id: bigint, amount: numeric, updated_at: timestamptz }\n"
        "        gates:\n"
        "          size: { history: 14, max_ratio: 3.0 }    # delta within range of recent deltas\n"
        "          unique_key: quarantine                     # within a batch\n"
        "          timestamps: { future_tolerance: 1h, epoch_unit: auto }\n"
        "          rules: [ { column: email, reject_match: \"@test\\\\.\" } ]\n");
    const struct sl_table_cfg *t = table_of(c);
    assert_int_equal(t->ngates, 4);
    assert_string_equal(t->gates[0].ops->name, "size");
    assert_string_equal(t->gates[3].ops->name, "rules");
    assert_int_equal(t->gates[1].pos.line, 15);
    assert_int_equal(t->gates[1].pos.col, 11);
    sl_config_free(c);
}

static void every_gate_is_registered(void **state)
{
    (void)state;
    const char *names[] = {"size", "unique_key", "timestamps", "rules", "schema"};
    struct sl_err err;
    for (size_t i = 0; i < 5; i++) {
        sl_err_clear(&err);
        assert_non_null(sl_gate_find(names[i], &err));
        assert_string_equal(sl_gate_at(i)->name, names[i]);
    }
    assert_null(sl_gate_at(5));
    assert_null(sl_gate_find("sise", &err));
    assert_string_equal(err.msg, "unknown gate \"sise\" (there are: size, unique_key, "
                                 "timestamps, rules, schema)");
}

static int group_setup(void **state)
{
    (void)state;
    if (!mkdtemp(dbdir))
        return -1;
    snprintf(dbpath, sizeof dbpath, "%s/w.db", dbdir);
    snprintf(dburl, sizeof dburl, "sqlite://%s", dbpath);
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    char p[128];
    unlink(dbpath);
    snprintf(p, sizeof p, "%s-journal", dbpath);
    unlink(p);
    snprintf(p, sizeof p, "%s-wal", dbpath);
    unlink(p);
    snprintf(p, sizeof p, "%s-shm", dbpath);
    unlink(p);
    rmdir(dbdir);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_gate_is_registered),
        cmocka_unit_test(design_example_gates_load),
        cmocka_unit_test(size_passes_within_range_of_median),
        cmocka_unit_test(size_quarantines_a_batch_far_from_the_median),
        cmocka_unit_test(size_on_fail_fail_fails_and_bytes_count_too),
        cmocka_unit_test(size_is_not_enforced_without_enough_history),
        cmocka_unit_test(size_bad_settings_are_refused_at_start),
        cmocka_unit_test(unique_key_quarantines_duplicate_keys),
        cmocka_unit_test(unique_key_fail_on_given_columns),
        cmocka_unit_test(unique_key_keep_latest_passes_on_versioned_tables),
        cmocka_unit_test(unique_key_keep_latest_needs_a_versioned_table),
        cmocka_unit_test(unique_key_snapshot_counts_exact_duplicate_rows),
        cmocka_unit_test(unique_key_scales_to_many_rows),
        cmocka_unit_test(timestamps_reads_milliseconds_by_magnitude),
        cmocka_unit_test(timestamps_reads_seconds_by_magnitude),
        cmocka_unit_test(timestamps_mixed_units_hold_the_batch),
        cmocka_unit_test(timestamps_configured_unit_is_used_and_checked),
        cmocka_unit_test(timestamps_future_values_beyond_tolerance),
        cmocka_unit_test(timestamps_columns_must_be_timestamps),
        cmocka_unit_test(rules_each_kind_counts_rows_and_shows_examples),
        cmocka_unit_test(rules_numbers_compare_exactly_and_on_fail_fails),
        cmocka_unit_test(rules_are_checked_against_the_batch_columns_at_start),
        cmocka_unit_test(schema_evolve_passes_and_lists_the_changes),
        cmocka_unit_test(schema_quarantine_holds_new_or_changed_columns),
        cmocka_unit_test(config_errors_name_the_place_and_the_fix),
        cmocka_unit_test(gates_survive_allocation_failures),
        cmocka_unit_test(rules_config_survives_allocation_failures),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
