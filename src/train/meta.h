/* meta.h -- numbers kept as safetensors "__metadata__" strings (sizes, training counters). Values are written
 * so that reading them back gives the same bits: integers in decimal, doubles with 17 significant digits. */
#ifndef FRZ_TRAIN_META_H
#define FRZ_TRAIN_META_H

#include "formats/safetensors.h"

#include <stdint.h>

/* Integer value of `key` within [min, max]. Missing, not a whole decimal number, or out of range:
 * FRZ_ERR_FORMAT naming `what` (the file) and the key. */
frz_status frz_meta_int(const frz_st_set *set, const char *key, const char *what, int64_t min, int64_t max,
                        int64_t *out);
/* A finite double (or "nan"/"inf" when allow_special). */
frz_status frz_meta_double(const frz_st_set *set, const char *key, const char *what, int allow_special, double *out);
/* A string value, which must be present. */
frz_status frz_meta_string(const frz_st_set *set, const char *key, const char *what, const char **out);

/* Formats into buf (cap >= 32): "%lld" and "%.17g". */
void frz_meta_fmt_int(char *buf, size_t cap, int64_t v);
void frz_meta_fmt_double(char *buf, size_t cap, double v);

#endif
