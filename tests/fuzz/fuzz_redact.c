/* fuzz_redact: the password filter and the connection-string checks on any
 * text. The output always fits and is terminated; a password in a URL's user
 * info (the input's own "scheme://user:SECRET@host" with a plain SECRET)
 * never survives; registering a string's passwords and checking it with
 * libpq's parser never crash. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/mem.h"
#include "pg/pg.h"
#include "base/redact.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > 4096)
        return 0;
    size_t cap = (size_t)data[0] % 200 + 1;
    char *in = sl_malloc(size);
    if (!in)
        return 0;
    memcpy(in, data + 1, size - 1);
    in[size - 1] = '\0';

    char *out = sl_malloc(cap + 1);
    if (!out) {
        sl_free(in);
        return 0;
    }
    out[cap] = 'Z';                     /* the byte past cap is never written */
    sl_redact(in, out, cap);
    if (out[cap] != 'Z' || strlen(out) >= cap)
        abort();

    /* a plain URL password, written after the input, is gone from the output */
    char big[8192];
    static const char url[] = " postgresql://u:Zq7xWv9kPassw0rd@h/db ";
    size_t n = strlen(in);
    if (n + sizeof url < sizeof big && !strchr(in, '\'') && !strchr(in, '"') &&
        !strstr(in, "Zq7x")) {
        memcpy(big, in, n);
        memcpy(big + n, url, sizeof url);
        char red[16384];
        sl_redact(big, red, sizeof red);
        if (strstr(red, "Zq7xWv9kPassw0rd"))
            abort();
    }

    if (data[0] & 1) {
        char why[512];
        sl_redact_add_conninfo(in);
        sl_pg_conninfo_check(in, why, sizeof why);
        sl_redact_forget();
    }
    sl_free(out);
    sl_free(in);
    return 0;
}
