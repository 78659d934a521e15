/* engine/deadletter.c: the dead letter table (see deadletter.h). The SQL runs
 * unchanged on every warehouse; the table's DDL is the destination's to say
 * (its dialect's dead_letter). Timestamps are passed as canonical UTC text,
 * like the ledger's. */
#include "engine/deadletter.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <xxhash.h>

#include "base/mem.h"
#include "base/value.h"

/* *yes = 1 when the first cell `sql` answers is true: "t" or a number
 * other than 0. */
static int answers_true(const struct sl_dest_ops *ops, struct sl_dest *d, const char *sql,
                        int *yes, struct sl_err *err)
{
    struct sl_rows r;
    if (ops->exec(d, sql, 0, NULL, &r, err) < 0)
        return -1;
    const char *v = r.nrows && r.ncols ? sl_rows_get(&r, 0, 0) : NULL;
    *yes = v && (v[0] == 't' || strtoll(v, NULL, 10) != 0);
    sl_rows_free(&r);
    return 0;
}

int sl_deadletter_ensure(const struct sl_dest_ops *ops, struct sl_dest *d, struct sl_err *err)
{
    const struct sl_ddl *ddl = &ops->dialect->dead_letter;
    int skip = 0;

    if (ddl->unless && answers_true(ops, d, ddl->unless, &skip, err) < 0)
        return -1;
    if (skip)
        return 0;
    if (ddl->transaction && ops->begin(d, err) < 0)
        return -1;
    const struct sl_ddl_step *st;
    for (st = ddl->steps; st->sql; st++) {
        skip = 0;
        if ((st->unless && answers_true(ops, d, st->unless, &skip, err) < 0) ||
            (!skip && ops->exec(d, st->sql, 0, NULL, NULL, err) < 0))
            break;
    }
    if (!st->sql && (!ddl->transaction || ops->commit(d, err) == 0))
        return 0;
    if (ddl->transaction)
        ops->rollback(d);
    sl_err_prefix(err, "could not create the dead letter table");
    return -1;
}

/* SQL with the table's name in place of {dl}. */
static char *with_table(const struct sl_dest_ops *ops, struct sl_dest *d, const char *tmpl)
{
    const char *q = ops->meta_table(d, "dead_letter");
    const char *at = strstr(tmpl, "{dl}");
    struct sl_buf b;
    if (!q || !at)
        return NULL;
    sl_buf_init(&b);
    sl_buf_append(&b, tmpl, (size_t)(at - tmpl));
    sl_buf_puts(&b, q);
    sl_buf_puts(&b, at + 4);
    return b.oom ? (sl_buf_free(&b), NULL) : sl_buf_steal(&b);
}

static int run(const struct sl_dest_ops *ops, struct sl_dest *d, const char *tmpl, int n,
               const char *const *p, struct sl_rows *out, struct sl_err *err)
{
    char *sql = with_table(ops, d, tmpl);
    if (!sql)
        return sl_err_set(err, SL_E_NOMEM, "out of memory");
    int rc = ops->exec(d, sql, n, p, out, err);
    sl_free(sql);
    return rc;
}

/* A copy that is valid UTF-8 without NUL (a text column takes nothing else):
 * messages quote values cut at a byte count, which may split a character. */
static char *text_of(const char *s, size_t n)
{
    char *out = sl_malloc(n + 1);
    size_t o = 0;
    if (!out)
        return NULL;
    for (size_t i = 0; i < n;) {
        unsigned char c = (unsigned char)s[i];
        size_t k = c < 0x80 ? 1 : c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 1;
        if (i + k <= n && sl_utf8_valid(s + i, k)) {
            memcpy(out + o, s + i, k);
            o += k;
            i += k;
        } else {
            out[o++] = '?';
            i++;
        }
    }
    out[o] = '\0';
    return out;
}

int sl_deadletter_put(const struct sl_dest_ops *ops, struct sl_dest *d,
                      const struct sl_dead_letter *dl, struct sl_err *err)
{
    char batch[24];
    char *payload = text_of(dl->payload, dl->payload_len);
    char *error = text_of(dl->error, strlen(dl->error));
    char *id = dl->event_id ? text_of(dl->event_id, strlen(dl->event_id)) : NULL;
    if (!payload || !error || (dl->event_id && !id)) {
        sl_free(payload);
        sl_free(error);
        sl_free(id);
        return sl_err_set(err, SL_E_NOMEM, "out of memory");
    }
    snprintf(batch, sizeof batch, "%" PRId64, dl->batch_id);
    /* "id:<event id>", else "h:<xxh3-128 of the event's bytes>" */
    struct sl_buf dedupe;
    sl_buf_init(&dedupe);
    if (dl->dedupe) {
        sl_buf_puts(&dedupe, dl->dedupe);
    } else if (id) {
        sl_buf_printf(&dedupe, "id:%s", id);
    } else {
        XXH128_hash_t h = XXH3_128bits(dl->payload, dl->payload_len);
        sl_buf_printf(&dedupe, "h:%016llx%016llx", (unsigned long long)h.high64,
                      (unsigned long long)h.low64);
    }
    if (dedupe.oom) {
        sl_free(payload);
        sl_free(error);
        sl_free(id);
        return sl_err_set(err, SL_E_NOMEM, "out of memory");
    }
    const char *p[] = {dl->pipeline, dl->table, id, error, payload, dl->received_at, batch,
                       dedupe.data};
    int rc = run(ops, d,
                 "INSERT INTO {dl} (pipeline, table_name, event_id, error, payload, received_at,"
                 " batch_id, dedupe) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
                 " ON CONFLICT (pipeline, table_name, dedupe) DO NOTHING", 8, p, NULL, err);
    sl_buf_free(&dedupe);
    sl_free(payload);
    sl_free(error);
    sl_free(id);
    if (rc < 0)
        sl_err_prefix(err, "could not write to the dead letter table");
    return rc;
}

int sl_deadletter_replayed(const struct sl_dest_ops *ops, struct sl_dest *d, int64_t id,
                           int64_t batch_id, struct sl_err *err)
{
    char ids[24], batch[24], now[32];
    snprintf(ids, sizeof ids, "%" PRId64, id);
    snprintf(batch, sizeof batch, "%" PRId64, batch_id);
    sl_time_format(sl_time_now(), now);
    const char *p[] = {now, batch, ids};
    return run(ops, d, "UPDATE {dl} SET replayed_at = $1, replayed_by = $2 WHERE id = $3", 3, p,
               NULL, err);
}

int sl_deadletter_refail(const struct sl_dest_ops *ops, struct sl_dest *d, int64_t id,
                         const char *error, int64_t batch_id, struct sl_err *err)
{
    char ids[24], batch[24];
    char *text = text_of(error, strlen(error));
    if (!text)
        return sl_err_set(err, SL_E_NOMEM, "out of memory");
    snprintf(ids, sizeof ids, "%" PRId64, id);
    snprintf(batch, sizeof batch, "%" PRId64, batch_id);
    const char *p[] = {text, batch, ids};
    int rc = run(ops, d, "UPDATE {dl} SET error = $1, batch_id = $2 WHERE id = $3", 3, p, NULL,
                 err);
    sl_free(text);
    return rc;
}

int sl_deadletter_list(const struct sl_dest_ops *ops, struct sl_dest *d, const char *pipeline,
                       const int64_t *ids, size_t nids, int64_t after_id, long limit,
                       struct sl_rows *out, struct sl_err *err)
{
    struct sl_buf sql;
    char after[24];
    const char **p = sl_calloc(nids + 2, sizeof *p);
    char (*idtext)[24] = sl_calloc(nids + 1, sizeof *idtext);
    int rc = -1;

    memset(out, 0, sizeof *out);
    sl_buf_init(&sql);
    if (!p || !idtext) {
        sl_err_set(err, SL_E_NOMEM, "out of memory");
        goto done;
    }
    snprintf(after, sizeof after, "%" PRId64, after_id);
    p[0] = pipeline;
    p[1] = after;
    sl_buf_puts(&sql, "SELECT id, table_name, payload, received_at, replayed_at, event_id"
                      " FROM {dl}"
                      " WHERE pipeline = $1 AND id > $2");
    if (ids) {
        sl_buf_puts(&sql, " AND id IN (");
        for (size_t i = 0; i < nids; i++) {
            snprintf(idtext[i], sizeof idtext[i], "%" PRId64, ids[i]);
            p[i + 2] = idtext[i];
            sl_buf_printf(&sql, "%s$%zu", i ? ", " : "", i + 3);
        }
        sl_buf_putc(&sql, ')');
    } else {
        sl_buf_puts(&sql, " AND replayed_at IS NULL");
    }
    /* a number of ours, not a value from input */
    sl_buf_printf(&sql, " ORDER BY id LIMIT %ld", limit);
    if (sql.oom) {
        sl_err_set(err, SL_E_NOMEM, "out of memory");
        goto done;
    }
    rc = run(ops, d, sql.data, (int)(nids + 2), p, out, err);
done:
    sl_buf_free(&sql);
    sl_free(p);
    sl_free(idtext);
    return rc;
}
