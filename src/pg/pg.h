/* pg/pg.h: the one libpq wrapper, shared by the PostgreSQL destination
 * (destinations/pg.c) and the PostgreSQL source (sources/postgres.c):
 * connecting, running SQL with bound parameters (docs/invariants.md #5),
 * results as sl_rows, and what a failure means (SQLSTATE classes), so both
 * talk to PostgreSQL and classify its errors alike. Quoting is in
 * pg/quote.h, type names in pg/types.h, the SQL dialect in pg/dialect.h.
 * COPY stays with its two users (binary COPY in, text COPY out). */
#ifndef SL_PG_H
#define SL_PG_H

#include <stddef.h>
#include <stdint.h>

#include <libpq-fe.h>

#include "base/err.h"
#include "model/schema.h"

/* 1 when SQLSTATE `st` is worth a retry: connection exceptions (08),
 * serialization failure and deadlock, admin shutdown / crash recovery (57P0x),
 * insufficient resources (53: disk full, out of memory, too many
 * connections), system errors (58: I/O error), lock not available. */
int sl_pg_transient(const char *st);

/* 1 when a failed call is worth a retry on a new connection: its SQLSTATE
 * says so, the connection is gone, or the failure has no SQLSTATE at all.
 * The server gives every error it sends a SQLSTATE; one without was made
 * by libpq itself, which means the connection broke (a server killed mid-COPY
 * can leave libpq's status OK while its result says "server closed the
 * connection unexpectedly") or memory ran out. `res` may be NULL. */
int sl_pg_failure_transient(const PGconn *conn, const PGresult *res);

/* The failure's message without libpq's trailing newline, passwords
 * redacted (base/redact.h): from `res` when it has one, else from `conn`
 * (which may be NULL). */
void sl_pg_message(const PGconn *conn, const PGresult *res, char *out, size_t cap);

/* 0 when libpq can parse `conninfo` (a URL or key=value string), else -1
 * with libpq's reason, passwords redacted, in `why`. Nothing is connected. */
int sl_pg_conninfo_check(const char *conninfo, char *why, size_t cap);

/* ---- a connection ---- */

/* A connection and how its failures read. */
struct sl_pg {
    PGconn *conn;               /* NULL = not connected */
    enum sl_errcode code;       /* SL_E_DEST or SL_E_SOURCE */
    const char *where;          /* said before every failure's message ("source \"crm\",
                                 * table t"), or NULL; borrowed */
};

/* Connect pg->conn to `url` (a URL or key=value conninfo) as application
 * `app`, with `password` and `connect_timeout` (seconds) unless NULL;
 * notices are dropped. -1 when it failed: pg->conn is NULL and `why` holds
 * libpq's message (one line, no final newline). Sets no session settings. */
int sl_pg_connect(struct sl_pg *pg, const char *url, const char *password, const char *app,
                  const char *connect_timeout, char *why, size_t cap);
void sl_pg_close(struct sl_pg *pg);

/* Fill err from a failed call ("<where>: <what>: <message>"), SL_RETRY when
 * sl_pg_failure_transient, the SQLSTATE kept in err->sqlstate. `res` may
 * be NULL: then the connection's message. Returns -1. */
int sl_pg_fail(const struct sl_pg *pg, const PGresult *res, struct sl_err *err,
               const char *what);

/* Run `sql` (no parameters; several statements allowed). */
int sl_pg_run(struct sl_pg *pg, const char *sql, struct sl_err *err, const char *what);
/* The same; when it ran, *rows = the rows its (last) command inserted,
 * updated, deleted or selected into a table. */
int sl_pg_run_count(struct sl_pg *pg, const char *sql, int64_t *rows, struct sl_err *err,
                    const char *what);
/* Run `sql` with n text parameters $1..$n (NULL = SQL NULL). *out gets the
 * result (PQclear it) unless out is NULL. */
int sl_pg_query(struct sl_pg *pg, const char *sql, int n, const char *const *params,
                PGresult **out, struct sl_err *err, const char *what);
/* sl_pg_query with the rows as text in *out (sl_rows_free it; out may be
 * NULL). */
int sl_pg_exec(struct sl_pg *pg, const char *sql, int n, const char *const *params,
               struct sl_rows *out, struct sl_err *err, const char *what);
/* The first cell of a query with at most one parameter, copied into *out
 * (sl_free it; NULL when no row or SQL NULL). */
int sl_pg_value(struct sl_pg *pg, const char *sql, const char *param, char **out,
                struct sl_err *err);

/* A result's rows as text (NULL cells NULL); -1 = out of memory. */
int sl_pg_rows(const PGresult *res, struct sl_rows *out);
/* Rows a command inserted, updated, deleted or copied (0 when it says none). */
int64_t sl_pg_cmd_tuples(const PGresult *res);

#endif
