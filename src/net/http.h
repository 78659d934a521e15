/* net/http.h: a small HTTP server (the one place that wraps libmicrohttpd)
 * with routes registered by whoever serves something: the daemon's admin
 * API and dashboard (obs/api.c), an event collector (POST /v1/events/...).
 *
 *   struct sl_http *s;
 *   if (sl_http_new("127.0.0.1:8765", &s, &err) < 0) ...
 *   sl_http_route(s, "GET", "/metrics", metrics, ctx);            exact path
 *   sl_http_route(s, "POST", "/v1/events/", collect, ctx);        prefix: ends in '/'
 *   if (sl_http_start(s, &err) < 0) ...                           binds, serves
 *   ...
 *   sl_http_free(s);                                              stops, waits
 *
 * A thread per connection, so a slow handler (an approve loading a batch)
 * holds up nobody else; handlers must be thread-safe. Connections are
 * polled with poll(), not select(), so descriptors past FD_SETSIZE work
 * (libmicrohttpd's epoll mode has no thread per connection, and handlers
 * block: an event request waits for its commit). Before a byte of a body is
 * read, a request is refused when its Host is not ours (421), its framing
 * is ambiguous (two Content-Lengths, Content-Length with Transfer-Encoding:
 * 400), its route's check answers (a wrong token: 401), or it announces more
 * than the route's limit (413); the body is then read whole, and a body that
 * grows past the limit ends the request there. Limits (sl_http_set_limits):
 * connections in all and per client address (past either 503 with
 * Retry-After and the connection closed after it; past twice either
 * refused unanswered), and a deadline for a request's headers and body.
 * Routes may be added at any time. The longest matching route wins; a path
 * with routes for other methods gets 405, an unknown path 404. */
#ifndef SL_HTTP_H
#define SL_HTTP_H

#include <stddef.h>

#include "base/err.h"

struct sl_http;
struct sl_http_req;     /* opaque: read it with the functions below */

struct sl_http_resp {
    int status;                 /* default 200 */
    const char *content_type;   /* default "application/json" */
    char *body;                 /* sl_malloc'd; the server frees it */
    size_t len;                 /* bytes of body; body may be NULL for none */
    const char *header_name;    /* one extra header, or NULL */
    const char *header_value;
};

/* Fill `resp` and return 0; -1 (with nothing set) answers 500. */
typedef int (*sl_http_handler)(void *ctx, const struct sl_http_req *req,
                               struct sl_http_resp *resp);

/* `listen` is HOST:PORT ("127.0.0.1:8765", "[::1]:8765", ":8765" = every
 * address); port 0 takes a free one (sl_http_port says which). */
int sl_http_new(const char *listen, struct sl_http **out, struct sl_err *err);
/* `method` "GET", "POST"...; `path` an exact path, or a prefix when it ends
 * in '/' (and then also the path without the '/'). Returns -1 only when out
 * of memory. "/" alone is exact. The default body limit is 1 MiB. */
int sl_http_route(struct sl_http *s, const char *method, const char *path,
                  sl_http_handler h, void *ctx);
int sl_http_route_limit(struct sl_http *s, const char *method, const char *path,
                        sl_http_handler h, void *ctx, size_t max_body);
/* Runs when a request's headers are in, before any of its body is read:
 * return 0 to read the body (at most *max_body bytes, which it may lower),
 * 1 to answer now with what it put in `resp` (the body is never read), -1
 * for 500. Must be cheap and must not block. */
typedef int (*sl_http_check)(void *ctx, const struct sl_http_req *req, size_t *max_body,
                             struct sl_http_resp *resp);
int sl_http_route_check(struct sl_http *s, const char *method, const char *path,
                        sl_http_check check, sl_http_handler h, void *ctx, size_t max_body);

/* What a server lets clients hold; 0 / NULL take the default. */
struct sl_http_limits {
    double timeout;             /* seconds (30): a request's headers and body must arrive
                                 * within this of the connection opening or the previous
                                 * answer; idle connections close after it */
    long max_conns;             /* open connections in all (1000); up to twice it open,
                                 * the newer ones answered 503 */
    long max_per_client;        /* open connections of one client address (100) */
    char *const *hosts;         /* names allowed in Host besides localhost and IP literals */
    size_t nhosts;
};
/* Before sl_http_start; copies what it needs. */
int sl_http_set_limits(struct sl_http *s, const struct sl_http_limits *l, struct sl_err *err);
/* Serve HTTPS with this certificate (chain) and private key, PEM text
 * (copied); before sl_http_start. */
int sl_http_set_tls(struct sl_http *s, const char *cert_pem, const char *key_pem,
                    struct sl_err *err);
int sl_http_start(struct sl_http *s, struct sl_err *err);
int sl_http_port(const struct sl_http *s);          /* after start */
void sl_http_free(struct sl_http *s);               /* NULL is fine */

/* ---- the request, inside a handler ---- */
const char *sl_http_method(const struct sl_http_req *r);
const char *sl_http_path(const struct sl_http_req *r);     /* without the query */
/* What follows the route's prefix ("" for an exact route). */
const char *sl_http_rest(const struct sl_http_req *r);
const char *sl_http_arg(const struct sl_http_req *r, const char *name);   /* ?name=, decoded */
const char *sl_http_header(const struct sl_http_req *r, const char *name);
const char *sl_http_body(const struct sl_http_req *r, size_t *len);      /* NUL-terminated */
/* 1 when the request carries `Authorization: Bearer <token>` (compared in
 * constant time); 0 otherwise, and always when token is NULL or "". */
int sl_http_bearer_ok(const struct sl_http_req *r, const char *token);

/* ---- answering ---- */
/* body = a copy of text; returns 0, or -1 when out of memory */
int sl_http_text(struct sl_http_resp *resp, int status, const char *content_type,
                 const char *text);
/* {"error": msg} with `status` */
int sl_http_error(struct sl_http_resp *resp, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
