/* json_file.c -- JSON files through Jansson, with errors that name the file, line, byte and field.
 *
 * Files are read whole into memory (through frz_malloc, so tests can fail the allocation) and parsed with
 * json_loadb: one parser path for files and for in-memory headers, and read errors stay distinct (FRZ_ERR_IO)
 * from syntax errors (FRZ_ERR_FORMAT). Duplicate object keys are rejected: in a safetensors header or a config
 * they are always a mistake, and "last one wins" would hide it. */
#include "formats/json_file.h"
#include "core/file.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

frz_status frz_json_load_buffer(const char *buf, size_t len, const char *what, size_t base_offset, json_t **out)
{
    *out = NULL;
    json_error_t err;
    json_t *root = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &err);
    if (!root) {
        frz_status code = json_error_code(&err) == json_error_out_of_memory ? FRZ_ERR_NOMEM : FRZ_ERR_FORMAT;
        /* Jansson's position counts the bytes read, the offending one included; report that byte's offset. */
        return frz_fail(code, "%s: line %d column %d (byte %zu): %s", what, err.line, err.column,
                        base_offset + (size_t)(err.position > 0 ? err.position - 1 : 0), err.text);
    }
    *out = root;
    return FRZ_OK;
}

frz_status frz_json_load_file(const char *path, json_t **out)
{
    *out = NULL;
    char *buf;
    size_t len = 0;
    frz_status st = frz_read_file(path, &buf, &len);
    if (st != FRZ_OK) return st;
    st = frz_json_load_buffer(buf, len, path, 0, out);
    free(buf);
    return st;
}

/* A short description of a value for messages: "0", "2.5", "\"twelve\"", "true", "an array". */
static void describe(const json_t *v, char *buf, size_t cap)
{
    switch (json_typeof(v)) {
    case JSON_INTEGER: snprintf(buf, cap, "%" JSON_INTEGER_FORMAT, json_integer_value(v)); break;
    case JSON_REAL: snprintf(buf, cap, "%.17g", json_real_value(v)); break;
    case JSON_STRING: snprintf(buf, cap, "\"%.40s\"%s", json_string_value(v),
                               json_string_length(v) > 40 ? "..." : ""); break;
    case JSON_TRUE: snprintf(buf, cap, "true"); break;
    case JSON_FALSE: snprintf(buf, cap, "false"); break;
    case JSON_NULL: snprintf(buf, cap, "null"); break;
    case JSON_OBJECT: snprintf(buf, cap, "an object"); break;
    case JSON_ARRAY: snprintf(buf, cap, "an array"); break;
    }
}

/* The field, or NULL when missing or JSON null; FRZ_ERR_FORMAT if obj is not an object. */
static frz_status get_field(const json_t *obj, const char *key, const char *what, const json_t **v)
{
    if (!json_is_object(obj)) return frz_fail(FRZ_ERR_FORMAT, "%s: expected a JSON object holding field '%s'", what, key);
    const json_t *f = json_object_get(obj, key);
    *v = json_is_null(f) ? NULL : f;
    return FRZ_OK;
}

static frz_status int_field(const json_t *v, const char *key, const char *what, int64_t min, int64_t max,
                            int64_t *out)
{
    char got[64];
    describe(v, got, sizeof got);
    if (!json_is_integer(v) || json_integer_value(v) < min || json_integer_value(v) > max)
        return frz_fail(FRZ_ERR_FORMAT, "%s: field '%s' must be an integer in [%" PRId64 ", %" PRId64 "], got %s",
                        what, key, min, max, got);
    *out = (int64_t)json_integer_value(v);
    return FRZ_OK;
}

frz_status frz_json_int(const json_t *obj, const char *key, const char *what, int64_t min, int64_t max,
                        int64_t *out)
{
    const json_t *v;
    frz_status st = get_field(obj, key, what, &v);
    if (st != FRZ_OK) return st;
    if (!v)
        return frz_fail(FRZ_ERR_FORMAT, "%s: field '%s' is missing (expected an integer in [%" PRId64 ", %" PRId64 "])",
                        what, key, min, max);
    return int_field(v, key, what, min, max, out);
}

frz_status frz_json_int_or(const json_t *obj, const char *key, const char *what, int64_t min, int64_t max,
                           int64_t dflt, int64_t *out)
{
    const json_t *v;
    frz_status st = get_field(obj, key, what, &v);
    if (st != FRZ_OK) return st;
    if (!v) {
        *out = dflt;
        return FRZ_OK;
    }
    return int_field(v, key, what, min, max, out);
}

frz_status frz_json_real_or(const json_t *obj, const char *key, const char *what, double min, double max,
                            double dflt, double *out)
{
    const json_t *v;
    frz_status st = get_field(obj, key, what, &v);
    if (st != FRZ_OK) return st;
    if (!v) {
        *out = dflt;
        return FRZ_OK;
    }
    double x = json_number_value(v);
    if (!json_is_number(v) || !(x >= min && x <= max)) {
        char got[64];
        describe(v, got, sizeof got);
        return frz_fail(FRZ_ERR_FORMAT, "%s: field '%s' must be a number in [%g, %g], got %s", what, key, min, max,
                        got);
    }
    *out = x;
    return FRZ_OK;
}

frz_status frz_json_string_or(const json_t *obj, const char *key, const char *what, const char *dflt,
                              const char **out)
{
    const json_t *v;
    frz_status st = get_field(obj, key, what, &v);
    if (st != FRZ_OK) return st;
    if (!v) {
        *out = dflt;
        return FRZ_OK;
    }
    if (!json_is_string(v)) {
        char got[64];
        describe(v, got, sizeof got);
        return frz_fail(FRZ_ERR_FORMAT, "%s: field '%s' must be a string, got %s", what, key, got);
    }
    *out = json_string_value(v);
    return FRZ_OK;
}
