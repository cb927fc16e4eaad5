/* scenes.c -- the held-out combos, the shape scenes (train combos, then held-out ones) and their PNGs. */
#include "world.h"
#include "train/plot.h"

#include <stdlib.h>
#include <string.h>

/* Eight (shape, colour) combos: the colours in a random order, paired with the six shapes in a random order
 * and then two more random shapes, so each colour is held out once and each shape at least once. */
static void choose_held_out(w_world *w)
{
    frz_rng rng;
    world_rng(&rng, w->cfg->seed, "held-out");
    int colours[W_COLOURS], shapes[W_HELDOUT];
    for (int i = 0; i < W_COLOURS; i++) colours[i] = i;
    for (int i = 0; i < W_SHAPES; i++) shapes[i] = i;
    w_shuffle(&rng, colours, W_COLOURS);
    w_shuffle(&rng, shapes, W_SHAPES);
    for (int i = W_SHAPES; i < W_HELDOUT; i++) shapes[i] = (int)w_below(&rng, W_SHAPES);
    memset(w->held_out, 0, sizeof w->held_out);
    for (int i = 0; i < W_HELDOUT; i++) {
        w->held_list[i][0] = shapes[i];
        w->held_list[i][1] = colours[i];
    }
    /* listed by colour, for a stable, readable meta.json */
    for (int i = 0; i < W_HELDOUT; i++)
        for (int j = i + 1; j < W_HELDOUT; j++)
            if (w->held_list[j][1] < w->held_list[i][1]) {
                int s = w->held_list[i][0], c = w->held_list[i][1];
                w->held_list[i][0] = w->held_list[j][0], w->held_list[i][1] = w->held_list[j][1];
                w->held_list[j][0] = s, w->held_list[j][1] = c;
            }
    for (int i = 0; i < W_HELDOUT; i++) w->held_out[w->held_list[i][0]][w->held_list[i][1]] = 1;
}

static frz_status write_scene(const w_world *w, const w_scene *s, uint8_t *rgb)
{
    char rel[64], path[4096];
    snprintf(rel, sizeof rel, "images/shapes/%lld.png", (long long)s->id);
    frz_status st = w_path(w, rel, path, sizeof path);
    if (st) return st;
    w_scene_render(s, w->cfg->aa, rgb);
    return frz_png_write_rgb(path, rgb, W_SIDE, W_SIDE);
}

frz_status w_make_scenes(w_world *w)
{
    choose_held_out(w);
    w->n_train = (size_t)w->cfg->shape_scenes;
    w->n_val = (size_t)w->cfg->heldout_scenes;
    w->train = frz_calloc(w->n_train + 1, sizeof *w->train, "scenes");
    w->val = frz_calloc(w->n_val + 1, sizeof *w->val, "held-out scenes");
    uint8_t *rgb = frz_malloc((size_t)W_SIDE * W_SIDE * 3, "scene pixels");
    frz_status st = w->train && w->val && rgb ? FRZ_OK : FRZ_ERR_NOMEM;
    char dir[4096];
    if (st == FRZ_OK) st = w_path(w, "images/shapes", dir, sizeof dir);
    if (st == FRZ_OK) st = w_mkdirs(dir);
    frz_rng rng;
    world_rng(&rng, w->cfg->seed, "train scenes");
    for (size_t i = 0; st == FRZ_OK && i < w->n_train; i++) {
        w_scene_draw(&rng, w->held_out, 0, &w->train[i]);
        w->train[i].id = (int64_t)i + 1;
        st = write_scene(w, &w->train[i], rgb);
    }
    world_rng(&rng, w->cfg->seed, "held-out scenes");
    for (size_t i = 0; st == FRZ_OK && i < w->n_val; i++) {
        w_scene_draw(&rng, w->held_out, 1, &w->val[i]);
        w->val[i].id = (int64_t)(w->n_train + i) + 1;
        st = write_scene(w, &w->val[i], rgb);
    }
    free(rgb);
    return st;
}
