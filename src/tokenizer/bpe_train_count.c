/* bpe_train_count.c -- corpus -> distinct words with counts, for BPE training.
 *
 * The words are the tokenizer's own pre-tokens (pretok.c), so training sees text exactly as frz_tokenize will
 * split it, invalid UTF-8 included. With tab_segments, TAB, LF and CR end a segment: each segment is
 * pre-tokenized on its own, as the prompt builder tokenizes each text segment on its own, and the separators
 * themselves are not text.
 *
 * Threads: the text is cut into one chunk per thread at points where cutting cannot change the pre-tokens,
 * each thread counts its chunk into a table of its own, and the tables are added up in chunk order (so the
 * result does not depend on the thread count). With tab_segments any line end is such a point. In a whole
 * text it is a line start "X\nY" with X printable ASCII other than space and Y an ASCII letter: the pre-token
 * of X cannot hold the newline, the newline is a pre-token of its own whether or not the text ends after it,
 * and the pattern has no look-behind, so matching starts afresh at Y either way. */
#include "tokenizer/bpe_train.h"

#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Below this many bytes per thread, more threads do not pay. */
#define CHUNK_MIN (1u << 20)
/* The abort callback is polled about this often (bytes). */
#define POLL_BYTES (1u << 20)

static int is_separator(unsigned char c) { return c == '\t' || c == '\n' || c == '\r'; }

static int is_ascii_letter(unsigned char c) { return (c | 0x20) >= 'a' && (c | 0x20) <= 'z'; }

/* The first safe cut at or after pos (len if none). */
static size_t next_cut(const unsigned char *t, size_t len, size_t pos, int tab_segments)
{
    for (size_t p = pos < 2 ? 2 : pos; p < len; p++) {
        if (t[p - 1] != '\n') continue;
        if (tab_segments) return p;
        if (t[p - 2] > 0x20 && t[p - 2] < 0x7F && is_ascii_letter(t[p])) return p;
    }
    return len;
}

typedef struct chunk {
    size_t start, end;
    frz_strtab words;
    int64_t n_words;
    frz_status st;
    char error[512];
} chunk;

typedef struct count_ctx {
    const pcre2_code *re;
    pcre2_general_context *gctx;
    const char *path;
    const unsigned char *text;
    int tab_segments;
    frz_abort_fn abort;
    void *abort_data;
    int stop;               /* set when the abort callback asked or a chunk failed (atomic) */
} count_ctx;

/* Pre-tokens of text[start..end) (absolute offsets, for messages) into c->words. */
static frz_status count_text(count_ctx *x, frz_pretok_iter *it, size_t start, size_t end, chunk *c)
{
    frz_pretok_set_text(it, (const char *)x->text + start, end - start);
    for (;;) {
        size_t s, e;
        int more;
        frz_status st = frz_pretok_next(it, &s, &e, &more);
        if (st != FRZ_OK || !more) return st;
        if (e - s > UINT32_MAX)
            return frz_fail(FRZ_ERR_FORMAT, "%s: byte %zu: a word of %zu bytes (at most %u)", x->path, start + s,
                            e - s, (unsigned)UINT32_MAX);
        const unsigned char *w = x->text + start + s;
        st = frz_strtab_add(&c->words, w, e - s, frz_strtab_hash(w, e - s), 1, NULL);
        if (st != FRZ_OK) return st;
        c->n_words++;
    }
}

static frz_status count_chunk(count_ctx *x, chunk *c, int poller)
{
    frz_pretok_iter it;
    frz_status st = frz_pretok_begin(&it, x->re, x->gctx);
    size_t pos = c->start, polled = c->start;
    while (st == FRZ_OK && pos < c->end) {
        if (pos - polled >= POLL_BYTES) {
            polled = pos;
            int stop;
            if (poller && x->abort && x->abort(x->abort_data)) {
                #pragma omp atomic write
                x->stop = 1;
            }
            #pragma omp atomic read
            stop = x->stop;
            if (stop) {
                st = frz_fail(FRZ_ERR_CANCELLED, "%s: tokenizer training cancelled while counting, at byte %zu",
                              x->path, pos);
                break;
            }
        }
        size_t end = c->end;
        if (x->tab_segments) {
            end = pos;
            while (end < c->end && !is_separator(x->text[end])) end++;
        } else {
            end = FRZ_MIN(c->end, pos + POLL_BYTES);  /* pieces end at safe cuts, so the pre-tokens are the same */
            end = next_cut(x->text, c->end, end, 0);
        }
        if (end > pos) st = count_text(x, &it, pos, end, c);
        pos = x->tab_segments ? end + 1 : end;
    }
    frz_pretok_end(&it);
    return st;
}

frz_status frz_bpe_count_words(const char *path, const char *text, size_t len, int tab_segments, int n_threads,
                               frz_abort_fn abort, void *abort_data, frz_strtab *words, int64_t *n_words)
{
    *n_words = 0;
    count_ctx x = { .path = path, .text = (const unsigned char *)text, .tab_segments = tab_segments,
                    .abort = abort, .abort_data = abort_data };
    frz_status st = frz_pretok_compile((pcre2_code **)&x.re, &x.gctx);
    if (st != FRZ_OK) return st;
    frz_pretok_jit((pcre2_code *)x.re);

    int n_chunks = (int)FRZ_MAX(1, FRZ_MIN((size_t)FRZ_MAX(n_threads, 1), len / CHUNK_MIN));
    chunk *c = frz_calloc((size_t)n_chunks, sizeof *c, "corpus chunks");
    if (!c) {
        frz_pretok_free((pcre2_code *)x.re, x.gctx);
        return FRZ_ERR_NOMEM;
    }
    size_t from = 0;
    for (int i = 0; i < n_chunks; i++) {
        c[i].start = from;
        from = i + 1 == n_chunks ? len : next_cut(x.text, len, FRZ_MAX(from, len / (size_t)n_chunks * (size_t)(i + 1)),
                                                  tab_segments);
        c[i].end = from;
    }
    /* The first chunk counts straight into the result; the others into their own tables, added in order. */
    c[0].words = *words;
    #pragma omp parallel for num_threads(n_chunks) schedule(static, 1) if (n_chunks > 1)
    for (int i = 0; i < n_chunks; i++) {
        c[i].st = count_chunk(&x, &c[i], i == 0);
        if (c[i].st != FRZ_OK) {
            snprintf(c[i].error, sizeof c[i].error, "%s", frz_last_error());
            #pragma omp atomic write
            x.stop = 1;
        }
    }
    *words = c[0].words;
    /* A chunk's own failure, rather than the cancellation it caused in the others. */
    int failed = -1;
    for (int i = 0; i < n_chunks; i++)
        if (c[i].st != FRZ_OK && (failed < 0 || (c[failed].st == FRZ_ERR_CANCELLED && c[i].st != FRZ_ERR_CANCELLED)))
            failed = i;
    if (failed >= 0) st = frz_fail(c[failed].st, "%s", c[failed].error);
    for (int i = 0; i < n_chunks; i++) {
        if (i > 0) {
            for (int32_t k = 0; st == FRZ_OK && k < c[i].words.n; k++)
                st = frz_strtab_add(words, c[i].words.buf + c[i].words.off[k], c[i].words.len[k],
                                    c[i].words.hash[k], c[i].words.count[k], NULL);
            frz_strtab_free(&c[i].words);
        }
        *n_words += c[i].n_words;
    }
    free(c);
    frz_pretok_free((pcre2_code *)x.re, x.gctx);
    return st;
}
