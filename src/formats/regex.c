/* formats/regex.c: any line-oriented log, by a regular expression whose
 * named groups are the columns (format: regex, regex: "(?<ts>\S+) ...").
 *
 * Registered as sl_format_regex; formats/logread.c cuts the records (one a
 * line, or several lines joined by LF under multiline.start). The pattern
 * (PCRE2, base/re.h) must match a record whole: it is anchored at both
 * ends, so a line it matches only in part is refused, not cut short. Each
 * named group is a column, in the order of the groups; a group that took
 * no part is NULL. Values are text as written: their types are the table's
 * `columns:` or inferred, as for CSV (a time without an offset is read in
 * the source's timezone then). */
#include "formats/logread.h"

#include <stdio.h>
#include <string.h>

#include "base/mem.h"

struct rx {
    struct sl_re *re;
    struct sl_re_match *m;
    const char **cols;
    int *group;             /* per column: its group number */
    size_t ncols;
};

static void fini(void *ctx)
{
    struct rx *x = ctx;
    if (!x)
        return;
    sl_re_match_free(x->m);
    sl_re_free(x->re);
    sl_free(x->cols);
    sl_free(x->group);
    sl_free(x);
}

static int init(const struct sl_format_opts *o, void **ctx, const char *const **cols,
                size_t *ncols, struct sl_err *err)
{
    char why[256];
    struct rx *x;

    if (!o || !o->regex || !*o->regex)
        return sl_err_set(err, SL_E_CONFIG, "format regex needs `regex:`, a pattern whose"
                          " named groups (?<name>...) are the columns");
    if (!(x = sl_calloc(1, sizeof *x)))
        return sl_err_nomem(err);
    x->re = sl_re_compile(o->regex, SL_RE_WHOLE, why, sizeof why);
    if (!x->re) {
        fini(x);
        return sl_err_set(err, SL_E_CONFIG, "regex \"%s\": %s", o->regex, why);
    }
    int ng = sl_re_ngroups(x->re);
    x->cols = sl_calloc((size_t)ng + 1, sizeof *x->cols);
    x->group = sl_calloc((size_t)ng + 1, sizeof *x->group);
    x->m = sl_re_match_new(x->re);
    if (!x->cols || !x->group || !x->m) {
        fini(x);
        return sl_err_nomem(err);
    }
    for (int g = 1; g <= ng; g++)
        if (sl_re_group_name(x->re, g)) {
            x->cols[x->ncols] = sl_re_group_name(x->re, g);
            x->group[x->ncols++] = g;
        }
    if (x->ncols == 0) {
        fini(x);
        return sl_err_set(err, SL_E_CONFIG, "regex \"%s\" has no named group: name each"
                          " column's group, as in (?<status>\\d+)", o->regex);
    }
    *ctx = x;
    *cols = x->cols;
    *ncols = x->ncols;
    return 0;
}

static int parse(void *ctx, struct sl_logrec *r, const char *s, size_t n, char *why,
                 size_t whylen, size_t *at)
{
    struct rx *x = ctx;
    char w[200];
    int rc = sl_re_exec(x->re, x->m, s, n, w, sizeof w);
    if (rc <= 0) {
        *at = 0;
        snprintf(why, whylen, "%s", rc < 0 ? w : "the line does not match the regex");
        return -1;
    }
    for (size_t i = 0; i < x->ncols; i++) {
        size_t a, len;
        if (sl_re_group(x->m, x->group[i], &a, &len))
            sl_logrec_set(r, i, s + a, len, SL_LEX_RAW, 0);
    }
    return 0;
}

static const struct sl_logfmt regex_fmt = {
    .name = "regex",
    .init = init,
    .fini = fini,
    .parse = parse,
};

static int open_(struct sl_reader **out, struct sl_stream *in, const struct sl_format_opts *o,
                 struct sl_err *err)
{
    return sl_log_open(&regex_fmt, out, in, o, err);
}

static int check(const struct sl_format_opts *o, struct sl_err *err)
{
    return sl_log_check(&regex_fmt, o, err);
}

static const char *const extensions[] = {NULL};

const struct sl_format_ops sl_format_regex = {
    .name = "regex",
    .extensions = extensions,
    .open = open_,
    .next = sl_log_next,
    .close = sl_log_close,
    .columns = sl_log_columns,
    .raw = sl_log_raw,
    .check = check,
};
