/* formats/format.h: what every record reader (csv, tsv, jsonl ...) provides.
 *
 * A reader pulls bytes from an sl_stream and hands out one record at a time
 * as named fields. Field text is valid until the next call to next(). Every
 * error names where: "<display>:<line>:<col>: what, and what to do". Lines
 * and columns are 1-based; columns count characters (UTF-8 code points). */
#ifndef SL_FORMAT_H
#define SL_FORMAT_H

#include <stddef.h>
#include <stdint.h>

#include "base/err.h"
#include "base/stream.h"
#include "base/value.h"

struct sl_field {
    const char *name;       /* column name (CSV: from the header row) */
    size_t name_len;
    const char *val;        /* value bytes; not NUL-terminated */
    size_t len;
    int is_null;            /* CSV: unquoted empty field; JSON: null */
    enum sl_lex lex;
    long line, col;         /* where the value starts */
    enum sl_type type;      /* the type the format knows its column has (a log's ts,
                             * lineno); SL_T_NONE = as the values say */
};

struct sl_record {
    struct sl_field *fields;
    size_t nfields;
    long line;              /* line where the record starts */
    long index;             /* 1-based record number (header not counted) */
};

struct sl_format_opts {
    char delimiter;         /* 0 = the format's default */
    int header;             /* csv/tsv: 1 (default) = first row names columns */
    size_t max_record;      /* bytes; 0 = 64 MiB. A longer record is an error */
    /* the log formats (formats/logread.h) */
    const char *timezone;   /* zone of times written without an offset; NULL = UTC */
    int64_t ref_time;       /* the file's modification time (seconds since the epoch):
                             * the year of a time written without one */
    const char *layout;     /* log4j: the PatternLayout, or a preset's name */
    const char *regex;      /* regex: the pattern, its named groups the columns */
    const char *multiline_start;    /* a line matching this begins a record; NULL = the
                                     * format's own rule */
    long first_line;        /* the line of its file the input starts on (a dead-lettered
                             * record read again); 0 = 1 */
};

struct sl_reader;

struct sl_format_ops {
    const char *name;       /* "csv", "tsv", "jsonl" */
    const char *const *extensions;  /* NULL-terminated, e.g. {".csv", NULL} */
    /* Open a reader over `in` (not owned; close it after the reader). For
     * formats with a header the header is read here. NULL for a reader its
     * source opens itself (the postgres source's COPY reader). */
    int (*open)(struct sl_reader **out, struct sl_stream *in,
                const struct sl_format_opts *opts, struct sl_err *err);
    /* 1 = a record in *rec, 0 = end of input, -1 = error in err. */
    int (*next)(struct sl_reader *r, struct sl_record *rec, struct sl_err *err);
    void (*close)(struct sl_reader *r);
    /* Optional: the columns the input names before any record (a csv/tsv
     * header), as fields of which only name and name_len count; 0 when it
     * names none. Valid until the next call to next(). */
    size_t (*columns)(struct sl_reader *r, const struct sl_field **out);
    /* Optional (the log formats): the text of the record the last next()
     * handed out or refused, the line it starts on and its index (1-based,
     * counting records handed out and refused alike, as sl_record.index): 1;
     * 0 when that call failed on the stream, not on a record (a final
     * error). A refused record was consumed: next() may be called again.
     * Valid until then. */
    int (*raw)(struct sl_reader *r, const char **text, size_t *len, long *line, long *index);
    /* Optional: check the options (a layout, a regex) before any drop, for
     * `sluice check`. 0, or -1 with err (SL_E_CONFIG). */
    int (*check)(const struct sl_format_opts *opts, struct sl_err *err);
};

extern const struct sl_format_ops sl_format_csv;
extern const struct sl_format_ops sl_format_tsv;
extern const struct sl_format_ops sl_format_jsonl;
extern const struct sl_format_ops sl_format_syslog;
extern const struct sl_format_ops sl_format_clf;
extern const struct sl_format_ops sl_format_combined;
extern const struct sl_format_ops sl_format_log4j;
extern const struct sl_format_ops sl_format_regex;

/* The names of a record's fields, checked for one given twice (a csv
 * header, a JSON object's keys). `scan` is scratch kept between calls, so a
 * reader checking every record allocates once; zero it before the first
 * call, sl_dupscan_free it after the last. */
struct sl_dupscan {
    size_t *slots;          /* field index + 1, 0 = empty */
    size_t cap;
};
/* The first of f[0..nf) whose name an earlier one has: 1 with that one's
 * index in *dup and the earlier one's in *first; 0 when the names are
 * unique; -1 out of memory. */
int sl_fields_find_dup(struct sl_dupscan *scan, const struct sl_field *f, size_t nf,
                       size_t *first, size_t *dup);
void sl_dupscan_free(struct sl_dupscan *scan);

/* Out of memory reading the record at `line` of input `name`: "<name>:<line>:
 * out of memory reading the record" (SL_E_NOMEM). Returns -1. */
int sl_format_nomem(struct sl_err *err, const char *name, long line);

/* By name; "not found" lists the formats there are. */
const struct sl_format_ops *sl_format_find(const char *name, struct sl_err *err);
/* By file name extension, ignoring .gz / .zst; NULL when none matches. */
const struct sl_format_ops *sl_format_for_path(const char *path);

#endif
