/* cli/check.c: `sluice check CONFIG [--json]`: validate the config and print
 * the plan. Exit 2 on any error, naming file:line:column. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "core/mem.h"
#include "core/redact.h"
#include "destinations/destination.h"
#include "gates/gate.h"
#include "sources/source.h"

/* A plugin key's current value as text (for the plan). */
static void key_value(const struct sl_cfg_key *k, const void *ctx, char *out, size_t cap)
{
    const char *p = (const char *)ctx + k->offset;
    out[0] = '\0';
    switch (k->type) {
    case SL_CFG_STR: {
        const char *s = *(char *const *)p;
        sl_redact(s ? s : "", out, cap);     /* a broker URL may hold a password */
        break;
    }
    case SL_CFG_INT: snprintf(out, cap, "%ld", *(const long *)p); break;
    case SL_CFG_DOUBLE:
    case SL_CFG_DURATION: snprintf(out, cap, "%g%s", *(const double *)p,
                                   k->type == SL_CFG_DURATION ? "s" : ""); break;
    case SL_CFG_BOOL: snprintf(out, cap, "%s", *(const int *)p ? "true" : "false"); break;
    case SL_CFG_CHAR: {
        char c = *p;
        if (c == '\t')
            snprintf(out, cap, "\\t");
        else if (c)
            snprintf(out, cap, "%c", c);
        break;
    }
    case SL_CFG_ENUM: snprintf(out, cap, "%s", k->choices[*(const int *)p]); break;
    case SL_CFG_STRLIST: {
        const struct sl_strlist *l = (const struct sl_strlist *)p;
        size_t used = 0;
        for (size_t i = 0; i < l->n && used < cap; i++)
            used += (size_t)snprintf(out + used, cap - used, "%s%s", i ? ", " : "", l->items[i]);
        break;
    }
    }
}

/* Where the warehouse stores a name otherwise (PostgreSQL keeps 63 bytes):
 * " (stored as \"...\")", else "". */
static const char *stored_note(const struct sl_pipeline_cfg *p, const char *name, int is_table,
                               char *out, size_t cap)
{
    struct sl_err e;
    char stored[512];
    const struct sl_dest_ops *ops = p->dest_conn ? sl_dest_for_url(p->dest_conn->url, &e) : NULL;
    out[0] = '\0';
    if (ops && ops->stored_name && ops->stored_name(name, is_table, stored, sizeof stored))
        snprintf(out, cap, " (stored as \"%s\")", stored);
    return out;
}

static json_t *plan_json(const struct sl_config *c)
{
    json_t *root = json_object(), *conns = json_array(), *pipes = json_array();
    char buf[1024];
    for (size_t i = 0; i < c->nconnections; i++) {
        sl_redact(c->connections[i].url, buf, sizeof buf);
        json_array_append_new(conns, json_pack("{s:s, s:s}", "name", c->connections[i].name,
                                               "url", buf));
    }
    for (size_t i = 0; i < c->npipelines; i++) {
        const struct sl_pipeline_cfg *p = &c->pipelines[i];
        json_t *src = json_object(), *tables = json_array();
        json_object_set_new(src, "kind", json_string(p->source_kind));
        for (const struct sl_cfg_key *k = p->source_ops->keys; k && k->key; k++) {
            if (strcmp(k->key, "token") == 0 || strcmp(k->key, "password") == 0)
                continue;
            key_value(k, p->source_ctx, buf, sizeof buf);
            json_object_set_new(src, k->key, json_string(buf));
        }
        for (size_t j = 0; j < p->ntables; j++) {
            const struct sl_table_cfg *t = &p->tables[j];
            json_t *tj = json_object(), *pk = json_array(), *cols = json_object(),
                   *gates = json_array();
            json_object_set_new(tj, "name", json_string(t->name));
            json_object_set_new(tj, "kind", json_string(sl_table_kind_name(t->kind)));
            for (size_t k = 0; k < t->primary_key.n; k++)
                json_array_append_new(pk, json_string(t->primary_key.items[k]));
            json_object_set_new(tj, "primary_key", pk);
            if (t->version_key)
                json_object_set_new(tj, "version_key", json_string(t->version_key));
            if (t->pattern)
                json_object_set_new(tj, "pattern", json_string(t->pattern));
            for (size_t k = 0; k < t->ncolumns; k++)
                json_object_set_new(cols, t->columns[k].name,
                                    json_string(sl_type_name(t->columns[k].type)));
            json_object_set_new(tj, "columns", cols);
            for (size_t k = 0; k < t->ngates; k++)
                json_array_append_new(gates, json_string(t->gates[k].ops->name));
            json_object_set_new(tj, "gates", gates);
            if (p->source_ops->plan && t->kind == SL_KIND_INCREMENTAL) {
                struct sl_table_plan tp;
                p->source_ops->plan(c, p, t, &tp);
                json_object_set_new(tj, "cursor_unique", tp.cursor_unique < 0
                                                             ? json_null()
                                                             : json_boolean(tp.cursor_unique));
                json_object_set_new(tj, "cursor_plan", json_string(tp.line));
            }
            json_array_append_new(tables, tj);
        }
        json_array_append_new(pipes, json_pack("{s:s, s:o, s:s, s:f, s:f, s:o}", "name", p->name,
                                               "source", src, "destination", p->destination,
                                               "every_seconds", p->every, "stale_after_seconds",
                                               p->stale_after, "tables", tables));
    }
    json_object_set_new(root, "config", json_string(c->path));
    json_object_set_new(root, "connections", conns);
    json_object_set_new(root, "pipelines", pipes);
    return root;
}

static void print_plan(const struct sl_config *c)
{
    char buf[1024];
    printf("config %s: ok\n\nconnections\n", c->path);
    for (size_t i = 0; i < c->nconnections; i++) {
        sl_redact(c->connections[i].url, buf, sizeof buf);
        printf("  %-20s %s\n", c->connections[i].name, buf);
    }
    for (size_t i = 0; i < c->npipelines; i++) {
        const struct sl_pipeline_cfg *p = &c->pipelines[i];
        printf("\npipeline %s -> %s", p->name, p->destination);
        if (p->every > 0)
            printf(" (every %gs%s)", p->every,
                   p->every_default ? ": the default for a database source; set schedule:"
                                      " to change it" : "");
        if (p->stale_after > 0)
            printf(" (stale after %gs)", p->stale_after);
        printf("\n  source %s:", p->source_kind);
        for (const struct sl_cfg_key *k = p->source_ops->keys; k && k->key; k++) {
            if (strcmp(k->key, "token") == 0 || strcmp(k->key, "password") == 0)
                continue;
            key_value(k, p->source_ctx, buf, sizeof buf);
            if (buf[0])
                printf(" %s=%s", k->key, buf);
        }
        printf("\n");
        for (size_t j = 0; j < p->ntables; j++) {
            const struct sl_table_cfg *t = &p->tables[j];
            char note[640];
            printf("  table %s%s: %s", t->name, stored_note(p, t->name, 1, note, sizeof note),
                   sl_table_kind_name(t->kind));
            if (t->primary_key.n) {
                printf(", primary key (");
                for (size_t k = 0; k < t->primary_key.n; k++)
                    printf("%s%s", k ? ", " : "", t->primary_key.items[k]);
                printf(")");
            }
            if (t->version_key)
                printf(", version key %s", t->version_key);
            if (t->pattern)
                printf(", files %s", t->pattern);
            printf("\n    columns: ");
            for (size_t k = 0; k < t->ncolumns; k++)
                printf("%s%s%s %s", k ? ", " : "", t->columns[k].name,
                       stored_note(p, t->columns[k].name, 0, note, sizeof note),
                       sl_type_name(t->columns[k].type));
            if (p->source_ops->schema)
                printf("%sothers as the source table declares them\n", t->ncolumns ? "; " : "");
            else if (p->source_ops->serve)
                printf("%sothers inferred from the events; each event kept whole in _event\n",
                       t->ncolumns ? "; " : "");
            else
                printf("%sothers inferred from the first drop\n", t->ncolumns ? "; " : "");
            if (p->source_ops->plan) {
                struct sl_table_plan tp;
                p->source_ops->plan(c, p, t, &tp);
                if (tp.line[0])
                    printf("    %s\n", tp.line);
            }
            if (!t->ngates)
                printf("    gates: none\n");
            for (size_t k = 0; k < t->ngates; k++) {
                const struct sl_gate_cfg *g = &t->gates[k];
                char line[1024], val[256];
                line[0] = '\0';
                if (g->ops->describe) {
                    g->ops->describe(g->ctx, line, sizeof line);
                } else {
                    size_t used = 0;
                    for (const struct sl_cfg_key *key = g->ops->keys; key && key->key &&
                                                                       used < sizeof line; key++) {
                        key_value(key, g->ctx, val, sizeof val);
                        used += (size_t)snprintf(line + used, sizeof line - used, "%s%s=%s",
                                                 used ? " " : "", key->key, val);
                    }
                }
                printf("    gate %s: %s\n", g->ops->name, line);
            }
        }
    }
}

int sl_cmd_check(int argc, char **argv)
{
    struct sl_cli_opts o;
    if (sl_cli_parse(argc, argv, "sluice check CONFIG [--json]", "json", &o) < 0)
        return 2;
    struct sl_config *c = sl_cli_load_config_alerting(o.config);
    sl_free(o.args);
    if (!c)
        return 2;
    if (o.json) {
        json_t *j = plan_json(c);
        char *s = json_dumps(j, JSON_INDENT(2));
        printf("%s\n", s ? s : "{}");
        free(s);
        json_decref(j);
    } else {
        print_plan(c);
    }
    sl_config_free(c);
    return 0;
}
