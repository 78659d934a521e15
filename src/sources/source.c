/* sources/source.c: the registry of sources, the row-pass helpers every
 * source shares, and the lines of a source's probe (struct sl_probe). */
#include "sources/source.h"

#include <stdarg.h>
#include <string.h>

#include "base/json.h"
#include "base/mem.h"
#include "model/protect.h"

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

void sl_rowsrc_protect(struct sl_rowsrc *r, const struct sl_pipeline_cfg *p,
                       const struct sl_table_cfg *t)
{
    if (!t->nprotect)
        return;
    r->prot_p = p;
    r->prot_t = t;
    sl_buf_init(&r->pv);
}

static int any_dropped(const struct sl_table_cfg *t)
{
    for (size_t i = 0; i < t->nprotect; i++)
        if (t->protect[i].kind == SL_PROTECT_DROP)
            return 1;
    return 0;
}

/* A cdc change's list of the columns it left out (a JSON array of names)
 * without the dropped ones: they are no columns of the table. */
static int unchanged_without_dropped(const struct sl_table_cfg *t, const struct sl_field *f,
                                     struct sl_buf *out)
{
    struct sl_json_token tk;
    struct sl_buf name;
    size_t i = f->len ? sl_json_skip_ws(f->val, f->len, 1) : 0;
    int n = 0;

    sl_buf_init(&name);
    sl_buf_putc(out, '[');
    while (f->len && f->val[0] == '[' && i < f->len && f->val[i] != ']') {
        if (sl_json_scan(f->val + i, f->len - i, &tk, NULL, NULL, 0) < 0 ||
            tk.kind != SL_JSON_STRING)
            break;
        sl_buf_reset(&name);
        sl_json_unescape(f->val + i + 1, tk.len - 2, &name, NULL, NULL, 0);
        const struct sl_protect_col *pc = sl_protect_find(t, name.data ? name.data : "",
                                                          name.len);
        if (!pc || pc->kind != SL_PROTECT_DROP) {
            if (n++)
                sl_buf_putc(out, ',');
            sl_buf_append(out, f->val + i, tk.len);
        }
        i = sl_json_skip_ws(f->val, f->len, i + tk.len);
        if (i < f->len && f->val[i] == ',')
            i = sl_json_skip_ws(f->val, f->len, i + 1);
    }
    sl_buf_putc(out, ']');
    int oom = name.oom;
    sl_buf_free(&name);
    return oom || out->oom ? -1 : 0;
}

/* The record with its protected columns protected, into r->pf / r->pv. */
static int protect_record(struct sl_rowsrc *r, struct sl_record *rec, struct sl_err *err)
{
    const struct sl_table_cfg *t = r->prot_t;
    if (rec->nfields > r->pcap) {
        struct sl_field *f = sl_realloc(r->pf, rec->nfields * sizeof *f);
        if (!f)
            return sl_err_nomem(err);
        r->pf = f;
        r->pcap = rec->nfields;
    }
    /* values first (the buffer may move), pointers after */
    size_t *off = NULL, no = 0;
    sl_buf_reset(&r->pv);
    size_t n = 0;
    for (size_t i = 0; i < rec->nfields; i++) {
        const struct sl_field *f = &rec->fields[i];
        const struct sl_protect_col *pc = sl_protect_find(t, f->name, f->name_len);
        int unch = !pc && f->name_len == strlen(SL_CDC_UNCHANGED_COL) &&
                   memcmp(f->name, SL_CDC_UNCHANGED_COL, f->name_len) == 0 && !f->is_null &&
                   any_dropped(t);
        if (pc && pc->kind == SL_PROTECT_DROP)
            continue;
        r->pf[n] = *f;
        if ((pc || unch) && !f->is_null) {
            size_t at = r->pv.len;
            if ((unch ? unchanged_without_dropped(t, f, &r->pv)
                      : sl_protect_value(r->prot_p, pc->kind, f->val, f->len, &r->pv)) < 0) {
                sl_free(off);
                return sl_err_set(err, SL_E_NOMEM, "out of memory protecting column \"%.*s\"",
                                  (int)f->name_len, f->name);
            }
            if (!off && !(off = sl_calloc(rec->nfields, sizeof *off)))
                return sl_err_nomem(err);
            off[no++] = n;
            /* where the value starts, kept in len until the buffer settles */
            r->pf[n].val = NULL;
            r->pf[n].len = at;
            if (pc)
                r->pf[n].lex = SL_LEX_STRING;
        }
        n++;
    }
    size_t end = r->pv.len;
    for (size_t k = no; k-- > 0;) {
        struct sl_field *f = &r->pf[off[k]];
        size_t at = f->len;
        f->val = r->pv.data + at;
        f->len = end - at;
        end = at;
    }
    sl_free(off);
    rec->fields = r->pf;
    rec->nfields = n;
    return 0;
}

int sl_rowsrc_next(struct sl_rowsrc *r, struct sl_record *rec, struct sl_err *err)
{
    int rc = r->fmt->next(r->rd, rec, err);
    if (rc == 1 && r->prot_t && protect_record(r, rec, err) < 0)
        return -1;
    return rc;
}

size_t sl_rowsrc_columns(struct sl_rowsrc *r, const struct sl_field **out)
{
    *out = NULL;
    size_t n = r->fmt->columns ? r->fmt->columns(r->rd, out) : 0;
    if (!n || !r->prot_t || !any_dropped(r->prot_t))
        return n;
    /* a header's dropped names are no columns either */
    if (n > r->pcap) {
        struct sl_field *f = sl_realloc(r->pf, n * sizeof *f);
        if (!f)
            return n;   /* the names only; a dropped one is refused as not a column */
        r->pf = f;
        r->pcap = n;
    }
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        const struct sl_protect_col *pc = sl_protect_find(r->prot_t, (*out)[i].name,
                                                          (*out)[i].name_len);
        if (!pc || pc->kind != SL_PROTECT_DROP)
            r->pf[k++] = (*out)[i];
    }
    *out = r->pf;
    return k;
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
    if (r->prot_t)
        sl_buf_free(&r->pv);
    sl_free(r->pf);
    r->pf = NULL;
    r->pcap = 0;
    r->prot_t = NULL;
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
