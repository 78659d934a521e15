/* engine/meta.c: SQL on a destination through its ops (see meta.h). */
#include "engine/meta.h"

#include <string.h>

char *sl_meta_sql(const struct sl_dest_ops *ops, struct sl_dest *d, const char *tmpl)
{
    struct sl_buf b;
    sl_buf_init(&b);
    for (const char *s = tmpl; *s;) {
        const char *close;
        if (*s == '{' && (close = strchr(s, '}')) && close - s < 32) {
            char name[32];
            memcpy(name, s + 1, (size_t)(close - s - 1));
            name[close - s - 1] = '\0';
            const char *q = ops->meta_table(d, name);
            if (!q) {
                sl_buf_free(&b);
                return NULL;
            }
            sl_buf_puts(&b, q);
            s = close + 1;
        } else {
            sl_buf_putc(&b, *s++);
        }
    }
    return b.oom ? (sl_buf_free(&b), NULL) : sl_buf_steal(&b);
}

int sl_meta_exec(const struct sl_dest_ops *ops, struct sl_dest *d, const char *tmpl, int n,
                 const char *const *p, struct sl_rows *out, struct sl_err *err)
{
    char *sql = sl_meta_sql(ops, d, tmpl);
    if (!sql)
        return sl_err_nomem(err);
    int rc = ops->exec(d, sql, n, p, out, err);
    sl_free(sql);
    return rc;
}

int sl_meta_exec_count(const struct sl_dest_ops *ops, struct sl_dest *d, const char *tmpl,
                       int n, const char *const *p, int64_t *changed, struct sl_err *err)
{
    char *sql = sl_meta_sql(ops, d, tmpl);
    if (!sql)
        return sl_err_nomem(err);
    int rc = ops->exec_count(d, sql, n, p, changed, err);
    sl_free(sql);
    return rc;
}

int sl_meta_exec_buf(const struct sl_dest_ops *ops, struct sl_dest *d, const struct sl_buf *b,
                     int n, const char *const *p, struct sl_rows *out, int64_t *changed,
                     struct sl_err *err)
{
    if (b->oom || !b->data)
        return sl_err_nomem(err);
    if (changed)
        return ops->exec_count(d, b->data, n, p, changed, err);
    return ops->exec(d, b->data, n, p, out, err);
}
