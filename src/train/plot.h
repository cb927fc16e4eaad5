/* plot.h -- the loss curve of a training run as a PNG (libpng), and the PNG writer behind it.
 *
 * The picture: white background, light grey grid lines at "nice" tick values (1, 2 or 5 times a power of ten)
 * with tick marks on the axes, the training loss per step as a blue line, and validation losses (ln of the
 * validation perplexity) as red dots, on shared axes: x = step, y = loss in nats per token. There is no text;
 * the numbers are in metrics.csv.
 * The same renderer draws any number of coloured curves on shared axes (frz_plot_render_curves): the demo
 * report's loss and accuracy-against-shots pictures, whose legends are written beside them in text. */
#ifndef FRZ_TRAIN_PLOT_H
#define FRZ_TRAIN_PLOT_H

#include "core/core.h"

#include <stdint.h>

/* Writes 8-bit RGB pixels (h, w, 3) as a PNG, atomically: "<path>.tmp.<pid>" renamed over path.
 * FRZ_ERR_IO naming the path (libpng's message included), FRZ_ERR_INVALID_ARG for bad sizes. */
frz_status frz_png_write_rgb(const char *path, const uint8_t *rgb, int w, int h);
/* The same for 8-bit gray (channels 1, pixels (h, w)) or RGB (channels 3). */
frz_status frz_png_write(const char *path, const uint8_t *px, int w, int h, int channels);

typedef struct frz_plot_series {
    const int64_t *x;  /* (n) steps, ascending */
    const float *y;    /* (n) values; non-finite ones are left out */
    size_t n;
} frz_plot_series;

#define FRZ_PLOT_W 800
#define FRZ_PLOT_H 480

/* How a curve is drawn: a polyline through its finite points, dots at them, a dashed polyline, or both. */
typedef enum frz_plot_style {
    FRZ_PLOT_LINE = 0,
    FRZ_PLOT_DOTS = 1,
    FRZ_PLOT_DASHED = 2,
    FRZ_PLOT_LINE_DOTS = 3
} frz_plot_style;

typedef struct frz_plot_curve {
    frz_plot_series s;
    uint8_t rgb[3];
    frz_plot_style style;
} frz_plot_curve;

/* The k-th colour of a fixed palette (matplotlib's ten "tab10" colours, repeating): rgb[3]. */
const uint8_t *frz_plot_colour(size_t k);

/* Renders n curves on shared axes into rgb (FRZ_PLOT_H, FRZ_PLOT_W, 3), in order (later curves on top); n = 0
 * gives the empty axes. x runs from 0 (or below) to the largest x. y runs over [y_lo, y_hi] when y_hi > y_lo
 * (e.g. 0..100 for percentages: comparable pictures), else from 0 (or below) to the largest y plus 5%. */
void frz_plot_render_curves(uint8_t *rgb, const frz_plot_curve *curves, size_t n, double y_lo, double y_hi);

/* Renders and writes them. */
frz_status frz_plot_write_curves(const char *path, const frz_plot_curve *curves, size_t n, double y_lo,
                                 double y_hi);

/* Renders the picture into rgb (FRZ_PLOT_H, FRZ_PLOT_W, 3): the loss as a blue line (palette colour 0), the
 * validation values as red dots (colour 3). Empty series give the empty axes. */
void frz_plot_render(uint8_t *rgb, const frz_plot_series *loss, const frz_plot_series *val);

/* Renders and writes it. */
frz_status frz_plot_write(const char *path, const frz_plot_series *loss, const frz_plot_series *val);

/* The tick spacing for a range: 1, 2 or 5 times a power of ten giving about `target` ticks (> 0). */
double frz_plot_tick(double lo, double hi, int target);

#endif
