/* check_api_vision.c -- the public image, encoder, projector-prefix calls of frozen.h: images from files,
 * memory and raw pixels; encoder files; encoding equals the NF-ResNet's forward on the documented
 * preprocessing; one encoder shared by several threads gives each the single-threaded result. */
#include "api/api.h"
#include "image/image.h"
#include "vision/projector.h"
#include "util/testutil.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

/* ---- images --------------------------------------------------------------------------------------------------- */

START_TEST(public_image_calls)
{
    /* A PNG fixture and its expected pixels (Pillow's, from tests/reference/make_image_fixtures.py). */
    size_t n_png, n_rgb;
    char *png = read_file_or_fail(fixture_path("images/png_rgb8.png"), &n_png);
    char *rgb = read_file_or_fail(fixture_path("images/png_rgb8.rgb"), &n_rgb);
    frz_image *a = NULL, *b = NULL, *c = NULL;
    ck_assert_int_eq(frz_image_load_file(fixture_path("images/png_rgb8.png"), &a), FRZ_OK);
    ck_assert_int_eq(frz_image_load_memory(png, n_png, "mem", &b), FRZ_OK);
    const int32_t w = frz_image_width(a), h = frz_image_height(a);
    ck_assert_uint_eq((size_t)w * h * 3, n_rgb);
    ck_assert_int_eq(memcmp(frz_image_pixels(a), rgb, n_rgb), 0);
    ck_assert_int_eq(memcmp(frz_image_pixels(b), rgb, n_rgb), 0);
    /* Raw pixels with a padded stride. */
    uint8_t *padded = calloc((size_t)h, (size_t)w * 3 + 5);
    for (int y = 0; y < h; y++) memcpy(padded + (size_t)y * (w * 3 + 5), rgb + (size_t)y * w * 3, (size_t)w * 3);
    ck_assert_int_eq(frz_image_from_rgb8(padded, w, h, (size_t)w * 3 + 5, &c), FRZ_OK);
    ck_assert_int_eq(memcmp(frz_image_pixels(c), rgb, n_rgb), 0);
    free(padded);
    /* Errors: a truncated PNG names its input; a GIF is unsupported; a missing file is I/O. */
    frz_image *bad = (frz_image *)1;
    ck_assert_int_eq(frz_image_load_memory(png, n_png / 2, "half.png", &bad), FRZ_ERR_FORMAT);
    ck_assert_ptr_null(bad);
    ASSERT_MSG_HAS("half.png");
    ck_assert_int_eq(frz_image_load_memory("GIF89a\x01\x00\x01\x00", 10, "x.gif", &bad), FRZ_ERR_UNSUPPORTED);
    ck_assert_int_eq(frz_image_load_file("/nonexistent.png", &bad), FRZ_ERR_IO);
    ck_assert_int_eq(frz_image_width(NULL), 0);
    ck_assert_ptr_null(frz_image_pixels(NULL));
    frz_image_free(NULL);
    frz_image_free(a), frz_image_free(b), frz_image_free(c);
    free(png), free(rgb);
}
END_TEST

/* ---- the encoder ----------------------------------------------------------------------------------------------- */

START_TEST(vision_file_and_encode)
{
    frz_vision *v = NULL, *w = NULL;
    ck_assert_int_eq(frz_vision_create("tiny", 0.0625f, 40, 3, &v), FRZ_OK);
    ck_assert_int_eq(frz_vision_get(v, FRZ_VISION_IMAGE_SIZE), 40);
    ck_assert_int_eq(frz_vision_get(v, FRZ_VISION_N_FEATURES), 128); /* 2048 x 0.0625 */
    ck_assert_int_eq(frz_vision_get(v, FRZ_VISION_N_PARAMS), (int64_t)v->m->arch.n_params);
    ck_assert_int_eq(frz_vision_get(NULL, FRZ_VISION_N_PARAMS), -1);
    ck_assert_int_eq(frz_vision_get(v, (frz_vision_prop)42), -1);
    const char *path = path_in(make_temp_dir(), "vision.safetensors");
    ck_assert_int_eq(frz_vision_save(v, path), FRZ_OK);
    ck_assert_int_eq(frz_vision_load(path, &w), FRZ_OK);
    ck_assert_int_eq(frz_vision_get(w, FRZ_VISION_IMAGE_SIZE), 40);
    ck_assert_int_eq(memcmp(v->m->params, w->m->params, v->m->arch.n_params * sizeof(float)), 0);

    /* Encoding an image equals the NF-ResNet's forward on its preprocessed form (pad, resize, ImageNet). */
    uint8_t px[30 * 20 * 3];
    for (int i = 0; i < 30 * 20 * 3; i++) px[i] = (uint8_t)(i * 37 % 251);
    frz_image *img = NULL;
    ck_assert_int_eq(frz_image_from_rgb8(px, 30, 20, 90, &img), FRZ_OK);
    float pooled[128], want[128], x[3 * 40 * 40];
    size_t need = 0;
    ck_assert_int_eq(frz_vision_encode(w, img, 2, pooled, 127, &need), FRZ_ERR_BUFFER_TOO_SMALL);
    ck_assert_uint_eq(need, 128);
    ck_assert_int_eq(frz_vision_encode(w, img, 2, pooled, 128, &need), FRZ_OK);
    frz_image_prep_params pp;
    frz_image_prep_params_init(&pp);
    pp.size = 40;
    ck_assert_int_eq(frz_image_preprocess(img, &pp, x, sizeof x / sizeof x[0], &need), FRZ_OK);
    frz_nfr_state *st = NULL;
    ck_assert_int_eq(frz_nfr_state_create(v->m, 1, 40, 40, &st), FRZ_OK);
    ck_assert_int_eq(frz_nfr_forward(v->m, st, x, want, 1), FRZ_OK);
    ck_assert_int_eq(memcmp(pooled, want, sizeof want), 0);
    /* the next encode reuses the first one's working memory (and standardised weights): still the forward's */
    for (int i = 0; i < 30 * 20 * 3; i++) px[i] = (uint8_t)(255 - i * 11 % 256);
    frz_image *img2 = NULL;
    ck_assert_int_eq(frz_image_from_rgb8(px, 30, 20, 90, &img2), FRZ_OK);
    float pooled2[128], want2[128];
    ck_assert_int_eq(frz_vision_encode(w, img2, 1, pooled2, 128, &need), FRZ_OK);
    ck_assert_int_eq(frz_image_preprocess(img2, &pp, x, sizeof x / sizeof x[0], &need), FRZ_OK);
    ck_assert_int_eq(frz_nfr_forward(v->m, st, x, want2, 1), FRZ_OK);
    ck_assert_int_eq(memcmp(pooled2, want2, sizeof want2), 0);
    ck_assert_int_ne(memcmp(pooled2, pooled, sizeof pooled), 0);
    frz_image_free(img2);
    frz_nfr_state_free(st);

    /* The prefix is the projector applied to that vector; a projector of another width is refused. */
    frz_projector *p = NULL, *bad = NULL;
    ck_assert_int_eq(frz_projector_create(128, 2, 8, 1, &p), FRZ_OK);
    ck_assert_int_eq(frz_projector_create(64, 2, 8, 1, &bad), FRZ_OK);
    float pre[16], pre_want[16];
    ck_assert_int_eq(frz_image_prefix(w, p, img, 1, pre, 16, &need), FRZ_OK);
    ck_assert_int_eq(frz_projector_apply(p, want, pre_want, 16, &need), FRZ_OK);
    ck_assert_int_eq(memcmp(pre, pre_want, sizeof pre), 0);
    ck_assert_int_eq(frz_image_prefix(w, bad, img, 1, pre, 16, &need), FRZ_ERR_SHAPE);
    ck_assert_int_eq(frz_image_prefix(w, p, img, 1, pre, 15, &need), FRZ_ERR_BUFFER_TOO_SMALL);
    ck_assert_uint_eq(need, 16);

    /* Bad arguments. */
    frz_vision *none = (frz_vision *)1;
    ck_assert_int_eq(frz_vision_create("nf_resnet99", 1.0f, 224, 0, &none), FRZ_ERR_INVALID_ARG);
    ck_assert_ptr_null(none);
    ck_assert_int_eq(frz_vision_create("tiny", 1.0f, 8, 0, &none), FRZ_ERR_INVALID_ARG);
    ASSERT_MSG_HAS("image size 8");
    ck_assert_int_eq(frz_vision_load("/nonexistent/v.safetensors", &none), FRZ_ERR_IO);
    frz_projector_free(p);
    frz_projector_free(bad);
    frz_image_free(img);
    frz_vision_free(w);
    frz_vision_free(v);
    frz_vision_free(NULL);
}
END_TEST

/* ---- one encoder, several threads ------------------------------------------------------------------------------ */

typedef struct job {
    const frz_vision *v;
    const frz_image *img;
    float out[128];
    frz_status st;
} job;

static void *encode_many(void *arg)
{
    job *j = arg;
    size_t need;
    for (int r = 0; r < 5 && j->st == FRZ_OK; r++) j->st = frz_vision_encode(j->v, j->img, 1, j->out, 128, &need);
    return NULL;
}

START_TEST(shared_encoder_across_threads)
{
    frz_vision *v = NULL;
    ck_assert_int_eq(frz_vision_create("tiny", 0.0625f, 32, 11, &v), FRZ_OK);
    enum { N = 4 };
    frz_image *img[N];
    float want[N][128];
    for (int i = 0; i < N; i++) {
        uint8_t px[17 * 23 * 3];
        for (int k = 0; k < 17 * 23 * 3; k++) px[k] = (uint8_t)(k * (i + 3) % 256);
        ck_assert_int_eq(frz_image_from_rgb8(px, 17, 23, 17 * 3, &img[i]), FRZ_OK);
        size_t need;
        ck_assert_int_eq(frz_vision_encode(v, img[i], 1, want[i], 128, &need), FRZ_OK);
    }
    job jobs[N];
    pthread_t th[N];
    for (int i = 0; i < N; i++) {
        jobs[i].v = v, jobs[i].img = img[i], jobs[i].st = FRZ_OK;
        ck_assert_int_eq(pthread_create(&th[i], NULL, encode_many, &jobs[i]), 0);
    }
    for (int i = 0; i < N; i++) {
        pthread_join(th[i], NULL);
        ck_assert_int_eq(jobs[i].st, FRZ_OK);
        ck_assert_int_eq(memcmp(jobs[i].out, want[i], sizeof want[i]), 0);
        frz_image_free(img[i]);
    }
    frz_vision_free(v);
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("api_vision");
    TCase *tc = tcase_create("api_vision");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, public_image_calls);
    tcase_add_test(tc, vision_file_and_encode);
    tcase_add_test(tc, shared_encoder_across_threads);
    suite_add_tcase(s, tc);
    return s;
}

FRZ_TEST_MAIN(make_suite)
