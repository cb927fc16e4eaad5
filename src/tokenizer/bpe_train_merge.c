/* bpe_train_merge.c -- learning the merges of byte-level BPE from counted words.
 *
 * Each distinct word is a run of symbol ids with its count. Every adjacent pair of symbols has a record: its
 * count over the corpus (occurrences x word counts) and the words it occurs in ("where"). A max-heap keyed
 * (count, then the tie-break of frozen.h) picks the next merge; it is lazy: a pair's entry may overstate its
 * count (counts only fall, except for pairs that take part in a merge, which are pushed again whenever theirs
 * rises), so an entry whose count is out of date is pushed again with the true one, or dropped at 0. Then
 * every entry's count >= its pair's true count, so an up-to-date entry on top is the true best.
 *
 * Merging (a, b) -> x rewrites only the words in a's where list, left to right without overlap. Pairs that
 * hold neither a nor b are untouched by the rewrite (a merge removes boundaries only between a and b), so the
 * counts are updated by taking away the word's pairs that hold a or b and adding back its new pairs that hold
 * a, b or x. Cost per merge: the length of the words that change.
 *
 * A merged string may already be a token (made earlier from another pair). It keeps its id, and pairs with it
 * can then occur again after having been merged; such a pair is merged again in the words (so that the words
 * stay as the encoder would split them) but listed in merges.txt only once, at its first rank. */
#include "tokenizer/bpe_train.h"

#include <stdlib.h>
#include <string.h>

typedef struct pair {
    int32_t left, right;
    int64_t count;
    int64_t before;     /* count at the start of the current merge (valid when stamp is that merge) */
    int32_t stamp;      /* the merge that last touched the count */
    int32_t merged;     /* 1 once listed in merges */
    int32_t *where;     /* words it may occur in (stale and repeated entries allowed) */
    int32_t n_where, cap_where;
} pair;

typedef struct heap_entry {
    int64_t count;
    int32_t pair;
} heap_entry;

typedef struct learner {
    frz_bpe_model *m;
    /* words */
    int32_t *sym;       /* all words' symbols; word w is sym[woff[w] .. woff[w] + wlen[w]) */
    size_t *woff;
    int32_t *wlen;
    const int64_t *freq;
    int32_t *wstamp;    /* the merge that last rewrote the word */
    int32_t n_words;
    /* pairs */
    pair *pairs;
    int32_t n_pairs, cap_pairs;
    int32_t *slot;      /* pair index, -1 empty */
    size_t mask;
    /* heap */
    heap_entry *heap;
    size_t n_heap, cap_heap;
    /* the pairs touched by the current merge */
    int32_t *touched;
    size_t n_touched, cap_touched;
    int32_t step;
} learner;

/* ---- the tie-break ------------------------------------------------------------------------------------------- */

static const unsigned char *tok_bytes(const learner *L, int32_t id, size_t *n)
{
    *n = L->m->tokens.len[id];
    return (const unsigned char *)L->m->tokens.buf + L->m->tokens.off[id];
}

/* Byte order of the concatenations left+right of two pairs; then the shorter left part first. */
static int pair_order(const learner *L, const pair *p, const pair *q)
{
    size_t na1, na2, nb1, nb2;
    const unsigned char *a1 = tok_bytes(L, p->left, &na1), *a2 = tok_bytes(L, p->right, &na2);
    const unsigned char *b1 = tok_bytes(L, q->left, &nb1), *b2 = tok_bytes(L, q->right, &nb2);
    size_t na = na1 + na2, nb = nb1 + nb2, n = FRZ_MIN(na, nb);
    for (size_t i = 0; i < n; i++) {
        unsigned ca = i < na1 ? a1[i] : a2[i - na1], cb = i < nb1 ? b1[i] : b2[i - nb1];
        if (ca != cb) return ca < cb ? -1 : 1;
    }
    if (na != nb) return na < nb ? -1 : 1;
    return na1 < nb1 ? -1 : na1 > nb1 ? 1 : 0;
}

/* 1 if entry e should be merged before f. */
static int better(const learner *L, heap_entry e, heap_entry f)
{
    if (e.count != f.count) return e.count > f.count;
    return pair_order(L, &L->pairs[e.pair], &L->pairs[f.pair]) < 0;
}

/* ---- the heap ---------------------------------------------------------------------------------------------- */

static void sift_up(learner *L, size_t i)
{
    heap_entry e = L->heap[i];
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (!better(L, e, L->heap[parent])) break;
        L->heap[i] = L->heap[parent];
        i = parent;
    }
    L->heap[i] = e;
}

static void sift_down(learner *L, size_t i)
{
    heap_entry e = L->heap[i];
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= L->n_heap) break;
        if (c + 1 < L->n_heap && better(L, L->heap[c + 1], L->heap[c])) c++;
        if (!better(L, L->heap[c], e)) break;
        L->heap[i] = L->heap[c];
        i = c;
    }
    L->heap[i] = e;
}

static frz_status heap_push(learner *L, int32_t p)
{
    if (L->n_heap == L->cap_heap) {
        size_t cap = L->cap_heap ? 2 * L->cap_heap : 1024;
        heap_entry *h = frz_realloc(L->heap, cap * sizeof *h, "BPE training heap");
        if (!h) return FRZ_ERR_NOMEM;
        L->heap = h;
        L->cap_heap = cap;
    }
    L->heap[L->n_heap] = (heap_entry){ L->pairs[p].count, p };
    sift_up(L, L->n_heap++);
    return FRZ_OK;
}

static heap_entry heap_pop(learner *L)
{
    heap_entry top = L->heap[0];
    L->heap[0] = L->heap[--L->n_heap];
    if (L->n_heap) sift_down(L, 0);
    return top;
}

/* ---- pairs --------------------------------------------------------------------------------------------- */

static size_t pair_home(const learner *L, int32_t a, int32_t b)
{
    uint64_t h = ((uint64_t)(uint32_t)a << 32 | (uint32_t)b) * 0x9E3779B97F4A7C15ull;
    return (size_t)(h >> 29) & L->mask;
}

static frz_status grow_pairs(learner *L)
{
    if (L->cap_pairs >= INT32_MAX / 2) return frz_fail(FRZ_ERR_NOMEM, "BPE training: too many distinct pairs");
    int32_t cap = L->cap_pairs ? 2 * L->cap_pairs : 4096;
    pair *p = frz_realloc(L->pairs, (size_t)cap * sizeof *p, "BPE training pairs");
    if (!p) return FRZ_ERR_NOMEM;
    L->pairs = p;
    L->cap_pairs = cap;
    size_t n_slots = 2 * (size_t)cap;
    int32_t *slot = frz_malloc(n_slots * sizeof *slot, "BPE training pair table");
    if (!slot) return FRZ_ERR_NOMEM;
    free(L->slot);
    L->slot = slot;
    L->mask = n_slots - 1;
    for (size_t i = 0; i < n_slots; i++) slot[i] = -1;
    for (int32_t k = 0; k < L->n_pairs; k++) {
        size_t i = pair_home(L, p[k].left, p[k].right);
        while (slot[i] >= 0) i = (i + 1) & L->mask;
        slot[i] = k;
    }
    return FRZ_OK;
}

/* The index of pair (a, b), created with count 0 if new. */
static frz_status pair_get(learner *L, int32_t a, int32_t b, int32_t *out)
{
    size_t i = 0;
    if (L->slot) {
        for (i = pair_home(L, a, b); L->slot[i] >= 0; i = (i + 1) & L->mask) {
            const pair *p = &L->pairs[L->slot[i]];
            if (p->left == a && p->right == b) {
                *out = L->slot[i];
                return FRZ_OK;
            }
        }
    }
    if (L->n_pairs == L->cap_pairs) {  /* at most half full */
        frz_status st = grow_pairs(L);
        if (st != FRZ_OK) return st;
        for (i = pair_home(L, a, b); L->slot[i] >= 0; i = (i + 1) & L->mask) {}
    }
    int32_t k = L->n_pairs++;
    L->pairs[k] = (pair){ .left = a, .right = b, .stamp = -1 };
    L->slot[i] = k;
    *out = k;
    return FRZ_OK;
}

static frz_status where_add(pair *p, int32_t w)
{
    if (p->n_where && p->where[p->n_where - 1] == w) return FRZ_OK;
    if (p->n_where == p->cap_where) {
        if (p->cap_where >= INT32_MAX / 2) return frz_fail(FRZ_ERR_NOMEM, "BPE training: a pair in too many words");
        int32_t cap = p->cap_where ? 2 * p->cap_where : 4;
        int32_t *w2 = frz_realloc(p->where, (size_t)cap * sizeof *w2, "BPE training word lists");
        if (!w2) return FRZ_ERR_NOMEM;
        p->where = w2;
        p->cap_where = cap;
    }
    p->where[p->n_where++] = w;
    return FRZ_OK;
}

/* Adds delta to pair (a, b)'s count, noting its count before the current merge; with w >= 0 also notes that
 * the pair occurs in word w. */
static frz_status pair_count(learner *L, int32_t a, int32_t b, int64_t delta, int32_t w)
{
    int32_t k;
    frz_status st = pair_get(L, a, b, &k);
    if (st != FRZ_OK) return st;
    pair *p = &L->pairs[k];
    if (p->stamp != L->step) {
        p->stamp = L->step;
        p->before = p->count;
        if (L->n_touched == L->cap_touched) {
            size_t cap = L->cap_touched ? 2 * L->cap_touched : 256;
            int32_t *t = frz_realloc(L->touched, cap * sizeof *t, "BPE training touched pairs");
            if (!t) return FRZ_ERR_NOMEM;
            L->touched = t;
            L->cap_touched = cap;
        }
        L->touched[L->n_touched++] = k;
    }
    p->count += delta;
    return w >= 0 ? where_add(p, w) : FRZ_OK;
}

/* ---- setup --------------------------------------------------------------------------------------------- */

/* The byte tokens in GPT-2's order: by their character in the byte-level alphabet. */
static frz_status add_byte_tokens(frz_bpe_model *m)
{
    uint32_t cp[256];
    frz_byte_alphabet(cp);
    for (int pass = 0; pass < 2; pass++)  /* printable bytes stand for themselves; the rest come after, U+0100.. */
        for (int b = 0; b < 256; b++) {
            if ((cp[b] >= 256) != pass) continue;
            unsigned char c = (unsigned char)b;
            frz_status st = frz_strtab_add(&m->tokens, &c, 1, frz_strtab_hash(&c, 1), 0, &m->byte_id[b]);
            if (st != FRZ_OK) return st;
        }
    return FRZ_OK;
}

static frz_status setup(learner *L, const frz_strtab *words)
{
    size_t total = 0;
    for (int32_t w = 0; w < words->n; w++) total += words->len[w];
    L->n_words = words->n;
    L->freq = words->count;
    L->sym = frz_malloc(FRZ_MAX(total, 1) * sizeof *L->sym, "BPE training symbols");
    L->woff = frz_malloc(FRZ_MAX((size_t)words->n, 1) * sizeof *L->woff, "BPE training words");
    L->wlen = frz_malloc(FRZ_MAX((size_t)words->n, 1) * sizeof *L->wlen, "BPE training words");
    L->wstamp = frz_malloc(FRZ_MAX((size_t)words->n, 1) * sizeof *L->wstamp, "BPE training words");
    if (!L->sym || !L->woff || !L->wlen || !L->wstamp) return FRZ_ERR_NOMEM;
    size_t at = 0;
    for (int32_t w = 0; w < words->n; w++) {
        const unsigned char *s = (const unsigned char *)words->buf + words->off[w];
        L->woff[w] = at;
        L->wlen[w] = (int32_t)words->len[w];
        L->wstamp[w] = -1;
        for (uint32_t i = 0; i < words->len[w]; i++) L->sym[at++] = L->m->byte_id[s[i]];
    }
    for (int32_t w = 0; w < words->n; w++) {
        const int32_t *s = L->sym + L->woff[w];
        for (int32_t i = 0; i + 1 < L->wlen[w]; i++) {
            frz_status st = pair_count(L, s[i], s[i + 1], L->freq[w], w);
            if (st != FRZ_OK) return st;
        }
    }
    L->n_touched = 0;
    for (int32_t k = 0; k < L->n_pairs; k++) {
        L->pairs[k].stamp = -1;  /* the first merge is step 0 */
        frz_status st = heap_push(L, k);
        if (st != FRZ_OK) return st;
    }
    return FRZ_OK;
}

/* ---- one merge ------------------------------------------------------------------------------------------- */

static int holds(int32_t s, int32_t t, int32_t a, int32_t b) { return s == a || s == b || t == a || t == b; }

/* Rewrites word w with (a, b) -> x and updates the pair counts. */
static frz_status merge_word(learner *L, int32_t w, int32_t a, int32_t b, int32_t x)
{
    int32_t *s = L->sym + L->woff[w], n = L->wlen[w];
    int64_t f = L->freq[w];
    int32_t i = 0;
    while (i + 1 < n && !(s[i] == a && s[i + 1] == b)) i++;
    if (i + 1 >= n) return FRZ_OK;  /* a stale entry of the where list */
    frz_status st = FRZ_OK;
    for (int32_t k = 0; st == FRZ_OK && k + 1 < n; k++)
        if (holds(s[k], s[k + 1], a, b)) st = pair_count(L, s[k], s[k + 1], -f, -1);
    int32_t j = 0;
    for (i = 0; i < n;) {
        if (i + 1 < n && s[i] == a && s[i + 1] == b) {
            s[j++] = x;
            i += 2;
        } else {
            s[j++] = s[i++];
        }
    }
    L->wlen[w] = n = j;
    for (int32_t k = 0; st == FRZ_OK && k + 1 < n; k++)
        if (holds(s[k], s[k + 1], a, b) || s[k] == x || s[k + 1] == x)
            st = pair_count(L, s[k], s[k + 1], f, s[k] == x || s[k + 1] == x ? w : -1);
    return st;
}

static frz_status merge(learner *L, int32_t p, int32_t x)
{
    int32_t a = L->pairs[p].left, b = L->pairs[p].right;
    /* The pair's list is taken over: rewritten words no longer hold it, and any later occurrence (possible only
     * when a merged string is re-made) starts a new list. */
    int32_t *where = L->pairs[p].where, n_where = L->pairs[p].n_where;
    L->pairs[p].where = NULL;
    L->pairs[p].n_where = L->pairs[p].cap_where = 0;
    frz_status st = FRZ_OK;
    for (int32_t i = 0; st == FRZ_OK && i < n_where; i++) {
        int32_t w = where[i];
        if (L->wstamp[w] == L->step) continue;
        L->wstamp[w] = L->step;
        st = merge_word(L, w, a, b, x);
    }
    free(where);
    /* Pairs whose count rose get an entry with the new count; falls are found lazily. */
    for (size_t i = 0; st == FRZ_OK && i < L->n_touched; i++) {
        const pair *q = &L->pairs[L->touched[i]];
        if (q->count > q->before) st = heap_push(L, L->touched[i]);
    }
    L->n_touched = 0;
    return st;
}

/* ---- the loop -------------------------------------------------------------------------------------------- */

/* The best pair with an up-to-date entry, or -1 when none is left. */
static frz_status next_best(learner *L, int32_t *best, int64_t *count)
{
    *best = -1;
    while (L->n_heap) {
        heap_entry e = heap_pop(L);
        int64_t c = L->pairs[e.pair].count;
        if (c == e.count) {
            *best = e.pair;
            *count = c;
            return FRZ_OK;
        }
        if (c > 0 && c < e.count) {
            frz_status st = heap_push(L, e.pair);
            if (st != FRZ_OK) return st;
        }
    }
    return FRZ_OK;
}

static frz_status learn(learner *L, int32_t max_tokens, int32_t min_frequency, frz_abort_fn abort, void *abort_data)
{
    frz_bpe_model *m = L->m;
    int32_t cap_merges = 0;
    for (L->step = 0; m->tokens.n < max_tokens; L->step++) {
        if (abort && (L->step & 63) == 0 && abort(abort_data))
            return frz_fail(FRZ_ERR_CANCELLED, "tokenizer training cancelled after %d merges", m->n_merges);
        int32_t p;
        int64_t count = 0;
        frz_status st = next_best(L, &p, &count);
        if (st != FRZ_OK) return st;
        if (p < 0 || count < min_frequency) break;
        /* The new token: left + right. */
        size_t na, nb;
        const unsigned char *sa = tok_bytes(L, L->pairs[p].left, &na);
        const unsigned char *sb = tok_bytes(L, L->pairs[p].right, &nb);
        unsigned char stack[256], *s = na + nb <= sizeof stack ? stack : frz_malloc(na + nb, "BPE token");
        if (!s) return FRZ_ERR_NOMEM;
        memcpy(s, sa, na);
        memcpy(s + na, sb, nb);
        int32_t x;
        st = frz_strtab_add(&m->tokens, s, na + nb, frz_strtab_hash(s, na + nb), 0, &x);
        if (s != stack) free(s);
        if (st != FRZ_OK) return st;
        if (!L->pairs[p].merged) {
            if (m->n_merges == cap_merges) {
                cap_merges = cap_merges ? 2 * cap_merges : 1024;
                int32_t *mm = frz_realloc(m->merges, 2 * (size_t)cap_merges * sizeof *mm, "BPE merges");
                if (!mm) return FRZ_ERR_NOMEM;
                m->merges = mm;
            }
            m->merges[2 * m->n_merges] = L->pairs[p].left;
            m->merges[2 * m->n_merges + 1] = L->pairs[p].right;
            m->n_merges++;
            L->pairs[p].merged = 1;
        }
        m->last_count = count;
        st = merge(L, p, x);
        if (st != FRZ_OK) return st;
    }
    return FRZ_OK;
}

frz_status frz_bpe_learn(const frz_strtab *words, int32_t max_tokens, int32_t min_frequency, frz_abort_fn abort,
                         void *abort_data, frz_bpe_model *m)
{
    memset(m, 0, sizeof *m);
    learner L = { .m = m };
    frz_status st = add_byte_tokens(m);
    if (st == FRZ_OK) st = setup(&L, words);
    if (st == FRZ_OK) st = learn(&L, max_tokens, min_frequency, abort, abort_data);
    for (int32_t k = 0; k < L.n_pairs; k++) free(L.pairs[k].where);
    free(L.pairs);
    free(L.slot);
    free(L.heap);
    free(L.touched);
    free(L.sym);
    free(L.woff);
    free(L.wlen);
    free(L.wstamp);
    if (st != FRZ_OK) frz_bpe_model_free(m);
    return st;
}

void frz_bpe_model_free(frz_bpe_model *m)
{
    frz_strtab_free(&m->tokens);
    free(m->merges);
    m->merges = NULL;
    m->n_merges = 0;
}
