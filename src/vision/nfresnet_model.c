/* nfresnet_model.c -- the parameter block: creation, timm's initialisation, gradients, lookup by name. */
#include "vision/nfresnet.h"
#include "math/nn.h"
#include "math/rng.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

frz_status frz_nfr_create(const frz_nfr_config *cfg, frz_nfr_model **out)
{
    if (!out) return frz_fail(FRZ_ERR_INVALID_ARG, "frz_nfr_create: out is NULL");
    *out = NULL;
    if (!cfg) return frz_fail(FRZ_ERR_INVALID_ARG, "frz_nfr_create: config is NULL");
    /* The architecture table is large (names of every tensor): it lives on the heap with the model. */
    frz_nfr_model *m = frz_calloc(1, sizeof *m, "NF-ResNet model");
    if (!m) return FRZ_ERR_NOMEM;
    frz_status st = frz_nfr_arch_init(cfg, &m->arch);
    if (st != FRZ_OK) {
        free(m);
        return st;
    }
    m->cfg = *cfg;
    m->params = frz_calloc(m->arch.n_params, sizeof(float), "NF-ResNet parameters");
    if (!m->params) {
        free(m);
        return FRZ_ERR_NOMEM;
    }
    *out = m;
    return FRZ_OK;
}

void frz_nfr_free(frz_nfr_model *m)
{
    if (!m) return;
    free(m->params);
    free(m->grads);
    free(m);
}

/* The suffix after the last '.' of a tensor name: "weight", "bias", "gain", "skipinit_gain". */
static const char *leaf(const char *name)
{
    const char *dot = strrchr(name, '.');
    return dot ? dot + 1 : name;
}

void frz_nfr_init(frz_nfr_model *m, uint64_t seed)
{
    frz_rng rng;
    frz_rng_seed(&rng, seed);
    for (int t = 0; t < m->arch.n_tensors; t++) {
        const frz_nfr_tensor *ten = &m->arch.tensors[t];
        float *p = m->params + ten->offset;
        const char *kind = leaf(ten->name);
        if (strcmp(kind, "weight") == 0) {
            /* kaiming_normal_(mode='fan_in', nonlinearity='linear'): std = 1 / sqrt(in * kh * kw) */
            double std = 1.0 / sqrt((double)(ten->shape[1] * ten->shape[2] * ten->shape[3]));
            for (size_t i = 0; i < ten->numel; i++) p[i] = (float)(std * frz_rng_normal(&rng));
        } else if (strcmp(kind, "gain") == 0) {
            /* Without the scalar skip-init gain, timm starts conv3's gain at 0 so every block is the identity. */
            int zero = !m->cfg.skipinit && strstr(ten->name, ".conv3.") != NULL;
            for (size_t i = 0; i < ten->numel; i++) p[i] = zero ? 0.0f : 1.0f;
        } else {
            memset(p, 0, ten->numel * sizeof *p);  /* biases and skipinit gains */
        }
    }
}

frz_status frz_nfr_zero_grad(frz_nfr_model *m, int n_threads)
{
    if (!m) return frz_fail(FRZ_ERR_INVALID_ARG, "frz_nfr_zero_grad: model is NULL");
    if (!m->grads) {
        m->grads = frz_calloc(m->arch.n_params, sizeof(float), "NF-ResNet gradients");
        return m->grads ? FRZ_OK : FRZ_ERR_NOMEM;
    }
    frz_zero(m->grads, m->arch.n_params, n_threads);
    return FRZ_OK;
}

const frz_nfr_tensor *frz_nfr_find_tensor(const frz_nfr_model *m, const char *name)
{
    for (int t = 0; t < m->arch.n_tensors; t++)
        if (strcmp(m->arch.tensors[t].name, name) == 0) return &m->arch.tensors[t];
    return NULL;
}
