/* json_file.h -- JSON files (config.json, safetensors headers, vocab.json, shard indexes) through Jansson,
 * with errors that name the file, field, line and byte offset. */
#ifndef FRZ_JSON_FILE_H
#define FRZ_JSON_FILE_H

#include "core/core.h"
#include <jansson.h>

/* Parses a whole file. FRZ_ERR_IO if it cannot be read ("path: cannot open: <strerror>"); FRZ_ERR_FORMAT
 * ("path: line L column C (byte B): why", B the 0-based offset of the offending byte). Duplicate object keys
 * are a format error. *out is NULL on failure; json_decref it on success. */
frz_status frz_json_load_file(const char *path, json_t **out);

/* Parses a buffer; `what` names it in messages (e.g. "model.safetensors header"). base_offset is added to the
 * byte offset reported, so a safetensors header error points at the byte in the file. */
frz_status frz_json_load_buffer(const char *buf, size_t len, const char *what, size_t base_offset, json_t **out);

/* Integer field `key` of object `obj` within [min, max]. Missing, non-integer or out-of-range: FRZ_ERR_FORMAT
 * naming `what` (the file) and the field. */
frz_status frz_json_int(const json_t *obj, const char *key, const char *what, int64_t min, int64_t max,
                        int64_t *out);
/* The same, but a missing field (or JSON null) yields dflt. */
frz_status frz_json_int_or(const json_t *obj, const char *key, const char *what, int64_t min, int64_t max,
                           int64_t dflt, int64_t *out);
/* A real (or integer) field within [min, max]; missing or null yields dflt. */
frz_status frz_json_real_or(const json_t *obj, const char *key, const char *what, double min, double max,
                            double dflt, double *out);
/* A string field; missing or null yields dflt (which may be NULL). The result points into obj. */
frz_status frz_json_string_or(const json_t *obj, const char *key, const char *what, const char *dflt,
                              const char **out);

#endif
