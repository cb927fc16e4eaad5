/* zero.c -- clearing a large float buffer with the session's threads. */
#include "math/nn.h"

#include <omp.h>
#include <string.h>

void frz_zero(float *p, size_t n, int nth)
{
    if (nth <= 1 || n < FRZ_NN_PAR_MIN) {
        memset(p, 0, n * sizeof *p);
        return;
    }
    #pragma omp parallel num_threads(nth)
    {
        const size_t t = (size_t)omp_get_thread_num(), T = (size_t)omp_get_num_threads();
        const size_t lo = n * t / T, hi = n * (t + 1) / T;
        memset(p + lo, 0, (hi - lo) * sizeof *p);
    }
}
