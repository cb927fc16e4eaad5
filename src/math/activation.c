/* activation.c -- the MLP's nonlinearity: GELU (tanh approximation or exact erf) or ReLU. */
#include "math/nn.h"

#include "math/fast_exp.h"

#include <math.h>
#include <stdint.h>
#include <string.h>

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

/* ReLU with an output scale (the NF block's pre-activation is relu(x) * beta; the LM's MLP uses scale 1). out
 * may be inp. */
void frz_relu_forward(float *out, const float *inp, size_t n, float scale, int nth)
{
    #pragma omp parallel for simd num_threads(nth) if (n >= FRZ_NN_PAR_MIN)
    for (size_t i = 0; i < n; i++) out[i] = (inp[i] > 0.0f ? inp[i] : 0.0f) * scale;
}

/* dinp += dout * scale where x > 0; x may be the ReLU's input or its output (same sign pattern). Written with the
 * sign test on x's bits so gcc -O2 vectorises it (a float compare in the body is control flow to it); for every
 * non-NaN float the test agrees with x > 0 (+0 and -0 are not positive, denormals are). */
void frz_relu_backward(float *dinp, const float *dout, const float *x, size_t n, float scale, int nth)
{
    #pragma omp parallel for simd num_threads(nth) if (n >= FRZ_NN_PAR_MIN)
    for (size_t i = 0; i < n; i++) {
        float g = dout[i] * scale, r;
        int32_t xb;
        uint32_t gb;
        memcpy(&xb, &x[i], sizeof xb);
        memcpy(&gb, &g, sizeof gb);
        gb &= (uint32_t)-(int32_t)(xb > 0); /* all ones where x > 0, else zero */
        memcpy(&r, &gb, sizeof r);
        dinp[i] += r;
    }
}

void frz_activation_forward(frz_activation act, float *out, const float *inp, size_t n, int nth)
{
    switch (act) {
    case FRZ_ACT_GELU_TANH: frz_gelu_tanh_forward(out, inp, n, nth); break;
    case FRZ_ACT_GELU_ERF: frz_gelu_erf_forward(out, inp, n, nth); break;
    case FRZ_ACT_RELU: frz_relu_forward(out, inp, n, 1.0f, nth); break;
    }
}
