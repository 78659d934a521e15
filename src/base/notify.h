/* base/notify.h: telling the service manager how the daemon stands, through
 * libsystemd's sd_notify (a unit of Type=notify): READY=1 once it serves,
 * RELOADING=1 and READY=1 around a reload, WATCHDOG=1 while it is alive,
 * STOPPING=1, STATUS=<one line>. Run by anything else (no NOTIFY_SOCKET),
 * every call does nothing. This file is the one user of libsystemd. */
#ifndef SL_NOTIFY_H
#define SL_NOTIFY_H

/* Send one notification ("READY=1\nSTATUS=..."), printf-style. A failure
 * to send is logged once, never fatal: the daemon works without it. */
void sl_notify(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Seconds within which the service manager wants WATCHDOG=1 again
 * (WATCHDOG_USEC, for this process), 0 when it watches none. */
double sl_notify_watchdog(void);

#endif
