/* config/same.c: whether a pipeline of one config is the same as a pipeline
 * of another, for the daemon's reload (cli/daemon.c): a pipeline that is
 * goes on running; one that is not is stopped after its batch in flight and
 * started anew. Compared is everything the pipeline runs with, as the key
 * tables read it (the values after ${VAR}): its own keys, snapshots and
 * reconcile, its source and the source's blocks, the connections it names,
 * its tables with their columns, paths and gates, the alerts it sends
 * through, and the folder relative paths start from. Where in the file it
 * stands is not. */
#include <string.h>

#include "config/config.h"
#include "base/mem.h"
#include "gates/gate.h"
#include "sources/source.h"

/* "block{key=value;...}": every key of the table, set or not */
static void keys_text(struct sl_buf *b, const char *title, const struct sl_cfg_key *keys,
                      const void *ctx)
{
    char val[8192];
    sl_buf_printf(b, "%s{", title);
    for (const struct sl_cfg_key *k = keys; ctx && k && k->key; k++) {
        sl_cfg_value_text(k, ctx, val, sizeof val);
        sl_buf_printf(b, "%s=%zu:%s;", k->key, strlen(val), val);
    }
    sl_buf_puts(b, "}");
}

/* A string value of the source's keys that names one of the connections. */
static int source_names(const struct sl_pipeline_cfg *p, const char *conn)
{
    for (const struct sl_cfg_key *k = p->source_ops->keys; k && k->key; k++) {
        if (k->type != SL_CFG_STR)
            continue;
        const char *v = *(char *const *)(const void *)((const char *)p->source_ctx + k->offset);
        if (v && strcmp(v, conn) == 0)
            return 1;
    }
    return 0;
}

static void pipeline_text(struct sl_buf *b, const struct sl_config *c,
                          const struct sl_pipeline_cfg *p)
{
    sl_buf_printf(b, "dir=%s;", c->dir ? c->dir : "");
    for (size_t i = 0; i < c->nalerts; i++)
        keys_text(b, "alert", sl_config_keys("alert"), &c->alerts[i]);
    keys_text(b, "pipeline", sl_config_keys("pipeline"), p);
    keys_text(b, "snapshots", sl_config_keys("snapshots"), p);
    keys_text(b, "reconcile", sl_config_keys("reconcile"), p);
    sl_buf_printf(b, "source=%s", p->source_kind);
    keys_text(b, "", p->source_ops->keys, p->source_ctx);
    for (const struct sl_source_block *bl = p->source_ops->blocks; bl && bl->key; bl++) {
        const char *base = p->source_ctx;
        int given = *(const int *)(const void *)(base + bl->given);
        keys_text(b, bl->key, bl->keys, given ? base + bl->offset : NULL);
    }
    for (size_t i = 0; i < c->nconnections; i++) {
        const struct sl_connection_cfg *cn = &c->connections[i];
        if (cn == p->dest_conn || source_names(p, cn->name))
            keys_text(b, cn == p->dest_conn ? "destination" : "connection",
                      sl_config_keys("connection"), cn);
    }
    for (size_t j = 0; j < p->ntables; j++) {
        const struct sl_table_cfg *t = &p->tables[j];
        keys_text(b, "table", sl_config_keys("table"), t);
        for (size_t k = 0; k < t->ncolumns; k++)
            sl_buf_printf(b, "column=%zu:%s:%s;", strlen(t->columns[k].name), t->columns[k].name,
                          sl_type_name(t->columns[k].type));
        for (size_t k = 0; k < t->npaths; k++)
            sl_buf_printf(b, "path=%zu:%s:%zu:%s;", strlen(t->paths[k].name), t->paths[k].name,
                          strlen(t->paths[k].path), t->paths[k].path);
        for (size_t k = 0; k < t->ngates; k++) {
            const struct sl_gate_cfg *g = &t->gates[k];
            if (g->ops->item_keys && g->ops->item) {
                const void *it;
                sl_buf_printf(b, "gate=%s[", g->ops->name);
                for (size_t i = 0; (it = g->ops->item(g->ctx, i)); i++)
                    keys_text(b, "item", g->ops->item_keys, it);
                sl_buf_puts(b, "]");
            } else {
                keys_text(b, g->ops->name, g->ops->keys, g->ctx);
            }
        }
    }
}

int sl_config_pipeline_same(const struct sl_config *a, const struct sl_pipeline_cfg *pa,
                            const struct sl_config *b, const struct sl_pipeline_cfg *pb)
{
    struct sl_buf ta, tb;
    sl_buf_init(&ta);
    sl_buf_init(&tb);
    pipeline_text(&ta, a, pa);
    pipeline_text(&tb, b, pb);
    /* out of memory: not known to be the same, so it restarts */
    int same = !ta.oom && !tb.oom && ta.len == tb.len && memcmp(ta.data, tb.data, ta.len) == 0;
    sl_buf_free(&ta);
    sl_buf_free(&tb);
    return same;
}
