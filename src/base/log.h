/* base/log.h: one event a line on stderr, text or JSON, each with pipeline,
 * table and batch when known. */
#ifndef SL_LOG_H
#define SL_LOG_H

#include <stdint.h>

enum sl_log_level { SL_LOG_DEBUG, SL_LOG_INFO, SL_LOG_WARN, SL_LOG_ERROR };

struct sl_log_ctx {
    const char *pipeline;
    const char *table;
    int64_t batch;      /* 0 = none */
};

void sl_log_set_format(int json);
void sl_log_set_level(enum sl_log_level l);
void sl_log(enum sl_log_level l, const struct sl_log_ctx *ctx, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* sl_log at `l` the first time this process logs `key`, at debug level
 * after: for conditions a daemon meets on every poll (a drop folder not
 * there yet, a file still being written). Remembers up to 1024 keys. */
void sl_log_once(enum sl_log_level l, const struct sl_log_ctx *ctx, const char *key,
                 const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* A transient line kept at the bottom of stderr (progress on a terminal):
 * log lines are printed above it and it is drawn again below them. Replaces
 * the previous one; NULL or "" removes it. Only for a terminal: the caller
 * decides (isatty). */
void sl_log_status_line(const char *text);

#endif
