/* obs/metrics.c: the metrics registry (see metrics.h). A handful of tables
 * per process, so a flat array searched linearly under one mutex is both
 * the simplest and fast enough: the engine calls in once per batch. */
#include "obs/metrics.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "base/mem.h"
#include "gates/gate.h"

static const double buckets[] = {0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600};
#define NBUCKETS (sizeof buckets / sizeof buckets[0])

static const char *const outcome_names[SL_MB__COUNT] = {
    "committed", "duplicate", "quarantined", "failed", "deferred", "rejected", "rolled_back",
};

struct gate_count {
    char *name;
    uint64_t n;
};

struct tmetric {
    char *pipeline, *table;
    uint64_t batches[SL_MB__COUNT];
    uint64_t rows, bytes, retries, dead, lock_waits;
    int running, stale;
    sl_usec last_loaded;
    char last_error[512];
    struct gate_count *gates;
    size_t ngates;
    uint64_t hist[NBUCKETS];    /* per bucket, not cumulative */
    uint64_t hcount;
    double hsum;
};

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static struct tmetric *tabs;
static size_t ntabs;

struct smetric {
    char *pipeline;
    struct sl_metrics_slot s;
};
static struct smetric *slots;
static size_t nslots;

/* The entry of (pipeline, table), made on first use; NULL when out of
 * memory (the count is lost, loading goes on). Called with mu held. */
static struct tmetric *get(const char *pipeline, const char *table)
{
    if (!pipeline)
        pipeline = "";
    if (!table)
        table = "";
    for (size_t i = 0; i < ntabs; i++)
        if (strcmp(tabs[i].pipeline, pipeline) == 0 && strcmp(tabs[i].table, table) == 0)
            return &tabs[i];
    struct tmetric *n = sl_realloc(tabs, (ntabs + 1) * sizeof *n);
    if (!n)
        return NULL;
    tabs = n;
    struct tmetric *m = &tabs[ntabs];
    memset(m, 0, sizeof *m);
    m->pipeline = sl_strdup(pipeline);
    m->table = sl_strdup(table);
    if (!m->pipeline || !m->table) {
        sl_free(m->pipeline);
        sl_free(m->table);
        return NULL;
    }
    ntabs++;
    return m;
}

static struct gate_count *get_gate(struct tmetric *m, const char *name, size_t len)
{
    for (size_t i = 0; i < m->ngates; i++)
        if (strlen(m->gates[i].name) == len && memcmp(m->gates[i].name, name, len) == 0)
            return &m->gates[i];
    struct gate_count *g = sl_realloc(m->gates, (m->ngates + 1) * sizeof *g);
    if (!g)
        return NULL;
    m->gates = g;
    g = &m->gates[m->ngates];
    g->n = 0;
    g->name = sl_strndup(name, len);
    if (!g->name)
        return NULL;
    m->ngates++;
    return g;
}

void sl_metrics_declare(const struct sl_config *c)
{
    pthread_mutex_lock(&mu);
    for (size_t i = 0; i < c->npipelines; i++) {
        const struct sl_pipeline_cfg *p = &c->pipelines[i];
        for (size_t k = 0; k < p->ntables; k++) {
            const struct sl_table_cfg *t = &p->tables[k];
            struct tmetric *m = get(p->name, t->name);
            for (size_t g = 0; m && g < t->ngates; g++)
                get_gate(m, t->gates[g].ops->name, strlen(t->gates[g].ops->name));
        }
    }
    pthread_mutex_unlock(&mu);
}

void sl_metrics_batch(const char *pipeline, const char *table, enum sl_batch_outcome o,
                      int64_t rows, uint64_t bytes, double seconds)
{
    if ((int)o < 0 || o >= SL_MB__COUNT)
        return;
    pthread_mutex_lock(&mu);
    struct tmetric *m = get(pipeline, table);
    if (m) {
        m->batches[o]++;
        if (o == SL_MB_COMMITTED) {
            m->rows += rows > 0 ? (uint64_t)rows : 0;
            m->bytes += bytes;
            m->last_loaded = sl_time_now();
            m->last_error[0] = '\0';
        }
        if (seconds >= 0) {
            size_t b = 0;
            while (b < NBUCKETS && seconds > buckets[b])
                b++;
            if (b < NBUCKETS)
                m->hist[b]++;
            m->hcount++;
            m->hsum += seconds;
        }
    }
    pthread_mutex_unlock(&mu);
}

void sl_metrics_gate_failed(const char *pipeline, const char *table, const char *gates)
{
    if (!gates)
        return;
    pthread_mutex_lock(&mu);
    struct tmetric *m = get(pipeline, table);
    for (const char *s = gates; m && *s;) {
        while (*s == ' ' || *s == ',')
            s++;
        size_t n = strcspn(s, ", ");
        if (n) {
            struct gate_count *g = get_gate(m, s, n);
            if (g)
                g->n++;
        }
        s += n;
    }
    pthread_mutex_unlock(&mu);
}

#define SIMPLE(fn, body)                                               \
    void fn                                                            \
    {                                                                  \
        pthread_mutex_lock(&mu);                                       \
        struct tmetric *m = get(pipeline, table);                      \
        if (m) {                                                       \
            body;                                                      \
        }                                                              \
        pthread_mutex_unlock(&mu);                                     \
    }

SIMPLE(sl_metrics_retry(const char *pipeline, const char *table), m->retries++)
SIMPLE(sl_metrics_lock_wait(const char *pipeline, const char *table), m->lock_waits++)
SIMPLE(sl_metrics_dead_letter(const char *pipeline, const char *table, int64_t n),
       m->dead += n > 0 ? (uint64_t)n : 0)
SIMPLE(sl_metrics_running(const char *pipeline, const char *table, int running),
       m->running = running != 0)
SIMPLE(sl_metrics_stale(const char *pipeline, const char *table, int stale), m->stale = stale != 0)
SIMPLE(sl_metrics_seed_loaded(const char *pipeline, const char *table, sl_usec when),
       if (when > m->last_loaded) m->last_loaded = when)
SIMPLE(sl_metrics_error(const char *pipeline, const char *table, const char *msg),
       snprintf(m->last_error, sizeof m->last_error, "%s", msg ? msg : ""))

void sl_metrics_live(const char *pipeline, const char *table, struct sl_metrics_live *out)
{
    memset(out, 0, sizeof *out);
    pthread_mutex_lock(&mu);
    for (size_t i = 0; i < ntabs; i++) {
        const struct tmetric *m = &tabs[i];
        if (strcmp(m->pipeline, pipeline) != 0 || strcmp(m->table, table) != 0)
            continue;
        out->known = 1;
        out->running = m->running;
        out->stale = m->stale;
        out->last_loaded = m->last_loaded;
        memcpy(out->last_error, m->last_error, sizeof out->last_error);
        break;
    }
    pthread_mutex_unlock(&mu);
}

void sl_metrics_slot_set(const char *pipeline, const struct sl_metrics_slot *s)
{
    pthread_mutex_lock(&mu);
    struct smetric *m = NULL;
    for (size_t i = 0; i < nslots && !m; i++)
        if (strcmp(slots[i].pipeline, pipeline) == 0)
            m = &slots[i];
    if (!m) {
        struct smetric *n = sl_realloc(slots, (nslots + 1) * sizeof *n);
        char *name = n ? sl_strdup(pipeline) : NULL;
        if (n)
            slots = n;
        if (name) {
            m = &slots[nslots++];
            m->pipeline = name;
        }
    }
    if (m) {
        m->s = *s;
        memset(&m->s.state.pub_tables, 0, sizeof m->s.state.pub_tables);
    }
    pthread_mutex_unlock(&mu);
}

int sl_metrics_slot_get(const char *pipeline, struct sl_metrics_slot *out)
{
    int found = 0;
    pthread_mutex_lock(&mu);
    for (size_t i = 0; i < nslots && !found; i++)
        if (strcmp(slots[i].pipeline, pipeline) == 0) {
            *out = slots[i].s;
            found = 1;
        }
    pthread_mutex_unlock(&mu);
    return found;
}

/* ---- exposition ---- */

/* A label value: backslash, double quote and newline escaped. */
static void put_label(struct sl_buf *b, const char *name, const char *v)
{
    sl_buf_printf(b, "%s=\"", name);
    for (; *v; v++) {
        if (*v == '\\')
            sl_buf_puts(b, "\\\\");
        else if (*v == '"')
            sl_buf_puts(b, "\\\"");
        else if (*v == '\n')
            sl_buf_puts(b, "\\n");
        else
            sl_buf_putc(b, *v);
    }
    sl_buf_putc(b, '"');
}

/* name{pipeline="..",table=".."[,extra="val"]} */
static void series(struct sl_buf *b, const char *name, const struct tmetric *m,
                   const char *extra, const char *val)
{
    sl_buf_printf(b, "%s{", name);
    put_label(b, "pipeline", m->pipeline);
    sl_buf_putc(b, ',');
    put_label(b, "table", m->table);
    if (extra) {
        sl_buf_putc(b, ',');
        put_label(b, extra, val);
    }
    sl_buf_puts(b, "} ");
}

static void family(struct sl_buf *b, const char *name, const char *type, const char *help)
{
    sl_buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* name{pipeline="..",slot=".."} for a slot series. */
static void slot_series(struct sl_buf *b, const char *name, const struct smetric *m)
{
    sl_buf_printf(b, "%s{", name);
    put_label(b, "pipeline", m->pipeline);
    sl_buf_putc(b, ',');
    put_label(b, "slot", m->s.state.slot);
    sl_buf_puts(b, "} ");
}

/* A slot the source has (as last seen); the others have no series. */
static int slot_shown(const struct smetric *m)
{
    return m->s.seen && m->s.state.exists;
}

static void slot_families(struct sl_buf *b)
{
    family(b, "sluice_cdc_slot_retained_bytes", "gauge",
           "WAL the source keeps for the cdc pipeline's replication slot:"
           " pg_current_wal_lsn() - restart_lsn, in bytes.");
    for (size_t i = 0; i < nslots; i++)
        if (slot_shown(&slots[i]) && slots[i].s.state.retained_bytes >= 0) {
            slot_series(b, "sluice_cdc_slot_retained_bytes", &slots[i]);
            sl_buf_printf(b, "%lld\n", (long long)slots[i].s.state.retained_bytes);
        }
    family(b, "sluice_cdc_slot_unconfirmed_bytes", "gauge",
           "WAL written on the source past the slot's confirmed_flush_lsn (not yet confirmed"
           " as held by the warehouse): pg_current_wal_lsn() - confirmed_flush_lsn, in bytes.");
    for (size_t i = 0; i < nslots; i++)
        if (slot_shown(&slots[i]) && slots[i].s.state.unconfirmed_bytes >= 0) {
            slot_series(b, "sluice_cdc_slot_unconfirmed_bytes", &slots[i]);
            sl_buf_printf(b, "%lld\n", (long long)slots[i].s.state.unconfirmed_bytes);
        }
    family(b, "sluice_cdc_slot_lag_seconds", "gauge",
           "Age of the oldest change not yet confirmed to the slot, as the daemon measures it:"
           " seconds since it first saw confirmed_flush_lsn stand still with WAL past it"
           " (0 while it moves or nothing is past it); a lower bound, within one look"
           " (every 10 s), counted from the daemon's start at the earliest.");
    for (size_t i = 0; i < nslots; i++)
        if (slot_shown(&slots[i]) && slots[i].s.lag_seconds >= 0) {
            slot_series(b, "sluice_cdc_slot_lag_seconds", &slots[i]);
            sl_buf_printf(b, "%.3f\n", slots[i].s.lag_seconds);
        }
    family(b, "sluice_cdc_slot_active", "gauge",
           "1 while a process streams from the slot (the daemon's stream), else 0.");
    for (size_t i = 0; i < nslots; i++)
        if (slot_shown(&slots[i])) {
            slot_series(b, "sluice_cdc_slot_active", &slots[i]);
            sl_buf_printf(b, "%d\n", slots[i].s.state.active);
        }
}

char *sl_metrics_render(void)
{
    struct sl_buf b;
    sl_usec now = sl_time_now();
    sl_buf_init(&b);
    pthread_mutex_lock(&mu);

    family(&b, "sluice_rows_loaded_total", "counter", "Rows in committed batches.");
    for (size_t i = 0; i < ntabs; i++) {
        series(&b, "sluice_rows_loaded_total", &tabs[i], NULL, NULL);
        sl_buf_printf(&b, "%llu\n", (unsigned long long)tabs[i].rows);
    }
    family(&b, "sluice_bytes_loaded_total", "counter",
           "Input bytes (as stored, compressed or not) of committed batches.");
    for (size_t i = 0; i < ntabs; i++) {
        series(&b, "sluice_bytes_loaded_total", &tabs[i], NULL, NULL);
        sl_buf_printf(&b, "%llu\n", (unsigned long long)tabs[i].bytes);
    }
    family(&b, "sluice_batches_total", "counter", "Batches by how they ended.");
    for (size_t i = 0; i < ntabs; i++)
        for (int o = 0; o < SL_MB__COUNT; o++) {
            series(&b, "sluice_batches_total", &tabs[i], "state", outcome_names[o]);
            sl_buf_printf(&b, "%llu\n", (unsigned long long)tabs[i].batches[o]);
        }
    family(&b, "sluice_gate_failures_total", "counter",
           "Batches a gate did not pass (quarantined or failed), by gate.");
    for (size_t i = 0; i < ntabs; i++)
        for (size_t g = 0; g < tabs[i].ngates; g++) {
            series(&b, "sluice_gate_failures_total", &tabs[i], "gate", tabs[i].gates[g].name);
            sl_buf_printf(&b, "%llu\n", (unsigned long long)tabs[i].gates[g].n);
        }
    family(&b, "sluice_retries_total", "counter", "Batch attempts retried after a transient failure.");
    for (size_t i = 0; i < ntabs; i++) {
        series(&b, "sluice_retries_total", &tabs[i], NULL, NULL);
        sl_buf_printf(&b, "%llu\n", (unsigned long long)tabs[i].retries);
    }
    family(&b, "sluice_lock_waits_total", "counter",
           "Batch attempts that gave up waiting for a lock on their table (a reader held it).");
    for (size_t i = 0; i < ntabs; i++) {
        series(&b, "sluice_lock_waits_total", &tabs[i], NULL, NULL);
        sl_buf_printf(&b, "%llu\n", (unsigned long long)tabs[i].lock_waits);
    }
    family(&b, "sluice_dead_letters_total", "counter", "Records set aside in the dead letter table.");
    for (size_t i = 0; i < ntabs; i++) {
        series(&b, "sluice_dead_letters_total", &tabs[i], NULL, NULL);
        sl_buf_printf(&b, "%llu\n", (unsigned long long)tabs[i].dead);
    }
    family(&b, "sluice_lag_seconds", "gauge", "Seconds since the newest committed batch.");
    for (size_t i = 0; i < ntabs; i++) {
        if (!tabs[i].last_loaded)
            continue;
        series(&b, "sluice_lag_seconds", &tabs[i], NULL, NULL);
        sl_buf_printf(&b, "%.3f\n", (double)(now - tabs[i].last_loaded) / 1e6);
    }
    family(&b, "sluice_last_load_timestamp_seconds", "gauge",
           "Unix time of the newest committed batch.");
    for (size_t i = 0; i < ntabs; i++) {
        if (!tabs[i].last_loaded)
            continue;
        series(&b, "sluice_last_load_timestamp_seconds", &tabs[i], NULL, NULL);
        sl_buf_printf(&b, "%.3f\n", (double)tabs[i].last_loaded / 1e6);
    }
    family(&b, "sluice_table_running", "gauge", "1 while a batch of the table is loading.");
    for (size_t i = 0; i < ntabs; i++) {
        series(&b, "sluice_table_running", &tabs[i], NULL, NULL);
        sl_buf_printf(&b, "%d\n", tabs[i].running);
    }
    family(&b, "sluice_table_stale", "gauge",
           "1 when the table has had no committed batch within its pipeline's stale_after.");
    for (size_t i = 0; i < ntabs; i++) {
        series(&b, "sluice_table_stale", &tabs[i], NULL, NULL);
        sl_buf_printf(&b, "%d\n", tabs[i].stale);
    }
    family(&b, "sluice_batch_duration_seconds", "histogram",
           "Wall time of a batch, retries included (duplicates not counted).");
    for (size_t i = 0; i < ntabs; i++) {
        const struct tmetric *m = &tabs[i];
        uint64_t cum = 0;
        char le[32];
        for (size_t k = 0; k < NBUCKETS; k++) {
            cum += m->hist[k];
            snprintf(le, sizeof le, "%g", buckets[k]);
            series(&b, "sluice_batch_duration_seconds_bucket", m, "le", le);
            sl_buf_printf(&b, "%llu\n", (unsigned long long)cum);
        }
        series(&b, "sluice_batch_duration_seconds_bucket", m, "le", "+Inf");
        sl_buf_printf(&b, "%llu\n", (unsigned long long)m->hcount);
        series(&b, "sluice_batch_duration_seconds_sum", m, NULL, NULL);
        sl_buf_printf(&b, "%.6f\n", m->hsum);
        series(&b, "sluice_batch_duration_seconds_count", m, NULL, NULL);
        sl_buf_printf(&b, "%llu\n", (unsigned long long)m->hcount);
    }
    slot_families(&b);
    pthread_mutex_unlock(&mu);
    if (b.oom) {
        sl_buf_free(&b);
        return NULL;
    }
    return sl_buf_steal(&b);
}

static int in_config(const struct sl_config *c, const char *pipeline, const char *table)
{
    const struct sl_pipeline_cfg *p = sl_config_pipeline(c, pipeline);
    if (!p || !*table)  /* "": the pipeline's own */
        return p != NULL;
    for (size_t k = 0; k < p->ntables; k++)
        if (strcmp(p->tables[k].name, table) == 0)
            return 1;
    return 0;
}

void sl_metrics_forget_others(const struct sl_config *c)
{
    pthread_mutex_lock(&mu);
    size_t kept = 0;
    for (size_t i = 0; i < ntabs; i++) {
        if (in_config(c, tabs[i].pipeline, tabs[i].table)) {
            tabs[kept++] = tabs[i];
            continue;
        }
        sl_free(tabs[i].pipeline);
        sl_free(tabs[i].table);
        for (size_t g = 0; g < tabs[i].ngates; g++)
            sl_free(tabs[i].gates[g].name);
        sl_free(tabs[i].gates);
    }
    ntabs = kept;
    kept = 0;
    for (size_t i = 0; i < nslots; i++) {
        const struct sl_pipeline_cfg *p = sl_config_pipeline(c, slots[i].pipeline);
        if (p && p->source_ops->slot_state)
            slots[kept++] = slots[i];
        else
            sl_free(slots[i].pipeline);
    }
    nslots = kept;
    pthread_mutex_unlock(&mu);
}

void sl_metrics_reset(void)
{
    pthread_mutex_lock(&mu);
    for (size_t i = 0; i < ntabs; i++) {
        sl_free(tabs[i].pipeline);
        sl_free(tabs[i].table);
        for (size_t g = 0; g < tabs[i].ngates; g++)
            sl_free(tabs[i].gates[g].name);
        sl_free(tabs[i].gates);
    }
    sl_free(tabs);
    tabs = NULL;
    ntabs = 0;
    for (size_t i = 0; i < nslots; i++)
        sl_free(slots[i].pipeline);
    sl_free(slots);
    slots = NULL;
    nslots = 0;
    pthread_mutex_unlock(&mu);
}
