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

enum wstate {
    W_PENDING,          /* a reload's: starts once no pipeline is left stopping */
    W_RUNNING,
    W_STOPPING,         /* asked to stop alone (a reload changed or removed it) */
};

struct worker {
    struct sl_scheduler *s;
    const struct sl_config *c;      /* the config it started from */
    const struct sl_pipeline_cfg *p;
    enum wstate state;  /* under s->mu */
    struct sl_stop_scope scope;     /* its threads' (base/stop.h) */
    pthread_t th;
    int started;
    pthread_t rth;      /* reconcile: { every }, on its own clock */
    int rstarted;
    int failing;        /* its last run failed as a whole: its tables carry the error */
    struct worker *next;
};

struct sl_scheduler {
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

/* Sleep until monotonic time `until` or the stop (the scheduler's, or the
 * worker's alone); returns 1 when stopping. */
static int wait_until(struct worker *w, double until)
{
    struct sl_scheduler *s = w->s;
    pthread_mutex_lock(&s->mu);
    while (!s->stop && w->state != W_STOPPING) {
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
    int stop = s->stop || w->state == W_STOPPING;
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
        if (p->source_ops->serve(w->c, p, &sl_pipeline_sink, &err) == 0)
            continue;
        sl_log(SL_LOG_ERROR, &lc, "%s; trying again in %.0f s", err.msg, pause);
        report_tables_error(p, err.msg);
        if (wait_until(w, mono_now() + pause))
            break;
        pause = pause < 30 ? pause * 2 : 30;
    }
}

/* `reconcile: { every }`: compare each table with its source; drift is
 * logged and alerted (by sl_reconcile_table), never repaired unasked. */
static void reconcile_tables(const struct sl_config *c, const struct sl_pipeline_cfg *p)
{
    for (size_t k = 0; k < p->ntables && !sl_stopping(); k++) {
        struct sl_reconcile_opts o = {0, 1};
        struct sl_reconcile_result r;
        struct sl_err err;
        struct sl_log_ctx lc = {p->name, p->tables[k].name, 0};
        memset(&r, 0, sizeof r);
        sl_err_clear(&err);
        if (sl_reconcile_table(c, p, &p->tables[k], &o, &r, &err) < 0)
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
    sl_stop_scope_enter(&w->scope);
    for (;;) {
        reconcile_tables(w->c, w->p);
        next += w->p->reconcile_every;
        if (next < mono_now())
            next = mono_now();
        if (wait_until(w, next))
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
    if (sl_pipeline_run(w->c, p, &st, &err) < 0) {
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

    sl_stop_scope_enter(&w->scope);
    if (w->p->source_ops->serve) {
        serve_pipeline(w);
        return NULL;
    }
    for (;;) {
        double start = mono_now();
        run_once(w, interval);
        if (wait_until(w, start + interval))
            break;
    }
    return NULL;
}

/* Start w's threads (s->mu held or not yet shared). */
static int worker_start(struct worker *w, struct sl_err *err)
{
    int e = pthread_create(&w->th, NULL, run_pipeline, w);
    if (e)
        return sl_err_set(err, SL_E_INTERNAL, "could not start a thread for pipeline"
                          " \"%s\": %s", w->p->name, strerror(e));
    w->started = 1;
    w->state = W_RUNNING;
    if (w->p->reconcile_every > 0 && w->p->source_ops->sql) {
        if ((e = pthread_create(&w->rth, NULL, reconcile_loop, w)) != 0)
            return sl_err_set(err, SL_E_INTERNAL, "could not start the reconcile thread"
                              " of pipeline \"%s\": %s", w->p->name, strerror(e));
        w->rstarted = 1;
    }
    return 0;
}

/* A worker for pipeline p of c, at the end of s's list (s->mu held or not
 * yet shared); NULL when out of memory. */
static struct worker *worker_add(struct sl_scheduler *s, const struct sl_config *c,
                                 const struct sl_pipeline_cfg *p)
{
    struct worker *w = sl_calloc(1, sizeof *w), **at = &s->workers;
    if (!w)
        return NULL;
    w->s = s;
    w->c = c;
    w->p = p;
    w->state = W_PENDING;
    atomic_init(&w->scope.stop, 0);
    while (*at)
        at = &(*at)->next;
    *at = w;
    return w;
}

static void worker_join(struct worker *w)
{
    if (w->started)
        pthread_join(w->th, NULL);
    if (w->rstarted)
        pthread_join(w->rth, NULL);
    w->started = w->rstarted = 0;
}

int sl_scheduler_start(const struct sl_config *c, double poll, struct sl_scheduler **out,
                       struct sl_err *err)
{
    struct sl_scheduler *s = sl_calloc(1, sizeof *s);
    *out = NULL;
    if (!s)
        return sl_err_set(err, SL_E_NOMEM, "out of memory");
    s->poll = poll;
    pthread_mutex_init(&s->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&s->cv, &ca);
    pthread_condattr_destroy(&ca);
    *out = s;
    for (size_t i = 0; i < c->npipelines; i++)
        if (!worker_add(s, c, &c->pipelines[i]))
            return sl_err_set(err, SL_E_NOMEM, "out of memory");
    pthread_mutex_lock(&s->mu);
    int rc = 0;
    for (struct worker *w = s->workers; w && rc == 0; w = w->next)
        rc = worker_start(w, err);
    pthread_mutex_unlock(&s->mu);
    return rc;
}

void sl_scheduler_reload(struct sl_scheduler *s, const struct sl_config *c, const int *keep)
{
    pthread_mutex_lock(&s->mu);
    /* what runs now and is not kept stops after its batch in flight */
    for (struct worker *w = s->workers; w; w = w->next) {
        if (w->state != W_RUNNING)
            continue;
        const struct sl_pipeline_cfg *np = sl_config_pipeline(c, w->p->name);
        struct sl_log_ctx lc = {w->p->name, NULL, 0};
        if (np && keep[np - c->pipelines]) {
            sl_log(SL_LOG_INFO, &lc, "reload: unchanged, goes on running");
            continue;
        }
        sl_log(SL_LOG_INFO, &lc, "reload: %s; stopping it after the batch it is loading",
               np ? "its config changed" : "no longer in the config");
        w->state = W_STOPPING;
        sl_stop_scope_stop(&w->scope);
    }
    pthread_cond_broadcast(&s->cv);
    /* the new config's others start once those have ended (tick) */
    for (size_t i = 0; i < c->npipelines; i++) {
        if (keep[i])
            continue;
        struct sl_log_ctx lc = {c->pipelines[i].name, NULL, 0};
        if (!worker_add(s, c, &c->pipelines[i]))
            sl_log(SL_LOG_ERROR, &lc, "reload: out of memory; the pipeline is not started");
    }
    pthread_mutex_unlock(&s->mu);
}

/* pthread_tryjoin_np on each thread of w: 1 when all have ended (joined) */
static int worker_reap(struct worker *w)
{
    if (w->started && pthread_tryjoin_np(w->th, NULL) == 0)
        w->started = 0;
    if (w->rstarted && pthread_tryjoin_np(w->rth, NULL) == 0)
        w->rstarted = 0;
    return !w->started && !w->rstarted;
}

int sl_scheduler_tick(struct sl_scheduler *s, struct sl_err *err)
{
    int stopping = 0, rc = 0, pending = 0;
    pthread_mutex_lock(&s->mu);
    for (struct worker **at = &s->workers; *at;) {
        struct worker *w = *at;
        if (w->state == W_STOPPING && worker_reap(w)) {
            struct sl_log_ctx lc = {w->p->name, NULL, 0};
            sl_log(SL_LOG_INFO, &lc, "reload: stopped");
            *at = w->next;
            sl_free(w);
            continue;
        }
        stopping += w->state == W_STOPPING;
        pending += w->state == W_PENDING;
        at = &w->next;
    }
    for (struct worker *w = s->workers; !stopping && pending && !s->stop && w; w = w->next) {
        if (w->state != W_PENDING)
            continue;
        struct sl_log_ctx lc = {w->p->name, NULL, 0};
        struct sl_err e;
        sl_err_clear(&e);
        if (worker_start(w, &e) < 0) {
            sl_log(SL_LOG_ERROR, &lc, "reload: %s", e.msg);
            if (rc == 0 && err)
                *err = e;
            rc = -1;
            /* what did start is stopped; reaped and forgotten on a later tick */
            sl_stop_scope_stop(&w->scope);
            w->state = W_STOPPING;
        } else {
            sl_log(SL_LOG_INFO, &lc, "reload: started with the new config");
        }
    }
    pthread_mutex_unlock(&s->mu);
    return rc < 0 ? -1 : stopping;
}

int sl_scheduler_uses(struct sl_scheduler *s, const struct sl_config *c)
{
    int used = 0;
    pthread_mutex_lock(&s->mu);
    for (struct worker *w = s->workers; w && !used; w = w->next)
        used = w->c == c;
    pthread_mutex_unlock(&s->mu);
    return used;
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
    /* no worker is added or started once stop is set; the list is ours */
    for (struct worker *w = s->workers; w; w = w->next)
        worker_join(w);
    while (s->workers) {
        struct worker *w = s->workers;
        s->workers = w->next;
        sl_free(w);
    }
    pthread_cond_destroy(&s->cv);
    pthread_mutex_destroy(&s->mu);
    sl_free(s);
}
