/* base/value.h: column types, value canonicalization and type inference.
 *
 * Every value read from a drop is text plus a lexical hint from its reader.
 * Before a row reaches a destination each value is checked against its
 * column's type and turned into one canonical text form that both
 * destinations take (PostgreSQL through COPY, SQLite through binding):
 *   bool         true | false
 *   bigint       -?[0-9]+ within int64, no leading zeros or '+'
 *   double       a finite decimal number, or NaN / Infinity / -Infinity
 *   numeric      -?digits[.digits], exact, as written (no exponent)
 *   date         YYYY-MM-DD
 *   timestamptz  YYYY-MM-DDTHH:MM:SS.ffffffZ, always UTC (docs/invariants.md #7)
 *   json         the JSON text, validated
 *   text         valid UTF-8 without NUL
 * Inference narrows a set of candidate types per column over every value of
 * the first drop; the first candidate left in priority order wins. */
#ifndef SL_VALUE_H
#define SL_VALUE_H

#include <stddef.h>
#include <stdint.h>

#include "base/mem.h"

enum sl_type {
    SL_T_NONE = 0,
    SL_T_BOOL,
    SL_T_BIGINT,
    SL_T_NUMERIC,
    SL_T_DOUBLE,
    SL_T_DATE,
    SL_T_TIMESTAMPTZ,
    SL_T_JSON,
    SL_T_TEXT,
    SL_T__COUNT
};

/* How a reader saw a value: raw text (CSV/TSV: could be anything), or a JSON
 * token kind. Inference uses it: a JSON string "42" stays text. */
enum sl_lex {
    SL_LEX_RAW = 0,
    SL_LEX_STRING,
    SL_LEX_NUMBER,
    SL_LEX_BOOL,
    SL_LEX_JSON,        /* an object or array, as JSON text */
};

const char *sl_type_name(enum sl_type t);
/* Accepts the canonical names and common aliases (int, integer, int8, float8,
 * "double precision", decimal, string, varchar, boolean, timestamp, jsonb...).
 * Returns 0, or -1 when unknown. */
int sl_type_from_name(const char *s, enum sl_type *out);

/* What to do with a naive local time that the zone's clocks show twice
 * (autumn overlap). A time in the spring gap always fails. */
enum sl_dst_policy { SL_DST_FAIL = 0, SL_DST_EARLIER, SL_DST_LATER };

enum sl_epoch_unit { SL_EPOCH_NONE = 0, SL_EPOCH_S, SL_EPOCH_MS, SL_EPOCH_US, SL_EPOCH_NS, SL_EPOCH_AUTO };

struct sl_valctx {
    const char *timezone;          /* zone for naive timestamps; NULL or "UTC" = UTC */
    enum sl_dst_policy overlap;
    enum sl_epoch_unit epoch_unit; /* numbers in a timestamptz column; NONE = reject */
};

/* Canonicalize one value for type t. Returns 0 with the canonical text in
 * `out` (appended; caller resets), 1 when the value is NULL for this type
 * (an empty raw value for any non-text type), or -1 when the value is not of
 * the type, with a short reason in why[] ("not an integer", "no such local
 * time in America/New_York (DST gap)"). */
int sl_value_canon(enum sl_type t, const char *s, size_t n, enum sl_lex lex,
                   const struct sl_valctx *ctx, struct sl_buf *out,
                   char *why, size_t whylen);

/* UTF-8 validation: returns 1 when valid and free of NUL bytes. */
int sl_utf8_valid(const char *s, size_t n);
/* The non-ASCII character at p (n bytes available): its length (2-4) and
 * *cp, or 0 when p does not start a valid one (overlong, surrogate, above
 * U+10FFFF, cut short). */
size_t sl_utf8_decode(const unsigned char *p, size_t n, unsigned *cp);

/* ---- inference ---- */

struct sl_infer {
    unsigned cand;      /* bit per enum sl_type still possible */
    uint64_t nonnull;   /* values seen that were not NULL */
};

void sl_infer_init(struct sl_infer *inf);
void sl_infer_add(struct sl_infer *inf, const char *s, size_t n, enum sl_lex lex, int is_null);
/* The inferred type; text when nothing narrowed it (all NULL included). */
enum sl_type sl_infer_result(const struct sl_infer *inf);

/* ---- time ---- */

/* Microseconds since 1970-01-01T00:00:00Z. */
typedef int64_t sl_usec;

/* Parse an ISO-8601-like timestamp: "YYYY-MM-DD[ T]HH:MM[:SS[.frac]]" with an
 * optional zone ("Z", "+HH", "+HH:MM", "+HHMM", " UTC"), or a bare date.
 * Naive values are read in ctx->timezone with the tz database's rules.
 * Returns 0, or -1 with a reason. */
int sl_time_parse(const char *s, size_t n, const struct sl_valctx *ctx,
                  sl_usec *out, char *why, size_t whylen);
/* Format as YYYY-MM-DDTHH:MM:SS.ffffffZ (27 chars + NUL). */
void sl_time_format(sl_usec t, char out[32]);
sl_usec sl_time_now(void);

/* Local wall time in zone -> UTC. Returns 0 ok, -1 with reason (unknown zone,
 * DST gap, overlap under SL_DST_FAIL). */
int sl_tz_local_to_utc(const char *zone, int year, int mon, int day, int hour,
                       int min, int sec, enum sl_dst_policy overlap,
                       int64_t *utc_seconds, char *why, size_t whylen);
/* 1 when the zone exists in the tz database. */
int sl_tz_valid(const char *zone);

/* ---- dates as logs write them ----
 *
 * A broken-down time read from a log line: the fields the text gave, the
 * rest to be filled in (sl_civil_to_utc). */
struct sl_civil {
    int year, mon, day, hour, min, sec, usec;
    int has_year;           /* 0: the text gave no year (syslog's "Jun 14 ...") */
    int has_date;           /* 0: not even a day (log4j's ABSOLUTE, "HH:mm:ss,SSS") */
    int has_zone;           /* the text gave its offset: `offset`, seconds east of UTC */
    int32_t offset;
    int64_t epoch_us;       /* UNIX / UNIX_MILLIS patterns: the instant itself */
    int is_epoch;
};

/* A Java date pattern (SimpleDateFormat / DateTimeFormatter letters, as
 * log4j's %d{...} and logback write them: yyyy yy MM MMM MMMM dd d HH H hh h
 * kk mm ss SSS.. a EEE Z X XX XXX z, 'quoted text', other characters as
 * themselves, a run of spaces as one or more spaces) or one of log4j's names
 * (ISO8601, ISO8601_BASIC, ISO8601_OFFSET_DATE_TIME_HHMM / _HHCMM, DEFAULT,
 * ABSOLUTE, DATE, COMPACT, UNIX, UNIX_MILLIS), compiled once. */
#define SL_DATEPAT_MAX 64
struct sl_datepat {
    struct sl_datepat_tok {
        char kind;          /* the letter; '\'' literal `ch`; ' ' spaces; 'T' / 'F' the
                             * lenient separators of ISO8601 ([T ] and [.,]) */
        unsigned char n;    /* how many times the letter is repeated */
        char ch;
        unsigned char fixed; /* abuts the next numeric field: exactly n digits */
    } tok[SL_DATEPAT_MAX];
    size_t ntok;
};
/* 0, or -1 with why[] naming the letter or quote at fault. */
int sl_datepat_compile(const char *pattern, struct sl_datepat *out, char *why, size_t whylen);
/* Match the pattern at the start of s[0..n): the bytes it took (> 0) with
 * *out filled, or -1 when s does not start with such a date. */
long sl_datepat_match(const struct sl_datepat *p, const char *s, size_t n, struct sl_civil *out);
/* A regular expression (PCRE2 syntax, no capture groups) matching what the
 * pattern matches, for a layout that is matched as a whole. */
int sl_datepat_regex(const struct sl_datepat *p, struct sl_buf *out);

/* The month named by the three letters at s (any case): 1..12, or 0. */
int sl_month_abbr(const char *s);

/* The instant a log's time names. A time without an offset is read in
 * `zone` (NULL = UTC); a year it lacks is the year of `ref` (the file's
 * modification time, seconds since the epoch) in that zone, one year back
 * when that would put it more than a day after `ref` (a December line in a
 * file written to in January); a time without a date is on ref's date, one
 * day back when that would put it after ref. `prev` is the record before it
 * in the same file (has_prev): a time the zone's clocks show twice (DST
 * overlap) is the earlier reading unless that falls more than a minute
 * before `prev` (the clocks went back between the two). With no record
 * before it, such a time is an error, as is one in a DST gap. 0, or -1 with
 * why[]. */
int sl_civil_to_utc(const struct sl_civil *c, const char *zone, int64_t ref, sl_usec prev,
                    int has_prev, sl_usec *out, char *why, size_t whylen);

/* Parse a duration like "10m", "1h", "2s", "1d", "500ms", "1h30m". Returns
 * seconds in *out, 0 ok, -1 when malformed. */
int sl_duration_parse(const char *s, double *out);

/* Sizes in bytes, in PostgreSQL's units (each 1024 times the one before):
 * "1GB", "512MB", "64kB", "1.5GB", "1 TB", a bare number of bytes ("4096",
 * "4096B"); KB and KiB, MiB ... are read as kB, MB ... Returns 0 with the
 * bytes (rounded to a whole byte) in *out, -1 when malformed, negative or
 * past int64. */
int sl_size_parse(const char *s, int64_t *out);
/* A size as a config writes it, so it parses back: the largest unit that
 * divides it exactly ("1GB", "1536MB", "0", "1000B"). */
void sl_size_text(int64_t bytes, char *out, size_t cap);
/* A size for people, in the largest unit it holds one of: "512 bytes",
 * "12 kB", "1.5 GB" (one decimal below 10). Negative: "-". */
void sl_size_pretty(int64_t bytes, char *out, size_t cap);

/* The value of hex digit c (either case), or -1. */
static inline int sl_hex_digit(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

#endif
