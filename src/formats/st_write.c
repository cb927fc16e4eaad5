/* st_write.c -- writes a .safetensors file the way the Python library does, atomically.
 *
 * The Python (Rust) writer orders tensors by decreasing dtype size, then by name, lays their data out in that
 * order, puts "__metadata__" first in the compact header JSON and pads the header with spaces to a multiple of
 * 8 bytes. With 8-byte-aligned data and sizes decreasing, every tensor starts aligned to its element size, so
 * readers can use F32 data in place. */
#include "formats/safetensors.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static size_t numel_of(const frz_st_write_tensor *t)
{
    size_t n = 1;
    for (int d = 0; d < t->ndim; d++) n *= (size_t)t->shape[d];
    return n;
}

/* Checks one tensor's description; *nbytes receives its data size. */
static frz_status check_tensor(const char *path, const frz_st_write_tensor *t, size_t *nbytes)
{
    const char *name = t->name ? t->name : "(null)";
    if (!t->name || !t->name[0] || strcmp(t->name, "__metadata__") == 0)
        return frz_fail(FRZ_ERR_INVALID_ARG, "%s: tensor name '%s' is not allowed", path, name);
    if (frz_dtype_size(t->dtype) == 0)
        return frz_fail(FRZ_ERR_INVALID_ARG, "%s: tensor '%s': invalid dtype %d", path, name, (int)t->dtype);
    if (t->ndim < 0 || t->ndim > FRZ_ST_MAX_DIMS)
        return frz_fail(FRZ_ERR_INVALID_ARG, "%s: tensor '%s': ndim %d is outside [0, %d]", path, name, t->ndim,
                        FRZ_ST_MAX_DIMS);
    size_t n = 1;
    for (int d = 0; d < t->ndim; d++) {
        if (t->shape[d] < 0 || (uint64_t)t->shape[d] > SIZE_MAX || !frz_mul_size(n, (size_t)t->shape[d], &n))
            return frz_fail(FRZ_ERR_INVALID_ARG, "%s: tensor '%s': shape[%d] = %lld is negative or too large", path,
                            name, d, (long long)t->shape[d]);
    }
    if (!frz_mul_size(n, frz_dtype_size(t->dtype), nbytes))
        return frz_fail(FRZ_ERR_INVALID_ARG, "%s: tensor '%s' is too large", path, name);
    if (*nbytes > 0 && !t->data) return frz_fail(FRZ_ERR_INVALID_ARG, "%s: tensor '%s' has no data", path, name);
    return FRZ_OK;
}

static int by_name(const void *a, const void *b)
{
    return strcmp((*(const frz_st_write_tensor *const *)a)->name, (*(const frz_st_write_tensor *const *)b)->name);
}

static int by_size_then_name(const void *a, const void *b)
{
    const frz_st_write_tensor *x = *(const frz_st_write_tensor *const *)a, *y = *(const frz_st_write_tensor *const *)b;
    size_t sx = frz_dtype_size(x->dtype), sy = frz_dtype_size(y->dtype);
    if (sx != sy) return sx > sy ? -1 : 1;
    return strcmp(x->name, y->name);
}

static int by_key(const void *a, const void *b) { return strcmp(**(const char *const *const *)a, **(const char *const *const *)b); }

/* The header object: "__metadata__" (keys sorted) then the tensors in `order`, whose data follows in that order.
 * Jansson keeps insertion order when dumping. */
static frz_status build_header(const char *path, const frz_st_write_tensor *const *order, size_t n,
                               const char *const *meta_kv, size_t n_meta, json_t **out)
{
    *out = NULL;
    json_t *root = json_object();
    if (!root) return frz_fail(FRZ_ERR_NOMEM, "%s: out of memory building the header", path);
    frz_status st = FRZ_OK;
    if (n_meta > 0) {
        const char *const **keys = frz_malloc(n_meta * sizeof *keys, "metadata keys");
        json_t *meta = keys ? json_object() : NULL;
        if (!keys) st = FRZ_ERR_NOMEM;
        else if (!meta || json_object_set_new(root, "__metadata__", meta) != 0)
            st = frz_fail(FRZ_ERR_NOMEM, "%s: out of memory building the header", path);
        for (size_t i = 0; st == FRZ_OK && i < n_meta; i++) keys[i] = &meta_kv[2 * i];
        if (st == FRZ_OK) qsort(keys, n_meta, sizeof *keys, by_key);
        for (size_t i = 0; st == FRZ_OK && i < n_meta; i++) {
            const char *k = keys[i][0], *v = keys[i][1];
            if (!k || !v || json_object_get(meta, k))
                st = frz_fail(FRZ_ERR_INVALID_ARG, "%s: metadata key '%s' is NULL, has a NULL value or is repeated",
                              path, k ? k : "(null)");
            else if (json_object_set_new(meta, k, json_string(v)) != 0)
                st = frz_fail(FRZ_ERR_INVALID_ARG, "%s: metadata '%s' is not valid UTF-8 (or out of memory)", path, k);
        }
        free(keys);
    }
    size_t offset = 0;
    for (size_t i = 0; st == FRZ_OK && i < n; i++) {
        const frz_st_write_tensor *t = order[i];
        size_t nbytes = numel_of(t) * frz_dtype_size(t->dtype);
        json_t *shape = json_array();
        for (int d = 0; shape && d < t->ndim; d++)
            if (json_array_append_new(shape, json_integer(t->shape[d])) != 0) {
                json_decref(shape);
                shape = NULL;
            }
        json_t *e = shape ? json_pack("{s:s, s:o, s:[I,I]}", "dtype", frz_dtype_name(t->dtype), "shape", shape,
                                      "data_offsets", (json_int_t)offset, (json_int_t)(offset + nbytes))
                          : NULL;
        if (!e || json_object_set_new(root, t->name, e) != 0)
            st = frz_fail(FRZ_ERR_INVALID_ARG, "%s: tensor name '%s' is not valid UTF-8 (or out of memory)", path,
                          t->name);
        offset += nbytes;
    }
    if (st != FRZ_OK) {
        json_decref(root);
        return st;
    }
    *out = root;
    return FRZ_OK;
}

/* Writes the file body to f. */
static int write_body(FILE *f, const char *header, size_t len, size_t padded,
                      const frz_st_write_tensor *const *order, size_t n)
{
    unsigned char le[8];
    for (int k = 0; k < 8; k++) le[k] = (unsigned char)((uint64_t)padded >> (8 * k));
    if (fwrite(le, 1, 8, f) != 8 || fwrite(header, 1, len, f) != len) return 0;
    for (size_t i = len; i < padded; i++)
        if (fputc(' ', f) == EOF) return 0;
    for (size_t i = 0; i < n; i++) {
        size_t nbytes = numel_of(order[i]) * frz_dtype_size(order[i]->dtype);
        if (nbytes && fwrite(order[i]->data, 1, nbytes, f) != nbytes) return 0;
    }
    return 1;
}

/* The directory holding path ("." or "/" at the extremes), in a new string. */
static char *dir_of(const char *path)
{
    const char *slash = strrchr(path, '/');
    size_t len = !slash ? 1 : slash == path ? 1 : (size_t)(slash - path);
    char *dir = frz_malloc(len + 1, "directory name");
    if (dir) {
        memcpy(dir, slash ? path : ".", len);
        dir[len] = '\0';
    }
    return dir;
}

/* fsync of the directory, so a rename in it survives a crash. */
static frz_status sync_dir(const char *path, const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    int ok = fd >= 0 && (fsync(fd) == 0 || errno == EINVAL);  /* some file systems cannot sync directories */
    int e = errno;
    if (fd >= 0) close(fd);
    return ok ? FRZ_OK : frz_fail(FRZ_ERR_IO, "%s: cannot sync directory %s: %s", path, dir, strerror(e));
}

/* Writes header and data to a temporary file beside path and renames it over path. Everything that can run
 * out of memory happens before the file is created, so a failure never leaves a file behind. */
static frz_status write_atomically(const char *path, const char *header, size_t len,
                                   const frz_st_write_tensor *const *order, size_t n)
{
    size_t tmp_cap = strlen(path) + 32;
    char *tmp = frz_malloc(tmp_cap, "temporary file name");
    char *dir = tmp ? dir_of(path) : NULL;
    if (!dir) {
        free(tmp);
        return FRZ_ERR_NOMEM;
    }
    snprintf(tmp, tmp_cap, "%s.tmp.%ld", path, (long)getpid());

    frz_status st = FRZ_OK;
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    FILE *f = fd >= 0 ? fdopen(fd, "wb") : NULL;
    if (!f) {
        st = frz_fail(FRZ_ERR_IO, "%s: cannot create %s: %s", path, tmp, strerror(errno));
        if (fd >= 0) {
            close(fd);
            unlink(tmp);
        }
        free(tmp);
        free(dir);
        return st;
    }
    size_t padded = (len + 7) / 8 * 8;
    int ok = write_body(f, header, len, padded, order, n) && fflush(f) == 0 && fsync(fileno(f)) == 0;
    int e = errno;
    if (fclose(f) != 0 && ok) {
        ok = 0;
        e = errno;
    }
    if (!ok) st = frz_fail(FRZ_ERR_IO, "%s: cannot write %s: %s", path, tmp, strerror(e));
    else if (rename(tmp, path) != 0) st = frz_fail(FRZ_ERR_IO, "%s: cannot rename %s to it: %s", path, tmp, strerror(errno));
    else st = sync_dir(path, dir);
    if (st != FRZ_OK) unlink(tmp);  /* after a successful rename this finds nothing */
    free(tmp);
    free(dir);
    return st;
}

frz_status frz_st_write_file(const char *path, const frz_st_write_tensor *tensors, size_t n_tensors,
                             const char *const *meta_kv, size_t n_meta)
{
    if (!path || (n_tensors > 0 && !tensors) || (n_meta > 0 && !meta_kv))
        return frz_fail(FRZ_ERR_INVALID_ARG, "frz_st_write_file: NULL path, tensors or metadata");
    for (size_t i = 0; i < n_tensors; i++) {
        size_t nbytes;
        frz_status st = check_tensor(path, &tensors[i], &nbytes);
        if (st != FRZ_OK) return st;
    }
    const frz_st_write_tensor **order = frz_malloc(n_tensors * sizeof *order, "tensor order");
    if (!order) return FRZ_ERR_NOMEM;
    for (size_t i = 0; i < n_tensors; i++) order[i] = &tensors[i];
    qsort(order, n_tensors, sizeof *order, by_name);
    for (size_t i = 1; i < n_tensors; i++)
        if (strcmp(order[i - 1]->name, order[i]->name) == 0) {
            frz_status st = frz_fail(FRZ_ERR_INVALID_ARG, "%s: tensor name '%s' is repeated", path, order[i]->name);
            free(order);
            return st;
        }
    qsort(order, n_tensors, sizeof *order, by_size_then_name);

    json_t *root;
    frz_status st = build_header(path, order, n_tensors, meta_kv, n_meta, &root);
    char *header = NULL;
    if (st == FRZ_OK) {
        header = json_dumps(root, JSON_COMPACT);
        json_decref(root);
        if (!header) st = frz_fail(FRZ_ERR_NOMEM, "%s: out of memory serialising the header", path);
    }
    if (st == FRZ_OK) st = write_atomically(path, header, strlen(header), order, n_tensors);
    free(header);
    free(order);
    return st;
}
