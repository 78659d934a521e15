/* config/config.h: the YAML config as C structs.
 *
 * sl_config_load() reads the file with libyaml, expands ${VAR} from the
 * environment, fills these structs and validates them. Every error names
 * file:line:column and what was expected; unknown keys are errors. Plugins
 * (sources, gates) declare their own keys as data (struct sl_cfg_key) and the
 * loader fills their context structs through offsetof, so `sluice check`
 * can print what each key means. */
#ifndef SL_CONFIG_H
#define SL_CONFIG_H

#include <stddef.h>

#include "core/err.h"
#include "core/value.h"

struct sl_strlist {
    char **items;
    size_t n;
};

/* ---- declarative keys ---- */

enum sl_cfg_type {
    SL_CFG_STR,         /* char * */
    SL_CFG_INT,         /* long */
    SL_CFG_DOUBLE,      /* double */
    SL_CFG_BOOL,        /* int */
    SL_CFG_DURATION,    /* double seconds; "10m", "1h", "30s" */
    SL_CFG_STRLIST,     /* struct sl_strlist; a scalar is a one-item list */
    SL_CFG_CHAR,        /* char; one character, "\t" accepted */
    SL_CFG_ENUM,        /* int index into `choices` */
};

struct sl_cfg_key {
    const char *key;
    enum sl_cfg_type type;
    size_t offset;              /* into the plugin's context struct */
    const char *def;            /* default as YAML text, NULL = none */
    int required;
    const char *const *choices; /* SL_CFG_ENUM: NULL-terminated names */
    const char *doc;            /* one line, printed by `sluice check` */
};

struct sl_yaml_node;    /* opaque: a parsed YAML node with its position */

/* Fill `ctx` from a YAML mapping node using `keys` (NULL-terminated by
 * key == NULL). Unknown keys are errors naming file:line:col. */
int sl_cfg_fill(const struct sl_cfg_key *keys, void *ctx,
                const struct sl_yaml_node *map, const char *file, struct sl_err *err);
/* sl_cfg_fill naming the block in its errors, and accepting further keys
 * `also` (NULL-terminated, may be NULL) that the caller reads itself.
 * `owner` and `what` may be NULL: with owner "pipeline \"x\"" and what
 * "source" a missing key reads "f.yaml:3:13: pipeline \"x\": source: missing
 * required key \"path\"" (at the mapping), an unknown one "f.yaml:3:40:
 * unknown key \"patern\" in source (expected one of: ...); did you mean
 * \"pattern\"?" (at the key). `ctx` starts zeroed; on error it may hold some
 * values already, so sl_cfg_free it either way. A plain null value counts
 * as not given (the default applies). */
int sl_cfg_fill_ex(const struct sl_cfg_key *keys, void *ctx, const struct sl_yaml_node *map,
                   const char *file, const char *owner, const char *what,
                   const char *const *also, struct sl_err *err);
void sl_cfg_free(const struct sl_cfg_key *keys, void *ctx);
/* The value of key k in ctx as text, as a config would write it: "10m",
 * "[updated_at, id]", "\\t"; "" for an unset string or an empty list. Not
 * redacted: the caller decides what is secret. ctx NULL: k's default ("" when
 * it has none). */
void sl_cfg_value_text(const struct sl_cfg_key *k, const void *ctx, char *out, size_t cap);
/* 1 when key k holds its default in ctx (the default's value, or for a key
 * without one, unset: NULL, 0, an empty list), else 0 (always for a required
 * key). */
int sl_cfg_is_default(const struct sl_cfg_key *k, const void *ctx);

/* ---- the config ---- */

struct sl_pos {
    int line, col;
};

struct sl_connection_cfg {
    char *name;
    char *url;              /* postgresql://... or sqlite://path */
    char *password;         /* optional; overrides the URL's */
    struct sl_pos pos;
};

struct sl_column_cfg {
    char *name;
    enum sl_type type;
};

/* `paths: { amount: order.total }`: where an event source finds a column's
 * value in each event (a dot path; array elements by number: items.0.sku). */
struct sl_column_path {
    char *name;
    char *path;
    struct sl_pos pos;
};

enum sl_table_kind {
    SL_KIND_SNAPSHOT = 0,
    SL_KIND_VERSIONED,
    SL_KIND_APPEND,
    SL_KIND_INCREMENTAL,
};

/* gates: parsed into the table; each gate keeps its own context */
struct sl_gate_cfg {
    const struct sl_gate_ops *ops;
    void *ctx;              /* filled through ops->keys */
    struct sl_pos pos;
};

struct sl_table_cfg {
    char *name;             /* destination table, may be schema-qualified */
    enum sl_table_kind kind;
    struct sl_strlist primary_key;
    char *version_key;
    struct sl_column_cfg *columns;  /* declared; others inferred */
    size_t ncolumns;
    struct sl_column_path *paths;   /* event sources: column <- JSON path */
    size_t npaths;
    char *pattern;          /* files source: glob of this table's drops */
    /* incremental (database sources) */
    char *source_table;     /* defaults to name */
    char *mode;             /* insert_only | updater */
    struct sl_strlist cursor;
    double boundary;        /* seconds */
    long batch_limit;
    struct sl_gate_cfg *gates;
    size_t ngates;
    struct sl_pos pos;
};

struct sl_pipeline_cfg {
    char *name;
    char *source_kind;
    const struct sl_source_ops *source_ops;
    void *source_ctx;       /* the source's own config struct */
    char *destination;      /* connection name */
    struct sl_connection_cfg *dest_conn;
    char *schedule;         /* "every 5m" */
    double every;           /* seconds, from schedule; 0 = on demand */
    int every_default;      /* every is the default for its kind of source, not set */
    struct sl_table_cfg *tables;
    size_t ntables;
    double snapshot_every;
    long snapshot_keep;
    double reconcile_every;
    double stale_after;     /* seconds; 0 = never stale (`sluice daemon` alerts) */
    double lock_wait;       /* seconds a run waits for a table's lease, then skips it */
    struct sl_pos pos;
};

struct sl_alert_cfg {
    char *url;
    char *format;           /* generic | slack | pagerduty */
    char *routing_key;      /* pagerduty */
    char *unset;            /* its url or key names an unset ${VAR}: why it cannot
                             * be sent (sl_config_can_alert); NULL = ready */
};

struct sl_config {
    char *path;             /* as given */
    char *dir;              /* its folder: base of relative paths */
    char *http_listen;
    char *http_token;
    struct sl_strlist http_hosts;   /* Host names served besides localhost, IP literals */
    double http_timeout;            /* seconds a request may take; 0 = default */
    long http_max_conns;            /* per server; 0 = default */
    long http_max_per_client;       /* per client address; 0 = default */
    struct sl_alert_cfg *alerts;
    size_t nalerts;
    struct sl_connection_cfg *connections;
    size_t nconnections;
    struct sl_pipeline_cfg *pipelines;
    size_t npipelines;
};

/* A database source's schedule when the pipeline sets none (seconds). */
#define SL_DEFAULT_DB_EVERY 300.0

int sl_config_load(const char *path, struct sl_config **out, struct sl_err *err);
/* 0 when every alert can be sent; -1 (SL_E_CONFIG) naming the first whose
 * url or key names an unset ${VAR}. The commands that send alerts (run,
 * daemon, approve, reject, reconcile, replay, check) need them; the
 * read-only ones load the config without those secrets. */
int sl_config_can_alert(const struct sl_config *c, struct sl_err *err);
/* The same from memory (the fuzz target's way in): `display` names the
 * config in messages, `dir` is the base of relative paths (NULL = "."). */
int sl_config_load_mem(const char *display, const char *dir, const char *data, size_t n,
                       struct sl_config **out, struct sl_err *err);
void sl_config_free(struct sl_config *c);

const struct sl_pipeline_cfg *sl_config_pipeline(const struct sl_config *c, const char *name);
const struct sl_connection_cfg *sl_config_connection(const struct sl_config *c, const char *name);
/* Resolve a path from the config relative to its folder; caller frees. */
char *sl_config_path(const struct sl_config *c, const char *p);

const char *sl_table_kind_name(enum sl_table_kind k);

/* The key tables of the config's own blocks, for `sluice check`: "http",
 * "alert", "connection", "pipeline", "snapshots", "reconcile", "table"
 * (filled into sl_config, sl_alert_cfg, sl_connection_cfg, sl_pipeline_cfg
 * and sl_table_cfg); NULL for another name. */
const struct sl_cfg_key *sl_config_keys(const char *block);

#endif
