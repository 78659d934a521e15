/* cli/daemon.c: `sluice daemon CONFIG [--listen HOST:PORT]`: the
 * pipelines on their schedules (engine/scheduler.c), the staleness watch
 * (obs/stale.c), the replication slot watch (obs/slots.c) and the admin
 * HTTP server (net/http.c, routes in obs/api.c) on --listen, else the
 * config's http.listen, else 127.0.0.1:8765.
 *
 * SIGTERM or SIGINT: no new batch starts; each pipeline finishes the batch
 * it is loading, then the daemon exits 0. SIGHUP: the config is read again;
 * one that does not load keeps the one running (the log says why), a good
 * one is swapped in: the pipelines it leaves as they were go on, the others
 * stop after their batch in flight and start anew (engine/scheduler.h), the
 * admin API answers from the new config (its token too); the admin server's
 * own address and limits take a restart. Signals are taken by sigtimedwait
 * in the main thread (blocked everywhere else), so no handler runs inside
 * libpq, SQLite or libcurl; that loop also moves a reload along and pings
 * the service manager's watchdog (base/notify.h: READY=1 once the
 * pipelines are scheduled and the admin server listens, RELOADING=1 and
 * READY=1 around a reload, WATCHDOG=1, STOPPING=1). */
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
#include "base/notify.h"
#include "cli/cli.h"
#include "engine/scheduler.h"
#include "net/http.h"
#include "obs/api.h"
#include "obs/metrics.h"
#include "obs/slots.h"
#include "obs/stale.h"
#include "obs/status.h"

static const char USAGE[] = "sluice daemon CONFIG [--listen HOST:PORT]";

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
    struct sl_status_opts o = {0, 0, SL_STATUS_SLOTS_NONE};
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

/* The admin server on `listen`, serving obs/api.c's routes. */
static int start_admin(const struct sl_config *c, const char *listen, struct sl_api *api,
                       struct sl_http **out, struct sl_err *err)
{
    struct sl_http_limits lim = {c->http_timeout, c->http_max_conns, c->http_max_per_client,
                                 c->http_hosts.items, c->http_hosts.n};
    if (sl_http_new(listen, out, err) < 0 || sl_http_set_limits(*out, &lim, err) < 0 ||
        sl_api_register(*out, api) < 0 || sl_http_start(*out, err) < 0)
        return -1;
    char shown[300];
    const char *colon = strrchr(listen, ':');
    snprintf(shown, sizeof shown, "%.*s:%d", colon ? (int)(colon - listen) : 0, listen,
             sl_http_port(*out));
    sl_log(SL_LOG_INFO, NULL, "admin HTTP listening on http://%s%s (dashboard /, /metrics,"
           " /api/status); %zu pipeline%s", shown[0] == ':' ? "0.0.0.0" : "", shown,
           c->npipelines, c->npipelines == 1 ? "" : "s");
    if (!c->http_token)
        sl_log(SL_LOG_WARN, NULL, "no admin token in the config (http: { token: ... }):"
               " approve, reject and rollback through the API are off");
    return 0;
}

/* The daemon's state across reloads. */
struct daemon {
    const char *path;
    const char *listen;             /* --listen, else NULL: the config's */
    double poll;
    sl_usec since;
    struct sl_config *cur;          /* the API, the watches and new pipelines use it */
    struct sl_config **old;         /* configs a pipeline may still run with */
    size_t nold;
    const struct sl_config *slots_c;    /* the slot watch's */
    struct sl_api api;
    int api_ready;
    struct sl_http *http;
    struct sl_scheduler *sched;
    struct sl_stale_watch *stale;
    struct sl_slot_watch *slots;
    int reloading;                  /* pipelines still stopping */
    int again;                      /* a SIGHUP during a reload: another after it */
    char summary[256];              /* what the reload under way does */
    double watchdog;                /* seconds; 0: none asked for */
};

static double mono_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The admin server's own settings (all of http: but the token, which the
 * API reads from the config it serves) are the same in a and b. */
static int admin_same(const struct daemon *d, const struct sl_config *a, const struct sl_config *b)
{
    char va[1024], vb[1024];
    for (const struct sl_cfg_key *k = sl_config_keys("http"); k && k->key; k++) {
        if (strcmp(k->key, "token") == 0 || (d->listen && strcmp(k->key, "listen") == 0))
            continue;
        sl_cfg_value_text(k, a, va, sizeof va);
        sl_cfg_value_text(k, b, vb, sizeof vb);
        if (strcmp(va, vb) != 0)
            return 0;
    }
    return 1;
}

/* 1 when a table of c has no metrics yet (new to this daemon). */
static int has_new_table(const struct sl_config *c)
{
    for (size_t i = 0; i < c->npipelines; i++)
        for (size_t k = 0; k < c->pipelines[i].ntables; k++) {
            struct sl_metrics_live live;
            sl_metrics_live(c->pipelines[i].name, c->pipelines[i].tables[k].name, &live);
            if (!live.known)
                return 1;
        }
    return 0;
}

/* 1 when the cdc pipelines of n (what the slot watch looks at) are those
 * of o, each unchanged. */
static int slots_same(const struct sl_config *o, const struct sl_config *n, const int *keep)
{
    size_t no = 0, nn = 0;
    for (size_t i = 0; i < o->npipelines; i++)
        no += o->pipelines[i].source_ops->slot_state != NULL;
    for (size_t i = 0; i < n->npipelines; i++) {
        if (!n->pipelines[i].source_ops->slot_state)
            continue;
        nn++;
        if (!keep[i])
            return 0;
    }
    return no == nn;
}

/* SIGHUP: read the config again and swap it in (see the top of the file). */
static void reload(struct daemon *d)
{
    struct sl_log_ctx lc = {0};
    struct sl_err err;

    /* the reading below may wait on a warehouse (the ledger's newest loads):
     * the watchdog's whole interval is its budget */
    if (d->watchdog > 0)
        sl_notify("WATCHDOG=1");
    sl_notify("RELOADING=1\nSTATUS=reloading %s", d->path);
    sl_log(SL_LOG_INFO, &lc, "SIGHUP: reading %s again", d->path);
    struct sl_config *n = sl_cli_load_config_checked(d->path, 1, &err);
    if (!n) {
        sl_log(SL_LOG_ERROR, &lc, "reload refused, the config loaded before goes on: %s",
               err.msg);
        sl_notify("READY=1\nSTATUS=running %zu pipelines; reload refused: %.400s",
                  d->cur->npipelines, err.msg);
        return;
    }
    int *keep = sl_calloc(n->npipelines ? n->npipelines : 1, sizeof *keep);
    struct sl_config **old = sl_realloc(d->old, (d->nold + 1) * sizeof *old);
    struct sl_dbpool *pool = keep && old ? sl_dbpool_new(n) : NULL;
    if (old)
        d->old = old;
    if (!pool || sl_api_swap(&d->api, n, pool) < 0) {
        sl_log(SL_LOG_ERROR, &lc, "reload refused, the config loaded before goes on: out of"
               " memory");
        sl_notify("READY=1\nSTATUS=running; reload refused: out of memory");
        sl_free(keep);
        sl_config_free(n);
        return;
    }
    size_t kept = 0, gone = 0;
    for (size_t i = 0; i < n->npipelines; i++) {
        const struct sl_pipeline_cfg *was = sl_config_pipeline(d->cur, n->pipelines[i].name);
        keep[i] = was && sl_config_pipeline_same(d->cur, was, n, &n->pipelines[i]);
        kept += (size_t)keep[i];
    }
    for (size_t i = 0; i < d->cur->npipelines; i++)
        gone += sl_config_pipeline(n, d->cur->pipelines[i].name) == NULL;
    if (!admin_same(d, d->cur, n))
        sl_log(SL_LOG_WARN, &lc, "reload: the admin server's http: settings changed; they take"
               " effect when the daemon restarts (the token already has)");
    sl_metrics_declare(n);
    if (has_new_table(n))
        seed_from_ledger(n, pool);
    /* the watches look at the new config from now on */
    sl_stale_watch_stop(d->stale);
    d->stale = NULL;
    if (sl_stale_watch_start(n, d->since, &d->stale, &err) < 0)
        sl_log(SL_LOG_ERROR, &lc, "reload: %s", err.msg);
    if (!slots_same(d->cur, n, keep)) {
        sl_slot_watch_stop(d->slots);
        d->slots = NULL;
        d->slots_c = n;
        if (sl_slot_watch_start(n, &d->slots, &err) < 0)
            sl_log(SL_LOG_ERROR, &lc, "reload: %s", err.msg);
    }
    sl_scheduler_reload(d->sched, n, keep);
    snprintf(d->summary, sizeof d->summary, "%zu pipeline%s unchanged, %zu new or changed, %zu"
             " removed", kept, kept == 1 ? "" : "s", n->npipelines - kept, gone);
    sl_free(keep);
    d->old[d->nold++] = d->cur;
    d->cur = n;
    d->reloading = 1;
}

/* The pipelines a reload stopped have ended, its new ones started. */
static void reload_done(struct daemon *d, int failed)
{
    struct sl_log_ctx lc = {0};
    d->reloading = 0;
    sl_metrics_forget_others(d->cur);
    sl_log(failed ? SL_LOG_WARN : SL_LOG_INFO, &lc, "reloaded %s: %s%s", d->path, d->summary,
           failed ? "; a pipeline could not start (logged above)" : "");
    sl_notify("READY=1\nSTATUS=running %zu pipelines; reloaded: %s", d->cur->npipelines,
              d->summary);
}

/* Free the configs nothing runs with any more. */
static void free_unused(struct daemon *d)
{
    size_t kept = 0;
    for (size_t i = 0; i < d->nold; i++) {
        struct sl_config *c = d->old[i];
        /* sl_api_uses first: it also frees the API's views no request holds */
        if (sl_api_uses(&d->api, c) || sl_scheduler_uses(d->sched, c) || d->slots_c == c)
            d->old[kept++] = c;
        else
            sl_config_free(c);
    }
    d->nold = kept;
}

/* Until SIGINT or SIGTERM: reloads on SIGHUP, the reload moved along, the
 * watchdog pinged every half of its interval. */
static void serve(struct daemon *d, const sigset_t *sigs)
{
    double next_ping = 0;
    for (;;) {
        double wait = d->reloading ? 0.1 : 1.0;
        if (d->watchdog > 0 && d->watchdog / 2 < wait)
            wait = d->watchdog / 2;
        struct timespec ts = {(time_t)wait, (long)((wait - (double)(time_t)wait) * 1e9)};
        int sig = sigtimedwait(sigs, NULL, &ts);
        if (sig == SIGINT || sig == SIGTERM) {
            sl_log(SL_LOG_INFO, NULL, "%s: stopping after the batches being loaded",
                   sig == SIGINT ? "SIGINT" : "SIGTERM");
            return;
        }
        if (sig == SIGHUP && d->reloading) {
            sl_log(SL_LOG_INFO, NULL, "SIGHUP: a reload is under way; reading the config again"
                   " once it is done");
            d->again = 1;
        } else if (sig == SIGHUP) {
            reload(d);
        }
        struct sl_err err;
        int left = sl_scheduler_tick(d->sched, &err);
        if (d->reloading && left <= 0) {
            reload_done(d, left < 0);
            if (d->again) {
                d->again = 0;
                reload(d);
            }
        }
        free_unused(d);
        double now = mono_now();
        if (d->watchdog > 0 && now >= next_ping) {
            sl_notify("WATCHDOG=1");
            next_ping = now + d->watchdog / 2;
        }
    }
}

int sl_cmd_daemon(int argc, char **argv)
{
    struct sl_cli_opts o;
    if (sl_cli_parse(argc, argv, USAGE, "listen", &o) < 0)
        return 2;
    if (o.nargs) {
        fprintf(stderr, "sluice: daemon takes one config (found \"%s\" after it)\nusage: %s\n",
                o.args[0], USAGE);
        sl_free(o.args);
        return 2;
    }
    sl_free(o.args);
    struct daemon d;
    memset(&d, 0, sizeof d);
    d.path = o.config;
    d.listen = o.listen;
    if (!(d.cur = sl_cli_load_config_alerting(o.config)))
        return 2;
    const struct sl_config *c = d.cur;
    const char *listen = o.listen ? o.listen : c->http_listen ? c->http_listen : "127.0.0.1:8765";
    const char *poll_ms = getenv("SLUICE_POLL_MS");
    double poll = poll_ms ? strtod(poll_ms, NULL) / 1000 : 2.0;
    struct sl_dbpool *pool = NULL;
    struct sl_err err;
    int rc = 0;

    d.since = sl_time_now();
    d.poll = poll < 0.05 ? 0.05 : poll;
    /* every thread made from here on inherits the mask: only sigtimedwait sees these */
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);

    sl_err_clear(&err);
    raise_nofile();
    sl_metrics_declare(c);
    if (!(pool = sl_dbpool_new(c))) {
        fprintf(stderr, "sluice: out of memory\n");
        rc = 1;
        goto out;
    }
    seed_from_ledger(c, pool);
    int api_rc = sl_api_init(&d.api, c, pool, d.since);
    pool = NULL;    /* the API's from here on, freed by it even on failure */
    d.api_ready = 1;
    if (api_rc < 0) {
        fprintf(stderr, "sluice: out of memory\n");
        rc = 1;
        goto out;
    }
    if (start_admin(c, listen, &d.api, &d.http, &err) < 0) {
        sl_log(SL_LOG_ERROR, NULL, "admin HTTP server: %s", err.msg[0] ? err.msg : "out of memory");
        rc = err.code == SL_E_USAGE ? 2 : 1;
        goto out;
    }
    d.slots_c = c;
    if (sl_scheduler_start(c, d.poll, &d.sched, &err) < 0 ||
        sl_stale_watch_start(c, d.since, &d.stale, &err) < 0 ||
        sl_slot_watch_start(c, &d.slots, &err) < 0) {
        sl_log(SL_LOG_ERROR, NULL, "%s", err.msg);
        rc = 1;
    } else {
        d.watchdog = sl_notify_watchdog();
        sl_notify("READY=1\nSTATUS=running %zu pipelines", c->npipelines);
        serve(&d, &sigs);
    }
    sl_notify("STOPPING=1\nSTATUS=stopping after the batches being loaded");
    sl_scheduler_stop(d.sched);
    sl_stale_watch_stop(d.stale);
    sl_slot_watch_stop(d.slots);
    sl_log(SL_LOG_INFO, NULL, "stopped");
out:
    sl_http_free(d.http);
    if (d.api_ready)
        sl_api_destroy(&d.api);
    sl_dbpool_free(pool);
    sl_metrics_reset();
    for (size_t i = 0; i < d.nold; i++)
        sl_config_free(d.old[i]);
    sl_free(d.old);
    sl_config_free(d.cur);
    return rc;
}
