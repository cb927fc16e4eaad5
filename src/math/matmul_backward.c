/* matmul_backward.c -- the backward of the two linear layers of matmul.c (Conv1D weights stored (in, out), and
 * the (out, in) weights of the LM head), all products through OpenBLAS with beta = 1 so they accumulate.
 *
 * Threads: the caller's OpenMP threads split each product by output columns and each calls single-threaded
 * OpenBLAS on its slice. On a machine with few cores, OpenBLAS's own worker threads and OpenMP's spin-waiting
 * threads (the elementwise kernels between the products) slow each other down several-fold; one thread team
 * avoids that, and keeps OpenBLAS's process-wide thread count at 1. */
#include "math/blas.h"
#include "math/nn.h"

#include <omp.h>

/* Products smaller than this many multiply-adds stay on one thread. */
#define GEMM_PAR_MIN (1 << 18)

/* out (M,N) += op(A) (M,K) @ op(B) (K,N), row-major, the N output columns split among the threads in slices of
 * whole 64-byte lines. op(B) column j is row j of B when tb is CblasTrans, column j otherwise. */
static void gemm_acc(CBLAS_TRANSPOSE ta, CBLAS_TRANSPOSE tb, int M, int N, int K, const float *A, int lda,
                     const float *B, int ldb, float *out, int ldc, int nth)
{
    if (M == 0 || N == 0 || K == 0) return;
    const int team = (double)M * N * K >= GEMM_PAR_MIN ? nth : 1;
    frz_blas_set_threads(1);
    #pragma omp parallel num_threads(team)
    {
        const long blocks = (N + 15) / 16;
        const int t = omp_get_thread_num(), n = omp_get_num_threads();
        const int j0 = (int)(blocks * t / n * 16 < N ? blocks * t / n * 16 : N);
        const int j1 = (int)(blocks * (t + 1) / n * 16 < N ? blocks * (t + 1) / n * 16 : N);
        if (j1 > j0) {
            const float *Bj = tb == CblasTrans ? B + (size_t)j0 * ldb : B + j0;
            cblas_sgemm(CblasRowMajor, ta, tb, M, j1 - j0, K, 1.0f, A, lda, Bj, ldb, 1.0f, out + j0, ldc);
        }
    }
}

/* dbias (OC) += the column sums of dout (N,OC); threads own column blocks (no two write one element). */
static void bias_backward(float *dbias, const float *dout, size_t N, int OC, int nth)
{
    const int n_blocks = (OC + 63) / 64;
    #pragma omp parallel for num_threads(nth) if (N * (size_t)OC >= FRZ_NN_PAR_MIN)
    for (int blk = 0; blk < n_blocks; blk++) {
        const int j0 = blk * 64, j1 = j0 + 64 < OC ? j0 + 64 : OC;
        for (size_t r = 0; r < N; r++) {
            const float *d = dout + r * (size_t)OC;
            for (int j = j0; j < j1; j++) dbias[j] += d[j];
        }
    }
}

void frz_matmul_backward(float *dinp, float *dweight, float *dbias, const float *dout, const float *inp,
                         const float *weight, size_t N, int C, int OC, int nth)
{
    /* dinp (N,C) += dout (N,OC) @ weight^T (OC,C) */
    if (dinp) gemm_acc(CblasNoTrans, CblasTrans, (int)N, C, OC, dout, OC, weight, OC, dinp, C, nth);
    /* dweight (C,OC) += inp^T (C,N) @ dout (N,OC) */
    if (dweight) gemm_acc(CblasTrans, CblasNoTrans, C, OC, (int)N, inp, C, dout, OC, dweight, OC, nth);
    if (dbias) bias_backward(dbias, dout, N, OC, nth);
}

void frz_matmul_wt_backward(float *dinp, float *dweight, float *dbias, const float *dout, const float *inp,
                            const float *weight, size_t N, int C, int OC, int nth)
{
    /* dinp (N,C) += dout (N,OC) @ weight (OC,C) */
    if (dinp) gemm_acc(CblasNoTrans, CblasNoTrans, (int)N, C, OC, dout, OC, weight, C, dinp, C, nth);
    /* dweight (OC,C) += dout^T (OC,N) @ inp (N,C) */
    if (dweight) gemm_acc(CblasTrans, CblasNoTrans, OC, C, (int)N, dout, OC, inp, C, dweight, C, nth);
    if (dbias) bias_backward(dbias, dout, N, OC, nth);
}
