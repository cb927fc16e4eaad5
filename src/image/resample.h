/* resample.h -- separable convolution resampling (Pillow's algorithm) of a zero-padded image. */
#ifndef FRZ_RESAMPLE_H
#define FRZ_RESAMPLE_H

#include "image/image.h"

/* The weights along one axis for resizing a padded line of `padded` samples to `out_size`, where the real
 * samples occupy [pad, pad + n) and the rest are zero. Taps that fall on the padding are dropped (they would
 * multiply zero), but the weights are normalised over the whole padded line, as if the zeros were there. */
typedef struct frz_resample_axis {
    int out_size;
    int ksize;      /* taps per output (the most any output needs) */
    int *first;     /* (out_size) first real sample used, 0-based within the n real samples */
    int *count;     /* (out_size) number of real samples used (0 when the output lies in the padding) */
    float *weights; /* (out_size, ksize) weights[o * ksize + t] multiplies sample first[o] + t */
} frz_resample_axis;

/* FRZ_ERR_NOMEM (message set) or FRZ_OK. Free with frz_resample_axis_free (also after a failure). */
frz_status frz_resample_axis_init(frz_resample_axis *ax, int padded, int pad, int n, int out_size,
                                  frz_image_filter filter);
void frz_resample_axis_free(frz_resample_axis *ax);

/* Horizontal pass: src (h, w, 3) uint8 -> tmp (h, ax->out_size, 3) float. */
void frz_resample_rows(const uint8_t *src, int h, int w, const frz_resample_axis *ax, float *tmp);

/* Vertical pass and normalisation: tmp (h, R, 3) -> out (3, R_y, R) with out = v * scale[c] + bias[c], where
 * R_y = ay->out_size. acc is scratch of R * 3 floats. */
void frz_resample_cols_planar(const float *tmp, int R, const frz_resample_axis *ay, const float scale[3],
                              const float bias[3], float *acc, float *out);

#endif
