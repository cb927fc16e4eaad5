/* check_version.c -- frz_version_check / FRZ_CHECK_VERSION: the header/library compatibility rule of
 * docs/abi.md (same major; library minor >= header minor; patch free), checked with version numbers built
 * here from that rule, around the library's own version. */
#include "util/testutil.h"

#include <stddef.h>
#include <stdio.h>
#include <string.h>

static unsigned ver(unsigned major, unsigned minor, unsigned patch) { return major * 10000 + minor * 100 + patch; }

/* An older program's parameter struct is smaller than the library's: *_init (the macro) must fill only the
 * caller's bytes and record the caller's size, whatever the library's struct holds beyond it. The "older
 * struct" here is the first members of frz_generate_params, up to and including max_tokens; a guard pattern
 * follows it in the same buffer. */
START_TEST(test_init_never_writes_past_an_older_struct)
{
    const size_t old_size = offsetof(frz_generate_params, max_tokens) + sizeof(int32_t);
    unsigned char buf[sizeof(frz_generate_params) + 64];
    memset(buf, 0xA5, sizeof buf);
    frz_generate_params_init_size((frz_generate_params *)(void *)buf, old_size);
    for (size_t i = old_size; i < sizeof buf; i++) ck_assert_msg(buf[i] == 0xA5, "byte %zu written", i);
    size_t recorded;
    memcpy(&recorded, buf, sizeof recorded);
    ck_assert_uint_eq(recorded, old_size);
    int32_t max_tokens;
    memcpy(&max_tokens, buf + offsetof(frz_generate_params, max_tokens), sizeof max_tokens);
    frz_generate_params full;
    (frz_generate_params_init)(&full); /* the plain function: the library's whole struct */
    ck_assert_int_eq(max_tokens, full.max_tokens);
    ck_assert_uint_eq(full.struct_size, sizeof full);
    /* the macro passes the caller's sizeof */
    frz_train_params tp;
    frz_train_params_init(&tp);
    ck_assert_uint_eq(tp.struct_size, sizeof tp);
    /* too small to hold struct_size: nothing written */
    memset(buf, 0xA5, sizeof buf);
    frz_pretrain_params_init_size((frz_pretrain_params *)(void *)buf, 4);
    for (size_t i = 0; i < sizeof buf; i++) ck_assert_msg(buf[i] == 0xA5, "byte %zu written", i);
}
END_TEST

START_TEST(test_number_matches_string)
{
    char s[32];
    snprintf(s, sizeof s, "%u.%u.%u", frz_version_number() / 10000, frz_version_number() / 100 % 100,
             frz_version_number() % 100);
    ck_assert_str_eq(s, frz_version_string());
    ck_assert_uint_eq(frz_version_number(), ver(FRZ_VERSION_MAJOR, FRZ_VERSION_MINOR, FRZ_VERSION_PATCH));
    ck_assert_str_eq(FRZ_VERSION_STRING, frz_version_string());
}
END_TEST

START_TEST(test_own_header_is_compatible)
{
    ck_assert_int_eq(FRZ_CHECK_VERSION(), FRZ_OK);
    ck_assert_int_eq(frz_version_check(FRZ_VERSION_NUMBER), FRZ_OK);
}
END_TEST

START_TEST(test_patch_and_older_minor_are_compatible)
{
    ck_assert_int_eq(frz_version_check(ver(FRZ_VERSION_MAJOR, FRZ_VERSION_MINOR, 99)), FRZ_OK);
    ck_assert_int_eq(frz_version_check(ver(FRZ_VERSION_MAJOR, FRZ_VERSION_MINOR, 0)), FRZ_OK);
    ck_assert_int_eq(frz_version_check(ver(FRZ_VERSION_MAJOR, 0, 0)), FRZ_OK);
    if (FRZ_VERSION_MINOR > 0)
        ck_assert_int_eq(frz_version_check(ver(FRZ_VERSION_MAJOR, FRZ_VERSION_MINOR - 1, 7)), FRZ_OK);
}
END_TEST

START_TEST(test_newer_minor_header_is_refused)
{
    unsigned h = ver(FRZ_VERSION_MAJOR, FRZ_VERSION_MINOR + 1, 0);
    ck_assert_int_eq(frz_version_check(h), FRZ_ERR_UNSUPPORTED);
    char want[64];
    snprintf(want, sizeof want, "frozen.h %u.%u.0", FRZ_VERSION_MAJOR, FRZ_VERSION_MINOR + 1);
    ASSERT_MSG_HAS(want);
    ASSERT_MSG_HAS("libfrozen " FRZ_VERSION_STRING " loaded");
    ASSERT_MSG_HAS("newer than the library");
    /* a far newer minor of the same major too */
    ck_assert_int_eq(frz_version_check(ver(FRZ_VERSION_MAJOR, 99, 0)), FRZ_ERR_UNSUPPORTED);
}
END_TEST

START_TEST(test_other_major_is_refused)
{
    ck_assert_int_eq(frz_version_check(ver(FRZ_VERSION_MAJOR + 1, 0, 0)), FRZ_ERR_UNSUPPORTED);
    ASSERT_MSG_HAS("another major version");
    /* an older major header, even with a small minor */
    ck_assert_int_eq(frz_version_check(ver(FRZ_VERSION_MAJOR + 1, FRZ_VERSION_MINOR, FRZ_VERSION_PATCH)),
                     FRZ_ERR_UNSUPPORTED);
    if (FRZ_VERSION_MAJOR > 0)
        ck_assert_int_eq(frz_version_check(ver(FRZ_VERSION_MAJOR - 1, FRZ_VERSION_MINOR, 0)), FRZ_ERR_UNSUPPORTED);
    ck_assert_int_eq(frz_version_check(4000000000u), FRZ_ERR_UNSUPPORTED);
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("version");
    TCase *tc = tcase_create("check");
    tcase_add_test(tc, test_number_matches_string);
    tcase_add_test(tc, test_own_header_is_compatible);
    tcase_add_test(tc, test_patch_and_older_minor_are_compatible);
    tcase_add_test(tc, test_newer_minor_header_is_refused);
    tcase_add_test(tc, test_other_major_is_refused);
    tcase_add_test(tc, test_init_never_writes_past_an_older_struct);
    suite_add_tcase(s, tc);
    return s;
}

FRZ_TEST_MAIN(make_suite)
