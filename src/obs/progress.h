/* obs/progress.h: progress of the batch loading now, for `sluice run` on a
 * terminal: rows, MB, rate and, when the input's size is known, percent and
 * ETA, in one line at the bottom of stderr (base/log.h's status line) drawn
 * again at most 10 times a second. Off unless the command enables it, and
 * never when stderr is not a terminal.
 *
 * The engine counts each pass over a batch in a struct sl_progress and tells
 * its observer every 4096 records (engine/observer.h); the clock is read
 * only then. Tables loading at once (a pipeline's workers) share
 * the line, each with a short part. */
#ifndef SL_PROGRESS_H
#define SL_PROGRESS_H

#include "engine/observer.h"

/* cli/run.c: on when stderr is a terminal (the check is made here too). */
void sl_progress_enable(int on);


/* The observer's side (engine/observer.h): a pass begins (p is filled and
 * zeroed past st: decide whether to draw it), goes on, ends (the line is
 * removed; the log line that follows says how). */
void sl_progress_begin(struct sl_progress *p);
void sl_progress_tick(struct sl_progress *p);
void sl_progress_end(struct sl_progress *p);

#endif
