/* scene.c -- shape scenes: attributes, layout, caption and answers.
 *
 * Layout: the objects form a group around the anchor of the scene's position (left (12, 32), right (52, 32),
 * top (32, 12), bottom (32, 52), middle (32, 32)), a column on the left and right, a row at the top and bottom,
 * side by side (two) or a triangle (three) in the middle; neighbours are 2 half-sizes + 2 pixels apart, so
 * objects never touch; the whole group is shifted by up to 2 pixels each way. The group's centre stays within
 * 4 pixels of its anchor, 20 pixels from any other: position is never ambiguous. */
#include "world.h"

#include <stdio.h>

static const int anchor[W_POSITIONS][2] = {{12, 32}, {52, 32}, {32, 12}, {32, 52}, {32, 32}};

int w_half_size(int size) { return size == 0 ? 6 : 9; }

static void layout(frz_rng *rng, w_scene *s)
{
    const int d = 2 * w_half_size(s->size) + 2;
    const int n = s->count + 1;
    int off[3][2] = {{0, 0}, {0, 0}, {0, 0}}; /* along the group's axis, across it */
    for (int i = 0; i < n; i++) off[i][0] = n == 1 ? 0 : n == 2 ? (2 * i - 1) * d / 2 : (i - 1) * d;
    int jx = (int)w_below(rng, 5) - 2, jy = (int)w_below(rng, 5) - 2;
    for (int i = 0; i < n; i++) {
        int dx, dy;
        if (s->pos == 0 || s->pos == 1) { /* column */
            dx = off[i][1];
            dy = off[i][0];
        } else if (s->pos == 4 && n == 3) { /* triangle: one above, two below */
            dx = i == 1 ? 0 : (i == 0 ? -d / 2 : d / 2);
            dy = i == 1 ? -d / 2 : d / 2;
        } else { /* row */
            dx = off[i][0];
            dy = off[i][1];
        }
        s->cx[i] = (int8_t)(anchor[s->pos][0] + dx + jx);
        s->cy[i] = (int8_t)(anchor[s->pos][1] + dy + jy);
    }
}

void w_scene_draw(frz_rng *rng, const uint8_t held_out[W_SHAPES][W_COLOURS], int want_held_out, w_scene *s)
{
    s->id = 0;
    do {
        s->shape = (uint8_t)w_below(rng, W_SHAPES);
        s->colour = (uint8_t)w_below(rng, W_COLOURS);
    } while (want_held_out >= 0 && held_out[s->shape][s->colour] != want_held_out);
    s->size = (uint8_t)w_below(rng, W_SIZES);
    s->count = (uint8_t)w_below(rng, W_COUNTS);
    s->pos = (uint8_t)w_below(rng, W_POSITIONS);
    layout(rng, s);
}

void w_scene_caption(const w_scene *s, char *buf, size_t cap)
{
    snprintf(buf, cap, "%s %s %s %s %s", w_count[s->count], w_size[s->size], w_colour[s->colour],
             s->count == 0 ? w_shape[s->shape] : w_shape_plural[s->shape], w_position[s->pos]);
}

const char *w_scene_answer(const w_scene *s, int q)
{
    switch (q) {
    case 0: return w_colour[s->colour];
    case 1: return w_shape[s->shape];
    case 2: return w_size[s->size];
    default: return w_position_answer[s->pos];
    }
}
