/* destinations/destination.c: the destination registry, how many may write
 * at once, and the key check both destinations make when they adopt a table. */
#include "destinations/destination.h"

#include <string.h>
#include <strings.h>

#include "base/mem.h"

static const struct sl_dest_ops *const dests[] = {
    &sl_dest_postgres,
    &sl_dest_sqlite,
};

const struct sl_dest_ops *sl_dest_for_url(const char *url, struct sl_err *err)
{
    if (strncmp(url, "postgresql://", 13) == 0 || strncmp(url, "postgres://", 11) == 0)
        return dests[0];
    if (strncmp(url, "sqlite://", 9) == 0)
        return dests[1];
    sl_err_set(err, SL_E_CONFIG,
               "unsupported connection url \"%s\" (use postgresql://... or sqlite://path)", url);
    return NULL;
}

int sl_dest_open(const char *url, const char *password, const char *base_dir,
                 const struct sl_dest_ops **ops, struct sl_dest **out, struct sl_err *err)
{
    const struct sl_dest_ops *o = sl_dest_for_url(url, err);
    if (!o)
        return -1;
    *ops = o;
    return o->connect(out, url, password, base_dir, err);
}

int sl_dest_writers(const struct sl_dest_ops *ops, int wanted)
{
    int most = ops ? ops->dialect->max_writers : 0;
    return most > 0 && wanted > most ? most : wanted;
}

static int is_primary(const char *v)
{
    return v && (strcmp(v, "t") == 0 || strcmp(v, "1") == 0);
}

/* ("a", "b") */
static void key_text(struct sl_buf *b, const char *const *cols, size_t n)
{
    sl_buf_putc(b, '(');
    for (size_t i = 0; i < n; i++)
        sl_buf_printf(b, "%s%s", i ? ", " : "", cols[i]);
    sl_buf_putc(b, ')');
}

int sl_dest_key_fits(const char *table, const struct sl_rows *keys, const char *const *pk,
                     size_t npk, struct sl_err *err)
{
    struct sl_buf has, want;
    size_t start = 0, nunique = 0;
    int primary = 0;

    for (size_t r = 0; r <= keys->nrows; r++) {
        if (r < keys->nrows && r > start &&
            strcmp(sl_rows_get(keys, r, 0), sl_rows_get(keys, start, 0)) == 0)
            continue;
        if (r > start) {
            /* rows start..r-1 are one key: the same columns as pk? */
            size_t n = r - start, hit = 0;
            for (size_t k = 0; k < npk; k++)
                for (size_t i = start; i < r; i++)
                    if (strcmp(sl_rows_get(keys, i, 2), pk[k]) == 0) {
                        hit++;
                        break;
                    }
            if (n == npk && hit == npk)
                return 0;
        }
        start = r;
    }

    sl_buf_init(&has);
    sl_buf_init(&want);
    key_text(&want, pk, npk);
    for (size_t r = 0; r < keys->nrows; r = start) {
        const char *id = sl_rows_get(keys, r, 0);
        const char *cols[64];
        size_t n = 0;
        for (start = r; start < keys->nrows && strcmp(sl_rows_get(keys, start, 0), id) == 0;
             start++)
            if (n < 64)
                cols[n++] = sl_rows_get(keys, start, 2);
        if (is_primary(sl_rows_get(keys, r, 1))) {
            primary = 1;
            sl_buf_puts(&has, "primary key ");
        } else {
            sl_buf_puts(&has, nunique++ ? ", " : (primary ? " and unique key " : "unique key "));
        }
        key_text(&has, cols, n);
    }
    if (has.oom || want.oom) {
        sl_buf_free(&has);
        sl_buf_free(&want);
        return sl_err_set(err, SL_E_NOMEM, "out of memory");
    }
    if (keys->nrows)
        sl_err_set(err, SL_E_DEST,
                   "table \"%s\" in the warehouse has %s, not primary_key %s as the config"
                   " says; this load merges rows on primary_key, which must be the table's"
                   " primary key or a unique index on exactly those columns: set primary_key"
                   " to one of the table's keys, or add a unique index on %s",
                   table, has.data, want.data, want.data);
    else
        sl_err_set(err, SL_E_DEST,
                   "table \"%s\" in the warehouse has no primary key or unique index, and"
                   " this load merges rows on primary_key %s: give the table a primary key"
                   " or unique index on %s",
                   table, want.data, want.data);
    sl_buf_free(&has);
    sl_buf_free(&want);
    return -1;
}
