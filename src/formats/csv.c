/* formats/csv.c: the CSV and TSV readers (RFC 4180, streaming, zero-copy).
 *
 * Registered as sl_format_csv (delimiter ',') and sl_format_tsv (tab); both
 * are one engine, and opts->delimiter overrides either. This is the hot path
 * of file loads, so:
 *   - input is read into one large buffer and scanned eight bytes at a time
 *     for the few bytes that matter (delimiter or quote, LF, CR, NUL,
 *     non-ASCII);
 *   - field values point into that buffer, no copy; a quoted field with
 *     doubled quotes is unescaped in place;
 *   - the buffer grows only to hold one record, up to max_record (64 MiB by
 *     default), so memory is bounded by the record, not the file (docs/invariants.md #4);
 *   - columns (code points) are counted only where a field starts, and only
 *     when a non-ASCII byte came before it on the line.
 *
 * A record that does not fit in what has been read so far is parsed again
 * from its start once more input is in; the input wanted grows by at least
 * half each time, so the work stays linear in the record's length.
 *
 * Rules (the unit tests hold each one):
 *   - quoted fields ("...") may hold delimiters, line ends and doubled quotes;
 *     only a field that starts with a quote is quoted: a quote elsewhere in an
 *     unquoted field is kept as written;
 *   - after a closing quote comes a delimiter, a line end or the end of input;
 *   - line ends are LF, CRLF or a lone CR (old Mac tools end lines with CR
 *     only: `a,b\r1,2\r`); inside quotes they are data; the last line needs
 *     none; a UTF-8 byte order mark at the start is skipped;
 *   - a completely empty line is skipped, wherever it is: real drops often
 *     end with one or have them between blocks. (So a one-column file cannot
 *     hold a NULL as an empty line; write "" for an empty string.)
 *   - an unquoted empty field is NULL; a quoted empty field ("") is the
 *     empty string;
 *   - every record has as many fields as the header (or, without a header,
 *     as the first record); field text is valid UTF-8 without NUL bytes.
 * Errors are final: after one, next() returns the same error again. */
#include "formats/format.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "base/mem.h"

#define DEFAULT_MAX_RECORD ((size_t)64 << 20)
#define INITIAL_BUF        ((size_t)256 << 10)
#define STEP_BELOW         256      /* records shorter than this are retried at
                                       every new byte (see refill) */

struct csv_reader {
    struct sl_stream *in;
    char delim;
    int header;
    size_t max_record;
    size_t hard_cap;        /* max_record + CR LF: the most the buffer holds */

    char *buf;              /* unconsumed input is buf[start..end) */
    size_t cap, start, end;
    int eof;
    int at_bof;             /* a byte order mark may still be ahead */
    int failed;             /* every call repeats `saved` */
    struct sl_err saved;

    long line;              /* number of the line starting at buf[start] */
    long index;             /* data records handed out */

    size_t ncols;           /* fields every record has; 0 = not known yet */
    char *names;            /* column names, each NUL-terminated */
    struct sl_field *fields;
    size_t fcap;
};

static const char *const csv_extensions[] = { ".csv", NULL };
static const char *const tsv_extensions[] = { ".tsv", ".tab", NULL };

static const char *name_of(const struct csv_reader *r)
{
    return sl_stream_name(r->in);
}

/* ---- scanning ---- */

#define ONES  UINT64_C(0x0101010101010101)
#define HIGHS UINT64_C(0x8080808080808080)

/* The first byte in [p, e) that is `c`, LF, CR, NUL or non-ASCII; e if
 * none. cm is c in every byte. A byte is flagged when it (xor c, LF or CR)
 * minus one borrows or when its high bit is set; borrows only flag bytes
 * above a real hit, so the first flagged byte of a word is always a real one. */
static inline const char *scan(const char *p, const char *e, char c, uint64_t cm)
{
    const uint64_t lm = ONES * '\n';
    const uint64_t rm = ONES * '\r';

    while (e - p >= 8) {
        uint64_t w;
        memcpy(&w, p, 8);
        if ((((w ^ cm) - ONES) | ((w ^ lm) - ONES) | ((w ^ rm) - ONES) | (w - ONES) | w) &
            HIGHS)
            break;
        p += 8;
    }
    for (; p < e; p++) {
        unsigned char b = (unsigned char)*p;
        if (b == (unsigned char)c || b == '\n' || b == '\r' || (unsigned char)(b - 1) >= 0x7F)
            break;
    }
    return p;
}

/* Length of the UTF-8 sequence starting with the non-ASCII byte at s:
 * 2..4, 0 when e cuts it short (so far valid), -1 when invalid (overlong,
 * surrogate, beyond U+10FFFF, stray continuation byte). */
static int utf8_seq(const char *sp, const char *ep)
{
    const unsigned char *s = (const unsigned char *)sp;
    size_t have = (size_t)(ep - sp);
    unsigned char c = s[0], lo = 0x80, hi = 0xBF;
    int n;

    if (c < 0xC2)
        return -1;
    if (c < 0xE0) {
        n = 2;
    } else if (c < 0xF0) {
        n = 3;
        if (c == 0xE0)
            lo = 0xA0;
        else if (c == 0xED)
            hi = 0x9F;
    } else if (c < 0xF5) {
        n = 4;
        if (c == 0xF0)
            lo = 0x90;
        else if (c == 0xF4)
            hi = 0x8F;
    } else {
        return -1;
    }
    if (have < 2)
        return 0;
    if (s[1] < lo || s[1] > hi)
        return -1;
    for (int i = 2; i < n; i++) {
        if ((size_t)i >= have)
            return 0;
        if ((s[i] & 0xC0) != 0x80)
            return -1;
    }
    return n;
}

/* Code points in [a, b): the bytes that do not continue a sequence. */
static long count_cols(const char *a, const char *b)
{
    long n = 0;
    for (; a < b; a++)
        n += ((unsigned char)*a & 0xC0) != 0x80;
    return n;
}

/* ---- errors ---- */

static int too_long(struct csv_reader *r, long line, struct sl_err *err)
{
    return sl_err_set(err, SL_E_INPUT,
                      "%s:%ld:1: record longer than %zu bytes (max_record); "
                      "check the quoting, or raise max_record",
                      name_of(r), line, r->max_record);
}

static int bad_byte(struct csv_reader *r, const char *at, int cut, long line, long col,
                    struct sl_err *err)
{
    unsigned char b = (unsigned char)*at;
    if (b == 0)
        return sl_err_set(err, SL_E_INPUT,
                          "%s:%ld:%ld: invalid UTF-8: NUL byte in field "
                          "(is the file UTF-16 or binary?)",
                          name_of(r), line, col);
    return sl_err_set(err, SL_E_INPUT,
                      "%s:%ld:%ld: invalid UTF-8: %s byte 0x%02X; "
                      "save the file as UTF-8 (it may be Latin-1 or Windows-1252)",
                      name_of(r), line, col, cut ? "input ends after" : "unexpected", b);
}

static int unterminated(struct csv_reader *r, long line, long col, const struct sl_field *f,
                        struct sl_err *err)
{
    return sl_err_set(err, SL_E_INPUT,
                      "%s:%ld:%ld: unterminated quoted field (started at %ld:%ld)",
                      name_of(r), line, col, f->line, f->col);
}

static int after_quote(struct csv_reader *r, long line, long col, struct sl_err *err)
{
    return sl_err_set(err, SL_E_INPUT,
                      "%s:%ld:%ld: unexpected character after the closing quote of a field "
                      "(a quote inside a quoted field is written twice: \"\")",
                      name_of(r), line, col);
}

/* ---- records ---- */

static int grow_fields(struct csv_reader *r)
{
    size_t ncap = r->fcap ? r->fcap * 2 : 16;
    struct sl_field *f = sl_realloc(r->fields, ncap * sizeof *f);
    if (!f)
        return -1;
    /* fields past the columns (a record with too many) have no name */
    memset(f + r->fcap, 0, (ncap - r->fcap) * sizeof *f);
    r->fields = f;
    r->fcap = ncap;
    return 0;
}

/* Parse the record at buf[start..end) into r->fields. Returns 1 with the
 * field count in *nfout and the bytes it took (line end included) in *used,
 * 0 when more input is needed to tell, -1 on error. Leaves the reader's
 * position alone, so it can be called again on the same record. */
static int parse_record(struct csv_reader *r, size_t *nfout, size_t *used, int *unesc,
                        struct sl_err *err)
{
    const char *const base = r->buf + r->start;
    const char *const e = r->buf + r->end;
    const int eof = r->eof;
    const char delim = r->delim;
    const uint64_t dm = ONES * (unsigned char)delim;
    const uint64_t qm = ONES * '"';
    const char *p = base;
    const char *term;           /* where the record's text ends */
    long line = r->line;
    const char *cb = p;         /* column base: cb is at column cbcol ... */
    long cbcol = 1;
    int dirty = 0;              /* ... and non-ASCII bytes may follow it */
    size_t nf = 0;

    *unesc = 0;
    for (;;) {
        cbcol += dirty ? count_cols(cb, p) : (long)(p - cb);
        cb = p;
        dirty = 0;
        if (nf == r->fcap && grow_fields(r) < 0)
            return sl_format_nomem(err, name_of(r), r->line);
        struct sl_field *f = &r->fields[nf++];
        f->line = line;
        f->col = cbcol;

        if (p < e && *p == '"') {
            const char *q = p + 1;
            for (;;) {
                q = scan(q, e, '"', qm);
                if (q == e) {
                    if (!eof)
                        return 0;
                    return unterminated(r, line, cbcol + count_cols(cb, e), f, err);
                }
                if (*q == '"') {
                    if (q + 1 == e && !eof)
                        return 0;           /* "" or the end of the field? */
                    if (q + 1 < e && q[1] == '"') {
                        *unesc = 1;
                        q += 2;
                        continue;
                    }
                    break;
                }
                if (*q == '\r') {
                    /* data; a lone CR still ends a line for line numbers */
                    if (q + 1 == e && !eof)
                        return 0;
                    if (q + 1 < e && q[1] == '\n') {
                        q++;
                        continue;
                    }
                }
                if (*q == '\n' || *q == '\r') {
                    line++;
                    cb = ++q;
                    cbcol = 1;
                    dirty = 0;
                    continue;
                }
                int n = *q ? utf8_seq(q, e) : -1;
                if (n <= 0) {
                    if (n == 0 && !eof)
                        return 0;
                    return bad_byte(r, q, n == 0, line, cbcol + count_cols(cb, q), err);
                }
                dirty = 1;
                q += n;
            }
            f->val = p + 1;
            f->len = (size_t)(q - p - 1);
            f->is_null = 0;
            f->lex = SL_LEX_STRING;
            p = q + 1;
            if (p == e) {
                if (!eof)
                    return 0;
                term = p;
                break;
            }
            if (*p == delim) {
                p++;
                continue;
            }
            if (*p == '\n') {
                term = p++;
                break;
            }
            if (*p == '\r') {
                if (p + 1 == e && !eof)
                    return 0;           /* CRLF or a lone CR? */
                term = p;
                p += p + 1 < e && p[1] == '\n' ? 2 : 1;
                break;
            }
            return after_quote(r, line, cbcol + count_cols(cb, p), err);
        }

        const char *q = p;
        for (;;) {
            q = scan(q, e, delim, dm);
            if (q == e || *q == delim || *q == '\n' || *q == '\r')
                break;
            int n = *q ? utf8_seq(q, e) : -1;
            if (n <= 0) {
                if (n == 0 && !eof)
                    return 0;
                return bad_byte(r, q, n == 0, line, cbcol + count_cols(cb, q), err);
            }
            dirty = 1;
            q += n;
        }
        f->val = p;
        f->lex = SL_LEX_RAW;
        if (q < e && *q == delim) {
            f->len = (size_t)(q - p);
            f->is_null = f->len == 0;
            p = q + 1;
            continue;
        }
        if ((q == e || (*q == '\r' && q + 1 == e)) && !eof)
            return 0;           /* the end of input, or CRLF or a lone CR? */
        /* LF, CRLF, a lone CR or the end of input */
        term = q;
        f->len = (size_t)(term - p);
        f->is_null = f->len == 0;
        p = q == e ? q : q + (*q == '\r' && q + 1 < e && q[1] == '\n' ? 2 : 1);
        break;
    }

    if ((size_t)(term - base) > r->max_record)
        return too_long(r, r->line, err);
    if (r->ncols && nf != r->ncols) {
        long col;
        if (nf > r->ncols) {
            line = r->fields[r->ncols].line;
            col = r->fields[r->ncols].col;
        } else {
            col = cbcol + count_cols(cb, term);
        }
        return sl_err_set(err, SL_E_INPUT, "%s:%ld:%ld: expected %zu field%s, found %zu",
                          name_of(r), line, col, r->ncols, r->ncols == 1 ? "" : "s", nf);
    }
    r->line = line + (p > term);    /* the line end counts only if there was one */
    *nfout = nf;
    *used = (size_t)(p - base);
    return 1;
}

/* Turn each "" in quoted fields back into one quote, in place. */
static void unescape(struct csv_reader *r, size_t nf)
{
    for (size_t i = 0; i < nf; i++) {
        struct sl_field *f = &r->fields[i];
        if (f->lex != SL_LEX_STRING)
            continue;
        char *s = r->buf + (f->val - r->buf);
        char *q = memchr(s, '"', f->len);
        if (!q)
            continue;
        char *w = q + 1;            /* keep the first quote of the pair */
        const char *rd = q + 2, *end = s + f->len;
        while (rd < end) {
            const char *nq = memchr(rd, '"', (size_t)(end - rd));
            size_t k = nq ? (size_t)(nq - rd) + 1 : (size_t)(end - rd);
            memmove(w, rd, k);
            w += k;
            rd += k + (nq != NULL);
        }
        f->len = (size_t)(w - s);
    }
}

/* Read until buf[start..end) holds `want` bytes, the buffer is as large as
 * it may be, or the input ends. */
static int refill(struct csv_reader *r, size_t want, struct sl_err *err)
{
    while (!r->eof && r->end - r->start < want) {
        if (r->end == r->cap) {
            if (r->start > 0) {
                memmove(r->buf, r->buf + r->start, r->end - r->start);
                r->end -= r->start;
                r->start = 0;
            } else {
                if (r->cap >= r->hard_cap)
                    return 0;
                size_t ncap = r->cap < r->hard_cap / 2 ? r->cap * 2 : r->hard_cap;
                char *nb = sl_realloc(r->buf, ncap);
                if (!nb)
                    return sl_format_nomem(err, name_of(r), r->line);
                r->buf = nb;
                r->cap = ncap;
            }
        }
        ssize_t got = sl_stream_read(r->in, r->buf + r->end, r->cap - r->end, err);
        if (got < 0)
            return -1;
        if (got == 0)
            r->eof = 1;
        r->end += (size_t)got;
    }
    return 0;
}

/* The next record: 1, 0 at the end of input, -1 on error. Header rows come
 * through here too. */
static int read_record(struct csv_reader *r, size_t *nfout, struct sl_err *err)
{
    static const char bom[3] = "\xEF\xBB\xBF";

    for (;;) {
        size_t have = r->end - r->start;
        const char *p = r->buf + r->start;

        if (r->at_bof) {
            if (have >= 3 || r->eof || memcmp(p, bom, have) != 0) {
                if (have >= 3 && memcmp(p, bom, 3) == 0)
                    r->start += 3;      /* columns start after it */
                r->at_bof = 0;
                continue;
            }
        } else if (have == 0) {
            if (r->eof)
                return 0;
        } else if (*p == '\n') {
            r->start++;                 /* empty line: skipped (see the top) */
            r->line++;
            continue;
        } else if (*p == '\r' && (have > 1 || r->eof)) {
            r->start += have > 1 && p[1] == '\n' ? 2 : 1;    /* CRLF or a lone CR */
            r->line++;
            continue;
        } else if (*p != '\r') {
            size_t used = 0;
            int unesc = 0;
            int rc = parse_record(r, nfout, &used, &unesc, err);
            if (rc < 0)
                return -1;
            if (rc > 0) {
                if (unesc)
                    unescape(r, *nfout);
                r->start += used;
                return 1;
            }
        }
        /* more input needed to tell */
        if (have > r->max_record + 1)
            return too_long(r, r->line, err);
        size_t want = have < STEP_BELOW ? have + 1 : have + have / 2;
        if (want > r->hard_cap)
            want = r->hard_cap;
        if (refill(r, want, err) < 0)
            return -1;
        if (r->end - r->start == have && !r->eof)
            return sl_err_set(err, SL_E_INTERNAL, "%s:%ld: csv reader made no progress; "
                              "please report this", name_of(r), r->line);
    }
}

/* ---- header and names ---- */

/* Give the first n fields their names: the header's (hdr set: its fields are
 * r->fields[0..n)) or column_1..column_n. */
static int set_names(struct csv_reader *r, size_t n, int hdr, long line, struct sl_err *err)
{
    size_t total = 0;
    char gen[32];

    for (size_t i = 0; i < n; i++) {
        size_t len = hdr ? r->fields[i].len : 0;
        total += (len ? len : (size_t)snprintf(gen, sizeof gen, "column_%zu", i + 1)) + 1;
    }
    r->names = sl_malloc(total);
    if (!r->names)
        return sl_format_nomem(err, name_of(r), line);
    char *w = r->names;
    for (size_t i = 0; i < n; i++) {
        struct sl_field *f = &r->fields[i];
        size_t len = hdr ? f->len : 0;
        if (len)
            memcpy(w, f->val, len);
        else
            len = (size_t)snprintf(w, sizeof gen, "column_%zu", i + 1);
        w[len] = '\0';
        f->name = w;
        f->name_len = len;
        w += len + 1;
    }
    r->ncols = n;
    if (!hdr)
        return 0;

    struct sl_dupscan scan = {0};
    size_t first, dup;
    int rc = sl_fields_find_dup(&scan, r->fields, n, &first, &dup);
    sl_dupscan_free(&scan);
    if (rc < 0)
        return sl_format_nomem(err, name_of(r), line);
    if (rc > 0) {
        const struct sl_field *f = &r->fields[dup];
        int shown = f->name_len > 200 ? 200 : (int)f->name_len;
        while (shown > 0 && ((unsigned char)f->name[shown] & 0xC0) == 0x80 &&
               (size_t)shown < f->name_len)
            shown--;
        return sl_err_set(err, SL_E_INPUT,
                          "%s:%ld:%ld: duplicate column name \"%.*s%s\" in columns %zu and %zu "
                          "(the first at %ld:%ld); rename one of them",
                          name_of(r), f->line, f->col, shown, f->name,
                          (size_t)shown < f->name_len ? "..." : "", first + 1, dup + 1,
                          r->fields[first].line, r->fields[first].col);
    }
    return 0;
}

/* ---- format ops ---- */

static void csv_close(struct sl_reader *rd)
{
    struct csv_reader *r = (struct csv_reader *)rd;
    if (!r)
        return;
    sl_free(r->buf);
    sl_free(r->names);
    sl_free(r->fields);
    sl_free(r);
}

static int open_with(struct sl_reader **out, struct sl_stream *in,
                     const struct sl_format_opts *opts, char delim, struct sl_err *err)
{
    struct csv_reader *r;

    *out = NULL;
    if (opts && opts->delimiter)
        delim = opts->delimiter;
    if (delim == '"' || delim == '\n' || delim == '\r' || (unsigned char)delim >= 0x80)
        return sl_err_set(err, SL_E_CONFIG,
                          "%s: delimiter 0x%02X cannot be used (not a quote, line end or "
                          "non-ASCII byte)", sl_stream_name(in), (unsigned char)delim);
    r = sl_calloc(1, sizeof *r);
    if (!r)
        return sl_err_set(err, SL_E_NOMEM, "%s: out of memory opening the reader",
                          sl_stream_name(in));
    r->in = in;
    r->delim = delim;
    r->header = opts ? opts->header != 0 : 1;
    r->max_record = opts && opts->max_record ? opts->max_record : DEFAULT_MAX_RECORD;
    if (r->max_record > SIZE_MAX / 4)
        r->max_record = SIZE_MAX / 4;
    r->hard_cap = r->max_record + 2;
    r->cap = r->hard_cap < INITIAL_BUF ? r->hard_cap : INITIAL_BUF;
    r->buf = sl_malloc(r->cap);
    r->line = 1;
    r->at_bof = 1;
    if (!r->buf || grow_fields(r) < 0) {
        csv_close((struct sl_reader *)r);
        return sl_err_set(err, SL_E_NOMEM, "%s: out of memory opening the reader",
                          sl_stream_name(in));
    }
    if (r->header) {
        /* an empty input has no header and no records: next() says so */
        size_t nf = 0;
        long line = r->line;
        int rc = read_record(r, &nf, err);
        if (rc > 0)
            rc = set_names(r, nf, 1, line, err);
        if (rc < 0) {
            csv_close((struct sl_reader *)r);
            return -1;
        }
    }
    *out = (struct sl_reader *)r;
    return 0;
}

static int csv_open(struct sl_reader **out, struct sl_stream *in,
                    const struct sl_format_opts *opts, struct sl_err *err)
{
    return open_with(out, in, opts, ',', err);
}

static int tsv_open(struct sl_reader **out, struct sl_stream *in,
                    const struct sl_format_opts *opts, struct sl_err *err)
{
    return open_with(out, in, opts, '\t', err);
}

static int csv_next(struct sl_reader *rd, struct sl_record *rec, struct sl_err *err)
{
    struct csv_reader *r = (struct csv_reader *)rd;
    size_t nf = 0;

    if (r->failed) {
        *err = r->saved;
        return -1;
    }
    long line = r->line;
    int rc = read_record(r, &nf, err);
    if (rc > 0 && r->ncols == 0 && set_names(r, nf, 0, line, err) < 0)
        rc = -1;                /* no header: the first record sets the columns */
    if (rc < 0) {
        r->failed = 1;
        r->saved = *err;
        return -1;
    }
    if (rc == 0)
        return 0;
    rec->fields = r->fields;
    rec->nfields = nf;
    rec->line = r->fields[0].line;
    rec->index = ++r->index;
    return 1;
}

/* A header-only drop has columns and no records: the header says what they are. */
static size_t csv_columns(struct sl_reader *rd, const struct sl_field **out)
{
    struct csv_reader *r = (struct csv_reader *)rd;
    *out = r->fields;
    return r->header && !r->failed ? r->ncols : 0;
}

const struct sl_format_ops sl_format_csv = {
    .name = "csv",
    .extensions = csv_extensions,
    .open = csv_open,
    .next = csv_next,
    .close = csv_close,
    .columns = csv_columns,
};

const struct sl_format_ops sl_format_tsv = {
    .name = "tsv",
    .extensions = tsv_extensions,
    .open = tsv_open,
    .next = csv_next,
    .close = csv_close,
    .columns = csv_columns,
};
