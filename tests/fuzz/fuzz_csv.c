/* tests/fuzz/fuzz_csv.c: libFuzzer target for the CSV/TSV reader.
 *
 * The first byte picks the options: bits 0-3 the memory stream's chunk size
 * (0 = whole), bit 4 no header, bit 5 TSV, bit 6 a small max_record, bit 7
 * ';' as delimiter. The rest is the input. Every record is read and every
 * value byte touched (so ASan sees stale pointers). Beyond not crashing,
 * the reader must give the same records and error at the chosen chunk size
 * as with the whole input in one read, and every value it hands out must
 * be valid UTF-8 without NUL: a streaming parser's bugs live at splits. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/mem.h"
#include "base/stream.h"
#include "formats/format.h"

static int utf8_ok(const char *p, size_t n)
{
    const unsigned char *s = (const unsigned char *)p;
    size_t i = 0;
    while (i < n) {
        unsigned char c = s[i];
        if (c == 0)
            return 0;
        if (c < 0x80) {
            i++;
            continue;
        }
        int k = c >= 0xF0 ? 3 : c >= 0xE0 ? 2 : 1;
        if (c < 0xC2 || c > 0xF4 || i + (size_t)k >= n)
            return 0;
        uint32_t cp = c & (0x3F >> k);
        for (int j = 1; j <= k; j++) {
            if ((s[i + (size_t)j] & 0xC0) != 0x80)
                return 0;
            cp = cp << 6 | (s[i + (size_t)j] & 0x3F);
        }
        if ((k == 2 && cp < 0x800) || (k == 3 && cp < 0x10000) || cp > 0x10FFFF ||
            (cp >= 0xD800 && cp <= 0xDFFF))
            return 0;
        i += (size_t)k + 1;
    }
    return 1;
}

/* Everything the reader said, as text; returns the stream's codec. */
static enum sl_codec run(const uint8_t *data, size_t n, size_t chunk,
                         const struct sl_format_ops *fmt, const struct sl_format_opts *o,
                         struct sl_buf *out)
{
    struct sl_stream *st = NULL;
    struct sl_reader *rd = NULL;
    struct sl_err err;
    struct sl_record rec;
    enum sl_codec codec;
    int rc;

    sl_err_clear(&err);
    sl_buf_reset(out);
    sl_buf_append(out, "", 0);      /* never NULL, even when nothing is said */
    if (sl_stream_open_mem(&st, "fuzz.csv", data, n, chunk, &err) < 0)
        abort();    /* memory streams open unless out of memory */
    codec = sl_stream_codec(st);
    if (fmt->open(&rd, st, o, &err) < 0) {
        sl_buf_printf(out, "OPEN %s\n", err.msg);
        sl_stream_close(st);
        return codec;
    }
    while ((rc = fmt->next(rd, &rec, &err)) == 1) {
        sl_buf_printf(out, "#%ld L%ld:", rec.index, rec.line);
        for (size_t i = 0; i < rec.nfields; i++) {
            const struct sl_field *f = &rec.fields[i];
            if (!utf8_ok(f->val, f->len) || !utf8_ok(f->name, f->name_len) ||
                (f->is_null && f->len) || f->line < rec.line || f->col < 1)
                abort();
            sl_buf_printf(out, " %zu:%.*s=%d%d:", f->name_len, (int)f->name_len, f->name,
                          f->is_null, (int)f->lex);
            sl_buf_append(out, f->val, f->len);
            sl_buf_printf(out, "@%ld:%ld", f->line, f->col);
        }
        sl_buf_putc(out, '\n');
    }
    if (rc < 0) {
        sl_buf_printf(out, "ERR %s\n", err.msg);
        if (fmt->next(rd, &rec, &err) != -1)   /* errors are final */
            abort();
    }
    fmt->close(rd);
    sl_stream_close(st);
    return codec;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    uint8_t ctl = data[0];
    size_t chunk = ctl & 0x0F;
    struct sl_format_opts o = { .delimiter = (ctl & 0x80) ? ';' : 0, .header = !(ctl & 0x10),
                                .max_record = (ctl & 0x40) ? 24 : 0 };
    const struct sl_format_ops *fmt = (ctl & 0x20) ? &sl_format_tsv : &sl_format_csv;
    struct sl_buf whole, split;

    sl_buf_init(&whole);
    sl_buf_init(&split);
    enum sl_codec codec = run(data + 1, size - 1, 0, fmt, &o, &whole);
    if (chunk) {
        run(data + 1, size - 1, chunk, fmt, &o, &split);
        /* compressed input may fail at a different record depending on
         * how much was decompressed at once: compare plain input only */
        if (codec == SL_CODEC_NONE &&
            (whole.len != split.len || memcmp(whole.data, split.data, whole.len) != 0)) {
            fprintf(stderr, "whole:\n%s\nchunk %zu:\n%s\n", whole.data, chunk, split.data);
            abort();
        }
    }
    sl_buf_free(&whole);
    sl_buf_free(&split);
    return 0;
}
