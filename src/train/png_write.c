/* png_write.c -- 8-bit gray or RGB to a PNG file through libpng, written to a temporary file and renamed. */
#include "train/plot.h"

#include <errno.h>
#include <png.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct png_err {
    char msg[256];
} png_err;

static void on_png_error(png_structp png, png_const_charp msg)
{
    png_err *e = png_get_error_ptr(png);
    snprintf(e->msg, sizeof e->msg, "%s", msg);
    png_longjmp(png, 1);
}

static void on_png_warning(png_structp png, png_const_charp msg)
{
    (void)png;
    frz_log(FRZ_LOG_WARN, "libpng: %s", msg);
}

/* The libpng part, in its own frame so that nothing the longjmp skips is needed afterwards. */
static int write_png(FILE *f, const uint8_t *px, int w, int h, int channels, png_err *err)
{
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, err, on_png_error, on_png_warning);
    if (!png) {
        snprintf(err->msg, sizeof err->msg, "cannot create the libpng writer");
        return 0;
    }
    png_infop info = png_create_info_struct(png);
    if (!info || setjmp(png_jmpbuf(png))) {
        if (!info) snprintf(err->msg, sizeof err->msg, "cannot create the libpng info");
        png_destroy_write_struct(&png, info ? &info : NULL);
        return 0;
    }
    png_init_io(png, f);
    png_set_IHDR(png, info, (png_uint_32)w, (png_uint_32)h, 8, channels == 1 ? PNG_COLOR_TYPE_GRAY : PNG_COLOR_TYPE_RGB,
                 PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_write_info(png, info);
    for (int y = 0; y < h; y++) png_write_row(png, px + (size_t)y * (size_t)w * (size_t)channels);
    png_write_end(png, NULL);
    png_destroy_write_struct(&png, &info);
    return 1;
}

frz_status frz_png_write_rgb(const char *path, const uint8_t *rgb, int w, int h)
{
    return frz_png_write(path, rgb, w, h, 3);
}

frz_status frz_png_write(const char *path, const uint8_t *px, int w, int h, int channels)
{
    if (!path || !px || w < 1 || h < 1 || w > 65535 || h > 65535 || (channels != 1 && channels != 3))
        return frz_fail(FRZ_ERR_INVALID_ARG, "PNG writer: bad arguments (%dx%dx%d)", w, h, channels);
    size_t cap = strlen(path) + 32;
    char *tmp = frz_malloc(cap, "temporary file name");
    if (!tmp) return FRZ_ERR_NOMEM;
    snprintf(tmp, cap, "%s.tmp.%ld", path, (long)getpid());
    FILE *f = fopen(tmp, "wb");
    if (!f) {
        frz_status st = frz_fail(FRZ_ERR_IO, "%s: cannot create %s: %s", path, tmp, strerror(errno));
        free(tmp);
        return st;
    }
    png_err err = {{0}};
    int ok = write_png(f, px, w, h, channels, &err);
    int flushed = fflush(f) == 0 && !ferror(f);
    int e = errno;
    ok = fclose(f) == 0 && ok && flushed;
    frz_status st = FRZ_OK;
    if (!ok)
        st = frz_fail(FRZ_ERR_IO, "%s: cannot write %s: %s", path, tmp, err.msg[0] ? err.msg : strerror(e));
    else if (rename(tmp, path) != 0)
        st = frz_fail(FRZ_ERR_IO, "%s: cannot rename %s to it: %s", path, tmp, strerror(errno));
    if (st != FRZ_OK) unlink(tmp);
    free(tmp);
    return st;
}
