/* engine/observer.c: see observer.h. */
#include "engine/observer.h"

#include <stdatomic.h>
#include <string.h>

static _Atomic(const struct sl_observer *) installed;

void sl_observe(const struct sl_observer *o)
{
    atomic_store(&installed, o);
}

const struct sl_observer *sl_observer(void)
{
    return atomic_load(&installed);
}

#define REPORT(fn, ...) \
    do { \
        const struct sl_observer *o_ = sl_observer(); \
        if (o_ && o_->fn) \
            o_->fn(__VA_ARGS__); \
    } while (0)

void sl_report_batch(const char *pipeline, const char *table, enum sl_batch_outcome o,
                     int64_t rows, uint64_t bytes, double seconds)
{
    REPORT(batch, pipeline, table, o, rows, bytes, seconds);
}

void sl_report_gate_failed(const char *pipeline, const char *table, const char *gates)
{
    REPORT(gate_failed, pipeline, table, gates);
}

void sl_report_retry(const char *pipeline, const char *table)
{
    REPORT(retry, pipeline, table);
}

void sl_report_lock_wait(const char *pipeline, const char *table)
{
    REPORT(lock_wait, pipeline, table);
}

void sl_report_dead_letter(const char *pipeline, const char *table, int64_t n)
{
    REPORT(dead_letter, pipeline, table, n);
}

void sl_report_running(const char *pipeline, const char *table, int running)
{
    REPORT(running, pipeline, table, running);
}

void sl_report_error(const char *pipeline, const char *table, const char *msg)
{
    REPORT(error, pipeline, table, msg);
}

int sl_report_alert(const struct sl_config *c, const struct sl_alert *a, struct sl_err *err)
{
    const struct sl_observer *o = sl_observer();
    if (!o || !o->alert || !c->nalerts)
        return 0;
    return o->alert(c, a, err);
}

void sl_report_progress_begin(struct sl_progress *p, const char *pipeline, const char *table,
                              const char *ref, const char *phase, uint64_t total,
                              const struct sl_stream *st)
{
    memset(p, 0, sizeof *p);
    p->pipeline = pipeline;
    p->table = table;
    p->ref = ref;
    p->phase = phase;
    p->total = total;
    p->st = st;
    REPORT(progress_begin, p);
}

void sl_report_progress_tick(struct sl_progress *p)
{
    REPORT(progress_tick, p);
}

void sl_report_progress_end(struct sl_progress *p)
{
    REPORT(progress_end, p);
}
