/* destinations/pg.c: the PostgreSQL destination, over the libpq wrapper
 * (pg/pg.h: connection, errors; pg/quote.h: names; pg/types.h: types).
 *
 * Rows travel by COPY FROM STDIN (docs/invariants.md #5: values never enter SQL text),
 * in binary format where every column has sluice's type for it, else text,
 * inside the engine's batch transaction:
 *   append     COPY straight into the table; visible only at commit. Events
 *              (skip_existing): COPY into a temp table, then INSERT .. SELECT
 *              .. ON CONFLICT (pk) DO NOTHING, so a retried event lands once.
 *   versioned  COPY into an unlogged staging table created in the same
 *              transaction, then one INSERT .. SELECT DISTINCT ON (pk) ..
 *              ON CONFLICT DO UPDATE .. WHERE stored version < new version.
 *   upsert     the same staging; the batch's last row of each key replaces
 *              the stored one, every column (incremental updater, repair).
 *   snapshot   COPY into a new table beside the live one; load_end moves the
 *              live table aside and renames the new one in its place, so
 *              readers see the old rows until commit and the new ones after.
 * For rollback (docs/invariants.md #3), in the same transaction: a versioned or upsert
 * merge (and delete_keys) first copies the rows it is about to overwrite (or
 * delete) into "_sluice"."hist_<table>"
 * (the table's columns plus "_sluice_replaced_by"); a snapshot swap keeps
 * the replaced table as "_sluice"."prev_<batch>" (its primary key renamed
 * "prev_<batch>_pkey", other indexes dropped) and records it in
 * "_sluice"."kept"; the newest SL_KEEP_PREV per table are kept.
 * Failures keep their SQLSTATE; connection loss and the transient classes
 * (08, 40001, 40P01, 57P0x, 53xxx, 58xxx, 55P03) are SL_RETRY. */
#include "destinations/destination.h"

#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "base/mem.h"
#include "pg/dialect.h"
#include "pg/pg.h"
#include "pg/quote.h"
#include "pg/types.h"

#define COPY_FLUSH (256 * 1024)
#define NMETA 16

struct sl_dest {
    struct sl_pg pg;
    char *url;
    char *password;
    struct { char *name; char *quoted; } meta[NMETA];
    /* the load under way */
    int loading;
    int binary;              /* its COPY is in binary format */
    struct sl_load ld;
    char *target_q;          /* quoted target table */
    char *stage_q;           /* quoted staging / new table (versioned, snapshot) */
    char *new_name;          /* snapshot: unquoted name of the new table */
    struct sl_buf copybuf;
    int64_t rows_in;
    char batch_txt[24];
    char *pk_list;           /* quoted, comma separated */
    char lease[24];          /* the lease a run holds here (its key), "" = none */
    int lease_ok;            /* ... and this session has it (0 after a reconnect) */
    int in_txn;              /* between begin() and commit()/rollback(): a lost
                              * connection is not re-made under a statement then
                              * (it would run outside the transaction) */
};

/* ---- identifiers (docs/invariants.md #5: pg/quote.h quotes them all) ---- */

/* sluice's own table `name` in schema _sluice, quoted. */
static char *own_quoted(const char *name)
{
    struct sl_buf b;
    sl_buf_init(&b);
    sl_buf_puts(&b, "\"_sluice\".");
    sl_pg_quote_stored(&b, name, strlen(name));
    return b.oom ? (sl_buf_free(&b), NULL) : sl_buf_steal(&b);
}

/* The unqualified part of a table name ("s.t" -> "t"). */
static const char *bare_name(const char *table)
{
    const char *dot = strchr(table, '.');
    return (dot && dot != table && dot[1]) ? dot + 1 : table;
}

/* The history table of `table`: "_sluice"."hist_<table as configured>" (a
 * schema-qualified name keeps its dot inside the one identifier, so
 * "a_b.c" and "a.b_c" stay apart). PostgreSQL cuts identifiers at 63 bytes:
 * a longer name keeps its first bytes (whole UTF-8 characters) and ends in
 * a hash of the whole name. */
static char *hist_quoted(const char *table)
{
    char name[64];
    size_t n = strlen(table);
    if (5 + n <= 63) {
        snprintf(name, sizeof name, "hist_%s", table);
    } else {
        uint64_t h = 1469598103934665603ULL;     /* FNV-1a */
        for (const char *c = table; *c; c++)
            h = (h ^ (unsigned char)*c) * 1099511628211ULL;
        size_t keep = 63 - 5 - 17;
        while (keep > 0 && ((unsigned char)table[keep] & 0xC0) == 0x80)
            keep--;
        snprintf(name, sizeof name, "hist_%.*s_%016llx", (int)keep, table,
                 (unsigned long long)h);
    }
    return own_quoted(name);
}

/* ---- connection ---- */

static const char SESSION_SQL[] =
    "SET client_min_messages = warning; SET datestyle = 'ISO'; SET timezone = 'UTC'";

static int pg_connect(struct sl_dest **out, const char *url, const char *password,
                      const char *base_dir, struct sl_err *err)
{
    (void)base_dir;
    char msg[1024];
    struct sl_dest *d = sl_calloc(1, sizeof *d);
    if (!d)
        return sl_err_set(err, SL_E_NOMEM, "out of memory");
    d->pg.code = SL_E_DEST;
    if (sl_pg_connect(&d->pg, url, password, "sluice", NULL, msg, sizeof msg) < 0) {
        sl_free(d);
        /* a server that is down or restarting is worth retrying */
        return sl_err_retry(err, SL_E_DEST, "could not connect to PostgreSQL: %s", msg);
    }
    sl_buf_init(&d->copybuf);
    struct sl_err e2;
    if (sl_pg_run(&d->pg, SESSION_SQL, &e2, "could not set session") < 0) {
        *err = e2;
        sl_pg_close(&d->pg);
        sl_free(d);
        return -1;
    }
    *out = d;
    return 0;
}

static void pg_close(struct sl_dest *d)
{
    if (!d)
        return;
    sl_pg_close(&d->pg);
    for (int i = 0; i < NMETA; i++) {
        sl_free(d->meta[i].name);
        sl_free(d->meta[i].quoted);
    }
    sl_buf_free(&d->copybuf);
    sl_free(d->target_q);
    sl_free(d->stage_q);
    sl_free(d->new_name);
    sl_free(d->pk_list);
    sl_free(d);
}

/* A lost connection is re-established before the next transaction, so the
 * engine's retry loop can simply run the batch again. */
static int ensure_connected(struct sl_dest *d, struct sl_err *err)
{
    struct sl_err e2;
    if (!err)
        err = &e2;
    if (PQstatus(d->pg.conn) != CONNECTION_OK) {
        PQreset(d->pg.conn);
        d->lease_ok = 0;    /* the old session's lease went with it */
        if (PQstatus(d->pg.conn) != CONNECTION_OK) {
            char msg[512];
            snprintf(msg, sizeof msg, "%s", PQerrorMessage(d->pg.conn));
            for (size_t n = strlen(msg); n && msg[n - 1] == '\n'; n--)
                msg[n - 1] = '\0';
            return sl_err_retry(err, SL_E_DEST, "could not reconnect to PostgreSQL: %s", msg);
        }
        if (sl_pg_run(&d->pg, SESSION_SQL, err, "could not set session") < 0)
            return -1;
    }
    if (d->lease[0] && !d->lease_ok) {
        /* a run holds its table's lease on this session: after a reconnect
         * it is taken again before anything else, or nothing goes on */
        char *got = NULL;
        int rc = sl_pg_value(&d->pg, "SELECT pg_try_advisory_lock($1::bigint)", d->lease, &got,
                             err);
        d->lease_ok = rc == 0 && got && strcmp(got, "t") == 0;
        sl_free(got);
        if (rc < 0)
            return -1;
        if (!d->lease_ok)
            /* the old session may not be gone on the server yet, or another
             * run took the table: either way, not now; asked again next try */
            return sl_err_retry(err, SL_E_DEST,
                                "the connection to PostgreSQL was lost, and the table's lease is"
                                " still held (by the old session, or by another run)");
    }
    return 0;
}

static const char *pg_meta_table(struct sl_dest *d, const char *name)
{
    int i;
    for (i = 0; i < NMETA && d->meta[i].name; i++)
        if (strcmp(d->meta[i].name, name) == 0)
            return d->meta[i].quoted;
    if (i == NMETA || !(d->meta[i].quoted = own_quoted(name)))
        return NULL;
    d->meta[i].name = sl_strdup(name);
    return d->meta[i].quoted;
}

static const char META_DDL[] =
    "BEGIN;"
    "SELECT pg_advisory_xact_lock(7310592025);"   /* serialize concurrent first runs */
    "CREATE SCHEMA IF NOT EXISTS _sluice;"
    "CREATE TABLE IF NOT EXISTS _sluice.batches ("
    "  id bigserial PRIMARY KEY, pipeline text NOT NULL, table_name text NOT NULL,"
    "  kind text, state text NOT NULL, source_ref text, content_hash text,"
    "  rows_in bigint, rows_written bigint, bytes bigint,"
    "  started_at timestamptz, finished_at timestamptz, error text, report jsonb,"
    "  held text, decision text);"
    "CREATE INDEX IF NOT EXISTS batches_table_idx ON _sluice.batches (table_name, id);"
    "CREATE TABLE IF NOT EXISTS _sluice.files ("
    "  table_name text NOT NULL, content_hash text NOT NULL, name text, bytes bigint,"
    "  batch_id bigint, loaded_at timestamptz, PRIMARY KEY (table_name, content_hash));"
    "CREATE TABLE IF NOT EXISTS _sluice.cursors ("
    "  pipeline text NOT NULL, table_name text NOT NULL, value text, batch_id bigint,"
    "  updated_at timestamptz, PRIMARY KEY (pipeline, table_name));"
    "CREATE TABLE IF NOT EXISTS _sluice.snapshots ("
    "  id bigserial PRIMARY KEY, table_name text NOT NULL, taken_at timestamptz NOT NULL,"
    "  last_batch bigint, rows bigint);"
    "CREATE TABLE IF NOT EXISTS _sluice.kept ("
    "  batch_id bigint PRIMARY KEY, table_name text NOT NULL, name text NOT NULL,"
    "  kept_at timestamptz);"
    /* columns whose name is longer than PostgreSQL keeps (see sl_pg_stored_ident) */
    "CREATE TABLE IF NOT EXISTS _sluice.names ("
    "  table_name text NOT NULL, stored text NOT NULL, name text NOT NULL,"
    "  PRIMARY KEY (table_name, stored));"
    /* columns added since the first release: ALTER only when missing, as
     * ALTER TABLE would wait for every open batch transaction */
    "DO $$ BEGIN"
    "  IF NOT EXISTS (SELECT 1 FROM pg_attribute WHERE attrelid = '_sluice.batches'::regclass"
    "                 AND attname = 'held' AND NOT attisdropped) THEN"
    "    ALTER TABLE _sluice.batches ADD COLUMN held text;"
    "  END IF;"
    "  IF NOT EXISTS (SELECT 1 FROM pg_attribute WHERE attrelid = '_sluice.batches'::regclass"
    "                 AND attname = 'decision' AND NOT attisdropped) THEN"
    "    ALTER TABLE _sluice.batches ADD COLUMN decision text;"
    "  END IF;"
    "END $$;"
    "COMMIT;";

static int pg_ensure_meta(struct sl_dest *d, struct sl_err *err)
{
    if (ensure_connected(d, err) < 0)
        return -1;
    if (sl_pg_run(&d->pg, META_DDL, err,
                  "could not create sluice's tables in schema _sluice") < 0) {
        sl_pg_run(&d->pg, "ROLLBACK", &(struct sl_err){0}, "rollback");
        return -1;
    }
    return 0;
}

/* Outside a transaction a connection lost since the last statement is made
 * again first (the warehouse restarted between two runs of a table); inside
 * one it is not: the statement would run outside the transaction. */
static int pg_exec(struct sl_dest *d, const char *sql, int nparams, const char *const *params,
                   struct sl_rows *out, struct sl_err *err)
{
    if (!d->in_txn && ensure_connected(d, err) < 0)
        return -1;
    return sl_pg_exec(&d->pg, sql, nparams, params, out, err, "query failed");
}

static int pg_exec_count(struct sl_dest *d, const char *sql, int nparams,
                         const char *const *params, int64_t *changed, struct sl_err *err)
{
    PGresult *res;
    *changed = 0;
    if (!d->in_txn && ensure_connected(d, err) < 0)
        return -1;
    if (sl_pg_query(&d->pg, sql, nparams, params, &res, err, "query failed") < 0)
        return -1;
    *changed = sl_pg_cmd_tuples(res);
    PQclear(res);
    return 0;
}

static int pg_begin(struct sl_dest *d, struct sl_err *err)
{
    if (ensure_connected(d, err) < 0 ||
        sl_pg_run(&d->pg, "BEGIN", err, "could not begin transaction") < 0)
        return -1;
    d->in_txn = 1;
    return 0;
}

static int pg_commit(struct sl_dest *d, struct sl_err *err)
{
    d->in_txn = 0;
    return sl_pg_run(&d->pg, "COMMIT", err, "could not commit");
}

static void pg_rollback(struct sl_dest *d)
{
    struct sl_err e;
    d->in_txn = 0;
    if (d->loading && PQstatus(d->pg.conn) == CONNECTION_OK &&
        PQtransactionStatus(d->pg.conn) == PQTRANS_ACTIVE) {
        PQputCopyEnd(d->pg.conn, "load aborted");
        PGresult *r;
        while ((r = PQgetResult(d->pg.conn)))
            PQclear(r);
    }
    d->loading = 0;
    if (PQstatus(d->pg.conn) == CONNECTION_OK && PQtransactionStatus(d->pg.conn) != PQTRANS_IDLE)
        sl_pg_run(&d->pg, "ROLLBACK", &e, "rollback");
}

static int pg_lock_table(struct sl_dest *d, const char *table, struct sl_err *err)
{
    const char *p[] = {table};
    return pg_exec(d, "SELECT pg_advisory_xact_lock(hashtextextended('sluice:' || $1, 0))",
                   1, p, NULL, err);
}

/* ---- leases: one run of a table at a time ---- */

/* The lease's advisory lock key, as bigint text: sl_lease_key() of the
 * qualified name (an unqualified one is in the session's current schema,
 * where the table is made). */
static int lease_key(struct sl_dest *d, const char *table, char out[24], struct sl_err *err)
{
    char *schema = NULL;
    struct sl_buf q;

    if (bare_name(table) == table &&
        sl_pg_value(&d->pg, "SELECT current_schema()", NULL, &schema, err) < 0)
        return -1;
    sl_buf_init(&q);
    if (bare_name(table) == table)
        sl_buf_printf(&q, "%s.", schema ? schema : "public");
    sl_buf_puts(&q, table);
    sl_free(schema);
    if (q.oom) {
        sl_buf_free(&q);
        return sl_err_set(err, SL_E_NOMEM, "out of memory");
    }
    snprintf(out, 24, "%lld", (long long)(int64_t)sl_lease_key(q.data));
    sl_buf_free(&q);
    return 0;
}

/* A session advisory lock: held across the run's batch transactions, gone
 * with the session if the process dies. */
static int pg_lease_try(struct sl_dest *d, const char *table, struct sl_err *err)
{
    char key[24];
    char *got = NULL;

    if (ensure_connected(d, err) < 0 || lease_key(d, table, key, err) < 0)
        return -1;
    if (sl_pg_value(&d->pg, "SELECT pg_try_advisory_lock($1::bigint)", key, &got, err) < 0) {
        sl_err_prefix(err, "could not take the lease on table \"%s\"", table);
        return -1;
    }
    int taken = got && strcmp(got, "t") == 0;
    sl_free(got);
    if (taken) {
        snprintf(d->lease, sizeof d->lease, "%s", key);
        d->lease_ok = 1;
    }
    return taken;
}

static void pg_lease_release(struct sl_dest *d, const char *table)
{
    struct sl_err e;
    char key[24];
    const char *p[] = {key};

    /* a lost session has let go of it already; one taken over by another
     * run is not ours to let go */
    int held = d->lease[0] != '\0' && d->lease_ok;
    d->lease[0] = '\0';
    d->lease_ok = 0;
    if (!held || PQstatus(d->pg.conn) != CONNECTION_OK || lease_key(d, table, key, &e) < 0)
        return;
    pg_exec(d, "SELECT pg_advisory_unlock($1::bigint)", 1, p, NULL, &e);
}

/* DDL on a live table (a new column, the snapshot swap, putting a kept table
 * back) needs its ACCESS EXCLUSIVE lock, and while it waits behind a long
 * reader, every reader after it queues behind it. So the lock is taken first
 * with a short lock_timeout, which stays for the rest of the batch's
 * transaction (nothing after it may wait long while the table is held
 * either): no reader queues behind the request longer than
 * LIVE_LOCK_TIMEOUT. Once granted, the lock lasts until the batch commits:
 * short for the swap (the last step), a whole load for a new column. Not
 * granted in time: SL_E_LOCK, transient (55P03), and the engine retries the
 * batch with backoff, the reader meanwhile free to finish. */
#define LIVE_LOCK_TIMEOUT "1s"

static int lock_live(struct sl_dest *d, const char *table_q, const char *what,
                     struct sl_err *err)
{
    struct sl_buf sql;
    sl_buf_init(&sql);
    sl_buf_printf(&sql, "SET LOCAL lock_timeout = '" LIVE_LOCK_TIMEOUT "';"
                  " LOCK TABLE %s IN ACCESS EXCLUSIVE MODE", table_q);
    if (sql.oom) {
        sl_buf_free(&sql);
        return sl_err_set(err, SL_E_NOMEM, "out of memory");
    }
    int rc = sl_pg_run(&d->pg, sql.data, err, "could not lock the table");
    sl_buf_free(&sql);
    if (rc < 0 && strcmp(err->sqlstate, "55P03") == 0) {
        sl_err_retry(err, SL_E_LOCK, "%s waited " LIVE_LOCK_TIMEOUT " for the table's lock,"
                     " held by another session (a long-running query?), and gave up so as"
                     " not to hold up its readers", what);
        snprintf(err->sqlstate, sizeof err->sqlstate, "55P03");
    }
    return rc;
}

/* ---- tables ---- */

static const char DESCRIBE_SQL[] =
    "SELECT a.attname, format_type(a.atttypid, a.atttypmod)"
    "  FROM pg_attribute a"
    " WHERE a.attrelid = to_regclass($1) AND a.attnum > 0 AND NOT a.attisdropped"
    " ORDER BY a.attnum";

/* Before names over 63 bytes were stored cut + hash (sl_pg_stored_ident), such a
 * table name went to PostgreSQL whole and PostgreSQL cut it to its first 63
 * bytes, on a character boundary of the database encoding (pg_mbcliplen).
 * A table of that name made by sluice (it has _sluice_batch) holds the
 * table's rows: it is renamed to the stored name, in the caller's
 * transaction, rather than a new empty table made beside it. The history
 * table's name never went through that cut (hist_quoted), so it is found as
 * it is. Returns 1 when renamed, 0 when there is no such table. */
static int rename_cut_table(struct sl_dest *d, const char *table, struct sl_err *err)
{
    const char *bare = bare_name(table);
    char stored[SL_PG_NAME_MAX + 1];
    char *cut = NULL, *has = NULL;
    struct sl_buf old, sql;
    int rc;

    if (strlen(bare) <= SL_PG_NAME_MAX)
        return 0;
    /* a cast to name cuts as the parser cuts an identifier */
    if (sl_pg_value(&d->pg, "SELECT $1::name::text", bare, &cut, err) < 0)
        return -1;
    sl_buf_init(&old);
    sl_buf_init(&sql);
    if (bare != table) {
        sl_pg_quote_stored(&old, table, (size_t)(bare - 1 - table));
        sl_buf_putc(&old, '.');
    }
    sl_pg_quote_stored(&old, cut ? cut : "", cut ? strlen(cut) : 0);
    sl_pg_stored_ident(bare, strlen(bare), stored);
    sl_buf_printf(&sql, "ALTER TABLE %s RENAME TO ", old.data);
    sl_pg_quote_stored(&sql, stored, strlen(stored));
    rc = old.oom || sql.oom ? sl_err_set(err, SL_E_NOMEM, "out of memory")
                            : sl_pg_value(&d->pg, "SELECT 1 FROM pg_attribute"
                                           " WHERE attrelid = to_regclass($1)"
                                           " AND attname = '_sluice_batch' AND NOT attisdropped",
                                        old.data, &has, err);
    if (rc == 0 && has) {
        /* describe may run outside a batch (reconcile): the rename is then
         * a transaction of its own */
        int own = PQtransactionStatus(d->pg.conn) == PQTRANS_IDLE;
        if (own)
            rc = sl_pg_run(&d->pg, "BEGIN", err, "could not begin transaction");
        if (rc == 0)
            rc = lock_live(d, old.data, "renaming the table to its stored name", err);
        if (rc == 0)
            rc = sl_pg_run(&d->pg, sql.data, err, "could not rename the table to its stored name");
        if (own && rc == 0)
            rc = sl_pg_run(&d->pg, "COMMIT", err, "could not commit");
        if (own && rc < 0)
            pg_rollback(d);
        if (rc < 0)
            sl_err_prefix(err, "table \"%s\", found as \"%s\" (the name an older sluice"
                          " gave it)", table, cut ? cut : "");
        else
            sl_log(SL_LOG_INFO, &(struct sl_log_ctx){NULL, table, 0},
                   "renamed table \"%s\" to its stored name \"%s\" (an older sluice let"
                   " PostgreSQL cut the name at 63 bytes; sluice now cuts long names alike"
                   " every time)", cut ? cut : "", stored);
        rc = rc < 0 ? -1 : 1;
    }
    sl_free(cut);
    sl_free(has);
    sl_buf_free(&old);
    sl_buf_free(&sql);
    return rc;
}

static int pg_describe(struct sl_dest *d, const char *table, struct sl_schema *out,
                       struct sl_err *err)
{
    char *q = sl_pg_quoted_table(table, 1);
    struct sl_rows rows;
    const char *p[1] = {q};
    memset(out, 0, sizeof *out);
    if (!q)
        return sl_err_set(err, SL_E_NOMEM, "out of memory");
    int rc = pg_exec(d, "SELECT to_regclass($1) IS NOT NULL", 1, p, &rows, err);
    if (rc < 0) {
        sl_free(q);
        return -1;
    }
    int exists = rows.nrows == 1 && strcmp(sl_rows_get(&rows, 0, 0), "t") == 0;
    sl_rows_free(&rows);
    if (!exists)
        exists = rename_cut_table(d, table, err);
    if (exists <= 0) {
        sl_free(q);
        return exists;
    }
    rc = pg_exec(d, DESCRIBE_SQL, 1, p, &rows, err);
    sl_free(q);
    if (rc < 0)
        return -1;
    /* the longer names, cut as sl_pg_stored_ident does: a cut stored name may be
     * shorter than 63 bytes (it backs off to a whole UTF-8 character), so
     * its length tells nothing; the table's few rows are always read */
    struct sl_rows longs = {0};
    const char *t[] = {table};
    rc = pg_exec(d, "SELECT stored, name FROM _sluice.names WHERE table_name = $1", 1, t,
                 &longs, err);
    if (rc < 0) {
        sl_rows_free(&rows);
        return -1;
    }
    for (size_t i = 0; i < rows.nrows; i++) {
        const char *name = sl_rows_get(&rows, i, 0);
        if (strcmp(name, "_sluice_batch") == 0)
            continue;
        for (size_t k = 0; k < longs.nrows; k++)
            if (strcmp(sl_rows_get(&longs, k, 0), name) == 0 &&
                sl_pg_stored_as(name, sl_rows_get(&longs, k, 1)))
                name = sl_rows_get(&longs, k, 1);
        if (sl_schema_add(out, name, sl_pg_type_from_format(sl_rows_get(&rows, i, 1))) < 0) {
            sl_rows_free(&rows);
            sl_rows_free(&longs);
            sl_schema_free(out);
            return sl_err_set(err, SL_E_NOMEM, "out of memory");
        }
    }
    sl_rows_free(&rows);
    sl_rows_free(&longs);
    return 1;
}

static void col_list(struct sl_buf *b, const struct sl_schema *s, const char *prefix)
{
    for (size_t i = 0; i < s->ncols; i++) {
        if (i)
            sl_buf_puts(b, ", ");
        if (prefix)
            sl_buf_puts(b, prefix);
        sl_pg_quote_stored(b, s->cols[i].name, strlen(s->cols[i].name));
    }
}

static void name_list(struct sl_buf *b, const char *const *names, size_t n, const char *prefix)
{
    for (size_t i = 0; i < n; i++) {
        if (i)
            sl_buf_puts(b, ", ");
        if (prefix)
            sl_buf_puts(b, prefix);
        sl_pg_quote_stored(b, names[i], strlen(names[i]));
    }
}

/* CREATE TABLE <qname> (cols, _sluice_batch, PRIMARY KEY) */
static void create_sql(struct sl_buf *b, const char *qname, const struct sl_schema *s,
                       const char *const *pk, size_t npk, const char *extra)
{
    sl_buf_printf(b, "CREATE %sTABLE %s (", extra ? extra : "", qname);
    for (size_t i = 0; i < s->ncols; i++) {
        sl_pg_quote_stored(b, s->cols[i].name, strlen(s->cols[i].name));
        sl_buf_printf(b, " %s, ", sl_pg_type_name(s->cols[i].type));
    }
    sl_buf_puts(b, "\"_sluice_batch\" bigint NOT NULL");
    if (npk) {
        sl_buf_puts(b, ", PRIMARY KEY (");
        name_list(b, pk, npk, NULL);
        sl_buf_putc(b, ')');
    }
    sl_buf_putc(b, ')');
}

/* A column name longer than PostgreSQL keeps is recorded with the name it
 * is stored as (sl_pg_stored_ident), so describe gives the whole name back. Two
 * names stored alike (their hashes collide) cannot both be columns. */
static int keep_long_name(struct sl_dest *d, const char *table, const char *name,
                          struct sl_err *err)
{
    char stored[SL_PG_NAME_MAX + 1];
    struct sl_rows r;
    if (strlen(name) <= SL_PG_NAME_MAX)
        return 0;
    sl_pg_stored_ident(name, strlen(name), stored);
    const char *p[] = {table, stored, name};
    if (pg_exec(d, "INSERT INTO _sluice.names AS n VALUES ($1, $2, $3)"
                   " ON CONFLICT (table_name, stored) DO UPDATE SET name = n.name RETURNING name",
                3, p, &r, err) < 0)
        return -1;
    int rc = 0;
    if (r.nrows == 1 && strcmp(sl_rows_get(&r, 0, 0), name) != 0)
        rc = sl_err_set(err, SL_E_INPUT,
                        "table \"%s\": columns \"%s\" and \"%s\" would both be stored as \"%s\""
                        " (PostgreSQL keeps 63 bytes of a name): rename one of them",
                        table, sl_rows_get(&r, 0, 0), name, stored);
    sl_rows_free(&r);
    return rc;
}

static int pg_create_table(struct sl_dest *d, const char *table, const struct sl_schema *s,
                           const char *const *pk, size_t npk, struct sl_err *err)
{
    struct sl_buf b;
    for (size_t i = 0; i < s->ncols; i++)
        if (keep_long_name(d, table, s->cols[i].name, err) < 0)
            return -1;
    char *q = sl_pg_quoted_table(table, 1);
    sl_buf_init(&b);
    create_sql(&b, q, s, pk, npk, NULL);
    /* docs/invariants.md #3: every row carries its batch; BRIN keeps rollback's lookup
     * cheap without slowing loads the way a btree would */
    sl_buf_printf(&b, "; CREATE INDEX ON %s USING brin (\"_sluice_batch\")", q);
    sl_free(q);
    int rc = b.oom ? sl_err_set(err, SL_E_NOMEM, "out of memory")
                   : sl_pg_run(&d->pg, b.data, err, "could not create table");
    if (rc < 0)
        sl_err_prefix(err, "table \"%s\"", table);
    sl_buf_free(&b);
    return rc;
}

static int pg_add_column(struct sl_dest *d, const char *table, const struct sl_column *c,
                         struct sl_err *err)
{
    struct sl_buf b;
    if (keep_long_name(d, table, c->name, err) < 0)
        return -1;
    char *q = sl_pg_quoted_table(table, 1);
    sl_buf_init(&b);
    int rc = lock_live(d, q, "adding the column", err);
    sl_buf_printf(&b, "ALTER TABLE %s ADD COLUMN ", q);
    sl_pg_quote_stored(&b, c->name, strlen(c->name));
    sl_buf_printf(&b, " %s", sl_pg_type_name(c->type));
    sl_free(q);
    if (rc == 0)
        rc = sl_pg_run(&d->pg, b.data, err, "could not add column");
    /* the history table gains the column too, so replaced rows keep fitting */
    char *hist = hist_quoted(table), *exists = NULL;
    if (rc == 0 && !hist)
        rc = sl_err_set(err, SL_E_NOMEM, "out of memory");
    if (rc == 0)
        rc = sl_pg_value(&d->pg, "SELECT 1 WHERE to_regclass($1) IS NOT NULL", hist, &exists, err);
    if (rc == 0 && exists) {
        sl_buf_reset(&b);
        sl_buf_printf(&b, "ALTER TABLE %s ADD COLUMN IF NOT EXISTS ", hist);
        sl_pg_quote_stored(&b, c->name, strlen(c->name));
        sl_buf_printf(&b, " %s", sl_pg_type_name(c->type));
        rc = sl_pg_run(&d->pg, b.data, err, "could not add column to the history table");
    }
    sl_free(exists);
    sl_free(hist);
    if (rc < 0)
        sl_err_prefix(err, "table \"%s\", column \"%s\"", table, c->name);
    sl_buf_free(&b);
    return rc;
}

static int pg_stored_name(const char *name, int is_table, char *out, size_t cap)
{
    char a[SL_PG_NAME_MAX + 1], b[SL_PG_NAME_MAX + 1];
    const char *dot = is_table ? strchr(name, '.') : NULL;
    if (dot && dot != name && dot[1]) {
        sl_pg_stored_ident(name, (size_t)(dot - name), a);
        sl_pg_stored_ident(dot + 1, strlen(dot + 1), b);
        snprintf(out, cap, "%s.%s", a, b);
    } else {
        sl_pg_stored_ident(name, strlen(name), a);
        snprintf(out, cap, "%s", a);
    }
    return strcmp(out, name) != 0;
}

/* The unique keys ON CONFLICT can use: valid, immediate, no predicate, no
 * expression; one row per column, the primary key first. Only the first
 * indnkeyatts columns of indkey are the key: the rest are INCLUDE columns,
 * which ON CONFLICT does not match on. */
static const char KEYS_SQL[] =
    "SELECT i.indexrelid::text, i.indisprimary, a.attname"
    "  FROM pg_index i"
    "  JOIN pg_attribute a ON a.attrelid = i.indrelid"
    "   AND a.attnum = ANY ((i.indkey::int2[])[0:i.indnkeyatts - 1])"
    " WHERE i.indrelid = to_regclass($1) AND i.indisunique AND i.indimmediate"
    "   AND i.indisvalid AND i.indpred IS NULL AND i.indexprs IS NULL"
    " ORDER BY i.indisprimary DESC, i.indexrelid, array_position(i.indkey::int2[], a.attnum)";

static int pg_fit_table(struct sl_dest *d, const char *table, const char *const *pk,
                        size_t npk, int *adopted, struct sl_err *err)
{
    char *q = sl_pg_quoted_table(table, 1), *has = NULL;
    const char *p[] = {q};
    struct sl_rows keys;
    int rc;

    *adopted = 0;
    if (!q)
        return sl_err_set(err, SL_E_NOMEM, "out of memory");
    rc = sl_pg_value(&d->pg, "SELECT 1 FROM pg_attribute WHERE attrelid = to_regclass($1)"
                      " AND attname = '_sluice_batch' AND NOT attisdropped", q, &has, err);
    if (rc == 0 && !has) {
        /* nullable: the rows already there belong to no batch */
        struct sl_buf b;
        sl_buf_init(&b);
        sl_buf_printf(&b, "ALTER TABLE %s ADD COLUMN \"_sluice_batch\" bigint;"
                      " CREATE INDEX ON %s USING brin (\"_sluice_batch\")", q, q);
        rc = b.oom ? sl_err_set(err, SL_E_NOMEM, "out of memory")
                   : lock_live(d, q, "adopting the table", err);
        if (rc == 0)
            rc = sl_pg_run(&d->pg, b.data, err, "could not add column \"_sluice_batch\"");
        if (rc < 0)
            sl_err_prefix(err, "table \"%s\"", table);
        sl_buf_free(&b);
        *adopted = rc == 0;
    }
    sl_free(has);
    if (rc == 0 && npk) {
        rc = pg_exec(d, KEYS_SQL, 1, p, &keys, err);
        if (rc == 0) {
            rc = sl_dest_key_fits(table, &keys, pk, npk, err);
            sl_rows_free(&keys);
        }
    }
    sl_free(q);
    return rc;
}

/* ---- loading ---- */

static void load_reset(struct sl_dest *d)
{
    d->loading = 0;
    d->binary = 0;
    sl_free(d->target_q);
    sl_free(d->stage_q);
    sl_free(d->new_name);
    sl_free(d->pk_list);
    d->target_q = d->stage_q = d->new_name = d->pk_list = NULL;
    sl_buf_reset(&d->copybuf);
    d->rows_in = 0;
}

/* The new table of a snapshot lives beside the live one, in its schema. */
static char *snapshot_new_name(const char *table, int64_t batch)
{
    struct sl_buf b;
    const char *dot = strchr(table, '.');
    sl_buf_init(&b);
    if (dot && dot != table && dot[1])
        sl_buf_append(&b, table, (size_t)(dot - table + 1));
    sl_buf_printf(&b, "_sluice_new_%lld", (long long)batch);
    return b.oom ? (sl_buf_free(&b), NULL) : sl_buf_steal(&b);
}

static int skips_existing(const struct sl_load *ld)
{
    return ld->mode == SL_LOAD_APPEND && ld->skip_existing && ld->npk > 0;
}

/* Events: the staged rows whose key is not stored yet (nor earlier in the
 * batch) go in; the others were loaded before (a retried event). */
static int insert_new(struct sl_dest *d, struct sl_load_result *r, struct sl_err *err)
{
    const struct sl_load *ld = &d->ld;
    struct sl_buf sql;
    sl_buf_init(&sql);
    sl_buf_printf(&sql, "INSERT INTO %s (", d->target_q);
    col_list(&sql, ld->schema, NULL);
    sl_buf_puts(&sql, ", \"_sluice_batch\") SELECT ");
    col_list(&sql, ld->schema, NULL);
    sl_buf_printf(&sql, ", \"_sluice_batch\" FROM %s ON CONFLICT (%s) DO NOTHING", d->stage_q,
                  d->pk_list);
    if (sql.oom) {
        sl_buf_free(&sql);
        return sl_err_set(err, SL_E_NOMEM, "out of memory");
    }
    int rc = sl_pg_run_count(&d->pg, sql.data, &r->rows_written, err,
                             "could not insert staged events");
    sl_buf_free(&sql);
    return rc;
}

/* ---- binary COPY ----
 * COPY in binary format spares the server parsing every value as text
 * (timestamps above all), which is most of a large load's time. Values are
 * canonical text (base/value.h), so turning them into PostgreSQL's binary
 * forms is exact and cheap. Only where each column's type is the one sluice
 * creates for its sl_type (tables and staging made here, or checked); other
 * tables load as text. */

static void put_be16(struct sl_buf *b, uint16_t v)
{
    unsigned char x[2] = {(unsigned char)(v >> 8), (unsigned char)v};
    sl_buf_append(b, x, 2);
}

static void put_be32(struct sl_buf *b, uint32_t v)
{
    unsigned char x[4] = {(unsigned char)(v >> 24), (unsigned char)(v >> 16),
                          (unsigned char)(v >> 8), (unsigned char)v};
    sl_buf_append(b, x, 4);
}

static void put_be64(struct sl_buf *b, uint64_t v)
{
    put_be32(b, (uint32_t)(v >> 32));
    put_be32(b, (uint32_t)v);
}

static int digits_at(const char *s, size_t n, size_t at, size_t len, int *out)
{
    int v = 0;
    if (at + len > n)
        return -1;
    for (size_t i = at; i < at + len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return 0;
}

/* Days from 2000-01-01 to y-m-d (proleptic Gregorian). */
static int64_t days_2000(int y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468 - 10957;
}

static int bin_date(struct sl_buf *b, const char *s, size_t n)
{
    int y, m, d;
    if (n != 10 || s[4] != '-' || s[7] != '-' || digits_at(s, n, 0, 4, &y) < 0 ||
        digits_at(s, n, 5, 2, &m) < 0 || digits_at(s, n, 8, 2, &d) < 0)
        return -1;
    put_be32(b, 4);
    put_be32(b, (uint32_t)(int32_t)days_2000(y, m, d));
    return 0;
}

/* YYYY-MM-DDTHH:MM:SS.ffffffZ -> microseconds since 2000-01-01 UTC */
static int bin_timestamptz(struct sl_buf *b, const char *s, size_t n)
{
    int y, mo, d, h, mi, se, us;
    if (n != 27 || s[10] != 'T' || s[19] != '.' || s[26] != 'Z' ||
        digits_at(s, n, 0, 4, &y) < 0 || digits_at(s, n, 5, 2, &mo) < 0 ||
        digits_at(s, n, 8, 2, &d) < 0 || digits_at(s, n, 11, 2, &h) < 0 ||
        digits_at(s, n, 14, 2, &mi) < 0 || digits_at(s, n, 17, 2, &se) < 0 ||
        digits_at(s, n, 20, 6, &us) < 0)
        return -1;
    int64_t t = ((days_2000(y, mo, d) * 86400 + h * 3600 + mi * 60 + se) * 1000000) + us;
    put_be32(b, 8);
    put_be64(b, (uint64_t)t);
    return 0;
}

static int bin_bigint(struct sl_buf *b, const char *s, size_t n)
{
    uint64_t v = 0;
    size_t i = n > 0 && s[0] == '-';
    if (i == n || n - i > 19)
        return -1;
    for (; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (uint64_t)(s[i] - '0');
    }
    if (s[0] == '-' ? v > (uint64_t)INT64_MAX + 1 : v > (uint64_t)INT64_MAX)
        return -1;
    put_be32(b, 8);
    put_be64(b, s[0] == '-' ? (uint64_t)0 - v : v);
    return 0;
}

static int bin_double(struct sl_buf *b, const char *s, size_t n)
{
    char buf[512];
    char *end;
    if (n == 0 || n >= sizeof buf)
        return -1;
    memcpy(buf, s, n);
    buf[n] = '\0';
    double v = strtod(buf, &end);
    if (*end)
        return -1;
    uint64_t bits;
    memcpy(&bits, &v, sizeof bits);
    put_be32(b, 8);
    put_be64(b, bits);
    return 0;
}

/* -?digits[.digits] -> PostgreSQL's numeric: base-10000 digits with weight,
 * sign and display scale (numeric_recv strips the zero groups). */
static int bin_numeric(struct sl_buf *b, const char *s, size_t n)
{
    size_t i = 0, ni, nf;
    int neg = n > 0 && s[0] == '-';
    i = (size_t)neg;
    const char *ip = s + i, *dot = memchr(s, '.', n);
    ni = (size_t)((dot ? dot : s + n) - ip);
    const char *fp = dot ? dot + 1 : s + n;
    nf = (size_t)(s + n - fp);
    if (ni == 0 || (dot && nf == 0) || ni > 4000 || nf > 1000)
        return -1;
    size_t lead = (4 - ni % 4) % 4, gi = (ni + lead) / 4, gf = (nf + 3) / 4;
    put_be32(b, (uint32_t)(8 + 2 * (gi + gf)));
    put_be16(b, (uint16_t)(gi + gf));
    put_be16(b, (uint16_t)(int16_t)((int)gi - 1));
    put_be16(b, neg ? 0x4000 : 0x0000);
    put_be16(b, (uint16_t)nf);
    for (size_t g = 0; g < gi + gf; g++) {
        int v = 0;
        for (size_t k = 0; k < 4; k++) {
            /* position in the digit string: integer digits, then fraction */
            size_t pos = g * 4 + k;         /* in the padded integer+fraction */
            char c = '0';
            if (pos >= lead && pos < lead + ni)
                c = ip[pos - lead];
            else if (pos >= lead + ni && pos - lead - ni < nf)
                c = fp[pos - lead - ni];
            if (c < '0' || c > '9')
                return -1;
            v = v * 10 + (c - '0');
        }
        put_be16(b, (uint16_t)v);
    }
    return 0;
}

static int bin_value(struct sl_buf *b, enum sl_type t, const char *s, size_t n)
{
    switch (t) {
    case SL_T_BIGINT: return bin_bigint(b, s, n);
    case SL_T_NUMERIC: return bin_numeric(b, s, n);
    case SL_T_DOUBLE: return bin_double(b, s, n);
    case SL_T_DATE: return bin_date(b, s, n);
    case SL_T_TIMESTAMPTZ: return bin_timestamptz(b, s, n);
    case SL_T_BOOL:
        if ((n == 4 && memcmp(s, "true", 4) == 0) || (n == 5 && memcmp(s, "false", 5) == 0)) {
            put_be32(b, 1);
            return sl_buf_putc(b, n == 4 ? 1 : 0);
        }
        return -1;
    case SL_T_JSON:
        put_be32(b, (uint32_t)n + 1);
        sl_buf_putc(b, 1);      /* jsonb's binary format: version 1, then the text */
        return sl_buf_append(b, s, n);
    default:
        put_be32(b, (uint32_t)n);
        return sl_buf_append(b, s, n);
    }
}

/* Does every column of the load have exactly the type binary values are
 * made for? (A table sluice did not create may have others.) */
static int binary_fits(struct sl_dest *d, const char *table_q, const struct sl_schema *s)
{
    struct sl_rows cols;
    struct sl_err e;
    const char *p[] = {table_q};
    const char *env = getenv("SLUICE_PG_COPY");
    if (env && strcmp(env, "text") == 0)
        return 0;
    if (!table_q)
        return 1;
    if (pg_exec(d, DESCRIBE_SQL, 1, p, &cols, &e) < 0)
        return 0;
    int ok = 1;
    for (size_t i = 0; i < s->ncols && ok; i++) {
        const char *want = sl_pg_type_name(s->cols[i].type);
        ok = 0;
        for (size_t r = 0; r < cols.nrows; r++) {
            const char *name = sl_rows_get(&cols, r, 0), *type = sl_rows_get(&cols, r, 1);
            if (!name || !type || !sl_pg_stored_as(name, s->cols[i].name))
                continue;
            ok = strcmp(type, want) == 0 ||
                 (s->cols[i].type == SL_T_TIMESTAMPTZ &&
                  strcmp(type, "timestamp with time zone") == 0) ||
                 (s->cols[i].type == SL_T_NUMERIC && strncmp(type, "numeric(", 8) == 0);
            break;
        }
    }
    for (size_t r = 0; r < cols.nrows && ok; r++)
        if (strcmp(sl_rows_get(&cols, r, 0), "_sluice_batch") == 0)
            ok = strcmp(sl_rows_get(&cols, r, 1), "bigint") == 0;
    sl_rows_free(&cols);
    return ok;
}

/* Loads staged in a table of their own, then merged by primary key. */
static int staged(enum sl_load_mode m)
{
    return m == SL_LOAD_VERSIONED || m == SL_LOAD_UPSERT || m == SL_LOAD_CDC;
}

static int pg_load_begin(struct sl_dest *d, const struct sl_load *ld, struct sl_err *err)
{
    struct sl_buf sql;
    const char *copy_into;

    load_reset(d);
    d->ld = *ld;
    snprintf(d->batch_txt, sizeof d->batch_txt, "%lld", (long long)ld->batch_id);
    d->target_q = sl_pg_quoted_table(ld->table, 1);
    sl_buf_init(&sql);

    if (staged(ld->mode)) {
        sl_buf_init(&sql);
        sl_buf_printf(&sql, "\"_sluice\".\"stage_%lld\"", (long long)ld->batch_id);
        d->stage_q = sl_buf_steal(&sql);
        struct sl_buf pk;
        sl_buf_init(&pk);
        name_list(&pk, ld->pk, ld->npk, NULL);
        d->pk_list = sl_buf_steal(&pk);
        /* unlogged and created in this transaction: no WAL for staged rows */
        sl_buf_printf(&sql, "CREATE UNLOGGED TABLE %s (", d->stage_q);
        for (size_t i = 0; i < ld->schema->ncols; i++) {
            sl_pg_quote_stored(&sql, ld->schema->cols[i].name, strlen(ld->schema->cols[i].name));
            sl_buf_printf(&sql, " %s, ", sl_pg_type_name(ld->schema->cols[i].type));
        }
        sl_buf_puts(&sql, "\"_sluice_batch\" bigint, \"_sluice_ord\" bigint)");
        if (sl_pg_run(&d->pg, sql.data, err, "could not create staging table") < 0)
            goto fail;
        sl_buf_reset(&sql);
        copy_into = d->stage_q;
    } else if (ld->mode == SL_LOAD_SNAPSHOT) {
        d->new_name = snapshot_new_name(ld->table, ld->batch_id);
        d->stage_q = sl_pg_quoted_table(d->new_name, 1);
        sl_buf_printf(&sql, "DROP TABLE IF EXISTS %s; ", d->stage_q);
        create_sql(&sql, d->stage_q, ld->target, ld->pk, ld->npk, NULL);
        if (sl_pg_run(&d->pg, sql.data, err, "could not create the snapshot's new table") < 0)
            goto fail;
        sl_buf_reset(&sql);
        copy_into = d->stage_q;
    } else if (skips_existing(ld)) {
        /* events: staged in a temp table, then only keys not stored yet go in */
        d->stage_q = sl_strdup("\"_sluice_event_stage\"");
        struct sl_buf pk;
        sl_buf_init(&pk);
        name_list(&pk, ld->pk, ld->npk, NULL);
        d->pk_list = sl_buf_steal(&pk);
        sl_buf_printf(&sql, "CREATE TEMP TABLE %s (", d->stage_q ? d->stage_q : "");
        for (size_t i = 0; i < ld->schema->ncols; i++) {
            sl_pg_quote_stored(&sql, ld->schema->cols[i].name, strlen(ld->schema->cols[i].name));
            sl_buf_printf(&sql, " %s, ", sl_pg_type_name(ld->schema->cols[i].type));
        }
        sl_buf_puts(&sql, "\"_sluice_batch\" bigint) ON COMMIT DROP");
        if (!d->stage_q || !d->pk_list || sql.oom) {
            sl_err_set(err, SL_E_NOMEM, "out of memory");
            goto fail;
        }
        if (sl_pg_run(&d->pg, sql.data, err, "could not create staging table") < 0)
            goto fail;
        sl_buf_reset(&sql);
        copy_into = d->stage_q;
    } else {
        copy_into = d->target_q;
    }

    /* tables made here have sluice's types; another's are checked */
    d->binary = binary_fits(d, copy_into == d->target_q ? d->target_q : NULL, ld->schema);
    sl_buf_printf(&sql, "COPY %s (", copy_into);
    col_list(&sql, ld->schema, NULL);
    sl_buf_puts(&sql, ", \"_sluice_batch\"");
    if (staged(ld->mode))
        sl_buf_puts(&sql, ", \"_sluice_ord\"");
    sl_buf_puts(&sql, d->binary ? ") FROM STDIN WITH (FORMAT binary)" : ") FROM STDIN");
    if (sql.oom) {
        sl_err_set(err, SL_E_NOMEM, "out of memory");
        goto fail;
    }
    PGresult *res = PQexec(d->pg.conn, sql.data);
    if (PQresultStatus(res) != PGRES_COPY_IN) {
        sl_pg_fail(&d->pg, res, err, "could not start COPY");
        PQclear(res);
        goto fail;
    }
    PQclear(res);
    if (d->binary) {
        /* signature, flags, no header extension */
        sl_buf_append(&d->copybuf, "PGCOPY\n\377\r\n\0", 11);
        put_be32(&d->copybuf, 0);
        put_be32(&d->copybuf, 0);
    }
    sl_buf_free(&sql);
    d->loading = 1;
    return 0;
fail:
    sl_buf_free(&sql);
    sl_err_prefix(err, "table \"%s\"", ld->table);
    load_reset(d);
    return -1;
}

static int flush_copy(struct sl_dest *d, struct sl_err *err)
{
    if (d->copybuf.len == 0)
        return 0;
    if (PQputCopyData(d->pg.conn, d->copybuf.data, (int)d->copybuf.len) != 1)
        return sl_pg_fail(&d->pg, NULL, err, "could not send COPY data");
    sl_buf_reset(&d->copybuf);
    return 0;
}

/* COPY text format: backslash, tab, newline and CR are escaped; \N is NULL. */
static void copy_escape(struct sl_buf *b, const char *s, size_t n)
{
    size_t start = 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        char e;
        switch (c) {
        case '\\': e = '\\'; break;
        case '\t': e = 't'; break;
        case '\n': e = 'n'; break;
        case '\r': e = 'r'; break;
        default: continue;
        }
        sl_buf_append(b, s + start, i - start);
        sl_buf_putc(b, '\\');
        sl_buf_putc(b, e);
        start = i + 1;
    }
    sl_buf_append(b, s + start, n - start);
}

static int load_row_binary(struct sl_dest *d, const struct sl_cell *cells, struct sl_err *err)
{
    struct sl_buf *b = &d->copybuf;
    const struct sl_schema *s = d->ld.schema;
    int ord = staged(d->ld.mode);

    put_be16(b, (uint16_t)(s->ncols + 1 + (size_t)ord));
    for (size_t i = 0; i < s->ncols; i++) {
        if (cells[i].null)
            put_be32(b, 0xFFFFFFFFu);
        else if (bin_value(b, s->cols[i].type, cells[i].s, cells[i].n) < 0)
            return sl_err_set(err, SL_E_INPUT, "table \"%s\", column \"%s\": \"%.*s\" is not"
                              " a canonical %s value", d->ld.table, s->cols[i].name,
                              (int)(cells[i].n > 60 ? 60 : cells[i].n), cells[i].s,
                              sl_type_name(s->cols[i].type));
    }
    put_be32(b, 8);
    put_be64(b, (uint64_t)d->ld.batch_id);
    d->rows_in++;
    if (ord) {
        put_be32(b, 8);
        put_be64(b, (uint64_t)d->rows_in);
    }
    if (b->oom)
        return sl_err_set(err, SL_E_NOMEM, "out of memory building COPY data");
    if (b->len >= COPY_FLUSH)
        return flush_copy(d, err);
    return 0;
}

static int pg_load_row(struct sl_dest *d, const struct sl_cell *cells, struct sl_err *err)
{
    struct sl_buf *b = &d->copybuf;
    size_t n = d->ld.schema->ncols;

    if (d->binary)
        return load_row_binary(d, cells, err);

    for (size_t i = 0; i < n; i++) {
        if (cells[i].null)
            sl_buf_append(b, "\\N", 2);
        else
            copy_escape(b, cells[i].s, cells[i].n);
        sl_buf_putc(b, '\t');
    }
    sl_buf_puts(b, d->batch_txt);
    d->rows_in++;
    if (staged(d->ld.mode))
        sl_buf_printf(b, "\t%lld", (long long)d->rows_in);
    sl_buf_putc(b, '\n');
    if (b->oom)
        return sl_err_set(err, SL_E_NOMEM, "out of memory building COPY data");
    if (b->len >= COPY_FLUSH)
        return flush_copy(d, err);
    return 0;
}

/* Make the history table exist with every column of the target (one the
 * target gained outside add_column is added here as well). */
static int hist_prepare(struct sl_dest *d, const char *hist, struct sl_err *err)
{
    const struct sl_schema *t = d->ld.target;
    struct sl_rows cols;
    struct sl_buf sql;
    const char *p[] = {hist};
    int rc = 0;

    if (pg_exec(d, DESCRIBE_SQL, 1, p, &cols, err) < 0)
        return -1;
    sl_buf_init(&sql);
    if (cols.nrows == 0) {
        /* LIKE: the same columns with the same types (typmods too), no keys:
         * one key may have been replaced by several batches */
        sl_buf_printf(&sql, "CREATE TABLE %s (LIKE %s); ALTER TABLE %s ADD COLUMN"
                      " \"_sluice_replaced_by\" bigint NOT NULL;"
                      " CREATE INDEX ON %s USING brin (\"_sluice_replaced_by\")",
                      hist, d->target_q, hist, hist);
    } else {
        for (size_t i = 0; i < t->ncols; i++) {
            int found = 0;
            for (size_t k = 0; k < cols.nrows && !found; k++)
                found = sl_pg_stored_as(sl_rows_get(&cols, k, 0), t->cols[i].name);
            if (found)
                continue;
            sl_buf_printf(&sql, "%sALTER TABLE %s ADD COLUMN ", sql.len ? "; " : "", hist);
            sl_pg_quote_stored(&sql, t->cols[i].name, strlen(t->cols[i].name));
            sl_buf_printf(&sql, " %s", sl_pg_type_name(t->cols[i].type));
        }
    }
    sl_rows_free(&cols);
    if (sql.oom)
        rc = sl_err_set(err, SL_E_NOMEM, "out of memory");
    else if (sql.len)
        rc = sl_pg_run(&d->pg, sql.data, err, "could not prepare the history table");
    sl_buf_free(&sql);
    return rc;
}

/* INSERT INTO <hist> (...) SELECT <each column of the target row t>,
 * $1 (the batch) FROM <target> t WHERE : the rows a merge replaces, kept. */
static void hist_insert(struct sl_buf *sql, const struct sl_dest *d, const char *hist)
{
    sl_buf_printf(sql, "INSERT INTO %s (", hist);
    col_list(sql, d->ld.target, NULL);
    sl_buf_puts(sql, ", \"_sluice_batch\", \"_sluice_replaced_by\") SELECT ");
    col_list(sql, d->ld.target, "t.");
    sl_buf_printf(sql, ", t.\"_sluice_batch\", $1::bigint FROM %s t WHERE ", d->target_q);
}

/* ON CONFLICT's SET: every column but the key's, and the batch, from the
 * batch's row. */
static void set_excluded(struct sl_buf *sql, const struct sl_load *ld)
{
    const struct sl_schema *s = ld->mode == SL_LOAD_CDC ? ld->target : ld->schema;
    for (size_t i = 0; i < s->ncols; i++) {
        const char *c = s->cols[i].name;
        int is_pk = 0;
        for (size_t k = 0; k < ld->npk; k++)
            is_pk |= strcmp(ld->pk[k], c) == 0;
        if (is_pk)
            continue;
        sl_pg_quote_stored(sql, c, strlen(c));
        sl_buf_puts(sql, " = EXCLUDED.");
        sl_pg_quote_stored(sql, c, strlen(c));
        sl_buf_puts(sql, ", ");
    }
    sl_buf_puts(sql, "\"_sluice_batch\" = EXCLUDED.\"_sluice_batch\"");
}

/* Invariant 3: before the merge, copy exactly the rows it will overwrite
 * into the history table. The merge overwrites a stored row when the
 * batch's winning row for its key has a higher version; the winner has the
 * highest version of the key in the batch, so "some staged row of the key
 * has a higher version" is the same test, and needs no DISTINCT ON. */
static int hist_capture(struct sl_dest *d, struct sl_err *err)
{
    const struct sl_load *ld = &d->ld;
    struct sl_buf sql;
    char *hist = hist_quoted(ld->table);
    int rc;

    if (!hist)
        return sl_err_set(err, SL_E_NOMEM, "out of memory");
    /* an empty table has nothing to replace (a first load): skip the join,
     * which the planner cannot know is empty in a table made this transaction */
    char *any = NULL;
    sl_buf_init(&sql);
    sl_buf_printf(&sql, "SELECT 1 FROM %s LIMIT 1", d->target_q);
    rc = sql.oom ? sl_err_set(err, SL_E_NOMEM, "out of memory")
                 : sl_pg_value(&d->pg, sql.data, NULL, &any, err);
    sl_buf_free(&sql);
    if (rc < 0 || !any) {
        sl_free(hist);
        return rc;
    }
    sl_free(any);
    if (hist_prepare(d, hist, err) < 0) {
        sl_free(hist);
        return -1;
    }
    sl_buf_init(&sql);
    hist_insert(&sql, d, hist);
    sl_buf_printf(&sql, "EXISTS (SELECT 1 FROM %s s WHERE ", d->stage_q);
    for (size_t k = 0; k < ld->npk; k++) {
        sl_buf_puts(&sql, "s.");
        sl_pg_quote_stored(&sql, ld->pk[k], strlen(ld->pk[k]));
        sl_buf_puts(&sql, " = t.");
        sl_pg_quote_stored(&sql, ld->pk[k], strlen(ld->pk[k]));
        sl_buf_puts(&sql, " AND ");
    }
    sl_buf_puts(&sql, "s.");
    sl_pg_quote_stored(&sql, ld->version_key, strlen(ld->version_key));
    sl_buf_puts(&sql, " > t.");
    sl_pg_quote_stored(&sql, ld->version_key, strlen(ld->version_key));
    sl_buf_putc(&sql, ')');
    const char *p[] = {d->batch_txt};
    rc = sql.oom ? sl_err_set(err, SL_E_NOMEM, "out of memory")
                 : pg_exec(d, sql.data, 1, p, NULL, err);
    if (rc < 0)
        sl_err_prefix(err, "could not keep the rows the merge replaces");
    sl_buf_free(&sql);
    sl_free(hist);
    return rc;
}

static int merge_versioned(struct sl_dest *d, struct sl_load_result *r, struct sl_err *err)
{
    const struct sl_load *ld = &d->ld;
    struct sl_buf sql;

    if (hist_capture(d, err) < 0)
        return -1;
    sl_buf_init(&sql);

    /* NULL version keys are refused before they get here (engine); ties keep
     * the stored row, and within one batch the first row of a key wins. */
    sl_buf_printf(&sql, "INSERT INTO %s AS t (", d->target_q);
    col_list(&sql, ld->schema, NULL);
    sl_buf_puts(&sql, ", \"_sluice_batch\") SELECT DISTINCT ON (");
    sl_buf_puts(&sql, d->pk_list);
    sl_buf_puts(&sql, ") ");
    col_list(&sql, ld->schema, NULL);
    sl_buf_printf(&sql, ", \"_sluice_batch\" FROM %s ORDER BY %s, ", d->stage_q, d->pk_list);
    sl_pg_quote_stored(&sql, ld->version_key, strlen(ld->version_key));
    sl_buf_printf(&sql, " DESC, \"_sluice_ord\" ON CONFLICT (%s) DO UPDATE SET ", d->pk_list);
    set_excluded(&sql, ld);
    sl_buf_puts(&sql, " WHERE t.");
    sl_pg_quote_stored(&sql, ld->version_key, strlen(ld->version_key));
    sl_buf_puts(&sql, " < EXCLUDED.");
    sl_pg_quote_stored(&sql, ld->version_key, strlen(ld->version_key));
    sl_buf_printf(&sql, "; DROP TABLE %s", d->stage_q);
    if (sql.oom) {
        sl_buf_free(&sql);
        return sl_err_set(err, SL_E_NOMEM, "out of memory");
    }

    /* two statements: send separately to read the INSERT's row count */
    char *drop = strstr(sql.data, "; DROP TABLE ");
    *drop = '\0';
    int rc = sl_pg_run_count(&d->pg, sql.data, &r->rows_written, err,
                             "could not merge staged rows");
    if (rc == 0)
        rc = sl_pg_run(&d->pg, drop + 2, err, "could not drop staging table");
    sl_buf_free(&sql);
    return rc;
}

/* The staging table, once merged. */
static int drop_stage(struct sl_dest *d, struct sl_err *err)
{
    struct sl_buf sql;
    sl_buf_init(&sql);
    sl_buf_printf(&sql, "DROP TABLE %s", d->stage_q);
    int rc = sql.oom ? sl_err_set(err, SL_E_NOMEM, "out of memory")
                     : sl_pg_run(&d->pg, sql.data, err, "could not drop staging table");
    sl_buf_free(&sql);
    return rc;
}

/* Invariant 3: every stored row of a key the stage holds goes to the
 * history table, before a merge that may replace or remove it. */
static int keep_staged_keys(struct sl_dest *d, const char *hist, struct sl_err *err)
{
    const struct sl_load *ld = &d->ld;
    const char *p[] = {d->batch_txt};
    struct sl_buf sql;
    int rc;

    if (hist_prepare(d, hist, err) < 0)
        return -1;
    sl_buf_init(&sql);
    hist_insert(&sql, d, hist);
    sl_buf_putc(&sql, '(');
    name_list(&sql, ld->pk, ld->npk, "t.");
    sl_buf_printf(&sql, ") IN (SELECT %s FROM %s)", d->pk_list, d->stage_q);
    rc = sql.oom ? sl_err_set(err, SL_E_NOMEM, "out of memory")
                 : pg_exec(d, sql.data, 1, p, NULL, err);
    if (rc < 0)
        sl_err_prefix(err, "could not keep the rows the merge replaces");
    sl_buf_free(&sql);
    return rc;
}

/* UPSERT (incremental `updater`, reconcile's repair): per primary key the
 * batch's last row replaces the stored one, every column, whatever it
 * holds. Invariant 3: first every stored row of the batch's keys goes to
 * the history table, as the versioned merge keeps what it overwrites. */
static int merge_upsert(struct sl_dest *d, struct sl_load_result *r, struct sl_err *err)
{
    const struct sl_load *ld = &d->ld;
    struct sl_buf sql;
    char *hist = hist_quoted(ld->table);
    int rc = -1;

    if (!hist)
        return sl_err_set(err, SL_E_NOMEM, "out of memory");
    sl_buf_init(&sql);
    if (keep_staged_keys(d, hist, err) < 0)
        goto done;
    sl_buf_printf(&sql, "INSERT INTO %s AS t (", d->target_q);
    col_list(&sql, ld->schema, NULL);
    sl_buf_printf(&sql, ", \"_sluice_batch\") SELECT DISTINCT ON (%s) ", d->pk_list);
    col_list(&sql, ld->schema, NULL);
    sl_buf_printf(&sql, ", \"_sluice_batch\" FROM %s ORDER BY %s, \"_sluice_ord\" DESC"
                  " ON CONFLICT (%s) DO UPDATE SET ", d->stage_q, d->pk_list, d->pk_list);
    set_excluded(&sql, ld);
    if (sql.oom) {
        sl_err_set(err, SL_E_NOMEM, "out of memory");
        goto done;
    }
    if (sl_pg_run_count(&d->pg, sql.data, &r->rows_written, err,
                        "could not merge staged rows") < 0)
        goto done;
    rc = drop_stage(d, err);
done:
    sl_buf_free(&sql);
    sl_free(hist);
    return rc;
}

/* " AND t.k1 = s.k1 AND t.k2 = s.k2" after `lead` */
static void key_match(struct sl_buf *sql, const struct sl_load *ld, const char *lead)
{
    sl_buf_puts(sql, lead);
    for (size_t k = 0; k < ld->npk; k++) {
        sl_buf_puts(sql, k ? " AND t." : "t.");
        sl_pg_quote_stored(sql, ld->pk[k], strlen(ld->pk[k]));
        sl_buf_puts(sql, " = s.");
        sl_pg_quote_stored(sql, ld->pk[k], strlen(ld->pk[k]));
    }
}

/* The batch's last change of each key: a subquery aliased s. */
static void last_changes(struct sl_buf *sql, const struct sl_dest *d)
{
    sl_buf_printf(sql, "(SELECT DISTINCT ON (%s) * FROM %s ORDER BY %s, \"_sluice_ord\" DESC) s",
                  d->pk_list, d->stage_q, d->pk_list);
}

/* A change that left column $1 out (an unchanged TOASTed value) takes it
 * from the key's latest earlier change that carried it, else from the
 * stored row. ARRAY[] tells "no such row" (NULL) from a NULL value. */
static int fill_unchanged(struct sl_dest *d, struct sl_err *err)
{
    const struct sl_load *ld = &d->ld;
    struct sl_rows names;
    struct sl_buf sql;
    int rc = 0;

    sl_buf_init(&sql);
    sl_buf_printf(&sql, "SELECT DISTINCT jsonb_array_elements_text(\"%s\") FROM %s"
                  " WHERE \"%s\" IS NOT NULL", SL_CDC_UNCHANGED_COL, d->stage_q,
                  SL_CDC_UNCHANGED_COL);
    if (sql.oom || pg_exec(d, sql.data, 0, NULL, &names, err) < 0) {
        sl_buf_free(&sql);
        return sql.oom ? sl_err_set(err, SL_E_NOMEM, "out of memory") : -1;
    }
    for (size_t i = 0; i < names.nrows && rc == 0; i++) {
        const char *c = sl_rows_get(&names, i, 0);
        if (sl_schema_find(ld->target, c) < 0)
            continue;
        sl_buf_reset(&sql);
        sl_buf_printf(&sql, "UPDATE %s s SET ", d->stage_q);
        sl_pg_quote_stored(&sql, c, strlen(c));
        sl_buf_puts(&sql, " = (coalesce((SELECT ARRAY[t.");
        sl_pg_quote_stored(&sql, c, strlen(c));
        sl_buf_printf(&sql, "] FROM %s t", d->stage_q);
        key_match(&sql, ld, " WHERE ");
        sl_buf_printf(&sql, " AND t.\"_sluice_ord\" < s.\"_sluice_ord\" AND t.\"%s\" <> 'D'"
                      " AND NOT coalesce(t.\"%s\" ? $1, false) ORDER BY t.\"_sluice_ord\" DESC"
                      " LIMIT 1), (SELECT ARRAY[t.", SL_CDC_OP_COL, SL_CDC_UNCHANGED_COL);
        sl_pg_quote_stored(&sql, c, strlen(c));
        sl_buf_printf(&sql, "] FROM %s t", d->target_q);
        key_match(&sql, ld, " WHERE ");
        sl_buf_printf(&sql, ")))[1] WHERE s.\"%s\" ? $1", SL_CDC_UNCHANGED_COL);
        const char *p[] = {c};
        rc = sql.oom ? sl_err_set(err, SL_E_NOMEM, "out of memory")
                     : pg_exec(d, sql.data, 1, p, NULL, err);
    }
    if (rc < 0)
        sl_err_prefix(err, "could not fill in unchanged values");
    sl_rows_free(&names);
    sl_buf_free(&sql);
    return rc;
}

/* CDC (destination.h): per key the batch's last change; deletes remove the
 * row or, soft, stamp it; inserts and updates replace it. The rows either
 * touches are kept in history first. */
static int merge_cdc(struct sl_dest *d, struct sl_load_result *r, struct sl_err *err)
{
    const struct sl_load *ld = &d->ld;
    const char *p[] = {d->batch_txt};
    int soft = sl_schema_find(ld->target, SL_DELETED_AT_COL) >= 0;
    struct sl_buf sql;
    char *hist = hist_quoted(ld->table);
    int64_t gone = 0, put = 0;
    int rc = -1;

    if (!hist)
        return sl_err_set(err, SL_E_NOMEM, "out of memory");
    sl_buf_init(&sql);
    if (keep_staged_keys(d, hist, err) < 0 || fill_unchanged(d, err) < 0)
        goto done;
    if (soft) {
        sl_buf_printf(&sql, "UPDATE %s t SET \"%s\" = s.\"%s\", \"_sluice_batch\" = $1::bigint"
                      " FROM ", d->target_q, SL_DELETED_AT_COL, SL_DELETED_AT_COL);
        last_changes(&sql, d);
    } else {
        sl_buf_printf(&sql, "DELETE FROM %s t USING ", d->target_q);
        last_changes(&sql, d);
    }
    sl_buf_printf(&sql, " WHERE s.\"%s\" = 'D'", SL_CDC_OP_COL);
    key_match(&sql, ld, " AND ");
    if (sql.oom) {
        sl_err_set(err, SL_E_NOMEM, "out of memory");
        goto done;
    }
    if (soft ? pg_exec_count(d, sql.data, 1, p, &gone, err) < 0
             : sl_pg_run_count(&d->pg, sql.data, &gone, err, "could not apply deletes") < 0)
        goto done;

    sl_buf_reset(&sql);
    sl_buf_printf(&sql, "INSERT INTO %s AS t (", d->target_q);
    col_list(&sql, ld->target, NULL);
    sl_buf_puts(&sql, ", \"_sluice_batch\") SELECT ");
    col_list(&sql, ld->target, "s.");
    sl_buf_puts(&sql, ", s.\"_sluice_batch\" FROM ");
    last_changes(&sql, d);
    sl_buf_printf(&sql, " WHERE s.\"%s\" <> 'D' ON CONFLICT (%s) DO UPDATE SET ", SL_CDC_OP_COL,
                  d->pk_list);
    set_excluded(&sql, ld);
    if (sql.oom) {
        sl_err_set(err, SL_E_NOMEM, "out of memory");
        goto done;
    }
    if (sl_pg_run_count(&d->pg, sql.data, &put, err, "could not apply changes") < 0)
        goto done;
    r->rows_written = gone + put;
    rc = drop_stage(d, err);
done:
    sl_buf_free(&sql);
    sl_free(hist);
    return rc;
}

static const char SCHEMA_OF_SQL[] =
    "SELECT n.nspname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
    " WHERE c.oid = to_regclass($1)";

static const char DEPENDENT_VIEWS_SQL[] =
    "SELECT string_agg(DISTINCT v.oid::regclass::text, ', ')"
    "  FROM pg_depend dep JOIN pg_rewrite rw ON rw.oid = dep.objid"
    "  JOIN pg_class v ON v.oid = rw.ev_class"
    " WHERE dep.classid = 'pg_rewrite'::regclass AND dep.refclassid = 'pg_class'::regclass"
    "   AND dep.refobjid = to_regclass($1) AND rw.ev_class <> dep.refobjid";

static const char INDEXES_SQL[] =
    "SELECT i.indexrelid::regclass::text, con.conname, con.contype"
    "  FROM pg_index i LEFT JOIN pg_constraint con"
    "    ON con.conindid = i.indexrelid AND con.conrelid = i.indrelid"
    " WHERE i.indrelid = to_regclass($1)";

/* Drop the kept tables of `table` beyond the newest SL_KEEP_PREV. */
static int prune_kept(struct sl_dest *d, const char *table, struct sl_err *err)
{
    struct sl_rows r;
    char keep[24];
    snprintf(keep, sizeof keep, "%d", SL_KEEP_PREV);
    const char *p[] = {table, keep};
    if (pg_exec(d, "SELECT batch_id, name FROM _sluice.kept WHERE table_name = $1"
                   " ORDER BY batch_id DESC OFFSET $2", 2, p, &r, err) < 0)
        return -1;
    int rc = 0;
    for (size_t i = 0; i < r.nrows && rc == 0; i++) {
        char *q = own_quoted(sl_rows_get(&r, i, 1));
        struct sl_buf sql;
        sl_buf_init(&sql);
        sl_buf_printf(&sql, "DROP TABLE IF EXISTS %s", q ? q : "");
        const char *pb[] = {sl_rows_get(&r, i, 0)};
        rc = (!q || sql.oom) ? sl_err_set(err, SL_E_NOMEM, "out of memory")
                             : sl_pg_run(&d->pg, sql.data, err, "could not drop an old kept table");
        if (rc == 0)
            rc = pg_exec(d, "DELETE FROM _sluice.kept WHERE batch_id = $1", 1, pb, NULL, err);
        sl_buf_free(&sql);
        sl_free(q);
    }
    sl_rows_free(&r);
    return rc;
}

/* Invariant 3: the table a snapshot load replaces is kept for rollback as
 * "_sluice"."prev_<batch>". Index names live in the table's schema, so its
 * primary key is renamed "prev_<batch>_pkey" and its other indexes dropped
 * (the new table has none of them either); restore_prev undoes it. */
static int keep_replaced(struct sl_dest *d, struct sl_err *err)
{
    const int64_t b = d->ld.batch_id;
    struct sl_rows r;
    struct sl_buf sql;
    char *nsp = NULL, *views = NULL, kept[48];
    int rc = -1;

    if (sl_pg_value(&d->pg, SCHEMA_OF_SQL, d->target_q, &nsp, err) < 0)
        return -1;
    if (!nsp)
        return 0;   /* no live table: nothing to keep */
    if (lock_live(d, d->target_q, "the snapshot swap", err) < 0)
        goto done0;
    if (sl_pg_value(&d->pg, DEPENDENT_VIEWS_SQL, d->target_q, &views, err) < 0)
        goto done0;
    if (views) {
        sl_err_set(err, SL_E_DEST,
                   "a snapshot load replaces the whole table, but view(s) %s depend on it;"
                   " drop them or load the table as versioned", views);
        goto done0;
    }
    const char *p[] = {d->target_q};
    if (pg_exec(d, INDEXES_SQL, 1, p, &r, err) < 0)
        goto done0;
    sl_buf_init(&sql);
    for (size_t i = 0; i < r.nrows; i++) {
        const char *idx = sl_rows_get(&r, i, 0), *con = sl_rows_get(&r, i, 1);
        const char *type = sl_rows_get(&r, i, 2);
        if (con && type && strcmp(type, "p") == 0) {
            char to[64];
            snprintf(to, sizeof to, "prev_%lld_pkey", (long long)b);
            sl_buf_printf(&sql, "ALTER TABLE %s RENAME CONSTRAINT ", d->target_q);
            sl_pg_quote_stored(&sql, con, strlen(con));
            sl_buf_puts(&sql, " TO ");
            sl_pg_quote_stored(&sql, to, strlen(to));
        } else if (con) {
            sl_buf_printf(&sql, "ALTER TABLE %s DROP CONSTRAINT ", d->target_q);
            sl_pg_quote_stored(&sql, con, strlen(con));
        } else {
            sl_buf_printf(&sql, "DROP INDEX %s", idx);   /* regclass text: quoted */
        }
        sl_buf_puts(&sql, "; ");
    }
    sl_rows_free(&r);
    /* renamed in place first, so no name in _sluice can collide */
    snprintf(kept, sizeof kept, "_sluice_prev_%lld", (long long)b);
    sl_buf_printf(&sql, "ALTER TABLE %s RENAME TO ", d->target_q);
    sl_pg_quote_stored(&sql, kept, strlen(kept));
    sl_buf_puts(&sql, "; ALTER TABLE ");
    sl_pg_quote_stored(&sql, nsp, strlen(nsp));
    sl_buf_putc(&sql, '.');
    sl_pg_quote_stored(&sql, kept, strlen(kept));
    sl_buf_puts(&sql, " SET SCHEMA _sluice; ALTER TABLE _sluice.");
    sl_pg_quote_stored(&sql, kept, strlen(kept));
    snprintf(kept, sizeof kept, "prev_%lld", (long long)b);
    sl_buf_puts(&sql, " RENAME TO ");
    sl_pg_quote_stored(&sql, kept, strlen(kept));
    rc = sql.oom ? sl_err_set(err, SL_E_NOMEM, "out of memory")
                 : sl_pg_run(&d->pg, sql.data, err, "could not keep the replaced table");
    sl_buf_free(&sql);
    if (rc == 0) {
        const char *pk[] = {d->batch_txt, d->ld.table, kept};
        rc = pg_exec(d, "INSERT INTO _sluice.kept (batch_id, table_name, name, kept_at)"
                        " VALUES ($1, $2, $3, now())", 3, pk, NULL, err);
    }
    if (rc == 0)
        rc = prune_kept(d, d->ld.table, err);
done0:
    sl_free(nsp);
    sl_free(views);
    return rc;
}

static int swap_snapshot(struct sl_dest *d, struct sl_err *err)
{
    struct sl_buf sql;
    const char *bare = bare_name(d->ld.table);
    const char *newbare = strchr(d->new_name, '.') ? strchr(d->new_name, '.') + 1 : d->new_name;

    if (keep_replaced(d, err) < 0)
        return -1;
    sl_buf_init(&sql);
    sl_buf_printf(&sql, "ALTER TABLE %s RENAME TO ", d->stage_q);
    sl_pg_quote_stored(&sql, bare, strlen(bare));
    if (d->ld.npk) {
        /* keep the primary key's name stable across swaps */
        char from[128], to[128];
        snprintf(from, sizeof from, "%s_pkey", newbare);
        snprintf(to, sizeof to, "%s_pkey", bare);
        sl_buf_printf(&sql, "; ALTER TABLE %s RENAME CONSTRAINT ", d->target_q);
        sl_pg_quote_stored(&sql, from, strlen(from));
        sl_buf_puts(&sql, " TO ");
        sl_pg_quote_stored(&sql, to, strlen(to));
    }
    sl_buf_printf(&sql, "; CREATE INDEX ON %s USING brin (\"_sluice_batch\")", d->target_q);
    int rc = sql.oom ? sl_err_set(err, SL_E_NOMEM, "out of memory")
                     : sl_pg_run(&d->pg, sql.data, err, "could not swap in the new snapshot");
    sl_buf_free(&sql);
    return rc;
}

static int pg_load_end(struct sl_dest *d, struct sl_load_result *r, struct sl_err *err)
{
    int rc = 0;
    memset(r, 0, sizeof *r);
    if (d->binary)
        put_be16(&d->copybuf, 0xFFFF);     /* the file trailer */
    if (flush_copy(d, err) < 0)
        goto fail;
    if (PQputCopyEnd(d->pg.conn, NULL) != 1) {
        sl_pg_fail(&d->pg, NULL, err, "could not end COPY");
        goto fail;
    }
    PGresult *res = PQgetResult(d->pg.conn);
    if (PQresultStatus(res) != PGRES_COMMAND_OK) {
        sl_pg_fail(&d->pg, res, err, "COPY failed");
        PQclear(res);
        while ((res = PQgetResult(d->pg.conn)))
            PQclear(res);
        goto fail;
    }
    PQclear(res);
    while ((res = PQgetResult(d->pg.conn)))
        PQclear(res);
    d->loading = 0;
    r->rows_in = d->rows_in;
    r->rows_written = d->rows_in;

    if (d->ld.mode == SL_LOAD_VERSIONED)
        rc = merge_versioned(d, r, err);
    else if (d->ld.mode == SL_LOAD_UPSERT)
        rc = merge_upsert(d, r, err);
    else if (d->ld.mode == SL_LOAD_CDC)
        rc = merge_cdc(d, r, err);
    else if (d->ld.mode == SL_LOAD_SNAPSHOT)
        rc = swap_snapshot(d, err);
    else if (skips_existing(&d->ld))
        rc = insert_new(d, r, err);
    if (rc < 0)
        goto fail;
    r->rows_unchanged = r->rows_in - r->rows_written;
    load_reset(d);
    return 0;
fail:
    sl_err_prefix(err, "table \"%s\"", d->ld.table);
    d->loading = 0;
    load_reset(d);
    return -1;
}

/* ---- taking batches back out ---- */

static void pg_quote_ident_op(struct sl_buf *b, const char *name)
{
    sl_pg_quote_stored(b, name, strlen(name));
}

static char *pg_table_sql(struct sl_dest *d, const char *table)
{
    (void)d;
    return sl_pg_quoted_table(table, 1);
}

static char *pg_own_table_sql(struct sl_dest *d, const char *name)
{
    (void)d;
    return own_quoted(name);
}

static int pg_hist_table(struct sl_dest *d, const char *table, char **quoted,
                         struct sl_err *err)
{
    char *exists = NULL;
    *quoted = hist_quoted(table);
    if (!*quoted)
        return sl_err_set(err, SL_E_NOMEM, "out of memory");
    if (sl_pg_value(&d->pg, "SELECT 1 WHERE to_regclass($1) IS NOT NULL", *quoted, &exists,
                    err) < 0)
        return -1;
    sl_free(exists);
    return exists ? 1 : 0;
}

/* The kept table of snapshot batch `batch` ("prev_12"), or NULL. */
static int kept_name(struct sl_dest *d, const char *table, int64_t batch, char **name,
                     struct sl_err *err)
{
    struct sl_rows r;
    char b[24];
    snprintf(b, sizeof b, "%lld", (long long)batch);
    const char *p[] = {b, table};
    *name = NULL;
    if (pg_exec(d, "SELECT name FROM _sluice.kept WHERE batch_id = $1 AND table_name = $2",
                2, p, &r, err) < 0)
        return -1;
    if (r.nrows == 1 && sl_rows_get(&r, 0, 0) && !(*name = sl_strdup(sl_rows_get(&r, 0, 0)))) {
        sl_rows_free(&r);
        return sl_err_set(err, SL_E_NOMEM, "out of memory");
    }
    sl_rows_free(&r);
    return 0;
}

static int forget_kept(struct sl_dest *d, int64_t batch, struct sl_err *err)
{
    char b[24];
    snprintf(b, sizeof b, "%lld", (long long)batch);
    const char *p[] = {b};
    return pg_exec(d, "DELETE FROM _sluice.kept WHERE batch_id = $1", 1, p, NULL, err);
}

static int pg_restore_prev(struct sl_dest *d, const char *table, int64_t batch,
                           struct sl_err *err)
{
    char *name = NULL, *kept_q = NULL, *target_q = NULL, *nsp = NULL, *exists = NULL;
    char *live_q = NULL, *pkey = NULL;
    char back[48], to[128];
    const char *bare = bare_name(table);
    struct sl_buf sql;
    int rc = -1;

    sl_buf_init(&sql);
    if (kept_name(d, table, batch, &name, err) < 0)
        return -1;
    if (!name)
        return 0;
    kept_q = own_quoted(name);
    target_q = sl_pg_quoted_table(table, 1);
    if (!kept_q || !target_q) {
        sl_err_set(err, SL_E_NOMEM, "out of memory");
        goto done;
    }
    if (sl_pg_value(&d->pg, "SELECT 1 WHERE to_regclass($1) IS NOT NULL", kept_q, &exists, err) < 0)
        goto done;
    if (!exists) {
        rc = forget_kept(d, batch, err) < 0 ? -1 : 0;
        goto done;
    }
    /* back where the live table is; else where the name says, else the
     * schema new tables go to */
    if (sl_pg_value(&d->pg, SCHEMA_OF_SQL, target_q, &nsp, err) < 0)
        goto done;
    if (nsp && lock_live(d, target_q, "putting the kept table back", err) < 0)
        goto done;
    if (!nsp && bare != table)
        nsp = sl_strndup(table, (size_t)(bare - table - 1));
    else if (!nsp && sl_pg_value(&d->pg, "SELECT current_schema()", NULL, &nsp, err) < 0)
        goto done;
    if (!nsp) {
        sl_err_set(err, SL_E_DEST, "no schema to put table \"%s\" back in", table);
        goto done;
    }
    snprintf(back, sizeof back, "_sluice_back_%lld", (long long)batch);
    sl_buf_printf(&sql, "DROP TABLE IF EXISTS %s; ALTER TABLE %s RENAME TO ", target_q, kept_q);
    sl_pg_quote_stored(&sql, back, strlen(back));
    sl_buf_puts(&sql, "; ALTER TABLE _sluice.");
    sl_pg_quote_stored(&sql, back, strlen(back));
    sl_buf_puts(&sql, " SET SCHEMA ");
    sl_pg_quote_stored(&sql, nsp, strlen(nsp));
    sl_buf_puts(&sql, "; ALTER TABLE ");
    sl_pg_quote_stored(&sql, nsp, strlen(nsp));
    sl_buf_putc(&sql, '.');
    sl_pg_quote_stored(&sql, back, strlen(back));
    sl_buf_puts(&sql, " RENAME TO ");
    sl_pg_quote_stored(&sql, bare, strlen(bare));
    if (sql.oom || sl_pg_run(&d->pg, sql.data, err, "could not put the kept table back") < 0) {
        if (sql.oom)
            sl_err_set(err, SL_E_NOMEM, "out of memory");
        goto done;
    }
    sl_buf_reset(&sql);
    sl_pg_quote_stored(&sql, nsp, strlen(nsp));
    sl_buf_putc(&sql, '.');
    sl_pg_quote_stored(&sql, bare, strlen(bare));
    live_q = sl_buf_steal(&sql);
    if (!live_q) {
        sl_err_set(err, SL_E_NOMEM, "out of memory");
        goto done;
    }
    if (sl_pg_value(&d->pg, "SELECT conname FROM pg_constraint WHERE conrelid = to_regclass($1)"
                     " AND contype = 'p'", live_q, &pkey, err) < 0)
        goto done;
    /* the primary key's name as a swap gives it, the batch index back */
    snprintf(to, sizeof to, "%s_pkey", bare);
    if (pkey && strcmp(pkey, to) != 0) {
        sl_buf_printf(&sql, "ALTER TABLE %s RENAME CONSTRAINT ", live_q);
        sl_pg_quote_stored(&sql, pkey, strlen(pkey));
        sl_buf_puts(&sql, " TO ");
        sl_pg_quote_stored(&sql, to, strlen(to));
        sl_buf_puts(&sql, "; ");
    }
    sl_buf_printf(&sql, "CREATE INDEX ON %s USING brin (\"_sluice_batch\")", live_q);
    if (sql.oom)
        sl_err_set(err, SL_E_NOMEM, "out of memory");
    else if (sl_pg_run(&d->pg, sql.data, err, "could not index the table put back") == 0 &&
             forget_kept(d, batch, err) == 0)
        rc = 1;
done:
    if (rc < 0)
        sl_err_prefix(err, "table \"%s\"", table);
    sl_buf_free(&sql);
    sl_free(name);
    sl_free(kept_q);
    sl_free(target_q);
    sl_free(nsp);
    sl_free(exists);
    sl_free(live_q);
    sl_free(pkey);
    return rc;
}

static int pg_drop_prev(struct sl_dest *d, const char *table, int64_t batch,
                        struct sl_err *err)
{
    char *name = NULL, *q;
    struct sl_buf sql;
    if (kept_name(d, table, batch, &name, err) < 0)
        return -1;
    if (!name)
        return 0;
    q = own_quoted(name);
    sl_buf_init(&sql);
    sl_buf_printf(&sql, "DROP TABLE IF EXISTS %s", q ? q : "");
    int rc = (!q || sql.oom) ? sl_err_set(err, SL_E_NOMEM, "out of memory")
                             : sl_pg_run(&d->pg, sql.data, err, "could not drop a kept table");
    if (rc == 0)
        rc = forget_kept(d, batch, err);
    sl_buf_free(&sql);
    sl_free(q);
    sl_free(name);
    return rc;
}

static int pg_copy_out(struct sl_dest *d, const char *table, const char *name, int64_t *rows,
                       struct sl_err *err)
{
    char *from = sl_pg_quoted_table(table, 1), *to = own_quoted(name);
    struct sl_buf sql;
    int rc = -1;

    *rows = 0;
    sl_buf_init(&sql);
    /* CREATE TABLE AS keeps every column's type and typmod; values are
     * copied as stored */
    sl_buf_printf(&sql, "CREATE TABLE %s AS SELECT * FROM %s", to ? to : "", from ? from : "");
    if (!from || !to || sql.oom) {
        sl_err_set(err, SL_E_NOMEM, "out of memory");
    } else if ((rc = sl_pg_run_count(&d->pg, sql.data, rows, err,
                                     "could not copy the table")) < 0) {
        sl_err_prefix(err, "table \"%s\"", table);
    }
    sl_buf_free(&sql);
    sl_free(from);
    sl_free(to);
    return rc;
}

/* Delete rows by key (reconcile's repair), each deleted row kept in the
 * history table first: one statement per key, values bound (docs/invariants.md #5). */
static int pg_delete_keys(struct sl_dest *d, const char *table, const char *const *key,
                          size_t nkey, const char *const *vals, size_t nvals, int64_t batch,
                          int64_t *deleted, struct sl_err *err)
{
    struct sl_schema target = {0};
    struct sl_buf sql;
    char *hist = NULL;
    const char **p = NULL;
    int rc = -1;

    *deleted = 0;
    if (nvals == 0)
        return 0;
    int exists = pg_describe(d, table, &target, err);
    if (exists <= 0)
        return exists;
    load_reset(d);
    memset(&d->ld, 0, sizeof d->ld);
    d->ld.table = table;
    d->ld.target = &target;
    d->target_q = sl_pg_quoted_table(table, 1);
    snprintf(d->batch_txt, sizeof d->batch_txt, "%lld", (long long)batch);
    hist = hist_quoted(table);
    p = sl_calloc(nkey + 1, sizeof *p);
    sl_buf_init(&sql);
    if (!d->target_q || !hist || !p) {
        sl_err_set(err, SL_E_NOMEM, "out of memory");
        goto done;
    }
    if (hist_prepare(d, hist, err) < 0)
        goto done;
    sl_buf_printf(&sql, "WITH gone AS (DELETE FROM %s WHERE ", d->target_q);
    for (size_t k = 0; k < nkey; k++) {
        if (k)
            sl_buf_puts(&sql, " AND ");
        sl_pg_quote_stored(&sql, key[k], strlen(key[k]));
        sl_buf_printf(&sql, " = $%zu", k + 1);
    }
    sl_buf_printf(&sql, " RETURNING *) INSERT INTO %s (", hist);
    col_list(&sql, &target, NULL);
    sl_buf_puts(&sql, ", \"_sluice_batch\", \"_sluice_replaced_by\") SELECT ");
    col_list(&sql, &target, NULL);
    sl_buf_printf(&sql, ", \"_sluice_batch\", $%zu::bigint FROM gone", nkey + 1);
    if (sql.oom) {
        sl_err_set(err, SL_E_NOMEM, "out of memory");
        goto done;
    }
    p[nkey] = d->batch_txt;
    for (size_t i = 0; i < nvals; i++) {
        int64_t n = 0;
        for (size_t k = 0; k < nkey; k++)
            p[k] = vals[i * nkey + k];
        if (pg_exec_count(d, sql.data, (int)nkey + 1, p, &n, err) < 0)
            goto done;
        *deleted += n;
    }
    rc = 0;
done:
    if (rc < 0)
        sl_err_prefix(err, "table \"%s\": could not delete rows by key", table);
    load_reset(d);
    memset(&d->ld, 0, sizeof d->ld);
    sl_buf_free(&sql);
    sl_free(hist);
    sl_free(p);
    sl_schema_free(&target);
    return rc;
}

/* ---- the dialect ---- */

/* The dead letter table. DDL only when missing: CREATE INDEX would wait for
 * every open batch transaction that wrote to the table. The dedupe index is
 * the newest part: when it is there, all is. The advisory lock serializes
 * daemons starting together on one database. An event set aside once stays
 * once, however often its request is retried: by its id, else by a hash of
 * its bytes (the table of an earlier release gets the column). */
static const struct sl_ddl_step DEAD_LETTER_STEPS[] = {
    {"SELECT pg_advisory_xact_lock(7310592026)", NULL},
    {"CREATE TABLE IF NOT EXISTS _sluice.dead_letter ("
     " id bigserial PRIMARY KEY, pipeline text NOT NULL, table_name text NOT NULL,"
     " event_id text, error text NOT NULL, payload text NOT NULL,"
     " received_at timestamptz NOT NULL, batch_id bigint,"
     " replayed_at timestamptz, replayed_by bigint, dedupe text)", NULL},
    {"CREATE INDEX IF NOT EXISTS dead_letter_pending_idx ON _sluice.dead_letter"
     " (pipeline, id) WHERE replayed_at IS NULL", NULL},
    {"ALTER TABLE _sluice.dead_letter ADD COLUMN IF NOT EXISTS dedupe text", NULL},
    {"CREATE UNIQUE INDEX IF NOT EXISTS dead_letter_dedupe_idx ON _sluice.dead_letter"
     " (pipeline, table_name, dedupe)", NULL},
    {NULL, NULL},
};

static const struct sl_dest_dialect pg_dialect = {
    .max_writers = 0,
    .dead_letter = {"SELECT to_regclass('_sluice.dead_letter_dedupe_idx') IS NOT NULL", 1,
                    DEAD_LETTER_STEPS},
    .sql = &sl_pg_dialect,
};

const struct sl_dest_ops sl_dest_postgres = {
    .kind = "postgres",
    .dialect = &pg_dialect,
    .connect = pg_connect,
    .close = pg_close,
    .meta_table = pg_meta_table,
    .ensure_meta = pg_ensure_meta,
    .exec = pg_exec,
    .begin = pg_begin,
    .commit = pg_commit,
    .rollback = pg_rollback,
    .lock_table = pg_lock_table,
    .lease_try = pg_lease_try,
    .lease_release = pg_lease_release,
    .describe = pg_describe,
    .create_table = pg_create_table,
    .add_column = pg_add_column,
    .stored_name = pg_stored_name,
    .fit_table = pg_fit_table,
    .load_begin = pg_load_begin,
    .load_row = pg_load_row,
    .load_end = pg_load_end,
    .exec_count = pg_exec_count,
    .quote_ident = pg_quote_ident_op,
    .table_sql = pg_table_sql,
    .own_table_sql = pg_own_table_sql,
    .hist_table = pg_hist_table,
    .restore_prev = pg_restore_prev,
    .drop_prev = pg_drop_prev,
    .copy_out = pg_copy_out,
    .delete_keys = pg_delete_keys,
};
