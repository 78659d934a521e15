/* cli/reconcile.c: `sluice reconcile CONFIG [TABLE...] [--repair] [--json]`:
 * compare every table replicated from a database (or the ones named) with
 * its source (engine/reconcile.c) and report drift: keys missing from the
 * warehouse, keys the source no longer has, rows that differ. --repair
 * re-syncs those keys as a batch of their own per table.
 * Exit status: 0 every table in sync (or re-synced by --repair), 1 drift
 * left in place (listed or not) or a table that could not be compared, 2
 * usage or config. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "base/mem.h"
#include "engine/reconcile.h"
#include "sources/source.h"

static const char USAGE[] = "sluice reconcile CONFIG [TABLE...] [--repair] [--json]";

#define SHOWN 20

static void print_keys(const struct sl_reconcile_result *r, const char *what,
                       const struct sl_reconcile_keys *k)
{
    size_t shown = k->n < SHOWN ? k->n : SHOWN;
    for (size_t i = 0; i < k->n && i < SHOWN; i++) {
        printf("  %-9s (", what);
        for (size_t c = 0; c < r->nkey; c++)
            printf("%s%s", c ? ", " : "", r->keycols[c]);
        printf(")=(");
        for (size_t c = 0; c < r->nkey; c++)
            printf("%s%s", c ? ", " : "", k->keys[i][c]);
        printf(")\n");
    }
    if (k->total > shown)
        printf("  ... and %zu more %s (%s)\n", k->total - shown, what,
               k->total > k->n ? "past the key limit: not listed, not repaired"
                               : "--json lists them all");
}

static void print_text(const struct sl_reconcile_result *r, const char *config)
{
    size_t drift = sl_reconcile_drift(r);
    if (r->not_compared[0])
        printf("%s: protected columns not compared (the warehouse holds their protected form): "
               "%s\n", r->table, r->not_compared);
    if (!drift) {
        if (r->pending)
            printf("%s: in sync (%lld rows; %zu row(s) changed at the source beyond the cursor:"
                   " the next run loads them; %.2f s)\n", r->table, (long long)r->source_rows,
                   r->pending, r->seconds);
        else
            printf("%s: in sync (%lld rows; %.2f s)\n", r->table, (long long)r->source_rows,
                   r->seconds);
        return;
    }
    size_t unlisted = sl_reconcile_unlisted(r);
    printf("%s: drift: %s%zu missing, %zu extra, %zu different (source %lld rows, warehouse"
           " %lld rows; %.2f s)\n", r->table, r->at_least ? "at least " : "", r->missing.total,
           r->extra.total,
           r->different.total, (long long)r->source_rows, (long long)r->warehouse_rows,
           r->seconds);
    if (unlisted)
        printf("  %zu of them not listed: past the key limit (SLUICE_RECONCILE_MAX_KEYS)\n",
               unlisted);
    print_keys(r, "missing", &r->missing);
    print_keys(r, "extra", &r->extra);
    print_keys(r, "different", &r->different);
    if (r->repair_batch) {
        printf("  re-synced by batch %lld (undo: sluice rollback ", (long long)r->repair_batch);
        sl_cli_print_shell_word(stdout, config);
        printf(" %lld)\n", (long long)r->repair_batch);
        if (unlisted)
            printf("  %zu not re-synced (not listed): run `sluice reconcile --repair` again\n",
                   unlisted);
    }
}

int sl_cmd_reconcile(int argc, char **argv)
{
    struct sl_cli_opts o;
    int prc = sl_cli_parse(argc, argv, USAGE, "json,repair", &o);
    if (prc < 0)
        return 2;
    struct sl_config *c = sl_cli_load_config_alerting(o.config);
    if (!c) {
        sl_free(o.args);
        return 2;
    }
    /* every name given must be a table replicated from a database */
    for (int a = 0; a < o.nargs; a++) {
        int found = 0;
        for (size_t i = 0; i < c->npipelines && !found; i++)
            for (size_t k = 0; k < c->pipelines[i].ntables && !found; k++)
                found = strcmp(c->pipelines[i].tables[k].name, o.args[a]) == 0 &&
                        c->pipelines[i].source_ops->sql;
        if (!found) {
            fprintf(stderr, "sluice: no table \"%s\" replicated from a database in %s\n",
                    o.args[a], c->path);
            sl_free(o.args);
            sl_config_free(c);
            return 2;
        }
    }

    struct sl_reconcile_opts ro = {o.repair, 1};
    int status = 0, compared = 0;
    if (o.json)
        printf("[");
    for (size_t i = 0; i < c->npipelines; i++) {
        const struct sl_pipeline_cfg *p = &c->pipelines[i];
        if (!p->source_ops->sql)
            continue;
        for (size_t k = 0; k < p->ntables; k++) {
            const struct sl_table_cfg *t = &p->tables[k];
            int wanted = o.nargs == 0;
            for (int a = 0; a < o.nargs && !wanted; a++)
                wanted = strcmp(o.args[a], t->name) == 0;
            if (!wanted)
                continue;
            struct sl_reconcile_result r;
            struct sl_err err;
            sl_err_clear(&err);
            if (sl_reconcile_table(c, p, t, &ro, &r, &err) < 0) {
                fprintf(stderr, "sluice: %s\n", err.msg);
                status = 1;
                sl_reconcile_result_free(&r);
                continue;
            }
            if (sl_reconcile_drift(&r) && (!r.repair_batch || sl_reconcile_unlisted(&r)))
                status = 1;
            if (o.json) {
                char *j = sl_reconcile_json(&r);
                printf("%s%s", compared ? "," : "", j ? j : "null");
                sl_free(j);
            } else {
                print_text(&r, o.config);
            }
            compared++;
            sl_reconcile_result_free(&r);
        }
    }
    if (o.json)
        printf("]\n");
    if (!compared && !o.json && status == 0)
        printf("no table replicated from a database in %s\n", c->path);
    sl_free(o.args);
    sl_config_free(c);
    return status;
}
