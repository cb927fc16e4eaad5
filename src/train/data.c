/* data.c -- the dataset container, format detection and the validation split (see data.h). */
#include "train/data.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

frz_status frz_dataset_new(frz_dataset **out)
{
    *out = frz_calloc(1, sizeof **out, "dataset");
    return *out ? FRZ_OK : FRZ_ERR_NOMEM;
}

void frz_dataset_free(frz_dataset *ds)
{
    if (!ds) return;
    free(ds->arena);
    free(ds->path_off);
    free(ds->name_off);
    free(ds->caption_off);
    free(ds);
}

char *frz_dir_of(const char *path)
{
    const char *slash = strrchr(path, '/');
    if (!slash) return frz_strdup(".", "folder name");
    size_t len = slash == path ? 1 : (size_t)(slash - path);
    char *dir = frz_malloc(len + 1, "folder name");
    if (dir) {
        memcpy(dir, path, len);
        dir[len] = '\0';
    }
    return dir;
}

/* Appends len bytes and a NUL to the arena; returns the offset through *off. */
static frz_status arena_put(frz_dataset *ds, const char *a, size_t alen, const char *b, size_t blen, size_t *off)
{
    size_t need = ds->arena_len + alen + blen + 1;
    if (need > ds->arena_cap) {
        size_t cap = ds->arena_cap ? ds->arena_cap : 4096;
        while (cap < need) cap *= 2;
        char *bigger = frz_realloc(ds->arena, cap, "dataset strings");
        if (!bigger) return FRZ_ERR_NOMEM;
        ds->arena = bigger;
        ds->arena_cap = cap;
    }
    *off = ds->arena_len;
    memcpy(ds->arena + ds->arena_len, a, alen);
    memcpy(ds->arena + ds->arena_len + alen, b, blen);
    ds->arena_len = need;
    ds->arena[need - 1] = '\0';
    return FRZ_OK;
}

frz_status frz_dataset_add(frz_dataset *ds, const char *dir, const char *path, size_t path_len, const char *caption,
                           size_t caption_len)
{
    if (ds->n == ds->cap) {
        size_t cap = ds->cap ? ds->cap * 2 : 1024;
        size_t *p = frz_realloc(ds->path_off, cap * sizeof *p, "dataset index");
        if (!p) return FRZ_ERR_NOMEM;
        ds->path_off = p;
        size_t *c = frz_realloc(ds->caption_off, cap * sizeof *c, "dataset index");
        if (!c) return FRZ_ERR_NOMEM;
        ds->caption_off = c;
        size_t *m = frz_realloc(ds->name_off, cap * sizeof *m, "dataset index");
        if (!m) return FRZ_ERR_NOMEM;
        ds->name_off = m;
        ds->cap = cap;
    }
    size_t poff, coff, noff;
    frz_status st;
    if (dir && dir[0] && path[0] != '/') {
        /* "dir/" + path, built in the arena: the directory part first, then the path appended in place. */
        size_t dlen = strlen(dir);
        int slash = dir[dlen - 1] != '/';
        st = arena_put(ds, dir, dlen, "/", (size_t)slash, &poff);
        if (st == FRZ_OK) {
            ds->arena_len--; /* overwrite the NUL with the path */
            st = arena_put(ds, path, path_len, "", 0, &noff);
        }
    } else {
        st = arena_put(ds, path, path_len, "", 0, &poff);
        noff = poff;
    }
    if (st == FRZ_OK) st = arena_put(ds, caption, caption_len, "", 0, &coff);
    if (st != FRZ_OK) return st;
    ds->path_off[ds->n] = poff;
    ds->name_off[ds->n] = noff;
    ds->caption_off[ds->n] = coff;
    ds->n++;
    return FRZ_OK;
}

frz_status frz_dataset_load(const char *path, const char *image_dir, frz_dataset **out)
{
    if (!out) return frz_fail(FRZ_ERR_INVALID_ARG, "dataset: out is NULL");
    *out = NULL;
    if (!path) return frz_fail(FRZ_ERR_INVALID_ARG, "dataset: path is NULL");
    FILE *f = fopen(path, "rb");
    if (!f) return frz_fail(FRZ_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    int c;
    while ((c = fgetc(f)) != EOF && (c == ' ' || c == '\t' || c == '\r' || c == '\n')) {
    }
    fclose(f);
    return c == '{' ? frz_dataset_load_coco(path, image_dir, out) : frz_dataset_load_tsv(path, out);
}

/* ---- the split ----------------------------------------------------------------------------------------------- */

/* FNV-1a over the path, then mixed with the seed (splitmix64's finaliser): a stable, platform-independent key. */
static uint64_t path_key(const char *s, uint64_t seed)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 0x100000001b3ull;
    uint64_t z = h ^ (seed + 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

typedef struct keyed {
    uint64_t key;
    const char *path;
    int32_t index;
} keyed;

static int cmp_keyed(const void *a, const void *b)
{
    const keyed *x = a, *y = b;
    if (x->key != y->key) return x->key < y->key ? -1 : 1;
    int c = strcmp(x->path, y->path);
    if (c) return c;
    return (x->index > y->index) - (x->index < y->index);
}

frz_status frz_dataset_split(const frz_dataset *ds, double val_fraction, uint64_t seed, int32_t **train,
                             size_t *n_train, int32_t **val, size_t *n_val)
{
    *train = *val = NULL;
    *n_train = *n_val = 0;
    if (!(val_fraction >= 0.0 && val_fraction <= 0.5))
        return frz_fail(FRZ_ERR_INVALID_ARG, "validation fraction %g is outside 0..0.5", val_fraction);
    if (ds->n > INT32_MAX) return frz_fail(FRZ_ERR_INVALID_ARG, "dataset has %zu examples, over 2^31", ds->n);
    keyed *k = frz_malloc(ds->n * sizeof *k, "dataset split");
    char *is_val = frz_calloc(ds->n, 1, "dataset split");
    frz_status st = k && is_val ? FRZ_OK : FRZ_ERR_NOMEM;
    if (st == FRZ_OK) {
        for (size_t i = 0; i < ds->n; i++) {
            k[i].path = frz_dataset_name(ds, i);
            k[i].key = path_key(k[i].path, seed);
            k[i].index = (int32_t)i;
        }
        /* Sorted by (key, path), the examples of one image are adjacent: count images, take the first ones. */
        qsort(k, ds->n, sizeof *k, cmp_keyed);
        size_t n_img = 0;
        for (size_t i = 0; i < ds->n; i++)
            if (i == 0 || strcmp(k[i].path, k[i - 1].path) != 0) n_img++;
        size_t want = (size_t)llround(val_fraction * (double)n_img);
        if (want == 0 && val_fraction > 0 && n_img >= 2) want = 1;
        if (want >= n_img && n_img > 0) want = n_img - 1; /* always keep something to train on */
        size_t img = 0;
        for (size_t i = 0; i < ds->n; i++) {
            if (i > 0 && strcmp(k[i].path, k[i - 1].path) != 0) img++;
            if (img >= want) break;
            is_val[k[i].index] = 1;
            (*n_val)++;
        }
        *n_train = ds->n - *n_val;
        *train = frz_malloc((*n_train ? *n_train : 1) * sizeof **train, "training split");
        *val = *n_val ? frz_malloc(*n_val * sizeof **val, "validation split") : NULL;
        if (!*train || (*n_val && !*val)) st = FRZ_ERR_NOMEM;
    }
    if (st == FRZ_OK) {
        size_t t = 0, v = 0;
        for (size_t i = 0; i < ds->n; i++) {
            if (is_val[i])
                (*val)[v++] = (int32_t)i;
            else
                (*train)[t++] = (int32_t)i;
        }
    } else {
        free(*train);
        free(*val);
        *train = *val = NULL;
        *n_train = *n_val = 0;
    }
    free(k);
    free(is_val);
    return st;
}
