/* cli/daemon.c: `sluice daemon CONFIG [--listen HOST:PORT]`: the
 * pipelines on their schedules (engine/scheduler.c), the staleness watch
 * (obs/stale.c), the replication slot watch (obs/slots.c) and the admin
 * HTTP server (net/http.c, routes in obs/api.c) on --listen, else the
 * config's http.listen, else 127.0.0.1:8765.
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

/* Blocks until SIGINT or SIGTERM. */
static void wait_for_stop(const sigset_t *sigs)
{
    for (;;) {
        int sig = 0;
        if (sigwait(sigs, &sig) == 0 && (sig == SIGINT || sig == SIGTERM)) {
            sl_log(SL_LOG_INFO, NULL, "%s: stopping after the batches being loaded",
                   sig == SIGINT ? "SIGINT" : "SIGTERM");
            return;
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
    struct sl_config *c = sl_cli_load_config_alerting(o.config);
    if (!c)
        return 2;
    const char *listen = o.listen ? o.listen : c->http_listen ? c->http_listen : "127.0.0.1:8765";
    const char *poll_ms = getenv("SLUICE_POLL_MS");
    double poll = poll_ms ? strtod(poll_ms, NULL) / 1000 : 2.0;
    sl_usec since = sl_time_now();
    struct sl_dbpool *pool = NULL;
    struct sl_http *http = NULL;
    struct sl_scheduler *sched = NULL;
    struct sl_stale_watch *stale = NULL;
    struct sl_slot_watch *slots = NULL;
    struct sl_api api;
    struct sl_err err;
    int rc = 0, api_ready = 0;

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
    if (!(pool = sl_dbpool_new(c))) {
        fprintf(stderr, "sluice: out of memory\n");
        rc = 1;
        goto out;
    }
    seed_from_ledger(c, pool);
    sl_api_init(&api, c, pool, since);
    api_ready = 1;
    if (start_admin(c, listen, &api, &http, &err) < 0) {
        sl_log(SL_LOG_ERROR, NULL, "admin HTTP server: %s", err.msg[0] ? err.msg : "out of memory");
        rc = err.code == SL_E_USAGE ? 2 : 1;
        goto out;
    }
    if (sl_scheduler_start(c, poll < 0.05 ? 0.05 : poll, &sched, &err) < 0 ||
        sl_stale_watch_start(c, since, &stale, &err) < 0 ||
        sl_slot_watch_start(c, &slots, &err) < 0) {
        sl_log(SL_LOG_ERROR, NULL, "%s", err.msg);
        rc = 1;
    } else {
        wait_for_stop(&sigs);
    }
    sl_scheduler_stop(sched);
    sl_stale_watch_stop(stale);
    sl_slot_watch_stop(slots);
    sl_log(SL_LOG_INFO, NULL, "stopped");
out:
    sl_http_free(http);
    if (api_ready)
        sl_api_destroy(&api);
    sl_dbpool_free(pool);
    sl_metrics_reset();
    sl_config_free(c);
    return rc;
}
