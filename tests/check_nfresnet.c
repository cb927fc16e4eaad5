/* check_nfresnet.c -- the NF-ResNet encoder: forward and every gradient against the PyTorch reference
 * (tests/reference/make_nfresnet_fixtures.py), each layer's backward against central finite differences,
 * save/load, load errors, initialisation and timm's expected-variance bookkeeping. */
#include "math/blas.h"
#include "vision/layers.h"
#include "vision/nfresnet.h"
#include "math/rng.h"
#include "util/testutil.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

/* ---- helpers ---------------------------------------------------------------------------------------------- */

static float *alloc_f(size_t n)
{
    float *p = calloc(n ? n : 1, sizeof(float));
    ck_assert_ptr_nonnull(p);
    return p;
}

/* n floats uniform in [lo, hi) from a fixed seed. */
static float *random_f(size_t n, uint64_t seed, float lo, float hi)
{
    frz_rng r;
    frz_rng_seed(&r, seed);
    float *p = alloc_f(n);
    for (size_t i = 0; i < n; i++) p[i] = lo + (hi - lo) * (float)frz_rng_uniform(&r);
    return p;
}

static double dot(const float *a, const float *b, size_t n)
{
    double s = 0.0;
    for (size_t i = 0; i < n; i++) s += (double)a[i] * b[i];
    return s;
}

static float max_abs(const float *a, size_t n)
{
    float m = 0.0f;
    for (size_t i = 0; i < n; i++) m = fmaxf(m, fabsf(a[i]));
    return m;
}

/* A fixture tensor as a malloc'd float copy (its shape is checked by the caller through numel). */
static float *fixture_tensor(const frz_st_set *set, const char *name, size_t *numel)
{
    const frz_st_tensor *t = frz_st_find(set, name);
    ck_assert_msg(t != NULL, "fixture lacks tensor %s", name);
    ck_assert_int_eq(t->dtype, FRZ_DT_F32);
    size_t n = t->nbytes / sizeof(float);
    float *p = alloc_f(n);
    memcpy(p, t->data, t->nbytes);
    *numel = n;
    return p;
}

/* max |got - want| relative to max |want|: the error measured against the tensor's own scale. */
static double rel_err(const float *got, const float *want, size_t n)
{
    double worst = 0.0;
    for (size_t i = 0; i < n; i++) worst = fmax(worst, fabs((double)got[i] - want[i]));
    double scale = max_abs(want, n);
    return scale > 0 ? worst / scale : worst;
}

/* ---- finite differences ------------------------------------------------------------------------------------ */

/* A scalar loss of the current contents of some float buffers. */
typedef double (*loss_fn)(void *ctx);

/* Central differences of loss w.r.t. x[i] for every i (or `stride`-spaced ones), compared with the analytic
 * gradient g: |fd - g| <= tol * max(|g|, max|g| / 10) + atol. The layers run in float and the losses are summed
 * in double; atol covers the float rounding of the loss divided by 2 eps where eps must be small. */
static void check_fd(const char *what, loss_fn loss, void *ctx, float *x, const float *g, size_t n, size_t stride,
                     float eps, double tol, double atol)
{
    double gmax = max_abs(g, n), worst = 0.0;
    ck_assert_msg(gmax > 0.0, "%s: the analytic gradient is all zero (nothing is tested)", what);
    for (size_t i = 0; i < n; i += stride) {
        float keep = x[i];
        x[i] = keep + eps;
        double lp = loss(ctx);
        x[i] = keep - eps;
        double lm = loss(ctx);
        x[i] = keep;
        double fd = (lp - lm) / (2.0 * (double)eps);
        double err = (fabs(fd - g[i]) - atol) / fmax(fabs(g[i]), gmax / 10);
        worst = fmax(worst, err);
        ck_assert_msg(err <= tol, "%s[%zu]: finite difference %.7g, backward %.7g", what, i, fd, (double)g[i]);
    }
    if (getenv("FRZ_FD_VERBOSE")) fprintf(stderr, "%-40s worst %.3g\n", what, worst);
}

/* ---- scaled weight-standardised conv ----------------------------------------------------------------------- */

typedef struct conv_case {
    frz_conv_shape s;
    float scale, eps;
    float *w, *gain, *bias, *inp, *r;          /* parameters, input, loss weights (the output's shape) */
    float *w_hat, *mean, *rstd, *out, *col;    /* work; col: the conv's scratch */
    int nt;                                    /* threads */
} conv_case;

static size_t conv_in_n(const conv_case *c) { return (size_t)c->s.B * c->s.C * c->s.H * c->s.W; }
static size_t conv_out_n(const conv_case *c) { return (size_t)c->s.B * c->s.OC * c->s.OH * c->s.OW; }
static size_t conv_w_n(const conv_case *c) { return (size_t)c->s.OC * c->s.C * c->s.k * c->s.k; }

static double conv_loss(void *ctx)
{
    conv_case *c = ctx;
    int F = c->s.C * c->s.k * c->s.k;
    frz_wstd_forward(c->w_hat, c->mean, c->rstd, c->w, c->gain, c->s.OC, F, c->scale, c->eps, c->nt);
    frz_conv_forward(&c->s, c->out, c->inp, c->w_hat, c->bias, c->col, c->nt);
    return dot(c->out, c->r, conv_out_n(c));
}

static void check_conv(int B, int C, int H, int W, int OC, int k, int stride, int pad, size_t in_stride, uint64_t seed)
{
    conv_case c;
    memset(&c, 0, sizeof c);
    frz_blas_set_threads(1);  /* the layers' contract: sgemm runs single-threaded inside their OpenMP threads */
    ck_assert(frz_conv_shape_init(&c.s, B, C, H, W, OC, k, stride, pad));
    int F = C * k * k;
    c.scale = FRZ_NFR_RELU_GAMMA / sqrtf((float)F);
    c.eps = 1e-5f;
    c.w = random_f(conv_w_n(&c), seed, -1, 1);
    c.gain = random_f((size_t)OC, seed + 1, 0.5f, 1.5f);
    c.bias = random_f((size_t)OC, seed + 2, -0.5f, 0.5f);
    c.inp = random_f(conv_in_n(&c), seed + 3, -1, 1);
    c.r = random_f(conv_out_n(&c), seed + 4, -1, 1);
    c.w_hat = alloc_f(conv_w_n(&c));
    c.mean = alloc_f((size_t)OC);
    c.rstd = alloc_f((size_t)OC);
    c.out = alloc_f(conv_out_n(&c));
    c.col = alloc_f(frz_conv_scratch_size(&c.s));

    /* analytic: dout = r */
    float *dw = alloc_f(conv_w_n(&c)), *dgain = alloc_f((size_t)OC), *dbias = alloc_f((size_t)OC);
    float *dinp = alloc_f(conv_in_n(&c)), *dw_hat = alloc_f(conv_w_n(&c));
    c.nt = 1;
    conv_loss(&c);
    frz_conv_backward(&c.s, dinp, dw_hat, dbias, c.r, c.inp, c.w_hat, c.col, c.nt);
    frz_wstd_backward(dw, dgain, dw_hat, c.w, c.gain, c.mean, c.rstd, OC, F, c.scale, c.nt);

    /* Three threads (more than this machine may have, and uneven shares) compute the same. */
    {
        float *out1 = alloc_f(conv_out_n(&c)), *dinp3 = alloc_f(conv_in_n(&c)), *dw_hat3 = alloc_f(conv_w_n(&c));
        float *dbias3 = alloc_f((size_t)OC);
        memcpy(out1, c.out, conv_out_n(&c) * sizeof(float));
        c.nt = 3;
        conv_loss(&c);
        frz_conv_backward(&c.s, dinp3, dw_hat3, dbias3, c.r, c.inp, c.w_hat, c.col, c.nt);
        ck_assert(rel_err(c.out, out1, conv_out_n(&c)) <= 1e-6);
        ck_assert(rel_err(dinp3, dinp, conv_in_n(&c)) <= 1e-6);
        ck_assert(rel_err(dw_hat3, dw_hat, conv_w_n(&c)) <= 1e-6);
        ck_assert(rel_err(dbias3, dbias, (size_t)OC) <= 1e-6);
        free(out1); free(dinp3); free(dw_hat3); free(dbias3);
        c.nt = 1;
    }

    /* The weight gradient of a standardised conv sums to zero per output channel (the mean is removed): a
     * sanity check independent of finite differences. */
    for (int o = 0; o < OC; o++) {
        double s = 0, n = 0;
        for (int i = 0; i < F; i++) {
            s += dw[o * F + i];
            n += fabs(dw[o * F + i]);
        }
        ck_assert_msg(fabs(s) <= 1e-5 * n, "channel %d: the weight gradient sums to %g", o, s);
    }

    char what[96];
    snprintf(what, sizeof what, "conv k%d s%d p%d weight", k, stride, pad);
    check_fd(what, conv_loss, &c, c.w, dw, conv_w_n(&c), 1, 1e-2f, 1e-2, 0.0);
    snprintf(what, sizeof what, "conv k%d s%d p%d gain", k, stride, pad);
    check_fd(what, conv_loss, &c, c.gain, dgain, (size_t)OC, 1, 1e-2f, 1e-2, 0.0);
    snprintf(what, sizeof what, "conv k%d s%d p%d bias", k, stride, pad);
    check_fd(what, conv_loss, &c, c.bias, dbias, (size_t)OC, 1, 1e-2f, 1e-2, 0.0);
    snprintf(what, sizeof what, "conv k%d s%d p%d input", k, stride, pad);
    check_fd(what, conv_loss, &c, c.inp, dinp, conv_in_n(&c), in_stride, 1e-2f, 1e-2, 0.0);

    /* Backward accumulates: a second call adds the same amounts again. */
    float *dinp2 = alloc_f(conv_in_n(&c)), *dbias2 = alloc_f((size_t)OC), *dw_hat2 = alloc_f(conv_w_n(&c));
    memcpy(dinp2, dinp, conv_in_n(&c) * sizeof(float));
    memcpy(dbias2, dbias, (size_t)OC * sizeof(float));
    memcpy(dw_hat2, dw_hat, conv_w_n(&c) * sizeof(float));
    conv_loss(&c);
    frz_conv_backward(&c.s, dinp2, dw_hat2, dbias2, c.r, c.inp, c.w_hat, c.col, 1);
    for (size_t i = 0; i < conv_in_n(&c); i++) ck_assert(fabsf(dinp2[i] - 2 * dinp[i]) <= 1e-5f * (1 + fabsf(dinp[i])));
    for (size_t i = 0; i < conv_w_n(&c); i++)
        ck_assert(fabsf(dw_hat2[i] - 2 * dw_hat[i]) <= 1e-5f * (1 + fabsf(dw_hat[i])));
    for (int o = 0; o < OC; o++) ck_assert(fabsf(dbias2[o] - 2 * dbias[o]) <= 1e-5f * (1 + fabsf(dbias[o])));

    free(dinp2); free(dbias2); free(dw_hat2);
    free(dw); free(dgain); free(dbias); free(dinp); free(dw_hat);
    free(c.w); free(c.gain); free(c.bias); free(c.inp); free(c.r);
    free(c.w_hat); free(c.mean); free(c.rstd); free(c.out); free(c.col);
}

/* Small maps are multiplied in groups of images (conv2d.c), maps of 1024 pixels or more one image at a time:
 * both kinds below, and a batch that groups leave a remainder of (3 + 1 images of 20x20). */
START_TEST(test_fd_conv_3x3_stride2)
{
    check_conv(2, 3, 6, 5, 4, 3, 2, 1, 1, 11);
}
END_TEST

START_TEST(test_fd_conv_3x3_stride1)
{
    check_conv(1, 2, 4, 5, 3, 3, 1, 1, 1, 21);
    check_conv(4, 2, 20, 20, 2, 3, 1, 1, 13, 22);
}
END_TEST

START_TEST(test_fd_conv_1x1_direct)
{
    check_conv(2, 5, 3, 4, 3, 1, 1, 0, 1, 31);
    check_conv(2, 4, 32, 33, 3, 1, 1, 0, 29, 32);
}
END_TEST

START_TEST(test_fd_conv_7x7_stem)
{
    check_conv(1, 3, 9, 8, 2, 7, 2, 3, 1, 41);
    check_conv(2, 2, 64, 64, 2, 7, 2, 3, 97, 42);
}
END_TEST

/* The raw conv (no standardisation) on hand-checkable cases: a centre tap copies the input (plus the bias), a
 * top-left tap shifts it down-right with zero padding. */
START_TEST(test_conv_known_values)
{
    frz_conv_shape s;
    ck_assert(frz_conv_shape_init(&s, 1, 1, 3, 3, 1, 3, 1, 1));
    float inp[9] = {1, 2, 3, 4, 5, 6, 7, 8, 9}, w[9] = {0, 0, 0, 0, 1, 0, 0, 0, 0}, bias[1] = {0.5f}, out[9];
    float col[81];
    frz_conv_forward(&s, out, inp, w, bias, col, 1);
    for (int i = 0; i < 9; i++) ck_assert_float_eq(out[i], inp[i] + 0.5f);
    /* w = top-left tap: out[i][j] = inp[i-1][j-1] (0 outside). */
    float w2[9] = {1, 0, 0, 0, 0, 0, 0, 0, 0}, want[9] = {0, 0, 0, 0, 1, 2, 0, 4, 5};
    bias[0] = 0;
    frz_conv_forward(&s, out, inp, w2, bias, col, 1);
    for (int i = 0; i < 9; i++) ck_assert_float_eq(out[i], want[i]);
    ck_assert(!frz_conv_shape_init(&s, 1, 1, 1, 1, 1, 7, 2, 0));  /* 7x7 kernel on 1x1 without padding */
}
END_TEST

/* The forward's three layouts (conv2d.c) against a double-precision loop, on 1 to 3 threads (whose shares differ):
 * large single images go tile by tile (whole output rows unfolded and multiplied by each thread: the paper's stem
 * at 224 pixels, a first-stage 3x3 conv at 56, a batch of two equal to each image alone); small maps go in groups
 * of images, shared out by images where the group has more columns than the layer has output channels (the
 * demo's stem at 32 pixels: 20 images, a group of 16 and one of 4) and by output channels otherwise. */
static void check_conv_forward_naive(int B, int C, int H, int W, int OC, int k, int stride, int pad, uint64_t seed)
{
    frz_conv_shape s;
    ck_assert(frz_conv_shape_init(&s, B, C, H, W, OC, k, stride, pad));
    frz_blas_set_threads(1);
    const size_t n_in = (size_t)B * C * H * W, n_out = (size_t)B * OC * s.OH * s.OW, n_w = (size_t)OC * C * k * k;
    float *inp = random_f(n_in, seed, -1, 1), *w = random_f(n_w, seed + 1, -1, 1);
    float *bias = random_f((size_t)OC, seed + 2, -1, 1), *out = alloc_f(n_out), *want = alloc_f(n_out);
    float *col = alloc_f(frz_conv_scratch_size(&s));
    for (int b = 0; b < B; b++)
        for (int o = 0; o < OC; o++)
            for (int oh = 0; oh < s.OH; oh++)
                for (int ow = 0; ow < s.OW; ow++) {
                    double acc = bias[o];
                    for (int c = 0; c < C; c++)
                        for (int ki = 0; ki < k; ki++)
                            for (int kj = 0; kj < k; kj++) {
                                int ih = oh * stride - pad + ki, iw = ow * stride - pad + kj;
                                if (ih < 0 || ih >= H || iw < 0 || iw >= W) continue;
                                acc += (double)w[((size_t)o * C + c) * k * k + ki * k + kj] *
                                       inp[(((size_t)b * C + c) * H + ih) * W + iw];
                            }
                    want[(((size_t)b * OC + o) * s.OH + oh) * s.OW + ow] = (float)acc;
                }
    for (int nt = 1; nt <= 3; nt++) {
        memset(out, 0, n_out * sizeof *out);
        frz_conv_forward(&s, out, inp, w, bias, col, nt);
        ck_assert_msg(rel_err(out, want, n_out) <= 1e-5, "%dx%d conv on %dx%d, %d threads: off by %g", k, k, H, W,
                      nt, rel_err(out, want, n_out));
    }
    free(inp); free(w); free(bias); free(out); free(want); free(col);
}

START_TEST(test_conv_forward_layouts)
{
    check_conv_forward_naive(1, 3, 224, 224, 16, 7, 2, 3, 51);  /* the stem of a width-0.25 net */
    check_conv_forward_naive(2, 16, 56, 56, 16, 3, 1, 1, 52);   /* a first-stage conv2, two images */
    check_conv_forward_naive(1, 8, 40, 37, 5, 3, 2, 1, 53);     /* too small to tile: the whole-image path */
    check_conv_forward_naive(20, 3, 16, 16, 8, 7, 2, 3, 54);    /* groups shared out by images */
    check_conv_forward_naive(5, 6, 4, 4, 96, 3, 1, 1, 55);      /* a group shared out by output channels */
}
END_TEST

/* ---- relu, pools ------------------------------------------------------------------------------------------- */

typedef struct unary_case {
    int kind;            /* 0 relu, 1 maxpool, 2 avgpool2, 3 gap */
    int planes, H, W, OH, OW;
    float *inp, *out, *r;
} unary_case;

static size_t unary_out_n(const unary_case *u)
{
    return (size_t)u->planes * u->OH * u->OW;
}

static double unary_loss(void *ctx)
{
    unary_case *u = ctx;
    size_t n_in = (size_t)u->planes * u->H * u->W;
    switch (u->kind) {
    case 0: frz_relu_forward(u->out, u->inp, n_in, 0.7f, 2); break;
    case 1: frz_maxpool_forward(u->out, u->inp, u->planes, u->H, u->W, 3, 2, 1, 2); break;
    case 2: frz_avgpool2_forward(u->out, u->inp, u->planes, u->H, u->W, 2); break;
    default: frz_gap_forward(u->out, u->inp, u->planes, u->H * u->W, 2); break;
    }
    return dot(u->out, u->r, unary_out_n(u));
}

static void check_unary(int kind, int planes, int H, int W, float *inp)
{
    unary_case u = {kind, planes, H, W, H, W, inp, NULL, NULL};
    if (kind == 1) { u.OH = (H + 2 - 3) / 2 + 1; u.OW = (W + 2 - 3) / 2 + 1; }
    if (kind == 2) { u.OH = (H + 1) / 2; u.OW = (W + 1) / 2; }
    if (kind == 3) { u.OH = 1; u.OW = 1; }
    size_t n_in = (size_t)planes * H * W;
    u.out = alloc_f(unary_out_n(&u));
    u.r = random_f(unary_out_n(&u), 77 + (uint64_t)kind, -1, 1);
    float *d = alloc_f(n_in);
    unary_loss(&u);
    switch (kind) {
    case 0: frz_relu_backward(d, u.r, inp, n_in, 0.7f, 2); break;
    case 1: frz_maxpool_backward(d, u.r, inp, planes, H, W, 3, 2, 1, 2); break;
    case 2: frz_avgpool2_backward(d, u.r, planes, H, W, 2); break;
    default: frz_gap_backward(d, u.r, planes, H * W, 2); break;
    }
    static const char *const names[] = {"relu", "maxpool", "avgpool2", "gap"};
    check_fd(names[kind], unary_loss, &u, inp, d, n_in, 1, 1e-2f, 1e-3, 0.0);
    free(u.out); free(u.r); free(d);
}

START_TEST(test_fd_relu)
{
    /* values at least 0.1 from the kink, so +-eps never crosses it */
    size_t n = 2 * 3 * 5 * 4;
    float *x = random_f(n, 5, 0.1f, 1.0f);
    for (size_t i = 0; i < n; i += 2) x[i] = -x[i];
    check_unary(0, 6, 5, 4, x);
    free(x);
}
END_TEST

START_TEST(test_fd_maxpool)
{
    /* distinct values 0.05 apart (a shuffled ramp): +-eps never changes a window's maximum */
    int planes = 3, H = 7, W = 6;
    size_t n = (size_t)planes * H * W;
    float *x = alloc_f(n);
    frz_rng r;
    frz_rng_seed(&r, 9);
    for (size_t i = 0; i < n; i++) x[i] = 0.05f * (float)i - 3.0f;
    for (size_t i = n - 1; i > 0; i--) {
        size_t j = frz_rng_next(&r) % (i + 1);
        float t = x[i]; x[i] = x[j]; x[j] = t;
    }
    check_unary(1, planes, H, W, x);
    free(x);
}
END_TEST

START_TEST(test_maxpool_known_values)
{
    /* 1 plane 4x4 of 0..15; 3x3/2 pad 1 windows end at rows/cols {0,1}, {1,2,3}: maxima 5, 7, 13, 15 */
    float x[16], out[4], d[16] = {0}, g[4] = {1, 2, 3, 4};
    for (int i = 0; i < 16; i++) x[i] = (float)i;
    frz_maxpool_forward(out, x, 1, 4, 4, 3, 2, 1, 1);
    ck_assert_float_eq(out[0], 5); ck_assert_float_eq(out[1], 7);
    ck_assert_float_eq(out[2], 13); ck_assert_float_eq(out[3], 15);
    frz_maxpool_backward(d, g, x, 1, 4, 4, 3, 2, 1, 1);
    ck_assert_float_eq(d[5], 1); ck_assert_float_eq(d[7], 2);
    ck_assert_float_eq(d[13], 3); ck_assert_float_eq(d[15], 4);
    /* negative values: padding never wins */
    for (int i = 0; i < 16; i++) x[i] = -1.0f - (float)i;
    frz_maxpool_forward(out, x, 1, 4, 4, 3, 2, 1, 1);
    ck_assert_float_eq(out[0], -1); ck_assert_float_eq(out[3], -6);
}
END_TEST

START_TEST(test_fd_avgpool2)
{
    float *x = random_f(2 * 5 * 4, 13, -1, 1);
    check_unary(2, 2, 5, 4, x);
    free(x);
    x = random_f(3 * 3 * 7, 14, -1, 1);
    check_unary(2, 3, 3, 7, x);
    free(x);
}
END_TEST

START_TEST(test_avgpool2_known_values)
{
    /* 3x3 of 1..9, ceil mode: windows {1,2,4,5} {3,6} {7,8} {9}; padding not counted */
    float x[9] = {1, 2, 3, 4, 5, 6, 7, 8, 9}, out[4];
    frz_avgpool2_forward(out, x, 1, 3, 3, 1);
    ck_assert_float_eq(out[0], 3.0f); ck_assert_float_eq(out[1], 4.5f);
    ck_assert_float_eq(out[2], 7.5f); ck_assert_float_eq(out[3], 9.0f);
}
END_TEST

START_TEST(test_fd_gap)
{
    float *x = random_f(4 * 3 * 5, 15, -1, 1);
    check_unary(3, 4, 3, 5, x);
    free(x);
}
END_TEST

/* ---- the whole network (stem, blocks of both shortcut kinds, head) by finite differences ------------------- */

typedef struct net_case {
    frz_nfr_model *m;
    frz_nfr_state *st;
    float *images, *pooled, *r;
    size_t n_pooled;
} net_case;

static double net_loss(void *ctx)
{
    net_case *c = ctx;
    ck_assert_int_eq(frz_nfr_forward(c->m, c->st, c->images, c->pooled, 1), FRZ_OK);
    return dot(c->pooled, c->r, c->n_pooled);
}

/* Random non-zero gains, biases and skip-init gains, so every path of every block carries signal. */
static void randomise_gains(frz_nfr_model *m, uint64_t seed)
{
    frz_rng r;
    frz_rng_seed(&r, seed);
    for (int t = 0; t < m->arch.n_tensors; t++) {
        const frz_nfr_tensor *ten = &m->arch.tensors[t];
        float *p = m->params + ten->offset;
        if (strstr(ten->name, "skipinit_gain")) p[0] = 0.5f + (float)frz_rng_uniform(&r);
        else if (strstr(ten->name, ".gain"))
            for (size_t i = 0; i < ten->numel; i++) p[i] = 0.7f + 0.6f * (float)frz_rng_uniform(&r);
        else if (strstr(ten->name, ".bias"))
            for (size_t i = 0; i < ten->numel; i++) p[i] = 0.2f * (float)frz_rng_normal(&r);
    }
}

/* The network has kinks (relu, max-pool) that a large step would cross, and a stem weight is ~0.08: a small
 * step, and an absolute allowance for the float loss's rounding (~1e-6) divided by 2 eps. */
#define NET_EPS 3e-4f
#define NET_ATOL 2e-3

START_TEST(test_fd_network)
{
    frz_nfr_config cfg;
    ck_assert_int_eq(frz_nfr_config_named("tiny", 0.0625f, &cfg), FRZ_OK);
    net_case c;
    ck_assert_int_eq(frz_nfr_create(&cfg, &c.m), FRZ_OK);
    frz_nfr_init(c.m, 5);
    randomise_gains(c.m, 6);
    const int B = 1, H = 19, W = 18;
    ck_assert_int_eq(frz_nfr_state_create(c.m, B, H, W, &c.st), FRZ_OK);
    size_t n_img = (size_t)B * 3 * H * W;
    c.n_pooled = (size_t)B * c.m->arch.num_features;
    c.images = random_f(n_img, 7, -1.5f, 1.5f);
    c.pooled = alloc_f(c.n_pooled);
    c.r = random_f(c.n_pooled, 8, -1, 1);
    float *d_img = alloc_f(n_img);

    /* The backward with two threads, the finite differences with one (many small forwards). */
    ck_assert_int_eq(frz_nfr_forward(c.m, c.st, c.images, c.pooled, 2), FRZ_OK);
    ck_assert_int_eq(frz_nfr_zero_grad(c.m, 2), FRZ_OK);
    ck_assert_int_eq(frz_nfr_backward(c.m, c.st, c.r, d_img, 2), FRZ_OK);

    /* A few entries of every tensor (a full sweep would be 50k forwards): the first, and a spread. */
    for (int t = 0; t < c.m->arch.n_tensors; t++) {
        const frz_nfr_tensor *ten = &c.m->arch.tensors[t];
        size_t stride = ten->numel > 4 ? ten->numel / 4 + 1 : 1;
        check_fd(ten->name, net_loss, &c, c.m->params + ten->offset, c.m->grads + ten->offset, ten->numel, stride,
                 NET_EPS, 3e-2, NET_ATOL);
    }
    check_fd("images", net_loss, &c, c.images, d_img, n_img, 37, NET_EPS, 3e-2, NET_ATOL);

    free(c.images); free(c.pooled); free(c.r); free(d_img);
    frz_nfr_state_free(c.st);
    frz_nfr_free(c.m);
}
END_TEST

/* ---- against PyTorch ---------------------------------------------------------------------------------------- */

START_TEST(test_reference)
{
    frz_nfr_model *m = NULL;
    ck_assert_msg(frz_nfr_load(fixture_path("nfresnet/model.safetensors"), NULL, &m) == FRZ_OK, "%s",
                  frz_last_error());
    frz_st_set *ex;
    ck_assert_int_eq(frz_st_open_file(fixture_path("nfresnet/expected.safetensors"), &ex), FRZ_OK);
    const frz_st_tensor *ti = frz_st_find(ex, "input");
    ck_assert_ptr_nonnull(ti);
    const int B = (int)ti->shape[0], H = (int)ti->shape[2], W = (int)ti->shape[3];
    size_t n_img, n_r, n_pooled, n_betas;
    float *images = fixture_tensor(ex, "input", &n_img), *r = fixture_tensor(ex, "r", &n_r);
    float *want_pooled = fixture_tensor(ex, "pooled", &n_pooled), *betas = fixture_tensor(ex, "betas", &n_betas);
    ck_assert_uint_eq(n_pooled, (size_t)B * m->arch.num_features);

    /* timm's beta bookkeeping, as the reference computed it */
    ck_assert_uint_eq(n_betas, (size_t)m->arch.n_blocks);
    for (int i = 0; i < m->arch.n_blocks; i++) ck_assert_float_eq_tol(m->arch.blocks[i].beta, betas[i], 1e-7f);

    frz_nfr_state *st;
    ck_assert_int_eq(frz_nfr_state_create(m, B, H, W, &st), FRZ_OK);
    float *pooled = alloc_f(n_pooled), *d_img = alloc_f(n_img);
    ck_assert_int_eq(frz_nfr_forward(m, st, images, pooled, 2), FRZ_OK);
    double e = rel_err(pooled, want_pooled, n_pooled);
    ck_assert_msg(e <= 1e-4, "pooled: relative error %.3g", e);

    ck_assert_int_eq(frz_nfr_backward(m, st, r, d_img, 2), FRZ_OK);
    size_t n_want;
    float *want = fixture_tensor(ex, "grad.input", &n_want);
    ck_assert_uint_eq(n_want, n_img);
    e = rel_err(d_img, want, n_img);
    ck_assert_msg(e <= 1e-4, "grad.input: relative error %.3g", e);
    free(want);
    for (int t = 0; t < m->arch.n_tensors; t++) {
        const frz_nfr_tensor *ten = &m->arch.tensors[t];
        char name[80];
        snprintf(name, sizeof name, "grad.%s", ten->name);
        want = fixture_tensor(ex, name, &n_want);
        ck_assert_uint_eq(n_want, ten->numel);
        ck_assert_msg(max_abs(want, n_want) > 0, "%s is all zero: the fixture does not exercise it", name);
        e = rel_err(m->grads + ten->offset, want, n_want);
        ck_assert_msg(e <= 1e-4, "%s: relative error %.3g", name, e);
        free(want);
    }

    /* A second backward accumulates: every gradient doubles. */
    float first = m->grads[m->arch.conv2[2].weight];
    ck_assert_int_eq(frz_nfr_backward(m, st, r, NULL, 1), FRZ_OK);
    ck_assert_float_eq_tol(m->grads[m->arch.conv2[2].weight], 2 * first, 1e-5f * fabsf(first));

    free(images); free(r); free(want_pooled); free(betas); free(pooled); free(d_img);
    frz_nfr_state_free(st);
    frz_st_close(ex);
    frz_nfr_free(m);
}
END_TEST

/* The same forward with 1 and 2 threads, and a state reused for a second batch. */
START_TEST(test_threads_and_reuse)
{
    frz_nfr_model *m;
    ck_assert_int_eq(frz_nfr_load(fixture_path("nfresnet/model.safetensors"), NULL, &m), FRZ_OK);
    frz_nfr_state *st;
    ck_assert_int_eq(frz_nfr_state_create(m, 3, 24, 20, &st), FRZ_OK);
    size_t n_img = 3 * 3 * 24 * 20, F = (size_t)m->arch.num_features;
    float *img = random_f(n_img, 3, -1, 1), *a = alloc_f(3 * F), *b = alloc_f(3 * F);
    ck_assert_int_eq(frz_nfr_forward(m, st, img, a, 1), FRZ_OK);
    ck_assert_int_eq(frz_nfr_forward(m, st, img, b, 2), FRZ_OK);
    ck_assert_msg(rel_err(b, a, 3 * F) <= 1e-5, "threads change the result by %g", rel_err(b, a, 3 * F));
    /* image 1 alone through a batch-1 state gives row 1 of the batch */
    frz_nfr_state *st1;
    ck_assert_int_eq(frz_nfr_state_create(m, 1, 24, 20, &st1), FRZ_OK);
    ck_assert_int_eq(frz_nfr_forward(m, st1, img + n_img / 3, b, 2), FRZ_OK);
    ck_assert_msg(rel_err(b, a + F, F) <= 1e-5, "batch row differs by %g", rel_err(b, a + F, F));
    free(img); free(a); free(b);
    frz_nfr_state_free(st);
    frz_nfr_state_free(st1);
    frz_nfr_free(m);
}
END_TEST

/* An inference state: the same numbers as a training state for every forward (it standardises the convs on its
 * first forward and reuses them), a smaller arena (no backward buffers), and a backward refused. */
START_TEST(test_frozen_state)
{
    frz_nfr_model *m;
    ck_assert_int_eq(frz_nfr_load(fixture_path("nfresnet/model.safetensors"), NULL, &m), FRZ_OK);
    frz_nfr_state *train, *frozen;
    ck_assert_int_eq(frz_nfr_state_create(m, 1, 24, 20, &train), FRZ_OK);
    ck_assert_int_eq(frz_nfr_state_create_frozen(m, 1, 24, 20, &frozen), FRZ_OK);
    ck_assert_uint_lt(frz_nfr_state_bytes(frozen), frz_nfr_state_bytes(train));
    const size_t n_img = 3 * 24 * 20, F = (size_t)m->arch.num_features;
    float *want = alloc_f(F), *got = alloc_f(F);
    for (uint64_t seed = 1; seed <= 3; seed++) {
        float *img = random_f(n_img, seed, -1, 1);
        ck_assert_int_eq(frz_nfr_forward(m, train, img, want, 2), FRZ_OK);
        ck_assert_int_eq(frz_nfr_forward(m, frozen, img, got, 2), FRZ_OK);
        ck_assert_mem_eq(got, want, F * sizeof *got);
        free(img);
    }
    ck_assert_int_eq(frz_nfr_backward(m, frozen, want, NULL, 1), FRZ_ERR_INVALID_ARG);
    ASSERT_MSG_HAS("inference");
    free(want); free(got);
    frz_nfr_state_free(train);
    frz_nfr_state_free(frozen);
    frz_nfr_free(m);
}
END_TEST

/* ---- configuration and bookkeeping -------------------------------------------------------------------------- */

START_TEST(test_nf_resnet50_arch)
{
    frz_nfr_config cfg;
    ck_assert_int_eq(frz_nfr_config_named("nf_resnet50", 1.0f, &cfg), FRZ_OK);
    frz_nfr_model *m;
    ck_assert_int_eq(frz_nfr_create(&cfg, &m), FRZ_OK);
    const frz_nfr_arch *a = &m->arch;
    ck_assert_int_eq(a->n_blocks, 16);
    ck_assert_int_eq(a->num_features, 2048);
    ck_assert_int_eq(a->stem_ch, 64);
    /* Same layer structure as torchvision's ResNet-50 (25,557,032 parameters with its 2048x1000 classifier):
     * each batch norm's 2 per channel become the conv's gain and bias; plus 16 skip-init scalars. */
    ck_assert_uint_eq(a->n_params, 25557032u - 2048u * 1000u - 1000u + 16u);

    /* timm's expected variance: 1 at the start, reset to 1 after each stage's first block, + alpha^2 after
     * every block. So block b > 0 of a stage has var 1 + b alpha^2, block 0 of stage s > 0 has
     * 1 + depth(s-1) alpha^2, and the very first block 1. */
    static const int depths[4] = {3, 4, 6, 3};
    int i = 0;
    for (int s = 0; s < 4; s++)
        for (int b = 0; b < depths[s]; b++, i++) {
            double var = b > 0 ? 1 + b * 0.04 : s > 0 ? 1 + depths[s - 1] * 0.04 : 1.0;
            ck_assert_msg(fabs(a->blocks[i].beta - 1 / sqrt(var)) < 1e-7, "stage %d block %d: beta %.9g, want %.9g",
                          s, b, (double)a->blocks[i].beta, 1 / sqrt(var));
            ck_assert_int_eq(a->blocks[i].stride, (b == 0 && s > 0) ? 2 : 1);
            ck_assert_int_eq(a->blocks[i].has_down, b == 0);
            ck_assert_int_eq(a->blocks[i].mid_ch, (256 << s) / 4);
        }
    ck_assert_float_eq_tol(a->blocks[3].beta, 1 / sqrtf(1.12f), 1e-7f);  /* stage 1 block 0 */
    ck_assert_float_eq_tol(a->blocks[4].beta, 1 / sqrtf(1.04f), 1e-7f);  /* stage 1 block 1 */

    /* timm's names and shapes */
    const frz_nfr_tensor *t = frz_nfr_find_tensor(m, "stem.conv.weight");
    ck_assert_ptr_nonnull(t);
    ck_assert_int_eq(t->shape[0], 64); ck_assert_int_eq(t->shape[1], 3); ck_assert_int_eq(t->shape[2], 7);
    t = frz_nfr_find_tensor(m, "stages.3.0.downsample.conv.weight");
    ck_assert_ptr_nonnull(t);
    ck_assert_int_eq(t->shape[0], 2048); ck_assert_int_eq(t->shape[1], 1024);
    t = frz_nfr_find_tensor(m, "stages.2.5.conv2.gain");
    ck_assert_ptr_nonnull(t);
    ck_assert_int_eq(t->ndim, 4); ck_assert_int_eq(t->shape[0], 256); ck_assert_int_eq(t->shape[1], 1);
    t = frz_nfr_find_tensor(m, "stages.0.2.skipinit_gain");
    ck_assert_ptr_nonnull(t);
    ck_assert_int_eq(t->ndim, 0);
    ck_assert_ptr_null(frz_nfr_find_tensor(m, "stages.0.1.downsample.conv.weight"));
    /* nf_resnet50's 7x7/2 stem and 3x3/2 pool take 224 to 56, the stages to 56, 28, 14, 7 */
    frz_nfr_free(m);

    ck_assert_int_eq(frz_nfr_config_named("nf_resnet26", 0.25f, &cfg), FRZ_OK);
    ck_assert_int_eq(frz_nfr_create(&cfg, &m), FRZ_OK);
    ck_assert_int_eq(m->arch.n_blocks, 8);
    ck_assert_int_eq(m->arch.num_features, 512);
    ck_assert_int_eq(m->arch.stem_ch, 16);
    ck_assert_int_eq(m->arch.blocks[0].mid_ch, 16);
    frz_nfr_free(m);
}
END_TEST

START_TEST(test_make_divisible)
{
    /* timm: max(8, int(v + 4) // 8 * 8), plus 8 where that fell below 0.9 v */
    ck_assert_int_eq(frz_nfr_make_divisible(16.0, 8), 16);
    ck_assert_int_eq(frz_nfr_make_divisible(4.0, 8), 8);
    ck_assert_int_eq(frz_nfr_make_divisible(8.8, 8), 8);    /* 8 >= 7.92 */
    ck_assert_int_eq(frz_nfr_make_divisible(11.0, 8), 16);  /* 8 < 9.9 */
    ck_assert_int_eq(frz_nfr_make_divisible(12.0, 8), 16);
    ck_assert_int_eq(frz_nfr_make_divisible(19.9, 8), 24);  /* 16 < 17.91 */
}
END_TEST

START_TEST(test_config_errors)
{
    frz_nfr_config cfg;
    ck_assert_int_eq(frz_nfr_config_named("nf_resnet18", 1.0f, &cfg), FRZ_ERR_INVALID_ARG);
    ASSERT_MSG_HAS("nf_resnet18");
    ck_assert_int_eq(frz_nfr_config_named("tiny", 0.0f, &cfg), FRZ_ERR_INVALID_ARG);
    ASSERT_MSG_HAS("width");
    ck_assert_int_eq(frz_nfr_config_named("tiny", 0.0625f, &cfg), FRZ_OK);
    frz_nfr_model *m = NULL;
    cfg.depths[2] = 0;
    ck_assert_int_eq(frz_nfr_create(&cfg, &m), FRZ_ERR_INVALID_ARG);
    ASSERT_MSG_HAS("depths[2]");
    ck_assert_ptr_null(m);
    cfg.depths[2] = 1;
    cfg.skipinit = 2;
    ck_assert_int_eq(frz_nfr_create(&cfg, &m), FRZ_ERR_INVALID_ARG);
    ASSERT_MSG_HAS("skipinit");

    /* a state made for another config */
    cfg.skipinit = 1;
    frz_nfr_model *m2;
    ck_assert_int_eq(frz_nfr_create(&cfg, &m), FRZ_OK);
    cfg.depths[3] = 1;
    ck_assert_int_eq(frz_nfr_create(&cfg, &m2), FRZ_OK);
    frz_nfr_state *st;
    ck_assert_int_eq(frz_nfr_state_create(m, 1, 0, 8, &st), FRZ_ERR_INVALID_ARG);
    ck_assert_int_eq(frz_nfr_state_create(m, 1, 8, 8, &st), FRZ_OK);
    float img[3 * 64] = {0}, pooled[128];
    ck_assert_int_eq(frz_nfr_forward(m2, st, img, pooled, 1), FRZ_ERR_INVALID_ARG);
    ASSERT_MSG_HAS("another config");
    frz_nfr_state_free(st);
    frz_nfr_free(m);
    frz_nfr_free(m2);
}
END_TEST

START_TEST(test_init)
{
    frz_nfr_config cfg;
    ck_assert_int_eq(frz_nfr_config_named("nf_resnet26", 0.25f, &cfg), FRZ_OK);
    frz_nfr_model *a, *b;
    ck_assert_int_eq(frz_nfr_create(&cfg, &a), FRZ_OK);
    ck_assert_int_eq(frz_nfr_create(&cfg, &b), FRZ_OK);
    frz_nfr_init(a, 42);
    frz_nfr_init(b, 42);
    ck_assert_mem_eq(a->params, b->params, a->arch.n_params * sizeof(float));
    frz_nfr_init(b, 43);
    ck_assert(memcmp(a->params, b->params, a->arch.n_params * sizeof(float)) != 0);

    for (int t = 0; t < a->arch.n_tensors; t++) {
        const frz_nfr_tensor *ten = &a->arch.tensors[t];
        const float *p = a->params + ten->offset;
        if (strstr(ten->name, ".weight")) {
            /* He-normal over fan-in: mean 0, std 1/sqrt(fan_in), within sampling error */
            double fan_in = (double)(ten->shape[1] * ten->shape[2] * ten->shape[3]), s = 0, ss = 0;
            for (size_t i = 0; i < ten->numel; i++) { s += p[i]; ss += (double)p[i] * p[i]; }
            double n = (double)ten->numel, mean = s / n, std = sqrt(ss / n - mean * mean), want = 1 / sqrt(fan_in);
            ck_assert_msg(fabs(mean) < 5 * want / sqrt(n) && fabs(std / want - 1) < 6 / sqrt(2 * n) + 1e-3,
                          "%s: mean %g std %g, want std %g", ten->name, mean, std, want);
        } else {
            float want = strstr(ten->name, ".gain") ? 1.0f : 0.0f;  /* gains 1; biases and skipinit gains 0 */
            for (size_t i = 0; i < ten->numel; i++) ck_assert_float_eq(p[i], want);
        }
    }

    /* Without skip-init scalars, timm starts conv3's gains at 0 instead. */
    cfg.skipinit = 0;
    frz_nfr_model *c;
    ck_assert_int_eq(frz_nfr_create(&cfg, &c), FRZ_OK);
    frz_nfr_init(c, 42);
    ck_assert_ptr_null(frz_nfr_find_tensor(c, "stages.0.0.skipinit_gain"));
    ck_assert_float_eq(c->params[c->arch.conv3[3].gain], 0.0f);
    ck_assert_float_eq(c->params[c->arch.conv2[3].gain], 1.0f);

    /* Every block starts as its shortcut (skip-init gains 0): the output of a fresh net does not depend on the
     * weights inside any residual branch. */
    frz_nfr_state *st;
    ck_assert_int_eq(frz_nfr_state_create(a, 1, 32, 32, &st), FRZ_OK);
    float *img = random_f(3 * 32 * 32, 1, -1, 1), *p1 = alloc_f(512), *p2 = alloc_f(512);
    ck_assert_int_eq(frz_nfr_forward(a, st, img, p1, 1), FRZ_OK);
    const frz_nfr_tensor *w2 = frz_nfr_find_tensor(a, "stages.1.1.conv2.weight");
    for (size_t i = 0; i < w2->numel; i++) a->params[w2->offset + i] *= -3.0f;
    ck_assert_int_eq(frz_nfr_forward(a, st, img, p2, 1), FRZ_OK);
    ck_assert_mem_eq(p1, p2, 512 * sizeof(float));
    ck_assert_float_gt(max_abs(p1, 512), 0.0f);
    free(img); free(p1); free(p2);
    frz_nfr_state_free(st);
    frz_nfr_free(a);
    frz_nfr_free(b);
    frz_nfr_free(c);
}
END_TEST

/* ---- save / load -------------------------------------------------------------------------------------------- */

static const char *temp_file(const char *name)
{
    static char bufs[4][4200];
    static int next;
    char *p = bufs[next++ % 4];
    snprintf(p, 4200, "%s/%s", make_temp_dir(), name);
    return p;
}

START_TEST(test_save_load_round_trip)
{
    frz_nfr_config cfg;
    ck_assert_int_eq(frz_nfr_config_named("tiny", 0.125f, &cfg), FRZ_OK);
    cfg.alpha = 0.3f;  /* a non-default value must survive too */
    frz_nfr_model *m, *back;
    ck_assert_int_eq(frz_nfr_create(&cfg, &m), FRZ_OK);
    frz_nfr_init(m, 3);
    randomise_gains(m, 4);
    const char *path = temp_file("enc.safetensors");
    ck_assert_int_eq(frz_nfr_save(m, path), FRZ_OK);
    ck_assert_msg(frz_nfr_load(path, NULL, &back) == FRZ_OK, "%s", frz_last_error());
    ck_assert_mem_eq(&back->cfg, &m->cfg, sizeof cfg);
    ck_assert_uint_eq(back->arch.n_params, m->arch.n_params);
    ck_assert_mem_eq(back->params, m->params, m->arch.n_params * sizeof(float));

    /* The file holds timm's names and the config as metadata strings. */
    frz_st_set *set;
    ck_assert_int_eq(frz_st_open_file(path, &set), FRZ_OK);
    ck_assert_uint_eq(frz_st_count(set), (size_t)m->arch.n_tensors);
    ck_assert_ptr_nonnull(frz_st_find(set, "stages.1.0.downsample.conv.gain"));
    ck_assert_str_eq(frz_st_metadata(set, "nfresnet.depths"), "2,1,1,2");
    ck_assert_str_eq(frz_st_metadata(set, "nfresnet.act"), "relu");
    frz_st_close(set);

    /* allocation failures anywhere in a load: FRZ_ERR_NOMEM, nothing leaked, nothing returned */
    long k = 1;
    for (;; k++) {
        frz_nfr_model *x = NULL;
        frz_test_fail_alloc_at(k);
        frz_status st = frz_nfr_load(path, NULL, &x);
        frz_test_fail_alloc_at(0);
        if (st == FRZ_OK) {
            frz_nfr_free(x);
            break;
        }
        ck_assert_msg(st == FRZ_ERR_NOMEM, "allocation %ld: %s", k, frz_last_error());
        ck_assert_ptr_null(x);
    }
    ck_assert_int_gt(k, 3);
    frz_nfr_free(back);
    frz_nfr_free(m);
}
END_TEST

/* Writes the model's tensors to path, with one changed: `drop` left out, `reshape` given a wrong first dim, an
 * extra tensor `extra` added; meta_edit replaces one metadata value (key, value) or removes it (value NULL). */
static void write_variant(const frz_nfr_model *m, const char *path, const char *drop, const char *reshape,
                          const char *extra, const char *meta_key, const char *meta_value, int with_meta)
{
    frz_st_write_tensor ts[FRZ_NFR_MAX_TENSORS + 1];
    size_t n = 0;
    static const float zeros[64];
    for (int i = 0; i < m->arch.n_tensors; i++) {
        const frz_nfr_tensor *t = &m->arch.tensors[i];
        if (drop && strcmp(t->name, drop) == 0) continue;
        frz_st_write_tensor *w = &ts[n++];
        memset(w, 0, sizeof *w);
        w->name = t->name;
        w->dtype = FRZ_DT_F32;
        w->ndim = t->ndim;
        for (int d = 0; d < t->ndim; d++) w->shape[d] = t->shape[d];
        w->data = m->params + t->offset;
        if (reshape && strcmp(t->name, reshape) == 0) w->shape[0] -= 1;
    }
    if (extra) {
        frz_st_write_tensor *w = &ts[n++];
        memset(w, 0, sizeof *w);
        w->name = extra;
        w->dtype = FRZ_DT_F32;
        w->ndim = 1;
        w->shape[0] = 4;
        w->data = zeros;
    }
    frz_nfr_meta meta;
    frz_nfr_config_to_meta(&m->cfg, &meta);
    const char *kv[2 * FRZ_NFR_META_PAIRS];
    size_t n_meta = 0;
    for (int i = 0; i < FRZ_NFR_META_PAIRS && with_meta; i++) {
        const char *key = meta.kv[2 * i], *value = meta.kv[2 * i + 1];
        if (meta_key && strcmp(key, meta_key) == 0) {
            if (!meta_value) continue;
            value = meta_value;
        }
        kv[2 * n_meta] = key;
        kv[2 * n_meta + 1] = value;
        n_meta++;
    }
    ck_assert_int_eq(frz_st_write_file(path, ts, n, kv, n_meta), FRZ_OK);
}

START_TEST(test_load_errors)
{
    frz_nfr_config cfg;
    ck_assert_int_eq(frz_nfr_config_named("tiny", 0.0625f, &cfg), FRZ_OK);
    frz_nfr_model *m, *x = NULL;
    ck_assert_int_eq(frz_nfr_create(&cfg, &m), FRZ_OK);
    frz_nfr_init(m, 1);
    const char *path = temp_file("bad.safetensors");

    write_variant(m, path, "stages.1.0.conv2.gain", NULL, NULL, NULL, NULL, 1);
    ck_assert_int_eq(frz_nfr_load(path, NULL, &x), FRZ_ERR_FORMAT);
    ASSERT_MSG_HAS("stages.1.0.conv2.gain");
    ASSERT_MSG_HAS(path);
    ck_assert_ptr_null(x);

    write_variant(m, path, NULL, "stages.3.1.conv1.weight", NULL, NULL, NULL, 1);
    ck_assert_int_eq(frz_nfr_load(path, NULL, &x), FRZ_ERR_SHAPE);
    ASSERT_MSG_HAS("stages.3.1.conv1.weight");
    ASSERT_MSG_HAS(path);

    write_variant(m, path, NULL, NULL, "stages.0.0.conv4.weight", NULL, NULL, 1);
    ck_assert_int_eq(frz_nfr_load(path, NULL, &x), FRZ_ERR_FORMAT);
    ASSERT_MSG_HAS("stages.0.0.conv4.weight");

    write_variant(m, path, NULL, NULL, NULL, "nfresnet.depths", "2,1,x,2", 1);
    ck_assert_int_eq(frz_nfr_load(path, NULL, &x), FRZ_ERR_FORMAT);
    ASSERT_MSG_HAS("nfresnet.depths");
    ASSERT_MSG_HAS(path);

    write_variant(m, path, NULL, NULL, NULL, "nfresnet.width", "0.0625abc", 1);
    ck_assert_int_eq(frz_nfr_load(path, NULL, &x), FRZ_ERR_FORMAT);
    ASSERT_MSG_HAS("nfresnet.width");

    write_variant(m, path, NULL, NULL, NULL, "nfresnet.std_conv_eps", NULL, 1);
    ck_assert_int_eq(frz_nfr_load(path, NULL, &x), FRZ_ERR_FORMAT);
    ASSERT_MSG_HAS("nfresnet.std_conv_eps");

    write_variant(m, path, NULL, NULL, NULL, "nfresnet.act", "gelu", 1);
    ck_assert_int_eq(frz_nfr_load(path, NULL, &x), FRZ_ERR_UNSUPPORTED);
    ASSERT_MSG_HAS("nfresnet.act");

    write_variant(m, path, NULL, NULL, NULL, "nfresnet.depths", "2,1,0,2", 1);
    ck_assert_int_eq(frz_nfr_load(path, NULL, &x), FRZ_ERR_UNSUPPORTED);
    ASSERT_MSG_HAS("depths[2]");

    /* depths that disagree with the tensors: the first missing tensor is named */
    write_variant(m, path, NULL, NULL, NULL, "nfresnet.depths", "2,1,2,2", 1);
    ck_assert_int_eq(frz_nfr_load(path, NULL, &x), FRZ_ERR_FORMAT);
    ASSERT_MSG_HAS("stages.2.1.");

    ck_assert_int_eq(frz_nfr_load(temp_file("absent.safetensors"), NULL, &x), FRZ_ERR_IO);
    ASSERT_MSG_HAS("absent.safetensors");
    ck_assert_ptr_null(x);

    /* A timm-style file: no metadata, a classifier head; loads with an explicit config. */
    write_variant(m, path, NULL, NULL, "head.fc.bias", NULL, NULL, 0);
    ck_assert_int_eq(frz_nfr_load(path, NULL, &x), FRZ_ERR_FORMAT);
    ASSERT_MSG_HAS("nfresnet.");
    ck_assert_msg(frz_nfr_load(path, &cfg, &x) == FRZ_OK, "%s", frz_last_error());
    ck_assert_mem_eq(x->params, m->params, m->arch.n_params * sizeof(float));
    frz_nfr_free(x);
    x = NULL;
    /* ... but a config without skip-init finds the file's skipinit_gain tensors foreign */
    cfg.skipinit = 0;
    ck_assert_int_eq(frz_nfr_load(path, &cfg, &x), FRZ_ERR_FORMAT);
    ASSERT_MSG_HAS("skipinit_gain");
    ck_assert_ptr_null(x);
    frz_nfr_free(m);
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("nfresnet");
    TCase *tc = tcase_create("layers");
    tcase_add_test(tc, test_fd_conv_3x3_stride2);
    tcase_add_test(tc, test_fd_conv_3x3_stride1);
    tcase_add_test(tc, test_fd_conv_1x1_direct);
    tcase_add_test(tc, test_fd_conv_7x7_stem);
    tcase_add_test(tc, test_conv_known_values);
    tcase_add_test(tc, test_conv_forward_layouts);
    tcase_add_test(tc, test_fd_relu);
    tcase_add_test(tc, test_fd_maxpool);
    tcase_add_test(tc, test_maxpool_known_values);
    tcase_add_test(tc, test_fd_avgpool2);
    tcase_add_test(tc, test_avgpool2_known_values);
    tcase_add_test(tc, test_fd_gap);
    suite_add_tcase(s, tc);

    tc = tcase_create("network");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_fd_network);
    tcase_add_test(tc, test_reference);
    tcase_add_test(tc, test_threads_and_reuse);
    tcase_add_test(tc, test_frozen_state);
    tcase_add_test(tc, test_init);
    suite_add_tcase(s, tc);

    tc = tcase_create("config_io");
    tcase_add_test(tc, test_nf_resnet50_arch);
    tcase_add_test(tc, test_make_divisible);
    tcase_add_test(tc, test_config_errors);
    tcase_add_test(tc, test_save_load_round_trip);
    tcase_add_test(tc, test_load_errors);
    suite_add_tcase(s, tc);
    return s;
}

FRZ_TEST_MAIN(make_suite)
