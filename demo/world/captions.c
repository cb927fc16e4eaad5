/* captions.c -- captions_train.tsv (train-combo scenes and the fashion subset, shuffled together) and
 * captions_val_heldout.tsv (the held-out scenes), "path TAB caption" with paths relative to the world folder. */
#include "world.h"

#include <stdlib.h>

static frz_status write_val(const w_world *w)
{
    char path[4096], cap[128];
    FILE *f = NULL;
    frz_status st = w_path(w, "captions_val_heldout.tsv", path, sizeof path);
    if (st == FRZ_OK) st = w_open(path, &f);
    if (st) return st;
    for (size_t i = 0; i < w->n_val; i++) {
        w_scene_caption(&w->val[i], cap, sizeof cap);
        fprintf(f, "images/shapes/%lld.png\t%s\n", (long long)w->val[i].id, cap);
    }
    return w_close(path, f);
}

frz_status w_write_captions(const w_world *w)
{
    /* order: entries i < n_train are scenes, the rest fashion images */
    const size_t n = w->n_train + w->n_ftrain;
    int *order = frz_malloc(n * sizeof *order + 1, "caption order");
    if (!order) return FRZ_ERR_NOMEM;
    for (size_t i = 0; i < n; i++) order[i] = (int)i;
    frz_rng rng;
    world_rng(&rng, w->cfg->seed, "captions");
    w_shuffle(&rng, order, n);
    char path[4096], cap[128];
    FILE *f = NULL;
    frz_status st = w_path(w, "captions_train.tsv", path, sizeof path);
    if (st == FRZ_OK) st = w_open(path, &f);
    for (size_t k = 0; st == FRZ_OK && k < n; k++) {
        size_t i = (size_t)order[k];
        if (i < w->n_train) {
            w_scene_caption(&w->train[i], cap, sizeof cap);
            fprintf(f, "images/shapes/%lld.png\t%s\n", (long long)w->train[i].id, cap);
        } else {
            int idx = w->ftrain[i - w->n_train];
            w_fashion_caption(w->train_labels[idx], cap, sizeof cap);
            fprintf(f, "images/fashion/%d.png\t%s\n", idx + 1, cap);
        }
    }
    if (f) {
        frz_status cs = w_close(path, f);
        if (st == FRZ_OK) st = cs;
    }
    free(order);
    return st == FRZ_OK ? write_val(w) : st;
}
