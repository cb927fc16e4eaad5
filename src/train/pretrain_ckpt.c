/* pretrain_ckpt.c -- the LM pretraining checkpoint (see pretrain_ckpt.h). */
#include "train/pretrain_ckpt.h"

#include "train/meta.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define STEP_KEY "frozen.pretrain.step"
#define PENDING_KEY "frozen.pretrain.pending"             /* 0, or 1 with the two below */
#define PENDING_LOSS_KEY "frozen.pretrain.pending_loss"
#define PENDING_SPEED_KEY "frozen.pretrain.pending_tokens_per_s"

static const char *const TENSORS[3] = {"lm.params", "adam.m.lm", "adam.v.lm"};

enum { N_SETTINGS = 20 };

/* The settings kept, as (key, value) strings: compared as strings on resume, since both sides are formatted
 * the same way and the formats read back bit for bit. */
static void settings(const frz_pretrain_ckpt_run *r, int64_t n_params, char vals[N_SETTINGS][40],
                     const char *keys[N_SETTINGS])
{
    const frz_pretrain_params *p = r->p;
    static const char *const k[N_SETTINGS] = {
        "frozen.pretrain.steps", "frozen.pretrain.batch_size", "frozen.pretrain.context", "frozen.pretrain.lr",
        "frozen.pretrain.warmup", "frozen.pretrain.min_lr_ratio", "frozen.pretrain.beta1", "frozen.pretrain.beta2",
        "frozen.pretrain.adam_eps", "frozen.pretrain.weight_decay", "frozen.pretrain.grad_clip",
        "frozen.pretrain.val_fraction", "frozen.pretrain.tab_segments", "frozen.pretrain.no_shuffle",
        "frozen.pretrain.seed", "frozen.pretrain.n_train", "frozen.pretrain.n_val", "frozen.pretrain.n_tokens",
        "frozen.pretrain.n_params", "frozen.pretrain.format",
    };
    const int64_t ints[] = {p->steps, p->batch_size, p->context};
    for (int i = 0; i < 3; i++) frz_meta_fmt_int(vals[i], 40, ints[i]);
    const double reals[] = {p->lr, p->warmup, p->min_lr_ratio, p->beta1, p->beta2, p->adam_eps, p->weight_decay,
                            p->grad_clip, p->val_fraction};
    for (int i = 0; i < 9; i++) frz_meta_fmt_double(vals[3 + i], 40, reals[i]);
    frz_meta_fmt_int(vals[12], 40, p->tab_segments != 0);
    frz_meta_fmt_int(vals[13], 40, p->no_shuffle != 0);
    snprintf(vals[14], 40, "%" PRIu64, p->seed); /* the full 64 bits */
    frz_meta_fmt_int(vals[15], 40, r->n_train);
    frz_meta_fmt_int(vals[16], 40, r->n_val);
    frz_meta_fmt_int(vals[17], 40, r->n_tokens);
    frz_meta_fmt_int(vals[18], 40, n_params);
    snprintf(vals[19], 40, "1");
    for (int i = 0; i < N_SETTINGS; i++) keys[i] = k[i];
}

frz_status frz_pretrain_ckpt_save(const char *path, const frz_lm_opt *o, const frz_pretrain_ckpt_run *run,
                                  int64_t step, const frz_pretrain_pending *pending)
{
    enum { N_META = N_SETTINGS + 4 };
    char vals[N_META][40];
    const char *keys[N_META];
    settings(run, (int64_t)o->n, vals, keys);
    keys[N_SETTINGS] = STEP_KEY;
    frz_meta_fmt_int(vals[N_SETTINGS], 40, step);
    keys[N_SETTINGS + 1] = PENDING_KEY;
    frz_meta_fmt_int(vals[N_SETTINGS + 1], 40, pending->active != 0);
    keys[N_SETTINGS + 2] = PENDING_LOSS_KEY;
    frz_meta_fmt_double(vals[N_SETTINGS + 2], 40, pending->active ? (double)pending->loss : 0.0);
    keys[N_SETTINGS + 3] = PENDING_SPEED_KEY;
    frz_meta_fmt_double(vals[N_SETTINGS + 3], 40, pending->active ? pending->tokens_per_s : 0.0);
    const char *kv[2 * N_META];
    for (int i = 0; i < N_META; i++) kv[2 * i] = keys[i], kv[2 * i + 1] = vals[i];
    const float *data[3] = {o->lm->mem, o->m, o->v};
    frz_st_write_tensor ts[3];
    for (int i = 0; i < 3; i++)
        ts[i] = (frz_st_write_tensor){TENSORS[i], FRZ_DT_F32, 1, {(int64_t)o->n}, data[i]};
    return frz_st_write_file(path, ts, 3, kv, N_META);
}

frz_status frz_pretrain_ckpt_load(const char *path, frz_lm_opt *o, const frz_pretrain_ckpt_run *run, int64_t *step,
                                  frz_pretrain_pending *pending)
{
    if (access(path, F_OK) != 0)
        return frz_fail(FRZ_ERR_IO, "%s: no pretraining checkpoint to resume from (a run that finished removes it; "
                        "start without resume)", path);
    frz_st_set *set = NULL;
    frz_status st = frz_st_open_file(path, &set);
    if (st != FRZ_OK) return st;
    char vals[N_SETTINGS][40];
    const char *keys[N_SETTINGS];
    settings(run, (int64_t)o->n, vals, keys);
    for (int i = 0; st == FRZ_OK && i < N_SETTINGS; i++) {
        const char *v;
        st = frz_meta_string(set, keys[i], path, &v);
        if (st == FRZ_OK && strcmp(v, vals[i]) != 0)
            st = frz_fail(FRZ_ERR_INVALID_ARG, "%s: the run was made with %s = %s, this one has %s: resume with the "
                          "same corpus and settings", path, keys[i] + strlen("frozen.pretrain."), v, vals[i]);
    }
    int64_t s = 0, active = 0;
    double loss = 0, speed = 0;
    if (st == FRZ_OK) st = frz_meta_int(set, STEP_KEY, path, 0, run->p->steps, &s);
    if (st == FRZ_OK) st = frz_meta_int(set, PENDING_KEY, path, 0, 1, &active);
    if (st == FRZ_OK) st = frz_meta_double(set, PENDING_LOSS_KEY, path, 1, &loss);
    if (st == FRZ_OK) st = frz_meta_double(set, PENDING_SPEED_KEY, path, 0, &speed);
    /* all three read before any is copied: nothing changes on failure */
    const int64_t shape[1] = {(int64_t)o->n};
    const float *src[3] = {NULL, NULL, NULL};
    float *owned[3] = {NULL, NULL, NULL};
    for (int i = 0; st == FRZ_OK && i < 3; i++) st = frz_st_get_f32(set, TENSORS[i], 1, shape, &src[i], &owned[i]);
    if (st == FRZ_OK) {
        float *dst[3] = {o->lm->mem, o->m, o->v};
        for (int i = 0; i < 3; i++) memcpy(dst[i], src[i], o->n * sizeof(float));
        *step = s;
        *pending = (frz_pretrain_pending){(int)active, (float)loss, speed};
    }
    for (int i = 0; i < 3; i++) free(owned[i]);
    frz_st_close(set);
    return st;
}
