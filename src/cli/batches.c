/* cli/batches.c: `sluice batches CONFIG [--table T] [--state S] [--limit N]
 * [--json]`: the batch ledger, newest first; the JSON is obs/status.c's, as
 * the daemon serves it at /api/batches. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "engine/ledger.h"
#include "base/mem.h"
#include "obs/status.h"

static const char *str(const json_t *o, const char *key)
{
    const char *v = json_string_value(json_object_get(o, key));
    return v ? v : "";
}

static const char *const states[] = {"received", "staged", "gated", "committed", "failed",
                                     "quarantined", "approved", "rejected", "rolled_back",
                                     NULL};

int sl_cmd_batches(int argc, char **argv)
{
    struct sl_cli_opts o;
    if (sl_cli_parse(argc, argv,
                     "sluice batches CONFIG [--table T] [--state S] [--limit N] [--json]",
                     "json,table,state,limit", &o) < 0)
        return 2;
    sl_free(o.args);
    if (o.state) {
        int ok = 0;
        for (int i = 0; states[i] && !ok; i++)
            ok = strcmp(states[i], o.state) == 0;
        if (!ok) {
            fprintf(stderr, "sluice: unknown state \"%s\" (received, committed, failed,"
                            " quarantined, approved, rejected, rolled_back)\n", o.state);
            return 2;
        }
    }
    struct sl_config *c = sl_cli_load_config(o.config);
    if (!c)
        return 2;

    /* the same document as GET /api/batches (obs/status.c) */
    struct sl_dbpool *pool = sl_dbpool_new(c);
    struct sl_err err;
    sl_err_clear(&err);
    json_t *arr = pool ? sl_status_batches(c, pool, NULL, o.table, o.state,
                                           o.limit ? o.limit : 100, &err)
                       : NULL;
    int rc = 0;
    if (!arr) {
        fprintf(stderr, "sluice: %s\n", pool ? err.msg : "out of memory");
        rc = 1;
    } else if (o.json) {
        char *s = json_dumps(arr, JSON_INDENT(2));
        printf("%s\n", s ? s : "[]");
        free(s);
    } else {
        printf("%-8s %-20s %-24s %-10s %-12s %-10s %-21s %s\n", "BATCH", "PIPELINE", "TABLE",
               "KIND", "STATE", "ROWS", "FINISHED", "SOURCE");
        size_t i;
        json_t *e;
        json_array_foreach(arr, i, e) {
            char id[24] = "", rows[24] = "", fin[32] = "";
            json_t *v;
            if (json_is_integer(v = json_object_get(e, "id")))
                snprintf(id, sizeof id, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
            if (json_is_integer(v = json_object_get(e, "rows_in")))
                snprintf(rows, sizeof rows, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
            /* whole seconds: 2026-12-01T05:44:49Z */
            const char *f = json_string_value(json_object_get(e, "finished_at"));
            if (f)
                sl_cli_time(f, fin, 1);
            printf("%-8s %-20s %-24s %-10s %-12s %-10s %-21s %s\n", id, str(e, "pipeline"),
                   str(e, "table"), str(e, "kind"), str(e, "state"), rows, fin,
                   str(e, "source_ref"));
            if (json_string_value(json_object_get(e, "error")))
                printf("         error: %s\n", str(e, "error"));
            /* a log drop's records that did not parse */
            json_t *up = json_object_get(json_object_get(e, "report"), "unparsed");
            if (json_is_integer(json_object_get(up, "dead_lettered")))
                printf("         unparsed: %" JSON_INTEGER_FORMAT " records in the dead letter"
                       " table\n", json_integer_value(json_object_get(up, "dead_lettered")));
            /* every decision, oldest first: an approval stays beside the
             * rollback that came after it */
            size_t k;
            json_t *d;
            json_array_foreach(json_object_get(e, "decisions"), k, d) {
                struct sl_buf line;
                sl_buf_init(&line);
                if (sl_ledger_decision_line(d, 1, &line) == 0) {
                    printf("         %s\n", line.data);
                } else {
                    fprintf(stderr, "sluice: out of memory\n");
                    rc = 1;
                }
                sl_buf_free(&line);
            }
        }
    }
    json_decref(arr);
    sl_dbpool_free(pool);
    sl_config_free(c);
    return rc;
}
