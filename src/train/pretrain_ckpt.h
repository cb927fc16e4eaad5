/* pretrain_ckpt.h -- the LM pretraining checkpoint: what an interrupted `frz_pretrain` run needs to continue
 * exactly where it stopped, in ONE safetensors file written atomically (frz_st_write_file), next to the model
 * in the output folder.
 *
 * Tensors: "lm.params" (the model's flat parameter block, lm_opt.h's layout), "adam.m.lm" and "adam.v.lm" (the
 * AdamW moments). Metadata: "frozen.pretrain.step" (steps done), the pending row (below) and every setting that shapes the run's
 * course -- sizes, schedule, optimiser, split, order, and the corpus's sample and token counts as its
 * fingerprint -- each written so it reads back bit for bit. Every randomness of the run derives from (seed,
 * epoch), so those and the step are the whole random state. Settings that only change what is reported
 * (val_every, checkpoint_every, n_threads) are not kept: a resumed run may change them (other thread counts
 * round differently). */
#ifndef FRZ_TRAIN_PRETRAIN_CKPT_H
#define FRZ_TRAIN_PRETRAIN_CKPT_H

#include "train/lm_opt.h"

#define FRZ_PRETRAIN_CKPT_FILE "pretrain-checkpoint.safetensors"

/* A step whose update is done but whose metrics row is not (its validation was interrupted): the row's loss and
 * speed, kept so a resumed run can validate and write it. */
typedef struct frz_pretrain_pending {
    int active;
    float loss;
    double tokens_per_s;
} frz_pretrain_pending;

/* What identifies the run besides its parameters: the corpus split. */
typedef struct frz_pretrain_ckpt_run {
    const frz_pretrain_params *p;
    int64_t n_train, n_val, n_tokens;
} frz_pretrain_ckpt_run;

frz_status frz_pretrain_ckpt_save(const char *path, const frz_lm_opt *o, const frz_pretrain_ckpt_run *run,
                                  int64_t step, const frz_pretrain_pending *pending);

/* Reads path into o (the model's parameters and the moments), *step and *pending. Every kept setting must equal run's:
 * otherwise FRZ_ERR_INVALID_ARG naming the setting with both values (the run would not continue the same
 * course). A missing file: FRZ_ERR_IO naming it; a damaged one: the reader's error naming the file and the
 * tensor or key. Nothing is changed on failure. */
frz_status frz_pretrain_ckpt_load(const char *path, frz_lm_opt *o, const frz_pretrain_ckpt_run *run, int64_t *step,
                                  frz_pretrain_pending *pending);

#endif
