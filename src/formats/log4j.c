/* formats/log4j.c: Java application logs, read by the PatternLayout that
 * wrote them (format: log4j, layout: "%d [%t] %-5p %c - %m%n", or a
 * preset's name: logback, log4j2, log4j-ttcc, spring-boot).
 *
 * Registered as sl_format_log4j; formats/logread.c cuts the records. The
 * layout compiles to one regular expression (base/re.h), a capture group
 * per conversion, literal text as itself, padding (%-5p, %15.15t) as the
 * spaces around a value. Conversions and the columns they fill:
 *   %d{pattern}{zone} %date  ts (the Java date pattern, or ISO8601, ABSOLUTE...;
 *                             read in the source's timezone unless it has an
 *                             offset or the layout names a zone)
 *   %p %level level     %t %thread thread   %c{n} %logger logger
 *   %C{n} %class class  %L %line line       %M %method method   %F %file file
 *   %m %msg %message message (spans lines)  %n end of line
 *   %X{key} %mdc{key} mdc_<key> (%X alone: mdc)   %x %ndc ndc
 *   %r %relative relative   %pid pid   %T %tid thread_id
 *   %ex %throwable %xEx ... throwable (spans lines)   %% a percent sign
 * A record begins with a line that matches the layout up to its message
 * (its head): the lines of a stack trace that follow join it. */
#include "formats/logread.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/mem.h"

enum conv { K_TS, K_LEVEL, K_THREAD, K_LOGGER, K_CLASS, K_LINE, K_METHOD, K_FILE, K_MESSAGE,
            K_MDC, K_NDC, K_RELATIVE, K_PID, K_TID, K_THROWABLE, K_NEWLINE };

static const struct { const char *name; enum conv k; } conversions[] = {
    {"d", K_TS}, {"date", K_TS},
    {"p", K_LEVEL}, {"le", K_LEVEL}, {"level", K_LEVEL},
    {"t", K_THREAD}, {"thread", K_THREAD}, {"tn", K_THREAD}, {"threadName", K_THREAD},
    {"c", K_LOGGER}, {"lo", K_LOGGER}, {"logger", K_LOGGER},
    {"C", K_CLASS}, {"class", K_CLASS},
    {"L", K_LINE}, {"line", K_LINE},
    {"M", K_METHOD}, {"method", K_METHOD},
    {"F", K_FILE}, {"file", K_FILE},
    {"m", K_MESSAGE}, {"msg", K_MESSAGE}, {"message", K_MESSAGE},
    {"X", K_MDC}, {"mdc", K_MDC}, {"MDC", K_MDC},
    {"x", K_NDC}, {"ndc", K_NDC}, {"NDC", K_NDC},
    {"r", K_RELATIVE}, {"relative", K_RELATIVE},
    {"pid", K_PID}, {"processId", K_PID},
    {"T", K_TID}, {"tid", K_TID}, {"threadId", K_TID},
    {"ex", K_THROWABLE}, {"exception", K_THROWABLE}, {"throwable", K_THROWABLE},
    {"xEx", K_THROWABLE}, {"xException", K_THROWABLE}, {"xThrowable", K_THROWABLE},
    {"rEx", K_THROWABLE}, {"rException", K_THROWABLE}, {"rThrowable", K_THROWABLE},
    {"wEx", K_THROWABLE},
    {"n", K_NEWLINE},
};

static const struct { const char *name, *layout; } presets[] = {
    {"logback", "%d{HH:mm:ss.SSS} [%thread] %-5level %logger{36} - %msg%n"},
    {"log4j2", "%d{yyyy-MM-dd HH:mm:ss.SSS} [%t] %-5level %logger{36} - %msg%n"},
    {"log4j-ttcc", "%r [%t] %-5p %c %x - %m%n"},
    {"spring-boot", "%d{yyyy-MM-dd'T'HH:mm:ss.SSSXXX}  %5p %pid --- [%15.15t] %-40.40logger{39} : %m%n"},
};

struct col {
    char *name;
    enum conv k;
    int group;
    struct sl_datepat date;     /* K_TS */
    char *zone;                 /* K_TS: the layout's own zone, or NULL */
};

struct l4j {
    struct sl_re *re, *head;
    struct sl_re_match *m, *hm;
    struct col *cols;
    size_t ncols;
    const char **names;
};

static void fini(void *ctx)
{
    struct l4j *x = ctx;
    if (!x)
        return;
    sl_re_match_free(x->m);
    sl_re_match_free(x->hm);
    sl_re_free(x->re);
    sl_re_free(x->head);
    for (size_t i = 0; i < x->ncols; i++) {
        sl_free(x->cols[i].name);
        sl_free(x->cols[i].zone);
    }
    sl_free(x->cols);
    sl_free(x->names);
    sl_free(x);
}

static void put_literal(struct sl_buf *b, char c)
{
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
        (unsigned char)c >= 0x80 || c == ' ')
        sl_buf_putc(b, c);
    else if (c == '\t')
        sl_buf_puts(b, "\\t");
    else
        sl_buf_printf(b, "\\x{%x}", (unsigned char)c);
}

static const char *column_name(enum conv k)
{
    switch (k) {
    case K_TS: return "ts";
    case K_LEVEL: return "level";
    case K_THREAD: return "thread";
    case K_LOGGER: return "logger";
    case K_CLASS: return "class";
    case K_LINE: return "line";
    case K_METHOD: return "method";
    case K_FILE: return "file";
    case K_MESSAGE: return "message";
    case K_MDC: return "mdc";
    case K_NDC: return "ndc";
    case K_RELATIVE: return "relative";
    case K_PID: return "pid";
    case K_TID: return "thread_id";
    case K_THROWABLE: return "throwable";
    case K_NEWLINE: break;
    }
    return "";
}

/* The pattern of a conversion's value (no group). `last`: nothing but
 * line ends follow it, so a greedy match to the end is right. */
static const char *value_re(enum conv k, int last)
{
    switch (k) {
    case K_LEVEL: return "\\S+";
    case K_LOGGER: case K_CLASS: case K_METHOD: case K_FILE: return "\\S+";
    case K_LINE: return "\\d+|\\?";
    case K_RELATIVE: case K_PID: case K_TID: return "\\d+";
    case K_MESSAGE: case K_THROWABLE: return last ? "(?s:.*)" : "(?s:.*?)";
    default: return ".*?";
    }
}

struct tok {
    int is_conv;
    char lit;
    enum conv k;
    int left, minw;
    char opt[256];
    char opt2[64];
};

static int config_err(struct sl_err *err, const char *layout, size_t at, const char *what)
{
    return sl_err_set(err, SL_E_CONFIG, "layout \"%s\": %s (at character %zu)", layout, what,
                      at + 1);
}

/* `%[-][min][.max]name[{opt}][{opt2}]` at p (after the %): one token. */
static int lex_conv(const char *layout, const char **pp, struct tok *t, struct sl_err *err)
{
    const char *p = *pp, *p0 = p - 1;
    memset(t, 0, sizeof *t);
    t->is_conv = 1;
    if (*p == '-') {
        t->left = 1;
        p++;
    }
    while (*p >= '0' && *p <= '9')
        t->minw = t->minw * 10 + (*p++ - '0');
    if (*p == '.') {
        p++;
        while (*p >= '0' && *p <= '9')
            p++;
    }
    const char *n0 = p;
    while ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z'))
        p++;
    size_t nl = (size_t)(p - n0);
    size_t i;
    for (i = 0; i < sizeof conversions / sizeof conversions[0]; i++)
        if (strlen(conversions[i].name) == nl && memcmp(conversions[i].name, n0, nl) == 0)
            break;
    /* a longest-name match failed: log4j reads %dd as %d then d, so try
     * shorter prefixes too */
    while (i == sizeof conversions / sizeof conversions[0] && nl > 1) {
        nl--;
        p--;
        for (i = 0; i < sizeof conversions / sizeof conversions[0]; i++)
            if (strlen(conversions[i].name) == nl && memcmp(conversions[i].name, n0, nl) == 0)
                break;
    }
    if (i == sizeof conversions / sizeof conversions[0]) {
        char what[128];
        snprintf(what, sizeof what, "unknown conversion %%%.*s", (int)(p - n0 > 0 ? p - n0 : 1),
                 n0);
        return config_err(err, layout, (size_t)(p0 - layout), what);
    }
    t->k = conversions[i].k;
    for (int o = 0; o < 2 && *p == '{'; o++) {
        const char *e = strchr(p, '}');
        char *dst = o ? t->opt2 : t->opt;
        size_t cap = o ? sizeof t->opt2 : sizeof t->opt;
        if (!e)
            return config_err(err, layout, (size_t)(p - layout), "unterminated {");
        if ((size_t)(e - p - 1) >= cap)
            return config_err(err, layout, (size_t)(p - layout), "option too long");
        memcpy(dst, p + 1, (size_t)(e - p - 1));
        dst[e - p - 1] = '\0';
        p = e + 1;
    }
    *pp = p;
    return 0;
}

static int add_col(struct l4j *x, const char *layout, const struct tok *t, int group,
                   struct sl_err *err)
{
    struct sl_buf name;
    sl_buf_init(&name);
    if (t->k == K_MDC && t->opt[0])
        sl_buf_printf(&name, "mdc_%s", t->opt);
    else
        sl_buf_puts(&name, column_name(t->k));
    if (name.oom)
        return sl_err_nomem(err);
    for (size_t i = 0; i < x->ncols; i++)
        if (strcmp(x->cols[i].name, name.data) == 0) {
            sl_err_set(err, SL_E_CONFIG, "layout \"%s\": column \"%s\" comes from two"
                       " conversions; keep one", layout, name.data);
            sl_buf_free(&name);
            return -1;
        }
    struct col *nc = sl_realloc(x->cols, (x->ncols + 1) * sizeof *nc);
    if (!nc) {
        sl_buf_free(&name);
        return sl_err_nomem(err);
    }
    x->cols = nc;
    memset(&nc[x->ncols], 0, sizeof *nc);
    nc[x->ncols].name = sl_buf_steal(&name);
    nc[x->ncols].k = t->k;
    nc[x->ncols].group = group;
    if (t->k == K_TS) {
        char why[256];
        if (sl_datepat_compile(t->opt[0] ? t->opt : "DEFAULT", &nc[x->ncols].date, why,
                               sizeof why) < 0) {
            x->ncols++;
            return sl_err_set(err, SL_E_CONFIG, "layout \"%s\": %s", layout, why);
        }
        if (t->opt2[0]) {
            if (!sl_tz_valid(t->opt2)) {
                x->ncols++;
                return sl_err_set(err, SL_E_CONFIG, "layout \"%s\": unknown time zone \"%s\"",
                                  layout, t->opt2);
            }
            nc[x->ncols].zone = sl_strdup(t->opt2);
        }
    }
    x->ncols++;
    return 0;
}

static int init(const struct sl_format_opts *o, void **ctx, const char *const **cols,
                size_t *ncols, struct sl_err *err)
{
    const char *layout = o ? o->layout : NULL;
    struct tok *toks = NULL;
    size_t ntok = 0;
    struct sl_buf re, head;
    struct l4j *x;
    char why[256];
    int rc = -1;

    if (!layout || !*layout)
        return sl_err_set(err, SL_E_CONFIG, "format log4j needs `layout:`, the PatternLayout"
                          " that wrote the log (or one of logback, log4j2, log4j-ttcc,"
                          " spring-boot)");
    for (size_t i = 0; i < sizeof presets / sizeof presets[0]; i++)
        if (strcmp(layout, presets[i].name) == 0)
            layout = presets[i].layout;
    if (!(x = sl_calloc(1, sizeof *x)))
        return sl_err_nomem(err);
    sl_buf_init(&re);
    sl_buf_init(&head);
    /* tokens */
    for (const char *p = layout; *p;) {
        struct tok *nt = sl_realloc(toks, (ntok + 1) * sizeof *nt);
        if (!nt) {
            sl_err_nomem(err);
            goto done;
        }
        toks = nt;
        if (*p == '%' && p[1] == '%') {
            memset(&toks[ntok], 0, sizeof *toks);
            toks[ntok++].lit = '%';
            p += 2;
        } else if (*p == '%') {
            p++;
            if (lex_conv(layout, &p, &toks[ntok], err) < 0)
                goto done;
            ntok++;
        } else {
            memset(&toks[ntok], 0, sizeof *toks);
            toks[ntok++].lit = *p++;
        }
    }
    /* trailing line ends: the splitter took them off */
    while (ntok && toks[ntok - 1].is_conv && toks[ntok - 1].k == K_NEWLINE)
        ntok--;
    int group = 0, in_head = 1;
    for (size_t i = 0; i < ntok; i++) {
        const struct tok *t = &toks[i];
        size_t before = re.len;
        if (t->is_conv && t->k == K_NEWLINE)
            in_head = 0;
        if (!t->is_conv) {
            put_literal(&re, t->lit);
        } else if (t->k == K_NEWLINE) {
            sl_buf_puts(&re, "\\n");
        } else {
            int last = 1;
            for (size_t j = i + 1; j < ntok && last; j++)
                last = toks[j].is_conv && toks[j].k == K_NEWLINE;
            if (t->k == K_MESSAGE || t->k == K_THROWABLE)
                in_head = 0;
            if (t->minw && !t->left)
                sl_buf_puts(&re, " *");
            sl_buf_putc(&re, '(');
            if (t->k == K_TS) {
                struct sl_datepat dp;
                if (sl_datepat_compile(t->opt[0] ? t->opt : "DEFAULT", &dp, why,
                                       sizeof why) < 0) {
                    sl_err_set(err, SL_E_CONFIG, "layout \"%s\": %s", layout, why);
                    goto done;
                }
                sl_datepat_regex(&dp, &re);
            } else {
                sl_buf_puts(&re, value_re(t->k, last));
            }
            sl_buf_putc(&re, ')');
            if (t->minw && t->left)
                sl_buf_puts(&re, " *");
            if (add_col(x, layout, t, ++group, err) < 0)
                goto done;
        }
        if (in_head)
            sl_buf_append(&head, re.data + before, re.len - before);
    }
    if (x->ncols == 0) {
        sl_err_set(err, SL_E_CONFIG, "layout \"%s\" has no conversion (such as %%d or %%m)",
                   layout);
        goto done;
    }
    if (re.oom || head.oom) {
        sl_err_nomem(err);
        goto done;
    }
    if (!(x->re = sl_re_compile(re.data, SL_RE_WHOLE, why, sizeof why))) {
        sl_err_set(err, SL_E_CONFIG, "layout \"%s\": could not be compiled: %s", layout, why);
        goto done;
    }
    /* the head: only when the layout has more after it (a message) */
    if (head.len && head.len < re.len &&
        !(x->head = sl_re_compile(head.data, SL_RE_START, why, sizeof why))) {
        sl_err_set(err, SL_E_CONFIG, "layout \"%s\": could not be compiled: %s", layout, why);
        goto done;
    }
    x->m = sl_re_match_new(x->re);
    x->hm = x->head ? sl_re_match_new(x->head) : NULL;
    x->names = sl_calloc(x->ncols, sizeof *x->names);
    if (!x->m || (x->head && !x->hm) || !x->names) {
        sl_err_nomem(err);
        goto done;
    }
    for (size_t i = 0; i < x->ncols; i++)
        x->names[i] = x->cols[i].name;
    *ctx = x;
    *cols = x->names;
    *ncols = x->ncols;
    rc = 0;
done:
    sl_buf_free(&re);
    sl_buf_free(&head);
    sl_free(toks);
    if (rc < 0)
        fini(x);
    return rc;
}

static int starts(void *ctx, const char *s, size_t n)
{
    struct l4j *x = ctx;
    char why[8];
    return !x->head || sl_re_exec(x->head, x->hm, s, n, why, sizeof why) == 1;
}

static int parse(void *ctx, struct sl_logrec *r, const char *s, size_t n, char *why,
                 size_t whylen, size_t *at)
{
    struct l4j *x = ctx;
    char w[200];
    int rc = sl_re_exec(x->re, x->m, s, n, w, sizeof w);
    if (rc <= 0) {
        *at = 0;
        snprintf(why, whylen, "%s", rc < 0 ? w : "the record does not match the layout");
        return -1;
    }
    for (size_t i = 0; i < x->ncols; i++) {
        const struct col *c = &x->cols[i];
        size_t a, len;
        if (!sl_re_group(x->m, c->group, &a, &len))
            continue;
        switch (c->k) {
        case K_TS: {
            struct sl_civil cv;
            if (sl_datepat_match(&c->date, s + a, len, &cv) != (long)len) {
                *at = a;
                snprintf(why, whylen, "not a time of the layout's date pattern");
                return -1;
            }
            if (sl_logrec_time_in(r, i, &cv, c->zone, w, sizeof w) < 0) {
                *at = a;
                snprintf(why, whylen, "%s", w);
                return -1;
            }
            break;
        }
        case K_LINE:
            if (!(len == 1 && s[a] == '?'))
                sl_logrec_set(r, i, s + a, len, SL_LEX_NUMBER, 0);
            break;
        case K_RELATIVE:
        case K_PID:
        case K_TID:
            sl_logrec_set(r, i, s + a, len, SL_LEX_NUMBER, 0);
            break;
        case K_METHOD:
        case K_FILE:
            if (!(len == 1 && s[a] == '?'))
                sl_logrec_set(r, i, s + a, len, SL_LEX_STRING, 0);
            break;
        default:
            sl_logrec_set(r, i, s + a, len, SL_LEX_STRING, 0);
            break;
        }
    }
    return 0;
}

static enum sl_type type_of(void *ctx, size_t col)
{
    const struct l4j *x = ctx;
    switch (x->cols[col].k) {
    case K_TS: return SL_T_TIMESTAMPTZ;
    case K_LINE: case K_RELATIVE: case K_PID: case K_TID: return SL_T_BIGINT;
    default: return SL_T_NONE;
    }
}

static const struct sl_logfmt log4j_fmt = {
    .name = "log4j",
    .init = init,
    .type_of = type_of,
    .fini = fini,
    .parse = parse,
    .starts = starts,
};

static int open_(struct sl_reader **out, struct sl_stream *in, const struct sl_format_opts *o,
                 struct sl_err *err)
{
    return sl_log_open(&log4j_fmt, out, in, o, err);
}

static int check(const struct sl_format_opts *o, struct sl_err *err)
{
    return sl_log_check(&log4j_fmt, o, err);
}

static const char *const extensions[] = {NULL};

const struct sl_format_ops sl_format_log4j = {
    .name = "log4j",
    .extensions = extensions,
    .open = open_,
    .next = sl_log_next,
    .close = sl_log_close,
    .columns = sl_log_columns,
    .raw = sl_log_raw,
    .check = check,
};
