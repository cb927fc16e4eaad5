/* gpt2_train_grads.c -- a gradient for every GPT-2 parameter in one allocation, laid out as the checkpoint's
 * tensor table (frz_gpt2_tensors) so that a gradient block and a parameter block line up element for element. */
#include "lm/gpt2_train.h"
#include "math/nn.h"

#include <stdlib.h>
#include <string.h>

/* The members of g in the order of frz_gpt2_tensors' table: wte, wpe, 12 per block, ln_f, then lm_head when
 * the head is untied. Returns how many it wrote to slot (4 + 12 n_layer + 1 at most). */
static size_t grad_slots(frz_gpt2_grads *g, const frz_gpt2_config *c, float **slot[])
{
    size_t n = 0;
    slot[n++] = &g->wte;
    slot[n++] = &g->wpe;
    for (int l = 0; l < c->n_layer; l++) {
        frz_gpt2_layer_grads *L = &g->layers[l];
        float **m[] = {&L->ln1_w, &L->ln1_b, &L->qkv_w, &L->qkv_b, &L->attn_proj_w, &L->attn_proj_b,
                       &L->ln2_w, &L->ln2_b, &L->fc_w, &L->fc_b, &L->fc_proj_w, &L->fc_proj_b};
        for (size_t i = 0; i < sizeof m / sizeof m[0]; i++) slot[n++] = m[i];
    }
    slot[n++] = &g->lnf_w;
    slot[n++] = &g->lnf_b;
    if (!c->tie_lm_head) slot[n++] = &g->lm_head;
    return n;
}

void frz_gpt2_grads_free(frz_gpt2_grads *g)
{
    if (!g) return;
    free(g->mem);
    free(g->layers);
    free(g);
}

void frz_gpt2_grads_zero(frz_gpt2_grads *g, int n_threads)
{
    if (g && g->mem) frz_zero(g->mem, g->n_floats, n_threads);
}

frz_status frz_gpt2_grads_create(const frz_lm *lm, frz_gpt2_grads **out)
{
    *out = NULL;
    const frz_gpt2_config *c = &lm->cfg;
    /* the table of shapes, from a scratch model of the same config (it only fills the scratch's pointers) */
    frz_lm shape_only;
    memset(&shape_only, 0, sizeof shape_only);
    shape_only.cfg = *c;
    frz_gpt2_tensor *t = NULL;
    size_t n_t = 0;
    frz_status st = frz_gpt2_tensors(&shape_only, &t, &n_t);
    float ***slot = NULL;
    frz_gpt2_grads *g = NULL;
    if (st) goto done;

    st = FRZ_ERR_NOMEM;
    g = frz_calloc(1, sizeof *g, "the LM gradients");
    if (!g) goto done;
    g->layers = frz_calloc((size_t)c->n_layer, sizeof *g->layers, "the LM gradients' layer table");
    slot = frz_malloc((5 + 12 * (size_t)c->n_layer) * sizeof *slot, "the LM gradients' slot table");
    if (!g->layers || !slot) goto done;
    size_t n_s = grad_slots(g, c, slot);
    if (n_s != n_t) { /* a table and this file out of step: a programming error, reported rather than hidden */
        st = frz_fail(FRZ_ERR_SHAPE, "LM gradients: %zu gradient slots for %zu parameter tensors", n_s, n_t);
        goto done;
    }
    size_t total = 0;
    for (size_t i = 0; i < n_t; i++) total += (size_t)(t[i].shape[0] * (t[i].ndim == 2 ? t[i].shape[1] : 1));
    g->mem = frz_calloc(total, sizeof *g->mem, "the LM gradients");
    if (!g->mem) goto done;
    g->n_floats = total;
    float *p = g->mem;
    for (size_t i = 0; i < n_t; i++) {
        *slot[i] = p;
        p += (size_t)(t[i].shape[0] * (t[i].ndim == 2 ? t[i].shape[1] : 1));
    }
    if (c->tie_lm_head) g->lm_head = g->wte;
    *out = g;
    g = NULL;
    st = FRZ_OK;
done:
    frz_gpt2_grads_free(g);
    free(slot);
    free(t);
    free(shape_only.w.layers);
    return st;
}
