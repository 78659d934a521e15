/* fuzz_log.h: the driver the log format fuzzers share. The input is read
 * twice, whole and at a chunk size the control byte chooses, reading on
 * past every refused record; both passes must hand out the same records
 * and errors, every value valid UTF-8 without NUL (what the engine takes
 * without a copy), every time canonical. */
#ifndef FUZZ_LOG_H
#define FUZZ_LOG_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/mem.h"
#include "base/stream.h"
#include "base/value.h"
#include "formats/format.h"

static void fuzz_log_pass(const struct sl_format_ops *fmt, const struct sl_format_opts *o,
                          const uint8_t *data, size_t size, size_t chunk, struct sl_buf *out)
{
    struct sl_err err;
    struct sl_stream *st = NULL;
    struct sl_reader *rd = NULL;
    struct sl_record rec;

    if (sl_stream_open_mem(&st, "fuzz.log", data, size, chunk, &err) < 0)
        return;
    if (fmt->open(&rd, st, o, &err) < 0) {
        sl_buf_printf(out, "OPEN %s\n", err.msg);
        sl_stream_close(st);
        return;
    }
    for (int calls = 0; calls < 100000; calls++) {
        int rc = fmt->next(rd, &rec, &err);
        const char *t;
        size_t tn;
        long tl, ti;
        if (rc == 0)
            break;
        if (rc < 0) {
            sl_buf_printf(out, "ERR %s\n", err.msg);
            if (err.code != SL_E_INPUT || fmt->raw(rd, &t, &tn, &tl, &ti) != 1)
                break;
            sl_buf_append(out, t, tn);
            continue;
        }
        sl_buf_printf(out, "L%ld #%ld", rec.line, rec.index);
        for (size_t i = 0; i < rec.nfields; i++) {
            const struct sl_field *f = &rec.fields[i];
            if (!f->val || f->line < 1 || f->col < 1)
                abort();
            if (!f->is_null && !sl_utf8_valid(f->val, f->len))
                abort();
            if (!f->is_null && strcmp(f->name, "ts") == 0 && f->lex == SL_LEX_RAW &&
                fmt != &sl_format_regex) {
                sl_usec u;
                if (f->len != 27 || sl_time_parse(f->val, f->len, NULL, &u, NULL, 0) < 0)
                    abort();
            }
            sl_buf_printf(out, " %s=%d:", f->name, f->is_null);
            sl_buf_append(out, f->val, f->len);
        }
        sl_buf_putc(out, '\n');
    }
    fmt->close(rd);
    sl_stream_close(st);
}

/* Both passes of the input, compared. */
static void fuzz_log(const struct sl_format_ops *fmt, const struct sl_format_opts *o,
                     const uint8_t *data, size_t size, size_t chunk)
{
    struct sl_buf whole, split;
    sl_buf_init(&whole);
    sl_buf_init(&split);
    fuzz_log_pass(fmt, o, data, size, 0, &whole);
    fuzz_log_pass(fmt, o, data, size, chunk ? chunk : 1, &split);
    if (whole.oom || split.oom)
        abort();
    if (whole.len != split.len || (whole.len && memcmp(whole.data, split.data, whole.len) != 0))
        abort();
    sl_buf_free(&whole);
    sl_buf_free(&split);
}

#endif
