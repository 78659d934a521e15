/* base/re.c: regular expressions over PCRE2 (see re.h). */
#define PCRE2_CODE_UNIT_WIDTH 8
#include "base/re.h"

#include <pcre2.h>
#include <stdio.h>
#include <string.h>

#include "base/mem.h"

struct sl_re {
    pcre2_code *code;
    int jit;
    int ngroups;
    char **names;           /* [ngroups + 1], NULL where unnamed */
};

struct sl_re_match {
    pcre2_match_data *md;
    pcre2_match_context *mc;
    size_t *ov;
    int ngroups;
};

/* PCRE2 allocates through us too, so a failing allocation test reaches it. */
static void *re_alloc(PCRE2_SIZE n, void *ctx)
{
    (void)ctx;
    return sl_malloc(n);
}

static void re_release(void *p, void *ctx)
{
    (void)ctx;
    sl_free(p);
}

void sl_re_free(struct sl_re *re)
{
    if (!re)
        return;
    pcre2_code_free(re->code);
    for (int i = 0; re->names && i <= re->ngroups; i++)
        sl_free(re->names[i]);
    sl_free(re->names);
    sl_free(re);
}

struct sl_re *sl_re_compile(const char *pattern, int flags, char *why, size_t whylen)
{
    int ec;
    PCRE2_SIZE eoff;
    uint32_t opts = PCRE2_UTF;
    struct sl_re *re = sl_calloc(1, sizeof *re);
    pcre2_general_context *gc = pcre2_general_context_create(re_alloc, re_release, NULL);
    pcre2_compile_context *cc = gc ? pcre2_compile_context_create(gc) : NULL;

    if (!re || !gc || !cc) {
        snprintf(why, whylen, "out of memory");
        goto fail;
    }
    if (flags & (SL_RE_WHOLE | SL_RE_START))
        opts |= PCRE2_ANCHORED;
    if (flags & SL_RE_WHOLE)
        opts |= PCRE2_ENDANCHORED;
    if (flags & SL_RE_DOTALL)
        opts |= PCRE2_DOTALL;
    re->code = pcre2_compile((PCRE2_SPTR)pattern, PCRE2_ZERO_TERMINATED, opts, &ec, &eoff, cc);
    if (!re->code) {
        PCRE2_UCHAR msg[256];
        pcre2_get_error_message(ec, msg, sizeof msg);
        snprintf(why, whylen, "%s at offset %zu", (const char *)msg, (size_t)eoff);
        goto fail;
    }
    re->jit = pcre2_jit_compile(re->code, PCRE2_JIT_COMPLETE) == 0;
    uint32_t ncap = 0, nnames = 0, esize = 0;
    PCRE2_SPTR table = NULL;
    pcre2_pattern_info(re->code, PCRE2_INFO_CAPTURECOUNT, &ncap);
    pcre2_pattern_info(re->code, PCRE2_INFO_NAMECOUNT, &nnames);
    pcre2_pattern_info(re->code, PCRE2_INFO_NAMEENTRYSIZE, &esize);
    pcre2_pattern_info(re->code, PCRE2_INFO_NAMETABLE, &table);
    re->ngroups = (int)ncap;
    re->names = sl_calloc(ncap + 1, sizeof *re->names);
    if (!re->names) {
        snprintf(why, whylen, "out of memory");
        goto fail;
    }
    for (uint32_t i = 0; i < nnames; i++) {
        const unsigned char *e = table + (size_t)i * esize;
        int g = (e[0] << 8) | e[1];
        if (g >= 1 && g <= re->ngroups && !re->names[g] &&
            !(re->names[g] = sl_strdup((const char *)e + 2))) {
            snprintf(why, whylen, "out of memory");
            goto fail;
        }
    }
    pcre2_compile_context_free(cc);
    pcre2_general_context_free(gc);
    return re;
fail:
    pcre2_compile_context_free(cc);
    pcre2_general_context_free(gc);
    sl_re_free(re);
    return NULL;
}

int sl_re_ngroups(const struct sl_re *re)
{
    return re->ngroups;
}

const char *sl_re_group_name(const struct sl_re *re, int i)
{
    return i >= 1 && i <= re->ngroups ? re->names[i] : NULL;
}

struct sl_re_match *sl_re_match_new(const struct sl_re *re)
{
    struct sl_re_match *m = sl_calloc(1, sizeof *m);
    pcre2_general_context *gc = pcre2_general_context_create(re_alloc, re_release, NULL);
    if (!m || !gc)
        goto fail;
    m->md = pcre2_match_data_create_from_pattern(re->code, gc);
    m->mc = pcre2_match_context_create(gc);
    if (!m->md || !m->mc)
        goto fail;
    /* a pattern that backtracks without end gives up, as a record that does
     * not match, instead of holding the run */
    pcre2_set_match_limit(m->mc, 10000000);
    m->ngroups = re->ngroups;
    pcre2_general_context_free(gc);
    return m;
fail:
    pcre2_general_context_free(gc);
    sl_re_match_free(m);
    return NULL;
}

void sl_re_match_free(struct sl_re_match *m)
{
    if (!m)
        return;
    pcre2_match_data_free(m->md);
    pcre2_match_context_free(m->mc);
    sl_free(m);
}

int sl_re_exec(const struct sl_re *re, struct sl_re_match *m, const char *s, size_t n,
               char *why, size_t whylen)
{
    /* subjects come from the readers, which hand out valid UTF-8 only */
    int rc = re->jit ? pcre2_jit_match(re->code, (PCRE2_SPTR)s, n, 0, PCRE2_NO_UTF_CHECK,
                                       m->md, m->mc)
                     : pcre2_match(re->code, (PCRE2_SPTR)s, n, 0, PCRE2_NO_UTF_CHECK, m->md,
                                   m->mc);
    if (rc >= 0) {
        m->ov = pcre2_get_ovector_pointer(m->md);
        return 1;
    }
    m->ov = NULL;
    if (rc == PCRE2_ERROR_NOMATCH || rc == PCRE2_ERROR_PARTIAL)
        return 0;
    PCRE2_UCHAR msg[256];
    pcre2_get_error_message(rc, msg, sizeof msg);
    snprintf(why, whylen, "the pattern gave up matching: %s", (const char *)msg);
    return -1;
}

int sl_re_group(const struct sl_re_match *m, int i, size_t *start, size_t *len)
{
    if (!m->ov || i < 0 || i > m->ngroups || m->ov[2 * i] == PCRE2_UNSET)
        return 0;
    *start = m->ov[2 * i];
    *len = m->ov[2 * i + 1] - m->ov[2 * i];
    return 1;
}
