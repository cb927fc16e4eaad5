/* check_lm_backward.c -- the GPT-2 training forward and backward (src/lm/gpt2_train.c) and the backward
 * kernels of src/math, checked three ways:
 *
 *  1. each backward kernel against central finite differences of a naive double-precision forward (accurate to
 *     ~1e-9, so the float kernels are held to ~1e-5 of the gradient's scale);
 *  2. the whole model against PyTorch autograd in float64 (tests/reference/make_lm_grad_fixtures.py; fixtures in
 *     tests/fixtures/lm_grad/): loss, per-sequence NLL, d_embd at every position, every weight gradient.
 *     Criterion: max |got - want| <= 1e-4 * max |want| over each tensor (d_embd: over each position's row);
 *     the generator shows a float32 evaluation passes 10x inside and likely mistakes fail 10x outside;
 *  3. the whole model against finite differences of its own float loss, on tiny random models of several
 *     configurations (untied head, erf GELU, unscaled attention, narrow heads, n_inner != 4C).
 * And: the weights are never written, 1 and 2 threads agree, arguments are checked, allocation failures at
 * every allocation of the workspace and the gradients are clean (no leak under ASan). */
#include "core/core.h"
#include "formats/safetensors.h"
#include "lm/gpt2_train.h"
#include "math/nn.h"
#include "math/rng.h"
#include "util/testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- helpers ------------------------------------------------------------------------------------------ */

static float *random_floats(size_t n, double scale, uint64_t seed)
{
    frz_rng rng;
    frz_rng_seed(&rng, seed);
    float *p = malloc(n * sizeof *p + 1);
    ck_assert(p != NULL);
    for (size_t i = 0; i < n; i++) p[i] = (float)(scale * frz_rng_normal(&rng));
    return p;
}

static double *to_double(const float *x, size_t n)
{
    double *d = malloc(n * sizeof *d + 1);
    ck_assert(d != NULL);
    for (size_t i = 0; i < n; i++) d[i] = x[i];
    return d;
}

static double max_abs(const double *x, size_t n)
{
    double m = 0;
    for (size_t i = 0; i < n; i++) m = fmax(m, fabs(x[i]));
    return m;
}

/* max |got - want| <= tol * max |want| (false for NaN); got may start at an offset `base` that the kernel
 * accumulated onto: got - base is compared. */
static void assert_scaled(const float *got, const float *base, const double *want, size_t n, double tol,
                          const char *what)
{
    double scale = max_abs(want, n), worst = 0;
    size_t at = 0;
    for (size_t i = 0; i < n; i++) {
        double e = fabs((double)got[i] - (base ? base[i] : 0.0) - want[i]);
        if (!(e <= worst)) worst = e, at = i;
    }
    ck_assert_msg(scale > 0, "%s: reference is all zero", what);
    ck_assert_msg(worst <= tol * scale, "%s: max error %.3g at [%zu] (got %.9g, want %.9g) > %.1g x scale %.3g",
                  what, worst, at, (double)got[at] - (base ? base[at] : 0.0), want[at], tol, scale);
}

/* Central difference of f at x[i] in double: (f(x + h) - f(x - h)) / 2h. */
typedef double (*objective_fn)(const double *x, void *ctx);
static void fd_gradient(double *grad, double *x, size_t n, double h, objective_fn f, void *ctx)
{
    for (size_t i = 0; i < n; i++) {
        double x0 = x[i];
        x[i] = x0 + h;
        double fp = f(x, ctx);
        x[i] = x0 - h;
        double fm = f(x, ctx);
        x[i] = x0;
        grad[i] = (fp - fm) / (2 * h);
    }
}

/* ---- 1. kernels against finite differences of double forwards ---------------------------------------- */

/* Every kernel test uses the objective L = sum(out * R) with a fixed random R, so dout = R. */

typedef struct ln_ctx {
    int N, C, which; /* which: 0 inp, 1 weight, 2 bias is the variable */
    const double *inp, *w, *b, *R;
    double eps;
} ln_ctx;

static double ln_objective(const double *x, void *p)
{
    const ln_ctx *c = p;
    const double *inp = c->which == 0 ? x : c->inp, *w = c->which == 1 ? x : c->w, *b = c->which == 2 ? x : c->b;
    double L = 0;
    for (int r = 0; r < c->N; r++) {
        const double *xr = inp + r * c->C;
        double m = 0, v = 0;
        for (int i = 0; i < c->C; i++) m += xr[i];
        m /= c->C;
        for (int i = 0; i < c->C; i++) v += (xr[i] - m) * (xr[i] - m);
        v /= c->C;
        double s = 1 / sqrt(v + c->eps);
        for (int i = 0; i < c->C; i++) L += ((xr[i] - m) * s * w[i] + b[i]) * c->R[r * c->C + i];
    }
    return L;
}

START_TEST(test_layernorm_backward)
{
    const int N = 6, C = 37;
    float *x = random_floats((size_t)N * C, 2.0, 1), *w = random_floats(C, 1.0, 2), *b = random_floats(C, 1.0, 3);
    float *R = random_floats((size_t)N * C, 1.0, 4);
    for (int i = 0; i < N * C; i++) x[i] += 3.0f;
    double *xd = to_double(x, (size_t)N * C), *wd = to_double(w, C), *bd = to_double(b, C), *Rd = to_double(R, (size_t)N * C);
    for (int e = 0; e < 2; e++) {
        const float eps = e ? 0.5f : 1e-5f; /* a large epsilon enters the gradient too */
        ln_ctx ctx = {N, C, 0, xd, wd, bd, Rd, eps};
        double want_x[6 * 37], want_w[37], want_b[37];
        ctx.which = 0, fd_gradient(want_x, xd, (size_t)N * C, 1e-5, ln_objective, &ctx);
        ctx.which = 1, fd_gradient(want_w, wd, C, 1e-5, ln_objective, &ctx);
        ctx.which = 2, fd_gradient(want_b, bd, C, 1e-5, ln_objective, &ctx);
        float out[6 * 37], mean[6], rstd[6];
        frz_layernorm_forward(out, mean, rstd, x, w, b, N, C, eps, 1);
        for (int nth = 1; nth <= 2; nth++) {
            /* gradients accumulate onto what the buffers hold */
            float *base_x = random_floats((size_t)N * C, 1.0, 5), *base_w = random_floats(C, 1.0, 6);
            float *base_b = random_floats(C, 1.0, 7);
            float dx[6 * 37], dw[37], db[37];
            memcpy(dx, base_x, sizeof dx), memcpy(dw, base_w, sizeof dw), memcpy(db, base_b, sizeof db);
            frz_layernorm_backward(dx, dw, db, R, x, w, mean, rstd, N, C, nth);
            assert_scaled(dx, base_x, want_x, (size_t)N * C, 1e-5, "layernorm dinp");
            assert_scaled(dw, base_w, want_w, C, 1e-5, "layernorm dweight");
            assert_scaled(db, base_b, want_b, C, 1e-5, "layernorm dbias");
            /* without weight gradients: the same dinp */
            memcpy(dx, base_x, sizeof dx);
            frz_layernorm_backward(dx, NULL, NULL, R, x, w, mean, rstd, N, C, nth);
            assert_scaled(dx, base_x, want_x, (size_t)N * C, 1e-5, "layernorm dinp alone");
            free(base_x), free(base_w), free(base_b);
        }
    }
    free(x), free(w), free(b), free(R), free(xd), free(wd), free(bd), free(Rd);
}
END_TEST

static double act_ref(frz_activation act, double x)
{
    switch (act) {
    case FRZ_ACT_GELU_TANH: return 0.5 * x * (1 + tanh(sqrt(2 / M_PI) * (x + 0.044715 * x * x * x)));
    case FRZ_ACT_GELU_ERF: return 0.5 * x * (1 + erf(x / sqrt(2.0)));
    case FRZ_ACT_RELU: return x > 0 ? x : 0;
    }
    return NAN;
}

START_TEST(test_activation_backward)
{
    enum { n = 200 + 9 };
    float *x = random_floats(n, 2.5, 8), *R = random_floats(n, 1.0, 9), *base = random_floats(n, 1.0, 10);
    const float extremes[9] = {-100.0f, -30.0f, -9.0f, -3.0f, -0.5f, 0.5f, 3.0f, 30.0f, 100.0f};
    memcpy(x + 200, extremes, sizeof extremes);
    for (int a = 0; a < 3; a++) {
        const frz_activation act = (frz_activation)a;
        double want[n];
        for (int i = 0; i < n; i++) {
            if (act == FRZ_ACT_RELU && fabsf(x[i]) < 1e-3f) x[i] = 0.25f; /* no difference quotient over the kink */
            const double h = 1e-5;
            want[i] = (act_ref(act, x[i] + h) - act_ref(act, x[i] - h)) / (2 * h) * R[i];
        }
        for (int nth = 1; nth <= 2; nth++) {
            float d[n];
            memcpy(d, base, sizeof d);
            if (nth == 1)
                frz_activation_backward(act, d, R, x, n, nth);
            else if (act == FRZ_ACT_GELU_TANH)
                frz_gelu_tanh_backward(d, R, x, n, nth);
            else if (act == FRZ_ACT_GELU_ERF)
                frz_gelu_erf_backward(d, R, x, n, nth);
            else
                frz_relu_backward(d, R, x, n, 1.0f, nth);
            /* elementwise: each entry to 2e-6 of its own size, 1e-7 absolute */
            for (int i = 0; i < n; i++) {
                double got = (double)d[i] - base[i];
                ck_assert_msg(fabs(got - want[i]) <= 1e-7 + 2e-6 * fabs(want[i]) + 1e-7 * fabs(base[i]),
                              "activation %d x=%g: got %.9g, want %.9g", a, (double)x[i], got, want[i]);
            }
        }
    }
    free(x), free(R), free(base);
}
END_TEST

/* Causal attention over B sequences in double, the variable being qkv (B,T,3C). */
typedef struct att_ctx {
    int B, T, C, NH;
    double scale;
    const double *R; /* (B,T,C) */
} att_ctx;

static double att_objective(const double *qkv, void *p)
{
    const att_ctx *c = p;
    const int hs = c->C / c->NH, C3 = 3 * c->C;
    double L = 0;
    for (int b = 0; b < c->B; b++)
        for (int t = 0; t < c->T; t++)
            for (int h = 0; h < c->NH; h++) {
                const double *q = qkv + (b * c->T + t) * C3 + h * hs;
                double s[64], m = -INFINITY, sum = 0;
                for (int j = 0; j <= t; j++) {
                    const double *k = qkv + (b * c->T + j) * C3 + c->C + h * hs;
                    double d = 0;
                    for (int i = 0; i < hs; i++) d += q[i] * k[i];
                    s[j] = d * c->scale;
                    m = fmax(m, s[j]);
                }
                for (int j = 0; j <= t; j++) sum += (s[j] = exp(s[j] - m));
                for (int i = 0; i < hs; i++) {
                    double o = 0;
                    for (int j = 0; j <= t; j++) o += s[j] / sum * qkv[(b * c->T + j) * C3 + 2 * c->C + h * hs + i];
                    L += o * c->R[(b * c->T + t) * c->C + h * hs + i];
                }
            }
    return L;
}

START_TEST(test_attention_backward)
{
    const int B = 2, T = 7, C = 12, NH = 3;
    const size_t nqkv = (size_t)B * T * 3 * C, nout = (size_t)B * T * C;
    float *qkv = random_floats(nqkv, 1.0, 11), *R = random_floats(nout, 1.0, 12);
    double *qd = to_double(qkv, nqkv), *Rd = to_double(R, nout), *want = malloc(nqkv * sizeof *want);
    for (int sc = 0; sc < 2; sc++) {
        const float scale = sc ? 1.0f : 1.0f / sqrtf((float)(C / NH));
        att_ctx ctx = {B, T, C, NH, scale, Rd};
        fd_gradient(want, qd, nqkv, 1e-5, att_objective, &ctx);
        float *out = malloc(nout * sizeof *out), *att = malloc((size_t)B * NH * T * T * sizeof *att);
        for (int nth = 1; nth <= 2; nth++) {
            frz_attention_forward_train(out, att, qkv, B, T, C, NH, scale, nth);
            /* the forward agrees with the cached-inference kernel's (sgemm there, loops here: to rounding), and the
             * kept probabilities are causal rows */
            float *ref_out = malloc((size_t)T * C * sizeof *ref_out), *scratch = malloc(frz_attention_scratch(T, 1) * sizeof *scratch);
            for (int b = 0; b < B; b++) {
                const float *s = qkv + (size_t)b * T * 3 * C;
                frz_attention_forward(ref_out, s, 3 * (size_t)C, s + C, s + 2 * C, 3 * (size_t)C, 0, T, C, NH, scale,
                                      scratch, 1);
                for (size_t i = 0; i < (size_t)T * C; i++) {
                    const float got = out[(size_t)b * T * C + i];
                    ck_assert_msg(fabsf(got - ref_out[i]) <= 1e-5f * (1.0f + fabsf(ref_out[i])),
                                  "attention output %zu: training %g, inference %g", i, got, ref_out[i]);
                }
                for (int h = 0; h < NH; h++)
                    for (int t = 0; t < T; t++) {
                        const float *row = att + (((size_t)b * NH + h) * T + t) * T;
                        double sum = 0;
                        for (int j = 0; j < T; j++) {
                            if (j > t) ck_assert(row[j] == 0.0f);
                            sum += row[j];
                        }
                        ck_assert_msg(fabs(sum - 1) < 1e-5, "attention row sums to %g", sum);
                    }
            }
            free(ref_out), free(scratch);
            float *base = random_floats(nqkv, 1.0, 13), *d = malloc(nqkv * sizeof *d);
            float *sc_buf = malloc((size_t)B * NH * T * sizeof *sc_buf);
            memcpy(d, base, nqkv * sizeof *d);
            frz_attention_backward(d, R, qkv, att, B, T, C, NH, scale, sc_buf, nth);
            assert_scaled(d, base, want, nqkv, 1e-5, sc ? "attention dqkv (unscaled)" : "attention dqkv");
            free(base), free(d), free(sc_buf);
        }
        free(out), free(att);
    }
    free(qkv), free(R), free(qd), free(Rd), free(want);
}
END_TEST

typedef struct xent_ctx {
    int M, V;
    const int32_t *tgt;
} xent_ctx;

static double xent_objective(const double *x, void *p)
{
    const xent_ctx *c = p;
    double L = 0;
    for (int r = 0; r < c->M; r++) {
        const double *row = x + r * c->V;
        double m = -INFINITY, s = 0;
        for (int i = 0; i < c->V; i++) m = fmax(m, row[i]);
        for (int i = 0; i < c->V; i++) s += exp(row[i] - m);
        L += m + log(s) - row[c->tgt[r]];
    }
    return L;
}

START_TEST(test_crossentropy)
{
    const int M = 5, V = 1000;
    float *x = random_floats((size_t)M * V, 3.0, 14);
    x[2 * V + 17] = 60.0f; /* a dominant logit: the max shift keeps the row finite */
    const int32_t tgt[5] = {0, 999, 17, 500, 3};
    double *xd = to_double(x, (size_t)M * V), *want = malloc((size_t)M * V * sizeof *want);
    xent_ctx ctx = {M, V, tgt};
    fd_gradient(want, xd, (size_t)M * V, 1e-5, xent_objective, &ctx);
    for (int nth = 1; nth <= 2; nth++) {
        double nll[5], lse[5];
        frz_crossentropy_forward(nll, lse, x, tgt, M, V, nth);
        for (int r = 0; r < M; r++) {
            xent_ctx one = {1, V, tgt + r};
            double w = xent_objective(xd + (size_t)r * V, &one);
            ck_assert_msg(fabs(nll[r] - w) <= 1e-6 * fmax(1, fabs(w)), "nll[%d] %.9g vs %.9g", r, nll[r], w);
            ck_assert(fabs(lse[r] - (w + x[(size_t)r * V + tgt[r]])) <= 1e-6 * fmax(1, fabs(lse[r])));
        }
        /* in place, scaled by dnll */
        float *d = malloc((size_t)M * V * sizeof *d);
        memcpy(d, x, (size_t)M * V * sizeof *d);
        frz_crossentropy_backward(d, lse, tgt, 0.25f, M, V, nth);
        for (size_t i = 0; i < (size_t)M * V; i++) want[i] *= 0.25;
        assert_scaled(d, NULL, want, (size_t)M * V, 1e-5, "cross-entropy dlogits");
        for (size_t i = 0; i < (size_t)M * V; i++) want[i] *= 4;
        free(d);
    }
    free(x), free(xd), free(want);
}
END_TEST

/* out (N,OC) = inp (N,C) @ W + b in double, W (C,OC) or, transposed, (OC,C). */
static void matmul_ref(double *out, const double *inp, const double *w, const double *b, int N, int C, int OC, int wt)
{
    for (int r = 0; r < N; r++)
        for (int o = 0; o < OC; o++) {
            double s = b ? b[o] : 0;
            for (int i = 0; i < C; i++) s += inp[r * C + i] * (wt ? w[o * C + i] : w[i * OC + o]);
            out[r * OC + o] = s;
        }
}

START_TEST(test_matmul_backward)
{
    /* big enough (N C OC >= 2^18) for the threaded split, odd sizes for the slice edges */
    const int N = 37, C = 81, OC = 131;
    float *inp = random_floats((size_t)N * C, 1.0, 15), *w = random_floats((size_t)C * OC, 1.0, 16);
    float *R = random_floats((size_t)N * OC, 1.0, 17);
    double *id = to_double(inp, (size_t)N * C), *wd = to_double(w, (size_t)C * OC), *Rd = to_double(R, (size_t)N * OC);
    double *want_i = calloc((size_t)N * C, sizeof(double)), *want_w = calloc((size_t)C * OC, sizeof(double));
    double want_b[131] = {0};
    for (int wt = 0; wt <= 1; wt++) {
        /* L = sum(out * R) is linear: its gradients are exact products, written out in double */
        memset(want_i, 0, (size_t)N * C * sizeof(double));
        memset(want_w, 0, (size_t)C * OC * sizeof(double));
        memset(want_b, 0, sizeof want_b);
        for (int r = 0; r < N; r++)
            for (int o = 0; o < OC; o++) {
                const double g = Rd[r * OC + o];
                want_b[o] += g;
                for (int i = 0; i < C; i++) {
                    const size_t wi = wt ? (size_t)o * C + i : (size_t)i * OC + o;
                    want_i[r * C + i] += g * wd[wi];
                    want_w[wi] += g * id[r * C + i];
                }
            }
        /* and the linear map itself is the forward's (a check that the layouts are the forward's) */
        double *fwd = malloc((size_t)N * OC * sizeof *fwd), L = 0, L2 = 0;
        matmul_ref(fwd, id, wd, NULL, N, C, OC, wt);
        for (size_t k = 0; k < (size_t)N * OC; k++) L += fwd[k] * Rd[k];
        for (size_t k = 0; k < (size_t)N * C; k++) L2 += want_i[k] * id[k];
        ck_assert_msg(fabs(L - L2) <= 1e-9 * fabs(L), "matmul reference: %g vs %g", L, L2);
        free(fwd);
        for (int nth = 1; nth <= 2; nth++) {
            float *bi = random_floats((size_t)N * C, 1.0, 18), *bw = random_floats((size_t)C * OC, 1.0, 19);
            float *bb = random_floats(OC, 1.0, 20);
            float *di = malloc((size_t)N * C * sizeof *di), *dw = malloc((size_t)C * OC * sizeof *dw), db[131];
            memcpy(di, bi, (size_t)N * C * sizeof *di), memcpy(dw, bw, (size_t)C * OC * sizeof *dw);
            memcpy(db, bb, OC * sizeof *db);
            if (wt)
                frz_matmul_wt_backward(di, dw, db, R, inp, w, N, C, OC, nth);
            else
                frz_matmul_backward(di, dw, db, R, inp, w, N, C, OC, nth);
            assert_scaled(di, bi, want_i, (size_t)N * C, 1e-5, "matmul dinp");
            assert_scaled(dw, bw, want_w, (size_t)C * OC, 1e-5, "matmul dweight");
            assert_scaled(db, bb, want_b, OC, 1e-5, "matmul dbias");
            /* NULL outputs are skipped */
            memcpy(di, bi, (size_t)N * C * sizeof *di);
            if (wt)
                frz_matmul_wt_backward(di, NULL, NULL, R, inp, w, N, C, OC, nth);
            else
                frz_matmul_backward(di, NULL, NULL, R, inp, w, N, C, OC, nth);
            assert_scaled(di, bi, want_i, (size_t)N * C, 1e-5, "matmul dinp alone");
            free(bi), free(bw), free(bb), free(di), free(dw);
        }
    }
    free(inp), free(w), free(R), free(id), free(wd), free(Rd), free(want_i), free(want_w);
}
END_TEST

START_TEST(test_embedding_backward)
{
    const int T = 4, C = 3, V = 5;
    const int32_t tokens[4] = {2, FRZ_TOKEN_EMBEDDING, 2, 4};
    float dout[12], d_embd[12] = {0}, dwte[15] = {0}, dwpe[7 * 3] = {0};
    for (int i = 0; i < 12; i++) dout[i] = (float)(i + 1);
    frz_embedding_backward(d_embd, dwte, dwpe, dout, tokens, 2, T, C);
    for (int i = 0; i < 12; i++) ck_assert(d_embd[i] == dout[i]); /* every position */
    for (int i = 0; i < C; i++) {
        ck_assert(dwte[2 * C + i] == dout[i] + dout[2 * C + i]); /* a repeated token sums */
        ck_assert(dwte[4 * C + i] == dout[3 * C + i]);
        ck_assert(dwte[0 * C + i] == 0 && dwte[1 * C + i] == 0 && dwte[3 * C + i] == 0);
        ck_assert(dwpe[0 * C + i] == 0 && dwpe[1 * C + i] == 0);
        for (int t = 0; t < T; t++) ck_assert(dwpe[(2 + t) * C + i] == dout[t * C + i]);
    }
    (void)V;
    frz_embedding_backward(NULL, NULL, NULL, dout, tokens, 0, T, C); /* nothing asked: nothing written */
}
END_TEST

/* ---- 2. the model against PyTorch autograd ------------------------------------------------------------ */

#define TOL 1e-4

typedef struct fixture {
    const char *model;
    frz_st_set *st;
    frz_lm *lm;
    int B, T, C;
} fixture;

static const frz_st_tensor *fx_find(const fixture *f, const char *name, frz_dtype dt)
{
    const frz_st_tensor *t = frz_st_find(f->st, name);
    ck_assert_msg(t != NULL, "%s: fixture tensor '%s' missing", f->model, name);
    ck_assert_msg(t->dtype == dt, "%s: '%s' has dtype %s", f->model, name, frz_dtype_name(t->dtype));
    return t;
}

static fixture open_fixture(const char *model)
{
    char rel[256];
    fixture f = {model, NULL, NULL, 0, 0, 0};
    snprintf(rel, sizeof rel, "lm_grad/%s.safetensors", model);
    ck_assert_msg(frz_st_open_file(fixture_path(rel), &f.st) == FRZ_OK, "%s: %s", rel, frz_last_error());
    snprintf(rel, sizeof rel, "models/%s", model);
    ck_assert_msg(frz_lm_load(fixture_path(rel), &f.lm) == FRZ_OK, "%s: %s", rel, frz_last_error());
    const frz_st_tensor *e = fx_find(&f, "embd", FRZ_DT_F32);
    ck_assert(e->ndim == 3);
    f.B = (int)e->shape[0], f.T = (int)e->shape[1], f.C = (int)e->shape[2];
    ck_assert(f.C == f.lm->cfg.n_embd);
    return f;
}

static void close_fixture(fixture *f)
{
    frz_st_close(f->st);
    frz_lm_free(f->lm);
}

/* The tensor's data as doubles (malloc'd). */
static double *fx_doubles(const fixture *f, const char *name, size_t n)
{
    const frz_st_tensor *t = frz_st_find(f->st, name);
    ck_assert_msg(t != NULL, "%s: fixture tensor '%s' missing", f->model, name);
    ck_assert_msg(t->nbytes == n * frz_dtype_size(t->dtype), "%s: '%s' has %zu bytes", f->model, name, t->nbytes);
    double *d = malloc(n * sizeof *d + 1);
    ck_assert(d != NULL);
    for (size_t i = 0; i < n; i++) {
        if (t->dtype == FRZ_DT_F64) {
            memcpy(&d[i], (const char *)t->data + 8 * i, 8);
        } else {
            ck_assert(t->dtype == FRZ_DT_F32);
            float v;
            memcpy(&v, (const char *)t->data + 4 * i, 4);
            d[i] = v;
        }
    }
    return d;
}

/* Every parameter tensor's (name, element count), in checkpoint order (the layout of frz_gpt2_grads.mem). */
typedef struct param_info {
    char name[64];
    size_t n;
} param_info;

static param_info *param_table(const frz_lm *lm, size_t *n_out)
{
    frz_lm scratch;
    memset(&scratch, 0, sizeof scratch);
    scratch.cfg = lm->cfg;
    frz_gpt2_tensor *t;
    size_t n;
    ck_assert(frz_gpt2_tensors(&scratch, &t, &n) == FRZ_OK);
    param_info *p = malloc(n * sizeof *p);
    ck_assert(p != NULL);
    for (size_t i = 0; i < n; i++) {
        snprintf(p[i].name, sizeof p[i].name, "%s", t[i].name);
        p[i].n = (size_t)(t[i].shape[0] * (t[i].ndim == 2 ? t[i].shape[1] : 1));
    }
    free(t);
    free(scratch.w.layers);
    *n_out = n;
    return p;
}

/* Runs forward + backward on the fixture's batch: *loss, d_embd (B,T,C) (zeroed first), grads (may be NULL;
 * added to). */
static void run_fixture(fixture *f, frz_gpt2_train_ws *ws, int nth, float *loss, float *d_embd,
                        frz_gpt2_grads *grads)
{
    const int32_t *tokens = fx_find(f, "tokens", FRZ_DT_I32)->data;
    const int32_t *targets = fx_find(f, "targets", FRZ_DT_I32)->data;
    const float *embd = fx_find(f, "embd", FRZ_DT_F32)->data;
    ck_assert_msg(frz_gpt2_train_forward(ws, tokens, embd, targets, nth, loss) == FRZ_OK, "%s: forward: %s",
                  f->model, frz_last_error());
    memset(d_embd, 0, (size_t)f->B * f->T * f->C * sizeof *d_embd);
    ck_assert_msg(frz_gpt2_train_backward(ws, d_embd, grads, nth) == FRZ_OK, "%s: backward: %s", f->model,
                  frz_last_error());
}

/* d_embd against the reference, each position's row to TOL of that row's scale (zero rows exactly zero). */
static void assert_d_embd(const fixture *f, const float *got, const char *what)
{
    const size_t n = (size_t)f->B * f->T * f->C;
    double *want = fx_doubles(f, "d_embd", n);
    for (int r = 0; r < f->B * f->T; r++) {
        const double *w = want + (size_t)r * f->C;
        const float *g = got + (size_t)r * f->C;
        double scale = max_abs(w, f->C), worst = 0;
        for (int i = 0; i < f->C; i++) worst = fmax(worst, fabs((double)g[i] - w[i]));
        ck_assert_msg(scale == 0 ? worst == 0 : worst <= TOL * scale,
                      "%s %s: d_embd at sequence %d position %d: max error %.3g, row scale %.3g", f->model, what,
                      r / f->T, r % f->T, worst, scale);
    }
    free(want);
}

START_TEST(test_pytorch_parity)
{
    static const char *const models[] = {"gpt2-f32", "gpt2-gelu", "gpt2-eps", "gpt2-untied"};
    fixture f = open_fixture(models[_i]);
    frz_gpt2_train_ws *ws;
    ck_assert(frz_gpt2_train_ws_create(f.lm, f.B, f.T, &ws) == FRZ_OK);
    const size_t n_embd = (size_t)f.B * f.T * f.C;
    float *d_embd = malloc(n_embd * sizeof *d_embd), loss;
    const int with_weights = frz_st_find(f.st, "grad.wte.weight") != NULL;
    frz_gpt2_grads *g = NULL;
    if (with_weights) ck_assert(frz_gpt2_grads_create(f.lm, &g) == FRZ_OK);

    run_fixture(&f, ws, 1, &loss, d_embd, g);
    double *want_loss = fx_doubles(&f, "loss", 1), *want_nll = fx_doubles(&f, "seq_nll", (size_t)f.B);
    ck_assert_msg(fabs(loss - want_loss[0]) <= TOL * fabs(want_loss[0]), "%s: loss %.9g, want %.9g", f.model,
                  (double)loss, want_loss[0]);
    const int32_t *want_count = fx_find(&f, "seq_count", FRZ_DT_I32)->data;
    double nll_scale = max_abs(want_nll, (size_t)f.B);
    for (int b = 0; b < f.B; b++) {
        double nll;
        int count;
        frz_gpt2_train_seq_nll(ws, b, &nll, &count);
        ck_assert_msg(count == want_count[b], "%s: sequence %d has %d targets, want %d", f.model, b, count,
                      want_count[b]);
        ck_assert_msg(fabs(nll - want_nll[b]) <= TOL * nll_scale, "%s: sequence %d NLL %.9g, want %.9g", f.model, b,
                      nll, want_nll[b]);
    }
    assert_d_embd(&f, d_embd, "");

    if (with_weights) {
        size_t n_p;
        param_info *p = param_table(f.lm, &n_p);
        const float *at = g->mem;
        for (size_t i = 0; i < n_p; i++) {
            char name[80];
            snprintf(name, sizeof name, "grad.%s", p[i].name);
            double *want = fx_doubles(&f, name, p[i].n);
            assert_scaled(at, NULL, want, p[i].n, TOL, name);
            free(want);
            at += p[i].n;
        }
        ck_assert(at == g->mem + g->n_floats);
        free(p);
    }

    /* Frozen's case: no weight gradients; the input gradient is the same, bit for bit */
    float *d2 = malloc(n_embd * sizeof *d2);
    memset(d2, 0, n_embd * sizeof *d2);
    ck_assert(frz_gpt2_train_backward(ws, d2, NULL, 1) == FRZ_OK);
    ck_assert(memcmp(d2, d_embd, n_embd * sizeof *d2) == 0);
    /* a second backward of the same forward adds the same gradient again */
    ck_assert(frz_gpt2_train_backward(ws, d2, NULL, 1) == FRZ_OK);
    for (size_t i = 0; i < n_embd; i++) ck_assert(d2[i] == 2 * d_embd[i]);

    free(d2), free(want_loss), free(want_nll), free(d_embd);
    frz_gpt2_grads_free(g);
    frz_gpt2_train_ws_free(ws);
    close_fixture(&f);
}
END_TEST

/* The same batch given as vectors only (tokens == NULL, the token rows of wte passed as embeddings) is the
 * same computation, with 2 threads. */
START_TEST(test_vectors_only)
{
    fixture f = open_fixture("gpt2-f32");
    const size_t n = (size_t)f.B * f.T * f.C;
    const int32_t *tokens = fx_find(&f, "tokens", FRZ_DT_I32)->data;
    const int32_t *targets = fx_find(&f, "targets", FRZ_DT_I32)->data;
    const float *embd = fx_find(&f, "embd", FRZ_DT_F32)->data;
    float *all = malloc(n * sizeof *all), *d = calloc(n, sizeof *d), loss;
    for (int r = 0; r < f.B * f.T; r++)
        memcpy(all + (size_t)r * f.C,
               tokens[r] == FRZ_TOKEN_EMBEDDING ? embd + (size_t)r * f.C : f.lm->w.wte + (size_t)tokens[r] * f.C,
               (size_t)f.C * sizeof *all);
    frz_gpt2_train_ws *ws;
    ck_assert(frz_gpt2_train_ws_create(f.lm, f.B, f.T, &ws) == FRZ_OK);
    ck_assert(frz_gpt2_train_forward(ws, NULL, all, targets, 2, &loss) == FRZ_OK);
    double *want_loss = fx_doubles(&f, "loss", 1);
    ck_assert(fabs(loss - want_loss[0]) <= TOL * want_loss[0]);
    ck_assert(frz_gpt2_train_backward(ws, d, NULL, 2) == FRZ_OK);
    assert_d_embd(&f, d, "(vectors only)");
    free(all), free(d), free(want_loss);
    frz_gpt2_train_ws_free(ws);
    close_fixture(&f);
}
END_TEST

/* ---- 3. the model against finite differences of its own loss ------------------------------------------ */

/* A tiny random model with weights scaled up from GPT-2's 0.02 (matrices and embeddings x10) so every branch
 * matters; tweak sets the configuration. */
static frz_lm *tiny_model(int variant)
{
    frz_gpt2_config c;
    frz_gpt2_config_init(&c, 2, 2, 16, 53, 12);
    if (variant == 1) {
        c.n_head = 4; /* head size 4 */
        c.n_inner = 24;
        c.tie_lm_head = 0;
        c.act = FRZ_ACT_GELU_ERF;
        c.scale_attn = 0;
        c.ln_eps = 0.01f;
    }
    frz_lm *lm;
    ck_assert(frz_gpt2_create_random(&c, 77 + (uint64_t)variant, &lm) == FRZ_OK);
    size_t n_p;
    param_info *p = param_table(lm, &n_p);
    float *at = lm->mem; /* the random model lays its tensors out in table order */
    for (size_t i = 0; i < n_p; i++) {
        const int matrix = strstr(p[i].name, "weight") && !strstr(p[i].name, "ln_");
        if (matrix)
            for (size_t k = 0; k < p[i].n; k++) at[k] *= 10.0f;
        at += p[i].n;
    }
    free(p);
    return lm;
}

/* A batch like Frozen's: 2 vectors, tokens, <|endoftext|> (id V-1), padding; targets on the tokens. */
enum { FD_B = 2, FD_T = 9 };
typedef struct fd_batch {
    int32_t tokens[FD_B * FD_T], targets[FD_B * FD_T];
    float embd[FD_B * FD_T * 16];
} fd_batch;

static void make_fd_batch(fd_batch *b, const frz_lm *lm)
{
    const int V = lm->cfg.n_vocab, C = lm->cfg.n_embd;
    const int lens[FD_B] = {6, 3};
    frz_rng rng;
    frz_rng_seed(&rng, 5);
    for (int s = 0; s < FD_B; s++)
        for (int t = 0; t < FD_T; t++) {
            const int i = s * FD_T + t;
            b->tokens[i] = t < 2 ? FRZ_TOKEN_EMBEDDING : t < 2 + lens[s] ? (int32_t)(frz_rng_next(&rng) % (V - 1))
                                                                           : V - 1;
            for (int k = 0; k < C; k++) b->embd[i * C + k] = t < 2 ? (float)(0.5 * frz_rng_normal(&rng)) : 0.0f;
        }
    for (int s = 0; s < FD_B; s++)
        for (int t = 0; t < FD_T; t++) {
            const int i = s * FD_T + t;
            b->targets[i] = t >= 1 && t < 2 + lens[s] ? b->tokens[i + 1] : -1;
        }
}

static double fd_loss(frz_gpt2_train_ws *ws, const fd_batch *b)
{
    float loss;
    ck_assert(frz_gpt2_train_forward(ws, b->tokens, b->embd, b->targets, 1, &loss) == FRZ_OK);
    return loss;
}

/* dloss/dx by a 4-point central difference, O(h^4): with the float loss's noise about 1e-6 and h = 0.05 its
 * error is ~2e-5 from noise and far less from truncation. */
static double fd4(frz_gpt2_train_ws *ws, const fd_batch *b, float *x)
{
    const float x0 = *x, h = 0.05f;
    double f[4];
    const float off[4] = {-2 * h, -h, h, 2 * h};
    for (int k = 0; k < 4; k++) {
        *x = x0 + off[k];
        f[k] = fd_loss(ws, b);
    }
    *x = x0;
    return (f[0] - 8 * f[1] + 8 * f[2] - f[3]) / (12 * (double)h);
}

/* |fd - analytic| <= 1e-3 * scale + 5e-5, scale = the largest analytic gradient of the tensor */
static void assert_fd(double fd, double an, double scale, const char *what, size_t idx)
{
    ck_assert_msg(fabs(fd - an) <= 1e-3 * scale + 5e-5, "%s[%zu]: finite difference %.7g, backward %.7g", what, idx,
                  fd, an);
}

START_TEST(test_finite_differences)
{
    frz_lm *lm = tiny_model(_i);
    const int C = lm->cfg.n_embd;
    fd_batch b;
    make_fd_batch(&b, lm);
    frz_gpt2_train_ws *ws;
    ck_assert(frz_gpt2_train_ws_create(lm, FD_B, FD_T, &ws) == FRZ_OK);
    frz_gpt2_grads *g;
    ck_assert(frz_gpt2_grads_create(lm, &g) == FRZ_OK);
    float d_embd[FD_B * FD_T * 16] = {0};
    fd_loss(ws, &b);
    ck_assert(frz_gpt2_train_backward(ws, d_embd, g, 1) == FRZ_OK);
    /* the analytic gradients, copied: the difference quotients below rerun the forward */
    float *grad = malloc(g->n_floats * sizeof *grad);
    memcpy(grad, g->mem, g->n_floats * sizeof *grad);
    float d_an[FD_B * FD_T * 16];
    memcpy(d_an, d_embd, sizeof d_an);

    /* input embeddings: prefix vectors, a token position (its entry of embd is unused: d goes through wte, so
     * the vector path is tested via the prefix only), padding positions (exactly 0: no target depends on them) */
    double scale = 0;
    for (int i = 0; i < FD_B * FD_T * C; i++) scale = fmax(scale, fabs(d_an[i]));
    const int prefix_entries[] = {0, 5, C + 3, 2 * C - 1, FD_T * C + 7, (FD_T + 1) * C + 2};
    for (size_t k = 0; k < sizeof prefix_entries / sizeof prefix_entries[0]; k++) {
        const int i = prefix_entries[k];
        assert_fd(fd4(ws, &b, &b.embd[i]), d_an[i], scale, "d_embd", (size_t)i);
    }
    int n_nonzero = 0;
    for (int s = 0; s < FD_B; s++) {
        int last = -1; /* the last position with a target: causal attention hides the later ones from the loss */
        for (int t = 0; t < FD_T; t++)
            if (b.targets[s * FD_T + t] >= 0) last = t;
        for (int t = 0; t < FD_T; t++)
            for (int k = 0; k < C; k++) {
                const float v = d_an[(s * FD_T + t) * C + k];
                if (t > last)
                    ck_assert_msg(v == 0.0f, "position %d of sequence %d (after its last target) has gradient %g", t,
                                  s, (double)v);
                else
                    n_nonzero += v != 0.0f;
            }
    }
    ck_assert(n_nonzero == (8 + 5) * C); /* every position up to the last target has a gradient */

    /* weights: three entries of every tensor */
    size_t n_p;
    param_info *p = param_table(lm, &n_p);
    float *w = lm->mem; /* the random model's own memory (table order), nudged and restored */
    const float *an = grad;
    frz_rng rng;
    frz_rng_seed(&rng, 9);
    for (size_t i = 0; i < n_p; i++) {
        double s = 0;
        for (size_t k = 0; k < p[i].n; k++) s = fmax(s, fabs(an[k]));
        ck_assert_msg(s > 1e-3, "%s: gradient scale %g is too small to test", p[i].name, s);
        for (int r = 0; r < 3; r++) {
            size_t k = (size_t)(frz_rng_next(&rng) % p[i].n);
            if (r == 0) /* the largest entry, so that each tensor is tested where its gradient is clear */
                for (size_t j = 0; j < p[i].n; j++)
                    if (fabs(an[j]) > fabs(an[k])) k = j;
            assert_fd(fd4(ws, &b, &w[k]), an[k], s, p[i].name, k);
        }
        w += p[i].n;
        an += p[i].n;
    }
    free(p), free(grad);
    frz_gpt2_grads_free(g);
    frz_gpt2_train_ws_free(ws);
    frz_lm_free(lm);
}
END_TEST

/* ---- the rest: the weights are read-only, threads, arguments, allocation failures ---------------------- */

START_TEST(test_weights_untouched)
{
    for (int variant = 0; variant < 2; variant++) {
        frz_lm *lm = tiny_model(variant);
        const size_t bytes = (size_t)lm->n_params * sizeof(float);
        float *copy = malloc(bytes);
        memcpy(copy, lm->mem, bytes);
        fd_batch b;
        make_fd_batch(&b, lm);
        frz_gpt2_train_ws *ws;
        frz_gpt2_grads *g;
        ck_assert(frz_gpt2_train_ws_create(lm, FD_B, FD_T, &ws) == FRZ_OK);
        ck_assert(frz_gpt2_grads_create(lm, &g) == FRZ_OK);
        float d[FD_B * FD_T * 16] = {0};
        for (int rep = 0; rep < 2; rep++) {
            fd_loss(ws, &b);
            ck_assert(frz_gpt2_train_backward(ws, d, g, 2) == FRZ_OK);
            ck_assert(frz_gpt2_train_backward(ws, d, NULL, 1) == FRZ_OK);
        }
        ck_assert_msg(memcmp(copy, lm->mem, bytes) == 0, "the weights changed");
        /* and the gradients went somewhere else: every tensor has some */
        size_t n_p;
        param_info *p = param_table(lm, &n_p);
        const float *at = g->mem;
        for (size_t i = 0; i < n_p; i++) {
            int any = 0;
            for (size_t k = 0; k < p[i].n; k++) any |= at[k] != 0.0f;
            ck_assert_msg(any, "%s: no gradient", p[i].name);
            at += p[i].n;
        }
        free(p), free(copy);
        frz_gpt2_grads_free(g);
        frz_gpt2_train_ws_free(ws);
        frz_lm_free(lm);
    }
}
END_TEST

/* Big enough that every kernel takes its threaded path. */
START_TEST(test_threads_agree)
{
    frz_gpt2_config c;
    frz_gpt2_config_init(&c, 2, 4, 256, 1000, 64);
    frz_lm *lm;
    ck_assert(frz_gpt2_create_random(&c, 3, &lm) == FRZ_OK);
    const int B = 4, T = 40, C = 256;
    int32_t *tokens = malloc(B * T * sizeof *tokens), *targets = malloc(B * T * sizeof *targets);
    float *embd = random_floats((size_t)B * T * C, 0.1, 4);
    frz_rng rng;
    frz_rng_seed(&rng, 6);
    for (int i = 0; i < B * T; i++) {
        tokens[i] = i % T < 2 ? FRZ_TOKEN_EMBEDDING : (int32_t)(frz_rng_next(&rng) % 1000);
        targets[i] = i % T >= 1 && i % T < T - 3 ? (int32_t)(frz_rng_next(&rng) % 1000) : -1;
    }
    float *d[2], loss[2];
    frz_gpt2_grads *g[2];
    for (int k = 0; k < 2; k++) {
        frz_gpt2_train_ws *ws;
        ck_assert(frz_gpt2_train_ws_create(lm, B, T, &ws) == FRZ_OK);
        ck_assert(frz_gpt2_grads_create(lm, &g[k]) == FRZ_OK);
        d[k] = calloc((size_t)B * T * C, sizeof(float));
        ck_assert(frz_gpt2_train_forward(ws, tokens, embd, targets, k + 1, &loss[k]) == FRZ_OK);
        ck_assert(frz_gpt2_train_backward(ws, d[k], g[k], k + 1) == FRZ_OK);
        frz_gpt2_train_ws_free(ws);
    }
    ck_assert_msg(fabsf(loss[0] - loss[1]) <= 1e-6f * fabsf(loss[0]), "loss %.9g vs %.9g", (double)loss[0],
                  (double)loss[1]);
    double *want = to_double(d[0], (size_t)B * T * C);
    assert_scaled(d[1], NULL, want, (size_t)B * T * C, 1e-6, "d_embd with 2 threads");
    free(want);
    want = to_double(g[0]->mem, g[0]->n_floats);
    assert_scaled(g[1]->mem, NULL, want, g[0]->n_floats, 1e-6, "weight gradients with 2 threads");
    free(want);
    for (int k = 0; k < 2; k++) free(d[k]), frz_gpt2_grads_free(g[k]);
    free(tokens), free(targets), free(embd);
    frz_lm_free(lm);
}
END_TEST

START_TEST(test_arguments)
{
    frz_lm *lm = tiny_model(0);
    const int V = lm->cfg.n_vocab;
    frz_gpt2_train_ws *ws = (frz_gpt2_train_ws *)1;
    ck_assert(frz_gpt2_train_ws_create(lm, 0, 4, &ws) == FRZ_ERR_INVALID_ARG && ws == NULL);
    ck_assert(frz_gpt2_train_ws_create(lm, 1, 0, &ws) == FRZ_ERR_INVALID_ARG);
    ck_assert(frz_gpt2_train_ws_create(lm, 1, lm->cfg.n_ctx + 1, &ws) == FRZ_ERR_INVALID_ARG);
    ck_assert(strstr(frz_last_error(), "n_ctx") != NULL);
    ck_assert(frz_gpt2_train_ws_create(lm, 1 << 30, 4, &ws) == FRZ_ERR_INVALID_ARG); /* 2^32 positions */
    ck_assert(frz_gpt2_train_ws_create(lm, FD_B, FD_T, &ws) == FRZ_OK);
    ck_assert(frz_gpt2_train_ws_bytes(ws) > (size_t)FD_B * FD_T * V * sizeof(float));

    fd_batch b;
    make_fd_batch(&b, lm);
    float d[FD_B * FD_T * 16] = {0}, loss = -1;
    ck_assert(frz_gpt2_train_backward(ws, d, NULL, 1) == FRZ_ERR_INVALID_ARG); /* no forward yet */
    ck_assert(frz_gpt2_train_forward(ws, b.tokens, b.embd, b.targets, 1, &loss) == FRZ_OK && loss > 0);
    ck_assert(frz_gpt2_train_forward(ws, b.tokens, b.embd, b.targets, 0, &loss) == FRZ_ERR_INVALID_ARG);
    ck_assert(frz_gpt2_train_backward(ws, d, NULL, 1) == FRZ_ERR_INVALID_ARG); /* the failed forward left none */
    ck_assert(frz_gpt2_train_forward(ws, b.tokens, b.embd, NULL, 1, &loss) == FRZ_ERR_INVALID_ARG);
    ck_assert(frz_gpt2_train_forward(ws, NULL, NULL, b.targets, 1, &loss) == FRZ_ERR_INVALID_ARG);
    /* the prefix needs vectors */
    ck_assert(frz_gpt2_train_forward(ws, b.tokens, NULL, b.targets, 1, &loss) == FRZ_ERR_INVALID_ARG);
    ck_assert(strstr(frz_last_error(), "sequence 0 position 0") != NULL);
    struct { int pos, token, target; const char *msg; } bad[] = {
        {FD_T + 4, V, 0, "sequence 1 position 4: token"}, {3, -2, 0, "sequence 0 position 3: token"},
        {5, 1, V, "sequence 0 position 5: target"}, {6, 1, -2, "sequence 0 position 6: target"},
    };
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        fd_batch w = b;
        w.tokens[bad[k].pos] = bad[k].token;
        w.targets[bad[k].pos] = bad[k].target;
        ck_assert(frz_gpt2_train_forward(ws, w.tokens, w.embd, w.targets, 1, &loss) == FRZ_ERR_INVALID_ARG);
        ck_assert_msg(strstr(frz_last_error(), bad[k].msg) != NULL, "message: %s", frz_last_error());
    }
    ck_assert(frz_gpt2_train_backward(NULL, d, NULL, 1) == FRZ_ERR_INVALID_ARG);

    /* no target at all: loss 0, nothing to add */
    fd_batch none = b;
    for (int i = 0; i < FD_B * FD_T; i++) none.targets[i] = -1;
    ck_assert(frz_gpt2_train_forward(ws, none.tokens, none.embd, none.targets, 1, &loss) == FRZ_OK && loss == 0);
    ck_assert(frz_gpt2_train_backward(ws, d, NULL, 1) == FRZ_OK);
    for (int i = 0; i < FD_B * FD_T * 16; i++) ck_assert(d[i] == 0.0f);
    double nll;
    int count;
    frz_gpt2_train_seq_nll(ws, 1, &nll, &count);
    ck_assert(nll == 0 && count == 0);
    frz_gpt2_train_seq_nll(ws, FD_B, &nll, &count); /* out of range: zeros */
    ck_assert(nll == 0 && count == 0);

    /* the per-sequence sums add up to the loss */
    ck_assert(frz_gpt2_train_forward(ws, b.tokens, b.embd, b.targets, 1, &loss) == FRZ_OK);
    double sum = 0;
    int total = 0;
    for (int s = 0; s < FD_B; s++) {
        frz_gpt2_train_seq_nll(ws, s, &nll, &count);
        sum += nll, total += count;
    }
    ck_assert(total == 6 + 1 + 3 + 1);
    ck_assert(fabs(sum / total - loss) <= 1e-6 * loss);

    frz_gpt2_train_ws_free(ws);
    frz_gpt2_train_ws_free(NULL);
    frz_gpt2_grads_free(NULL);
    frz_lm_free(lm);
}
END_TEST

START_TEST(test_allocation_failures)
{
    frz_lm *lm = tiny_model(1);
    int failures = 0;
    for (long k = 1;; k++) {
        frz_gpt2_train_ws *ws = NULL;
        frz_test_fail_alloc_at(k);
        frz_status st = frz_gpt2_train_ws_create(lm, FD_B, FD_T, &ws);
        frz_test_fail_alloc_at(0);
        if (st == FRZ_OK) {
            ck_assert(ws != NULL);
            frz_gpt2_train_ws_free(ws);
            break;
        }
        ck_assert(st == FRZ_ERR_NOMEM && ws == NULL);
        ck_assert(strstr(frz_last_error(), "training") != NULL);
        failures++;
    }
    ck_assert(failures >= 2);
    failures = 0;
    for (long k = 1;; k++) {
        frz_gpt2_grads *g = NULL;
        frz_test_fail_alloc_at(k);
        frz_status st = frz_gpt2_grads_create(lm, &g);
        frz_test_fail_alloc_at(0);
        if (st == FRZ_OK) {
            ck_assert(g != NULL && g->mem != NULL && g->lm_head != g->wte); /* untied: its own gradient */
            frz_gpt2_grads_free(g);
            break;
        }
        ck_assert(st == FRZ_ERR_NOMEM && g == NULL);
        failures++;
    }
    ck_assert(failures >= 4);
    frz_lm_free(lm);
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("lm_backward");
    TCase *k = tcase_create("kernels");
    tcase_add_test(k, test_layernorm_backward);
    tcase_add_test(k, test_activation_backward);
    tcase_add_test(k, test_attention_backward);
    tcase_add_test(k, test_crossentropy);
    tcase_add_test(k, test_matmul_backward);
    tcase_add_test(k, test_embedding_backward);
    suite_add_tcase(s, k);
    TCase *m = tcase_create("model");
    tcase_set_timeout(m, 120);
    tcase_add_loop_test(m, test_pytorch_parity, 0, 4);
    tcase_add_test(m, test_vectors_only);
    tcase_add_loop_test(m, test_finite_differences, 0, 2);
    tcase_add_test(m, test_weights_untouched);
    tcase_add_test(m, test_threads_agree);
    tcase_add_test(m, test_arguments);
    tcase_add_test(m, test_allocation_failures);
    suite_add_tcase(s, m);
    return s;
}

FRZ_TEST_MAIN(make_suite)
