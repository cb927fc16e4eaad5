/* text.c -- byte buffer, UTF-8 and the Python str semantics the VQA metric needs (see text.h). */
#include "eval/text.h"

#include <stdlib.h>
#include <string.h>

frz_status frz_sbuf_append(frz_sbuf *b, const char *s, size_t n)
{
    if (n > SIZE_MAX - b->len - 1) return frz_fail(FRZ_ERR_NOMEM, "text buffer: size overflow");
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 64;
        while (cap < b->len + n + 1) cap = cap > SIZE_MAX / 2 ? b->len + n + 1 : cap * 2;
        char *p = frz_realloc(b->p, cap, "text buffer");
        if (!p) return FRZ_ERR_NOMEM;
        b->p = p;
        b->cap = cap;
    }
    if (n) memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
    return FRZ_OK;
}

frz_status frz_sbuf_puts(frz_sbuf *b, const char *s) { return frz_sbuf_append(b, s, strlen(s)); }
frz_status frz_sbuf_putc(frz_sbuf *b, char c) { return frz_sbuf_append(b, &c, 1); }

frz_status frz_sbuf_take(frz_sbuf *b, char **out)
{
    if (!b->p) {
        frz_status st = frz_sbuf_append(b, "", 0);
        if (st != FRZ_OK) return st;
    }
    *out = b->p;
    b->p = NULL;
    b->len = b->cap = 0;
    return FRZ_OK;
}

/* The valid range of the second byte after lead byte c (Unicode Table 3-7), or lo > hi if c cannot lead. */
static void second_byte_range(unsigned char c, unsigned char *lo, unsigned char *hi, size_t *len)
{
    *lo = 0x80;
    *hi = 0xBF;
    if (c >= 0xC2 && c <= 0xDF) *len = 2;
    else if (c >= 0xE0 && c <= 0xEF) {
        *len = 3;
        if (c == 0xE0) *lo = 0xA0;      /* no overlong forms */
        else if (c == 0xED) *hi = 0x9F; /* no surrogates */
    } else if (c >= 0xF0 && c <= 0xF4) {
        *len = 4;
        if (c == 0xF0) *lo = 0x90;
        else if (c == 0xF4) *hi = 0x8F; /* nothing above U+10FFFF */
    } else {
        *len = 0;
        *lo = 1;
        *hi = 0;
    }
}

/* Length of the longest valid prefix of a sequence starting at s (the "maximal subpart"), and whether it is a
 * complete character. */
static size_t utf8_prefix(const unsigned char *s, size_t n, int *complete)
{
    *complete = 0;
    if (s[0] < 0x80) {
        *complete = 1;
        return 1;
    }
    unsigned char lo, hi;
    size_t need;
    second_byte_range(s[0], &lo, &hi, &need);
    if (need == 0) return 1;
    size_t i = 1;
    if (i < n && s[i] >= lo && s[i] <= hi) {
        i++;
        while (i < need && i < n && s[i] >= 0x80 && s[i] <= 0xBF) i++;
    }
    *complete = i == need;
    return i;
}

size_t frz_utf8_decode(const char *s, size_t n, uint32_t *cp)
{
    const unsigned char *u = (const unsigned char *)s;
    int complete;
    size_t len = utf8_prefix(u, n, &complete);
    if (!complete) return 0;
    switch (len) {
    case 1: *cp = u[0]; break;
    case 2: *cp = ((uint32_t)(u[0] & 0x1F) << 6) | (u[1] & 0x3F); break;
    case 3: *cp = ((uint32_t)(u[0] & 0x0F) << 12) | ((uint32_t)(u[1] & 0x3F) << 6) | (u[2] & 0x3F); break;
    default:
        *cp = ((uint32_t)(u[0] & 0x07) << 18) | ((uint32_t)(u[1] & 0x3F) << 12) | ((uint32_t)(u[2] & 0x3F) << 6) |
              (u[3] & 0x3F);
    }
    return len;
}

frz_status frz_utf8_repair(const char *s, size_t n, char **out)
{
    frz_sbuf b = {0};
    frz_status st = FRZ_OK;
    size_t i = 0;
    while (i < n && st == FRZ_OK) {
        int complete;
        size_t len = utf8_prefix((const unsigned char *)s + i, n - i, &complete);
        st = complete ? frz_sbuf_append(&b, s + i, len) : frz_sbuf_append(&b, "\xEF\xBF\xBD", 3);
        i += len;
    }
    if (st == FRZ_OK) st = frz_sbuf_take(&b, out);
    if (st != FRZ_OK) free(b.p);
    return st;
}

static int py_isspace_cp(uint32_t c)
{
    return (c >= 0x09 && c <= 0x0D) || (c >= 0x1C && c <= 0x20) || c == 0x85 || c == 0xA0 || c == 0x1680 ||
           (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F || c == 0x205F ||
           c == 0x3000;
}

size_t frz_py_space_len(const char *s, size_t n)
{
    if (n == 0) return 0;
    uint32_t c;
    size_t len = frz_utf8_decode(s, n, &c);
    return len && py_isspace_cp(c) ? len : 0;
}

void frz_py_strip(const char *s, size_t n, size_t *start, size_t *len)
{
    size_t a = 0, k;
    while (a < n && (k = frz_py_space_len(s + a, n - a)) > 0) a += k;
    /* Trailing whitespace: scan forward, remembering where the last run of spaces began. */
    size_t end = a, i = a;
    while (i < n) {
        k = frz_py_space_len(s + i, n - i);
        if (k) {
            i += k;
        } else {
            uint32_t c;
            size_t clen = frz_utf8_decode(s + i, n - i, &c);
            i += clen ? clen : 1;
            end = i;
        }
    }
    *start = a;
    *len = end - a;
}

/* Python's lower() of one code point in the supported ranges; returns the number of code points written. */
static int lower_cp(uint32_t c, uint32_t out[2])
{
    out[0] = c;
    if (c >= 'A' && c <= 'Z') out[0] = c + 32;
    else if ((c >= 0xC0 && c <= 0xDE && c != 0xD7)) out[0] = c + 32;
    else if (c == 0x130) {
        out[0] = 'i';
        out[1] = 0x307;
        return 2;
    } else if ((c >= 0x100 && c <= 0x137) || (c >= 0x14A && c <= 0x177)) out[0] = c | 1; /* pairs: even upper */
    else if ((c >= 0x139 && c <= 0x148) || (c >= 0x179 && c <= 0x17E)) out[0] = (c & 1) ? c + 1 : c; /* odd upper */
    else if (c == 0x178) out[0] = 0xFF;
    else if (c == 0x386) out[0] = 0x3AC;
    else if (c >= 0x388 && c <= 0x38A) out[0] = c + 37;
    else if (c == 0x38C) out[0] = 0x3CC;
    else if (c == 0x38E || c == 0x38F) out[0] = c + 63;
    else if (c >= 0x391 && c <= 0x3AB && c != 0x3A2) out[0] = c + 32;
    else if (c >= 0x400 && c <= 0x40F) out[0] = c + 80;
    else if (c >= 0x410 && c <= 0x42F) out[0] = c + 32;
    return 1;
}

static size_t utf8_encode(uint32_t c, char *b)
{
    if (c < 0x80) {
        b[0] = (char)c;
        return 1;
    }
    if (c < 0x800) {
        b[0] = (char)(0xC0 | (c >> 6));
        b[1] = (char)(0x80 | (c & 0x3F));
        return 2;
    }
    if (c < 0x10000) {
        b[0] = (char)(0xE0 | (c >> 12));
        b[1] = (char)(0x80 | ((c >> 6) & 0x3F));
        b[2] = (char)(0x80 | (c & 0x3F));
        return 3;
    }
    b[0] = (char)(0xF0 | (c >> 18));
    b[1] = (char)(0x80 | ((c >> 12) & 0x3F));
    b[2] = (char)(0x80 | ((c >> 6) & 0x3F));
    b[3] = (char)(0x80 | (c & 0x3F));
    return 4;
}

frz_status frz_py_lower(const char *s, size_t n, char **out, size_t *out_len)
{
    frz_sbuf b = {0};
    frz_status st = frz_sbuf_append(&b, "", 0);
    size_t i = 0;
    while (i < n && st == FRZ_OK) {
        uint32_t c, low[2];
        size_t len = frz_utf8_decode(s + i, n - i, &c);
        if (!len) { /* invalid byte: copied as is */
            st = frz_sbuf_append(&b, s + i, 1);
            i++;
            continue;
        }
        int k = lower_cp(c, low);
        char enc[8];
        size_t m = 0;
        for (int j = 0; j < k; j++) m += utf8_encode(low[j], enc + m);
        st = frz_sbuf_append(&b, enc, m);
        i += len;
    }
    if (st != FRZ_OK) {
        free(b.p);
        return st;
    }
    *out_len = b.len;
    return frz_sbuf_take(&b, out);
}
