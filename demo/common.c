/* common.c -- see common.h. */
#include "common.h"

#include "cli/cli.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

char *demo_join(const char *dir, const char *name)
{
    size_t n = strlen(dir) + strlen(name) + 2;
    char *s = malloc(n);
    if (s) snprintf(s, n, "%s/%s", dir, name);
    return s;
}

int demo_mkdirs(const char *dir)
{
    char *d = strdup(dir);
    if (!d) return cli_fail("out of memory"), -1;
    int rc = 0;
    for (char *q = d + 1; rc == 0; q++) {
        if (*q != '/' && *q != '\0') continue;
        char c = *q;
        *q = '\0';
        if (mkdir(d, 0755) != 0 && errno != EEXIST) rc = (cli_fail("%s: cannot create the folder: %s", d, strerror(errno)), -1);
        *q = c;
        if (c == '\0') break;
    }
    free(d);
    return rc;
}

void demo_cat(const char *path)
{
    FILE *f = fopen(path, "rb");
    char buf[4096];
    size_t got;
    while (f && (got = fread(buf, 1, sizeof buf, f)) > 0) fwrite(buf, 1, got, stdout);
    if (f) fclose(f);
}
