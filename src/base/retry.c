/* base/retry.c: see retry.h. */
#include "base/retry.h"

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>

int sl_retry_attempts(void)
{
    const char *s = getenv("SLUICE_RETRIES");
    long n = s ? strtol(s, NULL, 10) : 6;
    return n < 1 ? 1 : (int)n;
}

/* A uniform draw in [0, 1) from this thread's own xorshift64* state
 * (rand() is not thread-safe), seeded from the clock and the thread. */
static double jitter(void)
{
    static _Thread_local uint64_t x;
    if (!x) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        x = ((uint64_t)ts.tv_sec * 1000000007ULL) ^ (uint64_t)ts.tv_nsec ^
            ((uint64_t)(uintptr_t)pthread_self() << 1) ^ 0x9E3779B97F4A7C15ULL;
        if (!x)
            x = 1;
    }
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    return (double)((x * 2685821657736338717ULL) >> 11) / 9007199254740992.0;
}

void sl_retry_sleep(int attempt)
{
    const char *s = getenv("SLUICE_RETRY_BASE_MS");
    long base = s ? strtol(s, NULL, 10) : 500;
    double ms = (double)base;
    for (int i = 1; i < attempt && ms < 30000; i++)
        ms *= 2;
    if (ms > 30000)
        ms = 30000;
    ms = ms / 2 + (ms / 2) * jitter();
    struct timespec ts = {(time_t)(ms / 1000), (long)((long)ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}
