/* data.h -- image/caption datasets: Conceptual-Captions-style TSV and COCO captions JSON, and the
 * validation split.
 *
 * TSV: one example per line, "image path TAB caption". Lines end in LF or CRLF; blank lines are skipped.
 *   A relative path is relative to the TSV file's folder. A line without a TAB, with more than one TAB, with an
 *   empty path or an empty caption (after trimming spaces), or with a NUL byte is FRZ_ERR_FORMAT naming
 *   "file:line". (Conceptual Captions is distributed as caption TAB url; after downloading, write path TAB
 *   caption.)
 * COCO (captions_train2017.json and alike): "images": [{"id", "file_name"}], "annotations": [{"image_id",
 *   "caption"}]; every annotation is an example. Paths are relative to image_dir, or to the JSON file's folder
 *   when image_dir is NULL. A missing or mistyped field, a duplicate image id or an annotation whose image_id
 *   names no image is FRZ_ERR_FORMAT naming the file and the field ("annotations[3].caption").
 * The examples keep the file's order. Strings live in one arena; a dataset is read-only after loading. */
#ifndef FRZ_TRAIN_DATA_H
#define FRZ_TRAIN_DATA_H

#include "core/core.h"

#include <stdint.h>

typedef struct frz_dataset {
    char *arena;          /* NUL-terminated strings */
    size_t arena_len, arena_cap;
    size_t *path_off;     /* (n) offset of example i's resolved image path in arena */
    size_t *name_off;     /* (n) offset of the path as the file writes it (a suffix of the resolved path) */
    size_t *caption_off;  /* (n) offset of its caption (trimmed) */
    size_t n, cap;
} frz_dataset;

/* Loads a TSV or COCO file (COCO when its first non-blank byte is '{'). image_dir applies to COCO only. An
 * empty dataset (no examples) is FRZ_ERR_FORMAT. */
frz_status frz_dataset_load(const char *path, const char *image_dir, frz_dataset **out);
frz_status frz_dataset_load_tsv(const char *path, frz_dataset **out);
frz_status frz_dataset_load_coco(const char *path, const char *image_dir, frz_dataset **out);
void frz_dataset_free(frz_dataset *ds);

static inline const char *frz_dataset_path(const frz_dataset *ds, size_t i) { return ds->arena + ds->path_off[i]; }
/* The image path as the data file writes it (relative paths not yet joined to their folder). */
static inline const char *frz_dataset_name(const frz_dataset *ds, size_t i) { return ds->arena + ds->name_off[i]; }
static inline const char *frz_dataset_caption(const frz_dataset *ds, size_t i)
{
    return ds->arena + ds->caption_off[i];
}

/* Splits the examples by image: the distinct image paths, as the file writes them (so the split does not change
 * when the data moves to another folder), are ordered by a hash of (seed, path) and the first
 * round(val_fraction * n_images) of them (at least one when val_fraction > 0 and there are two images or more)
 * go to validation with all their captions, so no validation image is ever trained on. Deterministic for a
 * seed; both lists keep the file's order. *val is NULL when empty. val_fraction in [0, 0.5]. */
frz_status frz_dataset_split(const frz_dataset *ds, double val_fraction, uint64_t seed, int32_t **train,
                             size_t *n_train, int32_t **val, size_t *n_val);

/* ---- building (the readers) -------------------------------------------------------------------------------- */
frz_status frz_dataset_new(frz_dataset **out);
/* Appends an example; path is joined to dir unless it is absolute or dir is NULL/empty. caption is trimmed of
 * leading and trailing spaces (and tabs, CR, LF) by the caller. */
frz_status frz_dataset_add(frz_dataset *ds, const char *dir, const char *path, size_t path_len, const char *caption,
                           size_t caption_len);
/* The folder part of a file path ("." for a bare name), malloc'ed. */
char *frz_dir_of(const char *path);

#endif
