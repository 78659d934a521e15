/* destinations/pg.c: the PostgreSQL destination, and the one place libpq is used.
 *
 * Rows travel by COPY FROM STDIN in text format (invariant 5: values never
 * enter SQL text), inside the engine's batch transaction:
 *   append     COPY straight into the table; visible only at commit.
 *   versioned  COPY into an unlogged staging table created in the same
 *              transaction, then one INSERT .. SELECT DISTINCT ON (pk) ..
 *              ON CONFLICT DO UPDATE .. WHERE stored version < new version.
 *   snapshot   COPY into a new table beside the live one; load_end drops the
 *              live table and renames the new one in its place, so readers
 *              see the old rows until commit and the new ones after.
 * Failures keep their SQLSTATE; connection loss and the transient classes
 * (08, 40001, 40P01, 57P0x, 53300, 55P03) are SL_RETRY. */
#include "destinations/destination.h"

#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/mem.h"

#define COPY_FLUSH (256 * 1024)
#define NMETA 8

struct sl_dest {
    PGconn *conn;
    char *url;
    char *password;
    struct { char *name; char *quoted; } meta[NMETA];
    /* the load under way */
    int loading;
    struct sl_load ld;
    char *target_q;          /* quoted target table */
    char *stage_q;           /* quoted staging / new table (versioned, snapshot) */
    char *new_name;          /* snapshot: unquoted name of the new table */
    struct sl_buf copybuf;
    int64_t rows_in;
    char batch_txt[24];
    char *pk_list;           /* quoted, comma separated */
};

/* ---- errors ---- */

static int transient_state(const char *st)
{
    if (!st)
        return 0;
    return strncmp(st, "08", 2) == 0 || strcmp(st, "40001") == 0 ||
           strcmp(st, "40P01") == 0 || strncmp(st, "57P0", 4) == 0 ||
           strcmp(st, "53300") == 0 || strcmp(st, "55P03") == 0;
}

/* Fill err from a failed result (or from the connection when res is NULL). */
static int pg_fail(struct sl_dest *d, const PGresult *res, struct sl_err *err,
                   const char *what)
{
    const char *st = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    const char *msg = res ? PQresultErrorMessage(res) : NULL;
    char clean[1024];

    if (!msg || !*msg)
        msg = PQerrorMessage(d->conn);
    snprintf(clean, sizeof clean, "%s", msg ? msg : "unknown error");
    for (size_t n = strlen(clean); n && (clean[n - 1] == '\n' || clean[n - 1] == ' '); n--)
        clean[n - 1] = '\0';
    if (transient_state(st) || PQstatus(d->conn) != CONNECTION_OK)
        sl_err_retry(err, SL_E_DEST, "%s: %s", what, clean);
    else
        sl_err_set(err, SL_E_DEST, "%s: %s", what, clean);
    snprintf(err->sqlstate, sizeof err->sqlstate, "%s", st ? st : "");
    return -1;
}

static int run(struct sl_dest *d, const char *sql, struct sl_err *err, const char *what)
{
    PGresult *res = PQexec(d->conn, sql);
    ExecStatusType s = PQresultStatus(res);
    if (s != PGRES_COMMAND_OK && s != PGRES_TUPLES_OK) {
        pg_fail(d, res, err, what);
        PQclear(res);
        return -1;
    }
    PQclear(res);
    return 0;
}

/* ---- identifiers (invariant 5: one quoting function) ---- */

static int quote_ident(struct sl_buf *b, const char *s, size_t n)
{
    sl_buf_putc(b, '"');
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '"')
            sl_buf_putc(b, '"');
        sl_buf_putc(b, s[i]);
    }
    return sl_buf_putc(b, '"');
}

/* "schema.table" -> "schema"."table"; "table" -> "table". */
static int quote_table(struct sl_buf *b, const char *name)
{
    const char *dot = strchr(name, '.');
    if (dot && dot != name && dot[1]) {
        quote_ident(b, name, (size_t)(dot - name));
        sl_buf_putc(b, '.');
        return quote_ident(b, dot + 1, strlen(dot + 1));
    }
    return quote_ident(b, name, strlen(name));
}

static char *quoted_table(const char *name)
{
    struct sl_buf b;
    sl_buf_init(&b);
    quote_table(&b, name);
    return b.oom ? (sl_buf_free(&b), NULL) : sl_buf_steal(&b);
}

/* ---- connection ---- */

static int pg_connect(struct sl_dest **out, const char *url, const char *password,
                      const char *base_dir, struct sl_err *err)
{
    (void)base_dir;
    struct sl_dest *d = sl_calloc(1, sizeof *d);
    if (!d)
        return sl_err_set(err, SL_E_NOMEM, "out of memory");
    const char *keys[] = {"dbname", "password", "application_name", NULL};
    const char *vals[] = {url, password, "sluice", NULL};
    if (!password) {
        keys[1] = "application_name";
        vals[1] = "sluice";
        keys[2] = NULL;
    }
    d->conn = PQconnectdbParams(keys, vals, 1);
    if (!d->conn || PQstatus(d->conn) != CONNECTION_OK) {
        char msg[1024];
        snprintf(msg, sizeof msg, "%s", d->conn ? PQerrorMessage(d->conn) : "out of memory");
        for (size_t n = strlen(msg); n && msg[n - 1] == '\n'; n--)
            msg[n - 1] = '\0';
        PQfinish(d->conn);
        sl_free(d);
        /* a server that is down or restarting is worth retrying */
        return sl_err_retry(err, SL_E_DEST, "could not connect to PostgreSQL: %s", msg);
    }
    PQsetNoticeProcessor(d->conn, NULL, NULL);
    sl_buf_init(&d->copybuf);
    struct sl_err e2;
    if (run(d, "SET client_min_messages = warning; SET datestyle = 'ISO'; SET timezone = 'UTC'",
            &e2, "could not set session") < 0) {
        *err = e2;
        PQfinish(d->conn);
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
    PQfinish(d->conn);
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
    if (PQstatus(d->conn) == CONNECTION_OK)
        return 0;
    PQreset(d->conn);
    if (PQstatus(d->conn) != CONNECTION_OK) {
        char msg[512];
        snprintf(msg, sizeof msg, "%s", PQerrorMessage(d->conn));
        for (size_t n = strlen(msg); n && msg[n - 1] == '\n'; n--)
            msg[n - 1] = '\0';
        return sl_err_retry(err, SL_E_DEST, "could not reconnect to PostgreSQL: %s", msg);
    }
    struct sl_err e2;
    return run(d, "SET client_min_messages = warning; SET datestyle = 'ISO'; SET timezone = 'UTC'",
               err ? err : &e2, "could not set session");
}

static const char *pg_meta_table(struct sl_dest *d, const char *name)
{
    int i;
    for (i = 0; i < NMETA && d->meta[i].name; i++)
        if (strcmp(d->meta[i].name, name) == 0)
            return d->meta[i].quoted;
    if (i == NMETA)
        return NULL;
    struct sl_buf b;
    sl_buf_init(&b);
    sl_buf_puts(&b, "\"_sluice\".");
    quote_ident(&b, name, strlen(name));
    if (b.oom) {
        sl_buf_free(&b);
        return NULL;
    }
    d->meta[i].name = sl_strdup(name);
    d->meta[i].quoted = sl_buf_steal(&b);
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
    "  started_at timestamptz, finished_at timestamptz, error text, report jsonb);"
    "CREATE INDEX IF NOT EXISTS batches_table_idx ON _sluice.batches (table_name, id);"
    "CREATE TABLE IF NOT EXISTS _sluice.files ("
    "  table_name text NOT NULL, content_hash text NOT NULL, name text, bytes bigint,"
    "  batch_id bigint, loaded_at timestamptz, PRIMARY KEY (table_name, content_hash));"
    "CREATE TABLE IF NOT EXISTS _sluice.cursors ("
    "  pipeline text NOT NULL, table_name text NOT NULL, value text, batch_id bigint,"
    "  updated_at timestamptz, PRIMARY KEY (pipeline, table_name));"
    "COMMIT;";

static int pg_ensure_meta(struct sl_dest *d, struct sl_err *err)
{
    if (ensure_connected(d, err) < 0)
        return -1;
    if (run(d, META_DDL, err, "could not create sluice's tables in schema _sluice") < 0) {
        run(d, "ROLLBACK", &(struct sl_err){0}, "rollback");
        return -1;
    }
    return 0;
}

static int pg_exec(struct sl_dest *d, const char *sql, int nparams, const char *const *params,
                   struct sl_rows *out, struct sl_err *err)
{
    PGresult *res = PQexecParams(d->conn, sql, nparams, NULL, params, NULL, NULL, 0);
    ExecStatusType s = PQresultStatus(res);
    if (s != PGRES_COMMAND_OK && s != PGRES_TUPLES_OK) {
        pg_fail(d, res, err, "query failed");
        PQclear(res);
        return -1;
    }
    if (out) {
        memset(out, 0, sizeof *out);
        size_t nr = (size_t)PQntuples(res), nc = (size_t)PQnfields(res);
        out->names = sl_calloc(nc ? nc : 1, sizeof(char *));
        out->cells = sl_calloc((nr * nc) > 0 ? nr * nc : 1, sizeof(char *));
        if (!out->names || !out->cells) {
            sl_rows_free(out);
            PQclear(res);
            return sl_err_set(err, SL_E_NOMEM, "out of memory");
        }
        out->ncols = nc;
        out->nrows = nr;
        for (size_t j = 0; j < nc; j++)
            out->names[j] = sl_strdup(PQfname(res, (int)j));
        for (size_t i = 0; i < nr; i++)
            for (size_t j = 0; j < nc; j++)
                if (!PQgetisnull(res, (int)i, (int)j))
                    out->cells[i * nc + j] = sl_strdup(PQgetvalue(res, (int)i, (int)j));
    }
    PQclear(res);
    return 0;
}

static int pg_begin(struct sl_dest *d, struct sl_err *err)
{
    if (ensure_connected(d, err) < 0)
        return -1;
    return run(d, "BEGIN", err, "could not begin transaction");
}

static int pg_commit(struct sl_dest *d, struct sl_err *err)
{
    return run(d, "COMMIT", err, "could not commit");
}

static void pg_rollback(struct sl_dest *d)
{
    struct sl_err e;
    if (d->loading && PQstatus(d->conn) == CONNECTION_OK &&
        PQtransactionStatus(d->conn) == PQTRANS_ACTIVE) {
        PQputCopyEnd(d->conn, "load aborted");
        PGresult *r;
        while ((r = PQgetResult(d->conn)))
            PQclear(r);
    }
    d->loading = 0;
    if (PQstatus(d->conn) == CONNECTION_OK && PQtransactionStatus(d->conn) != PQTRANS_IDLE)
        run(d, "ROLLBACK", &e, "rollback");
}

static int pg_lock_table(struct sl_dest *d, const char *table, struct sl_err *err)
{
    const char *p[] = {table};
    return pg_exec(d, "SELECT pg_advisory_xact_lock(hashtextextended('sluice:' || $1, 0))",
                   1, p, NULL, err);
}

/* ---- tables ---- */

static enum sl_type type_from_pg(const char *t)
{
    static const struct { const char *pg; enum sl_type t; } map[] = {
        {"bigint", SL_T_BIGINT}, {"integer", SL_T_BIGINT}, {"smallint", SL_T_BIGINT},
        {"numeric", SL_T_NUMERIC}, {"double precision", SL_T_DOUBLE}, {"real", SL_T_DOUBLE},
        {"boolean", SL_T_BOOL}, {"date", SL_T_DATE},
        {"timestamp with time zone", SL_T_TIMESTAMPTZ},
        {"timestamp without time zone", SL_T_TIMESTAMPTZ},
        {"jsonb", SL_T_JSON}, {"json", SL_T_JSON},
    };
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
        if (strncmp(t, map[i].pg, strlen(map[i].pg)) == 0)
            return map[i].t;
    return SL_T_TEXT;
}

static const char *type_to_pg(enum sl_type t)
{
    switch (t) {
    case SL_T_BOOL: return "boolean";
    case SL_T_BIGINT: return "bigint";
    case SL_T_NUMERIC: return "numeric";
    case SL_T_DOUBLE: return "double precision";
    case SL_T_DATE: return "date";
    case SL_T_TIMESTAMPTZ: return "timestamptz";
    case SL_T_JSON: return "jsonb";
    default: return "text";
    }
}

static const char DESCRIBE_SQL[] =
    "SELECT a.attname, format_type(a.atttypid, a.atttypmod)"
    "  FROM pg_attribute a"
    " WHERE a.attrelid = to_regclass($1) AND a.attnum > 0 AND NOT a.attisdropped"
    " ORDER BY a.attnum";

static int pg_describe(struct sl_dest *d, const char *table, struct sl_schema *out,
                       struct sl_err *err)
{
    char *q = quoted_table(table);
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
    if (!exists) {
        sl_free(q);
        return 0;
    }
    rc = pg_exec(d, DESCRIBE_SQL, 1, p, &rows, err);
    sl_free(q);
    if (rc < 0)
        return -1;
    for (size_t i = 0; i < rows.nrows; i++) {
        const char *name = sl_rows_get(&rows, i, 0);
        if (strcmp(name, "_sluice_batch") == 0)
            continue;
        if (sl_schema_add(out, name, type_from_pg(sl_rows_get(&rows, i, 1))) < 0) {
            sl_rows_free(&rows);
            sl_schema_free(out);
            return sl_err_set(err, SL_E_NOMEM, "out of memory");
        }
    }
    sl_rows_free(&rows);
    return 1;
}

static void col_list(struct sl_buf *b, const struct sl_schema *s, const char *prefix)
{
    for (size_t i = 0; i < s->ncols; i++) {
        if (i)
            sl_buf_puts(b, ", ");
        if (prefix)
            sl_buf_puts(b, prefix);
        quote_ident(b, s->cols[i].name, strlen(s->cols[i].name));
    }
}

static void name_list(struct sl_buf *b, const char *const *names, size_t n, const char *prefix)
{
    for (size_t i = 0; i < n; i++) {
        if (i)
            sl_buf_puts(b, ", ");
        if (prefix)
            sl_buf_puts(b, prefix);
        quote_ident(b, names[i], strlen(names[i]));
    }
}

/* CREATE TABLE <qname> (cols, _sluice_batch, PRIMARY KEY) */
static void create_sql(struct sl_buf *b, const char *qname, const struct sl_schema *s,
                       const char *const *pk, size_t npk, const char *extra)
{
    sl_buf_printf(b, "CREATE %sTABLE %s (", extra ? extra : "", qname);
    for (size_t i = 0; i < s->ncols; i++) {
        quote_ident(b, s->cols[i].name, strlen(s->cols[i].name));
        sl_buf_printf(b, " %s, ", type_to_pg(s->cols[i].type));
    }
    sl_buf_puts(b, "\"_sluice_batch\" bigint NOT NULL");
    if (npk) {
        sl_buf_puts(b, ", PRIMARY KEY (");
        name_list(b, pk, npk, NULL);
        sl_buf_putc(b, ')');
    }
    sl_buf_putc(b, ')');
}

static int pg_create_table(struct sl_dest *d, const char *table, const struct sl_schema *s,
                           const char *const *pk, size_t npk, struct sl_err *err)
{
    struct sl_buf b;
    char *q = quoted_table(table);
    sl_buf_init(&b);
    create_sql(&b, q, s, pk, npk, NULL);
    /* invariant 3: every row carries its batch; BRIN keeps rollback's lookup
     * cheap without slowing loads the way a btree would */
    sl_buf_printf(&b, "; CREATE INDEX ON %s USING brin (\"_sluice_batch\")", q);
    sl_free(q);
    int rc = b.oom ? sl_err_set(err, SL_E_NOMEM, "out of memory")
                   : run(d, b.data, err, "could not create table");
    if (rc < 0)
        sl_err_prefix(err, "table \"%s\"", table);
    sl_buf_free(&b);
    return rc;
}

static int pg_add_column(struct sl_dest *d, const char *table, const struct sl_column *c,
                         struct sl_err *err)
{
    struct sl_buf b;
    char *q = quoted_table(table);
    sl_buf_init(&b);
    sl_buf_printf(&b, "ALTER TABLE %s ADD COLUMN ", q);
    quote_ident(&b, c->name, strlen(c->name));
    sl_buf_printf(&b, " %s", type_to_pg(c->type));
    sl_free(q);
    int rc = run(d, b.data, err, "could not add column");
    if (rc < 0)
        sl_err_prefix(err, "table \"%s\", column \"%s\"", table, c->name);
    sl_buf_free(&b);
    return rc;
}

/* ---- loading ---- */

static void load_reset(struct sl_dest *d)
{
    d->loading = 0;
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

static int pg_load_begin(struct sl_dest *d, const struct sl_load *ld, struct sl_err *err)
{
    struct sl_buf sql;
    const char *copy_into;

    load_reset(d);
    d->ld = *ld;
    snprintf(d->batch_txt, sizeof d->batch_txt, "%lld", (long long)ld->batch_id);
    d->target_q = quoted_table(ld->table);
    sl_buf_init(&sql);

    if (ld->mode == SL_LOAD_VERSIONED) {
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
            quote_ident(&sql, ld->schema->cols[i].name, strlen(ld->schema->cols[i].name));
            sl_buf_printf(&sql, " %s, ", type_to_pg(ld->schema->cols[i].type));
        }
        sl_buf_puts(&sql, "\"_sluice_batch\" bigint, \"_sluice_ord\" bigint)");
        if (run(d, sql.data, err, "could not create staging table") < 0)
            goto fail;
        sl_buf_reset(&sql);
        copy_into = d->stage_q;
    } else if (ld->mode == SL_LOAD_SNAPSHOT) {
        d->new_name = snapshot_new_name(ld->table, ld->batch_id);
        d->stage_q = quoted_table(d->new_name);
        sl_buf_printf(&sql, "DROP TABLE IF EXISTS %s; ", d->stage_q);
        create_sql(&sql, d->stage_q, ld->target, ld->pk, ld->npk, NULL);
        if (run(d, sql.data, err, "could not create the snapshot's new table") < 0)
            goto fail;
        sl_buf_reset(&sql);
        copy_into = d->stage_q;
    } else {
        copy_into = d->target_q;
    }

    sl_buf_printf(&sql, "COPY %s (", copy_into);
    col_list(&sql, ld->schema, NULL);
    sl_buf_puts(&sql, ", \"_sluice_batch\"");
    if (ld->mode == SL_LOAD_VERSIONED)
        sl_buf_puts(&sql, ", \"_sluice_ord\"");
    sl_buf_puts(&sql, ") FROM STDIN");
    if (sql.oom) {
        sl_err_set(err, SL_E_NOMEM, "out of memory");
        goto fail;
    }
    PGresult *res = PQexec(d->conn, sql.data);
    if (PQresultStatus(res) != PGRES_COPY_IN) {
        pg_fail(d, res, err, "could not start COPY");
        PQclear(res);
        goto fail;
    }
    PQclear(res);
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
    if (PQputCopyData(d->conn, d->copybuf.data, (int)d->copybuf.len) != 1)
        return pg_fail(d, NULL, err, "could not send COPY data");
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

static int pg_load_row(struct sl_dest *d, const struct sl_cell *cells, struct sl_err *err)
{
    struct sl_buf *b = &d->copybuf;
    size_t n = d->ld.schema->ncols;

    for (size_t i = 0; i < n; i++) {
        if (cells[i].null)
            sl_buf_append(b, "\\N", 2);
        else
            copy_escape(b, cells[i].s, cells[i].n);
        sl_buf_putc(b, '\t');
    }
    sl_buf_puts(b, d->batch_txt);
    d->rows_in++;
    if (d->ld.mode == SL_LOAD_VERSIONED)
        sl_buf_printf(b, "\t%lld", (long long)d->rows_in);
    sl_buf_putc(b, '\n');
    if (b->oom)
        return sl_err_set(err, SL_E_NOMEM, "out of memory building COPY data");
    if (b->len >= COPY_FLUSH)
        return flush_copy(d, err);
    return 0;
}

static int64_t cmd_tuples(PGresult *res)
{
    const char *t = PQcmdTuples(res);
    return (t && *t) ? strtoll(t, NULL, 10) : 0;
}

static int merge_versioned(struct sl_dest *d, struct sl_load_result *r, struct sl_err *err)
{
    const struct sl_load *ld = &d->ld;
    struct sl_buf sql;
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
    quote_ident(&sql, ld->version_key, strlen(ld->version_key));
    sl_buf_printf(&sql, " DESC, \"_sluice_ord\" ON CONFLICT (%s) DO UPDATE SET ", d->pk_list);
    int first = 1;
    for (size_t i = 0; i < ld->schema->ncols; i++) {
        const char *c = ld->schema->cols[i].name;
        int is_pk = 0;
        for (size_t k = 0; k < ld->npk; k++)
            is_pk |= strcmp(ld->pk[k], c) == 0;
        if (is_pk)
            continue;
        if (!first)
            sl_buf_puts(&sql, ", ");
        first = 0;
        quote_ident(&sql, c, strlen(c));
        sl_buf_puts(&sql, " = EXCLUDED.");
        quote_ident(&sql, c, strlen(c));
    }
    if (!first)
        sl_buf_puts(&sql, ", ");
    sl_buf_puts(&sql, "\"_sluice_batch\" = EXCLUDED.\"_sluice_batch\" WHERE t.");
    quote_ident(&sql, ld->version_key, strlen(ld->version_key));
    sl_buf_puts(&sql, " < EXCLUDED.");
    quote_ident(&sql, ld->version_key, strlen(ld->version_key));
    sl_buf_printf(&sql, "; DROP TABLE %s", d->stage_q);
    if (sql.oom) {
        sl_buf_free(&sql);
        return sl_err_set(err, SL_E_NOMEM, "out of memory");
    }

    /* two statements: send separately to read the INSERT's row count */
    char *drop = strstr(sql.data, "; DROP TABLE ");
    *drop = '\0';
    PGresult *res = PQexec(d->conn, sql.data);
    if (PQresultStatus(res) != PGRES_COMMAND_OK) {
        pg_fail(d, res, err, "could not merge staged rows");
        PQclear(res);
        sl_buf_free(&sql);
        return -1;
    }
    r->rows_written = cmd_tuples(res);
    PQclear(res);
    int rc = run(d, drop + 2, err, "could not drop staging table");
    sl_buf_free(&sql);
    return rc;
}

static int swap_snapshot(struct sl_dest *d, struct sl_err *err)
{
    struct sl_buf sql;
    const char *dot = strchr(d->ld.table, '.');
    const char *bare = (dot && dot != d->ld.table && dot[1]) ? dot + 1 : d->ld.table;
    const char *newbare = strchr(d->new_name, '.') ? strchr(d->new_name, '.') + 1 : d->new_name;

    sl_buf_init(&sql);
    sl_buf_printf(&sql, "DROP TABLE %s; ALTER TABLE %s RENAME TO ", d->target_q, d->stage_q);
    quote_ident(&sql, bare, strlen(bare));
    if (d->ld.npk) {
        /* keep the primary key's name stable across swaps */
        char from[128], to[128];
        snprintf(from, sizeof from, "%s_pkey", newbare);
        snprintf(to, sizeof to, "%s_pkey", bare);
        sl_buf_printf(&sql, "; ALTER TABLE %s RENAME CONSTRAINT ", d->target_q);
        quote_ident(&sql, from, strlen(from));
        sl_buf_puts(&sql, " TO ");
        quote_ident(&sql, to, strlen(to));
    }
    sl_buf_printf(&sql, "; CREATE INDEX ON %s USING brin (\"_sluice_batch\")", d->target_q);
    int rc = sql.oom ? sl_err_set(err, SL_E_NOMEM, "out of memory")
                     : run(d, sql.data, err, "could not swap in the new snapshot");
    sl_buf_free(&sql);
    return rc;
}

static int pg_load_end(struct sl_dest *d, struct sl_load_result *r, struct sl_err *err)
{
    int rc = 0;
    memset(r, 0, sizeof *r);
    if (flush_copy(d, err) < 0)
        goto fail;
    if (PQputCopyEnd(d->conn, NULL) != 1) {
        pg_fail(d, NULL, err, "could not end COPY");
        goto fail;
    }
    PGresult *res = PQgetResult(d->conn);
    if (PQresultStatus(res) != PGRES_COMMAND_OK) {
        pg_fail(d, res, err, "COPY failed");
        PQclear(res);
        while ((res = PQgetResult(d->conn)))
            PQclear(res);
        goto fail;
    }
    PQclear(res);
    while ((res = PQgetResult(d->conn)))
        PQclear(res);
    d->loading = 0;
    r->rows_in = d->rows_in;
    r->rows_written = d->rows_in;

    if (d->ld.mode == SL_LOAD_VERSIONED)
        rc = merge_versioned(d, r, err);
    else if (d->ld.mode == SL_LOAD_SNAPSHOT)
        rc = swap_snapshot(d, err);
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

const struct sl_dest_ops sl_dest_postgres = {
    .kind = "postgres",
    .connect = pg_connect,
    .close = pg_close,
    .meta_table = pg_meta_table,
    .ensure_meta = pg_ensure_meta,
    .exec = pg_exec,
    .begin = pg_begin,
    .commit = pg_commit,
    .rollback = pg_rollback,
    .lock_table = pg_lock_table,
    .describe = pg_describe,
    .create_table = pg_create_table,
    .add_column = pg_add_column,
    .load_begin = pg_load_begin,
    .load_row = pg_load_row,
    .load_end = pg_load_end,
};
