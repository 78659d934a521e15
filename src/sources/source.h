/* sources/source.h: what every source (files, postgres, http, jetstream) provides.
 *
 * The engine opens a source per table of a pipeline and asks it for batches
 * until it has none: for the files source one batch is one drop file. A batch
 * can be read more than once (type inference reads a new table's first drop
 * before loading it), so readers are opened per pass. After the destination
 * commit (or failure) the engine acks the batch, and only then does the
 * source forget it (move the file to done/, advance a consumer...). */
#ifndef SL_SOURCE_H
#define SL_SOURCE_H

#include <stdint.h>

#include "base/err.h"
#include "formats/format.h"
#include "model/batch.h"
#include "model/config.h"
#include "model/dialect.h"
#include "model/schema.h"

struct sl_source;

/* One unit of input, owned by the source until ack. */
struct sl_batch_input {
    char *ref;              /* what it is, for the ledger: "drops/orders/a.csv" */
    char hash[33];          /* hex content hash (xxh3-128); "" if the source has none */
    uint64_t bytes;         /* size as stored (compressed bytes for .gz/.zst) */
    const char *timezone;   /* zone of naive timestamps in this batch; NULL = UTC */
    enum sl_dst_policy overlap;
    char *cursor_after;     /* incremental sources: the cursor once this batch is in,
                             * stored in the same transaction as its rows; NULL = none */
    int canonical;          /* values arrive in canonical form (base/value.h) for the
                             * types schema() gives: the engine does not check them
                             * again where the table's column has that type */
    int events;             /* an event source's batch (http, jetstream): a record that
                             * fails its mapping, keys or a row-level rule goes to the
                             * dead letter table (payload from event()) and the rest
                             * loads; an append row whose primary key is stored already
                             * is skipped, so a retried event lands once */
    int whole;              /* the whole table, as of one moment (a cdc table's first
                             * copy): loaded as a snapshot, replacing what is stored */
    int upsert;             /* rows of the source merged by primary key, nothing
                             * deleted (a cdc table's backfill of a new column) */
    int64_t mtime;          /* files: the drop's modification time (seconds since the
                             * epoch), the received_at of its dead-lettered records: a
                             * log time without a year is read against it again on
                             * replay; 0 = none */
    int unparsed;           /* a drop read by a log format: a record its reader refuses
                             * (sl_rowsrc_raw) or whose values do not fit their columns
                             * goes to the dead letter table with its file:line and
                             * text, and the rest loads */
    int replay;             /* events out of the dead letter table (`sluice replay`):
                             * event() names the row each one replays */
    int protected_already;  /* its values of protected columns are in their protected
                             * form already (the events source protects each event's
                             * own text): the engine does not protect them again */
    void *priv;             /* the source's own */
};

/* One event of an event source's batch, for the dead letter table. Valid
 * until the next call. */
struct sl_event_info {
    const char *payload;    /* the raw event as received */
    size_t len;
    const char *event_id;   /* its id as text, or NULL */
    const char *received_at;    /* canonical UTC timestamp */
    int64_t replay_of;      /* the dead letter row it replays, 0 = none */
    const char *error;      /* the source found it bad already (its row is one the
                             * reader refuses): why, in place of the engine's words */
};

/* A key of the `source:` block holding a mapping of its own (the collector's
 * publish: { servers, subject }), filled through `keys` into the source's
 * config struct at `offset`; `given` (an int at that offset) is set to 1
 * when the block is there. */
struct sl_source_block {
    const char *key;
    const struct sl_cfg_key *keys;
    size_t offset;
    size_t given;
};

/* A database source's table as SQL, for reconcile and repair (engine/reconcile.c):
 * each column read as the type it loads as, e.g. a naive timestamp at the
 * source's time zone. Free with sl_source_sql_free. */
struct sl_source_sql {
    const struct sl_dialect *dialect;   /* the source database's SQL (model/dialect.h) */
    char *from;             /* the table, quoted for FROM */
    char *where;            /* rows replicated so far (incremental: at or below the
                             * stored cursor); NULL = every row */
    struct sl_schema cols;  /* names and the types they load as */
    char **exprs;           /* per column: SQL reading it as that type */
    struct sl_strlist pk;   /* the source table's primary key (may be empty) */
};
void sl_source_sql_free(struct sl_source_sql *q);

/* What a source says of one table for `sluice check`, beyond its config. */
struct sl_table_plan {
    int cursor_unique;      /* incremental: 1 unique, 0 not, -1 not known */
    char line[768];         /* one line for people; "" = nothing to say */
    /* incremental: the index that reads rows in cursor order ("" = none,
     * or not known), and when there is none the SQL that makes one */
    char cursor_index[128];
    char index_fix[512];
    char index_line[768];   /* what it means, for people; "" = nothing to say */
};

/* What a source needs in place before it can serve a pipeline (a role's
 * privileges, server settings, objects on the source), looked at there:
 * one line a thing. `sluice check` prints them and fails on any missing;
 * a source that serves looks the same way before it starts, so both say
 * the same words. */
enum sl_probe_status {
    SL_PROBE_OK,
    SL_PROBE_WARN,          /* works, but the user should know */
    SL_PROBE_MISSING,       /* the pipeline cannot run until it is fixed */
};
struct sl_probe_item {
    char *check;            /* what was looked at: "wal_level", "select" */
    char *table;            /* the config's table it is about, or NULL */
    enum sl_probe_status status;
    char *detail;           /* what was found, one line */
    char *fix;              /* SQL that puts it right, or NULL */
};
struct sl_probe {
    struct sl_probe_item *items;
    size_t n;
    int oom;                /* a line could not be kept */
};
/* Add a line (detail printf-style); fix and table may be NULL. */
void sl_probe_add(struct sl_probe *p, const char *check, const char *table,
                  enum sl_probe_status status, const char *fix, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));
/* How many lines say missing. */
size_t sl_probe_missing(const struct sl_probe *p);
/* The missing lines as one message in err ("<detail> (fix: <sql>); ..."),
 * after `lead`; returns -1. */
int sl_probe_fail(const struct sl_probe *p, const char *lead, struct sl_err *err);
const char *sl_probe_status_name(enum sl_probe_status s);
void sl_probe_free(struct sl_probe *p);

/* A pass over a batch's records. */
struct sl_rowsrc {
    const struct sl_format_ops *fmt;
    struct sl_reader *rd;
    struct sl_stream *st;
    /* protected columns (model/protect.h), set by sl_rowsrc_protect */
    const struct sl_pipeline_cfg *prot_p;
    const struct sl_table_cfg *prot_t;
    struct sl_field *pf;    /* the record's fields as handed out */
    size_t pcap;
    struct sl_buf pv;       /* their protected values */
};
/* From here on every record comes out with its protected columns protected:
 * hashed and masked values in their protected form, dropped fields gone
 * (from the header's columns too). The one place every source's records
 * pass on their way to becoming rows; the engine calls it after open_rows. */
void sl_rowsrc_protect(struct sl_rowsrc *r, const struct sl_pipeline_cfg *p,
                       const struct sl_table_cfg *t);
int sl_rowsrc_next(struct sl_rowsrc *r, struct sl_record *rec, struct sl_err *err);
/* The columns a header names (format.h, columns); 0 when there is none. */
size_t sl_rowsrc_columns(struct sl_rowsrc *r, const struct sl_field **out);
/* The text of the record the last sl_rowsrc_next handed out or refused
 * (format.h, raw): 1, or 0 when the reader has none to give. */
int sl_rowsrc_raw(struct sl_rowsrc *r, const char **text, size_t *len, long *line,
                  long *index);
void sl_rowsrc_close(struct sl_rowsrc *r);

enum sl_outcome {
    SL_OUT_COMMITTED,       /* loaded */
    SL_OUT_DUPLICATE,       /* already loaded by an earlier batch */
    SL_OUT_FAILED,          /* bad input: keep aside with the error */
    SL_OUT_QUARANTINED,     /* held by a gate */
    SL_OUT_RETRY_LATER,     /* transient failure: leave it where it is */
};

/* What the engine gives a source that takes its batches as they come
 * (serve): a table opened for loading (one destination connection, reused
 * batch after batch), each batch run through it as `sluice run` would (one
 * transaction, gates, retries, ledger) and acked back to the source, which
 * learns the outcome there; the batch's figures are added to `stats`. The
 * source never calls the engine by name. `src` is the source's handle for
 * table `t` (its open), not owned. */
struct sl_feed;
struct sl_sink {
    int (*open)(const struct sl_config *c, const struct sl_pipeline_cfg *p,
                const struct sl_table_cfg *t, struct sl_source *src, struct sl_feed **out,
                struct sl_err *err);
    void (*batch)(struct sl_feed *f, struct sl_batch_input *b, struct sl_run_stats *stats);
    void (*close)(struct sl_feed *f);
    /* The cursor committed with the table's last batch (sl_free it; NULL =
     * none yet), and its first batch in quarantine (0 = none). */
    int (*cursor)(struct sl_feed *f, char **out, struct sl_err *err);
    int (*held)(struct sl_feed *f, int64_t *batch, struct sl_err *err);
    /* The warehouse table's columns: 1 = *out holds them, 0 = no table yet. */
    int (*columns)(struct sl_feed *f, struct sl_schema *out, struct sl_err *err);
    /* Forget the table's cursor, in a transaction of its own: its next
     * batch starts from nothing (a cdc table whose slot is gone). */
    int (*forget_cursor)(struct sl_feed *f, struct sl_err *err);
};

/* A change data capture pipeline's replication slot and publication as the
 * source has them now (`sluice cdc status`, `sluice status`, the daemon's
 * slot watch). Positions are PostgreSQL's text ("0/16B3748"), "" when NULL;
 * byte counts -1 when unknown (no slot, or a NULL position). */
struct sl_slot_state {
    char slot[64];
    char publication[64];
    int64_t max_retained;       /* the config's limits on it: 0 = none */
    double max_lag;
    int exists;                 /* on the source's server */
    char database[64];          /* the database it belongs to */
    int other_database;         /* ... which is not the pipeline's */
    char plugin[64];
    int active;                 /* a process streams from it */
    long active_pid;            /* that server process (0 = none) */
    char active_client[160];    /* its application and address, "" when not known */
    char wal_status[16];        /* reserved | extended | unreserved | lost */
    char confirmed[24];         /* confirmed_flush_lsn: the warehouse holds everything before */
    char restart[24];           /* restart_lsn: the oldest WAL the server keeps for it */
    char current[24];           /* pg_current_wal_lsn() */
    int64_t retained_bytes;     /* current - restart */
    int64_t unconfirmed_bytes;  /* current - confirmed */
    /* the publication (filled when asked for) */
    int pub_exists;
    int pub_by_sluice;          /* its comment is 'created by sluice' */
    int pub_all_tables;         /* FOR ALL TABLES: pub_tables is empty */
    struct sl_strlist pub_tables;   /* "schema.table", sorted */
};
void sl_slot_state_free(struct sl_slot_state *s);

/* What `sluice cdc drop` did. */
struct sl_slot_drop {
    char slot[64], publication[64];     /* their names */
    int slot_existed, slot_dropped;
    int pub_existed, pub_dropped;
    char pub_kept[300];         /* why a publication that exists was kept; "" = not kept */
};

struct sl_source_ops {
    const char *kind;
    const struct sl_cfg_key *keys;      /* the `source:` block's keys */
    size_t ctx_size;
    /* Check the source config against the pipeline (e.g. every table of a
     * multi-table files pipeline has a pattern). May be NULL. */
    int (*validate)(const struct sl_pipeline_cfg *p, const char *cfgfile, struct sl_err *err);
    int (*open)(struct sl_source **out, const struct sl_config *c,
                const struct sl_pipeline_cfg *p, const struct sl_table_cfg *t,
                struct sl_err *err);
    /* Optional: where the last committed batch left off (the cursor stored
     * with it; NULL before the first). Called once after open. */
    int (*resume)(struct sl_source *s, const char *cursor, struct sl_err *err);
    /* 1 = *out holds the next batch, 0 = nothing (more) to load now. */
    int (*next_batch)(struct sl_source *s, struct sl_batch_input **out, struct sl_err *err);
    int (*open_rows)(struct sl_source *s, struct sl_batch_input *b, struct sl_rowsrc *r,
                     struct sl_err *err);
    /* Keep a batch that a gate held back, so it can be released later without
     * the source: *held (sl_malloc'd) says where, for the ledger. Called
     * before ack(SL_OUT_QUARANTINED). May be NULL: the source cannot hold. */
    int (*hold)(struct sl_source *s, struct sl_batch_input *b, char **held,
                struct sl_err *err);
    /* A held batch as a batch again (for `sluice approve` / `reject`); ack
     * it like any other: committed moves it on, failed sets it aside. */
    int (*reopen)(struct sl_source *s, const char *held, struct sl_batch_input **out,
                  struct sl_err *err);
    /* Record the outcome and release the batch. `why` explains failures. */
    int (*ack)(struct sl_source *s, struct sl_batch_input *b, enum sl_outcome o,
               const char *why, struct sl_err *err);
    void (*close)(struct sl_source *s);

    /* ---- optional; NULL when the source has none ---- */
    /* Called just before the batch's transaction commits: 0 = commit; 1 =
     * its input changed while it was read (a file still being written; err
     * says how), so the engine rolls the transaction back, nothing of the
     * batch is visible, and it is acked SL_OUT_RETRY_LATER; -1 = error. */
    int (*verify)(struct sl_source *s, struct sl_batch_input *b, struct sl_err *err);
    /* Inputs seen but not offered because they may still be changing (files
     * inside their settle window): how many. *wait_s = seconds until
     * next_batch may offer the first of them, -1 when none will be offered
     * before the source is opened again (each was looked at again and is
     * still changing). A one-shot run sleeps that long and asks next_batch
     * again; the daemon polls again later instead. */
    int (*pending)(struct sl_source *s, double *wait_s);
    /* Check what the source block names elsewhere in the config (a
     * connection), after the pipeline's tables are read. */
    int (*resolve)(const struct sl_config *c, const struct sl_pipeline_cfg *p,
                   const char *cfgfile, struct sl_err *err);
    /* How many tables of the pipeline may load at once (>= 1). */
    int (*workers)(const struct sl_pipeline_cfg *p);
    /* The columns of batch `b` and the types they load as: the engine then
     * takes them instead of inferring types from the rows. */
    int (*schema)(struct sl_source *s, struct sl_batch_input *b, struct sl_schema *out,
                  struct sl_err *err);
    /* Database sources: the table as SQL, and a query on the source
     * (values only as $n parameters, docs/invariants.md #5). */
    int (*sql)(struct sl_source *s, struct sl_source_sql *out, struct sl_err *err);
    int (*exec)(struct sl_source *s, const char *sql, int nparams, const char *const *params,
                struct sl_rows *out, struct sl_err *err);
    /* A batch of exactly the rows whose key columns `key` (names as in
     * sql().cols) hold one of `vals` (nvals x nkey canonical texts,
     * row-major): `sluice reconcile --repair`. */
    int (*keys_batch)(struct sl_source *s, const char *const *key, size_t nkey,
                      const char *const *vals, size_t nvals, struct sl_batch_input **out,
                      struct sl_err *err);
    /* What the source will do with table t, for `sluice check`. It may look
     * at the source, briefly; what it cannot find out it says in the line,
     * and check does not fail on it. */
    void (*plan)(const struct sl_config *c, const struct sl_pipeline_cfg *p,
                 const struct sl_table_cfg *t, struct sl_table_plan *out);
    /* What the pipeline needs of the source, looked at there (struct
     * sl_probe), waiting `timeout` seconds at most for each connection:
     * for `sluice check`. -1 when it could not look at all (err says why:
     * the source is unreachable); missing lines are not an error here. */
    int (*probe)(const struct sl_config *c, const struct sl_pipeline_cfg *p,
                 const char *timeout, struct sl_probe *out, struct sl_err *err);

    /* Records of this source's that went to the dead letter table (a log
     * drop's unparsed records) as a batch again, read with the config as it
     * is now (`sluice replay`): `rows` as sl_deadletter_list gives them (id,
     * table_name, payload, received_at, replayed_at, event_id). The batch
     * has replay set, and event() names the row each record replays; 0 =
     * none of the rows is this table's. rows NULL: 1 when the source sets
     * records aside at all, else 0 with err saying why not. NULL when the
     * source has no such records. */
    int (*replay)(struct sl_source *s, const struct sl_rows *rows, const char *ref,
                  struct sl_batch_input **out, struct sl_err *err);

    /* ---- event sources (http, jetstream); NULL for the others ---- */
    /* Record `index` (1-based, as sl_record.index) of an events batch. */
    int (*event)(struct sl_source *s, struct sl_batch_input *b, long index,
                 struct sl_event_info *out);
    /* A source that takes its batches as they come rather than when polled:
     * `sluice daemon` calls this on the pipeline's thread instead of
     * sl_pipeline_run; it returns once sl_stopping(), -1 when it
     * cannot serve (err says why; the daemon tries again later). */
    int (*serve)(const struct sl_config *c, const struct sl_pipeline_cfg *p,
                 const struct sl_sink *sink, struct sl_err *err);
    /* Mapping keys of the `source:` block, NULL-terminated by key == NULL. */
    const struct sl_source_block *blocks;
    /* The source that serves this pipeline, once its blocks are read: the
     * same keys, ctx and blocks, other ops (postgres with a cdc block is
     * sl_source_cdc). NULL = this one. */
    const struct sl_source_ops *(*variant)(const struct sl_pipeline_cfg *p);
    /* `sluice run` for a source that serves: take what there is now, feed
     * it through the sink, and return (stats as sl_pipeline_run's). */
    int (*drain)(const struct sl_config *c, const struct sl_pipeline_cfg *p,
                 const struct sl_sink *sink, struct sl_run_stats *stats, struct sl_err *err);

    /* ---- change data capture (cdc); NULL for the others ---- */
    /* The pipeline's slot (and with `publication`, its publication) as the
     * source has them now, on a short connection of its own (waiting
     * `timeout_s` at most to connect). */
    int (*slot_state)(const struct sl_config *c, const struct sl_pipeline_cfg *p,
                      int publication, int timeout_s, struct sl_slot_state *out,
                      struct sl_err *err);
    /* Drop the slot, refused (SL_E_STATE, naming the process) while one
     * streams from it; then the publication, only when sluice made it and
     * no other pipeline of `c` reads it. Dropping what is not there is done. */
    int (*slot_drop)(const struct sl_config *c, const struct sl_pipeline_cfg *p,
                     struct sl_slot_drop *out, struct sl_err *err);
};

extern const struct sl_source_ops sl_source_files;
extern const struct sl_source_ops sl_source_postgres;
extern const struct sl_source_ops sl_source_http;
extern const struct sl_source_ops sl_source_jetstream;
extern const struct sl_source_ops sl_source_cdc;

const struct sl_source_ops *sl_source_find(const char *kind, struct sl_err *err);
const struct sl_source_ops *sl_source_at(size_t i);

#endif
