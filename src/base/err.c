/* base/err.c: struct sl_err helpers (see err.h). */
#include "base/err.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "base/redact.h"

void sl_err_clear(struct sl_err *e)
{
    e->code = SL_E_NONE;
    e->cls = SL_OK;
    e->sqlstate[0] = '\0';
    e->msg[0] = '\0';
}

static int vset(struct sl_err *e, enum sl_errcode code, enum sl_errclass cls,
                const char *fmt, va_list ap)
{
    /* formatted whole first, redacted, then cut to the record: a URL cut
     * before its '@' would no longer look like one */
    char raw[4 * sizeof e->msg];

    e->code = code;
    e->cls = cls;
    vsnprintf(raw, sizeof raw, fmt, ap);
    /* every message may reach a log, a terminal or /api/status: a password
     * in it (a URL, libpq's echo of a conninfo) never leaves this record */
    sl_redact(raw, e->msg, sizeof e->msg);
    return -1;
}

int sl_err_set(struct sl_err *e, enum sl_errcode code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vset(e, code, SL_ERROR, fmt, ap);
    va_end(ap);
    e->sqlstate[0] = '\0';
    return -1;
}

int sl_err_nomem(struct sl_err *e)
{
    return sl_err_set(e, SL_E_NOMEM, "out of memory");
}

int sl_err_retry(struct sl_err *e, enum sl_errcode code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vset(e, code, SL_RETRY, fmt, ap);
    va_end(ap);
    return -1;
}

void sl_err_prefix(struct sl_err *e, const char *fmt, ...)
{
    char raw[2048], head[512];
    char old[sizeof e->msg];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(raw, sizeof raw, fmt, ap);
    va_end(ap);
    sl_redact(raw, head, sizeof head);
    memcpy(old, e->msg, sizeof old);
    size_t hl = strlen(head);
    if (hl + 2 >= sizeof e->msg)
        hl = sizeof e->msg - 3;
    memcpy(e->msg, head, hl);
    memcpy(e->msg + hl, ": ", 2);
    size_t room = sizeof e->msg - hl - 3;
    size_t ol = strnlen(old, room);
    memcpy(e->msg + hl + 2, old, ol);
    e->msg[hl + 2 + ol] = '\0';
}

int sl_err_exit_code(const struct sl_err *e)
{
    return (e->code == SL_E_USAGE || e->code == SL_E_CONFIG || e->code == SL_E_NOTFOUND) ? 2 : 1;
}
