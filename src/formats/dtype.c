/* dtype.c -- safetensors dtype names and sizes, and the f16/bf16 -> f32 conversions.
 *
 * The conversions are exact: every f16 and bf16 value (normals, subnormals, zeros, infinities, NaNs with their
 * payload) is representable in f32. They are written branch-free over integers so the array loops vectorise. */
#include "formats/safetensors.h"

#include <string.h>

static const struct { const char *name; size_t size; } dtypes[] = {
    [FRZ_DT_F32] = { "F32", 4 }, [FRZ_DT_F16] = { "F16", 2 }, [FRZ_DT_BF16] = { "BF16", 2 },
    [FRZ_DT_F64] = { "F64", 8 }, [FRZ_DT_I64] = { "I64", 8 }, [FRZ_DT_I32] = { "I32", 4 },
    [FRZ_DT_I16] = { "I16", 2 }, [FRZ_DT_I8] = { "I8", 1 },   [FRZ_DT_U8] = { "U8", 1 },
    [FRZ_DT_BOOL] = { "BOOL", 1 },
};
#define N_DTYPES (sizeof dtypes / sizeof dtypes[0])

const char *frz_dtype_name(frz_dtype dt)
{
    return (unsigned)dt < N_DTYPES ? dtypes[dt].name : "?";
}

size_t frz_dtype_size(frz_dtype dt)
{
    return (unsigned)dt < N_DTYPES ? dtypes[dt].size : 0;
}

int frz_dtype_from_name(const char *name, frz_dtype *out)
{
    for (size_t i = 0; i < N_DTYPES; i++) {
        if (strcmp(name, dtypes[i].name) == 0) {
            *out = (frz_dtype)i;
            return 1;
        }
    }
    return 0;
}

static inline uint32_t f32_bits(float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
}

static inline float bits_f32(uint32_t u)
{
    float f;
    memcpy(&f, &u, 4);
    return f;
}

/* f16: sign 1, exponent 5 (bias 15), mantissa 10. f32: exponent 8 (bias 127), mantissa 23. */
static inline float f16_to_f32_inline(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
    uint32_t em = h & 0x7FFFu;
    /* Normal numbers: shift into place and rebias the exponent by 127 - 15 = 112. */
    uint32_t normal = (em << 13) + (112u << 23);
    /* Inf/NaN (exponent 31) must land on exponent 255: rebias once more (31 + 112 + 112 = 255).
     * Masks (0 or all ones) instead of ?: keep the loop free of branches, which gcc needs to vectorise it. */
    uint32_t infnan = 0u - (uint32_t)(em >= 0x7C00u);
    normal += infnan & (112u << 23);
    /* Subnormals and zero are em * 2^-24; em < 1024 converts to float exactly, and so does the scaling.
     * The result is a normal f32 (>= 2^-24), so flush-to-zero modes cannot touch it. */
    uint32_t sub = f32_bits((float)(int32_t)em * 0x1p-24f);
    uint32_t is_sub = 0u - (uint32_t)(em < 0x0400u);
    return bits_f32(sign | (sub & is_sub) | (normal & ~is_sub));
}

float frz_f16_to_f32(uint16_t h) { return f16_to_f32_inline(h); }

/* bf16 is the upper half of an f32. */
float frz_bf16_to_f32(uint16_t b) { return bits_f32((uint32_t)b << 16); }

/* src may be unaligned (a tensor inside a mapping), hence the memcpy loads. */
void frz_f16_to_f32_array(const void *src, float *dst, size_t n)
{
    const unsigned char *s = src;
#pragma omp simd /* gcc's -O2 cost model would not vectorise this loop otherwise (4-6x slower) */
    for (size_t i = 0; i < n; i++) {
        uint16_t h;
        memcpy(&h, s + 2 * i, 2);
        dst[i] = f16_to_f32_inline(h);
    }
}

void frz_bf16_to_f32_array(const void *src, float *dst, size_t n)
{
    const unsigned char *s = src;
#pragma omp simd /* gcc's -O2 cost model would not vectorise this loop otherwise (4-6x slower) */
    for (size_t i = 0; i < n; i++) {
        uint16_t b;
        memcpy(&b, s + 2 * i, 2);
        dst[i] = bits_f32((uint32_t)b << 16);
    }
}
