/* check_bpe_train.c -- frz_tokenizer_train (byte-level BPE training) against independent references:
 *   - the plain-Python trainer tests/reference/bpe_train_ref.py: byte-identical vocab.json and merges.txt on three
 *     corpora (text with Unicode and invalid UTF-8, TAB segments, a two-letter alphabet);
 *   - the reference encoder (npm gpt-3-encoder) loading the trained files: the same ids as our tokenizer;
 * and the properties: round trips of any bytes, frequent words become one token, vocab_size, threads give the
 * same files (and cutting the corpus for threads never changes a word), errors, cancellation, allocation
 * failures. Fixtures: tests/reference/make_bpe_train_fixtures.py. */
#include "util/testutil.h"

#include "tokenizer/bpe_train.h"

#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define CASE_DIR FRZ_FIXTURES "/bpe_train"

static frz_tokenizer_train_params case_params(const char *name)
{
    frz_tokenizer_train_params p;
    frz_tokenizer_train_params_init(&p);
    json_error_t err;
    json_t *j = json_load_file(path_in(CASE_DIR, path_in(name, "params.json")), 0, &err);
    ck_assert_msg(j != NULL, "%s/params.json: %s", name, err.text);
    p.vocab_size = (int32_t)json_integer_value(json_object_get(j, "vocab_size"));
    p.min_frequency = (int32_t)json_integer_value(json_object_get(j, "min_frequency"));
    p.tab_segments = (int)json_integer_value(json_object_get(j, "tab_segments"));
    json_decref(j);
    return p;
}

static const char *case_file(const char *name, const char *file)
{
    static char buf[4][512];
    static int k;
    k = (k + 1) % 4;
    snprintf(buf[k], sizeof buf[k], "%s/%s/%s", CASE_DIR, name, file);
    return buf[k];
}

/* Fails naming the first line that differs. */
static void assert_same_file(const char *got_path, const char *want_path)
{
    size_t ng, nw;
    char *got = read_file_or_fail(got_path, &ng), *want = read_file_or_fail(want_path, &nw);
    size_t i = 0, line = 1;
    while (i < ng && i < nw && got[i] == want[i]) line += got[i++] == '\n';
    ck_assert_msg(ng == nw && i == ng, "%s differs from %s at byte %zu (line %zu): got '%.40s' want '%.40s'",
                  got_path, want_path, i, line, got + i, want + i);
    free(got);
    free(want);
}

static frz_tokenizer *train_and_load(const char *corpus, const frz_tokenizer_train_params *p, const char **dir_out)
{
    const char *dir = path_in(make_temp_dir(), "tok");
    frz_status st = frz_tokenizer_train(corpus, dir, p, NULL);
    ck_assert_msg(st == FRZ_OK, "train %s: %s", corpus, frz_last_error());
    frz_tokenizer *tok = NULL;
    st = frz_tokenizer_load(path_in(dir, "vocab.json"), path_in(dir, "merges.txt"), &tok);
    ck_assert_msg(st == FRZ_OK, "load: %s", frz_last_error());
    if (dir_out) *dir_out = dir;
    return tok;
}

static void assert_roundtrip(const frz_tokenizer *tok, const char *text, size_t len)
{
    int32_t *ids;
    size_t n;
    ck_assert_int_eq(frz_tokenizer_encode(tok, text, len, 0, &ids, &n), FRZ_OK);
    size_t at = 0;
    for (size_t i = 0; i < n; i++) {
        size_t k;
        const char *b = frz_tokenizer_token_bytes(tok, ids[i], &k);
        ck_assert_ptr_nonnull(b);
        ck_assert_msg(at + k <= len && memcmp(text + at, b, k) == 0, "id %d at byte %zu does not decode back",
                      ids[i], at);
        at += k;
    }
    ck_assert_uint_eq(at, len);
    free(ids);
}

/* ---- the references --------------------------------------------------------------------------------------- */

static const char *const cases[] = { "text", "tab", "abc" };

START_TEST(test_matches_python_reference)
{
    const char *name = cases[_i];
    frz_tokenizer_train_params p = case_params(name);
    const char *dir = path_in(make_temp_dir(), "out");  /* created by the trainer */
    frz_tokenizer_train_stats s;
    s.struct_size = sizeof s;
    frz_status st = frz_tokenizer_train(case_file(name, "corpus.txt"), dir, &p, &s);
    ck_assert_msg(st == FRZ_OK, "%s: %s", name, frz_last_error());
    assert_same_file(path_in(dir, "merges.txt"), case_file(name, "merges.txt"));
    assert_same_file(path_in(dir, "vocab.json"), case_file(name, "vocab.json"));
    ck_assert_int_gt(s.n_merges, 100);
    ck_assert_int_eq(s.n_vocab, 256 + s.n_merges + 1);
    ck_assert_int_ge(s.last_count, p.min_frequency);
    ck_assert_int_gt(s.n_words, s.n_unique_words);
    ck_assert(access(path_in(dir, "vocab.json.tmp"), F_OK) != 0 && access(path_in(dir, "merges.txt.tmp"), F_OK) != 0);
}
END_TEST

/* The npm reference encoder, given the files the Python reference trained (which the test above proves are the
 * files we train), encodes texts to ids; our tokenizer, loading what we train, must give the same. */
START_TEST(test_npm_encoder_agrees)
{
    const char *name = cases[_i];
    frz_tokenizer_train_params p = case_params(name);
    frz_tokenizer *tok = train_and_load(case_file(name, "corpus.txt"), &p, NULL);
    FILE *f = fopen(case_file(name, "npm_expected.jsonl"), "r");
    ck_assert_ptr_nonnull(f);
    char *line = NULL;
    size_t cap = 0, n_cases = 0;
    while (getline(&line, &cap, f) > 0) {
        json_error_t err;
        json_t *j = json_loads(line, 0, &err);
        ck_assert_msg(j != NULL, "npm_expected.jsonl line %zu: %s", n_cases + 1, err.text);
        const char *text = json_string_value(json_object_get(j, "text"));
        json_t *want = json_object_get(j, "ids");
        int32_t *ids;
        size_t n;
        ck_assert_int_eq(frz_tokenizer_encode(tok, text, strlen(text), 0, &ids, &n), FRZ_OK);
        ck_assert_msg(n == json_array_size(want), "'%s': %zu ids, the reference %zu", text, n, json_array_size(want));
        for (size_t i = 0; i < n; i++)
            ck_assert_msg(ids[i] == json_integer_value(json_array_get(want, i)), "'%s': id %zu is %d, the reference %d",
                          text, i, ids[i], (int)json_integer_value(json_array_get(want, i)));
        free(ids);
        json_decref(j);
        n_cases++;
    }
    free(line);
    fclose(f);
    ck_assert_uint_gt(n_cases, 20);
    frz_tokenizer_free(tok);
}
END_TEST

/* ---- properties ---------------------------------------------------------------------------------------------- */

START_TEST(test_roundtrip_any_bytes)
{
    frz_tokenizer_train_params p = case_params("text");
    frz_tokenizer *tok = train_and_load(case_file("text", "corpus.txt"), &p, NULL);
    size_t len;
    char *corpus = read_file_or_fail(case_file("text", "corpus.txt"), &len);
    assert_roundtrip(tok, corpus, len);
    free(corpus);
    /* Random bytes (mostly invalid UTF-8) and random pieces of text. */
    uint64_t x = 88172645463325252ull;
    char buf[4096];
    static const char *const pieces[] = { " the", "é", "世界", "\xF0\x9F\x99\x82", "\xFF", "\x80", "\xE4\xB8", "  ",
                                          "\n", "'s", "123", "!?", "\t", "\xC0\xAF", "<|endoftext|>", "\0" };
    for (int round = 0; round < 200; round++) {
        size_t n = 0;
        while (n + 16 < sizeof buf && n < (size_t)(round * 20)) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            if (round % 2) {
                buf[n++] = (char)(x >> 24);
            } else {
                const char *s = pieces[x % (sizeof pieces / sizeof pieces[0])];
                size_t k = *s ? strlen(s) : 1;
                memcpy(buf + n, s, k);
                n += k;
            }
        }
        assert_roundtrip(tok, buf, n);
    }
    frz_tokenizer_free(tok);
}
END_TEST

START_TEST(test_frequent_word_is_one_token)
{
    /* " blicket" 50 times among other words; a word seen once stays in pieces. In TAB segments "blicket" starts a
     * segment (no space): that form becomes a token of its own. */
    char text[8192] = "";
    for (int i = 0; i < 50; i++) strcat(text, i % 5 ? "This is a blicket. " : "a dax and a wug\tblicket\n");
    strcat(text, "quokkas\n");
    const char *corpus = write_temp_file("corpus.txt", text, strlen(text));
    frz_tokenizer_train_params p;
    frz_tokenizer_train_params_init(&p);
    p.vocab_size = 400;
    p.tab_segments = 1;
    frz_tokenizer *tok = train_and_load(corpus, &p, NULL);
    const char *words[] = { " blicket", "blicket", "This", " is" };
    for (size_t i = 0; i < 4; i++) {
        int32_t *ids;
        size_t n;
        ck_assert_int_eq(frz_tokenizer_encode(tok, words[i], strlen(words[i]), 0, &ids, &n), FRZ_OK);
        ck_assert_msg(n == 1, "'%s' takes %zu tokens", words[i], n);
        free(ids);
    }
    int32_t *ids;
    size_t n;
    ck_assert_int_eq(frz_tokenizer_encode(tok, " quokkas", 8, 0, &ids, &n), FRZ_OK);
    ck_assert_uint_gt(n, 1);  /* seen once: below min_frequency 2 */
    free(ids);
    /* The separators are not text: no token holds a TAB or a newline. */
    for (int32_t id = 0; id < frz_tokenizer_n_vocab(tok); id++) {
        size_t k;
        const char *b = frz_tokenizer_token_bytes(tok, id, &k);
        if (k > 1) ck_assert_msg(!memchr(b, '\t', k) && !memchr(b, '\n', k), "token %d holds a separator", id);
    }
    frz_tokenizer_free(tok);
}
END_TEST

static int count_lines(const char *path)
{
    size_t n;
    char *s = read_file_or_fail(path, &n);
    int lines = 0;
    for (size_t i = 0; i < n; i++) lines += s[i] == '\n';
    free(s);
    return lines;
}

START_TEST(test_vocab_size_respected)
{
    static const int32_t sizes[] = { 257, 258, 300, 650 };
    for (size_t i = 0; i < 4; i++) {
        frz_tokenizer_train_params p = case_params("text");
        p.vocab_size = sizes[i];
        const char *dir;
        frz_tokenizer *tok = train_and_load(case_file("text", "corpus.txt"), &p, &dir);
        ck_assert_int_eq(frz_tokenizer_n_vocab(tok), sizes[i]);
        ck_assert_int_eq(frz_tokenizer_eot(tok), sizes[i] - 1);  /* the last id, as in GPT-2 */
        ck_assert_int_eq(count_lines(path_in(dir, "merges.txt")), 1 + sizes[i] - 257);
        json_error_t err;
        json_t *v = json_load_file(path_in(dir, "vocab.json"), 0, &err);
        ck_assert_uint_eq(json_object_size(v), (size_t)sizes[i]);
        json_decref(v);
        frz_tokenizer_free(tok);
    }
    /* Too large for the corpus: training stops when no pair occurs min_frequency times. */
    frz_tokenizer_train_params p = case_params("text");
    p.vocab_size = 1000000;
    frz_tokenizer_train_stats s;
    s.struct_size = sizeof s;
    const char *dir = path_in(make_temp_dir(), "big");
    ck_assert_int_eq(frz_tokenizer_train(case_file("text", "corpus.txt"), dir, &p, &s), FRZ_OK);
    ck_assert_int_lt(s.n_vocab, 5000);
    ck_assert_int_ge(s.last_count, 2);
    p.min_frequency = 1;  /* every pair once is enough: more merges */
    frz_tokenizer_train_stats s1;
    s1.struct_size = sizeof s1;
    ck_assert_int_eq(frz_tokenizer_train(case_file("text", "corpus.txt"), dir, &p, &s1), FRZ_OK);
    ck_assert_int_gt(s1.n_merges, s.n_merges);
    ck_assert_int_eq(s1.last_count, 1);
    /* An older, shorter stats struct gets what fits. */
    struct { size_t struct_size; int64_t n_bytes; } old = { sizeof old, 0 };
    ck_assert_int_eq(frz_tokenizer_train(case_file("text", "corpus.txt"), dir, &p, (frz_tokenizer_train_stats *)&old),
                     FRZ_OK);
    ck_assert_int_eq(old.n_bytes, s1.n_bytes);
}
END_TEST

/* A corpus of a few MB from the fixture texts, so that several threads get chunks. */
static char *big_corpus(size_t *len)
{
    size_t na, nb;
    char *a = read_file_or_fail(case_file("text", "corpus.txt"), &na);
    char *b = read_file_or_fail(case_file("tab", "corpus.txt"), &nb);
    size_t cap = 40 * (na + nb + 64);
    char *s = malloc(cap);
    size_t n = 0;
    for (int i = 0; i < 40; i++) {
        n += (size_t)snprintf(s + n, cap - n, "Copy %d\n", i);
        memcpy(s + n, a, na);
        n += na;
        memcpy(s + n, b, nb);
        n += nb;
    }
    free(a);
    free(b);
    *len = n;
    return s;
}

START_TEST(test_threads_give_the_same_files)
{
    size_t len;
    char *text = big_corpus(&len);
    const char *corpus = write_temp_file("big.txt", text, len);
    for (int tab = 0; tab <= 1; tab++) {
        const char *dir[2];
        for (int t = 0; t < 2; t++) {
            frz_tokenizer_train_params p;
            frz_tokenizer_train_params_init(&p);
            p.vocab_size = 1000;
            p.tab_segments = tab;
            p.n_threads = t ? 3 : 1;
            dir[t] = path_in(make_temp_dir(), t ? "t3" : "t1");
            ck_assert_msg(frz_tokenizer_train(corpus, dir[t], &p, NULL) == FRZ_OK, "%s", frz_last_error());
        }
        assert_same_file(path_in(dir[1], "vocab.json"), path_in(dir[0], "vocab.json"));
        assert_same_file(path_in(dir[1], "merges.txt"), path_in(dir[0], "merges.txt"));
    }
    free(text);
}
END_TEST

/* The counter cuts the text (threads, and 1 MB pieces); the words must be those of the uncut text. */
START_TEST(test_cuts_keep_the_words)
{
    size_t len;
    char *text = big_corpus(&len);
    pcre2_code *re;
    pcre2_general_context *gctx;
    ck_assert_int_eq(frz_pretok_compile(&re, &gctx), FRZ_OK);
    frz_pretok_iter it;
    ck_assert_int_eq(frz_pretok_begin(&it, re, gctx), FRZ_OK);
    frz_pretok_set_text(&it, text, len);
    frz_strtab want = { 0 };
    int64_t n_want = 0;
    for (;;) {
        size_t s, e;
        int more;
        ck_assert_int_eq(frz_pretok_next(&it, &s, &e, &more), FRZ_OK);
        if (!more) break;
        ck_assert_int_eq(frz_strtab_add(&want, text + s, e - s, frz_strtab_hash(text + s, e - s), 1, NULL), FRZ_OK);
        n_want++;
    }
    frz_pretok_end(&it);
    frz_pretok_free(re, gctx);
    for (int threads = 1; threads <= 4; threads += 3) {
        frz_strtab got = { 0 };
        int64_t n_got;
        ck_assert_int_eq(frz_bpe_count_words("big", text, len, 0, threads, NULL, NULL, &got, &n_got), FRZ_OK);
        ck_assert_int_eq(n_got, n_want);
        ck_assert_int_eq(got.n, want.n);
        for (int32_t k = 0; k < want.n; k++) {
            int32_t g = frz_strtab_find(&got, want.buf + want.off[k], want.len[k], want.hash[k]);
            ck_assert_msg(g >= 0 && got.count[g] == want.count[k], "word '%.*s': %lld times, uncut %lld",
                          (int)want.len[k], want.buf + want.off[k], g >= 0 ? (long long)got.count[g] : 0LL,
                          (long long)want.count[k]);
        }
        frz_strtab_free(&got);
    }
    frz_strtab_free(&want);
    free(text);
}
END_TEST

/* ---- failures ---------------------------------------------------------------------------------------------- */

static void expect_error(const char *corpus, const char *dir, const frz_tokenizer_train_params *p, frz_status code,
                         const char *part)
{
    frz_status st = frz_tokenizer_train(corpus, dir, p, NULL);
    ck_assert_msg(st == code, "status %d, want %d (%s)", st, code, frz_last_error());
    ASSERT_MSG_HAS(part);
}

START_TEST(test_errors)
{
    const char *dir = path_in(make_temp_dir(), "out");
    const char *good = case_file("abc", "corpus.txt");
    frz_tokenizer_train_params p;
    frz_tokenizer_train_params_init(&p);
    expect_error("/nonexistent/corpus.txt", dir, &p, FRZ_ERR_IO, "/nonexistent/corpus.txt");
    const char *empty = write_temp_file("empty.txt", "", 0);
    expect_error(empty, dir, &p, FRZ_ERR_FORMAT, empty);
    ASSERT_MSG_HAS("empty");
    const char *seps = write_temp_file("seps.txt", "\t\n\r\n\t", 5);
    p.tab_segments = 1;
    expect_error(seps, dir, &p, FRZ_ERR_FORMAT, "nothing but TABs");
    p.tab_segments = 0;
    ck_assert_int_eq(frz_tokenizer_train(seps, dir, &p, NULL), FRZ_OK);  /* whitespace is text without the flag */
    p.vocab_size = 256;
    expect_error(good, dir, &p, FRZ_ERR_INVALID_ARG, "vocab_size is 256");
    p.vocab_size = 300;
    p.min_frequency = 0;
    expect_error(good, dir, &p, FRZ_ERR_INVALID_ARG, "min_frequency is 0");
    p.min_frequency = 2;
    p.n_threads = 0;
    expect_error(good, dir, &p, FRZ_ERR_INVALID_ARG, "n_threads is 0");
    p.n_threads = 1;
    expect_error(good, "/nonexistent/dir/out", &p, FRZ_ERR_IO, "/nonexistent/dir/out");
    expect_error(NULL, dir, &p, FRZ_ERR_INVALID_ARG, "NULL");
    expect_error(good, NULL, &p, FRZ_ERR_INVALID_ARG, "NULL");
    frz_tokenizer_train_params bad = p;
    bad.struct_size = 0;
    expect_error(good, dir, &bad, FRZ_ERR_INVALID_ARG, "frz_tokenizer_train_params_init");
    frz_tokenizer_train_stats s;
    s.struct_size = sizeof s + 8;
    ck_assert_int_eq(frz_tokenizer_train(good, dir, &p, &s), FRZ_ERR_INVALID_ARG);
    ASSERT_MSG_HAS("stats->struct_size");
    /* NULL params: the defaults. */
    ck_assert_int_eq(frz_tokenizer_train(good, dir, NULL, NULL), FRZ_OK);
    frz_tokenizer_train_params_init(NULL);
}
END_TEST

static int abort_at(void *user_data)
{
    int *calls = user_data;
    return ++*calls >= 3;
}

START_TEST(test_cancel_writes_nothing)
{
    const char *dir = path_in(make_temp_dir(), "out");
    frz_tokenizer_train_params p = case_params("text");
    int calls = 0;
    p.abort = abort_at;
    p.abort_data = &calls;
    frz_status st = frz_tokenizer_train(case_file("text", "corpus.txt"), dir, &p, NULL);
    ck_assert_int_eq(st, FRZ_ERR_CANCELLED);
    ASSERT_MSG_HAS("cancelled");
    ck_assert_int_eq(calls, 3);
    struct stat sb;
    ck_assert_int_ne(stat(dir, &sb), 0);
}
END_TEST

START_TEST(test_allocation_failures)
{
    const char *text = "the cat sat on the mat\tthe cat \xFF sat\nthe dog sat on the log, the dog's log 1234 1234\n";
    const char *corpus = write_temp_file("small.txt", text, strlen(text));
    const char *dir = path_in(make_temp_dir(), "out");
    frz_tokenizer_train_params p;
    frz_tokenizer_train_params_init(&p);
    p.vocab_size = 300;
    frz_test_fail_alloc_at(0);
    ck_assert_int_eq(frz_tokenizer_train(corpus, dir, &p, NULL), FRZ_OK);
    long total = frz_test_alloc_count(), failed = 0;
    ck_assert_int_gt(total, 20);
    /* Every allocation of a run fails once. Most failures fail the run; a few are not needed (PCRE2's JIT, whose
     * interpreter fallback gives the same words). */
    for (long k = 1; k <= total; k++) {
        frz_fail(FRZ_OK, "no failure");
        frz_test_fail_alloc_at(k);
        frz_status st = frz_tokenizer_train(corpus, dir, &p, NULL);
        frz_test_fail_alloc_at(0);
        ck_assert_msg(st == FRZ_OK || st == FRZ_ERR_NOMEM, "allocation %ld: status %d (%s)", k, st, frz_last_error());
        if (st == FRZ_OK) ASSERT_MSG_HAS("for PCRE2");  /* the failure that was survived */
        failed += st != FRZ_OK;
    }
    ck_assert_int_gt(failed, total / 2);
    frz_tokenizer *tok = NULL;
    ck_assert_int_eq(frz_tokenizer_load(path_in(dir, "vocab.json"), path_in(dir, "merges.txt"), &tok), FRZ_OK);
    assert_roundtrip(tok, text, strlen(text));
    frz_tokenizer_free(tok);
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("bpe_train");
    TCase *tc = tcase_create("bpe_train");
    tcase_set_timeout(tc, 120);
    tcase_add_loop_test(tc, test_matches_python_reference, 0, 3);
    tcase_add_loop_test(tc, test_npm_encoder_agrees, 0, 2);
    tcase_add_test(tc, test_roundtrip_any_bytes);
    tcase_add_test(tc, test_frequent_word_is_one_token);
    tcase_add_test(tc, test_vocab_size_respected);
    tcase_add_test(tc, test_threads_give_the_same_files);
    tcase_add_test(tc, test_cuts_keep_the_words);
    tcase_add_test(tc, test_errors);
    tcase_add_test(tc, test_cancel_writes_nothing);
    tcase_add_test(tc, test_allocation_failures);
    suite_add_tcase(s, tc);
    return s;
}

FRZ_TEST_MAIN(make_suite)
