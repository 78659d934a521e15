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
 * logged and reported to the observer (engine/observer.h).
 *
 * A reload (the daemon's SIGHUP) swaps in a new config: the pipelines it
 * keeps go on as they are; the others are stopped after the batch each is
 * loading (a stop scope of their own, base/stop.h), and once all of those
 * have ended, the new config's pipelines not kept start. The daemon's loop
 * calls sl_scheduler_tick() to move that along. */
#ifndef SL_SCHEDULER_H
#define SL_SCHEDULER_H

#include "base/err.h"
#include "model/config.h"

struct sl_scheduler;

/* Start a thread per pipeline of `c`, which must outlive them
 * (sl_scheduler_uses). */
int sl_scheduler_start(const struct sl_config *c, double poll, struct sl_scheduler **out,
                       struct sl_err *err);
/* Swap in config `c`: keep[i] set means pipeline i of `c` is the running
 * pipeline of that name as it is (config/config.h, sl_config_pipeline_same),
 * and it goes on; every other running pipeline is asked to stop after its
 * batch in flight, and the pipelines of `c` not kept start once those have
 * ended (sl_scheduler_tick). The log says which is which. */
void sl_scheduler_reload(struct sl_scheduler *s, const struct sl_config *c, const int *keep);
/* Reap the pipelines that have ended since a reload and, once none is left
 * stopping, start the reload's new ones. Returns how many are still
 * stopping (0: no reload under way), or -1 with err when a thread could not
 * start (the others run). Takes the scheduler's lock: it answers only while
 * the scheduler is not stuck (the daemon's watchdog ping rests on it). */
int sl_scheduler_tick(struct sl_scheduler *s, struct sl_err *err);
/* 1 while a pipeline thread (running, stopping or about to start) uses
 * config `c`, else 0. */
int sl_scheduler_uses(struct sl_scheduler *s, const struct sl_config *c);
/* Stop: no new batch starts (sl_stop()), each pipeline finishes the batch
 * it is loading; returns once every thread has ended, and frees `s`. */
void sl_scheduler_stop(struct sl_scheduler *s);

#endif
