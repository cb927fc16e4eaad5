/* conv2d.c -- 2-D convolution lowered to sgemm (see layers.h).
 *
 * Images go in groups of G: im2col unfolds the group into col (C k k, G OH OW), image j in columns
 * [j OH OW, (j+1) OH OW), and
 *     out (OC, G OH OW)  = w (OC, C k k) @ col                forward, then scattered to NCHW
 *     dw += dout_g @ col^T                                   (sgemm beta = 1, accumulating over groups)
 *     dcol = w^T @ dout_g, then col2im adds dcol into dinp   backward (dout_g: dout gathered like col)
 * Grouping keeps the products wide where the maps are small (7x7 at the end of nf_resnet50 at 224, 2x2 at
 * 64 px); at OH OW >= GROUP_COLS an image is a group of one, multiplied in place without copies, and a 1x1,
 * stride-1, unpadded conv then needs no unfolding at all: the image itself is col.
 *
 * Threads: the n_threads OpenMP threads split each group's work and every thread runs single-threaded sgemm
 * calls on its share (the caller sets OpenBLAS to one thread). Only one thread pool is ever busy: OpenMP
 * threads spinning after a region while OpenBLAS's own threads compute were measured to slow a training step
 * up to 8x on two cores. The forward splits a group's images where it has more columns than output channels
 * (each thread unfolds and multiplies its own), else the output channels (after the threads unfold their share of
 * col); the backward splits the rows of col (whole input channels where dinp is wanted), so each thread unfolds,
 * multiplies and folds back only its own rows: dw's columns and dinp's channels are disjoint between threads. */
#include "core/core.h"
#include "vision/layers.h"
#include "math/blas.h"

#include <omp.h>
#include <string.h>

#define GROUP_COLS 1024             /* columns per product worth grouping images for */
#define SCRATCH_BUDGET (1u << 23)   /* floats of col a group may use (32 MiB), unless one image needs more */

int frz_conv_shape_init(frz_conv_shape *s, int B, int C, int H, int W, int OC, int k, int stride, int pad)
{
    s->B = B; s->C = C; s->H = H; s->W = W;
    s->OC = OC; s->k = k; s->stride = stride; s->pad = pad;
    s->OH = (H + 2 * pad - k) / stride + 1;
    s->OW = (W + 2 * pad - k) / stride + 1;
    return B > 0 && C > 0 && OC > 0 && k > 0 && stride > 0 && H + 2 * pad >= k && W + 2 * pad >= k;
}

static int is_direct(const frz_conv_shape *s)
{
    return s->k == 1 && s->stride == 1 && s->pad == 0;
}

/* Images per group. */
static int group_size(const frz_conv_shape *s)
{
    const size_t ohw = (size_t)s->OH * s->OW, ckk = (size_t)s->C * s->k * s->k;
    if (ohw >= GROUP_COLS) return 1;
    size_t g = (GROUP_COLS + ohw - 1) / ohw, fit = SCRATCH_BUDGET / (ckk * ohw);
    if (g > fit) g = fit;
    if (g > (size_t)s->B) g = (size_t)s->B;
    return g < 1 ? 1 : (int)g;
}

/* col (C k k, G OH OW) and, for G > 1, the gathered output (OC, G OH OW). */
size_t frz_conv_scratch_size(const frz_conv_shape *s)
{
    const size_t G = (size_t)group_size(s), ohw = (size_t)s->OH * s->OW;
    if (G == 1) return is_direct(s) ? 0 : (size_t)s->C * s->k * s->k * ohw;
    return ((size_t)s->C * s->k * s->k + (size_t)s->OC) * G * ohw;
}

/* This thread's share [*lo, *hi) of n items. */
static void my_share(int n, int *lo, int *hi)
{
    int t = omp_get_thread_num(), T = omp_get_num_threads();
    *lo = (int)((long long)n * t / T);
    *hi = (int)((long long)n * (t + 1) / T);
}

/* The output columns [*lo, *hi) whose input column ow stride - pad + kj lies inside the image (for kernel column
 * kj); the rest read zero padding. (Stride 1 spelled out: the divisions were a few percent of a training step.) */
static void valid_cols(const frz_conv_shape *s, int kj, int *lo, int *hi)
{
    const int st = s->stride, first = s->pad - kj, last = s->W - 1 + s->pad - kj;  /* ow stride in [first, last] */
    *lo = first <= 0 ? 0 : st == 1 ? first : (first + st - 1) / st;
    *hi = last < 0 ? 0 : FRZ_MIN(s->OW, st == 1 ? last + 1 : last / st + 1);
    if (*hi < *lo) *hi = *lo;
}

/* Rows [r0, r1) of the unfolding of n_img images (image j at inp + j in_img, each (C,H,W)) into col (rows ld floats
 * apart), for the output rows [oh0, oh1): image j's columns start at j (oh1 - oh0) OW, and row (c, ki, kj) holds
 * inp[c][oh stride - pad + ki][ow stride - pad + kj], 0 outside the image. Image by image: its planes stay in L1.
 * (gcc turns the three stretches of a row into memset/memcpy calls; one loop with a bounds test per float, which it
 * cannot, measured no faster for the demo's 8-16-float rows: within 1 % of a training step.) */
static void im2col_tile(float *col, size_t ld, const float *inp, size_t in_img, int n_img, const frz_conv_shape *s,
                        int r0, int r1, int oh0, int oh1)
{
    const int k = s->k, st = s->stride, OW = s->OW;
    const size_t img_cols = (size_t)(oh1 - oh0) * OW, plane_size = (size_t)s->H * s->W;
    if (is_direct(s)) {
        for (int row = r0; row < r1; row++)
            for (int j = 0; j < n_img; j++)
                memcpy(col + (size_t)row * ld + j * img_cols, inp + j * in_img + row * plane_size + (size_t)oh0 * s->W,
                       img_cols * sizeof *col);
        return;
    }
    for (int j = 0; j < n_img; j++) {
        int c = r0 / (k * k), ki = r0 / k % k, kj = r0 % k, lo, hi;
        for (int row = r0; row < r1; row++) {
            valid_cols(s, kj, &lo, &hi);
            const int shift = kj - s->pad;  /* input column of output column ow: ow stride + shift */
            const float *plane = inp + j * in_img + (size_t)c * plane_size;
            float *dst = col + (size_t)row * ld + j * img_cols;
            for (int oh = oh0; oh < oh1; oh++) {
                const int ih = oh * st - s->pad + ki, in = ih >= 0 && ih < s->H;
                const float *src = plane + (size_t)(in ? ih : 0) * s->W;
                float *d = dst + (size_t)(oh - oh0) * OW;
                int ow = 0;
                for (; ow < (in ? lo : OW); ow++) d[ow] = 0.0f;
                if (in)
                    for (; ow < hi; ow++) d[ow] = src[ow * st + shift];
                for (; ow < OW; ow++) d[ow] = 0.0f;
            }
            if (++kj == k) {
                kj = 0;
                if (++ki == k) {
                    ki = 0;
                    c++;
                }
            }
        }
    }
}

/* Rows [r0, r1) of the whole unfolding of n_img images. */
static void im2col_rows(float *col, size_t ld, const float *inp, size_t in_img, int n_img, const frz_conv_shape *s,
                        int r0, int r1)
{
    im2col_tile(col, ld, inp, in_img, n_img, s, r0, r1, 0, s->OH);
}

/* The adjoint of im2col_rows for channels [c0, c1): dinp += folded dcol (rows ld floats apart), n_img images. */
static void col2im_add(float *dinp, size_t in_img, int n_img, const float *dcol, size_t ld, const frz_conv_shape *s,
                       int c0, int c1)
{
    const int k = s->k, st = s->stride, OHW = s->OH * s->OW;
    for (int c = c0; c < c1; c++) {
        for (int kk = 0; kk < k * k; kk++) {
            int ki = kk / k, kj = kk % k, lo, hi;
            valid_cols(s, kj, &lo, &hi);
            for (int j = 0; j < n_img && hi > lo; j++) {
                float *plane = dinp + j * in_img + (size_t)c * s->H * s->W;
                const float *src = dcol + ((size_t)c * k * k + kk) * ld + (size_t)j * OHW;
                for (int oh = 0; oh < s->OH; oh++) {
                    int ih = oh * st - s->pad + ki;
                    if (ih < 0 || ih >= s->H) continue;
                    float *d = plane + (size_t)ih * s->W + (lo * st - s->pad + kj);
                    const float *g = src + (size_t)oh * s->OW;
                    for (int ow = lo; ow < hi; ow++) d[(ow - lo) * st] += g[ow];
                }
            }
        }
    }
}

/* Floats of col a thread unfolds at a time in the tiled forward: it stays in the core's L2 cache while sgemm
 * packs and multiplies it. */
#define TILE_FLOATS (1u << 16)

/* Output rows per tile when a lone image's forward goes tile by tile, else 0: where one image's col is much larger
 * than a cache (the stem and the first stage at 224 pixels), unfolding it whole and then having sgemm pack it
 * streams it through memory twice; tiles of whole output rows, each thread unfolding and multiplying its own, stay
 * in cache (the scratch, C k k x OH OW floats, holds one tile per thread). */
static int tile_rows(const frz_conv_shape *s, int n_threads)
{
    const size_t row = (size_t)s->C * s->k * s->k * s->OW, all = row * s->OH;
    if (is_direct(s) || row > TILE_FLOATS || all < 4 * (size_t)n_threads * TILE_FLOATS) return 0;
    return (int)(TILE_FLOATS / row);
}

/* One image, tile by tile (tile_rows): each thread takes whole output rows, unfolds them into its own part of
 * scratch and multiplies them onto the bias. */
static void conv_forward_tiled(const frz_conv_shape *s, float *y, const float *x, const float *w,
                               const float *bias, float *scratch, int rows, int n_threads)
{
    const int OHW = s->OH * s->OW, CKK = s->C * s->k * s->k;
#pragma omp parallel num_threads(n_threads)
    {
        int lo, hi;
        my_share(s->OH, &lo, &hi);
        float *col = scratch + (size_t)omp_get_thread_num() * TILE_FLOATS;
        for (int oh0 = lo; oh0 < hi; oh0 += rows) {
            const int oh1 = FRZ_MIN(hi, oh0 + rows), n = (oh1 - oh0) * s->OW;
            im2col_tile(col, (size_t)n, x, 0, 1, s, 0, CKK, oh0, oh1);
            for (int o = 0; o < s->OC; o++)
                for (int p = 0; p < n; p++) y[(size_t)o * OHW + (size_t)oh0 * s->OW + p] = bias[o];
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, s->OC, n, CKK, 1.0f, w, CKK, col, n, 1.0f,
                        y + (size_t)oh0 * s->OW, OHW);
        }
    }
}

/* A group's product (OC, g OH OW) back to NCHW outputs y, adding the bias: images [j0, j1), channels [o0, o1). */
static void scatter_add_bias(const frz_conv_shape *s, float *y, const float *prod, const float *bias, int g, int j0,
                             int j1, int o0, int o1)
{
    const size_t OHW = (size_t)s->OH * s->OW, N = (size_t)g * OHW, out_img = (size_t)s->OC * OHW;
    for (int j = j0; j < j1; j++)
        for (int o = o0; o < o1; o++) {
            const float *src = prod + (size_t)o * N + (size_t)j * OHW;
            float *dst = y + j * out_img + (size_t)o * OHW;
            for (size_t p = 0; p < OHW; p++) dst[p] = src[p] + bias[o];
        }
}

/* One group's forward with the columns shared out: each thread unfolds its own images (all rows), multiplies all
 * the weights onto its columns and scatters them to NCHW; no thread reads another's columns, so no barrier. Where
 * the group is wider than the layer has output channels (the stem and the first stages at small sizes: 32 output
 * channels, 1024 columns), this packs each column once and the small weight matrix once per thread, where
 * splitting the output channels packed all the columns in every thread for half the (few) rows each. */
static void conv_forward_by_images(const frz_conv_shape *s, float *y, const float *x, const float *w,
                                   const float *bias, float *scratch, int g, int n_threads)
{
    const int OHW = s->OH * s->OW, CKK = s->C * s->k * s->k, N = g * OHW;
    const size_t in_img = (size_t)s->C * s->H * s->W;
    float *prod = scratch + (size_t)CKK * N;
#pragma omp parallel num_threads(n_threads)
    {
        int lo, hi;
        my_share(g, &lo, &hi);
        if (hi > lo) {
            im2col_rows(scratch + (size_t)lo * OHW, (size_t)N, x + lo * in_img, in_img, hi - lo, s, 0, CKK);
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, s->OC, (hi - lo) * OHW, CKK, 1.0f, w, CKK,
                        scratch + (size_t)lo * OHW, N, 0.0f, prod + (size_t)lo * OHW, N);
            scatter_add_bias(s, y, prod, bias, g, lo, hi, 0, s->OC);
        }
    }
}

void frz_conv_forward(const frz_conv_shape *s, float *out, const float *inp, const float *w, const float *bias,
                      float *scratch, int n_threads)
{
    const int OHW = s->OH * s->OW, KK = s->k * s->k, CKK = s->C * KK, G = group_size(s);
    const size_t in_img = (size_t)s->C * s->H * s->W, out_img = (size_t)s->OC * OHW;
    const int rows = G == 1 ? tile_rows(s, n_threads) : 0;
    if (rows > 0) {
        for (int b = 0; b < s->B; b++)
            conv_forward_tiled(s, out + b * out_img, inp + b * in_img, w, bias, scratch, rows, n_threads);
        return;
    }
    for (int b0 = 0; b0 < s->B; b0 += G) {
        const int g = FRZ_MIN(G, s->B - b0), N = g * OHW;
        const float *x = inp + b0 * in_img;
        float *y = out + b0 * out_img;
        if (g >= n_threads && g > 1 && N > s->OC) {
            conv_forward_by_images(s, y, x, w, bias, scratch, g, n_threads);
            continue;
        }
        /* A lone image multiplies in place: col is the image itself for a direct conv, y is the output. */
        const float *cols = (g == 1 && is_direct(s)) ? x : scratch;
        float *prod = g == 1 ? y : scratch + (size_t)CKK * N;
#pragma omp parallel num_threads(n_threads)
        {
            int lo, hi;
            if (cols == scratch) {
                my_share(s->C, &lo, &hi);
                im2col_rows(scratch, (size_t)N, x, in_img, g, s, lo * KK, hi * KK);
            }
            my_share(s->OC, &lo, &hi);
            if (g == 1)  /* the bias goes in first, so the product adds onto it (beta = 1) */
                for (int o = lo; o < hi; o++)
                    for (int p = 0; p < OHW; p++) y[(size_t)o * OHW + p] = bias[o];
#pragma omp barrier
            if (hi > lo)
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, hi - lo, N, CKK, 1.0f, w + (size_t)lo * CKK,
                            CKK, cols, N, g == 1 ? 1.0f : 0.0f, prod + (size_t)lo * N, N);
            if (g > 1) scatter_add_bias(s, y, prod, bias, g, 0, g, lo, hi);  /* this thread's rows */
        }
    }
}

void frz_conv_backward(const frz_conv_shape *s, float *dinp, float *dw, float *dbias, const float *dout,
                       const float *inp, const float *w, float *scratch, int n_threads)
{
    const int OHW = s->OH * s->OW, KK = s->k * s->k, CKK = s->C * KK, G = group_size(s);
    const size_t in_img = (size_t)s->C * s->H * s->W, out_img = (size_t)s->OC * OHW;
#pragma omp parallel for num_threads(n_threads) schedule(static)
    for (int o = 0; o < s->OC; o++) {
        double sum = 0.0;
        for (int b = 0; b < s->B; b++) {
            const float *gr = dout + b * out_img + (size_t)o * OHW;
            #pragma omp simd reduction(+ : sum)  /* lanes of partial sums, not one latency-bound chain */
            for (int p = 0; p < OHW; p++) sum += gr[p];
        }
        dbias[o] += (float)sum;
    }
    /* Rows are shared out in whole channels when col2im must fold them back, else one by one. */
    const int unit = dinp ? KK : 1;
    for (int b0 = 0; b0 < s->B; b0 += G) {
        const int g = FRZ_MIN(G, s->B - b0), N = g * OHW;
        const float *x = inp + b0 * in_img;
        float *dx = dinp ? dinp + b0 * in_img : NULL;
        const int in_place = g == 1 && is_direct(s);  /* x is col, dx receives dcol directly */
        const float *gd = g == 1 ? dout + b0 * out_img : scratch + (size_t)CKK * N;
#pragma omp parallel num_threads(n_threads)
        {
            int lo, hi;
            if (g > 1) {  /* gather the group's dout like col: (OC, g OHW) */
                my_share(s->OC, &lo, &hi);
                for (int j = 0; j < g; j++)
                    for (int o = lo; o < hi; o++)
                        memcpy(scratch + (size_t)CKK * N + (size_t)o * N + (size_t)j * OHW,
                               dout + (b0 + j) * out_img + (size_t)o * OHW, (size_t)OHW * sizeof(float));
#pragma omp barrier
            }
            my_share(CKK / unit, &lo, &hi);
            const int r0 = lo * unit, r1 = hi * unit;
            if (r1 > r0) {
                const float *rows = in_place ? x : scratch;
                if (!in_place)
                    im2col_rows(scratch, (size_t)N, x, in_img, g, s, r0, r1);
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, s->OC, r1 - r0, N, 1.0f, gd, N,
                            rows + (size_t)r0 * N, N, 1.0f, dw + r0, CKK);
                if (dx && in_place) {
                    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, r1 - r0, N, s->OC, 1.0f, w + r0, CKK, gd, N,
                                1.0f, dx + (size_t)r0 * N, N);
                } else if (dx) {
                    /* This thread's rows of col are free again: they receive dcol, then fold into dx. */
                    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, r1 - r0, N, s->OC, 1.0f, w + r0, CKK, gd, N,
                                0.0f, scratch + (size_t)r0 * N, N);
                    col2im_add(dx, in_img, g, scratch, (size_t)N, s, lo, hi);
                }
            }
        }
    }
}
