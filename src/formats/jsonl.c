/* formats/jsonl.c: the JSON-lines reader: one JSON object per line.
 *
 * Registered as sl_format_jsonl; the files source drives it through
 * format.h. Each top-level key of a line's object becomes a field, its value
 * kept exactly as written: numbers as their text, objects and arrays as their
 * raw JSON (base/json.h says why we do not decode with jansson); only
 * strings are decoded. The reader owns one line buffer, one buffer of decoded
 * strings and the fields array, all reused from record to record, so memory
 * is bounded by max_record, not by the file (docs/invariants.md #4).
 *
 * An input error (bad JSON, not an object, duplicate key, over-long record)
 * consumes its line: next() may be called again and goes on with the next
 * line. A stream error (corrupt compressed data, I/O) is final. */
#include "formats/format.h"

#include <stdint.h>
#include <string.h>

#include "base/json.h"
#include "base/mem.h"

#define DEFAULT_MAX_RECORD ((size_t)64 << 20)
#define INITIAL_BUF        ((size_t)128 << 10)
#define LINE_SLACK         5        /* a BOM, CR and LF around a max_record line */

/* Each format keeps its own reader state; sl_reader is only the handle. */
struct jsonl_reader {
    struct sl_stream *in;
    size_t max_record;
    size_t hard_cap;        /* max_record + LINE_SLACK: the longest line kept */

    char *buf;              /* unconsumed input is buf[start..end) */
    size_t cap, start, end;
    size_t scan;            /* buf[start..scan) holds no LF */
    int eof;
    int skipping;           /* dropping the rest of an over-long line */
    int failed;             /* the stream failed: every call repeats `saved` */
    struct sl_err saved;

    long line;              /* number of the line starting at buf[start] */
    long index;             /* records (non-blank lines) handed out or failed */

    struct sl_buf text;     /* decoded keys and strings of the current record */
    struct sl_field *fields;
    size_t *keyoff;         /* per field: offset of its key in the line */
    size_t fcap;
    struct sl_dupscan dups; /* for the duplicate-key check */
};

static const char *const jsonl_extensions[] = { ".jsonl", ".ndjson", ".json", NULL };

static const char *name_of(const struct jsonl_reader *r)
{
    return sl_stream_name(r->in);
}

/* 1-based column of byte offset `off` of a line: columns count code points,
 * so count the bytes that do not continue a UTF-8 sequence. */
static long count_cols(const char *s, size_t from, size_t to)
{
    long cols = 0;
    for (size_t i = from; i < to; i++)
        cols += ((unsigned char)s[i] & 0xC0) != 0x80;
    return cols;
}

static long col_at(const char *line, size_t off)
{
    return 1 + count_cols(line, 0, off);
}

/* ---- lines ---- */

static int too_long(struct jsonl_reader *r, long line, struct sl_err *err)
{
    return sl_err_set(err, SL_E_INPUT,
                      "%s:%ld:1: record longer than %zu bytes (max_record); "
                      "split the record or raise max_record",
                      name_of(r), line, r->max_record);
}

/* Hand out the next line (without its LF) in *line and *len, numbered *lineno.
 * 1 = a line, 0 = end of input, -1 = error. The line stays valid until the
 * next call. */
static int next_line(struct jsonl_reader *r, const char **line, size_t *len,
                     long *lineno, struct sl_err *err)
{
    if (r->failed) {
        *err = r->saved;
        return -1;
    }
    for (;;) {
        if (r->scan < r->end) {
            char *nl = memchr(r->buf + r->scan, '\n', r->end - r->scan);
            if (nl) {
                size_t pos = (size_t)(nl - r->buf);
                *line = r->buf + r->start;
                *len = pos - r->start;
                *lineno = r->line++;
                r->start = r->scan = pos + 1;
                if (r->skipping) {
                    r->skipping = 0;
                    continue;
                }
                return 1;
            }
            r->scan = r->end;
        }
        if (r->skipping)            /* drop what we have of the long line */
            r->start = r->scan = r->end = 0;
        if (r->eof) {
            if (r->start == r->end)
                return 0;
            *line = r->buf + r->start;
            *len = r->end - r->start;
            *lineno = r->line++;
            r->start = r->scan = r->end;
            return 1;
        }
        /* No LF yet. Past this size no BOM and CR can bring the record back
         * under max_record, so the verdict is the same whatever the reads. */
        if (r->end - r->start > r->max_record + LINE_SLACK - 1) {
            r->skipping = 1;
            r->index++;
            return too_long(r, r->line, err);
        }
        if (r->end == r->cap && r->start > 0) {
            memmove(r->buf, r->buf + r->start, r->end - r->start);
            r->end -= r->start;
            r->scan -= r->start;
            r->start = 0;
        }
        if (r->end == r->cap) {
            /* full of one line that is not too long yet, so cap < hard_cap */
            size_t ncap = r->cap < r->hard_cap / 2 ? r->cap * 2 : r->hard_cap;
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

/* ---- records ---- */

/* The line is not an object we could read: say exactly why. */
static int bad_line(struct jsonl_reader *r, const char *line, size_t len, long lineno,
                    struct sl_err *err)
{
    char why[160];
    size_t off = 0;

    if (sl_json_validate(line, len, &off, why, sizeof why) < 0)
        return sl_err_set(err, SL_E_INPUT, "%s:%ld:%ld: invalid JSON: %s",
                          name_of(r), lineno, col_at(line, off), why);
    size_t i = sl_json_skip_ws(line, len, 0);
    struct sl_json_token tok;
    if (sl_json_scan(line + i, len - i, &tok, NULL, NULL, 0) == 0 &&
        tok.kind != SL_JSON_OBJECT)
        return sl_err_set(err, SL_E_INPUT,
                          "%s:%ld:%ld: record is not a JSON object (found %s)",
                          name_of(r), lineno, col_at(line, i),
                          sl_json_kind_name(tok.kind));
    return sl_err_set(err, SL_E_INTERNAL,
                      "%s:%ld: jsonl reader rejected a valid JSON object; please report this",
                      name_of(r), lineno);
}

static int grow_fields(struct jsonl_reader *r)
{
    size_t ncap = r->fcap ? r->fcap * 2 : 32;
    struct sl_field *f = sl_realloc(r->fields, ncap * sizeof *f);
    if (!f)
        return -1;
    r->fields = f;
    size_t *k = sl_realloc(r->keyoff, ncap * sizeof *k);
    if (!k)
        return -1;
    r->keyoff = k;
    r->fcap = ncap;
    return 0;
}

/* Decode string body s[0..n) into r->text. Returns 0 with *out pointing at
 * the text, -1 with *bad_off (relative to s) when it holds \u0000. */
static int decode(struct jsonl_reader *r, const char *s, size_t n, const char **out,
                  size_t *outlen, size_t *bad_off, char *why, size_t whylen)
{
    size_t at = r->text.len;
    if (sl_json_unescape(s, n, &r->text, bad_off, why, whylen) < 0)
        return -1;
    *out = r->text.data + at;
    *outlen = r->text.len - at;
    return 0;
}

/* Read the object on line[0..len) into r->fields. */
static int parse_record(struct jsonl_reader *r, const char *line, size_t len, long lineno,
                        struct sl_record *rec, struct sl_err *err)
{
    struct sl_json_token tk;
    size_t nf = 0;
    size_t i = sl_json_skip_ws(line, len, 0);
    size_t col_off = 0;     /* columns are counted incrementally: col of col_off */
    long col = 1;
    char why[160];
    size_t bad_off;

    r->index++;
    if (line[i] != '{')
        return bad_line(r, line, len, lineno, err);
    /* Decoded text is never longer than the JSON it comes from, so with room
     * for the whole line r->text never moves and its pointers stay put. */
    sl_buf_reset(&r->text);
    if (sl_buf_reserve(&r->text, len) < 0)
        return sl_format_nomem(err, name_of(r), lineno);

    i = sl_json_skip_ws(line, len, i + 1);
    if (i < len && line[i] == '}') {
        i++;
        goto end;
    }
    for (;;) {
        if (i >= len || line[i] != '"' ||
            sl_json_scan(line + i, len - i, &tk, NULL, NULL, 0) < 0)
            return bad_line(r, line, len, lineno, err);
        if (nf == r->fcap && grow_fields(r) < 0)
            return sl_format_nomem(err, name_of(r), lineno);
        struct sl_field *f = &r->fields[nf];
        r->keyoff[nf] = i;
        if (tk.escaped) {
            if (decode(r, line + i + 1, tk.len - 2, &f->name, &f->name_len,
                       &bad_off, why, sizeof why) < 0) {
                bad_off += i + 1;
                goto undecodable;
            }
        } else {
            f->name = line + i + 1;
            f->name_len = tk.len - 2;
        }
        i = sl_json_skip_ws(line, len, i + tk.len);
        if (i >= len || line[i] != ':')
            return bad_line(r, line, len, lineno, err);
        i = sl_json_skip_ws(line, len, i + 1);
        if (i >= len || sl_json_scan(line + i, len - i, &tk, NULL, NULL, 0) < 0)
            return bad_line(r, line, len, lineno, err);

        f->is_null = 0;
        f->val = line + i;
        f->len = tk.len;
        switch (tk.kind) {
        case SL_JSON_STRING:
            f->lex = SL_LEX_STRING;
            if (tk.escaped) {
                if (decode(r, line + i + 1, tk.len - 2, &f->val, &f->len,
                           &bad_off, why, sizeof why) < 0) {
                    bad_off += i + 1;
                    goto undecodable;
                }
            } else {
                f->val = line + i + 1;
                f->len = tk.len - 2;
            }
            break;
        case SL_JSON_NUMBER:
            f->lex = SL_LEX_NUMBER;
            break;
        case SL_JSON_TRUE:
        case SL_JSON_FALSE:
            f->lex = SL_LEX_BOOL;
            break;
        case SL_JSON_NULL:
            /* like CSV's unquoted empty field: no text, is_null set */
            f->lex = SL_LEX_RAW;
            f->val = "";
            f->len = 0;
            f->is_null = 1;
            break;
        case SL_JSON_OBJECT:
        case SL_JSON_ARRAY:
        case SL_JSON_NONE:
            f->lex = SL_LEX_JSON;
            break;
        }
        col += count_cols(line, col_off, i);
        col_off = i;
        f->line = lineno;
        f->col = col;
        nf++;

        i = sl_json_skip_ws(line, len, i + tk.len);
        if (i < len && line[i] == ',') {
            i = sl_json_skip_ws(line, len, i + 1);
            continue;
        }
        if (i < len && line[i] == '}') {
            i++;
            break;
        }
        return bad_line(r, line, len, lineno, err);
    }
end:
    if (sl_json_skip_ws(line, len, i) != len)
        return bad_line(r, line, len, lineno, err);

    size_t first, dup;
    int rc = sl_fields_find_dup(&r->dups, r->fields, nf, &first, &dup);
    if (rc < 0)
        return sl_format_nomem(err, name_of(r), lineno);
    if (rc > 0) {
        /* name it as written (escapes and all), cut short if huge */
        size_t k = r->keyoff[dup];
        const char *kstart = line + k + 1;
        sl_json_scan(line + k, len - k, &tk, NULL, NULL, 0);
        size_t klen = tk.len - 2;
        if (klen > 200) {
            klen = 200;
            while (klen > 0 && ((unsigned char)kstart[klen] & 0xC0) == 0x80)
                klen--;
        }
        return sl_err_set(err, SL_E_INPUT, "%s:%ld:%ld: duplicate key \"%.*s%s\"",
                          name_of(r), lineno, col_at(line, k), (int)klen, kstart,
                          klen < tk.len - 2 ? "..." : "");
    }
    rec->fields = r->fields;
    rec->nfields = nf;
    rec->line = lineno;
    rec->index = r->index;
    return 1;

undecodable:
    if (r->text.oom)
        return sl_format_nomem(err, name_of(r), lineno);
    /* a syntax error further on is the more basic problem: report it first */
    if (sl_json_validate(line, len, NULL, NULL, 0) < 0)
        return bad_line(r, line, len, lineno, err);
    return sl_err_set(err, SL_E_INPUT, "%s:%ld:%ld: %s", name_of(r), lineno,
                      col_at(line, bad_off), why);
}

/* ---- format ops ---- */

static int jsonl_open(struct sl_reader **out, struct sl_stream *in,
                      const struct sl_format_opts *opts, struct sl_err *err)
{
    struct jsonl_reader *r = sl_calloc(1, sizeof *r);
    if (!r)
        return sl_err_set(err, SL_E_NOMEM, "%s: out of memory opening the jsonl reader",
                          sl_stream_name(in));
    r->in = in;
    r->max_record = opts && opts->max_record ? opts->max_record : DEFAULT_MAX_RECORD;
    if (r->max_record > SIZE_MAX / 4)
        r->max_record = SIZE_MAX / 4;
    r->hard_cap = r->max_record + LINE_SLACK;
    r->cap = r->hard_cap < INITIAL_BUF ? r->hard_cap : INITIAL_BUF;
    r->buf = sl_malloc(r->cap);
    if (!r->buf) {
        sl_free(r);
        return sl_err_set(err, SL_E_NOMEM, "%s: out of memory opening the jsonl reader",
                          sl_stream_name(in));
    }
    r->line = 1;
    sl_buf_init(&r->text);
    *out = (struct sl_reader *)r;
    return 0;
}

static int jsonl_next(struct sl_reader *rd, struct sl_record *rec, struct sl_err *err)
{
    struct jsonl_reader *r = (struct jsonl_reader *)rd;
    const char *line = NULL;
    size_t len = 0;
    long lineno = 0;

    for (;;) {
        int rc = next_line(r, &line, &len, &lineno, err);
        if (rc <= 0)
            return rc;
        if (lineno == 1 && len >= 3 && memcmp(line, "\xEF\xBB\xBF", 3) == 0) {
            line += 3;      /* a UTF-8 byte order mark; columns start after it */
            len -= 3;
        }
        size_t body = len;
        if (body > 0 && line[body - 1] == '\r')
            body--;
        if (body > r->max_record) {
            r->index++;
            return too_long(r, lineno, err);
        }
        if (sl_json_skip_ws(line, len, 0) == len)
            continue;       /* blank line */
        return parse_record(r, line, len, lineno, rec, err);
    }
}

static void jsonl_close(struct sl_reader *rd)
{
    struct jsonl_reader *r = (struct jsonl_reader *)rd;
    if (!r)
        return;
    sl_free(r->buf);
    sl_buf_free(&r->text);
    sl_free(r->fields);
    sl_free(r->keyoff);
    sl_dupscan_free(&r->dups);
    sl_free(r);
}

const struct sl_format_ops sl_format_jsonl = {
    .name = "jsonl",
    .extensions = jsonl_extensions,
    .open = jsonl_open,
    .next = jsonl_next,
    .close = jsonl_close,
};
