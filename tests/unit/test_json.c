/* tests/unit/test_json.c: the strict JSON scanner (base/json.c) against
 * JSONTestSuite, plus its error offsets and reasons, UTF-8 edge cases and
 * sl_json_unescape. */
#include <dirent.h>
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

#define SUITE SL_TESTDATA "/json-test-suite"

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

/* Run fn on every suite file whose name starts with prefix; returns how
 * many there were. */
static int each_suite_file(const char *prefix,
                           void (*fn)(const char *name, const char *s, size_t n))
{
    DIR *d = opendir(SUITE);
    int count = 0;
    struct dirent *de;

    assert_non_null(d);
    while ((de = readdir(d)) != NULL) {
        if (strncmp(de->d_name, prefix, strlen(prefix)) != 0)
            continue;
        char path[1024];
        snprintf(path, sizeof path, "%s/%s", SUITE, de->d_name);
        size_t n = 0;
        char *s = read_file(path, &n);
        assert_non_null(s);
        fn(de->d_name, s, n);
        sl_free(s);
        count++;
    }
    closedir(d);
    return count;
}

static int failures;

static void expect_valid(const char *name, const char *s, size_t n)
{
    size_t off = 0;
    char why[160] = "";
    if (sl_json_validate(s, n, &off, why, sizeof why) != 0) {
        print_error("%s: rejected at %zu: %s\n", name, off, why);
        failures++;
    }
}

static void expect_invalid(const char *name, const char *s, size_t n)
{
    size_t off = (size_t)-1;
    char why[160] = "";
    if (sl_json_validate(s, n, &off, why, sizeof why) == 0) {
        print_error("%s: accepted\n", name);
        failures++;
    } else if (off > n || why[0] == '\0') {
        print_error("%s: bad error report (off %zu of %zu, why \"%s\")\n", name, off, n, why);
        failures++;
    }
}

/* i_ files may go either way; these are the choices sluice makes, so that
 * a change of behaviour is seen: numbers are kept as text whatever their
 * range, strings must be valid UTF-8 with paired surrogates, no BOM. */
static void expect_our_choice(const char *name, const char *s, size_t n)
{
    int accept = strncmp(name, "i_number_", 9) == 0 ||
                 strcmp(name, "i_structure_500_nested_arrays.json") == 0;
    if (accept)
        expect_valid(name, s, n);
    else
        expect_invalid(name, s, n);
}

struct bad {
    const char *in;
    size_t off;
    const char *why;
};

static void check_bad(const struct bad *b, size_t count)
{
    for (size_t i = 0; i < count; i++) {
        size_t off = (size_t)-1;
        char why[160] = "";
        int rc = sl_json_validate(b[i].in, strlen(b[i].in), &off, why, sizeof why);
        if (rc != -1 || off != b[i].off || strcmp(why, b[i].why) != 0) {
            print_error("input %s: rc %d off %zu why \"%s\"; want off %zu \"%s\"\n",
                        b[i].in, rc, off, why, b[i].off, b[i].why);
            failures++;
        }
    }
}

static int valid_str(const char *s, size_t n)
{
    return sl_json_validate(s, n, NULL, NULL, 0) == 0;
}

/* ---- JSONTestSuite ---- */

static void suite_y_files_are_accepted(void **state)
{
    (void)state;
    failures = 0;
    assert_int_equal(each_suite_file("y_", expect_valid), 95);
    assert_int_equal(failures, 0);
}

static void suite_n_files_are_rejected_with_a_reason(void **state)
{
    (void)state;
    failures = 0;
    assert_int_equal(each_suite_file("n_", expect_invalid), 188);
    assert_int_equal(failures, 0);
}

static void suite_i_files_do_not_crash_and_follow_our_choices(void **state)
{
    (void)state;
    failures = 0;
    assert_int_equal(each_suite_file("i_", expect_our_choice), 35);
    assert_int_equal(failures, 0);
}

static void suite_100000_opening_arrays_stops_at_depth_512(void **state)
{
    (void)state;
    size_t n, off = 0;
    char why[160];
    char *s = read_file(SUITE "/n_structure_100000_opening_arrays.json", &n);
    assert_non_null(s);
    assert_int_equal(sl_json_validate(s, n, &off, why, sizeof why), -1);
    assert_int_equal(off, 512);
    assert_string_equal(why, "nesting deeper than 512");
    sl_free(s);
}

/* ---- reasons and offsets ---- */

static void errors_name_offset_and_reason(void **state)
{
    (void)state;
    static const struct bad cases[] = {
        { "", 0, "unexpected end of input, expected a value" },
        { "   ", 3, "unexpected end of input, expected a value" },
        { "x", 0, "unexpected character 'x', expected a value" },
        { "[1,]", 3, "unexpected character ']', expected a value" },
        { "{\"a\":1,}", 7, "unexpected character '}', expected a string key" },
        { "{'a':1}", 1, "unexpected character ''', expected a string key" },
        { "{\"a\" 1}", 5, "unexpected character '1', expected ':'" },
        { "[1 2]", 3, "unexpected character '2', expected ',' or ']'" },
        { "{\"a\":1 \"b\":2}", 7, "unexpected character '\"', expected ',' or '}'" },
        { "[1", 2, "unexpected end of input, expected ',' or ']'" },
        { "[\"abc", 1, "unterminated string" },
        { "\"a\\", 0, "unterminated string" },
        { "\"\\u12", 0, "unterminated string" },
        { "\"\\q\"", 1, "invalid escape \\q" },
        { "\"\\u12x4\"", 1, "invalid escape \\u12, expected 4 hex digits" },
        { "\"\\ud800\"", 1, "lone surrogate \\ud800" },
        { "\"ab\\uDC00\"", 3, "lone surrogate \\uDC00" },
        { "\"\\uD800\\u0041\"", 1, "lone surrogate \\uD800" },
        { "\"\\uD800\\n\"", 1, "lone surrogate \\uD800" },
        { "\"a\tb\"", 2, "control character U+0009 in string (escape it)" },
        { "\"\x01\"", 1, "control character U+0001 in string (escape it)" },
        { "\"\xff\"", 1, "invalid UTF-8 byte 0xFF" },
        { "\"\x80\"", 1, "invalid UTF-8 byte 0x80" },
        { "\"\xc0\xaf\"", 1, "overlong UTF-8 sequence" },
        { "\"\xe0\x80\xaf\"", 1, "overlong UTF-8 sequence" },
        { "\"\xf0\x80\x80\xaf\"", 1, "overlong UTF-8 sequence" },
        { "\"\xed\xa0\x80\"", 1, "UTF-8-encoded surrogate U+D800" },
        { "\"\xf4\x90\x80\x80\"", 1, "UTF-8 sequence beyond U+10FFFF" },
        { "\"\xf5\x80\x80\x80\"", 1, "UTF-8 sequence beyond U+10FFFF" },
        { "\"\xe2\x82\"", 1, "truncated UTF-8 sequence" },
        { "\"\xc3", 1, "truncated UTF-8 sequence" },
        { "012", 0, "leading zeros in number" },
        { "[-01]", 1, "leading zeros in number" },
        { "+1", 0, "unexpected character '+', expected a value" },
        { "-", 1, "unexpected end of input, expected a digit after '-'" },
        { "-x", 1, "unexpected character 'x', expected a digit after '-'" },
        { "1.", 2, "unexpected end of input, expected a digit after '.'" },
        { ".5", 0, "unexpected character '.', expected a value" },
        { "1e+", 3, "unexpected end of input, expected a digit in the exponent" },
        { "[1.e5]", 3, "unexpected character 'e', expected a digit after '.'" },
        { "NaN", 0, "unexpected character 'N', expected a value" },
        { "[Infinity]", 1, "unexpected character 'I', expected a value" },
        { "[-Infinity]", 2, "unexpected character 'I', expected a digit after '-'" },
        { "nul", 0, "invalid literal, expected null" },
        { "[tru]", 1, "invalid literal, expected true" },
        { "truex", 4, "trailing characters after value" },
        { "{} {}", 3, "trailing characters after value" },
        { "1 /* c */", 2, "trailing characters after value" },
        { "[1] // c", 4, "trailing characters after value" },
        { "\xef\xbb\xbf{}", 0, "unexpected byte order mark (U+FEFF), expected a value" },
        { "[\xc3\xa9]", 1, "unexpected character U+00E9, expected a value" },
        { "[\x0c]", 1, "unexpected character U+000C, expected a value" },
        { "[\xa0]", 1, "invalid UTF-8 byte 0xA0" },
    };
    failures = 0;
    check_bad(cases, sizeof cases / sizeof cases[0]);
    assert_int_equal(failures, 0);
}

static void nul_inside_input_is_rejected_not_a_terminator(void **state)
{
    (void)state;
    size_t off = 0;
    char why[160];
    assert_int_equal(sl_json_validate("[1]\0", 4, &off, why, sizeof why), -1);
    assert_int_equal(off, 3);
    assert_int_equal(sl_json_validate("\"a\0\"", 4, &off, why, sizeof why), -1);
    assert_int_equal(off, 2);
    assert_string_equal(why, "control character U+0000 in string (escape it)");
    /* the length is what counts: a NUL after n is not looked at */
    assert_int_equal(sl_json_validate("[1]\0garbage", 3, NULL, NULL, 0), 0);
}

static void valid_edge_cases_are_accepted(void **state)
{
    (void)state;
    static const char *const ok[] = {
        "0", "-0", "0.0", "0e0", "0E+1", "-0.0e-0", "12.30", "1e400",
        "123456789012345678901234567890", "\"\"", "[]", "{}", " \t\r\n[ ] \r\n",
        "{\"\":\"\"}", "[[[]]]", "{\"a\":{\"b\":[1,{\"c\":null}]}}",
        "\"\\u0000\"", "\"\\ud834\\udd1e\"", "\"\\uDBFF\\uDFFF\"",
        "\"\\\"\\\\\\/\\b\\f\\n\\r\\t\"", "\"\x7f\"",
        "\"\xc2\x80\xdf\xbf\xe0\xa0\x80\xef\xbf\xbf\xf0\x90\x80\x80\xf4\x8f\xbf\xbf\"",
        "\"\xed\x9f\xbf\xee\x80\x80\"", "true", "false", "null", "[true,false,null]",
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        size_t off = 0;
        char why[160] = "";
        if (sl_json_validate(ok[i], strlen(ok[i]), &off, why, sizeof why) != 0)
            fail_msg("%s rejected at %zu: %s", ok[i], off, why);
    }
}

static void depth_512_is_allowed_and_513_is_not(void **state)
{
    (void)state;
    char s[2 * 600 + 1];
    size_t off = 0;
    char why[160];

    for (size_t depth = 510; depth <= 514; depth++) {
        memset(s, '[', depth);
        memset(s + depth, ']', depth);
        int rc = sl_json_validate(s, 2 * depth, &off, why, sizeof why);
        if (depth <= SL_JSON_MAX_DEPTH) {
            assert_int_equal(rc, 0);
        } else {
            assert_int_equal(rc, -1);
            assert_int_equal(off, SL_JSON_MAX_DEPTH);
            assert_string_equal(why, "nesting deeper than 512");
        }
    }
    /* objects count too */
    struct sl_buf b;
    sl_buf_init(&b);
    for (int k = 0; k < 513; k++)
        sl_buf_puts(&b, "{\"a\":");
    sl_buf_puts(&b, "1");
    for (int k = 0; k < 513; k++)
        sl_buf_putc(&b, '}');
    assert_int_equal(sl_json_validate(b.data, b.len, &off, why, sizeof why), -1);
    assert_string_equal(why, "nesting deeper than 512");
    assert_int_equal(off, 512 * 5);
    sl_buf_free(&b);
}

static void why_is_truncated_safely_and_may_be_null(void **state)
{
    (void)state;
    char why[8];
    size_t off = 0;
    memset(why, 'z', sizeof why);
    assert_int_equal(sl_json_validate("[1,]", 4, &off, why, sizeof why), -1);
    assert_int_equal(why[7], '\0');
    assert_int_equal(sl_json_validate("[1,]", 4, NULL, NULL, 0), -1);
    assert_int_equal(sl_json_validate("[1,]", 4, &off, NULL, 0), -1);
    assert_int_equal(off, 3);
}

/* Every code point encoded by an independent encoder is accepted inside a
 * string, except the surrogates; every 2- and 3-byte sequence is accepted
 * exactly when it is the shortest encoding of a non-surrogate. */
static size_t ref_encode(uint32_t cp, unsigned char *o)
{
    if (cp < 0x80) { o[0] = (unsigned char)cp; return 1; }
    if (cp < 0x800) { o[0] = (unsigned char)(0xC0 + cp / 64); o[1] = (unsigned char)(0x80 + cp % 64); return 2; }
    if (cp < 0x10000) {
        o[0] = (unsigned char)(0xE0 + cp / 4096);
        o[1] = (unsigned char)(0x80 + cp / 64 % 64);
        o[2] = (unsigned char)(0x80 + cp % 64);
        return 3;
    }
    o[0] = (unsigned char)(0xF0 + cp / 262144);
    o[1] = (unsigned char)(0x80 + cp / 4096 % 64);
    o[2] = (unsigned char)(0x80 + cp / 64 % 64);
    o[3] = (unsigned char)(0x80 + cp % 64);
    return 4;
}

static int ref_valid(const unsigned char *p, size_t n)
{
    /* decode by the definition, then require re-encoding to give the same bytes */
    uint32_t cp;
    size_t len;
    if (p[0] < 0x80) { cp = p[0]; len = 1; }
    else if ((p[0] & 0xE0) == 0xC0) { cp = p[0] & 0x1Fu; len = 2; }
    else if ((p[0] & 0xF0) == 0xE0) { cp = p[0] & 0x0Fu; len = 3; }
    else if ((p[0] & 0xF8) == 0xF0) { cp = p[0] & 0x07u; len = 4; }
    else return 0;
    if (len != n)
        return 0;
    for (size_t k = 1; k < len; k++) {
        if ((p[k] & 0xC0) != 0x80)
            return 0;
        cp = cp << 6 | (p[k] & 0x3Fu);
    }
    if (cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF) || cp < 0x20 || cp == '"' || cp == '\\')
        return 0;
    unsigned char re[4];
    return ref_encode(cp, re) == len && memcmp(re, p, len) == 0;
}

static int quoted_valid(const unsigned char *p, size_t n)
{
    char s[8];
    s[0] = '"';
    memcpy(s + 1, p, n);
    s[n + 1] = '"';
    return valid_str(s, n + 2);
}

static void utf8_every_code_point_and_short_sequence(void **state)
{
    (void)state;
    unsigned char p[4];
    for (uint32_t cp = 0x20; cp <= 0x10FFFF; cp++) {
        if (cp == '"' || cp == '\\')
            continue;
        size_t n = ref_encode(cp, p);
        int want = !(cp >= 0xD800 && cp <= 0xDFFF);
        if (quoted_valid(p, n) != want)
            fail_msg("U+%04X: got %d want %d", (unsigned)cp, !want, want);
    }
    for (unsigned a = 0x80; a < 0x100; a++) {
        p[0] = (unsigned char)a;
        if (quoted_valid(p, 1) != 0)
            fail_msg("lone byte %02X accepted", a);
        for (unsigned b = 0; b < 0x100; b++) {
            p[1] = (unsigned char)b;
            if (b == '"' || b == '\\')
                continue;
            if (quoted_valid(p, 2) != ref_valid(p, 2))
                fail_msg("%02X %02X", a, b);
            if (a < 0xE0 || a > 0xEF)
                continue;
            for (unsigned c = 0; c < 0x100; c++) {
                p[2] = (unsigned char)c;
                if (c == '"' || c == '\\')
                    continue;
                if (quoted_valid(p, 3) != ref_valid(p, 3))
                    fail_msg("%02X %02X %02X", a, b, c);
            }
        }
    }
    /* 4-byte leads against every second byte and edge third/fourth bytes */
    static const unsigned char edge[] = { 0x00, 0x41, 0x7F, 0x80, 0x8F, 0x90, 0xBF, 0xC0, 0xFF };
    for (unsigned a = 0xF0; a < 0x100; a++)
        for (unsigned b = 0x80; b < 0xC0 + 1; b++)
            for (size_t c = 0; c < sizeof edge; c++)
                for (size_t d = 0; d < sizeof edge; d++) {
                    p[0] = (unsigned char)a;
                    p[1] = (unsigned char)b;
                    p[2] = edge[c];
                    p[3] = edge[d];
                    int has_special = 0;
                    for (int k = 1; k < 4; k++)
                        has_special |= p[k] == '"' || p[k] == '\\';
                    if (!has_special && quoted_valid(p, 4) != ref_valid(p, 4))
                        fail_msg("%02X %02X %02X %02X", p[0], p[1], p[2], p[3]);
                }
}

/* The 8-byte fast path must not hide a special byte at any position. */
static void special_byte_at_every_position_of_a_long_string(void **state)
{
    (void)state;
    char s[64];
    static const char special[] = { '"', '\\', 0x01, 0x1F, (char)0x80, (char)0xFF };
    for (size_t pos = 1; pos < 40; pos++)
        for (size_t k = 0; k < sizeof special; k++) {
            memset(s, 'a', sizeof s);
            s[0] = '"';
            s[pos] = special[k];
            s[41] = '"';
            size_t off = 0;
            int rc = sl_json_validate(s, 42, &off, NULL, 0);
            assert_int_equal(rc, -1);      /* all of them make it invalid here */
            if (special[k] != '"' && special[k] != '\\')
                assert_int_equal(off, pos);
        }
    memset(s, ' ', sizeof s);
    s[0] = '"';
    s[41] = '"';
    assert_true(valid_str(s, 42));
    s[20] = 0x7f;
    assert_true(valid_str(s, 42));
    s[20] = 0x20;
    s[21] = 0x1f;
    assert_false(valid_str(s, 42));
}

/* ---- sl_json_scan ---- */

static void scan_gives_kind_and_length_and_ignores_what_follows(void **state)
{
    (void)state;
    static const struct {
        const char *in;
        enum sl_json_kind kind;
        size_t len;
        int escaped;
    } cases[] = {
        { "{\"a\":[1,2]} tail", SL_JSON_OBJECT, 11, 0 },
        { "[1,{\"b\":2}],", SL_JSON_ARRAY, 11, 0 },
        { "\"ab\\ncd\"xyz", SL_JSON_STRING, 8, 1 },
        { "\"abc\" ", SL_JSON_STRING, 5, 0 },
        { "-12.5e+3,", SL_JSON_NUMBER, 8, 0 },
        { "0}", SL_JSON_NUMBER, 1, 0 },
        { "true]", SL_JSON_TRUE, 4, 0 },
        { "false", SL_JSON_FALSE, 5, 0 },
        { "null,", SL_JSON_NULL, 4, 0 },
        { "[\"\\n\"]", SL_JSON_ARRAY, 6, 0 },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct sl_json_token tok;
        size_t off = 0;
        char why[160] = "";
        int rc = sl_json_scan(cases[i].in, strlen(cases[i].in), &tok, &off, why, sizeof why);
        if (rc != 0)
            fail_msg("%s: %s at %zu", cases[i].in, why, off);
        assert_int_equal(tok.kind, cases[i].kind);
        assert_int_equal(tok.len, cases[i].len);
        assert_int_equal(tok.escaped, cases[i].escaped);
    }
    struct sl_json_token tok;
    assert_int_equal(sl_json_scan(" 1", 2, &tok, NULL, NULL, 0), -1);
    assert_string_equal(sl_json_kind_name(SL_JSON_TRUE), "boolean");
    assert_string_equal(sl_json_kind_name(SL_JSON_ARRAY), "array");
    assert_string_equal(sl_json_kind_name(SL_JSON_NULL), "null");
}

/* ---- sl_json_unescape ---- */

static void unescape_ok(const char *body, const char *want, size_t wantlen)
{
    struct sl_buf b;
    char why[160] = "";
    size_t off = 0;
    sl_buf_init(&b);
    sl_buf_puts(&b, "pre:");
    int rc = sl_json_unescape(body, strlen(body), &b, &off, why, sizeof why);
    if (rc != 0)
        fail_msg("%s: %s at %zu", body, why, off);
    assert_int_equal(b.len, 4 + wantlen);
    assert_memory_equal(b.data, "pre:", 4);
    assert_memory_equal(b.data + 4, want, wantlen);
    assert_int_equal(b.data[b.len], '\0');
    assert_true(wantlen <= strlen(body));
    sl_buf_free(&b);
}

static void unescape_all_escapes(void **state)
{
    (void)state;
    unescape_ok("", "", 0);
    unescape_ok("plain text", "plain text", 10);
    unescape_ok("\\\"\\\\\\/\\b\\f\\n\\r\\t", "\"\\/\b\f\n\r\t", 8);
    unescape_ok("a\\u0041b", "aAb", 3);
    unescape_ok("\\u00e9\\u00E9", "\xc3\xa9\xc3\xa9", 4);
    unescape_ok("\\u0001\\u001f\\u007f", "\x01\x1f\x7f", 3);
    unescape_ok("\\u0080\\u07ff\\u0800\\uffff", "\xc2\x80\xdf\xbf\xe0\xa0\x80\xef\xbf\xbf", 10);
    unescape_ok("caf\xc3\xa9 \\u2028", "caf\xc3\xa9 \xe2\x80\xa8", 9);
    unescape_ok("\\\\u0041", "\\u0041", 6);
}

static void unescape_surrogate_pairs(void **state)
{
    (void)state;
    unescape_ok("\\ud834\\udd1e", "\xf0\x9d\x84\x9e", 4);          /* U+1D11E */
    unescape_ok("\\uD83D\\uDE00!", "\xf0\x9f\x98\x80!", 5);        /* U+1F600 */
    unescape_ok("\\ud800\\udc00", "\xf0\x90\x80\x80", 4);          /* U+10000 */
    unescape_ok("\\udbff\\udfff", "\xf4\x8f\xbf\xbf", 4);          /* U+10FFFF */
}

static void unescape_fail(const char *body, size_t want_off, const char *want_why)
{
    struct sl_buf b;
    char why[160] = "";
    size_t off = 99;
    sl_buf_init(&b);
    sl_buf_puts(&b, "keep");
    assert_int_equal(sl_json_unescape(body, strlen(body), &b, &off, why, sizeof why), -1);
    assert_int_equal(off, want_off);
    assert_string_equal(why, want_why);
    assert_int_equal(b.len, 4);             /* nothing appended on failure */
    assert_string_equal(b.data, "keep");
    sl_buf_free(&b);
}

static void unescape_rejects_nul_with_a_clear_reason(void **state)
{
    (void)state;
    const char *why = "string contains \\u0000, which the warehouse cannot store";
    unescape_fail("\\u0000", 0, why);
    unescape_fail("abc\\u0000def", 3, why);
    unescape_fail("\\n\\u0000", 2, why);
    /* the suite's escaped-NUL files are valid JSON, but not storable */
    assert_true(valid_str("[\"\\u0000\"]", 10));
}

static void unescape_rejects_what_the_scanner_would(void **state)
{
    (void)state;
    unescape_fail("\\q", 0, "invalid escape \\q");
    unescape_fail("ab\\ud800", 2, "lone surrogate \\ud800");
    unescape_fail("\\udc00\\ud800", 0, "lone surrogate \\udc00");
    unescape_fail("\\ud800\\u0041", 0, "lone surrogate \\ud800");
    unescape_fail("\\u12", 0, "incomplete escape at the end of the string");
    unescape_fail("x\\", 1, "incomplete escape at the end of the string");
    unescape_fail("\\u12g4", 0, "invalid escape \\u12, expected 4 hex digits");
}

static void unescape_out_of_memory_sets_oom(void **state)
{
    (void)state;
    struct sl_buf b;
    char why[64];
    size_t off;
    sl_buf_init(&b);
    sl_mem_fail_at(1);
    assert_int_equal(sl_json_unescape("abc", 3, &b, &off, why, sizeof why), -1);
    sl_mem_fail_at(0);
    assert_string_equal(why, "out of memory");
    assert_true(b.oom);
    sl_buf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(suite_y_files_are_accepted),
        cmocka_unit_test(suite_n_files_are_rejected_with_a_reason),
        cmocka_unit_test(suite_i_files_do_not_crash_and_follow_our_choices),
        cmocka_unit_test(suite_100000_opening_arrays_stops_at_depth_512),
        cmocka_unit_test(errors_name_offset_and_reason),
        cmocka_unit_test(nul_inside_input_is_rejected_not_a_terminator),
        cmocka_unit_test(valid_edge_cases_are_accepted),
        cmocka_unit_test(depth_512_is_allowed_and_513_is_not),
        cmocka_unit_test(why_is_truncated_safely_and_may_be_null),
        cmocka_unit_test(utf8_every_code_point_and_short_sequence),
        cmocka_unit_test(special_byte_at_every_position_of_a_long_string),
        cmocka_unit_test(scan_gives_kind_and_length_and_ignores_what_follows),
        cmocka_unit_test(unescape_all_escapes),
        cmocka_unit_test(unescape_surrogate_pairs),
        cmocka_unit_test(unescape_rejects_nul_with_a_clear_reason),
        cmocka_unit_test(unescape_rejects_what_the_scanner_would),
        cmocka_unit_test(unescape_out_of_memory_sets_oom),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
