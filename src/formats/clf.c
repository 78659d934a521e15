/* formats/clf.c: web server access logs, the Common and the Combined Log
 * Format of Apache httpd and nginx, one line each.
 *
 *   clf:       client ident user [10/Oct/2000:13:55:36 -0700] "GET /a HTTP/1.0" 200 2326
 *   combined:  the same, then "referer" "user agent"
 *
 * Registered as sl_format_clf and sl_format_combined; formats/logread.c
 * cuts the lines. Columns: ts client ident user method path protocol status
 * bytes (combined: and referer user_agent), then lineno. A "-" (ident,
 * user, bytes, referer, user agent) is NULL. The request line is split into
 * method, path and protocol; one that is not "METHOD PATH [PROTOCOL]" (a
 * probe, a TLS handshake on the plain port) is kept whole in path. In
 * quoted fields \" and \\ (Apache) and \xHH of a printable character
 * (nginx) are read as the character; other \xHH stay as written. Hand-
 * written rather than a regex: access logs are the big ones. */
#include "formats/logread.h"

#include <stdio.h>
#include <string.h>

#include "base/mem.h"

enum { C_TS, C_CLIENT, C_IDENT, C_USER, C_METHOD, C_PATH, C_PROTOCOL, C_STATUS, C_BYTES,
       C_REFERER, C_UA, NCOLS };

static const char *const columns[NCOLS] = {
    "ts", "client", "ident", "user", "method", "path", "protocol", "status", "bytes",
    "referer", "user_agent",
};

struct clf {
    int combined;
};

static const struct clf clf_plain = {0}, clf_combined = {1};

static int is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static int init_plain(const struct sl_format_opts *o, void **ctx, const char *const **cols,
                      size_t *ncols, struct sl_err *err)
{
    (void)o;
    (void)err;
    *ctx = (void *)&clf_plain;
    *cols = columns;
    *ncols = C_REFERER;
    return 0;
}

static int init_combined(const struct sl_format_opts *o, void **ctx, const char *const **cols,
                         size_t *ncols, struct sl_err *err)
{
    (void)o;
    (void)err;
    *ctx = (void *)&clf_combined;
    *cols = columns;
    *ncols = NCOLS;
    return 0;
}

static int bad(char *why, size_t whylen, size_t *at, size_t off, const char *msg)
{
    snprintf(why, whylen, "%s", msg);
    *at = off;
    return -1;
}

static int dash(const char *s, size_t n)
{
    return n == 1 && s[0] == '-';
}

static int hexval(char c)
{
    return sl_hex_digit((unsigned char)c);
}

/* The quoted field at s[*i] ('"' there): *v, *vlen its value, pointing
 * into s, or into tmp when it had escapes to read (*copied); *i past the
 * closing quote. -1 when it is not closed, -2 out of memory. */
static int quoted(const char *s, size_t n, size_t *i, struct sl_buf *tmp, const char **v,
                  size_t *vlen, int *copied)
{
    size_t j = *i + 1, a = j;
    int esc = 0;
    while (j < n && s[j] != '"') {
        if (s[j] == '\\' && j + 1 < n) {
            esc = 1;
            j += 2;
        } else {
            j++;
        }
    }
    if (j >= n)
        return -1;
    *i = j + 1;
    *v = s + a;
    *vlen = j - a;
    *copied = 0;
    if (!esc)
        return 0;
    sl_buf_reset(tmp);
    size_t run = a;
    for (size_t k = a; k < j;) {
        if (s[k] != '\\' || k + 1 >= j) {
            k++;
            continue;
        }
        char c = s[k + 1];
        size_t skip = 0;
        char out = 0;
        if (c == '"' || c == '\\') {
            out = c;
            skip = 2;
        } else if (c == 'x' && k + 3 < j && hexval(s[k + 2]) >= 0 && hexval(s[k + 3]) >= 0) {
            int x = hexval(s[k + 2]) * 16 + hexval(s[k + 3]);
            if (x >= 0x20 && x < 0x7F) {
                out = (char)x;
                skip = 4;
            }
        }
        if (!skip) {
            k += 2;
            continue;
        }
        sl_buf_append(tmp, s + run, k - run);
        sl_buf_putc(tmp, out);
        k += skip;
        run = k;
    }
    sl_buf_append(tmp, s + run, j - run);
    if (tmp->oom)
        return -2;
    *v = tmp->data;
    *vlen = tmp->len;
    *copied = 1;
    return 0;
}

/* [10/Oct/2000:13:55:36 -0700] at s[*i] */
static int clf_time(struct sl_logrec *r, const char *s, size_t n, size_t *i, char *why,
                    size_t whylen)
{
    const char *p = s + *i;
    struct sl_civil c;
    memset(&c, 0, sizeof c);
    if (n - *i < 28 || p[0] != '[' || !is_digit(p[1]) || !is_digit(p[2]) || p[3] != '/' ||
        !(c.mon = sl_month_abbr(p + 4)) || p[7] != '/' || p[12] != ':' || p[15] != ':' ||
        p[18] != ':' || p[21] != ' ' || (p[22] != '+' && p[22] != '-') || p[27] != ']') {
        snprintf(why, whylen, "expected a time such as [10/Oct/2000:13:55:36 -0700]");
        return -1;
    }
    static const int digits[] = {8, 9, 10, 11, 13, 14, 16, 17, 19, 20, 23, 24, 25, 26};
    for (size_t k = 0; k < sizeof digits / sizeof digits[0]; k++)
        if (!is_digit(p[digits[k]])) {
            snprintf(why, whylen, "expected a time such as [10/Oct/2000:13:55:36 -0700]");
            return -1;
        }
    c.day = (p[1] - '0') * 10 + (p[2] - '0');
    c.year = (p[8] - '0') * 1000 + (p[9] - '0') * 100 + (p[10] - '0') * 10 + (p[11] - '0');
    c.hour = (p[13] - '0') * 10 + (p[14] - '0');
    c.min = (p[16] - '0') * 10 + (p[17] - '0');
    c.sec = (p[19] - '0') * 10 + (p[20] - '0');
    int oh = (p[23] - '0') * 10 + (p[24] - '0'), om = (p[25] - '0') * 10 + (p[26] - '0');
    c.offset = (oh * 3600 + om * 60) * (p[22] == '-' ? -1 : 1);
    c.has_zone = c.has_year = c.has_date = 1;
    if (c.day < 1 || c.hour > 23 || c.min > 59 || c.sec > 59 || oh > 18 || om > 59) {
        snprintf(why, whylen, "time out of range");
        return -1;
    }
    *i += 28;
    return sl_logrec_time(r, C_TS, &c, why, whylen);
}

/* The request line: METHOD PATH [PROTOCOL], else all of it in path. */
static void split_request(struct sl_logrec *r, const char *v, size_t len, int copy)
{
    const char *sp1 = memchr(v, ' ', len);
    const char *sp2 = sp1 ? memchr(sp1 + 1, ' ', len - (size_t)(sp1 + 1 - v)) : NULL;
    if (dash(v, len))
        return;
    if (sp1 && sp1 > v && (!sp2 || (sp2 > sp1 + 1 && sp2 + 1 < v + len &&
                                    !memchr(sp2 + 1, ' ', len - (size_t)(sp2 + 1 - v))))) {
        sl_logrec_set(r, C_METHOD, v, (size_t)(sp1 - v), SL_LEX_STRING, copy);
        size_t plen = sp2 ? (size_t)(sp2 - sp1 - 1) : len - (size_t)(sp1 + 1 - v);
        sl_logrec_set(r, C_PATH, sp1 + 1, plen, SL_LEX_STRING, copy);
        if (sp2)
            sl_logrec_set(r, C_PROTOCOL, sp2 + 1, len - (size_t)(sp2 + 1 - v), SL_LEX_STRING,
                          copy);
        return;
    }
    sl_logrec_set(r, C_PATH, v, len, SL_LEX_STRING, copy);
}

static int parse(void *ctx, struct sl_logrec *r, const char *s, size_t n, char *why,
                 size_t whylen, size_t *at)
{
    const struct clf *cf = ctx;
    size_t i = 0, j;
    int copied, q;

    /* client, ident */
    for (int f = C_CLIENT; f <= C_IDENT; f++) {
        j = i;
        while (j < n && s[j] != ' ')
            j++;
        if (j == i || j >= n)
            return bad(why, whylen, at, j, f == C_CLIENT ? "expected the client address"
                                                         : "expected ident, user and time");
        if (!(f == C_IDENT && dash(s + i, j - i)))
            sl_logrec_set(r, (size_t)f, s + i, j - i, SL_LEX_STRING, 0);
        i = j + 1;
    }
    /* user: up to " [" (a user name may hold a space) */
    const char *br = NULL;
    for (j = i; j + 1 < n; j++)
        if (s[j] == ' ' && s[j + 1] == '[') {
            br = s + j;
            break;
        }
    if (!br || j == i)
        return bad(why, whylen, at, i, "expected the user, then a time such as"
                   " [10/Oct/2000:13:55:36 -0700]");
    if (!dash(s + i, j - i))
        sl_logrec_set(r, C_USER, s + i, j - i, SL_LEX_STRING, 0);
    i = j + 1;
    if (clf_time(r, s, n, &i, why, whylen) < 0) {
        *at = i;
        return -1;
    }
    if (n - i < 2 || s[i] != ' ' || s[i + 1] != '"')
        return bad(why, whylen, at, i, "expected the quoted request after the time");
    i++;
    size_t req_at = i;
    const char *v;
    size_t vlen;
    if ((q = quoted(s, n, &i, sl_logrec_scratch(r), &v, &vlen, &copied)) < 0)
        return bad(why, whylen, at, req_at, q == -2 ? "out of memory" : "unterminated request");
    split_request(r, v, vlen, copied);
    /* status, bytes */
    for (int f = C_STATUS; f <= C_BYTES; f++) {
        if (i >= n || s[i] != ' ')
            return bad(why, whylen, at, i, f == C_STATUS ? "expected the status after the request"
                                                         : "expected the bytes sent after the status");
        j = ++i;
        while (j < n && is_digit(s[j]))
            j++;
        if (j == i && i < n && s[i] == '-')
            j++;
        else if (j == i || (j < n && s[j] != ' '))
            return bad(why, whylen, at, i, f == C_STATUS ? "the status is not a number"
                                                         : "the bytes sent is not a number or -");
        if (!dash(s + i, j - i))
            sl_logrec_set(r, (size_t)f, s + i, j - i, SL_LEX_NUMBER, 0);
        i = j;
    }
    if (cf->combined) {
        for (int f = C_REFERER; f <= C_UA; f++) {
            if (n - i < 2 || s[i] != ' ' || s[i + 1] != '"')
                return bad(why, whylen, at, i, f == C_REFERER
                           ? "expected the quoted referer after the bytes sent (a common log"
                             " line? use format: clf)"
                           : "expected the quoted user agent after the referer");
            i++;
            size_t f0 = i;
            if ((q = quoted(s, n, &i, sl_logrec_scratch(r), &v, &vlen, &copied)) < 0)
                return bad(why, whylen, at, f0, q == -2 ? "out of memory" : "unterminated quoted field");
            if (!dash(v, vlen))
                sl_logrec_set(r, (size_t)f, v, vlen, SL_LEX_STRING, copied);
        }
    }
    while (i < n && s[i] == ' ')
        i++;
    if (i < n)
        return bad(why, whylen, at, i, cf->combined
                   ? "unexpected text after the user agent (another log_format? use format:"
                     " regex)"
                   : "unexpected text after the bytes sent (a combined log? use format:"
                     " combined)");
    return 0;
}

static enum sl_type type_of(void *ctx, size_t col)
{
    (void)ctx;
    return col == C_TS ? SL_T_TIMESTAMPTZ
         : col == C_STATUS || col == C_BYTES ? SL_T_BIGINT : SL_T_NONE;
}

static const struct sl_logfmt clf_fmt = {.name = "clf", .init = init_plain, .parse = parse,
                                         .type_of = type_of};
static const struct sl_logfmt combined_fmt = {.name = "combined", .init = init_combined,
                                              .parse = parse, .type_of = type_of};

static int open_clf(struct sl_reader **out, struct sl_stream *in,
                    const struct sl_format_opts *o, struct sl_err *err)
{
    return sl_log_open(&clf_fmt, out, in, o, err);
}

static int open_combined(struct sl_reader **out, struct sl_stream *in,
                         const struct sl_format_opts *o, struct sl_err *err)
{
    return sl_log_open(&combined_fmt, out, in, o, err);
}

static int check_clf(const struct sl_format_opts *o, struct sl_err *err)
{
    return sl_log_check(&clf_fmt, o, err);
}

static int check_combined(const struct sl_format_opts *o, struct sl_err *err)
{
    return sl_log_check(&combined_fmt, o, err);
}

static const char *const extensions[] = {NULL};

const struct sl_format_ops sl_format_clf = {
    .name = "clf",
    .extensions = extensions,
    .open = open_clf,
    .next = sl_log_next,
    .close = sl_log_close,
    .columns = sl_log_columns,
    .raw = sl_log_raw,
    .check = check_clf,
};

const struct sl_format_ops sl_format_combined = {
    .name = "combined",
    .extensions = extensions,
    .open = open_combined,
    .next = sl_log_next,
    .close = sl_log_close,
    .columns = sl_log_columns,
    .raw = sl_log_raw,
    .check = check_combined,
};
