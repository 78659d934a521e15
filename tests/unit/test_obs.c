/* tests/unit/test_obs.c: the metrics registry's exposition (obs/metrics.c)
 * and the HTTP server (net/http.c) on a loopback port, driven with libcurl:
 * routes (exact, prefix, longest wins, 404, 405), bodies and their limit,
 * query arguments, the bearer check. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <curl/curl.h>

#include "base/mem.h"
#include "net/http.h"
#include "obs/metrics.h"
#include "obs/slots.h"

/* ---- metrics ---- */

static int has_line(const char *text, const char *line)
{
    size_t n = strlen(line);
    for (const char *p = text; (p = strstr(p, line)); p += n)
        if ((p == text || p[-1] == '\n') && p[n] == '\n')
            return 1;
    return 0;
}

static void metrics_count_and_expose(void **state)
{
    (void)state;
    sl_metrics_reset();
    sl_metrics_batch("p", "t", SL_MB_COMMITTED, 10, 100, 0.2);
    sl_metrics_batch("p", "t", SL_MB_COMMITTED, 5, 50, 7);
    sl_metrics_batch("p", "t", SL_MB_QUARANTINED, 99, 99, 0.01);
    sl_metrics_gate_failed("p", "t", "size, rules");
    sl_metrics_gate_failed("p", "t", "rules");
    sl_metrics_retry("p", "t");
    char *text = sl_metrics_render();
    assert_non_null(text);
    assert_true(has_line(text, "# TYPE sluice_rows_loaded_total counter"));
    assert_true(has_line(text, "sluice_rows_loaded_total{pipeline=\"p\",table=\"t\"} 15"));
    assert_true(has_line(text, "sluice_bytes_loaded_total{pipeline=\"p\",table=\"t\"} 150"));
    assert_true(has_line(text,
                         "sluice_batches_total{pipeline=\"p\",table=\"t\",state=\"committed\"} 2"));
    assert_true(has_line(text,
                         "sluice_batches_total{pipeline=\"p\",table=\"t\",state=\"quarantined\"} 1"));
    assert_true(has_line(text,
                         "sluice_gate_failures_total{pipeline=\"p\",table=\"t\",gate=\"rules\"} 2"));
    assert_true(has_line(text,
                         "sluice_gate_failures_total{pipeline=\"p\",table=\"t\",gate=\"size\"} 1"));
    assert_true(has_line(text, "sluice_retries_total{pipeline=\"p\",table=\"t\"} 1"));
    assert_true(has_line(text, "sluice_dead_letters_total{pipeline=\"p\",table=\"t\"} 0"));
    /* cumulative buckets: 0.01 -> 0.05, 0.2 -> 0.25, 7 -> 10 */
    assert_true(has_line(text, "sluice_batch_duration_seconds_bucket{pipeline=\"p\",table=\"t\","
                               "le=\"0.05\"} 1"));
    assert_true(has_line(text, "sluice_batch_duration_seconds_bucket{pipeline=\"p\",table=\"t\","
                               "le=\"0.25\"} 2"));
    assert_true(has_line(text, "sluice_batch_duration_seconds_bucket{pipeline=\"p\",table=\"t\","
                               "le=\"5\"} 2"));
    assert_true(has_line(text, "sluice_batch_duration_seconds_bucket{pipeline=\"p\",table=\"t\","
                               "le=\"10\"} 3"));
    assert_true(has_line(text, "sluice_batch_duration_seconds_bucket{pipeline=\"p\",table=\"t\","
                               "le=\"+Inf\"} 3"));
    assert_true(has_line(text, "sluice_batch_duration_seconds_count{pipeline=\"p\",table=\"t\"} 3"));
    assert_non_null(strstr(text, "sluice_lag_seconds{pipeline=\"p\",table=\"t\"} "));
    sl_free(text);
    sl_metrics_reset();
}

static void metrics_escape_label_values(void **state)
{
    (void)state;
    sl_metrics_reset();
    sl_metrics_retry("we\"ird\\", "a\nb");
    char *text = sl_metrics_render();
    assert_non_null(text);
    assert_true(has_line(text, "sluice_retries_total{pipeline=\"we\\\"ird\\\\\",table=\"a\\nb\"} 1"));
    sl_free(text);
    sl_metrics_reset();
}

static void metrics_live_state(void **state)
{
    (void)state;
    struct sl_metrics_live l;
    sl_metrics_reset();
    sl_metrics_live("p", "t", &l);
    assert_int_equal(l.known, 0);
    sl_metrics_running("p", "t", 1);
    sl_metrics_error("p", "t", "destination down");
    sl_metrics_live("p", "t", &l);
    assert_int_equal(l.known, 1);
    assert_int_equal(l.running, 1);
    assert_string_equal(l.last_error, "destination down");
    assert_true(l.last_loaded == 0);
    sl_metrics_batch("p", "t", SL_MB_COMMITTED, 1, 1, -1);    /* a commit clears the error */
    sl_metrics_live("p", "t", &l);
    assert_string_equal(l.last_error, "");
    assert_true(l.last_loaded > 0);
    sl_metrics_reset();
}

/* ---- http ---- */

static int echo(void *ctx, const struct sl_http_req *req, struct sl_http_resp *resp)
{
    size_t n;
    const char *body = sl_http_body(req, &n);
    const char *x = sl_http_arg(req, "x");
    char out[512];
    snprintf(out, sizeof out, "%s %s %s rest=%s x=%s body=%zu:%s", (const char *)ctx,
             sl_http_method(req), sl_http_path(req), sl_http_rest(req), x ? x : "-", n, body);
    return sl_http_text(resp, 200, "text/plain", out);
}

static int guarded(void *ctx, const struct sl_http_req *req, struct sl_http_resp *resp)
{
    (void)ctx;
    if (!sl_http_bearer_ok(req, "s3cret"))
        return sl_http_error(resp, 401, "no");
    return sl_http_text(resp, 200, "text/plain", "yes");
}

struct reply {
    long status;
    char body[1024];
    size_t len;
};

static size_t collect(char *p, size_t size, size_t n, void *arg)
{
    struct reply *r = arg;
    size_t k = size * n;
    if (r->len + k < sizeof r->body) {
        memcpy(r->body + r->len, p, k);
        r->len += k;
        r->body[r->len] = '\0';
    }
    return k;
}

static void req(int port, const char *method, const char *path, const char *body,
                const char *auth, struct reply *r)
{
    char url[256];
    CURL *c = curl_easy_init();
    struct curl_slist *h = NULL;
    memset(r, 0, sizeof *r);
    snprintf(url, sizeof url, "http://127.0.0.1:%d%s", port, path);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    if (body) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
    }
    if (auth) {
        h = curl_slist_append(h, auth);
        curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    }
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, r);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 10L);
    assert_int_equal(curl_easy_perform(c), CURLE_OK);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
}

static void http_routes(void **state)
{
    (void)state;
    struct sl_http *s;
    struct sl_err err;
    struct reply r;
    sl_err_clear(&err);
    assert_int_equal(sl_http_new("127.0.0.1:0", &s, &err), 0);
    assert_int_equal(sl_http_route(s, "GET", "/", echo, "root"), 0);
    assert_int_equal(sl_http_route(s, "GET", "/a", echo, "a"), 0);
    assert_int_equal(sl_http_route(s, "POST", "/v1/events/", echo, "events"), 0);
    assert_int_equal(sl_http_route(s, "POST", "/v1/events/special/", echo, "special"), 0);
    assert_int_equal(sl_http_route_limit(s, "POST", "/small", echo, "small", 8), 0);
    assert_int_equal(sl_http_route(s, "POST", "/guarded", guarded, NULL), 0);
    assert_int_equal(sl_http_start(s, &err), 0);
    int port = sl_http_port(s);
    assert_true(port > 0);

    req(port, "GET", "/", NULL, NULL, &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body, "root GET / rest= x=- body=0:");
    req(port, "GET", "/a?x=hello%20there", NULL, NULL, &r);
    assert_string_equal(r.body, "a GET /a rest= x=hello there body=0:");
    req(port, "GET", "/nothing", NULL, NULL, &r);    /* "/" is exact, not a catch-all */
    assert_int_equal(r.status, 404);
    req(port, "POST", "/a", "", NULL, &r);
    assert_int_equal(r.status, 405);
    req(port, "POST", "/v1/events/orders", "{\"k\":1}", NULL, &r);
    assert_string_equal(r.body, "events POST /v1/events/orders rest=orders x=- body=7:{\"k\":1}");
    req(port, "POST", "/v1/events/special/x", "", NULL, &r);    /* the longest route wins */
    assert_string_equal(r.body, "special POST /v1/events/special/x rest=x x=- body=0:");
    req(port, "POST", "/v1/events", "", NULL, &r);
    assert_string_equal(r.body, "events POST /v1/events rest= x=- body=0:");
    req(port, "POST", "/small", "12345678", NULL, &r);
    assert_int_equal(r.status, 200);
    req(port, "POST", "/small", "123456789", NULL, &r);
    assert_int_equal(r.status, 413);

    req(port, "POST", "/guarded", "", NULL, &r);
    assert_int_equal(r.status, 401);
    req(port, "POST", "/guarded", "", "Authorization: Bearer s3cre", &r);
    assert_int_equal(r.status, 401);
    req(port, "POST", "/guarded", "", "Authorization: Bearer s3cret2", &r);
    assert_int_equal(r.status, 401);
    req(port, "POST", "/guarded", "", "Authorization: Basic s3cret", &r);
    assert_int_equal(r.status, 401);
    req(port, "POST", "/guarded", "", "Authorization: Bearer s3cret", &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body, "yes");
    sl_http_free(s);
}

static void http_busy_address_is_an_error(void **state)
{
    (void)state;
    struct sl_http *a, *b;
    struct sl_err err;
    char listen[64];
    sl_err_clear(&err);
    assert_int_equal(sl_http_new("127.0.0.1:0", &a, &err), 0);
    assert_int_equal(sl_http_start(a, &err), 0);
    snprintf(listen, sizeof listen, "127.0.0.1:%d", sl_http_port(a));
    assert_int_equal(sl_http_new(listen, &b, &err), 0);
    assert_int_equal(sl_http_start(b, &err), -1);
    assert_non_null(strstr(err.msg, "could not listen on 127.0.0.1:"));
    sl_http_free(b);
    sl_http_free(a);
    sl_err_clear(&err);
    assert_int_equal(sl_http_new("localhost", &a, &err), -1);
    assert_non_null(strstr(err.msg, "expected HOST:PORT"));
}

/* ---- replication slots ---- */

#define SEC 1000000LL

static void slot_lag_counts_while_the_position_stands_with_wal_past_it(void **state)
{
    (void)state;
    struct sl_slot_state s;
    struct sl_slot_lag l;
    memset(&s, 0, sizeof s);
    memset(&l, 0, sizeof l);
    s.exists = 1;
    snprintf(s.confirmed, sizeof s.confirmed, "0/100");
    s.unconfirmed_bytes = 0;
    assert_true(sl_slot_lag_update(&l, &s, 1 * SEC) == 0);     /* nothing past it */
    s.unconfirmed_bytes = 500;
    assert_true(sl_slot_lag_update(&l, &s, 2 * SEC) == 0);     /* first seen standing */
    assert_true(sl_slot_lag_update(&l, &s, 7 * SEC) == 5);
    assert_true(sl_slot_lag_update(&l, &s, 12 * SEC) == 10);
    snprintf(s.confirmed, sizeof s.confirmed, "0/200");        /* it moved */
    assert_true(sl_slot_lag_update(&l, &s, 13 * SEC) == 0);
    assert_true(sl_slot_lag_update(&l, &s, 20 * SEC) == 7);
    s.unconfirmed_bytes = 0;                                   /* caught up */
    assert_true(sl_slot_lag_update(&l, &s, 21 * SEC) == 0);
    s.unconfirmed_bytes = 80;
    assert_true(sl_slot_lag_update(&l, &s, 30 * SEC) == 0);    /* counts from here again */
    assert_true(sl_slot_lag_update(&l, &s, 31 * SEC) == 1);
    s.exists = 0;                                              /* dropped */
    s.confirmed[0] = '\0';
    s.unconfirmed_bytes = -1;
    assert_true(sl_slot_lag_update(&l, &s, 40 * SEC) == 0);
}

static void slot_metrics_expose_a_slot_that_exists(void **state)
{
    (void)state;
    sl_metrics_reset();
    struct sl_metrics_slot m, got;
    memset(&m, 0, sizeof m);
    snprintf(m.state.slot, sizeof m.state.slot, "s1");
    m.seen = 1;
    m.state.exists = 1;
    m.state.active = 1;
    m.state.retained_bytes = 25165824;
    m.state.unconfirmed_bytes = 4096;
    m.lag_seconds = 4.5;
    sl_metrics_slot_set("p", &m);
    snprintf(m.state.slot, sizeof m.state.slot, "gone");
    m.state.exists = 0;                  /* a slot not there: no samples */
    sl_metrics_slot_set("q", &m);
    char *text = sl_metrics_render();
    assert_non_null(text);
    assert_true(has_line(text, "# TYPE sluice_cdc_slot_retained_bytes gauge"));
    assert_true(has_line(text, "sluice_cdc_slot_retained_bytes{pipeline=\"p\",slot=\"s1\"} 25165824"));
    assert_true(has_line(text, "sluice_cdc_slot_unconfirmed_bytes{pipeline=\"p\",slot=\"s1\"} 4096"));
    assert_true(has_line(text, "sluice_cdc_slot_lag_seconds{pipeline=\"p\",slot=\"s1\"} 4.500"));
    assert_true(has_line(text, "sluice_cdc_slot_active{pipeline=\"p\",slot=\"s1\"} 1"));
    assert_null(strstr(text, "slot=\"gone\""));
    sl_free(text);
    assert_int_equal(sl_metrics_slot_get("p", &got), 1);
    assert_true(got.state.retained_bytes == 25165824);
    assert_int_equal(sl_metrics_slot_get("nope", &got), 0);
    sl_metrics_reset();
    assert_int_equal(sl_metrics_slot_get("p", &got), 0);
}

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(metrics_count_and_expose),
        cmocka_unit_test(metrics_escape_label_values),
        cmocka_unit_test(metrics_live_state),
        cmocka_unit_test(slot_lag_counts_while_the_position_stands_with_wal_past_it),
        cmocka_unit_test(slot_metrics_expose_a_slot_that_exists),
        cmocka_unit_test(http_routes),
        cmocka_unit_test(http_busy_address_is_an_error),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    curl_global_cleanup();
    return rc;
}
