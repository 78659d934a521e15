/* engine/deadletter.h: events set aside, in the table "dead_letter" beside the
 * data (PostgreSQL "_sluice"."dead_letter", SQLite "_sluice_dead_letter").
 *
 * The engine (engine/pipeline.c) puts an event of an event source (http,
 * jetstream) that fails its mapping, its keys or a row-level rule here, in
 * the batch's own transaction, so each event of a committed batch is either
 * in the table or here, never neither and never both. `sluice replay` reads
 * them back, runs them through the engine again with the current config, and
 * marks those that load (replayed_at, replayed_by). Everything goes through
 * the destination's exec(): values as parameters only (docs/invariants.md #5). */
#ifndef SL_DEADLETTER_H
#define SL_DEADLETTER_H

#include <stddef.h>
#include <stdint.h>

#include "destinations/destination.h"

/* Columns: id, pipeline, table_name, event_id, error, payload, received_at,
 * batch_id, replayed_at, replayed_by. */
struct sl_dead_letter {
    const char *pipeline;
    const char *table;
    const char *event_id;       /* the event's id as sent, or NULL */
    const char *error;          /* what failed and where */
    const char *payload;        /* the raw event text */
    size_t payload_len;
    const char *received_at;    /* canonical UTC timestamp */
    int64_t batch_id;           /* the batch it came with */
    const char *dedupe;         /* what makes it the same record again (a retried
                                 * batch): NULL = "id:<event id>", else the hash of
                                 * the payload */
};

/* Create the table when missing (own transaction; call outside a batch). */
int sl_deadletter_ensure(const struct sl_dest_ops *ops, struct sl_dest *d, struct sl_err *err);

/* Inside the batch transaction. */
int sl_deadletter_put(const struct sl_dest_ops *ops, struct sl_dest *d,
                      const struct sl_dead_letter *dl, struct sl_err *err);
/* A replayed event loaded (or was there already): mark row `id` replayed by
 * batch `batch_id`. */
int sl_deadletter_replayed(const struct sl_dest_ops *ops, struct sl_dest *d, int64_t id,
                           int64_t batch_id, struct sl_err *err);
/* A replayed event failed again: row `id` keeps it, with the new error. */
int sl_deadletter_refail(const struct sl_dest_ops *ops, struct sl_dest *d, int64_t id,
                         const char *error, int64_t batch_id, struct sl_err *err);

/* Rows of `pipeline` to replay, oldest first, with id > after_id, at most
 * `limit`: those not replayed yet, or (ids != NULL) exactly the listed ones
 * whatever their state. Columns: id, table_name, payload, received_at,
 * replayed_at, event_id. */
int sl_deadletter_list(const struct sl_dest_ops *ops, struct sl_dest *d, const char *pipeline,
                       const int64_t *ids, size_t nids, int64_t after_id, long limit,
                       struct sl_rows *out, struct sl_err *err);

#endif
