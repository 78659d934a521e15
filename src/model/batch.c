/* model/batch.c: see batch.h. */
#include "model/batch.h"

#include <string.h>

void sl_run_stats_add(struct sl_run_stats *to, const struct sl_run_stats *from)
{
    to->committed += from->committed;
    to->duplicates += from->duplicates;
    to->failed += from->failed;
    to->deferred += from->deferred;
    to->waiting += from->waiting;
    to->quarantined += from->quarantined;
    to->locked += from->locked;
    to->rows += from->rows;
    to->rows_written += from->rows_written;
    to->dead_lettered += from->dead_lettered;
    to->not_run += from->not_run;
    to->stopped += from->stopped;
    if (!to->not_run_why[0] && from->not_run_why[0])
        memcpy(to->not_run_why, from->not_run_why, sizeof to->not_run_why);
    if (from->last_batch > to->last_batch)
        to->last_batch = from->last_batch;
    if (to->first_error.code == SL_E_NONE && from->first_error.code != SL_E_NONE)
        to->first_error = from->first_error;
}
