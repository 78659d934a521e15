/* base/hash.c: FNV-1a (see hash.h). */
#include "base/hash.h"

#define FNV64_PRIME UINT64_C(0x100000001b3)     /* 1099511628211 */
#define FNV32_PRIME UINT32_C(0x01000193)        /* 16777619 */

uint64_t sl_fnv1a64(uint64_t h, const void *p, size_t n)
{
    const unsigned char *s = p;
    for (size_t i = 0; i < n; i++)
        h = (h ^ s[i]) * FNV64_PRIME;
    return h;
}

uint64_t sl_fnv1a64_str(uint64_t h, const char *s)
{
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * FNV64_PRIME;
    return h;
}

uint32_t sl_fnv1a32(uint32_t h, const void *p, size_t n)
{
    const unsigned char *s = p;
    for (size_t i = 0; i < n; i++)
        h = (h ^ s[i]) * FNV32_PRIME;
    return h;
}
