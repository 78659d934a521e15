/* core/pipeline.h: the engine. One run of one table of a pipeline: take each
 * batch its source offers, gate it, load it, commit rows + ledger together,
 * then ack it to the source. Owns the one retry loop (backoff with jitter). */
#ifndef SL_PIPELINE_H
#define SL_PIPELINE_H

#include <stdint.h>

#include "config/config.h"
#include "core/err.h"

struct sl_run_stats {
    int committed;
    int duplicates;
    int failed;         /* bad input or non-transient failure */
    int deferred;       /* transient failure outlasted the retries; left for next run */
    int quarantined;
    int64_t rows;
    int64_t last_batch;         /* newest committed batch id */
    struct sl_err first_error;
};

/* Run every table of `p` once. Returns 0 when the run itself worked (batches
 * may still have failed: see stats), -1 when it could not run at all
 * (destination unreachable after retries, config problem). */
int sl_pipeline_run(const struct sl_config *c, const struct sl_pipeline_cfg *p,
                    struct sl_run_stats *stats, struct sl_err *err);

/* `sluice approve` (approve = 1) / `sluice reject` (0) of quarantined batch
 * `batch` of pipeline `p`: approve loads it as it is (no gates) with the
 * same batch id, reject sets its data aside; both record the decision in the
 * ledger and unpause the table. `note` is kept with the decision. Returns 0
 * done, 1 when `p` has no such batch, -1 on error. */
int sl_pipeline_release(const struct sl_config *c, const struct sl_pipeline_cfg *p,
                        int64_t batch, int approve, const char *note,
                        struct sl_run_stats *stats, struct sl_err *err);

/* Retry policy, shared by every caller that retries (tunable for tests:
 * SLUICE_RETRIES, SLUICE_RETRY_BASE_MS). */
int sl_retry_attempts(void);
void sl_retry_sleep(int attempt);

#endif
