/* obs/status.c: pipeline and table states (see status.h). */
#include "obs/status.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "base/mem.h"
#include "base/redact.h"
#include "obs/metrics.h"

/* ---- connections ---- */

struct pool_conn {
    pthread_mutex_t mu;
    const struct sl_dest_ops *ops;
    struct sl_dest *d;
    int meta_done;
};

struct sl_dbpool {
    const struct sl_config *c;
    struct pool_conn *conns;    /* one per c->connections[i] */
};

struct sl_dbpool *sl_dbpool_new(const struct sl_config *c)
{
    struct sl_dbpool *p = sl_calloc(1, sizeof *p);
    if (!p)
        return NULL;
    p->c = c;
    p->conns = sl_calloc(c->nconnections ? c->nconnections : 1, sizeof *p->conns);
    if (!p->conns) {
        sl_free(p);
        return NULL;
    }
    for (size_t i = 0; i < c->nconnections; i++)
        pthread_mutex_init(&p->conns[i].mu, NULL);
    return p;
}

static struct pool_conn *conn_of(struct sl_dbpool *p, const struct sl_connection_cfg *conn)
{
    size_t i = (size_t)(conn - p->c->connections);
    return i < p->c->nconnections ? &p->conns[i] : NULL;
}

int sl_dbpool_get(struct sl_dbpool *p, const struct sl_connection_cfg *conn,
                  struct sl_ledger *out, struct sl_err *err)
{
    struct pool_conn *pc = conn_of(p, conn);
    if (!pc)
        return sl_err_set(err, SL_E_INTERNAL, "connection \"%s\" is not of this config",
                          conn->name);
    pthread_mutex_lock(&pc->mu);
    if (!pc->d && sl_dest_open(conn->url, conn->password, p->c->dir, &pc->ops, &pc->d, err) < 0)
        goto fail;
    /* once: later reads must not take the write lock ensure_meta takes */
    if (!pc->meta_done) {
        if (pc->ops->ensure_meta(pc->d, err) < 0)
            goto fail;
        pc->meta_done = 1;
    }
    out->ops = pc->ops;
    out->d = pc->d;
    return 0;
fail:
    sl_err_prefix(err, "connection \"%s\"", conn->name);
    if (pc->d)
        pc->ops->close(pc->d);
    pc->d = NULL;
    pthread_mutex_unlock(&pc->mu);
    return -1;
}

void sl_dbpool_put(struct sl_dbpool *p, const struct sl_connection_cfg *conn, int broken)
{
    struct pool_conn *pc = conn_of(p, conn);
    if (!pc)
        return;
    if (broken && pc->d) {
        pc->ops->close(pc->d);
        pc->d = NULL;
    }
    pthread_mutex_unlock(&pc->mu);
}

void sl_dbpool_free(struct sl_dbpool *p)
{
    if (!p)
        return;
    for (size_t i = 0; i < p->c->nconnections; i++) {
        if (p->conns[i].d)
            p->conns[i].ops->close(p->conns[i].d);
        pthread_mutex_destroy(&p->conns[i].mu);
    }
    sl_free(p->conns);
    sl_free(p);
}

/* ---- states ---- */

/* precedence: the first word wins over those after it */
static const char *const state_order[] = {"quarantined", "failing", "stale", "running", "ok",
                                          "never loaded"};

static int rank(const char *s)
{
    for (size_t i = 0; i < sizeof state_order / sizeof state_order[0]; i++)
        if (strcmp(s, state_order[i]) == 0)
            return (int)i;
    return (int)(sizeof state_order / sizeof state_order[0]);
}

int sl_status_stale(const struct sl_pipeline_cfg *p, sl_usec last_loaded, sl_usec since,
                    sl_usec now)
{
    if (p->stale_after <= 0)
        return 0;
    sl_usec from = last_loaded ? last_loaded : since;
    return from > 0 && (double)(now - from) / 1e6 > p->stale_after;
}

static sl_usec parse_ts(const char *s)
{
    sl_usec t;
    char why[128];
    if (!s || sl_time_parse(s, strlen(s), NULL, &t, why, sizeof why) < 0)
        return 0;
    return t;
}

static json_t *jstr_or_null(const char *s)
{
    return s && s[0] ? json_string(s) : json_null();
}

/* An error text as served (the status API is unauthenticated): a ledger row
 * may hold a message written before passwords were redacted at the source. */
static json_t *jerror_or_null(const char *s)
{
    char clean[2048];
    if (!s || !s[0])
        return json_null();
    sl_redact(s, clean, sizeof clean);
    return json_string(clean);
}

static json_t *jint_or_null(const char *s)
{
    return s ? json_integer(strtoll(s, NULL, 10)) : json_null();
}

static json_t *jtime_or_null(const char *s)
{
    sl_usec t = parse_ts(s);
    char out[32];
    if (!t)
        return jstr_or_null(s);
    sl_time_format(t, out);
    return json_string(out);
}

/* One table's entry. `l` NULL: its destination could not be read (err
 * says why); a query that fails sets *broken and err. */
static json_t *table_status(const struct sl_pipeline_cfg *p, const struct sl_table_cfg *t,
                            struct sl_ledger *l, struct sl_err *err,
                            const struct sl_status_opts *o, sl_usec now, int *broken)
{
    json_t *e = json_object();
    struct sl_rows r = {0};
    const char *state = "never loaded";
    const char *last_error = l ? NULL : err->msg;
    sl_usec last_loaded = 0;
    int64_t held = 0;
    int have = 0;

    if (!e)
        return NULL;
    json_object_set_new(e, "pipeline", json_string(p->name));
    json_object_set_new(e, "table", json_string(t->name));
    json_object_set_new(e, "kind", json_string(sl_table_kind_name(t->kind)));
    json_object_set_new(e, "region", jstr_or_null(p->region));
    if (l && (sl_ledger_table_status(l, t->name, &r, err) < 0 ||
              sl_ledger_first_quarantined(l, t->name, &held, err) < 0)) {
        *broken = 1;
        last_error = err->msg;
        l = NULL;
    }
    have = l && r.nrows > 0;
    json_object_set_new(e, "last_batch", have ? jint_or_null(sl_rows_get(&r, 0, 0)) : json_null());
    json_object_set_new(e, "last_batch_state",
                        have ? jstr_or_null(sl_rows_get(&r, 0, 1)) : json_null());
    json_object_set_new(e, "last_committed_batch",
                        have ? jint_or_null(sl_rows_get(&r, 0, 5)) : json_null());
    json_object_set_new(e, "last_committed_at",
                        have ? jtime_or_null(sl_rows_get(&r, 0, 6)) : json_null());
    json_object_set_new(e, "rows", json_integer(have && sl_rows_get(&r, 0, 8)
                                                    ? strtoll(sl_rows_get(&r, 0, 8), NULL, 10)
                                                    : 0));
    json_object_set_new(e, "quarantined_batch", held ? json_integer(held) : json_null());
    if (have)
        last_loaded = parse_ts(sl_rows_get(&r, 0, 6));

    struct sl_metrics_live live = {0};
    if (o && o->live)
        sl_metrics_live(p->name, t->name, &live);
    if (live.last_loaded > last_loaded)
        last_loaded = live.last_loaded;
    int stale = sl_status_stale(p, last_loaded, o ? o->since : 0, now);

    if (!l) {
        state = "failing";
    } else if (held) {
        state = "quarantined";
        if (have && sl_rows_get(&r, 0, 4))
            last_error = sl_rows_get(&r, 0, 4);
    } else if (have && strcmp(sl_rows_get(&r, 0, 1), "failed") == 0) {
        state = "failing";
        last_error = sl_rows_get(&r, 0, 4);
    } else if (live.last_error[0]) {
        state = "failing";
        last_error = live.last_error;
    } else if (stale) {
        state = "stale";
    } else if (live.running) {
        state = "running";
    } else if (last_loaded) {
        state = "ok";
    }
    json_object_set_new(e, "state", json_string(state));
    json_object_set_new(e, "lag_seconds",
                        last_loaded ? json_real((double)(now - last_loaded) / 1e6) : json_null());
    json_object_set_new(e, "last_error", jerror_or_null(last_error));
    json_object_set_new(e, "running", json_boolean(live.running));
    json_object_set_new(e, "stale", json_boolean(stale));
    sl_rows_free(&r);
    return e;
}

/* ---- replication slots ---- */

static json_t *jint64_or_null(int64_t v)
{
    return v >= 0 ? json_integer((json_int_t)v) : json_null();
}

json_t *sl_status_slot_json(const struct sl_slot_state *s)
{
    json_t *o = json_object();
    if (!o)
        return NULL;
    json_object_set_new(o, "name", json_string(s->slot));
    json_object_set_new(o, "exists", json_boolean(s->exists));
    json_object_set_new(o, "database", jstr_or_null(s->exists ? s->database : NULL));
    json_object_set_new(o, "plugin", jstr_or_null(s->exists ? s->plugin : NULL));
    json_object_set_new(o, "active", json_boolean(s->active));
    json_object_set_new(o, "active_pid", s->active ? json_integer(s->active_pid) : json_null());
    json_object_set_new(o, "active_client", jstr_or_null(s->active ? s->active_client : NULL));
    json_object_set_new(o, "wal_status", jstr_or_null(s->wal_status));
    json_object_set_new(o, "confirmed_flush_lsn", jstr_or_null(s->confirmed));
    json_object_set_new(o, "restart_lsn", jstr_or_null(s->restart));
    json_object_set_new(o, "current_lsn", jstr_or_null(s->current));
    json_object_set_new(o, "retained_bytes", jint64_or_null(s->exists ? s->retained_bytes : -1));
    json_object_set_new(o, "unconfirmed_bytes",
                        jint64_or_null(s->exists ? s->unconfirmed_bytes : -1));
    json_object_set_new(o, "max_retained_bytes",
                        s->max_retained > 0 ? json_integer((json_int_t)s->max_retained)
                                            : json_null());
    json_object_set_new(o, "max_lag_seconds",
                        s->max_lag > 0 ? json_real(s->max_lag) : json_null());
    return o;
}

/* The pipeline's slot, from the daemon's watch or asked of the source now. */
static json_t *slot_status(const struct sl_config *c, const struct sl_pipeline_cfg *p,
                           enum sl_status_slots how)
{
    struct sl_metrics_slot m;
    json_t *o;
    memset(&m, 0, sizeof m);
    m.lag_seconds = -1;
    if (how == SL_STATUS_SLOTS_WATCHED) {
        if (!sl_metrics_slot_get(p->name, &m))
            m.state.retained_bytes = m.state.unconfirmed_bytes = -1;
    } else {
        struct sl_err err;
        sl_err_clear(&err);
        if (p->source_ops->slot_state(c, p, 0, 5, &m.state, &err) < 0)
            snprintf(m.error, sizeof m.error, "%.500s", err.msg);
        else
            m.seen = 1;
        sl_slot_state_free(&m.state);
        m.looked_at = sl_time_now();
        const struct sl_slot_state *st = &m.state;
        m.retained_over = st->max_retained > 0 && st->exists &&
                          st->retained_bytes > st->max_retained;
    }
    /* not seen (yet): the name and limits alone, when known; the rest null */
    o = sl_status_slot_json(&m.state);
    if (o && !m.seen) {
        json_object_set_new(o, "exists", json_null());
        json_object_set_new(o, "active", json_null());
        if (!m.state.slot[0])
            json_object_set_new(o, "name", json_null());
    }
    if (!o)
        return NULL;
    char at[32];
    if (m.looked_at)
        sl_time_format(m.looked_at, at);
    json_object_set_new(o, "lag_seconds",
                        m.seen && m.lag_seconds >= 0 ? json_real(m.lag_seconds) : json_null());
    json_object_set_new(o, "retained_over", json_boolean(m.retained_over));
    json_object_set_new(o, "lag_over", json_boolean(m.lag_over));
    json_object_set_new(o, "checked_at", m.looked_at ? json_string(at) : json_null());
    json_object_set_new(o, "error", jerror_or_null(m.error));
    return o;
}

json_t *sl_status_build(const struct sl_config *c, struct sl_dbpool *pool,
                        const struct sl_status_opts *o, int *unreachable)
{
    json_t *doc = json_object(), *pipes = json_array();
    sl_usec now = sl_time_now();
    char ts[32];

    if (unreachable)
        *unreachable = 0;
    if (!doc || !pipes) {
        json_decref(doc);
        json_decref(pipes);
        return NULL;
    }
    sl_time_format(now, ts);
    json_object_set_new(doc, "generated_at", json_string(ts));
    json_object_set_new(doc, "config", json_string(c->path ? c->path : ""));
    json_object_set_new(doc, "pipelines", pipes);
    for (size_t i = 0; i < c->npipelines; i++) {
        const struct sl_pipeline_cfg *p = &c->pipelines[i];
        json_t *pj = json_object(), *tabs = json_array();
        struct sl_ledger l;
        struct sl_err err;
        int worst = rank("never loaded"), broken = 0, have_l;

        if (!pj || !tabs) {
            json_decref(pj);
            json_decref(tabs);
            json_decref(doc);
            return NULL;
        }
        json_object_set_new(pj, "name", json_string(p->name));
        json_object_set_new(pj, "source", jstr_or_null(p->source_kind));
        json_object_set_new(pj, "destination", jstr_or_null(p->destination));
        json_object_set_new(pj, "schedule", jstr_or_null(p->schedule));
        json_object_set_new(pj, "region", jstr_or_null(p->region));
        json_object_set_new(pj, "stale_after_seconds",
                            p->stale_after > 0 ? json_real(p->stale_after) : json_null());
        sl_err_clear(&err);
        have_l = sl_dbpool_get(pool, p->dest_conn, &l, &err) == 0;
        if (!have_l && unreachable)
            *unreachable = 1;
        for (size_t k = 0; k < p->ntables; k++) {
            json_t *e = table_status(p, &p->tables[k], have_l && !broken ? &l : NULL, &err, o,
                                     now, &broken);
            if (!e)
                continue;
            int rk = rank(json_string_value(json_object_get(e, "state")));
            if (rk < worst)
                worst = rk;
            json_array_append_new(tabs, e);
        }
        if (have_l)
            sl_dbpool_put(pool, p->dest_conn, broken);
        if (broken && unreachable)
            *unreachable = 1;
        json_object_set_new(pj, "state", json_string(state_order[worst]));
        json_object_set_new(pj, "tables", tabs);
        if (o && o->slots != SL_STATUS_SLOTS_NONE && p->source_ops->slot_state) {
            json_t *sj = slot_status(c, p, o->slots);
            if (sj)
                json_object_set_new(pj, "slot", sj);
        }
        json_array_append_new(pipes, pj);
    }
    return doc;
}

/* ---- the terminal table ---- */

static void fmt_lag(double s, char *out, size_t cap)
{
    if (s < 0)
        snprintf(out, cap, "-");
    else if (s < 120)
        snprintf(out, cap, "%.0fs", s);
    else if (s < 7200)
        snprintf(out, cap, "%.0fm", s / 60);
    else if (s < 172800)
        snprintf(out, cap, "%.1fh", s / 3600);
    else
        snprintf(out, cap, "%.1fd", s / 86400);
}

/* "slot s1 of pipeline p: active (server process 42), keeps 16 MB of WAL
 * (max_retained 1GB), 0 bytes not confirmed, lag 0s" */
static void print_slot(FILE *f, const json_t *p, const json_t *s)
{
    const char *name = json_string_value(json_object_get(s, "name"));
    const char *pn = json_string_value(json_object_get(p, "name"));
    const char *e = json_string_value(json_object_get(s, "error"));
    const json_t *ex = json_object_get(s, "exists");
    fprintf(f, "slot %s of pipeline %s: ", name ? name : "?", pn ? pn : "?");
    if (e) {
        fprintf(f, "could not be looked at: %.200s\n", e);
        return;
    }
    if (json_is_null(ex)) {
        fprintf(f, "not looked at yet\n");
        return;
    }
    if (!json_is_true(ex)) {
        fprintf(f, "does not exist (the next run makes it and copies every table)\n");
        return;
    }
    char kept[32], unconf[32], lim[80] = "", lag[16] = "";
    const json_t *mr = json_object_get(s, "max_retained_bytes");
    const json_t *ls = json_object_get(s, "lag_seconds");
    sl_size_pretty(json_is_integer(json_object_get(s, "retained_bytes"))
                       ? (int64_t)json_integer_value(json_object_get(s, "retained_bytes")) : -1,
                   kept, sizeof kept);
    sl_size_pretty(json_is_integer(json_object_get(s, "unconfirmed_bytes"))
                       ? (int64_t)json_integer_value(json_object_get(s, "unconfirmed_bytes"))
                       : -1,
                   unconf, sizeof unconf);
    if (json_is_integer(mr)) {
        char t[32];
        sl_size_text((int64_t)json_integer_value(mr), t, sizeof t);
        snprintf(lim, sizeof lim, " (max_retained %s%s)", t,
                 json_is_true(json_object_get(s, "retained_over")) ? ": OVER" : "");
    }
    if (json_is_number(ls))
        fmt_lag(json_number_value(ls), lag, sizeof lag);
    if (json_is_true(json_object_get(s, "active")))
        fprintf(f, "active (server process %lld)",
                (long long)json_integer_value(json_object_get(s, "active_pid")));
    else
        fprintf(f, "inactive");
    fprintf(f, ", keeps %s of WAL%s, %s not confirmed", kept, lim, unconf);
    if (lag[0])
        fprintf(f, ", lag %s%s", lag, json_is_true(json_object_get(s, "lag_over"))
                                          ? " (OVER max_lag)" : "");
    fputc('\n', f);
}

void sl_status_print(FILE *f, const json_t *status)
{
    const json_t *pipes = json_object_get(status, "pipelines"), *p, *t;
    size_t i, k;
    fprintf(f, "%-20s %-24s %-13s %-8s %-8s %-12s %-7s %s\n", "PIPELINE", "TABLE", "STATE",
            "REGION", "LAST", "ROWS", "LAG", "LAST ERROR");
    json_array_foreach(pipes, i, p) {
        json_array_foreach(json_object_get(p, "tables"), k, t) {
            char last[24] = "-", lag[16], rows[24];
            const json_t *lb = json_object_get(t, "last_batch");
            const json_t *ls = json_object_get(t, "lag_seconds");
            const char *e = json_string_value(json_object_get(t, "last_error"));
            if (json_is_integer(lb))
                snprintf(last, sizeof last, "%lld", (long long)json_integer_value(lb));
            snprintf(rows, sizeof rows, "%lld",
                     (long long)json_integer_value(json_object_get(t, "rows")));
            fmt_lag(json_is_number(ls) ? json_number_value(ls) : -1, lag, sizeof lag);
            const char *region = json_string_value(json_object_get(t, "region"));
            fprintf(f, "%-20s %-24s %-13s %-8s %-8s %-12s %-7s %.100s\n",
                    json_string_value(json_object_get(t, "pipeline")),
                    json_string_value(json_object_get(t, "table")),
                    json_string_value(json_object_get(t, "state")), region ? region : "-",
                    last, rows, lag,
                    e ? e : "");
        }
    }
    json_array_foreach(pipes, i, p) {
        const json_t *s = json_object_get(p, "slot");
        if (json_is_object(s))
            print_slot(f, p, s);
    }
}

/* ---- the ledger ---- */

json_t *sl_status_batches(const struct sl_config *c, struct sl_dbpool *pool,
                          const char *pipeline, const char *table, const char *state,
                          long limit, struct sl_err *err)
{
    json_t *arr = json_array();
    if (!arr) {
        sl_err_set(err, SL_E_NOMEM, "out of memory");
        return NULL;
    }
    for (size_t ci = 0; ci < c->nconnections; ci++) {
        const struct sl_connection_cfg *conn = &c->connections[ci];
        int used = 0;
        for (size_t i = 0; i < c->npipelines && !used; i++)
            used = c->pipelines[i].dest_conn == conn &&
                   (!pipeline || strcmp(c->pipelines[i].name, pipeline) == 0);
        if (!used)
            continue;
        struct sl_ledger l;
        struct sl_rows r;
        if (sl_dbpool_get(pool, conn, &l, err) < 0) {
            json_decref(arr);
            return NULL;
        }
        if (sl_ledger_list(&l, table, state, limit, &r, err) < 0) {
            sl_dbpool_put(pool, conn, 1);
            json_decref(arr);
            return NULL;
        }
        sl_dbpool_put(pool, conn, 0);
        for (size_t i = 0; i < r.nrows; i++) {
            const char *pl = sl_rows_get(&r, i, 1);
            if (pipeline && (!pl || strcmp(pl, pipeline) != 0))
                continue;
            json_t *e = json_object();
            if (!e)
                break;
            json_object_set_new(e, "id", jint_or_null(sl_rows_get(&r, i, 0)));
            json_object_set_new(e, "pipeline", jstr_or_null(pl));
            json_object_set_new(e, "table", jstr_or_null(sl_rows_get(&r, i, 2)));
            json_object_set_new(e, "kind", jstr_or_null(sl_rows_get(&r, i, 3)));
            json_object_set_new(e, "state", jstr_or_null(sl_rows_get(&r, i, 4)));
            json_object_set_new(e, "source_ref", jstr_or_null(sl_rows_get(&r, i, 5)));
            json_object_set_new(e, "rows_in", jint_or_null(sl_rows_get(&r, i, 6)));
            json_object_set_new(e, "rows_written", jint_or_null(sl_rows_get(&r, i, 7)));
            json_object_set_new(e, "bytes", jint_or_null(sl_rows_get(&r, i, 8)));
            json_object_set_new(e, "started_at", jtime_or_null(sl_rows_get(&r, i, 9)));
            json_object_set_new(e, "finished_at", jtime_or_null(sl_rows_get(&r, i, 10)));
            json_object_set_new(e, "error", jerror_or_null(sl_rows_get(&r, i, 11)));
            const char *rep = r.ncols > 12 ? sl_rows_get(&r, i, 12) : NULL;
            json_t *rj = rep ? json_loads(rep, JSON_DECODE_ANY, NULL) : NULL;
            json_object_set_new(e, "report", rj ? rj : jstr_or_null(rep));
            /* every decision, oldest first; "decision" stays the newest as
             * one line, for readers of the earlier document (the dashboard) */
            json_t *ds = sl_ledger_decisions(r.ncols > 13 ? sl_rows_get(&r, i, 13) : NULL);
            struct sl_buf line;
            sl_buf_init(&line);
            size_t nd = ds ? json_array_size(ds) : 0;
            if (nd)
                sl_ledger_decision_line(json_array_get(ds, nd - 1), 0, &line);
            json_object_set_new(e, "decision",
                                nd && !line.oom ? json_string(line.data) : json_null());
            json_object_set_new(e, "decisions", ds ? ds : json_array());
            sl_buf_free(&line);
            json_object_set_new(e, "held",
                                r.ncols > 14 ? jstr_or_null(sl_rows_get(&r, i, 14)) : json_null());
            json_object_set_new(e, "connection", json_string(conn->name));
            json_array_append_new(arr, e);
        }
        sl_rows_free(&r);
    }
    return arr;
}
