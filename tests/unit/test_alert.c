/* tests/unit/test_alert.c: alert webhooks (obs/alert.c) against a loopback
 * HTTP server run in a thread of this test, which answers each request with
 * the status the test scripts (or never answers, to test timeouts) and keeps
 * what it received; and once against the real tests/integration/
 * webhook_receiver.py that integration tests use. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "config/config.h"
#include "base/mem.h"
#include "obs/alert.h"

/* ---- the loopback server ---- */

#define MAXREQ 32

struct request {
    char method[16];
    char path[256];
    char content_type[128];
    char *body;
};

struct server {
    int lfd;
    int port;
    pthread_t thread;
    pthread_mutex_t mu;
    int stop;
    int hang;                   /* read requests, never answer */
    int statuses[MAXREQ];       /* answer to request i; 0 (unscripted) = 200 */
    const char *reply;          /* body of non-2xx answers */
    struct request req[MAXREQ];
    int nreq;
    int held[MAXREQ];           /* connections left hanging */
    int nheld;
};

static int read_request(int fd, struct request *r)
{
    char buf[65536];
    size_t len = 0;
    char *end = NULL;
    long clen = 0;

    while (!end) {
        struct pollfd p = {fd, POLLIN, 0};
        if (len >= sizeof buf - 1 || poll(&p, 1, 3000) <= 0)
            return -1;
        ssize_t n = recv(fd, buf + len, sizeof buf - 1 - len, 0);
        if (n <= 0)
            return -1;
        len += (size_t)n;
        buf[len] = '\0';
        end = strstr(buf, "\r\n\r\n");
    }
    *end = '\0';
    sscanf(buf, "%15s %255s", r->method, r->path);
    for (char *line = strstr(buf, "\r\n"); line; line = strstr(line + 2, "\r\n")) {
        char *h = line + 2;
        if (strncasecmp(h, "Content-Length:", 15) == 0)
            clen = strtol(h + 15, NULL, 10);
        else if (strncasecmp(h, "Content-Type:", 13) == 0)
            sscanf(h + 13, " %127[^\r]", r->content_type);
    }
    size_t have = len - (size_t)(end + 4 - buf);
    if (clen < 0 || clen > 60000)
        return -1;
    r->body = malloc((size_t)clen + 1);
    memcpy(r->body, end + 4, have < (size_t)clen ? have : (size_t)clen);
    while (have < (size_t)clen) {
        struct pollfd p = {fd, POLLIN, 0};
        if (poll(&p, 1, 3000) <= 0)
            return -1;
        ssize_t n = recv(fd, r->body + have, (size_t)clen - have, 0);
        if (n <= 0)
            return -1;
        have += (size_t)n;
    }
    r->body[clen] = '\0';
    return 0;
}

static void *serve(void *arg)
{
    struct server *s = arg;

    for (;;) {
        pthread_mutex_lock(&s->mu);
        int stop = s->stop;
        pthread_mutex_unlock(&s->mu);
        if (stop)
            break;
        struct pollfd p = {s->lfd, POLLIN, 0};
        if (poll(&p, 1, 20) <= 0)
            continue;
        int fd = accept(s->lfd, NULL, NULL);
        if (fd < 0)
            continue;
        struct request r;
        memset(&r, 0, sizeof r);
        if (read_request(fd, &r) < 0) {
            free(r.body);
            close(fd);
            continue;
        }
        pthread_mutex_lock(&s->mu);
        int i = s->nreq < MAXREQ ? s->nreq++ : -1;
        if (i >= 0)
            s->req[i] = r;
        else
            free(r.body);
        int status = i >= 0 && s->statuses[i] ? s->statuses[i] : 200;
        int hang = s->hang;
        if (hang && s->nheld < MAXREQ)
            s->held[s->nheld++] = fd;
        const char *text = status >= 300 && s->reply ? s->reply : "ok";
        pthread_mutex_unlock(&s->mu);
        if (hang)
            continue;
        char head[256];
        int hn = snprintf(head, sizeof head,
                          "HTTP/1.1 %d Scripted\r\nContent-Type: text/plain\r\n"
                          "Content-Length: %zu\r\nConnection: close\r\n\r\n",
                          status, strlen(text));
        if (send(fd, head, (size_t)hn, MSG_NOSIGNAL) < 0 ||
            send(fd, text, strlen(text), MSG_NOSIGNAL) < 0)
            fprintf(stderr, "test server: send: %s\n", strerror(errno));
        close(fd);
    }
    return NULL;
}

static int server_setup(void **state)
{
    struct server *s = calloc(1, sizeof *s);
    struct sockaddr_in a;
    socklen_t alen = sizeof a;

    if (!s)
        return -1;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    s->lfd = socket(AF_INET, SOCK_STREAM, 0);
    if (s->lfd < 0 || bind(s->lfd, (struct sockaddr *)&a, sizeof a) != 0 ||
        listen(s->lfd, 16) != 0 || getsockname(s->lfd, (struct sockaddr *)&a, &alen) != 0)
        return -1;
    s->port = ntohs(a.sin_port);
    pthread_mutex_init(&s->mu, NULL);
    if (pthread_create(&s->thread, NULL, serve, s) != 0)
        return -1;
    *state = s;
    return 0;
}

static int server_teardown(void **state)
{
    struct server *s = *state;

    pthread_mutex_lock(&s->mu);
    s->stop = 1;
    pthread_mutex_unlock(&s->mu);
    pthread_join(s->thread, NULL);
    close(s->lfd);
    for (int i = 0; i < s->nheld; i++)
        close(s->held[i]);
    for (int i = 0; i < s->nreq; i++)
        free(s->req[i].body);
    pthread_mutex_destroy(&s->mu);
    free(s);
    return 0;
}

static int nrequests(struct server *s)
{
    pthread_mutex_lock(&s->mu);
    int n = s->nreq;
    pthread_mutex_unlock(&s->mu);
    return n;
}

/* ---- helpers ---- */

struct hooks {
    struct sl_config c;
    struct sl_alert_cfg w[4];
    char url[4][128];
    char fmt[4][16];
    char key[4][64];
};

static void add_hook(struct hooks *h, const char *url, const char *fmt, const char *key)
{
    size_t i = h->c.nalerts++;
    snprintf(h->url[i], sizeof h->url[i], "%s", url);
    snprintf(h->fmt[i], sizeof h->fmt[i], "%s", fmt);
    h->w[i].url = h->url[i];
    h->w[i].format = h->fmt[i];
    if (key) {
        snprintf(h->key[i], sizeof h->key[i], "%s", key);
        h->w[i].routing_key = h->key[i];
    }
    h->c.alerts = h->w;
}

static void one_hook(struct hooks *h, struct server *s, const char *fmt, const char *key)
{
    char url[128];
    memset(h, 0, sizeof *h);
    snprintf(url, sizeof url, "http://127.0.0.1:%d/hooks/T000/SECRET", s->port);
    add_hook(h, url, fmt, key);
}

static const struct sl_alert quarantined = {
    .event = "quarantined",
    .pipeline = "orders_drops",
    .table = "orders",
    .batch = 12,
    .summary = "size gate failed: 1000 rows vs median 100",
    .details_json = "{\"gate\": \"size\", \"rows\": 1000, \"median\": 100, \"ratio\": 10.00,"
                    " \"big\": 1234567890123456789012345}",
};

static json_t *body_json(struct server *s, int i)
{
    json_error_t je;
    assert_true(i < nrequests(s));
    /* as reals: jansson refuses the 25-digit integer in the details */
    json_t *j = json_loads(s->req[i].body, JSON_DECODE_INT_AS_REAL, &je);
    if (!j)
        fail_msg("request %d is not JSON (%s): %s", i, je.text, s->req[i].body);
    return j;
}

static const char *get_str(json_t *o, const char *path)
{
    /* "a.b.c" */
    char key[64];
    const char *p = path;
    while (o) {
        const char *dot = strchr(p, '.');
        size_t n = dot ? (size_t)(dot - p) : strlen(p);
        snprintf(key, sizeof key, "%.*s", (int)n, p);
        o = json_object_get(o, key);
        if (!dot)
            break;
        p = dot + 1;
    }
    if (!json_is_string(o))
        fail_msg("%s is not a string", path);
    return json_string_value(o);
}

static double seconds_since(const struct timespec *t0)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)(t.tv_sec - t0->tv_sec) + (double)(t.tv_nsec - t0->tv_nsec) / 1e9;
}

static int closed_port(void)
{
    struct sockaddr_in a;
    socklen_t alen = sizeof a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &alen), 0);
    close(fd);      /* bound, never listened: connections are refused */
    return ntohs(a.sin_port);
}

/* ---- payloads ---- */

static void generic_payload_carries_every_field(void **state)
{
    struct server *s = *state;
    struct hooks h;
    struct sl_err err;
    char host[256] = "";

    one_hook(&h, s, "generic", NULL);
    assert_int_equal(sl_alert_send(&h.c, &quarantined, &err), 0);
    assert_int_equal(nrequests(s), 1);
    assert_string_equal(s->req[0].method, "POST");
    assert_string_equal(s->req[0].path, "/hooks/T000/SECRET");
    assert_string_equal(s->req[0].content_type, "application/json");

    json_t *j = body_json(s, 0);
    assert_string_equal(get_str(j, "event"), "quarantined");
    assert_string_equal(get_str(j, "status"), "firing");
    assert_string_equal(get_str(j, "pipeline"), "orders_drops");
    assert_string_equal(get_str(j, "table"), "orders");
    assert_true(json_number_value(json_object_get(j, "batch")) == 12.0);
    assert_string_equal(get_str(j, "summary"), "size gate failed: 1000 rows vs median 100");
    assert_string_equal(get_str(j, "details.gate"), "size");
    assert_true(json_number_value(json_object_get(json_object_get(j, "details"), "rows")) ==
                1000.0);
    assert_string_equal(get_str(j, "source"), "sluice");
    gethostname(host, sizeof host);
    assert_string_equal(get_str(j, "host"), host);
    const char *at = get_str(j, "at");
    assert_int_equal(strlen(at), 24);       /* 2024-05-01T12:00:00.123Z */
    assert_int_equal(at[10], 'T');
    assert_int_equal(at[23], 'Z');
    json_decref(j);
}

static void generic_details_are_sent_as_written(void **state)
{
    struct server *s = *state;
    struct hooks h;
    struct sl_err err;

    /* jansson would print 10.00 as 10.0 and refuse the 25-digit integer */
    one_hook(&h, s, "generic", NULL);
    assert_int_equal(sl_alert_send(&h.c, &quarantined, &err), 0);
    assert_non_null(strstr(s->req[0].body, "\"details\":{\"gate\": \"size\", \"rows\": 1000, "
                                           "\"median\": 100, \"ratio\": 10.00, "
                                           "\"big\": 1234567890123456789012345},"));
}

static void generic_resolved_without_batch_or_details(void **state)
{
    struct server *s = *state;
    struct hooks h;
    struct sl_err err;
    struct sl_alert a = {.event = "stale", .resolve = 1, .pipeline = "crm", .summary = "fresh again"};

    one_hook(&h, s, "generic", NULL);
    assert_int_equal(sl_alert_send(&h.c, &a, &err), 0);
    json_t *j = body_json(s, 0);
    assert_string_equal(get_str(j, "status"), "resolved");
    assert_true(json_is_null(json_object_get(j, "batch")));
    assert_true(json_is_null(json_object_get(j, "table")));
    assert_true(json_is_object(json_object_get(j, "details")));
    assert_int_equal(json_object_size(json_object_get(j, "details")), 0);
    json_decref(j);
}

static void details_that_are_not_an_object_are_kept_as_text(void **state)
{
    (void)state;
    struct sl_alert_cfg w = {.url = "http://x", .format = "generic"};
    struct sl_alert a = quarantined;
    struct sl_err err;
    json_error_t je;

    a.details_json = "{\"unterminated\": ";
    char *p = sl_alert_payload(&w, &a, &err);
    assert_non_null(p);
    json_t *j = json_loads(p, 0, &je);
    assert_non_null(j);
    assert_string_equal(get_str(j, "details.unparsed"), "{\"unterminated\": ");
    json_decref(j);
    sl_free(p);

    a.details_json = "[1, 2]";
    p = sl_alert_payload(&w, &a, &err);
    assert_non_null(p);
    j = json_loads(p, 0, &je);
    assert_non_null(j);
    assert_string_equal(get_str(j, "details.unparsed"), "[1, 2]");
    json_decref(j);
    sl_free(p);

    /* a summary holding the text of the splice marker stays a string, and
     * the details still land in their own slot */
    a.details_json = " {\"k\": 1.50}\n";
    a.summary = "\"details\":\"\001sluice-details\001\"";
    p = sl_alert_payload(&w, &a, &err);
    assert_non_null(p);
    j = json_loads(p, 0, &je);
    if (!j)
        fail_msg("not JSON (%s): %s", je.text, p);
    assert_string_equal(get_str(j, "summary"), a.summary);
    assert_non_null(strstr(p, "\"details\":{\"k\": 1.50},"));
    json_decref(j);
    sl_free(p);
}

static void slack_text_is_one_readable_line(void **state)
{
    struct server *s = *state;
    struct hooks h;
    struct sl_err err;

    one_hook(&h, s, "slack", NULL);
    assert_int_equal(sl_alert_send(&h.c, &quarantined, &err), 0);
    json_t *j = body_json(s, 0);
    assert_string_equal(get_str(j, "text"), "[sluice] QUARANTINED orders_drops/orders batch 12: "
                                            "size gate failed: 1000 rows vs median 100");
    json_t *blocks = json_object_get(j, "blocks");
    assert_true(json_is_array(blocks));
    assert_true(json_array_size(blocks) >= 2);
    assert_string_equal(get_str(json_array_get(blocks, 0), "type"), "section");
    assert_string_equal(get_str(json_array_get(blocks, 0), "text.text"), get_str(j, "text"));
    assert_non_null(strstr(get_str(json_array_get(blocks, 1), "text.text"), "```{\"gate\""));
    json_decref(j);
}

static void slack_resolved_is_prefixed_and_markup_escaped(void **state)
{
    struct server *s = *state;
    struct hooks h;
    struct sl_err err;
    struct sl_alert a = {.event = "drift", .resolve = 1, .pipeline = "crm", .table = "customers",
                         .summary = "rows <match> again &\nchecksums agree"};

    one_hook(&h, s, "slack", NULL);
    assert_int_equal(sl_alert_send(&h.c, &a, &err), 0);
    json_t *j = body_json(s, 0);
    assert_string_equal(get_str(j, "text"), "[sluice] RESOLVED DRIFT crm/customers: "
                                            "rows &lt;match&gt; again &amp; checksums agree");
    json_decref(j);
}

static void pagerduty_trigger_has_routing_key_and_dedup_key(void **state)
{
    struct server *s = *state;
    struct hooks h;
    struct sl_err err;
    char host[256] = "", source[300];

    one_hook(&h, s, "pagerduty", "R0UTINGKEY");
    assert_int_equal(sl_alert_send(&h.c, &quarantined, &err), 0);
    json_t *j = body_json(s, 0);
    assert_string_equal(get_str(j, "routing_key"), "R0UTINGKEY");
    assert_string_equal(get_str(j, "event_action"), "trigger");
    assert_string_equal(get_str(j, "dedup_key"), "sluice/orders_drops/orders/quarantined");
    assert_string_equal(get_str(j, "payload.summary"),
                        "[sluice] QUARANTINED orders_drops/orders batch 12: "
                        "size gate failed: 1000 rows vs median 100");
    gethostname(host, sizeof host);
    snprintf(source, sizeof source, "sluice@%s", host);
    assert_string_equal(get_str(j, "payload.source"), source);
    assert_string_equal(get_str(j, "payload.severity"), "error");
    assert_string_equal(get_str(j, "payload.custom_details.table"), "orders");
    assert_string_equal(get_str(j, "payload.custom_details.details.gate"), "size");
    assert_non_null(strstr(s->req[0].body, "\"ratio\": 10.00"));
    json_decref(j);
}

static void pagerduty_resolve_uses_the_same_dedup_key(void **state)
{
    struct server *s = *state;
    struct hooks h;
    struct sl_err err;
    struct sl_alert a = quarantined, d = {.event = "drift", .pipeline = "crm", .table = "t"};

    a.resolve = 1;
    one_hook(&h, s, "pagerduty", "R0UTINGKEY");
    assert_int_equal(sl_alert_send(&h.c, &a, &err), 0);
    assert_int_equal(sl_alert_send(&h.c, &d, &err), 0);
    json_t *j = body_json(s, 0);
    assert_string_equal(get_str(j, "event_action"), "resolve");
    assert_string_equal(get_str(j, "routing_key"), "R0UTINGKEY");
    assert_string_equal(get_str(j, "dedup_key"), "sluice/orders_drops/orders/quarantined");
    json_decref(j);
    j = body_json(s, 1);
    assert_string_equal(get_str(j, "payload.severity"), "warning");
    assert_string_equal(get_str(j, "dedup_key"), "sluice/crm/t/drift");
    json_decref(j);
}

static void unknown_format_is_an_error(void **state)
{
    (void)state;
    struct sl_alert_cfg w = {.url = "http://x", .format = "teams"};
    struct sl_err err;

    assert_null(sl_alert_payload(&w, &quarantined, &err));
    assert_string_equal(err.msg,
                        "unknown alert format \"teams\" (expected generic, slack or pagerduty)");
}

/* ---- delivery ---- */

static void retries_after_500s_and_succeeds(void **state)
{
    struct server *s = *state;
    struct hooks h;
    struct sl_err err;

    s->statuses[0] = 500;
    s->statuses[1] = 503;
    one_hook(&h, s, "generic", NULL);
    assert_int_equal(sl_alert_send(&h.c, &quarantined, &err), 0);
    assert_int_equal(nrequests(s), 3);
    assert_string_equal(s->req[0].body, s->req[2].body);
}

static void status_429_is_retried(void **state)
{
    struct server *s = *state;
    struct hooks h;
    struct sl_err err;

    s->statuses[0] = 429;
    one_hook(&h, s, "slack", NULL);
    assert_int_equal(sl_alert_send(&h.c, &quarantined, &err), 0);
    assert_int_equal(nrequests(s), 2);
}

static void status_400_is_not_retried(void **state)
{
    struct server *s = *state;
    struct hooks h;
    struct sl_err err;
    char want[256];

    s->statuses[0] = 400;
    s->reply = "invalid_payload\n";
    one_hook(&h, s, "slack", NULL);
    assert_int_equal(sl_alert_send(&h.c, &quarantined, &err), -1);
    assert_int_equal(nrequests(s), 1);
    assert_int_equal(err.code, SL_E_IO);
    snprintf(want, sizeof want,
             "alert #1 (slack, http://127.0.0.1:%d): could not deliver the quarantined alert, "
             "not retried: HTTP 400 (the webhook refused the alert: check its URL and key): "
             "invalid_payload",
             s->port);
    assert_string_equal(err.msg, want);
}

static void retries_give_up_on_a_server_that_keeps_failing(void **state)
{
    struct server *s = *state;
    struct hooks h;
    struct sl_err err;

    for (int i = 0; i < MAXREQ; i++)
        s->statuses[i] = 502;
    one_hook(&h, s, "generic", NULL);
    assert_int_equal(sl_alert_send(&h.c, &quarantined, &err), -1);
    assert_int_equal(nrequests(s), 3);     /* SLUICE_ALERT_RETRIES */
    assert_non_null(strstr(err.msg, "after 3 attempts: HTTP 502"));
}

static void dead_url_fails_after_retries_within_bounded_time(void **state)
{
    (void)state;
    struct hooks h;
    struct sl_err err;
    struct timespec t0;
    char url[128], want[200];

    int port = closed_port();
    memset(&h, 0, sizeof h);
    snprintf(url, sizeof url, "http://127.0.0.1:%d/services/SECRET?token=SECRET", port);
    add_hook(&h, url, "generic", NULL);
    clock_gettime(CLOCK_MONOTONIC, &t0);
    assert_int_equal(sl_alert_send(&h.c, &quarantined, &err), -1);
    assert_true(seconds_since(&t0) < 5.0);
    snprintf(want, sizeof want,
             "alert #1 (generic, http://127.0.0.1:%d): could not deliver the quarantined alert "
             "after 3 attempts: ", port);
    if (strncmp(err.msg, want, strlen(want)) != 0)
        fail_msg("got: %s", err.msg);
    assert_non_null(strstr(err.msg, "onnect"));     /* "Failed to connect ..." */
    assert_null(strstr(err.msg, "SECRET"));         /* the URL's path and query stay private */
}

static void timeout_is_retried_then_fails(void **state)
{
    struct server *s = *state;
    struct hooks h;
    struct sl_err err;
    struct timespec t0;

    s->hang = 1;
    setenv("SLUICE_ALERT_TIMEOUT_MS", "300", 1);
    setenv("SLUICE_ALERT_RETRIES", "2", 1);
    one_hook(&h, s, "generic", NULL);
    clock_gettime(CLOCK_MONOTONIC, &t0);
    int rc = sl_alert_send(&h.c, &quarantined, &err);
    double took = seconds_since(&t0);
    unsetenv("SLUICE_ALERT_TIMEOUT_MS");
    setenv("SLUICE_ALERT_RETRIES", "3", 1);
    assert_int_equal(rc, -1);
    assert_int_equal(nrequests(s), 2);
    assert_true(took >= 0.55 && took < 4.0);
    assert_non_null(strstr(err.msg, "after 2 attempts"));
    assert_non_null(strstr(err.msg, "timed out"));
}

static void every_webhook_is_tried_when_one_fails(void **state)
{
    struct server *s = *state;
    struct hooks h;
    struct sl_err err;
    char url[128];

    memset(&h, 0, sizeof h);
    snprintf(url, sizeof url, "http://127.0.0.1:%d/", closed_port());
    add_hook(&h, url, "generic", NULL);
    snprintf(url, sizeof url, "http://127.0.0.1:%d/slack", s->port);
    add_hook(&h, url, "slack", NULL);
    snprintf(url, sizeof url, "http://127.0.0.1:%d/pd", s->port);
    add_hook(&h, url, "pagerduty", "K");
    assert_int_equal(sl_alert_send(&h.c, &quarantined, &err), -1);
    assert_int_equal(nrequests(s), 2);
    assert_string_equal(s->req[0].path, "/slack");
    assert_string_equal(s->req[1].path, "/pd");
    assert_non_null(strstr(err.msg, "1 of 3 alert webhooks failed: alert #1 (generic, "));
}

static void no_alerts_sends_nothing(void **state)
{
    struct server *s = *state;
    struct sl_config c;
    struct sl_err err;

    memset(&c, 0, sizeof c);
    assert_int_equal(sl_alert_send(&c, &quarantined, &err), 0);
    assert_int_equal(nrequests(s), 0);
}

/* ---- the receiver integration tests use ---- */

static int wait_for_file(const char *path, pid_t child)
{
    for (int i = 0; i < 200; i++) {
        struct stat st;
        int status;
        if (stat(path, &st) == 0 && st.st_size > 0)
            return 0;
        if (waitpid(child, &status, WNOHANG) == child)
            return -1;
        usleep(50000);
    }
    return -1;
}

static void webhook_receiver_records_a_retried_alert_once(void **state)
{
    (void)state;
    char dir[] = "/tmp/sl_test_alert_XXXXXX", portfile[64], outfile[64], url[128];
    struct hooks h;
    struct sl_err err;

    assert_non_null(mkdtemp(dir));
    snprintf(portfile, sizeof portfile, "%s/port", dir);
    snprintf(outfile, sizeof outfile, "%s/out.jsonl", dir);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        execlp("python3", "python3", SL_SRCDIR "/tests/integration/webhook_receiver.py",
               portfile, outfile, "--fail-first", "2", (char *)NULL);
        _exit(127);
    }
    if (wait_for_file(portfile, pid) < 0) {
        kill(pid, SIGTERM);
        waitpid(pid, NULL, 0);
        rmdir(dir);
        skip();     /* no python3 here */
    }
    FILE *f = fopen(portfile, "r");
    int port = 0;
    assert_non_null(f);
    assert_int_equal(fscanf(f, "%d", &port), 1);
    fclose(f);

    memset(&h, 0, sizeof h);
    snprintf(url, sizeof url, "http://127.0.0.1:%d/hook", port);
    add_hook(&h, url, "generic", NULL);
    int rc = sl_alert_send(&h.c, &quarantined, &err);
    kill(pid, SIGTERM);
    waitpid(pid, NULL, 0);
    if (rc != 0)
        fail_msg("%s", err.msg);

    char line[8192];
    int lines = 0;
    f = fopen(outfile, "r");
    assert_non_null(f);
    while (fgets(line, sizeof line, f))
        lines++;
    fclose(f);
    assert_int_equal(lines, 1);     /* two 500s, then the one delivery */
    assert_non_null(strstr(line, "\"event\":\"quarantined\""));
    assert_non_null(strstr(line, "\"ratio\": 10.00"));
    unlink(portfile);
    unlink(outfile);
    rmdir(dir);
}

int main(void)
{
    static const char *const proxies[] = {"http_proxy", "HTTP_PROXY", "https_proxy",
                                          "HTTPS_PROXY", "all_proxy", "ALL_PROXY"};
    for (size_t i = 0; i < sizeof proxies / sizeof *proxies; i++)
        unsetenv(proxies[i]);
    setenv("SLUICE_ALERT_RETRIES", "3", 1);
    setenv("SLUICE_ALERT_RETRY_BASE_MS", "20", 1);

#define T(f) cmocka_unit_test_setup_teardown(f, server_setup, server_teardown)
    const struct CMUnitTest tests[] = {
        T(generic_payload_carries_every_field),
        T(generic_details_are_sent_as_written),
        T(generic_resolved_without_batch_or_details),
        cmocka_unit_test(details_that_are_not_an_object_are_kept_as_text),
        T(slack_text_is_one_readable_line),
        T(slack_resolved_is_prefixed_and_markup_escaped),
        T(pagerduty_trigger_has_routing_key_and_dedup_key),
        T(pagerduty_resolve_uses_the_same_dedup_key),
        cmocka_unit_test(unknown_format_is_an_error),
        T(retries_after_500s_and_succeeds),
        T(status_429_is_retried),
        T(status_400_is_not_retried),
        T(retries_give_up_on_a_server_that_keeps_failing),
        cmocka_unit_test(dead_url_fails_after_retries_within_bounded_time),
        T(timeout_is_retried_then_fails),
        T(every_webhook_is_tried_when_one_fails),
        T(no_alerts_sends_nothing),
        cmocka_unit_test(webhook_receiver_records_a_retried_alert_once),
    };
#undef T
    int failed = cmocka_run_group_tests(tests, NULL, NULL);
    sl_alert_shutdown();
    return failed;
}
