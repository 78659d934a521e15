/* sources/cdc_slot.c: a cdc pipeline's replication slot and publication,
 * looked at and dropped from outside the stream: `sluice cdc status`,
 * `sluice cdc drop`, `sluice status` and the daemon's slot watch call these
 * through sl_source_cdc's slot_state and slot_drop. Each call takes a short
 * connection of its own (never the stream's), so looking never waits
 * behind a batch and a stream never waits behind a look. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/mem.h"
#include "pg/pg.h"
#include "pg/quote.h"
#include "pg/repl.h"
#include "sources/postgres.h"

/* One row whether or not the slot exists: the server's WAL position always. */
static const char SLOT_STATE_SQL[] =
    "SELECT s.slot_name IS NOT NULL, coalesce(s.database, ''), coalesce(s.plugin, ''),"
    " coalesce(s.active, false), coalesce(s.active_pid, 0), coalesce(s.wal_status, ''),"
    " coalesce(s.confirmed_flush_lsn::text, ''), coalesce(s.restart_lsn::text, ''),"
    " w.lsn::text, coalesce(pg_wal_lsn_diff(w.lsn, s.restart_lsn)::bigint, -1),"
    " coalesce(pg_wal_lsn_diff(w.lsn, s.confirmed_flush_lsn)::bigint, -1),"
    " coalesce(s.database = current_database(), true),"
    " coalesce(r.application_name || coalesce(' at ' || host(r.client_addr) || ':' ||"
    " r.client_port, ' over a local socket'), '')"
    " FROM (SELECT pg_current_wal_lsn() AS lsn) w"
    " LEFT JOIN pg_replication_slots s ON s.slot_name = $1"
    " LEFT JOIN pg_stat_replication r ON r.pid = s.active_pid";
static const char PUB_STATE_SQL[] =
    "SELECT puballtables, coalesce(obj_description(oid, 'pg_publication') = 'created by sluice',"
    " false) FROM pg_publication WHERE pubname = $1";
static const char PUB_TABLES_SQL[] =
    "SELECT format('%I.%I', schemaname, tablename) FROM pg_publication_tables"
    " WHERE pubname = $1 ORDER BY 1";
static const char DROP_SLOT_SQL[] = "SELECT pg_drop_replication_slot($1)";

static int connect_source(const struct sl_config *c, const struct sl_pg_source_cfg *pc,
                          int timeout_s, struct sl_pg *pg, struct sl_err *err)
{
    const struct sl_connection_cfg *conn = sl_config_connection(c, pc->connection);
    char why[512], to[16];
    *pg = (struct sl_pg){NULL, SL_E_SOURCE, NULL};
    if (!conn)
        return sl_err_set(err, SL_E_CONFIG, "no connection \"%s\"", pc->connection);
    snprintf(to, sizeof to, "%d", timeout_s > 0 ? timeout_s : 10);
    if (sl_pg_connect(pg, conn->url, conn->password, "sluice", to, why, sizeof why) < 0)
        return sl_err_retry(err, SL_E_SOURCE, "source \"%s\": %s", pc->connection, why);
    return 0;
}

static void copy_cell(const struct sl_rows *r, size_t col, char *out, size_t cap)
{
    const char *v = sl_rows_get(r, 0, col);
    snprintf(out, cap, "%s", v ? v : "");
}

static int64_t int_cell(const struct sl_rows *r, size_t col)
{
    const char *v = sl_rows_get(r, 0, col);
    return v ? strtoll(v, NULL, 10) : -1;
}

static int read_slot(struct sl_pg *pg, struct sl_slot_state *out, struct sl_err *err)
{
    const char *p[] = {out->slot};
    struct sl_rows r;
    if (sl_pg_exec(pg, SLOT_STATE_SQL, 1, p, &r, err, "could not read the replication slot") < 0)
        return -1;
    if (r.nrows != 1 || r.ncols < 13) {
        sl_rows_free(&r);
        return sl_err_set(err, SL_E_SOURCE, "slot %s: the server's answer has no row", out->slot);
    }
    out->exists = strcmp(sl_rows_get(&r, 0, 0), "t") == 0;
    copy_cell(&r, 1, out->database, sizeof out->database);
    copy_cell(&r, 2, out->plugin, sizeof out->plugin);
    out->active = strcmp(sl_rows_get(&r, 0, 3), "t") == 0;
    out->active_pid = (long)int_cell(&r, 4);
    copy_cell(&r, 5, out->wal_status, sizeof out->wal_status);
    copy_cell(&r, 6, out->confirmed, sizeof out->confirmed);
    copy_cell(&r, 7, out->restart, sizeof out->restart);
    copy_cell(&r, 8, out->current, sizeof out->current);
    out->retained_bytes = int_cell(&r, 9);
    out->unconfirmed_bytes = int_cell(&r, 10);
    out->other_database = strcmp(sl_rows_get(&r, 0, 11), "t") != 0;
    copy_cell(&r, 12, out->active_client, sizeof out->active_client);
    sl_rows_free(&r);
    return 0;
}

static int read_publication(struct sl_pg *pg, struct sl_slot_state *out, int tables,
                            struct sl_err *err)
{
    const char *p[] = {out->publication};
    struct sl_rows r;
    if (sl_pg_exec(pg, PUB_STATE_SQL, 1, p, &r, err, "could not read the publication") < 0)
        return -1;
    out->pub_exists = r.nrows == 1;
    out->pub_all_tables = out->pub_exists && strcmp(sl_rows_get(&r, 0, 0), "t") == 0;
    out->pub_by_sluice = out->pub_exists && strcmp(sl_rows_get(&r, 0, 1), "t") == 0;
    sl_rows_free(&r);
    if (!tables || !out->pub_exists || out->pub_all_tables)
        return 0;
    if (sl_pg_exec(pg, PUB_TABLES_SQL, 1, p, &r, err, "could not read the publication") < 0)
        return -1;
    out->pub_tables.items = sl_calloc(r.nrows ? r.nrows : 1, sizeof *out->pub_tables.items);
    for (size_t i = 0; out->pub_tables.items && i < r.nrows; i++) {
        if (!(out->pub_tables.items[i] = sl_strdup(sl_rows_get(&r, i, 0))))
            break;
        out->pub_tables.n++;
    }
    int short_of = out->pub_tables.n < r.nrows;
    sl_rows_free(&r);
    return short_of ? sl_err_set(err, SL_E_NOMEM, "out of memory") : 0;
}

static void state_init(const struct sl_pg_source_cfg *pc, struct sl_slot_state *out)
{
    memset(out, 0, sizeof *out);
    snprintf(out->slot, sizeof out->slot, "%s", pc->cdc.slot);
    snprintf(out->publication, sizeof out->publication, "%s", pc->cdc.publication);
    out->max_retained = pc->cdc.max_retained;
    out->max_lag = pc->cdc.max_lag;
    out->retained_bytes = out->unconfirmed_bytes = -1;
}

int sl_cdc_slot_state(const struct sl_config *c, const struct sl_pipeline_cfg *p,
                      int publication, int timeout_s, struct sl_slot_state *out,
                      struct sl_err *err)
{
    const struct sl_pg_source_cfg *pc = p->source_ctx;
    struct sl_pg pg;
    state_init(pc, out);
    int rc = connect_source(c, pc, timeout_s, &pg, err);
    if (rc == 0)
        rc = read_slot(&pg, out, err);
    if (rc == 0 && publication)
        rc = read_publication(&pg, out, 1, err);
    sl_pg_close(&pg);
    if (rc < 0)
        sl_err_prefix(err, "pipeline \"%s\"", p->name);
    return rc;
}

/* Another pipeline of the config streaming the same publication of the
 * same database: dropping it would stop that one. */
static const struct sl_pipeline_cfg *other_reader(const struct sl_config *c,
                                                  const struct sl_pipeline_cfg *p)
{
    const struct sl_pg_source_cfg *pc = p->source_ctx;
    const struct sl_connection_cfg *mine = sl_config_connection(c, pc->connection);
    for (size_t i = 0; i < c->npipelines; i++) {
        const struct sl_pipeline_cfg *q = &c->pipelines[i];
        if (q == p || q->source_ops != p->source_ops)
            continue;
        const struct sl_pg_source_cfg *qc = q->source_ctx;
        const struct sl_connection_cfg *theirs = sl_config_connection(c, qc->connection);
        if (strcmp(qc->cdc.publication, pc->cdc.publication) == 0 &&
            (theirs == mine || (theirs && mine && strcmp(theirs->url, mine->url) == 0)))
            return q;
    }
    return NULL;
}

static int drop_slot(struct sl_pg *pg, const struct sl_pg_source_cfg *pc,
                     const struct sl_slot_state *st, struct sl_slot_drop *out, struct sl_err *err)
{
    if (st->other_database)
        return sl_err_set(err, SL_E_STATE, "slot %s belongs to database \"%s\", not to the"
                          " database of source \"%s\"; nothing was dropped", st->slot,
                          st->database, pc->connection);
    if (st->active)
        return sl_err_set(err, SL_E_STATE, "slot %s is active: server process %ld streams it"
                          "%s%s (a `sluice daemon` or `sluice run` of this pipeline?); stop that"
                          " first; nothing was dropped", st->slot, st->active_pid,
                          st->active_client[0] ? " to " : "", st->active_client);
    const char *p[] = {st->slot};
    if (sl_pg_exec(pg, DROP_SLOT_SQL, 1, p, NULL, err, "could not drop the replication slot") < 0) {
        if (strcmp(err->sqlstate, "55006") == 0) {
            err->code = SL_E_STATE;     /* it became active just now */
            err->cls = SL_ERROR;
            sl_err_prefix(err, "slot %s is in use; nothing was dropped", st->slot);
        }
        return -1;
    }
    out->slot_dropped = 1;
    return 0;
}

static int drop_publication(struct sl_pg *pg, const struct sl_config *c,
                            const struct sl_pipeline_cfg *p, struct sl_slot_state *st,
                            struct sl_slot_drop *out, struct sl_err *err)
{
    if (read_publication(pg, st, 0, err) < 0)
        return -1;
    out->pub_existed = st->pub_exists;
    if (!st->pub_exists)
        return 0;
    const struct sl_pipeline_cfg *q = other_reader(c, p);
    if (!st->pub_by_sluice) {
        snprintf(out->pub_kept, sizeof out->pub_kept, "sluice did not create it (its comment is"
                 " not 'created by sluice'); DROP PUBLICATION \"%s\" drops it", st->publication);
        return 0;
    }
    if (q) {
        snprintf(out->pub_kept, sizeof out->pub_kept, "pipeline \"%s\" of this config streams"
                 " it too", q->name);
        return 0;
    }
    struct sl_buf sql;
    sl_buf_init(&sql);
    sl_buf_puts(&sql, "DROP PUBLICATION ");
    sl_pg_quote_ident(&sql, st->publication, strlen(st->publication));
    int rc = sql.oom ? sl_err_set(err, SL_E_NOMEM, "out of memory")
                     : sl_pg_run(pg, sql.data, err, "could not drop the publication");
    sl_buf_free(&sql);
    if (rc == 0)
        out->pub_dropped = 1;
    return rc;
}

int sl_cdc_slot_drop(const struct sl_config *c, const struct sl_pipeline_cfg *p,
                     struct sl_slot_drop *out, struct sl_err *err)
{
    const struct sl_pg_source_cfg *pc = p->source_ctx;
    struct sl_slot_state st;
    struct sl_pg pg;
    memset(out, 0, sizeof *out);
    state_init(pc, &st);
    snprintf(out->slot, sizeof out->slot, "%s", st.slot);
    snprintf(out->publication, sizeof out->publication, "%s", st.publication);
    if (!sl_pg_slot_name_ok(st.slot) || !sl_pg_slot_name_ok(st.publication))
        return sl_err_set(err, SL_E_CONFIG, "pipeline \"%s\": slot \"%s\" / publication \"%s\":"
                          " not a plain name", p->name, st.slot, st.publication);
    int rc = connect_source(c, pc, 10, &pg, err);
    if (rc == 0)
        rc = read_slot(&pg, &st, err);
    if (rc == 0 && (out->slot_existed = st.exists))
        rc = drop_slot(&pg, pc, &st, out, err);
    if (rc == 0)
        rc = drop_publication(&pg, c, p, &st, out, err);
    sl_pg_close(&pg);
    sl_slot_state_free(&st);
    if (rc < 0)
        sl_err_prefix(err, "pipeline \"%s\"", p->name);
    return rc;
}
