/* bpe_train.h -- training byte-level BPE (frz_tokenizer_train), internal. The algorithm and the file formats
 * are described in include/frozen.h; the parts:
 *
 *   bpe_strtab.c       a table of distinct byte strings (words while counting, tokens while merging)
 *   bpe_train_count.c  corpus -> distinct words with counts (GPT-2 pre-tokenisation, TAB segments, threads)
 *   bpe_train_merge.c  words -> merges: pair counts kept up to date incrementally, a heap picks the best pair
 *   bpe_train_write.c  vocab.json and merges.txt, atomically
 *   bpe_train.c        frz_tokenizer_train: parameters, the three steps, timing */
#ifndef FRZ_BPE_TRAIN_H
#define FRZ_BPE_TRAIN_H

#include "tokenizer/tok_internal.h"

#include <stdint.h>

/* ---- bpe_strtab.c -------------------------------------------------------------------------------------- */

/* Distinct byte strings, each with an index (in order of first insertion) and a count. */
typedef struct frz_strtab {
    char *buf;              /* the strings' bytes back to back */
    size_t used, buf_cap;
    size_t *off;            /* n: where string i starts in buf */
    uint32_t *len;          /* n */
    uint64_t *hash;         /* n */
    int64_t *count;         /* n */
    int32_t n, cap;
    int32_t *slot;          /* mask + 1 slots: string index, -1 empty */
    size_t mask;
} frz_strtab;

uint64_t frz_strtab_hash(const void *s, size_t n);
/* The index of s[0..n), -1 if absent. h = frz_strtab_hash(s, n). */
int32_t frz_strtab_find(const frz_strtab *t, const void *s, size_t n, uint64_t h);
/* Adds count to the string's count, inserting it (count 0 first) if absent; *index receives its index. */
frz_status frz_strtab_add(frz_strtab *t, const void *s, size_t n, uint64_t h, int64_t count, int32_t *index);
void frz_strtab_free(frz_strtab *t);

/* ---- bpe_train_count.c --------------------------------------------------------------------------------- */

/* Pre-tokenizes text[0..len) (the corpus, named path in messages) and counts its words into *words (empty on
 * entry). *n_words receives the number of pre-tokens. */
frz_status frz_bpe_count_words(const char *path, const char *text, size_t len, int tab_segments, int n_threads,
                               frz_abort_fn abort, void *abort_data, frz_strtab *words, int64_t *n_words);

/* ---- bpe_train_merge.c --------------------------------------------------------------------------------- */

/* The result of training. Token ids: 0..255 the bytes (byte_id), then merged strings; tokens.n ids in all
 * (<|endoftext|> not included). merges: n_merges (left, right) id pairs by rank. */
typedef struct frz_bpe_model {
    frz_strtab tokens;      /* token bytes by id */
    int32_t byte_id[256];   /* id of each byte's token */
    int32_t *merges;        /* 2 * n_merges */
    int32_t n_merges;
    int64_t last_count;
} frz_bpe_model;

/* Learns merges from the words (read only) until max_tokens tokens exist or no pair occurs min_frequency times. */
frz_status frz_bpe_learn(const frz_strtab *words, int32_t max_tokens, int32_t min_frequency, frz_abort_fn abort,
                         void *abort_data, frz_bpe_model *m);
void frz_bpe_model_free(frz_bpe_model *m);

/* ---- bpe_train_write.c --------------------------------------------------------------------------------- */

/* Writes dir/vocab.json (the tokens, then <|endoftext|>) and dir/merges.txt; dir must exist. */
frz_status frz_bpe_write(const frz_bpe_model *m, const char *dir);

#endif
