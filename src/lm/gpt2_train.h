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

/* Activations for B x T positions (T <= n_ctx), in one allocation: per position and layer about 16 C floats plus
 * n_head * T attention probabilities, and V floats of logits per position. B, T out of range:
 * FRZ_ERR_INVALID_ARG; FRZ_ERR_NOMEM. */
frz_status frz_gpt2_train_ws_create(const frz_lm *lm, int B, int T, frz_gpt2_train_ws **out);
void frz_gpt2_train_ws_free(frz_gpt2_train_ws *ws);
/* Makes the workspace hold B x T positions instead, reusing its allocation when the new shape fits in it (batches
 * of varying length need no new memory). Any earlier forward is forgotten. On failure it is unchanged. */
frz_status frz_gpt2_train_ws_reshape(frz_gpt2_train_ws *ws, int B, int T);

/* Forward over the batch; *loss = mean cross-entropy over the positions whose target (B,T) is >= 0, where
 * targets[b*T+t] is the id expected as the NEXT token after position t. Also stores per-sequence sums of the
 * target log-probabilities and their counts (frz_gpt2_train_seq_nll) for perplexity. Ids are range-checked:
 * tokens in 0..V-1 or FRZ_TOKEN_EMBEDDING (which needs embd), targets in 0..V-1 or -1 (no target); else
 * FRZ_ERR_INVALID_ARG naming the position, and no forward is left for the backward. With no target at all the
 * loss is 0 and the backward adds nothing. loss may be NULL. */
frz_status frz_gpt2_train_forward(frz_gpt2_train_ws *ws, const int32_t *tokens /* (B,T) or NULL */,
                                  const float *embd /* (B,T,C) or NULL */, const int32_t *targets /* (B,T) */,
                                  int n_threads, float *loss);

/* Negative log-likelihood sum and target count of sequence b from the last forward. */
void frz_gpt2_train_seq_nll(const frz_gpt2_train_ws *ws, int b, double *nll_sum, int *count);

/* Bytes of the workspace's one allocation (activations for B x T, logits, backward scratch). */
size_t frz_gpt2_train_ws_bytes(const frz_gpt2_train_ws *ws);

/* Weight gradients, each (like the weights) in Hugging Face layout; any pointer may be NULL (not computed).
 * Accumulated (+=). Reserved for LM training; Frozen passes NULL for the whole struct. */
typedef struct frz_gpt2_grads frz_gpt2_grads;

/* One block's gradients, member for member as frz_gpt2_layer. */
typedef struct frz_gpt2_layer_grads {
    float *ln1_w, *ln1_b;             /* (C) */
    float *qkv_w, *qkv_b;             /* (C,3C), (3C) */
    float *attn_proj_w, *attn_proj_b; /* (C,C), (C) */
    float *ln2_w, *ln2_b;             /* (C) */
    float *fc_w, *fc_b;               /* (C,F), (F) */
    float *fc_proj_w, *fc_proj_b;     /* (F,C), (C) */
} frz_gpt2_layer_grads;

/* Member for member as frz_gpt2_weights. The LM head's gradient goes to lm_head, the token embedding's to wte:
 * for a tied model (lm_head IS wte, the usual GPT-2) point both at the same buffer, as frz_gpt2_grads_create
 * does, so that the shared matrix receives both. */
struct frz_gpt2_grads {
    float *wte;                     /* (V,C) */
    float *wpe;                     /* (n_ctx,C) */
    frz_gpt2_layer_grads *layers;   /* n_layer, or NULL: no block gradients */
    float *lnf_w, *lnf_b;           /* (C) */
    float *lm_head;                 /* (V,C) */
    /* Set by frz_gpt2_grads_create: every gradient in one block, laid out in the order and shapes of
     * frz_gpt2_tensors' table (the checkpoint order), so zeroing and optimizer steps are single loops. */
    float *mem;
    size_t n_floats;
};

/* A zeroed gradient for every parameter tensor of lm (tied head: lm_head == wte), in one allocation. */
frz_status frz_gpt2_grads_create(const frz_lm *lm, frz_gpt2_grads **out);
/* Zeroes mem (frz_gpt2_grads_create's block). */
void frz_gpt2_grads_zero(frz_gpt2_grads *g, int n_threads);
/* Frees what frz_gpt2_grads_create made; NULL is a no-op. */
void frz_gpt2_grads_free(frz_gpt2_grads *g);

/* Backward of the last forward's mean loss. d_embd (B,T,C) += dloss/d(input embedding) at EVERY position
 * (the gradient w.r.t. the summed token-or-vector embedding before positions are added); may be NULL.
 * May be called more than once per forward (each call adds the same gradients again). FRZ_ERR_INVALID_ARG if
 * no forward succeeded since the workspace was made or since a failed forward. */
frz_status frz_gpt2_train_backward(frz_gpt2_train_ws *ws, float *d_embd, frz_gpt2_grads *grads, int n_threads);
/* The same for scale times the mean loss: a batch split into parts adds each part's gradient with scale = its
 * targets / the batch's, which sums to the gradient of the batch's mean loss. scale must not be 0. */
frz_status frz_gpt2_train_backward_scaled(frz_gpt2_train_ws *ws, float *d_embd, frz_gpt2_grads *grads, float scale,
                                          int n_threads);

#endif
