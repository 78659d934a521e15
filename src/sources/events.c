/* sources/events.c: the events source but for its transports (see events.h):
 * reading bodies, mapping events onto columns, event batches and the source
 * ops the engine calls on them.
 *
 * The engine reads an event batch as JSON lines (formats/jsonl.c over a
 * memory stream), one flat object per event holding exactly the mapped
 * columns, each value as the event wrote it (numbers keep their digits). So
 * every check the engine makes of a row (types, keys, rules) applies to an
 * event as to a line of a drop; what fails sends that one event, raw as it
 * came, to the dead letter table (engine/deadletter.c). */
#include "sources/events.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "base/json.h"
#include "base/mem.h"
#include "base/log.h"
#include "model/protect.h"

/* ---- bodies ---- */

/* Line and column (1-based, columns in code points) of byte `off`. */
static void where(const char *s, size_t off, long *line, long *col)
{
    long l = 1, c = 1;
    for (size_t i = 0; i < off; i++) {
        if (s[i] == '\n') {
            l++;
            c = 1;
        } else if (((unsigned char)s[i] & 0xC0) != 0x80) {
            c++;
        }
    }
    *line = l;
    *col = c;
}

__attribute__((format(printf, 5, 6)))
static int bad(const char *body, size_t off, char *why, size_t whylen, const char *fmt, ...)
{
    char msg[512];
    long line, col;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    where(body, off, &line, &col);
    snprintf(why, whylen, "%ld:%ld: %s", line, col, msg);
    return -1;
}

static int push(struct sl_event_slice **v, size_t *n, size_t *cap, const char *s, size_t len)
{
    if (*n == *cap) {
        size_t c = *cap ? *cap * 2 : 64;
        struct sl_event_slice *nv = sl_realloc(*v, c * sizeof *nv);
        if (!nv)
            return -1;
        *v = nv;
        *cap = c;
    }
    (*v)[*n].s = s;
    (*v)[(*n)++].n = len;
    return 0;
}

int sl_events_split(const char *body, size_t n, struct sl_event_slice **out, size_t *nout,
                    char *why, size_t whylen)
{
    struct sl_event_slice *v = NULL;
    size_t nv = 0, cap = 0, off = 0;
    struct sl_json_token tk;
    char jwhy[160];
    size_t i = sl_json_skip_ws(body, n, 0);

    *out = NULL;
    *nout = 0;
    if (i == n) {
        snprintf(why, whylen, "empty body: send a JSON object, an array of objects, or NDJSON");
        return -1;
    }
    if (body[i] == '[') {
        if (sl_json_validate(body, n, &off, jwhy, sizeof jwhy) < 0)
            return bad(body, off, why, whylen, "invalid JSON: %s", jwhy);
        size_t j = sl_json_skip_ws(body, n, i + 1);
        size_t k = 0;
        while (j < n && body[j] != ']') {
            sl_json_scan(body + j, n - j, &tk, NULL, NULL, 0);
            k++;
            if (tk.kind != SL_JSON_OBJECT) {
                sl_free(v);
                return bad(body, j, why, whylen, "element %zu of the array is a %s, not an "
                           "event object", k, sl_json_kind_name(tk.kind));
            }
            if (push(&v, &nv, &cap, body + j, tk.len) < 0)
                goto oom;
            j = sl_json_skip_ws(body, n, j + tk.len);
            if (j < n && body[j] == ',')
                j = sl_json_skip_ws(body, n, j + 1);
        }
        *out = v;
        *nout = nv;
        return 0;
    }
    /* NDJSON when the first line is a whole object and more follows */
    const char *nl = memchr(body + i, '\n', n - i);
    int ndjson = 0;
    if (body[i] == '{' && nl) {
        size_t end = (size_t)(nl - body);
        ndjson = sl_json_validate(body + i, end - i, NULL, NULL, 0) == 0 &&
                 sl_json_skip_ws(body, n, end) < n;
    }
    if (!ndjson) {
        if (sl_json_validate(body, n, &off, jwhy, sizeof jwhy) < 0)
            return bad(body, off, why, whylen, "invalid JSON: %s", jwhy);
        sl_json_scan(body + i, n - i, &tk, NULL, NULL, 0);
        if (tk.kind != SL_JSON_OBJECT)
            return bad(body, i, why, whylen, "the body is a JSON %s: send an event object, an "
                       "array of them, or NDJSON", sl_json_kind_name(tk.kind));
        if (push(&v, &nv, &cap, body + i, tk.len) < 0)
            goto oom;
        *out = v;
        *nout = nv;
        return 0;
    }
    for (size_t ls = 0; ls < n;) {
        const char *e = memchr(body + ls, '\n', n - ls);
        size_t le = e ? (size_t)(e - body) : n;
        size_t a = sl_json_skip_ws(body, le, ls);
        if (a < le) {
            size_t z = le;
            while (z > a && (body[z - 1] == ' ' || body[z - 1] == '\t' || body[z - 1] == '\r'))
                z--;
            if (sl_json_validate(body + a, z - a, &off, jwhy, sizeof jwhy) < 0) {
                sl_free(v);
                return bad(body, a + off, why, whylen, "invalid JSON: %s", jwhy);
            }
            if (body[a] != '{') {
                sl_json_scan(body + a, z - a, &tk, NULL, NULL, 0);
                sl_free(v);
                return bad(body, a, why, whylen, "the line is a JSON %s, not an event object",
                           sl_json_kind_name(tk.kind));
            }
            if (push(&v, &nv, &cap, body + a, z - a) < 0)
                goto oom;
        }
        ls = le + 1;
    }
    *out = v;
    *nout = nv;
    return 0;
oom:
    sl_free(v);
    snprintf(why, whylen, "out of memory");
    return -1;
}

/* ---- paths ---- */

struct seg {
    char *key;
    size_t len;
    long index;             /* >= 0 when the segment is a number */
};

struct path {
    struct seg *segs;
    size_t n;
};

static void path_free(struct path *p)
{
    for (size_t i = 0; i < p->n; i++)
        sl_free(p->segs[i].key);
    sl_free(p->segs);
    p->segs = NULL;
    p->n = 0;
}

/* "order.items.0.sku" -> segments; -1 when a segment is empty. */
static int path_parse(const char *s, struct path *out)
{
    memset(out, 0, sizeof *out);
    size_t nseg = 1;
    for (const char *c = s; *c; c++)
        nseg += *c == '.';
    out->segs = sl_calloc(nseg, sizeof *out->segs);
    if (!out->segs)
        return -2;
    for (const char *a = s;; ) {
        const char *dot = strchr(a, '.');
        size_t len = dot ? (size_t)(dot - a) : strlen(a);
        if (!len) {
            path_free(out);
            return -1;
        }
        struct seg *g = &out->segs[out->n++];
        if (!(g->key = sl_strndup(a, len))) {
            path_free(out);
            return -2;
        }
        g->len = len;
        g->index = -1;
        if (len < 10 && strspn(a, "0123456789") >= len)
            g->index = strtol(g->key, NULL, 10);
        if (!dot)
            break;
        a = dot + 1;
    }
    return 0;
}

/* Does the key token k[0..klen) (quotes included) name segment g? */
static int key_is(const char *k, size_t klen, int escaped, const struct seg *g,
                  struct sl_buf *scratch)
{
    if (!escaped)
        return klen - 2 == g->len && memcmp(k + 1, g->key, g->len) == 0;
    sl_buf_reset(scratch);
    if (sl_json_unescape(k + 1, klen - 2, scratch, NULL, NULL, 0) < 0 || scratch->oom)
        return 0;
    return scratch->len == g->len && memcmp(scratch->data, g->key, g->len) == 0;
}

/* The value at segment g inside JSON value v[0..n) (checked JSON, starting
 * at its first byte): 1 with *out, 0 when there is none. */
static int step(const char *v, size_t n, const struct seg *g, struct sl_event_slice *out,
                struct sl_buf *scratch)
{
    struct sl_json_token tk;
    size_t i;
    long k = 0;

    if (n == 0 || (v[0] != '{' && v[0] != '['))
        return 0;
    int obj = v[0] == '{';
    if (!obj && g->index < 0)
        return 0;
    i = sl_json_skip_ws(v, n, 1);
    while (i < n && v[i] != '}' && v[i] != ']') {
        int hit;
        if (obj) {
            if (sl_json_scan(v + i, n - i, &tk, NULL, NULL, 0) < 0)
                return 0;
            hit = key_is(v + i, tk.len, tk.escaped, g, scratch);
            i = sl_json_skip_ws(v, n, i + tk.len);
            i = sl_json_skip_ws(v, n, i + 1);      /* the ':' */
        } else {
            hit = k++ == g->index;
        }
        if (sl_json_scan(v + i, n - i, &tk, NULL, NULL, 0) < 0)
            return 0;
        if (hit) {
            out->s = v + i;
            out->n = tk.len;
            return 1;
        }
        i = sl_json_skip_ws(v, n, i + tk.len);
        if (i < n && v[i] == ',')
            i = sl_json_skip_ws(v, n, i + 1);
    }
    return 0;
}

static int lookup(const char *v, size_t n, const struct path *p, size_t from,
                  struct sl_event_slice *out, struct sl_buf *scratch)
{
    struct sl_event_slice cur = {v, n};
    for (size_t i = from; i < p->n; i++)
        if (!step(cur.s, cur.n, &p->segs[i], &cur, scratch))
            return 0;
    *out = cur;
    return 1;
}

/* ---- mapping ---- */

struct mcol {
    char *name;
    enum sl_type type;
    struct path path;       /* empty for the event column */
    int whole;              /* the event column: the whole event */
    char *key_json;         /* "\"name\":" */
    size_t key_len;
};

/* A protected column (protect:) and where its value is in an event. */
struct pcol {
    struct path path;
    enum sl_protect_kind kind;
};

struct sl_event_map {
    struct mcol *cols;
    size_t n;
    struct path id;         /* the event id's path (n = 0: none) */
    struct sl_schema schema;
    struct pcol *prot;      /* protect: each event's own text is protected */
    size_t nprot;
    const struct sl_pipeline_cfg *p;    /* its key */
};

void sl_event_map_free(struct sl_event_map *m)
{
    if (!m)
        return;
    for (size_t i = 0; i < m->n; i++) {
        sl_free(m->cols[i].name);
        path_free(&m->cols[i].path);
        sl_free(m->cols[i].key_json);
    }
    sl_free(m->cols);
    path_free(&m->id);
    sl_schema_free(&m->schema);
    for (size_t i = 0; i < m->nprot; i++)
        path_free(&m->prot[i].path);
    sl_free(m->prot);
    sl_free(m);
}

static void json_string(struct sl_buf *b, const char *s)
{
    sl_buf_putc(b, '"');
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\')
            sl_buf_printf(b, "\\%c", *p);
        else if (*p < 0x20)
            sl_buf_printf(b, "\\u%04x", *p);
        else
            sl_buf_putc(b, (char)*p);
    }
    sl_buf_putc(b, '"');
}

static const char *path_of(const struct sl_table_cfg *t, const char *col)
{
    for (size_t i = 0; i < t->npaths; i++)
        if (strcmp(t->paths[i].name, col) == 0)
            return t->paths[i].path;
    return NULL;
}

static const struct sl_column_cfg *declared(const struct sl_table_cfg *t, const char *name)
{
    for (size_t i = 0; i < t->ncolumns; i++)
        if (strcmp(t->columns[i].name, name) == 0)
            return &t->columns[i];
    return NULL;
}

static long find_col(const struct sl_event_map *m, const char *name)
{
    for (size_t i = 0; i < m->n; i++)
        if (strcmp(m->cols[i].name, name) == 0)
            return (long)i;
    return -1;
}

/* Add column `name` from `path` (NULL: the whole event). */
static int add_col(struct sl_event_map *m, const char *name, enum sl_type type, const char *path,
                   struct sl_err *err)
{
    struct mcol *c = &m->cols[m->n];
    struct sl_buf k;
    memset(c, 0, sizeof *c);
    if (!(c->name = sl_strdup(name)))
        return sl_err_nomem(err);
    m->n++;
    c->type = type;
    c->whole = path == NULL;
    if (path) {
        int rc = path_parse(path, &c->path);
        if (rc == -2)
            return sl_err_nomem(err);
        if (rc < 0)
            return sl_err_set(err, SL_E_CONFIG, "column \"%s\": path \"%s\" has an empty part",
                              name, path);
    }
    sl_buf_init(&k);
    json_string(&k, name);
    sl_buf_putc(&k, ':');
    if (k.oom) {
        sl_buf_free(&k);
        return sl_err_nomem(err);
    }
    c->key_len = k.len;
    c->key_json = sl_buf_steal(&k);
    if (sl_schema_add(&m->schema, name, type) < 0)
        return sl_err_nomem(err);
    return 0;
}

int sl_event_map_new(const struct sl_event_cfg *ec, const struct sl_table_cfg *t,
                     struct sl_event_map **out, struct sl_err *err)
{
    struct sl_event_map *m = sl_calloc(1, sizeof *m);
    size_t max = t->ncolumns + t->npaths + t->primary_key.n + 1;
    const char *idcol = ec->event_id && t->primary_key.n ? t->primary_key.items[0] : NULL;

    *out = NULL;
    if (!m || !(m->cols = sl_calloc(max, sizeof *m->cols))) {
        sl_free(m);
        return sl_err_nomem(err);
    }
#define COL_PATH(name) ((idcol && strcmp((name), idcol) == 0) ? ec->event_id \
                        : path_of(t, (name)) ? path_of(t, (name)) : (name))
    /* declared columns in their order, then columns only in paths, then the
     * key, then the whole event */
    for (size_t i = 0; i < t->ncolumns; i++) {
        const char *nm = t->columns[i].name;
        if (ec->event_column && strcmp(nm, ec->event_column) == 0)
            continue;
        if (add_col(m, nm, t->columns[i].type, COL_PATH(nm), err) < 0)
            goto fail;
    }
    for (size_t i = 0; i < t->npaths; i++) {
        const struct sl_protect_col *pc = sl_protect_find(t, t->paths[i].name,
                                                          strlen(t->paths[i].name));
        if (pc && pc->kind == SL_PROTECT_DROP)
            continue;       /* never stored: its path only says what to blank */
        if (find_col(m, t->paths[i].name) < 0 &&
            add_col(m, t->paths[i].name, SL_T_TEXT, COL_PATH(t->paths[i].name), err) < 0)
            goto fail;
    }
    if (t->nprotect && !(m->prot = sl_calloc(t->nprotect, sizeof *m->prot))) {
        sl_err_nomem(err);
        goto fail;
    }
    for (size_t i = 0; i < t->nprotect; i++) {
        const char *nm = t->protect[i].name;
        int rc = path_parse(COL_PATH(nm), &m->prot[i].path);
        if (rc < 0) {
            sl_err_set(err, rc == -2 ? SL_E_NOMEM : SL_E_CONFIG, "protect: column \"%s\": "
                       "path \"%s\" has an empty part", nm, COL_PATH(nm));
            goto fail;
        }
        m->prot[i].kind = t->protect[i].kind;
        m->nprot = i + 1;
    }
    for (size_t i = 0; i < t->primary_key.n; i++) {
        const char *nm = t->primary_key.items[i];
        if (find_col(m, nm) < 0 && add_col(m, nm, SL_T_TEXT, COL_PATH(nm), err) < 0)
            goto fail;
    }
#undef COL_PATH
    if (ec->event_column && ec->event_column[0] && find_col(m, ec->event_column) >= 0) {
        sl_err_set(err, SL_E_CONFIG, "column \"%s\" keeps the whole event (event_column), so "
                   "it cannot be a key or have a path too", ec->event_column);
        goto fail;
    }
    if (ec->event_column && ec->event_column[0] &&
        add_col(m, ec->event_column, SL_T_JSON, NULL, err) < 0)
        goto fail;
    if (ec->event_id) {
        int rc = path_parse(ec->event_id, &m->id);
        if (rc < 0) {
            sl_err_set(err, rc == -2 ? SL_E_NOMEM : SL_E_CONFIG,
                       rc == -2 ? "out of memory" : "event_id \"%s\" has an empty part",
                       ec->event_id);
            goto fail;
        }
    }
    *out = m;
    return 0;
fail:
    sl_event_map_free(m);
    return -1;
}

int sl_event_validate(const struct sl_event_cfg *ec, const struct sl_pipeline_cfg *p,
                      const char *cfgfile, struct sl_err *err)
{
    const struct sl_table_cfg *t = &p->tables[0];
    struct sl_event_map *m = NULL;

#define AT(pos) cfgfile, (pos).line, (pos).col, p->name
    if (p->ntables != 1)
        return sl_err_set(err, SL_E_CONFIG, "%s:%d:%d: pipeline \"%s\": an event source loads "
                          "one table (found %zu); use a pipeline per table", AT(p->pos),
                          p->ntables);
    if (t->kind == SL_KIND_SNAPSHOT)
        return sl_err_set(err, SL_E_CONFIG, "%s:%d:%d: pipeline \"%s\": table \"%s\": events "
                          "load into append (or versioned) tables, not snapshot", AT(t->pos),
                          t->name);
    if (ec->event_id && t->primary_key.n != 1)
        return sl_err_set(err, SL_E_CONFIG, "%s:%d:%d: pipeline \"%s\": table \"%s\": "
                          "event_id fills the primary key, so the table needs primary_key: "
                          "[one column] (found %zu)", AT(t->pos), t->name, t->primary_key.n);
    if (ec->event_id && path_of(t, t->primary_key.items[0]))
        return sl_err_set(err, SL_E_CONFIG, "%s:%d:%d: pipeline \"%s\": table \"%s\": column "
                          "\"%s\" is the event id (event_id: %s) and has a path in paths too: "
                          "keep one", AT(t->pos), t->name, t->primary_key.items[0],
                          ec->event_id);
    if (ec->timezone && !sl_tz_valid(ec->timezone))
        return sl_err_set(err, SL_E_CONFIG, "%s:%d:%d: pipeline \"%s\": unknown time zone "
                          "\"%s\" (use a tz database name such as America/New_York)",
                          AT(p->pos), ec->timezone);
    if (ec->event_column && ec->event_column[0]) {
        const struct sl_column_cfg *d = declared(t, ec->event_column);
        if (d && d->type != SL_T_JSON && d->type != SL_T_TEXT)
            return sl_err_set(err, SL_E_CONFIG, "%s:%d:%d: pipeline \"%s\": table \"%s\": "
                              "column \"%s\" keeps the whole event (event_column), so it is "
                              "json, not %s", AT(t->pos), t->name, ec->event_column,
                              sl_type_name(d->type));
        for (size_t i = 0; i < t->npaths; i++)
            if (strcmp(t->paths[i].name, ec->event_column) == 0)
                return sl_err_set(err, SL_E_CONFIG, "%s:%d:%d: pipeline \"%s\": paths: "
                                  "column \"%s\" keeps the whole event (event_column); it "
                                  "has no path", AT(t->paths[i].pos), ec->event_column);
    }
    for (size_t i = 0; i < t->npaths; i++) {
        struct path pp;
        int rc = path_parse(t->paths[i].path, &pp);
        path_free(&pp);
        if (rc == -1)
            return sl_err_set(err, SL_E_CONFIG, "%s:%d:%d: pipeline \"%s\": paths: column "
                              "\"%s\": \"%s\" has an empty part (write a.b.c)",
                              AT(t->paths[i].pos), t->paths[i].name, t->paths[i].path);
    }
    if (sl_event_map_new(ec, t, &m, err) < 0) {
        sl_err_prefix(err, "%s:%d:%d: pipeline \"%s\"", AT(p->pos));
        return -1;
    }
#undef AT
    sl_event_map_free(m);
    return 0;
}

/* ---- protection: each event's own text ---- */

/* What sluice ends an event's text with where it keeps it protected (the
 * dead letter table, a held batch), so that replaying or releasing it does
 * not protect it again (a hash of a hash). Only trusted where sluice itself
 * wrote the text; an event as received is protected whatever it says. */
#define MARK ",\"_sluice_protected\":true}"
#define MARK_ONLY "{\"_sluice_protected\":true}"

struct edit {
    size_t off, len;        /* the value's bytes in the event */
    enum sl_protect_kind kind;
};

static int edit_cmp(const void *a, const void *b)
{
    const struct edit *x = a, *y = b;
    return x->off < y->off ? -1 : x->off > y->off;
}

/* The text of ev with its marker taken off: 1 when it had one. */
static int unmark(const char *ev, size_t *n)
{
    size_t len = *n, ml = strlen(MARK);
    while (len && (ev[len - 1] == ' ' || ev[len - 1] == '\n' || ev[len - 1] == '\r' ||
                   ev[len - 1] == '\t'))
        len--;
    if (len == strlen(MARK_ONLY) && memcmp(ev, MARK_ONLY, len) == 0) {
        *n = 1;     /* "{", closed by the caller */
        return 2;
    }
    if (len > ml && memcmp(ev + len - ml, MARK, ml) == 0) {
        *n = len - ml;
        return 1;
    }
    return 0;
}

/* The event ev[0..n) with the value at each protected column's path in its
 * protected form (a JSON string; a dropped one null), into out. `trusted`:
 * text sluice kept itself, whose marker says it is protected already (it is
 * then only unmarked). 0 = out holds it; -1 = out of memory or no key. */
static int protect_event(const struct sl_event_map *m, const char *ev, size_t n, int trusted,
                         struct sl_buf *out)
{
    struct edit found[16], *ed = found;
    struct sl_buf scratch, val;
    size_t ne = 0;
    int rc = 0;

    sl_buf_reset(out);
    if (trusted) {
        size_t len = n;
        int k = unmark(ev, &len);
        if (k) {
            sl_buf_append(out, ev, len);
            sl_buf_putc(out, '}');
            return out->oom ? -1 : 0;
        }
    }
    if (m->nprot > 16 && !(ed = sl_calloc(m->nprot, sizeof *ed)))
        return -1;
    sl_buf_init(&scratch);
    sl_buf_init(&val);
    size_t a = sl_json_skip_ws(ev, n, 0);
    for (size_t i = 0; i < m->nprot; i++) {
        struct sl_event_slice v;
        if (!lookup(ev + a, n - a, &m->prot[i].path, 0, &v, &scratch))
            continue;
        if (v.n == 4 && memcmp(v.s, "null", 4) == 0)
            continue;       /* NULL stays NULL */
        ed[ne++] = (struct edit){(size_t)(v.s - ev), v.n, m->prot[i].kind};
    }
    qsort(ed, ne, sizeof *ed, edit_cmp);
    size_t at = 0;
    for (size_t i = 0; i < ne && rc == 0; i++) {
        if (ed[i].off < at)
            continue;       /* inside a value protected whole already */
        sl_buf_append(out, ev + at, ed[i].off - at);
        at = ed[i].off + ed[i].len;
        if (ed[i].kind == SL_PROTECT_DROP) {
            sl_buf_append(out, "null", 4);
            continue;
        }
        /* a string's text, or any other value as written */
        const char *s = ev + ed[i].off;
        size_t sl = ed[i].len;
        sl_buf_reset(&scratch);
        if (s[0] == '"') {
            if (sl_json_unescape(s + 1, sl - 2, &scratch, NULL, NULL, 0) < 0)
                sl_buf_reset(&scratch);
            s = scratch.data ? scratch.data : "";
            sl = scratch.len;
        }
        sl_buf_reset(&val);
        if (sl_protect_value(m->p, ed[i].kind, s, sl, &val) < 0) {
            rc = -1;
            break;
        }
        sl_buf_putc(&val, '\0');
        if (val.oom) {
            rc = -1;
            break;
        }
        json_string(out, val.data);
    }
    sl_buf_append(out, ev + at, n - at);
    if (out->oom || scratch.oom || val.oom)
        rc = -1;
    sl_buf_free(&scratch);
    sl_buf_free(&val);
    if (ed != found)
        sl_free(ed);
    return rc;
}

/* A protected event's text as sluice keeps it, with the marker that says so
 * (into out, replacing what it held): 0, 1 when ev is no JSON object (its
 * fields cannot be found, so it cannot be kept), -1 out of memory. */
static int mark(const char *ev, size_t n, struct sl_buf *out)
{
    sl_buf_reset(out);
    size_t a = sl_json_skip_ws(ev, n, 0);
    while (n > a && (ev[n - 1] == ' ' || ev[n - 1] == '\t' || ev[n - 1] == '\n' ||
                     ev[n - 1] == '\r'))
        n--;
    if (n - a < 2 || ev[a] != '{' || ev[n - 1] != '}' ||
        sl_json_validate(ev + a, n - a, NULL, NULL, 0) < 0)
        return 1;
    if (sl_json_skip_ws(ev, n - 1, a + 1) == n - 1)
        sl_buf_puts(out, MARK_ONLY);
    else {
        sl_buf_append(out, ev + a, n - 1 - a);
        sl_buf_puts(out, MARK);
    }
    return out->oom ? -1 : 0;
}

int sl_event_protect(const struct sl_event_map *m, const char *ev, size_t n, int trusted,
                     struct sl_buf *out)
{
    if (!m->nprot)
        return 0;
    return protect_event(m, ev, n, trusted, out) < 0 ? -1 : 1;
}

/* ---- flattening ---- */

/* Copy JSON text with its line breaks (whitespace there) made spaces: one
 * event, one line. */
static void copy_oneline(struct sl_buf *b, const char *s, size_t n)
{
    size_t at = b->len;
    if (sl_buf_append(b, s, n) < 0)
        return;
    for (char *p = b->data + at, *e = b->data + b->len; (p = memchr(p, '\n', (size_t)(e - p)));)
        *p++ = ' ';
    for (char *p = b->data + at, *e = b->data + b->len; (p = memchr(p, '\r', (size_t)(e - p)));)
        *p++ = ' ';
}

int sl_event_flatten(const struct sl_event_map *m, const char *ev, size_t n,
                     struct sl_buf *line)
{
    struct sl_buf prot;
    sl_buf_init(&prot);
    int p = sl_event_protect(m, ev, n, 0, &prot);
    int rc = p < 0 ? -1 : p ? sl_event_flatten_protected(m, prot.data, prot.len, line)
                            : sl_event_flatten_protected(m, ev, n, line);
    sl_buf_free(&prot);
    return rc;
}

int sl_event_flatten_protected(const struct sl_event_map *m, const char *ev, size_t n,
                               struct sl_buf *line)
{
    struct sl_event_slice found[64], *vals = found;
    struct sl_buf scratch;
    struct sl_json_token tk;
    int rc = 0;

    sl_buf_init(&scratch);
    if (m->n > 64 && !(vals = sl_calloc(m->n, sizeof *vals)))
        return -1;
    for (size_t c = 0; c < m->n; c++)
        vals[c].s = NULL;
    /* trim: the event is one object */
    size_t a = sl_json_skip_ws(ev, n, 0);
    while (n > a && (ev[n - 1] == ' ' || ev[n - 1] == '\t' || ev[n - 1] == '\n' ||
                     ev[n - 1] == '\r'))
        n--;
    ev += a;
    n -= a;
    /* one pass over the top level finds every column's first step */
    size_t i = n ? sl_json_skip_ws(ev, n, 1) : 0;
    while (n && ev[0] == '{' && i < n && ev[i] != '}') {
        if (sl_json_scan(ev + i, n - i, &tk, NULL, NULL, 0) < 0)
            break;
        const char *key = ev + i;
        size_t klen = tk.len;
        int esc = tk.escaped;
        i = sl_json_skip_ws(ev, n, i + tk.len);
        i = sl_json_skip_ws(ev, n, i + 1);
        if (sl_json_scan(ev + i, n - i, &tk, NULL, NULL, 0) < 0)
            break;
        for (size_t c = 0; c < m->n; c++) {
            const struct mcol *mc = &m->cols[c];
            if (mc->whole || vals[c].s || !key_is(key, klen, esc, &mc->path.segs[0], &scratch))
                continue;
            if (!lookup(ev + i, tk.len, &mc->path, 1, &vals[c], &scratch))
                vals[c].s = NULL;
        }
        i = sl_json_skip_ws(ev, n, i + tk.len);
        if (i < n && ev[i] == ',')
            i = sl_json_skip_ws(ev, n, i + 1);
    }
    sl_buf_putc(line, '{');
    for (size_t c = 0; c < m->n; c++) {
        const struct mcol *mc = &m->cols[c];
        if (c)
            sl_buf_putc(line, ',');
        sl_buf_append(line, mc->key_json, mc->key_len);
        if (mc->whole)
            copy_oneline(line, ev, n);
        else if (vals[c].s)
            copy_oneline(line, vals[c].s, vals[c].n);
        else
            sl_buf_append(line, "null", 4);
    }
    sl_buf_append(line, "}\n", 2);
    if (line->oom || scratch.oom)
        rc = -1;
    sl_buf_free(&scratch);
    if (vals != found)
        sl_free(vals);
    return rc;
}

/* ---- batches ---- */

struct sl_event_batch *sl_event_batch_new(const char *ref, const char *tz)
{
    struct sl_event_batch *b = sl_calloc(1, sizeof *b);
    if (!b)
        return NULL;
    sl_buf_init(&b->lines);
    sl_buf_init(&b->raw);
    b->in.priv = b;
    b->in.events = 1;
    b->in.timezone = tz;
    if (sl_event_batch_reset(b, ref) < 0) {
        sl_event_batch_free(b);
        return NULL;
    }
    return b;
}

void sl_event_batch_free(struct sl_event_batch *b)
{
    if (!b)
        return;
    sl_free(b->in.ref);
    sl_buf_free(&b->lines);
    sl_buf_free(&b->raw);
    for (size_t i = 0; i < b->n; i++)
        sl_free(b->ev[i].error);
    sl_free(b->ev);
    sl_free(b->dead);
    sl_free(b->held_path);
    sl_free(b);
}

int sl_event_batch_reset(struct sl_event_batch *b, const char *ref)
{
    char *r = sl_strdup(ref ? ref : "events");
    if (!r)
        return -1;
    sl_free(b->in.ref);
    b->in.ref = r;
    b->in.bytes = 0;
    b->in.replay = 0;
    b->in.protected_already = 0;
    sl_buf_reset(&b->lines);
    sl_buf_reset(&b->raw);
    for (size_t i = 0; i < b->n; i++)
        sl_free(b->ev[i].error);
    b->n = 0;
    b->acked = 0;
    b->outcome = SL_OUT_RETRY_LATER;
    b->why[0] = '\0';
    sl_time_format(sl_time_now(), b->received_at);
    return 0;
}

static int grow(struct sl_event_batch *b)
{
    if (b->n < b->cap)
        return 0;
    size_t cap = b->cap ? b->cap * 2 : 256;
    struct sl_event_ref *ev = sl_realloc(b->ev, cap * sizeof *ev);
    if (!ev)
        return -1;
    b->ev = ev;
    unsigned char *dead = sl_realloc(b->dead, cap);
    if (!dead)
        return -1;
    b->dead = dead;
    b->cap = cap;
    return 0;
}

/* Record event n of the batch: its raw text was appended at raw[off..] and its
 * flat line at lines[loff..]; `error` (taken, may be NULL): why it is bad. */
static void note_event(struct sl_event_batch *b, size_t off, size_t n, size_t loff,
                       int64_t replay_of, char *error)
{
    b->ev[b->n].off = off;
    b->ev[b->n].len = n;
    b->ev[b->n].loff = loff;
    b->ev[b->n].llen = b->lines.len - loff;
    b->ev[b->n].replay_of = replay_of;
    b->ev[b->n].error = error;
    b->dead[b->n] = 0;
    b->n++;
    b->in.bytes += n;
    if (replay_of)
        b->in.replay = 1;
}

int sl_event_batch_add_flat(struct sl_event_batch *b, const char *line, size_t linelen,
                            const char *ev, size_t n, int64_t replay_of)
{
    if (grow(b) < 0)
        return -1;
    size_t off = b->raw.len, loff = b->lines.len;
    if (sl_buf_append(&b->lines, line, linelen) < 0 || sl_buf_append(&b->raw, ev, n) < 0)
        return -1;
    note_event(b, off, n, loff, replay_of, NULL);
    return 0;
}

/* Append one event; `trusted`: its text is one sluice kept (a held batch,
 * the dead letter table), whose marker may say it is protected already. */
static int batch_add(struct sl_event_batch *b, const struct sl_event_map *m, const char *ev,
                     size_t n, int64_t replay_of, int trusted)
{
    struct sl_buf prot;
    if (grow(b) < 0)
        return -1;
    sl_buf_init(&prot);
    int p = sl_event_protect(m, ev, n, trusted, &prot);
    if (p < 0) {
        sl_buf_free(&prot);
        return -1;
    }
    if (p) {
        ev = prot.data;
        n = prot.len;
    }
    size_t off = b->raw.len, loff = b->lines.len;
    int rc = sl_event_flatten_protected(m, ev, n, &b->lines) < 0 ||
             sl_buf_append(&b->raw, ev, n) < 0 ? -1 : 0;
    sl_buf_free(&prot);
    if (rc < 0)
        return -1;
    if (m->nprot)
        b->in.protected_already = 1;
    note_event(b, off, n, loff, replay_of, NULL);
    return 0;
}

int sl_event_batch_add(struct sl_event_batch *b, const struct sl_event_map *m, const char *ev,
                       size_t n, int64_t replay_of)
{
    return batch_add(b, m, ev, n, replay_of, replay_of != 0);
}

int sl_event_batch_add_bad(struct sl_event_batch *b, const char *ev, size_t n, const char *why,
                           int64_t replay_of)
{
    if (grow(b) < 0)
        return -1;
    size_t off = b->raw.len, loff = b->lines.len;
    char *w = sl_strdup(why);
    /* not JSON: the reader refuses the line, the engine sets the event aside */
    if (!w || sl_buf_append(&b->lines, "!\n", 2) < 0 || sl_buf_append(&b->raw, ev, n) < 0) {
        sl_free(w);
        return -1;
    }
    note_event(b, off, n, loff, replay_of, w);
    return 0;
}

size_t sl_event_batch_dead(const struct sl_event_batch *b, size_t from, size_t to)
{
    size_t k = 0;
    for (size_t i = from; i < to && i < b->n; i++)
        k += b->dead[i];
    return k;
}

/* ---- a batch the destination refused as a whole ---- */

/* Events [from, to) of b as a batch of their own in t. */
static int copy_range(struct sl_event_batch *t, const struct sl_event_batch *b, size_t from,
                      size_t to, const char *ref)
{
    if (sl_event_batch_reset(t, ref) < 0)
        return -1;
    memcpy(t->received_at, b->received_at, sizeof t->received_at);
    for (size_t i = from; i < to; i++) {
        const struct sl_event_ref *e = &b->ev[i];
        int rc = e->error ? sl_event_batch_add_bad(t, b->raw.data + e->off, e->len, e->error,
                                                   e->replay_of)
                          : sl_event_batch_add_flat(t, b->lines.data + e->loff, e->llen,
                                                    b->raw.data + e->off, e->len, e->replay_of);
        if (rc < 0)
            return -1;
    }
    t->in.protected_already = b->in.protected_already;
    return 0;
}

/* Did the destination refuse the rows themselves (a value it cannot store,
 * a constraint), rather than the load (a missing table, a config problem)?
 * Only the first is worth finding the event for. */
static int refused_data(const struct sl_run_stats *st)
{
    const struct sl_err *e = &st->first_error;
    if (e->sqlstate[0])
        return strncmp(e->sqlstate, "22", 2) == 0 || strncmp(e->sqlstate, "23", 2) == 0;
    return e->code == SL_E_INPUT;
}

static enum sl_outcome isolate(const struct sl_sink *sink, struct sl_feed *feed, struct sl_event_batch *b, size_t from,
                               size_t to, struct sl_event_batch *t, char *why, size_t whylen)
{
    char ref[400];
    struct sl_run_stats st = {0};

    if (from >= to)
        return SL_OUT_COMMITTED;
    snprintf(ref, sizeof ref, "%s[%zu..%zu]", b->in.ref, from + 1, to);
    if (copy_range(t, b, from, to, ref) < 0) {
        snprintf(why, whylen, "out of memory");
        return SL_OUT_RETRY_LATER;
    }
    sink->batch(feed, &t->in, &st);
    enum sl_outcome o = t->acked ? t->outcome : SL_OUT_RETRY_LATER;
    if (o == SL_OUT_COMMITTED || o == SL_OUT_DUPLICATE || o == SL_OUT_QUARANTINED) {
        memcpy(b->dead + from, t->dead, to - from);
        return o;
    }
    snprintf(why, whylen, "%s", t->why);
    if (o != SL_OUT_FAILED || !refused_data(&st))
        return o;
    if (to - from == 1) {
        /* refused alone: that event is the one; keep it aside with the reason */
        char msg[1200];
        const struct sl_event_ref *e = &b->ev[from];
        snprintf(msg, sizeof msg, "the warehouse refused the event: %s", t->why);
        if (sl_event_batch_reset(t, ref) < 0 ||
            sl_event_batch_add_bad(t, b->raw.data + e->off, e->len, msg, e->replay_of) < 0) {
            snprintf(why, whylen, "out of memory");
            return SL_OUT_RETRY_LATER;
        }
        memcpy(t->received_at, b->received_at, sizeof t->received_at);
        memset(&st, 0, sizeof st);
        sink->batch(feed, &t->in, &st);
        o = t->acked ? t->outcome : SL_OUT_RETRY_LATER;
        if (o == SL_OUT_COMMITTED)
            b->dead[from] = 1;
        else
            snprintf(why, whylen, "%s", t->why);
        return o;
    }
    size_t mid = from + (to - from) / 2;
    o = isolate(sink, feed, b, from, mid, t, why, whylen);
    if (o != SL_OUT_COMMITTED && o != SL_OUT_DUPLICATE && o != SL_OUT_QUARANTINED)
        return o;
    return isolate(sink, feed, b, mid, to, t, why, whylen);
}

/* b failed as a whole: find the events the destination refuses (events.h,
 * sl_event_batch_load). */
static enum sl_outcome isolate_batch(const struct sl_sink *sink, struct sl_feed *feed,
                                     struct sl_event_batch *b)
{
    struct sl_event_batch *t = sl_event_batch_new(b->in.ref, b->in.timezone);
    char why[sizeof b->why];
    if (!t)
        return SL_OUT_RETRY_LATER;
    t->in.replay = b->in.replay;
    why[0] = '\0';
    /* halves of the batch in turn: a handful of poisoned events cost a few
     * batches each, not one per event */
    size_t mid = b->n / 2;
    enum sl_outcome o = isolate(sink, feed, b, 0, mid, t, why, sizeof why);
    if (o == SL_OUT_COMMITTED || o == SL_OUT_DUPLICATE || o == SL_OUT_QUARANTINED)
        o = isolate(sink, feed, b, mid, b->n, t, why, sizeof why);
    b->outcome = o;
    snprintf(b->why, sizeof b->why, "%s", why);
    sl_event_batch_free(t);
    return o;
}

void sl_event_batch_load(const struct sl_sink *sink, struct sl_feed *feed,
                         struct sl_event_batch *b)
{
    struct sl_run_stats one = {0};
    sink->batch(feed, &b->in, &one);
    /* a value the destination refused, that no check caught: find the
     * event, so it alone is set aside and the others load */
    if (b->acked && b->outcome == SL_OUT_FAILED && refused_data(&one))
        isolate_batch(sink, feed, b);
}

/* ---- source ops ---- */

struct sl_source {
    struct sl_event_source es;
    struct sl_buf id;           /* event(): the id of the event asked for */
    struct sl_buf scratch;
    struct sl_buf payload;      /* event(): a protected event's text, marked */
    struct sl_buf why;          /* event(): why a protected table keeps no text */
};

int sl_event_source_open(struct sl_source **out, const struct sl_config *c,
                         const struct sl_pipeline_cfg *p, const struct sl_table_cfg *t,
                         const struct sl_event_cfg *ec, struct sl_err *err)
{
    struct sl_source *s = sl_calloc(1, sizeof *s);
    *out = NULL;
    if (!s)
        return sl_err_nomem(err);
    s->es.cfg = c;
    s->es.p = p;
    s->es.t = t;
    s->es.ec = ec;
    sl_buf_init(&s->id);
    sl_buf_init(&s->scratch);
    if (sl_event_map_new(ec, t, &s->es.map, err) < 0) {
        sl_free(s);
        return -1;
    }
    s->es.map->p = p;
    sl_buf_init(&s->payload);
    sl_buf_init(&s->why);
    *out = s;
    return 0;
}

int sl_event_open(struct sl_source **out, const struct sl_config *c,
                  const struct sl_pipeline_cfg *p, const struct sl_table_cfg *t,
                  struct sl_err *err)
{
    const struct sl_event_cfg *ec = p->source_ctx;     /* first in the transport's config */
    return sl_event_source_open(out, c, p, t, ec, err);
}

const struct sl_event_map *sl_event_source_map(struct sl_source *s)
{
    return s->es.map;
}

const struct sl_event_cfg *sl_event_source_cfg(struct sl_source *s)
{
    return s->es.ec;
}

void sl_event_close(struct sl_source *s)
{
    if (!s)
        return;
    sl_event_map_free(s->es.map);
    sl_buf_free(&s->id);
    sl_buf_free(&s->scratch);
    sl_buf_free(&s->payload);
    sl_buf_free(&s->why);
    sl_free(s);
}

int sl_event_next_none(struct sl_source *s, struct sl_batch_input **out, struct sl_err *err)
{
    (void)s, (void)out, (void)err;
    return 0;   /* events come in through `sluice daemon`, not `sluice run` */
}

int sl_event_open_rows(struct sl_source *s, struct sl_batch_input *b, struct sl_rowsrc *r,
                       struct sl_err *err)
{
    struct sl_event_batch *eb = b->priv;
    (void)s;
    memset(r, 0, sizeof *r);
    /* a new pass: what an earlier attempt set aside is forgotten */
    if (eb->n)
        memset(eb->dead, 0, eb->n);
    if (sl_stream_open_mem(&r->st, b->ref, eb->lines.data ? eb->lines.data : "",
                           eb->lines.len, 0, err) < 0)
        return -1;
    r->fmt = &sl_format_jsonl;
    if (r->fmt->open(&r->rd, r->st, NULL, err) < 0) {
        sl_stream_close(r->st);
        r->st = NULL;
        return -1;
    }
    return 0;
}

int sl_event_schema(struct sl_source *s, struct sl_batch_input *b, struct sl_schema *out,
                    struct sl_err *err)
{
    const struct sl_schema *m = &s->es.map->schema;
    (void)b;
    memset(out, 0, sizeof *out);
    for (size_t i = 0; i < m->ncols; i++)
        if (sl_schema_add(out, m->cols[i].name, m->cols[i].type) < 0) {
            sl_schema_free(out);
            return sl_err_nomem(err);
        }
    return 0;
}

int sl_event_event(struct sl_source *s, struct sl_batch_input *b, long index,
                   struct sl_event_info *out)
{
    struct sl_event_batch *eb = b->priv;
    struct sl_event_slice v;

    memset(out, 0, sizeof *out);
    if (index < 1 || (size_t)index > eb->n)
        return -1;
    const struct sl_event_ref *e = &eb->ev[index - 1];
    out->payload = eb->raw.data + e->off;
    out->len = e->len;
    out->received_at = eb->received_at;
    out->replay_of = e->replay_of;
    out->error = e->error;
    if (!b->replay)
        eb->dead[index - 1] = 1;    /* only the dead letter writer asks then */
    const struct sl_event_map *m = s->es.map;
    if (m->nprot) {
        /* its text is protected (batch_add): kept marked so, so that a
         * replay does not protect it again; a message that is no JSON
         * object cannot be protected, so it is not kept */
        int r = mark(out->payload, out->len, &s->payload);
        if (r < 0)
            return -1;
        if (r == 0) {
            out->payload = s->payload.data;
            out->len = s->payload.len;
        } else {
            sl_buf_reset(&s->why);
            sl_buf_printf(&s->why, "%s (its text is not kept: the table protects columns, "
                          "and a message that is no JSON object cannot be protected)",
                          e->error ? e->error : "not an event");
            if (s->why.oom)
                return -1;
            out->payload = "";
            out->len = 0;
            out->error = s->why.data;
        }
    }
    if (m->id.n) {
        size_t a = sl_json_skip_ws(out->payload, out->len, 0);
        if (lookup(out->payload + a, out->len - a, &m->id, 0, &v, &s->scratch)) {
            sl_buf_reset(&s->id);
            if (v.s[0] == '"')
                sl_json_unescape(v.s + 1, v.n - 2, &s->id, NULL, NULL, 0);
            else
                sl_buf_append(&s->id, v.s, v.n);
            if (!s->id.oom && s->id.data && !(v.n == 4 && memcmp(v.s, "null", 4) == 0))
                out->event_id = s->id.data;
        }
    }
    return 0;
}

/* ---- held batches: a gate held one; kept as NDJSON until approve / reject ---- */

static int write_all(int fd, const char *p, size_t n)
{
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

static int mkdirs(const char *path)
{
    char *p = sl_strdup(path);
    if (!p)
        return -1;
    for (char *c = p + 1; *c; c++) {
        if (*c != '/')
            continue;
        *c = '\0';
        if (mkdir(p, 0777) < 0 && errno != EEXIST) {
            sl_free(p);
            return -1;
        }
        *c = '/';
    }
    int rc = mkdir(p, 0777) < 0 && errno != EEXIST ? -1 : 0;
    sl_free(p);
    return rc;
}

int sl_event_hold(struct sl_source *s, struct sl_batch_input *b, char **held,
                  struct sl_err *err)
{
    struct sl_event_batch *eb = b->priv;
    struct sl_buf rel, body;
    char *dir = NULL, *full = NULL;
    int fd = -1, rc = -1;
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    sl_buf_init(&rel);
    sl_buf_init(&body);
    sl_buf_printf(&rel, "%s/%s", s->es.ec->held_dir, s->es.p->name);
    if (rel.oom || !(dir = sl_config_path(s->es.cfg, rel.data)))
        goto oom;
    sl_buf_printf(&rel, "/%lld-%09ld-%d.ndjson", (long long)ts.tv_sec, ts.tv_nsec,
                  (int)getpid());
    if (rel.oom || !(full = sl_config_path(s->es.cfg, rel.data)))
        goto oom;
    for (size_t i = 0; i < eb->n; i++) {
        const char *ev = eb->raw.data + eb->ev[i].off;
        size_t n = eb->ev[i].len;
        if (s->es.map->nprot) {
            /* protected already: kept marked so, so that releasing the
             * batch does not protect it again; no text that could not be */
            int r = mark(ev, n, &s->payload);
            if (r < 0)
                goto oom;
            if (r)
                continue;
            ev = s->payload.data;
            n = s->payload.len;
        }
        copy_oneline(&body, ev, n);
        sl_buf_putc(&body, '\n');
    }
    if (body.oom)
        goto oom;
    if (mkdirs(dir) < 0 || (fd = open(full, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644)) < 0 ||
        write_all(fd, body.data ? body.data : "", body.len) < 0 || fsync(fd) < 0) {
        sl_err_set(err, SL_E_IO, "could not keep the held batch in \"%s\": %s", rel.data,
                   strerror(errno));
        if (fd >= 0)
            unlink(full);
        goto done;
    }
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        fsync(dfd);
        close(dfd);
    }
    *held = sl_buf_steal(&rel);
    rc = 0;
    goto done;
oom:
    sl_err_nomem(err);
done:
    if (fd >= 0)
        close(fd);
    sl_free(dir);
    sl_free(full);
    sl_buf_free(&rel);
    sl_buf_free(&body);
    return rc;
}

int sl_event_reopen(struct sl_source *s, const char *held, struct sl_batch_input **out,
                    struct sl_err *err)
{
    char *full = NULL;
    struct sl_buf data;
    struct sl_event_batch *eb = NULL;
    int fd = -1;
    char buf[65536];

    sl_buf_init(&data);
    if (strstr(held, "..") || held[0] == '/')
        return sl_err_set(err, SL_E_INPUT, "held batch \"%s\" is not in %s/", held,
                          s->es.ec->held_dir);
    if (!(full = sl_config_path(s->es.cfg, held)))
        goto oom;
    if ((fd = open(full, O_RDONLY | O_CLOEXEC)) < 0) {
        sl_err_set(err, SL_E_IO, "could not open the held batch \"%s\": %s", held,
                   strerror(errno));
        goto fail;
    }
    for (;;) {
        ssize_t r = read(fd, buf, sizeof buf);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            sl_err_set(err, SL_E_IO, "could not read \"%s\": %s", held, strerror(errno));
            goto fail;
        }
        if (r == 0)
            break;
        sl_buf_append(&data, buf, (size_t)r);
    }
    if (data.oom || !(eb = sl_event_batch_new(held, s->es.ec->timezone)))
        goto oom;
    for (size_t ls = 0; ls < data.len;) {
        const char *e = memchr(data.data + ls, '\n', data.len - ls);
        size_t le = e ? (size_t)(e - data.data) : data.len;
        if (le > ls && batch_add(eb, s->es.map, data.data + ls, le - ls, 0, 1) < 0)
            goto oom;
        ls = le + 1;
    }
    eb->held_path = full;
    full = NULL;
    close(fd);
    sl_buf_free(&data);
    *out = &eb->in;
    return 0;
oom:
    sl_err_nomem(err);
fail:
    if (fd >= 0)
        close(fd);
    sl_free(full);
    sl_event_batch_free(eb);
    sl_buf_free(&data);
    return -1;
}

int sl_event_ack(struct sl_source *s, struct sl_batch_input *b, enum sl_outcome o,
                 const char *why, struct sl_err *err)
{
    struct sl_event_batch *eb = b->priv;
    (void)s, (void)err;
    eb->acked = 1;
    eb->outcome = o;
    snprintf(eb->why, sizeof eb->why, "%s", why ? why : "");
    if (eb->held_path) {
        /* a held batch released: loaded, or set aside for good */
        if (o == SL_OUT_COMMITTED || o == SL_OUT_DUPLICATE) {
            unlink(eb->held_path);
        } else if (o == SL_OUT_FAILED) {
            struct sl_buf to;
            sl_buf_init(&to);
            sl_buf_printf(&to, "%s.rejected", eb->held_path);
            if (!to.oom)
                rename(eb->held_path, to.data);
            sl_buf_free(&to);
        }
        sl_event_batch_free(eb);
    }
    return 0;
}
