/* fuzz_json: the strict JSON scanner and unescaper on arbitrary bytes.
 * Checks that validate and scan agree, that a scanned value never claims
 * more bytes than it was given, and that every accepted string decodes. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/json.h"
#include "base/mem.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *s = (const char *)data;
    size_t off = 0;
    char why[128];
    int v = sl_json_validate(s, size, &off, why, sizeof why);
    if (v < 0 && off > size)
        abort();

    struct sl_json_token tok;
    size_t start = sl_json_skip_ws(s, size, 0);
    if (sl_json_scan(s + start, size - start, &tok, &off, why, sizeof why) == 0) {
        if (tok.len == 0 || tok.len > size - start)
            abort();
        /* a whole-input value that validates must scan to the same end */
        if (v == 0 && sl_json_skip_ws(s, size, start + tok.len) != size)
            abort();
        if (tok.kind == SL_JSON_STRING) {
            struct sl_buf b;
            sl_buf_init(&b);
            (void)sl_json_unescape(s + start + 1, tok.len - 2, &b, &off, why, sizeof why);
            sl_buf_free(&b);
        }
    } else if (v == 0) {
        abort();    /* validate accepted what scan rejected */
    }
    return 0;
}
