/* base/json.h: a strict RFC 8259 JSON scanner for reading input.
 *
 * Why our own and not jansson: jansson decodes numbers to double or int64, so
 * 12.30 comes back as 12.300000000000001 and a 25-digit id fails to load; a
 * warehouse must store exactly what was sent. This scanner only checks and
 * delimits: numbers, objects and arrays stay the bytes as written, and only
 * strings are decoded (sl_json_unescape). jansson stays for emitting JSON.
 *
 * Callers: the jsonl reader (formats/jsonl.c) and anything that must check
 * JSON text (json columns). Nothing here allocates except sl_json_unescape,
 * into the caller's buffer. Nesting is tracked on a fixed stack, never by
 * recursion, so hostile input cannot exhaust the C stack. */
#ifndef SL_JSON_H
#define SL_JSON_H

#include <stddef.h>

#include "base/mem.h"

/* Deeper nesting is rejected ("nesting deeper than 512"). */
#define SL_JSON_MAX_DEPTH 512

enum sl_json_kind {
    SL_JSON_NONE = 0,
    SL_JSON_OBJECT,
    SL_JSON_ARRAY,
    SL_JSON_STRING,
    SL_JSON_NUMBER,
    SL_JSON_TRUE,
    SL_JSON_FALSE,
    SL_JSON_NULL,
};

/* One value found by sl_json_scan. */
struct sl_json_token {
    enum sl_json_kind kind;
    size_t len;         /* bytes of the value as written, quotes included */
    int escaped;        /* strings: the body holds at least one backslash */
};

/* "object", "array", "string", "number", "boolean", "null". */
const char *sl_json_kind_name(enum sl_json_kind k);

/* JSON whitespace: space, tab, CR, LF. Returns the first offset >= i in
 * s[0..n) that is not whitespace (n when none). */
static inline size_t sl_json_skip_ws(const char *s, size_t n, size_t i)
{
    while (i < n && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r'))
        i++;
    return i;
}

/* Returns 0 when s[0..n) is exactly one JSON value with optional whitespace
 * around it, else -1 with the byte offset of the error in *err_off and a
 * short reason in why[] ("unterminated string", "lone surrogate \ud800",
 * "trailing characters after value" ...). Strict: no comments, trailing
 * commas, NaN/Infinity, leading '+' or zeros, single quotes or byte order
 * mark; strings must be valid UTF-8 (no overlongs, no encoded surrogates,
 * nothing above U+10FFFF) and \u surrogates must pair. \u0000 is valid JSON
 * and accepted here. err_off and why may be NULL (whylen 0). */
int sl_json_validate(const char *s, size_t n, size_t *err_off, char *why, size_t whylen);

/* Check the one value that starts exactly at s[0] (no leading whitespace)
 * and say where it ends: 0 with *tok filled, or -1 as sl_json_validate.
 * Bytes after the value are not looked at. */
int sl_json_scan(const char *s, size_t n, struct sl_json_token *tok,
                 size_t *err_off, char *why, size_t whylen);

/* Decode the body of a string (the bytes between its quotes, already checked
 * by sl_json_scan or sl_json_validate) and append it to `out` as UTF-8.
 * Appends at most n bytes, so a caller that reserved room for every body it
 * decodes keeps its pointers into out->data stable. Returns 0, or -1 with
 * the offset in the body of the offending escape and a reason:
 *   "string contains \u0000, which the warehouse cannot store"
 *   "invalid escape \q", "lone surrogate \udc00" (body not checked first)
 *   "out of memory" (and out->oom set).
 * Raw bytes are copied as they are: UTF-8 is checked by the scan, not here. */
int sl_json_unescape(const char *s, size_t n, struct sl_buf *out,
                     size_t *err_off, char *why, size_t whylen);

#endif
