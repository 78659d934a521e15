/* engine/snapshot.c: snapshots of a table (see snapshot.h). The copy itself is
 * the destination's (copy_out keeps every value exactly as stored); the
 * bookkeeping here is plain SQL through exec with bound values. */
#include "engine/snapshot.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/mem.h"
#include "base/value.h"
#include "engine/meta.h"
#include "engine/rollback.h"

/* 1 when `table` is there, 0 when not, -1 on error. */
static int table_exists(const struct sl_dest_ops *ops, struct sl_dest *d, const char *table,
                        struct sl_err *err)
{
    struct sl_schema s = {0};
    int exists = ops->describe(d, table, &s, err);
    sl_schema_free(&s);
    return exists;
}

/* The quoted name of snapshot `id`'s table. */
static char *snap_sql(const struct sl_dest_ops *ops, struct sl_dest *d, int64_t id)
{
    char name[40];
    snprintf(name, sizeof name, "snap_%" PRId64, id);
    return ops->own_table_sql(d, name);
}

int sl_snapshot_take(const struct sl_dest_ops *ops, struct sl_dest *d, const char *table,
                     int64_t *id, struct sl_err *err)
{
    struct sl_rows r = {0};
    char now[32], name[40], ids[24], rows_txt[24];
    int64_t rows = 0;

    *id = 0;
    if (ops->begin(d, err) < 0)
        return -1;
    /* loaders wait: the copy holds exactly the batches up to last_batch */
    if (ops->lock_table(d, table, err) < 0)
        goto fail;
    int exists = table_exists(ops, d, table, err);
    if (exists < 0)
        goto fail;
    if (!exists) {
        sl_err_set(err, SL_E_NOTFOUND, "table \"%s\" does not exist (yet): nothing to snapshot",
                   table);
        goto fail;
    }
    const char *p1[] = {table};
    if (sl_meta_exec(ops, d, "SELECT max(id) FROM {batches} WHERE table_name = $1 AND state IN "
                             SL_LOADED_STATES, 1, p1, &r, err) < 0)
        goto fail;
    const char *last = r.nrows ? sl_rows_get(&r, 0, 0) : NULL;
    sl_time_format(sl_time_now(), now);
    const char *p2[] = {table, now, last};
    struct sl_rows idr;
    if (sl_meta_exec(ops, d, "INSERT INTO {snapshots} (table_name, taken_at, last_batch, rows)"
                             " VALUES ($1, $2, $3, 0) RETURNING id", 3, p2, &idr, err) < 0)
        goto fail;
    *id = sl_rows_int(&idr, 0, 0);
    sl_rows_free(&idr);
    if (*id <= 0) {
        sl_err_set(err, SL_E_INTERNAL, "the snapshots table did not return an id");
        goto fail;
    }
    snprintf(name, sizeof name, "snap_%" PRId64, *id);
    if (ops->copy_out(d, table, name, &rows, err) < 0)
        goto fail;
    snprintf(ids, sizeof ids, "%" PRId64, *id);
    snprintf(rows_txt, sizeof rows_txt, "%" PRId64, rows);
    const char *p3[] = {ids, rows_txt};
    if (sl_meta_exec(ops, d, "UPDATE {snapshots} SET rows = $2 WHERE id = $1", 2, p3, NULL,
                     err) < 0)
        goto fail;
    if (ops->commit(d, err) < 0)
        goto fail;
    sl_rows_free(&r);
    return 0;
fail:
    ops->rollback(d);
    sl_rows_free(&r);
    *id = 0;
    sl_err_prefix(err, "snapshot of table \"%s\"", table);
    return -1;
}

static int drop_snapshot(const struct sl_dest_ops *ops, struct sl_dest *d, int64_t id,
                         struct sl_err *err)
{
    char ids[24];
    char *q = snap_sql(ops, d, id);
    struct sl_buf b;
    sl_buf_init(&b);
    sl_buf_printf(&b, "DROP TABLE IF EXISTS %s", q ? q : "");
    int rc = q ? sl_meta_exec_buf(ops, d, &b, 0, NULL, NULL, NULL, err)
               : sl_err_nomem(err);
    sl_buf_free(&b);
    sl_free(q);
    snprintf(ids, sizeof ids, "%" PRId64, id);
    const char *p[] = {ids};
    if (rc == 0)
        rc = sl_meta_exec(ops, d, "DELETE FROM {snapshots} WHERE id = $1", 1, p, NULL, err);
    return rc;
}

int sl_snapshot_prune(const struct sl_dest_ops *ops, struct sl_dest *d, const char *table,
                      long keep, struct sl_err *err)
{
    struct sl_rows r;
    if (keep <= 0)
        return 0;
    if (ops->begin(d, err) < 0)
        return -1;
    const char *p[] = {table};
    if (sl_meta_exec(ops, d, "SELECT id FROM {snapshots} WHERE table_name = $1 ORDER BY id DESC",
                     1, p, &r, err) < 0)
        goto fail;
    for (size_t i = (size_t)keep; i < r.nrows; i++)
        if (drop_snapshot(ops, d, sl_rows_int(&r, i, 0), err) < 0) {
            sl_rows_free(&r);
            goto fail;
        }
    sl_rows_free(&r);
    if (ops->commit(d, err) < 0)
        goto fail;
    return 0;
fail:
    ops->rollback(d);
    sl_err_prefix(err, "pruning the snapshots of table \"%s\"", table);
    return -1;
}

int sl_snapshot_due(const struct sl_dest_ops *ops, struct sl_dest *d, const char *table,
                    double every_seconds, int *due, struct sl_err *err)
{
    struct sl_rows r;
    char since[32];
    *due = 0;
    sl_time_format(sl_time_now() - (sl_usec)(every_seconds * 1e6), since);
    const char *p[] = {table, since};
    /* taken_at is canonical UTC text in SQLite, so text order is time order */
    if (sl_meta_exec(ops, d,
                     "SELECT (SELECT count(*) FROM {batches} WHERE table_name = $1 AND state IN "
                     SL_LOADED_STATES "),"
                     " (SELECT count(*) FROM {snapshots} WHERE table_name = $1 AND taken_at > $2)",
                     2, p, &r, err) < 0)
        return -1;
    *due = sl_rows_int(&r, 0, 0) > 0 && sl_rows_int(&r, 0, 1) == 0;
    sl_rows_free(&r);
    return 0;
}

int sl_snapshot_list(const struct sl_dest_ops *ops, struct sl_dest *d, const char *table,
                     struct sl_rows *out, struct sl_err *err)
{
    const char *p[] = {table};
    return sl_meta_exec(ops, d,
                        "SELECT id, table_name, taken_at, last_batch, rows FROM {snapshots}"
                        " WHERE (CAST($1 AS TEXT) IS NULL OR table_name = $1) ORDER BY id DESC",
                        1, p, out, err);
}

void sl_snapshot_restored_free(struct sl_snapshot_restored *r)
{
    if (!r)
        return;
    sl_free(r->rolled_back);
    memset(r, 0, sizeof *r);
}

int sl_snapshot_restore(const struct sl_dest_ops *ops, struct sl_dest *d, const char *table,
                        int64_t snap, const char *who, struct sl_snapshot_restored *out,
                        struct sl_err *err)
{
    struct sl_rows r = {0}, later = {0};
    struct sl_buf sql, cols, list;
    char ids[24], last_txt[24], note[64];
    char *tq = NULL, *sq = NULL, *hist = NULL, *bt = NULL;
    int rc = -1;

    memset(out, 0, sizeof *out);
    sl_buf_init(&sql);
    sl_buf_init(&cols);
    sl_buf_init(&list);
    snprintf(ids, sizeof ids, "%" PRId64, snap);
    if (ops->begin(d, err) < 0)
        return -1;
    if (ops->lock_table(d, table, err) < 0)
        goto fail;
    const char *p1[] = {ids};
    if (sl_meta_exec(ops, d, "SELECT table_name, last_batch FROM {snapshots} WHERE id = $1", 1, p1,
                     &r, err) < 0)
        goto fail;
    if (r.nrows == 0) {
        sl_err_set(err, SL_E_NOTFOUND, "no snapshot %" PRId64 " (sluice snapshots lists them)",
                   snap);
        goto fail;
    }
    if (strcmp(sl_rows_get(&r, 0, 0), table) != 0) {
        sl_err_set(err, SL_E_NOTFOUND, "snapshot %" PRId64 " is of table \"%s\"", snap,
                   sl_rows_get(&r, 0, 0));
        goto fail;
    }
    out->last_batch = sl_rows_int(&r, 0, 1);
    sl_rows_free(&r);
    snprintf(last_txt, sizeof last_txt, "%" PRId64, out->last_batch);

    tq = ops->table_sql(d, table);
    sq = snap_sql(ops, d, snap);
    bt = sl_meta_sql(ops, d, "{batches}");
    if (!tq || !sq || !bt) {
        sl_err_nomem(err);
        goto fail;
    }
    int exists = table_exists(ops, d, table, err);
    if (exists < 0)
        goto fail;
    if (!exists) {
        sl_err_set(err, SL_E_NOTFOUND, "table \"%s\" does not exist", table);
        goto fail;
    }

    /* a batch rolled back after the snapshot was taken must stay out */
    sl_buf_printf(&sql, "SELECT DISTINCT \"_sluice_batch\" FROM %s WHERE \"_sluice_batch\" IN"
                  " (SELECT id FROM %s WHERE state = 'rolled_back') ORDER BY 1", sq, bt);
    if (sl_meta_exec_buf(ops, d, &sql, 0, NULL, &r, NULL, err) < 0)
        goto fail;
    if (r.nrows > 0) {
        for (size_t i = 0; i < r.nrows; i++)
            sl_buf_printf(&list, "%s%s", i ? ", " : "", sl_rows_get(&r, i, 0));
        sl_err_set(err, SL_E_INPUT,
                   "snapshot %" PRId64 " holds rows of batch(es) %s, rolled back since it was"
                   " taken: restoring it would bring them back", snap,
                   list.data ? list.data : "");
        goto fail;
    }
    sl_rows_free(&r);

    const char *p2[] = {table, last_txt};
    if (sl_meta_exec(ops, d, "SELECT id FROM {batches} WHERE table_name = $1 AND id > $2"
                             " AND state IN " SL_LOADED_STATES " ORDER BY id DESC", 2, p2, &later,
                     err) < 0)
        goto fail;

    if (sl_common_columns(ops, d, tq, sq, &cols, err) < 0)
        goto fail;
    int64_t deleted = 0;
    sl_buf_reset(&sql);
    sl_buf_printf(&sql, "DELETE FROM %s", tq);
    if (sl_meta_exec_buf(ops, d, &sql, 0, NULL, NULL, &deleted, err) < 0)
        goto fail;
    sl_buf_reset(&sql);
    sl_buf_printf(&sql, "INSERT INTO %s (%s) SELECT %s FROM %s", tq, cols.data, cols.data, sq);
    if (sl_meta_exec_buf(ops, d, &sql, 0, NULL, NULL, &out->rows, err) < 0)
        goto fail;

    int h = ops->hist_table(d, table, &hist, err);
    if (h < 0)
        goto fail;
    snprintf(note, sizeof note, "restored to snapshot %" PRId64, snap);
    if (later.nrows) {
        out->rolled_back = sl_calloc(later.nrows, sizeof *out->rolled_back);
        if (!out->rolled_back) {
            sl_err_nomem(err);
            goto fail;
        }
    }
    for (size_t i = 0; i < later.nrows; i++) {
        int64_t b = sl_rows_int(&later, i, 0);
        const char *pb[] = {sl_rows_get(&later, i, 0)};
        if (h == 1) {
            sl_buf_reset(&sql);
            sl_buf_printf(&sql, "DELETE FROM %s WHERE \"_sluice_replaced_by\" = $1", hist);
            if (sl_meta_exec_buf(ops, d, &sql, 1, pb, NULL, NULL, err) < 0)
                goto fail;
        }
        int64_t forgot = 0;
        if (ops->drop_prev(d, table, b, err) < 0 ||
            sl_rollback_mark(ops, d, b, who, note, &forgot, err) < 0)
            goto fail;
        out->drops += forgot;
        out->rolled_back[out->nrolled_back++] = b;
    }
    if (ops->commit(d, err) == 0)
        rc = 0;
fail:
    if (rc < 0) {
        ops->rollback(d);
        sl_err_prefix(err, "restoring table \"%s\" to snapshot %" PRId64, table, snap);
    }
    sl_rows_free(&r);
    sl_rows_free(&later);
    sl_buf_free(&sql);
    sl_buf_free(&cols);
    sl_buf_free(&list);
    sl_free(tq);
    sl_free(sq);
    sl_free(bt);
    sl_free(hist);
    if (rc < 0)
        sl_snapshot_restored_free(out);
    return rc;
}
