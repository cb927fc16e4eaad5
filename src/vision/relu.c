/* relu.c -- ReLU with an output scale (the NF block's pre-activation h = relu(x) * beta). */
#include "vision/layers.h"

void frz_relu_forward(float *out, const float *inp, size_t N, float scale, int n_threads)
{
#pragma omp parallel for num_threads(n_threads) schedule(static)
    for (size_t i = 0; i < N; i++) out[i] = inp[i] > 0.0f ? inp[i] * scale : 0.0f;
}

void frz_relu_backward(float *dinp, const float *dout, const float *x, size_t N, float scale, int n_threads)
{
#pragma omp parallel for num_threads(n_threads) schedule(static)
    for (size_t i = 0; i < N; i++)
        if (x[i] > 0.0f) dinp[i] += dout[i] * scale;
}
