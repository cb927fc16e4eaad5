/* eval.c -- frz_session_eval: checks a batch, makes room for it, runs the forward pass, computes the logits
 * asked for, and only then advances the sequences, so a failed or cancelled call leaves them unchanged. */
#include "lm/session.h"

#include <string.h>

/* Every check happens before anything changes. *N receives the total number of new positions. */
static frz_status check_inputs(frz_session *s, const frz_input *in, size_t n_in, frz_logits_mode mode,
                               size_t *N)
{
    const frz_gpt2_config *c = &s->lm->cfg;
    if (mode != FRZ_LOGITS_LAST && mode != FRZ_LOGITS_ALL && mode != FRZ_LOGITS_NONE)
        return frz_fail(FRZ_ERR_INVALID_ARG, "frz_session_eval: unknown logits mode %d", (int)mode);
    if (n_in > 0 && !in) return frz_fail(FRZ_ERR_INVALID_ARG, "frz_session_eval: inputs is NULL");
    if (++s->stamp == 0) { /* the stamps wrapped: start afresh */
        memset(s->seen, 0, (size_t)s->max_seqs * sizeof *s->seen);
        s->stamp = 1;
    }
    size_t total = 0;
    for (size_t i = 0; i < n_in; i++) {
        const frz_input *x = &in[i];
        if (x->seq < 0 || x->seq >= s->max_seqs)
            return frz_fail(FRZ_ERR_INVALID_ARG, "frz_session_eval: input %zu: sequence slot %d is out of range "
                            "(FRZ_OPT_MAX_SEQS is %d)", i, (int)x->seq, s->max_seqs);
        if (s->seen[x->seq] == s->stamp)
            return frz_fail(FRZ_ERR_INVALID_ARG, "frz_session_eval: input %zu: sequence slot %d appears twice in "
                            "one call", i, (int)x->seq);
        s->seen[x->seq] = s->stamp;
        if (x->n == 0) return frz_fail(FRZ_ERR_INVALID_ARG, "frz_session_eval: input %zu has no positions", i);
        if (!x->tokens && !x->embd)
            return frz_fail(FRZ_ERR_INVALID_ARG, "frz_session_eval: input %zu has neither tokens nor embd", i);
        for (size_t t = 0; x->tokens && t < x->n; t++) {
            int32_t id = x->tokens[t];
            if (id == FRZ_TOKEN_EMBEDDING && !x->embd)
                return frz_fail(FRZ_ERR_INVALID_ARG, "frz_session_eval: input %zu position %zu asks for an "
                                "embedding (FRZ_TOKEN_EMBEDDING) but embd is NULL", i, t);
            if (id != FRZ_TOKEN_EMBEDDING && (id < 0 || id >= c->n_vocab))
                return frz_fail(FRZ_ERR_INVALID_ARG, "frz_session_eval: input %zu position %zu: token id %d is out "
                                "of range (vocab %d)", i, t, (int)id, c->n_vocab);
        }
        const size_t len = s->seqs[x->seq].len;
        if (x->n > (size_t)c->n_ctx - len)
            return frz_fail(FRZ_ERR_CONTEXT_FULL, "frz_session_eval: input %zu: sequence %d holds %zu positions; "
                            "%zu more would exceed the context length %d by %zu", i, (int)x->seq, len, x->n,
                            c->n_ctx, len + x->n - (size_t)c->n_ctx);
        total += x->n; /* each n <= n_ctx and slots <= 4096: no overflow */
    }
    *N = total;
    return FRZ_OK;
}

frz_status frz_session_eval(frz_session *s, const frz_input *inputs, size_t n_inputs, frz_logits_mode mode)
{
    if (!s) return frz_fail(FRZ_ERR_INVALID_ARG, "frz_session_eval: session is NULL");
    const frz_gpt2_config *c = &s->lm->cfg;
    const size_t C = (size_t)c->n_embd;
    s->n_logits = 0; /* the previous call's logits end here, whatever happens */
    s->logits_gen++;
    size_t N = 0;
    frz_status st = check_inputs(s, inputs, n_inputs, mode, &N);
    if (st || N == 0) return st;

    /* room first: activations, logits and every cache, so nothing fails half way */
    size_t M = mode == FRZ_LOGITS_ALL ? N : mode == FRZ_LOGITS_LAST ? n_inputs : 0;
    if ((st = frz_session_reserve(s, N, M))) return st;
    for (size_t i = 0; i < n_inputs; i++) {
        frz_seq *q = &s->seqs[inputs[i].seq];
        if ((st = frz_seq_reserve(q, c, q->len + inputs[i].n))) return st;
    }

    if ((st = frz_gpt2_forward(s, inputs, n_inputs, N))) return st;

    /* logits: every new row (in place in acts.ln), or each input's last row gathered first */
    if (mode == FRZ_LOGITS_ALL) {
        frz_gpt2_lm_head(s->lm, s->logits, s->acts.ln, N, s->n_threads);
    } else if (mode == FRZ_LOGITS_LAST) {
        for (size_t i = 0, row = 0; i < n_inputs; i++) {
            row += inputs[i].n;
            memcpy(s->acts.att + i * C, s->acts.ln + (row - 1) * C, C * sizeof(float));
        }
        frz_gpt2_lm_head(s->lm, s->logits, s->acts.att, n_inputs, s->n_threads);
    }
    s->n_logits = M;

    /* commit: the sequences grow, and remember where their last logits are */
    for (size_t i = 0, row = 0; i < n_inputs; i++) {
        frz_seq *q = &s->seqs[inputs[i].seq];
        row += inputs[i].n;
        q->len += inputs[i].n;
        q->logits_gen = s->logits_gen;
        q->logits_len = mode == FRZ_LOGITS_NONE ? 0 : q->len;
        q->logits_row = mode == FRZ_LOGITS_ALL ? row - 1 : i;
    }
    return FRZ_OK;
}
