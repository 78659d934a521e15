/* base/redact.h: passwords kept out of every text sluice prints, logs or
 * serves.
 *
 * sl_redact() is the one filter. Error messages are redacted when they are
 * formed (base/err.c), libpq's text in sl_pg_message (pg/pg.c), every
 * log line in base/log.c, and what /api/status serves in obs/status.c; `sluice
 * check` prints connection URLs through it. It replaces with "***":
 *   - the password of a URL's user info:   postgresql://u:***@h/db
 *   - the value of any key ending in "password" (password, sslpassword; also
 *     percent-encoded, any case) in a URL query or a libpq key=value string:
 *     ?password=***&sslmode=require, host=h password='***'
 *   - every secret registered with sl_redact_add() wherever it appears: libpq
 *     echoes a bare value in some errors ("invalid percent-encoded token").
 * The config loader registers each connection's passwords and tokens. */
#ifndef SL_REDACT_H
#define SL_REDACT_H

#include <stddef.h>

/* Secrets shorter than this are only hidden where they stand as a password
 * (the shapes above): replacing every "abc" in every log line would make the
 * logs unreadable. */
#define SL_REDACT_MIN_SECRET 4

/* Copy `in` to `out` (at most cap bytes, always terminated) with every
 * password replaced by "***". `out` must not overlap `in`. */
void sl_redact(const char *in, char *out, size_t cap);

/* Remember `secret` (copied) so that sl_redact hides it wherever it appears.
 * NULL, empty, short (< SL_REDACT_MIN_SECRET) and known secrets are ignored.
 * Returns -1 only when out of memory. Thread-safe. */
int sl_redact_add(const char *secret);

/* Register every password a connection string holds: a URL's user-info
 * password, each password-like query parameter, or the password of a libpq
 * key=value string; as written and percent-decoded / unquoted. Works on
 * malformed strings too (that is when libpq echoes them). */
int sl_redact_add_conninfo(const char *conninfo);

/* Forget every registered secret (tests; the process keeps them otherwise). */
void sl_redact_forget(void);

#endif
