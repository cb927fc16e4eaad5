/* gpt2_forward.c -- the GPT-2 forward pass over a batch of new positions, reading top to bottom:
 * embeddings, n_layer pre-norm transformer blocks, the final layer norm, and the (tied) LM head.
 *
 * The rows of all inputs are concatenated, so every matrix product is one BLAS call over the whole batch;
 * only attention runs per sequence, over that sequence's KV cache. */
#include "lm/session.h"

#include <math.h>
#include <omp.h>
#include <string.h>

/* Copies rows of T positions: dst rows are dst_stride apart, src rows src_stride apart. dst (T, dst_stride),
 * src (T, src_stride), C floats each */
static void copy_rows(float *dst, size_t dst_stride, const float *src, size_t src_stride, size_t T, int C)
{
    for (size_t t = 0; t < T; t++) memcpy(dst + t * dst_stride, src + t * src_stride, (size_t)C * sizeof *dst);
}

/* Attention of layer l for one input whose rows start at `row`: its new keys and values join the sequence's cached
 * ones, then its new queries attend over all of them. scratch frz_attention_scratch(n_ctx, nth) floats */
static void attend(frz_session *s, const frz_input *in, size_t row, int l, float *scratch, int nth)
{
    const frz_gpt2_config *c = &s->lm->cfg;
    const int C = c->n_embd;
    const size_t stride = frz_cache_stride(c);
    const frz_seq *seq = &s->seqs[in->seq];
    float *k = seq->cache + frz_cache_k(c, l), *v = seq->cache + frz_cache_v(c, l);
    const float *qkv = s->acts.qkv + row * 3 * C;
    const float scale = c->scale_attn ? 1.0f / sqrtf((float)(C / c->n_head)) : 1.0f;
    copy_rows(k + seq->len * stride, stride, qkv + C, 3 * (size_t)C, in->n, C);
    copy_rows(v + seq->len * stride, stride, qkv + 2 * C, 3 * (size_t)C, in->n, C);
    frz_attention_forward(s->acts.att + row * C, qkv, 3 * (size_t)C, k, v, stride, seq->len, in->n, C, c->n_head,
                          scale, scratch, nth);
}

frz_status frz_gpt2_forward(frz_session *s, const frz_input *in, size_t n_in, size_t N)
{
    const frz_gpt2_config *c = &s->lm->cfg;
    const frz_gpt2_weights *w = &s->lm->w;
    const int C = c->n_embd, F = c->n_inner, nth = s->n_threads;
    const size_t stride = frz_cache_stride(c); /* floats per cached position */
    frz_acts *a = &s->acts;

    /* x = token (or given) embedding + position embedding; each input continues its sequence */
    size_t *rows = s->first_row; /* input i owns rows rows[i] .. rows[i] + in[i].n - 1 */
    for (size_t i = 0, row = 0; i < n_in; row += in[i].n, i++) {
        rows[i] = row;
        frz_embedding_forward(a->x + row * C, in[i].tokens, in[i].embd, w->wte, w->wpe, s->seqs[in[i].seq].len,
                              in[i].n, C);
    }

    for (int l = 0; l < c->n_layer; l++) {
        if (s->abort_fn && s->abort_fn(s->abort_data))
            return frz_fail(FRZ_ERR_CANCELLED, "evaluation cancelled by the abort callback before layer %d", l);
        const frz_gpt2_layer *b = &w->layers[l];

        /* attention: x += c_proj(attn(ln_1(x))) */
        frz_layernorm_forward(a->ln, NULL, NULL, a->x, b->ln1_w, b->ln1_b, N, C, c->ln_eps, nth);
        frz_matmul_forward(a->qkv, a->ln, b->qkv_w, b->qkv_b, N, C, 3 * C, nth);
        /* each sequence attends over its own cache: with enough sequences threads take whole ones, else they
         * share each sequence's heads (never both: a nested team would not come from OpenMP's thread pool) */
        if (n_in >= 2 * (size_t)nth) {
            #pragma omp parallel for schedule(dynamic, 1) num_threads(nth)
            for (size_t i = 0; i < n_in; i++)
                attend(s, &in[i], rows[i], l,
                       a->scores + (size_t)omp_get_thread_num() * frz_attention_scratch((size_t)c->n_ctx, 1), 1);
        } else {
            for (size_t i = 0; i < n_in; i++) attend(s, &in[i], rows[i], l, a->scores, nth);
        }
        frz_matmul_forward(a->proj, a->att, b->attn_proj_w, b->attn_proj_b, N, C, C, nth);
        frz_residual_forward(a->x, a->x, a->proj, N * C, nth);

        /* MLP: x += c_proj(act(c_fc(ln_2(x)))) */
        frz_layernorm_forward(a->ln, NULL, NULL, a->x, b->ln2_w, b->ln2_b, N, C, c->ln_eps, nth);
        frz_matmul_forward(a->fc, a->ln, b->fc_w, b->fc_b, N, C, F, nth);
        frz_activation_forward(c->act, a->fc, a->fc, N * F, nth);
        frz_matmul_forward(a->proj, a->fc, b->fc_proj_w, b->fc_proj_b, N, F, C, nth);
        frz_residual_forward(a->x, a->x, a->proj, N * C, nth);
    }

    /* the final hidden states; each is kept in its position's cache row for logits after a truncation */
    frz_layernorm_forward(a->ln, NULL, NULL, a->x, w->lnf_w, w->lnf_b, N, C, c->ln_eps, nth);
    for (size_t i = 0, row = 0; i < n_in; row += in[i].n, i++) {
        const frz_seq *seq = &s->seqs[in[i].seq];
        copy_rows(seq->cache + seq->len * stride + frz_cache_h(c), stride, a->ln + row * C, (size_t)C, in[i].n, C);
    }
    return FRZ_OK;
}

void frz_gpt2_lm_head(const frz_lm *lm, float *logits, const float *h, size_t M, int nth)
{
    /* logits (M,V) = h (M,C) @ lm_head^T, lm_head (V,C) (wte when tied) */
    frz_matmul_wt_forward(logits, h, lm->w.lm_head, NULL, M, lm->cfg.n_embd, lm->cfg.n_vocab, nth);
}
