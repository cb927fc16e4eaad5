/* text.h -- text helpers of the evaluation harness: a growable byte buffer, UTF-8 decoding and repair, and the
 * pieces of Python 3's str semantics that the official VQA evaluation script depends on (str.isspace, str.split,
 * str.strip, str.lower). Internal to src/eval. */
#ifndef FRZ_EVAL_TEXT_H
#define FRZ_EVAL_TEXT_H

#include "core/core.h"

#include <stdint.h>

/* A growable NUL-terminated byte string. Zero-initialise; free(b.p) when done. Appends fail with FRZ_ERR_NOMEM
 * (through frz_realloc) and leave the buffer as it was. */
typedef struct frz_sbuf {
    char *p;
    size_t len, cap;
} frz_sbuf;

frz_status frz_sbuf_append(frz_sbuf *b, const char *s, size_t n);
frz_status frz_sbuf_puts(frz_sbuf *b, const char *s);
frz_status frz_sbuf_putc(frz_sbuf *b, char c);
/* Hands the string to the caller (never NULL on success: an empty buffer gives ""), resetting the buffer. */
frz_status frz_sbuf_take(frz_sbuf *b, char **out);

/* Decodes one UTF-8 character at s (n > 0 bytes available): its length (1..4) and *cp, or 0 when the bytes there
 * are not a valid, shortest-form encoding of a scalar value (surrogates and values above U+10FFFF are invalid). */
size_t frz_utf8_decode(const char *s, size_t n, uint32_t *cp);

/* A copy of s[0..n) with every maximal invalid UTF-8 subsequence replaced by U+FFFD (as Python's
 * bytes.decode("utf-8", "replace") does), so the result can go into JSON. */
frz_status frz_utf8_repair(const char *s, size_t n, char **out);

/* Byte length of the Python whitespace character (str.isspace) at s, or 0 when there is none. Python's set:
 * U+0009..U+000D, U+001C..U+001F, U+0020, U+0085, U+00A0, U+1680, U+2000..U+200A, U+2028, U+2029, U+202F,
 * U+205F, U+3000. */
size_t frz_py_space_len(const char *s, size_t n);

/* Python's s.strip() with no argument: the sub-range of s without leading and trailing Python whitespace. */
void frz_py_strip(const char *s, size_t n, size_t *start, size_t *len);

/* Python's s.lower() on the scripts an answer plausibly uses: exact for U+0000..U+017F (ASCII, Latin-1,
 * Latin Extended-A, including U+0130 -> "i" U+0307), basic Greek capitals (U+0386..U+03AB; capital sigma always
 * becomes U+03C3, Python's final-sigma rule is not applied) and Cyrillic U+0400..U+042F. Other characters and
 * invalid bytes are copied unchanged. */
frz_status frz_py_lower(const char *s, size_t n, char **out, size_t *out_len);

#endif
