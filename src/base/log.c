/* base/log.c: log lines (see log.h). */
#include "base/log.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/hash.h"
#include "base/redact.h"
#include "base/value.h"

static int log_json;
static enum sl_log_level log_level = SL_LOG_INFO;
static pthread_mutex_t log_mu = PTHREAD_MUTEX_INITIALIZER;
static char status_line[512];    /* shown below the log lines; "" = none */

void sl_log_set_format(int json)
{
    log_json = json;
}

void sl_log_set_level(enum sl_log_level l)
{
    log_level = l;
}

static const char *level_name(enum sl_log_level l)
{
    switch (l) {
    case SL_LOG_DEBUG: return "debug";
    case SL_LOG_INFO: return "info";
    case SL_LOG_WARN: return "warning";
    default: return "error";
    }
}

/* C1 controls (U+0085 is a newline to some readers) and the Unicode line and
 * paragraph separators end a line as surely as \n does */
static int breaks_line(unsigned cp)
{
    return (cp >= 0x80 && cp <= 0x9F) || cp == 0x2028 || cp == 0x2029;
}

/* Write `s` to f so that it stays inside its line: control characters (C0,
 * DEL, C1, U+2028/9) and bytes that are not UTF-8 are escaped, \n as "\n",
 * others as "\xNN" / "\uNNNN"; with `json`, as a JSON string literal with
 * JSON's escapes (and U+FFFD for a byte that is not UTF-8). A table name or
 * a file name holding a newline cannot forge a log line. */
static void put_escaped(FILE *f, const char *s, int json)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t n = strlen(s), run = 0, i = 0;

    if (json)
        fputc('"', f);
    while (i < n) {
        unsigned c = p[i], cp = 0;
        size_t len = 1;
        char esc[12];
        if (c >= 0x20 && c < 0x7F && !(json && (c == '"' || c == '\\'))) {
            i++;
            continue;
        }
        if (c >= 0x80) {
            len = sl_utf8_decode(p + i, n - i, &cp);
            if (len && !breaks_line(cp)) {
                i += len;
                continue;
            }
        }
        fwrite(p + run, 1, i - run, f);
        if (c == '\n' || c == '\r' || c == '\t' || (json && (c == '"' || c == '\\' ||
                                                             c == '\b' || c == '\f')))
            snprintf(esc, sizeof esc, "\\%c", c == '\n' ? 'n' : c == '\r' ? 'r' : c == '\t' ? 't'
                                                 : c == '\b' ? 'b' : c == '\f' ? 'f' : (int)c);
        else if (c < 0x80)
            snprintf(esc, sizeof esc, json ? "\\u%04x" : "\\x%02x", c);
        else if (len)
            snprintf(esc, sizeof esc, "\\u%04x", cp);
        else
            snprintf(esc, sizeof esc, json ? "\\ufffd" : "\\x%02x", c);
        fputs(esc, f);
        i += len ? len : 1;
        run = i;
    }
    fwrite(p + run, 1, n - run, f);
    if (json)
        fputc('"', f);
}

void sl_log(enum sl_log_level l, const struct sl_log_ctx *ctx, const char *fmt, ...)
{
    char raw[16384], msg[4096], ts[32];     /* raw: whole before it is redacted, then cut */
    va_list ap;

    if (l < log_level)
        return;
    va_start(ap, fmt);
    vsnprintf(raw, sizeof raw, fmt, ap);
    va_end(ap);
    sl_redact(raw, msg, sizeof msg);    /* the last line of defence for passwords */
    sl_time_format(sl_time_now(), ts);
    ts[19] = 'Z';   /* seconds are enough in logs */
    ts[20] = '\0';

    pthread_mutex_lock(&log_mu);
    if (status_line[0])
        fputs("\r\033[K", stderr);
    if (log_json) {
        fprintf(stderr, "{\"ts\":\"%s\",\"level\":\"%s\"", ts, level_name(l));
        if (ctx && ctx->pipeline) {
            fputs(",\"pipeline\":", stderr);
            put_escaped(stderr, ctx->pipeline, 1);
        }
        if (ctx && ctx->table) {
            fputs(",\"table\":", stderr);
            put_escaped(stderr, ctx->table, 1);
        }
        if (ctx && ctx->batch)
            fprintf(stderr, ",\"batch\":%lld", (long long)ctx->batch);
        fputs(",\"msg\":", stderr);
        put_escaped(stderr, msg, 1);
        fputs("}\n", stderr);
    } else {
        fprintf(stderr, "%s %s", ts, level_name(l));
        if (ctx && ctx->pipeline) {
            fputs(" pipeline=", stderr);
            put_escaped(stderr, ctx->pipeline, 0);
        }
        if (ctx && ctx->table) {
            fputs(" table=", stderr);
            put_escaped(stderr, ctx->table, 0);
        }
        if (ctx && ctx->batch)
            fprintf(stderr, " batch=%lld", (long long)ctx->batch);
        fputs(": ", stderr);
        put_escaped(stderr, msg, 0);
        fputc('\n', stderr);
    }
    if (status_line[0])
        put_escaped(stderr, status_line, 0);
    fflush(stderr);
    pthread_mutex_unlock(&log_mu);
}

void sl_log_status_line(const char *text)
{
    pthread_mutex_lock(&log_mu);
    if (text && text[0]) {
        snprintf(status_line, sizeof status_line, "%s", text);
        fputs("\r\033[K", stderr);
        put_escaped(stderr, status_line, 0);
    } else if (status_line[0]) {
        status_line[0] = '\0';
        fputs("\r\033[K", stderr);
    }
    fflush(stderr);
    pthread_mutex_unlock(&log_mu);
}

void sl_log_once(enum sl_log_level l, const struct sl_log_ctx *ctx, const char *key,
                 const char *fmt, ...)
{
    static pthread_mutex_t once_mu = PTHREAD_MUTEX_INITIALIZER;
    static uint64_t seen[1024];
    static size_t nseen;
    uint64_t h = sl_fnv1a64_str(SL_FNV1A64_SLUICE_INIT, key);
    char msg[4096];
    va_list ap;
    int first = 1;

    pthread_mutex_lock(&once_mu);
    for (size_t i = 0; i < nseen && first; i++)
        first = seen[i] != h;
    if (first)
        seen[nseen++ % 1024] = h;
    if (nseen > 1024)
        nseen = 1024;
    pthread_mutex_unlock(&once_mu);
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    sl_log(first ? l : SL_LOG_DEBUG, ctx, "%s", msg);
}
