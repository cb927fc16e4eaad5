/* generate.c -- frz_generate: continue a sequence token by token until max_tokens, the caller's capacity,
 * <|endoftext|>, a stop string, the on_token callback, or the context limit.
 *
 * Stop strings are matched on the decoded bytes of the generated tokens only. A token is streamed to on_token
 * once no stop string can still begin inside it, so a streaming host never sees text that is later taken back;
 * tokens from the one in which a stop string begins onward are dropped from the output and from the sequence.
 * The sequence always ends as the prompt followed by exactly the tokens returned. */
#include "lm/sample.h"
#include "lm/session.h"
#include "tokenizer/tokenizer.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

void (frz_generate_params_init)(frz_generate_params *p)
{
    if (!p) return;
    memset(p, 0, sizeof *p);
    p->struct_size = sizeof *p;
    p->max_tokens = 64;
    p->temperature = 0.0f;
    p->top_k = 0;
    p->top_p = 1.0f;
    p->stop_at_eot = 1;
}

FRZ_DEFINE_INIT_SIZE(frz_generate_params_init, frz_generate_params)

/* The caller's parameters, reading only the members its struct_size covers; the rest keep their defaults. */
static frz_status read_params(const frz_generate_params *user, frz_generate_params *p)
{
    frz_generate_params_init(p);
    frz_status st = frz_params_merge(p, sizeof *p, user, "frz_generate", "frz_generate_params_init");
    if (st != FRZ_OK) return st;
    if (p->n_stop && !p->stop) return frz_fail(FRZ_ERR_INVALID_ARG, "frz_generate: n_stop is %zu but stop is NULL",
                                               p->n_stop);
    for (size_t i = 0; i < p->n_stop; i++)
        if (!p->stop[i]) return frz_fail(FRZ_ERR_INVALID_ARG, "frz_generate: stop[%zu] is NULL", i);
    return FRZ_OK;
}

/* The decoded text of the generated tokens, and where each token's bytes begin. */
typedef struct stop_text {
    char *buf;
    size_t len, cap;
    size_t *starts;  /* starts[i]: offset of token i */
    size_t n_tokens, starts_cap;
} stop_text;

static frz_status text_push(stop_text *t, const frz_tokenizer *tok, int32_t id)
{
    size_t n;
    const char *bytes = frz_tokenizer_token_bytes(tok, id, &n);
    if (!bytes) n = 0;
    if (t->len + n > t->cap) {
        size_t cap = FRZ_MAX(t->len + n, 2 * t->cap + 64);
        char *b = frz_realloc(t->buf, cap, "generated text");
        if (!b) return FRZ_ERR_NOMEM;
        t->buf = b;
        t->cap = cap;
    }
    if (t->n_tokens == t->starts_cap) {
        size_t cap = 2 * t->starts_cap + 64;
        size_t *s = frz_realloc(t->starts, cap * sizeof *s, "generated token offsets");
        if (!s) return FRZ_ERR_NOMEM;
        t->starts = s;
        t->starts_cap = cap;
    }
    t->starts[t->n_tokens++] = t->len;
    if (n) memcpy(t->buf + t->len, bytes, n);
    t->len += n;
    return FRZ_OK;
}

/* The first occurrence of needle (m >= 1 bytes) in hay (n bytes), or NULL (memmem is not in C11/POSIX). */
static const char *find_bytes(const char *hay, size_t n, const char *needle, size_t m)
{
    for (size_t i = 0; i + m <= n; i++)
        if (hay[i] == needle[0] && memcmp(hay + i, needle, m) == 0) return hay + i;
    return NULL;
}

/* The token whose bytes hold offset p. */
static size_t token_at(const stop_text *t, size_t p)
{
    size_t i = t->n_tokens - 1;
    while (i > 0 && t->starts[i] > p) i--;
    return i;
}

/* After a token was pushed (its bytes from `from`): the index of the token in which the earliest stop string
 * begins, or -1. Earlier pushes found none, so a match must end in the new bytes. */
static long find_stop(const stop_text *t, const frz_generate_params *p, size_t from)
{
    size_t best = (size_t)-1;
    for (size_t j = 0; j < p->n_stop; j++) {
        size_t m = strlen(p->stop[j]);
        if (m == 0 || m > t->len) continue;
        size_t lo = from >= m - 1 ? from - (m - 1) : 0;
        const char *hit = find_bytes(t->buf + lo, t->len - lo, p->stop[j], m);
        if (hit && (size_t)(hit - t->buf) < best) best = (size_t)(hit - t->buf);
    }
    return best == (size_t)-1 ? -1 : (long)token_at(t, best);
}

/* How many leading tokens are safe to stream: those before the token where the text's tail could still grow
 * into a stop string. */
static size_t safe_tokens(const stop_text *t, const frz_generate_params *p, size_t window)
{
    for (size_t q = t->len >= window ? t->len - window + 1 : 0; q < t->len; q++) { /* earliest start first */
        size_t tail = t->len - q;
        for (size_t j = 0; j < p->n_stop; j++) {
            size_t m = strlen(p->stop[j]);
            if (tail < m && memcmp(t->buf + q, p->stop[j], tail) == 0) return token_at(t, q);
        }
    }
    return t->n_tokens;
}

/* The longest stop string, bounding how far back safe_tokens must look. */
static size_t max_stop_len(const frz_generate_params *p)
{
    size_t m = 0;
    for (size_t j = 0; j < p->n_stop; j++) m = FRZ_MAX(m, strlen(p->stop[j]));
    return m;
}

frz_status frz_generate(frz_session *s, int32_t seq, const frz_generate_params *params, int32_t *out, size_t cap,
                        size_t *n_out)
{
    if (!s) return frz_fail(FRZ_ERR_INVALID_ARG, "frz_generate: session is NULL");
    if (!n_out) return frz_fail(FRZ_ERR_INVALID_ARG, "frz_generate: n_out is NULL");
    *n_out = 0;
    if (!out && cap) return frz_fail(FRZ_ERR_INVALID_ARG, "frz_generate: out is NULL");
    frz_generate_params p;
    frz_status st = frz_check_seq(s, seq, "frz_generate");
    if (st || (st = read_params(params, &p))) return st;
    const frz_lm *lm = s->lm;
    const size_t stop_window = max_stop_len(&p);
    if (stop_window && !lm->tok)
        return frz_fail(FRZ_ERR_INVALID_ARG, "frz_generate: stop strings need a model with a tokenizer");
    if (s->seqs[seq].len == 0)
        return frz_fail(FRZ_ERR_INVALID_ARG, "frz_generate: sequence %d is empty: feed a prompt with "
                        "frz_session_eval first", (int)seq);
    if (p.temperature > 0.0f && !s->sample_buf) {
        s->sample_buf = frz_calloc((size_t)lm->cfg.n_vocab, sizeof(frz_cand), "sampling candidates");
        if (!s->sample_buf) return FRZ_ERR_NOMEM;
    }

    const size_t limit = p.max_tokens > 0 ? FRZ_MIN(cap, (size_t)p.max_tokens) : 0;
    const size_t start_len = s->seqs[seq].len;
    stop_text text = {0};
    size_t n = 0, streamed = 0;
    int done = 0;
    while (!done && n < limit) {
        if (s->abort_fn && s->abort_fn(s->abort_data)) {
            st = frz_fail(FRZ_ERR_CANCELLED, "generation cancelled by the abort callback after %zu tokens", n);
            break;
        }
        if (s->seqs[seq].len >= (size_t)lm->cfg.n_ctx) break; /* the context is full: stop, not an error */
        const float *logits;
        if ((st = frz_session_last_logits(s, seq, &logits))) break;
        int32_t tok = frz_sample(logits, lm->cfg.n_vocab, p.temperature, p.top_k, p.top_p, &s->rng, s->sample_buf);
        if (p.stop_at_eot && lm->eot >= 0 && tok == lm->eot) break;

        /* append it; the last token's logits are not needed unless a later call continues */
        frz_input in = {seq, 1, &tok, NULL};
        if ((st = frz_session_eval(s, &in, 1, n + 1 == limit ? FRZ_LOGITS_NONE : FRZ_LOGITS_LAST))) break;
        out[n++] = tok;

        size_t safe = n;
        if (stop_window) {
            size_t from = text.len;
            if ((st = text_push(&text, lm->tok, tok))) break;
            long cut = find_stop(&text, &p, from);
            if (cut >= 0) {
                n = (size_t)cut;
                done = 1;
            }
            safe = done ? n : safe_tokens(&text, &p, stop_window);
        }
        for (; streamed < safe; streamed++)
            if (p.on_token && p.on_token(out[streamed], p.on_token_data)) {
                n = ++streamed; /* the host asked to stop after this token */
                done = 1;
                break;
            }
    }
    if (st == FRZ_OK) {
        /* the end: tokens held back for a stop string that never came go out now */
        for (; streamed < n; streamed++)
            if (p.on_token && p.on_token(out[streamed], p.on_token_data)) {
                n = ++streamed;
                break;
            }
    } else {
        n = streamed; /* failed or cancelled: keep only what the host has seen */
    }
    if (s->seqs[seq].len > start_len + n) s->seqs[seq].len = start_len + n;
    free(text.buf);
    free(text.starts);
    *n_out = n;
    return st;
}
