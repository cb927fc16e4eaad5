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
