/* tests/unit/test_config_same.c: config/same.c, which pipelines a daemon's
 * reload keeps running: the same config loaded twice is the same, moving a
 * pipeline in the file or changing another leaves it the same, and each
 * thing it runs with (its keys, source, tables, columns, gates and rule
 * items, its destination's URL and password, a connection its source names,
 * the alerts) changed makes it another. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "config/config.h"

static const char BASE[] =
    "alerts:\n"
    "  - { url: \"https://hooks.example.com/a\", format: generic }\n"
    "connections:\n"
    "  wh: { url: \"postgresql://loader@db/wh\", password: \"p1\" }\n"
    "  crm: { url: \"postgresql://reader@crm/crm\" }\n"
    "  other: { url: \"sqlite://other.db\" }\n"
    "pipelines:\n"
    "  - name: drops\n"
    "    source: { kind: files, path: in/orders, format: csv }\n"
    "    destination: wh\n"
    "    tables:\n"
    "      - name: orders\n"
    "        kind: versioned\n"
    "        primary_key: [id]\n"
    "        version_key: updated_at\n"
    "        columns: { id: bigint, updated_at: timestamptz }\n"
    "        gates:\n"
    "          size: { history: 14, max_ratio: 3.0 }\n"
    "          rules: [ { column: email, reject_match: \"@test\\\\.\" } ]\n"
    "  - name: crm\n"
    "    source: { kind: postgres, connection: crm }\n"
    "    destination: wh\n"
    "    schedule: every 5m\n"
    "    tables:\n"
    "      - { name: public.customers, kind: incremental, mode: updater, primary_key: [id],\n"
    "          cursor: [updated_at, id] }\n"
    "  - name: lite\n"
    "    source: { kind: files, path: in/lite }\n"
    "    destination: other\n"
    "    tables: [ { name: lite, kind: append } ]\n";

static struct sl_config *load(const char *yaml)
{
    struct sl_config *c = NULL;
    struct sl_err err;
    sl_err_clear(&err);
    if (sl_config_load_mem("sluice.yaml", "/srv/sluice", yaml, strlen(yaml), &c, &err) < 0)
        fail_msg("config did not load: %s\n%s", err.msg, yaml);
    return c;
}

/* BASE with `from` replaced by `to` (once; it must be there) */
static struct sl_config *load_edited(const char *from, const char *to)
{
    char buf[8192];
    const char *at = strstr(BASE, from);
    assert_non_null(at);
    snprintf(buf, sizeof buf, "%.*s%s%s", (int)(at - BASE), BASE, to, at + strlen(from));
    return load(buf);
}

static int same(const struct sl_config *a, const struct sl_config *b, const char *name)
{
    const struct sl_pipeline_cfg *pa = sl_config_pipeline(a, name), *pb = sl_config_pipeline(b, name);
    assert_non_null(pa);
    assert_non_null(pb);
    return sl_config_pipeline_same(a, pa, b, pb);
}

static void the_same_file_loaded_twice_is_the_same(void **state)
{
    (void)state;
    struct sl_config *a = load(BASE), *b = load(BASE);
    assert_true(same(a, b, "drops"));
    assert_true(same(a, b, "crm"));
    assert_true(same(a, b, "lite"));
    sl_config_free(a);
    sl_config_free(b);
}

/* each edit changes what pipeline `changed` runs with and nothing of `kept` */
static const struct {
    const char *from, *to, *changed, *kept;
} edits[] = {
    {"path: in/orders", "path: in/orders2", "drops", "crm"},
    {"format: csv }", "format: csv, settle: 5s }", "drops", "crm"},
    {"kind: versioned", "kind: append", "drops", "crm"},
    {"id: bigint,", "id: numeric,", "drops", "crm"},
    {"max_ratio: 3.0", "max_ratio: 4.0", "drops", "crm"},
    {"reject_match: \"@test\\\\.\"", "reject_match: \"@qa\\\\.\"", "drops", "crm"},
    {"schedule: every 5m", "schedule: every 10m", "crm", "drops"},
    {"cursor: [updated_at, id]", "cursor: [updated_at, customer_id]", "crm", "drops"},
    {"url: \"postgresql://reader@crm/crm\"", "url: \"postgresql://reader@crm2/crm\"", "crm",
     "drops"},
    {"password: \"p1\"", "password: \"p2\"", "drops", "lite"},
    {"url: \"sqlite://other.db\"", "url: \"sqlite://other2.db\"", "lite", "drops"},
};

static void each_change_is_another_pipeline(void **state)
{
    (void)state;
    struct sl_config *a = load(BASE);
    for (size_t i = 0; i < sizeof edits / sizeof edits[0]; i++) {
        struct sl_config *b = load_edited(edits[i].from, edits[i].to);
        if (same(a, b, edits[i].changed))
            fail_msg("edit %zu (%s -> %s): %s still the same", i, edits[i].from, edits[i].to,
                     edits[i].changed);
        if (!same(a, b, edits[i].kept))
            fail_msg("edit %zu (%s -> %s): %s no longer the same", i, edits[i].from,
                     edits[i].to, edits[i].kept);
        sl_config_free(b);
    }
    sl_config_free(a);
}

static void an_alert_changed_changes_every_pipeline(void **state)
{
    (void)state;
    struct sl_config *a = load(BASE), *b = load_edited("hooks.example.com/a", "hooks.example.com/b");
    assert_false(same(a, b, "drops"));
    assert_false(same(a, b, "crm"));
    assert_false(same(a, b, "lite"));
    sl_config_free(a);
    sl_config_free(b);
}

static void a_pipeline_moved_or_a_pipeline_added_is_the_same(void **state)
{
    (void)state;
    const char *crm = strstr(BASE, "  - name: crm\n"), *lite = strstr(BASE, "  - name: lite\n");
    const char *drops = strstr(BASE, "  - name: drops\n");
    char buf[8192];
    /* crm first, then lite, then drops; and a fourth pipeline after them */
    snprintf(buf, sizeof buf, "%.*s%.*s%s%.*s"
             "  - name: more\n    source: { kind: files, path: in/more }\n"
             "    destination: other\n    tables: [ { name: more, kind: append } ]\n",
             (int)(drops - BASE), BASE, (int)(lite - crm), crm, lite, (int)(crm - drops), drops);
    struct sl_config *a = load(BASE), *b = load(buf);
    assert_int_equal(b->npipelines, 4);
    assert_string_equal(b->pipelines[0].name, "crm");
    assert_true(same(a, b, "drops"));
    assert_true(same(a, b, "crm"));
    assert_true(same(a, b, "lite"));
    sl_config_free(a);
    sl_config_free(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(the_same_file_loaded_twice_is_the_same),
        cmocka_unit_test(each_change_is_another_pipeline),
        cmocka_unit_test(an_alert_changed_changes_every_pipeline),
        cmocka_unit_test(a_pipeline_moved_or_a_pipeline_added_is_the_same),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
