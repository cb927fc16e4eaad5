/* gemm.c -- every LM matrix product goes through frz_gemm_acc.
 *
 * Threads: the caller's OpenMP threads split each product by output columns, and each calls single-threaded
 * OpenBLAS on its slice. Letting OpenBLAS run its own pthreads instead was 3-6x slower here (2 cores): its
 * workers and OpenMP's spin-waiting threads (the elementwise kernels between the products) slow each other
 * down. One thread team also means sessions in different threads never fight over OpenBLAS's process-wide
 * thread count, which stays at 1.
 *
 * A single row (a decode step) goes to sgemv: a pass over the weights bound by memory bandwidth, which sgemv
 * streams without sgemm's packing. */
#include "core/core.h"
#include "math/blas.h"

#include <omp.h>

/* Products smaller than this many multiply-adds stay on one thread. */
#define GEMM_PAR_MIN (1 << 18)

void frz_gemm_acc(CBLAS_TRANSPOSE ta, CBLAS_TRANSPOSE tb, int M, int N, int K, const float *A, int lda,
                  const float *B, int ldb, float *out, int ldc, int n_threads)
{
    if (M == 0 || N == 0 || K == 0) return;
    const int team = (double)M * N * K >= GEMM_PAR_MIN ? n_threads : 1;
    frz_blas_set_threads(1);
    #pragma omp parallel num_threads(team)
    {
        /* this thread's output columns [j0, j1): contiguous slices in whole 64-byte blocks */
        const long blocks = (N + 15) / 16;
        const int t = omp_get_thread_num(), n = omp_get_num_threads();
        const int j0 = (int)FRZ_MIN((long)N, blocks * t / n * 16);
        const int j1 = (int)FRZ_MIN((long)N, blocks * (t + 1) / n * 16);
        /* column j of op(B) is row j of B when tb is CblasTrans, column j otherwise */
        const float *Bj = tb == CblasTrans ? B + (size_t)j0 * ldb : B + j0;
        if (j1 > j0 && M == 1 && ta == CblasNoTrans)
            /* out[j0:j1] += op(B)[:, j0:j1]^T @ a */
            cblas_sgemv(CblasRowMajor, tb == CblasTrans ? CblasNoTrans : CblasTrans,
                        tb == CblasTrans ? j1 - j0 : K, tb == CblasTrans ? K : j1 - j0, 1.0f, Bj, ldb, A, 1, 1.0f,
                        out + j0, 1);
        else if (j1 > j0)
            cblas_sgemm(CblasRowMajor, ta, tb, M, j1 - j0, K, 1.0f, A, lda, Bj, ldb, 1.0f, out + j0, ldc);
    }
}
