/* corpus.c -- reading, tokenizing and splitting the pretraining corpus (see corpus.h). */
#include "train/corpus.h"

#include "core/file.h"
#include "tokenizer/tok_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void frz_corpus_free(frz_corpus *c)
{
    if (!c) return;
    free(c->ids);
    free(c->off);
    free(c->line);
    free(c);
}

static frz_status grow(void **p, size_t *cap, size_t need, size_t elem, const char *what)
{
    if (need <= *cap) return FRZ_OK;
    size_t c = *cap ? *cap : 1024;
    while (c < need) c *= 2;
    void *q = frz_realloc(*p, c * elem, what);
    if (!q) return FRZ_ERR_NOMEM;
    *p = q;
    *cap = c;
    return FRZ_OK;
}

/* Checks one line's bytes: no NUL, valid UTF-8. */
static frz_status check_line(const char *s, size_t n, const char *path, size_t lineno)
{
    for (size_t i = 0; i < n;) {
        if (s[i] == '\0') return frz_fail(FRZ_ERR_FORMAT, "%s:%zu: a NUL byte at column %zu", path, lineno, i + 1);
        size_t k = frz_utf8_valid_len((const unsigned char *)s + i, n - i);
        if (k == 0)
            return frz_fail(FRZ_ERR_FORMAT, "%s:%zu: invalid UTF-8 at column %zu (byte 0x%02x)", path, lineno, i + 1,
                            (unsigned)(unsigned char)s[i]);
        i += k;
    }
    return FRZ_OK;
}

static int blank(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r') return 0;
    return 1;
}

typedef struct builder {
    frz_corpus *c;
    size_t n_ids, cap_ids, cap_n;
} builder;

/* Appends the tokens of text[0..n) to the current sample. */
static frz_status encode_append(builder *b, const frz_tokenizer *tok, const char *text, size_t n)
{
    int32_t *ids = NULL;
    size_t k = 0;
    frz_status st = frz_tokenizer_encode(tok, text, n, 0, &ids, &k);
    if (st == FRZ_OK) st = grow((void **)&b->c->ids, &b->cap_ids, b->n_ids + k + 1, sizeof(int32_t), "corpus tokens");
    if (st == FRZ_OK) {
        memcpy(b->c->ids + b->n_ids, ids, k * sizeof *ids);
        b->n_ids += k;
    }
    free(ids);
    return st;
}

static frz_status add_sample(builder *b, const frz_tokenizer *tok, int32_t eot, int tab_segments, int max_len,
                             const char *s, size_t n, size_t lineno)
{
    frz_corpus *c = b->c;
    frz_status st = grow((void **)&c->off, &b->cap_n, c->n + 2, sizeof(size_t), "corpus samples");
    if (st) return st;
    size_t cap_line = b->cap_n; /* line grows with off: same capacity */
    int32_t *line = frz_realloc(c->line, cap_line * sizeof *line, "corpus line numbers");
    if (!line) return FRZ_ERR_NOMEM;
    c->line = line;
    const size_t start = b->n_ids;
    if (tab_segments) {
        for (size_t a = 0; st == FRZ_OK && a <= n;) {
            const char *tab = memchr(s + a, '\t', n - a);
            size_t e = tab ? (size_t)(tab - s) : n;
            if (e > a) st = encode_append(b, tok, s + a, e - a);
            a = e + 1;
        }
    } else {
        st = encode_append(b, tok, s, n);
    }
    if (st == FRZ_OK) st = grow((void **)&c->ids, &b->cap_ids, b->n_ids + 1, sizeof(int32_t), "corpus tokens");
    if (st) return st;
    c->ids[b->n_ids++] = eot;
    if (b->n_ids - start > (size_t)max_len) {
        b->n_ids = start + (size_t)max_len;
        c->n_truncated++;
    }
    c->off[c->n] = start;
    c->line[c->n] = (int32_t)lineno;
    c->n++;
    c->off[c->n] = b->n_ids;
    return FRZ_OK;
}

frz_status frz_corpus_load(const char *path, const frz_tokenizer *tok, int32_t eot, int tab_segments, int max_len,
                           frz_corpus **out)
{
    *out = NULL;
    if (max_len < 2) return frz_fail(FRZ_ERR_INVALID_ARG, "%s: samples of at most %d tokens", path, max_len);
    char *text = NULL;
    size_t len = 0;
    frz_status st = frz_read_file(path, &text, &len);
    if (st) return st;
    builder b = {0};
    b.c = frz_calloc(1, sizeof *b.c, "the corpus");
    if (!b.c) st = FRZ_ERR_NOMEM;
    size_t lineno = 0;
    for (size_t pos = 0; st == FRZ_OK && pos < len;) {
        const char *nl = memchr(text + pos, '\n', len - pos);
        size_t end = nl ? (size_t)(nl - text) : len, n = end - pos;
        lineno++;
        if (n > 0 && text[pos + n - 1] == '\r') n--;
        st = check_line(text + pos, n, path, lineno);
        if (st == FRZ_OK && !blank(text + pos, n))
            st = add_sample(&b, tok, eot, tab_segments, max_len, text + pos, n, lineno);
        pos = end + 1;
    }
    free(text);
    if (st == FRZ_OK && b.c->n == 0) st = frz_fail(FRZ_ERR_FORMAT, "%s: no samples (every line is blank)", path);
    if (st) {
        frz_corpus_free(b.c);
        return st;
    }
    if (b.c->n_truncated > 0)
        frz_log(FRZ_LOG_WARN, "%s: %lld of %zu samples are longer than %d tokens and were cut", path,
                (long long)b.c->n_truncated, b.c->n, max_len);
    *out = b.c;
    return FRZ_OK;
}

/* ---- the split --------------------------------------------------------------------------------------------- */

/* splitmix64's finaliser over (seed, index): a stable, platform-independent key. */
static uint64_t sample_key(uint64_t seed, uint64_t i)
{
    uint64_t z = seed * 0x9e3779b97f4a7c15ull + i + 0x632be59bd9b4e019ull;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

typedef struct keyed {
    uint64_t key;
    int32_t index;
} keyed;

static int by_key(const void *a, const void *b)
{
    const keyed *x = a, *y = b;
    return x->key < y->key ? -1 : x->key > y->key ? 1 : (x->index > y->index) - (x->index < y->index);
}

frz_status frz_corpus_split(const frz_corpus *c, double fraction, uint64_t seed, int32_t **train, size_t *n_train,
                            int32_t **val, size_t *n_val)
{
    *train = *val = NULL;
    *n_train = *n_val = 0;
    const size_t n = c->n;
    size_t nv = (size_t)llround(fraction * (double)n);
    if (fraction > 0 && nv == 0 && n >= 2) nv = 1;
    if (nv >= n) nv = n - 1;
    keyed *k = frz_malloc(n * sizeof *k, "the corpus split");
    unsigned char *is_val = frz_calloc(n, 1, "the corpus split");
    int32_t *tr = frz_malloc(n * sizeof *tr, "the training samples");
    int32_t *va = nv ? frz_malloc(nv * sizeof *va, "the validation samples") : NULL;
    if (!k || !is_val || !tr || (nv && !va)) {
        free(k), free(is_val), free(tr), free(va);
        return FRZ_ERR_NOMEM;
    }
    for (size_t i = 0; i < n; i++) k[i] = (keyed){sample_key(seed, i), (int32_t)i};
    qsort(k, n, sizeof *k, by_key);
    for (size_t i = 0; i < nv; i++) is_val[k[i].index] = 1;
    for (size_t i = 0; i < n; i++) {
        if (is_val[i]) va[(*n_val)++] = (int32_t)i;
        else tr[(*n_train)++] = (int32_t)i;
    }
    free(k);
    free(is_val);
    *train = tr;
    *val = va;
    return FRZ_OK;
}
