/* rng.c -- splitmix64 (Steele, Lea, Flood 2014): one 64-bit state, passes BigCrush, trivially seeded. */
#include "vision/rng.h"

#include <math.h>

void frz_vrng_seed(frz_vrng *r, uint64_t seed)
{
    r->state = seed;
}

uint64_t frz_vrng_u64(frz_vrng *r)
{
    uint64_t z = (r->state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

double frz_vrng_uniform(frz_vrng *r)
{
    return (double)(frz_vrng_u64(r) >> 11) * (1.0 / 9007199254740992.0);
}

double frz_vrng_normal(frz_vrng *r)
{
    /* 1 - u lies in (0, 1], so the log is finite. */
    double u1 = 1.0 - frz_vrng_uniform(r), u2 = frz_vrng_uniform(r);
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586476925 * u2);
}
