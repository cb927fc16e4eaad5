/* check_projector.c -- the visual prefix's linear layer: forward against a double-precision loop, backward
 * against central finite differences of a non-linear loss, save/load, load errors, the public wrappers. */
#include "vision/projector.h"
#include "util/testutil.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

enum { F = 7, NP = 3, D = 5, B = 4, O = NP * D };

static void fill(float *x, size_t n, unsigned seed, float scale)
{
    unsigned s = seed;
    for (size_t i = 0; i < n; i++) {
        s = s * 1103515245u + 12345u;
        x[i] = scale * ((float)((s >> 8) & 0xFFFF) / 32768.0f - 1.0f);
    }
}

static frz_projector *make(void)
{
    frz_projector *p = NULL;
    ck_assert_int_eq(frz_proj_create(F, NP, D, &p), FRZ_OK);
    fill(p->params, p->n_params, 7, 0.5f);
    return p;
}

/* The loss L = sum(r * out) + 0.25 * sum(out^4): dL/dout = r + out^3, so the gradient depends on the point. */
static double loss_of(const frz_projector *p, const float *pooled, const float *r)
{
    float out[B * O];
    frz_proj_forward(p, out, pooled, B, 1);
    double L = 0;
    for (int i = 0; i < B * O; i++) L += (double)r[i] * out[i] + 0.25 * pow(out[i], 4);
    return L;
}

START_TEST(forward_matches_double_loop)
{
    frz_projector *p = make();
    float pooled[B * F], out[B * O];
    fill(pooled, B * F, 3, 2.0f);
    frz_proj_forward(p, out, pooled, B, 2);
    const float *W = frz_proj_weight(p), *bias = frz_proj_bias(p);
    for (int b = 0; b < B; b++)
        for (int o = 0; o < O; o++) {
            double want = bias[o];
            for (int f = 0; f < F; f++) want += (double)W[o * F + f] * pooled[b * F + f];
            ck_assert_msg(fabs(out[b * O + o] - want) <= 1e-5 * fmax(1.0, fabs(want)), "out[%d,%d] %g vs %g", b, o,
                          out[b * O + o], want);
        }
    /* The bias is the last n*D parameters, the weight rows are output rows: a unit pooled vector picks a
     * column. */
    float unit[F] = {0};
    unit[2] = 1.0f;
    frz_proj_forward(p, out, unit, 1, 1);
    for (int o = 0; o < O; o++) ck_assert_float_eq_tol(out[o], W[o * F + 2] + bias[o], 1e-6);
    frz_proj_free(p);
}
END_TEST

START_TEST(backward_matches_finite_differences)
{
    frz_projector *p = make();
    float pooled[B * F], r[B * O], out[B * O], d_out[B * O], d_pooled[B * F];
    fill(pooled, B * F, 5, 1.0f);
    fill(r, B * O, 9, 1.0f);
    frz_proj_forward(p, out, pooled, B, 1);
    for (int i = 0; i < B * O; i++) d_out[i] = r[i] + out[i] * out[i] * out[i];
    ck_assert_int_eq(frz_proj_zero_grad(p, 2), FRZ_OK);
    for (int i = 0; i < B * F; i++) d_pooled[i] = 1.0f; /* backward accumulates: starts from 1 */
    frz_proj_backward(p, d_pooled, d_out, pooled, B, 2);

    const double h = 1e-2;
    for (size_t i = 0; i < p->n_params; i++) {
        float keep = p->params[i];
        p->params[i] = keep + (float)h;
        double up = loss_of(p, pooled, r);
        p->params[i] = keep - (float)h;
        double down = loss_of(p, pooled, r);
        p->params[i] = keep;
        double fd = (up - down) / (2 * h);
        ck_assert_msg(fabs(p->grads[i] - fd) <= 2e-3 * fmax(1.0, fabs(fd)), "param %zu: %g vs fd %g", i, p->grads[i], fd);
    }
    for (int i = 0; i < B * F; i++) {
        float keep = pooled[i];
        pooled[i] = keep + (float)h;
        double up = loss_of(p, pooled, r);
        pooled[i] = keep - (float)h;
        double down = loss_of(p, pooled, r);
        pooled[i] = keep;
        double fd = (up - down) / (2 * h);
        ck_assert_msg(fabs(d_pooled[i] - 1.0 - fd) <= 2e-3 * fmax(1.0, fabs(fd)), "pooled %d: %g vs fd %g", i,
                      d_pooled[i] - 1.0, fd);
    }
    /* A second backward adds the same again (accumulation, not overwrite). */
    float g0 = p->grads[0];
    frz_proj_backward(p, NULL, d_out, pooled, B, 1);
    ck_assert_float_eq_tol(p->grads[0], 2 * g0, 1e-5 * fmax(1.0, fabs(g0)));
    frz_proj_free(p);
}
END_TEST

START_TEST(save_load_round_trip)
{
    frz_projector *p = make(), *q = NULL;
    const char *dir = make_temp_dir();
    char path[4200];
    snprintf(path, sizeof path, "%s/projector.safetensors", dir);
    ck_assert_int_eq(frz_proj_save(p, path), FRZ_OK);
    ck_assert_int_eq(frz_proj_load(path, &q), FRZ_OK);
    ck_assert_int_eq(q->n_features, F);
    ck_assert_int_eq(q->n_prefix, NP);
    ck_assert_int_eq(q->n_embd, D);
    ck_assert_int_eq(memcmp(p->params, q->params, p->n_params * sizeof(float)), 0);
    /* Readable names and sizes in the file. */
    frz_st_set *set = NULL;
    ck_assert_int_eq(frz_st_open_file(path, &set), FRZ_OK);
    ck_assert_ptr_nonnull(frz_st_find(set, "projector.weight"));
    ck_assert_int_eq(frz_st_find(set, "projector.weight")->shape[0], O);
    ck_assert_int_eq(frz_st_find(set, "projector.weight")->shape[1], F);
    ck_assert_str_eq(frz_st_metadata(set, "frozen.projector.n_prefix"), "3");
    frz_st_close(set);
    frz_proj_free(q);
    frz_proj_free(p);
}
END_TEST

/* A projector file with one thing changed. */
static const char *write_variant(const char *name, const char *n_prefix, int64_t bias_len, int drop_weight)
{
    static float w[O * F], b[O + 1];
    fill(w, O * F, 1, 1.0f);
    frz_st_write_tensor t[2];
    memset(t, 0, sizeof t);
    size_t n = 0;
    if (!drop_weight) {
        t[n].name = "projector.weight", t[n].dtype = FRZ_DT_F32, t[n].ndim = 2, t[n].shape[0] = O, t[n].shape[1] = F;
        t[n++].data = w;
    }
    t[n].name = "projector.bias", t[n].dtype = FRZ_DT_F32, t[n].ndim = 1, t[n].shape[0] = bias_len, t[n++].data = b;
    const char *meta[] = {"frozen.projector.n_prefix", n_prefix, "frozen.projector.n_embd", "5",
                          "frozen.projector.n_features", "7"};
    static char path[4200];
    snprintf(path, sizeof path, "%s/%s", make_temp_dir(), name);
    ck_assert_int_eq(frz_st_write_file(path, t, n, n_prefix ? meta : meta + 2, n_prefix ? 3 : 2), FRZ_OK);
    return path;
}

START_TEST(load_errors_name_file_and_field)
{
    frz_projector *q = (frz_projector *)1;
    const char *ok = write_variant("ok.safetensors", "3", O, 0);
    ck_assert_int_eq(frz_proj_load(ok, &q), FRZ_OK);
    frz_proj_free(q);

    const char *path = write_variant("nometa.safetensors", NULL, O, 0);
    ck_assert_int_eq(frz_proj_load(path, &q), FRZ_ERR_FORMAT);
    ck_assert_ptr_null(q);
    ASSERT_MSG_HAS("nometa.safetensors");
    ASSERT_MSG_HAS("frozen.projector.n_prefix");

    path = write_variant("badmeta.safetensors", "3x", O, 0);
    ck_assert_int_eq(frz_proj_load(path, &q), FRZ_ERR_FORMAT);
    ASSERT_MSG_HAS("\"3x\"");

    path = write_variant("zero.safetensors", "0", O, 0);
    ck_assert_int_eq(frz_proj_load(path, &q), FRZ_ERR_FORMAT);
    ASSERT_MSG_HAS("zero.safetensors");

    path = write_variant("shape.safetensors", "3", O + 1, 0);
    ck_assert_int_eq(frz_proj_load(path, &q), FRZ_ERR_SHAPE);
    ASSERT_MSG_HAS("projector.bias");
    ASSERT_MSG_HAS("shape.safetensors");

    path = write_variant("noweight.safetensors", "3", O, 1);
    ck_assert_int_eq(frz_proj_load(path, &q), FRZ_ERR_FORMAT);
    ASSERT_MSG_HAS("projector.weight");

    ck_assert_int_eq(frz_proj_load("/nonexistent/p.safetensors", &q), FRZ_ERR_IO);
    ck_assert_int_eq(frz_proj_create(0, 2, 4, &q), FRZ_ERR_INVALID_ARG);
    ck_assert_int_eq(frz_proj_create(8, 2, FRZ_PROJ_MAX_DIM + 1, &q), FRZ_ERR_INVALID_ARG);
}
END_TEST

START_TEST(load_survives_allocation_failures)
{
    const char *path = write_variant("ok.safetensors", "3", O, 0);
    int succeeded = 0;
    for (long k = 1; k < 200 && !succeeded; k++) {
        frz_projector *q = NULL;
        frz_test_fail_alloc_at(k);
        frz_status st = frz_proj_load(path, &q);
        frz_test_fail_alloc_at(0);
        if (st == FRZ_OK) {
            succeeded = 1;
            frz_proj_free(q);
        } else {
            ck_assert_int_eq(st, FRZ_ERR_NOMEM);
            ck_assert_ptr_null(q);
        }
    }
    ck_assert(succeeded);
}
END_TEST

START_TEST(public_wrappers)
{
    frz_projector *p = NULL;
    ck_assert_int_eq(frz_projector_create(F, NP, D, 42, &p), FRZ_OK);
    ck_assert_int_eq(frz_projector_get(p, FRZ_PROJECTOR_N_FEATURES), F);
    ck_assert_int_eq(frz_projector_get(p, FRZ_PROJECTOR_N_PREFIX), NP);
    ck_assert_int_eq(frz_projector_get(p, FRZ_PROJECTOR_N_EMBD), D);
    ck_assert_int_eq(frz_projector_get(p, FRZ_PROJECTOR_N_PARAMS), O * F + O);
    ck_assert_int_eq(frz_projector_get(p, (frz_projector_prop)99), -1);
    ck_assert_int_eq(frz_projector_get(NULL, FRZ_PROJECTOR_N_EMBD), -1);
    /* nn.Linear's bound, and the same seed gives the same weights. */
    for (size_t i = 0; i < p->n_params; i++) ck_assert(fabsf(p->params[i]) <= 1.0f / sqrtf((float)F));
    frz_projector *p2 = NULL;
    ck_assert_int_eq(frz_projector_create(F, NP, D, 42, &p2), FRZ_OK);
    ck_assert_int_eq(memcmp(p->params, p2->params, p->n_params * sizeof(float)), 0);
    frz_projector_free(p2);

    float pooled[F], out[O], want[O];
    fill(pooled, F, 11, 1.0f);
    size_t need = 0;
    ck_assert_int_eq(frz_projector_apply(p, pooled, out, O - 1, &need), FRZ_ERR_BUFFER_TOO_SMALL);
    ck_assert_uint_eq(need, O);
    ck_assert_int_eq(frz_projector_apply(p, pooled, out, O, &need), FRZ_OK);
    frz_proj_forward(p, want, pooled, 1, 1);
    ck_assert_int_eq(memcmp(out, want, sizeof out), 0);
    ck_assert_int_eq(frz_projector_apply(NULL, pooled, out, O, &need), FRZ_ERR_INVALID_ARG);

    char path[4200];
    snprintf(path, sizeof path, "%s/p.safetensors", make_temp_dir());
    ck_assert_int_eq(frz_projector_save(p, path), FRZ_OK);
    frz_projector *q = NULL;
    ck_assert_int_eq(frz_projector_load(path, &q), FRZ_OK);
    ck_assert_int_eq(memcmp(p->params, q->params, p->n_params * sizeof(float)), 0);
    frz_projector_free(q);
    frz_projector_free(p);
    frz_projector_free(NULL);
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("projector");
    TCase *tc = tcase_create("projector");
    tcase_add_test(tc, forward_matches_double_loop);
    tcase_add_test(tc, backward_matches_finite_differences);
    tcase_add_test(tc, save_load_round_trip);
    tcase_add_test(tc, load_errors_name_file_and_field);
    tcase_add_test(tc, load_survives_allocation_failures);
    tcase_add_test(tc, public_wrappers);
    suite_add_tcase(s, tc);
    return s;
}

FRZ_TEST_MAIN(make_suite)
