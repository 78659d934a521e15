/* engine/reconcile.h: compare a database source's table with its copy in the
 * warehouse and report drift, for `sluice reconcile` (cli/reconcile.c) and the
 * daemon's `reconcile: { every }`.
 *
 * Row counts and checksums are computed in each database (never by pulling
 * rows), first over the whole table, then over primary-key ranges of the
 * ranges that differ, split at key quantiles, down to ranges small enough to
 * list keys and row checksums: the keys missing from the warehouse, those it
 * has that the source no longer has, and those whose rows differ. With
 * `repair` those keys are re-synced as one batch of their own (ledger kind
 * "repair", undone by `sluice rollback`). Drift raises an alert ("drift"). */
#ifndef SL_RECONCILE_H
#define SL_RECONCILE_H

#include <stddef.h>
#include <stdint.h>

#include "model/config.h"
#include "base/err.h"

struct sl_reconcile_opts {
    int repair;             /* re-sync the keys found as a batch of their own */
    int alert;              /* send a "drift" alert when drift is found */
};

/* Keys are arrays of nkey canonical texts (base/value.h), one per key column. */
struct sl_reconcile_keys {
    char ***keys;
    size_t n;           /* keys listed */
    size_t total;       /* keys found, listed or past the key limit */
};

struct sl_reconcile_result {
    const char *pipeline;               /* borrowed from the config */
    const char *table;
    char **keycols;                     /* the key columns */
    size_t nkey;
    int64_t source_rows;                /* rows compared on each side */
    int64_t warehouse_rows;
    struct sl_reconcile_keys missing;   /* in the source, not in the warehouse */
    struct sl_reconcile_keys extra;     /* in the warehouse, gone from the source */
    struct sl_reconcile_keys different; /* in both, not the same row */
    size_t pending;         /* warehouse rows whose source row changed after the
                             * cursor: the next run loads them, not drift */
    int truncated;          /* found more keys than the limit lists */
    int at_least;           /* so many differed that the comparison stopped counting
                             * (memory stays bounded): the counts are a floor */
    int64_t repair_batch;   /* the batch that re-synced them (repair), else 0 */
    char not_compared[512]; /* protected columns (protect: hash, mask) left out of the
                             * row checksums: the warehouse holds their protected form,
                             * the source their values; "" = none */
    int queries;            /* checksum queries run on each side */
    double seconds;
};

/* Compare table `t` of pipeline `p` (a database source). Returns 0 with
 * *out filled (drift or not), -1 when the comparison (or the repair) could
 * not run. Free *out with sl_reconcile_result_free whatever it returns.
 * Opens its own connections; safe to call from several threads at once. */
int sl_reconcile_table(const struct sl_config *c, const struct sl_pipeline_cfg *p,
                       const struct sl_table_cfg *t, const struct sl_reconcile_opts *o,
                       struct sl_reconcile_result *out, struct sl_err *err);
/* Rows found missing, extra or different: 0 only when every range compared
 * equal (pending rows aside). */
size_t sl_reconcile_drift(const struct sl_reconcile_result *r);
/* Of those, the ones past the key limit (SLUICE_RECONCILE_MAX_KEYS): counted,
 * not listed, and not re-synced by a repair. */
size_t sl_reconcile_unlisted(const struct sl_reconcile_result *r);
/* The result as a JSON object (sl_free it); NULL = out of memory. */
char *sl_reconcile_json(const struct sl_reconcile_result *r);
void sl_reconcile_result_free(struct sl_reconcile_result *r);

#endif
