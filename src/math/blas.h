/* blas.h -- the one place that talks to OpenBLAS besides the cblas_* calls themselves. */
#ifndef FRZ_BLAS_H
#define FRZ_BLAS_H

#include <cblas.h>

/* OpenBLAS's thread count is process-wide; this sets it only when it differs from the last value set. */
void frz_blas_set_threads(int n_threads);

/* out (M,N) += op(A) (M,K) @ op(B) (K,N), row-major (beta = 1: products accumulate). The caller's n_threads
 * OpenMP threads split the N output columns into slices of whole 64-byte lines and each calls single-threaded
 * OpenBLAS on its slice (see gemm.c for why); a single row (M == 1, ta == CblasNoTrans) goes to sgemv. */
void frz_gemm_acc(CBLAS_TRANSPOSE ta, CBLAS_TRANSPOSE tb, int M, int N, int K, const float *A, int lda,
                  const float *B, int ldb, float *out, int ldc, int n_threads);

#endif
