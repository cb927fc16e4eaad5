/* lm_create.c -- the public frz_lm_config and frz_lm_create_random over src/lm (random GPT-2 models that own
 * their weights, with a tokenizer from a folder). */
#include "lm/gpt2.h"
#include "tokenizer/tokenizer.h"

#include <string.h>

void (frz_lm_config_init)(frz_lm_config *c)
{
    if (!c) return;
    memset(c, 0, sizeof *c);
    c->struct_size = sizeof *c;
    c->n_layer = 4;
    c->n_head = 4;
    c->n_embd = 128;
    c->n_ctx = 256;
    c->n_inner = 0;
}

FRZ_DEFINE_INIT_SIZE(frz_lm_config_init, frz_lm_config)

frz_status frz_lm_create_random(const frz_lm_config *cfg, const char *tokenizer_dir, uint64_t seed, frz_lm **out)
{
    if (!out) return frz_fail(FRZ_ERR_INVALID_ARG, "frz_lm_create_random: out is NULL");
    *out = NULL;
    if (!tokenizer_dir) return frz_fail(FRZ_ERR_INVALID_ARG, "frz_lm_create_random: tokenizer_dir is NULL");
    frz_lm_config c;
    frz_lm_config_init(&c);
    frz_status st = frz_params_merge(&c, sizeof c, cfg, "frz_lm_create_random", "frz_lm_config_init");
    if (st) return st;
    const struct { const char *name; int32_t v, lo, hi; } m[] = {
        {"n_layer", c.n_layer, 1, 256}, {"n_head", c.n_head, 1, 256}, {"n_embd", c.n_embd, 1, 16384},
        {"n_ctx", c.n_ctx, 1, 65536},   {"n_inner", c.n_inner, 0, 65536}, {"untied_head", c.untied_head, 0, 1},
    };
    for (size_t i = 0; i < sizeof m / sizeof m[0]; i++)
        if (m[i].v < m[i].lo || m[i].v > m[i].hi)
            return frz_fail(FRZ_ERR_INVALID_ARG, "frz_lm_create_random: %s is %d; it must be in %d..%d", m[i].name,
                            (int)m[i].v, (int)m[i].lo, (int)m[i].hi);
    if (c.n_embd % c.n_head != 0)
        return frz_fail(FRZ_ERR_INVALID_ARG, "frz_lm_create_random: n_embd %d is not a multiple of n_head %d",
                        (int)c.n_embd, (int)c.n_head);
    /* The vocabulary's size comes from the tokenizer: read it into a throwaway model first. */
    frz_gpt2_config gc;
    frz_gpt2_config_init(&gc, c.n_layer, c.n_head, c.n_embd, 1 << 20, c.n_ctx);
    if (c.n_inner > 0) gc.n_inner = c.n_inner;
    gc.tie_lm_head = !c.untied_head;
    frz_lm *probe = NULL, *lm = NULL;
    st = frz_gpt2_alloc(&gc, "frz_lm_create_random", &probe);
    if (st == FRZ_OK) st = frz_gpt2_load_tokenizer(probe, tokenizer_dir);
    if (st == FRZ_OK) {
        gc.n_vocab = frz_tokenizer_n_vocab(probe->tok);
        st = frz_gpt2_create_init(&gc, seed, 1, &lm);
    }
    if (st == FRZ_OK) { /* hand the tokenizer over */
        lm->tok = probe->tok, lm->eot = probe->eot, lm->tok_dir = probe->tok_dir;
        probe->tok = NULL, probe->tok_dir = NULL;
    }
    frz_lm_free(probe);
    if (st) return st;
    frz_log(FRZ_LOG_INFO, "random GPT-2: %d layers, %d heads, width %d, vocab %d, context %d, %s head, %lld parameters",
            gc.n_layer, gc.n_head, gc.n_embd, gc.n_vocab, gc.n_ctx, gc.tie_lm_head ? "tied" : "untied",
            (long long)lm->n_params);
    *out = lm;
    return FRZ_OK;
}
