/* fast_exp.h -- a branch-free expf that compilers vectorize (libm's expf/tanhf are scalar calls, and GELU and the
 * attention softmax call them millions of times per batch). Cephes' method: exp(x) = 2^n exp(r) with
 * n = round(x / ln 2), r = x - n ln 2 (ln 2 split in two for exactness), exp(r) by a degree-7 polynomial on
 * |r| <= ln2/2, 2^n built in the exponent bits. Relative error about 2e-7 (a couple of float ulps) for
 * x in [-87, 88]; inputs outside are clamped (results 1.6e-38 .. 1.7e38), never inf for finite x; NaN stays NaN.
 *
 * The clamp is done on integers, not with float compares: gcc (12) splits `x < -87 ? -87 : x` into separate
 * paths, folds exp on the clamped ones to constants, and a vectorised loop then computes every path for every
 * lane -- GELU's x / (1 + 1.7e38) is a denormal for most x, and each denormal costs a microcode assist: GELU's
 * forward ran at a third of its speed. Integer min/max have no such paths. A float's bits read as an int32 order
 * like the float for x >= 0 and backwards for x < 0; flipping the low 31 bits of the negative ones (frz_float_order)
 * makes them order like the float everywhere, so the clamp is two integer min/max. */
#ifndef FRZ_FAST_EXP_H
#define FRZ_FAST_EXP_H

#include <stdint.h>
#include <string.h>

/* A float's bits as an int32 that orders like the float: the bits of x >= 0 as they are, those of x < 0 with the
 * low 31 flipped. The map is its own inverse. */
static inline int32_t frz_float_order(int32_t bits)
{
    return bits ^ (-(int32_t)(bits < 0) & 0x7fffffff);
}

static inline float frz_fast_expf(float x_in)
{
    const float lo_f = -87.0f, hi_f = 88.0f;
    int32_t in_bits, lo, hi;
    memcpy(&in_bits, &x_in, sizeof in_bits);
    memcpy(&lo, &lo_f, sizeof lo);
    memcpy(&hi, &hi_f, sizeof hi);
    lo = frz_float_order(lo);
    hi = frz_float_order(hi);
    int32_t key = frz_float_order(in_bits);
    key = key < lo ? lo : key;
    key = key > hi ? hi : key;
    key = frz_float_order(key);
    float x;
    memcpy(&x, &key, sizeof x);
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
    /* A NaN input (its key lies beyond infinity's, so it was clamped) gives NaN back, selected on integers too. */
    float e = p * scale;
    int32_t out_bits;
    memcpy(&out_bits, &e, sizeof out_bits);
    out_bits = (in_bits & 0x7fffffff) > 0x7f800000 ? in_bits : out_bits;
    memcpy(&e, &out_bits, sizeof e);
    return e;
}

#endif
