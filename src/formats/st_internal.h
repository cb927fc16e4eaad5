/* st_internal.h -- the safetensors set, shared by the file reader (st_read.c), the set and lookups
 * (safetensors.c) and the shard index (st_index.c). Internal to src/formats. */
#ifndef FRZ_ST_INTERNAL_H
#define FRZ_ST_INTERNAL_H

#include "formats/safetensors.h"
#include <jansson.h>

/* Header lengths above this are refused before anything is allocated (the Python library's limit). */
#define FRZ_ST_MAX_HEADER 100000000u

/* One mapped .safetensors file. */
typedef struct st_file {
    char *path;                 /* as opened; tensors' `file` points here */
    const unsigned char *map;   /* the whole file, read-only; NULL until mapped */
    size_t size;
    char *names;                /* one block holding this file's tensor names */
    json_t *meta;               /* its "__metadata__" object, or NULL */
} st_file;

struct frz_st_set {
    char *what;                 /* the file or directory opened, for lookup messages */
    st_file *files;
    size_t n_files;             /* files[] entries allocated (some may be unmapped after a failure) */
    frz_st_tensor *tensors;     /* sorted by name once the set is complete */
    size_t n_tensors;
};

/* A new empty set with room for n_files files. */
frz_status frz_st_set_new(const char *what, size_t n_files, frz_st_set **out);
/* Maps path as set->files[i], validates its header and appends its tensors to set->tensors. On failure the
 * set holds whatever was done so far; frz_st_close frees it. */
frz_status frz_st_load_file(frz_st_set *set, size_t i, const char *path);
/* Sorts the tensors by name and refuses a name found in two files. */
frz_status frz_st_finish(frz_st_set *set);

#endif
