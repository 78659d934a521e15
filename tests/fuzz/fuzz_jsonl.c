/* fuzz_jsonl: the JSON-lines reader over arbitrary bytes, at a chunk size
 * chosen by the first byte so every buffer split is met. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "base/stream.h"
#include "formats/format.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    size_t chunk = data[0] % 17;    /* 0 = whole input per read */
    struct sl_err err;
    struct sl_stream *st = NULL;
    struct sl_reader *rd = NULL;
    struct sl_format_opts opts = {.header = 1, .max_record = 4096};

    if (sl_stream_open_mem(&st, "fuzz.jsonl", data + 1, size - 1, chunk, &err) < 0)
        return 0;
    if (sl_format_jsonl.open(&rd, st, &opts, &err) == 0) {
        struct sl_record rec;
        int rc;
        while ((rc = sl_format_jsonl.next(rd, &rec, &err)) == 1) {
            for (size_t i = 0; i < rec.nfields; i++) {
                const struct sl_field *f = &rec.fields[i];
                if (f->len && !f->val)
                    abort();
                if (f->line < 1 || f->col < 1)
                    abort();
            }
        }
        sl_format_jsonl.close(rd);
    }
    sl_stream_close(st);
    return 0;
}
