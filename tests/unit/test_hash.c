/* tests/unit/test_hash.c: FNV-1a (base/hash.c) gives FNV's published values
 * from FNV's bases, goes on from an earlier result as if the bytes had been
 * one run, and gives the lease keys that the integration tests compute in
 * Python (t_reconcile.sh, t_concurrent_runs.sh) from sluice's own basis. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "base/hash.h"
#include "destinations/destination.h"

static void fnv1a64_gives_the_published_values(void **state)
{
    (void)state;
    assert_true(sl_fnv1a64(SL_FNV1A64_INIT, "", 0) == SL_FNV1A64_INIT);
    assert_true(sl_fnv1a64(SL_FNV1A64_INIT, "a", 1) == UINT64_C(0xaf63dc4c8601ec8c));
    assert_true(sl_fnv1a64(SL_FNV1A64_INIT, "foobar", 6) == UINT64_C(0x85944171f73967e8));
    assert_true(sl_fnv1a64_str(SL_FNV1A64_INIT, "foobar") == UINT64_C(0x85944171f73967e8));
}

static void fnv1a32_gives_the_published_values(void **state)
{
    (void)state;
    assert_true(sl_fnv1a32(SL_FNV1A32_INIT, "", 0) == UINT32_C(2166136261));
    assert_true(sl_fnv1a32(SL_FNV1A32_INIT, "a", 1) == UINT32_C(0xe40c292c));
    assert_true(sl_fnv1a32(SL_FNV1A32_INIT, "foobar", 6) == UINT32_C(0xbf9cf968));
}

static void continuing_is_hashing_the_bytes_together(void **state)
{
    (void)state;
    uint64_t h = sl_fnv1a64(SL_FNV1A64_SLUICE_INIT, "foo", 3);
    assert_true(sl_fnv1a64_str(h, "bar") == sl_fnv1a64(SL_FNV1A64_SLUICE_INIT, "foobar", 6));
    uint32_t g = sl_fnv1a32(SL_FNV1A32_INIT, "foo", 3);
    assert_true(sl_fnv1a32(g, "bar", 3) == sl_fnv1a32(SL_FNV1A32_INIT, "foobar", 6));
}

static void lease_keys_stay_what_they_were(void **state)
{
    (void)state;
    assert_true(SL_FNV1A64_SLUICE_INIT == UINT64_C(1469598103934665603));
    assert_true(sl_lease_key("public.orders") == UINT64_C(0x9a9549d6abf87430));
    assert_true(sl_lease_key("orders") == UINT64_C(0xc0ab27e0cf9d23bd));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(fnv1a64_gives_the_published_values),
        cmocka_unit_test(fnv1a32_gives_the_published_values),
        cmocka_unit_test(continuing_is_hashing_the_bytes_together),
        cmocka_unit_test(lease_keys_stay_what_they_were),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
