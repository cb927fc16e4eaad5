/* check_train_data.c -- the dataset readers (TSV, COCO), the validation split, and the batch loader (order,
 * padding, tokenization, skipped images, blind mode). */
#include "image/image.h"
#include "train/data.h"
#include "train/loader.h"
#include "train/plot.h"
#include "util/testutil.h"

#include <stdio.h>
#include <string.h>

static void write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    fclose(f);
}

/* ---- TSV ------------------------------------------------------------------------------------------------------ */

START_TEST(tsv_reads_paths_relative_to_its_folder)
{
    const char *dir = make_temp_dir();
    const char *tsv = path_in(dir, "train.tsv");
    write_text(tsv, "a.png\ta red circle\r\n"
                    "\n"
                    "sub/b.jpg\t  two blue squares  \n"
                    "/abs/c.png\tan absolute path\n"
                    "d.png\tlast line without newline");
    frz_dataset *ds = NULL;
    ck_assert_int_eq(frz_dataset_load(tsv, NULL, &ds), FRZ_OK);
    ck_assert_uint_eq(ds->n, 4);
    ck_assert_str_eq(frz_dataset_path(ds, 0), path_in(dir, "a.png"));
    ck_assert_str_eq(frz_dataset_caption(ds, 0), "a red circle"); /* CR removed */
    ck_assert_str_eq(frz_dataset_path(ds, 1), path_in(dir, "sub/b.jpg"));
    ck_assert_str_eq(frz_dataset_caption(ds, 1), "two blue squares"); /* trimmed */
    ck_assert_str_eq(frz_dataset_path(ds, 2), "/abs/c.png");
    ck_assert_str_eq(frz_dataset_caption(ds, 3), "last line without newline");
    frz_dataset_free(ds);
}
END_TEST

/* Loads a one-file TSV whose line 3 is `bad` and expects a format error naming file:3 and `why`. */
static void expect_bad_line(const char *bad, size_t bad_len, const char *why)
{
    char text[256];
    const char *head = "ok.png\tfine\n\n";
    size_t n = strlen(head);
    memcpy(text, head, n);
    memcpy(text + n, bad, bad_len);
    memcpy(text + n + bad_len, "\nok2.png\tfine\n", 15);
    const char *tsv = write_temp_file("bad.tsv", text, n + bad_len + 14);
    frz_dataset *ds = (frz_dataset *)1;
    ck_assert_int_eq(frz_dataset_load_tsv(tsv, &ds), FRZ_ERR_FORMAT);
    ck_assert_ptr_null(ds);
    ASSERT_MSG_HAS("bad.tsv:3:");
    ASSERT_MSG_HAS(why);
}

START_TEST(tsv_bad_lines_name_their_line)
{
    expect_bad_line("no tab here", 11, "no TAB");
    expect_bad_line("a.png\tcap\textra", 15, "more than two");
    expect_bad_line("\ta caption", 10, "image path is empty");
    expect_bad_line("a.png\t   ", 9, "caption is empty");
    expect_bad_line("a.png\tcap\0tion", 14, "NUL");
    /* An empty file has no examples. */
    frz_dataset *ds = NULL;
    ck_assert_int_eq(frz_dataset_load(write_temp_file("empty.tsv", "\n\n", 2), NULL, &ds), FRZ_ERR_FORMAT);
    ASSERT_MSG_HAS("no examples");
    ck_assert_int_eq(frz_dataset_load("/nonexistent/x.tsv", NULL, &ds), FRZ_ERR_IO);
    ASSERT_MSG_HAS("/nonexistent/x.tsv");
}
END_TEST

START_TEST(tsv_long_lines_and_allocation_failures)
{
    /* A caption far longer than the reader's first buffer. */
    size_t n = 20000;
    char *text = malloc(n + 16);
    memcpy(text, "x.png\t", 6);
    memset(text + 6, 'a', n);
    memcpy(text + 6 + n, "\n", 2);
    const char *tsv = write_temp_file("long.tsv", text, strlen(text));
    free(text);
    frz_dataset *ds = NULL;
    ck_assert_int_eq(frz_dataset_load_tsv(tsv, &ds), FRZ_OK);
    ck_assert_uint_eq(strlen(frz_dataset_caption(ds, 0)), n);
    frz_dataset_free(ds);
    int ok = 0;
    for (long k = 1; k < 100 && !ok; k++) {
        ds = NULL;
        frz_test_fail_alloc_at(k);
        frz_status st = frz_dataset_load_tsv(tsv, &ds);
        frz_test_fail_alloc_at(0);
        if (st == FRZ_OK) {
            ok = 1;
            frz_dataset_free(ds);
        } else {
            ck_assert_int_eq(st, FRZ_ERR_NOMEM);
            ck_assert_ptr_null(ds);
        }
    }
    ck_assert(ok);
}
END_TEST

/* ---- COCO ----------------------------------------------------------------------------------------------------- */

static const char *COCO =
    "{\"info\": {}, \"images\": [{\"id\": 7, \"file_name\": \"x/7.jpg\", \"width\": 3},"
    " {\"id\": 2, \"file_name\": \"2.jpg\"}],"
    " \"annotations\": [{\"id\": 1, \"image_id\": 2, \"caption\": \"A dog. \"},"
    " {\"id\": 2, \"image_id\": 7, \"caption\": \"a cat\"}, {\"id\": 3, \"image_id\": 2, \"caption\": \"dog\"}]}";

START_TEST(coco_reads_annotations_in_order)
{
    const char *dir = make_temp_dir();
    const char *json = path_in(dir, "captions.json");
    write_text(json, COCO);
    frz_dataset *ds = NULL;
    ck_assert_int_eq(frz_dataset_load(json, NULL, &ds), FRZ_OK); /* detected by its '{' */
    ck_assert_uint_eq(ds->n, 3);
    ck_assert_str_eq(frz_dataset_path(ds, 0), path_in(dir, "2.jpg"));
    ck_assert_str_eq(frz_dataset_caption(ds, 0), "A dog.");
    ck_assert_str_eq(frz_dataset_path(ds, 1), path_in(dir, "x/7.jpg"));
    ck_assert_str_eq(frz_dataset_caption(ds, 2), "dog");
    frz_dataset_free(ds);
    /* An explicit image folder. */
    ck_assert_int_eq(frz_dataset_load(json, "/data/train2017/", &ds), FRZ_OK);
    ck_assert_str_eq(frz_dataset_path(ds, 1), "/data/train2017/x/7.jpg");
    frz_dataset_free(ds);
}
END_TEST

/* COCO text with its first `from` replaced by `to`. */
static void expect_bad_coco(const char *from, const char *to, const char *why)
{
    char text[2048];
    const char *at = strstr(COCO, from);
    ck_assert_ptr_nonnull(at);
    snprintf(text, sizeof text, "%.*s%s%s", (int)(at - COCO), COCO, to, at + strlen(from));
    const char *json = write_temp_file("c.json", text, strlen(text));
    frz_dataset *ds = (frz_dataset *)1;
    ck_assert_int_eq(frz_dataset_load_coco(json, NULL, &ds), FRZ_ERR_FORMAT);
    ck_assert_ptr_null(ds);
    ASSERT_MSG_HAS("c.json");
    ASSERT_MSG_HAS(why);
}

START_TEST(coco_errors_name_the_field)
{
    expect_bad_coco("\"caption\": \"a cat\"", "\"text\": \"a cat\"", "annotations[1].caption is missing");
    expect_bad_coco("\"caption\": \"a cat\"", "\"caption\": 5", "annotations[1].caption is not a string");
    expect_bad_coco("\"image_id\": 7", "\"image_id\": 8", "annotations[1].image_id 8 names no entry");
    expect_bad_coco("\"image_id\": 7", "\"image_id\": \"7\"", "annotations[1].image_id is not an integer");
    expect_bad_coco("\"file_name\": \"2.jpg\"", "\"name\": \"2.jpg\"", "images[1].file_name is missing");
    expect_bad_coco("{\"id\": 2, \"file_name\"", "{\"id\": 7, \"file_name\"", "two images have id 7");
    expect_bad_coco("\"images\"", "\"pictures\"", "\"images\" is missing");
    expect_bad_coco("\"caption\": \"dog\"", "\"caption\": \"  \"", "annotations[2].caption is empty");
    expect_bad_coco("\"caption\": \"dog\"", "\"caption\": \"d\\u0000g\"", "NUL");
    /* Malformed JSON: the JSON reader's message with line and column. */
    const char *json = write_temp_file("broken.json", "{\"images\": [", 12);
    frz_dataset *ds = NULL;
    ck_assert_int_eq(frz_dataset_load(json, NULL, &ds), FRZ_ERR_FORMAT);
    ASSERT_MSG_HAS("broken.json");
    ASSERT_MSG_HAS("line 1");
}
END_TEST

/* ---- split ---------------------------------------------------------------------------------------------------- */

static frz_dataset *numbered_in(const char *dir, int n_images, int captions_each)
{
    frz_dataset *ds = NULL;
    ck_assert_int_eq(frz_dataset_new(&ds), FRZ_OK);
    for (int c = 0; c < captions_each; c++)
        for (int i = 0; i < n_images; i++) {
            char path[32], cap[64];
            snprintf(path, sizeof path, "img%03d.png", i);
            snprintf(cap, sizeof cap, "caption %d of %d", c, i);
            ck_assert_int_eq(frz_dataset_add(ds, dir, path, strlen(path), cap, strlen(cap)), FRZ_OK);
        }
    return ds;
}

static frz_dataset *numbered(int n_images, int captions_each) { return numbered_in("/d", n_images, captions_each); }

START_TEST(split_is_by_image_and_deterministic)
{
    frz_dataset *ds = numbered(200, 3);
    int32_t *tr, *va, *tr2, *va2;
    size_t ntr, nva, ntr2, nva2;
    ck_assert_int_eq(frz_dataset_split(ds, 0.1, 5, &tr, &ntr, &va, &nva), FRZ_OK);
    ck_assert_uint_eq(nva, 20 * 3); /* 10% of the 200 images, with their 3 captions each */
    ck_assert_uint_eq(ntr + nva, 600);
    /* Every image's captions fall on one side; both lists keep the file's order and cover everything once. */
    char side[200] = {0};
    for (size_t i = 0; i < nva; i++) {
        if (i) ck_assert_int_lt(va[i - 1], va[i]);
        side[va[i] % 200] |= 1;
    }
    for (size_t i = 0; i < ntr; i++) {
        if (i) ck_assert_int_lt(tr[i - 1], tr[i]);
        side[tr[i] % 200] |= 2;
    }
    for (int i = 0; i < 200; i++) ck_assert_msg(side[i] == 1 || side[i] == 2, "image %d on both sides", i);
    /* The same seed gives the same split; another seed another one. */
    ck_assert_int_eq(frz_dataset_split(ds, 0.1, 5, &tr2, &ntr2, &va2, &nva2), FRZ_OK);
    ck_assert_uint_eq(nva2, nva);
    ck_assert_int_eq(memcmp(va, va2, nva * sizeof *va), 0);
    free(tr2), free(va2);
    ck_assert_int_eq(frz_dataset_split(ds, 0.1, 6, &tr2, &ntr2, &va2, &nva2), FRZ_OK);
    ck_assert_int_ne(memcmp(va, va2, nva * sizeof *va), 0);
    free(tr2), free(va2);
    /* The same file in another folder splits the same way (the paths as written are hashed, not the folder). */
    frz_dataset *moved = numbered_in("/somewhere/else", 200, 3);
    ck_assert_str_eq(frz_dataset_path(moved, 0), "/somewhere/else/img000.png");
    ck_assert_str_eq(frz_dataset_name(moved, 0), "img000.png");
    ck_assert_int_eq(frz_dataset_split(moved, 0.1, 5, &tr2, &ntr2, &va2, &nva2), FRZ_OK);
    ck_assert_uint_eq(nva2, nva);
    ck_assert_int_eq(memcmp(va, va2, nva * sizeof *va), 0);
    free(tr2), free(va2), free(tr), free(va);
    frz_dataset_free(moved);
    /* No validation; a tiny set still gets one validation image; the fraction is checked. */
    ck_assert_int_eq(frz_dataset_split(ds, 0.0, 5, &tr, &ntr, &va, &nva), FRZ_OK);
    ck_assert_uint_eq(nva, 0);
    ck_assert_ptr_null(va);
    free(tr);
    ck_assert_int_eq(frz_dataset_split(ds, 0.6, 5, &tr, &ntr, &va, &nva), FRZ_ERR_INVALID_ARG);
    frz_dataset_free(ds);
    ds = numbered(3, 1);
    ck_assert_int_eq(frz_dataset_split(ds, 0.01, 5, &tr, &ntr, &va, &nva), FRZ_OK);
    ck_assert_uint_eq(nva, 1);
    ck_assert_uint_eq(ntr, 2);
    free(tr), free(va);
    frz_dataset_free(ds);
}
END_TEST

/* ---- loader --------------------------------------------------------------------------------------------------- */

typedef struct captured {
    int warnings;
    char last[512];
} captured;

static void capture_log(frz_log_level level, const char *text, void *user)
{
    captured *c = user;
    if (level == FRZ_LOG_WARN) {
        c->warnings++;
        snprintf(c->last, sizeof c->last, "%s", text);
    }
}

/* A solid-colour w x h PNG. */
static void write_png(const char *path, int w, int h, uint8_t r, uint8_t g, uint8_t b)
{
    uint8_t *px = malloc((size_t)w * h * 3);
    for (int i = 0; i < w * h; i++) px[3 * i] = r, px[3 * i + 1] = g, px[3 * i + 2] = b;
    ck_assert_int_eq(frz_png_write_rgb(path, px, w, h), FRZ_OK);
    free(px);
}

START_TEST(loader_skips_a_corrupt_image_and_counts_it)
{
    const char *dir = make_temp_dir();
    write_png(path_in(dir, "red.png"), 10, 6, 255, 0, 0);
    write_png(path_in(dir, "green.png"), 6, 6, 0, 255, 0);
    write_text(path_in(dir, "corrupt.png"), "\x89PNG\r\n\x1a\n this is not a PNG body");
    const char *tsv = path_in(dir, "d.tsv");
    write_text(tsv, "red.png\ta red thing\n"
                    "corrupt.png\ta broken thing\n"
                    "green.png\ta green thing that has a rather long caption indeed\n"
                    "missing.png\tgone\n"
                    "red.png\tred again\n");
    frz_dataset *ds = NULL;
    frz_lm *lm = NULL;
    ck_assert_int_eq(frz_dataset_load(tsv, NULL, &ds), FRZ_OK);
    ck_assert_int_eq(frz_lm_load(fixture_path("models/gpt2-f32"), &lm), FRZ_OK);
    captured cap = {0};
    frz_set_log_callback(capture_log, &cap, FRZ_LOG_WARN);

    frz_loader_config cfg = {ds, lm, 2, 8, 6, 0};
    frz_loader *L = NULL;
    ck_assert_int_eq(frz_loader_create(&cfg, &L), FRZ_OK);
    int32_t order[5] = {0, 1, 2, 3, 4};
    ck_assert_int_eq(frz_loader_start(L, order, 5, 0), FRZ_OK);
    const frz_batch *b = NULL;
    int skipped = 0, valid = 0;
    size_t nf = 3 * 8 * 8;
    float black[3 * 8 * 8], red[3 * 8 * 8];
    size_t need;
    frz_image_prep_params pp;
    frz_image_prep_params_init(&pp);
    pp.size = 8;
    ck_assert_int_eq(frz_image_black(&pp, black, nf, &need), FRZ_OK);
    for (int k = 0; k < 3; k++) {
        ck_assert_int_eq(frz_loader_next(L, &b), FRZ_OK);
        ck_assert_ptr_nonnull(b);
        ck_assert_int_eq(b->index, k);
        skipped += b->n_skipped;
        valid += b->n_valid;
        if (k == 0) {
            /* batch 0: red (valid), corrupt (skipped: empty slot with the black image) */
            ck_assert_int_eq(b->example[0], 0);
            ck_assert_int_eq(b->example[1], -1);
            ck_assert_int_eq(b->len[1], -1);
            ck_assert_int_eq(memcmp(b->images + nf, black, sizeof black), 0);
            memcpy(red, b->images, sizeof red);
            /* Tokens are the tokenizer's. */
            int32_t ids[16];
            size_t n = 0;
            ck_assert_int_eq(frz_tokenize(lm, "a red thing", (size_t)-1, 0, ids, 16, &n), FRZ_OK);
            ck_assert_int_eq(b->len[0], (int)n);
            ck_assert_int_eq(memcmp(b->tokens, ids, n * sizeof *ids), 0);
            ck_assert_int_eq(b->max_len, (int)n);
        }
        if (k == 1) {
            /* green's long caption is cut to max_tokens = 6; missing.png is skipped */
            ck_assert_int_eq(b->len[0], 6);
            ck_assert_int_eq(b->max_len, 6);
            ck_assert_int_eq(b->example[1], -1);
        }
        if (k == 2) {
            /* the short last batch: red again, then an empty slot (not counted as skipped) */
            ck_assert_int_eq(b->example[0], 4);
            ck_assert_int_eq(b->example[1], -1);
            ck_assert_int_eq(b->n_skipped, 0);
            ck_assert_int_eq(memcmp(b->images, red, sizeof red), 0); /* the same image decodes the same */
        }
        frz_loader_release(L);
    }
    ck_assert_int_eq(frz_loader_next(L, &b), FRZ_OK);
    ck_assert_ptr_null(b);
    ck_assert_int_eq(skipped, 2);
    ck_assert_int_eq(valid, 3);
    ck_assert_int_eq(cap.warnings, 2);
    ck_assert_msg(strstr(cap.last, "missing.png") != NULL, "log: %s", cap.last);

    /* Starting part-way (a resumed epoch) gives the same batches from there; blind mode decodes nothing. */
    ck_assert_int_eq(frz_loader_start(L, order, 5, 2), FRZ_OK);
    ck_assert_int_eq(frz_loader_next(L, &b), FRZ_OK);
    ck_assert_int_eq(b->index, 2);
    ck_assert_int_eq(memcmp(b->images, red, sizeof red), 0);
    frz_loader_release(L);
    frz_loader_free(L);

    cfg.blind = 1;
    cap.warnings = 0;
    ck_assert_int_eq(frz_loader_create(&cfg, &L), FRZ_OK);
    ck_assert_int_eq(frz_loader_start(L, order, 5, 0), FRZ_OK);
    ck_assert_int_eq(frz_loader_next(L, &b), FRZ_OK);
    ck_assert_int_eq(b->n_valid, 2); /* the corrupt file is never opened */
    ck_assert_int_eq(memcmp(b->images, black, sizeof black), 0);
    ck_assert_int_eq(memcmp(b->images + nf, black, sizeof black), 0);
    frz_loader_release(L);
    frz_loader_stop(L); /* with batches still to come */
    frz_loader_free(L);
    ck_assert_int_eq(cap.warnings, 0);

    frz_set_log_callback(NULL, NULL, FRZ_LOG_ERROR);
    frz_lm_free(lm);
    frz_dataset_free(ds);
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("train_data");
    TCase *tc = tcase_create("data");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, tsv_reads_paths_relative_to_its_folder);
    tcase_add_test(tc, tsv_bad_lines_name_their_line);
    tcase_add_test(tc, tsv_long_lines_and_allocation_failures);
    tcase_add_test(tc, coco_reads_annotations_in_order);
    tcase_add_test(tc, coco_errors_name_the_field);
    tcase_add_test(tc, split_is_by_image_and_deterministic);
    tcase_add_test(tc, loader_skips_a_corrupt_image_and_counts_it);
    suite_add_tcase(s, tc);
    return s;
}

FRZ_TEST_MAIN(make_suite)
