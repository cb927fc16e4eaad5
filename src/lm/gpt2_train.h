/* gpt2_train.h -- the GPT-2 forward that keeps its activations, and the backward through it.
 *
 * Frozen trains a vision encoder through a FROZEN LM: the loss's gradient must reach the input embeddings of
 * the visual prefix, but the LM's weights are never written and no memory is allocated for their gradients.
 * frz_gpt2_train_backward therefore computes only input gradients unless the caller passes weight-gradient
 * buffers (later: LM pretraining and the Frozen_finetuned baseline).
 *
 * Layout: B sequences of T positions each (padded; padding positions have target -1 and, the attention being
 * causal, never influence earlier positions). Position t of sequence b takes token tokens[b*T+t], or the
 * embedding embd[(b*T+t)*C ...] where that token is FRZ_TOKEN_EMBEDDING (or tokens == NULL). Learned positions
 * 0..T-1 are added in both cases.
 *
 *     frz_gpt2_train_ws *ws;  frz_gpt2_train_ws_create(lm, B, T, &ws);
 *     float loss;             frz_gpt2_train_forward(ws, tokens, embd, targets, n_threads, &loss);
 *     memset(d_embd, 0, ...); frz_gpt2_train_backward(ws, d_embd, NULL, n_threads);
 *     frz_gpt2_train_ws_free(ws);
 * A workspace belongs to one thread at a time; the model is only read. */
#ifndef FRZ_GPT2_TRAIN_H
#define FRZ_GPT2_TRAIN_H

#include "lm/gpt2.h"

typedef struct frz_gpt2_train_ws frz_gpt2_train_ws;

/* Activations for B x T positions (T <= n_ctx). */
frz_status frz_gpt2_train_ws_create(const frz_lm *lm, int B, int T, frz_gpt2_train_ws **out);
void frz_gpt2_train_ws_free(frz_gpt2_train_ws *ws);

/* Forward over the batch; *loss = mean cross-entropy over the positions whose target (B,T) is >= 0, where
 * targets[b*T+t] is the id expected as the NEXT token after position t. Also stores per-sequence sums of the
 * target log-probabilities and their counts (frz_gpt2_train_seq_nll) for perplexity. Ids are range-checked. */
frz_status frz_gpt2_train_forward(frz_gpt2_train_ws *ws, const int32_t *tokens /* (B,T) or NULL */,
                                  const float *embd /* (B,T,C) or NULL */, const int32_t *targets /* (B,T) */,
                                  int n_threads, float *loss);

/* Negative log-likelihood sum and target count of sequence b from the last forward. */
void frz_gpt2_train_seq_nll(const frz_gpt2_train_ws *ws, int b, double *nll_sum, int *count);

/* Weight gradients, each (like the weights) in Hugging Face layout; any pointer may be NULL (not computed).
 * Accumulated (+=). Reserved for LM training; Frozen passes NULL for the whole struct. */
typedef struct frz_gpt2_grads frz_gpt2_grads;

/* Backward of the last forward's mean loss. d_embd (B,T,C) += dloss/d(input embedding) at EVERY position
 * (the gradient w.r.t. the summed token-or-vector embedding before positions are added); may be NULL. */
frz_status frz_gpt2_train_backward(frz_gpt2_train_ws *ws, float *d_embd, frz_gpt2_grads *grads, int n_threads);

#endif
