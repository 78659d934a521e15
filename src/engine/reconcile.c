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
 * Each side's SQL is its database's dialect (model/dialect.h), given by the
 * source (sl_source_sql.dialect) and the destination (its dialect's sql):
 * the row checksum both agree on, or a cheaper one when both have the same
 * (PostgreSQL's typed hashes on both sides), the sum, key texts, key order
 * and placeholders. Sums are taken modulo 2^64. Keys travel as canonical
 * texts (base/value.h) and are compared, on each side, as the warehouse's
 * types (text in byte order).
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
#include "model/protect.h"
#include "sources/source.h"

#define SPLIT 16            /* sub-ranges a differing range is split into */
#define LEAF 1000           /* rows in a range small enough to compare by key */
#define MAX_DEPTH 16
#define DEFAULT_MAX_KEYS 100000
#define COUNT_CAP 1000000   /* differences counted past the listed ones, at most */

struct side {
    const char *what;       /* "source", "warehouse" */
    const struct sl_dialect *d;     /* its SQL */
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

/* ---- building each side's SQL ---- */

static char *steal(struct sl_buf *b)
{
    return b->oom ? (sl_buf_free(b), NULL) : sl_buf_steal(b);
}

/* The checksum (`typed`: the cheaper one both sides share), key texts and
 * key order of side s. */
static int build_side(struct rc *c, struct side *s, int typed)
{
    const struct sl_dialect *d = s->d;
    struct sl_buf b;

    s->hash = NULL;
    s->key = sl_calloc(c->nkey, sizeof *s->key);
    s->ord = sl_calloc(c->nkey, sizeof *s->ord);
    if (!s->key || !s->ord)
        return -1;
    sl_buf_init(&b);
    (typed ? d->typed_row_hash : d->row_hash)(&b, c->types, s->val, c->ncols);
    if (!(s->hash = steal(&b)))
        return -1;
    for (size_t k = 0; k < c->nkey; k++) {
        size_t i = 0;
        while (strcmp(c->names[i], c->kcols[k]) != 0)
            i++;
        sl_buf_init(&b);
        d->key_text(&b, c->ktypes[k], s->val[i]);
        if (!(s->key[k] = steal(&b)))
            return -1;
        sl_buf_init(&b);
        d->key_order(&b, c->ktypes[k], s->val[i]);
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

/* key `op` (">=" or "<") the key `v`, its values bound as side s binds them. */
static void key_cond(struct sl_buf *b, struct rc *c, struct side *s, struct params *p,
                     char *const *v, const char *op)
{
    int first = p->n + 1;
    for (size_t k = 0; k < c->nkey; k++) {
        const char *x = s->d->param_value ? s->d->param_value(c->ktypes[k], v[k]) : v[k];
        if (params_add(p, x) < 0)
            b->oom = 1;
    }
    s->d->key_cond(b, c->ktypes, s->ord, c->nkey, op, first);
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
        sl_buf_puts(b, s->d->true_sql);
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

/* One checksum query: sql[i] on side i, both at once; j[i].out gets the
 * rows. */
static int query_both(struct rc *c, struct sl_buf sql[2], struct params p[2], struct job j[2],
                      struct sl_err *err)
{
    for (int i = 0; i < 2; i++)
        j[i] = (struct job){&c->sd[i], sql[i].data, &p[i], {0}, {0}, 0};
    if (sql[0].oom || sql[1].oom)
        return nomem(err);
    c->queries++;
    return run_both(j, err);
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
        const char *sum = s->d->sum;
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
    }
    if (query_both(c, sql, p, j, err) < 0)
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
        if (s->d->key_value)
            x = s->d->key_value(c->ktypes[k], x);
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
    sl_buf_puts(&sql, ") q WHERE rn > 1 AND (rn - 1) % ");
    s->d->param(&sql, sn, SL_T_BIGINT);
    sl_buf_puts(&sql, " = 0 ORDER BY rn");
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
    }
    if (query_both(c, sql, p, j, err) < 0)
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

    if (!s->d->json_keys)
        return sl_err_set(err, SL_E_INTERNAL, "the source's dialect cannot list keys");
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
        sl_buf_puts(&sql, ") IN (");
        s->d->json_keys(&sql, c->nkey, 1);
        sl_buf_putc(&sql, ')');
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
    if (r->not_compared[0])
        json_object_set_new(o, "not_compared", json_string(r->not_compared));
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

/* ---- one table's comparison, step by step ---- */

/* What a comparison holds open. */
struct run {
    const struct sl_config *c;
    const struct sl_pipeline_cfg *p;
    const struct sl_table_cfg *t;
    const struct sl_source_ops *sops;
    struct sl_source *src;
    const struct sl_dest_ops *dops;
    struct sl_dest *dst;
    int leased;
    char *cursor;               /* where the replication stands */
    struct sl_source_sql q;     /* the source's table as SQL */
    struct sl_schema ds;        /* the warehouse table's columns */
    char *dfrom;                /* the warehouse table, quoted */
    struct rc r;
};

/* How many differing keys are listed, and counted at most. */
static void set_limits(struct rc *r)
{
    const char *mk = getenv("SLUICE_RECONCILE_MAX_KEYS");
    r->max_keys = mk && strtoul(mk, NULL, 10) > 0 ? strtoul(mk, NULL, 10) : DEFAULT_MAX_KEYS;
    r->count_cap = r->max_keys * 10 > COUNT_CAP ? r->max_keys * 10 : COUNT_CAP;
    const char *mc = getenv("SLUICE_RECONCILE_MAX_COUNTED");
    if (mc && strtoul(mc, NULL, 10) > 0)
        r->count_cap = strtoul(mc, NULL, 10);
}

/* The table's lease, as a run takes it: no load (a snapshot swap above
 * all) changes the table between the comparison's queries. */
static int take_lease(struct run *x, struct sl_err *err)
{
    double waited = 0;
    int got;

    if (!x->dops->lease_try)
        return 0;
    while ((got = x->dops->lease_try(x->dst, x->t->name, err)) == 0 &&
           waited < x->p->lock_wait && !sl_stopping()) {
        struct timespec ts = {0, 100 * 1000000L};
        nanosleep(&ts, NULL);
        waited += 0.1;
    }
    if (got < 0)
        return -1;
    if (got == 0)
        return sl_err_retry(err, SL_E_DEST, "table \"%s\" is being loaded by another run (waited"
                            " %g s, lock_wait): compared next time", x->t->name, x->p->lock_wait);
    x->leased = 1;
    return 0;
}

/* The warehouse connected, the table leased and its columns read. */
static int open_warehouse(struct run *x, struct sl_err *err)
{
    const struct sl_connection_cfg *dc = x->p->dest_conn;
    if (sl_dest_open(dc->url, dc->password, x->c->dir, &x->dops, &x->dst, err) < 0 ||
        x->dops->ensure_meta(x->dst, err) < 0 || take_lease(x, err) < 0)
        return -1;
    int exists = x->dops->describe(x->dst, x->t->name, &x->ds, err);
    if (exists < 0)
        return -1;
    if (!exists)
        return sl_err_set(err, SL_E_INPUT, "table \"%s\" has not been loaded yet: run pipeline"
                          " \"%s\" first", x->t->name, x->p->name);
    return 0;
}

/* The source opened where the replication stands, its table as SQL. */
static int open_source(struct run *x, struct sl_err *err)
{
    if (x->sops->open(&x->src, x->c, x->p, x->t, err) < 0)
        return -1;
    if (x->sops->resume) {
        struct sl_ledger led = {x->dops, x->dst};
        if (sl_ledger_get_cursor(&led, x->p->name, x->t->name, &x->cursor, err) < 0 ||
            x->sops->resume(x->src, x->cursor, err) < 0)
            return -1;
    }
    return x->sops->sql(x->src, &x->q, err);
}

/* The columns both sides have, as the warehouse types them: on each side
 * the SQL that reads one (the source's cast to the warehouse type where
 * the two differ). */
static int shared_columns(struct run *x, struct sl_err *err)
{
    struct rc *r = &x->r;
    const struct sl_schema *ds = &x->ds;

    r->names = sl_calloc(ds->ncols, sizeof *r->names);
    r->types = sl_calloc(ds->ncols, sizeof *r->types);
    r->sd[0].val = sl_calloc(ds->ncols, sizeof(char *));
    r->sd[1].val = sl_calloc(ds->ncols, sizeof(char *));
    if (!r->names || !r->types || !r->sd[0].val || !r->sd[1].val)
        return nomem(err);
    for (size_t i = 0; i < ds->ncols; i++) {
        const struct sl_column *dc = &ds->cols[i];
        long si = sl_schema_find(&x->q.cols, dc->name);
        if (si < 0 || strncmp(dc->name, "_sluice_", 8) == 0)
            continue;
        /* a protected column's two sides never agree: not compared, and
         * said so (sl_reconcile_result.not_compared) */
        if (sl_protect_find(x->t, dc->name, strlen(dc->name)))
            continue;
        struct sl_buf b;
        size_t n = r->ncols++;
        r->names[n] = dc->name;
        r->types[n] = dc->type;
        sl_buf_init(&b);
        if (x->q.cols.cols[si].type == dc->type || !x->q.dialect->cast)
            sl_buf_puts(&b, x->q.exprs[si]);
        else
            x->q.dialect->cast(&b, x->q.exprs[si], dc->type);
        r->sd[0].val[n] = steal(&b);
        sl_buf_init(&b);
        x->dops->quote_ident(&b, dc->name);
        r->sd[1].val[n] = steal(&b);
        if (!r->sd[0].val[n] || !r->sd[1].val[n])
            return nomem(err);
    }
    return 0;
}

/* The key: the table's primary key, else the source table's; each of its
 * columns on both sides. */
static int key_columns(struct run *x, struct sl_reconcile_result *out, struct sl_err *err)
{
    struct rc *r = &x->r;
    const struct sl_strlist *pk = x->t->primary_key.n ? &x->t->primary_key : &x->q.pk;

    if (pk->n == 0)
        return sl_err_set(err, SL_E_CONFIG, "table \"%s\" has no primary key (in the config or"
                          " in source table %s): reconcile compares rows by key", x->t->name,
                          x->t->source_table);
    r->nkey = pk->n;
    r->kcols = sl_calloc(pk->n, sizeof *r->kcols);
    r->ktypes = sl_calloc(pk->n, sizeof *r->ktypes);
    if (!r->kcols || !r->ktypes)
        return nomem(err);
    for (size_t k = 0; k < pk->n; k++) {
        const struct sl_protect_col *pc = sl_protect_find(x->t, pk->items[k],
                                                          strlen(pk->items[k]));
        if (pc)
            return sl_err_set(err, SL_E_CONFIG, "table \"%s\": key column \"%s\" is protected "
                              "(protect: %s): the warehouse holds its protected form and the "
                              "source its values, so rows cannot be matched by key; reconcile "
                              "does not compare this table", x->t->name, pk->items[k],
                              sl_protect_kinds[pc->kind]);
        size_t i = 0;
        while (i < r->ncols && strcmp(r->names[i], pk->items[k]) != 0)
            i++;
        if (i == r->ncols)
            return sl_err_set(err, SL_E_CONFIG, "table \"%s\": key column \"%s\" is not in both"
                              " the source and the warehouse", x->t->name, pk->items[k]);
        r->kcols[k] = r->names[i];
        r->ktypes[k] = r->types[i];
    }
    out->nkey = r->nkey;
    out->keycols = sl_calloc(r->nkey, sizeof *out->keycols);
    for (size_t k = 0; out->keycols && k < r->nkey; k++)
        out->keycols[k] = sl_strdup(r->kcols[k]);
    return 0;
}

/* Each side's table, rows and SQL, in its own dialect. */
static int make_sides(struct run *x, struct sl_err *err)
{
    struct side *s = &x->r.sd[0], *w = &x->r.sd[1];

    x->dfrom = x->dops->table_sql(x->dst, x->t->name);
    s->what = "source";
    s->d = x->q.dialect;
    s->sops = x->sops;
    s->src = x->src;
    s->from = x->q.from;
    s->where = x->q.where;
    w->what = "warehouse";
    w->d = x->dops->dialect->sql;
    w->dops = x->dops;
    w->dst = x->dst;
    w->from = x->dfrom;
    /* a soft-deleted row is gone from the source: not compared */
    w->where = x->t->kind == SL_KIND_CDC && x->t->soft_deletes
                   ? "\"" SL_DELETED_AT_COL "\" IS NULL" : NULL;
    int typed = s->d->typed_row_hash && s->d->typed_row_hash == w->d->typed_row_hash;
    if (!x->dfrom || build_side(&x->r, s, typed) < 0 || build_side(&x->r, w, typed) < 0)
        return nomem(err);
    return 0;
}

/* Counts and checksums of the whole table first; where they differ, key
 * ranges down to the keys; the keys found go to `out`. */
static int compare_table(struct run *x, struct sl_reconcile_result *out, struct sl_err *err)
{
    struct rc *r = &x->r;
    struct bucket top[2][1];
    struct bucket *tp[2] = {top[0], top[1]};
    struct sl_log_ctx log = {x->p->name, x->t->name, 0};

    if (summary(r, NULL, NULL, NULL, 0, tp, err) < 0)
        return -1;
    out->source_rows = top[0][0].rows;
    out->warehouse_rows = top[1][0].rows;
    if (top[0][0].rows != top[1][0].rows || top[0][0].sum != top[1][0].sum) {
        sl_log(SL_LOG_INFO, &log, "checksums differ (source %" PRId64 " rows, warehouse %" PRId64
               " rows): comparing key ranges", top[0][0].rows, top[1][0].rows);
        if (compare(r, NULL, NULL, top[0][0].rows, top[1][0].rows, 0, err) < 0)
            return -1;
        if (pair_up(r) < 0)
            return nomem(err);
    }
    out->pending = r->pending;
    out->queries = r->queries;
    out->truncated = r->truncated;
    out->at_least = r->capped;
    move_keys(&out->missing, &r->missing);
    move_keys(&out->extra, &r->extra);
    move_keys(&out->different, &r->different);
    if (!out->missing.keys || !out->extra.keys || !out->different.keys)
        return nomem(err);
    return 0;
}

static void run_close(struct run *x)
{
    struct rc *r = &x->r;
    sl_free(x->dfrom);
    side_free(&r->sd[0], r->ncols, r->nkey);
    side_free(&r->sd[1], r->ncols, r->nkey);
    kvec_free(&r->missing, r->nkey);
    kvec_free(&r->extra, r->nkey);
    kvec_free(&r->different, r->nkey);
    sl_free(r->names);
    sl_free(r->types);
    sl_free(r->kcols);
    sl_free(r->ktypes);
    sl_source_sql_free(&x->q);
    if (x->src)
        x->sops->close(x->src);
    sl_schema_free(&x->ds);
    if (x->leased)
        x->dops->lease_release(x->dst, x->t->name);
    if (x->dst)
        x->dops->close(x->dst);
    sl_free(x->cursor);
}

/* Re-sync the keys found as one batch of their own: missing and different
 * ones loaded again from the source, extra ones deleted. */
static int repair(const struct sl_config *c, const struct sl_pipeline_cfg *p,
                  const struct sl_table_cfg *t, struct sl_reconcile_result *out,
                  struct sl_err *err)
{
    size_t nup = 0, ndel = 0;
    const char **up = flat(&out->missing, &out->different, out->nkey, &nup);
    const char **del = flat(&out->extra, NULL, out->nkey, &ndel);
    int rc = !up || !del ? nomem(err)
                         : sl_pipeline_repair(c, p, t, (const char *const *)out->keycols,
                                              out->nkey, up, nup, del, ndel, &out->repair_batch,
                                              err);
    sl_free(up);
    sl_free(del);
    if (rc < 0 && up && del)
        sl_err_prefix(err, "reconcile table \"%s\": repair", t->name);
    return rc;
}

/* The "drift" alert, with the first keys found. */
static void alert_drift(const struct sl_config *c, const struct sl_pipeline_cfg *p,
                        const struct sl_table_cfg *t, const struct sl_reconcile_result *out)
{
    struct sl_log_ctx log = {p->name, t->name, 0};
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

int sl_reconcile_table(const struct sl_config *c, const struct sl_pipeline_cfg *p,
                       const struct sl_table_cfg *t, const struct sl_reconcile_opts *o,
                       struct sl_reconcile_result *out, struct sl_err *err)
{
    struct run x;
    double t0 = now_s();

    memset(out, 0, sizeof *out);
    out->pipeline = p->name;
    out->table = t->name;
    for (size_t i = 0, used = 0; i < t->nprotect && used < sizeof out->not_compared; i++) {
        if (t->protect[i].kind == SL_PROTECT_DROP)
            continue;   /* not in the warehouse at all */
        int w = snprintf(out->not_compared + used, sizeof out->not_compared - used, "%s%s (%s)",
                         used ? ", " : "", t->protect[i].name,
                         sl_protect_kinds[t->protect[i].kind]);
        if (w < 0)
            break;
        used += (size_t)w;
    }
    if (!p->source_ops->sql || !p->source_ops->exec)
        return sl_err_set(err, SL_E_CONFIG,
                          "pipeline \"%s\": a %s source has no table to compare with; reconcile"
                          " compares tables replicated from a database", p->name,
                          p->source_ops->kind);
    memset(&x, 0, sizeof x);
    x.c = c;
    x.p = p;
    x.t = t;
    x.sops = p->source_ops;
    set_limits(&x.r);
    int rc = open_warehouse(&x, err);
    if (rc == 0)
        rc = open_source(&x, err);
    if (rc == 0)
        rc = shared_columns(&x, err);
    if (rc == 0)
        rc = key_columns(&x, out, err);
    if (rc == 0)
        rc = make_sides(&x, err);
    if (rc == 0)
        rc = compare_table(&x, out, err);
    run_close(&x);
    if (rc < 0) {
        sl_err_prefix(err, "reconcile table \"%s\"", t->name);
        return -1;
    }
    size_t drift = sl_reconcile_drift(out);
    if (drift && o && o->repair && repair(c, p, t, out, err) < 0)
        return -1;
    out->seconds = now_s() - t0;
    if (drift && (!o || o->alert))
        alert_drift(c, p, t, out);
    return 0;
}
