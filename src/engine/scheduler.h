/* engine/scheduler.h: `sluice daemon`'s clock. One thread per pipeline runs
 * it on its schedule (`schedule: every 5m`); a pipeline without one is
 * polled every `poll` seconds, which for a files pipeline means its drop
 * folder is watched. Pipelines run in parallel; the tables of one pipeline
 * one after the other, as `sluice run`. An event source (http collector,
 * jetstream consumer) is not polled: its thread serves it (ops->serve, with
 * the engine's sink) until the stop, and serves it again after a pause when
 * it could not (address in use, NATS or the destination down). A pipeline
 * with `reconcile: { every }` has a thread of its own that compares its
 * tables with the source at start and then every `every`. Failures are
 * logged and reported to the observer (engine/observer.h). */
#ifndef SL_SCHEDULER_H
#define SL_SCHEDULER_H

#include "base/err.h"
#include "model/config.h"

struct sl_scheduler;

/* Start the threads. `c` must outlive the scheduler. */
int sl_scheduler_start(const struct sl_config *c, double poll, struct sl_scheduler **out,
                       struct sl_err *err);
/* Stop: no new batch starts (sl_stop()), each pipeline finishes the batch
 * it is loading; returns once every thread has ended, and frees `s`. */
void sl_scheduler_stop(struct sl_scheduler *s);

#endif
