/* sources/postgres.c: the postgres source: tables of a live PostgreSQL
 * database, read with nothing but SELECT on them.
 *
 *   snapshot (and versioned)  the whole table, one COPY (SELECT ...) TO STDOUT
 *                             inside one REPEATABLE READ READ ONLY transaction
 *   incremental               rows whose cursor columns, compared as a row
 *                             value, are above the stored cursor, and whose
 *                             first cursor column is below the source's
 *                             now() minus `boundary`; ordered by the cursor,
 *                             at most batch_limit a batch; batches follow
 *                             each other until one comes back short
 *
 * A batch limit cuts between two rows only where the cursor tells them
 * apart. When no unique index of the source lies within the cursor columns
 * (cursor [mtime] of an insert-only log, several rows to a transaction
 * sharing now()), a batch the limit would end inside a run of rows sharing
 * one cursor value takes the rest of the run too, however long: the next
 * batch starts past that value, and a cut run would lose its rest for good.
 *
 * The cursor is kept as the source's own text of each cursor column (a JSON
 * array) and compared in the source's SQL, cast to the column's own type, so
 * it never crosses a conversion: a `timestamp without time zone` cursor stays
 * a wall-clock time. Its upper bound is the lowest wall-clock time the zone's
 * clocks show from now() - boundary on (over the next three hours): during
 * the hour before a fall-back the bound stays at the start of the hour the
 * clocks will show again, so rows stamped in that hour wait until the clocks
 * have shown it for the last time. Nothing stamped later can sort below the
 * cursor; nothing is read twice (README: "Daylight saving time").
 *
 * Rows come through a reader of this file's own (struct sl_format_ops) that
 * takes COPY text rows one at a time from PQgetCopyData, splits and unescapes
 * them in place and hands out values already in canonical form (bool, UTC
 * timestamps, numbers), so memory is one row whatever the table's size.
 * Values go into SQL only as bound parameters or as custom settings set
 * through bound parameters and read by current_setting() (COPY takes no
 * parameters): docs/invariants.md #5. A lost connection or a server restart is SL_RETRY;
 * the next pass reconnects. */
#include "base/retry.h"
#include "sources/source.h"
#include "sources/postgres.h"

#include <jansson.h>
#include <libpq-fe.h>
#include <xxhash.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "base/mem.h"
#include "pg/dialect.h"
#include "pg/pg.h"
#include "pg/quote.h"
#include "pg/types.h"

#define pg_cfg sl_pg_source_cfg

const struct sl_cfg_key sl_pg_source_keys[] = {
    {"connection", SL_CFG_STR, offsetof(struct pg_cfg, connection), NULL, 1, NULL,
     "the connection (under connections:) of the database to read"},
    {"timezone", SL_CFG_STR, offsetof(struct pg_cfg, timezone), "UTC", 0, NULL,
     "tz database zone of `timestamp without time zone` columns"},
    {"parallel", SL_CFG_INT, offsetof(struct pg_cfg, parallel), "1", 0, NULL,
     "how many tables of the pipeline replicate at once"},
    {NULL, 0, 0, NULL, 0, NULL, NULL},
};

static const struct sl_cfg_key cdc_keys[] = {
    {"slot", SL_CFG_STR, offsetof(struct sl_pg_cdc_cfg, slot), NULL, 1, NULL,
     "the logical replication slot sluice reads (created when missing)"},
    {"publication", SL_CFG_STR, offsetof(struct sl_pg_cdc_cfg, publication), NULL, 1, NULL,
     "the publication of the tables (created when missing)"},
    {"max_retained", SL_CFG_SIZE, offsetof(struct sl_pg_cdc_cfg, max_retained), NULL, 0, NULL,
     "the daemon alerts when the slot keeps more WAL than this on the source"
     " (pg_current_wal_lsn() - restart_lsn), e.g. 1GB; none by default"},
    {"max_lag", SL_CFG_DURATION, offsetof(struct sl_pg_cdc_cfg, max_lag), NULL, 0, NULL,
     "the daemon alerts when the oldest change not yet confirmed to the slot has waited"
     " longer than this, e.g. 30m; none by default"},
    {NULL, 0, 0, NULL, 0, NULL, NULL},
};

const struct sl_source_block sl_pg_source_blocks[] = {
    {"cdc", cdc_keys, offsetof(struct pg_cfg, cdc), offsetof(struct pg_cfg, cdc_given)},
    {NULL, NULL, 0, 0},
};

/* How the reader turns a COPY text value into its canonical form. */
enum conv { CV_ASIS, CV_BOOL, CV_TSTZ, CV_DOUBLE, CV_NUMERIC, CV_DATE };

struct col {
    char *name;             /* in the source */
    char *as;               /* in the warehouse: the same, but a column named like
                             * sluice's own (a table loaded by sluice, replicated on:
                             * _sluice_batch) keeps its values as _source_sluice_batch */
    char *pgtype;           /* format_type of the base type, for casts */
    char *typname;          /* base type's name: int4, timestamp ... */
    enum sl_type type;
    enum conv conv;
    int naive;              /* timestamp without time zone */
    int notnull;
};

struct pg_batch {
    struct sl_batch_input in;
    char **lo;              /* cursor values to go past (NULL: from the start) */
    char *hi;               /* upper bound of the first cursor column, or NULL */
    char **upto;            /* a held batch: its last row's cursor, inclusive */
    char *keys;             /* keys_batch: JSON array of key value arrays */
    size_t *keycols;        /* keys_batch: the key columns (indexes into cols) */
    size_t nkeycols;
    long limit;             /* 0 = none */
    char limit_txt[24];
    int whole;              /* the whole table */
    int in_snapshot;        /* whole: the read transaction that took its fingerprint is
                             * open, for the COPY to read the same rows */
    long rows;              /* rows the last complete pass read */
    int complete;
};

struct sl_source {
    const struct pg_cfg *cfg;
    const struct sl_config *c;
    const struct sl_pipeline_cfg *p;
    const struct sl_table_cfg *t;
    const struct sl_connection_cfg *conn;
    struct sl_pg pg;
    char *where;            /* said before its failures: source "crm", table t */
    char *table_q;          /* the source table, quoted */
    struct col *cols;
    size_t ncols;
    size_t *cur;            /* cursor columns: indexes into cols */
    size_t ncur;
    int ties;               /* rows may share a cursor value: never cut a run of them */
    char *unique_index;     /* the unique index within the cursor columns, if any */
    const char *connect_timeout;    /* seconds, for `sluice check`; NULL = libpq's */
    struct sl_strlist pk;   /* the source table's primary key */
    int incremental;
    char **lo;              /* where the stored cursor stands */
    char *hi;               /* this run's upper bound, once computed */
    int hi_known;
    int done;
    char *snapshot;         /* cdc's first copy: read in this exported snapshot */
    struct sl_log_ctx log;
};

static int nomem(struct sl_err *err)
{
    return sl_err_set(err, SL_E_NOMEM, "out of memory");
}

/* ---- identifiers (docs/invariants.md #5: pg/quote.h quotes them all) ---- */

/* A name as the source's catalog has it. */
static void quote_name(struct sl_buf *b, const char *s)
{
    sl_pg_quote_ident(b, s, strlen(s));
}

static void free_strv(char **v, size_t n)
{
    for (size_t i = 0; v && i < n; i++)
        sl_free(v[i]);
    sl_free(v);
}

static char **dup_strv(char *const *v, size_t n)
{
    if (!v)
        return NULL;
    char **o = sl_calloc(n ? n : 1, sizeof *o);
    for (size_t i = 0; o && i < n; i++)
        if (v[i] && !(o[i] = sl_strdup(v[i]))) {
            free_strv(o, n);
            return NULL;
        }
    return o;
}

/* ---- connection ---- */

static const char SESSION_SQL[] =
    "SET client_min_messages = warning; SET datestyle = 'ISO'; SET timezone = 'UTC';"
    " SET extra_float_digits = 1; SET client_encoding = 'UTF8';"
    " SET intervalstyle = 'postgres'; SET bytea_output = 'hex'";

static int session_setup(struct sl_source *s, struct sl_err *err)
{
    if (sl_pg_run(&s->pg, SESSION_SQL, err, "could not set up the session") < 0)
        return -1;
    const char *p[] = {s->cfg->timezone ? s->cfg->timezone : "UTC"};
    return sl_pg_query(&s->pg, "SELECT set_config('sluice.tz', $1, false)", 1, p, NULL, err,
                       "could not set up the session");
}

static int connect_once(struct sl_source *s, struct sl_err *err)
{
    char msg[1024];
    if (sl_pg_connect(&s->pg, s->conn->url, s->conn->password, "sluice source",
                      s->connect_timeout, msg, sizeof msg) < 0)
        return sl_err_retry(err, SL_E_SOURCE, "source \"%s\": could not connect: %s",
                            s->cfg->connection, msg);
    return session_setup(s, err);
}

/* Connected and idle, reconnecting when the connection was lost (a server
 * restart) or left inside an abandoned COPY. */
static int ensure_ready(struct sl_source *s, struct sl_err *err)
{
    if (!s->pg.conn || PQstatus(s->pg.conn) != CONNECTION_OK)
        return connect_once(s, err);
    PGTransactionStatusType ts = PQtransactionStatus(s->pg.conn);
    if (ts == PQTRANS_ACTIVE)
        return connect_once(s, err);    /* a COPY was abandoned midway */
    if (ts != PQTRANS_IDLE) {
        PGresult *r = PQexec(s->pg.conn, "ROLLBACK");
        PQclear(r);
        if (PQstatus(s->pg.conn) != CONNECTION_OK ||
            PQtransactionStatus(s->pg.conn) != PQTRANS_IDLE)
            return connect_once(s, err);
    }
    return 0;
}

/* Connect at open, retrying while the server is unreachable (restarting). */
static int connect_retry(struct sl_source *s, struct sl_err *err)
{
    int attempts = sl_retry_attempts();
    for (int a = 1;; a++) {
        sl_err_clear(err);
        if (connect_once(s, err) == 0)
            return 0;
        if (err->cls != SL_RETRY || a >= attempts)
            return -1;
        sl_log(SL_LOG_WARN, &s->log, "%s; retrying", err->msg);
        sl_retry_sleep(a);
    }
}

/* ---- config ---- */

static int pg_validate(const struct sl_pipeline_cfg *p, const char *cfgfile, struct sl_err *err)
{
    const struct pg_cfg *pc = p->source_ctx;
    if (pc->timezone && !sl_tz_valid(pc->timezone))
        return sl_err_set(err, SL_E_CONFIG,
                          "%s:%d:%d: pipeline \"%s\": unknown time zone \"%s\""
                          " (use a tz database name such as America/New_York)",
                          cfgfile, p->pos.line, p->pos.col, p->name, pc->timezone);
    if (pc->parallel < 1)
        return sl_err_set(err, SL_E_CONFIG,
                          "%s:%d:%d: pipeline \"%s\": source: key \"parallel\": expected a"
                          " positive whole number, found %ld",
                          cfgfile, p->pos.line, p->pos.col, p->name, pc->parallel);
    for (size_t i = 0; i < p->ntables; i++) {
        const struct sl_table_cfg *t = &p->tables[i];
        if (t->kind == SL_KIND_CDC && !pc->cdc_given)
            return sl_err_set(err, SL_E_CONFIG,
                              "%s:%d:%d: pipeline \"%s\": table \"%s\": kind cdc reads the"
                              " source's write-ahead log: give the source a block"
                              " cdc: { slot: NAME, publication: NAME }",
                              cfgfile, t->pos.line, t->pos.col, p->name, t->name);
        if (t->kind == SL_KIND_APPEND)
            return sl_err_set(err, SL_E_CONFIG,
                              "%s:%d:%d: pipeline \"%s\": table \"%s\": kind append reads a"
                              " database table whole every run; use kind incremental with"
                              " mode insert_only (or snapshot)",
                              cfgfile, t->pos.line, t->pos.col, p->name, t->name);
    }
    return 0;
}

static int pg_resolve(const struct sl_config *c, const struct sl_pipeline_cfg *p,
                      const char *cfgfile, struct sl_err *err)
{
    const struct pg_cfg *pc = p->source_ctx;
    const struct sl_connection_cfg *conn = sl_config_connection(c, pc->connection);
    if (!conn) {
        struct sl_buf names;
        sl_buf_init(&names);
        for (size_t i = 0; i < c->nconnections; i++)
            sl_buf_printf(&names, "%s%s", i ? ", " : "", c->connections[i].name);
        sl_err_set(err, SL_E_CONFIG,
                   "%s:%d:%d: pipeline \"%s\": source: connection \"%s\" is not under"
                   " connections (there are: %s)",
                   cfgfile, p->pos.line, p->pos.col, p->name, pc->connection,
                   names.data ? names.data : "none");
        sl_buf_free(&names);
        return -1;
    }
    if (strncmp(conn->url, "postgresql://", 13) != 0 && strncmp(conn->url, "postgres://", 11) != 0)
        return sl_err_set(err, SL_E_CONFIG,
                          "%s:%d:%d: pipeline \"%s\": source: connection \"%s\" is not a"
                          " PostgreSQL database (%s)",
                          cfgfile, p->pos.line, p->pos.col, p->name, pc->connection, conn->url);
    return 0;
}

static int pg_workers(const struct sl_pipeline_cfg *p)
{
    const struct pg_cfg *pc = p->source_ctx;
    return pc->parallel > 1 ? (int)(pc->parallel > 64 ? 64 : pc->parallel) : 1;
}

/* ---- the source table ---- */

static const char EXISTS_SQL[] =
    "SELECT to_regclass($1) IS NOT NULL,"
    "       to_regclass($1) IS NOT NULL AND has_table_privilege(to_regclass($1), 'SELECT')";

static const char COLUMNS_SQL[] =
    "SELECT a.attname, format_type(bt.oid, NULL), bt.typname, a.attnotnull"
    "  FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid"
    "  JOIN pg_type bt ON bt.oid = CASE WHEN t.typtype = 'd' THEN t.typbasetype ELSE t.oid END"
    " WHERE a.attrelid = to_regclass($1) AND a.attnum > 0 AND NOT a.attisdropped"
    " ORDER BY a.attnum";

static const char PK_SQL[] =
    "SELECT a.attname FROM pg_index i"
    "  JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY (i.indkey)"
    " WHERE i.indrelid = to_regclass($1) AND i.indisprimary"
    " ORDER BY array_position(i.indkey::int2[], a.attnum)";

/* A unique index whose key columns (not its INCLUDE ones) are all cursor
 * columns, valid and not partial: then no two rows share a cursor value.
 * $2 is the cursor columns' names as a JSON array; an expression column
 * (attnum 0) has no name, so an index on an expression never counts. */
static const char UNIQUE_SQL[] =
    "SELECT c.relname FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid"
    " WHERE i.indrelid = to_regclass($1) AND i.indisunique AND i.indisvalid"
    "   AND i.indpred IS NULL"
    "   AND NOT EXISTS (SELECT 1 FROM unnest(i.indkey) WITH ORDINALITY k(attnum, n)"
    "        WHERE k.n <= i.indnkeyatts AND NOT EXISTS (SELECT 1 FROM pg_attribute a"
    "              WHERE a.attrelid = i.indrelid AND a.attnum = k.attnum"
    "                AND a.attname IN (SELECT json_array_elements_text($2::json))))"
    " ORDER BY i.indisprimary DESC, c.relname LIMIT 1";

/* A valid btree index whose first key columns are the cursor columns, in
 * order ($2, a JSON array): it reads the rows past a cursor in cursor order,
 * without scanning and sorting the table. */
static const char CURSOR_INDEX_SQL[] =
    "SELECT c.relname FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid"
    " JOIN pg_am am ON am.oid = c.relam"
    " WHERE i.indrelid = to_regclass($1) AND i.indisvalid AND i.indpred IS NULL"
    "   AND am.amname = 'btree' AND i.indnkeyatts >= json_array_length($2::json)"
    "   AND NOT EXISTS (SELECT 1 FROM json_array_elements_text($2::json) WITH ORDINALITY"
    "        k(name, n) WHERE (SELECT a.attname FROM pg_attribute a"
    "              WHERE a.attrelid = i.indrelid AND a.attnum = i.indkey[k.n - 1])"
    "            IS DISTINCT FROM k.name)"
    " ORDER BY i.indisprimary DESC, i.indnkeyatts, c.relname LIMIT 1";

static void map_type(struct col *c)
{
    static const struct { const char *pg; enum sl_type t; enum conv cv; } map[] = {
        {"int2", SL_T_BIGINT, CV_ASIS}, {"int4", SL_T_BIGINT, CV_ASIS},
        {"int8", SL_T_BIGINT, CV_ASIS}, {"numeric", SL_T_NUMERIC, CV_NUMERIC},
        {"float4", SL_T_DOUBLE, CV_DOUBLE}, {"float8", SL_T_DOUBLE, CV_DOUBLE},
        {"bool", SL_T_BOOL, CV_BOOL}, {"date", SL_T_DATE, CV_DATE},
        {"timestamptz", SL_T_TIMESTAMPTZ, CV_TSTZ}, {"timestamp", SL_T_TIMESTAMPTZ, CV_TSTZ},
        {"json", SL_T_JSON, CV_ASIS}, {"jsonb", SL_T_JSON, CV_ASIS},
    };
    c->type = SL_T_TEXT;
    c->conv = CV_ASIS;
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
        if (strcmp(c->typname, map[i].pg) == 0) {
            c->type = map[i].t;
            c->conv = map[i].cv;
        }
    c->naive = strcmp(c->typname, "timestamp") == 0;
}

/* A column by its name in the source (cursor) or, as_named, in the
 * warehouse (primary key, repair keys). */
static long find_col_by(const struct sl_source *s, const char *name, int as_named)
{
    for (size_t i = 0; i < s->ncols; i++)
        if (strcmp(as_named ? s->cols[i].as : s->cols[i].name, name) == 0)
            return (long)i;
    return -1;
}

static long find_col(const struct sl_source *s, const char *name)
{
    return find_col_by(s, name, 0);
}

static void free_cols(struct sl_source *s)
{
    for (size_t i = 0; i < s->ncols; i++) {
        sl_free(s->cols[i].name);
        sl_free(s->cols[i].as);
        sl_free(s->cols[i].pgtype);
        sl_free(s->cols[i].typname);
    }
    sl_free(s->cols);
    s->cols = NULL;
    s->ncols = 0;
}

static char *cursor_json(char *const *vals, size_t n);

/* The cursor columns' names as a JSON array (sl_free it); NULL = out of
 * memory. */
static char *cursor_names_json(const struct sl_source *s)
{
    char **names = sl_calloc(s->ncur ? s->ncur : 1, sizeof *names);
    for (size_t k = 0; names && k < s->ncur; k++)
        names[k] = s->cols[s->cur[k]].name;
    char *json = names ? cursor_json(names, s->ncur) : NULL;
    sl_free(names);
    return json;
}

/* Is the cursor unique (s->ties = 0, s->unique_index its index)? */
static int cursor_unique(struct sl_source *s, struct sl_err *err)
{
    char *json = cursor_names_json(s);
    if (!json)
        return nomem(err);
    const char *p[] = {s->table_q, json};
    PGresult *res;
    int rc = sl_pg_query(&s->pg, UNIQUE_SQL, 2, p, &res, err,
                         "could not read the table's unique indexes");
    sl_free(json);
    if (rc < 0)
        return -1;
    sl_free(s->unique_index);
    s->unique_index = NULL;
    s->ties = PQntuples(res) == 0;
    if (!s->ties && !(s->unique_index = sl_strdup(PQgetvalue(res, 0, 0)))) {
        PQclear(res);
        return nomem(err);
    }
    PQclear(res);
    if (s->ties && s->t->batch_limit > 0)
        sl_log(SL_LOG_DEBUG, &s->log, "cursor is not unique (no unique index of %s within"
               " it): a batch takes whole runs of rows sharing a cursor value",
               s->t->source_table);
    return 0;
}

static int describe(struct sl_source *s, struct sl_err *err)
{
    const char *p[] = {s->table_q};
    PGresult *res;

    if (sl_pg_query(&s->pg, EXISTS_SQL, 1, p, &res, err, "could not look up the table") < 0)
        return -1;
    int exists = strcmp(PQgetvalue(res, 0, 0), "t") == 0;
    int readable = strcmp(PQgetvalue(res, 0, 1), "t") == 0;
    PQclear(res);
    if (!exists)
        return sl_err_set(err, SL_E_SOURCE,
                          "source \"%s\": table %s does not exist (or the role cannot see it);"
                          " check source_table", s->cfg->connection, s->t->source_table);
    if (!readable)
        return sl_err_set(err, SL_E_SOURCE,
                          "source \"%s\": the role has no SELECT on table %s; GRANT SELECT"
                          " ON %s TO the replication role", s->cfg->connection,
                          s->t->source_table, s->table_q);
    if (sl_pg_query(&s->pg, COLUMNS_SQL, 1, p, &res, err, "could not read the table's columns") < 0)
        return -1;
    free_cols(s);
    int n = PQntuples(res);
    s->cols = sl_calloc((size_t)(n ? n : 1), sizeof *s->cols);
    if (!s->cols) {
        PQclear(res);
        return nomem(err);
    }
    for (int i = 0; i < n; i++) {
        struct col *c = &s->cols[s->ncols++];
        c->name = sl_strdup(PQgetvalue(res, i, 0));
        c->pgtype = sl_strdup(PQgetvalue(res, i, 1));
        c->typname = sl_strdup(PQgetvalue(res, i, 2));
        c->notnull = strcmp(PQgetvalue(res, i, 3), "t") == 0;
        if (c->name && sl_reserved_column(c->name)) {
            struct sl_buf as;
            sl_buf_init(&as);
            sl_buf_printf(&as, "_source%s", c->name);
            c->as = sl_buf_steal(&as);
            if (c->as)
                sl_log(SL_LOG_INFO, &s->log, "source column \"%s\" is named like sluice's own:"
                       " it loads as \"%s\"", c->name, c->as);
        } else if (c->name) {
            c->as = sl_strdup(c->name);
        }
        if (!c->name || !c->as || !c->pgtype || !c->typname) {
            PQclear(res);
            return nomem(err);
        }
        map_type(c);
    }
    PQclear(res);
    if (s->ncols == 0)
        return sl_err_set(err, SL_E_SOURCE, "source \"%s\": table %s has no columns",
                          s->cfg->connection, s->t->source_table);

    if (sl_pg_query(&s->pg, PK_SQL, 1, p, &res, err, "could not read the table's primary key") < 0)
        return -1;
    for (int i = 0; i < PQntuples(res); i++) {
        char **items = sl_realloc(s->pk.items, (s->pk.n + 1) * sizeof *items);
        long ci = find_col(s, PQgetvalue(res, i, 0));
        const char *as = ci >= 0 ? s->cols[ci].as : PQgetvalue(res, i, 0);
        if (!items || !(items[s->pk.n] = sl_strdup(as))) {
            if (items)
                s->pk.items = items;
            PQclear(res);
            return nomem(err);
        }
        s->pk.items = items;
        s->pk.n++;
    }
    PQclear(res);

    for (size_t k = 0; k < s->t->primary_key.n; k++)
        if (find_col_by(s, s->t->primary_key.items[k], 1) < 0)
            return sl_err_set(err, SL_E_CONFIG,
                              "pipeline \"%s\", table \"%s\": primary key column \"%s\" is not"
                              " a column of source table %s", s->p->name, s->t->name,
                              s->t->primary_key.items[k], s->t->source_table);
    if (s->incremental) {
        s->ncur = s->t->cursor.n;
        s->cur = sl_calloc(s->ncur ? s->ncur : 1, sizeof *s->cur);
        if (!s->cur)
            return nomem(err);
        for (size_t k = 0; k < s->ncur; k++) {
            long i = find_col(s, s->t->cursor.items[k]);
            if (i < 0)
                return sl_err_set(err, SL_E_CONFIG,
                                  "pipeline \"%s\", table \"%s\": cursor column \"%s\" is not a"
                                  " column of source table %s", s->p->name, s->t->name,
                                  s->t->cursor.items[k], s->t->source_table);
            s->cur[k] = (size_t)i;
            if (!s->cols[i].notnull)
                sl_log(SL_LOG_WARN, &s->log,
                       "cursor column \"%s\" allows NULL: rows with NULL there are never"
                       " replicated (declare it NOT NULL)", s->cols[i].name);
        }
        if (cursor_unique(s, err) < 0)
            return -1;
    }
    return 0;
}

static void pg_close(struct sl_source *s);

/* A source for table t, not connected yet. */
static struct sl_source *source_new(const struct sl_config *c, const struct sl_pipeline_cfg *p,
                                    const struct sl_table_cfg *t, struct sl_err *err)
{
    struct sl_source *s = sl_calloc(1, sizeof *s);
    if (!s) {
        nomem(err);
        return NULL;
    }
    s->cfg = p->source_ctx;
    s->c = c;
    s->p = p;
    s->t = t;
    s->log.pipeline = p->name;
    s->log.table = t->name;
    s->incremental = t->kind == SL_KIND_INCREMENTAL;
    s->conn = sl_config_connection(c, s->cfg->connection);
    if (!s->conn) {
        sl_err_set(err, SL_E_CONFIG, "pipeline \"%s\": source: no connection \"%s\"",
                   p->name, s->cfg->connection);
        sl_free(s);
        return NULL;
    }
    struct sl_buf where;
    sl_buf_init(&where);
    sl_buf_printf(&where, "source \"%s\", table %s", s->cfg->connection, t->source_table);
    s->where = where.oom ? (sl_buf_free(&where), NULL) : sl_buf_steal(&where);
    s->pg = (struct sl_pg){NULL, SL_E_SOURCE, s->where};
    s->table_q = sl_pg_source_table_of(t);
    if (!s->table_q || !s->where) {
        sl_free(s->table_q);
        sl_free(s->where);
        sl_free(s);
        nomem(err);
        return NULL;
    }
    return s;
}

char *sl_pg_source_table_of(const struct sl_table_cfg *t)
{
    return sl_pg_quoted_table(t->source_table ? t->source_table : t->name, 0);
}

int sl_pg_source_use_snapshot(struct sl_source *s, const char *snapshot)
{
    for (const char *p = snapshot; *p; p++)
        if (!((*p >= '0' && *p <= '9') || (*p >= 'A' && *p <= 'F') || *p == '-'))
            return -1;
    sl_free(s->snapshot);
    s->snapshot = sl_strdup(snapshot);
    s->done = 0;
    return s->snapshot ? 0 : -1;
}

const char *sl_pg_source_table(const struct sl_source *s)
{
    return s->table_q;
}

struct sl_pg *sl_pg_source_conn(struct sl_source *s)
{
    return &s->pg;
}

int sl_pg_source_ready(struct sl_source *s, struct sl_err *err)
{
    return ensure_ready(s, err);
}

static int pg_open(struct sl_source **out, const struct sl_config *c,
                   const struct sl_pipeline_cfg *p, const struct sl_table_cfg *t,
                   struct sl_err *err)
{
    struct sl_source *s = source_new(c, p, t, err);
    if (!s)
        return -1;
    if (connect_retry(s, err) < 0 || describe(s, err) < 0) {
        *out = NULL;
        pg_close(s);
        return -1;
    }
    *out = s;
    return 0;
}

static void pg_close(struct sl_source *s)
{
    if (!s)
        return;
    sl_pg_close(&s->pg);
    free_cols(s);
    sl_free(s->cur);
    for (size_t i = 0; i < s->pk.n; i++)
        sl_free(s->pk.items[i]);
    sl_free(s->pk.items);
    free_strv(s->lo, s->ncur);
    sl_free(s->hi);
    sl_free(s->unique_index);
    sl_free(s->snapshot);
    sl_free(s->table_q);
    sl_free(s->where);
    sl_free(s);
}

/* out->line, on one line: libpq's messages hold a newline and a tab. */
static void plan_say(struct sl_table_plan *out, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(out->line, sizeof out->line, fmt, ap);
    va_end(ap);
    size_t o = 0;
    for (size_t i = 0; out->line[i]; i++) {
        char ch = out->line[i] == '\n' || out->line[i] == '\t' ? ' ' : out->line[i];
        if (ch != ' ' || (o && out->line[o - 1] != ' '))
            out->line[o++] = ch;
    }
    out->line[o] = '\0';
}

/* For `sluice check`: the index that serves the cursor order, or the
 * CREATE INDEX that would. */
static int plan_cursor_index(struct sl_source *s, const char *cols, struct sl_table_plan *out,
                             struct sl_err *err)
{
    char *json = cursor_names_json(s);
    if (!json)
        return nomem(err);
    const char *p[] = {s->table_q, json};
    PGresult *res;
    int rc = sl_pg_query(&s->pg, CURSOR_INDEX_SQL, 2, p, &res, err,
                         "could not read the table's indexes");
    sl_free(json);
    if (rc < 0)
        return -1;
    if (PQntuples(res) > 0) {
        snprintf(out->cursor_index, sizeof out->cursor_index, "%s", PQgetvalue(res, 0, 0));
        snprintf(out->index_line, sizeof out->index_line, "cursor order: index %s reads the"
                 " rows past the cursor in order", out->cursor_index);
    } else {
        struct sl_buf fix;
        sl_buf_init(&fix);
        sl_buf_printf(&fix, "CREATE INDEX CONCURRENTLY ON %s (", s->table_q);
        for (size_t k = 0; k < s->ncur; k++) {
            if (k)
                sl_buf_puts(&fix, ", ");
            quote_name(&fix, s->cols[s->cur[k]].name);
        }
        sl_buf_puts(&fix, ");");
        snprintf(out->index_fix, sizeof out->index_fix, "%s", fix.oom ? "" : fix.data);
        sl_buf_free(&fix);
        snprintf(out->index_line, sizeof out->index_line, "cursor order: no index of the"
                 " source leads with the cursor columns (%s), so every batch after the first"
                 " scans and sorts the whole table on the source; %s", cols, out->index_fix);
    }
    PQclear(res);
    return 0;
}

/* For `sluice check`: is the cursor unique, and what a batch does about
 * ties. One attempt to connect, waiting 5 seconds at most; a source it
 * cannot reach (or a table it cannot read) is said, not failed. */
static void pg_plan(const struct sl_config *c, const struct sl_pipeline_cfg *p,
                    const struct sl_table_cfg *t, struct sl_table_plan *out)
{
    char cols[256];
    size_t used = 0;
    struct sl_err err;
    const char *name = t->source_table ? t->source_table : t->name;

    out->cursor_unique = -1;
    out->line[0] = '\0';
    out->cursor_index[0] = out->index_fix[0] = out->index_line[0] = '\0';
    if (t->kind != SL_KIND_INCREMENTAL)
        return;
    cols[0] = '\0';
    for (size_t k = 0; k < t->cursor.n && used < sizeof cols; k++)
        used += (size_t)snprintf(cols + used, sizeof cols - used, "%s%s", k ? ", " : "",
                                 t->cursor.items[k]);
    sl_err_clear(&err);
    struct sl_source *s = source_new(c, p, t, &err);
    if (s)
        s->connect_timeout = "5";
    if (!s || connect_once(s, &err) < 0 || describe(s, &err) < 0) {
        plan_say(out, "cursor (%s): could not look at the source to tell whether it is"
                 " unique (%s); each run looks, and unless a unique index lies within the"
                 " cursor columns a batch takes whole runs of rows sharing one cursor value",
                 cols, err.msg);
    } else if (!s->ties) {
        out->cursor_unique = 1;
        plan_say(out, "cursor (%s): unique (index %s): a batch limit may cut between any two"
                 " rows; the next batch resumes right after the last row taken", cols,
                 s->unique_index);
    } else if (t->batch_limit > 0) {
        out->cursor_unique = 0;
        plan_say(out, "cursor (%s): not unique (no unique index of table %s lies within the"
                 " cursor columns): a batch that batch_limit would end inside a run of rows"
                 " sharing one cursor value takes the whole run, so it may hold more than %ld"
                 " rows", cols, name, t->batch_limit);
    } else {
        out->cursor_unique = 0;
        plan_say(out, "cursor (%s): not unique (no unique index of table %s lies within the"
                 " cursor columns): no batch_limit, so no batch is cut; each takes every row"
                 " up to the bound", cols, name);
    }
    if (out->cursor_unique >= 0 && plan_cursor_index(s, cols, out, &err) < 0)
        snprintf(out->index_line, sizeof out->index_line, "cursor order: could not look at"
                 " the indexes (%.400s)", err.msg);
    pg_close(s);
}

/* ---- cursor text: a JSON array of the source's text of each column ---- */

static char *cursor_json(char *const *vals, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; a && i < n; i++)
        json_array_append_new(a, vals[i] ? json_string(vals[i]) : json_null());
    char *txt = a ? json_dumps(a, JSON_COMPACT) : NULL;
    json_decref(a);
    if (!txt)
        return NULL;
    char *out = sl_strdup(txt);
    free(txt);
    return out;
}

/* Parse a stored cursor; *vals gets n strings. */
static int cursor_parse(struct sl_source *s, const char *text, char ***vals, struct sl_err *err)
{
    json_error_t je;
    json_t *a = json_loads(text, 0, &je);
    if (!a || !json_is_array(a) || json_array_size(a) != s->ncur) {
        size_t got = a && json_is_array(a) ? json_array_size(a) : 0;
        json_decref(a);
        return sl_err_set(err, SL_E_CONFIG,
                          "pipeline \"%s\", table \"%s\": the stored cursor %s has %zu value(s)"
                          " but the table's cursor has %zu column(s); the cursor was changed:"
                          " delete its row from the cursors table to start over",
                          s->p->name, s->t->name, text, got, s->ncur);
    }
    char **v = sl_calloc(s->ncur ? s->ncur : 1, sizeof *v);
    if (!v) {
        json_decref(a);
        return nomem(err);
    }
    for (size_t i = 0; i < s->ncur; i++) {
        json_t *e = json_array_get(a, i);
        if (!json_is_string(e)) {
            json_decref(a);
            free_strv(v, s->ncur);
            return sl_err_set(err, SL_E_CONFIG, "table \"%s\": stored cursor %s: value %zu is"
                              " not a string", s->t->name, text, i + 1);
        }
        if (!(v[i] = sl_strdup(json_string_value(e)))) {
            json_decref(a);
            free_strv(v, s->ncur);
            return nomem(err);
        }
    }
    json_decref(a);
    *vals = v;
    return 0;
}

static int pg_resume(struct sl_source *s, const char *cursor, struct sl_err *err)
{
    if (!s->incremental || !cursor)
        return 0;
    char **v;
    if (cursor_parse(s, cursor, &v, err) < 0)
        return -1;
    free_strv(s->lo, s->ncur);
    s->lo = v;
    return 0;
}

/* ---- queries ---- */

/* Parameters of a query go into custom settings first (COPY takes none):
 * sluice.p1 .. sluice.pN, read back by current_setting(). */
struct qparams {
    const char *v[64];
    int n;
};

static void param_ref(struct sl_buf *b, struct qparams *q, const char *val, const char *cast)
{
    q->v[q->n++] = val;
    sl_buf_printf(b, "current_setting('sluice.p%d')::%s", q->n, cast);
}

static int set_params(struct sl_source *s, const struct qparams *q, struct sl_err *err)
{
    struct sl_buf sql;
    if (q->n == 0)
        return 0;
    sl_buf_init(&sql);
    sl_buf_puts(&sql, "SELECT ");
    for (int i = 0; i < q->n; i++)
        sl_buf_printf(&sql, "%sset_config('sluice.p%d', $%d, false)", i ? ", " : "", i + 1,
                      i + 1);
    int rc = sql.oom ? nomem(err)
                     : sl_pg_query(&s->pg, sql.data, q->n, q->v, NULL, err,
                                   "could not set the query's parameters");
    sl_buf_free(&sql);
    return rc;
}

/* Row value of the cursor columns, "("a", "b")". */
static void cursor_cols(struct sl_buf *b, const struct sl_source *s)
{
    sl_buf_putc(b, '(');
    for (size_t k = 0; k < s->ncur; k++) {
        if (k)
            sl_buf_puts(b, ", ");
        quote_name(b, s->cols[s->cur[k]].name);
    }
    sl_buf_putc(b, ')');
}

/* The value of column c as the type it loads as (reconcile, keys). */
static void value_expr(struct sl_buf *b, const struct col *c)
{
    if (c->naive) {
        sl_buf_putc(b, '(');
        quote_name(b, c->name);
        sl_buf_puts(b, " AT TIME ZONE current_setting('sluice.tz'))");
        return;
    }
    if (strcmp(c->typname, "bpchar") == 0) {
        /* char(n) as COPY and the WAL print it, padded: ::text would trim */
        sl_buf_puts(b, "CASE WHEN ");
        quote_name(b, c->name);
        sl_buf_puts(b, " IS NOT NULL THEN concat(");
        quote_name(b, c->name);
        sl_buf_puts(b, ") END");
        return;
    }
    quote_name(b, c->name);
    if (strcmp(c->typname, "json") == 0)
        sl_buf_puts(b, "::jsonb");
    else if (strcmp(c->typname, "float4") == 0)
        sl_buf_puts(b, "::text::float8");
    else if (strcmp(c->typname, "int2") == 0 || strcmp(c->typname, "int4") == 0)
        sl_buf_puts(b, "::int8");
    else if (c->type == SL_T_TEXT && strcmp(c->typname, "text") != 0)
        sl_buf_puts(b, "::text");
}

/* WHERE clause of a batch (without "WHERE"); empty when none. */
static void batch_where(struct sl_buf *w, struct sl_source *s, struct pg_batch *pb,
                        struct qparams *q)
{
    const char *and = "";
    if (pb->keys) {
        sl_buf_putc(w, '(');
        for (size_t k = 0; k < pb->nkeycols; k++) {
            if (k)
                sl_buf_puts(w, ", ");
            value_expr(w, &s->cols[pb->keycols[k]]);
        }
        sl_buf_puts(w, ") IN (SELECT ");
        for (size_t k = 0; k < pb->nkeycols; k++)
            sl_buf_printf(w, "%s(e->>%zu)::%s", k ? ", " : "", k,
                          sl_pg_type_name(s->cols[pb->keycols[k]].type));
        sl_buf_puts(w, " FROM json_array_elements(");
        param_ref(w, q, pb->keys, "json");
        sl_buf_puts(w, ") e)");
        return;
    }
    if (pb->whole)
        return;
    /* rows with NULL in a cursor column have no place in the order */
    for (size_t k = 0; k < s->ncur; k++) {
        if (s->cols[s->cur[k]].notnull)
            continue;
        sl_buf_puts(w, and);
        quote_name(w, s->cols[s->cur[k]].name);
        sl_buf_puts(w, " IS NOT NULL");
        and = " AND ";
    }
    if (pb->lo) {
        sl_buf_puts(w, and);
        cursor_cols(w, s);
        sl_buf_puts(w, " > (");
        for (size_t k = 0; k < s->ncur; k++) {
            if (k)
                sl_buf_puts(w, ", ");
            param_ref(w, q, pb->lo[k], s->cols[s->cur[k]].pgtype);
        }
        sl_buf_putc(w, ')');
        and = " AND ";
    }
    if (pb->upto) {
        sl_buf_puts(w, and);
        cursor_cols(w, s);
        sl_buf_puts(w, " <= (");
        for (size_t k = 0; k < s->ncur; k++) {
            if (k)
                sl_buf_puts(w, ", ");
            param_ref(w, q, pb->upto[k], s->cols[s->cur[k]].pgtype);
        }
        sl_buf_putc(w, ')');
        and = " AND ";
    } else if (pb->hi) {
        sl_buf_puts(w, and);
        quote_name(w, s->cols[s->cur[0]].name);
        sl_buf_puts(w, " < ");
        param_ref(w, q, pb->hi, s->cols[s->cur[0]].pgtype);
    }
}

/* The cursor columns, "a<suffix>, b<suffix>". */
static void cursor_list(struct sl_buf *b, const struct sl_source *s, const char *suffix)
{
    for (size_t k = 0; k < s->ncur; k++) {
        if (k)
            sl_buf_puts(b, ", ");
        quote_name(b, s->cols[s->cur[k]].name);
        sl_buf_puts(b, suffix);
    }
}

/* COPY (SELECT <columns> [<cursor columns again>] FROM t WHERE .. ORDER BY .. LIMIT ..);
 * with ties, the LIMIT is a bound on the cursor instead (see the file comment) */
static int batch_sql(struct sl_buf *sql, struct sl_source *s, struct pg_batch *pb,
                     struct qparams *q)
{
    struct sl_buf w;
    sl_buf_init(&w);
    batch_where(&w, s, pb, q);
    sl_buf_puts(sql, "COPY (SELECT ");
    for (size_t i = 0; i < s->ncols; i++) {
        const struct col *c = &s->cols[i];
        if (i)
            sl_buf_puts(sql, ", ");
        quote_name(sql, c->name);
        if (c->naive)
            sl_buf_puts(sql, " AT TIME ZONE current_setting('sluice.tz')");
        else if (strcmp(c->typname, "json") == 0)
            sl_buf_puts(sql, "::jsonb");
    }
    int ordered = !pb->whole && !pb->keys;
    /* the cursor columns as the source writes them, for the next cursor */
    for (size_t k = 0; ordered && k < s->ncur; k++) {
        sl_buf_puts(sql, ", ");
        quote_name(sql, s->cols[s->cur[k]].name);
    }
    sl_buf_printf(sql, " FROM %s", s->table_q);
    if (w.len)
        sl_buf_printf(sql, " WHERE %s", w.data);
    if (ordered && pb->limit > 0)
        snprintf(pb->limit_txt, sizeof pb->limit_txt, "%ld", pb->limit);
    if (ordered && pb->limit > 0 && s->ties) {
        /* up to the highest cursor among the first limit rows, inclusive:
         * never a cut run of ties. One statement, so both parts see one
         * snapshot; the subquery is an InitPlan, computed once, and a bound
         * an index on the cursor can use. */
        sl_buf_puts(sql, w.len ? " AND " : " WHERE ");
        cursor_cols(sql, s);
        sl_buf_puts(sql, " <= (SELECT ");
        cursor_list(sql, s, "");
        sl_buf_puts(sql, " FROM (SELECT ");
        cursor_list(sql, s, "");
        sl_buf_printf(sql, " FROM %s", s->table_q);
        if (w.len)
            sl_buf_printf(sql, " WHERE %s", w.data);
        sl_buf_puts(sql, " ORDER BY ");
        cursor_list(sql, s, "");
        sl_buf_puts(sql, " LIMIT ");
        param_ref(sql, q, pb->limit_txt, "bigint");
        sl_buf_puts(sql, ") AS first_rows ORDER BY ");
        cursor_list(sql, s, " DESC");
        sl_buf_puts(sql, " LIMIT 1)");
    }
    if (ordered) {
        sl_buf_puts(sql, " ORDER BY ");
        cursor_list(sql, s, "");
        if (pb->limit > 0 && !s->ties) {
            sl_buf_puts(sql, " LIMIT ");
            param_ref(sql, q, pb->limit_txt, "bigint");
        }
    }
    sl_buf_puts(sql, ") TO STDOUT");
    int oom = w.oom || sql->oom;
    sl_buf_free(&w);
    return oom ? -1 : 0;
}

/* ---- batches ---- */

static void free_batch(struct sl_source *s, struct pg_batch *pb)
{
    if (!pb)
        return;
    free_strv(pb->lo, s->ncur);
    free_strv(pb->upto, s->ncur);
    sl_free(pb->hi);
    sl_free(pb->keys);
    sl_free(pb->keycols);
    sl_free(pb->in.ref);
    sl_free(pb->in.cursor_after);
    sl_free(pb);
}

static struct pg_batch *new_batch(struct sl_source *s)
{
    struct pg_batch *pb = sl_calloc(1, sizeof *pb);
    if (!pb)
        return NULL;
    pb->in.timezone = "UTC";    /* values come converted: naive times in SQL */
    pb->in.overlap = SL_DST_EARLIER;
    pb->in.canonical = 1;
    pb->in.priv = pb;
    (void)s;
    return pb;
}

static int set_ref(struct sl_source *s, struct pg_batch *pb)
{
    struct sl_buf r;
    sl_buf_init(&r);
    sl_buf_printf(&r, "%s:%s", s->cfg->connection, s->t->source_table);
    if (pb->keys) {
        sl_buf_puts(&r, " repair");
    } else if (!pb->whole) {
        char *lo = pb->lo ? cursor_json(pb->lo, s->ncur) : NULL;
        sl_buf_printf(&r, " after %s", lo ? lo : "start");
        sl_free(lo);
        if (pb->upto) {
            char *up = cursor_json(pb->upto, s->ncur);
            sl_buf_printf(&r, " up to %s", up ? up : "?");
            sl_free(up);
        } else if (pb->hi) {
            sl_buf_printf(&r, " until %s", pb->hi);
        }
    }
    if (r.oom) {
        sl_buf_free(&r);
        return -1;
    }
    pb->in.ref = sl_buf_steal(&r);
    return 0;
}

static const char NOW_SQL[] = "coalesce($1::timestamptz, now())";

/* The upper bound of the first cursor column for this run: now() - boundary
 * as the column's type; for wall-clock times the lowest wall-clock time the
 * zone shows from then on (see the file comment); none for other types. */
static int compute_hi(struct sl_source *s, struct sl_err *err)
{
    const struct col *c = &s->cols[s->cur[0]];
    char secs[32];
    const char *now = getenv("SLUICE_SOURCE_NOW");  /* tests: the source's "now" */
    const char *p[] = {now && *now ? now : NULL, secs, s->cfg->timezone ? s->cfg->timezone : "UTC"};
    struct sl_buf sql;
    PGresult *res;

    s->hi_known = 1;
    snprintf(secs, sizeof secs, "%.6f", s->t->boundary);
    sl_buf_init(&sql);
    if (strcmp(c->typname, "timestamptz") == 0)
        sl_buf_printf(&sql, "SELECT (%s - make_interval(secs => $2::float8))::text,"
                      " $3::text", NOW_SQL);
    else if (strcmp(c->typname, "timestamp") == 0 || strcmp(c->typname, "date") == 0)
        /* u = now - boundary; the zone's clocks from u on: at u, and at every
         * whole minute of the next three hours (transitions fall on whole
         * minutes), the lowest of them */
        sl_buf_printf(&sql, "SELECT least(u AT TIME ZONE $3::text, min((date_trunc('minute', u)"
                      " + g * interval '1 minute') AT TIME ZONE $3::text))%s::text"
                      " FROM (SELECT %s - make_interval(secs => $2::float8) AS u) n,"
                      " generate_series(1, 180) g GROUP BY u",
                      strcmp(c->typname, "date") == 0 ? "::date" : "", NOW_SQL);
    else
        return 0;
    if (sql.oom)
        return nomem(err);
    int rc = sl_pg_query(&s->pg, sql.data, 3, p, &res, err, "could not read the source's clock");
    sl_buf_free(&sql);
    if (rc < 0)
        return -1;
    s->hi = sl_strdup(PQgetvalue(res, 0, 0));
    PQclear(res);
    return s->hi ? 0 : nomem(err);
}

/* Is there a row past the cursor and within the bound? */
static int probe(struct sl_source *s, struct pg_batch *pb, int *any, struct sl_err *err)
{
    struct sl_buf sql, w;
    struct qparams q = {{0}, 0};
    PGresult *res;

    sl_buf_init(&sql);
    sl_buf_init(&w);
    batch_where(&w, s, pb, &q);
    sl_buf_printf(&sql, "SELECT EXISTS (SELECT 1 FROM %s%s%s)", s->table_q,
                  w.len ? " WHERE " : "", w.len ? w.data : "");
    int rc = (sql.oom || w.oom) ? nomem(err) : set_params(s, &q, err);
    if (rc == 0)
        rc = sl_pg_query(&s->pg, sql.data, 0, NULL, &res, err, "could not look for new rows");
    if (rc == 0) {
        *any = strcmp(PQgetvalue(res, 0, 0), "t") == 0;
        PQclear(res);
    }
    sl_buf_free(&sql);
    sl_buf_free(&w);
    return rc;
}

static int begin_whole(struct sl_source *s, struct pg_batch *pb, struct sl_err *err);

static int pg_next(struct sl_source *s, struct sl_batch_input **out, struct sl_err *err)
{
    if (s->done)
        return 0;
    struct pg_batch *pb = new_batch(s);
    if (!pb)
        return nomem(err);
    if (!s->incremental) {
        pb->whole = 1;
        s->done = 1;    /* one batch a run: the whole table */
        int rc = 0;
        for (int a = 1;; a++) {
            sl_err_clear(err);
            rc = ensure_ready(s, err);
            if (rc == 0)
                rc = begin_whole(s, pb, err);
            if (rc == 0 || err->cls != SL_RETRY || a >= sl_retry_attempts())
                break;
            sl_log(SL_LOG_WARN, &s->log, "%s; retrying", err->msg);
            sl_retry_sleep(a);
        }
        if (rc < 0) {
            free_batch(s, pb);
            return -1;
        }
        pb->in_snapshot = 1;
    } else {
        int any = 0, rc = 0;
        for (int a = 1;; a++) {
            sl_err_clear(err);
            rc = ensure_ready(s, err);
            if (rc == 0 && !s->hi_known)
                rc = compute_hi(s, err);
            if (rc == 0) {
                free_strv(pb->lo, s->ncur);
                pb->lo = s->lo ? dup_strv(s->lo, s->ncur) : NULL;
                sl_free(pb->hi);
                pb->hi = s->hi ? sl_strdup(s->hi) : NULL;
                if ((s->lo && !pb->lo) || (s->hi && !pb->hi))
                    rc = nomem(err);
            }
            if (rc == 0)
                rc = probe(s, pb, &any, err);
            if (rc == 0 || err->cls != SL_RETRY || a >= sl_retry_attempts())
                break;
            sl_log(SL_LOG_WARN, &s->log, "%s; retrying", err->msg);
            sl_retry_sleep(a);
        }
        if (rc < 0 || !any) {
            free_batch(s, pb);
            s->done = 1;
            return rc < 0 ? -1 : 0;
        }
        /* the first sync reads the table once, as a snapshot does: a limit
         * would make it scan and sort the table once per batch */
        pb->limit = s->lo ? s->t->batch_limit : 0;
    }
    if (set_ref(s, pb) < 0) {
        free_batch(s, pb);
        return nomem(err);
    }
    *out = &pb->in;
    return 1;
}

/* ---- the reader: COPY text rows ---- */

struct sl_reader {
    struct sl_source *s;
    struct pg_batch *pb;
    char *line;                 /* the current row, from PQgetCopyData */
    struct sl_field *fields;    /* one per column, then the cursor columns */
    size_t nfields;
    struct sl_buf *conv;        /* per column: a converted value */
    long row;
    int finished;
};

static void rd_close(struct sl_reader *r)
{
    if (!r)
        return;
    if (!r->finished && r->s->pg.conn && PQtransactionStatus(r->s->pg.conn) == PQTRANS_ACTIVE)
        /* abandoned midway (a gate, a bad value): the connection is dropped
         * rather than drained; the next pass reconnects */
        sl_pg_close(&r->s->pg);
    if (r->line)
        PQfreemem(r->line);
    for (size_t i = 0; r->conv && i < r->s->ncols; i++)
        sl_buf_free(&r->conv[i]);
    sl_free(r->conv);
    sl_free(r->fields);
    sl_free(r);
}

/* COPY text escapes, in place: \b \f \n \r \t \v \\, octal \NNN, hex \xHH. */
static size_t unescape(char *s, size_t n)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c != '\\' || i + 1 >= n) {
            s[o++] = c;
            continue;
        }
        c = s[++i];
        switch (c) {
        case 'b': s[o++] = '\b'; break;
        case 'f': s[o++] = '\f'; break;
        case 'n': s[o++] = '\n'; break;
        case 'r': s[o++] = '\r'; break;
        case 't': s[o++] = '\t'; break;
        case 'v': s[o++] = '\v'; break;
        case 'x': {
            int v = 0, d = 0;
            while (d < 2 && i + 1 < n && strchr("0123456789abcdefABCDEF", s[i + 1]) && s[i + 1]) {
                char h = s[++i];
                v = v * 16 + (h <= '9' ? h - '0' : (h | 0x20) - 'a' + 10);
                d++;
            }
            s[o++] = d ? (char)v : 'x';
            break;
        }
        default:
            if (c >= '0' && c <= '7') {
                int v = c - '0', d = 1;
                while (d < 3 && i + 1 < n && s[i + 1] >= '0' && s[i + 1] <= '7') {
                    v = v * 8 + (s[++i] - '0');
                    d++;
                }
                s[o++] = (char)v;
            } else {
                s[o++] = c;
            }
        }
    }
    return o;
}

/* "2024-01-05 10:00:00[.ffffff]+00" (ISO, UTC) -> "2024-01-05T10:00:00.ffffffZ";
 * 0 = converted, -1 = another shape (left to the full parser). */
static int fast_tstz(const char *v, size_t n, struct sl_buf *out)
{
    if (n < 22 || v[4] != '-' || v[7] != '-' || v[10] != ' ' || v[13] != ':' ||
        v[16] != ':' || memcmp(v + n - 3, "+00", 3) != 0)
        return -1;
    size_t frac = 0;
    if (n > 22) {
        if (v[19] != '.' || n - 23 > 6 || n - 23 == 0)
            return -1;
        frac = n - 23;
    }
    char buf[28];
    memcpy(buf, v, 19);
    buf[10] = 'T';
    buf[19] = '.';
    memcpy(buf + 20, v + 20, frac);
    memset(buf + 20 + frac, '0', 6 - frac);
    buf[26] = 'Z';
    sl_buf_reset(out);
    return sl_buf_append(out, buf, 27) < 0 ? -1 : 0;
}

static int bad_value(struct sl_reader *r, size_t i, const char *v, size_t n, const char *why,
                     struct sl_err *err)
{
    return sl_err_set(err, SL_E_INPUT, "%s:%ld:%zu: column \"%s\" (%s): %s: \"%.*s\"",
                      r->pb->in.ref, r->row, i + 1, r->s->cols[i].name,
                      r->s->cols[i].pgtype, why, (int)(n > 60 ? 60 : n), v);
}

/* Canonical form of value i (base/value.h), or an error naming it. */
static int convert(struct sl_reader *r, size_t i, struct sl_field *f, struct sl_err *err)
{
    const struct col *c = &r->s->cols[i];
    struct sl_buf *out = &r->conv[i];
    char why[160];
    static const struct sl_valctx utc = {NULL, SL_DST_EARLIER, SL_EPOCH_NONE};

    switch (c->conv) {
    case CV_ASIS:
        return 0;
    case CV_BOOL:
        if (f->len == 1 && (f->val[0] == 't' || f->val[0] == 'f')) {
            f->val = f->val[0] == 't' ? "true" : "false";
            f->len = f->val[0] == 't' ? 4 : 5;
            return 0;
        }
        return bad_value(r, i, f->val, f->len, "not a boolean", err);
    case CV_NUMERIC:
        if (f->len && (f->val[0] == 'N' || f->val[0] == 'I' ||
                       (f->val[0] == '-' && f->len > 1 && f->val[1] == 'I')))
            return bad_value(r, i, f->val, f->len,
                             "numeric NaN and Infinity have no exact decimal form; the"
                             " warehouse column is numeric", err);
        return 0;
    case CV_DATE:
        if (f->len == 10 && f->val[4] == '-' && f->val[7] == '-')
            return 0;
        return bad_value(r, i, f->val, f->len, "date outside 0001-9999 (or infinity)", err);
    case CV_DOUBLE:
        if (!memchr(f->val, 'e', f->len))
            return 0;   /* "1.5", "-0", "NaN", "Infinity": canonical already */
        break;
    case CV_TSTZ:
        if (fast_tstz(f->val, f->len, out) == 0) {
            f->val = out->data;
            f->len = out->len;
            return 0;
        }
        break;
    }
    sl_buf_reset(out);
    if (sl_value_canon(c->type, f->val, f->len, SL_LEX_RAW, &utc, out, why, sizeof why) != 0)
        return bad_value(r, i, f->val, f->len, why, err);
    f->val = out->data;
    f->len = out->len;
    return 0;
}

static int rd_finish(struct sl_reader *r, struct sl_err *err)
{
    struct sl_source *s = r->s;
    PGresult *res = PQgetResult(s->pg.conn);
    int ok = PQresultStatus(res) == PGRES_COMMAND_OK;
    if (!ok)
        sl_pg_fail(&s->pg, res, err, "could not read rows");
    PQclear(res);
    while ((res = PQgetResult(s->pg.conn)))
        PQclear(res);
    if (!ok || sl_pg_run(&s->pg, "COMMIT", err, "could not end the read transaction") < 0)
        return -1;
    r->finished = 1;
    r->pb->rows = r->row;
    r->pb->complete = 1;
    if (!r->pb->whole && !r->pb->keys && !r->pb->upto && r->line && s->ncur) {
        /* the cursor after this batch: its last row's cursor columns */
        char **v = sl_calloc(s->ncur, sizeof *v);
        for (size_t k = 0; v && k < s->ncur; k++) {
            const struct sl_field *f = &r->fields[s->ncols + k];
            v[k] = f->is_null ? NULL : sl_strndup(f->val, f->len);
        }
        char *txt = v ? cursor_json(v, s->ncur) : NULL;
        free_strv(v, s->ncur);
        if (!txt)
            return nomem(err);
        sl_free(r->pb->in.cursor_after);
        r->pb->in.cursor_after = txt;
    }
    return 0;
}

static int rd_next(struct sl_reader *r, struct sl_record *rec, struct sl_err *err)
{
    struct sl_source *s = r->s;
    char *line = NULL;

    if (r->finished)
        return 0;
    int n = PQgetCopyData(s->pg.conn, &line, 0);
    if (n == -1)
        return rd_finish(r, err) < 0 ? -1 : 0;
    if (n < 0) {
        sl_pg_fail(&s->pg, NULL, err, "lost the connection while reading rows");
        return -1;
    }
    if (r->line)
        PQfreemem(r->line);
    r->line = line;
    r->row++;
    if (n > 0 && line[n - 1] == '\n')
        n--;

    size_t want = r->nfields, got = 0;
    char *p = line, *end = line + n;
    for (;;) {
        char *tab = memchr(p, '\t', (size_t)(end - p));
        char *fe = tab ? tab : end;
        if (got >= want)
            return sl_err_set(err, SL_E_SOURCE, "%s:%ld: more values than columns in a COPY row",
                              r->pb->in.ref, r->row);
        struct sl_field *f = &r->fields[got];
        size_t len = (size_t)(fe - p);
        f->line = r->row;
        f->col = (long)got + 1;
        if (len == 2 && p[0] == '\\' && p[1] == 'N') {
            f->is_null = 1;
            f->val = "";
            f->len = 0;
        } else {
            f->is_null = 0;
            f->val = p;
            f->len = memchr(p, '\\', len) ? unescape(p, len) : len;
        }
        got++;
        if (!tab)
            break;
        p = tab + 1;
    }
    if (got != want)
        return sl_err_set(err, SL_E_SOURCE, "%s:%ld: %zu values in a COPY row, expected %zu",
                          r->pb->in.ref, r->row, got, want);
    for (size_t i = 0; i < s->ncols; i++)
        if (!r->fields[i].is_null && convert(r, i, &r->fields[i], err) < 0)
            return -1;
    rec->fields = r->fields;
    rec->nfields = s->ncols;    /* the cursor copies stay behind */
    rec->line = r->row;
    rec->index = r->row;
    return 1;
}

static const struct sl_format_ops pg_copy_format = {
    .name = "postgres-copy",
    .extensions = NULL,
    .open = NULL,       /* opened by pg_open_rows over the COPY it started */
    .next = rd_next,
    .close = rd_close,
};

/* The content of the whole table as one text, in the read transaction
 * that copies it: row count and the sum of every row's hash (a multiset
 * fingerprint: the order of rows does not change it). A snapshot whose
 * fingerprint is the one the warehouse's table was loaded from is
 * unchanged: the engine skips it as the same content (one scan of the
 * source instead of a copy of the table). */
static const char FINGERPRINT_SQL[] =
    "SELECT count(*)::text || ':' || coalesce(sum(hashtextextended(t::text, 0)), 0)::text"
    " FROM %s t";

static int fingerprint(struct sl_source *s, struct pg_batch *pb, struct sl_err *err)
{
    struct sl_buf sql;
    sl_buf_init(&sql);
    sl_buf_printf(&sql, FINGERPRINT_SQL, s->table_q);
    if (sql.oom) {
        sl_buf_free(&sql);
        return nomem(err);
    }
    PGresult *res = PQexec(s->pg.conn, sql.data);
    sl_buf_free(&sql);
    if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1) {
        sl_pg_fail(&s->pg, res, err, "could not read the table's fingerprint");
        PQclear(res);
        return -1;
    }
    const char *v = PQgetvalue(res, 0, 0);
    XXH128_hash_t h = XXH3_128bits(v, strlen(v));
    snprintf(pb->in.hash, sizeof pb->in.hash, "%016llx%016llx", (unsigned long long)h.high64,
             (unsigned long long)h.low64);
    PQclear(res);
    return 0;
}

/* The whole table's read transaction: REPEATABLE READ, so the fingerprint
 * and the COPY see the same rows. */
static int begin_whole(struct sl_source *s, struct pg_batch *pb, struct sl_err *err)
{
    if (sl_pg_run(&s->pg, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", err,
                  "could not begin the read transaction") < 0)
        return -1;
    if (s->snapshot) {
        /* the name is the server's own ("00000003-0000001B-1"), checked */
        char sql[128];
        snprintf(sql, sizeof sql, "SET TRANSACTION SNAPSHOT '%s'", s->snapshot);
        if (sl_pg_run(&s->pg, sql, err, "could not read in the slot's snapshot") < 0)
            return -1;
    }
    return fingerprint(s, pb, err);
}

static int start_copy(struct sl_source *s, struct pg_batch *pb, struct sl_err *err)
{
    struct sl_buf sql;
    struct qparams q = {{0}, 0};
    int rc = -1;

    sl_buf_init(&sql);
    if (batch_sql(&sql, s, pb, &q) < 0) {
        sl_buf_free(&sql);
        return nomem(err);
    }
    PGresult *res;
    if (pb->in_snapshot && s->pg.conn && PQstatus(s->pg.conn) == CONNECTION_OK &&
        PQtransactionStatus(s->pg.conn) == PQTRANS_INTRANS) {
        /* the transaction pg_next took the fingerprint in */
    } else if (ensure_ready(s, err) < 0) {
        goto done;
    } else if (pb->whole) {
        /* a retry: a new read, and its own fingerprint */
        if (begin_whole(s, pb, err) < 0)
            goto done;
    } else if (sl_pg_run(&s->pg, "BEGIN READ ONLY", err,
                         "could not begin the read transaction") < 0) {
        goto done;
    }
    pb->in_snapshot = 0;
    if (set_params(s, &q, err) < 0)
        goto done;
    res = PQexec(s->pg.conn, sql.data);
    if (PQresultStatus(res) != PGRES_COPY_OUT) {
        sl_pg_fail(&s->pg, res, err, "could not start reading rows");
        PQclear(res);
        goto done;
    }
    PQclear(res);
    rc = 0;
done:
    sl_buf_free(&sql);
    return rc;
}

static int pg_open_rows(struct sl_source *s, struct sl_batch_input *b, struct sl_rowsrc *r,
                        struct sl_err *err)
{
    struct pg_batch *pb = b->priv;
    struct sl_reader *rd = sl_calloc(1, sizeof *rd);

    memset(r, 0, sizeof *r);
    if (!rd)
        return nomem(err);
    rd->s = s;
    rd->pb = pb;
    rd->nfields = s->ncols + ((pb->whole || pb->keys) ? 0 : s->ncur);
    rd->fields = sl_calloc(rd->nfields, sizeof *rd->fields);
    rd->conv = sl_calloc(s->ncols, sizeof *rd->conv);
    if (!rd->fields || !rd->conv) {
        sl_free(rd->fields);
        sl_free(rd->conv);
        sl_free(rd);
        return nomem(err);
    }
    for (size_t i = 0; i < s->ncols; i++) {
        sl_buf_init(&rd->conv[i]);
        rd->fields[i].name = s->cols[i].as;
        rd->fields[i].name_len = strlen(s->cols[i].as);
        rd->fields[i].lex = SL_LEX_RAW;
    }
    for (size_t k = 0; s->ncols + k < rd->nfields; k++) {
        rd->fields[s->ncols + k].name = s->cols[s->cur[k]].name;
        rd->fields[s->ncols + k].name_len = strlen(s->cols[s->cur[k]].name);
    }
    pb->complete = 0;
    if (start_copy(s, pb, err) < 0) {
        rd->finished = 1;
        rd_close(rd);
        return -1;
    }
    r->fmt = &pg_copy_format;
    r->rd = rd;
    return 0;
}

static int pg_schema(struct sl_source *s, struct sl_batch_input *b, struct sl_schema *out,
                     struct sl_err *err)
{
    (void)b;
    memset(out, 0, sizeof *out);
    for (size_t i = 0; i < s->ncols; i++)
        if (sl_schema_add(out, s->cols[i].as, s->cols[i].type) < 0) {
            sl_schema_free(out);
            return nomem(err);
        }
    return 0;
}

static int pg_ack(struct sl_source *s, struct sl_batch_input *b, enum sl_outcome o,
                  const char *why, struct sl_err *err)
{
    struct pg_batch *pb = b->priv;
    (void)why;
    (void)err;
    if ((o == SL_OUT_COMMITTED || o == SL_OUT_DUPLICATE) && s->incremental && !pb->keys &&
        !pb->whole) {
        if (pb->in.cursor_after) {
            char **v;
            struct sl_err e2;
            if (cursor_parse(s, pb->in.cursor_after, &v, &e2) == 0) {
                free_strv(s->lo, s->ncur);
                s->lo = v;
            } else {
                s->done = 1;
            }
        }
        /* a short batch: nothing more up to the bound for now */
        if (pb->limit <= 0 || !pb->complete || pb->rows < pb->limit || pb->upto)
            s->done = 1;
    } else if (o != SL_OUT_COMMITTED && o != SL_OUT_DUPLICATE) {
        s->done = 1;
    }
    free_batch(s, pb);
    return 0;
}

/* ---- quarantine: a held batch is its query, read again on approve ---- */

static int pg_hold(struct sl_source *s, struct sl_batch_input *b, char **held,
                   struct sl_err *err)
{
    struct pg_batch *pb = b->priv;
    json_t *o = json_object();
    if (!o)
        return nomem(err);
    json_object_set_new(o, "whole", json_boolean(pb->whole));
    if (!pb->whole) {
        json_t *lo = json_null(), *up = json_null();
        if (pb->lo) {
            lo = json_array();
            for (size_t k = 0; k < s->ncur; k++)
                json_array_append_new(lo, json_string(pb->lo[k]));
        }
        json_object_set_new(o, "after", lo);
        if (pb->upto || (pb->complete && pb->in.cursor_after)) {
            json_decref(up);
            up = pb->upto ? json_array() : json_loads(pb->in.cursor_after, 0, NULL);
            for (size_t k = 0; pb->upto && k < s->ncur; k++)
                json_array_append_new(up, json_string(pb->upto[k]));
        }
        json_object_set_new(o, "upto", up ? up : json_null());
        json_object_set_new(o, "until", pb->hi ? json_string(pb->hi) : json_null());
        json_object_set_new(o, "limit", json_integer(pb->limit));
    }
    char *txt = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    if (!txt)
        return nomem(err);
    *held = sl_strdup(txt);
    free(txt);
    return *held ? 0 : nomem(err);
}

static int strv_from_json(struct sl_source *s, json_t *a, char ***out, struct sl_err *err)
{
    *out = NULL;
    if (!a || json_is_null(a))
        return 0;
    char *txt = json_dumps(a, JSON_COMPACT);
    if (!txt)
        return nomem(err);
    int rc = cursor_parse(s, txt, out, err);
    free(txt);
    return rc;
}

static int pg_reopen(struct sl_source *s, const char *held, struct sl_batch_input **out,
                     struct sl_err *err)
{
    json_t *o = json_loads(held, 0, NULL);
    if (!o || !json_is_object(o)) {
        json_decref(o);
        return sl_err_set(err, SL_E_INPUT, "held batch \"%s\" is not a postgres source batch",
                          held);
    }
    struct pg_batch *pb = new_batch(s);
    if (!pb) {
        json_decref(o);
        return nomem(err);
    }
    pb->whole = json_is_true(json_object_get(o, "whole"));
    int rc = 0;
    if (!pb->whole) {
        if (!s->incremental)
            rc = sl_err_set(err, SL_E_CONFIG, "held batch of table \"%s\" was incremental; the"
                            " table no longer is", s->t->name);
        if (rc == 0)
            rc = strv_from_json(s, json_object_get(o, "after"), &pb->lo, err);
        if (rc == 0)
            rc = strv_from_json(s, json_object_get(o, "upto"), &pb->upto, err);
        json_t *u = json_object_get(o, "until");
        if (rc == 0 && json_is_string(u) && !(pb->hi = sl_strdup(json_string_value(u))))
            rc = nomem(err);
        pb->limit = pb->upto ? 0 : (long)json_integer_value(json_object_get(o, "limit"));
        if (rc == 0 && pb->upto && !(pb->in.cursor_after = cursor_json(pb->upto, s->ncur)))
            rc = nomem(err);
    }
    json_decref(o);
    if (rc == 0 && set_ref(s, pb) < 0)
        rc = nomem(err);
    if (rc < 0) {
        free_batch(s, pb);
        return -1;
    }
    *out = &pb->in;
    return 0;
}

/* ---- reconcile and repair ---- */

static int pg_sql(struct sl_source *s, struct sl_source_sql *out, struct sl_err *err)
{
    struct sl_buf b;
    memset(out, 0, sizeof *out);
    out->dialect = &sl_pg_dialect;
    out->from = sl_strdup(s->table_q);
    out->exprs = sl_calloc(s->ncols, sizeof *out->exprs);
    if (!out->from || !out->exprs)
        goto oom;
    for (size_t i = 0; i < s->ncols; i++) {
        sl_buf_init(&b);
        value_expr(&b, &s->cols[i]);
        if (b.oom || sl_schema_add(&out->cols, s->cols[i].as, s->cols[i].type) < 0) {
            sl_buf_free(&b);
            goto oom;
        }
        out->exprs[i] = sl_buf_steal(&b);
    }
    out->pk.items = sl_calloc(s->pk.n ? s->pk.n : 1, sizeof *out->pk.items);
    if (!out->pk.items)
        goto oom;
    for (size_t k = 0; k < s->pk.n; k++)
        if (!(out->pk.items[out->pk.n++] = sl_strdup(s->pk.items[k])))
            goto oom;
    if (s->incremental) {
        /* rows the replication has taken: at or below the stored cursor
         * (none before the first batch); the values sit in settings of
         * this session, set here */
        struct pg_batch pb = {0};
        struct qparams q = {{0}, 0};
        sl_buf_init(&b);
        if (!s->lo) {
            sl_buf_puts(&b, "false");
        } else {
            pb.upto = s->lo;
            pb.lo = NULL;
            batch_where(&b, s, &pb, &q);
        }
        if (b.oom) {
            sl_buf_free(&b);
            goto oom;
        }
        out->where = sl_buf_steal(&b);
        if (set_params(s, &q, err) < 0) {
            sl_source_sql_free(out);
            return -1;
        }
    }
    return 0;
oom:
    sl_source_sql_free(out);
    return nomem(err);
}

static int pg_exec(struct sl_source *s, const char *sql, int nparams, const char *const *params,
                   struct sl_rows *out, struct sl_err *err)
{
    if (ensure_ready(s, err) < 0)
        return -1;
    return sl_pg_exec(&s->pg, sql, nparams, params, out, err, "query failed");
}

static int pg_keys_batch(struct sl_source *s, const char *const *key, size_t nkey,
                         const char *const *vals, size_t nvals, struct sl_batch_input **out,
                         struct sl_err *err)
{
    struct pg_batch *pb = new_batch(s);
    if (!pb)
        return nomem(err);
    pb->keycols = sl_calloc(nkey ? nkey : 1, sizeof *pb->keycols);
    if (!pb->keycols) {
        free_batch(s, pb);
        return nomem(err);
    }
    for (size_t k = 0; k < nkey; k++) {
        long i = find_col_by(s, key[k], 1);
        if (i < 0) {
            free_batch(s, pb);
            return sl_err_set(err, SL_E_SOURCE, "key column \"%s\" is not in source table %s",
                              key[k], s->t->source_table);
        }
        pb->keycols[pb->nkeycols++] = (size_t)i;
    }
    json_t *a = json_array();
    for (size_t i = 0; a && i < nvals; i++) {
        json_t *row = json_array();
        for (size_t k = 0; row && k < nkey; k++) {
            const char *v = vals[i * nkey + k];
            json_array_append_new(row, v ? json_string(v) : json_null());
        }
        json_array_append_new(a, row);
    }
    char *txt = a ? json_dumps(a, JSON_COMPACT) : NULL;
    json_decref(a);
    if (txt)
        pb->keys = sl_strdup(txt);
    free(txt);
    if (!pb->keys || set_ref(s, pb) < 0) {
        free_batch(s, pb);
        return nomem(err);
    }
    *out = &pb->in;
    return 0;
}

/* With a cdc block the pipeline reads the WAL (sources/cdc.c). */
static const struct sl_source_ops *pg_variant(const struct sl_pipeline_cfg *p)
{
    const struct pg_cfg *pc = p->source_ctx;
    return pc->cdc_given ? &sl_source_cdc : &sl_source_postgres;
}

const struct sl_source_ops sl_source_postgres = {
    .kind = "postgres",
    .keys = sl_pg_source_keys,
    .ctx_size = sizeof(struct pg_cfg),
    .blocks = sl_pg_source_blocks,
    .variant = pg_variant,
    .validate = pg_validate,
    .open = pg_open,
    .resume = pg_resume,
    .next_batch = pg_next,
    .open_rows = pg_open_rows,
    .hold = pg_hold,
    .reopen = pg_reopen,
    .ack = pg_ack,
    .close = pg_close,
    .resolve = pg_resolve,
    .workers = pg_workers,
    .schema = pg_schema,
    .sql = pg_sql,
    .exec = pg_exec,
    .keys_batch = pg_keys_batch,
    .plan = pg_plan,
};
