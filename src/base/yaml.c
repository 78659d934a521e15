/* base/yaml.c: libyaml's event stream turned into a tree of positioned
 * nodes (see yaml.h).
 *
 * Built from events rather than libyaml's document API so that every error
 * can point where it belongs: a duplicate key at the second key, an unknown
 * alias at the alias, an unset ${VAR} at its "${" inside the scalar. */
#include "base/yaml.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "base/mem.h"

#define MAX_CONFIG_BYTES    ((size_t)16 << 20)
#define MAX_DEPTH           512     /* nesting; a config needs about 8 */
#define MAX_EXPAND_DEPTH    8       /* ${A:-${B:-...}} */

struct frame {
    struct sl_yaml_node *node;
    size_t cap;                     /* of node->entries or node->items */
    char *key;                      /* map: key waiting for its value */
    int key_line, key_col;
    int key_is_merge;               /* the waiting key is a plain "<<" */
    int seen_merge;
    int merge_line, merge_col;
    struct sl_yaml_node **merges;   /* sources of "<<", applied at the end */
    size_t nmerges, merges_cap;
};

struct anchor {
    char *name;
    struct sl_yaml_node *node;
};

struct loader {
    const char *file;
    const unsigned char *buf;
    size_t n;
    struct sl_yaml_doc *doc;
    struct frame *stack;
    size_t depth, stack_cap;
    struct anchor *anchors;
    size_t nanchors, anchors_cap;
    int ndocs;
    struct sl_err *err;
    char *unset;        /* the current scalar's first unset ${VAR}: its error */
};

int sl_yaml_err(struct sl_err *err, const char *file, int line, int col, const char *fmt, ...)
{
    char what[sizeof err->msg];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    return sl_err_set(err, SL_E_CONFIG, "%s:%d:%d: %s", file, line, col, what);
}

int sl_yaml_nomem(struct sl_err *err, const char *file)
{
    return sl_err_set(err, SL_E_NOMEM, "%s: out of memory while reading the config", file);
}

static int oom(struct loader *L)
{
    return sl_yaml_nomem(L->err, L->file);
}

static int grow(void **arr, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap)
        return 0;
    size_t ncap = *cap ? *cap * 2 : 8;
    while (ncap < need)
        ncap *= 2;
    void *p = sl_realloc(*arr, ncap * elem);
    if (!p)
        return -1;
    *arr = p;
    *cap = ncap;
    return 0;
}

/* ---- positions inside the raw text ---- */

static size_t bom_len(const unsigned char *b, size_t n)
{
    return (n >= 3 && b[0] == 0xEF && b[1] == 0xBB && b[2] == 0xBF) ? 3 : 0;
}

static int utf16(const unsigned char *b, size_t n)
{
    return n >= 2 && ((b[0] == 0xFE && b[1] == 0xFF) || (b[0] == 0xFF && b[1] == 0xFE));
}

/* libyaml's mark.index counts characters after the BOM; find its byte. */
static size_t char_to_byte(const struct loader *L, size_t index)
{
    size_t i = bom_len(L->buf, L->n);

    for (size_t c = 0; i < L->n; i++) {
        if ((L->buf[i] & 0xC0) != 0x80) {
            if (c == index)
                return i;
            c++;
        }
    }
    return L->n;
}

/* Advance (line, col) over buf[from, to), counting characters and breaks
 * the way libyaml does (LF, CRLF, lone CR). */
static void walk(const unsigned char *buf, size_t from, size_t to, int *line, int *col)
{
    for (size_t i = from; i < to; i++) {
        unsigned char ch = buf[i];
        if (ch == '\n' || (ch == '\r' && (i + 1 >= to || buf[i + 1] != '\n'))) {
            (*line)++;
            *col = 1;
        } else if (ch != '\r' && (ch & 0xC0) != 0x80) {
            (*col)++;
        }
    }
}

/* Where the "${" at value[off] is in the file: the k-th "${" of the value
 * is the k-th of the scalar's raw text, escapes aside. Falls back to the
 * scalar's start when the two disagree. */
static void value_pos(const struct loader *L, const yaml_event_t *ev, const char *value,
                      size_t off, int *line, int *col)
{
    size_t k = 0;

    *line = (int)ev->start_mark.line + 1;
    *col = (int)ev->start_mark.column + 1;
    if (utf16(L->buf, L->n))
        return;
    for (size_t i = 0; i < off; i++)
        if (value[i] == '$' && value[i + 1] == '{')
            k++;
    size_t b0 = char_to_byte(L, ev->start_mark.index);
    size_t b1 = char_to_byte(L, ev->end_mark.index);
    for (size_t i = b0; i + 1 < b1; i++) {
        if (L->buf[i] == '$' && L->buf[i + 1] == '{') {
            if (k-- == 0) {
                walk(L->buf, b0, i, line, col);
                return;
            }
        }
    }
}

/* ---- ${VAR} expansion ---- */

static int is_name_start(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_';
}

static int is_name_char(char c)
{
    return is_name_start(c) || (c >= '0' && c <= '9');
}

/* Expand value[from, to) into out. ${VAR}, ${VAR:-default} (default when
 * unset or empty, itself expanded), $$ for a literal $; any other $ is
 * itself. */
static int expand(struct loader *L, const yaml_event_t *ev, const char *value,
                  size_t from, size_t to, struct sl_buf *out, int depth)
{
    size_t i = from;
    int line, col;

    while (i < to) {
        const char *s = value + i;
        if (s[0] != '$' || i + 1 >= to || (s[1] != '$' && s[1] != '{')) {
            sl_buf_putc(out, s[0]);
            i++;
            continue;
        }
        if (s[1] == '$') {
            sl_buf_putc(out, '$');
            i += 2;
            continue;
        }
        /* "${" */
        size_t start = i, j = i + 2, name_end;
        while (j < to && is_name_char(value[j]))
            j++;
        name_end = j;
        int has_def = 0;
        size_t def_from = 0, def_to = 0;
        if (j < to && value[j] == ':' && j + 1 < to && value[j + 1] == '-') {
            int nest = 1;
            has_def = 1;
            def_from = j + 2;
            for (j = def_from; j < to; j++) {
                if (value[j] == '$' && j + 1 < to && value[j + 1] == '$') {
                    j++;
                } else if (value[j] == '$' && j + 1 < to && value[j + 1] == '{') {
                    nest++;
                    j++;
                } else if (value[j] == '}' && --nest == 0) {
                    break;
                }
            }
            def_to = j;
        }
        value_pos(L, ev, value, start, &line, &col);
        if (j >= to || value[j] != '}') {
            size_t shown = to - start > 40 ? 40 : to - start;
            if (!has_def && j < to)
                return sl_yaml_err(L->err, L->file, line, col,
                                   "\"%.*s\" is not a variable reference: expected ${NAME} "
                                   "or ${NAME:-default} (write $$ for a literal $)",
                                   (int)shown, value + start);
            return sl_yaml_err(L->err, L->file, line, col,
                               "unterminated \"${\": expected ${NAME} or ${NAME:-default}");
        }
        if (name_end == start + 2 || !is_name_start(value[start + 2])) {
            size_t shown = j + 1 - start > 40 ? 40 : j + 1 - start;
            return sl_yaml_err(L->err, L->file, line, col,
                               "\"%.*s\" is not a variable reference: a name is letters, "
                               "digits and _, not starting with a digit",
                               (int)shown, value + start);
        }
        char name[256];
        size_t nlen = name_end - (start + 2);
        if (nlen >= sizeof name)
            return sl_yaml_err(L->err, L->file, line, col, "variable name too long");
        memcpy(name, value + start + 2, nlen);
        name[nlen] = '\0';
        const char *env = getenv(name);
        if (env && (!has_def || env[0])) {
            sl_buf_puts(out, env);
        } else if (has_def) {
            if (depth >= MAX_EXPAND_DEPTH)
                return sl_yaml_err(L->err, L->file, line, col,
                                   "defaults nested more than %d deep", MAX_EXPAND_DEPTH);
            if (expand(L, ev, value, def_from, def_to, out, depth + 1) < 0)
                return -1;
        } else if (!L->unset) {
            /* kept with the node: only the values that need it fail */
            struct sl_err e;
            sl_yaml_err(&e, L->file, line, col, "environment variable %s is not set", name);
            if (!(L->unset = sl_strdup(e.msg)))
                return oom(L);
        }
        i = j + 1;
    }
    return 0;
}

/* ---- building the tree ---- */

static struct sl_yaml_node *new_node(struct loader *L, enum sl_yaml_type type,
                                     const yaml_mark_t *m)
{
    struct sl_yaml_node *n = sl_calloc(1, sizeof *n);
    if (!n)
        return NULL;
    n->type = type;
    n->line = (int)m->line + 1;
    n->col = (int)m->column + 1;
    n->next_owned = L->doc->owned;
    L->doc->owned = n;
    return n;
}

static int add_anchor(struct loader *L, const yaml_char_t *name, struct sl_yaml_node *n)
{
    if (!name)
        return 0;
    if (grow((void **)&L->anchors, &L->anchors_cap, L->nanchors + 1, sizeof *L->anchors) < 0)
        return oom(L);
    char *copy = sl_strdup((const char *)name);
    if (!copy)
        return oom(L);
    L->anchors[L->nanchors].name = copy;
    L->anchors[L->nanchors].node = n;
    L->nanchors++;
    return 0;
}

static struct frame *top(struct loader *L)
{
    return L->depth ? &L->stack[L->depth - 1] : NULL;
}

static int expecting_key(struct loader *L)
{
    struct frame *f = top(L);
    return f && f->node->type == SL_YAML_MAP && !f->key;
}

static const struct sl_yaml_entry *find_entry(const struct sl_yaml_node *map, const char *key)
{
    for (size_t i = 0; i < map->nentries; i++)
        if (strcmp(map->entries[i].key, key) == 0)
            return &map->entries[i];
    return NULL;
}

static int append_entry(struct loader *L, struct frame *f, char *key, int line, int col,
                        struct sl_yaml_node *value)
{
    struct sl_yaml_node *m = f->node;
    if (grow((void **)&m->entries, &f->cap, m->nentries + 1, sizeof *m->entries) < 0) {
        sl_free(key);
        return oom(L);
    }
    m->entries[m->nentries].key = key;
    m->entries[m->nentries].line = line;
    m->entries[m->nentries].col = col;
    m->entries[m->nentries].value = value;
    m->nentries++;
    return 0;
}

/* A node is complete: hang it under its parent. (line, col) is where it was
 * written (an alias's own position, not its anchor's). */
static int attach(struct loader *L, struct sl_yaml_node *n, int line, int col)
{
    struct frame *f = top(L);
    char desc[96];

    if (!f) {
        L->doc->root = n;
        return 0;
    }
    if (f->node->type == SL_YAML_SEQ) {
        struct sl_yaml_node *s = f->node;
        if (grow((void **)&s->items, &f->cap, s->nitems + 1, sizeof *s->items) < 0)
            return oom(L);
        s->items[s->nitems++] = n;
        return 0;
    }
    if (!f->key) {
        if (n->type != SL_YAML_SCALAR) {
            sl_yaml_describe(n, desc, sizeof desc);
            return sl_yaml_err(L->err, L->file, line, col,
                               "a mapping key must be a string, found %s", desc);
        }
        int merge = n->style == SL_YAML_PLAIN && strcmp(n->value, "<<") == 0;
        if (merge && f->seen_merge)
            return sl_yaml_err(L->err, L->file, line, col,
                               "duplicate key \"<<\" (first at %d:%d)",
                               f->merge_line, f->merge_col);
        const struct sl_yaml_entry *dup = merge ? NULL : find_entry(f->node, n->value);
        if (dup)
            return sl_yaml_err(L->err, L->file, line, col, "duplicate key \"%s\" (first at %d:%d)",
                               n->value, dup->line, dup->col);
        f->key = sl_strdup(n->value);
        if (!f->key)
            return oom(L);
        f->key_line = line;
        f->key_col = col;
        f->key_is_merge = merge;
        if (merge) {
            f->seen_merge = 1;
            f->merge_line = line;
            f->merge_col = col;
        }
        return 0;
    }
    if (f->key_is_merge) {
        int ok = n->type == SL_YAML_MAP;
        if (n->type == SL_YAML_SEQ) {
            ok = 1;
            for (size_t i = 0; i < n->nitems; i++)
                ok &= n->items[i]->type == SL_YAML_MAP;
        }
        if (!ok) {
            sl_yaml_describe(n, desc, sizeof desc);
            return sl_yaml_err(L->err, L->file, line, col,
                               "a merge key (<<) takes a mapping or a sequence of mappings, "
                               "found %s", desc);
        }
        size_t k = n->type == SL_YAML_MAP ? 1 : n->nitems;
        if (grow((void **)&f->merges, &f->merges_cap, f->nmerges + k, sizeof *f->merges) < 0)
            return oom(L);
        for (size_t i = 0; i < k; i++)
            f->merges[f->nmerges++] = n->type == SL_YAML_MAP ? n : n->items[i];
        sl_free(f->key);
        f->key = NULL;
        return 0;
    }
    char *key = f->key;
    f->key = NULL;
    return append_entry(L, f, key, f->key_line, f->key_col, n);
}

/* "<<: *base": the keys of the merged mappings that the mapping does not set
 * itself; earlier sources win (YAML's merge key). */
static int apply_merges(struct loader *L, struct frame *f)
{
    for (size_t m = 0; m < f->nmerges; m++) {
        const struct sl_yaml_node *src = f->merges[m];
        for (size_t i = 0; i < src->nentries; i++) {
            const struct sl_yaml_entry *e = &src->entries[i];
            if (find_entry(f->node, e->key))
                continue;
            char *key = sl_strdup(e->key);
            if (!key)
                return oom(L);
            if (append_entry(L, f, key, e->line, e->col, e->value) < 0)
                return -1;
        }
    }
    return 0;
}

static void drop_frame(struct frame *f)
{
    sl_free(f->key);
    sl_free(f->merges);
    memset(f, 0, sizeof *f);
}

static int push(struct loader *L, struct sl_yaml_node *n)
{
    if (L->depth >= MAX_DEPTH)
        return sl_yaml_err(L->err, L->file, n->line, n->col,
                           "nesting deeper than %d levels", MAX_DEPTH);
    if (grow((void **)&L->stack, &L->stack_cap, L->depth + 1, sizeof *L->stack) < 0)
        return oom(L);
    memset(&L->stack[L->depth], 0, sizeof L->stack[L->depth]);
    L->stack[L->depth++].node = n;
    return 0;
}

static int on_scalar(struct loader *L, const yaml_event_t *ev)
{
    const char *raw = (const char *)ev->data.scalar.value;
    size_t len = ev->data.scalar.length;
    int line = (int)ev->start_mark.line + 1, col = (int)ev->start_mark.column + 1;
    int is_key = expecting_key(L);
    struct sl_yaml_node *n;

    if (strlen(raw) != len)
        return sl_yaml_err(L->err, L->file, line, col,
                           "a NUL character (\\0) is not allowed in the config");
    n = new_node(L, SL_YAML_SCALAR, &ev->start_mark);
    if (!n)
        return oom(L);
    n->style = ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE ? SL_YAML_PLAIN : SL_YAML_QUOTED;
    if (ev->data.scalar.tag && strcmp((const char *)ev->data.scalar.tag, YAML_STR_TAG) == 0)
        n->style = SL_YAML_QUOTED;
    n->is_null = n->style == SL_YAML_PLAIN &&
                 (len == 0 || strcmp(raw, "~") == 0 || strcmp(raw, "null") == 0 ||
                  strcmp(raw, "Null") == 0 || strcmp(raw, "NULL") == 0);
    if (is_key || !memchr(raw, '$', len)) {
        n->value = sl_strndup(raw, len);
        if (!n->value)
            return oom(L);
        n->len = len;
    } else {
        struct sl_buf b;
        sl_buf_init(&b);
        if (expand(L, ev, raw, 0, len, &b, 0) < 0) {
            sl_buf_free(&b);
            sl_free(L->unset);
            L->unset = NULL;
            return -1;
        }
        if (b.oom) {
            sl_buf_free(&b);
            return oom(L);
        }
        n->unset = L->unset;
        L->unset = NULL;
        if (n->unset) {
            /* never used: the value stands as written, to be named */
            sl_buf_reset(&b);
            sl_buf_append(&b, raw, len);
        }
        n->len = b.len;
        n->value = sl_buf_steal(&b);
        if (!n->value)
            return oom(L);
        if (strlen(n->value) != n->len)
            return sl_yaml_err(L->err, L->file, line, col,
                               "a NUL character (\\0) is not allowed in the config");
    }
    if (add_anchor(L, ev->data.scalar.anchor, n) < 0)
        return -1;
    return attach(L, n, line, col);
}

static int on_alias(struct loader *L, const yaml_event_t *ev)
{
    const char *name = (const char *)ev->data.alias.anchor;
    int line = (int)ev->start_mark.line + 1, col = (int)ev->start_mark.column + 1;

    for (size_t i = L->nanchors; i-- > 0;) {
        if (strcmp(L->anchors[i].name, name) != 0)
            continue;
        for (size_t d = 0; d < L->depth; d++)
            if (L->stack[d].node == L->anchors[i].node)
                return sl_yaml_err(L->err, L->file, line, col,
                                   "alias \"*%s\" refers to a node that contains it", name);
        return attach(L, L->anchors[i].node, line, col);
    }
    return sl_yaml_err(L->err, L->file, line, col,
                       "undefined alias \"*%s\" (define it first with &%s)", name, name);
}

static int on_event(struct loader *L, const yaml_event_t *ev, int *done)
{
    int line = (int)ev->start_mark.line + 1, col = (int)ev->start_mark.column + 1;
    struct sl_yaml_node *n;
    const yaml_char_t *anchor;

    switch (ev->type) {
    case YAML_STREAM_END_EVENT:
        *done = 1;
        return 0;
    case YAML_DOCUMENT_START_EVENT:
        if (L->ndocs++ > 0)
            return sl_yaml_err(L->err, L->file, line, col,
                               "a second YAML document starts here; the config is one document");
        return 0;
    case YAML_SCALAR_EVENT:
        return on_scalar(L, ev);
    case YAML_ALIAS_EVENT:
        return on_alias(L, ev);
    case YAML_SEQUENCE_START_EVENT:
    case YAML_MAPPING_START_EVENT:
        if (expecting_key(L))
            return sl_yaml_err(L->err, L->file, line, col,
                               "a mapping key must be a string, found a %s",
                               ev->type == YAML_SEQUENCE_START_EVENT ? "sequence" : "mapping");
        n = new_node(L, ev->type == YAML_SEQUENCE_START_EVENT ? SL_YAML_SEQ : SL_YAML_MAP,
                     &ev->start_mark);
        if (!n)
            return oom(L);
        anchor = ev->type == YAML_SEQUENCE_START_EVENT ? ev->data.sequence_start.anchor
                                                       : ev->data.mapping_start.anchor;
        if (add_anchor(L, anchor, n) < 0)
            return -1;
        return push(L, n);
    case YAML_SEQUENCE_END_EVENT:
    case YAML_MAPPING_END_EVENT: {
        struct frame *f = top(L);
        if (!f)
            return sl_yaml_err(L->err, L->file, line, col, "unbalanced end of a collection");
        if (f->node->type == SL_YAML_MAP && apply_merges(L, f) < 0)
            return -1;
        n = f->node;
        drop_frame(f);
        L->depth--;
        return attach(L, n, n->line, n->col);
    }
    default:
        return 0;
    }
}

static int parser_error(struct loader *L, const yaml_parser_t *p)
{
    const char *problem = p->problem ? p->problem : "malformed YAML";

    if (p->error == YAML_MEMORY_ERROR)
        return oom(L);
    if (p->error == YAML_READER_ERROR) {
        int line = 1, col = 1;
        size_t off = p->problem_offset < L->n ? p->problem_offset : L->n;
        if (!utf16(L->buf, L->n))
            walk(L->buf, bom_len(L->buf, L->n), off, &line, &col);
        if (p->problem_value != -1)
            return sl_yaml_err(L->err, L->file, line, col, "%s (byte 0x%02X): the config must be "
                               "UTF-8 text", problem, (unsigned)p->problem_value & 0xFFu);
        return sl_yaml_err(L->err, L->file, line, col, "%s", problem);
    }
    if (p->context)
        return sl_yaml_err(L->err, L->file, (int)p->problem_mark.line + 1,
                           (int)p->problem_mark.column + 1, "%s (%s at %d:%d)", problem,
                           p->context, (int)p->context_mark.line + 1,
                           (int)p->context_mark.column + 1);
    return sl_yaml_err(L->err, L->file, (int)p->problem_mark.line + 1,
                       (int)p->problem_mark.column + 1, "%s", problem);
}

void sl_yaml_free(struct sl_yaml_doc *d)
{
    if (!d)
        return;
    struct sl_yaml_node *n = d->owned;
    while (n) {
        struct sl_yaml_node *next = n->next_owned;
        for (size_t i = 0; i < n->nentries; i++)
            sl_free(n->entries[i].key);
        sl_free(n->entries);
        sl_free(n->items);
        sl_free(n->value);
        sl_free(n->unset);
        sl_free(n);
        n = next;
    }
    sl_free(d->file);
    sl_free(d);
}

int sl_yaml_load_mem(const char *display, const char *data, size_t n,
                     struct sl_yaml_doc **out, struct sl_err *err)
{
    struct loader L = {0};
    yaml_parser_t p;
    yaml_event_t ev;
    int rc = 0, done = 0;

    *out = NULL;
    L.file = display;
    L.buf = (const unsigned char *)data;
    L.n = n;
    L.err = err;
    L.doc = sl_calloc(1, sizeof *L.doc);
    if (!L.doc)
        return oom(&L);
    L.doc->file = sl_strdup(display);
    if (!L.doc->file) {
        sl_free(L.doc);
        return oom(&L);
    }
    if (!yaml_parser_initialize(&p)) {
        sl_yaml_free(L.doc);
        return oom(&L);
    }
    yaml_parser_set_input_string(&p, L.buf, n);
    while (!done) {
        if (!yaml_parser_parse(&p, &ev)) {
            rc = parser_error(&L, &p);
            break;
        }
        rc = on_event(&L, &ev, &done);
        yaml_event_delete(&ev);
        if (rc < 0)
            break;
    }
    yaml_parser_delete(&p);
    for (size_t i = 0; i < L.depth; i++)
        drop_frame(&L.stack[i]);
    sl_free(L.stack);
    for (size_t i = 0; i < L.nanchors; i++)
        sl_free(L.anchors[i].name);
    sl_free(L.anchors);
    if (rc < 0) {
        sl_yaml_free(L.doc);
        return -1;
    }
    *out = L.doc;
    return 0;
}

int sl_yaml_load_file(const char *path, struct sl_yaml_doc **out, struct sl_err *err)
{
    struct sl_buf b;
    char chunk[65536];
    size_t got;
    FILE *f;

    *out = NULL;
    f = fopen(path, "rb");
    if (!f)
        return sl_err_set(err, SL_E_CONFIG, "could not open config file \"%s\": %s", path,
                          strerror(errno));
    sl_buf_init(&b);
    while ((got = fread(chunk, 1, sizeof chunk, f)) > 0) {
        if (b.len + got > MAX_CONFIG_BYTES) {
            fclose(f);
            sl_buf_free(&b);
            return sl_err_set(err, SL_E_CONFIG, "config file \"%s\" is larger than %zu MiB",
                              path, MAX_CONFIG_BYTES >> 20);
        }
        if (sl_buf_append(&b, chunk, got) < 0) {
            fclose(f);
            sl_buf_free(&b);
            return sl_yaml_nomem(err, path);
        }
    }
    if (ferror(f)) {
        int e = errno;
        fclose(f);
        sl_buf_free(&b);
        return sl_err_set(err, SL_E_CONFIG, "could not read config file \"%s\": %s", path,
                          strerror(e));
    }
    fclose(f);
    int rc = sl_yaml_load_mem(path, b.data ? b.data : "", b.len, out, err);
    sl_buf_free(&b);
    return rc;
}

/* ---- accessors ---- */

const struct sl_yaml_entry *sl_yaml_entry_of(const struct sl_yaml_node *map, const char *key)
{
    if (!map || map->type != SL_YAML_MAP)
        return NULL;
    return find_entry(map, key);
}

const struct sl_yaml_node *sl_yaml_get(const struct sl_yaml_node *map, const char *key)
{
    const struct sl_yaml_entry *e = sl_yaml_entry_of(map, key);
    return e ? e->value : NULL;
}

const char *sl_yaml_str(const struct sl_yaml_node *n)
{
    return n && n->type == SL_YAML_SCALAR && !n->is_null ? n->value : NULL;
}

void sl_yaml_describe(const struct sl_yaml_node *n, char *buf, size_t len)
{
    const size_t max_shown = 48;
    struct sl_buf b;

    if (!len)
        return;
    if (!n || (n->type == SL_YAML_SCALAR && n->is_null && n->len == 0)) {
        snprintf(buf, len, "nothing");
        return;
    }
    if (n->type == SL_YAML_MAP) {
        snprintf(buf, len, "a mapping");
        return;
    }
    if (n->type == SL_YAML_SEQ) {
        snprintf(buf, len, "a sequence");
        return;
    }
    if (n->is_null) {
        snprintf(buf, len, "null");
        return;
    }
    sl_buf_init(&b);
    sl_buf_putc(&b, '"');
    for (size_t i = 0; i < n->len && i < max_shown; i++) {
        unsigned char c = (unsigned char)n->value[i];
        if (c == '"' || c == '\\')
            sl_buf_printf(&b, "\\%c", c);
        else if (c == '\n')
            sl_buf_puts(&b, "\\n");
        else if (c == '\t')
            sl_buf_puts(&b, "\\t");
        else if (c < 0x20 || c == 0x7F)
            sl_buf_printf(&b, "\\x%02X", c);
        else
            sl_buf_putc(&b, (char)c);
    }
    sl_buf_puts(&b, n->len > max_shown ? "...\"" : "\"");
    snprintf(buf, len, "%s", b.data && !b.oom ? b.data : "a string");
    sl_buf_free(&b);
}

long sl_yaml_closest(const char *word, const char *const *names, size_t n)
{
    enum { MAXLEN = 64 };
    size_t wl = strlen(word);
    long best = -1;
    size_t best_d = 3;

    if (wl == 0 || wl >= MAXLEN)
        return -1;
    for (size_t k = 0; k < n; k++) {
        const char *s = names[k];
        size_t sl = strlen(s);
        size_t rows[3][MAXLEN + 1];     /* i-2, i-1, i: optimal string alignment */
        if (sl >= MAXLEN || (sl > wl ? sl - wl : wl - sl) >= best_d)
            continue;
        for (size_t j = 0; j <= sl; j++)
            rows[1][j] = j;
        for (size_t i = 1; i <= wl; i++) {
            size_t *cur = rows[(i + 1) % 3], *prev = rows[i % 3], *prev2 = rows[(i + 2) % 3];
            cur[0] = i;
            for (size_t j = 1; j <= sl; j++) {
                size_t cost = word[i - 1] == s[j - 1] ? 0 : 1;
                size_t d = prev[j] + 1;
                if (cur[j - 1] + 1 < d)
                    d = cur[j - 1] + 1;
                if (prev[j - 1] + cost < d)
                    d = prev[j - 1] + cost;
                if (i > 1 && j > 1 && word[i - 1] == s[j - 2] && word[i - 2] == s[j - 1] &&
                    prev2[j - 2] + 1 < d)
                    d = prev2[j - 2] + 1;
                cur[j] = d;
            }
        }
        size_t d = rows[(wl + 1) % 3][sl];
        if (d < best_d && d < wl) {
            best_d = d;
            best = (long)k;
        }
    }
    return best;
}
