/* check_train_adam.c -- the optimiser against the Adam/AdamW formulas evaluated in double, hand-computed first
 * steps, gradient clipping, and thread-count independence. */
#include "train/adam.h"
#include "util/testutil.h"

#include <math.h>
#include <string.h>

/* The formula of adam.h (torch.optim.AdamW), in double, one element. */
static void ref_step(double *p, double g, double *m, double *v, double lr, double b1, double b2, double eps,
                     double wd, int t)
{
    *m = b1 * *m + (1 - b1) * g;
    *v = b2 * *v + (1 - b2) * g * g;
    *p -= lr * wd * *p;
    double mhat = *m / (1 - pow(b1, t)), vhat = *v / (1 - pow(b2, t));
    *p -= lr * mhat / (sqrt(vhat) + eps);
}

START_TEST(first_step_by_hand)
{
    /* With m = v = 0 the first step moves every parameter by lr * g / (|g| + eps): almost exactly lr against
     * the gradient's sign, whatever its size (Adam's scale invariance). */
    float p[3] = {1.0f, -2.0f, 0.5f}, g[3] = {0.5f, -1e-3f, 40.0f}, m[3] = {0}, v[3] = {0};
    frz_adam_hp hp = {0.1f, 0.9f, 0.95f, 1e-8f, 0.0f};
    frz_adam_update(p, g, m, v, 3, &hp, 1, 1.0f, 1);
    ck_assert_float_eq_tol(p[0], 0.9f, 1e-6);
    ck_assert_float_eq_tol(p[1], -1.9f, 1e-5);
    ck_assert_float_eq_tol(p[2], 0.4f, 1e-6);
    /* m = (1 - beta1) g, v = (1 - beta2) g^2 */
    ck_assert_float_eq_tol(m[0], 0.05f, 1e-7);
    ck_assert_float_eq_tol(v[0], 0.05f * 0.25f, 1e-8);
    /* Second step with the same gradient: m = (1 - 0.9^2) g = 0.19 g, v = (1 - 0.95^2) g^2; corrected: mhat = g, vhat = g^2 -> again
     * exactly lr (up to eps). */
    frz_adam_update(p, g, m, v, 3, &hp, 2, 1.0f, 1);
    ck_assert_float_eq_tol(p[0], 0.8f, 1e-6);
    ck_assert_float_eq_tol(m[0], 0.19f * 0.5f, 1e-7);
    ck_assert_float_eq_tol(v[0], 0.0975f * 0.25f, 1e-7);
}
END_TEST

START_TEST(many_steps_match_the_formula_in_double)
{
    enum { N = 257, STEPS = 25 };
    float p[N], m[N] = {0}, v[N] = {0}, g[N];
    double rp[N], rm[N] = {0}, rv[N] = {0};
    for (int i = 0; i < N; i++) rp[i] = p[i] = (float)sin(i * 0.37) * 2.0f;
    const double lr = 3e-3, b1 = 0.9, b2 = 0.95, eps = 1e-8, wd = 0.05;
    frz_adam_hp hp = {(float)lr, (float)b1, (float)b2, (float)eps, (float)wd};
    for (int t = 1; t <= STEPS; t++) {
        for (int i = 0; i < N; i++) g[i] = (float)(cos(i * 1.3 + t) * (1 + (i % 7)) + 0.1 * p[i]);
        frz_adam_update(p, g, m, v, N, &hp, t, 1.0f, 2);
        for (int i = 0; i < N; i++) ref_step(&rp[i], g[i], &rm[i], &rv[i], lr, b1, b2, eps, wd, t);
    }
    for (int i = 0; i < N; i++) {
        ck_assert_msg(fabs(p[i] - rp[i]) <= 1e-5 * fmax(1.0, fabs(rp[i])), "p[%d] %.9g vs %.9g", i, p[i], rp[i]);
        ck_assert_msg(fabs(m[i] - rm[i]) <= 1e-5 * fmax(1.0, fabs(rm[i])), "m[%d]", i);
        ck_assert_msg(fabs(v[i] - rv[i]) <= 1e-5 * fmax(1.0, fabs(rv[i])), "v[%d]", i);
    }
}
END_TEST

START_TEST(weight_decay_is_decoupled)
{
    /* A zero gradient leaves m and v at 0: only the decay moves p, by the factor (1 - lr wd). */
    float p[2] = {2.0f, -4.0f}, g[2] = {0, 0}, m[2] = {0}, v[2] = {0};
    frz_adam_hp hp = {0.01f, 0.9f, 0.95f, 1e-8f, 0.5f};
    frz_adam_update(p, g, m, v, 2, &hp, 1, 1.0f, 1);
    ck_assert_float_eq_tol(p[0], 2.0f * (1 - 0.005f), 1e-7);
    ck_assert_float_eq_tol(p[1], -4.0f * (1 - 0.005f), 1e-7);
}
END_TEST

START_TEST(clipping_scales_the_global_norm)
{
    /* Two arrays whose global norm is 13 (3-4-12): clip to 6.5 -> scale 0.5. */
    float a[2] = {3, 4}, b[1] = {12};
    double norm = sqrt(frz_sum_squares(a, 2, 1) + frz_sum_squares(b, 1, 1));
    ck_assert_double_eq_tol(norm, 13.0, 1e-12);
    ck_assert_float_eq_tol(frz_clip_scale(norm, 6.5f), 0.5f, 1e-6);
    ck_assert_float_eq(frz_clip_scale(norm, 20.0f), 1.0f);
    ck_assert_float_eq(frz_clip_scale(norm, 0.0f), 1.0f);
    /* The scale multiplies the gradient before the moments: m = (1 - beta1) * scale * g. */
    float p[1] = {0}, m[1] = {0}, v[1] = {0};
    frz_adam_hp hp = {0.1f, 0.9f, 0.95f, 1e-8f, 0.0f};
    frz_adam_update(p, b, m, v, 1, &hp, 1, 0.5f, 1);
    ck_assert_float_eq_tol(m[0], 0.1f * 6.0f, 1e-6);
    ck_assert_float_eq_tol(v[0], 0.05f * 36.0f, 1e-5);
}
END_TEST

START_TEST(results_do_not_depend_on_threads)
{
    enum { N = 300000 };
    float *g = malloc(N * sizeof *g);
    float *p1 = malloc(N * sizeof *p1), *p2 = malloc(N * sizeof *p2);
    float *m1 = calloc(N, sizeof *m1), *m2 = calloc(N, sizeof *m2), *v1 = calloc(N, sizeof *v1),
          *v2 = calloc(N, sizeof *v2);
    for (int i = 0; i < N; i++) g[i] = (float)sin(i * 0.001) * 1e-2f, p1[i] = p2[i] = (float)cos(i * 0.01);
    double s1 = frz_sum_squares(g, N, 1), s2 = frz_sum_squares(g, N, 2);
    ck_assert_msg(s1 == s2, "sum of squares %.17g vs %.17g", s1, s2);
    double naive = 0;
    for (int i = 0; i < N; i++) naive += (double)g[i] * g[i];
    ck_assert_double_eq_tol(s1, naive, 1e-9 * naive);
    frz_adam_hp hp = {3e-4f, 0.9f, 0.95f, 1e-8f, 0.01f};
    frz_adam_update(p1, g, m1, v1, N, &hp, 3, 0.7f, 1);
    frz_adam_update(p2, g, m2, v2, N, &hp, 3, 0.7f, 2);
    ck_assert_int_eq(memcmp(p1, p2, N * sizeof *p1), 0);
    free(g), free(p1), free(p2), free(m1), free(m2), free(v1), free(v2);
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("train_adam");
    TCase *tc = tcase_create("adam");
    tcase_add_test(tc, first_step_by_hand);
    tcase_add_test(tc, many_steps_match_the_formula_in_double);
    tcase_add_test(tc, weight_decay_is_decoupled);
    tcase_add_test(tc, clipping_scales_the_global_norm);
    tcase_add_test(tc, results_do_not_depend_on_threads);
    suite_add_tcase(s, tc);
    return s;
}

FRZ_TEST_MAIN(make_suite)
