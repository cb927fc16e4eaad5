/* files.c -- paths, folders, checked writes, a growable string and the pre-token count. */
#include "world.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

frz_status w_path(const w_world *w, const char *rel, char *buf, size_t cap)
{
    int n = snprintf(buf, cap, "%s/%s", w->cfg->out, rel);
    if (n < 0 || (size_t)n >= cap) return frz_fail(FRZ_ERR_INVALID_ARG, "%s/%s: path too long", w->cfg->out, rel);
    return FRZ_OK;
}

frz_status w_mkdirs(const char *path)
{
    char tmp[4096];
    if (snprintf(tmp, sizeof tmp, "%s", path) >= (int)sizeof tmp)
        return frz_fail(FRZ_ERR_INVALID_ARG, "%s: path too long", path);
    for (char *p = tmp + 1;; p++) {
        if (*p != '/' && *p != '\0') continue;
        char c = *p;
        *p = '\0';
        if (mkdir(tmp, 0777) != 0 && errno != EEXIST)
            return frz_fail(FRZ_ERR_IO, "%s: cannot create the folder: %s", tmp, strerror(errno));
        *p = c;
        if (c == '\0') break;
    }
    struct stat sb;
    if (stat(path, &sb) != 0 || !S_ISDIR(sb.st_mode))
        return frz_fail(FRZ_ERR_IO, "%s: not a folder", path);
    return FRZ_OK;
}

frz_status w_open(const char *path, FILE **f)
{
    *f = fopen(path, "wb");
    if (!*f) return frz_fail(FRZ_ERR_IO, "%s: cannot create: %s", path, strerror(errno));
    return FRZ_OK;
}

frz_status w_close(const char *path, FILE *f)
{
    int bad = ferror(f) || fflush(f) != 0;
    int e = errno;
    bad |= fclose(f) != 0;
    if (bad) return frz_fail(FRZ_ERR_IO, "%s: write failed: %s", path, strerror(e ? e : errno));
    return FRZ_OK;
}

static frz_status grow(w_buf *b, size_t more)
{
    if (b->n + more + 1 <= b->cap) return FRZ_OK;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->n + more + 1) cap *= 2;
    char *s = frz_realloc(b->s, cap, "text buffer");
    if (!s) return FRZ_ERR_NOMEM;
    b->s = s;
    b->cap = cap;
    return FRZ_OK;
}

frz_status w_buf_add(w_buf *b, const char *text)
{
    size_t n = strlen(text);
    frz_status st = grow(b, n);
    if (st) return st;
    memcpy(b->s + b->n, text, n + 1);
    b->n += n;
    return FRZ_OK;
}

frz_status w_buf_addf(w_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0) return frz_fail(FRZ_ERR_INVALID_ARG, "bad format '%s'", fmt);
    frz_status st = grow(b, (size_t)n);
    if (st) return st;
    va_start(ap, fmt);
    vsnprintf(b->s + b->n, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->n += (size_t)n;
    return FRZ_OK;
}

void w_buf_free(w_buf *b)
{
    free(b->s);
    b->s = NULL;
    b->n = b->cap = 0;
}

/* GPT-2's pattern, for ASCII: 's|'t|..., ?letters, ?digits, ?other symbols, whitespace runs. A single space
 * joins the piece after it; TABs and other whitespace are pieces of their own (they separate segments in the
 * corpus and are not tokens there, so they are not counted). */
size_t w_pretokens(const char *text)
{
    size_t n = 0;
    const unsigned char *p = (const unsigned char *)text;
    while (*p) {
        if (*p == '\t' || *p == '\n' || *p == '\r') {
            p++;
            continue;
        }
        if (*p == ' ' && p[1] != '\0' && p[1] != ' ' && p[1] != '\t') p++;
        if (isalpha(*p)) while (isalpha(*p)) p++;
        else if (isdigit(*p)) while (isdigit(*p)) p++;
        else if (*p == ' ') while (*p == ' ') p++;
        else while (*p && !isalnum(*p) && !isspace(*p)) p++;
        n++;
    }
    return n;
}
