/* sources/source.c: the registry of sources, the row-pass helpers every
 * source shares, and the lines of a source's probe (struct sl_probe). */
#include "sources/source.h"

#include <stdarg.h>
#include <string.h>

#include "base/mem.h"

static const struct sl_source_ops *const sources[] = {
    &sl_source_files,
    &sl_source_postgres,
    &sl_source_http,
    &sl_source_jetstream,
};

#define NSOURCES (sizeof sources / sizeof sources[0])

const struct sl_source_ops *sl_source_at(size_t i)
{
    return i < NSOURCES ? sources[i] : NULL;
}

const struct sl_source_ops *sl_source_find(const char *kind, struct sl_err *err)
{
    struct sl_buf names;

    for (size_t i = 0; i < NSOURCES; i++)
        if (strcmp(sources[i]->kind, kind) == 0)
            return sources[i];
    sl_buf_init(&names);
    for (size_t i = 0; i < NSOURCES; i++)
        sl_buf_printf(&names, "%s%s", i ? ", " : "", sources[i]->kind);
    sl_err_set(err, SL_E_CONFIG, "unknown source kind \"%s\" (there are: %s)", kind,
               names.data ? names.data : "");
    sl_buf_free(&names);
    return NULL;
}

int sl_rowsrc_next(struct sl_rowsrc *r, struct sl_record *rec, struct sl_err *err)
{
    return r->fmt->next(r->rd, rec, err);
}

size_t sl_rowsrc_columns(struct sl_rowsrc *r, const struct sl_field **out)
{
    *out = NULL;
    return r->fmt->columns ? r->fmt->columns(r->rd, out) : 0;
}

int sl_rowsrc_raw(struct sl_rowsrc *r, const char **text, size_t *len, long *line,
                  long *index)
{
    return r->fmt->raw ? r->fmt->raw(r->rd, text, len, line, index) : 0;
}

void sl_source_sql_free(struct sl_source_sql *q)
{
    if (!q)
        return;
    for (size_t i = 0; q->exprs && i < q->cols.ncols; i++)
        sl_free(q->exprs[i]);
    sl_free(q->exprs);
    sl_schema_free(&q->cols);
    for (size_t i = 0; i < q->pk.n; i++)
        sl_free(q->pk.items[i]);
    sl_free(q->pk.items);
    sl_free(q->from);
    sl_free(q->where);
    memset(q, 0, sizeof *q);
}

void sl_rowsrc_close(struct sl_rowsrc *r)
{
    if (r->rd)
        r->fmt->close(r->rd);
    if (r->st)
        sl_stream_close(r->st);
    r->rd = NULL;
    r->st = NULL;
}

void sl_probe_add(struct sl_probe *p, const char *check, const char *table,
                  enum sl_probe_status status, const char *fix, const char *fmt, ...)
{
    struct sl_probe_item *items = sl_realloc(p->items, (p->n + 1) * sizeof *items);
    if (!items) {
        p->oom = 1;
        return;
    }
    p->items = items;
    struct sl_probe_item *it = &items[p->n];
    struct sl_buf d;
    va_list ap;
    sl_buf_init(&d);
    va_start(ap, fmt);
    sl_buf_vprintf(&d, fmt, ap);
    va_end(ap);
    /* one line: libpq's messages hold newlines and tabs */
    size_t o = 0;
    for (size_t i = 0; !d.oom && i < d.len; i++) {
        char ch = d.data[i] == '\n' || d.data[i] == '\t' ? ' ' : d.data[i];
        if (ch != ' ' || (o && d.data[o - 1] != ' '))
            d.data[o++] = ch;
    }
    while (o && d.data[o - 1] == ' ')
        o--;
    if (!d.oom && d.data)
        d.data[d.len = o] = '\0';
    char *detail = d.oom ? NULL : d.data ? sl_buf_steal(&d) : sl_strdup("");
    *it = (struct sl_probe_item){sl_strdup(check), table ? sl_strdup(table) : NULL, status,
                                 detail, fix ? sl_strdup(fix) : NULL};
    sl_buf_free(&d);
    if (!it->check || !it->detail || (table && !it->table) || (fix && !it->fix)) {
        sl_free(it->check);
        sl_free(it->table);
        sl_free(it->detail);
        sl_free(it->fix);
        p->oom = 1;
        return;
    }
    p->n++;
}

size_t sl_probe_missing(const struct sl_probe *p)
{
    size_t n = 0;
    for (size_t i = 0; i < p->n; i++)
        n += p->items[i].status == SL_PROBE_MISSING;
    return n;
}

int sl_probe_fail(const struct sl_probe *p, const char *lead, struct sl_err *err)
{
    struct sl_buf m;
    sl_buf_init(&m);
    sl_buf_puts(&m, lead);
    const char *sep = ": ";
    for (size_t i = 0; i < p->n; i++) {
        const struct sl_probe_item *it = &p->items[i];
        if (it->status != SL_PROBE_MISSING)
            continue;
        sl_buf_printf(&m, "%s%s", sep, it->detail);
        if (it->fix)
            sl_buf_printf(&m, " (fix: %s)", it->fix);
        sep = "; ";
    }
    if (p->oom)
        sl_buf_printf(&m, "%sout of memory while looking", sep);
    sl_err_set(err, m.oom ? SL_E_NOMEM : SL_E_SOURCE, "%s", m.oom ? "out of memory" : m.data);
    sl_buf_free(&m);
    return -1;
}

const char *sl_probe_status_name(enum sl_probe_status s)
{
    return s == SL_PROBE_OK ? "ok" : s == SL_PROBE_WARN ? "warning" : "missing";
}

void sl_probe_free(struct sl_probe *p)
{
    for (size_t i = 0; i < p->n; i++) {
        sl_free(p->items[i].check);
        sl_free(p->items[i].table);
        sl_free(p->items[i].detail);
        sl_free(p->items[i].fix);
    }
    sl_free(p->items);
    memset(p, 0, sizeof *p);
}

void sl_slot_state_free(struct sl_slot_state *s)
{
    if (s)
        sl_strlist_free(&s->pub_tables);
}
