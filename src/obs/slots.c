/* obs/slots.c: see slots.h. */
#include "obs/slots.h"

#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/log.h"
#include "base/mem.h"
#include "obs/alert.h"
#include "obs/metrics.h"

#define DEFAULT_LOOK_MS 10000

double sl_slot_lag_update(struct sl_slot_lag *l, const struct sl_slot_state *s, sl_usec now)
{
    if (!s->exists || !s->confirmed[0] || s->unconfirmed_bytes <= 0) {
        l->since = 0;
        snprintf(l->confirmed, sizeof l->confirmed, "%s", s->confirmed);
        return 0;
    }
    if (!l->since || strcmp(l->confirmed, s->confirmed) != 0) {
        l->since = now;
        snprintf(l->confirmed, sizeof l->confirmed, "%s", s->confirmed);
        return 0;
    }
    return now > l->since ? (double)(now - l->since) / 1e6 : 0;
}

/* One cdc pipeline: what the looks before this one left. */
struct watched {
    const struct sl_pipeline_cfg *p;
    struct sl_slot_lag lag;
    struct sl_metrics_slot last;
};

struct sl_slot_watch {
    const struct sl_config *c;
    struct watched *w;
    size_t n;
    double every;           /* seconds between looks */
    pthread_t th;
    pthread_mutex_t mu;
    pthread_cond_t cv;      /* CLOCK_MONOTONIC; signalled on stop */
    int stop;
};

static void lag_text(double s, char *out, size_t cap)
{
    if (s < 120)
        snprintf(out, cap, "%.0f s", s);
    else if (s < 7200)
        snprintf(out, cap, "%.0f min", s / 60);
    else
        snprintf(out, cap, "%.1f h", s / 3600);
}

static void notify(const struct sl_slot_watch *sw, const struct watched *x, const char *event,
                 int resolve, const char *summary)
{
    const struct sl_metrics_slot *m = &x->last;
    struct sl_log_ctx lc = {x->p->name, NULL, 0};
    sl_log(resolve ? SL_LOG_INFO : SL_LOG_WARN, &lc, "%s", summary);
    if (!sw->c->nalerts)
        return;
    json_t *d = json_pack("{s:s,s:I,s:I,s:f,s:I,s:f,s:b,s:I}", "slot", m->state.slot,
                          "retained_bytes", (json_int_t)m->state.retained_bytes,
                          "unconfirmed_bytes", (json_int_t)m->state.unconfirmed_bytes,
                          "lag_seconds", m->lag_seconds,
                          "max_retained_bytes", (json_int_t)m->state.max_retained,
                          "max_lag_seconds", m->state.max_lag, "active", m->state.active,
                          "active_pid", (json_int_t)m->state.active_pid);
    char *details = d ? json_dumps(d, JSON_COMPACT) : NULL;
    json_decref(d);
    struct sl_alert a = {event, resolve, x->p->name, NULL, 0, summary, details};
    struct sl_err aerr;
    sl_err_clear(&aerr);
    if (sl_alert_send(sw->c, &a, &aerr) < 0)
        sl_log(SL_LOG_WARN, &lc, "alert not delivered: %s", aerr.msg);
    free(details);
}

/* Past a limit: alert once; back under it: resolve. */
static void judge(const struct sl_slot_watch *sw, struct watched *x, int was_retained,
                  int was_lag)
{
    struct sl_metrics_slot *m = &x->last;
    const struct sl_slot_state *s = &m->state;
    char kept[32], limit[32], lag[32], maxlag[32], unconf[32], who[256];
    sl_size_pretty(s->retained_bytes, kept, sizeof kept);
    sl_size_text(s->max_retained, limit, sizeof limit);
    sl_size_pretty(s->unconfirmed_bytes, unconf, sizeof unconf);
    lag_text(m->lag_seconds, lag, sizeof lag);
    lag_text(s->max_lag, maxlag, sizeof maxlag);
    if (s->active)
        snprintf(who, sizeof who, "server process %ld streams it", s->active_pid);
    else
        snprintf(who, sizeof who, "nothing streams it");
    char summary[1024];

    m->retained_over = s->max_retained > 0 && s->exists && s->retained_bytes > s->max_retained;
    if (m->retained_over && !was_retained) {
        snprintf(summary, sizeof summary, "replication slot %s keeps %s of WAL on the source"
                 " (max_retained %s; %s): WAL the slot keeps stays on the source's disk until"
                 " the slot moves on or is dropped; `sluice cdc status %s %s` shows it,"
                 " `sluice cdc drop %s %s` drops a slot of a pipeline retired", s->slot, kept,
                 limit, who, sw->c->path, x->p->name, sw->c->path, x->p->name);
        notify(sw, x, "slot_retained", 0, summary);
    } else if (!m->retained_over && was_retained) {
        snprintf(summary, sizeof summary, "replication slot %s is back under max_retained %s:"
                 " it keeps %s of WAL", s->slot, limit, s->exists ? kept : "none (it is gone)");
        notify(sw, x, "slot_retained", 1, summary);
    }
    m->lag_over = s->max_lag > 0 && s->exists && m->lag_seconds > s->max_lag;
    if (m->lag_over && !was_lag) {
        snprintf(summary, sizeof summary, "replication slot %s has confirmed nothing for %s"
                 " while %s of WAL waits past it (max_lag %s; %s)", s->slot, lag, unconf,
                 maxlag, who);
        notify(sw, x, "slot_lag", 0, summary);
    } else if (!m->lag_over && was_lag) {
        snprintf(summary, sizeof summary, "replication slot %s is back under max_lag %s: %s"
                 " not confirmed", s->slot, maxlag, s->exists ? unconf : "none (it is gone)");
        notify(sw, x, "slot_lag", 1, summary);
    }
}

static void look(struct sl_slot_watch *sw, struct watched *x)
{
    const struct sl_pipeline_cfg *p = x->p;
    struct sl_log_ctx lc = {p->name, NULL, 0};
    struct sl_slot_state st;
    struct sl_err err;
    sl_err_clear(&err);
    int rc = p->source_ops->slot_state(sw->c, p, 0, 5, &st, &err);
    sl_usec now = sl_time_now();
    struct sl_metrics_slot *m = &x->last;
    int was_retained = m->retained_over, was_lag = m->lag_over;
    m->looked_at = now;
    if (rc < 0) {
        /* the figures of the last answer stay, the alerts as they were */
        if (!m->error[0])
            sl_log(SL_LOG_WARN, &lc, "could not look at the replication slot: %s", err.msg);
        snprintf(m->error, sizeof m->error, "%.500s", err.msg);
        if (!m->seen) {
            m->state = st;      /* its name and limits: the config's */
            memset(&st.pub_tables, 0, sizeof st.pub_tables);
        }
        sl_slot_state_free(&st);
        sl_metrics_slot_set(p->name, m);
        return;
    }
    if (m->error[0])
        sl_log(SL_LOG_INFO, &lc, "the replication slot can be looked at again");
    m->error[0] = '\0';
    m->state = st;
    memset(&st.pub_tables, 0, sizeof st.pub_tables);
    sl_slot_state_free(&st);
    m->seen = 1;
    m->lag_seconds = sl_slot_lag_update(&x->lag, &m->state, now);
    judge(sw, x, was_retained, was_lag);
    sl_metrics_slot_set(p->name, m);
}

static void *watch(void *arg)
{
    struct sl_slot_watch *sw = arg;
    pthread_mutex_lock(&sw->mu);
    while (!sw->stop) {
        pthread_mutex_unlock(&sw->mu);
        for (size_t i = 0; i < sw->n; i++)
            look(sw, &sw->w[i]);
        pthread_mutex_lock(&sw->mu);
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        ts.tv_sec += (time_t)sw->every;
        ts.tv_nsec += (long)((sw->every - (double)(time_t)sw->every) * 1e9);
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        while (!sw->stop && pthread_cond_timedwait(&sw->cv, &sw->mu, &ts) == 0)
            ;
    }
    pthread_mutex_unlock(&sw->mu);
    return NULL;
}

int sl_slot_watch_start(const struct sl_config *c, struct sl_slot_watch **out,
                        struct sl_err *err)
{
    *out = NULL;
    size_t n = 0;
    for (size_t i = 0; i < c->npipelines; i++)
        n += c->pipelines[i].source_ops->slot_state != NULL;
    if (!n)
        return 0;
    struct sl_slot_watch *sw = sl_calloc(1, sizeof *sw);
    if (!sw || !(sw->w = sl_calloc(n, sizeof *sw->w))) {
        sl_free(sw);
        return sl_err_set(err, SL_E_NOMEM, "out of memory");
    }
    sw->c = c;
    for (size_t i = 0; i < c->npipelines; i++)
        if (c->pipelines[i].source_ops->slot_state) {
            sw->w[sw->n].p = &c->pipelines[i];
            sw->w[sw->n].last.lag_seconds = -1;
            sw->n++;
        }
    const char *ms = getenv("SLUICE_SLOT_POLL_MS");
    double every = ms && *ms ? strtod(ms, NULL) : DEFAULT_LOOK_MS;
    sw->every = (every >= 100 ? every : 100) / 1000;
    pthread_mutex_init(&sw->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&sw->cv, &ca);
    pthread_condattr_destroy(&ca);
    if (pthread_create(&sw->th, NULL, watch, sw) != 0) {
        pthread_cond_destroy(&sw->cv);
        pthread_mutex_destroy(&sw->mu);
        sl_free(sw->w);
        sl_free(sw);
        return sl_err_set(err, SL_E_INTERNAL, "could not start the replication slot watch");
    }
    *out = sw;
    return 0;
}

void sl_slot_watch_stop(struct sl_slot_watch *sw)
{
    if (!sw)
        return;
    pthread_mutex_lock(&sw->mu);
    sw->stop = 1;
    pthread_cond_broadcast(&sw->cv);
    pthread_mutex_unlock(&sw->mu);
    pthread_join(sw->th, NULL);
    pthread_cond_destroy(&sw->cv);
    pthread_mutex_destroy(&sw->mu);
    sl_free(sw->w);
    sl_free(sw);
}
