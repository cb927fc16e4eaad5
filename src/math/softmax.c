/* softmax.c -- softmax over one row, and the double-precision log-sum-exp that scoring sums. */
#include "math/fast_exp.h"
#include "math/nn.h"

#include <math.h>

void frz_softmax_forward(float *x, size_t n)
{
    float mx = x[0];
    for (size_t i = 1; i < n; i++) mx = x[i] > mx ? x[i] : mx;
    float sum = 0.0f;
    #pragma omp simd reduction(+ : sum)
    for (size_t i = 0; i < n; i++) {
        x[i] = frz_fast_expf(x[i] - mx);
        sum += x[i];
    }
    float inv = 1.0f / sum;
    for (size_t i = 0; i < n; i++) x[i] *= inv;
}

double frz_logsumexp(const float *x, size_t n)
{
    float mx = x[0];
    for (size_t i = 1; i < n; i++) mx = x[i] > mx ? x[i] : mx;
    double sum = 0.0;
    for (size_t i = 0; i < n; i++) sum += exp((double)x[i] - (double)mx);
    return (double)mx + log(sum);
}
