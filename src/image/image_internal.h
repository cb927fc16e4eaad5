/* image_internal.h -- what the decoders and the preprocessing share inside src/image/. */
#ifndef FRZ_IMAGE_INTERNAL_H
#define FRZ_IMAGE_INTERNAL_H

#include "image/image.h"

struct frz_image {
    int32_t width, height;
    uint8_t pixels[]; /* (height, width, 3) */
};

/* FRZ_ERR_UNSUPPORTED naming `name`, the size and the limits when width x height is over them (or zero:
 * FRZ_ERR_FORMAT). Called from the header, before any pixel memory exists. */
frz_status frz_image_check_size(const char *name, uint64_t width, uint64_t height);

/* An image of width x height (already checked) with uninitialised pixels, or NULL (FRZ_ERR_NOMEM recorded). */
frz_image *frz_image_alloc(int32_t width, int32_t height);

/* The decoders: data (len bytes, len >= signature length) starts with the format's signature. */
frz_status frz_png_decode(const uint8_t *data, size_t len, const char *name, frz_image **out);
frz_status frz_jpeg_decode(const uint8_t *data, size_t len, const char *name, frz_image **out);

/* round(a * b / 255) for a, b in 0..255 (255 is odd, so there are no ties). */
static inline uint8_t frz_mul_div255(unsigned a, unsigned b) { return (uint8_t)((a * b + 127) / 255); }

#endif
