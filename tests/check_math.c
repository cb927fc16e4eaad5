/* check_math.c -- each kernel of src/math against a naive double-precision loop on small random inputs. */
#include "core/core.h"
#include "math/fast_exp.h"
#include "math/nn.h"
#include "math/rng.h"
#include "util/testutil.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static float *random_floats(size_t n, double scale, uint64_t seed)
{
    frz_rng rng;
    frz_rng_seed(&rng, seed);
    float *p = malloc(n * sizeof *p);
    ck_assert(p != NULL);
    for (size_t i = 0; i < n; i++) p[i] = (float)(scale * frz_rng_normal(&rng));
    return p;
}

/* |got - want| <= atol + rtol |want| for every element */
static void assert_close(const float *got, const double *want, size_t n, double rtol, double atol, const char *what)
{
    for (size_t i = 0; i < n; i++) {
        double err = fabs((double)got[i] - want[i]);
        ck_assert_msg(err <= atol + rtol * fabs(want[i]), "%s[%zu]: got %.9g, want %.9g (error %.3g)", what, i,
                      (double)got[i], want[i], err);
    }
}

START_TEST(test_layernorm)
{
    const size_t N = 7;
    const int C = 37;
    float *x = random_floats(N * C, 3.0, 1), *w = random_floats(C, 1.0, 2), *b = random_floats(C, 1.0, 3);
    for (size_t i = 0; i < N * C; i++) x[i] += 5.0f; /* an offset the two-pass variance must handle */
    float out[7 * 37], mean[7], rstd[7];
    double want[7 * 37], want_mean[7], want_rstd[7];
    for (size_t r = 0; r < N; r++) {
        double m = 0, v = 0;
        for (int i = 0; i < C; i++) m += x[r * C + i];
        m /= C;
        for (int i = 0; i < C; i++) v += (x[r * C + i] - m) * (x[r * C + i] - m);
        v /= C;
        double s = 1.0 / sqrt(v + 1e-5);
        for (int i = 0; i < C; i++) want[r * C + i] = (x[r * C + i] - m) * s * w[i] + b[i];
        want_mean[r] = m;
        want_rstd[r] = s;
    }
    for (int nth = 1; nth <= 2; nth++) {
        memset(out, 0, sizeof out);
        frz_layernorm_forward(out, mean, rstd, x, w, b, N, C, 1e-5f, nth);
        assert_close(out, want, N * C, 1e-5, 1e-5, "layernorm");
        assert_close(mean, want_mean, N, 1e-6, 1e-6, "mean");
        assert_close(rstd, want_rstd, N, 1e-5, 0, "rstd");
    }
    frz_layernorm_forward(out, NULL, NULL, x, w, b, N, C, 1e-5f, 1); /* statistics are optional */
    assert_close(out, want, N * C, 1e-5, 1e-5, "layernorm without statistics");
    free(x);
    free(w);
    free(b);
}
END_TEST

START_TEST(test_layernorm_parallel_rows)
{
    /* enough rows for the threaded path; threads must not change any result */
    const size_t N = 200;
    const int C = 256;
    float *x = random_floats(N * C, 1.0, 4), *w = random_floats(C, 1.0, 5), *b = random_floats(C, 1.0, 6);
    float *o1 = malloc(N * C * sizeof *o1), *o2 = malloc(N * C * sizeof *o2);
    frz_layernorm_forward(o1, NULL, NULL, x, w, b, N, C, 1e-5f, 1);
    frz_layernorm_forward(o2, NULL, NULL, x, w, b, N, C, 1e-5f, 2);
    ck_assert(memcmp(o1, o2, N * C * sizeof *o1) == 0);
    free(x), free(w), free(b), free(o1), free(o2);
}
END_TEST

static double gelu_tanh_ref(double x) { return 0.5 * x * (1 + tanh(sqrt(2 / M_PI) * (x + 0.044715 * x * x * x))); }
static double gelu_erf_ref(double x) { return 0.5 * x * (1 + erf(x / sqrt(2.0))); }

START_TEST(test_activations)
{
    enum { n = 64 + 8 };
    float *x = random_floats(n, 3.0, 7);
    const float extremes[8] = {-100.0f, -30.0f, -9.0f, -1e-4f, 0.0f, 1e-4f, 30.0f, 100.0f};
    memcpy(x + 64, extremes, sizeof extremes);
    float out[n];
    double want[n];
    for (int i = 0; i < n; i++) want[i] = gelu_tanh_ref(x[i]);
    frz_gelu_tanh_forward(out, x, n, 1);
    assert_close(out, want, n, 2e-6, 1e-7, "gelu_tanh");
    for (int i = 0; i < n; i++) want[i] = gelu_erf_ref(x[i]);
    frz_activation_forward(FRZ_ACT_GELU_ERF, out, x, n, 1);
    assert_close(out, want, n, 2e-6, 1e-7, "gelu_erf");
    for (int i = 0; i < n; i++) want[i] = x[i] > 0 ? x[i] : 0;
    frz_activation_forward(FRZ_ACT_RELU, out, x, n, 1);
    assert_close(out, want, n, 0, 0, "relu");
    /* in place, through the dispatcher */
    float y[n];
    memcpy(y, x, sizeof y);
    frz_activation_forward(FRZ_ACT_GELU_TANH, y, y, n, 2);
    for (int i = 0; i < n; i++) want[i] = gelu_tanh_ref(x[i]);
    assert_close(y, want, n, 2e-6, 1e-7, "gelu_tanh in place");
    free(x);
}
END_TEST

START_TEST(test_fast_exp)
{
    double worst = 0;
    for (double x = -87.0; x <= 88.0; x += 0.0137) {
        double rel = fabs((double)frz_fast_expf((float)x) - exp((double)(float)x)) / exp((double)(float)x);
        if (rel > worst) worst = rel;
    }
    ck_assert_msg(worst < 5e-7, "worst relative error %.3g", worst);
    /* clamped, never inf or NaN */
    ck_assert(isfinite(frz_fast_expf(1000.0f)) && frz_fast_expf(1000.0f) > 1e38f);
    ck_assert(frz_fast_expf(-1000.0f) >= 0.0f && frz_fast_expf(-1000.0f) < 1e-37f);
    ck_assert(frz_fast_expf(0.0f) == 1.0f);
    /* the clamp works on integer keys that order like the floats: check both signs, infinities, -0 and NaN */
    ck_assert(frz_fast_expf(INFINITY) == frz_fast_expf(88.0f) && frz_fast_expf(88.5f) == frz_fast_expf(88.0f));
    ck_assert(frz_fast_expf(-INFINITY) == frz_fast_expf(-87.0f) && frz_fast_expf(-87.5f) == frz_fast_expf(-87.0f));
    ck_assert(frz_fast_expf(87.9f) < frz_fast_expf(88.0f) && frz_fast_expf(-86.9f) > frz_fast_expf(-87.0f));
    ck_assert(frz_fast_expf(-0.0f) == 1.0f && frz_fast_expf(-1.0f) < 1.0f && frz_fast_expf(1.0f) > 1.0f);
    ck_assert(isnan(frz_fast_expf(NAN)) && isnan(frz_fast_expf(-NAN)));
}
END_TEST

/* frz_zero clears every float in 1-3 threads' shares (uneven ones: a size no thread count divides), and nothing past
 * the end; a buffer below the parallel threshold on one call. */
START_TEST(test_zero)
{
    const size_t n = 3 * (size_t)FRZ_NN_PAR_MIN + 7;
    float *p = malloc((n + 1) * sizeof *p);
    ck_assert_ptr_nonnull(p);
    for (int nth = 1; nth <= 3; nth++) {
        for (size_t i = 0; i <= n; i++) p[i] = 1.5f;
        frz_zero(p, n, nth);
        for (size_t i = 0; i < n; i++) ck_assert_msg(p[i] == 0.0f, "%d threads: float %zu not cleared", nth, i);
        ck_assert(p[n] == 1.5f);
    }
    for (size_t i = 0; i <= 100; i++) p[i] = 2.0f;
    frz_zero(p, 100, 3);
    for (size_t i = 0; i < 100; i++) ck_assert(p[i] == 0.0f);
    ck_assert(p[100] == 2.0f);
    free(p);
}
END_TEST

START_TEST(test_softmax_logsumexp)
{
    enum { n = 50 };
    float *x = random_floats(n, 4.0, 8);
    x[3] = 80.0f; /* a large logit: the max shift keeps it finite */
    double m = -INFINITY, sum = 0, want[n];
    for (int i = 0; i < n; i++) m = fmax(m, x[i]);
    for (int i = 0; i < n; i++) sum += exp(x[i] - m);
    double lse = m + log(sum);
    ck_assert_msg(fabs(frz_logsumexp(x, n) - lse) < 1e-12 * fabs(lse), "logsumexp %.17g vs %.17g",
                  frz_logsumexp(x, n), lse);
    for (int i = 0; i < n; i++) want[i] = exp(x[i] - lse);
    frz_softmax_forward(x, n);
    assert_close(x, want, n, 1e-6, 1e-12, "softmax");
    free(x);
}
END_TEST

/* out (N,OC) = inp (N,C) @ W + b, W either (C,OC) or (OC,C) */
static void matmul_ref(double *out, const float *inp, const float *w, const float *b, int N, int C, int OC,
                       int w_is_oc_c)
{
    for (int r = 0; r < N; r++)
        for (int o = 0; o < OC; o++) {
            double s = b ? b[o] : 0;
            for (int i = 0; i < C; i++) s += (double)inp[r * C + i] * (w_is_oc_c ? w[o * C + i] : w[i * OC + o]);
            out[r * OC + o] = s;
        }
}

START_TEST(test_matmul)
{
    const int C = 19, OC = 23;
    for (int N = 1; N <= 5; N += 4) { /* N == 1 takes the sgemv path */
        float *inp = random_floats((size_t)N * C, 1.0, 9), *w = random_floats((size_t)C * OC, 1.0, 10);
        float *b = random_floats(OC, 1.0, 11);
        float out[5 * 23];
        double want[5 * 23];
        for (int with_bias = 0; with_bias <= 1; with_bias++) {
            const float *bias = with_bias ? b : NULL;
            for (int layout = 0; layout <= 1; layout++) {
                for (int i = 0; i < N * OC; i++) out[i] = NAN; /* every output must be written */
                matmul_ref(want, inp, w, bias, N, C, OC, layout);
                if (layout)
                    frz_matmul_wt_forward(out, inp, w, bias, (size_t)N, C, OC, 2);
                else
                    frz_matmul_forward(out, inp, w, bias, (size_t)N, C, OC, 1);
                assert_close(out, want, (size_t)N * OC, 1e-5, 1e-5, layout ? "matmul_wt" : "matmul");
            }
        }
        free(inp), free(w), free(b);
    }
}
END_TEST

START_TEST(test_matmul_threaded)
{
    /* large enough to be split across threads by output columns; OC not a multiple of the 16-column blocks */
    const int C = 70, OC = 4001;
    for (int N = 1; N <= 3; N += 2) {
        float *inp = random_floats((size_t)N * C, 1.0, 20), *w = random_floats((size_t)C * OC, 1.0, 21);
        float *b = random_floats(OC, 1.0, 22), *out = malloc((size_t)N * OC * sizeof *out);
        double *want = malloc((size_t)N * OC * sizeof *want);
        for (int layout = 0; layout <= 1; layout++)
            for (int nth = 1; nth <= 3; nth++) {
                for (int i = 0; i < N * OC; i++) out[i] = NAN;
                matmul_ref(want, inp, w, b, N, C, OC, layout);
                if (layout)
                    frz_matmul_wt_forward(out, inp, w, b, (size_t)N, C, OC, nth);
                else
                    frz_matmul_forward(out, inp, w, b, (size_t)N, C, OC, nth);
                assert_close(out, want, (size_t)N * OC, 1e-5, 1e-5, layout ? "matmul_wt threaded" : "matmul threaded");
            }
        free(inp), free(w), free(b), free(out), free(want);
    }
}
END_TEST

/* Causal attention in double over one sequence: P cached + T new positions, rows strided as the kernel reads. */
static void attention_ref(double *out, const float *q, size_t ldq, const float *k, const float *v, size_t ldkv,
                          size_t P, size_t T, int C, int NH, double scale)
{
    int hs = C / NH;
    for (size_t t = 0; t < T; t++)
        for (int h = 0; h < NH; h++) {
            size_t n = P + t + 1;
            double *s = malloc(n * sizeof *s), m = -INFINITY, sum = 0;
            for (size_t j = 0; j < n; j++) {
                double d = 0;
                for (int i = 0; i < hs; i++) d += (double)q[t * ldq + h * hs + i] * k[j * ldkv + h * hs + i];
                s[j] = d * scale;
                m = fmax(m, s[j]);
            }
            for (size_t j = 0; j < n; j++) sum += (s[j] = exp(s[j] - m));
            for (int i = 0; i < hs; i++) {
                double o = 0;
                for (size_t j = 0; j < n; j++) o += s[j] / sum * v[j * ldkv + h * hs + i];
                out[t * C + h * hs + i] = o;
            }
            free(s);
        }
}

static void check_attention(size_t P, size_t T, int C, int NH, int nth)
{
    const size_t ldq = 3 * (size_t)C, ldkv = 5 * (size_t)C; /* strided like the fused qkv and the cache */
    float *q = random_floats(T * ldq, 1.0, 12), *k = random_floats((P + T) * ldkv, 1.0, 13);
    float *v = random_floats((P + T) * ldkv, 1.0, 14);
    float *out = malloc(T * C * sizeof *out), *scratch = malloc(frz_attention_scratch(P + T, nth) * sizeof *scratch);
    double *want = malloc(T * C * sizeof *want);
    double scale = 1.0 / sqrt((double)(C / NH));
    attention_ref(want, q, ldq, k, v, ldkv, P, T, C, NH, scale);
    frz_attention_forward(out, q, ldq, k, v, ldkv, P, T, C, NH, (float)scale, scratch, nth);
    assert_close(out, want, T * C, 1e-5, 1e-6, "attention");
    free(q), free(k), free(v), free(out), free(scratch), free(want);
}

START_TEST(test_attention)
{
    check_attention(0, 1, 8, 2, 1);   /* a first token attends to itself only */
    check_attention(3, 4, 8, 2, 1);   /* new rows after cached ones */
    check_attention(5, 1, 12, 3, 2);  /* a decode step */
    check_attention(40, 60, 64, 4, 2); /* large enough for the threaded path */
    /* the rows go in blocks of FRZ_ATTN_BLOCK through sgemm: one whole block, several with a partial last one
     * after cached rows, on one and two threads */
    check_attention(0, FRZ_ATTN_BLOCK, 24, 3, 2);
    check_attention(7, 2 * FRZ_ATTN_BLOCK + 21, 32, 4, 1);
    check_attention(7, 2 * FRZ_ATTN_BLOCK + 21, 32, 4, 2);
}
END_TEST

START_TEST(test_residual_embedding)
{
    enum { n = 40000 }; /* above the threading threshold */
    float *a = random_floats(n, 1.0, 15), *b = random_floats(n, 1.0, 16), *o = malloc(n * sizeof *o);
    frz_residual_forward(o, a, b, n, 2);
    for (int i = 0; i < n; i++) ck_assert(o[i] == a[i] + b[i]);
    free(a), free(b), free(o);

    const int C = 6, V = 5;
    float *wte = random_floats(V * C, 1.0, 17), *wpe = random_floats(10 * C, 1.0, 18);
    float *embd = random_floats(3 * C, 1.0, 19), out[3 * 6];
    const int32_t tokens[3] = {4, FRZ_TOKEN_EMBEDDING, 0};
    frz_embedding_forward(out, tokens, embd, wte, wpe, 2, 3, C);
    for (int i = 0; i < C; i++) {
        ck_assert(out[i] == wte[4 * C + i] + wpe[2 * C + i]);
        ck_assert(out[C + i] == embd[C + i] + wpe[3 * C + i]); /* embd rows align with positions */
        ck_assert(out[2 * C + i] == wte[i] + wpe[4 * C + i]);
    }
    frz_embedding_forward(out, NULL, embd, wte, wpe, 0, 3, C); /* tokens == NULL: every row from embd */
    for (int i = 0; i < 3 * C; i++) ck_assert(out[i] == embd[i] + wpe[i]);
    free(wte), free(wpe), free(embd);
}
END_TEST

START_TEST(test_rng)
{
    frz_rng a, b;
    frz_rng_seed(&a, 42);
    frz_rng_seed(&b, 42);
    for (int i = 0; i < 100; i++) ck_assert(frz_rng_next(&a) == frz_rng_next(&b));
    frz_rng_seed(&b, 43);
    ck_assert(frz_rng_next(&a) != frz_rng_next(&b));
    double s = 0, s2 = 0, lo = 1, hi = 0;
    for (int i = 0; i < 20000; i++) {
        double u = frz_rng_uniform(&a);
        lo = fmin(lo, u), hi = fmax(hi, u);
        double z = frz_rng_normal(&a);
        s += z, s2 += z * z;
    }
    ck_assert(lo >= 0 && hi < 1 && lo < 0.01 && hi > 0.99);
    ck_assert_msg(fabs(s / 20000) < 0.05 && fabs(s2 / 20000 - 1) < 0.05, "normal mean %g var %g", s / 20000,
                  s2 / 20000);
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("math");
    TCase *tc = tcase_create("kernels");
    tcase_add_test(tc, test_layernorm);
    tcase_add_test(tc, test_layernorm_parallel_rows);
    tcase_add_test(tc, test_activations);
    tcase_add_test(tc, test_fast_exp);
    tcase_add_test(tc, test_zero);
    tcase_add_test(tc, test_softmax_logsumexp);
    tcase_add_test(tc, test_matmul);
    tcase_add_test(tc, test_matmul_threaded);
    tcase_add_test(tc, test_attention);
    tcase_add_test(tc, test_residual_embedding);
    tcase_add_test(tc, test_rng);
    suite_add_tcase(s, tc);
    return s;
}

FRZ_TEST_MAIN(make_suite)
