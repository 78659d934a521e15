/* base/cfgmap.c: fill a plugin's context struct from a YAML mapping, driven
 * by its key table (struct sl_cfg_key, see cfgmap.h).
 *
 * config.c uses it for its own blocks too (http, alerts, connections,
 * pipelines, tables), so every block of the config rejects unknown keys,
 * applies defaults and words its errors the same way:
 *   f.yaml:3:13: pipeline "x": source: key "settle": expected a duration
 *   like "10m", found "ten"
 * Values are checked here for their type only; what a value means (a known
 * format, a time zone that exists) is the owner's to check afterwards. */
#include "base/cfgmap.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/mem.h"
#include "base/value.h"
#include "base/yaml.h"

/* The "owner: what: " in front of a message; empty when both are NULL. */
static void prefix(char *buf, size_t len, const char *owner, const char *what)
{
    snprintf(buf, len, "%s%s%s%s", owner ? owner : "", owner ? ": " : "", what ? what : "",
             what ? ": " : "");
}

static int failv(struct sl_err *err, const char *file, int line, int col, const char *owner,
                 const char *what, const char *fmt, va_list ap)
{
    char head[512], msg[1536];

    prefix(head, sizeof head, owner, what);
    vsnprintf(msg, sizeof msg, fmt, ap);
    return sl_yaml_err(err, file, line, col, "%s%s", head, msg);
}

static int fail(struct sl_err *err, const char *file, int line, int col, const char *owner,
                const char *what, const char *fmt, ...) __attribute__((format(printf, 7, 8)));

static int fail(struct sl_err *err, const char *file, int line, int col, const char *owner,
                const char *what, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    failv(err, file, line, col, owner, what, fmt, ap);
    va_end(ap);
    return -1;
}

/* Where a value is being put, for messages. */
struct site {
    const char *file, *owner, *what;
    const struct sl_cfg_key *k;
    struct sl_err *err;
};

/* "key \"x\": expected <expected>, found <n described>" at the node. */
static int wrong(const struct site *s, const struct sl_yaml_node *n, const char *expected)
{
    char found[96];

    sl_yaml_describe(n, found, sizeof found);
    return fail(s->err, s->file, n->line, n->col, s->owner, s->what,
                "key \"%s\": expected %s, found %s", s->k->key, expected, found);
}

/* ---- one scalar per type ---- */

static int parse_int(const char *v, long *out)
{
    const char *p = v;
    char *end;

    if (*p == '-' || *p == '+')
        p++;
    if (*p < '0' || *p > '9')
        return -1;
    errno = 0;
    long x = strtol(v, &end, 10);
    if (errno || *end)
        return -1;
    *out = x;
    return 0;
}

/* A decimal number: [-+]digits[.digits][e[-+]digits] (or .5). No hex, no
 * inf/nan: what a person writes in a config. */
static int parse_double(const char *v, double *out)
{
    const char *p = v;
    size_t digits = 0;
    char *end;

    if (*p == '-' || *p == '+')
        p++;
    for (; *p >= '0' && *p <= '9'; p++)
        digits++;
    if (*p == '.')
        for (p++; *p >= '0' && *p <= '9'; p++)
            digits++;
    if (!digits)
        return -1;
    if (*p == 'e' || *p == 'E') {
        p++;
        if (*p == '-' || *p == '+')
            p++;
        if (*p < '0' || *p > '9')
            return -1;
        while (*p >= '0' && *p <= '9')
            p++;
    }
    if (*p)
        return -1;
    errno = 0;
    double x = strtod(v, &end);
    if (*end || !isfinite(x))
        return -1;
    *out = x;
    return 0;
}

static int parse_bool(const char *v, int *out)
{
    static const char *const yes[] = {"true", "yes", "on"}, *const no[] = {"false", "no", "off"};

    for (size_t i = 0; i < 3; i++) {
        if (strcasecmp(v, yes[i]) == 0) {
            *out = 1;
            return 0;
        }
        if (strcasecmp(v, no[i]) == 0) {
            *out = 0;
            return 0;
        }
    }
    return -1;
}

static int enum_error(const struct site *s, const struct sl_yaml_node *n)
{
    struct sl_buf names;
    char found[96], hint[128] = "";
    size_t count = 0;

    sl_buf_init(&names);
    for (const char *const *c = s->k->choices; c && *c; c++, count++)
        sl_buf_printf(&names, "%s%s", count ? ", " : "", *c);
    if (names.oom) {
        sl_buf_free(&names);
        return sl_yaml_nomem(s->err, s->file);
    }
    long best = n->type == SL_YAML_SCALAR && !n->is_null
                    ? sl_yaml_closest(n->value, s->k->choices, count) : -1;
    if (best >= 0)
        snprintf(hint, sizeof hint, "; did you mean \"%s\"?", s->k->choices[best]);
    sl_yaml_describe(n, found, sizeof found);
    fail(s->err, s->file, n->line, n->col, s->owner, s->what,
         "key \"%s\": expected one of %s, found %s%s", s->k->key,
         names.data ? names.data : "", found, hint);
    sl_buf_free(&names);
    return -1;
}

static int fill_strlist(const struct site *s, const struct sl_yaml_node *n, struct sl_strlist *l)
{
    sl_strlist_free(l);
    if (n->type == SL_YAML_MAP || (n->type == SL_YAML_SCALAR && n->is_null))
        return wrong(s, n, "a list of strings or one string");
    if (n->type == SL_YAML_SCALAR) {
        l->items = sl_calloc(1, sizeof *l->items);
        if (!l->items || !(l->items[0] = sl_strdup(n->value))) {
            sl_free(l->items);
            l->items = NULL;
            return sl_yaml_nomem(s->err, s->file);
        }
        l->n = 1;
        return 0;
    }
    if (n->nitems == 0)
        return 0;
    l->items = sl_calloc(n->nitems, sizeof *l->items);
    if (!l->items)
        return sl_yaml_nomem(s->err, s->file);
    for (size_t i = 0; i < n->nitems; i++) {
        const struct sl_yaml_node *it = n->items[i];
        if (it->type != SL_YAML_SCALAR || it->is_null) {
            char found[96];
            sl_yaml_describe(it, found, sizeof found);
            return fail(s->err, s->file, it->line, it->col, s->owner, s->what,
                        "key \"%s\": item %zu: expected a string, found %s", s->k->key, i + 1,
                        found);
        }
        l->items[i] = sl_strdup(it->value);
        if (!l->items[i])
            return sl_yaml_nomem(s->err, s->file);
        l->n = i + 1;
    }
    return 0;
}

/* Put the value of node n into ctx for key k. n is not a plain null. */
static int fill_one(const struct site *s, void *ctx, const struct sl_yaml_node *n)
{
    char *field = (char *)ctx + s->k->offset;
    const char *v = n->type == SL_YAML_SCALAR ? n->value : NULL;

    switch (s->k->type) {
    case SL_CFG_STR: {
        if (!v)
            return wrong(s, n, "a string");
        if (s->k->required && !*v)
            return wrong(s, n, "a non-empty string");
        char *copy = sl_strdup(v);
        if (!copy)
            return sl_yaml_nomem(s->err, s->file);
        sl_free(*(char **)field);
        *(char **)field = copy;
        return 0;
    }
    case SL_CFG_INT: {
        long x;
        if (!v || parse_int(v, &x) < 0)
            return wrong(s, n, "a whole number");
        *(long *)field = x;
        return 0;
    }
    case SL_CFG_DOUBLE: {
        double x;
        if (!v || parse_double(v, &x) < 0)
            return wrong(s, n, "a number");
        *(double *)field = x;
        return 0;
    }
    case SL_CFG_BOOL: {
        int x;
        if (!v || parse_bool(v, &x) < 0)
            return wrong(s, n, "true or false");
        *(int *)field = x;
        return 0;
    }
    case SL_CFG_DURATION: {
        double x;
        if (!v || sl_duration_parse(v, &x) < 0)
            return wrong(s, n, "a duration like \"10m\"");
        *(double *)field = x;
        return 0;
    }
    case SL_CFG_SIZE: {
        int64_t x;
        if (!v || sl_size_parse(v, &x) < 0)
            return wrong(s, n, "a size like \"1GB\" or \"512MB\"");
        *(int64_t *)(void *)field = x;
        return 0;
    }
    case SL_CFG_STRLIST:
        return fill_strlist(s, n, (struct sl_strlist *)(void *)field);
    case SL_CFG_CHAR:
        if (v && strlen(v) == 1 && (unsigned char)v[0] < 0x80) {
            *field = v[0];
            return 0;
        }
        if (v && strcmp(v, "\\t") == 0) {
            *field = '\t';
            return 0;
        }
        return wrong(s, n, "one character (or \"\\t\")");
    case SL_CFG_ENUM:
        for (int i = 0; v && s->k->choices && s->k->choices[i]; i++) {
            if (strcmp(v, s->k->choices[i]) == 0) {
                *(int *)field = i;
                return 0;
            }
        }
        return enum_error(s, n);
    }
    return sl_err_set(s->err, SL_E_INTERNAL, "config key \"%s\" has an unknown type %d",
                      s->k->key, (int)s->k->type);
}

/* Apply k's default (YAML text): a plain scalar, or a flow collection. */
static int fill_default(const struct site *s, void *ctx, const struct sl_yaml_node *map)
{
    const char *def = s->k->def;
    int rc;

    if (def[0] == '[' || def[0] == '{') {
        struct sl_yaml_doc *doc = NULL;
        struct sl_err e;
        sl_err_clear(&e);
        if (sl_yaml_load_mem("<default>", def, strlen(def), &doc, &e) < 0)
            return e.code == SL_E_NOMEM ? sl_yaml_nomem(s->err, s->file)
                                        : sl_err_set(s->err, SL_E_INTERNAL,
                                                     "default \"%s\" of key \"%s\" is not YAML: "
                                                     "%s", def, s->k->key, e.msg);
        rc = doc->root ? fill_one(s, ctx, doc->root) : 0;
        sl_yaml_free(doc);
    } else {
        struct sl_yaml_node n = {0};
        n.type = SL_YAML_SCALAR;
        n.style = SL_YAML_PLAIN;
        n.line = map ? map->line : 0;
        n.col = map ? map->col : 0;
        n.value = (char *)def;
        n.len = strlen(def);
        rc = fill_one(s, ctx, &n);
    }
    if (rc < 0 && s->err->code == SL_E_CONFIG)
        sl_err_set(s->err, SL_E_INTERNAL, "default \"%s\" of key \"%s\" does not fit its type",
                   def, s->k->key);
    return rc;
}

static const struct sl_cfg_key *find_key(const struct sl_cfg_key *keys, const char *name)
{
    for (const struct sl_cfg_key *k = keys; k && k->key; k++)
        if (strcmp(k->key, name) == 0)
            return k;
    return NULL;
}

static int is_also(const char *const *also, const char *name)
{
    for (const char *const *a = also; a && *a; a++)
        if (strcmp(*a, name) == 0)
            return 1;
    return 0;
}

static int unknown_key(const struct sl_cfg_key *keys, const char *const *also,
                       const struct sl_yaml_entry *e, const char *file, const char *owner,
                       const char *what, struct sl_err *err)
{
    struct sl_buf names;
    const char **list = NULL;
    size_t n = 0, cap = 0;
    const char *where = what ? what : owner;
    char hint[160] = "";

    for (const struct sl_cfg_key *k = keys; k && k->key; k++)
        cap++;
    for (const char *const *a = also; a && *a; a++)
        cap++;
    list = sl_calloc(cap ? cap : 1, sizeof *list);
    if (!list)
        return sl_yaml_nomem(err, file);
    for (const struct sl_cfg_key *k = keys; k && k->key; k++)
        list[n++] = k->key;
    for (const char *const *a = also; a && *a; a++)
        list[n++] = *a;
    sl_buf_init(&names);
    for (size_t i = 0; i < n; i++)
        sl_buf_printf(&names, "%s%s", i ? ", " : "", list[i]);
    long best = sl_yaml_closest(e->key, list, n);
    if (best >= 0)
        snprintf(hint, sizeof hint, "; did you mean \"%s\"?", list[best]);
    if (names.oom) {
        sl_buf_free(&names);
        sl_free(list);
        return sl_yaml_nomem(err, file);
    }
    sl_yaml_err(err, file, e->line, e->col, "unknown key \"%s\"%s%s (%s%s)%s", e->key,
                where ? " in " : "", where ? where : "",
                n ? "expected one of: " : "no keys are accepted here",
                names.data ? names.data : "", hint);
    sl_buf_free(&names);
    sl_free(list);
    return -1;
}

int sl_cfg_fill_ex(const struct sl_cfg_key *keys, void *ctx, const struct sl_yaml_node *map,
                   const char *file, const char *owner, const char *what,
                   const char *const *also, struct sl_err *err)
{
    struct site s = {file, owner, what, NULL, err};
    int empty = !map || (map->type == SL_YAML_SCALAR && map->is_null);
    int line = map ? map->line : 0, col = map ? map->col : 0;

    if (!empty && map->type != SL_YAML_MAP) {
        char found[96];
        sl_yaml_describe(map, found, sizeof found);
        return fail(err, file, line, col, owner, what, "expected a mapping of keys, found %s",
                    found);
    }
    if (!empty) {
        for (size_t i = 0; i < map->nentries; i++) {
            const struct sl_yaml_entry *e = &map->entries[i];
            const struct sl_cfg_key *k = find_key(keys, e->key);
            if (!k) {
                if (is_also(also, e->key))
                    continue;
                return unknown_key(keys, also, e, file, owner, what, err);
            }
            if (e->value->type == SL_YAML_SCALAR && e->value->is_null)
                continue;
            s.k = k;
            if (fill_one(&s, ctx, e->value) < 0)
                return -1;
        }
    }
    for (const struct sl_cfg_key *k = keys; k && k->key; k++) {
        const struct sl_yaml_entry *e = empty ? NULL : sl_yaml_entry_of(map, k->key);
        if (e && !(e->value->type == SL_YAML_SCALAR && e->value->is_null))
            continue;
        if (k->required) {
            if (e)
                return fail(err, file, e->line, e->col, owner, what,
                            "key \"%s\" needs a value", k->key);
            return fail(err, file, line, col, owner, what, "missing required key \"%s\"",
                        k->key);
        }
        if (k->def) {
            s.k = k;
            if (fill_default(&s, ctx, map) < 0)
                return -1;
        }
    }
    return 0;
}

int sl_cfg_fill(const struct sl_cfg_key *keys, void *ctx, const struct sl_yaml_node *map,
                const char *file, struct sl_err *err)
{
    return sl_cfg_fill_ex(keys, ctx, map, file, NULL, NULL, NULL, err);
}

void sl_cfg_free(const struct sl_cfg_key *keys, void *ctx)
{
    if (!ctx)
        return;
    for (const struct sl_cfg_key *k = keys; k && k->key; k++) {
        char *field = (char *)ctx + k->offset;
        if (k->type == SL_CFG_STR) {
            sl_free(*(char **)field);
            *(char **)field = NULL;
        } else if (k->type == SL_CFG_STRLIST) {
            sl_strlist_free((struct sl_strlist *)(void *)field);
        }
    }
}

/* ---- values as text (`sluice check`) ---- */

/* Seconds as a config writes them: 600 -> "10m", 5400 -> "1h30m". */
static void duration_text(double secs, char *out, size_t cap)
{
    static const struct { long long secs; char unit; } units[] = {
        {86400, 'd'}, {3600, 'h'}, {60, 'm'}, {1, 's'},
    };
    if (!(secs > 0) || secs > 1e15 || secs != (double)(long long)secs) {
        snprintf(out, cap, "%gs", secs);
        return;
    }
    long long v = (long long)secs;
    size_t used = 0;
    out[0] = '\0';
    for (size_t i = 0; i < sizeof units / sizeof units[0] && used < cap; i++) {
        if (v < units[i].secs)
            continue;
        int w = snprintf(out + used, cap - used, "%lld%c", v / units[i].secs, units[i].unit);
        if (w < 0)
            break;
        used += (size_t)w;
        v %= units[i].secs;
    }
}

static void value_text(const struct sl_cfg_key *k, const void *ctx, char *out, size_t cap)
{
    const char *p = (const char *)ctx + k->offset;
    out[0] = '\0';
    switch (k->type) {
    case SL_CFG_STR: {
        const char *s = *(char *const *)(const void *)p;
        snprintf(out, cap, "%s", s ? s : "");
        break;
    }
    case SL_CFG_INT: snprintf(out, cap, "%ld", *(const long *)(const void *)p); break;
    case SL_CFG_DOUBLE: snprintf(out, cap, "%g", *(const double *)(const void *)p); break;
    case SL_CFG_DURATION: duration_text(*(const double *)(const void *)p, out, cap); break;
    case SL_CFG_SIZE: sl_size_text(*(const int64_t *)(const void *)p, out, cap); break;
    case SL_CFG_BOOL: snprintf(out, cap, "%s", *(const int *)(const void *)p ? "true" : "false");
        break;
    case SL_CFG_CHAR:
        if (*p == '\t')
            snprintf(out, cap, "\\t");
        else if (*p)
            snprintf(out, cap, "%c", *p);
        break;
    case SL_CFG_ENUM: {
        int i = *(const int *)(const void *)p;
        size_t n = 0;
        while (k->choices && k->choices[n])
            n++;
        snprintf(out, cap, "%s", i >= 0 && (size_t)i < n ? k->choices[i] : "");
        break;
    }
    case SL_CFG_STRLIST: {
        const struct sl_strlist *l = (const struct sl_strlist *)(const void *)p;
        size_t used = 0;
        for (size_t i = 0; i < l->n && used < cap; i++) {
            int w = snprintf(out + used, cap - used, "%s%s", i ? ", " : "[", l->items[i]);
            if (w < 0)
                break;
            used += (size_t)w;
        }
        if (l->n && used < cap)
            snprintf(out + used, cap - used, "]");
        break;
    }
    }
}

/* k's default filled into a zeroed scratch context (zeroed alone when k
 * has no default), as text. */
static void default_text(const struct sl_cfg_key *k, char *out, size_t cap)
{
    struct sl_cfg_key one[2];
    struct sl_err e;
    /* room for the widest field (a strlist) at k's offset */
    char *tmp = sl_calloc(1, k->offset + sizeof(struct sl_strlist) + sizeof(double));

    out[0] = '\0';
    if (!tmp)
        return;
    memset(one, 0, sizeof one);
    one[0] = *k;
    sl_err_clear(&e);
    struct site s = {"<default>", NULL, NULL, k, &e};
    if (!k->def || fill_default(&s, tmp, NULL) == 0)
        value_text(k, tmp, out, cap);
    sl_cfg_free(one, tmp);
    sl_free(tmp);
}

void sl_cfg_value_text(const struct sl_cfg_key *k, const void *ctx, char *out, size_t cap)
{
    if (!cap)
        return;
    if (ctx)
        value_text(k, ctx, out, cap);
    else
        default_text(k, out, cap);
}

int sl_cfg_is_default(const struct sl_cfg_key *k, const void *ctx)
{
    char now[1024], def[1024];

    if (!ctx)
        return 1;
    if (k->required)
        return 0;   /* given, necessarily */
    value_text(k, ctx, now, sizeof now);
    default_text(k, def, sizeof def);
    return strcmp(now, def) == 0;
}
