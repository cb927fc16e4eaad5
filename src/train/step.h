/* step.h -- one pass of Frozen over a batch: images -> NF-ResNet -> projector -> visual prefix -> frozen GPT-2
 * -> captioning loss, and (for training) the backward pass back into the projector and the encoder.
 *
 * Sequence b of the batch, T = n_prefix + L positions where L is the batch's longest caption:
 *     position   0 .. P-1        the P prefix embeddings (FRZ_TOKEN_EMBEDDING)
 *     position   P .. P+len-1    the caption's tokens
 *     position   P+len .. T-1    padding (<|endoftext|> ids, no target; the attention is causal, so padding
 *                                never reaches the positions before it)
 *     targets    position P-1+i  -> caption token i (i < len), position P-1+len -> <|endoftext|>, else -1
 * so the last prefix position predicts the first caption token, and the final <|endoftext|> is a target but
 * never an input (it has no successor to predict). Learned positions run over the prefix: 0 .. T-1.
 * Loss: the mean cross-entropy over all targets of the batch (frz_gpt2_train_forward).
 * Backward: frz_gpt2_train_backward with no weight gradients gives d(loss)/d(input embedding) at every
 * position; the prefix rows go through the projector's backward into its gradients and the pooled vectors,
 * and from there through the encoder's backward into its gradients. The LM is only read -- unless lm_grads is
 * set, when the same backward also adds grad_scale x the LM's weight gradients into it. */
#ifndef FRZ_TRAIN_STEP_H
#define FRZ_TRAIN_STEP_H

#include "lm/gpt2_train.h"
#include "vision/nfresnet.h"
#include "vision/projector.h"

typedef struct frz_step {
    const frz_lm *lm;
    frz_nfr_model *enc;
    frz_projector *proj;
    int B, R, P, C, F, max_tokens;
    int n_images;            /* B, or 1 when every slot shows the same image (frz_step_create's shared_image) */
    int32_t eot;
    frz_nfr_state *enc_st;
    float *pooled;           /* (n_images,F) */
    float *prefix;           /* (n_images,P*C) */
    float *d_prefix;         /* (n_images,P*C) grad_scale x the gradient of the loss w.r.t. the prefix (after a
                              * backward) */
    float *d_pooled;         /* (n_images,F) */
    frz_gpt2_train_ws *ws;   /* for B x ws_T positions, remade when a batch needs another T */
    int ws_T;
    int T;                   /* positions of the last pass */
    float *embd;             /* (B,Tmax,C) */
    int32_t *tokens;         /* (B,Tmax) */
    int32_t *targets;        /* (B,Tmax) */
    float *d_embd;           /* (B,Tmax,C) */
    frz_gpt2_grads *lm_grads; /* the LM's weight gradients when it is trained too (finetune, scratch; set by the
                               * caller, which owns them); NULL: the LM is frozen and only read */
} frz_step;

/* Buffers for batches of B images of R x R with captions of up to max_tokens tokens. The LM must have an
 * <|endoftext|> token and room for n_prefix + max_tokens positions; the projector's widths must match the
 * encoder (F) and the LM (C). shared_image: every slot shows the same image (the blind baseline's black one), so
 * the encoder and the projector run on the first image alone, its prefix serves every slot and the backward sums
 * the slots' prefix gradients first: the loss and gradients of B copies (up to float rounding) for 1/B of the
 * encoder's work. Errors: FRZ_ERR_SHAPE, FRZ_ERR_INVALID_ARG, FRZ_ERR_NOMEM. */
frz_status frz_step_create(const frz_lm *lm, frz_nfr_model *enc, frz_projector *proj, int B, int shared_image, int R,
                           int max_tokens, frz_step **out);
void frz_step_free(frz_step *s);

/* Clears the encoder's and the projector's gradients (allocating them on first use). */
frz_status frz_step_zero_grads(frz_step *s, int n_threads);

/* One pass. images (B,3,R,R) (with shared_image, only the first is read); tokens (B, tok_stride) caption
 * tokens; len (B) their counts, -1 for an empty slot (no targets; its image is still encoded). *loss: the mean cross-entropy (0 when no slot has a caption);
 * *n_targets: how many targets it averages. With backward, grad_scale times the gradient of *loss is ADDED to the
 * encoder's and the projector's gradients: a batch split into micro-batches clears them once (frz_step_zero_grads)
 * and passes each part grad_scale = its targets / the batch's targets, which sums to the gradient of the
 * batch's mean loss. */
frz_status frz_step_run(frz_step *s, const float *images, const int32_t *tokens, int tok_stride, const int32_t *len,
                        int backward, float grad_scale, int n_threads, float *loss, int64_t *n_targets);

/* Sum of negative log-likelihoods and target count of slot b in the last pass (validation perplexity). */
void frz_step_seq_nll(const frz_step *s, int b, double *nll, int *count);

#endif
