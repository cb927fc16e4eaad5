/* wstd.c -- scaled weight standardisation, forward and backward (see layers.h).
 * Sums run in double: a 3x3 conv of 512 channels standardises over 4608 weights, and the mean and variance
 * feed every output of the layer. They run as SIMD reductions (partial sums per vector lane, added at the end):
 * one serial chain of double additions made this a tenth of a demo training step. */
#include "vision/layers.h"

#include <math.h>

void frz_wstd_forward(float *w_hat, float *mean, float *rstd, const float *w, const float *gain, int OC, int F,
                      float scale, float eps, int n_threads)
{
#pragma omp parallel for num_threads(n_threads) schedule(static)
    for (int o = 0; o < OC; o++) {
        const float *wo = w + (size_t)o * F;
        double sum = 0.0;
        #pragma omp simd reduction(+ : sum)
        for (int i = 0; i < F; i++) sum += wo[i];
        double m = sum / F, ss = 0.0;
        #pragma omp simd reduction(+ : ss)
        for (int i = 0; i < F; i++) {
            double d = wo[i] - m;
            ss += d * d;
        }
        double r = 1.0 / sqrt(ss / F + eps);  /* biased variance, as batch_norm in training mode */
        float mul = (float)(r * gain[o] * scale);
        float *out = w_hat + (size_t)o * F;
        for (int i = 0; i < F; i++) out[i] = (float)(wo[i] - m) * mul;
        mean[o] = (float)m;
        rstd[o] = (float)r;
    }
}

/* With xhat = (w - mean) rstd and w_hat = gain scale xhat:
 *   dgain += scale sum(dw_hat xhat)
 *   dw    += gain scale rstd (dw_hat - mean(dw_hat) - xhat mean(dw_hat xhat))
 * the usual normalisation backward (the mean and the variance both depend on every weight). */
void frz_wstd_backward(float *dw, float *dgain, const float *dw_hat, const float *w, const float *gain,
                       const float *mean, const float *rstd, int OC, int F, float scale, int n_threads)
{
#pragma omp parallel for num_threads(n_threads) schedule(static)
    for (int o = 0; o < OC; o++) {
        const float *wo = w + (size_t)o * F, *go = dw_hat + (size_t)o * F;
        double m = mean[o], r = rstd[o];
        double sum_g = 0.0, sum_gx = 0.0;
        #pragma omp simd reduction(+ : sum_g, sum_gx)
        for (int i = 0; i < F; i++) {
            double xhat = (wo[i] - m) * r;
            sum_g += go[i];
            sum_gx += go[i] * xhat;
        }
        dgain[o] += (float)(scale * sum_gx);
        double mean_g = sum_g / F, mean_gx = sum_gx / F, mul = (double)gain[o] * scale * r;
        float *d = dw + (size_t)o * F;
        for (int i = 0; i < F; i++) {
            double xhat = (wo[i] - m) * r;
            d[i] += (float)(mul * (go[i] - mean_g - xhat * mean_gx));
        }
    }
}
