/* pg/quote.c: see quote.h. */
#include "pg/quote.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

size_t sl_pg_stored_ident(const char *s, size_t n, char out[SL_PG_NAME_MAX + 1])
{
    if (n <= SL_PG_NAME_MAX) {
        memcpy(out, s, n);
        out[n] = '\0';
        return n;
    }
    uint32_t h = 2166136261u;     /* FNV-1a */
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)s[i]) * 16777619u;
    size_t keep = SL_PG_NAME_MAX - 9;
    while (keep > 0 && ((unsigned char)s[keep] & 0xC0) == 0x80)
        keep--;
    return (size_t)snprintf(out, SL_PG_NAME_MAX + 1, "%.*s_%08x", (int)keep, s, (unsigned)h);
}

int sl_pg_stored_as(const char *stored, const char *name)
{
    char buf[SL_PG_NAME_MAX + 1];
    sl_pg_stored_ident(name, strlen(name), buf);
    return strcmp(stored, buf) == 0;
}

void sl_pg_quote_ident(struct sl_buf *b, const char *s, size_t n)
{
    sl_buf_putc(b, '"');
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '"')
            sl_buf_putc(b, '"');
        sl_buf_putc(b, s[i]);
    }
    sl_buf_putc(b, '"');
}

void sl_pg_quote_stored(struct sl_buf *b, const char *s, size_t n)
{
    char cut[SL_PG_NAME_MAX + 1];
    if (n > SL_PG_NAME_MAX)
        n = sl_pg_stored_ident(s, n, cut), s = cut;
    sl_pg_quote_ident(b, s, n);
}

void sl_pg_quote_table(struct sl_buf *b, const char *name, int stored)
{
    void (*quote)(struct sl_buf *, const char *, size_t) =
        stored ? sl_pg_quote_stored : sl_pg_quote_ident;
    const char *dot = strchr(name, '.');
    if (dot && dot != name && dot[1]) {
        quote(b, name, (size_t)(dot - name));
        sl_buf_putc(b, '.');
        name = dot + 1;
    }
    quote(b, name, strlen(name));
}

char *sl_pg_quoted_table(const char *name, int stored)
{
    struct sl_buf b;
    sl_buf_init(&b);
    sl_pg_quote_table(&b, name, stored);
    return b.oom ? (sl_buf_free(&b), NULL) : sl_buf_steal(&b);
}
