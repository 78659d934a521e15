/* engine/scheduler.c: see scheduler.h. */
#include "engine/scheduler.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "base/log.h"
#include "base/mem.h"
#include "base/stop.h"
#include "engine/observer.h"
#include "engine/pipeline.h"
#include "engine/reconcile.h"
#include "sources/source.h"

struct worker {
    struct sl_scheduler *s;
    const struct sl_pipeline_cfg *p;
    pthread_t th;
    int started;
    pthread_t rth;      /* reconcile: { every }, on its own clock */
    int rstarted;
    int failing;        /* its last run failed as a whole: its tables carry the error */
};

struct sl_scheduler {
    const struct sl_config *c;
    pthread_mutex_t mu;
    pthread_cond_t cv;  /* CLOCK_MONOTONIC; signalled on stop */
    int stop;
    double poll;        /* seconds between runs of an unscheduled pipeline */
    struct worker *workers;
};

static double mono_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Sleep until monotonic time `until` or the stop; returns 1 when stopping. */
static int wait_until(struct sl_scheduler *s, double until)
{
    pthread_mutex_lock(&s->mu);
    while (!s->stop) {
        double now = mono_now();
        if (now >= until)
            break;
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        double left = until - now;
        ts.tv_sec += (time_t)left;
        ts.tv_nsec += (long)((left - (double)(time_t)left) * 1e9);
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&s->cv, &s->mu, &ts);
    }
    int stop = s->stop;
    pthread_mutex_unlock(&s->mu);
    return stop;
}

static void report_tables_error(const struct sl_pipeline_cfg *p, const char *msg)
{
    for (size_t k = 0; k < p->ntables; k++)
        sl_report_error(p->name, p->tables[k].name, msg);
}

/* A source that takes batches as they come serves until the stop; when it
 * cannot, it is tried again after a pause (doubling, at most 30 s). */
static void serve_pipeline(struct worker *w)
{
    const struct sl_pipeline_cfg *p = w->p;
    struct sl_log_ctx lc = {p->name, NULL, 0};
    double pause = 1.0;

    while (!sl_stopping()) {
        struct sl_err err;
        sl_err_clear(&err);
        if (p->source_ops->serve(w->s->c, p, &sl_pipeline_sink, &err) == 0)
            continue;
        sl_log(SL_LOG_ERROR, &lc, "%s; trying again in %.0f s", err.msg, pause);
        report_tables_error(p, err.msg);
        if (wait_until(w->s, mono_now() + pause))
            break;
        pause = pause < 30 ? pause * 2 : 30;
    }
}

/* `reconcile: { every }`: compare each table with its source; drift is
 * logged and alerted (by sl_reconcile_table), never repaired unasked. */
static void reconcile_tables(const struct sl_scheduler *s, const struct sl_pipeline_cfg *p)
{
    for (size_t k = 0; k < p->ntables && !sl_stopping(); k++) {
        struct sl_reconcile_opts o = {0, 1};
        struct sl_reconcile_result r;
        struct sl_err err;
        struct sl_log_ctx lc = {p->name, p->tables[k].name, 0};
        memset(&r, 0, sizeof r);
        sl_err_clear(&err);
        if (sl_reconcile_table(s->c, p, &p->tables[k], &o, &r, &err) < 0)
            sl_log(SL_LOG_WARN, &lc, "reconcile could not run: %s", err.msg);
        else if (sl_reconcile_drift(&r))
            sl_log(SL_LOG_WARN, &lc,
                   "reconcile: %zu missing, %zu extra, %zu different rows; "
                   "`sluice reconcile --repair` re-syncs them",
                   r.missing.total, r.extra.total, r.different.total);
        else
            sl_log(SL_LOG_INFO, &lc, "reconcile: in sync (%" PRId64 " rows)", r.source_rows);
        sl_reconcile_result_free(&r);
    }
}

/* Its own clock, not the loads': first at start, then every `every` from
 * there (a comparison that overran starts the next one at once). */
static void *reconcile_loop(void *arg)
{
    struct worker *w = arg;
    double next = mono_now();
    for (;;) {
        reconcile_tables(w->s, w->p);
        next += w->p->reconcile_every;
        if (next < mono_now())
            next = mono_now();
        if (wait_until(w->s, next))
            break;
    }
    return NULL;
}

/* One run of the pipeline: a failure as a whole marks its tables failing
 * until a run goes through. */
static void run_once(struct worker *w, double interval)
{
    const struct sl_pipeline_cfg *p = w->p;
    struct sl_log_ctx lc = {p->name, NULL, 0};
    struct sl_run_stats st = {0};
    struct sl_err err;
    sl_err_clear(&err);
    if (sl_pipeline_run(w->s->c, p, &st, &err) < 0) {
        if (!sl_stopping())
            sl_log(SL_LOG_ERROR, &lc, "run failed, next attempt in %.0f s: %s", interval,
                   err.msg);
        report_tables_error(p, err.msg);
        w->failing = 1;
    } else if (w->failing && st.failed == 0 && st.deferred == 0) {
        report_tables_error(p, NULL);
        w->failing = 0;
    }
    if (st.committed || st.failed || st.deferred || st.duplicates || st.waiting ||
        st.not_run || st.stopped) {
        char summary[1024];
        sl_run_stats_text(&st, summary, sizeof summary);
        sl_log(SL_LOG_DEBUG, &lc, "%s", summary);
    }
}

static void *run_pipeline(void *arg)
{
    struct worker *w = arg;
    double interval = w->p->every > 0 ? w->p->every : w->s->poll;

    if (w->p->source_ops->serve) {
        serve_pipeline(w);
        return NULL;
    }
    for (;;) {
        double start = mono_now();
        run_once(w, interval);
        if (wait_until(w->s, start + interval))
            break;
    }
    return NULL;
}

int sl_scheduler_start(const struct sl_config *c, double poll, struct sl_scheduler **out,
                       struct sl_err *err)
{
    struct sl_scheduler *s = sl_calloc(1, sizeof *s);
    *out = NULL;
    if (!s || !(s->workers = sl_calloc(c->npipelines ? c->npipelines : 1, sizeof *s->workers))) {
        sl_free(s);
        return sl_err_set(err, SL_E_NOMEM, "out of memory");
    }
    s->c = c;
    s->poll = poll;
    pthread_mutex_init(&s->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&s->cv, &ca);
    pthread_condattr_destroy(&ca);
    *out = s;
    for (size_t i = 0; i < c->npipelines; i++) {
        struct worker *w = &s->workers[i];
        w->s = s;
        w->p = &c->pipelines[i];
        int e = pthread_create(&w->th, NULL, run_pipeline, w);
        if (e)
            return sl_err_set(err, SL_E_INTERNAL, "could not start a thread for pipeline"
                              " \"%s\": %s", w->p->name, strerror(e));
        w->started = 1;
        if (w->p->reconcile_every > 0 && w->p->source_ops->sql) {
            if ((e = pthread_create(&w->rth, NULL, reconcile_loop, w)) != 0)
                return sl_err_set(err, SL_E_INTERNAL, "could not start the reconcile thread"
                                  " of pipeline \"%s\": %s", w->p->name, strerror(e));
            w->rstarted = 1;
        }
    }
    return 0;
}

void sl_scheduler_stop(struct sl_scheduler *s)
{
    if (!s)
        return;
    sl_stop();
    pthread_mutex_lock(&s->mu);
    s->stop = 1;
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
    for (size_t i = 0; i < s->c->npipelines; i++)
        if (s->workers[i].started)
            pthread_join(s->workers[i].th, NULL);
    for (size_t i = 0; i < s->c->npipelines; i++)
        if (s->workers[i].rstarted)
            pthread_join(s->workers[i].rth, NULL);
    pthread_cond_destroy(&s->cv);
    pthread_mutex_destroy(&s->mu);
    sl_free(s->workers);
    sl_free(s);
}
