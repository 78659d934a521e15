/* engine/reconcile.c: compare a database source's table with the warehouse's
 * copy (see reconcile.h).
 *
 * Both sides compute, in their own database, a row count and a sum of row
 * checksums over the columns they share, for the whole table first; when
 * those differ the range is split at SPLIT - 1 key quantiles (row_number()
 * over the primary key, from the side with more rows) and every sub-range is
 * counted and summed in one grouped query per side; ranges that differ are
 * split again until they hold at most LEAF rows, whose keys and checksums are
 * listed and compared. The two sides run each query at the same time.
 *
 * Row checksums must agree for equal rows:
 *   - PostgreSQL on both sides: PostgreSQL's own typed hash functions
 *     (hashint8extended, hash_numeric_extended, timestamp_hash_extended ...)
 *     of each value read as the type the warehouse stores it as, one seed per
 *     column, xor-ed; cheap enough to run over millions of rows;
 *   - SQLite warehouse: every value as text in one agreed form per type (the
 *     forms PostgreSQL prints in a UTC session, doubles as their IEEE bits),
 *     the texts as ROW(...)::text prints them, MD5's first 8 bytes; SQLite
 *     computes the same with sluice_rowhash() (destinations/sqlite.c).
 * Sums are taken modulo 2^64. Keys travel as canonical texts (base/value.h)
 * and are compared, on each side, as the warehouse's types (text in byte
 * order: COLLATE "C" in PostgreSQL, SQLite's BINARY).
 *
 * An incremental table is compared as far as its cursor: source rows at or
 * below the stored cursor; a warehouse row whose key the source has beyond
 * the cursor is pending (the next run loads it), not drift. Values only ever
 * go into SQL as bound parameters (docs/invariants.md #5). */
#include "engine/reconcile.h"

#include <inttypes.h>
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <xxhash.h>

#include "base/log.h"
#include "base/mem.h"
#include "base/stop.h"
#include "destinations/destination.h"
#include "engine/ledger.h"
#include "engine/observer.h"
#include "engine/pipeline.h"
#include "sources/source.h"

#define SPLIT 16            /* sub-ranges a differing range is split into */
#define LEAF 1000           /* rows in a range small enough to compare by key */
#define MAX_DEPTH 16
#define DEFAULT_MAX_KEYS 100000
#define COUNT_CAP 1000000   /* differences counted past the listed ones, at most */

struct side {
    const char *what;       /* "source", "warehouse" */
    int pg;                 /* SQL dialect: PostgreSQL, else SQLite */
    const struct sl_source_ops *sops;
    struct sl_source *src;
    const struct sl_dest_ops *dops;
    struct sl_dest *dst;
    const char *from;
    const char *where;      /* NULL = every row */
    char **val;             /* per compared column: its value as the warehouse type */
    char *hash;             /* the row checksum */
    char **key;             /* per key column: its canonical text */
    char **ord;             /* per key column: what comparisons use */
};

/* A key found to differ: its canonical texts (NULL once past the listing
 * limit: then only counted, by the hash of the key, so a key found missing
 * in one range and extra in another still pairs up) and its row checksum. */
struct krow {
    char **v;
    uint64_t h;
    uint64_t kh;
};

struct kvec {
    struct krow *r;
    size_t n, cap;
};

struct rc {
    struct side sd[2];      /* 0 source, 1 warehouse */
    size_t ncols;
    const char **names;
    enum sl_type *types;
    size_t nkey;
    const char **kcols;
    enum sl_type *ktypes;
    struct kvec missing, extra, different;
    size_t max_keys;
    size_t listed;          /* keys kept with their texts, at most max_keys */
    int truncated;          /* some keys are counted but not listed */
    size_t count_cap;       /* keys counted at most (24 bytes each past the listing) */
    int capped;             /* stopped there: the counts are a floor */
    size_t pending;         /* warehouse rows the source has beyond the cursor */
    int queries;
};

/* ---- small helpers ---- */

static int nomem(struct sl_err *err)
{
    return sl_err_set(err, SL_E_NOMEM, "out of memory");
}

static void free_key(char **v, size_t n)
{
    for (size_t i = 0; v && i < n; i++)
        sl_free(v[i]);
    sl_free(v);
}

static void kvec_free(struct kvec *k, size_t nkey)
{
    for (size_t i = 0; i < k->n; i++)
        free_key(k->r[i].v, nkey);
    sl_free(k->r);
    memset(k, 0, sizeof *k);
}

static uint64_t key_hash(char *const *v, size_t n)
{
    uint64_t h = 0;
    for (size_t i = 0; i < n; i++) {
        const char *s = v[i] ? v[i] : "";
        h = XXH3_64bits_withSeed(s, strlen(s) + 1, h);
    }
    return h;
}

/* Takes ownership of v. */
static int kvec_push_kh(struct kvec *k, char **v, uint64_t h, uint64_t kh)
{
    if (k->n == k->cap) {
        size_t cap = k->cap ? k->cap * 2 : 16;
        struct krow *r = sl_realloc(k->r, cap * sizeof *r);
        if (!r)
            return -1;
        k->r = r;
        k->cap = cap;
    }
    k->r[k->n].v = v;
    k->r[k->n].h = h;
    k->r[k->n].kh = kh;
    k->n++;
    return 0;
}


static int key_cmp_n(char *const *a, char *const *b, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        int c = strcmp(a[i] ? a[i] : "", b[i] ? b[i] : "");
        if (c)
            return c;
    }
    return 0;
}

/* By key; keys counted but not listed last. */
static int krow_cmp(const void *x, const void *y, void *nkey)
{
    const struct krow *a = x, *b = y;
    if (!a->v || !b->v)
        return (a->v == NULL) - (b->v == NULL);
    return key_cmp_n(a->v, b->v, *(const size_t *)nkey);
}

/* Whether sorted k holds x's key. */
static int kvec_has(const struct kvec *k, const struct krow *x, size_t nkey)
{
    size_t lo = 0, hi = k->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = krow_cmp(x, &k->r[mid], &nkey);
        if (c == 0)
            return 1;
        if (c < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    return 0;
}

static int krow_kh_cmp(const void *x, const void *y)
{
    const struct krow *a = x, *b = y;
    return a->kh < b->kh ? -1 : a->kh > b->kh;
}

static void kvec_sort(struct kvec *k, size_t nkey)
{
    if (k->n > 1)
        qsort_r(k->r, k->n, sizeof *k->r, krow_cmp, &nkey);
}

/* A sum or checksum as PostgreSQL (exact numeric) or SQLite (int64) prints
 * it, modulo 2^64. */
static uint64_t mod64(const char *s)
{
    uint64_t v = 0;
    int neg = 0;
    if (!s)
        return 0;
    if (*s == '-') {
        neg = 1;
        s++;
    }
    for (; *s >= '0' && *s <= '9'; s++)
        v = v * 10 + (uint64_t)(*s - '0');
    return neg ? (uint64_t)0 - v : v;
}

static const char *pg_type(enum sl_type t)
{
    switch (t) {
    case SL_T_BOOL: return "boolean";
    case SL_T_BIGINT: return "bigint";
    case SL_T_NUMERIC: return "numeric";
    case SL_T_DOUBLE: return "double precision";
    case SL_T_DATE: return "date";
    case SL_T_TIMESTAMPTZ: return "timestamptz";
    case SL_T_JSON: return "jsonb";
    default: return "text";
    }
}

static char type_letter(enum sl_type t)
{
    switch (t) {
    case SL_T_BOOL: return 'b';
    case SL_T_BIGINT: return 'i';
    case SL_T_NUMERIC: return 'n';
    case SL_T_DOUBLE: return 'd';
    case SL_T_DATE: return 'D';
    case SL_T_TIMESTAMPTZ: return 't';
    case SL_T_JSON: return 'j';
    default: return 's';
    }
}

/* ---- building each side's SQL ---- */

/* Typed checksum of one value (PostgreSQL on both sides), chained: the
 * previous columns' checksum is the seed. A NULL hashes as a sentinel value
 * of the type (text "\x01", the lowest bigint, -infinity ...), which keeps
 * the chain to one function call a column. */
static void pg_typed_hash(struct sl_buf *b, enum sl_type t, const char *v, const char *prev)
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

/* The agreed text of one value (SQLite warehouse), as PostgreSQL SQL. */
static void pg_agreed_text(struct sl_buf *b, enum sl_type t, const char *v)
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
        sl_buf_printf(b, "(%s)::%s::text", v, pg_type(t));
        break;
    }
}

/* The canonical text of a key value, as PostgreSQL SQL. */
static void pg_key_text(struct sl_buf *b, enum sl_type t, const char *v)
{
    if (t == SL_T_TIMESTAMPTZ)
        sl_buf_printf(b, "to_char((%s)::timestamptz AT TIME ZONE 'UTC',"
                      " 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')", v);
    else
        sl_buf_printf(b, "(%s)::%s::text", v, pg_type(t));
}

static char *steal(struct sl_buf *b)
{
    return b->oom ? (sl_buf_free(b), NULL) : sl_buf_steal(b);
}

static int build_side(struct rc *c, struct side *s, int typed)
{
    struct sl_buf b;

    s->hash = NULL;
    s->key = sl_calloc(c->nkey, sizeof *s->key);
    s->ord = sl_calloc(c->nkey, sizeof *s->ord);
    if (!s->key || !s->ord)
        return -1;
    sl_buf_init(&b);
    if (s->pg && typed) {
        sl_buf_puts(&b, "1");
        for (size_t i = 0; i < c->ncols; i++) {
            struct sl_buf nb;
            sl_buf_init(&nb);
            pg_typed_hash(&nb, c->types[i], s->val[i], b.data ? b.data : "1");
            sl_buf_free(&b);
            b = nb;
        }
    } else if (s->pg) {
        sl_buf_puts(&b, "('x' || substr(md5(ROW(");
        for (size_t i = 0; i < c->ncols; i++) {
            if (i)
                sl_buf_puts(&b, ", ");
            pg_agreed_text(&b, c->types[i], s->val[i]);
        }
        /* ROW of one value is still a row: (x) */
        sl_buf_puts(&b, ")::text), 1, 16))::bit(64)::int8");
    } else {
        sl_buf_puts(&b, "sluice_rowhash('");
        for (size_t i = 0; i < c->ncols; i++)
            sl_buf_putc(&b, type_letter(c->types[i]));
        sl_buf_putc(&b, '\'');
        for (size_t i = 0; i < c->ncols; i++)
            sl_buf_printf(&b, ", %s", s->val[i]);
        sl_buf_putc(&b, ')');
    }
    if (!(s->hash = steal(&b)))
        return -1;
    for (size_t k = 0; k < c->nkey; k++) {
        size_t i = 0;
        while (strcmp(c->names[i], c->kcols[k]) != 0)
            i++;
        sl_buf_init(&b);
        if (s->pg)
            pg_key_text(&b, c->ktypes[k], s->val[i]);
        else
            sl_buf_puts(&b, s->val[i]);
        if (!(s->key[k] = steal(&b)))
            return -1;
        sl_buf_init(&b);
        if (s->pg)
            sl_buf_printf(&b, "(%s)::%s%s", s->val[i], pg_type(c->ktypes[k]),
                          c->ktypes[k] == SL_T_TEXT ? " COLLATE \"C\"" : "");
        else
            sl_buf_puts(&b, s->val[i]);
        if (!(s->ord[k] = steal(&b)))
            return -1;
    }
    return 0;
}

static void side_free(struct side *s, size_t ncols, size_t nkey)
{
    free_key(s->val, ncols);
    free_key(s->key, nkey);
    free_key(s->ord, nkey);
    sl_free(s->hash);
    s->val = s->key = s->ord = NULL;
    s->hash = NULL;
}

/* ---- parameters and conditions ---- */

struct params {
    const char **v;
    int n, cap;
    char **own;             /* texts made here (SQLite booleans) */
    int nown;
};

static void params_free(struct params *p)
{
    for (int i = 0; i < p->nown; i++)
        sl_free(p->own[i]);
    sl_free(p->own);
    sl_free(p->v);
    memset(p, 0, sizeof *p);
}

static int params_add(struct params *p, const char *v)
{
    if (p->n == p->cap) {
        int cap = p->cap ? p->cap * 2 : 16;
        const char **nv = sl_realloc(p->v, (size_t)cap * sizeof *nv);
        if (!nv)
            return -1;
        p->v = nv;
        p->cap = cap;
    }
    p->v[p->n++] = v;
    return p->n;
}

/* A key value as a parameter placeholder of side s; SQLite keeps booleans
 * as 1 / 0. */
static void key_param(struct sl_buf *b, struct side *s, struct params *p, enum sl_type t,
                      const char *v)
{
    if (!s->pg && t == SL_T_BOOL && v) {
        v = strcmp(v, "true") == 0 ? "1" : "0";
    }
    int n = params_add(p, v);
    if (n < 0) {
        b->oom = 1;
        return;
    }
    if (s->pg)
        sl_buf_printf(b, "$%d::%s%s", n, pg_type(t), t == SL_T_TEXT ? " COLLATE \"C\"" : "");
    else
        sl_buf_printf(b, "$%d", n);
}

/* SQLite: one column compared with parameter $n. */
static void lite_cmp(struct sl_buf *b, struct rc *c, struct side *s, size_t k, const char *op,
                     int n)
{
    if (c->ktypes[k] == SL_T_NUMERIC)
        sl_buf_printf(b, "sluice_numeric_cmp(%s, $%d) %s 0", s->ord[k], n, op);
    else
        sl_buf_printf(b, "%s %s $%d", s->ord[k], op, n);
}

/* key `op` (">=" or "<") the key `v`. */
static void key_cond(struct sl_buf *b, struct rc *c, struct side *s, struct params *p,
                     char *const *v, const char *op)
{
    if (s->pg) {
        sl_buf_putc(b, '(');
        for (size_t k = 0; k < c->nkey; k++)
            sl_buf_printf(b, "%s%s", k ? ", " : "", s->ord[k]);
        sl_buf_printf(b, ") %s (", op);
        for (size_t k = 0; k < c->nkey; k++) {
            if (k)
                sl_buf_puts(b, ", ");
            key_param(b, s, p, c->ktypes[k], v[k]);
        }
        sl_buf_putc(b, ')');
        return;
    }
    /* row values with sluice_numeric_cmp spelled out: lexicographic */
    int first = p->n + 1;
    for (size_t k = 0; k < c->nkey; k++) {
        struct sl_buf dummy;
        sl_buf_init(&dummy);
        key_param(&dummy, s, p, c->ktypes[k], v[k]);
        sl_buf_free(&dummy);
    }
    char strict[2] = {op[0], 0};
    for (size_t k = 0; k < c->nkey; k++) {
        sl_buf_putc(b, '(');
        lite_cmp(b, c, s, k, k + 1 == c->nkey ? op : strict, first + (int)k);
        if (k + 1 < c->nkey) {
            sl_buf_puts(b, " OR (");
            lite_cmp(b, c, s, k, "=", first + (int)k);
            sl_buf_puts(b, " AND ");
        }
    }
    for (size_t k = 0; k < c->nkey; k++)
        sl_buf_puts(b, k + 1 < c->nkey ? "))" : ")");
}

/* WHERE of a range [lo, hi) on side s (NULL = open). */
static void range_where(struct sl_buf *b, struct rc *c, struct side *s, struct params *p,
                        char *const *lo, char *const *hi)
{
    int any = 0;
    if (s->where) {
        sl_buf_printf(b, "(%s)", s->where);
        any = 1;
    }
    if (lo) {
        sl_buf_puts(b, any ? " AND " : "");
        key_cond(b, c, s, p, lo, ">=");
        any = 1;
    }
    if (hi) {
        sl_buf_puts(b, any ? " AND " : "");
        key_cond(b, c, s, p, hi, "<");
        any = 1;
    }
    if (!any)
        sl_buf_puts(b, s->pg ? "true" : "1");
}

/* ---- running a query on both sides at once ---- */

struct job {
    struct side *s;
    const char *sql;
    struct params *p;
    struct sl_rows out;
    struct sl_err err;
    int rc;
};

static void *job_run(void *arg)
{
    struct job *j = arg;
    sl_err_clear(&j->err);
    memset(&j->out, 0, sizeof j->out);
    if (j->s->sops)
        j->rc = j->s->sops->exec(j->s->src, j->sql, j->p->n, j->p->v, &j->out, &j->err);
    else
        j->rc = j->s->dops->exec(j->s->dst, j->sql, j->p->n, j->p->v, &j->out, &j->err);
    if (j->rc < 0)
        sl_err_prefix(&j->err, "%s", j->s->what);
    return NULL;
}

static int run_both(struct job j[2], struct sl_err *err)
{
    pthread_t th;
    int started = pthread_create(&th, NULL, job_run, &j[0]) == 0;
    if (!started)
        job_run(&j[0]);
    job_run(&j[1]);
    if (started)
        pthread_join(th, NULL);
    for (int i = 0; i < 2; i++)
        if (j[i].rc < 0) {
            *err = j[i].err;
            sl_rows_free(&j[0].out);
            sl_rows_free(&j[1].out);
            return -1;
        }
    return 0;
}

/* ---- the comparison ---- */

struct bucket {
    int64_t rows;
    uint64_t sum;
};

/* Count and checksum-sum of [lo, hi), in nb + 1 buckets split at bounds. */
static int summary(struct rc *c, char *const *lo, char *const *hi, char ***bounds, size_t nb,
                   struct bucket *out[2], struct sl_err *err)
{
    struct sl_buf sql[2];
    struct params p[2];
    struct job j[2];
    int rc = -1;

    memset(p, 0, sizeof p);
    for (int i = 0; i < 2; i++) {
        struct side *s = &c->sd[i];
        const char *sum = s->pg ? "sum" : "sluice_sum64";
        sl_buf_init(&sql[i]);
        if (nb == 0) {
            sl_buf_printf(&sql[i], "SELECT 0, count(*), %s(%s) FROM %s WHERE ", sum, s->hash,
                          s->from);
            range_where(&sql[i], c, s, &p[i], lo, hi);
        } else {
            sl_buf_puts(&sql[i], "SELECT b, count(*), ");
            sl_buf_printf(&sql[i], "%s(h) FROM (SELECT CASE", sum);
            for (size_t k = 0; k < nb; k++) {
                sl_buf_puts(&sql[i], " WHEN ");
                key_cond(&sql[i], c, s, &p[i], bounds[k], "<");
                sl_buf_printf(&sql[i], " THEN %zu", k);
            }
            sl_buf_printf(&sql[i], " ELSE %zu END AS b, %s AS h FROM %s WHERE ", nb, s->hash,
                          s->from);
            range_where(&sql[i], c, s, &p[i], lo, hi);
            sl_buf_puts(&sql[i], ") q GROUP BY b");
        }
        j[i] = (struct job){s, sql[i].data, &p[i], {0}, {0}, 0};
    }
    if (sql[0].oom || sql[1].oom) {
        nomem(err);
        goto done;
    }
    c->queries++;
    if (run_both(j, err) < 0)
        goto done;
    for (int i = 0; i < 2; i++) {
        memset(out[i], 0, (nb + 1) * sizeof *out[i]);
        for (size_t r = 0; r < j[i].out.nrows; r++) {
            const char *bk = sl_rows_get(&j[i].out, r, 0);
            size_t b = bk ? (size_t)strtoull(bk, NULL, 10) : 0;
            if (b > nb)
                continue;
            const char *n = sl_rows_get(&j[i].out, r, 1);
            out[i][b].rows = n ? strtoll(n, NULL, 10) : 0;
            out[i][b].sum = mod64(sl_rows_get(&j[i].out, r, 2));
        }
        sl_rows_free(&j[i].out);
    }
    rc = 0;
done:
    for (int i = 0; i < 2; i++) {
        sl_buf_free(&sql[i]);
        params_free(&p[i]);
    }
    return rc;
}

/* A key from a result row (columns from..from+nkey-1), as canonical texts. */
static char **row_key(struct rc *c, struct side *s, const struct sl_rows *r, size_t row,
                      size_t from)
{
    char **v = sl_calloc(c->nkey, sizeof *v);
    for (size_t k = 0; v && k < c->nkey; k++) {
        const char *x = sl_rows_get(r, row, from + k);
        if (!s->pg && c->ktypes[k] == SL_T_BOOL && x)
            x = strcmp(x, "0") == 0 ? "false" : "true";
        if (!(v[k] = sl_strdup(x ? x : ""))) {
            free_key(v, c->nkey);
            return NULL;
        }
    }
    return v;
}

/* Split points of [lo, hi) on side `which`, which holds n rows there. */
static int quantiles(struct rc *c, int which, char *const *lo, char *const *hi, int64_t n,
                     char ****out, size_t *nout, struct sl_err *err)
{
    struct side *s = &c->sd[which];
    struct sl_buf sql;
    struct params p = {0};
    struct job j[1];
    char step[24];
    int rc = -1;

    *out = NULL;
    *nout = 0;
    snprintf(step, sizeof step, "%" PRId64, (n + SPLIT - 1) / SPLIT > 0 ? (n + SPLIT - 1) / SPLIT : 1);
    sl_buf_init(&sql);
    sl_buf_puts(&sql, "SELECT ");
    for (size_t k = 0; k < c->nkey; k++)
        sl_buf_printf(&sql, "%sk%zu", k ? ", " : "", k);
    sl_buf_puts(&sql, " FROM (SELECT ");
    for (size_t k = 0; k < c->nkey; k++)
        sl_buf_printf(&sql, "%s AS k%zu, ", s->key[k], k);
    sl_buf_puts(&sql, "row_number() OVER (ORDER BY ");
    for (size_t k = 0; k < c->nkey; k++)
        sl_buf_printf(&sql, "%s%s", k ? ", " : "", s->ord[k]);
    sl_buf_printf(&sql, ") AS rn FROM %s WHERE ", s->from);
    range_where(&sql, c, s, &p, lo, hi);
    int sn = params_add(&p, step);
    sl_buf_printf(&sql, ") q WHERE rn > 1 AND (rn - 1) %% $%d%s = 0 ORDER BY rn", sn,
                  s->pg ? "::bigint" : "");
    if (sql.oom || sn < 0) {
        nomem(err);
        goto done;
    }
    j[0] = (struct job){s, sql.data, &p, {0}, {0}, 0};
    job_run(&j[0]);
    if (j[0].rc < 0) {
        *err = j[0].err;
        goto done;
    }
    char ***b = sl_calloc(j[0].out.nrows + 1, sizeof *b);
    if (!b) {
        sl_rows_free(&j[0].out);
        nomem(err);
        goto done;
    }
    for (size_t r = 0; r < j[0].out.nrows; r++) {
        if (!(b[r] = row_key(c, s, &j[0].out, r, 0))) {
            for (size_t q = 0; q < r; q++)
                free_key(b[q], c->nkey);
            sl_free(b);
            sl_rows_free(&j[0].out);
            nomem(err);
            goto done;
        }
    }
    *nout = j[0].out.nrows;
    *out = b;
    sl_rows_free(&j[0].out);
    rc = 0;
done:
    sl_buf_free(&sql);
    params_free(&p);
    return rc;
}

/* Keep a differing key: listed while under the limit, else only counted
 * (the report says how many it did not list). Takes ownership of v. */
static int add_key(struct rc *c, struct kvec *k, char **v, uint64_t h)
{
    uint64_t kh = key_hash(v, c->nkey);
    if (c->missing.n + c->extra.n + c->different.n >= c->count_cap) {
        /* memory stays bounded: the counts become "at least" */
        c->capped = 1;
        free_key(v, c->nkey);
        return 0;
    }
    if (c->listed >= c->max_keys) {
        c->truncated = 1;
        free_key(v, c->nkey);
        v = NULL;
    }
    if (kvec_push_kh(k, v, h, kh) < 0) {
        free_key(v, c->nkey);
        return -1;
    }
    if (v)
        c->listed++;
    return 0;
}

static int drop_pending(struct rc *c, struct kvec *ex, struct sl_err *err);

/* List keys and checksums of [lo, hi) on both sides and compare them. */
static int leaf(struct rc *c, char *const *lo, char *const *hi, struct sl_err *err)
{
    struct sl_buf sql[2];
    struct params p[2];
    struct job j[2];
    struct kvec rows[2], extra = {0};
    int rc = -1;

    memset(p, 0, sizeof p);
    memset(rows, 0, sizeof rows);
    for (int i = 0; i < 2; i++) {
        struct side *s = &c->sd[i];
        sl_buf_init(&sql[i]);
        sl_buf_puts(&sql[i], "SELECT ");
        for (size_t k = 0; k < c->nkey; k++)
            sl_buf_printf(&sql[i], "%s, ", s->key[k]);
        sl_buf_printf(&sql[i], "%s FROM %s WHERE ", s->hash, s->from);
        range_where(&sql[i], c, s, &p[i], lo, hi);
        j[i] = (struct job){s, sql[i].data, &p[i], {0}, {0}, 0};
    }
    if (sql[0].oom || sql[1].oom) {
        nomem(err);
        goto done;
    }
    c->queries++;
    if (run_both(j, err) < 0)
        goto done;
    for (int i = 0; i < 2; i++) {
        for (size_t r = 0; r < j[i].out.nrows; r++) {
            char **v = row_key(c, &c->sd[i], &j[i].out, r, 0);
            if (!v || kvec_push_kh(&rows[i], v, mod64(sl_rows_get(&j[i].out, r, c->nkey)), 0) < 0) {
                free_key(v, c->nkey);
                sl_rows_free(&j[0].out);
                sl_rows_free(&j[1].out);
                nomem(err);
                goto done;
            }
        }
        sl_rows_free(&j[i].out);
        kvec_sort(&rows[i], c->nkey);
    }
    size_t a = 0, b = 0;
    while (a < rows[0].n || b < rows[1].n) {
        int cmp = a == rows[0].n ? 1 : b == rows[1].n ? -1
                                                      : key_cmp_n(rows[0].r[a].v, rows[1].r[b].v,
                                                                  c->nkey);
        int r2 = 0;
        if (cmp < 0) {
            r2 = add_key(c, &c->missing, rows[0].r[a].v, rows[0].r[a].h);
            rows[0].r[a++].v = NULL;
        } else if (cmp > 0) {
            r2 = kvec_push_kh(&extra, rows[1].r[b].v, rows[1].r[b].h, 0);
            if (r2 < 0)
                free_key(rows[1].r[b].v, c->nkey);
            rows[1].r[b++].v = NULL;
        } else {
            if (rows[0].r[a].h != rows[1].r[b].h) {
                r2 = add_key(c, &c->different, rows[0].r[a].v, rows[0].r[a].h);
                rows[0].r[a].v = NULL;
            }
            a++;
            b++;
        }
        if (r2 < 0) {
            nomem(err);
            goto done;
        }
    }
    /* pending rows are not drift, and never take a listing slot */
    if (c->sd[0].where && extra.n && drop_pending(c, &extra, err) < 0)
        goto done;
    for (size_t i = 0; i < extra.n; i++) {
        int r2 = add_key(c, &c->extra, extra.r[i].v, extra.r[i].h);
        extra.r[i].v = NULL;
        if (r2 < 0) {
            nomem(err);
            goto done;
        }
    }
    rc = 0;
done:
    for (int i = 0; i < 2; i++) {
        sl_buf_free(&sql[i]);
        params_free(&p[i]);
        kvec_free(&rows[i], c->nkey);
    }
    kvec_free(&extra, c->nkey);
    return rc;
}

static int compare(struct rc *c, char *const *lo, char *const *hi, int64_t ns, int64_t nd,
                   int depth, struct sl_err *err)
{
    char ***bounds = NULL;
    size_t nb = 0;
    struct bucket *bk[2] = {NULL, NULL};
    int rc = -1;

    if (c->capped)
        return 0;
    if ((ns <= LEAF && nd <= LEAF) || depth >= MAX_DEPTH)
        return leaf(c, lo, hi, err);
    int which = ns >= nd ? 0 : 1;
    if (quantiles(c, which, lo, hi, which ? nd : ns, &bounds, &nb, err) < 0)
        return -1;
    if (nb == 0) {
        sl_free(bounds);
        return leaf(c, lo, hi, err);
    }
    bk[0] = sl_calloc(nb + 1, sizeof *bk[0]);
    bk[1] = sl_calloc(nb + 1, sizeof *bk[1]);
    if (!bk[0] || !bk[1]) {
        nomem(err);
        goto done;
    }
    if (summary(c, lo, hi, bounds, nb, bk, err) < 0)
        goto done;
    for (size_t b = 0; b <= nb; b++) {
        if (bk[0][b].rows == bk[1][b].rows && bk[0][b].sum == bk[1][b].sum)
            continue;
        if (compare(c, b == 0 ? lo : bounds[b - 1], b == nb ? hi : bounds[b], bk[0][b].rows,
                    bk[1][b].rows, depth + 1, err) < 0)
            goto done;
    }
    rc = 0;
done:
    for (size_t b = 0; b < nb; b++)
        free_key(bounds[b], c->nkey);
    sl_free(bounds);
    sl_free(bk[0]);
    sl_free(bk[1]);
    return rc;
}

/* A key found missing in one range and extra in another (the two databases
 * ordered it differently) is one row: the same, or different. Keys pair by
 * their hash, so the ones counted past the listing limit pair up too. */
static int pair_up(struct rc *c)
{
    struct kvec m = {0}, e = {0};
    if (c->missing.n > 1)
        qsort(c->missing.r, c->missing.n, sizeof *c->missing.r, krow_kh_cmp);
    if (c->extra.n > 1)
        qsort(c->extra.r, c->extra.n, sizeof *c->extra.r, krow_kh_cmp);
    size_t a = 0, b = 0;
    while (a < c->missing.n || b < c->extra.n) {
        struct krow *x = a < c->missing.n ? &c->missing.r[a] : NULL;
        struct krow *y = b < c->extra.n ? &c->extra.r[b] : NULL;
        int cmp = !x ? 1 : !y ? -1 : krow_kh_cmp(x, y);
        int r = 0;
        if (cmp < 0) {
            r = kvec_push_kh(&m, x->v, x->h, x->kh);
            a++;
        } else if (cmp > 0) {
            r = kvec_push_kh(&e, y->v, y->h, y->kh);
            b++;
        } else {
            if (x->h != y->h) {
                /* list it under the texts either side kept */
                char **v = x->v ? x->v : y->v;
                r = kvec_push_kh(&c->different, v, x->h, x->kh);
                if (v == x->v)
                    x->v = NULL;
                else
                    y->v = NULL;
                if (!v)
                    c->truncated = 1;
            }
            if (x->v)
                c->listed--;
            if (y->v)
                c->listed--;
            free_key(x->v, c->nkey);
            free_key(y->v, c->nkey);
            x->v = y->v = NULL;
            a++;
            b++;
        }
        if (r < 0) {
            sl_free(m.r);   /* its keys are still c->missing's and c->extra's */
            sl_free(e.r);
            return -1;
        }
    }
    sl_free(c->missing.r);
    sl_free(c->extra.r);
    c->missing = m;
    c->extra = e;
    kvec_sort(&c->missing, c->nkey);
    kvec_sort(&c->extra, c->nkey);
    kvec_sort(&c->different, c->nkey);
    return 0;
}

/* Warehouse rows (`ex`, keys with their texts) whose key the source has
 * beyond the cursor are pending: the next run loads them. They are counted
 * in c->pending and taken out of `ex`. */
static int drop_pending(struct rc *c, struct kvec *ex, struct sl_err *err)
{
    struct side *s = &c->sd[0];
    struct kvec keep = {0};
    size_t at = 0;

    while (at < ex->n) {
        size_t n = ex->n - at > 500 ? 500 : ex->n - at;
        json_t *a = json_array();
        for (size_t i = 0; a && i < n; i++) {
            json_t *row = json_array();
            for (size_t k = 0; row && k < c->nkey; k++)
                json_array_append_new(row, json_string(ex->r[at + i].v[k]));
            json_array_append_new(a, row);
        }
        char *txt = a ? json_dumps(a, JSON_COMPACT) : NULL;
        json_decref(a);
        struct sl_buf sql;
        sl_buf_init(&sql);
        sl_buf_puts(&sql, "SELECT ");
        for (size_t k = 0; k < c->nkey; k++)
            sl_buf_printf(&sql, "%s%s", k ? ", " : "", s->key[k]);
        sl_buf_printf(&sql, " FROM %s WHERE (%s) IS NOT TRUE AND (", s->from, s->where);
        for (size_t k = 0; k < c->nkey; k++)
            sl_buf_printf(&sql, "%s%s", k ? ", " : "", s->key[k]);
        sl_buf_puts(&sql, ") IN (SELECT ");
        for (size_t k = 0; k < c->nkey; k++)
            sl_buf_printf(&sql, "%se->>%zu", k ? ", " : "", k);
        sl_buf_puts(&sql, " FROM json_array_elements($1::json) e)");
        struct params p = {0};
        struct job j;
        if (!txt || sql.oom || params_add(&p, txt) < 0) {
            free(txt);
            sl_buf_free(&sql);
            params_free(&p);
            kvec_free(&keep, c->nkey);
            return nomem(err);
        }
        j = (struct job){s, sql.data, &p, {0}, {0}, 0};
        job_run(&j);
        free(txt);
        sl_buf_free(&sql);
        params_free(&p);
        if (j.rc < 0) {
            *err = j.err;
            kvec_free(&keep, c->nkey);
            return -1;
        }
        struct kvec found = {0};
        for (size_t r = 0; r < j.out.nrows; r++) {
            char **v = row_key(c, s, &j.out, r, 0);
            if (!v || kvec_push_kh(&found, v, 0, 0) < 0) {
                free_key(v, c->nkey);
                kvec_free(&found, c->nkey);
                sl_rows_free(&j.out);
                kvec_free(&keep, c->nkey);
                return nomem(err);
            }
        }
        sl_rows_free(&j.out);
        kvec_sort(&found, c->nkey);
        for (size_t i = at; i < at + n; i++) {
            struct krow *x = &ex->r[i];
            int hit = kvec_has(&found, x, c->nkey);
            if (hit) {
                c->pending++;
                free_key(x->v, c->nkey);
            } else if (kvec_push_kh(&keep, x->v, x->h, x->kh) < 0) {
                kvec_free(&found, c->nkey);
                kvec_free(&keep, c->nkey);
                return nomem(err);
            }
            x->v = NULL;
        }
        kvec_free(&found, c->nkey);
        at += n;
    }
    kvec_free(ex, c->nkey);
    *ex = keep;
    return 0;
}

/* ---- results ---- */

/* The listed keys (sorted first) as the result's, with the count of all. */
static void move_keys(struct sl_reconcile_keys *to, struct kvec *from)
{
    to->total = from->n;
    to->keys = sl_calloc(from->n ? from->n : 1, sizeof *to->keys);
    if (!to->keys)
        return;
    for (size_t i = 0; i < from->n && from->r[i].v; i++) {
        to->keys[i] = from->r[i].v;
        from->r[i].v = NULL;
        to->n++;
    }
}

size_t sl_reconcile_drift(const struct sl_reconcile_result *r)
{
    return r->missing.total + r->extra.total + r->different.total;
}

size_t sl_reconcile_unlisted(const struct sl_reconcile_result *r)
{
    return sl_reconcile_drift(r) - (r->missing.n + r->extra.n + r->different.n);
}

static json_t *keys_json(const struct sl_reconcile_result *r, const struct sl_reconcile_keys *k,
                         size_t max)
{
    json_t *a = json_array();
    for (size_t i = 0; a && i < k->n && i < max; i++) {
        json_t *o = json_object();
        for (size_t c = 0; o && c < r->nkey; c++)
            json_object_set_new(o, r->keycols[c], json_string(k->keys[i][c]));
        json_array_append_new(a, o);
    }
    return a;
}

static char *result_json(const struct sl_reconcile_result *r, size_t max)
{
    json_t *o = json_object();
    if (!o)
        return NULL;
    json_object_set_new(o, "pipeline", json_string(r->pipeline));
    json_object_set_new(o, "table", json_string(r->table));
    json_object_set_new(o, "in_sync", json_boolean(sl_reconcile_drift(r) == 0));
    json_object_set_new(o, "source_rows", json_integer(r->source_rows));
    json_object_set_new(o, "warehouse_rows", json_integer(r->warehouse_rows));
    json_object_set_new(o, "missing", keys_json(r, &r->missing, max));
    json_object_set_new(o, "extra", keys_json(r, &r->extra, max));
    json_object_set_new(o, "different", keys_json(r, &r->different, max));
    json_object_set_new(o, "missing_count", json_integer((json_int_t)r->missing.total));
    json_object_set_new(o, "extra_count", json_integer((json_int_t)r->extra.total));
    json_object_set_new(o, "different_count", json_integer((json_int_t)r->different.total));
    json_object_set_new(o, "pending", json_integer((json_int_t)r->pending));
    json_object_set_new(o, "truncated", json_boolean(r->truncated));
    json_object_set_new(o, "unlisted", json_integer((json_int_t)sl_reconcile_unlisted(r)));
    json_object_set_new(o, "counts_complete", json_boolean(!r->at_least));
    json_object_set_new(o, "repair_batch",
                        r->repair_batch ? json_integer(r->repair_batch) : json_null());
    json_object_set_new(o, "checksum_queries", json_integer(r->queries));
    json_object_set_new(o, "seconds", json_real(r->seconds));
    char *txt = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    if (!txt)
        return NULL;
    char *out = sl_strdup(txt);
    free(txt);
    return out;
}

char *sl_reconcile_json(const struct sl_reconcile_result *r)
{
    return result_json(r, (size_t)-1);
}

static void keys_free(struct sl_reconcile_keys *k, size_t nkey)
{
    for (size_t i = 0; k->keys && i < k->n; i++)
        free_key(k->keys[i], nkey);
    sl_free(k->keys);
    memset(k, 0, sizeof *k);
}

void sl_reconcile_result_free(struct sl_reconcile_result *r)
{
    if (!r)
        return;
    keys_free(&r->missing, r->nkey);
    keys_free(&r->extra, r->nkey);
    keys_free(&r->different, r->nkey);
    free_key(r->keycols, r->nkey);
    r->keycols = NULL;
    r->nkey = 0;
}

/* Flatten keys row-major for the repair batch (pointers borrowed). */
static const char **flat(const struct sl_reconcile_keys *a, const struct sl_reconcile_keys *b,
                         size_t nkey, size_t *n)
{
    size_t total = a->n + (b ? b->n : 0);
    const char **v = sl_calloc(total * nkey + 1, sizeof *v);
    if (!v)
        return NULL;
    size_t o = 0;
    for (size_t i = 0; i < a->n; i++)
        for (size_t k = 0; k < nkey; k++)
            v[o++] = a->keys[i][k];
    for (size_t i = 0; b && i < b->n; i++)
        for (size_t k = 0; k < nkey; k++)
            v[o++] = b->keys[i][k];
    *n = total;
    return v;
}

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

int sl_reconcile_table(const struct sl_config *c, const struct sl_pipeline_cfg *p,
                       const struct sl_table_cfg *t, const struct sl_reconcile_opts *o,
                       struct sl_reconcile_result *out, struct sl_err *err)
{
    const struct sl_source_ops *sops = p->source_ops;
    struct rc r;
    struct sl_source_sql q;
    struct sl_schema ds = {0};
    struct sl_source *src = NULL;
    const struct sl_dest_ops *dops = NULL;
    struct sl_dest *dst = NULL;
    struct sl_log_ctx log = {p->name, t->name, 0};
    char *cursor = NULL;
    int leased = 0;
    double t0 = now_s();
    int rc = -1;

    memset(out, 0, sizeof *out);
    memset(&r, 0, sizeof r);
    memset(&q, 0, sizeof q);
    out->pipeline = p->name;
    out->table = t->name;
    if (!sops->sql || !sops->exec)
        return sl_err_set(err, SL_E_CONFIG,
                          "pipeline \"%s\": a %s source has no table to compare with; reconcile"
                          " compares tables replicated from a database", p->name, sops->kind);
    const char *mk = getenv("SLUICE_RECONCILE_MAX_KEYS");
    r.max_keys = mk && strtoul(mk, NULL, 10) > 0 ? strtoul(mk, NULL, 10) : DEFAULT_MAX_KEYS;
    r.count_cap = r.max_keys * 10 > COUNT_CAP ? r.max_keys * 10 : COUNT_CAP;
    const char *mc = getenv("SLUICE_RECONCILE_MAX_COUNTED");
    if (mc && strtoul(mc, NULL, 10) > 0)
        r.count_cap = strtoul(mc, NULL, 10);

    if (sl_dest_open(p->dest_conn->url, p->dest_conn->password, c->dir, &dops, &dst, err) < 0 ||
        dops->ensure_meta(dst, err) < 0)
        goto done;
    /* the table's lease, as a run takes it: no load (a snapshot swap above
     * all) changes the table between the comparison's queries */
    if (dops->lease_try) {
        double waited = 0;
        int got;
        while ((got = dops->lease_try(dst, t->name, err)) == 0 && waited < p->lock_wait &&
               !sl_stopping()) {
            struct timespec ts = {0, 100 * 1000000L};
            nanosleep(&ts, NULL);
            waited += 0.1;
        }
        if (got < 0)
            goto done;
        if (got == 0) {
            sl_err_retry(err, SL_E_DEST, "table \"%s\" is being loaded by another run (waited"
                         " %g s, lock_wait): compared next time", t->name, p->lock_wait);
            goto done;
        }
        leased = 1;
    }
    int exists = dops->describe(dst, t->name, &ds, err);
    if (exists < 0)
        goto done;
    if (!exists) {
        sl_err_set(err, SL_E_INPUT, "table \"%s\" has not been loaded yet: run pipeline \"%s\""
                   " first", t->name, p->name);
        goto done;
    }
    if (sops->open(&src, c, p, t, err) < 0)
        goto done;
    if (sops->resume) {
        struct sl_ledger led = {dops, dst};
        if (sl_ledger_get_cursor(&led, p->name, t->name, &cursor, err) < 0 ||
            sops->resume(src, cursor, err) < 0)
            goto done;
    }
    if (sops->sql(src, &q, err) < 0)
        goto done;

    /* the key: the table's primary key, else the source table's */
    const struct sl_strlist *pk = t->primary_key.n ? &t->primary_key : &q.pk;
    if (pk->n == 0) {
        sl_err_set(err, SL_E_CONFIG, "table \"%s\" has no primary key (in the config or in"
                   " source table %s): reconcile compares rows by key", t->name,
                   t->source_table);
        goto done;
    }
    /* the columns both sides have, as the warehouse types them */
    r.names = sl_calloc(ds.ncols, sizeof *r.names);
    r.types = sl_calloc(ds.ncols, sizeof *r.types);
    r.sd[0].val = sl_calloc(ds.ncols, sizeof(char *));
    r.sd[1].val = sl_calloc(ds.ncols, sizeof(char *));
    r.nkey = pk->n;
    r.kcols = sl_calloc(pk->n, sizeof *r.kcols);
    r.ktypes = sl_calloc(pk->n, sizeof *r.ktypes);
    if (!r.names || !r.types || !r.sd[0].val || !r.sd[1].val || !r.kcols || !r.ktypes) {
        nomem(err);
        goto done;
    }
    for (size_t i = 0; i < ds.ncols; i++) {
        const struct sl_column *dc = &ds.cols[i];
        long si = sl_schema_find(&q.cols, dc->name);
        if (si < 0 || strncmp(dc->name, "_sluice_", 8) == 0)
            continue;
        struct sl_buf b;
        size_t n = r.ncols;
        r.names[n] = dc->name;
        r.types[n] = dc->type;
        sl_buf_init(&b);
        if (q.cols.cols[si].type == dc->type)
            sl_buf_puts(&b, q.exprs[si]);
        else
            sl_buf_printf(&b, "(%s)::%s", q.exprs[si], pg_type(dc->type));
        r.sd[0].val[n] = steal(&b);
        sl_buf_init(&b);
        dops->quote_ident(&b, dc->name);
        r.sd[1].val[n] = steal(&b);
        if (!r.sd[0].val[n] || !r.sd[1].val[n]) {
            r.ncols++;
            nomem(err);
            goto done;
        }
        r.ncols++;
    }
    for (size_t k = 0; k < pk->n; k++) {
        size_t i = 0;
        while (i < r.ncols && strcmp(r.names[i], pk->items[k]) != 0)
            i++;
        if (i == r.ncols) {
            sl_err_set(err, SL_E_CONFIG, "table \"%s\": key column \"%s\" is not in both the"
                       " source and the warehouse", t->name, pk->items[k]);
            goto done;
        }
        r.kcols[k] = r.names[i];
        r.ktypes[k] = r.types[i];
    }
    out->nkey = r.nkey;
    out->keycols = sl_calloc(r.nkey, sizeof *out->keycols);
    for (size_t k = 0; out->keycols && k < r.nkey; k++)
        out->keycols[k] = sl_strdup(r.kcols[k]);

    char *dfrom = dops->table_sql(dst, t->name);
    r.sd[0] = (struct side){"source", strcmp(q.dialect, "postgres") == 0, sops, src, NULL, NULL,
                            q.from, q.where, r.sd[0].val, NULL, NULL, NULL};
    r.sd[1] = (struct side){"warehouse", strcmp(dops->kind, "postgres") == 0, NULL, NULL, dops,
                            dst, dfrom, NULL, r.sd[1].val, NULL, NULL, NULL};
    int typed = r.sd[0].pg && r.sd[1].pg;
    if (!dfrom || build_side(&r, &r.sd[0], typed) < 0 || build_side(&r, &r.sd[1], typed) < 0) {
        sl_free(dfrom);
        r.sd[1].from = NULL;
        nomem(err);
        goto done;
    }

    /* counts and checksums of the whole table first */
    struct bucket top[2][1];
    struct bucket *tp[2] = {top[0], top[1]};
    if (summary(&r, NULL, NULL, NULL, 0, tp, err) < 0)
        goto done_from;
    out->source_rows = top[0][0].rows;
    out->warehouse_rows = top[1][0].rows;
    if (top[0][0].rows != top[1][0].rows || top[0][0].sum != top[1][0].sum) {
        sl_log(SL_LOG_INFO, &log, "checksums differ (source %" PRId64 " rows, warehouse %" PRId64
               " rows): comparing key ranges", top[0][0].rows, top[1][0].rows);
        if (compare(&r, NULL, NULL, top[0][0].rows, top[1][0].rows, 0, err) < 0 ||
            pair_up(&r) < 0)
            goto done_from;
    }
    out->pending = r.pending;
    out->queries = r.queries;
    out->truncated = r.truncated;
    out->at_least = r.capped;
    move_keys(&out->missing, &r.missing);
    move_keys(&out->extra, &r.extra);
    move_keys(&out->different, &r.different);
    if (!out->missing.keys || !out->extra.keys || !out->different.keys) {
        nomem(err);
        goto done_from;
    }
    rc = 0;
done_from:
    sl_free((char *)r.sd[1].from);
done:
    side_free(&r.sd[0], r.ncols, r.nkey);
    side_free(&r.sd[1], r.ncols, r.nkey);
    kvec_free(&r.missing, r.nkey);
    kvec_free(&r.extra, r.nkey);
    kvec_free(&r.different, r.nkey);
    sl_free(r.names);
    sl_free(r.types);
    sl_free(r.kcols);
    sl_free(r.ktypes);
    sl_source_sql_free(&q);
    if (src)
        sops->close(src);
    sl_schema_free(&ds);
    if (leased)
        dops->lease_release(dst, t->name);
    if (dst)
        dops->close(dst);
    sl_free(cursor);
    if (rc < 0) {
        sl_err_prefix(err, "reconcile table \"%s\"", t->name);
        return -1;
    }

    size_t drift = sl_reconcile_drift(out);
    if (drift && o && o->repair) {
        size_t nup = 0, ndel = 0;
        const char **up = flat(&out->missing, &out->different, out->nkey, &nup);
        const char **del = flat(&out->extra, NULL, out->nkey, &ndel);
        if (!up || !del) {
            sl_free(up);
            sl_free(del);
            return nomem(err);
        }
        rc = sl_pipeline_repair(c, p, t, (const char *const *)out->keycols, out->nkey, up, nup,
                                del, ndel, &out->repair_batch, err);
        sl_free(up);
        sl_free(del);
        if (rc < 0) {
            sl_err_prefix(err, "reconcile table \"%s\": repair", t->name);
            return -1;
        }
    }
    out->seconds = now_s() - t0;
    if (drift && (!o || o->alert)) {
        char summary[512], unl[96] = "";
        size_t unlisted = sl_reconcile_unlisted(out);
        if (unlisted)
            snprintf(unl, sizeof unl, " (%zu of them past the key limit, not listed%s)",
                     unlisted, out->repair_batch ? " nor repaired" : "");
        snprintf(summary, sizeof summary,
                 "table \"%s\" drifted from its source: %zu missing, %zu extra, %zu different"
                 " row(s)%s%s", t->name, out->missing.total, out->extra.total,
                 out->different.total, unl,
                 out->repair_batch ? "; re-synced by a repair batch" : "");
        char *details = result_json(out, 20);
        struct sl_alert a = {"drift", 0, p->name, t->name, out->repair_batch, summary, details};
        struct sl_err aerr;
        sl_err_clear(&aerr);
        if (sl_report_alert(c, &a, &aerr) < 0)
            sl_log(SL_LOG_WARN, &log, "alert not delivered: %s", aerr.msg);
        sl_free(details);
    }
    return 0;
}
