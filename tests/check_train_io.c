/* check_train_io.c -- the training run's files: the checkpoint (round trip, atomic replacement, malformed
 * files), metrics.csv (rows, resuming drops rows past the checkpoint), the loss plot (a PNG with axes and
 * curves). */
#include "api/api.h"
#include "image/image.h"
#include "train/checkpoint.h"
#include "train/metrics.h"
#include "train/plot.h"
#include "util/testutil.h"

#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- checkpoint --------------------------------------------------------------------------------------------- */

typedef struct run_state {
    frz_nfr_model *enc;
    frz_projector *proj;
    frz_ckpt_moments mom;
    frz_ckpt_state s;
} run_state;

static void make_state(run_state *r, uint64_t seed)
{
    frz_nfr_config cfg;
    ck_assert_int_eq(frz_nfr_config_named("tiny", 0.0625f, &cfg), FRZ_OK);
    ck_assert_int_eq(frz_nfr_create(&cfg, &r->enc), FRZ_OK);
    frz_nfr_init(r->enc, seed);
    ck_assert_int_eq(frz_proj_create(r->enc->arch.num_features, 2, 16, &r->proj), FRZ_OK);
    frz_proj_init(r->proj, seed + 1, 1.0);
    ck_assert_int_eq(frz_ckpt_moments_create(r->enc->arch.n_params, r->proj->n_params, &r->mom), FRZ_OK);
    for (size_t i = 0; i < r->enc->arch.n_params; i++)
        r->mom.m_vision[i] = (float)i * 1e-3f, r->mom.v_vision[i] = (float)(seed + i) * 1e-6f;
    for (size_t i = 0; i < r->proj->n_params; i++) r->mom.m_proj[i] = -(float)i, r->mom.v_proj[i] = 0.5f + (float)i;
    memset(&r->s, 0, sizeof r->s);
    r->s.step = 1234;
    r->s.epoch = 7;
    r->s.seed = 0xFEDCBA9876543210ull; /* all 64 bits survive */
    r->s.best_val_ppl = 12.345678901234567;
    r->s.best_step = 1000;
    r->s.bad_validations = 2;
    r->s.stopped = 0;
    r->s.skipped_images = 3;
    r->s.last_val_step = 1200;
    r->s.last_loss = 2.7182817f;
    r->s.last_images_per_s = 55.5;
    r->s.batch_size = 8;
    r->s.max_caption_tokens = 20;
    r->s.blind = 1;
    r->s.n_train = 99;
    r->s.n_val = 1;
}

static void free_state(run_state *r)
{
    frz_nfr_free(r->enc);
    frz_proj_free(r->proj);
    frz_ckpt_moments_free(&r->mom);
}

START_TEST(checkpoint_round_trip)
{
    run_state a, b;
    make_state(&a, 5);
    const char *path = path_in(make_temp_dir(), "checkpoint.safetensors");
    ck_assert_int_eq(frz_ckpt_save(path, a.enc, 48, a.proj, &a.mom, &a.s, NULL), FRZ_OK);
    int32_t size = 0;
    ck_assert_int_eq(frz_ckpt_load(path, &b.enc, &size, &b.proj, &b.mom, &b.s), FRZ_OK);
    ck_assert_int_eq(size, 48);
    ck_assert_int_eq(memcmp(&a.enc->cfg, &b.enc->cfg, sizeof a.enc->cfg), 0);
    ck_assert_int_eq(memcmp(a.enc->params, b.enc->params, a.enc->arch.n_params * sizeof(float)), 0);
    ck_assert_int_eq(memcmp(a.proj->params, b.proj->params, a.proj->n_params * sizeof(float)), 0);
    ck_assert_int_eq(memcmp(a.mom.m_vision, b.mom.m_vision, a.enc->arch.n_params * sizeof(float)), 0);
    ck_assert_int_eq(memcmp(a.mom.v_vision, b.mom.v_vision, a.enc->arch.n_params * sizeof(float)), 0);
    ck_assert_int_eq(memcmp(a.mom.m_proj, b.mom.m_proj, a.proj->n_params * sizeof(float)), 0);
    ck_assert_int_eq(memcmp(a.mom.v_proj, b.mom.v_proj, a.proj->n_params * sizeof(float)), 0);
    ck_assert(b.s.step == a.s.step && b.s.epoch == a.s.epoch && b.s.seed == a.s.seed);
    ck_assert_msg(b.s.best_val_ppl == a.s.best_val_ppl, "best %.17g vs %.17g", b.s.best_val_ppl, a.s.best_val_ppl);
    ck_assert(b.s.best_step == a.s.best_step && b.s.bad_validations == a.s.bad_validations);
    ck_assert(b.s.skipped_images == a.s.skipped_images && b.s.last_val_step == a.s.last_val_step);
    ck_assert(b.s.last_loss == a.s.last_loss && b.s.last_images_per_s == a.s.last_images_per_s);
    ck_assert(b.s.batch_size == 8 && b.s.max_caption_tokens == 20 && b.s.blind == 1 && b.s.n_train == 99 &&
              b.s.n_val == 1);
    /* Readable: the encoder under timm's names, the moments under theirs. */
    frz_st_set *set = NULL;
    ck_assert_int_eq(frz_st_open_file(path, &set), FRZ_OK);
    ck_assert_ptr_nonnull(frz_st_find(set, "stem.conv.weight"));
    ck_assert_ptr_nonnull(frz_st_find(set, "projector.weight"));
    ck_assert_ptr_nonnull(frz_st_find(set, "adam.v.vision"));
    ck_assert_str_eq(frz_st_metadata(set, "frozen.train.step"), "1234");
    frz_st_close(set);
    free_state(&b);
    /* A NaN loss (a batch whose images all failed) survives too. */
    a.s.last_loss = NAN;
    ck_assert_int_eq(frz_ckpt_save(path, a.enc, 48, a.proj, &a.mom, &a.s, NULL), FRZ_OK);
    ck_assert_int_eq(frz_ckpt_load(path, &b.enc, &size, &b.proj, &b.mom, &b.s), FRZ_OK);
    ck_assert(isnan(b.s.last_loss));
    free_state(&b);
    free_state(&a);
}
END_TEST

START_TEST(checkpoint_failed_write_keeps_the_old_one)
{
    run_state a, b;
    make_state(&a, 5);
    const char *dir = make_temp_dir();
    const char *path = path_in(dir, "checkpoint.safetensors");
    ck_assert_int_eq(frz_ckpt_save(path, a.enc, 32, a.proj, &a.mom, &a.s, NULL), FRZ_OK);
    size_t len0;
    char *before = read_file_or_fail(path, &len0);

    /* 1. The temporary file cannot be created (a folder holds its name): FRZ_ERR_IO naming the path. */
    char tmp[4300];
    snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
    ck_assert_int_eq(mkdir(tmp, 0777), 0);
    a.s.step = 2000;
    a.enc->params[0] += 1.0f;
    ck_assert_int_eq(frz_ckpt_save(path, a.enc, 32, a.proj, &a.mom, &a.s, NULL), FRZ_ERR_IO);
    ASSERT_MSG_HAS("checkpoint.safetensors");
    rmdir(tmp);
    /* 2. An allocation fails at every point of the write in turn. */
    for (long k = 1; k < 40; k++) {
        frz_test_fail_alloc_at(k);
        frz_status st = frz_ckpt_save(path, a.enc, 32, a.proj, &a.mom, &a.s, NULL);
        frz_test_fail_alloc_at(0);
        if (st == FRZ_OK) break;
        ck_assert_int_eq(st, FRZ_ERR_NOMEM);
        size_t len1;
        char *after = read_file_or_fail(path, &len1);
        ck_assert_uint_eq(len1, len0);
        ck_assert_int_eq(memcmp(before, after, len0), 0); /* byte for byte the old checkpoint */
        free(after);
    }
    /* After the successful write the new one is there, whole. */
    int32_t size;
    ck_assert_int_eq(frz_ckpt_load(path, &b.enc, &size, &b.proj, &b.mom, &b.s), FRZ_OK);
    ck_assert_int_eq(b.s.step, 2000);
    ck_assert_float_eq(b.enc->params[0], a.enc->params[0]);
    free_state(&b);
    /* No temporary file is left behind. */
    ck_assert_int_ne(access(tmp, F_OK), 0);
    free(before);
    free_state(&a);
}
END_TEST

START_TEST(checkpoint_load_errors)
{
    run_state a, b;
    make_state(&a, 5);
    const char *dir = make_temp_dir();
    /* A projector file is not a checkpoint: no training state. */
    const char *p = path_in(dir, "projector.safetensors");
    ck_assert_int_eq(frz_proj_save(a.proj, p), FRZ_OK);
    int32_t size;
    ck_assert_int_eq(frz_ckpt_load(p, &b.enc, &size, &b.proj, &b.mom, &b.s), FRZ_ERR_FORMAT);
    ck_assert_ptr_null(b.enc);
    ck_assert_ptr_null(b.proj);
    ASSERT_MSG_HAS("frozen.train.step");
    /* A vision file has the encoder but neither the projector nor the state. */
    frz_vision v = {a.enc, 64, NULL}; /* saved only: no working memory */
    p = path_in(dir, "vision.safetensors");
    ck_assert_int_eq(frz_vision_save(&v, p), FRZ_OK);
    ck_assert_int_eq(frz_ckpt_load(p, &b.enc, &size, &b.proj, &b.mom, &b.s), FRZ_ERR_FORMAT);
    ck_assert_int_eq(frz_ckpt_load("/nonexistent/ck.safetensors", &b.enc, &size, &b.proj, &b.mom, &b.s),
                     FRZ_ERR_IO);
    /* Allocation failures while loading leak nothing and return NOMEM. */
    const char *ck = path_in(dir, "ck.safetensors");
    ck_assert_int_eq(frz_ckpt_save(ck, a.enc, 32, a.proj, &a.mom, &a.s, NULL), FRZ_OK);
    int ok = 0;
    for (long k = 1; k < 80 && !ok; k++) {
        frz_test_fail_alloc_at(k);
        frz_status st = frz_ckpt_load(ck, &b.enc, &size, &b.proj, &b.mom, &b.s);
        frz_test_fail_alloc_at(0);
        if (st == FRZ_OK) {
            ok = 1;
            free_state(&b);
        } else {
            ck_assert_int_eq(st, FRZ_ERR_NOMEM);
            ck_assert_ptr_null(b.enc);
            ck_assert_ptr_null(b.mom.m_vision);
        }
    }
    ck_assert(ok);
    free_state(&a);
}
END_TEST

/* ---- metrics.csv and loss.png ------------------------------------------------------------------------------- */

START_TEST(metrics_rows_and_resume)
{
    const char *dir = make_temp_dir();
    const char *csv = path_in(dir, "metrics.csv");
    frz_metrics *m = NULL;
    ck_assert_int_eq(frz_metrics_open(csv, -1, &m), FRZ_OK);
    for (int s = 1; s <= 6; s++)
        ck_assert_int_eq(frz_metrics_add(m, s, (s - 1) / 3, 4.0f / s, s % 3 == 0 ? 10.0 + s : 0.0, 12.5, 3e-4f), FRZ_OK);
    frz_metrics_close(m);
    char *text = read_file_or_fail(csv, NULL);
    ck_assert_msg(strncmp(text, "step,epoch,loss,val_ppl,images_per_s,lr\n1,0,4,,12.500,", 54) == 0, "%s", text);
    ck_assert_ptr_nonnull(strstr(text, "\n3,0,1.33333337,13,12.500,"));
    free(text);

    /* Resuming from step 4 keeps rows 1..4 (and their history) and appends after them. */
    ck_assert_int_eq(frz_metrics_open(csv, 4, &m), FRZ_OK);
    ck_assert_uint_eq(m->n, 4);
    ck_assert_uint_eq(m->nv, 1);
    ck_assert_int_eq(m->vstep[0], 3);
    ck_assert_float_eq_tol(m->vloss[0], logf(13.0f), 1e-6);
    ck_assert_int_eq(frz_metrics_add(m, 5, 1, 0.5f, 0.0, 1.0, 3e-4f), FRZ_OK);
    frz_metrics_close(m);
    text = read_file_or_fail(csv, NULL);
    int lines = 0;
    for (char *c = text; *c; c++) lines += *c == '\n';
    ck_assert_int_eq(lines, 6); /* header + 1..5 */
    ck_assert_ptr_null(strstr(text, "\n6,"));
    ck_assert_ptr_nonnull(strstr(text, "\n5,1,0.5,,1.000,"));
    free(text);

    /* A malformed row is named by line. */
    const char *bad = write_temp_file("metrics.csv", "step,epoch,loss,val_ppl,images_per_s,lr\n1,0,2,,1,1\nxyz\n", 53);
    ck_assert_int_eq(frz_metrics_open(bad, 10, &m), FRZ_ERR_FORMAT);
    ASSERT_MSG_HAS("metrics.csv:3");
    /* A missing file starts fresh. */
    ck_assert_int_eq(frz_metrics_open(path_in(dir, "new.csv"), 10, &m), FRZ_OK);
    ck_assert_uint_eq(m->n, 0);
    frz_metrics_close(m);
}
END_TEST

static const uint8_t *pixel(const frz_image *img, int x, int y)
{
    return frz_image_pixels(img) + ((size_t)y * (size_t)frz_image_width(img) + (size_t)x) * 3;
}

static int count_colour(const frz_image *img, uint8_t r, uint8_t g, uint8_t b)
{
    int n = 0;
    for (int y = 0; y < frz_image_height(img); y++)
        for (int x = 0; x < frz_image_width(img); x++) {
            const uint8_t *p = pixel(img, x, y);
            n += p[0] == r && p[1] == g && p[2] == b;
        }
    return n;
}

START_TEST(loss_plot_is_a_png_with_curves)
{
    int64_t steps[100];
    float loss[100];
    for (int i = 0; i < 100; i++) steps[i] = i + 1, loss[i] = 5.0f * expf(-i / 30.0f) + 0.5f;
    loss[50] = NAN; /* a step without a loss is left out */
    int64_t vs[3] = {33, 66, 100};
    float vl[3] = {2.5f, 1.5f, 1.0f};
    frz_plot_series ls = {steps, loss, 100}, val = {vs, vl, 3};
    const char *png = path_in(make_temp_dir(), "loss.png");
    ck_assert_int_eq(frz_plot_write(png, &ls, &val), FRZ_OK);
    frz_image *img = NULL;
    ck_assert_int_eq(frz_image_load_file(png, &img), FRZ_OK);
    ck_assert_int_eq(frz_image_width(img), FRZ_PLOT_W);
    ck_assert_int_eq(frz_image_height(img), FRZ_PLOT_H);
    /* Mostly white; the axes are black; a blue line and red dots are drawn. */
    ck_assert_int_gt(count_colour(img, 255, 255, 255), FRZ_PLOT_W * FRZ_PLOT_H / 2);
    ck_assert_int_gt(count_colour(img, 0, 0, 0), FRZ_PLOT_W); /* the two axes */
    ck_assert_int_gt(count_colour(img, 31, 119, 180), 200);
    ck_assert_int_gt(count_colour(img, 214, 39, 40), 3 * 20);
    /* The curve falls: its first pixels are higher (smaller y) than its last. */
    int first_y = -1, last_y = -1;
    for (int x = 0; x < FRZ_PLOT_W; x++)
        for (int y = 0; y < FRZ_PLOT_H; y++) {
            const uint8_t *p = pixel(img, x, y);
            if (p[0] == 31 && p[1] == 119 && p[2] == 180) {
                if (first_y < 0) first_y = y;
                last_y = y;
                break;
            }
        }
    ck_assert_int_lt(first_y, last_y);
    frz_image_free(img);
    /* Empty series still give axes; an unwritable place is an I/O error naming it. */
    frz_plot_series none = {NULL, NULL, 0};
    ck_assert_int_eq(frz_plot_write(png, &none, &none), FRZ_OK);
    ck_assert_int_eq(frz_plot_write("/nonexistent/dir/loss.png", &ls, &val), FRZ_ERR_IO);
    ASSERT_MSG_HAS("/nonexistent/dir/loss.png");
    /* Nice ticks. */
    ck_assert_double_eq(frz_plot_tick(0, 100, 5), 20);
    ck_assert_double_eq(frz_plot_tick(0, 7, 6), 1);
    ck_assert_double_eq_tol(frz_plot_tick(0, 0.03, 6), 0.005, 1e-12);
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("train_io");
    TCase *tc = tcase_create("io");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, checkpoint_round_trip);
    tcase_add_test(tc, checkpoint_failed_write_keeps_the_old_one);
    tcase_add_test(tc, checkpoint_load_errors);
    tcase_add_test(tc, metrics_rows_and_resume);
    tcase_add_test(tc, loss_plot_is_a_png_with_curves);
    suite_add_tcase(s, tc);
    return s;
}

FRZ_TEST_MAIN(make_suite)
