/* prompt.c -- the prompt builder: creation, options, text and embedding segments, reading back. Images are
 * prompt_image.c; running a prompt on a session is prompt_run.c. */
#include "prompt/prompt.h"

#include <stdlib.h>
#include <string.h>

#define MAX_THREADS 4096

frz_status frz_prompt_create(const frz_lm *lm, const frz_vision *v, const frz_projector *p, frz_prompt **out)
{
    if (!out) return frz_fail(FRZ_ERR_INVALID_ARG, "frz_prompt_create: out is NULL");
    *out = NULL;
    if (!lm) return frz_fail(FRZ_ERR_INVALID_ARG, "frz_prompt_create: model is NULL");
    if (!v != !p)
        return frz_fail(FRZ_ERR_INVALID_ARG, "frz_prompt_create: give both the encoder and the projector, or "
                        "neither");
    frz_prompt *pr = frz_calloc(1, sizeof *pr, "a prompt");
    if (!pr) return FRZ_ERR_NOMEM;
    pr->lm = lm;
    pr->vision = v;
    pr->proj = p;
    pr->n_threads = 1;
    pr->D = (size_t)frz_lm_get(lm, FRZ_LM_N_EMBD);
    pr->n_ctx = (size_t)frz_lm_get(lm, FRZ_LM_N_CTX);
    *out = pr;
    return FRZ_OK;
}

void frz_prompt_free(frz_prompt *pr)
{
    if (!pr) return;
    free(pr->tokens);
    free(pr->embd);
    free(pr->segs);
    free(pr->black);
    free(pr);
}

void frz_prompt_clear(frz_prompt *pr)
{
    if (!pr) return;
    pr->len = 0;
    pr->n_segs = 0;
}

frz_status frz_prompt_set_int(frz_prompt *pr, frz_prompt_opt opt, int64_t value)
{
    if (!pr) return frz_fail(FRZ_ERR_INVALID_ARG, "frz_prompt_set_int: prompt is NULL");
    switch (opt) {
    case FRZ_PROMPT_OPT_THREADS:
        if (value < 1 || value > MAX_THREADS)
            return frz_fail(FRZ_ERR_INVALID_ARG, "FRZ_PROMPT_OPT_THREADS: %lld is not in 1 .. %d",
                            (long long)value, MAX_THREADS);
        pr->n_threads = (int32_t)value;
        return FRZ_OK;
    case FRZ_PROMPT_OPT_BLIND:
        if (value != 0 && value != 1)
            return frz_fail(FRZ_ERR_INVALID_ARG, "FRZ_PROMPT_OPT_BLIND: %lld is not 0 or 1", (long long)value);
        pr->blind = (int)value;
        return FRZ_OK;
    }
    return frz_fail(FRZ_ERR_INVALID_ARG, "frz_prompt_set_int: unknown option %d", (int)opt);
}

/* ---- appending ----------------------------------------------------------------------------------------- */

frz_status frz_prompt_fail_context(const frz_prompt *pr, const char *fn, size_t adding, const char *what)
{
    return frz_fail(FRZ_ERR_CONTEXT_FULL, "%s: the prompt holds %zu positions and %s adds %zu: %zu, which is %zu "
                    "more than the context length %zu", fn, pr->len, what, adding, pr->len + adding,
                    pr->len + adding - pr->n_ctx, pr->n_ctx);
}

/* Room for `total` positions (tokens, and embedding rows once there are any; with_embd makes them exist). */
static frz_status reserve(frz_prompt *pr, size_t total, int with_embd)
{
    if (total > pr->cap) {
        size_t cap = FRZ_MAX(total, pr->cap + pr->cap / 2);
        cap = FRZ_MAX(cap, 64);
        cap = FRZ_MIN(cap, pr->n_ctx); /* total <= n_ctx was checked */
        int32_t *t = frz_realloc(pr->tokens, cap * sizeof *t, "prompt tokens");
        if (!t) return FRZ_ERR_NOMEM;
        pr->tokens = t;
        if (pr->embd) {
            float *e = frz_realloc(pr->embd, cap * pr->D * sizeof *e, "prompt embeddings");
            if (!e) return FRZ_ERR_NOMEM; /* tokens grew, which changes nothing visible */
            pr->embd = e;
        }
        pr->cap = cap;
    }
    if (with_embd && !pr->embd) {
        pr->embd = frz_calloc(pr->cap, pr->D * sizeof(float), "prompt embeddings");
        if (!pr->embd) return FRZ_ERR_NOMEM;
    }
    return FRZ_OK;
}

frz_status frz_prompt_append(frz_prompt *pr, frz_prompt_seg_kind kind, const int32_t *tokens, const float *embd,
                             size_t n, const char *fn)
{
    if (n == 0) return FRZ_OK;
    static const char *const what[] = {"the text", "the image", "the embeddings"};
    if (n > pr->n_ctx - pr->len) return frz_prompt_fail_context(pr, fn, n, what[kind]);
    if (pr->n_segs == pr->cap_segs) {
        size_t cap = pr->cap_segs ? 2 * pr->cap_segs : 16;
        frz_prompt_seg *s = frz_realloc(pr->segs, cap * sizeof *s, "prompt segments");
        if (!s) return FRZ_ERR_NOMEM;
        pr->segs = s;
        pr->cap_segs = cap;
    }
    frz_status st = reserve(pr, pr->len + n, embd != NULL);
    if (st) return st;
    for (size_t i = 0; i < n; i++) pr->tokens[pr->len + i] = tokens ? tokens[i] : FRZ_TOKEN_EMBEDDING;
    if (embd) {
        memcpy(pr->embd + pr->len * pr->D, embd, n * pr->D * sizeof *embd);
    } else if (pr->embd) {
        memset(pr->embd + pr->len * pr->D, 0, n * pr->D * sizeof *pr->embd); /* rows of token positions */
    }
    pr->segs[pr->n_segs++] = (frz_prompt_seg){kind, pr->len, n};
    pr->len += n;
    return FRZ_OK;
}

frz_status frz_prompt_add_text(frz_prompt *pr, const char *text, size_t len, unsigned flags)
{
    if (!pr) return frz_fail(FRZ_ERR_INVALID_ARG, "frz_prompt_add_text: prompt is NULL");
    if (!text) return frz_fail(FRZ_ERR_INVALID_ARG, "frz_prompt_add_text: text is NULL");
    if (len == (size_t)-1) len = strlen(text);
    if (len == 0) return FRZ_OK;
    /* At most the room left plus one: a text that does not fit says how long it is through *needed. */
    const size_t room = pr->n_ctx - pr->len, cap = room + 1;
    int32_t *ids = frz_malloc(cap * sizeof *ids, "prompt text tokens");
    if (!ids) return FRZ_ERR_NOMEM;
    size_t n = 0;
    frz_status st = frz_tokenize(pr->lm, text, len, flags, ids, cap, &n);
    if (st == FRZ_ERR_BUFFER_TOO_SMALL || (st == FRZ_OK && n > room))
        st = frz_prompt_fail_context(pr, "frz_prompt_add_text", n, "the text");
    else if (st == FRZ_OK)
        st = frz_prompt_append(pr, FRZ_PROMPT_SEG_TEXT, ids, NULL, n, "frz_prompt_add_text");
    free(ids);
    return st;
}

frz_status frz_prompt_add_embeddings(frz_prompt *pr, const float *embd, size_t n)
{
    if (!pr) return frz_fail(FRZ_ERR_INVALID_ARG, "frz_prompt_add_embeddings: prompt is NULL");
    if (n == 0) return FRZ_OK;
    if (!embd) return frz_fail(FRZ_ERR_INVALID_ARG, "frz_prompt_add_embeddings: embd is NULL");
    return frz_prompt_append(pr, FRZ_PROMPT_SEG_EMBEDDING, NULL, embd, n, "frz_prompt_add_embeddings");
}

/* ---- reading back -------------------------------------------------------------------------------------- */

size_t frz_prompt_len(const frz_prompt *pr)
{
    return pr ? pr->len : 0;
}

frz_status frz_prompt_tokens(const frz_prompt *pr, int32_t *ids, size_t cap, size_t *n)
{
    if (!pr || !n) return frz_fail(FRZ_ERR_INVALID_ARG, "frz_prompt_tokens: prompt or n is NULL");
    *n = pr->len;
    if (cap < pr->len)
        return frz_fail(FRZ_ERR_BUFFER_TOO_SMALL, "frz_prompt_tokens: %zu ids needed, room for %zu", pr->len, cap);
    if (pr->len) {
        if (!ids) return frz_fail(FRZ_ERR_INVALID_ARG, "frz_prompt_tokens: ids is NULL");
        memcpy(ids, pr->tokens, pr->len * sizeof *ids);
    }
    return FRZ_OK;
}

const float *frz_prompt_embedding(const frz_prompt *pr, size_t pos)
{
    if (!pr || pos >= pr->len || pr->tokens[pos] != FRZ_TOKEN_EMBEDDING) return NULL;
    return pr->embd + pos * pr->D;
}

size_t frz_prompt_n_segments(const frz_prompt *pr)
{
    return pr ? pr->n_segs : 0;
}

frz_status frz_prompt_segment(const frz_prompt *pr, size_t i, frz_prompt_seg_kind *kind, size_t *start, size_t *n)
{
    if (!pr) return frz_fail(FRZ_ERR_INVALID_ARG, "frz_prompt_segment: prompt is NULL");
    if (i >= pr->n_segs)
        return frz_fail(FRZ_ERR_INVALID_ARG, "frz_prompt_segment: segment %zu is out of range (the prompt has %zu)",
                        i, pr->n_segs);
    if (kind) *kind = pr->segs[i].kind;
    if (start) *start = pr->segs[i].start;
    if (n) *n = pr->segs[i].n;
    return FRZ_OK;
}
