/* obs/status.h: the state of every pipeline and table, computed in one place
 * for `sluice status` (a table, or --json), `GET /api/status` and the
 * dashboard, so the three always say the same words:
 *
 *   quarantined   a batch is held by a gate; the table waits for a decision
 *   failing       the newest batch failed, or (daemon) the last run of the
 *                 table failed and nothing has committed since
 *   stale         no committed batch within the pipeline's stale_after
 *   running       (daemon) a batch is loading right now
 *   ok            the newest batch committed (or was settled)
 *   never loaded  nothing has committed yet
 *
 * (in that order of precedence). Figures come from the ledger of each
 * destination; in the daemon also from obs/metrics.h (what is running, the
 * runtime errors the ledger cannot hold, the newest load).
 *
 * Also here: sl_dbpool, one kept connection per destination for these reads
 * (a status poll must not queue behind a batch for ensure_meta's lock). */
#ifndef SL_STATUS_H
#define SL_STATUS_H

#include <jansson.h>
#include <stdio.h>

#include "model/config.h"
#include "engine/ledger.h"
#include "base/value.h"
#include "sources/source.h"

struct sl_dbpool;

struct sl_dbpool *sl_dbpool_new(const struct sl_config *c);
/* The connection of `conn`, opened on first use, locked for the caller
 * until sl_dbpool_put. Returns 0, or -1 with err (unlocked). */
int sl_dbpool_get(struct sl_dbpool *p, const struct sl_connection_cfg *conn,
                  struct sl_ledger *out, struct sl_err *err);
/* Unlock it; broken = 1 closes it (a query failed: it is opened again next
 * time, e.g. after a server restart). */
void sl_dbpool_put(struct sl_dbpool *p, const struct sl_connection_cfg *conn, int broken);
void sl_dbpool_free(struct sl_dbpool *p);

/* Where a cdc pipeline's "slot" comes from. */
enum sl_status_slots {
    SL_STATUS_SLOTS_NONE = 0,   /* not shown */
    SL_STATUS_SLOTS_ASK,        /* asked of the source now (`sluice status`) */
    SL_STATUS_SLOTS_WATCHED,    /* the daemon's slot watch (obs/slots.h) */
};

struct sl_status_opts {
    int live;           /* daemon: use obs/metrics.h's live figures */
    sl_usec since;      /* daemon start: a table never loaded goes stale stale_after
                         * after it; 0 = a never loaded table is never stale */
    enum sl_status_slots slots;
};

/* 1 when a table of `p` last loaded at `last_loaded` (0 = never) is stale now. */
int sl_status_stale(const struct sl_pipeline_cfg *p, sl_usec last_loaded, sl_usec since,
                    sl_usec now);

/* {"generated_at": "...", "pipelines": [{"name", "source", "destination",
 *   "schedule", "stale_after_seconds", "state", "tables": [{"pipeline",
 *   "table", "kind", "state", "last_batch", "last_batch_state",
 *   "last_committed_batch", "last_committed_at", "rows", "lag_seconds",
 *   "last_error", "quarantined_batch", "running", "stale"}], and for a cdc
 *   pipeline when o->slots asks: "slot": sl_status_slot_json's object and
 *   "lag_seconds", "retained_over", "lag_over", "checked_at", "error"}]}
 * A pipeline's state is its worst table's. A destination that cannot be
 * read makes its tables "failing" with the reason as last_error and sets
 * *unreachable (may be NULL). Returns a new reference, or NULL when out of
 * memory. */
json_t *sl_status_build(const struct sl_config *c, struct sl_dbpool *pool,
                        const struct sl_status_opts *o, int *unreachable);

/* A slot as JSON: {"name", "exists", "database", "plugin", "active",
 * "active_pid", "active_client", "wal_status", "confirmed_flush_lsn",
 * "restart_lsn", "current_lsn", "retained_bytes", "unconfirmed_bytes",
 * "max_retained_bytes", "max_lag_seconds"}, null where not known or not
 * set. Returns a new reference, or NULL when out of memory. */
json_t *sl_status_slot_json(const struct sl_slot_state *s);

/* The terminal table of a status document, one line per table (and one per
 * cdc pipeline's slot). */
void sl_status_print(FILE *f, const json_t *status);

/* The ledger as JSON, newest first: batches of every destination (pipeline,
 * table, state NULL = any), each {"id", "pipeline", "table", "kind", "state",
 * "source_ref", "rows_in", "rows_written", "bytes", "started_at",
 * "finished_at", "error", "report" (the gate report, as JSON), "decision",
 * "held"}. Returns a new reference, or NULL with err. */
json_t *sl_status_batches(const struct sl_config *c, struct sl_dbpool *pool,
                          const char *pipeline, const char *table, const char *state,
                          long limit, struct sl_err *err);

#endif
