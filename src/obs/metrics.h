/* obs/metrics.h: what the engine has done, per pipeline and table, in
 * memory, for `GET /metrics` (Prometheus text exposition format 0.0.4) and
 * for the live part of the status (obs/status.c): which table is loading
 * right now, when it last loaded, its last runtime error.
 *
 * The engine (engine/pipeline.c) counts batches where they end; the daemon
 * declares every table of its config first so each series exists at 0.
 * One process-wide registry behind one mutex: every call is thread-safe and
 * cheap (a short lookup), and none is made per row.
 *
 * Series (labels pipeline, table):
 *   sluice_rows_loaded_total, sluice_bytes_loaded_total          counters
 *   sluice_batches_total{state}        committed duplicate quarantined failed
 *                                      deferred rejected rolled_back
 *   sluice_gate_failures_total{gate}, sluice_retries_total,
 *   sluice_lock_waits_total, sluice_dead_letters_total           counters
 *   sluice_lag_seconds, sluice_last_load_timestamp_seconds       gauges (once loaded)
 *   sluice_table_running, sluice_table_stale                     gauges 0/1
 *   sluice_batch_duration_seconds                                histogram
 * and per cdc pipeline (labels pipeline, slot), once its slot has been
 * looked at (obs/slots.h):
 *   sluice_cdc_slot_retained_bytes, sluice_cdc_slot_unconfirmed_bytes,
 *   sluice_cdc_slot_lag_seconds, sluice_cdc_slot_active          gauges */
#ifndef SL_METRICS_H
#define SL_METRICS_H

#include <stdint.h>

#include "engine/observer.h"
#include "model/config.h"
#include "base/value.h"
#include "sources/source.h"

/* Declare every table of `c` (and the gates each has), so that its series
 * are exposed at 0 before anything happens. */
void sl_metrics_declare(const struct sl_config *c);

/* A batch ended. rows/bytes count only for SL_MB_COMMITTED; `seconds` < 0
 * leaves the duration histogram alone. Committed also sets the last load
 * time to now and clears the table's runtime error. */
void sl_metrics_batch(const char *pipeline, const char *table, enum sl_batch_outcome o,
                      int64_t rows, uint64_t bytes, double seconds);
/* Gates that did not pass, as the engine lists them: "size, rules". */
void sl_metrics_gate_failed(const char *pipeline, const char *table, const char *gates);
void sl_metrics_retry(const char *pipeline, const char *table);
/* A batch gave up waiting for a lock on its table (a reader held it). */
void sl_metrics_lock_wait(const char *pipeline, const char *table);
void sl_metrics_dead_letter(const char *pipeline, const char *table, int64_t n);
void sl_metrics_running(const char *pipeline, const char *table, int running);
void sl_metrics_stale(const char *pipeline, const char *table, int stale);
/* The time of the newest committed batch, as the ledger says (daemon start). */
void sl_metrics_seed_loaded(const char *pipeline, const char *table, sl_usec when);
/* A runtime failure of the table (NULL clears it): what the ledger cannot
 * say, e.g. the destination is unreachable or a failure was deferred. */
void sl_metrics_error(const char *pipeline, const char *table, const char *msg);

struct sl_metrics_live {
    int known;              /* the table has an entry at all */
    int running;
    int stale;
    sl_usec last_loaded;    /* 0 = not known */
    char last_error[512];   /* "" = none */
};
void sl_metrics_live(const char *pipeline, const char *table, struct sl_metrics_live *out);

/* What the daemon's slot watch last saw of a cdc pipeline's slot. */
struct sl_metrics_slot {
    struct sl_slot_state state; /* pub_tables left empty */
    int seen;                   /* a look answered at least once */
    sl_usec looked_at;          /* the last look, answered or not; 0 = none yet */
    double lag_seconds;         /* obs/slots.h's measure; -1 = not known */
    int retained_over, lag_over;    /* past max_retained / max_lag: alerting */
    char error[512];            /* why the last look got no answer; "" = it did */
};
void sl_metrics_slot_set(const char *pipeline, const struct sl_metrics_slot *s);
/* 1 with *out filled when the watch has looked at `pipeline`'s slot, else 0. */
int sl_metrics_slot_get(const char *pipeline, struct sl_metrics_slot *out);

/* The exposition text; sl_free it. NULL when out of memory. */
char *sl_metrics_render(void);

/* Forget the series of the pipelines and tables `c` has not (after a
 * reload that removed them, once their threads have ended). */
void sl_metrics_forget_others(const struct sl_config *c);

/* Forget everything (tests). */
void sl_metrics_reset(void);

#endif
