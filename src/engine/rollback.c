/* engine/rollback.c: take a committed batch back out (see rollback.h).
 *
 * Which later batches stand in the way of rolling back batch B of table T
 * (each one loaded, i.e. committed or approved):
 *   - one whose load replaced rows B wrote: the history table holds those
 *     images with _sluice_batch = B and _sluice_replaced_by = that batch;
 *   - a later snapshot load of T: it replaced the whole table, B's rows too;
 *   - when B is a snapshot load: any later batch of T, whose rows live in the
 *     table B swapped in.
 * Taken together (the closure: what stands in the way of those, too) they
 * are what --cascade rolls back, newest first, so that every rollback finds
 * the table exactly as the batch left it. All SQL runs through the
 * destination's exec with bound values; names come quoted from it. */
#include "engine/rollback.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/mem.h"
#include "engine/ledger.h"
#include "engine/meta.h"

#define MAX_KEYS_SHOWN 10

int sl_rollback_lookup(const struct sl_dest_ops *ops, struct sl_dest *d, int64_t batch,
                       struct sl_rows *out, struct sl_err *err)
{
    char ids[24];
    snprintf(ids, sizeof ids, "%" PRId64, batch);
    const char *p[] = {ids};
    return sl_meta_exec(ops, d,
                        "SELECT id, pipeline, table_name, kind, state FROM {batches} WHERE id = $1",
                        1, p, out, err);
}

int sl_rollback_mark(const struct sl_dest_ops *ops, struct sl_dest *d, int64_t batch,
                     const char *who, const char *note, int64_t *forgotten, struct sl_err *err)
{
    struct sl_ledger l = {ops, d};
    char ids[24];
    snprintf(ids, sizeof ids, "%" PRId64, batch);
    const char *p[] = {ids};
    /* appended: the approval that loaded it, if any, stays beside this */
    char *dec = sl_ledger_decision("rolled back", who && *who ? who : "unknown", NULL, note);
    if (!dec)
        return sl_err_nomem(err);
    int drc = sl_ledger_decide(&l, batch, "rolled_back", dec, err);
    sl_free(dec);
    if (drc < 0)
        return -1;
    /* the drop is forgotten: offering the same file again loads it again */
    int64_t n = 0;
    int rc = sl_meta_exec_count(ops, d, "DELETE FROM {files} WHERE batch_id = $1", 1, p, &n, err);
    if (forgotten)
        *forgotten = n;
    return rc;
}

int sl_table_columns(const struct sl_dest_ops *ops, struct sl_dest *d, const char *quoted,
                     struct sl_rows *out, struct sl_err *err)
{
    struct sl_buf b;
    sl_buf_init(&b);
    sl_buf_printf(&b, "SELECT * FROM %s WHERE 1 = 0", quoted);
    int rc = sl_meta_exec_buf(ops, d, &b, 0, NULL, out, NULL, err);
    sl_buf_free(&b);
    return rc;
}

int sl_common_columns(const struct sl_dest_ops *ops, struct sl_dest *d, const char *into,
                      const char *from, struct sl_buf *list, struct sl_err *err)
{
    struct sl_rows a, b;
    if (sl_table_columns(ops, d, into, &a, err) < 0)
        return -1;
    if (sl_table_columns(ops, d, from, &b, err) < 0) {
        sl_rows_free(&a);
        return -1;
    }
    size_t n = 0;
    for (size_t i = 0; i < a.ncols; i++) {
        int found = 0;
        for (size_t k = 0; k < b.ncols && !found; k++)
            found = strcmp(a.names[i], b.names[k]) == 0;
        if (!found || strcmp(a.names[i], "_sluice_replaced_by") == 0)
            continue;
        if (n++)
            sl_buf_puts(list, ", ");
        ops->quote_ident(list, a.names[i]);
    }
    sl_rows_free(&a);
    sl_rows_free(&b);
    if (n == 0)
        return sl_err_set(err, SL_E_INTERNAL, "%s and %s have no column in common", into, from);
    return list->oom ? sl_err_nomem(err) : 0;
}

/* ---- what stands in the way ---- */

struct idset {
    int64_t *ids;
    size_t n, cap;
};

static int idset_has(const struct idset *s, int64_t id)
{
    for (size_t i = 0; i < s->n; i++)
        if (s->ids[i] == id)
            return 1;
    return 0;
}

static int idset_add(struct idset *s, int64_t id)
{
    if (idset_has(s, id))
        return 0;
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 8;
        int64_t *ids = sl_realloc(s->ids, cap * sizeof *ids);
        if (!ids)
            return -1;
        s->ids = ids;
        s->cap = cap;
    }
    s->ids[s->n++] = id;
    return 1;
}

static int cmp_desc(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x < y) - (x > y);
}

struct table_ctx {
    const struct sl_dest_ops *ops;
    struct sl_dest *d;
    const char *table;
    char *hist;             /* quoted history table, when it exists */
};

/* Later loaded batches that built on `batch` (see the file comment). Each
 * is added to `found`; `why` (may be NULL) gets one clause per batch. */
static int blockers(struct table_ctx *t, int64_t batch, const char *kind,
                    const char *const *pk, size_t npk, struct idset *found,
                    struct sl_buf *why, struct sl_err *err)
{
    struct sl_rows r;
    char ids[24];
    snprintf(ids, sizeof ids, "%" PRId64, batch);
    int snapshot = kind && strcmp(kind, "snapshot") == 0;

    /* later snapshot loads of the table, or any later batch after a snapshot */
    const char *p[] = {t->table, ids};
    if (sl_meta_exec(t->ops, t->d,
                     snapshot ? "SELECT id, kind FROM {batches} WHERE table_name = $1 AND id > $2"
                                " AND state IN " SL_LOADED_STATES " ORDER BY id"
                              : "SELECT id, kind FROM {batches} WHERE table_name = $1 AND id > $2"
                                " AND state IN " SL_LOADED_STATES " AND kind = 'snapshot'"
                                " ORDER BY id",
                     2, p, &r, err) < 0)
        return -1;
    for (size_t i = 0; i < r.nrows; i++) {
        int64_t c = sl_rows_int(&r, i, 0);
        const char *ck = sl_rows_get(&r, i, 1);
        if (idset_add(found, c) < 0) {
            sl_rows_free(&r);
            return sl_err_nomem(err);
        }
        if (why && ck && strcmp(ck, "snapshot") == 0)
            sl_buf_printf(why, "%sbatch %" PRId64 " (later) replaced the whole table after batch %"
                          PRId64, why->len ? "; " : "", c, batch);
        else if (why)
            sl_buf_printf(why, "%sbatch %" PRId64 " (later) loaded into the table batch %" PRId64
                          " swapped in", why->len ? "; " : "", c, batch);
    }
    sl_rows_free(&r);
    if (!t->hist)
        return 0;

    /* later loads that replaced rows this batch wrote */
    struct sl_buf sql;
    char *bt = sl_meta_sql(t->ops, t->d, "{batches}");
    sl_buf_init(&sql);
    sl_buf_printf(&sql, "SELECT \"_sluice_replaced_by\", count(*) FROM %s WHERE \"_sluice_batch\" = $1"
                  " AND \"_sluice_replaced_by\" <> $1 AND \"_sluice_replaced_by\" IN"
                  " (SELECT id FROM %s WHERE state IN " SL_LOADED_STATES ")"
                  " GROUP BY \"_sluice_replaced_by\" ORDER BY 1", t->hist, bt ? bt : "");
    const char *p1[] = {ids};
    int rc = bt ? sl_meta_exec_buf(t->ops, t->d, &sql, 1, p1, &r, NULL, err)
                : sl_err_nomem(err);
    sl_free(bt);
    sl_buf_free(&sql);
    if (rc < 0)
        return -1;
    for (size_t i = 0; i < r.nrows && rc == 0; i++) {
        int64_t c = sl_rows_int(&r, i, 0), n = sl_rows_int(&r, i, 1);
        if (idset_add(found, c) < 0) {
            rc = sl_err_nomem(err);
            break;
        }
        if (!why)
            continue;
        sl_buf_printf(why, "%sbatch %" PRId64 " (later) replaced ", why->len ? "; " : "", c);
        if (npk == 0) {
            sl_buf_printf(why, "%" PRId64 " row(s) of batch %" PRId64, n, batch);
            continue;
        }
        sl_buf_printf(why, "keys of batch %" PRId64 ": ", batch);
        /* which keys, the first few */
        struct sl_rows keys;
        char cs[24], lim[24];
        snprintf(cs, sizeof cs, "%" PRId64, c);
        snprintf(lim, sizeof lim, "%d", MAX_KEYS_SHOWN);
        sl_buf_init(&sql);
        sl_buf_puts(&sql, "SELECT ");
        for (size_t k = 0; k < npk; k++) {
            if (k)
                sl_buf_puts(&sql, ", ");
            t->ops->quote_ident(&sql, pk[k]);
        }
        sl_buf_printf(&sql, " FROM %s WHERE \"_sluice_batch\" = $1 AND \"_sluice_replaced_by\" = $2"
                      " ORDER BY ", t->hist);
        for (size_t k = 0; k < npk; k++) {
            if (k)
                sl_buf_puts(&sql, ", ");
            t->ops->quote_ident(&sql, pk[k]);
        }
        sl_buf_puts(&sql, " LIMIT $3");
        const char *p2[] = {ids, cs, lim};
        rc = sl_meta_exec_buf(t->ops, t->d, &sql, 3, p2, &keys, NULL, err);
        sl_buf_free(&sql);
        if (rc < 0)
            break;
        for (size_t k = 0; k < keys.nrows; k++) {
            sl_buf_puts(why, k ? ", " : "");
            if (npk > 1)
                sl_buf_putc(why, '(');
            for (size_t j = 0; j < npk; j++) {
                const char *v = sl_rows_get(&keys, k, j);
                sl_buf_printf(why, "%s%s=%s", j ? ", " : "", pk[j], v ? v : "NULL");
            }
            if (npk > 1)
                sl_buf_putc(why, ')');
        }
        if (n > (int64_t)keys.nrows)
            sl_buf_printf(why, " (and %" PRId64 " more)", n - (int64_t)keys.nrows);
        sl_rows_free(&keys);
    }
    sl_rows_free(&r);
    return rc;
}

/* ---- one batch ---- */

static int count_rows(struct table_ctx *t, const char *quoted, int64_t *n, struct sl_err *err)
{
    struct sl_buf b;
    struct sl_rows r;
    sl_buf_init(&b);
    sl_buf_printf(&b, "SELECT count(*) FROM %s", quoted);
    int rc = sl_meta_exec_buf(t->ops, t->d, &b, 0, NULL, &r, NULL, err);
    sl_buf_free(&b);
    if (rc < 0)
        return -1;
    *n = sl_rows_int(&r, 0, 0);
    sl_rows_free(&r);
    return 0;
}

static int rollback_one(struct table_ctx *t, int64_t batch, const char *kind,
                        struct sl_rollback_step *st, struct sl_err *err)
{
    char ids[24];
    char *tq = t->ops->table_sql(t->d, t->table);
    struct sl_buf sql;
    int rc = -1;

    if (!tq)
        return sl_err_nomem(err);
    snprintf(ids, sizeof ids, "%" PRId64, batch);
    const char *p[] = {ids};
    sl_buf_init(&sql);

    if (kind && strcmp(kind, "snapshot") == 0) {
        struct sl_schema s = {0};
        int exists = t->ops->describe(t->d, t->table, &s, err);
        sl_schema_free(&s);
        if (exists < 0 || (exists && count_rows(t, tq, &st->removed, err) < 0))
            goto done;
        int back = t->ops->restore_prev(t->d, t->table, batch, err);
        if (back < 0)
            goto done;
        if (back == 0) {
            sl_err_set(err, SL_E_INPUT,
                       "the table batch %" PRId64 " replaced is no longer kept (sluice keeps the"
                       " tables replaced by the last %d snapshot loads of each table)",
                       batch, SL_KEEP_PREV);
            goto done;
        }
        rc = count_rows(t, tq, &st->restored, err);
        goto done;
    }

    /* docs/invariants.md #3: every row carries its batch */
    sl_buf_printf(&sql, "DELETE FROM %s WHERE \"_sluice_batch\" = $1", tq);
    if (sl_meta_exec_buf(t->ops, t->d, &sql, 1, p, NULL, &st->removed, err) < 0)
        goto done;
    if (t->hist) {
        struct sl_buf cols;
        sl_buf_init(&cols);
        if (sl_common_columns(t->ops, t->d, tq, t->hist, &cols, err) < 0) {
            sl_buf_free(&cols);
            goto done;
        }
        sl_buf_reset(&sql);
        sl_buf_printf(&sql, "INSERT INTO %s (%s) SELECT %s FROM %s WHERE \"_sluice_replaced_by\" = $1",
                      tq, cols.data, cols.data, t->hist);
        sl_buf_free(&cols);
        if (sl_meta_exec_buf(t->ops, t->d, &sql, 1, p, NULL, &st->restored, err) < 0)
            goto done;
        sl_buf_reset(&sql);
        sl_buf_printf(&sql, "DELETE FROM %s WHERE \"_sluice_replaced_by\" = $1", t->hist);
        if (sl_meta_exec_buf(t->ops, t->d, &sql, 1, p, NULL, NULL, err) < 0)
            goto done;
    }
    rc = 0;
done:
    if (rc < 0)
        sl_err_prefix(err, "rolling back batch %" PRId64 " of table \"%s\"", batch, t->table);
    sl_buf_free(&sql);
    sl_free(tq);
    return rc;
}

void sl_rollback_result_free(struct sl_rollback_result *r)
{
    for (size_t i = 0; r && i < r->nsteps; i++) {
        sl_free(r->steps[i].table);
        sl_free(r->steps[i].kind);
    }
    if (r) {
        sl_free(r->steps);
        r->steps = NULL;
        r->nsteps = 0;
    }
}

static int loaded_state(const char *s)
{
    return s && (strcmp(s, "committed") == 0 || strcmp(s, "approved") == 0);
}

int sl_rollback_batch(const struct sl_dest_ops *ops, struct sl_dest *d, int64_t batch,
                      const char *const *pk, size_t npk, int cascade, const char *who,
                      struct sl_rollback_result *out, struct sl_err *err)
{
    struct sl_rows row = {0};
    struct idset set = {0};
    struct sl_buf why;
    struct table_ctx t = {ops, d, NULL, NULL};
    char *table = NULL, *kind = NULL;
    int rc = -1;

    memset(out, 0, sizeof *out);
    sl_buf_init(&why);
    if (ops->begin(d, err) < 0)
        return -1;
    if (sl_rollback_lookup(ops, d, batch, &row, err) < 0)
        goto fail;
    if (row.nrows == 0) {
        sl_err_set(err, SL_E_NOTFOUND, "no batch %" PRId64 " in the ledger", batch);
        goto fail;
    }
    table = sl_strdup(sl_rows_get(&row, 0, 2));
    kind = sl_strdup(sl_rows_get(&row, 0, 3) ? sl_rows_get(&row, 0, 3) : "append");
    sl_rows_free(&row);
    if (!table || !kind) {
        sl_err_nomem(err);
        goto fail;
    }
    t.table = table;
    if (ops->lock_table(d, table, err) < 0)
        goto fail;
    /* the state once the table is ours: a loader may have been mid-commit */
    if (sl_rollback_lookup(ops, d, batch, &row, err) < 0)
        goto fail;
    const char *state = row.nrows ? sl_rows_get(&row, 0, 4) : NULL;
    if (!loaded_state(state)) {
        sl_err_set(err, SL_E_STATE,
                   "batch %" PRId64 " of table \"%s\" is %s, not committed: only a committed"
                   " batch can be rolled back%s", batch, table, state ? state : "gone",
                   state && strcmp(state, "quarantined") == 0 ? " (use sluice reject)" : "");
        sl_rows_free(&row);
        goto fail;
    }
    sl_rows_free(&row);

    int h = ops->hist_table(d, table, &t.hist, err);
    if (h < 0)
        goto fail;
    if (h == 0) {
        sl_free(t.hist);
        t.hist = NULL;
    }

    /* what stands in the way, and what stands in the way of that */
    if (idset_add(&set, batch) < 0 || blockers(&t, batch, kind, pk, npk, &set, &why, err) < 0)
        goto oom_or_fail;
    for (size_t i = 1; i < set.n; i++) {
        struct sl_rows kr;
        if (sl_rollback_lookup(ops, d, set.ids[i], &kr, err) < 0)
            goto fail;
        const char *k = kr.nrows ? sl_rows_get(&kr, 0, 3) : NULL;
        rc = blockers(&t, set.ids[i], k, pk, npk, &set, NULL, err);
        sl_rows_free(&kr);
        if (rc < 0)
            goto fail;
        rc = -1;
    }
    qsort(set.ids, set.n, sizeof *set.ids, cmp_desc);
    if (set.n > 1 && !cascade) {
        sl_buf_puts(&why, "; use --cascade to roll back batches ");
        for (size_t i = 0; i < set.n; i++)
            sl_buf_printf(&why, "%s%" PRId64, i == 0 ? "" : i + 1 == set.n ? " and " : ", ",
                          set.ids[i]);
        sl_buf_puts(&why, " together, newest first");
        if (why.oom)
            goto oom_or_fail;
        sl_err_set(err, SL_E_INPUT, "cannot roll back batch %" PRId64 " of table \"%s\": %s",
                   batch, table, why.data);
        goto fail;
    }

    out->steps = sl_calloc(set.n, sizeof *out->steps);
    if (!out->steps)
        goto oom_or_fail;
    for (size_t i = 0; i < set.n; i++) {
        struct sl_rows kr;
        struct sl_rollback_step *st = &out->steps[out->nsteps];
        int64_t b = set.ids[i];
        char note[96];
        if (sl_rollback_lookup(ops, d, b, &kr, err) < 0)
            goto fail;
        st->batch = b;
        st->table = sl_strdup(table);
        st->kind = sl_strdup(kr.nrows && sl_rows_get(&kr, 0, 3) ? sl_rows_get(&kr, 0, 3) : "append");
        sl_rows_free(&kr);
        out->nsteps++;
        if (!st->table || !st->kind)
            goto oom_or_fail;
        if (rollback_one(&t, b, st->kind, st, err) < 0)
            goto fail;
        if (b == batch)
            note[0] = '\0';
        else
            snprintf(note, sizeof note, "with batch %" PRId64 " (--cascade)", batch);
        if (sl_rollback_mark(ops, d, b, who, note, &st->drops, err) < 0)
            goto fail;
    }
    if (ops->commit(d, err) < 0)
        goto fail;
    rc = 0;
    goto done;

oom_or_fail:
    if (err->code == SL_E_NONE)
        sl_err_nomem(err);
fail:
    ops->rollback(d);
    sl_rollback_result_free(out);
    rc = -1;
done:
    sl_rows_free(&row);
    sl_free(set.ids);
    sl_buf_free(&why);
    sl_free(t.hist);
    sl_free(table);
    sl_free(kind);
    return rc;
}
