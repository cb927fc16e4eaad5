/* kv_cache.c -- a sequence slot's cache memory. It grows with the sequence rather than being sized for n_ctx
 * up front, so a session with many slots of short sequences stays small. */
#include "lm/session.h"

#include <stdlib.h>

/* The first allocation holds this many positions (a short prompt), later ones grow by half. */
#define CACHE_MIN_POSITIONS 16

frz_status frz_seq_reserve(frz_seq *seq, const frz_gpt2_config *c, size_t n_total)
{
    if (n_total <= seq->cap) return FRZ_OK;
    size_t cap = seq->cap + seq->cap / 2;
    if (cap < n_total) cap = n_total;
    if (cap < CACHE_MIN_POSITIONS) cap = CACHE_MIN_POSITIONS;
    if (cap > (size_t)c->n_ctx) cap = (size_t)c->n_ctx;
    size_t bytes;
    if (!frz_mul_size(cap, frz_cache_stride(c) * sizeof(float), &bytes))
        return frz_fail(FRZ_ERR_NOMEM, "KV cache of %zu positions is too large", cap);
    float *p = frz_realloc(seq->cache, bytes, "a sequence's KV cache");
    if (!p) return FRZ_ERR_NOMEM;
    seq->cache = p;
    seq->cap = cap;
    return FRZ_OK;
}
