/* checkpoint.h -- everything a training run needs to continue exactly where it stopped, in ONE safetensors
 * file written atomically (frz_st_write_file: temporary file, fsync, rename), so a crash or a failed write
 * leaves the previous checkpoint whole.
 *
 * Tensors: the encoder's under their timm names ("stem.conv.weight", ...), the projector's ("projector.weight",
 * "projector.bias"), and Adam's moments "adam.m.vision", "adam.v.vision" (the encoder's flat parameter array)
 * and "adam.m.projector", "adam.v.projector". Metadata: the encoder's architecture (nfresnet.*), the projector's
 * sizes (frozen.projector.*), the image size (frozen.vision.image_size) and the training state below
 * (frozen.train.*). Every randomness after initialisation is derived from (seed, epoch) -- the epoch's shuffle
 * -- so seed and step are the whole random state: no generator state needs saving. */
#ifndef FRZ_TRAIN_CHECKPOINT_H
#define FRZ_TRAIN_CHECKPOINT_H

#include "vision/nfresnet.h"
#include "vision/projector.h"

typedef struct frz_ckpt_state {
    int64_t step;              /* optimisation steps done */
    int32_t epoch;             /* epoch of the next step */
    uint64_t seed;
    double best_val_ppl;       /* 0: no validation yet */
    int64_t best_step;         /* step of the best validation, -1: none */
    int32_t bad_validations;   /* validations since the best (early stopping's patience count) */
    int32_t stopped;           /* 1: early stopping ended the run */
    int64_t skipped_images;
    int64_t last_val_step;     /* step of the latest validation, -1: none */
    float last_loss;           /* the latest step's loss and speed (metrics.csv's row for it, if a validation */
    double last_images_per_s;  /*   at that step was interrupted and runs after resuming) */
    /* Settings that shape the batches: a resumed run must use the same. */
    int32_t batch_size, max_caption_tokens, blind;
    int64_t n_train, n_val;
} frz_ckpt_state;

/* The optimiser's moments, mirroring the encoder's and the projector's flat parameter arrays. */
typedef struct frz_ckpt_moments {
    float *m_vision, *v_vision;  /* (enc->arch.n_params) */
    float *m_proj, *v_proj;      /* (proj->n_params) */
} frz_ckpt_moments;

/* The LM of the finetune and scratch modes (frz_train_params.lm_mode): its flat parameter block and AdamW moments
 * (n floats each, lm_opt.h), stored as "lm.params", "adam.m.lm", "adam.v.lm", and the mode as metadata
 * FRZ_CKPT_LM_MODE. */
typedef struct frz_ckpt_lm {
    float *params, *m, *v;
    size_t n;
    int32_t mode;
} frz_ckpt_lm;
#define FRZ_CKPT_LM_MODE "frozen.train.lm_mode"

/* lm: NULL in the frozen mode (the file is then exactly as before the LM modes existed). */
frz_status frz_ckpt_save(const char *path, const frz_nfr_model *enc, int32_t image_size, const frz_projector *proj,
                         const frz_ckpt_moments *mom, const frz_ckpt_state *state, const frz_ckpt_lm *lm);

/* Reads a checkpoint: a new encoder, projector and moments (the caller frees them with frz_nfr_free,
 * frz_proj_free and frz_ckpt_moments_free), the image size and the state. Errors name the file and the tensor
 * or key; nothing is returned on failure. */
frz_status frz_ckpt_load(const char *path, frz_nfr_model **enc, int32_t *image_size, frz_projector **proj,
                         frz_ckpt_moments *mom, frz_ckpt_state *state);

/* Reads the LM's parameters and moments into lm's buffers (n floats each); the checkpoint's mode (absent: frozen)
 * must be lm->mode. Errors name the file and the tensor. */
frz_status frz_ckpt_load_lm(const char *path, const frz_ckpt_lm *lm);

/* Zeroed moments for the two arrays. */
frz_status frz_ckpt_moments_create(size_t n_vision, size_t n_proj, frz_ckpt_moments *mom);
void frz_ckpt_moments_free(frz_ckpt_moments *mom);

#endif
