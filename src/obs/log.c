/* obs/log.c: log lines (see log.h). */
#include "obs/log.h"

#include <jansson.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/value.h"

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

void sl_log(enum sl_log_level l, const struct sl_log_ctx *ctx, const char *fmt, ...)
{
    char msg[4096], ts[32];
    va_list ap;

    if (l < log_level)
        return;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    sl_time_format(sl_time_now(), ts);
    ts[19] = 'Z';   /* seconds are enough in logs */
    ts[20] = '\0';

    pthread_mutex_lock(&log_mu);
    if (status_line[0])
        fputs("\r\033[K", stderr);
    if (log_json) {
        json_t *o = json_object();
        json_object_set_new(o, "ts", json_string(ts));
        json_object_set_new(o, "level", json_string(level_name(l)));
        if (ctx && ctx->pipeline)
            json_object_set_new(o, "pipeline", json_string(ctx->pipeline));
        if (ctx && ctx->table)
            json_object_set_new(o, "table", json_string(ctx->table));
        if (ctx && ctx->batch)
            json_object_set_new(o, "batch", json_integer(ctx->batch));
        json_object_set_new(o, "msg", json_string(msg));
        char *s = json_dumps(o, JSON_COMPACT);
        if (s) {
            fprintf(stderr, "%s\n", s);
            free(s);
        }
        json_decref(o);
    } else {
        fprintf(stderr, "%s %s", ts, level_name(l));
        if (ctx && ctx->pipeline)
            fprintf(stderr, " pipeline=%s", ctx->pipeline);
        if (ctx && ctx->table)
            fprintf(stderr, " table=%s", ctx->table);
        if (ctx && ctx->batch)
            fprintf(stderr, " batch=%lld", (long long)ctx->batch);
        fprintf(stderr, ": %s\n", msg);
    }
    if (status_line[0])
        fputs(status_line, stderr);
    fflush(stderr);
    pthread_mutex_unlock(&log_mu);
}

void sl_log_status_line(const char *text)
{
    pthread_mutex_lock(&log_mu);
    if (text && text[0]) {
        snprintf(status_line, sizeof status_line, "%s", text);
        fprintf(stderr, "\r\033[K%s", status_line);
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
    uint64_t h = 1469598103934665603ULL;
    char msg[4096];
    va_list ap;
    int first = 1;

    for (const char *p = key; *p; p++)
        h = (h ^ (unsigned char)*p) * 1099511628211ULL;
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
