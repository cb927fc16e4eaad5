/* score.c -- frz_score: log-probability of a continuation. The first token is scored from the sequence's last
 * logits; the rest by one eval of all but the last continuation token (the last one's logits predict nothing
 * we need), after which the sequence is truncated back. Log-softmax and the sum are in double precision. */
#include "lm/session.h"

frz_status frz_score(frz_session *s, int32_t seq, const int32_t *cont, size_t n_cont, float *token_logprobs,
                     double *total)
{
    if (!s) return frz_fail(FRZ_ERR_INVALID_ARG, "frz_score: session is NULL");
    if (!total) return frz_fail(FRZ_ERR_INVALID_ARG, "frz_score: total is NULL");
    *total = 0.0;
    frz_status st = frz_check_seq(s, seq, "frz_score");
    if (st) return st;
    if (n_cont == 0) return FRZ_OK;
    if (!cont) return frz_fail(FRZ_ERR_INVALID_ARG, "frz_score: cont is NULL");
    const frz_gpt2_config *c = &s->lm->cfg;
    const size_t V = (size_t)c->n_vocab, len = s->seqs[seq].len;
    if (len == 0)
        return frz_fail(FRZ_ERR_INVALID_ARG, "frz_score: sequence %d is empty: feed a prompt with "
                        "frz_session_eval first", (int)seq);
    for (size_t i = 0; i < n_cont; i++)
        if (cont[i] < 0 || cont[i] >= c->n_vocab)
            return frz_fail(FRZ_ERR_INVALID_ARG, "frz_score: continuation token %zu: id %d is out of range "
                            "(vocab %d)", i, (int)cont[i], c->n_vocab);
    if (n_cont - 1 > (size_t)c->n_ctx - len)
        return frz_fail(FRZ_ERR_CONTEXT_FULL, "frz_score: sequence %d holds %zu positions; a continuation of %zu "
                        "tokens would exceed the context length %d by %zu", (int)seq, len, n_cont, c->n_ctx,
                        len + n_cont - 1 - (size_t)c->n_ctx);

    const float *logits;
    if ((st = frz_session_last_logits(s, seq, &logits))) return st;
    double lp = (double)logits[cont[0]] - frz_logsumexp(logits, V);
    double sum = lp;
    if (token_logprobs) token_logprobs[0] = (float)lp;
    if (n_cont > 1) {
        frz_input in = {seq, n_cont - 1, cont, NULL};
        if ((st = frz_session_eval(s, &in, 1, FRZ_LOGITS_ALL))) return st;
        for (size_t i = 1; i < n_cont; i++) {
            const float *row = s->logits + (i - 1) * V;
            lp = (double)row[cont[i]] - frz_logsumexp(row, V);
            sum += lp;
            if (token_logprobs) token_logprobs[i] = (float)lp;
        }
        s->seqs[seq].len = len; /* the continuation is not kept */
    }
    *total = sum;
    return FRZ_OK;
}
