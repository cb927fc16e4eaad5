/* png_decode.c -- PNG to RGB8 through libpng.
 *
 * libpng reports errors by calling our error function, which must not return: it longjmps back into
 * png_run(), the only function with a setjmp. Everything png_run() allocates hangs off the png_job that its
 * caller owns (not a local of png_run, so nothing needs to be volatile), and the caller frees it on every
 * path. libpng allocates through frz_malloc as well, so the tests' fault injection reaches inside it. */
#include "image/image_internal.h"

#include <png.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* libpng's limit on one ancillary chunk (iCCP, zTXt, ...), a guard against decompression bombs. */
#define PNG_MAX_CHUNK_BYTES (8L * 1024 * 1024)

typedef struct png_job {
    const uint8_t *data;
    size_t len, pos;   /* the read cursor */
    const char *name;  /* for messages */
    jmp_buf jmp;
    char msg[256];     /* libpng's error message */
    int oom;           /* an allocation failed, ours or libpng's */
    png_structp png;
    png_infop info;
    frz_image *img;
    uint8_t *buf;      /* decoded rows before conversion to RGB8 (one row, or all when interlaced) */
    png_bytep *rows;   /* row pointers for png_read_image */
} png_job;

static void job_error(png_structp png, png_const_charp msg)
{
    png_job *job = png_get_error_ptr(png);
    snprintf(job->msg, sizeof job->msg, "%s", msg);
    longjmp(job->jmp, 1);
}

/* Warnings (bad ancillary chunks, benign errors) do not stop decoding; the host may see them in its log. */
static void job_warning(png_structp png, png_const_charp msg)
{
    png_job *job = png_get_error_ptr(png);
    frz_log(FRZ_LOG_WARN, "%s: PNG: %s", job->name, msg);
}

static png_voidp job_malloc(png_structp png, png_alloc_size_t size)
{
    png_job *job = png_get_mem_ptr(png);
    void *p = frz_malloc(size, "libpng");
    if (!p) job->oom = 1;
    return p;
}

static void job_free(png_structp png, png_voidp p)
{
    (void)png;
    free(p);
}

static void job_read(png_structp png, png_bytep out, size_t n)
{
    png_job *job = png_get_io_ptr(png);
    if (n > job->len - job->pos) {
        snprintf(job->msg, sizeof job->msg, "truncated: %zu more bytes needed at byte offset %zu, the data ends "
                 "at %zu", n, job->pos, job->len);
        longjmp(job->jmp, 1);
    }
    memcpy(out, job->data + job->pos, n);
    job->pos += n;
}

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* round(num / den) for odd den (no ties). */
static uint8_t div_round(uint64_t num, uint64_t den) { return (uint8_t)((num + den / 2) / den); }

/* One row of libpng's output, src (w, channels) at 8 or 16 bits (big-endian), to dst (w, 3) RGB8 with alpha
 * composited on black at the source depth: round(c * a / max) or, at 16 bits, round(c * a * 255 / 65535^2). */
static void row_to_rgb8(const uint8_t *src, uint8_t *dst, uint32_t w, int channels, int depth)
{
    if (depth == 8) {
        for (uint32_t x = 0; x < w; x++, src += channels, dst += 3) {
            unsigned a = channels == 4 ? src[3] : 255;
            for (int c = 0; c < 3; c++) dst[c] = frz_mul_div255(src[c], a);
        }
        return;
    }
    const uint64_t max = 65535;
    for (uint32_t x = 0; x < w; x++, src += 2 * channels, dst += 3) {
        uint64_t a = channels == 4 ? (uint64_t)(src[6] << 8 | src[7]) : max;
        for (int c = 0; c < 3; c++) {
            uint64_t v = (uint64_t)(src[2 * c] << 8 | src[2 * c + 1]);
            dst[c] = div_round(v * a * 255, max * max);
        }
    }
}

static frz_status png_run(png_job *job)
{
    if (setjmp(job->jmp)) {
        if (job->oom) return frz_fail_prefix(FRZ_ERR_NOMEM, "%s: PNG: ", job->name);
        return frz_fail(FRZ_ERR_FORMAT, "%s: PNG: %s", job->name, job->msg);
    }
    job->png = png_create_read_struct_2(PNG_LIBPNG_VER_STRING, job, job_error, job_warning, job, job_malloc,
                                        job_free);
    if (!job->png) return frz_fail_prefix(FRZ_ERR_NOMEM, "%s: PNG: ", job->name);
    job->info = png_create_info_struct(job->png);
    if (!job->info) return frz_fail_prefix(FRZ_ERR_NOMEM, "%s: PNG: ", job->name);
    png_structp png = job->png;
    png_infop info = job->info;
    png_set_read_fn(png, job, job_read);
    /* The same limits as frz_image_check_size, enforced by libpng itself as a second line of defence. */
    png_set_user_limits(png, FRZ_IMAGE_MAX_SIDE, FRZ_IMAGE_MAX_SIDE);
    png_set_chunk_malloc_max(png, PNG_MAX_CHUNK_BYTES);

    png_read_info(png, info);
    png_uint_32 w = 0, h = 0;
    int depth = 0, color = 0, interlace = 0;
    png_get_IHDR(png, info, &w, &h, &depth, &color, &interlace, NULL, NULL);
    frz_status s = frz_image_check_size(job->name, w, h);
    if (s != FRZ_OK) return s;

    /* To 8- or 16-bit RGB or RGBA: palette -> RGB, gray < 8 bits -> 8, tRNS -> alpha, gray -> RGB. */
    png_set_expand(png);
    if (color == PNG_COLOR_TYPE_GRAY || color == PNG_COLOR_TYPE_GRAY_ALPHA) png_set_gray_to_rgb(png);
    int passes = png_set_interlace_handling(png);
    png_read_update_info(png, info);
    int channels = png_get_channels(png, info);
    depth = png_get_bit_depth(png, info);
    size_t rowbytes = png_get_rowbytes(png, info);
    if ((channels != 3 && channels != 4) || (depth != 8 && depth != 16))
        return frz_fail(FRZ_ERR_FORMAT, "%s: PNG: unexpected decoded layout (%d channels of %d bits)", job->name,
                        channels, depth);

    job->img = frz_image_alloc((int32_t)w, (int32_t)h);
    if (!job->img) return frz_fail_prefix(FRZ_ERR_NOMEM, "%s: PNG: ", job->name);
    uint8_t *pixels = job->img->pixels;
    size_t out_row = (size_t)w * 3;
    int direct = channels == 3 && depth == 8; /* libpng writes RGB8 straight into the image */

    if (direct || passes > 1) {
        /* Interlaced images need all rows at once: each pass fills some pixels of every row. */
        uint8_t *base = pixels;
        size_t stride = out_row;
        if (!direct) {
            size_t total;
            if (!frz_mul_size(rowbytes, h, &total))
                return frz_fail(FRZ_ERR_NOMEM, "%s: PNG: row buffer size overflows", job->name);
            job->buf = frz_malloc(total, "PNG rows");
            if (!job->buf) return frz_fail_prefix(FRZ_ERR_NOMEM, "%s: PNG: ", job->name);
            base = job->buf;
            stride = rowbytes;
        }
        job->rows = frz_malloc(sizeof *job->rows * h, "PNG row pointers");
        if (!job->rows) return frz_fail_prefix(FRZ_ERR_NOMEM, "%s: PNG: ", job->name);
        for (png_uint_32 y = 0; y < h; y++) job->rows[y] = base + (size_t)y * stride;
        png_read_image(png, job->rows);
        if (!direct)
            for (png_uint_32 y = 0; y < h; y++)
                row_to_rgb8(job->rows[y], pixels + (size_t)y * out_row, w, channels, depth);
    } else {
        job->buf = frz_malloc(rowbytes, "PNG row");
        if (!job->buf) return frz_fail_prefix(FRZ_ERR_NOMEM, "%s: PNG: ", job->name);
        for (png_uint_32 y = 0; y < h; y++) {
            png_read_row(png, job->buf, NULL);
            row_to_rgb8(job->buf, pixels + (size_t)y * out_row, w, channels, depth);
        }
    }
    /* Reads up to IEND: checks the remaining CRCs and catches truncation after the image data. */
    png_read_end(png, NULL);
    return FRZ_OK;
}

frz_status frz_png_decode(const uint8_t *data, size_t len, const char *name, frz_image **out)
{
    /* Size check straight from IHDR (signature, length 13, "IHDR", width, height), before libpng allocates
     * anything. A missing or short IHDR is left to libpng to report. */
    if (len >= 24 && memcmp(data + 12, "IHDR", 4) == 0) {
        frz_status s = frz_image_check_size(name, be32(data + 16), be32(data + 20));
        if (s == FRZ_ERR_UNSUPPORTED) return s;
    }
    png_job job;
    memset(&job, 0, sizeof job);
    job.data = data;
    job.len = len;
    job.name = name;
    frz_status s = png_run(&job);
    if (job.png) png_destroy_read_struct(&job.png, job.info ? &job.info : NULL, NULL);
    free(job.buf);
    free(job.rows);
    if (s != FRZ_OK) {
        free(job.img);
        return s;
    }
    *out = job.img;
    return FRZ_OK;
}
