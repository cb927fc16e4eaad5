/* matmul.c -- the matrix products, all through OpenBLAS.
 *
 * Threads: the session's OpenMP threads split each product by output columns, and each calls single-threaded
 * OpenBLAS on its slice. Letting OpenBLAS run its own pthreads instead was 3-6x slower here (2 cores): its
 * workers and OpenMP's spin-wait against each other between the products and the elementwise kernels. One
 * thread team also means sessions in different threads never fight over OpenBLAS's process-wide thread count.
 *
 * A single row (a decode step) goes to sgemv: a pass over the weights bound by memory bandwidth, which sgemv
 * streams without sgemm's packing. */
#include "core/core.h"
#include "math/blas.h"
#include "math/nn.h"

#include <omp.h>
#include <string.h>

/* Products smaller than this many multiply-adds stay on one thread. */
#define MATMUL_PAR_MIN (1 << 18)

/* Each output row starts as the bias (or zero) and the product is accumulated onto it (beta = 1). */
static void init_rows(float *out, const float *bias, size_t N, int OC)
{
    for (size_t r = 0; r < N; r++) {
        float *o = out + r * (size_t)OC;
        if (bias)
            memcpy(o, bias, (size_t)OC * sizeof *o);
        else
            memset(o, 0, (size_t)OC * sizeof *o);
    }
}

/* The output columns [*j0, *j1) of thread t of n: contiguous slices in whole 64-byte blocks. */
static void my_columns(int OC, int t, int n, int *j0, int *j1)
{
    const long blocks = (OC + 15) / 16;
    *j0 = (int)FRZ_MIN((long)OC, blocks * t / n * 16);
    *j1 = (int)FRZ_MIN((long)OC, blocks * (t + 1) / n * 16);
}

static int team_size(size_t N, int C, int OC, int nth)
{
    return (double)N * C * OC >= MATMUL_PAR_MIN ? nth : 1;
}

void frz_matmul_forward(float *out, const float *inp, const float *weight, const float *bias, size_t N, int C,
                        int OC, int nth)
{
    init_rows(out, bias, N, OC);
    frz_blas_set_threads(1);
    #pragma omp parallel num_threads(team_size(N, C, OC, nth))
    {
        int j0, j1;
        my_columns(OC, omp_get_thread_num(), omp_get_num_threads(), &j0, &j1);
        if (j1 > j0 && N == 1)
            /* out[j0:j1] += weight[:, j0:j1]^T @ inp */
            cblas_sgemv(CblasRowMajor, CblasTrans, C, j1 - j0, 1.0f, weight + j0, OC, inp, 1, 1.0f, out + j0, 1);
        else if (j1 > j0)
            /* out[:, j0:j1] += inp @ weight[:, j0:j1] */
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)N, j1 - j0, C, 1.0f, inp, C, weight + j0,
                        OC, 1.0f, out + j0, OC);
    }
}

void frz_matmul_wt_forward(float *out, const float *inp, const float *weight, const float *bias, size_t N,
                           int C, int OC, int nth)
{
    init_rows(out, bias, N, OC);
    frz_blas_set_threads(1);
    #pragma omp parallel num_threads(team_size(N, C, OC, nth))
    {
        int j0, j1;
        my_columns(OC, omp_get_thread_num(), omp_get_num_threads(), &j0, &j1);
        const float *w = weight + (size_t)j0 * C; /* rows j0 .. j1 of weight */
        if (j1 > j0 && N == 1)
            /* out[j0:j1] += weight[j0:j1, :] @ inp */
            cblas_sgemv(CblasRowMajor, CblasNoTrans, j1 - j0, C, 1.0f, w, C, inp, 1, 1.0f, out + j0, 1);
        else if (j1 > j0)
            /* out[:, j0:j1] += inp @ weight[j0:j1, :]^T */
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)N, j1 - j0, C, 1.0f, inp, C, w, C, 1.0f,
                        out + j0, OC);
    }
}
