/* meta.c -- numbers in safetensors metadata strings (see meta.h). */
#include "train/meta.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

frz_status frz_meta_string(const frz_st_set *set, const char *key, const char *what, const char **out)
{
    const char *v = frz_st_metadata(set, key);
    if (!v) return frz_fail(FRZ_ERR_FORMAT, "%s: metadata key \"%s\" is missing", what, key);
    *out = v;
    return FRZ_OK;
}

frz_status frz_meta_int(const frz_st_set *set, const char *key, const char *what, int64_t min, int64_t max,
                        int64_t *out)
{
    const char *v = NULL;
    frz_status st = frz_meta_string(set, key, what, &v);
    if (st != FRZ_OK) return st;
    char *end;
    errno = 0;
    long long x = strtoll(v, &end, 10);
    if (end == v || *end != '\0' || errno == ERANGE || (v[0] != '-' && (v[0] < '0' || v[0] > '9')))
        return frz_fail(FRZ_ERR_FORMAT, "%s: metadata \"%s\" is \"%s\", not an integer", what, key, v);
    if (x < min || x > max)
        return frz_fail(FRZ_ERR_FORMAT, "%s: metadata \"%s\" is %lld, outside %" PRId64 "..%" PRId64, what, key, x,
                        min, max);
    *out = x;
    return FRZ_OK;
}

frz_status frz_meta_double(const frz_st_set *set, const char *key, const char *what, int allow_special, double *out)
{
    const char *v = NULL;
    frz_status st = frz_meta_string(set, key, what, &v);
    if (st != FRZ_OK) return st;
    char *end;
    double x = strtod(v, &end);
    if (end == v || *end != '\0' || (!allow_special && !isfinite(x)))
        return frz_fail(FRZ_ERR_FORMAT, "%s: metadata \"%s\" is \"%s\", not a %snumber", what, key, v,
                        allow_special ? "" : "finite ");
    *out = x;
    return FRZ_OK;
}

void frz_meta_fmt_int(char *buf, size_t cap, int64_t v) { snprintf(buf, cap, "%" PRId64, v); }

void frz_meta_fmt_double(char *buf, size_t cap, double v) { snprintf(buf, cap, "%.17g", v); }
