/* fashion.c -- the Fashion-MNIST images the world uses: a class-balanced random subset of the training split
 * (captioned for Frozen's training) and a pool of test images per class (binding episodes, knowledge questions),
 * written as 28 x 28 gray PNGs named by id (train index + 1; W_FASHION_TEST_ID + test index). */
#include "world.h"
#include "train/plot.h"

#include <stdlib.h>
#include <string.h>

/* k indices of class c in labels[0..n), drawn at random without replacement, appended to out. */
static frz_status pick_class(frz_rng *rng, const uint8_t *labels, size_t n, int c, size_t k, int *out,
                             const char *split)
{
    int *all = frz_malloc(n * sizeof *all + 1, "class indices");
    if (!all) return FRZ_ERR_NOMEM;
    size_t m = 0;
    for (size_t i = 0; i < n; i++)
        if (labels[i] == c) all[m++] = (int)i;
    frz_status st = FRZ_OK;
    if (m < k) {
        st = frz_fail(FRZ_ERR_INVALID_ARG, "Fashion-MNIST %s: %zu images of class %s wanted, it has %zu", split, k,
                      w_class[c], m);
    } else {
        for (size_t i = 0; i < k; i++) { /* partial Fisher-Yates */
            size_t j = i + w_below(rng, (uint32_t)(m - i));
            int t = all[i];
            all[i] = all[j];
            all[j] = t;
            out[i] = all[i];
        }
    }
    free(all);
    return st;
}

static frz_status write_image(const w_world *w, const uint8_t *px, long long id)
{
    char rel[64], path[4096];
    snprintf(rel, sizeof rel, "images/fashion/%lld.png", id);
    frz_status st = w_path(w, rel, path, sizeof path);
    return st ? st : frz_png_write(path, px, FMNIST_SIDE, FMNIST_SIDE, 1);
}

frz_status w_make_fashion(w_world *w)
{
    const w_config *cfg = w->cfg;
    const size_t px = (size_t)FMNIST_SIDE * FMNIST_SIDE;
    fmnist_split tr = {0}, te = {0};
    char dir[4096];
    frz_status st = w_path(w, "images/fashion", dir, sizeof dir);
    if (st == FRZ_OK) st = w_mkdirs(dir);
    if (st == FRZ_OK) st = fmnist_load(cfg->fashion_dir, "train", &tr);
    if (st == FRZ_OK) st = fmnist_load(cfg->fashion_dir, "t10k", &te);

    /* training subset: as even as possible over the classes, then shuffled together */
    w->n_ftrain = (size_t)cfg->fashion_train;
    w->ftrain = frz_malloc(w->n_ftrain * sizeof *w->ftrain + 1, "fashion subset");
    if (st == FRZ_OK && !w->ftrain) st = FRZ_ERR_NOMEM;
    frz_rng rng;
    world_rng(&rng, cfg->seed, "fashion train");
    size_t at = 0;
    for (int c = 0; st == FRZ_OK && c < W_CLASSES; c++) {
        size_t k = w->n_ftrain / W_CLASSES + ((size_t)c < w->n_ftrain % W_CLASSES);
        st = pick_class(&rng, tr.labels, tr.n, c, k, w->ftrain + at, "train");
        at += k;
    }
    if (st == FRZ_OK) w_shuffle(&rng, w->ftrain, w->n_ftrain);
    for (size_t i = 0; st == FRZ_OK && i < w->n_ftrain; i++)
        st = write_image(w, tr.images + (size_t)w->ftrain[i] * px, (long long)w->ftrain[i] + 1);

    /* test pool */
    w->n_pool = (size_t)cfg->fashion_pool;
    world_rng(&rng, cfg->seed, "fashion test");
    for (int c = 0; st == FRZ_OK && c < W_CLASSES; c++) {
        w->pool[c] = frz_malloc(w->n_pool * sizeof *w->pool[c] + 1, "fashion pool");
        if (!w->pool[c]) st = FRZ_ERR_NOMEM;
        if (st == FRZ_OK) st = pick_class(&rng, te.labels, te.n, c, w->n_pool, w->pool[c], "test");
        for (size_t i = 0; st == FRZ_OK && i < w->n_pool; i++)
            st = write_image(w, te.images + (size_t)w->pool[c][i] * px, W_FASHION_TEST_ID + (long long)w->pool[c][i]);
    }
    if (st == FRZ_OK) {
        /* the labels stay (images found by id in probes); the pixels go */
        w->train_labels = tr.labels, w->n_train_labels = tr.n, tr.labels = NULL;
        w->test_labels = te.labels, w->n_test = te.n, te.labels = NULL;
    }
    fmnist_free(&tr);
    fmnist_free(&te);
    return st;
}
