/* jpeg_decode.c -- JPEG to RGB8 through libjpeg-turbo's libjpeg API.
 *
 * libjpeg reports errors through error_exit, which must not return: ours longjmps back into jpeg_run(), the
 * only function with a setjmp. The decompressor and our buffers live in the jpeg_job that the caller owns
 * (not locals of jpeg_run, so nothing needs to be volatile); the caller destroys and frees them on every path.
 * Nothing is printed: output_message is a no-op and warnings go to frz_log. */
#include "image/image_internal.h"

#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jpeglib.h>
#include <jerror.h>

typedef struct jpeg_job {
    struct jpeg_error_mgr err; /* first: the callbacks find the job from cinfo->err */
    struct jpeg_progress_mgr progress;
    struct jpeg_decompress_struct cinfo;
    jmp_buf jmp;
    const char *name;
    char msg[JMSG_LENGTH_MAX + 64];
    frz_status fail;           /* the status to report after a longjmp */
    long warnings;
    frz_image *img;
    uint8_t *row;              /* one CMYK row */
} jpeg_job;

static jpeg_job *job_of(j_common_ptr cinfo) { return (jpeg_job *)(void *)cinfo->err; }

static void job_error_exit(j_common_ptr cinfo)
{
    jpeg_job *job = job_of(cinfo);
    cinfo->err->format_message(cinfo, job->msg);
    switch (cinfo->err->msg_code) {
    case JERR_OUT_OF_MEMORY: job->fail = FRZ_ERR_NOMEM; break;
    /* Well-formed but beyond this build of libjpeg: 12-bit samples, lossless or hierarchical frames. */
    case JERR_BAD_PRECISION:
    case JERR_SOF_UNSUPPORTED: job->fail = FRZ_ERR_UNSUPPORTED; break;
    default: job->fail = FRZ_ERR_FORMAT; break;
    }
    longjmp(job->jmp, 1);
}

/* Warnings (level < 0) are corrupt data that libjpeg works around. Truncation is fatal: libjpeg would pad the
 * rest of the picture with grey and call it a success. The others are logged and decoding goes on. */
static void job_emit_message(j_common_ptr cinfo, int level)
{
    if (level >= 0) return; /* trace messages */
    jpeg_job *job = job_of(cinfo);
    char text[JMSG_LENGTH_MAX];
    cinfo->err->format_message(cinfo, text);
    if (cinfo->err->msg_code == JWRN_JPEG_EOF) {
        snprintf(job->msg, sizeof job->msg, "%s (the data is truncated)", text);
        job->fail = FRZ_ERR_FORMAT;
        longjmp(job->jmp, 1);
    }
    if (job->warnings++ == 0) frz_log(FRZ_LOG_WARN, "%s: JPEG: %s", job->name, text);
}

static void job_output_message(j_common_ptr cinfo) { (void)cinfo; }

/* Called as libjpeg consumes input; stops progressive files made of thousands of tiny scans (CPU bombs). */
static void job_progress(j_common_ptr cinfo)
{
    if (!cinfo->is_decompressor) return;
    int scans = ((j_decompress_ptr)cinfo)->input_scan_number;
    if (scans > FRZ_IMAGE_MAX_JPEG_SCANS) {
        jpeg_job *job = job_of(cinfo);
        snprintf(job->msg, sizeof job->msg, "more than %d scans (a progressive file normally has about 10)",
                 FRZ_IMAGE_MAX_JPEG_SCANS);
        job->fail = FRZ_ERR_UNSUPPORTED;
        longjmp(job->jmp, 1);
    }
}

/* row (w, 4) inverted CMYK (255 - ink) -> dst (w, 3) RGB: R = round((255 - C) * (255 - K) / 255) with C, K
 * the ink amounts. Adobe software writes the samples inverted, and practically every CMYK JPEG comes from it,
 * so, like Pillow, we take every CMYK file as inverted, with or without its APP14 marker. */
static void cmyk_to_rgb8(const uint8_t *row, uint8_t *dst, uint32_t w)
{
    for (uint32_t x = 0; x < w; x++, row += 4, dst += 3)
        for (int c = 0; c < 3; c++) dst[c] = frz_mul_div255(row[c], row[3]);
}

static frz_status jpeg_run(jpeg_job *job, const uint8_t *data, size_t len)
{
    j_decompress_ptr ci = &job->cinfo;
    ci->err = jpeg_std_error(&job->err);
    job->err.error_exit = job_error_exit;
    job->err.emit_message = job_emit_message;
    job->err.output_message = job_output_message;
    if (setjmp(job->jmp)) {
        if (job->fail == FRZ_ERR_NOMEM)
            return frz_fail(FRZ_ERR_NOMEM, "%s: JPEG: out of memory in libjpeg (%s)", job->name, job->msg);
        return frz_fail(job->fail, "%s: JPEG: %s", job->name, job->msg);
    }
    jpeg_create_decompress(ci);
    /* libjpeg-turbo fails with "backing store not supported" past this (large progressive images). */
    ci->mem->max_memory_to_use = FRZ_IMAGE_JPEG_MAX_MEMORY;
    job->progress.progress_monitor = job_progress;
    ci->progress = &job->progress;
    jpeg_mem_src(ci, data, (unsigned long)len);
    jpeg_read_header(ci, TRUE);

    /* The size comes from SOF: rejected here, before jpeg_start_decompress allocates anything per pixel. */
    frz_status s = frz_image_check_size(job->name, ci->image_width, ci->image_height);
    if (s != FRZ_OK) return s;
    int n = ci->num_components;
    if (n != 1 && n != 3 && n != 4)
        return frz_fail(FRZ_ERR_UNSUPPORTED, "%s: JPEG: %d colour components (1, 3 or 4 are supported)",
                        job->name, n);
    /* libjpeg converts gray, YCbCr and RGB to RGB itself, and YCCK to CMYK; CMYK to RGB is ours. */
    int cmyk = n == 4;
    ci->out_color_space = cmyk ? JCS_CMYK : JCS_RGB;
    ci->dct_method = JDCT_ISLOW;
    jpeg_start_decompress(ci);
    uint32_t w = ci->output_width, h = ci->output_height;
    if (w != ci->image_width || h != ci->image_height || ci->output_components != (cmyk ? 4 : 3))
        return frz_fail(FRZ_ERR_FORMAT, "%s: JPEG: unexpected output layout %u x %u x %d", job->name, w, h,
                        ci->output_components);

    job->img = frz_image_alloc((int32_t)w, (int32_t)h);
    if (!job->img) return frz_fail_prefix(FRZ_ERR_NOMEM, "%s: JPEG: ", job->name);
    if (cmyk) {
        job->row = frz_malloc((size_t)w * 4, "JPEG CMYK row");
        if (!job->row) return frz_fail_prefix(FRZ_ERR_NOMEM, "%s: JPEG: ", job->name);
    }
    while (ci->output_scanline < h) {
        uint8_t *dst = job->img->pixels + (size_t)ci->output_scanline * w * 3;
        JSAMPROW row = cmyk ? job->row : dst;
        if (jpeg_read_scanlines(ci, &row, 1) != 1)
            return frz_fail(FRZ_ERR_FORMAT, "%s: JPEG: no data for row %u", job->name, ci->output_scanline);
        if (cmyk) cmyk_to_rgb8(job->row, dst, w);
    }
    /* Reads to EOI, so a file cut after its last scan is caught as well. */
    jpeg_finish_decompress(ci);
    return FRZ_OK;
}

frz_status frz_jpeg_decode(const uint8_t *data, size_t len, const char *name, frz_image **out)
{
    jpeg_job *job = frz_calloc(1, sizeof *job, "JPEG decoder");
    if (!job) return frz_fail_prefix(FRZ_ERR_NOMEM, "%s: JPEG: ", name);
    job->name = name;
    frz_status s = jpeg_run(job, data, len);
    /* Safe at any stage: jpeg_create_decompress zeroes cinfo first, and cinfo started zeroed. */
    jpeg_destroy_decompress(&job->cinfo);
    free(job->row);
    if (s == FRZ_OK) *out = job->img;
    else free(job->img);
    free(job);
    return s;
}
