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

/* Metadata as (key, value) strings, each value formatted as it is added. */
enum { MAX_META = 32 };
typedef struct meta_list {
    const char *key[MAX_META];
    char val[MAX_META][40];
    int n;
} meta_list;

static char *meta_add(meta_list *l, const char *key)
{
    l->key[l->n] = key;
    return l->val[l->n++];
}
static void meta_int(meta_list *l, const char *key, int64_t v) { frz_meta_fmt_int(meta_add(l, key), 40, v); }
static void meta_real(meta_list *l, const char *key, double v) { frz_meta_fmt_double(meta_add(l, key), 40, v); }

#define SETTING(name) "frozen.pretrain." name

/* The settings kept: compared as strings on resume, both sides being formatted the same way (and the formats
 * reading back bit for bit). */
static void settings(const frz_pretrain_ckpt_run *r, int64_t n_params, meta_list *l)
{
    const frz_pretrain_params *p = r->p;
    meta_int(l, SETTING("steps"), p->steps);
    meta_int(l, SETTING("batch_size"), p->batch_size);
    meta_int(l, SETTING("context"), p->context);
    meta_real(l, SETTING("lr"), p->lr);
    meta_real(l, SETTING("warmup"), p->warmup);
    meta_real(l, SETTING("min_lr_ratio"), p->min_lr_ratio);
    meta_real(l, SETTING("beta1"), p->beta1);
    meta_real(l, SETTING("beta2"), p->beta2);
    meta_real(l, SETTING("adam_eps"), p->adam_eps);
    meta_real(l, SETTING("weight_decay"), p->weight_decay);
    meta_real(l, SETTING("grad_clip"), p->grad_clip);
    meta_real(l, SETTING("val_fraction"), p->val_fraction);
    meta_int(l, SETTING("tab_segments"), p->tab_segments != 0);
    meta_int(l, SETTING("no_shuffle"), p->no_shuffle != 0);
    snprintf(meta_add(l, SETTING("seed")), 40, "%" PRIu64, p->seed); /* the full 64 bits */
    meta_int(l, SETTING("n_train"), r->n_train);
    meta_int(l, SETTING("n_val"), r->n_val);
    meta_int(l, SETTING("n_tokens"), r->n_tokens);
    meta_int(l, SETTING("n_params"), n_params);
    meta_int(l, SETTING("format"), 1);
}

frz_status frz_pretrain_ckpt_save(const char *path, const frz_lm_opt *o, const frz_pretrain_ckpt_run *run,
                                  int64_t step, const frz_pretrain_pending *pending)
{
    meta_list l = {.n = 0};
    settings(run, (int64_t)o->n, &l);
    meta_int(&l, STEP_KEY, step);
    meta_int(&l, PENDING_KEY, pending->active != 0);
    meta_real(&l, PENDING_LOSS_KEY, pending->active ? (double)pending->loss : 0.0);
    meta_real(&l, PENDING_SPEED_KEY, pending->active ? pending->tokens_per_s : 0.0);
    const char *kv[2 * MAX_META];
    for (int i = 0; i < l.n; i++) kv[2 * i] = l.key[i], kv[2 * i + 1] = l.val[i];
    const float *data[3] = {o->lm->mem, o->m, o->v};
    frz_st_write_tensor ts[3];
    for (int i = 0; i < 3; i++)
        ts[i] = (frz_st_write_tensor){TENSORS[i], FRZ_DT_F32, 1, {(int64_t)o->n}, data[i]};
    return frz_st_write_file(path, ts, 3, kv, (size_t)l.n);
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
    meta_list l = {.n = 0};
    settings(run, (int64_t)o->n, &l);
    for (int i = 0; st == FRZ_OK && i < l.n; i++) {
        const char *v;
        st = frz_meta_string(set, l.key[i], path, &v);
        if (st == FRZ_OK && strcmp(v, l.val[i]) != 0)
            st = frz_fail(FRZ_ERR_INVALID_ARG, "%s: the run was made with %s = %s, this one has %s: resume with the "
                          "same corpus and settings", path, l.key[i] + strlen(SETTING("")), v, l.val[i]);
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
