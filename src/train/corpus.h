/* corpus.h -- the text corpus of LM pretraining: one sample per line, tokenized once at load.
 *
 * A line (LF or CRLF) that holds only spaces, tabs or CR is blank and skipped. Every other line is a sample: its
 * text tokenized as one piece -- or, with tab_segments, each TAB-separated segment tokenized on its own and the
 * ids concatenated (the TAB itself is not text), which is how a prompt tokenizes the text segments around its
 * images -- then <|endoftext|>. A sample longer than max_len ids is cut to its first max_len (and counted). A
 * NUL byte or invalid UTF-8 is FRZ_ERR_FORMAT naming "file:line" and the byte's column; a corpus without a
 * sample is FRZ_ERR_FORMAT naming the file. */
#ifndef FRZ_TRAIN_CORPUS_H
#define FRZ_TRAIN_CORPUS_H

#include "core/core.h"
#include "tokenizer/tokenizer.h"

#include <stdint.h>

typedef struct frz_corpus {
    int32_t *ids;         /* every sample's ids, one after the other */
    size_t *off;          /* (n + 1) sample i is ids[off[i] .. off[i+1]) */
    int32_t *line;        /* (n) its 1-based line number */
    size_t n;
    int64_t n_truncated;  /* samples cut to max_len */
} frz_corpus;

/* max_len >= 2: the most ids a sample keeps (its text and <|endoftext|>). */
frz_status frz_corpus_load(const char *path, const frz_tokenizer *tok, int32_t eot, int tab_segments, int max_len,
                           frz_corpus **out);
void frz_corpus_free(frz_corpus *c);

static inline size_t frz_corpus_len(const frz_corpus *c, size_t i) { return c->off[i + 1] - c->off[i]; }

/* The validation split: samples ordered by a hash of (seed, index) and the first round(fraction * n) of them (at
 * least one when fraction > 0 and n >= 2, never all) held out. Both lists keep the file's order; *val is NULL
 * when empty. */
frz_status frz_corpus_split(const frz_corpus *c, double fraction, uint64_t seed, int32_t **train, size_t *n_train,
                            int32_t **val, size_t *n_val);

#endif
