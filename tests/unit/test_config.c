/* tests/unit/test_config.c: the config loader (config/config.c) and the key
 * filler (base/cfgmap.c): configs written to a temporary folder, loaded,
 * and their structs or their exact error messages and positions checked. */
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "config/config.h"
#include "base/yaml.h"
#include "base/mem.h"
#include "gates/gate.h"
#include "sources/source.h"

#define CFG "sluice.yaml"

static char tmpdir[] = "/tmp/sl_test_config_XXXXXX";
static char tmpreal[PATH_MAX];      /* tmpdir as getcwd spells it */
static char oldcwd[PATH_MAX];

static int setup(void **state)
{
    (void)state;
    if (!getcwd(oldcwd, sizeof oldcwd) || !mkdtemp(tmpdir) || chdir(tmpdir) != 0 ||
        !getcwd(tmpreal, sizeof tmpreal))
        return -1;
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    unlink(CFG);
    if (chdir(oldcwd) != 0)
        return -1;
    rmdir(tmpdir);
    return 0;
}

static void write_config(const char *yaml)
{
    FILE *f = fopen(CFG, "w");
    assert_non_null(f);
    assert_int_equal(fwrite(yaml, 1, strlen(yaml), f), strlen(yaml));
    assert_int_equal(fclose(f), 0);
}

static struct sl_config *load_ok(const char *yaml)
{
    struct sl_config *c = NULL;
    struct sl_err err;

    sl_err_clear(&err);
    write_config(yaml);
    if (sl_config_load(CFG, &c, &err) != 0)
        fail_msg("config should load, got: %s", err.msg);
    assert_non_null(c);
    return c;
}

static void expect_error(const char *yaml, const char *msg)
{
    struct sl_config *c = NULL;
    struct sl_err err;

    sl_err_clear(&err);
    write_config(yaml);
    assert_int_equal(sl_config_load(CFG, &c, &err), -1);
    assert_null(c);
    assert_int_equal(err.code, SL_E_CONFIG);
    assert_string_equal(err.msg, msg);
}

/* For messages that list another module's keys: check both ends. */
static void expect_error_ends(const char *yaml, const char *head, const char *tail)
{
    struct sl_config *c = NULL;
    struct sl_err err;

    sl_err_clear(&err);
    write_config(yaml);
    assert_int_equal(sl_config_load(CFG, &c, &err), -1);
    size_t n = strlen(err.msg), hn = strlen(head), tn = strlen(tail);
    if (n < hn + tn || strncmp(err.msg, head, hn) != 0 || strcmp(err.msg + n - tn, tail) != 0)
        fail_msg("got \"%s\"\nwant \"%s...%s\"", err.msg, head, tail);
}

/* Lines 1-8 of most configs below; tests append table keys from line 9. */
#define HEAD                                                        \
    "connections:\n"                                                \
    "  warehouse: { url: \"sqlite://warehouse.db\" }\n"             \
    "pipelines:\n"                                                  \
    "  - name: orders_drops\n"                                      \
    "    source: { kind: files, path: drops/orders }\n"             \
    "    destination: warehouse\n"                                  \
    "    tables:\n"                                                 \
    "      - name: orders\n"

/* A string key of a pipeline's source config, found through its key table. */
static const char *source_str(const struct sl_pipeline_cfg *p, const char *key)
{
    for (const struct sl_cfg_key *k = p->source_ops->keys; k->key; k++)
        if (strcmp(k->key, key) == 0 && k->type == SL_CFG_STR)
            return *(char *const *)(const void *)((const char *)p->source_ctx + k->offset);
    fail_msg("source has no string key \"%s\"", key);
    return NULL;
}

/* ---- a whole config ---- */

static const char design_config[] =
    "http: { listen: \"127.0.0.1:8765\", token: \"${SL_TEST_ADMIN_TOKEN}\" }\n"
    "alerts:\n"
    "  - { url: \"https://hooks.example.com/sluice\", format: slack }\n"
    "connections:\n"
    "  warehouse: { url: \"sqlite://warehouse.db\" }\n"
    "  crm: { url: \"postgresql://replicator@crm:5432/crm\", password: \"${SL_TEST_CRM}\" }\n"
    "\n"
    "pipelines:\n"
    "  - name: orders_drops                 # batch updates: files dropped in a folder\n"
    "    source: { kind: files, path: drops/orders, format: csv, timezone: America/New_York }\n"
    "    destination: warehouse\n"
    "    schedule: every 5m\n"
    "    tables:\n"
    "      - name: orders\n"
    "        kind: versioned                # snapshot | versioned | append\n"
    "        primary_key: [id]\n"
    "        version_key: updated_at\n"
    "        columns: { id: bigint, amount: numeric, updated_at: timestamptz }\n"
    "    snapshots: { every: 1d, keep: 7 }\n"
    "    reconcile: { every: 1h }\n"
    "  - name: events\n"
    "    source: { kind: files, path: /srv/drops/events, format: jsonl }\n"
    "    destination: crm\n"
    "    tables:\n"
    "      - { name: events, kind: append, primary_key: event_id, pattern: \"*.jsonl\" }\n"
    "      - { name: audit.log, kind: snapshot, pattern: \"audit-*.jsonl\" }\n";

static void design_files_pipeline_loads(void **state)
{
    (void)state;
    setenv("SL_TEST_ADMIN_TOKEN", "t0ken", 1);
    setenv("SL_TEST_CRM", "pw", 1);
    struct sl_config *c = load_ok(design_config);

    assert_string_equal(c->path, CFG);
    assert_string_equal(c->dir, tmpreal);
    assert_string_equal(c->http_listen, "127.0.0.1:8765");
    assert_string_equal(c->http_token, "t0ken");
    assert_int_equal(c->nalerts, 1);
    assert_string_equal(c->alerts[0].url, "https://hooks.example.com/sluice");
    assert_string_equal(c->alerts[0].format, "slack");
    assert_null(c->alerts[0].routing_key);

    assert_int_equal(c->nconnections, 2);
    assert_string_equal(c->connections[0].name, "warehouse");
    assert_string_equal(c->connections[0].url, "sqlite://warehouse.db");
    assert_null(c->connections[0].password);
    assert_int_equal(c->connections[0].pos.line, 5);
    assert_int_equal(c->connections[0].pos.col, 3);
    assert_string_equal(c->connections[1].password, "pw");

    assert_int_equal(c->npipelines, 2);
    const struct sl_pipeline_cfg *p = sl_config_pipeline(c, "orders_drops");
    assert_ptr_equal(p, &c->pipelines[0]);
    assert_int_equal(p->pos.line, 9);
    assert_int_equal(p->pos.col, 5);
    assert_string_equal(p->source_kind, "files");
    assert_ptr_equal(p->source_ops, &sl_source_files);
    assert_non_null(p->source_ctx);
    assert_string_equal(p->destination, "warehouse");
    assert_ptr_equal(p->dest_conn, sl_config_connection(c, "warehouse"));
    assert_string_equal(p->schedule, "every 5m");
    assert_true(p->every == 300.0);
    assert_true(p->snapshot_every == 86400.0);
    assert_int_equal(p->snapshot_keep, 7);
    assert_true(p->reconcile_every == 3600.0);

    assert_int_equal(p->ntables, 1);
    const struct sl_table_cfg *t = &p->tables[0];
    assert_string_equal(t->name, "orders");
    assert_int_equal(t->kind, SL_KIND_VERSIONED);
    assert_string_equal(sl_table_kind_name(t->kind), "versioned");
    assert_int_equal(t->primary_key.n, 1);
    assert_string_equal(t->primary_key.items[0], "id");
    assert_string_equal(t->version_key, "updated_at");
    assert_int_equal(t->ncolumns, 3);
    assert_string_equal(t->columns[0].name, "id");
    assert_int_equal(t->columns[0].type, SL_T_BIGINT);
    assert_string_equal(t->columns[1].name, "amount");
    assert_int_equal(t->columns[1].type, SL_T_NUMERIC);
    assert_int_equal(t->columns[2].type, SL_T_TIMESTAMPTZ);
    assert_int_equal(t->ngates, 0);
    assert_int_equal(t->pos.line, 14);
    assert_int_equal(t->pos.col, 9);

    p = &c->pipelines[1];
    assert_true(p->every == 0);
    assert_ptr_equal(p->dest_conn, &c->connections[1]);
    assert_int_equal(p->ntables, 2);
    assert_int_equal(p->tables[0].kind, SL_KIND_APPEND);
    assert_int_equal(p->tables[0].primary_key.n, 1);       /* a scalar is a one-item list */
    assert_string_equal(p->tables[0].primary_key.items[0], "event_id");
    assert_string_equal(p->tables[0].pattern, "*.jsonl");
    assert_string_equal(p->tables[1].name, "audit.log");
    assert_int_equal(p->tables[1].kind, SL_KIND_SNAPSHOT);
    assert_int_equal(p->tables[1].pos.line, 26);
    assert_int_equal(p->tables[1].pos.col, 9);

    assert_null(sl_config_pipeline(c, "nope"));
    assert_null(sl_config_connection(c, "nope"));
    sl_config_free(c);
    unsetenv("SL_TEST_ADMIN_TOKEN");
    unsetenv("SL_TEST_CRM");
}

static void defaults_apply_when_keys_are_absent_or_null(void **state)
{
    (void)state;
    struct sl_config *c = load_ok(HEAD
                                  "        kind: snapshot\n"
                                  "        pattern: ~\n");
    const struct sl_table_cfg *t = &c->pipelines[0].tables[0];

    assert_true(t->boundary == 600.0);
    assert_int_equal(t->batch_limit, 0);
    assert_null(t->pattern);
    assert_string_equal(t->source_table, "orders");
    assert_int_equal(t->primary_key.n, 0);
    assert_null(c->http_listen);
    assert_int_equal(c->nalerts, 0);
    assert_true(c->pipelines[0].snapshot_every == 0);

    /* the files source's own defaults, read through its key table */
    const struct sl_cfg_key *keys = sl_source_files.keys;
    const char *ctx = c->pipelines[0].source_ctx;
    for (const struct sl_cfg_key *k = keys; k->key; k++) {
        if (strcmp(k->key, "settle") == 0)
            assert_true(*(const double *)(const void *)(ctx + k->offset) == 2.0);
        else if (strcmp(k->key, "header") == 0)
            assert_int_equal(*(const int *)(const void *)(ctx + k->offset), 1);
    }
    assert_string_equal(source_str(&c->pipelines[0], "timezone"), "UTC");
    assert_string_equal(source_str(&c->pipelines[0], "path"), "drops/orders");
    sl_config_free(c);
}

static void columns_take_type_names_and_aliases(void **state)
{
    (void)state;
    struct sl_config *c = load_ok(HEAD
                                  "        kind: append\n"
                                  "        columns:\n"
                                  "          a: integer\n"
                                  "          b: int\n"
                                  "          c: float\n"
                                  "          d: string\n"
                                  "          e: timestamp\n"
                                  "          f: boolean\n"
                                  "          g: json\n"
                                  "          h: date\n"
                                  "          i: text\n");
    static const enum sl_type want[] = {SL_T_BIGINT, SL_T_BIGINT, SL_T_DOUBLE,
                                        SL_T_TEXT, SL_T_TIMESTAMPTZ, SL_T_BOOL,
                                        SL_T_JSON, SL_T_DATE, SL_T_TEXT};
    const struct sl_table_cfg *t = &c->pipelines[0].tables[0];

    assert_int_equal(t->ncolumns, 9);
    for (size_t i = 0; i < 9; i++) {
        char name[2] = {(char)('a' + i), '\0'};
        assert_string_equal(t->columns[i].name, name);
        assert_int_equal(t->columns[i].type, want[i]);
    }
    sl_config_free(c);

    expect_error(HEAD
                 "        kind: append\n"
                 "        columns: { id: bigint, amount: numerik }\n",
                 "sluice.yaml:10:40: pipeline \"orders_drops\": table \"orders\": column "
                 "\"amount\": unknown type \"numerik\" (expected one of: bigint, double, numeric, "
                 "text, bool, timestamptz, date, json); did you mean \"numeric\"?");
    expect_error(HEAD
                 "        kind: append\n"
                 "        columns: [id]\n",
                 "sluice.yaml:10:18: pipeline \"orders_drops\": table \"orders\": key "
                 "\"columns\": expected a mapping of column names to types, found a sequence");
}

/* ---- unknown and missing keys ---- */

static void unknown_key_names_the_block_and_suggests(void **state)
{
    (void)state;
    expect_error(HEAD
                 "        kind: versioned\n"
                 "        primary_keys: [id]\n",
                 "sluice.yaml:10:9: unknown key \"primary_keys\" in table \"orders\" (expected "
                 "one of: name, kind, primary_key, version_key, pattern, source_table, mode, "
                 "cursor, boundary, batch_limit, deletes, columns, gates, paths, protect); did you mean "
                 "\"primary_key\"?");
    expect_error_ends("connections:\n"
                      "  warehouse: { url: \"sqlite://warehouse.db\" }\n"
                      "pipelines:\n"
                      "  - name: orders_drops\n"
                      "    source: { kind: files, path: drops/orders, patern: \"*.csv\" }\n"
                      "    destination: warehouse\n"
                      "    tables: [ { name: orders, kind: snapshot } ]\n",
                      "sluice.yaml:5:48: unknown key \"patern\" in source (expected one of: path, ",
                      ", kind, multiline); did you mean \"pattern\"?");
    expect_error("connections:\n"
                 "  warehouse: { url: \"sqlite://warehouse.db\" }\n"
                 "pipeline:\n"
                 "  - name: x\n",
                 "sluice.yaml:3:1: unknown key \"pipeline\" in the config (expected one of: "
                 "http, alerts, connections, pipelines); did you mean \"pipelines\"?");
    expect_error("connections:\n"
                 "  warehouse: { url: \"sqlite://warehouse.db\" }\n"
                 "pipelines:\n"
                 "  - name: orders_drops\n"
                 "    source: { kind: files, path: drops/orders }\n"
                 "    destination: warehouse\n"
                 "    frobnicate: yes\n"
                 "    tables: [ { name: orders, kind: snapshot } ]\n",
                 "sluice.yaml:7:5: unknown key \"frobnicate\" in pipeline \"orders_drops\" "
                 "(expected one of: name, destination, schedule, stale_after, lock_wait, region, "
                 "protect_key, source, tables, snapshots, reconcile)");
}

static void missing_required_key_points_at_the_mapping(void **state)
{
    (void)state;
    expect_error("connections:\n"
                 "  warehouse: { url: \"sqlite://warehouse.db\" }\n"
                 "pipelines:\n"
                 "  - name: orders_drops\n"
                 "    source: { kind: files, format: csv }\n"
                 "    destination: warehouse\n"
                 "    tables: [ { name: orders, kind: snapshot } ]\n",
                 "sluice.yaml:5:13: pipeline \"orders_drops\": source: missing required key "
                 "\"path\"");
    expect_error("connections:\n"
                 "  warehouse: { url: \"sqlite://warehouse.db\" }\n"
                 "pipelines:\n"
                 "  - source: { kind: files, path: x }\n"
                 "    destination: warehouse\n"
                 "    tables: [ { name: orders, kind: snapshot } ]\n",
                 "sluice.yaml:4:5: pipeline #1: missing required key \"name\"");
    expect_error(HEAD
                 "        primary_key: [id]\n",
                 "sluice.yaml:8:9: pipeline \"orders_drops\": table \"orders\": missing required "
                 "key \"kind\"");
    expect_error("connections:\n"
                 "  warehouse: { url: \"sqlite://warehouse.db\" }\n"
                 "pipelines:\n"
                 "  - name: orders_drops\n"
                 "    source: { kind: files, path: x }\n"
                 "    destination: warehouse\n",
                 "sluice.yaml:4:5: pipeline \"orders_drops\": missing required key \"tables\"");
    expect_error("connections:\n"
                 "  warehouse: { url: \"sqlite://warehouse.db\" }\n",
                 "sluice.yaml:1:1: missing required key \"pipelines\"");
    expect_error(HEAD
                 "        kind: snapshot\n"
                 "        name: again\n",
                 "sluice.yaml:10:9: duplicate key \"name\" (first at 8:9)");
}

/* ---- wrong types ---- */

static void wrong_types_say_what_was_expected(void **state)
{
    (void)state;
    expect_error(HEAD
                 "        kind: snapshot\n"
                 "    snapshots: { every: ten, keep: 7 }\n",
                 "sluice.yaml:10:25: pipeline \"orders_drops\": snapshots: key \"every\": "
                 "expected a duration like \"10m\", found \"ten\"");
    expect_error(HEAD
                 "        kind: snapshot\n"
                 "    snapshots: { every: 1d, keep: 7.5 }\n",
                 "sluice.yaml:10:35: pipeline \"orders_drops\": snapshots: key \"keep\": "
                 "expected a whole number, found \"7.5\"");
    expect_error("connections:\n"
                 "  warehouse: { url: \"sqlite://warehouse.db\" }\n"
                 "pipelines:\n"
                 "  - name: orders_drops\n"
                 "    source: { kind: files, path: x, header: maybe }\n"
                 "    destination: warehouse\n"
                 "    tables: [ { name: orders, kind: snapshot } ]\n",
                 "sluice.yaml:5:45: pipeline \"orders_drops\": source: key \"header\": "
                 "expected true or false, found \"maybe\"");
    expect_error(HEAD
                 "        kind: snapshots\n",
                 "sluice.yaml:9:15: pipeline \"orders_drops\": table \"orders\": key \"kind\": "
                 "expected one of snapshot, versioned, append, incremental, cdc, found "
                 "\"snapshots\"; did you mean \"snapshot\"?");
    expect_error(HEAD
                 "        kind: { a: 1 }\n",
                 "sluice.yaml:9:15: pipeline \"orders_drops\": table \"orders\": key \"kind\": "
                 "expected one of snapshot, versioned, append, incremental, cdc, found a mapping");
    expect_error(HEAD
                 "        kind: append\n"
                 "        primary_key: { id: 1 }\n",
                 "sluice.yaml:10:22: pipeline \"orders_drops\": table \"orders\": key "
                 "\"primary_key\": expected a list of strings or one string, found a mapping");
    expect_error(HEAD
                 "        kind: snapshot\n"
                 "    schedule: hourly\n",
                 "sluice.yaml:10:15: pipeline \"orders_drops\": key \"schedule\": expected "
                 "\"every <duration>\" like \"every 5m\", found \"hourly\"");
    expect_error(HEAD
                 "        kind: snapshot\n"
                 "        boundary: 5m\n",
                 "sluice.yaml:10:9: pipeline \"orders_drops\": table \"orders\": key "
                 "\"boundary\" applies only to kind incremental (this table is snapshot)");
}

/* ---- what ties blocks together ---- */

static void destination_must_name_a_connection(void **state)
{
    (void)state;
    expect_error("connections:\n"
                 "  warehouse: { url: \"sqlite://warehouse.db\" }\n"
                 "  crm: { url: \"postgres://crm/crm\" }\n"
                 "pipelines:\n"
                 "  - name: orders_drops\n"
                 "    source: { kind: files, path: drops/orders }\n"
                 "    destination: wharehouse\n"
                 "    tables: [ { name: orders, kind: snapshot } ]\n",
                 "sluice.yaml:7:18: pipeline \"orders_drops\": destination \"wharehouse\" is not "
                 "a connection (there are: warehouse, crm); did you mean \"warehouse\"?");
    expect_error("pipelines:\n"
                 "  - name: orders_drops\n"
                 "    source: { kind: files, path: drops/orders }\n"
                 "    destination: warehouse\n"
                 "    tables: [ { name: orders, kind: snapshot } ]\n",
                 "sluice.yaml:4:18: pipeline \"orders_drops\": destination \"warehouse\" is not a "
                 "connection (there are none: add it under connections)");
    expect_error("connections:\n"
                 "  warehouse: { url: \"mysql://u:secret@h/db\" }\n"
                 "pipelines: []\n",
                 "sluice.yaml:2:21: connection \"warehouse\": key \"url\": expected a URL "
                 "starting with postgresql://, postgres:// or sqlite://, found \"mysql://...\"");
}

static void duplicate_names_are_errors(void **state)
{
    (void)state;
    expect_error("connections:\n"
                 "  warehouse: { url: \"sqlite://warehouse.db\" }\n"
                 "pipelines:\n"
                 "  - name: orders\n"
                 "    source: { kind: files, path: a }\n"
                 "    destination: warehouse\n"
                 "    tables: [ { name: orders, kind: snapshot } ]\n"
                 "  - name: orders\n"
                 "    source: { kind: files, path: b }\n"
                 "    destination: warehouse\n"
                 "    tables: [ { name: orders, kind: snapshot } ]\n",
                 "sluice.yaml:8:11: duplicate pipeline name \"orders\" (first at 4:5)");
    expect_error(HEAD
                 "        kind: snapshot\n"
                 "        pattern: \"a*\"\n"
                 "      - name: orders\n"
                 "        kind: append\n"
                 "        pattern: \"b*\"\n",
                 "sluice.yaml:11:15: pipeline \"orders_drops\": duplicate table name \"orders\" "
                 "(first at 8:9)");
    expect_error("connections:\n"
                 "  warehouse: { url: \"sqlite://warehouse.db\" }\n"
                 "pipelines:\n"
                 "  - name: \"orders drops\"\n"
                 "    source: { kind: files, path: a }\n"
                 "    destination: warehouse\n"
                 "    tables: [ { name: orders, kind: snapshot } ]\n",
                 "sluice.yaml:4:11: pipeline name \"orders drops\": use only letters, digits, _ "
                 "and -");
}

static void table_kinds_need_their_keys(void **state)
{
    (void)state;
    expect_error(HEAD
                 "        kind: versioned\n"
                 "        primary_key: [id]\n",
                 "sluice.yaml:8:9: pipeline \"orders_drops\": table \"orders\": kind versioned "
                 "needs key \"version_key\" (for each primary key, the row with the highest "
                 "version_key wins)");
    expect_error(HEAD
                 "        kind: versioned\n"
                 "        version_key: updated_at\n",
                 "sluice.yaml:8:9: pipeline \"orders_drops\": table \"orders\": kind versioned "
                 "needs key \"primary_key\" (the columns that identify a row)");
    expect_error(HEAD
                 "        kind: incremental\n"
                 "        mode: updater\n"
                 "        cursor: [updated_at, id]\n",
                 "sluice.yaml:9:15: pipeline \"orders_drops\": table \"orders\": kind incremental "
                 "needs a database source, and this pipeline's source is files (use snapshot, "
                 "versioned or append)");
}

static void source_kind_must_be_registered(void **state)
{
    (void)state;
    /* files is registered first; sources added later join the list */
    expect_error_ends("connections:\n"
                      "  warehouse: { url: \"sqlite://warehouse.db\" }\n"
                      "pipelines:\n"
                      "  - name: crm\n"
                      "    source: { kind: filez, path: x }\n"
                      "    destination: warehouse\n"
                      "    tables: [ { name: orders, kind: snapshot } ]\n",
                      "sluice.yaml:5:21: pipeline \"crm\": source: unknown source kind "
                      "\"filez\" (there are: files",
                      "); did you mean \"files\"?");
    expect_error_ends("connections:\n"
                      "  warehouse: { url: \"sqlite://warehouse.db\" }\n"
                      "pipelines:\n"
                      "  - name: crm\n"
                      "    source: { connection: crm }\n"
                      "    destination: warehouse\n"
                      "    tables: [ { name: orders, kind: snapshot } ]\n",
                      "sluice.yaml:5:13: pipeline \"crm\": source: missing required key "
                      "\"kind\" (one of: files", ")");
}

static void unknown_gate_lists_the_gates(void **state)
{
    (void)state;
    expect_error(HEAD
                 "        kind: snapshot\n"
                 "        gates:\n"
                 "          sizes: { history: 14 }\n",
                 "sluice.yaml:11:11: pipeline \"orders_drops\": table \"orders\": unknown gate "
                 "\"sizes\" (there are: size, unique_key, timestamps, rules, schema); did you mean \"size\"?");
}

/* ---- environment and paths ---- */

static void env_vars_expand_and_unset_ones_fail(void **state)
{
    (void)state;
    setenv("SL_TEST_DROPS", "incoming", 1);
    unsetenv("SL_TEST_UNSET");
    struct sl_config *c = load_ok("connections:\n"
                                  "  warehouse: { url: \"sqlite://${SL_TEST_DROPS}.db\" }\n"
                                  "pipelines:\n"
                                  "  - name: orders_drops\n"
                                  "    source: { kind: files, path: \"${SL_TEST_DROPS}/orders\" }\n"
                                  "    destination: warehouse\n"
                                  "    tables: [ { name: orders, kind: snapshot } ]\n");
    assert_string_equal(c->connections[0].url, "sqlite://incoming.db");
    char *abs = sl_config_path(c, source_str(&c->pipelines[0], "path"));
    char want[PATH_MAX + 32];
    snprintf(want, sizeof want, "%s/incoming/orders", tmpreal);
    assert_string_equal(abs, want);
    sl_free(abs);
    sl_config_free(c);

    expect_error("http: { token: \"${SL_TEST_UNSET}\" }\n"
                 "pipelines: []\n",
                 "sluice.yaml:1:17: environment variable SL_TEST_UNSET is not set");
    setenv("SL_TEST_UNSET", "", 1);
    expect_error("http: { token: \"${SL_TEST_UNSET}\" }\n"
                 "pipelines: []\n",
                 "sluice.yaml:1:16: http: key \"token\": is empty (is its environment variable "
                 "set to \"\"?); set a token or remove the key");
    unsetenv("SL_TEST_UNSET");

    /* an alert's secrets wait until an alert is to be sent */
    c = load_ok("alerts:\n"
                "  - { url: \"https://events.example.com\", format: pagerduty,"
                " routing_key: \"${SL_TEST_UNSET}\" }\n"
                "  - { url: \"${SL_TEST_UNSET}\" }\n"
                "connections:\n"
                "  warehouse: { url: \"sqlite://w.db\" }\n"
                "pipelines:\n"
                "  - name: p\n"
                "    source: { kind: files, path: drops }\n"
                "    destination: warehouse\n"
                "    tables: [ { name: t, kind: snapshot } ]\n");
    struct sl_err err;
    sl_err_clear(&err);
    assert_int_equal(sl_config_can_alert(c, &err), -1);
    assert_string_equal(err.msg, "sluice.yaml:2:75: environment variable SL_TEST_UNSET is not"
                                 " set (alert #1: the commands that send alerts need it)");
    sl_config_free(c);
    /* anywhere else an unset variable is an error at once */
    expect_error("alerts:\n"
                 "  - { url: \"https://h.example.com\", format: \"${SL_TEST_UNSET}\" }\n"
                 "pipelines: []\n",
                 "sluice.yaml:2:46: environment variable SL_TEST_UNSET is not set");
    unsetenv("SL_TEST_DROPS");
}

static void relative_paths_resolve_against_the_config_folder(void **state)
{
    (void)state;
    struct sl_config c = {0};
    char *p;

    c.dir = "/etc/sluice";
    p = sl_config_path(&c, "drops/orders");
    assert_string_equal(p, "/etc/sluice/drops/orders");
    sl_free(p);
    p = sl_config_path(&c, "./drops");
    assert_string_equal(p, "/etc/sluice/drops");
    sl_free(p);
    p = sl_config_path(&c, "/srv/drops");
    assert_string_equal(p, "/srv/drops");
    sl_free(p);
    p = sl_config_path(&c, ".");
    assert_string_equal(p, "/etc/sluice");
    sl_free(p);
    c.dir = "/";
    p = sl_config_path(&c, "x");
    assert_string_equal(p, "/x");
    sl_free(p);
    assert_null(sl_config_path(&c, NULL));

    /* a config named through a relative path: its folder, made absolute */
    assert_int_equal(mkdir("sub", 0700), 0);
    FILE *f = fopen("sub/s.yaml", "w");
    assert_non_null(f);
    fputs("connections: { w: { url: \"sqlite://w.db\" } }\n"
          "pipelines: [ { name: a, source: { kind: files, path: d }, destination: w,\n"
          "               tables: [ { name: t, kind: append } ] } ]\n", f);
    fclose(f);
    struct sl_config *lc = NULL;
    struct sl_err err;
    sl_err_clear(&err);
    if (sl_config_load("./sub/s.yaml", &lc, &err) != 0)
        fail_msg("%s", err.msg);
    char want[PATH_MAX + 32];
    snprintf(want, sizeof want, "%s/sub", tmpreal);
    assert_string_equal(lc->dir, want);
    p = sl_config_path(lc, "d");
    snprintf(want, sizeof want, "%s/sub/d", tmpreal);
    assert_string_equal(p, want);
    sl_free(p);
    sl_config_free(lc);
    unlink("sub/s.yaml");
    rmdir("sub");
}

static void empty_and_malformed_configs_fail(void **state)
{
    (void)state;
    expect_error("", "sluice.yaml:1:1: the config is empty: expected a mapping with connections "
                     "and pipelines");
    expect_error("- a\n", "sluice.yaml:1:1: expected a mapping with connections and pipelines, "
                          "found a sequence");
    expect_error("connections: {}\npipelines: []\n",
                 "sluice.yaml:2:12: key \"pipelines\": expected at least one pipeline");

    struct sl_config *c = (struct sl_config *)1;
    struct sl_err err;
    sl_err_clear(&err);
    assert_int_equal(sl_config_load("/nonexistent/sluice.yaml", &c, &err), -1);
    assert_null(c);
    assert_int_equal(err.code, SL_E_CONFIG);
}

static void alerts_are_checked(void **state)
{
    (void)state;
    expect_error("alerts:\n"
                 "  - { url: \"https://events.pagerduty.com/v2\", format: pagerduty }\n"
                 "pipelines: []\n",
                 "sluice.yaml:2:5: alert #1: format pagerduty needs key \"routing_key\" (the "
                 "integration key)");
    expect_error("alerts:\n"
                 "  - { url: \"https://x\", format: slak }\n"
                 "pipelines: []\n",
                 "sluice.yaml:2:33: alert #1: key \"format\": expected one of generic, slack, "
                 "pagerduty, found \"slak\"; did you mean \"slack\"?");
}

/* ---- the key filler on its own ---- */

struct every_type {
    char *s;
    long i;
    double d;
    int b;
    double dur;
    struct sl_strlist list;
    char ch;
    int e;
    int64_t sz;
};

static const char *const colors[] = {"red", "green", "blue", NULL};

static const struct sl_cfg_key every_key[] = {
    {"s", SL_CFG_STR, offsetof(struct every_type, s), "dflt", 0, NULL, "a string"},
    {"i", SL_CFG_INT, offsetof(struct every_type, i), "42", 0, NULL, "an int"},
    {"d", SL_CFG_DOUBLE, offsetof(struct every_type, d), NULL, 0, NULL, "a double"},
    {"b", SL_CFG_BOOL, offsetof(struct every_type, b), "yes", 0, NULL, "a bool"},
    {"dur", SL_CFG_DURATION, offsetof(struct every_type, dur), "1h30m", 0, NULL, "a duration"},
    {"list", SL_CFG_STRLIST, offsetof(struct every_type, list), "[a, b]", 0, NULL, "a list"},
    {"ch", SL_CFG_CHAR, offsetof(struct every_type, ch), ";", 0, NULL, "a char"},
    {"e", SL_CFG_ENUM, offsetof(struct every_type, e), "blue", 0, colors, "an enum"},
    {"sz", SL_CFG_SIZE, offsetof(struct every_type, sz), "1GB", 0, NULL, "a size"},
    {NULL, 0, 0, NULL, 0, NULL, NULL},
};

static int fill(const char *yaml, struct every_type *out, struct sl_err *err)
{
    struct sl_yaml_doc *doc = NULL;

    memset(out, 0, sizeof *out);
    sl_err_clear(err);
    if (sl_yaml_load_mem("t.yaml", yaml, strlen(yaml), &doc, err) < 0)
        return -2;
    int rc = sl_cfg_fill_ex(every_key, out, doc->root, "t.yaml", "owner", "what", NULL, err);
    sl_yaml_free(doc);
    return rc;
}

static void cfg_fill_reads_every_type_and_default(void **state)
{
    (void)state;
    struct every_type v;
    struct sl_err err;

    assert_int_equal(fill("{}", &v, &err), 0);
    assert_string_equal(v.s, "dflt");
    assert_int_equal(v.i, 42);
    assert_true(v.d == 0);
    assert_int_equal(v.b, 1);
    assert_true(v.dur == 5400);
    assert_int_equal(v.list.n, 2);
    assert_string_equal(v.list.items[1], "b");
    assert_int_equal(v.ch, ';');
    assert_int_equal(v.e, 2);
    assert_true(v.sz == (int64_t)1 << 30);
    sl_cfg_free(every_key, &v);
    assert_null(v.s);
    assert_null(v.list.items);

    assert_int_equal(fill("{ s: 5, i: -7, d: 2.5e3, b: OFF, dur: 90, list: x, ch: '\\t', "
                          "e: green, sz: 512MB }", &v, &err), 0);
    assert_string_equal(v.s, "5");
    assert_int_equal(v.i, -7);
    assert_true(v.d == 2500);
    assert_int_equal(v.b, 0);
    assert_true(v.dur == 90);
    assert_int_equal(v.list.n, 1);
    assert_string_equal(v.list.items[0], "x");
    assert_int_equal(v.ch, '\t');
    assert_int_equal(v.e, 1);
    assert_true(v.sz == (int64_t)512 << 20);
    char text[32];
    sl_cfg_value_text(&every_key[8], &v, text, sizeof text);
    assert_string_equal(text, "512MB");
    sl_cfg_value_text(&every_key[8], NULL, text, sizeof text);
    assert_string_equal(text, "1GB");
    assert_int_equal(sl_cfg_is_default(&every_key[8], &v), 0);
    sl_cfg_free(every_key, &v);

    assert_int_equal(fill("{ ch: \"\\t\", list: [] }", &v, &err), 0);
    assert_int_equal(v.ch, '\t');
    assert_int_equal(v.list.n, 0);
    sl_cfg_free(every_key, &v);

    /* null means not given: the default applies */
    assert_int_equal(fill("{ i: ~, s: null }", &v, &err), 0);
    assert_int_equal(v.i, 42);
    assert_string_equal(v.s, "dflt");
    sl_cfg_free(every_key, &v);
}

static void cfg_fill_rejects_what_does_not_fit(void **state)
{
    (void)state;
    static const struct {
        const char *yaml, *msg;
    } cases[] = {
        {"{ i: 1.5 }", "t.yaml:1:6: owner: what: key \"i\": expected a whole number, found "
                       "\"1.5\""},
        {"{ i: 99999999999999999999 }", "t.yaml:1:6: owner: what: key \"i\": expected a whole "
                                        "number, found \"99999999999999999999\""},
        {"{ d: nan }", "t.yaml:1:6: owner: what: key \"d\": expected a number, found \"nan\""},
        {"{ d: 0x10 }", "t.yaml:1:6: owner: what: key \"d\": expected a number, found \"0x10\""},
        {"{ b: 2 }", "t.yaml:1:6: owner: what: key \"b\": expected true or false, found \"2\""},
        {"{ dur: -5s }", "t.yaml:1:8: owner: what: key \"dur\": expected a duration like "
                         "\"10m\", found \"-5s\""},
        {"{ ch: ab }", "t.yaml:1:7: owner: what: key \"ch\": expected one character (or "
                       "\"\\t\"), found \"ab\""},
        {"{ e: gren }", "t.yaml:1:6: owner: what: key \"e\": expected one of red, green, blue, "
                        "found \"gren\"; did you mean \"green\"?"},
        {"{ list: [a, [b]] }", "t.yaml:1:13: owner: what: key \"list\": item 2: expected a "
                               "string, found a sequence"},
        {"{ s: [a] }", "t.yaml:1:6: owner: what: key \"s\": expected a string, found a "
                       "sequence"},
        {"{ z: 1 }", "t.yaml:1:3: unknown key \"z\" in what (expected one of: s, i, d, b, dur, "
                     "list, ch, e, sz)"},
        {"{ sz: lots }", "t.yaml:1:7: owner: what: key \"sz\": expected a size like \"1GB\" or "
                         "\"512MB\", found \"lots\""},
        {"{ sz: -1GB }", "t.yaml:1:7: owner: what: key \"sz\": expected a size like \"1GB\" or "
                         "\"512MB\", found \"-1GB\""},
        {"[1]", "t.yaml:1:1: owner: what: expected a mapping of keys, found a sequence"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct every_type v;
        struct sl_err err;
        assert_int_equal(fill(cases[i].yaml, &v, &err), -1);
        sl_cfg_free(every_key, &v);
        if (strcmp(err.msg, cases[i].msg) != 0)
            fail_msg("%s\n got: %s\nwant: %s", cases[i].yaml, err.msg, cases[i].msg);
    }
}

/* The cdc block's limits: a size and a duration, checked like every key. */
static const char cdc_config[] =
    "connections:\n"
    "  warehouse: { url: \"sqlite://warehouse.db\" }\n"
    "  crm: { url: \"postgresql://replicator@crm:5432/crm\" }\n"
    "pipelines:\n"
    "  - name: crm_cdc\n"
    "    source:\n"
    "      kind: postgres\n"
    "      connection: crm\n"
    "      cdc: { slot: s, publication: p%s }\n"
    "    destination: warehouse\n"
    "    tables: [ { name: customers, kind: cdc, primary_key: [id] } ]\n";

static const struct sl_cfg_key *cdc_key(const struct sl_pipeline_cfg *p, const char *name,
                                        const void **ctx)
{
    for (const struct sl_source_block *b = p->source_ops->blocks; b && b->key; b++)
        if (strcmp(b->key, "cdc") == 0)
            for (const struct sl_cfg_key *k = b->keys; k->key; k++)
                if (strcmp(k->key, name) == 0) {
                    *ctx = (const char *)p->source_ctx + b->offset;
                    return k;
                }
    fail_msg("no cdc key \"%s\"", name);
    return NULL;
}

static void cdc_block_takes_max_retained_and_max_lag(void **state)
{
    (void)state;
    char yaml[1024], text[32];
    const void *ctx;
    snprintf(yaml, sizeof yaml, cdc_config, ", max_retained: 1.5GB, max_lag: 30m");
    struct sl_config *c = load_ok(yaml);
    const struct sl_cfg_key *k = cdc_key(&c->pipelines[0], "max_retained", &ctx);
    sl_cfg_value_text(k, ctx, text, sizeof text);
    assert_string_equal(text, "1536MB");
    assert_true(*(const int64_t *)(const void *)((const char *)ctx + k->offset) ==
                (int64_t)3 << 29);
    k = cdc_key(&c->pipelines[0], "max_lag", &ctx);
    sl_cfg_value_text(k, ctx, text, sizeof text);
    assert_string_equal(text, "30m");
    sl_config_free(c);

    /* not set: no alert (0), and the keys hold their default */
    snprintf(yaml, sizeof yaml, cdc_config, "");
    c = load_ok(yaml);
    k = cdc_key(&c->pipelines[0], "max_retained", &ctx);
    assert_int_equal(sl_cfg_is_default(k, ctx), 1);
    assert_true(*(const int64_t *)(const void *)((const char *)ctx + k->offset) == 0);
    sl_config_free(c);

    snprintf(yaml, sizeof yaml, cdc_config, ", max_retaind: 1GB");
    expect_error(yaml, "sluice.yaml:9:39: unknown key \"max_retaind\" in source: cdc (expected"
                       " one of: slot, publication, max_retained, max_lag); did you mean"
                       " \"max_retained\"?");
    snprintf(yaml, sizeof yaml, cdc_config, ", max_retained: 1 gigabyte");
    expect_error_ends(yaml, "sluice.yaml:9:53: ",
                      "key \"max_retained\": expected a size like \"1GB\" or \"512MB\", found "
                      "\"1 gigabyte\"");
    snprintf(yaml, sizeof yaml, cdc_config, ", max_lag: soon");
    expect_error_ends(yaml, "sluice.yaml:9:48: ",
                      "key \"max_lag\": expected a duration like \"10m\", found \"soon\"");
}

static void cfg_fill_required_key(void **state)
{
    (void)state;
    static const struct sl_cfg_key keys[] = {
        {"path", SL_CFG_STR, 0, NULL, 1, NULL, "required"},
        {NULL, 0, 0, NULL, 0, NULL, NULL},
    };
    char *path = NULL;
    struct sl_yaml_doc *doc = NULL;
    struct sl_err err;
    const char *yaml = "a:\n  path: ~\nb: { path: '' }\nc: {}\n";

    sl_err_clear(&err);
    assert_int_equal(sl_yaml_load_mem("r.yaml", yaml, strlen(yaml), &doc, &err), 0);
    assert_int_equal(sl_cfg_fill(keys, &path, sl_yaml_get(doc->root, "a"), "r.yaml", &err), -1);
    assert_string_equal(err.msg, "r.yaml:2:3: key \"path\" needs a value");
    assert_int_equal(sl_cfg_fill(keys, &path, sl_yaml_get(doc->root, "b"), "r.yaml", &err), -1);
    assert_string_equal(err.msg, "r.yaml:3:12: key \"path\": expected a non-empty string, "
                                 "found \"\"");
    assert_int_equal(sl_cfg_fill(keys, &path, sl_yaml_get(doc->root, "c"), "r.yaml", &err), -1);
    assert_string_equal(err.msg, "r.yaml:4:4: missing required key \"path\"");
    sl_cfg_free(keys, &path);
    sl_yaml_free(doc);
}

/* Every allocation failing in turn: the loader fails cleanly (no leak, no
 * crash) and says out of memory, until it has enough to succeed. */
static void loader_survives_every_allocation_failure(void **state)
{
    (void)state;
    setenv("SL_TEST_ADMIN_TOKEN", "t0ken", 1);
    setenv("SL_TEST_CRM", "pw", 1);
    write_config(design_config);
    for (long n = 1;; n++) {
        struct sl_config *c = NULL;
        struct sl_err err;
        sl_err_clear(&err);
        sl_mem_fail_at(n);
        int rc = sl_config_load(CFG, &c, &err);
        sl_mem_fail_at(0);
        if (rc == 0) {
            sl_config_free(c);
            break;
        }
        assert_null(c);
        if (err.code != SL_E_NOMEM)
            fail_msg("allocation %ld: %s", n, err.msg);
        assert_true(n < 100000);
    }
    unsetenv("SL_TEST_ADMIN_TOKEN");
    unsetenv("SL_TEST_CRM");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(design_files_pipeline_loads),
        cmocka_unit_test(defaults_apply_when_keys_are_absent_or_null),
        cmocka_unit_test(columns_take_type_names_and_aliases),
        cmocka_unit_test(unknown_key_names_the_block_and_suggests),
        cmocka_unit_test(missing_required_key_points_at_the_mapping),
        cmocka_unit_test(wrong_types_say_what_was_expected),
        cmocka_unit_test(destination_must_name_a_connection),
        cmocka_unit_test(duplicate_names_are_errors),
        cmocka_unit_test(table_kinds_need_their_keys),
        cmocka_unit_test(source_kind_must_be_registered),
        cmocka_unit_test(unknown_gate_lists_the_gates),
        cmocka_unit_test(env_vars_expand_and_unset_ones_fail),
        cmocka_unit_test(relative_paths_resolve_against_the_config_folder),
        cmocka_unit_test(empty_and_malformed_configs_fail),
        cmocka_unit_test(alerts_are_checked),
        cmocka_unit_test(cfg_fill_reads_every_type_and_default),
        cmocka_unit_test(cfg_fill_rejects_what_does_not_fit),
        cmocka_unit_test(cfg_fill_required_key),
        cmocka_unit_test(cdc_block_takes_max_retained_and_max_lag),
        cmocka_unit_test(loader_survives_every_allocation_failure),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
