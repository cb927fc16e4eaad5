/* tokenizer.h -- GPT-2 byte-level BPE (vocab.json + merges.txt), identical to the GPT-2 reference encoder.
 * Read-only after load; safe to use from several threads at once. */
#ifndef FRZ_TOKENIZER_H
#define FRZ_TOKENIZER_H

#include "core/core.h"
#include <stdint.h>

typedef struct frz_tokenizer frz_tokenizer;

/* Errors name the file and, for merges.txt, the line (e.g. a merge whose parts or result are not in vocab). */
frz_status frz_tokenizer_load(const char *vocab_json, const char *merges_txt, frz_tokenizer **out);
void frz_tokenizer_free(frz_tokenizer *tok);

/* Number of ids (max id + 1) and the id of <|endoftext|> (-1 if absent). */
int32_t frz_tokenizer_n_vocab(const frz_tokenizer *tok);
int32_t frz_tokenizer_eot(const frz_tokenizer *tok);

/* Encodes len bytes (flags: FRZ_TOKENIZE_SPECIAL). *ids is a new malloc'd array of *n_ids ids. */
frz_status frz_tokenizer_encode(const frz_tokenizer *tok, const char *text, size_t len, unsigned flags,
                                int32_t **ids, size_t *n_ids);

/* The raw bytes a token stands for (decoded from the byte-level alphabet); NULL for an id out of range. */
const char *frz_tokenizer_token_bytes(const frz_tokenizer *tok, int32_t id, size_t *len);

#endif
