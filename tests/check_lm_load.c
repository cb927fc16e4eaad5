/* check_lm_load.c -- frz_lm_load on broken model folders: each failure has the right status and a message naming
 * the file, JSON field, tensor or line at fault; and an allocation failure injected at every allocation of a
 * load gives FRZ_ERR_NOMEM without a crash or a leak (run under ASan/LSan by make check-asan).
 *
 * Each test copies a fixture model (tests/fixtures/models/, made by tests/reference/make_gpt2_fixtures.py) into a
 * fresh temporary folder and breaks one thing: a file removed, a config field changed (through Jansson), the
 * safetensors header edited and the data block repacked to match, or the file cut short. */
#include "util/testutil.h"

#include "core/core.h"
#include "frozen.h"

#include <dirent.h>
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define F32_MODEL "gpt2-f32"            /* 48 wide, 4 heads, 2 layers, 64 positions, 457 ids, attn.bias buffers */
#define SHARDED_MODEL "gpt2-bf16-sharded"

/* ---- folders and files ---------------------------------------------------------------------------------- */

static const char *join(const char *dir, const char *file)
{
    static char bufs[8][4096];
    static int next;
    char *p = bufs[next++ % 8];
    snprintf(p, 4096, "%s/%s", dir, file);
    return p;
}

/* A temporary copy of every file of a fixture model. */
static const char *copy_model(const char *name)
{
    char src[1024];
    snprintf(src, sizeof src, "%s", fixture_path(join("models", name)));
    const char *dst = make_temp_dir();
    DIR *d = opendir(src);
    ck_assert_msg(d != NULL, "cannot open %s", src);
    struct dirent *ent;
    while ((ent = readdir(d)) != NULL) {
        if (ent->d_name[0] == '.') continue;
        char from[2048];
        snprintf(from, sizeof from, "%s/%s", src, ent->d_name);
        copy_file_or_fail(from, join(dst, ent->d_name));
    }
    closedir(d);
    return dst;
}

static void write_bytes(const char *path, const void *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    ck_assert_msg(f != NULL, "cannot create %s", path);
    ck_assert_int_eq(fwrite(data, 1, len, f), len);
    fclose(f);
}

static void write_text(const char *path, const char *text) { write_bytes(path, text, strlen(text)); }

static void append_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "ab");
    ck_assert(f != NULL);
    ck_assert_int_eq(fwrite(text, 1, strlen(text), f), strlen(text));
    fclose(f);
}

static void remove_file(const char *path) { ck_assert_msg(unlink(path) == 0, "cannot remove %s", path); }

/* ---- config.json edits ---------------------------------------------------------------------------------- */

static json_t *load_json(const char *path)
{
    json_error_t err;
    json_t *j = json_load_file(path, 0, &err);
    ck_assert_msg(j != NULL, "%s: %s", path, err.text);
    return j;
}

static void save_json(const char *path, json_t *j)
{
    ck_assert(json_dump_file(j, path, JSON_INDENT(2)) == 0);
    json_decref(j);
}

/* Sets (value != NULL, stolen) or deletes (value == NULL) one config.json field. */
static void set_config(const char *dir, const char *key, json_t *value)
{
    const char *path = join(dir, "config.json");
    json_t *cfg = load_json(path);
    if (value)
        json_object_set_new(cfg, key, value);
    else
        ck_assert(json_object_del(cfg, key) == 0);
    save_json(path, cfg);
}

/* ---- safetensors edits ---------------------------------------------------------------------------------- */

typedef struct stfile {
    json_t *header;
    unsigned char *data;
    size_t data_len;
} stfile;

static stfile st_load(const char *path)
{
    size_t len;
    unsigned char *buf = (unsigned char *)read_file_or_fail(path, &len);
    ck_assert(len >= 8);
    uint64_t n = 0;
    for (int b = 7; b >= 0; b--) n = n << 8 | buf[b];
    ck_assert(n <= len - 8);
    json_error_t err;
    stfile f;
    f.header = json_loadb((const char *)buf + 8, (size_t)n, 0, &err);
    ck_assert_msg(f.header != NULL, "%s header: %s", path, err.text);
    f.data_len = len - 8 - (size_t)n;
    f.data = malloc(f.data_len + 1);
    ck_assert(f.data != NULL);
    memcpy(f.data, buf + 8 + n, f.data_len);
    free(buf);
    return f;
}

/* Writes the header (space-padded so the data starts 8-byte aligned) and the data block; frees f. */
static void st_save(const char *path, stfile *f)
{
    char *h = json_dumps(f->header, JSON_COMPACT);
    ck_assert(h != NULL);
    size_t n = strlen(h), pad = (8 - (8 + n) % 8) % 8;
    size_t total = 8 + n + pad + f->data_len;
    unsigned char *buf = malloc(total);
    ck_assert(buf != NULL);
    for (int b = 0; b < 8; b++) buf[b] = (unsigned char)((uint64_t)(n + pad) >> (8 * b));
    memcpy(buf + 8, h, n);
    memset(buf + 8 + n, ' ', pad);
    memcpy(buf + 8 + n + pad, f->data, f->data_len);
    write_bytes(path, buf, total);
    free(buf);
    free(h);
    json_decref(f->header);
    free(f->data);
}

static json_t *st_tensor(stfile *f, const char *name)
{
    json_t *t = json_object_get(f->header, name);
    ck_assert_msg(t != NULL, "fixture has no tensor %s", name);
    return t;
}

static size_t st_offset(json_t *t, size_t k)
{
    return (size_t)json_integer_value(json_array_get(json_object_get(t, "data_offsets"), k));
}

static void st_set_offsets(json_t *t, size_t b, size_t e)
{
    json_object_set_new(t, "data_offsets", json_pack("[II]", (json_int_t)b, (json_int_t)e));
}

typedef struct span { const char *name; size_t b, e; } span;

static int span_cmp(const void *a, const void *b)
{
    const span *x = a, *y = b;
    return x->b < y->b ? -1 : x->b > y->b;
}

/* Lays the data block out again, packed in the old order, leaving out the bytes of tensor `drop` (NULL: none), so
 * that an edit leaves no hole and no stray bytes behind. `drop` keeps its header entry, to be deleted or aimed
 * elsewhere by the caller. */
static void st_repack(stfile *f, const char *drop)
{
    size_t n = 0, cap = json_object_size(f->header);
    span *s = calloc(cap, sizeof *s);
    ck_assert(s != NULL);
    const char *key;
    json_t *val;
    json_object_foreach(f->header, key, val) {
        if (strcmp(key, "__metadata__") == 0 || (drop && strcmp(key, drop) == 0)) continue;
        s[n++] = (span){key, st_offset(val, 0), st_offset(val, 1)};
    }
    qsort(s, n, sizeof *s, span_cmp);
    unsigned char *data = malloc(f->data_len + 1);
    ck_assert(data != NULL);
    size_t off = 0;
    for (size_t i = 0; i < n; i++) {
        memcpy(data + off, f->data + s[i].b, s[i].e - s[i].b);
        st_set_offsets(json_object_get(f->header, s[i].name), off, off + (s[i].e - s[i].b));
        off += s[i].e - s[i].b;
    }
    free(f->data);
    f->data = data;
    f->data_len = off;
    free(s);
}

/* ---- assertions ----------------------------------------------------------------------------------------- */

#define BIT(code) (1u << (code))

/* frz_lm_load(dir) must fail with one of the codes in `codes` (a BIT() mask), leave *out NULL, and its message
 * must contain `need` and, if given, `need2` (each may list alternatives separated by '|'). */
static void expect_fail_any(const char *dir, unsigned codes, const char *need, const char *need2)
{
    frz_lm *lm = NULL;
    frz_status st = frz_lm_load(dir, &lm);
    const char *msg = frz_last_error();
    ck_assert_msg(st != FRZ_OK && (codes & BIT(st)), "frz_lm_load: unexpected status '%s' (message: %s)",
                  frz_strerror(st), msg);
    ck_assert_msg(lm == NULL, "frz_lm_load failed but returned a model");
    const char *needs[2] = {need, need2};
    for (int k = 0; k < 2; k++) {
        if (!needs[k]) continue;
        char alts[256];
        snprintf(alts, sizeof alts, "%s", needs[k]);
        int found = 0;
        for (char *save = NULL, *a = strtok_r(alts, "|", &save); a; a = strtok_r(NULL, "|", &save))
            found |= strstr(msg, a) != NULL;
        ck_assert_msg(found, "message does not name '%s': %s", needs[k], msg);
    }
}

static void expect_fail(const char *dir, frz_status code, const char *need, const char *need2)
{
    expect_fail_any(dir, BIT(code), need, need2);
}

static void expect_ok(const char *dir)
{
    frz_lm *lm = NULL;
    frz_status st = frz_lm_load(dir, &lm);
    ck_assert_msg(st == FRZ_OK, "frz_lm_load(%s): %s: %s", dir, frz_strerror(st), frz_last_error());
    frz_lm_free(lm);
}

/* ---- tests: files --------------------------------------------------------------------------------------- */

/* The copies themselves load, so every failure below comes from the one thing broken. */
START_TEST(test_copies_load)
{
    expect_ok(copy_model(F32_MODEL));
    expect_ok(copy_model(SHARDED_MODEL));
}
END_TEST

START_TEST(test_bad_arguments)
{
    frz_lm *lm = NULL;
    ck_assert_int_eq(frz_lm_load(NULL, &lm), FRZ_ERR_INVALID_ARG);
    ck_assert(lm == NULL);
    ck_assert_int_eq(frz_lm_load(fixture_path("models/" F32_MODEL), NULL), FRZ_ERR_INVALID_ARG);
    frz_lm_free(NULL);
    expect_fail(join(make_temp_dir(), "no-such-folder"), FRZ_ERR_IO, "no-such-folder", NULL);
}
END_TEST

static const char *const REQUIRED[] = {"config.json", "model.safetensors", "vocab.json", "merges.txt"};

START_TEST(test_missing_file)
{
    const char *dir = copy_model(F32_MODEL);
    remove_file(join(dir, REQUIRED[_i]));
    expect_fail(dir, FRZ_ERR_IO, REQUIRED[_i], NULL);
}
END_TEST

START_TEST(test_missing_shard)
{
    const char *dir = copy_model(SHARDED_MODEL);
    remove_file(join(dir, "model-00002-of-00002.safetensors"));
    expect_fail(dir, FRZ_ERR_IO, "model-00002-of-00002.safetensors", NULL);
}
END_TEST

START_TEST(test_bad_index)
{
    const char *dir = copy_model(SHARDED_MODEL);
    write_text(join(dir, "model.safetensors.index.json"), "{\"weight_map\": {\"wte.weight\": }}\n");
    expect_fail(dir, FRZ_ERR_FORMAT, "model.safetensors.index.json", NULL);
}
END_TEST

/* The index says a tensor lives in the other shard. */
START_TEST(test_index_wrong_shard)
{
    const char *dir = copy_model(SHARDED_MODEL);
    const char *path = join(dir, "model.safetensors.index.json");
    json_t *idx = load_json(path);
    json_t *map = json_object_get(idx, "weight_map");
    ck_assert(json_is_string(json_object_get(map, "ln_f.weight")));
    json_object_set_new(map, "ln_f.weight", json_string("model-00001-of-00002.safetensors"));
    save_json(path, idx);
    expect_fail(dir, FRZ_ERR_FORMAT, "ln_f.weight", NULL);
}
END_TEST

/* ---- tests: config.json --------------------------------------------------------------------------------- */

START_TEST(test_config_bad_json)
{
    const char *dir = copy_model(F32_MODEL);
    write_text(join(dir, "config.json"),
               "{\n  \"model_type\": \"gpt2\",\n  \"n_embd\": 48\n  \"n_head\": 4,\n  \"n_layer\": 2\n}\n");
    expect_fail(dir, FRZ_ERR_FORMAT, "config.json", "line 4");
}
END_TEST

START_TEST(test_config_head_not_dividing)
{
    const char *dir = copy_model(F32_MODEL);
    set_config(dir, "n_head", json_integer(5));
    expect_fail(dir, FRZ_ERR_FORMAT, "n_embd", "n_head");
}
END_TEST

START_TEST(test_config_zero_layers)
{
    const char *dir = copy_model(F32_MODEL);
    set_config(dir, "n_layer", json_integer(0));
    expect_fail(dir, FRZ_ERR_FORMAT, "n_layer", "config.json");
}
END_TEST

START_TEST(test_config_zero_heads)
{
    const char *dir = copy_model(F32_MODEL);
    set_config(dir, "n_head", json_integer(0));
    expect_fail(dir, FRZ_ERR_FORMAT, "n_head", "config.json");
}
END_TEST

START_TEST(test_config_negative_positions)
{
    const char *dir = copy_model(F32_MODEL);
    set_config(dir, "n_positions", json_integer(-64));
    set_config(dir, "n_ctx", json_integer(-64));
    expect_fail(dir, FRZ_ERR_FORMAT, "n_positions|n_ctx", "config.json");
}
END_TEST

START_TEST(test_config_field_wrong_type)
{
    const char *dir = copy_model(F32_MODEL);
    set_config(dir, "n_layer", json_string("two"));
    expect_fail(dir, FRZ_ERR_FORMAT, "n_layer", "config.json");
    dir = copy_model(F32_MODEL);
    set_config(dir, "layer_norm_epsilon", json_string("tiny"));
    expect_fail(dir, FRZ_ERR_FORMAT, "layer_norm_epsilon", "config.json");
}
END_TEST

/* Absurd sizes fail on the config or on the first tensor that cannot match them, before anything that size is
 * allocated: never FRZ_ERR_NOMEM, never a crash. */
START_TEST(test_config_huge_sizes)
{
    static const struct { const char *key; json_int_t value; const char *need; } cases[] = {
        {"n_embd", 1000000000, "n_embd|wte.weight|wpe.weight|h.0."},
        {"n_embd", (json_int_t)1 << 62, "n_embd|wte.weight|wpe.weight|h.0."},
        {"n_layer", 1000000000, "n_layer|h.2."},
        {"vocab_size", (json_int_t)1 << 40, "vocab_size|wte.weight"},
        {"n_positions", (json_int_t)1 << 40, "n_positions|wpe.weight"},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        const char *dir = copy_model(F32_MODEL);
        set_config(dir, cases[k].key, json_integer(cases[k].value));
        if (strcmp(cases[k].key, "n_positions") == 0) set_config(dir, "n_ctx", json_integer(cases[k].value));
        expect_fail_any(dir, BIT(FRZ_ERR_FORMAT) | BIT(FRZ_ERR_SHAPE), cases[k].need, NULL);
    }
}
END_TEST

/* A missing size field cannot be guessed to fit (Hugging Face's default 768 does not match the tensors). */
START_TEST(test_config_missing_field)
{
    const char *dir = copy_model(F32_MODEL);
    set_config(dir, "n_embd", NULL);
    expect_fail_any(dir, BIT(FRZ_ERR_FORMAT) | BIT(FRZ_ERR_SHAPE), "n_embd|wte.weight", NULL);
    dir = copy_model(F32_MODEL);
    set_config(dir, "vocab_size", NULL);
    expect_fail_any(dir, BIT(FRZ_ERR_FORMAT) | BIT(FRZ_ERR_SHAPE), "vocab_size|wte.weight", NULL);
}
END_TEST

START_TEST(test_config_unknown_activation)
{
    const char *dir = copy_model(F32_MODEL);
    set_config(dir, "activation_function", json_string("swiglu"));
    expect_fail(dir, FRZ_ERR_UNSUPPORTED, "activation_function", "swiglu");
}
END_TEST

START_TEST(test_config_other_architecture)
{
    const char *dir = copy_model(F32_MODEL);
    set_config(dir, "model_type", json_string("llama"));
    expect_fail(dir, FRZ_ERR_UNSUPPORTED, "model_type", "llama");
}
END_TEST

/* config.json and the tensors disagree: the one tensor that differs is named. */
START_TEST(test_config_tensor_mismatch)
{
    const char *dir = copy_model(F32_MODEL);
    set_config(dir, "vocab_size", json_integer(500));
    expect_fail(dir, FRZ_ERR_SHAPE, "wte.weight", NULL);

    dir = copy_model(F32_MODEL);
    set_config(dir, "n_positions", json_integer(32));
    set_config(dir, "n_ctx", json_integer(32));
    expect_fail(dir, FRZ_ERR_SHAPE, "wpe.weight", NULL);

    dir = copy_model(F32_MODEL); /* divides evenly, but every tensor is 48 wide */
    set_config(dir, "n_embd", json_integer(32));
    expect_fail(dir, FRZ_ERR_SHAPE, "weight|bias", NULL);
}
END_TEST

/* ---- tests: safetensors --------------------------------------------------------------------------------- */

START_TEST(test_tensor_missing)
{
    const char *dir = copy_model(F32_MODEL);
    const char *path = join(dir, "model.safetensors");
    stfile f = st_load(path);
    st_tensor(&f, "h.1.mlp.c_fc.bias");
    st_repack(&f, "h.1.mlp.c_fc.bias");
    json_object_del(f.header, "h.1.mlp.c_fc.bias");
    st_save(path, &f);
    expect_fail(dir, FRZ_ERR_FORMAT, "h.1.mlp.c_fc.bias", NULL);
}
END_TEST

/* Same byte count, transposed shape: only the shape check can see it. */
START_TEST(test_tensor_wrong_shape)
{
    const char *dir = copy_model(F32_MODEL);
    const char *path = join(dir, "model.safetensors");
    stfile f = st_load(path);
    json_object_set_new(st_tensor(&f, "h.1.mlp.c_fc.weight"), "shape", json_pack("[ii]", 192, 48));
    st_save(path, &f);
    expect_fail(dir, FRZ_ERR_SHAPE, "h.1.mlp.c_fc.weight", NULL);
}
END_TEST

/* A well-formed header with a dtype libfrozen does not compute with: a known one of the same width (I32 for
 * F32), and one it does not know at all (8-bit float, shape widened to keep the byte count). */
START_TEST(test_tensor_unsupported_dtype)
{
    const char *dir = copy_model(F32_MODEL);
    const char *path = join(dir, "model.safetensors");
    stfile f = st_load(path);
    json_object_set_new(st_tensor(&f, "h.0.ln_2.weight"), "dtype", json_string("I32"));
    st_save(path, &f);
    expect_fail(dir, FRZ_ERR_UNSUPPORTED, "h.0.ln_2.weight", "I32");

    dir = copy_model(F32_MODEL);
    path = join(dir, "model.safetensors");
    f = st_load(path);
    json_t *t = st_tensor(&f, "h.0.ln_2.weight");
    json_object_set_new(t, "dtype", json_string("F8_E4M3"));
    json_object_set_new(t, "shape", json_pack("[i]", 4 * 48));
    st_save(path, &f);
    expect_fail(dir, FRZ_ERR_UNSUPPORTED, "F8_E4M3", NULL);
}
END_TEST

/* Two tensors share bytes (no hole left, sizes consistent): the reader must refuse overlapping offsets. */
START_TEST(test_tensor_overlap)
{
    const char *dir = copy_model(F32_MODEL);
    const char *path = join(dir, "model.safetensors");
    stfile f = st_load(path);
    st_repack(&f, "h.0.ln_1.bias");
    json_t *w = st_tensor(&f, "h.0.ln_1.weight");
    st_set_offsets(st_tensor(&f, "h.0.ln_1.bias"), st_offset(w, 0), st_offset(w, 1));
    st_save(path, &f);
    expect_fail(dir, FRZ_ERR_FORMAT, "model.safetensors", "h.0.ln_1.bias|h.0.ln_1.weight|overlap");
}
END_TEST

/* A tensor's data_offsets disagree with its shape and dtype. */
START_TEST(test_tensor_size_mismatch)
{
    const char *dir = copy_model(F32_MODEL);
    const char *path = join(dir, "model.safetensors");
    stfile f = st_load(path);
    json_object_set_new(st_tensor(&f, "h.0.ln_1.bias"), "shape", json_pack("[i]", 47));
    st_save(path, &f);
    expect_fail_any(dir, BIT(FRZ_ERR_FORMAT) | BIT(FRZ_ERR_SHAPE), "h.0.ln_1.bias", NULL);
}
END_TEST

/* The file cut short: empty, inside the 8-byte length, right after it, inside the header, inside the data. */
START_TEST(test_truncated)
{
    const char *src = fixture_path("models/" F32_MODEL "/model.safetensors");
    size_t len;
    char *buf = read_file_or_fail(src, &len);
    const size_t keep[] = {0, 5, 8, 100, len - 100};
    const char *dir = copy_model(F32_MODEL);
    write_bytes(join(dir, "model.safetensors"), buf, keep[_i]);
    free(buf);
    expect_fail(dir, FRZ_ERR_FORMAT, "model.safetensors", NULL);
}
END_TEST

/* The 8-byte header length points past the end of the file, or wraps around when added. */
START_TEST(test_header_length_past_eof)
{
    static const uint64_t lengths[] = {0 /* = file size */, UINT64_MAX - 3, (uint64_t)1 << 63, 0x7fffffffffffffffull};
    const char *dir = copy_model(F32_MODEL);
    const char *path = join(dir, "model.safetensors");
    size_t len;
    unsigned char *buf = (unsigned char *)read_file_or_fail(path, &len);
    uint64_t n = lengths[_i] ? lengths[_i] : (uint64_t)len;
    for (int b = 0; b < 8; b++) buf[b] = (unsigned char)(n >> (8 * b));
    write_bytes(path, buf, len);
    free(buf);
    expect_fail(dir, FRZ_ERR_FORMAT, "model.safetensors", NULL);
}
END_TEST

START_TEST(test_header_bad_json)
{
    const char *dir = copy_model(F32_MODEL);
    const char *path = join(dir, "model.safetensors");
    size_t len;
    char *buf = read_file_or_fail(path, &len);
    char *brace = memchr(buf + 8, ':', 200);
    ck_assert(brace != NULL);
    *brace = ';';
    write_bytes(path, buf, len);
    free(buf);
    expect_fail(dir, FRZ_ERR_FORMAT, "model.safetensors", NULL);
}
END_TEST

/* ---- tests: tokenizer files ----------------------------------------------------------------------------- */

/* merges.txt is "#version: 0.2" and then the fixture's 200 merges: an appended merge is line 202. */
START_TEST(test_merge_not_in_vocab)
{
    static const char *const bad[] = {"qz xj\n", "\xc4\xa0" "a he\n"}; /* parts absent; "Ġahe" absent */
    const char *dir = copy_model(F32_MODEL);
    append_text(join(dir, "merges.txt"), bad[_i]);
    expect_fail(dir, FRZ_ERR_FORMAT, "merges.txt", "202");
}
END_TEST

START_TEST(test_vocab_bad_json)
{
    const char *dir = copy_model(F32_MODEL);
    write_text(join(dir, "vocab.json"), "{\"!\": 0, \"\\\"\": 1,, }");
    expect_fail(dir, FRZ_ERR_FORMAT, "vocab.json", NULL);
}
END_TEST

/* vocab.json has an id the model has no row for (config vocab_size 457). */
START_TEST(test_vocab_larger_than_config)
{
    const char *dir = copy_model(F32_MODEL);
    const char *path = join(dir, "vocab.json");
    json_t *v = load_json(path);
    ck_assert_int_eq(json_object_size(v), 457);
    json_object_set_new(v, "zzzz", json_integer(457));
    save_json(path, v);
    expect_fail_any(dir, BIT(FRZ_ERR_FORMAT) | BIT(FRZ_ERR_SHAPE), "vocab.json", "457|458");
}
END_TEST

/* ---- allocation failures -------------------------------------------------------------------------------- */

/* Fails the 1st, 2nd, ... allocation of a load until a load succeeds: each failing load returns FRZ_ERR_NOMEM
 * and no model (ASan/LSan catch crashes and leaks on those paths). */
static void fail_every_allocation(const char *dir)
{
    long k;
    for (k = 1; k < 200000; k++) {
        frz_lm *lm = NULL;
        frz_test_fail_alloc_at(k);
        frz_status st = frz_lm_load(dir, &lm);
        frz_test_fail_alloc_at(0);
        if (st == FRZ_OK) {
            ck_assert(lm != NULL);
            frz_lm_free(lm);
            break;
        }
        ck_assert_msg(st == FRZ_ERR_NOMEM, "allocation %ld failed: got '%s' (%s)", k, frz_strerror(st),
                      frz_last_error());
        ck_assert_msg(lm == NULL, "allocation %ld failed but a model came back", k);
        ck_assert_msg(frz_last_error()[0] != 0, "allocation %ld: empty message", k);
    }
    ck_assert_msg(k > 1, "frz_lm_load allocated nothing through frz_malloc");
    ck_assert_msg(k < 200000, "frz_lm_load never succeeded");
}

START_TEST(test_alloc_failures)
{
    static const char *const models[] = {F32_MODEL, "gpt2-f16-prefix", SHARDED_MODEL};
    fail_every_allocation(fixture_path(join("models", models[_i])));
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("lm_load");
    TCase *tc = tcase_create("malformed");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_copies_load);
    tcase_add_test(tc, test_bad_arguments);
    tcase_add_loop_test(tc, test_missing_file, 0, 4);
    tcase_add_test(tc, test_missing_shard);
    tcase_add_test(tc, test_bad_index);
    tcase_add_test(tc, test_index_wrong_shard);
    tcase_add_test(tc, test_config_bad_json);
    tcase_add_test(tc, test_config_head_not_dividing);
    tcase_add_test(tc, test_config_zero_layers);
    tcase_add_test(tc, test_config_zero_heads);
    tcase_add_test(tc, test_config_negative_positions);
    tcase_add_test(tc, test_config_field_wrong_type);
    tcase_add_test(tc, test_config_huge_sizes);
    tcase_add_test(tc, test_config_missing_field);
    tcase_add_test(tc, test_config_unknown_activation);
    tcase_add_test(tc, test_config_other_architecture);
    tcase_add_test(tc, test_config_tensor_mismatch);
    tcase_add_test(tc, test_tensor_missing);
    tcase_add_test(tc, test_tensor_wrong_shape);
    tcase_add_test(tc, test_tensor_unsupported_dtype);
    tcase_add_test(tc, test_tensor_overlap);
    tcase_add_test(tc, test_tensor_size_mismatch);
    tcase_add_loop_test(tc, test_truncated, 0, 5);
    tcase_add_loop_test(tc, test_header_length_past_eof, 0, 4);
    tcase_add_test(tc, test_header_bad_json);
    tcase_add_loop_test(tc, test_merge_not_in_vocab, 0, 2);
    tcase_add_test(tc, test_vocab_bad_json);
    tcase_add_test(tc, test_vocab_larger_than_config);
    suite_add_tcase(s, tc);

    TCase *tm = tcase_create("alloc");
    tcase_set_timeout(tm, 600);
    tcase_add_loop_test(tm, test_alloc_failures, 0, 3);
    suite_add_tcase(s, tm);
    return s;
}

FRZ_TEST_MAIN(make_suite)
