/* fast_exp.h -- a branch-free expf that compilers vectorize (libm's expf/tanhf are scalar calls, and GELU and the
 * attention softmax call them millions of times per batch). Cephes' method: exp(x) = 2^n exp(r) with
 * n = round(x / ln 2), r = x - n ln 2 (ln 2 split in two for exactness), exp(r) by a degree-7 polynomial on
 * |r| <= ln2/2, 2^n built in the exponent bits. Relative error about 2e-7 (a couple of float ulps) for
 * x in [-87, 88]; inputs outside are clamped (results 1.6e-38 .. 1.7e38), never inf or NaN for finite x. */
#ifndef FRZ_FAST_EXP_H
#define FRZ_FAST_EXP_H

#include <stdint.h>
#include <string.h>

static inline float frz_fast_expf(float x)
{
    x = x < -87.0f ? -87.0f : x;
    x = x > 88.0f ? 88.0f : x;
    /* round(x * log2(e)) by the 1.5 * 2^23 trick: adds and subtracts vectorize where floorf may not */
    const float magic = 12582912.0f;
    float n = (x * 1.44269504088896341f + magic) - magic;
    float r = x - n * 0.693359375f;
    r = r - n * -2.12194440e-4f;
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * r * r + r + 1.0f;
    int32_t bits = ((int32_t)n + 127) << 23; /* n in [-126, 127]: a normal power of two */
    float scale;
    memcpy(&scale, &bits, sizeof scale);
    return p * scale;
}

#endif
