/* gpt2_model.c -- the model object: its table of parameter tensors, properties, freeing, and the in-memory
 * random model the tests and benchmarks use. Loading from a folder is gpt2_load.c. */
#include "formats/safetensors.h"
#include "lm/gpt2.h"
#include "math/rng.h"
#include "tokenizer/tokenizer.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

frz_status frz_gpt2_alloc(const frz_gpt2_config *cfg, const char *what, frz_lm **out)
{
    *out = NULL;
    frz_status st = frz_gpt2_config_check(cfg, what);
    if (st) return st;
    frz_lm *lm = frz_calloc(1, sizeof *lm, "the language model");
    if (!lm) return FRZ_ERR_NOMEM;
    lm->cfg = *cfg;
    lm->eot = -1;
    *out = lm;
    return FRZ_OK;
}

static void add(frz_gpt2_tensor *t, size_t *n, const float **dst, int init, int64_t d0, int64_t d1,
                const char *fmt, int layer)
{
    frz_gpt2_tensor *e = &t[(*n)++];
    memset(e, 0, sizeof *e);
    e->dst = dst;
    e->init = init;
    e->ndim = d1 ? 2 : 1;
    e->shape[0] = d0;
    e->shape[1] = d1;
    snprintf(e->name, sizeof e->name, fmt, layer);
}

frz_status frz_gpt2_tensors(frz_lm *lm, frz_gpt2_tensor **out, size_t *n_out)
{
    *out = NULL;
    *n_out = 0;
    lm->w.layers = frz_calloc((size_t)lm->cfg.n_layer, sizeof *lm->w.layers, "the layer table");
    if (!lm->w.layers) return FRZ_ERR_NOMEM;
    return frz_gpt2_table(&lm->cfg, &lm->w, out, n_out);
}

frz_status frz_gpt2_table(const frz_gpt2_config *c, frz_gpt2_weights *w, frz_gpt2_tensor **out, size_t *n_out)
{
    const int64_t C = c->n_embd, F = c->n_inner, V = c->n_vocab;
    *out = NULL;
    *n_out = 0;
    frz_gpt2_tensor *t = frz_calloc(5 + 12 * (size_t)c->n_layer, sizeof *t, "the tensor table");
    if (!t) return FRZ_ERR_NOMEM;
    size_t n = 0;
    add(t, &n, &w->wte, FRZ_INIT_NORMAL, V, C, "wte.weight", 0);
    add(t, &n, &w->wpe, FRZ_INIT_NORMAL, c->n_ctx, C, "wpe.weight", 0);
    for (int l = 0; l < c->n_layer; l++) {
        frz_gpt2_layer *L = &w->layers[l];
        add(t, &n, &L->ln1_w, FRZ_INIT_LN_WEIGHT, C, 0, "h.%d.ln_1.weight", l);
        add(t, &n, &L->ln1_b, FRZ_INIT_SMALL, C, 0, "h.%d.ln_1.bias", l);
        add(t, &n, &L->qkv_w, FRZ_INIT_NORMAL, C, 3 * C, "h.%d.attn.c_attn.weight", l);
        add(t, &n, &L->qkv_b, FRZ_INIT_SMALL, 3 * C, 0, "h.%d.attn.c_attn.bias", l);
        add(t, &n, &L->attn_proj_w, FRZ_INIT_NORMAL_RESIDUAL, C, C, "h.%d.attn.c_proj.weight", l);
        add(t, &n, &L->attn_proj_b, FRZ_INIT_SMALL, C, 0, "h.%d.attn.c_proj.bias", l);
        add(t, &n, &L->ln2_w, FRZ_INIT_LN_WEIGHT, C, 0, "h.%d.ln_2.weight", l);
        add(t, &n, &L->ln2_b, FRZ_INIT_SMALL, C, 0, "h.%d.ln_2.bias", l);
        add(t, &n, &L->fc_w, FRZ_INIT_NORMAL, C, F, "h.%d.mlp.c_fc.weight", l);
        add(t, &n, &L->fc_b, FRZ_INIT_SMALL, F, 0, "h.%d.mlp.c_fc.bias", l);
        add(t, &n, &L->fc_proj_w, FRZ_INIT_NORMAL_RESIDUAL, F, C, "h.%d.mlp.c_proj.weight", l);
        add(t, &n, &L->fc_proj_b, FRZ_INIT_SMALL, C, 0, "h.%d.mlp.c_proj.bias", l);
    }
    add(t, &n, &w->lnf_w, FRZ_INIT_LN_WEIGHT, C, 0, "ln_f.weight", 0);
    add(t, &n, &w->lnf_b, FRZ_INIT_SMALL, C, 0, "ln_f.bias", 0);
    if (!c->tie_lm_head) {
        add(t, &n, &w->lm_head, FRZ_INIT_NORMAL, V, C, "lm_head.weight", 0);
        t[n - 1].top_level = 1;
    }
    *out = t;
    *n_out = n;
    return FRZ_OK;
}

void frz_gpt2_finish(frz_lm *lm, const frz_gpt2_tensor *t, size_t n)
{
    int64_t count = 0;
    for (size_t i = 0; i < n; i++) count += t[i].shape[0] * (t[i].ndim == 2 ? t[i].shape[1] : 1);
    lm->n_params = count;
    if (lm->cfg.tie_lm_head) lm->w.lm_head = lm->w.wte;
}

size_t frz_gpt2_numel(const frz_gpt2_tensor *t) { return (size_t)(t->shape[0] * (t->ndim == 2 ? t->shape[1] : 1)); }

/* Draws every tensor of the table into lm->mem (allocated here, table order) and points the weights at it. */
static frz_status fill_random(frz_lm *lm, const frz_gpt2_tensor *t, size_t n, uint64_t seed, int hf)
{
    size_t total = 0;
    for (size_t i = 0; i < n; i++) total += frz_gpt2_numel(&t[i]);
    lm->mem = frz_malloc(total * sizeof(float), "random GPT-2 parameters");
    if (!lm->mem) return FRZ_ERR_NOMEM;
    lm->n_mem = total;
    frz_rng rng;
    frz_rng_seed(&rng, seed);
    const double std = 0.02, std_residual = 0.02 / sqrt(2.0 * lm->cfg.n_layer);
    float *p = lm->mem;
    for (size_t i = 0; i < n; i++) {
        const size_t size = frz_gpt2_numel(&t[i]);
        for (size_t j = 0; j < size; j++) {
            /* GPT-2's own init has LayerNorm 1/0 and zero biases; the test models perturb them so that tests
             * see every term. */
            if (hf && (t[i].init == FRZ_INIT_LN_WEIGHT || t[i].init == FRZ_INIT_SMALL)) {
                p[j] = t[i].init == FRZ_INIT_LN_WEIGHT ? 1.0f : 0.0f;
                continue;
            }
            double z = frz_rng_normal(&rng);
            switch (t[i].init) {
            case FRZ_INIT_NORMAL: p[j] = (float)(std * z); break;
            case FRZ_INIT_NORMAL_RESIDUAL: p[j] = (float)(std_residual * z); break;
            case FRZ_INIT_LN_WEIGHT: p[j] = (float)(1.0 + 0.1 * z); break;
            default: p[j] = (float)(0.02 * z); break;
            }
        }
        *t[i].dst = p;
        p += size;
    }
    return FRZ_OK;
}

frz_status frz_gpt2_create_init(const frz_gpt2_config *cfg, uint64_t seed, int hf_init, frz_lm **out)
{
    *out = NULL;
    frz_lm *lm;
    frz_status st = frz_gpt2_alloc(cfg, "random GPT-2 config", &lm);
    if (st) return st;
    frz_gpt2_tensor *t = NULL;
    size_t n = 0;
    if ((st = frz_gpt2_tensors(lm, &t, &n)) == FRZ_OK) st = fill_random(lm, t, n, seed, hf_init);
    if (st == FRZ_OK) frz_gpt2_finish(lm, t, n);
    free(t);
    if (st) {
        frz_lm_free(lm);
        return st;
    }
    *out = lm;
    return FRZ_OK;
}

frz_status frz_gpt2_create_random(const frz_gpt2_config *cfg, uint64_t seed, frz_lm **out)
{
    return frz_gpt2_create_init(cfg, seed, 0, out);
}

void frz_lm_free(frz_lm *lm)
{
    if (!lm) return;
    for (size_t i = 0; i < lm->n_owned; i++) free(lm->owned[i]);
    free(lm->owned);
    free(lm->mem);
    free(lm->tok_dir);
    free(lm->w.layers);
    if (lm->tok) frz_tokenizer_free(lm->tok);
    if (lm->st) frz_st_close(lm->st);
    free(lm);
}

int64_t frz_lm_get(const frz_lm *lm, frz_lm_prop prop)
{
    if (!lm) return -1;
    switch (prop) {
    case FRZ_LM_N_LAYER: return lm->cfg.n_layer;
    case FRZ_LM_N_HEAD: return lm->cfg.n_head;
    case FRZ_LM_N_EMBD: return lm->cfg.n_embd;
    case FRZ_LM_N_VOCAB: return lm->cfg.n_vocab;
    case FRZ_LM_N_CTX: return lm->cfg.n_ctx;
    case FRZ_LM_EOT_TOKEN: return lm->eot;
    case FRZ_LM_N_PARAMS: return lm->n_params;
    }
    return -1;
}
