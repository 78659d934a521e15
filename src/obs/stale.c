/* obs/stale.c: see stale.h. */
#include "obs/stale.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "base/log.h"
#include "base/mem.h"
#include "obs/alert.h"
#include "obs/metrics.h"
#include "obs/status.h"

struct sl_stale_watch {
    const struct sl_config *c;
    sl_usec since;
    double tick;
    pthread_t th;
    pthread_mutex_t mu;
    pthread_cond_t cv;      /* CLOCK_MONOTONIC; signalled on stop */
    int stop;
};

/* One table's turn: mark, alert once, resolve when a batch loads again. */
static void check_table(const struct sl_stale_watch *w, const struct sl_pipeline_cfg *p,
                        const char *t, sl_usec now)
{
    struct sl_metrics_live live;
    sl_metrics_live(p->name, t, &live);
    int stale = sl_status_stale(p, live.last_loaded, w->since, now);
    if (stale == live.stale)
        return;
    sl_metrics_stale(p->name, t, stale);
    struct sl_log_ctx lc = {p->name, t, 0};
    char summary[512], when[32] = "never";
    if (live.last_loaded)
        sl_time_format(live.last_loaded, when);
    if (stale)
        snprintf(summary, sizeof summary,
                 "%s/%s is stale: no batch committed for over %.0f s (stale_after);"
                 " last load: %s", p->name, t, p->stale_after, when);
    else
        snprintf(summary, sizeof summary, "%s/%s is loading again (batch committed at %s)",
                 p->name, t, when);
    sl_log(stale ? SL_LOG_WARN : SL_LOG_INFO, &lc, "%s", summary);
    struct sl_alert a = {"stale", !stale, p->name, t, 0, summary, NULL};
    struct sl_err aerr;
    sl_err_clear(&aerr);
    if (w->c->nalerts && sl_alert_send(w->c, &a, &aerr) < 0)
        sl_log(SL_LOG_WARN, &lc, "alert not delivered: %s", aerr.msg);
}

static void check_all(const struct sl_stale_watch *w)
{
    sl_usec now = sl_time_now();
    for (size_t i = 0; i < w->c->npipelines; i++) {
        const struct sl_pipeline_cfg *p = &w->c->pipelines[i];
        for (size_t k = 0; p->stale_after > 0 && k < p->ntables; k++)
            check_table(w, p, p->tables[k].name, now);
    }
}

static void *watch(void *arg)
{
    struct sl_stale_watch *w = arg;
    pthread_mutex_lock(&w->mu);
    while (!w->stop) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        ts.tv_sec += (time_t)w->tick;
        ts.tv_nsec += (long)((w->tick - (double)(time_t)w->tick) * 1e9);
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&w->cv, &w->mu, &ts);
        if (w->stop)
            break;
        pthread_mutex_unlock(&w->mu);
        check_all(w);
        pthread_mutex_lock(&w->mu);
    }
    pthread_mutex_unlock(&w->mu);
    return NULL;
}

int sl_stale_watch_start(const struct sl_config *c, sl_usec since, struct sl_stale_watch **out,
                         struct sl_err *err)
{
    struct sl_stale_watch *w = sl_calloc(1, sizeof *w);
    *out = NULL;
    if (!w)
        return sl_err_set(err, SL_E_NOMEM, "out of memory");
    w->c = c;
    w->since = since;
    w->tick = 1.0;
    for (size_t i = 0; i < c->npipelines; i++)
        if (c->pipelines[i].stale_after > 0 && c->pipelines[i].stale_after / 4 < w->tick)
            w->tick = c->pipelines[i].stale_after / 4;
    if (w->tick < 0.1)
        w->tick = 0.1;
    pthread_mutex_init(&w->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&w->cv, &ca);
    pthread_condattr_destroy(&ca);
    if (pthread_create(&w->th, NULL, watch, w) != 0) {
        pthread_cond_destroy(&w->cv);
        pthread_mutex_destroy(&w->mu);
        sl_free(w);
        return sl_err_set(err, SL_E_INTERNAL, "could not start the staleness watch");
    }
    *out = w;
    return 0;
}

void sl_stale_watch_stop(struct sl_stale_watch *w)
{
    if (!w)
        return;
    pthread_mutex_lock(&w->mu);
    w->stop = 1;
    pthread_cond_broadcast(&w->cv);
    pthread_mutex_unlock(&w->mu);
    pthread_join(w->th, NULL);
    pthread_cond_destroy(&w->cv);
    pthread_mutex_destroy(&w->mu);
    sl_free(w);
}
