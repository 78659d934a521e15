/* pg/dialect.c: PostgreSQL's SQL for reconcile (see model/dialect.h).
 *
 * The typed checksum uses PostgreSQL's own typed hash functions
 * (hashint8extended, hash_numeric_extended, timestamp_hash_extended ...) of
 * each value read as the type the warehouse stores it as, chained (the
 * previous columns' checksum is the seed): cheap enough to run over
 * millions of rows, and used when both sides are PostgreSQL. Text compares
 * in byte order (COLLATE "C"). */
#include "pg/dialect.h"

#include "pg/types.h"

static void cast(struct sl_buf *b, const char *expr, enum sl_type t)
{
    sl_buf_printf(b, "(%s)::%s", expr, sl_pg_type_name(t));
}

/* One value's typed hash, seeded by `prev`. A NULL hashes as a sentinel
 * value of the type (text "\x01", the lowest bigint, -infinity ...), which
 * keeps the chain to one function call a column. */
static void typed_hash(struct sl_buf *b, enum sl_type t, const char *v, const char *prev)
{
    switch (t) {
    case SL_T_BIGINT:
        sl_buf_printf(b, "hashint8extended(coalesce((%s)::int8, '-9223372036854775808'), %s)",
                      v, prev);
        break;
    case SL_T_NUMERIC:
        sl_buf_printf(b, "hash_numeric_extended(coalesce((%s)::numeric,"
                      " '-0.000000000000000000000000000000012345678901'), %s)", v, prev);
        break;
    case SL_T_DOUBLE:
        sl_buf_printf(b, "hashfloat8extended(coalesce((%s)::float8, '-1.2345678901234567e-300'),"
                      " %s)", v, prev);
        break;
    case SL_T_BOOL:
        sl_buf_printf(b, "hashint8extended(coalesce((%s)::bool::int4, 2), %s)", v, prev);
        break;
    case SL_T_DATE:
        sl_buf_printf(b, "hashint8extended(coalesce((%s)::date - date '2000-01-01',"
                      " -2147483648), %s)", v, prev);
        break;
    case SL_T_TIMESTAMPTZ:
        sl_buf_printf(b, "timestamp_hash_extended(coalesce((%s)::timestamptz, '-infinity')"
                      " AT TIME ZONE 'UTC', %s)", v, prev);
        break;
    case SL_T_JSON:
        sl_buf_printf(b, "jsonb_hash_extended(coalesce((%s)::jsonb, '\"\\u0001\"'), %s)", v,
                      prev);
        break;
    default:
        sl_buf_printf(b, "hashtextextended(coalesce((%s)::text, E'\\x01') COLLATE \"C\", %s)", v,
                      prev);
        break;
    }
}

static void typed_row_hash(struct sl_buf *b, const enum sl_type *types, char *const *vals,
                           size_t n)
{
    struct sl_buf chain;
    sl_buf_init(&chain);
    sl_buf_puts(&chain, "1");
    for (size_t i = 0; i < n; i++) {
        struct sl_buf next;
        sl_buf_init(&next);
        typed_hash(&next, types[i], vals[i], chain.data ? chain.data : "1");
        sl_buf_free(&chain);
        chain = next;
    }
    if (chain.oom)
        b->oom = 1;
    else
        sl_buf_puts(b, chain.data);
    sl_buf_free(&chain);
}

/* The agreed text of one value (model/dialect.h). */
static void agreed_text(struct sl_buf *b, enum sl_type t, const char *v)
{
    switch (t) {
    case SL_T_DOUBLE:
        sl_buf_printf(b, "CASE WHEN (%s)::float8 = 0 THEN '0000000000000000'"
                      " WHEN (%s)::float8 = 'NaN'::float8 THEN '7ff8000000000000'"
                      " ELSE encode(float8send((%s)::float8), 'hex') END", v, v, v);
        break;
    case SL_T_TEXT:
        sl_buf_printf(b, "(%s)::text", v);
        break;
    default:
        sl_buf_printf(b, "(%s)::%s::text", v, sl_pg_type_name(t));
        break;
    }
}

static void row_hash(struct sl_buf *b, const enum sl_type *types, char *const *vals, size_t n)
{
    sl_buf_puts(b, "('x' || substr(md5(ROW(");
    for (size_t i = 0; i < n; i++) {
        if (i)
            sl_buf_puts(b, ", ");
        agreed_text(b, types[i], vals[i]);
    }
    /* ROW of one value is still a row: (x) */
    sl_buf_puts(b, ")::text), 1, 16))::bit(64)::int8");
}

static void key_text(struct sl_buf *b, enum sl_type t, const char *v)
{
    if (t == SL_T_TIMESTAMPTZ)
        sl_buf_printf(b, "to_char((%s)::timestamptz AT TIME ZONE 'UTC',"
                      " 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')", v);
    else
        sl_buf_printf(b, "(%s)::%s::text", v, sl_pg_type_name(t));
}

static void key_order(struct sl_buf *b, enum sl_type t, const char *v)
{
    sl_buf_printf(b, "(%s)::%s%s", v, sl_pg_type_name(t), t == SL_T_TEXT ? " COLLATE \"C\"" : "");
}

static void param(struct sl_buf *b, int n, enum sl_type t)
{
    sl_buf_printf(b, "$%d::%s%s", n, sl_pg_type_name(t), t == SL_T_TEXT ? " COLLATE \"C\"" : "");
}

/* A row comparison: (a, b) >= ($1, $2) is lexicographic. */
static void key_cond(struct sl_buf *b, const enum sl_type *types, char *const *ord, size_t nkey,
                     const char *op, int first)
{
    sl_buf_putc(b, '(');
    for (size_t k = 0; k < nkey; k++)
        sl_buf_printf(b, "%s%s", k ? ", " : "", ord[k]);
    sl_buf_printf(b, ") %s (", op);
    for (size_t k = 0; k < nkey; k++) {
        if (k)
            sl_buf_puts(b, ", ");
        param(b, first + (int)k, types[k]);
    }
    sl_buf_putc(b, ')');
}

static void json_keys(struct sl_buf *b, size_t nkey, int n)
{
    sl_buf_puts(b, "SELECT ");
    for (size_t k = 0; k < nkey; k++)
        sl_buf_printf(b, "%se->>%zu", k ? ", " : "", k);
    sl_buf_printf(b, " FROM json_array_elements($%d::json) e", n);
}

const struct sl_dialect sl_pg_dialect = {
    .true_sql = "true",
    .sum = "sum",
    .cast = cast,
    .row_hash = row_hash,
    .typed_row_hash = typed_row_hash,
    .key_text = key_text,
    .key_order = key_order,
    .param = param,
    .param_value = NULL,
    .key_value = NULL,
    .key_cond = key_cond,
    .json_keys = json_keys,
};
