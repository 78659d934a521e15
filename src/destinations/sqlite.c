/* destinations/sqlite.c: the SQLite destination (sl_dest_sqlite).
 *
 * The engine drives it through struct sl_dest_ops (destination.h): one
 * connection per pipeline thread, one transaction per batch. This file is the
 * only one that sees sqlite3 types; it owns the connection, a cache of
 * prepared statements keyed by SQL text (the ledger runs the same few per
 * batch), the quoted names of sluice's own tables and the state of the load
 * in progress.
 *
 * Durability: WAL with synchronous=FULL, so a committed batch is on disk when
 * commit returns (docs/invariants.md #2; NORMAL could lose the last commits on power
 * loss). begin is BEGIN IMMEDIATE: the writer takes SQLite's one write lock
 * up front, so two loaders queue on busy_timeout instead of deadlocking on a
 * read-to-write upgrade.
 *
 * Declared types are chosen for SQLite's affinity rules ("INT" -> integer;
 * "CHAR", "CLOB", "TEXT" -> text; "REAL", "FLOA", "DOUB" -> real; else
 * numeric), so each canonical value is stored as it should be:
 *   bool         BOOLEAN        numeric affinity, bound as integer 0 / 1
 *   bigint       BIGINT         integer
 *   double       DOUBLE         real
 *   numeric      NUMERIC TEXT   text: "12.30" stays exactly "12.30" (a plain
 *                               NUMERIC column would turn it into REAL 12.3)
 *   date         DATE           numeric affinity, but a canonical date is never
 *                               a number literal, so it stays text
 *   timestamptz  TIMESTAMPTZ    likewise (fixed-width UTC text)
 *   json         JSON TEXT      text: JSON "1.50" must not become REAL 1.5
 *   text         TEXT           text
 * describe maps these names back first and falls back to sl_type_from_name
 * (after dropping a "(n,m)" suffix) for tables made by others, else text.
 *
 * NaN: SQLite turns a bound NaN double into NULL, which would lose the value.
 * A NaN is stored as the text 'NaN' in the DOUBLE column instead: it reads
 * back as "NaN" and, since SQLite orders text above every number, it sorts
 * above all numbers exactly as PostgreSQL orders NaN. Infinity binds as a
 * real and exec prints it as "Infinity" / "-Infinity".
 *
 * Versioned loads compare the version column in the upsert's WHERE: integers
 * and reals numerically (bound as numbers), dates and timestamps as text
 * (canonical forms are fixed-width, so text order is time order). A numeric
 * version is stored as text, where "9.5" > "10.25"; it is compared through
 * sluice_numeric_cmp(), a function registered on the connection that compares
 * decimal strings exactly (no rounding through double).
 *
 * An upsert load (incremental updater, reconcile's repair) is the same
 * ON CONFLICT DO UPDATE without the version test: the batch's row replaces
 * the stored one. Reconcile's row checksums are computed here by
 * sluice_rowhash() and summed by sluice_sum64(), as the dialect (the end of
 * this file, model/dialect.h) tells reconcile to ask for them.
 *
 * For rollback (docs/invariants.md #3), in the batch's transaction: a versioned or upsert load
 * puts a TEMP trigger on the table for the duration of the load, which copies
 * each stored row the upsert overwrites (only rows written before this batch:
 * a key repeated within the batch is kept once, as it was) into
 * "_sluice_hist_<table>" (the table's columns plus "_sluice_replaced_by").
 * A snapshot swap keeps the replaced table as "_sluice_prev_<batch>" and
 * records it in "_sluice_kept"; the newest SL_KEEP_PREV per table are kept.
 * sluice's own copies are declared by affinity (INTEGER, TEXT, REAL,
 * NUMERIC, BLOB) of the table's columns, so every value keeps its storage
 * class and reads back byte for byte. */
#include "destinations/destination.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <strings.h>
#include <unistd.h>

#include <sqlite3.h>

#include "base/hash.h"
#include "base/mem.h"

enum { STMT_CACHE_MAX = 32, DEFAULT_BUSY_MS = 10000 };

static const char BATCH_COL[] = "_sluice_batch";
static const char NEW_SUFFIX[] = "__sluice_new";       /* snapshot: loaded beside the table */
static const char REPLACED_COL[] = "_sluice_replaced_by";
static const char HIST_TRIGGER[] = "_sluice_hist_capture";
static const char HIST_DEL_TRIGGER[] = "_sluice_hist_capture_del";
static const char IDX_SUFFIX[] = "__sluice_batch_idx"; /* index on _sluice_batch */
static const char BUSY_ENV[] = "SLUICE_SQLITE_BUSY_TIMEOUT_MS";

static const struct {
    const char *decl;
    enum sl_type type;
} decl_types[] = {
    {"BOOLEAN", SL_T_BOOL},
    {"BIGINT", SL_T_BIGINT},
    {"NUMERIC TEXT", SL_T_NUMERIC},
    {"DOUBLE", SL_T_DOUBLE},
    {"DATE", SL_T_DATE},
    {"TIMESTAMPTZ", SL_T_TIMESTAMPTZ},
    {"JSON TEXT", SL_T_JSON},
    {"TEXT", SL_T_TEXT},
};

struct cached_stmt {
    char *sql;
    uint64_t hash;
    uint64_t used;          /* tick of last use, for eviction */
    sqlite3_stmt *stmt;
};

struct meta_name {
    struct meta_name *next;
    char *name;
    char *quoted;
};

struct load_state {
    int active;
    enum sl_load_mode mode;
    char *table;            /* as the caller named it, for messages */
    char *name;             /* the table in SQLite ("public.x" -> "x") */
    char *into;             /* where rows go: name, or name__sluice_new */
    sqlite3_stmt *ins;
    sqlite3_stmt *del;      /* cdc: a delete (hard) or its stamp (soft) */
    size_t ncols;           /* columns of each load_row that go into the table */
    size_t op, unchanged;   /* cdc: the load columns of the change and what it left out */
    size_t ncols_target;    /* the table's columns (the insert's parameters before the batch) */
    long deleted_at;        /* cdc: load column of SL_DELETED_AT_COL, -1 = hard deletes */
    char **cols;            /* their names */
    enum sl_type *types;    /* their types: how each value is bound */
    int *param;             /* their parameter numbers in `ins` */
    size_t *pk;             /* load column of each key column */
    size_t npk;
    long ver;               /* load column of the version key, -1 none */
    struct sl_buf scratch;  /* NUL-terminated copy of a number being parsed */
    struct sl_load_result res;
    int64_t batch;
    int trigger;            /* the history trigger is in place */
    int del_trigger;        /* cdc: and its twin for deletes */
};

struct sqlite_dest {
    sqlite3 *db;
    char *path;
    struct cached_stmt cache[STMT_CACHE_MAX];
    size_t ncache;
    uint64_t tick;
    struct meta_name *meta;
    struct load_state ld;
    int lease_fd;           /* "<db>.lock", open once a lease was asked for; -1 */
};

/* struct sl_dest is opaque in destination.h and each destination has its own
 * layout; a private tag keeps two different definitions of one struct out of
 * the program. */
static struct sqlite_dest *DB(struct sl_dest *d)
{
    return (struct sqlite_dest *)d;
}

/* ---- errors ---- */

/* Transient: busy and locked (after busy_timeout), the WAL locking race,
 * a full disk (SQLITE_FULL), any I/O error and a database file that cannot
 * be opened. None of them says anything about the batch: the same batch
 * loads once the disk has room or the file system answers again, so the
 * engine retries it and the source keeps it where it is (a drop stays in
 * its folder rather than going to failed/). */
static int transient(int rc)
{
    switch (rc & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
    case SQLITE_PROTOCOL:
    case SQLITE_FULL:
    case SQLITE_IOERR:
    case SQLITE_CANTOPEN:
        return 1;
    }
    return 0;
}

/* "could not <what>: <sqlite message>", classed by rc. Call it before any
 * other call on the connection (sqlite3_reset included) so the message is
 * the failure's own. */
__attribute__((format(printf, 4, 5)))
static int db_fail(sqlite3 *db, int rc, struct sl_err *err, const char *fmt, ...)
{
    char what[768];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    const char *msg = db ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
    if (transient(rc))
        sl_err_retry(err, SL_E_DEST, "could not %s: %s", what, msg);
    else
        sl_err_set(err, SL_E_DEST, "could not %s: %s", what, msg);
    err->sqlstate[0] = '\0';
    return -1;
}

/* ---- names ---- */

/* The one identifier quoting: "x" with " doubled (docs/invariants.md #5). */
/* 'text' with quotes doubled: only ever a column name (a JSON value to
 * compare with), never input. */
static void quote_literal(struct sl_buf *b, const char *s)
{
    sl_buf_putc(b, '\'');
    for (; *s; s++) {
        if (*s == '\'')
            sl_buf_putc(b, '\'');
        sl_buf_putc(b, *s);
    }
    sl_buf_putc(b, '\'');
}

static void quote_ident(struct sl_buf *b, const char *name)
{
    sl_buf_putc(b, '"');
    for (const char *p = name; *p; p++) {
        if (*p == '"')
            sl_buf_putc(b, '"');
        sl_buf_putc(b, *p);
    }
    sl_buf_putc(b, '"');
}

/* The table's name in SQLite: SQLite has no schemas here, so "public.x" is
 * "x" and any other "s.x" is "s_x". Caller frees. */
static char *table_name(const char *name)
{
    if (strncmp(name, "public.", 7) == 0 && name[7])
        return sl_strdup(name + 7);
    char *s = sl_strdup(name);
    if (!s)
        return NULL;
    char *dot = strchr(s, '.');
    if (dot && dot != s && dot[1])
        *dot = '_';
    return s;
}

static int ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcasecmp(s + n - m, suffix) == 0;
}

/* sluice's own names are off limits for data tables (SQLite names are
 * case-insensitive, so the checks are too). */
static int check_data_table(const char *table, const char *name, struct sl_err *err)
{
    if (!name[0])
        return sl_err_set(err, SL_E_CONFIG, "empty table name");
    if (strncasecmp(name, "_sluice", 7) == 0 || ends_with(name, NEW_SUFFIX))
        return sl_err_set(err, SL_E_CONFIG,
                          "table name \"%s\" is reserved for sluice's own tables", table);
    return 0;
}

static const char *decl_name(enum sl_type t)
{
    for (size_t i = 0; i < sizeof decl_types / sizeof decl_types[0]; i++)
        if (decl_types[i].type == t)
            return decl_types[i].decl;
    return NULL;
}

static enum sl_type type_from_decl(const char *decl)
{
    char low[64];
    size_t n = 0;
    enum sl_type t;

    if (!decl)
        return SL_T_TEXT;
    for (size_t i = 0; i < sizeof decl_types / sizeof decl_types[0]; i++)
        if (strcasecmp(decl, decl_types[i].decl) == 0)
            return decl_types[i].type;
    /* "VARCHAR(20)", "NUMERIC(12, 2)": the name without its size */
    for (const char *p = decl; *p && *p != '(' && n + 1 < sizeof low; p++)
        low[n++] = (char)tolower((unsigned char)*p);
    while (n > 0 && low[n - 1] == ' ')
        n--;
    low[n] = '\0';
    if (n > 0 && sl_type_from_name(low, &t) == 0)
        return t;
    return SL_T_TEXT;
}

/* ---- statements ---- */

static uint64_t hash_sql(const char *s)
{
    return sl_fnv1a64_str(SL_FNV1A64_SLUICE_INIT, s);
}

/* One statement only: anything but blanks, ';' and comments after it is an
 * error rather than silently ignored. */
static int only_one_statement(struct sqlite_dest *d, const char *tail, struct sl_err *err)
{
    sqlite3_stmt *more = NULL;

    while (*tail && (isspace((unsigned char)*tail) || *tail == ';'))
        tail++;
    if (!*tail)
        return 0;
    if (sqlite3_prepare_v2(d->db, tail, -1, &more, NULL) != SQLITE_OK || more) {
        sqlite3_finalize(more);
        return sl_err_set(err, SL_E_INTERNAL,
                          "only one SQL statement per call is supported (extra: \"%.200s\")",
                          tail);
    }
    return 0;
}

/* A prepared statement for `sql`, from the cache or newly prepared into it.
 * The cache owns it; callers reset it after use. */
static sqlite3_stmt *cached(struct sqlite_dest *d, const char *sql, struct sl_err *err)
{
    uint64_t h = hash_sql(sql);
    sqlite3_stmt *stmt = NULL;
    const char *tail = NULL;
    size_t slot;

    for (size_t i = 0; i < d->ncache; i++)
        if (d->cache[i].hash == h && strcmp(d->cache[i].sql, sql) == 0) {
            d->cache[i].used = ++d->tick;
            return d->cache[i].stmt;
        }

    int rc = sqlite3_prepare_v3(d->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &stmt, &tail);
    if (rc != SQLITE_OK) {
        db_fail(d->db, rc, err, "prepare statement \"%.300s\"", sql);
        sqlite3_finalize(stmt);
        return NULL;
    }
    if (!stmt) {
        sl_err_set(err, SL_E_INTERNAL, "empty SQL statement");
        return NULL;
    }
    if (only_one_statement(d, tail, err) < 0) {
        sqlite3_finalize(stmt);
        return NULL;
    }
    char *copy = sl_strdup(sql);
    if (!copy) {
        sqlite3_finalize(stmt);
        sl_err_nomem(err);
        return NULL;
    }
    if (d->ncache < STMT_CACHE_MAX) {
        slot = d->ncache++;
    } else {
        slot = 0;
        for (size_t i = 1; i < d->ncache; i++)
            if (d->cache[i].used < d->cache[slot].used)
                slot = i;
        sqlite3_finalize(d->cache[slot].stmt);
        sl_free(d->cache[slot].sql);
    }
    d->cache[slot].sql = copy;
    d->cache[slot].hash = h;
    d->cache[slot].used = ++d->tick;
    d->cache[slot].stmt = stmt;
    return stmt;
}

/* Run one statement that returns nothing worth keeping (DDL, BEGIN ...),
 * not cached. */
__attribute__((format(printf, 4, 5)))
static int run(struct sqlite_dest *d, const char *sql, struct sl_err *err, const char *fmt, ...)
{
    char what[512];
    sqlite3_stmt *stmt = NULL;
    va_list ap;
    int rc;

    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    rc = sqlite3_prepare_v2(d->db, sql, -1, &stmt, NULL);
    if (rc == SQLITE_OK)
        while ((rc = sqlite3_step(stmt)) == SQLITE_ROW)
            ;
    if (rc != SQLITE_OK && rc != SQLITE_DONE) {
        db_fail(d->db, rc, err, "%s", what);
        sqlite3_finalize(stmt);
        return -1;
    }
    sqlite3_finalize(stmt);
    return 0;
}

/* Run SQL assembled in `b`; an append that ran out of memory fails here. */
__attribute__((format(printf, 4, 5)))
static int run_buf(struct sqlite_dest *d, struct sl_buf *b, struct sl_err *err,
                   const char *fmt, ...)
{
    char what[512];
    va_list ap;

    if (b->oom || !b->data)
        return sl_err_nomem(err);
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    return run(d, b->data, err, "%s", what);
}

/* ---- exact decimal comparison (numeric version keys) ---- */

struct decimal {
    int neg;
    const char *ip;     /* integer digits without leading zeros */
    size_t ni;
    const char *fp;     /* fraction digits without trailing zeros */
    size_t nf;
};

/* Parse "[+-]digits[.digits]" (either digit run may be empty, not both). */
static int decimal_parse(const char *s, size_t n, struct decimal *d)
{
    size_t i = 0, start;

    memset(d, 0, sizeof *d);
    if (i < n && (s[i] == '-' || s[i] == '+'))
        d->neg = s[i++] == '-';
    start = i;
    while (i < n && s[i] >= '0' && s[i] <= '9')
        i++;
    d->ip = s + start;
    d->ni = i - start;
    if (i < n && s[i] == '.') {
        i++;
        start = i;
        while (i < n && s[i] >= '0' && s[i] <= '9')
            i++;
        d->fp = s + start;
        d->nf = i - start;
    }
    if (i != n || d->ni + d->nf == 0)
        return -1;
    while (d->ni > 0 && d->ip[0] == '0')
        d->ip++, d->ni--;
    while (d->nf > 0 && d->fp[d->nf - 1] == '0')
        d->nf--;
    return 0;
}

static int decimal_cmp(const struct decimal *a, const struct decimal *b)
{
    int sa = (a->ni + a->nf == 0) ? 0 : a->neg ? -1 : 1;
    int sb = (b->ni + b->nf == 0) ? 0 : b->neg ? -1 : 1;
    int m = 0;

    if (sa != sb)
        return sa < sb ? -1 : 1;
    if (sa == 0)
        return 0;
    if (a->ni != b->ni) {
        m = a->ni < b->ni ? -1 : 1;
    } else {
        m = a->ni ? memcmp(a->ip, b->ip, a->ni) : 0;
        for (size_t i = 0; m == 0 && i < a->nf && i < b->nf; i++)
            m = (a->fp[i] > b->fp[i]) - (a->fp[i] < b->fp[i]);
        if (m == 0)
            m = (a->nf > b->nf) - (a->nf < b->nf);
    }
    if (m != 0)
        m = m < 0 ? -1 : 1;
    return sa > 0 ? m : -m;
}

static int as_double(sqlite3_value *v, double *out)
{
    int t = sqlite3_value_type(v);
    if (t == SQLITE_INTEGER || t == SQLITE_FLOAT) {
        *out = sqlite3_value_double(v);
        return 0;
    }
    const char *s = (const char *)sqlite3_value_text(v);
    char *end;
    if (!s || !*s)
        return -1;
    errno = 0;
    *out = strtod(s, &end);
    return *end == '\0' ? 0 : -1;
}

/* sluice_numeric_cmp(a, b): -1, 0 or 1; NULL when either is NULL. Exact for
 * decimal strings (how numeric is stored); values another writer left as
 * reals compare as doubles; anything else compares as text. */
static void numeric_cmp_fn(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    struct decimal da, db;
    double fa, fb;
    (void)argc;

    if (sqlite3_value_type(argv[0]) == SQLITE_NULL || sqlite3_value_type(argv[1]) == SQLITE_NULL) {
        sqlite3_result_null(ctx);
        return;
    }
    const char *a = (const char *)sqlite3_value_text(argv[0]);
    int na = sqlite3_value_bytes(argv[0]);
    const char *b = (const char *)sqlite3_value_text(argv[1]);
    int nb = sqlite3_value_bytes(argv[1]);
    if (!a || !b) {
        sqlite3_result_error_nomem(ctx);
        return;
    }
    if (sqlite3_value_type(argv[0]) != SQLITE_FLOAT && sqlite3_value_type(argv[1]) != SQLITE_FLOAT
        && decimal_parse(a, (size_t)na, &da) == 0 && decimal_parse(b, (size_t)nb, &db) == 0) {
        sqlite3_result_int(ctx, decimal_cmp(&da, &db));
    } else if (as_double(argv[0], &fa) == 0 && as_double(argv[1], &fb) == 0) {
        sqlite3_result_int(ctx, (fa > fb) - (fa < fb));
    } else {
        int m = memcmp(a, b, (size_t)(na < nb ? na : nb));
        if (m == 0)
            m = (na > nb) - (na < nb);
        sqlite3_result_int(ctx, (m > 0) - (m < 0));
    }
}

/* ---- reconcile: row checksums computed in the database ----
 * sluice_rowhash(types, v1, ..., vn) is one row's agreed checksum
 * (model/dialect.h), as PostgreSQL computes it (pg/dialect.c): each value
 * as text in one agreed form per type (types: one letter a column,
 * type_letter), the texts as a PostgreSQL row literal ROW(...)::text would
 * print them, MD5, the first 8 bytes big-endian as a signed 64-bit integer.
 * sluice_sum64(h) adds such checksums modulo 2^64. Both deterministic. */

struct md5 {
    uint32_t s[4];
    uint64_t len;
    unsigned char buf[64];
};

static uint32_t md5_rol(uint32_t x, int c)
{
    return (x << c) | (x >> (32 - c));
}

static void md5_block(struct md5 *m, const unsigned char *p)
{
    static const uint32_t K[64] = {
        0xd76aa478, 0xe8c7b756, 0x242070db, 0xc1bdceee, 0xf57c0faf, 0x4787c62a, 0xa8304613,
        0xfd469501, 0x698098d8, 0x8b44f7af, 0xffff5bb1, 0x895cd7be, 0x6b901122, 0xfd987193,
        0xa679438e, 0x49b40821, 0xf61e2562, 0xc040b340, 0x265e5a51, 0xe9b6c7aa, 0xd62f105d,
        0x02441453, 0xd8a1e681, 0xe7d3fbc8, 0x21e1cde6, 0xc33707d6, 0xf4d50d87, 0x455a14ed,
        0xa9e3e905, 0xfcefa3f8, 0x676f02d9, 0x8d2a4c8a, 0xfffa3942, 0x8771f681, 0x6d9d6122,
        0xfde5380c, 0xa4beea44, 0x4bdecfa9, 0xf6bb4b60, 0xbebfbc70, 0x289b7ec6, 0xeaa127fa,
        0xd4ef3085, 0x04881d05, 0xd9d4d039, 0xe6db99e5, 0x1fa27cf8, 0xc4ac5665, 0xf4292244,
        0x432aff97, 0xab9423a7, 0xfc93a039, 0x655b59c3, 0x8f0ccc92, 0xffeff47d, 0x85845dd1,
        0x6fa87e4f, 0xfe2ce6e0, 0xa3014314, 0x4e0811a1, 0xf7537e82, 0xbd3af235, 0x2ad7d2bb,
        0xeb86d391};
    static const int R[64] = {7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22,
                              5, 9,  14, 20, 5, 9,  14, 20, 5, 9,  14, 20, 5, 9,  14, 20,
                              4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23,
                              6, 10, 15, 21, 6, 10, 15, 21, 6, 10, 15, 21, 6, 10, 15, 21};
    uint32_t w[16], a = m->s[0], b = m->s[1], c = m->s[2], d = m->s[3];
    for (int i = 0; i < 16; i++)
        w[i] = (uint32_t)p[i * 4] | (uint32_t)p[i * 4 + 1] << 8 | (uint32_t)p[i * 4 + 2] << 16 |
               (uint32_t)p[i * 4 + 3] << 24;
    for (int i = 0; i < 64; i++) {
        uint32_t f;
        int g;
        if (i < 16) {
            f = (b & c) | (~b & d);
            g = i;
        } else if (i < 32) {
            f = (d & b) | (~d & c);
            g = (5 * i + 1) % 16;
        } else if (i < 48) {
            f = b ^ c ^ d;
            g = (3 * i + 5) % 16;
        } else {
            f = c ^ (b | ~d);
            g = (7 * i) % 16;
        }
        uint32_t t = d;
        d = c;
        c = b;
        b = b + md5_rol(a + f + K[i] + w[g], R[i]);
        a = t;
    }
    m->s[0] += a;
    m->s[1] += b;
    m->s[2] += c;
    m->s[3] += d;
}

static void md5_init(struct md5 *m)
{
    m->s[0] = 0x67452301;
    m->s[1] = 0xefcdab89;
    m->s[2] = 0x98badcfe;
    m->s[3] = 0x10325476;
    m->len = 0;
}

static void md5_update(struct md5 *m, const void *data, size_t n)
{
    const unsigned char *p = data;
    size_t have = (size_t)(m->len % 64);
    m->len += n;
    if (have) {
        size_t take = 64 - have < n ? 64 - have : n;
        memcpy(m->buf + have, p, take);
        p += take;
        n -= take;
        if (have + take < 64)
            return;
        md5_block(m, m->buf);
    }
    for (; n >= 64; p += 64, n -= 64)
        md5_block(m, p);
    memcpy(m->buf, p, n);
}

/* The first 8 bytes of the digest, big-endian. */
static uint64_t md5_final64(struct md5 *m)
{
    static const unsigned char pad[64] = {0x80};
    unsigned char lenb[8];
    uint64_t bits = m->len * 8;
    for (int i = 0; i < 8; i++)
        lenb[i] = (unsigned char)(bits >> (8 * i));
    size_t have = (size_t)(m->len % 64);
    md5_update(m, pad, have < 56 ? 56 - have : 120 - have);
    md5_update(m, lenb, 8);
    uint64_t h = 0;
    for (int i = 0; i < 2; i++)
        for (int k = 0; k < 4; k++)
            h = h << 8 | ((m->s[i] >> (8 * k)) & 0xff);
    return h;
}

/* One value as record_out prints it: quoted when empty or holding a quote,
 * backslash, parenthesis, comma or white space; quotes and backslashes
 * doubled inside. */
static void rec_value(struct md5 *m, const char *s, size_t n)
{
    int q = n == 0;
    for (size_t i = 0; i < n && !q; i++)
        q = s[i] == '"' || s[i] == '\\' || s[i] == '(' || s[i] == ')' || s[i] == ',' ||
            s[i] == ' ' || (s[i] >= '\t' && s[i] <= '\r');
    if (!q) {
        md5_update(m, s, n);
        return;
    }
    md5_update(m, "\"", 1);
    size_t run = 0;
    for (size_t i = 0; i < n; i++)
        if (s[i] == '"' || s[i] == '\\') {
            md5_update(m, s + run, i + 1 - run);
            run = i;
        }
    md5_update(m, s + run, n - run);
    md5_update(m, "\"", 1);
}

/* The agreed text of one stored value (model/dialect.h); 0 = NULL. */
static int agreed_text(char type, sqlite3_value *v, char *buf, size_t cap, const char **out,
                       size_t *n)
{
    int vt = sqlite3_value_type(v);
    if (vt == SQLITE_NULL)
        return 0;
    switch (type) {
    case 'b':
        if (vt == SQLITE_INTEGER) {
            *out = sqlite3_value_int64(v) ? "true" : "false";
            *n = strlen(*out);
            return 1;
        }
        break;
    case 'd': {
        double x;
        uint64_t bits;
        if (vt == SQLITE_FLOAT || vt == SQLITE_INTEGER) {
            x = sqlite3_value_double(v);
        } else {
            const char *t = (const char *)sqlite3_value_text(v);
            x = t && strcmp(t, "NaN") == 0 ? NAN : t ? strtod(t, NULL) : 0;
        }
        if (isnan(x))
            bits = UINT64_C(0x7ff8000000000000);
        else if (x == 0)
            bits = 0;
        else
            memcpy(&bits, &x, sizeof bits);
        snprintf(buf, cap, "%016llx", (unsigned long long)bits);
        *out = buf;
        *n = 16;
        return 1;
    }
    case 't': {
        /* canonical YYYY-MM-DDTHH:MM:SS.ffffffZ -> PostgreSQL's ISO output in UTC */
        const char *t = (const char *)sqlite3_value_text(v);
        size_t len = (size_t)sqlite3_value_bytes(v);
        if (t && len == 27 && t[10] == 'T' && t[19] == '.' && t[26] == 'Z' && cap > 32) {
            size_t f = 6;
            while (f > 0 && t[19 + f] == '0')
                f--;
            memcpy(buf, t, 19);
            buf[10] = ' ';
            size_t o = 19;
            if (f) {
                memcpy(buf + o, t + 19, f + 1);
                o += f + 1;
            }
            memcpy(buf + o, "+00", 3);
            *out = buf;
            *n = o + 3;
            return 1;
        }
        break;
    }
    default:
        break;
    }
    *out = (const char *)sqlite3_value_text(v);
    *n = (size_t)sqlite3_value_bytes(v);
    return *out ? 1 : -1;
}

static void rowhash_fn(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    struct md5 m;
    char buf[48];
    const char *types = argc > 0 ? (const char *)sqlite3_value_text(argv[0]) : NULL;
    if (!types || (int)strlen(types) != argc - 1) {
        sqlite3_result_error(ctx, "sluice_rowhash: types do not match the values", -1);
        return;
    }
    md5_init(&m);
    md5_update(&m, "(", 1);
    for (int i = 1; i < argc; i++) {
        const char *t;
        size_t n;
        if (i > 1)
            md5_update(&m, ",", 1);
        int rc = agreed_text(types[i - 1], argv[i], buf, sizeof buf, &t, &n);
        if (rc < 0) {
            sqlite3_result_error_nomem(ctx);
            return;
        }
        if (rc > 0)
            rec_value(&m, t, n);
    }
    md5_update(&m, ")", 1);
    sqlite3_result_int64(ctx, (sqlite3_int64)md5_final64(&m));
}

static void sum64_step(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    uint64_t *acc = sqlite3_aggregate_context(ctx, sizeof *acc);
    (void)argc;
    if (!acc) {
        sqlite3_result_error_nomem(ctx);
        return;
    }
    if (sqlite3_value_type(argv[0]) != SQLITE_NULL)
        *acc += (uint64_t)sqlite3_value_int64(argv[0]);
}

static void sum64_final(sqlite3_context *ctx)
{
    uint64_t *acc = sqlite3_aggregate_context(ctx, 0);
    sqlite3_result_int64(ctx, acc ? (sqlite3_int64)*acc : 0);
}

/* ---- the SQL dialect (model/dialect.h) ----
 * Values are compared as stored: keys need no cast, booleans are 1 / 0,
 * and numeric (stored as text) compares through sluice_numeric_cmp. */

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

static void sq_row_hash(struct sl_buf *b, const enum sl_type *types, char *const *vals,
                        size_t n)
{
    sl_buf_puts(b, "sluice_rowhash('");
    for (size_t i = 0; i < n; i++)
        sl_buf_putc(b, type_letter(types[i]));
    sl_buf_putc(b, '\'');
    for (size_t i = 0; i < n; i++)
        sl_buf_printf(b, ", %s", vals[i]);
    sl_buf_putc(b, ')');
}

static void sq_as_stored(struct sl_buf *b, enum sl_type t, const char *v)
{
    (void)t;
    sl_buf_puts(b, v);
}

static void sq_param(struct sl_buf *b, int n, enum sl_type t)
{
    (void)t;
    sl_buf_printf(b, "$%d", n);
}

static const char *sq_param_value(enum sl_type t, const char *v)
{
    if (t == SL_T_BOOL && v)
        return strcmp(v, "true") == 0 ? "1" : "0";
    return v;
}

static const char *sq_key_value(enum sl_type t, const char *v)
{
    if (t == SL_T_BOOL && v)
        return strcmp(v, "0") == 0 ? "false" : "true";
    return v;
}

/* One key column compared with parameter $n. */
static void sq_key_cmp(struct sl_buf *b, enum sl_type t, const char *ord, const char *op, int n)
{
    if (t == SL_T_NUMERIC)
        sl_buf_printf(b, "sluice_numeric_cmp(%s, $%d) %s 0", ord, n, op);
    else
        sl_buf_printf(b, "%s %s $%d", ord, op, n);
}

/* Row values with sluice_numeric_cmp spelled out: lexicographic,
 * (a op' x OR (a = x AND (b op y))) with op' the strict form of op. */
static void sq_key_cond(struct sl_buf *b, const enum sl_type *types, char *const *ord,
                        size_t nkey, const char *op, int first)
{
    char strict[2] = {op[0], 0};
    for (size_t k = 0; k < nkey; k++) {
        sl_buf_putc(b, '(');
        sq_key_cmp(b, types[k], ord[k], k + 1 == nkey ? op : strict, first + (int)k);
        if (k + 1 < nkey) {
            sl_buf_puts(b, " OR (");
            sq_key_cmp(b, types[k], ord[k], "=", first + (int)k);
            sl_buf_puts(b, " AND ");
        }
    }
    for (size_t k = 0; k < nkey; k++)
        sl_buf_puts(b, k + 1 < nkey ? "))" : ")");
}

static const struct sl_dialect sq_sql = {
    .true_sql = "1",
    .sum = "sluice_sum64",
    .cast = NULL,
    .row_hash = sq_row_hash,
    .typed_row_hash = NULL,
    .key_text = sq_as_stored,
    .key_order = sq_as_stored,
    .param = sq_param,
    .param_value = sq_param_value,
    .key_value = sq_key_value,
    .key_cond = sq_key_cond,
    .json_keys = NULL,
};

/* ---- connect / close ---- */

static int busy_timeout_ms(int *ms, struct sl_err *err)
{
    const char *s = getenv(BUSY_ENV);
    char *end;
    long v;

    *ms = DEFAULT_BUSY_MS;
    if (!s || !*s)
        return 0;
    errno = 0;
    v = strtol(s, &end, 10);
    if (errno || *end || v < 0 || v > INT_MAX)
        return sl_err_set(err, SL_E_CONFIG, "%s=\"%s\" is not a number of milliseconds",
                          BUSY_ENV, s);
    *ms = (int)v;
    return 0;
}

/* sqlite://rel/path.db (relative to base_dir), sqlite:///abs/path.db. The
 * path is taken as written: no query parameters, no %-decoding. */
static char *resolve_path(const char *url, const char *base_dir, struct sl_err *err)
{
    const char *p = url;
    struct sl_buf b;

    if (strncmp(p, "sqlite://", 9) != 0) {
        sl_err_set(err, SL_E_CONFIG, "not a sqlite url: \"%s\" (use sqlite://path.db)", url);
        return NULL;
    }
    p += 9;
    if (!*p) {
        sl_err_set(err, SL_E_CONFIG, "sqlite url \"%s\" names no file", url);
        return NULL;
    }
    sl_buf_init(&b);
    if (*p != '/' && strcmp(p, ":memory:") != 0 && base_dir && *base_dir) {
        sl_buf_puts(&b, base_dir);
        if (base_dir[strlen(base_dir) - 1] != '/')
            sl_buf_putc(&b, '/');
    }
    sl_buf_puts(&b, p);
    if (b.oom) {
        sl_buf_free(&b);
        sl_err_nomem(err);
        return NULL;
    }
    return sl_buf_steal(&b);
}

static void load_free(struct load_state *l);
static void sq_close(struct sl_dest *dd);

static int sq_connect(struct sl_dest **out, const char *url, const char *password,
                      const char *base_dir, struct sl_err *err)
{
    struct sqlite_dest *d;
    int ms, rc;
    (void)password;     /* a file has no password */

    *out = NULL;
    if (busy_timeout_ms(&ms, err) < 0)
        return -1;
    d = sl_calloc(1, sizeof *d);
    if (!d)
        return sl_err_nomem(err);
    d->ld.ver = -1;
    d->lease_fd = -1;
    d->path = resolve_path(url, base_dir, err);
    if (!d->path) {
        sl_free(d);
        return -1;
    }
    /* one connection per thread: the statement cache is not shared */
    rc = sqlite3_open_v2(d->path, &d->db,
                         SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc != SQLITE_OK) {
        if (d->db)
            db_fail(d->db, rc, err, "open sqlite database \"%s\"", d->path);
        else
            sl_err_nomem(err);
        sq_close((struct sl_dest *)d);
        return -1;
    }
    sqlite3_extended_result_codes(d->db, 1);
    sqlite3_busy_timeout(d->db, ms);
    /* Switching a new file to WAL takes a lock the busy handler does not wait
     * for when another connection switches it at the same moment (two runs
     * starting on a fresh warehouse): a few quick tries settle that race
     * before it counts as the warehouse being locked. */
    for (int tries = 0;; tries++) {
        sl_err_clear(err);
        if (run(d, "PRAGMA journal_mode = WAL", err, "set WAL mode on \"%s\"", d->path) == 0)
            break;
        if (err->cls != SL_RETRY || tries >= 50 || (unsigned)ms < (unsigned)tries * 20u) {
            sq_close((struct sl_dest *)d);
            return -1;
        }
        struct timespec ts = {0, 20 * 1000000L};
        nanosleep(&ts, NULL);
    }
    /* docs/invariants.md #2: synchronous=FULL so a committed batch survives power loss */
    if (run(d, "PRAGMA synchronous = FULL", err, "set synchronous on \"%s\"", d->path) < 0
        || run(d, "PRAGMA foreign_keys = OFF", err, "set foreign_keys on \"%s\"", d->path) < 0) {
        sq_close((struct sl_dest *)d);
        return -1;
    }
    rc = sqlite3_create_function_v2(d->db, "sluice_numeric_cmp", 2,
                                    SQLITE_UTF8 | SQLITE_DETERMINISTIC | SQLITE_INNOCUOUS,
                                    NULL, numeric_cmp_fn, NULL, NULL, NULL);
    if (rc != SQLITE_OK) {
        db_fail(d->db, rc, err, "register sluice_numeric_cmp on \"%s\"", d->path);
        sq_close((struct sl_dest *)d);
        return -1;
    }
    /* reconcile's checksums, computed here as on the source */
    rc = sqlite3_create_function_v2(d->db, "sluice_rowhash", -1,
                                    SQLITE_UTF8 | SQLITE_DETERMINISTIC | SQLITE_INNOCUOUS,
                                    NULL, rowhash_fn, NULL, NULL, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_create_function_v2(d->db, "sluice_sum64", 1,
                                        SQLITE_UTF8 | SQLITE_DETERMINISTIC | SQLITE_INNOCUOUS,
                                        NULL, NULL, sum64_step, sum64_final, NULL);
    if (rc != SQLITE_OK) {
        db_fail(d->db, rc, err, "register sluice_rowhash on \"%s\"", d->path);
        sq_close((struct sl_dest *)d);
        return -1;
    }
    *out = (struct sl_dest *)d;
    return 0;
}

static void sq_close(struct sl_dest *dd)
{
    struct sqlite_dest *d = DB(dd);
    if (!d)
        return;
    load_free(&d->ld);
    for (size_t i = 0; i < d->ncache; i++) {
        sqlite3_finalize(d->cache[i].stmt);
        sl_free(d->cache[i].sql);
    }
    while (d->meta) {
        struct meta_name *m = d->meta;
        d->meta = m->next;
        sl_free(m->name);
        sl_free(m->quoted);
        sl_free(m);
    }
    if (d->lease_fd >= 0)
        close(d->lease_fd);     /* lets go of every lease of this connection */
    sqlite3_close_v2(d->db);    /* an open transaction rolls back */
    sl_free(d->path);
    sl_free(d);
}

/* ---- sluice's own tables ---- */

/* "batches" -> "\"_sluice_batches\"", kept until close. NULL on OOM. */
static const char *sq_meta_table(struct sl_dest *dd, const char *name)
{
    struct sqlite_dest *d = DB(dd);
    struct meta_name *m;
    struct sl_buf b;
    char *full;
    size_t n = strlen(name);

    for (m = d->meta; m; m = m->next)
        if (strcmp(m->name, name) == 0)
            return m->quoted;
    full = sl_malloc(n + 8 + 1);
    if (!full)
        return NULL;
    memcpy(full, "_sluice_", 8);
    memcpy(full + 8, name, n + 1);
    sl_buf_init(&b);
    quote_ident(&b, full);
    sl_free(full);
    m = sl_calloc(1, sizeof *m);
    if (b.oom || !m || !(m->name = sl_strdup(name))) {
        sl_free(m);
        sl_buf_free(&b);
        return NULL;
    }
    m->quoted = sl_buf_steal(&b);
    m->next = d->meta;
    d->meta = m;
    return m->quoted;
}

static const char SQL_META_BATCHES[] =
    "CREATE TABLE IF NOT EXISTS \"_sluice_batches\" ("
    " id INTEGER PRIMARY KEY AUTOINCREMENT,"
    " pipeline TEXT NOT NULL,"
    " table_name TEXT NOT NULL,"
    " kind TEXT,"
    " state TEXT NOT NULL,"
    " source_ref TEXT,"
    " content_hash TEXT,"
    " rows_in INTEGER,"
    " rows_written INTEGER,"
    " bytes INTEGER,"
    " started_at TEXT,"
    " finished_at TEXT,"
    " error TEXT,"
    " report TEXT, held TEXT, decision TEXT)";

static const char SQL_META_BATCHES_IDX[] =
    "CREATE INDEX IF NOT EXISTS \"_sluice_batches_table_idx\""
    " ON \"_sluice_batches\" (table_name, id)";

static const char SQL_META_FILES[] =
    "CREATE TABLE IF NOT EXISTS \"_sluice_files\" ("
    " table_name TEXT NOT NULL,"
    " content_hash TEXT NOT NULL,"
    " name TEXT,"
    " bytes INTEGER,"
    " batch_id INTEGER,"
    " loaded_at TEXT,"
    " PRIMARY KEY (table_name, content_hash))";

static const char SQL_META_CURSORS[] =
    "CREATE TABLE IF NOT EXISTS \"_sluice_cursors\" ("
    " pipeline TEXT NOT NULL,"
    " table_name TEXT NOT NULL,"
    " value TEXT,"
    " batch_id INTEGER,"
    " updated_at TEXT,"
    " PRIMARY KEY (pipeline, table_name))";

static const char SQL_META_SNAPSHOTS[] =
    "CREATE TABLE IF NOT EXISTS \"_sluice_snapshots\" ("
    " id INTEGER PRIMARY KEY AUTOINCREMENT,"
    " table_name TEXT NOT NULL,"
    " taken_at TEXT NOT NULL,"
    " last_batch INTEGER,"
    " rows INTEGER)";

static const char SQL_META_KEPT[] =
    "CREATE TABLE IF NOT EXISTS \"_sluice_kept\" ("
    " batch_id INTEGER PRIMARY KEY,"
    " table_name TEXT NOT NULL,"
    " name TEXT NOT NULL,"
    " kept_at TEXT)";

/* columns of the ledger added since the first release */
static const struct { const char *name, *ddl; } meta_added[] = {
    {"held", "ALTER TABLE \"_sluice_batches\" ADD COLUMN held TEXT"},
    {"decision", "ALTER TABLE \"_sluice_batches\" ADD COLUMN decision TEXT"},
};

static int sq_begin(struct sl_dest *dd, struct sl_err *err);
static int sq_exec(struct sl_dest *dd, const char *sql, int nparams,
                   const char *const *params, struct sl_rows *out, struct sl_err *err);
static int sq_commit(struct sl_dest *dd, struct sl_err *err);
static void sq_rollback(struct sl_dest *dd);

static int sq_ensure_meta(struct sl_dest *dd, struct sl_err *err)
{
    struct sqlite_dest *d = DB(dd);
    static const char *const ddl[] = {
        SQL_META_BATCHES, SQL_META_BATCHES_IDX, SQL_META_FILES, SQL_META_CURSORS,
        SQL_META_SNAPSHOTS, SQL_META_KEPT,
    };

    if (sq_begin(dd, err) < 0)
        return -1;
    for (size_t i = 0; i < sizeof ddl / sizeof ddl[0]; i++)
        if (run(d, ddl[i], err, "create sluice's tables in \"%s\"", d->path) < 0) {
            sq_rollback(dd);
            return -1;
        }
    for (size_t i = 0; i < sizeof meta_added / sizeof meta_added[0]; i++) {
        struct sl_rows r;
        const char *p[] = {meta_added[i].name};
        if (sq_exec(dd, "SELECT 1 FROM pragma_table_info('_sluice_batches') WHERE name = $1",
                    1, p, &r, err) < 0) {
            sq_rollback(dd);
            return -1;
        }
        int missing = r.nrows == 0;
        sl_rows_free(&r);
        if (missing && run(d, meta_added[i].ddl, err, "add column \"%s\" to sluice's ledger",
                           meta_added[i].name) < 0) {
            sq_rollback(dd);
            return -1;
        }
    }
    return sq_commit(dd, err);
}

/* ---- exec ---- */

/* Shortest text that reads back as the same double; PostgreSQL's spelling of
 * the infinities. */
static void format_double(double v, char out[40])
{
    if (isinf(v)) {
        snprintf(out, 40, "%s", v > 0 ? "Infinity" : "-Infinity");
        return;
    }
    if (isnan(v)) {
        snprintf(out, 40, "NaN");
        return;
    }
    for (int prec = 15; prec <= 17; prec++) {
        snprintf(out, 40, "%.*g", prec, v);
        if (strtod(out, NULL) == v)
            return;
    }
}

/* Column `i` of the current row as a new string, NULL for SQL NULL. Sets
 * *oom when a non-NULL value could not be copied. */
static char *column_text(sqlite3_stmt *stmt, int i, int *oom)
{
    char num[40];
    char *s;

    switch (sqlite3_column_type(stmt, i)) {
    case SQLITE_NULL:
        return NULL;
    case SQLITE_FLOAT:
        format_double(sqlite3_column_double(stmt, i), num);
        s = sl_strdup(num);
        break;
    default: {
        const char *t = (const char *)sqlite3_column_text(stmt, i);
        s = t ? sl_strndup(t, (size_t)sqlite3_column_bytes(stmt, i)) : NULL;
        break;
    }
    }
    if (!s)
        *oom = 1;
    return s;
}

/* $1..$n must be exactly the parameters the statement uses, as PostgreSQL
 * insists too: a mismatch is a bug to see on SQLite as well. */
static int bind_params(sqlite3_stmt *stmt, const char *sql, int nparams,
                       const char *const *params, struct sl_err *err)
{
    int used = sqlite3_bind_parameter_count(stmt);

    for (int i = 1; i <= used; i++) {
        const char *name = sqlite3_bind_parameter_name(stmt, i);
        char *end;
        long k = 0;
        if (name && name[0] == '$' && name[1] >= '1' && name[1] <= '9')
            k = strtol(name + 1, &end, 10);
        if (k < 1 || k > nparams || *end)
            return sl_err_set(err, SL_E_INTERNAL,
                              "statement uses parameter %s but %d were given: \"%.300s\"",
                              name ? name : "?", nparams, sql);
    }
    for (int k = 1; k <= nparams; k++) {
        char name[16];
        snprintf(name, sizeof name, "$%d", k);
        int idx = sqlite3_bind_parameter_index(stmt, name);
        if (idx == 0)
            return sl_err_set(err, SL_E_INTERNAL,
                              "parameter %s is not used by the statement: \"%.300s\"", name, sql);
        /* SQLITE_STATIC: the caller's strings outlive the call, and the
         * bindings are cleared before returning */
        int rc = params[k - 1] ? sqlite3_bind_text(stmt, idx, params[k - 1], -1, SQLITE_STATIC)
                               : sqlite3_bind_null(stmt, idx);
        if (rc != SQLITE_OK)
            return sl_err_set(err, SL_E_DEST, "could not bind parameter %s: %s", name,
                              sqlite3_errstr(rc));
    }
    return 0;
}

static int rows_add(struct sl_rows *r, size_t *cap, sqlite3_stmt *stmt)
{
    int oom = 0;

    if (r->nrows == *cap) {
        size_t ncap = *cap ? *cap * 2 : 16;
        char **c = sl_realloc(r->cells, ncap * r->ncols * sizeof *c);
        if (!c)
            return -1;
        r->cells = c;
        *cap = ncap;
    }
    char **row = r->cells + r->nrows * r->ncols;
    for (size_t i = 0; i < r->ncols; i++)
        row[i] = column_text(stmt, (int)i, &oom);
    r->nrows++;     /* counted even on OOM so sl_rows_free frees the copies */
    return oom ? -1 : 0;
}

static int sq_exec(struct sl_dest *dd, const char *sql, int nparams,
                   const char *const *params, struct sl_rows *out, struct sl_err *err)
{
    struct sqlite_dest *d = DB(dd);
    sqlite3_stmt *stmt;
    size_t cap = 0;
    int rc, ret = 0;

    if (out)
        memset(out, 0, sizeof *out);
    stmt = cached(d, sql, err);
    if (!stmt)
        return -1;
    if (bind_params(stmt, sql, nparams, params, err) < 0) {
        sqlite3_clear_bindings(stmt);
        return -1;
    }
    if (out && sqlite3_column_count(stmt) > 0) {
        out->ncols = (size_t)sqlite3_column_count(stmt);
        out->names = sl_calloc(out->ncols, sizeof *out->names);
        for (size_t i = 0; out->names && i < out->ncols; i++) {
            const char *name = sqlite3_column_name(stmt, (int)i);
            out->names[i] = sl_strdup(name ? name : "?");
            if (!out->names[i])
                break;
        }
        if (!out->names || !out->names[out->ncols - 1]) {
            ret = sl_err_nomem(err);
            goto done;
        }
    }
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW)
        if (out && out->ncols > 0 && rows_add(out, &cap, stmt) < 0) {
            ret = sl_err_nomem(err);
            goto done;
        }
    if (rc != SQLITE_DONE)
        ret = db_fail(d->db, rc, err, "execute \"%.300s\"", sql);
done:
    sqlite3_reset(stmt);
    sqlite3_clear_bindings(stmt);
    if (ret < 0 && out)
        sl_rows_free(out);
    return ret;
}

/* ---- transactions ---- */

static int sq_begin(struct sl_dest *dd, struct sl_err *err)
{
    struct sqlite_dest *d = DB(dd);
    return run(d, "BEGIN IMMEDIATE", err, "begin a write transaction on \"%s\"", d->path);
}

static int sq_commit(struct sl_dest *dd, struct sl_err *err)
{
    struct sqlite_dest *d = DB(dd);
    if (d->ld.active)
        return sl_err_set(err, SL_E_INTERNAL,
                          "commit while loading \"%s\" (load_end was not called)", d->ld.table);
    return run(d, "COMMIT", err, "commit on \"%s\"", d->path);
}

static void sq_rollback(struct sl_dest *dd)
{
    struct sqlite_dest *d = DB(dd);
    struct sl_err ignored;

    load_free(&d->ld);
    if (!sqlite3_get_autocommit(d->db))
        run(d, "ROLLBACK", &ignored, "roll back");
}

/* SQLite has one writer per database: BEGIN IMMEDIATE already holds the
 * write lock for the whole transaction, so no other loader touches any table
 * until commit. There is no per-table lock to take; only check the caller is
 * inside the transaction, as PostgreSQL's LOCK TABLE would. */
static int sq_lock_table(struct sl_dest *dd, const char *table, struct sl_err *err)
{
    struct sqlite_dest *d = DB(dd);
    if (sqlite3_get_autocommit(d->db))
        return sl_err_set(err, SL_E_INTERNAL,
                          "lock of table \"%s\" requested outside a transaction", table);
    return 0;
}

/* ---- leases: one run of a table at a time ----
 * A write lock on one byte of "<db>.lock" per table, at an offset from
 * sl_lease_key() of its name in SQLite (lower case: SQLite's names are
 * case-insensitive). Open file description locks (F_OFD_SETLK) belong to
 * this connection's descriptor, so two connections exclude each other in one
 * process as in two, and the kernel lets go when the process dies. Not the
 * database file itself: closing any descriptor of it would drop SQLite's own
 * POSIX locks. */

static int lease_lock(struct sqlite_dest *d, const char *table, short type, struct sl_err *err)
{
    char *name = table_name(table);
    if (!name)
        return sl_err_nomem(err);
    for (char *c = name; *c; c++)
        *c = (char)tolower((unsigned char)*c);
    struct flock fl = {.l_type = type, .l_whence = SEEK_SET, .l_len = 1,
                       .l_start = (off_t)(sl_lease_key(name) & ((1ULL << 62) - 1))};
    sl_free(name);
    if (fcntl(d->lease_fd, F_OFD_SETLK, &fl) == 0)
        return 1;
    if (errno == EAGAIN || errno == EACCES)
        return 0;
    return sl_err_set(err, SL_E_IO, "could not lock \"%s.lock\" for table \"%s\": %s", d->path,
                      table, strerror(errno));
}

static int sq_lease_try(struct sl_dest *dd, const char *table, struct sl_err *err)
{
    struct sqlite_dest *d = DB(dd);
    if (strcmp(d->path, ":memory:") == 0)
        return 1;   /* no other connection can see it */
    if (d->lease_fd < 0) {
        struct sl_buf p;
        sl_buf_init(&p);
        sl_buf_printf(&p, "%s.lock", d->path);
        if (p.oom) {
            sl_buf_free(&p);
            return sl_err_nomem(err);
        }
        d->lease_fd = open(p.data, O_RDWR | O_CREAT | O_CLOEXEC, 0666);
        if (d->lease_fd < 0) {
            sl_err_set(err, SL_E_IO, "could not open lock file \"%s\": %s (sluice keeps it"
                       " beside the database; the folder must be writable)", p.data,
                       strerror(errno));
            sl_buf_free(&p);
            return -1;
        }
        sl_buf_free(&p);
    }
    return lease_lock(d, table, F_WRLCK, err);
}

static void sq_lease_release(struct sl_dest *dd, const char *table)
{
    struct sqlite_dest *d = DB(dd);
    struct sl_err e;
    if (d->lease_fd >= 0)
        lease_lock(d, table, F_UNLCK, &e);
}

/* ---- sluice's copies of a table: history, kept tables, snapshots ---- */

/* "_sluice_" + name: sluice's own table `name` ("hist_orders", "prev_12"). */
static char *own_name(const char *name)
{
    struct sl_buf b;
    sl_buf_init(&b);
    sl_buf_puts(&b, "_sluice_");
    sl_buf_puts(&b, name);
    return b.oom ? (sl_buf_free(&b), NULL) : sl_buf_steal(&b);
}

/* The history table of SQLite table `name`. */
static char *hist_name(const char *name)
{
    struct sl_buf b;
    sl_buf_init(&b);
    sl_buf_puts(&b, "_sluice_hist_");
    sl_buf_puts(&b, name);
    return b.oom ? (sl_buf_free(&b), NULL) : sl_buf_steal(&b);
}

/* The affinity SQLite gives a declared type (its rules, in its order):
 * sluice's copies are declared with it so each value keeps its storage
 * class when copied there and back. */
static const char *affinity_decl(const char *decl)
{
    char up[256];
    size_t n = 0;
    for (const char *p = decl ? decl : ""; *p && n + 1 < sizeof up; p++)
        up[n++] = (char)toupper((unsigned char)*p);
    up[n] = '\0';
    if (strstr(up, "INT"))
        return "INTEGER";
    if (strstr(up, "CHAR") || strstr(up, "CLOB") || strstr(up, "TEXT"))
        return "TEXT";
    if (n == 0 || strstr(up, "BLOB"))
        return "BLOB";
    if (strstr(up, "REAL") || strstr(up, "FLOA") || strstr(up, "DOUB"))
        return "REAL";
    return "NUMERIC";
}

/* Columns of `name` as stored: rows (name, declared type), hidden ones
 * left out; no rows when the table does not exist. */
static int stored_columns(struct sqlite_dest *d, const char *name, struct sl_rows *out,
                          struct sl_err *err)
{
    const char *p[] = {name};
    return sq_exec((struct sl_dest *)d,
                   "SELECT name, type FROM pragma_table_xinfo($1, 'main') WHERE hidden = 0"
                   " ORDER BY cid", 1, p, out, err);
}

static int table_exists(struct sqlite_dest *d, const char *name, int *exists,
                        struct sl_err *err)
{
    struct sl_rows r;
    const char *p[] = {name};
    if (sq_exec((struct sl_dest *)d,
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = $1", 1, p, &r,
                err) < 0)
        return -1;
    *exists = r.nrows > 0;
    sl_rows_free(&r);
    return 0;
}

static int rows_has(const struct sl_rows *r, const char *col)
{
    for (size_t i = 0; i < r->nrows; i++)
        if (sl_rows_get(r, i, 0) && strcmp(sl_rows_get(r, i, 0), col) == 0)
            return 1;
    return 0;
}

/* A temporary trigger `name` that keeps, BEFORE each `event` (UPDATE,
 * DELETE) on the table, the row as it was in the history table, unless
 * this load wrote it. The batch id is sluice's own integer, never input. */
static int hist_trigger(struct sqlite_dest *d, const struct load_state *l, const char *name,
                        const char *event, const char *hist, const struct sl_rows *tc,
                        struct sl_err *err)
{
    struct sl_buf b;
    sl_buf_init(&b);
    sl_buf_puts(&b, "CREATE TEMP TRIGGER ");
    quote_ident(&b, name);
    sl_buf_printf(&b, " BEFORE %s ON main.", event);
    quote_ident(&b, l->name);
    sl_buf_puts(&b, " WHEN OLD.");
    quote_ident(&b, BATCH_COL);
    /* IS NOT: a row an adopted table had before sluice has no batch (NULL),
     * and is kept like any other */
    sl_buf_printf(&b, " IS NOT %lld BEGIN INSERT INTO ", (long long)l->batch);
    quote_ident(&b, hist);
    sl_buf_puts(&b, " (");
    for (size_t i = 0; i < tc->nrows; i++) {
        quote_ident(&b, sl_rows_get(tc, i, 0));
        sl_buf_puts(&b, ", ");
    }
    quote_ident(&b, REPLACED_COL);
    sl_buf_puts(&b, ") VALUES (");
    for (size_t i = 0; i < tc->nrows; i++) {
        sl_buf_puts(&b, "OLD.");
        quote_ident(&b, sl_rows_get(tc, i, 0));
        sl_buf_puts(&b, ", ");
    }
    sl_buf_printf(&b, "%lld); END", (long long)l->batch);
    int rc = run_buf(d, &b, err, "set up the history of table \"%s\"", l->table);
    sl_buf_free(&b);
    return rc;
}

/* Make the history table of table `name` exist with all of its columns,
 * then put the capture trigger on the table for this load. The batch id is
 * written into the trigger's SQL: it is sluice's own integer, never input. */
static int hist_begin(struct sqlite_dest *d, struct load_state *l, struct sl_err *err)
{
    struct sl_rows tc, hc;
    struct sl_buf b;
    char *hist = hist_name(l->name);
    int ret = -1;

    memset(&hc, 0, sizeof hc);
    if (!hist)
        return sl_err_nomem(err);
    if (stored_columns(d, l->name, &tc, err) < 0) {
        sl_free(hist);
        return -1;
    }
    sl_buf_init(&b);
    if (stored_columns(d, hist, &hc, err) < 0)
        goto done;
    if (hc.nrows == 0) {
        sl_buf_puts(&b, "CREATE TABLE ");
        quote_ident(&b, hist);
        sl_buf_puts(&b, " (");
        for (size_t i = 0; i < tc.nrows; i++) {
            quote_ident(&b, sl_rows_get(&tc, i, 0));
            sl_buf_printf(&b, " %s, ", affinity_decl(sl_rows_get(&tc, i, 1)));
        }
        quote_ident(&b, REPLACED_COL);
        sl_buf_puts(&b, " INTEGER NOT NULL)");
        if (run_buf(d, &b, err, "create the history table of \"%s\"", l->table) < 0)
            goto done;
        sl_buf_reset(&b);
        struct sl_buf idx;
        sl_buf_init(&idx);
        sl_buf_puts(&idx, hist);
        sl_buf_puts(&idx, "__replaced_idx");
        sl_buf_puts(&b, "CREATE INDEX ");
        quote_ident(&b, idx.data ? idx.data : "");
        int idx_oom = idx.oom;
        sl_buf_free(&idx);
        if (idx_oom) {
            sl_err_nomem(err);
            goto done;
        }
        sl_buf_puts(&b, " ON ");
        quote_ident(&b, hist);
        sl_buf_puts(&b, " (");
        quote_ident(&b, REPLACED_COL);
        sl_buf_putc(&b, ')');
        if (run_buf(d, &b, err, "index the history table of \"%s\"", l->table) < 0)
            goto done;
    } else {
        for (size_t i = 0; i < tc.nrows; i++) {
            if (rows_has(&hc, sl_rows_get(&tc, i, 0)))
                continue;
            sl_buf_reset(&b);
            sl_buf_puts(&b, "ALTER TABLE ");
            quote_ident(&b, hist);
            sl_buf_puts(&b, " ADD COLUMN ");
            quote_ident(&b, sl_rows_get(&tc, i, 0));
            sl_buf_printf(&b, " %s", affinity_decl(sl_rows_get(&tc, i, 1)));
            if (run_buf(d, &b, err, "add a column to the history table of \"%s\"", l->table) < 0)
                goto done;
        }
    }

    if (hist_trigger(d, l, HIST_TRIGGER, "UPDATE", hist, &tc, err) < 0)
        goto done;
    l->trigger = 1;
    /* cdc: the same for the rows a delete removes */
    if (l->mode == SL_LOAD_CDC && hist_trigger(d, l, HIST_DEL_TRIGGER, "DELETE", hist, &tc, err) < 0)
        goto done;
    l->del_trigger = l->mode == SL_LOAD_CDC;
    ret = 0;
done:
    sl_buf_free(&b);
    sl_rows_free(&tc);
    sl_rows_free(&hc);
    sl_free(hist);
    return ret;
}

static int hist_end(struct sqlite_dest *d, struct load_state *l, struct sl_err *err)
{
    if (l->del_trigger) {
        l->del_trigger = 0;
        if (run(d, "DROP TRIGGER IF EXISTS temp.\"_sluice_hist_capture_del\"", err,
                "remove the history trigger of table \"%s\"", l->table) < 0)
            return -1;
    }
    if (!l->trigger)
        return 0;
    l->trigger = 0;
    return run(d, "DROP TRIGGER IF EXISTS temp.\"_sluice_hist_capture\"", err,
               "remove the history trigger of table \"%s\"", l->table);
}

/* ALTER TABLE with legacy renaming: views that name a table keep naming
 * that name (modern renaming would rewrite them to follow the table). */
static int rename_table(struct sqlite_dest *d, const char *from, const char *to,
                        struct sl_err *err)
{
    struct sl_buf b;
    int legacy = 0, rc;
    sl_buf_init(&b);
    sl_buf_puts(&b, "ALTER TABLE ");
    quote_ident(&b, from);
    sl_buf_puts(&b, " RENAME TO ");
    quote_ident(&b, to);
    sqlite3_db_config(d->db, SQLITE_DBCONFIG_LEGACY_ALTER_TABLE, -1, &legacy);
    sqlite3_db_config(d->db, SQLITE_DBCONFIG_LEGACY_ALTER_TABLE, 1, NULL);
    rc = run_buf(d, &b, err, "rename table \"%s\" to \"%s\"", from, to);
    sqlite3_db_config(d->db, SQLITE_DBCONFIG_LEGACY_ALTER_TABLE, legacy, NULL);
    sl_buf_free(&b);
    return rc;
}

/* Drop the indexes made for table `name` (not those of its keys): index
 * names are global in SQLite, and a kept table must not hold on to them. */
static int drop_indexes(struct sqlite_dest *d, const char *name, struct sl_err *err)
{
    struct sl_rows r;
    const char *p[] = {name};
    int rc = 0;
    if (sq_exec((struct sl_dest *)d,
                "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = $1"
                " AND sql IS NOT NULL", 1, p, &r, err) < 0)
        return -1;
    for (size_t i = 0; i < r.nrows && rc == 0; i++) {
        struct sl_buf b;
        sl_buf_init(&b);
        sl_buf_puts(&b, "DROP INDEX ");
        quote_ident(&b, sl_rows_get(&r, i, 0));
        rc = run_buf(d, &b, err, "drop index \"%s\"", sl_rows_get(&r, i, 0));
        sl_buf_free(&b);
    }
    sl_rows_free(&r);
    return rc;
}

static int kept_lookup(struct sqlite_dest *d, const char *table, int64_t batch, char **name,
                       struct sl_err *err)
{
    struct sl_rows r;
    char b[24];
    snprintf(b, sizeof b, "%lld", (long long)batch);
    const char *p[] = {b, table};
    *name = NULL;
    if (sq_exec((struct sl_dest *)d,
                "SELECT name FROM \"_sluice_kept\" WHERE batch_id = $1 AND table_name = $2",
                2, p, &r, err) < 0)
        return -1;
    if (r.nrows == 1 && sl_rows_get(&r, 0, 0))
        *name = own_name(sl_rows_get(&r, 0, 0));
    int oom = r.nrows == 1 && sl_rows_get(&r, 0, 0) && !*name;
    sl_rows_free(&r);
    return oom ? sl_err_nomem(err) : 0;
}

static int kept_forget(struct sqlite_dest *d, int64_t batch, struct sl_err *err)
{
    char b[24];
    snprintf(b, sizeof b, "%lld", (long long)batch);
    const char *p[] = {b};
    return sq_exec((struct sl_dest *)d, "DELETE FROM \"_sluice_kept\" WHERE batch_id = $1",
                   1, p, NULL, err);
}

static int drop_table(struct sqlite_dest *d, const char *name, struct sl_err *err)
{
    struct sl_buf b;
    sl_buf_init(&b);
    sl_buf_puts(&b, "DROP TABLE IF EXISTS ");
    quote_ident(&b, name);
    int rc = run_buf(d, &b, err, "drop table \"%s\"", name);
    sl_buf_free(&b);
    return rc;
}

/* Invariant 3: keep the table a snapshot load replaces as
 * "_sluice_prev_<batch>", and only the newest SL_KEEP_PREV per table. */
static int keep_replaced(struct sqlite_dest *d, struct load_state *l, struct sl_err *err)
{
    char own[32], now[32], b[24], keep[24];
    char *kept;
    struct sl_rows r;
    int exists;

    if (table_exists(d, l->name, &exists, err) < 0)
        return -1;
    if (!exists)
        return 0;
    snprintf(own, sizeof own, "prev_%lld", (long long)l->batch);
    kept = own_name(own);
    if (!kept)
        return sl_err_nomem(err);
    int rc = drop_indexes(d, l->name, err);
    if (rc == 0)
        rc = rename_table(d, l->name, kept, err);
    sl_free(kept);
    if (rc < 0)
        return -1;
    sl_time_format(sl_time_now(), now);
    snprintf(b, sizeof b, "%lld", (long long)l->batch);
    const char *p[] = {b, l->table, own, now};
    if (sq_exec((struct sl_dest *)d,
                "INSERT INTO \"_sluice_kept\" (batch_id, table_name, name, kept_at)"
                " VALUES ($1, $2, $3, $4)", 4, p, NULL, err) < 0)
        return -1;
    snprintf(keep, sizeof keep, "%d", SL_KEEP_PREV);
    const char *pp[] = {l->table, keep};
    if (sq_exec((struct sl_dest *)d,
                "SELECT batch_id, name FROM \"_sluice_kept\" WHERE table_name = $1"
                " ORDER BY batch_id DESC LIMIT -1 OFFSET $2", 2, pp, &r, err) < 0)
        return -1;
    for (size_t i = 0; i < r.nrows && rc == 0; i++) {
        char *old = own_name(sl_rows_get(&r, i, 1));
        rc = old ? drop_table(d, old, err) : sl_err_nomem(err);
        if (rc == 0)
            rc = kept_forget(d, strtoll(sl_rows_get(&r, i, 0), NULL, 10), err);
        sl_free(old);
    }
    sl_rows_free(&r);
    return rc;
}

/* ---- tables ---- */

static const char SQL_DESCRIBE[] =
    "SELECT name, type, hidden FROM pragma_table_xinfo($1, 'main') ORDER BY cid";

static int sq_describe(struct sl_dest *dd, const char *table, struct sl_schema *out,
                       struct sl_err *err)
{
    struct sl_rows r;
    char *name = table_name(table);
    int ret;

    memset(out, 0, sizeof *out);
    if (!name)
        return sl_err_nomem(err);
    const char *p[] = {name};
    ret = sq_exec(dd, SQL_DESCRIBE, 1, p, &r, err);
    sl_free(name);
    if (ret < 0) {
        sl_err_prefix(err, "describing table \"%s\"", table);
        return -1;
    }
    for (size_t i = 0; i < r.nrows; i++) {
        const char *col = sl_rows_get(&r, i, 0);
        const char *hidden = sl_rows_get(&r, i, 2);
        if (!col || strcmp(col, BATCH_COL) == 0 || (hidden && strcmp(hidden, "0") != 0))
            continue;
        if (sl_schema_add(out, col, type_from_decl(sl_rows_get(&r, i, 1))) < 0) {
            sl_rows_free(&r);
            sl_schema_free(out);
            return sl_err_nomem(err);
        }
    }
    ret = r.nrows > 0 ? 1 : 0;
    sl_rows_free(&r);
    return ret;
}

static int is_pk(const char *col, const char *const *pk, size_t npk)
{
    for (size_t i = 0; i < npk; i++)
        if (strcmp(pk[i], col) == 0)
            return 1;
    return 0;
}

/* CREATE TABLE "name" (cols..., "_sluice_batch" INTEGER NOT NULL,
 * PRIMARY KEY (pk...)). Key columns are NOT NULL as in PostgreSQL (SQLite
 * would otherwise let NULL keys repeat). */
static int build_create(struct sl_buf *b, const char *table, const char *name,
                        const struct sl_schema *s, const char *const *pk, size_t npk,
                        struct sl_err *err)
{
    for (size_t i = 0; i < npk; i++)
        if (sl_schema_find(s, pk[i]) < 0)
            return sl_err_set(err, SL_E_CONFIG,
                              "primary key column \"%s\" is not a column of table \"%s\"",
                              pk[i], table);
    sl_buf_puts(b, "CREATE TABLE ");
    quote_ident(b, name);
    sl_buf_puts(b, " (");
    for (size_t i = 0; i < s->ncols; i++) {
        const char *decl = decl_name(s->cols[i].type);
        if (!decl)
            return sl_err_set(err, SL_E_INTERNAL, "column \"%s\" of table \"%s\" has no type",
                              s->cols[i].name, table);
        if (strcasecmp(s->cols[i].name, BATCH_COL) == 0)
            return sl_err_set(err, SL_E_CONFIG,
                              "column name \"%s\" in table \"%s\" is reserved for sluice",
                              s->cols[i].name, table);
        quote_ident(b, s->cols[i].name);
        sl_buf_putc(b, ' ');
        sl_buf_puts(b, decl);
        if (is_pk(s->cols[i].name, pk, npk))
            sl_buf_puts(b, " NOT NULL");
        sl_buf_puts(b, ", ");
    }
    quote_ident(b, BATCH_COL);
    sl_buf_puts(b, " INTEGER NOT NULL");
    if (npk > 0) {
        sl_buf_puts(b, ", PRIMARY KEY (");
        for (size_t i = 0; i < npk; i++) {
            if (i)
                sl_buf_puts(b, ", ");
            quote_ident(b, pk[i]);
        }
        sl_buf_putc(b, ')');
    }
    sl_buf_putc(b, ')');
    return 0;
}

/* The index rollback of a batch needs: DELETE ... WHERE _sluice_batch = id. */
static int create_batch_index(struct sqlite_dest *d, const char *table, const char *name,
                              struct sl_err *err)
{
    struct sl_buf b, idx;
    int ret;

    sl_buf_init(&b);
    sl_buf_init(&idx);
    sl_buf_puts(&idx, name);
    sl_buf_puts(&idx, IDX_SUFFIX);
    sl_buf_puts(&b, "CREATE INDEX ");
    quote_ident(&b, idx.data ? idx.data : "");
    sl_buf_puts(&b, " ON ");
    quote_ident(&b, name);
    sl_buf_puts(&b, " (");
    quote_ident(&b, BATCH_COL);
    sl_buf_putc(&b, ')');
    ret = idx.oom ? sl_err_nomem(err)
                  : run_buf(d, &b, err, "create the batch index of table \"%s\"", table);
    sl_buf_free(&b);
    sl_buf_free(&idx);
    return ret;
}

static int sq_create_table(struct sl_dest *dd, const char *table, const struct sl_schema *s,
                           const char *const *pk, size_t npk, struct sl_err *err)
{
    struct sqlite_dest *d = DB(dd);
    struct sl_buf b;
    char *name = table_name(table);
    int ret;

    if (!name)
        return sl_err_nomem(err);
    sl_buf_init(&b);
    ret = check_data_table(table, name, err);
    if (ret == 0)
        ret = build_create(&b, table, name, s, pk, npk, err);
    if (ret == 0)
        ret = run_buf(d, &b, err, "create table \"%s\"", table);
    if (ret == 0)
        ret = create_batch_index(d, table, name, err);
    sl_buf_free(&b);
    sl_free(name);
    return ret;
}

static int sq_add_column(struct sl_dest *dd, const char *table, const struct sl_column *c,
                         struct sl_err *err)
{
    struct sqlite_dest *d = DB(dd);
    struct sl_buf b;
    const char *decl = decl_name(c->type);
    char *name;
    int ret;

    if (!decl)
        return sl_err_set(err, SL_E_INTERNAL, "column \"%s\" of table \"%s\" has no type",
                          c->name, table);
    if (strcasecmp(c->name, BATCH_COL) == 0)
        return sl_err_set(err, SL_E_CONFIG,
                          "column name \"%s\" in table \"%s\" is reserved for sluice",
                          c->name, table);
    name = table_name(table);
    if (!name)
        return sl_err_nomem(err);
    sl_buf_init(&b);
    sl_buf_puts(&b, "ALTER TABLE ");
    quote_ident(&b, name);
    sl_buf_puts(&b, " ADD COLUMN ");
    quote_ident(&b, c->name);
    sl_buf_putc(&b, ' ');
    sl_buf_puts(&b, decl);
    ret = run_buf(d, &b, err, "add column \"%s\" to table \"%s\"", c->name, table);
    /* the history table gains the column too, so replaced rows keep fitting */
    char *hist = ret == 0 ? hist_name(name) : NULL;
    int exists = 0;
    if (ret == 0 && !hist)
        ret = sl_err_nomem(err);
    if (ret == 0)
        ret = table_exists(d, hist, &exists, err);
    if (ret == 0 && exists) {
        struct sl_rows hc;
        ret = stored_columns(d, hist, &hc, err);
        if (ret == 0) {
            if (!rows_has(&hc, c->name)) {
                sl_buf_reset(&b);
                sl_buf_puts(&b, "ALTER TABLE ");
                quote_ident(&b, hist);
                sl_buf_puts(&b, " ADD COLUMN ");
                quote_ident(&b, c->name);
                sl_buf_printf(&b, " %s", affinity_decl(decl));
                ret = run_buf(d, &b, err, "add column \"%s\" to the history of table \"%s\"",
                              c->name, table);
            }
            sl_rows_free(&hc);
        }
    }
    sl_free(hist);
    sl_buf_free(&b);
    sl_free(name);
    return ret;
}

/* The unique keys ON CONFLICT can use, one row per column, the primary key
 * first: the declared primary key (a rowid alias included, which has no
 * index of its own), then each full (not partial) unique index on plain
 * columns only. An index with an expression column (cid -2, no name) is no
 * key at all: UNIQUE (lower(email), id) is not a key on (id). */
static const char SQL_KEYS[] =
    "SELECT k, prim, col FROM ("
    " SELECT '' AS k, 1 AS prim, name AS col, pk AS ord FROM pragma_table_info($1, 'main')"
    "  WHERE pk > 0"
    " UNION ALL"
    " SELECT il.name, 0, ii.name, ii.seqno FROM pragma_index_list($1, 'main') AS il,"
    "  pragma_index_info(il.name, 'main') AS ii"
    "  WHERE il.\"unique\" AND NOT il.partial AND il.origin <> 'pk'"
    "   AND NOT EXISTS (SELECT 1 FROM pragma_index_info(il.name, 'main') AS ie"
    "                    WHERE ie.cid < 0 OR ie.name IS NULL))"
    " ORDER BY prim DESC, k, ord";

static int sq_fit_table(struct sl_dest *dd, const char *table, const char *const *pk,
                        size_t npk, int *adopted, struct sl_err *err)
{
    struct sqlite_dest *d = DB(dd);
    struct sl_rows cols, keys;
    char *name = table_name(table);
    int ret;

    *adopted = 0;
    if (!name)
        return sl_err_nomem(err);
    const char *p[] = {name};
    ret = stored_columns(d, name, &cols, err);
    if (ret == 0) {
        int has = rows_has(&cols, BATCH_COL);
        sl_rows_free(&cols);
        if (!has) {
            /* nullable: the rows already there belong to no batch */
            struct sl_buf b;
            sl_buf_init(&b);
            sl_buf_puts(&b, "ALTER TABLE ");
            quote_ident(&b, name);
            sl_buf_puts(&b, " ADD COLUMN ");
            quote_ident(&b, BATCH_COL);
            sl_buf_puts(&b, " INTEGER");
            ret = run_buf(d, &b, err, "add column \"%s\" to table \"%s\"", BATCH_COL, table);
            sl_buf_free(&b);
            if (ret == 0)
                ret = create_batch_index(d, table, name, err);
            *adopted = ret == 0;
        }
    }
    if (ret == 0 && npk) {
        ret = sq_exec(dd, SQL_KEYS, 1, p, &keys, err);
        if (ret == 0) {
            ret = sl_dest_key_fits(table, &keys, pk, npk, err);
            sl_rows_free(&keys);
        }
    }
    sl_free(name);
    return ret;
}

/* ---- loading ---- */

static void load_free(struct load_state *l)
{
    sqlite3_finalize(l->ins);
    sqlite3_finalize(l->del);
    for (size_t i = 0; l->cols && i < l->ncols; i++)
        sl_free(l->cols[i]);
    sl_free(l->cols);
    sl_free(l->types);
    sl_free(l->param);
    sl_free(l->pk);
    sl_free(l->table);
    sl_free(l->name);
    sl_free(l->into);
    sl_buf_free(&l->scratch);
    memset(l, 0, sizeof *l);
    l->ver = -1;
}

static const char *mode_name(enum sl_load_mode m)
{
    switch (m) {
    case SL_LOAD_APPEND:
        return "append";
    case SL_LOAD_VERSIONED:
        return "versioned";
    case SL_LOAD_SNAPSHOT:
        return "snapshot";
    case SL_LOAD_UPSERT:
        return "upsert";
    case SL_LOAD_CDC:
        return "cdc";
    }
    return "?";
}

/* Map the load's columns onto the table's and check what the mode needs. */
static int load_plan(struct load_state *l, const struct sl_load *ld, struct sl_err *err)
{
    const struct sl_schema *s = ld->schema, *t = ld->target;

    l->ncols = s->ncols;
    l->deleted_at = -1;
    if (ld->mode == SL_LOAD_CDC) {
        if (s->ncols < 2 || strcmp(s->cols[s->ncols - 2].name, SL_CDC_OP_COL) != 0 ||
            strcmp(s->cols[s->ncols - 1].name, SL_CDC_UNCHANGED_COL) != 0)
            return sl_err_set(err, SL_E_INTERNAL, "a cdc load of table \"%s\" without its"
                              " change columns", ld->table);
        l->ncols = s->ncols - 2;
        l->op = s->ncols - 2;
        l->unchanged = s->ncols - 1;
        l->deleted_at = sl_schema_find(s, SL_DELETED_AT_COL);
    }
    l->ncols_target = t->ncols;
    l->cols = sl_calloc(s->ncols, sizeof *l->cols);
    l->types = sl_calloc(s->ncols, sizeof *l->types);
    l->param = sl_calloc(s->ncols, sizeof *l->param);
    l->pk = sl_calloc(ld->npk, sizeof *l->pk);
    if (!l->cols || !l->types || !l->param || !l->pk)
        return sl_err_nomem(err);
    for (size_t i = 0; i < l->ncols; i++) {
        long j = sl_schema_find(t, s->cols[i].name);
        if (j < 0)
            return sl_err_set(err, SL_E_INTERNAL,
                              "column \"%s\" of the load is not a column of table \"%s\"",
                              s->cols[i].name, ld->table);
        for (size_t k = 0; k < i; k++)
            if (strcmp(s->cols[k].name, s->cols[i].name) == 0)
                return sl_err_set(err, SL_E_INPUT,
                                  "column \"%s\" appears twice in the load of table \"%s\"",
                                  s->cols[i].name, ld->table);
        l->cols[i] = sl_strdup(s->cols[i].name);
        if (!l->cols[i])
            return sl_err_nomem(err);
        l->types[i] = s->cols[i].type;
        l->param[i] = (int)j + 1;
    }
    for (size_t k = 0; k < ld->npk; k++) {
        long i = sl_schema_find(s, ld->pk[k]);
        if (i < 0)
            return sl_err_set(err, SL_E_INPUT,
                              "primary key column \"%s\" is missing from the load of table \"%s\"",
                              ld->pk[k], ld->table);
        l->pk[k] = (size_t)i;
    }
    l->npk = ld->npk;
    if ((ld->mode == SL_LOAD_UPSERT || ld->mode == SL_LOAD_CDC) && ld->npk == 0)
        return sl_err_set(err, SL_E_CONFIG, "table \"%s\" needs a primary key to merge rows",
                          ld->table);
    if (ld->mode == SL_LOAD_VERSIONED) {
        if (ld->npk == 0)
            return sl_err_set(err, SL_E_CONFIG, "versioned table \"%s\" needs a primary key",
                              ld->table);
        if (!ld->version_key)
            return sl_err_set(err, SL_E_CONFIG, "versioned table \"%s\" needs a version key",
                              ld->table);
        l->ver = sl_schema_find(s, ld->version_key);
        if (l->ver < 0)
            return sl_err_set(err, SL_E_INPUT,
                              "version key \"%s\" is missing from the load of table \"%s\"",
                              ld->version_key, ld->table);
    }
    return 0;
}

/* INSERT INTO "into" (every table column, "_sluice_batch") VALUES (?1..?n+1);
 * columns the load lacks are never bound and so are NULL. Versioned adds the
 * upsert: the higher version wins, ties keep the stored row. */
static int build_insert(struct sl_buf *b, const struct load_state *l, const struct sl_load *ld)
{
    const struct sl_schema *t = ld->target;

    sl_buf_puts(b, "INSERT INTO ");
    quote_ident(b, l->into);
    sl_buf_puts(b, " (");
    for (size_t j = 0; j < t->ncols; j++) {
        quote_ident(b, t->cols[j].name);
        sl_buf_puts(b, ", ");
    }
    quote_ident(b, BATCH_COL);
    sl_buf_puts(b, ") VALUES (");
    for (size_t j = 0; j <= t->ncols; j++)
        sl_buf_printf(b, "%s?%zu", j ? ", " : "", j + 1);
    sl_buf_putc(b, ')');
    if (ld->mode == SL_LOAD_APPEND && ld->skip_existing && ld->npk > 0) {
        /* events: a key stored already is a retried event, loaded once */
        sl_buf_puts(b, " ON CONFLICT (");
        for (size_t k = 0; k < ld->npk; k++) {
            if (k)
                sl_buf_puts(b, ", ");
            quote_ident(b, ld->pk[k]);
        }
        sl_buf_puts(b, ") DO NOTHING");
        return 0;
    }
    if (ld->mode != SL_LOAD_VERSIONED && ld->mode != SL_LOAD_UPSERT && ld->mode != SL_LOAD_CDC)
        return 0;

    sl_buf_puts(b, " ON CONFLICT (");
    for (size_t k = 0; k < ld->npk; k++) {
        if (k)
            sl_buf_puts(b, ", ");
        quote_ident(b, ld->pk[k]);
    }
    sl_buf_puts(b, ") DO UPDATE SET ");
    for (size_t j = 0; j < t->ncols; j++) {
        if (is_pk(t->cols[j].name, ld->pk, ld->npk))
            continue;
        quote_ident(b, t->cols[j].name);
        if (ld->mode == SL_LOAD_CDC) {
            /* a value the change did not carry (?n+2, JSON names) stays */
            sl_buf_printf(b, " = CASE WHEN ?%zu IS NOT NULL AND EXISTS (SELECT 1 FROM"
                          " json_each(?%zu) WHERE value = ", t->ncols + 2, t->ncols + 2);
            quote_literal(b, t->cols[j].name);
            sl_buf_puts(b, ") THEN ");
            quote_ident(b, l->into);
            sl_buf_putc(b, '.');
            quote_ident(b, t->cols[j].name);
            sl_buf_puts(b, " ELSE excluded.");
            quote_ident(b, t->cols[j].name);
            sl_buf_puts(b, " END, ");
            continue;
        }
        sl_buf_puts(b, " = excluded.");
        quote_ident(b, t->cols[j].name);
        sl_buf_puts(b, ", ");
    }
    quote_ident(b, BATCH_COL);
    sl_buf_puts(b, " = excluded.");
    quote_ident(b, BATCH_COL);
    if (ld->mode == SL_LOAD_UPSERT || ld->mode == SL_LOAD_CDC)
        return 0;   /* the batch's row replaces the stored one, unconditionally */
    sl_buf_puts(b, " WHERE ");
    long tv = sl_schema_find(t, ld->version_key);
    int numeric = l->types[l->ver] == SL_T_NUMERIC || (tv >= 0 && t->cols[tv].type == SL_T_NUMERIC);
    if (numeric)
        sl_buf_puts(b, "sluice_numeric_cmp(");
    sl_buf_puts(b, "excluded.");
    quote_ident(b, ld->version_key);
    sl_buf_puts(b, numeric ? ", " : " > ");
    quote_ident(b, l->into);
    sl_buf_putc(b, '.');
    quote_ident(b, ld->version_key);
    if (numeric)
        sl_buf_puts(b, ") > 0");
    return 0;
}

static int cdc_prepare_delete(struct sqlite_dest *d, struct load_state *l,
                              const struct sl_load *ld, struct sl_err *err);

static int sq_load_begin(struct sl_dest *dd, const struct sl_load *ld, struct sl_err *err)
{
    struct sqlite_dest *d = DB(dd);
    struct load_state *l = &d->ld;
    struct sl_buf b;
    int rc;

    if (l->active)
        return sl_err_set(err, SL_E_INTERNAL,
                          "load of \"%s\" begun while loading \"%s\"", ld->table, l->table);
    /* docs/invariants.md #2: rows only ever go in inside the batch's transaction */
    if (sqlite3_get_autocommit(d->db))
        return sl_err_set(err, SL_E_INTERNAL, "load of \"%s\" begun outside a transaction",
                          ld->table);
    memset(l, 0, sizeof *l);
    l->ver = -1;
    l->active = 1;
    l->mode = ld->mode;
    l->batch = ld->batch_id;
    l->table = sl_strdup(ld->table);
    l->name = table_name(ld->table);
    if (!l->table || !l->name)
        goto oom;
    if (check_data_table(ld->table, l->name, err) < 0 || load_plan(l, ld, err) < 0)
        goto fail;
    sl_buf_init(&b);
    sl_buf_puts(&b, l->name);
    if (ld->mode == SL_LOAD_SNAPSHOT)
        sl_buf_puts(&b, NEW_SUFFIX);
    if (b.oom)
        goto oom;
    l->into = sl_buf_steal(&b);

    if (ld->mode == SL_LOAD_SNAPSHOT) {
        /* loaded beside the live table, swapped in by load_end; a table left
         * by a run that died is dropped first */
        sl_buf_puts(&b, "DROP TABLE IF EXISTS ");
        quote_ident(&b, l->into);
        rc = run_buf(d, &b, err, "drop the leftover snapshot table \"%s\"", l->into);
        sl_buf_free(&b);
        if (rc < 0)
            goto fail;
        rc = build_create(&b, ld->table, l->into, ld->target, ld->pk, ld->npk, err);
        if (rc == 0)
            rc = run_buf(d, &b, err, "create the snapshot table for \"%s\"", ld->table);
        sl_buf_free(&b);
        if (rc < 0)
            goto fail;
    }
    /* docs/invariants.md #3: rows this load overwrites go to the history table */
    if ((ld->mode == SL_LOAD_VERSIONED || ld->mode == SL_LOAD_UPSERT ||
         ld->mode == SL_LOAD_CDC) && hist_begin(d, l, err) < 0)
        goto fail;
    if (ld->mode == SL_LOAD_CDC && cdc_prepare_delete(d, l, ld, err) < 0)
        goto fail;

    build_insert(&b, l, ld);
    if (b.oom) {
        sl_buf_free(&b);
        goto oom;
    }
    rc = sqlite3_prepare_v3(d->db, b.data, -1, SQLITE_PREPARE_PERSISTENT, &l->ins, NULL);
    if (rc != SQLITE_OK) {
        db_fail(d->db, rc, err, "prepare the %s load of table \"%s\"", mode_name(ld->mode),
                ld->table);
        sl_buf_free(&b);
        goto fail;
    }
    sl_buf_free(&b);
    rc = sqlite3_bind_int64(l->ins, (int)ld->target->ncols + 1, ld->batch_id);
    if (rc != SQLITE_OK) {
        db_fail(d->db, rc, err, "bind the batch id for table \"%s\"", ld->table);
        goto fail;
    }
    return 0;

oom:
    sl_err_nomem(err);
fail:
    load_free(l);
    return -1;
}

/* "(a, b)=(1, x)" for messages; values cut at 100 bytes. */
static void format_key(struct sl_buf *b, const struct load_state *l, const struct sl_cell *cells)
{
    sl_buf_putc(b, '(');
    for (size_t k = 0; k < l->npk; k++)
        sl_buf_printf(b, "%s%s", k ? ", " : "", l->cols[l->pk[k]]);
    sl_buf_puts(b, ")=(");
    for (size_t k = 0; k < l->npk; k++) {
        const struct sl_cell *c = &cells[l->pk[k]];
        if (c->null)
            sl_buf_printf(b, "%sNULL", k ? ", " : "");
        else
            sl_buf_printf(b, "%s%.*s", k ? ", " : "", (int)(c->n > 100 ? 100 : c->n), c->s);
    }
    sl_buf_putc(b, ')');
}

/* A NUL-terminated copy of a cell, for strtoll / strtod. */
static const char *cell_cstr(struct load_state *l, const struct sl_cell *c)
{
    sl_buf_reset(&l->scratch);
    sl_buf_append(&l->scratch, c->s, c->n);
    return l->scratch.oom ? NULL : l->scratch.data;
}

__attribute__((format(printf, 4, 5)))
static int row_fail(struct load_state *l, const struct sl_cell *cells, struct sl_err *err,
                    const char *fmt, ...)
{
    struct sl_buf key;
    char what[1024];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    sl_buf_init(&key);
    if (l->npk > 0)
        format_key(&key, l, cells);
    if (key.data && !key.oom)
        return sl_err_set(err, SL_E_INPUT, "%s for primary key %s in table \"%s\"", what,
                          key.data, l->table);
    sl_buf_free(&key);
    return sl_err_set(err, SL_E_INPUT, "%s in table \"%s\"", what, l->table);
}

static int bind_cell(struct load_state *l, sqlite3_stmt *st, int p, size_t i,
                     const struct sl_cell *c, const struct sl_cell *cells, struct sl_err *err)
{
    const char *s;
    char *end;

    if (c->null)
        return sqlite3_bind_null(st, p);
    switch (l->types[i]) {
    case SL_T_BIGINT: {
        if (!(s = cell_cstr(l, c)))
            return SQLITE_NOMEM;
        errno = 0;
        long long v = strtoll(s, &end, 10);
        if (errno || end == s || *end)
            return row_fail(l, cells, err, "value \"%.100s\" of bigint column \"%s\" is not an integer",
                            s, l->cols[i]), SQLITE_MISMATCH;
        return sqlite3_bind_int64(st, p, v);
    }
    case SL_T_DOUBLE: {
        if (!(s = cell_cstr(l, c)))
            return SQLITE_NOMEM;
        double v = strtod(s, &end);
        if (end == s || *end)
            return row_fail(l, cells, err, "value \"%.100s\" of double column \"%s\" is not a number",
                            s, l->cols[i]), SQLITE_MISMATCH;
        /* SQLite would store a bound NaN as NULL; see the file comment */
        if (isnan(v))
            return sqlite3_bind_text(st, p, "NaN", 3, SQLITE_STATIC);
        return sqlite3_bind_double(st, p, v);
    }
    case SL_T_BOOL:
        if (c->n == 4 && memcmp(c->s, "true", 4) == 0)
            return sqlite3_bind_int(st, p, 1);
        if (c->n == 5 && memcmp(c->s, "false", 5) == 0)
            return sqlite3_bind_int(st, p, 0);
        return row_fail(l, cells, err, "value \"%.*s\" of bool column \"%s\" is not true or false",
                        (int)(c->n > 100 ? 100 : c->n), c->s, l->cols[i]), SQLITE_MISMATCH;
    default:
        /* the cell outlives the step; rebound before the next one */
        return sqlite3_bind_text64(st, p, c->s, c->n, SQLITE_STATIC, SQLITE_UTF8);
    }
}

/* A cdc delete: the row goes (the delete trigger keeps it in history) or,
 * soft, is stamped with the delete's time (the update trigger keeps it). */
static int cdc_delete(struct sqlite_dest *d, struct load_state *l, const struct sl_cell *cells,
                      struct sl_err *err)
{
    int p = 1, rc = SQLITE_OK;
    if (l->deleted_at >= 0) {
        const struct sl_cell *c = &cells[l->deleted_at];
        rc = c->null ? sqlite3_bind_null(l->del, p)
                     : sqlite3_bind_text64(l->del, p, c->s, c->n, SQLITE_STATIC, SQLITE_UTF8);
        p++;
        if (rc == SQLITE_OK)
            rc = sqlite3_bind_int64(l->del, p++, l->batch);
    }
    for (size_t k = 0; k < l->npk && rc == SQLITE_OK; k++)
        rc = bind_cell(l, l->del, p++, l->pk[k], &cells[l->pk[k]], cells, err);
    if (rc == SQLITE_MISMATCH)
        return -1;
    if (rc != SQLITE_OK)
        return db_fail(d->db, rc, err, "bind a delete's key of table \"%s\"", l->table);
    rc = sqlite3_step(l->del);
    sqlite3_reset(l->del);
    if (rc != SQLITE_DONE)
        return db_fail(d->db, rc, err, "apply a delete to table \"%s\"", l->table);
    if (sqlite3_changes(d->db) > 0)
        l->res.rows_written++;
    else
        l->res.rows_unchanged++;
    return 0;
}

/* DELETE FROM t WHERE k = ?1 ..., or (soft) UPDATE t SET deleted_at = ?1,
 * batch = ?2 WHERE k = ?3 ... */
static int cdc_prepare_delete(struct sqlite_dest *d, struct load_state *l,
                              const struct sl_load *ld, struct sl_err *err)
{
    struct sl_buf b;
    int p = 1;
    sl_buf_init(&b);
    if (l->deleted_at >= 0) {
        sl_buf_puts(&b, "UPDATE ");
        quote_ident(&b, l->into);
        sl_buf_puts(&b, " SET ");
        quote_ident(&b, SL_DELETED_AT_COL);
        sl_buf_puts(&b, " = ?1, ");
        quote_ident(&b, BATCH_COL);
        sl_buf_puts(&b, " = ?2");
        p = 3;
    } else {
        sl_buf_puts(&b, "DELETE FROM ");
        quote_ident(&b, l->into);
    }
    for (size_t k = 0; k < ld->npk; k++) {
        sl_buf_puts(&b, k ? " AND " : " WHERE ");
        quote_ident(&b, ld->pk[k]);
        sl_buf_printf(&b, " = ?%d", p++);
    }
    if (b.oom) {
        sl_buf_free(&b);
        return sl_err_nomem(err);
    }
    int rc = sqlite3_prepare_v3(d->db, b.data, -1, SQLITE_PREPARE_PERSISTENT, &l->del, NULL);
    sl_buf_free(&b);
    if (rc != SQLITE_OK)
        return db_fail(d->db, rc, err, "prepare the deletes of table \"%s\"", ld->table);
    return 0;
}

static int sq_load_row(struct sl_dest *dd, const struct sl_cell *cells, struct sl_err *err)
{
    struct sqlite_dest *d = DB(dd);
    struct load_state *l = &d->ld;
    int rc;

    if (!l->active)
        return sl_err_set(err, SL_E_INTERNAL, "load_row without load_begin");
    l->res.rows_in++;
    for (size_t k = 0; k < l->npk; k++)
        if (cells[l->pk[k]].null)
            return row_fail(l, cells, err, "null in primary key column \"%s\"",
                            l->cols[l->pk[k]]);
    if (l->ver >= 0 && cells[l->ver].null)
        return row_fail(l, cells, err, "null version \"%s\"", l->cols[l->ver]);
    if (l->mode == SL_LOAD_CDC) {
        const struct sl_cell *op = &cells[l->op], *u = &cells[l->unchanged];
        if (!op->null && op->n == 1 && op->s[0] == 'D')
            return cdc_delete(d, l, cells, err);
        rc = u->null ? sqlite3_bind_null(l->ins, (int)l->ncols_target + 2)
                     : sqlite3_bind_text64(l->ins, (int)l->ncols_target + 2, u->s, u->n,
                                           SQLITE_STATIC, SQLITE_UTF8);
        if (rc != SQLITE_OK)
            return db_fail(d->db, rc, err, "bind the unchanged columns of table \"%s\"",
                           l->table);
    }
    for (size_t i = 0; i < l->ncols; i++) {
        rc = bind_cell(l, l->ins, l->param[i], i, &cells[i], cells, err);
        if (rc == SQLITE_MISMATCH)
            return -1;      /* err already says which value */
        if (rc != SQLITE_OK)
            return rc == SQLITE_NOMEM ? sl_err_nomem(err)
                                      : db_fail(d->db, rc, err, "bind column \"%s\" of table \"%s\"",
                                                l->cols[i], l->table);
    }
    rc = sqlite3_step(l->ins);
    if (rc != SQLITE_DONE) {
        int ret;
        if (rc == SQLITE_CONSTRAINT_PRIMARYKEY && l->mode == SL_LOAD_APPEND) {
            struct sl_buf key;
            sl_buf_init(&key);
            format_key(&key, l, cells);
            ret = sl_err_set(err, SL_E_INPUT,
                             "duplicate primary key %s in append table \"%s\""
                             " (already loaded, or twice in this batch)",
                             key.data && !key.oom ? key.data : "", l->table);
            sl_buf_free(&key);
        } else {
            ret = db_fail(d->db, rc, err, "write a row to table \"%s\"", l->table);
        }
        sqlite3_reset(l->ins);
        return ret;
    }
    if (sqlite3_changes(d->db) > 0)
        l->res.rows_written++;
    else
        l->res.rows_unchanged++;
    sqlite3_reset(l->ins);
    return 0;
}

/* Snapshot: the new table takes the old one's place inside the caller's
 * transaction, so readers see the old table until commit and the new one
 * after. */
static int snapshot_swap(struct sqlite_dest *d, struct load_state *l, struct sl_err *err)
{
    /* the old table is kept aside (keep_replaced), the new one renamed in
     * its place; legacy renames, so views that name the table keep naming
     * it rather than following the old table */
    if (keep_replaced(d, l, err) < 0 || rename_table(d, l->into, l->name, err) < 0) {
        sl_err_prefix(err, "swap in the new snapshot of table \"%s\"", l->table);
        return -1;
    }
    return create_batch_index(d, l->table, l->name, err);
}

static int sq_load_end(struct sl_dest *dd, struct sl_load_result *res, struct sl_err *err)
{
    struct sqlite_dest *d = DB(dd);
    struct load_state *l = &d->ld;
    int ret = 0;

    if (!l->active)
        return sl_err_set(err, SL_E_INTERNAL, "load_end without load_begin");
    sqlite3_finalize(l->ins);
    l->ins = NULL;
    ret = hist_end(d, l, err);
    if (ret == 0 && l->mode == SL_LOAD_SNAPSHOT)
        ret = snapshot_swap(d, l, err);
    if (res)
        *res = l->res;
    load_free(l);
    return ret;
}

/* ---- taking batches back out ---- */

static int sq_exec_count(struct sl_dest *dd, const char *sql, int nparams,
                         const char *const *params, int64_t *changed, struct sl_err *err)
{
    *changed = 0;
    if (sq_exec(dd, sql, nparams, params, NULL, err) < 0)
        return -1;
    *changed = (int64_t)sqlite3_changes64(DB(dd)->db);
    return 0;
}

static void sq_quote_ident_op(struct sl_buf *b, const char *name)
{
    quote_ident(b, name);
}

static char *quoted(const char *name)
{
    struct sl_buf b;
    if (!name)
        return NULL;
    sl_buf_init(&b);
    quote_ident(&b, name);
    return b.oom ? (sl_buf_free(&b), NULL) : sl_buf_steal(&b);
}

static char *sq_table_sql(struct sl_dest *dd, const char *table)
{
    (void)dd;
    char *name = table_name(table);
    char *q = quoted(name);
    sl_free(name);
    return q;
}

static char *sq_own_table_sql(struct sl_dest *dd, const char *name)
{
    (void)dd;
    char *own = own_name(name);
    char *q = quoted(own);
    sl_free(own);
    return q;
}

static int sq_hist_table(struct sl_dest *dd, const char *table, char **out, struct sl_err *err)
{
    char *name = table_name(table);
    char *hist = name ? hist_name(name) : NULL;
    int exists = 0;
    *out = quoted(hist);
    int rc = *out ? table_exists(DB(dd), hist, &exists, err) : sl_err_nomem(err);
    sl_free(name);
    sl_free(hist);
    return rc < 0 ? -1 : exists;
}

static int sq_restore_prev(struct sl_dest *dd, const char *table, int64_t batch,
                           struct sl_err *err)
{
    struct sqlite_dest *d = DB(dd);
    char *kept = NULL, *name = table_name(table);
    int exists = 0, rc = -1;

    if (!name)
        return sl_err_nomem(err);
    if (kept_lookup(d, table, batch, &kept, err) < 0)
        goto done;
    if (!kept) {
        rc = 0;
        goto done;
    }
    if (table_exists(d, kept, &exists, err) < 0)
        goto done;
    if (!exists) {
        rc = kept_forget(d, batch, err) < 0 ? -1 : 0;
        goto done;
    }
    if (drop_table(d, name, err) == 0 && rename_table(d, kept, name, err) == 0 &&
        create_batch_index(d, table, name, err) == 0 && kept_forget(d, batch, err) == 0)
        rc = 1;
done:
    if (rc < 0)
        sl_err_prefix(err, "table \"%s\"", table);
    sl_free(kept);
    sl_free(name);
    return rc;
}

static int sq_drop_prev(struct sl_dest *dd, const char *table, int64_t batch,
                        struct sl_err *err)
{
    struct sqlite_dest *d = DB(dd);
    char *kept = NULL;
    if (kept_lookup(d, table, batch, &kept, err) < 0)
        return -1;
    if (!kept)
        return 0;
    int rc = drop_table(d, kept, err);
    if (rc == 0)
        rc = kept_forget(d, batch, err);
    sl_free(kept);
    return rc;
}

static int sq_copy_out(struct sl_dest *dd, const char *table, const char *own, int64_t *rows,
                       struct sl_err *err)
{
    struct sqlite_dest *d = DB(dd);
    char *name = table_name(table), *to = own_name(own);
    struct sl_rows tc;
    struct sl_buf b;
    int rc = -1;

    *rows = 0;
    memset(&tc, 0, sizeof tc);
    sl_buf_init(&b);
    if (!name || !to) {
        sl_err_nomem(err);
        goto done;
    }
    if (stored_columns(d, name, &tc, err) < 0)
        goto done;
    if (tc.nrows == 0) {
        sl_err_set(err, SL_E_DEST, "table \"%s\" does not exist", table);
        goto done;
    }
    sl_buf_puts(&b, "CREATE TABLE ");
    quote_ident(&b, to);
    sl_buf_puts(&b, " (");
    for (size_t i = 0; i < tc.nrows; i++) {
        if (i)
            sl_buf_puts(&b, ", ");
        quote_ident(&b, sl_rows_get(&tc, i, 0));
        sl_buf_printf(&b, " %s", affinity_decl(sl_rows_get(&tc, i, 1)));
    }
    sl_buf_putc(&b, ')');
    if (run_buf(d, &b, err, "create the copy of table \"%s\"", table) < 0)
        goto done;
    sl_buf_reset(&b);
    sl_buf_puts(&b, "INSERT INTO ");
    quote_ident(&b, to);
    sl_buf_puts(&b, " SELECT ");
    for (size_t i = 0; i < tc.nrows; i++) {
        if (i)
            sl_buf_puts(&b, ", ");
        quote_ident(&b, sl_rows_get(&tc, i, 0));
    }
    sl_buf_puts(&b, " FROM ");
    quote_ident(&b, name);
    if (run_buf(d, &b, err, "copy table \"%s\"", table) < 0)
        goto done;
    *rows = (int64_t)sqlite3_changes64(d->db);
    rc = 0;
done:
    sl_rows_free(&tc);
    sl_buf_free(&b);
    sl_free(name);
    sl_free(to);
    return rc;
}

/* Delete rows by key (reconcile's repair); each deleted row is copied to the
 * history table first, replaced by `batch`, so a rollback puts it back. */
static int sq_delete_keys(struct sl_dest *dd, const char *table, const char *const *key,
                          size_t nkey, const char *const *vals, size_t nvals, int64_t batch,
                          int64_t *deleted, struct sl_err *err)
{
    struct sqlite_dest *d = DB(dd);
    struct load_state l;
    struct sl_rows tc;
    struct sl_buf keep, del;
    char *hist = NULL;
    const char **p = NULL;
    char btxt[24];
    int ret = -1;

    *deleted = 0;
    if (nvals == 0)
        return 0;
    memset(&l, 0, sizeof l);
    memset(&tc, 0, sizeof tc);
    l.ver = -1;
    l.batch = batch;
    l.table = sl_strdup(table);
    l.name = table_name(table);
    sl_buf_init(&keep);
    sl_buf_init(&del);
    hist = l.name ? hist_name(l.name) : NULL;
    p = sl_calloc(nkey + 1, sizeof *p);
    if (!l.table || !l.name || !hist || !p) {
        sl_err_nomem(err);
        goto done;
    }
    /* the history table with every column of the table (hist_begin makes
     * it, and a trigger this delete does not need) */
    if (hist_begin(d, &l, err) < 0 || hist_end(d, &l, err) < 0)
        goto done;
    if (stored_columns(d, l.name, &tc, err) < 0)
        goto done;
    sl_buf_puts(&keep, "INSERT INTO ");
    quote_ident(&keep, hist);
    sl_buf_puts(&keep, " (");
    for (size_t i = 0; i < tc.nrows; i++) {
        quote_ident(&keep, sl_rows_get(&tc, i, 0));
        sl_buf_puts(&keep, ", ");
    }
    quote_ident(&keep, REPLACED_COL);
    sl_buf_puts(&keep, ") SELECT ");
    for (size_t i = 0; i < tc.nrows; i++) {
        quote_ident(&keep, sl_rows_get(&tc, i, 0));
        sl_buf_puts(&keep, ", ");
    }
    sl_buf_printf(&keep, "$%zu FROM ", nkey + 1);
    quote_ident(&keep, l.name);
    sl_buf_puts(&del, "DELETE FROM ");
    quote_ident(&del, l.name);
    sl_buf_puts(&keep, " WHERE ");
    sl_buf_puts(&del, " WHERE ");
    for (size_t k = 0; k < nkey; k++) {
        struct sl_buf *bs[2] = {&keep, &del};
        for (int j = 0; j < 2; j++) {
            if (k)
                sl_buf_puts(bs[j], " AND ");
            quote_ident(bs[j], key[k]);
            sl_buf_printf(bs[j], " = $%zu", k + 1);
        }
    }
    if (keep.oom || del.oom) {
        sl_err_nomem(err);
        goto done;
    }
    snprintf(btxt, sizeof btxt, "%lld", (long long)batch);
    p[nkey] = btxt;
    for (size_t i = 0; i < nvals; i++) {
        int64_t n = 0;
        for (size_t k = 0; k < nkey; k++)
            p[k] = vals[i * nkey + k];
        if (sq_exec(dd, keep.data, (int)nkey + 1, p, NULL, err) < 0 ||
            sq_exec_count(dd, del.data, (int)nkey, p, &n, err) < 0)
            goto done;
        *deleted += n;
    }
    ret = 0;
done:
    if (ret < 0)
        sl_err_prefix(err, "table \"%s\": could not delete rows by key", table);
    sl_rows_free(&tc);
    sl_buf_free(&keep);
    sl_buf_free(&del);
    sl_free(hist);
    sl_free(p);
    sl_free(l.table);
    sl_free(l.name);
    return ret;
}

/* The dead letter table; ALTER TABLE has no IF NOT EXISTS here, so the
 * dedupe column (newer than the table) is added only when missing. */
static const struct sl_ddl_step DEAD_LETTER_STEPS[] = {
    {"CREATE TABLE IF NOT EXISTS \"_sluice_dead_letter\" ("
     " id INTEGER PRIMARY KEY AUTOINCREMENT, pipeline TEXT NOT NULL, table_name TEXT NOT NULL,"
     " event_id TEXT, error TEXT NOT NULL, payload TEXT NOT NULL,"
     " received_at TEXT NOT NULL, batch_id INTEGER,"
     " replayed_at TEXT, replayed_by INTEGER, dedupe TEXT)", NULL},
    {"CREATE INDEX IF NOT EXISTS \"_sluice_dead_letter_pending_idx\" ON"
     " \"_sluice_dead_letter\" (pipeline, id) WHERE replayed_at IS NULL", NULL},
    {"ALTER TABLE \"_sluice_dead_letter\" ADD COLUMN dedupe TEXT",
     "SELECT count(*) FROM pragma_table_info('_sluice_dead_letter') WHERE name = 'dedupe'"},
    {"CREATE UNIQUE INDEX IF NOT EXISTS \"_sluice_dead_letter_dedupe_idx\" ON"
     " \"_sluice_dead_letter\" (pipeline, table_name, dedupe)", NULL},
    {NULL, NULL},
};

/* SQLite has one writer: a pipeline's tables load one after another. */
static const struct sl_dest_dialect sq_dialect = {
    .max_writers = 1,
    .dead_letter = {NULL, 0, DEAD_LETTER_STEPS},
    .sql = &sq_sql,
};

const struct sl_dest_ops sl_dest_sqlite = {
    .kind = "sqlite",
    .dialect = &sq_dialect,
    .connect = sq_connect,
    .close = sq_close,
    .meta_table = sq_meta_table,
    .ensure_meta = sq_ensure_meta,
    .exec = sq_exec,
    .begin = sq_begin,
    .commit = sq_commit,
    .rollback = sq_rollback,
    .lock_table = sq_lock_table,
    .lease_try = sq_lease_try,
    .lease_release = sq_lease_release,
    .describe = sq_describe,
    .create_table = sq_create_table,
    .add_column = sq_add_column,
    .fit_table = sq_fit_table,
    .load_begin = sq_load_begin,
    .load_row = sq_load_row,
    .load_end = sq_load_end,
    .exec_count = sq_exec_count,
    .quote_ident = sq_quote_ident_op,
    .table_sql = sq_table_sql,
    .own_table_sql = sq_own_table_sql,
    .hist_table = sq_hist_table,
    .restore_prev = sq_restore_prev,
    .drop_prev = sq_drop_prev,
    .copy_out = sq_copy_out,
    .delete_keys = sq_delete_keys,
};
