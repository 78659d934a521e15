/* engine/ledger.h: the batch ledger, kept in the destination beside the data.
 *
 * Written through the destination's exec() so the same SQL serves PostgreSQL
 * (schema _sluice) and SQLite (tables _sluice_*). Calls made inside the
 * engine's batch transaction commit with the rows (docs/invariants.md #2); a failure
 * record is written in a transaction of its own after the batch rolled back. */
#ifndef SL_LEDGER_H
#define SL_LEDGER_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "destinations/destination.h"

struct sl_ledger {
    const struct sl_dest_ops *ops;
    struct sl_dest *d;
};

struct sl_batch_meta {
    const char *pipeline;
    const char *table;
    const char *kind;           /* table kind */
    const char *source_ref;     /* file, query ... */
    const char *hash;           /* content hash or NULL */
    uint64_t bytes;
};

/* batch id that loaded this content into this table, or 0 */
int sl_ledger_find_file(struct sl_ledger *l, const char *table, const char *hash,
                        int64_t *batch_id, struct sl_err *err);
/* The newest batch of `table` that is loaded (committed or approved, not
 * rolled back), or 0. */
int sl_ledger_last_loaded(struct sl_ledger *l, const char *table, int64_t *id,
                          struct sl_err *err);
/* Forget the contents loaded into `table`: a snapshot table remembers only
 * the content it holds now, so a drop going back to an earlier content
 * loads (A, B, A leaves A), while the same content twice in a row is
 * skipped. Inside the batch transaction, before sl_ledger_record_file. */
int sl_ledger_forget_files(struct sl_ledger *l, const char *table, struct sl_err *err);
/* new batch row, state 'received'; *id set */
int sl_ledger_open(struct sl_ledger *l, const struct sl_batch_meta *m, int64_t *id,
                   struct sl_err *err);
/* State 'committed', no error; the gate report when there is one (a released
 * batch keeps the report of the gates that held it). */
int sl_ledger_commit(struct sl_ledger *l, int64_t id, int64_t rows_in, int64_t rows_written,
                     const char *report_json, struct sl_err *err);
int sl_ledger_record_file(struct sl_ledger *l, const char *table, const char *hash,
                          const char *name, uint64_t bytes, int64_t batch_id,
                          struct sl_err *err);
/* In its own transaction: a batch that did not commit (state 'failed');
 * *id (may be NULL) gets its batch id, for the log line and the alert. */
int sl_ledger_record_failure(struct sl_ledger *l, const struct sl_batch_meta *m,
                             const char *error, int64_t *id, struct sl_err *err);

/* The cursor stored for (pipeline, table): *value sl_malloc'd, NULL when
 * none yet. */
int sl_ledger_get_cursor(struct sl_ledger *l, const char *pipeline, const char *table,
                         char **value, struct sl_err *err);
/* Remove the cursor of (pipeline, table), in a transaction of its own: the
 * table starts again from nothing (a cdc table whose slot is gone). */
int sl_ledger_forget_cursor(struct sl_ledger *l, const char *pipeline, const char *table,
                            struct sl_err *err);
/* Inside the batch transaction: the cursor after batch `batch_id`. */
int sl_ledger_set_cursor(struct sl_ledger *l, const char *pipeline, const char *table,
                         const char *value, int64_t batch_id, struct sl_err *err);

/* In its own transaction: a batch a gate held back (state 'quarantined'),
 * with its gate report, a one-line summary and where its data is held. */
int sl_ledger_record_quarantine(struct sl_ledger *l, const struct sl_batch_meta *m,
                                const char *report_json, const char *summary,
                                const char *held, int64_t *id, struct sl_err *err);
/* The oldest quarantined batch of `table`, or 0: the table waits behind it. */
int sl_ledger_first_quarantined(struct sl_ledger *l, const char *table, int64_t *id,
                                struct sl_err *err);
/* One batch of one pipeline: columns id, pipeline, table_name, kind, state,
 * source_ref, held, report, error (in that order); no rows when absent. */
int sl_ledger_get(struct sl_ledger *l, int64_t id, const char *pipeline, struct sl_rows *out,
                  struct sl_err *err);

/* ---- decisions ----
 * Every decision on a batch, oldest first, is kept for good in the ledger's
 * `decision` column as a JSON array of {"what", "who", "at", "note"}: what
 * is "approved", "rejected" or "rolled back"; who the OS user (the CLI) or
 * the admin API's identity, "sluice" for what sluice settled itself; at ISO
 * 8601 UTC; note the reason given, or why (null when none). A column both
 * warehouses already have, so no warehouse needs a new table; a value an
 * earlier version wrote (one line of text) reads as one decision. */

/* One decision as JSON object text for sl_ledger_decide, sl_malloc'd (NULL:
 * out of memory); `at` NULL = now, `note` NULL or "" = none. */
char *sl_ledger_decision(const char *what, const char *who, const char *at, const char *note);
/* Append `decision` (from sl_ledger_decision) to batch `id`'s decisions and,
 * unless `state` is NULL, set its state. The gate report, the earlier
 * decisions and a loaded batch's finished_at (when it committed) stay; a
 * batch leaving quarantine finishes now. */
int sl_ledger_decide(struct sl_ledger *l, int64_t id, const char *state, const char *decision,
                     struct sl_err *err);
/* The decisions of a stored `decision` value (NULL: none) as a new JSON
 * array; NULL = out of memory. */
json_t *sl_ledger_decisions(const char *stored);
/* One decision as a line: "approved by alice at 2026-05-01T10:00:00.123456Z:
 * note" (whole_seconds: "...T10:00:00Z"). */
int sl_ledger_decision_line(const json_t *decision, int whole_seconds, struct sl_buf *out);
/* Who decides on the command line: the OS user running it. */
void sl_ledger_os_user(char *out, size_t cap);

/* Sizes of the newest `n` committed batches of `table` (not rolled back),
 * newest first: rows[i], bytes[i]; *count how many there were. */
int sl_ledger_history(struct sl_ledger *l, const char *table, size_t n, int64_t *rows,
                      int64_t *bytes, size_t *count, struct sl_err *err);

/* The ledger, newest first; table/state NULL = all. Columns: id, pipeline,
 * table_name, kind, state, source_ref, rows_in, rows_written, bytes,
 * started_at, finished_at, error, report, decision, held. */
int sl_ledger_list(struct sl_ledger *l, const char *table, const char *state, long limit,
                   struct sl_rows *out, struct sl_err *err);
/* One row per table: the newest batch, the newest committed batch, counts. */
int sl_ledger_table_status(struct sl_ledger *l, const char *table, struct sl_rows *out,
                           struct sl_err *err);

#endif
