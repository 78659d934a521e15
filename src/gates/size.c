/* gates/size.c: the size gate: is this batch about as big as recent ones?
 *
 * At finish it compares the batch's rows (and bytes, when the source knows
 * them) with the median of the table's last `history` committed batches,
 * read from the ledger; outside [median / max_ratio, median * max_ratio] the
 * batch is quarantined (or failed, per on_fail). A drop of 10 rows where 10
 * million usually come, or the reverse, is held before it replaces anything.
 * With fewer than `min_history` batches behind it the gate only reports. */
#include "gates/gate.h"

#include <inttypes.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/mem.h"

enum on_fail { ON_FAIL_QUARANTINE = 0, ON_FAIL_FAIL };
static const char *const on_fail_names[] = {"quarantine", "fail", NULL};

struct size_cfg {
    long history;
    double max_ratio;
    long min_history;
    int on_fail;
};

static const struct sl_cfg_key size_keys[] = {
    {"history", SL_CFG_INT, offsetof(struct size_cfg, history), "14", 0, NULL,
     "how many recent committed batches the median is taken over"},
    {"max_ratio", SL_CFG_DOUBLE, offsetof(struct size_cfg, max_ratio), "3.0", 0, NULL,
     "allowed: median / max_ratio .. median * max_ratio (rows, and bytes when known)"},
    {"min_history", SL_CFG_INT, offsetof(struct size_cfg, min_history), "3", 0, NULL,
     "fewer committed batches than this: the gate reports but does not hold"},
    {"on_fail", SL_CFG_ENUM, offsetof(struct size_cfg, on_fail), "quarantine", 0, on_fail_names,
     "quarantine | fail: what a batch out of range gets"},
    {NULL, 0, 0, NULL, 0, NULL, NULL},
};

struct sl_gate_run {
    const struct size_cfg *cfg;
    int64_t seen;           /* rows that went through row() */
};

/* Settings the key table cannot check by itself. Checked here, at start,
 * because gates have no config-time hook for the mapping form. */
static int check_cfg(const struct size_cfg *c, const struct sl_gate_env *env, struct sl_err *err)
{
    const char *t = env->table ? env->table->name : "?";

    if (c->history < 1 || c->history > 10000)
        return sl_err_set(err, SL_E_CONFIG,
                          "table \"%s\": gate \"size\": history must be 1..10000, not %ld", t,
                          c->history);
    if (!(c->max_ratio >= 1.0))
        return sl_err_set(err, SL_E_CONFIG,
                          "table \"%s\": gate \"size\": max_ratio must be at least 1, not %g", t,
                          c->max_ratio);
    if (c->min_history < 1)
        return sl_err_set(err, SL_E_CONFIG,
                          "table \"%s\": gate \"size\": min_history must be at least 1, not %ld",
                          t, c->min_history);
    return 0;
}

static int size_check(const void *ctx, const struct sl_table_cfg *t, struct sl_err *err)
{
    struct sl_gate_env env = {0};
    env.table = t;
    return check_cfg(ctx, &env, err);
}

static void size_describe(const void *ctx, char *out, size_t cap)
{
    const struct size_cfg *c = ctx;
    snprintf(out, cap,
             "rows and bytes within [median / %g, median x %g] of the last %ld committed "
             "batches; enforced once %ld batches are committed, passes until then; "
             "on failure: %s", c->max_ratio, c->max_ratio, c->history, c->min_history,
             c->on_fail ? "fail" : "quarantine");
}

static int size_start(const void *ctx, const struct sl_gate_env *env, struct sl_gate_run **out,
                      struct sl_err *err)
{
    const struct size_cfg *c = ctx;

    *out = NULL;
    if (check_cfg(c, env, err) < 0)
        return -1;
    if (!env->history)
        return sl_err_set(err, SL_E_INTERNAL, "gate \"size\" needs the batch history");
    struct sl_gate_run *g = sl_calloc(1, sizeof *g);
    if (!g)
        return sl_err_nomem(err);
    g->cfg = c;
    *out = g;
    return 0;
}

static int size_row(struct sl_gate_run *g, const struct sl_cell *cells, const struct sl_cell *raw,
                    long line, struct sl_err *err)
{
    (void)cells;
    (void)raw;
    (void)line;
    (void)err;
    g->seen++;
    return 0;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* Median of v[0..n), n > 0 (v is sorted in place). */
static double median(int64_t *v, size_t n)
{
    qsort(v, n, sizeof *v, cmp_i64);
    if (n % 2)
        return (double)v[n / 2];
    return ((double)v[n / 2 - 1] + (double)v[n / 2]) / 2.0;
}

/* Whole-number bounds of [m / r, m * r]; the check and the report use the
 * same figures, so what the report shows is what was decided. */
static void bounds(double m, double r, int64_t *lo, int64_t *hi)
{
    *lo = (int64_t)ceil(m / r - 1e-9);
    *hi = (int64_t)floor(m * r + 1e-9);
}

static json_t *range_json(int64_t lo, int64_t hi)
{
    json_t *o = json_object();
    json_object_set_new(o, "min", json_integer(lo));
    json_object_set_new(o, "max", json_integer(hi));
    return o;
}

static int size_finish(struct sl_gate_run *g, const struct sl_gate_env *env,
                       struct sl_gate_result *res, struct sl_err *err)
{
    const struct size_cfg *c = g->cfg;
    size_t want = (size_t)c->history, count = 0;
    int64_t *hr = sl_calloc(want, sizeof *hr), *hb = sl_calloc(want, sizeof *hb);
    int64_t rows = env->rows > 0 ? env->rows : g->seen;
    int64_t bytes = (int64_t)env->bytes;
    char msg[512];
    /* `history: 2` with the default min_history of 3 means "enforce at 2" */
    long min_history = c->min_history < c->history ? c->min_history : c->history;

    res->verdict = SL_GATE_PASS;
    res->report_json = NULL;
    if (!hr || !hb) {
        sl_free(hr);
        sl_free(hb);
        return sl_err_nomem(err);
    }
    if (env->history(env->history_ctx, env->table->name, want, hr, hb, &count, err) < 0) {
        sl_free(hr);
        sl_free(hb);
        sl_err_prefix(err, "gate \"size\": reading the history of \"%s\": ", env->table->name);
        return -1;
    }

    json_t *o = json_object();
    json_object_set_new(o, "checked", json_sprintf("batch size against the median of the last "
                                                   "%ld committed batches", c->history));
    json_object_set_new(o, "rows", json_integer(rows));
    json_object_set_new(o, "bytes", json_integer(bytes));
    json_object_set_new(o, "history_count", json_integer((json_int_t)count));
    json_object_set_new(o, "history", json_integer(c->history));
    json_object_set_new(o, "min_history", json_integer(min_history));
    json_object_set_new(o, "max_ratio", json_real(c->max_ratio));

    if (count < (size_t)min_history) {
        snprintf(msg, sizeof msg, "not enforced: %zu of %ld batches of history", count,
                 min_history);
        json_object_set_new(o, "enforced", json_false());
    } else {
        double mr = median(hr, count), mb = median(hb, count);
        int64_t rlo, rhi, blo, bhi;
        bounds(mr, c->max_ratio, &rlo, &rhi);
        bounds(mb, c->max_ratio, &blo, &bhi);
        /* bytes count only when both this batch and its history know them */
        int check_bytes = bytes > 0 && mb > 0;
        int rows_ok = rows >= rlo && rows <= rhi;
        int bytes_ok = !check_bytes || (bytes >= blo && bytes <= bhi);

        json_object_set_new(o, "enforced", json_true());
        json_object_set_new(o, "median_rows", json_real(mr));
        json_object_set_new(o, "median_bytes", json_real(mb));
        json_object_set_new(o, "allowed_rows", range_json(rlo, rhi));
        if (check_bytes)
            json_object_set_new(o, "allowed_bytes", range_json(blo, bhi));
        if (!rows_ok)
            snprintf(msg, sizeof msg,
                     "%" PRId64 " rows is outside %" PRId64 "..%" PRId64 " (median %g rows of "
                     "the last %zu batches, max_ratio %g)", rows, rlo, rhi, mr, count,
                     c->max_ratio);
        else if (!bytes_ok)
            snprintf(msg, sizeof msg,
                     "%" PRId64 " bytes is outside %" PRId64 "..%" PRId64 " (median %g bytes "
                     "of the last %zu batches, max_ratio %g)", bytes, blo, bhi, mb, count,
                     c->max_ratio);
        else
            snprintf(msg, sizeof msg,
                     "%" PRId64 " rows within %" PRId64 "..%" PRId64 " (median %g rows of the "
                     "last %zu batches)", rows, rlo, rhi, mr, count);
        if (!rows_ok || !bytes_ok)
            res->verdict = c->on_fail == ON_FAIL_FAIL ? SL_GATE_FAIL : SL_GATE_QUARANTINE;
    }
    sl_free(hr);
    sl_free(hb);
    json_object_set_new(o, "passed", json_boolean(res->verdict == SL_GATE_PASS));
    json_object_set_new(o, "verdict", json_string(res->verdict == SL_GATE_PASS ? "pass"
                                                  : res->verdict == SL_GATE_FAIL ? "fail"
                                                                                 : "quarantine"));
    json_object_set_new(o, "message", json_string(msg));
    return sl_gate_report(o, res, err);
}

static void size_free_run(struct sl_gate_run *g)
{
    sl_free(g);
}

const struct sl_gate_ops sl_gate_size = {
    .name = "size",
    .keys = size_keys,
    .ctx_size = sizeof(struct size_cfg),
    .parse = NULL,
    .check = size_check,
    .describe = size_describe,
    .start = size_start,
    .value_ctx = NULL,
    .row = size_row,
    .finish = size_finish,
    .free_run = size_free_run,
    .free_ctx = NULL,
};
