/* testutil.h -- shared by the Check programs: a main() per program and fixture paths.
 * Tests run from the repository root (make check does so). */
#ifndef FRZ_TESTUTIL_H
#define FRZ_TESTUTIL_H

#include "frozen.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

#define FRZ_FIXTURES "tests/fixtures"

/* Path under tests/fixtures, in a static rotating buffer (valid for a few calls). */
const char *fixture_path(const char *rel);

/* The build folder whose programs a test runs: $FRZ_TEST_BUILD (make check and check-asan set it), else "build". */
const char *test_build_dir(void);

/* Fails the test unless the calling thread's last error message contains part. */
#define ASSERT_MSG_HAS(part)                                                                              \
    ck_assert_msg(strstr(frz_last_error(), (part)) != NULL, "message \"%s\" lacks \"%s\"", frz_last_error(), \
                  (part))

/* dir/name, in a static rotating buffer of its own (valid for the next 15 calls). */
const char *path_in(const char *dir, const char *name);

/* Reads a whole file into a malloc'd NUL-terminated buffer (test helper; fails the test on error). */
char *read_file_or_fail(const char *path, size_t *len);

/* Writes bytes to a file under a fresh temporary directory; returns the file's path (static rotating buffer). */
const char *write_temp_file(const char *name, const void *data, size_t len);
/* A fresh empty temporary directory (removed at exit). */
const char *make_temp_dir(void);
/* Copies a file. */
void copy_file_or_fail(const char *from, const char *to);

/* One main() per test program: builds the suite from make_suite() and runs it, exit status = failures. */
#define FRZ_TEST_MAIN(make_suite)                                                    \
    int main(void)                                                                   \
    {                                                                                \
        SRunner *sr = srunner_create(make_suite());                                  \
        srunner_run_all(sr, CK_NORMAL);                                              \
        int failed = srunner_ntests_failed(sr);                                      \
        srunner_free(sr);                                                            \
        return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;                            \
    }

#endif
