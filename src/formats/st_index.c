/* st_index.c -- a model directory: model.safetensors, or the shards named by model.safetensors.index.json
 * ({"metadata": {...}, "weight_map": {tensor: shard file name}}). */
#include "formats/st_internal.h"
#include "core/file.h"
#include "formats/json_file.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define SINGLE_NAME "model.safetensors"
#define INDEX_NAME "model.safetensors.index.json"

static int cmp_str(const void *a, const void *b) { return strcmp(*(const char *const *)a, *(const char *const *)b); }

/* A shard name must stay inside the directory: a plain file name. */
static int shard_name_ok(const char *s)
{
    return s[0] != '\0' && strchr(s, '/') == NULL && strcmp(s, ".") != 0 && strcmp(s, "..") != 0;
}

/* Checks the weight map's values and returns its distinct shard names, sorted (the first shard's
 * "__metadata__" is the set's), in a new array of pointers into the index. */
static frz_status distinct_shards(const char *index, const json_t *wm, const char ***out, size_t *n_out)
{
    *out = NULL;
    size_t n = json_object_size(wm);
    if (n == 0) return frz_fail(FRZ_ERR_FORMAT, "%s: \"weight_map\" is empty", index);
    const char **names = frz_calloc(n, sizeof *names, "shard names");
    if (!names) return FRZ_ERR_NOMEM;
    const char *key;
    const json_t *v;
    size_t i = 0;
    json_object_foreach((json_t *)wm, key, v) {
        if (!json_is_string(v) || !shard_name_ok(json_string_value(v))) {
            free(names);
            return frz_fail(FRZ_ERR_FORMAT, "%s: \"weight_map\" entry for tensor '%s' must be a file name in the "
                            "same directory, got %s%.200s%s", index, key, json_is_string(v) ? "'" : "a non-string",
                            json_is_string(v) ? json_string_value(v) : "", json_is_string(v) ? "'" : "");
        }
        names[i++] = json_string_value(v);
    }
    qsort(names, n, sizeof *names, cmp_str);
    size_t m = 0;
    for (i = 0; i < n; i++)
        if (m == 0 || strcmp(names[m - 1], names[i]) != 0) names[m++] = names[i];
    *out = names;
    *n_out = m;
    return FRZ_OK;
}

/* Every tensor the index names must be in the shard it names. */
static frz_status check_weight_map(const frz_st_set *set, const char *index, const json_t *wm)
{
    const char *key;
    const json_t *v;
    json_object_foreach((json_t *)wm, key, v) {
        const char *shard = json_string_value(v);
        const frz_st_tensor *t = frz_st_find(set, key);
        /* t->file is the directory joined with the shard's name. */
        if (!t || strcmp(strrchr(t->file, '/') + 1, shard) != 0)
            return frz_fail(FRZ_ERR_FORMAT, "%s: tensor '%s' is not in shard %s%s%s", index, key, shard,
                            t ? ", it is in " : "", t ? t->file : "");
    }
    return FRZ_OK;
}

static frz_status open_sharded(const char *dir, const char *index, frz_st_set **out)
{
    json_t *root;
    frz_status st = frz_json_load_file(index, &root);
    if (st != FRZ_OK) return st;
    const json_t *wm = json_object_get(root, "weight_map");
    if (!json_is_object(wm)) {
        json_decref(root);
        return frz_fail(FRZ_ERR_FORMAT, "%s: \"weight_map\" is missing or not an object", index);
    }
    const char **shards = NULL;
    size_t n = 0;
    frz_st_set *set = NULL;
    st = distinct_shards(index, wm, &shards, &n);
    if (st == FRZ_OK) st = frz_st_set_new(dir, n, &set);
    for (size_t i = 0; st == FRZ_OK && i < n; i++) {
        char *path = frz_path_join(dir, shards[i]);
        st = path ? frz_st_load_file(set, i, path) : FRZ_ERR_NOMEM;
        free(path);
    }
    if (st == FRZ_OK) st = frz_st_finish(set);
    if (st == FRZ_OK) st = check_weight_map(set, index, wm);
    free(shards);
    json_decref(root);
    if (st != FRZ_OK) {
        frz_st_close(set);
        return st;
    }
    *out = set;
    return FRZ_OK;
}

/* 1 if path exists, 0 if it does not, -1 (with errno) if that cannot be told. */
static int exists(const char *path)
{
    struct stat sb;
    if (stat(path, &sb) == 0) return 1;
    return errno == ENOENT || errno == ENOTDIR ? 0 : -1;
}

frz_status frz_st_open_dir(const char *dir, frz_st_set **out)
{
    *out = NULL;
    char *single = frz_path_join(dir, SINGLE_NAME);
    char *index = single ? frz_path_join(dir, INDEX_NAME) : NULL;
    frz_status st;
    int e;
    if (!index) st = FRZ_ERR_NOMEM;
    else if ((e = exists(single)) != 0)
        st = e > 0 ? frz_st_open_file(single, out) : frz_fail(FRZ_ERR_IO, "%s: %s", single, strerror(errno));
    else if ((e = exists(index)) != 0)
        st = e > 0 ? open_sharded(dir, index, out) : frz_fail(FRZ_ERR_IO, "%s: %s", index, strerror(errno));
    else
        st = frz_fail(FRZ_ERR_IO, "%s: neither %s nor %s found", dir, SINGLE_NAME, INDEX_NAME);
    free(single);
    free(index);
    return st;
}
