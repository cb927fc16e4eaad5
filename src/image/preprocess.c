/* preprocess.c -- Frozen's image preprocessing: zero-pad to a square (centred), resize to R x R, normalise to
 * planar float (3, R, R). The padding is never materialised: the resampling weights are computed on the
 * padded square and the taps that fall on the padding are dropped. See image.h for the conventions. */
#include "image/image_internal.h"
#include "image/resample.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* The largest output side accepted (3 * 4096^2 floats = 192 MiB); Frozen uses 224. */
#define PREP_MAX_SIZE 4096

void frz_image_prep_params_init(frz_image_prep_params *p)
{
    if (!p) return;
    memset(p, 0, sizeof *p);
    p->struct_size = sizeof *p;
    p->size = 224;
    p->filter = FRZ_IMAGE_FILTER_BILINEAR;
    const float mean[3] = {0.485f, 0.456f, 0.406f}, std[3] = {0.229f, 0.224f, 0.225f};
    memcpy(p->mean, mean, sizeof mean);
    memcpy(p->std, std, sizeof std);
}

/* The caller's parameters over the defaults: only the first struct_size bytes are read (older callers know
 * fewer members; newer ones' extra members are ignored). Then validated. */
static frz_status get_params(const frz_image_prep_params *user, frz_image_prep_params *p)
{
    frz_image_prep_params_init(p);
    if (!user) return FRZ_OK;
    if (user->struct_size < offsetof(frz_image_prep_params, size) + sizeof user->size)
        return frz_fail(FRZ_ERR_INVALID_ARG, "image preprocessing parameters: struct_size %zu is too small (call "
                        "frz_image_prep_params_init)", user->struct_size);
    memcpy(p, user, FRZ_MIN(user->struct_size, sizeof *p));
    p->struct_size = sizeof *p;
    if (p->size < 1 || p->size > PREP_MAX_SIZE)
        return frz_fail(FRZ_ERR_INVALID_ARG, "image preprocessing parameters: size %d is outside 1..%d",
                        (int)p->size, PREP_MAX_SIZE);
    if (p->filter != FRZ_IMAGE_FILTER_BILINEAR && p->filter != FRZ_IMAGE_FILTER_BICUBIC &&
        p->filter != FRZ_IMAGE_FILTER_LANCZOS3)
        return frz_fail(FRZ_ERR_INVALID_ARG, "image preprocessing parameters: unknown filter %d", (int)p->filter);
    for (int c = 0; c < 3; c++)
        if (!isfinite(p->mean[c]) || !isfinite(p->std[c]) || !(p->std[c] > 0.0f))
            return frz_fail(FRZ_ERR_INVALID_ARG, "image preprocessing parameters: channel %d has mean %g, std %g "
                            "(need finite values and std > 0)", c, (double)p->mean[c], (double)p->std[c]);
    return FRZ_OK;
}

size_t frz_image_prep_count(const frz_image_prep_params *user)
{
    frz_image_prep_params p;
    if (get_params(user, &p) != FRZ_OK) return 0;
    return 3 * (size_t)p.size * (size_t)p.size;
}

/* y = v * scale + bias = (v / 255 - mean) / std for v in [0, 255]. */
static void norm_coeffs(const frz_image_prep_params *p, float scale[3], float bias[3])
{
    for (int c = 0; c < 3; c++) {
        scale[c] = 1.0f / (255.0f * p->std[c]);
        bias[c] = -p->mean[c] / p->std[c];
    }
}

/* Shared start of the buffer-filling calls: parameters, *needed, capacity. */
static frz_status begin(const char *fn, const frz_image_prep_params *user, frz_image_prep_params *p,
                        const float *out, size_t cap, size_t *needed)
{
    frz_status s = get_params(user, p);
    if (s != FRZ_OK) return s;
    size_t count = 3 * (size_t)p->size * (size_t)p->size;
    if (needed) *needed = count;
    if (!out || cap < count)
        return frz_fail(FRZ_ERR_BUFFER_TOO_SMALL, "%s: the output needs %zu floats (3 x %d x %d), capacity is %zu",
                        fn, count, (int)p->size, (int)p->size, out ? cap : 0);
    return FRZ_OK;
}

frz_status frz_image_black(const frz_image_prep_params *user, float *out, size_t cap, size_t *needed)
{
    frz_image_prep_params p;
    frz_status s = begin("frz_image_black", user, &p, out, cap, needed);
    if (s != FRZ_OK) return s;
    float scale[3], bias[3];
    norm_coeffs(&p, scale, bias);
    size_t plane = (size_t)p.size * (size_t)p.size;
    for (int c = 0; c < 3; c++)
        for (size_t i = 0; i < plane; i++) out[c * plane + i] = bias[c];
    return FRZ_OK;
}

frz_status frz_image_preprocess(const frz_image *img, const frz_image_prep_params *user, float *out, size_t cap,
                                size_t *needed)
{
    frz_image_prep_params p;
    frz_status s = begin("frz_image_preprocess", user, &p, out, cap, needed);
    if (s != FRZ_OK) return s;
    if (!img) return frz_fail(FRZ_ERR_INVALID_ARG, "frz_image_preprocess: image is NULL");

    int w = img->width, h = img->height, R = p.size;
    int S = FRZ_MAX(w, h);
    /* Centred; integer division puts an odd pixel of padding on the right / bottom. */
    int pad_x = (S - w) / 2, pad_y = (S - h) / 2;
    frz_resample_axis ax = {0}, ay = {0};
    float *tmp = NULL, *acc = NULL;
    s = frz_resample_axis_init(&ax, S, pad_x, w, R, p.filter);
    if (s == FRZ_OK) s = frz_resample_axis_init(&ay, S, pad_y, h, R, p.filter);
    if (s == FRZ_OK) {
        tmp = frz_malloc(sizeof(float) * (size_t)h * (size_t)R * 3, "image resampling rows");
        acc = frz_malloc(sizeof(float) * (size_t)R * 3, "image resampling accumulator");
        if (!tmp || !acc) s = FRZ_ERR_NOMEM;
    }
    if (s == FRZ_OK) {
        float scale[3], bias[3];
        norm_coeffs(&p, scale, bias);
        frz_resample_rows(img->pixels, h, w, &ax, tmp);                  /* (h, w, 3) -> (h, R, 3) */
        frz_resample_cols_planar(tmp, R, &ay, scale, bias, acc, out);    /* (h, R, 3) -> (3, R, R) */
    }
    frz_resample_axis_free(&ax);
    frz_resample_axis_free(&ay);
    free(tmp);
    free(acc);
    return s;
}
