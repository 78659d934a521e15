/* fuzz_events: a collector's request body over arbitrary bytes. Whatever the
 * body, splitting it never crashes, and each event it yields flattens into
 * exactly one line holding one valid JSON object (the engine's row). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/json.h"
#include "base/mem.h"
#include "sources/events.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct sl_event_map *map;

static void make_map(void)
{
    static struct sl_column_cfg cols[] = {{"amount", SL_T_NUMERIC}, {"ts", SL_T_TIMESTAMPTZ}};
    static struct sl_column_path paths[] = {{"amount", "order.total", {1, 1}},
                                            {"sku", "items.0.sku", {1, 1}}};
    static char *pk[] = {"id"};
    struct sl_table_cfg t;
    memset(&t, 0, sizeof t);
    t.name = "events";
    t.columns = cols;
    t.ncolumns = 2;
    t.paths = paths;
    t.npaths = 2;
    t.primary_key.items = pk;
    t.primary_key.n = 1;
    struct sl_event_cfg ec = {"meta.id", "_event", "UTC", "held"};
    struct sl_err err;
    if (sl_event_map_new(&ec, &t, &map, &err) < 0)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct sl_event_slice *ev = NULL;
    size_t n = 0;
    char why[600];

    if (!map)
        make_map();
    if (sl_events_split((const char *)data, size, &ev, &n, why, sizeof why) < 0)
        return 0;
    struct sl_buf line;
    sl_buf_init(&line);
    for (size_t i = 0; i < n; i++) {
        sl_buf_reset(&line);
        if (sl_event_flatten(map, ev[i].s, ev[i].n, &line) < 0)
            abort();
        if (line.len < 3 || line.data[line.len - 1] != '\n' ||
            memchr(line.data, '\n', line.len - 1) ||
            sl_json_validate(line.data, line.len - 1, NULL, NULL, 0) < 0)
            abort();
    }
    sl_buf_free(&line);
    sl_free(ev);
    return 0;
}
