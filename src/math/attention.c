/* attention.c -- causal multi-head self-attention: over a sequence's KV cache (inference), and over a batch of
 * whole sequences keeping the probabilities (training), with its backward.
 *
 * Inference goes through cblas_sgemm: the new rows in blocks of FRZ_ATTN_BLOCK per head, scores = Q K^T over the
 * keys the block sees, then out = P V, the keys and values read in place with their row stride. It replaced a
 * loop per (query row, head) that was 1.2-5x slower from a decode step (one row) to a long prompt, where it took
 * most of the prefill (docs/performance.md, "Long prompts"). Training keeps that loop: its sequences are captions
 * of tens of tokens, and the demo LM's recipe is reproduced byte for byte through it. Threads split the
 * (block, head) pairs, the (row, head) pairs of training, or in the backward the (sequence, head) pairs. */
#include "core/core.h"
#include "math/blas.h"
#include "math/nn.h"

#include <omp.h>

/* Below this many multiply-adds per call the work stays on one thread (see FRZ_NN_PAR_MIN). A decode step of
 * GPT-2 small splits its 12 heads across threads once about 20 positions are cached. */
#define ATTENTION_PAR_MIN 16384

/* One query row of one head over n_keys keys (training's forward): att (n_keys) receives softmax(q . k_j * scale)
 * and o (hs) the probability-weighted sum of the values. k and v rows are ldkv floats apart. */
static void attend_row(float *att, float *o, const float *qt, const float *k, const float *v, size_t ldkv,
                       size_t n_keys, int hs, float scale)
{
    /* scores = q . k * scale, then their softmax */
    for (size_t j = 0; j < n_keys; j++) {
        const float *kj = k + j * ldkv;
        float dot = 0.0f;
        #pragma omp simd reduction(+ : dot)
        for (int i = 0; i < hs; i++) dot += qt[i] * kj[i];
        att[j] = dot * scale;
    }
    frz_softmax_forward(att, n_keys);

    /* out = softmax(scores) @ v */
    for (int i = 0; i < hs; i++) o[i] = 0.0f;
    for (size_t j = 0; j < n_keys; j++) {
        const float *vj = v + j * ldkv;
        const float p = att[j];
        #pragma omp simd
        for (int i = 0; i < hs; i++) o[i] += p * vj[i];
    }
}

/* Rows t0 .. t0+R-1 (positions P+t0 ..) of one head through two products. The block's last row sees
 * n = P+t0+R keys; row r sees P+t0+r+1 of them, and the probabilities past that are set to 0 so that one
 * product serves the whole block. att (R, n) scratch; q, k, v, o already offset to the head's columns. */
static void attend_block(float *att, float *o, size_t ldo, const float *q, size_t ldq, const float *k,
                         const float *v, size_t ldkv, size_t P, size_t t0, size_t R, int hs, float scale)
{
    const size_t n = P + t0 + R;
    /* att (R,n) = scale * q (R,hs) @ k^T (hs,n) */
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)R, (int)n, hs, scale, q, (int)ldq, k, (int)ldkv,
                0.0f, att, (int)n);
    for (size_t r = 0; r < R; r++) {
        float *row = att + r * n;
        const size_t valid = P + t0 + r + 1;
        frz_softmax_forward(row, valid);
        for (size_t j = valid; j < n; j++) row[j] = 0.0f; /* causal */
    }
    /* o (R,hs) = att (R,n) @ v (n,hs) */
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)R, hs, (int)n, 1.0f, att, (int)n, v, (int)ldkv,
                0.0f, o, (int)ldo);
}

void frz_attention_forward(float *out, const float *q, size_t ldq, const float *k, const float *v, size_t ldkv,
                           size_t P, size_t T, int C, int NH, float scale, float *scratch, int nth)
{
    const int hs = C / NH;
    const size_t work = T * (size_t)NH * (P + T) * (size_t)hs;
    const size_t n_blocks = (T + FRZ_ATTN_BLOCK - 1) / FRZ_ATTN_BLOCK, n_tasks = n_blocks * (size_t)NH;
    /* each OpenMP thread calls single-threaded OpenBLAS, as frz_gemm_acc does. Inside a team (gpt2_forward gives
     * threads whole sequences) the layer's products have just set that, and threads calling at once should not
     * touch OpenBLAS's process-wide setting */
    if (!omp_in_parallel()) frz_blas_set_threads(1);
    /* later blocks see more keys: dynamic scheduling evens the threads out */
    #pragma omp parallel for num_threads(nth) schedule(dynamic, 1) if (work >= ATTENTION_PAR_MIN)
    for (size_t task = 0; task < n_tasks; task++) {
        const size_t blk = task / (size_t)NH, h = task % (size_t)NH;
        const size_t t0 = blk * FRZ_ATTN_BLOCK, R = FRZ_MIN((size_t)FRZ_ATTN_BLOCK, T - t0);
        float *att = scratch + (size_t)omp_get_thread_num() * frz_attention_scratch(P + T, 1);
        attend_block(att, out + t0 * (size_t)C + h * hs, (size_t)C, q + t0 * ldq + h * hs, ldq, k + h * hs,
                     v + h * hs, ldkv, P, t0, R, hs, scale);
    }
}

void frz_attention_forward_train(float *out, float *att, const float *qkv, size_t B, size_t T, int C, int NH,
                                 float scale, int nth)
{
    const int hs = C / NH;
    const size_t C3 = 3 * (size_t)C, n = B * T * (size_t)NH;
    #pragma omp parallel for num_threads(nth) schedule(static, 1) if (n * T * (size_t)hs >= ATTENTION_PAR_MIN)
    for (size_t i = 0; i < n; i++) {
        const size_t b = i / (T * NH), t = i / NH % T, h = i % NH;
        const float *seq = qkv + b * T * C3; /* this sequence's rows */
        float *a = att + ((b * NH + h) * T + t) * T;
        attend_row(a, out + (b * T + t) * C + h * hs, seq + t * C3 + h * hs, seq + C + h * hs,
                   seq + 2 * (size_t)C + h * hs, C3, t + 1, hs, scale);
        for (size_t j = t + 1; j < T; j++) a[j] = 0.0f; /* masked: the stored matrix is fully defined */
    }
}

/* Per (sequence, head), with p = att row t, dout_t its output gradient, s = the scaled scores:
 *   dp_j = dout_t . v_j,  dv_j += p_j dout_t,  ds_j = p_j (dp_j - sum_k p_k dp_k),
 *   dq_t += scale sum_j ds_j k_j,  dk_j += scale ds_j q_t.
 * The pairs write disjoint columns of dqkv, so threads split them without collisions. Loops, not sgemm: the
 * blocks are T x head size with T a caption's length. */
void frz_attention_backward(float *dqkv, const float *dout, const float *qkv, const float *att, size_t B,
                            size_t T, int C, int NH, float scale, float *scratch, int nth)
{
    const int hs = C / NH;
    const size_t C3 = 3 * (size_t)C, n = B * (size_t)NH;
    #pragma omp parallel for num_threads(nth) schedule(static, 1) if (n * T * T * (size_t)hs >= ATTENTION_PAR_MIN)
    for (size_t i = 0; i < n; i++) {
        const size_t b = i / NH, h = i % NH;
        const size_t off = b * T * C3 + h * hs; /* this head's query columns in this sequence's first row */
        const float *q = qkv + off, *k = qkv + off + C, *v = qkv + off + 2 * (size_t)C;
        float *dq = dqkv + off, *dk = dqkv + off + C, *dv = dqkv + off + 2 * (size_t)C;
        float *dp = scratch + i * T; /* dp (T) */
        for (size_t t = 0; t < T; t++) {
            const float *p = att + (i * T + t) * T;
            const float *dot = dout + (b * T + t) * C + h * hs;
            float pdp = 0.0f;
            for (size_t j = 0; j <= t; j++) {
                float d = 0.0f;
                #pragma omp simd reduction(+ : d)
                for (int c = 0; c < hs; c++) d += dot[c] * v[j * C3 + c];
                dp[j] = d;
                pdp += p[j] * d;
                #pragma omp simd
                for (int c = 0; c < hs; c++) dv[j * C3 + c] += p[j] * dot[c];
            }
            const float *qt = q + t * C3;
            float *dqt = dq + t * C3;
            for (size_t j = 0; j <= t; j++) {
                const float ds = p[j] * (dp[j] - pdp) * scale;
                #pragma omp simd
                for (int c = 0; c < hs; c++) {
                    dqt[c] += ds * k[j * C3 + c];
                    dk[j * C3 + c] += ds * qt[c];
                }
            }
        }
    }
}
