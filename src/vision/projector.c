/* projector.c -- the visual prefix's linear layer: forward, backward, init, safetensors (see projector.h). */
#include "vision/projector.h"

#include "math/blas.h"
#include "math/nn.h"
#include "math/rng.h"
#include "train/meta.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

frz_status frz_proj_create(int n_features, int n_prefix, int n_embd, frz_projector **out)
{
    if (!out) return frz_fail(FRZ_ERR_INVALID_ARG, "projector: out is NULL");
    *out = NULL;
    if (n_features < 1 || n_features > FRZ_PROJ_MAX_DIM || n_prefix < 1 || n_prefix > FRZ_PROJ_MAX_DIM ||
        n_embd < 1 || n_embd > FRZ_PROJ_MAX_DIM)
        return frz_fail(FRZ_ERR_INVALID_ARG, "projector: sizes features %d, prefix %d, embd %d must each be in 1..%d",
                        n_features, n_prefix, n_embd, FRZ_PROJ_MAX_DIM);
    size_t rows = (size_t)n_prefix * (size_t)n_embd;
    if (rows * (size_t)n_features >= ((size_t)1 << 31))
        return frz_fail(FRZ_ERR_INVALID_ARG, "projector: %d x %d x %d weights exceed 2^31", n_prefix, n_embd,
                        n_features);
    frz_projector *p = frz_calloc(1, sizeof *p, "projector");
    if (!p) return FRZ_ERR_NOMEM;
    p->n_features = n_features;
    p->n_prefix = n_prefix;
    p->n_embd = n_embd;
    p->n_params = rows * (size_t)n_features + rows;
    p->params = frz_calloc(p->n_params, sizeof *p->params, "projector parameters");
    if (!p->params) {
        free(p);
        return FRZ_ERR_NOMEM;
    }
    *out = p;
    return FRZ_OK;
}

void frz_proj_free(frz_projector *p)
{
    if (!p) return;
    free(p->params);
    free(p->grads);
    free(p);
}

void frz_proj_init(frz_projector *p, uint64_t seed, double scale)
{
    frz_rng rng;
    frz_rng_seed(&rng, seed);
    double bound = scale / sqrt((double)p->n_features);
    for (size_t i = 0; i < p->n_params; i++) p->params[i] = (float)((2.0 * frz_rng_uniform(&rng) - 1.0) * bound);
}

frz_status frz_proj_zero_grad(frz_projector *p, int n_threads)
{
    if (!p->grads) {
        p->grads = frz_calloc(p->n_params, sizeof *p->grads, "projector gradients");
        return p->grads ? FRZ_OK : FRZ_ERR_NOMEM;
    }
    frz_zero(p->grads, p->n_params, n_threads);
    return FRZ_OK;
}

void frz_proj_forward(const frz_projector *p, float *out, const float *pooled, int B, int n_threads)
{
    const int F = p->n_features, O = (int)frz_proj_out(p);
    const float *bias = frz_proj_bias(p);
    for (int b = 0; b < B; b++) memcpy(out + (size_t)b * O, bias, (size_t)O * sizeof *out);
    /* out (B,O) += pooled (B,F) @ W^T, W (O,F). Through frz_gemm_acc like every product: OpenBLAS's own worker
     * threads spin-yield for a while after each call and took a core from the OpenMP team that follows. */
    frz_gemm_acc(CblasNoTrans, CblasTrans, B, O, F, pooled, F, frz_proj_weight(p), F, out, O, n_threads);
}

void frz_proj_backward(frz_projector *p, float *d_pooled, const float *d_out, const float *pooled, int B,
                       int n_threads)
{
    const int F = p->n_features, O = (int)frz_proj_out(p);
    float *dW = p->grads, *db = p->grads + (size_t)O * F;
    /* dW (O,F) += d_out^T (O,B) @ pooled (B,F) */
    frz_gemm_acc(CblasTrans, CblasNoTrans, O, F, B, d_out, O, pooled, F, dW, F, n_threads);
    for (int b = 0; b < B; b++) {
        const float *g = d_out + (size_t)b * O;
        for (int o = 0; o < O; o++) db[o] += g[o];
    }
    /* d_pooled (B,F) += d_out (B,O) @ W (O,F) */
    if (d_pooled)
        frz_gemm_acc(CblasNoTrans, CblasNoTrans, B, F, O, d_out, O, frz_proj_weight(p), F, d_pooled, F, n_threads);
}

/* ---- files ------------------------------------------------------------------------------------------------ */

#define KEY_PREFIX "frozen.projector.n_prefix"
#define KEY_EMBD "frozen.projector.n_embd"
#define KEY_FEATURES "frozen.projector.n_features"

void frz_proj_to_meta(const frz_projector *p, frz_proj_meta *out)
{
    static const char *const keys[FRZ_PROJ_META_PAIRS] = {KEY_PREFIX, KEY_EMBD, KEY_FEATURES};
    const int vals[FRZ_PROJ_META_PAIRS] = {p->n_prefix, p->n_embd, p->n_features};
    for (int i = 0; i < FRZ_PROJ_META_PAIRS; i++) {
        frz_meta_fmt_int(out->values[i], sizeof out->values[i], vals[i]);
        out->kv[2 * i] = keys[i];
        out->kv[2 * i + 1] = out->values[i];
    }
}

frz_status frz_proj_save(const frz_projector *p, const char *path)
{
    if (!p || !path) return frz_fail(FRZ_ERR_INVALID_ARG, "projector save: NULL projector or path");
    frz_st_write_tensor t[2];
    memset(t, 0, sizeof t);
    t[0].name = FRZ_PROJ_WEIGHT;
    t[0].dtype = FRZ_DT_F32;
    t[0].ndim = 2;
    t[0].shape[0] = (int64_t)frz_proj_out(p);
    t[0].shape[1] = p->n_features;
    t[0].data = frz_proj_weight(p);
    t[1].name = FRZ_PROJ_BIAS;
    t[1].dtype = FRZ_DT_F32;
    t[1].ndim = 1;
    t[1].shape[0] = (int64_t)frz_proj_out(p);
    t[1].data = frz_proj_bias(p);
    frz_proj_meta meta;
    frz_proj_to_meta(p, &meta);
    return frz_st_write_file(path, t, 2, meta.kv, FRZ_PROJ_META_PAIRS);
}

frz_status frz_proj_from_set(const frz_st_set *set, const char *what, frz_projector **out)
{
    *out = NULL;
    int64_t n_prefix, n_embd, n_features;
    frz_status st = frz_meta_int(set, KEY_PREFIX, what, 1, FRZ_PROJ_MAX_DIM, &n_prefix);
    if (st == FRZ_OK) st = frz_meta_int(set, KEY_EMBD, what, 1, FRZ_PROJ_MAX_DIM, &n_embd);
    if (st == FRZ_OK) st = frz_meta_int(set, KEY_FEATURES, what, 1, FRZ_PROJ_MAX_DIM, &n_features);
    frz_projector *p = NULL;
    if (st != FRZ_OK) return st;
    st = frz_proj_create((int)n_features, (int)n_prefix, (int)n_embd, &p);
    if (st == FRZ_ERR_INVALID_ARG) return frz_fail_prefix(FRZ_ERR_FORMAT, "%s: ", what);
    if (st != FRZ_OK) return st;

    const int64_t wshape[2] = {(int64_t)frz_proj_out(p), p->n_features};
    const int64_t bshape[1] = {(int64_t)frz_proj_out(p)};
    const float *data;
    float *owned = NULL;
    st = frz_st_get_f32(set, FRZ_PROJ_WEIGHT, 2, wshape, &data, &owned);
    if (st == FRZ_OK) {
        memcpy(p->params, data, (size_t)(wshape[0] * wshape[1]) * sizeof *data);
        free(owned);
        owned = NULL;
        st = frz_st_get_f32(set, FRZ_PROJ_BIAS, 1, bshape, &data, &owned);
    }
    if (st == FRZ_OK) {
        memcpy(p->params + (size_t)(wshape[0] * wshape[1]), data, (size_t)bshape[0] * sizeof *data);
        free(owned);
    }
    if (st != FRZ_OK) { /* the message names the file and the tensor */
        frz_proj_free(p);
        return st;
    }
    *out = p;
    return FRZ_OK;
}

frz_status frz_proj_load(const char *path, frz_projector **out)
{
    if (!out) return frz_fail(FRZ_ERR_INVALID_ARG, "projector load: out is NULL");
    *out = NULL;
    if (!path) return frz_fail(FRZ_ERR_INVALID_ARG, "projector load: path is NULL");
    frz_st_set *set = NULL;
    frz_status st = frz_st_open_file(path, &set);
    if (st != FRZ_OK) return st;
    st = frz_proj_from_set(set, path, out);
    frz_st_close(set);
    return st;
}
