/* cli/check.c: `sluice check CONFIG [--json] [--verbose] [--offline]`:
 * validate the config and print the plan: every configured value of every
 * block (http, alerts, connections, each pipeline with its schedule,
 * snapshots, reconcile, source, tables and gates), secrets as ***. With
 * --verbose, every key each block takes, one a line, with its value (or
 * "(default)") and its one-line meaning from the key tables the loader
 * reads with (struct sl_cfg_key). --json carries the same. Exit 2 on any
 * error, naming file:line:column.
 *
 * A source that can say what it needs of the outside world (its probe op:
 * a cdc source's role, settings, publication, slot) is looked at too, one
 * line a thing, and a thing missing is exit 2 as well; --offline leaves
 * the sources alone. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "base/mem.h"
#include "base/redact.h"
#include "destinations/destination.h"
#include "gates/gate.h"
#include "model/protect.h"
#include "sources/source.h"

#define PROBE_TIMEOUT "5"   /* seconds for each connection to a source */

/* One block of the config as its key table reads it. */
struct block {
    const char *title;              /* "source files", "gate size", "snapshots" */
    const struct sl_cfg_key *keys;
    const void *ctx;                /* NULL: not in the config (its defaults shown) */
    int url_secret;                 /* its url is a secret (an alert's webhook) */
    const char *const *skip;        /* keys that do not apply here; NULL-terminated */
    const char *const *in_header;   /* keys the header line shows already (plain mode) */
    const char *self_default;       /* table: source_table equal to this is its default */
};

/* Seconds as the config writes them: in the largest unit that holds them
 * whole (300 -> "5m", 86400 -> "1d", 2.5 -> "2.5s"). */
static const char *duration_text(double secs, char *out, size_t cap)
{
    static const struct { double n; const char *unit; } units[] = {
        {86400, "d"}, {3600, "h"}, {60, "m"},
    };
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
        double q = secs / units[i].n;
        if (q >= 1 && q == (double)(long long)q) {
            snprintf(out, cap, "%lld%s", (long long)q, units[i].unit);
            return out;
        }
    }
    snprintf(out, cap, "%gs", secs);
    return out;
}

static int listed(const char *const *names, const char *key)
{
    for (; names && *names; names++)
        if (strcmp(*names, key) == 0)
            return 1;
    return 0;
}

static int is_secret(const struct block *b, const struct sl_cfg_key *k)
{
    return strcmp(k->key, "token") == 0 || strcmp(k->key, "password") == 0 ||
           strcmp(k->key, "routing_key") == 0 || (b->url_secret && strcmp(k->key, "url") == 0);
}

/* The value as printed: a secret that is set as ***, the rest through
 * sl_redact (a broker URL may hold a password). "" when unset. */
static void shown(const struct block *b, const struct sl_cfg_key *k, char *out, size_t cap)
{
    char raw[1024];
    sl_cfg_value_text(k, b->ctx, raw, sizeof raw);
    if (raw[0] && is_secret(b, k))
        snprintf(out, cap, "***");
    else
        sl_redact(raw, out, cap);
}

static int at_default(const struct block *b, const struct sl_cfg_key *k)
{
    if (b->self_default && b->ctx && strcmp(k->key, "source_table") == 0) {
        const char *v = *(char *const *)(const void *)((const char *)b->ctx + k->offset);
        return v && strcmp(v, b->self_default) == 0;
    }
    return sl_cfg_is_default(k, b->ctx);
}

/* ---- text ---- */

/* Plain: "<indent><title>: k=v k=v" with the keys that hold a value (nothing
 * when the block is not in the config, or has nothing to show and `always`
 * is 0). Verbose: the title, then every key that applies, one a line:
 * "<indent>  key: value (default)    # meaning". */
static void print_block(const char *indent, const struct block *b, int verbose, int always)
{
    char val[1024];

    if (!verbose) {
        if (!b->ctx)
            return;
        int any = 0;
        for (const struct sl_cfg_key *k = b->keys; k && k->key; k++) {
            if (listed(b->skip, k->key) || listed(b->in_header, k->key))
                continue;
            shown(b, k, val, sizeof val);
            if (!val[0] || (!k->def && at_default(b, k)))
                continue;   /* unset (0 for a number without a default) */
            if (!any)
                printf("%s%s:", indent, b->title);
            any = 1;
            printf(strchr(val, ' ') || strchr(val, '#') ? " %s=\"%s\"" : " %s=%s", k->key, val);
        }
        if (any)
            printf("\n");
        else if (always)
            printf("%s%s: (all defaults)\n", indent, b->title);
        return;
    }
    printf("%s%s:%s\n", indent, b->title, b->ctx ? "" : " (not in the config; its defaults)");
    for (const struct sl_cfg_key *k = b->keys; k && k->key; k++) {
        char line[1200];
        if (listed(b->skip, k->key))
            continue;
        shown(b, k, val, sizeof val);
        if (at_default(b, k))   /* without a default, its zero means unset */
            snprintf(line, sizeof line, "%s: %s (default)", k->key,
                     val[0] && k->def ? val : "none");
        else
            snprintf(line, sizeof line, "%s: %s", k->key, val);
        printf("%s  %-40s # %s\n", indent, line, k->doc ? k->doc : "");
    }
}

/* ---- JSON ---- */

/* {"key": value, ...} for the keys that hold a value (lists as arrays), and
 * with --verbose "key_docs": [{key, value, default, doc}] for every key that
 * applies. */
static json_t *block_json(const struct block *b, int verbose)
{
    json_t *o = json_object(), *docs = verbose ? json_array() : NULL;
    char val[1024];

    for (const struct sl_cfg_key *k = b->keys; k && k->key; k++) {
        if (listed(b->skip, k->key))
            continue;
        shown(b, k, val, sizeof val);
        if (!k->def && at_default(b, k))
            val[0] = '\0';     /* unset (0 for a number without a default) */
        json_t *v = NULL;
        if (val[0] && k->type == SL_CFG_STRLIST && b->ctx) {
            const struct sl_strlist *l =
                (const struct sl_strlist *)(const void *)((const char *)b->ctx + k->offset);
            v = json_array();
            for (size_t i = 0; i < l->n; i++) {
                char item[1024];
                sl_redact(l->items[i], item, sizeof item);
                json_array_append_new(v, json_string(is_secret(b, k) ? "***" : item));
            }
        } else if (val[0]) {
            v = json_string(val);
        }
        if (docs)
            json_array_append_new(docs, json_pack("{s:s, s:O?, s:b, s:s}", "key", k->key, "value",
                                                  v, "default", at_default(b, k), "doc",
                                                  k->doc ? k->doc : ""));
        if (v && b->ctx)
            json_object_set_new(o, k->key, v);
        else
            json_decref(v);
    }
    if (docs)
        json_object_set_new(o, "key_docs", docs);
    return o;
}

/* ---- the blocks of the config ---- */

/* keys that mean something only for kind incremental */
static const char *const incremental_only[] = {"mode", "cursor", "boundary", "batch_limit", NULL};
static const char *const table_header[] = {"name", "kind", "primary_key", "version_key",
                                           "pattern", NULL};
static const char *const name_only[] = {"name", NULL};

/* Which table keys do not apply to table t of pipeline p. */
static void table_skip(const struct sl_pipeline_cfg *p, const struct sl_table_cfg *t,
                       const char **skip, size_t cap)
{
    size_t n = 0;
    if (t->kind != SL_KIND_INCREMENTAL)
        for (const char *const *k = incremental_only; *k && n + 1 < cap; k++)
            skip[n++] = *k;
    if (!p->source_ops->sql && n + 1 < cap)     /* not a database source */
        skip[n++] = "source_table";
    if (strcmp(p->source_kind, "files") != 0 && n + 1 < cap)
        skip[n++] = "pattern";
    skip[n] = NULL;
}

static struct block table_block(const struct sl_pipeline_cfg *p, const struct sl_table_cfg *t,
                                const char **skip, size_t cap)
{
    table_skip(p, t, skip, cap);
    return (struct block){"keys", sl_config_keys("table"), t, 0, skip, table_header, t->name};
}

/* A source's sub-block (the collector's publish:), NULL ctx when not given. */
static struct block source_sub(const struct sl_pipeline_cfg *p, const struct sl_source_block *bl,
                               char *title, size_t cap)
{
    const char *base = p->source_ctx;
    int given = *(const int *)(const void *)(base + bl->given);
    snprintf(title, cap, "source %s", bl->key);
    return (struct block){title, bl->keys, given ? base + bl->offset : NULL, 0, NULL, NULL, NULL};
}

/* What the source says of table t; with --offline the source is not
 * looked at, and the line says so. */
static void table_plan(const struct sl_config *c, const struct sl_pipeline_cfg *p,
                       const struct sl_table_cfg *t, int offline, struct sl_table_plan *tp)
{
    tp->cursor_unique = -1;
    tp->line[0] = '\0';
    tp->cursor_index[0] = tp->index_fix[0] = tp->index_line[0] = '\0';
    if (!offline)
        p->source_ops->plan(c, p, t, tp);
    else if (t->kind == SL_KIND_INCREMENTAL)
        snprintf(tp->line, sizeof tp->line, "cursor: whether it is unique is not looked at"
                 " (--offline)");
}

/* ---- plan as JSON ---- */

static json_t *gates_json(const struct sl_table_cfg *t, int verbose)
{
    json_t *o = json_object();
    for (size_t k = 0; k < t->ngates; k++) {
        const struct sl_gate_cfg *g = &t->gates[k];
        json_t *gj;
        if (g->ops->item_keys && g->ops->item) {
            gj = json_array();
            const void *it;
            for (size_t i = 0; (it = g->ops->item(g->ctx, i)); i++) {
                struct block b = {"item", g->ops->item_keys, it, 0, NULL, NULL, NULL};
                json_array_append_new(gj, block_json(&b, verbose));
            }
        } else {
            struct block b = {g->ops->name, g->ops->keys, g->ctx, 0, NULL, NULL, NULL};
            gj = block_json(&b, verbose);
        }
        json_object_set_new(o, g->ops->name, gj);
    }
    return o;
}

static json_t *probe_json(const struct sl_probe *pr)
{
    json_t *a = json_array();
    for (size_t i = 0; i < pr->n; i++) {
        const struct sl_probe_item *it = &pr->items[i];
        json_t *o = json_pack("{s:s,s:b,s:s,s:s}", "check", it->check, "ok",
                              it->status != SL_PROBE_MISSING, "status",
                              sl_probe_status_name(it->status), "detail", it->detail);
        json_object_set_new(o, "fix", it->fix ? json_string(it->fix) : json_null());
        json_object_set_new(o, "table", it->table ? json_string(it->table) : json_null());
        json_array_append_new(a, o);
    }
    return a;
}

/* probes: per pipeline, what its source said (NULL: not looked at) */
static json_t *plan_json(const struct sl_config *c, const struct sl_probe *const *probes,
                         int verbose, int offline)
{
    json_t *root = json_object(), *conns = json_array(), *pipes = json_array(),
           *alerts = json_array();
    char buf[1024];
    struct block hb = {"http", sl_config_keys("http"), c, 0, NULL, NULL, NULL};
    if (c->http_listen || c->http_token || verbose)
        json_object_set_new(root, "http", block_json(&hb, verbose));
    for (size_t i = 0; i < c->nalerts; i++) {
        struct block ab = {"alert", sl_config_keys("alert"), &c->alerts[i], 1, NULL, NULL, NULL};
        json_array_append_new(alerts, block_json(&ab, verbose));
    }
    for (size_t i = 0; i < c->nconnections; i++) {
        struct block cb = {"connection", sl_config_keys("connection"), &c->connections[i], 0,
                           NULL, NULL, NULL};
        json_t *cj = block_json(&cb, verbose);
        sl_redact(c->connections[i].url, buf, sizeof buf);
        json_object_set_new(cj, "name", json_string(c->connections[i].name));
        json_object_set_new(cj, "url", json_string(buf));
        json_array_append_new(conns, cj);
    }
    for (size_t i = 0; i < c->npipelines; i++) {
        const struct sl_pipeline_cfg *p = &c->pipelines[i];
        json_t *tables = json_array();
        struct block sb = {"source", p->source_ops->keys, p->source_ctx, 0, NULL, NULL, NULL};
        json_t *src = block_json(&sb, verbose);
        json_object_set_new(src, "kind", json_string(p->source_kind));
        for (const struct sl_source_block *bl = p->source_ops->blocks; bl && bl->key; bl++) {
            char title[64];
            struct block sub = source_sub(p, bl, title, sizeof title);
            if (sub.ctx || verbose)
                json_object_set_new(src, bl->key, block_json(&sub, verbose));
        }
        for (size_t j = 0; j < p->ntables; j++) {
            const struct sl_table_cfg *t = &p->tables[j];
            const char *skip[8];
            struct block tb = table_block(p, t, skip, sizeof skip / sizeof *skip);
            json_t *tj = block_json(&tb, verbose), *cols = json_object(), *gates = json_array(),
                   *paths = json_object();
            /* kind and primary_key always there, as before */
            json_object_set_new(tj, "kind", json_string(sl_table_kind_name(t->kind)));
            if (!json_object_get(tj, "primary_key"))
                json_object_set_new(tj, "primary_key", json_array());
            for (size_t k = 0; k < t->ncolumns; k++)
                json_object_set_new(cols, t->columns[k].name,
                                    json_string(sl_type_name(t->columns[k].type)));
            json_object_set_new(tj, "columns", cols);
            if (t->nprotect) {
                json_t *pj = json_object();
                for (size_t k = 0; k < t->nprotect; k++) {
                    json_t *one = json_object();
                    json_object_set_new(one, "kind",
                                        json_string(sl_protect_kinds[t->protect[k].kind]));
                    json_object_set_new(one, "does", json_string(sl_protect_doc(
                                                         t->protect[k].kind)));
                    json_object_set_new(one, "gates_see",
                                        json_string(t->protect[k].kind == SL_PROTECT_DROP
                                                        ? "nothing" : "the protected value"));
                    json_object_set_new(pj, t->protect[k].name, one);
                }
                json_object_set_new(tj, "protect", pj);
            }
            for (size_t k = 0; k < t->npaths; k++)
                json_object_set_new(paths, t->paths[k].name, json_string(t->paths[k].path));
            if (t->npaths)
                json_object_set_new(tj, "paths", paths);
            else
                json_decref(paths);
            for (size_t k = 0; k < t->ngates; k++)
                json_array_append_new(gates, json_string(t->gates[k].ops->name));
            json_object_set_new(tj, "gates", gates);
            json_object_set_new(tj, "gate_settings", gates_json(t, verbose));
            if (p->source_ops->plan && t->kind == SL_KIND_INCREMENTAL) {
                struct sl_table_plan tp;
                table_plan(c, p, t, offline, &tp);
                json_object_set_new(tj, "cursor_unique", tp.cursor_unique < 0
                                                             ? json_null()
                                                             : json_boolean(tp.cursor_unique));
                json_object_set_new(tj, "cursor_plan", json_string(tp.line));
                json_object_set_new(tj, "cursor_index", tp.cursor_index[0]
                                                            ? json_string(tp.cursor_index)
                                                            : json_null());
                json_object_set_new(tj, "cursor_index_fix", tp.index_fix[0]
                                                                ? json_string(tp.index_fix)
                                                                : json_null());
            }
            json_array_append_new(tables, tj);
        }
        struct block pb = {"pipeline", sl_config_keys("pipeline"), p, 0, NULL, NULL, NULL};
        json_t *pj = block_json(&pb, verbose);
        json_object_set_new(pj, "source", src);
        json_object_set_new(pj, "every_seconds", json_real(p->every));
        json_object_set_new(pj, "stale_after_seconds", json_real(p->stale_after));
        struct block snap = {"snapshots", sl_config_keys("snapshots"),
                             p->snapshot_every > 0 ? p : NULL, 0, NULL, NULL, NULL};
        struct block rec = {"reconcile", sl_config_keys("reconcile"),
                            p->reconcile_every > 0 ? p : NULL, 0, NULL, NULL, NULL};
        if (snap.ctx || verbose)
            json_object_set_new(pj, "snapshots", block_json(&snap, verbose));
        if (rec.ctx || verbose)
            json_object_set_new(pj, "reconcile", block_json(&rec, verbose));
        json_object_set_new(pj, "tables", tables);
        if (probes[i])
            json_object_set_new(pj, "source_checks", probe_json(probes[i]));
        json_array_append_new(pipes, pj);
    }
    json_object_set_new(root, "config", json_string(c->path));
    json_object_set_new(root, "alerts", alerts);
    json_object_set_new(root, "connections", conns);
    json_object_set_new(root, "pipelines", pipes);
    return root;
}

/* ---- plan as text ---- */

static void print_gate(const struct sl_gate_cfg *g, int verbose)
{
    char line[1024] = "";
    if (g->ops->describe)
        g->ops->describe(g->ctx, line, sizeof line);
    printf("    gate %s:%s%s\n", g->ops->name, line[0] ? " " : "", line);
    if (g->ops->item_keys && g->ops->item) {
        const void *it;
        for (size_t i = 0; (it = g->ops->item(g->ctx, i)); i++) {
            char title[32];
            snprintf(title, sizeof title, "item %zu", i + 1);
            struct block b = {title, g->ops->item_keys, it, 0, NULL, NULL, NULL};
            print_block("      ", &b, verbose, 1);
        }
    } else if (g->ops->keys) {
        struct block b = {"settings", g->ops->keys, g->ctx, 0, NULL, NULL, NULL};
        print_block("      ", &b, verbose, 1);
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

static void print_table(const struct sl_config *c, const struct sl_pipeline_cfg *p,
                        const struct sl_table_cfg *t, int verbose, int offline)
{
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
    printf("\n");
    const char *skip[8];
    struct block tb = table_block(p, t, skip, sizeof skip / sizeof *skip);
    print_block("    ", &tb, verbose, 0);
    printf("    columns: ");
    for (size_t k = 0; k < t->ncolumns; k++)
        printf("%s%s%s %s", k ? ", " : "", t->columns[k].name,
               stored_note(p, t->columns[k].name, 0, note, sizeof note),
               sl_type_name(t->columns[k].type));
    if (p->source_ops->serve && !p->source_ops->drain)
        printf("%sothers from the events, as text; each event kept whole in its event_column\n",
               t->ncolumns ? "; " : "");
    else if (p->source_ops->schema)
        printf("%sothers as the source table declares them\n", t->ncolumns ? "; " : "");
    else
        printf("%sothers inferred from the first drop\n", t->ncolumns ? "; " : "");
    if (t->npaths) {
        printf("    paths:");
        for (size_t k = 0; k < t->npaths; k++)
            printf("%s %s <- %s", k ? "," : "", t->paths[k].name, t->paths[k].path);
        printf("\n");
    }
    for (size_t k = 0; k < t->nprotect; k++) {
        const struct sl_protect_col *pc = &t->protect[k];
        printf("    protect %s: %s: %s", pc->name, sl_protect_kinds[pc->kind],
               sl_protect_doc(pc->kind));
        if (pc->kind == SL_PROTECT_HASH)
            printf(", keyed by $%s", p->protect_key);
        printf(pc->kind == SL_PROTECT_DROP ? "; gates never see it\n"
                                           : "; gates and keys see the protected value\n");
    }
    if (verbose)
        printf("    %-42s # %s\n", "protect: (a mapping)",
               "column: hash | drop | mask, applied as rows are read, before any gate");
    if (p->source_ops->plan) {
        struct sl_table_plan tp;
        table_plan(c, p, t, offline, &tp);
        if (tp.line[0])
            printf("    %s\n", tp.line);
        if (tp.index_line[0])
            printf("    %s\n", tp.index_line);
    }
    if (!t->ngates)
        printf("    gates: none\n");
    for (size_t k = 0; k < t->ngates; k++)
        print_gate(&t->gates[k], verbose);
}

static void print_probe(const struct sl_pipeline_cfg *p, const struct sl_probe *pr, int offline)
{
    if (!p->source_ops->probe)
        return;
    if (offline || !pr) {
        printf("  source checks: not looked at (--offline)\n");
        return;
    }
    printf("  source checks:\n");
    for (size_t i = 0; i < pr->n; i++) {
        const struct sl_probe_item *it = &pr->items[i];
        printf("    %-8s %s: %s\n", sl_probe_status_name(it->status), it->check, it->detail);
        if (it->fix)
            printf("             fix: %s\n", it->fix);
    }
}

static void print_plan(const struct sl_config *c, const struct sl_probe *const *probes,
                       int verbose, int offline)
{
    char buf[1024];
    printf("config %s: ok\n", c->path);
    struct block hb = {"http", sl_config_keys("http"), c, 0, NULL, NULL, NULL};
    if (c->http_listen || c->http_token || verbose) {
        printf("\n");
        print_block("", &hb, verbose, 0);
    }
    if (c->nalerts || verbose)
        printf("\nalerts%s\n", c->nalerts ? "" : ": none");
    for (size_t i = 0; i < c->nalerts; i++) {
        char title[32];
        snprintf(title, sizeof title, "alert #%zu", i + 1);
        struct block ab = {title, sl_config_keys("alert"), &c->alerts[i], 1, NULL, NULL, NULL};
        print_block("  ", &ab, verbose, 1);
    }
    if (!c->nalerts && verbose) {
        struct block ab = {"each alert", sl_config_keys("alert"), NULL, 1, NULL, NULL, NULL};
        print_block("  ", &ab, verbose, 1);
    }
    printf("\nconnections\n");
    for (size_t i = 0; i < c->nconnections; i++) {
        const struct sl_connection_cfg *cn = &c->connections[i];
        sl_redact(cn->url, buf, sizeof buf);
        printf("  %-20s %s%s", cn->name, buf, cn->password ? " password=***" : "");
        if (cn->region)
            printf(" region=%s", cn->region);
        for (size_t k = 0; k < cn->accepts.n; k++)
            printf("%s%s%s", k ? ", " : " accepts=[", cn->accepts.items[k],
                   k + 1 == cn->accepts.n ? "]" : "");
        printf("\n");
        if (verbose) {
            struct block cb = {cn->name, sl_config_keys("connection"), cn, 0, NULL, NULL, NULL};
            print_block("    ", &cb, verbose, 1);
        }
    }
    for (size_t i = 0; i < c->npipelines; i++) {
        const struct sl_pipeline_cfg *p = &c->pipelines[i];
        printf("\npipeline %s -> %s", p->name, p->destination);
        char span[32];
        if (p->every > 0)
            printf(" (every %s%s)", duration_text(p->every, span, sizeof span),
                   p->every_default ? ": the default for a database source; set schedule:"
                                      " to change it" : "");
        if (p->stale_after > 0)
            printf(" (stale after %s)", duration_text(p->stale_after, span, sizeof span));
        printf("\n");
        struct block pb = {"pipeline", sl_config_keys("pipeline"), p, 0, NULL, name_only, NULL};
        print_block("  ", &pb, verbose, 0);
        struct block snap = {"snapshots", sl_config_keys("snapshots"),
                             p->snapshot_every > 0 ? p : NULL, 0, NULL, NULL, NULL};
        struct block rec = {"reconcile", sl_config_keys("reconcile"),
                            p->reconcile_every > 0 ? p : NULL, 0, NULL, NULL, NULL};
        print_block("  ", &snap, verbose, 0);
        print_block("  ", &rec, verbose, 0);
        char title[64];
        snprintf(title, sizeof title, "source %s", p->source_kind);
        struct block sb = {title, p->source_ops->keys, p->source_ctx, 0, NULL, NULL, NULL};
        print_block("  ", &sb, verbose, 1);
        for (const struct sl_source_block *bl = p->source_ops->blocks; bl && bl->key; bl++) {
            struct block sub = source_sub(p, bl, title, sizeof title);
            print_block("  ", &sub, verbose, 0);
        }
        for (size_t j = 0; j < p->ntables; j++)
            print_table(c, p, &p->tables[j], verbose, offline);
        print_probe(p, probes[i], offline);
    }
}

/* Each pipeline's source looked at, where it can say what it needs; the
 * pipelines with something missing are told on stderr. Returns how many. */
static size_t probe_sources(const struct sl_config *c, struct sl_probe *probes,
                            const struct sl_probe **at)
{
    size_t bad = 0;
    for (size_t i = 0; i < c->npipelines; i++) {
        const struct sl_pipeline_cfg *p = &c->pipelines[i];
        at[i] = NULL;
        if (!p->source_ops->probe)
            continue;
        struct sl_err err;
        sl_err_clear(&err);
        if (p->source_ops->probe(c, p, PROBE_TIMEOUT, &probes[i], &err) < 0) {
            /* could not look at all: that is the one line */
            sl_probe_free(&probes[i]);
            sl_probe_add(&probes[i], "connect", NULL, SL_PROBE_MISSING, NULL, "%s", err.msg);
        }
        at[i] = &probes[i];
        size_t n = sl_probe_missing(&probes[i]);
        if (n || probes[i].oom) {
            bad++;
            fprintf(stderr, "sluice: pipeline \"%s\": the source is not ready: %zu of its checks"
                    " say missing (the fix, where there is one, is under each)\n", p->name, n);
        }
    }
    return bad;
}

int sl_cmd_check(int argc, char **argv)
{
    struct sl_cli_opts o;
    if (sl_cli_parse(argc, argv, "sluice check CONFIG [--json] [--verbose] [--offline]",
                     "json,verbose,offline", &o) < 0)
        return 2;
    struct sl_config *c = sl_cli_load_config_alerting(o.config);
    sl_free(o.args);
    if (!c)
        return 2;
    size_t np = c->npipelines ? c->npipelines : 1, bad = 0;
    struct sl_probe *probes = sl_calloc(np, sizeof *probes);
    const struct sl_probe **at = sl_calloc(np, sizeof *at);
    if (!probes || !at) {
        fprintf(stderr, "sluice: out of memory\n");
        sl_free(probes);
        sl_free(at);
        sl_config_free(c);
        return 2;
    }
    if (!o.offline)
        bad = probe_sources(c, probes, at);
    if (o.json) {
        json_t *j = plan_json(c, at, o.verbose, o.offline);
        json_object_set_new(j, "offline", json_boolean(o.offline));
        char *s = json_dumps(j, JSON_INDENT(2));
        printf("%s\n", s ? s : "{}");
        free(s);
        json_decref(j);
    } else {
        print_plan(c, at, o.verbose, o.offline);
    }
    for (size_t i = 0; i < np; i++)
        sl_probe_free(&probes[i]);
    sl_free(probes);
    sl_free(at);
    sl_config_free(c);
    return bad ? 2 : 0;
}
