/* gates/gate.h: what every gate (size, unique_key, timestamps, rules, schema) provides.
 *
 * A gate sees each row of a batch as it streams to the destination (inside
 * the batch transaction, invisible to readers), then gives a verdict before
 * commit. Any failing verdict stops the commit (docs/invariants.md #1: nothing reaches
 * a destination table before every gate has passed). Each verdict carries a
 * JSON report (what was checked, the figures, pass or fail) kept in the
 * ledger. */
#ifndef SL_GATE_H
#define SL_GATE_H

#include <stdint.h>

#include "base/err.h"
#include "model/config.h"
#include "model/schema.h"

struct sl_ledger;

/* What the batch's drop brings compared with the table (for the schema gate).
 * Filled by the engine before start(). */
struct sl_schema_diff {
    int table_existed;                  /* 0: the batch creates the table */
    struct sl_strlist added;            /* columns the drop brings that the table lacked */
    struct sl_strlist missing;          /* table columns the drop does not carry */
    struct sl_strlist changed;          /* "col: numeric -> text": values no longer fit */
};

/* The sizes of the newest `n` committed batches of `table` (not rolled
 * back), newest first: rows[i], bytes[i]; *count how many there were. The
 * engine answers it from its ledger. */
typedef int (*sl_gate_history_fn)(void *ctx, const char *table, size_t n, int64_t *rows,
                                  int64_t *bytes, size_t *count, struct sl_err *err);

struct sl_gate_env {
    sl_gate_history_fn history;         /* for the size gate */
    void *history_ctx;
    const char *pipeline;
    const struct sl_table_cfg *table;
    const struct sl_schema *schema;     /* columns of each row, in order */
    const struct sl_schema_diff *diff;
    int64_t batch_id;
    uint64_t bytes;                     /* size of the batch as stored */
    int64_t rows;                       /* finish(): rows in the batch */
};

/* FAIL: the batch is refused (files go to failed/). QUARANTINE: the batch is
 * held, nothing reaches the table, the table pauses behind it until
 * `sluice approve` or `sluice reject`. */
enum sl_verdict { SL_GATE_PASS = 0, SL_GATE_FAIL = 1, SL_GATE_QUARANTINE = 2 };

struct sl_gate_result {
    enum sl_verdict verdict;
    char *report_json;      /* sl_malloc'd JSON object; the engine frees it */
};

struct sl_gate_run;

struct sl_gate_ops {
    const char *name;                   /* key under `gates:` */
    const struct sl_cfg_key *keys;      /* its mapping form */
    size_t ctx_size;
    /* Optional: accept a scalar form (`unique_key: quarantine`) or a sequence
     * (`rules: [...]`) instead of a mapping. */
    int (*parse)(void *ctx, const struct sl_yaml_node *node, const char *file,
                 struct sl_err *err);
    int (*start)(const void *ctx, const struct sl_gate_env *env,
                 struct sl_gate_run **out, struct sl_err *err);
    /* Optional: check the settings against the table (kind, keys) when the
     * config is loaded; err says what is wrong (the loader adds where). */
    int (*check)(const void *ctx, const struct sl_table_cfg *t, struct sl_err *err);
    /* Optional: one line for `sluice check` saying what the gate enforces
     * (without it, check prints the gate's keys and values). */
    void (*describe)(const void *ctx, char *out, size_t cap);
    /* Optional, for a gate written as a list (rules): the key table of one
     * item, and item i's settings as that table filled them (NULL past the
     * last), so `sluice check` can print every item's keys. */
    const struct sl_cfg_key *item_keys;
    const void *(*item)(const void *ctx, size_t i);
    /* Optional: adjust how values are read for this table (the timestamps
     * gate sets the epoch unit and the DST overlap policy). Called before
     * start(), before any row is read. */
    void (*value_ctx)(const void *ctx, struct sl_valctx *v);
    /* One row as loaded: `cells` canonical (timestamps as UTC
     * "YYYY-MM-DDTHH:MM:SS.ffffffZ", numbers as written), `raw` the same
     * columns as the source gave them (raw[i].null when absent); `line` is
     * where the row came from, for examples. */
    int (*row)(struct sl_gate_run *g, const struct sl_cell *cells, const struct sl_cell *raw,
               long line, struct sl_err *err);
    /* Optional: this gate's checks on one row alone, for event sources
     * (http, jetstream), where a row that breaks one goes to the dead letter
     * table rather than holding the batch: 1 = it breaks one (why[] says
     * which; the caller then skips row() for it), 0 = it passes, -1 = error. */
    int (*row_check)(struct sl_gate_run *g, const struct sl_cell *cells, char *why,
                     size_t whylen, struct sl_err *err);
    int (*finish)(struct sl_gate_run *g, const struct sl_gate_env *env,
                  struct sl_gate_result *res, struct sl_err *err);
    void (*free_run)(struct sl_gate_run *g);
    /* Free what `parse` allocated beyond `keys`; never `ctx` itself (the
     * loader frees the keys with sl_cfg_free, then calls this, then frees
     * ctx). May be NULL. */
    void (*free_ctx)(void *ctx);
};

/* ---- shared by the gates ---- */

struct json_t;
/* The report object as the verdict's JSON text (compact); takes `o` (NULL =
 * out of memory). Returns 0, or -1 with err set. */
int sl_gate_report(struct json_t *o, struct sl_gate_result *res, struct sl_err *err);
/* A copy of a value for a report's examples: at most `max` bytes, cut at a
 * UTF-8 character boundary, "..." when cut. NULL when out of memory. */
char *sl_gate_clip(const char *s, size_t n, size_t max);
/* Text for a report: a JSON string of s, null for NULL; text that is not
 * UTF-8 (a value cut mid-character, a raw byte) with '?' for each byte
 * above ASCII. NULL when out of memory. */
struct json_t *sl_gate_json_text(const char *s);

/* The scalar form of a gate (`schema: quarantine`): the index of the node's
 * text in `names` (NULL-terminated) into *out, else a positioned error
 * "<expected>, found X; did you mean ...?". */
int sl_gate_parse_choice(const struct sl_yaml_node *node, const char *const *names,
                         const char *file, const char *expected, int *out,
                         struct sl_err *err);

const struct sl_gate_ops *sl_gate_find(const char *name, struct sl_err *err);
const struct sl_gate_ops *sl_gate_at(size_t i);

#endif
