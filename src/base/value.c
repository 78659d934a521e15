/* base/value.c: column types, canonical value text and type inference (see
 * value.h for the canonical forms).
 *
 * Called by the batch builder for every value of every row (sl_value_canon)
 * and for every value of a new table's first drop (sl_infer_add), so both
 * stay allocation-free and single-pass on the common paths. Timestamps are
 * parsed by timeutil.c; JSON text is checked by json.c. */
#include "base/value.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/json.h"

/* 0001-01-01T00:00:00Z and 10000-01-01T00:00:00Z, as in timeutil.c */
#define MIN_USEC (INT64_C(-62135596800) * 1000000)
#define END_USEC (INT64_C(253402300800) * 1000000)

#define BIT(t) (1u << (t))
#define NUM_BITS (BIT(SL_T_BIGINT) | BIT(SL_T_NUMERIC) | BIT(SL_T_DOUBLE))
#define TIME_BITS (BIT(SL_T_DATE) | BIT(SL_T_TIMESTAMPTZ))
#define ALL_BITS (BIT(SL_T_BOOL) | NUM_BITS | TIME_BITS | BIT(SL_T_JSON) | BIT(SL_T_TEXT))

/* numeric exponents beyond this would expand to absurdly long text */
#define NUMERIC_MAX_EXP 1000

static const struct sl_valctx default_ctx = {NULL, SL_DST_FAIL, SL_EPOCH_NONE};

static int set_why(char *why, size_t whylen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int set_why(char *why, size_t whylen, const char *fmt, ...)
{
    if (why && whylen > 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(why, whylen, fmt, ap);
        va_end(ap);
    }
    return -1;
}

static int lower(int c)
{
    return c >= 'A' && c <= 'Z' ? c + 32 : c;
}

/* s[0..n) equals the NUL-terminated lower-case word w, ignoring ASCII case */
static int word_eq(const char *s, size_t n, const char *w)
{
    size_t i;
    for (i = 0; i < n; i++)
        if (w[i] == '\0' || lower((unsigned char)s[i]) != w[i])
            return 0;
    return w[i] == '\0';
}

static int is_digit(char c)
{
    return (unsigned)((unsigned char)c - '0') <= 9;
}

/* ---- type names ---- */

static const char *const type_names[SL_T__COUNT] = {
    "none", "bool", "bigint", "numeric", "double", "date", "timestamptz", "json", "text",
};

static const struct {
    const char *name;
    enum sl_type type;
} type_aliases[] = {
    {"bool", SL_T_BOOL}, {"boolean", SL_T_BOOL},
    {"bigint", SL_T_BIGINT}, {"int", SL_T_BIGINT}, {"integer", SL_T_BIGINT},
    {"int2", SL_T_BIGINT}, {"int4", SL_T_BIGINT}, {"int8", SL_T_BIGINT},
    {"smallint", SL_T_BIGINT}, {"long", SL_T_BIGINT},
    {"numeric", SL_T_NUMERIC}, {"decimal", SL_T_NUMERIC},
    {"double", SL_T_DOUBLE}, {"float", SL_T_DOUBLE}, {"float4", SL_T_DOUBLE},
    {"float8", SL_T_DOUBLE}, {"real", SL_T_DOUBLE}, {"double precision", SL_T_DOUBLE},
    {"date", SL_T_DATE},
    {"timestamptz", SL_T_TIMESTAMPTZ}, {"timestamp", SL_T_TIMESTAMPTZ},
    {"datetime", SL_T_TIMESTAMPTZ}, {"timestamp with time zone", SL_T_TIMESTAMPTZ},
    {"json", SL_T_JSON}, {"jsonb", SL_T_JSON},
    {"text", SL_T_TEXT}, {"string", SL_T_TEXT}, {"varchar", SL_T_TEXT},
    {"character varying", SL_T_TEXT}, {"char", SL_T_TEXT},
};

const char *sl_type_name(enum sl_type t)
{
    return (unsigned)t < SL_T__COUNT ? type_names[t] : "unknown";
}

int sl_type_from_name(const char *s, enum sl_type *out)
{
    if (!s)
        return -1;
    size_t n = strlen(s);
    for (size_t i = 0; i < sizeof type_aliases / sizeof type_aliases[0]; i++) {
        if (word_eq(s, n, type_aliases[i].name)) {
            *out = type_aliases[i].type;
            return 0;
        }
    }
    return -1;
}

/* ---- UTF-8 ---- */

size_t sl_utf8_decode(const unsigned char *p, size_t n, unsigned *cp)
{
    /* lead byte: 0xC2-0xDF 2 bytes, 0xE0-0xEF 3, 0xF0-0xF4 4; the ranges of
     * the second byte rule out overlongs, surrogates and code points above
     * U+10FFFF */
    unsigned c = p[0], lo = 0x80, hi = 0xBF;
    size_t len;
    if (c >= 0xC2 && c <= 0xDF) {
        len = 2;
        *cp = c & 0x1F;
    } else if (c >= 0xE0 && c <= 0xEF) {
        len = 3;
        *cp = c & 0x0F;
        if (c == 0xE0)
            lo = 0xA0;
        else if (c == 0xED)
            hi = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        len = 4;
        *cp = c & 0x07;
        if (c == 0xF0)
            lo = 0x90;
        else if (c == 0xF4)
            hi = 0x8F;
    } else {
        return 0;
    }
    if (n < len || p[1] < lo || p[1] > hi)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((p[i] & 0xC0) != 0x80)
            return 0;
        *cp = (*cp << 6) | (p[i] & 0x3F);
    }
    return len;
}

int sl_utf8_valid(const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s, *end = p + n;

    while (p < end) {
        /* ASCII without NUL, 8 bytes at a time */
        while (end - p >= 8) {
            uint64_t w;
            memcpy(&w, p, 8);
            if ((w & UINT64_C(0x8080808080808080)) ||
                ((w - UINT64_C(0x0101010101010101)) & ~w & UINT64_C(0x8080808080808080)))
                break;
            p += 8;
        }
        if (p == end)
            break;
        unsigned c = *p;
        if (c < 0x80) {
            if (c == 0)
                return 0;
            p++;
            continue;
        }
        unsigned cp;
        size_t len = sl_utf8_decode(p, (size_t)(end - p), &cp);
        if (!len)
            return 0;
        p += len;
    }
    return 1;
}

/* ---- numbers ---- */

/* [+-]? (digits [. digits*] | . digits) ([eE] [+-]? digits)? */
struct num {
    int neg, plus;
    size_t i0, ni;      /* integer digits */
    int dot;
    size_t f0, nf;      /* fraction digits */
    int has_exp;
    size_t e0;          /* the exponent as written, from its 'e' */
    int64_t exp;        /* saturated at +-(NUMERIC_MAX_EXP + 1) */
    int nonzero;        /* a nonzero mantissa digit */
};

static int scan_num(const char *s, size_t n, struct num *r)
{
    size_t i = 0;
    memset(r, 0, sizeof *r);
    if (i < n && (s[i] == '-' || s[i] == '+')) {
        r->neg = s[i] == '-';
        r->plus = s[i] == '+';
        i++;
    }
    r->i0 = i;
    while (i < n && is_digit(s[i]))
        r->nonzero |= s[i++] != '0';
    r->ni = i - r->i0;
    if (i < n && s[i] == '.') {
        r->dot = 1;
        r->f0 = ++i;
        while (i < n && is_digit(s[i]))
            r->nonzero |= s[i++] != '0';
        r->nf = i - r->f0;
    }
    if (r->ni + r->nf == 0)
        return -1;
    if (i < n && (s[i] == 'e' || s[i] == 'E')) {
        int eneg = 0;
        r->has_exp = 1;
        r->e0 = i++;
        if (i < n && (s[i] == '-' || s[i] == '+'))
            eneg = s[i++] == '-';
        size_t d0 = i;
        while (i < n && is_digit(s[i])) {
            if (r->exp <= NUMERIC_MAX_EXP)
                r->exp = r->exp * 10 + (s[i] - '0');
            i++;
        }
        if (i == d0)
            return -1;
        if (eneg)
            r->exp = -r->exp;
    }
    return i == n ? 0 : -1;
}

/* integer digits s[0..n) without leading zeros: fits in int64 with the sign? */
static int fits_int64(const char *s, size_t n, int neg)
{
    if (n < 19)
        return 1;
    if (n > 19)
        return 0;
    return memcmp(s, neg ? "9223372036854775808" : "9223372036854775807", 19) <= 0;
}

static int canon_bigint(const char *s, size_t n, struct sl_buf *out, char *why, size_t whylen)
{
    struct num r;
    if (scan_num(s, n, &r) < 0 || r.ni == 0 || r.dot || r.has_exp)
        return set_why(why, whylen, "not an integer");
    const char *d = s + r.i0;
    size_t nd = r.ni;
    while (nd > 1 && *d == '0') {
        d++;
        nd--;
    }
    if (!fits_int64(d, nd, r.neg))
        return set_why(why, whylen, "integer out of range for bigint");
    if (r.neg && r.nonzero)
        sl_buf_putc(out, '-');
    sl_buf_append(out, d, nd);
    return 0;
}

static void put_zeros(struct sl_buf *out, size_t k)
{
    static const char zeros[64] = "000000000000000000000000000000000000000000000000000000000000000";
    while (k > 0) {
        size_t c = k < 63 ? k : 63;
        sl_buf_append(out, zeros, c);
        k -= c;
    }
}

static int canon_numeric(const char *s, size_t n, struct sl_buf *out, char *why, size_t whylen)
{
    struct num r;
    if (scan_num(s, n, &r) < 0)
        return set_why(why, whylen, "not a number");
    if (r.exp > NUMERIC_MAX_EXP || r.exp < -NUMERIC_MAX_EXP)
        return set_why(why, whylen, "numeric exponent out of range");

    /* value = digits(I F) * 10^(exp - nf); keep the scale it was written with */
    const char *ip = s + r.i0, *fp = s + r.f0;
    size_t ni = r.ni, nf = r.nf;
    while (ni > 0 && *ip == '0') {      /* leading zeros carry nothing */
        ip++;
        ni--;
    }
    if (r.neg && r.nonzero)
        sl_buf_putc(out, '-');
    if (r.exp >= 0) {
        size_t e = (size_t)r.exp;
        size_t move = e < nf ? e : nf;  /* fraction digits that become integer digits */
        if (ni == 0) {
            /* skip zeros of the fraction that land in front of the integer part */
            size_t z = 0;
            while (z < move && fp[z] == '0')
                z++;
            if (z == move) {
                sl_buf_putc(out, '0');  /* every integer digit is a zero */
            } else {
                sl_buf_append(out, fp + z, move - z);
                if (e > nf)
                    put_zeros(out, e - nf);
            }
        } else {
            sl_buf_append(out, ip, ni);
            sl_buf_append(out, fp, move);
            if (e > nf)
                put_zeros(out, e - nf);
        }
        if (nf > move) {
            sl_buf_putc(out, '.');
            sl_buf_append(out, fp + move, nf - move);
        }
    } else {
        size_t e = (size_t)-r.exp;
        if (e < ni) {
            sl_buf_append(out, ip, ni - e);
            sl_buf_putc(out, '.');
            sl_buf_append(out, ip + ni - e, e);
        } else {
            sl_buf_append(out, "0.", 2);
            put_zeros(out, e - ni);
            sl_buf_append(out, ip, ni);
        }
        sl_buf_append(out, fp, nf);
    }
    return 0;
}

static int is_special_double(const char *s, size_t n, const char **canon)
{
    size_t i = 0;
    int neg = 0;
    if (n > 0 && (s[0] == '-' || s[0] == '+')) {
        neg = s[0] == '-';
        i = 1;
    }
    if (i == 0 && word_eq(s, n, "nan")) {
        *canon = "NaN";
        return 1;
    }
    if (word_eq(s + i, n - i, "infinity") || word_eq(s + i, n - i, "inf")) {
        *canon = neg ? "-Infinity" : "Infinity";
        return 1;
    }
    return 0;
}

static int canon_double(const char *s, size_t n, struct sl_buf *out, char *why, size_t whylen)
{
    struct num r;
    const char *special;
    if (is_special_double(s, n, &special)) {
        sl_buf_puts(out, special);
        return 0;
    }
    if (scan_num(s, n, &r) < 0)
        return set_why(why, whylen, "not a number");

    /* as written, minus what is only spelling: '+', leading zeros, ".5", "5.", "E+05" */
    size_t start = out->len;
    const char *ip = s + r.i0;
    size_t ni = r.ni;
    while (ni > 1 && *ip == '0') {
        ip++;
        ni--;
    }
    if (r.neg)
        sl_buf_putc(out, '-');
    if (ni == 0)
        sl_buf_putc(out, '0');
    else
        sl_buf_append(out, ip, ni);
    if (r.nf > 0) {
        sl_buf_putc(out, '.');
        sl_buf_append(out, s + r.f0, r.nf);
    }
    if (r.has_exp) {
        size_t i = r.e0 + 1;
        sl_buf_putc(out, 'e');
        if (s[i] == '-')
            sl_buf_putc(out, '-');
        if (s[i] == '-' || s[i] == '+')
            i++;
        while (i < n - 1 && s[i] == '0')
            i++;
        sl_buf_append(out, s + i, n - i);
    }
    if (out->oom)
        return -1;
    /* finite, and not a nonzero value that underflows to 0 (PostgreSQL's
     * float8in rejects both); out->data is NUL-terminated */
    double v = strtod(out->data + start, NULL);
    if (isinf(v) || (v == 0 && r.nonzero))
        return set_why(why, whylen, "double out of range");
    return 0;
}

/* ---- bool, date ---- */

static int canon_bool(const char *s, size_t n, struct sl_buf *out, char *why, size_t whylen)
{
    static const char *const yes[] = {"true", "t", "yes", "y", "on", "1"};
    static const char *const no[] = {"false", "f", "no", "n", "off", "0"};
    if (n > 0 && n <= 5) {
        for (size_t i = 0; i < sizeof yes / sizeof yes[0]; i++) {
            if (word_eq(s, n, yes[i])) {
                sl_buf_append(out, "true", 4);
                return 0;
            }
            if (word_eq(s, n, no[i])) {
                sl_buf_append(out, "false", 5);
                return 0;
            }
        }
    }
    return set_why(why, whylen, "not a boolean");
}

/* 1 valid YYYY-MM-DD, 0 not that shape, -1 no such day */
static int check_date(const char *s, size_t n)
{
    if (n != 10 || s[4] != '-' || s[7] != '-')
        return 0;
    for (size_t i = 0; i < 10; i++)
        if (i != 4 && i != 7 && !is_digit(s[i]))
            return 0;
    int y = (s[0] - '0') * 1000 + (s[1] - '0') * 100 + (s[2] - '0') * 10 + (s[3] - '0');
    int m = (s[5] - '0') * 10 + (s[6] - '0');
    int d = (s[8] - '0') * 10 + (s[9] - '0');
    static const unsigned char dm[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (y < 1 || m < 1 || m > 12 || d < 1)
        return -1;
    int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return d <= dm[m - 1] + (m == 2 && leap) ? 1 : -1;
}

static int canon_date(const char *s, size_t n, struct sl_buf *out, char *why, size_t whylen)
{
    int rc = check_date(s, n);
    if (rc == 0)
        return set_why(why, whylen, "not a date");
    if (rc < 0)
        return set_why(why, whylen, "invalid date");
    sl_buf_append(out, s, n);
    return 0;
}

/* ---- timestamps ---- */

/* -?digits[.digits]: an epoch number rather than a calendar timestamp */
static int looks_epoch(const char *s, size_t n)
{
    size_t i = n > 0 && s[0] == '-';
    size_t d0 = i;
    while (i < n && is_digit(s[i]))
        i++;
    if (i == d0)
        return 0;
    if (i < n && s[i] == '.') {
        size_t f0 = ++i;
        while (i < n && is_digit(s[i]))
            i++;
        if (i == f0)
            return 0;
    }
    return i == n;
}

/* An epoch number (shape checked by looks_epoch) in `unit` -> microseconds.
 * Precision below a microsecond is dropped towards the past, so truncation
 * never reorders two instants. */
static int epoch_to_usec(const char *s, size_t n, enum sl_epoch_unit unit, sl_usec *out,
                         char *why, size_t whylen)
{
    size_t i = 0;
    int neg = s[0] == '-';
    uint64_t ip = 0;
    int nd = 0, rem = 0;

    i = (size_t)neg;
    while (i < n && s[i] == '0')
        i++;
    for (; i < n && is_digit(s[i]); i++) {
        if (++nd > 19)
            return set_why(why, whylen, "timestamp out of range");
        ip = ip * 10 + (uint64_t)(s[i] - '0');
    }
    const char *f = i < n ? s + i + 1 : s + n;      /* fraction digits, if any */
    size_t nf = (size_t)(s + n - f);

    if (unit == SL_EPOCH_AUTO)
        unit = ip < UINT64_C(100000000000) ? SL_EPOCH_S
             : ip < UINT64_C(100000000000000) ? SL_EPOCH_MS
             : ip < UINT64_C(100000000000000000) ? SL_EPOCH_US : SL_EPOCH_NS;

    uint64_t us;
    size_t keep;        /* fraction digits that still count */
    uint64_t mult;
    switch (unit) {
    case SL_EPOCH_S: mult = 1000000; keep = 6; break;
    case SL_EPOCH_MS: mult = 1000; keep = 3; break;
    case SL_EPOCH_US: mult = 1; keep = 0; break;
    default: mult = 0; keep = 0; break;  /* ns */
    }
    if (mult == 0) {
        us = ip / 1000;
        rem = ip % 1000 != 0;
    } else {
        if (ip > (uint64_t)INT64_MAX / mult)
            return set_why(why, whylen, "timestamp out of range");
        us = ip * mult;
        uint64_t scale = mult;
        for (size_t k = 0; k < keep; k++) {
            scale /= 10;
            if (k < nf)
                us += (uint64_t)(f[k] - '0') * scale;
        }
    }
    for (size_t k = keep; k < nf; k++)
        rem |= f[k] != '0';
    if (us >= (uint64_t)INT64_MAX)
        return set_why(why, whylen, "timestamp out of range");
    sl_usec t = neg ? -(sl_usec)us - rem : (sl_usec)us;
    if (t < MIN_USEC || t >= END_USEC)
        return set_why(why, whylen, "timestamp out of range");
    *out = t;
    return 0;
}

static int canon_timestamptz(const char *s, size_t n, const struct sl_valctx *ctx,
                             struct sl_buf *out, char *why, size_t whylen)
{
    sl_usec t;
    int rc;
    if (ctx->epoch_unit != SL_EPOCH_NONE && looks_epoch(s, n))
        rc = epoch_to_usec(s, n, ctx->epoch_unit, &t, why, whylen);
    else
        rc = sl_time_parse(s, n, ctx, &t, why, whylen);
    if (rc < 0)
        return -1;
    char buf[32];
    sl_time_format(t, buf);
    sl_buf_append(out, buf, 27);
    return 0;
}

/* ---- json, text ---- */

/* \u0000 is valid JSON but PostgreSQL's jsonb cannot store it: refuse it at
 * the gate, not at load time. In valid JSON every backslash starts an escape. */
static int json_has_nul_escape(const char *s, size_t n)
{
    const char *p = s, *end = s + n;
    while ((p = memchr(p, '\\', (size_t)(end - p))) != NULL) {
        if (end - p >= 6 && p[1] == 'u' && memcmp(p + 2, "0000", 4) == 0)
            return 1;
        p += 2;
        if (p >= end)
            break;
    }
    return 0;
}

/* a plain string as a JSON string literal */
static int json_quote(const char *s, size_t n, struct sl_buf *out, char *why, size_t whylen)
{
    static const char hex[] = "0123456789abcdef";
    if (!sl_utf8_valid(s, n))
        return set_why(why, whylen, memchr(s, 0, n) ? "contains a NUL byte" : "invalid UTF-8");
    sl_buf_reserve(out, n + 2);
    sl_buf_putc(out, '"');
    size_t run = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c != '"' && c != '\\')
            continue;
        sl_buf_append(out, s + run, i - run);
        run = i + 1;
        char esc[7] = {'\\', 0};
        size_t el = 2;
        switch (c) {
        case '"': esc[1] = '"'; break;
        case '\\': esc[1] = '\\'; break;
        case '\n': esc[1] = 'n'; break;
        case '\r': esc[1] = 'r'; break;
        case '\t': esc[1] = 't'; break;
        case '\b': esc[1] = 'b'; break;
        case '\f': esc[1] = 'f'; break;
        default:
            memcpy(esc + 1, "u00", 3);
            esc[4] = hex[c >> 4];
            esc[5] = hex[c & 15];
            el = 6;
        }
        sl_buf_append(out, esc, el);
    }
    sl_buf_append(out, s + run, n - run);
    sl_buf_putc(out, '"');
    return 0;
}

static int canon_json(const char *s, size_t n, enum sl_lex lex, struct sl_buf *out,
                      char *why, size_t whylen)
{
    if (lex == SL_LEX_STRING)
        return json_quote(s, n, out, why, whylen);
    if (lex == SL_LEX_NUMBER || lex == SL_LEX_BOOL) {
        sl_buf_append(out, s, n);       /* a JSON token already */
        return 0;
    }
    if (sl_json_validate(s, n, NULL, NULL, 0) < 0) {
        char reason[96];
        reason[0] = '\0';
        sl_json_validate(s, n, NULL, reason, sizeof reason);
        return set_why(why, whylen, "invalid json: %s", reason);
    }
    if (json_has_nul_escape(s, n))
        return set_why(why, whylen, "json contains \\u0000, which the warehouse cannot store");
    sl_buf_append(out, s, n);
    return 0;
}

static int canon_text(const char *s, size_t n, struct sl_buf *out, char *why, size_t whylen)
{
    if (!sl_utf8_valid(s, n))
        return set_why(why, whylen, memchr(s, 0, n) ? "contains a NUL byte" : "invalid UTF-8");
    sl_buf_append(out, s, n);
    return 0;
}

int sl_value_canon(enum sl_type t, const char *s, size_t n, enum sl_lex lex,
                   const struct sl_valctx *ctx, struct sl_buf *out,
                   char *why, size_t whylen)
{
    if (n == 0 && lex == SL_LEX_RAW && t != SL_T_TEXT && t > SL_T_NONE && t < SL_T__COUNT)
        return 1;
    if (!ctx)
        ctx = &default_ctx;

    size_t start = out->len;
    int rc;
    if (lex == SL_LEX_JSON && t != SL_T_JSON && t != SL_T_TEXT) {
        rc = set_why(why, whylen, "a json %s is not a %s", n > 0 && s[0] == '[' ? "array" : "object",
                     sl_type_name(t));
    } else {
        switch (t) {
        case SL_T_BOOL: rc = canon_bool(s, n, out, why, whylen); break;
        case SL_T_BIGINT: rc = canon_bigint(s, n, out, why, whylen); break;
        case SL_T_NUMERIC: rc = canon_numeric(s, n, out, why, whylen); break;
        case SL_T_DOUBLE: rc = canon_double(s, n, out, why, whylen); break;
        case SL_T_DATE: rc = canon_date(s, n, out, why, whylen); break;
        case SL_T_TIMESTAMPTZ: rc = canon_timestamptz(s, n, ctx, out, why, whylen); break;
        case SL_T_JSON: rc = canon_json(s, n, lex, out, why, whylen); break;
        case SL_T_TEXT: rc = canon_text(s, n, out, why, whylen); break;
        default: rc = set_why(why, whylen, "unknown type"); break;
        }
    }
    if (rc == 0 && out->oom)
        rc = set_why(why, whylen, "out of memory");
    if (rc < 0 && out->data && !out->oom) {
        out->len = start;               /* take back a partial value */
        out->data[start] = '\0';
    }
    return rc;
}

/* ---- inference ---- */

void sl_infer_init(struct sl_infer *inf)
{
    inf->cand = ALL_BITS;
    inf->nonnull = 0;
}

/* Numeric types a number in canonical spelling fits: no '+', no leading
 * zeros (zip codes, account numbers stay text), no ".5" or "5.", and only
 * double takes an exponent. NaN/Infinity/-Infinity fit double. */
static unsigned num_fit(const char *s, size_t n)
{
    struct num r;
    if (scan_num(s, n, &r) < 0) {
        if ((n == 3 && word_eq(s, n, "nan")) || (n == 8 && word_eq(s, n, "infinity")) ||
            (n == 9 && s[0] == '-' && word_eq(s + 1, 8, "infinity")))
            return BIT(SL_T_DOUBLE);
        return 0;
    }
    if (r.plus || r.ni == 0 || (r.ni > 1 && s[r.i0] == '0') || (r.dot && r.nf == 0))
        return 0;
    if (r.has_exp || r.ni > 300) {
        char buf[128];
        if (n >= sizeof buf)
            return 0;
        memcpy(buf, s, n);
        buf[n] = '\0';
        double v = strtod(buf, NULL);
        return isinf(v) || (v == 0 && r.nonzero) ? 0 : BIT(SL_T_DOUBLE);
    }
    unsigned fit = BIT(SL_T_DOUBLE);
    if (r.neg && !r.nonzero)
        return fit;                     /* "-0": canonical numeric/bigint drop the sign */
    fit |= BIT(SL_T_NUMERIC);
    if (!r.dot && fits_int64(s + r.i0, r.ni, r.neg))
        fit |= BIT(SL_T_BIGINT);
    return fit;
}

static unsigned time_fit(const char *s, size_t n)
{
    if (n < 10 || s[4] != '-' || !is_digit(s[0]))
        return 0;
    if (n == 10)
        return check_date(s, n) > 0 ? TIME_BITS : 0;
    sl_usec t;
    return sl_time_parse(s, n, NULL, &t, NULL, 0) == 0 ? BIT(SL_T_TIMESTAMPTZ) : 0;
}

void sl_infer_add(struct sl_infer *inf, const char *s, size_t n, enum sl_lex lex, int is_null)
{
    if (is_null || (n == 0 && lex == SL_LEX_RAW))
        return;                         /* an empty raw value is NULL for every type but text */
    inf->nonnull++;
    unsigned cand = inf->cand;
    if (cand == BIT(SL_T_TEXT))
        return;                         /* nothing left to learn */

    unsigned keep = BIT(SL_T_TEXT);
    switch (lex) {
    case SL_LEX_RAW: {
        char c = s[0];
        if ((cand & BIT(SL_T_BOOL)) && (n == 4 || n == 5) &&
            (word_eq(s, n, "true") || word_eq(s, n, "false")))
            keep |= BIT(SL_T_BOOL);
        if ((cand & NUM_BITS) && (is_digit(c) || c == '-' || c == 'N' || c == 'n' || c == 'I' || c == 'i'))
            keep |= num_fit(s, n);
        if (cand & TIME_BITS)
            keep |= time_fit(s, n);
        break;
    }
    case SL_LEX_STRING:
        if (cand & TIME_BITS)
            keep |= time_fit(s, n);
        break;
    case SL_LEX_NUMBER:
        if (cand & NUM_BITS)
            keep |= num_fit(s, n);
        break;
    case SL_LEX_BOOL:
        keep |= BIT(SL_T_BOOL);
        break;
    case SL_LEX_JSON:
        keep |= BIT(SL_T_JSON);
        break;
    }
    inf->cand = cand & keep;
}

enum sl_type sl_infer_result(const struct sl_infer *inf)
{
    if (inf->nonnull == 0)
        return SL_T_TEXT;
    for (int t = SL_T_BOOL; t < SL_T__COUNT; t++)
        if (inf->cand & BIT(t))
            return (enum sl_type)t;
    return SL_T_TEXT;
}

/* ---- sizes ---- */

static const struct {
    const char *name;
    int shift;
} size_units[] = {
    {"B", 0}, {"kB", 10}, {"KB", 10}, {"KiB", 10}, {"MB", 20}, {"MiB", 20},
    {"GB", 30}, {"GiB", 30}, {"TB", 40}, {"TiB", 40},
};

int sl_size_parse(const char *s, int64_t *out)
{
    const char *p = s;
    double whole = 0, frac = 0, scale = 0.1;
    size_t digits = 0;

    if (!s)
        return -1;
    for (; is_digit(*p); p++, digits++)
        whole = whole * 10 + (*p - '0');
    int has_frac = *p == '.';
    if (has_frac) {
        size_t fd = 0;
        for (p++; is_digit(*p); p++, fd++, scale /= 10)
            frac += (*p - '0') * scale;
        if (!fd)
            return -1;
    }
    if (!digits)
        return -1;
    if (*p == ' ')
        p++;
    int shift = 0;
    if (*p) {
        size_t u;
        for (u = 0; u < sizeof size_units / sizeof size_units[0]; u++)
            if (strcmp(p, size_units[u].name) == 0)
                break;
        if (u == sizeof size_units / sizeof size_units[0])
            return -1;
        shift = size_units[u].shift;
    } else if (p > s && p[-1] == ' ') {
        return -1;  /* "10 " */
    }
    if (has_frac && shift == 0)
        return -1;  /* a fraction of a byte */
    double bytes = floor((whole + frac) * (double)((int64_t)1 << shift) + 0.5);
    if (!(bytes < 9.2e18))
        return -1;
    *out = (int64_t)bytes;
    return 0;
}

void sl_size_text(int64_t bytes, char *out, size_t cap)
{
    static const struct { const char *name; int shift; } units[] = {
        {"TB", 40}, {"GB", 30}, {"MB", 20}, {"kB", 10},
    };
    if (bytes <= 0) {
        snprintf(out, cap, "%lld", (long long)(bytes < 0 ? 0 : bytes));
        return;
    }
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
        int64_t u = (int64_t)1 << units[i].shift;
        if (bytes % u == 0) {
            snprintf(out, cap, "%lld%s", (long long)(bytes / u), units[i].name);
            return;
        }
    }
    snprintf(out, cap, "%lldB", (long long)bytes);
}

void sl_size_pretty(int64_t bytes, char *out, size_t cap)
{
    static const char *const units[] = {"kB", "MB", "GB", "TB", "PB"};
    if (bytes < 0) {
        snprintf(out, cap, "-");
        return;
    }
    if (bytes < 1024) {
        snprintf(out, cap, "%lld bytes", (long long)bytes);
        return;
    }
    double v = (double)bytes / 1024;
    size_t i = 0;
    while (v >= 1024 && i + 1 < sizeof units / sizeof units[0]) {
        v /= 1024;
        i++;
    }
    if (v < 10)
        snprintf(out, cap, "%.1f %s", v, units[i]);
    else
        snprintf(out, cap, "%.0f %s", v, units[i]);
}
