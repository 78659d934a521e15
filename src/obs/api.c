/* obs/api.c: the admin routes (see api.h). */
#include "obs/api.h"

#include <inttypes.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "base/mem.h"
#include "base/retry.h"
#include "base/version.h"
#include "engine/pipeline.h"
#include "engine/rollback.h"
#include "obs/metrics.h"

static struct sl_api_view *view_new(const struct sl_config *c, struct sl_dbpool *pool)
{
    struct sl_api_view *v = sl_calloc(1, sizeof *v);
    if (!v) {
        sl_dbpool_free(pool);
        return NULL;
    }
    v->c = c;
    v->pool = pool;
    return v;
}

int sl_api_init(struct sl_api *a, const struct sl_config *c, struct sl_dbpool *pool,
                sl_usec since)
{
    memset(a, 0, sizeof *a);
    a->since = since;
    pthread_mutex_init(&a->mu, NULL);
    pthread_mutex_init(&a->action_mu, NULL);
    a->cur = view_new(c, pool);
    return a->cur ? 0 : -1;
}

int sl_api_swap(struct sl_api *a, const struct sl_config *c, struct sl_dbpool *pool)
{
    struct sl_api_view *v = view_new(c, pool);
    if (!v)
        return -1;
    pthread_mutex_lock(&a->mu);
    a->cur->next = a->retired;
    a->retired = a->cur;
    a->cur = v;
    pthread_mutex_unlock(&a->mu);
    return 0;
}

int sl_api_uses(struct sl_api *a, const struct sl_config *c)
{
    struct sl_api_view *unused = NULL;
    int used;
    pthread_mutex_lock(&a->mu);
    for (struct sl_api_view **at = &a->retired; *at;) {
        struct sl_api_view *v = *at;
        if (v->refs == 0) {
            *at = v->next;
            v->next = unused;
            unused = v;
        } else {
            at = &v->next;
        }
    }
    used = a->cur && a->cur->c == c;
    for (struct sl_api_view *v = a->retired; v && !used; v = v->next)
        used = v->c == c;
    pthread_mutex_unlock(&a->mu);
    while (unused) {    /* closing connections: outside the lock */
        struct sl_api_view *v = unused;
        unused = v->next;
        sl_dbpool_free(v->pool);
        sl_free(v);
    }
    return used;
}

void sl_api_destroy(struct sl_api *a)
{
    if (a->cur) {
        a->cur->next = a->retired;
        a->retired = a->cur;
        a->cur = NULL;
    }
    while (a->retired) {
        struct sl_api_view *v = a->retired;
        a->retired = v->next;
        sl_dbpool_free(v->pool);
        sl_free(v);
    }
    pthread_mutex_destroy(&a->action_mu);
    pthread_mutex_destroy(&a->mu);
}

/* The view a request reads, held until view_put. */
static struct sl_api_view *view_get(struct sl_api *a)
{
    pthread_mutex_lock(&a->mu);
    struct sl_api_view *v = a->cur;
    v->refs++;
    pthread_mutex_unlock(&a->mu);
    return v;
}

static void view_put(struct sl_api *a, struct sl_api_view *v)
{
    pthread_mutex_lock(&a->mu);
    v->refs--;
    pthread_mutex_unlock(&a->mu);
}

/* Takes the reference to `j`. */
static int json_resp(struct sl_http_resp *resp, int status, json_t *j)
{
    if (!j)
        return -1;
    char *s = json_dumps(j, JSON_COMPACT | JSON_REAL_PRECISION(12));
    json_decref(j);
    if (!s)
        return -1;
    int rc = sl_http_text(resp, status, "application/json", s);
    free(s);
    return rc;
}

/* ---- reads ---- */

static int get_dashboard(void *ctx, const struct sl_http_req *req, struct sl_http_resp *resp)
{
    (void)ctx, (void)req;
    resp->status = 200;
    resp->content_type = "text/html; charset=utf-8";
    resp->body = sl_malloc(sl_dashboard_html_len + 1);
    if (!resp->body)
        return -1;
    memcpy(resp->body, sl_dashboard_html, sl_dashboard_html_len);
    resp->len = sl_dashboard_html_len;
    /* the page is all inline; nothing else may load or run */
    resp->header_name = "Content-Security-Policy";
    resp->header_value = "default-src 'none'; script-src 'unsafe-inline'; "
                         "style-src 'unsafe-inline'; connect-src 'self'; img-src data:";
    return 0;
}

static int get_metrics(void *ctx, const struct sl_http_req *req, struct sl_http_resp *resp)
{
    (void)ctx, (void)req;
    char *text = sl_metrics_render();
    if (!text)
        return -1;
    resp->status = 200;
    resp->content_type = "text/plain; version=0.0.4; charset=utf-8";
    resp->body = text;
    resp->len = strlen(text);
    return 0;
}

static int get_health(void *ctx, const struct sl_http_req *req, struct sl_http_resp *resp)
{
    (void)ctx, (void)req;
    return sl_http_text(resp, 200, "text/plain", "ok\n");
}

/* Open to all, but an error may quote a value from the data ("... is
 * \"abc\""): last_error only for the admin token. */
static int get_status(void *ctx, const struct sl_http_req *req, struct sl_http_resp *resp)
{
    struct sl_api *a = ctx;
    struct sl_status_opts o = {1, a->since, SL_STATUS_SLOTS_WATCHED};
    struct sl_api_view *v = view_get(a);
    json_t *doc = sl_status_build(v->c, v->pool, &o, NULL), *p, *t;
    size_t i, k;
    if (doc)
        json_object_set_new(doc, "version", json_string(sl_version));
    if (doc && !sl_http_bearer_ok(req, v->c->http_token))
        json_array_foreach(json_object_get(doc, "pipelines"), i, p) {
            json_array_foreach(json_object_get(p, "tables"), k, t)
                if (json_is_string(json_object_get(t, "last_error")))
                    json_object_set_new(t, "last_error", json_null());
            json_t *s = json_object_get(p, "slot");
            if (json_is_string(json_object_get(s, "error")))
                json_object_set_new(s, "error", json_null());
        }
    view_put(a, v);
    return json_resp(resp, 200, doc);
}

static int token_refused(const struct sl_config *c, const struct sl_http_req *req,
                         struct sl_http_resp *resp)
{
    if (!c->http_token || !c->http_token[0])
        return sl_http_error(resp, 403, "%s %s needs the admin token, and the config sets none"
                             " (http: { token: \"${SLUICE_ADMIN_TOKEN}\" })",
                             sl_http_method(req), sl_http_path(req)) < 0 ? -1 : 1;
    if (!sl_http_bearer_ok(req, c->http_token)) {
        resp->header_name = "WWW-Authenticate";
        resp->header_value = "Bearer realm=\"sluice\"";
        return sl_http_error(resp, 401, "%s %s needs the admin token:"
                             " Authorization: Bearer <token>", sl_http_method(req),
                             sl_http_path(req)) < 0 ? -1 : 1;
    }
    return 0;
}

/* Routes that show data values (gate examples, errors) or change what is
 * loaded take the admin token, checked on the headers, before any body. */
static int need_token(void *ctx, const struct sl_http_req *req, size_t *max_body,
                      struct sl_http_resp *resp)
{
    struct sl_api *a = ctx;
    (void)max_body;
    struct sl_api_view *v = view_get(a);
    int rc = token_refused(v->c, req, resp);
    view_put(a, v);
    return rc;
}

static const char *const batch_states[] = {"received", "staged", "gated", "committed", "failed",
                                           "quarantined", "approved", "rejected",
                                           "rolled_back", NULL};

static int batches_of(const struct sl_api_view *v, const struct sl_http_req *req,
                      struct sl_http_resp *resp)
{
    const char *pipeline = sl_http_arg(req, "pipeline"), *table = sl_http_arg(req, "table");
    const char *state = sl_http_arg(req, "state"), *lim = sl_http_arg(req, "limit");
    long limit = 100;
    struct sl_err err;

    if (pipeline && !*pipeline)
        pipeline = NULL;
    if (table && !*table)
        table = NULL;
    if (state && !*state)
        state = NULL;
    if (state) {
        int ok = 0;
        for (int i = 0; batch_states[i] && !ok; i++)
            ok = strcmp(batch_states[i], state) == 0;
        if (!ok)
            return sl_http_error(resp, 400, "unknown state \"%s\" (committed, failed, quarantined,"
                                 " approved, rejected, rolled_back)", state);
    }
    if (pipeline && !sl_config_pipeline(v->c, pipeline))
        return sl_http_error(resp, 404, "no pipeline \"%s\"", pipeline);
    if (lim && *lim) {
        char *end;
        limit = strtol(lim, &end, 10);
        if (*end || limit <= 0 || limit > 10000)
            return sl_http_error(resp, 400, "limit: expected a number from 1 to 10000");
    }
    sl_err_clear(&err);
    json_t *arr = sl_status_batches(v->c, v->pool, pipeline, table, state, limit, &err);
    if (!arr)
        return sl_http_error(resp, 503, "%s", err.msg);
    return json_resp(resp, 200, arr);
}

static int get_batches(void *ctx, const struct sl_http_req *req, struct sl_http_resp *resp)
{
    struct sl_api *a = ctx;
    struct sl_api_view *v = view_get(a);
    int rc = batches_of(v, req, resp);
    view_put(a, v);
    return rc;
}

/* ---- actions ---- */

struct action_args {
    json_t *body;           /* parsed JSON body or NULL */
    const struct sl_http_req *req;
};

/* A string argument from the query, else the JSON body. */
static const char *arg_str(const struct action_args *x, const char *name)
{
    const char *v = sl_http_arg(x->req, name);
    if (v && *v)
        return v;
    v = x->body ? json_string_value(json_object_get(x->body, name)) : NULL;
    return v && *v ? v : NULL;
}

static int arg_bool(const struct action_args *x, const char *name)
{
    const char *v = sl_http_arg(x->req, name);
    if (v)
        return strcmp(v, "1") == 0 || strcmp(v, "true") == 0 || strcmp(v, "yes") == 0;
    return x->body ? json_is_true(json_object_get(x->body, name)) : 0;
}

static int status_of(const struct sl_err *e)
{
    switch (e->code) {
    case SL_E_USAGE:
    case SL_E_STATE: return 409;        /* not in a state that allows it */
    case SL_E_INPUT: return 422;        /* its data does not load / refused */
    case SL_E_CONFIG: return 409;
    case SL_E_NOTFOUND: return 404;
    case SL_E_NOMEM:
    case SL_E_INTERNAL: return 500;
    default: return 503;                /* destination or source trouble */
    }
}

/* Who decides through the API, in the ledger: there is one admin token and
 * it has no other name. */
static const char API_WHO[] = "the admin API token";

static int release(const struct sl_config *c, const struct action_args *x, int64_t id,
                   int approve, struct sl_http_resp *resp)
{
    const char *only = arg_str(x, "pipeline");
    const char *note = arg_str(x, "note");
    if (only && !sl_config_pipeline(c, only))
        return sl_http_error(resp, 404, "no pipeline \"%s\"", only);
    for (size_t i = 0; i < c->npipelines; i++) {
        const struct sl_pipeline_cfg *p = &c->pipelines[i];
        if (only && strcmp(p->name, only) != 0)
            continue;
        struct sl_run_stats st = {0};
        struct sl_err err;
        sl_err_clear(&err);
        int r = sl_pipeline_release(c, p, id, approve, API_WHO, note, &st, &err);
        if (r == 1)
            continue;
        if (r < 0)
            return sl_http_error(resp, status_of(&err), "%s", err.msg);
        json_t *j = json_pack("{s:I, s:s, s:s, s:s, s:I}", "batch", (json_int_t)id, "pipeline",
                              p->name, "action", approve ? "approve" : "reject", "state",
                              approve ? (st.committed ? "committed" : "rejected") : "rejected",
                              "rows", (json_int_t)st.rows);
        return json_resp(resp, 200, j);
    }
    return sl_http_error(resp, 404, "no batch %" PRId64 " in the ledger of %s", id,
                         only ? only : "any pipeline");
}

static int open_dest(const struct sl_config *c, const struct sl_connection_cfg *conn,
                     const struct sl_dest_ops **ops, struct sl_dest **d, struct sl_err *err)
{
    *d = NULL;
    if (sl_dest_open(conn->url, conn->password, c->dir, ops, d, err) < 0 ||
        (*ops)->ensure_meta(*d, err) < 0) {
        sl_err_prefix(err, "connection \"%s\"", conn->name);
        if (*d)
            (*ops)->close(*d);
        *d = NULL;
        return -1;
    }
    return 0;
}

static int rollback(const struct sl_config *c, const struct action_args *x, int64_t id,
                    struct sl_http_resp *resp)
{
    const char *only = arg_str(x, "pipeline"), *table = arg_str(x, "table");
    int cascade = arg_bool(x, "cascade");
    const struct sl_pipeline_cfg *op = only ? sl_config_pipeline(c, only) : NULL;
    const struct sl_connection_cfg *found = NULL;
    const struct sl_dest_ops *ops = NULL;
    struct sl_dest *d = NULL;
    char tname[256] = "", pname[256] = "";
    int hits = 0, rc;
    struct sl_err err;

    if (only && !op)
        return sl_http_error(resp, 404, "no pipeline \"%s\"", only);
    /* which destination's ledger has the batch (ids are per destination) */
    for (size_t ci = 0; ci < c->nconnections; ci++) {
        const struct sl_connection_cfg *conn = &c->connections[ci];
        int used = 0;
        for (size_t i = 0; i < c->npipelines && !used; i++)
            used = c->pipelines[i].dest_conn == conn;
        if (!used || (op && op->dest_conn != conn))
            continue;
        const struct sl_dest_ops *o2;
        struct sl_dest *d2;
        struct sl_rows row;
        sl_err_clear(&err);
        if (open_dest(c, conn, &o2, &d2, &err) < 0 ||
            sl_rollback_lookup(o2, d2, id, &row, &err) < 0) {
            if (d2)
                o2->close(d2);
            if (d)
                ops->close(d);
            return sl_http_error(resp, 503, "%s", err.msg);
        }
        const char *t = row.nrows ? sl_rows_get(&row, 0, 2) : NULL;
        const char *pl = row.nrows ? sl_rows_get(&row, 0, 1) : NULL;
        if (t && (!table || strcmp(table, t) == 0) && (!only || (pl && strcmp(pl, only) == 0))) {
            if (hits++ == 0) {
                found = conn;
                ops = o2;
                d = d2;
                d2 = NULL;
                snprintf(tname, sizeof tname, "%s", t);
                snprintf(pname, sizeof pname, "%s", pl ? pl : "");
            }
        }
        sl_rows_free(&row);
        if (d2)
            o2->close(d2);
    }
    if (hits == 0)
        return sl_http_error(resp, 404, "no batch %" PRId64 " in the ledger of any destination",
                             id);
    if (hits > 1) {
        ops->close(d);
        return sl_http_error(resp, 409, "batch %" PRId64 " is in more than one ledger; name its"
                             " pipeline (pipeline=...)", id);
    }
    (void)found;

    /* the table's key names the keys in a refusal */
    const struct sl_table_cfg *tc = NULL;
    const struct sl_pipeline_cfg *pp = sl_config_pipeline(c, pname);
    for (size_t k = 0; pp && k < pp->ntables && !tc; k++)
        if (strcmp(pp->tables[k].name, tname) == 0)
            tc = &pp->tables[k];
    struct sl_rollback_result res = {0};
    int attempts = sl_retry_attempts();
    for (int at = 1; at <= attempts; at++) {
        sl_err_clear(&err);
        if (sl_rollback_batch(ops, d, id, tc ? (const char *const *)tc->primary_key.items : NULL,
                              tc ? tc->primary_key.n : 0, cascade, API_WHO, &res, &err) == 0 ||
            err.cls != SL_RETRY)
            break;
        if (at < attempts)
            sl_retry_sleep(at);
    }
    ops->close(d);
    struct sl_log_ctx lc = {pname[0] ? pname : NULL, tname, id};
    if (err.code != SL_E_NONE) {
        sl_log(SL_LOG_WARN, &lc, "rollback through the admin API refused: %s", err.msg);
        if (err.code == SL_E_INPUT)
            return sl_http_error(resp, 409, "%s (API: cascade=true)", err.msg);
        return sl_http_error(resp, status_of(&err), "%s", err.msg);
    }
    json_t *steps = json_array();
    for (size_t i = 0; i < res.nsteps; i++) {
        const struct sl_rollback_step *s = &res.steps[i];
        json_array_append_new(steps, json_pack("{s:I, s:s, s:s, s:I, s:I}", "batch",
                                               (json_int_t)s->batch, "table", s->table, "kind",
                                               s->kind, "removed", (json_int_t)s->removed,
                                               "restored", (json_int_t)s->restored));
        sl_metrics_batch(pname, s->table, SL_MB_ROLLED_BACK, 0, 0, -1);
        sl_log(SL_LOG_INFO, &lc, "rolled back batch %" PRId64 " through the admin API: removed %"
               PRId64 " rows, restored %" PRId64, s->batch, s->removed, s->restored);
    }
    sl_rollback_result_free(&res);
    rc = json_resp(resp, 200, json_pack("{s:I, s:s, s:s, s:o}", "batch", (json_int_t)id,
                                        "pipeline", pname, "action", "rollback", "steps", steps));
    return rc;
}

/* POST /api/batches/{id}/{approve|reject|rollback} */
static int post_batch(void *ctx, const struct sl_http_req *req, struct sl_http_resp *resp)
{
    struct sl_api *a = ctx;
    const char *rest = sl_http_rest(req);
    char *end;

    /* the token was checked on the headers (need_token) */
    long long id = strtoll(rest, &end, 10);
    if (id <= 0 || end == rest || *end != '/')
        return sl_http_error(resp, 404, "expected /api/batches/{id}/approve, reject or rollback");
    const char *what = end + 1;
    int kind = strcmp(what, "approve") == 0 ? 1 : strcmp(what, "reject") == 0 ? 2
             : strcmp(what, "rollback") == 0 ? 3 : 0;
    if (!kind)
        return sl_http_error(resp, 404, "unknown action \"%s\" (approve, reject, rollback)", what);

    struct action_args x = {NULL, req};
    size_t blen;
    const char *body = sl_http_body(req, &blen);
    if (blen) {
        x.body = json_loadb(body, blen, 0, NULL);
        if (!json_is_object(x.body)) {
            json_decref(x.body);
            return sl_http_error(resp, 400, "the body must be a JSON object");
        }
    }
    pthread_mutex_lock(&a->action_mu);
    struct sl_api_view *v = view_get(a);
    int rc = kind == 3 ? rollback(v->c, &x, id, resp) : release(v->c, &x, id, kind == 1, resp);
    view_put(a, v);
    pthread_mutex_unlock(&a->action_mu);
    json_decref(x.body);
    return rc;
}

int sl_api_register(struct sl_http *s, struct sl_api *a)
{
    if (sl_http_route(s, "GET", "/", get_dashboard, a) < 0 ||
        sl_http_route(s, "GET", "/index.html", get_dashboard, a) < 0 ||
        sl_http_route(s, "GET", "/metrics", get_metrics, a) < 0 ||
        sl_http_route(s, "GET", "/healthz", get_health, a) < 0 ||
        sl_http_route(s, "GET", "/api/status", get_status, a) < 0 ||
        sl_http_route_check(s, "GET", "/api/batches", need_token, get_batches, a,
                            64 * 1024) < 0 ||
        sl_http_route_check(s, "POST", "/api/batches/", need_token, post_batch, a,
                            64 * 1024) < 0)
        return -1;
    return 0;
}
