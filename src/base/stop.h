/* base/stop.h: requests to stop. The process's (`sluice daemon` on SIGTERM)
 * stops everything; a scope's stops the threads working for it, as the
 * daemon stops one pipeline whose config a reload changed while the others
 * go on. Whoever loops (the engine between batches, an event source between
 * requests, the scheduler) asks sl_stopping() and finishes what it holds.
 *
 * A thread belongs to the scope it entered (sl_stop_scope_enter); a thread
 * it starts for the same work enters the same one (sl_stop_scope_current
 * before pthread_create, enter in the new thread). */
#ifndef SL_STOP_H
#define SL_STOP_H

#include <stdatomic.h>

/* The process's: for good, there is no undo. Async-signal-safe. */
void sl_stop(void);
/* 1 when the process or the calling thread's scope is asked to stop. */
int sl_stopping(void);

struct sl_stop_scope {
    atomic_int stop;
};
/* The calling thread belongs to `s` from now on (NULL: to none). */
void sl_stop_scope_enter(struct sl_stop_scope *s);
struct sl_stop_scope *sl_stop_scope_current(void);
/* Ask the threads of scope `s` to stop; for good. */
void sl_stop_scope_stop(struct sl_stop_scope *s);

#endif
