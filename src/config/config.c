/* config/config.c: the YAML config (config.h) read into structs and checked.
 *
 * Called once per command through sl_config_load (cli/common.c); everything
 * else reads the structs. Each block goes through cfgmap.c's key tables, so
 * unknown keys, defaults and type errors read the same everywhere; this file
 * adds what ties blocks together: a destination names a connection, a
 * table's kind needs its keys, names are unique. The first error stops the
 * load and names file:line:column. The config owns every string in it. */
#include "config/config.h"

#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/yaml.h"
#include "base/mem.h"
#include "pg/pg.h"
#include "base/redact.h"
#include "destinations/destination.h"
#include "gates/gate.h"
#include "model/protect.h"
#include "sources/source.h"

_Static_assert(sizeof(enum sl_table_kind) == sizeof(int),
               "table kind is filled as an SL_CFG_ENUM int");

#define NAME_MAX_SHOWN 128      /* of a name inside "pipeline \"...\"" */
#define OWNER_LEN (NAME_MAX_SHOWN + 32)     /* 'pipeline "..."', 'table "..."' */

struct build {
    const char *file;
    struct sl_config *c;
    struct sl_err *err;
};

/* ---- key tables ---- */

static const struct sl_cfg_key http_keys[] = {
    {"listen", SL_CFG_STR, offsetof(struct sl_config, http_listen), NULL, 0, NULL,
     "admin address HOST:PORT for /metrics, /api/status and the dashboard"},
    {"token", SL_CFG_STR, offsetof(struct sl_config, http_token), NULL, 0, NULL,
     "bearer token the admin API asks for"},
    {"hosts", SL_CFG_STRLIST, offsetof(struct sl_config, http_hosts), NULL, 0, NULL,
     "names clients may use in Host besides localhost and IP addresses (admin and collectors)"},
    {"timeout", SL_CFG_DURATION, offsetof(struct sl_config, http_timeout), "30s", 0, NULL,
     "a request's headers and body must arrive within this; idle connections close after it"},
    {"max_connections", SL_CFG_INT, offsetof(struct sl_config, http_max_conns), "1000", 0, NULL,
     "open connections per server (admin, each collector address)"},
    {"max_connections_per_client", SL_CFG_INT, offsetof(struct sl_config, http_max_per_client),
     "100", 0, NULL, "open connections one client address may hold; past it 503"},
    {NULL, 0, 0, NULL, 0, NULL, NULL},
};

static const char *const alert_formats[] = {"generic", "slack", "pagerduty", NULL};

static const struct sl_cfg_key alert_keys[] = {
    {"url", SL_CFG_STR, offsetof(struct sl_alert_cfg, url), NULL, 1, NULL,
     "webhook to POST alerts to"},
    {"format", SL_CFG_STR, offsetof(struct sl_alert_cfg, format), "generic", 0, NULL,
     "generic | slack | pagerduty"},
    {"routing_key", SL_CFG_STR, offsetof(struct sl_alert_cfg, routing_key), NULL, 0, NULL,
     "PagerDuty integration key (format pagerduty)"},
    {NULL, 0, 0, NULL, 0, NULL, NULL},
};

static const struct sl_cfg_key conn_keys[] = {
    {"url", SL_CFG_STR, offsetof(struct sl_connection_cfg, url), NULL, 1, NULL,
     "postgresql://user@host:port/db?... or sqlite://file.db"},
    {"password", SL_CFG_STR, offsetof(struct sl_connection_cfg, password), NULL, 0, NULL,
     "password, overriding the URL's (use ${VAR})"},
    {"region", SL_CFG_STR, offsetof(struct sl_connection_cfg, region), NULL, 0, NULL,
     "the region it keeps data in (eu, us ...): pipelines of another region may not write here"},
    {"accepts", SL_CFG_STRLIST, offsetof(struct sl_connection_cfg, accepts), NULL, 0, NULL,
     "regions whose pipelines may write here besides its own, e.g. [eu, us]"},
    {NULL, 0, 0, NULL, 0, NULL, NULL},
};

static const struct sl_cfg_key pipeline_keys[] = {
    {"name", SL_CFG_STR, offsetof(struct sl_pipeline_cfg, name), NULL, 1, NULL,
     "the pipeline's name: letters, digits, _ and -"},
    {"destination", SL_CFG_STR, offsetof(struct sl_pipeline_cfg, destination), NULL, 1, NULL,
     "the connection the tables load into"},
    {"schedule", SL_CFG_STR, offsetof(struct sl_pipeline_cfg, schedule), NULL, 0, NULL,
     "\"every 5m\": how often `sluice daemon` runs it; default: on demand"},
    {"stale_after", SL_CFG_DURATION, offsetof(struct sl_pipeline_cfg, stale_after), NULL, 0, NULL,
     "a table with no committed batch for this long is stale: `sluice daemon` alerts"},
    {"lock_wait", SL_CFG_DURATION, offsetof(struct sl_pipeline_cfg, lock_wait), "1m", 0, NULL,
     "how long a run waits for a table another run is loading before it skips it"},
    {"region", SL_CFG_STR, offsetof(struct sl_pipeline_cfg, region), NULL, 0, NULL,
     "where its data may live (eu, us ...): its destination must be of this region or accept it"},
    {"protect_key", SL_CFG_STR, offsetof(struct sl_pipeline_cfg, protect_key),
     SL_PROTECT_KEY_ENV, 0, NULL,
     "the environment variable holding the key of its protect: hash columns (16 bytes or more)"},
    {NULL, 0, 0, NULL, 0, NULL, NULL},
};
static const char *const pipeline_also[] = {"source", "tables", "snapshots", "reconcile", NULL};

static const struct sl_cfg_key snapshot_keys[] = {
    {"every", SL_CFG_DURATION, offsetof(struct sl_pipeline_cfg, snapshot_every), NULL, 1, NULL,
     "how often to keep a snapshot of each table"},
    {"keep", SL_CFG_INT, offsetof(struct sl_pipeline_cfg, snapshot_keep), "7", 0, NULL,
     "how many snapshots to keep per table"},
    {NULL, 0, 0, NULL, 0, NULL, NULL},
};

static const struct sl_cfg_key reconcile_keys[] = {
    {"every", SL_CFG_DURATION, offsetof(struct sl_pipeline_cfg, reconcile_every), NULL, 1, NULL,
     "how often to compare source and destination"},
    {NULL, 0, 0, NULL, 0, NULL, NULL},
};

static const char *const table_modes[] = {"insert_only", "updater", NULL};
static const char *const delete_modes[] = {"hard", "soft", NULL};

static const struct sl_cfg_key table_keys[] = {
    {"name", SL_CFG_STR, offsetof(struct sl_table_cfg, name), NULL, 1, NULL,
     "destination table, may be schema.table"},
    {"kind", SL_CFG_ENUM, offsetof(struct sl_table_cfg, kind), NULL, 1, sl_table_kinds,
     "snapshot | versioned | append | incremental | cdc"},
    {"primary_key", SL_CFG_STRLIST, offsetof(struct sl_table_cfg, primary_key), NULL, 0, NULL,
     "the columns that identify a row"},
    {"version_key", SL_CFG_STR, offsetof(struct sl_table_cfg, version_key), NULL, 0, NULL,
     "versioned: for each key the row with the highest value wins"},
    {"pattern", SL_CFG_STR, offsetof(struct sl_table_cfg, pattern), NULL, 0, NULL,
     "files source: glob of this table's drops"},
    {"source_table", SL_CFG_STR, offsetof(struct sl_table_cfg, source_table), NULL, 0, NULL,
     "database sources: the table read; default: name"},
    {"mode", SL_CFG_STR, offsetof(struct sl_table_cfg, mode), NULL, 0, NULL,
     "incremental: insert_only | updater"},
    {"cursor", SL_CFG_STRLIST, offsetof(struct sl_table_cfg, cursor), NULL, 0, NULL,
     "incremental: the columns that order new rows, e.g. [updated_at, id]"},
    {"boundary", SL_CFG_DURATION, offsetof(struct sl_table_cfg, boundary), "10m", 0, NULL,
     "incremental: re-read rows this recent, as they may still be written"},
    {"batch_limit", SL_CFG_INT, offsetof(struct sl_table_cfg, batch_limit), NULL, 0, NULL,
     "incremental: most rows per batch; default: no limit"},
    {"deletes", SL_CFG_ENUM, offsetof(struct sl_table_cfg, soft_deletes), "hard", 0, delete_modes,
     "cdc: hard (a deleted row is removed) | soft (kept, with _sluice_deleted_at)"},
    {NULL, 0, 0, NULL, 0, NULL, NULL},
};
static const char *const table_also[] = {"columns", "gates", "paths", "protect", NULL};
/* keys that mean something only for kind incremental */
static const char *const incremental_only[] = {"mode", "cursor", "boundary", "batch_limit",
                                               NULL};
/* sources that hand over batches rather than a table to query */
static const char *const non_database_sources[] = {"files", "http", "jetstream", NULL};

static const char *const top_also[] = {"http", "alerts", "connections", "pipelines", NULL};

static const char *const type_names[] = {"bigint", "double", "numeric", "text", "bool",
                                         "timestamptz", "date", "json", NULL};
/* what "did you mean" may suggest: the names above and the common aliases */
static const char *const type_hints[] = {"bigint", "double", "numeric", "text", "bool",
                                         "timestamptz", "date", "json", "boolean", "integer",
                                         "int", "float", "string", "timestamp", NULL};

/* ---- helpers ---- */

static int fail(struct build *B, int line, int col, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int fail(struct build *B, int line, int col, const char *fmt, ...)
{
    char msg[1800];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return sl_yaml_err(B->err, B->file, line, col, "%s", msg);
}

static int oom(struct build *B)
{
    return sl_yaml_nomem(B->err, B->file);
}

static int is_null(const struct sl_yaml_node *n)
{
    return !n || (n->type == SL_YAML_SCALAR && n->is_null);
}

static size_t count(const char *const *names)
{
    size_t n = 0;
    while (names[n])
        n++;
    return n;
}

/* "a, b, c" into buf. */
static void join_names(char *buf, size_t len, const char *const *names, size_t n)
{
    size_t used = 0;

    buf[0] = '\0';
    for (size_t i = 0; i < n && used < len; i++) {
        int w = snprintf(buf + used, len - used, "%s%s", i ? ", " : "", names[i]);
        if (w < 0)
            break;
        used += (size_t)w;
    }
}

/* "; did you mean \"x\"?" when a name is close to word, else "". */
static void hint(char *buf, size_t len, const char *word, const char *const *names, size_t n)
{
    long best = sl_yaml_closest(word, names, n);

    if (best >= 0)
        snprintf(buf, len, "; did you mean \"%s\"?", names[best]);
    else if (len)
        buf[0] = '\0';
}

/* Owner strings: 'pipeline "x"', or 'pipeline #2' before the name is known. */
static void name_of(char *buf, size_t len, const char *what, const struct sl_yaml_node *map,
                    size_t index)
{
    const char *name = sl_yaml_str(sl_yaml_get(map, "name"));

    if (name && *name)
        snprintf(buf, len, "%s \"%.*s\"", what, NAME_MAX_SHOWN, name);
    else
        snprintf(buf, len, "%s #%zu", what, index + 1);
}

/* A value checked against a list, worded like SL_CFG_ENUM's errors. */
static int check_choice(struct build *B, const struct sl_yaml_node *n, const char *prefix,
                        const char *key, const char *const *choices)
{
    char names[256], found[96], h[128];
    size_t nc = count(choices);

    for (size_t i = 0; i < nc; i++)
        if (strcmp(n->value, choices[i]) == 0)
            return 0;
    join_names(names, sizeof names, choices, nc);
    sl_yaml_describe(n, found, sizeof found);
    hint(h, sizeof h, n->value, choices, nc);
    return fail(B, n->line, n->col, "%skey \"%s\": expected one of %s, found %s%s", prefix, key,
                names, found, h);
}

static int list_has(const struct sl_strlist *l, const char *s)
{
    for (size_t i = 0; i < l->n; i++)
        if (strcmp(l->items[i], s) == 0)
            return 1;
    return 0;
}

static int valid_name(const char *s);

static int starts_with(const char *s, const char *p)
{
    return strncmp(s, p, strlen(p)) == 0;
}

/* ---- http, alerts, connections ---- */

static int load_http(struct build *B, const struct sl_yaml_node *n)
{
    if (sl_cfg_fill_ex(http_keys, B->c, n, B->file, NULL, "http", NULL, B->err) < 0)
        return -1;
    const struct sl_yaml_node *tok = sl_yaml_get(n, "token");
    if (sl_redact_add(B->c->http_token) < 0)
        return oom(B);
    if (B->c->http_token && !B->c->http_token[0])
        return fail(B, tok->line, tok->col,
                    "http: key \"token\": is empty (is its environment variable set to \"\"?); "
                    "set a token or remove the key");
    if (B->c->http_timeout <= 0) {
        const struct sl_yaml_node *k = sl_yaml_get(n, "timeout");
        return fail(B, k->line, k->col, "http: key \"timeout\": expected a positive duration "
                    "like 30s");
    }
    if (B->c->http_max_conns < 1 || B->c->http_max_per_client < 1) {
        const struct sl_yaml_node *k = sl_yaml_get(n, B->c->http_max_conns < 1 ? "max_connections"
                                                   : "max_connections_per_client");
        return fail(B, k->line, k->col, "http: key \"%s\": expected a positive whole number",
                    B->c->http_max_conns < 1 ? "max_connections" : "max_connections_per_client");
    }
    return 0;
}

static int load_alerts(struct build *B, const struct sl_yaml_node *n)
{
    char found[96], what[32];

    if (n->type != SL_YAML_SEQ) {
        sl_yaml_describe(n, found, sizeof found);
        return fail(B, n->line, n->col, "key \"alerts\": expected a list of alerts, found %s",
                    found);
    }
    if (!n->nitems)
        return 0;
    B->c->alerts = sl_calloc(n->nitems, sizeof *B->c->alerts);
    if (!B->c->alerts)
        return oom(B);
    B->c->nalerts = n->nitems;
    for (size_t i = 0; i < n->nitems; i++) {
        const struct sl_yaml_node *it = n->items[i];
        struct sl_alert_cfg *a = &B->c->alerts[i];
        snprintf(what, sizeof what, "alert #%zu", i + 1);
        if (it->type != SL_YAML_MAP) {
            sl_yaml_describe(it, found, sizeof found);
            return fail(B, it->line, it->col, "%s: expected a mapping of keys, found %s", what,
                        found);
        }
        /* a secret of the alert (its URL, its key) may be unset where
         * nothing is sent: kept as the reason it cannot be */
        const struct sl_yaml_node *url = sl_yaml_get(it, "url");
        const struct sl_yaml_node *key = sl_yaml_get(it, "routing_key");
        const char *unset = url && url->unset ? url->unset : key && key->unset ? key->unset : NULL;
        if (unset && !(a->unset = sl_strdup(unset)))
            return oom(B);
        if (sl_cfg_fill_ex(alert_keys, a, it, B->file, NULL, what, NULL, B->err) < 0)
            return -1;
        /* webhook URLs often are secrets (Slack's): never echo one */
        if (!(url && url->unset) && !starts_with(a->url, "http://") &&
            !starts_with(a->url, "https://"))
            return fail(B, url->line, url->col,
                        "%s: key \"url\": expected an http:// or https:// URL", what);
        const struct sl_yaml_node *fmt = sl_yaml_get(it, "format");
        char prefix[64];
        snprintf(prefix, sizeof prefix, "%s: ", what);
        if (!is_null(fmt) && check_choice(B, fmt, prefix, "format", alert_formats) < 0)
            return -1;
        if (strcmp(a->format, "pagerduty") == 0 && !a->routing_key)
            return fail(B, it->line, it->col,
                        "%s: format pagerduty needs key \"routing_key\" (the integration key)",
                        what);
    }
    return 0;
}

static int load_connections(struct build *B, const struct sl_yaml_node *n)
{
    static const char *const schemes[] = {"postgresql://", "postgres://", "sqlite://"};
    char found[96], what[NAME_MAX_SHOWN + 32];

    if (n->type != SL_YAML_MAP) {
        sl_yaml_describe(n, found, sizeof found);
        return fail(B, n->line, n->col,
                    "key \"connections\": expected a mapping of names to { url: ... }, found %s",
                    found);
    }
    if (!n->nentries)
        return 0;
    B->c->connections = sl_calloc(n->nentries, sizeof *B->c->connections);
    if (!B->c->connections)
        return oom(B);
    B->c->nconnections = n->nentries;
    for (size_t i = 0; i < n->nentries; i++) {
        const struct sl_yaml_entry *e = &n->entries[i];
        struct sl_connection_cfg *cn = &B->c->connections[i];
        const struct sl_yaml_node *url;
        cn->pos.line = e->line;
        cn->pos.col = e->col;
        cn->name = sl_strdup(e->key);
        if (!cn->name)
            return oom(B);
        snprintf(what, sizeof what, "connection \"%.*s\"", NAME_MAX_SHOWN, e->key);
        if (!e->key[0])
            return fail(B, e->line, e->col, "a connection needs a name");
        if (e->value->type == SL_YAML_SCALAR && !e->value->is_null) {
            /* shorthand: `warehouse: sqlite://warehouse.db` */
            cn->url = sl_strdup(e->value->value);
            if (!cn->url)
                return oom(B);
            url = e->value;
        } else {
            if (is_null(e->value))
                return fail(B, e->line, e->col, "%s: missing required key \"url\"", what);
            if (sl_cfg_fill_ex(conn_keys, cn, e->value, B->file, NULL, what, NULL, B->err) < 0)
                return -1;
            url = sl_yaml_get(e->value, "url");
        }
        /* from here on no message, log line or API answer shows them */
        if (sl_redact_add_conninfo(cn->url) < 0 || sl_redact_add(cn->password) < 0)
            return oom(B);
        size_t s;
        for (s = 0; s < sizeof schemes / sizeof schemes[0]; s++)
            if (starts_with(cn->url, schemes[s]))
                break;
        if (s == sizeof schemes / sizeof schemes[0]) {
            /* a URL may hold a password: show its scheme only */
            const char *sep = strstr(cn->url, "://");
            if (sep && sep - cn->url <= 32)
                snprintf(found, sizeof found, "\"%.*s://...\"", (int)(sep - cn->url), cn->url);
            else
                snprintf(found, sizeof found, "a value without a scheme");
            return fail(B, url->line, url->col,
                        "%s: key \"url\": expected a URL starting with postgresql://, "
                        "postgres:// or sqlite://, found %s", what, found);
        }
        if (s == 2 && !cn->url[strlen("sqlite://")])
            return fail(B, url->line, url->col,
                        "%s: key \"url\": sqlite:// needs a file path, like "
                        "sqlite://warehouse.db", what);
        char why[512];
        if (s < 2 && sl_pg_conninfo_check(cn->url, why, sizeof why) < 0)
            return fail(B, url->line, url->col,
                        "%s: key \"url\": not a valid PostgreSQL connection URL: %s (write it as "
                        "postgresql://user@host:port/dbname?param=value, percent-encoding "
                        "special characters)", what, why);
    }
    return 0;
}

/* ---- tables ---- */

static int load_columns(struct build *B, struct sl_table_cfg *t, const struct sl_yaml_node *n,
                        const char *prefix)
{
    char found[96], names[256], h[128];

    if (n->type != SL_YAML_MAP) {
        sl_yaml_describe(n, found, sizeof found);
        return fail(B, n->line, n->col,
                    "%skey \"columns\": expected a mapping of column names to types, found %s",
                    prefix, found);
    }
    if (!n->nentries)
        return 0;
    t->columns = sl_calloc(n->nentries, sizeof *t->columns);
    if (!t->columns)
        return oom(B);
    t->ncolumns = n->nentries;
    for (size_t i = 0; i < n->nentries; i++) {
        const struct sl_yaml_entry *e = &n->entries[i];
        const struct sl_yaml_node *v = e->value;
        t->columns[i].name = sl_strdup(e->key);
        if (!t->columns[i].name)
            return oom(B);
        if (!e->key[0])
            return fail(B, e->line, e->col, "%scolumns: a column needs a name", prefix);
        if (sl_reserved_column(e->key))
            return fail(B, e->line, e->col, "%scolumn \"%.*s\" is reserved: %s", prefix,
                        NAME_MAX_SHOWN, e->key, SL_RESERVED_COLUMN_WHY);
        if (v->type != SL_YAML_SCALAR || v->is_null) {
            sl_yaml_describe(v, found, sizeof found);
            return fail(B, v->line, v->col,
                        "%scolumn \"%.*s\": expected a type name, found %s", prefix,
                        NAME_MAX_SHOWN, e->key, found);
        }
        if (sl_type_from_name(v->value, &t->columns[i].type) < 0) {
            join_names(names, sizeof names, type_names, count(type_names));
            hint(h, sizeof h, v->value, type_hints, count(type_hints));
            sl_yaml_describe(v, found, sizeof found);
            return fail(B, v->line, v->col,
                        "%scolumn \"%.*s\": unknown type %s (expected one of: %s)%s", prefix,
                        NAME_MAX_SHOWN, e->key, found, names, h);
        }
    }
    return 0;
}

/* `paths: { column: json.path }`, for event sources only. */
static int load_paths(struct build *B, const struct sl_pipeline_cfg *p, struct sl_table_cfg *t,
                      const struct sl_yaml_node *n, const char *prefix)
{
    char found[96];

    if (p->source_kind && strcmp(p->source_kind, "http") != 0 &&
        strcmp(p->source_kind, "jetstream") != 0)
        return fail(B, n->line, n->col,
                    "%skey \"paths\" applies to event sources (http, jetstream); this "
                    "pipeline's source is %s", prefix, p->source_kind);
    if (n->type != SL_YAML_MAP) {
        sl_yaml_describe(n, found, sizeof found);
        return fail(B, n->line, n->col,
                    "%skey \"paths\": expected a mapping of column names to JSON paths "
                    "(amount: order.total), found %s", prefix, found);
    }
    if (!n->nentries)
        return 0;
    t->paths = sl_calloc(n->nentries, sizeof *t->paths);
    if (!t->paths)
        return oom(B);
    t->npaths = n->nentries;
    for (size_t i = 0; i < n->nentries; i++) {
        const struct sl_yaml_entry *e = &n->entries[i];
        const struct sl_yaml_node *v = e->value;
        struct sl_column_path *cp = &t->paths[i];
        cp->pos.line = v->line;
        cp->pos.col = v->col;
        if (!(cp->name = sl_strdup(e->key)))
            return oom(B);
        if (!e->key[0])
            return fail(B, e->line, e->col, "%spaths: a column needs a name", prefix);
        if (sl_reserved_column(e->key))
            return fail(B, e->line, e->col, "%spaths: column \"%.*s\" is reserved: %s", prefix,
                        NAME_MAX_SHOWN, e->key, SL_RESERVED_COLUMN_WHY);
        if (v->type != SL_YAML_SCALAR || v->is_null || !v->value[0]) {
            sl_yaml_describe(v, found, sizeof found);
            return fail(B, v->line, v->col,
                        "%spaths: column \"%.*s\": expected a JSON path like order.total, "
                        "found %s", prefix, NAME_MAX_SHOWN, e->key, found);
        }
        if (!(cp->path = sl_strdup(v->value)))
            return oom(B);
    }
    return 0;
}

/* `protect: { email: hash, ssn: drop, phone: mask }` (model/protect.h). */
static int load_protect(struct build *B, struct sl_table_cfg *t, const struct sl_yaml_node *n,
                        const char *prefix)
{
    char found[96], names[128], h[128];
    size_t nk = count(sl_protect_kinds);

    join_names(names, sizeof names, sl_protect_kinds, nk);
    if (n->type != SL_YAML_MAP) {
        sl_yaml_describe(n, found, sizeof found);
        return fail(B, n->line, n->col,
                    "%skey \"protect\": expected a mapping of column names to %s, found %s",
                    prefix, names, found);
    }
    if (!n->nentries)
        return 0;
    if (!(t->protect = sl_calloc(n->nentries, sizeof *t->protect)))
        return oom(B);
    for (size_t i = 0; i < n->nentries; i++) {
        const struct sl_yaml_entry *e = &n->entries[i];
        const struct sl_yaml_node *v = e->value;
        struct sl_protect_col *pc = &t->protect[i];
        pc->pos.line = e->line;
        pc->pos.col = e->col;
        if (!(pc->name = sl_strdup(e->key)))
            return oom(B);
        t->nprotect = i + 1;
        if (!e->key[0])
            return fail(B, e->line, e->col, "%sprotect: a column needs a name", prefix);
        if (sl_reserved_column(e->key))
            return fail(B, e->line, e->col, "%sprotect: column \"%.*s\" is reserved: %s", prefix,
                        NAME_MAX_SHOWN, e->key, SL_RESERVED_COLUMN_WHY);
        size_t k = 0;
        while (v->type == SL_YAML_SCALAR && !v->is_null && k < nk &&
               strcmp(v->value, sl_protect_kinds[k]) != 0)
            k++;
        if (v->type != SL_YAML_SCALAR || v->is_null || k == nk) {
            sl_yaml_describe(v, found, sizeof found);
            if (v->type == SL_YAML_SCALAR && !v->is_null)
                hint(h, sizeof h, v->value, sl_protect_kinds, nk);
            else
                h[0] = '\0';
            return fail(B, v->line, v->col,
                        "%sprotect: column \"%.*s\": unknown protection %s (expected one of: "
                        "%s)%s", prefix, NAME_MAX_SHOWN, e->key, found, names, h);
        }
        pc->kind = (enum sl_protect_kind)k;
    }
    return 0;
}

/* A protected column against the table's keys and declared types: a key
 * that is masked or dropped no longer identifies a row; a cursor or version
 * key must keep its order; hashed and masked values are text. */
static int check_protect(struct build *B, const struct sl_table_cfg *t, const char *prefix)
{
    for (size_t i = 0; i < t->nprotect; i++) {
        const struct sl_protect_col *pc = &t->protect[i];
        if (pc->kind != SL_PROTECT_HASH && list_has(&t->primary_key, pc->name))
            return fail(B, pc->pos.line, pc->pos.col,
                        "%sprotect: column \"%s\" is in the primary key: a %s key no longer "
                        "identifies a row (hash it: equal values hash the same)", prefix,
                        pc->name, pc->kind == SL_PROTECT_MASK ? "masked" : "dropped");
        if (list_has(&t->cursor, pc->name) ||
            (t->version_key && strcmp(t->version_key, pc->name) == 0))
            return fail(B, pc->pos.line, pc->pos.col,
                        "%sprotect: column \"%s\" is the table's %s: its order must stay "
                        "readable; protect another column", prefix, pc->name,
                        t->version_key && strcmp(t->version_key, pc->name) == 0 ? "version_key"
                                                                                 : "cursor");
        for (size_t k = 0; k < t->ncolumns; k++) {
            if (strcmp(t->columns[k].name, pc->name) != 0)
                continue;
            if (pc->kind == SL_PROTECT_DROP)
                return fail(B, pc->pos.line, pc->pos.col,
                            "%sprotect: column \"%s\" is dropped (never stored) and declared "
                            "under columns too; remove it from columns", prefix, pc->name);
            if (t->columns[k].type != SL_T_TEXT)
                return fail(B, pc->pos.line, pc->pos.col,
                            "%sprotect: column \"%s\" is declared %s, but a %s value is text;"
                            " declare it text or leave it out of columns", prefix, pc->name,
                            sl_type_name(t->columns[k].type),
                            pc->kind == SL_PROTECT_HASH ? "hashed" : "masked");
        }
    }
    return 0;
}

/* How a gate's settings are read: its key table for the mapping form (or no
 * value at all: every default), its own parse for any other form. */
static int load_gates(struct build *B, struct sl_table_cfg *t, const struct sl_yaml_node *n,
                      const char *owner, const char *prefix)
{
    char found[96], what[NAME_MAX_SHOWN + 16], names[512], h[128];

    if (n->type != SL_YAML_MAP) {
        sl_yaml_describe(n, found, sizeof found);
        return fail(B, n->line, n->col,
                    "%skey \"gates\": expected a mapping of gate names to their settings, "
                    "found %s", prefix, found);
    }
    if (!n->nentries)
        return 0;
    t->gates = sl_calloc(n->nentries, sizeof *t->gates);
    if (!t->gates)
        return oom(B);
    for (size_t i = 0; i < n->nentries; i++) {
        const struct sl_yaml_entry *e = &n->entries[i];
        const struct sl_yaml_node *v = e->value;
        struct sl_gate_cfg *g = &t->gates[i];
        struct sl_err ferr;
        sl_err_clear(&ferr);
        const struct sl_gate_ops *ops = sl_gate_find(e->key, &ferr);
        if (!ops) {
            const char *list[64];
            size_t ng = 0;
            for (const struct sl_gate_ops *o; ng < 64 && (o = sl_gate_at(ng)); ng++)
                list[ng] = o->name;
            join_names(names, sizeof names, list, ng);
            hint(h, sizeof h, e->key, list, ng);
            return fail(B, e->line, e->col, "%sunknown gate \"%.*s\" (there are: %s)%s", prefix,
                        NAME_MAX_SHOWN, e->key, ng ? names : "none", h);
        }
        g->ops = ops;
        g->pos.line = e->line;
        g->pos.col = e->col;
        g->ctx = sl_calloc(1, ops->ctx_size ? ops->ctx_size : 1);
        if (!g->ctx)
            return oom(B);
        t->ngates = i + 1;
        snprintf(what, sizeof what, "gate \"%s\"", ops->name);
        if ((v->type == SL_YAML_MAP || is_null(v)) && ops->keys) {
            if (sl_cfg_fill_ex(ops->keys, g->ctx, v, B->file, owner, what, NULL, B->err) < 0)
                return -1;
        } else if (ops->parse) {
            if (ops->parse(g->ctx, v, B->file, B->err) < 0)
                return -1;
        } else {
            sl_yaml_describe(v, found, sizeof found);
            return fail(B, v->line, v->col, "%s%s: expected a mapping of keys, found %s", prefix,
                        what, found);
        }
    }
    return 0;
}

/* A key list (primary_key, cursor) naming one of sluice's own columns. */
static int reserved_key_column(struct build *B, const struct sl_yaml_node *n, const char *key,
                               const struct sl_strlist *l, const char *prefix)
{
    for (size_t k = 0; k < l->n; k++) {
        if (!sl_reserved_column(l->items[k]))
            continue;
        const struct sl_yaml_node *v = sl_yaml_get(n, key);
        if (v->type == SL_YAML_SEQ && k < v->nitems)
            v = v->items[k];
        return fail(B, v->line, v->col, "%skey \"%s\": column \"%.*s\" is reserved: %s", prefix,
                    key, NAME_MAX_SHOWN, l->items[k], SL_RESERVED_COLUMN_WHY);
    }
    return 0;
}

static int load_table(struct build *B, struct sl_pipeline_cfg *p, size_t j,
                      const struct sl_yaml_node *n, const char *powner)
{
    struct sl_table_cfg *t = &p->tables[j];
    char tname[OWNER_LEN], owner[2 * OWNER_LEN + 8], prefix[2 * OWNER_LEN + 16], found[96];
    const struct sl_yaml_node *v;
    const struct sl_yaml_entry *e;

    t->pos.line = n->line;
    t->pos.col = n->col;
    name_of(tname, sizeof tname, "table", n, j);
    if (n->type != SL_YAML_MAP) {
        sl_yaml_describe(n, found, sizeof found);
        return fail(B, n->line, n->col, "%s: %s: expected a mapping of keys, found %s", powner,
                    tname, found);
    }
    if (sl_cfg_fill_ex(table_keys, t, n, B->file, powner, tname, table_also, B->err) < 0)
        return -1;
    snprintf(owner, sizeof owner, "%s: %s", powner, tname);
    snprintf(prefix, sizeof prefix, "%s: ", owner);
    for (size_t k = 0; k < j; k++) {
        if (strcmp(p->tables[k].name, t->name) == 0) {
            v = sl_yaml_get(n, "name");
            return fail(B, v->line, v->col, "%s: duplicate table name \"%.*s\" (first at %d:%d)",
                        powner, NAME_MAX_SHOWN, t->name, p->tables[k].pos.line,
                        p->tables[k].pos.col);
        }
    }
    if (sl_reserved_table(t->name)) {
        v = sl_yaml_get(n, "name");
        return fail(B, v->line, v->col, "%s: table name \"%.*s\" is reserved: %s", powner,
                    NAME_MAX_SHOWN, t->name, SL_RESERVED_TABLE_WHY);
    }
    if (reserved_key_column(B, n, "primary_key", &t->primary_key, prefix) < 0 ||
        reserved_key_column(B, n, "cursor", &t->cursor, prefix) < 0)
        return -1;
    if (t->version_key && sl_reserved_column(t->version_key)) {
        v = sl_yaml_get(n, "version_key");
        return fail(B, v->line, v->col, "%skey \"version_key\": column \"%.*s\" is reserved: %s",
                    prefix, NAME_MAX_SHOWN, t->version_key, SL_RESERVED_COLUMN_WHY);
    }
    if ((v = sl_yaml_get(n, "columns")) && !is_null(v) && load_columns(B, t, v, prefix) < 0)
        return -1;
    if ((v = sl_yaml_get(n, "paths")) && !is_null(v) && load_paths(B, p, t, v, prefix) < 0)
        return -1;
    if ((v = sl_yaml_get(n, "gates")) && !is_null(v) &&
        load_gates(B, t, v, owner, prefix) < 0)
        return -1;
    if ((v = sl_yaml_get(n, "protect")) && !is_null(v) && load_protect(B, t, v, prefix) < 0)
        return -1;

    if (t->kind != SL_KIND_INCREMENTAL) {
        for (const char *const *k = incremental_only; *k; k++) {
            e = sl_yaml_entry_of(n, *k);
            if (e && !is_null(e->value))
                return fail(B, e->line, e->col,
                            "%skey \"%s\" applies only to kind incremental (this table is %s)",
                            prefix, *k, sl_table_kind_name(t->kind));
        }
    }
    e = sl_yaml_entry_of(n, "deletes");
    if (t->kind != SL_KIND_CDC && e && !is_null(e->value))
        return fail(B, e->line, e->col, "%skey \"deletes\" applies only to kind cdc (this table"
                    " is %s)", prefix, sl_table_kind_name(t->kind));
    switch (t->kind) {
    case SL_KIND_CDC:
        if (!t->primary_key.n)
            return fail(B, n->line, n->col,
                        "%skind cdc needs key \"primary_key\" (the columns that identify the row"
                        " an update or delete applies to)", prefix);
        break;
    case SL_KIND_VERSIONED:
        if (!t->primary_key.n)
            return fail(B, n->line, n->col,
                        "%skind versioned needs key \"primary_key\" (the columns that identify "
                        "a row)", prefix);
        if (!t->version_key)
            return fail(B, n->line, n->col,
                        "%skind versioned needs key \"version_key\" (for each primary key, the "
                        "row with the highest version_key wins)", prefix);
        break;
    case SL_KIND_INCREMENTAL:
        for (const char *const *k = non_database_sources; *k; k++) {
            if (strcmp(p->source_kind, *k) == 0) {
                v = sl_yaml_get(n, "kind");
                return fail(B, v->line, v->col,
                            "%skind incremental needs a database source, and this pipeline's "
                            "source is %s (use snapshot, versioned or append)", prefix, *k);
            }
        }
        if (!t->cursor.n)
            return fail(B, n->line, n->col,
                        "%skind incremental needs key \"cursor\" (the columns that order new "
                        "rows, e.g. [updated_at, id])", prefix);
        if (!t->mode)
            return fail(B, n->line, n->col,
                        "%skind incremental needs key \"mode\" (insert_only or updater)", prefix);
        if (check_choice(B, sl_yaml_get(n, "mode"), prefix, "mode", table_modes) < 0)
            return -1;
        if (strcmp(t->mode, "updater") == 0 && !t->primary_key.n)
            return fail(B, n->line, n->col,
                        "%smode updater needs key \"primary_key\" (the columns that identify "
                        "the row to update)", prefix);
        e = sl_yaml_entry_of(n, "batch_limit");
        if (e && !is_null(e->value) && t->batch_limit < 1) {
            sl_yaml_describe(e->value, found, sizeof found);
            return fail(B, e->value->line, e->value->col,
                        "%skey \"batch_limit\": expected a positive whole number, found %s",
                        prefix, found);
        }
        break;
    default:
        break;
    }
    for (size_t k = 0; k < t->primary_key.n; k++) {
        if (!t->primary_key.items[k][0]) {
            v = sl_yaml_get(n, "primary_key");
            return fail(B, v->line, v->col, "%skey \"primary_key\": a column name is empty",
                        prefix);
        }
    }
    if (!t->source_table && !(t->source_table = sl_strdup(t->name)))
        return oom(B);
    if (check_protect(B, t, prefix) < 0)
        return -1;
    /* gates that depend on the table's kind and keys check them now, so
     * `sluice check` catches them rather than the first batch */
    for (size_t g = 0; g < t->ngates; g++) {
        const struct sl_gate_cfg *gc = &t->gates[g];
        struct sl_err gerr;
        sl_err_clear(&gerr);
        if (gc->ops->check && gc->ops->check(gc->ctx, t, &gerr) < 0) {
            /* the prefix names the table already */
            const char *msg = gerr.msg;
            char own[OWNER_LEN + 16];
            snprintf(own, sizeof own, "table \"%s\": ", t->name);
            if (strncmp(msg, own, strlen(own)) == 0)
                msg += strlen(own);
            return fail(B, gc->pos.line, gc->pos.col, "%s%s", prefix, msg);
        }
    }
    return 0;
}

/* ---- pipelines ---- */

static int parse_schedule(struct build *B, struct sl_pipeline_cfg *p,
                          const struct sl_yaml_node *n, const char *owner)
{
    const char *s = p->schedule;
    char found[96];

    if (strncmp(s, "every", 5) == 0 && (s[5] == ' ' || s[5] == '\t')) {
        s += 5;
        while (*s == ' ' || *s == '\t')
            s++;
        if (sl_duration_parse(s, &p->every) == 0 && p->every > 0)
            return 0;
    }
    sl_yaml_describe(n, found, sizeof found);
    return fail(B, n->line, n->col,
                "%s: key \"schedule\": expected \"every <duration>\" like \"every 5m\", found %s",
                owner, found);
}

static int load_source(struct build *B, struct sl_pipeline_cfg *p, const struct sl_yaml_node *pn,
                       const char *owner)
{
    const char *source_also[16] = {"kind", NULL};
    const struct sl_yaml_entry *e = sl_yaml_entry_of(pn, "source");
    const struct sl_yaml_node *n, *kind;
    const char *list[64];
    char found[96], names[512], h[128];
    size_t nk = 0;

    for (const struct sl_source_ops *o; nk < 64 && (o = sl_source_at(nk)); nk++)
        list[nk] = o->kind;
    join_names(names, sizeof names, list, nk);
    if (!e)
        return fail(B, pn->line, pn->col, "%s: missing required key \"source\"", owner);
    n = e->value;
    if (is_null(n))
        return fail(B, e->line, e->col, "%s: key \"source\" needs a value", owner);
    if (n->type != SL_YAML_MAP) {
        sl_yaml_describe(n, found, sizeof found);
        return fail(B, n->line, n->col,
                    "%s: source: expected a mapping with a kind (one of: %s), found %s", owner,
                    names, found);
    }
    kind = sl_yaml_get(n, "kind");
    if (!kind)
        return fail(B, n->line, n->col, "%s: source: missing required key \"kind\" (one of: %s)",
                    owner, names);
    if (kind->type != SL_YAML_SCALAR || kind->is_null) {
        sl_yaml_describe(kind, found, sizeof found);
        return fail(B, kind->line, kind->col,
                    "%s: source: key \"kind\": expected one of %s, found %s", owner, names, found);
    }
    struct sl_err ferr;
    sl_err_clear(&ferr);
    p->source_ops = sl_source_find(kind->value, &ferr);
    if (!p->source_ops) {
        hint(h, sizeof h, kind->value, list, nk);
        sl_yaml_describe(kind, found, sizeof found);
        return fail(B, kind->line, kind->col, "%s: source: unknown source kind %s (there are: "
                    "%s)%s", owner, found, names, h);
    }
    p->source_kind = sl_strdup(p->source_ops->kind);
    p->source_ctx = sl_calloc(1, p->source_ops->ctx_size ? p->source_ops->ctx_size : 1);
    if (!p->source_kind || !p->source_ctx)
        return oom(B);
    /* blocks: keys holding a mapping of their own, read with their key table */
    const struct sl_source_block *bl = p->source_ops->blocks;
    for (size_t i = 0; bl && bl[i].key && i + 2 < sizeof source_also / sizeof *source_also; i++)
        source_also[i + 1] = bl[i].key;
    if (sl_cfg_fill_ex(p->source_ops->keys, p->source_ctx, n, B->file, owner, "source",
                       source_also, B->err) < 0)
        return -1;
    for (size_t i = 0; bl && bl[i].key; i++) {
        const struct sl_yaml_node *v = sl_yaml_get(n, bl[i].key);
        char what[64];
        if (is_null(v))
            continue;
        snprintf(what, sizeof what, "source: %s", bl[i].key);
        if (v->type != SL_YAML_MAP) {
            sl_yaml_describe(v, found, sizeof found);
            return fail(B, v->line, v->col, "%s: %s: expected a mapping of keys, found %s",
                        owner, what, found);
        }
        if (sl_cfg_fill_ex(bl[i].keys, (char *)p->source_ctx + bl[i].offset, v, B->file, owner,
                           what, NULL, B->err) < 0)
            return -1;
        *(int *)((char *)p->source_ctx + bl[i].given) = 1;
    }
    /* a block may make it another source of the same keys (postgres with
     * cdc: reads the WAL instead of querying tables) */
    if (p->source_ops->variant)
        p->source_ops = p->source_ops->variant(p);
    /* a source's own secrets (a bearer token, a broker URL's password) */
    for (const struct sl_cfg_key *k = p->source_ops->keys; k && k->key; k++) {
        const char *v = k->type == SL_CFG_STR ?
            *(char *const *)((const char *)p->source_ctx + k->offset) : NULL;
        if (!v)
            continue;
        if (((strcmp(k->key, "token") == 0 || strcmp(k->key, "password") == 0) &&
             sl_redact_add(v) < 0) ||
            (strcmp(k->key, "url") == 0 && sl_redact_add_conninfo(v) < 0))
            return oom(B);
    }
    return 0;
}

static int load_destination(struct build *B, struct sl_pipeline_cfg *p,
                            const struct sl_yaml_node *pn, const char *owner)
{
    const struct sl_yaml_node *v = sl_yaml_get(pn, "destination");
    const struct sl_config *c = B->c;
    const char **list;
    char names[512], h[128];

    for (size_t i = 0; i < c->nconnections; i++) {
        if (strcmp(c->connections[i].name, p->destination) == 0) {
            p->dest_conn = &c->connections[i];
            return 0;
        }
    }
    if (!c->nconnections)
        return fail(B, v->line, v->col,
                    "%s: destination \"%.*s\" is not a connection (there are none: add it under "
                    "connections)", owner, NAME_MAX_SHOWN, p->destination);
    list = sl_calloc(c->nconnections, sizeof *list);
    if (!list)
        return oom(B);
    for (size_t i = 0; i < c->nconnections; i++)
        list[i] = c->connections[i].name;
    join_names(names, sizeof names, list, c->nconnections);
    hint(h, sizeof h, p->destination, list, c->nconnections);
    sl_free(list);
    return fail(B, v->line, v->col, "%s: destination \"%.*s\" is not a connection (there are: "
                "%s)%s", owner, NAME_MAX_SHOWN, p->destination, names, h);
}

/* The key of the pipeline's hashed columns, from the environment variable
 * protect_key names: refused when a table hashes a column and it is unset,
 * empty or short. The key is a secret: redacted from every output. */
static int load_hash_key(struct build *B, struct sl_pipeline_cfg *p, const struct sl_yaml_node *n,
                         const char *owner)
{
    const struct sl_protect_col *first = NULL;
    const struct sl_table_cfg *ft = NULL;
    for (size_t j = 0; j < p->ntables && !first; j++)
        for (size_t k = 0; k < p->tables[j].nprotect && !first; k++)
            if (p->tables[j].protect[k].kind == SL_PROTECT_HASH) {
                first = &p->tables[j].protect[k];
                ft = &p->tables[j];
            }
    if (!first)
        return 0;
    const struct sl_yaml_node *kn = sl_yaml_get(n, "protect_key");
    if (!p->protect_key[0] || !valid_name(p->protect_key))
        return fail(B, kn->line, kn->col, "%s: key \"protect_key\": expected the name of an "
                    "environment variable (letters, digits and _)", owner);
    const char *key = getenv(p->protect_key);
    size_t len = key ? strlen(key) : 0;
    if (len < 16)
        return fail(B, first->pos.line, first->pos.col,
                    "%s: table \"%s\": column \"%s\" is protected by hash, which needs a key: "
                    "the environment variable %s is %s; set it to a secret of 16 bytes or more "
                    "(or name another variable with protect_key:)", owner, ft->name,
                    first->name, p->protect_key, !key ? "not set" : !len ? "empty" : "shorter "
                    "than 16 bytes");
    if (!(p->hash_key = sl_strdup(key)) || sl_redact_add(key) < 0)
        return oom(B);
    p->hash_key_len = len;
    return 0;
}

/* region: the pipeline's data is written only to a connection of its region
 * or one that accepts it (the destination holds the rows, ledger, history,
 * dead letter). */
static int check_region(struct build *B, const struct sl_pipeline_cfg *p,
                        const struct sl_yaml_node *n, const char *owner)
{
    const struct sl_connection_cfg *cn = p->dest_conn;
    const struct sl_yaml_node *rn = sl_yaml_get(n, "region");
    if (!p->region || !cn)
        return 0;
    if (!p->region[0])
        return fail(B, rn->line, rn->col, "%s: key \"region\": expected a region name like eu",
                    owner);
    if (cn->region && (strcmp(cn->region, p->region) == 0 ||
                       list_has(&cn->accepts, p->region)))
        return 0;
    const struct sl_yaml_node *dn = sl_yaml_get(n, "destination");
    char acc[256];
    join_names(acc, sizeof acc, (const char *const *)cn->accepts.items, cn->accepts.n);
    if (!cn->region)
        return fail(B, dn->line, dn->col,
                    "%s: region %s: destination \"%s\" (at %d:%d) says no region, so its "
                    "data could be written outside region %s; give the connection region: %s "
                    "(or accepts: [%s])", owner, p->region, cn->name, cn->pos.line, cn->pos.col,
                    p->region, p->region, p->region);
    return fail(B, dn->line, dn->col,
                "%s: region %s: destination \"%s\" (at %d:%d) is in region %s%s%s, so the "
                "pipeline's data would be written outside region %s; write it to a connection "
                "of region %s, or add %s to the connection's accepts", owner, p->region,
                cn->name, cn->pos.line, cn->pos.col, cn->region,
                cn->accepts.n ? " and accepts only " : "",
                cn->accepts.n ? acc : "", p->region, p->region, p->region);
}

static int valid_name(const char *s)
{
    if (!*s)
        return 0;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
              *s == '_' || *s == '-'))
            return 0;
    return 1;
}

static int load_pipeline(struct build *B, size_t i, const struct sl_yaml_node *n)
{
    struct sl_pipeline_cfg *p = &B->c->pipelines[i];
    char owner[OWNER_LEN], found[96];
    const struct sl_yaml_node *v;
    const struct sl_yaml_entry *e;

    p->pos.line = n->line;
    p->pos.col = n->col;
    name_of(owner, sizeof owner, "pipeline", n, i);
    if (n->type != SL_YAML_MAP) {
        sl_yaml_describe(n, found, sizeof found);
        return fail(B, n->line, n->col, "%s: expected a mapping of keys, found %s", owner, found);
    }
    if (sl_cfg_fill_ex(pipeline_keys, p, n, B->file, owner, NULL, pipeline_also, B->err) < 0)
        return -1;
    v = sl_yaml_get(n, "name");
    if (!valid_name(p->name)) {
        sl_yaml_describe(v, found, sizeof found);
        return fail(B, v->line, v->col,
                    "pipeline name %s: use only letters, digits, _ and -", found);
    }
    for (size_t k = 0; k < i; k++)
        if (strcmp(B->c->pipelines[k].name, p->name) == 0)
            return fail(B, v->line, v->col, "duplicate pipeline name \"%s\" (first at %d:%d)",
                        p->name, B->c->pipelines[k].pos.line, B->c->pipelines[k].pos.col);
    if (load_source(B, p, n, owner) < 0)
        return -1;
    if (load_destination(B, p, n, owner) < 0)
        return -1;
    if (p->schedule && parse_schedule(B, p, sl_yaml_get(n, "schedule"), owner) < 0)
        return -1;
    /* a database is not a folder to watch: without a schedule the daemon
     * reads it every DEFAULT_DB_EVERY, not at every poll */
    if (!p->schedule && p->source_ops && p->source_ops->sql && !p->source_ops->serve) {
        p->every = SL_DEFAULT_DB_EVERY;
        p->every_default = 1;
    }

    if ((v = sl_yaml_get(n, "snapshots")) && !is_null(v)) {
        if (sl_cfg_fill_ex(snapshot_keys, p, v, B->file, owner, "snapshots", NULL, B->err) < 0)
            return -1;
        if (p->snapshot_every <= 0) {
            v = sl_yaml_get(v, "every");
            return fail(B, v->line, v->col,
                        "%s: snapshots: key \"every\": expected a duration above zero", owner);
        }
        if (p->snapshot_keep < 1) {
            v = sl_yaml_get(v, "keep");
            sl_yaml_describe(v, found, sizeof found);
            return fail(B, v->line, v->col,
                        "%s: snapshots: key \"keep\": expected a positive whole number, found %s",
                        owner, found);
        }
    }
    if ((v = sl_yaml_get(n, "reconcile")) && !is_null(v)) {
        if (sl_cfg_fill_ex(reconcile_keys, p, v, B->file, owner, "reconcile", NULL, B->err) < 0)
            return -1;
        if (p->reconcile_every <= 0) {
            v = sl_yaml_get(v, "every");
            return fail(B, v->line, v->col,
                        "%s: reconcile: key \"every\": expected a duration above zero", owner);
        }
    }

    e = sl_yaml_entry_of(n, "tables");
    if (!e)
        return fail(B, n->line, n->col, "%s: missing required key \"tables\"", owner);
    v = e->value;
    if (v->type != SL_YAML_SEQ) {
        sl_yaml_describe(v, found, sizeof found);
        return fail(B, v->line, v->col, "%s: key \"tables\": expected a list of tables, found %s",
                    owner, found);
    }
    if (!v->nitems)
        return fail(B, v->line, v->col, "%s: key \"tables\": expected at least one table", owner);
    p->tables = sl_calloc(v->nitems, sizeof *p->tables);
    if (!p->tables)
        return oom(B);
    p->ntables = v->nitems;
    for (size_t j = 0; j < v->nitems; j++)
        if (load_table(B, p, j, v->items[j], owner) < 0)
            return -1;
    if (load_hash_key(B, p, n, owner) < 0 || check_region(B, p, n, owner) < 0)
        return -1;
    if (p->source_ops->validate && p->source_ops->validate(p, B->file, B->err) < 0)
        return -1;
    /* connections are read before pipelines: a source may name one */
    if (p->source_ops->resolve && p->source_ops->resolve(B->c, p, B->file, B->err) < 0)
        return -1;
    return 0;
}

/* ---- the whole config ---- */

/* The first value (in document order) that names an unset ${VAR}, other
 * than an alert's secrets (they wait until an alert is to be sent). */
static const struct sl_yaml_node *first_unset(const struct sl_yaml_node *n,
                                              const struct sl_yaml_node *alerts)
{
    if (!n)
        return NULL;
    if (n->unset)
        return n;
    for (size_t i = 0; i < n->nentries; i++) {
        const struct sl_yaml_node *v = n->entries[i].value;
        const struct sl_yaml_node *u = first_unset(v, alerts);
        if (u)
            return u;
    }
    for (size_t i = 0; i < n->nitems; i++) {
        const struct sl_yaml_node *it = n->items[i];
        if (n == alerts && it->type == SL_YAML_MAP) {
            for (size_t k = 0; k < it->nentries; k++) {
                const char *key = it->entries[k].key;
                if (strcmp(key, "url") == 0 || strcmp(key, "routing_key") == 0)
                    continue;
                const struct sl_yaml_node *u = first_unset(it->entries[k].value, alerts);
                if (u)
                    return u;
            }
            continue;
        }
        const struct sl_yaml_node *u = first_unset(it, alerts);
        if (u)
            return u;
    }
    return NULL;
}

int sl_config_can_alert(const struct sl_config *c, struct sl_err *err)
{
    for (size_t i = 0; i < c->nalerts; i++)
        if (c->alerts[i].unset)
            return sl_err_set(err, SL_E_CONFIG,
                              "%s (alert #%zu: the commands that send alerts need it)",
                              c->alerts[i].unset, i + 1);
    return 0;
}

static int build_config(struct build *B, const struct sl_yaml_node *root)
{
    const struct sl_yaml_node *v;
    const struct sl_yaml_entry *e;
    char found[96];

    if (!root)
        return fail(B, 1, 1, "the config is empty: expected a mapping with connections and "
                    "pipelines");
    if (root->type != SL_YAML_MAP) {
        sl_yaml_describe(root, found, sizeof found);
        return fail(B, root->line, root->col,
                    "expected a mapping with connections and pipelines, found %s", found);
    }
    const struct sl_yaml_node *unset = first_unset(root, sl_yaml_get(root, "alerts"));
    if (unset)
        return sl_err_set(B->err, SL_E_CONFIG, "%s", unset->unset);
    if (sl_cfg_fill_ex(NULL, B->c, root, B->file, NULL, "the config", top_also, B->err) < 0)
        return -1;
    if ((v = sl_yaml_get(root, "http")) && load_http(B, v) < 0)
        return -1;
    if ((v = sl_yaml_get(root, "alerts")) && !is_null(v) && load_alerts(B, v) < 0)
        return -1;
    if ((v = sl_yaml_get(root, "connections")) && !is_null(v) && load_connections(B, v) < 0)
        return -1;
    e = sl_yaml_entry_of(root, "pipelines");
    if (!e)
        return fail(B, root->line, root->col, "missing required key \"pipelines\"");
    v = e->value;
    if (v->type != SL_YAML_SEQ) {
        sl_yaml_describe(v, found, sizeof found);
        return fail(B, v->line, v->col, "key \"pipelines\": expected a list of pipelines, found %s",
                    found);
    }
    if (!v->nitems)
        return fail(B, v->line, v->col, "key \"pipelines\": expected at least one pipeline");
    B->c->pipelines = sl_calloc(v->nitems, sizeof *B->c->pipelines);
    if (!B->c->pipelines)
        return oom(B);
    B->c->npipelines = v->nitems;
    for (size_t i = 0; i < v->nitems; i++)
        if (load_pipeline(B, i, v->items[i]) < 0)
            return -1;
    return 0;
}

/* Build from a parsed document; takes `dir` as the base of relative paths. */
static int load_doc(struct sl_yaml_doc *doc, const char *display, const char *dir,
                    struct sl_config **out, struct sl_err *err)
{
    struct build B = {display, NULL, err};

    B.c = sl_calloc(1, sizeof *B.c);
    if (!B.c)
        return oom(&B);
    B.c->path = sl_strdup(display);
    B.c->dir = sl_strdup(dir ? dir : ".");
    if (!B.c->path || !B.c->dir) {
        sl_config_free(B.c);
        return oom(&B);
    }
    if (build_config(&B, doc->root) < 0) {
        sl_config_free(B.c);
        return -1;
    }
    *out = B.c;
    return 0;
}

int sl_config_load_mem(const char *display, const char *dir, const char *data, size_t n,
                       struct sl_config **out, struct sl_err *err)
{
    struct sl_yaml_doc *doc = NULL;

    *out = NULL;
    if (sl_yaml_load_mem(display, data, n, &doc, err) < 0)
        return -1;
    int rc = load_doc(doc, display, dir, out, err);
    sl_yaml_free(doc);
    return rc;
}

/* The config file's folder, absolute, so paths stay right whatever the
 * working directory is later. */
static char *config_dir(const char *path)
{
    const char *slash = strrchr(path, '/');
    struct sl_buf b;
    char cwd[PATH_MAX];

    sl_buf_init(&b);
    if (path[0] != '/' && getcwd(cwd, sizeof cwd))
        sl_buf_puts(&b, cwd);
    if (slash) {
        const char *p = path;
        size_t len = (size_t)(slash - path);
        if (path[0] != '/') {
            while (len >= 2 && p[0] == '.' && p[1] == '/') {
                p += 2;
                len -= 2;
                while (len && *p == '/') {
                    p++;
                    len--;
                }
            }
            if (len == 1 && p[0] == '.')
                len = 0;
            if (len && b.len)
                sl_buf_putc(&b, '/');
        }
        if (len)
            sl_buf_append(&b, p, len);
        else if (path[0] == '/')
            sl_buf_putc(&b, '/');
    }
    if (!b.len)
        sl_buf_putc(&b, '.');
    if (b.oom) {
        sl_buf_free(&b);
        return NULL;
    }
    return sl_buf_steal(&b);
}

int sl_config_load(const char *path, struct sl_config **out, struct sl_err *err)
{
    struct sl_yaml_doc *doc = NULL;
    char *dir;

    *out = NULL;
    if (sl_yaml_load_file(path, &doc, err) < 0)
        return -1;
    dir = config_dir(path);
    if (!dir) {
        sl_yaml_free(doc);
        return sl_yaml_nomem(err, path);
    }
    int rc = load_doc(doc, path, dir, out, err);
    sl_free(dir);
    sl_yaml_free(doc);
    return rc;
}

/* ---- freeing ---- */

static void table_free(struct sl_table_cfg *t)
{
    sl_free(t->name);
    sl_strlist_free(&t->primary_key);
    sl_free(t->version_key);
    for (size_t i = 0; i < t->ncolumns; i++)
        sl_free(t->columns[i].name);
    sl_free(t->columns);
    for (size_t i = 0; i < t->npaths; i++) {
        sl_free(t->paths[i].name);
        sl_free(t->paths[i].path);
    }
    sl_free(t->paths);
    sl_free(t->pattern);
    sl_free(t->source_table);
    sl_free(t->mode);
    sl_strlist_free(&t->cursor);
    for (size_t i = 0; i < t->ngates; i++) {
        struct sl_gate_cfg *g = &t->gates[i];
        /* key values first (left NULL), then whatever parse added */
        sl_cfg_free(g->ops->keys, g->ctx);
        if (g->ops->free_ctx)
            g->ops->free_ctx(g->ctx);
        sl_free(g->ctx);
    }
    sl_free(t->gates);
    for (size_t i = 0; i < t->nprotect; i++)
        sl_free(t->protect[i].name);
    sl_free(t->protect);
}

static void pipeline_free(struct sl_pipeline_cfg *p)
{
    sl_free(p->name);
    sl_free(p->source_kind);
    if (p->source_ops)
        sl_cfg_free(p->source_ops->keys, p->source_ctx);
    for (size_t i = 0; p->source_ops && p->source_ctx && p->source_ops->blocks &&
                       p->source_ops->blocks[i].key; i++)
        sl_cfg_free(p->source_ops->blocks[i].keys,
                    (char *)p->source_ctx + p->source_ops->blocks[i].offset);
    sl_free(p->source_ctx);
    sl_free(p->destination);
    sl_free(p->schedule);
    sl_free(p->region);
    sl_free(p->protect_key);
    sl_free(p->hash_key);
    for (size_t i = 0; i < p->ntables; i++)
        table_free(&p->tables[i]);
    sl_free(p->tables);
}

void sl_config_free(struct sl_config *c)
{
    if (!c)
        return;
    sl_free(c->path);
    sl_free(c->dir);
    sl_cfg_free(http_keys, c);     /* listen, token, hosts */
    for (size_t i = 0; i < c->nalerts; i++) {
        sl_free(c->alerts[i].url);
        sl_free(c->alerts[i].format);
        sl_free(c->alerts[i].routing_key);
        sl_free(c->alerts[i].unset);
    }
    sl_free(c->alerts);
    for (size_t i = 0; i < c->nconnections; i++) {
        sl_free(c->connections[i].name);
        sl_free(c->connections[i].url);
        sl_free(c->connections[i].password);
        sl_free(c->connections[i].region);
        sl_strlist_free(&c->connections[i].accepts);
    }
    sl_free(c->connections);
    for (size_t i = 0; i < c->npipelines; i++)
        pipeline_free(&c->pipelines[i]);
    sl_free(c->pipelines);
    sl_free(c);
}

const struct sl_cfg_key *sl_config_keys(const char *block)
{
    static const struct { const char *name; const struct sl_cfg_key *keys; } blocks[] = {
        {"http", http_keys},           {"alert", alert_keys},         {"connection", conn_keys},
        {"pipeline", pipeline_keys},   {"snapshots", snapshot_keys},  {"reconcile", reconcile_keys},
        {"table", table_keys},
    };
    for (size_t i = 0; block && i < sizeof blocks / sizeof blocks[0]; i++)
        if (strcmp(blocks[i].name, block) == 0)
            return blocks[i].keys;
    return NULL;
}
