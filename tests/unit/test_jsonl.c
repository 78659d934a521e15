/* tests/unit/test_jsonl.c: the JSON-lines reader (formats/jsonl.c).
 *
 * Each test reads an input through a memory stream and compares a text dump
 * of what came out (records and errors) with what it must be. Streaming bugs
 * live at buffer edges, so samples are also read at every chunk size from 1
 * to their length and must come out identical at every split. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "base/json.h"
#include "base/mem.h"
#include "base/stream.h"
#include "formats/format.h"

#define DISPLAY "drops/t.jsonl"

/* ---- helpers ---- */

static char lex_letter(const struct sl_field *f)
{
    if (f->is_null)
        return '0';
    switch (f->lex) {
    case SL_LEX_STRING: return 'S';
    case SL_LEX_NUMBER: return 'N';
    case SL_LEX_BOOL:   return 'B';
    case SL_LEX_JSON:   return 'J';
    case SL_LEX_RAW:    return 'R';
    }
    return '?';
}

/* One line per record: "#index L<line>: name=<kind>:<value>@line:col | ...",
 * one line per error: "ERR <message>". Reads on after errors (the reader
 * allows it), up to a bound that guards against a reader that never ends. */
static void dump(const char *in, size_t n, size_t chunk, const struct sl_format_opts *opts,
                 struct sl_buf *out)
{
    struct sl_stream *st = NULL;
    struct sl_reader *rd = NULL;
    struct sl_err err;
    struct sl_record rec;

    sl_err_clear(&err);
    sl_buf_reset(out);
    sl_buf_append(out, "", 0);      /* an empty dump is "", not NULL */
    assert_int_equal(sl_stream_open_mem(&st, DISPLAY, in, n, chunk, &err), 0);
    assert_int_equal(sl_format_jsonl.open(&rd, st, opts, &err), 0);
    for (int calls = 0; calls < 10000; calls++) {
        int rc = sl_format_jsonl.next(rd, &rec, &err);
        if (rc == 0)
            break;
        if (rc < 0) {
            sl_buf_printf(out, "ERR %s\n", err.msg);
            assert_int_equal(err.code, SL_E_INPUT);
            continue;
        }
        sl_buf_printf(out, "#%ld L%ld:", rec.index, rec.line);
        for (size_t i = 0; i < rec.nfields; i++) {
            const struct sl_field *f = &rec.fields[i];
            sl_buf_printf(out, "%s %.*s=%c:%.*s@%ld:%ld", i ? " |" : "", (int)f->name_len,
                          f->name, lex_letter(f), (int)f->len, f->val, f->line, f->col);
        }
        sl_buf_putc(out, '\n');
    }
    sl_format_jsonl.close(rd);
    sl_stream_close(st);
}

static void expect_n(const char *in, size_t n, const struct sl_format_opts *opts,
                     const char *want)
{
    struct sl_buf out;
    sl_buf_init(&out);
    dump(in, n, 0, opts, &out);
    assert_string_equal(out.data, want);
    sl_buf_free(&out);
}

static void expect(const char *in, const char *want)
{
    expect_n(in, strlen(in), NULL, want);
}

/* The same dump at every chunk size; returns it in *ref. */
static void same_at_every_split(const char *in, size_t n, const struct sl_format_opts *opts,
                                struct sl_buf *ref)
{
    struct sl_buf got;
    sl_buf_init(&got);
    dump(in, n, 0, opts, ref);
    for (size_t chunk = 1; chunk <= n; chunk++) {
        dump(in, n, chunk, opts, &got);
        if (strcmp(got.data, ref->data) != 0)
            fail_msg("chunk %zu differs:\n%s\nwant:\n%s", chunk, got.data, ref->data);
    }
    sl_buf_free(&got);
}

/* ---- records and fields ---- */

static void fields_are_top_level_keys_with_their_kinds(void **state)
{
    (void)state;
    expect("{\"s\":\"text\",\"n\":42,\"t\":true,\"f\":false,\"z\":null,"
           "\"o\":{\"a\":[1,2]},\"a\":[1,\"x\"]}\n",
           "#1 L1: s=S:text@1:6 | n=N:42@1:17 | t=B:true@1:24 | f=B:false@1:33 |"
           " z=0:@1:43 | o=J:{\"a\":[1,2]}@1:52 | a=J:[1,\"x\"]@1:68\n");
}

static void numbers_keep_their_exact_text(void **state)
{
    (void)state;
    expect("{\"a\":12.30,\"b\":1e400,\"c\":123456789012345678901234567890,"
           "\"d\":-0,\"e\":1E-7,\"f\":0.10,\"g\":-12.5e+03}\n",
           "#1 L1: a=N:12.30@1:6 | b=N:1e400@1:16 | c=N:123456789012345678901234567890@1:26 |"
           " d=N:-0@1:61 | e=N:1E-7@1:68 | f=N:0.10@1:77 | g=N:-12.5e+03@1:86\n");
}

static void nested_values_are_kept_as_raw_json(void **state)
{
    (void)state;
    /* spacing, escapes and \u0000 inside nested values stay as written */
    expect("{\"o\": { \"a\" : [ 1 , 2.50 ] } , \"k\":[\"\\n\",\"\\u0000\",{}],\"e\":[]}\n",
           "#1 L1: o=J:{ \"a\" : [ 1 , 2.50 ] }@1:7 |"
           " k=J:[\"\\n\",\"\\u0000\",{}]@1:36 | e=J:[]@1:59\n");
}

static void strings_and_keys_are_unescaped(void **state)
{
    (void)state;
    expect("{\"\\u0061b\":\"x\\ty\",\"q\\\"\":\"\\u00e9\\ud83d\\ude00\",\"\":\"\"}\n",
           "#1 L1: ab=S:x\ty@1:12 | q\"=S:\xc3\xa9\xf0\x9f\x98\x80@1:25 | =S:@1:49\n");
}

static void empty_object_is_a_record_without_fields(void **state)
{
    (void)state;
    expect("{}\n { } \n", "#1 L1:\n#2 L2:\n");
}

static void blank_lines_crlf_and_bom_are_accepted(void **state)
{
    (void)state;
    /* BOM on line 1 is not a column; CR is JSON whitespace */
    expect("\xef\xbb\xbf{\"a\":1}\r\n\r\n   \n\t \r\n{\"a\":2}\r\n\n",
           "#1 L1: a=N:1@1:6\n#2 L5: a=N:2@5:6\n");
    expect("\xef\xbb\xbf\n{\"a\":1}", "#1 L2: a=N:1@2:6\n");
    expect("\xef\xbb\xbf", "");
    expect("", "");
    expect("\n\n\r\n  \n", "");
    /* a BOM anywhere else is an error */
    expect("{\"a\":1}\n\xef\xbb\xbf{\"a\":2}\n",
           "#1 L1: a=N:1@1:6\n"
           "ERR " DISPLAY ":2:1: invalid JSON: unexpected byte order mark (U+FEFF),"
           " expected a value\n");
}

static void last_line_needs_no_newline(void **state)
{
    (void)state;
    expect("{\"a\":1}\n{\"a\":2}", "#1 L1: a=N:1@1:6\n#2 L2: a=N:2@2:6\n");
    expect("{\"a\":1}\r", "#1 L1: a=N:1@1:6\n");
}

static void columns_count_code_points(void **state)
{
    (void)state;
    /* é is 2 bytes, 日本 6, 😀 4: each one column */
    expect("{\"\xc3\xa9\":\"\xe6\x97\xa5\xe6\x9c\xac\",\"\xf0\x9f\x98\x80\":1, \"x\": true}\n",
           "#1 L1: \xc3\xa9=S:\xe6\x97\xa5\xe6\x9c\xac@1:6 | \xf0\x9f\x98\x80=N:1@1:15 |"
           " x=B:true@1:23\n");
}

static const char multi_line_sample[] =
    "\xef\xbb\xbf{\"id\":1,\"name\":\"Z\xc3\xbcrich\",\"amount\":12.30}\r\n"
    "\n"
    "{\"id\":2,\"name\":\"\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e\",\"tags\":[\"\xf0\x9f\x98\x80\",\"a\\\"b\"],\"amount\":1e400}\n"
    "   \t\n"
    "{\"id\":123456789012345678901234567890,\"name\":\"esc\\u00e9\\ud834\\udd1e\\n\","
    "\"meta\":{\"k\":[null,true,{\"deep\":\"\xc3\xa9\"}]},\"ok\":false,\"none\":null}\r\n"
    "{\"id\":4,\"name\":\"\xc3\xa9\xc3\xa9\", \"bad\":[1,]}\n"
    "[\"not\",\"an object\"]\n"
    "{\"id\":6,\"id\":7}\n"
    "{\"id\":8,\"name\":\"caf\xc3\xa9\",\"k\\u00e9y\":\"v\"}";

static void every_chunk_size_gives_identical_records(void **state)
{
    (void)state;
    struct sl_buf ref;
    sl_buf_init(&ref);
    same_at_every_split(multi_line_sample, sizeof multi_line_sample - 1, NULL, &ref);
    assert_string_equal(ref.data,
        "#1 L1: id=N:1@1:7 | name=S:Z\xc3\xbcrich@1:16 | amount=N:12.30@1:34\n"
        "#2 L3: id=N:2@3:7 | name=S:\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e@3:16 |"
        " tags=J:[\"\xf0\x9f\x98\x80\",\"a\\\"b\"]@3:29 | amount=N:1e400@3:51\n"
        "#3 L5: id=N:123456789012345678901234567890@5:7 |"
        " name=S:esc\xc3\xa9\xf0\x9d\x84\x9e\n@5:45 |"
        " meta=J:{\"k\":[null,true,{\"deep\":\"\xc3\xa9\"}]}@5:78 | ok=B:false@5:114 |"
        " none=0:@5:127\n"
        "ERR " DISPLAY ":6:31: invalid JSON: unexpected character ']', expected a value\n"
        "ERR " DISPLAY ":7:1: record is not a JSON object (found array)\n"
        "ERR " DISPLAY ":8:9: duplicate key \"id\"\n"
        "#7 L9: id=N:8@9:7 | name=S:caf\xc3\xa9@9:16 | k\xc3\xa9y=S:v@9:34\n");
    sl_buf_free(&ref);
}

static void records_count_every_non_blank_line(void **state)
{
    (void)state;
    expect("\n{\"a\":1}\nnope\n\n{\"a\":2}\n",
           "#1 L2: a=N:1@2:6\n"
           "ERR " DISPLAY ":3:1: invalid JSON: invalid literal, expected null\n"
           "#3 L5: a=N:2@5:6\n");
}

/* ---- errors ---- */

static void invalid_json_names_line_and_column(void **state)
{
    (void)state;
    expect("{\"a\":1}\n{\"a\":1,}\n",
           "#1 L1: a=N:1@1:6\n"
           "ERR " DISPLAY ":2:8: invalid JSON: unexpected character '}', expected a string key\n");
    /* the column counts the characters before the error, not the bytes */
    expect("{\"\xc3\xa9t\xc3\xa9\":\"\xe6\x97\xa5\xe6\x9c\xac\", x}\n",
           "ERR " DISPLAY ":1:14: invalid JSON: unexpected character 'x', expected a string key\n");
    expect("{\"\xf0\x9f\x98\x80\":\"a\xc3\xa9\xff\"}\n",
           "ERR " DISPLAY ":1:9: invalid JSON: invalid UTF-8 byte 0xFF\n");
    expect("  {\"a\":\"abc}\n",
           "ERR " DISPLAY ":1:8: invalid JSON: unterminated string\n");
    expect("{\"a\":01}\n",
           "ERR " DISPLAY ":1:6: invalid JSON: leading zeros in number\n");
    expect("{\"a\":NaN}\n",
           "ERR " DISPLAY ":1:6: invalid JSON: unexpected character 'N', expected a value\n");
    expect("{\"a\":1} x\n",
           "ERR " DISPLAY ":1:9: invalid JSON: trailing characters after value\n");
    expect("{\"a\":1}{\"b\":2}\n",
           "ERR " DISPLAY ":1:8: invalid JSON: trailing characters after value\n");
    expect("{\"a\":\"\\ud800\"}\n",
           "ERR " DISPLAY ":1:7: invalid JSON: lone surrogate \\ud800\n");
    expect("{\"a\":\"x\\qy\"}\n",
           "ERR " DISPLAY ":1:8: invalid JSON: invalid escape \\q\n");
    expect("{\"a\":\"\xed\xa0\x80\"}\n",
           "ERR " DISPLAY ":1:7: invalid JSON: UTF-8-encoded surrogate U+D800\n");
    expect("{\"a\":1\n",
           "ERR " DISPLAY ":1:7: invalid JSON: unexpected end of input, expected ',' or '}'\n");
    expect("{'a':1}\n",
           "ERR " DISPLAY ":1:2: invalid JSON: unexpected character ''', expected a string key\n");
    expect_n("{\"a\":1}\0\n", 9, NULL,
             "ERR " DISPLAY ":1:8: invalid JSON: trailing characters after value\n");
    /* a record cannot go on to the next line: strings hold no raw newline */
    expect("{\"a\":\"x\ny\"}\n",
           "ERR " DISPLAY ":1:6: invalid JSON: unterminated string\n"
           "ERR " DISPLAY ":2:1: invalid JSON: unexpected character 'y', expected a value\n");
}

static void non_object_records_are_named(void **state)
{
    (void)state;
    expect("[1,2]\n42\n\"s\"\nnull\ntrue\n  [ ]\n",
           "ERR " DISPLAY ":1:1: record is not a JSON object (found array)\n"
           "ERR " DISPLAY ":2:1: record is not a JSON object (found number)\n"
           "ERR " DISPLAY ":3:1: record is not a JSON object (found string)\n"
           "ERR " DISPLAY ":4:1: record is not a JSON object (found null)\n"
           "ERR " DISPLAY ":5:1: record is not a JSON object (found boolean)\n"
           "ERR " DISPLAY ":6:3: record is not a JSON object (found array)\n");
    /* invalid beats not-an-object */
    expect("[1,\n", "ERR " DISPLAY ":1:4: invalid JSON: unexpected end of input, expected a value\n");
}

static void duplicate_keys_are_an_error(void **state)
{
    (void)state;
    expect("{\"a\":1,\"b\":2,\"a\":3}\n",
           "ERR " DISPLAY ":1:14: duplicate key \"a\"\n");
    /* compared after unescaping, named as written */
    expect("{\"\xc3\xa9\":1,\"\\u00e9\":2}\n",
           "ERR " DISPLAY ":1:8: duplicate key \"\\u00e9\"\n");
    /* nested objects may repeat keys: only the record's own keys are columns */
    expect("{\"a\":{\"x\":1,\"x\":2},\"b\":[{\"x\":1},{\"x\":1}]}\n",
           "#1 L1: a=J:{\"x\":1,\"x\":2}@1:6 | b=J:[{\"x\":1},{\"x\":1}]@1:24\n");
    /* invalid JSON is reported before a duplicate */
    expect("{\"a\":1,\"a\":2,}\n",
           "ERR " DISPLAY ":1:14: invalid JSON: unexpected character '}', expected a string key\n");
}

static void duplicate_keys_among_many_fields(void **state)
{
    (void)state;
    struct sl_buf in, want;
    sl_buf_init(&in);
    sl_buf_init(&want);

    /* 1000 distinct keys: a record, through the hash table */
    sl_buf_putc(&in, '{');
    sl_buf_printf(&want, "#1 L1:");
    long col = 2;
    for (int k = 0; k < 1000; k++) {
        char key[32];
        int kl = snprintf(key, sizeof key, "k%d", k);
        sl_buf_printf(&in, "%s\"%s\":%d", k ? "," : "", key, k);
        col += k ? 1 : 0;
        long vcol = col + kl + 3;
        sl_buf_printf(&want, "%s %s=N:%d@1:%ld", k ? " |" : "", key, k, vcol);
        col = vcol + snprintf(key, sizeof key, "%d", k);
    }
    sl_buf_puts(&in, "}\n");
    sl_buf_putc(&want, '\n');
    expect_n(in.data, in.len, NULL, want.data);

    /* the same with key k500 again at the end */
    in.len -= 2;
    size_t at = in.len + 1;
    sl_buf_puts(&in, ",\"k500\":0}\n");
    sl_buf_reset(&want);
    sl_buf_printf(&want, "ERR " DISPLAY ":1:%zu: duplicate key \"k500\"\n", at + 1);
    expect_n(in.data, in.len, NULL, want.data);

    /* 17 keys, the minimum for the hash table, repeating the first */
    expect("{\"a\":0,\"b\":0,\"c\":0,\"d\":0,\"e\":0,\"f\":0,\"g\":0,\"h\":0,\"i\":0,"
           "\"j\":0,\"k\":0,\"l\":0,\"m\":0,\"n\":0,\"o\":0,\"p\":0,\"a\":0}\n",
           "ERR " DISPLAY ":1:98: duplicate key \"a\"\n");
    sl_buf_free(&in);
    sl_buf_free(&want);
}

static void nul_escape_is_refused_where_it_is(void **state)
{
    (void)state;
    expect("{\"a\":\"x\\u0000\"}\n",
           "ERR " DISPLAY ":1:8: string contains \\u0000, which the warehouse cannot store\n");
    expect("{\"\xc3\xa9\\u0000\":1}\n",
           "ERR " DISPLAY ":1:4: string contains \\u0000, which the warehouse cannot store\n");
    /* but a syntax error on the line is the first thing to fix */
    expect("{\"a\":\"\\u0000\",}\n",
           "ERR " DISPLAY ":1:15: invalid JSON: unexpected character '}', expected a string key\n");
}

static void over_long_record_is_an_error_and_reading_goes_on(void **state)
{
    (void)state;
    struct sl_format_opts opts = { .max_record = 16 };
    static const char in[] =
        "{\"a\":1}\n"
        "{\"a\":\"0123456789abcdef\"}\n"
        "{\"a\":\"0123456789\"}\n"          /* 18 bytes: too long by 2 */
        "{\"a\":\"012345678\"}\r\n"         /* 17 bytes + CR */
        "{\"a\":\"01234567\"}\r\n"          /* exactly 16 + CR: fine */
        "{\"a\":\"01234567\"}\n"
        "{\"a\":\"0123456789012345678901234567890123456789\"}";
    struct sl_buf ref;
    sl_buf_init(&ref);
    same_at_every_split(in, sizeof in - 1, &opts, &ref);
    const char *msg = ": record longer than 16 bytes (max_record); split the record or raise max_record\n";
    struct sl_buf want;
    sl_buf_init(&want);
    sl_buf_printf(&want,
                  "#1 L1: a=N:1@1:6\n"
                  "ERR " DISPLAY ":2:1%s"
                  "ERR " DISPLAY ":3:1%s"
                  "ERR " DISPLAY ":4:1%s"
                  "#5 L5: a=S:01234567@5:6\n"
                  "#6 L6: a=S:01234567@6:6\n"
                  "ERR " DISPLAY ":7:1%s",
                  msg, msg, msg, msg);
    assert_string_equal(ref.data, want.data);

    /* a BOM does not count against the limit */
    static const char bom[] = "\xef\xbb\xbf{\"a\":\"01234567\"}\r\n{}";
    same_at_every_split(bom, sizeof bom - 1, &opts, &ref);
    assert_string_equal(ref.data, "#1 L1: a=S:01234567@1:6\n#2 L2:\n");
    sl_buf_free(&ref);
    sl_buf_free(&want);
}

static void default_limit_is_64_mib(void **state)
{
    (void)state;
    const size_t big = ((size_t)64 << 20) + 1;
    char *in = sl_malloc(big + 16);
    assert_non_null(in);
    /* {"a":"xxx...x"} of exactly 64 MiB is fine, one byte more is not */
    for (int extra = 0; extra <= 1; extra++) {
        size_t len = big - 1 + (size_t)extra;
        memcpy(in, "{\"a\":\"", 6);
        memset(in + 6, 'x', len - 8);
        memcpy(in + len - 2, "\"}\n{}", 5);
        struct sl_stream *st;
        struct sl_reader *rd;
        struct sl_err err;
        struct sl_record rec;
        struct sl_format_opts opts = { .max_record = 0 };
        assert_int_equal(sl_stream_open_mem(&st, DISPLAY, in, len + 3, 0, &err), 0);
        assert_int_equal(sl_format_jsonl.open(&rd, st, extra ? NULL : &opts, &err), 0);
        int rc = sl_format_jsonl.next(rd, &rec, &err);
        if (extra) {
            assert_int_equal(rc, -1);
            assert_string_equal(err.msg, DISPLAY ":1:1: record longer than 67108864 bytes"
                                " (max_record); split the record or raise max_record");
        } else {
            assert_int_equal(rc, 1);
            assert_int_equal(rec.nfields, 1);
            assert_int_equal(rec.fields[0].len, len - 8);
        }
        assert_int_equal(sl_format_jsonl.next(rd, &rec, &err), 1);
        assert_int_equal(rec.nfields, 0);
        assert_int_equal(rec.line, 2);
        assert_int_equal(sl_format_jsonl.next(rd, &rec, &err), 0);
        sl_format_jsonl.close(rd);
        sl_stream_close(st);
    }
    sl_free(in);
}

/* ---- lifetime and memory ---- */

static void values_stay_valid_until_the_next_call(void **state)
{
    (void)state;
    /* the second record is read in pieces that move the buffer around */
    static const char in[] = "{\"k\\u0031\":\"v\\u0031\",\"n\":[1]}\n{\"k2\":\"v2\",\"n\":2}\n";
    struct sl_stream *st;
    struct sl_reader *rd;
    struct sl_err err;
    struct sl_record rec;
    assert_int_equal(sl_stream_open_mem(&st, DISPLAY, in, sizeof in - 1, 3, &err), 0);
    assert_int_equal(sl_format_jsonl.open(&rd, st, NULL, &err), 0);
    assert_int_equal(sl_format_jsonl.next(rd, &rec, &err), 1);
    assert_int_equal(rec.nfields, 2);
    assert_memory_equal(rec.fields[0].name, "k1", 2);
    assert_memory_equal(rec.fields[0].val, "v1", 2);
    assert_memory_equal(rec.fields[1].val, "[1]", 3);
    assert_int_equal(rec.index, 1);
    assert_int_equal(sl_format_jsonl.next(rd, &rec, &err), 1);
    assert_memory_equal(rec.fields[0].name, "k2", 2);
    assert_memory_equal(rec.fields[1].val, "2", 1);
    assert_int_equal(rec.index, 2);
    assert_int_equal(sl_format_jsonl.next(rd, &rec, &err), 0);
    assert_int_equal(sl_format_jsonl.next(rd, &rec, &err), 0);
    sl_format_jsonl.close(rd);
    sl_stream_close(st);
}

/* Fail each allocation in turn: every failure is a clean SL_E_NOMEM, never a
 * crash or a leak (LeakSanitizer checks the latter). */
static void out_of_memory_at_every_allocation(void **state)
{
    (void)state;
    struct sl_buf in;
    sl_buf_init(&in);
    sl_buf_puts(&in, "{\"a\\u0031\":\"x\\n\",\"b\":[1]}\n{");
    for (int k = 0; k < 100; k++)
        sl_buf_printf(&in, "%s\"k%d\":%d", k ? "," : "", k, k);
    sl_buf_puts(&in, "}\n");

    int completed = 0;
    for (long fail = 1; fail < 50 && !completed; fail++) {
        struct sl_stream *st = NULL;
        struct sl_reader *rd = NULL;
        struct sl_err err;
        struct sl_record rec;
        int records = 0, rc = -1;

        sl_err_clear(&err);
        sl_mem_fail_at(fail);
        if (sl_stream_open_mem(&st, DISPLAY, in.data, in.len, 7, &err) == 0 &&
            sl_format_jsonl.open(&rd, st, NULL, &err) == 0) {
            while ((rc = sl_format_jsonl.next(rd, &rec, &err)) == 1)
                records++;
        }
        sl_mem_fail_at(0);
        if (rc == 0) {
            assert_int_equal(records, 2);
            completed = 1;
        } else {
            assert_int_equal(err.code, SL_E_NOMEM);
        }
        if (rd)
            sl_format_jsonl.close(rd);
        sl_stream_close(st);
    }
    assert_true(completed);
    sl_buf_free(&in);
}

static void registered_name_and_extensions(void **state)
{
    (void)state;
    assert_string_equal(sl_format_jsonl.name, "jsonl");
    const char *const *e = sl_format_jsonl.extensions;
    assert_string_equal(e[0], ".jsonl");
    assert_string_equal(e[1], ".ndjson");
    assert_string_equal(e[2], ".json");
    assert_null(e[3]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(fields_are_top_level_keys_with_their_kinds),
        cmocka_unit_test(numbers_keep_their_exact_text),
        cmocka_unit_test(nested_values_are_kept_as_raw_json),
        cmocka_unit_test(strings_and_keys_are_unescaped),
        cmocka_unit_test(empty_object_is_a_record_without_fields),
        cmocka_unit_test(blank_lines_crlf_and_bom_are_accepted),
        cmocka_unit_test(last_line_needs_no_newline),
        cmocka_unit_test(columns_count_code_points),
        cmocka_unit_test(every_chunk_size_gives_identical_records),
        cmocka_unit_test(records_count_every_non_blank_line),
        cmocka_unit_test(invalid_json_names_line_and_column),
        cmocka_unit_test(non_object_records_are_named),
        cmocka_unit_test(duplicate_keys_are_an_error),
        cmocka_unit_test(duplicate_keys_among_many_fields),
        cmocka_unit_test(nul_escape_is_refused_where_it_is),
        cmocka_unit_test(over_long_record_is_an_error_and_reading_goes_on),
        cmocka_unit_test(default_limit_is_64_mib),
        cmocka_unit_test(values_stay_valid_until_the_next_call),
        cmocka_unit_test(out_of_memory_at_every_allocation),
        cmocka_unit_test(registered_name_and_extensions),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
