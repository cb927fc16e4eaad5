/* pretrain.h -- LM pretraining behind the public frz_pretrain handle (src/api/pretrain.c checks the caller's
 * parameters and calls these).
 *
 * The loop, per step s (0-based; epoch e = s / steps_per_epoch, k = s mod steps_per_epoch):
 *   1. the abort callback is polled; if it asks, the model as it is after step s-1 is saved and the run returns
 *      FRZ_ERR_CANCELLED;
 *   2. batch k of epoch e: samples order[k B .. k B + B) of the epoch's order (the training split, shuffled by a
 *      generator seeded from (seed, e) -- frz_trainer_epoch_order -- or in file order with no_shuffle), then
 *      grouped by length: each window of 16 batches is sorted by sample length, cut into batches, and those are
 *      put in a seeded random order (pretrain.c, "length buckets"); the last batch of an epoch may be short;
 *   3. the batch as sequences from position 0, padded to its longest sample: row b, position t takes sample
 *      token t and targets token t + 1 (the last target is <|endoftext|>), padding takes <|endoftext|> with no
 *      target; forward, backward into every weight, global-norm clipping, AdamW (lm_opt.h) at the step's
 *      learning rate: linear warmup lr (s + 1) / W for s < W, then cosine decay from lr to min_lr_ratio lr,
 *      reached at the last step;
 *   4. every val_every steps and after the last: the validation loss (mean NLL over every target of the
 *      validation split);
 *   5. a metrics.csv row, the progress callback, and when due the model saved to out_dir with loss.png. */
#ifndef FRZ_TRAIN_PRETRAIN_H
#define FRZ_TRAIN_PRETRAIN_H

#include "core/core.h"

/* params has been read and checked by the caller (every member set; context resolved against lm). */
frz_status frz_pretrainer_create(frz_lm *lm, const char *corpus_path, const char *out_dir,
                                 const frz_pretrain_params *params, frz_pretrain **out);
frz_status frz_pretrainer_run(frz_pretrain *t);
void frz_pretrainer_progress(const frz_pretrain *t, frz_pretrain_progress *out);
void frz_pretrainer_free(frz_pretrain *t);

/* The learning rate of step s (0-based) of `total` (see above). */
float frz_pretrain_lr(const frz_pretrain_params *p, int64_t s, int64_t total);

#endif
