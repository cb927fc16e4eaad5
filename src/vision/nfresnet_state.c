/* nfresnet_state.c -- sizing and carving the activation arena of one batch shape. */
#include "vision/nfresnet_internal.h"
#include "vision/layers.h"

#include <stdlib.h>
#include <stdint.h>
#include <string.h>

/* Hands out n floats from the arena at *used (or only counts them while base is NULL). A total past SIZE_MAX
 * sticks at SIZE_MAX, which no allocation satisfies. */
static float *carve(float *base, size_t *used, size_t n)
{
    float *p = base ? base + *used : NULL;
    *used = n > SIZE_MAX - *used ? SIZE_MAX : *used + n;
    return p;
}

static void track_max(size_t *mx, size_t n)
{
    if (n > *mx) *mx = n;
}

/* Records the scratch and the weight-gradient size conv c needs on an (H, W) input. */
static void track_conv(size_t *max_scratch, size_t *max_dw, int B, const frz_nfr_conv_arch *c, int H, int W)
{
    frz_conv_shape cs;
    frz_conv_shape_init(&cs, B, c->ic, H, W, c->oc, c->k, c->stride, c->pad);
    track_max(max_scratch, frz_conv_scratch_size(&cs));
    track_max(max_dw, (size_t)c->oc * c->ic * c->k * c->k);
}

/* Lays out every buffer over base (NULL: a counting pass) and returns the floats needed. */
static size_t layout(frz_nfr_state *st, const frz_nfr_arch *a, float *base)
{
    const size_t B = (size_t)st->B;
    size_t used = 0, max_act = 0, max_scratch = 0, max_dw = 0;
    frz_conv_shape cs;

    frz_conv_shape_init(&cs, st->B, st->cfg.in_channels, st->H, st->W, a->stem_ch, 7, 2, a->stem.pad);
    st->H1 = cs.OH;
    st->W1 = cs.OW;
    st->H2 = (st->H1 + 2 - 3) / 2 + 1;  /* 3x3/2 max-pool, pad 1 */
    st->W2 = (st->W1 + 2 - 3) / 2 + 1;
    track_conv(&max_scratch, &max_dw, st->B, &a->stem, st->H, st->W);
    st->images = carve(base, &used, B * st->cfg.in_channels * st->H * st->W);
    st->stem_out = carve(base, &used, B * a->stem_ch * st->H1 * st->W1);
    st->x0 = carve(base, &used, B * a->stem_ch * st->H2 * st->W2);
    track_max(&max_act, B * a->stem_ch * st->H1 * st->W1);

    int H = st->H2, W = st->W2;
    for (int i = 0; i < a->n_blocks; i++) {
        const frz_nfr_block_arch *blk = &a->blocks[i];
        frz_nfr_block_acts *ba = &st->blocks[i];
        ba->H = H;
        ba->W = W;
        frz_conv_shape_init(&cs, st->B, blk->mid_ch, H, W, blk->mid_ch, 3, blk->stride, 1);
        ba->OH = cs.OH;  /* equals the ceil-mode pool's (H + 1) / 2 at stride 2 */
        ba->OW = cs.OW;
        const size_t in_sz = B * blk->in_ch * H * W, out_sz = B * blk->out_ch * ba->OH * ba->OW;
        ba->h = carve(base, &used, in_sz);
        ba->p = NULL;
        if (blk->has_down && blk->stride > 1) ba->p = carve(base, &used, B * blk->in_ch * ba->OH * ba->OW);
        ba->a1 = carve(base, &used, B * blk->mid_ch * H * W);
        ba->a2 = carve(base, &used, B * blk->mid_ch * ba->OH * ba->OW);
        ba->c3 = carve(base, &used, out_sz);
        ba->y = carve(base, &used, out_sz);
        track_max(&max_act, in_sz);
        track_max(&max_act, out_sz);
        track_max(&max_act, B * blk->mid_ch * H * W);
        if (blk->has_down)
            track_conv(&max_scratch, &max_dw, st->B, &a->down[i], ba->p ? ba->OH : H, ba->p ? ba->OW : W);
        track_conv(&max_scratch, &max_dw, st->B, &a->conv1[i], H, W);
        track_conv(&max_scratch, &max_dw, st->B, &a->conv2[i], H, W);
        track_conv(&max_scratch, &max_dw, st->B, &a->conv3[i], ba->OH, ba->OW);
        H = ba->OH;
        W = ba->OW;
    }
    st->Hf = H;
    st->Wf = W;
    st->feat = carve(base, &used, B * a->num_features * H * W);
    st->wcache = carve(base, &used, a->n_params);
    st->scratch = carve(base, &used, max_scratch);
    if (st->frozen) max_dw = max_act = 0; /* no backward */
    st->dw_hat = carve(base, &used, max_dw);
    for (int g = 0; g < 3; g++) st->grad[g] = carve(base, &used, max_act);
    st->max_act = max_act;
    return used;
}

/* Beyond these, int pixel and plane counts (batch x channels, H x W) could overflow. */
#define MAX_SIDE 16384
#define MAX_BATCH 4096

static frz_status state_create(const frz_nfr_model *m, int B, int H, int W, int frozen, frz_nfr_state **out)
{
    if (!out) return frz_fail(FRZ_ERR_INVALID_ARG, "frz_nfr_state_create: out is NULL");
    *out = NULL;
    if (!m) return frz_fail(FRZ_ERR_INVALID_ARG, "frz_nfr_state_create: model is NULL");
    if (B < 1 || B > MAX_BATCH || H < 1 || H > MAX_SIDE || W < 1 || W > MAX_SIDE)
        return frz_fail(FRZ_ERR_INVALID_ARG, "NF-ResNet state: batch %d of %dx%d images is out of range", B, H, W);
    frz_nfr_state *st = frz_calloc(1, sizeof *st, "NF-ResNet state");
    if (!st) return FRZ_ERR_NOMEM;
    st->cfg = m->cfg;
    st->frozen = frozen;
    st->B = B;
    st->H = H;
    st->W = W;
    st->arena_floats = layout(st, &m->arch, NULL);
    size_t bytes;
    if (!frz_mul_size(st->arena_floats, sizeof(float), &bytes)) {
        free(st);
        return frz_fail(FRZ_ERR_NOMEM, "NF-ResNet state: activation arena size overflows");
    }
    st->arena = frz_malloc(bytes, "NF-ResNet activation arena");
    if (!st->arena) {
        free(st);
        return FRZ_ERR_NOMEM;
    }
    layout(st, &m->arch, st->arena);
    *out = st;
    return FRZ_OK;
}

frz_status frz_nfr_state_create(const frz_nfr_model *m, int B, int H, int W, frz_nfr_state **out)
{
    return state_create(m, B, H, W, 0, out);
}

frz_status frz_nfr_state_create_frozen(const frz_nfr_model *m, int B, int H, int W, frz_nfr_state **out)
{
    return state_create(m, B, H, W, 1, out);
}

void frz_nfr_state_free(frz_nfr_state *st)
{
    if (!st) return;
    free(st->arena);
    free(st);
}

size_t frz_nfr_state_bytes(const frz_nfr_state *st)
{
    return st ? st->arena_floats * sizeof(float) : 0;
}
