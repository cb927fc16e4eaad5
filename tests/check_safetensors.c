/* check_safetensors.c -- safetensors reading, writing and validation; f16/bf16 conversion.
 *
 * Malformed files are built here from one valid header (BASE) by a single textual edit each, so every case
 * reads as "this field, changed to that". Expected values come from the format and IEEE 754 definitions. */
#include "formats/safetensors.h"
#include "util/testutil.h"

#include <dirent.h>
#include <jansson.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

/* ---- helpers ---------------------------------------------------------------------------------------------- */

/* A .safetensors file from header text (length prefix added) and data_len bytes of patterned data. */
static const char *st_from_header(const char *name, const char *header, size_t data_len)
{
    size_t hlen = strlen(header), total = 8 + hlen + data_len;
    unsigned char *buf = malloc(total);
    ck_assert_ptr_nonnull(buf);
    for (int k = 0; k < 8; k++) buf[k] = (unsigned char)((uint64_t)hlen >> (8 * k));
    memcpy(buf + 8, header, hlen);
    for (size_t i = 0; i < data_len; i++) buf[8 + hlen + i] = (unsigned char)(i * 7 + 1);
    const char *path = write_temp_file(name, buf, total);
    free(buf);
    return path;
}

/* s with its first `from` replaced by `to`, in a static buffer. */
static const char *edit(const char *s, const char *from, const char *to)
{
    static char out[8192];
    const char *at = strstr(s, from);
    ck_assert_msg(at != NULL, "'%s' not in '%s'", from, s);
    snprintf(out, sizeof out, "%.*s%s%s", (int)(at - s), s, to, at + strlen(from));
    return out;
}

static char *join2(const char *dir, const char *name)
{
    static char bufs[4][4200];
    static int next;
    char *p = bufs[next++ % 4];
    snprintf(p, 4200, "%s/%s", dir, name);
    return p;
}

static frz_st_write_tensor wt(const char *name, frz_dtype dt, int ndim, const int64_t *shape, const void *data)
{
    frz_st_write_tensor t;
    memset(&t, 0, sizeof t);
    t.name = name;
    t.dtype = dt;
    t.ndim = ndim;
    for (int d = 0; d < ndim; d++) t.shape[d] = shape[d];
    t.data = data;
    return t;
}

/* ---- f16 / bf16 ------------------------------------------------------------------------------------------- */

static uint32_t bits_of(float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
}

/* Known encodings (IEEE 754 binary16). */
START_TEST(test_f16_known_values)
{
    ck_assert(frz_f16_to_f32(0x3C00) == 1.0f);
    ck_assert(frz_f16_to_f32(0xBC00) == -1.0f);
    ck_assert(frz_f16_to_f32(0x4000) == 2.0f);
    ck_assert(frz_f16_to_f32(0xC000) == -2.0f);
    ck_assert(frz_f16_to_f32(0x3800) == 0.5f);
    ck_assert(frz_f16_to_f32(0x7BFF) == 65504.0f);                /* largest finite */
    ck_assert(frz_f16_to_f32(0x0400) == ldexpf(1.0f, -14));       /* smallest normal */
    ck_assert(frz_f16_to_f32(0x03FF) == ldexpf(1023.0f, -24));    /* largest subnormal */
    ck_assert(frz_f16_to_f32(0x0001) == ldexpf(1.0f, -24));       /* smallest subnormal */
    ck_assert(frz_f16_to_f32(0x8001) == -ldexpf(1.0f, -24));
    ck_assert(frz_f16_to_f32(0x3555) == 0.333251953125f);         /* nearest f16 to 1/3 */
    ck_assert(frz_f16_to_f32(0x0000) == 0.0f && !signbit(frz_f16_to_f32(0x0000)));
    ck_assert(frz_f16_to_f32(0x8000) == 0.0f && signbit(frz_f16_to_f32(0x8000)));
    ck_assert(isinf(frz_f16_to_f32(0x7C00)) && frz_f16_to_f32(0x7C00) > 0);
    ck_assert(isinf(frz_f16_to_f32(0xFC00)) && frz_f16_to_f32(0xFC00) < 0);
    ck_assert(isnan(frz_f16_to_f32(0x7E00)));
    ck_assert(isnan(frz_f16_to_f32(0x7C01)));                     /* signalling NaN stays a NaN */
    ck_assert(isnan(frz_f16_to_f32(0xFE00)) && signbit(frz_f16_to_f32(0xFE00)));
    /* Widening keeps the NaN payload: mantissa bits move up by 23 - 10 = 13. */
    ck_assert_uint_eq(bits_of(frz_f16_to_f32(0x7E01)), 0x7FC02000u);
    ck_assert_uint_eq(bits_of(frz_f16_to_f32(0x7C01)), 0x7F802000u);
}
END_TEST

/* The value of an f16 from the definition: (-1)^s * 2^(e-15) * (1 + m/1024), subnormal 2^-14 * m/1024. */
static double f16_by_definition(uint16_t h)
{
    int s = h >> 15, e = (h >> 10) & 31, m = h & 1023;
    double v = e == 0 ? ldexp(m, -24) : e == 31 ? (m ? NAN : INFINITY) : ldexp(1024 + m, e - 25);
    return s ? -v : v;
}

/* Exhaustive checks count mismatches and assert once: each passing ck_assert costs a write to Check's pipe. */
START_TEST(test_f16_all_values)
{
    long bad = 0, first = -1;
    for (uint32_t h = 0; h < 65536; h++) {
        float got = frz_f16_to_f32((uint16_t)h);
        double want = f16_by_definition((uint16_t)h);
        int ok = isnan(want) ? bits_of(got) == (((h & 0x8000u) << 16) | 0x7F800000u | ((h & 0x3FFu) << 13))
                             : (double)got == want && !signbit(got) == !signbit(want);
        if (!ok && bad++ == 0) first = (long)h;
    }
    ck_assert_msg(bad == 0, "%ld f16 values wrong, the first 0x%04lx", bad, first);
}
END_TEST

/* bf16: sign, 8 exponent bits (bias 127), 7 mantissa bits. */
static double bf16_by_definition(uint16_t b)
{
    int s = b >> 15, e = (b >> 7) & 255, m = b & 127;
    double v = e == 0 ? ldexp(m, -133) : e == 255 ? (m ? NAN : INFINITY) : ldexp(128 + m, e - 134);
    return s ? -v : v;
}

START_TEST(test_bf16_values)
{
    ck_assert(frz_bf16_to_f32(0x3F80) == 1.0f);
    ck_assert(frz_bf16_to_f32(0xC000) == -2.0f);
    ck_assert(frz_bf16_to_f32(0x3EAB) == 0.333984375f);
    ck_assert(frz_bf16_to_f32(0x0001) == ldexpf(1.0f, -133));     /* smallest subnormal */
    ck_assert(isinf(frz_bf16_to_f32(0x7F80)));
    ck_assert(isnan(frz_bf16_to_f32(0x7FC0)));
    long bad = 0, first = -1;
    for (uint32_t b = 0; b < 65536; b++) {
        float got = frz_bf16_to_f32((uint16_t)b);
        double want = bf16_by_definition((uint16_t)b);
        int ok = isnan(want) ? bits_of(got) == b << 16 : (double)got == want && !signbit(got) == !signbit(want);
        if (!ok && bad++ == 0) first = (long)b;
    }
    ck_assert_msg(bad == 0, "%ld bf16 values wrong, the first 0x%04lx", bad, first);
}
END_TEST

/* The array forms agree with the scalar ones, reading from an unaligned source. */
START_TEST(test_array_conversion)
{
    unsigned char *raw = malloc(2 * 65536 + 1);
    float *out = malloc(65536 * sizeof *out);
    ck_assert(raw && out);
    for (uint32_t h = 0; h < 65536; h++) {
        raw[1 + 2 * h] = (unsigned char)(h & 0xFF);  /* little-endian */
        raw[2 + 2 * h] = (unsigned char)(h >> 8);
    }
    long bad = 0;
    frz_f16_to_f32_array(raw + 1, out, 65536);
    for (uint32_t h = 0; h < 65536; h++) bad += bits_of(out[h]) != bits_of(frz_f16_to_f32((uint16_t)h));
    ck_assert_int_eq(bad, 0);
    frz_bf16_to_f32_array(raw + 1, out, 65536);
    for (uint32_t h = 0; h < 65536; h++) bad += bits_of(out[h]) != h << 16;
    ck_assert_int_eq(bad, 0);
    free(raw);
    free(out);
}
END_TEST

/* ---- writer -> reader round trip --------------------------------------------------------------------------- */

#define N_RT 12
static unsigned char rt_data[N_RT][128];
static const char *rt_meta[] = { "format", "pt", "note", "h\xc3\xa9llo \"quoted\"" };

/* One tensor of every dtype, a scalar and an empty tensor. */
static void round_trip_tensors(frz_st_write_tensor *t)
{
    static const int64_t s23[] = { 2, 3 }, s5[] = { 5 }, s3[] = { 3 }, s2[] = { 2 }, s22[] = { 2, 2 }, s1[] = { 1 },
                         s7[] = { 7 }, s4[] = { 4 }, s05[] = { 0, 5 };
    for (int i = 0; i < N_RT; i++)
        for (int j = 0; j < 128; j++) rt_data[i][j] = (unsigned char)(i * 31 + j * 7 + 3);
    t[0] = wt("f32", FRZ_DT_F32, 2, s23, rt_data[0]);
    t[1] = wt("f16", FRZ_DT_F16, 1, s5, rt_data[1]);
    t[2] = wt("bf16", FRZ_DT_BF16, 1, s3, rt_data[2]);
    t[3] = wt("f64", FRZ_DT_F64, 1, s2, rt_data[3]);
    t[4] = wt("i64", FRZ_DT_I64, 2, s22, rt_data[4]);
    t[5] = wt("i32", FRZ_DT_I32, 1, s3, rt_data[5]);
    t[6] = wt("i16", FRZ_DT_I16, 1, s1, rt_data[6]);
    t[7] = wt("i8", FRZ_DT_I8, 1, s7, rt_data[7]);
    t[8] = wt("u8", FRZ_DT_U8, 1, s3, rt_data[8]);
    t[9] = wt("bool", FRZ_DT_BOOL, 1, s4, rt_data[9]);
    t[10] = wt("scalar", FRZ_DT_F32, 0, NULL, rt_data[10]);
    t[11] = wt("empty", FRZ_DT_U8, 2, s05, NULL);
}

static const char *write_round_trip_file(void)
{
    frz_st_write_tensor t[N_RT];
    round_trip_tensors(t);
    const char *path = join2(make_temp_dir(), "model.safetensors");
    ck_assert_int_eq(frz_st_write_file(path, t, N_RT, rt_meta, 2), FRZ_OK);
    return path;
}

START_TEST(test_round_trip_all_dtypes)
{
    frz_st_write_tensor t[N_RT];
    round_trip_tensors(t);
    const char *path = write_round_trip_file();
    frz_st_set *set = NULL;
    ck_assert_int_eq(frz_st_open_file(path, &set), FRZ_OK);
    ck_assert_uint_eq(frz_st_count(set), N_RT);
    for (int i = 0; i < N_RT; i++) {
        const frz_st_tensor *r = frz_st_find(set, t[i].name);
        ck_assert_msg(r != NULL, "%s", t[i].name);
        ck_assert_str_eq(r->name, t[i].name);
        ck_assert_int_eq(r->dtype, t[i].dtype);
        ck_assert_int_eq(r->ndim, t[i].ndim);
        size_t numel = 1;
        for (int d = 0; d < t[i].ndim; d++) {
            ck_assert_int_eq(r->shape[d], t[i].shape[d]);
            numel *= (size_t)t[i].shape[d];
        }
        ck_assert_uint_eq(r->nbytes, numel * frz_dtype_size(t[i].dtype));
        if (r->nbytes) ck_assert(memcmp(r->data, t[i].data, r->nbytes) == 0);
        ck_assert_str_eq(r->file, path);
        /* The writer aligns every tensor to its element size. */
        ck_assert_uint_eq((uintptr_t)r->data % frz_dtype_size(r->dtype), 0);
        ck_assert_uint_eq(r->file_offset % frz_dtype_size(r->dtype), 0);
    }
    ck_assert_str_eq(frz_st_metadata(set, "format"), "pt");
    ck_assert_str_eq(frz_st_metadata(set, "note"), rt_meta[3]);
    ck_assert_ptr_null(frz_st_metadata(set, "absent"));
    ck_assert_ptr_null(frz_st_find(set, "absent"));
    ck_assert_ptr_null(frz_st_find(set, "f3"));
    /* frz_st_at walks every tensor once, each findable by its name. */
    for (size_t i = 0; i < N_RT; i++) ck_assert_ptr_eq(frz_st_find(set, frz_st_at(set, i)->name), frz_st_at(set, i));
    ck_assert_ptr_null(frz_st_at(set, N_RT));
    frz_st_close(set);
}
END_TEST

/* The raw layout, read independently of the reader: 8-byte length, space-padded header of a multiple of 8
 * bytes, "__metadata__" first, tensors by decreasing element size then name, data contiguous from 0. */
START_TEST(test_writer_layout)
{
    const char *path = write_round_trip_file();
    size_t len;
    unsigned char *buf = (unsigned char *)read_file_or_fail(path, &len);
    uint64_t n = 0;
    for (int k = 7; k >= 0; k--) n = (n << 8) | buf[k];
    ck_assert_uint_eq(n % 8, 0);
    ck_assert_uint_le(8 + n, len);
    static const char start[] = "{\"__metadata__\":{\"format\":\"pt\",\"note\":";
    ck_assert(memcmp(buf + 8, start, strlen(start)) == 0);
    json_error_t err;
    json_t *root = json_loadb((const char *)buf + 8, n, 0, &err);
    ck_assert_ptr_nonnull(root);
    static const char *order[] = { "__metadata__", "f64", "i64", "f32", "i32", "scalar", "bf16", "f16", "i16",
                                   "bool", "empty", "i8", "u8" };
    size_t i = 0, next = 0;
    const char *key;
    json_t *v;
    json_object_foreach(root, key, v) {
        ck_assert_str_eq(key, order[i++]);
        if (strcmp(key, "__metadata__") == 0) continue;
        ck_assert_int_eq(json_integer_value(json_array_get(json_object_get(v, "data_offsets"), 0)), next);
        next = (size_t)json_integer_value(json_array_get(json_object_get(v, "data_offsets"), 1));
    }
    ck_assert_uint_eq(i, 13);
    ck_assert_uint_eq(8 + n + next, len);
    /* Padding is spaces after the JSON. */
    ck_assert(buf[8 + n - 1] == '}' || buf[8 + n - 1] == ' ');
    json_decref(root);
    free(buf);
    /* No temporary file is left beside it. */
    char dir[4200];
    snprintf(dir, sizeof dir, "%s", path);
    *strrchr(dir, '/') = '\0';
    DIR *d = opendir(dir);
    ck_assert_ptr_nonnull(d);
    int entries = 0;
    for (struct dirent *e; (e = readdir(d));)
        if (e->d_name[0] != '.') {
            entries++;
            ck_assert_str_eq(e->d_name, "model.safetensors");
        }
    closedir(d);
    ck_assert_int_eq(entries, 1);
}
END_TEST

START_TEST(test_writer_errors)
{
    static const float x[2] = { 1, 2 };
    static const int64_t s2[] = { 2 }, sneg[] = { -1 };
    frz_st_write_tensor t[2] = { wt("a", FRZ_DT_F32, 1, s2, x), wt("a", FRZ_DT_F16, 1, s2, x) };
    const char *dir = make_temp_dir();
    const char *path = join2(dir, "w.safetensors");
    ck_assert_int_eq(frz_st_write_file(path, t, 2, NULL, 0), FRZ_ERR_INVALID_ARG);
    ASSERT_MSG_HAS(path);
    ASSERT_MSG_HAS("'a'");
    t[1] = wt("b", FRZ_DT_F32, 1, sneg, x);
    ck_assert_int_eq(frz_st_write_file(path, t, 2, NULL, 0), FRZ_ERR_INVALID_ARG);
    ASSERT_MSG_HAS("'b'");
    t[1] = wt("b", FRZ_DT_F32, 1, s2, x);
    t[1].ndim = FRZ_ST_MAX_DIMS + 1;
    ck_assert_int_eq(frz_st_write_file(path, t, 2, NULL, 0), FRZ_ERR_INVALID_ARG);
    t[1] = wt("__metadata__", FRZ_DT_F32, 1, s2, x);
    ck_assert_int_eq(frz_st_write_file(path, t, 2, NULL, 0), FRZ_ERR_INVALID_ARG);
    t[1] = wt("b\xff", FRZ_DT_F32, 1, s2, x);
    ck_assert_int_eq(frz_st_write_file(path, t, 2, NULL, 0), FRZ_ERR_INVALID_ARG);
    ASSERT_MSG_HAS("UTF-8");
    t[1] = wt("b", FRZ_DT_F32, 1, s2, NULL);
    ck_assert_int_eq(frz_st_write_file(path, t, 2, NULL, 0), FRZ_ERR_INVALID_ARG);
    static const char *dup_meta[] = { "k", "1", "k", "2" };
    ck_assert_int_eq(frz_st_write_file(path, t, 1, dup_meta, 2), FRZ_ERR_INVALID_ARG);
    ASSERT_MSG_HAS("'k'");
    /* Nothing was written by the failures. */
    FILE *f = fopen(path, "rb");
    ck_assert_ptr_null(f);
    /* A directory that does not exist: FRZ_ERR_IO naming the path. */
    const char *bad = join2(dir, "no/such/dir/w.safetensors");
    ck_assert_int_eq(frz_st_write_file(bad, t, 1, NULL, 0), FRZ_ERR_IO);
    ASSERT_MSG_HAS(bad);
    ASSERT_MSG_HAS("No such file or directory");
    /* An empty file (no tensors) is valid. */
    ck_assert_int_eq(frz_st_write_file(path, NULL, 0, NULL, 0), FRZ_OK);
    frz_st_set *set;
    ck_assert_int_eq(frz_st_open_file(path, &set), FRZ_OK);
    ck_assert_uint_eq(frz_st_count(set), 0);
    frz_st_close(set);
    frz_st_close(NULL);
}
END_TEST

/* ---- frz_st_get_f32 ----------------------------------------------------------------------------------------- */

START_TEST(test_get_f32)
{
    static const float w[6] = { 1.5f, -2.0f, 0.25f, 3.0f, -0.0f, 1e-3f };
    static const uint16_t h[5] = { 0x3C00, 0xC000, 0x3800, 0x7BFF, 0x0001 };   /* 1, -2, 0.5, 65504, 2^-24 */
    static const uint16_t b[3] = { 0x3F80, 0xC000, 0x3EAB };                   /* 1, -2, 0.333984375 */
    static const int64_t i64[2] = { 1, 2 };
    static const int64_t s23[] = { 2, 3 }, s5[] = { 5 }, s3[] = { 3 }, s2[] = { 2 };
    frz_st_write_tensor t[4] = { wt("w", FRZ_DT_F32, 2, s23, w), wt("h", FRZ_DT_F16, 1, s5, h),
                                 wt("b", FRZ_DT_BF16, 1, s3, b), wt("i", FRZ_DT_I64, 1, s2, i64) };
    const char *path = join2(make_temp_dir(), "model.safetensors");
    ck_assert_int_eq(frz_st_write_file(path, t, 4, NULL, 0), FRZ_OK);
    frz_st_set *set;
    ck_assert_int_eq(frz_st_open_file(path, &set), FRZ_OK);
    const float *out;
    float *owned;

    /* Aligned F32: a pointer into the mapping, nothing to free. */
    ck_assert_int_eq(frz_st_get_f32(set, "w", 2, s23, &out, &owned), FRZ_OK);
    ck_assert_ptr_null(owned);
    ck_assert_ptr_eq(out, frz_st_find(set, "w")->data);
    ck_assert(memcmp(out, w, sizeof w) == 0);

    /* F16: a converted copy the caller frees. */
    ck_assert_int_eq(frz_st_get_f32(set, "h", 1, s5, &out, &owned), FRZ_OK);
    ck_assert_ptr_nonnull(owned);
    ck_assert_ptr_eq(out, owned);
    ck_assert(out[0] == 1.0f && out[1] == -2.0f && out[2] == 0.5f && out[3] == 65504.0f && out[4] == ldexpf(1, -24));
    free(owned);

    ck_assert_int_eq(frz_st_get_f32(set, "b", 1, s3, &out, &owned), FRZ_OK);
    ck_assert_ptr_nonnull(owned);
    ck_assert(out[0] == 1.0f && out[1] == -2.0f && out[2] == 0.333984375f);
    free(owned);

    ck_assert_int_eq(frz_st_get_f32(set, "i", 1, s2, &out, &owned), FRZ_ERR_UNSUPPORTED);
    ASSERT_MSG_HAS("'i'");
    ASSERT_MSG_HAS("I64");
    ck_assert_int_eq(frz_st_get_f32(set, "nope", 1, s2, &out, &owned), FRZ_ERR_FORMAT);
    ASSERT_MSG_HAS("'nope'");
    ASSERT_MSG_HAS(path);
    static const int64_t s24[] = { 2, 4 };
    ck_assert_int_eq(frz_st_get_f32(set, "w", 2, s24, &out, &owned), FRZ_ERR_SHAPE);
    ck_assert_ptr_null(out);
    ck_assert_ptr_null(owned);
    ck_assert_int_eq(frz_st_get_f32(set, "w", 1, s5, &out, &owned), FRZ_ERR_SHAPE);
    ASSERT_MSG_HAS("has shape [2, 3], expected [5]");
    frz_st_close(set);
}
END_TEST

/* The message format the loaders rely on, word for word. */
START_TEST(test_shape_message)
{
    static float w[4 * 6];
    static const int64_t s[] = { 4, 6 }, want[] = { 4, 7 };
    frz_st_write_tensor t = wt("h.0.attn.c_attn.weight", FRZ_DT_F32, 2, s, w);
    const char *path = join2(make_temp_dir(), "model.safetensors");
    ck_assert_int_eq(frz_st_write_file(path, &t, 1, NULL, 0), FRZ_OK);
    frz_st_set *set;
    ck_assert_int_eq(frz_st_open_file(path, &set), FRZ_OK);
    const float *out;
    float *owned;
    ck_assert_int_eq(frz_st_get_f32(set, "h.0.attn.c_attn.weight", 2, want, &out, &owned), FRZ_ERR_SHAPE);
    char expect[4400];
    snprintf(expect, sizeof expect, "%s: tensor 'h.0.attn.c_attn.weight' has shape [4, 6], expected [4, 7]", path);
    ck_assert_str_eq(frz_last_error(), expect);
    frz_st_close(set);
}
END_TEST

/* F32 data at an address that is not 4-byte aligned (a header of odd length): copied, not returned in place. */
START_TEST(test_get_f32_unaligned)
{
    const char *header = "{\"x\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}} ";
    ck_assert_uint_eq((8 + strlen(header)) % 4, 3);
    size_t hlen = strlen(header);
    unsigned char buf[256];
    for (int k = 0; k < 8; k++) buf[k] = (unsigned char)((uint64_t)hlen >> (8 * k));
    memcpy(buf + 8, header, hlen);
    const float v[2] = { 3.5f, -1.25f };
    memcpy(buf + 8 + hlen, v, 8);
    const char *path = write_temp_file("u.safetensors", buf, 8 + hlen + 8);
    frz_st_set *set;
    ck_assert_int_eq(frz_st_open_file(path, &set), FRZ_OK);
    const float *out;
    float *owned;
    static const int64_t s2[] = { 2 };
    ck_assert_int_eq(frz_st_get_f32(set, "x", 1, s2, &out, &owned), FRZ_OK);
    ck_assert_ptr_nonnull(owned);
    ck_assert(out[0] == 3.5f && out[1] == -1.25f);
    free(owned);
    frz_st_close(set);
}
END_TEST

/* ---- malformed files --------------------------------------------------------------------------------------- */

/* Valid: 'a' F32 [2,3] at data bytes 0..24, 'b' F16 [4] at 24..32. */
static const char BASE[] = "{\"__metadata__\":{\"format\":\"pt\"},"
                           "\"a\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,24]},"
                           "\"b\":{\"dtype\":\"F16\",\"shape\":[4],\"data_offsets\":[24,32]}}";
#define BASE_DATA 32

START_TEST(test_base_is_valid)
{
    const char *path = st_from_header("base.safetensors", BASE, BASE_DATA);
    frz_st_set *set;
    ck_assert_int_eq(frz_st_open_file(path, &set), FRZ_OK);
    ck_assert_uint_eq(frz_st_count(set), 2);
    ck_assert_uint_eq(frz_st_find(set, "b")->file_offset, 8 + strlen(BASE) + 24);
    frz_st_close(set);
}
END_TEST

typedef struct {
    const char *from, *to;   /* the edit made to BASE */
    frz_status code;
    const char *part1, *part2;  /* must appear in the message (besides the path); NULL: nothing more */
    long data_off;           /* >= 0: the message gives this data offset as an absolute file offset */
    const char *mark;        /* or: the file byte of the first occurrence of mark in the edited header */
} bad_case;

static const bad_case bad_cases[] = {
    { "\"F16\"", "\"F8_E4M3\"", FRZ_ERR_UNSUPPORTED, "'b'", "F8_E4M3", -1, NULL },
    { "\"F16\"", "\"X99\"", FRZ_ERR_UNSUPPORTED, "'b'", "X99", -1, NULL },
    { "\"F16\"", "16", FRZ_ERR_FORMAT, "'b'", "dtype", -1, NULL },
    { "\"dtype\":\"F16\",", "", FRZ_ERR_FORMAT, "'b'", "dtype", -1, NULL },
    { "[4]", "4", FRZ_ERR_FORMAT, "'b'", "shape", -1, NULL },
    { "[2,3]", "[-2,3]", FRZ_ERR_FORMAT, "'a'", "shape[0]", -1, NULL },
    { "[2,3]", "[2,3.0]", FRZ_ERR_FORMAT, "'a'", "shape[1]", -1, NULL },
    { "[2,3]", "[2,\"3\"]", FRZ_ERR_FORMAT, "'a'", "shape[1]", -1, NULL },
    { "[4]", "[1,1,1,1,1,1,1,1,4]", FRZ_ERR_UNSUPPORTED, "'b'", "9 dimensions", -1, NULL },
    { "[4]", "[4294967296,4294967296,4294967296]", FRZ_ERR_FORMAT, "'b'", "overflow", -1, NULL },
    { "[2,3]", "[4611686018427387904]", FRZ_ERR_FORMAT, "'a'", "overflow", -1, NULL },  /* 2^62 * 4 bytes */
    { ",\"data_offsets\":[24,32]", "", FRZ_ERR_FORMAT, "'b'", "data_offsets", -1, NULL },
    { "[24,32]", "[24,32,40]", FRZ_ERR_FORMAT, "'b'", "data_offsets", -1, NULL },
    { "[24,32]", "[-8,32]", FRZ_ERR_FORMAT, "'b'", "data_offsets", -1, NULL },
    { "[24,32]", "[24,\"32\"]", FRZ_ERR_FORMAT, "'b'", "data_offsets", -1, NULL },
    { "[24,32]", "[32,24]", FRZ_ERR_FORMAT, "'b'", "end before", 32, NULL },
    { "[24,32]", "[24,40]", FRZ_ERR_FORMAT, "'b'", "past the end", 40, NULL },
    { "[24,32]", "[24,30]", FRZ_ERR_FORMAT, "'b'", "hold 6 bytes", 24, NULL },
    { "[4]", "[3]", FRZ_ERR_FORMAT, "'b'", "needs 6", 24, NULL },
    { "[24,32]", "[16,24]", FRZ_ERR_FORMAT, "'a'", "'b'", 16, NULL },  /* overlaps 'a' (0..24) */
    { "[0,24]}", "[8,32]}", FRZ_ERR_FORMAT, "'a'", "overlap", 8, NULL },
    { "{\"dtype\":\"F16\",\"shape\":[4],\"data_offsets\":[24,32]}", "[1]", FRZ_ERR_FORMAT, "'b'", "not an object",
      -1, NULL },
    { "{\"format\":\"pt\"}", "\"pt\"", FRZ_ERR_FORMAT, "__metadata__", NULL, -1, NULL },
    { "{\"format\":\"pt\"}", "{\"format\":1}", FRZ_ERR_FORMAT, "__metadata__", "'format'", -1, NULL },
    { BASE, "[1,2]", FRZ_ERR_FORMAT, "not a JSON object", NULL, -1, NULL },
    { "[2,3]", "[2,,3]", FRZ_ERR_FORMAT, "line 1 column", NULL, -1, ",3]" },
    { "}}", "}", FRZ_ERR_FORMAT, "line 1 column", NULL, -1, NULL },
    { ",\"b\":", ",\"a\":{\"dtype\":\"U8\",\"shape\":[0],\"data_offsets\":[0,0]},\"b\":", FRZ_ERR_FORMAT, "duplicate",
      "\"a\"", -1, NULL },
};
#define N_BAD_CASES ((int)(sizeof bad_cases / sizeof bad_cases[0]))

START_TEST(test_malformed_header)
{
    const bad_case *c = &bad_cases[_i];
    const char *header = edit(BASE, c->from, c->to);
    const char *path = st_from_header("bad.safetensors", header, BASE_DATA);
    frz_st_set *set = (frz_st_set *)1;
    frz_status st = frz_st_open_file(path, &set);
    ck_assert_msg(st == c->code, "case %d (%s -> %s): status %d, message %s", _i, c->from, c->to, st,
                  frz_last_error());
    ck_assert_ptr_null(set);
    ASSERT_MSG_HAS(path);
    if (c->part1) ASSERT_MSG_HAS(c->part1);
    if (c->part2) ASSERT_MSG_HAS(c->part2);
    char num[64];
    if (c->data_off >= 0) {
        snprintf(num, sizeof num, "%zu", 8 + strlen(header) + (size_t)c->data_off);
        ASSERT_MSG_HAS(num);
    }
    if (c->mark) {
        snprintf(num, sizeof num, "(byte %zu)", 8 + (size_t)(strstr(header, c->mark) - header));
        ASSERT_MSG_HAS(num);
    }
}
END_TEST

/* Header-length problems, each on a file built byte by byte. */
static const char *file_with_length(uint64_t n, size_t total)
{
    static unsigned char buf[512];
    ck_assert_uint_le(total, sizeof buf);
    memset(buf, ' ', sizeof buf);
    for (int k = 0; k < 8; k++) buf[k] = (unsigned char)(n >> (8 * k));
    if (total > 10) memcpy(buf + 8, "{}", 2);
    return write_temp_file("len.safetensors", buf, total);
}

START_TEST(test_bad_length)
{
    frz_st_set *set;
    const char *p = write_temp_file("empty.safetensors", "", 0);
    ck_assert_int_eq(frz_st_open_file(p, &set), FRZ_ERR_FORMAT);
    ASSERT_MSG_HAS(p);
    ASSERT_MSG_HAS("0 bytes");
    p = write_temp_file("short.safetensors", "\x02\0\0\0\0", 5);
    ck_assert_int_eq(frz_st_open_file(p, &set), FRZ_ERR_FORMAT);
    ASSERT_MSG_HAS(p);
    ASSERT_MSG_HAS("5 bytes");
    p = file_with_length(0, 64);
    ck_assert_int_eq(frz_st_open_file(p, &set), FRZ_ERR_FORMAT);
    ASSERT_MSG_HAS(p);
    ASSERT_MSG_HAS("header length (bytes 0..8) is 0");
    p = file_with_length(57, 64);  /* one byte more than the file holds after the length */
    ck_assert_int_eq(frz_st_open_file(p, &set), FRZ_ERR_FORMAT);
    ASSERT_MSG_HAS(p);
    ASSERT_MSG_HAS("is 57, which runs past the end of the 64-byte file");
    p = file_with_length(56, 64);  /* exactly to the end: valid, no tensors */
    ck_assert_int_eq(frz_st_open_file(p, &set), FRZ_OK);
    ck_assert_uint_eq(frz_st_count(set), 0);
    frz_st_close(set);
    p = file_with_length(100000001, 64);
    ck_assert_int_eq(frz_st_open_file(p, &set), FRZ_ERR_FORMAT);
    ASSERT_MSG_HAS("100000001");
    ASSERT_MSG_HAS("limit");
    p = file_with_length(UINT64_MAX, 64);
    ck_assert_int_eq(frz_st_open_file(p, &set), FRZ_ERR_FORMAT);
    ASSERT_MSG_HAS(p);
    /* Not a file at all. */
    const char *dir = make_temp_dir();
    ck_assert_int_eq(frz_st_open_file(dir, &set), FRZ_ERR_IO);
    ASSERT_MSG_HAS(dir);
    p = join2(dir, "absent.safetensors");
    ck_assert_int_eq(frz_st_open_file(p, &set), FRZ_ERR_IO);
    ASSERT_MSG_HAS(p);
    ASSERT_MSG_HAS("No such file or directory");
}
END_TEST

/* ---- directories and shards -------------------------------------------------------------------------------- */

static const float sh_a[2] = { 1, 2 }, sh_b[3] = { 3, 4, 5 }, sh_c[1] = { 6 };
#define SHARD1 "model-00001-of-00002.safetensors"
#define SHARD2 "model-00002-of-00002.safetensors"

/* A directory with two shards (a, b in the first; c, plus `extra` if given, in the second) and an index. */
static const char *sharded_dir(const char *weight_map, const char *extra)
{
    static const int64_t s2[] = { 2 }, s3[] = { 3 }, s1[] = { 1 };
    const char *dir = make_temp_dir();
    frz_st_write_tensor t1[2] = { wt("a", FRZ_DT_F32, 1, s2, sh_a), wt("b", FRZ_DT_F32, 1, s3, sh_b) };
    frz_st_write_tensor t2[2] = { wt("c", FRZ_DT_F32, 1, s1, sh_c), wt(extra ? extra : "", FRZ_DT_F32, 1, s1, sh_c) };
    static const char *meta1[] = { "format", "pt" }, *meta2[] = { "format", "second" };
    ck_assert_int_eq(frz_st_write_file(join2(dir, SHARD1), t1, 2, meta1, 1), FRZ_OK);
    ck_assert_int_eq(frz_st_write_file(join2(dir, SHARD2), t2, extra ? 2 : 1, meta2, 1), FRZ_OK);
    char index[2048];
    snprintf(index, sizeof index, "{\"metadata\": {\"total_size\": 24}, \"weight_map\": %s}", weight_map);
    copy_file_or_fail(write_temp_file("index.json", index, strlen(index)), join2(dir, "model.safetensors.index.json"));
    return dir;
}

#define GOOD_MAP "{\"a\": \"" SHARD1 "\", \"b\": \"" SHARD1 "\", \"c\": \"" SHARD2 "\"}"

START_TEST(test_sharded_ok)
{
    const char *dir = sharded_dir(GOOD_MAP, NULL);
    frz_st_set *set;
    ck_assert_int_eq(frz_st_open_dir(dir, &set), FRZ_OK);
    ck_assert_uint_eq(frz_st_count(set), 3);
    ck_assert_str_eq(frz_st_find(set, "a")->file, join2(dir, SHARD1));
    ck_assert_str_eq(frz_st_find(set, "c")->file, join2(dir, SHARD2));
    ck_assert_str_eq(frz_st_metadata(set, "format"), "pt");  /* the first shard's */
    frz_st_close(set);
    /* A trailing '/' on the directory changes nothing. */
    char slashed[4200];
    snprintf(slashed, sizeof slashed, "%s/", dir);
    ck_assert_int_eq(frz_st_open_dir(slashed, &set), FRZ_OK);
    ck_assert_str_eq(frz_st_find(set, "c")->file, join2(dir, SHARD2));
    const float *out;
    float *owned;
    static const int64_t s3[] = { 3 };
    ck_assert_int_eq(frz_st_get_f32(set, "b", 1, s3, &out, &owned), FRZ_OK);
    ck_assert(out[0] == 3 && out[1] == 4 && out[2] == 5);
    frz_st_close(set);
}
END_TEST

START_TEST(test_dir_prefers_single_file)
{
    const char *dir = sharded_dir(GOOD_MAP, NULL);
    static const int64_t s1[] = { 1 };
    frz_st_write_tensor t = wt("only", FRZ_DT_F32, 1, s1, sh_c);
    ck_assert_int_eq(frz_st_write_file(join2(dir, "model.safetensors"), &t, 1, NULL, 0), FRZ_OK);
    frz_st_set *set;
    ck_assert_int_eq(frz_st_open_dir(dir, &set), FRZ_OK);
    ck_assert_uint_eq(frz_st_count(set), 1);
    ck_assert_ptr_nonnull(frz_st_find(set, "only"));
    frz_st_close(set);
}
END_TEST

START_TEST(test_dir_neither_file)
{
    const char *dir = make_temp_dir();
    frz_st_set *set = (frz_st_set *)1;
    ck_assert_int_eq(frz_st_open_dir(dir, &set), FRZ_ERR_IO);
    ck_assert_ptr_null(set);
    ASSERT_MSG_HAS(dir);
    ASSERT_MSG_HAS("model.safetensors ");
    ASSERT_MSG_HAS("model.safetensors.index.json");
    ck_assert_int_eq(frz_st_open_dir(join2(dir, "absent"), &set), FRZ_ERR_IO);
}
END_TEST

typedef struct {
    const char *weight_map, *extra;
    frz_status code;
    const char *part1, *part2;
} shard_case;

static const shard_case shard_cases[] = {
    /* a shard that does not exist */
    { "{\"a\": \"" SHARD1 "\", \"c\": \"model-00003-of-00003.safetensors\"}", NULL, FRZ_ERR_IO,
      "model-00003-of-00003.safetensors", "No such file" },
    /* a tensor its shard does not have */
    { "{\"a\": \"" SHARD1 "\", \"d\": \"" SHARD1 "\"}", NULL, FRZ_ERR_FORMAT, "'d'", SHARD1 },
    /* a tensor in another shard than the index says */
    { "{\"a\": \"" SHARD1 "\", \"c\": \"" SHARD1 "\", \"b\": \"" SHARD2 "\"}", NULL, FRZ_ERR_FORMAT, "'c'", SHARD2 },
    /* shard names that leave the directory */
    { "{\"a\": \"../" SHARD1 "\"}", NULL, FRZ_ERR_FORMAT, "'a'", "../" SHARD1 },
    { "{\"a\": \"sub/" SHARD1 "\"}", NULL, FRZ_ERR_FORMAT, "'a'", "sub/" SHARD1 },
    { "{\"a\": \"..\"}", NULL, FRZ_ERR_FORMAT, "'a'", "'..'" },
    { "{\"a\": 7}", NULL, FRZ_ERR_FORMAT, "'a'", "non-string" },
    { "{}", NULL, FRZ_ERR_FORMAT, "weight_map", "empty" },
    { "[]", NULL, FRZ_ERR_FORMAT, "weight_map", NULL },
    /* one name in two shards */
    { GOOD_MAP, "a", FRZ_ERR_FORMAT, "'a'", SHARD2 },
    /* the index itself is not JSON */
    { "{\"a\": }", NULL, FRZ_ERR_FORMAT, "model.safetensors.index.json: line 1", NULL },
};
#define N_SHARD_CASES ((int)(sizeof shard_cases / sizeof shard_cases[0]))

START_TEST(test_sharded_bad)
{
    const shard_case *c = &shard_cases[_i];
    const char *dir = sharded_dir(c->weight_map, c->extra);
    frz_st_set *set = (frz_st_set *)1;
    frz_status st = frz_st_open_dir(dir, &set);
    ck_assert_msg(st == c->code, "case %d: status %d, message %s", _i, st, frz_last_error());
    ck_assert_ptr_null(set);
    ASSERT_MSG_HAS(dir);
    if (c->part1) ASSERT_MSG_HAS(c->part1);
    if (c->part2) ASSERT_MSG_HAS(c->part2);
}
END_TEST

/* ---- lookups at scale, allocation failures ---------------------------------------------------------------- */

START_TEST(test_many_tensors)
{
    enum { N = 3000 };
    static char names[N][16];
    static unsigned char vals[N];
    static frz_st_write_tensor t[N];
    static const int64_t s1[] = { 1 };
    for (int i = 0; i < N; i++) {
        snprintf(names[i], sizeof names[i], "t.%d.w", (i * 7919) % N);  /* written out of order */
        vals[i] = (unsigned char)i;
        t[i] = wt(names[i], FRZ_DT_U8, 1, s1, &vals[i]);
    }
    const char *path = join2(make_temp_dir(), "many.safetensors");
    ck_assert_int_eq(frz_st_write_file(path, t, N, NULL, 0), FRZ_OK);
    frz_st_set *set;
    ck_assert_int_eq(frz_st_open_file(path, &set), FRZ_OK);
    ck_assert_uint_eq(frz_st_count(set), N);
    int bad = 0;
    for (int i = 0; i < N; i++) {
        const frz_st_tensor *r = frz_st_find(set, names[i]);
        bad += !r || *(const unsigned char *)r->data != (unsigned char)i;
    }
    ck_assert_int_eq(bad, 0);
    frz_st_close(set);
}
END_TEST

/* Fails allocation k = 1, 2, ... of open until it succeeds: each failure is FRZ_ERR_NOMEM, leaves *out NULL and
 * leaks nothing (LeakSanitizer checks under make check-asan). */
#define FAIL_EACH_ALLOCATION(call, out)                                   \
    do {                                                                  \
        long k_ = 1;                                                      \
        frz_status st_;                                                   \
        for (;; k_++) {                                                   \
            frz_test_fail_alloc_at(k_);                                   \
            st_ = (call);                                                 \
            if (st_ == FRZ_OK) break;                                     \
            ck_assert_msg(st_ == FRZ_ERR_NOMEM, "allocation %ld: %d %s", k_, st_, frz_last_error()); \
            ck_assert_ptr_null(out);                                      \
        }                                                                 \
        frz_test_fail_alloc_at(0);                                        \
        ck_assert_int_gt(k_, 2);                                          \
    } while (0)

START_TEST(test_nomem_open)
{
    const char *path = write_round_trip_file();
    frz_st_set *set = NULL;
    FAIL_EACH_ALLOCATION(frz_st_open_file(path, &set), set);
    ck_assert_uint_eq(frz_st_count(set), N_RT);
    frz_st_close(set);

    const char *dir = sharded_dir(GOOD_MAP, NULL);
    set = NULL;
    FAIL_EACH_ALLOCATION(frz_st_open_dir(dir, &set), set);
    ck_assert_uint_eq(frz_st_count(set), 3);

    static const int64_t s5[] = { 5 };
    frz_st_close(set);
    ck_assert_int_eq(frz_st_open_file(path, &set), FRZ_OK);
    const float *out = NULL;
    float *owned = NULL;
    frz_test_fail_alloc_at(1);
    ck_assert_int_eq(frz_st_get_f32(set, "f16", 1, s5, &out, &owned), FRZ_ERR_NOMEM);
    ck_assert_ptr_null(out);
    ck_assert_ptr_null(owned);
    ASSERT_MSG_HAS("f16");
    frz_test_fail_alloc_at(0);
    frz_st_close(set);
}
END_TEST

START_TEST(test_nomem_write)
{
    frz_st_write_tensor t[N_RT];
    round_trip_tensors(t);
    const char *path = join2(make_temp_dir(), "w.safetensors");
    long k = 1;
    for (;; k++) {
        frz_test_fail_alloc_at(k);
        frz_status st = frz_st_write_file(path, t, N_RT, rt_meta, 2);
        if (st == FRZ_OK) break;
        ck_assert_int_eq(st, FRZ_ERR_NOMEM);
        FILE *f = fopen(path, "rb");
        ck_assert_ptr_null(f);
    }
    frz_test_fail_alloc_at(0);
    ck_assert_int_gt(k, 2);
    frz_st_set *set;
    ck_assert_int_eq(frz_st_open_file(path, &set), FRZ_OK);
    ck_assert_uint_eq(frz_st_count(set), N_RT);
    frz_st_close(set);
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("safetensors");
    TCase *tc = tcase_create("convert");
    tcase_add_test(tc, test_f16_known_values);
    tcase_add_test(tc, test_f16_all_values);
    tcase_add_test(tc, test_bf16_values);
    tcase_add_test(tc, test_array_conversion);
    suite_add_tcase(s, tc);

    tc = tcase_create("read_write");
    tcase_add_test(tc, test_round_trip_all_dtypes);
    tcase_add_test(tc, test_writer_layout);
    tcase_add_test(tc, test_writer_errors);
    tcase_add_test(tc, test_get_f32);
    tcase_add_test(tc, test_shape_message);
    tcase_add_test(tc, test_get_f32_unaligned);
    tcase_add_test(tc, test_many_tensors);
    suite_add_tcase(s, tc);

    tc = tcase_create("malformed");
    tcase_add_test(tc, test_base_is_valid);
    tcase_add_loop_test(tc, test_malformed_header, 0, N_BAD_CASES);
    tcase_add_test(tc, test_bad_length);
    suite_add_tcase(s, tc);

    tc = tcase_create("dirs");
    tcase_add_test(tc, test_sharded_ok);
    tcase_add_test(tc, test_dir_prefers_single_file);
    tcase_add_test(tc, test_dir_neither_file);
    tcase_add_loop_test(tc, test_sharded_bad, 0, N_SHARD_CASES);
    suite_add_tcase(s, tc);

    tc = tcase_create("nomem");
    tcase_add_test(tc, test_nomem_open);
    tcase_add_test(tc, test_nomem_write);
    suite_add_tcase(s, tc);
    return s;
}

FRZ_TEST_MAIN(make_suite)
