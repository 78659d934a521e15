/* gates/timestamps.c: the timestamps gate: epoch units and the future.
 *
 * Timestamps that arrive as bare numbers are read by magnitude (seconds,
 * milliseconds, microseconds or nanoseconds, see unit_of) unless the config
 * names the unit; this gate sets that through value_ctx before any row is
 * read, together with the DST overlap policy. While rows stream it counts,
 * per column, which unit each epoch value looks like, and the values later
 * than now + future_tolerance. A column whose epochs mix units (a producer
 * that switched from seconds to milliseconds) or values from the future
 * hold the batch. The report says per column what unit was decided. */
#include "gates/gate.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/mem.h"

enum on_fail { ON_FAIL_QUARANTINE = 0, ON_FAIL_FAIL };
static const char *const on_fail_names[] = {"quarantine", "fail", NULL};

/* index into unit_names; AUTO and NONE are not units a value can have */
enum unit { U_S = 0, U_MS, U_US, U_NS, U__COUNT };
static const char *const unit_names[] = {"s", "ms", "us", "ns"};
static const char *const unit_words[] = {"seconds", "milliseconds", "microseconds",
                                         "nanoseconds"};

static const char *const epoch_names[] = {"auto", "s", "ms", "us", "ns", "none", NULL};
static const enum sl_epoch_unit epoch_map[] = {SL_EPOCH_AUTO, SL_EPOCH_S, SL_EPOCH_MS,
                                               SL_EPOCH_US, SL_EPOCH_NS, SL_EPOCH_NONE};
#define EPOCH_AUTO_IX 0
#define EPOCH_NONE_IX 5

/* "source": leave the source's policy as it is */
static const char *const overlap_names[] = {"source", "earlier", "later", "fail", NULL};
static const enum sl_dst_policy overlap_map[] = {SL_DST_FAIL, SL_DST_EARLIER, SL_DST_LATER,
                                                 SL_DST_FAIL};

struct ts_cfg {
    double future_tolerance;
    int epoch_unit;
    int overlap;
    struct sl_strlist columns;
    int on_fail;
};

static const struct sl_cfg_key ts_keys[] = {
    {"future_tolerance", SL_CFG_DURATION, offsetof(struct ts_cfg, future_tolerance), "1h", 0,
     NULL, "values later than now + this hold the batch"},
    {"epoch_unit", SL_CFG_ENUM, offsetof(struct ts_cfg, epoch_unit), "auto", 0, epoch_names,
     "unit of bare numbers in timestamp columns: auto (by magnitude) | s | ms | us | ns | none "
     "(refuse them)"},
    {"overlap", SL_CFG_ENUM, offsetof(struct ts_cfg, overlap), "source", 0, overlap_names,
     "a local time shown twice (DST ends): earlier | later | fail; default: the source's"},
    {"columns", SL_CFG_STRLIST, offsetof(struct ts_cfg, columns), NULL, 0, NULL,
     "columns to check; default: every timestamptz column"},
    {"on_fail", SL_CFG_ENUM, offsetof(struct ts_cfg, on_fail), "quarantine", 0, on_fail_names,
     "quarantine | fail: what a batch with mixed units or future values gets"},
    {NULL, 0, 0, NULL, 0, NULL, NULL},
};

static void ts_value_ctx(const void *ctx, struct sl_valctx *v)
{
    const struct ts_cfg *c = ctx;

    v->epoch_unit = epoch_map[c->epoch_unit];
    if (c->overlap != 0)
        v->overlap = overlap_map[c->overlap];
}

/* ---- the run ---- */

#define MAX_EXAMPLES 5
#define MAX_VALUE 64

struct example {
    long line;
    char val[MAX_VALUE + 4];
};

struct col {
    long idx;
    const char *name;           /* the engine's schema, alive until free_run */
    int is_date;
    int64_t values;             /* not NULL */
    int64_t units[U__COUNT];    /* epoch values by the unit they look like */
    struct example uex[U__COUNT][MAX_EXAMPLES];
    int64_t future;
    struct example fex[MAX_EXAMPLES];
};

struct sl_gate_run {
    const struct ts_cfg *cfg;
    struct col *cols;
    size_t ncols;
    char limit[32];             /* now + tolerance, canonical */
};

static void ts_free_run(struct sl_gate_run *g)
{
    if (!g)
        return;
    sl_free(g->cols);
    sl_free(g);
}

static int ts_start(const void *ctx, const struct sl_gate_env *env, struct sl_gate_run **out,
                    struct sl_err *err)
{
    const struct ts_cfg *c = ctx;
    const struct sl_schema *s = env->schema;
    const char *t = env->table ? env->table->name : "?";

    *out = NULL;
    struct sl_gate_run *g = sl_calloc(1, sizeof *g);
    if (!g || !(g->cols = sl_calloc(s->ncols + c->columns.n + 1, sizeof *g->cols))) {
        sl_free(g);
        return sl_err_nomem(err);
    }
    g->cfg = c;
    if (c->columns.n) {
        for (size_t i = 0; i < c->columns.n; i++) {
            long k = sl_schema_find(s, c->columns.items[i]);
            if (k < 0) {
                ts_free_run(g);
                return sl_err_set(err, SL_E_CONFIG,
                                  "table \"%s\": gate \"timestamps\": column \"%s\" is not in "
                                  "the table", t, c->columns.items[i]);
            }
            enum sl_type ty = s->cols[k].type;
            if (ty != SL_T_TIMESTAMPTZ && ty != SL_T_DATE) {
                ts_free_run(g);
                return sl_err_set(err, SL_E_CONFIG,
                                  "table \"%s\": gate \"timestamps\": column \"%s\" is %s, not "
                                  "a timestamptz or date (declare its type under columns:)", t,
                                  c->columns.items[i], sl_type_name(ty));
            }
            g->cols[g->ncols].idx = k;
            g->cols[g->ncols].name = s->cols[k].name;
            g->cols[g->ncols].is_date = ty == SL_T_DATE;
            g->ncols++;
        }
    } else {
        for (size_t k = 0; k < s->ncols; k++)
            if (s->cols[k].type == SL_T_TIMESTAMPTZ) {
                g->cols[g->ncols].idx = (long)k;
                g->cols[g->ncols].name = s->cols[k].name;
                g->ncols++;
            }
    }
    sl_time_format(sl_time_now() + (sl_usec)(c->future_tolerance * 1e6), g->limit);
    *out = g;
    return 0;
}

/* The unit a bare epoch number (-?digits[.digits]) is read in by magnitude,
 * as base/value.c reads it under SL_EPOCH_AUTO: below 1e11 seconds, below
 * 1e14 milliseconds, below 1e17 microseconds, else nanoseconds. Any instant
 * from 1973-03-03 (1e8 s) to the year 5138 (1e11 s) lands in its own unit
 * whatever unit it is written in. Returns -1 when s is not such a number. */
static int unit_of(const char *s, size_t n)
{
    size_t i = n > 0 && s[0] == '-';
    size_t d0 = i, digits = 0;

    while (i < n && s[i] == '0')
        i++;
    for (; i < n && s[i] >= '0' && s[i] <= '9'; i++)
        digits++;
    if (i == d0)
        return -1;
    if (i < n && s[i] == '.') {
        size_t f0 = ++i;
        while (i < n && s[i] >= '0' && s[i] <= '9')
            i++;
        if (i == f0)
            return -1;
    }
    if (i != n)
        return -1;
    return digits <= 11 ? U_S : digits <= 14 ? U_MS : digits <= 17 ? U_US : U_NS;
}

static void keep_example(struct example *e, long line, const char *s, size_t n)
{
    e->line = line;
    if (n > MAX_VALUE) {
        n = MAX_VALUE;
        while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
            n--;
        memcpy(e->val, s, n);
        memcpy(e->val + n, "...", 4);
    } else {
        memcpy(e->val, s, n);
        e->val[n] = '\0';
    }
}

static int ts_row(struct sl_gate_run *g, const struct sl_cell *cells, const struct sl_cell *raw,
                  long line, struct sl_err *err)
{
    (void)err;
    for (size_t i = 0; i < g->ncols; i++) {
        struct col *c = &g->cols[i];
        const struct sl_cell *v = &cells[c->idx];
        if (v->null)
            continue;
        c->values++;
        if (!c->is_date && raw && !raw[c->idx].null) {
            int u = unit_of(raw[c->idx].s, raw[c->idx].n);
            if (u >= 0) {
                if (c->units[u] < MAX_EXAMPLES)
                    keep_example(&c->uex[u][c->units[u]], line, raw[c->idx].s, raw[c->idx].n);
                c->units[u]++;
            }
        }
        /* canonical text sorts as time: compare it with now + tolerance */
        size_t w = c->is_date ? 10 : 27;
        if (v->n >= w && memcmp(v->s, g->limit, w) > 0) {
            if (c->future < MAX_EXAMPLES)
                keep_example(&c->fex[c->future], line, v->s, v->n);
            c->future++;
        }
    }
    return 0;
}

/* ---- the report ---- */

static json_t *examples_json(const struct example *ex, int64_t n)
{
    json_t *a = json_array();
    for (int64_t i = 0; i < n && i < MAX_EXAMPLES; i++) {
        json_t *e = json_object();
        json_object_set_new(e, "line", json_integer(ex[i].line));
        json_object_set_new(e, "value", json_string(ex[i].val));
        json_array_append_new(a, e);
    }
    return a;
}

/* 3600 -> "1h", 90 -> "90s": how the tolerance reads in a message. */
static void duration_text(char *buf, size_t len, double s)
{
    if (s >= 86400 && (long long)s % 86400 == 0)
        snprintf(buf, len, "%lldd", (long long)s / 86400);
    else if (s >= 3600 && (long long)s % 3600 == 0)
        snprintf(buf, len, "%lldh", (long long)s / 3600);
    else if (s >= 60 && (long long)s % 60 == 0)
        snprintf(buf, len, "%lldm", (long long)s / 60);
    else
        snprintf(buf, len, "%gs", s);
}

static void add_line(struct sl_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void add_line(struct sl_buf *b, const char *fmt, ...)
{
    va_list ap;

    if (b->len)
        sl_buf_puts(b, "; ");
    va_start(ap, fmt);
    sl_buf_vprintf(b, fmt, ap);
    va_end(ap);
}

static int ts_finish(struct sl_gate_run *g, const struct sl_gate_env *env,
                     struct sl_gate_result *res, struct sl_err *err)
{
    const struct ts_cfg *cfg = g->cfg;
    int configured = cfg->epoch_unit != EPOCH_AUTO_IX && cfg->epoch_unit != EPOCH_NONE_IX;
    struct sl_buf notes, problems;
    char tol[32];
    int64_t checked = 0;

    (void)env;
    sl_buf_init(&notes);
    sl_buf_init(&problems);
    duration_text(tol, sizeof tol, cfg->future_tolerance);

    json_t *o = json_object(), *cols = json_array();
    json_object_set_new(o, "checked", json_string("timestamp columns: units of epoch numbers "
                                                  "and values in the future"));
    json_object_set_new(o, "epoch_unit", json_string(epoch_names[cfg->epoch_unit]));
    json_object_set_new(o, "future_tolerance_s", json_real(cfg->future_tolerance));
    json_object_set_new(o, "latest_allowed", json_string(g->limit));

    for (size_t i = 0; i < g->ncols; i++) {
        struct col *c = &g->cols[i];
        json_t *jc = json_object(), *units = json_object(), *mixed = json_array();
        int64_t nepoch = 0;
        int ok = 1;

        checked += c->values;
        for (int u = 0; u < U__COUNT; u++) {
            nepoch += c->units[u];
            json_object_set_new(units, unit_names[u], json_integer(c->units[u]));
        }
        json_object_set_new(jc, "column", json_string(c->name));
        json_object_set_new(jc, "type", json_string(c->is_date ? "date" : "timestamptz"));
        json_object_set_new(jc, "values", json_integer(c->values));
        json_object_set_new(jc, "epoch_values", json_integer(nepoch));
        if (nepoch) {
            /* the unit read: as configured, else the one most values have */
            int unit = U_S;
            if (configured) {
                unit = cfg->epoch_unit - 1;
            } else {
                for (int u = 1; u < U__COUNT; u++)
                    if (c->units[u] > c->units[unit])
                        unit = u;
            }
            json_object_set_new(jc, "unit", json_string(unit_names[unit]));
            json_object_set_new(jc, "unit_from", json_string(configured ? "config" : "magnitude"));
            add_line(&notes, "%s: %s (%lld value%s)", c->name, unit_names[unit],
                     (long long)c->units[unit], c->units[unit] == 1 ? "" : "s");
            for (int u = 0; u < U__COUNT; u++) {
                if (u == unit || !c->units[u])
                    continue;
                json_t *m = json_object();
                json_object_set_new(m, "unit", json_string(unit_names[u]));
                json_object_set_new(m, "values", json_integer(c->units[u]));
                json_object_set_new(m, "examples", examples_json(c->uex[u], c->units[u]));
                json_array_append_new(mixed, m);
                const char *look = c->units[u] == 1 ? "value looks" : "values look";
                if (configured)
                    add_line(&problems, "%s: epoch_unit is %s but %lld %s like %s, e.g. line "
                             "%ld: %s", c->name, unit_names[unit], (long long)c->units[u], look,
                             unit_words[u], c->uex[u][0].line, c->uex[u][0].val);
                else
                    add_line(&problems, "%s mixes %s and %s: %lld %s like %s, e.g. line %ld: "
                             "%s", c->name, unit_names[unit], unit_names[u],
                             (long long)c->units[u], look, unit_words[u], c->uex[u][0].line,
                             c->uex[u][0].val);
                ok = 0;
            }
        }
        json_object_set_new(jc, "units", units);
        json_object_set_new(jc, "mixed", mixed);
        json_object_set_new(jc, "future", json_integer(c->future));
        json_object_set_new(jc, "future_examples", examples_json(c->fex, c->future));
        if (c->future) {
            add_line(&problems, "%s: %lld %s later than %s (now + %s), e.g. line %ld: %s",
                     c->name, (long long)c->future, c->future == 1 ? "value" : "values",
                     g->limit, tol, c->fex[0].line, c->fex[0].val);
            ok = 0;
        }
        json_object_set_new(jc, "passed", json_boolean(ok));
        json_array_append_new(cols, jc);
    }
    json_object_set_new(o, "columns", cols);

    res->verdict = SL_GATE_PASS;
    res->report_json = NULL;
    if (problems.len)
        res->verdict = cfg->on_fail == ON_FAIL_FAIL ? SL_GATE_FAIL : SL_GATE_QUARANTINE;
    if (notes.len)
        json_object_set_new(o, "units_decided", json_string(notes.data));
    json_object_set_new(o, "passed", json_boolean(res->verdict == SL_GATE_PASS));
    json_object_set_new(o, "verdict", json_string(res->verdict == SL_GATE_PASS ? "pass"
                                                  : res->verdict == SL_GATE_FAIL ? "fail"
                                                                                 : "quarantine"));
    if (problems.len)
        json_object_set_new(o, "message", json_string(problems.data));
    else if (!g->ncols)
        json_object_set_new(o, "message", json_string("no timestamp columns to check"));
    else
        json_object_set_new(o, "message",
                            json_sprintf("%lld timestamp%s in %zu column%s, none later than "
                                         "now + %s%s%s", (long long)checked,
                                         checked == 1 ? "" : "s", g->ncols,
                                         g->ncols == 1 ? "" : "s", tol,
                                         notes.len ? "; " : "", notes.len ? notes.data : ""));
    int oom = notes.oom || problems.oom;
    sl_buf_free(&notes);
    sl_buf_free(&problems);
    if (oom) {
        json_decref(o);
        return sl_err_nomem(err);
    }
    return sl_gate_report(o, res, err);
}

const struct sl_gate_ops sl_gate_timestamps = {
    .name = "timestamps",
    .keys = ts_keys,
    .ctx_size = sizeof(struct ts_cfg),
    .parse = NULL,
    .start = ts_start,
    .value_ctx = ts_value_ctx,
    .row = ts_row,
    .finish = ts_finish,
    .free_run = ts_free_run,
    .free_ctx = NULL,
};
