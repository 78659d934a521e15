/* obs/observer.c: see observer.h. */
#include "obs/observer.h"

#include "obs/alert.h"
#include "obs/metrics.h"
#include "obs/progress.h"

const struct sl_observer sl_obs_observer = {
    .batch = sl_metrics_batch,
    .gate_failed = sl_metrics_gate_failed,
    .retry = sl_metrics_retry,
    .lock_wait = sl_metrics_lock_wait,
    .dead_letter = sl_metrics_dead_letter,
    .running = sl_metrics_running,
    .error = sl_metrics_error,
    .alert = sl_alert_send,
    .progress_begin = sl_progress_begin,
    .progress_tick = sl_progress_tick,
    .progress_end = sl_progress_end,
};
