/* engine/observer.h: what the engine reports, and to whom.
 *
 * The engine never calls obs/ (metrics, alerts, the progress line): it
 * tells an observer, a struct of callbacks that obs/ fills in
 * (sl_obs_observer) and the CLI installs once with sl_observe() before any
 * engine call. Without one, reports go nowhere. Callbacks may be NULL and
 * are called from the engine's worker threads, so they must be thread-safe. */
#ifndef SL_OBSERVER_H
#define SL_OBSERVER_H

#include <stdint.h>
#include <time.h>

#include "base/err.h"
#include "model/config.h"

struct sl_stream;

/* How a batch ended, for the batch counters. */
enum sl_batch_outcome {
    SL_MB_COMMITTED = 0,
    SL_MB_DUPLICATE,
    SL_MB_QUARANTINED,
    SL_MB_FAILED,       /* bad input, or a gate that fails the batch */
    SL_MB_DEFERRED,     /* transient failure outlasted its retries */
    SL_MB_REJECTED,
    SL_MB_ROLLED_BACK,
    SL_MB__COUNT
};

/* Something people should hear about now (a webhook's business). */
struct sl_alert {
    const char *event;          /* "quarantined", "failed", "drift", "stale", "released" */
    int resolve;                /* 1 = the condition cleared; send it with the event that
                                 * fired, so PagerDuty's dedup key matches */
    const char *pipeline;       /* may be NULL */
    const char *table;          /* may be NULL */
    int64_t batch;              /* 0 = none */
    const char *summary;        /* one line; may be NULL */
    const char *details_json;   /* JSON object text (e.g. the gate report) or NULL; sent
                                 * as written, so numbers keep their digits */
};

/* One pass over a batch (reading its types, loading it), counted by the
 * engine record by record; `on` says whether anyone draws it. The fields
 * after `st` belong to the observer. */
struct sl_progress {
    int on;
    const char *pipeline, *table, *ref, *phase;
    uint64_t rows;
    uint64_t total;             /* input bytes as stored; 0 = unknown */
    const struct sl_stream *st; /* where bytes done are read; may be NULL */
    struct timespec t0, last;
    int shown;
    char part[200];
    char full[400];
};

struct sl_observer {
    /* A batch ended. rows/bytes count only for SL_MB_COMMITTED; `seconds`
     * < 0: no duration to record. */
    void (*batch)(const char *pipeline, const char *table, enum sl_batch_outcome o,
                  int64_t rows, uint64_t bytes, double seconds);
    /* Gates that did not pass, as the engine lists them: "size, rules". */
    void (*gate_failed)(const char *pipeline, const char *table, const char *gates);
    void (*retry)(const char *pipeline, const char *table);
    /* A batch gave up waiting for a lock on its table (a reader held it). */
    void (*lock_wait)(const char *pipeline, const char *table);
    void (*dead_letter)(const char *pipeline, const char *table, int64_t n);
    void (*running)(const char *pipeline, const char *table, int running);
    /* A runtime failure of the table (NULL clears it). */
    void (*error)(const char *pipeline, const char *table, const char *msg);
    /* Deliver `a` to c's alerts; -1 with err when one could not be. */
    int (*alert)(const struct sl_config *c, const struct sl_alert *a, struct sl_err *err);
    /* A pass begins (p->on may be set), goes on (every 4096 records), ends. */
    void (*progress_begin)(struct sl_progress *p);
    void (*progress_tick)(struct sl_progress *p);
    void (*progress_end)(struct sl_progress *p);
};

/* Install `o` (not copied; NULL = report nothing). Once, before the engine
 * runs. */
void sl_observe(const struct sl_observer *o);
const struct sl_observer *sl_observer(void);

/* ---- the engine's side: each is a no-op without an observer ---- */
void sl_report_batch(const char *pipeline, const char *table, enum sl_batch_outcome o,
                     int64_t rows, uint64_t bytes, double seconds);
void sl_report_gate_failed(const char *pipeline, const char *table, const char *gates);
void sl_report_retry(const char *pipeline, const char *table);
void sl_report_lock_wait(const char *pipeline, const char *table);
void sl_report_dead_letter(const char *pipeline, const char *table, int64_t n);
void sl_report_running(const char *pipeline, const char *table, int running);
void sl_report_error(const char *pipeline, const char *table, const char *msg);
/* 0 when there is nothing to send or it was delivered. */
int sl_report_alert(const struct sl_config *c, const struct sl_alert *a, struct sl_err *err);
void sl_report_progress_begin(struct sl_progress *p, const char *pipeline, const char *table,
                              const char *ref, const char *phase, uint64_t total,
                              const struct sl_stream *st);
void sl_report_progress_tick(struct sl_progress *p);
static inline void sl_report_progress_row(struct sl_progress *p)
{
    if ((++p->rows & 4095) == 0 && p->on)
        sl_report_progress_tick(p);
}
void sl_report_progress_end(struct sl_progress *p);

#endif
