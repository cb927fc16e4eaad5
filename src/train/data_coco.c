/* data_coco.c -- COCO captions JSON: images[].id/file_name, annotations[].image_id/caption (see data.h). */
#include "train/data.h"

#include "formats/json_file.h"

#include <stdlib.h>
#include <string.h>

typedef struct coco_image {
    json_int_t id;
    const char *file_name;
    size_t len;
} coco_image;

static int cmp_image(const void *a, const void *b)
{
    const coco_image *x = a, *y = b;
    return (x->id > y->id) - (x->id < y->id);
}

/* A string member of element i of the array `arr`; NUL bytes inside are refused (a C path cannot hold them). */
static frz_status get_string(const json_t *obj, const char *arr, size_t i, const char *key, const char *what,
                             const char **out, size_t *len)
{
    json_t *v = json_object_get(obj, key);
    if (!v) return frz_fail(FRZ_ERR_FORMAT, "%s: %s[%zu].%s is missing", what, arr, i, key);
    if (!json_is_string(v)) return frz_fail(FRZ_ERR_FORMAT, "%s: %s[%zu].%s is not a string", what, arr, i, key);
    *out = json_string_value(v);
    *len = json_string_length(v);
    if (strlen(*out) != *len) return frz_fail(FRZ_ERR_FORMAT, "%s: %s[%zu].%s holds a NUL character", what, arr, i, key);
    return FRZ_OK;
}

static frz_status get_int(const json_t *obj, const char *arr, size_t i, const char *key, const char *what,
                          json_int_t *out)
{
    json_t *v = json_object_get(obj, key);
    if (!v) return frz_fail(FRZ_ERR_FORMAT, "%s: %s[%zu].%s is missing", what, arr, i, key);
    if (!json_is_integer(v)) return frz_fail(FRZ_ERR_FORMAT, "%s: %s[%zu].%s is not an integer", what, arr, i, key);
    *out = json_integer_value(v);
    return FRZ_OK;
}

static frz_status get_array(const json_t *root, const char *key, const char *what, json_t **out)
{
    *out = json_object_get(root, key);
    if (!*out) return frz_fail(FRZ_ERR_FORMAT, "%s: \"%s\" is missing (not a COCO captions file?)", what, key);
    if (!json_is_array(*out)) return frz_fail(FRZ_ERR_FORMAT, "%s: \"%s\" is not a list", what, key);
    return FRZ_OK;
}

static frz_status read_images(const json_t *root, const char *what, coco_image **out, size_t *n_out)
{
    json_t *arr;
    frz_status st = get_array(root, "images", what, &arr);
    if (st != FRZ_OK) return st;
    size_t n = json_array_size(arr);
    coco_image *im = frz_malloc((n ? n : 1) * sizeof *im, "COCO images");
    if (!im) return FRZ_ERR_NOMEM;
    for (size_t i = 0; i < n && st == FRZ_OK; i++) {
        json_t *e = json_array_get(arr, i);
        if (!json_is_object(e)) st = frz_fail(FRZ_ERR_FORMAT, "%s: images[%zu] is not an object", what, i);
        if (st == FRZ_OK) st = get_int(e, "images", i, "id", what, &im[i].id);
        if (st == FRZ_OK) st = get_string(e, "images", i, "file_name", what, &im[i].file_name, &im[i].len);
        if (st == FRZ_OK && im[i].len == 0) st = frz_fail(FRZ_ERR_FORMAT, "%s: images[%zu].file_name is empty", what, i);
    }
    if (st == FRZ_OK) {
        qsort(im, n, sizeof *im, cmp_image);
        for (size_t i = 1; i < n && st == FRZ_OK; i++)
            if (im[i].id == im[i - 1].id)
                st = frz_fail(FRZ_ERR_FORMAT, "%s: two images have id %lld", what, (long long)im[i].id);
    }
    if (st != FRZ_OK) {
        free(im);
        return st;
    }
    *out = im;
    *n_out = n;
    return FRZ_OK;
}

static int is_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

static frz_status read_annotations(const json_t *root, const char *what, const coco_image *im, size_t n_im,
                                   const char *dir, frz_dataset *ds)
{
    json_t *arr;
    frz_status st = get_array(root, "annotations", what, &arr);
    for (size_t i = 0; st == FRZ_OK && i < json_array_size(arr); i++) {
        json_t *e = json_array_get(arr, i);
        json_int_t image_id;
        const char *cap;
        size_t cap_len;
        if (!json_is_object(e)) return frz_fail(FRZ_ERR_FORMAT, "%s: annotations[%zu] is not an object", what, i);
        st = get_int(e, "annotations", i, "image_id", what, &image_id);
        if (st == FRZ_OK) st = get_string(e, "annotations", i, "caption", what, &cap, &cap_len);
        if (st != FRZ_OK) return st;
        while (cap_len > 0 && is_space(cap[0])) cap++, cap_len--;
        while (cap_len > 0 && is_space(cap[cap_len - 1])) cap_len--;
        if (cap_len == 0) return frz_fail(FRZ_ERR_FORMAT, "%s: annotations[%zu].caption is empty", what, i);
        coco_image key = {image_id, NULL, 0};
        const coco_image *img = bsearch(&key, im, n_im, sizeof *im, cmp_image);
        if (!img)
            return frz_fail(FRZ_ERR_FORMAT, "%s: annotations[%zu].image_id %lld names no entry of \"images\"", what, i,
                            (long long)image_id);
        st = frz_dataset_add(ds, dir, img->file_name, img->len, cap, cap_len);
    }
    return st;
}

frz_status frz_dataset_load_coco(const char *path, const char *image_dir, frz_dataset **out)
{
    if (!out) return frz_fail(FRZ_ERR_INVALID_ARG, "COCO dataset: out is NULL");
    *out = NULL;
    if (!path) return frz_fail(FRZ_ERR_INVALID_ARG, "COCO dataset: path is NULL");
    json_t *root = NULL;
    frz_status st = frz_json_load_file(path, &root);
    if (st != FRZ_OK) return st;
    coco_image *im = NULL;
    size_t n_im = 0;
    frz_dataset *ds = NULL;
    char *dir = image_dir ? frz_strdup(image_dir, "image folder") : frz_dir_of(path);
    if (!dir) st = FRZ_ERR_NOMEM;
    if (st == FRZ_OK && !json_is_object(root)) st = frz_fail(FRZ_ERR_FORMAT, "%s: the top level is not an object", path);
    if (st == FRZ_OK) st = read_images(root, path, &im, &n_im);
    if (st == FRZ_OK) st = frz_dataset_new(&ds);
    if (st == FRZ_OK) st = read_annotations(root, path, im, n_im, dir, ds);
    if (st == FRZ_OK && ds->n == 0) st = frz_fail(FRZ_ERR_FORMAT, "%s: \"annotations\" is empty", path);
    free(im);
    free(dir);
    json_decref(root);
    if (st != FRZ_OK) {
        frz_dataset_free(ds);
        return st;
    }
    *out = ds;
    return FRZ_OK;
}
