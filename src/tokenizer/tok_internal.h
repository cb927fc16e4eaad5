/* tok_internal.h -- the pieces of the GPT-2 tokenizer shared between its files (internal).
 *
 *   load.c        frz_tokenizer_load: vocab.json (validation, byte-level alphabet, token bytes), then the rest
 *   merges.c      merges.txt and the merge-rank hash table: (left id, right id) -> rank, result id
 *   bpe.c         byte-level BPE of one pre-token, in id space
 *   pretok.c      the GPT-2 pre-tokenisation regex (PCRE2), invalid UTF-8 included
 *   tokenizer.c   encode (special tokens, pre-tokens, BPE), accessors, free
 *   bpe_train*.c  training a vocabulary and merges on a corpus (bpe_train.h)
 */
#ifndef FRZ_TOK_INTERNAL_H
#define FRZ_TOK_INTERNAL_H

#include "core/core.h"
#include "core/file.h"
#include "tokenizer/tokenizer.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <stdint.h>

/* Vocabulary entries are shown in messages up to this many bytes. */
#define FRZ_TOK_SHOW 80

/* ---- load.c ----------------------------------------------------------------------------------------- */

/* GPT-2's bytes_to_unicode(): the code point that stands for each byte in vocab.json and merges.txt. */
void frz_byte_alphabet(uint32_t cp[256]);

/* The vocabulary's keys -> ids while loading (the keys point into the parsed JSON). FNV-1a hashes, so that the
 * hash of left+right continues from the hash of left. */
typedef struct frz_vocab_index {
    struct frz_vocab_slot { const char *key; size_t len; uint64_t hash; int32_t id; } *slot;  /* key NULL: empty */
    size_t mask;
} frz_vocab_index;

#define FRZ_VOCAB_HASH0 0xCBF29CE484222325ull
uint64_t frz_vocab_hash(uint64_t h, const char *s, size_t n);
/* The id of the key a+b (b may be empty), h its hash; -1 if absent. */
int32_t frz_vocab_find(const frz_vocab_index *ix, uint64_t h, const char *a, size_t na, const char *b, size_t nb);

/* ---- merges.c --------------------------------------------------------------------------------------- */

/* One line of merges.txt: left + right -> result, all vocab ids. The rank is the index in `merge`. */
typedef struct frz_merge {
    int32_t left, right, result;
} frz_merge;

/* Open-addressing hash of (left, right) -> rank, plus the merges by rank. */
typedef struct frz_merge_table {
    frz_merge *merge;       /* n merges, by rank */
    int32_t n;
    struct frz_merge_slot { int32_t left, right, rank; } *slot;  /* rank -1: empty */
    size_t mask;            /* slot count - 1 (a power of two) */
} frz_merge_table;

/* Reads merges.txt; errors name the line. vocab_path names vocab.json in messages. */
frz_status frz_merges_load(frz_merge_table *t, const char *path, const frz_vocab_index *vocab,
                           const char *vocab_path);
/* Allocates room for up to max_merges merges. */
frz_status frz_merges_init(frz_merge_table *t, size_t max_merges);
void frz_merges_free(frz_merge_table *t);
/* Appends a merge with the next rank. A pair already present takes the new rank, as in the reference
 * (a dict built from the merge list: the later line wins); *prev_rank tells the earlier rank, else -1. */
void frz_merges_add(frz_merge_table *t, int32_t left, int32_t right, int32_t result, int32_t *prev_rank);
/* First slot to probe for a pair (Fibonacci hashing of the two ids). */
static inline size_t frz_merges_home(const frz_merge_table *t, int32_t left, int32_t right)
{
    uint64_t h = ((uint64_t)(uint32_t)left << 32 | (uint32_t)right) * 0x9E3779B97F4A7C15ull;
    return (size_t)(h >> 32) & t->mask;
}
/* Rank of the pair, or -1. */
static inline int32_t frz_merges_rank(const frz_merge_table *t, int32_t left, int32_t right)
{
    for (size_t i = frz_merges_home(t, left, right);; i = (i + 1) & t->mask) {
        const struct frz_merge_slot *s = &t->slot[i];
        if (s->rank < 0) return -1;
        if (s->left == left && s->right == right) return s->rank;
    }
}

/* ---- bpe.c ------------------------------------------------------------------------------------------ */

/* Scratch space for BPE, owned by one encode call (grown as needed; free with frz_bpe_work_free). */
typedef struct frz_bpe_work {
    int32_t *sym;       /* cap: symbol ids, -1 once merged into its left neighbour */
    int32_t *prev;      /* cap */
    int32_t *next;      /* cap */
    uint64_t *heap;     /* 3 * cap: (rank << 32 | position) candidates */
    uint64_t *batch;    /* 3 * cap: the candidates of one rank */
    size_t cap;
} frz_bpe_work;

void frz_bpe_work_free(frz_bpe_work *w);

/* Byte-level BPE of bytes[0..n) (n >= 1) with byte_id[256] as the initial symbols. Appends the resulting ids
 * to *out (length *n_out, capacity *out_cap, grown with frz_realloc). Only fails with FRZ_ERR_NOMEM. */
frz_status frz_bpe(const frz_merge_table *t, const int32_t byte_id[256], const unsigned char *bytes, size_t n,
                   frz_bpe_work *w, int32_t **out, size_t *n_out, size_t *out_cap);

/* Appends one id to *out, growing it. */
frz_status frz_ids_push(int32_t **out, size_t *n_out, size_t *out_cap, int32_t id);

/* ---- pretok.c --------------------------------------------------------------------------------------- */

/* Compiles the pre-tokenisation pattern (read-only afterwards, shared by all threads). The general context
 * routes PCRE2's allocations through frz_malloc. */
frz_status frz_pretok_compile(pcre2_code **re, pcre2_general_context **gctx);
/* JIT-compiles the pattern if the platform allows; never fails (the interpreter is the fallback). */
void frz_pretok_jit(pcre2_code *re);
void frz_pretok_free(pcre2_code *re, pcre2_general_context *gctx);

/* Walks the pre-tokens of text[0..len): the regex's matches within each maximal valid UTF-8 fragment, and each
 * maximal run of invalid bytes as a pre-token of its own. Pre-tokens tile the text exactly. */
typedef struct frz_pretok_iter {
    const pcre2_code *re;
    pcre2_match_data *md;   /* per iterator: the code is shared, match data is not */
    const unsigned char *text;
    size_t len, pos;        /* the next byte not yet returned */
    size_t frag_start;      /* the valid fragment pos is in; pos >= frag_end: not in one yet */
    size_t frag_end;
} frz_pretok_iter;

/* Length of the valid UTF-8 sequence at s[0..n) (n >= 1), or 0 if none starts there. Strict (RFC 3629). */
size_t frz_utf8_valid_len(const unsigned char *s, size_t n);

/* Creates the iterator's match data. */
frz_status frz_pretok_begin(frz_pretok_iter *it, const pcre2_code *re, pcre2_general_context *gctx);
/* Starts on a new text (the match data is reused). */
void frz_pretok_set_text(frz_pretok_iter *it, const char *text, size_t len);
/* *more = 0 at the end; otherwise [*start, *end) is the next pre-token. */
frz_status frz_pretok_next(frz_pretok_iter *it, size_t *start, size_t *end, int *more);
void frz_pretok_end(frz_pretok_iter *it);

/* ---- the tokenizer ---------------------------------------------------------------------------------- */

struct frz_tokenizer {
    int32_t n_vocab;            /* max id + 1 */
    int32_t eot;                /* id of <|endoftext|>, -1 if absent */
    int32_t byte_id[256];       /* id of the one-symbol token of each byte */
    char *bytes;                /* all tokens' raw bytes, back to back */
    uint32_t *tok_off;          /* n_vocab: offset of a token's bytes in `bytes` */
    int32_t *tok_len;           /* n_vocab: its length; -1 for an id no token has */
    int32_t *special;           /* ids of special tokens "<|...|>", longest first */
    int32_t n_special;
    frz_merge_table merges;
    pcre2_code *re;
    pcre2_general_context *gctx;
};

#endif
