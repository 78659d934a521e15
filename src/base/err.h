/* base/err.h: the one error record every fallible function fills.
 *
 * Functions that can fail return int (0 ok, -1 error) and fill a caller-owned
 * struct sl_err. The class says what the engine does next: SL_RETRY is
 * transient (connection lost, serialization failure, server restart) and the
 * engine's one retry loop retries it with backoff; SL_ERROR is final for the
 * batch. Messages follow PostgreSQL's style: lower case, no final period,
 * and they say where: "drops/orders/b.csv:4:9: unterminated quoted field". */
#ifndef SL_ERR_H
#define SL_ERR_H

#include <stddef.h>

enum sl_errclass {
    SL_OK = 0,
    SL_RETRY = 1,   /* transient: try again after backoff */
    SL_ERROR = 2,   /* final for this batch */
};

/* what kind of failure, for exit codes and reports */
enum sl_errcode {
    SL_E_NONE = 0,
    SL_E_USAGE,     /* bad command line: exit 2 */
    SL_E_CONFIG,    /* bad config file: exit 2 */
    SL_E_INPUT,     /* malformed input data: batch fails, exit 1 */
    SL_E_IO,        /* file system */
    SL_E_DEST,      /* destination database */
    SL_E_SOURCE,    /* source database or service */
    SL_E_NOMEM,
    SL_E_INTERNAL,
    SL_E_STATE,     /* the thing is not in a state that allows the action: exit 1 */
    SL_E_NOTFOUND,  /* no such batch, table, snapshot: exit 2 */
    SL_E_LOCK,      /* a lock not granted in time (a reader holds the table): retried */
};

struct sl_err {
    enum sl_errcode code;
    enum sl_errclass cls;
    char sqlstate[6];       /* kept from libpq when the failure came from PostgreSQL */
    char msg[2048];
};

void sl_err_clear(struct sl_err *e);

/* Set code and message (printf-style); class SL_ERROR. Always returns -1 so
 * callers can write `return sl_err_set(err, ...)`. */
int sl_err_set(struct sl_err *e, enum sl_errcode code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* "out of memory" (SL_E_NOMEM); returns -1. Where the caller can say more
 * (which file, which line) a wrapper of its layer says it:
 * sl_yaml_nomem, sl_format_nomem. */
int sl_err_nomem(struct sl_err *e);

/* Same as sl_err_set but marks the error transient. */
int sl_err_retry(struct sl_err *e, enum sl_errcode code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Put context in front of an existing message: "loading orders: <old msg>". */
void sl_err_prefix(struct sl_err *e, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* The exit status a command returns for this error (1 or 2). */
int sl_err_exit_code(const struct sl_err *e);

#endif
