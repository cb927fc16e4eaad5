/* matmul.c -- the matrix products, all through OpenBLAS. A single row (a decode step) goes to sgemv: it is a
 * pass over the weights bound by memory bandwidth, and sgemv streams them without sgemm's packing. */
#include "math/blas.h"
#include "math/nn.h"

#include <string.h>

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

void frz_matmul_forward(float *out, const float *inp, const float *weight, const float *bias, size_t N, int C,
                        int OC, int nth)
{
    init_rows(out, bias, N, OC);
    frz_blas_set_threads(nth);
    if (N == 1)
        /* out (OC) += weight^T (OC,C) @ inp (C) */
        cblas_sgemv(CblasRowMajor, CblasTrans, C, OC, 1.0f, weight, OC, inp, 1, 1.0f, out, 1);
    else
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)N, OC, C, 1.0f, inp, C, weight, OC, 1.0f,
                    out, OC);
}

void frz_matmul_wt_forward(float *out, const float *inp, const float *weight, const float *bias, size_t N,
                           int C, int OC, int nth)
{
    init_rows(out, bias, N, OC);
    frz_blas_set_threads(nth);
    if (N == 1)
        /* out (OC) += weight (OC,C) @ inp (C) */
        cblas_sgemv(CblasRowMajor, CblasNoTrans, OC, C, 1.0f, weight, C, inp, 1, 1.0f, out, 1);
    else
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)N, OC, C, 1.0f, inp, C, weight, C, 1.0f, out,
                    OC);
}
