/* softmax.c -- softmax over one row, and the double-precision log-sum-exp that scoring sums. */
#include "math/fast_exp.h"
#include "math/nn.h"

#include <math.h>

void frz_softmax_forward(float *x, size_t n)
{
    float mx = x[0];
    for (size_t i = 1; i < n; i++) mx = x[i] > mx ? x[i] : mx;
    /* The exps vectorise; the sum goes in index order, one addition after another, as it did before they did: a
     * reordered sum changes the last bits, and over 6000 steps `make demo-lm` then made another LM than the
     * shipped one (docs/demo-run.md, "An LM made with other rounding"). So too the sums below and in attention.c. */
    #pragma omp simd
    for (size_t i = 0; i < n; i++) x[i] = frz_fast_expf(x[i] - mx);
    float sum = 0.0f;
    for (size_t i = 0; i < n; i++) sum += x[i];
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

/* Rows of a vocabulary's width are many (50257 for GPT-2): exp is the vectorizable fast_expf, and the sum of a
 * row is accumulated in double so that the log-likelihood does not lose digits over the row. */
void frz_crossentropy_forward(double *nll, double *lse, const float *logits, const int32_t *targets, size_t M,
                              int V, int nth)
{
    #pragma omp parallel for num_threads(nth) if (M * (size_t)V >= FRZ_NN_PAR_MIN)
    for (size_t r = 0; r < M; r++) {
        const float *x = logits + r * (size_t)V;
        float mx = x[0];
        #pragma omp simd reduction(max : mx)
        for (int i = 1; i < V; i++) mx = x[i] > mx ? x[i] : mx;
        double sum = 0.0;  /* in index order (see frz_softmax_forward) */
        for (int i = 0; i < V; i++) sum += (double)frz_fast_expf(x[i] - mx);
        lse[r] = (double)mx + log(sum);
        nll[r] = lse[r] - (double)x[targets[r]];
    }
}

void frz_crossentropy_backward(float *logits, const double *lse, const int32_t *targets, float dnll, size_t M,
                               int V, int nth)
{
    #pragma omp parallel for num_threads(nth) if (M * (size_t)V >= FRZ_NN_PAR_MIN)
    for (size_t r = 0; r < M; r++) {
        float *x = logits + r * (size_t)V;
        const float l = (float)lse[r];
        #pragma omp simd
        for (int i = 0; i < V; i++) x[i] = frz_fast_expf(x[i] - l) * dnll;
        x[targets[r]] -= dnll;
    }
}
