/* attention.c -- causal multi-head self-attention over a sequence's KV cache.
 *
 * A tight loop per (query row, head) rather than sgemm: the new rows of one sequence are few (a decode step has
 * one), the keys are read in place from the cache with its row stride, and the causal mask simply bounds the
 * loop. Threads split the (row, head) pairs. */
#include "math/fast_exp.h"
#include "math/nn.h"

#include <math.h>
#include <omp.h>

/* Below this many multiply-adds per call the work stays on one thread (see FRZ_NN_PAR_MIN). A decode step of
 * GPT-2 small splits its 12 heads across threads once about 20 positions are cached. */
#define ATTENTION_PAR_MIN 16384

void frz_attention_forward(float *out, const float *q, size_t ldq, const float *k, const float *v, size_t ldkv,
                           size_t P, size_t T, int C, int NH, float scale, float *scratch, int nth)
{
    const int hs = C / NH;
    const size_t n_pairs = T * (size_t)NH;
    const size_t work = n_pairs * (P + T) * (size_t)hs;

    #pragma omp parallel for num_threads(nth) schedule(static, 1) if (work >= ATTENTION_PAR_MIN)
    for (size_t pair = 0; pair < n_pairs; pair++) {
        const size_t t = pair / (size_t)NH;
        const int h = (int)(pair % (size_t)NH);
        const size_t n_keys = P + t + 1; /* causal: keys up to and including this position */
        float *att = scratch + (size_t)omp_get_thread_num() * (P + T); /* att (n_keys) */
        const float *qt = q + t * ldq + (size_t)h * hs;

        /* scores = q . k * scale, and their max for a stable softmax */
        float mx = -INFINITY;
        for (size_t j = 0; j < n_keys; j++) {
            const float *kj = k + j * ldkv + (size_t)h * hs;
            float dot = 0.0f;
            #pragma omp simd reduction(+ : dot)
            for (int i = 0; i < hs; i++) dot += qt[i] * kj[i];
            dot *= scale;
            att[j] = dot;
            if (dot > mx) mx = dot;
        }
        float sum = 0.0f;
        #pragma omp simd reduction(+ : sum)
        for (size_t j = 0; j < n_keys; j++) {
            float e = frz_fast_expf(att[j] - mx);
            att[j] = e;
            sum += e;
        }
        const float inv = 1.0f / sum;

        /* out = softmax(scores) @ v */
        float *o = out + t * (size_t)C + (size_t)h * hs;
        for (int i = 0; i < hs; i++) o[i] = 0.0f;
        for (size_t j = 0; j < n_keys; j++) {
            const float *vj = v + j * ldkv + (size_t)h * hs;
            const float p = att[j] * inv;
            #pragma omp simd
            for (int i = 0; i < hs; i++) o[i] += p * vj[i];
        }
    }
}
