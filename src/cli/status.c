/* cli/status.c: `sluice status CONFIG [--json]`: one line per table: state,
 * last batch, rows, lag since the newest committed batch, last error. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "core/ledger.h"
#include "core/mem.h"
#include "core/value.h"

struct status_row {
    const char *pipeline, *table, *state;
    char last_batch[24], rows[24], lag[32], error[256];
    double lag_seconds;     /* -1 = never loaded */
};

static void fmt_lag(double s, char *out, size_t cap)
{
    if (s < 0)
        snprintf(out, cap, "-");
    else if (s < 120)
        snprintf(out, cap, "%.0fs", s);
    else if (s < 7200)
        snprintf(out, cap, "%.0fm", s / 60);
    else if (s < 172800)
        snprintf(out, cap, "%.1fh", s / 3600);
    else
        snprintf(out, cap, "%.1fd", s / 86400);
}

static int table_status(struct sl_cli_dest *d, const char *pipeline, const char *table,
                        struct status_row *r, struct sl_err *err)
{
    struct sl_ledger l = {d->ops, d->d};
    struct sl_rows rows;
    memset(r, 0, sizeof *r);
    r->pipeline = pipeline;
    r->table = table;
    r->lag_seconds = -1;
    snprintf(r->last_batch, sizeof r->last_batch, "-");
    snprintf(r->rows, sizeof r->rows, "0");
    if (sl_ledger_table_status(&l, table, &rows, err) < 0)
        return -1;
    if (rows.nrows == 0) {
        r->state = "new";
    } else {
        const char *state = sl_rows_get(&rows, 0, 1);
        const char *committed_at = sl_rows_get(&rows, 0, 6);
        const char *quarantined = sl_rows_get(&rows, 0, 7);
        const char *total = sl_rows_get(&rows, 0, 8);
        snprintf(r->last_batch, sizeof r->last_batch, "%s", sl_rows_get(&rows, 0, 0));
        snprintf(r->rows, sizeof r->rows, "%s", total ? total : "0");
        if (quarantined && strcmp(quarantined, "0") != 0)
            r->state = "quarantined";
        else if (strcmp(state, "failed") == 0)
            r->state = "failing";
        else
            r->state = "ok";
        if (sl_rows_get(&rows, 0, 4))
            snprintf(r->error, sizeof r->error, "%s", sl_rows_get(&rows, 0, 4));
        if (committed_at) {
            sl_usec t;
            char why[128];
            if (sl_time_parse(committed_at, strlen(committed_at), NULL, &t, why, sizeof why) == 0)
                r->lag_seconds = (double)(sl_time_now() - t) / 1e6;
        }
    }
    fmt_lag(r->lag_seconds, r->lag, sizeof r->lag);
    sl_rows_free(&rows);
    return 0;
}

int sl_cmd_status(int argc, char **argv)
{
    struct sl_cli_opts o;
    if (sl_cli_parse(argc, argv, "sluice status CONFIG [--json]", "json", &o) < 0)
        return 2;
    sl_free(o.args);
    struct sl_config *c = sl_cli_load_config(o.config);
    if (!c)
        return 2;

    struct sl_cli_dest *dests = sl_calloc(c->nconnections, sizeof *dests);
    json_t *arr = json_array();
    int rc = 0;
    if (!o.json)
        printf("%-20s %-24s %-12s %-10s %-12s %-8s %s\n", "PIPELINE", "TABLE", "STATE",
               "LAST", "ROWS", "LAG", "LAST ERROR");
    for (size_t i = 0; i < c->npipelines && rc == 0; i++) {
        const struct sl_pipeline_cfg *p = &c->pipelines[i];
        size_t ci = (size_t)(p->dest_conn - c->connections);
        struct sl_err err;
        sl_err_clear(&err);
        if (!dests[ci].d && sl_cli_open_dest(c, p->dest_conn, &dests[ci], &err) < 0) {
            fprintf(stderr, "sluice: %s\n", err.msg);
            rc = 1;
            break;
        }
        for (size_t j = 0; j < p->ntables; j++) {
            struct status_row r;
            if (table_status(&dests[ci], p->name, p->tables[j].name, &r, &err) < 0) {
                fprintf(stderr, "sluice: %s\n", err.msg);
                rc = 1;
                break;
            }
            if (o.json) {
                json_t *e = json_pack("{s:s, s:s, s:s, s:s, s:s}", "pipeline", r.pipeline,
                                      "table", r.table, "state", r.state, "last_batch",
                                      r.last_batch, "rows", r.rows);
                json_object_set_new(e, "lag_seconds",
                                    r.lag_seconds < 0 ? json_null() : json_real(r.lag_seconds));
                json_object_set_new(e, "last_error",
                                    r.error[0] ? json_string(r.error) : json_null());
                json_array_append_new(arr, e);
            } else {
                printf("%-20s %-24s %-12s %-10s %-12s %-8s %.80s\n", r.pipeline, r.table,
                       r.state, r.last_batch, r.rows, r.lag, r.error);
            }
        }
    }
    if (o.json && rc == 0) {
        char *s = json_dumps(arr, JSON_INDENT(2));
        printf("%s\n", s ? s : "[]");
        free(s);
    }
    json_decref(arr);
    for (size_t i = 0; i < c->nconnections; i++)
        sl_cli_close_dest(&dests[i]);
    sl_free(dests);
    sl_config_free(c);
    return rc;
}
