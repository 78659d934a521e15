/* tests/unit/test_csv.c: the CSV and TSV readers (formats/csv.c).
 *
 * The csv-spectrum suite must parse to exactly its JSON, read at every
 * chunk size (a streaming parser's bugs live at buffer edges), plain, gzip'd
 * and zstd'd. The other tests compare a text dump of what came out (records
 * and the error) with what it must be, again at every split of the input. */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>
#include <zlib.h>
#include <zstd.h>

#include "base/mem.h"
#include "base/stream.h"
#include "formats/format.h"

#define SPECTRUM SL_TESTDATA "/csv-spectrum"
#define DISPLAY "drops/t.csv"

/* ---- helpers ---- */

static char *read_file(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    struct sl_buf b;
    sl_buf_init(&b);
    char chunk[4096];
    size_t k;
    while ((k = fread(chunk, 1, sizeof chunk, f)) > 0)
        sl_buf_append(&b, chunk, k);
    fclose(f);
    *n = b.len;
    return sl_buf_steal(&b);
}

static void gzip_append(struct sl_buf *out, const void *data, size_t n)
{
    z_stream z;
    memset(&z, 0, sizeof z);
    assert_int_equal(deflateInit2(&z, 6, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY),
                     Z_OK);
    uLong bound = deflateBound(&z, (uLong)n) + 32;
    assert_int_equal(sl_buf_reserve(out, bound), 0);
    z.next_in = (Bytef *)data;
    z.avail_in = (uInt)n;
    z.next_out = (Bytef *)out->data + out->len;
    z.avail_out = (uInt)bound;
    assert_int_equal(deflate(&z, Z_FINISH), Z_STREAM_END);
    out->len += bound - z.avail_out;
    deflateEnd(&z);
}

static void zstd_append(struct sl_buf *out, const void *data, size_t n)
{
    size_t bound = ZSTD_compressBound(n);
    assert_int_equal(sl_buf_reserve(out, bound), 0);
    size_t k = ZSTD_compress(out->data + out->len, bound, data, n, 3);
    assert_false(ZSTD_isError(k));
    out->len += k;
}

static char lex_letter(const struct sl_field *f)
{
    if (f->is_null)
        return '0';
    return f->lex == SL_LEX_STRING ? 'S' : f->lex == SL_LEX_RAW ? 'R' : '?';
}

/* One line per record: "#index L<line>: name=<kind>:<value>@line:col | ...",
 * then "ERR <message>" if reading failed (an open error included). */
static void dump(const struct sl_format_ops *fmt, const char *in, size_t n, size_t chunk,
                 const struct sl_format_opts *opts, struct sl_buf *out)
{
    struct sl_stream *st = NULL;
    struct sl_reader *rd = NULL;
    struct sl_err err;
    struct sl_record rec;

    sl_err_clear(&err);
    sl_buf_reset(out);
    sl_buf_append(out, "", 0);      /* an empty dump is "", not NULL */
    assert_int_equal(sl_stream_open_mem(&st, DISPLAY, in, n, chunk, &err), 0);
    if (fmt->open(&rd, st, opts, &err) < 0) {
        sl_buf_printf(out, "ERR %s\n", err.msg);
        assert_null(rd);
        sl_stream_close(st);
        return;
    }
    for (;;) {
        int rc = fmt->next(rd, &rec, &err);
        if (rc == 0)
            break;
        if (rc < 0) {
            sl_buf_printf(out, "ERR %s\n", err.msg);
            /* errors are final: the next call says the same */
            struct sl_err again;
            sl_err_clear(&again);
            assert_int_equal(fmt->next(rd, &rec, &again), -1);
            assert_string_equal(again.msg, err.msg);
            break;
        }
        sl_buf_printf(out, "#%ld L%ld:", rec.index, rec.line);
        for (size_t i = 0; i < rec.nfields; i++) {
            const struct sl_field *f = &rec.fields[i];
            sl_buf_printf(out, "%s %.*s=%c:%.*s@%ld:%ld", i ? " |" : "", (int)f->name_len,
                          f->name, lex_letter(f), (int)f->len, f->val, f->line, f->col);
        }
        sl_buf_putc(out, '\n');
    }
    fmt->close(rd);
    sl_stream_close(st);
}

/* The dump must be `want`, read whole and at every chunk size. */
static void expect_fmt(const struct sl_format_ops *fmt, const char *in, size_t n,
                       const struct sl_format_opts *opts, const char *want)
{
    struct sl_buf got;
    sl_buf_init(&got);
    dump(fmt, in, n, 0, opts, &got);
    if (strcmp(got.data, want) != 0)
        fail_msg("input \"%.*s\":\ngot:\n%swant:\n%s", (int)n, in, got.data, want);
    size_t top = n < 300 ? n + 1 : 300;
    for (size_t chunk = 1; chunk <= top; chunk++) {
        dump(fmt, in, n, chunk, opts, &got);
        if (strcmp(got.data, want) != 0)
            fail_msg("chunk %zu of \"%.*s\":\ngot:\n%swant:\n%s", chunk, (int)n, in,
                     got.data, want);
    }
    sl_buf_free(&got);
}

static void expect_opts(const char *in, const struct sl_format_opts *opts, const char *want)
{
    expect_fmt(&sl_format_csv, in, strlen(in), opts, want);
}

static void expect(const char *in, const char *want)
{
    expect_opts(in, NULL, want);
}

/* ---- csv-spectrum ---- */

/* Compare what the reader gives with the suite's JSON: an array of objects
 * (one file has a bare object), values compared as strings. */
static void check_against_json(const char *name, const char *csv, size_t n, size_t chunk,
                               json_t *want)
{
    struct sl_stream *st = NULL;
    struct sl_reader *rd = NULL;
    struct sl_err err;
    struct sl_record rec;
    size_t nrec = 0;

    sl_err_clear(&err);
    assert_int_equal(sl_stream_open_mem(&st, name, csv, n, chunk, &err), 0);
    if (sl_format_csv.open(&rd, st, NULL, &err) < 0)
        fail_msg("%s chunk %zu: %s", name, chunk, err.msg);
    int rc;
    while ((rc = sl_format_csv.next(rd, &rec, &err)) == 1) {
        json_t *obj = json_array_get(want, nrec++);
        if (!obj)
            fail_msg("%s chunk %zu: record %zu is more than the JSON has", name, chunk, nrec);
        assert_int_equal(rec.index, (long)nrec);
        if (rec.nfields != json_object_size(obj))
            fail_msg("%s chunk %zu: record %zu has %zu fields, want %zu", name, chunk, nrec,
                     rec.nfields, json_object_size(obj));
        for (size_t i = 0; i < rec.nfields; i++) {
            const struct sl_field *f = &rec.fields[i];
            char key[256];
            snprintf(key, sizeof key, "%.*s", (int)f->name_len, f->name);
            json_t *v = json_object_get(obj, key);
            if (!v || !json_is_string(v))
                fail_msg("%s chunk %zu: record %zu has no string \"%s\"", name, chunk, nrec,
                         key);
            if (f->len != json_string_length(v) || memcmp(f->val, json_string_value(v), f->len))
                fail_msg("%s chunk %zu: record %zu field \"%s\" is \"%.*s\", want \"%s\"",
                         name, chunk, nrec, key, (int)f->len, f->val, json_string_value(v));
        }
    }
    if (rc < 0)
        fail_msg("%s chunk %zu: %s", name, chunk, err.msg);
    assert_int_equal(nrec, json_array_size(want));
    sl_format_csv.close(rd);
    sl_stream_close(st);
}

static void spectrum_files_parse_to_their_json_at_every_split(void **state)
{
    (void)state;
    DIR *d = opendir(SPECTRUM "/csvs");
    struct dirent *de;
    int files = 0;

    assert_non_null(d);
    while ((de = readdir(d)) != NULL) {
        size_t len = strlen(de->d_name);
        if (len < 5 || strcmp(de->d_name + len - 4, ".csv") != 0)
            continue;
        char path[1024], jpath[1024];
        snprintf(path, sizeof path, SPECTRUM "/csvs/%s", de->d_name);
        snprintf(jpath, sizeof jpath, SPECTRUM "/json/%.*s.json", (int)(len - 4), de->d_name);
        size_t n = 0;
        char *csv = read_file(path, &n);
        assert_non_null(csv);
        json_error_t jerr;
        json_t *want = json_load_file(jpath, 0, &jerr);
        if (!want)
            fail_msg("%s: %s", jpath, jerr.text);
        if (json_is_object(want)) {     /* location_coordinates.json */
            json_t *arr = json_array();
            json_array_append_new(arr, want);
            want = arr;
            /* Upstream erratum: its JSON has a made-up phone number that
             * the CSV does not (csv-spectrum 2.0.0). Take the CSV's, but
             * only while the two disagree exactly so. */
            json_t *o = json_array_get(want, 0);
            const char *ph = json_string_value(json_object_get(o, "Contact Phone Number"));
            if (ph && strcmp(ph, "1234567890") == 0 && strstr(csv, "\n2095257564,"))
                json_object_set_new(o, "Contact Phone Number", json_string("2095257564"));
        }
        /* The *_crlf files are CRLF upstream, and their JSON says so
         * ("Once upon \r\na time"), but this checkout has LF line ends:
         * put the CRs back so the suite tests what it means to. */
        if (strstr(de->d_name, "_crlf") && !memchr(csv, '\r', n)) {
            struct sl_buf b;
            sl_buf_init(&b);
            for (size_t i = 0; i < n; i++) {
                if (csv[i] == '\n')
                    sl_buf_putc(&b, '\r');
                sl_buf_putc(&b, csv[i]);
            }
            sl_free(csv);
            n = b.len;
            csv = sl_buf_steal(&b);
        }
        for (size_t chunk = 0; chunk <= n; chunk++)
            check_against_json(de->d_name, csv, n, chunk, want);

        struct sl_buf gz, zs;
        sl_buf_init(&gz);
        sl_buf_init(&zs);
        gzip_append(&gz, csv, n / 2);           /* two members */
        gzip_append(&gz, csv + n / 2, n - n / 2);
        zstd_append(&zs, csv, n / 3);           /* two frames */
        zstd_append(&zs, csv + n / 3, n - n / 3);
        for (size_t chunk = 0; chunk <= 64; chunk++) {
            check_against_json(de->d_name, gz.data, gz.len, chunk, want);
            check_against_json(de->d_name, zs.data, zs.len, chunk, want);
        }
        sl_buf_free(&gz);
        sl_buf_free(&zs);
        json_decref(want);
        sl_free(csv);
        files++;
    }
    closedir(d);
    assert_int_equal(files, 12);
}

/* ---- fields ---- */

static void quoting_nulls_and_kinds(void **state)
{
    (void)state;
    /* unquoted empty is NULL, "" is the empty string, quoted is a string */
    expect("a,b,c,d\n1,,\"\",\"x,y\"\n,,,\n",
           "#1 L2: a=R:1@2:1 | b=0:@2:3 | c=S:@2:4 | d=S:x,y@2:7\n"
           "#2 L3: a=0:@3:1 | b=0:@3:2 | c=0:@3:3 | d=0:@3:4\n");
}

static void doubled_quotes_are_unescaped(void **state)
{
    (void)state;
    expect("a,b\n\"say \"\"hi\"\"\",\"\"\"\"\n\"\"\"\"\"\",\"x\"\"\"\n",
           "#1 L2: a=S:say \"hi\"@2:1 | b=S:\"@2:14\n"
           "#2 L3: a=S:\"\"@3:1 | b=S:x\"@3:8\n");
}

static void quoted_fields_hold_delimiters_and_line_ends(void **state)
{
    (void)state;
    expect("a,b,c\n\"1\n2\",\"x,\r\ny\",z\n3,4,5\n",
           "#1 L2: a=S:1\n2@2:1 | b=S:x,\r\ny@3:4 | c=R:z@4:4\n"
           "#2 L5: a=R:3@5:1 | b=R:4@5:3 | c=R:5@5:5\n");
}

static void stray_quotes_in_unquoted_fields_are_kept(void **state)
{
    (void)state;
    expect("a,b\nab\"c,d\"\n 5\" x,y\"\"\n",
           "#1 L2: a=R:ab\"c@2:1 | b=R:d\"@2:6\n"
           "#2 L3: a=R: 5\" x@3:1 | b=R:y\"\"@3:7\n");
}

static void crlf_and_lf_line_ends(void **state)
{
    (void)state;
    expect("a,b\r\n1,2\r\n3,\"4\"\r\n5,\r\n",
           "#1 L2: a=R:1@2:1 | b=R:2@2:3\n"
           "#2 L3: a=R:3@3:1 | b=S:4@3:3\n"
           "#3 L4: a=R:5@4:1 | b=0:@4:3\n");
    expect("a,b\n1,2\r\n3,4\n",
           "#1 L2: a=R:1@2:1 | b=R:2@2:3\n#2 L3: a=R:3@3:1 | b=R:4@3:3\n");
    /* a CR not before LF ends the record (old Mac line ends) */
    expect("a,b\n1\r2,3\n", "ERR " DISPLAY ":2:2: expected 2 fields, found 1\n");
}

static void cr_only_line_ends(void **state)
{
    (void)state;
    /* old Mac tools end lines with CR alone */
    expect("a,b\r3,4\r5,6\r", "#1 L2: a=R:3@2:1 | b=R:4@2:3\n"
                               "#2 L3: a=R:5@3:1 | b=R:6@3:3\n");
    expect("a,b\r3,4\r5,6", "#1 L2: a=R:3@2:1 | b=R:4@2:3\n"
                             "#2 L3: a=R:5@3:1 | b=R:6@3:3\n");
    /* quoted fields, empty last fields, NULLs */
    expect("a,b\r\"x\",\"y\"\r\"z\",\r,\"\"\r",
           "#1 L2: a=S:x@2:1 | b=S:y@2:5\n"
           "#2 L3: a=S:z@3:1 | b=0:@3:5\n"
           "#3 L4: a=0:@4:1 | b=S:@4:2\n");
    /* empty lines between CR-only lines are skipped */
    expect("\ra,b\r\r1,2\r\r\r3,4\r\r", "#1 L4: a=R:1@4:1 | b=R:2@4:3\n"
                                         "#2 L7: a=R:3@7:1 | b=R:4@7:3\n");
    expect("\r\r\r", "");
    expect("a,b\r", "");
    /* CR, CRLF and LF mixed: each is one line end */
    expect("a,b\r1,2\r\n3,4\n5,6\r7,8",
           "#1 L2: a=R:1@2:1 | b=R:2@2:3\n#2 L3: a=R:3@3:1 | b=R:4@3:3\n"
           "#3 L4: a=R:5@4:1 | b=R:6@4:3\n#4 L5: a=R:7@5:1 | b=R:8@5:3\n");
    /* inside quotes a CR is data, and still a line end for line numbers */
    expect("a,b\r\"1\r2\",x\ry,\"3\r\n4\"\rz,5\r",
           "#1 L2: a=S:1\r2@2:1 | b=R:x@3:4\n"
           "#2 L4: a=R:y@4:1 | b=S:3\r\n4@4:3\n"
           "#3 L6: a=R:z@6:1 | b=R:5@6:3\n");
    /* errors name the line counted by CRs */
    expect("a,b\r1,2\r3\r", "#1 L2: a=R:1@2:1 | b=R:2@2:3\n"
                             "ERR " DISPLAY ":3:2: expected 2 fields, found 1\n");
    expect("a,b\r1,\"x\r\r", "ERR " DISPLAY ":4:1: unterminated quoted field "
                                 "(started at 2:3)\n");
    /* no header: the first CR-ended record sets the columns */
    struct sl_format_opts o = { .delimiter = 0 };
    expect_opts("x,y\r1,2\r", &o, "#1 L1: column_1=R:x@1:1 | column_2=R:y@1:3\n"
                                 "#2 L2: column_1=R:1@2:1 | column_2=R:2@2:3\n");
    /* TSV the same */
    expect_fmt(&sl_format_tsv, "a\tb\r1\t2\r", 8, NULL, "#1 L2: a=R:1@2:1 | b=R:2@2:3\n");
    /* many records, longer than a scan word: every chunk split */
    struct sl_buf in, want;
    sl_buf_init(&in);
    sl_buf_init(&want);
    sl_buf_puts(&in, "id,name\r");
    for (int i = 1; i <= 40; i++) {
        sl_buf_printf(&in, "%d,name number %d\r", i, i);
        sl_buf_printf(&want, "#%d L%d: id=R:%d@%d:1 | name=R:name number %d@%d:%d\n", i, i + 1,
                      i, i + 1, i, i + 1, i < 10 ? 3 : 4);
    }
    expect(in.data, want.data);
    sl_buf_free(&in);
    sl_buf_free(&want);
}

static void last_line_needs_no_line_end(void **state)
{
    (void)state;
    expect("a,b\n1,2", "#1 L2: a=R:1@2:1 | b=R:2@2:3\n");
    expect("a,b\n1,", "#1 L2: a=R:1@2:1 | b=0:@2:3\n");
    expect("a,b\n1,\"2\"", "#1 L2: a=R:1@2:1 | b=S:2@2:3\n");
    expect("a,b\n1,2\r", "#1 L2: a=R:1@2:1 | b=R:2@2:3\n");
    expect("a,b\n1,\"2\"\r", "#1 L2: a=R:1@2:1 | b=S:2@2:3\n");
}

static void byte_order_mark_is_skipped(void **state)
{
    (void)state;
    expect("\xEF\xBB\xBF" "a,b\n1,2\n", "#1 L2: a=R:1@2:1 | b=R:2@2:3\n");
    expect("\xEF\xBB\xBF" "\"a\",b\n1,2\n", "#1 L2: a=R:1@2:1 | b=R:2@2:3\n");
    expect("\xEF\xBB\xBF", "");
    struct sl_format_opts o = { .delimiter = 0 };
    expect_opts("\xEF\xBB\xBF" "x,y\n", &o, "#1 L1: column_1=R:x@1:1 | column_2=R:y@1:3\n");
    /* only at the very start: later it is data */
    expect("a\n\xEF\xBB\xBF" "1\n", "#1 L2: a=R:\xEF\xBB\xBF" "1@2:1\n");
    /* a prefix of a BOM is data (and here not UTF-8) */
    expect("\xEF\xBB", "ERR " DISPLAY ":1:1: invalid UTF-8: input ends after byte 0xEF; "
           "save the file as UTF-8 (it may be Latin-1 or Windows-1252)\n");
}

static void empty_lines_are_skipped(void **state)
{
    (void)state;
    expect("\n\na,b\n\n1,2\n\r\n\n3,4\n\n", "#1 L5: a=R:1@5:1 | b=R:2@5:3\n"
           "#2 L8: a=R:3@8:1 | b=R:4@8:3\n");
    expect("", "");
    expect("\n\r\n\n", "");
    expect("a,b\n", "");
    /* a line of delimiters is not empty: it is NULLs */
    expect("a,b\n,\n", "#1 L2: a=0:@2:1 | b=0:@2:2\n");
    /* an empty line inside quotes is data */
    expect("a\n\"\n\n\"\n", "#1 L2: a=S:\n\n@2:1\n");
}

static void columns_count_code_points(void **state)
{
    (void)state;
    /* é is 2 bytes, 日本 6, 😀 4: one column each */
    expect("\xC3\xA9,\xE6\x97\xA5\xE6\x9C\xAC,\xF0\x9F\x98\x80,x\n"
           "\xC3\xA9\xC3\xA9,\"\xF0\x9F\x98\x80\n\xE6\x97\xA5\",b,c\n",
           "#1 L2: \xC3\xA9=R:\xC3\xA9\xC3\xA9@2:1 | \xE6\x97\xA5\xE6\x9C\xAC=S:"
           "\xF0\x9F\x98\x80\n\xE6\x97\xA5@2:4 | \xF0\x9F\x98\x80=R:b@3:4 | x=R:c@3:6\n");
}

static void header_names_empty_and_duplicate(void **state)
{
    (void)state;
    expect("a,,\"\"\n1,2,3\n", "#1 L2: a=R:1@2:1 | column_2=R:2@2:3 | column_3=R:3@2:5\n");
    expect("id,name,\"id\"\n1,2,3\n",
           "ERR " DISPLAY ":1:9: duplicate column name \"id\" in columns 1 and 3 "
           "(the first at 1:1); rename one of them\n");
    expect("x,column_3,\n", "ERR " DISPLAY ":1:12: duplicate column name \"column_3\" "
           "in columns 2 and 3 (the first at 1:3); rename one of them\n");
    /* quoted names may hold anything */
    expect("\"a,b\",\"c\"\"d\"\n1,2\n", "#1 L2: a,b=R:1@2:1 | c\"d=R:2@2:3\n");
}

static void duplicate_names_among_many_columns(void **state)
{
    (void)state;
    struct sl_buf in, want;
    sl_buf_init(&in);
    sl_buf_init(&want);
    for (int i = 1; i <= 100; i++)
        sl_buf_printf(&in, "%sc%d", i > 1 ? "," : "", i == 77 ? 12 : i);
    sl_buf_puts(&in, "\n");
    sl_buf_printf(&want, "ERR " DISPLAY ":1:%d: duplicate column name \"c12\" in columns 12 "
                  "and 77 (the first at 1:%d); rename one of them\n",
                  (int)(strstr(in.data, ",c12,c78") - in.data) + 2,
                  (int)(strstr(in.data, ",c12,") - in.data) + 2);
    expect(in.data, want.data);
    sl_buf_free(&in);
    sl_buf_free(&want);
}

static void without_header_columns_are_numbered(void **state)
{
    (void)state;
    struct sl_format_opts o = { .delimiter = 0 };
    expect_opts("1,\"a\"\n\n,3\n", &o,
                "#1 L1: column_1=R:1@1:1 | column_2=S:a@1:3\n"
                "#2 L3: column_1=0:@3:1 | column_2=R:3@3:2\n");
    expect_opts("1,2\n3\n", &o, "#1 L1: column_1=R:1@1:1 | column_2=R:2@1:3\n"
                "ERR " DISPLAY ":2:2: expected 2 fields, found 1\n");
    expect_opts("", &o, "");
}

static void tsv_uses_tabs_and_honours_quotes(void **state)
{
    (void)state;
    const char *in = "a\tb,c\n1,2\t\"x\ty\"\"\"\n\"q\t\tr\"\t\n";
    expect_fmt(&sl_format_tsv, in, strlen(in), NULL,
               "#1 L2: a=R:1,2@2:1 | b,c=S:x\ty\"@2:5\n"
               "#2 L3: a=S:q\t\tr@3:1 | b,c=0:@3:8\n");
}

static void delimiter_override(void **state)
{
    (void)state;
    struct sl_format_opts o = { .delimiter = ';', .header = 1 };
    expect_opts("a;b\n1,5;\"x;y\"\n", &o, "#1 L2: a=R:1,5@2:1 | b=S:x;y@2:5\n");
    struct sl_format_opts p = { .delimiter = '|', .header = 1 };
    const char *in = "a|b\n1\t2|3\n";
    expect_fmt(&sl_format_tsv, in, strlen(in), &p, "#1 L2: a=R:1\t2@2:1 | b=R:3@2:5\n");
    struct sl_format_opts bad = { .delimiter = '"', .header = 1 };
    expect_opts("a\n", &bad, "ERR " DISPLAY ": delimiter 0x22 cannot be used (not a quote, "
                "line end or non-ASCII byte)\n");
    bad.delimiter = '\n';
    expect_opts("a\n", &bad, "ERR " DISPLAY ": delimiter 0x0A cannot be used (not a quote, "
                "line end or non-ASCII byte)\n");
}

/* ---- errors ---- */

static void wrong_field_count_names_where(void **state)
{
    (void)state;
    /* too many: where the first extra field starts */
    expect("a,b,c,d\n1,2,3,4,5\n",
           "ERR " DISPLAY ":2:9: expected 4 fields, found 5\n");
    expect("a,b\n1,2\n\xC3\xA9,\"\n\xC3\xA9\",\"x\",y\n",
           "#1 L2: a=R:1@2:1 | b=R:2@2:3\n"
           "ERR " DISPLAY ":4:4: expected 2 fields, found 4\n");
    /* too few: where the line ends */
    expect("a,b,c,d\n1,2,3\n", "ERR " DISPLAY ":2:6: expected 4 fields, found 3\n");
    expect("a,b,c\n\xC3\xA9\xC3\xA9,2\r\n", "ERR " DISPLAY ":2:5: expected 3 fields, found 2\n");
    expect("a,b,c\n1,\"2\n\"", "ERR " DISPLAY ":3:2: expected 3 fields, found 2\n");
    expect("a,b\n1", "ERR " DISPLAY ":2:2: expected 2 fields, found 1\n");
    expect("a\n1,2", "ERR " DISPLAY ":2:3: expected 1 field, found 2\n");
}

static void unterminated_quote_names_both_ends(void **state)
{
    (void)state;
    expect("a,b\n1,\"abc\n", "ERR " DISPLAY ":3:1: unterminated quoted field (started at 2:3)\n");
    expect("a,b\n1,\"ab\xC3\xA9", "ERR " DISPLAY ":2:7: unterminated quoted field "
           "(started at 2:3)\n");
    expect("a,b\n1,\"x\"\"", "ERR " DISPLAY ":2:7: unterminated quoted field "
           "(started at 2:3)\n");
    expect("\"", "ERR " DISPLAY ":1:2: unterminated quoted field (started at 1:1)\n");
    expect("a,b\n1,\"x\n\n2,3\n4,5\n", "ERR " DISPLAY ":6:1: unterminated quoted field "
           "(started at 2:3)\n");
}

static void text_after_a_closing_quote_is_an_error(void **state)
{
    (void)state;
    const char *tail = ": unexpected character after the closing quote of a field "
                       "(a quote inside a quoted field is written twice: \"\")\n";
    char want[512];
    snprintf(want, sizeof want, "ERR " DISPLAY ":2:6%s", tail);
    expect("a,b\n1,\"x\"y\n", want);
    snprintf(want, sizeof want, "ERR " DISPLAY ":3:3%s", tail);
    expect("a,b\n1,\"\n\xC3\xA9\" \n", want);
    /* a CR after the closing quote ends the record: z alone is too few fields */
    expect("a,b\n1,\"x\"\rz\n", "#1 L2: a=R:1@2:1 | b=S:x@2:3\n"
                                 "ERR " DISPLAY ":3:2: expected 2 fields, found 1\n");
}

static void invalid_utf8_and_nul_are_errors_where_they_are(void **state)
{
    (void)state;
    const char *hint = "; save the file as UTF-8 (it may be Latin-1 or Windows-1252)\n";
    char want[512];
    snprintf(want, sizeof want, "ERR " DISPLAY ":2:5: invalid UTF-8: unexpected byte 0xE9%s",
             hint);
    expect("a,b\n\xC3\xA9,ab\xE9\n", want);     /* Latin-1 é after a UTF-8 é */
    snprintf(want, sizeof want, "ERR " DISPLAY ":3:2: invalid UTF-8: unexpected byte 0xC0%s",
             hint);
    expect("a,b\n1,\"x\n\xC3\xA9\xC0\x80\"\n", want);   /* overlong */
    snprintf(want, sizeof want, "ERR " DISPLAY ":1:3: invalid UTF-8: unexpected byte 0x80%s",
             hint);
    expect("a,\x80\n", want);                  /* in the header */
    snprintf(want, sizeof want, "ERR " DISPLAY ":2:1: invalid UTF-8: unexpected byte 0xED%s",
             hint);
    expect("a\n\xED\xA0\x80\n", want);          /* a surrogate */
    snprintf(want, sizeof want, "ERR " DISPLAY ":2:1: invalid UTF-8: unexpected byte 0xF4%s",
             hint);
    expect("a\n\xF4\x90\x80\x80\n", want);      /* past U+10FFFF */
    snprintf(want, sizeof want, "ERR " DISPLAY ":2:3: invalid UTF-8: input ends after byte "
             "0xF0%s", hint);
    expect("a\nxx\xF0\x9F\x98", want);          /* cut short by the end */
    const char nul[] = "a,b\n1,\"x\0\"\n";
    expect_fmt(&sl_format_csv, nul, sizeof nul - 1, NULL,
               "ERR " DISPLAY ":2:5: invalid UTF-8: NUL byte in field "
               "(is the file UTF-16 or binary?)\n");
    const char nul2[] = "a,b\n\xC3\xA9\0,2\n";
    expect_fmt(&sl_format_csv, nul2, sizeof nul2 - 1, NULL,
               "ERR " DISPLAY ":2:2: invalid UTF-8: NUL byte in field "
               "(is the file UTF-16 or binary?)\n");
}

static void max_record_is_enforced_at_every_split(void **state)
{
    (void)state;
    struct sl_format_opts o = { .header = 1, .max_record = 10 };
    /* records of exactly 10 bytes pass, with LF, CRLF or none */
    expect_opts("a,b\n12345,7890\n\"1\n3\",\"\"\"\"\r\n1234567,90", &o,
                "#1 L2: a=R:12345@2:1 | b=R:7890@2:7\n"
                "#2 L3: a=S:1\n3@3:1 | b=S:\"@4:4\n"
                "#3 L5: a=R:1234567@5:1 | b=R:90@5:9\n");
    expect_opts("a,b\n12345,78901\n", &o, "ERR " DISPLAY ":2:1: record longer than 10 bytes "
                "(max_record); check the quoting, or raise max_record\n");
    expect_opts("a,b\n1,2\n12345,78901\r\n", &o, "#1 L2: a=R:1@2:1 | b=R:2@2:3\n"
                "ERR " DISPLAY ":3:1: record longer than 10 bytes "
                "(max_record); check the quoting, or raise max_record\n");
    expect_opts("a,b\n1,\"2\n\n\n\n\n\n\n\n\n\n\n\n", &o,
                "ERR " DISPLAY ":2:1: record longer than 10 bytes "
                "(max_record); check the quoting, or raise max_record\n");
    /* the header too */
    expect_opts("abcdef,ghijk\n", &o, "ERR " DISPLAY ":1:1: record longer than 10 bytes "
                "(max_record); check the quoting, or raise max_record\n");
}

static void records_larger_than_the_buffer(void **state)
{
    (void)state;
    size_t big = (3u << 20) + 17;       /* the buffer must grow, several times */
    struct sl_buf in;
    sl_buf_init(&in);
    sl_buf_puts(&in, "id,text,n\n1,\"");
    for (size_t i = 0; i < big; i++)
        sl_buf_puts(&in, i % 1000 == 999 ? "\n" : i % 100 == 50 ? "\"\"" : "x");
    sl_buf_puts(&in, "\",2\n3,y,4\n");
    for (size_t chunk = 0; chunk <= 65536; chunk = chunk ? chunk * 16 : 1) {
        if (chunk == 1)
            continue;       /* quadratic-free, but 3 MB one byte a read is slow under ASan */
        struct sl_stream *st = NULL;
        struct sl_reader *rd = NULL;
        struct sl_err err;
        struct sl_record rec;
        sl_err_clear(&err);
        assert_int_equal(sl_stream_open_mem(&st, DISPLAY, in.data, in.len, chunk, &err), 0);
        assert_int_equal(sl_format_csv.open(&rd, st, NULL, &err), 0);
        assert_int_equal(sl_format_csv.next(rd, &rec, &err), 1);
        assert_int_equal(rec.nfields, 3);
        size_t nq = 0, nl = 0;
        for (size_t i = 0; i < rec.fields[1].len; i++) {
            nq += rec.fields[1].val[i] == '"';
            nl += rec.fields[1].val[i] == '\n';
        }
        assert_int_equal(nl, big / 1000);
        assert_int_equal(rec.fields[1].len, big);           /* each "" became " */
        assert_int_equal(nq, big / 100);
        assert_int_equal(rec.fields[2].len, 1);
        assert_int_equal(rec.fields[2].val[0], '2');
        assert_int_equal(rec.fields[2].line, 2 + (long)(big / 1000));
        assert_int_equal(sl_format_csv.next(rd, &rec, &err), 1);
        assert_int_equal(rec.line, 3 + (long)(big / 1000));
        assert_int_equal(sl_format_csv.next(rd, &rec, &err), 0);
        sl_format_csv.close(rd);
        sl_stream_close(st);
    }
    sl_buf_free(&in);
}

/* ---- compressed input ---- */

static const char sample[] =
    "\xEF\xBB\xBFid,name,note\r\n"
    "1,Z\xC3\xBCrich,\"a, b\"\r\n"
    "\r\n"
    "2,\"\xE6\x97\xA5\xE6\x9C\xAC\",\"line\nbreak \"\"q\"\"\"\r\n"
    "3,,\"\"\n"
    "4,x\"y,\xF0\x9F\x98\x80";

static const char sample_dump[] =
    "#1 L2: id=R:1@2:1 | name=R:Z\xC3\xBCrich@2:3 | note=S:a, b@2:10\n"
    "#2 L4: id=R:2@4:1 | name=S:\xE6\x97\xA5\xE6\x9C\xAC@4:3 | note=S:line\nbreak \"q\"@4:8\n"
    "#3 L6: id=R:3@6:1 | name=0:@6:3 | note=S:@6:4\n"
    "#4 L7: id=R:4@7:1 | name=R:x\"y@7:3 | note=R:\xF0\x9F\x98\x80@7:7\n";

static void every_chunk_size_gives_identical_records(void **state)
{
    (void)state;
    expect_fmt(&sl_format_csv, sample, sizeof sample - 1, NULL, sample_dump);
}

static void gzip_and_zstd_inputs_read_the_same(void **state)
{
    (void)state;
    size_t n = sizeof sample - 1;
    struct sl_buf gz, zs, got;
    sl_buf_init(&gz);
    sl_buf_init(&zs);
    sl_buf_init(&got);
    /* three gzip members, split mid-record and mid-character */
    gzip_append(&gz, sample, 20);
    gzip_append(&gz, sample + 20, 25);
    gzip_append(&gz, sample + 45, n - 45);
    zstd_append(&zs, sample, 33);
    zstd_append(&zs, sample + 33, n - 33);
    for (size_t chunk = 0; chunk <= gz.len + 1; chunk++) {
        dump(&sl_format_csv, gz.data, gz.len, chunk, NULL, &got);
        assert_string_equal(got.data, sample_dump);
    }
    for (size_t chunk = 0; chunk <= zs.len + 1; chunk++) {
        dump(&sl_format_csv, zs.data, zs.len, chunk, NULL, &got);
        assert_string_equal(got.data, sample_dump);
    }
    sl_buf_free(&gz);
    sl_buf_free(&zs);
    sl_buf_free(&got);
}

static void truncated_gzip_input_is_an_error(void **state)
{
    (void)state;
    struct sl_buf gz, got;
    sl_buf_init(&gz);
    sl_buf_init(&got);
    gzip_append(&gz, sample, sizeof sample - 1);
    for (size_t chunk = 0; chunk < 8; chunk++) {
        dump(&sl_format_csv, gz.data, gz.len - 4, chunk, NULL, &got);
        /* every record may come out (the data is all there, the length
         * check is not), then the stream's error */
        const char *e = strstr(got.data, "ERR " DISPLAY ": truncated gzip data");
        if (!e)
            fail_msg("chunk %zu: %s", chunk, got.data);
        assert_int_equal(strncmp(got.data, sample_dump, (size_t)(e - got.data)), 0);
    }
    /* cut in the middle: records before the cut, then the error */
    dump(&sl_format_csv, gz.data, gz.len / 2, 0, NULL, &got);
    assert_non_null(strstr(got.data, "ERR " DISPLAY ": truncated gzip data"));
    sl_buf_free(&gz);
    sl_buf_free(&got);
}

static void corrupt_zstd_input_is_an_error(void **state)
{
    (void)state;
    struct sl_buf zs, got;
    sl_buf_init(&zs);
    sl_buf_init(&got);
    zstd_append(&zs, sample, sizeof sample - 1);
    sl_buf_puts(&zs, "not zstd");
    dump(&sl_format_csv, zs.data, zs.len, 0, NULL, &got);
    assert_non_null(strstr(got.data, "ERR " DISPLAY ": corrupt zstd data"));
    dump(&sl_format_csv, zs.data, zs.len - 12, 5, NULL, &got);
    assert_non_null(strstr(got.data, "ERR " DISPLAY ": truncated zstd data"));
    sl_buf_free(&zs);
    sl_buf_free(&got);
}

/* ---- memory, registry ---- */

static void out_of_memory_at_every_allocation(void **state)
{
    (void)state;
    int failed_some = 0;
    for (long at = 1; at < 40; at++) {
        struct sl_stream *st = NULL;
        struct sl_reader *rd = NULL;
        struct sl_err err;
        struct sl_record rec;
        int rc = 0;
        sl_err_clear(&err);
        sl_mem_fail_at(at);
        if (sl_stream_open_mem(&st, DISPLAY, sample, sizeof sample - 1, 0, &err) == 0) {
            if (sl_format_csv.open(&rd, st, NULL, &err) == 0) {
                while ((rc = sl_format_csv.next(rd, &rec, &err)) == 1)
                    ;
                sl_format_csv.close(rd);
            } else {
                rc = -1;
            }
            sl_stream_close(st);
        } else {
            rc = -1;
        }
        sl_mem_fail_at(0);
        if (rc < 0) {
            failed_some = 1;
            assert_int_equal(err.code, SL_E_NOMEM);
        }
    }
    assert_true(failed_some);
}

static void registered_names_and_extensions(void **state)
{
    (void)state;
    struct sl_err err;
    sl_err_clear(&err);
    assert_ptr_equal(sl_format_find("csv", &err), &sl_format_csv);
    assert_ptr_equal(sl_format_find("tsv", &err), &sl_format_tsv);
    assert_ptr_equal(sl_format_for_path("drops/a.CSV"), &sl_format_csv);
    assert_ptr_equal(sl_format_for_path("drops/a.csv.gz"), &sl_format_csv);
    assert_ptr_equal(sl_format_for_path("drops/a.tsv.zst"), &sl_format_tsv);
    assert_ptr_equal(sl_format_for_path("drops/a.tab"), &sl_format_tsv);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(spectrum_files_parse_to_their_json_at_every_split),
        cmocka_unit_test(quoting_nulls_and_kinds),
        cmocka_unit_test(doubled_quotes_are_unescaped),
        cmocka_unit_test(quoted_fields_hold_delimiters_and_line_ends),
        cmocka_unit_test(stray_quotes_in_unquoted_fields_are_kept),
        cmocka_unit_test(crlf_and_lf_line_ends),
        cmocka_unit_test(cr_only_line_ends),
        cmocka_unit_test(last_line_needs_no_line_end),
        cmocka_unit_test(byte_order_mark_is_skipped),
        cmocka_unit_test(empty_lines_are_skipped),
        cmocka_unit_test(columns_count_code_points),
        cmocka_unit_test(header_names_empty_and_duplicate),
        cmocka_unit_test(duplicate_names_among_many_columns),
        cmocka_unit_test(without_header_columns_are_numbered),
        cmocka_unit_test(tsv_uses_tabs_and_honours_quotes),
        cmocka_unit_test(delimiter_override),
        cmocka_unit_test(wrong_field_count_names_where),
        cmocka_unit_test(unterminated_quote_names_both_ends),
        cmocka_unit_test(text_after_a_closing_quote_is_an_error),
        cmocka_unit_test(invalid_utf8_and_nul_are_errors_where_they_are),
        cmocka_unit_test(max_record_is_enforced_at_every_split),
        cmocka_unit_test(records_larger_than_the_buffer),
        cmocka_unit_test(every_chunk_size_gives_identical_records),
        cmocka_unit_test(gzip_and_zstd_inputs_read_the_same),
        cmocka_unit_test(truncated_gzip_input_is_an_error),
        cmocka_unit_test(corrupt_zstd_input_is_an_error),
        cmocka_unit_test(out_of_memory_at_every_allocation),
        cmocka_unit_test(registered_names_and_extensions),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
