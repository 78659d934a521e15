/* engine/rollback.h: take a committed batch back out (docs/invariants.md #3), for
 * `sluice rollback` (cli/rollback.c).
 *
 * One destination transaction, with the table locked against loaders:
 *   append      the batch's rows are deleted (every row carries its batch);
 *   versioned   the batch's rows are deleted and the row images it replaced
 *               come back from the table's history table (destination.h);
 *   snapshot    the table the batch replaced is put back.
 * A later committed batch that built on this one (versioned: it replaced
 * rows this batch wrote; snapshot: any later batch of the table) makes the
 * rollback refuse, naming it and the keys, unless `cascade`: then those
 * batches are rolled back first, newest first, in the same transaction.
 * Each batch rolled back is marked 'rolled_back' in the ledger, a decision
 * (who, when, why) added to those it had, and its content record (files)
 * is deleted so the same drop can be loaded again deliberately. */
#ifndef SL_ROLLBACK_H
#define SL_ROLLBACK_H

#include <stddef.h>
#include <stdint.h>

#include "destinations/destination.h"

/* Ledger states whose rows are in the table. */
#define SL_LOADED_STATES "('committed', 'approved')"

struct sl_rollback_step {
    int64_t batch;
    char *table;
    char *kind;
    int64_t removed;        /* rows the batch wrote, deleted */
    int64_t restored;       /* rows put back: replaced images, or the kept table's */
    int64_t drops;          /* contents of the batch that sluice forgot (drops,
                             * a snapshot's fingerprint) */
};

struct sl_rollback_result {
    struct sl_rollback_step *steps;   /* in the order done: newest first */
    size_t nsteps;
};

/* Roll back `batch`. `pk` (may be NULL) names the table's key columns for
 * the refusal's list of keys; `who` (the OS user, the admin API) is recorded
 * with the decision. Refusals are errors (SL_E_INPUT) whose message
 * lists the later batches and says to use --cascade. */
int sl_rollback_batch(const struct sl_dest_ops *ops, struct sl_dest *d, int64_t batch,
                      const char *const *pk, size_t npk, int cascade, const char *who,
                      struct sl_rollback_result *out, struct sl_err *err);
void sl_rollback_result_free(struct sl_rollback_result *r);

/* The ledger row of `batch`: columns id, pipeline, table_name, kind, state;
 * no rows when this destination has no such batch. */
int sl_rollback_lookup(const struct sl_dest_ops *ops, struct sl_dest *d, int64_t batch,
                       struct sl_rows *out, struct sl_err *err);

/* ---- shared with engine/snapshot.c (inside a transaction) ---- */

/* Mark `batch` rolled back, adding the decision "rolled back" by `who`
 * with `note` (NULL or "": none) to its decisions, and forget the content it loaded
 * (a drop's hash, a source snapshot's fingerprint); *forgotten (may be
 * NULL) = how many were forgotten (0: none was kept, e.g. an incremental,
 * repair or restore batch). */
int sl_rollback_mark(const struct sl_dest_ops *ops, struct sl_dest *d, int64_t batch,
                     const char *who, const char *note, int64_t *forgotten,
                     struct sl_err *err);
/* The columns of table `quoted` (as placed in SQL), in order; sl_rows whose
 * names are the columns and which hold no rows. */
int sl_table_columns(const struct sl_dest_ops *ops, struct sl_dest *d, const char *quoted,
                     struct sl_rows *out, struct sl_err *err);
/* Append to `list` the columns of table `into` that table `from` has too
 * (both quoted as placed in SQL), quoted and comma separated, in `into`'s
 * order; "_sluice_replaced_by" is left out. */
int sl_common_columns(const struct sl_dest_ops *ops, struct sl_dest *d, const char *into,
                      const char *from, struct sl_buf *list, struct sl_err *err);

#endif
