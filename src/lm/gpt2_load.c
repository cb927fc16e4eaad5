/* gpt2_load.c -- frz_lm_load: a Hugging Face GPT-2 folder (config.json, model.safetensors or a sharded index,
 * vocab.json, merges.txt) into a read-only model whose f32 weights stay in the memory-mapped file. */
#include "formats/safetensors.h"
#include "core/file.h"
#include "lm/gpt2.h"
#include "tokenizer/tokenizer.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Names where the weights come from, for messages: the one file, or the shard index. */
static void weights_source(const frz_st_set *set, const char *dir, char *buf, size_t cap)
{
    size_t n = frz_st_count(set);
    const char *first = n ? frz_st_at(set, 0)->file : NULL;
    for (size_t i = 1; first && i < n; i++)
        if (strcmp(frz_st_at(set, i)->file, first) != 0) first = NULL;
    if (first)
        snprintf(buf, cap, "%s", first);
    else
        snprintf(buf, cap, "%s/model.safetensors.index.json and its shards", dir);
}

/* Points every weight of the model at its tensor. Names are tried as saved by GPT2LMHeadModel
 * ("transformer.h.0...") or by GPT2Model ("h.0..."); the buffers attn.bias and attn.masked_bias are not
 * parameters and are ignored, as is a tied lm_head.weight. */
static frz_status attach_tensors(frz_lm *lm, const char *dir)
{
    char source[1024];
    weights_source(lm->st, dir, source, sizeof source);
    const char *prefix = frz_st_find(lm->st, "wte.weight")               ? ""
                         : frz_st_find(lm->st, "transformer.wte.weight") ? "transformer."
                                                                         : NULL;
    if (!prefix)
        return frz_fail(FRZ_ERR_FORMAT, "%s: no tensor 'transformer.wte.weight' (or 'wte.weight'): not a GPT-2 "
                        "checkpoint", source);
    frz_gpt2_tensor *t;
    size_t n;
    frz_status st = frz_gpt2_tensors(lm, &t, &n);
    if (st) return st;
    lm->owned = frz_calloc(n, sizeof *lm->owned, "converted tensor list");
    if (!lm->owned) {
        free(t);
        return FRZ_ERR_NOMEM;
    }
    for (size_t i = 0; i < n && st == FRZ_OK; i++) {
        char name[96];
        snprintf(name, sizeof name, "%s%s", t[i].top_level ? "" : prefix, t[i].name);
        float *owned = NULL;
        st = frz_st_get_f32(lm->st, name, t[i].ndim, t[i].shape, t[i].dst, &owned);
        if (owned) lm->owned[lm->n_owned++] = owned;
    }
    if (st == FRZ_OK && lm->cfg.tie_lm_head) {
        /* A tied head saved beside wte must at least have its shape. */
        const frz_st_tensor *head = frz_st_find(lm->st, "lm_head.weight");
        if (head && (head->ndim != 2 || head->shape[0] != lm->cfg.n_vocab || head->shape[1] != lm->cfg.n_embd))
            st = frz_fail(FRZ_ERR_SHAPE, "%s: tensor 'lm_head.weight' is not [%d, %d] like the tied wte", source,
                          lm->cfg.n_vocab, lm->cfg.n_embd);
    }
    if (st == FRZ_OK) frz_gpt2_finish(lm, t, n);
    free(t);
    return st;
}

frz_status frz_gpt2_load_tokenizer(frz_lm *lm, const char *dir)
{
    char *vocab = frz_path_join(dir, "vocab.json"), *merges = frz_path_join(dir, "merges.txt");
    frz_status st = vocab && merges ? frz_tokenizer_load(vocab, merges, &lm->tok) : FRZ_ERR_NOMEM;
    if (st == FRZ_OK) {
        int32_t n = frz_tokenizer_n_vocab(lm->tok);
        if (n > lm->cfg.n_vocab)
            st = frz_fail(FRZ_ERR_FORMAT, "%s has %d tokens (with %s), more than vocab_size %d in %s/config.json",
                          vocab, (int)n, merges, lm->cfg.n_vocab, dir);
        lm->eot = frz_tokenizer_eot(lm->tok);
    }
    if (st == FRZ_OK && !(lm->tok_dir = frz_strdup(dir, "the tokenizer folder"))) st = FRZ_ERR_NOMEM;
    free(vocab);
    free(merges);
    return st;
}

frz_status frz_lm_load(const char *dir, frz_lm **out)
{
    if (!out) return frz_fail(FRZ_ERR_INVALID_ARG, "frz_lm_load: out is NULL");
    *out = NULL;
    if (!dir) return frz_fail(FRZ_ERR_INVALID_ARG, "frz_lm_load: dir is NULL");
    char *cfg_path = frz_path_join(dir, "config.json");
    if (!cfg_path) return FRZ_ERR_NOMEM;
    frz_gpt2_config cfg;
    frz_lm *lm = NULL;
    frz_status st = frz_gpt2_config_load(cfg_path, &cfg);
    if (st == FRZ_OK) st = frz_gpt2_alloc(&cfg, cfg_path, &lm);
    free(cfg_path);
    if (st == FRZ_OK) st = frz_st_open_dir(dir, &lm->st);
    if (st == FRZ_OK) st = attach_tensors(lm, dir);
    if (st == FRZ_OK) st = frz_gpt2_load_tokenizer(lm, dir);
    if (st) {
        frz_lm_free(lm);
        return st;
    }
    frz_log(FRZ_LOG_INFO, "loaded %s: GPT-2 %d layers, %d heads, width %d, vocab %d, context %d, %lld parameters",
            dir, cfg.n_layer, cfg.n_head, cfg.n_embd, cfg.n_vocab, cfg.n_ctx, (long long)lm->n_params);
    *out = lm;
    return FRZ_OK;
}
