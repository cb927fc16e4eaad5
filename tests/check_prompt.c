/* check_prompt.c -- the prompt builder with text and embedding segments, running prompts on sessions, prompt
 * caching (frz_session_seq_copy and truncation) against uncached runs, context overflow messages. Images in
 * prompts are check_prompt_image.c. The model is the committed fixture tests/fixtures/models/gpt2-f32 (random
 * weights, GPT-2 byte-level tokenizer with 200 merges, C 48, context 64). */
#include "lm/gpt2.h"
#include "lm/session.h"
#include "util/testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static frz_lm *lm;
static size_t D, V, CTX;

static void setup(void)
{
    frz_status st = frz_lm_load(fixture_path("models/gpt2-f32"), &lm);
    ck_assert_msg(st == FRZ_OK, "load: %s", frz_last_error());
    D = (size_t)frz_lm_get(lm, FRZ_LM_N_EMBD);
    V = (size_t)frz_lm_get(lm, FRZ_LM_N_VOCAB);
    CTX = (size_t)frz_lm_get(lm, FRZ_LM_N_CTX);
}

static void teardown(void)
{
    frz_lm_free(lm);
    lm = NULL;
}

static frz_session *session(int max_seqs)
{
    frz_session *s = NULL;
    ck_assert(frz_session_create(lm, &s) == FRZ_OK);
    ck_assert(frz_session_set_int(s, FRZ_OPT_MAX_SEQS, max_seqs) == FRZ_OK);
    return s;
}

static frz_prompt *new_prompt(void)
{
    frz_prompt *pr = NULL;
    frz_status st = frz_prompt_create(lm, NULL, NULL, &pr);
    ck_assert_msg(st == FRZ_OK, "create: %s", frz_last_error());
    return pr;
}

static void ok(frz_status st, const char *what)
{
    ck_assert_msg(st == FRZ_OK, "%s: %s: %s", what, frz_strerror(st), frz_last_error());
}

/* tokens of text, tokenized on its own */
static size_t tokens_of(const char *text, int32_t *ids, size_t cap)
{
    size_t n = 0;
    ok(frz_tokenize(lm, text, (size_t)-1, 0, ids, cap, &n), "tokenize");
    return n;
}

/* n deterministic embedding vectors of width D, O(1) values */
static float *vectors(size_t n, unsigned seed)
{
    float *e = malloc(n * D * sizeof *e);
    uint32_t x = seed * 2654435761u + 1;
    for (size_t i = 0; i < n * D; i++) {
        x = x * 1664525u + 1013904223u;
        e[i] = (float)((double)(x >> 8) / (double)(1u << 24) * 2.0 - 1.0);
    }
    return e;
}

static float *logits_rows(const frz_session *s, size_t rows)
{
    float *out = malloc(rows * V * sizeof *out);
    for (size_t r = 0; r < rows; r++) {
        const float *l = frz_session_logits(s, r);
        ck_assert_msg(l != NULL, "no logits row %zu", r);
        memcpy(out + r * V, l, V * sizeof *out);
    }
    return out;
}

static void assert_bits_equal(const float *a, const float *b, size_t n, const char *what)
{
    for (size_t i = 0; i < n; i++)
        ck_assert_msg(memcmp(&a[i], &b[i], sizeof a[i]) == 0, "%s[%zu]: %.9g vs %.9g (not bit-identical)", what, i,
                      (double)a[i], (double)b[i]);
}

/* ---- assembly ---------------------------------------------------------------------------------------------- */

START_TEST(test_assembly_order_positions_embeddings)
{
    frz_prompt *pr = new_prompt();
    float *e = vectors(3, 1);
    ok(frz_prompt_add_text(pr, "Answer with dax.", (size_t)-1, 0), "text 1");
    ok(frz_prompt_add_embeddings(pr, e, 2), "embeddings");
    ok(frz_prompt_add_text(pr, "", (size_t)-1, 0), "empty text");            /* nothing, no segment */
    ok(frz_prompt_add_text(pr, " This is a dax", 5, 0), "text with a length"); /* " This" */
    ok(frz_prompt_add_embeddings(pr, e + 2 * D, 1), "one more embedding");
    ok(frz_prompt_add_text(pr, "\xff!", (size_t)-1, 0), "invalid UTF-8 text");

    int32_t t1[64], t2[64], t3[64];
    size_t n1 = tokens_of("Answer with dax.", t1, 64), n2 = tokens_of(" This", t2, 64), n3 = tokens_of("\xff!", t3, 64);
    const size_t want_len = n1 + 2 + n2 + 1 + n3;
    ck_assert_uint_eq(frz_prompt_len(pr), want_len);
    ck_assert_uint_eq(frz_prompt_n_segments(pr), 5);

    const frz_prompt_seg_kind kinds[5] = {FRZ_PROMPT_SEG_TEXT, FRZ_PROMPT_SEG_EMBEDDING, FRZ_PROMPT_SEG_TEXT,
                                          FRZ_PROMPT_SEG_EMBEDDING, FRZ_PROMPT_SEG_TEXT};
    const size_t starts[5] = {0, n1, n1 + 2, n1 + 2 + n2, n1 + 3 + n2}, lens[5] = {n1, 2, n2, 1, n3};
    for (size_t i = 0; i < 5; i++) {
        frz_prompt_seg_kind k;
        size_t start, n;
        ok(frz_prompt_segment(pr, i, &k, &start, &n), "segment");
        ck_assert_msg(k == kinds[i] && start == starts[i] && n == lens[i], "segment %zu: kind %d start %zu n %zu", i,
                      (int)k, start, n);
    }
    ck_assert(frz_prompt_segment(pr, 5, NULL, NULL, NULL) == FRZ_ERR_INVALID_ARG);
    ck_assert(frz_prompt_segment(pr, 0, NULL, NULL, NULL) == FRZ_OK);

    int32_t ids[64], want[64];
    size_t n = 0, w = 0;
    memcpy(want + w, t1, n1 * sizeof *t1), w += n1;
    want[w++] = FRZ_TOKEN_EMBEDDING, want[w++] = FRZ_TOKEN_EMBEDDING;
    memcpy(want + w, t2, n2 * sizeof *t2), w += n2;
    want[w++] = FRZ_TOKEN_EMBEDDING;
    memcpy(want + w, t3, n3 * sizeof *t3), w += n3;
    ck_assert(frz_prompt_tokens(pr, ids, want_len - 1, &n) == FRZ_ERR_BUFFER_TOO_SMALL);
    ck_assert_uint_eq(n, want_len);
    ok(frz_prompt_tokens(pr, ids, 64, &n), "tokens");
    ck_assert_uint_eq(n, want_len);
    for (size_t i = 0; i < n; i++) ck_assert_msg(ids[i] == want[i], "position %zu: %d, want %d", i, ids[i], want[i]);

    /* the vectors sit at their positions, copied; token positions have none */
    for (size_t p = 0; p < n; p++) {
        const float *row = frz_prompt_embedding(pr, p);
        const float *src = p == n1 ? e : p == n1 + 1 ? e + D : p == n1 + 2 + n2 ? e + 2 * D : NULL;
        ck_assert_msg((row == NULL) == (src == NULL), "position %zu: embedding %s", p, row ? "present" : "missing");
        if (src) ck_assert_msg(memcmp(row, src, D * sizeof *row) == 0, "position %zu: wrong vector", p);
    }
    ck_assert_ptr_null(frz_prompt_embedding(pr, n));
    e[0] += 1.0f; /* the prompt holds a copy */
    ck_assert(frz_prompt_embedding(pr, n1)[0] != e[0]);

    frz_prompt_clear(pr);
    ck_assert_uint_eq(frz_prompt_len(pr), 0);
    ck_assert_uint_eq(frz_prompt_n_segments(pr), 0);
    ok(frz_prompt_add_text(pr, "x", (size_t)-1, 0), "after clear");
    ck_assert_uint_eq(frz_prompt_len(pr), 1);
    free(e);
    frz_prompt_free(pr);
}
END_TEST

START_TEST(test_special_tokens_flag)
{
    frz_prompt *pr = new_prompt();
    ok(frz_prompt_add_text(pr, "<|endoftext|>", (size_t)-1, FRZ_TOKENIZE_SPECIAL), "special");
    ck_assert_uint_eq(frz_prompt_len(pr), 1);
    int32_t id;
    size_t n;
    ok(frz_prompt_tokens(pr, &id, 1, &n), "tokens");
    ck_assert_int_eq(id, (int32_t)frz_lm_get(lm, FRZ_LM_EOT_TOKEN));
    ok(frz_prompt_add_text(pr, "<|endoftext|>", (size_t)-1, 0), "plain");
    ck_assert_uint_gt(frz_prompt_len(pr), 2);
    frz_prompt_free(pr);
}
END_TEST

START_TEST(test_argument_errors)
{
    frz_prompt *pr = NULL;
    ck_assert(frz_prompt_create(NULL, NULL, NULL, &pr) == FRZ_ERR_INVALID_ARG && pr == NULL);
    ck_assert(frz_prompt_create(lm, NULL, NULL, NULL) == FRZ_ERR_INVALID_ARG);
    pr = new_prompt();
    ck_assert(frz_prompt_add_text(NULL, "a", 1, 0) == FRZ_ERR_INVALID_ARG);
    ck_assert(frz_prompt_add_text(pr, NULL, 1, 0) == FRZ_ERR_INVALID_ARG);
    ck_assert(frz_prompt_add_embeddings(pr, NULL, 2) == FRZ_ERR_INVALID_ARG);
    ck_assert(frz_prompt_add_embeddings(pr, NULL, 0) == FRZ_OK);
    ck_assert(frz_prompt_set_int(pr, FRZ_PROMPT_OPT_THREADS, 0) == FRZ_ERR_INVALID_ARG);
    ck_assert(frz_prompt_set_int(pr, FRZ_PROMPT_OPT_BLIND, 2) == FRZ_ERR_INVALID_ARG);
    ck_assert(frz_prompt_set_int(pr, (frz_prompt_opt)99, 1) == FRZ_ERR_INVALID_ARG);
    ck_assert(frz_prompt_set_int(pr, FRZ_PROMPT_OPT_THREADS, 2) == FRZ_OK);
    ck_assert_uint_eq(frz_prompt_len(NULL), 0);
    ck_assert_uint_eq(frz_prompt_n_segments(NULL), 0);
    ck_assert_ptr_null(frz_prompt_embedding(NULL, 0));
    frz_prompt_clear(NULL);
    frz_prompt_free(NULL);

    frz_session *s = session(2);
    ck_assert(frz_prompt_eval(s, 0, pr, FRZ_LOGITS_LAST) == FRZ_ERR_INVALID_ARG); /* empty */
    ck_assert_msg(strstr(frz_last_error(), "empty") != NULL, "%s", frz_last_error());
    ok(frz_prompt_add_text(pr, "Hello", (size_t)-1, 0), "text");
    ck_assert(frz_prompt_eval(s, 2, pr, FRZ_LOGITS_LAST) == FRZ_ERR_INVALID_ARG);
    ck_assert(frz_prompt_eval(NULL, 0, pr, FRZ_LOGITS_LAST) == FRZ_ERR_INVALID_ARG);
    ck_assert(frz_prompt_eval_range(s, 0, pr, 0, 0, FRZ_LOGITS_LAST) == FRZ_ERR_INVALID_ARG);
    ck_assert(frz_prompt_eval_range(s, 0, pr, 1, frz_prompt_len(pr), FRZ_LOGITS_LAST) == FRZ_ERR_INVALID_ARG);
    ck_assert_int_eq(frz_session_seq_len(s, 0), 0);
    int32_t out[4];
    size_t n_out = 7;
    ck_assert(frz_prompt_generate(s, 0, pr, NULL, 0x80, out, 4, &n_out) == FRZ_ERR_INVALID_ARG && n_out == 0);
    frz_generate_params bad;
    memset(&bad, 0, sizeof bad); /* struct_size 0: not initialised */
    ck_assert(frz_prompt_generate(s, 0, pr, &bad, 0, out, 4, &n_out) == FRZ_ERR_INVALID_ARG);
    ck_assert(frz_prompt_generate(s, 0, NULL, NULL, 0, out, 4, &n_out) == FRZ_ERR_INVALID_ARG); /* empty slot */
    const char *cands[1] = {NULL};
    double lp;
    ck_assert(frz_prompt_score(s, 0, pr, cands, 1, &lp) == FRZ_ERR_INVALID_ARG);
    ck_assert_int_eq(frz_session_seq_len(s, 0), 0); /* nothing ran */
    frz_session_free(s);
    frz_prompt_free(pr);
}
END_TEST

/* Injected allocation failures leave the prompt as it was, and leak nothing (ASan). */
START_TEST(test_alloc_failures)
{
    float *e = vectors(3, 2);
    for (int op = 0; op < 3; op++) {
        int succeeded = 0;
        for (long k = 1; k < 50 && !succeeded; k++) {
            frz_prompt *pr = new_prompt();
            ok(frz_prompt_add_text(pr, "The first part", (size_t)-1, 0), "base");
            const size_t len = frz_prompt_len(pr);
            frz_test_fail_alloc_at(k);
            frz_prompt *made = NULL;
            frz_status st = op == 0   ? frz_prompt_add_text(pr, " and more text", (size_t)-1, 0)
                            : op == 1 ? frz_prompt_add_embeddings(pr, e, 3)
                                      : frz_prompt_create(lm, NULL, NULL, &made);
            frz_test_fail_alloc_at(0);
            frz_prompt_free(made);
            if (st == FRZ_OK) {
                succeeded = 1;
            } else {
                ck_assert_msg(st == FRZ_ERR_NOMEM, "op %d alloc %ld: %s", op, k, frz_last_error());
                ck_assert_uint_eq(frz_prompt_len(pr), len);
                ck_assert_uint_eq(frz_prompt_n_segments(pr), 1);
            }
            frz_prompt_free(pr);
        }
        ck_assert_msg(succeeded, "op %d never succeeded", op);
    }
    free(e);
}
END_TEST

/* ---- running ------------------------------------------------------------------------------------------------ */

/* A prompt's eval is frz_session_eval of its tokens and vectors, positions continuing across segments: here the
 * vectors are the model's own token embeddings (wte rows) of a text, so the prompt must give the logits of the
 * plain token sequence, bit for bit. */
START_TEST(test_eval_is_session_eval)
{
    int32_t a[64], b[64], c[64], all[128];
    size_t na = tokens_of("Question: what", a, 64), nb = tokens_of(" is the", b, 64), nc = tokens_of(" answer?", c, 64);
    float *wte_rows = malloc(nb * D * sizeof *wte_rows);
    for (size_t i = 0; i < nb; i++) memcpy(wte_rows + i * D, lm->w.wte + (size_t)b[i] * D, D * sizeof *wte_rows);
    memcpy(all, a, na * 4), memcpy(all + na, b, nb * 4), memcpy(all + na + nb, c, nc * 4);
    const size_t n = na + nb + nc;

    frz_prompt *pr = new_prompt();
    ok(frz_prompt_add_text(pr, "Question: what", (size_t)-1, 0), "a");
    ok(frz_prompt_add_embeddings(pr, wte_rows, nb), "b as vectors");
    ok(frz_prompt_add_text(pr, " answer?", (size_t)-1, 0), "c");
    ck_assert_uint_eq(frz_prompt_len(pr), n);

    frz_session *s = session(2);
    ok(frz_prompt_eval(s, 0, pr, FRZ_LOGITS_ALL), "prompt eval");
    ck_assert_int_eq(frz_session_seq_len(s, 0), (int64_t)n);
    float *got = logits_rows(s, n);
    frz_input in = {1, n, all, NULL};
    ok(frz_session_eval(s, &in, 1, FRZ_LOGITS_ALL), "token eval");
    float *want = logits_rows(s, n);
    assert_bits_equal(got, want, n * V, "logits");

    /* a range: the first positions, then the rest, as two evals */
    ok(frz_session_seq_truncate(s, -1, 0), "truncate");
    ok(frz_prompt_eval_range(s, 0, pr, 0, na + 1, FRZ_LOGITS_NONE), "range 1");
    ok(frz_prompt_eval_range(s, 0, pr, na + 1, n - na - 1, FRZ_LOGITS_ALL), "range 2");
    float *got2 = logits_rows(s, n - na - 1);
    frz_input i1 = {1, na + 1, all, NULL}, i2 = {1, n - na - 1, all + na + 1, NULL};
    ok(frz_session_eval(s, &i1, 1, FRZ_LOGITS_NONE), "tokens 1");
    ok(frz_session_eval(s, &i2, 1, FRZ_LOGITS_ALL), "tokens 2");
    float *want2 = logits_rows(s, n - na - 1);
    assert_bits_equal(got2, want2, (n - na - 1) * V, "range logits");

    /* appending to a slot that holds something: positions continue from its length */
    ok(frz_session_seq_truncate(s, -1, 0), "truncate");
    frz_prompt *head = new_prompt(), *tail = new_prompt();
    ok(frz_prompt_add_text(head, "Question: what", (size_t)-1, 0), "head");
    ok(frz_prompt_add_embeddings(tail, wte_rows, nb), "tail b");
    ok(frz_prompt_add_text(tail, " answer?", (size_t)-1, 0), "tail c");
    ok(frz_prompt_eval(s, 0, head, FRZ_LOGITS_NONE), "head eval");
    ok(frz_prompt_eval(s, 0, tail, FRZ_LOGITS_ALL), "tail eval");
    float *got3 = logits_rows(s, nb + nc);
    frz_input j1 = {1, na, all, NULL}, j2 = {1, nb + nc, all + na, NULL};
    ok(frz_session_eval(s, &j1, 1, FRZ_LOGITS_NONE), "tokens head");
    ok(frz_session_eval(s, &j2, 1, FRZ_LOGITS_ALL), "tokens tail");
    float *want3 = logits_rows(s, nb + nc);
    assert_bits_equal(got3, want3, (nb + nc) * V, "appended logits");

    free(got), free(want), free(got2), free(want2), free(got3), free(want3), free(wte_rows);
    frz_prompt_free(pr), frz_prompt_free(head), frz_prompt_free(tail);
    frz_session_free(s);
}
END_TEST

/* Free vectors (not token embeddings) really enter: changing one changes the logits after it, not before. */
START_TEST(test_embeddings_enter_the_lm)
{
    float *e = vectors(2, 3);
    frz_session *s = session(2);
    float *l[2];
    for (int k = 0; k < 2; k++) {
        frz_prompt *pr = new_prompt();
        ok(frz_prompt_add_text(pr, "A", (size_t)-1, 0), "text");
        ok(frz_prompt_add_embeddings(pr, e, 2), "vectors");
        ok(frz_prompt_add_text(pr, " b", (size_t)-1, 0), "text");
        ok(frz_prompt_eval(s, k, pr, FRZ_LOGITS_ALL), "eval");
        l[k] = logits_rows(s, frz_prompt_len(pr));
        frz_prompt_free(pr);
        e[D + 3] += 0.5f; /* the second vector differs in the second prompt */
    }
    assert_bits_equal(l[0], l[1], 2 * V, "positions before the change");
    ck_assert_msg(memcmp(l[0] + 2 * V, l[1] + 2 * V, V * sizeof(float)) != 0, "the changed vector had no effect");
    free(l[0]), free(l[1]), free(e);
    frz_session_free(s);
}
END_TEST

/* The support set evaluated once and forked (copy or truncation) gives exactly what evaluating support then query
 * in a fresh slot gives: logits bit for bit and the same greedy and sampled continuations. Evaluating both in one
 * call differs at most in rounding, measured and bounded here. */
START_TEST(test_cached_equals_uncached)
{
    float *img = vectors(6, 4);
    frz_prompt *support = new_prompt();
    ok(frz_prompt_add_text(support, "Answer with dax or blicket.", (size_t)-1, 0), "induction");
    ok(frz_prompt_add_embeddings(support, img, 2), "image 1");
    ok(frz_prompt_add_text(support, "This is a dax.", (size_t)-1, 0), "caption 1");
    ok(frz_prompt_add_embeddings(support, img + 2 * D, 2), "image 2");
    ok(frz_prompt_add_text(support, "This is a blicket.", (size_t)-1, 0), "caption 2");
    const char *questions[3] = {"Q: What is this? A:", "Q: Which one? A:", "Q: Name? A:"};
    frz_prompt *query[3];
    for (int q = 0; q < 3; q++) {
        query[q] = new_prompt();
        float *v = vectors(2, 10 + (unsigned)q);
        ok(frz_prompt_add_embeddings(query[q], v, 2), "query image");
        ok(frz_prompt_add_text(query[q], questions[q], (size_t)-1, 0), "question");
        free(v);
    }
    const size_t ns = frz_prompt_len(support);

    frz_session *cached = session(2);
    ok(frz_prompt_eval(cached, 0, support, FRZ_LOGITS_NONE), "support once");
    frz_generate_params gp;
    frz_generate_params_init(&gp);
    gp.max_tokens = 6;
    gp.stop_at_eot = 0;
    double max_diff = 0.0;
    for (int q = 0; q < 3; q++) {
        const size_t nq = frz_prompt_len(query[q]);
        /* cached by copy, in slot 1 */
        ok(frz_session_seq_copy(cached, 0, 1), "fork");
        ok(frz_prompt_eval(cached, 1, query[q], FRZ_LOGITS_ALL), "query on the fork");
        float *by_copy = logits_rows(cached, nq);
        int32_t gen_copy[6], gen_fresh[6], gen_trunc[6];
        size_t n_copy, n_fresh, n_trunc;
        ok(frz_generate(cached, 1, &gp, gen_copy, 6, &n_copy), "generate on the fork");
        ck_assert_int_eq(frz_session_seq_len(cached, 0), (int64_t)ns); /* the source is untouched */

        /* cached by truncation, in slot 0 */
        ok(frz_prompt_eval(cached, 0, query[q], FRZ_LOGITS_ALL), "query appended to the support");
        float *by_trunc = logits_rows(cached, nq);
        ok(frz_generate(cached, 0, &gp, gen_trunc, 6, &n_trunc), "generate");
        ok(frz_session_seq_truncate(cached, 0, ns), "back to the support");

        /* uncached: a fresh session evaluates the support and then the query */
        frz_session *fresh = session(1);
        ok(frz_prompt_eval(fresh, 0, support, FRZ_LOGITS_NONE), "support again");
        ok(frz_prompt_eval(fresh, 0, query[q], FRZ_LOGITS_ALL), "query");
        float *uncached = logits_rows(fresh, nq);
        ok(frz_generate(fresh, 0, &gp, gen_fresh, 6, &n_fresh), "generate fresh");
        assert_bits_equal(by_copy, uncached, nq * V, "forked logits");
        assert_bits_equal(by_trunc, uncached, nq * V, "truncated logits");
        ck_assert_uint_eq(n_copy, n_fresh);
        ck_assert_uint_eq(n_trunc, n_fresh);
        ck_assert_msg(memcmp(gen_copy, gen_fresh, n_fresh * 4) == 0 && memcmp(gen_trunc, gen_fresh, n_fresh * 4) == 0,
                      "greedy continuations differ");

        /* one call for support and query together: equal up to rounding */
        frz_prompt *whole = new_prompt();
        ok(frz_prompt_add_text(whole, "Answer with dax or blicket.", (size_t)-1, 0), "w");
        ok(frz_prompt_add_embeddings(whole, img, 2), "w");
        ok(frz_prompt_add_text(whole, "This is a dax.", (size_t)-1, 0), "w");
        ok(frz_prompt_add_embeddings(whole, img + 2 * D, 2), "w");
        ok(frz_prompt_add_text(whole, "This is a blicket.", (size_t)-1, 0), "w");
        float *v = vectors(2, 10 + (unsigned)q);
        ok(frz_prompt_add_embeddings(whole, v, 2), "w");
        ok(frz_prompt_add_text(whole, questions[q], (size_t)-1, 0), "w");
        free(v);
        ok(frz_session_seq_truncate(fresh, 0, 0), "clear");
        ok(frz_prompt_eval(fresh, 0, whole, FRZ_LOGITS_ALL), "whole");
        const float *w = frz_session_logits(fresh, ns);
        double scale = 1.0;
        for (size_t i = 0; i < nq * V; i++) scale = fmax(scale, fabs(uncached[i]));
        for (size_t r = 0; r < nq; r++) {
            w = frz_session_logits(fresh, ns + r);
            for (size_t i = 0; i < V; i++) max_diff = fmax(max_diff, fabs((double)w[i] - uncached[r * V + i]) / scale);
        }
        frz_prompt_free(whole);
        frz_session_free(fresh);
        free(by_copy), free(by_trunc), free(uncached);
    }
    if (getenv("FRZ_TEST_VERBOSE")) fprintf(stderr, "one call vs split: max relative difference %g\n", max_diff);
    ck_assert_msg(max_diff <= 1e-5, "one-call evaluation differs by %g (relative)", max_diff);
    free(img);
    for (int q = 0; q < 3; q++) frz_prompt_free(query[q]);
    frz_prompt_free(support);
    frz_session_free(cached);
}
END_TEST

/* Sampling from a fork follows the same RNG path as from the original. */
START_TEST(test_fork_sampling)
{
    frz_prompt *pr = new_prompt();
    ok(frz_prompt_add_text(pr, "Once upon a time", (size_t)-1, 0), "text");
    frz_generate_params gp;
    frz_generate_params_init(&gp);
    gp.max_tokens = 12;
    gp.temperature = 1.0f;
    gp.stop_at_eot = 0;
    int32_t a[12], b[12];
    size_t na, nb;
    frz_session *s = session(3);
    ok(frz_prompt_eval(s, 0, pr, FRZ_LOGITS_LAST), "eval");
    ok(frz_session_seq_copy(s, 0, 2), "copy");
    ok(frz_session_set_int(s, FRZ_OPT_SEED, 5), "seed");
    ok(frz_generate(s, 2, &gp, a, 12, &na), "sample on the copy");
    ok(frz_session_set_int(s, FRZ_OPT_SEED, 5), "seed");
    ok(frz_generate(s, 0, &gp, b, 12, &nb), "sample on the original");
    ck_assert_uint_eq(na, 12);
    ck_assert_uint_eq(nb, 12);
    ck_assert(memcmp(a, b, sizeof a) == 0);
    frz_prompt_free(pr);
    frz_session_free(s);
}
END_TEST

/* ---- frz_session_seq_copy ----------------------------------------------------------------------------------- */

START_TEST(test_seq_copy)
{
    frz_session *s = session(3);
    int32_t t[40];
    for (int i = 0; i < 40; i++) t[i] = (i * 37 + 5) % (int)V;
    frz_input a = {0, 30, t, NULL}, b = {1, 3, t + 30, NULL};
    ok(frz_session_eval(s, &a, 1, FRZ_LOGITS_LAST), "slot 0");
    float *last0 = logits_rows(s, 1);
    ok(frz_session_eval(s, &b, 1, FRZ_LOGITS_NONE), "slot 1 (shorter, different)");

    /* copy over a shorter slot: its length, then its last logits, then its future */
    ok(frz_session_seq_copy(s, 0, 1), "copy");
    ck_assert_int_eq(frz_session_seq_len(s, 1), 30);
    double lp0, lp1;
    int32_t cont[3] = {t[31], t[32], t[33]};
    ok(frz_score(s, 1, cont, 3, NULL, &lp1), "score on the copy"); /* first token from the copied last logits */
    ok(frz_score(s, 0, cont, 3, NULL, &lp0), "score on the original");
    ck_assert_msg(lp0 == lp1, "scores differ: %.17g vs %.17g", lp0, lp1);
    frz_input c1 = {1, 5, t + 30, NULL};
    ok(frz_session_eval(s, &c1, 1, FRZ_LOGITS_ALL), "continue the copy");
    float *l1 = logits_rows(s, 5);
    frz_input c0 = {0, 5, t + 30, NULL};
    ok(frz_session_eval(s, &c0, 1, FRZ_LOGITS_ALL), "continue the original");
    float *l0 = logits_rows(s, 5);
    assert_bits_equal(l1, l0, 5 * V, "continued copy");

    /* the copy is independent: rewriting it leaves the source's cached positions alone */
    ok(frz_session_seq_truncate(s, 0, 30), "source back to 30");
    frz_input probe = {0, 1, t + 30, NULL};
    ok(frz_session_eval(s, &probe, 1, FRZ_LOGITS_LAST), "probe source");
    float *before = logits_rows(s, 1);
    ok(frz_session_seq_truncate(s, 0, 30), "source back to 30");
    ok(frz_session_seq_truncate(s, 1, 10), "copy shortened");
    frz_input d1 = {1, 20, t + 20, NULL};
    ok(frz_session_eval(s, &d1, 1, FRZ_LOGITS_NONE), "rewrite the copy");
    ok(frz_session_eval(s, &probe, 1, FRZ_LOGITS_LAST), "probe source again");
    assert_bits_equal(frz_session_logits(s, 0), before, V, "source after the copy was rewritten");
    free(before);

    /* the last logits of the source come with the copy, without any eval in between */
    ok(frz_session_seq_truncate(s, -1, 0), "clear");
    ok(frz_session_eval(s, &a, 1, FRZ_LOGITS_LAST), "slot 0 again");
    ok(frz_session_seq_copy(s, 0, 2), "copy to 2");
    frz_generate_params gp;
    frz_generate_params_init(&gp);
    gp.max_tokens = 1;
    gp.stop_at_eot = 0;
    int32_t g2, want = 0;
    size_t n2;
    for (size_t i = 1; i < V; i++)
        if (last0[i] > last0[want]) want = (int32_t)i;
    ok(frz_generate(s, 2, &gp, &g2, 1, &n2), "generate on the copy");
    ck_assert_uint_eq(n2, 1);
    ck_assert_int_eq(g2, want);

    /* empty source clears; src == dst does nothing; range errors */
    ok(frz_session_seq_truncate(s, 1, 0), "empty 1");
    ok(frz_session_seq_copy(s, 1, 2), "copy empty");
    ck_assert_int_eq(frz_session_seq_len(s, 2), 0);
    ok(frz_session_seq_copy(s, 0, 0), "self");
    ck_assert_int_eq(frz_session_seq_len(s, 0), 30);
    ck_assert(frz_session_seq_copy(s, 0, 3) == FRZ_ERR_INVALID_ARG);
    ck_assert_msg(strstr(frz_last_error(), "slot 3") != NULL, "%s", frz_last_error());
    ck_assert(frz_session_seq_copy(s, -1, 0) == FRZ_ERR_INVALID_ARG);
    ck_assert(frz_session_seq_copy(NULL, 0, 1) == FRZ_ERR_INVALID_ARG);

    /* no memory for the destination's cache: the destination is unchanged */
    frz_session *s2 = session(2);
    frz_input small = {1, 2, t, NULL}, big = {0, 30, t, NULL};
    ok(frz_session_eval(s2, &big, 1, FRZ_LOGITS_NONE), "30 positions in slot 0");
    ok(frz_session_eval(s2, &small, 1, FRZ_LOGITS_NONE), "2 positions in slot 1");
    frz_test_fail_alloc_at(1);
    frz_status st = frz_session_seq_copy(s2, 0, 1); /* slot 1's cache holds 16 positions: it must grow */
    frz_test_fail_alloc_at(0);
    ck_assert_int_eq(st, FRZ_ERR_NOMEM);
    ck_assert_int_eq(frz_session_seq_len(s2, 1), 2);
    ok(frz_session_seq_copy(s2, 0, 1), "copy with memory");
    ck_assert_int_eq(frz_session_seq_len(s2, 1), 30);
    frz_session_free(s2);

    free(last0), free(l0), free(l1);
    frz_session_free(s);
}
END_TEST

/* ---- context overflow ------------------------------------------------------------------------------------------- */

START_TEST(test_context_overflow)
{
    float *e = vectors(CTX, 5);
    frz_prompt *pr = new_prompt();
    ok(frz_prompt_add_embeddings(pr, e, CTX - 10), "54 vectors");
    int32_t ids[64];
    const char *text = "This text is long enough to need more than ten positions";
    size_t n = tokens_of(text, ids, 64);
    ck_assert_uint_gt(n, 10);
    frz_status st = frz_prompt_add_text(pr, text, (size_t)-1, 0);
    ck_assert_int_eq(st, FRZ_ERR_CONTEXT_FULL);
    char want[160];
    snprintf(want, sizeof want, "adds %zu: %zu, which is %zu more than the context length %zu", n, CTX - 10 + n,
             n - 10, CTX);
    ck_assert_msg(strstr(frz_last_error(), want) != NULL, "message '%s' lacks '%s'", frz_last_error(), want);
    ck_assert_uint_eq(frz_prompt_len(pr), CTX - 10); /* unchanged */
    ck_assert(frz_prompt_add_embeddings(pr, e, 11) == FRZ_ERR_CONTEXT_FULL);
    ck_assert_msg(strstr(frz_last_error(), "1 more than the context length") != NULL, "%s", frz_last_error());
    ok(frz_prompt_add_embeddings(pr, e, 10), "exactly full");
    ck_assert_uint_eq(frz_prompt_len(pr), CTX);
    ck_assert(frz_prompt_add_text(pr, "x", (size_t)-1, 0) == FRZ_ERR_CONTEXT_FULL);

    /* running on a slot that already holds positions */
    frz_prompt *half = new_prompt();
    ok(frz_prompt_add_embeddings(half, e, 40), "40 vectors");
    frz_session *s = session(1);
    ok(frz_prompt_eval(s, 0, half, FRZ_LOGITS_NONE), "first 40");
    st = frz_prompt_eval(s, 0, half, FRZ_LOGITS_NONE);
    ck_assert_int_eq(st, FRZ_ERR_CONTEXT_FULL);
    snprintf(want, sizeof want, "holds 40 positions and the prompt adds 40: 80, which is %zu more than the context "
             "length %zu", 80 - CTX, CTX);
    ck_assert_msg(strstr(frz_last_error(), want) != NULL, "message '%s' lacks '%s'", frz_last_error(), want);
    ck_assert_int_eq(frz_session_seq_len(s, 0), 40);
    int32_t out[4];
    size_t n_out;
    ck_assert(frz_prompt_generate(s, 0, half, NULL, 0, out, 4, &n_out) == FRZ_ERR_CONTEXT_FULL);
    frz_prompt_free(half);
    frz_prompt_free(pr);
    frz_session_free(s);
    free(e);
}
END_TEST

/* ---- generate and score --------------------------------------------------------------------------------------- */

static int has_newline(const int32_t *ids, size_t n, size_t *first)
{
    char buf[1024];
    for (size_t i = 0; i < n; i++) {
        size_t len;
        ok(frz_detokenize(lm, ids + i, 1, buf, sizeof buf, &len), "detokenize");
        if (memchr(buf, '\n', len)) {
            *first = i;
            return 1;
        }
    }
    return 0;
}

/* frz_prompt_generate is eval + frz_generate; FRZ_PROMPT_STOP_NEWLINE ends the output before the token holding
 * the first newline. A sampled continuation holding a newline is searched for over seeds. */
START_TEST(test_generate_newline)
{
    frz_prompt *pr = new_prompt();
    ok(frz_prompt_add_text(pr, "Line one\nLine two\nLine", (size_t)-1, 0), "text");
    frz_generate_params gp;
    frz_generate_params_init(&gp);
    gp.max_tokens = 40;
    gp.temperature = 1.5f;
    gp.stop_at_eot = 0;
    frz_session *s = session(1);
    int found = 0;
    for (int seed = 0; seed < 200 && !found; seed++) {
        int32_t free_run[40], stopped[40];
        size_t n_free, n_stop, first;
        ok(frz_session_seq_truncate(s, 0, 0), "clear");
        ok(frz_session_set_int(s, FRZ_OPT_SEED, seed), "seed");
        ok(frz_prompt_generate(s, 0, pr, &gp, 0, free_run, 40, &n_free), "no stop");
        if (!has_newline(free_run, n_free, &first)) continue;
        found = 1;
        ok(frz_session_seq_truncate(s, 0, 0), "clear");
        ok(frz_session_set_int(s, FRZ_OPT_SEED, seed), "seed");
        ok(frz_prompt_generate(s, 0, pr, &gp, FRZ_PROMPT_STOP_NEWLINE, stopped, 40, &n_stop), "stop at newline");
        ck_assert_uint_eq(n_stop, first);
        ck_assert(memcmp(stopped, free_run, first * sizeof *stopped) == 0);
        ck_assert_int_eq(frz_session_seq_len(s, 0), (int64_t)(frz_prompt_len(pr) + first));
        /* with a stop string of the caller's too: both apply, and the caller's array is not changed */
        const char *stop[1] = {"\x01never"};
        gp.stop = stop;
        gp.n_stop = 1;
        ok(frz_session_seq_truncate(s, 0, 0), "clear");
        ok(frz_session_set_int(s, FRZ_OPT_SEED, seed), "seed");
        ok(frz_prompt_generate(s, 0, pr, &gp, FRZ_PROMPT_STOP_NEWLINE, stopped, 40, &n_stop), "both");
        ck_assert_uint_eq(n_stop, first);
        ck_assert(gp.n_stop == 1 && stop[0][0] == 1);
        gp.stop = NULL;
        gp.n_stop = 0;
    }
    ck_assert_msg(found, "no sampled continuation with a newline in 200 seeds");

    /* NULL prompt: continue the slot as it stands; NULL params: greedy defaults */
    int32_t g1[8], g2[8];
    size_t n1, n2;
    ok(frz_session_seq_truncate(s, 0, 0), "clear");
    ok(frz_prompt_eval(s, 0, pr, FRZ_LOGITS_NONE), "eval");
    ok(frz_prompt_generate(s, 0, NULL, NULL, 0, g1, 8, &n1), "continue");
    ok(frz_session_seq_truncate(s, 0, 0), "clear");
    ok(frz_prompt_generate(s, 0, pr, NULL, 0, g2, 8, &n2), "eval + generate");
    ck_assert_uint_eq(n1, n2);
    ck_assert(memcmp(g1, g2, n1 * sizeof *g1) == 0);
    frz_prompt_free(pr);
    frz_session_free(s);
}
END_TEST

START_TEST(test_score_candidates)
{
    float *e = vectors(2, 6);
    frz_prompt *pr = new_prompt();
    ok(frz_prompt_add_embeddings(pr, e, 2), "image");
    ok(frz_prompt_add_text(pr, "Question: What is this? Answer:", (size_t)-1, 0), "question");
    const char *cands[3] = {" dax", " blicket", ""};
    double lp[3];
    frz_session *s = session(2);
    ok(frz_prompt_score(s, 0, pr, cands, 3, lp), "score");
    ck_assert_int_eq(frz_session_seq_len(s, 0), (int64_t)frz_prompt_len(pr)); /* candidates not kept */
    ck_assert(lp[2] == 0.0);
    /* by hand: eval, then frz_score of each candidate's tokens */
    ok(frz_prompt_eval(s, 1, pr, FRZ_LOGITS_LAST), "eval");
    for (int i = 0; i < 2; i++) {
        int32_t ids[32];
        size_t n = tokens_of(cands[i], ids, 32);
        double want;
        ok(frz_score(s, 1, ids, n, NULL, &want), "frz_score");
        ck_assert_msg(lp[i] == want, "candidate %d: %.17g vs %.17g", i, lp[i], want);
        ck_assert(want < 0.0);
    }
    ck_assert(lp[0] != lp[1]);
    /* NULL prompt: score against the slot as it stands */
    double again[2];
    ok(frz_prompt_score(s, 0, NULL, cands, 2, again), "score again");
    ck_assert(again[0] == lp[0] && again[1] == lp[1]);
    frz_prompt_free(pr);
    frz_session_free(s);
    free(e);
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("prompt");
    TCase *tc = tcase_create("builder");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_assembly_order_positions_embeddings);
    tcase_add_test(tc, test_special_tokens_flag);
    tcase_add_test(tc, test_argument_errors);
    tcase_add_test(tc, test_alloc_failures);
    suite_add_tcase(s, tc);
    TCase *run = tcase_create("run");
    tcase_set_timeout(run, 60);
    tcase_add_checked_fixture(run, setup, teardown);
    tcase_add_test(run, test_eval_is_session_eval);
    tcase_add_test(run, test_embeddings_enter_the_lm);
    tcase_add_test(run, test_cached_equals_uncached);
    tcase_add_test(run, test_fork_sampling);
    tcase_add_test(run, test_seq_copy);
    tcase_add_test(run, test_context_overflow);
    tcase_add_test(run, test_generate_newline);
    tcase_add_test(run, test_score_candidates);
    suite_add_tcase(s, run);
    return s;
}

FRZ_TEST_MAIN(make_suite)
