/* model/dialect.h: what differs between the SQL of two databases, said by
 * the database's plugin (pg/dialect.c for PostgreSQL, sources and the
 * destination alike; destinations/sqlite.c for SQLite) as one const struct
 * of callbacks and data. engine/reconcile.c builds its queries on each side
 * through it and never asks which database it talks to.
 *
 * Row checksums must agree for equal rows on any two sides:
 *   - row_hash, every dialect: each value as text in one agreed form per
 *     type (the form PostgreSQL prints in a UTC session; a double as the hex
 *     of its IEEE bits, 0 and NaN each one form), the texts as PostgreSQL's
 *     ROW(...)::text prints them, MD5, the first 8 bytes big-endian as a
 *     signed 64-bit integer;
 *   - typed_row_hash (optional): a cheaper checksum of the dialect's own,
 *     used when both sides have the same function there.
 * `sum` adds checksums; reconcile takes the sum modulo 2^64. Keys travel
 * as canonical texts (base/value.h) and are compared, on each side, as the
 * warehouse's types (text in byte order). */
#ifndef SL_DIALECT_H
#define SL_DIALECT_H

#include <stddef.h>

#include "base/mem.h"
#include "base/value.h"

struct sl_dialect {
    const char *true_sql;           /* a condition always true: "true", "1" */
    const char *sum;                /* the aggregate summing checksums */
    /* `expr` read as type t. */
    void (*cast)(struct sl_buf *b, const char *expr, enum sl_type t);
    /* The agreed checksum of a row of n values (SQL expressions `vals`, of
     * the warehouse types `types`): a signed 64-bit integer. */
    void (*row_hash)(struct sl_buf *b, const enum sl_type *types, char *const *vals,
                     size_t n);
    /* A cheaper checksum both sides compute alike when they share this
     * function; NULL = none. */
    void (*typed_row_hash)(struct sl_buf *b, const enum sl_type *types, char *const *vals,
                           size_t n);
    /* The canonical text of key value `v` (an SQL expression of type t). */
    void (*key_text)(struct sl_buf *b, enum sl_type t, const char *v);
    /* `v` as keys compare: in the warehouse type's order, text in byte order. */
    void (*key_order)(struct sl_buf *b, enum sl_type t, const char *v);
    /* Placeholder $n of a value of type t, compared as key_order compares. */
    void (*param)(struct sl_buf *b, int n, enum sl_type t);
    /* The text to bind for canonical value `v` of type t, and a key read
     * back from a result as its canonical text; NULL = the text as it is. */
    const char *(*param_value)(enum sl_type t, const char *v);
    const char *(*key_value)(enum sl_type t, const char *v);
    /* The key (nkey columns read as `ord`, by key_order, of `types`) `op`
     * (">=" or "<", compared as a row: the first column first) the key in
     * parameters $first .. $first + nkey - 1. */
    void (*key_cond)(struct sl_buf *b, const enum sl_type *types, char *const *ord,
                     size_t nkey, const char *op, int first);
    /* SELECT of the nkey texts of each element of a JSON array of key
     * arrays bound as $n ("SELECT e->>0, e->>1 FROM ... e"). Needed of a
     * source that compares as far as its cursor (sl_source_sql.where, for
     * rows pending), NULL elsewhere. */
    void (*json_keys)(struct sl_buf *b, size_t nkey, int n);
};

#endif
