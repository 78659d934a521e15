/* base/stop.c: see stop.h. */
#include "base/stop.h"

#include <stddef.h>

static atomic_int stopping;
static _Thread_local struct sl_stop_scope *scope;

void sl_stop(void)
{
    atomic_store(&stopping, 1);
}

int sl_stopping(void)
{
    return atomic_load(&stopping) || (scope && atomic_load(&scope->stop));
}

void sl_stop_scope_enter(struct sl_stop_scope *s)
{
    scope = s;
}

struct sl_stop_scope *sl_stop_scope_current(void)
{
    return scope;
}

void sl_stop_scope_stop(struct sl_stop_scope *s)
{
    atomic_store(&s->stop, 1);
}
