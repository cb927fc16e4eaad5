/* check_lm_pretrain.c -- training the LM's own weights: writable models, the Hugging Face folder writer, GPT-2's
 * random initialisation, AdamW over the weights against torch.optim.AdamW (tests/reference/
 * make_lm_adamw_fixtures.py), the corpus (samples per line, TAB segments, truncation, errors naming file:line),
 * the learning-rate schedule, and a tiny pretraining run whose loss must fall to near zero. */
#include "core/core.h"
#include "formats/safetensors.h"
#include "lm/gpt2_train.h"
#include "train/corpus.h"
#include "train/lm_opt.h"
#include "train/pretrain.h"
#include "util/testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <stddef.h>
#include <string.h>
#include <unistd.h>

#define TOK_DIR FRZ_FIXTURES "/models/gpt2-f32" /* a 457-id byte-level BPE with <|endoftext|> */

/* Every tensor of a and b (same config) is bit for bit the same. */
static void assert_same_weights(const frz_lm *a, const frz_lm *b)
{
    ck_assert_int_eq(memcmp(&a->cfg, &b->cfg, sizeof a->cfg), 0);
    frz_gpt2_weights wa = a->w, wb = b->w;
    frz_gpt2_tensor *ta, *tb;
    size_t na, nb;
    ck_assert(frz_gpt2_table(&a->cfg, &wa, &ta, &na) == FRZ_OK);
    ck_assert(frz_gpt2_table(&b->cfg, &wb, &tb, &nb) == FRZ_OK);
    ck_assert_uint_eq(na, nb);
    for (size_t i = 0; i < na; i++)
        ck_assert_msg(memcmp(*ta[i].dst, *tb[i].dst, frz_gpt2_numel(&ta[i]) * sizeof(float)) == 0, "tensor %s differs",
                      ta[i].name);
    free(ta);
    free(tb);
}

static frz_lm *random_lm(int layers, int width, int heads, int ctx, uint64_t seed)
{
    frz_lm_config c;
    frz_lm_config_init(&c);
    c.n_layer = layers, c.n_embd = width, c.n_head = heads, c.n_ctx = ctx;
    frz_lm *lm = NULL;
    ck_assert_msg(frz_lm_create_random(&c, TOK_DIR, seed, &lm) == FRZ_OK, "%s", frz_last_error());
    return lm;
}

/* ---- saving and loading ------------------------------------------------------------------------------------ */

START_TEST(random_model_roundtrips_bit_exactly)
{
    frz_lm *lm = random_lm(2, 32, 4, 40, 7);
    ck_assert_int_eq(frz_lm_get(lm, FRZ_LM_N_VOCAB), 457); /* from the tokenizer */
    ck_assert_int_eq(frz_lm_get(lm, FRZ_LM_EOT_TOKEN), 456);
    const char *dir = path_in(make_temp_dir(), "model");
    ck_assert_msg(frz_lm_save(lm, dir) == FRZ_OK, "%s", frz_last_error());
    frz_lm *back = NULL;
    ck_assert_msg(frz_lm_load(dir, &back) == FRZ_OK, "%s", frz_last_error());
    assert_same_weights(lm, back);
    ck_assert_int_eq(frz_lm_get(back, FRZ_LM_N_PARAMS), frz_lm_get(lm, FRZ_LM_N_PARAMS));
    /* the tokenizer files are copies */
    size_t l1, l2;
    char *v1 = read_file_or_fail(path_in(TOK_DIR, "vocab.json"), &l1), *v2 = read_file_or_fail(path_in(dir, "vocab.json"), &l2);
    ck_assert(l1 == l2 && memcmp(v1, v2, l1) == 0);
    free(v1), free(v2);
    /* config.json holds what transformers writes for GPT2LMHeadModel */
    char *cfg = read_file_or_fail(path_in(dir, "config.json"), &l1);
    const char *want[] = {"\"GPT2LMHeadModel\"", "\"model_type\": \"gpt2\"", "\"n_positions\": 40", "\"n_ctx\": 40",
                          "\"vocab_size\": 457", "\"activation_function\": \"gelu_new\"", "\"eos_token_id\": 456",
                          "\"layer_norm_epsilon\": 1e-5", "\"n_layer\": 2"};
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) ck_assert_msg(strstr(cfg, want[i]), "config lacks %s", want[i]);
    free(cfg);
    /* the hub's names, no prefix, no tied head */
    frz_st_set *set;
    ck_assert(frz_st_open_file(path_in(dir, "model.safetensors"), &set) == FRZ_OK);
    ck_assert(frz_st_find(set, "h.1.attn.c_attn.weight") && frz_st_find(set, "wte.weight"));
    ck_assert(!frz_st_find(set, "lm_head.weight"));
    frz_st_close(set);
    frz_lm_free(back);
    frz_lm_free(lm);
}
END_TEST

START_TEST(loaded_models_become_writable_and_save_back)
{
    /* F32 in place and F16 converted at load, with and without the "transformer." prefix: a writable copy holds
     * the very values, and its folder loads back to them. */
    const char *names[] = {"gpt2-f32", "gpt2-f16-prefix", "gpt2-bf16-sharded"};
    for (size_t k = 0; k < 3; k++) {
        char src[256];
        snprintf(src, sizeof src, FRZ_FIXTURES "/models/%s", names[k]);
        frz_lm *ref = NULL, *lm = NULL, *back = NULL, *copy = NULL;
        ck_assert(frz_lm_load(src, &ref) == FRZ_OK && frz_lm_load(src, &lm) == FRZ_OK);
        ck_assert(lm->st != NULL && lm->mem == NULL);
        ck_assert_msg(frz_gpt2_make_writable(lm) == FRZ_OK, "%s", frz_last_error());
        ck_assert(lm->st == NULL && lm->mem != NULL && lm->n_owned == 0);
        assert_same_weights(ref, lm);
        ck_assert(lm->w.lm_head == lm->w.wte);
        lm->mem[0] += 1.0f; /* writable: and the copy is the model's own */
        ck_assert(lm->w.wte[0] == ref->w.wte[0] + 1.0f);
        lm->mem[0] -= 1.0f;
        ck_assert(frz_gpt2_clone(ref, &copy) == FRZ_OK);
        assert_same_weights(ref, copy);
        ck_assert(copy->tok != NULL && copy->eot == ref->eot);
        const char *dir = path_in(make_temp_dir(), names[k]);
        ck_assert_msg(frz_lm_save(copy, dir) == FRZ_OK, "%s", frz_last_error());
        ck_assert(frz_lm_load(dir, &back) == FRZ_OK);
        assert_same_weights(ref, back);
        frz_lm_free(ref), frz_lm_free(lm), frz_lm_free(back), frz_lm_free(copy);
    }
}
END_TEST

START_TEST(random_init_is_gpt2s)
{
    frz_lm *lm = random_lm(4, 128, 4, 64, 3);
    const frz_gpt2_config *c = &lm->cfg;
    const size_t C = 128, V = (size_t)c->n_vocab;
    /* sample std of N(0, s): relative error about 1/sqrt(2n); n >= 16k here, so 3% is > 5 sigma */
    struct { const float *p; size_t n; double std; const char *what; } m[] = {
        {lm->w.wte, V * C, 0.02, "wte"},
        {lm->w.wpe, 64 * C, 0.02, "wpe"},
        {lm->w.layers[2].qkv_w, C * 3 * C, 0.02, "c_attn"},
        {lm->w.layers[1].fc_w, C * 4 * C, 0.02, "c_fc"},
        {lm->w.layers[3].attn_proj_w, C * C, 0.02 / sqrt(8.0), "attn.c_proj"},
        {lm->w.layers[0].fc_proj_w, 4 * C * C, 0.02 / sqrt(8.0), "mlp.c_proj"},
    };
    for (size_t i = 0; i < sizeof m / sizeof m[0]; i++) {
        double s = 0, s2 = 0;
        for (size_t j = 0; j < m[i].n; j++) s += m[i].p[j], s2 += (double)m[i].p[j] * m[i].p[j];
        double mean = s / (double)m[i].n, sd = sqrt(s2 / (double)m[i].n - mean * mean);
        ck_assert_msg(fabs(sd / m[i].std - 1) < 0.03, "%s: std %g, want %g", m[i].what, sd, m[i].std);
        ck_assert_msg(fabs(mean) < 4 * m[i].std / sqrt((double)m[i].n), "%s: mean %g", m[i].what, mean);
    }
    for (int l = 0; l < 4; l++) {
        const frz_gpt2_layer *L = &lm->w.layers[l];
        for (size_t j = 0; j < C; j++) {
            ck_assert(L->ln1_w[j] == 1.0f && L->ln2_w[j] == 1.0f && L->ln1_b[j] == 0.0f && L->ln2_b[j] == 0.0f);
            ck_assert(L->attn_proj_b[j] == 0.0f && L->fc_proj_b[j] == 0.0f);
        }
        for (size_t j = 0; j < 3 * C; j++) ck_assert(L->qkv_b[j] == 0.0f);
        for (size_t j = 0; j < 4 * C; j++) ck_assert(L->fc_b[j] == 0.0f);
    }
    ck_assert(lm->w.lm_head == lm->w.wte);
    /* the same seed, the same model; another seed, another */
    frz_lm *same = random_lm(4, 128, 4, 64, 3), *other = random_lm(4, 128, 4, 64, 4);
    assert_same_weights(lm, same);
    ck_assert(memcmp(lm->w.wte, other->w.wte, V * C * sizeof(float)) != 0);
    frz_lm_free(lm), frz_lm_free(same), frz_lm_free(other);
}
END_TEST

START_TEST(create_and_save_errors)
{
    frz_lm_config c;
    frz_lm_config_init(&c);
    frz_lm *lm = NULL;
    c.n_head = 3;
    ck_assert_int_eq(frz_lm_create_random(&c, TOK_DIR, 1, &lm), FRZ_ERR_INVALID_ARG);
    ASSERT_MSG_HAS("n_head");
    frz_lm_config_init(&c);
    ck_assert_int_eq(frz_lm_create_random(&c, "/nonexistent-tok", 1, &lm), FRZ_ERR_IO);
    ASSERT_MSG_HAS("/nonexistent-tok/vocab.json");
    frz_lm_config_init(&c);
    c.untied_head = 2;
    ck_assert_int_eq(frz_lm_create_random(&c, TOK_DIR, 1, &lm), FRZ_ERR_INVALID_ARG);
    ASSERT_MSG_HAS("untied_head");
    ck_assert(lm == NULL);
    lm = random_lm(1, 16, 2, 8, 1);
    /* a folder under a regular file cannot be made */
    const char *file = write_temp_file("plain.txt", "x", 1);
    char bad[512];
    snprintf(bad, sizeof bad, "%s/model", file);
    ck_assert_int_eq(frz_lm_save(lm, bad), FRZ_ERR_IO);
    ASSERT_MSG_HAS(bad);
    frz_lm_free(lm);
    /* an in-memory model without a tokenizer cannot be saved as a folder */
    frz_gpt2_config gc;
    frz_gpt2_config_init(&gc, 1, 2, 16, 50, 8);
    ck_assert(frz_gpt2_create_random(&gc, 1, &lm) == FRZ_OK);
    ck_assert_int_eq(frz_lm_save(lm, path_in(make_temp_dir(), "m")), FRZ_ERR_INVALID_ARG);
    ASSERT_MSG_HAS("no tokenizer");
    frz_lm_free(lm);
}
END_TEST

/* ---- AdamW against PyTorch --------------------------------------------------------------------------------- */

static const frz_st_tensor *need(const frz_st_set *set, const char *prefix, const char *name)
{
    char key[160];
    snprintf(key, sizeof key, "%s%s", prefix, name);
    const frz_st_tensor *t = frz_st_find(set, key);
    ck_assert_msg(t != NULL, "fixture lacks %s", key);
    return t;
}

START_TEST(adamw_two_steps_match_torch)
{
    frz_st_set *fx;
    ck_assert(frz_st_open_file(FRZ_FIXTURES "/lm_adamw/gpt2-eps.safetensors", &fx) == FRZ_OK);
    frz_lm *lm = NULL;
    ck_assert(frz_lm_load(FRZ_FIXTURES "/models/gpt2-eps", &lm) == FRZ_OK);
    ck_assert(frz_gpt2_make_writable(lm) == FRZ_OK);
    frz_lm_opt *o;
    ck_assert(frz_lm_opt_create(lm, &o) == FRZ_OK);
    frz_gpt2_weights w = lm->w;
    frz_gpt2_tensor *t;
    size_t nt;
    ck_assert(frz_gpt2_table(&lm->cfg, &w, &t, &nt) == FRZ_OK);
    ck_assert_uint_eq(nt, o->n_tensors);

    /* our own first gradient on the fixture's batch */
    const frz_st_tensor *tok = frz_st_find(fx, "tokens"), *tgt = frz_st_find(fx, "targets");
    const int B = (int)tok->shape[0], T = (int)tok->shape[1];
    frz_gpt2_train_ws *ws;
    ck_assert(frz_gpt2_train_ws_create(lm, B, T, &ws) == FRZ_OK);
    float loss;
    ck_assert(frz_gpt2_train_forward(ws, tok->data, NULL, tgt->data, 2, &loss) == FRZ_OK);
    ck_assert_double_eq_tol(loss, ((const double *)frz_st_find(fx, "loss1")->data)[0], 1e-4);
    frz_gpt2_grads_zero(o->g, 2);
    ck_assert(frz_gpt2_train_backward(ws, NULL, o->g, 2) == FRZ_OK);
    for (size_t i = 0; i < nt; i++) {
        const float *want = need(fx, "grad1.", t[i].name)->data, *got = o->g->mem + o->off[i];
        double scale = 0, err = 0;
        for (size_t j = 0; j < frz_gpt2_numel(&t[i]); j++)
            scale = fmax(scale, fabs(want[j])), err = fmax(err, fabs(got[j] - want[j]));
        ck_assert_msg(err <= 1e-4 * scale, "grad %s: error %g, scale %g", t[i].name, err, scale);
    }

    /* two optimiser steps on the reference's gradients, clipped to norm 1, decay on the 2-D tensors only */
    const frz_adam_hp hp = {1e-2f, 0.9f, 0.95f, 1e-8f, 0.1f};
    for (int step = 1; step <= 2; step++) {
        for (size_t i = 0; i < nt; i++)
            memcpy(o->g->mem + o->off[i], need(fx, step == 1 ? "grad1." : "grad2.", t[i].name)->data,
                   frz_gpt2_numel(&t[i]) * sizeof(float));
        const float scale = frz_clip_scale(sqrt(frz_lm_opt_sum_squares(o, 2)), 1.0f);
        ck_assert(scale < 1.0f);
        frz_lm_opt_step(o, &hp, step, scale, 2);
    }
    for (size_t i = 0; i < nt; i++) {
        const float *want = need(fx, "after2.", t[i].name)->data, *got = lm->mem + o->off[i];
        for (size_t j = 0; j < frz_gpt2_numel(&t[i]); j++)
            ck_assert_msg(fabs(got[j] - want[j]) <= 1e-6 * fmax(1.0, fabs(want[j])), "%s[%zu]: %.9g, want %.9g",
                          t[i].name, j, got[j], want[j]);
    }
    free(t);
    frz_gpt2_train_ws_free(ws);
    frz_lm_opt_free(o);
    frz_lm_free(lm);
    frz_st_close(fx);
}
END_TEST

/* ---- the corpus ---------------------------------------------------------------------------------------------- */

static int32_t *tokens_of(const frz_lm *lm, const char *text, size_t *n)
{
    int32_t *ids = malloc(4096 * sizeof *ids);
    ck_assert(frz_tokenize(lm, text, (size_t)-1, 0, ids, 4096, n) == FRZ_OK);
    return ids;
}

START_TEST(corpus_samples_and_tab_segments)
{
    frz_lm *lm = random_lm(1, 16, 2, 64, 1);
    const char text[] = "Answer with dax or blicket.\ta boot\tThis is a dax.\r\n\n   \t \nhi\n";
    const char *path = write_temp_file("corpus.txt", text, sizeof text - 1);
    frz_corpus *seg = NULL, *whole = NULL;
    ck_assert(frz_corpus_load(path, lm->tok, lm->eot, 1, 1000, &seg) == FRZ_OK);
    ck_assert(frz_corpus_load(path, lm->tok, lm->eot, 0, 1000, &whole) == FRZ_OK);
    ck_assert_uint_eq(seg->n, 2); /* the blank and whitespace-only lines are skipped */
    ck_assert_int_eq(seg->line[0], 1);
    ck_assert_int_eq(seg->line[1], 4);
    /* segments: each tokenized on its own, concatenated, then <|endoftext|> */
    const char *parts[] = {"Answer with dax or blicket.", "a boot", "This is a dax."};
    int32_t want[256];
    size_t nw = 0;
    for (int i = 0; i < 3; i++) {
        size_t n;
        int32_t *ids = tokens_of(lm, parts[i], &n);
        memcpy(want + nw, ids, n * sizeof *ids);
        nw += n;
        free(ids);
    }
    want[nw++] = lm->eot;
    ck_assert_uint_eq(frz_corpus_len(seg, 0), nw);
    ck_assert_int_eq(memcmp(seg->ids + seg->off[0], want, nw * sizeof *want), 0);
    /* ... which is not the tokenization of the joined text: "th" TAB "e cat" is [th][e][ cat], not [t][he][ cat] */
    frz_corpus *split_word;
    const char *p2 = write_temp_file("word.txt", "th\te cat\n", 9);
    ck_assert(frz_corpus_load(p2, lm->tok, lm->eot, 1, 1000, &split_word) == FRZ_OK);
    size_t n1, n2, nj;
    int32_t *a = tokens_of(lm, "th", &n1), *b = tokens_of(lm, "e cat", &n2), *joined = tokens_of(lm, "the cat", &nj);
    ck_assert_uint_eq(frz_corpus_len(split_word, 0), n1 + n2 + 1);
    ck_assert_int_eq(memcmp(split_word->ids, a, n1 * sizeof *a), 0);
    ck_assert_int_eq(memcmp(split_word->ids + n1, b, n2 * sizeof *b), 0);
    ck_assert(nj != n1 + n2 || memcmp(joined, split_word->ids, nj * sizeof *joined) != 0);
    free(a), free(b), free(joined);
    frz_corpus_free(split_word);
    /* without --tab-segments the TAB is text */
    size_t nt;
    int32_t *with_tabs = tokens_of(lm, "Answer with dax or blicket.\ta boot\tThis is a dax.", &nt);
    ck_assert_uint_eq(frz_corpus_len(whole, 0), nt + 1);
    ck_assert_int_eq(memcmp(whole->ids + whole->off[0], with_tabs, nt * sizeof *with_tabs), 0);
    free(with_tabs);
    ck_assert_int_eq(seg->n_truncated, 0);
    frz_corpus_free(seg), frz_corpus_free(whole);

    /* truncation: kept to max_len ids, counted */
    frz_corpus *cut;
    ck_assert(frz_corpus_load(path, lm->tok, lm->eot, 1, 5, &cut) == FRZ_OK);
    ck_assert_int_eq(cut->n_truncated, 1);
    ck_assert_uint_eq(frz_corpus_len(cut, 0), 5);
    ck_assert_int_eq(memcmp(cut->ids, want, 5 * sizeof *want), 0);
    ck_assert_int_eq(cut->ids[cut->off[1] + frz_corpus_len(cut, 1) - 1], lm->eot); /* "hi" fits */
    frz_corpus_free(cut);
    frz_lm_free(lm);
}
END_TEST

START_TEST(corpus_errors_name_the_line)
{
    frz_lm *lm = random_lm(1, 16, 2, 64, 1);
    frz_corpus *c = NULL;
    const char *empty = write_temp_file("empty.txt", "\n  \n\t\n", 5);
    ck_assert_int_eq(frz_corpus_load(empty, lm->tok, lm->eot, 0, 100, &c), FRZ_ERR_FORMAT);
    ASSERT_MSG_HAS(empty);
    ASSERT_MSG_HAS("no samples");
    const char bad_utf8[] = "fine\nalso fine\nbad \xC3\x28 byte\n";
    const char *p = write_temp_file("bad.txt", bad_utf8, sizeof bad_utf8 - 1);
    ck_assert_int_eq(frz_corpus_load(p, lm->tok, lm->eot, 0, 100, &c), FRZ_ERR_FORMAT);
    char where[512];
    snprintf(where, sizeof where, "%s:3: invalid UTF-8 at column 5", p);
    ASSERT_MSG_HAS(where);
    const char nul[] = "a\nb\0c\n";
    p = write_temp_file("nul.txt", nul, sizeof nul - 1);
    ck_assert_int_eq(frz_corpus_load(p, lm->tok, lm->eot, 0, 100, &c), FRZ_ERR_FORMAT);
    snprintf(where, sizeof where, "%s:2: a NUL byte", p);
    ASSERT_MSG_HAS(where);
    ck_assert_int_eq(frz_corpus_load("/nonexistent/corpus.txt", lm->tok, lm->eot, 0, 100, &c), FRZ_ERR_IO);
    ASSERT_MSG_HAS("/nonexistent/corpus.txt");
    ck_assert(c == NULL);
    frz_lm_free(lm);
}
END_TEST

START_TEST(split_is_deterministic_and_disjoint)
{
    frz_corpus c = {0};
    c.n = 200;
    int32_t *tr, *va, *tr2, *va2;
    size_t nt, nv, nt2, nv2;
    ck_assert(frz_corpus_split(&c, 0.1, 5, &tr, &nt, &va, &nv) == FRZ_OK);
    ck_assert_uint_eq(nv, 20);
    ck_assert_uint_eq(nt, 180);
    ck_assert(frz_corpus_split(&c, 0.1, 5, &tr2, &nt2, &va2, &nv2) == FRZ_OK);
    ck_assert_int_eq(memcmp(va, va2, nv * sizeof *va), 0);
    unsigned char seen[200] = {0};
    for (size_t i = 0; i < nt; i++) seen[tr[i]]++;
    for (size_t i = 0; i < nv; i++) seen[va[i]]++;
    for (int i = 0; i < 200; i++) ck_assert_int_eq(seen[i], 1);
    for (size_t i = 1; i < nv; i++) ck_assert(va[i] > va[i - 1]); /* file order */
    free(tr), free(va), free(tr2), free(va2);
    ck_assert(frz_corpus_split(&c, 0.0, 5, &tr, &nt, &va, &nv) == FRZ_OK);
    ck_assert(nv == 0 && va == NULL && nt == 200);
    free(tr);
}
END_TEST

/* ---- the schedule and the run ---------------------------------------------------------------------------------- */

START_TEST(lr_warms_up_then_decays_to_a_tenth)
{
    frz_pretrain_params p;
    frz_pretrain_params_init(&p);
    p.lr = 1e-3f;
    p.warmup = 10;
    ck_assert_float_eq_tol(frz_pretrain_lr(&p, 0, 110), 1e-4f, 1e-9);
    ck_assert_float_eq_tol(frz_pretrain_lr(&p, 4, 110), 5e-4f, 1e-9);
    ck_assert_float_eq_tol(frz_pretrain_lr(&p, 9, 110), 1e-3f, 1e-9);
    ck_assert_float_eq_tol(frz_pretrain_lr(&p, 10, 110), 1e-3f, 1e-9);           /* the cosine's start */
    ck_assert_float_eq_tol(frz_pretrain_lr(&p, 109, 110), 1e-4f, 1e-9);          /* the last step: lr / 10 */
    /* halfway: 0.1 + 0.9 * (1 + cos(pi/2)) / 2 = 0.55 of lr */
    p.warmup = 0;
    ck_assert_float_eq_tol(frz_pretrain_lr(&p, 50, 101), 5.5e-4f, 1e-9);
}
END_TEST

typedef struct seen_progress {
    int calls;
    frz_pretrain_progress last;
    int abort_after;
    int polls, abort_at_poll; /* abort_polled: stop at that poll of the abort callback (steps and validation) */
    float loss[256];  /* by step */
} seen_progress;

static void on_progress(const frz_pretrain_progress *pr, void *ud)
{
    seen_progress *s = ud;
    s->calls++;
    s->last = *pr;
    if (pr->step < 256) s->loss[pr->step] = pr->loss;
}

static int abort_when(void *ud)
{
    const seen_progress *s = ud;
    return s->abort_after > 0 && s->calls >= s->abort_after;
}

/* Records the run's progress in s and stops it once s->abort_after progress calls have come (0: never). */
static void watch(frz_pretrain_params *p, seen_progress *s)
{
    p->progress = on_progress;
    p->progress_data = s;
    p->abort = abort_when;
    p->abort_data = s;
}

static int abort_polled(void *ud)
{
    seen_progress *s = ud;
    return ++s->polls == s->abort_at_poll;
}

/* Four facts, each a sample: after the first word the rest is determined, so the loss can reach zero. */
static const char *fact_corpus(void)
{
    static char buf[8192];
    const char *facts[] = {"red apples grow on trees", "yellow bananas are long", "green limes taste sour",
                           "purple grapes make wine"};
    size_t n = 0;
    for (int i = 0; i < 64; i++) n += (size_t)snprintf(buf + n, sizeof buf - n, "%s\n", facts[(i * 7 + i / 3) % 4]);
    return write_temp_file("facts.txt", buf, n);
}

START_TEST(pretraining_learns_a_tiny_corpus)
{
    frz_lm *lm = random_lm(2, 32, 2, 16, 11);
    frz_lm *start = NULL;
    ck_assert(frz_gpt2_clone(lm, &start) == FRZ_OK);
    const char *corpus = fact_corpus(), *out = path_in(make_temp_dir(), "lm");
    seen_progress seen = {0};
    frz_pretrain_params p;
    frz_pretrain_params_init(&p);
    p.steps = 150;
    p.batch_size = 16;
    p.lr = 1e-2f;
    p.warmup = 10;
    p.val_fraction = 0.1f;
    p.n_threads = 2;
    p.seed = 3;
    p.progress = on_progress;
    p.progress_data = &seen;
    frz_pretrain *t = NULL;
    ck_assert_msg(frz_pretrain_create(lm, corpus, out, &p, &t) == FRZ_OK, "%s", frz_last_error());
    ck_assert_msg(frz_pretrain_run(t) == FRZ_OK, "%s", frz_last_error());
    ck_assert_int_eq(seen.calls, 150);
    ck_assert_int_eq(seen.last.n_train + seen.last.n_val, 64);
    ck_assert_int_eq(seen.last.n_val, 6);
    /* the first words are uniform over 4 facts but never predicted; everything after is determined */
    ck_assert_msg(seen.last.loss < 0.05f, "final training loss %g", (double)seen.last.loss);
    ck_assert_msg(seen.last.val_loss > 0 && seen.last.val_loss < 0.05, "validation loss %g", seen.last.val_loss);
    ck_assert(seen.last.tokens_per_s > 0);
    /* progress into structs of other sizes: a newer caller's longer struct gets this library's members and their
     * extent, its extra bytes untouched; an older caller's shorter one only its own bytes; a size that cannot be
     * real is refused */
    unsigned char buf[sizeof(frz_pretrain_progress) + 32];
    memset(buf, 0xA5, sizeof buf);
    size_t sz = sizeof buf;
    memcpy(buf, &sz, sizeof sz);
    ck_assert(frz_pretrain_get_progress(t, (frz_pretrain_progress *)(void *)buf) == FRZ_OK);
    memcpy(&sz, buf, sizeof sz);
    ck_assert_uint_eq(sz, sizeof(frz_pretrain_progress));
    for (size_t i = sizeof(frz_pretrain_progress); i < sizeof buf; i++) ck_assert_uint_eq(buf[i], 0xA5);
    frz_pretrain_progress whole;
    memcpy(&whole, buf, sizeof whole);
    ck_assert_int_eq(whole.step, 150);
    memset(buf, 0xA5, sizeof buf);
    sz = offsetof(frz_pretrain_progress, step) + sizeof whole.step;
    memcpy(buf, &sz, sizeof sz);
    ck_assert(frz_pretrain_get_progress(t, (frz_pretrain_progress *)(void *)buf) == FRZ_OK);
    for (size_t i = sz; i < sizeof buf; i++) ck_assert_uint_eq(buf[i], 0xA5);
    sz = 3;
    memcpy(buf, &sz, sizeof sz);
    ck_assert_int_eq(frz_pretrain_get_progress(t, (frz_pretrain_progress *)(void *)buf), FRZ_ERR_INVALID_ARG);
    frz_pretrain_free(t);
    /* the folder holds the trained model, which the normal loader reads back bit for bit */
    frz_lm *back = NULL;
    ck_assert(frz_lm_load(out, &back) == FRZ_OK);
    assert_same_weights(lm, back);
    ck_assert(memcmp(lm->w.wte, start->w.wte, 457 * 32 * sizeof(float)) != 0);
    size_t len;
    char *csv = read_file_or_fail(path_in(out, "metrics.csv"), &len);
    ck_assert(strncmp(csv, "step,epoch,loss,val_ppl,tokens_per_s,lr\n1,0,", 44) == 0);
    free(csv);
    free(read_file_or_fail(path_in(out, "loss.png"), &len));
    ck_assert(len > 100);
    frz_lm_free(back), frz_lm_free(start), frz_lm_free(lm);
}
END_TEST

/* An untied head: the tied model's tensors drawn first (the same values), then lm_head of its own, N(0, 0.02); the
 * folder says tie_word_embeddings false and stores lm_head.weight; pretraining moves the head and wte apart. */
START_TEST(untied_head_is_a_tensor_of_its_own)
{
    frz_lm_config c;
    frz_lm_config_init(&c);
    c.n_layer = 2, c.n_embd = 64, c.n_head = 2, c.n_ctx = 16, c.untied_head = 1;
    frz_lm *lm = NULL, *tied = random_lm(2, 64, 2, 16, 11), *old = NULL;
    /* a program built before untied_head: its struct ends where reserved0 starts, plus the padding its sizeof
     * (its struct_size) covers -- garbage there, and in what would be untied_head, is never read */
    frz_lm_config older = c;
    older.struct_size = offsetof(frz_lm_config, reserved0) + sizeof older.reserved0;
    ck_assert_uint_eq(older.struct_size % sizeof(size_t), 0);
    older.reserved0 = -1, older.untied_head = 0x5A5A;
    ck_assert_msg(frz_lm_create_random(&older, TOK_DIR, 11, &old) == FRZ_OK, "%s", frz_last_error());
    ck_assert(old->cfg.tie_lm_head);
    assert_same_weights(old, tied);
    frz_lm_free(old);
    ck_assert_msg(frz_lm_create_random(&c, TOK_DIR, 11, &lm) == FRZ_OK, "%s", frz_last_error());
    const size_t V = 457, C = 64;
    ck_assert(!lm->cfg.tie_lm_head && lm->w.lm_head != lm->w.wte);
    ck_assert_int_eq(frz_lm_get(lm, FRZ_LM_N_PARAMS), frz_lm_get(tied, FRZ_LM_N_PARAMS) + (int64_t)(V * C));
    ck_assert(memcmp(lm->w.wte, tied->w.wte, V * C * sizeof(float)) == 0);
    ck_assert(memcmp(lm->w.layers[1].fc_w, tied->w.layers[1].fc_w, C * 4 * C * sizeof(float)) == 0);
    double s2 = 0;
    for (size_t j = 0; j < V * C; j++) s2 += (double)lm->w.lm_head[j] * lm->w.lm_head[j];
    ck_assert_msg(fabs(sqrt(s2 / (double)(V * C)) / 0.02 - 1) < 0.03, "lm_head std %g", sqrt(s2 / (double)(V * C)));
    /* a few steps on the facts, saved and loaded back */
    const char *out = path_in(make_temp_dir(), "untied");
    frz_pretrain_params p;
    frz_pretrain_params_init(&p);
    p.steps = 3, p.batch_size = 8, p.val_fraction = 0, p.n_threads = 2;
    frz_pretrain *t = NULL;
    ck_assert_msg(frz_pretrain_create(lm, fact_corpus(), out, &p, &t) == FRZ_OK, "%s", frz_last_error());
    ck_assert_msg(frz_pretrain_run(t) == FRZ_OK, "%s", frz_last_error());
    frz_pretrain_free(t);
    ck_assert(memcmp(lm->w.wte, tied->w.wte, V * C * sizeof(float)) != 0);
    ck_assert(memcmp(lm->w.lm_head, lm->w.wte, V * C * sizeof(float)) != 0);
    frz_lm *back = NULL;
    ck_assert_msg(frz_lm_load(out, &back) == FRZ_OK, "%s", frz_last_error());
    ck_assert(!back->cfg.tie_lm_head);
    assert_same_weights(lm, back);
    size_t len;
    char *cfg = read_file_or_fail(path_in(out, "config.json"), &len);
    ck_assert_msg(strstr(cfg, "\"tie_word_embeddings\": false"), "%s", cfg);
    free(cfg);
    frz_st_set *set;
    ck_assert(frz_st_open_file(path_in(out, "model.safetensors"), &set) == FRZ_OK);
    ck_assert(frz_st_find(set, "lm_head.weight") != NULL);
    frz_st_close(set);
    frz_lm_free(back), frz_lm_free(tied), frz_lm_free(lm);
}
END_TEST

START_TEST(pretraining_is_deterministic_and_cancellable)
{
    /* Two runs of the same settings: the same losses, step for step; the second is stopped by its abort
     * callback after step 7 and has saved the model as it was then. */
    static seen_progress seen[2];
    for (int run = 0; run < 2; run++) {
        frz_lm *lm = random_lm(1, 16, 2, 16, 5);
        memset(&seen[run], 0, sizeof seen[run]);
        seen[run].abort_after = run == 1 ? 7 : 0;
        frz_pretrain_params p;
        frz_pretrain_params_init(&p);
        p.steps = 12;
        p.batch_size = 8;
        p.n_threads = 2;
        watch(&p, &seen[run]);
        frz_pretrain *t = NULL;
        const char *out = path_in(make_temp_dir(), "lm");
        ck_assert(frz_pretrain_create(lm, fact_corpus(), out, &p, &t) == FRZ_OK);
        frz_status st = frz_pretrain_run(t);
        if (run == 1) {
            ck_assert_int_eq(st, FRZ_ERR_CANCELLED);
            ck_assert_int_eq(seen[1].last.step, 7);
            ASSERT_MSG_HAS("saved");
            frz_lm *back = NULL;
            ck_assert(frz_lm_load(out, &back) == FRZ_OK);
            assert_same_weights(lm, back);
            frz_lm_free(back);
        } else {
            ck_assert(st == FRZ_OK);
            ck_assert_int_eq(seen[0].last.step, 12);
        }
        frz_pretrain_free(t);
        frz_lm_free(lm);
    }
    for (int s = 1; s <= 7; s++) ck_assert_msg(seen[0].loss[s] == seen[1].loss[s], "step %d: %.9g vs %.9g", s,
                                               (double)seen[0].loss[s], (double)seen[1].loss[s]);
}
END_TEST

/* The metrics rows "step,epoch,loss,val_ppl" without the speed and lr columns (speed differs run to run). */
static char *metrics_without_speed(const char *dir)
{
    size_t len;
    char *csv = read_file_or_fail(path_in(dir, "metrics.csv"), &len);
    char *out = malloc(len + 1), *o = out;
    ck_assert_ptr_nonnull(out);
    for (char *line = strtok(csv, "\n"); line; line = strtok(NULL, "\n")) {
        int commas = 0;
        for (const char *c = line; *c && commas < 4; c++) {
            if (*c == ',') commas++;
            if (commas < 4) *o++ = *c;
        }
        *o++ = '\n';
    }
    *o = '\0';
    free(csv);
    return out;
}

START_TEST(resume_gives_the_uninterrupted_losses)
{
    /* Run 0 goes through 12 steps (an epoch is 8: the resumed part crosses into the next epoch's shuffle); run 1
     * is stopped between steps (after step 5) or, for _i 1, during step 8's validation (the 10th poll of the abort
     * callback: one per step, one per validation batch), and resumed from its folder with the same settings. The resumed steps must have run 0's losses bit for bit,
     * the final weights run 0's, metrics.csv run 0's rows (once each; an interrupted validation is made up), and
     * neither folder may keep a checkpoint once its run is done. */
    static seen_progress seen[2];
    const int in_validation = _i == 1;
    const char *dirs[2] = {path_in(make_temp_dir(), "lm"), path_in(make_temp_dir(), "lm")};
    frz_pretrain_params p;
    frz_pretrain_params_init(&p);
    p.steps = 12;
    p.batch_size = 8;
    p.val_every = 4;
    p.n_threads = 2;
    p.seed = 9;
    p.progress = on_progress;
    frz_lm *final[2] = {NULL, NULL};
    for (int run = 0; run < 2; run++) {
        memset(&seen[run], 0, sizeof seen[run]);
        p.abort = in_validation ? abort_polled : abort_when;
        seen[run].abort_after = run == 1 && !in_validation ? 5 : 0;
        seen[run].abort_at_poll = run == 1 && in_validation ? 10 : 0;
        p.progress_data = p.abort_data = &seen[run];
        frz_lm *lm = random_lm(1, 16, 2, 16, 5);
        frz_pretrain *t = NULL;
        ck_assert(frz_pretrain_create(lm, fact_corpus(), dirs[run], &p, &t) == FRZ_OK);
        frz_status st = frz_pretrain_run(t);
        frz_pretrain_free(t);
        if (run == 1) {
            ck_assert_int_eq(st, FRZ_ERR_CANCELLED);
            const int stopped = in_validation ? 8 : 5;
            ck_assert_int_eq(seen[1].last.step, stopped - in_validation); /* step 8's row is not written yet */
            ASSERT_MSG_HAS(in_validation ? "during validation" : "cancelled after step 5");
            ck_assert(access(path_in(dirs[1], "pretrain-checkpoint.safetensors"), F_OK) == 0);
            frz_lm_free(lm);
            /* the interrupted run's folder gives the model; the checkpoint its weights, moments and step */
            ck_assert(frz_lm_load(dirs[1], &lm) == FRZ_OK);
            seen[1].abort_after = seen[1].abort_at_poll = 0;
            frz_pretrain_params r = p;
            r.resume = 1;
            ck_assert_msg(frz_pretrain_create(lm, fact_corpus(), dirs[1], &r, &t) == FRZ_OK, "%s", frz_last_error());
            frz_pretrain_progress pr;
            pr.struct_size = sizeof pr;
            ck_assert(frz_pretrain_get_progress(t, &pr) == FRZ_OK);
            ck_assert_int_eq(pr.step, stopped);
            ck_assert_msg(frz_pretrain_run(t) == FRZ_OK, "%s", frz_last_error());
            frz_pretrain_free(t);
        } else {
            ck_assert(st == FRZ_OK);
        }
        ck_assert_int_eq(seen[run].last.step, 12);
        ck_assert(access(path_in(dirs[run], "pretrain-checkpoint.safetensors"), F_OK) != 0);
        final[run] = lm;
    }
    for (int s = 1; s <= 12; s++) ck_assert_msg(seen[0].loss[s] == seen[1].loss[s], "step %d: %.9g vs %.9g", s,
                                                (double)seen[0].loss[s], (double)seen[1].loss[s]);
    assert_same_weights(final[0], final[1]);
    char *m0 = metrics_without_speed(dirs[0]), *m1 = metrics_without_speed(dirs[1]);
    ck_assert_str_eq(m1, m0);
    free(m0), free(m1);
    frz_lm_free(final[0]), frz_lm_free(final[1]);
}
END_TEST

START_TEST(resume_refuses_another_run)
{
    /* A run stopped after step 3, then resumed with another learning rate, another corpus, and from a folder
     * without a checkpoint: each refused with the setting or the file named, and the model left as it was. */
    seen_progress seen = {0};
    seen.abort_after = 3;
    frz_pretrain_params p;
    frz_pretrain_params_init(&p);
    p.steps = 10;
    p.batch_size = 8;
    p.n_threads = 1;
    watch(&p, &seen);
    const char *dir = path_in(make_temp_dir(), "lm");
    frz_lm *lm = random_lm(1, 16, 2, 16, 5);
    frz_pretrain *t = NULL;
    ck_assert(frz_pretrain_create(lm, fact_corpus(), dir, &p, &t) == FRZ_OK);
    ck_assert_int_eq(frz_pretrain_run(t), FRZ_ERR_CANCELLED);
    frz_pretrain_free(t);
    frz_lm_free(lm);

    ck_assert(frz_lm_load(dir, &lm) == FRZ_OK);
    frz_lm *before = NULL;
    ck_assert(frz_gpt2_clone(lm, &before) == FRZ_OK);
    p.resume = 1;
    p.lr = 2e-3f;
    ck_assert_int_eq(frz_pretrain_create(lm, fact_corpus(), dir, &p, &t), FRZ_ERR_INVALID_ARG);
    ASSERT_MSG_HAS("lr = 0.0010000000474974513, this one has 0.0020000000949949026");
    ck_assert(t == NULL);
    p.lr = 1e-3f;
    ck_assert_int_eq(frz_pretrain_create(lm, write_temp_file("other.txt", "a b c\nd e f\n", 12), dir, &p, &t),
                     FRZ_ERR_INVALID_ARG);
    ASSERT_MSG_HAS("n_train");
    assert_same_weights(lm, before);
    const char *empty = path_in(make_temp_dir(), "fresh");
    ck_assert_int_eq(frz_pretrain_create(lm, fact_corpus(), empty, &p, &t), FRZ_ERR_IO);
    ASSERT_MSG_HAS("pretrain-checkpoint.safetensors");
    ASSERT_MSG_HAS("no pretraining checkpoint");
    frz_lm_free(before), frz_lm_free(lm);
}
END_TEST

START_TEST(pretrain_argument_errors)
{
    frz_lm *lm = random_lm(1, 16, 2, 16, 5);
    frz_pretrain *t = NULL;
    frz_pretrain_params p;
    frz_pretrain_params_init(&p);
    p.context = 17;
    ck_assert_int_eq(frz_pretrain_create(lm, fact_corpus(), path_in(make_temp_dir(), "o"), &p, &t), FRZ_ERR_INVALID_ARG);
    ASSERT_MSG_HAS("context");
    frz_pretrain_params_init(&p);
    const char *file = write_temp_file("plain2.txt", "x", 1);
    char bad[512];
    snprintf(bad, sizeof bad, "%s/out", file);
    ck_assert_int_eq(frz_pretrain_create(lm, fact_corpus(), bad, &p, &t), FRZ_ERR_IO);
    ASSERT_MSG_HAS(bad);
    ck_assert(t == NULL);
    frz_lm_free(lm);
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("lm_pretrain");
    TCase *tc = tcase_create("lm_pretrain");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, random_model_roundtrips_bit_exactly);
    tcase_add_test(tc, loaded_models_become_writable_and_save_back);
    tcase_add_test(tc, random_init_is_gpt2s);
    tcase_add_test(tc, create_and_save_errors);
    tcase_add_test(tc, adamw_two_steps_match_torch);
    tcase_add_test(tc, corpus_samples_and_tab_segments);
    tcase_add_test(tc, corpus_errors_name_the_line);
    tcase_add_test(tc, split_is_deterministic_and_disjoint);
    tcase_add_test(tc, lr_warms_up_then_decays_to_a_tenth);
    tcase_add_test(tc, pretraining_learns_a_tiny_corpus);
    tcase_add_test(tc, untied_head_is_a_tensor_of_its_own);
    tcase_add_test(tc, pretraining_is_deterministic_and_cancellable);
    tcase_add_loop_test(tc, resume_gives_the_uninterrupted_losses, 0, 2);
    tcase_add_test(tc, resume_refuses_another_run);
    tcase_add_test(tc, pretrain_argument_errors);
    suite_add_tcase(s, tc);
    return s;
}

FRZ_TEST_MAIN(make_suite)
