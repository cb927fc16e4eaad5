/* nfresnet_internal.h -- the activation state of the NF-ResNet, shared by its forward/backward (nfresnet.c)
 * and its arena layout (nfresnet_state.c). */
#ifndef FRZ_VISION_NFRESNET_INTERNAL_H
#define FRZ_VISION_NFRESNET_INTERNAL_H

#include "vision/nfresnet.h"

/* What one block keeps for its backward (pointers into the arena). */
typedef struct frz_nfr_block_acts {
    int H, W, OH, OW;  /* input and output spatial size */
    float *h;          /* (B,in,H,W)    relu(x) * beta, the input of conv1 and of the shortcut */
    float *p;          /* (B,in,OH,OW)  avgpool2(h), only for a strided downsample (else NULL) */
    float *a1;         /* (B,mid,H,W)   relu(conv1(h)) */
    float *a2;         /* (B,mid,OH,OW) relu(conv2(a1)) */
    float *c3;         /* (B,out,OH,OW) conv3(a2), the branch before its gains */
    float *y;          /* (B,out,OH,OW) the block output (the next block's x) */
} frz_nfr_block_acts;

struct frz_nfr_state {
    frz_nfr_config cfg;            /* the config this state was sized for */
    int B, H, W;
    int H1, W1, H2, W2;            /* after the stem conv, after the max-pool */
    float *arena;                  /* one allocation holding everything below */
    size_t arena_floats;

    float *images;                 /* (B,in_channels,H,W) a copy of the forward's input */
    float *stem_out;               /* (B,stem_ch,H1,W1) */
    float *x0;                     /* (B,stem_ch,H2,W2) after the max-pool: block 0's input */
    frz_nfr_block_acts blocks[FRZ_NFR_MAX_BLOCKS];
    float *feat;                   /* (B,num_features,Hf,Wf) relu of the last block's output */
    int Hf, Wf;

    /* The standardised weights, laid out like the parameters: at a conv's weight offset its w_hat, at its bias
     * offset the per-channel mean of the raw weight, at its gain offset the per-channel 1/sqrt(var + eps). */
    float *wcache;                 /* (n_params) */
    int frozen;                    /* an inference state (frz_nfr_state_create_frozen): no backward buffers */
    const float *standardised;     /* frozen: the parameters wcache was computed from (NULL before the first forward) */

    /* scratch */
    float *scratch;                /* conv scratch (im2col of a group of images), the largest any conv needs */
    float *dw_hat;                 /* (OC,F) gradient w.r.t. one conv's standardised weight */
    float *grad[3];                /* three activation-gradient buffers of the largest activation size */
    size_t max_act;                /* floats in each grad[] buffer */
};

#endif
