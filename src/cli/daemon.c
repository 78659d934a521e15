/* cli/daemon.c: `sluice daemon CONFIG [--listen HOST:PORT]`.
 *
 * One thread per pipeline runs it on its schedule (`schedule: every 5m`);
 * a pipeline without one is polled every 2 s (SLUICE_POLL_MS), which for a
 * files pipeline means its drop folder is watched. Pipelines run in
 * parallel; the tables of one pipeline one after the other, as `sluice run`.
 * An event source (http collector, jetstream consumer) is not polled: its
 * thread serves it (ops->serve) until the stop, and serves it again after a
 * pause when it could not (address in use, NATS or the destination down).
 * A pipeline with `reconcile: { every }` has a thread of its own that
 * compares its tables with the source at start and then every `every`.
 * A watcher thread marks tables stale (no committed batch within the
 * pipeline's stale_after) and alerts, and sends the resolve when one loads.
 * The admin HTTP server (net/http.c, routes in obs/api.c) listens on
 * --listen, else the config's http.listen, else 127.0.0.1:8765.
 *
 * SIGTERM or SIGINT: no new batch starts; each pipeline finishes the batch
 * it is loading, then the daemon exits 0. Signals are taken by sigwait in
 * the main thread (blocked everywhere else), so no handler runs inside
 * libpq, SQLite or libcurl. */
#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "base/log.h"
#include "base/mem.h"
#include "base/stop.h"
#include "cli/cli.h"
#include "engine/pipeline.h"
#include "engine/reconcile.h"
#include "net/http.h"
#include "obs/alert.h"
#include "obs/api.h"
#include "obs/metrics.h"
#include "obs/status.h"
#include "sources/source.h"

static const char USAGE[] = "sluice daemon CONFIG [--listen HOST:PORT]";

struct daemon;

struct worker {
    struct daemon *dm;
    const struct sl_pipeline_cfg *p;
    pthread_t th;
    int started;
    pthread_t rth;      /* reconcile: { every }, on its own clock */
    int rstarted;
    int failing;        /* its last run failed as a whole: its tables carry the error */
};

struct daemon {
    const struct sl_config *c;
    pthread_mutex_t mu;
    pthread_cond_t cv;  /* CLOCK_MONOTONIC; signalled on stop */
    int stop;
    double poll;        /* seconds between runs of an unscheduled pipeline */
    sl_usec since;
    struct worker *workers;
    pthread_t watcher;
    int watcher_started;
};

static double mono_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Sleep until monotonic time `until` or the stop; returns 1 when stopping. */
static int wait_until(struct daemon *dm, double until)
{
    pthread_mutex_lock(&dm->mu);
    while (!dm->stop) {
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
        pthread_cond_timedwait(&dm->cv, &dm->mu, &ts);
    }
    int stop = dm->stop;
    pthread_mutex_unlock(&dm->mu);
    return stop;
}

/* A source that takes batches as they come (http collector, jetstream
 * consumer) serves until the stop; when it cannot (address in use, NATS or
 * the destination down) it is tried again after a pause. */
static void *serve_pipeline(struct worker *w)
{
    const struct sl_pipeline_cfg *p = w->p;
    struct sl_log_ctx lc = {p->name, NULL, 0};
    double pause = 1.0;

    while (!sl_stopping()) {
        struct sl_err err;
        sl_err_clear(&err);
        if (p->source_ops->serve(w->dm->c, p, &sl_pipeline_sink, &err) == 0)
            continue;
        sl_log(SL_LOG_ERROR, &lc, "%s; trying again in %.0f s", err.msg, pause);
        for (size_t k = 0; k < p->ntables; k++)
            sl_metrics_error(p->name, p->tables[k].name, err.msg);
        if (wait_until(w->dm, mono_now() + pause))
            break;
        pause = pause < 30 ? pause * 2 : 30;
    }
    return NULL;
}

/* `reconcile: { every }`: compare each table with its source; drift is
 * logged and alerted (by sl_reconcile_table), never repaired unasked. */
static void reconcile_tables(const struct daemon *dm, const struct sl_pipeline_cfg *p)
{
    for (size_t k = 0; k < p->ntables && !sl_stopping(); k++) {
        struct sl_reconcile_opts o = {0, 1};
        struct sl_reconcile_result r;
        struct sl_err err;
        struct sl_log_ctx lc = {p->name, p->tables[k].name, 0};
        memset(&r, 0, sizeof r);
        sl_err_clear(&err);
        if (sl_reconcile_table(dm->c, p, &p->tables[k], &o, &r, &err) < 0)
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
        reconcile_tables(w->dm, w->p);
        next += w->p->reconcile_every;
        if (next < mono_now())
            next = mono_now();
        if (wait_until(w->dm, next))
            break;
    }
    return NULL;
}

static void *run_pipeline(void *arg)
{
    struct worker *w = arg;
    struct daemon *dm = w->dm;
    const struct sl_pipeline_cfg *p = w->p;
    struct sl_log_ctx lc = {p->name, NULL, 0};
    double interval = p->every > 0 ? p->every : dm->poll;

    if (p->source_ops->serve)
        return serve_pipeline(w);
    for (;;) {
        double start = mono_now();
        struct sl_run_stats st = {0};
        struct sl_err err;
        sl_err_clear(&err);
        if (sl_pipeline_run(dm->c, p, &st, &err) < 0) {
            if (!sl_stopping())
                sl_log(SL_LOG_ERROR, &lc, "run failed, next attempt in %.0f s: %s", interval,
                       err.msg);
            for (size_t k = 0; k < p->ntables; k++)
                sl_metrics_error(p->name, p->tables[k].name, err.msg);
            w->failing = 1;
        } else if (w->failing && st.failed == 0 && st.deferred == 0) {
            for (size_t k = 0; k < p->ntables; k++)
                sl_metrics_error(p->name, p->tables[k].name, NULL);
            w->failing = 0;
        }
        if (st.committed || st.failed || st.deferred || st.duplicates || st.waiting ||
            st.not_run || st.stopped) {
            char summary[1024];
            sl_run_stats_text(&st, summary, sizeof summary);
            sl_log(SL_LOG_DEBUG, &lc, "%s", summary);
        }
        if (wait_until(dm, start + interval))
            break;
    }
    return NULL;
}

/* Stale tables: mark, alert once, resolve when a batch loads again. */
static void check_stale(struct daemon *dm)
{
    const struct sl_config *c = dm->c;
    sl_usec now = sl_time_now();
    for (size_t i = 0; i < c->npipelines; i++) {
        const struct sl_pipeline_cfg *p = &c->pipelines[i];
        if (p->stale_after <= 0)
            continue;
        for (size_t k = 0; k < p->ntables; k++) {
            const char *t = p->tables[k].name;
            struct sl_metrics_live live;
            sl_metrics_live(p->name, t, &live);
            int stale = sl_status_stale(p, live.last_loaded, dm->since, now);
            if (stale == live.stale)
                continue;
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
            if (c->nalerts && sl_alert_send(c, &a, &aerr) < 0)
                sl_log(SL_LOG_WARN, &lc, "alert not delivered: %s", aerr.msg);
        }
    }
}

static void *watch(void *arg)
{
    struct daemon *dm = arg;
    double tick = 1.0;
    for (size_t i = 0; i < dm->c->npipelines; i++)
        if (dm->c->pipelines[i].stale_after > 0 && dm->c->pipelines[i].stale_after / 4 < tick)
            tick = dm->c->pipelines[i].stale_after / 4;
    if (tick < 0.1)
        tick = 0.1;
    while (!wait_until(dm, mono_now() + tick))
        check_stale(dm);
    return NULL;
}

/* Every client connection, watched file and warehouse connection is a
 * descriptor; the soft limit (often 1024) is raised to the hard one. */
static void raise_nofile(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
            sl_log(SL_LOG_WARN, NULL, "could not raise the open files limit: %s",
                   strerror(errno));
    }
}

/* What the ledgers say at start: the newest load of each table, so lag and
 * staleness hold across restarts. */
static void seed_from_ledger(const struct sl_config *c, struct sl_dbpool *pool)
{
    struct sl_status_opts o = {0, 0};
    int unreachable = 0;
    json_t *doc = sl_status_build(c, pool, &o, &unreachable), *p, *t;
    size_t i, k;
    json_array_foreach(json_object_get(doc, "pipelines"), i, p) {
        json_array_foreach(json_object_get(p, "tables"), k, t) {
            const char *at = json_string_value(json_object_get(t, "last_committed_at"));
            const char *pn = json_string_value(json_object_get(t, "pipeline"));
            const char *tn = json_string_value(json_object_get(t, "table"));
            sl_usec when;
            char why[64];
            if (at && pn && tn && sl_time_parse(at, strlen(at), NULL, &when, why, sizeof why) == 0)
                sl_metrics_seed_loaded(pn, tn, when);
        }
    }
    if (unreachable) {
        struct sl_log_ctx lc = {0};
        sl_log(SL_LOG_WARN, &lc, "a destination could not be read at start; its tables show"
               " as failing until it answers");
    }
    json_decref(doc);
}

int sl_cmd_daemon(int argc, char **argv)
{
    struct sl_cli_opts o;
    int prc = sl_cli_parse(argc, argv, USAGE, "listen", &o);
    if (prc < 0)
        return 2;
    if (o.nargs) {
        fprintf(stderr, "sluice: daemon takes one config (found \"%s\" after it)\nusage: %s\n",
                o.args[0], USAGE);
        sl_free(o.args);
        return 2;
    }
    sl_free(o.args);
    struct sl_config *c = sl_cli_load_config_alerting(o.config);
    if (!c)
        return 2;
    const char *listen = o.listen ? o.listen : c->http_listen ? c->http_listen : "127.0.0.1:8765";

    struct daemon dm = {0};
    struct sl_log_ctx lc = {0};
    struct sl_dbpool *pool = NULL;
    struct sl_http *http = NULL;
    struct sl_api api;
    struct sl_err err;
    int rc = 0, api_ready = 0;
    const char *poll = getenv("SLUICE_POLL_MS");

    dm.c = c;
    dm.since = sl_time_now();
    dm.poll = poll ? strtod(poll, NULL) / 1000 : 2.0;
    if (dm.poll < 0.05)
        dm.poll = 0.05;
    pthread_mutex_init(&dm.mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&dm.cv, &ca);
    pthread_condattr_destroy(&ca);

    /* every thread made from here on inherits the mask: only sigwait sees these */
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);

    sl_err_clear(&err);
    raise_nofile();
    sl_metrics_declare(c);
    pool = sl_dbpool_new(c);
    dm.workers = sl_calloc(c->npipelines ? c->npipelines : 1, sizeof *dm.workers);
    if (!pool || !dm.workers) {
        fprintf(stderr, "sluice: out of memory\n");
        rc = 1;
        goto out;
    }
    seed_from_ledger(c, pool);
    sl_api_init(&api, c, pool, dm.since);
    api_ready = 1;
    struct sl_http_limits lim = {c->http_timeout, c->http_max_conns, c->http_max_per_client,
                                 c->http_hosts.items, c->http_hosts.n};
    if (sl_http_new(listen, &http, &err) < 0 || sl_http_set_limits(http, &lim, &err) < 0 ||
        sl_api_register(http, &api) < 0 || sl_http_start(http, &err) < 0) {
        sl_log(SL_LOG_ERROR, &lc, "admin HTTP server: %s", err.msg[0] ? err.msg : "out of memory");
        rc = err.code == SL_E_USAGE ? 2 : 1;
        goto out;
    }
    {
        char shown[300];
        const char *colon = strrchr(listen, ':');
        snprintf(shown, sizeof shown, "%.*s:%d", colon ? (int)(colon - listen) : 0, listen,
                 sl_http_port(http));
        sl_log(SL_LOG_INFO, &lc, "admin HTTP listening on http://%s%s (dashboard /, /metrics,"
               " /api/status); %zu pipeline%s", shown[0] == ':' ? "0.0.0.0" : "", shown,
               c->npipelines, c->npipelines == 1 ? "" : "s");
    }
    if (!c->http_token)
        sl_log(SL_LOG_WARN, &lc, "no admin token in the config (http: { token: ... }):"
               " approve, reject and rollback through the API are off");

    for (size_t i = 0; i < c->npipelines; i++) {
        struct worker *w = &dm.workers[i];
        w->dm = &dm;
        w->p = &c->pipelines[i];
        int e = pthread_create(&w->th, NULL, run_pipeline, w);
        if (e) {
            sl_log(SL_LOG_ERROR, &lc, "could not start a thread for pipeline \"%s\": %s",
                   w->p->name, strerror(e));
            rc = 1;
            goto stop;
        }
        w->started = 1;
        if (w->p->reconcile_every > 0 && w->p->source_ops->sql) {
            if ((e = pthread_create(&w->rth, NULL, reconcile_loop, w)) != 0) {
                sl_log(SL_LOG_ERROR, &lc, "could not start the reconcile thread of pipeline"
                       " \"%s\": %s", w->p->name, strerror(e));
                rc = 1;
                goto stop;
            }
            w->rstarted = 1;
        }
    }
    if (pthread_create(&dm.watcher, NULL, watch, &dm) == 0)
        dm.watcher_started = 1;

    for (;;) {
        int sig = 0;
        if (sigwait(&sigs, &sig) == 0 && (sig == SIGINT || sig == SIGTERM)) {
            sl_log(SL_LOG_INFO, &lc, "%s: stopping after the batches being loaded",
                   sig == SIGINT ? "SIGINT" : "SIGTERM");
            break;
        }
    }

stop:
    sl_stop();
    pthread_mutex_lock(&dm.mu);
    dm.stop = 1;
    pthread_cond_broadcast(&dm.cv);
    pthread_mutex_unlock(&dm.mu);
    for (size_t i = 0; i < c->npipelines; i++)
        if (dm.workers[i].started)
            pthread_join(dm.workers[i].th, NULL);
    for (size_t i = 0; i < c->npipelines; i++)
        if (dm.workers[i].rstarted)
            pthread_join(dm.workers[i].rth, NULL);
    if (dm.watcher_started)
        pthread_join(dm.watcher, NULL);
    sl_log(SL_LOG_INFO, &lc, "stopped");
out:
    sl_http_free(http);
    if (api_ready)
        sl_api_destroy(&api);
    sl_dbpool_free(pool);
    sl_free(dm.workers);
    pthread_cond_destroy(&dm.cv);
    pthread_mutex_destroy(&dm.mu);
    sl_metrics_reset();
    sl_config_free(c);
    return rc;
}
