/* kv_cache.c -- a sequence slot's cache memory. It grows with the sequence rather than being sized for n_ctx
 * up front, so a session with many slots of short sequences stays small. */
#include "lm/session.h"

#include <stdlib.h>
#include <string.h>

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

frz_status frz_seq_copy(frz_seq *dst, const frz_seq *src, const frz_gpt2_config *c)
{
    frz_status st = frz_seq_reserve(dst, c, src->len);
    if (st) return st;
    if (src->len) memcpy(dst->cache, src->cache, src->len * frz_cache_stride(c) * sizeof(float));
    dst->len = src->len;
    /* the last logits: the same row of the session's logits buffer, valid while src's is */
    dst->logits_gen = src->logits_gen;
    dst->logits_row = src->logits_row;
    dst->logits_len = src->logits_len;
    return FRZ_OK;
}
