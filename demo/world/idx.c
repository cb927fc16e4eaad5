/* idx.c -- IDX files through zlib's gz* reader (gzipped or plain), checked field by field (see idx.h). */
#include "idx.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

/* Why a read came up short: zlib's own error (damaged gzip data, a cut-off gzip stream) or a clean end of the
 * uncompressed data at `at`. `what` says what was being read. */
static frz_status short_read(gzFile gz, const char *path, size_t at, size_t want, const char *what)
{
    int zerr = Z_OK;
    const char *zmsg = gzerror(gz, &zerr);
    if (zerr == Z_ERRNO)
        return frz_fail(FRZ_ERR_IO, "%s: read error at byte %zu: %s", path, at, strerror(errno));
    if (zerr != Z_OK)
        return frz_fail(FRZ_ERR_FORMAT, "%s: damaged gzip data near byte %zu (compressed byte %ld) while reading %s: %s",
                        path, at, (long)gzoffset(gz), what, zmsg);
    return frz_fail(FRZ_ERR_FORMAT, "%s: truncated: the data ends at byte %zu, %s needs bytes %zu..%zu", path, at, what,
                    at, at + want - 1);
}

/* Reads exactly n bytes at uncompressed offset *at (gzread takes unsigned counts: chunks of 1 GiB at most). */
static frz_status read_exact(gzFile gz, const char *path, size_t *at, void *buf, size_t n, const char *what)
{
    size_t got = 0;
    while (got < n) {
        size_t chunk = FRZ_MIN(n - got, (size_t)1 << 30);
        int r = gzread(gz, (char *)buf + got, (unsigned)chunk);
        if (r <= 0) {
            *at += got;
            return short_read(gz, path, *at, n - got, what);
        }
        got += (size_t)r;
    }
    *at += n;
    return FRZ_OK;
}

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

/* The header: magic, then the sizes; fills a->ndim, a->dims, a->size. */
static frz_status read_header(gzFile gz, const char *path, int ndim, size_t *at, idx_array *a)
{
    uint8_t m[4];
    frz_status st = read_exact(gz, path, at, m, 4, "the magic number");
    if (st) return st;
    if (m[0] != 0 || m[1] != 0)
        return frz_fail(FRZ_ERR_FORMAT, "%s: byte 0: bad magic %02x %02x %02x %02x (an IDX file starts 00 00 08 %02x)",
                        path, m[0], m[1], m[2], m[3], ndim);
    if (m[2] != 0x08)
        return frz_fail(FRZ_ERR_FORMAT, "%s: byte 2: data type 0x%02x is not unsigned byte (0x08)", path, m[2]);
    if (m[3] != ndim)
        return frz_fail(FRZ_ERR_FORMAT, "%s: byte 3: %d dimensions, expected %d", path, m[3], ndim);
    a->ndim = ndim;
    a->size = 1;
    for (int k = 0; k < ndim; k++) {
        uint8_t d[4];
        size_t where = *at;
        if ((st = read_exact(gz, path, at, d, 4, "a dimension size"))) return st;
        a->dims[k] = be32(d);
        if (a->dims[k] == 0) return frz_fail(FRZ_ERR_FORMAT, "%s: byte %zu: dimension %d is 0", path, where, k);
        if (a->dims[k] > IDX_MAX_BYTES / a->size)
            return frz_fail(FRZ_ERR_FORMAT, "%s: byte %zu: the sizes give more than %zu bytes of data", path, where,
                            IDX_MAX_BYTES);
        a->size *= a->dims[k];
    }
    return FRZ_OK;
}

frz_status idx_load(const char *path, int ndim, idx_array *out)
{
    memset(out, 0, sizeof *out);
    if (ndim < 1 || ndim > IDX_MAX_DIMS) return frz_fail(FRZ_ERR_INVALID_ARG, "%s: %d dimensions asked", path, ndim);
    gzFile gz = gzopen(path, "rb");
    if (!gz) return frz_fail(FRZ_ERR_IO, "%s: cannot open: %s", path, errno ? strerror(errno) : "out of memory");
    gzbuffer(gz, 1 << 17);
    idx_array a = {0};
    size_t at = 0;
    frz_status st = read_header(gz, path, ndim, &at, &a);
    if (st == FRZ_OK && !(a.data = frz_malloc(a.size, "IDX data"))) st = FRZ_ERR_NOMEM;
    if (st == FRZ_OK) st = read_exact(gz, path, &at, a.data, a.size, "the data the header promises");
    if (st == FRZ_OK) {
        /* Nothing may follow; reading on also makes zlib check the gzip trailer (CRC and length). */
        char extra;
        int r = gzread(gz, &extra, 1);
        int zerr = Z_OK;
        const char *zmsg = gzerror(gz, &zerr);
        if (r > 0)
            st = frz_fail(FRZ_ERR_FORMAT, "%s: byte %zu: data after the %zu bytes the header promises", path, at,
                          a.size);
        else if (zerr != Z_OK)
            st = frz_fail(FRZ_ERR_FORMAT, "%s: damaged gzip data near byte %zu (compressed byte %ld): %s", path, at,
                          (long)gzoffset(gz), zmsg);
    }
    gzclose(gz);
    if (st) {
        free(a.data);
        return st;
    }
    *out = a;
    return FRZ_OK;
}

void idx_free(idx_array *a)
{
    if (!a) return;
    free(a->data);
    memset(a, 0, sizeof *a);
}

frz_status fmnist_load(const char *dir, const char *prefix, fmnist_split *out)
{
    memset(out, 0, sizeof *out);
    size_t cap = strlen(dir) + strlen(prefix) + 40;
    char *ipath = frz_malloc(cap, "IDX path"), *lpath = frz_malloc(cap, "IDX path");
    idx_array im = {0}, lb = {0};
    frz_status st = ipath && lpath ? FRZ_OK : FRZ_ERR_NOMEM;
    if (st == FRZ_OK) {
        snprintf(ipath, cap, "%s/%s-images-idx3-ubyte.gz", dir, prefix);
        snprintf(lpath, cap, "%s/%s-labels-idx1-ubyte.gz", dir, prefix);
        st = idx_load(ipath, 3, &im);
    }
    if (st == FRZ_OK && (im.dims[1] != FMNIST_SIDE || im.dims[2] != FMNIST_SIDE))
        st = frz_fail(FRZ_ERR_FORMAT, "%s: bytes 8..15: images of %u x %u, Fashion-MNIST's are 28 x 28", ipath,
                      im.dims[1], im.dims[2]);
    if (st == FRZ_OK) st = idx_load(lpath, 1, &lb);
    if (st == FRZ_OK && lb.dims[0] != im.dims[0])
        st = frz_fail(FRZ_ERR_FORMAT, "%s: byte 4: %u labels for the %u images of %s", lpath, lb.dims[0], im.dims[0],
                      ipath);
    for (size_t i = 0; st == FRZ_OK && i < lb.size; i++)
        if (lb.data[i] >= FMNIST_CLASSES)
            st = frz_fail(FRZ_ERR_FORMAT, "%s: byte %zu: label %u is not a class (0..9)", lpath, 8 + i, lb.data[i]);
    free(ipath);
    free(lpath);
    if (st) {
        idx_free(&im);
        idx_free(&lb);
        return st;
    }
    out->n = im.dims[0];
    out->images = im.data;
    out->labels = lb.data;
    return FRZ_OK;
}

void fmnist_free(fmnist_split *s)
{
    if (!s) return;
    free(s->images);
    free(s->labels);
    memset(s, 0, sizeof *s);
}
