/* prompt_image.c -- image segments: an image becomes its visual prefix (encoder, then projector) at the point
 * of the prompt where it is appended. With FRZ_PROMPT_OPT_BLIND every image becomes a black one: any black image
 * pads and resizes to the same all-black encoder input, so the prefix of a 1x1 black image is the prefix of every
 * black image, and it is computed once per encoder/projector pair. */
#include "prompt/prompt.h"

#include <stdlib.h>

/* The encoder and projector must fit the LM and each other before anything is encoded. */
static frz_status check_pair(const frz_prompt *pr, const frz_vision *v, const frz_projector *p, const char *fn)
{
    if (!v || !p)
        return frz_fail(FRZ_ERR_INVALID_ARG, "%s: the prompt has no vision encoder and projector (give them to "
                        "frz_prompt_create, or use frz_prompt_add_image_with)", fn);
    const int64_t D = frz_projector_get(p, FRZ_PROJECTOR_N_EMBD), F = frz_projector_get(p, FRZ_PROJECTOR_N_FEATURES);
    if (D != (int64_t)pr->D)
        return frz_fail(FRZ_ERR_SHAPE, "%s: the projector makes embeddings of width %lld but the LM's width is %zu",
                        fn, (long long)D, pr->D);
    if (F != frz_vision_get(v, FRZ_VISION_N_FEATURES))
        return frz_fail(FRZ_ERR_SHAPE, "%s: the projector takes %lld features but the encoder gives %lld", fn,
                        (long long)F, (long long)frz_vision_get(v, FRZ_VISION_N_FEATURES));
    return FRZ_OK;
}

/* The prefix of a black image for (v, p), kept in the prompt. */
static frz_status black_prefix(frz_prompt *pr, const frz_vision *v, const frz_projector *p, size_t floats,
                               const float **out)
{
    if (pr->black && pr->black_vision == v && pr->black_proj == p) {
        *out = pr->black;
        return FRZ_OK;
    }
    static const uint8_t black_pixel[3] = {0, 0, 0};
    frz_image *img = NULL;
    float *embd = frz_malloc(floats * sizeof *embd, "black image prefix");
    frz_status st = embd ? frz_image_from_rgb8(black_pixel, 1, 1, 3, &img) : FRZ_ERR_NOMEM;
    size_t need = 0;
    if (st == FRZ_OK) st = frz_image_prefix(v, p, img, pr->n_threads, embd, floats, &need);
    frz_image_free(img);
    if (st) {
        free(embd);
        return st;
    }
    free(pr->black);
    pr->black = embd;
    pr->black_vision = v;
    pr->black_proj = p;
    *out = embd;
    return FRZ_OK;
}

static frz_status add_image(frz_prompt *pr, const frz_image *img, const frz_vision *v, const frz_projector *p,
                            const char *fn)
{
    if (!pr || !img) return frz_fail(FRZ_ERR_INVALID_ARG, "%s: prompt or image is NULL", fn);
    frz_status st = check_pair(pr, v, p, fn);
    if (st) return st;
    const size_t n = (size_t)frz_projector_get(p, FRZ_PROJECTOR_N_PREFIX), floats = n * pr->D;
    if (n > pr->n_ctx - pr->len) return frz_prompt_fail_context(pr, fn, n, "the image");
    if (pr->blind) {
        const float *black = NULL;
        if ((st = black_prefix(pr, v, p, floats, &black))) return st;
        return frz_prompt_append(pr, FRZ_PROMPT_SEG_IMAGE, NULL, black, n, fn);
    }
    float *embd = frz_malloc(floats * sizeof *embd, "image prefix");
    if (!embd) return FRZ_ERR_NOMEM;
    size_t need = 0;
    st = frz_image_prefix(v, p, img, pr->n_threads, embd, floats, &need);
    if (st == FRZ_OK) st = frz_prompt_append(pr, FRZ_PROMPT_SEG_IMAGE, NULL, embd, n, fn);
    free(embd);
    return st;
}

frz_status frz_prompt_add_image(frz_prompt *pr, const frz_image *img)
{
    return add_image(pr, img, pr ? pr->vision : NULL, pr ? pr->proj : NULL, "frz_prompt_add_image");
}

frz_status frz_prompt_add_image_with(frz_prompt *pr, const frz_image *img, const frz_vision *v,
                                     const frz_projector *p)
{
    return add_image(pr, img, v, p, "frz_prompt_add_image_with");
}

/* Decoded images are added and freed; a decoding error keeps the decoder's message (it names the input). */
static frz_status add_decoded(frz_prompt *pr, frz_status st, frz_image *img, const char *fn)
{
    if (st == FRZ_OK) st = add_image(pr, img, pr->vision, pr->proj, fn);
    frz_image_free(img);
    return st;
}

frz_status frz_prompt_add_image_file(frz_prompt *pr, const char *path)
{
    if (!pr || !path) return frz_fail(FRZ_ERR_INVALID_ARG, "frz_prompt_add_image_file: prompt or path is NULL");
    frz_image *img = NULL;
    frz_status st = frz_image_load_file(path, &img);
    return add_decoded(pr, st, img, "frz_prompt_add_image_file");
}

frz_status frz_prompt_add_image_memory(frz_prompt *pr, const void *data, size_t len, const char *name)
{
    if (!pr) return frz_fail(FRZ_ERR_INVALID_ARG, "frz_prompt_add_image_memory: prompt is NULL");
    frz_image *img = NULL;
    frz_status st = frz_image_load_memory(data, len, name, &img);
    return add_decoded(pr, st, img, "frz_prompt_add_image_memory");
}

frz_status frz_prompt_add_image_rgb8(frz_prompt *pr, const uint8_t *pixels, int32_t width, int32_t height,
                                     size_t stride)
{
    if (!pr) return frz_fail(FRZ_ERR_INVALID_ARG, "frz_prompt_add_image_rgb8: prompt is NULL");
    frz_image *img = NULL;
    frz_status st = frz_image_from_rgb8(pixels, width, height, stride, &img);
    return add_decoded(pr, st, img, "frz_prompt_add_image_rgb8");
}
