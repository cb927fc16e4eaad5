/* fewshot_batch.c -- running the few-shot driver's prompts: chunks, prompt caching, batches of queries that share
 * a support, greedy decoding.
 *
 * Slot 0 of the session holds the support chunks of the latest batch; chunk i is known by a key (its segments'
 * texts and image paths, and the blind setting) and by the slot length after it. A new batch keeps the longest
 * run of leading chunks whose keys match, truncates the slot there and evaluates the rest, then copies the slot
 * into one slot per query (frz_session_seq_copy). Uncached, each query's slot evaluates the whole support itself,
 * chunk by chunk. Either way every chunk is one evaluation on top of the same positions, and the queries of a
 * batch are evaluated and decoded together in the same calls: a cached run and an uncached one compute exactly
 * the same numbers.
 *
 * A batch holds consecutive examples with the same support (up to params.batch): their query chunks are one
 * frz_session_eval of several slots, and greedy decoding advances all of them one token per call, so the
 * weights are read once per step for the whole batch rather than once per query. */
#include "prompt/fewshot_runner.h"
#include "eval/text.h"
#include "prompt/prompt.h" /* the query prompts' arrays, batched into one eval */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- chunks ---------------------------------------------------------------------------------------------- */

/* A chunk's identity: blind flag, then each segment's kind and text or path. *out: free(). */
static frz_status chunk_key(const frz_eval_prompt *segs, size_t from, size_t to, int blind, char **out)
{
    frz_sbuf b = {0};
    frz_status st = frz_sbuf_puts(&b, blind ? "B" : "S");
    for (size_t i = from; i < to && st == FRZ_OK; i++) {
        const frz_eval_seg *g = &segs->segs[i];
        st = frz_sbuf_puts(&b, g->kind == FRZ_EVAL_SEG_TEXT ? "\x1eT" : "\x1eI");
        if (st == FRZ_OK) st = frz_sbuf_puts(&b, g->kind == FRZ_EVAL_SEG_TEXT ? g->text : g->image_path);
    }
    if (st == FRZ_OK) return frz_sbuf_take(&b, out);
    free(b.p);
    return st;
}

/* Segments [from, to) into pr. */
static frz_status build_chunk(fs_runner *r, frz_prompt *pr, const frz_eval_prompt *segs, size_t from, size_t to,
                              int blind)
{
    frz_prompt_clear(pr);
    frz_status st = FRZ_OK;
    for (size_t i = from; i < to && st == FRZ_OK; i++) {
        const frz_eval_seg *g = &segs->segs[i];
        if (g->kind == FRZ_EVAL_SEG_TEXT) {
            st = frz_prompt_add_text(pr, g->text, (size_t)-1, 0);
        } else {
            const memo_entry *m = NULL;
            st = fs_image_prefix(r, g->image_path, blind, &m);
            if (st == FRZ_OK) st = frz_prompt_add_embeddings(pr, m->embd, m->n);
        }
    }
    return st;
}

static frz_status push_chunk(fs_runner *r, char *key, size_t end)
{
    if (r->n_keys == r->cap_keys) {
        size_t cap = r->cap_keys ? 2 * r->cap_keys : 8;
        char **k = frz_realloc(r->keys, cap * sizeof *k, "chunk keys");
        if (k) r->keys = k;
        size_t *e = k ? frz_realloc(r->ends, cap * sizeof *e, "chunk ends") : NULL;
        if (!k || !e) {
            free(key);
            return FRZ_ERR_NOMEM;
        }
        r->ends = e;
        r->cap_keys = cap;
    }
    r->keys[r->n_keys] = key;
    r->ends[r->n_keys++] = end;
    return FRZ_OK;
}

/* Support chunk c of example q evaluated onto slot `slot` (one call). */
static frz_status eval_chunk(fs_runner *r, const pending *q, size_t c, int32_t slot)
{
    frz_status st = build_chunk(r, r->chunk, &q->segs, c ? q->ends[c - 1] : 0, q->ends[c], q->blind);
    if (st == FRZ_OK && frz_prompt_len(r->chunk) > 0) st = frz_prompt_eval(r->s, slot, r->chunk, FRZ_LOGITS_NONE);
    r->prog.chunks_evaluated++;
    r->prog.support_positions += frz_prompt_len(r->chunk);
    return st;
}

/* The support of q into slot 0, reusing the chunks it holds. */
static frz_status eval_support_cached(fs_runner *r, pending *q)
{
    const size_t n_support = q->n_chunks - 1;
    size_t keep = 0;
    while (keep < n_support && keep < r->n_keys && strcmp(q->keys[keep], r->keys[keep]) == 0) keep++;
    fs_forget_chunks(r, keep);
    frz_status st = frz_session_seq_truncate(r->s, 0, keep ? r->ends[keep - 1] : 0);
    r->prog.chunks_reused += keep;
    for (size_t c = keep; c < n_support && st == FRZ_OK; c++) {
        st = eval_chunk(r, q, c, 0);
        if (st == FRZ_OK) {
            st = push_chunk(r, q->keys[c], (size_t)frz_session_seq_len(r->s, 0));
            q->keys[c] = NULL; /* taken */
        }
    }
    if (st) fs_forget_chunks(r, 0); /* the slot's state is unknown after a failure */
    return st;
}

/* ---- queue ----------------------------------------------------------------------------------------------- */

static int same_support(const pending *a, const pending *b)
{
    if (a->n_chunks != b->n_chunks) return 0;
    for (size_t c = 0; c + 1 < a->n_chunks; c++)
        if (!a->keys[c] || !b->keys[c] || strcmp(a->keys[c], b->keys[c]) != 0) return 0;
    return 1;
}

frz_status fs_runner_submit(fs_runner *r, frz_eval_prompt *segs, const size_t *chunk_end, size_t n_chunks,
                            int blind, const char *what, size_t tag)
{
    if (n_chunks < 1 || chunk_end[n_chunks - 1] != segs->n)
        return frz_fail(FRZ_ERR_INVALID_ARG, "%s: the chunks do not cover the prompt", what);
    pending q = {*segs, NULL, n_chunks, NULL, blind, "", tag};
    memset(segs, 0, sizeof *segs); /* taken over */
    snprintf(q.what, sizeof q.what, "%s", what);
    q.ends = frz_malloc(n_chunks * sizeof *q.ends, "chunk ends");
    q.keys = frz_calloc(n_chunks, sizeof *q.keys, "chunk keys");
    frz_status st = q.ends && q.keys ? FRZ_OK : FRZ_ERR_NOMEM;
    if (st == FRZ_OK) memcpy(q.ends, chunk_end, n_chunks * sizeof *q.ends);
    for (size_t c = 0; st == FRZ_OK && c + 1 < n_chunks; c++)
        st = chunk_key(&q.segs, c ? chunk_end[c - 1] : 0, chunk_end[c], blind, &q.keys[c]);
    if (st == FRZ_OK && r->n_queue > 0 &&
        (r->n_queue == (size_t)r->p.batch || !same_support(&r->queue[0], &q)))
        st = fs_runner_flush(r);
    if (st == FRZ_OK) {
        r->queue[r->n_queue++] = q;
        return FRZ_OK;
    }
    frz_eval_prompt_clear(&q.segs);
    for (size_t c = 0; q.keys && c + 1 < n_chunks; c++) free(q.keys[c]);
    free(q.keys);
    free(q.ends);
    return st;
}

/* Whether a token's text holds a newline (the answer ends before it). */
static int has_newline(const frz_lm *lm, int32_t tok)
{
    char buf[512];
    size_t n = 0;
    if (frz_detokenize(lm, &tok, 1, buf, sizeof buf, &n) == FRZ_OK) return memchr(buf, '\n', n) != NULL;
    char *big = n ? malloc(n + 1) : NULL; /* a very long token */
    int nl = big && frz_detokenize(lm, &tok, 1, big, n + 1, &n) == FRZ_OK && memchr(big, '\n', n) != NULL;
    free(big);
    return nl;
}

static int32_t argmax(const float *x, size_t n)
{
    size_t best = 0;
    for (size_t i = 1; i < n; i++)
        if (x[i] > x[best]) best = i;
    return (int32_t)best;
}

/* Greedy decoding of the k queries in lockstep: after each eval, every query still going takes its argmax;
 * <|endoftext|> or a token holding a newline ends it (not kept), max_tokens or a full context too. */
static frz_status decode(fs_runner *r, size_t k)
{
    const size_t n_ctx = (size_t)frz_lm_get(r->p.lm, FRZ_LM_N_CTX), max = (size_t)r->p.max_tokens;
    for (size_t i = 0; i < k; i++) {
        r->n_out[i] = 0;
        r->row_of[i] = i; /* the query eval's rows: one per query, in order */
    }
    for (;;) {
        size_t n_in = 0;
        for (size_t i = 0; i < k; i++) {
            if (r->row_of[i] == (size_t)-1) continue;
            const int32_t tok = argmax(frz_session_logits(r->s, r->row_of[i]), r->V);
            r->row_of[i] = (size_t)-1;
            if ((r->eot >= 0 && tok == r->eot) || has_newline(r->p.lm, tok)) continue;
            r->out[i * max + r->n_out[i]++] = tok;
            if (r->n_out[i] == max || (size_t)frz_session_seq_len(r->s, (int32_t)(i + 1)) >= n_ctx) continue;
            r->next[i] = tok;
            r->inputs[n_in] = (frz_input){(int32_t)(i + 1), 1, &r->next[i], NULL};
            r->row_of[i] = n_in++;
        }
        if (n_in == 0) return FRZ_OK;
        r->prog.decode_evals++;
        r->prog.decode_rows += n_in;
        frz_status st = frz_session_eval(r->s, r->inputs, n_in, FRZ_LOGITS_LAST);
        if (st) return st;
    }
}

static frz_status detokenize(const fs_runner *r, const int32_t *ids, size_t n, char **out)
{
    size_t cap = 16 * n + 1, len = 0;
    char *text = frz_malloc(cap, "generated text");
    if (!text) return FRZ_ERR_NOMEM;
    text[0] = '\0';
    frz_status st = n ? frz_detokenize(r->p.lm, ids, n, text, cap, &len) : FRZ_OK;
    if (st == FRZ_ERR_BUFFER_TOO_SMALL) {
        char *bigger = frz_realloc(text, len + 1, "generated text");
        if (bigger) text = bigger;
        st = bigger ? frz_detokenize(r->p.lm, ids, n, text, len + 1, &len) : FRZ_ERR_NOMEM;
    }
    if (st) {
        free(text);
        return st;
    }
    *out = text;
    return FRZ_OK;
}

/* The queue's supports and queries into slots 1..k. */
static frz_status prefill(fs_runner *r, size_t k)
{
    frz_status st = FRZ_OK;
    const size_t n_support = r->queue[0].n_chunks - 1;
    if (r->p.cache) {
        st = eval_support_cached(r, &r->queue[0]);
        for (size_t i = 0; i < k && st == FRZ_OK; i++) st = frz_session_seq_copy(r->s, 0, (int32_t)(i + 1));
        if (st) return frz_fail_prefix(st, "%s: ", r->queue[0].what);
    } else {
        for (size_t i = 0; i < k && st == FRZ_OK; i++) {
            st = frz_session_seq_truncate(r->s, (int32_t)(i + 1), 0);
            for (size_t c = 0; c < n_support && st == FRZ_OK; c++) st = eval_chunk(r, &r->queue[i], c, (int32_t)(i + 1));
            if (st) return frz_fail_prefix(st, "%s: ", r->queue[i].what);
        }
    }
    /* the queries, one eval */
    const size_t n_ctx = (size_t)frz_lm_get(r->p.lm, FRZ_LM_N_CTX);
    for (size_t i = 0; i < k; i++) {
        const pending *q = &r->queue[i];
        frz_prompt *pr = r->query[i];
        st = build_chunk(r, pr, &q->segs, q->n_chunks > 1 ? q->ends[q->n_chunks - 2] : 0, q->segs.n, q->blind);
        const size_t held = (size_t)frz_session_seq_len(r->s, (int32_t)(i + 1));
        if (st == FRZ_OK && pr->len == 0) st = frz_fail(FRZ_ERR_INVALID_ARG, "the query is empty");
        if (st == FRZ_OK && pr->len > n_ctx - held)
            st = frz_fail(FRZ_ERR_CONTEXT_FULL, "the prompt needs %zu positions (support %zu, query %zu), %zu more "
                          "than the context length %zu", held + pr->len, held, pr->len, held + pr->len - n_ctx, n_ctx);
        if (st) return frz_fail_prefix(st, "%s: ", q->what);
        r->inputs[i] = (frz_input){(int32_t)(i + 1), pr->len, pr->tokens, pr->embd};
        r->prog.query_positions += pr->len;
    }
    r->prog.query_evals++;
    return frz_session_eval(r->s, r->inputs, k, FRZ_LOGITS_LAST);
}

frz_status fs_runner_flush(fs_runner *r)
{
    const size_t k = r->n_queue;
    if (k == 0) return FRZ_OK;
    frz_status st = prefill(r, k);
    if (st == FRZ_OK) st = decode(r, k);
    if (st != FRZ_OK && st != FRZ_ERR_NOMEM && strncmp(frz_last_error(), r->queue[0].what, strlen(r->queue[0].what)))
        st = frz_fail_prefix(st, "%s: ", r->queue[0].what);
    for (size_t i = 0; i < k && st == FRZ_OK; i++) {
        char *gen = NULL;
        st = detokenize(r, r->out + i * (size_t)r->p.max_tokens, r->n_out[i], &gen);
        if (st == FRZ_OK) st = r->finish(r, r->queue[i].tag, &r->queue[i].segs, gen, r->finish_ctx);
        free(gen);
    }
    fs_drop_queue(r);
    return st;
}
