/* cli/rollback.c: `sluice rollback CONFIG BATCH [--cascade] [--table T]`:
 * take a committed batch back out (engine/rollback.c). Batch ids are per
 * destination: the batch is looked up in the ledger of every destination
 * the config loads into; --table picks one when two ledgers have it. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/mem.h"
#include "base/retry.h"
#include "cli/cli.h"
#include "engine/ledger.h"
#include "engine/pipeline.h"
#include "engine/rollback.h"

static const char USAGE[] = "sluice rollback CONFIG BATCH [--cascade] [--table T]";

/* The config's entry for `table` loading into `conn`, or NULL. */
static const struct sl_table_cfg *table_cfg(const struct sl_config *c,
                                            const struct sl_connection_cfg *conn,
                                            const char *table)
{
    for (size_t i = 0; i < c->npipelines; i++) {
        if (c->pipelines[i].dest_conn != conn)
            continue;
        for (size_t k = 0; k < c->pipelines[i].ntables; k++)
            if (strcmp(c->pipelines[i].tables[k].name, table) == 0)
                return &c->pipelines[i].tables[k];
    }
    return NULL;
}

static int conn_used(const struct sl_config *c, const struct sl_connection_cfg *conn)
{
    for (size_t i = 0; i < c->npipelines; i++)
        if (c->pipelines[i].dest_conn == conn)
            return 1;
    return 0;
}

int sl_cmd_rollback(int argc, char **argv)
{
    struct sl_cli_opts o;
    int prc = sl_cli_parse(argc, argv, USAGE, "table,cascade", &o);
    if (prc < 0)
        return 2;
    char *end = NULL;
    long long batch = o.nargs == 1 ? strtoll(o.args[0], &end, 10) : 0;
    if (o.nargs != 1 || !end || *end || batch <= 0) {
        fprintf(stderr, "sluice: rollback takes one batch id (a positive number)\nusage: %s\n",
                USAGE);
        sl_free(o.args);
        return 2;
    }
    sl_free(o.args);
    struct sl_config *c = sl_cli_load_config(o.config);
    if (!c)
        return 2;

    /* which destination's ledger has the batch */
    struct sl_cli_dest found = {0};
    char found_table[256] = "";
    int hits = 0, rc = 0;
    struct sl_buf where;
    sl_buf_init(&where);
    for (size_t ci = 0; ci < c->nconnections && rc == 0; ci++) {
        const struct sl_connection_cfg *conn = &c->connections[ci];
        struct sl_cli_dest d;
        struct sl_err err;
        struct sl_rows row;
        if (!conn_used(c, conn))
            continue;
        sl_err_clear(&err);
        if (sl_cli_open_dest(c, conn, &d, &err) < 0) {
            fprintf(stderr, "sluice: %s\n", err.msg);
            rc = 1;
            break;
        }
        if (sl_rollback_lookup(d.ops, d.d, batch, &row, &err) < 0) {
            fprintf(stderr, "sluice: connection \"%s\": %s\n", conn->name, err.msg);
            sl_cli_close_dest(&d);
            rc = 1;
            break;
        }
        const char *t = row.nrows ? sl_rows_get(&row, 0, 2) : NULL;
        if (t && (!o.table || strcmp(o.table, t) == 0)) {
            sl_buf_printf(&where, "%sconnection \"%s\" (table %s)", hits ? " and " : "",
                          conn->name, t);
            if (hits++ == 0) {
                found = d;
                snprintf(found_table, sizeof found_table, "%s", t);
                d.d = NULL;
            }
        }
        sl_rows_free(&row);
        sl_cli_close_dest(&d);
    }
    if (rc == 0 && hits == 0) {
        fprintf(stderr, "sluice: no batch %lld%s%s%s in the ledger of any destination of %s\n",
                batch, o.table ? " of table \"" : "", o.table ? o.table : "",
                o.table ? "\"" : "", o.config);
        rc = 2;
    } else if (rc == 0 && hits > 1) {
        fprintf(stderr, "sluice: batch %lld is in more than one ledger: %s; name the table"
                        " with --table\n", batch, where.data ? where.data : "");
        rc = 2;
    }
    sl_buf_free(&where);

    if (rc == 0) {
        const struct sl_table_cfg *t = table_cfg(c, found.conn, found_table);
        const char *const *pk = t ? (const char *const *)t->primary_key.items : NULL;
        size_t npk = t ? t->primary_key.n : 0;
        struct sl_rollback_result res;
        struct sl_err err;
        char who[64];
        sl_ledger_os_user(who, sizeof who);
        int attempts = sl_retry_attempts();
        for (int a = 1; a <= attempts; a++) {
            sl_err_clear(&err);
            if (sl_rollback_batch(found.ops, found.d, batch, pk, npk, o.cascade, who, &res,
                                  &err) == 0 ||
                err.cls != SL_RETRY)
                break;
            if (a < attempts)
                sl_retry_sleep(a);
        }
        if (err.code != SL_E_NONE) {
            fprintf(stderr, "sluice: %s\n", err.msg);
            rc = sl_err_exit_code(&err);
        } else {
            for (size_t i = 0; i < res.nsteps; i++) {
                const struct sl_rollback_step *st = &res.steps[i];
                if (strcmp(st->kind, "snapshot") == 0)
                    printf("rolled back batch %" PRId64 " (snapshot, %s): removed %" PRId64
                           " rows, put back the table it replaced (%" PRId64 " rows)\n",
                           st->batch, st->table, st->removed, st->restored);
                else
                    printf("rolled back batch %" PRId64 " (%s, %s): removed %" PRId64
                           " rows, restored %" PRId64 " replaced rows\n",
                           st->batch, st->kind, st->table, st->removed, st->restored);
            }
            int64_t drops = 0;
            for (size_t i = 0; i < res.nsteps; i++)
                drops += res.steps[i].drops;
            printf("the ledger marks %s rolled_back", res.nsteps > 1 ? "them" : "it");
            if (drops)
                printf("; sluice has forgotten the content %s loaded, so the same drop (or an"
                       " unchanged source table) loads again", res.nsteps > 1 ? "they" : "it");
            printf("\n");
            sl_rollback_result_free(&res);
        }
    }
    sl_cli_close_dest(&found);
    sl_config_free(c);
    return rc;
}
