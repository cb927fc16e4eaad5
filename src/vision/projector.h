/* projector.h -- Frozen's visual prefix: ONE linear layer from the encoder's pooled vector to n_prefix
 * embeddings of the LM's width D (the paper tried n = 1, 2, 4; 2 was best). Internal; the public handle is
 * frz_projector in include/frozen.h (src/api/projector.c).
 *
 *     prefix (B, n*D) = pooled (B, F) @ weight^T + bias,   weight (n*D, F) as nn.Linear stores it
 * and row b of prefix, read as (n, D), is n consecutive input embeddings of sequence b.
 *
 * Parameters live in one allocation (weight, then bias) and the gradients mirror it, so Adam and checkpoints
 * treat the projector as one flat array. Forward only reads the projector: threads may share one. */
#ifndef FRZ_VISION_PROJECTOR_H
#define FRZ_VISION_PROJECTOR_H

#include "core/core.h"
#include "formats/safetensors.h"

#include <stdint.h>

struct frz_projector {
    int n_features;     /* F, the encoder's pooled width */
    int n_prefix;       /* n */
    int n_embd;         /* D, the LM's width */
    size_t n_params;    /* n*D*F + n*D */
    float *params;      /* weight (n*D, F), then bias (n*D) */
    float *grads;       /* mirror of params; NULL until frz_proj_zero_grad */
};

/* Size limits: F, n and D each in 1..65536, and n*D*F below 2^31 (one sgemm operand). */
#define FRZ_PROJ_MAX_DIM 65536

/* A projector with zeroed parameters. FRZ_ERR_INVALID_ARG for sizes outside the limits. */
frz_status frz_proj_create(int n_features, int n_prefix, int n_embd, frz_projector **out);
void frz_proj_free(frz_projector *p);
/* nn.Linear's initialisation scaled by `scale`: weight and bias uniform in +-scale/sqrt(F); deterministic for a
 * seed. scale 1 is nn.Linear's. With features of unit mean square the outputs then have standard deviation
 * about scale/sqrt(3): the trainer picks scale = sqrt(3) x the RMS of the LM's token embeddings, so the prefix
 * starts at the scale of the embeddings the LM was trained on (a prefix far larger than them is squashed by
 * the first layer norm and learns slowly). */
void frz_proj_init(frz_projector *p, uint64_t seed, double scale);
/* Clears the gradients (allocating them on first use). */
frz_status frz_proj_zero_grad(frz_projector *p, int n_threads);

static inline size_t frz_proj_out(const frz_projector *p) { return (size_t)p->n_prefix * (size_t)p->n_embd; }
static inline const float *frz_proj_weight(const frz_projector *p) { return p->params; }
static inline const float *frz_proj_bias(const frz_projector *p)
{
    return p->params + frz_proj_out(p) * (size_t)p->n_features;
}

/* out (B, n*D) = pooled (B, F) W^T + b. */
void frz_proj_forward(const frz_projector *p, float *out, const float *pooled, int B, int n_threads);
/* Adds dL/dW and dL/db to p->grads (which must exist: frz_proj_zero_grad) and, when d_pooled is not NULL,
 * dL/dpooled to d_pooled (+=). */
void frz_proj_backward(frz_projector *p, float *d_pooled /* (B,F) += or NULL */, const float *d_out /* (B,n*D) */,
                       const float *pooled /* (B,F) */, int B, int n_threads);

/* Tensor names in a projector file. */
#define FRZ_PROJ_WEIGHT "projector.weight"
#define FRZ_PROJ_BIAS "projector.bias"

/* The sizes as "__metadata__" pairs ("frozen.projector.n_prefix", ".n_embd", ".n_features"), for
 * frz_st_write_file: kv[2i] a key, kv[2i+1] its value. */
#define FRZ_PROJ_META_PAIRS 3
typedef struct frz_proj_meta {
    const char *kv[2 * FRZ_PROJ_META_PAIRS];
    char values[FRZ_PROJ_META_PAIRS][24];
} frz_proj_meta;
void frz_proj_to_meta(const frz_projector *p, frz_proj_meta *out);

/* Writes weight and bias as F32 with the sizes as metadata, atomically (frz_st_write_file). */
frz_status frz_proj_save(const frz_projector *p, const char *path);
/* Reads a file written by frz_proj_save (F32/F16/BF16 data); errors name the file and the tensor or key. */
frz_status frz_proj_load(const char *path, frz_projector **out);
/* The same from an open set holding those tensors and keys (a projector file, or the training checkpoint);
 * what names the file in messages. */
frz_status frz_proj_from_set(const frz_st_set *set, const char *what, frz_projector **out);

#endif
