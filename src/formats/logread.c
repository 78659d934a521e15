/* formats/logread.c: the record splitter and value plumbing of the log
 * formats (see logread.h).
 *
 * Records are cut from one buffer that holds at least the record being
 * built: a line is looked at whole (up to its LF) to tell whether it begins
 * a record, and the record before it ends there. Memory is bounded by
 * max_record, not by the file (docs/invariants.md #4): a longer record is
 * refused with its first RAW_HEAD bytes as its text, and the rest of it is
 * skipped without being kept. */
#include "formats/logread.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "base/mem.h"

#define DEFAULT_MAX_RECORD ((size_t)64 << 20)
#define INITIAL_BUF        ((size_t)128 << 10)
#define LINE_SLACK         5        /* BOM, CR and LF around a max_record record */
#define RAW_HEAD           ((size_t)64 << 10)   /* of an over-long record, kept as its text */

struct val {
    const char *p;
    size_t off, len;
    int copied, set;
    enum sl_lex lex;
};

struct sl_logrec {
    struct log_reader *lr;
    struct val *v;
    struct sl_buf text;         /* copied values */
    struct sl_buf tmp;          /* sl_logrec_scratch */
    char (*ts)[32];             /* per column: a time's canonical text */
};

struct log_reader {
    const struct sl_logfmt *fmt;
    void *ctx;
    struct sl_stream *in;
    const char *zone;
    int64_t ref;
    size_t max_record;
    struct sl_re *start_re;
    struct sl_re_match *start_m;

    char *buf;                  /* unconsumed input is buf[start..end) */
    size_t cap, start, end, scan;
    int eof, failed;
    struct sl_err saved;
    long line;                  /* the line starting at buf[start] */
    int began;                  /* the first line was looked at (its BOM) */
    int skip;                   /* 1: dropping the rest of an over-long line; 2: and then
                                 * the lines that continue its record */
    long index;

    /* the record last handed out or refused */
    const char *raw;
    size_t raw_len;
    long raw_line;
    int has_raw;
    int raw_ascii;
    struct sl_buf scratch;      /* a record with its CRs taken out, or an over-long head */

    sl_usec prev;               /* the time of the record before, for DST overlaps */
    int has_prev;

    const char *const *cols;
    size_t ncols;               /* the format's own; fields has one more (lineno) */
    struct sl_field *fields;
    struct sl_logrec rec;
    char lineno[24];
};

static const char *name_of(const struct log_reader *r)
{
    return sl_stream_name(r->in);
}

/* ---- values ---- */

int sl_logrec_set(struct sl_logrec *r, size_t col, const char *v, size_t n, enum sl_lex lex,
                  int copy)
{
    struct val *x = &r->v[col];
    x->set = 1;
    x->lex = lex;
    x->len = n;
    x->copied = copy;
    if (!copy) {
        x->p = v;
        return 0;
    }
    x->off = r->text.len;
    return sl_buf_append(&r->text, v, n);
}

int sl_logrec_append(struct sl_logrec *r, size_t col, const char *v, size_t n)
{
    struct val *x = &r->v[col];
    x->len += n;
    return sl_buf_append(&r->text, v, n);
}

int sl_logrec_time(struct sl_logrec *r, size_t col, const struct sl_civil *c, char *why,
                   size_t whylen)
{
    return sl_logrec_time_in(r, col, c, NULL, why, whylen);
}

int sl_logrec_time_in(struct sl_logrec *r, size_t col, const struct sl_civil *c,
                      const char *zone, char *why, size_t whylen)
{
    struct log_reader *lr = r->lr;
    sl_usec t;
    if (sl_civil_to_utc(c, zone ? zone : lr->zone, lr->ref, lr->prev, lr->has_prev, &t, why, whylen) < 0)
        return -1;
    lr->prev = t;
    lr->has_prev = 1;
    sl_time_format(t, r->ts[col]);
    return sl_logrec_set(r, col, r->ts[col], strlen(r->ts[col]), SL_LEX_RAW, 0);
}

int sl_logrec_instant(struct sl_logrec *r, size_t col, sl_usec t)
{
    r->lr->prev = t;
    r->lr->has_prev = 1;
    sl_time_format(t, r->ts[col]);
    return sl_logrec_set(r, col, r->ts[col], strlen(r->ts[col]), SL_LEX_RAW, 0);
}

struct sl_buf *sl_logrec_scratch(struct sl_logrec *r)
{
    return &r->tmp;
}

const char *sl_logrec_zone(const struct sl_logrec *r)
{
    return r->lr->zone;
}

/* ---- lines ---- */

/* Make buf[*pos..] hold a whole line, keeping buf[start..]: 1 with *eol its
 * end (the LF, or end of input), 0 = no bytes at *pos (end of input), 2 =
 * the record from buf[start] is longer than max_record with no end of line
 * in sight, -1 = stream error or out of memory. Moves the buffer: *pos
 * follows. */
static int line_at(struct log_reader *r, size_t *pos, size_t *eol, struct sl_err *err)
{
    size_t hard = r->max_record + LINE_SLACK;
    for (;;) {
        if (r->scan < *pos)
            r->scan = *pos;
        if (r->scan < r->end) {
            char *nl = memchr(r->buf + r->scan, '\n', r->end - r->scan);
            if (nl) {
                *eol = (size_t)(nl - r->buf);
                return 1;
            }
            r->scan = r->end;
        }
        if (r->eof) {
            if (*pos >= r->end)
                return 0;
            *eol = r->end;
            return 1;
        }
        if (r->end - r->start >= hard)
            return 2;
        if (r->end == r->cap && r->start > 0) {
            size_t d = r->start;
            memmove(r->buf, r->buf + d, r->end - d);
            r->end -= d;
            r->scan -= d;
            *pos -= d;
            r->start = 0;
        }
        if (r->end == r->cap) {
            size_t ncap = r->cap < hard / 2 ? r->cap * 2 : hard;
            char *nb = sl_realloc(r->buf, ncap);
            if (!nb)
                return sl_format_nomem(err, name_of(r), r->line);
            r->buf = nb;
            r->cap = ncap;
        }
        ssize_t got = sl_stream_read(r->in, r->buf + r->end, r->cap - r->end, err);
        if (got < 0) {
            r->failed = 1;
            r->saved = *err;
            return -1;
        }
        if (got == 0)
            r->eof = 1;
        r->end += (size_t)got;
    }
}

/* The line buf[a..b) without its CR; the file's BOM off its first line. */
static void line_body(const struct log_reader *r, size_t a, size_t b, const char **s,
                      size_t *n)
{
    *s = r->buf + a;
    *n = b - a;
    if (*n && (*s)[*n - 1] == '\r')
        (*n)--;
}

static int valid_line(const char *s, size_t n)
{
    return sl_utf8_valid(s, n);
}

/* Does the line begin a record? An invalid one always does: it is refused
 * on its own rather than spoiling the record before it. */
static int begins(struct log_reader *r, const char *s, size_t n)
{
    if (!valid_line(s, n))
        return 1;
    if (r->start_re) {
        char why[8];
        return sl_re_exec(r->start_re, r->start_m, s, n, why, sizeof why) == 1;
    }
    return r->fmt->starts ? r->fmt->starts(r->ctx, s, n) : 1;
}

static int multiline(const struct log_reader *r)
{
    return r->start_re || r->fmt->starts;
}

static long count_lf(const char *s, size_t n)
{
    long k = 0;
    for (const char *p = s; (p = memchr(p, '\n', (size_t)(s + n - p))); p++)
        k++;
    return k;
}

/* Drop what is left of an over-long record (r->skip): the rest of its line,
 * then the lines that do not begin a record. */
static int skip_rest(struct log_reader *r, struct sl_err *err)
{
    while (r->skip) {
        size_t pos = r->start, eol;
        int rc = line_at(r, &pos, &eol, err);
        if (rc < 0)
            return -1;
        if (rc == 0) {
            r->skip = 0;
            return 0;
        }
        if (rc == 2) {                  /* still no LF: drop what we have */
            r->start = r->scan = r->end = 0;
            continue;
        }
        if (r->skip == 2) {
            const char *s;
            size_t n;
            line_body(r, r->start, eol, &s, &n);
            if (begins(r, s, n)) {
                r->skip = 0;
                return 0;
            }
        }
        r->start = eol < r->end ? eol + 1 : eol;
        r->line++;
        r->skip = multiline(r) ? 2 : 0;
    }
    return 0;
}

/* The next record's text: 1 with r->raw set (the record consumed), 0 = end
 * of input, -1 = error (SL_E_INPUT for an over-long record, which is
 * consumed too). */
static int next_record(struct log_reader *r, struct sl_err *err)
{
    if (r->failed) {
        *err = r->saved;
        return -1;
    }
    if (skip_rest(r, err) < 0)
        return -1;
    for (;;) {
        size_t pos = r->start, eol;
        int rc = line_at(r, &pos, &eol, err);
        if (rc <= 0)
            return rc;
        if (rc == 2)
            goto too_long;
        if (!r->began && eol - r->start >= 3 &&
            memcmp(r->buf + r->start, "\xEF\xBB\xBF", 3) == 0) {
            r->start += 3;      /* a UTF-8 byte order mark */
            pos = r->start;
        }
        r->began = 1;
        const char *s;
        size_t n;
        line_body(r, r->start, eol, &s, &n);
        size_t k = 0;
        while (k < n && (s[k] == ' ' || s[k] == '\t'))
            k++;
        if (k == n) {               /* a blank line between records */
            r->start = eol < r->end ? eol + 1 : eol;
            r->line++;
            continue;
        }
        long lines = 1;
        size_t last = eol;          /* end of the record's last line */
        /* an invalid first line is a record alone (begins()); the whole
         * record is checked once it is cut */
        int first_ok = !multiline(r) || valid_line(s, n);
        /* lines that do not begin a record join it */
        while (multiline(r) && first_ok && last < r->end) {
            pos = last + 1;
            rc = line_at(r, &pos, &eol, err);
            last = pos - 1;         /* the buffer may have moved */
            if (rc < 0)
                return -1;
            if (rc == 0)
                break;
            if (rc == 2) {
                /* the next line is not in whole, and with this record it
                 * would be too long: the start of it says whether it begins
                 * a record of its own (then this one is complete) */
                if (begins(r, r->buf + pos, r->end - pos))
                    break;
                goto too_long;
            }
            line_body(r, pos, eol, &s, &n);
            if (begins(r, s, n))
                break;
            last = eol;
            lines++;
        }
        /* the record: buf[start..last), without trailing CRs and LFs */
        size_t a = r->start, b = last;
        while (b > a && (r->buf[b - 1] == '\n' || r->buf[b - 1] == '\r'))
            b--;
        r->raw_line = r->line;
        r->line += lines;
        r->start = last < r->end ? last + 1 : last;
        r->raw = r->buf + a;
        r->raw_len = b - a;
        if (lines > 1 && memchr(r->raw, '\r', r->raw_len)) {
            sl_buf_reset(&r->scratch);
            for (size_t i = 0; i < r->raw_len; i++)
                if (!(r->raw[i] == '\r' && i + 1 < r->raw_len && r->raw[i + 1] == '\n'))
                    sl_buf_putc(&r->scratch, r->raw[i]);
            if (r->scratch.oom)
                return sl_format_nomem(err, name_of(r), r->raw_line);
            r->raw = r->scratch.data;
            r->raw_len = r->scratch.len;
        }
        r->has_raw = 1;
        return 1;
    }
too_long:
    /* keep the head as its text; drop the rest as it comes */
    sl_buf_reset(&r->scratch);
    r->raw_line = r->line;
    {
        size_t have = r->end - r->start, keep = have < RAW_HEAD ? have : RAW_HEAD;
        if (keep > r->max_record)
            keep = r->max_record;
        while (keep > 0 && keep < have && ((unsigned char)r->buf[r->start + keep] & 0xC0) == 0x80)
            keep--;
        sl_buf_append(&r->scratch, r->buf + r->start, keep);
        r->line += count_lf(r->buf + r->start, have);
    }
    if (r->scratch.oom)
        return sl_format_nomem(err, name_of(r), r->line);
    r->raw = r->scratch.data;
    r->raw_len = r->scratch.len;
    r->has_raw = 1;
    r->start = r->scan = r->end = 0;
    r->skip = 1;
    r->index++;
    return sl_err_set(err, SL_E_INPUT,
                      "%s:%ld:1: record longer than %zu bytes (max_record); split the record"
                      " or raise max_record", name_of(r), r->raw_line, r->max_record);
}

/* line:col (col in characters) of byte `off` of the record. */
static void where(const struct log_reader *r, size_t off, long *line, long *col)
{
    const char *s = r->raw;
    size_t bol = 0;
    *line = r->raw_line;
    if (off > r->raw_len)
        off = r->raw_len;
    for (size_t i = 0; i < off; i++)
        if (s[i] == '\n') {
            ++*line;
            bol = i + 1;
        }
    long c = 1;
    for (size_t i = bol; i < off; i++)
        c += ((unsigned char)s[i] & 0xC0) != 0x80;
    *col = c;
}

static size_t first_invalid(const char *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        unsigned char c = (unsigned char)s[i];
        if (c == 0)
            return i;
        if (c < 0x80) {
            i++;
            continue;
        }
        unsigned cp;
        size_t k = sl_utf8_decode((const unsigned char *)s + i, n - i, &cp);
        if (!k)
            return i;
        i += k;
    }
    return n;
}

/* ---- format ops ---- */

static void reader_free(struct log_reader *r)
{
    if (!r)
        return;
    if (r->fmt->fini && r->ctx)
        r->fmt->fini(r->ctx);
    sl_re_match_free(r->start_m);
    sl_re_free(r->start_re);
    sl_free(r->buf);
    sl_buf_free(&r->scratch);
    sl_buf_free(&r->rec.text);
    sl_buf_free(&r->rec.tmp);
    sl_free(r->rec.v);
    sl_free(r->rec.ts);
    sl_free(r->fields);
    sl_free(r);
}

static int compile_start(const char *pattern, struct sl_re **re, struct sl_re_match **m,
                         struct sl_err *err)
{
    char why[256];
    *re = sl_re_compile(pattern, SL_RE_START, why, sizeof why);
    if (!*re)
        return sl_err_set(err, SL_E_CONFIG, "multiline start \"%s\": %s", pattern, why);
    *m = sl_re_match_new(*re);
    if (!*m)
        return sl_err_nomem(err);
    return 0;
}

int sl_log_check(const struct sl_logfmt *fmt, const struct sl_format_opts *opts,
                 struct sl_err *err)
{
    void *ctx = NULL;
    const char *const *cols;
    size_t ncols;
    if (fmt->init(opts, &ctx, &cols, &ncols, err) < 0)
        return -1;
    int rc = 0;
    for (size_t i = 0; i < ncols && rc == 0; i++)
        if (strcmp(cols[i], SL_LOG_LINENO) == 0)
            rc = sl_err_set(err, SL_E_CONFIG, "column \"%s\" is the line each record starts"
                            " on; name the %s column otherwise", SL_LOG_LINENO, fmt->name);
    if (fmt->fini)
        fmt->fini(ctx);
    if (rc == 0 && opts && opts->multiline_start) {
        struct sl_re *re = NULL;
        struct sl_re_match *m = NULL;
        rc = compile_start(opts->multiline_start, &re, &m, err);
        sl_re_match_free(m);
        sl_re_free(re);
    }
    if (rc == 0 && opts && opts->timezone && !sl_tz_valid(opts->timezone))
        rc = sl_err_set(err, SL_E_CONFIG, "unknown time zone \"%s\"", opts->timezone);
    return rc;
}

int sl_log_open(const struct sl_logfmt *fmt, struct sl_reader **out, struct sl_stream *in,
                const struct sl_format_opts *opts, struct sl_err *err)
{
    struct log_reader *r = sl_calloc(1, sizeof *r);
    if (!r)
        return sl_err_set(err, SL_E_NOMEM, "%s: out of memory opening the %s reader",
                          sl_stream_name(in), fmt->name);
    r->fmt = fmt;
    r->in = in;
    r->line = opts && opts->first_line > 0 ? opts->first_line : 1;
    r->zone = opts ? opts->timezone : NULL;
    r->ref = opts && opts->ref_time ? opts->ref_time : sl_time_now() / 1000000;
    r->max_record = opts && opts->max_record ? opts->max_record : DEFAULT_MAX_RECORD;
    if (r->max_record > SIZE_MAX / 4)
        r->max_record = SIZE_MAX / 4;
    sl_buf_init(&r->scratch);
    sl_buf_init(&r->rec.text);
    sl_buf_init(&r->rec.tmp);
    r->rec.lr = r;
    if (fmt->init(opts, &r->ctx, &r->cols, &r->ncols, err) < 0) {
        r->ctx = NULL;
        sl_err_prefix(err, "%s", sl_stream_name(in));
        reader_free(r);
        return -1;
    }
    if (opts && opts->multiline_start &&
        compile_start(opts->multiline_start, &r->start_re, &r->start_m, err) < 0) {
        reader_free(r);
        return -1;
    }
    size_t hard = r->max_record + LINE_SLACK;
    r->cap = hard < INITIAL_BUF ? hard : INITIAL_BUF;
    r->buf = sl_malloc(r->cap);
    r->fields = sl_calloc(r->ncols + 1, sizeof *r->fields);
    r->rec.v = sl_calloc(r->ncols + 1, sizeof *r->rec.v);
    r->rec.ts = sl_calloc(r->ncols + 1, sizeof *r->rec.ts);
    if (!r->buf || !r->fields || !r->rec.v || !r->rec.ts) {
        reader_free(r);
        return sl_err_set(err, SL_E_NOMEM, "%s: out of memory opening the %s reader",
                          sl_stream_name(in), fmt->name);
    }
    for (size_t i = 0; i < r->ncols; i++) {
        r->fields[i].name = r->cols[i];
        r->fields[i].name_len = strlen(r->cols[i]);
        r->fields[i].type = fmt->type_of ? fmt->type_of(r->ctx, i) : SL_T_NONE;
    }
    r->fields[r->ncols].type = SL_T_BIGINT;
    r->fields[r->ncols].name = SL_LOG_LINENO;
    r->fields[r->ncols].name_len = strlen(SL_LOG_LINENO);
    *out = (struct sl_reader *)r;
    return 0;
}

int sl_log_next(struct sl_reader *rd, struct sl_record *rec, struct sl_err *err)
{
    struct log_reader *r = (struct log_reader *)rd;
    char why[512];
    size_t at = 0;

    r->has_raw = 0;
    int rc = next_record(r, err);
    if (rc <= 0)
        return rc;
    r->index++;
    size_t bad = first_invalid(r->raw, r->raw_len);
    if (bad < r->raw_len) {
        long l, c;
        where(r, bad, &l, &c);
        return sl_err_set(err, SL_E_INPUT, "%s:%ld:%ld: %s", name_of(r), l, c,
                          r->raw[bad] ? "invalid UTF-8" : "a NUL byte");
    }
    sl_buf_reset(&r->rec.text);
    memset(r->rec.v, 0, (r->ncols + 1) * sizeof *r->rec.v);
    if (r->fmt->parse(r->ctx, &r->rec, r->raw, r->raw_len, why, sizeof why, &at) < 0) {
        long l, c;
        if (r->rec.text.oom)
            return sl_format_nomem(err, name_of(r), r->raw_line);
        where(r, at, &l, &c);
        return sl_err_set(err, SL_E_INPUT, "%s:%ld:%ld: %s", name_of(r), l, c, why);
    }
    if (r->rec.text.oom)
        return sl_format_nomem(err, name_of(r), r->raw_line);
    int ascii = 1, lines1 = !memchr(r->raw, '\n', r->raw_len);
    for (size_t i = 0; i < r->raw_len && ascii; i++)
        ascii = (unsigned char)r->raw[i] < 0x80;
    for (size_t i = 0; i < r->ncols; i++) {
        struct sl_field *f = &r->fields[i];
        const struct val *v = &r->rec.v[i];
        f->lex = v->lex;
        f->is_null = !v->set;
        if (!v->set) {
            f->val = "";
            f->len = 0;
            f->lex = SL_LEX_RAW;
            f->line = r->raw_line;
            f->col = 1;
            continue;
        }
        f->val = v->copied ? r->rec.text.data + v->off : v->p;
        f->len = v->len;
        if (!f->val)
            f->val = "";
        /* where the value starts, for the engine's messages */
        if (!v->copied && v->p >= r->raw && v->p <= r->raw + r->raw_len) {
            size_t off = (size_t)(v->p - r->raw);
            if (ascii && lines1) {
                f->line = r->raw_line;
                f->col = (long)off + 1;
            } else {
                where(r, off, &f->line, &f->col);
            }
        } else {
            f->line = r->raw_line;
            f->col = 1;
        }
    }
    struct sl_field *ln = &r->fields[r->ncols];
    int k = snprintf(r->lineno, sizeof r->lineno, "%ld", r->raw_line);
    ln->val = r->lineno;
    ln->len = (size_t)k;
    ln->lex = SL_LEX_NUMBER;
    ln->is_null = 0;
    ln->line = r->raw_line;
    ln->col = 1;
    rec->fields = r->fields;
    rec->nfields = r->ncols + 1;
    rec->line = r->raw_line;
    rec->index = r->index;
    return 1;
}

void sl_log_close(struct sl_reader *rd)
{
    reader_free((struct log_reader *)rd);
}

size_t sl_log_columns(struct sl_reader *rd, const struct sl_field **out)
{
    struct log_reader *r = (struct log_reader *)rd;
    *out = r->fields;
    return r->ncols + 1;
}

int sl_log_raw(struct sl_reader *rd, const char **text, size_t *len, long *line, long *index)
{
    struct log_reader *r = (struct log_reader *)rd;
    if (!r->has_raw)
        return 0;
    *text = r->raw;
    *len = r->raw_len;
    *line = r->raw_line;
    *index = r->index;
    return 1;
}
