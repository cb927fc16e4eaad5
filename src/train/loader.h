/* loader.h -- the batch loader: a thread (pthreads) that decodes, preprocesses and tokenizes the next batch
 * while the current one computes.
 *
 * A job is an ordered list of dataset indices cut into batches of B: batch k holds order[k*B .. k*B+B-1] (the
 * last one may be short: its remaining slots are empty). Two batch buffers alternate: the thread fills batch
 * k+1 while the caller holds batch k, and waits for the caller to release a buffer before going on.
 *
 *     frz_loader_start(L, order, n, first_batch);
 *     while (frz_loader_next(L, &b) == FRZ_OK && b) { ... use b ...; frz_loader_release(L); }
 *     frz_loader_stop(L);
 *
 * An image that fails to load (missing, corrupt, truncated, unsupported, too large) leaves its slot empty, is
 * counted in the batch's n_skipped and is logged as a warning naming the file and the reason; it never stops
 * the job. In blind mode nothing is decoded: every slot gets the black image (the paper's blind baseline).
 * Everything a batch holds depends only on the dataset, the order and the settings, never on timing. */
#ifndef FRZ_TRAIN_LOADER_H
#define FRZ_TRAIN_LOADER_H

#include "core/core.h"
#include "train/data.h"

#include <stdint.h>

typedef struct frz_batch {
    int B;               /* slots */
    int n_valid;         /* slots holding an example */
    int n_skipped;       /* examples of this batch whose image failed to load */
    int max_len;         /* tokens of the longest caption among the valid slots */
    int64_t index;       /* batch number within the job */
    float *images;       /* (B,3,R,R) preprocessed; the black image in empty slots */
    int32_t *tokens;     /* (B,max_tokens) caption tokens, cut to max_tokens */
    int32_t *len;        /* (B) caption length in tokens, -1 for an empty slot */
    int32_t *example;    /* (B) dataset index, -1 for an empty slot */
} frz_batch;

typedef struct frz_loader_config {
    const frz_dataset *ds;
    const frz_lm *lm;    /* its tokenizer; only read */
    int B;               /* batch size */
    int image_size;      /* R */
    int max_tokens;      /* captions are cut to this many tokens (>= 1) */
    int blind;           /* every image black, nothing decoded */
} frz_loader_config;

typedef struct frz_loader frz_loader;

/* Allocates the two batch buffers; no thread runs yet. */
frz_status frz_loader_create(const frz_loader_config *cfg, frz_loader **out);
/* Stops any job and frees everything. NULL is a no-op. */
void frz_loader_free(frz_loader *L);

/* Starts a job over order (n dataset indices; the caller keeps it alive until frz_loader_stop) at batch
 * first_batch. A running job is stopped first. */
frz_status frz_loader_start(frz_loader *L, const int32_t *order, size_t n, int64_t first_batch);
/* The next batch of the job in order, waiting for it if needed; *out = NULL once the job is done. The batch is
 * valid until frz_loader_release. A failure that is not an image's (no memory, a tokenizer error) is returned
 * here with its message. */
frz_status frz_loader_next(frz_loader *L, const frz_batch **out);
/* Gives the batch from frz_loader_next back to the thread for refilling. */
void frz_loader_release(frz_loader *L);
/* Ends the job (prefetched batches are dropped) and joins the thread. No-op when none runs. */
void frz_loader_stop(frz_loader *L);

/* Number of batches of a job of n examples: ceil(n / B). */
static inline int64_t frz_loader_n_batches(size_t n, int B) { return (int64_t)((n + (size_t)B - 1) / (size_t)B); }

#endif
