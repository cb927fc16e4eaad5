/* matmul.c -- the linear layers, forward and backward: Conv1D weights stored (in, out), and the (out, in)
 * weights of the LM head. Every product goes through frz_gemm_acc (gemm.c says how it is threaded, and why a
 * single row goes to sgemv); backward products accumulate (beta = 1). */
#include "core/core.h"
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
    /* out (N,OC) += inp (N,C) @ weight (C,OC) */
    frz_gemm_acc(CblasNoTrans, CblasNoTrans, (int)N, OC, C, inp, C, weight, OC, out, OC, nth);
}

void frz_matmul_wt_forward(float *out, const float *inp, const float *weight, const float *bias, size_t N,
                           int C, int OC, int nth)
{
    init_rows(out, bias, N, OC);
    /* out (N,OC) += inp (N,C) @ weight^T (C,OC), weight stored (OC,C) */
    frz_gemm_acc(CblasNoTrans, CblasTrans, (int)N, OC, C, inp, C, weight, C, out, OC, nth);
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
    if (dinp) frz_gemm_acc(CblasNoTrans, CblasTrans, (int)N, C, OC, dout, OC, weight, OC, dinp, C, nth);
    /* dweight (C,OC) += inp^T (C,N) @ dout (N,OC) */
    if (dweight) frz_gemm_acc(CblasTrans, CblasNoTrans, C, OC, (int)N, inp, C, dout, OC, dweight, OC, nth);
    if (dbias) bias_backward(dbias, dout, N, OC, nth);
}

void frz_matmul_wt_backward(float *dinp, float *dweight, float *dbias, const float *dout, const float *inp,
                            const float *weight, size_t N, int C, int OC, int nth)
{
    /* dinp (N,C) += dout (N,OC) @ weight (OC,C) */
    if (dinp) frz_gemm_acc(CblasNoTrans, CblasNoTrans, (int)N, C, OC, dout, OC, weight, C, dinp, C, nth);
    /* dweight (OC,C) += dout^T (OC,N) @ inp (N,C) */
    if (dweight) frz_gemm_acc(CblasTrans, CblasNoTrans, OC, C, (int)N, dout, OC, inp, C, dweight, C, nth);
    if (dbias) bias_backward(dbias, dout, N, OC, nth);
}
