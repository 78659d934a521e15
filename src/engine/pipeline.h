/* engine/pipeline.h: the engine. One run of one table of a pipeline: take each
 * batch its source offers, gate it, load it, commit rows + ledger together,
 * then ack it to the source. Owns the one retry loop (backoff with jitter). */
#ifndef SL_PIPELINE_H
#define SL_PIPELINE_H

#include <stdint.h>

#include "model/config.h"
#include "base/err.h"
#include "model/batch.h"


/* Run every table of `p` once. Returns 0 when the run itself worked (batches
 * may still have failed: see stats), -1 when it could not run at all
 * (destination unreachable after retries, config problem) or a table could
 * not be run; stats->not_run and ->stopped count those tables either way. */
int sl_pipeline_run(const struct sl_config *c, const struct sl_pipeline_cfg *p,
                    struct sl_run_stats *stats, struct sl_err *err);

/* The counts of a run as one line, every batch a run saw in exactly one of
 * them, and every table it could not run counted and said:
 *   "2 committed (10 rows), 1 duplicate, 0 failed, 1 deferred (still being
 *   written), 0 quarantined, 1 table not run: destination \"wh\" ..."
 * (what `sluice run` prints after the pipeline's name, and the daemon's
 * debug line). */
void sl_run_stats_text(const struct sl_run_stats *st, char *out, size_t cap);

/* `sluice approve` (approve = 1) / `sluice reject` (0) of quarantined batch
 * `batch` of pipeline `p`: approve loads it as it is (no gates) with the
 * same batch id, reject sets its data aside; both record the decision in the
 * ledger and unpause the table. The decision names `who` (the OS user, or
 * the admin API) and when, with `note`. Returns 0 done, 1 when `p` has no
 * such batch, -1 on error. */
int sl_pipeline_release(const struct sl_config *c, const struct sl_pipeline_cfg *p,
                        int64_t batch, int approve, const char *who, const char *note,
                        struct sl_run_stats *stats, struct sl_err *err);

/* A table kept open for a source that hands over its batches itself (the
 * http collector, a jetstream consumer, `sluice replay`): one destination
 * connection (made as sl_pipeline_run makes it, retried while the
 * destination is unreachable), reused batch after batch by one thread. */
struct sl_feed;
struct sl_source;
struct sl_batch_input;
/* `src` is the source's handle for table `t` (its ops->open), not owned. */
int sl_feed_open(const struct sl_config *c, const struct sl_pipeline_cfg *p,
                 const struct sl_table_cfg *t, struct sl_source *src, struct sl_feed **out,
                 struct sl_err *err);
/* Run batch `b` through the engine as `sluice run` would (one transaction,
 * gates, retries, ledger) and ack it to the source, which learns the outcome
 * there. Adds the batch's figures to `stats`. */
void sl_feed_batch(struct sl_feed *f, struct sl_batch_input *b, struct sl_run_stats *stats);
void sl_feed_close(struct sl_feed *f);
/* The three above as the sink a serving source is given (sources/source.h). */
extern const struct sl_sink sl_pipeline_sink;

/* `sluice run` is one-shot: a drop still inside its settle window when a
 * table's run starts is waited for (the run sleeps until it may be taken,
 * then looks at it again) instead of being left for the next poll, as the
 * daemon does. Set before sl_pipeline_run; off by default. */
void sl_pipeline_set_oneshot(int on);

/* `sluice reconcile --repair` (engine/reconcile.c) on table `t` of `p`: one
 * batch of its own (ledger kind "repair", no gates) that merges the source's
 * current rows for the `upsert` keys by primary key and deletes the rows of
 * the `del` keys, keeping every row it replaces or deletes in the table's
 * history, so it can be rolled back. `key` names the nkey key columns; key
 * values are row-major canonical texts. *batch = the batch's id. */
int sl_pipeline_repair(const struct sl_config *c, const struct sl_pipeline_cfg *p,
                       const struct sl_table_cfg *t, const char *const *key, size_t nkey,
                       const char *const *upsert, size_t nupsert, const char *const *del,
                       size_t ndel, int64_t *batch, struct sl_err *err);

#endif
