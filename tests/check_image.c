/* check_image.c -- image decoding (PNG, JPEG, raw RGB), malformed input, size limits, allocation failures, and
 * the preprocessing (padding, resize, normalisation).
 *
 * References come from tests/reference/make_image_fixtures.py: Pillow's decode of each file with alpha
 * composited on black (PNG must match exactly; JPEG within the manifest's tolerance, 2 levels, since libjpeg
 * builds may round differently), and Pillow's float resize of the zero-padded images. Malformed files are made
 * here from the valid fixtures by one edit each. */
#include "image/image.h"
#include "util/testutil.h"

#include <fcntl.h>
#include <jansson.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

/* ---- helpers ---------------------------------------------------------------------------------------------- */

static json_t *manifest(void)
{
    static json_t *m;
    if (!m) {
        json_error_t e;
        m = json_load_file(fixture_path("images/manifest.json"), 0, &e);
        ck_assert_msg(m != NULL, "manifest: %s (line %d)", e.text, e.line);
    }
    return m;
}

/* A fixture's bytes (malloc'd). */
static uint8_t *fixture_bytes(const char *name, size_t *len)
{
    char rel[256];
    snprintf(rel, sizeof rel, "images/%s", name);
    return (uint8_t *)read_file_or_fail(fixture_path(rel), len);
}

static const char *fixture_file(const char *name)
{
    char rel[256];
    snprintf(rel, sizeof rel, "images/%s", name);
    return fixture_path(rel);
}

/* Largest absolute difference between img's pixels and expected (w, h, 3). */
static int max_diff(const frz_image *img, const uint8_t *expected, int w, int h)
{
    ck_assert_int_eq(frz_image_width(img), w);
    ck_assert_int_eq(frz_image_height(img), h);
    const uint8_t *p = frz_image_pixels(img);
    int worst = 0;
    for (size_t i = 0; i < (size_t)w * h * 3; i++) worst = FRZ_MAX(worst, abs((int)p[i] - (int)expected[i]));
    return worst;
}

static uint32_t crc32_of(const uint8_t *p, size_t n)
{
    uint32_t c = 0xFFFFFFFFu;
    for (size_t i = 0; i < n; i++) {
        c ^= p[i];
        for (int k = 0; k < 8; k++) c = (c >> 1) ^ (0xEDB88320u & (0u - (c & 1u)));
    }
    return c ^ 0xFFFFFFFFu;
}

static void put_be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

/* Appends a PNG chunk (length, type, data, CRC) at buf + *n. */
static void put_chunk(uint8_t *buf, size_t *n, const char *type, const uint8_t *data, uint32_t len)
{
    put_be32(buf + *n, len);
    memcpy(buf + *n + 4, type, 4);
    if (len) memcpy(buf + *n + 8, data, len);
    put_be32(buf + *n + 8 + len, crc32_of(buf + *n + 4, 4 + (size_t)len));
    *n += 12 + (size_t)len;
}

/* A PNG with the given IHDR size (8-bit RGB) and a few bytes of IDAT: valid up to the pixel data. */
static size_t png_with_size(uint8_t *buf, uint32_t w, uint32_t h)
{
    static const uint8_t sig[8] = {0x89, 'P', 'N', 'G', 0x0D, 0x0A, 0x1A, 0x0A};
    memcpy(buf, sig, 8);
    size_t n = 8;
    uint8_t ihdr[13] = {0};
    put_be32(ihdr, w);
    put_be32(ihdr + 4, h);
    ihdr[8] = 8;
    ihdr[9] = 2;
    put_chunk(buf, &n, "IHDR", ihdr, 13);
    static const uint8_t idat[] = {0x78, 0x9C, 0x63, 0x00, 0x00, 0x00, 0x01, 0x00, 0x01};
    put_chunk(buf, &n, "IDAT", idat, sizeof idat);
    put_chunk(buf, &n, "IEND", NULL, 0);
    return n;
}

/* Offset of the first JPEG marker `m` (the FF byte), scanning segment by segment from SOI; 0 if none. */
static size_t jpeg_find_marker(const uint8_t *d, size_t n, uint8_t m)
{
    size_t i = 2;
    while (i + 4 <= n && d[i] == 0xFF) {
        if (d[i + 1] == m) return i;
        if (d[i + 1] == 0xDA) return 0; /* entropy data follows: stop */
        i += 2 + ((size_t)d[i + 2] << 8 | d[i + 3]);
    }
    return 0;
}

/* Lowers the address-space limit to the current size plus `extra` bytes (returns the old limit), so a huge
 * allocation anywhere (our code, libpng, libjpeg) fails instead of succeeding lazily. */
static struct rlimit limit_address_space(size_t extra)
{
    struct rlimit old;
    ck_assert_int_eq(getrlimit(RLIMIT_AS, &old), 0);
    FILE *f = fopen("/proc/self/statm", "r");
    ck_assert_ptr_nonnull(f);
    unsigned long pages = 0;
    ck_assert_int_eq(fscanf(f, "%lu", &pages), 1);
    fclose(f);
    struct rlimit lim = old;
    rlim_t want = (rlim_t)pages * (rlim_t)sysconf(_SC_PAGESIZE) + extra;
    if (old.rlim_cur == RLIM_INFINITY || want < old.rlim_cur) lim.rlim_cur = want;
    ck_assert_int_eq(setrlimit(RLIMIT_AS, &lim), 0);
    return old;
}

/* ---- decoding every variant ----------------------------------------------------------------------------------- */

/* Each manifest entry through the file path and the memory path: identical results, equal to Pillow's. */
START_TEST(test_decode_variants)
{
    json_t *dec = json_object_get(manifest(), "decode");
    ck_assert_int_ge(json_array_size(dec), 25);
    size_t i;
    json_t *e;
    int n_png = 0, n_jpeg = 0, jpeg_worst = 0;
    json_array_foreach(dec, i, e) {
        const char *file = json_string_value(json_object_get(e, "file"));
        int w = (int)json_integer_value(json_object_get(e, "width"));
        int h = (int)json_integer_value(json_object_get(e, "height"));
        int tol = (int)json_integer_value(json_object_get(e, "tolerance"));
        size_t elen = 0, len = 0;
        uint8_t *expected = fixture_bytes(json_string_value(json_object_get(e, "expected")), &elen);
        ck_assert_uint_eq(elen, (size_t)w * h * 3);

        frz_image *a = NULL, *b = NULL;
        frz_status s = frz_image_load_file(fixture_file(file), &a);
        ck_assert_msg(s == FRZ_OK, "%s: %s", file, frz_last_error());
        uint8_t *data = fixture_bytes(file, &len);
        s = frz_image_load_memory(data, len, file, &b);
        ck_assert_msg(s == FRZ_OK, "%s (memory): %s", file, frz_last_error());
        int d = max_diff(a, expected, w, h);
        ck_assert_msg(d <= tol, "%s (%s): differs from Pillow by up to %d (tolerance %d)", file,
                      json_string_value(json_object_get(e, "variant")), d, tol);
        ck_assert_int_eq(max_diff(b, frz_image_pixels(a), w, h), 0);
        if (file[0] == 'p') n_png++;
        else {
            n_jpeg++;
            jpeg_worst = FRZ_MAX(jpeg_worst, d);
        }
        frz_image_free(a);
        frz_image_free(b);
        free(data);
        free(expected);
    }
    ck_assert_int_ge(n_png, 19);
    ck_assert_int_ge(n_jpeg, 6);
    fprintf(stderr, "image: %d PNG variants exact, %d JPEG variants within %d of Pillow\n", n_png, n_jpeg,
            jpeg_worst);
}
END_TEST

/* Loading a file many times keeps neither its mapping nor its descriptor (LeakSanitizer sees neither). */
START_TEST(test_file_resources_released)
{
    int fd0 = open("/dev/null", O_RDONLY);
    ck_assert_int_ge(fd0, 0);
    close(fd0);
    const char *path = fixture_file("png_rgb8.png");
    unsigned long before = 0, after = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    ck_assert_int_eq(fscanf(f, "%lu", &before), 1);
    fclose(f);
    for (int i = 0; i < 2000; i++) {
        frz_image *img = NULL;
        ck_assert_int_eq(frz_image_load_file(path, &img), FRZ_OK);
        frz_image_free(img);
        ck_assert_int_eq(frz_image_load_file("/nonexistent.png", &img), FRZ_ERR_IO);
    }
    f = fopen("/proc/self/statm", "r");
    ck_assert_int_eq(fscanf(f, "%lu", &after), 1);
    fclose(f);
    /* A leaked mapping per load would be 2000 pages. */
    ck_assert_int_lt((long)after - (long)before, 500);
    int fd1 = open("/dev/null", O_RDONLY);
    ck_assert_int_eq(fd1, fd0);
    close(fd1);
}
END_TEST

/* Alpha on black, checked on hand-picked pixels the script set: alpha 0, 255, 1, 254 in the first row. */
START_TEST(test_alpha_on_black)
{
    frz_image *img = NULL;
    size_t len;
    ck_assert_int_eq(frz_image_load_file(fixture_file("png_rgba8.png"), &img), FRZ_OK);
    uint8_t *expected = fixture_bytes("png_rgba8.rgb", &len);
    const uint8_t *p = frz_image_pixels(img);
    for (int c = 0; c < 3; c++) ck_assert_int_eq(p[c], 0); /* alpha 0: black whatever the colour */
    ck_assert_int_eq(max_diff(img, expected, 13, 9), 0);
    frz_image_free(img);
    free(expected);
}
END_TEST

START_TEST(test_from_rgb8)
{
    /* 3 x 2 pixels in rows of 11 bytes: 9 bytes of pixels and 2 of junk that must not be copied. */
    uint8_t raw[22];
    for (int i = 0; i < 22; i++) raw[i] = (uint8_t)(i * 13 + 5);
    frz_image *img = NULL;
    ck_assert_int_eq(frz_image_from_rgb8(raw, 3, 2, 11, &img), FRZ_OK);
    ck_assert_int_eq(frz_image_width(img), 3);
    ck_assert_int_eq(frz_image_height(img), 2);
    ck_assert_mem_eq(frz_image_pixels(img), raw, 9);
    ck_assert_mem_eq(frz_image_pixels(img) + 9, raw + 11, 9);
    frz_image_free(img);

    img = (frz_image *)raw; /* must be reset to NULL on failure */
    ck_assert_int_eq(frz_image_from_rgb8(raw, 3, 2, 8, &img), FRZ_ERR_INVALID_ARG);
    ck_assert_ptr_null(img);
    ASSERT_MSG_HAS("stride 8");
    ck_assert_int_eq(frz_image_from_rgb8(raw, 0, 2, 11, &img), FRZ_ERR_INVALID_ARG);
    ck_assert_int_eq(frz_image_from_rgb8(raw, 3, -1, 11, &img), FRZ_ERR_INVALID_ARG);
    ck_assert_int_eq(frz_image_from_rgb8(NULL, 3, 2, 11, &img), FRZ_ERR_INVALID_ARG);
    ck_assert_int_eq(frz_image_from_rgb8(raw, 3, 2, 11, NULL), FRZ_ERR_INVALID_ARG);
    /* Over the limits: rejected before the (huge) source would be read. */
    ck_assert_int_eq(frz_image_from_rgb8(raw, 40000, 1, 120000, &img), FRZ_ERR_UNSUPPORTED);
    ck_assert_int_eq(frz_image_from_rgb8(raw, 9000, 9000, 27000, &img), FRZ_ERR_UNSUPPORTED);
    ck_assert_ptr_null(img);
    frz_image_free(NULL);
    ck_assert_int_eq(frz_image_width(NULL), 0);
    ck_assert_ptr_null(frz_image_pixels(NULL));
}
END_TEST

/* ---- not an image --------------------------------------------------------------------------------------------- */

START_TEST(test_not_an_image)
{
    frz_image *img = NULL;
    ck_assert_int_eq(frz_image_load_memory("hello world", 11, "greeting.txt", &img), FRZ_ERR_FORMAT);
    ck_assert_ptr_null(img);
    ASSERT_MSG_HAS("greeting.txt");
    ASSERT_MSG_HAS("68 65 6C 6C 6F 20 77 6F"); /* the first 8 bytes */

    ck_assert_int_eq(frz_image_load_memory("", 0, "empty.png", &img), FRZ_ERR_FORMAT);
    ASSERT_MSG_HAS("empty.png");
    ck_assert_int_eq(frz_image_load_memory("\x89PN", 3, NULL, &img), FRZ_ERR_FORMAT);
    ASSERT_MSG_HAS("<memory>");
    ck_assert_int_eq(frz_image_load_memory("GIF89a\1\0\1\0\0\0\0", 13, "anim.gif", &img), FRZ_ERR_UNSUPPORTED);
    ASSERT_MSG_HAS("GIF");
    ck_assert_int_eq(frz_image_load_memory("RIFF\0\0\0\0WEBPVP8 ", 16, "a.webp", &img), FRZ_ERR_UNSUPPORTED);
    ASSERT_MSG_HAS("WebP");

    const char *empty = write_temp_file("empty.jpg", "", 0);
    ck_assert_int_eq(frz_image_load_file(empty, &img), FRZ_ERR_FORMAT);
    ASSERT_MSG_HAS("empty.jpg");
    ck_assert_int_eq(frz_image_load_file("/nonexistent/cat.png", &img), FRZ_ERR_IO);
    ASSERT_MSG_HAS("/nonexistent/cat.png");
    ck_assert_int_eq(frz_image_load_file(make_temp_dir(), &img), FRZ_ERR_IO);
    ck_assert_int_eq(frz_image_load_file(NULL, &img), FRZ_ERR_INVALID_ARG);
    ck_assert_int_eq(frz_image_load_memory(NULL, 5, "x", &img), FRZ_ERR_INVALID_ARG);
    ck_assert_ptr_null(img);
}
END_TEST

/* ---- corrupt and truncated files ------------------------------------------------------------------------------ */

static const char *const CORRUPTIBLE[] = {
    "png_rgb8.png", "png_palette_trns.png", "png_adam7_rgba16.png", "png_gray16.png",
    "jpeg_baseline420.jpg", "jpeg_progressive.jpg", "jpeg_cmyk_adobe.jpg", "jpeg_gray.jpg",
};
#define N_CORRUPTIBLE (int)(sizeof CORRUPTIBLE / sizeof CORRUPTIBLE[0])

/* Every prefix length from a list spread over the file is FRZ_ERR_FORMAT naming the file, through the file path
 * (a truncated file on disk) and memory. */
START_TEST(test_truncated)
{
    const char *name = CORRUPTIBLE[_i];
    size_t len;
    uint8_t *data = fixture_bytes(name, &len);
    size_t cuts[] = {1, 2, 3, 7, 8, 12, 16, 20, 24, 33, 40, len / 4, len / 3, len / 2, 2 * len / 3,
                     len - 20, len - 12, len - 8, len - 4, len - 2, len - 1};
    int truncated_msgs = 0;
    for (size_t k = 0; k < sizeof cuts / sizeof cuts[0]; k++) {
        size_t n = cuts[k];
        frz_image *img = NULL;
        frz_status s = frz_image_load_memory(data, n, name, &img);
        ck_assert_msg(s == FRZ_ERR_FORMAT, "%s cut to %zu of %zu bytes: status %d (%s)", name, n, len, s,
                      frz_last_error());
        ck_assert_ptr_null(img);
        ASSERT_MSG_HAS(name);
        truncated_msgs += strstr(frz_last_error(), "truncated") != NULL;
    }
    /* Past the signature the messages say why (libpng's or libjpeg's text plus ours). */
    ck_assert_int_ge(truncated_msgs, 8);
    frz_image *img = NULL;
    const char *path = write_temp_file(name, data, len / 2);
    ck_assert_int_eq(frz_image_load_file(path, &img), FRZ_ERR_FORMAT);
    ASSERT_MSG_HAS(path);
    free(data);
}
END_TEST

/* PNG: a flipped byte in IHDR, in IDAT and in the signature; a chunk type libpng does not know as critical. */
START_TEST(test_png_corrupt)
{
    size_t len;
    uint8_t *good = fixture_bytes("png_rgb8.png", &len);
    uint8_t *d = malloc(len);
    frz_image *img = NULL;

    memcpy(d, good, len);
    d[19] ^= 0x01; /* IHDR width, low byte: the CRC no longer matches */
    ck_assert_int_eq(frz_image_load_memory(d, len, "bad_ihdr.png", &img), FRZ_ERR_FORMAT);
    ASSERT_MSG_HAS("bad_ihdr.png");
    ASSERT_MSG_HAS("CRC");

    /* The IDAT chunk follows IHDR (which ends at 33): a flipped byte in its data, then one in its CRC. */
    ck_assert(memcmp(good + 37, "IDAT", 4) == 0);
    size_t idat_len = (size_t)good[33] << 24 | (size_t)good[34] << 16 | (size_t)good[35] << 8 | good[36];
    memcpy(d, good, len);
    d[41 + idat_len / 2] ^= 0x40;
    ck_assert_int_eq(frz_image_load_memory(d, len, "bad_idat.png", &img), FRZ_ERR_FORMAT);
    ASSERT_MSG_HAS("bad_idat.png: PNG: ");
    memcpy(d, good, len);
    d[41 + idat_len + 2] ^= 0x40;
    ck_assert_int_eq(frz_image_load_memory(d, len, "bad_crc.png", &img), FRZ_ERR_FORMAT);
    ASSERT_MSG_HAS("bad_crc.png: PNG: IDAT: CRC error");

    memcpy(d, good, len);
    d[1] = 'Q';
    ck_assert_int_eq(frz_image_load_memory(d, len, "bad_sig.png", &img), FRZ_ERR_FORMAT);
    ASSERT_MSG_HAS("not a PNG or JPEG");

    /* IHDR with colour type 5 (invalid), CRC fixed: libpng's own validation speaks. */
    memcpy(d, good, len);
    d[25] = 5;
    put_be32(d + 29, crc32_of(d + 12, 17));
    ck_assert_int_eq(frz_image_load_memory(d, len, "bad_color.png", &img), FRZ_ERR_FORMAT);
    ASSERT_MSG_HAS("bad_color.png: PNG: ");

    /* Zero width, CRC fixed. */
    memcpy(d, good, len);
    put_be32(d + 16, 0);
    put_be32(d + 29, crc32_of(d + 12, 17));
    ck_assert_int_eq(frz_image_load_memory(d, len, "zero.png", &img), FRZ_ERR_FORMAT);
    ck_assert_ptr_null(img);
    free(d);
    free(good);
}
END_TEST

static int warn_count;
static char warn_text[512];
static void count_warnings(frz_log_level level, const char *text, void *user)
{
    (void)user;
    if (level == FRZ_LOG_WARN) {
        if (!warn_count) snprintf(warn_text, sizeof warn_text, "%s", text);
        warn_count++;
    }
}

/* A bad CRC on an ancillary chunk is a warning: the image still decodes, the warning reaches the log. */
START_TEST(test_png_ancillary_crc_is_warning)
{
    size_t len;
    uint8_t *good = fixture_bytes("png_rgb8.png", &len);
    uint8_t *d = malloc(len + 64);
    memcpy(d, good, 33); /* signature + IHDR */
    size_t n = 33;
    put_chunk(d, &n, "tEXt", (const uint8_t *)"Comment\0hello", 13);
    d[n - 1] ^= 0xFF; /* break its CRC */
    memcpy(d + n, good + 33, len - 33);
    n += len - 33;
    warn_count = 0;
    frz_set_log_callback(count_warnings, NULL, FRZ_LOG_DEBUG);
    frz_image *img = NULL, *ref = NULL;
    ck_assert_msg(frz_image_load_memory(d, n, "text.png", &img) == FRZ_OK, "%s", frz_last_error());
    frz_set_log_callback(NULL, NULL, FRZ_LOG_ERROR);
    ck_assert_int_ge(warn_count, 1);
    ck_assert_msg(strstr(warn_text, "text.png: PNG:") && strstr(warn_text, "CRC"), "%s", warn_text);
    ck_assert_int_eq(frz_image_load_memory(good, len, "good.png", &ref), FRZ_OK);
    ck_assert_int_eq(max_diff(img, frz_image_pixels(ref), 13, 9), 0);
    frz_image_free(img);
    frz_image_free(ref);
    free(d);
    free(good);
}
END_TEST

START_TEST(test_jpeg_corrupt)
{
    size_t len;
    uint8_t *good = fixture_bytes("jpeg_baseline420.jpg", &len);
    uint8_t *d = malloc(len + 256);
    frz_image *img = NULL;

    /* SOI followed by garbage without a single marker. */
    d[0] = 0xFF, d[1] = 0xD8, d[2] = 0xFF;
    for (int i = 3; i < 200; i++) d[i] = (uint8_t)(i * 7 % 0xFE);
    ck_assert_int_eq(frz_image_load_memory(d, 200, "garbage.jpg", &img), FRZ_ERR_FORMAT);
    ck_assert_ptr_null(img);
    ASSERT_MSG_HAS("garbage.jpg: JPEG: ");

    /* The tables after SOI overwritten with garbage: no quantisation / Huffman tables, no frame. */
    memcpy(d, good, len);
    size_t sof = jpeg_find_marker(good, len, 0xC0);
    ck_assert_uint_gt(sof, 20);
    for (size_t i = 3; i < sof; i++) d[i] = (uint8_t)(i * 31 % 0xFE); /* keeps the FF D8 FF signature */
    ck_assert_int_eq(frz_image_load_memory(d, len, "notables.jpg", &img), FRZ_ERR_FORMAT);
    ASSERT_MSG_HAS("notables.jpg: JPEG: ");

    /* SOF with 0 components. */
    memcpy(d, good, len);
    d[sof + 9] = 0;
    ck_assert_int_eq(frz_image_load_memory(d, len, "nocomp.jpg", &img), FRZ_ERR_FORMAT);

    /* 12-bit samples and a lossless frame (SOF3): valid JPEG that this libjpeg build does not decode. */
    memcpy(d, good, len);
    d[sof + 4] = 12;
    ck_assert_int_eq(frz_image_load_memory(d, len, "12bit.jpg", &img), FRZ_ERR_UNSUPPORTED);
    ASSERT_MSG_HAS("12bit.jpg: JPEG: ");
    memcpy(d, good, len);
    d[sof + 1] = 0xC3;
    ck_assert_int_eq(frz_image_load_memory(d, len, "lossless.jpg", &img), FRZ_ERR_UNSUPPORTED);

    /* SOF with width 0. */
    memcpy(d, good, len);
    d[sof + 7] = 0, d[sof + 8] = 0;
    ck_assert_int_eq(frz_image_load_memory(d, len, "zerowidth.jpg", &img), FRZ_ERR_FORMAT);
    ck_assert_ptr_null(img);
    free(d);
    free(good);
}
END_TEST

/* Corrupt entropy data: libjpeg recovers (as Pillow does); the warning is logged, not printed. */
START_TEST(test_jpeg_corrupt_data_is_warning)
{
    size_t len;
    uint8_t *d = fixture_bytes("photo_640x480.jpg", &len);
    size_t sos = jpeg_find_marker(d, len, 0xDA);
    ck_assert_uint_gt(sos, 0);
    d[sos + 2000] = 0xFF; /* a marker in the middle of the entropy data */
    d[sos + 2001] = 0xD5; /* RST5, out of sequence */
    warn_count = 0;
    frz_set_log_callback(count_warnings, NULL, FRZ_LOG_DEBUG);
    frz_image *img = NULL;
    ck_assert_msg(frz_image_load_memory(d, len, "photo.jpg", &img) == FRZ_OK, "%s", frz_last_error());
    frz_set_log_callback(NULL, NULL, FRZ_LOG_ERROR);
    ck_assert_int_ge(warn_count, 1);
    ck_assert_msg(strstr(warn_text, "photo.jpg: JPEG: Corrupt JPEG data"), "%s", warn_text);
    ck_assert_int_eq(frz_image_width(img), 640);
    frz_image_free(img);
    free(d);
}
END_TEST

/* Nothing reaches stderr, whatever the input: run every corrupt case with fd 2 pointing at a file. */
START_TEST(test_nothing_printed)
{
    char log[4096]; /* a copy: fixture_path reuses the rotating buffer write_temp_file returns */
    snprintf(log, sizeof log, "%s", write_temp_file("stderr.txt", "", 0));
    fflush(stderr);
    int saved = dup(2);
    int fd = open(log, O_WRONLY | O_TRUNC);
    ck_assert_int_ge(fd, 0);
    dup2(fd, 2);
    close(fd);
    size_t len;
    for (int f = 0; f < N_CORRUPTIBLE; f++) {
        uint8_t *d = fixture_bytes(CORRUPTIBLE[f], &len);
        for (size_t cut = 1; cut < len; cut += 1 + len / 16) {
            frz_image *img = NULL;
            frz_image_load_memory(d, cut, "x", &img);
            frz_image_free(img);
        }
        for (size_t i = 2; i < len; i += 1 + len / 24) { /* flipped bytes everywhere */
            d[i] ^= 0x5A;
            frz_image *img = NULL;
            frz_image_load_memory(d, len, "x", &img);
            frz_image_free(img);
            d[i] ^= 0x5A;
        }
        free(d);
    }
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    char *text = read_file_or_fail(log, &len);
    ck_assert_msg(len == 0, "the library printed: %s", text);
    free(text);
}
END_TEST

/* ---- size limits: rejected from the header, before any allocation ---------------------------------------------- */

START_TEST(test_huge_png_header)
{
    uint8_t buf[128];
    frz_image *img = NULL;
    struct rlimit old = limit_address_space((size_t)256 << 20);
    static const uint32_t sizes[][2] = {{100000, 100000}, {40000, 1}, {1, 40000}, {20000, 20000}, {8193, 8193}};
    for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
        size_t n = png_with_size(buf, sizes[k][0], sizes[k][1]);
        frz_test_fail_alloc_at(0); /* resets the allocation count */
        frz_status s = frz_image_load_memory(buf, n, "huge.png", &img);
        ck_assert_msg(s == FRZ_ERR_UNSUPPORTED, "%u x %u: %d %s", sizes[k][0], sizes[k][1], s, frz_last_error());
        ck_assert_int_eq(frz_test_alloc_count(), 0); /* not even libpng's structures */
        ck_assert_ptr_null(img);
        char want[64];
        snprintf(want, sizeof want, "%u x %u pixels", sizes[k][0], sizes[k][1]);
        ASSERT_MSG_HAS(want);
        ASSERT_MSG_HAS("32768 pixels per side");
        ASSERT_MSG_HAS("64 megapixels");
    }
    /* Just under the limits the header is accepted and the (bogus) pixel data is what fails. */
    size_t n = png_with_size(buf, 8192, 8192);
    ck_assert_int_eq(frz_image_load_memory(buf, n, "big.png", &img), FRZ_ERR_FORMAT);
    setrlimit(RLIMIT_AS, &old);
}
END_TEST

START_TEST(test_huge_jpeg_header)
{
    size_t len;
    uint8_t *d = fixture_bytes("jpeg_baseline420.jpg", &len);
    size_t sof = jpeg_find_marker(d, len, 0xC0);
    ck_assert_uint_gt(sof, 0);
    frz_image *img = NULL;
    struct rlimit old = limit_address_space((size_t)256 << 20);
    /* SOF: FF C0, length (2), precision (1), height (2), width (2). 65000 x 65000 is 4.2 gigapixels. */
    static const uint16_t sizes[][2] = {{65000, 65000}, {40000, 8}, {8, 40000}, {9000, 9000}};
    for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
        d[sof + 5] = (uint8_t)(sizes[k][1] >> 8), d[sof + 6] = (uint8_t)sizes[k][1];
        d[sof + 7] = (uint8_t)(sizes[k][0] >> 8), d[sof + 8] = (uint8_t)sizes[k][0];
        frz_test_fail_alloc_at(0);
        frz_status s = frz_image_load_memory(d, len, "huge.jpg", &img);
        ck_assert_msg(s == FRZ_ERR_UNSUPPORTED, "%u x %u: %d %s", sizes[k][0], sizes[k][1], s, frz_last_error());
        ck_assert_int_eq(frz_test_alloc_count(), 1); /* the decoder state only; libjpeg's own stay small (rlimit) */
        ck_assert_ptr_null(img);
        char want[64];
        snprintf(want, sizeof want, "%u x %u pixels", sizes[k][0], sizes[k][1]);
        ASSERT_MSG_HAS(want);
    }
    setrlimit(RLIMIT_AS, &old);
    free(d);
}
END_TEST

/* jpeg_progressive.jpg with its first scan (DC) repeated `reps` more times; malloc'd, length in *n. */
static uint8_t *repeat_first_scan(const uint8_t *good, size_t len, size_t reps, size_t *n)
{
    size_t sos = jpeg_find_marker(good, len, 0xDA);
    ck_assert_uint_gt(sos, 0);
    /* The scan: its header, then entropy data up to the next marker that is not FF 00 or RSTn. */
    size_t end = sos + 2 + ((size_t)good[sos + 2] << 8 | good[sos + 3]);
    while (end + 1 < len && !(good[end] == 0xFF && good[end + 1] != 0 && (good[end + 1] & 0xF8) != 0xD0)) end++;
    size_t scan = end - sos;
    uint8_t *d = malloc(len + scan * reps);
    memcpy(d, good, end);
    *n = end;
    for (size_t r = 0; r < reps; r++, *n += scan) memcpy(d + *n, good + sos, scan);
    memcpy(d + *n, good + end, len - end);
    *n += len - end;
    return d;
}

/* A progressive file made of hundreds of scans (a CPU bomb) stops at FRZ_IMAGE_MAX_JPEG_SCANS. */
START_TEST(test_jpeg_scan_limit)
{
    size_t len, n;
    uint8_t *good = fixture_bytes("jpeg_progressive.jpg", &len);
    uint8_t *d = repeat_first_scan(good, len, FRZ_IMAGE_MAX_JPEG_SCANS + 50, &n);
    frz_image *img = NULL, *ref = NULL;
    ck_assert_int_eq(frz_image_load_memory(d, n, "bomb.jpg", &img), FRZ_ERR_UNSUPPORTED);
    ASSERT_MSG_HAS("bomb.jpg: JPEG: more than 256 scans");
    ck_assert_ptr_null(img);
    free(d);
    /* A few repeats are within the limit: libjpeg warns about the progression, and since a DC scan overwrites
     * what the previous one stored, the picture is unchanged. */
    d = repeat_first_scan(good, len, 3, &n);
    ck_assert_msg(frz_image_load_memory(d, n, "few.jpg", &img) == FRZ_OK, "%s", frz_last_error());
    ck_assert_int_eq(frz_image_load_memory(good, len, "good.jpg", &ref), FRZ_OK);
    ck_assert_int_eq(max_diff(img, frz_image_pixels(ref), 13, 9), 0);
    frz_image_free(img);
    frz_image_free(ref);
    free(d);
    free(good);
}
END_TEST

/* ---- allocation failures ------------------------------------------------------------------------------------- */

/* Fails allocation k = 1, 2, ... of a decode until a run makes fewer than k allocations. A failure is
 * FRZ_ERR_NOMEM with *out NULL (LeakSanitizer checks that nothing leaks); libpng may survive a failed optional
 * allocation, in which case the image must still be right. */
static void fail_each_allocation(const char *name)
{
    size_t len;
    uint8_t *data = fixture_bytes(name, &len);
    frz_image *ref = NULL;
    ck_assert_int_eq(frz_image_load_memory(data, len, name, &ref), FRZ_OK);
    long k = 1, failures = 0;
    for (;; k++) {
        frz_image *img = NULL;
        frz_test_fail_alloc_at(k);
        frz_status s = frz_image_load_memory(data, len, name, &img);
        long made = frz_test_alloc_count();
        frz_test_fail_alloc_at(0);
        if (s == FRZ_OK) {
            ck_assert_int_eq(max_diff(img, frz_image_pixels(ref), frz_image_width(ref), frz_image_height(ref)), 0);
            frz_image_free(img);
            if (made < k) break;
            continue;
        }
        ck_assert_msg(s == FRZ_ERR_NOMEM, "%s, allocation %ld failed: status %d (%s)", name, k, s, frz_last_error());
        ck_assert_ptr_null(img);
        ASSERT_MSG_HAS(name);
        failures++;
    }
    ck_assert_int_ge(failures, 2);
    frz_image_free(ref);
    free(data);
}

static const char *const NOMEM_FILES[] = {"png_rgb8.png", "png_rgba16.png", "png_adam7_palette_trns.png",
                                          "jpeg_baseline420.jpg", "jpeg_cmyk_adobe.jpg"};

START_TEST(test_nomem_decode) { fail_each_allocation(NOMEM_FILES[_i]); }
END_TEST

START_TEST(test_nomem_preprocess)
{
    frz_image *img = NULL;
    ck_assert_int_eq(frz_image_load_file(fixture_file("prep_37x22.png"), &img), FRZ_OK);
    float out[3 * 16 * 16], ref[3 * 16 * 16];
    frz_image_prep_params p;
    frz_image_prep_params_init(&p);
    p.size = 16;
    ck_assert_int_eq(frz_image_preprocess(img, &p, ref, 3 * 16 * 16, NULL), FRZ_OK);
    long k = 1;
    for (;; k++) {
        frz_test_fail_alloc_at(k);
        frz_status s = frz_image_preprocess(img, &p, out, 3 * 16 * 16, NULL);
        frz_test_fail_alloc_at(0);
        if (s == FRZ_OK) break;
        ck_assert_int_eq(s, FRZ_ERR_NOMEM);
    }
    ck_assert_int_gt(k, 4);
    ck_assert_mem_eq(out, ref, sizeof ref);
    frz_image_free(img);
}
END_TEST

/* ---- preprocessing -------------------------------------------------------------------------------------------- */

/* Parameters that make the output the resampled value on the [0, 1] scale: v / 255. */
static frz_image_prep_params unit_params(int size, frz_image_filter f)
{
    frz_image_prep_params p;
    frz_image_prep_params_init(&p);
    p.size = size;
    p.filter = f;
    for (int c = 0; c < 3; c++) p.mean[c] = 0.0f, p.std[c] = 1.0f;
    return p;
}

static frz_image_filter filter_named(const char *name)
{
    if (!strcmp(name, "bicubic")) return FRZ_IMAGE_FILTER_BICUBIC;
    if (!strcmp(name, "lanczos3")) return FRZ_IMAGE_FILTER_LANCZOS3;
    ck_assert_str_eq(name, "bilinear");
    return FRZ_IMAGE_FILTER_BILINEAR;
}

/* Against Pillow's Image.resize of the padded image in float mode, every filter, shrinking and enlarging. */
START_TEST(test_prep_matches_pillow)
{
    json_t *list = json_object_get(manifest(), "resize");
    ck_assert_int_eq(json_array_size(list), 6);
    size_t i;
    json_t *e;
    double worst = 0;
    json_array_foreach(list, i, e) {
        int R = (int)json_integer_value(json_object_get(e, "size"));
        const char *fname = json_string_value(json_object_get(e, "filter"));
        frz_image *img = NULL;
        ck_assert_int_eq(frz_image_load_file(fixture_file(json_string_value(json_object_get(e, "source"))), &img),
                         FRZ_OK);
        size_t n = 3 * (size_t)R * R, elen;
        float *exp = (float *)(void *)fixture_bytes(json_string_value(json_object_get(e, "expected")), &elen);
        ck_assert_uint_eq(elen, n * sizeof(float));
        float *out = malloc(n * sizeof *out);
        frz_image_prep_params p = unit_params(R, filter_named(fname));
        size_t needed = 0;
        ck_assert_int_eq(frz_image_preprocess(img, &p, out, n, &needed), FRZ_OK);
        ck_assert_uint_eq(needed, n);
        for (size_t j = 0; j < n; j++) {
            double d = fabs(out[j] * 255.0 - exp[j]);
            worst = fmax(worst, d);
            ck_assert_msg(d < 2e-3, "%s %s [%zu]: %g vs Pillow %g", json_string_value(json_object_get(e, "source")),
                          fname, j, out[j] * 255.0, (double)exp[j]);
        }
        free(out);
        free(exp);
        frz_image_free(img);
    }
    fprintf(stderr, "image: preprocessing within %.2g (0..255 scale) of Pillow's float resize\n", worst);
}
END_TEST

/* R == S: the resize is the identity, so the output is the padded square itself: where the padding goes, and
 * that it is black. In [-1, 1] (mean = std = 0.5) white is 1 and black -1. */
START_TEST(test_prep_padding_placement)
{
    static const struct { int w, h; const char *rows; } cases[] = {
        {5, 2, "BWWBB"},  /* 3 rows of padding: 1 above, 2 below (the odd one at the bottom) */
        {4, 1, "BWBB"},
        {3, 3, "WWW"},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        for (int transpose = 0; transpose < 2; transpose++) {
            int w = transpose ? cases[k].h : cases[k].w, h = transpose ? cases[k].w : cases[k].h;
            int S = FRZ_MAX(w, h);
            uint8_t px[75];
            memset(px, 255, sizeof px);
            frz_image *img = NULL;
            ck_assert_int_eq(frz_image_from_rgb8(px, w, h, (size_t)w * 3, &img), FRZ_OK);
            for (int f = 0; f < 3; f++) {
                frz_image_prep_params p;
                frz_image_prep_params_init(&p);
                p.size = S;
                p.filter = (frz_image_filter)f;
                for (int c = 0; c < 3; c++) p.mean[c] = p.std[c] = 0.5f;
                float out[75];
                ck_assert_int_eq(frz_image_preprocess(img, &p, out, 75, NULL), FRZ_OK);
                for (int c = 0; c < 3; c++)
                    for (int y = 0; y < S; y++)
                        for (int x = 0; x < S; x++) {
                            char want = cases[k].rows[transpose ? x : y];
                            float v = out[(c * S + y) * S + x];
                            ck_assert_msg(fabsf(v - (want == 'W' ? 1.0f : -1.0f)) < 1e-6f,
                                          "%d x %d filter %d: (%d, %d) = %g, want %c", w, h, f, x, y, v, want);
                        }
            }
            frz_image_free(img);
        }
    }
}
END_TEST

START_TEST(test_prep_properties)
{
    enum { N = 64, R = 16 };
    static uint8_t px[N * N * 3];
    float out[3 * R * R];
    frz_image *img = NULL;

    /* A constant square image stays constant with every filter (weights sum to 1). */
    for (int i = 0; i < N * N; i++) px[3 * i] = 200, px[3 * i + 1] = 100, px[3 * i + 2] = 30;
    ck_assert_int_eq(frz_image_from_rgb8(px, N, N, N * 3, &img), FRZ_OK);
    for (int f = 0; f < 3; f++) {
        frz_image_prep_params p = unit_params(R, (frz_image_filter)f);
        ck_assert_int_eq(frz_image_preprocess(img, &p, out, sizeof out / sizeof *out, NULL), FRZ_OK);
        for (int i = 0; i < 3 * R * R; i++)
            ck_assert_float_eq_tol(out[i] * 255.0f, (i < R * R ? 200.0f : i < 2 * R * R ? 100.0f : 30.0f), 1e-3f);
    }
    frz_image_free(img);

    /* A one-pixel checkerboard shrunk 4x becomes flat grey: antialiasing (point sampling would give 0 or 255).
     * The border outputs lose taps to the edge, so only the interior is exactly 127.5. */
    for (int y = 0; y < N; y++)
        for (int x = 0; x < N; x++) memset(px + 3 * (y * N + x), ((x + y) & 1) ? 255 : 0, 3);
    ck_assert_int_eq(frz_image_from_rgb8(px, N, N, N * 3, &img), FRZ_OK);
    for (int f = 0; f < 3; f++) {
        frz_image_prep_params p = unit_params(R, (frz_image_filter)f);
        ck_assert_int_eq(frz_image_preprocess(img, &p, out, sizeof out / sizeof *out, NULL), FRZ_OK);
        for (int y = 0; y < R; y++)
            for (int x = 0; x < R; x++) {
                float v = out[y * R + x] * 255.0f;
                int interior = y > 1 && y < R - 2 && x > 1 && x < R - 2;
                ck_assert_msg(interior ? fabsf(v - 127.5f) < 0.05f : fabsf(v - 127.5f) < 20.0f,
                              "filter %d (%d, %d): %g", f, x, y, v);
            }
    }
    frz_image_free(img);

    /* Mean preserved (within border effects) when shrinking noise 4x. */
    uint32_t r = 12345;
    double mean_in = 0, mean_out = 0;
    for (int i = 0; i < N * N * 3; i++) {
        r = r * 1103515245u + 12345u;
        px[i] = (uint8_t)(r >> 24);
        mean_in += px[i];
    }
    ck_assert_int_eq(frz_image_from_rgb8(px, N, N, N * 3, &img), FRZ_OK);
    frz_image_prep_params p = unit_params(R, FRZ_IMAGE_FILTER_BILINEAR);
    ck_assert_int_eq(frz_image_preprocess(img, &p, out, sizeof out / sizeof *out, NULL), FRZ_OK);
    for (int i = 0; i < 3 * R * R; i++) mean_out += out[i] * 255.0;
    ck_assert_double_eq_tol(mean_out / (3 * R * R), mean_in / (N * N * 3), 1.0);
    frz_image_free(img);

    /* 1 x 1 enlarged: the same value everywhere. */
    uint8_t one[3] = {10, 20, 250};
    ck_assert_int_eq(frz_image_from_rgb8(one, 1, 1, 3, &img), FRZ_OK);
    for (int f = 0; f < 3; f++) {
        p = unit_params(R, (frz_image_filter)f);
        ck_assert_int_eq(frz_image_preprocess(img, &p, out, sizeof out / sizeof *out, NULL), FRZ_OK);
        for (int i = 0; i < 3 * R * R; i++) ck_assert_float_eq_tol(out[i] * 255.0f, one[i / (R * R)], 1e-3f);
    }
    frz_image_free(img);
}
END_TEST

/* Normalisation: (v / 255 - mean) / std with ImageNet's numbers by default; black is not zero. */
START_TEST(test_prep_normalisation_and_black)
{
    enum { R = 8 };
    float out[3 * R * R], black[3 * R * R];
    const float mean[3] = {0.485f, 0.456f, 0.406f}, stdv[3] = {0.229f, 0.224f, 0.225f};
    uint8_t px[7 * 21];
    frz_image *img = NULL;
    frz_image_prep_params p;
    frz_image_prep_params_init(&p);
    ck_assert_int_eq(p.size, 224);
    ck_assert_int_eq(p.filter, FRZ_IMAGE_FILTER_BILINEAR);
    ck_assert_uint_eq(frz_image_prep_count(&p), 3 * 224 * 224);
    p.size = R;

    /* A black image and its padding (rows and columns wholly in it too): exactly frz_image_black. */
    ck_assert_int_eq(frz_image_black(&p, black, 3 * R * R, NULL), FRZ_OK);
    memset(px, 0, sizeof px);
    static const int sizes[][2] = {{5, 7}, {7, 2}, {2, 7}, {1, 1}};
    for (int k = 0; k < 4; k++) {
        ck_assert_int_eq(frz_image_from_rgb8(px, sizes[k][0], sizes[k][1], 21, &img), FRZ_OK);
        ck_assert_int_eq(frz_image_preprocess(img, &p, out, 3 * R * R, NULL), FRZ_OK);
        ck_assert_mem_eq(out, black, sizeof out);
        frz_image_free(img);
    }
    ck_assert_float_eq_tol(black[0], -2.1179f, 1e-4f);
    ck_assert_float_eq_tol(black[R * R], -2.0357f, 1e-4f);
    ck_assert_float_eq_tol(black[2 * R * R], -1.8044f, 1e-4f);

    memset(px, 255, sizeof px);
    ck_assert_int_eq(frz_image_from_rgb8(px, 5, 5, 15, &img), FRZ_OK);
    ck_assert_int_eq(frz_image_preprocess(img, &p, out, 3 * R * R, NULL), FRZ_OK);
    for (int c = 0; c < 3; c++)
        for (int i = 0; i < R * R; i++) ck_assert_float_eq_tol(out[c * R * R + i], (1.0f - mean[c]) / stdv[c], 1e-4f);
    frz_image_free(img);

    /* [-1, 1]: mean = std = 0.5. */
    for (int c = 0; c < 3; c++) p.mean[c] = p.std[c] = 0.5f;
    ck_assert_int_eq(frz_image_black(&p, black, 3 * R * R, NULL), FRZ_OK);
    ck_assert_float_eq(black[0], -1.0f);
    ck_assert_int_eq(frz_image_black(NULL, black, 3 * R * R, NULL), FRZ_ERR_BUFFER_TOO_SMALL); /* 224 by default */
}
END_TEST

/* The buffer contract and parameter validation. */
START_TEST(test_prep_arguments)
{
    frz_image *img = NULL;
    uint8_t px[12] = {0};
    ck_assert_int_eq(frz_image_from_rgb8(px, 2, 2, 6, &img), FRZ_OK);
    frz_image_prep_params p;
    frz_image_prep_params_init(&p);
    p.size = 4;
    float out[48], sentinel = 12345.0f;
    for (int i = 0; i < 48; i++) out[i] = sentinel;
    size_t needed = 0;
    ck_assert_int_eq(frz_image_preprocess(img, &p, out, 47, &needed), FRZ_ERR_BUFFER_TOO_SMALL);
    ck_assert_uint_eq(needed, 48);
    for (int i = 0; i < 48; i++) ck_assert_float_eq(out[i], sentinel); /* nothing written */
    needed = 0;
    ck_assert_int_eq(frz_image_preprocess(img, &p, NULL, 0, &needed), FRZ_ERR_BUFFER_TOO_SMALL);
    ck_assert_uint_eq(needed, 48);
    ck_assert_int_eq(frz_image_preprocess(NULL, &p, out, 48, NULL), FRZ_ERR_INVALID_ARG);

    frz_image_prep_params bad = p;
    bad.size = 0;
    ck_assert_int_eq(frz_image_preprocess(img, &bad, out, 48, NULL), FRZ_ERR_INVALID_ARG);
    ASSERT_MSG_HAS("size 0");
    bad = p;
    bad.std[1] = 0.0f;
    ck_assert_int_eq(frz_image_preprocess(img, &bad, out, 48, NULL), FRZ_ERR_INVALID_ARG);
    ASSERT_MSG_HAS("channel 1");
    bad = p;
    bad.mean[2] = NAN;
    ck_assert_int_eq(frz_image_black(&bad, out, 48, NULL), FRZ_ERR_INVALID_ARG);
    bad = p;
    bad.filter = (frz_image_filter)7;
    ck_assert_int_eq(frz_image_preprocess(img, &bad, out, 48, NULL), FRZ_ERR_INVALID_ARG);
    bad = p;
    bad.struct_size = 0;
    ck_assert_int_eq(frz_image_preprocess(img, &bad, out, 48, NULL), FRZ_ERR_INVALID_ARG);
    ck_assert_uint_eq(frz_image_prep_count(&bad), 0);

    /* An older caller's struct that ends after `size`: the later members take their defaults. */
    frz_image_prep_params old;
    memset(&old, 0xEE, sizeof old); /* the members it does not have are junk */
    old.struct_size = offsetof(frz_image_prep_params, size) + sizeof old.size;
    old.size = 4;
    float a[48], b[48];
    ck_assert_int_eq(frz_image_black(&old, a, 48, NULL), FRZ_OK);
    ck_assert_int_eq(frz_image_black(&p, b, 48, NULL), FRZ_OK);
    ck_assert_mem_eq(a, b, sizeof a);
    frz_image_free(img);
}
END_TEST

/* ---- the 640 x 480 photograph: correctness summary and timing -------------------------------------------------- */

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

START_TEST(test_photo_and_timing)
{
    json_t *ph = json_object_get(manifest(), "photo");
    ck_assert_ptr_nonnull(ph);
    size_t len;
    uint8_t *data = fixture_bytes(json_string_value(json_object_get(ph, "file")), &len);
    double tol = (double)json_integer_value(json_object_get(ph, "tolerance"));
    frz_image *img = NULL;
    ck_assert_int_eq(frz_image_load_memory(data, len, "photo", &img), FRZ_OK);
    ck_assert_int_eq(frz_image_width(img), 640);
    ck_assert_int_eq(frz_image_height(img), 480);
    const uint8_t *px = frz_image_pixels(img);
    double sum[3] = {0};
    for (size_t i = 0; i < 640 * 480; i++)
        for (int c = 0; c < 3; c++) sum[c] += px[3 * i + c];
    json_t *m = json_object_get(ph, "mean_rgb"), *s;
    for (int c = 0; c < 3; c++)
        ck_assert_double_eq_tol(sum[c] / (640 * 480), json_real_value(json_array_get(m, (size_t)c)), 0.05);
    size_t i;
    json_array_foreach(json_object_get(ph, "samples"), i, s) {
        int y = (int)json_integer_value(json_array_get(s, 0)), x = (int)json_integer_value(json_array_get(s, 1));
        for (int c = 0; c < 3; c++)
            ck_assert_int_le(abs(px[3 * (y * 640 + x) + c] - (int)json_integer_value(json_array_get(s, 2 + c))), tol);
    }

    enum { R = 224 };
    static float out[3 * R * R];
    frz_image_prep_params p = unit_params(R, FRZ_IMAGE_FILTER_BILINEAR);
    ck_assert_int_eq(frz_image_preprocess(img, &p, out, 3 * R * R, NULL), FRZ_OK);
    m = json_object_get(ph, "prep_mean_chw");
    for (int c = 0; c < 3; c++) {
        double acc = 0;
        for (int k = 0; k < R * R; k++) acc += out[c * R * R + k] * 255.0;
        ck_assert_double_eq_tol(acc / (R * R), json_real_value(json_array_get(m, (size_t)c)), 0.05);
    }
    json_array_foreach(json_object_get(ph, "prep_samples"), i, s) {
        int c = (int)json_integer_value(json_array_get(s, 0)), y = (int)json_integer_value(json_array_get(s, 1));
        int x = (int)json_integer_value(json_array_get(s, 2));
        ck_assert_double_le(fabs(out[(c * R + y) * R + x] * 255.0 - json_real_value(json_array_get(s, 3))),
                            tol + 1e-3);
    }
    frz_image_free(img);

    /* Timing (reported, not asserted: machines differ). Best of a few runs. */
    frz_image_prep_params_init(&p);
    double best_dec = 1e9, best_prep = 1e9;
    for (int rep = 0; rep < 15; rep++) {
        double t0 = now_ms();
        ck_assert_int_eq(frz_image_load_memory(data, len, "photo", &img), FRZ_OK);
        double t1 = now_ms();
        ck_assert_int_eq(frz_image_preprocess(img, &p, out, 3 * R * R, NULL), FRZ_OK);
        double t2 = now_ms();
        frz_image_free(img);
        best_dec = fmin(best_dec, t1 - t0);
        best_prep = fmin(best_prep, t2 - t1);
    }
    fprintf(stderr, "image: 640x480 JPEG (%zu bytes): decode %.2f ms, pad + resize to 224 + normalise %.2f ms\n",
            len, best_dec, best_prep);
    free(data);
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("image");
    TCase *tc = tcase_create("decode");
    tcase_add_test(tc, test_decode_variants);
    tcase_add_test(tc, test_alpha_on_black);
    tcase_add_test(tc, test_file_resources_released);
    tcase_add_test(tc, test_from_rgb8);
    tcase_add_test(tc, test_not_an_image);
    suite_add_tcase(s, tc);

    tc = tcase_create("malformed");
    tcase_add_loop_test(tc, test_truncated, 0, N_CORRUPTIBLE);
    tcase_add_test(tc, test_png_corrupt);
    tcase_add_test(tc, test_png_ancillary_crc_is_warning);
    tcase_add_test(tc, test_jpeg_corrupt);
    tcase_add_test(tc, test_jpeg_corrupt_data_is_warning);
    tcase_add_test(tc, test_nothing_printed);
    tcase_add_test(tc, test_jpeg_scan_limit);
    suite_add_tcase(s, tc);

    tc = tcase_create("limits");
    tcase_add_test(tc, test_huge_png_header);
    tcase_add_test(tc, test_huge_jpeg_header);
    suite_add_tcase(s, tc);

    tc = tcase_create("nomem");
    tcase_add_loop_test(tc, test_nomem_decode, 0, (int)(sizeof NOMEM_FILES / sizeof NOMEM_FILES[0]));
    tcase_add_test(tc, test_nomem_preprocess);
    suite_add_tcase(s, tc);

    tc = tcase_create("preprocess");
    tcase_add_test(tc, test_prep_matches_pillow);
    tcase_add_test(tc, test_prep_padding_placement);
    tcase_add_test(tc, test_prep_properties);
    tcase_add_test(tc, test_prep_normalisation_and_black);
    tcase_add_test(tc, test_prep_arguments);
    tcase_add_test(tc, test_photo_and_timing);
    tcase_set_timeout(tc, 60);
    suite_add_tcase(s, tc);
    return s;
}

FRZ_TEST_MAIN(make_suite)
