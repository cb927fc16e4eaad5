/* text.c -- frz_tokenize / frz_detokenize: the model's tokenizer behind the API's buffer convention
 * (always store the size needed; FRZ_ERR_BUFFER_TOO_SMALL without a partial result when it does not fit). */
#include "lm/gpt2.h"
#include "tokenizer/tokenizer.h"

#include <stdlib.h>
#include <string.h>

static frz_status need_tokenizer(const frz_lm *lm, const char *fn)
{
    if (!lm) return frz_fail(FRZ_ERR_INVALID_ARG, "%s: model is NULL", fn);
    if (!lm->tok) return frz_fail(FRZ_ERR_INVALID_ARG, "%s: this model has no tokenizer", fn);
    return FRZ_OK;
}

frz_status frz_tokenize(const frz_lm *lm, const char *text, size_t len, unsigned flags, int32_t *ids, size_t cap,
                        size_t *n_ids)
{
    frz_status st = need_tokenizer(lm, "frz_tokenize");
    if (st) return st;
    if (!n_ids) return frz_fail(FRZ_ERR_INVALID_ARG, "frz_tokenize: n_ids is NULL");
    *n_ids = 0;
    if (!text && len != 0) return frz_fail(FRZ_ERR_INVALID_ARG, "frz_tokenize: text is NULL");
    if (!text) text = "";
    if (len == (size_t)-1) len = strlen(text);
    int32_t *all = NULL;
    size_t n = 0;
    if ((st = frz_tokenizer_encode(lm->tok, text, len, flags, &all, &n))) return st;
    *n_ids = n;
    if (n > cap || (n && !ids)) {
        free(all);
        return frz_fail(FRZ_ERR_BUFFER_TOO_SMALL, "frz_tokenize: the text is %zu tokens; the buffer holds %zu", n,
                        ids ? cap : 0);
    }
    if (n) memcpy(ids, all, n * sizeof *ids);
    free(all);
    return FRZ_OK;
}

frz_status frz_detokenize(const frz_lm *lm, const int32_t *ids, size_t n_ids, char *text, size_t cap,
                          size_t *n_bytes)
{
    frz_status st = need_tokenizer(lm, "frz_detokenize");
    if (st) return st;
    if (!n_bytes) return frz_fail(FRZ_ERR_INVALID_ARG, "frz_detokenize: n_bytes is NULL");
    *n_bytes = 0;
    if (!ids && n_ids) return frz_fail(FRZ_ERR_INVALID_ARG, "frz_detokenize: ids is NULL");
    size_t total = 0;
    for (size_t i = 0; i < n_ids; i++) {
        size_t len;
        if (!frz_tokenizer_token_bytes(lm->tok, ids[i], &len))
            return frz_fail(FRZ_ERR_INVALID_ARG, "frz_detokenize: id %d at index %zu is out of range (vocab %d)",
                            (int)ids[i], i, (int)frz_tokenizer_n_vocab(lm->tok));
        total += len;
    }
    *n_bytes = total;
    if (!text || cap < total + 1)
        return frz_fail(FRZ_ERR_BUFFER_TOO_SMALL, "frz_detokenize: the text is %zu bytes plus NUL; the buffer "
                        "holds %zu", total, text ? cap : 0);
    size_t at = 0;
    for (size_t i = 0; i < n_ids; i++) {
        size_t len;
        const char *b = frz_tokenizer_token_bytes(lm->tok, ids[i], &len);
        memcpy(text + at, b, len);
        at += len;
    }
    text[at] = 0;
    return FRZ_OK;
}
