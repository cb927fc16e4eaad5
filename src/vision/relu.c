/* relu.c -- ReLU with an output scale (the NF block's pre-activation h = relu(x) * beta).
 *
 * Written so gcc -O2 vectorises both loops (a float compare inside the loop body is "control flow" to it):
 * the forward as a max followed by the multiply, the backward with the sign test on x's bits, which for every
 * non-NaN float agrees with x > 0 (+0 and -0 are not positive; denormals are). */
#include "vision/layers.h"

#if defined(__clang__)
/* clang -O1 (the sanitizer build) may decline an omp simd loop and then warns; the hint matters at -O2 only. */
#pragma clang diagnostic ignored "-Wpass-failed"
#endif

#include <stdint.h>
#include <string.h>

void frz_relu_forward(float *out, const float *inp, size_t N, float scale, int n_threads)
{
    /* simd: out may be inp, but only at the same index */
#pragma omp parallel for simd num_threads(n_threads) schedule(static)
    for (size_t i = 0; i < N; i++) out[i] = (inp[i] > 0.0f ? inp[i] : 0.0f) * scale;
}

void frz_relu_backward(float *dinp, const float *dout, const float *x, size_t N, float scale, int n_threads)
{
#pragma omp parallel for simd num_threads(n_threads) schedule(static)
    for (size_t i = 0; i < N; i++) {
        float g = dout[i] * scale, r;
        int32_t xb;
        uint32_t gb;
        memcpy(&xb, &x[i], sizeof xb);
        memcpy(&gb, &g, sizeof gb);
        gb &= (uint32_t)-(int32_t)(xb > 0);  /* all ones where x > 0, else zero */
        memcpy(&r, &gb, sizeof r);
        dinp[i] += r;
    }
}
