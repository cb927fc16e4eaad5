/* embedding.c -- token (or caller-given) embeddings plus learned position embeddings. */
#include "core/core.h"
#include "math/nn.h"

#include <string.h>

void frz_embedding_forward(float *out, const int32_t *tokens, const float *embd, const float *wte,
                           const float *wpe, size_t pos0, size_t T, int C)
{
    for (size_t t = 0; t < T; t++) {
        float *o = out + t * (size_t)C;
        const float *e = (tokens == NULL || tokens[t] == FRZ_TOKEN_EMBEDDING) ? embd + t * (size_t)C
                                                                               : wte + (size_t)tokens[t] * C;
        const float *p = wpe + (pos0 + t) * (size_t)C;
        for (int i = 0; i < C; i++) o[i] = e[i] + p[i];
    }
}

void frz_embedding_backward(float *d_embd, float *dwte, float *dwpe, const float *dout, const int32_t *tokens,
                            size_t pos0, size_t T, int C)
{
    /* Serial: T x C adds are cheap next to the layers, and repeated tokens would make threads collide in dwte. */
    for (size_t t = 0; t < T; t++) {
        const float *d = dout + t * (size_t)C;
        if (d_embd) {
            float *e = d_embd + t * (size_t)C;
            for (int i = 0; i < C; i++) e[i] += d[i];
        }
        if (dwte && tokens && tokens[t] != FRZ_TOKEN_EMBEDDING) {
            float *w = dwte + (size_t)tokens[t] * C;
            for (int i = 0; i < C; i++) w[i] += d[i];
        }
        if (dwpe) {
            float *p = dwpe + (pos0 + t) * (size_t)C;
            for (int i = 0; i < C; i++) p[i] += d[i];
        }
    }
}
