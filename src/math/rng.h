/* rng.h -- the library's random numbers: xoshiro256** (Blackman & Vigna) seeded through splitmix64, so a
 * 64-bit seed gives the same stream on every platform. Used by sampling and by random test models. */
#ifndef FRZ_RNG_H
#define FRZ_RNG_H

#include <stdint.h>

typedef struct frz_rng {
    uint64_t s[4];
} frz_rng;

void frz_rng_seed(frz_rng *rng, uint64_t seed);
uint64_t frz_rng_next(frz_rng *rng);
/* Uniform in [0, 1) with 53 random bits. */
double frz_rng_uniform(frz_rng *rng);
/* Standard normal (Box-Muller). */
double frz_rng_normal(frz_rng *rng);

#endif
