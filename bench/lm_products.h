/* lm_products.h -- the weight products of a GPT-2 forward and nothing else, on random matrices of the model's
 * shapes, through the library's own frz_gemm_acc (the same thread split and cblas calls as a real forward): what
 * the BLAS alone does with a forward's matrix work. Shared by blas_ceiling.c (the LM benchmark's ceilings) and
 * bench_fewshot.c (the few-shot work as products only). Header-only: each bench is one C file.
 *
 *     lm_products p;  lm_products_init(&p, layers, width, vocab, max_rows);
 *     double s = lm_products_eval_s(&p, rows, head_rows, threads, passes);   (best of `passes` timed passes)
 *     lm_products_free(&p); */
#ifndef FRZ_BENCH_LM_PRODUCTS_H
#define FRZ_BENCH_LM_PRODUCTS_H

#include "math/blas.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double lm_products_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* n floats of a fixed pattern (the values do not matter to the time, only that they are not denormal). */
static float *lm_products_filled(size_t n)
{
    float *a = malloc(n * sizeof *a);
    if (!a) {
        fprintf(stderr, "bench: out of memory\n");
        exit(1);
    }
    for (size_t i = 0; i < n; i++) a[i] = (float)((i * 2654435761u) & 1023) * 1e-4f - 0.05f;
    return a;
}

/* Per layer the four GPT-2 matrices as GPT-2 stores them (Conv1D [in, out], in units of the width C): qkv
 * [C, 3C], attn proj [C, C], fc [C, 4C], fc proj [4C, C]; then the tied head [V, C]. */
static const int lm_products_in[4] = {1, 1, 1, 4}, lm_products_out[4] = {3, 1, 4, 1};

typedef struct lm_products {
    int L, C, V, max_rows;
    float **w, *head, *x, *y, *logits;
    size_t weight_bytes; /* every matrix, the head included */
} lm_products;

static void lm_products_init(lm_products *p, int L, int C, int V, int max_rows)
{
    *p = (lm_products){L, C, V, max_rows, malloc((size_t)L * 4 * sizeof(float *)), lm_products_filled((size_t)V * C),
                       lm_products_filled((size_t)max_rows * 4 * C), lm_products_filled((size_t)max_rows * 4 * C),
                       lm_products_filled((size_t)max_rows * V), (size_t)V * C * sizeof(float)};
    if (!p->w) exit(1);
    for (int i = 0; i < 4 * L; i++) {
        const size_t n = (size_t)lm_products_in[i % 4] * C * lm_products_out[i % 4] * C;
        p->w[i] = lm_products_filled(n);
        p->weight_bytes += n * sizeof(float);
    }
}

static void lm_products_free(lm_products *p)
{
    for (int i = 0; i < 4 * p->L; i++) free(p->w[i]);
    free(p->w), free(p->head), free(p->x), free(p->y), free(p->logits);
}

/* Seconds of one forward's products over `rows` positions (clamped to 1..max_rows) with `head_rows` rows of
 * logits: the best of `passes` passes after one that pages everything in. */
static double lm_products_eval_s(lm_products *p, int rows, int head_rows, int threads, int passes)
{
    double best = 1e30;
    rows = rows < 1 ? 1 : rows > p->max_rows ? p->max_rows : rows;
    head_rows = head_rows > p->max_rows ? p->max_rows : head_rows;
    for (int pass = 0; pass <= passes; pass++) {
        const double t0 = lm_products_now();
        for (int i = 0; i < 4 * p->L; i++) {
            const int K = lm_products_in[i % 4] * p->C, N = lm_products_out[i % 4] * p->C;
            frz_gemm_acc(CblasNoTrans, CblasNoTrans, rows, N, K, p->x, K, p->w[i], N, p->y, N, threads);
        }
        if (head_rows > 0)
            frz_gemm_acc(CblasNoTrans, CblasTrans, head_rows, p->V, p->C, p->x, p->C, p->head, p->C, p->logits, p->V,
                         threads);
        const double t = lm_products_now() - t0;
        if (pass > 0 && t < best) best = t;
    }
    return best;
}

#endif
