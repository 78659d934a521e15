/* obs/progress.h: progress of the batch loading now, for `sluice run` on a
 * terminal: rows, MB, rate and, when the input's size is known, percent and
 * ETA, in one line at the bottom of stderr (obs/log.h's status line) drawn
 * again at most 10 times a second. Off unless the command enables it, and
 * never when stderr is not a terminal.
 *
 * The engine keeps one struct sl_progress per pass over a batch and calls
 * sl_progress_row() per record: a counter test; the clock is read every
 * 4096 records only. Tables loading at once (a pipeline's workers) share
 * the line, each with a short part. */
#ifndef SL_PROGRESS_H
#define SL_PROGRESS_H

#include <stdint.h>
#include <time.h>

struct sl_stream;

/* cli/run.c: on when stderr is a terminal (the check is made here too). */
void sl_progress_enable(int on);

struct sl_progress {
    int on;
    const char *pipeline, *table, *ref, *phase;
    uint64_t rows;
    uint64_t total;             /* input bytes as stored; 0 = unknown */
    const struct sl_stream *st; /* where bytes done are read; may be NULL */
    struct timespec t0, last;
    int shown;
    char part[200];             /* its part of the line, kept under the module's lock */
    char full[400];             /* the same, long: shown when it is the only one */
};

/* Start a pass over batch `ref` (`phase`: "loading", "reading types"). */
void sl_progress_begin(struct sl_progress *p, const char *pipeline, const char *table,
                       const char *ref, const char *phase, uint64_t total,
                       const struct sl_stream *st);
void sl_progress_tick(struct sl_progress *p);
static inline void sl_progress_row(struct sl_progress *p)
{
    if ((++p->rows & 4095) == 0 && p->on)
        sl_progress_tick(p);
}
/* The pass ended: remove the line (the log line that follows says how). */
void sl_progress_end(struct sl_progress *p);

#endif
