/* activation.c -- the MLP's nonlinearity: GELU (tanh approximation or exact erf) or ReLU. */
#include "math/nn.h"

#include "math/fast_exp.h"

#include <math.h>

#define GELU_SCALE 0.7978845608028654f /* sqrt(2/pi) */

/* 0.5x(1 + tanh(u)) computed as x * sigmoid(2u) = x / (1 + exp(-2u)): the same function with one vectorizable
 * exp and no cancellation (for very negative x the quotient goes to -0, as GELU does). */
void frz_gelu_tanh_forward(float *out, const float *inp, size_t n, int nth)
{
    #pragma omp parallel for simd num_threads(nth) if (n >= FRZ_NN_PAR_MIN)
    for (size_t i = 0; i < n; i++) {
        float x = inp[i];
        float u = GELU_SCALE * (x + 0.044715f * x * x * x);
        out[i] = x / (1.0f + frz_fast_expf(-2.0f * u));
    }
}

void frz_gelu_erf_forward(float *out, const float *inp, size_t n, int nth)
{
    #pragma omp parallel for num_threads(nth) if (n >= FRZ_NN_PAR_MIN)
    for (size_t i = 0; i < n; i++) {
        float x = inp[i];
        out[i] = 0.5f * x * (1.0f + erff(x * 0.7071067811865476f));
    }
}

void frz_relu_forward(float *out, const float *inp, size_t n, int nth)
{
    #pragma omp parallel for simd num_threads(nth) if (n >= FRZ_NN_PAR_MIN)
    for (size_t i = 0; i < n; i++) out[i] = inp[i] > 0.0f ? inp[i] : 0.0f;
}

void frz_activation_forward(frz_activation act, float *out, const float *inp, size_t n, int nth)
{
    switch (act) {
    case FRZ_ACT_GELU_TANH: frz_gelu_tanh_forward(out, inp, n, nth); break;
    case FRZ_ACT_GELU_ERF: frz_gelu_erf_forward(out, inp, n, nth); break;
    case FRZ_ACT_RELU: frz_relu_forward(out, inp, n, nth); break;
    }
}
