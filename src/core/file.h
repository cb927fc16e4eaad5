/* file.h -- reading whole files: into memory (small text: JSON, merges) or mapped (weights, images).
 * Errors are FRZ_ERR_IO naming the path and the system's reason. */
#ifndef FRZ_FILE_H
#define FRZ_FILE_H

#include "core/core.h"

/* Reads the regular file at path into a new NUL-terminated buffer (*len excludes the NUL). Free with free(). */
frz_status frz_read_file(const char *path, char **buf, size_t *len);

/* Maps the regular file at path read-only; the descriptor is closed once the mapping exists. An empty file
 * gives *map = NULL and *len = 0. Unmap with frz_unmap_file. A mapped file must not be truncated while mapped. */
frz_status frz_map_file(const char *path, const void **map, size_t *len);
void frz_unmap_file(const void *map, size_t len);

/* Writes len bytes to path atomically: a temporary file beside it ("<path>.tmp.<pid>"), fsync'ed, renamed over
 * path. On failure the previous file (if any) is untouched and no temporary file is left. */
frz_status frz_write_file_atomic(const char *path, const void *data, size_t len);

/* "dir/name" in a new buffer (free with free()); trailing slashes of dir are dropped. NULL: out of memory
 * (frz_last_error set). */
char *frz_path_join(const char *dir, const char *name);

#endif
