/* check_json.c -- JSON files: parse errors with line/column/byte, I/O errors, typed field access. */
#include "formats/json_file.h"
#include "util/testutil.h"

#include <string.h>

/* Asserts that the thread's last error contains `part`. */
START_TEST(test_load_file_ok)
{
    const char *text = "{\"n_head\": 12, \"eps\": 1e-5, \"name\": \"gpt2\", \"list\": [1, 2]}";
    const char *path = write_temp_file("config.json", text, strlen(text));
    json_t *root = NULL;
    ck_assert_int_eq(frz_json_load_file(path, &root), FRZ_OK);
    ck_assert(json_is_object(root));
    ck_assert_int_eq(json_integer_value(json_object_get(root, "n_head")), 12);
    ck_assert_str_eq(json_string_value(json_object_get(root, "name")), "gpt2");
    json_decref(root);
}
END_TEST

START_TEST(test_load_file_missing)
{
    const char *dir = make_temp_dir();
    char path[4200];
    snprintf(path, sizeof path, "%s/absent.json", dir);
    json_t *root = (json_t *)1;
    ck_assert_int_eq(frz_json_load_file(path, &root), FRZ_ERR_IO);
    ck_assert_ptr_null(root);
    ASSERT_MSG_HAS(path);
    ASSERT_MSG_HAS("No such file or directory");
}
END_TEST

START_TEST(test_load_file_directory)
{
    const char *dir = make_temp_dir();
    json_t *root;
    ck_assert_int_eq(frz_json_load_file(dir, &root), FRZ_ERR_IO);
    ASSERT_MSG_HAS(dir);
}
END_TEST

/* The '}' is byte 19 (0-based) of the text, on line 3 at column 8. */
START_TEST(test_syntax_error_position)
{
    const char *text = "{\n  \"a\": 1,\n  \"b\": }\n";
    ck_assert_int_eq(text[19], '}');
    const char *path = write_temp_file("bad.json", text, strlen(text));
    json_t *root = (json_t *)1;
    ck_assert_int_eq(frz_json_load_file(path, &root), FRZ_ERR_FORMAT);
    ck_assert_ptr_null(root);
    char want[4400];
    snprintf(want, sizeof want, "%s: line 3 column 8 (byte 19): ", path);
    ASSERT_MSG_HAS(want);
}
END_TEST

/* A buffer's errors are reported at base_offset + the byte within the buffer. */
START_TEST(test_buffer_base_offset)
{
    const char *text = "{\"a\": [1, 2,, 3]}";  /* the second ',' is byte 12 */
    ck_assert_int_eq(text[12], ',');
    json_t *root;
    ck_assert_int_eq(frz_json_load_buffer(text, strlen(text), "model.safetensors", 8, &root), FRZ_ERR_FORMAT);
    ASSERT_MSG_HAS("model.safetensors: line 1 column 13 (byte 20): ");
    /* Only len bytes are read: the same text cut before the error parses. */
    const char *ok = "[1, 2]garbage";
    ck_assert_int_eq(frz_json_load_buffer(ok, 6, "buf", 0, &root), FRZ_OK);
    ck_assert_int_eq(json_array_size(root), 2);
    json_decref(root);
}
END_TEST

START_TEST(test_duplicate_key_rejected)
{
    const char *text = "{\"a\": 1, \"a\": 2}";
    json_t *root;
    ck_assert_int_eq(frz_json_load_buffer(text, strlen(text), "dup.json", 0, &root), FRZ_ERR_FORMAT);
    ASSERT_MSG_HAS("dup.json: line 1 column");
    ASSERT_MSG_HAS("duplicate");
}
END_TEST

START_TEST(test_trailing_garbage_and_empty)
{
    json_t *root;
    ck_assert_int_eq(frz_json_load_buffer("{} x", 4, "t.json", 0, &root), FRZ_ERR_FORMAT);
    ASSERT_MSG_HAS("t.json: line 1");
    ck_assert_int_eq(frz_json_load_buffer("", 0, "empty.json", 0, &root), FRZ_ERR_FORMAT);
    ASSERT_MSG_HAS("empty.json: line 1");
}
END_TEST

static json_t *parse(const char *text)
{
    json_t *root = NULL;
    ck_assert_int_eq(frz_json_load_buffer(text, strlen(text), "test", 0, &root), FRZ_OK);
    return root;
}

START_TEST(test_int_fields)
{
    json_t *c = parse("{\"n_head\": 0, \"n_layer\": 12, \"n_embd\": 768.0, \"name\": \"x\", \"max\": 1024, \"nul\": null}");
    int64_t v = -1;
    ck_assert_int_eq(frz_json_int(c, "n_layer", "config.json", 1, 100, &v), FRZ_OK);
    ck_assert_int_eq(v, 12);
    /* Both bounds are inclusive. */
    ck_assert_int_eq(frz_json_int(c, "max", "config.json", 1, 1024, &v), FRZ_OK);
    ck_assert_int_eq(v, 1024);
    ck_assert_int_eq(frz_json_int(c, "max", "config.json", 1025, 2048, &v), FRZ_ERR_FORMAT);
    ck_assert_int_eq(frz_json_int(c, "max", "config.json", 1, 1023, &v), FRZ_ERR_FORMAT);

    ck_assert_int_eq(frz_json_int(c, "n_head", "config.json", 1, 1024, &v), FRZ_ERR_FORMAT);
    ck_assert_str_eq(frz_last_error(), "config.json: field 'n_head' must be an integer in [1, 1024], got 0");
    ck_assert_int_eq(frz_json_int(c, "n_embd", "config.json", 1, 100000, &v), FRZ_ERR_FORMAT);
    ASSERT_MSG_HAS("config.json: field 'n_embd' must be an integer");
    ASSERT_MSG_HAS("got 768");
    ck_assert_int_eq(frz_json_int(c, "name", "config.json", 1, 10, &v), FRZ_ERR_FORMAT);
    ASSERT_MSG_HAS("got \"x\"");
    ck_assert_int_eq(frz_json_int(c, "n_ctx", "config.json", 1, 10, &v), FRZ_ERR_FORMAT);
    ASSERT_MSG_HAS("config.json: field 'n_ctx' is missing");
    ck_assert_int_eq(frz_json_int(c, "nul", "config.json", 1, 10, &v), FRZ_ERR_FORMAT);

    /* _or: missing or null gives the default; present values are still checked. */
    ck_assert_int_eq(frz_json_int_or(c, "n_ctx", "config.json", 1, 10, 7, &v), FRZ_OK);
    ck_assert_int_eq(v, 7);
    ck_assert_int_eq(frz_json_int_or(c, "nul", "config.json", 1, 10, 8, &v), FRZ_OK);
    ck_assert_int_eq(v, 8);
    ck_assert_int_eq(frz_json_int_or(c, "n_layer", "config.json", 1, 100, 8, &v), FRZ_OK);
    ck_assert_int_eq(v, 12);
    ck_assert_int_eq(frz_json_int_or(c, "n_head", "config.json", 1, 10, 8, &v), FRZ_ERR_FORMAT);
    ASSERT_MSG_HAS("'n_head'");

    /* Not an object. */
    json_t *arr = parse("[1]");
    ck_assert_int_eq(frz_json_int(arr, "n", "cfg", 0, 1, &v), FRZ_ERR_FORMAT);
    ASSERT_MSG_HAS("cfg");
    json_decref(arr);
    json_decref(c);
}
END_TEST

START_TEST(test_real_and_string_fields)
{
    json_t *c = parse("{\"eps\": 1e-5, \"p\": 1, \"big\": 2.5, \"s\": \"gelu_new\", \"n\": 3, \"nul\": null}");
    double d = 0;
    ck_assert_int_eq(frz_json_real_or(c, "eps", "config.json", 0, 1, 0.5, &d), FRZ_OK);
    ck_assert(d == 1e-5);
    ck_assert_int_eq(frz_json_real_or(c, "p", "config.json", 0, 1, 0.5, &d), FRZ_OK);  /* an integer is a number */
    ck_assert(d == 1.0);
    ck_assert_int_eq(frz_json_real_or(c, "absent", "config.json", 0, 1, 0.25, &d), FRZ_OK);
    ck_assert(d == 0.25);
    ck_assert_int_eq(frz_json_real_or(c, "nul", "config.json", 0, 1, 0.125, &d), FRZ_OK);
    ck_assert(d == 0.125);
    ck_assert_int_eq(frz_json_real_or(c, "big", "config.json", 0, 1, 0.5, &d), FRZ_ERR_FORMAT);
    ASSERT_MSG_HAS("config.json: field 'big' must be a number in [0, 1], got 2.5");
    ck_assert_int_eq(frz_json_real_or(c, "s", "config.json", 0, 1, 0.5, &d), FRZ_ERR_FORMAT);
    ASSERT_MSG_HAS("'s'");

    const char *s = NULL;
    ck_assert_int_eq(frz_json_string_or(c, "s", "config.json", "relu", &s), FRZ_OK);
    ck_assert_str_eq(s, "gelu_new");
    ck_assert_int_eq(frz_json_string_or(c, "absent", "config.json", "relu", &s), FRZ_OK);
    ck_assert_str_eq(s, "relu");
    ck_assert_int_eq(frz_json_string_or(c, "nul", "config.json", NULL, &s), FRZ_OK);
    ck_assert_ptr_null(s);
    ck_assert_int_eq(frz_json_string_or(c, "n", "config.json", "relu", &s), FRZ_ERR_FORMAT);
    ck_assert_str_eq(frz_last_error(), "config.json: field 'n' must be a string, got 3");
    json_decref(c);
}
END_TEST

/* Reading a file allocates its buffer through frz_malloc: failing it gives FRZ_ERR_NOMEM and no leak. */
START_TEST(test_load_file_nomem)
{
    const char *text = "{\"a\": [1, 2, 3]}";
    const char *path = write_temp_file("c.json", text, strlen(text));
    json_t *root = NULL;
    frz_status st;
    long k = 1;
    for (;; k++) {
        frz_test_fail_alloc_at(k);
        st = frz_json_load_file(path, &root);
        if (st == FRZ_OK) break;
        ck_assert_int_eq(st, FRZ_ERR_NOMEM);
        ck_assert_ptr_null(root);
        ASSERT_MSG_HAS(path);
    }
    frz_test_fail_alloc_at(0);
    ck_assert_int_gt(k, 1);  /* at least one allocation was failed */
    json_decref(root);
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("json");
    TCase *tc = tcase_create("json");
    tcase_add_test(tc, test_load_file_ok);
    tcase_add_test(tc, test_load_file_missing);
    tcase_add_test(tc, test_load_file_directory);
    tcase_add_test(tc, test_syntax_error_position);
    tcase_add_test(tc, test_buffer_base_offset);
    tcase_add_test(tc, test_duplicate_key_rejected);
    tcase_add_test(tc, test_trailing_garbage_and_empty);
    tcase_add_test(tc, test_int_fields);
    tcase_add_test(tc, test_real_and_string_fields);
    tcase_add_test(tc, test_load_file_nomem);
    suite_add_tcase(s, tc);
    return s;
}

FRZ_TEST_MAIN(make_suite)
