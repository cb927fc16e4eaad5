/* lm_opt.h -- AdamW over a GPT-2's weights: the weight gradients, the moments and the decay mask, laid out like
 * the model's own parameter block (lm->mem, the order of frz_gpt2_tensors' table), so zeroing, clipping and the
 * update are loops over flat arrays. Shared by `frz_pretrain` and the Frozen trainer's finetune/scratch modes.
 *
 * Weight decay (decoupled, adam.h) applies to the 2-D tensors only -- the matrices and the token and position
 * embeddings -- as in GPT-2 style training (nanoGPT); biases and LayerNorm parameters are not decayed. */
#ifndef FRZ_TRAIN_LM_OPT_H
#define FRZ_TRAIN_LM_OPT_H

#include "lm/gpt2_train.h"
#include "train/adam.h"

typedef struct frz_lm_opt {
    frz_lm *lm;              /* writable (lm->mem) */
    frz_gpt2_grads *g;       /* every weight's gradient, g->mem in the layout of lm->mem */
    float *m, *v;            /* (n) the moments */
    size_t n;                /* parameters */
    size_t n_tensors;
    size_t *off;             /* (n_tensors + 1) where tensor i starts in the flat arrays */
    unsigned char *decay;    /* (n_tensors) 1: weight decay applies */
} frz_lm_opt;

/* Gradients and zeroed moments for lm, whose weights must be writable (frz_gpt2_make_writable). */
frz_status frz_lm_opt_create(frz_lm *lm, frz_lm_opt **out);
void frz_lm_opt_free(frz_lm_opt *o);

/* Sum of squares of the gradient (for the global norm), independent of n_threads. */
double frz_lm_opt_sum_squares(const frz_lm_opt *o, int n_threads);

/* One AdamW step t (1-based) with the gradient times grad_scale; hp->weight_decay on the decayed tensors. */
void frz_lm_opt_step(frz_lm_opt *o, const frz_adam_hp *hp, int64_t t, float grad_scale, int n_threads);

#endif
