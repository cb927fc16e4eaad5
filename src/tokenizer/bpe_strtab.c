/* bpe_strtab.c -- distinct byte strings with counts: an open-addressing hash over strings kept back to back.
 * Counting a corpus looks every word up once, so lookups must be cheap; the table stays at most half full. */
#include "tokenizer/bpe_train.h"

#include <stdlib.h>
#include <string.h>

uint64_t frz_strtab_hash(const void *s, size_t n)
{
    /* FNV-1a, then a final mix so that the low bits (the slot) depend on every byte. */
    const unsigned char *p = s;
    uint64_t h = 0xCBF29CE484222325ull;
    for (size_t i = 0; i < n; i++) h = (h ^ p[i]) * 0x100000001B3ull;
    h ^= h >> 32;
    h *= 0xD6E8FEB86659FD93ull;
    return h ^ h >> 32;
}

int32_t frz_strtab_find(const frz_strtab *t, const void *s, size_t n, uint64_t h)
{
    if (!t->slot) return -1;
    for (size_t i = h & t->mask;; i = (i + 1) & t->mask) {
        int32_t k = t->slot[i];
        if (k < 0) return -1;
        if (t->hash[k] == h && t->len[k] == n && memcmp(t->buf + t->off[k], s, n) == 0) return k;
    }
}

static frz_status grow_slots(frz_strtab *t)
{
    size_t n_slots = t->slot ? 2 * (t->mask + 1) : 1024;
    int32_t *slot = frz_malloc(n_slots * sizeof *slot, "string table slots");
    if (!slot) return FRZ_ERR_NOMEM;
    for (size_t i = 0; i < n_slots; i++) slot[i] = -1;
    size_t mask = n_slots - 1;
    for (int32_t k = 0; k < t->n; k++) {
        size_t i = t->hash[k] & mask;
        while (slot[i] >= 0) i = (i + 1) & mask;
        slot[i] = k;
    }
    free(t->slot);
    t->slot = slot;
    t->mask = mask;
    return FRZ_OK;
}

static frz_status grow_entries(frz_strtab *t)
{
    if (t->cap >= INT32_MAX / 2) return frz_fail(FRZ_ERR_NOMEM, "string table: more than %d strings", t->cap);
    int32_t cap = t->cap ? 2 * t->cap : 1024;
    size_t *off = frz_realloc(t->off, (size_t)cap * sizeof *off, "string table");
    if (!off) return FRZ_ERR_NOMEM;
    t->off = off;
    uint32_t *len = frz_realloc(t->len, (size_t)cap * sizeof *len, "string table");
    if (!len) return FRZ_ERR_NOMEM;
    t->len = len;
    uint64_t *hash = frz_realloc(t->hash, (size_t)cap * sizeof *hash, "string table");
    if (!hash) return FRZ_ERR_NOMEM;
    t->hash = hash;
    int64_t *count = frz_realloc(t->count, (size_t)cap * sizeof *count, "string table");
    if (!count) return FRZ_ERR_NOMEM;
    t->count = count;
    t->cap = cap;
    return FRZ_OK;
}

frz_status frz_strtab_add(frz_strtab *t, const void *s, size_t n, uint64_t h, int64_t count, int32_t *index)
{
    int32_t k = frz_strtab_find(t, s, n, h);
    if (k >= 0) {
        t->count[k] += count;
        if (index) *index = k;
        return FRZ_OK;
    }
    if (n > UINT32_MAX) return frz_fail(FRZ_ERR_NOMEM, "string table: a string of %zu bytes", n);
    frz_status st = FRZ_OK;
    if ((size_t)t->n + 1 > (t->slot ? (t->mask + 1) / 2 : 0)) st = grow_slots(t);
    if (st == FRZ_OK && t->n == t->cap) st = grow_entries(t);
    if (st == FRZ_OK && t->used + n > t->buf_cap) {
        size_t cap = t->buf_cap ? t->buf_cap : 4096;
        while (cap < t->used + n) cap *= 2;
        char *buf = frz_realloc(t->buf, cap, "string table bytes");
        if (!buf) return FRZ_ERR_NOMEM;
        t->buf = buf;
        t->buf_cap = cap;
    }
    if (st != FRZ_OK) return st;
    k = t->n++;
    if (n) memcpy(t->buf + t->used, s, n);
    t->off[k] = t->used;
    t->len[k] = (uint32_t)n;
    t->hash[k] = h;
    t->count[k] = count;
    t->used += n;
    size_t i = h & t->mask;
    while (t->slot[i] >= 0) i = (i + 1) & t->mask;
    t->slot[i] = k;
    if (index) *index = k;
    return FRZ_OK;
}

void frz_strtab_free(frz_strtab *t)
{
    free(t->buf);
    free(t->off);
    free(t->len);
    free(t->hash);
    free(t->count);
    free(t->slot);
    memset(t, 0, sizeof *t);
}
