/* engine/ledger.c: the batch ledger (see ledger.h). SQL here is plain enough to
 * run unchanged on PostgreSQL and SQLite; table names come from the
 * destination's meta_table(), timestamps are passed in as canonical UTC text. */
#include "engine/ledger.h"

#include <inttypes.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/mem.h"
#include "base/value.h"
#include "engine/meta.h"

static int exec_sql(struct sl_ledger *l, const char *tmpl, int n, const char *const *p,
                    struct sl_rows *out, struct sl_err *err)
{
    return sl_meta_exec(l->ops, l->d, tmpl, n, p, out, err);
}

static void now_text(char out[32])
{
    sl_time_format(sl_time_now(), out);
}

int sl_ledger_find_file(struct sl_ledger *l, const char *table, const char *hash,
                        int64_t *batch_id, struct sl_err *err)
{
    struct sl_rows r;
    const char *p[] = {table, hash};
    *batch_id = 0;
    if (exec_sql(l, "SELECT batch_id FROM {files} WHERE table_name = $1 AND content_hash = $2", 2, p, &r, err) < 0)
        return -1;
    *batch_id = sl_rows_int(&r, 0, 0);
    sl_rows_free(&r);
    return 0;
}

int sl_ledger_last_loaded(struct sl_ledger *l, const char *table, int64_t *id,
                          struct sl_err *err)
{
    struct sl_rows r;
    const char *p[] = {table};
    *id = 0;
    if (exec_sql(l, "SELECT max(id) FROM {batches} WHERE table_name = $1"
                    " AND state IN ('committed', 'approved')", 1, p, &r, err) < 0)
        return -1;
    *id = sl_rows_int(&r, 0, 0);
    sl_rows_free(&r);
    return 0;
}

int sl_ledger_forget_files(struct sl_ledger *l, const char *table, struct sl_err *err)
{
    const char *p[] = {table};
    return exec_sql(l, "DELETE FROM {files} WHERE table_name = $1", 1, p, NULL, err);
}

int sl_ledger_open(struct sl_ledger *l, const struct sl_batch_meta *m, int64_t *id,
                   struct sl_err *err)
{
    struct sl_rows r;
    char now[32], bytes[24];
    now_text(now);
    snprintf(bytes, sizeof bytes, "%" PRIu64, m->bytes);
    const char *p[] = {m->pipeline, m->table, m->kind, m->source_ref, m->hash, bytes, now};
    if (exec_sql(l,
                 "INSERT INTO {batches} (pipeline, table_name, kind, state, source_ref, content_hash,"
                 " bytes, started_at) VALUES ($1, $2, $3, 'received', $4, $5, $6, $7)"
                 " RETURNING id", 7, p, &r, err) < 0)
        return -1;
    *id = sl_rows_int(&r, 0, 0);
    sl_rows_free(&r);
    if (*id <= 0)
        return sl_err_set(err, SL_E_INTERNAL, "ledger did not return a batch id");
    return 0;
}

int sl_ledger_commit(struct sl_ledger *l, int64_t id, int64_t rows_in, int64_t rows_written,
                     const char *report_json, struct sl_err *err)
{
    char ids[24], in[24], wr[24], now[32];
    snprintf(ids, sizeof ids, "%" PRId64, id);
    snprintf(in, sizeof in, "%" PRId64, rows_in);
    snprintf(wr, sizeof wr, "%" PRId64, rows_written);
    now_text(now);
    const char *p[] = {ids, in, wr, now, report_json};
    return exec_sql(l,
                    "UPDATE {batches} SET state = 'committed', rows_in = $2, rows_written = $3,"
                    " finished_at = $4, report = COALESCE($5, report), error = NULL"
                    " WHERE id = $1", 5, p, NULL, err);
}

int sl_ledger_record_file(struct sl_ledger *l, const char *table, const char *hash,
                          const char *name, uint64_t bytes, int64_t batch_id,
                          struct sl_err *err)
{
    char b[24], id[24], now[32];
    snprintf(b, sizeof b, "%" PRIu64, bytes);
    snprintf(id, sizeof id, "%" PRId64, batch_id);
    now_text(now);
    const char *p[] = {table, hash, name, b, id, now};
    return exec_sql(l,
                    "INSERT INTO {files} (table_name, content_hash, name, bytes, batch_id, loaded_at)"
                    " VALUES ($1, $2, $3, $4, $5, $6)", 6, p, NULL, err);
}

int sl_ledger_record_failure(struct sl_ledger *l, const struct sl_batch_meta *m,
                             const char *error, int64_t *id, struct sl_err *err)
{
    struct sl_rows r;
    char now[32], bytes[24];
    if (id)
        *id = 0;
    now_text(now);
    snprintf(bytes, sizeof bytes, "%" PRIu64, m->bytes);
    const char *p[] = {m->pipeline, m->table, m->kind, m->source_ref, m->hash, bytes, now, error};
    if (l->ops->begin(l->d, err) < 0)
        return -1;
    if (exec_sql(l,
                 "INSERT INTO {batches} (pipeline, table_name, kind, state, source_ref, content_hash,"
                 " bytes, started_at, finished_at, error)"
                 " VALUES ($1, $2, $3, 'failed', $4, $5, $6, $7, $7, $8) RETURNING id", 8, p, &r,
                 err) < 0) {
        l->ops->rollback(l->d);
        return -1;
    }
    if (id)
        *id = sl_rows_int(&r, 0, 0);
    sl_rows_free(&r);
    return l->ops->commit(l->d, err);
}

int sl_ledger_list(struct sl_ledger *l, const char *table, const char *state, long limit,
                   struct sl_rows *out, struct sl_err *err)
{
    char lim[24];
    snprintf(lim, sizeof lim, "%ld", limit > 0 ? limit : 100);
    const char *p[] = {table, state, lim};
    return exec_sql(l,
                    "SELECT id, pipeline, table_name, kind, state, source_ref, rows_in,"
                    " rows_written, bytes, started_at, finished_at, error,"
                    " CAST(report AS TEXT) AS report, decision, held"
                    " FROM {batches} WHERE (CAST($1 AS TEXT) IS NULL OR table_name = $1)"
                    " AND (CAST($2 AS TEXT) IS NULL OR state = $2) ORDER BY id DESC LIMIT $3", 3, p, out, err);
}

int sl_ledger_table_status(struct sl_ledger *l, const char *table, struct sl_rows *out,
                           struct sl_err *err)
{
    const char *p[] = {table};
    /* last batch of any state, and the last committed one */
    return exec_sql(l,
                    "SELECT b.id, b.state, b.rows_in, b.finished_at, b.error,"
                    " (SELECT c.id FROM {batches} c WHERE c.table_name = $1 AND c.state = 'committed'"
                    "   ORDER BY c.id DESC LIMIT 1),"
                    " (SELECT c.finished_at FROM {batches} c WHERE c.table_name = $1"
                    "   AND c.state = 'committed' ORDER BY c.id DESC LIMIT 1),"
                    " (SELECT count(*) FROM {batches} c WHERE c.table_name = $1 AND c.state = 'quarantined'),"
                    " (SELECT sum(c.rows_written) FROM {batches} c WHERE c.table_name = $1"
                    "   AND c.state = 'committed')"
                    " FROM {batches} b WHERE b.table_name = $1 ORDER BY b.id DESC LIMIT 1", 1, p, out, err);
}

int sl_ledger_history(struct sl_ledger *l, const char *table, size_t n, int64_t *rows,
                      int64_t *bytes, size_t *count, struct sl_err *err)
{
    char lim[24];
    struct sl_rows r;
    snprintf(lim, sizeof lim, "%zu", n);
    const char *p[] = {table, lim};
    *count = 0;
    if (exec_sql(l,
                 "SELECT rows_in, bytes FROM {batches} WHERE table_name = $1"
                 " AND state IN ('committed', 'approved') ORDER BY id DESC LIMIT $2",
                 2, p, &r, err) < 0)
        return -1;
    for (size_t i = 0; i < r.nrows && i < n; i++) {
        const char *a = sl_rows_get(&r, i, 0), *b = sl_rows_get(&r, i, 1);
        rows[i] = a ? strtoll(a, NULL, 10) : 0;
        bytes[i] = b ? strtoll(b, NULL, 10) : 0;
        (*count)++;
    }
    sl_rows_free(&r);
    return 0;
}

int sl_ledger_record_quarantine(struct sl_ledger *l, const struct sl_batch_meta *m,
                                const char *report_json, const char *summary,
                                const char *held, int64_t *id, struct sl_err *err)
{
    struct sl_rows r;
    char now[32], bytes[24];
    now_text(now);
    snprintf(bytes, sizeof bytes, "%" PRIu64, m->bytes);
    const char *p[] = {m->pipeline, m->table, m->kind, m->source_ref, m->hash, bytes, now,
                       summary, report_json, held};
    if (l->ops->begin(l->d, err) < 0)
        return -1;
    if (exec_sql(l,
                 "INSERT INTO {batches} (pipeline, table_name, kind, state, source_ref, content_hash,"
                 " bytes, started_at, finished_at, error, report, held)"
                 " VALUES ($1, $2, $3, 'quarantined', $4, $5, $6, $7, $7, $8, $9, $10) RETURNING id",
                 10, p, &r, err) < 0) {
        l->ops->rollback(l->d);
        return -1;
    }
    *id = sl_rows_int(&r, 0, 0);
    sl_rows_free(&r);
    return l->ops->commit(l->d, err);
}

int sl_ledger_first_quarantined(struct sl_ledger *l, const char *table, int64_t *id,
                                struct sl_err *err)
{
    struct sl_rows r;
    const char *p[] = {table};
    *id = 0;
    if (exec_sql(l, "SELECT min(id) FROM {batches} WHERE table_name = $1 AND state = 'quarantined'",
                 1, p, &r, err) < 0)
        return -1;
    *id = sl_rows_int(&r, 0, 0);
    sl_rows_free(&r);
    return 0;
}

int sl_ledger_get(struct sl_ledger *l, int64_t id, const char *pipeline, struct sl_rows *out,
                  struct sl_err *err)
{
    char ids[24];
    snprintf(ids, sizeof ids, "%" PRId64, id);
    const char *p[] = {ids, pipeline};
    return exec_sql(l,
                    "SELECT id, pipeline, table_name, kind, state, source_ref, held,"
                    " CAST(report AS TEXT), error FROM {batches} WHERE id = $1 AND pipeline = $2",
                    2, p, out, err);
}

/* ---- decisions (see ledger.h) ---- */

/* Text for JSON: jansson refuses invalid UTF-8 (a --note in Latin-1), so
 * such bytes become U+FFFD rather than losing the note. NULL -> null. */
static json_t *jtext(const char *s)
{
    if (!s)
        return json_null();
    size_t n = strlen(s);
    if (sl_utf8_valid(s, n))
        return json_stringn(s, n);
    struct sl_buf b;
    sl_buf_init(&b);
    for (size_t i = 0; i < n;) {
        unsigned cp;
        size_t k = (unsigned char)s[i] < 0x80
                       ? 1 : sl_utf8_decode((const unsigned char *)s + i, n - i, &cp);
        if (k == 0) {
            sl_buf_puts(&b, "\xEF\xBF\xBD");
            i++;
        } else {
            sl_buf_append(&b, s + i, k);
            i += k;
        }
    }
    json_t *j = b.oom ? NULL : json_stringn(b.data ? b.data : "", b.len);
    sl_buf_free(&b);
    return j;
}

static json_t *decision_obj(const char *what, const char *who, const char *at, const char *note)
{
    json_t *o = json_object();
    if (!o || json_object_set_new(o, "what", jtext(what)) < 0 ||
        json_object_set_new(o, "who", jtext(who)) < 0 ||
        json_object_set_new(o, "at", jtext(at)) < 0 ||
        json_object_set_new(o, "note", jtext(note && *note ? note : NULL)) < 0) {
        json_decref(o);
        return NULL;
    }
    return o;
}

char *sl_ledger_decision(const char *what, const char *who, const char *at, const char *note)
{
    char now[32];
    if (!at) {
        now_text(now);
        at = now;
    }
    json_t *o = decision_obj(what, who, at, note);
    char *j = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    char *out = j ? sl_strdup(j) : NULL;
    free(j);
    return out;
}

/* A value written before decisions were kept as a list: one line of text.
 * The shapes that version wrote are read back into their parts. */
static json_t *legacy_decision(const char *s)
{
    static const struct { const char *prefix, *what; int by; } shapes[] = {
        {"approved by ", "approved", 1},
        {"rejected by ", "rejected", 1},
        {"rolled back", "rolled back", 0},
        {"restored to snapshot", "rolled back", 0},
        {"its content was loaded by another batch", "rejected", 0},
    };
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) {
        size_t pn = strlen(shapes[i].prefix);
        if (strncmp(s, shapes[i].prefix, pn) != 0)
            continue;
        if (!shapes[i].by) {
            /* the whole line was what sluice said why */
            const char *note = strcmp(shapes[i].prefix, "rolled back") == 0 ? s + pn : s;
            while (*note == ' ')
                note++;
            return decision_obj(shapes[i].what, NULL, NULL, note);
        }
        /* "<what> by <who> at <time>[: <note>]": the time is the first
         * " at " followed by a timestamp, so a name with " at " in it stays whole */
        const char *who = s + pn;
        for (const char *a = strstr(who, " at "); a; a = strstr(a + 1, " at ")) {
            const char *t = a + 4, *z = strchr(t, 'Z');
            sl_usec us;
            char why[64];
            if (!z || (z[1] && (z[1] != ':' || z[2] != ' ')) ||
                sl_time_parse(t, (size_t)(z + 1 - t), NULL, &us, why, sizeof why) < 0)
                continue;
            char *w = sl_strndup(who, (size_t)(a - who));
            char *at = sl_strndup(t, (size_t)(z + 1 - t));
            json_t *o = w && at ? decision_obj(shapes[i].what, w, at, z[1] ? z + 3 : NULL) : NULL;
            sl_free(w);
            sl_free(at);
            return o;
        }
    }
    return decision_obj(s, NULL, NULL, NULL);
}

json_t *sl_ledger_decisions(const char *stored)
{
    const char *s = stored ? stored : "";
    while (*s == ' ' || *s == '\n' || *s == '\t' || *s == '\r')
        s++;
    if (!*s)
        return json_array();
    if (*s == '[') {
        json_t *a = json_loads(s, 0, NULL);
        if (json_is_array(a))
            return a;
        json_decref(a);
    }
    json_t *a = json_array(), *one = legacy_decision(s);
    if (!a || !one || json_array_append_new(a, one) < 0) {
        json_decref(a);
        return NULL;
    }
    return a;
}

int sl_ledger_decision_line(const json_t *d, int whole_seconds, struct sl_buf *out)
{
    const char *what = json_string_value(json_object_get(d, "what"));
    const char *who = json_string_value(json_object_get(d, "who"));
    const char *at = json_string_value(json_object_get(d, "at"));
    const char *note = json_string_value(json_object_get(d, "note"));
    sl_buf_puts(out, what ? what : "decided");
    if (who)
        sl_buf_printf(out, " by %s", who);
    if (at && whole_seconds && strlen(at) > 19 && at[19] == '.')
        sl_buf_printf(out, " at %.19sZ", at);
    else if (at)
        sl_buf_printf(out, " at %s", at);
    if (note)
        sl_buf_printf(out, ": %s", note);
    return out->oom ? -1 : 0;
}

void sl_ledger_os_user(char *out, size_t cap)
{
    struct passwd *pw = getpwuid(geteuid());
    if (pw && pw->pw_name && pw->pw_name[0])
        snprintf(out, cap, "%s", pw->pw_name);
    else
        snprintf(out, cap, "uid %ld", (long)geteuid());
}

/* Appending is read, add, write: the write applies only while the column
 * still holds what was read, so two deciders at once (a reject beside a
 * rollback's transaction) cannot drop each other's decision. */
static const char SQL_DECIDE[] =
    "UPDATE {batches} SET state = COALESCE(CAST($2 AS TEXT), state), decision = $3,"
    " finished_at = CASE WHEN state = 'quarantined' THEN $4 ELSE finished_at END"
    " WHERE id = $1 AND COALESCE(decision, '') = COALESCE(CAST($5 AS TEXT), '')";

int sl_ledger_decide(struct sl_ledger *l, int64_t id, const char *state, const char *decision,
                     struct sl_err *err)
{
    char ids[24], now[32];
    json_t *entry = decision ? json_loads(decision, 0, NULL) : NULL;
    if (!json_is_object(entry)) {
        json_decref(entry);
        return sl_err_set(err, SL_E_INTERNAL, "batch %" PRId64 ": a decision is a JSON object"
                          " (sl_ledger_decision)", id);
    }
    snprintf(ids, sizeof ids, "%" PRId64, id);
    now_text(now);
    char *sql = sl_meta_sql(l->ops, l->d, SQL_DECIDE);
    int rc = sql ? 1 : sl_err_nomem(err);
    for (int tries = 1; rc > 0; tries++) {
        struct sl_rows r;
        const char *p[] = {ids};
        if (exec_sql(l, "SELECT decision FROM {batches} WHERE id = $1", 1, p, &r, err) < 0) {
            rc = -1;
            break;
        }
        if (r.nrows == 0) {
            sl_rows_free(&r);
            rc = sl_err_set(err, SL_E_NOTFOUND, "no batch %" PRId64 " in the ledger", id);
            break;
        }
        const char *old = sl_rows_get(&r, 0, 0);
        json_t *all = sl_ledger_decisions(old);
        char *text = all && json_array_append(all, entry) == 0 ? json_dumps(all, JSON_COMPACT)
                                                                : NULL;
        json_decref(all);
        int64_t changed = 0;
        const char *q[] = {ids, state, text, now, old};
        if (!text)
            rc = sl_err_nomem(err);
        else if (l->ops->exec_count(l->d, sql, 5, q, &changed, err) < 0)
            rc = -1;
        else if (changed == 1)
            rc = 0;
        else if (tries == 3)
            rc = sl_err_retry(err, SL_E_DEST, "the decisions on batch %" PRId64 " kept changing"
                              " while one was added", id);
        free(text);
        sl_rows_free(&r);
    }
    sl_free(sql);
    json_decref(entry);
    return rc;
}

int sl_ledger_get_cursor(struct sl_ledger *l, const char *pipeline, const char *table,
                         char **value, struct sl_err *err)
{
    struct sl_rows r;
    const char *p[] = {pipeline, table};
    *value = NULL;
    if (exec_sql(l, "SELECT value FROM {cursors} WHERE pipeline = $1 AND table_name = $2", 2, p,
                 &r, err) < 0)
        return -1;
    int rc = 0;
    if (r.nrows == 1 && sl_rows_get(&r, 0, 0) && !(*value = sl_strdup(sl_rows_get(&r, 0, 0))))
        rc = sl_err_nomem(err);
    sl_rows_free(&r);
    return rc;
}

int sl_ledger_forget_cursor(struct sl_ledger *l, const char *pipeline, const char *table,
                            struct sl_err *err)
{
    const char *p[] = {pipeline, table};
    return exec_sql(l, "DELETE FROM {cursors} WHERE pipeline = $1 AND table_name = $2", 2, p,
                    NULL, err);
}

int sl_ledger_set_cursor(struct sl_ledger *l, const char *pipeline, const char *table,
                         const char *value, int64_t batch_id, struct sl_err *err)
{
    char id[24], now[32];
    snprintf(id, sizeof id, "%" PRId64, batch_id);
    now_text(now);
    const char *p[] = {pipeline, table, value, id, now};
    return exec_sql(l,
                    "INSERT INTO {cursors} (pipeline, table_name, value, batch_id, updated_at)"
                    " VALUES ($1, $2, $3, $4, $5) ON CONFLICT (pipeline, table_name) DO UPDATE"
                    " SET value = excluded.value, batch_id = excluded.batch_id,"
                    " updated_at = excluded.updated_at", 5, p, NULL, err);
}
