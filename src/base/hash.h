/* base/hash.h: FNV-1a, the one non-cryptographic hash of short keys.
 *
 * For hash tables of names (column maps, duplicate checks, statement
 * caches) and for values that must stay the same across versions and hosts:
 * a lease's lock key (destination.h, sl_lease_key), the hash that ends a
 * name too long for PostgreSQL. Those values are stored or computed outside
 * sluice too (tests compute lease keys in Python), so these functions never
 * change what they return. Pass a basis below to start, or an earlier
 * result to go on hashing more bytes as if they followed. */
#ifndef SL_HASH_H
#define SL_HASH_H

#include <stddef.h>
#include <stdint.h>

/* FNV's own 64-bit offset basis (14695981039346656037). */
#define SL_FNV1A64_INIT UINT64_C(0xcbf29ce484222325)
/* The 64-bit basis the rest of sluice has always started from: FNV's, written
 * with its last digit lost (1469598103934665603). Lease keys are made with it
 * and must not change (a daemon of the previous version takes the same lock);
 * the in-process tables that use it keep it so nothing they do changes. */
#define SL_FNV1A64_SLUICE_INIT UINT64_C(1469598103934665603)
/* FNV's own 32-bit offset basis (2166136261). */
#define SL_FNV1A32_INIT UINT32_C(0x811c9dc5)

/* FNV-1a 64 of p[0..n), continuing from h. */
uint64_t sl_fnv1a64(uint64_t h, const void *p, size_t n);
/* The same over the NUL-terminated s. */
uint64_t sl_fnv1a64_str(uint64_t h, const char *s);
/* FNV-1a 32 of p[0..n), continuing from h. */
uint32_t sl_fnv1a32(uint32_t h, const void *p, size_t n);

#endif
