/* engine/pipeline.c: the engine (see pipeline.h).
 *
 * One batch, one destination transaction:
 *   begin; lock the table; skip if the ledger already has this content;
 *   make sure the table exists with every column of the drop (inferring the
 *   types of new columns from the whole drop first); open a ledger row;
 *   stream every record through type checks and gates into the destination;
 *   the kind's merge or swap; ledger + file record; commit.
 * Nothing is visible before the commit, so a gate that fails, a malformed
 * value or a kill at any instant leaves the table and ledger as they were
 * (invariants 1 and 2). Only after the commit is the batch acked to the
 * source (moved to done/): a kill between the two is healed on the next run
 * by the ledger's content hash. */
#include "engine/pipeline.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/log.h"
#include "base/mem.h"
#include "base/retry.h"
#include "base/stop.h"
#include "base/value.h"
#include "destinations/destination.h"
#include "engine/deadletter.h"
#include "engine/ledger.h"
#include "engine/observer.h"
#include "engine/snapshot.h"
#include "gates/gate.h"
#include "model/protect.h"
#include "sources/source.h"

/* ---- stop ---- */

static atomic_int oneshot;

void sl_pipeline_set_oneshot(int on)
{
    atomic_store(&oneshot, on);
}

/* ---- the summary of a run ---- */

void sl_run_stats_text(const struct sl_run_stats *st, char *out, size_t cap)
{
    char deferred[128];
    int n = st->deferred + st->waiting;

    /* what was left for the next run, and why */
    if (st->waiting && st->deferred)
        snprintf(deferred, sizeof deferred, "%d deferred (%d still being written, %d transient "
                 "failure%s)", n, st->waiting, st->deferred, st->deferred == 1 ? "" : "s");
    else if (st->waiting)
        snprintf(deferred, sizeof deferred, "%d deferred (still being written)", n);
    else if (st->deferred)
        snprintf(deferred, sizeof deferred, "%d deferred (transient failure%s)", n,
                 n == 1 ? "" : "s");
    else
        snprintf(deferred, sizeof deferred, "0 deferred");
    int used = snprintf(out, cap, "%d committed (%" PRId64 " rows), %d duplicate, %d failed, "
                        "%s, %d quarantined", st->committed, st->rows, st->duplicates,
                        st->failed, deferred, st->quarantined);
    if (used >= 0 && (size_t)used < cap && st->dead_lettered)
        used += snprintf(out + used, cap - (size_t)used, ", %" PRId64 " to the dead letter"
                         " table", st->dead_lettered);
    if (used >= 0 && (size_t)used < cap && st->locked)
        used += snprintf(out + used, cap - (size_t)used, ", %d skipped (locked by another run)",
                         st->locked);
    if (used >= 0 && (size_t)used < cap && st->not_run)
        used += snprintf(out + used, cap - (size_t)used, ", %d table%s not run", st->not_run,
                         st->not_run == 1 ? "" : "s");
    if (used >= 0 && (size_t)used < cap && st->stopped)
        used += snprintf(out + used, cap - (size_t)used, ", %d table%s stopped early",
                         st->stopped, st->stopped == 1 ? "" : "s");
    if (used >= 0 && (size_t)used < cap && (st->not_run || st->stopped))
        snprintf(out + used, cap - (size_t)used, ": %s",
                 st->not_run_why[0] ? st->not_run_why : "see the log");
}

/* ---- column name -> index ---- */

struct colmap {
    size_t cap;                     /* power of two */
    struct slot { const char *name; size_t len; long idx; } *slots;
};

static uint64_t hash_name(const char *s, size_t n)
{
    return sl_fnv1a64(SL_FNV1A64_SLUICE_INIT, s, n);
}

static void colmap_free(struct colmap *m)
{
    sl_free(m->slots);
    m->slots = NULL;
    m->cap = 0;
}

static long colmap_get(const struct colmap *m, const char *s, size_t n)
{
    if (!m->cap)
        return -1;
    for (size_t i = hash_name(s, n) & (m->cap - 1);; i = (i + 1) & (m->cap - 1)) {
        const struct slot *sl = &m->slots[i];
        if (!sl->name)
            return -1;
        if (sl->len == n && memcmp(sl->name, s, n) == 0)
            return sl->idx;
    }
}

/* `name` must outlive the map. */
static int colmap_put(struct colmap *m, const char *name, size_t n, long idx, size_t count)
{
    if ((count + 1) * 2 > m->cap) {
        size_t cap = m->cap ? m->cap * 2 : 64;
        while ((count + 1) * 2 > cap)
            cap *= 2;
        struct slot *s = sl_calloc(cap, sizeof *s);
        if (!s)
            return -1;
        for (size_t i = 0; i < m->cap; i++) {
            if (!m->slots[i].name)
                continue;
            size_t j = hash_name(m->slots[i].name, m->slots[i].len) & (cap - 1);
            while (s[j].name)
                j = (j + 1) & (cap - 1);
            s[j] = m->slots[i];
        }
        sl_free(m->slots);
        m->slots = s;
        m->cap = cap;
    }
    size_t j = hash_name(name, n) & (m->cap - 1);
    while (m->slots[j].name)
        j = (j + 1) & (m->cap - 1);
    m->slots[j].name = name;
    m->slots[j].len = n;
    m->slots[j].idx = idx;
    return 0;
}

static int colmap_build(struct colmap *m, const struct sl_schema *s)
{
    colmap_free(m);
    for (size_t i = 0; i < s->ncols; i++)
        if (colmap_put(m, s->cols[i].name, strlen(s->cols[i].name), (long)i, i) < 0)
            return -1;
    return 0;
}

/* ---- one table run ---- */

struct table_run {
    const struct sl_config *cfg;
    const struct sl_pipeline_cfg *p;
    const struct sl_table_cfg *t;
    const struct sl_dest_ops *dops;
    struct sl_dest *dest;
    struct sl_ledger ledger;
    const struct sl_source_ops *sops;
    struct sl_source *src;
    struct sl_run_stats *stats;
    struct sl_log_ctx log;
    /* the batch of the attempt that failed last, and its rows: it may have
     * committed, its COMMIT's answer lost with the connection */
    int64_t tried_id;
    struct sl_load_result tried_res;
    int64_t release_id;     /* sluice approve: load this held batch, no gates */
    const char *decision;   /* its note in the ledger */
    struct sl_schema src_schema;    /* the source's columns (sources with schema()) */
    int warned_missing;     /* a column gone from the source was reported this run */
    const struct repair *repair;    /* sluice reconcile --repair: see sl_pipeline_repair */
    int64_t dead_lettered;  /* events or log records the last attempt set aside */
    int dead_letter_ready;  /* the dead letter table is there (sl_deadletter_ensure) */
    struct sl_buf ddl;      /* what this attempt did to the table ("created table ..."),
                             * one line each: logged once the batch commits */
};

/* Note a change to the table, for the log once it is committed. */
static void ddl_note(struct table_run *tr, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void ddl_note(struct table_run *tr, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    sl_buf_vprintf(&tr->ddl, fmt, ap);
    va_end(ap);
    sl_buf_putc(&tr->ddl, '\n');
}

/* The attempt committed: say what it did to the table. */
static void ddl_log(struct table_run *tr)
{
    const char *s = tr->ddl.data;
    while (s && *s) {
        const char *nl = strchr(s, '\n');
        int n = nl ? (int)(nl - s) : (int)strlen(s);
        sl_log(SL_LOG_INFO, &tr->log, "%.*s", n, s);
        s = nl ? nl + 1 : s + n;
    }
    sl_buf_reset(&tr->ddl);
}

/* A repair batch: rows of the source for some keys merged by primary key,
 * and keys the source no longer has deleted (history kept for rollback). */
struct repair {
    const char *const *key;
    size_t nkey;
    const char *const *del;     /* ndel x nkey canonical texts */
    size_t ndel;
};

static enum sl_load_mode load_mode(const struct sl_table_cfg *t, const struct sl_batch_input *b)
{
    switch (t->kind) {
    case SL_KIND_CDC: return b->whole ? SL_LOAD_SNAPSHOT : b->upsert ? SL_LOAD_UPSERT : SL_LOAD_CDC;
    case SL_KIND_VERSIONED: return SL_LOAD_VERSIONED;
    case SL_KIND_SNAPSHOT: return SL_LOAD_SNAPSHOT;
    case SL_KIND_INCREMENTAL:
        /* updater: the source's row is the truth for its key, whatever it
         * carries (a row updated without its timestamp moving still lands) */
        return t->mode && strcmp(t->mode, "updater") == 0 ? SL_LOAD_UPSERT : SL_LOAD_APPEND;
    default: return SL_LOAD_APPEND;
    }
}

static const struct sl_column_cfg *declared(const struct sl_table_cfg *t, const char *name,
                                            size_t n)
{
    for (size_t i = 0; i < t->ncolumns; i++)
        if (strlen(t->columns[i].name) == n && memcmp(t->columns[i].name, name, n) == 0)
            return &t->columns[i];
    return NULL;
}

struct infer_col {
    char *name;
    struct sl_infer inf;
    enum sl_type hint;      /* the reader's (sl_field.type): when no value says */
};

/* A name the warehouse stores otherwise (PostgreSQL's 63 bytes) is said
 * when the table or column is made. */
static void log_stored_name(struct table_run *tr, const char *name, int is_table)
{
    char stored[512];
    if (tr->dops->stored_name && tr->dops->stored_name(name, is_table, stored, sizeof stored))
        ddl_note(tr, "%s \"%s\" is stored as \"%s\" (%s keeps names this long only cut,"
                 " so sluice cuts them alike every time)", is_table ? "table" : "column", name,
                 stored, tr->dops->kind);
}

static void log_stored_names(struct table_run *tr, const struct sl_schema *s)
{
    log_stored_name(tr, tr->t->name, 1);
    for (size_t i = 0; i < s->ncols; i++)
        log_stored_name(tr, s->cols[i].name, 0);
}

/* A column of the data named like sluice's own (destination.h): the batch
 * fails naming the drop and the column, on either warehouse alike. */
static int reserved_column(const struct sl_batch_input *b, const char *name, size_t n,
                           struct sl_err *err)
{
    char *c = sl_strndup(name, n);
    int rc = 0;
    if (!c)
        return sl_err_set(err, SL_E_NOMEM, "out of memory");
    if (sl_reserved_column(c))
        rc = sl_err_set(err, SL_E_INPUT, "%s: column \"%s\" is reserved: %s", b->ref, c,
                        SL_RESERVED_COLUMN_WHY);
    sl_free(c);
    return rc;
}

/* A log record the reader refused (b->unparsed): the passes that only look
 * at the drop go past it; the load sets it aside. */
static int skip_unparsed(const struct sl_batch_input *b, struct sl_rowsrc *rs,
                         struct sl_err *err)
{
    const char *t;
    size_t n;
    long line, index;
    if (!b->unparsed || err->code != SL_E_INPUT || !sl_rowsrc_raw(rs, &t, &n, &line, &index))
        return 0;
    sl_err_clear(err);
    return 1;
}

/* A pass over batch b's records, as the engine sees them: protected columns
 * (protect:) protected as each record is read, before anything else sees
 * it, whatever the source (a batch whose values are protected already
 * excepted: an event source's). Every pass the engine makes goes through
 * here. */
static int open_rows(struct table_run *tr, struct sl_batch_input *b, struct sl_rowsrc *rs,
                     struct sl_err *err)
{
    if (tr->sops->open_rows(tr->src, b, rs, err) < 0)
        return -1;
    if (!b->protected_already)
        sl_rowsrc_protect(rs, tr->p, tr->t);
    return 0;
}

/* Read the whole drop once to learn its columns and their types: a new
 * table's types come from every value, not a sample, so a later row cannot
 * break them. A column its header names but no row fills (a header-only
 * drop) is there too, with nothing seen: text unless declared. *nrec = the
 * records read. Memory: one sl_infer per column. */
static int infer_columns(struct table_run *tr, struct sl_batch_input *b,
                         struct infer_col **out, size_t *nout, long *nrec, struct sl_err *err)
{
    struct sl_rowsrc rs = {0};
    struct sl_record rec;
    struct colmap map = {0};
    struct infer_col *cols = NULL;
    size_t ncols = 0;
    int rc;

    *nrec = 0;

    struct sl_progress pg;
    if (open_rows(tr, b, &rs, err) < 0)
        return -1;
    sl_report_progress_begin(&pg, tr->p->name, tr->t->name, b->ref, "reading types", b->bytes, rs.st);
    int header = 0;     /* the pass over the header's names, after the last record */
    for (;;) {
        if (!header) {
            rc = sl_rowsrc_next(&rs, &rec, err);
            if (rc < 0 && skip_unparsed(b, &rs, err))
                continue;
            if (rc < 0)
                break;
            if (rc == 0) {
                const struct sl_field *names;
                rec.nfields = sl_rowsrc_columns(&rs, &names);
                rec.fields = (struct sl_field *)names;
                header = 1;
            } else {
                sl_report_progress_row(&pg);
                ++*nrec;
            }
        }
        for (size_t i = 0; i < rec.nfields; i++) {
            const struct sl_field *f = &rec.fields[i];
            long idx = colmap_get(&map, f->name, f->name_len);
            if (idx < 0) {
                if (reserved_column(b, f->name, f->name_len, err) < 0) {
                    rc = -1;
                    break;
                }
                struct infer_col *nc = sl_realloc(cols, (ncols + 1) * sizeof *nc);
                if (!nc)
                    goto oom;
                cols = nc;
                cols[ncols].name = sl_strndup(f->name, f->name_len);
                if (!cols[ncols].name)
                    goto oom;
                sl_infer_init(&cols[ncols].inf);
                cols[ncols].hint = f->type;
                /* rebuild on growth: names moved with realloc of cols? no,
                 * names are separate allocations and stay put */
                if (colmap_put(&map, cols[ncols].name, f->name_len, (long)ncols, ncols) < 0)
                    goto oom;
                idx = (long)ncols++;
            }
            if (!header)
                sl_infer_add(&cols[idx].inf, f->val, f->len, f->lex, f->is_null);
        }
        if (header || rc < 0)
            break;
    }
    sl_report_progress_end(&pg);
    sl_rowsrc_close(&rs);
    colmap_free(&map);
    if (rc < 0) {
        for (size_t i = 0; i < ncols; i++)
            sl_free(cols[i].name);
        sl_free(cols);
        return -1;
    }
    *out = cols;
    *nout = ncols;
    return 0;
oom:
    sl_report_progress_end(&pg);
    sl_rowsrc_close(&rs);
    colmap_free(&map);
    for (size_t i = 0; i < ncols; i++)
        sl_free(cols[i].name);
    sl_free(cols);
    return sl_err_set(err, SL_E_NOMEM, "out of memory inferring columns");
}

static enum sl_type column_type(const struct sl_table_cfg *t, const struct infer_col *c)
{
    const struct sl_column_cfg *d = declared(t, c->name, strlen(c->name));
    if (d)
        return d->type;
    if (sl_protect_find(t, c->name, strlen(c->name)))
        return SL_T_TEXT;       /* a hash or a mask, whatever it looks like */
    return c->inf.nonnull == 0 && c->hint != SL_T_NONE ? c->hint : sl_infer_result(&c->inf);
}

/* Make the table exist with every column the drop brings (invariant: new
 * columns are added, never silently dropped). `target` gets the full list. */
static int strlist_add(struct sl_strlist *l, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static int strlist_add(struct sl_strlist *l, const char *fmt, ...)
{
    struct sl_buf b;
    va_list ap;
    sl_buf_init(&b);
    va_start(ap, fmt);
    sl_buf_vprintf(&b, fmt, ap);
    va_end(ap);
    char **items = b.oom ? NULL : sl_realloc(l->items, (l->n + 1) * sizeof *items);
    if (!items) {
        sl_buf_free(&b);
        return -1;
    }
    l->items = items;
    l->items[l->n++] = sl_buf_steal(&b);
    return 0;
}

static void diff_free(struct sl_schema_diff *d)
{
    sl_strlist_free(&d->added);
    sl_strlist_free(&d->missing);
    sl_strlist_free(&d->changed);
}

static int has_gate(const struct sl_table_cfg *t, const char *name)
{
    for (size_t g = 0; g < t->ngates; g++)
        if (strcmp(t->gates[g].ops->name, name) == 0)
            return 1;
    return 0;
}

static int own_column(const char *name)
{
    return strncmp(name, "_sluice_", 8) == 0;
}

/* Would the values seen for a column still load as the table's type? */
static int still_fits(enum sl_type table_type, const struct sl_infer *inf,
                      const struct sl_valctx *v)
{
    if (inf->nonnull == 0 || table_type == SL_T_TEXT || table_type == SL_T_JSON)
        return 1;
    if (inf->cand & (1u << table_type))
        return 1;
    /* epoch numbers load into timestamptz when an epoch unit is allowed */
    if (table_type == SL_T_TIMESTAMPTZ && v->epoch_unit != SL_EPOCH_NONE &&
        (inf->cand & ((1u << SL_T_BIGINT) | (1u << SL_T_DOUBLE))))
        return 1;
    /* integers load into numeric and double columns */
    if ((table_type == SL_T_NUMERIC || table_type == SL_T_DOUBLE) &&
        (inf->cand & ((1u << SL_T_BIGINT) | (1u << SL_T_NUMERIC) | (1u << SL_T_DOUBLE))))
        return 1;
    return 0;
}

/* Would values of source type `src` load into a column of type `table`? */
static int type_fits(enum sl_type table, enum sl_type src)
{
    return table == src || table == SL_T_TEXT ||
           ((table == SL_T_NUMERIC || table == SL_T_DOUBLE) &&
            (src == SL_T_BIGINT || src == SL_T_NUMERIC || src == SL_T_DOUBLE));
}

/* A source that knows its columns and their types (a database) declares
 * them, so no pass over the rows is needed. Columns declared in the config
 * keep their type. A column the source gained is added (the schema gate
 * judges it); one it lost stays in the table, NULL in new rows, with a
 * warning once a run. */
static int prepare_declared(struct table_run *tr, struct sl_batch_input *b,
                            struct sl_schema *target, struct sl_schema_diff *diff,
                            struct sl_err *err)
{
    const struct sl_table_cfg *t = tr->t;
    struct sl_schema *src = &tr->src_schema;
    int rc = 0;

    sl_schema_free(src);
    if (tr->sops->schema(tr->src, b, src, err) < 0)
        return -1;
    sl_protect_schema(t, src);     /* what the table stores of them */
    for (size_t i = 0; i < src->ncols; i++)
        if (!(t->kind == SL_KIND_CDC && strcmp(src->cols[i].name, SL_DELETED_AT_COL) == 0) &&
            reserved_column(b, src->cols[i].name, strlen(src->cols[i].name), err) < 0)
            return -1;
    int exists = tr->dops->describe(tr->dest, t->name, target, err);
    if (exists < 0)
        return -1;
    diff->table_existed = exists;
    if (!exists) {
        struct sl_schema s = {0};
        for (size_t i = 0; i < t->ncolumns && rc == 0; i++)
            rc = sl_schema_add(&s, t->columns[i].name, t->columns[i].type);
        for (size_t i = 0; i < src->ncols && rc == 0; i++)
            if (sl_schema_find(&s, src->cols[i].name) < 0)
                rc = sl_schema_add(&s, src->cols[i].name, src->cols[i].type);
        if (rc < 0)
            rc = sl_err_set(err, SL_E_NOMEM, "out of memory");
        for (size_t k = 0; k < t->primary_key.n && rc == 0; k++)
            if (sl_schema_find(&s, t->primary_key.items[k]) < 0)
                rc = sl_err_set(err, SL_E_INPUT, "%s: primary key column \"%s\" is not a"
                                " column of the source", b->ref, t->primary_key.items[k]);
        if (rc == 0 && t->version_key && sl_schema_find(&s, t->version_key) < 0)
            rc = sl_err_set(err, SL_E_INPUT, "%s: version key column \"%s\" is not a column"
                            " of the source", b->ref, t->version_key);
        if (rc == 0)
            rc = tr->dops->create_table(tr->dest, t->name, &s,
                                        (const char *const *)t->primary_key.items,
                                        t->primary_key.n, err);
        if (rc == 0) {
            sl_schema_free(target);
            *target = s;
            ddl_note(tr, "created table with %zu columns", target->ncols);
            log_stored_names(tr, target);
        } else {
            sl_schema_free(&s);
        }
        return rc;
    }
    for (size_t i = 0; i < src->ncols && rc == 0; i++) {
        const struct sl_column *c = &src->cols[i];
        const struct sl_column_cfg *d = declared(t, c->name, strlen(c->name));
        long j = sl_schema_find(target, c->name);
        if (j < 0) {
            struct sl_column nc = {c->name, d ? d->type : c->type};
            rc = strlist_add(&diff->added, "%s", c->name) < 0
                     ? sl_err_set(err, SL_E_NOMEM, "out of memory")
                     : tr->dops->add_column(tr->dest, t->name, &nc, err);
            if (rc == 0)
                rc = sl_schema_add(target, nc.name, nc.type) < 0
                         ? sl_err_set(err, SL_E_NOMEM, "out of memory") : 0;
            if (rc == 0) {
                ddl_note(tr, "added column \"%s\" (%s), new in the source", nc.name,
                         sl_type_name(nc.type));
                log_stored_name(tr, nc.name, 0);
            }
        } else if (!d && !type_fits(target->cols[j].type, c->type) &&
                   strlist_add(&diff->changed, "%s: %s -> %s", c->name,
                               sl_type_name(target->cols[j].type), sl_type_name(c->type)) < 0) {
            rc = sl_err_set(err, SL_E_NOMEM, "out of memory");
        }
    }
    for (size_t j = 0; j < target->ncols && rc == 0; j++) {
        const char *cn = target->cols[j].name;
        if (own_column(cn) || sl_schema_find(src, cn) >= 0)
            continue;
        if (strlist_add(&diff->missing, "%s", cn) < 0)
            rc = sl_err_set(err, SL_E_NOMEM, "out of memory");
        else if (!tr->warned_missing)
            sl_log(SL_LOG_WARN, &tr->log, "column \"%s\" is no longer in the source: new rows"
                   " leave it NULL", cn);
    }
    if (diff->missing.n)
        tr->warned_missing = 1;
    return rc;
}

static void infer_cols_free(struct infer_col *cols, size_t ncols)
{
    for (size_t i = 0; i < ncols; i++)
        sl_free(cols[i].name);
    sl_free(cols);
}

static int names_field(const char *name, const struct sl_record *rec)
{
    for (size_t i = 0; i < rec->nfields; i++)
        if (strlen(name) == rec->fields[i].name_len &&
            memcmp(name, rec->fields[i].name, rec->fields[i].name_len) == 0)
            return 1;
    return 0;
}

/* A header-based drop on an existing table only needs a pass of its own
 * when its first record names a column the table lacks, or when a schema
 * gate wants to know whether the values still fit their columns: *need = 1
 * then. Else the table's columns the record does not name are missing. */
static int first_record_fits(struct table_run *tr, struct sl_batch_input *b,
                             const struct sl_schema *target, struct sl_schema_diff *diff,
                             int *need, struct sl_err *err)
{
    struct sl_rowsrc rs = {0};
    struct sl_record rec;
    if (open_rows(tr, b, &rs, err) < 0)
        return -1;
    int rc;
    while ((rc = sl_rowsrc_next(&rs, &rec, err)) < 0 && skip_unparsed(b, &rs, err))
        ;
    if (rc == 0) {
        /* no record: a header-only drop still names its columns */
        const struct sl_field *names;
        rec.nfields = sl_rowsrc_columns(&rs, &names);
        rec.fields = (struct sl_field *)names;
        rc = rec.nfields > 0;
    }
    for (size_t i = 0; rc == 1 && i < rec.nfields; i++)
        if (reserved_column(b, rec.fields[i].name, rec.fields[i].name_len, err) < 0)
            rc = -1;
    if (rc == 1) {
        for (size_t i = 0; i < rec.nfields && !*need; i++)
            *need = sl_schema_find_n(target, rec.fields[i].name, rec.fields[i].name_len) < 0;
        /* records without a fixed header may bring new keys later */
        if (strcmp(rs.fmt->name, "jsonl") == 0)
            *need = 1;
        for (size_t j = 0; !*need && j < target->ncols && rc == 1; j++) {
            const char *cn = target->cols[j].name;
            if (!own_column(cn) && !names_field(cn, &rec) &&
                strlist_add(&diff->missing, "%s", cn) < 0)
                rc = sl_err_set(err, SL_E_NOMEM, "out of memory");
        }
    }
    sl_rowsrc_close(&rs);
    return rc < 0 ? -1 : 0;
}

/* What the whole drop's columns say of the table's: columns it lacks
 * (missing), values that no longer fit their column (changed), columns the
 * table lacks (added). */
static int diff_columns(const struct sl_schema *target, int exists, const struct infer_col *cols,
                        size_t ncols, const struct sl_valctx *vctx, struct sl_schema_diff *diff,
                        struct sl_err *err)
{
    for (size_t j = 0; exists && j < target->ncols; j++) {
        const char *cn = target->cols[j].name;
        size_t i = 0;
        while (i < ncols && strcmp(cols[i].name, cn) != 0)
            i++;
        if (i == ncols) {
            if (!own_column(cn) && strlist_add(&diff->missing, "%s", cn) < 0)
                return sl_err_set(err, SL_E_NOMEM, "out of memory");
        } else if (!still_fits(target->cols[j].type, &cols[i].inf, vctx) &&
                   strlist_add(&diff->changed, "%s: %s -> %s", cn,
                               sl_type_name(target->cols[j].type),
                               sl_type_name(sl_infer_result(&cols[i].inf))) < 0) {
            return sl_err_set(err, SL_E_NOMEM, "out of memory");
        }
    }
    for (size_t i = 0; i < ncols; i++)
        if (sl_schema_find(target, cols[i].name) < 0 &&
            strlist_add(&diff->added, "%s", cols[i].name) < 0)
            return sl_err_set(err, SL_E_NOMEM, "out of memory");
    return 0;
}

/* A new table: declared columns first, in declaration order, then the
 * drop's; its keys must be among them. On success *target is its schema. */
static int create_from_drop(struct table_run *tr, const struct sl_batch_input *b,
                            const struct infer_col *cols, size_t ncols, long nrec,
                            struct sl_schema *target, struct sl_err *err)
{
    const struct sl_table_cfg *t = tr->t;
    struct sl_schema s = {0};
    int rc = 0;
    for (size_t i = 0; i < t->ncolumns && rc == 0; i++)
        rc = sl_schema_add(&s, t->columns[i].name, t->columns[i].type);
    for (size_t i = 0; i < ncols && rc == 0; i++)
        if (sl_schema_find(&s, cols[i].name) < 0)
            rc = sl_schema_add(&s, cols[i].name, column_type(t, &cols[i]));
    if (rc < 0)
        rc = sl_err_set(err, SL_E_NOMEM, "out of memory");
    for (size_t k = 0; k < t->primary_key.n && rc == 0; k++)
        if (sl_schema_find(&s, t->primary_key.items[k]) < 0)
            rc = sl_err_set(err, SL_E_INPUT, "%s: primary key column \"%s\" is not in the drop"
                            " and not declared in columns", b->ref, t->primary_key.items[k]);
    if (rc == 0 && t->version_key && sl_schema_find(&s, t->version_key) < 0)
        rc = sl_err_set(err, SL_E_INPUT, "%s: version key column \"%s\" is not in the drop"
                        " and not declared in columns", b->ref, t->version_key);
    if (rc == 0 && s.ncols == 0 && nrec == 0)
        rc = sl_err_set(err, SL_E_INPUT,
                        "%s: the file is empty (no header, no rows): there are no"
                        " columns to create table \"%s\" from; declare them under the"
                        " table's columns: in the config, or drop a file that names them",
                        b->ref, t->name);
    else if (rc == 0 && s.ncols == 0)
        rc = sl_err_set(err, SL_E_INPUT, "%s: the drop has no columns and the table declares none",
                        b->ref);
    if (rc == 0)
        rc = tr->dops->create_table(tr->dest, t->name, &s,
                                    (const char *const *)t->primary_key.items, t->primary_key.n,
                                    err);
    if (rc == 0) {
        sl_schema_free(target);
        *target = s;
        ddl_note(tr, "created table with %zu columns", target->ncols);
        log_stored_names(tr, target);
        return 0;
    }
    sl_schema_free(&s);
    return -1;
}

/* The drop's columns the table lacks, added to it (and to *target). */
static int add_new_columns(struct table_run *tr, const struct sl_batch_input *b,
                           const struct infer_col *cols, size_t ncols,
                           struct sl_schema *target, struct sl_err *err)
{
    for (size_t i = 0; i < ncols; i++) {
        if (sl_schema_find(target, cols[i].name) >= 0)
            continue;
        struct sl_column c = {cols[i].name, column_type(tr->t, &cols[i])};
        if (tr->dops->add_column(tr->dest, tr->t->name, &c, err) < 0)
            return -1;
        if (sl_schema_add(target, c.name, c.type) < 0)
            return sl_err_set(err, SL_E_NOMEM, "out of memory");
        ddl_note(tr, "added column \"%s\" (%s) from %s", c.name, sl_type_name(c.type), b->ref);
        log_stored_name(tr, c.name, 0);
    }
    return 0;
}

/* The table made ready for batch b: *target its columns, *diff how the
 * drop's columns differ from them. A source that declares its schema
 * (a database) is matched as declared; a drop is looked at first (its
 * header), read whole for its types when it must be (a new table, a new
 * column, a schema gate), then the table is created or its new columns
 * added, in the batch's transaction. */
static int prepare_table(struct table_run *tr, struct sl_batch_input *b,
                         struct sl_schema *target, struct sl_schema_diff *diff,
                         const struct sl_valctx *vctx, struct sl_err *err)
{
    if (tr->sops->schema)
        return prepare_declared(tr, b, target, diff, err);
    int exists = tr->dops->describe(tr->dest, tr->t->name, target, err);
    if (exists < 0)
        return -1;
    diff->table_existed = exists;
    int need = !exists || has_gate(tr->t, "schema");
    if (exists && first_record_fits(tr, b, target, diff, &need, err) < 0)
        return -1;
    if (!need)
        return 0;

    struct infer_col *cols = NULL;
    size_t ncols = 0;
    long nrec = 0;
    if (infer_columns(tr, b, &cols, &ncols, &nrec, err) < 0)
        return -1;
    int rc = diff_columns(target, exists, cols, ncols, vctx, diff, err);
    if (rc == 0)
        rc = exists ? add_new_columns(tr, b, cols, ncols, target, err)
                    : create_from_drop(tr, b, cols, ncols, nrec, target, err);
    infer_cols_free(cols, ncols);
    return rc;
}

/* A table that was there before this batch: each declared column must
 * still take its values, and the destination makes the table fit to load:
 * one someone else made is adopted, and the key a merge needs must be one
 * of the table's keys. */
static int fit_table(struct table_run *tr, const struct sl_batch_input *b,
                     const struct sl_schema *target, struct sl_err *err)
{
    const struct sl_table_cfg *t = tr->t;
    for (size_t i = 0; i < t->ncolumns; i++) {
        const struct sl_column_cfg *c = &t->columns[i];
        long j = sl_schema_find(target, c->name);
        if (j >= 0 && !type_fits(target->cols[j].type, c->type))
            return sl_err_set(err, SL_E_DEST,
                              "table \"%s\": column \"%s\" is %s in the warehouse but declared"
                              " %s in the config, and %s values do not load into a %s column:"
                              " declare it %s in columns, or change the table's column to %s",
                              t->name, c->name, sl_type_name(target->cols[j].type),
                              sl_type_name(c->type), sl_type_name(c->type),
                              sl_type_name(target->cols[j].type),
                              sl_type_name(target->cols[j].type), sl_type_name(c->type));
    }
    if (!tr->dops->fit_table)
        return 0;
    enum sl_load_mode m = load_mode(t, b);
    int merges = m == SL_LOAD_VERSIONED || m == SL_LOAD_UPSERT || t->kind == SL_KIND_CDC ||
                 (m == SL_LOAD_APPEND && b->events);
    int adopted = 0;
    if (tr->dops->fit_table(tr->dest, t->name, (const char *const *)t->primary_key.items,
                            merges ? t->primary_key.n : 0, &adopted, err) < 0)
        return -1;
    if (adopted)
        ddl_note(tr, "adopted table \"%s\" (added _sluice_batch)", t->name);
    return 0;
}

/* Quote a value for an error message, cut to a readable length. */
static void excerpt(char *out, size_t cap, const char *s, size_t n)
{
    size_t max = 40;
    if (n > max)
        snprintf(out, cap, "\"%.*s...\"", (int)max, s);
    else
        snprintf(out, cap, "\"%.*s\"", (int)n, s);
}

struct gate_state {
    const struct sl_gate_ops *ops;
    struct sl_gate_run *run;
};

/* Event sources: records set aside while the rows stream. The COPY is under
 * way then, so they go to the dead letter table after load_end, in the same
 * transaction: each event of the batch is loaded or dead-lettered, never
 * neither and never both. Replayed events that load are marked there too. */
struct rejects {
    struct rejected { long index; char *why; } *r;
    size_t n, cap;
    int64_t *replayed;      /* dead letter rows whose events loaded */
    size_t nrep, caprep;
};

static void rejects_free(struct rejects *rj)
{
    for (size_t i = 0; i < rj->n; i++)
        sl_free(rj->r[i].why);
    sl_free(rj->r);
    sl_free(rj->replayed);
    memset(rj, 0, sizeof *rj);
}

/* The engine's messages name "ref:line:col: " of the flattened row, which
 * means nothing to whoever sent the event: keep what follows. */
static int reject_add(struct rejects *rj, const char *ref, long index, const char *msg)
{
    size_t n = strlen(ref);
    if (strncmp(msg, ref, n) == 0 && msg[n] == ':') {
        const char *m = msg + n;
        while (*m == ':' || (*m >= '0' && *m <= '9'))
            m++;
        if (*m == ' ')
            msg = m + 1;
    }
    if (rj->n == rj->cap) {
        size_t cap = rj->cap ? rj->cap * 2 : 16;
        struct rejected *r = sl_realloc(rj->r, cap * sizeof *r);
        if (!r)
            return -1;
        rj->r = r;
        rj->cap = cap;
    }
    if (!(rj->r[rj->n].why = sl_strdup(msg)))
        return -1;
    rj->r[rj->n++].index = index;
    return 0;
}

static int replayed_add(struct rejects *rj, int64_t id)
{
    if (rj->nrep == rj->caprep) {
        size_t cap = rj->caprep ? rj->caprep * 2 : 64;
        int64_t *r = sl_realloc(rj->replayed, cap * sizeof *r);
        if (!r)
            return -1;
        rj->replayed = r;
        rj->caprep = cap;
    }
    rj->replayed[rj->nrep++] = id;
    return 0;
}

static int rejects_write(struct table_run *tr, struct sl_batch_input *b, const struct rejects *rj,
                         int64_t batch_id, struct sl_err *err)
{
    for (size_t i = 0; i < rj->n; i++) {
        struct sl_event_info ev = {0};
        if (tr->sops->event(tr->src, b, rj->r[i].index, &ev) < 0)
            return sl_err_set(err, SL_E_INTERNAL, "%s: the source has no event %ld", b->ref,
                              rj->r[i].index);
        int rc;
        const char *why = ev.error ? ev.error : rj->r[i].why;
        if (ev.replay_of) {
            rc = sl_deadletter_refail(tr->dops, tr->dest, ev.replay_of, why, batch_id, err);
        } else {
            struct sl_dead_letter dl = {tr->p->name, tr->t->name, ev.event_id, why,
                                        ev.payload, ev.len, ev.received_at, batch_id, NULL};
            rc = sl_deadletter_put(tr->dops, tr->dest, &dl, err);
        }
        if (rc < 0)
            return -1;
    }
    for (size_t i = 0; i < rj->nrep; i++)
        if (sl_deadletter_replayed(tr->dops, tr->dest, rj->replayed[i], batch_id, err) < 0)
            return -1;
    return 0;
}

/* Log drops (b->unparsed): records the reader refused, or whose values do
 * not fit their columns, go to the dead letter table after load_end in the
 * batch's transaction, like an event source's bad events, with file:line
 * and their text. They are spilled to an unlinked temporary file as they
 * come, so memory stays bounded however many a drop has
 * (docs/invariants.md #4). */
struct unparsed {
    FILE *f;
    int64_t n;
};

static void unparsed_free(struct unparsed *u)
{
    if (u->f)
        fclose(u->f);
    memset(u, 0, sizeof *u);
}

static int spill(FILE *f, const void *p, size_t n)
{
    uint64_t len = n;
    return fwrite(&len, sizeof len, 1, f) == 1 && (n == 0 || fwrite(p, 1, n, f) == n) ? 0 : -1;
}

static int unparsed_add(struct unparsed *u, const struct sl_table_cfg *t,
                        const struct sl_batch_input *b, long line, long index, const char *why,
                        const char *text, size_t len, struct sl_err *err)
{
    int64_t l[2] = {line, index};
    if (t->nprotect) {
        /* the raw line holds the raw values of protected columns, and so may
         * the reader's words about it: neither leaves the drop */
        why = "the record was set aside; its text and the reason are not kept, because"
              " the table has protected columns: see this line of the drop";
        text = "";
        len = 0;
    }
    if (!u->f && !(u->f = tmpfile()))
        return sl_err_set(err, SL_E_IO, "%s: could not make a temporary file for its unparsed"
                          " records: %s", b->ref, strerror(errno));
    if (fwrite(l, sizeof l, 1, u->f) != 1 || spill(u->f, why, strlen(why)) < 0 ||
        spill(u->f, text, len) < 0)
        return sl_err_set(err, SL_E_IO, "%s: could not keep its unparsed records in a"
                          " temporary file: %s", b->ref, strerror(errno));
    u->n++;
    return 0;
}

static char *unspill(FILE *f, size_t *n)
{
    uint64_t len;
    if (fread(&len, sizeof len, 1, f) != 1 || len > SIZE_MAX - 1)
        return NULL;
    char *p = sl_malloc((size_t)len + 1);
    if (p && len && fread(p, 1, (size_t)len, f) != len) {
        sl_free(p);
        return NULL;
    }
    if (p)
        p[len] = '\0';
    *n = (size_t)len;
    return p;
}

static int unparsed_write(struct table_run *tr, struct sl_batch_input *b, struct unparsed *u,
                          int64_t batch_id, struct sl_err *err)
{
    char now[32];
    if (!u->n)
        return 0;
    if (fflush(u->f) != 0 || fseek(u->f, 0, SEEK_SET) != 0)
        return sl_err_set(err, SL_E_IO, "%s: could not read back its unparsed records: %s",
                          b->ref, strerror(errno));
    /* when the records came: the drop's modification time */
    sl_time_format(b->mtime ? b->mtime * 1000000 : sl_time_now(), now);
    for (int64_t i = 0; i < u->n; i++) {
        int64_t l[2];
        size_t wn = 0, tn = 0;
        char *why = NULL, *text = NULL;
        struct sl_buf id, dedupe;
        struct sl_event_info ev = {0};
        sl_buf_init(&id);
        sl_buf_init(&dedupe);
        int ok = fread(l, sizeof l, 1, u->f) == 1 && (why = unspill(u->f, &wn)) &&
                 (text = unspill(u->f, &tn));
        int64_t line = ok ? l[0] : 0;
        int rc = 0;
        if (!ok) {
            rc = sl_err_set(err, SL_E_IO, "%s: could not read back its unparsed records",
                            b->ref);
        } else if (b->replay) {
            /* read again by `sluice replay` and still refused: its row keeps it */
            if (!tr->sops->event || tr->sops->event(tr->src, b, (long)l[1], &ev) < 0 ||
                !ev.replay_of)
                rc = sl_err_set(err, SL_E_INTERNAL, "%s: the source has no record %" PRId64,
                                b->ref, l[1]);
            else
                rc = sl_deadletter_refail(tr->dops, tr->dest, ev.replay_of, why, batch_id, err);
        } else {
            /* the drop's content and the line name it: the same drop loaded
             * again (a retry) sets it aside once; another with the same
             * name and line is another record */
            sl_buf_printf(&id, "%s:%" PRId64, b->ref, line);
            sl_buf_printf(&dedupe, "f:%s:%" PRId64, b->hash[0] ? b->hash : b->ref, line);
            if (id.oom || dedupe.oom) {
                rc = sl_err_set(err, SL_E_NOMEM, "out of memory");
            } else {
                struct sl_dead_letter dl = {tr->p->name, tr->t->name, id.data, why, text, tn,
                                            now, batch_id, dedupe.data};
                rc = sl_deadletter_put(tr->dops, tr->dest, &dl, err);
            }
        }
        sl_free(why);
        sl_free(text);
        sl_buf_free(&id);
        sl_buf_free(&dedupe);
        if (rc < 0)
            return -1;
    }
    return 0;
}

enum attempt_result { ATT_COMMITTED, ATT_DUPLICATE, ATT_FAILED, ATT_QUARANTINED, ATT_CHANGED };

struct attempt {
    enum attempt_result result;
    int64_t batch_id;
    struct sl_load_result res;
    char *report;           /* gate report JSON, for the ledger and alerts */
    char *summary;          /* quarantined: one line naming the failed gates; changed:
                             * how the source says its input changed */
};

static void attempt_clear(struct attempt *a)
{
    sl_free(a->report);
    sl_free(a->summary);
    memset(a, 0, sizeof *a);
}

/* One attempt's state, from BEGIN to COMMIT or ROLLBACK. */
struct attempt_run {
    struct table_run *tr;
    struct sl_batch_input *b;
    struct attempt *at;
    struct sl_schema target;        /* the table's columns once prepared */
    struct sl_schema load;          /* a cdc load's: target's and the change's columns */
    struct sl_schema_diff diff;
    struct sl_valctx vctx;          /* how values are read */
    struct gate_state *gates;
    size_t ngates;
    struct sl_gate_env env;
    struct sl_buf report, failed;   /* the gates' verdicts */
    enum sl_verdict verdict;
    int64_t batch_id;
};

/* One batch's rows on their way into the destination: each record's fields
 * mapped to the table's columns and made canonical, keys checked, gates
 * shown the row, the row loaded; an event source's bad events set aside. */
struct row_stream {
    struct attempt_run *x;
    const struct sl_schema *target;
    size_t n;                   /* target->ncols */
    struct sl_cell *cells;      /* the row as loaded */
    struct sl_cell *raw;        /* the row as read (gates see both) */
    size_t *off;                /* per column: offset of its canonical value in vals */
    struct sl_buf vals;         /* this row's canonical values */
    unsigned char *canon;       /* columns the source hands over canonical already */
    struct colmap map;
    const char **pos_name;      /* per field position: the name seen last time */
    long *pos_idx;
    size_t npos;
    long *pk_idx;
    long version_idx;
    struct rejects rj;
    struct unparsed up;
};

static void row_stream_free(struct row_stream *rs)
{
    rejects_free(&rs->rj);
    unparsed_free(&rs->up);
    colmap_free(&rs->map);
    sl_buf_free(&rs->vals);
    sl_free(rs->cells);
    sl_free(rs->raw);
    sl_free(rs->off);
    sl_free(rs->pos_name);
    sl_free(rs->pos_idx);
    sl_free(rs->pk_idx);
    sl_free(rs->canon);
}

static int row_stream_init(struct row_stream *rs, struct attempt_run *x,
                           const struct sl_schema *row, struct sl_err *err)
{
    const struct sl_table_cfg *t = x->tr->t;
    memset(rs, 0, sizeof *rs);
    rs->x = x;
    rs->target = row;
    rs->n = row->ncols;
    sl_buf_init(&rs->vals);
    rs->cells = sl_calloc(rs->n, sizeof *rs->cells);
    rs->raw = sl_calloc(rs->n, sizeof *rs->raw);
    rs->off = sl_calloc(rs->n, sizeof *rs->off);
    rs->pk_idx = sl_calloc(t->primary_key.n + 1, sizeof *rs->pk_idx);
    rs->canon = sl_calloc(rs->n + 1, 1);
    if (!rs->cells || !rs->raw || !rs->off || !rs->pk_idx || !rs->canon ||
        colmap_build(&rs->map, rs->target) < 0)
        return sl_err_set(err, SL_E_NOMEM, "out of memory");
    for (size_t k = 0; k < t->primary_key.n; k++)
        rs->pk_idx[k] = sl_schema_find(rs->target, t->primary_key.items[k]);
    rs->version_idx = t->version_key ? sl_schema_find(rs->target, t->version_key) : -1;
    for (size_t i = 0; x->b->canonical && i < rs->n; i++) {
        long j = sl_schema_find(&x->tr->src_schema, rs->target->cols[i].name);
        rs->canon[i] = j >= 0 && x->tr->src_schema.cols[j].type == rs->target->cols[i].type;
    }
    return 0;
}

/* The column of field i of rec: CSV hands the same header names every
 * record, so the lookup is made once per position and name. */
static long field_column(struct row_stream *rs, const struct sl_record *rec, size_t i,
                         struct sl_err *err)
{
    const struct sl_field *f = &rec->fields[i];
    if (rec->nfields > rs->npos) {
        const char **pn = sl_realloc(rs->pos_name, rec->nfields * sizeof *pn);
        long *pi = pn ? sl_realloc(rs->pos_idx, rec->nfields * sizeof *pi) : NULL;
        if (pn)
            rs->pos_name = pn;
        if (!pi)
            return sl_err_set(err, SL_E_NOMEM, "out of memory") - 1;
        rs->pos_idx = pi;
        for (size_t k = rs->npos; k < rec->nfields; k++)
            rs->pos_name[k] = NULL;
        rs->npos = rec->nfields;
    }
    if (rs->pos_name[i] != f->name) {
        rs->pos_idx[i] = colmap_get(&rs->map, f->name, f->name_len);
        rs->pos_name[i] = f->name;
    }
    return rs->pos_idx[i];
}

/* The record's fields as the row's cells, each value made canonical for
 * its column's type. 0 = the row, 1 = the record is bad (err says where),
 * -1 = error. */
static int map_fields(struct row_stream *rs, const struct sl_record *rec, struct sl_err *err)
{
    const struct sl_batch_input *b = rs->x->b;
    char why[256], ex[64];

    sl_buf_reset(&rs->vals);
    for (size_t i = 0; i < rs->n; i++) {
        rs->cells[i].null = 1;
        rs->raw[i].null = 1;
        rs->off[i] = (size_t)-1;
    }
    for (size_t i = 0; i < rec->nfields; i++) {
        const struct sl_field *f = &rec->fields[i];
        long idx = field_column(rs, rec, i, err);
        if (idx == -2)
            return -1;
        if (idx < 0) {
            sl_err_set(err, SL_E_INPUT, "%s:%ld:%ld: column \"%.*s\" is not in table \"%s\"",
                       b->ref, f->line, f->col, (int)f->name_len, f->name, rs->x->tr->t->name);
            return 1;
        }
        rs->raw[idx] = (struct sl_cell){f->val, f->len, f->is_null};
        if (f->is_null)
            continue;
        enum sl_type ty = rs->target->cols[idx].type;
        if (ty == SL_T_TEXT || rs->canon[idx]) {
            /* readers hand out valid UTF-8 without NUL: no copy */
            rs->cells[idx] = (struct sl_cell){f->val, f->len, 0};
            continue;
        }
        size_t start = rs->vals.len;
        int c = sl_value_canon(ty, f->val, f->len, f->lex, &rs->x->vctx, &rs->vals, why,
                               sizeof why);
        if (c < 0) {
            excerpt(ex, sizeof ex, f->val, f->len);
            sl_err_set(err, SL_E_INPUT, "%s:%ld:%ld: column \"%s\" (%s): %s: %s", b->ref,
                       f->line, f->col, rs->target->cols[idx].name, sl_type_name(ty), why, ex);
            return 1;
        }
        if (c == 0) {
            rs->off[idx] = start;
            rs->cells[idx].n = rs->vals.len - start;
            rs->cells[idx].null = 0;
        }
    }
    if (rs->vals.oom)
        return sl_err_set(err, SL_E_NOMEM, "out of memory");
    for (size_t i = 0; i < rs->n; i++)
        if (rs->off[i] != (size_t)-1)
            rs->cells[i].s = rs->vals.data + rs->off[i];
    return 0;
}

/* The keys a merge needs are there: 0, or 1 with err saying which is empty. */
static int check_keys(struct row_stream *rs, const struct sl_record *rec, struct sl_err *err)
{
    const struct sl_table_cfg *t = rs->x->tr->t;
    for (size_t k = 0; k < t->primary_key.n; k++)
        if (rs->pk_idx[k] < 0 || rs->cells[rs->pk_idx[k]].null) {
            sl_err_set(err, SL_E_INPUT, "%s:%ld: primary key column \"%s\" is empty",
                       rs->x->b->ref, rec->line, t->primary_key.items[k]);
            return 1;
        }
    if (rs->version_idx >= 0 && rs->cells[rs->version_idx].null) {
        sl_err_set(err, SL_E_INPUT, "%s:%ld: version key column \"%s\" is empty",
                   rs->x->b->ref, rec->line, t->version_key);
        return 1;
    }
    return 0;
}

/* An event that breaks a row-level rule goes to the dead letter table:
 * 1 with err saying why, 0 it keeps them, -1 error. */
static int breaks_rules(struct row_stream *rs, struct sl_err *err)
{
    struct attempt_run *x = rs->x;
    char why[256];
    if (!x->b->events)
        return 0;
    for (size_t g = 0; g < x->ngates; g++) {
        int broke = x->gates[g].ops->row_check
                        ? x->gates[g].ops->row_check(x->gates[g].run, rs->cells, why,
                                                     sizeof why, err)
                        : 0;
        if (broke < 0)
            return -1;
        if (broke)
            return sl_err_set(err, SL_E_INPUT, "%s", why), 1;
    }
    return 0;
}

/* The row shown to the gates and loaded; a replayed event's dead letter
 * row remembered, to be marked replayed with the batch. */
static int load_row(struct row_stream *rs, const struct sl_record *rec, struct sl_err *err)
{
    struct attempt_run *x = rs->x;
    struct table_run *tr = x->tr;
    for (size_t g = 0; g < x->ngates; g++)
        if (x->gates[g].ops->row &&
            x->gates[g].ops->row(x->gates[g].run, rs->cells, rs->raw, rec->line, err) < 0)
            return -1;
    if (tr->dops->load_row(tr->dest, rs->cells, err) < 0)
        return -1;
    if (x->b->replay) {
        struct sl_event_info ev = {0};
        if (tr->sops->event(tr->src, x->b, rec->index, &ev) == 0 && ev.replay_of &&
            replayed_add(&rs->rj, ev.replay_of) < 0)
            return sl_err_set(err, SL_E_NOMEM, "out of memory");
    }
    return 0;
}

/* One record: 0 loaded, 1 bad (err says why), -1 error. */
static int stream_record(struct row_stream *rs, const struct sl_record *rec, struct sl_err *err)
{
    int r = map_fields(rs, rec, err);
    if (r == 0)
        r = check_keys(rs, rec, err);
    if (r == 0)
        r = breaks_rules(rs, err);
    if (r == 0)
        r = load_row(rs, rec, err);
    return r;
}

/* Stream the records of the attempt's batch into the destination (load_begin,
 * a load_row per record, load_end). Files fail as a whole at their first
 * bad record; an event source's bad events are set aside for the dead
 * letter table, written after load_end in the batch's transaction
 * (docs/invariants.md #2), and the rest of its batch loads. */
static int stream_rows(struct attempt_run *x, struct sl_err *err)
{
    struct table_run *tr = x->tr;
    struct sl_batch_input *b = x->b;
    const struct sl_table_cfg *t = tr->t;
    struct sl_rowsrc src = {0};
    struct sl_progress pg = {0};
    struct sl_record rec;
    struct row_stream rs;
    long last_index = 0;
    int rc = -1, r;

    tr->dead_lettered = 0;
    struct sl_load ld = {
        .table = t->name, .mode = tr->repair ? SL_LOAD_UPSERT : load_mode(t, b),
        .schema = &x->target, .target = &x->target,
        .pk = (const char *const *)t->primary_key.items, .npk = t->primary_key.n,
        .version_key = t->version_key, .batch_id = x->batch_id,
        .skip_existing = b->events,
    };
    if (ld.mode == SL_LOAD_CDC) {
        /* the change and what it left out travel beside the row */
        if (sl_schema_copy(&x->load, &x->target) < 0 ||
            sl_schema_add(&x->load, SL_CDC_OP_COL, SL_T_TEXT) < 0 ||
            sl_schema_add(&x->load, SL_CDC_UNCHANGED_COL, SL_T_JSON) < 0) {
            sl_err_set(err, SL_E_NOMEM, "out of memory");
            goto done;
        }
        ld.schema = &x->load;
    }
    if (row_stream_init(&rs, x, ld.schema, err) < 0)
        goto done;
    if (b->events && !tr->sops->event) {
        sl_err_set(err, SL_E_INTERNAL, "%s: an events batch from a source without event()",
                   b->ref);
        goto done;
    }
    if (open_rows(tr, b, &src, err) < 0 ||
        tr->dops->load_begin(tr->dest, &ld, err) < 0)
        goto done;      /* an unfinished COPY is ended by the caller's rollback */
    sl_report_progress_begin(&pg, tr->p->name, t->name, b->ref, "loading", b->bytes, src.st);
    while ((r = sl_rowsrc_next(&src, &rec, err)) != 0) {
        const char *text;
        size_t tlen;
        long tline, tindex;
        if (r < 0) {
            /* a log record the reader refused is set aside; it has consumed its lines */
            if (b->unparsed && err->code == SL_E_INPUT &&
                sl_rowsrc_raw(&src, &text, &tlen, &tline, &tindex)) {
                if (unparsed_add(&rs.up, t, b, tline, tindex, err->msg, text, tlen, err) < 0)
                    goto done;
                sl_err_clear(err);
                continue;
            }
            /* an event the reader cannot take has consumed its line */
            if (!b->events || err->code != SL_E_INPUT)
                goto done;
            rec.index = ++last_index;
        } else {
            last_index = rec.index;
            sl_report_progress_row(&pg);
            r = stream_record(&rs, &rec, err);
            if (r > 0 && b->unparsed && err->code == SL_E_INPUT &&
                sl_rowsrc_raw(&src, &text, &tlen, &tline, &tindex)) {
                if (unparsed_add(&rs.up, t, b, tline, tindex, err->msg, text, tlen, err) < 0)
                    goto done;
                sl_err_clear(err);
                continue;
            }
            if (r < 0 || (r > 0 && !b->events))
                goto done;
            if (r == 0)
                continue;
        }
        if (reject_add(&rs.rj, b->ref, rec.index, err->msg) < 0) {
            sl_err_set(err, SL_E_NOMEM, "out of memory");
            goto done;
        }
        sl_err_clear(err);
    }
    if (tr->dops->load_end(tr->dest, &x->at->res, err) < 0)
        goto done;
    if ((rs.rj.n || rs.rj.nrep) && rejects_write(tr, b, &rs.rj, x->batch_id, err) < 0)
        goto done;
    if (unparsed_write(tr, b, &rs.up, x->batch_id, err) < 0)
        goto done;
    tr->dead_lettered = (int64_t)rs.rj.n + rs.up.n;
    rc = 0;
done:
    sl_report_progress_end(&pg);
    sl_rowsrc_close(&src);
    row_stream_free(&rs);
    return rc;
}

/* Finish the gates (all, or only the one named `only`) and build the report.
 * *verdict is the worst verdict; `failed` lists the gates that did not pass. */
static int finish_gates(struct gate_state *gates, size_t ngates, const char *only,
                        const struct sl_gate_env *env, struct sl_buf *report,
                        struct sl_buf *failed, enum sl_verdict *verdict, struct sl_err *err)
{
    *verdict = SL_GATE_PASS;
    sl_buf_putc(report, '{');
    int first = 1;
    for (size_t g = 0; g < ngates; g++) {
        if (only && strcmp(gates[g].ops->name, only) != 0)
            continue;
        struct sl_gate_result gr = {SL_GATE_PASS, NULL};
        if (gates[g].ops->finish(gates[g].run, env, &gr, err) < 0)
            return -1;
        sl_buf_printf(report, "%s\"%s\":%s", first ? "" : ",", gates[g].ops->name,
                      gr.report_json ? gr.report_json : "null");
        first = 0;
        if (gr.verdict != SL_GATE_PASS) {
            sl_buf_printf(failed, "%s%s", failed->len ? ", " : "", gates[g].ops->name);
            if (gr.verdict == SL_GATE_FAIL || *verdict == SL_GATE_PASS)
                *verdict = gr.verdict;
        }
        sl_free(gr.report_json);
    }
    sl_buf_putc(report, '}');
    if (report->oom || failed->oom)
        return sl_err_set(err, SL_E_NOMEM, "out of memory");
    return 0;
}

/* The size gate's history, from the ledger (gates never see the ledger). */
static int ledger_history(void *ctx, const char *table, size_t n, int64_t *rows, int64_t *bytes,
                          size_t *count, struct sl_err *err)
{
    return sl_ledger_history(ctx, table, n, rows, bytes, count, err);
}

static void attempt_run_free(struct attempt_run *x)
{
    for (size_t g = 0; g < x->ngates; g++)
        x->gates[g].ops->free_run(x->gates[g].run);
    sl_free(x->gates);
    sl_schema_free(&x->target);
    sl_schema_free(&x->load);
    diff_free(&x->diff);
    sl_buf_free(&x->report);
    sl_buf_free(&x->failed);
}

/* After a connection lost at COMMIT: did that attempt's COMMIT take? The
 * ledger row commits with the rows (docs/invariants.md #2), so it tells; a
 * batch that took is not loaded again (a source without a content hash
 * would load it twice). 1 = it took, 0 = not (or no such attempt), -1 error. */
static int lost_commit_took(struct table_run *tr, struct sl_batch_input *b, struct attempt *at,
                            struct sl_err *err)
{
    struct sl_rows r;
    int64_t tried = tr->tried_id;
    if (!tried)
        return 0;
    tr->tried_id = 0;
    if (sl_ledger_get(&tr->ledger, tried, tr->p->name, &r, err) < 0)
        return -1;
    int took = r.nrows == 1 && sl_rows_get(&r, 0, 4) &&
               strcmp(sl_rows_get(&r, 0, 4), "committed") == 0;
    sl_rows_free(&r);
    if (took) {
        sl_log(SL_LOG_INFO, &tr->log, "%s: batch %" PRId64 " did commit before its"
               " connection was lost; not loading it again", b->ref, tried);
        at->result = ATT_COMMITTED;
        at->batch_id = tried;
        at->res = tr->tried_res;
    }
    return took;
}

/* The batch that loaded this content already, if its rows are still what
 * the table holds: *dup = its id, 0 = none. A snapshot's content counts only
 * while the table still holds it: not when the table was dropped, or rolled
 * back or restored to another batch since. */
static int loaded_before(struct table_run *tr, const struct sl_batch_input *b, int64_t *dup,
                         struct sl_err *err)
{
    *dup = 0;
    if (!b->hash[0])
        return 0;
    if (sl_ledger_find_file(&tr->ledger, tr->t->name, b->hash, dup, err) < 0)
        return -1;
    if (!*dup || tr->t->kind != SL_KIND_SNAPSHOT)
        return 0;
    struct sl_schema cur = {0};
    int64_t last = 0;
    int there = tr->dops->describe(tr->dest, tr->t->name, &cur, err);
    sl_schema_free(&cur);
    if (there < 0 || (there && sl_ledger_last_loaded(&tr->ledger, tr->t->name, &last, err) < 0))
        return -1;
    if (!there || last != *dup)
        *dup = 0;
    return 0;
}

/* The table made ready for the batch and the batch's ledger row opened. */
static int open_batch(struct attempt_run *x, struct sl_err *err)
{
    struct table_run *tr = x->tr;
    const struct sl_table_cfg *t = tr->t;

    /* values are read in the source's zone, adjusted by gates (epoch unit,
     * DST overlap policy) */
    x->vctx = (struct sl_valctx){x->b->timezone, x->b->overlap, SL_EPOCH_AUTO};
    for (size_t g = 0; g < t->ngates; g++)
        if (t->gates[g].ops->value_ctx)
            t->gates[g].ops->value_ctx(t->gates[g].ctx, &x->vctx);
    if (prepare_table(tr, x->b, &x->target, &x->diff, &x->vctx, err) < 0)
        return -1;
    if (x->diff.table_existed && fit_table(tr, x->b, &x->target, err) < 0)
        return -1;
    if (tr->release_id) {
        x->batch_id = tr->release_id;
    } else {
        struct sl_batch_meta m = {tr->p->name, t->name,
                                  tr->repair ? "repair" : sl_table_kind_name(t->kind),
                                  x->b->ref, x->b->hash[0] ? x->b->hash : NULL, x->b->bytes};
        if (sl_ledger_open(&tr->ledger, &m, &x->batch_id, err) < 0)
            return -1;
    }
    tr->log.batch = x->batch_id;
    tr->tried_id = x->batch_id;
    x->env = (struct sl_gate_env){ledger_history, &tr->ledger, tr->p->name, t, &x->target,
                                  &x->diff, x->batch_id, x->b->bytes, 0};
    return 0;
}

/* Start every gate on the batch (none for a released or repair batch). */
static int start_gates(struct attempt_run *x, struct sl_err *err)
{
    const struct sl_table_cfg *t = x->tr->t;
    if (x->tr->release_id || x->tr->repair || !t->ngates)
        return 0;
    x->gates = sl_calloc(t->ngates, sizeof *x->gates);
    if (!x->gates)
        return sl_err_set(err, SL_E_NOMEM, "out of memory");
    for (size_t g = 0; g < t->ngates; g++) {
        x->gates[g].ops = t->gates[g].ops;
        if (x->gates[g].ops->start(t->gates[g].ctx, &x->env, &x->gates[g].run, err) < 0)
            return -1;
        x->ngates++;
    }
    return 0;
}

/* The verdict of the gates (all, or only the one named): 1 = the batch is
 * held or refused (x->verdict says which), 0 = it passes, -1 = error. */
static int judge(struct attempt_run *x, const char *only, struct sl_err *err)
{
    if (!x->ngates)
        return 0;
    sl_buf_reset(&x->report);
    sl_buf_reset(&x->failed);
    if (finish_gates(x->gates, x->ngates, only, &x->env, &x->report, &x->failed, &x->verdict,
                     err) < 0)
        return -1;
    return x->verdict != SL_GATE_PASS;
}

/* Stream the rows into the table: 0 loaded, 1 held by a gate, -1 error. */
static int load_rows(struct attempt_run *x, struct sl_err *err)
{
    struct table_run *tr = x->tr;
    const struct sl_table_cfg *t = tr->t;

    /* values that no longer fit their columns would fail the load at the
     * first one; a schema gate decides before a row is read */
    if (x->diff.changed.n && has_gate(t, "schema")) {
        int v = judge(x, "schema", err);
        if (v != 0)
            return v;
    }
    if (stream_rows(x, err) < 0) {
        /* the warehouse refused a key twice (an append table's primary
         * key): the unique_key gate saw each row before the warehouse did,
         * so its verdict on them decides, quarantine holding the batch */
        if (err->cls != SL_RETRY && err->code != SL_E_NOMEM && has_gate(t, "unique_key")) {
            struct sl_err load_err = *err;
            sl_err_clear(err);
            x->env.rows = x->at->res.rows_in;
            int v = judge(x, "unique_key", err);
            if (v != 0)
                return v;
            *err = load_err;
        }
        return -1;
    }
    x->env.rows = x->at->res.rows_in;
    return 0;
}

/* A repair batch deletes the keys the source no longer has; their rows go
 * to history (docs/invariants.md #3). */
static int delete_gone_keys(struct attempt_run *x, struct sl_err *err)
{
    struct table_run *tr = x->tr;
    int64_t gone = 0;
    if (!tr->repair || !tr->repair->ndel)
        return 0;
    if (!tr->dops->delete_keys)
        return sl_err_set(err, SL_E_INTERNAL, "destination %s cannot delete rows by key",
                          tr->dops->kind);
    if (tr->dops->delete_keys(tr->dest, tr->t->name, tr->repair->key, tr->repair->nkey,
                              tr->repair->del, tr->repair->ndel, x->batch_id, &gone, err) < 0)
        return -1;
    x->at->res.rows_written += gone;
    return 0;
}

/* docs/invariants.md #2: the ledger entry, the decision, the file record and
 * the cursor, in the batch's transaction with its rows. */
static int record_batch(struct attempt_run *x, struct sl_err *err)
{
    struct table_run *tr = x->tr;
    const struct sl_table_cfg *t = tr->t;
    const struct sl_batch_input *b = x->b;

    /* a log drop's unparsed records are counted in its report, beside the gates' */
    struct sl_buf rep;
    sl_buf_init(&rep);
    if (b->unparsed && tr->dead_lettered) {
        sl_buf_printf(&rep, "{\"unparsed\":{\"dead_lettered\":%" PRId64 "}", tr->dead_lettered);
        if (x->ngates && x->report.len > 2)
            sl_buf_printf(&rep, ",%s", x->report.data + 1);
        else
            sl_buf_putc(&rep, '}');
        if (rep.oom) {
            sl_buf_free(&rep);
            return sl_err_set(err, SL_E_NOMEM, "out of memory");
        }
    }
    int lrc = sl_ledger_commit(&tr->ledger, x->batch_id, x->at->res.rows_in,
                               x->at->res.rows_written,
                               rep.len ? rep.data : x->ngates ? x->report.data : NULL, err);
    sl_buf_free(&rep);
    if (lrc < 0)
        return -1;
    if (tr->decision &&
        sl_ledger_decide(&tr->ledger, x->batch_id, "committed", tr->decision, err) < 0)
        return -1;
    if (b->hash[0] && t->kind == SL_KIND_SNAPSHOT &&
        sl_ledger_forget_files(&tr->ledger, t->name, err) < 0)
        return -1;
    if (b->hash[0] &&
        sl_ledger_record_file(&tr->ledger, t->name, b->hash, b->ref, b->bytes, x->batch_id,
                              err) < 0)
        return -1;
    if (b->cursor_after &&
        sl_ledger_set_cursor(&tr->ledger, tr->p->name, t->name, b->cursor_after, x->batch_id,
                             err) < 0)
        return -1;
    return 0;
}

/* The input must be what was read: a drop appended to while it loaded
 * would lose the rows read after EOF, and the hash would not be of the
 * bytes loaded. Checked last, so nothing of it becomes visible. 1 = it
 * changed (at->summary says how), 0 = not, -1 = error. */
static int input_changed(struct attempt_run *x, struct sl_err *err)
{
    struct table_run *tr = x->tr;
    if (!tr->sops->verify)
        return 0;
    int v = tr->sops->verify(tr->src, x->b, err);
    if (v <= 0)
        return v;
    x->at->result = ATT_CHANGED;
    x->at->summary = sl_strdup(err->msg);
    sl_err_clear(err);
    if (!x->at->summary)
        return sl_err_set(err, SL_E_NOMEM, "out of memory");
    return 1;
}

/* A gate held or refused the batch (its transaction is rolled back):
 * refused is an error naming the gates; held leaves at->report and
 * at->summary for the quarantine. */
static int held(struct attempt_run *x, struct sl_err *err)
{
    struct table_run *tr = x->tr;
    sl_report_gate_failed(tr->p->name, tr->t->name, x->failed.data);
    x->at->report = sl_buf_steal(&x->report);
    if (x->verdict == SL_GATE_FAIL)
        return sl_err_set(err, SL_E_INPUT, "%s: gate(s) failed: %s: %s", x->b->ref,
                          x->failed.data, x->at->report ? x->at->report : "");
    x->at->result = ATT_QUARANTINED;
    struct sl_buf sum;
    sl_buf_init(&sum);
    sl_buf_printf(&sum, "%s: held by gate(s) %s", x->b->ref, x->failed.data ? x->failed.data : "");
    x->at->summary = sl_buf_steal(&sum);
    if (!x->at->report || !x->at->summary)
        return sl_err_set(err, SL_E_NOMEM, "out of memory");
    return 0;
}

/* One attempt at one batch, in one destination transaction: the table made
 * ready, the rows streamed through the gates, the gates' verdict, then the
 * ledger and the commit (docs/invariants.md #1, #2). 0 with at->result
 * saying how it ended, -1 with err (the transaction rolled back). */
static int attempt_batch(struct table_run *tr, struct sl_batch_input *b, struct attempt *at,
                         struct sl_err *err)
{
    struct attempt_run x = {.tr = tr, .b = b, .at = at};
    int64_t dup = 0;
    int rc;

    sl_buf_init(&x.report);
    sl_buf_init(&x.failed);
    sl_buf_reset(&tr->ddl);     /* what an earlier attempt did was rolled back */
    attempt_clear(at);
    at->result = ATT_FAILED;
    /* a log drop may set records aside: the table for them, outside the batch */
    if (b->unparsed && !tr->dead_letter_ready) {
        if (sl_deadletter_ensure(tr->dops, tr->dest, err) < 0)
            return -1;
        tr->dead_letter_ready = 1;
    }
    if (tr->dops->begin(tr->dest, err) < 0)
        return -1;
    if (tr->dops->lock_table(tr->dest, tr->t->name, err) < 0)
        goto fail;
    if ((rc = lost_commit_took(tr, b, at, err)) != 0) {
        if (rc < 0)
            goto fail;
        tr->dops->rollback(tr->dest);
        return 0;
    }
    if (loaded_before(tr, b, &dup, err) < 0)
        goto fail;
    if (dup) {
        tr->dops->rollback(tr->dest);
        at->result = ATT_DUPLICATE;
        at->batch_id = dup;
        return 0;
    }
    if (open_batch(&x, err) < 0 || start_gates(&x, err) < 0)
        goto fail;
    if ((rc = load_rows(&x, err)) != 0)
        goto judged;
    if (delete_gone_keys(&x, err) < 0)
        goto fail;
    /* docs/invariants.md #1: every gate passes before the commit makes rows visible */
    if ((rc = judge(&x, NULL, err)) != 0)
        goto judged;
    if (record_batch(&x, err) < 0)
        goto fail;
    if ((rc = input_changed(&x, err)) != 0) {
        if (rc < 0)
            goto fail;
        tr->dops->rollback(tr->dest);
        tr->log.batch = 0;      /* its ledger row went with the rollback */
        attempt_run_free(&x);
        return 0;
    }
    if (tr->dops->commit(tr->dest, err) < 0)
        goto fail;
    ddl_log(tr);
    at->result = ATT_COMMITTED;
    at->batch_id = x.batch_id;
    attempt_run_free(&x);
    return 0;

judged:
    if (rc > 0) {
        /* nothing of it stays: the batch is recorded as held by the caller */
        tr->dops->rollback(tr->dest);
        rc = held(&x, err);
        attempt_run_free(&x);
        if (rc < 0)
            tr->log.batch = 0;
        return rc;
    }
fail:
    tr->dops->rollback(tr->dest);
    tr->tried_res = at->res;
    attempt_run_free(&x);
    tr->log.batch = 0;
    return -1;
}

static double seconds_since(const struct timespec *t0)
{
    struct timespec t1;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    return (double)(t1.tv_sec - t0->tv_sec) + (double)(t1.tv_nsec - t0->tv_nsec) / 1e9;
}

static void send_alert(struct table_run *tr, const char *event, int resolve, int64_t batch,
                       const char *summary, const char *details)
{
    struct sl_alert a = {event, resolve, tr->p->name, tr->t->name, batch, summary, details};
    struct sl_err aerr;
    sl_err_clear(&aerr);
    if (sl_report_alert(tr->cfg, &a, &aerr) < 0)
        sl_log(SL_LOG_WARN, &tr->log, "alert not delivered: %s", aerr.msg);
}

/* A gate held the batch: keep its data where the source holds it, record it
 * (state quarantined, with the gate report) and alert. The table waits. */
static void quarantine(struct table_run *tr, struct sl_batch_input *b, struct attempt *at)
{
    struct sl_err e;
    char *held = NULL;
    int64_t id = 0;

    sl_err_clear(&e);
    if (!tr->sops->hold || tr->sops->hold(tr->src, b, &held, &e) < 0) {
        sl_log(SL_LOG_ERROR, &tr->log, "%s: could not hold the quarantined batch: %s", b->ref,
               tr->sops->hold ? e.msg : "the source cannot hold batches");
        tr->stats->failed++;
        if (tr->stats->first_error.code == SL_E_NONE)
            tr->stats->first_error = e;
        tr->sops->ack(tr->src, b, SL_OUT_RETRY_LATER, NULL, &e);
        return;
    }
    struct sl_batch_meta m = {tr->p->name, tr->t->name, sl_table_kind_name(tr->t->kind), b->ref,
                              b->hash[0] ? b->hash : NULL, b->bytes};
    if (sl_ledger_record_quarantine(&tr->ledger, &m, at->report, at->summary, held, &id, &e) < 0)
        sl_log(SL_LOG_ERROR, &tr->log, "%s: could not record the quarantine: %s", b->ref, e.msg);
    tr->log.batch = id;
    sl_log(SL_LOG_WARN, &tr->log,
           "%s; held as %s; the table waits until `sluice approve` or `sluice reject` %" PRId64
           ": %s",
           at->summary, held, id, at->report);
    tr->stats->quarantined++;
    send_alert(tr, "quarantined", 0, id, at->summary, at->report);
    sl_free(held);
    if (tr->sops->ack(tr->src, b, SL_OUT_QUARANTINED, NULL, &e) < 0)
        sl_log(SL_LOG_ERROR, &tr->log, "%s", e.msg);
}

/* The one retry loop (docs/invariants.md #6): attempts until one ends, or
 * a failure is not transient, or the attempts run out. */
static int attempt_with_retries(struct table_run *tr, struct sl_batch_input *b,
                                struct attempt *at, struct sl_err *err)
{
    int attempts = sl_retry_attempts(), rc = -1;
    tr->tried_id = 0;
    for (int a = 1; a <= attempts; a++) {
        sl_err_clear(err);
        rc = attempt_batch(tr, b, at, err);
        if (rc == 0 || err->cls != SL_RETRY)
            break;
        /* a reader held the table past the destination's short lock wait:
         * the lock was given up, so the reader goes on, and the batch
         * tries again after a pause */
        if (err->code == SL_E_LOCK)
            sl_report_lock_wait(tr->p->name, tr->t->name);
        if (a < attempts) {
            sl_log(SL_LOG_WARN, &tr->log, "%s: %s, retrying (attempt %d of %d): %s", b->ref,
                   err->code == SL_E_LOCK ? "the table is in use" : "transient failure",
                   a + 1, attempts, err->msg);
            sl_report_retry(tr->p->name, tr->t->name);
            sl_retry_sleep(a);
        }
    }
    return rc;
}

/* A drop that failed, or that a gate held, while its writer was still at
 * it is not bad input: what it holds now is not what was judged, so it is
 * left for the next run like one that changed before its commit. */
static int judged_while_written(struct table_run *tr, struct sl_batch_input *b,
                                struct attempt *at, int rc, const struct sl_err *err)
{
    if (!tr->sops->verify || tr->release_id ||
        !((rc < 0 && err->cls != SL_RETRY) || (rc == 0 && at->result == ATT_QUARANTINED)))
        return rc;
    struct sl_err verr;
    sl_err_clear(&verr);
    if (tr->sops->verify(tr->src, b, &verr) <= 0)
        return rc;
    struct sl_buf why;
    sl_buf_init(&why);
    sl_buf_printf(&why, "%s (it had %s: %s)", verr.msg, rc < 0 ? "failed" : "been held by a gate",
                  rc < 0 ? err->msg : at->summary ? at->summary : "");
    attempt_clear(at);
    at->result = ATT_CHANGED;
    at->summary = why.oom ? sl_strdup(verr.msg) : sl_buf_steal(&why);
    sl_buf_free(&why);
    return at->summary ? 0 : -1;
}

static void ack(struct table_run *tr, struct sl_batch_input *b, enum sl_outcome o,
                const char *why)
{
    struct sl_err aerr;
    sl_err_clear(&aerr);
    if (tr->sops->ack(tr->src, b, o, why, &aerr) < 0)
        sl_log(SL_LOG_ERROR, &tr->log, "%s", aerr.msg);
}

static void note_first_error(struct table_run *tr, const struct sl_err *err)
{
    if (tr->stats->first_error.code == SL_E_NONE)
        tr->stats->first_error = *err;
}

static void batch_committed(struct table_run *tr, struct sl_batch_input *b, const struct attempt *at,
                      double secs)
{
    if (b->events)
        sl_log(SL_LOG_INFO, &tr->log,
               "committed %s: %" PRId64 " events (%" PRId64 " new, %" PRId64
               " stored already), %" PRId64 " to the dead letter table in %.3f s",
               b->ref, at->res.rows_in, at->res.rows_written, at->res.rows_unchanged,
               tr->dead_lettered, secs);
    else if (b->unparsed)
        sl_log(SL_LOG_INFO, &tr->log,
               "committed %s: %" PRId64 " rows (%" PRId64 " written, %" PRId64
               " unchanged), %" PRId64 " unparsed record%s to the dead letter table in %.2f s",
               b->ref, at->res.rows_in, at->res.rows_written, at->res.rows_unchanged,
               tr->dead_lettered, tr->dead_lettered == 1 ? "" : "s", secs);
    else
        sl_log(SL_LOG_INFO, &tr->log,
               "committed %s: %" PRId64 " rows (%" PRId64 " written, %" PRId64
               " unchanged) in %.2f s",
               b->ref, at->res.rows_in, at->res.rows_written, at->res.rows_unchanged, secs);
    tr->stats->committed++;
    tr->stats->rows += at->res.rows_in;
    tr->stats->rows_written += at->res.rows_written;
    tr->stats->dead_lettered += tr->dead_lettered;
    if (tr->dead_lettered)
        sl_report_dead_letter(tr->p->name, tr->t->name, tr->dead_lettered);
    tr->stats->last_batch = at->batch_id;
    sl_report_batch(tr->p->name, tr->t->name, SL_MB_COMMITTED, at->res.rows_in, b->bytes, secs);
    ack(tr, b, SL_OUT_COMMITTED, NULL);
}

/* Not transient: recorded first, so the log line and the alert name the
 * failed batch. Returns 1 when the table must stop (a held batch that
 * cannot load stays held). */
static int batch_failed(struct table_run *tr, struct sl_batch_input *b, const struct attempt *at,
                  const struct sl_err *err, double secs)
{
    struct sl_err aerr;
    int64_t failed_id = tr->release_id;
    sl_err_clear(&aerr);
    if (!tr->release_id) {
        struct sl_batch_meta m = {tr->p->name, tr->t->name, sl_table_kind_name(tr->t->kind),
                                  b->ref, b->hash[0] ? b->hash : NULL, b->bytes};
        if (sl_ledger_record_failure(&tr->ledger, &m, err->msg, &failed_id, &aerr) < 0)
            sl_log(SL_LOG_WARN, &tr->log, "could not record the failure in the ledger: %s",
                   aerr.msg);
    }
    tr->log.batch = failed_id;
    sl_log(SL_LOG_ERROR, &tr->log, "%s", err->msg);
    tr->stats->failed++;
    sl_report_batch(tr->p->name, tr->t->name, SL_MB_FAILED, 0, 0, secs);
    sl_report_error(tr->p->name, tr->t->name, err->msg);
    note_first_error(tr, err);
    if (tr->release_id)
        return 1;
    send_alert(tr, "failed", 0, failed_id, err->msg, at->report);
    ack(tr, b, SL_OUT_FAILED, err->msg);
    return 0;
}

/* One batch through the engine: attempted with retries, then counted,
 * reported and acked to its source as it ended. Returns 1 when the table
 * must stop taking batches (one is held). */
static int run_batch(struct table_run *tr, struct sl_batch_input *b)
{
    struct sl_err err;
    struct attempt at = {0};
    struct timespec t0;
    int stop = 0;

    clock_gettime(CLOCK_MONOTONIC, &t0);
    sl_report_running(tr->p->name, tr->t->name, 1);
    sl_err_clear(&err);
    int rc = attempt_with_retries(tr, b, &at, &err);
    tr->log.batch = at.batch_id;
    rc = judged_while_written(tr, b, &at, rc, &err);

    if (rc == 0 && at.result == ATT_CHANGED) {
        sl_log(SL_LOG_WARN, &tr->log, "%s", at.summary);
        tr->stats->waiting++;
        if (tr->stats->first_error.code == SL_E_NONE)
            sl_err_set(&tr->stats->first_error, SL_E_IO, "%s", at.summary);
        ack(tr, b, SL_OUT_RETRY_LATER, at.summary);
    } else if (rc == 0 && at.result == ATT_QUARANTINED) {
        quarantine(tr, b, &at);
        sl_report_batch(tr->p->name, tr->t->name, SL_MB_QUARANTINED, 0, 0, seconds_since(&t0));
        stop = 1;
    } else if (rc == 0 && at.result == ATT_DUPLICATE) {
        if (tr->t->kind == SL_KIND_SNAPSHOT)
            sl_log(SL_LOG_INFO, &tr->log, "%s: unchanged since batch %" PRId64 " (same content):"
                   " skipped", b->ref, at.batch_id);
        else
            sl_log(SL_LOG_INFO, &tr->log, "%s: skipped, same content already loaded by batch %"
                   PRId64, b->ref, at.batch_id);
        tr->stats->duplicates++;
        sl_report_batch(tr->p->name, tr->t->name, SL_MB_DUPLICATE, 0, 0, -1);
        ack(tr, b, SL_OUT_DUPLICATE, NULL);
    } else if (rc == 0) {
        batch_committed(tr, b, &at, seconds_since(&t0));
    } else if (err.cls == SL_RETRY) {
        sl_log(SL_LOG_ERROR, &tr->log, "%s: still failing after %d attempts, left for the next"
               " run: %s", b->ref, sl_retry_attempts(), err.msg);
        tr->stats->deferred++;
        sl_report_batch(tr->p->name, tr->t->name, SL_MB_DEFERRED, 0, 0, seconds_since(&t0));
        sl_report_error(tr->p->name, tr->t->name, err.msg);
        note_first_error(tr, &err);
        ack(tr, b, SL_OUT_RETRY_LATER, err.msg);
    } else {
        stop = batch_failed(tr, b, &at, &err, seconds_since(&t0));
    }
    attempt_clear(&at);
    tr->log.batch = 0;
    sl_report_running(tr->p->name, tr->t->name, 0);
    return stop;
}

/* `sluice daemon` looks at a held table every few seconds: it says the table
 * is paused once per held batch (later polls at debug level), not each time. */
static int first_pause_notice(const struct sl_table_cfg *t, int64_t held)
{
    static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
    static struct { const struct sl_table_cfg *t; int64_t held; } seen[64];
    int first = 1;
    pthread_mutex_lock(&mu);
    size_t i = 0;
    while (i < sizeof seen / sizeof seen[0] && seen[i].t && seen[i].t != t)
        i++;
    if (i < sizeof seen / sizeof seen[0]) {
        first = !(seen[i].t == t && seen[i].held == held);
        seen[i].t = t;
        seen[i].held = held;
    }
    pthread_mutex_unlock(&mu);
    return first;
}

/* The table's start: is a batch of it held, and if not its source opened
 * and its cursor read. 1 = held (the table waits), 0 = open, -1 = error. */
static int open_table(struct table_run *tr, struct sl_err *err)
{
    int64_t held = 0;
    if (sl_ledger_first_quarantined(&tr->ledger, tr->t->name, &held, err) < 0)
        return -1;
    if (held) {
        sl_log(first_pause_notice(tr->t, held) ? SL_LOG_WARN : SL_LOG_DEBUG, &tr->log,
               "paused: batch %" PRId64 " is in quarantine; new drops wait until"
               " `sluice approve` or `sluice reject` %" PRId64, held, held);
        tr->stats->quarantined++;
        return 1;
    }
    if (tr->sops->open(&tr->src, tr->cfg, tr->p, tr->t, err) < 0)
        return -1;
    if (tr->sops->resume) {
        char *cursor = NULL;
        int rc = sl_ledger_get_cursor(&tr->ledger, tr->p->name, tr->t->name, &cursor, err);
        if (rc == 0)
            rc = tr->sops->resume(tr->src, cursor, err);
        sl_free(cursor);
        if (rc < 0) {
            tr->sops->close(tr->src);
            tr->src = NULL;
            return -1;
        }
    }
    return 0;
}

/* open_table, retried like a batch while the failure is transient (the
 * warehouse or the source restarting between two tables). */
static int open_table_retrying(struct table_run *tr, struct sl_err *err)
{
    for (int a = 1;; a++) {
        sl_err_clear(err);
        int rc = open_table(tr, err);
        if (rc >= 0 || err->cls != SL_RETRY || a >= sl_retry_attempts() || sl_stopping())
            return rc;
        sl_log(SL_LOG_WARN, &tr->log, "%s; retrying (attempt %d of %d)", err->msg, a + 1,
               sl_retry_attempts());
        sl_report_retry(tr->p->name, tr->t->name);
        sl_retry_sleep(a);
    }
}

static int run_table(struct table_run *tr, struct sl_err *err)
{
    struct sl_batch_input *b;
    int rc = open_table_retrying(tr, err);
    if (rc != 0)
        return rc < 0 ? -1 : 0;
    /* a stop (daemon shutdown) takes effect between batches; rc stays 1
     * when a held batch stops the table */
    for (;;) {
        while (!sl_stopping() && (rc = tr->sops->next_batch(tr->src, &b, err)) == 1)
            if (run_batch(tr, b))
                break;
        double wait = -1;
        int n;
        if (rc != 0 || !tr->sops->pending || !atomic_load(&oneshot) || sl_stopping() ||
            (n = tr->sops->pending(tr->src, &wait)) == 0 || wait < 0)
            break;
        /* one-shot: a drop that arrived just before the run is waited for */
        sl_log(SL_LOG_INFO, &tr->log, "waiting %.1f s for %d drop%s to settle", wait, n,
               n == 1 ? "" : "s");
        struct timespec ts = {(time_t)wait, (long)((wait - (double)(time_t)wait) * 1e9)};
        while (nanosleep(&ts, &ts) < 0 && !sl_stopping())
            ;
    }
    if (rc == 0 && tr->sops->pending) {
        double wait;
        tr->stats->waiting += tr->sops->pending(tr->src, &wait);
    }
    tr->sops->close(tr->src);
    tr->src = NULL;
    return rc < 0 ? -1 : 0;
}

/* Connect and create sluice's own tables, retrying while the destination is
 * unreachable (it may be restarting). */
static int connect_dest(const struct sl_config *c, const struct sl_pipeline_cfg *p,
                        const struct sl_dest_ops **ops, struct sl_dest **dest,
                        struct sl_log_ctx *log, struct sl_err *err)
{
    int attempts = sl_retry_attempts();
    for (int a = 1; a <= attempts; a++) {
        sl_err_clear(err);
        *dest = NULL;
        if (sl_dest_open(p->dest_conn->url, p->dest_conn->password, c->dir, ops, dest, err) == 0 &&
            (*ops)->ensure_meta(*dest, err) == 0)
            return 0;
        if (*dest) {
            (*ops)->close(*dest);
            *dest = NULL;
        }
        if (err->cls != SL_RETRY)
            return -1;
        if (a < attempts) {
            sl_log(SL_LOG_WARN, log, "destination \"%s\": %s; retrying", p->destination, err->msg);
            sl_retry_sleep(a);
        }
    }
    return -1;
}

/* ---- tables in parallel ----
 * A pipeline whose source allows it (postgres: `parallel: N`) loads up to N
 * tables at once, each worker with its own destination connection, each
 * table its own batches. SQLite has one writer: its tables load one after
 * another. Tables are taken in config order; with one worker the run stops
 * at the first table that cannot run, as it always did, with several the
 * other tables go on. */
struct workers {
    const struct sl_pipeline_cfg *p;
    struct sl_stop_scope *scope;    /* the run's: a pipeline stopped alone stops them all */
    pthread_mutex_t mu;
    size_t next;
    int failed;
    int keep_going;
};

struct worker {
    struct workers *w;
    struct table_run tr;
    struct sl_run_stats stats;
    struct sl_err err;
    int rc;
    pthread_t th;
    int started;
};

/* `snapshots: { every, keep }`: after a table's run, a consistent copy when
 * the last one is older than `every`, then the oldest beyond `keep` go. A
 * failure here is logged, never fails the run: the data is in already. */
static void scheduled_snapshot(struct table_run *tr)
{
    const struct sl_pipeline_cfg *p = tr->p;
    struct sl_err e;
    int due = 0;
    int64_t id = 0;

    if (p->snapshot_every <= 0)
        return;
    sl_err_clear(&e);
    if (sl_snapshot_due(tr->dops, tr->dest, tr->t->name, p->snapshot_every, &due, &e) < 0)
        goto failed;
    if (!due)
        return;
    if (sl_snapshot_take(tr->dops, tr->dest, tr->t->name, &id, &e) < 0)
        goto failed;
    sl_log(SL_LOG_INFO, &tr->log, "took snapshot %" PRId64 " (every %gs, keeping %ld)", id,
           p->snapshot_every, p->snapshot_keep);
    if (sl_snapshot_prune(tr->dops, tr->dest, tr->t->name, p->snapshot_keep, &e) < 0)
        goto failed;
    return;
failed:
    sl_log(SL_LOG_WARN, &tr->log, "scheduled snapshot: %s", e.msg);
}

/* ---- the lease: one run of a table at a time ----
 * Two runs on one warehouse (two `sluice run`, a run and a daemon, daemons
 * sharing it) would both list the same drops, and the second would find
 * each one loaded already (a false duplicate) and gone from the folder. A
 * table's run holds the destination's lease on it from before its source
 * lists anything until its last batch and scheduled snapshot are done; the
 * other run waits up to the pipeline's lock_wait and then skips the table.
 * Its source is opened only once it holds the lease, so it lists what is
 * left. Returns 1 held, 0 skipped, -1 error. */
static int take_lease(struct table_run *tr, struct sl_err *err)
{
    struct timespec t0;
    int said = 0;

    if (!tr->dops->lease_try)
        return 1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (int attempt = 1;;) {
        int r = tr->dops->lease_try(tr->dest, tr->t->name, err);
        if (r < 0 && err->cls == SL_RETRY && attempt < sl_retry_attempts() &&
            !sl_stopping()) {
            /* the warehouse restarting, a connection lost: as for a batch */
            sl_log(SL_LOG_WARN, &tr->log, "%s; retrying (attempt %d of %d)", err->msg, attempt,
                   sl_retry_attempts());
            sl_retry_sleep(attempt++);
            sl_err_clear(err);
            continue;
        }
        if (r != 0) {
            if (r == 1 && said)
                sl_log(SL_LOG_INFO, &tr->log, "the other run is done with table \"%s\" after"
                       " %.1f s; taking it over", tr->t->name, seconds_since(&t0));
            return r;
        }
        double waited = seconds_since(&t0), left = tr->p->lock_wait - waited;
        if (left <= 0 || sl_stopping()) {
            sl_log(SL_LOG_WARN, &tr->log, "skipped: another run holds table \"%s\" (waited"
                   " %.1f s, lock_wait %g s); its drops are left to that run or the next",
                   tr->t->name, waited, tr->p->lock_wait);
            return 0;
        }
        if (!said) {
            sl_log(SL_LOG_INFO, &tr->log, "another run holds table \"%s\"; waiting for it"
                   " (up to lock_wait, %g s)", tr->t->name, tr->p->lock_wait);
            said = 1;
        }
        double ms = left < 0.1 ? left * 1000 : 100;
        struct timespec ts = {0, (long)(ms * 1000000)};
        nanosleep(&ts, NULL);
    }
}

static void release_lease(struct table_run *tr)
{
    if (tr->dops->lease_release)
        tr->dops->lease_release(tr->dest, tr->t->name);
}

static void *worker_main(void *arg)
{
    struct worker *wk = arg;
    struct workers *w = wk->w;
    struct table_run *tr = &wk->tr;

    sl_stop_scope_enter(w->scope);
    for (;;) {
        size_t skipped = 0;
        pthread_mutex_lock(&w->mu);
        size_t i = (w->failed && !w->keep_going) ? w->p->ntables : w->next++;
        if (i >= w->p->ntables && w->next < w->p->ntables && !sl_stopping()) {
            /* one worker stops at the first table that cannot run: the
             * tables after it are not run either, and are counted so */
            skipped = w->p->ntables - w->next;
            w->next = w->p->ntables;
        }
        pthread_mutex_unlock(&w->mu);
        if (skipped) {
            wk->stats.not_run += (int)skipped;
            if (!wk->stats.not_run_why[0])
                snprintf(wk->stats.not_run_why, sizeof wk->stats.not_run_why,
                         "an earlier table failed");
        }
        if (i >= w->p->ntables || sl_stopping())
            break;
        struct sl_err e;
        sl_err_clear(&e);
        tr->t = &w->p->tables[i];
        tr->log.table = tr->t->name;
        tr->warned_missing = 0;
        const struct sl_run_stats *s = &wk->stats;
        int seen = s->committed + s->duplicates + s->failed + s->deferred + s->waiting +
                   s->quarantined;
        int leased = take_lease(tr, &e), rc = leased < 0 ? -1 : 0;
        if (leased == 1) {
            rc = run_table(tr, &e);
            sl_schema_free(&tr->src_schema);
            sl_buf_free(&tr->ddl);
            if (rc == 0)
                scheduled_snapshot(tr);
            release_lease(tr);
        } else if (leased == 0) {
            tr->stats->locked++;
        }
        if (rc < 0) {
            sl_log(SL_LOG_ERROR, &tr->log, "%s", e.msg);
            /* a table that could not run is said in the summary, not only
             * logged: no batch of it is in any other count */
            int ran = s->committed + s->duplicates + s->failed + s->deferred + s->waiting +
                      s->quarantined - seen;
            if (ran)
                wk->stats.stopped++;
            else
                wk->stats.not_run++;
            if (!wk->stats.not_run_why[0])
                snprintf(wk->stats.not_run_why, sizeof wk->stats.not_run_why,
                         "table %.100s%s: %.380s", tr->t->name, ran ? " stopped" : "", e.msg);
            if (wk->rc == 0) {
                wk->rc = -1;
                wk->err = e;
            }
            pthread_mutex_lock(&w->mu);
            w->failed = 1;
            pthread_mutex_unlock(&w->mu);
        }
    }
    tr->log.table = NULL;
    return NULL;
}

int sl_pipeline_run(const struct sl_config *c, const struct sl_pipeline_cfg *p,
                    struct sl_run_stats *stats, struct sl_err *err)
{
    struct workers w = {p, sl_stop_scope_current(), PTHREAD_MUTEX_INITIALIZER, 0, 0, 0};
    struct sl_err e;
    if (p->source_ops->drain)   /* a log read once through, fed table by table */
        return p->source_ops->drain(c, p, &sl_pipeline_sink, stats, err);
    int n = p->source_ops->workers ? p->source_ops->workers(p) : 1;
    const struct sl_dest_ops *kind = sl_dest_for_url(p->dest_conn->url, &e);

    if (n > (int)p->ntables)
        n = (int)p->ntables;
    if ((n = sl_dest_writers(kind, n)) < 1)
        n = 1;
    w.keep_going = n > 1;
    struct worker *wk = sl_calloc((size_t)n, sizeof *wk);
    if (!wk)
        return sl_err_set(err, SL_E_NOMEM, "out of memory");
    int connected = 0;
    for (int k = 0; k < n; k++) {
        struct table_run *tr = &wk[k].tr;
        wk[k].w = &w;
        tr->cfg = c;
        tr->p = p;
        tr->stats = &wk[k].stats;
        tr->sops = p->source_ops;
        tr->log.pipeline = p->name;
        if (connect_dest(c, p, &tr->dops, &tr->dest, &tr->log, k ? &e : err) < 0)
            break;  /* fewer workers than asked: the ones connected do the work */
        tr->ledger.ops = tr->dops;
        tr->ledger.d = tr->dest;
        connected++;
    }
    if (connected == 0) {
        sl_free(wk);
        /* no table of it could be attempted: counted, and why */
        stats->not_run += (int)p->ntables;
        if (!stats->not_run_why[0]) {
            char after[48] = "";
            if (err->cls == SL_RETRY && sl_retry_attempts() > 1)
                snprintf(after, sizeof after, " after %d attempts", sl_retry_attempts());
            snprintf(stats->not_run_why, sizeof stats->not_run_why,
                     "destination \"%.64s\" not reached%s: %.360s", p->destination, after,
                     err->msg);
        }
        sl_err_prefix(err, "pipeline \"%s\"", p->name);
        return -1;
    }
    for (int k = 1; k < connected; k++)
        wk[k].started = pthread_create(&wk[k].th, NULL, worker_main, &wk[k]) == 0;
    worker_main(&wk[0]);
    int rc = 0;
    for (int k = 0; k < connected; k++) {
        if (k && wk[k].started)
            pthread_join(wk[k].th, NULL);
        wk[k].tr.dops->close(wk[k].tr.dest);
        sl_run_stats_add(stats, &wk[k].stats);
        if (wk[k].rc < 0 && rc == 0) {
            rc = -1;
            *err = wk[k].err;
        }
    }
    sl_free(wk);
    return rc;
}

int sl_pipeline_repair(const struct sl_config *c, const struct sl_pipeline_cfg *p,
                       const struct sl_table_cfg *t, const char *const *key, size_t nkey,
                       const char *const *upsert, size_t nupsert, const char *const *del,
                       size_t ndel, int64_t *batch, struct sl_err *err)
{
    struct table_run tr = {0};
    struct sl_run_stats stats = {0};
    struct repair rp = {key, nkey, del, ndel};
    struct sl_batch_input *b = NULL;
    int rc = -1;

    *batch = 0;
    if (!p->source_ops->keys_batch)
        return sl_err_set(err, SL_E_CONFIG, "a %s source cannot read rows by key",
                          p->source_ops->kind);
    tr.cfg = c;
    tr.p = p;
    tr.t = t;
    tr.stats = &stats;
    tr.sops = p->source_ops;
    tr.log.pipeline = p->name;
    tr.log.table = t->name;
    tr.repair = &rp;
    if (connect_dest(c, p, &tr.dops, &tr.dest, &tr.log, err) < 0)
        return -1;
    tr.ledger.ops = tr.dops;
    tr.ledger.d = tr.dest;
    if (tr.sops->open(&tr.src, c, p, t, err) < 0)
        goto done;
    if (tr.sops->keys_batch(tr.src, key, nkey, upsert, nupsert, &b, err) < 0)
        goto done;
    run_batch(&tr, b);      /* acks b */
    if (stats.committed) {
        *batch = stats.last_batch;
        rc = 0;
    } else if (stats.first_error.code != SL_E_NONE) {
        *err = stats.first_error;
    } else {
        sl_err_set(err, SL_E_INTERNAL, "the repair batch was not loaded");
    }
done:
    if (tr.src)
        tr.sops->close(tr.src);
    sl_schema_free(&tr.src_schema);
    sl_buf_free(&tr.ddl);
    tr.dops->close(tr.dest);
    return rc;
}

/* The held batch `batch` of tr's pipeline, its table found and its data
 * reopened from where the source held it: 0 with *b, 1 when the pipeline
 * has no such batch, -1 error. */
static int reopen_held(struct table_run *tr, int64_t batch, struct sl_batch_input **b,
                       struct sl_err *err)
{
    struct sl_rows row = {0};
    int rc = -1;
    if (sl_ledger_get(&tr->ledger, batch, tr->p->name, &row, err) < 0)
        return -1;
    if (row.nrows == 0) {
        sl_rows_free(&row);
        return 1;       /* not this pipeline's */
    }
    const char *table = sl_rows_get(&row, 0, 2), *state = sl_rows_get(&row, 0, 4);
    const char *held = sl_rows_get(&row, 0, 6);
    for (size_t i = 0; i < tr->p->ntables && !tr->t; i++)
        if (table && strcmp(tr->p->tables[i].name, table) == 0)
            tr->t = &tr->p->tables[i];
    if (!state || strcmp(state, "quarantined") != 0)
        sl_err_set(err, SL_E_STATE, "batch %" PRId64 " is %s, not quarantined: only a"
                   " quarantined batch can be approved or rejected", batch,
                   state ? state : "unknown");
    else if (!tr->t)
        sl_err_set(err, SL_E_CONFIG, "batch %" PRId64 " is of table \"%s\", which pipeline"
                   " \"%s\" no longer has", batch, table ? table : "?", tr->p->name);
    else if (!held || !tr->sops->reopen)
        sl_err_set(err, SL_E_INTERNAL, "batch %" PRId64 " has no held data to release", batch);
    else if (tr->sops->open(&tr->src, tr->cfg, tr->p, tr->t, err) == 0 &&
             tr->sops->reopen(tr->src, held, b, err) == 0)
        rc = 0;
    if (tr->t) {
        tr->log.table = tr->t->name;
        tr->log.batch = batch;
    }
    sl_rows_free(&row);
    return rc;
}

/* Approve: load the held batch as it is (no gates) under its own id, the
 * decision committed with it. Not loaded after all (its content came in
 * meanwhile): the approval stays on record, and what sluice made of it
 * follows it. */
static int approve_held(struct table_run *tr, int64_t batch, struct sl_batch_input *b,
                        char *entry, struct sl_err *err)
{
    struct sl_run_stats *stats = tr->stats;
    int before = stats->committed + stats->duplicates;
    tr->release_id = batch;
    tr->decision = entry;
    run_batch(tr, b);   /* acks b */
    if (stats->committed + stats->duplicates == before)
        return sl_err_set(err, SL_E_INPUT, "batch %" PRId64 " could not be loaded: %s", batch,
                          stats->first_error.msg);
    if (!stats->duplicates || stats->committed)
        return 0;
    char *dup = sl_ledger_decision("rejected", "sluice", NULL, "not loaded: its content was"
                                   " loaded by another batch meanwhile");
    int rc = 0;
    if (!dup)
        rc = sl_err_set(err, SL_E_NOMEM, "out of memory");
    else if (tr->dops->begin(tr->dest, err) < 0 ||
             sl_ledger_decide(&tr->ledger, batch, NULL, entry, err) < 0 ||
             sl_ledger_decide(&tr->ledger, batch, "rejected", dup, err) < 0 ||
             tr->dops->commit(tr->dest, err) < 0) {
        tr->dops->rollback(tr->dest);
        rc = -1;
    }
    sl_free(dup);
    return rc;
}

/* Reject: the decision recorded and the held data set aside (the source's
 * ack); a database source's rows cannot be set aside, so its cursor moves
 * past them instead, in the same transaction. */
static int reject_held(struct table_run *tr, int64_t batch, struct sl_batch_input *b,
                       const char *entry, const char *line, struct sl_err *err)
{
    struct sl_err aerr;
    if (tr->dops->begin(tr->dest, err) < 0 ||
        sl_ledger_decide(&tr->ledger, batch, "rejected", entry, err) < 0 ||
        (b->cursor_after && sl_ledger_set_cursor(&tr->ledger, tr->p->name, tr->t->name,
                                                 b->cursor_after, batch, err) < 0) ||
        tr->dops->commit(tr->dest, err) < 0) {
        tr->dops->rollback(tr->dest);
        return -1;
    }
    sl_err_clear(&aerr);
    sl_report_batch(tr->p->name, tr->t->name, SL_MB_REJECTED, 0, 0, -1);
    if (tr->sops->ack(tr->src, b, SL_OUT_FAILED, line, &aerr) < 0)
        sl_log(SL_LOG_WARN, &tr->log, "%s", aerr.msg);
    return 0;
}

int sl_pipeline_release(const struct sl_config *c, const struct sl_pipeline_cfg *p,
                        int64_t batch, int approve, const char *who, const char *note,
                        struct sl_run_stats *stats, struct sl_err *err)
{
    struct table_run tr = {.cfg = c, .p = p, .stats = stats, .sops = p->source_ops};
    struct sl_batch_input *b = NULL;
    struct sl_buf line;
    char *entry = NULL;
    char now[32];
    int rc;

    tr.log.pipeline = p->name;
    sl_buf_init(&line);
    if (connect_dest(c, p, &tr.dops, &tr.dest, &tr.log, err) < 0)
        return -1;
    tr.ledger.ops = tr.dops;
    tr.ledger.d = tr.dest;
    if ((rc = reopen_held(&tr, batch, &b, err)) != 0)
        goto done;

    /* the decision for the ledger (kept with every later one, see
     * ledger.h) and the same words for the log, the alert and the drop */
    const char *by = who && *who ? who : "unknown";
    sl_time_format(sl_time_now(), now);
    sl_buf_printf(&line, "%s by %s at %s%s%s", approve ? "approved" : "rejected", by, now,
                  note && *note ? ": " : "", note ? note : "");
    entry = sl_ledger_decision(approve ? "approved" : "rejected", by, now, note);
    if (line.oom || !entry) {
        rc = sl_err_set(err, SL_E_NOMEM, "out of memory");
        goto done;
    }
    if (approve) {
        rc = approve_held(&tr, batch, b, entry, err);
        b = NULL;   /* acked */
    } else if ((rc = reject_held(&tr, batch, b, entry, line.data, err)) == 0) {
        b = NULL;
    }
    if (rc < 0)
        goto done;
    sl_log(SL_LOG_INFO, &tr.log, "batch %" PRId64 " %s", batch,
           !approve           ? "rejected; its data was set aside"
           : stats->committed ? "approved and loaded"
                              : "approved; its content was loaded meanwhile, so it stays out");
    send_alert(&tr, "quarantined", 1, batch, line.data, NULL);
done:
    if (b) {
        struct sl_err aerr;
        tr.sops->ack(tr.src, b, SL_OUT_RETRY_LATER, NULL, &aerr);
    }
    if (tr.src)
        tr.sops->close(tr.src);
    sl_schema_free(&tr.src_schema);
    sl_buf_free(&tr.ddl);
    sl_buf_free(&line);
    sl_free(entry);
    tr.dops->close(tr.dest);
    return rc;
}

/* ---- tables fed by their source (http collector, jetstream, replay) ---- */

struct sl_feed {
    struct table_run tr;
    struct sl_run_stats stats;
};

int sl_feed_open(const struct sl_config *c, const struct sl_pipeline_cfg *p,
                 const struct sl_table_cfg *t, struct sl_source *src, struct sl_feed **out,
                 struct sl_err *err)
{
    struct sl_feed *f = sl_calloc(1, sizeof *f);
    *out = NULL;
    if (!f)
        return sl_err_set(err, SL_E_NOMEM, "out of memory");
    f->tr.cfg = c;
    f->tr.p = p;
    f->tr.t = t;
    f->tr.sops = p->source_ops;
    f->tr.src = src;
    f->tr.stats = &f->stats;
    f->tr.log.pipeline = p->name;
    f->tr.log.table = t->name;
    if (connect_dest(c, p, &f->tr.dops, &f->tr.dest, &f->tr.log, err) < 0) {
        sl_free(f);
        sl_err_prefix(err, "pipeline \"%s\"", p->name);
        return -1;
    }
    f->tr.ledger.ops = f->tr.dops;
    f->tr.ledger.d = f->tr.dest;
    if (sl_deadletter_ensure(f->tr.dops, f->tr.dest, err) < 0) {
        f->tr.dops->close(f->tr.dest);
        sl_free(f);
        return -1;
    }
    *out = f;
    return 0;
}

void sl_feed_batch(struct sl_feed *f, struct sl_batch_input *b, struct sl_run_stats *stats)
{
    memset(&f->stats, 0, sizeof f->stats);
    run_batch(&f->tr, b);   /* acks b: the source learns the outcome */
    sl_run_stats_add(stats, &f->stats);
}

static int feed_cursor(struct sl_feed *f, char **out, struct sl_err *err)
{
    *out = NULL;
    return sl_ledger_get_cursor(&f->tr.ledger, f->tr.p->name, f->tr.t->name, out, err);
}

static int feed_held(struct sl_feed *f, int64_t *batch, struct sl_err *err)
{
    *batch = 0;
    return sl_ledger_first_quarantined(&f->tr.ledger, f->tr.t->name, batch, err);
}

static int feed_columns(struct sl_feed *f, struct sl_schema *out, struct sl_err *err)
{
    memset(out, 0, sizeof *out);
    return f->tr.dops->describe(f->tr.dest, f->tr.t->name, out, err);
}

static int feed_forget_cursor(struct sl_feed *f, struct sl_err *err)
{
    return sl_ledger_forget_cursor(&f->tr.ledger, f->tr.p->name, f->tr.t->name, err);
}

const struct sl_sink sl_pipeline_sink = {sl_feed_open, sl_feed_batch, sl_feed_close,
                                         feed_cursor, feed_held, feed_columns,
                                         feed_forget_cursor};

void sl_feed_close(struct sl_feed *f)
{
    if (!f)
        return;
    sl_schema_free(&f->tr.src_schema);
    sl_buf_free(&f->tr.ddl);
    f->tr.dops->close(f->tr.dest);
    sl_free(f);
}
