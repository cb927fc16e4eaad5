/* plot.c -- the loss-curve picture (see plot.h): axes, grid, ticks, polylines and dots, no text. */
#include "train/plot.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* The plotting area inside the picture (pixels). */
#define LEFT 60
#define RIGHT (FRZ_PLOT_W - 20)
#define TOP 20
#define BOTTOM (FRZ_PLOT_H - 40)

typedef struct canvas {
    uint8_t *rgb;
    unsigned dash; /* dashed lines: 0 solid, else the pixels drawn so far along the curve */
} canvas;

static void put(canvas *c, int x, int y, const uint8_t col[3])
{
    if (x < 0 || y < 0 || x >= FRZ_PLOT_W || y >= FRZ_PLOT_H) return;
    memcpy(c->rgb + ((size_t)y * FRZ_PLOT_W + (size_t)x) * 3, col, 3);
}

/* Bresenham, clipped to the plotting area, `thick` pixels wide downwards. */
static void line(canvas *c, int x0, int y0, int x1, int y1, const uint8_t col[3], int thick)
{
    int dx = abs(x1 - x0), sx = x0 < x1 ? 1 : -1, dy = -abs(y1 - y0), sy = y0 < y1 ? 1 : -1, err = dx + dy;
    for (;;) {
        /* dashes of 8 pixels on, 6 off, continued from one segment to the next */
        int on = !c->dash || (c->dash++ - 1) % 14 < 8;
        for (int t = 0; on && t < thick; t++)
            if (x0 >= LEFT && x0 <= RIGHT && y0 + t >= TOP && y0 + t <= BOTTOM) put(c, x0, y0 + t, col);
        if (x0 == x1 && y0 == y1) break;
        int e2 = 2 * err;
        if (e2 >= dy) err += dy, x0 += sx;
        if (e2 <= dx) err += dx, y0 += sy;
    }
}

static void dot(canvas *c, int x, int y, const uint8_t col[3])
{
    for (int dy = -3; dy <= 3; dy++)
        for (int dx = -3; dx <= 3; dx++)
            if (dx * dx + dy * dy <= 10) put(c, x + dx, y + dy, col);
}

double frz_plot_tick(double lo, double hi, int target)
{
    double span = hi - lo;
    if (!(span > 0) || target < 1) return 1.0;
    double raw = span / target, p = pow(10.0, floor(log10(raw))), f = raw / p;
    return (f < 1.5 ? 1.0 : f < 3.5 ? 2.0 : f < 7.5 ? 5.0 : 10.0) * p;
}

typedef struct range {
    double x0, x1, y0, y1;
} range;

static void extend(range *r, const frz_plot_series *s, int *any)
{
    for (size_t i = 0; s && i < s->n; i++) {
        if (!isfinite(s->y[i])) continue;
        double x = (double)s->x[i], y = s->y[i];
        if (!*any) {
            r->x0 = r->x1 = x;
            r->y0 = r->y1 = y;
            *any = 1;
        }
        r->x0 = fmin(r->x0, x), r->x1 = fmax(r->x1, x), r->y0 = fmin(r->y0, y), r->y1 = fmax(r->y1, y);
    }
}

static int px(const range *r, double x) { return LEFT + (int)lround((x - r->x0) / (r->x1 - r->x0) * (RIGHT - LEFT)); }
static int py(const range *r, double y) { return BOTTOM - (int)lround((y - r->y0) / (r->y1 - r->y0) * (BOTTOM - TOP)); }

const uint8_t *frz_plot_colour(size_t k)
{
    static const uint8_t tab10[10][3] = {{31, 119, 180}, {255, 127, 14}, {44, 160, 44}, {214, 39, 40},
                                         {148, 103, 189}, {140, 86, 75}, {227, 119, 194}, {127, 127, 127},
                                         {188, 189, 34}, {23, 190, 207}};
    return tab10[k % 10];
}

void frz_plot_render_curves(uint8_t *rgb, const frz_plot_curve *curves, size_t n, double y_lo, double y_hi)
{
    static const uint8_t black[3] = {0, 0, 0}, grid[3] = {225, 225, 225};
    canvas c = {rgb, 0};
    memset(rgb, 255, (size_t)FRZ_PLOT_W * FRZ_PLOT_H * 3);

    range r = {0, 1, 0, 1};
    int any = 0;
    for (size_t k = 0; k < n; k++) extend(&r, &curves[k].s, &any);
    /* Steps from 0, losses from 0 (or below when negative), some headroom above. */
    r.x0 = fmin(r.x0, 0.0);
    if (r.x1 <= r.x0) r.x1 = r.x0 + 1;
    r.y0 = fmin(r.y0, 0.0);
    r.y1 = r.y1 > r.y0 ? r.y1 + 0.05 * (r.y1 - r.y0) : r.y0 + 1;
    if (y_hi > y_lo) r.y0 = y_lo, r.y1 = y_hi;

    /* Grid lines and tick marks at nice values. */
    double tx = frz_plot_tick(r.x0, r.x1, 8), ty = frz_plot_tick(r.y0, r.y1, 6);
    for (double x = ceil(r.x0 / tx) * tx; x <= r.x1 + 1e-9 * tx; x += tx) {
        int X = px(&r, x);
        line(&c, X, TOP, X, BOTTOM, grid, 1);
        for (int t = 1; t <= 6; t++) put(&c, X, BOTTOM + t, black);
    }
    for (double y = ceil(r.y0 / ty) * ty; y <= r.y1 + 1e-9 * ty; y += ty) {
        int Y = py(&r, y);
        line(&c, LEFT, Y, RIGHT, Y, grid, 1);
        for (int t = 1; t <= 6; t++) put(&c, LEFT - t, Y, black);
    }
    /* Axes. */
    for (int x = LEFT; x <= RIGHT; x++) put(&c, x, BOTTOM, black), put(&c, x, BOTTOM + 1, black);
    for (int y = TOP; y <= BOTTOM; y++) put(&c, LEFT, y, black), put(&c, LEFT - 1, y, black);

    for (size_t k = 0; k < n; k++) {
        const frz_plot_series *s = &curves[k].s;
        const uint8_t *col = curves[k].rgb;
        const frz_plot_style style = curves[k].style;
        if (style != FRZ_PLOT_DOTS) { /* a polyline through the finite points */
            int have = 0, X0 = 0, Y0 = 0;
            c.dash = style == FRZ_PLOT_DASHED ? 1 : 0;
            for (size_t i = 0; i < s->n; i++) {
                if (!isfinite(s->y[i])) continue;
                int X = px(&r, (double)s->x[i]), Y = py(&r, s->y[i]);
                if (have) line(&c, X0, Y0, X, Y, col, 2);
                else line(&c, X, Y, X, Y, col, 2);
                X0 = X, Y0 = Y, have = 1;
            }
            c.dash = 0;
        }
        if (style == FRZ_PLOT_DOTS || style == FRZ_PLOT_LINE_DOTS)
            for (size_t i = 0; i < s->n; i++)
                if (isfinite(s->y[i])) dot(&c, px(&r, (double)s->x[i]), py(&r, s->y[i]), col);
    }
}

/* The training-run picture: two curves of the general renderer. */
static size_t loss_curves(const frz_plot_series *loss, const frz_plot_series *val, frz_plot_curve out[2])
{
    size_t n = 0;
    if (loss) {
        out[n].s = *loss;
        memcpy(out[n].rgb, frz_plot_colour(0), 3);
        out[n++].style = FRZ_PLOT_LINE;
    }
    if (val) {
        out[n].s = *val;
        memcpy(out[n].rgb, frz_plot_colour(3), 3);
        out[n++].style = FRZ_PLOT_DOTS;
    }
    return n;
}

void frz_plot_render(uint8_t *rgb, const frz_plot_series *loss, const frz_plot_series *val)
{
    frz_plot_curve curves[2];
    frz_plot_render_curves(rgb, curves, loss_curves(loss, val, curves), 0, 0);
}

frz_status frz_plot_write_curves(const char *path, const frz_plot_curve *curves, size_t n, double y_lo, double y_hi)
{
    uint8_t *rgb = frz_malloc((size_t)FRZ_PLOT_W * FRZ_PLOT_H * 3, "plot");
    if (!rgb) return FRZ_ERR_NOMEM;
    frz_plot_render_curves(rgb, curves, n, y_lo, y_hi);
    frz_status st = frz_png_write_rgb(path, rgb, FRZ_PLOT_W, FRZ_PLOT_H);
    free(rgb);
    return st;
}

frz_status frz_plot_write(const char *path, const frz_plot_series *loss, const frz_plot_series *val)
{
    frz_plot_curve curves[2];
    return frz_plot_write_curves(path, curves, loss_curves(loss, val, curves), 0, 0);
}
