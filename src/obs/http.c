/* obs/http.c: the HTTP server (see http.h) over libmicrohttpd: an internal
 * polling thread and a thread per connection. The listening socket is made
 * here, so a busy address is reported with its errno, not MHD's log line. */
#include "obs/http.h"

#include <errno.h>
#include <microhttpd.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/mem.h"
#include "obs/log.h"

#define DEFAULT_MAX_BODY (1024 * 1024)

struct route {
    char *method;
    char *path;
    size_t len;
    int prefix;
    sl_http_handler h;
    void *ctx;
    size_t max_body;
};

struct sl_http {
    char *host, *port_text;
    int fd;
    int port;
    struct MHD_Daemon *d;
    pthread_mutex_t mu;
    struct route *routes;
    size_t nroutes;
    char *tls_cert, *tls_key;   /* PEM; set: HTTPS */
};

struct sl_http_req {
    struct MHD_Connection *c;
    const char *method;
    const char *path;
    const char *rest;
    sl_http_handler h;      /* NULL: no route */
    void *ctx;
    size_t max_body;
    int status_nomatch;     /* 404 or 405 when h is NULL */
    struct sl_buf body;
    int too_big;
};

/* ---- setup ---- */

static int split_listen(const char *listen, char **host, char **port, struct sl_err *err)
{
    const char *colon = strrchr(listen, ':');
    const char *h = listen, *he;
    if (!colon || !colon[1])
        return sl_err_set(err, SL_E_USAGE, "listen address \"%s\": expected HOST:PORT", listen);
    he = colon;
    if (h[0] == '[') {      /* [::1]:8765 */
        if (colon == listen || colon[-1] != ']')
            return sl_err_set(err, SL_E_USAGE, "listen address \"%s\": expected [IPv6]:PORT",
                              listen);
        h++;
        he = colon - 1;
    }
    for (const char *p = colon + 1; *p; p++)
        if (*p < '0' || *p > '9')
            return sl_err_set(err, SL_E_USAGE, "listen address \"%s\": port is not a number",
                              listen);
    *host = sl_strndup(h, (size_t)(he - h));
    *port = sl_strdup(colon + 1);
    if (!*host || !*port)
        return sl_err_set(err, SL_E_NOMEM, "out of memory");
    return 0;
}

int sl_http_new(const char *listen, struct sl_http **out, struct sl_err *err)
{
    struct sl_http *s = sl_calloc(1, sizeof *s);
    *out = NULL;
    if (!s)
        return sl_err_set(err, SL_E_NOMEM, "out of memory");
    s->fd = -1;
    pthread_mutex_init(&s->mu, NULL);
    if (split_listen(listen, &s->host, &s->port_text, err) < 0) {
        sl_http_free(s);
        return -1;
    }
    *out = s;
    return 0;
}

static int add_route(struct sl_http *s, const char *method, const char *path, sl_http_handler h,
                     void *ctx, size_t max_body)
{
    pthread_mutex_lock(&s->mu);
    struct route *r = sl_realloc(s->routes, (s->nroutes + 1) * sizeof *r);
    if (!r) {
        pthread_mutex_unlock(&s->mu);
        return -1;
    }
    s->routes = r;
    r = &s->routes[s->nroutes];
    r->method = sl_strdup(method);
    r->path = sl_strdup(path);
    if (!r->method || !r->path) {
        sl_free(r->method);
        sl_free(r->path);
        pthread_mutex_unlock(&s->mu);
        return -1;
    }
    r->len = strlen(path);
    r->prefix = r->len > 1 && path[r->len - 1] == '/';   /* "/" is exact */
    r->h = h;
    r->ctx = ctx;
    r->max_body = max_body;
    s->nroutes++;
    pthread_mutex_unlock(&s->mu);
    return 0;
}

int sl_http_route(struct sl_http *s, const char *method, const char *path, sl_http_handler h,
                  void *ctx)
{
    return add_route(s, method, path, h, ctx, DEFAULT_MAX_BODY);
}

int sl_http_route_limit(struct sl_http *s, const char *method, const char *path,
                        sl_http_handler h, void *ctx, size_t max_body)
{
    return add_route(s, method, path, h, ctx, max_body);
}

/* Does route r take `path`? Sets *rest to what follows its prefix. */
static int route_matches(const struct route *r, const char *path, const char **rest)
{
    size_t n = strlen(path);
    if (!r->prefix) {
        *rest = path + n;
        return n == r->len && memcmp(path, r->path, n) == 0;
    }
    if (n >= r->len && memcmp(path, r->path, r->len) == 0) {
        *rest = path + r->len;
        return 1;
    }
    if (n == r->len - 1 && memcmp(path, r->path, n) == 0) {    /* "/v1/events" */
        *rest = path + n;
        return 1;
    }
    return 0;
}

static void match(struct sl_http *s, struct sl_http_req *q)
{
    size_t best = 0;
    int any = 0;
    pthread_mutex_lock(&s->mu);
    for (size_t i = 0; i < s->nroutes; i++) {
        const struct route *r = &s->routes[i];
        const char *rest;
        if (!route_matches(r, q->path, &rest))
            continue;
        any = 1;
        if (strcmp(r->method, q->method) != 0 &&
            !(strcmp(r->method, "GET") == 0 && strcmp(q->method, "HEAD") == 0))
            continue;
        if (!q->h || r->len > best) {
            best = r->len;
            q->h = r->h;
            q->ctx = r->ctx;
            q->max_body = r->max_body;
            q->rest = rest;
        }
    }
    pthread_mutex_unlock(&s->mu);
    q->status_nomatch = any ? 405 : 404;
}

/* ---- serving ---- */

static enum MHD_Result send_resp(struct MHD_Connection *c, struct sl_http_resp *r)
{
    struct MHD_Response *mr =
        MHD_create_response_from_buffer(r->body ? r->len : 0, r->body ? r->body : (void *)"",
                                        MHD_RESPMEM_MUST_COPY);
    if (!mr)
        return MHD_NO;
    MHD_add_response_header(mr, MHD_HTTP_HEADER_CONTENT_TYPE,
                            r->content_type ? r->content_type : "application/json");
    MHD_add_response_header(mr, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    MHD_add_response_header(mr, "X-Content-Type-Options", "nosniff");
    if (r->header_name && r->header_value)
        MHD_add_response_header(mr, r->header_name, r->header_value);
    enum MHD_Result ret = MHD_queue_response(c, (unsigned)(r->status ? r->status : 200), mr);
    MHD_destroy_response(mr);
    return ret;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version,
                                  const char *upload_data, size_t *upload_data_size,
                                  void **con_cls)
{
    struct sl_http *s = cls;
    struct sl_http_req *q = *con_cls;
    (void)version;

    if (!q) {
        q = sl_calloc(1, sizeof *q);
        if (!q)
            return MHD_NO;
        q->c = c;
        q->method = method;
        q->path = url;
        q->rest = "";
        sl_buf_init(&q->body);
        match(s, q);
        *con_cls = q;
        return MHD_YES;
    }
    if (*upload_data_size) {
        if (!q->too_big && q->h && q->body.len + *upload_data_size <= q->max_body)
            sl_buf_append(&q->body, upload_data, *upload_data_size);
        else
            q->too_big = 1;
        *upload_data_size = 0;
        return MHD_YES;
    }

    struct sl_http_resp r = {0};
    int rc = 0;
    if (!q->h) {
        if (q->status_nomatch == 405)
            rc = sl_http_error(&r, 405, "method %s is not allowed on %s", method, url);
        else
            rc = sl_http_error(&r, 404, "no such path: %s", url);
    } else if (q->too_big) {
        rc = sl_http_error(&r, 413, "request body over %zu bytes", q->max_body);
    } else if (q->body.oom) {
        rc = -1;
    } else {
        rc = q->h(q->ctx, q, &r);
    }
    if (rc < 0) {
        sl_free(r.body);
        memset(&r, 0, sizeof r);
        sl_http_error(&r, 500, "internal error (see the daemon's log)");
    }
    enum MHD_Result ret = send_resp(c, &r);
    sl_free(r.body);
    return ret;
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    struct sl_http_req *q = *con_cls;
    (void)cls, (void)c, (void)toe;
    if (q) {
        sl_buf_free(&q->body);
        sl_free(q);
        *con_cls = NULL;
    }
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
    char msg[512];
    (void)cls;
    vsnprintf(msg, sizeof msg, fmt, ap);
    size_t n = strlen(msg);
    while (n && (msg[n - 1] == '\n' || msg[n - 1] == '\r'))
        msg[--n] = '\0';
    sl_log(SL_LOG_WARN, NULL, "http: %s", msg);
}

int sl_http_start(struct sl_http *s, struct sl_err *err)
{
    struct addrinfo hints = {0}, *ai = NULL;
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    int g = getaddrinfo(s->host[0] ? s->host : NULL, s->port_text, &hints, &ai);
    if (g != 0)
        return sl_err_set(err, SL_E_USAGE, "listen address \"%s:%s\": %s", s->host,
                          s->port_text, gai_strerror(g));
    int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
    int one = 1;
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0 ||
        bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 || listen(fd, 64) < 0) {
        int e = errno;
        if (fd >= 0)
            close(fd);
        freeaddrinfo(ai);
        return sl_err_set(err, SL_E_IO, "could not listen on %s:%s: %s", s->host, s->port_text,
                          strerror(e));
    }
    freeaddrinfo(ai);
    s->fd = fd;

    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    if (getsockname(fd, (struct sockaddr *)&ss, &sl) == 0)
        s->port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                                 : ((struct sockaddr_in *)&ss)->sin_port);

    /* HTTPS when sl_http_set_tls gave a certificate */
    struct MHD_OptionItem tls[] = {
        {s->tls_cert ? MHD_OPTION_HTTPS_MEM_CERT : MHD_OPTION_END, 0, s->tls_cert},
        {MHD_OPTION_HTTPS_MEM_KEY, 0, s->tls_key},
        {MHD_OPTION_END, 0, NULL},
    };
    s->d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION |
                                MHD_USE_ERROR_LOG | (s->tls_cert ? MHD_USE_TLS : 0),
                            0, NULL, NULL, on_request, s,
                            MHD_OPTION_EXTERNAL_LOGGER, mhd_log, s,     /* first: MHD asks */
                            MHD_OPTION_LISTEN_SOCKET, (MHD_socket)fd,
                            MHD_OPTION_NOTIFY_COMPLETED, on_completed, s,
                            MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)60,
                            MHD_OPTION_ARRAY, tls,
                            MHD_OPTION_END);
    if (!s->d) {
        close(fd);
        s->fd = -1;
        return sl_err_set(err, SL_E_IO, "could not start the HTTP server on %s:%s", s->host,
                          s->port_text);
    }
    return 0;
}

int sl_http_set_tls(struct sl_http *s, const char *cert_pem, const char *key_pem,
                    struct sl_err *err)
{
    if (MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES)
        return sl_err_set(err, SL_E_CONFIG, "this libmicrohttpd was built without TLS");
    sl_free(s->tls_cert);
    sl_free(s->tls_key);
    s->tls_cert = sl_strdup(cert_pem);
    s->tls_key = sl_strdup(key_pem);
    if (!s->tls_cert || !s->tls_key)
        return sl_err_set(err, SL_E_NOMEM, "out of memory");
    return 0;
}

int sl_http_port(const struct sl_http *s)
{
    return s->port;
}

void sl_http_free(struct sl_http *s)
{
    if (!s)
        return;
    if (s->d)
        MHD_stop_daemon(s->d);      /* closes the listening socket too */
    else if (s->fd >= 0)
        close(s->fd);
    for (size_t i = 0; i < s->nroutes; i++) {
        sl_free(s->routes[i].method);
        sl_free(s->routes[i].path);
    }
    sl_free(s->routes);
    pthread_mutex_destroy(&s->mu);
    sl_free(s->host);
    sl_free(s->port_text);
    sl_free(s->tls_cert);
    sl_free(s->tls_key);
    sl_free(s);
}

/* ---- request ---- */

const char *sl_http_method(const struct sl_http_req *r)
{
    return r->method;
}

const char *sl_http_path(const struct sl_http_req *r)
{
    return r->path;
}

const char *sl_http_rest(const struct sl_http_req *r)
{
    return r->rest;
}

const char *sl_http_arg(const struct sl_http_req *r, const char *name)
{
    return MHD_lookup_connection_value(r->c, MHD_GET_ARGUMENT_KIND, name);
}

const char *sl_http_header(const struct sl_http_req *r, const char *name)
{
    return MHD_lookup_connection_value(r->c, MHD_HEADER_KIND, name);
}

const char *sl_http_body(const struct sl_http_req *r, size_t *len)
{
    if (len)
        *len = r->body.len;
    return r->body.data ? r->body.data : "";
}

int sl_http_bearer_ok(const struct sl_http_req *r, const char *token)
{
    const char *h = sl_http_header(r, MHD_HTTP_HEADER_AUTHORIZATION);
    if (!token || !token[0] || !h || strncasecmp(h, "Bearer ", 7) != 0)
        return 0;
    h += 7;
    while (*h == ' ')
        h++;
    /* constant time in the token's length: every byte is compared */
    size_t a = strlen(h), b = strlen(token);
    unsigned char diff = (unsigned char)(a != b);
    for (size_t i = 0; i < b; i++)
        diff |= (unsigned char)(token[i] ^ (i < a ? h[i] : 0));
    return diff == 0;
}

/* ---- answering ---- */

int sl_http_text(struct sl_http_resp *resp, int status, const char *content_type,
                 const char *text)
{
    resp->status = status;
    resp->content_type = content_type;
    resp->body = sl_strdup(text ? text : "");
    resp->len = resp->body ? strlen(resp->body) : 0;
    return resp->body ? 0 : -1;
}

int sl_http_error(struct sl_http_resp *resp, int status, const char *fmt, ...)
{
    char msg[1024];
    struct sl_buf b;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    sl_buf_init(&b);
    sl_buf_puts(&b, "{\"error\":\"");
    for (const unsigned char *p = (const unsigned char *)msg; *p; p++) {
        if (*p == '"' || *p == '\\')
            sl_buf_printf(&b, "\\%c", *p);
        else if (*p < 0x20)
            sl_buf_printf(&b, "\\u%04x", *p);
        else
            sl_buf_putc(&b, (char)*p);
    }
    sl_buf_puts(&b, "\"}\n");
    resp->status = status;
    resp->content_type = "application/json";
    if (b.oom) {
        sl_buf_free(&b);
        return -1;
    }
    resp->len = b.len;
    resp->body = sl_buf_steal(&b);
    return 0;
}
