/* model/protect.h: protected columns, `protect: { email: hash, ssn: drop,
 * phone: mask }` on a table.
 *
 * The protection is applied as rows are read, before anything else sees
 * them: the engine's one pass over a batch's records (sources/source.h,
 * sl_rowsrc_protect) for every source, and the events source on each event's
 * own text (its json column, the dead letter table, held batches), so the
 * raw value never reaches a table, the ledger, a log line or the API.
 *   hash  HMAC-SHA256 of the value's bytes under the pipeline's key
 *         (SLUICE_HASH_KEY, or the variable `protect_key:` names), as 64
 *         lowercase hex digits: deterministic, so joins and keys still work
 *   drop  never stored: the column is not in the table
 *   mask  every character (UTF-8 code point) but the last 4 replaced by '*';
 *         a value of 4 characters or fewer becomes all '*'
 * NULL stays NULL. Hashed and masked columns are text. */
#ifndef SL_PROTECT_H
#define SL_PROTECT_H

#include <stddef.h>

#include "base/mem.h"
#include "model/config.h"
#include "model/schema.h"

/* The default environment variable of the hash key. */
#define SL_PROTECT_KEY_ENV "SLUICE_HASH_KEY"
/* Characters a mask keeps at the end. */
#define SL_MASK_KEEP 4

/* The protection of column name[0..n) of table t, or NULL. */
const struct sl_protect_col *sl_protect_find(const struct sl_table_cfg *t, const char *name,
                                             size_t n);
/* Append the protected form of v[0..n) to out: 0, or -1 (out of memory, or
 * libcrypto failed; hash without a key). SL_PROTECT_DROP appends nothing. */
int sl_protect_value(const struct sl_pipeline_cfg *p, enum sl_protect_kind kind, const char *v,
                     size_t n, struct sl_buf *out);
/* mask of v[0..n) (UTF-8; an invalid byte counts as one character). */
int sl_protect_mask(const char *v, size_t n, struct sl_buf *out);
/* Columns of a source's schema as the table stores them: dropped ones
 * removed, hashed and masked ones text. -1 = out of memory. */
int sl_protect_schema(const struct sl_table_cfg *t, struct sl_schema *s);
/* What protection `kind` does, for `sluice check`'s plan. */
const char *sl_protect_doc(enum sl_protect_kind kind);

#endif
