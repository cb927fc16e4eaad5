/* adam.c -- the optimiser step (see adam.h). */
#include "train/adam.h"

#include <math.h>

#define ADAM_PAR_MIN 65536      /* below this, one thread: waking a team costs more */
#define SUMSQ_CHUNKS 256        /* frz_sum_squares' partial sums */

void frz_adam_update(float *param, const float *grad, float *m, float *v, size_t n, const frz_adam_hp *hp,
                     int64_t t, float grad_scale, int n_threads)
{
    const float b1 = hp->beta1, b2 = hp->beta2, lr = hp->lr, eps = hp->eps;
    /* Bias corrections in double: beta2^t with beta2 = 0.95 underflows nothing, but 1 - beta^t loses digits in
     * float for small t. */
    const float c1 = (float)(1.0 - pow((double)b1, (double)t));
    const float c2 = (float)(1.0 - pow((double)b2, (double)t));
    /* With no weight decay the factor is exactly 1 and the product leaves the parameter as it is, bit for bit: one
     * branch-free loop (vectorized) serves both. */
    const float decay = 1.0f - lr * hp->weight_decay;
    #pragma omp parallel for simd num_threads(n_threads) schedule(static) if (n >= ADAM_PAR_MIN)
    for (size_t i = 0; i < n; i++) {
        float g = grad[i] * grad_scale;
        float mi = b1 * m[i] + (1.0f - b1) * g;
        float vi = b2 * v[i] + (1.0f - b2) * g * g;
        m[i] = mi;
        v[i] = vi;
        param[i] = param[i] * decay - lr * (mi / c1) / (sqrtf(vi / c2) + eps);
    }
}

double frz_sum_squares(const float *g, size_t n, int n_threads)
{
    /* SUMSQ_CHUNKS partial sums whose boundaries depend on n alone, added in order. */
    double part[SUMSQ_CHUNKS];
    size_t chunk = (n + SUMSQ_CHUNKS - 1) / SUMSQ_CHUNKS;
    #pragma omp parallel for num_threads(n_threads) schedule(static) if (n >= ADAM_PAR_MIN)
    for (size_t c = 0; c < SUMSQ_CHUNKS; c++) {
        size_t begin = c * chunk < n ? c * chunk : n, end = begin + chunk < n ? begin + chunk : n;
        double s = 0.0;  /* in index order, as before: the norm scales clipped steps (see softmax.c's sums) */
        for (size_t i = begin; i < end; i++) s += (double)g[i] * g[i];
        part[c] = s;
    }
    double s = 0.0;
    for (size_t c = 0; c < SUMSQ_CHUNKS; c++) s += part[c];
    return s;
}

float frz_clip_scale(double global_norm, float max_norm)
{
    if (max_norm <= 0.0f || !(global_norm > max_norm)) return 1.0f;
    return (float)(max_norm / (global_norm + 1e-6));
}
