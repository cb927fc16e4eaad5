/* projector.c -- the public frz_projector calls (include/frozen.h) over src/vision/projector.h. */
#include "vision/projector.h"

frz_status frz_projector_create(int32_t n_features, int32_t n_prefix, int32_t n_embd, uint64_t seed,
                                frz_projector **out)
{
    frz_status st = frz_proj_create(n_features, n_prefix, n_embd, out);
    if (st == FRZ_OK) frz_proj_init(*out, seed, 1.0); /* nn.Linear's */
    return st;
}

frz_status frz_projector_load(const char *path, frz_projector **out) { return frz_proj_load(path, out); }

frz_status frz_projector_save(const frz_projector *p, const char *path) { return frz_proj_save(p, path); }

void frz_projector_free(frz_projector *p) { frz_proj_free(p); }

int64_t frz_projector_get(const frz_projector *p, frz_projector_prop prop)
{
    if (!p) return -1;
    switch (prop) {
    case FRZ_PROJECTOR_N_FEATURES: return p->n_features;
    case FRZ_PROJECTOR_N_PREFIX: return p->n_prefix;
    case FRZ_PROJECTOR_N_EMBD: return p->n_embd;
    case FRZ_PROJECTOR_N_PARAMS: return (int64_t)p->n_params;
    }
    return -1;
}

frz_status frz_projector_apply(const frz_projector *p, const float *pooled, float *embd, size_t cap, size_t *needed)
{
    if (!p || !pooled || !needed || (!embd && cap > 0))
        return frz_fail(FRZ_ERR_INVALID_ARG, "frz_projector_apply: NULL projector, input or needed");
    *needed = frz_proj_out(p);
    if (cap < *needed)
        return frz_fail(FRZ_ERR_BUFFER_TOO_SMALL, "frz_projector_apply: %zu floats needed, room for %zu", *needed, cap);
    frz_proj_forward(p, embd, pooled, 1, 1);
    return FRZ_OK;
}
