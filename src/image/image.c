/* image.c -- the frz_image object: loading from a file or memory (format by signature), raw RGB8, limits. */
#include "image/image_internal.h"
#include "core/file.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const uint8_t PNG_SIGNATURE[8] = {0x89, 'P', 'N', 'G', 0x0D, 0x0A, 0x1A, 0x0A};
static const uint8_t JPEG_SIGNATURE[3] = {0xFF, 0xD8, 0xFF};

frz_status frz_image_check_size(const char *name, uint64_t width, uint64_t height)
{
    if (width == 0 || height == 0)
        return frz_fail(FRZ_ERR_FORMAT, "%s: the header says the image is %llu x %llu pixels", name,
                        (unsigned long long)width, (unsigned long long)height);
    if (width > FRZ_IMAGE_MAX_SIDE || height > FRZ_IMAGE_MAX_SIDE ||
        width * height > (uint64_t)FRZ_IMAGE_MAX_PIXELS)
        return frz_fail(FRZ_ERR_UNSUPPORTED,
                        "%s: the image is %llu x %llu pixels; the limit is %d pixels per side and %ld pixels "
                        "(%ld megapixels) in all",
                        name, (unsigned long long)width, (unsigned long long)height, FRZ_IMAGE_MAX_SIDE,
                        FRZ_IMAGE_MAX_PIXELS, FRZ_IMAGE_MAX_PIXELS / (1024 * 1024));
    return FRZ_OK;
}

frz_image *frz_image_alloc(int32_t width, int32_t height)
{
    /* The limits keep this far from overflow: at most 3 * 2^26 bytes. */
    size_t bytes = sizeof(frz_image) + (size_t)width * (size_t)height * 3;
    frz_image *img = frz_malloc(bytes, "image pixels");
    if (img) {
        img->width = width;
        img->height = height;
    }
    return img;
}

void frz_image_free(frz_image *img) { free(img); }

int32_t frz_image_width(const frz_image *img) { return img ? img->width : 0; }
int32_t frz_image_height(const frz_image *img) { return img ? img->height : 0; }
const uint8_t *frz_image_pixels(const frz_image *img) { return img ? img->pixels : NULL; }

/* The name of a known format we do not decode, from its signature, or NULL. */
static const char *other_format(const uint8_t *d, size_t n)
{
    if (n >= 6 && (memcmp(d, "GIF87a", 6) == 0 || memcmp(d, "GIF89a", 6) == 0)) return "GIF";
    if (n >= 12 && memcmp(d, "RIFF", 4) == 0 && memcmp(d + 8, "WEBP", 4) == 0) return "WebP";
    if (n >= 4 && (memcmp(d, "II*\0", 4) == 0 || memcmp(d, "MM\0*", 4) == 0)) return "TIFF";
    if (n >= 14 && d[0] == 'B' && d[1] == 'M') return "BMP";
    return NULL;
}

frz_status frz_image_load_memory(const void *data, size_t len, const char *name, frz_image **out)
{
    if (!out) return frz_fail(FRZ_ERR_INVALID_ARG, "frz_image_load_memory: out is NULL");
    *out = NULL;
    if (!name) name = "<memory>";
    if (!data && len > 0) return frz_fail(FRZ_ERR_INVALID_ARG, "%s: data is NULL", name);
    if (len == 0) return frz_fail(FRZ_ERR_FORMAT, "%s: empty input (0 bytes), not an image", name);
    const uint8_t *d = data;
    if (len >= sizeof PNG_SIGNATURE && memcmp(d, PNG_SIGNATURE, sizeof PNG_SIGNATURE) == 0)
        return frz_png_decode(d, len, name, out);
    if (len >= sizeof JPEG_SIGNATURE && memcmp(d, JPEG_SIGNATURE, sizeof JPEG_SIGNATURE) == 0)
        return frz_jpeg_decode(d, len, name, out);
    const char *other = other_format(d, len);
    if (other) return frz_fail(FRZ_ERR_UNSUPPORTED, "%s: %s images are not supported (only PNG and JPEG)", name, other);

    char hex[8 * 3 + 1] = "";
    size_t n = FRZ_MIN(len, (size_t)8), pos = 0;
    for (size_t i = 0; i < n; i++) pos += (size_t)snprintf(hex + pos, sizeof hex - pos, i ? " %02X" : "%02X", d[i]);
    return frz_fail(FRZ_ERR_FORMAT, "%s: not a PNG or JPEG image (%zu bytes, first bytes: %s)", name, len, hex);
}

frz_status frz_image_load_file(const char *path, frz_image **out)
{
    if (!out) return frz_fail(FRZ_ERR_INVALID_ARG, "frz_image_load_file: out is NULL");
    *out = NULL;
    if (!path) return frz_fail(FRZ_ERR_INVALID_ARG, "frz_image_load_file: path is NULL");
    /* Mapped rather than read: no copy, and a huge file costs no memory before the header is checked. */
    const void *map;
    size_t len;
    frz_status st_map = frz_map_file(path, &map, &len);
    if (st_map != FRZ_OK) return st_map;
    if (len == 0) return frz_fail(FRZ_ERR_FORMAT, "%s: empty file (0 bytes), not an image", path);
    frz_status st_dec = frz_image_load_memory(map, len, path, out);
    frz_unmap_file(map, len);
    return st_dec;
}

frz_status frz_image_from_rgb8(const uint8_t *pixels, int32_t width, int32_t height, size_t stride,
                               frz_image **out)
{
    if (!out) return frz_fail(FRZ_ERR_INVALID_ARG, "frz_image_from_rgb8: out is NULL");
    *out = NULL;
    if (!pixels) return frz_fail(FRZ_ERR_INVALID_ARG, "frz_image_from_rgb8: pixels is NULL");
    if (width <= 0 || height <= 0)
        return frz_fail(FRZ_ERR_INVALID_ARG, "frz_image_from_rgb8: size %d x %d is not positive", (int)width,
                        (int)height);
    frz_status s = frz_image_check_size("frz_image_from_rgb8", (uint64_t)width, (uint64_t)height);
    if (s != FRZ_OK) return s;
    size_t row = (size_t)width * 3;
    if (stride < row)
        return frz_fail(FRZ_ERR_INVALID_ARG, "frz_image_from_rgb8: stride %zu is less than width * 3 = %zu",
                        stride, row);
    frz_image *img = frz_image_alloc(width, height);
    if (!img) return FRZ_ERR_NOMEM;
    for (int32_t y = 0; y < height; y++) memcpy(img->pixels + (size_t)y * row, pixels + (size_t)y * stride, row);
    *out = img;
    return FRZ_OK;
}
