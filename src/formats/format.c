/* formats/format.c: the registry of record readers. Adding a format is adding
 * its file and one line here. */
#include "formats/format.h"

#include <stdint.h>
#include <string.h>

#include "base/hash.h"
#include "base/mem.h"

static const struct sl_format_ops *const formats[] = {
    &sl_format_csv,
    &sl_format_tsv,
    &sl_format_jsonl,
    &sl_format_syslog,
    &sl_format_clf,
    &sl_format_combined,
    &sl_format_log4j,
    &sl_format_regex,
};

#define NFORMATS (sizeof formats / sizeof formats[0])

const struct sl_format_ops *sl_format_find(const char *name, struct sl_err *err)
{
    struct sl_buf names;

    for (size_t i = 0; i < NFORMATS; i++)
        if (strcmp(formats[i]->name, name) == 0)
            return formats[i];
    sl_buf_init(&names);
    for (size_t i = 0; i < NFORMATS; i++)
        sl_buf_printf(&names, "%s%s", i ? ", " : "", formats[i]->name);
    sl_err_set(err, SL_E_CONFIG, "unknown format \"%s\" (there are: %s)", name,
               names.data ? names.data : "");
    sl_buf_free(&names);
    return NULL;
}

/* ---- duplicate names ---- */

#define SMALL_DUP_SCAN 16       /* fewer fields: compare pairwise, no hash */

static int same_name(const struct sl_field *a, const struct sl_field *b)
{
    return a->name_len == b->name_len && memcmp(a->name, b->name, a->name_len) == 0;
}

static size_t name_hash(const struct sl_field *f)
{
    uint64_t h = sl_fnv1a64(SL_FNV1A64_INIT, f->name, f->name_len);
    return (size_t)(h ^ h >> 29);
}

int sl_fields_find_dup(struct sl_dupscan *scan, const struct sl_field *f, size_t nf,
                       size_t *first, size_t *dup)
{
    if (nf <= SMALL_DUP_SCAN) {
        for (size_t j = 1; j < nf; j++)
            for (size_t k = 0; k < j; k++)
                if (same_name(&f[j], &f[k])) {
                    *first = k;
                    *dup = j;
                    return 1;
                }
        return 0;
    }
    size_t size = 64;
    while (size < 2 * nf)
        size *= 2;
    if (size > scan->cap) {
        size_t *t = sl_realloc(scan->slots, size * sizeof *t);
        if (!t)
            return -1;
        scan->slots = t;
        scan->cap = size;
    }
    size_t *tab = scan->slots;
    memset(tab, 0, size * sizeof *tab);
    for (size_t j = 0; j < nf; j++) {
        size_t h = name_hash(&f[j]) & (size - 1);
        while (tab[h]) {
            if (same_name(&f[j], &f[tab[h] - 1])) {
                *first = tab[h] - 1;
                *dup = j;
                return 1;
            }
            h = (h + 1) & (size - 1);
        }
        tab[h] = j + 1;
    }
    return 0;
}

void sl_dupscan_free(struct sl_dupscan *scan)
{
    sl_free(scan->slots);
    scan->slots = NULL;
    scan->cap = 0;
}

/* ---- errors ---- */

int sl_format_nomem(struct sl_err *err, const char *name, long line)
{
    return sl_err_set(err, SL_E_NOMEM, "%s:%ld: out of memory reading the record", name, line);
}

static int ends_with(const char *s, size_t n, const char *suffix)
{
    size_t m = strlen(suffix);
    return n >= m && strncasecmp(s + n - m, suffix, m) == 0;
}

const struct sl_format_ops *sl_format_for_path(const char *path)
{
    size_t n = strlen(path);

    if (ends_with(path, n, ".gz"))
        n -= 3;
    else if (ends_with(path, n, ".zst"))
        n -= 4;
    for (size_t i = 0; i < NFORMATS; i++)
        for (const char *const *e = formats[i]->extensions; e && *e; e++)
            if (ends_with(path, n, *e))
                return formats[i];
    return NULL;
}
