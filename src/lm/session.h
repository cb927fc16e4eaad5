/* session.h -- a session's state: sequence slots with their KV caches, the activations of one eval, logits and
 * the sampling RNG. Internal; the public API is include/frozen.h. */
#ifndef FRZ_SESSION_H
#define FRZ_SESSION_H

#include "lm/gpt2.h"
#include "math/rng.h"

/* One sequence slot. Its cache keeps, for each stored position, one row of (2 n_layer + 1) C floats: the key and
 * the value of every layer, then the final (ln_f) hidden state, from which the position's logits can be
 * recomputed after a truncation. A row per position means the cache grows by one realloc and truncates by
 * changing len. */
typedef struct frz_seq {
    size_t len;          /* positions stored */
    size_t cap;          /* positions allocated */
    float *cache;        /* (cap, frz_cache_stride) */
    /* Where the logits of its last position are: row logits_row of the session's logits buffer, while the
     * session's logits_gen still equals logits_gen and len still equals logits_len. */
    uint64_t logits_gen;
    size_t logits_row;
    size_t logits_len;
} frz_seq;

/* Floats per cached position, and the offsets of a layer's key and value and of the final hidden state. */
static inline size_t frz_cache_stride(const frz_gpt2_config *c) { return (2 * (size_t)c->n_layer + 1) * c->n_embd; }
static inline size_t frz_cache_k(const frz_gpt2_config *c, int l) { return 2 * (size_t)l * c->n_embd; }
static inline size_t frz_cache_v(const frz_gpt2_config *c, int l) { return (2 * (size_t)l + 1) * c->n_embd; }
static inline size_t frz_cache_h(const frz_gpt2_config *c) { return 2 * (size_t)c->n_layer * c->n_embd; }

/* Makes room for n_total positions in a slot (grows geometrically, never past n_ctx). Contents and len are kept;
 * on failure nothing changes. */
frz_status frz_seq_reserve(frz_seq *seq, const frz_gpt2_config *c, size_t n_total);

/* Makes dst hold src's positions and last-logits reference (room first: on failure dst is unchanged). */
frz_status frz_seq_copy(frz_seq *dst, const frz_seq *src, const frz_gpt2_config *c);

/* The activations of one eval over N rows (the new positions of every input, concatenated), kept between
 * calls and grown when a larger batch comes. */
typedef struct frz_acts {
    float *x;      /* (N,C) the residual stream */
    float *ln;     /* (N,C) layer norm output; after the last layer, the final hidden states */
    float *qkv;    /* (N,3C) */
    float *att;    /* (N,C) attention output */
    float *proj;   /* (N,C) a projection's output before its residual add */
    float *fc;     /* (N,F) the MLP's hidden layer */
    float *scores; /* frz_attention_scratch(n_ctx, n_threads) floats: attention's scratch */
} frz_acts;

struct frz_session {
    const frz_lm *lm;
    int n_threads;
    uint64_t seed;
    frz_rng rng;

    int max_seqs;
    frz_seq *seqs;        /* max_seqs */
    uint32_t *seen;       /* max_seqs stamps: each slot at most once per eval */
    size_t *first_row;    /* max_seqs: where each input's rows begin in a batch */
    uint32_t stamp;

    float *act_mem;       /* one allocation behind acts */
    size_t act_rows;      /* rows it holds */
    int act_threads;      /* threads its scores scratch holds */
    frz_acts acts;

    float *logits;        /* (logits_cap, V) */
    size_t logits_cap;
    size_t n_logits;      /* rows valid from the most recent call */
    uint64_t logits_gen;  /* bumped whenever the buffer's rows change meaning */

    void *sample_buf;     /* sampling scratch (V candidates), allocated on first use */

    frz_abort_fn abort_fn;
    void *abort_data;
};

/* Grows the activations to N rows and the logits buffer to M rows. On failure nothing changes. */
frz_status frz_session_reserve(frz_session *s, size_t N, size_t M);

/* Runs the GPT-2 forward pass over a validated batch of N rows (gpt2_forward.c): the new positions' keys,
 * values and final hidden states are written into each sequence's cache past its length; lengths are not
 * changed. The final hidden states are left in s->acts.ln. FRZ_ERR_CANCELLED if the abort callback fires. */
frz_status frz_gpt2_forward(frz_session *s, const frz_input *in, size_t n_in, size_t N);

/* logits (M,V) = the LM head over final hidden states h (M,C). */
void frz_gpt2_lm_head(const frz_lm *lm, float *logits, const float *h, size_t M, int nth);

/* The logits (V) of a non-empty sequence's last position: those of the most recent eval when it made them,
 * else computed from the stored hidden state (into the logits buffer, as its only row). */
frz_status frz_session_last_logits(frz_session *s, int32_t seq, const float **out);

/* Checks a slot index for a public call (`fn` names it in the message). */
frz_status frz_check_seq(const frz_session *s, int32_t seq, const char *fn);

#endif
