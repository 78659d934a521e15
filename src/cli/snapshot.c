/* cli/snapshot.c: snapshots of a table (engine/snapshot.c).
 *   sluice snapshot CONFIG TABLE [--json]          take one; prints its id
 *   sluice snapshots CONFIG [TABLE] [--json]       the snapshots kept (of TABLE)
 *   sluice restore CONFIG TABLE SNAPSHOT           go back to one
 * The table's destination is the one its pipeline loads it into. */
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/mem.h"
#include "base/retry.h"
#include "cli/cli.h"
#include "engine/ledger.h"
#include "engine/pipeline.h"
#include "engine/snapshot.h"

/* The one destination connection `table` loads into; prints why not and
 * returns NULL when none or several. */
static const struct sl_connection_cfg *table_conn(const struct sl_config *c, const char *table)
{
    const struct sl_connection_cfg *conn = NULL;
    for (size_t i = 0; i < c->npipelines; i++)
        for (size_t k = 0; k < c->pipelines[i].ntables; k++) {
            if (strcmp(c->pipelines[i].tables[k].name, table) != 0)
                continue;
            if (conn && conn != c->pipelines[i].dest_conn) {
                fprintf(stderr, "sluice: table \"%s\" loads into both connection \"%s\" and"
                                " \"%s\"\n", table, conn->name, c->pipelines[i].dest_conn->name);
                return NULL;
            }
            conn = c->pipelines[i].dest_conn;
        }
    if (!conn)
        fprintf(stderr, "sluice: no pipeline of %s loads a table \"%s\"\n", c->path, table);
    return conn;
}

static void print_list(struct sl_rows *rows, json_t *arr)
{
    for (size_t i = 0; i < rows->nrows; i++) {
#define CELL(k) (sl_rows_get(rows, i, (k)) ? sl_rows_get(rows, i, (k)) : "")
        if (arr) {
            json_t *e = json_object();
            const char *last = sl_rows_get(rows, i, 3);
            json_object_set_new(e, "id", json_integer(strtoll(CELL(0), NULL, 10)));
            json_object_set_new(e, "table", json_string(CELL(1)));
            char at[32];
            sl_cli_time(CELL(2), at, 0);
            json_object_set_new(e, "taken_at", json_string(at));
            json_object_set_new(e, "last_batch",
                                last ? json_integer(strtoll(last, NULL, 10)) : json_null());
            json_object_set_new(e, "rows", json_integer(strtoll(CELL(4), NULL, 10)));
            json_array_append_new(arr, e);
        } else {
            char taken[32];
            sl_cli_time(CELL(2), taken, 1);
            printf("%-9s %-24s %-20s %-10s %s\n", CELL(0), CELL(1), taken,
                   sl_rows_get(rows, i, 3) ? CELL(3) : "-", CELL(4));
        }
#undef CELL
    }
}

/* List the snapshots of `table` (NULL = every table) in each destination. */
static int list_snapshots(const struct sl_config *c, const char *table, int json)
{
    json_t *arr = json ? json_array() : NULL;
    int rc = 0;
    if (!json)
        printf("%-9s %-24s %-20s %-10s %s\n", "SNAPSHOT", "TABLE", "TAKEN", "LAST_BATCH", "ROWS");
    for (size_t ci = 0; ci < c->nconnections && rc == 0; ci++) {
        const struct sl_connection_cfg *conn = &c->connections[ci];
        int used = 0;
        for (size_t i = 0; i < c->npipelines; i++)
            used |= c->pipelines[i].dest_conn == conn;
        if (!used)
            continue;
        struct sl_cli_dest d;
        struct sl_err err;
        struct sl_rows rows;
        sl_err_clear(&err);
        if (sl_cli_open_dest(c, conn, &d, &err) < 0 ||
            sl_snapshot_list(d.ops, d.d, table, &rows, &err) < 0) {
            fprintf(stderr, "sluice: %s\n", err.msg);
            sl_cli_close_dest(&d);
            rc = 1;
            break;
        }
        print_list(&rows, arr);
        sl_rows_free(&rows);
        sl_cli_close_dest(&d);
    }
    if (arr && rc == 0) {
        char *s = json_dumps(arr, JSON_INDENT(2));
        printf("%s\n", s ? s : "[]");
        free(s);
    }
    json_decref(arr);
    return rc;
}

int sl_cmd_snapshot(int argc, char **argv)
{
    static const char usage[] = "sluice snapshot CONFIG TABLE [--json]";
    struct sl_cli_opts o;
    if (sl_cli_parse(argc, argv, usage, "json", &o) < 0)
        return 2;
    if (o.nargs != 1) {
        fprintf(stderr, "usage: %s\n", usage);
        sl_free(o.args);
        return 2;
    }
    const char *table = o.args[0];
    sl_free(o.args);
    struct sl_config *c = sl_cli_load_config(o.config);
    if (!c)
        return 2;
    const struct sl_connection_cfg *conn = table_conn(c, table);
    int rc = 0;
    if (!conn) {
        rc = 2;
    } else {
        struct sl_cli_dest d;
        struct sl_err err;
        int64_t id = 0;
        sl_err_clear(&err);
        if (sl_cli_open_dest(c, conn, &d, &err) == 0) {
            int attempts = sl_retry_attempts();
            for (int a = 1; a <= attempts; a++) {
                sl_err_clear(&err);
                if (sl_snapshot_take(d.ops, d.d, table, &id, &err) == 0 || err.cls != SL_RETRY)
                    break;
                if (a < attempts)
                    sl_retry_sleep(a);
            }
        }
        struct sl_rows rows = {0};
        if (err.code == SL_E_NONE && sl_snapshot_list(d.ops, d.d, table, &rows, &err) == 0) {
            /* the newest row is the one just taken */
            for (size_t i = 0; i < rows.nrows; i++) {
                if (strtoll(sl_rows_get(&rows, i, 0), NULL, 10) != id)
                    continue;
                const char *last = sl_rows_get(&rows, i, 3);
                const char *nrows = sl_rows_get(&rows, i, 4);
                if (o.json) {
                    json_t *e = json_object();
                    json_object_set_new(e, "id", json_integer(id));
                    json_object_set_new(e, "table", json_string(table));
                    json_object_set_new(e, "rows", json_integer(nrows ? strtoll(nrows, NULL, 10) : 0));
                    json_object_set_new(e, "last_batch",
                                        last ? json_integer(strtoll(last, NULL, 10)) : json_null());
                    char *t = json_dumps(e, 0);
                    printf("%s\n", t ? t : "{}");
                    free(t);
                    json_decref(e);
                } else {
                    printf("snapshot %" PRId64 " of table %s: %s rows, up to batch %s\n", id,
                           table, nrows ? nrows : "0", last ? last : "(none)");
                }
            }
            sl_rows_free(&rows);
        }
        if (err.code != SL_E_NONE) {
            fprintf(stderr, "sluice: %s\n", err.msg);
            rc = sl_err_exit_code(&err);
        }
        sl_cli_close_dest(&d);
    }
    sl_config_free(c);
    return rc;
}

int sl_cmd_snapshots(int argc, char **argv)
{
    struct sl_cli_opts o;
    static const char usage[] = "sluice snapshots CONFIG [TABLE] [--json]";
    if (sl_cli_parse(argc, argv, usage, "json", &o) < 0)
        return 2;
    const char *table = o.nargs == 1 ? o.args[0] : NULL;
    int extra = o.nargs > 1;
    sl_free(o.args);
    if (extra) {
        fprintf(stderr, "usage: %s\n", usage);
        return 2;
    }
    struct sl_config *c = sl_cli_load_config(o.config);
    if (!c)
        return 2;
    int rc = 0;
    if (table && !table_conn(c, table))
        rc = 2;
    else
        rc = list_snapshots(c, table, o.json);
    sl_config_free(c);
    return rc;
}

int sl_cmd_restore(int argc, char **argv)
{
    static const char usage[] = "sluice restore CONFIG TABLE SNAPSHOT";
    struct sl_cli_opts o;
    if (sl_cli_parse(argc, argv, usage, "", &o) < 0)
        return 2;
    char *end = NULL;
    long long snap = o.nargs == 2 ? strtoll(o.args[1], &end, 10) : 0;
    if (o.nargs != 2 || !end || *end || snap <= 0) {
        fprintf(stderr, "usage: %s (SNAPSHOT is an id from sluice snapshots)\n", usage);
        sl_free(o.args);
        return 2;
    }
    const char *table = o.args[0];
    struct sl_config *c = sl_cli_load_config(o.config);
    if (!c) {
        sl_free(o.args);
        return 2;
    }
    const struct sl_connection_cfg *conn = table_conn(c, table);
    int rc = 0;
    if (!conn) {
        rc = 2;
    } else {
        struct sl_cli_dest d;
        struct sl_err err;
        struct sl_snapshot_restored res = {0};
        char who[64];
        sl_ledger_os_user(who, sizeof who);
        sl_err_clear(&err);
        if (sl_cli_open_dest(c, conn, &d, &err) == 0) {
            int attempts = sl_retry_attempts();
            for (int a = 1; a <= attempts; a++) {
                sl_err_clear(&err);
                if (sl_snapshot_restore(d.ops, d.d, table, snap, who, &res, &err) == 0 ||
                    err.cls != SL_RETRY)
                    break;
                if (a < attempts)
                    sl_retry_sleep(a);
            }
        }
        if (err.code != SL_E_NONE) {
            fprintf(stderr, "sluice: %s\n", err.msg);
            rc = sl_err_exit_code(&err);
        } else {
            printf("restored table %s to snapshot %lld: %" PRId64 " rows", table, snap, res.rows);
            if (res.nrolled_back) {
                printf("; rolled back batch%s", res.nrolled_back > 1 ? "es" : "");
                for (size_t i = 0; i < res.nrolled_back; i++)
                    printf("%s%" PRId64, i ? ", " : " ", res.rolled_back[i]);
                /* as sluice rollback says it: a database source's batch
                 * forgot a fingerprint, not a drop */
                if (res.drops)
                    printf("; sluice has forgotten the content %s loaded, so the same drop (or"
                           " an unchanged source table) loads again",
                           res.nrolled_back > 1 ? "they" : "it");
            } else {
                printf("; no batch was newer than the snapshot");
            }
            printf("\n");
        }
        sl_snapshot_restored_free(&res);
        sl_cli_close_dest(&d);
    }
    sl_free(o.args);
    sl_config_free(c);
    return rc;
}
