/* gemm.c -- every LM matrix product goes through frz_gemm_acc.
 *
 * Threads: the caller's OpenMP threads split each product by output columns, and each calls single-threaded
 * OpenBLAS on its slice. Letting OpenBLAS run its own pthreads instead was 3-6x slower here (2 cores): its
 * workers and OpenMP's spin-waiting threads (the elementwise kernels between the products) slow each other
 * down. One thread team also means sessions in different threads never fight over OpenBLAS's process-wide
 * thread count, which stays at 1.
 *
 * A single row (a decode step) goes to sgemv: a pass over the weights bound by memory bandwidth, which sgemv
 * streams without sgemm's packing. A few rows (batched decoding, short few-shot queries) are just as bound by the
 * weights, and sgemm's packing copy streams them at about half of what sgemv does; OpenBLAS 0.3.21 skips packing
 * (its "small matrix" kernels, SkylakeX and newer) when M*N*K is at most 100^3, so such products go in column
 * blocks under that size: 1.3-1.6x faster for 2-8 rows here (docs/performance.md). Above 16 rows the products are
 * compute-bound and the packed kernels win. */
#include "core/core.h"
#include "math/blas.h"

#include <omp.h>

/* Products smaller than this many multiply-adds stay on one thread. */
#define GEMM_PAR_MIN (1 << 18)
/* Small-M products go in column blocks of at most this many multiply-adds (OpenBLAS's small-kernel limit). */
#define GEMM_SMALL_MNK 1000000L
#define GEMM_SMALL_M_MAX 16

/* Columns per block for an M x K product: a multiple of 16 under GEMM_SMALL_MNK, or 0 for one whole call. */
static int small_block_cols(int M, int K)
{
    if (M < 2 || M > GEMM_SMALL_M_MAX) return 0;
    const long cols = GEMM_SMALL_MNK / ((long)M * K) / 16 * 16;
    return cols >= 16 ? (int)cols : 0;
}

void frz_gemm_acc(CBLAS_TRANSPOSE ta, CBLAS_TRANSPOSE tb, int M, int N, int K, const float *A, int lda,
                  const float *B, int ldb, float *out, int ldc, int n_threads)
{
    if (M == 0 || N == 0 || K == 0) return;
    const int team = (double)M * N * K >= GEMM_PAR_MIN ? n_threads : 1;
    const int block = small_block_cols(M, K);
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
        else
            for (int j = j0; j < j1; j += block ? block : j1 - j0) {
                const int nj = block ? FRZ_MIN(block, j1 - j) : j1 - j;
                const float *Bb = tb == CblasTrans ? Bj + (size_t)(j - j0) * ldb : Bj + (j - j0);
                cblas_sgemm(CblasRowMajor, ta, tb, M, nj, K, 1.0f, A, lda, Bb, ldb, 1.0f, out + j, ldc);
            }
    }
}
