/* api.h -- what the public vision calls (src/api/) share with the trainer: the encoder handle and its file. */
#ifndef FRZ_API_API_H
#define FRZ_API_API_H

#include "core/core.h"
#include "vision/nfresnet.h"

#include <stdatomic.h>

/* The working memory one encode keeps for the next (vision.c): an inference state, whose standardised weights
 * stay valid because the public encoder's weights never change, and the prepared input. One caller at a time
 * takes it (busy); a concurrent one makes its own. */
typedef struct frz_vision_spare {
    atomic_int busy;
    frz_nfr_state *st;   /* NULL until the first encode */
    float *x;            /* (3, R, R) */
} frz_vision_spare;

/* The public encoder: the NF-ResNet, the side its images are resized to, and the spare working memory (NULL in
 * the trainer's wrapper, which only saves). */
struct frz_vision {
    frz_nfr_model *m;
    int32_t image_size;
    frz_vision_spare *spare;
};

#define FRZ_VISION_MIN_SIZE 16
#define FRZ_VISION_MAX_SIZE 4096
/* "__metadata__" key of the image size in vision files and checkpoints. */
#define FRZ_VISION_META_SIZE "frozen.vision.image_size"
/* Files without it (an NF-ResNet written by other tools) take the paper's size. */
#define FRZ_VISION_DEFAULT_SIZE 224

/* The write list of the encoder's tensors (timm names, F32, in the model's flat array): ts holds
 * m->arch.n_tensors entries. */
void frz_vision_tensors(const frz_nfr_model *m, frz_st_write_tensor *ts);
/* Reads every encoder tensor (timm names, F32/F16/BF16, exact shapes) of an open set into m->params; other
 * tensors of the set are ignored. Errors name the file and the tensor. */
frz_status frz_vision_read_params(frz_nfr_model *m, const frz_st_set *set);
/* The image size from a set's metadata (FRZ_VISION_DEFAULT_SIZE when absent). */
frz_status frz_vision_read_size(const frz_st_set *set, const char *what, int32_t *out);

/* Pads, resizes and normalises img for the encoder: out (3, R, R). */
frz_status frz_vision_prepare(int32_t image_size, const frz_image *img, float *out);

#endif
