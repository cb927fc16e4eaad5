/* tokenizer.h -- GPT-2 byte-level BPE (vocab.json + merges.txt), identical to the GPT-2 reference encoder
 * (OpenAI's encoder.py; checked against its npm port gpt-3-encoder in tests/check_tokenizer.c).
 * Read-only after load; safe to use from several threads at once (no shared cache; each call has its own scratch).
 *
 * - Pre-tokenisation is the reference's regex; its letter, number and whitespace classes are JavaScript's (Unicode
 *   17 as of Node 20), checked for every code point.
 * - Invalid UTF-8 never fails: the text is cut into maximal valid fragments and maximal invalid runs; a fragment is
 *   encoded as if it were a whole text, an invalid run as one pre-token through the byte-level alphabet. Decoding
 *   (frz_tokenizer_token_bytes of each id, concatenated) gives back the input bytes exactly.
 * - Special tokens are the vocabulary entries "<|...|>". Without FRZ_TOKENIZE_SPECIAL they are ordinary text (as in
 *   the reference); with it each occurrence (longest first) becomes its id and the text between is encoded alone.
 * - merges.txt: an optional "#version" first line, blank lines skipped, \r\n accepted; a pair listed twice takes
 *   the later rank (as the reference's dict does), with one warning in the log. */
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

/* Encodes len bytes (flags: FRZ_TOKENIZE_SPECIAL). *ids is a new malloc'd array of *n_ids ids (free with free(),
 * also when *n_ids is 0). Fails only with FRZ_ERR_NOMEM, or FRZ_ERR_INVALID_ARG for NULL arguments. */
frz_status frz_tokenizer_encode(const frz_tokenizer *tok, const char *text, size_t len, unsigned flags,
                                int32_t **ids, size_t *n_ids);

/* The raw bytes a token stands for (decoded from the byte-level alphabet at load; an entry with characters outside
 * that alphabet stands for its own UTF-8). NULL for an id out of range or one no entry has. Not NUL-terminated. */
const char *frz_tokenizer_token_bytes(const frz_tokenizer *tok, int32_t id, size_t *len);

#endif
