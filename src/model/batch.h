/* model/batch.h: what one run of a table did, batch by batch: the counts
 * the engine keeps (every batch a run saw in exactly one of them), that a
 * serving source reads back after each batch it handed over, and that the
 * CLI and the daemon report. */
#ifndef SL_BATCH_H
#define SL_BATCH_H

#include <stdint.h>

#include "base/err.h"

struct sl_run_stats {
    int committed;
    int duplicates;
    int failed;         /* bad input or non-transient failure */
    int deferred;       /* transient failure outlasted the retries; left for next run */
    int waiting;        /* left for the next run because still being written (inside
                         * its settle window, or it changed while it loaded) */
    int quarantined;
    int locked;         /* tables skipped: another run held them past lock_wait */
    int64_t rows;
    int64_t last_batch;         /* newest committed batch id */
    int64_t rows_written;       /* rows written (events: less any stored already) */
    int64_t dead_lettered;      /* event sources: events set aside in the dead letter table */
    int not_run;        /* tables not run at all: the destination could not be reached
                         * (or stayed locked) through the retries, the source could not
                         * be opened, or an earlier table's failure stopped the run */
    int stopped;        /* tables whose run stopped on an error after some batches */
    char not_run_why[512];      /* the first reason for either, naming the table */
    struct sl_err first_error;
};

/* Add the counts of `from` to `to`: sums, the newest batch, and the first
 * error and not-run reason where `to` has none yet. */
void sl_run_stats_add(struct sl_run_stats *to, const struct sl_run_stats *from);

#endif
