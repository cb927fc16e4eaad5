/* nn.h -- the neural-network kernels, one plain function per layer and direction over float arrays
 * (after llm.c). Each kernel lives in its own file (layernorm.c, activation.c, ...) so that its _backward can
 * sit beside its _forward. Sizes are explicit; every tensor argument carries a shape comment. `nth` is the
 * number of threads the caller's session allows (>= 1). Matrices are C row-major. */
#ifndef FRZ_NN_H
#define FRZ_NN_H

#include <stddef.h>
#include <stdint.h>

/* Elementwise work below this many floats runs on one thread: waking a thread team costs more than it saves
 * (a decode step's 768-wide rows stay single-threaded). */
#define FRZ_NN_PAR_MIN 32768

/* ---- zero.c --------------------------------------------------------------------------------------------- */

/* p (n) = 0, in nth threads' shares. The backward passes clear gradient buffers of megabytes every step; on one
 * thread that was a sixth of the main thread's time in a demo training step, with the other thread waiting. */
void frz_zero(float *p, size_t n, int nth);

/* ---- embedding.c ---------------------------------------------------------------------------------------- */

/* T new positions starting at position pos0: out[t] = (token t's row of wte, or embd[t] where tokens is NULL
 * or tokens[t] == FRZ_TOKEN_EMBEDDING) + wpe[pos0 + t]. Ids are checked by the caller.
 * out (T,C), tokens (T) or NULL, embd (T,C) or NULL, wte (V,C), wpe (maxT,C) */
void frz_embedding_forward(float *out, const int32_t *tokens, const float *embd, const float *wte,
                           const float *wpe, size_t pos0, size_t T, int C);

/* Backward of frz_embedding_forward over the same T positions: d_embd (T,C) += dout at EVERY position (the
 * gradient w.r.t. the row that entered, a token's or a given vector); dwte (V,C) += dout at the rows of the
 * token positions; dwpe (maxT,C) += dout at rows pos0 .. pos0+T-1. Each of d_embd, dwte, dwpe may be NULL.
 * dout (T,C), tokens (T) or NULL */
void frz_embedding_backward(float *d_embd, float *dwte, float *dwpe, const float *dout, const int32_t *tokens,
                            size_t pos0, size_t T, int C);

/* ---- layernorm.c ---------------------------------------------------------------------------------------- */

/* out = (inp - mean) * rstd * weight + bias over each row. mean and rstd receive the per-row statistics the
 * backward pass needs; either may be NULL. out (N,C), mean (N), rstd (N), inp (N,C), weight (C), bias (C) */
void frz_layernorm_forward(float *out, float *mean, float *rstd, const float *inp, const float *weight,
                           const float *bias, size_t N, int C, float eps, int nth);

/* Backward of frz_layernorm_forward given its row statistics: dinp (N,C) += dL/dinp; dweight (C) and
 * dbias (C) += their gradients (either may be NULL). dout (N,C), inp (N,C), weight (C), mean (N), rstd (N) */
void frz_layernorm_backward(float *dinp, float *dweight, float *dbias, const float *dout, const float *inp,
                            const float *weight, const float *mean, const float *rstd, size_t N, int C, int nth);

/* ---- activation.c --------------------------------------------------------------------------------------- */

typedef enum frz_activation {
    FRZ_ACT_GELU_TANH = 0, /* GPT-2's gelu_new: 0.5x(1 + tanh(sqrt(2/pi)(x + 0.044715x^3))) */
    FRZ_ACT_GELU_ERF = 1,  /* exact gelu: 0.5x(1 + erf(x/sqrt(2))) */
    FRZ_ACT_RELU = 2
} frz_activation;

/* out = act(inp) elementwise; out may alias inp. out (n), inp (n) */
void frz_gelu_tanh_forward(float *out, const float *inp, size_t n, int nth);
void frz_gelu_erf_forward(float *out, const float *inp, size_t n, int nth);
void frz_relu_forward(float *out, const float *inp, size_t n, float scale, int nth);
void frz_relu_backward(float *dinp, const float *dout, const float *x, size_t n, float scale, int nth);
void frz_activation_forward(frz_activation act, float *out, const float *inp, size_t n, int nth);

/* Backward: dinp += act'(inp) * dout, inp being the forward's input (argument order as frz_relu_backward's).
 * dinp must not alias dout. dinp (n), dout (n), inp (n) */
void frz_gelu_tanh_backward(float *dinp, const float *dout, const float *inp, size_t n, int nth);
void frz_gelu_erf_backward(float *dinp, const float *dout, const float *inp, size_t n, int nth);
void frz_activation_backward(frz_activation act, float *dinp, const float *dout, const float *inp, size_t n,
                             int nth);

/* ---- matmul.c (all products go through cblas_sgemm / cblas_sgemv) ---------------------------------------- */

/* out = inp @ weight + bias, the weight stored (in, out) as GPT-2's Conv1D keeps it. bias may be NULL.
 * out (N,OC), inp (N,C), weight (C,OC), bias (OC) */
void frz_matmul_forward(float *out, const float *inp, const float *weight, const float *bias, size_t N, int C,
                        int OC, int nth);

/* out = inp @ weight^T + bias, the weight stored (out, in) as nn.Linear and the tied LM head (wte) keep it.
 * out (N,OC), inp (N,C), weight (OC,C), bias (OC) or NULL */
void frz_matmul_wt_forward(float *out, const float *inp, const float *weight, const float *bias, size_t N,
                           int C, int OC, int nth);

/* ---- matmul_backward.c (the backward products; kept apart from matmul.c while its forward is being tuned) */

/* Backward of frz_matmul_forward: dinp (N,C) += dout @ weight^T, dweight (C,OC) += inp^T @ dout, dbias (OC) +=
 * the column sums of dout. Any of dinp, dweight, dbias may be NULL (not computed).
 * dout (N,OC), inp (N,C), weight (C,OC) */
void frz_matmul_backward(float *dinp, float *dweight, float *dbias, const float *dout, const float *inp,
                         const float *weight, size_t N, int C, int OC, int nth);

/* Backward of frz_matmul_wt_forward: dinp (N,C) += dout @ weight, dweight (OC,C) += dout^T @ inp, dbias (OC) +=
 * the column sums of dout; any may be NULL. dout (N,OC), inp (N,C), weight (OC,C) */
void frz_matmul_wt_backward(float *dinp, float *dweight, float *dbias, const float *dout, const float *inp,
                            const float *weight, size_t N, int C, int OC, int nth);

/* ---- attention.c ---------------------------------------------------------------------------------------- */

/* Rows a thread of frz_attention_forward takes at once through sgemm (its scratch holds their scores). */
#define FRZ_ATTN_BLOCK 64

/* Floats of scratch frz_attention_forward needs for n_threads threads over n_keys keys (P + T). */
static inline size_t frz_attention_scratch(size_t n_keys, int n_threads)
{
    return (size_t)n_threads * FRZ_ATTN_BLOCK * n_keys;
}

/* Causal multi-head attention of one sequence: T new positions after P cached ones. Query row t (position
 * P + t) attends to key/value rows 0 .. P + t. The caller has already stored the new keys and values at rows
 * P .. P+T-1 of k and v. Rows of q, k and v are strided so that they can point into a fused qkv buffer or a KV
 * cache that keeps every layer of a position together.
 * out (T,C), q (T, ldq) first C columns, k and v (P+T, ldkv) first C columns, C = NH * head size,
 * scratch frz_attention_scratch(P + T, nth) floats. scale: 1/sqrt(head size) for GPT-2, or 1. */
void frz_attention_forward(float *out, const float *q, size_t ldq, const float *k, const float *v, size_t ldkv,
                           size_t P, size_t T, int C, int NH, float scale, float *scratch, int nth);

/* Training form: B sequences of T positions each, no cache; keeps the attention probabilities for the backward.
 * out (B,T,C), att (B,NH,T,T) row t of each head holds the probabilities over keys 0..t and zeros after,
 * qkv (B,T,3C) the fused queries, keys and values */
void frz_attention_forward_train(float *out, float *att, const float *qkv, size_t B, size_t T, int C, int NH,
                                 float scale, int nth);

/* Backward of frz_attention_forward_train: dqkv (B,T,3C) += dL/dqkv. dout (B,T,C), qkv (B,T,3C),
 * att (B,NH,T,T) from the forward, scratch (B,NH,T) floats */
void frz_attention_backward(float *dqkv, const float *dout, const float *qkv, const float *att, size_t B,
                            size_t T, int C, int NH, float scale, float *scratch, int nth);

/* ---- residual.c ----------------------------------------------------------------------------------------- */

/* out = inp1 + inp2; out may alias either input. out (n), inp1 (n), inp2 (n) */
void frz_residual_forward(float *out, const float *inp1, const float *inp2, size_t n, int nth);

/* ---- softmax.c ------------------------------------------------------------------------------------------ */

/* In place over one row: x = exp(x - max) / sum. x (n), n >= 1 */
void frz_softmax_forward(float *x, size_t n);

/* log(sum(exp(x))) in double precision, for log-probabilities that sum many tokens. x (n), n >= 1 */
double frz_logsumexp(const float *x, size_t n);

/* Cross-entropy of M rows of logits, each with its target id (0 <= targets[i] < V): lse[i] = log sum exp of
 * row i, nll[i] = lse[i] - logits[i][targets[i]]. logits (M,V), targets (M), nll (M), lse (M) */
void frz_crossentropy_forward(double *nll, double *lse, const float *logits, const int32_t *targets, size_t M,
                              int V, int nth);

/* Backward of the loss sum_i dnll * nll[i], IN PLACE: each row of logits becomes (softmax(row) -
 * onehot(target)) * dnll. Unlike the other backward kernels it overwrites rather than accumulates: the logits
 * are the largest activation of a training step (M x V) and are not needed again, so their gradient takes
 * their place (as llm.c's fused classifier does). logits (M,V), lse (M) from the forward, targets (M) */
void frz_crossentropy_backward(float *logits, const double *lse, const int32_t *targets, float dnll, size_t M,
                               int V, int nth);

#endif
