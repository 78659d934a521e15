/* model/config.h: what a config says, as C structs: connections, pipelines,
 * their source and tables, gates, alerts. Every layer above base reads
 * these; config/config.h fills them from the YAML file (and checks them),
 * and each plugin's own keys land in its context struct through its key
 * table (base/cfgmap.h). */
#ifndef SL_MODEL_CONFIG_H
#define SL_MODEL_CONFIG_H

#include <stddef.h>

#include "base/cfgmap.h"
#include "base/err.h"
#include "base/strlist.h"
#include "base/value.h"

struct sl_pos {
    int line, col;
};

struct sl_connection_cfg {
    char *name;
    char *url;              /* postgresql://... or sqlite://path */
    char *password;         /* optional; overrides the URL's */
    char *region;           /* where it keeps data (eu, us ...); NULL = not said */
    struct sl_strlist accepts;  /* regions whose data it may hold besides its own */
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

/* `protect: { email: hash, ssn: drop, phone: mask }` (model/protect.h) */
enum sl_protect_kind {
    SL_PROTECT_HASH = 0,    /* HMAC-SHA256 under the pipeline's key, as hex */
    SL_PROTECT_DROP,        /* never stored */
    SL_PROTECT_MASK,        /* all but the last 4 characters made '*' */
};
struct sl_protect_col {
    char *name;
    enum sl_protect_kind kind;
    struct sl_pos pos;
};

enum sl_table_kind {
    SL_KIND_SNAPSHOT = 0,
    SL_KIND_VERSIONED,
    SL_KIND_APPEND,
    SL_KIND_INCREMENTAL,
    SL_KIND_CDC,            /* PostgreSQL sources with cdc: every change from the WAL */
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
    /* cdc */
    int soft_deletes;       /* deletes: soft (keep the row, set _sluice_deleted_at) */
    struct sl_gate_cfg *gates;
    size_t ngates;
    struct sl_protect_col *protect; /* protected columns, applied as rows are read */
    size_t nprotect;
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
    char *region;           /* where its data may live; NULL = anywhere */
    char *protect_key;      /* the environment variable holding the hash key */
    char *hash_key;         /* its value (redacted everywhere); NULL = unset */
    size_t hash_key_len;
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

const struct sl_pipeline_cfg *sl_config_pipeline(const struct sl_config *c, const char *name);
const struct sl_connection_cfg *sl_config_connection(const struct sl_config *c, const char *name);
/* Resolve a path from the config relative to its folder; caller frees. */
char *sl_config_path(const struct sl_config *c, const char *p);

/* The kinds' names, in enum order, NULL-terminated (the config's choices). */
extern const char *const sl_table_kinds[];
/* The protection kinds' names, in enum order, NULL-terminated. */
extern const char *const sl_protect_kinds[];
const char *sl_table_kind_name(enum sl_table_kind k);

#endif
