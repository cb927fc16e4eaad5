/* step.c -- Frozen's forward and backward over one batch (see step.h). */
#include "train/step.h"

#include <stdlib.h>
#include <string.h>

frz_status frz_step_create(const frz_lm *lm, frz_nfr_model *enc, frz_projector *proj, int B, int shared_image, int R,
                           int max_tokens, frz_step **out)
{
    *out = NULL;
    const int C = lm->cfg.n_embd, F = enc->arch.num_features, P = proj->n_prefix;
    if (proj->n_features != F)
        return frz_fail(FRZ_ERR_SHAPE, "the projector takes %d features but the encoder gives %d", proj->n_features, F);
    if (proj->n_embd != C)
        return frz_fail(FRZ_ERR_SHAPE, "the projector makes embeddings of width %d but the LM's is %d", proj->n_embd, C);
    if (lm->eot < 0) return frz_fail(FRZ_ERR_INVALID_ARG, "the LM's vocabulary has no <|endoftext|> to end captions with");
    if (B < 1 || max_tokens < 1 || P + max_tokens > lm->cfg.n_ctx)
        return frz_fail(FRZ_ERR_INVALID_ARG, "batch %d, prefix %d + caption %d tokens: the LM holds %d positions", B, P,
                        max_tokens, lm->cfg.n_ctx);
    frz_step *s = frz_calloc(1, sizeof *s, "training step");
    if (!s) return FRZ_ERR_NOMEM;
    s->lm = lm, s->enc = enc, s->proj = proj;
    s->B = B, s->R = R, s->P = P, s->C = C, s->F = F, s->max_tokens = max_tokens, s->eot = lm->eot;
    s->n_images = shared_image ? 1 : B;
    const size_t Tmax = (size_t)P + (size_t)max_tokens, rows = (size_t)B * Tmax;
    frz_status st = frz_nfr_state_create(enc, s->n_images, R, R, &s->enc_st);
    if (st == FRZ_OK) {
        s->pooled = frz_malloc((size_t)B * F * sizeof(float), "pooled features");
        s->d_pooled = frz_malloc((size_t)B * F * sizeof(float), "pooled gradients");
        s->prefix = frz_malloc((size_t)B * P * C * sizeof(float), "visual prefix");
        s->d_prefix = frz_malloc((size_t)B * P * C * sizeof(float), "prefix gradients");
        s->embd = frz_calloc(rows * (size_t)C, sizeof(float), "LM input embeddings");
        s->d_embd = frz_malloc(rows * (size_t)C * sizeof(float), "LM input gradients");
        s->tokens = frz_malloc(rows * sizeof(int32_t), "LM input tokens");
        s->targets = frz_malloc(rows * sizeof(int32_t), "LM targets");
        if (!s->pooled || !s->d_pooled || !s->prefix || !s->d_prefix || !s->embd || !s->d_embd || !s->tokens ||
            !s->targets)
            st = FRZ_ERR_NOMEM;
    }
    if (st != FRZ_OK) {
        frz_step_free(s);
        return st;
    }
    *out = s;
    return FRZ_OK;
}

void frz_step_free(frz_step *s)
{
    if (!s) return;
    frz_nfr_state_free(s->enc_st);
    frz_gpt2_train_ws_free(s->ws);
    free(s->pooled), free(s->d_pooled), free(s->prefix), free(s->d_prefix);
    free(s->embd), free(s->d_embd), free(s->tokens), free(s->targets);
    free(s);
}

/* Lays out the B sequences of T positions (step.h) in tokens/targets/embd. */
static void build_sequences(frz_step *s, const int32_t *tok, int tok_stride, const int32_t *len, int T)
{
    const int P = s->P, C = s->C;
    for (int b = 0; b < s->B; b++) {
        int32_t *in = s->tokens + (size_t)b * T, *tg = s->targets + (size_t)b * T;
        float *e = s->embd + (size_t)b * T * C;
        const int n = len[b];
        for (int t = 0; t < T; t++) {
            in[t] = t < P ? FRZ_TOKEN_EMBEDDING : t - P < n ? tok[(size_t)b * tok_stride + (t - P)] : s->eot;
            int i = t - (P - 1); /* the caption token this position predicts */
            tg[t] = n < 0 || i < 0 || i > n ? -1 : i < n ? tok[(size_t)b * tok_stride + i] : s->eot;
        }
        const int img = s->n_images == 1 ? 0 : b;
        memcpy(e, s->prefix + (size_t)img * P * C, (size_t)P * C * sizeof *e); /* rows past P are not read */
    }
}

frz_status frz_step_zero_grads(frz_step *s, int n_threads)
{
    frz_gpt2_grads_zero(s->lm_grads, n_threads);
    frz_status st = frz_proj_zero_grad(s->proj, n_threads);
    return st == FRZ_OK ? frz_nfr_zero_grad(s->enc, n_threads) : st;
}

frz_status frz_step_run(frz_step *s, const float *images, const int32_t *tokens, int tok_stride, const int32_t *len,
                        int backward, float grad_scale, int n_threads, float *loss, int64_t *n_targets)
{
    *loss = 0.0f;
    *n_targets = 0;
    int L = -1;
    for (int b = 0; b < s->B; b++) {
        if (len[b] > s->max_tokens)
            return frz_fail(FRZ_ERR_INVALID_ARG, "slot %d: a caption of %d tokens, over the %d allowed", b, (int)len[b],
                            s->max_tokens);
        if (len[b] > L) L = len[b];
        if (len[b] >= 0) *n_targets += len[b] + 1;
    }
    const int T = s->P + (L > 0 ? L : 0);

    frz_status st = frz_nfr_forward(s->enc, s->enc_st, images, s->pooled, n_threads);
    if (st != FRZ_OK) return st;
    frz_proj_forward(s->proj, s->prefix, s->pooled, s->n_images, n_threads);
    if (T != s->ws_T) {
        frz_gpt2_train_ws_free(s->ws);
        s->ws = NULL;
        s->ws_T = 0;
        if ((st = frz_gpt2_train_ws_create(s->lm, s->B, T, &s->ws)) != FRZ_OK) return st;
        s->ws_T = T;
    }
    s->T = T;
    build_sequences(s, tokens, tok_stride, len, T);
    st = frz_gpt2_train_forward(s->ws, s->tokens, s->embd, s->targets, n_threads, loss);
    if (st != FRZ_OK || !backward) return st;

    const size_t rows = (size_t)s->B * T, PC = (size_t)s->P * s->C;
    frz_zero(s->d_embd, rows * s->C, n_threads);
    /* With LM gradients the backward applies grad_scale itself (to both); frozen, it is applied to the prefix. */
    st = s->lm_grads ? frz_gpt2_train_backward_scaled(s->ws, s->d_embd, s->lm_grads, grad_scale, n_threads)
                     : frz_gpt2_train_backward(s->ws, s->d_embd, NULL, n_threads);
    if (st != FRZ_OK) return st;
    const float k = s->lm_grads ? 1.0f : grad_scale;
    /* Each slot's prefix rows go to its image's prefix gradient; an image shared by every slot gets their sum. */
    memset(s->d_prefix, 0, (size_t)s->n_images * PC * sizeof *s->d_prefix);
    for (int b = 0; b < s->B; b++) {
        const float *src = s->d_embd + (size_t)b * T * s->C;
        float *dst = s->d_prefix + (s->n_images == 1 ? 0 : b * PC);
        for (size_t i = 0; i < PC; i++) dst[i] += k * src[i];
    }
    if (!s->proj->grads || !s->enc->grads) return frz_fail(FRZ_ERR_INVALID_ARG, "step: gradients not cleared first");
    memset(s->d_pooled, 0, (size_t)s->n_images * s->F * sizeof *s->d_pooled);
    frz_proj_backward(s->proj, s->d_pooled, s->d_prefix, s->pooled, s->n_images, n_threads);
    return frz_nfr_backward(s->enc, s->enc_st, s->d_pooled, NULL, n_threads);
}

void frz_step_seq_nll(const frz_step *s, int b, double *nll, int *count)
{
    frz_gpt2_train_seq_nll(s->ws, b, nll, count);
}
