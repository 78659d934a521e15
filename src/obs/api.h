/* obs/api.h: the admin routes `sluice daemon` serves (cli/daemon.c registers
 * them on its net/http.h server):
 *
 *   GET  /                              the dashboard (obs/dashboard.html)
 *   GET  /metrics                       Prometheus text (obs/metrics.h)
 *   GET  /api/status                    obs/status.h's document, live
 *   GET  /api/batches?pipeline=&table=&state=&limit=    the ledger: token
 *   POST /api/batches/{id}/approve | reject | rollback  token
 *   GET  /healthz                       "ok"
 *
 * What shows data values (the ledger's gate examples and errors) and the
 * actions take `Authorization: Bearer <http.token>` (401 without it, 403
 * when the config has no token); /api/status shows last_error only with
 * it. Actions take optional arguments, in the query or a JSON body: note (approve/reject), cascade (rollback), pipeline and table
 * (which batch, when two destinations have the same id). One action runs at
 * a time. */
#ifndef SL_API_H
#define SL_API_H

#include <pthread.h>

#include "model/config.h"
#include "base/value.h"
#include "net/http.h"
#include "obs/status.h"

struct sl_api {
    const struct sl_config *c;
    struct sl_dbpool *pool;     /* reads */
    sl_usec since;              /* daemon start, for staleness */
    pthread_mutex_t action_mu;  /* sl_api_init / sl_api_destroy */
};

void sl_api_init(struct sl_api *a, const struct sl_config *c, struct sl_dbpool *pool,
                 sl_usec since);
void sl_api_destroy(struct sl_api *a);
/* Returns -1 when out of memory. */
int sl_api_register(struct sl_http *s, struct sl_api *a);

/* The dashboard page, built into the binary from obs/dashboard.html. */
extern const unsigned char sl_dashboard_html[];
extern const unsigned long sl_dashboard_html_len;

#endif
