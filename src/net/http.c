/* net/http.c: the HTTP server (see http.h) over libmicrohttpd: an internal
 * poll() thread and a thread per connection. Not MHD's epoll mode: MHD
 * refuses MHD_USE_EPOLL with MHD_USE_THREAD_PER_CONNECTION (microhttpd.h;
 * MHD_start_daemon fails), and our handlers block (an event request waits
 * until its group commit is durable, an approve loads a batch), which
 * would stall every other connection of a single event loop. poll() has no
 * FD_SETSIZE ceiling (MHD_USE_POLL "allows sockets with fd >= FD_SETSIZE";
 * select() would drop connections past descriptor 1023), so what bounds
 * the connections is our own caps, not the polling call.
 * The listening socket is made here, so a busy address is reported with its
 * errno, not MHD's log line. Each connection is counted in all and against
 * its client address (notify-connection callback): past either cap its
 * request is answered 503 with Retry-After, since a client told why backs
 * off, while one whose connection hangs unanswered cannot tell an overload
 * from an outage. MHD's own limit is HEADROOM_FACTOR times ours so those
 * answers can be made; only past it are connections refused unanswered.
 * A reaper thread shuts down a connection whose request has not arrived
 * whole within the timeout: MHD's own timeout only counts idle time, so a
 * client sending a byte every few seconds would hold its thread for ever. */
#include "net/http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <microhttpd.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "base/mem.h"
#include "base/log.h"

#define DEFAULT_MAX_BODY (1024 * 1024)
#define DEFAULT_TIMEOUT 30.0
#define DEFAULT_MAX_CONNS 1000
#define DEFAULT_MAX_PER_CLIENT 100
/* MHD's own connection limit is this many times max_conns: the connections
 * between the two are answered 503 (as a client's between its share and
 * twice it). They close after the answer, or after the timeout when they
 * send nothing, so the headroom is held only briefly. */
#define HEADROOM_FACTOR 2

struct route {
    char *method;
    char *path;
    size_t len;
    int prefix;
    sl_http_check check;
    sl_http_handler h;
    void *ctx;
    size_t max_body;
};

/* A client address and its open connections. */
struct client {
    unsigned char addr[16];     /* IPv4 as ::ffff:a.b.c.d */
    long n;
};

/* Why a connection's request is answered 503. */
enum { OVER_CLIENT = 1, OVER_TOTAL = 2 };

/* One open connection (MHD's socket context). */
struct conn {
    struct conn *prev, *next;   /* sl_http.conns */
    unsigned char addr[16];
    int fd;
    double since;       /* monotonic: the clock of the request to come started */
    int busy;           /* its request is in: handler or answer running */
    int over;           /* OVER_CLIENT, OVER_TOTAL: answer 503; 0 within the caps */
    int reaped;
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

    double timeout;
    long max_conns, max_per_client;
    char **hosts;
    size_t nhosts;

    pthread_mutex_t cmu;        /* clients, conns, reaper */
    struct client *clients;
    size_t nclients;
    struct conn *conns;
    long nconns;                /* in conns */
    long over_total;            /* arrived past max_conns since the reaper last logged */
    pthread_cond_t reaper_cv;
    pthread_t reaper;
    int reaper_started, reaper_stop;
};

struct sl_http_req {
    struct MHD_Connection *c;
    const char *method;
    const char *path;
    const char *rest;
    sl_http_check check;
    sl_http_handler h;      /* NULL: no route */
    void *ctx;
    size_t max_body;
    int status_nomatch;     /* 404 or 405 when h is NULL */
    struct sl_buf body;
    int answered;           /* answered before the body was read */
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
    s->timeout = DEFAULT_TIMEOUT;
    s->max_conns = DEFAULT_MAX_CONNS;
    s->max_per_client = DEFAULT_MAX_PER_CLIENT;
    pthread_mutex_init(&s->mu, NULL);
    pthread_mutex_init(&s->cmu, NULL);
    pthread_cond_init(&s->reaper_cv, NULL);
    if (split_listen(listen, &s->host, &s->port_text, err) < 0) {
        sl_http_free(s);
        return -1;
    }
    *out = s;
    return 0;
}

static int add_route(struct sl_http *s, const char *method, const char *path,
                     sl_http_check check, sl_http_handler h, void *ctx, size_t max_body)
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
    r->check = check;
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
    return add_route(s, method, path, NULL, h, ctx, DEFAULT_MAX_BODY);
}

int sl_http_route_limit(struct sl_http *s, const char *method, const char *path,
                        sl_http_handler h, void *ctx, size_t max_body)
{
    return add_route(s, method, path, NULL, h, ctx, max_body);
}

int sl_http_route_check(struct sl_http *s, const char *method, const char *path,
                        sl_http_check check, sl_http_handler h, void *ctx, size_t max_body)
{
    return add_route(s, method, path, check, h, ctx, max_body);
}

int sl_http_set_limits(struct sl_http *s, const struct sl_http_limits *l, struct sl_err *err)
{
    if (l->timeout > 0)
        s->timeout = l->timeout;
    if (l->max_conns > 0)
        s->max_conns = l->max_conns;
    if (l->max_per_client > 0)
        s->max_per_client = l->max_per_client;
    if (l->nhosts) {
        s->hosts = sl_calloc(l->nhosts, sizeof *s->hosts);
        if (!s->hosts)
            return sl_err_set(err, SL_E_NOMEM, "out of memory");
        for (; s->nhosts < l->nhosts; s->nhosts++)
            if (!(s->hosts[s->nhosts] = sl_strdup(l->hosts[s->nhosts])))
                return sl_err_set(err, SL_E_NOMEM, "out of memory");
    }
    return 0;
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
            q->check = r->check;
            q->h = r->h;
            q->ctx = r->ctx;
            q->max_body = r->max_body;
            q->rest = rest;
        }
    }
    pthread_mutex_unlock(&s->mu);
    q->status_nomatch = any ? 405 : 404;
}

/* ---- connections: per-client shares, the request deadline ---- */

static double mono_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The client's address as 16 bytes (IPv4 mapped into IPv6); 0 when it has
 * none we count (a UNIX socket). An IPv6 client counts by its /64: one
 * host is given a whole /64, and could otherwise open a share per address
 * of it. */
static int addr_key(const struct sockaddr *sa, unsigned char key[16])
{
    memset(key, 0, 16);
    if (sa && sa->sa_family == AF_INET) {
        key[10] = key[11] = 0xff;
        memcpy(key + 12, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, 4);
        return 1;
    }
    if (sa && sa->sa_family == AF_INET6) {
        memcpy(key, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr, 16);
        static const unsigned char v4mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
        if (memcmp(key, v4mapped, 12) != 0)
            memset(key + 8, 0, 8);
        return 1;
    }
    return 0;
}

/* The client's entry; with `add`, made when missing. Under cmu. */
static struct client *client_of(struct sl_http *s, const unsigned char key[16], int add)
{
    for (size_t i = 0; i < s->nclients; i++)
        if (memcmp(s->clients[i].addr, key, 16) == 0)
            return &s->clients[i];
    if (!add)
        return NULL;
    struct client *c = sl_realloc(s->clients, (s->nclients + 1) * sizeof *c);
    if (!c)
        return NULL;
    s->clients = c;
    c = &s->clients[s->nclients++];
    memcpy(c->addr, key, 16);
    c->n = 0;
    return c;
}

/* A client with twice its share open is refused at the door (closed
 * unanswered: it is not reading answers anyway); between one and two
 * shares its requests are answered 503 (on_request). Past twice the total
 * cap MHD refuses a connection itself (MHD_OPTION_CONNECTION_LIMIT);
 * between the two on_connection marks it for a 503. */
static enum MHD_Result on_accept(void *cls, const struct sockaddr *addr, socklen_t addrlen)
{
    struct sl_http *s = cls;
    unsigned char key[16];
    enum MHD_Result ok = MHD_YES;
    (void)addrlen;
    if (!addr_key(addr, key))
        return MHD_YES;
    pthread_mutex_lock(&s->cmu);
    struct client *c = client_of(s, key, 0);
    if (c && c->n >= 2 * s->max_per_client)
        ok = MHD_NO;
    pthread_mutex_unlock(&s->cmu);
    return ok;
}

static void on_connection(void *cls, struct MHD_Connection *c, void **socket_context,
                          enum MHD_ConnectionNotificationCode code)
{
    struct sl_http *s = cls;
    struct conn *k = *socket_context;

    if (code == MHD_CONNECTION_NOTIFY_STARTED) {
        const union MHD_ConnectionInfo *ci =
            MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
        const union MHD_ConnectionInfo *fi =
            MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
        k = sl_calloc(1, sizeof *k);
        if (!k)
            return;     /* not counted, not reaped: MHD's idle timeout still holds */
        k->fd = fi ? fi->connect_fd : -1;
        k->since = mono_now();
        pthread_mutex_lock(&s->cmu);
        if (ci && addr_key(ci->client_addr, k->addr)) {
            struct client *cl = client_of(s, k->addr, 1);
            if (cl && ++cl->n > s->max_per_client)
                k->over = OVER_CLIENT;
        }
        /* a client past its own share hears about that (it is the one to
         * act); the total cap speaks to the others */
        if (++s->nconns > s->max_conns && !k->over) {
            k->over = OVER_TOTAL;
            s->over_total++;
        }
        k->next = s->conns;
        if (s->conns)
            s->conns->prev = k;
        s->conns = k;
        pthread_mutex_unlock(&s->cmu);
        *socket_context = k;
        return;
    }
    if (!k)
        return;
    pthread_mutex_lock(&s->cmu);
    struct client *cl = client_of(s, k->addr, 0);
    if (cl && --cl->n <= 0)
        *cl = s->clients[--s->nclients];
    if (k->prev)
        k->prev->next = k->next;
    else
        s->conns = k->next;
    if (k->next)
        k->next->prev = k->prev;
    s->nconns--;
    pthread_mutex_unlock(&s->cmu);
    sl_free(k);
    *socket_context = NULL;
}

static struct conn *conn_of(struct MHD_Connection *c)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    return ci ? ci->socket_context : NULL;
}

static void conn_busy(struct sl_http *s, struct conn *k, int busy)
{
    if (!k)
        return;
    pthread_mutex_lock(&s->cmu);
    k->busy = busy;
    k->since = mono_now();
    pthread_mutex_unlock(&s->cmu);
}

/* Shuts down each connection whose request has not come whole within the
 * timeout; its thread then sees the socket closed and ends it. Under cmu the
 * descriptor is still open: MHD closes it only after on_connection(CLOSED). */
static void *reaper(void *arg)
{
    struct sl_http *s = arg;
    double last_log = 0, last_over_log = 0;
    long closed = 0;

    pthread_mutex_lock(&s->cmu);
    while (!s->reaper_stop) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 250 * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&s->reaper_cv, &s->cmu, &ts);
        double now = mono_now();
        for (struct conn *k = s->conns; k; k = k->next)
            if (!k->busy && !k->reaped && k->fd >= 0 && now - k->since > s->timeout) {
                shutdown(k->fd, SHUT_RDWR);
                k->reaped = 1;
                closed++;
            }
        if (closed && now - last_log >= 60) {
            sl_log(SL_LOG_WARN, NULL, "http: closed %ld connection%s on %s:%d whose request did "
                   "not arrive within %.0f s (http: { timeout })", closed, closed == 1 ? "" : "s",
                   s->host, s->port, s->timeout);
            last_log = now;
            closed = 0;
        }
        if (s->over_total && now - last_over_log >= 60) {
            sl_log(SL_LOG_WARN, NULL, "http: %ld connection%s on %s:%d came past the %ld "
                   "allowed open in all and got 503 (http: { max_connections })",
                   s->over_total, s->over_total == 1 ? "" : "s", s->host, s->port,
                   s->max_conns);
            last_over_log = now;
            s->over_total = 0;
        }
    }
    pthread_mutex_unlock(&s->cmu);
    return NULL;
}

/* ---- serving ---- */

static enum MHD_Result send_resp(struct MHD_Connection *c, struct sl_http_resp *r, int close)
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
    /* an answer before the body was read: what follows on the connection is
     * no request, so it closes */
    if (close)
        MHD_add_response_header(mr, MHD_HTTP_HEADER_CONNECTION, "close");
    enum MHD_Result ret = MHD_queue_response(c, (unsigned)(r->status ? r->status : 200), mr);
    MHD_destroy_response(mr);
    return ret;
}

/* Is `host` (a Host header) one of ours: localhost, an IP address (a
 * rebinding attack needs a name), or a configured name? The port is not
 * looked at. */
static int host_ok(const struct sl_http *s, const char *host)
{
    char name[256];
    unsigned char ip[16];
    size_t n;

    if (!host)
        return 1;       /* HTTP/1.0; a browser always sends one */
    if (host[0] == '[') {
        const char *e = strchr(host, ']');
        if (!e || (e[1] && e[1] != ':') || (size_t)(e - host - 1) >= sizeof name)
            return 0;
        memcpy(name, host + 1, (size_t)(e - host - 1));
        name[e - host - 1] = '\0';
        return inet_pton(AF_INET6, name, ip) == 1;
    }
    const char *colon = strchr(host, ':');
    n = colon ? (size_t)(colon - host) : strlen(host);
    if (n == 0 || n >= sizeof name || (colon && strchr(colon + 1, ':')))
        return 0;
    memcpy(name, host, n);
    name[n] = '\0';
    if (n > 1 && name[n - 1] == '.')
        name[--n] = '\0';
    if (inet_pton(AF_INET, name, ip) == 1 || strcasecmp(name, "localhost") == 0)
        return 1;
    for (size_t i = 0; i < s->nhosts; i++)
        if (strcasecmp(name, s->hosts[i]) == 0)
            return 1;
    return 0;
}

struct framing {
    int ncl, nte, bad;
    const char *cl;
};

static enum MHD_Result count_framing(void *cls, enum MHD_ValueKind kind, const char *key,
                                     const char *value)
{
    struct framing *f = cls;
    (void)kind;
    if (strcasecmp(key, MHD_HTTP_HEADER_CONTENT_LENGTH) == 0) {
        if (!value || !value[0] || strspn(value, "0123456789") != strlen(value) ||
            (f->cl && strcmp(f->cl, value) != 0))
            f->bad = 1;
        f->cl = value;
        f->ncl++;
    } else if (strcasecmp(key, MHD_HTTP_HEADER_TRANSFER_ENCODING) == 0) {
        f->nte++;
    }
    return MHD_YES;
}

/* The answer a request gets before its body is read, if any: 0 = read on. */
static int early_answer(struct sl_http *s, struct sl_http_req *q, struct conn *k,
                        struct sl_http_resp *r)
{
    struct MHD_Connection *c = q->c;
    const char *host = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_HOST);

    if (k && k->over) {
        r->header_name = "Retry-After";
        r->header_value = "5";
        if (k->over == OVER_CLIENT)
            return sl_http_error(r, 503, "too many connections from your address (at most %ld); "
                                 "retry on one of those open", s->max_per_client) < 0 ? -1 : 1;
        return sl_http_error(r, 503, "too many connections to this server (at most %ld in "
                             "all); retry later", s->max_conns) < 0 ? -1 : 1;
    }
    if (!host_ok(s, host))
        return sl_http_error(r, 421, "this server does not answer for host \"%.200s\"; a name "
                             "clients use must be listed in http: { hosts: [...] }",
                             host) < 0 ? -1 : 1;
    /* two framings, and a proxy in front may read the other one (smuggling) */
    struct framing f = {0, 0, 0, NULL};
    MHD_get_connection_values(c, MHD_HEADER_KIND, count_framing, &f);
    if (f.bad || f.nte > 1 || (f.ncl && f.nte))
        return sl_http_error(r, 400, "ambiguous request framing: %s",
                             f.ncl && f.nte ? "both Content-Length and Transfer-Encoding"
                             : f.nte > 1 ? "more than one Transfer-Encoding"
                                         : "conflicting or malformed Content-Length") < 0 ? -1 : 1;
    if (!q->h) {
        if (q->status_nomatch == 405)
            return sl_http_error(r, 405, "method %s is not allowed on %s", q->method,
                                 q->path) < 0 ? -1 : 1;
        return sl_http_error(r, 404, "no such path: %s", q->path) < 0 ? -1 : 1;
    }
    if (q->check) {
        int rc = q->check(q->ctx, q, &q->max_body, r);
        if (rc != 0)
            return rc;
    }
    if (f.cl) {
        errno = 0;
        unsigned long long n = strtoull(f.cl, NULL, 10);
        if (errno || n > q->max_body)
            return sl_http_error(r, 413, "request body of %s bytes is over the %zu allowed",
                                 f.cl, q->max_body) < 0 ? -1 : 1;
    }
    return 0;
}

static enum MHD_Result answer(struct MHD_Connection *c, struct sl_http_resp *r, int rc, int close)
{
    if (rc < 0) {
        sl_free(r->body);
        memset(r, 0, sizeof *r);
        sl_http_error(r, 500, "internal error (see the daemon's log)");
    }
    enum MHD_Result ret = send_resp(c, r, close);
    sl_free(r->body);
    return ret;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version,
                                  const char *upload_data, size_t *upload_data_size,
                                  void **con_cls)
{
    struct sl_http *s = cls;
    struct sl_http_req *q = *con_cls;
    struct sl_http_resp r = {0};
    int rc;
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
        rc = early_answer(s, q, conn_of(c), &r);
        if (rc == 0)
            return MHD_YES;
        q->answered = 1;
        conn_busy(s, conn_of(c), 1);
        return answer(c, &r, rc, 1);
    }
    if (q->answered) {
        *upload_data_size = 0;      /* not read: the connection closes after the answer */
        return MHD_YES;
    }
    if (*upload_data_size) {
        /* past the limit (a chunked body: a Content-Length was checked
         * before): nothing more is kept. This libmicrohttpd takes no answer
         * until the body is in, so the rest is read and dropped (within the
         * request's deadline) and answered 413 then */
        if (q->too_big || q->body.len + *upload_data_size > q->max_body)
            q->too_big = 1;
        else
            sl_buf_append(&q->body, upload_data, *upload_data_size);
        *upload_data_size = 0;
        return MHD_YES;
    }

    if (q->too_big) {
        conn_busy(s, conn_of(c), 1);
        rc = sl_http_error(&r, 413, "request body over the %zu bytes allowed", q->max_body);
        return answer(c, &r, rc, 1);
    }
    conn_busy(s, conn_of(c), 1);
    rc = q->body.oom ? -1 : q->h(q->ctx, q, &r);
    return answer(c, &r, rc, 0);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    struct sl_http *s = cls;
    struct sl_http_req *q = *con_cls;
    (void)toe;
    conn_busy(s, conn_of(c), 0);      /* the next request's clock starts */
    if (q) {
        sl_buf_free(&q->body);
        sl_free(q);
        *con_cls = NULL;
    }
}

/* MHD's messages: what a client did (closed early, sent garbage) at debug
 * level; the rest a warning, each kind at most once a minute (a flood of
 * refused connections would otherwise flood the log). */
static void mhd_log(void *cls, const char *fmt, va_list ap)
{
    static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
    static const char *last_fmt;
    static double last_at;
    char msg[512];
    enum sl_log_level level = SL_LOG_WARN;
    (void)cls;
    vsnprintf(msg, sizeof msg, fmt, ap);
    size_t n = strlen(msg);
    while (n && (msg[n - 1] == '\n' || msg[n - 1] == '\r'))
        msg[--n] = '\0';
    pthread_mutex_lock(&mu);
    if (strstr(fmt, "closed") || strstr(fmt, "Failed to send") ||
        (fmt == last_fmt && mono_now() - last_at < 60))
        level = SL_LOG_DEBUG;
    else {
        last_fmt = fmt;
        last_at = mono_now();
    }
    pthread_mutex_unlock(&mu);
    sl_log(level, NULL, "http: %s", msg);
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
        bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 || listen(fd, SOMAXCONN) < 0) {
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
    /* poll(), not select(): descriptors past FD_SETSIZE (1024) are fine */
    unsigned poll = MHD_is_feature_supported(MHD_FEATURE_POLL) == MHD_YES ? MHD_USE_POLL : 0;
    /* room above max_conns for the connections answered 503 */
    unsigned int hard = s->max_conns > (long)(UINT_MAX / HEADROOM_FACTOR)
                            ? UINT_MAX : (unsigned int)s->max_conns * HEADROOM_FACTOR;
    s->d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION |
                                poll | MHD_USE_ERROR_LOG | (s->tls_cert ? MHD_USE_TLS : 0),
                            0, on_accept, s, on_request, s,
                            MHD_OPTION_EXTERNAL_LOGGER, mhd_log, s,     /* first: MHD asks */
                            MHD_OPTION_LISTEN_SOCKET, (MHD_socket)fd,
                            MHD_OPTION_NOTIFY_COMPLETED, on_completed, s,
                            MHD_OPTION_NOTIFY_CONNECTION, on_connection, s,
                            MHD_OPTION_CONNECTION_LIMIT, hard,
                            MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)(s->timeout + 0.999),
                            MHD_OPTION_ARRAY, tls,
                            MHD_OPTION_END);
    if (!s->d) {
        close(fd);
        s->fd = -1;
        return sl_err_set(err, SL_E_IO, "could not start the HTTP server on %s:%s", s->host,
                          s->port_text);
    }
    if (pthread_create(&s->reaper, NULL, reaper, s) != 0)
        return sl_err_set(err, SL_E_INTERNAL, "could not start the HTTP server's timeout thread");
    s->reaper_started = 1;
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
    if (s->reaper_started) {
        pthread_mutex_lock(&s->cmu);
        s->reaper_stop = 1;
        pthread_cond_signal(&s->reaper_cv);
        pthread_mutex_unlock(&s->cmu);
        pthread_join(s->reaper, NULL);
    }
    if (s->d)
        MHD_stop_daemon(s->d);      /* closes the listening socket too */
    else if (s->fd >= 0)
        close(s->fd);
    for (size_t i = 0; i < s->nroutes; i++) {
        sl_free(s->routes[i].method);
        sl_free(s->routes[i].path);
    }
    sl_free(s->routes);
    for (size_t i = 0; i < s->nhosts; i++)
        sl_free(s->hosts[i]);
    sl_free(s->hosts);
    sl_free(s->clients);
    pthread_mutex_destroy(&s->mu);
    pthread_mutex_destroy(&s->cmu);
    pthread_cond_destroy(&s->reaper_cv);
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
