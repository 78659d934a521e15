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
    struct sl_err first_error;
};

/* Run every table of `p` once. Returns 0 when the run itself worked (batches
 * may still have failed: see stats), -1 when it could not run at all
 * (destination unreachable after retries, config problem). */
int sl_pipeline_run(const struct sl_config *c, const struct sl_pipeline_cfg *p,
                    struct sl_run_stats *stats, struct sl_err *err);

/* Retry policy, shared by every caller that retries (tunable for tests:
 * SLUICE_RETRIES, SLUICE_RETRY_BASE_MS). */
int sl_retry_attempts(void);
void sl_retry_sleep(int attempt);

#endif
