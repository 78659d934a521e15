/* sources/events.h: the events source, one source with two transports.
 *
 * http.c and jetstream.c differ only in how events arrive: http.c serves
 * them over HTTP (a request answers once its events are committed),
 * jetstream.c consumes them from a JetStream stream (a message is acked
 * once its events are committed). Each keeps its `kind` (http, jetstream),
 * its keys and checks, and serve; the rest is here, the same for both:
 *
 *   - Reading a body (a request, a JetStream message): one JSON object, an
 *     array of objects, or NDJSON, checked strictly, with the line:column of
 *     the first error.
 *   - The mapping of an event onto its table: each column from a JSON path
 *     (`paths:`, default the column's own name), the table's primary key from
 *     the source's `event_id` path, the whole event in a json column
 *     (`event_column`, default _event). The engine sees each event as one
 *     flat JSON line holding exactly those columns, and the column types from
 *     schema(): declared ones as declared, others text, the event json.
 *   - The event batch handed to the engine: its rows, each event's raw text
 *     for the dead letter table, the outcome the engine acks, and finding
 *     the one event the destination refuses in a batch it refused.
 *   - The source ops the engine (and `sluice replay`) calls on event
 *     batches: every entry of a transport's ops table but its own
 *     (SL_EVENT_SOURCE_OPS). */
#ifndef SL_EVENTS_H
#define SL_EVENTS_H

#include <stddef.h>
#include <stdint.h>

#include "sources/source.h"

/* Keys every event source takes, first in each transport's config struct
 * (events.c reads it through p->source_ctx). */
struct sl_event_cfg {
    char *event_id;         /* JSON path of the event's id; NULL = no id */
    char *event_column;     /* json column for the whole event; "" = none */
    char *timezone;         /* zone of naive timestamps */
    char *held_dir;         /* where batches a gate holds are kept */
};
#define SL_EVENT_KEYS(type)                                                                    \
    {"event_id", SL_CFG_STR, offsetof(type, ev.event_id), NULL, 0, NULL,                     \
     "JSON path of the event's id (e.g. event_id, meta.id): goes to the table's primary key, " \
     "so an event sent twice is stored once"},                                                 \
    {"event_column", SL_CFG_STR, offsetof(type, ev.event_column), "_event", 0, NULL,          \
     "json column that keeps the whole event (\"\" for none)"},                               \
    {"timezone", SL_CFG_STR, offsetof(type, ev.timezone), "UTC", 0, NULL,                     \
     "tz database zone of timestamps written without an offset"},                             \
    {"held_dir", SL_CFG_STR, offsetof(type, ev.held_dir), "held", 0, NULL,                     \
     "where a batch a gate holds is kept until approve / reject (relative to the config)"}

/* ---- bodies ---- */

struct sl_event_slice {
    const char *s;
    size_t n;
};

/* Split body[0..n) into events. 0 = *out holds *nout slices into body
 * (sl_free(*out)); -1 = malformed: why[] says what and where
 * ("3:14: invalid JSON: ..."), or out of memory (why "out of memory"). */
int sl_events_split(const char *body, size_t n, struct sl_event_slice **out, size_t *nout,
                    char *why, size_t whylen);

/* ---- mapping ---- */

struct sl_event_map;

/* Check a pipeline's event source settings against its tables (one table;
 * the id needs a primary key of one column; paths name real JSON paths). */
int sl_event_validate(const struct sl_event_cfg *ec, const struct sl_pipeline_cfg *p,
                      const char *cfgfile, struct sl_err *err);
int sl_event_map_new(const struct sl_event_cfg *ec, const struct sl_table_cfg *t,
                     struct sl_event_map **out, struct sl_err *err);
void sl_event_map_free(struct sl_event_map *m);

/* ---- batches ---- */

struct sl_event_ref {
    size_t off, len;        /* raw event in raw */
    size_t loff, llen;      /* its row in lines */
    int64_t replay_of;      /* dead letter row it is a replay of, 0 = none */
    char *error;            /* found bad before the engine saw it: why (owned) */
};

struct sl_event_batch {
    struct sl_batch_input in;   /* in.priv points back here */
    struct sl_buf lines;        /* one flat JSON object per event */
    struct sl_buf raw;          /* the raw events, back to back */
    struct sl_event_ref *ev;
    size_t n, cap;
    unsigned char *dead;        /* per event: set aside by the engine's last attempt */
    char received_at[32];
    /* set by ack */
    int acked;
    enum sl_outcome outcome;
    char why[1024];
    char *held_path;            /* a held batch: its file */
};

/* A new empty batch; `ref` names it in the ledger (copied). */
struct sl_event_batch *sl_event_batch_new(const char *ref, const char *tz);
void sl_event_batch_free(struct sl_event_batch *b);
/* Empty it for reuse (keeps the buffers); new ref. */
int sl_event_batch_reset(struct sl_event_batch *b, const char *ref);
/* Append one event (already checked to be a JSON object). */
int sl_event_batch_add(struct sl_event_batch *b, const struct sl_event_map *m,
                       const char *ev, size_t n, int64_t replay_of);
/* Flatten one event into `line` (appends it with its newline): for request
 * threads, so the batch only copies. */
int sl_event_flatten(const struct sl_event_map *m, const char *ev, size_t n,
                     struct sl_buf *line);
/* sl_event_flatten of an event whose text is protected already. */
int sl_event_flatten_protected(const struct sl_event_map *m, const char *ev, size_t n,
                               struct sl_buf *line);
/* The event's text with its protected columns (protect:) protected, in
 * out: 1; 0 = the table protects nothing (use ev as it is); -1 = out of
 * memory. Where sluice kept the text itself (`trusted`: the dead letter
 * table, a held batch) a marker it wrote there says the text is protected
 * already: it is taken off and the text not protected again. */
int sl_event_protect(const struct sl_event_map *m, const char *ev, size_t n, int trusted,
                     struct sl_buf *out);
/* Append an event flattened already (from sl_event_protect's text when the
 * table protects columns). */
int sl_event_batch_add_flat(struct sl_event_batch *b, const char *line, size_t linelen,
                            const char *ev, size_t n, int64_t replay_of);
/* Append text that is no event the table can take (not JSON, not an
 * object, a message the destination refused): its row is one the engine's
 * reader refuses, so it goes to the dead letter table whole, with `why`. */
int sl_event_batch_add_bad(struct sl_event_batch *b, const char *ev, size_t n, const char *why,
                           int64_t replay_of);
/* Load b through the engine's sink as one batch. When it fails as a whole
 * because the destination refused something no check caught (SQLSTATE
 * class 22 or 23, bad input), run it again in halves, and halves of those,
 * so that what is refused is one event alone: that one goes to the dead
 * letter table with the destination's error, the others load. b->acked,
 * b->outcome and b->dead tell the result (after isolating: COMMITTED when
 * every event is in the table or set aside; RETRY_LATER when a transient
 * failure cut it short). */
void sl_event_batch_load(const struct sl_sink *sink, struct sl_feed *feed,
                         struct sl_event_batch *b);
/* Events of [from, to) the engine set aside (after the batch was acked). */
size_t sl_event_batch_dead(const struct sl_event_batch *b, size_t from, size_t to);

/* ---- source ops over event batches (both transports point theirs here) ---- */

/* The entries of a transport's sl_source_ops that are the events source's:
 * a transport's table names its kind, keys, ctx_size, validate, serve (and
 * blocks), then SL_EVENT_SOURCE_OPS. */
#define SL_EVENT_SOURCE_OPS                                                                    \
    .open = sl_event_open, .next_batch = sl_event_next_none,                                   \
    .open_rows = sl_event_open_rows, .hold = sl_event_hold, .reopen = sl_event_reopen,         \
    .ack = sl_event_ack, .close = sl_event_close, .schema = sl_event_schema,                   \
    .event = sl_event_event

/* The source handle of an event source: the engine's view. */
struct sl_event_source {
    const struct sl_config *cfg;
    const struct sl_pipeline_cfg *p;
    const struct sl_table_cfg *t;
    const struct sl_event_cfg *ec;
    struct sl_event_map *map;
};
int sl_event_source_open(struct sl_source **out, const struct sl_config *c,
                         const struct sl_pipeline_cfg *p, const struct sl_table_cfg *t,
                         const struct sl_event_cfg *ec, struct sl_err *err);
/* open: the source of table t, with the event keys of the pipeline's source
 * config (a transport's config struct, struct sl_event_cfg first). */
int sl_event_open(struct sl_source **out, const struct sl_config *c,
                  const struct sl_pipeline_cfg *p, const struct sl_table_cfg *t,
                  struct sl_err *err);
const struct sl_event_map *sl_event_source_map(struct sl_source *s);
const struct sl_event_cfg *sl_event_source_cfg(struct sl_source *s);
int sl_event_next_none(struct sl_source *s, struct sl_batch_input **out, struct sl_err *err);
int sl_event_open_rows(struct sl_source *s, struct sl_batch_input *b, struct sl_rowsrc *r,
                       struct sl_err *err);
int sl_event_schema(struct sl_source *s, struct sl_batch_input *b, struct sl_schema *out,
                    struct sl_err *err);
int sl_event_event(struct sl_source *s, struct sl_batch_input *b, long index,
                   struct sl_event_info *out);
int sl_event_hold(struct sl_source *s, struct sl_batch_input *b, char **held,
                  struct sl_err *err);
int sl_event_reopen(struct sl_source *s, const char *held, struct sl_batch_input **out,
                    struct sl_err *err);
/* Records the outcome in the batch; frees batches made by reopen. */
int sl_event_ack(struct sl_source *s, struct sl_batch_input *b, enum sl_outcome o,
                 const char *why, struct sl_err *err);
void sl_event_close(struct sl_source *s);

#endif
