/* formats/logread.h: what the log formats (syslog, clf/combined, log4j,
 * regex) share: records cut out of the stream line by line, a line that
 * does not begin a record joined to the one before (multiline), the fixed
 * columns each record hands out (plus `lineno`, the line the record starts
 * on), and the times they read turned into UTC.
 *
 * A format file describes itself with a struct sl_logfmt (its columns once
 * opened, how a record parses, how a line begins one) and makes its
 * sl_format_ops from the sl_log_* functions here. A record that does not
 * parse is an SL_E_INPUT error naming file:line:col; it is consumed, so
 * next() may be called again, and raw() hands out its text (the engine
 * dead-letters it). A stream error (corrupt compressed data, I/O) is final. */
#ifndef SL_LOGREAD_H
#define SL_LOGREAD_H

#include "base/re.h"
#include "formats/format.h"

/* The column every log record carries beside its format's own: the line of
 * the file the record starts on. Not `line`, which is log4j's %L. */
#define SL_LOG_LINENO "lineno"

struct sl_logrec;

struct sl_logfmt {
    const char *name;
    /* Make the format's own state from the options (layout, regex): *ctx,
     * and its column names (*cols, *ncols: owned by ctx). 0, or -1 with err
     * (SL_E_CONFIG: the option is wrong). */
    int (*init)(const struct sl_format_opts *o, void **ctx, const char *const **cols,
                size_t *ncols, struct sl_err *err);
    void (*fini)(void *ctx);
    /* Parse record s[0..n) (valid UTF-8, no NUL, lines joined by LF) into
     * the record's values (sl_logrec_set...). 0, or -1 with why[] and *at
     * (the byte offset it failed at). */
    int (*parse)(void *ctx, struct sl_logrec *r, const char *s, size_t n, char *why,
                 size_t whylen, size_t *at);
    /* Optional: the type column col is known to have (a time, a number,
     * json), so a table made from a drop where it is always NULL still
     * gets it; SL_T_NONE = as the values say. */
    enum sl_type (*type_of)(void *ctx, size_t col);
    /* Does line s[0..n) begin a record? NULL: every line does, unless the
     * source sets multiline.start. */
    int (*starts)(void *ctx, const char *s, size_t n);
};

/* Values of the record being parsed, by column index (0-based, in the
 * order init gave). A value is NULL unless set. `v` points into the record
 * text, or is copied (copy != 0). */
int sl_logrec_set(struct sl_logrec *r, size_t col, const char *v, size_t n, enum sl_lex lex,
                  int copy);
/* Append to column col's copied value (started with sl_logrec_set, copy). */
int sl_logrec_append(struct sl_logrec *r, size_t col, const char *v, size_t n);
/* A time: turned into UTC (zone, year and date from the file, DST order:
 * sl_civil_to_utc) and set as canonical text. 0, or -1 with why[]. */
int sl_logrec_time(struct sl_logrec *r, size_t col, const struct sl_civil *c, char *why,
                   size_t whylen);

/* The same read in `zone` (the layout's own) rather than the source's;
 * NULL = the source's. */
int sl_logrec_time_in(struct sl_logrec *r, size_t col, const struct sl_civil *c,
                      const char *zone, char *why, size_t whylen);
/* An instant read whole (RFC 5424's timestamp): set as canonical text, and
 * the record before the next one's for DST overlaps. */
int sl_logrec_instant(struct sl_logrec *r, size_t col, sl_usec t);
/* Scratch space of the reader's, for a format to unescape into before it
 * copies the value (sl_logrec_set with copy); any call may reset it. */
struct sl_buf *sl_logrec_scratch(struct sl_logrec *r);
/* The zone a time without offset is read in (the source's timezone). */
const char *sl_logrec_zone(const struct sl_logrec *r);

/* Shared ops: each format's sl_format_ops calls these with its sl_logfmt. */
int sl_log_open(const struct sl_logfmt *fmt, struct sl_reader **out, struct sl_stream *in,
                const struct sl_format_opts *opts, struct sl_err *err);
int sl_log_next(struct sl_reader *r, struct sl_record *rec, struct sl_err *err);
void sl_log_close(struct sl_reader *r);
size_t sl_log_columns(struct sl_reader *r, const struct sl_field **out);
int sl_log_raw(struct sl_reader *r, const char **text, size_t *len, long *line, long *index);
/* Check the options without a stream (sluice check). */
int sl_log_check(const struct sl_logfmt *fmt, const struct sl_format_opts *opts,
                 struct sl_err *err);

#endif
