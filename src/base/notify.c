/* base/notify.c: see notify.h. */
#include "base/notify.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <systemd/sd-daemon.h>

#include "base/log.h"

static atomic_int warned;

void sl_notify(const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    /* 0: NOTIFY_SOCKET unset (not run by systemd); > 0: sent */
    int rc = sd_notify(0, msg);
    if (rc < 0 && !atomic_exchange(&warned, 1))
        sl_log(SL_LOG_WARN, NULL, "could not notify the service manager (NOTIFY_SOCKET): %s",
               strerror(-rc));
}

double sl_notify_watchdog(void)
{
    uint64_t usec = 0;
    int rc = sd_watchdog_enabled(0, &usec);
    if (rc < 0)
        sl_log(SL_LOG_WARN, NULL, "WATCHDOG_USEC or WATCHDOG_PID is not understood: %s;"
               " no watchdog pings", strerror(-rc));
    return rc > 0 ? (double)usec / 1e6 : 0;
}
