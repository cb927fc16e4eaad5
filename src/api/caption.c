/* caption.c -- an image's visual prefix (encoder, then projector) and greedy captioning through a session. */
#include "api/api.h"

#include "lm/session.h"
#include "vision/projector.h"

#include <stdlib.h>
#include <string.h>

/* The prefix of img into embd (n_prefix * D floats, room checked by the caller). */
static frz_status prefix_of(const frz_vision *v, const frz_projector *p, const frz_image *img, int n_threads,
                            float *embd)
{
    float *pooled = frz_malloc((size_t)p->n_features * sizeof *pooled, "pooled features");
    if (!pooled) return FRZ_ERR_NOMEM;
    size_t need = 0;
    frz_status st = frz_vision_encode(v, img, n_threads, pooled, (size_t)p->n_features, &need);
    if (st == FRZ_OK) frz_proj_forward(p, embd, pooled, 1, n_threads);
    free(pooled);
    return st;
}

static frz_status check_pair(const frz_vision *v, const frz_projector *p, const char *fn)
{
    if (p->n_features != v->m->arch.num_features)
        return frz_fail(FRZ_ERR_SHAPE, "%s: the projector takes %d features but the encoder gives %d", fn,
                        p->n_features, v->m->arch.num_features);
    return FRZ_OK;
}

frz_status frz_image_prefix(const frz_vision *v, const frz_projector *p, const frz_image *img, int32_t n_threads,
                            float *embd, size_t cap, size_t *needed)
{
    if (!v || !p || !img || !needed || (!embd && cap > 0) || n_threads < 1)
        return frz_fail(FRZ_ERR_INVALID_ARG, "frz_image_prefix: NULL argument or n_threads < 1");
    frz_status st = check_pair(v, p, "frz_image_prefix");
    if (st != FRZ_OK) return st;
    *needed = frz_proj_out(p);
    if (cap < *needed)
        return frz_fail(FRZ_ERR_BUFFER_TOO_SMALL, "frz_image_prefix: %zu floats needed, room for %zu", *needed, cap);
    return prefix_of(v, p, img, n_threads, embd);
}

frz_status frz_caption(frz_session *s, int32_t seq, const frz_vision *v, const frz_projector *p,
                       const frz_image *img, int32_t max_tokens, char *text, size_t cap, size_t *n_bytes)
{
    if (!s || !v || !p || !img || !n_bytes || (!text && cap > 0) || max_tokens < 0)
        return frz_fail(FRZ_ERR_INVALID_ARG, "frz_caption: NULL argument or max_tokens < 0");
    *n_bytes = 0;
    frz_status st = frz_check_seq(s, seq, "frz_caption");
    if (st == FRZ_OK) st = check_pair(v, p, "frz_caption");
    if (st != FRZ_OK) return st;
    if (p->n_embd != s->lm->cfg.n_embd)
        return frz_fail(FRZ_ERR_SHAPE, "frz_caption: the projector makes embeddings of width %d but the LM's is %d",
                        p->n_embd, s->lm->cfg.n_embd);

    const size_t n = (size_t)p->n_prefix;
    float *embd = frz_malloc(frz_proj_out(p) * sizeof *embd, "visual prefix");
    int32_t *toks = frz_malloc(n * sizeof *toks, "prefix positions");
    int32_t *out = frz_malloc(((size_t)max_tokens + 1) * sizeof *out, "caption tokens");
    if (!embd || !toks || !out) st = FRZ_ERR_NOMEM;
    if (st == FRZ_OK) st = prefix_of(v, p, img, s->n_threads, embd);
    if (st == FRZ_OK) st = frz_session_seq_truncate(s, seq, 0);
    if (st == FRZ_OK) {
        for (size_t i = 0; i < n; i++) toks[i] = FRZ_TOKEN_EMBEDDING;
        frz_input in = {seq, n, toks, embd};
        st = frz_session_eval(s, &in, 1, FRZ_LOGITS_NONE);
    }
    size_t n_out = 0;
    if (st == FRZ_OK && max_tokens > 0) {
        frz_generate_params gp;
        frz_generate_params_init(&gp); /* greedy, stops at <|endoftext|> */
        gp.max_tokens = max_tokens;
        st = frz_generate(s, seq, &gp, out, (size_t)max_tokens, &n_out);
    }
    if (st == FRZ_OK) st = frz_detokenize(s->lm, out, n_out, text, cap, n_bytes); /* its buffer protocol */
    free(embd);
    free(toks);
    free(out);
    return st;
}
