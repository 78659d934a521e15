/* cli/batches.c: `sluice batches CONFIG [--table T] [--state S] [--limit N]
 * [--json]`: the batch ledger, newest first. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "core/ledger.h"
#include "core/mem.h"

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

    json_t *arr = json_array();
    int rc = 0;
    if (!o.json)
        printf("%-8s %-20s %-24s %-10s %-12s %-10s %-21s %s\n", "BATCH", "PIPELINE", "TABLE",
               "KIND", "STATE", "ROWS", "FINISHED", "SOURCE");
    /* each destination once, with the tables that load into it */
    for (size_t ci = 0; ci < c->nconnections && rc == 0; ci++) {
        int used = 0;
        for (size_t i = 0; i < c->npipelines; i++)
            used |= c->pipelines[i].dest_conn == &c->connections[ci];
        if (!used)
            continue;
        struct sl_cli_dest d;
        struct sl_err err;
        struct sl_rows rows;
        sl_err_clear(&err);
        if (sl_cli_open_dest(c, &c->connections[ci], &d, &err) < 0) {
            fprintf(stderr, "sluice: %s\n", err.msg);
            rc = 1;
            break;
        }
        struct sl_ledger l = {d.ops, d.d};
        if (sl_ledger_list(&l, o.table, o.state, o.limit ? o.limit : 100, &rows, &err) < 0) {
            fprintf(stderr, "sluice: %s\n", err.msg);
            sl_cli_close_dest(&d);
            rc = 1;
            break;
        }
        for (size_t i = 0; i < rows.nrows; i++) {
#define CELL(k) (sl_rows_get(&rows, i, (k)) ? sl_rows_get(&rows, i, (k)) : "")
            if (o.json) {
                json_t *e = json_object();
                for (size_t k = 0; k < rows.ncols; k++) {
                    const char *v = sl_rows_get(&rows, i, k);
                    const char *name = rows.names[k];
                    if (!v)
                        json_object_set_new(e, name, json_null());
                    else if (strcmp(name, "id") == 0 || strncmp(name, "rows", 4) == 0 ||
                             strcmp(name, "bytes") == 0)
                        json_object_set_new(e, name, json_integer(strtoll(v, NULL, 10)));
                    else
                        json_object_set_new(e, name, json_string(v));
                }
                json_array_append_new(arr, e);
            } else {
                char fin[22];
                snprintf(fin, sizeof fin, "%.19s", CELL(10));
                printf("%-8s %-20s %-24s %-10s %-12s %-10s %-21s %s\n", CELL(0), CELL(1),
                       CELL(2), CELL(3), CELL(4), CELL(6), fin, CELL(5));
                if (sl_rows_get(&rows, i, 11))
                    printf("         error: %s\n", CELL(11));
            }
#undef CELL
        }
        sl_rows_free(&rows);
        sl_cli_close_dest(&d);
    }
    if (o.json && rc == 0) {
        char *s = json_dumps(arr, JSON_INDENT(2));
        printf("%s\n", s ? s : "[]");
        free(s);
    }
    json_decref(arr);
    sl_config_free(c);
    return rc;
}
