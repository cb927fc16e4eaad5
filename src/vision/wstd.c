/* wstd.c -- scaled weight standardisation, forward and backward (see layers.h).
 * The sums run in double: a 3x3 conv of 512 channels standardises over 4608 weights, and the mean and variance
 * feed every output of the layer. They run as SIMD reductions (partial sums per vector lane, added at the end):
 * one serial chain of double additions made this a tenth of a demo training step. Each row is read once for its
 * sums (the variance as E[w^2] - mean^2: in double the cancellation costs nothing next to float's precision,
 * weights being far from constant) and once more to write; the per-weight arithmetic of that second pass is in
 * float, four lanes where double has two (its result is a float anyway). */
#include "vision/layers.h"

#include <math.h>

void frz_wstd_forward(float *w_hat, float *mean, float *rstd, const float *w, const float *gain, int OC, int F,
                      float scale, float eps, int n_threads)
{
#pragma omp parallel for num_threads(n_threads) schedule(static)
    for (int o = 0; o < OC; o++) {
        const float *wo = w + (size_t)o * F;
        double sum = 0.0, sum_sq = 0.0;
        #pragma omp simd reduction(+ : sum, sum_sq)
        for (int i = 0; i < F; i++) {
            sum += wo[i];
            sum_sq += (double)wo[i] * wo[i];
        }
        double m = sum / F, var = sum_sq / F - m * m;  /* biased variance, as batch_norm in training mode */
        double r = 1.0 / sqrt((var > 0.0 ? var : 0.0) + eps);
        const float mf = (float)m, mul = (float)(r * gain[o] * scale);
        float *out = w_hat + (size_t)o * F;
        #pragma omp simd
        for (int i = 0; i < F; i++) out[i] = (wo[i] - mf) * mul;
        mean[o] = mf;
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
        const double m = mean[o], r = rstd[o];
        double sum_g = 0.0, sum_gw = 0.0;
        #pragma omp simd reduction(+ : sum_g, sum_gw)
        for (int i = 0; i < F; i++) {
            sum_g += go[i];
            sum_gw += (double)go[i] * wo[i];
        }
        const double sum_gx = (sum_gw - m * sum_g) * r;  /* sum(dw_hat xhat) */
        dgain[o] += (float)(scale * sum_gx);
        const float mean_g = (float)(sum_g / F), mean_gx = (float)(sum_gx / F), mf = mean[o], rf = rstd[o];
        const float mul = (float)((double)gain[o] * scale * r);
        float *d = dw + (size_t)o * F;
        #pragma omp simd
        for (int i = 0; i < F; i++) d[i] += mul * (go[i] - mean_g - (wo[i] - mf) * rf * mean_gx);
    }
}
