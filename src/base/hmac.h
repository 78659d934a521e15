/* base/hmac.h: HMAC-SHA256, the one use of OpenSSL (libcrypto).
 *
 * For protected columns (model/protect.h): `protect: { email: hash }` stores
 * the keyed hash of a value, so equal values still join and the value cannot
 * be read back. This file is the only one that includes OpenSSL. */
#ifndef SL_HMAC_H
#define SL_HMAC_H

#include <stddef.h>

#define SL_HMAC_SHA256_LEN 32
#define SL_HMAC_SHA256_HEX (2 * SL_HMAC_SHA256_LEN)

/* HMAC-SHA256 of msg[0..n) under key[0..keylen) into out[32]. 0, or -1
 * when libcrypto fails (out of memory). */
int sl_hmac_sha256(const void *key, size_t keylen, const void *msg, size_t n,
                   unsigned char out[SL_HMAC_SHA256_LEN]);
/* The same as 64 lowercase hex digits and a NUL in hex[65]. */
int sl_hmac_sha256_hex(const void *key, size_t keylen, const void *msg, size_t n,
                       char hex[SL_HMAC_SHA256_HEX + 1]);

#endif
