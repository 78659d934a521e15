/* base/re.h: regular expressions (PCRE2, the one file that includes it).
 *
 * The log formats match records with these: `format: regex` (named groups
 * are its columns), the pattern a log4j layout compiles to, and a
 * multiline start. Patterns are UTF-8 (PCRE2_UTF, checked once on
 * compile; subjects are valid UTF-8 already, so they are not checked again
 * per match) and JIT-compiled where the machine allows. */
#ifndef SL_RE_H
#define SL_RE_H

#include <stddef.h>

struct sl_re;

/* Flags for sl_re_compile. */
#define SL_RE_WHOLE   1     /* a match covers the whole subject (anchored at both ends) */
#define SL_RE_START   2     /* a match starts at the subject's start */
#define SL_RE_DOTALL  4     /* . matches a newline too */

/* Compile `pattern`. NULL with why[] ("missing ) at offset 7") on a bad
 * pattern or out of memory. */
struct sl_re *sl_re_compile(const char *pattern, int flags, char *why, size_t whylen);
void sl_re_free(struct sl_re *re);

/* Capture groups, 1-based as in the pattern; 0 = none. */
int sl_re_ngroups(const struct sl_re *re);
/* The name of group i (1..ngroups), or NULL when it has none. */
const char *sl_re_group_name(const struct sl_re *re, int i);

/* A match's groups: group i is s[off[2i] .. off[2i+1]), off[2i] = (size_t)-1
 * when the group took no part. Reused from match to match. */
struct sl_re_match;
struct sl_re_match *sl_re_match_new(const struct sl_re *re);
void sl_re_match_free(struct sl_re_match *m);
/* 1 = matched (m's groups set), 0 = no match, -1 = the match gave up
 * (backtracking limit; why[] says so). */
int sl_re_exec(const struct sl_re *re, struct sl_re_match *m, const char *s, size_t n,
               char *why, size_t whylen);
/* Group i of the last match: 1 with *start and *len, 0 when unset. */
int sl_re_group(const struct sl_re_match *m, int i, size_t *start, size_t *len);

#endif
