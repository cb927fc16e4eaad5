/* pool.c -- max pooling (the stem), 2x2 ceil-mode average pooling (the downsample shortcut) and global average
 * pooling (the head), forward and backward (see layers.h). Planes are independent, so threads split them. */
#include "vision/layers.h"

#include <float.h>

/* The index (within the plane) of the first maximum of output pixel (oh, ow)'s window. */
static int max_index(const float *plane, int H, int W, int k, int s, int p, int oh, int ow)
{
    int best = -1;
    float best_v = -FLT_MAX;
    for (int i = oh * s - p; i < oh * s - p + k; i++) {
        if (i < 0 || i >= H) continue;
        for (int j = ow * s - p; j < ow * s - p + k; j++) {
            if (j < 0 || j >= W) continue;
            float v = plane[(size_t)i * W + j];
            if (best < 0 || v > best_v) {
                best = i * W + j;
                best_v = v;
            }
        }
    }
    return best;
}

void frz_maxpool_forward(float *out, const float *inp, int planes, int H, int W, int k, int s, int p, int n_threads)
{
    const int OH = (H + 2 * p - k) / s + 1, OW = (W + 2 * p - k) / s + 1;
#pragma omp parallel for num_threads(n_threads) schedule(static)
    for (int c = 0; c < planes; c++) {
        const float *plane = inp + (size_t)c * H * W;
        float *o = out + (size_t)c * OH * OW;
        for (int oh = 0; oh < OH; oh++)
            for (int ow = 0; ow < OW; ow++) o[oh * OW + ow] = plane[max_index(plane, H, W, k, s, p, oh, ow)];
    }
}

void frz_maxpool_backward(float *dinp, const float *dout, const float *inp, int planes, int H, int W, int k, int s,
                          int p, int n_threads)
{
    const int OH = (H + 2 * p - k) / s + 1, OW = (W + 2 * p - k) / s + 1;
#pragma omp parallel for num_threads(n_threads) schedule(static)
    for (int c = 0; c < planes; c++) {
        const float *plane = inp + (size_t)c * H * W;
        const float *g = dout + (size_t)c * OH * OW;
        float *d = dinp + (size_t)c * H * W;
        for (int oh = 0; oh < OH; oh++)
            for (int ow = 0; ow < OW; ow++) d[max_index(plane, H, W, k, s, p, oh, ow)] += g[oh * OW + ow];
    }
}

void frz_avgpool2_forward(float *out, const float *inp, int planes, int H, int W, int n_threads)
{
    const int OH = (H + 1) / 2, OW = (W + 1) / 2;
#pragma omp parallel for num_threads(n_threads) schedule(static)
    for (int c = 0; c < planes; c++) {
        const float *x = inp + (size_t)c * H * W;
        float *o = out + (size_t)c * OH * OW;
        for (int oh = 0; oh < OH; oh++) {
            int i1 = 2 * oh + 1 < H ? 2 * oh + 1 : 2 * oh;  /* the last row of an odd height stands alone */
            for (int ow = 0; ow < OW; ow++) {
                int j1 = 2 * ow + 1 < W ? 2 * ow + 1 : 2 * ow;
                float sum = 0.0f;
                for (int i = 2 * oh; i <= i1; i++)
                    for (int j = 2 * ow; j <= j1; j++) sum += x[(size_t)i * W + j];
                o[oh * OW + ow] = sum / (float)((i1 - 2 * oh + 1) * (j1 - 2 * ow + 1));
            }
        }
    }
}

void frz_avgpool2_backward(float *dinp, const float *dout, int planes, int H, int W, int n_threads)
{
    const int OH = (H + 1) / 2, OW = (W + 1) / 2;
#pragma omp parallel for num_threads(n_threads) schedule(static)
    for (int c = 0; c < planes; c++) {
        const float *g = dout + (size_t)c * OH * OW;
        float *d = dinp + (size_t)c * H * W;
        for (int oh = 0; oh < OH; oh++) {
            int i1 = 2 * oh + 1 < H ? 2 * oh + 1 : 2 * oh;
            for (int ow = 0; ow < OW; ow++) {
                int j1 = 2 * ow + 1 < W ? 2 * ow + 1 : 2 * ow;
                float share = g[oh * OW + ow] / (float)((i1 - 2 * oh + 1) * (j1 - 2 * ow + 1));
                for (int i = 2 * oh; i <= i1; i++)
                    for (int j = 2 * ow; j <= j1; j++) d[(size_t)i * W + j] += share;
            }
        }
    }
}

void frz_gap_forward(float *out, const float *inp, int planes, int HW, int n_threads)
{
#pragma omp parallel for num_threads(n_threads) schedule(static)
    for (int c = 0; c < planes; c++) {
        const float *x = inp + (size_t)c * HW;
        double sum = 0.0;
        for (int i = 0; i < HW; i++) sum += x[i];
        out[c] = (float)(sum / HW);
    }
}

void frz_gap_backward(float *dinp, const float *dout, int planes, int HW, int n_threads)
{
#pragma omp parallel for num_threads(n_threads) schedule(static)
    for (int c = 0; c < planes; c++) {
        float g = dout[c] / (float)HW;
        float *d = dinp + (size_t)c * HW;
        for (int i = 0; i < HW; i++) d[i] += g;
    }
}
