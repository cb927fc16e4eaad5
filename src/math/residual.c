/* residual.c -- the residual stream's additions. */
#include "math/nn.h"

void frz_residual_forward(float *out, const float *inp1, const float *inp2, size_t n, int nth)
{
    #pragma omp parallel for simd num_threads(nth) if (n >= FRZ_NN_PAR_MIN)
    for (size_t i = 0; i < n; i++) out[i] = inp1[i] + inp2[i];
}
