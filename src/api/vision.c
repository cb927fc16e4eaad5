/* vision.c -- the public frz_vision calls: an NF-ResNet (src/vision/) plus its image size, safetensors files
 * with the architecture and the size as metadata, and encoding one image. An encode reuses the working memory of
 * the previous one (frz_vision_spare): no allocation, and the convs' standardised weights computed once. */
#include "api/api.h"

#include "image/image.h"
#include "train/meta.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static frz_status check_size(int32_t image_size, const char *what)
{
    if (image_size < FRZ_VISION_MIN_SIZE || image_size > FRZ_VISION_MAX_SIZE)
        return frz_fail(FRZ_ERR_INVALID_ARG, "%s: image size %d is outside %d..%d", what, (int)image_size,
                        FRZ_VISION_MIN_SIZE, FRZ_VISION_MAX_SIZE);
    return FRZ_OK;
}

static frz_status spare_create(frz_vision *v)
{
    v->spare = frz_calloc(1, sizeof *v->spare, "encoder working memory");
    if (!v->spare) return FRZ_ERR_NOMEM;
    atomic_init(&v->spare->busy, 0);
    return FRZ_OK;
}

frz_status frz_vision_create(const char *arch, float width, int32_t image_size, uint64_t seed, frz_vision **out)
{
    if (!out) return frz_fail(FRZ_ERR_INVALID_ARG, "frz_vision_create: out is NULL");
    *out = NULL;
    if (!arch) return frz_fail(FRZ_ERR_INVALID_ARG, "frz_vision_create: arch is NULL");
    frz_nfr_config cfg;
    frz_status st = check_size(image_size, "frz_vision_create");
    if (st == FRZ_OK) st = frz_nfr_config_named(arch, width, &cfg);
    frz_vision *v = st == FRZ_OK ? frz_calloc(1, sizeof *v, "vision encoder") : NULL;
    if (st == FRZ_OK && !v) st = FRZ_ERR_NOMEM;
    if (st == FRZ_OK) st = frz_nfr_create(&cfg, &v->m);
    if (st == FRZ_OK) st = spare_create(v);
    if (st != FRZ_OK) {
        frz_vision_free(v);
        return st;
    }
    frz_nfr_init(v->m, seed);
    v->image_size = image_size;
    *out = v;
    return FRZ_OK;
}

void frz_vision_free(frz_vision *v)
{
    if (!v) return;
    if (v->spare) {
        frz_nfr_state_free(v->spare->st);
        free(v->spare->x);
        free(v->spare);
    }
    frz_nfr_free(v->m);
    free(v);
}

void frz_vision_tensors(const frz_nfr_model *m, frz_st_write_tensor *ts)
{
    const frz_nfr_arch *a = &m->arch;
    for (int i = 0; i < a->n_tensors; i++) {
        const frz_nfr_tensor *t = &a->tensors[i];
        memset(&ts[i], 0, sizeof ts[i]);
        ts[i].name = t->name;
        ts[i].dtype = FRZ_DT_F32;
        ts[i].ndim = t->ndim;
        for (int d = 0; d < t->ndim; d++) ts[i].shape[d] = t->shape[d];
        ts[i].data = m->params + t->offset;
    }
}

frz_status frz_vision_read_params(frz_nfr_model *m, const frz_st_set *set)
{
    for (int i = 0; i < m->arch.n_tensors; i++) {
        const frz_nfr_tensor *t = &m->arch.tensors[i];
        const float *data;
        float *owned;
        frz_status st = frz_st_get_f32(set, t->name, t->ndim, t->shape, &data, &owned);
        if (st != FRZ_OK) return st;
        memcpy(m->params + t->offset, data, t->numel * sizeof(float));
        free(owned);
    }
    return FRZ_OK;
}

frz_status frz_vision_read_size(const frz_st_set *set, const char *what, int32_t *out)
{
    *out = FRZ_VISION_DEFAULT_SIZE;
    if (!frz_st_metadata(set, FRZ_VISION_META_SIZE)) return FRZ_OK;
    int64_t v;
    frz_status st = frz_meta_int(set, FRZ_VISION_META_SIZE, what, FRZ_VISION_MIN_SIZE, FRZ_VISION_MAX_SIZE, &v);
    if (st == FRZ_OK) *out = (int32_t)v;
    return st;
}

frz_status frz_vision_save(const frz_vision *v, const char *path)
{
    if (!v || !path) return frz_fail(FRZ_ERR_INVALID_ARG, "frz_vision_save: NULL encoder or path");
    const frz_nfr_arch *a = &v->m->arch;
    frz_st_write_tensor *ts = frz_calloc((size_t)a->n_tensors, sizeof *ts, "vision tensor list");
    if (!ts) return FRZ_ERR_NOMEM;
    frz_vision_tensors(v->m, ts);
    frz_nfr_meta meta;
    frz_nfr_config_to_meta(&v->m->cfg, &meta);
    const char *kv[2 * FRZ_NFR_META_PAIRS + 2];
    memcpy(kv, meta.kv, sizeof meta.kv);
    char size[32];
    frz_meta_fmt_int(size, sizeof size, v->image_size);
    kv[2 * FRZ_NFR_META_PAIRS] = FRZ_VISION_META_SIZE;
    kv[2 * FRZ_NFR_META_PAIRS + 1] = size;
    frz_status st = frz_st_write_file(path, ts, (size_t)a->n_tensors, kv, FRZ_NFR_META_PAIRS + 1);
    free(ts);
    return st;
}

frz_status frz_vision_load(const char *path, frz_vision **out)
{
    if (!out) return frz_fail(FRZ_ERR_INVALID_ARG, "frz_vision_load: out is NULL");
    *out = NULL;
    if (!path) return frz_fail(FRZ_ERR_INVALID_ARG, "frz_vision_load: path is NULL");
    frz_st_set *set = NULL;
    int32_t size = 0;
    frz_status st = frz_st_open_file(path, &set);
    if (st == FRZ_OK) st = frz_vision_read_size(set, path, &size);
    frz_st_close(set);
    frz_vision *v = st == FRZ_OK ? frz_calloc(1, sizeof *v, "vision encoder") : NULL;
    if (st == FRZ_OK && !v) st = FRZ_ERR_NOMEM;
    if (st == FRZ_OK) st = frz_nfr_load(path, NULL, &v->m); /* architecture from the metadata, strict names */
    if (st == FRZ_OK) st = spare_create(v);
    if (st != FRZ_OK) {
        frz_vision_free(v);
        return st;
    }
    v->image_size = size;
    *out = v;
    return FRZ_OK;
}

int64_t frz_vision_get(const frz_vision *v, frz_vision_prop prop)
{
    if (!v) return -1;
    switch (prop) {
    case FRZ_VISION_N_FEATURES: return v->m->arch.num_features;
    case FRZ_VISION_IMAGE_SIZE: return v->image_size;
    case FRZ_VISION_N_PARAMS: return (int64_t)v->m->arch.n_params;
    }
    return -1;
}

frz_status frz_vision_prepare(int32_t image_size, const frz_image *img, float *out)
{
    frz_image_prep_params pp;
    frz_image_prep_params_init(&pp);
    pp.size = image_size;
    size_t need = 0;
    return frz_image_preprocess(img, &pp, out, frz_image_prep_count(&pp), &need);
}

/* The spare working memory if no other caller holds it (allocated on first use), else a new one: *own says
 * whether the caller frees it (work_release does either). */
static frz_status work_take(const frz_vision *v, frz_vision_spare *w, int *own)
{
    const int R = v->image_size;
    int idle = 0;
    *own = !v->spare || !atomic_compare_exchange_strong(&v->spare->busy, &idle, 1);
    if (!*own) *w = *v->spare;
    else memset(w, 0, sizeof *w);
    frz_status st = FRZ_OK;
    if (!w->x && !(w->x = frz_malloc((size_t)3 * R * R * sizeof *w->x, "encoder input"))) st = FRZ_ERR_NOMEM;
    if (st == FRZ_OK && !w->st) st = frz_nfr_state_create_frozen(v->m, 1, R, R, &w->st);
    return st;
}

static void work_release(const frz_vision *v, frz_vision_spare *w, int own)
{
    if (own) {
        frz_nfr_state_free(w->st);
        free(w->x);
        return;
    }
    v->spare->st = w->st;
    v->spare->x = w->x;
    atomic_store(&v->spare->busy, 0);
}

frz_status frz_vision_encode(const frz_vision *v, const frz_image *img, int32_t n_threads, float *pooled, size_t cap,
                             size_t *needed)
{
    if (!v || !img || !needed || (!pooled && cap > 0) || n_threads < 1)
        return frz_fail(FRZ_ERR_INVALID_ARG, "frz_vision_encode: NULL encoder, image or needed, or n_threads < 1");
    *needed = (size_t)v->m->arch.num_features;
    if (cap < *needed)
        return frz_fail(FRZ_ERR_BUFFER_TOO_SMALL, "frz_vision_encode: %zu floats needed, room for %zu", *needed, cap);
    frz_vision_spare w;
    int own;
    frz_status rc = work_take(v, &w, &own);
    if (rc == FRZ_OK) rc = frz_vision_prepare(v->image_size, img, w.x);
    if (rc == FRZ_OK) rc = frz_nfr_forward(v->m, w.st, w.x, pooled, n_threads);
    work_release(v, &w, own);
    return rc;
}
