/* tests/unit/test_events.c: what the event sources share (sources/events.c):
 * reading a request body into events, with line:column errors, and mapping
 * an event onto its table's columns (paths, the id, the whole event). */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "base/json.h"
#include "base/mem.h"
#include "sources/events.h"

#define SUITE SL_TESTDATA "/json-test-suite"

/* "n: [e1] [e2] ..." or "ERR why" */
static void split(const char *body, char *out, size_t cap)
{
    struct sl_event_slice *ev = NULL;
    size_t n = 0;
    char why[600];
    if (sl_events_split(body, strlen(body), &ev, &n, why, sizeof why) < 0) {
        snprintf(out, cap, "ERR %s", why);
        return;
    }
    size_t o = (size_t)snprintf(out, cap, "%zu:", n);
    for (size_t i = 0; i < n && o < cap; i++)
        o += (size_t)snprintf(out + o, cap - o, " [%.*s]", (int)ev[i].n, ev[i].s);
    sl_free(ev);
}

static void expect_split(const char *body, const char *want)
{
    char got[2048];
    split(body, got, sizeof got);
    if (strcmp(got, want) != 0)
        fail_msg("body %s\n  want %s\n  got  %s", body, want, got);
}

static void split_shapes(void **state)
{
    (void)state;
    expect_split("{\"a\":1}", "1: [{\"a\":1}]");
    expect_split("  {\"a\":1}\n\n", "1: [{\"a\":1}]");
    expect_split("[{\"a\":1}, {\"b\":[1,2]} ]", "2: [{\"a\":1}] [{\"b\":[1,2]}]");
    expect_split("[]", "0:");
    expect_split("{\"a\":1}\n{\"b\":2}\n", "2: [{\"a\":1}] [{\"b\":2}]");
    expect_split("{\"a\":1}\r\n\r\n{\"b\":2}\r\n", "2: [{\"a\":1}] [{\"b\":2}]");
    /* a pretty-printed object is one event, not lines */
    expect_split("{\n  \"a\": 1,\n  \"b\": {\"c\": 2}\n}\n", "1: [{\n  \"a\": 1,\n  \"b\": {\"c\": 2}\n}]");
    expect_split("{\"s\":\"a\\nb \\u00e9 \xc3\xa9\"}", "1: [{\"s\":\"a\\nb \\u00e9 \xc3\xa9\"}]");
}

static void split_errors(void **state)
{
    (void)state;
    expect_split("", "ERR empty body: send a JSON object, an array of objects, or NDJSON");
    expect_split(" \n ", "ERR empty body: send a JSON object, an array of objects, or NDJSON");
    expect_split("{\"a\":1,\n \"b\": [1, 2,}}",
                 "ERR 2:13: invalid JSON: unexpected character '}', expected a value");
    expect_split("{\"a\":1}\n{\"b\":2}\n{\"c\": tru}\n",
                 "ERR 3:7: invalid JSON: invalid literal, expected true");
    expect_split("{\"a\":1}\n[1]\n", "ERR 2:1: the line is a JSON array, not an event object");
    expect_split("[{\"a\":1}, \"x\"]",
                 "ERR 1:11: element 2 of the array is a string, not an event object");
    expect_split("42", "ERR 1:1: the body is a JSON number: send an event object, an array of "
                       "them, or NDJSON");
    expect_split("{\"a\":1} {\"b\":2}",
                 "ERR 1:9: invalid JSON: trailing characters after value");
    /* columns count characters, not bytes */
    expect_split("{\"\xc3\xa9\xc3\xa9\": x}",
                 "ERR 1:8: invalid JSON: unexpected character 'x', expected a value");
}

/* Every JSONTestSuite file: never a crash; what the suite calls invalid
 * JSON is refused unless it is valid NDJSON; a valid object is one event. */
static void split_json_test_suite(void **state)
{
    (void)state;
    DIR *d = opendir(SUITE);
    struct dirent *de;
    int files = 0;
    if (!d)
        skip();
    while ((de = readdir(d))) {
        if (!strstr(de->d_name, ".json"))
            continue;
        char path[1024];
        snprintf(path, sizeof path, "%s/%s", SUITE, de->d_name);
        FILE *f = fopen(path, "rb");
        assert_non_null(f);
        static char buf[1 << 20];
        size_t n = fread(buf, 1, sizeof buf, f);
        fclose(f);
        struct sl_event_slice *ev = NULL;
        size_t nev = 0;
        char why[600];
        int rc = sl_events_split(buf, n, &ev, &nev, why, sizeof why);
        int valid = sl_json_validate(buf, n, NULL, NULL, 0) == 0;
        if (de->d_name[0] == 'n' && !memchr(buf, '\n', n) && rc == 0)
            fail_msg("%s: invalid JSON taken as %zu events", de->d_name, nev);
        size_t a = sl_json_skip_ws(buf, n, 0);
        if (valid && a < n && buf[a] == '{') {
            assert_int_equal(rc, 0);
            assert_int_equal(nev, 1);
        }
        sl_free(ev);
        files++;
    }
    closedir(d);
    assert_true(files > 100);
}

/* ---- mapping ---- */

static struct sl_table_cfg table(struct sl_column_cfg *cols, size_t ncols,
                                 struct sl_column_path *paths, size_t npaths, char **pk,
                                 size_t npk)
{
    struct sl_table_cfg t;
    memset(&t, 0, sizeof t);
    t.name = "events";
    t.kind = SL_KIND_APPEND;
    t.columns = cols;
    t.ncolumns = ncols;
    t.paths = paths;
    t.npaths = npaths;
    t.primary_key.items = pk;
    t.primary_key.n = npk;
    return t;
}

static void flat(const struct sl_event_map *m, const char *ev, const char *want)
{
    struct sl_buf b;
    sl_buf_init(&b);
    assert_int_equal(sl_event_flatten(m, ev, strlen(ev), &b), 0);
    if (strcmp(b.data, want) != 0)
        fail_msg("event %s\n  want %s  got  %s", ev, want, b.data);
    sl_buf_free(&b);
}

static void map_paths(void **state)
{
    (void)state;
    struct sl_column_cfg cols[] = {{"amount", SL_T_NUMERIC}, {"ts", SL_T_TIMESTAMPTZ}};
    struct sl_column_path paths[] = {{"amount", "order.total", {1, 1}},
                                     {"sku", "order.items.1.sku", {1, 1}},
                                     {"odd key", "we\"ird.k", {1, 1}}};
    char *pk[] = {"id"};
    struct sl_table_cfg t = table(cols, 2, paths, 3, pk, 1);
    struct sl_event_cfg ec = {"meta.id", "_event", "UTC", "held"};
    struct sl_event_map *m = NULL;
    struct sl_err err;
    sl_err_clear(&err);
    assert_int_equal(sl_event_map_new(&ec, &t, &m, &err), 0);

    flat(m, "{\"meta\":{\"id\":\"e1\"},\"order\":{\"total\":12.30,\"items\":[{\"sku\":\"A\"},{\"sku\":\"B\"}]},"
            "\"ts\":\"2024-01-01T00:00:00Z\"}",
         "{\"amount\":12.30,\"ts\":\"2024-01-01T00:00:00Z\",\"sku\":\"B\",\"odd key\":null,"
         "\"id\":\"e1\",\"_event\":{\"meta\":{\"id\":\"e1\"},\"order\":{\"total\":12.30,\"items\":"
         "[{\"sku\":\"A\"},{\"sku\":\"B\"}]},\"ts\":\"2024-01-01T00:00:00Z\"}}\n");
    /* missing paths are null; line breaks inside the event become spaces */
    flat(m, "{\n\"order\": 5\n}", "{\"amount\":null,\"ts\":null,\"sku\":null,\"odd key\":null,"
                                  "\"id\":null,\"_event\":{ \"order\": 5 }}\n");
    /* keys written with escapes still match; the first of a repeated key wins */
    flat(m, "{\"we\\\"ird\":{\"k\":[1]},\"m\\u0065ta\":{\"id\":7},\"meta\":{\"id\":8}}",
         "{\"amount\":null,\"ts\":null,\"sku\":null,\"odd key\":[1],\"id\":7,"
         "\"_event\":{\"we\\\"ird\":{\"k\":[1]},\"m\\u0065ta\":{\"id\":7},\"meta\":{\"id\":8}}}\n");
    sl_event_map_free(m);
}

static void map_without_event_column(void **state)
{
    (void)state;
    char *pk[] = {"event_id"};
    struct sl_table_cfg t = table(NULL, 0, NULL, 0, pk, 1);
    struct sl_event_cfg ec = {"event_id", "", "UTC", "held"};
    struct sl_event_map *m = NULL;
    struct sl_err err;
    sl_err_clear(&err);
    assert_int_equal(sl_event_map_new(&ec, &t, &m, &err), 0);
    flat(m, "{\"event_id\":\"x\",\"a\":1}", "{\"event_id\":\"x\"}\n");
    sl_event_map_free(m);
}

static void batch_events(void **state)
{
    (void)state;
    char *pk[] = {"id"};
    struct sl_table_cfg t = table(NULL, 0, NULL, 0, pk, 1);
    struct sl_event_cfg ec = {"id", "_event", "UTC", "held"};
    struct sl_pipeline_cfg p;
    memset(&p, 0, sizeof p);
    p.name = "app";
    p.tables = &t;
    p.ntables = 1;
    struct sl_source *src = NULL;
    struct sl_err err;
    sl_err_clear(&err);
    assert_int_equal(sl_event_source_open(&src, NULL, &p, &t, &ec, &err), 0);
    struct sl_event_batch *b = sl_event_batch_new("http:app#1", NULL);
    assert_non_null(b);
    const char *e1 = "{\"id\":\"a\\u00e9\",\"v\":1}", *e2 = "{\"v\":2}";
    assert_int_equal(sl_event_batch_add(b, sl_event_source_map(src), e1, strlen(e1), 0), 0);
    assert_int_equal(sl_event_batch_add(b, sl_event_source_map(src), e2, strlen(e2), 42), 0);
    assert_int_equal(sl_event_batch_add_bad(b, "not json", 8, "1:1: invalid JSON", 0), 0);
    assert_true(b->in.events && b->in.replay);
    assert_int_equal(b->n, 3);
    struct sl_event_info ei;
    b->in.replay = 0;   /* as a first load: event() marks the dead */
    assert_int_equal(sl_event_event(src, &b->in, 1, &ei), 0);
    assert_string_equal(ei.event_id, "a\xc3\xa9");        /* decoded */
    assert_int_equal(ei.len, strlen(e1));
    assert_memory_equal(ei.payload, e1, ei.len);
    assert_int_equal(sl_event_event(src, &b->in, 2, &ei), 0);
    assert_null(ei.event_id);
    assert_int_equal(ei.replay_of, 42);
    assert_int_equal(sl_event_event(src, &b->in, 3, &ei), 0);
    assert_string_equal(ei.error, "1:1: invalid JSON");
    assert_int_equal(sl_event_event(src, &b->in, 4, &ei), -1);
    assert_int_equal(sl_event_batch_dead(b, 0, 3), 3);
    assert_int_equal(sl_event_batch_dead(b, 2, 3), 1);
    /* the rows the engine reads: one line per event */
    size_t lines = 0;
    for (size_t i = 0; i < b->lines.len; i++)
        lines += b->lines.data[i] == '\n';
    assert_int_equal(lines, 3);
    sl_event_batch_free(b);
    sl_event_close(src);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(split_shapes),
        cmocka_unit_test(split_errors),
        cmocka_unit_test(split_json_test_suite),
        cmocka_unit_test(map_paths),
        cmocka_unit_test(map_without_event_column),
        cmocka_unit_test(batch_events),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
