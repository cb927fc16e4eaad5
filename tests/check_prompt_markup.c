/* check_prompt_markup.c -- the prompt text syntax of `frozen ask`: inline image markers with their escapes and
 * byte offsets, request files with their segment indices, and the errors both give. */
#include "prompt/markup.h"
#include "util/testutil.h"

#include <stdio.h>
#include <string.h>

static void ok(frz_status st, const char *what)
{
    ck_assert_msg(st == FRZ_OK, "%s: %s: %s", what, frz_strerror(st), frz_last_error());
}

/* kinds: 'T' or 'I' per segment; values: the texts / paths; origins: byte offsets or indices. */
static void expect(const frz_markup *m, const char *kinds, const char *const *values, const size_t *origins)
{
    ck_assert_uint_eq(m->segs.n, strlen(kinds));
    for (size_t i = 0; i < m->segs.n; i++) {
        const frz_eval_seg *s = &m->segs.segs[i];
        ck_assert_msg((s->kind == FRZ_EVAL_SEG_IMAGE) == (kinds[i] == 'I'), "segment %zu: kind", i);
        const char *v = s->kind == FRZ_EVAL_SEG_IMAGE ? s->image_path : s->text;
        ck_assert_msg(strcmp(v, values[i]) == 0, "segment %zu: '%s', want '%s'", i, v, values[i]);
        ck_assert_msg(m->origin[i] == origins[i], "segment %zu: origin %zu, want %zu", i, m->origin[i], origins[i]);
    }
}

START_TEST(test_inline_markers)
{
    frz_markup m;
    ok(frz_markup_parse("<img:a.jpg> This person is like \xf0\x9f\x98\x80. <img:dir/b c.png>Q: who?", NULL,
                        "--prompt", &m),
       "parse");
    const char *v1[] = {"a.jpg", " This person is like \xf0\x9f\x98\x80. ", "dir/b c.png", "Q: who?"};
    const size_t o1[] = {0, 11, 38, 55};
    expect(&m, "ITIT", v1, o1);
    ck_assert_uint_eq(frz_markup_n_images(&m), 2);
    frz_markup_free(&m);

    /* escapes: \< is '<' (a marker written as text), \\ a backslash, \> inside a path; others are literal */
    ok(frz_markup_parse("a \\<img:x> b \\\\ c \\n <img:p\\>q.jpg>", "/base", "s", &m), "escapes");
    const char *v2[] = {"a <img:x> b \\ c \\n ", "/base/p>q.jpg"};
    const size_t o2[] = {0, 21};
    expect(&m, "TI", v2, o2);
    frz_markup_free(&m);

    /* relative paths join the base folder, absolute ones stay; adjacent images; empty text makes nothing */
    ok(frz_markup_parse("<img:/abs.jpg><img:rel.jpg>", "/base", "s", &m), "paths");
    const char *v3[] = {"/abs.jpg", "/base/rel.jpg"};
    const size_t o3[] = {0, 14};
    expect(&m, "II", v3, o3);
    frz_markup_free(&m);
    ok(frz_markup_parse("", NULL, "s", &m), "empty");
    ck_assert_uint_eq(m.segs.n, 0);
    frz_markup_free(&m);
    /* "<img" without the colon, or other tags, is text */
    ok(frz_markup_parse("<image> <img >", NULL, "s", &m), "not markers");
    const char *v4[] = {"<image> <img >"};
    const size_t o4[] = {0};
    expect(&m, "T", v4, o4);
    frz_markup_free(&m);
}
END_TEST

START_TEST(test_inline_errors)
{
    frz_markup m;
    ck_assert_int_eq(frz_markup_parse("abc <img:a.jpg", NULL, "--prompt", &m), FRZ_ERR_FORMAT);
    ck_assert_msg(strstr(frz_last_error(), "--prompt: byte 4: '<img:' has no closing '>'") != NULL, "%s",
                  frz_last_error());
    ck_assert_int_eq(frz_markup_parse("x\n<img:a.jpg\n>", NULL, "stdin", &m), FRZ_ERR_FORMAT);
    ck_assert_msg(strstr(frz_last_error(), "stdin: byte 2:") && strstr(frz_last_error(), "on its line"), "%s",
                  frz_last_error());
    ck_assert_int_eq(frz_markup_parse("ok <img:> no", NULL, "--prompt", &m), FRZ_ERR_FORMAT);
    ck_assert_msg(strstr(frz_last_error(), "byte 3: empty image path") != NULL, "%s", frz_last_error());
    ck_assert_uint_eq(m.segs.n, 0); /* nothing left behind */
    /* injected allocation failures: an error, no leak (ASan) */
    for (long k = 1; k < 40; k++) {
        frz_test_fail_alloc_at(k);
        frz_status st = frz_markup_parse("a <img:b.jpg> c <img:d.jpg>", "/x", "s", &m);
        frz_test_fail_alloc_at(0);
        if (st == FRZ_OK) {
            ck_assert_uint_eq(m.segs.n, 4);
            frz_markup_free(&m);
            break;
        }
        ck_assert_int_eq(st, FRZ_ERR_NOMEM);
    }
}
END_TEST

START_TEST(test_request_files)
{
    const char *ok_json = "{\"segments\": [{\"image\": \"img/a.jpg\"}, {\"text\": \"This is a dax.\"}, {\"text\": \"\"},"
                          " {\"image\": \"/abs/b.png\"}, {\"text\": \"Q: <img:not-a-marker>\"}]}";
    const char *path = write_temp_file("req.json", ok_json, strlen(ok_json));
    char dir[4200];
    snprintf(dir, sizeof dir, "%s", path);
    *strrchr(dir, '/') = '\0';
    char a[4300];
    snprintf(a, sizeof a, "%s/img/a.jpg", dir);
    frz_markup m;
    ok(frz_markup_load_request(path, &m), "request");
    const char *v[] = {a, "This is a dax.", "/abs/b.png", "Q: <img:not-a-marker>"};
    const size_t o[] = {0, 1, 3, 4}; /* segment indices; the empty text makes none */
    expect(&m, "ITIT", v, o);
    frz_markup_free(&m);

    static const struct {
        const char *json, *needle;
    } bad[] = {
        {"[1]", "an object with a 'segments' array"},
        {"{\"segments\": {}}", "an object with a 'segments' array"},
        {"{\"segments\": [], \"extra\": 1}", "unknown key 'extra'"},
        {"{\"segments\": [{\"text\": \"a\"}, 7]}", "segments[1]: must be an object"},
        {"{\"segments\": [{\"text\": \"a\", \"image\": \"b\"}]}", "segments[0]: needs exactly one of"},
        {"{\"segments\": [{}]}", "segments[0]: needs exactly one of"},
        {"{\"segments\": [{\"img\": \"b\"}]}", "segments[0]: unknown key 'img'"},
        {"{\"segments\": [{\"image\": 3}]}", "segments[0]: field 'image' must be a string"},
        {"{\"segments\": [{\"image\": \"\"}]}", "segments[0]: field 'image' is empty"},
        {"{\"segments\": [", "line 1"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        path = write_temp_file("bad.json", bad[i].json, strlen(bad[i].json));
        ck_assert_int_eq(frz_markup_load_request(path, &m), FRZ_ERR_FORMAT);
        ck_assert_msg(strstr(frz_last_error(), bad[i].needle) && strstr(frz_last_error(), "bad.json"),
                      "case %zu: '%s' lacks '%s'", i, frz_last_error(), bad[i].needle);
    }
    ck_assert_int_eq(frz_markup_load_request("/nonexistent/req.json", &m), FRZ_ERR_IO);
}
END_TEST

/* Into a prompt: texts and images in order, and an image that cannot be read is reported at its marker. */
START_TEST(test_to_prompt)
{
    frz_lm *lm = NULL;
    frz_vision *v = NULL;
    frz_projector *p = NULL;
    ok(frz_lm_load(fixture_path("models/gpt2-f32"), &lm), "lm");
    ok(frz_vision_create("tiny", 0.0625f, 32, 1, &v), "encoder");
    ok(frz_projector_create((int32_t)frz_vision_get(v, FRZ_VISION_N_FEATURES), 2,
                            (int32_t)frz_lm_get(lm, FRZ_LM_N_EMBD), 1, &p),
       "projector");
    frz_prompt *pr = NULL;
    ok(frz_prompt_create(lm, v, p, &pr), "prompt");
    char text[4400];
    snprintf(text, sizeof text, "Look: <img:%s> a dax.", fixture_path("eval/episodes/img/dax1.jpg"));
    frz_markup m;
    ok(frz_markup_parse(text, NULL, "--prompt", &m), "parse");
    ok(frz_markup_to_prompt(&m, pr, 0), "to prompt");
    ck_assert_uint_eq(frz_prompt_n_segments(pr), 3);
    frz_prompt_seg_kind kind;
    size_t start, n;
    ok(frz_prompt_segment(pr, 1, &kind, &start, &n), "segment");
    ck_assert(kind == FRZ_PROMPT_SEG_IMAGE && n == 2);
    frz_markup_free(&m);

    frz_prompt_clear(pr);
    ok(frz_markup_parse("Look: <img:/nonexistent/cat.jpg> ok", NULL, "--prompt", &m), "parse");
    ck_assert_int_eq(frz_markup_to_prompt(&m, pr, 0), FRZ_ERR_IO);
    ck_assert_msg(strstr(frz_last_error(), "--prompt: byte 6: image '/nonexistent/cat.jpg': ") != NULL, "%s",
                  frz_last_error());
    frz_markup_free(&m);

    /* special tokens in text only with the flag */
    frz_prompt_clear(pr);
    ok(frz_markup_parse("<|endoftext|>", NULL, "s", &m), "parse");
    ok(frz_markup_to_prompt(&m, pr, FRZ_TOKENIZE_SPECIAL), "special");
    ck_assert_uint_eq(frz_prompt_len(pr), 1);
    frz_markup_free(&m);

    frz_prompt_free(pr);
    frz_projector_free(p);
    frz_vision_free(v);
    frz_lm_free(lm);
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("prompt_markup");
    TCase *tc = tcase_create("markup");
    tcase_add_test(tc, test_inline_markers);
    tcase_add_test(tc, test_inline_errors);
    tcase_add_test(tc, test_request_files);
    tcase_add_test(tc, test_to_prompt);
    suite_add_tcase(s, tc);
    return s;
}

FRZ_TEST_MAIN(make_suite)
