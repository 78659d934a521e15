/* engine/meta.h: the SQL the engine runs on a destination through its ops.
 *
 * sluice's own tables (batches, files, cursors, snapshots ...) are named
 * in SQL templates as {name}; the destination's meta_table() says what the
 * table is called there: {batches} is "_sluice"."batches" in PostgreSQL,
 * "_sluice_batches" in SQLite. SQL about data tables is assembled in an
 * sl_buf with names quoted by the destination, values always $n parameters
 * (docs/invariants.md #5). Used by the ledger, rollback and snapshots. */
#ifndef SL_META_H
#define SL_META_H

#include <stdint.h>

#include "base/mem.h"
#include "destinations/destination.h"

/* The template with every {name} replaced by the destination's name of
 * sluice's table `name`; sl_free it; NULL = out of memory. */
char *sl_meta_sql(const struct sl_dest_ops *ops, struct sl_dest *d, const char *tmpl);

/* Run a template (sl_meta_sql) with parameters p[0..n); rows into `out`
 * (NULL: none wanted). */
int sl_meta_exec(const struct sl_dest_ops *ops, struct sl_dest *d, const char *tmpl, int n,
                 const char *const *p, struct sl_rows *out, struct sl_err *err);

/* Run a template; *changed = the rows it changed. */
int sl_meta_exec_count(const struct sl_dest_ops *ops, struct sl_dest *d, const char *tmpl,
                       int n, const char *const *p, int64_t *changed, struct sl_err *err);

/* Run the SQL assembled in `b` (an append to it that ran out of memory is
 * the error here): with `changed`, *changed = the rows it changed; else
 * rows into `out` (NULL: none wanted). */
int sl_meta_exec_buf(const struct sl_dest_ops *ops, struct sl_dest *d, const struct sl_buf *b,
                     int n, const char *const *p, struct sl_rows *out, int64_t *changed,
                     struct sl_err *err);

#endif
