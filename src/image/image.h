/* image.h -- images for the vision encoder: decode PNG/JPEG to RGB8, pad to a square, resize, normalise.
 *
 * Internal for now; written so it can move into include/frozen.h as is (plain functions, status codes, an
 * opaque handle, a parameter struct with struct_size, buffer-filling calls with *needed, no globals).
 *
 *     frz_image *img = NULL;
 *     if (frz_image_load_file("cat.jpg", &img) != FRZ_OK) { ... frz_last_error() ... }
 *     frz_image_prep_params pp; frz_image_prep_params_init(&pp);          // 224 x 224, bilinear, ImageNet
 *     float *x = malloc(3 * 224 * 224 * sizeof *x); size_t need = 0;
 *     frz_image_preprocess(img, &pp, x, 3 * 224 * 224, &need);            // x (3,224,224), planar RGB
 *     frz_image_free(img);
 *
 * Decoding
 * --------
 * Formats are told apart by their signature, never by the file name: PNG (89 50 4E 47 0D 0A 1A 0A) and JPEG
 * (FF D8 FF). Everything else is FRZ_ERR_FORMAT naming the input and its first bytes, or FRZ_ERR_UNSUPPORTED
 * when the signature is a known other format (GIF, BMP, WebP, TIFF).
 *   PNG  (libpng): gray 1/2/4/8/16 bit, gray+alpha, palette (with tRNS), RGB, RGBA, 8 and 16 bit, Adam7.
 *        16-bit samples become 8-bit as round(v * 255 / 65535). No gamma or ICC conversion (as Pillow).
 *   JPEG (libjpeg-turbo): baseline, progressive, grayscale, YCbCr, RGB, CMYK and YCCK. CMYK becomes
 *        R = round((255 - C) * (255 - K) / 255), etc. The samples are taken as Adobe-inverted (255 - ink) with or
 *        without the APP14 marker, as Pillow does: practically every CMYK JPEG comes from Adobe tools.
 *        IDCT: libjpeg's accurate integer one (JDCT_ISLOW) with fancy upsampling, as Pillow uses.
 * EXIF orientation is not applied and colour profiles are ignored, as Pillow's Image.open does.
 * Alpha (and tRNS) is composited on black: out = round(c * a / max) with max = 255 or 65535, computed at the
 * source bit depth in one rounding. The result is always 8-bit RGB, row-major HWC, rows tightly packed.
 *
 * Errors (every call leaves *out NULL on failure and leaks nothing):
 *   FRZ_ERR_IO           the file cannot be opened, read or mapped
 *   FRZ_ERR_FORMAT       empty, unknown signature, corrupt or truncated data (libpng's / libjpeg's message, the
 *                        input's name). Truncation anywhere is an error, for JPEG too (libjpeg would otherwise
 *                        pad the picture with grey); other JPEG "corrupt data" warnings are logged (FRZ_LOG_WARN)
 *                        and decoding goes on, as Pillow does.
 *   FRZ_ERR_UNSUPPORTED  a known non-PNG/JPEG format; an image over the size limits below (checked from the
 *                        header, before any pixel memory is allocated); 12-bit or lossless JPEG; a JPEG with
 *                        more than FRZ_IMAGE_MAX_JPEG_SCANS scans (a progressive "scan bomb")
 *   FRZ_ERR_NOMEM        an allocation failed (ours or libpng's; libjpeg allocates with malloc)
 *   FRZ_ERR_INVALID_ARG  NULL pointers, zero sizes, a short stride
 *
 * Preprocessing (the Frozen paper: zero-pad to a square, then resize to R x R)
 * ------------------------------------------------------------------------------
 * 1. Pad with black pixels to S x S, S = max(w, h), centred: the image starts at ((S - w) / 2, (S - h) / 2)
 *    (integer division), so when the padding is odd the extra column goes to the right, the extra row to the
 *    bottom. The padding is black *before* normalisation, i.e. it gets the same value as frz_image_black().
 * 2. Resize S x S -> R x R with a separable convolution filter, Pillow's algorithm (Image.resize on mode "F"):
 *    output pixel i samples the input around centre (i + 0.5) * S / R; when shrinking, the filter is stretched
 *    by S / R so every input pixel contributes (antialiasing); weights are normalised to sum to 1 at borders.
 *    Filters: bilinear (triangle, support 1; the default: no overshoot, so values stay within [0, 255]),
 *    bicubic (a = -0.5, support 2) and Lanczos-3. Values are computed in float and not clamped, so bicubic and
 *    Lanczos may overshoot [0, 255] slightly at sharp edges, as Pillow's float resize does.
 * 3. Normalise: y = (v / 255 - mean[c]) / std[c], written planar (3, R, R) float32 (R, G, B planes), the layout
 *    the convolution code reads. Default mean/std are ImageNet's (0.485, 0.456, 0.406) / (0.229, 0.224,
 *    0.225): the NF-ResNet-50 of Frozen comes from DeepMind's NFNets code, whose ImageNet pipeline
 *    (nfnets/dataset.py) normalises that way, so pretrained encoder weights expect it. For [-1, 1] set
 *    mean = std = 0.5.
 * Black is therefore NOT zero after normalisation: with ImageNet statistics it is (-2.118, -2.036, -1.804).
 * The paper's blind baseline feeds blacked-out images, so use frz_image_black() (or a black frz_image), never
 * a zero tensor, to reproduce it.
 */
#ifndef FRZ_IMAGE_H
#define FRZ_IMAGE_H

#include "core/core.h"

#include <stddef.h>
#include <stdint.h>

/* Size limits, checked from the header before any pixel memory is allocated. 64 megapixels of RGB8 is 192 MiB;
 * a photograph from a 60-megapixel camera still fits. */
#define FRZ_IMAGE_MAX_SIDE 32768                      /* pixels per side */
#define FRZ_IMAGE_MAX_PIXELS (64L * 1024 * 1024)       /* width * height */
#define FRZ_IMAGE_MAX_JPEG_SCANS 256                   /* progressive JPEGs have about 10 */
#define FRZ_IMAGE_JPEG_MAX_MEMORY (1024L * 1024 * 1024) /* libjpeg's working memory (max_memory_to_use) */

/* A decoded image: 8-bit RGB, row-major (height, width, 3), rows tightly packed. Immutable once made. */
typedef struct frz_image frz_image;

/* Decodes the PNG or JPEG file at path (read through a read-only mapping). */
frz_status frz_image_load_file(const char *path, frz_image **out);

/* Decodes len bytes of PNG or JPEG at data. name (may be NULL: "<memory>") is used in error messages only.
 * The buffer is not kept. */
frz_status frz_image_load_memory(const void *data, size_t len, const char *name, frz_image **out);

/* Copies a caller's RGB8 pixels: height rows of width * 3 bytes, row r at pixels + r * stride
 * (stride >= width * 3). The size limits apply. */
frz_status frz_image_from_rgb8(const uint8_t *pixels, int32_t width, int32_t height, size_t stride,
                               frz_image **out);

/* NULL is a no-op. */
void frz_image_free(frz_image *img);

/* 0 for a NULL image. */
int32_t frz_image_width(const frz_image *img);
int32_t frz_image_height(const frz_image *img);
/* pixels (height, width, 3); NULL for a NULL image. Valid until frz_image_free. */
const uint8_t *frz_image_pixels(const frz_image *img);

typedef enum frz_image_filter {
    FRZ_IMAGE_FILTER_BILINEAR = 0, /* triangle, support 1 (x scale when shrinking): Pillow's BILINEAR */
    FRZ_IMAGE_FILTER_BICUBIC = 1,  /* Keys cubic, a = -0.5, support 2: Pillow's BICUBIC */
    FRZ_IMAGE_FILTER_LANCZOS3 = 2  /* sinc(x) sinc(x/3), support 3: Pillow's LANCZOS */
} frz_image_filter;

typedef struct frz_image_prep_params {
    size_t struct_size;      /* set by frz_image_prep_params_init */
    int32_t size;            /* R, the output side, 1 .. FRZ_IMAGE_MAX_SIDE; default 224 */
    frz_image_filter filter; /* default FRZ_IMAGE_FILTER_BILINEAR */
    float mean[3];           /* per channel (R, G, B), on the [0, 1] scale; default ImageNet's */
    float std[3];            /* per channel, > 0; default ImageNet's */
} frz_image_prep_params;

/* Defaults: 224, bilinear, ImageNet mean/std. */
void frz_image_prep_params_init(frz_image_prep_params *p);

/* Number of floats of one preprocessed image: 3 * R * R (0 if p is invalid). */
size_t frz_image_prep_count(const frz_image_prep_params *p);

/* Pads, resizes and normalises img into out (3, R, R). cap is out's capacity in floats; *needed receives
 * 3 * R * R, and FRZ_ERR_BUFFER_TOO_SMALL is returned (nothing written) when cap is short. p == NULL means
 * the defaults. FRZ_ERR_INVALID_ARG for a bad parameter (size, filter, std <= 0, struct_size). */
frz_status frz_image_preprocess(const frz_image *img, const frz_image_prep_params *p, float *out, size_t cap,
                                size_t *needed);

/* The preprocessed form of an all-black image, out (3, R, R): plane c is -mean[c] / std[c]. Same buffer
 * contract as frz_image_preprocess. This is the input of the paper's blind baseline. */
frz_status frz_image_black(const frz_image_prep_params *p, float *out, size_t cap, size_t *needed);

#endif
