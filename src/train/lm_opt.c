/* lm_opt.c -- AdamW over a GPT-2's flat parameter block (see lm_opt.h). */
#include "train/lm_opt.h"

#include <stdlib.h>

void frz_lm_opt_free(frz_lm_opt *o)
{
    if (!o) return;
    frz_gpt2_grads_free(o->g);
    free(o->m), free(o->v), free(o->off), free(o->decay);
    free(o);
}

frz_status frz_lm_opt_create(frz_lm *lm, frz_lm_opt **out)
{
    *out = NULL;
    if (!lm->mem || lm->st)
        return frz_fail(FRZ_ERR_INVALID_ARG, "LM optimiser: the model's weights are not writable");
    frz_lm_opt *o = frz_calloc(1, sizeof *o, "the LM optimiser");
    if (!o) return FRZ_ERR_NOMEM;
    o->lm = lm;
    frz_gpt2_weights w = lm->w; /* the table only reads the shapes */
    frz_gpt2_tensor *t = NULL;
    size_t n_t = 0;
    frz_status st = frz_gpt2_table(&lm->cfg, &w, &t, &n_t);
    if (st == FRZ_OK) st = frz_gpt2_grads_create(lm, &o->g);
    if (st == FRZ_OK) {
        o->n = o->g->n_floats;
        o->n_tensors = n_t;
        o->m = frz_calloc(o->n, sizeof *o->m, "LM Adam moments");
        o->v = frz_calloc(o->n, sizeof *o->v, "LM Adam moments");
        o->off = frz_malloc((n_t + 1) * sizeof *o->off, "LM tensor offsets");
        o->decay = frz_malloc(n_t, "LM decay mask");
        if (!o->m || !o->v || !o->off || !o->decay) st = FRZ_ERR_NOMEM;
    }
    if (st == FRZ_OK && o->n != lm->n_mem)
        st = frz_fail(FRZ_ERR_SHAPE, "LM optimiser: %zu gradients for %zu parameters", o->n, lm->n_mem);
    if (st == FRZ_OK) {
        size_t at = 0;
        for (size_t i = 0; i < n_t; i++) {
            o->off[i] = at;
            o->decay[i] = t[i].ndim == 2;
            at += frz_gpt2_numel(&t[i]);
        }
        o->off[n_t] = at;
    }
    free(t);
    if (st) {
        frz_lm_opt_free(o);
        return st;
    }
    *out = o;
    return FRZ_OK;
}

double frz_lm_opt_sum_squares(const frz_lm_opt *o, int n_threads)
{
    return frz_sum_squares(o->g->mem, o->n, n_threads);
}

void frz_lm_opt_step(frz_lm_opt *o, const frz_adam_hp *hp, int64_t t, float grad_scale, int n_threads)
{
    for (size_t i = 0; i < o->n_tensors; i++) {
        frz_adam_hp h = *hp;
        if (!o->decay[i]) h.weight_decay = 0.0f;
        const size_t a = o->off[i], n = o->off[i + 1] - a;
        frz_adam_update(o->lm->mem + a, o->g->mem + a, o->m + a, o->v + a, n, &h, t, grad_scale, n_threads);
    }
}
