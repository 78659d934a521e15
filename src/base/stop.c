/* base/stop.c: see stop.h. */
#include "base/stop.h"

#include <stdatomic.h>

static atomic_int stopping;

void sl_stop(void)
{
    atomic_store(&stopping, 1);
}

int sl_stopping(void)
{
    return atomic_load(&stopping);
}
