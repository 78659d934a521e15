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

/* What the routes read: a config and connections to its destinations. A
 * reload swaps in another; a request keeps the one it started with. */
struct sl_api_view {
    const struct sl_config *c;
    struct sl_dbpool *pool;     /* reads; the view's own */
    int refs;                   /* requests using it */
    struct sl_api_view *next;   /* retired views, kept while used */
};

struct sl_api {
    pthread_mutex_t mu;         /* cur, retired, refs */
    struct sl_api_view *cur;
    struct sl_api_view *retired;
    sl_usec since;              /* daemon start, for staleness */
    pthread_mutex_t action_mu;  /* one action at a time */
};

/* Serve config `c` with `pool` (the api owns it from now on: it frees it).
 * Returns -1 when out of memory (pool freed). */
int sl_api_init(struct sl_api *a, const struct sl_config *c, struct sl_dbpool *pool,
                sl_usec since);
/* From the next request on, serve `c` with `pool` (owned, as above); the
 * requests under way finish with the config they had. -1: out of memory
 * (the old config stays, pool freed). */
int sl_api_swap(struct sl_api *a, const struct sl_config *c, struct sl_dbpool *pool);
/* Free the retired views no request uses; then 1 while a view of `c` is
 * served or used, else 0 (the caller may free c). */
int sl_api_uses(struct sl_api *a, const struct sl_config *c);
/* Once the server is stopped: frees every view and its pool. */
void sl_api_destroy(struct sl_api *a);
/* Returns -1 when out of memory. */
int sl_api_register(struct sl_http *s, struct sl_api *a);

/* The dashboard page, built into the binary from obs/dashboard.html. */
extern const unsigned char sl_dashboard_html[];
extern const unsigned long sl_dashboard_html_len;

#endif
