/* check_prompt_image.c -- images in prompts: each image becomes its visual prefix (frz_image_prefix) at its place,
 * a prompt with k images computes what frz_session_eval computes from the same inputs assembled by hand, the
 * file / memory / RGB / handle forms agree, the blind option uses a black image's prefix, and errors are clear.
 * The encoder is the "tiny" NF-ResNet at 32 pixels, the projector random, the LM the gpt2-f32 fixture (C 48). */
#include "util/testutil.h"

#include "frozen.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static frz_lm *lm;
static frz_vision *vis;
static frz_projector *proj;
static size_t D, V, NP;

#define IMG(name) fixture_path("eval/episodes/img/" name)

static void ok(frz_status st, const char *what)
{
    ck_assert_msg(st == FRZ_OK, "%s: %s: %s", what, frz_strerror(st), frz_last_error());
}

static void setup(void)
{
    ok(frz_lm_load(fixture_path("models/gpt2-f32"), &lm), "load");
    D = (size_t)frz_lm_get(lm, FRZ_LM_N_EMBD);
    V = (size_t)frz_lm_get(lm, FRZ_LM_N_VOCAB);
    ok(frz_vision_create("tiny", 0.0625f, 32, 7, &vis), "encoder");
    NP = 2;
    ok(frz_projector_create((int32_t)frz_vision_get(vis, FRZ_VISION_N_FEATURES), (int32_t)NP, (int32_t)D, 9, &proj),
       "projector");
}

static void teardown(void)
{
    frz_projector_free(proj);
    frz_vision_free(vis);
    frz_lm_free(lm);
}

static frz_prompt *new_prompt(void)
{
    frz_prompt *pr = NULL;
    ok(frz_prompt_create(lm, vis, proj, &pr), "create");
    return pr;
}

/* The prefix of an image file, by the issue-3 API alone. */
static float *prefix_of_file(const char *path)
{
    frz_image *img = NULL;
    ok(frz_image_load_file(path, &img), path);
    float *e = malloc(NP * D * sizeof *e);
    size_t need = 0;
    ok(frz_image_prefix(vis, proj, img, 1, e, NP * D, &need), "prefix");
    ck_assert_uint_eq(need, NP * D);
    frz_image_free(img);
    return e;
}

static size_t tokens_of(const char *text, int32_t *ids, size_t cap)
{
    size_t n = 0;
    ok(frz_tokenize(lm, text, (size_t)-1, 0, ids, cap, &n), "tokenize");
    return n;
}

/* A prompt of three images among four texts against the same computation by hand: the prefixes from
 * frz_image_prefix, the texts from frz_tokenize, one frz_session_eval input. Logits bit for bit, and greedy
 * continuations. */
START_TEST(test_k_images_equal_by_hand)
{
    const char *texts[4] = {"Answer with dax or blicket.", "This is a dax.", "This is a blicket.",
                            "Question: What is this? Answer:"};
    const char *images[3] = {IMG("dax1.jpg"), IMG("blicket1.jpg"), IMG("query1.jpg")};
    frz_prompt *pr = new_prompt();
    for (int i = 0; i < 4; i++) {
        ok(frz_prompt_add_text(pr, texts[i], (size_t)-1, 0), "text");
        if (i < 3) ok(frz_prompt_add_image_file(pr, images[i]), "image");
    }

    /* by hand */
    int32_t tokens[64];
    float *embd = calloc(64 * D, sizeof *embd);
    size_t n = 0;
    size_t img_start[3];
    for (int i = 0; i < 4; i++) {
        n += tokens_of(texts[i], tokens + n, 64 - n);
        if (i < 3) {
            float *e = prefix_of_file(images[i]);
            img_start[i] = n;
            for (size_t k = 0; k < NP; k++) tokens[n + k] = FRZ_TOKEN_EMBEDDING;
            memcpy(embd + n * D, e, NP * D * sizeof *e);
            n += NP;
            free(e);
        }
    }
    ck_assert_uint_eq(frz_prompt_len(pr), n);
    ck_assert_uint_eq(frz_prompt_n_segments(pr), 7);
    for (int i = 0; i < 3; i++) {
        frz_prompt_seg_kind kind;
        size_t start, len;
        ok(frz_prompt_segment(pr, 2 * (size_t)i + 1, &kind, &start, &len), "segment");
        ck_assert_int_eq(kind, FRZ_PROMPT_SEG_IMAGE);
        ck_assert_uint_eq(start, img_start[i]);
        ck_assert_uint_eq(len, NP);
        for (size_t k = 0; k < NP; k++)
            ck_assert_msg(memcmp(frz_prompt_embedding(pr, start + k), embd + (start + k) * D, D * sizeof(float)) == 0,
                          "image %d row %zu differs from frz_image_prefix", i, k);
    }
    int32_t got_ids[64];
    size_t n_ids;
    ok(frz_prompt_tokens(pr, got_ids, 64, &n_ids), "tokens");
    ck_assert(memcmp(got_ids, tokens, n * sizeof *tokens) == 0);

    frz_session *s = NULL;
    ok(frz_session_create(lm, &s), "session");
    ok(frz_session_set_int(s, FRZ_OPT_MAX_SEQS, 2), "slots");
    ok(frz_prompt_eval(s, 0, pr, FRZ_LOGITS_ALL), "prompt eval");
    float *got = malloc(n * V * sizeof *got);
    for (size_t r = 0; r < n; r++) memcpy(got + r * V, frz_session_logits(s, r), V * sizeof *got);
    frz_input in = {1, n, tokens, embd};
    ok(frz_session_eval(s, &in, 1, FRZ_LOGITS_ALL), "by hand");
    for (size_t r = 0; r < n; r++)
        ck_assert_msg(memcmp(got + r * V, frz_session_logits(s, r), V * sizeof *got) == 0, "logits row %zu differ", r);

    /* generation: frz_prompt_generate against eval + frz_generate by hand */
    int32_t a[8], b[8];
    size_t na, nb;
    ok(frz_session_seq_truncate(s, -1, 0), "clear");
    ok(frz_prompt_generate(s, 0, pr, NULL, FRZ_PROMPT_STOP_NEWLINE, a, 8, &na), "prompt generate");
    ok(frz_session_eval(s, &in, 1, FRZ_LOGITS_LAST), "by hand");
    frz_generate_params gp;
    frz_generate_params_init(&gp);
    const char *nl[1] = {"\n"};
    gp.stop = nl;
    gp.n_stop = 1;
    ok(frz_generate(s, 1, &gp, b, 8, &nb), "generate");
    ck_assert_uint_eq(na, nb);
    ck_assert(memcmp(a, b, na * sizeof *a) == 0);

    free(got);
    free(embd);
    frz_session_free(s);
    frz_prompt_free(pr);
}
END_TEST

/* An image from a file, from memory, from raw pixels or as a handle is the same prefix; per-image handles. */
START_TEST(test_image_forms_agree)
{
    const char *path = fixture_path("images/png_rgb8.png");
    size_t len;
    char *bytes = read_file_or_fail(path, &len);
    frz_image *img = NULL;
    ok(frz_image_load_file(path, &img), "load");
    frz_prompt *pr = new_prompt();
    ok(frz_prompt_add_image_file(pr, path), "file");
    ok(frz_prompt_add_image_memory(pr, bytes, len, "mem.png"), "memory");
    ok(frz_prompt_add_image_rgb8(pr, frz_image_pixels(img), frz_image_width(img), frz_image_height(img),
                                 3 * (size_t)frz_image_width(img)),
       "rgb8");
    ok(frz_prompt_add_image(pr, img), "handle");
    ck_assert_uint_eq(frz_prompt_len(pr), 4 * NP);
    for (size_t i = 1; i < 4; i++)
        for (size_t k = 0; k < NP; k++)
            ck_assert_msg(memcmp(frz_prompt_embedding(pr, i * NP + k), frz_prompt_embedding(pr, k), D * 4) == 0,
                          "form %zu row %zu differs", i, k);
    float *want = prefix_of_file(path);
    ck_assert(memcmp(frz_prompt_embedding(pr, 0), want, NP * D * sizeof *want) == 0);

    /* another projector for one image: 3 positions, its own prefix */
    frz_projector *p3 = NULL;
    ok(frz_projector_create((int32_t)frz_vision_get(vis, FRZ_VISION_N_FEATURES), 3, (int32_t)D, 4, &p3), "p3");
    ok(frz_prompt_add_image_with(pr, img, vis, p3), "with");
    size_t start, n;
    ok(frz_prompt_segment(pr, 4, NULL, &start, &n), "segment");
    ck_assert_uint_eq(start, 4 * NP);
    ck_assert_uint_eq(n, 3);
    float e3[3 * 64];
    size_t need;
    ok(frz_image_prefix(vis, p3, img, 1, e3, sizeof e3 / sizeof e3[0], &need), "prefix p3");
    for (size_t k = 0; k < 3; k++)
        ck_assert(memcmp(frz_prompt_embedding(pr, start + k), e3 + k * D, D * sizeof(float)) == 0);

    /* threads do not change the prefix */
    frz_prompt *pr2 = new_prompt();
    ok(frz_prompt_set_int(pr2, FRZ_PROMPT_OPT_THREADS, 2), "threads");
    ok(frz_prompt_add_image(pr2, img), "two threads");
    ck_assert(memcmp(frz_prompt_embedding(pr2, 0), want, NP * D * sizeof *want) == 0);

    frz_projector_free(p3);
    frz_prompt_free(pr2);
    frz_prompt_free(pr);
    frz_image_free(img);
    free(want);
    free(bytes);
}
END_TEST

/* Blind: every image's positions hold the prefix of a black image (any size: padding and resizing black gives
 * black), the same for every image and not the image's own. The file is still read. */
START_TEST(test_blind)
{
    uint8_t black[7 * 5 * 3] = {0};
    frz_image *b = NULL;
    ok(frz_image_from_rgb8(black, 7, 5, 21, &b), "black image");
    float want[2 * 64];
    size_t need;
    ok(frz_image_prefix(vis, proj, b, 1, want, sizeof want / sizeof want[0], &need), "black prefix");
    frz_image_free(b);

    frz_prompt *pr = new_prompt();
    ok(frz_prompt_add_image_file(pr, IMG("dax1.jpg")), "seeing");
    ok(frz_prompt_set_int(pr, FRZ_PROMPT_OPT_BLIND, 1), "blind");
    ok(frz_prompt_add_image_file(pr, IMG("dax1.jpg")), "blind 1");
    ok(frz_prompt_add_text(pr, "text", (size_t)-1, 0), "text");
    ok(frz_prompt_add_image_file(pr, IMG("blicket2.jpg")), "blind 2");
    ck_assert_msg(memcmp(frz_prompt_embedding(pr, 0), want, NP * D * 4) != 0, "the seeing image is black");
    ck_assert(memcmp(frz_prompt_embedding(pr, NP), want, NP * D * 4) == 0);
    const size_t last = frz_prompt_len(pr) - NP;
    ck_assert(memcmp(frz_prompt_embedding(pr, last), want, NP * D * 4) == 0);
    ck_assert_int_eq(frz_prompt_add_image_file(pr, IMG("missing.jpg")), FRZ_ERR_IO);
    ck_assert_msg(strstr(frz_last_error(), "missing.jpg") != NULL, "%s", frz_last_error());
    frz_prompt_free(pr);
}
END_TEST

START_TEST(test_image_errors)
{
    frz_prompt *pr = NULL;
    ck_assert_int_eq(frz_prompt_create(lm, vis, NULL, &pr), FRZ_ERR_INVALID_ARG);
    ok(frz_prompt_create(lm, NULL, NULL, &pr), "no encoder");
    ok(frz_prompt_add_text(pr, "a", 1, 0), "text");
    ck_assert_int_eq(frz_prompt_add_image_file(pr, IMG("dax1.jpg")), FRZ_ERR_INVALID_ARG);
    ck_assert_msg(strstr(frz_last_error(), "no vision encoder") != NULL, "%s", frz_last_error());
    frz_prompt_free(pr);

    /* a projector of the wrong width for the LM, or the wrong input for the encoder */
    frz_projector *wide = NULL, *narrow_in = NULL;
    const int32_t F = (int32_t)frz_vision_get(vis, FRZ_VISION_N_FEATURES);
    ok(frz_projector_create(F, 2, (int32_t)D + 1, 1, &wide), "wide");
    ok(frz_projector_create(F + 1, 2, (int32_t)D, 1, &narrow_in), "other input");
    pr = new_prompt();
    frz_image *img = NULL;
    ok(frz_image_load_file(IMG("dax1.jpg"), &img), "load");
    ck_assert_int_eq(frz_prompt_add_image_with(pr, img, vis, wide), FRZ_ERR_SHAPE);
    ck_assert_msg(strstr(frz_last_error(), "LM's width") != NULL, "%s", frz_last_error());
    ck_assert_int_eq(frz_prompt_add_image_with(pr, img, vis, narrow_in), FRZ_ERR_SHAPE);
    ck_assert_int_eq(frz_prompt_add_image(pr, NULL), FRZ_ERR_INVALID_ARG);
    ck_assert_int_eq(frz_prompt_add_image_memory(pr, "not an image", 12, "junk.bin"), FRZ_ERR_FORMAT);
    ck_assert_msg(strstr(frz_last_error(), "junk.bin") != NULL, "%s", frz_last_error());
    ck_assert_int_eq(frz_prompt_add_image_file(pr, "/nonexistent/a.jpg"), FRZ_ERR_IO);
    ck_assert_msg(strstr(frz_last_error(), "/nonexistent/a.jpg") != NULL, "%s", frz_last_error());
    ck_assert_uint_eq(frz_prompt_len(pr), 0);
    ck_assert_uint_eq(frz_prompt_n_segments(pr), 0);

    /* an image that does not fit the context */
    const size_t ctx = (size_t)frz_lm_get(lm, FRZ_LM_N_CTX);
    float *fill = calloc(ctx, D * sizeof *fill);
    ok(frz_prompt_add_embeddings(pr, fill, ctx - 1), "fill");
    ck_assert_int_eq(frz_prompt_add_image(pr, img), FRZ_ERR_CONTEXT_FULL);
    ck_assert_msg(strstr(frz_last_error(), "the image adds 2") != NULL && strstr(frz_last_error(), "1 more than") != NULL,
                  "%s", frz_last_error());
    ck_assert_uint_eq(frz_prompt_len(pr), ctx - 1);
    free(fill);
    frz_image_free(img);
    frz_projector_free(wide);
    frz_projector_free(narrow_in);
    frz_prompt_free(pr);
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("prompt_image");
    TCase *tc = tcase_create("images");
    tcase_set_timeout(tc, 60);
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_k_images_equal_by_hand);
    tcase_add_test(tc, test_image_forms_agree);
    tcase_add_test(tc, test_blind);
    tcase_add_test(tc, test_image_errors);
    suite_add_tcase(s, tc);
    return s;
}

FRZ_TEST_MAIN(make_suite)
