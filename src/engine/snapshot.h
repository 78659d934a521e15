/* engine/snapshot.h: snapshots of a table, a safe baseline to go back to.
 *
 * A snapshot is a copy of the table (every column, _sluice_batch too) kept
 * beside it as sluice's table "snap_<id>" ("_sluice"."snap_<id>" in
 * PostgreSQL, "_sluice_snap_<id>" in SQLite), recorded in meta table
 * "snapshots" (id, table_name, taken_at, last_batch: the newest loaded batch
 * of the table at the time, rows). Called by `sluice snapshot` / `restore`
 * (cli/snapshot.c) and by the engine for scheduled snapshots
 * (`snapshots: { every, keep }`): sl_snapshot_due, then sl_snapshot_take,
 * then sl_snapshot_prune. Each call runs its own destination transaction
 * (call them outside a batch transaction), with the table locked against
 * loaders so a snapshot matches its last_batch exactly. Snapshot ids are
 * per destination. */
#ifndef SL_SNAPSHOT_H
#define SL_SNAPSHOT_H

#include <stdint.h>

#include "destinations/destination.h"

/* Copy `table` into a new snapshot; *id = its id. */
int sl_snapshot_take(const struct sl_dest_ops *ops, struct sl_dest *d, const char *table,
                     int64_t *id, struct sl_err *err);

/* Drop the snapshots of `table` beyond the newest `keep` (keep <= 0 keeps all). */
int sl_snapshot_prune(const struct sl_dest_ops *ops, struct sl_dest *d, const char *table,
                      long keep, struct sl_err *err);

/* *due = 1 when `table` has loaded batches and no snapshot taken in the last
 * `every_seconds`. */
int sl_snapshot_due(const struct sl_dest_ops *ops, struct sl_dest *d, const char *table,
                    double every_seconds, int *due, struct sl_err *err);

/* Snapshots, newest first, of `table` (NULL = all): columns id, table_name,
 * taken_at, last_batch, rows. */
int sl_snapshot_list(const struct sl_dest_ops *ops, struct sl_dest *d, const char *table,
                     struct sl_rows *out, struct sl_err *err);

struct sl_snapshot_restored {
    int64_t rows;           /* rows in the table now */
    int64_t last_batch;     /* the snapshot's; 0 = none */
    int64_t *rolled_back;   /* loaded batches newer than the snapshot, newest first */
    size_t nrolled_back;
    int64_t drops;          /* contents of theirs sluice forgot (drops, a source
                             * snapshot's fingerprint) */
};
void sl_snapshot_restored_free(struct sl_snapshot_restored *r);

/* In one transaction: replace the rows of `table` by those of snapshot
 * `snap` (which is kept), mark every loaded batch of the table newer than
 * the snapshot 'rolled_back' (a decision "rolled back" by `who`, note
 * "restored to snapshot N", added to theirs) and forget their
 * history rows, kept tables and drops. Refuses a snapshot holding rows of a
 * batch rolled back since it was taken. */
int sl_snapshot_restore(const struct sl_dest_ops *ops, struct sl_dest *d, const char *table,
                        int64_t snap, const char *who, struct sl_snapshot_restored *out,
                        struct sl_err *err);

#endif
