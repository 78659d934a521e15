/* formats/format.c: the registry of record readers. Adding a format is adding
 * its file and one line here. */
#include "formats/format.h"

#include <string.h>

#include "base/mem.h"

static const struct sl_format_ops *const formats[] = {
    &sl_format_csv,
    &sl_format_tsv,
    &sl_format_jsonl,
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
