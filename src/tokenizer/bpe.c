/* bpe.c -- byte-level BPE of one pre-token, in id space.
 *
 * The reference (GPT-2's encoder.py and its JS port) repeats: find the adjacent pair with the lowest merge rank,
 * then merge every occurrence of that pair, left to right without overlap, in one pass over the word. Done
 * literally that is O(n^2) per pre-token, and a pre-token can be a megabyte of digits or punctuation. Here the
 * candidate pairs sit in a min-heap keyed (rank, position); all candidates of the lowest rank are taken out
 * together, in position order, and merged in that order, which is exactly the reference's pass:
 *   - a merge of (a, b) cannot create a new (a, b) pair (the result is longer than a and than b), so the batch
 *     holds every occurrence there is;
 *   - overlapping occurrences (a == b, "aaa") resolve left first, as the reference's scan does;
 *   - new pairs made during the batch go into the heap, not the batch, so even a lower-ranked one waits until
 *     the pass is over, as in the reference, which looks for the next lowest rank only then.
 * A candidate is stale once either symbol has changed; symbols only ever grow into longer tokens, so checking
 * that the two ids still match the merge is enough. Positions are the initial byte offsets (a merge keeps the
 * left symbol's), so they order candidates left to right. O(n log n) per pre-token.
 *
 * Pairs are keyed by (left id, right id), as encoder.py keys them by tuple. The JS port keys them by the string
 * "left,right", where two pairs can collide; tests/reference/tokenizer_comma_keys.js proves from the ranks that
 * no collision in GPT-2's files can ever take effect, so both give the same ids. */
#include "tokenizer/tok_internal.h"

#include <stdlib.h>

void frz_bpe_work_free(frz_bpe_work *w)
{
    free(w->sym);
    free(w->prev);
    free(w->next);
    free(w->heap);
    free(w->batch);
    *w = (frz_bpe_work){ 0 };
}

static frz_status work_reserve(frz_bpe_work *w, size_t n)
{
    if (n <= w->cap) return FRZ_OK;
    if (n > (size_t)INT32_MAX / 3)
        return frz_fail(FRZ_ERR_NOMEM, "tokenizer: a pre-token of %zu bytes is too long for BPE", n);
    size_t cap = w->cap ? w->cap : 64;
    while (cap < n) cap *= 2;
    if (cap > (size_t)INT32_MAX / 3) cap = (size_t)INT32_MAX / 3;
    frz_bpe_work nw = { 0 };
    nw.sym = frz_malloc(cap * sizeof *nw.sym, "BPE symbols");
    nw.prev = frz_malloc(cap * sizeof *nw.prev, "BPE links");
    nw.next = frz_malloc(cap * sizeof *nw.next, "BPE links");
    nw.heap = frz_malloc(3 * cap * sizeof *nw.heap, "BPE heap");
    nw.batch = frz_malloc(3 * cap * sizeof *nw.batch, "BPE heap");
    if (!nw.sym || !nw.prev || !nw.next || !nw.heap || !nw.batch) {
        frz_bpe_work_free(&nw);
        return FRZ_ERR_NOMEM;
    }
    nw.cap = cap;
    frz_bpe_work_free(w);
    *w = nw;
    return FRZ_OK;
}

frz_status frz_ids_push(int32_t **out, size_t *n_out, size_t *out_cap, int32_t id)
{
    if (*n_out == *out_cap) {
        size_t cap = *out_cap ? 2 * *out_cap : 64;
        int32_t *p = frz_realloc(*out, cap * sizeof *p, "token ids");
        if (!p) return FRZ_ERR_NOMEM;
        *out = p;
        *out_cap = cap;
    }
    (*out)[(*n_out)++] = id;
    return FRZ_OK;
}

static void heap_push(uint64_t *h, size_t *n, uint64_t key)
{
    size_t i = (*n)++;
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (h[parent] <= key) break;
        h[i] = h[parent];
        i = parent;
    }
    h[i] = key;
}

static uint64_t heap_pop(uint64_t *h, size_t *n)
{
    uint64_t top = h[0], last = h[--*n];
    size_t i = 0, m = *n;
    if (m == 0) return top;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= m) break;
        if (c + 1 < m && h[c + 1] < h[c]) c++;
        if (last <= h[c]) break;
        h[i] = h[c];
        i = c;
    }
    h[i] = last;
    return top;
}

/* Pushes the pair starting at position p (if it has a right neighbour and a rank). */
static void push_pair(const frz_merge_table *t, const frz_bpe_work *w, size_t *hn, int32_t p)
{
    if (p < 0 || w->next[p] < 0) return;
    int32_t r = frz_merges_rank(t, w->sym[p], w->sym[w->next[p]]);
    if (r >= 0) heap_push(w->heap, hn, (uint64_t)r << 32 | (uint32_t)p);
}

frz_status frz_bpe(const frz_merge_table *t, const int32_t byte_id[256], const unsigned char *bytes, size_t n,
                   frz_bpe_work *w, int32_t **out, size_t *n_out, size_t *out_cap)
{
    if (n == 1) return frz_ids_push(out, n_out, out_cap, byte_id[bytes[0]]);
    frz_status st = work_reserve(w, n);
    if (st != FRZ_OK) return st;

    for (size_t i = 0; i < n; i++) {
        w->sym[i] = byte_id[bytes[i]];
        w->prev[i] = (int32_t)i - 1;
        w->next[i] = i + 1 < n ? (int32_t)i + 1 : -1;
    }
    size_t hn = 0;
    for (size_t i = 0; i + 1 < n; i++) push_pair(t, w, &hn, (int32_t)i);

    while (hn > 0) {
        uint32_t rank = (uint32_t)(w->heap[0] >> 32);
        size_t nb = 0;
        while (hn > 0 && (uint32_t)(w->heap[0] >> 32) == rank) w->batch[nb++] = heap_pop(w->heap, &hn);
        const frz_merge *m = &t->merge[rank];
        for (size_t b = 0; b < nb; b++) {
            int32_t p = (int32_t)(uint32_t)w->batch[b];
            int32_t q = w->next[p];
            if (w->sym[p] != m->left || q < 0 || w->sym[q] != m->right) continue;  /* stale */
            w->sym[p] = m->result;
            w->sym[q] = -1;
            w->next[p] = w->next[q];
            if (w->next[q] >= 0) w->prev[w->next[q]] = p;
            push_pair(t, w, &hn, w->prev[p]);
            push_pair(t, w, &hn, p);
        }
    }
    /* Position 0 always survives: a merge keeps its left symbol. */
    for (int32_t i = 0; i >= 0; i = w->next[i]) {
        st = frz_ids_push(out, n_out, out_cap, w->sym[i]);
        if (st != FRZ_OK) return st;
    }
    return FRZ_OK;
}
