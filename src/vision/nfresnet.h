/* nfresnet.h -- the NF-ResNet image encoder (Brock, De, Smith 2021, "Characterizing signal propagation to
 * close the performance gap in unnormalized ResNets"), as timm defines nf_resnet26 / nf_resnet50: the Frozen
 * vision encoder, trained from scratch through the frozen LM. Internal; the integrator exposes it.
 *
 *   stem:   7x7/2 scaled-std conv (3 -> 64 w channels), 3x3/2 max-pool (pad 1)    timm stem_type '7x7_pool'
 *   stages: 4 stages of pre-activation bottleneck blocks; stage 0 stride 1, the others stride 2
 *   block:  h = relu(x) * beta
 *           shortcut = x, or where the shape changes conv1x1(avgpool2x2(h)) (no pool at stride 1)
 *           branch = conv1x1(h) -> relu -> conv3x3 (stride) -> relu -> conv1x1
 *           y = shortcut + alpha * skipinit_gain * branch
 *   head:   relu, global average pooling -> pooled (B, num_features), 2048 for nf_resnet50
 * Every conv is a scaled weight-standardised conv (layers.h) with gain and bias; no batch norm anywhere.
 *
 * Usage (training):
 *     frz_nfr_config cfg;  frz_nfr_config_named("nf_resnet50", 1.0f, &cfg);
 *     frz_nfr_model *m;    frz_nfr_create(&cfg, &m);  frz_nfr_init(m, seed);   (or frz_nfr_load(path, NULL, &m))
 *     frz_nfr_state *st;   frz_nfr_state_create(m, B, H, W, &st);
 *     frz_nfr_forward(m, st, images, pooled, n_threads);
 *     frz_nfr_zero_grad(m, n_threads);  frz_nfr_backward(m, st, d_pooled, NULL, n_threads);  ... m->grads, m->params ...
 *     frz_nfr_save(m, path);  frz_nfr_state_free(st);  frz_nfr_free(m);
 * The model (weights, gradients) and the state (activations for one batch shape) are separate: forward only
 * reads the model, so several threads may run forwards on one model, each with its own state. */
#ifndef FRZ_VISION_NFRESNET_H
#define FRZ_VISION_NFRESNET_H

#include "core/core.h"
#include "formats/safetensors.h"

#include <stdint.h>

#define FRZ_NFR_STAGES 4
#define FRZ_NFR_MAX_BLOCKS 64                          /* nf_resnet152 has 50 */
#define FRZ_NFR_MAX_TENSORS (3 + FRZ_NFR_MAX_BLOCKS * 13)
#define FRZ_NFR_RELU_GAMMA 1.7139588594436646f         /* timm's _nonlin_gamma['relu'] (DeepMind's constant) */

/* The architecture, as timm's NfCfg holds it for the NF-ResNets; written to safetensors "__metadata__". */
typedef struct frz_nfr_config {
    int depths[FRZ_NFR_STAGES];   /* blocks per stage: 3,4,6,3 (nf_resnet50), 2,2,2,2 (nf_resnet26) */
    int channels[FRZ_NFR_STAGES]; /* stage output channels before the width factor: 256,512,1024,2048 */
    int stem_channels;            /* before the width factor: 64 */
    int in_channels;              /* 3 */
    float width;                  /* width factor; channels become make_divisible(c * width, 8) as in timm */
    float bottle_ratio;           /* bottleneck channels = make_divisible(out * ratio, 8): 0.25 */
    float alpha;                  /* residual scale: 0.2 */
    float std_eps;                /* weight standardisation eps: 1e-5 (timm's std_conv_eps) */
    int skipinit;                 /* 1: a learnable scalar skipinit_gain (init 0) multiplies each branch and conv3's
                                   * gain starts at 1; 0: no scalar, conv3's gain starts at 0 (timm's default, the
                                   * layout of timm's pretrained nf_resnet50) */
} frz_nfr_config;

/* Presets: "nf_resnet50" (depths 3,4,6,3), "nf_resnet26" (2,2,2,2), and "tiny" (2,1,1,2: the smallest net
 * with both shortcut kinds and a non-unit beta in the first and the last stage; the tests use it at width
 * 0.0625); all with timm's channels, stem 64, bottleneck 0.25, alpha 0.2, eps 1e-5, skipinit on. width
 * multiplies every channel count. Unknown name or width not > 0: FRZ_ERR_INVALID_ARG. */
frz_status frz_nfr_config_named(const char *name, float width, frz_nfr_config *out);

/* Metadata: the config as "__metadata__" string pairs (keys "nfresnet.depths", "nfresnet.channels", ...). */
#define FRZ_NFR_META_PAIRS 10
typedef struct frz_nfr_meta {
    const char *kv[2 * FRZ_NFR_META_PAIRS]; /* key, value, key, value, ... for frz_st_write_file */
    char values[FRZ_NFR_META_PAIRS][64];
} frz_nfr_meta;
void frz_nfr_config_to_meta(const frz_nfr_config *cfg, frz_nfr_meta *out);
/* Reads the config from a file's metadata; what names the file in messages. A missing or malformed field:
 * FRZ_ERR_FORMAT naming the file and the key; a well-formed but unsupported value (an activation other than
 * relu, a size out of range): FRZ_ERR_UNSUPPORTED naming the key or the field (depths, width, ...). */
frz_status frz_nfr_config_from_meta(const frz_st_set *set, const char *what, frz_nfr_config *out);

/* ---- derived architecture ---------------------------------------------------------------------------------- */
typedef struct frz_nfr_block_arch {
    int stage, index;           /* stages.<stage>.<index> */
    int in_ch, mid_ch, out_ch;
    int stride;                 /* of conv2 and the downsample's pool */
    int has_down;               /* in_ch != out_ch or stride != 1: a downsample conv on the shortcut */
    float beta;                 /* 1 / sqrt(expected variance of x) */
} frz_nfr_block_arch;

/* One conv's parameters: offsets into the flat parameter array. */
typedef struct frz_nfr_conv_arch {
    int ic, oc, k, stride, pad;
    size_t weight, bias, gain;  /* offsets: weight (oc,ic,k,k), bias (oc), gain (oc,1,1,1) */
} frz_nfr_conv_arch;

/* A named tensor of the flat parameter array, in timm's naming. */
typedef struct frz_nfr_tensor {
    char name[48];
    size_t offset, numel;
    int ndim;
    int64_t shape[4];
} frz_nfr_tensor;

typedef struct frz_nfr_arch {
    int stem_ch, num_features, n_blocks;
    frz_nfr_conv_arch stem;
    frz_nfr_block_arch blocks[FRZ_NFR_MAX_BLOCKS];
    frz_nfr_conv_arch down[FRZ_NFR_MAX_BLOCKS], conv1[FRZ_NFR_MAX_BLOCKS], conv2[FRZ_NFR_MAX_BLOCKS],
        conv3[FRZ_NFR_MAX_BLOCKS];
    size_t skipinit_gain[FRZ_NFR_MAX_BLOCKS]; /* offsets (scalars); unused when cfg.skipinit is 0 */
    int n_tensors;
    frz_nfr_tensor tensors[FRZ_NFR_MAX_TENSORS]; /* in module order; their offsets tile [0, n_params) */
    size_t n_params;
} frz_nfr_arch;

/* Validates cfg (FRZ_ERR_INVALID_ARG naming the field) and derives channel counts, betas, the parameter layout
 * and tensor names. */
frz_status frz_nfr_arch_init(const frz_nfr_config *cfg, frz_nfr_arch *out);
/* timm's make_divisible(v, 8): round to the nearest multiple of 8, at least 8, and never below 90% of v. */
int frz_nfr_make_divisible(double v, int divisor);

/* ---- model: parameters and their gradients ----------------------------------------------------------------- */
typedef struct frz_nfr_model {
    frz_nfr_config cfg;
    frz_nfr_arch arch;
    float *params;              /* (n_params): every weight in one allocation, laid out as arch.tensors */
    float *grads;               /* (n_params) mirror of params, allocated by the first backward (NULL before) */
} frz_nfr_model;

/* A model with zeroed parameters. */
frz_status frz_nfr_create(const frz_nfr_config *cfg, frz_nfr_model **out);
void frz_nfr_free(frz_nfr_model *m);
/* timm's initialisation: conv weights He-normal over fan-in (std 1/sqrt(fan_in)), biases 0, gains 1 (conv3's
 * 0 without skipinit), skipinit gains 0; deterministic for a seed. */
void frz_nfr_init(frz_nfr_model *m, uint64_t seed);
/* Clears the gradients (allocating them if needed). */
frz_status frz_nfr_zero_grad(frz_nfr_model *m, int n_threads);
/* The flat index range of a named tensor, or NULL. */
const frz_nfr_tensor *frz_nfr_find_tensor(const frz_nfr_model *m, const char *name);

/* Writes every parameter under its timm name and the config as metadata. FRZ_ERR_IO naming the path. */
frz_status frz_nfr_save(const frz_nfr_model *m, const char *path);
/* Loads a file written by frz_nfr_save or by timm (a timm file has no config metadata: pass cfg; with cfg NULL
 * the file's metadata is used). Every parameter must be present with its shape (F32/F16/BF16); tensors named
 * "head.*" (timm's classifier) are ignored, any other unknown tensor is an error. Errors name the file and the
 * tensor or metadata key. */
frz_status frz_nfr_load(const char *path, const frz_nfr_config *cfg, frz_nfr_model **out);

/* ---- state: activations of one batch shape ----------------------------------------------------------------- */
typedef struct frz_nfr_state frz_nfr_state;

/* Everything a forward and a backward of B images of H x W need, in one arena (its size: frz_nfr_state_bytes). */
frz_status frz_nfr_state_create(const frz_nfr_model *m, int B, int H, int W, frz_nfr_state **out);
/* An inference state: what a forward needs and nothing for a backward (which refuses it), for a model whose
 * parameters do not change while the state lives. Its forwards standardise the convs on the first call only and
 * reuse them (13% of a batch-1 encode of the tiny net at 224 px): the public encoder's weights are read-only once
 * created or loaded. */
frz_status frz_nfr_state_create_frozen(const frz_nfr_model *m, int B, int H, int W, frz_nfr_state **out);
void frz_nfr_state_free(frz_nfr_state *st);
size_t frz_nfr_state_bytes(const frz_nfr_state *st);

/* images (B, in_channels, H, W) -> pooled (B, num_features). Keeps what the backward needs in st. A state serves
 * models of the config it was created for (else FRZ_ERR_INVALID_ARG).
 * Threads: n_threads OpenMP threads (< 1 means 1) share every layer, and each runs single-threaded sgemm calls,
 * so forward and backward set OpenBLAS to one thread (frz_blas_set_threads(1), process-wide); conv2d.c says why. */
frz_status frz_nfr_forward(const frz_nfr_model *m, frz_nfr_state *st, const float *images, float *pooled,
                           int n_threads);
/* After a forward with st: adds the gradients of the loss w.r.t. every parameter to m->grads (allocating and
 * clearing them on first use) and, if d_images is not NULL, w.r.t. the images to d_images (+=). */
frz_status frz_nfr_backward(frz_nfr_model *m, frz_nfr_state *st, const float *d_pooled /* (B,num_features) */,
                            float *d_images /* (B,in_channels,H,W) += or NULL */, int n_threads);

#endif
