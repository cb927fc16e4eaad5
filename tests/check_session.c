/* check_session.c -- the GPT-2 forward, sessions, generation and scoring, on random in-memory models
 * (frz_gpt2_create_random). The forward is checked against a naive double-precision GPT-2 written here; the
 * session machinery (KV cache, ragged batches, embeddings, truncation) against recomputation from scratch. */
#include "lm/gpt2.h"
#include "lm/sample.h"
#include "lm/session.h"
#include "formats/safetensors.h"
#include "tokenizer/tokenizer.h"
#include "util/testutil.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- helpers ----------------------------------------------------------------------------------------------------- */

enum { L_ = 2, NH_ = 2, C_ = 16, V_ = 61, CTX_ = 32 };

static void scale_weights(const float *w, size_t n, float k)
{
    for (size_t i = 0; i < n; i++) ((float *)w)[i] *= k; /* the test owns this in-memory model */
}

/* A random model with GPT-2's init, then livelier: embeddings and query/key weights scaled so that logits are
 * O(1) and attention is far from uniform, which makes every check below sensitive. */
static frz_lm *model_cfg(const frz_gpt2_config *cfg, uint64_t seed)
{
    frz_lm *lm = NULL;
    frz_status st = frz_gpt2_create_random(cfg, seed, &lm);
    ck_assert_msg(st == FRZ_OK, "create_random: %s", frz_last_error());
    const size_t C = (size_t)cfg->n_embd;
    scale_weights(lm->w.wte, (size_t)cfg->n_vocab * C, 10.0f);
    scale_weights(lm->w.wpe, (size_t)cfg->n_ctx * C, 10.0f);
    if (!cfg->tie_lm_head) scale_weights(lm->w.lm_head, (size_t)cfg->n_vocab * C, 10.0f);
    for (int l = 0; l < cfg->n_layer; l++)
        for (size_t r = 0; r < C; r++) scale_weights(lm->w.layers[l].qkv_w + r * 3 * C, 2 * C, 10.0f);
    return lm;
}

static frz_lm *small_model(uint64_t seed)
{
    frz_gpt2_config cfg;
    frz_gpt2_config_init(&cfg, L_, NH_, C_, V_, CTX_);
    return model_cfg(&cfg, seed);
}

static frz_session *session(const frz_lm *lm, int max_seqs, int threads)
{
    frz_session *s = NULL;
    ck_assert(frz_session_create(lm, &s) == FRZ_OK);
    ck_assert(frz_session_set_int(s, FRZ_OPT_MAX_SEQS, max_seqs) == FRZ_OK);
    ck_assert(frz_session_set_int(s, FRZ_OPT_THREADS, threads) == FRZ_OK);
    return s;
}

static void eval_ok(frz_session *s, const frz_input *in, size_t n, frz_logits_mode mode)
{
    frz_status st = frz_session_eval(s, in, n, mode);
    ck_assert_msg(st == FRZ_OK, "eval: %s", frz_last_error());
}

static void eval_tokens(frz_session *s, int32_t seq, const int32_t *tokens, size_t n, frz_logits_mode mode)
{
    frz_input in = {seq, n, tokens, NULL};
    eval_ok(s, &in, 1, mode);
}

static int32_t *random_tokens(size_t n, int V, uint64_t seed)
{
    frz_rng rng;
    frz_rng_seed(&rng, seed);
    int32_t *t = malloc(n * sizeof *t);
    for (size_t i = 0; i < n; i++) t[i] = (int32_t)(frz_rng_next(&rng) % (uint64_t)V);
    return t;
}

/* A copy of logits row `row` of the most recent eval. */
static float *logits_copy(const frz_session *s, size_t row, int V)
{
    const float *l = frz_session_logits(s, row);
    ck_assert_msg(l != NULL, "no logits row %zu", row);
    float *c = malloc((size_t)V * sizeof *c);
    memcpy(c, l, (size_t)V * sizeof *c);
    return c;
}

/* |a - b| <= rtol * max(1, max|b|) elementwise: logits are compared relative to their scale. */
static void assert_rows_close(const float *a, const float *b, size_t n, double rtol, const char *what)
{
    double scale = 1.0;
    for (size_t i = 0; i < n; i++) scale = fmax(scale, fabs(b[i]));
    for (size_t i = 0; i < n; i++)
        ck_assert_msg(fabs((double)a[i] - b[i]) <= rtol * scale, "%s[%zu]: %.9g vs %.9g", what, i, (double)a[i],
                      (double)b[i]);
}

static int32_t argmax_of(const float *x, int n)
{
    int32_t best = 0;
    for (int i = 1; i < n; i++)
        if (x[i] > x[best]) best = i;
    return best;
}

/* ---- a naive GPT-2 in double precision --------------------------------------------------------------------------- */

static void ref_layernorm(double *out, const double *x, const float *w, const float *b, int C, double eps)
{
    double m = 0, v = 0;
    for (int i = 0; i < C; i++) m += x[i];
    m /= C;
    for (int i = 0; i < C; i++) v += (x[i] - m) * (x[i] - m);
    v /= C;
    for (int i = 0; i < C; i++) out[i] = (x[i] - m) / sqrt(v + eps) * w[i] + b[i];
}

/* out (OC) = x (IC) @ W (IC,OC) + b */
static void ref_linear(double *out, const double *x, const float *W, const float *b, int IC, int OC)
{
    for (int o = 0; o < OC; o++) {
        double s = b[o];
        for (int i = 0; i < IC; i++) s += x[i] * W[(size_t)i * OC + o];
        out[o] = s;
    }
}

static double ref_act(frz_activation act, double x)
{
    switch (act) {
    case FRZ_ACT_GELU_TANH: return 0.5 * x * (1 + tanh(sqrt(2 / M_PI) * (x + 0.044715 * x * x * x)));
    case FRZ_ACT_GELU_ERF: return 0.5 * x * (1 + erf(x / sqrt(2.0)));
    case FRZ_ACT_RELU: return x > 0 ? x : 0;
    }
    return NAN;
}

/* logits (T,V) of a whole sequence from position 0; rows with tokens[t] < 0 take embd[t]. */
static double *ref_forward(const frz_lm *lm, const int32_t *tokens, const float *embd, int T)
{
    const frz_gpt2_config *c = &lm->cfg;
    const frz_gpt2_weights *w = &lm->w;
    const int C = c->n_embd, F = c->n_inner, V = c->n_vocab, NH = c->n_head, hs = C / NH;
    double *x = calloc((size_t)T * C, sizeof *x), *h = calloc((size_t)T * C, sizeof *h);
    double *qkv = calloc((size_t)T * 3 * C, sizeof *qkv), *y = calloc((size_t)T * C, sizeof *y);
    double *f = calloc((size_t)F, sizeof *f), *o = calloc((size_t)C, sizeof *o), *att = calloc((size_t)T, sizeof *att);
    double *logits = calloc((size_t)T * V, sizeof *logits);
    for (int t = 0; t < T; t++)
        for (int i = 0; i < C; i++)
            x[t * C + i] = (tokens && tokens[t] >= 0 ? w->wte[(size_t)tokens[t] * C + i] : embd[(size_t)t * C + i]) +
                           w->wpe[(size_t)t * C + i];
    const double scale = c->scale_attn ? 1.0 / sqrt((double)hs) : 1.0;
    for (int l = 0; l < c->n_layer; l++) {
        const frz_gpt2_layer *b = &w->layers[l];
        for (int t = 0; t < T; t++) {
            ref_layernorm(h + t * C, x + t * C, b->ln1_w, b->ln1_b, C, c->ln_eps);
            ref_linear(qkv + t * 3 * C, h + t * C, b->qkv_w, b->qkv_b, C, 3 * C);
        }
        for (int t = 0; t < T; t++)
            for (int hd = 0; hd < NH; hd++) {
                double m = -INFINITY, sum = 0;
                for (int j = 0; j <= t; j++) {
                    double d = 0;
                    for (int i = 0; i < hs; i++) d += qkv[t * 3 * C + hd * hs + i] * qkv[j * 3 * C + C + hd * hs + i];
                    att[j] = d * scale;
                    m = fmax(m, att[j]);
                }
                for (int j = 0; j <= t; j++) sum += (att[j] = exp(att[j] - m));
                for (int i = 0; i < hs; i++) {
                    double s = 0;
                    for (int j = 0; j <= t; j++) s += att[j] / sum * qkv[j * 3 * C + 2 * C + hd * hs + i];
                    y[t * C + hd * hs + i] = s;
                }
            }
        for (int t = 0; t < T; t++) {
            ref_linear(o, y + t * C, b->attn_proj_w, b->attn_proj_b, C, C);
            for (int i = 0; i < C; i++) x[t * C + i] += o[i];
            ref_layernorm(h + t * C, x + t * C, b->ln2_w, b->ln2_b, C, c->ln_eps);
            ref_linear(f, h + t * C, b->fc_w, b->fc_b, C, F);
            for (int i = 0; i < F; i++) f[i] = ref_act(c->act, f[i]);
            ref_linear(o, f, b->fc_proj_w, b->fc_proj_b, F, C);
            for (int i = 0; i < C; i++) x[t * C + i] += o[i];
        }
    }
    for (int t = 0; t < T; t++) {
        ref_layernorm(h + t * C, x + t * C, w->lnf_w, w->lnf_b, C, c->ln_eps);
        for (int v = 0; v < V; v++) {
            double s = 0;
            for (int i = 0; i < C; i++) s += h[t * C + i] * w->lm_head[(size_t)v * C + i];
            logits[(size_t)t * V + v] = s;
        }
    }
    free(x), free(h), free(qkv), free(y), free(f), free(o), free(att);
    return logits;
}

static void assert_matches_ref(const frz_session *s, size_t row0, const double *ref, size_t ref_row0, size_t n,
                               int V, double rtol)
{
    for (size_t r = 0; r < n; r++) {
        const float *l = frz_session_logits(s, row0 + r);
        ck_assert(l != NULL);
        const double *want = ref + (ref_row0 + r) * V;
        double scale = 1.0;
        for (int v = 0; v < V; v++) scale = fmax(scale, fabs(want[v]));
        for (int v = 0; v < V; v++)
            ck_assert_msg(fabs(l[v] - want[v]) <= rtol * scale, "row %zu logit %d: %.9g, reference %.9g", r, v,
                          (double)l[v], want[v]);
    }
}

/* ---- the forward pass -------------------------------------------------------------------------------------------- */

START_TEST(test_forward_matches_reference)
{
    /* the default GPT-2 block, then every supported variant */
    for (int variant = 0; variant < 5; variant++) {
        frz_gpt2_config cfg;
        frz_gpt2_config_init(&cfg, 3, 4, 16, 37, 24);
        if (variant == 1) cfg.act = FRZ_ACT_GELU_ERF;
        if (variant == 2) cfg.act = FRZ_ACT_RELU, cfg.n_inner = 24;
        if (variant == 3) cfg.scale_attn = 0, cfg.ln_eps = 1e-3f;
        if (variant == 4) cfg.tie_lm_head = 0;
        frz_lm *lm = model_cfg(&cfg, 100 + (uint64_t)variant);
        if (variant == 4) ck_assert(lm->w.lm_head != lm->w.wte);
        frz_session *s = session(lm, 1, 1);
        int32_t *tok = random_tokens(20, cfg.n_vocab, 5);
        eval_tokens(s, 0, tok, 20, FRZ_LOGITS_ALL);
        double *ref = ref_forward(lm, tok, NULL, 20);
        assert_matches_ref(s, 0, ref, 0, 20, cfg.n_vocab, 1e-5);
        free(ref), free(tok);
        frz_session_free(s);
        frz_lm_free(lm);
    }
}
END_TEST

START_TEST(test_incremental_equals_full)
{
    frz_lm *lm = small_model(1);
    int32_t *tok = random_tokens(CTX_, V_, 2);
    frz_session *full = session(lm, 1, 1), *inc = session(lm, 1, 1);
    eval_tokens(full, 0, tok, CTX_, FRZ_LOGITS_ALL);
    /* a prompt of 5, then one token at a time, then a chunk of 4, up to the full context */
    size_t pos = 0;
    while (pos < CTX_) {
        size_t n = pos == 0 ? 5 : pos >= 20 && pos < 24 ? 4 : 1;
        eval_tokens(inc, 0, tok + pos, n, FRZ_LOGITS_ALL);
        for (size_t r = 0; r < n; r++)
            assert_rows_close(frz_session_logits(inc, r), frz_session_logits(full, pos + r), V_, 1e-5, "incremental");
        pos += n;
        ck_assert_int_eq(frz_session_seq_len(inc, 0), (int64_t)pos);
    }
    free(tok);
    frz_session_free(full);
    frz_session_free(inc);
    frz_lm_free(lm);
}
END_TEST

START_TEST(test_ragged_batch_equals_alone)
{
    frz_lm *lm = small_model(3);
    int32_t *tok = random_tokens(30, V_, 4);
    const size_t len[3] = {3, 7, 1};
    const int32_t *src[3] = {tok, tok + 10, tok + 20};
    for (int mode = FRZ_LOGITS_LAST; mode <= FRZ_LOGITS_ALL; mode++) {
        frz_session *batch = session(lm, 4, 2);
        /* slot 2 already holds a history, so the batch mixes cache lengths */
        eval_tokens(batch, 2, tok + 25, 4, FRZ_LOGITS_NONE);
        frz_input in[3] = {{3, len[0], src[0], NULL}, {0, len[1], src[1], NULL}, {2, len[2], src[2], NULL}};
        eval_ok(batch, in, 3, (frz_logits_mode)mode);
        size_t row = 0;
        for (int i = 0; i < 3; i++) {
            frz_session *alone = session(lm, 1, 1);
            if (i == 2) eval_tokens(alone, 0, tok + 25, 4, FRZ_LOGITS_NONE);
            eval_tokens(alone, 0, src[i], len[i], FRZ_LOGITS_ALL);
            size_t rows = mode == FRZ_LOGITS_ALL ? len[i] : 1;
            for (size_t r = 0; r < rows; r++)
                assert_rows_close(frz_session_logits(batch, row + r),
                                  frz_session_logits(alone, len[i] - rows + r), V_, 1e-5, "batch");
            row += rows;
            frz_session_free(alone);
        }
        ck_assert(frz_session_logits(batch, row) == NULL);
        ck_assert_int_eq(frz_session_seq_len(batch, 3), 3);
        ck_assert_int_eq(frz_session_seq_len(batch, 0), 7);
        ck_assert_int_eq(frz_session_seq_len(batch, 2), 5);
        ck_assert_int_eq(frz_session_seq_len(batch, 1), 0);
        frz_session_free(batch);
    }
    free(tok);
    frz_lm_free(lm);
}
END_TEST

START_TEST(test_embedding_inputs)
{
    frz_lm *lm = small_model(5);
    int32_t *tok = random_tokens(12, V_, 6);
    frz_session *ref = session(lm, 1, 1);
    eval_tokens(ref, 0, tok, 12, FRZ_LOGITS_ALL);

    /* the same sequence with positions 0, 4, 5 and 11 given as their wte rows */
    int32_t mixed[12];
    float embd[12 * C_];
    memcpy(mixed, tok, sizeof mixed);
    for (int t = 0; t < 12; t++) memcpy(embd + t * C_, lm->w.wte + (size_t)tok[t] * C_, C_ * sizeof(float));
    const int as_embd[4] = {0, 4, 5, 11};
    for (int i = 0; i < 4; i++) mixed[as_embd[i]] = FRZ_TOKEN_EMBEDDING;
    frz_session *s = session(lm, 2, 1);
    /* in two calls, and beside a token-only input in another slot */
    frz_input first[2] = {{1, 7, mixed, embd}, {0, 3, tok, NULL}};
    eval_ok(s, first, 2, FRZ_LOGITS_ALL);
    for (int r = 0; r < 7; r++)
        assert_rows_close(frz_session_logits(s, (size_t)r), frz_session_logits(ref, (size_t)r), V_, 1e-6, "mixed");
    frz_input second = {1, 5, mixed + 7, embd + 7 * C_};
    eval_ok(s, &second, 1, FRZ_LOGITS_ALL);
    for (int r = 0; r < 5; r++)
        assert_rows_close(frz_session_logits(s, (size_t)r), frz_session_logits(ref, 7 + (size_t)r), V_, 1e-6, "mixed");

    /* tokens == NULL: every position is an embedding */
    frz_session_seq_truncate(s, 1, 0);
    frz_input all = {1, 12, NULL, embd};
    eval_ok(s, &all, 1, FRZ_LOGITS_ALL);
    for (int r = 0; r < 12; r++)
        assert_rows_close(frz_session_logits(s, (size_t)r), frz_session_logits(ref, (size_t)r), V_, 1e-6, "embd");

    /* embeddings that are not token rows agree with the reference forward */
    float *free_embd = malloc(6 * C_ * sizeof *free_embd);
    frz_rng rng;
    frz_rng_seed(&rng, 9);
    for (int i = 0; i < 6 * C_; i++) free_embd[i] = (float)(0.5 * frz_rng_normal(&rng));
    int32_t ids[6] = {3, FRZ_TOKEN_EMBEDDING, FRZ_TOKEN_EMBEDDING, 7, FRZ_TOKEN_EMBEDDING, 1};
    frz_session_seq_truncate(s, 1, 0);
    frz_input in = {1, 6, ids, free_embd};
    eval_ok(s, &in, 1, FRZ_LOGITS_ALL);
    double *want = ref_forward(lm, ids, free_embd, 6);
    assert_matches_ref(s, 0, want, 0, 6, V_, 1e-5);
    free(want), free(free_embd), free(tok);
    frz_session_free(ref);
    frz_session_free(s);
    frz_lm_free(lm);
}
END_TEST

START_TEST(test_truncate_reeval)
{
    frz_lm *lm = small_model(7);
    int32_t *tok = random_tokens(16, V_, 8);
    frz_session *s = session(lm, 1, 1);
    eval_tokens(s, 0, tok, 16, FRZ_LOGITS_ALL);
    float *orig = malloc(16 * V_ * sizeof *orig);
    for (int r = 0; r < 16; r++) memcpy(orig + r * V_, frz_session_logits(s, (size_t)r), V_ * sizeof(float));

    ck_assert(frz_session_seq_truncate(s, 0, 9) == FRZ_OK);
    ck_assert_int_eq(frz_session_seq_len(s, 0), 9);
    /* the last logits of the shortened sequence come from its stored hidden state */
    const float *last;
    ck_assert(frz_session_last_logits(s, 0, &last) == FRZ_OK);
    assert_rows_close(last, orig + 8 * V_, V_, 1e-5, "after truncate");
    eval_tokens(s, 0, tok + 9, 7, FRZ_LOGITS_ALL);
    for (int r = 0; r < 7; r++)
        assert_rows_close(frz_session_logits(s, (size_t)r), orig + (9 + r) * V_, V_, 1e-5, "re-eval");

    /* a different continuation after truncation is not confused with the old one */
    int32_t other = (tok[9] + 1) % V_;
    frz_session_seq_truncate(s, 0, 9);
    eval_tokens(s, 0, &other, 1, FRZ_LOGITS_LAST);
    int32_t seq10[10];
    memcpy(seq10, tok, 9 * sizeof *seq10);
    seq10[9] = other;
    double *want = ref_forward(lm, seq10, NULL, 10);
    assert_matches_ref(s, 0, want, 9, 1, V_, 1e-5);
    free(want);

    /* truncating past the end changes nothing; 0 clears; -1 applies to every slot */
    ck_assert(frz_session_seq_truncate(s, 0, 100) == FRZ_OK);
    ck_assert_int_eq(frz_session_seq_len(s, 0), 10);
    ck_assert(frz_session_seq_truncate(s, -1, 0) == FRZ_OK);
    ck_assert_int_eq(frz_session_seq_len(s, 0), 0);
    ck_assert(frz_session_seq_truncate(s, 1, 0) == FRZ_ERR_INVALID_ARG);
    ck_assert(frz_session_seq_truncate(s, -2, 0) == FRZ_ERR_INVALID_ARG);
    free(orig), free(tok);
    frz_session_free(s);
    frz_lm_free(lm);
}
END_TEST

/* ---- errors ------------------------------------------------------------------------------------------------------ */

START_TEST(test_eval_errors)
{
    frz_lm *lm = small_model(9);
    frz_session *s = session(lm, 2, 1);
    int32_t *tok = random_tokens(CTX_ + 1, V_, 10);
    eval_tokens(s, 0, tok, 30, FRZ_LOGITS_LAST);

    frz_input in = {0, 3, tok, NULL};
    ck_assert_int_eq(frz_session_eval(s, &in, 1, FRZ_LOGITS_LAST), FRZ_ERR_CONTEXT_FULL);
    ck_assert_msg(strstr(frz_last_error(), "by 1") && strstr(frz_last_error(), "32"), "%s", frz_last_error());
    ck_assert_int_eq(frz_session_seq_len(s, 0), 30);
    ck_assert(frz_session_logits(s, 0) == NULL); /* a failed call leaves no logits */
    in.n = CTX_ + 1;
    in.seq = 1;
    ck_assert_int_eq(frz_session_eval(s, &in, 1, FRZ_LOGITS_LAST), FRZ_ERR_CONTEXT_FULL);

    int32_t bad[3] = {1, V_, 2};
    frz_input b = {1, 3, bad, NULL};
    ck_assert_int_eq(frz_session_eval(s, &b, 1, FRZ_LOGITS_LAST), FRZ_ERR_INVALID_ARG);
    ck_assert_msg(strstr(frz_last_error(), "61") && strstr(frz_last_error(), "position 1"), "%s", frz_last_error());
    bad[1] = -2;
    ck_assert_int_eq(frz_session_eval(s, &b, 1, FRZ_LOGITS_LAST), FRZ_ERR_INVALID_ARG);
    bad[1] = FRZ_TOKEN_EMBEDDING; /* an embedding position without embd */
    ck_assert_int_eq(frz_session_eval(s, &b, 1, FRZ_LOGITS_LAST), FRZ_ERR_INVALID_ARG);
    frz_input none = {1, 3, NULL, NULL};
    ck_assert_int_eq(frz_session_eval(s, &none, 1, FRZ_LOGITS_LAST), FRZ_ERR_INVALID_ARG);
    frz_input empty = {1, 0, tok, NULL};
    ck_assert_int_eq(frz_session_eval(s, &empty, 1, FRZ_LOGITS_LAST), FRZ_ERR_INVALID_ARG);
    frz_input slot = {2, 1, tok, NULL};
    ck_assert_int_eq(frz_session_eval(s, &slot, 1, FRZ_LOGITS_LAST), FRZ_ERR_INVALID_ARG);
    slot.seq = -1;
    ck_assert_int_eq(frz_session_eval(s, &slot, 1, FRZ_LOGITS_LAST), FRZ_ERR_INVALID_ARG);
    frz_input twice[2] = {{1, 1, tok, NULL}, {1, 1, tok, NULL}};
    ck_assert_int_eq(frz_session_eval(s, twice, 2, FRZ_LOGITS_LAST), FRZ_ERR_INVALID_ARG);
    ck_assert_msg(strstr(frz_last_error(), "twice"), "%s", frz_last_error());
    ck_assert_int_eq(frz_session_eval(s, &slot, 1, (frz_logits_mode)7), FRZ_ERR_INVALID_ARG);
    ck_assert_int_eq(frz_session_eval(NULL, &slot, 1, FRZ_LOGITS_LAST), FRZ_ERR_INVALID_ARG);
    /* nothing above touched a sequence */
    ck_assert_int_eq(frz_session_seq_len(s, 0), 30);
    ck_assert_int_eq(frz_session_seq_len(s, 1), 0);
    /* an empty batch is a no-op */
    ck_assert_int_eq(frz_session_eval(s, NULL, 0, FRZ_LOGITS_LAST), FRZ_OK);

    /* exactly full is fine */
    in.seq = 0, in.n = 2;
    eval_ok(s, &in, 1, FRZ_LOGITS_LAST);
    ck_assert_int_eq(frz_session_seq_len(s, 0), CTX_);

    /* options */
    ck_assert_int_eq(frz_session_set_int(s, FRZ_OPT_THREADS, 0), FRZ_ERR_INVALID_ARG);
    ck_assert_int_eq(frz_session_set_int(s, FRZ_OPT_MAX_SEQS, 0), FRZ_ERR_INVALID_ARG);
    ck_assert_int_eq(frz_session_set_int(s, FRZ_OPT_MAX_SEQS, 4097), FRZ_ERR_INVALID_ARG);
    ck_assert_int_eq(frz_session_set_int(s, (frz_session_opt)99, 1), FRZ_ERR_INVALID_ARG);
    ck_assert_int_eq(frz_session_seq_len(s, 2), -1);
    ck_assert_int_eq(frz_session_seq_len(NULL, 0), -1);
    ck_assert_int_eq(frz_session_set_int(s, FRZ_OPT_MAX_SEQS, 2), FRZ_OK); /* unchanged: nothing cleared */
    ck_assert_int_eq(frz_session_seq_len(s, 0), CTX_);
    ck_assert_int_eq(frz_session_set_int(s, FRZ_OPT_MAX_SEQS, 3), FRZ_OK); /* changed: all cleared */
    ck_assert_int_eq(frz_session_seq_len(s, 0), 0);
    ck_assert_int_eq(frz_session_seq_len(s, 2), 0);
    free(tok);
    frz_session_free(s);
    frz_lm_free(lm);

    frz_session *none_s = NULL;
    ck_assert_int_eq(frz_session_create(NULL, &none_s), FRZ_ERR_INVALID_ARG);
    ck_assert(none_s == NULL);
}
END_TEST

static int abort_calls, abort_at;
static int abort_cb(void *data)
{
    ck_assert(data == &abort_calls);
    return ++abort_calls == abort_at;
}

START_TEST(test_abort)
{
    frz_lm *lm = small_model(11);
    int32_t *tok = random_tokens(10, V_, 12);
    frz_session *s = session(lm, 2, 1);
    eval_tokens(s, 0, tok, 4, FRZ_LOGITS_LAST);
    float *before = logits_copy(s, 0, V_);
    frz_session_set_abort(s, abort_cb, &abort_calls);
    /* stop before layer 1 (the second poll) of a batch that extends slot 0 and starts slot 1 */
    abort_calls = 0, abort_at = 2;
    frz_input in[2] = {{0, 3, tok + 4, NULL}, {1, 2, tok, NULL}};
    ck_assert_int_eq(frz_session_eval(s, in, 2, FRZ_LOGITS_ALL), FRZ_ERR_CANCELLED);
    ck_assert_int_eq(abort_calls, 2);
    ck_assert_int_eq(frz_session_seq_len(s, 0), 4);
    ck_assert_int_eq(frz_session_seq_len(s, 1), 0);
    /* generation stops too, between tokens, and keeps nothing it did not return */
    frz_generate_params gp;
    frz_generate_params_init(&gp);
    gp.stop_at_eot = 0;
    int32_t out[8];
    size_t n_out = 99;
    abort_calls = 0, abort_at = 2 * (L_ + 1) + 2; /* polled per token, then per layer: in the third token */
    ck_assert_int_eq(frz_generate(s, 0, &gp, out, 8, &n_out), FRZ_ERR_CANCELLED);
    ck_assert_int_eq(n_out, 2);
    ck_assert_int_eq(frz_session_seq_len(s, 0), 6);
    /* with the callback silent, the cancelled state computes the same as a fresh one */
    abort_at = -1;
    frz_session_seq_truncate(s, 0, 4);
    const float *last;
    ck_assert(frz_session_last_logits(s, 0, &last) == FRZ_OK);
    assert_rows_close(last, before, V_, 1e-6, "after cancel");
    eval_ok(s, in, 2, FRZ_LOGITS_ALL);
    frz_session *fresh = session(lm, 1, 1);
    eval_tokens(fresh, 0, tok, 7, FRZ_LOGITS_ALL);
    for (int r = 0; r < 3; r++)
        assert_rows_close(frz_session_logits(s, (size_t)r), frz_session_logits(fresh, 4 + (size_t)r), V_, 1e-5,
                          "after abort");
    free(before), free(tok);
    frz_session_free(fresh);
    frz_session_free(s);
    frz_lm_free(lm);
}
END_TEST

/* ---- generation -------------------------------------------------------------------------------------------------- */

static size_t generate(frz_session *s, int32_t seq, const frz_generate_params *gp, int32_t *out, size_t cap)
{
    size_t n = 0;
    frz_status st = frz_generate(s, seq, gp, out, cap, &n);
    ck_assert_msg(st == FRZ_OK, "generate: %s", frz_last_error());
    return n;
}

START_TEST(test_greedy)
{
    frz_lm *lm = small_model(13);
    int32_t *prompt = random_tokens(5, V_, 14);
    frz_session *s = session(lm, 1, 1);
    eval_tokens(s, 0, prompt, 5, FRZ_LOGITS_LAST);
    frz_generate_params gp;
    frz_generate_params_init(&gp);
    ck_assert_int_eq(gp.max_tokens, 64);
    ck_assert(gp.temperature == 0.0f && gp.top_k == 0 && gp.top_p == 1.0f && gp.stop_at_eot == 1);
    gp.max_tokens = 12;
    int32_t out[16], again[16];
    ck_assert_int_eq(generate(s, 0, &gp, out, 16), 12);
    ck_assert_int_eq(frz_session_seq_len(s, 0), 17);

    /* the same tokens by hand: argmax of the logits after each appended token */
    frz_session *h = session(lm, 1, 1);
    eval_tokens(h, 0, prompt, 5, FRZ_LOGITS_LAST);
    for (int i = 0; i < 12; i++) {
        int32_t t = argmax_of(frz_session_logits(h, 0), V_);
        ck_assert_int_eq(out[i], t);
        eval_tokens(h, 0, &t, 1, FRZ_LOGITS_LAST);
    }
    /* again from the same state: identical */
    frz_session_seq_truncate(s, 0, 5);
    ck_assert_int_eq(generate(s, 0, &gp, again, 16), 12);
    ck_assert(memcmp(out, again, 12 * sizeof *out) == 0);
    /* in two calls: the continuation is the same */
    frz_session_seq_truncate(s, 0, 5);
    gp.max_tokens = 5;
    ck_assert_int_eq(generate(s, 0, &gp, again, 16), 5);
    gp.max_tokens = 7;
    ck_assert_int_eq(generate(s, 0, &gp, again + 5, 16), 7);
    ck_assert(memcmp(out, again, 12 * sizeof *out) == 0);

    /* limits: cap below max_tokens, max_tokens 0, the end of the context (no error) */
    frz_session_seq_truncate(s, 0, 5);
    gp.max_tokens = 12;
    ck_assert_int_eq(generate(s, 0, &gp, again, 3), 3);
    ck_assert_int_eq(frz_session_seq_len(s, 0), 8);
    gp.max_tokens = 0;
    ck_assert_int_eq(generate(s, 0, &gp, again, 3), 0);
    gp.max_tokens = 100;
    int32_t big[100];
    ck_assert_int_eq(generate(s, 0, &gp, big, 100), CTX_ - 8);
    ck_assert_int_eq(frz_session_seq_len(s, 0), CTX_);
    ck_assert_int_eq(generate(s, 0, &gp, big, 100), 0);

    /* the end-of-text token stops generation and is not output */
    frz_session_seq_truncate(s, 0, 5);
    lm->eot = out[3];
    size_t first = 0;
    while (out[first] != lm->eot) first++;
    gp.max_tokens = 12;
    ck_assert_int_eq(generate(s, 0, &gp, again, 16), first);
    ck_assert_int_eq(frz_session_seq_len(s, 0), 5 + (int64_t)first);
    frz_session_seq_truncate(s, 0, 5);
    gp.stop_at_eot = 0;
    ck_assert_int_eq(generate(s, 0, &gp, again, 16), 12);
    lm->eot = -1;

    /* errors: empty sequence, slot out of range, bad struct_size */
    size_t n_out;
    frz_session_seq_truncate(s, 0, 0);
    ck_assert_int_eq(frz_generate(s, 0, &gp, out, 16, &n_out), FRZ_ERR_INVALID_ARG);
    ck_assert_int_eq(frz_generate(s, 1, &gp, out, 16, &n_out), FRZ_ERR_INVALID_ARG);
    eval_tokens(s, 0, prompt, 5, FRZ_LOGITS_NONE);
    frz_generate_params zero;
    memset(&zero, 0, sizeof zero);
    ck_assert_int_eq(frz_generate(s, 0, &zero, out, 16, &n_out), FRZ_ERR_INVALID_ARG);
    /* params == NULL: the defaults (64 tokens; here the context ends first) */
    ck_assert_int_eq(frz_generate(s, 0, NULL, big, 100, &n_out), FRZ_OK);
    ck_assert_int_eq(n_out, CTX_ - 5);
    ck_assert(memcmp(big, out, 12 * sizeof *out) == 0);
    free(prompt);
    frz_session_free(h);
    frz_session_free(s);
    frz_lm_free(lm);
}
END_TEST

START_TEST(test_greedy_ties)
{
    float logits[6] = {0.5f, 2.0f, -1.0f, 2.0f, 1.0f, 2.0f};
    frz_rng rng;
    frz_rng_seed(&rng, 1);
    frz_cand cand[6];
    ck_assert_int_eq(frz_sample(logits, 6, 0.0f, 0, 1.0f, &rng, cand), 1);
    /* top_k = 1 keeps the lowest of the tied ids too */
    ck_assert_int_eq(frz_sample(logits, 6, 1.0f, 1, 1.0f, &rng, cand), 1);
    /* top_k = 3 keeps exactly the three tied tokens */
    for (int i = 0; i < 50; i++) {
        int32_t t = frz_sample(logits, 6, 1.0f, 3, 1.0f, &rng, cand);
        ck_assert(t == 1 || t == 3 || t == 5);
    }
}
END_TEST

/* The rank of token t among the logits (0 = the most likely; ties by id as the sampler orders them). */
static int rank_of(const float *l, int V, int32_t t)
{
    int r = 0;
    for (int i = 0; i < V; i++)
        if (l[i] > l[t] || (l[i] == l[t] && i < t)) r++;
    return r;
}

/* The size of the nucleus of logits/temperature for top_p. */
static int nucleus_size(const float *l, int V, double temperature, double top_p)
{
    double *p = malloc((size_t)V * sizeof *p), m = -INFINITY, z = 0;
    for (int i = 0; i < V; i++) m = fmax(m, l[i]);
    for (int i = 0; i < V; i++) z += (p[i] = exp((l[i] - m) / temperature));
    int k = 0;
    double mass = 0;
    while (mass < top_p * z) { /* add the next most likely */
        int best = -1;
        for (int i = 0; i < V; i++)
            if (p[i] >= 0 && (best < 0 || p[i] > p[best])) best = i;
        mass += p[best];
        p[best] = -1;
        k++;
    }
    free(p);
    return k;
}

START_TEST(test_sampling)
{
    frz_gpt2_config cfg;
    frz_gpt2_config_init(&cfg, L_, NH_, C_, V_, 64);
    frz_lm *lm = model_cfg(&cfg, 15);
    /* sharpen the LM head so that the distribution is far from uniform */
    scale_weights(lm->w.wte, (size_t)V_ * C_, 3.0f);
    int32_t *prompt = random_tokens(4, V_, 16);
    frz_session *s = session(lm, 1, 1);
    eval_tokens(s, 0, prompt, 4, FRZ_LOGITS_NONE);
    frz_generate_params gp;
    frz_generate_params_init(&gp);
    gp.max_tokens = 40;
    gp.stop_at_eot = 0;
    int32_t greedy[40], a[40], b[40];
    ck_assert_int_eq(generate(s, 0, &gp, greedy, 40), 40);

    gp.temperature = 1.0f;
    frz_session_set_int(s, FRZ_OPT_SEED, 1234);
    frz_session_seq_truncate(s, 0, 4);
    ck_assert_int_eq(generate(s, 0, &gp, a, 40), 40);
    frz_session_set_int(s, FRZ_OPT_SEED, 1234);
    frz_session_seq_truncate(s, 0, 4);
    ck_assert_int_eq(generate(s, 0, &gp, b, 40), 40);
    ck_assert(memcmp(a, b, sizeof a) == 0); /* same seed, same tokens */
    ck_assert(memcmp(a, greedy, sizeof a) != 0); /* and not greedy */
    frz_session_set_int(s, FRZ_OPT_SEED, 1235);
    frz_session_seq_truncate(s, 0, 4);
    ck_assert_int_eq(generate(s, 0, &gp, b, 40), 40);
    ck_assert(memcmp(a, b, sizeof a) != 0); /* another seed, other tokens */

    /* top_k = 1 and a tiny top_p are greedy, whatever the temperature */
    gp.top_k = 1;
    gp.temperature = 5.0f;
    frz_session_seq_truncate(s, 0, 4);
    ck_assert_int_eq(generate(s, 0, &gp, b, 40), 40);
    ck_assert(memcmp(b, greedy, sizeof b) == 0);
    gp.top_k = 0;
    gp.top_p = 1e-6f;
    frz_session_seq_truncate(s, 0, 4);
    ck_assert_int_eq(generate(s, 0, &gp, b, 40), 40);
    ck_assert(memcmp(b, greedy, sizeof b) == 0);

    /* top_k = 3 and top_p = 0.9: every token drawn lies in the kept set of its step (replayed here) */
    for (int mode = 0; mode < 2; mode++) {
        gp.top_k = mode == 0 ? 3 : 0;
        gp.top_p = mode == 0 ? 1.0f : 0.9f;
        gp.temperature = 1.5f;
        frz_session_seq_truncate(s, 0, 4);
        ck_assert_int_eq(generate(s, 0, &gp, b, 40), 40);
        frz_session *h = session(lm, 1, 1);
        eval_tokens(h, 0, prompt, 4, FRZ_LOGITS_NONE);
        eval_tokens(h, 0, b, 40, FRZ_LOGITS_ALL);
        const float *l0;
        frz_session *p = session(lm, 1, 1);
        eval_tokens(p, 0, prompt, 4, FRZ_LOGITS_LAST);
        l0 = frz_session_logits(p, 0);
        int non_top = 0;
        for (int i = 0; i < 40; i++) {
            const float *l = i == 0 ? l0 : frz_session_logits(h, (size_t)i - 1);
            int r = rank_of(l, V_, b[i]);
            int limit = mode == 0 ? 3 : nucleus_size(l, V_, 1.5, 0.9);
            ck_assert_msg(r < limit, "token %d has rank %d, kept %d", i, r, limit);
            non_top += r > 0;
        }
        ck_assert_msg(non_top > 0, "sampling never left the argmax");
        frz_session_free(h);
        frz_session_free(p);
    }
    free(prompt);
    frz_session_free(s);
    frz_lm_free(lm);
}
END_TEST

typedef struct {
    int32_t seen[64];
    int n, stop_after;
} stream;

static int on_token(int32_t t, void *data)
{
    stream *st = data;
    st->seen[st->n++] = t;
    return st->n == st->stop_after;
}

START_TEST(test_on_token)
{
    frz_lm *lm = small_model(17);
    int32_t *prompt = random_tokens(3, V_, 18);
    frz_session *s = session(lm, 1, 1);
    eval_tokens(s, 0, prompt, 3, FRZ_LOGITS_LAST);
    frz_generate_params gp;
    frz_generate_params_init(&gp);
    gp.max_tokens = 10;
    stream st = {.stop_after = -1};
    gp.on_token = on_token;
    gp.on_token_data = &st;
    int32_t out[10];
    ck_assert_int_eq(generate(s, 0, &gp, out, 10), 10);
    ck_assert_int_eq(st.n, 10);
    ck_assert(memcmp(st.seen, out, sizeof out) == 0);
    /* a non-zero return stops after that token, which is kept */
    frz_session_seq_truncate(s, 0, 3);
    st = (stream){.stop_after = 3};
    int32_t out2[10];
    ck_assert_int_eq(generate(s, 0, &gp, out2, 10), 3);
    ck_assert_int_eq(frz_session_seq_len(s, 0), 6);
    ck_assert(memcmp(out2, out, 3 * sizeof *out) == 0);
    free(prompt);
    frz_session_free(s);
    frz_lm_free(lm);
}
END_TEST

START_TEST(test_logits_none_then_generate)
{
    frz_lm *lm = small_model(19);
    int32_t *prompt = random_tokens(6, V_, 20);
    frz_session *s = session(lm, 2, 1);
    frz_input in[2] = {{0, 6, prompt, NULL}, {1, 6, prompt, NULL}};
    eval_ok(s, in, 2, FRZ_LOGITS_NONE);
    ck_assert(frz_session_logits(s, 0) == NULL);
    frz_generate_params gp;
    frz_generate_params_init(&gp);
    gp.max_tokens = 6;
    int32_t a[6], b[6];
    ck_assert_int_eq(generate(s, 0, &gp, a, 6), 6);
    ck_assert_int_eq(generate(s, 1, &gp, b, 6), 6); /* slot 1's logits were never kept: from its hidden state */
    ck_assert(memcmp(a, b, sizeof a) == 0);
    frz_session *t = session(lm, 1, 1);
    eval_tokens(t, 0, prompt, 6, FRZ_LOGITS_LAST);
    ck_assert_int_eq(generate(t, 0, &gp, b, 6), 6);
    ck_assert(memcmp(a, b, sizeof a) == 0);
    free(prompt);
    frz_session_free(s);
    frz_session_free(t);
    frz_lm_free(lm);
}
END_TEST

/* ---- scoring ----------------------------------------------------------------------------------------------------- */

START_TEST(test_score)
{
    frz_lm *lm = small_model(21);
    int32_t *tok = random_tokens(12, V_, 22);
    /* the reference: log-softmax of the logits of one eval over prompt + continuation */
    frz_session *ref = session(lm, 1, 1);
    eval_tokens(ref, 0, tok, 12, FRZ_LOGITS_ALL);
    double want_total = 0, want[5];
    for (int i = 0; i < 5; i++) {
        const float *l = frz_session_logits(ref, 6 + (size_t)i);
        double m = -INFINITY, z = 0;
        for (int v = 0; v < V_; v++) m = fmax(m, l[v]);
        for (int v = 0; v < V_; v++) z += exp((double)l[v] - m);
        want[i] = l[tok[7 + i]] - m - log(z);
        want_total += want[i];
    }
    frz_session *s = session(lm, 1, 1);
    eval_tokens(s, 0, tok, 7, FRZ_LOGITS_LAST);
    float lp[5];
    double total = 0;
    ck_assert_int_eq(frz_score(s, 0, tok + 7, 5, lp, &total), FRZ_OK);
    for (int i = 0; i < 5; i++) ck_assert_msg(fabs(lp[i] - want[i]) < 1e-5, "%d: %g vs %g", i, lp[i], want[i]);
    ck_assert_msg(fabs(total - want_total) < 1e-5, "%g vs %g", total, want_total);
    ck_assert(total < 0);
    /* the sequence is as it was: scoring again (after NONE, from the hidden state) gives the same */
    ck_assert_int_eq(frz_session_seq_len(s, 0), 7);
    double again = 0;
    ck_assert_int_eq(frz_score(s, 0, tok + 7, 5, NULL, &again), FRZ_OK);
    ck_assert(fabs(again - total) < 1e-6);
    /* one token: from the last logits alone */
    ck_assert_int_eq(frz_score(s, 0, tok + 7, 1, lp, &again), FRZ_OK);
    ck_assert(fabs(again - want[0]) < 1e-5);
    ck_assert_int_eq(frz_score(s, 0, tok, 0, NULL, &again), FRZ_OK);
    ck_assert(again == 0.0);
    /* errors */
    int32_t bad[2] = {1, V_};
    ck_assert_int_eq(frz_score(s, 0, bad, 2, NULL, &again), FRZ_ERR_INVALID_ARG);
    int32_t *many = random_tokens(CTX_, V_, 23);
    ck_assert_int_eq(frz_score(s, 0, many, CTX_ - 7 + 1, NULL, &again), FRZ_OK); /* the last needs no position */
    ck_assert_int_eq(frz_score(s, 0, many, CTX_ - 7 + 2, NULL, &again), FRZ_ERR_CONTEXT_FULL);
    ck_assert_int_eq(frz_session_seq_len(s, 0), 7);
    frz_session_seq_truncate(s, 0, 0);
    ck_assert_int_eq(frz_score(s, 0, tok, 2, NULL, &again), FRZ_ERR_INVALID_ARG);
    free(many), free(tok);
    frz_session_free(ref);
    frz_session_free(s);
    frz_lm_free(lm);
}
END_TEST

/* ---- threads, allocation failures -------------------------------------------------------------------------------- */

START_TEST(test_threads_agree)
{
    /* big enough that layer norm, GELU and attention take their threaded paths */
    frz_gpt2_config cfg;
    frz_gpt2_config_init(&cfg, 2, 4, 64, 97, 256);
    frz_lm *lm = model_cfg(&cfg, 24);
    int32_t *tok = random_tokens(4 * 150, 97, 25);
    float *rows[2];
    for (int nth = 1; nth <= 2; nth++) {
        frz_session *s = session(lm, 4, nth);
        frz_input in[4];
        for (int i = 0; i < 4; i++) in[i] = (frz_input){i, 150, tok + i * 150, NULL};
        eval_ok(s, in, 4, FRZ_LOGITS_LAST);
        rows[nth - 1] = malloc(4 * 97 * sizeof(float));
        for (int i = 0; i < 4; i++)
            memcpy(rows[nth - 1] + i * 97, frz_session_logits(s, (size_t)i), 97 * sizeof(float));
        frz_session_free(s);
    }
    assert_rows_close(rows[1], rows[0], 4 * 97, 1e-5, "threads");
    free(rows[0]), free(rows[1]), free(tok);
    frz_lm_free(lm);
}
END_TEST

typedef struct {
    const frz_lm *lm;
    const int32_t *prompt;
    int threads;
    int32_t out[24];
    size_t n_out;
    frz_status st;
} worker;

/* One thread's session: a prompt, then 24 sampled tokens. */
static void *worker_run(void *arg)
{
    worker *w = arg;
    frz_session *s = NULL;
    w->st = frz_session_create(w->lm, &s);
    frz_input in = {0, 12, w->prompt, NULL};
    frz_generate_params gp;
    frz_generate_params_init(&gp);
    gp.max_tokens = 24;
    gp.stop_at_eot = 0;
    gp.temperature = 0.8f;
    if (!w->st) w->st = frz_session_set_int(s, FRZ_OPT_THREADS, w->threads);
    if (!w->st) w->st = frz_session_set_int(s, FRZ_OPT_SEED, 99);
    if (!w->st) w->st = frz_session_eval(s, &in, 1, FRZ_LOGITS_NONE);
    if (!w->st) w->st = frz_generate(s, 0, &gp, w->out, 24, &w->n_out);
    frz_session_free(s);
    return NULL;
}

START_TEST(test_sessions_in_threads)
{
    /* one read-only model, a session per thread (each with 2 threads of its own), results as when run alone */
    frz_gpt2_config cfg;
    frz_gpt2_config_init(&cfg, 2, 4, 64, 300, 64);
    frz_lm *lm = model_cfg(&cfg, 50);
    int32_t *prompt = random_tokens(12, 300, 51);
    worker alone = {lm, prompt, 2, {0}, 0, FRZ_OK}, w[3]; /* same settings: bitwise the same work */
    worker_run(&alone);
    ck_assert_int_eq(alone.st, FRZ_OK);
    ck_assert_int_eq(alone.n_out, 24);
    pthread_t th[3];
    for (int i = 0; i < 3; i++) {
        w[i] = (worker){lm, prompt, 2, {0}, 0, FRZ_OK};
        ck_assert(pthread_create(&th[i], NULL, worker_run, &w[i]) == 0);
    }
    for (int i = 0; i < 3; i++) {
        ck_assert(pthread_join(th[i], NULL) == 0);
        ck_assert_int_eq(w[i].st, FRZ_OK);
        ck_assert_int_eq(w[i].n_out, 24);
        ck_assert(memcmp(w[i].out, alone.out, sizeof alone.out) == 0);
    }
    free(prompt);
    frz_lm_free(lm);
}
END_TEST

/* A session's whole life; any failure returns its status after cleaning up. */
static frz_status session_scenario(const frz_lm *lm, const int32_t *tok)
{
    frz_session *s = NULL;
    frz_status st = frz_session_create(lm, &s);
    if (st) return st;
    frz_input in[2] = {{0, 5, tok, NULL}, {1, 3, tok + 5, NULL}};
    frz_generate_params gp;
    frz_generate_params_init(&gp);
    gp.max_tokens = 3;
    gp.temperature = 1.0f;
    int32_t out[3];
    size_t n;
    double total;
    if (!(st = frz_session_set_int(s, FRZ_OPT_MAX_SEQS, 2)) && !(st = frz_session_eval(s, in, 2, FRZ_LOGITS_ALL)) &&
        !(st = frz_generate(s, 0, &gp, out, 3, &n)) && !(st = frz_score(s, 1, tok, 4, NULL, &total)))
        st = frz_session_eval(s, in, 1, FRZ_LOGITS_LAST); /* a larger activations buffer is not needed here */
    frz_session_free(s);
    return st;
}

START_TEST(test_alloc_failures)
{
    frz_lm *lm = small_model(26);
    int32_t *tok = random_tokens(8, V_, 27);
    int failures = 0;
    for (long k = 1;; k++) {
        frz_test_fail_alloc_at(k);
        frz_status st = session_scenario(lm, tok);
        long made = frz_test_alloc_count();
        frz_test_fail_alloc_at(0);
        if (st == FRZ_OK) {
            ck_assert_msg(made < k, "allocation %ld was to fail", k);
            break;
        }
        ck_assert_msg(st == FRZ_ERR_NOMEM, "allocation %ld: %s", k, frz_last_error());
        failures++;
    }
    ck_assert(failures >= 5);
    /* the random model's own allocations */
    frz_gpt2_config cfg;
    frz_gpt2_config_init(&cfg, 1, 1, 4, 5, 6);
    for (long k = 1;; k++) {
        frz_lm *m = NULL;
        frz_test_fail_alloc_at(k);
        frz_status st = frz_gpt2_create_random(&cfg, 1, &m);
        frz_test_fail_alloc_at(0);
        if (st == FRZ_OK) {
            frz_lm_free(m);
            break;
        }
        ck_assert_int_eq(st, FRZ_ERR_NOMEM);
        ck_assert(m == NULL);
    }
    free(tok);
    frz_lm_free(lm);
}
END_TEST

/* ---- model object, config.json ----------------------------------------------------------------------------------- */

START_TEST(test_model_properties)
{
    frz_lm *lm = small_model(28);
    ck_assert_int_eq(frz_lm_get(lm, FRZ_LM_N_LAYER), L_);
    ck_assert_int_eq(frz_lm_get(lm, FRZ_LM_N_HEAD), NH_);
    ck_assert_int_eq(frz_lm_get(lm, FRZ_LM_N_EMBD), C_);
    ck_assert_int_eq(frz_lm_get(lm, FRZ_LM_N_VOCAB), V_);
    ck_assert_int_eq(frz_lm_get(lm, FRZ_LM_N_CTX), CTX_);
    ck_assert_int_eq(frz_lm_get(lm, FRZ_LM_EOT_TOKEN), -1);
    /* textbook count: wte + wpe + per layer (2 LN, qkv, proj, fc, fc proj) + ln_f */
    int64_t C = C_, want = V_ * C + CTX_ * C + L_ * (4 * C + (3 * C * C + 3 * C) + (C * C + C) + (4 * C * C + 4 * C) +
                                                   (4 * C * C + C)) + 2 * C;
    ck_assert_int_eq(frz_lm_get(lm, FRZ_LM_N_PARAMS), want);
    ck_assert_int_eq(frz_lm_get(lm, (frz_lm_prop)99), -1);
    ck_assert_int_eq(frz_lm_get(NULL, FRZ_LM_N_EMBD), -1);
    /* no tokenizer in a random model */
    int32_t ids[4];
    size_t n;
    ck_assert_int_eq(frz_tokenize(lm, "hi", (size_t)-1, 0, ids, 4, &n), FRZ_ERR_INVALID_ARG);
    char text[8];
    ck_assert_int_eq(frz_detokenize(lm, ids, 0, text, 8, &n), FRZ_ERR_INVALID_ARG);
    frz_lm_free(lm);
    frz_lm_free(NULL);

    /* GPT-2 small's well-known parameter count, from the tensor table alone (no weights allocated) */
    frz_gpt2_config cfg;
    frz_gpt2_config_init(&cfg, 12, 12, 768, 50257, 1024);
    frz_lm *shape = NULL;
    ck_assert(frz_gpt2_alloc(&cfg, "test", &shape) == FRZ_OK);
    frz_gpt2_tensor *t;
    size_t nt;
    ck_assert(frz_gpt2_tensors(shape, &t, &nt) == FRZ_OK);
    ck_assert_int_eq(nt, 4 + 12 * 12);
    frz_gpt2_finish(shape, t, nt);
    ck_assert_int_eq(frz_lm_get(shape, FRZ_LM_N_PARAMS), 124439808);
    ck_assert_str_eq(t[2].name, "h.0.ln_1.weight");
    ck_assert_str_eq(t[4].name, "h.0.attn.c_attn.weight");
    ck_assert(t[4].shape[0] == 768 && t[4].shape[1] == 2304);
    ck_assert_str_eq(t[12].name, "h.0.mlp.c_proj.weight");
    ck_assert(t[12].shape[0] == 3072 && t[12].shape[1] == 768);
    free(t);
    frz_lm_free(shape);
}
END_TEST

static frz_status parse_config(const char *text, frz_gpt2_config *cfg)
{
    json_error_t err;
    json_t *root = json_loads(text, 0, &err);
    ck_assert_msg(root != NULL, "test JSON: %s", err.text);
    frz_status st = frz_gpt2_config_from_json(root, "dir/config.json", cfg);
    json_decref(root);
    return st;
}

/* The status and that the message names config.json and the field. */
static void config_fails(const char *text, frz_status want, const char *field)
{
    frz_gpt2_config cfg;
    frz_status st = parse_config(text, &cfg);
    ck_assert_msg(st == want, "%s: status %d, want %d (%s)", text, st, want, frz_last_error());
    ck_assert_msg(strstr(frz_last_error(), "dir/config.json") && strstr(frz_last_error(), field),
                  "message '%s' should name the file and '%s'", frz_last_error(), field);
}

#define SIZES "\"n_layer\": 2, \"n_head\": 4, \"n_embd\": 32, \"vocab_size\": 100"

START_TEST(test_config)
{
    frz_gpt2_config c;
    ck_assert_int_eq(parse_config("{" SIZES ", \"n_positions\": 64, \"model_type\": \"gpt2\", "
                                  "\"architectures\": [\"GPT2LMHeadModel\"], \"resid_pdrop\": 0.1}", &c), FRZ_OK);
    ck_assert(c.n_layer == 2 && c.n_head == 4 && c.n_embd == 32 && c.n_vocab == 100 && c.n_ctx == 64);
    ck_assert(c.n_inner == 128 && c.ln_eps == 1e-5f && c.act == FRZ_ACT_GELU_TANH && c.scale_attn && c.tie_lm_head);
    /* n_ctx when n_positions is absent; explicit options */
    ck_assert_int_eq(parse_config("{" SIZES ", \"n_ctx\": 48, \"n_inner\": null, \"layer_norm_epsilon\": 0.001, "
                                  "\"activation_function\": \"gelu\", \"scale_attn_weights\": false, "
                                  "\"add_cross_attention\": false}", &c), FRZ_OK);
    ck_assert(c.n_ctx == 48 && c.n_inner == 128 && fabsf(c.ln_eps - 1e-3f) < 1e-9f && c.act == FRZ_ACT_GELU_ERF);
    ck_assert(!c.scale_attn);
    ck_assert_int_eq(parse_config("{" SIZES ", \"n_positions\": 8, \"activation_function\": \"gelu_pytorch_tanh\", "
                                  "\"n_inner\": 40}", &c), FRZ_OK);
    ck_assert(c.act == FRZ_ACT_GELU_TANH && c.n_inner == 40);
    ck_assert_int_eq(parse_config("{" SIZES ", \"n_positions\": 8, \"activation_function\": \"relu\"}", &c), FRZ_OK);
    ck_assert(c.act == FRZ_ACT_RELU);

    config_fails("{" SIZES ", \"n_positions\": 8, \"activation_function\": \"swish\"}", FRZ_ERR_UNSUPPORTED,
                 "activation_function");
    config_fails("{" SIZES ", \"n_positions\": 8, \"model_type\": \"gpt_neo\"}", FRZ_ERR_UNSUPPORTED, "model_type");
    config_fails("{" SIZES ", \"n_positions\": 8, \"add_cross_attention\": true}", FRZ_ERR_UNSUPPORTED,
                 "add_cross_attention");
    config_fails("{" SIZES ", \"n_positions\": 8, \"scale_attn_by_inverse_layer_idx\": true}", FRZ_ERR_UNSUPPORTED,
                 "scale_attn_by_inverse_layer_idx");
    config_fails("{" SIZES "}", FRZ_ERR_FORMAT, "n_positions");
    config_fails("{\"n_layer\": 2, \"n_head\": 3, \"n_embd\": 32, \"vocab_size\": 100, \"n_positions\": 8}",
                 FRZ_ERR_FORMAT, "n_head");
    config_fails("{\"n_layer\": 100000, \"n_head\": 4, \"n_embd\": 32, \"vocab_size\": 100, \"n_positions\": 8}",
                 FRZ_ERR_FORMAT, "n_layer");
    config_fails("{\"n_layer\": 2, \"n_head\": 4, \"n_embd\": 32, \"vocab_size\": 100, \"n_positions\": 8, "
                 "\"n_inner\": 0}", FRZ_ERR_FORMAT, "n_inner");
    config_fails("{\"n_layer\": 2, \"n_head\": 4, \"n_embd\": 1000000, \"vocab_size\": 100, \"n_positions\": 8}",
                 FRZ_ERR_FORMAT, "n_embd");
    config_fails("{\"n_layer\": 2, \"n_head\": 4, \"n_embd\": 32, \"vocab_size\": 3000000, \"n_positions\": 8}",
                 FRZ_ERR_FORMAT, "vocab_size");
    config_fails("{\"n_layer\": 2, \"n_head\": 4, \"n_embd\": 32, \"vocab_size\": 100, \"n_positions\": 100000}",
                 FRZ_ERR_FORMAT, "n_positions");
    config_fails("{\"n_head\": 4, \"n_embd\": 32, \"vocab_size\": 100, \"n_positions\": 8}", FRZ_ERR_FORMAT,
                 "n_layer");
    config_fails("{" SIZES ", \"n_positions\": 8, \"scale_attn_weights\": 1}", FRZ_ERR_FORMAT,
                 "scale_attn_weights");
    config_fails("[1, 2]", FRZ_ERR_FORMAT, "object");

    /* in-memory configs are checked the same way */
    frz_gpt2_config bad;
    frz_gpt2_config_init(&bad, 2, 3, 16, 10, 8);
    frz_lm *lm = NULL;
    ck_assert_int_eq(frz_gpt2_create_random(&bad, 1, &lm), FRZ_ERR_FORMAT);
    ck_assert(lm == NULL);
}
END_TEST

START_TEST(test_load_missing_dir)
{
    frz_lm *lm = (frz_lm *)1;
    ck_assert_int_eq(frz_lm_load("/nonexistent/model/dir", &lm), FRZ_ERR_IO);
    ck_assert(lm == NULL);
    ck_assert_msg(strstr(frz_last_error(), "/nonexistent/model/dir/config.json"), "%s", frz_last_error());
    ck_assert_int_eq(frz_lm_load(NULL, &lm), FRZ_ERR_INVALID_ARG);
    ck_assert_int_eq(frz_lm_load("x", NULL), FRZ_ERR_INVALID_ARG);
}
END_TEST

/* ---- with the real GPT-2 tokenizer (tests/fixtures/gpt2-tokenizer) ----------------------------------------------- */

/* A random model over GPT-2's vocabulary, with its tokenizer attached. */
static frz_lm *model_with_tokenizer(void)
{
    frz_gpt2_config cfg;
    frz_gpt2_config_init(&cfg, 1, 2, 16, 50257, 64);
    frz_lm *lm = model_cfg(&cfg, 29);
    frz_status st = frz_tokenizer_load(fixture_path("gpt2-tokenizer/vocab.json"),
                                       fixture_path("gpt2-tokenizer/merges.txt"), &lm->tok);
    ck_assert_msg(st == FRZ_OK, "tokenizer: %s", frz_last_error());
    lm->eot = frz_tokenizer_eot(lm->tok);
    return lm;
}

START_TEST(test_tokenize_buffers)
{
    frz_lm *lm = model_with_tokenizer();
    ck_assert_int_eq(frz_lm_get(lm, FRZ_LM_EOT_TOKEN), 50256);
    int32_t ids[16];
    size_t n = 0;
    ck_assert_int_eq(frz_tokenize(lm, "Hello world", (size_t)-1, 0, ids, 16, &n), FRZ_OK);
    ck_assert_int_eq(n, 2);
    ck_assert(ids[0] == 15496 && ids[1] == 995); /* "Hello", " world" in GPT-2's vocabulary */
    int32_t small[1] = {-7};
    ck_assert_int_eq(frz_tokenize(lm, "Hello world", (size_t)-1, 0, small, 1, &n), FRZ_ERR_BUFFER_TOO_SMALL);
    ck_assert_int_eq(n, 2);
    ck_assert_int_eq(small[0], -7); /* no partial result */
    ck_assert_int_eq(frz_tokenize(lm, "Hello world", 5, 0, ids, 16, &n), FRZ_OK); /* explicit length */
    ck_assert(n == 1 && ids[0] == 15496);
    ck_assert_int_eq(frz_tokenize(lm, "<|endoftext|>", (size_t)-1, FRZ_TOKENIZE_SPECIAL, ids, 16, &n), FRZ_OK);
    ck_assert(n == 1 && ids[0] == 50256);

    int32_t hw[2] = {15496, 995};
    char text[12];
    size_t len = 0;
    ck_assert_int_eq(frz_detokenize(lm, hw, 2, text, 12, &len), FRZ_OK);
    ck_assert_int_eq(len, 11);
    ck_assert_str_eq(text, "Hello world");
    memset(text, 'x', sizeof text);
    ck_assert_int_eq(frz_detokenize(lm, hw, 2, text, 11, &len), FRZ_ERR_BUFFER_TOO_SMALL); /* no room for NUL */
    ck_assert_int_eq(len, 11);
    ck_assert(text[0] == 'x');
    int32_t bad[1] = {50257};
    ck_assert_int_eq(frz_detokenize(lm, bad, 1, text, 12, &len), FRZ_ERR_INVALID_ARG);
    frz_lm_free(lm);
}
END_TEST

/* Decodes ids; offsets[i] receives where token i begins. */
static char *decode(const frz_lm *lm, const int32_t *ids, size_t n, size_t *offsets, size_t *len)
{
    char *text = malloc(16 * n + 1);
    *len = 0;
    for (size_t i = 0; i < n; i++) {
        size_t k;
        const char *b = frz_tokenizer_token_bytes(lm->tok, ids[i], &k);
        ck_assert(b != NULL && *len + k <= 16 * n);
        offsets[i] = *len;
        memcpy(text + *len, b, k);
        *len += k;
    }
    text[*len] = 0;
    return text;
}

START_TEST(test_stop_strings)
{
    frz_lm *lm = model_with_tokenizer();
    int32_t prompt[4] = {464, 3290, 318, 257}; /* "The dog is a" */
    frz_session *s = session(lm, 1, 1);
    eval_tokens(s, 0, prompt, 4, FRZ_LOGITS_LAST);
    frz_generate_params gp;
    frz_generate_params_init(&gp);
    gp.max_tokens = 20;
    gp.stop_at_eot = 0;
    int32_t free_run[20], out[20];
    ck_assert_int_eq(generate(s, 0, &gp, free_run, 20), 20);
    size_t offs[20], len;
    char *text = decode(lm, free_run, 20, offs, &len);

    /* stop strings that begin inside token k (its second byte when it has one) and run into the next */
    int checked = 0;
    for (size_t k = 1; k + 2 < 20; k++) {
        size_t begin = offs[k] + (offs[k + 1] - offs[k] > 1 ? 1 : 0);
        size_t stop_len = FRZ_MIN((size_t)4, len - begin);
        char stop[8] = {0};
        memcpy(stop, text + begin, stop_len);
        if (strlen(stop) != stop_len) continue; /* a NUL byte cannot be in a C string */
        /* where it first occurs decides the expected cut */
        size_t p = 0;
        while (memcmp(text + p, stop, stop_len) != 0) p++;
        size_t want = 0;
        while (want + 1 < 20 && offs[want + 1] <= p) want++;
        const char *stops[2] = {"\x01never", stop};
        gp.stop = stops;
        gp.n_stop = 2;
        stream st = {.stop_after = -1};
        gp.on_token = on_token;
        gp.on_token_data = &st;
        frz_session_seq_truncate(s, 0, 4);
        ck_assert_int_eq(generate(s, 0, &gp, out, 20), want);
        ck_assert(memcmp(out, free_run, want * sizeof *out) == 0);
        ck_assert_int_eq(frz_session_seq_len(s, 0), 4 + (int64_t)want);
        ck_assert_int_eq(st.n, (int)want); /* the stream never saw a token that was taken back */
        ck_assert(memcmp(st.seen, out, want * sizeof *out) == 0);
        checked++;
    }
    ck_assert(checked >= 5);

    /* a stop string that never occurs changes nothing, and held-back tokens are streamed at the end */
    const char *never[1] = {"\x01\x02"};
    gp.stop = never;
    gp.n_stop = 1;
    stream st = {.stop_after = -1};
    gp.on_token_data = &st;
    frz_session_seq_truncate(s, 0, 4);
    ck_assert_int_eq(generate(s, 0, &gp, out, 20), 20);
    ck_assert(memcmp(out, free_run, sizeof out) == 0);
    ck_assert_int_eq(st.n, 20);
    /* a NULL stop string is an error */
    const char *null_stop[1] = {NULL};
    gp.stop = null_stop;
    size_t n_out;
    ck_assert_int_eq(frz_generate(s, 0, &gp, out, 20, &n_out), FRZ_ERR_INVALID_ARG);
    free(text);
    frz_session_free(s);
    frz_lm_free(lm);
}
END_TEST

/* ---- loading a Hugging Face folder ----------------------------------------------------------------------------- */

enum { LV_ = 857 }; /* the demo model's tokenizer (models/demo-tiny) has 857 tokens */

static uint16_t f32_to_bf16(float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    return (uint16_t)((u + 0x7FFF + ((u >> 16) & 1)) >> 16); /* round to nearest even (finite inputs) */
}

typedef struct {
    const char *prefix;  /* "transformer." or "" */
    int bf16;            /* save as BF16 (the model is rounded to it first) */
    int vocab_size;      /* written to config.json */
    const char *drop;    /* a tensor left out */
    int64_t head_rows;   /* rows of an extra lm_head.weight (0: none) */
} folder_opts;

/* Saves an in-memory random model as a Hugging Face GPT-2 folder with the demo model's tokenizer files. Its
 * parameters lie in lm->mem in the order of the tensor table (frz_gpt2_create_random). */
static const char *save_folder(frz_lm *lm, const folder_opts *o)
{
    const frz_gpt2_config *c = &lm->cfg;
    const char *dir = make_temp_dir();
    char path[4096], text[1024];
    snprintf(text, sizeof text, "{\"model_type\": \"gpt2\", \"architectures\": [\"GPT2LMHeadModel\"], \"n_layer\": %d, "
             "\"n_head\": %d, \"n_embd\": %d, \"vocab_size\": %d, \"n_positions\": %d, \"n_ctx\": %d, "
             "\"tie_word_embeddings\": %s}", c->n_layer, c->n_head, c->n_embd, o->vocab_size, c->n_ctx, c->n_ctx,
             c->tie_lm_head ? "true" : "false");
    snprintf(path, sizeof path, "%s/config.json", dir);
    FILE *f = fopen(path, "w");
    ck_assert(f && fputs(text, f) >= 0 && fclose(f) == 0);
    snprintf(path, sizeof path, "%s/vocab.json", dir);
    copy_file_or_fail("models/demo-tiny/vocab.json", path);
    snprintf(path, sizeof path, "%s/merges.txt", dir);
    copy_file_or_fail("models/demo-tiny/merges.txt", path);

    frz_lm *shape = NULL;
    frz_gpt2_tensor *t;
    size_t n;
    ck_assert(frz_gpt2_alloc(c, "test", &shape) == FRZ_OK && frz_gpt2_tensors(shape, &t, &n) == FRZ_OK);
    frz_st_write_tensor *w = calloc(n + 2, sizeof *w);
    char (*names)[96] = calloc(n + 2, sizeof *names);
    float *buffer = calloc((size_t)c->n_ctx * c->n_ctx, sizeof *buffer);
    size_t m = 0, at = 0;
    for (size_t i = 0; i < n; i++) {
        size_t numel = (size_t)(t[i].shape[0] * (t[i].ndim == 2 ? t[i].shape[1] : 1));
        float *data = lm->mem + at;
        at += numel;
        if (o->drop && strcmp(t[i].name, o->drop) == 0) continue;
        snprintf(names[m], sizeof names[m], "%s%s", t[i].top_level ? "" : o->prefix, t[i].name);
        w[m] = (frz_st_write_tensor){names[m], FRZ_DT_F32, t[i].ndim, {t[i].shape[0], t[i].shape[1]}, data};
        if (o->bf16) {
            uint16_t *h = malloc(numel * sizeof *h);
            for (size_t j = 0; j < numel; j++) {
                h[j] = f32_to_bf16(data[j]);
                uint32_t u = (uint32_t)h[j] << 16;
                memcpy(&data[j], &u, 4); /* the in-memory model takes the rounded value too */
            }
            w[m].dtype = FRZ_DT_BF16;
            w[m].data = h;
        }
        m++;
    }
    /* a causal-mask buffer as GPT2Attention registers it, and a copy of the head when asked */
    snprintf(names[m], sizeof names[m], "%sh.0.attn.bias", o->prefix);
    w[m] = (frz_st_write_tensor){names[m], FRZ_DT_F32, 4, {1, 1, c->n_ctx, c->n_ctx}, buffer};
    m++;
    if (o->head_rows)
        w[m++] = (frz_st_write_tensor){"lm_head.weight", FRZ_DT_F32, 2, {o->head_rows, c->n_embd}, lm->w.wte};
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    const char *meta[2] = {"format", "pt"};
    frz_status st = frz_st_write_file(path, w, m, meta, 1);
    ck_assert_msg(st == FRZ_OK, "%s", frz_last_error());
    for (size_t i = 0; i < m; i++)
        if (w[i].dtype == FRZ_DT_BF16) free((void *)w[i].data);
    free(w), free(names), free(buffer), free(t);
    frz_lm_free(shape);
    return dir;
}

static void assert_same_logits(const frz_lm *a, const frz_lm *b)
{
    int32_t *tok = random_tokens(10, LV_, 31);
    frz_session *sa = session(a, 1, 1), *sb = session(b, 1, 1);
    eval_tokens(sa, 0, tok, 10, FRZ_LOGITS_ALL);
    eval_tokens(sb, 0, tok, 10, FRZ_LOGITS_ALL);
    for (size_t r = 0; r < 10; r++)
        assert_rows_close(frz_session_logits(sb, r), frz_session_logits(sa, r), LV_, 1e-6, "loaded");
    free(tok);
    frz_session_free(sa);
    frz_session_free(sb);
}

START_TEST(test_load_roundtrip)
{
    for (int variant = 0; variant < 4; variant++) {
        frz_gpt2_config cfg;
        frz_gpt2_config_init(&cfg, 2, 2, 16, LV_, 32);
        cfg.tie_lm_head = variant != 3;
        frz_lm *mem = model_cfg(&cfg, 30 + (uint64_t)variant);
        folder_opts o = {variant == 1 ? "" : "transformer.", variant == 2, LV_, NULL, variant == 2 ? LV_ : 0};
        const char *dir = save_folder(mem, &o);
        frz_lm *lm = NULL;
        frz_status st = frz_lm_load(dir, &lm);
        ck_assert_msg(st == FRZ_OK, "variant %d: %s", variant, frz_last_error());
        ck_assert_int_eq(frz_lm_get(lm, FRZ_LM_N_PARAMS), frz_lm_get(mem, FRZ_LM_N_PARAMS));
        ck_assert_int_eq(frz_lm_get(lm, FRZ_LM_N_CTX), 32);
        ck_assert_int_eq(frz_lm_get(lm, FRZ_LM_N_VOCAB), LV_);
        assert_same_logits(mem, lm);
        frz_lm_free(lm);
        frz_lm_free(mem);
    }
}
END_TEST

/* Loading fails with status `want` and a message holding both strings. */
static void load_fails(const char *dir, frz_status want, const char *s1, const char *s2)
{
    frz_lm *lm = (frz_lm *)1;
    frz_status st = frz_lm_load(dir, &lm);
    ck_assert_msg(st == want, "status %d, want %d: %s", st, want, frz_last_error());
    ck_assert(lm == NULL);
    ck_assert_msg(strstr(frz_last_error(), s1) && strstr(frz_last_error(), s2), "message: %s", frz_last_error());
}

START_TEST(test_load_errors)
{
    frz_gpt2_config cfg;
    frz_gpt2_config_init(&cfg, 2, 2, 16, LV_, 32);
    frz_lm *mem = model_cfg(&cfg, 40);
    folder_opts o = {"transformer.", 0, LV_, "h.1.mlp.c_fc.bias", 0};
    load_fails(save_folder(mem, &o), FRZ_ERR_FORMAT, "transformer.h.1.mlp.c_fc.bias", "model.safetensors");
    o = (folder_opts){"transformer.", 0, LV_, NULL, LV_ - 1}; /* a tied head of the wrong shape */
    load_fails(save_folder(mem, &o), FRZ_ERR_SHAPE, "lm_head.weight", "model.safetensors");
    o = (folder_opts){"transformer.", 0, LV_ - 7, NULL, 0}; /* config says fewer tokens than vocab.json holds */
    cfg.n_vocab = LV_ - 7;
    frz_lm *fewer = model_cfg(&cfg, 41);
    load_fails(save_folder(fewer, &o), FRZ_ERR_FORMAT, "vocab.json", "vocab_size");
    o = (folder_opts){"encoder.", 0, LV_, NULL, 0}; /* not GPT-2's names */
    load_fails(save_folder(mem, &o), FRZ_ERR_FORMAT, "wte.weight", "model.safetensors");

    /* every allocation of a load may fail: NOMEM, nothing leaked, nothing half-built */
    o = (folder_opts){"transformer.", 1, LV_, NULL, 0};
    const char *dir = save_folder(mem, &o);
    int failures = 0;
    for (long k = 1;; k++) {
        frz_lm *lm = NULL;
        frz_test_fail_alloc_at(k);
        frz_status st = frz_lm_load(dir, &lm);
        frz_test_fail_alloc_at(0);
        if (st == FRZ_OK) {
            frz_lm_free(lm);
            break;
        }
        ck_assert_msg(st == FRZ_ERR_NOMEM, "allocation %ld: %s", k, frz_last_error());
        ck_assert(lm == NULL);
        failures++;
    }
    ck_assert(failures > 10);
    frz_lm_free(fewer);
    frz_lm_free(mem);
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("session");
    TCase *fwd = tcase_create("forward");
    tcase_add_test(fwd, test_forward_matches_reference);
    tcase_add_test(fwd, test_incremental_equals_full);
    tcase_add_test(fwd, test_ragged_batch_equals_alone);
    tcase_add_test(fwd, test_embedding_inputs);
    tcase_add_test(fwd, test_truncate_reeval);
    tcase_add_test(fwd, test_threads_agree);
    tcase_add_test(fwd, test_sessions_in_threads);
    suite_add_tcase(s, fwd);
    TCase *err = tcase_create("errors");
    tcase_add_test(err, test_eval_errors);
    tcase_add_test(err, test_abort);
    tcase_add_test(err, test_alloc_failures);
    suite_add_tcase(s, err);
    TCase *gen = tcase_create("generate");
    tcase_add_test(gen, test_greedy);
    tcase_add_test(gen, test_greedy_ties);
    tcase_add_test(gen, test_sampling);
    tcase_add_test(gen, test_on_token);
    tcase_add_test(gen, test_logits_none_then_generate);
    tcase_add_test(gen, test_score);
    suite_add_tcase(s, gen);
    TCase *model = tcase_create("model");
    tcase_add_test(model, test_model_properties);
    tcase_add_test(model, test_config);
    tcase_add_test(model, test_load_missing_dir);
    suite_add_tcase(s, model);
    TCase *tok = tcase_create("tokenizer");
    tcase_set_timeout(tok, 30);
    tcase_add_test(tok, test_tokenize_buffers);
    tcase_add_test(tok, test_stop_strings);
    tcase_add_test(tok, test_load_roundtrip);
    tcase_add_test(tok, test_load_errors);
    suite_add_tcase(s, tok);
    return s;
}

FRZ_TEST_MAIN(make_suite)
