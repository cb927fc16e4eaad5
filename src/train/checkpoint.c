/* checkpoint.c -- the training checkpoint file (see checkpoint.h). */
#include "train/checkpoint.h"

#include "api/api.h"
#include "train/meta.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

frz_status frz_ckpt_moments_create(size_t n_vision, size_t n_proj, frz_ckpt_moments *mom)
{
    memset(mom, 0, sizeof *mom);
    mom->m_vision = frz_calloc(n_vision, sizeof(float), "Adam moments");
    mom->v_vision = frz_calloc(n_vision, sizeof(float), "Adam moments");
    mom->m_proj = frz_calloc(n_proj, sizeof(float), "Adam moments");
    mom->v_proj = frz_calloc(n_proj, sizeof(float), "Adam moments");
    if (mom->m_vision && mom->v_vision && mom->m_proj && mom->v_proj) return FRZ_OK;
    frz_ckpt_moments_free(mom);
    return FRZ_ERR_NOMEM;
}

void frz_ckpt_moments_free(frz_ckpt_moments *mom)
{
    free(mom->m_vision), free(mom->v_vision), free(mom->m_proj), free(mom->v_proj);
    memset(mom, 0, sizeof *mom);
}

/* ---- the training state as metadata -------------------------------------------------------------------------- */

enum { K_STEP, K_EPOCH, K_SEED, K_BEST, K_BEST_STEP, K_BAD, K_STOPPED, K_SKIPPED, K_LAST_VAL, K_LAST_LOSS, K_LAST_IPS,
       K_BATCH, K_MAXTOK, K_BLIND, K_NTRAIN, K_NVAL, K_SIZE, N_KEYS };

static const char *const KEYS[N_KEYS] = {
    "frozen.train.step", "frozen.train.epoch", "frozen.train.seed", "frozen.train.best_val_ppl",
    "frozen.train.best_step", "frozen.train.bad_validations", "frozen.train.stopped", "frozen.train.skipped_images",
    "frozen.train.last_val_step", "frozen.train.last_loss", "frozen.train.last_images_per_s",
    "frozen.train.batch_size", "frozen.train.max_caption_tokens", "frozen.train.blind", "frozen.train.n_train",
    "frozen.train.n_val", FRZ_VISION_META_SIZE,
};

frz_status frz_ckpt_save(const char *path, const frz_nfr_model *enc, int32_t image_size, const frz_projector *proj,
                         const frz_ckpt_moments *mom, const frz_ckpt_state *s, const frz_ckpt_lm *lm)
{
    char vals[N_KEYS][40];
    frz_meta_fmt_int(vals[K_STEP], 40, s->step);
    frz_meta_fmt_int(vals[K_EPOCH], 40, s->epoch);
    snprintf(vals[K_SEED], 40, "%" PRIu64, s->seed); /* the full 64 bits */
    frz_meta_fmt_double(vals[K_BEST], 40, s->best_val_ppl);
    frz_meta_fmt_int(vals[K_BEST_STEP], 40, s->best_step);
    frz_meta_fmt_int(vals[K_BAD], 40, s->bad_validations);
    frz_meta_fmt_int(vals[K_STOPPED], 40, s->stopped);
    frz_meta_fmt_int(vals[K_SKIPPED], 40, s->skipped_images);
    frz_meta_fmt_int(vals[K_LAST_VAL], 40, s->last_val_step);
    frz_meta_fmt_double(vals[K_LAST_LOSS], 40, (double)s->last_loss);
    frz_meta_fmt_double(vals[K_LAST_IPS], 40, s->last_images_per_s);
    frz_meta_fmt_int(vals[K_BATCH], 40, s->batch_size);
    frz_meta_fmt_int(vals[K_MAXTOK], 40, s->max_caption_tokens);
    frz_meta_fmt_int(vals[K_BLIND], 40, s->blind);
    frz_meta_fmt_int(vals[K_NTRAIN], 40, s->n_train);
    frz_meta_fmt_int(vals[K_NVAL], 40, s->n_val);
    frz_meta_fmt_int(vals[K_SIZE], 40, image_size);

    frz_nfr_meta nm;
    frz_nfr_config_to_meta(&enc->cfg, &nm);
    frz_proj_meta pm;
    frz_proj_to_meta(proj, &pm);
    size_t n_meta = FRZ_NFR_META_PAIRS + FRZ_PROJ_META_PAIRS + N_KEYS;
    const char *kv[2 * (FRZ_NFR_META_PAIRS + FRZ_PROJ_META_PAIRS + N_KEYS + 1)];
    memcpy(kv, nm.kv, sizeof nm.kv);
    memcpy(kv + 2 * FRZ_NFR_META_PAIRS, pm.kv, sizeof pm.kv);
    for (int i = 0; i < N_KEYS; i++) {
        kv[2 * (FRZ_NFR_META_PAIRS + FRZ_PROJ_META_PAIRS + i)] = KEYS[i];
        kv[2 * (FRZ_NFR_META_PAIRS + FRZ_PROJ_META_PAIRS + i) + 1] = vals[i];
    }

    char mode[16];
    if (lm) { /* the trained LM's mode: a resumed run must train it the same way */
        snprintf(mode, sizeof mode, "%d", (int)lm->mode);
        kv[2 * n_meta] = FRZ_CKPT_LM_MODE;
        kv[2 * n_meta + 1] = mode;
        n_meta++;
    }
    const int ne = enc->arch.n_tensors;
    frz_st_write_tensor *ts = frz_calloc((size_t)ne + 9, sizeof *ts, "checkpoint tensor list");
    if (!ts) return FRZ_ERR_NOMEM;
    frz_vision_tensors(enc, ts);
    const size_t O = frz_proj_out(proj);
    const struct {
        const char *name;
        int ndim;
        int64_t d0, d1;
        const float *data;
    } extra[9] = {
        {FRZ_PROJ_WEIGHT, 2, (int64_t)O, proj->n_features, frz_proj_weight(proj)},
        {FRZ_PROJ_BIAS, 1, (int64_t)O, 0, frz_proj_bias(proj)},
        {"adam.m.vision", 1, (int64_t)enc->arch.n_params, 0, mom->m_vision},
        {"adam.v.vision", 1, (int64_t)enc->arch.n_params, 0, mom->v_vision},
        {"adam.m.projector", 1, (int64_t)proj->n_params, 0, mom->m_proj},
        {"adam.v.projector", 1, (int64_t)proj->n_params, 0, mom->v_proj},
        {"lm.params", 1, lm ? (int64_t)lm->n : 0, 0, lm ? lm->params : NULL},
        {"adam.m.lm", 1, lm ? (int64_t)lm->n : 0, 0, lm ? lm->m : NULL},
        {"adam.v.lm", 1, lm ? (int64_t)lm->n : 0, 0, lm ? lm->v : NULL},
    };
    const int n_extra = lm ? 9 : 6;
    for (int i = 0; i < n_extra; i++) {
        frz_st_write_tensor *t = &ts[ne + i];
        t->name = extra[i].name;
        t->dtype = FRZ_DT_F32;
        t->ndim = extra[i].ndim;
        t->shape[0] = extra[i].d0;
        t->shape[1] = extra[i].d1;
        t->data = extra[i].data;
    }
    frz_status st = frz_st_write_file(path, ts, (size_t)(ne + n_extra), kv, n_meta);
    free(ts);
    return st;
}

/* A 1-D F32 tensor of exactly n floats copied into dst. */
static frz_status read_flat(const frz_st_set *set, const char *name, size_t n, float *dst)
{
    const int64_t shape[1] = {(int64_t)n};
    const float *data;
    float *owned;
    frz_status st = frz_st_get_f32(set, name, 1, shape, &data, &owned);
    if (st == FRZ_OK) memcpy(dst, data, n * sizeof *dst);
    if (st == FRZ_OK) free(owned);
    return st;
}

static frz_status read_state(const frz_st_set *set, const char *what, frz_ckpt_state *s)
{
    int64_t v[N_KEYS];
    double best = 0, last_loss = 0, ips = 0;
    static const int64_t lo[N_KEYS] = {0, 0, 0, 0, -1, 0, 0, 0, -1, 0, 0, 1, 1, 0, 1, 0, 1};
    static const int64_t hi[N_KEYS] = {INT64_MAX, INT32_MAX, 0, 0, INT64_MAX, INT32_MAX, 1, INT64_MAX, INT64_MAX, 0, 0,
                                       INT32_MAX, INT32_MAX, 1, INT64_MAX, INT64_MAX, 1 << 20};
    frz_status st = FRZ_OK;
    for (int i = 0; i < N_KEYS && st == FRZ_OK; i++) {
        if (i == K_SEED || i == K_BEST || i == K_LAST_LOSS || i == K_LAST_IPS) continue;
        st = frz_meta_int(set, KEYS[i], what, lo[i], hi[i], &v[i]);
    }
    const char *seed = NULL;
    if (st == FRZ_OK) st = frz_meta_string(set, KEYS[K_SEED], what, &seed);
    char *end = NULL;
    unsigned long long sv = 0;
    if (st == FRZ_OK) {
        sv = strtoull(seed, &end, 10);
        if (seed[0] < '0' || seed[0] > '9' || *end != '\0')
            st = frz_fail(FRZ_ERR_FORMAT, "%s: metadata \"%s\" is \"%s\", not an unsigned integer", what, KEYS[K_SEED], seed);
    }
    if (st == FRZ_OK) st = frz_meta_double(set, KEYS[K_BEST], what, 0, &best);
    if (st == FRZ_OK) st = frz_meta_double(set, KEYS[K_LAST_LOSS], what, 1, &last_loss);
    if (st == FRZ_OK) st = frz_meta_double(set, KEYS[K_LAST_IPS], what, 0, &ips);
    if (st != FRZ_OK) return st;
    memset(s, 0, sizeof *s);
    s->step = v[K_STEP];
    s->epoch = (int32_t)v[K_EPOCH];
    s->seed = (uint64_t)sv;
    s->best_val_ppl = best;
    s->best_step = v[K_BEST_STEP];
    s->bad_validations = (int32_t)v[K_BAD];
    s->stopped = (int32_t)v[K_STOPPED];
    s->skipped_images = v[K_SKIPPED];
    s->last_val_step = v[K_LAST_VAL];
    s->last_loss = (float)last_loss;
    s->last_images_per_s = ips;
    s->batch_size = (int32_t)v[K_BATCH];
    s->max_caption_tokens = (int32_t)v[K_MAXTOK];
    s->blind = (int32_t)v[K_BLIND];
    s->n_train = v[K_NTRAIN];
    s->n_val = v[K_NVAL];
    return FRZ_OK;
}

frz_status frz_ckpt_load(const char *path, frz_nfr_model **enc_out, int32_t *image_size, frz_projector **proj_out,
                         frz_ckpt_moments *mom, frz_ckpt_state *state)
{
    *enc_out = NULL;
    *proj_out = NULL;
    memset(mom, 0, sizeof *mom);
    frz_st_set *set = NULL;
    frz_nfr_model *enc = NULL;
    frz_projector *proj = NULL;
    frz_nfr_config cfg;
    frz_status st = frz_st_open_file(path, &set);
    if (st == FRZ_OK) st = frz_vision_read_size(set, path, image_size);
    if (st == FRZ_OK) st = read_state(set, path, state);
    if (st == FRZ_OK) st = frz_nfr_config_from_meta(set, path, &cfg);
    if (st == FRZ_OK) st = frz_nfr_create(&cfg, &enc);
    if (st == FRZ_OK) st = frz_vision_read_params(enc, set);
    if (st == FRZ_OK) st = frz_proj_from_set(set, path, &proj);
    if (st == FRZ_OK) st = frz_ckpt_moments_create(enc->arch.n_params, proj->n_params, mom);
    if (st == FRZ_OK) st = read_flat(set, "adam.m.vision", enc->arch.n_params, mom->m_vision);
    if (st == FRZ_OK) st = read_flat(set, "adam.v.vision", enc->arch.n_params, mom->v_vision);
    if (st == FRZ_OK) st = read_flat(set, "adam.m.projector", proj->n_params, mom->m_proj);
    if (st == FRZ_OK) st = read_flat(set, "adam.v.projector", proj->n_params, mom->v_proj);
    frz_st_close(set);
    if (st != FRZ_OK) {
        frz_nfr_free(enc);
        frz_proj_free(proj);
        frz_ckpt_moments_free(mom);
        return st;
    }
    *enc_out = enc;
    *proj_out = proj;
    return FRZ_OK;
}

frz_status frz_ckpt_load_lm(const char *path, const frz_ckpt_lm *lm)
{
    frz_st_set *set = NULL;
    frz_status st = frz_st_open_file(path, &set);
    int64_t mode = 0;
    if (st == FRZ_OK && frz_st_metadata(set, FRZ_CKPT_LM_MODE)) st = frz_meta_int(set, FRZ_CKPT_LM_MODE, path, 0, 2, &mode);
    if (st == FRZ_OK && mode != lm->mode)
        st = frz_fail(FRZ_ERR_INVALID_ARG, "%s: cannot resume: the LM mode is %d now but %d in the checkpoint", path,
                      (int)lm->mode, (int)mode);
    if (st == FRZ_OK) st = read_flat(set, "lm.params", lm->n, lm->params);
    if (st == FRZ_OK) st = read_flat(set, "adam.m.lm", lm->n, lm->m);
    if (st == FRZ_OK) st = read_flat(set, "adam.v.lm", lm->n, lm->v);
    frz_st_close(set);
    return st;
}
