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

/* d/dx [x sigmoid(2u)] = sg + 2x sg (1 - sg) u' with sg = sigmoid(2u), u' = sqrt(2/pi)(1 + 3 * 0.044715 x^2):
 * the tanh form's 0.5(1 + tanh u) + 0.5x(1 - tanh^2 u)u' rewritten through tanh u = 2sg - 1, as the forward is. */
void frz_gelu_tanh_backward(float *dinp, const float *dout, const float *inp, size_t n, int nth)
{
    #pragma omp parallel for simd num_threads(nth) if (n >= FRZ_NN_PAR_MIN)
    for (size_t i = 0; i < n; i++) {
        float x = inp[i];
        float u = GELU_SCALE * (x + 0.044715f * x * x * x);
        float du = GELU_SCALE * (1.0f + 3.0f * 0.044715f * x * x);
        float sg = 1.0f / (1.0f + frz_fast_expf(-2.0f * u));
        dinp[i] += (sg + 2.0f * x * sg * (1.0f - sg) * du) * dout[i];
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

/* d/dx [0.5x(1 + erf(x/sqrt2))] = 0.5(1 + erf(x/sqrt2)) + x phi(x), phi the standard normal density. */
void frz_gelu_erf_backward(float *dinp, const float *dout, const float *inp, size_t n, int nth)
{
    #pragma omp parallel for num_threads(nth) if (n >= FRZ_NN_PAR_MIN)
    for (size_t i = 0; i < n; i++) {
        float x = inp[i];
        float cdf = 0.5f * (1.0f + erff(x * 0.7071067811865476f));
        float pdf = 0.3989422804014327f * expf(-0.5f * x * x);
        dinp[i] += (cdf + x * pdf) * dout[i];
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

void frz_activation_backward(frz_activation act, float *dinp, const float *dout, const float *inp, size_t n,
                             int nth)
{
    switch (act) {
    case FRZ_ACT_GELU_TANH: frz_gelu_tanh_backward(dinp, dout, inp, n, nth); break;
    case FRZ_ACT_GELU_ERF: frz_gelu_erf_backward(dinp, dout, inp, n, nth); break;
    case FRZ_ACT_RELU: frz_relu_backward(dinp, dout, inp, n, 1.0f, nth); break;
    }
}
