/* nfresnet.c -- the NF-ResNet forward and backward, top to bottom (architecture in nfresnet.h).
 *
 * Every conv is standardised once per forward into st->wcache (conv_standardise; an inference state keeps them
 * from its first forward, the weights being frozen); the convs then run on the standardised weights, and their
 * backward goes from the gradient of the standardised weight back to the raw weight and the gain
 * (conv_backward). Backward functions accumulate, so each gradient buffer is cleared right before the first path
 * adds into it. */
#include "vision/nfresnet_internal.h"
#include "vision/layers.h"
#include "math/blas.h"
#include "math/nn.h"

#include <math.h>
#include <string.h>

/* ---- scaled weight-standardised conv ----------------------------------------------------------------------- */

static float conv_scale(const frz_nfr_conv_arch *c)
{
    return FRZ_NFR_RELU_GAMMA / sqrtf((float)(c->ic * c->k * c->k));
}

static void conv_standardise(const frz_nfr_model *m, frz_nfr_state *st, const frz_nfr_conv_arch *c, int nt)
{
    frz_wstd_forward(st->wcache + c->weight, st->wcache + c->bias, st->wcache + c->gain, m->params + c->weight,
                     m->params + c->gain, c->oc, c->ic * c->k * c->k, conv_scale(c), m->cfg.std_eps, nt);
}

/* out (B,oc,OH,OW) = conv(inp (B,ic,H,W)) */
static void conv_forward(const frz_nfr_model *m, frz_nfr_state *st, const frz_nfr_conv_arch *c, float *out,
                         const float *inp, int H, int W, int nt)
{
    frz_conv_shape cs;
    frz_conv_shape_init(&cs, st->B, c->ic, H, W, c->oc, c->k, c->stride, c->pad);
    frz_conv_forward(&cs, out, inp, st->wcache + c->weight, m->params + c->bias, st->scratch, nt);
}

/* dinp (B,ic,H,W) += (may be NULL); the conv's weight, gain and bias gradients += */
static void conv_backward(frz_nfr_model *m, frz_nfr_state *st, const frz_nfr_conv_arch *c, float *dinp,
                          const float *dout, const float *inp, int H, int W, int nt)
{
    frz_conv_shape cs;
    frz_conv_shape_init(&cs, st->B, c->ic, H, W, c->oc, c->k, c->stride, c->pad);
    const int F = c->ic * c->k * c->k;
    frz_zero(st->dw_hat, (size_t)c->oc * F, nt);
    frz_conv_backward(&cs, dinp, st->dw_hat, m->grads + c->bias, dout, inp, st->wcache + c->weight, st->scratch, nt);
    frz_wstd_backward(m->grads + c->weight, m->grads + c->gain, st->dw_hat, m->params + c->weight,
                      m->params + c->gain, st->wcache + c->bias, st->wcache + c->gain, c->oc, F, conv_scale(c), nt);
}

/* ---- the NF bottleneck block ------------------------------------------------------------------------------- */

/* The branch's total scale: alpha times the skip-init gain (1 when the config has none). */
static float branch_scale(const frz_nfr_model *m, int i)
{
    return m->cfg.alpha * (m->cfg.skipinit ? m->params[m->arch.skipinit_gain[i]] : 1.0f);
}

static void block_forward(const frz_nfr_model *m, frz_nfr_state *st, int i, const float *x, int nt)
{
    const frz_nfr_block_arch *blk = &m->arch.blocks[i];
    frz_nfr_block_acts *A = &st->blocks[i];
    const size_t B = (size_t)st->B, n_in = B * blk->in_ch * A->H * A->W, n_out = B * blk->out_ch * A->OH * A->OW;

    frz_relu_forward(A->h, x, n_in, blk->beta, nt);                   /* h = relu(x) * beta */
    if (!blk->has_down) {
        memcpy(A->y, x, n_out * sizeof(float));                       /* shortcut = x */
    } else if (A->p) {
        frz_avgpool2_forward(A->p, A->h, st->B * blk->in_ch, A->H, A->W, nt);
        conv_forward(m, st, &m->arch.down[i], A->y, A->p, A->OH, A->OW, nt);  /* shortcut = conv(pool(h)) */
    } else {
        conv_forward(m, st, &m->arch.down[i], A->y, A->h, A->H, A->W, nt);    /* shortcut = conv(h) */
    }
    conv_forward(m, st, &m->arch.conv1[i], A->a1, A->h, A->H, A->W, nt);
    frz_relu_forward(A->a1, A->a1, B * blk->mid_ch * A->H * A->W, 1.0f, nt);
    conv_forward(m, st, &m->arch.conv2[i], A->a2, A->a1, A->H, A->W, nt);
    frz_relu_forward(A->a2, A->a2, B * blk->mid_ch * A->OH * A->OW, 1.0f, nt);
    conv_forward(m, st, &m->arch.conv3[i], A->c3, A->a2, A->OH, A->OW, nt);
    const float s = branch_scale(m, i);
    float *y = A->y;
    const float *c3 = A->c3;
#pragma omp parallel for simd num_threads(nt) schedule(static)
    for (size_t k = 0; k < n_out; k++) y[k] += s * c3[k];             /* y = shortcut + alpha g branch */
}

/* dy (B,out,OH,OW) -> dx (B,in,H,W), written (not accumulated). dy and dx are two of st->grad[]; t is the third. */
static void block_backward(frz_nfr_model *m, frz_nfr_state *st, int i, const float *x, const float *dy, float *dx,
                           float *t, int nt)
{
    const frz_nfr_block_arch *blk = &m->arch.blocks[i];
    frz_nfr_block_acts *A = &st->blocks[i];
    const size_t B = (size_t)st->B, n_in = B * blk->in_ch * A->H * A->W, n_out = B * blk->out_ch * A->OH * A->OW;
    const size_t n_mid_in = B * blk->mid_ch * A->H * A->W, n_mid_out = B * blk->mid_ch * A->OH * A->OW;
    const float s = branch_scale(m, i);
    const float *c3 = A->c3;

    /* y = shortcut + s c3: the branch receives s dy, the skip-init gain alpha sum(dy c3). dx holds dc3 for now. */
    double dg = 0.0;
#pragma omp parallel for simd num_threads(nt) schedule(static) reduction(+ : dg)
    for (size_t k = 0; k < n_out; k++) {
        dx[k] = s * dy[k];
        dg += (double)dy[k] * c3[k];
    }
    if (m->cfg.skipinit) m->grads[m->arch.skipinit_gain[i]] += (float)(m->cfg.alpha * dg);

    frz_zero(t, n_mid_out, nt);                          /* t = da2 */
    conv_backward(m, st, &m->arch.conv3[i], t, dx, A->a2, A->OH, A->OW, nt);
    frz_zero(dx, n_mid_out, nt);                         /* dx = dc2 */
    frz_relu_backward(dx, t, A->a2, n_mid_out, 1.0f, nt);
    frz_zero(t, n_mid_in, nt);                           /* t = da1 */
    conv_backward(m, st, &m->arch.conv2[i], t, dx, A->a1, A->H, A->W, nt);
    frz_zero(dx, n_mid_in, nt);                          /* dx = dc1 */
    frz_relu_backward(dx, t, A->a1, n_mid_in, 1.0f, nt);
    frz_zero(t, n_in, nt);                               /* t = dh */
    conv_backward(m, st, &m->arch.conv1[i], t, dx, A->h, A->H, A->W, nt);

    if (blk->has_down && A->p) {
        size_t n_p = B * blk->in_ch * A->OH * A->OW;
        frz_zero(dx, n_p, nt);                           /* dx = dp */
        conv_backward(m, st, &m->arch.down[i], dx, dy, A->p, A->OH, A->OW, nt);
        frz_avgpool2_backward(t, dx, st->B * blk->in_ch, A->H, A->W, nt);
    } else if (blk->has_down) {
        conv_backward(m, st, &m->arch.down[i], t, dy, A->h, A->H, A->W, nt);
    }
    /* dx = d(shortcut)/dx + dh * beta where x > 0 */
    if (blk->has_down) frz_zero(dx, n_in, nt);
    else memcpy(dx, dy, n_in * sizeof(float));
    frz_relu_backward(dx, t, x, n_in, blk->beta, nt);
}

/* ---- the network ------------------------------------------------------------------------------------------- */

static frz_status check_pair(const frz_nfr_model *m, const frz_nfr_state *st, const char *fn)
{
    if (!m || !st) return frz_fail(FRZ_ERR_INVALID_ARG, "%s: NULL model or state", fn);
    if (memcmp(&m->cfg, &st->cfg, sizeof m->cfg) != 0)
        return frz_fail(FRZ_ERR_INVALID_ARG, "%s: the state was created for a model of another config", fn);
    return FRZ_OK;
}

frz_status frz_nfr_forward(const frz_nfr_model *m, frz_nfr_state *st, const float *images, float *pooled,
                           int n_threads)
{
    frz_status rc = check_pair(m, st, "frz_nfr_forward");
    if (rc != FRZ_OK) return rc;
    if (!images || !pooled) return frz_fail(FRZ_ERR_INVALID_ARG, "frz_nfr_forward: NULL images or output");
    const int nt = n_threads > 0 ? n_threads : 1;
    const frz_nfr_arch *a = &m->arch;
    frz_blas_set_threads(1);  /* the convs split their work among OpenMP threads (conv2d.c) */

    if (!st->frozen || st->standardised != m->params) { /* a frozen state keeps them from its first forward */
        conv_standardise(m, st, &a->stem, nt);
        for (int i = 0; i < a->n_blocks; i++) {
            if (a->blocks[i].has_down) conv_standardise(m, st, &a->down[i], nt);
            conv_standardise(m, st, &a->conv1[i], nt);
            conv_standardise(m, st, &a->conv2[i], nt);
            conv_standardise(m, st, &a->conv3[i], nt);
        }
        st->standardised = m->params;
    }

    memcpy(st->images, images, (size_t)st->B * m->cfg.in_channels * st->H * st->W * sizeof(float));
    conv_forward(m, st, &a->stem, st->stem_out, st->images, st->H, st->W, nt);
    frz_maxpool_forward(st->x0, st->stem_out, st->B * a->stem_ch, st->H1, st->W1, 3, 2, 1, nt);
    const float *x = st->x0;
    for (int i = 0; i < a->n_blocks; i++) {
        block_forward(m, st, i, x, nt);
        x = st->blocks[i].y;
    }
    const size_t n_feat = (size_t)st->B * a->num_features * st->Hf * st->Wf;
    frz_relu_forward(st->feat, x, n_feat, 1.0f, nt);
    frz_gap_forward(pooled, st->feat, st->B * a->num_features, st->Hf * st->Wf, nt);
    return FRZ_OK;
}

frz_status frz_nfr_backward(frz_nfr_model *m, frz_nfr_state *st, const float *d_pooled, float *d_images,
                            int n_threads)
{
    frz_status rc = check_pair(m, st, "frz_nfr_backward");
    if (rc != FRZ_OK) return rc;
    if (!d_pooled) return frz_fail(FRZ_ERR_INVALID_ARG, "frz_nfr_backward: d_pooled is NULL");
    if (st->frozen) return frz_fail(FRZ_ERR_INVALID_ARG, "frz_nfr_backward: the state was made for inference only");
    if (!m->grads && (rc = frz_nfr_zero_grad(m, n_threads)) != FRZ_OK) return rc;
    const int nt = n_threads > 0 ? n_threads : 1;
    const frz_nfr_arch *a = &m->arch;
    frz_blas_set_threads(1);  /* the convs split their work among OpenMP threads (conv2d.c) */

    /* The three gradient buffers rotate: dy (the current block's output gradient), dx, and a temporary. */
    float *dy = st->grad[0], *dx = st->grad[1], *t = st->grad[2];
    const size_t n_feat = (size_t)st->B * a->num_features * st->Hf * st->Wf;
    frz_zero(t, n_feat, nt);
    frz_gap_backward(t, d_pooled, st->B * a->num_features, st->Hf * st->Wf, nt);
    frz_zero(dy, n_feat, nt);
    frz_relu_backward(dy, t, st->feat, n_feat, 1.0f, nt);

    for (int i = a->n_blocks - 1; i >= 0; i--) {
        const float *x = i > 0 ? st->blocks[i - 1].y : st->x0;
        block_backward(m, st, i, x, dy, dx, t, nt);
        float *tmp = dy;
        dy = dx;
        dx = tmp;
    }

    const size_t n_stem = (size_t)st->B * a->stem_ch * st->H1 * st->W1;
    frz_zero(t, n_stem, nt);
    frz_maxpool_backward(t, dy, st->stem_out, st->B * a->stem_ch, st->H1, st->W1, 3, 2, 1, nt);
    conv_backward(m, st, &a->stem, d_images, t, st->images, st->H, st->W, nt);
    return FRZ_OK;
}
