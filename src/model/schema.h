/* model/schema.h: the shapes data takes on its way through: a table's
 * columns (sl_schema), one value of a row (sl_cell), rows read back from a
 * database (sl_rows), and the names that are sluice's own. Sources make
 * them, gates read them, destinations write them, the engine moves them. */
#ifndef SL_SCHEMA_H
#define SL_SCHEMA_H

#include <stddef.h>
#include <stdint.h>

#include "base/value.h"

struct sl_column {
    char *name;
    enum sl_type type;
};

struct sl_schema {
    struct sl_column *cols;   /* without _sluice_batch */
    size_t ncols;
};
void sl_schema_free(struct sl_schema *s);
int sl_schema_add(struct sl_schema *s, const char *name, enum sl_type t);
/* *to = a copy of from (to's columns freed first); -1 = out of memory. */
int sl_schema_copy(struct sl_schema *to, const struct sl_schema *from);
long sl_schema_find(const struct sl_schema *s, const char *name);  /* index or -1 */
/* The same for a name of n bytes (not NUL-terminated). */
long sl_schema_find_n(const struct sl_schema *s, const char *name, size_t n);

/* One canonical value (see base/value.h); null = SQL NULL. */
struct sl_cell {
    const char *s;
    size_t n;
    int null;
};

/* Query results as text, row-major; NULL cells are NULL pointers. */
struct sl_rows {
    size_t nrows, ncols;
    char **names;
    char **cells;
};
void sl_rows_free(struct sl_rows *r);
static inline const char *sl_rows_get(const struct sl_rows *r, size_t row, size_t col)
{
    return r->cells[row * r->ncols + col];
}
/* A cell read as a whole number; 0 when the row is past the last or the
 * cell is NULL. */
int64_t sl_rows_int(const struct sl_rows *r, size_t row, size_t col);

/* sluice's own names: its tables live in schema _sluice (PostgreSQL) or are
 * named _sluice_* (SQLite), its column is _sluice_batch. A data table or
 * column may not take such a name on either warehouse (compared without
 * case, as SQLite compares names), or a load would write over sluice's
 * ledger or its batch column. The WHY texts end the refusals, so `sluice
 * check` and a failed load say it in the same words. */
int sl_reserved_table(const char *table);   /* schema or table part starts with _sluice */
int sl_reserved_column(const char *name);   /* starts with _sluice_ */
#define SL_RESERVED_TABLE_WHY \
    "names starting with _sluice are sluice's own (schema _sluice, tables _sluice_*); " \
    "choose another name"
/* Columns of a change (cdc): which change (I, U, D) and the columns it did
 * not carry (a JSON array of names); they travel with a cdc load and are
 * never stored. A soft-deleted row keeps the delete's time in the last. */
#define SL_CDC_OP_COL "_sluice_op"
#define SL_CDC_UNCHANGED_COL "_sluice_unchanged"
#define SL_DELETED_AT_COL "_sluice_deleted_at"

#define SL_RESERVED_COLUMN_WHY \
    "names starting with _sluice_ are sluice's own columns (such as _sluice_batch); " \
    "rename the column"

#endif
