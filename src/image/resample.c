/* resample.c -- Pillow's convolution resampling (libImaging/Resample.c), in float, for a zero-padded image.
 *
 * Output sample o covers the input interval centred at (o + 0.5) * scale, scale = in / out. When shrinking,
 * the filter is stretched by scale so that every input sample contributes (antialiasing); when enlarging it
 * keeps its natural width and interpolates. */
#include "image/resample.h"

#include <math.h>
#include <stdlib.h>

static double bilinear_filter(double x)
{
    x = fabs(x);
    return x < 1.0 ? 1.0 - x : 0.0;
}

static double bicubic_filter(double x)
{
    const double a = -0.5;
    x = fabs(x);
    if (x < 1.0) return ((a + 2.0) * x - (a + 3.0)) * x * x + 1.0;
    if (x < 2.0) return (((x - 5.0) * x + 8.0) * x - 4.0) * a;
    return 0.0;
}

static double sinc(double x)
{
    if (x == 0.0) return 1.0;
    x *= M_PI;
    return sin(x) / x;
}

static double lanczos3_filter(double x) { return (x >= -3.0 && x < 3.0) ? sinc(x) * sinc(x / 3.0) : 0.0; }

frz_status frz_resample_axis_init(frz_resample_axis *ax, int padded, int pad, int n, int out_size,
                                  frz_image_filter filter)
{
    double (*fn)(double) = filter == FRZ_IMAGE_FILTER_BICUBIC    ? bicubic_filter
                           : filter == FRZ_IMAGE_FILTER_LANCZOS3 ? lanczos3_filter
                                                                 : bilinear_filter;
    double fsupport = filter == FRZ_IMAGE_FILTER_BICUBIC ? 2.0 : filter == FRZ_IMAGE_FILTER_LANCZOS3 ? 3.0 : 1.0;
    double scale = (double)padded / out_size;
    double filterscale = scale < 1.0 ? 1.0 : scale;
    double support = fsupport * filterscale;
    int ksize = (int)ceil(support) * 2 + 1;

    ax->out_size = out_size;
    ax->ksize = ksize;
    ax->first = frz_malloc(sizeof(int) * (size_t)out_size, "resampling bounds");
    ax->count = frz_malloc(sizeof(int) * (size_t)out_size, "resampling bounds");
    ax->weights = frz_calloc((size_t)out_size * (size_t)ksize, sizeof(float), "resampling weights");
    if (!ax->first || !ax->count || !ax->weights) return FRZ_ERR_NOMEM;

    for (int o = 0; o < out_size; o++) {
        double center = (o + 0.5) * scale, ss = 1.0 / filterscale, total = 0.0;
        /* Pillow rounds the bounds with (int)(v + 0.5), i.e. truncation toward zero. */
        int xmin = (int)(center - support + 0.5), xmax = (int)(center + support + 0.5);
        if (xmin < 0) xmin = 0;
        if (xmax > padded) xmax = padded;
        for (int x = xmin; x < xmax; x++) total += fn((x - center + 0.5) * ss);
        if (total == 0.0) total = 1.0; /* as Pillow: weights left as they are */
        /* Keep only the taps on real samples, [pad, pad + n), re-based to the real line. */
        int lo = FRZ_MAX(xmin, pad), hi = FRZ_MIN(xmax, pad + n);
        ax->first[o] = hi > lo ? lo - pad : 0;
        ax->count[o] = hi > lo ? hi - lo : 0;
        for (int x = lo; x < hi; x++)
            ax->weights[(size_t)o * ksize + (x - lo)] = (float)(fn((x - center + 0.5) * ss) / total);
    }
    return FRZ_OK;
}

void frz_resample_axis_free(frz_resample_axis *ax)
{
    free(ax->first);
    free(ax->count);
    free(ax->weights);
    ax->first = ax->count = NULL;
    ax->weights = NULL;
}

void frz_resample_rows(const uint8_t *src, int h, int w, const frz_resample_axis *ax, float *tmp)
{
    int R = ax->out_size;
    for (int y = 0; y < h; y++) {
        const uint8_t *line = src + (size_t)y * w * 3;
        float *dst = tmp + (size_t)y * R * 3;
        for (int o = 0; o < R; o++) {
            const uint8_t *p = line + (size_t)ax->first[o] * 3;
            const float *k = ax->weights + (size_t)o * ax->ksize;
            float r = 0.0f, g = 0.0f, b = 0.0f;
            for (int t = 0; t < ax->count[o]; t++, p += 3) {
                r += k[t] * p[0];
                g += k[t] * p[1];
                b += k[t] * p[2];
            }
            dst[3 * o + 0] = r;
            dst[3 * o + 1] = g;
            dst[3 * o + 2] = b;
        }
    }
}

void frz_resample_cols_planar(const float *tmp, int R, const frz_resample_axis *ay, const float scale[3],
                              const float bias[3], float *acc, float *out)
{
    int Ry = ay->out_size, n = R * 3;
    size_t plane = (size_t)Ry * R;
    for (int o = 0; o < Ry; o++) {
        for (int i = 0; i < n; i++) acc[i] = 0.0f;
        const float *k = ay->weights + (size_t)o * ay->ksize;
        for (int t = 0; t < ay->count[o]; t++) {
            const float *row = tmp + (size_t)(ay->first[o] + t) * n;
            float kt = k[t];
            for (int i = 0; i < n; i++) acc[i] += kt * row[i];
        }
        /* HWC accumulator -> CHW planes, normalised on the way. */
        for (int c = 0; c < 3; c++) {
            float *dst = out + c * plane + (size_t)o * R;
            for (int x = 0; x < R; x++) dst[x] = acc[3 * x + c] * scale[c] + bias[c];
        }
    }
}
