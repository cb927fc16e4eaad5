/* data_tsv.c -- "image path TAB caption" lines (see data.h). */
#include "train/data.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int is_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

/* Checks and adds one line (without its LF; a trailing CR is removed here). */
static frz_status parse_line(frz_dataset *ds, const char *dir, const char *file, size_t lineno, const char *line,
                             size_t len)
{
    if (len > 0 && line[len - 1] == '\r') len--;
    size_t start = 0, end = len;
    while (start < end && is_space(line[start])) start++;
    if (start == end) return FRZ_OK; /* blank line */
    if (memchr(line, '\0', len)) return frz_fail(FRZ_ERR_FORMAT, "%s:%zu: the line holds a NUL byte", file, lineno);
    const char *tab = memchr(line, '\t', len);
    if (!tab)
        return frz_fail(FRZ_ERR_FORMAT, "%s:%zu: no TAB between the image path and the caption", file, lineno);
    const char *cap = tab + 1;
    size_t cap_len = len - (size_t)(cap - line);
    if (memchr(cap, '\t', cap_len))
        return frz_fail(FRZ_ERR_FORMAT, "%s:%zu: more than two TAB-separated fields (expected: image path TAB caption)",
                        file, lineno);
    size_t path_len = (size_t)(tab - line);
    if (path_len == 0) return frz_fail(FRZ_ERR_FORMAT, "%s:%zu: the image path is empty", file, lineno);
    while (cap_len > 0 && is_space(cap[0])) cap++, cap_len--;
    while (cap_len > 0 && is_space(cap[cap_len - 1])) cap_len--;
    if (cap_len == 0) return frz_fail(FRZ_ERR_FORMAT, "%s:%zu: the caption is empty", file, lineno);
    return frz_dataset_add(ds, dir, line, path_len, cap, cap_len);
}

frz_status frz_dataset_load_tsv(const char *path, frz_dataset **out)
{
    if (!out) return frz_fail(FRZ_ERR_INVALID_ARG, "TSV dataset: out is NULL");
    *out = NULL;
    if (!path) return frz_fail(FRZ_ERR_INVALID_ARG, "TSV dataset: path is NULL");
    FILE *f = fopen(path, "rb");
    if (!f) return frz_fail(FRZ_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    char *dir = frz_dir_of(path);
    frz_dataset *ds = NULL;
    frz_status st = dir ? frz_dataset_new(&ds) : FRZ_ERR_NOMEM;
    size_t cap = 4096, len = 0, lineno = 0;
    char *line = st == FRZ_OK ? frz_malloc(cap, "TSV line") : NULL;
    if (st == FRZ_OK && !line) st = FRZ_ERR_NOMEM;
    /* Lines are read whole, whatever their length (getline is POSIX, but fault injection needs our allocator). */
    while (st == FRZ_OK) {
        int c = getc_unlocked(f); /* the FILE is ours alone */
        if (c == EOF || c == '\n') {
            if (c == EOF && len == 0) break;
            lineno++;
            st = parse_line(ds, dir, path, lineno, line, len);
            len = 0;
            if (c == EOF) break;
            continue;
        }
        if (len + 1 >= cap) {
            char *bigger = frz_realloc(line, cap * 2, "TSV line");
            if (!bigger) {
                st = FRZ_ERR_NOMEM;
                break;
            }
            line = bigger;
            cap *= 2;
        }
        line[len++] = (char)c;
    }
    if (st == FRZ_OK && ferror(f)) st = frz_fail(FRZ_ERR_IO, "%s: read error: %s", path, strerror(errno));
    if (st == FRZ_OK && ds->n == 0) st = frz_fail(FRZ_ERR_FORMAT, "%s: no examples (expected lines of image path TAB caption)", path);
    fclose(f);
    free(line);
    free(dir);
    if (st != FRZ_OK) {
        frz_dataset_free(ds);
        return st;
    }
    *out = ds;
    return FRZ_OK;
}
