/* layernorm.c -- layer normalisation over the last dimension. */
#include "math/nn.h"

#include <math.h>

void frz_layernorm_forward(float *out, float *mean, float *rstd, const float *inp, const float *weight,
                           const float *bias, size_t N, int C, float eps, int nth)
{
    #pragma omp parallel for num_threads(nth) if (N * (size_t)C >= FRZ_NN_PAR_MIN)
    for (size_t r = 0; r < N; r++) {
        const float *x = inp + r * (size_t)C;
        float *o = out + r * (size_t)C;
        /* Two passes (mean, then variance about it) avoid the cancellation of E[x^2] - E[x]^2. */
        float m = 0.0f;
        #pragma omp simd reduction(+ : m)
        for (int i = 0; i < C; i++) m += x[i];
        m /= (float)C;
        float v = 0.0f;
        #pragma omp simd reduction(+ : v)
        for (int i = 0; i < C; i++) v += (x[i] - m) * (x[i] - m);
        v /= (float)C;
        float s = 1.0f / sqrtf(v + eps);
        for (int i = 0; i < C; i++) o[i] = (x[i] - m) * s * weight[i] + bias[i];
        if (mean) mean[r] = m;
        if (rstd) rstd[r] = s;
    }
}

/* Column blocks for the weight gradients: each thread sums its own columns over all rows, so no two threads
 * write the same element and the inner loop runs over contiguous memory. */
#define LN_COL_BLOCK 64

void frz_layernorm_backward(float *dinp, float *dweight, float *dbias, const float *dout, const float *inp,
                            const float *weight, const float *mean, const float *rstd, size_t N, int C, int nth)
{
    const int par = N * (size_t)C >= FRZ_NN_PAR_MIN;
    /* With n = (x - mean) rstd and g = dout * weight:  dinp = rstd (g - mean(g) - n mean(g n)). */
    #pragma omp parallel for num_threads(nth) if (par)
    for (size_t r = 0; r < N; r++) {
        const float *x = inp + r * (size_t)C, *d = dout + r * (size_t)C;
        float *dx = dinp + r * (size_t)C;
        const float m = mean[r], s = rstd[r];
        float g_mean = 0.0f, gn_mean = 0.0f;
        #pragma omp simd reduction(+ : g_mean, gn_mean)
        for (int i = 0; i < C; i++) {
            float g = d[i] * weight[i];
            g_mean += g;
            gn_mean += g * (x[i] - m) * s;
        }
        g_mean /= (float)C;
        gn_mean /= (float)C;
        #pragma omp simd
        for (int i = 0; i < C; i++) dx[i] += s * (d[i] * weight[i] - g_mean - (x[i] - m) * s * gn_mean);
    }
    if (!dweight && !dbias) return;
    const int n_blocks = (C + LN_COL_BLOCK - 1) / LN_COL_BLOCK;
    #pragma omp parallel for num_threads(nth) if (par)
    for (int blk = 0; blk < n_blocks; blk++) {
        const int i0 = blk * LN_COL_BLOCK, i1 = i0 + LN_COL_BLOCK < C ? i0 + LN_COL_BLOCK : C;
        for (size_t r = 0; r < N; r++) {
            const float *x = inp + r * (size_t)C, *d = dout + r * (size_t)C;
            const float m = mean[r], s = rstd[r];
            if (dweight)
                for (int i = i0; i < i1; i++) dweight[i] += (x[i] - m) * s * d[i];
            if (dbias)
                for (int i = i0; i < i1; i++) dbias[i] += d[i];
        }
    }
}
