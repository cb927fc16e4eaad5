/* safetensors.c -- a set of tensors from mapped files: open, close, lookup by name, f32 access. */
#include "formats/st_internal.h"
#include "core/file.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

frz_status frz_st_set_new(const char *what, size_t n_files, frz_st_set **out)
{
    *out = NULL;
    frz_st_set *set = frz_calloc(1, sizeof *set, "tensor set");
    if (!set) return FRZ_ERR_NOMEM;
    set->what = frz_strdup(what, "tensor set name");
    set->files = set->what ? frz_calloc(n_files, sizeof *set->files, "tensor set files") : NULL;
    if (!set->files) {
        frz_st_close(set);
        return FRZ_ERR_NOMEM;
    }
    set->n_files = n_files;
    *out = set;
    return FRZ_OK;
}

void frz_st_close(frz_st_set *set)
{
    if (!set) return;
    for (size_t i = 0; i < set->n_files; i++) {
        st_file *f = &set->files[i];
        frz_unmap_file(f->map, f->size);
        json_decref(f->meta);
        free(f->names);
        free(f->path);
    }
    free(set->files);
    free(set->tensors);
    free(set->what);
    free(set);
}

static int by_name(const void *a, const void *b)
{
    return strcmp(((const frz_st_tensor *)a)->name, ((const frz_st_tensor *)b)->name);
}

frz_status frz_st_finish(frz_st_set *set)
{
    qsort(set->tensors, set->n_tensors, sizeof *set->tensors, by_name);
    for (size_t i = 1; i < set->n_tensors; i++) {
        const frz_st_tensor *p = &set->tensors[i - 1], *q = &set->tensors[i];
        if (strcmp(p->name, q->name) == 0)
            return frz_fail(FRZ_ERR_FORMAT, "%s: tensor '%s' is in two files: %s (byte %zu) and %s (byte %zu)",
                            set->what, p->name, p->file, p->file_offset, q->file, q->file_offset);
    }
    return FRZ_OK;
}

frz_status frz_st_open_file(const char *path, frz_st_set **out)
{
    *out = NULL;
    frz_st_set *set;
    frz_status st = frz_st_set_new(path, 1, &set);
    if (st == FRZ_OK) st = frz_st_load_file(set, 0, path);
    if (st == FRZ_OK) st = frz_st_finish(set);
    if (st != FRZ_OK) {
        frz_st_close(set);
        return st;
    }
    *out = set;
    return FRZ_OK;
}

size_t frz_st_count(const frz_st_set *set) { return set ? set->n_tensors : 0; }

const frz_st_tensor *frz_st_at(const frz_st_set *set, size_t i)
{
    return set && i < set->n_tensors ? &set->tensors[i] : NULL;
}

const frz_st_tensor *frz_st_find(const frz_st_set *set, const char *name)
{
    if (!set || !name) return NULL;
    frz_st_tensor key;
    key.name = name;
    return bsearch(&key, set->tensors, set->n_tensors, sizeof key, by_name);
}

const char *frz_st_metadata(const frz_st_set *set, const char *key)
{
    if (!set || set->n_files == 0 || !key) return NULL;
    return json_string_value(json_object_get(set->files[0].meta, key));
}

/* "[768, 2304]" into buf. */
static void format_shape(int ndim, const int64_t *shape, char *buf, size_t cap)
{
    size_t at = (size_t)snprintf(buf, cap, "[");
    for (int d = 0; d < ndim && at < cap; d++)
        at += (size_t)snprintf(buf + at, cap - at, "%s%lld", d ? ", " : "", (long long)shape[d]);
    if (at < cap) snprintf(buf + at, cap - at, "]");
}

frz_status frz_st_get_f32(const frz_st_set *set, const char *name, int ndim, const int64_t *shape,
                          const float **out, float **owned)
{
    *out = NULL;
    *owned = NULL;
    if (!set || !name || ndim < 0 || ndim > FRZ_ST_MAX_DIMS || (ndim > 0 && !shape))
        return frz_fail(FRZ_ERR_INVALID_ARG, "frz_st_get_f32: bad arguments for tensor '%s'", name ? name : "(null)");
    const frz_st_tensor *t = frz_st_find(set, name);
    if (!t) return frz_fail(FRZ_ERR_FORMAT, "%s: tensor '%s' is missing", set->what, name);

    int same = t->ndim == ndim;
    for (int d = 0; same && d < ndim; d++) same = t->shape[d] == shape[d];
    if (!same) {
        char have[256], want[256];
        format_shape(t->ndim, t->shape, have, sizeof have);
        format_shape(ndim, shape, want, sizeof want);
        return frz_fail(FRZ_ERR_SHAPE, "%s: tensor '%s' has shape %s, expected %s", t->file, name, have, want);
    }
    if (t->dtype != FRZ_DT_F32 && t->dtype != FRZ_DT_F16 && t->dtype != FRZ_DT_BF16)
        return frz_fail(FRZ_ERR_UNSUPPORTED, "%s: tensor '%s' has dtype %s; F32, F16 or BF16 is needed", t->file, name,
                        frz_dtype_name(t->dtype));

    size_t numel = t->nbytes / frz_dtype_size(t->dtype);
    if (t->dtype == FRZ_DT_F32 && (uintptr_t)t->data % _Alignof(float) == 0) {
        *out = t->data;  /* in place: the mapping is read-only and lives as long as the set */
        return FRZ_OK;
    }
    float *buf = frz_malloc(numel * sizeof *buf, name);  /* numel * 4 <= 2 * nbytes: no overflow */
    if (!buf) return FRZ_ERR_NOMEM;
    if (t->dtype == FRZ_DT_F32) memcpy(buf, t->data, t->nbytes);
    else if (t->dtype == FRZ_DT_F16) frz_f16_to_f32_array(t->data, buf, numel);
    else frz_bf16_to_f32_array(t->data, buf, numel);
    *out = buf;
    *owned = buf;
    return FRZ_OK;
}
