/* model/schema.c: see schema.h. */
#include "model/schema.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/mem.h"

void sl_schema_free(struct sl_schema *s)
{
    for (size_t i = 0; i < s->ncols; i++)
        sl_free(s->cols[i].name);
    sl_free(s->cols);
    s->cols = NULL;
    s->ncols = 0;
}

int sl_schema_add(struct sl_schema *s, const char *name, enum sl_type t)
{
    struct sl_column *c = sl_realloc(s->cols, (s->ncols + 1) * sizeof *c);
    if (!c)
        return -1;
    s->cols = c;
    c[s->ncols].name = sl_strdup(name);
    if (!c[s->ncols].name)
        return -1;
    c[s->ncols].type = t;
    s->ncols++;
    return 0;
}

int sl_schema_copy(struct sl_schema *to, const struct sl_schema *from)
{
    sl_schema_free(to);
    for (size_t i = 0; i < from->ncols; i++)
        if (sl_schema_add(to, from->cols[i].name, from->cols[i].type) < 0)
            return -1;
    return 0;
}

long sl_schema_find(const struct sl_schema *s, const char *name)
{
    for (size_t i = 0; i < s->ncols; i++)
        if (strcmp(s->cols[i].name, name) == 0)
            return (long)i;
    return -1;
}

long sl_schema_find_n(const struct sl_schema *s, const char *name, size_t n)
{
    for (size_t i = 0; i < s->ncols; i++)
        if (strlen(s->cols[i].name) == n && memcmp(s->cols[i].name, name, n) == 0)
            return (long)i;
    return -1;
}

void sl_rows_free(struct sl_rows *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->ncols; i++)
        sl_free(r->names ? r->names[i] : NULL);
    for (size_t i = 0; i < r->nrows * r->ncols; i++)
        sl_free(r->cells ? r->cells[i] : NULL);
    sl_free(r->names);
    sl_free(r->cells);
    memset(r, 0, sizeof *r);
}

int64_t sl_rows_int(const struct sl_rows *r, size_t row, size_t col)
{
    const char *v = row < r->nrows ? sl_rows_get(r, row, col) : NULL;
    return v ? strtoll(v, NULL, 10) : 0;
}

int sl_reserved_table(const char *table)
{
    const char *dot = strchr(table, '.');
    return strncasecmp(table, "_sluice", 7) == 0 ||
           (dot && strncasecmp(dot + 1, "_sluice", 7) == 0);
}

int sl_reserved_column(const char *name)
{
    return strncasecmp(name, "_sluice_", 8) == 0;
}
