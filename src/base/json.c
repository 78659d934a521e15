/* base/json.c: the strict JSON scanner (see json.h for why we do not read
 * with jansson). One pass, no allocation, an explicit nesting stack. */
#include "base/json.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "base/value.h"

struct jerr {
    size_t *off;
    char *why;
    size_t whylen;
};

__attribute__((format(printf, 3, 4)))
static int fail(const struct jerr *e, size_t off, const char *fmt, ...)
{
    if (e->off)
        *e->off = off;
    if (e->why && e->whylen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(e->why, e->whylen, fmt, ap);
        va_end(ap);
    }
    return -1;
}

const char *sl_json_kind_name(enum sl_json_kind k)
{
    switch (k) {
    case SL_JSON_OBJECT: return "object";
    case SL_JSON_ARRAY:  return "array";
    case SL_JSON_STRING: return "string";
    case SL_JSON_NUMBER: return "number";
    case SL_JSON_TRUE:
    case SL_JSON_FALSE:  return "boolean";
    case SL_JSON_NULL:   return "null";
    case SL_JSON_NONE:   break;
    }
    return "nothing";
}

/* ---- UTF-8 ---- */

/* Length of the valid UTF-8 sequence at p[0..avail) (p[0] >= 0x80) with its
 * code point in *cp, or 0 with a reason. Only shortest forms, no surrogates,
 * nothing above U+10FFFF (RFC 3629). */
static size_t utf8_seq(const unsigned char *p, size_t avail, uint32_t *cp,
                       char *why, size_t whylen)
{
    unsigned char c = p[0];
    size_t len;
    unsigned char lo = 0x80, hi = 0xBF;     /* allowed range of the 2nd byte */

    if (c < 0xC0) {
        snprintf(why, whylen, "invalid UTF-8 byte 0x%02X", c);
        return 0;
    }
    if (c < 0xC2) {
        snprintf(why, whylen, "overlong UTF-8 sequence");
        return 0;
    }
    if (c < 0xE0) {
        len = 2;
        *cp = c & 0x1F;
    } else if (c < 0xF0) {
        len = 3;
        *cp = c & 0x0F;
        if (c == 0xE0)
            lo = 0xA0;
        else if (c == 0xED)
            hi = 0x9F;
    } else if (c < 0xF5) {
        len = 4;
        *cp = c & 0x07;
        if (c == 0xF0)
            lo = 0x90;
        else if (c == 0xF4)
            hi = 0x8F;
    } else if (c < 0xF8) {
        snprintf(why, whylen, "UTF-8 sequence beyond U+10FFFF");
        return 0;
    } else {
        snprintf(why, whylen, "invalid UTF-8 byte 0x%02X", c);
        return 0;
    }
    if (avail < 2 || (p[1] & 0xC0) != 0x80) {
        snprintf(why, whylen, "truncated UTF-8 sequence");
        return 0;
    }
    if (p[1] < lo) {
        snprintf(why, whylen, "overlong UTF-8 sequence");
        return 0;
    }
    if (p[1] > hi) {
        if (c == 0xED)
            snprintf(why, whylen, "UTF-8-encoded surrogate U+%04X",
                     (unsigned)(0xD000 | (p[1] & 0x3F) << 6));
        else
            snprintf(why, whylen, "UTF-8 sequence beyond U+10FFFF");
        return 0;
    }
    for (size_t k = 1; k < len; k++) {
        if (k >= avail || (p[k] & 0xC0) != 0x80) {
            snprintf(why, whylen, "truncated UTF-8 sequence");
            return 0;
        }
        *cp = *cp << 6 | (p[k] & 0x3F);
    }
    return len;
}

/* Describe the byte at s[i] (or the end) for "unexpected ..." reasons. */
static int fail_unexpected(const struct jerr *e, const char *s, size_t n, size_t i,
                           const char *expected)
{
    if (i >= n)
        return fail(e, i, "unexpected end of input, expected %s", expected);
    unsigned char c = (unsigned char)s[i];
    if (c >= 0x20 && c < 0x7F)
        return fail(e, i, "unexpected character '%c', expected %s", c, expected);
    if (c < 0x80)
        return fail(e, i, "unexpected character U+%04X, expected %s", c, expected);
    char why[64];
    uint32_t cp = 0;
    if (utf8_seq((const unsigned char *)s + i, n - i, &cp, why, sizeof why) == 0)
        return fail(e, i, "%s", why);
    if (cp == 0xFEFF)
        return fail(e, i, "unexpected byte order mark (U+FEFF), expected %s", expected);
    return fail(e, i, "unexpected character U+%04X, expected %s", (unsigned)cp, expected);
}

/* ---- strings ---- */


/* Four hex digits at s[0..4) -> 0..0xFFFF, or -1. The caller made sure the
 * four bytes exist. */
static long hex4(const char *s)
{
    long v = 0;
    for (int k = 0; k < 4; k++) {
        int h = sl_hex_digit((unsigned char)s[k]);
        if (h < 0)
            return -1;
        v = v << 4 | h;
    }
    return v;
}

/* The escape at s[i] == '\\' inside a string body that ends at or before n.
 * Returns its length (2, 6 or 12) with the code point in *cp (for the
 * one-letter escapes, the byte), 0 when the body ends inside it, or -1 with
 * a reason. Shared by the scanner and sl_json_unescape so they agree. */
static long escape_at(const char *s, size_t n, size_t i, uint32_t *cp, const struct jerr *e)
{
    if (i + 1 >= n)
        return 0;
    unsigned char c = (unsigned char)s[i + 1];
    switch (c) {
    case '"':  *cp = '"'; return 2;
    case '\\': *cp = '\\'; return 2;
    case '/':  *cp = '/'; return 2;
    case 'b':  *cp = '\b'; return 2;
    case 'f':  *cp = '\f'; return 2;
    case 'n':  *cp = '\n'; return 2;
    case 'r':  *cp = '\r'; return 2;
    case 't':  *cp = '\t'; return 2;
    case 'u':  break;
    default:
        if (c >= 0x20 && c < 0x7F)
            return fail(e, i, "invalid escape \\%c", c);
        return fail(e, i, "invalid escape (backslash followed by byte 0x%02X)", c);
    }
    for (size_t k = 2; k < 6; k++) {
        if (i + k >= n)
            return 0;
        if (sl_hex_digit((unsigned char)s[i + k]) < 0)
            return fail(e, i, "invalid escape \\u%.*s, expected 4 hex digits",
                        (int)(k - 2), s + i + 2);
    }
    long u = hex4(s + i + 2);
    if (u >= 0xDC00 && u <= 0xDFFF)
        return fail(e, i, "lone surrogate \\%.5s", s + i + 1);
    if (u < 0xD800 || u > 0xDBFF) {
        *cp = (uint32_t)u;
        return 6;
    }
    /* a high surrogate must be followed by \u and a low one */
    long lo = -1;
    if (i + 11 < n && s[i + 6] == '\\' && s[i + 7] == 'u')
        lo = hex4(s + i + 8);
    if (lo < 0xDC00 || lo > 0xDFFF)
        return fail(e, i, "lone surrogate \\%.5s", s + i + 1);
    *cp = 0x10000 + (((uint32_t)u - 0xD800) << 10) + ((uint32_t)lo - 0xDC00);
    return 12;
}

/* 1 for bytes a string may hold as they are (printable ASCII but '"' and
 * '\\'): the common case, checked eight bytes at a time below. */
#define ONES   UINT64_C(0x0101010101010101)
#define HIGHS  UINT64_C(0x8080808080808080)

static int word_plain(uint64_t x)
{
    uint64_t q = x ^ (ONES * '"');
    uint64_t b = x ^ (ONES * '\\');
    uint64_t special = ((q - ONES) & ~q)            /* a '"' byte */
                     | ((b - ONES) & ~b)            /* a '\\' byte */
                     | ((x - ONES * 0x20) & ~x)     /* a byte < 0x20 */
                     | x;                           /* a byte >= 0x80 */
    return (special & HIGHS) == 0;
}

/* The string whose opening quote is s[start]. Returns 0 with *end just past
 * the closing quote and *escaped, or -1. */
static int scan_string(const char *s, size_t n, size_t start, size_t *end, int *escaped,
                       const struct jerr *e)
{
    size_t i = start + 1;
    int esc = 0;

    for (;;) {
        while (i + 8 <= n) {
            uint64_t x;
            memcpy(&x, s + i, 8);
            if (!word_plain(x))
                break;
            i += 8;
        }
        if (i >= n)
            return fail(e, start, "unterminated string");
        unsigned char c = (unsigned char)s[i];
        if (c == '"') {
            *end = i + 1;
            *escaped = esc;
            return 0;
        }
        if (c >= 0x20 && c < 0x80 && c != '\\') {
            i++;
            continue;
        }
        if (c == '\\') {
            uint32_t cp;
            long k = escape_at(s, n, i, &cp, e);
            if (k < 0)
                return -1;
            if (k == 0)
                return fail(e, start, "unterminated string");
            esc = 1;
            i += (size_t)k;
            continue;
        }
        if (c < 0x20)
            return fail(e, i, "control character U+%04X in string (escape it)", c);
        char why[64];
        uint32_t cp;
        size_t k = utf8_seq((const unsigned char *)s + i, n - i, &cp, why, sizeof why);
        if (k == 0)
            return fail(e, i, "%s", why);
        i += k;
    }
}

/* ---- numbers and literals ---- */

static int is_digit(const char *s, size_t n, size_t i)
{
    return i < n && s[i] >= '0' && s[i] <= '9';
}

static int scan_number(const char *s, size_t n, size_t start, size_t *end,
                       const struct jerr *e)
{
    size_t i = start;

    if (s[i] == '-')
        i++;
    if (!is_digit(s, n, i))
        return fail_unexpected(e, s, n, i, "a digit after '-'");
    if (s[i] == '0') {
        i++;
        if (is_digit(s, n, i))
            return fail(e, start, "leading zeros in number");
    } else {
        while (is_digit(s, n, i))
            i++;
    }
    if (i < n && s[i] == '.') {
        i++;
        if (!is_digit(s, n, i))
            return fail_unexpected(e, s, n, i, "a digit after '.'");
        while (is_digit(s, n, i))
            i++;
    }
    if (i < n && (s[i] == 'e' || s[i] == 'E')) {
        i++;
        if (i < n && (s[i] == '+' || s[i] == '-'))
            i++;
        if (!is_digit(s, n, i))
            return fail_unexpected(e, s, n, i, "a digit in the exponent");
        while (is_digit(s, n, i))
            i++;
    }
    *end = i;
    return 0;
}

static int scan_literal(const char *s, size_t n, size_t i, const char *lit, size_t *end,
                        const struct jerr *e)
{
    size_t len = strlen(lit);
    if (n - i < len || memcmp(s + i, lit, len) != 0)
        return fail(e, i, "invalid literal, expected %s", lit);
    *end = i + len;
    return 0;
}

/* ---- values ---- */

/* One value starting at s[start]; iterative, with the open containers on
 * an explicit stack. */
static int scan_value(const char *s, size_t n, size_t start, struct sl_json_token *tok,
                      const struct jerr *e)
{
    unsigned char stack[SL_JSON_MAX_DEPTH];     /* '{' or '[' */
    size_t depth = 0;
    size_t i = start;
    enum sl_json_kind first = SL_JSON_NONE;
    int escaped = 0;

value:
    if (i >= n)
        return fail_unexpected(e, s, n, i, "a value");
    switch (s[i]) {
    case '{':
    case '[':
        if (first == SL_JSON_NONE)
            first = s[i] == '{' ? SL_JSON_OBJECT : SL_JSON_ARRAY;
        if (depth == SL_JSON_MAX_DEPTH)
            return fail(e, i, "nesting deeper than %d", SL_JSON_MAX_DEPTH);
        stack[depth++] = (unsigned char)s[i];
        i = sl_json_skip_ws(s, n, i + 1);
        if (stack[depth - 1] == '[') {
            if (i < n && s[i] == ']') {
                i++;
                depth--;
                goto after;
            }
            goto value;
        }
        if (i < n && s[i] == '}') {
            i++;
            depth--;
            goto after;
        }
        goto key;
    case '"':
        if (first == SL_JSON_NONE)
            first = SL_JSON_STRING;
        if (scan_string(s, n, i, &i, &escaped, e) < 0)
            return -1;
        goto after;
    case '-': case '0': case '1': case '2': case '3': case '4':
    case '5': case '6': case '7': case '8': case '9':
        if (first == SL_JSON_NONE)
            first = SL_JSON_NUMBER;
        if (scan_number(s, n, i, &i, e) < 0)
            return -1;
        goto after;
    case 't':
        if (first == SL_JSON_NONE)
            first = SL_JSON_TRUE;
        if (scan_literal(s, n, i, "true", &i, e) < 0)
            return -1;
        goto after;
    case 'f':
        if (first == SL_JSON_NONE)
            first = SL_JSON_FALSE;
        if (scan_literal(s, n, i, "false", &i, e) < 0)
            return -1;
        goto after;
    case 'n':
        if (first == SL_JSON_NONE)
            first = SL_JSON_NULL;
        if (scan_literal(s, n, i, "null", &i, e) < 0)
            return -1;
        goto after;
    default:
        return fail_unexpected(e, s, n, i, "a value");
    }

key:
    if (i >= n || s[i] != '"')
        return fail_unexpected(e, s, n, i, "a string key");
    {
        int key_escaped;
        if (scan_string(s, n, i, &i, &key_escaped, e) < 0)
            return -1;
    }
    i = sl_json_skip_ws(s, n, i);
    if (i >= n || s[i] != ':')
        return fail_unexpected(e, s, n, i, "':'");
    i = sl_json_skip_ws(s, n, i + 1);
    goto value;

after:
    if (depth == 0) {
        tok->kind = first;
        tok->len = i - start;
        tok->escaped = first == SL_JSON_STRING ? escaped : 0;
        return 0;
    }
    i = sl_json_skip_ws(s, n, i);
    if (stack[depth - 1] == '{') {
        if (i < n && s[i] == ',') {
            i = sl_json_skip_ws(s, n, i + 1);
            goto key;
        }
        if (i < n && s[i] == '}') {
            i++;
            depth--;
            goto after;
        }
        return fail_unexpected(e, s, n, i, "',' or '}'");
    }
    if (i < n && s[i] == ',') {
        i = sl_json_skip_ws(s, n, i + 1);
        goto value;
    }
    if (i < n && s[i] == ']') {
        i++;
        depth--;
        goto after;
    }
    return fail_unexpected(e, s, n, i, "',' or ']'");
}

int sl_json_scan(const char *s, size_t n, struct sl_json_token *tok,
                 size_t *err_off, char *why, size_t whylen)
{
    const struct jerr e = { err_off, why, whylen };
    return scan_value(s, n, 0, tok, &e);
}

int sl_json_validate(const char *s, size_t n, size_t *err_off, char *why, size_t whylen)
{
    const struct jerr e = { err_off, why, whylen };
    struct sl_json_token tok;
    size_t i = sl_json_skip_ws(s, n, 0);

    if (scan_value(s, n, i, &tok, &e) < 0)
        return -1;
    i = sl_json_skip_ws(s, n, i + tok.len);
    if (i < n)
        return fail(&e, i, "trailing characters after value");
    return 0;
}

/* ---- decoding ---- */

static size_t utf8_put(char *o, uint32_t cp)
{
    if (cp < 0x80) {
        o[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (char)(0xC0 | cp >> 6);
        o[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (char)(0xE0 | cp >> 12);
        o[1] = (char)(0x80 | (cp >> 6 & 0x3F));
        o[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    o[0] = (char)(0xF0 | cp >> 18);
    o[1] = (char)(0x80 | (cp >> 12 & 0x3F));
    o[2] = (char)(0x80 | (cp >> 6 & 0x3F));
    o[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

int sl_json_unescape(const char *s, size_t n, struct sl_buf *out,
                     size_t *err_off, char *why, size_t whylen)
{
    const struct jerr e = { err_off, why, whylen };

    /* every escape is at least as long as the UTF-8 it stands for */
    if (sl_buf_reserve(out, n) < 0)
        return fail(&e, 0, "out of memory");
    char *o = out->data + out->len;
    size_t i = 0;
    while (i < n) {
        const char *bs = memchr(s + i, '\\', n - i);
        size_t k = bs ? (size_t)(bs - (s + i)) : n - i;
        memcpy(o, s + i, k);
        o += k;
        i += k;
        if (!bs)
            break;
        uint32_t cp;
        long len = escape_at(s, n, i, &cp, &e);
        if (len < 0)
            goto bad;
        if (len == 0) {
            fail(&e, i, "incomplete escape at the end of the string");
            goto bad;
        }
        if (cp == 0) {
            fail(&e, i, "string contains \\u0000, which the warehouse cannot store");
            goto bad;
        }
        o += utf8_put(o, cp);
        i += (size_t)len;
    }
    out->len = (size_t)(o - out->data);
    out->data[out->len] = '\0';
    return 0;
bad:
    out->data[out->len] = '\0';
    return -1;
}
