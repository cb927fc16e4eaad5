/* trainer.h -- the training run behind the public frz_train handle (src/api/train.c checks the caller's
 * parameters and calls these).
 *
 * The loop, per step s (0-based; epoch e = s / steps_per_epoch, k = s mod steps_per_epoch):
 *   1. the abort callback is polled; if it asks, a checkpoint of the state after step s-1 is written and the run
 *      returns FRZ_ERR_CANCELLED;
 *   2. batch k of epoch e arrives from the loader thread (which meanwhile loads batch k+1); epoch e's order is a
 *      Fisher-Yates shuffle of the training split by a generator seeded from (seed, e), so any step's batch is
 *      known from the seed alone and a resumed run needs no generator state;
 *   3. forward and backward (step.h), global-norm clipping, Adam (adam.h) with t = s + 1;
 *   4. every val_every steps and after the last step: validation perplexity exp(sum NLL / sum targets) over the
 *      validation split; a new best saves vision.safetensors and projector.safetensors, otherwise the patience
 *      count grows and reaching `patience` stops the run (early stopping, as the paper);
 *   5. a metrics.csv row, the progress callback, and when due a checkpoint (and loss.png).
 * A batch whose every image failed to load changes nothing (no update) and records a NaN loss. */
#ifndef FRZ_TRAIN_TRAINER_H
#define FRZ_TRAIN_TRAINER_H

#include "core/core.h"

/* params has been read and checked by the caller (every member set). */
frz_status frz_trainer_create(const frz_lm *lm, const char *data_path, const char *out_dir,
                              const frz_train_params *params, frz_train **out);
frz_status frz_trainer_run(frz_train *t);
void frz_trainer_progress(const frz_train *t, frz_train_progress *out);
void frz_trainer_free(frz_train *t);

/* The epoch's example order: train (n) shuffled by a generator seeded from (seed, epoch), into out (n). */
void frz_trainer_epoch_order(const int32_t *train, size_t n, uint64_t seed, int64_t epoch, int32_t *out);

#endif
