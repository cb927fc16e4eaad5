/* session.c -- sessions: creation, options, sequence slots, and the logits they hand out. Evaluation is
 * eval.c; generation and scoring are generate.c and score.c. */
#include "lm/session.h"

#include <stdlib.h>
#include <string.h>

#define MAX_THREADS 1024
#define MAX_SEQS 4096

static void free_seqs(frz_seq *seqs, int n)
{
    for (int i = 0; seqs && i < n; i++) free(seqs[i].cache);
    free(seqs);
}

/* New empty slots; the old ones are freed only once the new ones exist. */
static frz_status set_max_seqs(frz_session *s, int n)
{
    frz_seq *seqs = frz_calloc((size_t)n, sizeof *seqs, "sequence slots");
    uint32_t *seen = frz_calloc((size_t)n, sizeof *seen, "sequence slot stamps");
    size_t *first_row = frz_calloc((size_t)n, sizeof *first_row, "batch row offsets");
    if (!seqs || !seen || !first_row) {
        free(seqs);
        free(seen);
        free(first_row);
        return FRZ_ERR_NOMEM;
    }
    free_seqs(s->seqs, s->max_seqs);
    free(s->seen);
    free(s->first_row);
    s->seqs = seqs;
    s->seen = seen;
    s->first_row = first_row;
    s->stamp = 0;
    s->max_seqs = n;
    s->n_logits = 0;
    s->logits_gen++;
    return FRZ_OK;
}

frz_status frz_session_create(const frz_lm *lm, frz_session **out)
{
    if (!out) return frz_fail(FRZ_ERR_INVALID_ARG, "frz_session_create: out is NULL");
    *out = NULL;
    if (!lm) return frz_fail(FRZ_ERR_INVALID_ARG, "frz_session_create: model is NULL");
    frz_session *s = frz_calloc(1, sizeof *s, "a session");
    if (!s) return FRZ_ERR_NOMEM;
    s->lm = lm;
    s->n_threads = 1;
    s->seed = 0;
    frz_rng_seed(&s->rng, 0);
    frz_status st = set_max_seqs(s, 1);
    if (st) {
        frz_session_free(s);
        return st;
    }
    *out = s;
    return FRZ_OK;
}

void frz_session_free(frz_session *s)
{
    if (!s) return;
    free_seqs(s->seqs, s->max_seqs);
    free(s->seen);
    free(s->first_row);
    free(s->act_mem);
    free(s->logits);
    free(s->sample_buf);
    free(s);
}

frz_status frz_session_set_int(frz_session *s, frz_session_opt opt, int64_t value)
{
    if (!s) return frz_fail(FRZ_ERR_INVALID_ARG, "frz_session_set_int: session is NULL");
    switch (opt) {
    case FRZ_OPT_THREADS:
        if (value < 1 || value > MAX_THREADS)
            return frz_fail(FRZ_ERR_INVALID_ARG, "FRZ_OPT_THREADS: %lld is not in 1 .. %d", (long long)value,
                            MAX_THREADS);
        s->n_threads = (int)value;
        return FRZ_OK;
    case FRZ_OPT_SEED:
        s->seed = (uint64_t)value;
        frz_rng_seed(&s->rng, s->seed);
        return FRZ_OK;
    case FRZ_OPT_MAX_SEQS:
        if (value < 1 || value > MAX_SEQS)
            return frz_fail(FRZ_ERR_INVALID_ARG, "FRZ_OPT_MAX_SEQS: %lld is not in 1 .. %d", (long long)value,
                            MAX_SEQS);
        return value == s->max_seqs ? FRZ_OK : set_max_seqs(s, (int)value);
    }
    return frz_fail(FRZ_ERR_INVALID_ARG, "frz_session_set_int: unknown option %d", (int)opt);
}

void frz_session_set_abort(frz_session *s, frz_abort_fn fn, void *user_data)
{
    if (!s) return;
    s->abort_fn = fn;
    s->abort_data = user_data;
}

frz_status frz_check_seq(const frz_session *s, int32_t seq, const char *fn)
{
    if (seq < 0 || seq >= s->max_seqs)
        return frz_fail(FRZ_ERR_INVALID_ARG, "%s: sequence slot %d is out of range (FRZ_OPT_MAX_SEQS is %d)", fn,
                        (int)seq, s->max_seqs);
    return FRZ_OK;
}

int64_t frz_session_seq_len(const frz_session *s, int32_t seq)
{
    if (!s || seq < 0 || seq >= s->max_seqs) return -1;
    return (int64_t)s->seqs[seq].len;
}

frz_status frz_session_seq_truncate(frz_session *s, int32_t seq, size_t n)
{
    if (!s) return frz_fail(FRZ_ERR_INVALID_ARG, "frz_session_seq_truncate: session is NULL");
    if (seq != -1) {
        frz_status st = frz_check_seq(s, seq, "frz_session_seq_truncate");
        if (st) return st;
    }
    for (int i = 0; i < s->max_seqs; i++)
        if ((seq == -1 || i == seq) && n < s->seqs[i].len) s->seqs[i].len = n;
    return FRZ_OK;
}

frz_status frz_session_seq_copy(frz_session *s, int32_t src, int32_t dst)
{
    if (!s) return frz_fail(FRZ_ERR_INVALID_ARG, "frz_session_seq_copy: session is NULL");
    frz_status st = frz_check_seq(s, src, "frz_session_seq_copy (src)");
    if (st == FRZ_OK) st = frz_check_seq(s, dst, "frz_session_seq_copy (dst)");
    if (st || src == dst) return st;
    return frz_seq_copy(&s->seqs[dst], &s->seqs[src], &s->lm->cfg);
}

const float *frz_session_logits(const frz_session *s, size_t row)
{
    if (!s || row >= s->n_logits) return NULL;
    return s->logits + row * (size_t)s->lm->cfg.n_vocab;
}

frz_status frz_session_reserve(frz_session *s, size_t N, size_t M)
{
    const frz_gpt2_config *c = &s->lm->cfg;
    const size_t C = (size_t)c->n_embd, F = (size_t)c->n_inner, V = (size_t)c->n_vocab;
    if (N > s->act_rows || s->n_threads > s->act_threads) {
        size_t rows = FRZ_MAX(N, s->act_rows);
        int nth = FRZ_MAX(s->n_threads, s->act_threads);
        size_t per_row = 7 * C + F, floats;
        const size_t scratch = frz_attention_scratch((size_t)c->n_ctx, nth);
        if (!frz_mul_size(rows, per_row, &floats) || floats > (size_t)-1 / sizeof(float) - scratch)
            return frz_fail(FRZ_ERR_NOMEM, "activations for %zu rows are too large", rows);
        float *mem = frz_malloc((floats + scratch) * sizeof(float), "activations");
        if (!mem) return FRZ_ERR_NOMEM;
        free(s->act_mem);
        s->act_mem = mem;
        s->act_rows = rows;
        s->act_threads = nth;
        frz_acts *a = &s->acts;
        a->x = mem;
        a->ln = a->x + rows * C;
        a->qkv = a->ln + rows * C;
        a->att = a->qkv + rows * 3 * C;
        a->proj = a->att + rows * C;
        a->fc = a->proj + rows * C;
        a->scores = a->fc + rows * F;
    }
    if (M > s->logits_cap) {
        size_t floats;
        if (!frz_mul_size(M, V, &floats) || floats > (size_t)-1 / sizeof(float))
            return frz_fail(FRZ_ERR_NOMEM, "logits for %zu rows are too large", M);
        float *p = frz_malloc(floats * sizeof(float), "logits");
        if (!p) return FRZ_ERR_NOMEM;
        free(s->logits);
        s->logits = p;
        s->logits_cap = M;
        s->n_logits = 0;
        s->logits_gen++;
    }
    return FRZ_OK;
}

frz_status frz_session_last_logits(frz_session *s, int32_t seq, const float **out)
{
    frz_seq *q = &s->seqs[seq];
    const frz_gpt2_config *c = &s->lm->cfg;
    *out = NULL;
    if (q->len == 0) return frz_fail(FRZ_ERR_INVALID_ARG, "sequence %d is empty: feed it with frz_session_eval "
                                     "first", (int)seq);
    if (q->logits_gen == s->logits_gen && q->logits_len == q->len && q->logits_row < s->n_logits) {
        *out = s->logits + q->logits_row * (size_t)c->n_vocab;
        return FRZ_OK;
    }
    frz_status st = frz_session_reserve(s, 0, 1);
    if (st) return st;
    const float *h = q->cache + (q->len - 1) * frz_cache_stride(c) + frz_cache_h(c);
    frz_gpt2_lm_head(s->lm, s->logits, h, 1, s->n_threads);
    s->n_logits = 1;
    s->logits_gen++;
    q->logits_gen = s->logits_gen;
    q->logits_row = 0;
    q->logits_len = q->len;
    *out = s->logits;
    return FRZ_OK;
}
