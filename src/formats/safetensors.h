/* safetensors.h -- reading Hugging Face safetensors files, single or sharded, memory-mapped.
 *
 * Format: 8-byte little-endian header length N, N bytes of JSON {name: {dtype, shape, data_offsets:[b,e]},
 * "__metadata__": {str: str}}, then the data block; offsets are relative to the data block. Every offset,
 * size and overlap is checked before any tensor is used. */
#ifndef FRZ_SAFETENSORS_H
#define FRZ_SAFETENSORS_H

#include "core/core.h"
#include <stdint.h>

typedef enum frz_dtype {
    FRZ_DT_F32, FRZ_DT_F16, FRZ_DT_BF16, FRZ_DT_F64, FRZ_DT_I64, FRZ_DT_I32, FRZ_DT_I16, FRZ_DT_I8, FRZ_DT_U8,
    FRZ_DT_BOOL
} frz_dtype;

#define FRZ_ST_MAX_DIMS 8

typedef struct frz_st_tensor {
    const char *name;
    frz_dtype dtype;
    int ndim;
    int64_t shape[FRZ_ST_MAX_DIMS];
    const void *data;       /* into the mapping */
    size_t nbytes;
    const char *file;       /* the file it lives in (for messages) */
    size_t file_offset;     /* absolute byte offset of its data in that file (for messages) */
} frz_st_tensor;

/* A set of tensors from one file or from the shards named by a model.safetensors.index.json. */
typedef struct frz_st_set frz_st_set;

/* Opens one .safetensors file: maps it read-only (the descriptor is closed again) and validates the whole
 * header: length, JSON, every dtype, shape and offset range, no overlaps, "__metadata__" of strings.
 * FRZ_ERR_IO (cannot open or map), FRZ_ERR_FORMAT (malformed; the message names the file, the tensor and the
 * absolute byte offset), FRZ_ERR_UNSUPPORTED (a dtype such as F8_E4M3, or more than FRZ_ST_MAX_DIMS dims),
 * FRZ_ERR_NOMEM. The data must not change while the set is open (it is used in place). */
frz_status frz_st_open_file(const char *path, frz_st_set **out);
/* Opens <dir>/model.safetensors, or else <dir>/model.safetensors.index.json and every shard it names (each
 * tensor must be found in the shard the index says; shard names are plain file names inside dir; a tensor
 * name found in two shards is an error). Neither file: FRZ_ERR_IO naming dir and both file names. */
frz_status frz_st_open_dir(const char *dir, frz_st_set **out);
/* NULL is a no-op. */
void frz_st_close(frz_st_set *set);

/* Tensors are kept sorted by name: frz_st_at(set, 0 .. count-1) walks them in that order, and frz_st_find is
 * a binary search. */
size_t frz_st_count(const frz_st_set *set);
const frz_st_tensor *frz_st_at(const frz_st_set *set, size_t i);
/* NULL if absent. */
const frz_st_tensor *frz_st_find(const frz_st_set *set, const char *name);
/* A "__metadata__" string value of the (first) file, or NULL. */
const char *frz_st_metadata(const frz_st_set *set, const char *key);

/* "F32", "BF16", ...; "?" for an invalid value. */
const char *frz_dtype_name(frz_dtype dt);
/* Bytes per element (BOOL is 1); 0 for an invalid value. */
size_t frz_dtype_size(frz_dtype dt);
/* The dtype named `name` ("F32", ...): 1 and *out set, or 0 if it is not one of frz_dtype. */
int frz_dtype_from_name(const char *name, frz_dtype *out);

/* f32 data of tensor `name`, which must exist and have exactly the given shape (else FRZ_ERR_FORMAT naming the
 * missing tensor, or FRZ_ERR_SHAPE with both shapes). F32 data that is 4-byte aligned in the mapping is returned
 * in place (*owned = NULL); F16/BF16 (and unaligned F32) are converted into a new buffer returned both in *out
 * and *owned (the caller frees *owned). Other dtypes: FRZ_ERR_UNSUPPORTED naming tensor and dtype. */
frz_status frz_st_get_f32(const frz_st_set *set, const char *name, int ndim, const int64_t *shape,
                          const float **out, float **owned);

/* Conversions used above (exposed for tests). Exact for every input, NaN payloads included. The array forms
 * read n little-endian 16-bit values from src, which need not be aligned. */
float frz_f16_to_f32(uint16_t h);
float frz_bf16_to_f32(uint16_t b);
void frz_f16_to_f32_array(const void *src, float *dst, size_t n);
void frz_bf16_to_f32_array(const void *src, float *dst, size_t n);

/* ---- writing ---------------------------------------------------------------------------------------------- */

/* One tensor to write: data holds numel * frz_dtype_size(dtype) bytes, little-endian, row-major. */
typedef struct frz_st_write_tensor {
    const char *name;
    frz_dtype dtype;
    int ndim;                         /* 0 (a scalar) .. FRZ_ST_MAX_DIMS */
    int64_t shape[FRZ_ST_MAX_DIMS];
    const void *data;                 /* may be NULL when the tensor has no elements */
} frz_st_write_tensor;

/* Writes a .safetensors file the Python library reads (and writes alike): compact header JSON with
 * "__metadata__" first, then tensors by decreasing dtype size and then by name, data in that order; the
 * header is padded with spaces to a multiple of 8 bytes, so every tensor is aligned to its element size.
 * meta_kv holds n_meta (key, value) string pairs: meta_kv[2i] is a key, meta_kv[2i+1] its value.
 * The file appears atomically: written to "<path>.tmp.<pid>", flushed and fsync'ed, renamed over path, and the
 * directory fsync'ed. Bad arguments (duplicate or empty name, bad shape, invalid UTF-8): FRZ_ERR_INVALID_ARG;
 * I/O failures: FRZ_ERR_IO naming the path. */
frz_status frz_st_write_file(const char *path, const frz_st_write_tensor *tensors, size_t n_tensors,
                             const char *const *meta_kv, size_t n_meta);

#endif
