/* nfresnet_io.c -- NF-ResNet weights in safetensors: timm's tensor names, the config as "__metadata__". */
#include "vision/nfresnet.h"

#include <stdlib.h>
#include <string.h>

frz_status frz_nfr_save(const frz_nfr_model *m, const char *path)
{
    if (!m || !path) return frz_fail(FRZ_ERR_INVALID_ARG, "frz_nfr_save: NULL model or path");
    const frz_nfr_arch *a = &m->arch;
    frz_st_write_tensor *ts = frz_calloc((size_t)a->n_tensors, sizeof *ts, "NF-ResNet tensor list");
    if (!ts) return FRZ_ERR_NOMEM;
    for (int i = 0; i < a->n_tensors; i++) {
        const frz_nfr_tensor *t = &a->tensors[i];
        ts[i].name = t->name;
        ts[i].dtype = FRZ_DT_F32;
        ts[i].ndim = t->ndim;
        for (int d = 0; d < t->ndim; d++) ts[i].shape[d] = t->shape[d];
        ts[i].data = m->params + t->offset;
    }
    frz_nfr_meta meta;
    frz_nfr_config_to_meta(&m->cfg, &meta);
    frz_status st = frz_st_write_file(path, ts, (size_t)a->n_tensors, meta.kv, FRZ_NFR_META_PAIRS);
    free(ts);
    return st;
}

/* Every tensor of the file must be a parameter of the model, except timm's classifier head. */
static frz_status check_no_strangers(const frz_nfr_model *m, const frz_st_set *set, const char *path)
{
    for (size_t i = 0; i < frz_st_count(set); i++) {
        const char *name = frz_st_at(set, i)->name;
        if (strncmp(name, "head.", 5) == 0) continue;
        if (!frz_nfr_find_tensor(m, name))
            return frz_fail(FRZ_ERR_FORMAT, "%s: tensor '%s' is not a parameter of this NF-ResNet (depths %d,%d,%d,%d, "
                            "skipinit %d)", path, name, m->cfg.depths[0], m->cfg.depths[1], m->cfg.depths[2],
                            m->cfg.depths[3], m->cfg.skipinit);
    }
    return FRZ_OK;
}

static frz_status load_params(frz_nfr_model *m, const frz_st_set *set)
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

frz_status frz_nfr_load(const char *path, const frz_nfr_config *cfg, frz_nfr_model **out)
{
    if (!out) return frz_fail(FRZ_ERR_INVALID_ARG, "frz_nfr_load: out is NULL");
    *out = NULL;
    if (!path) return frz_fail(FRZ_ERR_INVALID_ARG, "frz_nfr_load: path is NULL");
    frz_st_set *set = NULL;
    frz_status st = frz_st_open_file(path, &set);
    if (st != FRZ_OK) return st;
    frz_nfr_config file_cfg;
    frz_nfr_model *m = NULL;
    if (!cfg) {
        st = frz_nfr_config_from_meta(set, path, &file_cfg);
        cfg = &file_cfg;
    }
    if (st == FRZ_OK) st = frz_nfr_create(cfg, &m);
    if (st == FRZ_OK) st = check_no_strangers(m, set, path);
    if (st == FRZ_OK) st = load_params(m, set);
    frz_st_close(set);
    if (st != FRZ_OK) {
        frz_nfr_free(m);
        return st;
    }
    *out = m;
    return FRZ_OK;
}
