/* gpt2_writable.c -- models whose weights may be written: a loaded model made the owner of its weights, and
 * writable copies. Training (`frozen pretrain`, `frozen train --finetune-lm`) changes weights in place; a loaded
 * model's F32 weights otherwise live in the read-only mapping of its file. */
#include "formats/safetensors.h"
#include "lm/gpt2.h"
#include "tokenizer/tokenizer.h"

#include <stdlib.h>
#include <string.h>

/* Copies every tensor that w's members point at into one new block (table order) and points them there. */
static frz_status copy_into_block(const frz_gpt2_config *cfg, frz_gpt2_weights *w, float **mem, size_t *n_mem)
{
    frz_gpt2_tensor *t;
    size_t n;
    frz_status st = frz_gpt2_table(cfg, w, &t, &n);
    if (st) return st;
    size_t total = 0;
    for (size_t i = 0; i < n; i++) total += frz_gpt2_numel(&t[i]);
    float *block = frz_malloc(total * sizeof *block, "the LM's writable weights");
    if (!block) {
        free(t);
        return FRZ_ERR_NOMEM;
    }
    float *p = block;
    for (size_t i = 0; i < n; i++) {
        const size_t size = frz_gpt2_numel(&t[i]);
        memcpy(p, *t[i].dst, size * sizeof *p);
        *t[i].dst = p;
        p += size;
    }
    if (cfg->tie_lm_head) w->lm_head = w->wte;
    free(t);
    *mem = block;
    *n_mem = total;
    return FRZ_OK;
}

frz_status frz_gpt2_make_writable(frz_lm *lm)
{
    if (lm->mem && !lm->st && lm->n_owned == 0) return FRZ_OK;
    float *mem;
    size_t n_mem;
    frz_status st = copy_into_block(&lm->cfg, &lm->w, &mem, &n_mem);
    if (st) return st;
    for (size_t i = 0; i < lm->n_owned; i++) free(lm->owned[i]);
    free(lm->owned);
    lm->owned = NULL;
    lm->n_owned = 0;
    frz_st_close(lm->st);
    lm->st = NULL;
    free(lm->mem);
    lm->mem = mem;
    lm->n_mem = n_mem;
    return FRZ_OK;
}

frz_status frz_gpt2_clone(const frz_lm *src, frz_lm **out)
{
    *out = NULL;
    frz_lm *lm;
    frz_status st = frz_gpt2_alloc(&src->cfg, "the LM copy", &lm);
    if (st) return st;
    lm->w = src->w;
    lm->w.layers = frz_malloc((size_t)src->cfg.n_layer * sizeof *lm->w.layers, "the layer table");
    if (!lm->w.layers) st = FRZ_ERR_NOMEM;
    if (st == FRZ_OK) {
        memcpy(lm->w.layers, src->w.layers, (size_t)src->cfg.n_layer * sizeof *lm->w.layers);
        st = copy_into_block(&lm->cfg, &lm->w, &lm->mem, &lm->n_mem);
    }
    lm->n_params = src->n_params;
    if (st == FRZ_OK && src->tok_dir) st = frz_gpt2_load_tokenizer(lm, src->tok_dir);
    if (st) {
        frz_lm_free(lm);
        return st;
    }
    *out = lm;
    return FRZ_OK;
}
