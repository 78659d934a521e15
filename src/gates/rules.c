/* gates/rules.c: the rules gate: row-level checks the user writes.
 *
 *   rules:
 *     - { column: email, reject_match: "@test\\." }
 *     - { column: status, accepted_values: [new, paid, shipped] }
 *     - { column: amount, min: 0, max: 1000000, on_fail: fail }
 *     - { name: id present, column: id, not_null: true }
 *     - { column: sku, require_match: "^[A-Z]" }
 *
 * An item may carry several checks; each is counted and reported on its own.
 * Regexes (POSIX extended) are compiled when the config loads, so a bad one
 * is a config error at its file:line:col. Which comparison min/max and
 * accepted_values use depends on the column's type, known only when a batch
 * starts: exact decimal order for bigint and numeric, floating point for
 * double, time order for dates and timestamps (their canonical text sorts as
 * time). Regexes and accepted_values see the canonical text of a value
 * (timestamps as UTC ...Z). NULL breaks only not_null. */
#include "gates/gate.h"

#include <jansson.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/yaml.h"
#include "base/mem.h"

enum on_fail { ON_FAIL_QUARANTINE = 0, ON_FAIL_FAIL };
static const char *const on_fail_names[] = {"quarantine", "fail", NULL};

enum rule_kind { R_NOT_NULL, R_ACCEPTED, R_REJECT_MATCH, R_REQUIRE_MATCH, R_RANGE };
static const char *const kind_names[] = {"not_null", "accepted_values", "reject_match",
                                         "require_match", "range"};

struct rule {
    enum rule_kind kind;
    char *name;             /* given, or "<column> <kind>" */
    char *column;
    int on_fail;
    char *where;            /* "file:line:col" of the item, for errors at start */
    char *pattern;          /* *_match */
    regex_t *re;            /* its own allocation: a regex_t is not promised to move */
    struct sl_strlist values;   /* accepted_values, as written */
    char *min, *max;        /* range, as written; either may be NULL */
};

/* One item of the list, as the key table reads it. */
struct item {
    char *column, *name;
    int on_fail;
    char *reject_match, *require_match;
    struct sl_strlist accepted_values;
    char *min, *max;
    int not_null;
};

struct rules_cfg {
    struct rule *rules;
    size_t n;
    struct item *items;     /* the list as written, for `sluice check` */
    size_t nitems;
};

static const struct sl_cfg_key item_keys[] = {
    {"column", SL_CFG_STR, offsetof(struct item, column), NULL, 1, NULL, "the column checked"},
    {"name", SL_CFG_STR, offsetof(struct item, name), NULL, 0, NULL, "what reports call it"},
    {"on_fail", SL_CFG_ENUM, offsetof(struct item, on_fail), "quarantine", 0, on_fail_names,
     "quarantine | fail: what a batch with rows breaking it gets"},
    {"not_null", SL_CFG_BOOL, offsetof(struct item, not_null), "false", 0, NULL,
     "every row has a value"},
    {"accepted_values", SL_CFG_STRLIST, offsetof(struct item, accepted_values), NULL, 0, NULL,
     "the only values allowed"},
    {"reject_match", SL_CFG_STR, offsetof(struct item, reject_match), NULL, 0, NULL,
     "POSIX extended regex no value may match"},
    {"require_match", SL_CFG_STR, offsetof(struct item, require_match), NULL, 0, NULL,
     "POSIX extended regex every value must match"},
    {"min", SL_CFG_STR, offsetof(struct item, min), NULL, 0, NULL,
     "smallest value allowed (numbers, dates, timestamps)"},
    {"max", SL_CFG_STR, offsetof(struct item, max), NULL, 0, NULL,
     "largest value allowed (numbers, dates, timestamps)"},
    {NULL, 0, 0, NULL, 0, NULL, NULL},
};

static void rule_free(struct rule *r)
{
    sl_free(r->name);
    sl_free(r->column);
    sl_free(r->where);
    sl_free(r->pattern);
    if (r->re) {
        regfree(r->re);
        sl_free(r->re);
    }
    for (size_t i = 0; i < r->values.n; i++)
        sl_free(r->values.items[i]);
    sl_free(r->values.items);
    sl_free(r->min);
    sl_free(r->max);
}

static void rules_free_ctx(void *ctx)
{
    struct rules_cfg *c = ctx;
    for (size_t i = 0; i < c->n; i++)
        rule_free(&c->rules[i]);
    sl_free(c->rules);
    c->rules = NULL;
    c->n = 0;
    for (size_t i = 0; i < c->nitems; i++)
        sl_cfg_free(item_keys, &c->items[i]);
    sl_free(c->items);
    c->items = NULL;
    c->nitems = 0;
}

static const void *rules_item(const void *ctx, size_t i)
{
    const struct rules_cfg *c = ctx;
    return i < c->nitems ? &c->items[i] : NULL;
}

/* A new rule at the end of c (zeroed), or NULL. */
static struct rule *rule_new(struct rules_cfg *c, enum rule_kind kind, const struct item *it,
                             const char *file, const struct sl_yaml_node *n)
{
    char where[512], name[256];
    struct rule *r = sl_realloc(c->rules, (c->n + 1) * sizeof *r);
    if (!r)
        return NULL;
    c->rules = r;
    r = &c->rules[c->n++];
    memset(r, 0, sizeof *r);
    r->kind = kind;
    r->on_fail = it->on_fail;
    snprintf(where, sizeof where, "%s:%d:%d", file, n->line, n->col);
    snprintf(name, sizeof name, "%s %s", it->column, kind_names[kind]);
    r->where = sl_strdup(where);
    r->column = sl_strdup(it->column);
    r->name = sl_strdup(it->name ? it->name : name);
    if (!r->where || !r->column || !r->name)
        return NULL;
    return r;
}

/* Compile the regex of key `key` of item node n (the node of its value for
 * the error position). */
static int compile(struct rule *r, const char *pattern, const char *key,
                   const struct sl_yaml_node *n, size_t ix, const char *file, struct sl_err *err)
{
    const struct sl_yaml_node *v = sl_yaml_get(n, key);
    char why[256];

    regex_t *re = sl_malloc(sizeof *re);

    if (!re || !(r->pattern = sl_strdup(pattern))) {
        sl_free(re);
        return sl_yaml_nomem(err, file);
    }
    int rc = regcomp(re, pattern, REG_EXTENDED | REG_NOSUB);
    if (rc != 0) {
        regerror(rc, re, why, sizeof why);
        sl_free(re);
        return sl_yaml_err(err, file, v ? v->line : n->line, v ? v->col : n->col,
                           "gate \"rules\" item %zu: %s: bad regular expression \"%s\": %s", ix,
                           key, pattern, why);
    }
    r->re = re;
    return 0;
}

/* A copy of a string of the item (the item keeps its own); 0, or -1 when
 * out of memory. */
static int copy(char **dst, const char *src)
{
    *dst = src ? sl_strdup(src) : NULL;
    return src && !*dst ? -1 : 0;
}

static int parse_item(struct rules_cfg *c, const struct sl_yaml_node *n, size_t ix,
                      const char *file, struct sl_err *err)
{
    struct item it;
    char what[64], found[96];
    struct rule *r;
    int rc = -1, checks = 0;

    memset(&it, 0, sizeof it);
    snprintf(what, sizeof what, "gate \"rules\" item %zu", ix);
    if (n->type != SL_YAML_MAP) {
        sl_yaml_describe(n, found, sizeof found);
        return sl_yaml_err(err, file, n->line, n->col,
                           "%s: expected a mapping like { column: email, reject_match: "
                           "\"@test\\\\.\" }, found %s", what, found);
    }
    if (sl_cfg_fill_ex(item_keys, &it, n, file, NULL, what, NULL, err) < 0)
        goto done;
    if (it.not_null) {
        if (!rule_new(c, R_NOT_NULL, &it, file, n))
            goto nomem;
        checks++;
    }
    if (sl_yaml_get(n, "accepted_values") && !sl_yaml_get(n, "accepted_values")->is_null) {
        const struct sl_yaml_node *v = sl_yaml_get(n, "accepted_values");
        if (!it.accepted_values.n) {
            sl_yaml_err(err, file, v->line, v->col, "%s: accepted_values is empty: no value "
                        "could pass", what);
            goto done;
        }
        if (!(r = rule_new(c, R_ACCEPTED, &it, file, n)))
            goto nomem;
        r->values.items = sl_calloc(it.accepted_values.n, sizeof *r->values.items);
        if (!r->values.items)
            goto nomem;
        for (size_t i = 0; i < it.accepted_values.n; i++, r->values.n++)
            if (copy(&r->values.items[i], it.accepted_values.items[i]) < 0)
                goto nomem;
        checks++;
    }
    if (it.reject_match) {
        if (!(r = rule_new(c, R_REJECT_MATCH, &it, file, n)))
            goto nomem;
        if (compile(r, it.reject_match, "reject_match", n, ix, file, err) < 0)
            goto done;
        checks++;
    }
    if (it.require_match) {
        if (!(r = rule_new(c, R_REQUIRE_MATCH, &it, file, n)))
            goto nomem;
        if (compile(r, it.require_match, "require_match", n, ix, file, err) < 0)
            goto done;
        checks++;
    }
    if (it.min || it.max) {
        if (!(r = rule_new(c, R_RANGE, &it, file, n)))
            goto nomem;
        if (copy(&r->min, it.min) < 0 || copy(&r->max, it.max) < 0)
            goto nomem;
        checks++;
    }
    if (!checks) {
        sl_yaml_err(err, file, n->line, n->col,
                    "%s: column \"%s\" has no check (give one of: not_null, accepted_values, "
                    "reject_match, require_match, min, max)", what, it.column);
        goto done;
    }
    struct item *items = sl_realloc(c->items, (c->nitems + 1) * sizeof *items);
    if (!items)
        goto nomem;
    c->items = items;
    c->items[c->nitems++] = it;     /* kept as written; rules_free_ctx frees it */
    return 0;
nomem:
    sl_yaml_nomem(err, file);
done:
    sl_cfg_free(item_keys, &it);
    return rc;
}

/* The list form (a mapping or nothing at all comes here too: keys is NULL). */
static int rules_parse(void *ctx, const struct sl_yaml_node *node, const char *file,
                       struct sl_err *err)
{
    struct rules_cfg *c = ctx;
    char found[96];

    if (node->type == SL_YAML_SCALAR && node->is_null)
        return 0;
    if (node->type != SL_YAML_SEQ) {
        sl_yaml_describe(node, found, sizeof found);
        return sl_yaml_err(err, file, node->line, node->col,
                           "gate \"rules\": expected a list of rules like [ { column: email, "
                           "reject_match: \"@test\\\\.\" } ], found %s", found);
    }
    for (size_t i = 0; i < node->nitems; i++)
        if (parse_item(c, node->items[i], i + 1, file, err) < 0)
            return -1;   /* the loader calls free_ctx on what was built */
    return 0;
}

/* ---- comparing values ---- */

/* Order of two canonical decimals (-?digits[.digits]); exact at any size. */
static int dec_cmp(const char *a, size_t an, const char *b, size_t bn)
{
    int na = an > 0 && a[0] == '-', nb = bn > 0 && b[0] == '-';
    if (na != nb)
        return na ? -1 : 1;
    a += na, an -= (size_t)na, b += nb, bn -= (size_t)nb;
    while (an > 1 && a[0] == '0' && a[1] != '.')
        a++, an--;
    while (bn > 1 && b[0] == '0' && b[1] != '.')
        b++, bn--;
    const char *da = memchr(a, '.', an), *db = memchr(b, '.', bn);
    size_t ia = da ? (size_t)(da - a) : an, ib = db ? (size_t)(db - b) : bn;
    int m = 0;
    if (ia != ib)
        m = ia < ib ? -1 : 1;
    else if ((m = memcmp(a, b, ia)) != 0)
        m = m < 0 ? -1 : 1;
    else {
        size_t fa = da ? an - ia - 1 : 0, fb = db ? bn - ib - 1 : 0;
        for (size_t k = 0; !m && (k < fa || k < fb); k++) {
            char x = k < fa ? da[1 + k] : '0', y = k < fb ? db[1 + k] : '0';
            m = (x > y) - (x < y);
        }
    }
    return na ? -m : m;
}

enum cmp_kind { CMP_TEXT, CMP_DECIMAL, CMP_DOUBLE };

static enum cmp_kind cmp_kind_of(enum sl_type t)
{
    return t == SL_T_BIGINT || t == SL_T_NUMERIC ? CMP_DECIMAL
         : t == SL_T_DOUBLE ? CMP_DOUBLE : CMP_TEXT;
}

/* strtod of a canonical double (NaN, Infinity and -Infinity included). */
static double to_double(const char *s, size_t n)
{
    char buf[64];
    if (n >= sizeof buf)
        n = sizeof buf - 1;     /* canonical doubles are short; a longer one loses digits */
    memcpy(buf, s, n);
    buf[n] = '\0';
    return strtod(buf, NULL);
}

/* -1, 0, 1; 2 when they do not compare (NaN). */
static int value_cmp(enum cmp_kind k, const char *a, size_t an, const char *b, size_t bn)
{
    if (k == CMP_DECIMAL)
        return dec_cmp(a, an, b, bn);
    if (k == CMP_DOUBLE) {
        double x = to_double(a, an), y = to_double(b, bn);
        if (x != x || y != y)
            return 2;
        return (x > y) - (x < y);
    }
    size_t n = an < bn ? an : bn;
    int m = memcmp(a, b, n);
    if (m)
        return m < 0 ? -1 : 1;
    return (an > bn) - (an < bn);
}

/* ---- the run ---- */

#define MAX_EXAMPLES 5
#define MAX_VALUE 100

static void rules_describe(const void *ctx, char *out, size_t cap)
{
    const struct rules_cfg *c = ctx;
    size_t used = (size_t)snprintf(out, cap, "%zu rule%s:", c->n, c->n == 1 ? "" : "s");
    for (size_t i = 0; i < c->n && used < cap; i++)
        used += (size_t)snprintf(out + used, cap - used, "%s %s", i ? ";" : "", c->rules[i].name);
}

struct example {
    long line;
    char *val;              /* NULL: the value was NULL */
};

struct rrun {
    const struct rule *r;
    long idx;
    enum cmp_kind cmp;
    char *lo, *hi;          /* range bounds, canonical for the column's type */
    char **acc;             /* accepted values, canonical */
    size_t nacc;
    int64_t broken;
    struct example ex[MAX_EXAMPLES];
    size_t nex;
};

struct sl_gate_run {
    const struct rules_cfg *cfg;
    struct rrun *rr;
    size_t n;
    int64_t rows;
    struct sl_buf tmp;      /* a value NUL-terminated for regexec */
};

static void rules_free_run(struct sl_gate_run *g)
{
    if (!g)
        return;
    for (size_t i = 0; i < g->n; i++) {
        struct rrun *x = &g->rr[i];
        sl_free(x->lo);
        sl_free(x->hi);
        for (size_t k = 0; k < x->nacc; k++)
            sl_free(x->acc[k]);
        sl_free(x->acc);
        for (size_t k = 0; k < x->nex; k++)
            sl_free(x->ex[k].val);
    }
    sl_free(g->rr);
    sl_buf_free(&g->tmp);
    sl_free(g);
}

/* Canonical text of a value written in the config, for type t: NULL with a
 * reason when it is not of the type. */
static char *canon(enum sl_type t, const char *s, char *why, size_t whylen)
{
    struct sl_buf b;
    struct sl_valctx utc = {NULL, SL_DST_FAIL, SL_EPOCH_NONE};

    sl_buf_init(&b);
    /* bounds are compared as exact decimals whatever the integer column */
    enum sl_type as = t == SL_T_BIGINT ? SL_T_NUMERIC : t;
    int rc = sl_value_canon(as, s, strlen(s), SL_LEX_RAW, &utc, &b, why, whylen);
    if (rc != 0) {
        if (rc == 1)
            snprintf(why, whylen, "empty");
        sl_buf_free(&b);
        return NULL;
    }
    if (b.oom || !b.data) {
        snprintf(why, whylen, "out of memory");
        sl_buf_free(&b);
        return NULL;
    }
    return sl_buf_steal(&b);
}

static int prepare(struct rrun *x, const struct sl_gate_env *env, struct sl_err *err)
{
    const struct rule *r = x->r;
    const struct sl_schema *s = env->schema;
    const char *t = env->table ? env->table->name : "?";
    char why[256];

    x->idx = sl_schema_find(s, r->column);
    if (x->idx < 0)
        return sl_err_set(err, SL_E_CONFIG,
                          "%s: table \"%s\": gate \"rules\": rule \"%s\": column \"%s\" is not "
                          "in the table", r->where, t, r->name, r->column);
    enum sl_type ty = s->cols[x->idx].type;
    x->cmp = cmp_kind_of(ty);
    if (r->kind == R_RANGE) {
        if (ty != SL_T_BIGINT && ty != SL_T_NUMERIC && ty != SL_T_DOUBLE && ty != SL_T_DATE &&
            ty != SL_T_TIMESTAMPTZ)
            return sl_err_set(err, SL_E_CONFIG,
                              "%s: table \"%s\": gate \"rules\": rule \"%s\": min and max need a "
                              "number, date or timestamp column; \"%s\" is %s", r->where, t,
                              r->name, r->column, sl_type_name(ty));
        const char *bound[2] = {r->min, r->max};
        char **out[2] = {&x->lo, &x->hi};
        for (int k = 0; k < 2; k++) {
            if (!bound[k])
                continue;
            if (!(*out[k] = canon(ty, bound[k], why, sizeof why)) &&
                strcmp(why, "out of memory") == 0)
                return sl_err_nomem(err);
            if (!*out[k])
                return sl_err_set(err, SL_E_CONFIG,
                                  "%s: table \"%s\": gate \"rules\": rule \"%s\": %s \"%s\" is "
                                  "not a %s (%s)", r->where, t, r->name, k ? "max" : "min",
                                  bound[k], sl_type_name(ty), why);
        }
        if (x->lo && x->hi) {
            int c = value_cmp(x->cmp, x->lo, strlen(x->lo), x->hi, strlen(x->hi));
            if (c == 1)
                return sl_err_set(err, SL_E_CONFIG,
                                  "%s: table \"%s\": gate \"rules\": rule \"%s\": min %s is "
                                  "above max %s", r->where, t, r->name, r->min, r->max);
        }
    } else if (r->kind == R_ACCEPTED) {
        x->acc = sl_calloc(r->values.n, sizeof *x->acc);
        if (!x->acc)
            return sl_err_nomem(err);
        for (size_t k = 0; k < r->values.n; k++) {
            if (ty == SL_T_TEXT)
                x->acc[k] = sl_strdup(r->values.items[k]);
            else if (!(x->acc[k] = canon(ty, r->values.items[k], why, sizeof why)) &&
                     strcmp(why, "out of memory") != 0)
                return sl_err_set(err, SL_E_CONFIG,
                                  "%s: table \"%s\": gate \"rules\": rule \"%s\": accepted "
                                  "value \"%s\" is not a %s (%s)", r->where, t, r->name,
                                  r->values.items[k], sl_type_name(ty), why);
            if (!x->acc[k])
                return sl_err_nomem(err);
            x->nacc = k + 1;
        }
    }
    return 0;
}

static int rules_start(const void *ctx, const struct sl_gate_env *env, struct sl_gate_run **out,
                       struct sl_err *err)
{
    const struct rules_cfg *c = ctx;

    *out = NULL;
    struct sl_gate_run *g = sl_calloc(1, sizeof *g);
    if (!g || !(g->rr = sl_calloc(c->n + 1, sizeof *g->rr))) {
        sl_free(g);
        return sl_err_nomem(err);
    }
    g->cfg = c;
    sl_buf_init(&g->tmp);
    for (size_t i = 0; i < c->n; i++) {
        g->rr[i].r = &c->rules[i];
        g->n = i + 1;
        if (prepare(&g->rr[i], env, err) < 0) {
            rules_free_run(g);
            return -1;
        }
    }
    *out = g;
    return 0;
}

/* 1 when the cell breaks the rule. */
static int breaks(struct sl_gate_run *g, const struct rrun *x, const struct sl_cell *v, int *oom)
{
    const struct rule *r = x->r;

    if (v->null)
        return r->kind == R_NOT_NULL;
    switch (r->kind) {
    case R_NOT_NULL:
        return 0;
    case R_ACCEPTED:
        for (size_t k = 0; k < x->nacc; k++)
            if (value_cmp(x->cmp, v->s, v->n, x->acc[k], strlen(x->acc[k])) == 0)
                return 0;
        return 1;
    case R_REJECT_MATCH:
    case R_REQUIRE_MATCH: {
        sl_buf_reset(&g->tmp);
        sl_buf_append(&g->tmp, v->s, v->n);
        if (g->tmp.oom || !g->tmp.data) {
            *oom = 1;
            return 0;
        }
        int match = regexec(r->re, g->tmp.data, 0, NULL, 0) == 0;
        return r->kind == R_REJECT_MATCH ? match : !match;
    }
    case R_RANGE:
        if (x->lo) {
            int c = value_cmp(x->cmp, v->s, v->n, x->lo, strlen(x->lo));
            if (c < 0 || c == 2)
                return 1;
        }
        if (x->hi) {
            int c = value_cmp(x->cmp, v->s, v->n, x->hi, strlen(x->hi));
            if (c > 0)
                return 1;
        }
        return 0;
    }
    return 0;
}

static int rules_row(struct sl_gate_run *g, const struct sl_cell *cells, const struct sl_cell *raw,
                     long line, struct sl_err *err)
{
    int oom = 0;

    (void)raw;
    g->rows++;
    for (size_t i = 0; i < g->n; i++) {
        struct rrun *x = &g->rr[i];
        const struct sl_cell *v = &cells[x->idx];
        if (!breaks(g, x, v, &oom))
            continue;
        x->broken++;
        if (x->nex < MAX_EXAMPLES) {
            struct example *e = &x->ex[x->nex++];
            e->line = line;
            if (!v->null && !(e->val = sl_gate_clip(v->s, v->n, MAX_VALUE)))
                oom = 1;
        }
    }
    if (oom)
        return sl_err_set(err, SL_E_NOMEM, "gate \"rules\": out of memory");
    return 0;
}

/* Event sources: a row breaking any rule goes to the dead letter table. */
static int rules_row_check(struct sl_gate_run *g, const struct sl_cell *cells, char *why,
                           size_t whylen, struct sl_err *err)
{
    int oom = 0;

    for (size_t i = 0; i < g->n; i++) {
        const struct rrun *x = &g->rr[i];
        const struct sl_cell *v = &cells[x->idx];
        if (!breaks(g, x, v, &oom)) {
            if (oom)
                return sl_err_set(err, SL_E_NOMEM, "gate \"rules\": out of memory");
            continue;
        }
        size_t n = v->null ? 0 : v->n;
        if (n > MAX_VALUE) {    /* cut on a character boundary */
            n = MAX_VALUE;
            while (n > 0 && ((unsigned char)v->s[n] & 0xC0) == 0x80)
                n--;
        }
        if (v->null)
            snprintf(why, whylen, "rule \"%s\" broken: column \"%s\" is null", x->r->name,
                     x->r->column);
        else
            snprintf(why, whylen, "rule \"%s\" broken: column \"%s\" is \"%.*s%s\"",
                     x->r->name, x->r->column, (int)n, v->s, n < v->n ? "..." : "");
        return 1;
    }
    return 0;
}

/* ---- the report ---- */

static int rules_finish(struct sl_gate_run *g, const struct sl_gate_env *env,
                        struct sl_gate_result *res, struct sl_err *err)
{
    struct sl_buf msg;
    size_t nbroken = 0;
    int any_fail = 0;

    (void)env;
    sl_buf_init(&msg);
    json_t *o = json_object(), *rules = json_array();
    json_object_set_new(o, "checked", json_sprintf("%zu rule%s on each row", g->n, g->n == 1 ? "" : "s"));
    json_object_set_new(o, "rows", json_integer(g->rows));
    for (size_t i = 0; i < g->n; i++) {
        const struct rrun *x = &g->rr[i];
        const struct rule *r = x->r;
        json_t *j = json_object(), *exs = json_array();
        json_object_set_new(j, "name", sl_gate_json_text(r->name));
        json_object_set_new(j, "column", sl_gate_json_text(r->column));
        json_object_set_new(j, "rule", json_string(kind_names[r->kind]));
        if (r->pattern)
            json_object_set_new(j, "pattern", sl_gate_json_text(r->pattern));
        if (r->kind == R_ACCEPTED) {
            json_t *a = json_array();
            for (size_t k = 0; k < r->values.n; k++)
                json_array_append_new(a, sl_gate_json_text(r->values.items[k]));
            json_object_set_new(j, "accepted_values", a);
        }
        if (r->min)
            json_object_set_new(j, "min", sl_gate_json_text(r->min));
        if (r->max)
            json_object_set_new(j, "max", sl_gate_json_text(r->max));
        json_object_set_new(j, "on_fail", json_string(on_fail_names[r->on_fail]));
        json_object_set_new(j, "rows_broken", json_integer(x->broken));
        for (size_t k = 0; k < x->nex; k++) {
            json_t *e = json_object();
            json_object_set_new(e, "line", json_integer(x->ex[k].line));
            json_object_set_new(e, "value", sl_gate_json_text(x->ex[k].val));
            json_array_append_new(exs, e);
        }
        json_object_set_new(j, "examples", exs);
        json_object_set_new(j, "passed", json_boolean(!x->broken));
        json_array_append_new(rules, j);
        if (x->broken) {
            nbroken++;
            any_fail |= r->on_fail == ON_FAIL_FAIL;
            sl_buf_printf(&msg, "%s%s: %lld row%s, e.g. line %ld: %s", msg.len ? "; " : "",
                          r->name, (long long)x->broken, x->broken == 1 ? "" : "s",
                          x->ex[0].line, x->ex[0].val ? x->ex[0].val : "NULL");
        }
    }
    json_object_set_new(o, "rules", rules);
    json_object_set_new(o, "broken_rules", json_integer((json_int_t)nbroken));
    res->verdict = !nbroken ? SL_GATE_PASS : any_fail ? SL_GATE_FAIL : SL_GATE_QUARANTINE;
    res->report_json = NULL;
    json_object_set_new(o, "passed", json_boolean(res->verdict == SL_GATE_PASS));
    json_object_set_new(o, "verdict", json_string(res->verdict == SL_GATE_PASS ? "pass"
                                                  : res->verdict == SL_GATE_FAIL ? "fail"
                                                                                 : "quarantine"));
    if (nbroken) {
        char head[64];
        snprintf(head, sizeof head, "%zu of %zu rule%s broken: ", nbroken, g->n,
                 g->n == 1 ? "" : "s");
        json_object_set_new(o, "message", json_sprintf("%s%s", head, msg.data ? msg.data : ""));
        if (!json_object_get(o, "message"))     /* a value cut mid-character */
            json_object_set_new(o, "message", sl_gate_json_text(msg.data ? msg.data : ""));
    } else {
        json_object_set_new(o, "message", json_sprintf("all %zu rule%s hold for %lld row%s", g->n,
                                                       g->n == 1 ? "" : "s", (long long)g->rows,
                                                       g->rows == 1 ? "" : "s"));
    }
    int nomem = msg.oom;
    sl_buf_free(&msg);
    if (nomem) {
        json_decref(o);
        return sl_err_nomem(err);
    }
    return sl_gate_report(o, res, err);
}

const struct sl_gate_ops sl_gate_rules = {
    .name = "rules",
    .keys = NULL,
    .describe = rules_describe,
    .item_keys = item_keys,
    .item = rules_item,
    .ctx_size = sizeof(struct rules_cfg),
    .parse = rules_parse,
    .start = rules_start,
    .value_ctx = NULL,
    .row = rules_row,
    .row_check = rules_row_check,
    .finish = rules_finish,
    .free_run = rules_free_run,
    .free_ctx = rules_free_ctx,
};
