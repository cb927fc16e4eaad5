/* rng.h -- a small seeded random number generator for weight initialisation (splitmix64).
 * Internal to the vision encoder until a shared src/math/rng.h exists; the sequence for a seed is fixed
 * forever, so an initialisation is reproducible across builds and machines. */
#ifndef FRZ_VISION_RNG_H
#define FRZ_VISION_RNG_H

#include <stdint.h>

typedef struct frz_vrng {
    uint64_t state;
} frz_vrng;

void frz_vrng_seed(frz_vrng *r, uint64_t seed);
/* Next 64 random bits. */
uint64_t frz_vrng_u64(frz_vrng *r);
/* Uniform in [0, 1), 53 random bits. */
double frz_vrng_uniform(frz_vrng *r);
/* Standard normal (Box-Muller; one draw per call, the sine half is not kept, so no hidden state). */
double frz_vrng_normal(frz_vrng *r);

#endif
