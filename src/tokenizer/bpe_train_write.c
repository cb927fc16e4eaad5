/* bpe_train_write.c -- a trained BPE model as GPT-2's vocab.json and merges.txt.
 * Tokens are written in the byte-level alphabet (frz_byte_alphabet): each byte is one character. vocab.json
 * follows the layout of GPT-2's encoder.json, as Python's json.dumps writes it: {"key": id, ...} on one line,
 * non-ASCII characters escaped as \u0120 (lower-case hex), no final newline. Each file is written to a temporary name
 * in the same folder and renamed over the old one, so a reader sees the old file or the new one, never half. */
#include "tokenizer/bpe_train.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct outbuf {
    char *p;
    size_t n, cap;
} outbuf;

static frz_status put(outbuf *b, const char *s, size_t n)
{
    if (b->n + n > b->cap) {
        size_t cap = b->cap ? b->cap : 1 << 16;
        while (cap < b->n + n) cap *= 2;
        char *p = frz_realloc(b->p, cap, "tokenizer file buffer");
        if (!p) return FRZ_ERR_NOMEM;
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->n, s, n);
    b->n += n;
    return FRZ_OK;
}

static frz_status put_str(outbuf *b, const char *s) { return put(b, s, strlen(s)); }

/* A token in the alphabet: UTF-8 (merges.txt) or a JSON string body (vocab.json). */
static frz_status put_token(outbuf *b, const frz_strtab *t, int32_t id, const uint32_t cp[256], int json)
{
    const unsigned char *s = (const unsigned char *)t->buf + t->off[id];
    for (uint32_t i = 0; i < t->len[id]; i++) {
        uint32_t c = cp[s[i]];
        char tmp[8];
        size_t n;
        if (json && (c == '"' || c == '\\')) {
            tmp[0] = '\\';
            tmp[1] = (char)c;
            n = 2;
        } else if (c < 0x80) {  /* the alphabet has no control characters */
            tmp[0] = (char)c;
            n = 1;
        } else if (json) {
            n = (size_t)snprintf(tmp, sizeof tmp, "\\u%04x", (unsigned)c);
        } else {  /* the alphabet stops at U+0143: two bytes */
            tmp[0] = (char)(0xC0 | c >> 6);
            tmp[1] = (char)(0x80 | (c & 0x3F));
            n = 2;
        }
        frz_status st = put(b, tmp, n);
        if (st != FRZ_OK) return st;
    }
    return FRZ_OK;
}

static frz_status write_atomic(const char *dir, const char *name, const outbuf *b)
{
    size_t n = strlen(dir) + strlen(name) + 8;
    char *path = frz_malloc(2 * n, "tokenizer file path");
    if (!path) return FRZ_ERR_NOMEM;
    char *tmp = path + n;
    snprintf(path, n, "%s/%s", dir, name);
    snprintf(tmp, n, "%s/%s.tmp", dir, name);
    frz_status st = FRZ_OK;
    FILE *f = fopen(tmp, "wb");
    if (!f) {
        st = frz_fail(FRZ_ERR_IO, "%s: cannot create: %s", tmp, strerror(errno));
    } else {
        int bad = b->n && fwrite(b->p, 1, b->n, f) != b->n;
        if (fclose(f) != 0 || bad) st = frz_fail(FRZ_ERR_IO, "%s: write error: %s", tmp, strerror(errno));
        if (st == FRZ_OK && rename(tmp, path) != 0)
            st = frz_fail(FRZ_ERR_IO, "%s: cannot rename %s to it: %s", path, tmp, strerror(errno));
        if (st != FRZ_OK) unlink(tmp);
    }
    free(path);
    return st;
}

frz_status frz_bpe_write(const frz_bpe_model *m, const char *dir)
{
    uint32_t cp[256];
    frz_byte_alphabet(cp);
    const frz_strtab *t = &m->tokens;
    outbuf b = { 0 };
    frz_status st = put_str(&b, "#version: 0.2\n");
    for (int32_t i = 0; st == FRZ_OK && i < m->n_merges; i++) {
        st = put_token(&b, t, m->merges[2 * i], cp, 0);
        if (st == FRZ_OK) st = put(&b, " ", 1);
        if (st == FRZ_OK) st = put_token(&b, t, m->merges[2 * i + 1], cp, 0);
        if (st == FRZ_OK) st = put(&b, "\n", 1);
    }
    if (st == FRZ_OK) st = write_atomic(dir, "merges.txt", &b);
    b.n = 0;
    if (st == FRZ_OK) st = put(&b, "{", 1);
    char num[32];
    for (int32_t id = 0; st == FRZ_OK && id < t->n; id++) {
        st = put(&b, "\"", 1);
        if (st == FRZ_OK) st = put_token(&b, t, id, cp, 1);
        if (st == FRZ_OK) st = put(&b, num, (size_t)snprintf(num, sizeof num, "\": %d, ", (int)id));
    }
    if (st == FRZ_OK) st = put(&b, num, (size_t)snprintf(num, sizeof num, "\"<|endoftext|>\": %d}", (int)t->n));
    if (st == FRZ_OK) st = write_atomic(dir, "vocab.json", &b);
    free(b.p);
    return st;
}
