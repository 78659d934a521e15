/* fuzz_value: canonicalization and inference of one value for every type,
 * in UTC and in a zone with DST. A value accepted for a type must
 * canonicalize again to itself (canonical text is a fixed point). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/mem.h"
#include "base/value.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    const char *s = (const char *)data + 1;
    size_t n = size - 1;
    enum sl_lex lex = (enum sl_lex)(data[0] % 5);
    struct sl_valctx ctx = {(data[0] & 0x80) ? "America/New_York" : NULL,
                            (enum sl_dst_policy)((data[0] >> 3) % 3),
                            (enum sl_epoch_unit)((data[0] >> 4) % 6)};
    char why[160];
    struct sl_buf out, again;
    struct sl_infer inf;

    sl_buf_init(&out);
    sl_buf_init(&again);
    sl_infer_init(&inf);
    sl_infer_add(&inf, s, n, lex, 0);
    (void)sl_infer_result(&inf);
    for (int t = SL_T_BOOL; t < SL_T__COUNT; t++) {
        out.len = 0;
        int rc = sl_value_canon((enum sl_type)t, s, n, lex, &ctx, &out, why, sizeof why);
        if (rc == 0 && !out.oom && t != SL_T_JSON) {
            again.len = 0;
            struct sl_valctx utc = {NULL, ctx.overlap, ctx.epoch_unit};
            int rc2 = sl_value_canon((enum sl_type)t, out.data, out.len, SL_LEX_RAW, &utc,
                                     &again, why, sizeof why);
            if (rc2 != 0 || again.len != out.len || memcmp(again.data, out.data, out.len))
                abort();
        }
    }
    sl_buf_free(&out);
    sl_buf_free(&again);
    return 0;
}
