/* prompt_run.c -- running a prompt on a session slot: evaluate (prefill) it, then generate or score through the
 * session API. A prompt's positions are one frz_session_eval input pointing into its arrays. */
#include "prompt/prompt.h"
#include "lm/session.h" /* the session's model */

#include <stdlib.h>
#include <string.h>

frz_status frz_prompt_eval_range(frz_session *s, int32_t seq, const frz_prompt *pr, size_t first, size_t n,
                                 frz_logits_mode mode)
{
    if (!s || !pr) return frz_fail(FRZ_ERR_INVALID_ARG, "frz_prompt_eval: session or prompt is NULL");
    if (n == 0 || first > pr->len || n > pr->len - first)
        return frz_fail(FRZ_ERR_INVALID_ARG, "frz_prompt_eval: positions [%zu, %zu + %zu) are not a non-empty range "
                        "of the prompt's %zu", first, first, n, pr->len);
    int64_t held = frz_session_seq_len(s, seq);
    if (held < 0)
        return frz_fail(FRZ_ERR_INVALID_ARG, "frz_prompt_eval: sequence slot %d is out of range", (int)seq);
    if (n > pr->n_ctx - (size_t)held)
        return frz_fail(FRZ_ERR_CONTEXT_FULL, "frz_prompt_eval: sequence %d holds %lld positions and the prompt "
                        "adds %zu: %lld, which is %lld more than the context length %zu", (int)seq, (long long)held,
                        n, held + (long long)n, held + (long long)n - (long long)pr->n_ctx, pr->n_ctx);
    frz_input in = {seq, n, pr->tokens + first, pr->embd ? pr->embd + first * pr->D : NULL};
    return frz_session_eval(s, &in, 1, mode);
}

frz_status frz_prompt_eval(frz_session *s, int32_t seq, const frz_prompt *pr, frz_logits_mode mode)
{
    if (pr && pr->len == 0) return frz_fail(FRZ_ERR_INVALID_ARG, "frz_prompt_eval: the prompt is empty");
    return frz_prompt_eval_range(s, seq, pr, 0, pr ? pr->len : 0, mode);
}

/* The caller's parameters as a struct of this library's size: members beyond the caller's struct_size keep
 * their defaults (frz_generate checks the values). */
static frz_status copy_params(const frz_generate_params *user, frz_generate_params *p)
{
    frz_generate_params_init(p);
    return frz_params_merge(p, sizeof *p, user, "frz_prompt_generate", "frz_generate_params_init");
}

frz_status frz_prompt_generate(frz_session *s, int32_t seq, const frz_prompt *pr, const frz_generate_params *params,
                               unsigned flags, int32_t *out, size_t cap, size_t *n_out)
{
    if (n_out) *n_out = 0;
    if (!s || !n_out) return frz_fail(FRZ_ERR_INVALID_ARG, "frz_prompt_generate: session or n_out is NULL");
    if (flags & ~FRZ_PROMPT_STOP_NEWLINE)
        return frz_fail(FRZ_ERR_INVALID_ARG, "frz_prompt_generate: unknown flags 0x%x", flags);
    frz_generate_params p;
    frz_status st = copy_params(params, &p);
    if (st) return st;
    if (p.n_stop && !p.stop) return frz_fail(FRZ_ERR_INVALID_ARG, "frz_prompt_generate: n_stop is %zu but stop is "
                                             "NULL", p.n_stop);
    /* the newline joins the caller's stop strings */
    const char **stop = NULL;
    if (flags & FRZ_PROMPT_STOP_NEWLINE) {
        stop = frz_malloc((p.n_stop + 1) * sizeof *stop, "stop strings");
        if (!stop) return FRZ_ERR_NOMEM;
        for (size_t i = 0; i < p.n_stop; i++) stop[i] = p.stop[i];
        stop[p.n_stop] = "\n";
        p.stop = stop;
        p.n_stop++;
    }
    if (pr) st = frz_prompt_eval(s, seq, pr, FRZ_LOGITS_LAST);
    if (st == FRZ_OK) st = frz_generate(s, seq, &p, out, cap, n_out);
    free(stop);
    return st;
}

frz_status frz_prompt_score(frz_session *s, int32_t seq, const frz_prompt *pr, const char *const *candidates,
                            size_t n_candidates, double *logprobs)
{
    if (!s) return frz_fail(FRZ_ERR_INVALID_ARG, "frz_prompt_score: session is NULL");
    if (n_candidates && (!candidates || !logprobs))
        return frz_fail(FRZ_ERR_INVALID_ARG, "frz_prompt_score: candidates or logprobs is NULL");
    for (size_t i = 0; i < n_candidates; i++)
        if (!candidates[i]) return frz_fail(FRZ_ERR_INVALID_ARG, "frz_prompt_score: candidates[%zu] is NULL", i);
    frz_status st = pr ? frz_prompt_eval(s, seq, pr, FRZ_LOGITS_LAST) : FRZ_OK;
    const size_t n_ctx = (size_t)frz_lm_get(s->lm, FRZ_LM_N_CTX);
    int32_t *ids = NULL;
    for (size_t i = 0; st == FRZ_OK && i < n_candidates; i++) {
        size_t len = strlen(candidates[i]), n = 0;
        free(ids);
        ids = frz_malloc((FRZ_MIN(len, n_ctx) + 1) * sizeof *ids, "candidate tokens");
        if (!ids) {
            st = FRZ_ERR_NOMEM;
            break;
        }
        st = frz_tokenize(s->lm, candidates[i], len, 0, ids, FRZ_MIN(len, n_ctx) + 1, &n);
        if (st == FRZ_ERR_BUFFER_TOO_SMALL)
            st = frz_fail(FRZ_ERR_CONTEXT_FULL, "frz_prompt_score: candidate %zu is %zu tokens, longer than the "
                          "context length %zu", i, n, n_ctx);
        if (st == FRZ_OK) st = frz_score(s, seq, ids, n, NULL, &logprobs[i]);
        if (st != FRZ_OK) st = frz_fail_prefix(st, "frz_prompt_score: candidate %zu: ", i);
    }
    free(ids);
    return st;
}
