/* base/stop.h: the process's request to stop (`sluice daemon` on SIGTERM).
 * Whoever loops (the engine between batches, an event source between
 * requests, the scheduler) asks sl_stopping() and finishes what it holds. */
#ifndef SL_STOP_H
#define SL_STOP_H

/* For good: there is no undo. Async-signal-safe. */
void sl_stop(void);
int sl_stopping(void);

#endif
