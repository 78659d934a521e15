/* obs/slots.h: the daemon's watch on the replication slots of its cdc
 * pipelines. A slot keeps every byte of WAL from its restart_lsn on, so a
 * slot whose stream has stopped (a held batch, a failing warehouse, a
 * daemon that is gone) keeps the source's WAL until its disk is full. A
 * thread looks at each cdc pipeline's slot every 10 s (SLUICE_SLOT_POLL_MS),
 * each time on a short connection of its own, never the stream's, so
 * neither waits for the other. What it sees goes to obs/metrics.h (and from
 * there /metrics, /api/status, the dashboard); past the pipeline's
 * max_retained or max_lag it alerts once (events slot_retained, slot_lag)
 * and sends the resolve when the slot is back under. */
#ifndef SL_SLOTS_H
#define SL_SLOTS_H

#include "base/err.h"
#include "base/value.h"
#include "model/config.h"
#include "sources/source.h"

/* The lag of one slot, from one look to the next: the age of the oldest
 * change not yet confirmed can only be seen from outside as the time the
 * slot's confirmed_flush_lsn has stood still with WAL past it. */
struct sl_slot_lag {
    char confirmed[24];     /* the position seen standing still */
    sl_usec since;          /* first seen standing there with WAL past it; 0 = not */
};
/* Seconds the slot has stood still with WAL past its confirmed position,
 * as of look `s` at `now`: 0 when nothing is past it, on the first look
 * that sees it stand, and whenever it moved since the look before. */
double sl_slot_lag_update(struct sl_slot_lag *l, const struct sl_slot_state *s, sl_usec now);

struct sl_slot_watch;

/* Starts the thread when `c` has a cdc pipeline (*out NULL otherwise, not
 * an error). `c` must outlive the watch. */
int sl_slot_watch_start(const struct sl_config *c, struct sl_slot_watch **out,
                        struct sl_err *err);
/* Stop the thread, wait for it, free `w` (NULL: nothing). */
void sl_slot_watch_stop(struct sl_slot_watch *w);

#endif
