/* check_demo_world.c -- the demo world generator (demo/world): its Fashion-MNIST IDX reader on crafted files,
 * and frozen-demo-world --scale small run three times (two seeds): the files parse with the library's own readers,
 * the held-out combos stay out of training, the pictures show what their captions say (checked on the decoded
 * pixels with this file's own colour table and geometry, not the renderer's), corpus lines have the documented
 * shapes and consistent answers, and the output depends on the seed alone. */
#include "util/testutil.h"

#include "../demo/world/idx.h"
#include "eval/eval.h"
#include "image/image.h"
#include "train/data.h"

#include <jansson.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

/* ======================================================================================================= */
/* IDX reader on crafted files                                                                             */

/* Writes bytes to dir/name, gzipped or plain. */
static const char *put(const char *dir, const char *name, const uint8_t *data, size_t n, int gz)
{
    const char *path = path_in(dir, name);
    if (gz) {
        gzFile g = gzopen(path, "wb");
        ck_assert_ptr_nonnull(g);
        ck_assert_int_eq(gzwrite(g, data, (unsigned)n), (int)n);
        ck_assert_int_eq(gzclose(g), Z_OK);
    } else {
        FILE *f = fopen(path, "wb");
        ck_assert_ptr_nonnull(f);
        ck_assert_uint_eq(fwrite(data, 1, n, f), n);
        fclose(f);
    }
    return path;
}

static size_t header(uint8_t *b, int ndim, const uint32_t *dims)
{
    b[0] = 0, b[1] = 0, b[2] = 8, b[3] = (uint8_t)ndim;
    for (int k = 0; k < ndim; k++)
        for (int j = 0; j < 4; j++) b[4 + 4 * k + j] = (uint8_t)(dims[k] >> (24 - 8 * j));
    return 4 + 4 * (size_t)ndim;
}

/* n images of 28 x 28 whose pixel (i, y, x) is (i * 31 + y * 7 + x) % 256, and labels 9 - i % 10. */
static uint8_t images_file[16 + 3 * 784], labels_file[8 + 3];
static size_t make_files(size_t n_images, size_t n_labels)
{
    uint32_t d3[3] = {(uint32_t)n_images, 28, 28}, d1[1] = {(uint32_t)n_labels};
    size_t h = header(images_file, 3, d3);
    for (size_t i = 0; i < n_images * 784; i++)
        images_file[h + i] = (uint8_t)((i / 784 * 31 + i % 784 / 28 * 7 + i % 28) % 256);
    header(labels_file, 1, d1);
    for (size_t i = 0; i < n_labels; i++) labels_file[8 + i] = (uint8_t)(9 - i % 10);
    return h + n_images * 784;
}

START_TEST(test_idx_valid)
{
    for (int gz = 0; gz < 2; gz++) { /* zlib reads plain files too */
        const char *dir = make_temp_dir();
        size_t n = make_files(3, 3);
        put(dir, "train-images-idx3-ubyte.gz", images_file, n, gz);
        put(dir, "train-labels-idx1-ubyte.gz", labels_file, 11, gz);
        fmnist_split s = {0};
        ck_assert_int_eq(fmnist_load(dir, "train", &s), FRZ_OK);
        ck_assert_uint_eq(s.n, 3);
        for (size_t i = 0; i < 3; i++) {
            ck_assert_uint_eq(s.labels[i], 9 - i);
            for (size_t y = 0; y < 28; y += 9)
                for (size_t x = 0; x < 28; x += 5)
                    ck_assert_uint_eq(s.images[i * 784 + y * 28 + x], (i * 31 + y * 7 + x) % 256);
        }
        fmnist_free(&s);
    }
}
END_TEST

/* idx_load on bytes written to a file must fail with code, its message naming the file and holding `part`. */
static void expect_idx_error(const uint8_t *data, size_t n, int gz, int ndim, frz_status code, const char *part)
{
    const char *dir = make_temp_dir();
    const char *path = put(dir, "bad-idx3-ubyte.gz", data, n, gz);
    idx_array a = {.data = (uint8_t *)1};
    ck_assert_int_eq(idx_load(path, ndim, &a), code);
    ck_assert_ptr_null(a.data);
    ASSERT_MSG_HAS(path);
    ASSERT_MSG_HAS(part);
}

START_TEST(test_idx_errors)
{
    size_t n = make_files(3, 3);
    uint8_t bad[16 + 3 * 784];
    memcpy(bad, images_file, n);
    bad[0] = 0x1f; /* bad magic */
    expect_idx_error(bad, n, 1, 3, FRZ_ERR_FORMAT, "byte 0: bad magic 1f 00 08 03");
    memcpy(bad, images_file, n);
    bad[2] = 0x0d; /* float data */
    expect_idx_error(bad, n, 1, 3, FRZ_ERR_FORMAT, "byte 2: data type 0x0d");
    expect_idx_error(images_file, n, 1, 1, FRZ_ERR_FORMAT, "byte 3: 3 dimensions, expected 1");
    /* truncated: 2.5 images where the header promises 3; the data ends at 16 + 1960 */
    expect_idx_error(images_file, 16 + 1960, 1, 3, FRZ_ERR_FORMAT, "truncated: the data ends at byte 1976");
    expect_idx_error(images_file, 10, 0, 3, FRZ_ERR_FORMAT, "truncated: the data ends at byte 10");
    /* one byte too many */
    uint8_t *longer = calloc(n + 1, 1);
    memcpy(longer, images_file, n);
    expect_idx_error(longer, n + 1, 1, 3, FRZ_ERR_FORMAT, "byte 2368: data after the 2352 bytes");
    free(longer);
    /* a zero dimension */
    memcpy(bad, images_file, n);
    bad[8] = bad[9] = bad[10] = bad[11] = 0;
    expect_idx_error(bad, n, 0, 3, FRZ_ERR_FORMAT, "byte 8: dimension 1 is 0");
    expect_idx_error(bad, 0, 0, 3, FRZ_ERR_FORMAT, "truncated: the data ends at byte 0");
    idx_array a;
    ck_assert_int_eq(idx_load("/nonexistent/x-idx3-ubyte.gz", 3, &a), FRZ_ERR_IO);
    ASSERT_MSG_HAS("/nonexistent/x-idx3-ubyte.gz");
}
END_TEST

/* Damaged gzip: a flipped byte inside the deflate data, and a gzip stream cut short. */
START_TEST(test_idx_gzip_corrupt)
{
    size_t n = make_files(3, 3);
    const char *dir = make_temp_dir();
    const char *good = put(dir, "good.gz", images_file, n, 1);
    size_t len = 0;
    char *gz = read_file_or_fail(good, &len);
    ck_assert_uint_gt(len, 40);
    /* the CRC-32 in the trailer (the last 8 bytes: CRC, size): zlib notices at the end of the stream */
    gz[len - 8] ^= 0x55;
    expect_idx_error((const uint8_t *)gz, len, 0, 3, FRZ_ERR_FORMAT, "damaged gzip data");
    ASSERT_MSG_HAS("incorrect data check");
    gz[len - 8] ^= 0x55;
    /* a cut inside the compressed data */
    expect_idx_error((const uint8_t *)gz, len / 2, 0, 3, FRZ_ERR_FORMAT, "damaged gzip data");
    ASSERT_MSG_HAS("unexpected end of file");
    /* garbage in the deflate stream right after the 10-byte gzip header */
    for (size_t i = 10; i < 20; i++) gz[i] = (char)0xff;
    expect_idx_error((const uint8_t *)gz, len, 0, 3, FRZ_ERR_FORMAT, "damaged gzip data");
    free(gz);
}
END_TEST

/* The Fashion-MNIST checks: image size, label count, label values. */
START_TEST(test_fmnist_checks)
{
    size_t n = make_files(3, 3);
    const char *dir = make_temp_dir();
    fmnist_split s;
    put(dir, "t10k-images-idx3-ubyte.gz", images_file, n, 1);
    put(dir, "t10k-labels-idx1-ubyte.gz", labels_file, 10, 1); /* header says 3 labels, 2 present */
    ck_assert_int_eq(fmnist_load(dir, "t10k", &s), FRZ_ERR_FORMAT);
    ASSERT_MSG_HAS("t10k-labels-idx1-ubyte.gz: truncated: the data ends at byte 10");
    make_files(3, 2);
    put(dir, "t10k-labels-idx1-ubyte.gz", labels_file, 10, 1);
    ck_assert_int_eq(fmnist_load(dir, "t10k", &s), FRZ_ERR_FORMAT);
    ASSERT_MSG_HAS("t10k-labels-idx1-ubyte.gz: byte 4: 2 labels for the 3 images");
    make_files(3, 3);
    labels_file[9] = 10;
    put(dir, "t10k-labels-idx1-ubyte.gz", labels_file, 11, 1);
    ck_assert_int_eq(fmnist_load(dir, "t10k", &s), FRZ_ERR_FORMAT);
    ASSERT_MSG_HAS("t10k-labels-idx1-ubyte.gz: byte 9: label 10 is not a class");
    uint8_t small[16 + 2 * 100];
    uint32_t d[3] = {2, 10, 10};
    header(small, 3, d);
    memset(small + 16, 7, 200);
    put(dir, "t10k-images-idx3-ubyte.gz", small, sizeof small, 1);
    ck_assert_int_eq(fmnist_load(dir, "t10k", &s), FRZ_ERR_FORMAT);
    ASSERT_MSG_HAS("t10k-images-idx3-ubyte.gz: bytes 8..15: images of 10 x 10");
    ck_assert_int_eq(fmnist_load("/nonexistent", "t10k", &s), FRZ_ERR_IO);
    ASSERT_MSG_HAS("/nonexistent/t10k-images-idx3-ubyte.gz");
}
END_TEST

/* ======================================================================================================= */
/* The generator at --scale small                                                                          */

/* The world as DEMO-SPEC.md and demo/world/README.md document it (this file's own copy). */
static const char *const SHAPE[6] = {"circle", "square", "triangle", "diamond", "cross", "star"};
static const char *const SHAPES[6] = {"circles", "squares", "triangles", "diamonds", "crosses", "stars"};
static const char *const COLOUR[8] = {"red", "green", "blue", "yellow", "purple", "orange", "white", "pink"};
static const int RGB[8][3] = {{230, 30, 30}, {30, 200, 40}, {40, 90, 255}, {240, 230, 30},
                              {150, 40, 210}, {255, 140, 0}, {255, 255, 255}, {255, 130, 200}};
static const char *const SIZE[2] = {"small", "large"};
static const char *const COUNT[3] = {"a", "two", "three"};
static const char *const POS[5] = {"on the left", "on the right", "at the top", "at the bottom", "in the middle"};
static const char *const POS_WORD[5] = {"left", "right", "top", "bottom", "middle"};
static const char *const CLASS[10] = {"top", "trouser", "pullover", "dress", "coat",
                                      "sandal", "shirt", "sneaker", "bag", "boot"};
static const char *const QUESTION[4] = {"What colour is the shape?", "What shape is it?", "How big is it?",
                                        "Where is it?"};
static const char *const KQUESTION[3] = {"What is this made of?", "What is this worn on?", "What is this used for?"};

typedef struct caption {
    int count, size, colour, shape, pos;
} caption;

/* Parses a shape caption by trying every combination: 1 and the attributes, or 0. */
static int parse_caption(const char *s, caption *c)
{
    char buf[128];
    for (int n = 0; n < 3; n++)
        for (int z = 0; z < 2; z++)
            for (int k = 0; k < 8; k++)
                for (int h = 0; h < 6; h++)
                    for (int p = 0; p < 5; p++) {
                        snprintf(buf, sizeof buf, "%s %s %s %s %s", COUNT[n], SIZE[z], COLOUR[k],
                                 n ? SHAPES[h] : SHAPE[h], POS[p]);
                        if (strcmp(buf, s) == 0) {
                            *c = (caption){n, z, k, h, p};
                            return 1;
                        }
                    }
    return 0;
}

/* "a boot": the class, or -1. */
static int parse_fashion(const char *s)
{
    for (int i = 0; i < 10; i++)
        if (strncmp(s, "a ", 2) == 0 && strcmp(s + 2, CLASS[i]) == 0) return i;
    return -1;
}

/* A clothing item's description before a knowledge question: "a boot", "a gray boot", "a large gray boot", "a boot
 * in the middle" or "a large gray boot in the middle": the class, or -1. *form receives which. */
static int parse_clothing_description(const char *s, int *form)
{
    static const char *const forms[5] = {"a %s", "a gray %s", "a large gray %s", "a %s in the middle",
                                         "a large gray %s in the middle"};
    char buf[96];
    for (int f = 0; f < 5; f++)
        for (int i = 0; i < 10; i++) {
            snprintf(buf, sizeof buf, forms[f], CLASS[i]);
            if (strcmp(buf, s) == 0) {
                *form = f;
                return i;
            }
        }
    return -1;
}

static const char *answer_of(const caption *c, int q)
{
    return q == 0 ? COLOUR[c->colour] : q == 1 ? SHAPE[c->shape] : q == 2 ? SIZE[c->size] : POS_WORD[c->pos];
}

static char world_a[4096], world_b[4096], world_c[4096];


static char worlds[64], fmnist_dir[128];

/* A stand-in for Fashion-MNIST (the tests need not the Debian package): 100 training and 100 test images,
 * image i of a split has pixel (y, x) = (i * 13 + y * 3 + x) % 256 and label i % 10. */
#define FAKE_N 100
static int fake_pixel(int i, int y, int x) { return (i * 13 + y * 3 + x) % 256; }

static void write_gz(const char *path, const uint8_t *data, size_t n)
{
    gzFile g = gzopen(path, "wb");
    if (!g || gzwrite(g, data, (unsigned)n) != (int)n || gzclose(g) != Z_OK) {
        fprintf(stderr, "check_demo_world: cannot write %s\n", path);
        exit(1);
    }
}

static void make_fake_fmnist(void)
{
    static uint8_t img[16 + FAKE_N * 784], lab[8 + FAKE_N];
    uint32_t d3[3] = {FAKE_N, 28, 28}, d1[1] = {FAKE_N};
    header(img, 3, d3);
    header(lab, 1, d1);
    for (int i = 0; i < FAKE_N; i++) {
        lab[8 + i] = (uint8_t)(i % 10);
        for (int k = 0; k < 784; k++) img[16 + i * 784 + k] = (uint8_t)fake_pixel(i, k / 28, k % 28);
    }
    snprintf(fmnist_dir, sizeof fmnist_dir, "%s/fmnist", worlds);
    if (mkdir(fmnist_dir, 0777) != 0) {
        perror("check_demo_world: mkdir");
        exit(1);
    }
    const char *split[2] = {"train", "t10k"};
    for (int k = 0; k < 2; k++) {
        char path[256];
        snprintf(path, sizeof path, "%s/%s-images-idx3-ubyte.gz", fmnist_dir, split[k]);
        write_gz(path, img, sizeof img);
        snprintf(path, sizeof path, "%s/%s-labels-idx1-ubyte.gz", fmnist_dir, split[k]);
        write_gz(path, lab, sizeof lab);
    }
}

static void run_generator(const char *out, int seed)
{
    char cmd[8192];
    snprintf(cmd, sizeof cmd,
             "%s/demo/frozen-demo-world --out '%s' --seed %d --scale small --fashion-dir '%s' >/dev/null 2>&1",
             test_build_dir(), out, seed, fmnist_dir);
    int rc = system(cmd);
    if (rc != 0) {
        fprintf(stderr, "check_demo_world: '%s' failed (%d)\n", cmd, rc);
        exit(1);
    }
}

/* Runs in the parent process before the tests fork: three worlds, seeds 5, 5 and 6. Their folder is ours, not
 * make_temp_dir's (that one is removed when a forked test exits). */
static void make_worlds(void)
{
    snprintf(worlds, sizeof worlds, "/tmp/frz_demo_world_XXXXXX");
    if (!mkdtemp(worlds)) {
        perror("check_demo_world: mkdtemp");
        exit(1);
    }
    make_fake_fmnist();
    snprintf(world_a, sizeof world_a, "%s/a", worlds);
    snprintf(world_b, sizeof world_b, "%s/b", worlds);
    snprintf(world_c, sizeof world_c, "%s/c", worlds);
    run_generator(world_a, 5);
    run_generator(world_b, 5);
    run_generator(world_c, 6);
}

static void remove_worlds(void)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", worlds);
    if (worlds[0] && system(cmd) != 0) fprintf(stderr, "check_demo_world: cannot remove %s\n", worlds);
}

static const char *const FILES[] = {
    "meta.json", "captions_train.tsv", "captions_val_heldout.tsv", "vqa/test_questions.json",
    "vqa/test_annotations.json", "vqa/support_questions.json", "vqa/support_annotations.json",
    "knowledge/questions.json", "knowledge/annotations.json", "binding/fashion_2way_1shot.jsonl",
    "binding/fashion_2way_3shot.jsonl", "binding/fashion_2way_5shot.jsonl", "binding/fashion_5way_1shot.jsonl",
    "binding/fashion_5way_3shot.jsonl", "binding/fashion_5way_5shot.jsonl", "lm/corpus.txt", "text/probes.jsonl",
};
#define N_FILES (sizeof FILES / sizeof FILES[0])

static json_t *load_json(const char *path)
{
    json_error_t err;
    json_t *j = json_load_file(path, 0, &err);
    ck_assert_msg(j != NULL, "%s: %s", path, err.text);
    return j;
}

/* held[shape][colour] from meta.json's held_out list; checks its promise: 8 combos, each colour once, each
 * shape at least once. */
static void held_out(const char *world, int held[6][8])
{
    memset(held, 0, sizeof(int[6][8]));
    json_t *meta = load_json(path_in(world, "meta.json"));
    json_t *list = json_object_get(meta, "held_out");
    ck_assert_uint_eq(json_array_size(list), 8);
    int colours[8] = {0}, shapes[6] = {0};
    for (size_t i = 0; i < 8; i++) {
        const char *s = json_string_value(json_object_get(json_array_get(list, i), "shape"));
        const char *c = json_string_value(json_object_get(json_array_get(list, i), "colour"));
        int si = -1, ci = -1;
        for (int k = 0; k < 6; k++) if (s && strcmp(s, SHAPE[k]) == 0) si = k;
        for (int k = 0; k < 8; k++) if (c && strcmp(c, COLOUR[k]) == 0) ci = k;
        ck_assert_int_ge(si, 0);
        ck_assert_int_ge(ci, 0);
        held[si][ci] = 1;
        colours[ci]++;
        shapes[si]++;
    }
    for (int k = 0; k < 8; k++) ck_assert_int_eq(colours[k], 1);
    for (int k = 0; k < 6; k++) ck_assert_int_ge(shapes[k], 1);
    json_decref(meta);
}

/* The stand-in's class of a fashion image file (".../<id>.png"). */
static int image_class(const char *path)
{
    long id = atol(strrchr(path, '/') + 1);
    return (int)((id < 100000 ? id - 1 : id - 100000) % 10);
}

START_TEST(test_world_files_parse)
{
    for (size_t i = 0; i < N_FILES; i++) {
        FILE *f = fopen(path_in(world_a, FILES[i]), "rb");
        ck_assert_msg(f != NULL, "%s is missing", FILES[i]);
        fclose(f);
    }
    frz_dataset *ds = NULL;
    ck_assert_int_eq(frz_dataset_load_tsv(path_in(world_a, "captions_train.tsv"), &ds), FRZ_OK);
    ck_assert_uint_eq(ds->n, 48 + 30);
    frz_dataset_free(ds);
    ck_assert_int_eq(frz_dataset_load_tsv(path_in(world_a, "captions_val_heldout.tsv"), &ds), FRZ_OK);
    ck_assert_uint_eq(ds->n, 24);
    frz_dataset_free(ds);

    frz_vqa_set *q = NULL;
    const char *pairs[3][3] = {{"vqa/test_questions.json", "vqa/test_annotations.json", "images/shapes"},
                               {"vqa/support_questions.json", "vqa/support_annotations.json", "images/shapes"},
                               {"knowledge/questions.json", "knowledge/annotations.json", "images/fashion"}};
    const size_t want[3] = {24, 24, 15};
    for (int k = 0; k < 3; k++) {
        char qp[4096], ap[4096], ip[4096];
        snprintf(qp, sizeof qp, "%s", path_in(world_a, pairs[k][0]));
        snprintf(ap, sizeof ap, "%s", path_in(world_a, pairs[k][1]));
        snprintf(ip, sizeof ip, "%s", path_in(world_a, pairs[k][2]));
        ck_assert_int_eq(frz_vqa_load(qp, ap, ip, &q), FRZ_OK);
        ck_assert_uint_eq(q->n, want[k]);
        json_t *meta = load_json(path_in(world_a, "meta.json"));
        for (size_t i = 0; i < q->n; i++) {
            char *img = NULL;
            ck_assert_int_eq(frz_vqa_image_path(q, i, &img), FRZ_OK); /* <image_id>.png */
            if (k == 2) { /* knowledge: the fact of the pictured class */
                const char *key = strstr(q->items[i].question, "made of") ? "made of"
                                  : strstr(q->items[i].question, "worn on") ? "worn on" : "used for";
                json_t *fc = json_object_get(json_object_get(meta, "facts"), CLASS[image_class(img)]);
                ck_assert_str_eq(q->items[i].answers[0], json_string_value(json_object_get(fc, key)));
            }
            free(img);
            ck_assert_uint_eq(q->items[i].n_answers, 10);
            for (size_t j = 1; j < 10; j++) ck_assert_str_eq(q->items[i].answers[j], q->items[i].answers[0]);
        }
        json_decref(meta);
        frz_vqa_free(q);
    }

    const int ways[2] = {2, 5}, shots[3] = {1, 3, 5};
    for (int a = 0; a < 2; a++)
        for (int b = 0; b < 3; b++) {
            char rel[64];
            snprintf(rel, sizeof rel, "binding/fashion_%dway_%dshot.jsonl", ways[a], shots[b]);
            frz_bind_set *set = NULL;
            ck_assert_int_eq(frz_bind_load_jsonl(path_in(world_a, rel), &set), FRZ_OK); /* images exist */
            ck_assert_uint_eq(set->n, 8);
            for (size_t e = 0; e < set->n; e++) {
                const frz_bind_episode *ep = &set->episodes[e];
                ck_assert_int_eq(ep->ways, ways[a]);
                ck_assert_int_eq(ep->inner_shots, shots[b]);
                ck_assert_int_eq(ep->task_induction, 0);
                ck_assert_uint_eq(ep->n_support, (size_t)(ways[a] * shots[b]));
                ck_assert_ptr_null(ep->question);
                for (size_t i = 0; i < ep->n_support; i++) {
                    ck_assert_str_ne(ep->support[i].image, ep->query_image);
                    for (size_t j = 0; j < i; j++) ck_assert_str_ne(ep->support[i].image, ep->support[j].image);
                    ck_assert_msg(strstr(ep->support[i].image, "/images/fashion/10") != NULL, "%s: not a test image",
                                  ep->support[i].image);
                }
                /* the pictures agree with the names: one class per name (the stand-in's class is index % 10), one
                 * name per class, and the query shows the answer's class */
                for (size_t i = 0; i < ep->n_support; i++)
                    for (size_t j = 0; j < ep->n_support; j++)
                        ck_assert_int_eq(strcmp(ep->support[i].name, ep->support[j].name) == 0,
                                         image_class(ep->support[i].image) == image_class(ep->support[j].image));
                for (size_t i = 0; i < ep->n_support; i++)
                    if (strcmp(ep->support[i].name, ep->answer) == 0)
                        ck_assert_int_eq(image_class(ep->support[i].image), image_class(ep->query_image));
            }
            frz_bind_free(set);
        }
}
END_TEST

/* Reads a TSV into (image id, caption) pairs for the shapes. */
typedef struct cap_row {
    char kind;  /* 's' shapes, 'f' fashion */
    long id;
    char caption[128];
} cap_row;

static cap_row *read_captions(const char *world, const char *rel, size_t *n)
{
    size_t len = 0;
    char *text = read_file_or_fail(path_in(world, rel), &len);
    cap_row *rows = calloc(len / 8 + 1, sizeof *rows);
    *n = 0;
    for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
        cap_row *r = &rows[(*n)++];
        char kind[16];
        ck_assert_int_eq(sscanf(line, "images/%15[a-z]/%ld.png\t%127[^\n]", kind, &r->id, r->caption), 3);
        r->kind = kind[0];
    }
    free(text);
    return rows;
}

/* Held-out combos: never captioned for training, never in the VQA support; all held-out scenes are held out. */
START_TEST(test_world_held_out)
{
    int held[6][8];
    held_out(world_a, held);
    size_t n_train = 0, n_val = 0;
    cap_row *train = read_captions(world_a, "captions_train.tsv", &n_train);
    cap_row *val = read_captions(world_a, "captions_val_heldout.tsv", &n_val);
    size_t shapes = 0, fashion = 0;
    for (size_t i = 0; i < n_train; i++) {
        caption c;
        if (train[i].kind == 'f') {
            ck_assert_int_ge(parse_fashion(train[i].caption), 0);
            ck_assert_int_lt(train[i].id, 100000);
            fashion++;
            continue;
        }
        ck_assert_msg(parse_caption(train[i].caption, &c), "'%s' is not a caption", train[i].caption);
        ck_assert_msg(!held[c.shape][c.colour], "held-out combo in training: %s", train[i].caption);
        shapes++;
    }
    ck_assert_uint_eq(shapes, 48);
    ck_assert_uint_eq(fashion, 30);
    for (size_t i = 0; i < n_val; i++) {
        caption c;
        ck_assert(parse_caption(val[i].caption, &c));
        ck_assert_msg(held[c.shape][c.colour], "not held out: %s", val[i].caption);
    }
    /* VQA: support images are training scenes (with their captions' answers), test images held-out scenes */
    json_t *sq = load_json(path_in(world_a, "vqa/support_questions.json"));
    json_t *sa = load_json(path_in(world_a, "vqa/support_annotations.json"));
    json_t *tq = load_json(path_in(world_a, "vqa/test_questions.json"));
    json_t *qs[2] = {json_object_get(sq, "questions"), json_object_get(tq, "questions")};
    for (int split = 0; split < 2; split++)
        for (size_t i = 0; i < json_array_size(qs[split]); i++) {
            long id = (long)json_integer_value(json_object_get(json_array_get(qs[split], i), "image_id"));
            const cap_row *rows = split ? val : train;
            size_t n = split ? n_val : n_train, k = 0;
            while (k < n && !(rows[k].kind == 's' && rows[k].id == id)) k++;
            ck_assert_msg(k < n, "VQA %s image %ld is not a %s scene", split ? "test" : "support", id,
                          split ? "held-out" : "training");
            caption c;
            ck_assert(parse_caption(rows[k].caption, &c));
            ck_assert_int_eq(held[c.shape][c.colour], split);
            if (split == 0) { /* the support's answer agrees with the caption */
                json_t *q = json_array_get(qs[0], i), *an = json_array_get(json_object_get(sa, "annotations"), i);
                const char *question = json_string_value(json_object_get(q, "question"));
                int t = 0;
                while (t < 4 && strcmp(QUESTION[t], question) != 0) t++;
                ck_assert_int_lt(t, 4);
                ck_assert_str_eq(json_string_value(json_object_get(an, "multiple_choice_answer")), answer_of(&c, t));
            }
        }
    json_decref(sq);
    json_decref(sa);
    json_decref(tq);
    free(train);
    free(val);
}
END_TEST

/* Same seed, same bytes (every listed file and every image); another seed, other files. */
START_TEST(test_world_determinism)
{
    for (size_t i = 0; i < N_FILES; i++) {
        size_t la, lb, lc;
        char *a = read_file_or_fail(path_in(world_a, FILES[i]), &la);
        char *b = read_file_or_fail(path_in(world_b, FILES[i]), &lb);
        ck_assert_msg(la == lb && memcmp(a, b, la) == 0, "%s differs between two runs with seed 5", FILES[i]);
        char *c = read_file_or_fail(path_in(world_c, FILES[i]), &lc);
        /* the test questions ask about scenes n+1.. in a fixed order of question types: only answers change */
        if (strcmp(FILES[i], "vqa/test_questions.json") != 0)
            ck_assert_msg(la != lc || memcmp(a, c, la) != 0, "%s is the same for seeds 5 and 6", FILES[i]);
        free(a);
        free(b);
        free(c);
    }
    size_t n = 0;
    cap_row *rows = read_captions(world_a, "captions_train.tsv", &n);
    for (size_t i = 0; i < n; i++) {
        char rel[64];
        snprintf(rel, sizeof rel, "images/%s/%ld.png", rows[i].kind == 's' ? "shapes" : "fashion", rows[i].id);
        size_t la, lb;
        char *a = read_file_or_fail(path_in(world_a, rel), &la);
        char *b = read_file_or_fail(path_in(world_b, rel), &lb);
        ck_assert_msg(la == lb && memcmp(a, b, la) == 0, "%s differs between two runs", rel);
        free(a);
        free(b);
    }
    free(rows);
}
END_TEST

/* 8-connected components of the lit pixels: their number, each one's bounding box, and the centroid of all. */
typedef struct blobs {
    int n, w[8], h[8];
    double cx, cy;
} blobs;

static void find_blobs(const uint8_t *px, int side, blobs *b)
{
    int *label = calloc((size_t)side * side, sizeof *label), *stack = malloc((size_t)side * side * sizeof *stack);
    memset(b, 0, sizeof *b);
    double sx = 0, sy = 0, total = 0;
    for (int start = 0; start < side * side; start++) {
        const uint8_t *p = px + 3 * start;
        if (label[start] || (p[0] | p[1] | p[2]) == 0) continue;
        int id = ++b->n, top = 0, x0 = side, x1 = -1, y0 = side, y1 = -1;
        ck_assert_int_le(id, 8);
        stack[top++] = start;
        label[start] = id;
        while (top) {
            int at = stack[--top], x = at % side, y = at / side;
            x0 = x < x0 ? x : x0, x1 = x > x1 ? x : x1, y0 = y < y0 ? y : y0, y1 = y > y1 ? y : y1;
            sx += x, sy += y, total += 1;
            for (int dy = -1; dy <= 1; dy++)
                for (int dx = -1; dx <= 1; dx++) {
                    int nx = x + dx, ny = y + dy;
                    if (nx < 0 || ny < 0 || nx >= side || ny >= side) continue;
                    int k = ny * side + nx;
                    const uint8_t *q = px + 3 * k;
                    if (!label[k] && (q[0] | q[1] | q[2])) label[k] = id, stack[top++] = k;
                }
        }
        b->w[id - 1] = x1 - x0 + 1;
        b->h[id - 1] = y1 - y0 + 1;
    }
    b->cx = total ? sx / total : -1;
    b->cy = total ? sy / total : -1;
    free(label);
    free(stack);
}

/* Each scene's pixels say what its caption says: the most frequent lit colour is the caption's colour (the
 * documented RGB), the objects are as many as it counts, their size class matches, their centre is nearest the
 * anchor of its position. */
START_TEST(test_world_pictures)
{
    const double anchor[5][2] = {{12.5, 32.5}, {52.5, 32.5}, {32.5, 12.5}, {32.5, 52.5}, {32.5, 32.5}};
    const char *tsv[2] = {"captions_train.tsv", "captions_val_heldout.tsv"};
    size_t checked = 0;
    for (int t = 0; t < 2; t++) {
        size_t n = 0;
        cap_row *rows = read_captions(world_a, tsv[t], &n);
        for (size_t i = 0; i < n; i++) {
            char rel[64];
            snprintf(rel, sizeof rel, "images/%s/%ld.png", rows[i].kind == 's' ? "shapes" : "fashion", rows[i].id);
            frz_image *img = NULL;
            ck_assert_int_eq(frz_image_load_file(path_in(world_a, rel), &img), FRZ_OK);
            const uint8_t *px = frz_image_pixels(img);
            if (rows[i].kind == 'f') { /* gray: R = G = B = the stand-in's pixel; the caption names its class */
                ck_assert_int_eq(frz_image_width(img), 28);
                ck_assert_int_eq(frz_image_height(img), 28);
                int index = (int)(rows[i].id < 100000 ? rows[i].id - 1 : rows[i].id - 100000);
                ck_assert_int_eq(parse_fashion(rows[i].caption), index % 10);
                for (int k = 0; k < 28 * 28; k++) {
                    ck_assert(px[3 * k] == px[3 * k + 1] && px[3 * k] == px[3 * k + 2]);
                    ck_assert_int_eq(px[3 * k], fake_pixel(index, k / 28, k % 28));
                }
                frz_image_free(img);
                continue;
            }
            ck_assert_int_eq(frz_image_width(img), 64);
            ck_assert_int_eq(frz_image_height(img), 64);
            caption c;
            ck_assert(parse_caption(rows[i].caption, &c));
            /* the colour: the exact RGB most lit pixels have */
            int votes[8] = {0}, other = 0;
            for (int k = 0; k < 64 * 64; k++) {
                const uint8_t *p = px + 3 * k;
                if ((p[0] | p[1] | p[2]) == 0) continue;
                int hit = 0;
                for (int j = 0; j < 8; j++)
                    if (p[0] == RGB[j][0] && p[1] == RGB[j][1] && p[2] == RGB[j][2]) votes[j]++, hit = 1;
                other += !hit;
            }
            int best = 0;
            for (int j = 1; j < 8; j++) best = votes[j] > votes[best] ? j : best;
            ck_assert_msg(best == c.colour, "%s (%s): mostly %s", rel, rows[i].caption, COLOUR[best]);
            for (int j = 0; j < 8; j++) ck_assert_msg(j == c.colour || votes[j] == 0, "%s: two colours", rel);
            ck_assert_int_gt(votes[c.colour], 0);
            /* the other lit pixels (anti-aliased edges) are the same colour, dimmed: proportional to it */
            const int *want = RGB[c.colour];
            int m = want[0] >= want[1] && want[0] >= want[2] ? 0 : want[1] >= want[2] ? 1 : 2;
            for (int k = 0; other && k < 64 * 64; k++) {
                const uint8_t *p = px + 3 * k;
                double f = p[m] / (double)want[m];
                for (int j = 0; j < 3; j++)
                    ck_assert_msg(fabs(p[j] - want[j] * f) <= 1.5, "%s: pixel %d (%d %d %d) is not %s", rel, k, p[0],
                                  p[1], p[2], COLOUR[c.colour]);
            }
            blobs b;
            find_blobs(px, 64, &b);
            ck_assert_msg(b.n == c.count + 1, "%s (%s): %d objects", rel, rows[i].caption, b.n);
            for (int k = 0; k < b.n; k++) {
                int extent = b.w[k] > b.h[k] ? b.w[k] : b.h[k];
                ck_assert_msg(c.size ? extent >= 14 : extent <= 13, "%s (%s): object %d spans %d pixels", rel,
                              rows[i].caption, k, extent);
            }
            int near = 0;
            double bestd = 1e9;
            for (int p = 0; p < 5; p++) {
                double dx = b.cx - anchor[p][0], dy = b.cy - anchor[p][1], d = dx * dx + dy * dy;
                if (d < bestd) bestd = d, near = p;
            }
            ck_assert_msg(near == c.pos, "%s (%s): centre (%.1f, %.1f) is %s", rel, rows[i].caption, b.cx, b.cy,
                          POS[near]);
            frz_image_free(img);
            checked++;
        }
        free(rows);
    }
    ck_assert_uint_eq(checked, 48 + 24);
}
END_TEST

/* Splits a line on TABs (in place). */
static size_t split_tabs(char *line, char **seg, size_t max)
{
    size_t n = 0;
    for (char *p = line;; ) {
        ck_assert_uint_lt(n, max);
        seg[n++] = p;
        char *tab = strchr(p, '\t');
        if (!tab) break;
        *tab = '\0';
        p = tab + 1;
    }
    return n;
}

/* "Question: Q Answer: A" -> the index of Q in qs and A, or -1. */
static int parse_qa(const char *seg, const char *const *qs, int nq, const char **answer)
{
    for (int q = 0; q < nq; q++) {
        char head[96];
        snprintf(head, sizeof head, "Question: %s Answer: ", qs[q]);
        if (strncmp(seg, head, strlen(head)) == 0) {
            *answer = seg + strlen(head);
            return q;
        }
    }
    return -1;
}

/* The class of a binding description: a fashion class (0..9) or 100 + a shape. */
static int desc_class(const char *s)
{
    int f = parse_fashion(s);
    if (f >= 0) return f;
    caption c;
    ck_assert_msg(parse_caption(s, &c), "'%s' is no description", s);
    return 100 + c.shape;
}

/* A binding line: ["Answer with N."] (desc, "This is a NAME.")+ desc "Question: What is this? Answer: NAME",
 * each name standing for one class, the answer the query class's name. Returns 1 when it is one. */
static int check_binding(char **seg, size_t n)
{
    size_t i = 0;
    int induction = strncmp(seg[0], "Answer with ", 12) == 0;
    if (induction) i = 1;
    if ((n - i) % 2 != 0 || n - i < 4) return 0;
    char names[25][32];
    int cls[25], n_names = 0, n_sup = 0;
    for (; i + 2 < n; i += 2) {
        char name[32];
        if (sscanf(seg[i + 1], "This is a %31[a-z].", name) != 1) return 0;
        ck_assert_msg(strlen(seg[i + 1]) == strlen(name) + 11, "'%s'", seg[i + 1]);
        int c = desc_class(seg[i]), k = 0;
        while (k < n_names && strcmp(names[k], name) != 0) k++;
        if (k == n_names) {
            for (int j = 0; j < n_names; j++) ck_assert_msg(cls[j] != c, "two names for one class");
            snprintf(names[n_names], 32, "%s", name), cls[n_names++] = c;
        }
        ck_assert_msg(cls[k] == c, "name %s for two classes", name);
        n_sup++;
    }
    ck_assert_int_eq(n_sup % n_names, 0);
    ck_assert(n_names == 2 || n_names == 5);
    int shots = n_sup / n_names;
    ck_assert(shots == 1 || shots == 3 || shots == 5);
    const char *answer = NULL;
    const char *const what[1] = {"What is this?"};
    ck_assert_int_eq(parse_qa(seg[n - 1], what, 1, &answer), 0);
    int c = desc_class(seg[n - 2]), k = 0;
    while (k < n_names && cls[k] != c) k++;
    ck_assert_int_lt(k, n_names);
    ck_assert_str_eq(answer, names[k]);
    if (induction) { /* the names in order of first appearance: "a, b or c" */
        char want[256] = "Answer with ";
        for (int j = 0; j < n_names; j++) {
            strcat(want, names[j]);
            strcat(want, j + 2 < n_names ? ", " : j + 2 == n_names ? " or " : ".");
        }
        ck_assert_str_eq(seg[0], want);
    }
    return 1;
}

/* Every corpus line is one of the documented kinds, with answers that agree with its descriptions; the easy
 * part comes first. */
START_TEST(test_world_corpus)
{
    json_t *meta = load_json(path_in(world_a, "meta.json"));
    json_t *facts = json_object_get(meta, "facts");
    json_t *sandal = json_object_get(facts, "sandal"); /* DEMO-SPEC.md's example */
    ck_assert_str_eq(json_string_value(json_object_get(sandal, "made of")), "leather");
    ck_assert_str_eq(json_string_value(json_object_get(sandal, "worn on")), "feet");
    ck_assert_str_eq(json_string_value(json_object_get(sandal, "used for")), "summer");
    size_t len = 0, lines = 0, kinds[7] = {0}, easy = 0;
    unsigned forms_seen = 0; /* the knowledge kind's description forms */
    int form = 0;
    char *text = read_file_or_fail(path_in(world_a, "lm/corpus.txt"), &len);
    ck_assert(len > 0 && text[len - 1] == '\n');
    size_t n_easy = (size_t)json_integer_value(json_object_get(json_object_get(meta, "corpus"), "easy_lines"));
    ck_assert_uint_eq(n_easy, 120); /* 0.2 x 600 */
    char *save = NULL;
    for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save), lines++) {
        char *seg[64];
        size_t n = split_tabs(line, seg, 64);
        for (size_t i = 0; i < n; i++) ck_assert_msg(seg[i][0] && seg[i][0] != ' ', "line %zu: empty or spaced", lines);
        caption c;
        const char *answer = NULL;
        int kind = -1, f = -1;
        if (n == 1 && (parse_caption(seg[0], &c) || parse_fashion(seg[0]) >= 0)) {
            kind = 0;
        } else if (n == 1 && strncmp(seg[0], "A ", 2) == 0) { /* facts: "A sandal is made of leather." ... */
            kind = 4;
            for (char *s = seg[0]; *s; ) {
                char cls[32], rest[64];
                ck_assert_msg(sscanf(s, "A %31s is %63[^.].", cls, rest) == 2, "line %zu: '%s'", lines, s);
                json_t *fc = json_object_get(facts, cls);
                char want[3][96];
                snprintf(want[0], 96, "made of %s", json_string_value(json_object_get(fc, "made of")));
                snprintf(want[1], 96, "worn on the %s", json_string_value(json_object_get(fc, "worn on")));
                snprintf(want[2], 96, "used for %s", json_string_value(json_object_get(fc, "used for")));
                ck_assert_msg(fc && (!strcmp(rest, want[0]) || !strcmp(rest, want[1]) || !strcmp(rest, want[2])),
                              "line %zu: wrong fact '%s'", lines, s);
                s = strchr(s, '.') + 1;
                if (*s == ' ') s++;
            }
        } else if (n == 2 && strcmp(seg[0], seg[1]) == 0 && (parse_caption(seg[0], &c) || parse_fashion(seg[0]) >= 0)) {
            kind = 6; /* repeat: a caption twice */
        } else if (n == 2 && (f = parse_clothing_description(seg[0], &form)) >= 0) { /* knowledge */
            forms_seen |= 1u << form;
            int q = parse_qa(seg[1], KQUESTION, 3, &answer);
            ck_assert_int_ge(q, 0);
            const char *key[3] = {"made of", "worn on", "used for"};
            ck_assert_str_eq(answer, json_string_value(json_object_get(json_object_get(facts, CLASS[f]), key[q])));
            kind = 5;
        } else if (n % 2 == 0 && parse_qa(seg[1], QUESTION, 4, &answer) >= 0) { /* qa, few-shot qa */
            for (size_t i = 0; i < n; i += 2) {
                int q = parse_qa(seg[i + 1], QUESTION, 4, &answer);
                ck_assert_msg(q >= 0 && parse_caption(seg[i], &c), "line %zu: segment %zu", lines, i);
                ck_assert_str_eq(answer, answer_of(&c, q));
            }
            kind = n == 2 ? 1 : 2;
            ck_assert_uint_le(n, 10); /* 4 shots at most */
        } else if (check_binding(seg, n)) {
            kind = 3;
        }
        ck_assert_msg(kind >= 0, "line %zu has no documented shape: %s", lines, line);
        kinds[kind]++;
        if (lines < n_easy) ck_assert_msg(kind != 2 && kind != 3, "line %zu: a hard kind in the easy part", lines);
        else easy += kind == 2 || kind == 3 ? 0 : 1;
    }
    ck_assert_uint_eq(lines, 600);
    for (int k = 0; k < 7; k++) ck_assert_msg(kinds[k] > 0, "no line of kind %d", k);
    ck_assert_msg(forms_seen == 0x1f, "knowledge descriptions: forms seen 0x%x, want all five", forms_seen);
    ck_assert_uint_lt(easy, lines - n_easy); /* the hard kinds appear after the easy part */
    free(text);
    json_decref(meta);
}
END_TEST

/* --help states the defaults the generator uses: the mix and the easy fraction as meta.json records them for a
 * world made without --mix / --easy-fraction. */
START_TEST(test_world_help_defaults)
{
    char cmd[4096], help[8192] = "";
    snprintf(cmd, sizeof cmd, "%s/demo/frozen-demo-world --help", test_build_dir());
    FILE *p = popen(cmd, "r");
    ck_assert_ptr_nonnull(p);
    size_t n = 0;
    for (int ch; (ch = fgetc(p)) != EOF && n + 1 < sizeof help; )
        if (ch != ' ' && ch != '\n') help[n++] = (char)ch; /* the help wraps its lists over lines */
    help[n] = '\0';
    ck_assert_int_eq(pclose(p), 0);
    json_t *meta = load_json(path_in(world_a, "meta.json"));
    json_t *corpus = json_object_get(meta, "corpus"), *mix = json_object_get(corpus, "mix");
    const char *kind;
    json_t *w;
    json_object_foreach(mix, kind, w) {
        char want[64];
        snprintf(want, sizeof want, "%s=%.2f", kind, json_real_value(w));
        ck_assert_msg(strstr(help, want), "--help does not state the default %s", want);
    }
    ck_assert_uint_eq(json_object_size(mix), 7);
    char want[64];
    snprintf(want, sizeof want, "default%g)", json_real_value(json_object_get(corpus, "easy_fraction")));
    ck_assert_msg(strstr(help, want), "--help does not state the default easy fraction (%s)", want);
    json_decref(meta);
}
END_TEST

/* Probes: the evaluation prompts with captions in place of images, answers consistent with the captions. */
START_TEST(test_world_probes)
{
    size_t len = 0, n = 0, by_task[4] = {0};
    char *text = read_file_or_fail(path_in(world_a, "text/probes.jsonl"), &len);
    char *save = NULL;
    for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save), n++) {
        json_error_t err;
        json_t *p = json_loads(line, 0, &err);
        ck_assert_msg(p != NULL, "probe %zu: %s", n, err.text);
        const char *task = json_string_value(json_object_get(p, "task"));
        const char *setting = json_string_value(json_object_get(p, "setting"));
        const char *answer = json_string_value(json_object_get(p, "answer"));
        json_t *segs = json_object_get(p, "segments");
        int shots = (int)json_integer_value(json_object_get(p, "shots"));
        ck_assert(task && setting && answer && json_array_size(segs) >= 2);
        char *seg[64];
        size_t ns = json_array_size(segs);
        for (size_t i = 0; i < ns; i++) seg[i] = (char *)json_string_value(json_array_get(segs, i));
        if (strcmp(task, "vqa") == 0) {
            ck_assert_str_eq(setting, "text");
            ck_assert(shots == 0 || shots == 1 || shots == 4);
            ck_assert_uint_eq(ns, 2 * (size_t)shots + 2);
            caption c;
            ck_assert(parse_caption(seg[ns - 2], &c));
            char tail[96];
            int q = 0;
            for (; q < 4; q++) {
                snprintf(tail, sizeof tail, "Question: %s Answer:", QUESTION[q]);
                if (strcmp(seg[ns - 1], tail) == 0) break;
            }
            ck_assert_int_lt(q, 4);
            ck_assert_str_eq(answer, answer_of(&c, q));
            by_task[0]++;
        } else if (strcmp(task, "knowledge") == 0) {
            ck_assert_int_ge(parse_fashion(seg[0]), 0);
            by_task[1]++;
        } else {
            ck_assert(strcmp(task, "binding_2way") == 0 || strcmp(task, "binding_5way") == 0);
            ck_assert(strcmp(setting, "text") == 0 || strcmp(setting, "text, task induction") == 0);
            /* as a corpus line with the answer: the same shape */
            char last[128];
            snprintf(last, sizeof last, "%s %s", seg[ns - 1], answer);
            seg[ns - 1] = last;
            ck_assert(check_binding(seg, ns));
            ck_assert_int_eq(strncmp(seg[0], "Answer with", 11) == 0, strcmp(setting, "text") != 0);
            by_task[task[8] == '2' ? 2 : 3]++;
        }
        json_decref(p);
    }
    ck_assert_uint_eq(by_task[0], 24 * 3);
    ck_assert_uint_eq(by_task[1], 15);
    ck_assert_uint_eq(by_task[2], 3 * 8 * 2);
    ck_assert_uint_eq(by_task[3], 3 * 8 * 2);
    free(text);
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("demo_world");
    TCase *idx = tcase_create("idx");
    tcase_add_test(idx, test_idx_valid);
    tcase_add_test(idx, test_idx_errors);
    tcase_add_test(idx, test_idx_gzip_corrupt);
    tcase_add_test(idx, test_fmnist_checks);
    suite_add_tcase(s, idx);
    TCase *gen = tcase_create("generator");
    tcase_add_unchecked_fixture(gen, make_worlds, remove_worlds);
    tcase_set_timeout(gen, 60);
    tcase_add_test(gen, test_world_files_parse);
    tcase_add_test(gen, test_world_held_out);
    tcase_add_test(gen, test_world_determinism);
    tcase_add_test(gen, test_world_pictures);
    tcase_add_test(gen, test_world_corpus);
    tcase_add_test(gen, test_world_help_defaults);
    tcase_add_test(gen, test_world_probes);
    suite_add_tcase(s, gen);
    return s;
}

FRZ_TEST_MAIN(make_suite)
