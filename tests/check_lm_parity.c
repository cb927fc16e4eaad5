/* check_lm_parity.c -- the GPT-2 LM against the independent PyTorch reference (tests/reference/gpt2_ref.py).
 *
 * For each fixture model in tests/fixtures/models/ (see tests/reference/README.md) the reference computed, in
 * float64 from the weights as stored, the logits of a batch of sequences, a greedy continuation, a scored
 * continuation and the logits of embedding inputs; they are in <model>.expected.safetensors. The library is
 * driven through the public API only; the internal safetensors reader just reads the expectations.
 *
 * Criterion, for every logit and log-prob:  |got - want| <= 1e-4 * max(1, |want|).  Greedy ids: equal.
 * (The generator checks that a float32 evaluation stays 10x inside this and that greedy choices never come
 * near a tie, and that each fixture's distinguishing config moves the logits far outside it.) */
#include "util/testutil.h"

#include "formats/safetensors.h"
#include "frozen.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#define TOL 1e-4

static const char *const MODELS[] = {"gpt2-f32", "gpt2-f16-prefix", "gpt2-bf16-sharded", "gpt2-eps", "gpt2-gelu",
                                     "gpt2-untied"};
#define N_MODELS ((int)(sizeof MODELS / sizeof MODELS[0]))

/* ---- the expectations ------------------------------------------------------------------------------------ */

typedef struct expect {
    const char *model;
    frz_st_set *st;
} expect;

static expect open_expect(int i)
{
    char rel[256];
    snprintf(rel, sizeof rel, "models/%s.expected.safetensors", MODELS[i]);
    expect e = {MODELS[i], NULL};
    frz_status st = frz_st_open_file(fixture_path(rel), &e.st);
    ck_assert_msg(st == FRZ_OK, "%s: %s", rel, frz_last_error());
    return e;
}

static const frz_st_tensor *find(const expect *e, const char *name, frz_dtype dt)
{
    const frz_st_tensor *t = frz_st_find(e->st, name);
    ck_assert_msg(t != NULL, "%s: expectation '%s' missing", e->model, name);
    ck_assert_msg(t->dtype == dt, "%s: expectation '%s' has dtype %s", e->model, name, frz_dtype_name(t->dtype));
    return t;
}

static size_t numel(const frz_st_tensor *t)
{
    size_t n = 1;
    for (int d = 0; d < t->ndim; d++) n *= (size_t)t->shape[d];
    return n;
}

/* A malloc'd copy of an I32 expectation; *n receives its length. */
static int32_t *get_ids(const expect *e, const char *name, size_t *n)
{
    const frz_st_tensor *t = find(e, name, FRZ_DT_I32);
    *n = numel(t);
    int32_t *v = malloc(*n * sizeof *v + 1);
    ck_assert(v != NULL);
    memcpy(v, t->data, *n * sizeof *v);
    return v;
}

/* A malloc'd copy of an F32 expectation; *n receives its element count. */
static float *get_f32(const expect *e, const char *name, size_t *n)
{
    const frz_st_tensor *t = find(e, name, FRZ_DT_F32);
    *n = numel(t);
    float *v = malloc(*n * sizeof *v + 1);
    ck_assert(v != NULL);
    memcpy(v, t->data, *n * sizeof *v);
    return v;
}

static double *get_f64(const expect *e, const char *name, size_t *n)
{
    const frz_st_tensor *t = find(e, name, FRZ_DT_F64);
    *n = numel(t);
    double *v = malloc(*n * sizeof *v + 1);
    ck_assert(v != NULL);
    memcpy(v, t->data, *n * sizeof *v);
    return v;
}

static int64_t meta_int(const expect *e, const char *key)
{
    const char *v = frz_st_metadata(e->st, key);
    ck_assert_msg(v != NULL, "%s: metadata '%s' missing", e->model, key);
    return strtoll(v, NULL, 10);
}

/* ---- the model and comparisons --------------------------------------------------------------------------- */

static frz_lm *load_model(int i)
{
    char rel[256];
    snprintf(rel, sizeof rel, "models/%s", MODELS[i]);
    frz_lm *lm = NULL;
    frz_status st = frz_lm_load(fixture_path(rel), &lm);
    ck_assert_msg(st == FRZ_OK, "frz_lm_load(%s): %s: %s", rel, frz_strerror(st), frz_last_error());
    ck_assert(lm != NULL);
    return lm;
}

static frz_session *new_session(const frz_lm *lm, int max_seqs, int threads)
{
    frz_session *s = NULL;
    ck_assert_msg(frz_session_create(lm, &s) == FRZ_OK, "frz_session_create: %s", frz_last_error());
    ck_assert_msg(frz_session_set_int(s, FRZ_OPT_MAX_SEQS, max_seqs) == FRZ_OK, "%s", frz_last_error());
    ck_assert_msg(frz_session_set_int(s, FRZ_OPT_THREADS, threads) == FRZ_OK, "%s", frz_last_error());
    return s;
}

static void eval_ok(frz_session *s, const frz_input *in, size_t n_in, frz_logits_mode mode, const char *what)
{
    frz_status st = frz_session_eval(s, in, n_in, mode);
    ck_assert_msg(st == FRZ_OK, "%s: frz_session_eval: %s: %s", what, frz_strerror(st), frz_last_error());
}

static int close_enough(double got, double want)
{
    return fabs(got - want) <= TOL * fmax(1.0, fabs(want)); /* false for NaN too */
}

/* Compares n_rows rows of logits from the session (starting at session row row0) with want (n_rows, V). */
static void assert_logits(const frz_session *s, size_t row0, const float *want, size_t n_rows, size_t V,
                          const char *what)
{
    for (size_t r = 0; r < n_rows; r++) {
        const float *got = frz_session_logits(s, row0 + r);
        ck_assert_msg(got != NULL, "%s: no logits row %zu", what, row0 + r);
        const float *w = want + r * V;
        size_t bad = V;
        double worst = 0;
        for (size_t v = 0; v < V; v++) {
            double err = fabs((double)got[v] - w[v]) / fmax(1.0, fabs(w[v]));
            if (!close_enough(got[v], w[v]) && (bad == V || err > worst)) { /* the worst one (a NaN: first) */
                bad = v;
                worst = err;
            }
        }
        ck_assert_msg(bad == V, "%s: position %zu, logit %zu: got %.7g, want %.7g (|diff|/max(1,|want|) = %.3g > %g)",
                      what, r, bad, got[bad], w[bad], worst, TOL);
    }
}

typedef struct seqs {
    size_t count;
    int32_t *ids[8];
    size_t len[8];
    float *logits[8];
} seqs;

static seqs get_seqs(const expect *e)
{
    seqs q;
    memset(&q, 0, sizeof q);
    size_t one;
    int32_t *c = get_ids(e, "seq.count", &one);
    q.count = (size_t)c[0];
    free(c);
    ck_assert(q.count >= 1 && q.count <= 8);
    for (size_t i = 0; i < q.count; i++) {
        char name[64];
        size_t nl;
        snprintf(name, sizeof name, "seq.%zu.ids", i);
        q.ids[i] = get_ids(e, name, &q.len[i]);
        snprintf(name, sizeof name, "seq.%zu.logits", i);
        q.logits[i] = get_f32(e, name, &nl);
        ck_assert(nl % q.len[i] == 0);
    }
    return q;
}

static void free_seqs(seqs *q)
{
    for (size_t i = 0; i < q->count; i++) {
        free(q->ids[i]);
        free(q->logits[i]);
    }
}

/* ---- tests ---------------------------------------------------------------------------------------------- */

/* The properties come from config.json and the tensors. */
START_TEST(test_properties)
{
    expect e = open_expect(_i);
    frz_lm *lm = load_model(_i);
    ck_assert_int_eq(frz_lm_get(lm, FRZ_LM_N_LAYER), meta_int(&e, "n_layer"));
    ck_assert_int_eq(frz_lm_get(lm, FRZ_LM_N_HEAD), meta_int(&e, "n_head"));
    ck_assert_int_eq(frz_lm_get(lm, FRZ_LM_N_EMBD), meta_int(&e, "n_embd"));
    ck_assert_int_eq(frz_lm_get(lm, FRZ_LM_N_VOCAB), meta_int(&e, "n_vocab"));
    ck_assert_int_eq(frz_lm_get(lm, FRZ_LM_N_CTX), meta_int(&e, "n_ctx"));
    ck_assert_int_eq(frz_lm_get(lm, FRZ_LM_EOT_TOKEN), meta_int(&e, "eot"));
    ck_assert_int_eq(frz_lm_get(lm, FRZ_LM_N_PARAMS), meta_int(&e, "n_params"));
    frz_lm_free(lm);
    frz_st_close(e.st);
}
END_TEST

/* Every sequence in one batched eval (one slot each), all positions' logits, two threads. Then again with
 * FRZ_LOGITS_LAST after clearing every slot. */
START_TEST(test_logits_batch)
{
    expect e = open_expect(_i);
    seqs q = get_seqs(&e);
    frz_lm *lm = load_model(_i);
    size_t V = (size_t)frz_lm_get(lm, FRZ_LM_N_VOCAB);
    frz_session *s = new_session(lm, (int)q.count, 2);
    frz_input in[8];
    for (size_t i = 0; i < q.count; i++) in[i] = (frz_input){(int32_t)i, q.len[i], q.ids[i], NULL};
    eval_ok(s, in, q.count, FRZ_LOGITS_ALL, "batch");
    size_t row = 0;
    for (size_t i = 0; i < q.count; i++) {
        char what[128];
        snprintf(what, sizeof what, "%s batch, sequence %zu (length %zu)", e.model, i, q.len[i]);
        assert_logits(s, row, q.logits[i], q.len[i], V, what);
        ck_assert_int_eq(frz_session_seq_len(s, (int32_t)i), (int64_t)q.len[i]);
        row += q.len[i];
    }
    ck_assert_msg(frz_session_logits(s, row) == NULL, "row past the last one must be NULL");

    ck_assert_int_eq(frz_session_seq_truncate(s, -1, 0), FRZ_OK);
    for (size_t i = 0; i < q.count; i++) ck_assert_int_eq(frz_session_seq_len(s, (int32_t)i), 0);
    /* the inputs in reverse slot order: rows follow the inputs, not the slots */
    frz_input rev[8];
    for (size_t i = 0; i < q.count; i++) rev[i] = in[q.count - 1 - i];
    eval_ok(s, rev, q.count, FRZ_LOGITS_LAST, "batch, last");
    for (size_t k = 0; k < q.count; k++) {
        size_t i = q.count - 1 - k;
        char what[128];
        snprintf(what, sizeof what, "%s batch LOGITS_LAST, sequence %zu", e.model, i);
        assert_logits(s, k, q.logits[i] + (q.len[i] - 1) * V, 1, V, what);
    }
    frz_session_free(s);
    frz_lm_free(lm);
    free_seqs(&q);
    frz_st_close(e.st);
}
END_TEST

/* One sequence at a time: whole, then token by token through the KV cache, then in two chunks. The sequence that
 * fills the context cannot take one more position. */
START_TEST(test_logits_one_at_a_time)
{
    expect e = open_expect(_i);
    seqs q = get_seqs(&e);
    frz_lm *lm = load_model(_i);
    size_t V = (size_t)frz_lm_get(lm, FRZ_LM_N_VOCAB);
    size_t P = (size_t)frz_lm_get(lm, FRZ_LM_N_CTX);
    frz_session *s = new_session(lm, 1, 1);
    for (size_t i = 0; i < q.count; i++) {
        char what[160];
        ck_assert_int_eq(frz_session_seq_truncate(s, 0, 0), FRZ_OK);
        frz_input in = {0, q.len[i], q.ids[i], NULL};
        eval_ok(s, &in, 1, FRZ_LOGITS_ALL, "whole");
        snprintf(what, sizeof what, "%s sequence %zu (length %zu) alone", e.model, i, q.len[i]);
        assert_logits(s, 0, q.logits[i], q.len[i], V, what);

        ck_assert_int_eq(frz_session_seq_truncate(s, 0, 0), FRZ_OK);
        for (size_t t = 0; t < q.len[i]; t++) {
            frz_input one = {0, 1, q.ids[i] + t, NULL};
            eval_ok(s, &one, 1, FRZ_LOGITS_LAST, "token by token");
            snprintf(what, sizeof what, "%s sequence %zu fed token by token, position %zu", e.model, i, t);
            assert_logits(s, 0, q.logits[i] + t * V, 1, V, what);
            ck_assert_int_eq(frz_session_seq_len(s, 0), (int64_t)(t + 1));
        }

        if (q.len[i] >= 2) { /* two chunks, the second after truncating back into the first */
            size_t half = q.len[i] / 2;
            ck_assert_int_eq(frz_session_seq_truncate(s, 0, half), FRZ_OK);
            ck_assert_int_eq(frz_session_seq_len(s, 0), (int64_t)half);
            frz_input rest = {0, q.len[i] - half, q.ids[i] + half, NULL};
            eval_ok(s, &rest, 1, FRZ_LOGITS_ALL, "second chunk");
            snprintf(what, sizeof what, "%s sequence %zu, chunk after truncate to %zu", e.model, i, half);
            assert_logits(s, 0, q.logits[i] + half * V, q.len[i] - half, V, what);
        }

        if (q.len[i] == P) {
            int32_t tok = 0;
            frz_input more = {0, 1, &tok, NULL};
            ck_assert_int_eq(frz_session_eval(s, &more, 1, FRZ_LOGITS_LAST), FRZ_ERR_CONTEXT_FULL);
            ck_assert_int_eq(frz_session_seq_len(s, 0), (int64_t)P);
        }
    }
    frz_session_free(s);
    frz_lm_free(lm);
    free_seqs(&q);
    frz_st_close(e.st);
}
END_TEST

/* Generates from the prompt (already in slot 0) and compares with the reference's greedy ids. */
static void generate_and_compare(const expect *e, frz_session *s, const frz_generate_params *gp, size_t n_prompt,
                                 const int32_t *want, size_t n_want, const char *what)
{
    int32_t out[16];
    size_t n_out = 99;
    frz_status st = frz_generate(s, 0, gp, out, 16, &n_out);
    ck_assert_msg(st == FRZ_OK, "%s %s: frz_generate: %s: %s", e->model, what, frz_strerror(st), frz_last_error());
    ck_assert_msg(n_out == n_want, "%s %s: %zu ids generated, the reference has %zu", e->model, what, n_out, n_want);
    for (size_t k = 0; k < n_want; k++)
        ck_assert_msg(out[k] == want[k], "%s %s: id %zu is %d, the reference says %d", e->model, what, k,
                      (int)out[k], (int)want[k]);
    ck_assert_int_eq(frz_session_seq_len(s, 0), (int64_t)(n_prompt + n_out));
}

/* Greedy (temperature 0); then, from the prompt again (truncated back to it), sampling that can only pick the
 * best token: top_k 1, and a nucleus so small it holds the best token alone. */
static void greedy_case(const expect *e, frz_lm *lm, const char *prompt_name, const char *ids_name)
{
    size_t n_prompt, n_want;
    int32_t *prompt = get_ids(e, prompt_name, &n_prompt);
    int32_t *want = get_ids(e, ids_name, &n_want);
    frz_session *s = new_session(lm, 1, 1);
    frz_input in = {0, n_prompt, prompt, NULL};
    eval_ok(s, &in, 1, FRZ_LOGITS_NONE, "prompt");
    char what[96];

    frz_generate_params gp;
    frz_generate_params_init(&gp);
    gp.max_tokens = 10;
    gp.temperature = 0.0f;
    gp.stop_at_eot = 0;
    snprintf(what, sizeof what, "%s greedy", ids_name);
    generate_and_compare(e, s, &gp, n_prompt, want, n_want, what);

    gp.temperature = 1.5f;
    gp.top_k = 1;
    ck_assert_int_eq(frz_session_seq_truncate(s, 0, n_prompt), FRZ_OK);
    snprintf(what, sizeof what, "%s top_k 1 after truncating to the prompt", ids_name);
    generate_and_compare(e, s, &gp, n_prompt, want, n_want, what);

    gp.top_k = 0;
    gp.top_p = 1e-6f;
    ck_assert_int_eq(frz_session_seq_truncate(s, 0, n_prompt), FRZ_OK);
    snprintf(what, sizeof what, "%s top_p 1e-6", ids_name);
    generate_and_compare(e, s, &gp, n_prompt, want, n_want, what);
    frz_session_free(s);
    free(prompt);
    free(want);
}

/* Greedy continuation of 10 ids, and from a prompt 3 short of the context (stops after 3, no error). */
START_TEST(test_greedy)
{
    expect e = open_expect(_i);
    frz_lm *lm = load_model(_i);
    greedy_case(&e, lm, "greedy.prompt", "greedy.ids");
    greedy_case(&e, lm, "ctx.prompt", "ctx.ids");
    frz_lm_free(lm);
    frz_st_close(e.st);
}
END_TEST

/* Per-token log-probs and their total; the sequence is left as it was. */
START_TEST(test_score)
{
    expect e = open_expect(_i);
    frz_lm *lm = load_model(_i);
    size_t n_ctx, n_cont, n_lp, n_tot;
    int32_t *context = get_ids(&e, "score.context", &n_ctx);
    int32_t *cont = get_ids(&e, "score.cont", &n_cont);
    double *want = get_f64(&e, "score.logprobs", &n_lp);
    double *want_total = get_f64(&e, "score.total", &n_tot);
    ck_assert(n_lp == n_cont && n_tot == 1);

    frz_session *s = new_session(lm, 1, 1);
    frz_input in = {0, n_ctx, context, NULL};
    eval_ok(s, &in, 1, FRZ_LOGITS_NONE, "context");
    float lp[16];
    double total = 0;
    ck_assert(n_cont <= 16);
    frz_status st = frz_score(s, 0, cont, n_cont, lp, &total);
    ck_assert_msg(st == FRZ_OK, "%s: frz_score: %s: %s", e.model, frz_strerror(st), frz_last_error());
    for (size_t k = 0; k < n_cont; k++)
        ck_assert_msg(close_enough(lp[k], want[k]), "%s: log-prob of continuation token %zu: got %.7g, want %.7g",
                      e.model, k, lp[k], want[k]);
    ck_assert_msg(close_enough(total, want_total[0]), "%s: total log-prob: got %.9g, want %.9g", e.model, total,
                  want_total[0]);
    ck_assert_int_eq(frz_session_seq_len(s, 0), (int64_t)n_ctx);

    /* again without per-token output: the continuation was not kept, so the answer is the same */
    double total2 = 0;
    ck_assert_int_eq(frz_score(s, 0, cont, n_cont, NULL, &total2), FRZ_OK);
    ck_assert_msg(close_enough(total2, want_total[0]), "%s: second score: got %.9g, want %.9g", e.model, total2,
                  want_total[0]);
    ck_assert_int_eq(frz_session_seq_len(s, 0), (int64_t)n_ctx);

    frz_session_free(s);
    frz_lm_free(lm);
    free(context);
    free(cont);
    free(want);
    free(want_total);
    frz_st_close(e.st);
}
END_TEST

/* Rows of wte fed as FRZ_TOKEN_EMBEDDING positions give the logits of the ids: all positions embeddings
 * (tokens == NULL), and every other position an embedding (mixed with ids). */
START_TEST(test_embedding_inputs)
{
    expect e = open_expect(_i);
    seqs q = get_seqs(&e);
    frz_lm *lm = load_model(_i);
    size_t V = (size_t)frz_lm_get(lm, FRZ_LM_N_VOCAB), C = (size_t)frz_lm_get(lm, FRZ_LM_N_EMBD);
    size_t n_ids, n_rows;
    int32_t *ids = get_ids(&e, "embd.ids", &n_ids);
    float *rows = get_f32(&e, "embd.rows", &n_rows);
    ck_assert(n_rows == n_ids * C);
    /* embd.ids is sequence 2 of the batch, whose logits are expected */
    ck_assert(q.count > 2 && q.len[2] == n_ids && memcmp(q.ids[2], ids, n_ids * sizeof *ids) == 0);
    char what[128];

    frz_session *s = new_session(lm, 2, 1);
    frz_input all = {0, n_ids, NULL, rows};
    int32_t *mixed = malloc(n_ids * sizeof *mixed);
    ck_assert(mixed != NULL);
    for (size_t t = 0; t < n_ids; t++) mixed[t] = t % 2 == 0 ? FRZ_TOKEN_EMBEDDING : ids[t];
    frz_input mix = {1, n_ids, mixed, rows};
    frz_input both[2] = {all, mix};
    eval_ok(s, both, 2, FRZ_LOGITS_ALL, "embeddings");
    snprintf(what, sizeof what, "%s wte rows as embeddings", e.model);
    assert_logits(s, 0, q.logits[2], n_ids, V, what);
    snprintf(what, sizeof what, "%s wte rows at even positions, ids at odd", e.model);
    assert_logits(s, n_ids, q.logits[2], n_ids, V, what);

    frz_session_free(s);
    frz_lm_free(lm);
    free(mixed);
    free(ids);
    free(rows);
    free_seqs(&q);
    frz_st_close(e.st);
}
END_TEST

/* Free embedding vectors (a visual prefix) followed by tokens, in one eval and in two (prefix, then tokens). */
START_TEST(test_embedding_prefix)
{
    expect e = open_expect(_i);
    frz_lm *lm = load_model(_i);
    size_t V = (size_t)frz_lm_get(lm, FRZ_LM_N_VOCAB), C = (size_t)frz_lm_get(lm, FRZ_LM_N_EMBD);
    size_t n_pe, M, n_lg;
    float *pe = get_f32(&e, "prefix.embd", &n_pe);
    int32_t *pids = get_ids(&e, "prefix.ids", &M);
    float *want = get_f32(&e, "prefix.logits", &n_lg);
    size_t K = n_pe / C;
    ck_assert(n_pe == K * C && n_lg == (K + M) * V);
    char what[128];

    /* one eval: tokens FRZ_TOKEN_EMBEDDING for the prefix; embd rows only read at those positions, so the
     * token positions' rows hold garbage on purpose */
    int32_t *tok = malloc((K + M) * sizeof *tok);
    float *emb = malloc((K + M) * C * sizeof *emb);
    ck_assert(tok && emb);
    for (size_t t = 0; t < K + M; t++) tok[t] = t < K ? FRZ_TOKEN_EMBEDDING : pids[t - K];
    for (size_t j = 0; j < (K + M) * C; j++) emb[j] = j < K * C ? pe[j] : 1e3f;
    frz_session *s = new_session(lm, 1, 1);
    frz_input in = {0, K + M, tok, emb};
    eval_ok(s, &in, 1, FRZ_LOGITS_ALL, "prefix + tokens");
    snprintf(what, sizeof what, "%s prefix and tokens in one eval", e.model);
    assert_logits(s, 0, want, K + M, V, what);

    /* two evals through the cache */
    ck_assert_int_eq(frz_session_seq_truncate(s, 0, 0), FRZ_OK);
    frz_input a = {0, K, NULL, pe};
    eval_ok(s, &a, 1, FRZ_LOGITS_ALL, "prefix");
    snprintf(what, sizeof what, "%s prefix alone", e.model);
    assert_logits(s, 0, want, K, V, what);
    frz_input b = {0, M, pids, NULL};
    eval_ok(s, &b, 1, FRZ_LOGITS_ALL, "tokens after prefix");
    snprintf(what, sizeof what, "%s tokens after the cached prefix", e.model);
    assert_logits(s, 0, want + K * V, M, V, what);
    ck_assert_int_eq(frz_session_seq_len(s, 0), (int64_t)(K + M));

    frz_session_free(s);
    frz_lm_free(lm);
    free(tok);
    free(emb);
    free(pe);
    free(pids);
    free(want);
    frz_st_close(e.st);
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("lm_parity");
    TCase *tc = tcase_create("reference");
    tcase_set_timeout(tc, 120);
    tcase_add_loop_test(tc, test_properties, 0, N_MODELS);
    tcase_add_loop_test(tc, test_logits_batch, 0, N_MODELS);
    tcase_add_loop_test(tc, test_logits_one_at_a_time, 0, N_MODELS);
    tcase_add_loop_test(tc, test_greedy, 0, N_MODELS);
    tcase_add_loop_test(tc, test_score, 0, N_MODELS);
    tcase_add_loop_test(tc, test_embedding_inputs, 0, N_MODELS);
    tcase_add_loop_test(tc, test_embedding_prefix, 0, N_MODELS);
    suite_add_tcase(s, tc);
    return s;
}

FRZ_TEST_MAIN(make_suite)
