/* obs/alert.h: alert webhooks (the `alerts:` list of the config).
 *
 * The engine (through its observer) calls sl_alert_send() when a batch is quarantined or fails, when
 * reconcile finds drift, when a table goes stale, and when the condition
 * clears (resolve = 1). Each configured webhook gets one JSON POST in its
 * format: generic, slack or pagerduty (Events API v2). This is the one place
 * that wraps libcurl. Delivery is retried with backoff and full jitter on
 * connection errors, timeouts, 5xx and 429; other 4xx answers are final. An
 * alert never blocks loading: the caller logs a failure and carries on.
 * Tuning (tests): SLUICE_ALERT_RETRIES (attempts, default 4),
 * SLUICE_ALERT_RETRY_BASE_MS (default 500), SLUICE_ALERT_TIMEOUT_MS (per
 * attempt, default 5000). */
#ifndef SL_ALERT_H
#define SL_ALERT_H

#include <stdint.h>

#include "engine/observer.h"
#include "model/config.h"
#include "base/err.h"


/* POST `a` to every webhook in c->alerts, one after the other. Returns 0 when
 * every one was delivered (2xx), -1 when any could not be: err (class
 * SL_ERROR, code SL_E_IO) names each failed webhook as "alert #N (format,
 * scheme://host:port)" with the reason (HTTP status and the start of the
 * reply, or the connection error) and the attempts made. Webhook URLs can be
 * secrets (Slack's are), so their path and query are never shown. With no
 * alerts configured it does nothing and returns 0. Thread-safe. */
int sl_alert_send(const struct sl_config *c, const struct sl_alert *a, struct sl_err *err);

/* The JSON body sl_alert_send POSTs to webhook `w`. Returns text the caller
 * frees with sl_free, or NULL with err set (unknown format, no event, out of
 * memory). */
char *sl_alert_payload(const struct sl_alert_cfg *w, const struct sl_alert *a,
                       struct sl_err *err);

/* Release libcurl's global state. Call once at exit after the last send
 * (main.c); a send after it fails with an error. Harmless when nothing was
 * ever sent. */
void sl_alert_shutdown(void);

#endif
