/* sources/http.c: the http source, the events source (events.h) taking its
 * events over HTTP: a collector served by `sluice daemon`.
 *
 *   POST /v1/events/{pipeline}   a JSON object, an array of objects, or NDJSON
 *   Authorization: Bearer <token>
 *
 * Each http source listens on its own `listen` address (pipelines naming the
 * same address share one server, told apart by the path). A request is
 * checked whole (token: 401, size: 413, JSON: 400 with line:column, unknown
 * pipeline: 404), its events are mapped (sources/events.c), then appended to
 * the pipeline's pending batch; the request waits. One committer thread per
 * pipeline takes everything pending as one batch (group commit: all requests
 * that arrived while the previous batch committed go into the next one) and
 * runs it through the engine (the engine's sink: one destination transaction,
 * gates, dead letter). Only when that transaction has committed do the
 * waiting requests answer 200: a 2xx means the events are durable. A kill at
 * any instant leaves each request either answered (its events committed) or
 * unanswered (the client retries; the event id keeps a retry from loading
 * twice).
 *
 * With `publish: { servers, subject }` the collector loads nothing: each
 * request's events go to a JetStream stream, and the request answers after
 * JetStream's publish ack; jetstream sources load them from there. */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/log.h"
#include "base/mem.h"
#include "base/retry.h"
#include "base/stop.h"
#include "net/http.h"
#include "sources/events.h"
#include "sources/jetstream.h"

#define DEFAULT_MAX_BATCH 50000
#define MAX_PENDING_BYTES ((size_t)256 << 20)

struct publish_cfg {
    struct sl_strlist servers;
    char *subject;
    char *stream;
    long replicas;
};

struct http_cfg {
    struct sl_event_cfg ev;     /* first: events.c reads it */
    char *listen;
    char *token;
    char *max_body;
    long max_batch;
    char *tls_cert;
    char *tls_key;
    struct publish_cfg publish;
    int publish_given;
    size_t max_body_bytes;      /* max_body, read by validate */
};

static const struct sl_cfg_key http_keys[] = {
    {"listen", SL_CFG_STR, offsetof(struct http_cfg, listen), NULL, 1, NULL,
     "HOST:PORT the collector listens on (POST /v1/events/<pipeline>)"},
    {"token", SL_CFG_STR, offsetof(struct http_cfg, token), NULL, 0, NULL,
     "bearer token a client must send (use ${VAR}); without one anyone may post"},
    {"max_body", SL_CFG_STR, offsetof(struct http_cfg, max_body), "1MB", 0, NULL,
     "largest request body (KB, MB: 1024-based); a larger one gets 413"},
    {"max_batch", SL_CFG_INT, offsetof(struct http_cfg, max_batch), "50000", 0, NULL,
     "most events in one group commit"},
    {"tls_cert", SL_CFG_STR, offsetof(struct http_cfg, tls_cert), NULL, 0, NULL,
     "PEM certificate (chain) file: serve HTTPS (with tls_key)"},
    {"tls_key", SL_CFG_STR, offsetof(struct http_cfg, tls_key), NULL, 0, NULL,
     "PEM private key file of tls_cert"},
    SL_EVENT_KEYS(struct http_cfg),
    {NULL, 0, 0, NULL, 0, NULL, NULL},
};

static const struct sl_cfg_key publish_keys[] = {
    {"servers", SL_CFG_STRLIST, offsetof(struct publish_cfg, servers), NULL, 1, NULL,
     "NATS servers, e.g. [nats://10.0.0.1:4222, nats://10.0.0.2:4222]"},
    {"subject", SL_CFG_STR, offsetof(struct publish_cfg, subject), NULL, 0, NULL,
     "subject to publish on; default events.<pipeline>"},
    {"stream", SL_CFG_STR, offsetof(struct publish_cfg, stream), NULL, 0, NULL,
     "JetStream stream made for the subject when missing; default: it must exist"},
    {"replicas", SL_CFG_INT, offsetof(struct publish_cfg, replicas), "1", 0, NULL,
     "copies of the stream when it is made"},
    {NULL, 0, 0, NULL, 0, NULL, NULL},
};

static const struct sl_source_block http_blocks[] = {
    {"publish", publish_keys, offsetof(struct http_cfg, publish),
     offsetof(struct http_cfg, publish_given)},
    {NULL, NULL, 0, 0},
};

/* "1MB", "512KB", "1048576": bytes, 1024-based. */
static int parse_size(const char *s, size_t *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || v <= 0)
        return -1;
    while (*end == ' ')
        end++;
    double mul = 1;
    if (*end == 'k' || *end == 'K')
        mul = 1024.0;
    else if (*end == 'm' || *end == 'M')
        mul = 1024.0 * 1024;
    else if (*end == 'g' || *end == 'G')
        mul = 1024.0 * 1024 * 1024;
    else if (*end && *end != 'b' && *end != 'B')
        return -1;
    if (mul > 1) {
        end++;
        if (*end == 'i' || *end == 'I')
            end++;
        if (*end == 'b' || *end == 'B')
            end++;
    } else if (*end) {
        end++;
    }
    if (*end || v * mul > (double)((size_t)1 << 40))
        return -1;
    *out = (size_t)(v * mul);
    return *out ? 0 : -1;
}

static int http_validate(const struct sl_pipeline_cfg *p, const char *cfgfile,
                         struct sl_err *err)
{
    struct http_cfg *hc = p->source_ctx;
    const char *colon = strrchr(hc->listen, ':');

#define AT cfgfile, p->pos.line, p->pos.col, p->name
    if (!colon || !colon[1] || strspn(colon + 1, "0123456789") != strlen(colon + 1))
        return sl_err_set(err, SL_E_CONFIG, "%s:%d:%d: pipeline \"%s\": source: listen \"%s\": "
                          "expected HOST:PORT, like 127.0.0.1:8080", AT, hc->listen);
    if (parse_size(hc->max_body, &hc->max_body_bytes) < 0)
        return sl_err_set(err, SL_E_CONFIG, "%s:%d:%d: pipeline \"%s\": source: max_body "
                          "\"%s\": expected a size like 1MB or 512KB", AT, hc->max_body);
    if (hc->token && !hc->token[0])
        return sl_err_set(err, SL_E_CONFIG, "%s:%d:%d: pipeline \"%s\": source: token is empty "
                          "(is its environment variable set to \"\"?); set a token or remove "
                          "the key", AT);
    if (!hc->tls_cert != !hc->tls_key)
        return sl_err_set(err, SL_E_CONFIG, "%s:%d:%d: pipeline \"%s\": source: HTTPS needs "
                          "both tls_cert and tls_key", AT);
    if (hc->max_batch < 1)
        return sl_err_set(err, SL_E_CONFIG, "%s:%d:%d: pipeline \"%s\": source: max_batch: "
                          "expected a positive whole number", AT);
    if (hc->publish_given && hc->publish.replicas < 1)
        return sl_err_set(err, SL_E_CONFIG, "%s:%d:%d: pipeline \"%s\": source: publish: "
                          "replicas: expected a positive whole number", AT);
#undef AT
    return sl_event_validate(&hc->ev, p, cfgfile, err);
}

/* ---- the collector ---- */

/* The events of the requests that arrived while the previous batch committed. */
struct group {
    struct sl_event_batch *eb;
    int refs;               /* waiting requests + the committer */
    int done;
};

struct collector {
    struct sl_stop_scope *scope;    /* the serving thread's, for the committer */
    const struct sl_config *cfg;
    const struct sl_pipeline_cfg *p;
    const struct http_cfg *hc;
    struct sl_source *src;
    const struct sl_sink *sink; /* the engine's, loading through feed */
    struct sl_feed *feed;
    struct sl_js *js;           /* publishing */
    char *subject;
    struct sl_log_ctx log;

    pthread_mutex_t mu;
    pthread_cond_t work;        /* committer: there are events */
    pthread_cond_t done;        /* requests: a group committed */
    pthread_cond_t room;        /* requests: the pending group has room / idle */
    struct group *pending;
    int closing;                /* no new request is taken */
    int stop;                   /* committer: finish */
    int inflight;               /* requests inside the handler */
    uint64_t seq;
    pthread_t th;
    int th_started;
};

struct listener {
    char *listen;
    const struct sl_config *cfg;    /* which pipelines will listen here */
    struct sl_http *srv;
    struct collector **cols;
    size_t n;
    struct listener *next;
};

/* Listeners by address; handlers look collectors up here. */
static pthread_mutex_t reg_mu = PTHREAD_MUTEX_INITIALIZER;
static struct listener *listeners;

static struct group *group_new(struct collector *c)
{
    char ref[300];
    struct group *g = sl_calloc(1, sizeof *g);
    snprintf(ref, sizeof ref, "http:%s#%" PRIu64, c->p->name, ++c->seq);
    if (!g || !(g->eb = sl_event_batch_new(ref, c->hc->ev.timezone))) {
        sl_free(g);
        return NULL;
    }
    g->refs = 1;    /* the committer's */
    return g;
}

static void group_unref(struct group *g)
{
    if (g && --g->refs == 0) {
        sl_event_batch_free(g->eb);
        sl_free(g);
    }
}

static void *committer(void *arg)
{
    struct collector *c = arg;

    sl_stop_scope_enter(c->scope);
    pthread_mutex_lock(&c->mu);
    for (;;) {
        while (!c->pending->eb->n && !c->stop) {
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            ts.tv_nsec += 200 * 1000000L;
            if (ts.tv_nsec >= 1000000000L) {
                ts.tv_sec++;
                ts.tv_nsec -= 1000000000L;
            }
            pthread_cond_timedwait(&c->work, &c->mu, &ts);
        }
        if (!c->pending->eb->n)
            break;      /* stopping, nothing left */
        struct group *next = group_new(c);
        if (!next) {
            /* out of memory: let this group grow and try again */
            pthread_mutex_unlock(&c->mu);
            sl_retry_sleep(1);
            pthread_mutex_lock(&c->mu);
            continue;
        }
        struct group *g = c->pending;
        c->pending = next;
        pthread_cond_broadcast(&c->room);
        pthread_mutex_unlock(&c->mu);

        sl_event_batch_load(c->sink, c->feed, g->eb);

        pthread_mutex_lock(&c->mu);
        g->done = 1;
        pthread_cond_broadcast(&c->done);
        group_unref(g);
    }
    pthread_mutex_unlock(&c->mu);
    return NULL;
}

/* The request's events as one NDJSON text, one event a line. */
static int ndjson_of(const struct sl_event_slice *ev, size_t n, struct sl_buf *out)
{
    for (size_t i = 0; i < n; i++) {
        size_t at = out->len;
        sl_buf_append(out, ev[i].s, ev[i].n);
        if (out->oom)
            return -1;
        for (size_t k = at; k < out->len; k++)
            if (out->data[k] == '\n' || out->data[k] == '\r')
                out->data[k] = ' ';
        sl_buf_putc(out, '\n');
    }
    return out->oom ? -1 : 0;
}

static int publish(struct collector *c, const struct sl_event_slice *ev, size_t n,
                   struct sl_http_resp *resp)
{
    struct sl_buf body;
    struct sl_err err;
    size_t max = sl_js_max_payload(c->js);
    int rc = 0;

    sl_buf_init(&body);
    sl_err_clear(&err);
    /* messages within the servers' max_payload, cut between events */
    for (size_t i = 0; i < n && rc == 0;) {
        size_t j = i;
        sl_buf_reset(&body);
        while (j < n && (j == i || body.len + ev[j].n + 1 <= max)) {
            if (ndjson_of(&ev[j], 1, &body) < 0) {
                sl_buf_free(&body);
                return -1;
            }
            j++;
        }
        if (body.len > max) {
            sl_buf_free(&body);
            return sl_http_error(resp, 413, "event %zu is %zu bytes, over the %zu bytes a "
                                 "JetStream message may hold", i + 1, ev[i].n, max);
        }
        rc = sl_js_publish(c->js, c->subject, body.data, body.len, &err);
        i = j;
    }
    sl_buf_free(&body);
    if (rc < 0) {
        sl_log(SL_LOG_WARN, &c->log, "could not publish: %s", err.msg);
        resp->header_name = "Retry-After";
        resp->header_value = "1";
        return sl_http_error(resp, 503, "could not publish the events: %s; retry", err.msg);
    }
    char msg[96];
    snprintf(msg, sizeof msg, "{\"accepted\":%zu,\"published\":true}\n", n);
    return sl_http_text(resp, 200, "application/json", msg);
}

static int collect(struct collector *c, const struct sl_event_slice *ev, size_t n,
                   struct sl_http_resp *resp)
{
    const struct sl_event_map *m = sl_event_source_map(c->src);
    struct sl_buf lines, prot, one;
    size_t *ends = sl_malloc((n + 1) * sizeof *ends);
    size_t *pends = sl_malloc((n + 1) * sizeof *pends);
    size_t from, to, dead;
    char msg[1200];
    int protect = 0;

    sl_buf_init(&lines);
    sl_buf_init(&prot);
    sl_buf_init(&one);
    if (!ends || !pends) {
        sl_free(ends);
        sl_free(pends);
        return -1;
    }
    /* protected and mapped here, in the request's own thread: the group
     * only copies (protect: the raw values go no further than this) */
    for (size_t i = 0; i < n; i++) {
        int p = sl_event_protect(m, ev[i].s, ev[i].n, 0, &one);
        if (p < 0 || (p && sl_buf_append(&prot, one.data, one.len) < 0) ||
            sl_event_flatten_protected(m, p ? one.data : ev[i].s, p ? one.len : ev[i].n,
                                       &lines) < 0) {
            sl_buf_free(&lines);
            sl_buf_free(&prot);
            sl_buf_free(&one);
            sl_free(ends);
            sl_free(pends);
            return -1;
        }
        protect = p;
        ends[i] = lines.len;
        pends[i] = prot.len;
    }
    sl_buf_free(&one);

    pthread_mutex_lock(&c->mu);
    /* a full group waits for the committer to take it */
    while (!c->closing && c->pending->eb->n &&
           (c->pending->eb->n + n > (size_t)c->hc->max_batch ||
            c->pending->eb->raw.len + lines.len > MAX_PENDING_BYTES))
        pthread_cond_wait(&c->room, &c->mu);
    if (c->closing) {
        pthread_mutex_unlock(&c->mu);
        sl_buf_free(&lines);
        sl_buf_free(&prot);
        sl_free(ends);
        sl_free(pends);
        resp->header_name = "Retry-After";
        resp->header_value = "1";
        return sl_http_error(resp, 503, "the collector is stopping; retry");
    }
    struct group *g = c->pending;
    from = g->eb->n;
    size_t lines_at = g->eb->lines.len, raw_at = g->eb->raw.len;
    uint64_t bytes_at = g->eb->in.bytes;
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++)
        rc = sl_event_batch_add_flat(g->eb, lines.data + (i ? ends[i - 1] : 0),
                                     ends[i] - (i ? ends[i - 1] : 0),
                                     protect ? prot.data + (i ? pends[i - 1] : 0) : ev[i].s,
                                     protect ? pends[i] - (i ? pends[i - 1] : 0) : ev[i].n, 0);
    if (protect)
        g->eb->in.protected_already = 1;
    if (rc < 0) {
        /* take back what went in: the group must hold whole requests */
        g->eb->n = from;
        g->eb->lines.len = lines_at;
        g->eb->raw.len = raw_at;
        g->eb->lines.oom = g->eb->raw.oom = 0;     /* what is left is whole */
        g->eb->in.bytes = bytes_at;
        pthread_mutex_unlock(&c->mu);
        sl_buf_free(&lines);
        sl_buf_free(&prot);
        sl_free(ends);
        sl_free(pends);
        return -1;
    }
    to = g->eb->n;
    g->refs++;
    pthread_cond_signal(&c->work);
    while (!g->done)
        pthread_cond_wait(&c->done, &c->mu);
    enum sl_outcome o = g->eb->acked ? g->eb->outcome : SL_OUT_RETRY_LATER;
    snprintf(msg, sizeof msg, "%s", g->eb->why);
    dead = sl_event_batch_dead(g->eb, from, to);
    group_unref(g);
    pthread_mutex_unlock(&c->mu);
    sl_buf_free(&lines);
    sl_buf_free(&prot);
    sl_free(ends);
    sl_free(pends);

    char ok[160];
    switch (o) {
    case SL_OUT_COMMITTED:
    case SL_OUT_DUPLICATE:
        /* accepted: what was stored; the rest is in the dead letter table */
        snprintf(ok, sizeof ok, "{\"accepted\":%zu,\"dead_lettered\":%zu}\n", n - dead, dead);
        return sl_http_text(resp, 200, "application/json", ok);
    case SL_OUT_QUARANTINED:
        /* nothing is stored yet: the events wait in quarantine */
        snprintf(ok, sizeof ok, "{\"accepted\":0,\"held\":%zu,\"message\":\"held by a gate "
                 "until sluice approve or reject\"}\n", n);
        return sl_http_text(resp, 202, "application/json", ok);
    case SL_OUT_RETRY_LATER:
        resp->header_name = "Retry-After";
        resp->header_value = "1";
        return sl_http_error(resp, 503, "not stored (%s); retry", msg[0] ? msg : "try again");
    case SL_OUT_FAILED:
        break;
    }
    return sl_http_error(resp, 500, "not stored: %s", msg);
}

static int on_events(void *ctx, const struct sl_http_req *req, struct sl_http_resp *resp)
{
    struct listener *L = ctx;
    const char *name = sl_http_rest(req);
    struct collector *c = NULL;
    int any;

    pthread_mutex_lock(&reg_mu);
    any = L->n > 0;
    for (size_t i = 0; i < L->n && !c; i++)
        if (strcmp(L->cols[i]->p->name, name) == 0)
            c = L->cols[i];
    if (c) {
        pthread_mutex_lock(&c->mu);
        c->inflight++;
        pthread_mutex_unlock(&c->mu);
    }
    pthread_mutex_unlock(&reg_mu);
    if (!c) {
        /* a pipeline of this address that is not serving yet (starting,
         * restarting after an error) or no more (stopping) */
        const struct sl_pipeline_cfg *p = sl_config_pipeline(L->cfg, name);
        if (!any || (p && p->source_ops == &sl_source_http &&
                     strcmp(((const struct http_cfg *)p->source_ctx)->listen, L->listen) == 0)) {
            resp->header_name = "Retry-After";
            resp->header_value = "1";
            return sl_http_error(resp, 503, "pipeline \"%.200s\" is not taking events right "
                                 "now; retry", name);
        }
        return sl_http_error(resp, 404, "no pipeline \"%.200s\" takes events here (POST "
                             "/v1/events/<pipeline>)", name);
    }

    int rc;
    size_t len = 0;
    const char *body = sl_http_body(req, &len);
    struct sl_event_slice *ev = NULL;
    size_t nev = 0;
    char why[600];
    /* the token and max_body were checked on the headers (on_headers) */
    if (sl_events_split(body, len, &ev, &nev, why, sizeof why) < 0) {
        rc = strcmp(why, "out of memory") == 0 ? -1 : sl_http_error(resp, 400, "%s", why);
    } else if (nev == 0) {
        rc = sl_http_text(resp, 200, "application/json", "{\"accepted\":0}\n");
    } else if (c->js) {
        rc = publish(c, ev, nev, resp);
    } else {
        rc = collect(c, ev, nev, resp);
    }
    sl_free(ev);

    pthread_mutex_lock(&c->mu);
    if (--c->inflight == 0)
        pthread_cond_broadcast(&c->room);
    pthread_mutex_unlock(&c->mu);
    return rc;
}

/* When the headers are in, before a byte of the body is read: an unknown
 * pipeline, a missing token, a body announced over the pipeline's own
 * max_body are answered now, so what such a request sends is never kept. */
static int on_headers(void *ctx, const struct sl_http_req *req, size_t *max_body,
                      struct sl_http_resp *resp)
{
    struct listener *L = ctx;
    const struct sl_pipeline_cfg *p = sl_config_pipeline(L->cfg, sl_http_rest(req));
    const struct http_cfg *hc = p && p->source_ops == &sl_source_http ? p->source_ctx : NULL;

    if (!hc || strcmp(hc->listen, L->listen) != 0)
        return on_events(ctx, req, resp) < 0 ? -1 : 1;     /* 404 or 503, no body needed */
    if (hc->token && !sl_http_bearer_ok(req, hc->token)) {
        resp->header_name = "WWW-Authenticate";
        resp->header_value = "Bearer realm=\"sluice\"";
        return sl_http_error(resp, 401, "missing or wrong bearer token") < 0 ? -1 : 1;
    }
    *max_body = hc->max_body_bytes;
    return 0;
}

static char *read_file(const char *path, struct sl_err *err)
{
    FILE *f = fopen(path, "rb");
    struct sl_buf b;
    char buf[8192];
    size_t n;
    if (!f) {
        sl_err_set(err, SL_E_CONFIG, "could not read \"%s\": %s", path, strerror(errno));
        return NULL;
    }
    sl_buf_init(&b);
    while ((n = fread(buf, 1, sizeof buf, f)) > 0)
        sl_buf_append(&b, buf, n);
    fclose(f);
    if (b.oom || !b.data) {
        sl_buf_free(&b);
        sl_err_set(err, SL_E_CONFIG, "could not read \"%s\": %s", path,
                   b.oom ? "out of memory" : "empty file");
        return NULL;
    }
    return sl_buf_steal(&b);
}

/* The largest max_body of the pipelines listening on `listen`. */
static size_t route_limit(const struct sl_config *cfg, const char *listen)
{
    size_t max = 0;
    for (size_t i = 0; i < cfg->npipelines; i++) {
        const struct sl_pipeline_cfg *p = &cfg->pipelines[i];
        const struct http_cfg *hc = p->source_ctx;
        if (p->source_ops == &sl_source_http && strcmp(hc->listen, listen) == 0 &&
            hc->max_body_bytes > max)
            max = hc->max_body_bytes;
    }
    return max;
}

static int attach(struct collector *c, struct sl_err *err)
{
    struct listener *L;
    int rc = -1;

    pthread_mutex_lock(&reg_mu);
    for (L = listeners; L && strcmp(L->listen, c->hc->listen) != 0; L = L->next)
        ;
    if (!L) {
        L = sl_calloc(1, sizeof *L);
        if (!L || !(L->listen = sl_strdup(c->hc->listen))) {
            sl_free(L);
            sl_err_nomem(err);
            goto out;
        }
        L->cfg = c->cfg;
        char *cert = NULL, *key = NULL;
        if (c->hc->tls_cert) {
            char *cp = sl_config_path(c->cfg, c->hc->tls_cert);
            char *kp = sl_config_path(c->cfg, c->hc->tls_key);
            cert = cp ? read_file(cp, err) : NULL;
            key = cert && kp ? read_file(kp, err) : NULL;
            sl_free(cp);
            sl_free(kp);
        }
        const struct sl_config *cf = c->cfg;
        struct sl_http_limits lim = {cf->http_timeout, cf->http_max_conns,
                                     cf->http_max_per_client, cf->http_hosts.items,
                                     cf->http_hosts.n};
        if ((c->hc->tls_cert && (!cert || !key)) || sl_http_new(L->listen, &L->srv, err) < 0 ||
            sl_http_set_limits(L->srv, &lim, err) < 0 ||
            (cert && sl_http_set_tls(L->srv, cert, key, err) < 0) ||
            sl_http_route_check(L->srv, "POST", "/v1/events/", on_headers, on_events, L,
                                route_limit(c->cfg, L->listen)) < 0 ||
            sl_http_start(L->srv, err) < 0) {
            if (!err->msg[0])
                sl_err_nomem(err);
            sl_http_free(L->srv);
            sl_free(cert);
            sl_free(key);
            sl_free(L->listen);
            sl_free(L);
            goto out;
        }
        sl_free(cert);
        sl_free(key);
        L->next = listeners;
        listeners = L;
    }
    struct collector **cols = sl_realloc(L->cols, (L->n + 1) * sizeof *cols);
    if (!cols) {
        sl_err_nomem(err);
        goto out;
    }
    L->cols = cols;
    L->cols[L->n++] = c;
    sl_log(SL_LOG_INFO, &c->log, "collecting events on %s://%s/v1/events/%s (port %d)%s",
           c->hc->tls_cert ? "https" : "http", L->listen, c->p->name, sl_http_port(L->srv),
           c->js ? ", publishing them to JetStream" : "");
    rc = 0;
out:
    pthread_mutex_unlock(&reg_mu);
    return rc;
}

/* Take c off its listener; the last one out stops the server. */
static void detach(struct collector *c)
{
    struct listener *L, **pp, *gone = NULL;

    pthread_mutex_lock(&reg_mu);
    for (pp = &listeners; (L = *pp); pp = &L->next) {
        size_t i = 0;
        while (i < L->n && L->cols[i] != c)
            i++;
        if (i == L->n)
            continue;
        L->cols[i] = L->cols[--L->n];
        if (L->n == 0) {
            *pp = L->next;
            gone = L;
        }
        break;
    }
    pthread_mutex_unlock(&reg_mu);
    if (gone) {
        /* waits for the handlers still running: they find no collector */
        sl_http_free(gone->srv);
        sl_free(gone->cols);
        sl_free(gone->listen);
        sl_free(gone);
    }
}

static void collector_free(struct collector *c)
{
    if (!c)
        return;
    if (c->pending)
        group_unref(c->pending);
    if (c->feed)
        c->sink->close(c->feed);
    sl_js_close(c->js);
    sl_event_close(c->src);
    sl_free(c->subject);
    pthread_cond_destroy(&c->work);
    pthread_cond_destroy(&c->done);
    pthread_cond_destroy(&c->room);
    pthread_mutex_destroy(&c->mu);
    sl_free(c);
}

static int http_serve(const struct sl_config *cfg, const struct sl_pipeline_cfg *p,
                      const struct sl_sink *sink, struct sl_err *err)
{
    const struct http_cfg *hc = p->source_ctx;
    struct collector *c = sl_calloc(1, sizeof *c);
    if (!c)
        return sl_err_nomem(err);
    c->cfg = cfg;
    c->p = p;
    c->sink = sink;
    c->hc = hc;
    c->log.pipeline = p->name;
    c->log.table = p->tables[0].name;
    pthread_mutex_init(&c->mu, NULL);
    pthread_cond_init(&c->work, NULL);
    pthread_cond_init(&c->done, NULL);
    pthread_cond_init(&c->room, NULL);

    if (sl_event_source_open(&c->src, cfg, p, &p->tables[0], &hc->ev, err) < 0)
        goto fail;
    if (hc->publish_given) {
        struct sl_buf subj;
        sl_buf_init(&subj);
        if (hc->publish.subject)
            sl_buf_puts(&subj, hc->publish.subject);
        else
            sl_buf_printf(&subj, "events.%s", p->name);
        if (subj.oom) {
            sl_err_nomem(err);
            goto fail;
        }
        c->subject = sl_buf_steal(&subj);
        if (sl_js_open(&hc->publish.servers, p->name, &c->js, err) < 0)
            goto fail;
        if (hc->publish.stream &&
            sl_js_ensure_stream(c->js, hc->publish.stream, c->subject, hc->publish.replicas,
                                err) < 0)
            goto fail;
    } else {
        if (sink->open(cfg, p, &p->tables[0], c->src, &c->feed, err) < 0)
            goto fail;
        if (!(c->pending = group_new(c))) {
            sl_err_nomem(err);
            goto fail;
        }
        c->scope = sl_stop_scope_current();
        if (pthread_create(&c->th, NULL, committer, c) != 0) {
            sl_err_set(err, SL_E_INTERNAL, "could not start the committer thread");
            goto fail;
        }
        c->th_started = 1;
    }
    if (!hc->token)
        sl_log(SL_LOG_WARN, &c->log, "no token (source: { token: ... }): anyone who reaches %s "
               "may post events", hc->listen);
    if (attach(c, err) < 0)
        goto fail;

    while (!sl_stopping()) {
        struct timespec ts = {0, 100 * 1000000L};
        nanosleep(&ts, NULL);
    }

    /* stop: no new request finds us; those inside finish (their group
     * commits); then the committer ends */
    detach(c);
    pthread_mutex_lock(&c->mu);
    c->closing = 1;
    pthread_cond_broadcast(&c->room);
    while (c->inflight)
        pthread_cond_wait(&c->room, &c->mu);
    c->stop = 1;
    pthread_cond_signal(&c->work);
    pthread_mutex_unlock(&c->mu);
    if (c->th_started)
        pthread_join(c->th, NULL);
    sl_log(SL_LOG_INFO, &c->log, "collector stopped");
    collector_free(c);
    return 0;

fail:
    if (c->th_started) {
        pthread_mutex_lock(&c->mu);
        c->stop = 1;
        pthread_cond_signal(&c->work);
        pthread_mutex_unlock(&c->mu);
        pthread_join(c->th, NULL);
    }
    collector_free(c);
    return -1;
}

const struct sl_source_ops sl_source_http = {
    .kind = "http",
    .keys = http_keys,
    .blocks = http_blocks,
    .ctx_size = sizeof(struct http_cfg),
    .validate = http_validate,
    .serve = http_serve,
    SL_EVENT_SOURCE_OPS,
};
