/* tokenizer.c -- encoding (special tokens, pre-tokens, BPE), token bytes, accessors, free.
 * The tokenizer is read-only after load; every encode call owns its scratch space (no shared cache), so any
 * number of threads may encode with one tokenizer at once. */
#include "tokenizer/tok_internal.h"

#include <stdlib.h>
#include <string.h>

void frz_tokenizer_free(frz_tokenizer *tok)
{
    if (!tok) return;
    frz_pretok_free(tok->re, tok->gctx);
    frz_merges_free(&tok->merges);
    free(tok->bytes);
    free(tok->tok_off);
    free(tok->tok_len);
    free(tok->special);
    free(tok);
}

int32_t frz_tokenizer_n_vocab(const frz_tokenizer *tok) { return tok ? tok->n_vocab : 0; }

int32_t frz_tokenizer_eot(const frz_tokenizer *tok) { return tok ? tok->eot : -1; }

const char *frz_tokenizer_token_bytes(const frz_tokenizer *tok, int32_t id, size_t *len)
{
    if (!tok || id < 0 || id >= tok->n_vocab || tok->tok_len[id] < 0) return NULL;
    if (len) *len = (size_t)tok->tok_len[id];
    return tok->bytes + tok->tok_off[id];
}

/* The first special token in text[from..len): its id and *at, or -1. */
static int32_t find_special(const frz_tokenizer *tok, const char *text, size_t from, size_t len, size_t *at)
{
    for (size_t i = from; i + 1 < len; i++) {
        const char *p = memchr(text + i, '<', len - i - 1);
        if (!p) break;
        i = (size_t)(p - text);
        if (text[i + 1] != '|') continue;
        for (int32_t k = 0; k < tok->n_special; k++) {
            int32_t id = tok->special[k];
            size_t n = (size_t)tok->tok_len[id];
            if (n <= len - i && memcmp(text + i, tok->bytes + tok->tok_off[id], n) == 0) {
                *at = i;
                return id;
            }
        }
    }
    return -1;
}

/* Pre-tokenises text[0..len) and appends the BPE of each pre-token. */
static frz_status encode_text(const frz_tokenizer *tok, frz_pretok_iter *it, frz_bpe_work *w, const char *text,
                              size_t len, int32_t **out, size_t *n_out, size_t *cap)
{
    frz_pretok_set_text(it, text, len);
    for (;;) {
        size_t s, e;
        int more;
        frz_status st = frz_pretok_next(it, &s, &e, &more);
        if (st != FRZ_OK || !more) return st;
        st = frz_bpe(&tok->merges, tok->byte_id, (const unsigned char *)text + s, e - s, w, out, n_out, cap);
        if (st != FRZ_OK) return st;
    }
}

frz_status frz_tokenizer_encode(const frz_tokenizer *tok, const char *text, size_t len, unsigned flags,
                                int32_t **ids, size_t *n_ids)
{
    if (!ids || !n_ids) return frz_fail(FRZ_ERR_INVALID_ARG, "frz_tokenizer_encode: ids or n_ids is NULL");
    *ids = NULL;
    *n_ids = 0;
    if (!tok) return frz_fail(FRZ_ERR_INVALID_ARG, "frz_tokenizer_encode: tokenizer is NULL");
    if (!text && len) return frz_fail(FRZ_ERR_INVALID_ARG, "frz_tokenizer_encode: text is NULL");
    if (!text) text = "";

    int32_t *out = NULL;
    size_t n = 0, cap = 0;
    frz_bpe_work w = { 0 };
    frz_pretok_iter it;
    frz_status st = frz_pretok_begin(&it, tok->re, tok->gctx);
    /* With FRZ_TOKENIZE_SPECIAL, special tokens split the text; the pieces between are encoded on their own. */
    for (size_t from = 0; st == FRZ_OK;) {
        size_t at = len;
        int32_t special = (flags & FRZ_TOKENIZE_SPECIAL) ? find_special(tok, text, from, len, &at) : -1;
        st = encode_text(tok, &it, &w, text + from, at - from, &out, &n, &cap);
        if (st != FRZ_OK || special < 0) break;
        st = frz_ids_push(&out, &n, &cap, special);
        from = at + (size_t)tok->tok_len[special];
    }
    frz_pretok_end(&it);
    frz_bpe_work_free(&w);
    if (st != FRZ_OK) {
        free(out);
        return st;
    }
    if (!out) {  /* empty text: still a valid (free-able) array */
        out = frz_malloc(sizeof *out, "token ids");
        if (!out) return FRZ_ERR_NOMEM;
    }
    *ids = out;
    *n_ids = n;
    return FRZ_OK;
}
