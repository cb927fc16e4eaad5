/* check_eval_text.c -- the Python str semantics behind the VQA metric, checked against Python itself
 * (tests/fixtures/eval/pytext_ref.json holds Python 3's str.lower() and str.isspace() results), and UTF-8
 * repair for JSON output. */
#include "eval/text.h"
#include "formats/json_file.h"
#include "util/testutil.h"

#include <string.h>

static size_t encode(uint32_t c, char *b)
{
    if (c < 0x80) { b[0] = (char)c; return 1; }
    if (c < 0x800) { b[0] = (char)(0xC0 | (c >> 6)); b[1] = (char)(0x80 | (c & 0x3F)); return 2; }
    if (c < 0x10000) {
        b[0] = (char)(0xE0 | (c >> 12)); b[1] = (char)(0x80 | ((c >> 6) & 0x3F)); b[2] = (char)(0x80 | (c & 0x3F));
        return 3;
    }
    b[0] = (char)(0xF0 | (c >> 18)); b[1] = (char)(0x80 | ((c >> 12) & 0x3F));
    b[2] = (char)(0x80 | ((c >> 6) & 0x3F)); b[3] = (char)(0x80 | (c & 0x3F));
    return 4;
}

/* Every code point of the claimed ranges lower-cases exactly as Python's str.lower() does. */
START_TEST(test_lower_matches_python)
{
    json_t *ref;
    ck_assert_int_eq(frz_json_load_file(fixture_path("eval/pytext_ref.json"), &ref), FRZ_OK);
    const json_t *lower = json_object_get(ref, "lower");
    ck_assert_int_gt(json_array_size(lower), 400);
    for (size_t i = 0; i < json_array_size(lower); i++) {
        const json_t *pair = json_array_get(lower, i);
        uint32_t cp = (uint32_t)json_integer_value(json_array_get(pair, 0));
        const json_t *want = json_array_get(pair, 1);
        char in[8];
        size_t n = encode(cp, in), len = 0;
        char *out = NULL;
        ck_assert_int_eq(frz_py_lower(in, n, &out, &len), FRZ_OK);
        ck_assert_msg(len == json_string_length(want) && memcmp(out, json_string_value(want), len) == 0,
                      "lower(U+%04X) differs from Python", cp);
        free(out);
    }
    json_decref(ref);
}
END_TEST

/* Every code point of the BMP (surrogates excepted), and every 61st above it, is whitespace exactly when
 * Python's str.isspace() says so. */
START_TEST(test_space_matches_python)
{
    json_t *ref;
    ck_assert_int_eq(frz_json_load_file(fixture_path("eval/pytext_ref.json"), &ref), FRZ_OK);
    const json_t *space = json_object_get(ref, "space");
    ck_assert_int_ge(json_array_size(space), 25);
    size_t next = 0, seen = 0;
    for (uint32_t cp = 0; cp < 0x110000; cp += cp < 0x10000 ? 1 : 61) {
        if (cp >= 0xD800 && cp <= 0xDFFF) continue;
        while (next < json_array_size(space) && (uint32_t)json_integer_value(json_array_get(space, next)) < cp) next++;
        int want = next < json_array_size(space) && (uint32_t)json_integer_value(json_array_get(space, next)) == cp;
        char b[8];
        size_t n = encode(cp, b);
        size_t got = frz_py_space_len(b, n);
        ck_assert_msg((got != 0) == want, "isspace(U+%04X): got %zu, Python says %d", cp, got, want);
        if (got) ck_assert_uint_eq(got, n);
        seen += want;
    }
    ck_assert_uint_eq(seen, json_array_size(space));
    json_decref(ref);
}
END_TEST

/* strip() removes leading and trailing Python whitespace only; invalid bytes are not whitespace. */
START_TEST(test_strip)
{
    const char *s = " \t\xE2\x80\x83" "a b\xC2\x85\n";
    size_t a, n;
    frz_py_strip(s, strlen(s), &a, &n);
    ck_assert_uint_eq(a, 5);
    ck_assert_uint_eq(n, 3);
    ck_assert_int_eq(memcmp(s + a, "a b", 3), 0);
    frz_py_strip("   ", 3, &a, &n);
    ck_assert_uint_eq(n, 0);
    frz_py_strip(" \xFF ", 3, &a, &n);
    ck_assert_uint_eq(a, 1);
    ck_assert_uint_eq(n, 1);
}
END_TEST

/* Invalid UTF-8 becomes U+FFFD, one per maximal invalid subpart (Python's errors="replace"):
 * "a\xFFb" -> a U+FFFD b; a truncated 3-byte sequence "\xE2\x82" -> one U+FFFD; an overlong "\xC0\x80" -> two;
 * a surrogate "\xED\xA0\x80" -> three (0xA0 is not a valid second byte after 0xED). Valid text is unchanged. */
START_TEST(test_utf8_repair)
{
    struct { const char *in; size_t n; const char *want; } cases[] = {
        {"a\xFF" "b", 3, "a\xEF\xBF\xBD" "b"},
        {"x\xE2\x82", 3, "x\xEF\xBF\xBD"},
        {"\xC0\x80", 2, "\xEF\xBF\xBD\xEF\xBF\xBD"},
        {"\xED\xA0\x80", 3, "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD"},
        {"caf\xC3\xA9 \xF0\x9F\x98\x80", 10, "caf\xC3\xA9 \xF0\x9F\x98\x80"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *out = NULL;
        ck_assert_int_eq(frz_utf8_repair(cases[i].in, cases[i].n, &out), FRZ_OK);
        ck_assert_msg(strcmp(out, cases[i].want) == 0, "case %zu", i);
        free(out);
    }
}
END_TEST

START_TEST(test_sbuf)
{
    frz_sbuf b = {0};
    for (int i = 0; i < 1000; i++) ck_assert_int_eq(frz_sbuf_puts(&b, "ab"), FRZ_OK);
    ck_assert_uint_eq(b.len, 2000);
    ck_assert_uint_eq(strlen(b.p), 2000);
    char *s;
    ck_assert_int_eq(frz_sbuf_take(&b, &s), FRZ_OK);
    ck_assert_ptr_null(b.p);
    free(s);
    ck_assert_int_eq(frz_sbuf_take(&b, &s), FRZ_OK); /* empty buffer: "" */
    ck_assert_str_eq(s, "");
    free(s);
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("eval_text");
    TCase *tc = tcase_create("text");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_lower_matches_python);
    tcase_add_test(tc, test_space_matches_python);
    tcase_add_test(tc, test_strip);
    tcase_add_test(tc, test_utf8_repair);
    tcase_add_test(tc, test_sbuf);
    suite_add_tcase(s, tc);
    return s;
}

FRZ_TEST_MAIN(make_suite)
