/* base/hmac.c: HMAC-SHA256 through OpenSSL (see hmac.h). */
#include "base/hmac.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>

int sl_hmac_sha256(const void *key, size_t keylen, const void *msg, size_t n,
                   unsigned char out[SL_HMAC_SHA256_LEN])
{
    unsigned int len = 0;
    static const unsigned char none = 0;
    /* HMAC() takes NULL data as "no input" only in some versions */
    if (!HMAC(EVP_sha256(), keylen ? key : &none, (int)keylen, n ? msg : &none, n, out, &len) ||
        len != SL_HMAC_SHA256_LEN)
        return -1;
    return 0;
}

int sl_hmac_sha256_hex(const void *key, size_t keylen, const void *msg, size_t n,
                       char hex[SL_HMAC_SHA256_HEX + 1])
{
    static const char digits[] = "0123456789abcdef";
    unsigned char mac[SL_HMAC_SHA256_LEN];
    if (sl_hmac_sha256(key, keylen, msg, n, mac) < 0)
        return -1;
    for (size_t i = 0; i < SL_HMAC_SHA256_LEN; i++) {
        hex[2 * i] = digits[mac[i] >> 4];
        hex[2 * i + 1] = digits[mac[i] & 15];
    }
    hex[SL_HMAC_SHA256_HEX] = '\0';
    return 0;
}
