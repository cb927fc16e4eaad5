/* blas.h -- the one place that talks to OpenBLAS besides the cblas_* calls themselves. */
#ifndef FRZ_BLAS_H
#define FRZ_BLAS_H

#include <cblas.h>

/* OpenBLAS's thread count is process-wide; this sets it only when it differs from the last value set. */
void frz_blas_set_threads(int n_threads);

#endif
