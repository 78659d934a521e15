/* sources/jetstream.c: the jetstream source, the events source (events.h)
 * taking its events from a JetStream stream; and the libnats wrapper (see
 * jetstream.h) the http source publishes through too.
 *
 *   source: { kind: jetstream, servers: [...], stream: EVENTS,
 *             subject: "events.>", durable: loaders }
 *
 * `sluice daemon` consumes the stream with a durable pull consumer: each
 * fetch of up to `batch` messages (each message one or more events: a JSON
 * object, an array, or NDJSON) is one batch through the engine, and each
 * message is acked only after that batch committed. Any number of daemons
 * may share one durable consumer: JetStream hands each message to one of
 * them, and a message whose worker died before acking is redelivered after
 * ack_wait to another. A redelivered event that had committed already is
 * stored once: its id is the table's primary key (skip_existing). */
#include "sources/jetstream.h"

#include <inttypes.h>
#include <nats/nats.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/log.h"
#include "base/mem.h"
#include "base/stop.h"
#include "sources/events.h"

/* ---- the libnats wrapper ---- */

struct sl_js {
    natsConnection *nc;
    jsCtx *js;
};

static int nats_fail(struct sl_err *err, natsStatus s, const char *what)
{
    const char *last = nats_GetLastError(NULL);
    return sl_err_retry(err, SL_E_SOURCE, "%s: %s%s%s", what, natsStatus_GetText(s),
                        last && *last ? ": " : "", last && *last ? last : "");
}

int sl_js_open(const struct sl_strlist *servers, const char *name, struct sl_js **out,
               struct sl_err *err)
{
    natsOptions *o = NULL;
    natsStatus s;
    struct sl_js *j = sl_calloc(1, sizeof *j);

    *out = NULL;
    if (!j)
        return sl_err_nomem(err);
    s = natsOptions_Create(&o);
    if (s == NATS_OK)
        s = natsOptions_SetServers(o, (const char **)servers->items, (int)servers->n);
    if (s == NATS_OK)
        s = natsOptions_SetName(o, name);
    if (s == NATS_OK)
        s = natsOptions_SetMaxReconnect(o, -1);     /* for ever: a node may come back */
    if (s == NATS_OK)
        s = natsOptions_SetReconnectWait(o, 250);
    if (s == NATS_OK)
        s = natsOptions_SetTimeout(o, 2000);
    if (s == NATS_OK)
        s = natsConnection_Connect(&j->nc, o);
    natsOptions_Destroy(o);
    if (s != NATS_OK) {
        sl_free(j);
        return nats_fail(err, s, "could not connect to NATS");
    }
    jsOptions jo;
    jsOptions_Init(&jo);
    jo.Wait = 10000;    /* a cluster electing a leader answers late */
    s = natsConnection_JetStream(&j->js, j->nc, &jo);
    if (s != NATS_OK) {
        sl_js_close(j);
        return nats_fail(err, s, "could not use JetStream");
    }
    *out = j;
    return 0;
}

void sl_js_close(struct sl_js *j)
{
    if (!j)
        return;
    jsCtx_Destroy(j->js);
    if (j->nc) {
        natsConnection_Close(j->nc);
        natsConnection_Destroy(j->nc);
    }
    sl_free(j);
}

int sl_js_ensure_stream(struct sl_js *j, const char *stream, const char *subject,
                        long replicas, struct sl_err *err)
{
    jsStreamInfo *si = NULL;
    jsErrCode jerr = 0;
    natsStatus s = js_GetStreamInfo(&si, j->js, stream, NULL, &jerr);
    if (s == NATS_OK) {
        jsStreamInfo_Destroy(si);
        return 0;
    }
    if (s != NATS_NOT_FOUND && jerr != JSStreamNotFoundErr)
        return nats_fail(err, s, "could not look up the JetStream stream");
    jsStreamConfig sc;
    jsStreamConfig_Init(&sc);
    const char *subjects[] = {subject};
    sc.Name = stream;
    sc.Subjects = subjects;
    sc.SubjectsLen = 1;
    sc.Storage = js_FileStorage;
    sc.Replicas = replicas;
    jerr = 0;
    s = js_AddStream(&si, j->js, &sc, NULL, &jerr);
    jsStreamInfo_Destroy(si);
    if (s != NATS_OK && jerr != JSStreamNameExistErr)   /* made meanwhile by another */
        return nats_fail(err, s, "could not create the JetStream stream");
    return 0;
}

int sl_js_publish(struct sl_js *j, const char *subject, const void *data, size_t n,
                  struct sl_err *err)
{
    jsErrCode jerr = 0;
    natsStatus s = js_Publish(NULL, j->js, subject, data, (int)n, NULL, &jerr);
    if (s != NATS_OK)
        return nats_fail(err, s, "JetStream did not acknowledge the publish");
    return 0;
}

size_t sl_js_max_payload(struct sl_js *j)
{
    int64_t m = natsConnection_GetMaxPayload(j->nc);
    return m > 0 ? (size_t)m : 1024 * 1024;
}

/* ---- the source ---- */

struct js_cfg {
    struct sl_event_cfg ev;     /* first: events.c reads it */
    struct sl_strlist servers;
    char *stream;
    char *subject;
    char *durable;
    long batch;
    double ack_wait;
    double max_wait;
    long replicas;
};

static const struct sl_cfg_key js_keys[] = {
    {"servers", SL_CFG_STRLIST, offsetof(struct js_cfg, servers), NULL, 1, NULL,
     "NATS servers, e.g. [nats://10.0.0.1:4222, nats://10.0.0.2:4222]"},
    {"stream", SL_CFG_STR, offsetof(struct js_cfg, stream), NULL, 1, NULL,
     "the JetStream stream (made with subjects [subject] when missing)"},
    {"subject", SL_CFG_STR, offsetof(struct js_cfg, subject), NULL, 1, NULL,
     "subject the consumer takes, e.g. \"events.>\""},
    {"durable", SL_CFG_STR, offsetof(struct js_cfg, durable), NULL, 1, NULL,
     "durable consumer name: daemons with the same one share the work"},
    {"batch", SL_CFG_INT, offsetof(struct js_cfg, batch), "256", 0, NULL,
     "most messages in one batch"},
    {"ack_wait", SL_CFG_DURATION, offsetof(struct js_cfg, ack_wait), "30s", 0, NULL,
     "a message not acked this long is redelivered (to any worker)"},
    {"max_wait", SL_CFG_DURATION, offsetof(struct js_cfg, max_wait), "1s", 0, NULL,
     "longest wait for messages before looking again"},
    {"replicas", SL_CFG_INT, offsetof(struct js_cfg, replicas), "1", 0, NULL,
     "copies of the stream when it is made"},
    SL_EVENT_KEYS(struct js_cfg),
    {NULL, 0, 0, NULL, 0, NULL, NULL},
};

static int js_validate(const struct sl_pipeline_cfg *p, const char *cfgfile, struct sl_err *err)
{
    const struct js_cfg *jc = p->source_ctx;
    if (jc->batch < 1 || jc->replicas < 1 || jc->ack_wait <= 0 || jc->max_wait <= 0)
        return sl_err_set(err, SL_E_CONFIG, "%s:%d:%d: pipeline \"%s\": source: batch and "
                          "replicas must be positive, ack_wait and max_wait above zero",
                          cfgfile, p->pos.line, p->pos.col, p->name);
    if (!jc->servers.n)
        return sl_err_set(err, SL_E_CONFIG, "%s:%d:%d: pipeline \"%s\": source: servers: "
                          "name at least one NATS server", cfgfile, p->pos.line, p->pos.col,
                          p->name);
    return sl_event_validate(&jc->ev, p, cfgfile, err);
}

/* Sleep up to `ms`, in steps, unless the daemon stops. */
static void nap(long ms)
{
    while (ms > 0 && !sl_stopping()) {
        long step = ms < 100 ? ms : 100;
        struct timespec ts = {0, step * 1000000L};
        nanosleep(&ts, NULL);
        ms -= step;
    }
}

struct consumer {
    const struct js_cfg *jc;
    struct sl_js *j;
    natsSubscription *sub;
    struct sl_log_ctx log;
};

static void consumer_drop(struct consumer *k)
{
    if (k->sub)
        natsSubscription_Destroy(k->sub);
    k->sub = NULL;
    sl_js_close(k->j);
    k->j = NULL;
}

static int consumer_start(struct consumer *k, const char *name, struct sl_err *err)
{
    const struct js_cfg *jc = k->jc;
    jsSubOptions so;
    jsErrCode jerr = 0;

    if (sl_js_open(&jc->servers, name, &k->j, err) < 0 ||
        sl_js_ensure_stream(k->j, jc->stream, jc->subject, jc->replicas, err) < 0)
        goto fail;
    jsSubOptions_Init(&so);
    so.Stream = jc->stream;
    so.Config.Durable = jc->durable;
    so.Config.AckPolicy = js_AckExplicit;
    so.Config.AckWait = (int64_t)(jc->ack_wait * 1e9);
    so.Config.MaxAckPending = 100000;
    natsStatus s = js_PullSubscribe(&k->sub, k->j->js, jc->subject, jc->durable, NULL, &so,
                                    &jerr);
    if (s != NATS_OK) {
        nats_fail(err, s, "could not subscribe to the JetStream consumer");
        goto fail;
    }
    return 0;
fail:
    consumer_drop(k);
    return -1;
}

static void settle(natsMsgList *list, enum sl_outcome o, const struct sl_log_ctx *log)
{
    for (int i = 0; i < list->Count; i++) {
        natsStatus s;
        if (o == SL_OUT_COMMITTED || o == SL_OUT_DUPLICATE || o == SL_OUT_QUARANTINED)
            s = natsMsg_Ack(list->Msgs[i], NULL);
        else    /* not stored: JetStream hands it out again later */
            s = natsMsg_NakWithDelay(list->Msgs[i], o == SL_OUT_FAILED ? 30000 : 1000, NULL);
        if (s != NATS_OK)   /* the message comes back after ack_wait; stored once anyway */
            sl_log(SL_LOG_DEBUG, log, "could not ack a message: %s", natsStatus_GetText(s));
    }
}

static int js_serve(const struct sl_config *cfg, const struct sl_pipeline_cfg *p,
                    const struct sl_sink *sink, struct sl_err *err)
{
    const struct js_cfg *jc = p->source_ctx;
    struct consumer k = {jc, NULL, NULL, {p->name, p->tables[0].name, 0}};
    struct sl_source *src = NULL;
    struct sl_feed *feed = NULL;
    struct sl_event_batch *eb = NULL;
    uint64_t seq = 0;
    long backoff = 250;
    int failing = 0;        /* fetches failing in a row */
    char ref[300];

    if (sl_event_source_open(&src, cfg, p, &p->tables[0], &jc->ev, err) < 0)
        return -1;
    if (sink->open(cfg, p, &p->tables[0], src, &feed, err) < 0) {
        sl_event_close(src);
        return -1;
    }
    const struct sl_event_map *map = sl_event_source_map(src);
    if (!(eb = sl_event_batch_new("jetstream", jc->ev.timezone))) {
        sink->close(feed);
        sl_event_close(src);
        return sl_err_nomem(err);
    }
    while (!sl_stopping()) {
        if (!k.sub) {
            struct sl_err e;
            sl_err_clear(&e);
            if (consumer_start(&k, p->name, &e) < 0) {
                sl_log(SL_LOG_WARN, &k.log, "%s; retrying in %ld ms", e.msg, backoff);
                nap(backoff);
                backoff = backoff < 5000 ? backoff * 2 : 5000;
                continue;
            }
            backoff = 250;
            sl_log(SL_LOG_INFO, &k.log, "consuming stream %s (%s) as durable consumer %s",
                   jc->stream, jc->subject, jc->durable);
        }
        natsMsgList list = {0};
        natsStatus s = natsSubscription_Fetch(&list, k.sub, (int)jc->batch,
                                              (int64_t)(jc->max_wait * 1000), NULL);
        if (s == NATS_TIMEOUT && list.Count == 0)
            continue;
        if (s != NATS_OK && list.Count == 0) {
            /* the library reconnects by itself and a cluster may be electing;
             * failing for long (the consumer deleted?): subscribe again */
            sl_log(SL_LOG_DEBUG, &k.log, "fetch: %s", natsStatus_GetText(s));
            if (++failing >= 50) {
                sl_log(SL_LOG_WARN, &k.log, "fetch keeps failing (%s); subscribing again",
                       natsStatus_GetText(s));
                consumer_drop(&k);
                failing = 0;
            }
            nap(200);
            continue;
        }
        failing = 0;
        snprintf(ref, sizeof ref, "jetstream:%s/%s#%" PRIu64, jc->stream, jc->durable, ++seq);
        int rc = sl_event_batch_reset(eb, ref);
        for (int i = 0; i < list.Count && rc == 0; i++) {
            const char *data = natsMsg_GetData(list.Msgs[i]);
            size_t n = (size_t)natsMsg_GetDataLength(list.Msgs[i]);
            struct sl_event_slice *ev = NULL;
            size_t nev = 0;
            char why[600];
            if (sl_events_split(data ? data : "", n, &ev, &nev, why, sizeof why) == 0) {
                for (size_t e = 0; e < nev && rc == 0; e++)
                    rc = sl_event_batch_add(eb, map, ev[e].s, ev[e].n, 0);
            } else if (strcmp(why, "out of memory") == 0) {
                rc = -1;
            } else {
                /* not events: the whole message goes to the dead letter table */
                char msg[700];
                snprintf(msg, sizeof msg, "the message is not events: %s", why);
                rc = sl_event_batch_add_bad(eb, data ? data : "", n, msg, 0);
            }
            sl_free(ev);
        }
        if (rc < 0) {
            sl_log(SL_LOG_ERROR, &k.log, "out of memory reading %d messages", list.Count);
            settle(&list, SL_OUT_RETRY_LATER, &k.log);
        } else {
            sl_event_batch_load(sink, feed, eb);
            settle(&list, eb->acked ? eb->outcome : SL_OUT_RETRY_LATER, &k.log);
        }
        natsMsgList_Destroy(&list);
    }
    consumer_drop(&k);
    sl_event_batch_free(eb);
    sink->close(feed);
    sl_event_close(src);
    sl_log(SL_LOG_INFO, &k.log, "consumer stopped");
    return 0;
}

const struct sl_source_ops sl_source_jetstream = {
    .kind = "jetstream",
    .keys = js_keys,
    .ctx_size = sizeof(struct js_cfg),
    .validate = js_validate,
    .serve = js_serve,
    SL_EVENT_SOURCE_OPS,
};
