/* pretrain.c -- the public frz_pretrain calls: parameters (read by struct_size, checked) over
 * src/train/pretrain.h. */
#include "lm/gpt2.h"
#include "train/pretrain.h"

#include <math.h>
#include <string.h>

void (frz_pretrain_params_init)(frz_pretrain_params *p)
{
    if (!p) return;
    memset(p, 0, sizeof *p);
    p->struct_size = sizeof *p;
    p->steps = 1000;
    p->batch_size = 32;
    p->context = 0;
    p->lr = 1e-3f;
    p->warmup = 100;
    p->min_lr_ratio = 0.1f;
    p->beta1 = 0.9f;
    p->beta2 = 0.95f;
    p->adam_eps = 1e-8f;
    p->weight_decay = 0.1f;
    p->grad_clip = 1.0f;
    p->val_fraction = 0.05f;
    p->n_threads = 1;
}

FRZ_DEFINE_INIT_SIZE(frz_pretrain_params_init, frz_pretrain_params)

static frz_status bad(const char *what, double v, const char *range)
{
    return frz_fail(FRZ_ERR_INVALID_ARG, "frz_pretrain_create: %s is %g; it must be %s", what, v, range);
}

static frz_status check_params(frz_pretrain_params *p, const frz_lm *lm)
{
    if (p->steps < 1) return bad("steps", (double)p->steps, "at least 1");
    if (p->batch_size < 1 || p->batch_size > 65536) return bad("batch_size", p->batch_size, "in 1..65536");
    if (p->context == 0) p->context = lm->cfg.n_ctx;
    if (p->context < 1 || p->context > lm->cfg.n_ctx)
        return frz_fail(FRZ_ERR_INVALID_ARG, "frz_pretrain_create: context is %d; it must be in 1..%d (the model's "
                        "n_ctx)", (int)p->context, lm->cfg.n_ctx);
    if (!(p->lr > 0 && isfinite(p->lr))) return bad("lr", p->lr, "positive");
    if (p->warmup < 0) return bad("warmup", p->warmup, ">= 0");
    if (!(p->min_lr_ratio >= 0 && p->min_lr_ratio <= 1)) return bad("min_lr_ratio", p->min_lr_ratio, "in [0, 1]");
    if (!(p->beta1 >= 0 && p->beta1 < 1)) return bad("beta1", p->beta1, "in [0, 1)");
    if (!(p->beta2 >= 0 && p->beta2 < 1)) return bad("beta2", p->beta2, "in [0, 1)");
    if (!(p->adam_eps > 0 && isfinite(p->adam_eps))) return bad("adam_eps", p->adam_eps, "positive");
    if (!(p->weight_decay >= 0 && p->weight_decay * p->lr < 1))
        return bad("weight_decay", p->weight_decay, ">= 0 with lr * weight_decay < 1");
    if (!(p->grad_clip >= 0 && isfinite(p->grad_clip))) return bad("grad_clip", p->grad_clip, ">= 0");
    if (!(p->val_fraction >= 0 && p->val_fraction <= 0.5f)) return bad("val_fraction", p->val_fraction, "in [0, 0.5]");
    if (p->val_every < 0) return bad("val_every", p->val_every, ">= 0");
    if (p->checkpoint_every < 0) return bad("checkpoint_every", p->checkpoint_every, ">= 0");
    if (p->n_threads < 1 || p->n_threads > 4096) return bad("n_threads", p->n_threads, "in 1..4096");
    if (!lm->tok || lm->eot < 0)
        return frz_fail(FRZ_ERR_INVALID_ARG, "frz_pretrain_create: the model has no tokenizer with <|endoftext|>");
    return FRZ_OK;
}

frz_status frz_pretrain_create(frz_lm *lm, const char *corpus_path, const char *out_dir,
                               const frz_pretrain_params *params, frz_pretrain **out)
{
    if (!out) return frz_fail(FRZ_ERR_INVALID_ARG, "frz_pretrain_create: out is NULL");
    *out = NULL;
    if (!lm || !corpus_path || !out_dir)
        return frz_fail(FRZ_ERR_INVALID_ARG, "frz_pretrain_create: NULL model, corpus path or output folder");
    frz_pretrain_params p;
    frz_pretrain_params_init(&p);
    frz_status st = frz_params_merge(&p, sizeof p, params, "frz_pretrain_create", "frz_pretrain_params_init");
    if (st == FRZ_OK) st = check_params(&p, lm);
    if (st == FRZ_OK) st = frz_pretrainer_create(lm, corpus_path, out_dir, &p, out);
    return st;
}

frz_status frz_pretrain_run(frz_pretrain *t)
{
    if (!t) return frz_fail(FRZ_ERR_INVALID_ARG, "frz_pretrain_run: NULL handle");
    return frz_pretrainer_run(t);
}

frz_status frz_pretrain_get_progress(const frz_pretrain *t, frz_pretrain_progress *out)
{
    if (!t || !out) return frz_fail(FRZ_ERR_INVALID_ARG, "frz_pretrain_get_progress: NULL handle or output");
    frz_pretrain_progress p;
    frz_pretrainer_progress(t, &p);
    return frz_params_copy_out(out, &p, sizeof p, "frz_pretrain_get_progress");
}

void frz_pretrain_free(frz_pretrain *t) { frz_pretrainer_free(t); }
