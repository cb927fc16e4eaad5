/* check_version.c -- frz_version_check / FRZ_CHECK_VERSION: the header/library compatibility rule of
 * docs/abi.md (same major; library minor >= header minor; patch free), checked with version numbers built
 * here from that rule, around the library's own version. */
#include "util/testutil.h"

#include <stdio.h>

static unsigned ver(unsigned major, unsigned minor, unsigned patch) { return major * 10000 + minor * 100 + patch; }

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
    suite_add_tcase(s, tc);
    return s;
}

FRZ_TEST_MAIN(make_suite)
