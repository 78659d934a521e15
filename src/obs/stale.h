/* obs/stale.h: the daemon's watch on freshness. A thread marks a table
 * stale (sluice_table_stale) when no batch committed within its pipeline's
 * `stale_after`, alerts once, and sends the resolve when one loads again.
 * It looks a few times per stale_after (at least every second). */
#ifndef SL_STALE_H
#define SL_STALE_H

#include "base/err.h"
#include "base/value.h"
#include "model/config.h"

struct sl_stale_watch;

/* `since`: when the daemon started (a table never loaded is stale from
 * then). `c` must outlive the watch. */
int sl_stale_watch_start(const struct sl_config *c, sl_usec since, struct sl_stale_watch **out,
                         struct sl_err *err);
/* Stop the thread, wait for it, free `w`. */
void sl_stale_watch_stop(struct sl_stale_watch *w);

#endif
