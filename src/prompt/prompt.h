/* prompt.h -- what the prompt builder's files share (src/prompt/): the frz_prompt structure and the append step
 * every kind of segment ends in. Internal; the public API is include/frozen.h.
 *
 * A prompt is a flat array of positions: a token id per position (FRZ_TOKEN_EMBEDDING where the position takes
 * an embedding vector), the embedding rows in a parallel (positions, D) array, and the segment list that says
 * which positions came from which append. Evaluating a range of positions is then one frz_session_eval input
 * pointing into these arrays, with no copy. */
#ifndef FRZ_PROMPT_H
#define FRZ_PROMPT_H

#include "core/core.h"

typedef struct frz_prompt_seg {
    frz_prompt_seg_kind kind;
    size_t start, n;  /* positions [start, start + n) */
} frz_prompt_seg;

struct frz_prompt {
    const frz_lm *lm;
    const frz_vision *vision;     /* default encoder for images; may be NULL */
    const frz_projector *proj;    /* default projector; may be NULL */
    int32_t n_threads;            /* FRZ_PROMPT_OPT_THREADS */
    int blind;                    /* FRZ_PROMPT_OPT_BLIND */
    size_t D;                     /* the LM's embedding width */
    size_t n_ctx;                 /* the LM's context length */

    int32_t *tokens;              /* (cap) */
    float *embd;                  /* (cap, D), allocated with the first embedding position; NULL before */
    size_t len, cap;

    frz_prompt_seg *segs;
    size_t n_segs, cap_segs;

    /* the blind prefix (a black image through an encoder and projector), computed once per pair */
    float *black;
    const frz_vision *black_vision;
    const frz_projector *black_proj;
};

/* Appends n positions as one segment of `kind`: tokens (n ids, or NULL: every position an embedding) and embd
 * (n * D floats for the embedding positions, row i for position i; NULL when there are none). `fn` names the
 * public call in messages. FRZ_ERR_CONTEXT_FULL (saying by how much) when the prompt would pass the LM's
 * context; on any failure the prompt is unchanged. n == 0 appends nothing. */
frz_status frz_prompt_append(frz_prompt *pr, frz_prompt_seg_kind kind, const int32_t *tokens, const float *embd,
                             size_t n, const char *fn);

/* The message of a prompt that would pass the context by `over` positions (FRZ_ERR_CONTEXT_FULL). */
frz_status frz_prompt_fail_context(const frz_prompt *pr, const char *fn, size_t adding, const char *what);

#endif
