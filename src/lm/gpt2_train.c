/* gpt2_train.c -- the GPT-2 forward over a padded batch that keeps every activation, the mean cross-entropy of
 * the next-token targets, and the backward down to the input embeddings (and, when asked, every weight).
 *
 * After llm.c's train_gpt2.c: the activations are named pointers into one allocation sized at create, the
 * forward reads top to bottom like gpt2_forward.c (which serves inference with a KV cache), and the backward
 * walks the same steps in reverse, each kernel's _backward beside its _forward in src/math. The residual
 * stream's gradient lives in one buffer (dres) that every branch adds into. The model is only read. */
#include "lm/gpt2_train.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* One block's activations: slices of the per-layer arrays. */
typedef struct layer_acts {
    const float *res_in;        /* (BT,C) the block's input: the embeddings, or the previous block's output */
    float *ln1, *ln1_mean, *ln1_rstd; /* (BT,C), (BT), (BT) */
    float *qkv;                 /* (BT,3C) */
    float *att;                 /* (B,NH,T,T) attention probabilities */
    float *atty;                /* (BT,C) attention output before c_proj */
    float *res_att;             /* (BT,C) res_in + attention branch */
    float *ln2, *ln2_mean, *ln2_rstd;
    float *fch;                 /* (BT,F) c_fc output (the activation's input) */
    float *fch_act;             /* (BT,F) */
    float *res_out;             /* (BT,C) res_att + MLP branch: the block's output */
} layer_acts;

struct frz_gpt2_train_ws {
    const frz_lm *lm;
    int B, T;
    size_t BT;
    void *mem;                  /* the one allocation; everything below points into it */
    size_t bytes;

    /* the batch of the last forward */
    int32_t *tokens;            /* (BT) FRZ_TOKEN_EMBEDDING where the position took a vector */
    int32_t *rows;              /* (BT) the positions with a target, in order: M of them */
    int32_t *targets;           /* (BT) their targets */
    size_t M;

    /* activations, per layer arrays of (n_layer, ...) */
    float *encoded;             /* (BT,C) embedding + position */
    float *ln1, *ln1_mean, *ln1_rstd, *qkv, *att, *atty, *res_att, *ln2, *ln2_mean, *ln2_rstd, *fch, *fch_act,
          *res_out;
    float *lnf, *lnf_mean, *lnf_rstd; /* (BT,C), (BT), (BT) */
    float *head_in;             /* (M,C) the final hidden states of the positions with a target */
    float *logits;              /* (M,V); their gradient after the first backward */
    double *lse, *nll;          /* (M) */
    double *seq_nll;            /* (B) */
    int *seq_count;             /* (B) */

    /* backward scratch */
    float *dres;                /* (BT,C) the residual stream's gradient */
    float *dln;                 /* (BT,C) a layer norm's output gradient */
    float *datty;               /* (BT,C) */
    float *dqkv;                /* (BT,3C) */
    float *dfch_act, *dfch;     /* (BT,F) */
    float *dhead;               /* (M,C) */
    float *datt_scratch;        /* (B,NH,T) */

    enum { WS_EMPTY, WS_FORWARD, WS_DLOGITS } state; /* WS_DLOGITS: logits hold their gradient */
    float dlogits_scale;        /* the loss scale that gradient was computed for */
};

/* ---- the one allocation ------------------------------------------------------------------------------- */

/* A region: where its pointer goes, element count, element size. */
typedef struct region {
    void **dst;
    size_t count, size;
} region;

#define ALIGN 64 /* every region starts on a cache line */

/* Total bytes of the regions, each rounded up to ALIGN; 0 on overflow. */
static size_t regions_bytes(const region *r, size_t n)
{
    size_t total = 0;
    for (size_t i = 0; i < n; i++) {
        size_t b;
        if (!frz_mul_size(r[i].count, r[i].size, &b) || b > (size_t)-1 - ALIGN - total) return 0;
        total += (b + ALIGN - 1) / ALIGN * ALIGN;
    }
    return total;
}

static void regions_assign(const region *r, size_t n, void *base)
{
    char *p = (char *)(((uintptr_t)base + ALIGN - 1) / ALIGN * ALIGN);
    for (size_t i = 0; i < n; i++) {
        *r[i].dst = p;
        p += (r[i].count * r[i].size + ALIGN - 1) / ALIGN * ALIGN;
    }
}

/* Overflow-checked product of three sizes (0 on overflow: every size here is >= 1, so 0 means overflow). */
static size_t mul3(size_t a, size_t b, size_t c)
{
    size_t ab, abc;
    return frz_mul_size(a, b, &ab) && frz_mul_size(ab, c, &abc) ? abc : 0;
}

#define N_REGIONS 34

/* The regions of a workspace for w->B x w->T positions (w->lm set), into r (N_REGIONS); the byte total (0 on
 * overflow). */
static size_t plan(frz_gpt2_train_ws *w, region *r)
{
    const frz_gpt2_config *c = &w->lm->cfg;
    w->BT = (size_t)w->B * w->T;
    const size_t BT = w->BT, L = (size_t)c->n_layer, C = (size_t)c->n_embd, F = (size_t)c->n_inner,
                 NH = (size_t)c->n_head, V = (size_t)c->n_vocab, B = (size_t)w->B, T = (size_t)w->T;
    const size_t f = sizeof(float);
    const size_t LBT = mul3(L, BT, 1), att = mul3(LBT, NH, T); /* per-layer arrays: (L, BT, ...) */
    const region list[] = {
        /* the batch */
        {(void **)&w->tokens, BT, sizeof(int32_t)},
        {(void **)&w->rows, BT, sizeof(int32_t)},
        {(void **)&w->targets, BT, sizeof(int32_t)},
        /* activations */
        {(void **)&w->encoded, mul3(BT, C, 1), f},
        {(void **)&w->ln1, mul3(LBT, C, 1), f},
        {(void **)&w->ln1_mean, LBT, f},
        {(void **)&w->ln1_rstd, LBT, f},
        {(void **)&w->qkv, mul3(LBT, 3, C), f},
        {(void **)&w->att, att, f},
        {(void **)&w->atty, mul3(LBT, C, 1), f},
        {(void **)&w->res_att, mul3(LBT, C, 1), f},
        {(void **)&w->ln2, mul3(LBT, C, 1), f},
        {(void **)&w->ln2_mean, LBT, f},
        {(void **)&w->ln2_rstd, LBT, f},
        {(void **)&w->fch, mul3(LBT, F, 1), f},
        {(void **)&w->fch_act, mul3(LBT, F, 1), f},
        {(void **)&w->res_out, mul3(LBT, C, 1), f},
        {(void **)&w->lnf, mul3(BT, C, 1), f},
        {(void **)&w->lnf_mean, BT, f},
        {(void **)&w->lnf_rstd, BT, f},
        {(void **)&w->head_in, mul3(BT, C, 1), f},
        {(void **)&w->logits, mul3(BT, V, 1), f},
        {(void **)&w->lse, BT, sizeof(double)},
        {(void **)&w->nll, BT, sizeof(double)},
        {(void **)&w->seq_nll, B, sizeof(double)},
        {(void **)&w->seq_count, B, sizeof(int)},
        /* backward scratch */
        {(void **)&w->dres, mul3(BT, C, 1), f},
        {(void **)&w->dln, mul3(BT, C, 1), f},
        {(void **)&w->datty, mul3(BT, C, 1), f},
        {(void **)&w->dqkv, mul3(BT, 3, C), f},
        {(void **)&w->dfch_act, mul3(BT, F, 1), f},
        {(void **)&w->dfch, mul3(BT, F, 1), f},
        {(void **)&w->dhead, mul3(BT, C, 1), f},
        {(void **)&w->datt_scratch, mul3(BT, NH, 1), f},
    };
    _Static_assert(sizeof list / sizeof list[0] == N_REGIONS, "N_REGIONS");
    memcpy(r, list, sizeof list);
    size_t bytes = regions_bytes(r, N_REGIONS);
    for (size_t i = 0; i < N_REGIONS; i++)
        if (r[i].count == 0) bytes = 0; /* a product overflowed */
    return bytes > (size_t)-1 - ALIGN ? 0 : bytes;
}

static frz_status check_shape(const frz_lm *lm, int B, int T)
{
    if (B < 1 || T < 1 || T > lm->cfg.n_ctx || (int64_t)B * T > INT32_MAX) /* positions are indexed by int32 */
        return frz_fail(FRZ_ERR_INVALID_ARG, "training workspace: batch %d x %d positions; expected B >= 1, "
                        "1 <= T <= n_ctx (%d) and B T < 2^31", B, T, lm->cfg.n_ctx);
    return FRZ_OK;
}

frz_status frz_gpt2_train_ws_create(const frz_lm *lm, int B, int T, frz_gpt2_train_ws **out)
{
    *out = NULL;
    if (!lm) return frz_fail(FRZ_ERR_INVALID_ARG, "training workspace: no model");
    frz_status st = check_shape(lm, B, T);
    if (st) return st;
    frz_gpt2_train_ws *ws = frz_calloc(1, sizeof *ws, "the training workspace");
    if (!ws) return FRZ_ERR_NOMEM;
    ws->lm = lm;
    ws->state = WS_EMPTY;
    if ((st = frz_gpt2_train_ws_reshape(ws, B, T)) != FRZ_OK) {
        free(ws);
        return st;
    }
    *out = ws;
    return FRZ_OK;
}

frz_status frz_gpt2_train_ws_reshape(frz_gpt2_train_ws *ws, int B, int T)
{
    frz_status st = check_shape(ws->lm, B, T);
    if (st) return st;
    const int old_B = ws->B, old_T = ws->T;
    region r[N_REGIONS];
    ws->B = B, ws->T = T;
    const size_t bytes = plan(ws, r);
    if (bytes == 0) st = frz_fail(FRZ_ERR_NOMEM, "training workspace for %d x %d positions: size overflow", B, T);
    if (st == FRZ_OK && bytes + ALIGN > ws->bytes) { /* a bigger shape than any before: a new block */
        void *mem = frz_malloc(bytes + ALIGN, "the training activations");
        if (!mem) {
            st = frz_fail_prefix(FRZ_ERR_NOMEM, "training workspace for %d x %d positions: ", B, T);
        } else {
            free(ws->mem);
            ws->mem = mem;
            ws->bytes = bytes + ALIGN;
        }
    }
    if (st != FRZ_OK) { /* back to the old shape, whose layout still fits the old block */
        ws->B = old_B, ws->T = old_T;
        if (ws->mem) plan(ws, r); /* recomputes BT; the pointers were not touched */
        return st;
    }
    regions_assign(r, N_REGIONS, ws->mem);
    ws->state = WS_EMPTY;
    return FRZ_OK;
}

void frz_gpt2_train_ws_free(frz_gpt2_train_ws *ws)
{
    if (!ws) return;
    free(ws->mem);
    free(ws);
}

size_t frz_gpt2_train_ws_bytes(const frz_gpt2_train_ws *ws) { return ws ? ws->bytes : 0; }

static layer_acts acts_of(const frz_gpt2_train_ws *ws, int l)
{
    const frz_gpt2_config *c = &ws->lm->cfg;
    const size_t BT = ws->BT, C = (size_t)c->n_embd, F = (size_t)c->n_inner, L = (size_t)l;
    layer_acts a;
    a.res_in = l == 0 ? ws->encoded : ws->res_out + (L - 1) * BT * C;
    a.ln1 = ws->ln1 + L * BT * C;
    a.ln1_mean = ws->ln1_mean + L * BT;
    a.ln1_rstd = ws->ln1_rstd + L * BT;
    a.qkv = ws->qkv + L * BT * 3 * C;
    a.att = ws->att + L * BT * (size_t)c->n_head * (size_t)ws->T;
    a.atty = ws->atty + L * BT * C;
    a.res_att = ws->res_att + L * BT * C;
    a.ln2 = ws->ln2 + L * BT * C;
    a.ln2_mean = ws->ln2_mean + L * BT;
    a.ln2_rstd = ws->ln2_rstd + L * BT;
    a.fch = ws->fch + L * BT * F;
    a.fch_act = ws->fch_act + L * BT * F;
    a.res_out = ws->res_out + L * BT * C;
    return a;
}

static float attn_scale(const frz_gpt2_config *c)
{
    return c->scale_attn ? 1.0f / sqrtf((float)(c->n_embd / c->n_head)) : 1.0f;
}

/* ---- forward ------------------------------------------------------------------------------------------- */

/* Checks the ids and copies the batch's tokens and targets (compacted to the positions that have one). */
static frz_status take_batch(frz_gpt2_train_ws *ws, const int32_t *tokens, const float *embd,
                             const int32_t *targets)
{
    const int V = ws->lm->cfg.n_vocab;
    if (!targets) return frz_fail(FRZ_ERR_INVALID_ARG, "training forward: no targets");
    if (!tokens && !embd) return frz_fail(FRZ_ERR_INVALID_ARG, "training forward: neither tokens nor embeddings");
    ws->M = 0;
    for (size_t i = 0; i < ws->BT; i++) {
        const int32_t tok = tokens ? tokens[i] : FRZ_TOKEN_EMBEDDING, tgt = targets[i];
        const int b = (int)(i / (size_t)ws->T), t = (int)(i % (size_t)ws->T);
        if (tok == FRZ_TOKEN_EMBEDDING ? !embd : (tok < 0 || tok >= V))
            return frz_fail(FRZ_ERR_INVALID_ARG, "training forward: sequence %d position %d: token %d %s", b, t,
                            (int)tok, tok == FRZ_TOKEN_EMBEDDING ? "without embeddings" : "out of range");
        if (tgt < -1 || tgt >= V)
            return frz_fail(FRZ_ERR_INVALID_ARG, "training forward: sequence %d position %d: target %d out of "
                            "range (-1 .. %d)", b, t, (int)tgt, V - 1);
        ws->tokens[i] = tok;
        if (tgt >= 0) {
            ws->rows[ws->M] = (int32_t)i;
            ws->targets[ws->M++] = tgt;
        }
    }
    return FRZ_OK;
}

frz_status frz_gpt2_train_forward(frz_gpt2_train_ws *ws, const int32_t *tokens, const float *embd,
                                  const int32_t *targets, int n_threads, float *loss)
{
    if (!ws) return frz_fail(FRZ_ERR_INVALID_ARG, "training forward: no workspace");
    ws->state = WS_EMPTY;
    if (n_threads < 1) return frz_fail(FRZ_ERR_INVALID_ARG, "training forward: %d threads", n_threads);
    frz_status st = take_batch(ws, tokens, embd, targets);
    if (st) return st;
    const frz_gpt2_config *c = &ws->lm->cfg;
    const frz_gpt2_weights *w = &ws->lm->w;
    const int B = ws->B, T = ws->T, C = c->n_embd, F = c->n_inner, NH = c->n_head, V = c->n_vocab;
    const int nth = n_threads;
    const size_t BT = ws->BT;

    /* token (or given) embedding + position, each sequence from position 0 */
    for (int b = 0; b < B; b++)
        frz_embedding_forward(ws->encoded + (size_t)b * T * C, ws->tokens + (size_t)b * T,
                              embd ? embd + (size_t)b * T * C : NULL, w->wte, w->wpe, 0, (size_t)T, C);

    for (int l = 0; l < c->n_layer; l++) {
        const frz_gpt2_layer *p = &w->layers[l];
        layer_acts a = acts_of(ws, l);
        /* attention: res_att = res_in + c_proj(attn(ln_1(res_in))) */
        frz_layernorm_forward(a.ln1, a.ln1_mean, a.ln1_rstd, a.res_in, p->ln1_w, p->ln1_b, BT, C, c->ln_eps, nth);
        frz_matmul_forward(a.qkv, a.ln1, p->qkv_w, p->qkv_b, BT, C, 3 * C, nth);
        frz_attention_forward_train(a.atty, a.att, a.qkv, (size_t)B, (size_t)T, C, NH, attn_scale(c), nth);
        frz_matmul_forward(a.res_att, a.atty, p->attn_proj_w, p->attn_proj_b, BT, C, C, nth);
        frz_residual_forward(a.res_att, a.res_att, a.res_in, BT * C, nth);
        /* MLP: res_out = res_att + c_proj(act(c_fc(ln_2(res_att)))) */
        frz_layernorm_forward(a.ln2, a.ln2_mean, a.ln2_rstd, a.res_att, p->ln2_w, p->ln2_b, BT, C, c->ln_eps, nth);
        frz_matmul_forward(a.fch, a.ln2, p->fc_w, p->fc_b, BT, C, F, nth);
        frz_activation_forward(c->act, a.fch_act, a.fch, BT * F, nth);
        frz_matmul_forward(a.res_out, a.fch_act, p->fc_proj_w, p->fc_proj_b, BT, F, C, nth);
        frz_residual_forward(a.res_out, a.res_out, a.res_att, BT * C, nth);
    }
    const float *res_last = acts_of(ws, c->n_layer - 1).res_out;
    frz_layernorm_forward(ws->lnf, ws->lnf_mean, ws->lnf_rstd, res_last, w->lnf_w, w->lnf_b, BT, C, c->ln_eps, nth);

    /* logits only where a target needs them */
    for (size_t m = 0; m < ws->M; m++)
        memcpy(ws->head_in + m * C, ws->lnf + (size_t)ws->rows[m] * C, (size_t)C * sizeof(float));
    double total = 0.0;
    memset(ws->seq_nll, 0, (size_t)B * sizeof *ws->seq_nll);
    memset(ws->seq_count, 0, (size_t)B * sizeof *ws->seq_count);
    if (ws->M > 0) {
        frz_matmul_wt_forward(ws->logits, ws->head_in, w->lm_head, NULL, ws->M, C, V, nth);
        frz_crossentropy_forward(ws->nll, ws->lse, ws->logits, ws->targets, ws->M, V, nth);
        for (size_t m = 0; m < ws->M; m++) {
            const int b = ws->rows[m] / T;
            ws->seq_nll[b] += ws->nll[m];
            ws->seq_count[b]++;
            total += ws->nll[m];
        }
    }
    if (loss) *loss = ws->M > 0 ? (float)(total / (double)ws->M) : 0.0f;
    ws->state = WS_FORWARD;
    return FRZ_OK;
}

void frz_gpt2_train_seq_nll(const frz_gpt2_train_ws *ws, int b, double *nll_sum, int *count)
{
    const int ok = ws && ws->state != WS_EMPTY && b >= 0 && b < ws->B;
    if (nll_sum) *nll_sum = ok ? ws->seq_nll[b] : 0.0;
    if (count) *count = ok ? ws->seq_count[b] : 0;
}

/* ---- backward ------------------------------------------------------------------------------------------ */


/* A member of the optional per-layer gradients, or NULL. */
#define LG(g, member) ((g) ? (g)->member : NULL)

frz_status frz_gpt2_train_backward(frz_gpt2_train_ws *ws, float *d_embd, frz_gpt2_grads *grads, int n_threads)
{
    return frz_gpt2_train_backward_scaled(ws, d_embd, grads, 1.0f, n_threads);
}

frz_status frz_gpt2_train_backward_scaled(frz_gpt2_train_ws *ws, float *d_embd, frz_gpt2_grads *grads, float scale,
                                          int n_threads)
{
    if (!ws) return frz_fail(FRZ_ERR_INVALID_ARG, "training backward: no workspace");
    if (ws->state == WS_EMPTY)
        return frz_fail(FRZ_ERR_INVALID_ARG, "training backward: no successful forward to differentiate");
    if (n_threads < 1) return frz_fail(FRZ_ERR_INVALID_ARG, "training backward: %d threads", n_threads);
    if (ws->M == 0 || (!d_embd && !grads)) return FRZ_OK; /* nothing depends on the loss, or nothing asked */
    const frz_gpt2_config *c = &ws->lm->cfg;
    const frz_gpt2_weights *w = &ws->lm->w;
    const int B = ws->B, T = ws->T, C = c->n_embd, F = c->n_inner, NH = c->n_head, V = c->n_vocab;
    const int nth = n_threads;
    const size_t BT = ws->BT, M = ws->M;
    frz_gpt2_grads *g = grads;

    /* loss = mean over the M targets: dlogits = (softmax - onehot) / M, in place of the logits (once) */
    if (ws->state == WS_FORWARD) {
        frz_crossentropy_backward(ws->logits, ws->lse, ws->targets, scale / (float)M, M, V, nth);
        ws->state = WS_DLOGITS;
        ws->dlogits_scale = scale;
    } else if (scale != ws->dlogits_scale) { /* the gradient is linear in the scale */
        const float k = scale / ws->dlogits_scale;
        for (size_t i = 0; i < M * (size_t)V; i++) ws->logits[i] *= k;
        ws->dlogits_scale = scale;
    }
    /* LM head: the rows without a target get no gradient */
    frz_zero(ws->dhead, M * C, nth);
    frz_matmul_wt_backward(ws->dhead, LG(g, lm_head), NULL, ws->logits, ws->head_in, w->lm_head, M, C, V, nth);
    frz_zero(ws->dln, BT * C, nth);
    for (size_t m = 0; m < M; m++)
        memcpy(ws->dln + (size_t)ws->rows[m] * C, ws->dhead + m * C, (size_t)C * sizeof(float));
    frz_zero(ws->dres, BT * C, nth);
    const float *res_last = acts_of(ws, c->n_layer - 1).res_out;
    frz_layernorm_backward(ws->dres, LG(g, lnf_w), LG(g, lnf_b), ws->dln, res_last, w->lnf_w, ws->lnf_mean,
                           ws->lnf_rstd, BT, C, nth);

    for (int l = c->n_layer - 1; l >= 0; l--) {
        const frz_gpt2_layer *p = &w->layers[l];
        frz_gpt2_layer_grads *lg = g && g->layers ? &g->layers[l] : NULL;
        layer_acts a = acts_of(ws, l);
        /* MLP: dres is d(res_out); the branch's input gradient joins it, making it d(res_att) */
        frz_zero(ws->dfch_act, BT * F, nth);
        frz_matmul_backward(ws->dfch_act, LG(lg, fc_proj_w), LG(lg, fc_proj_b), ws->dres, a.fch_act, p->fc_proj_w,
                            BT, F, C, nth);
        frz_zero(ws->dfch, BT * F, nth);
        frz_activation_backward(c->act, ws->dfch, ws->dfch_act, a.fch, BT * F, nth);
        frz_zero(ws->dln, BT * C, nth);
        frz_matmul_backward(ws->dln, LG(lg, fc_w), LG(lg, fc_b), ws->dfch, a.ln2, p->fc_w, BT, C, F, nth);
        frz_layernorm_backward(ws->dres, LG(lg, ln2_w), LG(lg, ln2_b), ws->dln, a.res_att, p->ln2_w, a.ln2_mean,
                               a.ln2_rstd, BT, C, nth);
        /* attention: dres becomes d(res_in) */
        frz_zero(ws->datty, BT * C, nth);
        frz_matmul_backward(ws->datty, LG(lg, attn_proj_w), LG(lg, attn_proj_b), ws->dres, a.atty, p->attn_proj_w,
                            BT, C, C, nth);
        frz_zero(ws->dqkv, BT * 3 * C, nth);
        frz_attention_backward(ws->dqkv, ws->datty, a.qkv, a.att, (size_t)B, (size_t)T, C, NH, attn_scale(c),
                               ws->datt_scratch, nth);
        frz_zero(ws->dln, BT * C, nth);
        frz_matmul_backward(ws->dln, LG(lg, qkv_w), LG(lg, qkv_b), ws->dqkv, a.ln1, p->qkv_w, BT, C, 3 * C, nth);
        frz_layernorm_backward(ws->dres, LG(lg, ln1_w), LG(lg, ln1_b), ws->dln, a.res_in, p->ln1_w, a.ln1_mean,
                               a.ln1_rstd, BT, C, nth);
    }

    /* dres is now d(token-or-vector embedding + position embedding) */
    for (int b = 0; b < B; b++)
        frz_embedding_backward(d_embd ? d_embd + (size_t)b * T * C : NULL, LG(g, wte), LG(g, wpe),
                               ws->dres + (size_t)b * T * C, ws->tokens + (size_t)b * T, 0, (size_t)T, C);
    return FRZ_OK;
}
