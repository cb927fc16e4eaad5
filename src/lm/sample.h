/* sample.h -- choosing the next token from logits. Internal. */
#ifndef FRZ_SAMPLE_H
#define FRZ_SAMPLE_H

#include "core/core.h"
#include "math/rng.h"

/* A candidate token: its logit and id. */
typedef struct frz_cand {
    float logit;
    int32_t id;
} frz_cand;

/* The token to emit from logits (V): the argmax (lowest id on ties) when temperature <= 0; otherwise a draw
 * from softmax(logits / temperature) restricted to the top_k most likely tokens (top_k > 0) and then to the
 * smallest most-likely set whose mass reaches top_p (top_p < 1), as Hugging Face's samplers do. One uniform
 * number is drawn from rng per sampled token; greedy draws none. cand: scratch for V candidates. */
int32_t frz_sample(const float *logits, int V, float temperature, int top_k, float top_p, frz_rng *rng,
                   frz_cand *cand);

#endif
