/* conv2d.c -- 2-D convolution lowered to sgemm, one image at a time (see layers.h).
 *
 * Per image, with the input unfolded by im2col into col (C k k, OH OW):
 *     out  (OC, OH OW) = w (OC, C k k) @ col                 forward
 *     dw  += dout @ col^T                                    (sgemm beta = 1: accumulates over the batch)
 *     dcol  = w^T @ dout, then col2im adds dcol into dinp    backward
 * A 1x1, stride-1, unpadded conv needs no unfolding: the image itself is col. */
#include "vision/layers.h"
#include "math/blas.h"

#include <string.h>

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

size_t frz_conv_col_size(const frz_conv_shape *s)
{
    return is_direct(s) ? 0 : (size_t)s->C * s->k * s->k * s->OH * s->OW;
}

/* col (C k k, OH OW): row (c, ki, kj) holds inp[c][oh stride - pad + ki][ow stride - pad + kj], 0 outside. */
static void im2col(float *col, const float *inp /* (C,H,W) */, const frz_conv_shape *s, int n_threads)
{
    const int k = s->k, OHW = s->OH * s->OW, rows = s->C * k * k;
#pragma omp parallel for num_threads(n_threads) schedule(static)
    for (int row = 0; row < rows; row++) {
        int c = row / (k * k), ki = row / k % k, kj = row % k;
        const float *plane = inp + (size_t)c * s->H * s->W;
        float *dst = col + (size_t)row * OHW;
        for (int oh = 0; oh < s->OH; oh++) {
            int ih = oh * s->stride - s->pad + ki;
            float *d = dst + (size_t)oh * s->OW;
            if (ih < 0 || ih >= s->H) {
                memset(d, 0, (size_t)s->OW * sizeof *d);
                continue;
            }
            const float *src = plane + (size_t)ih * s->W;
            for (int ow = 0; ow < s->OW; ow++) {
                int iw = ow * s->stride - s->pad + kj;
                d[ow] = (iw >= 0 && iw < s->W) ? src[iw] : 0.0f;
            }
        }
    }
}

/* The adjoint of im2col: dinp += folded dcol. One thread per input channel, so no two threads write the same
 * pixel. */
static void col2im_add(float *dinp /* (C,H,W) */, const float *dcol, const frz_conv_shape *s, int n_threads)
{
    const int k = s->k, OHW = s->OH * s->OW;
#pragma omp parallel for num_threads(n_threads) schedule(static)
    for (int c = 0; c < s->C; c++) {
        float *plane = dinp + (size_t)c * s->H * s->W;
        for (int kk = 0; kk < k * k; kk++) {
            int ki = kk / k, kj = kk % k;
            const float *src = dcol + ((size_t)c * k * k + kk) * OHW;
            for (int oh = 0; oh < s->OH; oh++) {
                int ih = oh * s->stride - s->pad + ki;
                if (ih < 0 || ih >= s->H) continue;
                float *d = plane + (size_t)ih * s->W;
                const float *g = src + (size_t)oh * s->OW;
                for (int ow = 0; ow < s->OW; ow++) {
                    int iw = ow * s->stride - s->pad + kj;
                    if (iw >= 0 && iw < s->W) d[iw] += g[ow];
                }
            }
        }
    }
}

void frz_conv_forward(const frz_conv_shape *s, float *out, const float *inp, const float *w, const float *bias,
                      float *col, int n_threads)
{
    const int OHW = s->OH * s->OW, CKK = s->C * s->k * s->k;
    for (int b = 0; b < s->B; b++) {
        const float *x = inp + (size_t)b * s->C * s->H * s->W;
        float *y = out + (size_t)b * s->OC * OHW;
        /* The bias goes in first, so the product adds onto it (beta = 1) instead of a second pass. */
#pragma omp parallel for num_threads(n_threads) schedule(static)
        for (int o = 0; o < s->OC; o++)
            for (int p = 0; p < OHW; p++) y[(size_t)o * OHW + p] = bias[o];
        const float *cols = x;
        if (!is_direct(s)) {
            im2col(col, x, s, n_threads);
            cols = col;
        }
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, s->OC, OHW, CKK, 1.0f, w, CKK, cols, OHW, 1.0f, y,
                    OHW);
    }
}

void frz_conv_backward(const frz_conv_shape *s, float *dinp, float *dw, float *dbias, const float *dout,
                       const float *inp, const float *w, float *col, int n_threads)
{
    const int OHW = s->OH * s->OW, CKK = s->C * s->k * s->k;
#pragma omp parallel for num_threads(n_threads) schedule(static)
    for (int o = 0; o < s->OC; o++) {
        double sum = 0.0;
        for (int b = 0; b < s->B; b++) {
            const float *g = dout + ((size_t)b * s->OC + o) * OHW;
            for (int p = 0; p < OHW; p++) sum += g[p];
        }
        dbias[o] += (float)sum;
    }
    for (int b = 0; b < s->B; b++) {
        const float *x = inp + (size_t)b * s->C * s->H * s->W;
        const float *g = dout + (size_t)b * s->OC * OHW;
        const float *cols = x;
        if (!is_direct(s)) {
            im2col(col, x, s, n_threads);
            cols = col;
        }
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, s->OC, CKK, OHW, 1.0f, g, OHW, cols, OHW, 1.0f, dw, CKK);
        if (!dinp) continue;
        float *dx = dinp + (size_t)b * s->C * s->H * s->W;
        if (is_direct(s)) {
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, CKK, OHW, s->OC, 1.0f, w, CKK, g, OHW, 1.0f, dx, OHW);
        } else {
            /* col is free again: it now receives dcol. */
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, CKK, OHW, s->OC, 1.0f, w, CKK, g, OHW, 0.0f, col,
                        OHW);
            col2im_add(dx, col, s, n_threads);
        }
    }
}
