/* pg/pg.h: what a libpq failure means, shared by the PostgreSQL
 * destination and the PostgreSQL source so both classify errors alike. */
#ifndef SL_PGERR_H
#define SL_PGERR_H

#include <stddef.h>

#include <libpq-fe.h>

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

#endif
