/* tests/unit/engine_fixture.h: what the engine unit tests (test_ledger.c,
 * test_rollback.c, test_pipeline.c) share: a scratch folder of their own
 * under /tmp holding a SQLite warehouse and drop folders, a config loaded
 * from memory over it, drops written into it, runs of a pipeline, and dumps
 * of a table as stored (every column, typed, _sluice_batch too) to compare.
 *
 * Only the engine's public headers are used; the warehouse is reached
 * through sl_dest_open as the engine reaches it. Everything here is static
 * inline so a test file that needs only some of it builds warning-free. */
#ifndef SL_TEST_ENGINE_FIXTURE_H
#define SL_TEST_ENGINE_FIXTURE_H

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "base/mem.h"
#include "config/config.h"
#include "destinations/destination.h"
#include "engine/ledger.h"
#include "engine/meta.h"
#include "engine/pipeline.h"
#include "engine/rollback.h"
#include "model/batch.h"
#include "model/schema.h"

struct fx {
    char dir[64];               /* the scratch folder */
    char url[128];              /* sqlite://<dir>/wh.db */
    struct sl_config *cfg;      /* NULL until fx_config */
    const struct sl_dest_ops *ops;
    struct sl_dest *d;          /* the test's own connection to the warehouse */
    struct sl_ledger l;
};

static inline int fx_rm_one(const char *path, const struct stat *st, int flag, struct FTW *f)
{
    (void)st;
    (void)flag;
    (void)f;
    return remove(path);
}

/* A fresh scratch folder with a warehouse in it, and a connection to it
 * with sluice's tables made. */
static inline struct fx *fx_new(void)
{
    struct fx *f = calloc(1, sizeof *f);
    struct sl_err err;

    assert_non_null(f);
    snprintf(f->dir, sizeof f->dir, "/tmp/sl_test_engine_XXXXXX");
    if (!mkdtemp(f->dir))
        fail_msg("mkdtemp: %s", strerror(errno));
    snprintf(f->url, sizeof f->url, "sqlite://%s/wh.db", f->dir);
    sl_err_clear(&err);
    if (sl_dest_open(f->url, NULL, NULL, &f->ops, &f->d, &err) != 0)
        fail_msg("open %s: %s", f->url, err.msg);
    if (f->ops->ensure_meta(f->d, &err) != 0)
        fail_msg("ensure_meta: %s", err.msg);
    f->l.ops = f->ops;
    f->l.d = f->d;
    return f;
}

/* Close everything and remove the scratch folder with all in it. */
static inline void fx_free(struct fx *f)
{
    if (!f)
        return;
    if (f->d)
        f->ops->close(f->d);
    sl_config_free(f->cfg);
    if (nftw(f->dir, fx_rm_one, 16, FTW_DEPTH | FTW_PHYS) != 0)
        fail_msg("could not remove %s: %s", f->dir, strerror(errno));
    free(f);
}

/* The config `yaml`, as if read from <dir>/sluice.yaml; its connection
 * "wh" should be sqlite://wh.db (relative: the scratch folder's). */
static inline void fx_config(struct fx *f, const char *yaml)
{
    struct sl_err err;
    sl_err_clear(&err);
    sl_config_free(f->cfg);
    f->cfg = NULL;
    if (sl_config_load_mem("sluice.yaml", f->dir, yaml, strlen(yaml), &f->cfg, &err) != 0)
        fail_msg("config should load, got: %s", err.msg);
}

/* A path inside the scratch folder. */
static inline void fx_path(const struct fx *f, char *out, size_t cap, const char *rel)
{
    snprintf(out, cap, "%s/%s", f->dir, rel);
}

static inline void fx_mkdirs(const char *path)
{
    char p[512];
    snprintf(p, sizeof p, "%s", path);
    for (char *s = p + 1; *s; s++)
        if (*s == '/') {
            *s = '\0';
            if (mkdir(p, 0777) != 0 && errno != EEXIST)
                fail_msg("mkdir %s: %s", p, strerror(errno));
            *s = '/';
        }
    if (mkdir(p, 0777) != 0 && errno != EEXIST)
        fail_msg("mkdir %s: %s", p, strerror(errno));
}

/* Drop `text` as <dir>/<folder>/<name>: written beside it under a hidden
 * name, then renamed in, as a well-behaved producer does. Its mtime is in
 * the past (settled) and one second after the previous drop's, so drops
 * offered together are taken in the order they were made (the files source
 * goes by mtime). */
static inline void fx_drop(const struct fx *f, const char *folder, const char *name,
                           const char *text)
{
    static time_t next;
    if (!next)
        next = time(NULL) - 100000;
    char dir[512], tmp[640], final[640];
    fx_path(f, dir, sizeof dir, folder);
    fx_mkdirs(dir);
    snprintf(tmp, sizeof tmp, "%s/.%s.tmp", dir, name);
    snprintf(final, sizeof final, "%s/%s", dir, name);
    FILE *fp = fopen(tmp, "w");
    if (!fp)
        fail_msg("fopen %s: %s", tmp, strerror(errno));
    assert_int_equal(fwrite(text, 1, strlen(text), fp), strlen(text));
    assert_int_equal(fclose(fp), 0);
    struct timespec ts[2] = {{next, 0}, {next, 0}};
    next++;
    assert_int_equal(utimensat(AT_FDCWD, tmp, ts, 0), 0);
    assert_int_equal(rename(tmp, final), 0);
}

/* 1 when <dir>/<rel> exists. */
static inline int fx_exists(const struct fx *f, const char *rel)
{
    char p[512];
    struct stat st;
    fx_path(f, p, sizeof p, rel);
    return stat(p, &st) == 0;
}

/* The contents of <dir>/<rel>, malloc'd (NULL when absent). */
static inline char *fx_read(const struct fx *f, const char *rel)
{
    char p[512];
    fx_path(f, p, sizeof p, rel);
    FILE *fp = fopen(p, "r");
    if (!fp)
        return NULL;
    char *buf = calloc(1, 65536);
    assert_non_null(buf);
    size_t n = fread(buf, 1, 65535, fp);
    buf[n] = '\0';
    fclose(fp);
    return buf;
}

/* One run of pipeline `name`; the run's own return value in *rc. */
static inline struct sl_run_stats fx_run_rc(struct fx *f, const char *name, int *rc)
{
    struct sl_run_stats st;
    struct sl_err err;
    const struct sl_pipeline_cfg *p;

    memset(&st, 0, sizeof st);
    sl_err_clear(&err);
    assert_non_null(f->cfg);
    p = sl_config_pipeline(f->cfg, name);
    if (!p)
        fail_msg("no pipeline \"%s\" in the test's config", name);
    *rc = sl_pipeline_run(f->cfg, p, &st, &err);
    if (*rc != 0)
        print_message("# run of %s: %s\n", name, err.msg);
    return st;
}

/* One run of pipeline `name` that must work as a run (its batches may fail). */
static inline struct sl_run_stats fx_run(struct fx *f, const char *name)
{
    int rc;
    struct sl_run_stats st = fx_run_rc(f, name, &rc);
    assert_int_equal(rc, 0);
    return st;
}

/* A run of `name` that must commit exactly one batch; its id. */
static inline int64_t fx_run_one(struct fx *f, const char *name)
{
    struct sl_run_stats st = fx_run(f, name);
    if (st.committed != 1 || st.failed || st.quarantined || st.duplicates)
        fail_msg("expected one committed batch, got %d committed, %d failed, %d quarantined,"
                 " %d duplicate: %s", st.committed, st.failed, st.quarantined, st.duplicates,
                 st.first_error.msg);
    assert_true(st.last_batch > 0);
    return st.last_batch;
}

/* Rows of `sql` (no parameters) on the test's connection; must work. In
 * `sql`, {batches}, {files} ... name sluice's own tables (sl_meta_sql). */
static inline void fx_query(struct fx *f, const char *sql, struct sl_rows *out)
{
    struct sl_err err;
    char *q = sl_meta_sql(f->ops, f->d, sql);
    assert_non_null(q);
    sl_err_clear(&err);
    if (f->ops->exec(f->d, q, 0, NULL, out, &err) != 0)
        fail_msg("%s: %s", q, err.msg);
    sl_free(q);
}

/* The one value `sql` gives, malloc'd ("NULL" for SQL NULL, "(no row)"). */
static inline char *fx_value(struct fx *f, const char *sql)
{
    struct sl_rows r;
    fx_query(f, sql, &r);
    const char *v = r.nrows == 0 ? "(no row)" : sl_rows_get(&r, 0, 0);
    char *s = strdup(v ? v : "NULL");
    sl_rows_free(&r);
    assert_non_null(s);
    return s;
}

static inline long long fx_count(struct fx *f, const char *sql)
{
    char *v = fx_value(f, sql);
    char *end;
    long long n = strtoll(v, &end, 10);
    if (*end)
        fail_msg("%s: not a number: %s", sql, v);
    free(v);
    return n;
}

/* 1 when data table `table` exists in the warehouse. */
static inline int fx_table_exists(struct fx *f, const char *table)
{
    struct sl_schema s = {0};
    struct sl_err err;
    sl_err_clear(&err);
    int rc = f->ops->describe(f->d, table, &s, &err);
    sl_schema_free(&s);
    if (rc < 0)
        fail_msg("describe %s: %s", table, err.msg);
    return rc;
}

/* Every row of `table` (`where` NULL or a condition) as the warehouse stores
 * it: each column's value quoted with its type (SQLite's quote(): 'text',
 * 10.5, X'..', NULL), in the table's column order, _sluice_batch too; one
 * line per row, lines sorted. malloc'd; "" for no rows, "(no table)". */
static inline char *fx_dump(struct fx *f, const char *table, const char *where)
{
    struct sl_rows cols, r;
    struct sl_buf sql, out;
    struct sl_err err;

    if (!fx_table_exists(f, table))
        return strdup("(no table)");
    char *tq = f->ops->table_sql(f->d, table);
    assert_non_null(tq);
    sl_err_clear(&err);
    if (sl_table_columns(f->ops, f->d, tq, &cols, &err) != 0)
        fail_msg("columns of %s: %s", table, err.msg);
    sl_buf_init(&sql);
    sl_buf_puts(&sql, "SELECT ");
    for (size_t i = 0; i < cols.ncols; i++) {
        if (i)
            sl_buf_puts(&sql, " || '|' || ");
        sl_buf_puts(&sql, "quote(");
        f->ops->quote_ident(&sql, cols.names[i]);
        sl_buf_puts(&sql, ")");
    }
    sl_buf_printf(&sql, " FROM %s%s%s ORDER BY 1", tq, where ? " WHERE " : "", where ? where : "");
    sl_rows_free(&cols);
    sl_free(tq);
    assert_false(sql.oom);
    fx_query(f, sql.data, &r);
    sl_buf_free(&sql);
    sl_buf_init(&out);
    sl_buf_puts(&out, "");
    for (size_t i = 0; i < r.nrows; i++)
        sl_buf_printf(&out, "%s\n", sl_rows_get(&r, i, 0));
    sl_rows_free(&r);
    assert_false(out.oom);
    char *s = strdup(out.data);
    sl_buf_free(&out);
    assert_non_null(s);
    return s;
}

static inline int fx_cmp_lines(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The lines of dumps `a` and `b` together, sorted as fx_dump sorts them
 * (byte order): what one dump of both sets of rows gives. malloc'd. */
static inline char *fx_dump_union(const char *a, const char *b)
{
    size_t n = 0, cap = 16;
    char **lines = calloc(cap, sizeof *lines);
    struct sl_buf all, out;

    assert_non_null(lines);
    sl_buf_init(&all);
    sl_buf_init(&out);
    sl_buf_puts(&all, a);
    sl_buf_puts(&all, b);
    sl_buf_puts(&out, "");
    assert_false(all.oom);
    for (char *save = NULL, *l = strtok_r(all.data, "\n", &save); l;
         l = strtok_r(NULL, "\n", &save)) {
        if (n == cap) {
            lines = realloc(lines, (cap *= 2) * sizeof *lines);
            assert_non_null(lines);
        }
        lines[n++] = l;
    }
    qsort(lines, n, sizeof *lines, fx_cmp_lines);
    for (size_t i = 0; i < n; i++)
        sl_buf_printf(&out, "%s\n", lines[i]);
    free(lines);
    sl_buf_free(&all);
    assert_false(out.oom);
    char *s = strdup(out.data);
    sl_buf_free(&out);
    assert_non_null(s);
    return s;
}

/* The newest `limit` ledger rows (table/state NULL = any). */
static inline void fx_list(struct fx *f, const char *table, const char *state, long limit,
                           struct sl_rows *out)
{
    struct sl_err err;
    sl_err_clear(&err);
    if (sl_ledger_list(&f->l, table, state, limit, out, &err) != 0)
        fail_msg("ledger list: %s", err.msg);
}

/* Column `name` of row `row` of `r` (NULL = SQL NULL); fails when `r` has
 * no such column or row. */
static inline const char *fx_cell(const struct sl_rows *r, size_t row, const char *name)
{
    if (row >= r->nrows)
        fail_msg("no row %zu (there are %zu)", row, r->nrows);
    for (size_t c = 0; c < r->ncols; c++)
        if (strcmp(r->names[c], name) == 0)
            return sl_rows_get(r, row, c);
    fail_msg("no column \"%s\"", name);
    return NULL;
}

/* The state of batch `id` in the ledger. malloc'd. */
static inline char *fx_state(struct fx *f, int64_t id)
{
    struct sl_rows r;
    struct sl_err err;
    sl_err_clear(&err);
    if (sl_rollback_lookup(f->ops, f->d, id, &r, &err) != 0)
        fail_msg("lookup of batch %lld: %s", (long long)id, err.msg);
    char *s = strdup(r.nrows ? fx_cell(&r, 0, "state") : "(none)");
    sl_rows_free(&r);
    assert_non_null(s);
    return s;
}

#define assert_state(f, id, want)                   \
    do {                                            \
        char *st_ = fx_state((f), (id));            \
        assert_string_equal(st_, (want));           \
        free(st_);                                  \
    } while (0)

/* Needle in haystack, or fail showing both. */
#define assert_contains(hay, needle)                                                  \
    do {                                                                              \
        const char *h_ = (hay), *n_ = (needle);                                       \
        if (!h_ || !strstr(h_, n_))                                                   \
            fail_msg("expected \"%s\" in \"%s\"", n_, h_ ? h_ : "(null)");            \
    } while (0)

/* cmocka's setup and teardown for a test file whose tests all start from
 * config text `cfg`: each test gets a scratch folder of its own, removed
 * after it even when it fails. */
#define FX_SETUP_TEARDOWN(cfg) \
    static int setup(void **state) \
    { \
        struct fx *f = fx_new(); \
        fx_config(f, cfg); \
        *state = f; \
        return 0; \
    } \
    static int teardown(void **state) \
    { \
        fx_free(*state); \
        return 0; \
    }

#endif
