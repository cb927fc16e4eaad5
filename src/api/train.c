/* train.c -- the public frz_train calls: parameters (read by struct_size, checked) over src/train/trainer.h. */
#include "api/api.h"

#include "train/trainer.h"

#include <math.h>
#include <stddef.h>
#include <string.h>

void (frz_train_params_init)(frz_train_params *p)
{
    if (!p) return;
    memset(p, 0, sizeof *p);
    p->struct_size = sizeof *p;
    p->vision_arch = "nf_resnet50";
    p->vision_width = 1.0f;
    p->image_size = 224;
    p->prefix_tokens = 2;
    p->batch_size = 128;
    p->lr = 3e-4f;
    p->beta1 = 0.9f;
    p->beta2 = 0.95f;
    p->adam_eps = 1e-8f;
    p->weight_decay = 0.0f;
    p->grad_clip = 0.0f;
    p->epochs = 1;
    p->max_steps = 0;
    p->val_fraction = 0.01f;
    p->val_every = 0;
    p->patience = 3;
    p->max_caption_tokens = 32;
    p->checkpoint_every = 0;
    p->n_threads = 1;
}

FRZ_DEFINE_INIT_SIZE(frz_train_params_init, frz_train_params)

/* The caller's parameters, reading only the members its struct_size covers; the rest keep their defaults. */
static frz_status read_params(const frz_train_params *user, frz_train_params *p)
{
    frz_train_params_init(p);
    return frz_params_merge(p, sizeof *p, user, "frz_train_create", "frz_train_params_init");
}

static frz_status bad(const char *what, double v, const char *range)
{
    return frz_fail(FRZ_ERR_INVALID_ARG, "frz_train_create: %s is %g; it must be %s", what, v, range);
}

static frz_status check_params(frz_train_params *p, const frz_lm *lm)
{
    const int64_t n_ctx = frz_lm_get(lm, FRZ_LM_N_CTX);
    if (!p->vision_arch) return frz_fail(FRZ_ERR_INVALID_ARG, "frz_train_create: vision_arch is NULL");
    if (!(p->vision_width > 0 && p->vision_width <= 16)) return bad("vision_width", p->vision_width, "in (0, 16]");
    if (p->image_size < FRZ_VISION_MIN_SIZE || p->image_size > FRZ_VISION_MAX_SIZE)
        return bad("image_size", p->image_size, "in 16..4096");
    if (p->prefix_tokens < 1 || p->prefix_tokens >= n_ctx)
        return bad("prefix_tokens", p->prefix_tokens, "at least 1 and below the LM's context length");
    if (p->max_caption_tokens < 1 || (int64_t)p->prefix_tokens + p->max_caption_tokens > n_ctx)
        return frz_fail(FRZ_ERR_INVALID_ARG, "frz_train_create: prefix_tokens %d + max_caption_tokens %d exceed the "
                        "LM's context length %lld", (int)p->prefix_tokens, (int)p->max_caption_tokens, (long long)n_ctx);
    if (p->batch_size < 1 || p->batch_size > 65536) return bad("batch_size", p->batch_size, "in 1..65536");
    if (p->micro_batch < 0 || (p->micro_batch > 0 && p->batch_size % p->micro_batch != 0))
        return frz_fail(FRZ_ERR_INVALID_ARG, "frz_train_create: micro_batch %d does not divide batch_size %d",
                        (int)p->micro_batch, (int)p->batch_size);
    if (!(p->lr > 0 && isfinite(p->lr))) return bad("lr", p->lr, "positive");
    if (!(p->beta1 >= 0 && p->beta1 < 1)) return bad("beta1", p->beta1, "in [0, 1)");
    if (!(p->beta2 >= 0 && p->beta2 < 1)) return bad("beta2", p->beta2, "in [0, 1)");
    if (!(p->adam_eps > 0 && isfinite(p->adam_eps))) return bad("adam_eps", p->adam_eps, "positive");
    if (!(p->weight_decay >= 0 && p->weight_decay * p->lr < 1)) return bad("weight_decay", p->weight_decay, ">= 0 with lr * weight_decay < 1");
    if (!(p->grad_clip >= 0 && isfinite(p->grad_clip))) return bad("grad_clip", p->grad_clip, ">= 0");
    if (p->epochs < 1) return bad("epochs", p->epochs, "at least 1");
    if (p->max_steps < 0) return bad("max_steps", (double)p->max_steps, ">= 0");
    if (!(p->val_fraction >= 0 && p->val_fraction <= 0.5f)) return bad("val_fraction", p->val_fraction, "in [0, 0.5]");
    if (p->val_every < 0) return bad("val_every", p->val_every, ">= 0");
    if (p->patience < 0) return bad("patience", p->patience, ">= 0");
    if (p->checkpoint_every < 0) return bad("checkpoint_every", p->checkpoint_every, ">= 0");
    if (p->n_threads < 1 || p->n_threads > 4096) return bad("n_threads", p->n_threads, "in 1..4096");
    if (p->lm_mode < FRZ_TRAIN_LM_FROZEN || p->lm_mode > FRZ_TRAIN_LM_SCRATCH)
        return bad("lm_mode", p->lm_mode, "FRZ_TRAIN_LM_FROZEN, _FINETUNE or _SCRATCH");
    if (!(p->lr_decay >= 0 && p->lr_decay <= 1)) return bad("lr_decay", p->lr_decay, "in [0, 1]");
    if (p->lm_lr == 0) p->lm_lr = p->lm_mode == FRZ_TRAIN_LM_FINETUNE ? 1e-5f : p->lr;
    if (!(p->lm_lr > 0 && isfinite(p->lm_lr))) return bad("lm_lr", p->lm_lr, "positive (or 0: the default)");
    if (frz_lm_get(lm, FRZ_LM_EOT_TOKEN) < 0)
        return frz_fail(FRZ_ERR_INVALID_ARG, "frz_train_create: the LM has no <|endoftext|> token to end captions with");
    return FRZ_OK;
}

frz_status frz_train_create(const frz_lm *lm, const char *data_path, const char *out_dir,
                            const frz_train_params *params, frz_train **out)
{
    if (!out) return frz_fail(FRZ_ERR_INVALID_ARG, "frz_train_create: out is NULL");
    *out = NULL;
    if (!lm || !data_path || !out_dir)
        return frz_fail(FRZ_ERR_INVALID_ARG, "frz_train_create: NULL model, data path or run folder");
    frz_train_params p;
    frz_status st = read_params(params, &p);
    if (st == FRZ_OK) st = check_params(&p, lm);
    if (st == FRZ_OK) st = frz_trainer_create(lm, data_path, out_dir, &p, out);
    return st;
}

frz_status frz_train_run(frz_train *t)
{
    if (!t) return frz_fail(FRZ_ERR_INVALID_ARG, "frz_train_run: NULL handle");
    return frz_trainer_run(t);
}

frz_status frz_train_get_progress(const frz_train *t, frz_train_progress *out)
{
    if (!t || !out) return frz_fail(FRZ_ERR_INVALID_ARG, "frz_train_get_progress: NULL handle or output");
    frz_train_progress p;
    frz_trainer_progress(t, &p);
    return frz_params_copy_out(out, &p, sizeof p, "frz_train_get_progress");
}

void frz_train_free(frz_train *t) { frz_trainer_free(t); }
