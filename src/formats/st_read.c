/* st_read.c -- maps one .safetensors file and validates its header before any tensor is used.
 *
 * Layout: u64 little-endian N | N bytes of JSON | data block. Offsets in the JSON are relative to the data
 * block; messages give absolute file offsets (8 + N + offset) so a hex dump finds the byte. */
#include "formats/st_internal.h"
#include "core/file.h"
#include "formats/json_file.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "safetensors data is little-endian and is used in place; big-endian hosts are not supported"
#endif

/* Maps the whole file; a safetensors file has at least its 8-byte header length. */
static frz_status map_file(st_file *f)
{
    const void *p;
    size_t size;
    frz_status s = frz_map_file(f->path, &p, &size);
    if (s != FRZ_OK) return s;
    if (size < 8) {
        frz_unmap_file(p, size);
        return frz_fail(FRZ_ERR_FORMAT, "%s: file is %zu bytes, too short for the 8-byte header length", f->path,
                        size);
    }
    f->map = p;
    f->size = size;
    return FRZ_OK;
}

/* A non-negative JSON integer, or -1. */
static int64_t nonneg_int(const json_t *v)
{
    if (!json_is_integer(v) || json_integer_value(v) < 0) return -1;
    return (int64_t)json_integer_value(v);
}

/* Fills t from the header entry `e` of tensor `name`. data_start is the absolute offset of the data block,
 * data_len its length. */
static frz_status parse_entry(const st_file *f, size_t data_start, size_t data_len, const char *name,
                              const json_t *e, frz_st_tensor *t)
{
    const char *path = f->path;
    if (!json_is_object(e)) return frz_fail(FRZ_ERR_FORMAT, "%s: tensor '%s': header entry is not an object", path, name);

    const json_t *jd = json_object_get(e, "dtype");
    if (!json_is_string(jd)) return frz_fail(FRZ_ERR_FORMAT, "%s: tensor '%s': \"dtype\" is missing or not a string", path, name);
    if (!frz_dtype_from_name(json_string_value(jd), &t->dtype))
        return frz_fail(FRZ_ERR_UNSUPPORTED,
                        "%s: tensor '%s' has dtype %.32s, which is not supported (F32 F16 BF16 F64 I64 I32 I16 I8 "
                        "U8 BOOL are)", path, name, json_string_value(jd));

    const json_t *js = json_object_get(e, "shape");
    if (!json_is_array(js)) return frz_fail(FRZ_ERR_FORMAT, "%s: tensor '%s': \"shape\" is missing or not a list", path, name);
    if (json_array_size(js) > FRZ_ST_MAX_DIMS)
        return frz_fail(FRZ_ERR_UNSUPPORTED, "%s: tensor '%s' has %zu dimensions, more than the %d supported", path,
                        name, json_array_size(js), FRZ_ST_MAX_DIMS);
    t->ndim = (int)json_array_size(js);
    size_t numel = 1;
    for (int d = 0; d < t->ndim; d++) {
        int64_t n = nonneg_int(json_array_get(js, (size_t)d));
        if (n < 0) return frz_fail(FRZ_ERR_FORMAT, "%s: tensor '%s': shape[%d] is not a non-negative integer", path, name, d);
        t->shape[d] = n;
        if ((uint64_t)n > SIZE_MAX || !frz_mul_size(numel, (size_t)n, &numel))
            return frz_fail(FRZ_ERR_FORMAT, "%s: tensor '%s': element count overflows at shape[%d]", path, name, d);
    }
    size_t nbytes;
    if (!frz_mul_size(numel, frz_dtype_size(t->dtype), &nbytes))
        return frz_fail(FRZ_ERR_FORMAT, "%s: tensor '%s': byte size of %zu elements overflows", path, name, numel);

    const json_t *jo = json_object_get(e, "data_offsets");
    int64_t b = json_array_size(jo) == 2 ? nonneg_int(json_array_get(jo, 0)) : -1;
    int64_t end = json_array_size(jo) == 2 ? nonneg_int(json_array_get(jo, 1)) : -1;
    if (!json_is_array(jo) || b < 0 || end < 0)
        return frz_fail(FRZ_ERR_FORMAT, "%s: tensor '%s': \"data_offsets\" must be a list of two non-negative integers",
                        path, name);
    /* Absolute offsets for messages; data_start < 2^27 and b, end < 2^63, so these cannot wrap. */
    uint64_t ab = (uint64_t)data_start + (uint64_t)b, ae = (uint64_t)data_start + (uint64_t)end;
    if (b > end)
        return frz_fail(FRZ_ERR_FORMAT, "%s: tensor '%s': data_offsets [%" PRId64 ", %" PRId64 "] (file bytes %" PRIu64
                        "..%" PRIu64 ") end before they begin", path, name, b, end, ab, ae);
    if ((uint64_t)end > data_len)
        return frz_fail(FRZ_ERR_FORMAT, "%s: tensor '%s': data_offsets [%" PRId64 ", %" PRId64 "] (file bytes %" PRIu64
                        "..%" PRIu64 ") run past the end of the file (%zu bytes)", path, name, b, end, ab, ae, f->size);
    if ((uint64_t)(end - b) != nbytes)
        return frz_fail(FRZ_ERR_FORMAT, "%s: tensor '%s': data_offsets [%" PRId64 ", %" PRId64 "] (file bytes %" PRIu64
                        "..%" PRIu64 ") hold %" PRId64 " bytes, but %s of %zu elements needs %zu", path, name, b, end,
                        ab, ae, end - b, frz_dtype_name(t->dtype), numel, nbytes);
    t->data = f->map + ab;
    t->nbytes = nbytes;
    t->file = f->path;
    t->file_offset = (size_t)ab;
    return FRZ_OK;
}

static int by_offset(const void *a, const void *b)
{
    const frz_st_tensor *x = a, *y = b;
    if (x->file_offset != y->file_offset) return x->file_offset < y->file_offset ? -1 : 1;
    return (x->nbytes > y->nbytes) - (x->nbytes < y->nbytes);
}

/* No byte may belong to two tensors: sorted by offset, each must start at or after the previous one's end.
 * (Gaps are allowed; the Python writer leaves none, but they are harmless.) */
static frz_status check_overlaps(const char *path, frz_st_tensor *t, size_t n)
{
    qsort(t, n, sizeof *t, by_offset);
    for (size_t i = 1; i < n; i++) {
        const frz_st_tensor *p = &t[i - 1], *q = &t[i];
        if (q->file_offset < p->file_offset + p->nbytes)
            return frz_fail(FRZ_ERR_FORMAT,
                            "%s: tensors '%s' (file bytes %zu..%zu) and '%s' (file bytes %zu..%zu) overlap", path,
                            p->name, p->file_offset, p->file_offset + p->nbytes, q->name, q->file_offset,
                            q->file_offset + q->nbytes);
    }
    return FRZ_OK;
}

static frz_status check_metadata(const char *path, const json_t *meta)
{
    if (!json_is_object(meta)) return frz_fail(FRZ_ERR_FORMAT, "%s: \"__metadata__\" is not an object", path);
    const char *k;
    const json_t *v;
    json_object_foreach((json_t *)meta, k, v) {
        if (!json_is_string(v))
            return frz_fail(FRZ_ERR_FORMAT, "%s: \"__metadata__\" value of '%s' is not a string", path, k);
    }
    return FRZ_OK;
}

/* Validates the parsed header and appends its tensors to the set. */
static frz_status load_header(frz_st_set *set, st_file *f, size_t data_start, json_t *root)
{
    if (!json_is_object(root)) return frz_fail(FRZ_ERR_FORMAT, "%s: header (byte 8) is not a JSON object", f->path);
    const json_t *meta = json_object_get(root, "__metadata__");
    size_t n = json_object_size(root) - (meta != NULL);
    if (meta) {
        frz_status st = check_metadata(f->path, meta);
        if (st != FRZ_OK) return st;
    }

    size_t pool = 0;
    const char *key;
    json_t *v;
    json_object_foreach(root, key, v) pool += strlen(key) + 1;
    f->names = frz_malloc(pool, "tensor names");
    if (!f->names) return FRZ_ERR_NOMEM;
    frz_st_tensor *grown = frz_realloc(set->tensors, (set->n_tensors + n) * sizeof *grown, "tensor table");
    if (!grown) return FRZ_ERR_NOMEM;
    set->tensors = grown;

    frz_st_tensor *mine = set->tensors + set->n_tensors;
    size_t data_len = f->size - data_start, i = 0;
    char *name = f->names;
    json_object_foreach(root, key, v) {
        if (v == meta) continue;
        frz_st_tensor *t = &mine[i];
        memset(t, 0, sizeof *t);
        size_t len = strlen(key) + 1;
        memcpy(name, key, len);
        t->name = name;
        name += len;
        frz_status st = parse_entry(f, data_start, data_len, t->name, v, t);
        if (st != FRZ_OK) return st;
        i++;
    }
    frz_status st = check_overlaps(f->path, mine, n);
    if (st != FRZ_OK) return st;
    set->n_tensors += n;
    if (meta) f->meta = json_incref((json_t *)meta);
    return FRZ_OK;
}

frz_status frz_st_load_file(frz_st_set *set, size_t i, const char *path)
{
    st_file *f = &set->files[i];
    f->path = frz_strdup(path, "file name");
    if (!f->path) return FRZ_ERR_NOMEM;
    frz_status st = map_file(f);
    if (st != FRZ_OK) return st;

    uint64_t n = 0;
    for (int k = 7; k >= 0; k--) n = (n << 8) | f->map[k];
    if (n == 0) return frz_fail(FRZ_ERR_FORMAT, "%s: header length (bytes 0..8) is 0", path);
    if (n > FRZ_ST_MAX_HEADER)
        return frz_fail(FRZ_ERR_FORMAT, "%s: header length (bytes 0..8) is %" PRIu64 ", over the %u-byte limit", path,
                        n, FRZ_ST_MAX_HEADER);
    if (n > f->size - 8)
        return frz_fail(FRZ_ERR_FORMAT, "%s: header length (bytes 0..8) is %" PRIu64
                        ", which runs past the end of the %zu-byte file", path, n, f->size);

    json_t *root;
    st = frz_json_load_buffer((const char *)f->map + 8, (size_t)n, path, 8, &root);
    if (st != FRZ_OK) return st;
    st = load_header(set, f, 8 + (size_t)n, root);
    json_decref(root);
    return st;
}
