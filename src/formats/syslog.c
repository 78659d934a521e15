/* formats/syslog.c: syslog records, RFC 3164 and RFC 5424, in one reader.
 *
 * Registered as sl_format_syslog (format: syslog); formats/logread.c cuts
 * the records and turns their times into UTC. Each record hands out the
 * same columns, NULL where its kind has no such part:
 *   ts host app pid msgid severity facility message structured_data lineno
 * RFC 3164 ("<13>Jun 14 15:16:01 host prog[pid]: msg", the priority
 * optional as in the files rsyslog writes, the time also RFC 3339 as
 * rsyslog's high-precision files have it, the host optional as local
 * senders leave it out): the time is read in the source's timezone, its
 * year from the file's modification time. RFC 5424 ("<165>1 2003-10-11T22:
 * 14:15.003Z host app procid msgid [sd] msg"): structured data as a JSON
 * object {"id": {"param": "value"}} (a repeated param as an array of its
 * values). Severity and facility are their RFC 5424 keywords. A line that
 * does not begin with a priority or a time continues the record before it
 * (a multi-line message). */
#include "formats/logread.h"

#include <stdio.h>
#include <string.h>

#include "base/mem.h"

enum { C_TS, C_HOST, C_APP, C_PID, C_MSGID, C_SEVERITY, C_FACILITY, C_MESSAGE, C_SD, NCOLS };

static const char *const columns[NCOLS] = {
    "ts", "host", "app", "pid", "msgid", "severity", "facility", "message", "structured_data",
};

static const char *const severities[8] = {
    "emerg", "alert", "crit", "err", "warning", "notice", "info", "debug",
};

static const char *const facilities[24] = {
    "kern", "user", "mail", "daemon", "auth", "syslog", "lpr", "news", "uucp", "cron",
    "authpriv", "ftp", "ntp", "audit", "alert", "clock", "local0", "local1", "local2",
    "local3", "local4", "local5", "local6", "local7",
};

static int is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static int init(const struct sl_format_opts *o, void **ctx, const char *const **cols,
                size_t *ncols, struct sl_err *err)
{
    (void)o;
    (void)err;
    *ctx = NULL;
    *cols = columns;
    *ncols = NCOLS;
    return 0;
}

/* "<PRI>" at s: its length (3..5), or 0. */
static size_t pri_len(const char *s, size_t n, int *pri)
{
    size_t i = 1;
    int v = 0;
    if (n < 3 || s[0] != '<')
        return 0;
    while (i < n && i <= 3 && is_digit(s[i]))
        v = v * 10 + (s[i++] - '0');
    if (i == 1 || i >= n || s[i] != '>' || v > 191)
        return 0;
    *pri = v;
    return i + 1;
}

/* "Mmm dd hh:mm:ss" (day space- or zero-padded) at s: its length, or 0. */
static size_t bsd_time(const char *s, size_t n, struct sl_civil *c)
{
    size_t i = 3;
    memset(c, 0, sizeof *c);
    if (n < 15 || !(c->mon = sl_month_abbr(s)) || s[3] != ' ')
        return 0;
    while (i < n && s[i] == ' ')
        i++;
    if (i >= n || !is_digit(s[i]))
        return 0;
    c->day = s[i++] - '0';
    if (i < n && is_digit(s[i]))
        c->day = c->day * 10 + (s[i++] - '0');
    if (c->day < 1 || c->day > 31 || n - i < 9 || s[i] != ' ' || !is_digit(s[i + 1]) ||
        !is_digit(s[i + 2]) || s[i + 3] != ':' || !is_digit(s[i + 4]) || !is_digit(s[i + 5]) ||
        s[i + 6] != ':' || !is_digit(s[i + 7]) || !is_digit(s[i + 8]))
        return 0;
    c->hour = (s[i + 1] - '0') * 10 + (s[i + 2] - '0');
    c->min = (s[i + 4] - '0') * 10 + (s[i + 5] - '0');
    c->sec = (s[i + 7] - '0') * 10 + (s[i + 8] - '0');
    if (c->hour > 23 || c->min > 59 || c->sec > 59)
        return 0;
    i += 9;
    if (i + 1 < n && s[i] == '.' && is_digit(s[i + 1])) {     /* a fraction some write */
        int scale = 100000;
        for (i++; i < n && is_digit(s[i]); i++, scale /= 10)
            c->usec += (s[i] - '0') * scale;
    }
    c->has_date = 1;
    return i;
}

/* An RFC 3339 time at s ("2024-06-14T15:16:01.123+02:00"): its length, or 0. */
static size_t iso_len(const char *s, size_t n)
{
    size_t i = 0;
    if (n < 19 || !is_digit(s[0]) || s[4] != '-' || s[7] != '-' || (s[10] != 'T' && s[10] != 't'))
        return 0;
    while (i < n && s[i] != ' ')
        i++;
    return i;
}

static int starts(void *ctx, const char *s, size_t n)
{
    struct sl_civil c;
    int pri;
    (void)ctx;
    if (pri_len(s, n, &pri))
        return 1;
    /* a priority out of range still begins a record (refused on its own) */
    if (n >= 3 && s[0] == '<' && is_digit(s[1])) {
        size_t i = 1;
        while (i < n && i < 6 && is_digit(s[i]))
            i++;
        if (i < n && s[i] == '>')
            return 1;
    }
    if (n >= 2 && s[0] == '1' && s[1] == ' ')
        return n >= 3 && (s[2] == '-' || iso_len(s + 2, n - 2));
    return bsd_time(s, n, &c) > 0 || iso_len(s, n) > 0;
}

static int bad(char *why, size_t whylen, size_t *at, size_t off, const char *msg)
{
    snprintf(why, whylen, "%s", msg);
    *at = off;
    return -1;
}

/* A space-delimited field of RFC 5424 at s[*i]: "-" is NULL. */
static int field5424(struct sl_logrec *r, size_t col, const char *s, size_t n, size_t *i,
                     const char *what, char *why, size_t whylen, size_t *at)
{
    size_t j = *i;
    while (j < n && s[j] != ' ')
        j++;
    if (j == *i || j >= n) {
        snprintf(why, whylen, "RFC 5424 record ends before its %s", what);
        *at = j;
        return -1;
    }
    if (!(j - *i == 1 && s[*i] == '-'))
        sl_logrec_set(r, col, s + *i, j - *i, SL_LEX_RAW, 0);
    *i = j + 1;
    return 0;
}

static void json_str(struct sl_buf *b, const char *s, size_t n)
{
    sl_buf_putc(b, '"');
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\')
            sl_buf_printf(b, "\\%c", c);
        else if (c < 0x20)
            sl_buf_printf(b, "\\u%04x", c);
        else
            sl_buf_putc(b, (char)c);
    }
    sl_buf_putc(b, '"');
}

struct sd_param {
    const char *name;
    size_t nlen;
    size_t voff, vlen;      /* the unescaped value, in vals */
};

/* STRUCTURED-DATA at s[*i] ("[id k="v"][id2 ...]") as a JSON object in the
 * record's copied text. */
static int parse_sd(struct sl_logrec *r, const char *s, size_t n, size_t *i, char *why,
                    size_t whylen, size_t *at)
{
    struct sl_buf json, vals;
    struct sd_param ps[64];
    const char *ids[32];
    size_t idl[32], nids = 0;
    int rc = -1;

    sl_buf_init(&json);
    sl_buf_init(&vals);
    sl_buf_putc(&json, '{');
    while (*i < n && s[*i] == '[') {
        size_t j = *i + 1, np = 0;
        size_t id0 = j;
        while (j < n && s[j] != ' ' && s[j] != ']' && s[j] != '=' && s[j] != '"')
            j++;
        if (j == id0 || j >= n) {
            bad(why, whylen, at, j, "structured data: an element without an SD-ID");
            goto done;
        }
        for (size_t k = 0; k < nids; k++)
            if (idl[k] == j - id0 && memcmp(ids[k], s + id0, j - id0) == 0) {
                bad(why, whylen, at, id0, "structured data: an SD-ID given twice");
                goto done;
            }
        if (nids == 32) {
            bad(why, whylen, at, id0, "structured data: more than 32 elements");
            goto done;
        }
        ids[nids] = s + id0;
        idl[nids++] = j - id0;
        sl_buf_reset(&vals);
        while (j < n && s[j] == ' ') {
            size_t k0 = ++j;
            while (j < n && s[j] != '=' && s[j] != ' ' && s[j] != ']' && s[j] != '"')
                j++;
            if (j == k0 || j + 1 >= n || s[j] != '=' || s[j + 1] != '"') {
                bad(why, whylen, at, j, "structured data: expected name=\"value\"");
                goto done;
            }
            if (np == 64) {
                bad(why, whylen, at, k0, "structured data: more than 64 parameters");
                goto done;
            }
            ps[np] = (struct sd_param){s + k0, j - k0, vals.len, 0};
            j += 2;
            for (;;) {
                if (j >= n) {
                    bad(why, whylen, at, j, "structured data: unterminated value");
                    goto done;
                }
                if (s[j] == '\\' && j + 1 < n && (s[j + 1] == '"' || s[j + 1] == '\\' ||
                                                  s[j + 1] == ']')) {
                    sl_buf_putc(&vals, s[j + 1]);
                    j += 2;
                } else if (s[j] == '"') {
                    j++;
                    break;
                } else {
                    sl_buf_putc(&vals, s[j++]);
                }
            }
            ps[np].vlen = vals.len - ps[np].voff;
            np++;
        }
        if (j >= n || s[j] != ']') {
            bad(why, whylen, at, j, "structured data: expected ']'");
            goto done;
        }
        *i = j + 1;
        if (vals.oom)
            goto oom;
        /* the element as an object; a name given again is an array of its values */
        if (json.len > 1)
            sl_buf_putc(&json, ',');
        json_str(&json, ids[nids - 1], idl[nids - 1]);
        sl_buf_puts(&json, ":{");
        int firstp = 1;
        for (size_t p = 0; p < np; p++) {
            int seen = 0, again = 0;
            for (size_t q = 0; q < p && !seen; q++)
                seen = ps[q].nlen == ps[p].nlen && memcmp(ps[q].name, ps[p].name, ps[p].nlen) == 0;
            if (seen)
                continue;
            for (size_t q = p + 1; q < np && !again; q++)
                again = ps[q].nlen == ps[p].nlen && memcmp(ps[q].name, ps[p].name, ps[p].nlen) == 0;
            if (!firstp)
                sl_buf_putc(&json, ',');
            firstp = 0;
            json_str(&json, ps[p].name, ps[p].nlen);
            sl_buf_putc(&json, ':');
            if (!again) {
                json_str(&json, vals.data + ps[p].voff, ps[p].vlen);
                continue;
            }
            sl_buf_putc(&json, '[');
            for (size_t q = p, k = 0; q < np; q++)
                if (ps[q].nlen == ps[p].nlen && memcmp(ps[q].name, ps[p].name, ps[p].nlen) == 0) {
                    if (k++)
                        sl_buf_putc(&json, ',');
                    json_str(&json, vals.data + ps[q].voff, ps[q].vlen);
                }
            sl_buf_putc(&json, ']');
        }
        sl_buf_putc(&json, '}');
    }
    sl_buf_putc(&json, '}');
    if (json.oom)
        goto oom;
    rc = sl_logrec_set(r, C_SD, json.data, json.len, SL_LEX_JSON, 1);
    if (rc < 0)
        goto oom;
    goto done;
oom:
    rc = bad(why, whylen, at, *i, "out of memory");
done:
    sl_buf_free(&json);
    sl_buf_free(&vals);
    return rc;
}

static int parse5424(struct sl_logrec *r, const char *s, size_t n, size_t i, char *why,
                     size_t whylen, size_t *at)
{
    /* TIMESTAMP */
    if (i < n && s[i] == '-') {
        i++;
    } else {
        size_t k = iso_len(s + i, n - i);
        struct sl_valctx vc = {sl_logrec_zone(r), SL_DST_FAIL, SL_EPOCH_NONE};
        sl_usec t;
        char tw[200];
        if (!k)
            return bad(why, whylen, at, i, "RFC 5424 record: expected a timestamp or '-'");
        if (sl_time_parse(s + i, k, &vc, &t, tw, sizeof tw) < 0) {
            snprintf(why, whylen, "RFC 5424 timestamp: %s", tw);
            *at = i;
            return -1;
        }
        sl_logrec_instant(r, C_TS, t);
        i += k;
    }
    if (i >= n || s[i] != ' ')
        return bad(why, whylen, at, i, "RFC 5424 record ends after its timestamp");
    i++;
    if (field5424(r, C_HOST, s, n, &i, "app name", why, whylen, at) < 0 ||
        field5424(r, C_APP, s, n, &i, "process id", why, whylen, at) < 0 ||
        field5424(r, C_PID, s, n, &i, "message id", why, whylen, at) < 0)
        return -1;
    /* MSGID then STRUCTURED-DATA */
    size_t j = i;
    while (j < n && s[j] != ' ')
        j++;
    if (j == i || j >= n)
        return bad(why, whylen, at, j, "RFC 5424 record ends before its structured data");
    if (!(j - i == 1 && s[i] == '-'))
        sl_logrec_set(r, C_MSGID, s + i, j - i, SL_LEX_RAW, 0);
    i = j + 1;
    if (i < n && s[i] == '-') {
        i++;
    } else if (i < n && s[i] == '[') {
        if (parse_sd(r, s, n, &i, why, whylen, at) < 0)
            return -1;
    } else {
        return bad(why, whylen, at, i, "RFC 5424 record: expected structured data or '-'");
    }
    if (i < n) {
        if (s[i] != ' ')
            return bad(why, whylen, at, i, "RFC 5424 record: expected a space before the message");
        i++;
        if (n - i >= 3 && memcmp(s + i, "\xEF\xBB\xBF", 3) == 0)
            i += 3;
        sl_logrec_set(r, C_MESSAGE, s + i, n - i, SL_LEX_STRING, 0);
    }
    return 0;
}

/* "app[pid]:" or "app:" at s: its length with the colon, or 0. */
static size_t tag_len(const char *s, size_t n, size_t *app_end, size_t *pid0, size_t *pid1)
{
    size_t i = 0;
    *pid0 = *pid1 = 0;
    while (i < n && s[i] != ' ' && s[i] != ':' && s[i] != '[')
        i++;
    if (i == 0 || i >= n)
        return 0;
    *app_end = i;
    if (s[i] == '[') {
        size_t p = ++i;
        while (i < n && s[i] != ']' && s[i] != ' ')
            i++;
        if (i >= n || s[i] != ']')
            return 0;
        *pid0 = p;
        *pid1 = i;
        i++;
    }
    if (i >= n || s[i] != ':')
        return 0;
    return i + 1;
}

static int parse3164(struct sl_logrec *r, const char *s, size_t n, size_t i, char *why,
                     size_t whylen, size_t *at)
{
    struct sl_civil c;
    size_t k;

    if ((k = bsd_time(s + i, n - i, &c)) > 0) {
        if (sl_logrec_time(r, C_TS, &c, why, whylen) < 0) {
            *at = i;
            return -1;
        }
    } else if ((k = iso_len(s + i, n - i)) > 0) {
        struct sl_valctx vc = {sl_logrec_zone(r), SL_DST_FAIL, SL_EPOCH_NONE};
        sl_usec t;
        char tw[200];
        if (sl_time_parse(s + i, k, &vc, &t, tw, sizeof tw) < 0) {
            snprintf(why, whylen, "syslog timestamp: %s", tw);
            *at = i;
            return -1;
        }
        sl_logrec_instant(r, C_TS, t);
    } else {
        return bad(why, whylen, at, i, "not a syslog record: expected a time such as"
                   " \"Jun 14 15:16:01\" or an RFC 5424 header");
    }
    i += k;
    if (i >= n)
        return 0;
    if (s[i] != ' ')
        return bad(why, whylen, at, i, "syslog record: expected a space after the time");
    i++;
    /* HOSTNAME, unless the next word is the tag already */
    size_t app_end, p0, p1, t = tag_len(s + i, n - i, &app_end, &p0, &p1);
    if (!t) {
        size_t j = i;
        while (j < n && s[j] != ' ')
            j++;
        if (j > i)
            sl_logrec_set(r, C_HOST, s + i, j - i, SL_LEX_RAW, 0);
        i = j < n ? j + 1 : j;
        t = tag_len(s + i, n - i, &app_end, &p0, &p1);
    }
    if (t) {
        sl_logrec_set(r, C_APP, s + i, app_end, SL_LEX_RAW, 0);
        if (p1 > p0)
            sl_logrec_set(r, C_PID, s + i + p0, p1 - p0, SL_LEX_RAW, 0);
        i += t;
        if (i < n && s[i] == ' ')
            i++;
    }
    if (i <= n)
        sl_logrec_set(r, C_MESSAGE, s + i, n - i, SL_LEX_STRING, 0);
    return 0;
}

static int parse(void *ctx, struct sl_logrec *r, const char *s, size_t n, char *why,
                 size_t whylen, size_t *at)
{
    int pri = -1;
    size_t i = pri_len(s, n, &pri);
    (void)ctx;
    if (i) {
        sl_logrec_set(r, C_SEVERITY, severities[pri % 8], strlen(severities[pri % 8]),
                      SL_LEX_STRING, 0);
        sl_logrec_set(r, C_FACILITY, facilities[pri / 8], strlen(facilities[pri / 8]),
                      SL_LEX_STRING, 0);
    } else if (n && s[0] == '<') {
        return bad(why, whylen, at, 0, "syslog record: a priority is <0> to <191>");
    }
    /* VERSION: RFC 5424 */
    if (n - i >= 2 && s[i] == '1' && s[i + 1] == ' ')
        return parse5424(r, s, n, i + 2, why, whylen, at);
    if (n - i >= 2 && is_digit(s[i]) && s[i + 1] == ' ')
        return bad(why, whylen, at, i, "syslog record: only version 1 of RFC 5424 is known");
    return parse3164(r, s, n, i, why, whylen, at);
}

static enum sl_type type_of(void *ctx, size_t col)
{
    (void)ctx;
    return col == C_TS ? SL_T_TIMESTAMPTZ : col == C_SD ? SL_T_JSON : SL_T_NONE;
}

static const struct sl_logfmt syslog_fmt = {
    .name = "syslog",
    .init = init,
    .type_of = type_of,
    .parse = parse,
    .starts = starts,
};

static int open_(struct sl_reader **out, struct sl_stream *in, const struct sl_format_opts *o,
                 struct sl_err *err)
{
    return sl_log_open(&syslog_fmt, out, in, o, err);
}

static int check(const struct sl_format_opts *o, struct sl_err *err)
{
    return sl_log_check(&syslog_fmt, o, err);
}

static const char *const extensions[] = {NULL};

const struct sl_format_ops sl_format_syslog = {
    .name = "syslog",
    .extensions = extensions,
    .open = open_,
    .next = sl_log_next,
    .close = sl_log_close,
    .columns = sl_log_columns,
    .raw = sl_log_raw,
    .check = check,
};
