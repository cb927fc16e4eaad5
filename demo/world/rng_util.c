/* rng_util.c -- the world's random streams: one per part, integers without modulo bias, shuffles. */
#include "world.h"

#include <stdlib.h>

void world_rng(frz_rng *rng, uint64_t seed, const char *part)
{
    uint64_t h = 1469598103934665603ull; /* FNV-1a of the part's name */
    for (const char *p = part; *p; p++) h = (h ^ (uint8_t)*p) * 1099511628211ull;
    frz_rng_seed(rng, seed ^ (h * 0x9E3779B97F4A7C15ull)); /* splitmix64 inside spreads the bits */
}

uint32_t w_below(frz_rng *rng, uint32_t n)
{
    /* Reject the top, incomplete copy of [0, n) in 2^64. */
    const uint64_t limit = UINT64_MAX - UINT64_MAX % n;
    uint64_t r;
    do r = frz_rng_next(rng);
    while (r >= limit);
    return (uint32_t)(r % n);
}

void w_shuffle(frz_rng *rng, int *a, size_t n)
{
    for (size_t i = n; i > 1; i--) {
        size_t j = w_below(rng, (uint32_t)i);
        int t = a[i - 1];
        a[i - 1] = a[j];
        a[j] = t;
    }
}

frz_status w_choose(frz_rng *rng, int n, int k, int *out)
{
    if (k < 0 || k > n) return frz_fail(FRZ_ERR_INVALID_ARG, "cannot choose %d of %d", k, n);
    int *all = frz_malloc((size_t)n * sizeof *all + 1, "choice");
    if (!all) return FRZ_ERR_NOMEM;
    for (int i = 0; i < n; i++) all[i] = i;
    /* a partial Fisher-Yates: the first k places */
    for (int i = 0; i < k; i++) {
        int j = i + (int)w_below(rng, (uint32_t)(n - i));
        int t = all[i];
        all[i] = all[j];
        all[j] = t;
        out[i] = all[i];
    }
    free(all);
    return FRZ_OK;
}
