/* testutil.c -- fixture paths and temporary files for the Check programs. */
#include "util/testutil.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

static char *rotating_slot(void)
{
    static char bufs[8][4096];
    static int next;
    return bufs[next++ % 8];
}

const char *fixture_path(const char *rel)
{
    char *p = rotating_slot();
    snprintf(p, 4096, "%s/%s", FRZ_FIXTURES, rel);
    return p;
}

const char *test_build_dir(void)
{
    const char *b = getenv("FRZ_TEST_BUILD");
    return b && b[0] ? b : "build";
}

const char *path_in(const char *dir, const char *name)
{
    static char bufs[16][4200];
    static int next;
    char *p = bufs[next++ % 16];
    snprintf(p, sizeof bufs[0], "%s/%s", dir, name);
    return p;
}

char *read_file_or_fail(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    ck_assert_msg(f != NULL, "cannot open %s", path);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    ck_assert(buf != NULL);
    ck_assert_int_eq(fread(buf, 1, (size_t)n, f), (size_t)n);
    buf[n] = 0;
    fclose(f);
    if (len) *len = (size_t)n;
    return buf;
}

static char temp_root[256];

static void remove_temp_root(void)
{
    if (temp_root[0]) {
        char cmd[300];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", temp_root);
        if (system(cmd) != 0) { /* best effort */ }
    }
}

const char *make_temp_dir(void)
{
    static int counter;
    if (!temp_root[0]) {
        snprintf(temp_root, sizeof temp_root, "/tmp/frz_test_XXXXXX");
        ck_assert(mkdtemp(temp_root) != NULL);
        atexit(remove_temp_root);
    }
    char *p = rotating_slot();
    snprintf(p, 4096, "%s/d%d", temp_root, counter++);
    char cmd[4200];
    snprintf(cmd, sizeof cmd, "mkdir -p '%s'", p);
    ck_assert(system(cmd) == 0);
    return p;
}

const char *write_temp_file(const char *name, const void *data, size_t len)
{
    const char *dir = make_temp_dir();
    char *p = rotating_slot();
    snprintf(p, 4096, "%s/%s", dir, name);
    FILE *f = fopen(p, "wb");
    ck_assert_msg(f != NULL, "cannot create %s", p);
    ck_assert_int_eq(fwrite(data, 1, len, f), len);
    fclose(f);
    return p;
}

void copy_file_or_fail(const char *from, const char *to)
{
    size_t n;
    char *buf = read_file_or_fail(from, &n);
    FILE *f = fopen(to, "wb");
    ck_assert_msg(f != NULL, "cannot create %s", to);
    ck_assert_int_eq(fwrite(buf, 1, n, f), n);
    fclose(f);
    free(buf);
}
