/* sources/source.c: the registry of sources, and the row-pass helpers every
 * source shares. */
#include "sources/source.h"

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
