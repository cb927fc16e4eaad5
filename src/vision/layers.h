/* layers.h -- the NF-ResNet's layers, one plain function per layer and direction (llm.c style).
 *
 * Tensors are float, NCHW, contiguous. Forward functions write their output; backward functions ACCUMULATE
 * (+=) into every gradient they are given, so a caller clears a gradient buffer once and several paths may add
 * into it. n_threads is the OpenMP thread count for the non-matmul work; matrix products go through
 * cblas_sgemm, called from inside those OpenMP threads: the caller sets OpenBLAS to one thread
 * (frz_blas_set_threads(1)), see conv2d.c. */
#ifndef FRZ_VISION_LAYERS_H
#define FRZ_VISION_LAYERS_H

#include <stddef.h>

/* ---- scaled weight standardisation (Brock et al. 2021; timm's ScaledStdConv2d) ----------------------------
 * Per output channel o, over its F = in * kh * kw weights:
 *     w_hat[o] = gain[o] * scale * (w[o] - mean(w[o])) / sqrt(var(w[o]) + eps)
 * with the biased variance and scale = gamma / sqrt(F) (gamma: the activation's gain, 1.7139588594436646 for
 * ReLU). The forward also keeps mean and 1/sqrt(var + eps) per channel for the backward. */
void frz_wstd_forward(float *w_hat /* (OC,F) */, float *mean /* (OC) */, float *rstd /* (OC) */,
                      const float *w /* (OC,F) */, const float *gain /* (OC) */, int OC, int F, float scale,
                      float eps, int n_threads);
/* Given dw_hat (the gradient w.r.t. w_hat), adds the gradient w.r.t. the raw weight (through the mean and the
 * variance) to dw and the gradient w.r.t. the gain to dgain. */
void frz_wstd_backward(float *dw /* (OC,F) += */, float *dgain /* (OC) += */, const float *dw_hat /* (OC,F) */,
                       const float *w /* (OC,F) */, const float *gain /* (OC) */, const float *mean /* (OC) */,
                       const float *rstd /* (OC) */, int OC, int F, float scale, int n_threads);

/* ---- 2-D convolution, square kernel, zero padding, lowered to sgemm ---------------------------------------- */
typedef struct frz_conv_shape {
    int B, C, H, W;         /* input (B,C,H,W) */
    int OC, k, stride, pad; /* weight (OC,C,k,k) */
    int OH, OW;             /* output (B,OC,OH,OW) */
} frz_conv_shape;

/* Fills s; OH = (H + 2 pad - k) / stride + 1 (floor, as PyTorch). Returns 0 if the output would be empty. */
int frz_conv_shape_init(frz_conv_shape *s, int B, int C, int H, int W, int OC, int k, int stride, int pad);
/* Floats of scratch the conv needs (im2col columns of a group of images and their gathered outputs); 0 for a
 * 1x1, stride-1, unpadded conv on maps of 1024 pixels or more, which multiplies the images in place. */
size_t frz_conv_scratch_size(const frz_conv_shape *s);
/* out = w * inp + bias. scratch: frz_conv_scratch_size floats (may be NULL when that is 0). */
void frz_conv_forward(const frz_conv_shape *s, float *out /* (B,OC,OH,OW) */, const float *inp /* (B,C,H,W) */,
                      const float *w /* (OC,C*k*k) */, const float *bias /* (OC) */, float *scratch, int n_threads);
/* dinp may be NULL (not needed, e.g. for the image); dw and dbias are accumulated (sgemm beta = 1). */
void frz_conv_backward(const frz_conv_shape *s, float *dinp /* (B,C,H,W) += */, float *dw /* (OC,C*k*k) += */,
                       float *dbias /* (OC) += */, const float *dout /* (B,OC,OH,OW) */,
                       const float *inp /* (B,C,H,W) */, const float *w /* (OC,C*k*k) */, float *scratch,
                       int n_threads);

/* ---- activation: ReLU with an output scale, shared with the LM: frz_relu_forward / frz_relu_backward in
 * math/nn.h. ------------------------------------------------------------------------------------------------ */
#include "math/nn.h"

/* ---- pooling: planes = B*C independent (H,W) planes -------------------------------------------------------- */
/* Max over k x k windows, stride s, padding p (padding never wins), floor mode: OH = (H + 2p - k)/s + 1. */
void frz_maxpool_forward(float *out /* (planes,OH,OW) */, const float *inp /* (planes,H,W) */, int planes, int H,
                         int W, int k, int s, int p, int n_threads);
/* The gradient goes to the window's first maximum in row-major order (as PyTorch); inp is the forward input. */
void frz_maxpool_backward(float *dinp /* (planes,H,W) += */, const float *dout /* (planes,OH,OW) */,
                          const float *inp /* (planes,H,W) */, int planes, int H, int W, int k, int s, int p,
                          int n_threads);
/* 2x2 average, stride 2, ceil mode, padding not counted (timm's DownsampleAvg): OH = (H + 1) / 2, and a window
 * cut by the edge averages only the pixels it holds. */
void frz_avgpool2_forward(float *out /* (planes,OH,OW) */, const float *inp /* (planes,H,W) */, int planes, int H,
                          int W, int n_threads);
void frz_avgpool2_backward(float *dinp /* (planes,H,W) += */, const float *dout /* (planes,OH,OW) */, int planes,
                           int H, int W, int n_threads);
/* Global average pooling: out[i] = mean of plane i (HW values). */
void frz_gap_forward(float *out /* (planes) */, const float *inp /* (planes,HW) */, int planes, int HW,
                     int n_threads);
void frz_gap_backward(float *dinp /* (planes,HW) += */, const float *dout /* (planes) */, int planes, int HW,
                      int n_threads);

#endif
