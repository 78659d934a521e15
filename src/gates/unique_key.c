/* gates/unique_key.c: the unique_key gate: each key at most once per batch.
 *
 * Two rows of one batch with the same key mean the drop is wrong (a join
 * fanned out, a file was concatenated twice) or, for a versioned table, that
 * it carries several versions of a row. Policies: quarantine or fail the
 * batch, or keep_latest (versioned tables only: the versioned merge keeps
 * each key's highest version, and the report says how many were folded).
 * Keys live in an open-addressing set of 128-bit hashes (xxh3) with the line
 * of their first row: 16 bytes per slot, so about 20-30 bytes per row, and
 * nothing of the row itself is kept. Snapshot tables are also checked for
 * rows that repeat exactly (every column), with or without a key. */
#include "gates/gate.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "base/yaml.h"
#include "base/mem.h"

enum policy { POL_QUARANTINE = 0, POL_FAIL, POL_KEEP_LATEST };
static const char *const policy_names[] = {"quarantine", "fail", "keep_latest", NULL};

struct uk_cfg {
    int policy;
    struct sl_strlist columns;
};

static const struct sl_cfg_key uk_keys[] = {
    {"policy", SL_CFG_ENUM, offsetof(struct uk_cfg, policy), "quarantine", 0, policy_names,
     "quarantine | fail | keep_latest (versioned tables: the highest version wins)"},
    {"columns", SL_CFG_STRLIST, offsetof(struct uk_cfg, columns), NULL, 0, NULL,
     "the key; default: the table's primary_key"},
    {NULL, 0, 0, NULL, 0, NULL, NULL},
};

/* The scalar form: `unique_key: keep_latest`. */
static int uk_parse(void *ctx, const struct sl_yaml_node *node, const char *file,
                    struct sl_err *err)
{
    struct uk_cfg *c = ctx;
    return sl_gate_parse_choice(node, policy_names, file,
                                "gate \"unique_key\": expected one of quarantine, fail, "
                                "keep_latest (or a mapping with policy and columns)",
                                &c->policy, err);
}

/* ---- a set of 128-bit hashes ---- */

/* 96 bits of the hash identify a key: at a billion keys the chance of any
 * false duplicate is about 1e-11. The rest of the slot holds the line of
 * the first row with that key, for the report. */
struct slot {
    uint64_t h;             /* 0 with h2 0: empty (h always has its low bit set) */
    uint32_t h2;
    uint32_t line;          /* saturates at UINT32_MAX */
};

struct hset {
    struct slot *s;
    size_t cap, n;
};

/* Slot index from the top bits, for any capacity (Lemire's fast range). */
static size_t home(uint64_t h, size_t cap)
{
    return (size_t)(((uint64_t)(uint32_t)(h >> 32) * (uint64_t)cap) >> 32);
}

static int hset_grow(struct hset *hs)
{
    size_t cap = hs->cap < 64 ? 64 : hs->cap + hs->cap / 2;
    if (cap > UINT32_MAX)
        return -1;
    struct slot *s = sl_calloc(cap, sizeof *s);
    if (!s)
        return -1;
    for (size_t i = 0; i < hs->cap; i++) {
        if (!hs->s[i].h)
            continue;
        size_t j = home(hs->s[i].h, cap);
        while (s[j].h)
            j = j + 1 == cap ? 0 : j + 1;
        s[j] = hs->s[i];
    }
    sl_free(hs->s);
    hs->s = s;
    hs->cap = cap;
    return 0;
}

/* 0: added; 1: already there (*first = its line); -1: out of memory. */
static int hset_add(struct hset *hs, XXH128_hash_t x, long line, long *first)
{
    uint64_t h = x.high64 | 1;
    uint32_t h2 = (uint32_t)x.low64;

    /* at most 80% full: linear probing stays short */
    if ((hs->n + 1) * 5 > hs->cap * 4 && hset_grow(hs) < 0)
        return -1;
    size_t j = home(h, hs->cap);
    while (hs->s[j].h) {
        if (hs->s[j].h == h && hs->s[j].h2 == h2) {
            *first = hs->s[j].line;
            return 1;
        }
        j = j + 1 == hs->cap ? 0 : j + 1;
    }
    hs->s[j].h = h;
    hs->s[j].h2 = h2;
    hs->s[j].line = line < 0 ? 0 : line > (long)UINT32_MAX ? UINT32_MAX : (uint32_t)line;
    hs->n++;
    return 0;
}

/* ---- the run ---- */

#define MAX_EXAMPLES 5
#define MAX_ROW_COLS 8      /* columns shown of an exact duplicate row */
#define MAX_VALUE 100       /* bytes of a value shown */

struct example {
    long first_line, line;
    size_t n;
    char **vals;            /* NULL item: SQL NULL */
};

struct sl_gate_run {
    const struct uk_cfg *cfg;
    const struct sl_table_cfg *table;
    const struct sl_schema *schema;     /* the engine's, alive until free_run */
    const char *const *key_names;
    size_t nkey;
    long *key_idx;
    int exact;                          /* snapshot: exact duplicate rows too */
    struct hset keys, rows;
    struct sl_buf hb;
    int64_t nrows, dups, exact_dups, null_keys;
    struct example ex[MAX_EXAMPLES], exr[MAX_EXAMPLES];
    size_t nex, nexr;
};

static void example_free(struct example *e)
{
    for (size_t i = 0; i < e->n; i++)
        sl_free(e->vals[i]);
    sl_free(e->vals);
    e->vals = NULL;
    e->n = 0;
}

static void uk_free_run(struct sl_gate_run *g)
{
    if (!g)
        return;
    sl_free(g->key_idx);
    sl_free(g->keys.s);
    sl_free(g->rows.s);
    sl_buf_free(&g->hb);
    for (size_t i = 0; i < g->nex; i++)
        example_free(&g->ex[i]);
    for (size_t i = 0; i < g->nexr; i++)
        example_free(&g->exr[i]);
    sl_free(g);
}

static void join_columns(char *buf, size_t len, const struct sl_schema *s)
{
    size_t off = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < s->ncols && off < len; i++) {
        int w = snprintf(buf + off, len - off, "%s%s", i ? ", " : "", s->cols[i].name);
        if (w < 0)
            break;
        off += (size_t)w;
    }
}

static int uk_check(const void *ctx, const struct sl_table_cfg *t, struct sl_err *err)
{
    const struct uk_cfg *c = ctx;
    const struct sl_strlist *cols = c->columns.n ? &c->columns : &t->primary_key;

    if (c->policy == POL_KEEP_LATEST) {
        if (t->kind != SL_KIND_VERSIONED || !t->version_key)
            return sl_err_set(err, SL_E_CONFIG,
                              "table \"%s\": gate \"unique_key\": keep_latest needs a versioned "
                              "table (its merge keeps each key's highest version_key); this "
                              "table is %s: use quarantine or fail", t->name,
                              sl_table_kind_name(t->kind));
        int same = c->columns.n == 0 || c->columns.n == t->primary_key.n;
        for (size_t i = 0; same && i < c->columns.n; i++)
            same = strcmp(c->columns.items[i], t->primary_key.items[i]) == 0;
        if (!same)
            return sl_err_set(err, SL_E_CONFIG,
                              "table \"%s\": gate \"unique_key\": keep_latest works on the "
                              "primary key; leave columns out or give exactly the primary_key",
                              t->name);
    }
    if (!cols->n && t->kind != SL_KIND_SNAPSHOT)
        return sl_err_set(err, SL_E_CONFIG,
                          "table \"%s\": gate \"unique_key\": no key to check: give the gate "
                          "columns: [...] or the table a primary_key", t->name);

    return 0;
}

static int uk_start(const void *ctx, const struct sl_gate_env *env, struct sl_gate_run **out,
                    struct sl_err *err)
{
    const struct uk_cfg *c = ctx;
    const struct sl_table_cfg *t = env->table;
    const struct sl_strlist *cols = c->columns.n ? &c->columns : &t->primary_key;
    char names[512];

    *out = NULL;
    if (uk_check(c, t, err) < 0)
        return -1;

    struct sl_gate_run *g = sl_calloc(1, sizeof *g);
    if (!g || !(g->key_idx = sl_calloc(cols->n + 1, sizeof *g->key_idx))) {
        sl_free(g);
        return sl_err_nomem(err);
    }
    g->cfg = c;
    g->table = t;
    g->schema = env->schema;
    g->key_names = (const char *const *)cols->items;
    g->nkey = cols->n;
    g->exact = t->kind == SL_KIND_SNAPSHOT;
    sl_buf_init(&g->hb);
    for (size_t i = 0; i < cols->n; i++) {
        g->key_idx[i] = sl_schema_find(env->schema, cols->items[i]);
        if (g->key_idx[i] < 0) {
            join_columns(names, sizeof names, env->schema);
            sl_err_set(err, SL_E_CONFIG,
                       "table \"%s\": gate \"unique_key\": column \"%s\" is not in the table "
                       "(columns: %s)", t->name, cols->items[i], names);
            uk_free_run(g);
            return -1;
        }
    }
    *out = g;
    return 0;
}

/* xxh3-128 over the cells, each length-prefixed so ("ab","c") != ("a","bc")
 * and NULL differs from "". */
static XXH128_hash_t hash_cells(struct sl_buf *b, const struct sl_cell *cells, const long *idx,
                                size_t n)
{
    sl_buf_reset(b);
    for (size_t i = 0; i < n; i++) {
        const struct sl_cell *c = &cells[idx ? (size_t)idx[i] : i];
        uint64_t len = c->null ? UINT64_MAX : (uint64_t)c->n;
        sl_buf_append(b, &len, sizeof len);
        if (!c->null)
            sl_buf_append(b, c->s, c->n);
    }
    return XXH3_128bits(b->data, b->len);
}

static int example_add(struct example *e, long first, long line, const struct sl_cell *cells,
                       const long *idx, size_t n)
{
    e->first_line = first;
    e->line = line;
    e->vals = sl_calloc(n ? n : 1, sizeof *e->vals);
    if (!e->vals)
        return -1;
    e->n = n;
    for (size_t i = 0; i < n; i++) {
        const struct sl_cell *c = &cells[idx ? (size_t)idx[i] : i];
        if (!c->null && !(e->vals[i] = sl_gate_clip(c->s, c->n, MAX_VALUE)))
            return -1;
    }
    return 0;
}

static int uk_row(struct sl_gate_run *g, const struct sl_cell *cells, const struct sl_cell *raw,
                  long line, struct sl_err *err)
{
    long first = 0;
    int r;

    (void)raw;
    g->nrows++;
    if (g->nkey) {
        int has_null = 0;
        for (size_t i = 0; i < g->nkey; i++)
            has_null |= cells[g->key_idx[i]].null;
        if (has_null) {
            /* like SQL's UNIQUE: a key with a NULL in it equals nothing */
            g->null_keys++;
        } else {
            r = hset_add(&g->keys, hash_cells(&g->hb, cells, g->key_idx, g->nkey), line, &first);
            if (r < 0 || g->hb.oom)
                return sl_err_set(err, SL_E_NOMEM, "gate \"unique_key\": out of memory");
            if (r == 1) {
                g->dups++;
                if (g->nex < MAX_EXAMPLES) {
                    struct example *e = &g->ex[g->nex++];
                    if (example_add(e, first, line, cells, g->key_idx, g->nkey) < 0)
                        return sl_err_set(err, SL_E_NOMEM, "gate \"unique_key\": out of memory");
                }
            }
        }
    }
    if (g->exact) {
        size_t n = g->schema->ncols;
        r = hset_add(&g->rows, hash_cells(&g->hb, cells, NULL, n), line, &first);
        if (r < 0 || g->hb.oom)
            return sl_err_set(err, SL_E_NOMEM, "gate \"unique_key\": out of memory");
        if (r == 1) {
            g->exact_dups++;
            if (g->nexr < MAX_EXAMPLES) {
                struct example *e = &g->exr[g->nexr++];
                if (example_add(e, first, line, cells, NULL, n < MAX_ROW_COLS ? n : MAX_ROW_COLS) < 0)
                    return sl_err_set(err, SL_E_NOMEM, "gate \"unique_key\": out of memory");
            }
        }
    }
    return 0;
}

/* ---- the report ---- */

/* {"col": "value", ...} of an example's values under the given names. */
static json_t *values_json(const struct example *e, const char *const *names,
                           const struct sl_schema *s)
{
    json_t *o = json_object();
    for (size_t i = 0; i < e->n; i++)
        json_object_set_new(o, names ? names[i] : s->cols[i].name, sl_gate_json_text(e->vals[i]));
    return o;
}

/* "id=7, region=\"eu\"" for a message. */
static void key_text(char *buf, size_t len, const struct example *e, const char *const *names)
{
    size_t off = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < e->n && off < len; i++) {
        int w = snprintf(buf + off, len - off, "%s%s=%s", i ? ", " : "", names[i],
                         e->vals[i] ? e->vals[i] : "NULL");
        if (w < 0)
            break;
        off += (size_t)w;
    }
}

static int uk_finish(struct sl_gate_run *g, const struct sl_gate_env *env,
                     struct sl_gate_result *res, struct sl_err *err)
{
    const struct uk_cfg *c = g->cfg;
    char keys[256] = "", msg[1024], ex[400];
    size_t off = 0;

    (void)env;
    for (size_t i = 0; i < g->nkey && off < sizeof keys; i++) {
        int w = snprintf(keys + off, sizeof keys - off, "%s%s", i ? ", " : "", g->key_names[i]);
        if (w < 0)
            break;
        off += (size_t)w;
    }

    json_t *o = json_object(), *cols = json_array(), *exs = json_array();
    for (size_t i = 0; i < g->nkey; i++)
        json_array_append_new(cols, json_string(g->key_names[i]));
    if (g->nkey)
        json_object_set_new(o, "checked", json_sprintf("unique key (%s) within the batch%s", keys,
                                                       g->exact ? ", and exact duplicate rows" : ""));
    else
        json_object_set_new(o, "checked", json_string("exact duplicate rows within the batch "
                                                      "(the table has no key)"));
    json_object_set_new(o, "policy", json_string(policy_names[c->policy]));
    json_object_set_new(o, "columns", cols);
    json_object_set_new(o, "rows", json_integer(g->nrows));
    json_object_set_new(o, "distinct_keys", json_integer((json_int_t)g->keys.n));
    json_object_set_new(o, "duplicates", json_integer(g->dups));
    json_object_set_new(o, "rows_with_null_key", json_integer(g->null_keys));
    for (size_t i = 0; i < g->nex; i++) {
        json_t *e = json_object();
        json_object_set_new(e, "key", values_json(&g->ex[i], g->key_names, NULL));
        json_object_set_new(e, "first_line", json_integer(g->ex[i].first_line));
        json_object_set_new(e, "line", json_integer(g->ex[i].line));
        json_array_append_new(exs, e);
    }
    json_object_set_new(o, "examples", exs);
    if (g->exact) {
        json_t *exr = json_array();
        json_object_set_new(o, "exact_duplicate_rows", json_integer(g->exact_dups));
        for (size_t i = 0; i < g->nexr; i++) {
            json_t *e = json_object();
            json_object_set_new(e, "first_line", json_integer(g->exr[i].first_line));
            json_object_set_new(e, "line", json_integer(g->exr[i].line));
            json_object_set_new(e, "row", values_json(&g->exr[i], NULL, g->schema));
            json_array_append_new(exr, e);
        }
        json_object_set_new(o, "exact_duplicate_examples", exr);
    }

    res->verdict = SL_GATE_PASS;
    res->report_json = NULL;
    if (g->dups) {
        key_text(ex, sizeof ex, &g->ex[0], g->key_names);
        if (c->policy == POL_KEEP_LATEST) {
            snprintf(msg, sizeof msg,
                     "%lld duplicate key%s (%s), e.g. %s at lines %ld and %ld: the row with "
                     "the highest %s of each key is kept", (long long)g->dups,
                     g->dups == 1 ? "" : "s", keys, ex,
                     g->ex[0].first_line, g->ex[0].line, g->table->version_key);
            json_object_set_new(o, "kept", json_sprintf("the row with the highest %s of each key",
                                                        g->table->version_key));
        } else {
            snprintf(msg, sizeof msg, "%lld duplicate key%s (%s), e.g. %s at lines %ld and %ld",
                     (long long)g->dups, g->dups == 1 ? "" : "s", keys, ex, g->ex[0].first_line, g->ex[0].line);
            res->verdict = c->policy == POL_FAIL ? SL_GATE_FAIL : SL_GATE_QUARANTINE;
        }
    } else if (g->exact_dups) {
        snprintf(msg, sizeof msg, "%lld row%s repeat%s an earlier row exactly, e.g. line %ld "
                 "repeats line %ld", (long long)g->exact_dups, g->exact_dups == 1 ? "" : "s",
                 g->exact_dups == 1 ? "s" : "", g->exr[0].line,
                 g->exr[0].first_line);
    } else if (g->nkey) {
        snprintf(msg, sizeof msg, "no duplicate keys (%s) among %lld rows", keys,
                 (long long)g->nrows);
    } else {
        snprintf(msg, sizeof msg, "no duplicate rows among %lld rows", (long long)g->nrows);
    }
    if (g->exact_dups && c->policy != POL_KEEP_LATEST)
        res->verdict = c->policy == POL_FAIL ? SL_GATE_FAIL : SL_GATE_QUARANTINE;
    if (g->exact_dups && g->dups) {
        size_t l = strlen(msg);
        snprintf(msg + l, sizeof msg - l, "; %lld row%s repeat%s an earlier row exactly",
                 (long long)g->exact_dups, g->exact_dups == 1 ? "" : "s",
                 g->exact_dups == 1 ? "s" : "");
    }
    json_object_set_new(o, "passed", json_boolean(res->verdict == SL_GATE_PASS));
    json_object_set_new(o, "verdict", json_string(res->verdict == SL_GATE_PASS ? "pass"
                                                  : res->verdict == SL_GATE_FAIL ? "fail"
                                                                                 : "quarantine"));
    json_object_set_new(o, "message", sl_gate_json_text(msg));
    return sl_gate_report(o, res, err);
}

const struct sl_gate_ops sl_gate_unique_key = {
    .name = "unique_key",
    .keys = uk_keys,
    .ctx_size = sizeof(struct uk_cfg),
    .parse = uk_parse,
    .check = uk_check,
    .start = uk_start,
    .value_ctx = NULL,
    .row = uk_row,
    .finish = uk_finish,
    .free_run = uk_free_run,
    .free_ctx = NULL,
};
