/* obs/alert.c: alert webhooks (see alert.h). The only user of libcurl. */
#include "obs/alert.h"

#include <curl/curl.h>
#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/json.h"
#include "base/mem.h"
#include "base/value.h"
#include "base/log.h"

#define DEFAULT_ATTEMPTS 4
#define DEFAULT_BASE_MS 500
#define DEFAULT_TIMEOUT_MS 5000
#define MAX_BACKOFF_MS 30000
#define MAX_RETRY_AFTER_MS 10000    /* a server's Retry-After, honoured up to this */
#define REPLY_KEEP 240              /* bytes of a refusing server's reply kept for the message */
#define PD_SUMMARY_MAX 1024         /* Events API v2 limits */
#define PD_DEDUP_MAX 255
#define SLACK_SECTION_MAX 3000

enum fmt { FMT_GENERIC, FMT_SLACK, FMT_PAGERDUTY };

/* ---- libcurl's global state: initialised once, on first send ---- */

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_state = CURLE_FAILED_INIT;
static int curl_shut;

static void curl_setup(void)
{
    curl_state = curl_global_init(CURL_GLOBAL_DEFAULT);
}

void sl_alert_shutdown(void)
{
    if (curl_state == CURLE_OK)
        curl_global_cleanup();
    curl_state = CURLE_FAILED_INIT;
    curl_shut = 1;
}

/* ---- small helpers ---- */

static long env_long(const char *name, long def, long lo, long hi)
{
    const char *s = getenv(name);
    char *end;

    if (!s || !*s)
        return def;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || *end || v < lo || v > hi)
        return def;
    return v;
}

static int format_of(const char *name, enum fmt *out)
{
    if (!name || strcmp(name, "generic") == 0)
        *out = FMT_GENERIC;
    else if (strcmp(name, "slack") == 0)
        *out = FMT_SLACK;
    else if (strcmp(name, "pagerduty") == 0)
        *out = FMT_PAGERDUTY;
    else
        return -1;
    return 0;
}

/* Shorten s (NUL-terminated, in a buffer) to at most max bytes without
 * cutting a UTF-8 sequence, marking the cut with "...". */
static void truncate_utf8(char *s, size_t max)
{
    size_t n = strlen(s);
    if (n <= max || max < 4)
        return;
    size_t cut = max - 3;
    while (cut > 0 && ((unsigned char)s[cut] & 0xC0) == 0x80)
        cut--;
    memcpy(s + cut, "...", 4);
}

/* After an snprintf into buf[size] that wrote `n`: if it was cut, cut it
 * again on a UTF-8 boundary and say so. */
static void fit(char *buf, size_t size, int n)
{
    if (n >= 0 && (size_t)n >= size)
        truncate_utf8(buf, size - 2);
}

/* Control characters (newlines, tabs) become spaces: a summary is one line. */
static void one_line(char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f)
            *s = ' ';
}

/* A JSON string for s; NULL gives JSON null. jansson refuses text that is not
 * UTF-8 (a Latin-1 file name, say): then the ASCII is kept and other bytes
 * become '?', since an alert with a mangled name beats no alert. */
static json_t *jstr(const char *s)
{
    if (!s)
        return json_null();
    json_t *j = json_string(s);
    if (j)
        return j;
    char *t = sl_strdup(s);
    if (!t)
        return NULL;
    for (char *p = t; *p; p++)
        if ((unsigned char)*p >= 0x80)
            *p = '?';
    j = json_string(t);
    sl_free(t);
    return j;
}

/* json_object_set_new that remembers a failure (jansson returns NULL on out of
 * memory, and set_new then frees the value and fails). */
static void put(json_t *o, const char *key, json_t *v, int *bad)
{
    if (json_object_set_new(o, key, v) < 0)
        *bad = 1;
}

static void hostname(char *out, size_t n)
{
    if (gethostname(out, n) != 0 || !out[0])
        snprintf(out, n, "unknown");
    out[n - 1] = '\0';
}

/* ---- payloads ---- */

/* The details object is spliced into the dumped text as the caller wrote it:
 * jansson would turn 12.30 into 12.300000000000001 and refuse a 25-digit
 * integer. Its slot holds this marker string until then. Inside a dumped
 * string every '"' is escaped, so the needle (which has an unescaped ":")
 * can only match the one "details" member that holds the marker. */
static const char details_mark[] = "\001sluice-details\001";
static const char details_needle[] = "\"details\":\"\\u0001sluice-details\\u0001\"";

struct view {
    const struct sl_alert *a;
    char line[1200];        /* the readable one-line text */
    char at[32];            /* UTC, milliseconds */
    char host[256];
    int raw_details;        /* details_json is a valid object: splice it */
};

/* "[sluice] QUARANTINED orders_drops/orders batch 12: size gate failed: ..." */
static void make_line(struct view *v)
{
    const struct sl_alert *a = v->a;
    char ev[64];
    size_t i;

    for (i = 0; a->event[i] && i < sizeof ev - 1; i++) {
        char ch = a->event[i];
        ev[i] = (ch >= 'a' && ch <= 'z') ? (char)(ch - 'a' + 'A') : ch;
    }
    ev[i] = '\0';

    char where[600] = "";
    if (a->pipeline && a->table)
        snprintf(where, sizeof where, " %s/%s", a->pipeline, a->table);
    else if (a->pipeline || a->table)
        snprintf(where, sizeof where, " %s", a->pipeline ? a->pipeline : a->table);
    char batch[40] = "";
    if (a->batch)
        snprintf(batch, sizeof batch, " batch %" PRId64, a->batch);
    int n = snprintf(v->line, sizeof v->line, "[sluice] %s%s%s%s%s%s",
                     a->resolve ? "RESOLVED " : "", ev, where, batch,
                     a->summary && a->summary[0] ? ": " : "", a->summary ? a->summary : "");
    fit(v->line, sizeof v->line, n);
    one_line(v->line);
}

static int details_are_object(const char *s)
{
    size_t n = strlen(s);
    size_t i = sl_json_skip_ws(s, n, 0);
    return i < n && s[i] == '{' && sl_json_validate(s, n, NULL, NULL, 0) == 0;
}

/* The "details" value: the marker (spliced later), {} when there are none,
 * or the text kept as a string when it is not a JSON object. */
static json_t *details_value(const struct view *v)
{
    if (v->raw_details)
        return json_string(details_mark);
    if (!v->a->details_json)
        return json_object();
    json_t *o = json_object();
    int bad = 0;
    put(o, "unparsed", jstr(v->a->details_json), &bad);
    if (bad) {
        json_decref(o);
        return NULL;
    }
    return o;
}

static json_t *batch_value(int64_t b)
{
    return b ? json_integer((json_int_t)b) : json_null();
}

static json_t *build_generic(const struct view *v, int *bad)
{
    const struct sl_alert *a = v->a;
    json_t *o = json_object();

    put(o, "event", jstr(a->event), bad);
    put(o, "status", json_string(a->resolve ? "resolved" : "firing"), bad);
    put(o, "pipeline", jstr(a->pipeline), bad);
    put(o, "table", jstr(a->table), bad);
    put(o, "batch", batch_value(a->batch), bad);
    put(o, "summary", jstr(a->summary), bad);
    put(o, "details", details_value(v), bad);
    put(o, "at", json_string(v->at), bad);
    put(o, "source", json_string("sluice"), bad);
    put(o, "host", jstr(v->host), bad);
    return o;
}

/* Slack reads &, < and > in text as markup: those three are escaped, nothing
 * else (https://api.slack.com/reference/surfaces/formatting#escaping). */
static int slack_escape(struct sl_buf *b, const char *s)
{
    for (; *s; s++) {
        switch (*s) {
        case '&': sl_buf_puts(b, "&amp;"); break;
        case '<': sl_buf_puts(b, "&lt;"); break;
        case '>': sl_buf_puts(b, "&gt;"); break;
        default: sl_buf_putc(b, *s); break;
        }
    }
    return b->oom ? -1 : 0;
}

static json_t *slack_section(const char *mrkdwn, int *bad)
{
    json_t *s = json_object(), *t = json_object();
    char cut[SLACK_SECTION_MAX + 1];    /* Slack refuses longer section text */
    fit(cut, sizeof cut, snprintf(cut, sizeof cut, "%s", mrkdwn));
    put(t, "type", json_string("mrkdwn"), bad);
    put(t, "text", jstr(cut), bad);
    put(s, "type", json_string("section"), bad);
    put(s, "text", t, bad);
    return s;
}

static json_t *build_slack(const struct view *v, int *bad)
{
    const struct sl_alert *a = v->a;
    struct sl_buf text, block;
    json_t *o = json_object(), *blocks = json_array();

    sl_buf_init(&text);
    sl_buf_init(&block);
    if (slack_escape(&text, v->line) < 0)
        *bad = 1;
    put(o, "text", jstr(text.data ? text.data : ""), bad);

    /* blocks: the line, the details as a code block when there are any, and
     * where it came from */
    if (json_array_append_new(blocks, slack_section(text.data ? text.data : "", bad)) < 0)
        *bad = 1;
    if (a->details_json) {
        char body[SLACK_SECTION_MAX - 6];     /* and ``` on each side */
        struct sl_buf esc;
        sl_buf_init(&esc);
        if (slack_escape(&esc, a->details_json) < 0)
            *bad = 1;
        fit(body, sizeof body, snprintf(body, sizeof body, "%s", esc.data ? esc.data : ""));
        sl_buf_printf(&block, "```%s```", body);
        sl_buf_free(&esc);
        if (block.oom ||
            json_array_append_new(blocks, slack_section(block.data, bad)) < 0)
            *bad = 1;
    }
    json_t *ctx = json_object(), *els = json_array(), *el = json_object();
    char from[400];
    snprintf(from, sizeof from, "sluice@%s, %s", v->host, v->at);
    put(el, "type", json_string("plain_text"), bad);
    put(el, "text", jstr(from), bad);
    if (json_array_append_new(els, el) < 0)
        *bad = 1;
    put(ctx, "type", json_string("context"), bad);
    put(ctx, "elements", els, bad);
    if (json_array_append_new(blocks, ctx) < 0)
        *bad = 1;
    put(o, "blocks", blocks, bad);
    sl_buf_free(&text);
    sl_buf_free(&block);
    return o;
}

/* A lost load needs someone now; drift and staleness can wait for morning. */
static const char *severity(const char *event)
{
    return strcmp(event, "failed") == 0 || strcmp(event, "quarantined") == 0 ? "error"
                                                                             : "warning";
}

static json_t *build_pagerduty(const struct sl_alert_cfg *w, const struct view *v, int *bad)
{
    const struct sl_alert *a = v->a;
    json_t *o = json_object(), *p = json_object(), *cd = json_object();
    char dedup[PD_DEDUP_MAX + 1], summary[PD_SUMMARY_MAX + 1], source[300];

    /* the same key for trigger and resolve: one incident per table and event */
    fit(dedup, sizeof dedup,
        snprintf(dedup, sizeof dedup, "sluice/%s/%s/%s", a->pipeline ? a->pipeline : "",
                 a->table ? a->table : "", a->event));
    fit(summary, sizeof summary, snprintf(summary, sizeof summary, "%s", v->line));
    snprintf(source, sizeof source, "sluice@%s", v->host);

    put(o, "routing_key", jstr(w->routing_key ? w->routing_key : ""), bad);
    put(o, "event_action", json_string(a->resolve ? "resolve" : "trigger"), bad);
    put(o, "dedup_key", jstr(dedup), bad);
    put(o, "client", json_string("sluice"), bad);

    put(p, "summary", jstr(summary), bad);
    put(p, "source", jstr(source), bad);
    put(p, "severity", json_string(severity(a->event)), bad);
    put(p, "timestamp", json_string(v->at), bad);
    put(p, "class", jstr(a->event), bad);
    if (a->pipeline)
        put(p, "group", jstr(a->pipeline), bad);
    if (a->table)
        put(p, "component", jstr(a->table), bad);

    put(cd, "event", jstr(a->event), bad);
    put(cd, "pipeline", jstr(a->pipeline), bad);
    put(cd, "table", jstr(a->table), bad);
    put(cd, "batch", batch_value(a->batch), bad);
    put(cd, "summary", jstr(a->summary), bad);
    put(cd, "details", details_value(v), bad);
    put(p, "custom_details", cd, bad);
    put(o, "payload", p, bad);
    return o;
}

/* Copy the JSON value s[0..n) (checked) to out without the members whose
 * key holds "example": the values a gate report quotes from the data (the
 * rules', keys' and timestamps' examples). An alert carries no data values:
 * the ledger and `sluice batches` keep the report whole for those who may
 * see it; a webhook goes out of sluice. */
static int copy_without_examples(const char *s, size_t n, struct sl_buf *out, int depth)
{
    struct sl_json_token tk;
    if (depth > SL_JSON_MAX_DEPTH || sl_json_scan(s, n, &tk, NULL, NULL, 0) < 0)
        return -1;
    if (tk.kind != SL_JSON_OBJECT && tk.kind != SL_JSON_ARRAY)
        return sl_buf_append(out, s, tk.len);
    int obj = tk.kind == SL_JSON_OBJECT, any = 0;
    size_t i = sl_json_skip_ws(s, tk.len, 1);
    sl_buf_putc(out, obj ? '{' : '[');
    while (i < tk.len && s[i] != '}' && s[i] != ']') {
        struct sl_json_token kt, vt;
        size_t ks = i;
        int skip = 0;
        if (obj) {
            if (sl_json_scan(s + i, tk.len - i, &kt, NULL, NULL, 0) < 0)
                return -1;
            skip = memmem(s + i, kt.len, "example", 7) != NULL;
            i = sl_json_skip_ws(s, tk.len, i + kt.len);
            i = sl_json_skip_ws(s, tk.len, i + 1);      /* the ':' */
        }
        if (sl_json_scan(s + i, tk.len - i, &vt, NULL, NULL, 0) < 0)
            return -1;
        if (!skip) {
            if (any++)
                sl_buf_putc(out, ',');
            if (obj) {
                sl_buf_append(out, s + ks, kt.len);
                sl_buf_putc(out, ':');
            }
            if (copy_without_examples(s + i, tk.len - i, out, depth + 1) < 0)
                return -1;
        }
        i = sl_json_skip_ws(s, tk.len, i + vt.len);
        if (i < tk.len && s[i] == ',')
            i = sl_json_skip_ws(s, tk.len, i + 1);
    }
    sl_buf_putc(out, obj ? '}' : ']');
    return out->oom ? -1 : 0;
}

static char *build_payload(const struct sl_alert_cfg *w, const struct sl_alert *a,
                           struct sl_err *err);

char *sl_alert_payload(const struct sl_alert_cfg *w, const struct sl_alert *in,
                       struct sl_err *err)
{
    struct sl_alert copy;
    const struct sl_alert *a = in;
    struct sl_buf clean;

    sl_buf_init(&clean);
    if (in && in->details_json && strstr(in->details_json, "example")) {
        size_t dn = strlen(in->details_json);
        size_t i = sl_json_skip_ws(in->details_json, dn, 0);
        if (sl_json_validate(in->details_json, dn, NULL, NULL, 0) == 0 &&
            copy_without_examples(in->details_json + i, dn - i, &clean, 0) == 0 &&
            sl_buf_putc(&clean, '\0') == 0) {
            copy = *in;
            copy.details_json = clean.data;
            a = &copy;
        }
    }
    char *res = build_payload(w, a, err);
    sl_buf_free(&clean);
    return res;
}

static char *build_payload(const struct sl_alert_cfg *w, const struct sl_alert *a,
                           struct sl_err *err)
{
    struct view v;
    enum fmt f;
    int bad = 0;
    json_t *root;

    if (!a || !a->event || !a->event[0]) {
        sl_err_set(err, SL_E_INTERNAL, "alert without an event name");
        return NULL;
    }
    if (format_of(w->format, &f) < 0) {
        sl_err_set(err, SL_E_CONFIG,
                   "unknown alert format \"%s\" (expected generic, slack or pagerduty)",
                   w->format);
        return NULL;
    }
    memset(&v, 0, sizeof v);
    v.a = a;
    v.raw_details = a->details_json && details_are_object(a->details_json);
    make_line(&v);
    sl_time_format(sl_time_now(), v.at);
    memcpy(v.at + 23, "Z", 2);      /* milliseconds are enough */
    hostname(v.host, sizeof v.host);

    switch (f) {
    case FMT_SLACK: root = build_slack(&v, &bad); break;
    case FMT_PAGERDUTY: root = build_pagerduty(w, &v, &bad); break;
    default: root = build_generic(&v, &bad); break;
    }
    char *dumped = bad ? NULL : json_dumps(root, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(root);
    if (!dumped) {
        sl_err_set(err, SL_E_NOMEM, "out of memory building the %s alert payload",
                   w->format ? w->format : "generic");
        return NULL;
    }

    struct sl_buf out;
    sl_buf_init(&out);
    const char *at = v.raw_details ? strstr(dumped, details_needle) : NULL;
    if (at) {
        size_t keylen = strlen("\"details\":");
        const char *d = a->details_json;
        size_t dn = strlen(d);
        size_t i = sl_json_skip_ws(d, dn, 0);
        while (dn > i && (d[dn - 1] == ' ' || d[dn - 1] == '\t' || d[dn - 1] == '\n' ||
                          d[dn - 1] == '\r'))
            dn--;
        sl_buf_append(&out, dumped, (size_t)(at - dumped) + keylen);
        sl_buf_append(&out, d + i, dn - i);
        sl_buf_puts(&out, at + strlen(details_needle));
    } else {
        sl_buf_puts(&out, dumped);
    }
    free(dumped);
    if (out.oom) {
        sl_buf_free(&out);
        sl_err_set(err, SL_E_NOMEM, "out of memory building the alert payload");
        return NULL;
    }
    return sl_buf_steal(&out);
}

/* ---- delivery ---- */

struct reply {
    char text[REPLY_KEEP + 1];
    size_t len;
};

static size_t on_reply(char *p, size_t size, size_t n, void *ud)
{
    struct reply *r = ud;
    size_t got = size * n;
    size_t take = got < REPLY_KEEP - r->len ? got : REPLY_KEEP - r->len;
    memcpy(r->text + r->len, p, take);
    r->len += take;
    r->text[r->len] = '\0';
    return got;     /* the rest is read and dropped */
}

/* "https://hooks.slack.com": enough to say which webhook, without the path
 * or query, where the secret of a Slack or generic hook lives */
static void url_origin(const char *url, char *out, size_t n)
{
    CURLU *u = curl_url();
    char *scheme = NULL, *host = NULL, *port = NULL;

    if (u && curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
        curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) == CURLUE_OK &&
        curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK) {
        if (curl_url_get(u, CURLUPART_PORT, &port, 0) != CURLUE_OK)
            port = NULL;
        snprintf(out, n, "%s://%s%s%s", scheme, host, port ? ":" : "", port ? port : "");
    } else {
        snprintf(out, n, "an unreadable URL");
    }
    curl_free(scheme);
    curl_free(host);
    curl_free(port);
    curl_url_cleanup(u);
}

/* Failures worth another try: the network or the server, not the request. */
static int transient(CURLcode rc)
{
    switch (rc) {
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_CONNECT:
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
    case CURLE_HTTP3:
    case CURLE_QUIC_CONNECT_ERROR:
        return 1;
    default:
        return 0;
    }
}

static uint64_t rng_next(uint64_t *s)
{
    /* splitmix64: enough to spread retries; not for secrets */
    uint64_t z = (*s += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

/* Full jitter: uniform in [0, min(cap, base * 2^(attempt-1))], so senders
 * that failed together do not come back together. */
static long backoff_ms(int attempt, long base, uint64_t *rng)
{
    double ceil_ms = (double)base;
    for (int i = 1; i < attempt && ceil_ms < MAX_BACKOFF_MS; i++)
        ceil_ms *= 2;
    if (ceil_ms > MAX_BACKOFF_MS)
        ceil_ms = MAX_BACKOFF_MS;
    long c = (long)ceil_ms;
    return c > 0 ? (long)(rng_next(rng) % (uint64_t)(c + 1)) : 0;
}

/* POST body to w; 0 when a 2xx came back, else -1 with the reason in why. */
static int deliver(const struct sl_alert_cfg *w, const char *name, const char *body,
                   const struct sl_alert *a, char *why, size_t whylen)
{
    int attempts = (int)env_long("SLUICE_ALERT_RETRIES", DEFAULT_ATTEMPTS, 1, 100);
    long base = env_long("SLUICE_ALERT_RETRY_BASE_MS", DEFAULT_BASE_MS, 0, 600000);
    long timeout = env_long("SLUICE_ALERT_TIMEOUT_MS", DEFAULT_TIMEOUT_MS, 1, 600000);
    struct sl_log_ctx lc = {a->pipeline, a->table, a->batch};
    struct curl_slist *hdrs = NULL, *h2;
    char errbuf[CURL_ERROR_SIZE], last[600] = "";
    struct reply reply;
    struct timespec now;
    int rc = -1, attempt, retry = 0;
    CURL *h;

    clock_gettime(CLOCK_MONOTONIC, &now);
    uint64_t rng = (uint64_t)now.tv_nsec ^ ((uint64_t)now.tv_sec << 32) ^
                   ((uint64_t)getpid() << 16) ^ (uint64_t)(uintptr_t)&now;

    h = curl_easy_init();
    if (!h) {
        snprintf(why, whylen, "%s: could not start an HTTP request (libcurl)", name);
        return -1;
    }
    /* no "Expect: 100-continue": it costs a round trip (or a 1 s wait on
     * servers that ignore it) for bodies over 1 kB */
    static const char *const headers[] = {"Content-Type: application/json",
                                          "Accept: application/json, */*", "Expect:"};
    for (size_t i = 0; i < sizeof headers / sizeof *headers; i++) {
        h2 = curl_slist_append(hdrs, headers[i]);
        if (!h2) {
            curl_slist_free_all(hdrs);
            curl_easy_cleanup(h);
            snprintf(why, whylen, "%s: out of memory", name);
            return -1;
        }
        hdrs = h2;
    }
    curl_easy_setopt(h, CURLOPT_URL, w->url);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(body));
    curl_easy_setopt(h, CURLOPT_USERAGENT, "sluice");
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);      /* threads: no SIGALRM for DNS */
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, timeout);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, timeout);
    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_reply);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &reply);

    for (attempt = 1; attempt <= attempts; attempt++) {
        long status = 0, wait_ms = -1;
        reply.len = 0;
        reply.text[0] = '\0';
        errbuf[0] = '\0';

        CURLcode cr = curl_easy_perform(h);
        if (cr == CURLE_OK) {
            curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
            if (status >= 200 && status < 300) {
                rc = 0;
                break;
            }
            one_line(reply.text);
            while (reply.len > 0 && reply.text[reply.len - 1] == ' ')
                reply.text[--reply.len] = '\0';
            retry = status == 429 || (status >= 500 && status < 600);
            const char *hint = "";
            if (status >= 300 && status < 400)
                hint = " (redirects are not followed: configure the final URL)";
            else if (!retry)
                hint = " (the webhook refused the alert: check its URL and key)";
            snprintf(last, sizeof last, "HTTP %ld%s%s%s", status, hint,
                     reply.text[0] ? ": " : "", reply.text);
            curl_off_t ra = 0;
            if (retry && curl_easy_getinfo(h, CURLINFO_RETRY_AFTER, &ra) == CURLE_OK && ra > 0)
                wait_ms = ra > MAX_RETRY_AFTER_MS / 1000 ? MAX_RETRY_AFTER_MS : (long)ra * 1000;
        } else {
            retry = transient(cr);
            snprintf(last, sizeof last, "%s", errbuf[0] ? errbuf : curl_easy_strerror(cr));
        }
        if (!retry || attempt == attempts)
            break;
        long jitter = backoff_ms(attempt, base, &rng);
        if (wait_ms < jitter)
            wait_ms = jitter;
        sl_log(SL_LOG_WARN, &lc, "%s: %s alert not delivered, retrying in %ld ms (attempt %d of %d): %s",
               name, a->event, wait_ms, attempt + 1, attempts, last);
        sleep_ms(wait_ms);
    }
    if (rc < 0) {
        if (!retry)
            snprintf(why, whylen, "%s: could not deliver the %s alert, not retried: %s", name,
                     a->event, last);
        else
            snprintf(why, whylen, "%s: could not deliver the %s alert after %d attempt%s: %s",
                     name, a->event, attempts, attempts == 1 ? "" : "s", last);
    }
    curl_slist_free_all(hdrs);
    curl_easy_cleanup(h);
    return rc;
}

int sl_alert_send(const struct sl_config *c, const struct sl_alert *a, struct sl_err *err)
{
    struct sl_buf why;
    size_t failed = 0;

    if (!c || !c->nalerts)
        return 0;
    pthread_once(&curl_once, curl_setup);
    if (curl_shut)
        return sl_err_set(err, SL_E_INTERNAL, "alert sent after sl_alert_shutdown");
    if (curl_state != CURLE_OK)
        return sl_err_set(err, SL_E_INTERNAL, "could not initialise libcurl: %s",
                          curl_easy_strerror(curl_state));

    sl_buf_init(&why);
    for (size_t i = 0; i < c->nalerts; i++) {
        const struct sl_alert_cfg *w = &c->alerts[i];
        struct sl_err e;
        char origin[300], name[400], msg[sizeof e.msg + 500];

        url_origin(w->url ? w->url : "", origin, sizeof origin);
        snprintf(name, sizeof name, "alert #%zu (%s, %s)", i + 1,
                 w->format ? w->format : "generic", origin);
        sl_err_clear(&e);
        char *body = sl_alert_payload(w, a, &e);
        if (!body)
            snprintf(msg, sizeof msg, "%s: %s", name, e.msg);
        int ok = body && deliver(w, name, body, a, msg, sizeof msg) == 0;
        sl_free(body);
        if (ok)
            continue;
        if (failed++)
            sl_buf_puts(&why, "; ");
        sl_buf_puts(&why, msg);
    }
    if (!failed) {
        sl_buf_free(&why);
        return 0;
    }
    const char *text = why.data ? why.data : "out of memory";
    if (c->nalerts == 1)
        sl_err_set(err, SL_E_IO, "%s", text);
    else
        sl_err_set(err, SL_E_IO, "%zu of %zu alert webhooks failed: %s", failed, c->nalerts,
                   text);
    sl_buf_free(&why);
    return -1;
}
