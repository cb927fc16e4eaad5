/* render.c -- a scene's objects as filled shapes on black, each pixel's colour scaled by the fraction of its
 * aa x aa sample points inside the shape (aa = 1: hard edges). Shapes are defined in the unit square around the
 * object's centre ([-1, 1]^2 scaled by the half-size), so every shape of a size spans about the same area. */
#include "world.h"

#include <math.h>
#include <string.h>

/* Even-odd rule against a closed polygon (n vertices, x y pairs). */
static int in_polygon(const float *p, int n, float u, float v)
{
    int in = 0;
    for (int i = 0, j = n - 1; i < n; j = i++) {
        float xi = p[2 * i], yi = p[2 * i + 1], xj = p[2 * j], yj = p[2 * j + 1];
        if ((yi > v) != (yj > v) && u < (xj - xi) * (v - yi) / (yj - yi) + xi) in = !in;
    }
    return in;
}

static const float triangle[6] = {0.0f, -1.0f, 0.95f, 0.8f, -0.95f, 0.8f};

/* The five-pointed star, point up: outer radius 1, inner 0.45. */
static void star_polygon(float *p)
{
    const double pi = 3.14159265358979323846;
    for (int k = 0; k < 10; k++) {
        double r = k % 2 ? 0.45 : 1.0, a = -pi / 2 + k * pi / 5;
        p[2 * k] = (float)(r * cos(a));
        p[2 * k + 1] = (float)(r * sin(a));
    }
}

static int inside(int shape, const float *star, float u, float v)
{
    float au = fabsf(u), av = fabsf(v);
    switch (shape) {
    case 0: return u * u + v * v <= 1.0f;                               /* circle */
    case 1: return au <= 0.8f && av <= 0.8f;                            /* square */
    case 2: return in_polygon(triangle, 3, u, v);                       /* triangle */
    case 3: return au + av <= 1.0f;                                     /* diamond */
    case 4: return (au <= 0.3f && av <= 1.0f) || (av <= 0.3f && au <= 1.0f); /* cross */
    default: return in_polygon(star, 10, u, v);                         /* star */
    }
}

void w_scene_render(const w_scene *s, int aa, uint8_t *rgb)
{
    float star[20];
    star_polygon(star);
    memset(rgb, 0, (size_t)W_SIDE * W_SIDE * 3);
    const int h = w_half_size(s->size);
    const uint8_t *c = w_colour_rgb[s->colour];
    for (int o = 0; o <= s->count; o++) {
        /* the centre is the middle of pixel (cx, cy) */
        const float ox = (float)s->cx[o] + 0.5f, oy = (float)s->cy[o] + 0.5f;
        for (int y = s->cy[o] - h - 1; y <= s->cy[o] + h + 1; y++) {
            if (y < 0 || y >= W_SIDE) continue;
            for (int x = s->cx[o] - h - 1; x <= s->cx[o] + h + 1; x++) {
                if (x < 0 || x >= W_SIDE) continue;
                int hits = 0;
                for (int j = 0; j < aa; j++)
                    for (int i = 0; i < aa; i++) {
                        float u = ((float)x + ((float)i + 0.5f) / (float)aa - ox) / (float)h;
                        float v = ((float)y + ((float)j + 0.5f) / (float)aa - oy) / (float)h;
                        hits += inside(s->shape, star, u, v);
                    }
                if (!hits) continue;
                uint8_t *px = rgb + ((size_t)y * W_SIDE + (size_t)x) * 3;
                for (int k = 0; k < 3; k++) px[k] = (uint8_t)((c[k] * hits + aa * aa / 2) / (aa * aa));
            }
        }
    }
}
