/* blas_ceiling.c -- what the BLAS alone does with the benchmark's matrix products: the ceilings, under "matrix
 * work through cblas", that the LM benchmark's rows cannot beat.
 *
 * Only the weight products, through the library's own frz_gemm_acc (src/math/gemm.c: the same thread split and
 * the same cblas calls as a real forward), on GPT-2-small-shaped matrices: 12 x (768x2304, 768x768, 768x3072,
 * 3072x768) and the tied 50257x768 head; no attention, layer norms or OpenMP work between them.
 *   decode:  one row through every matrix (cblas_sgemv): tokens/s. bench/run.sh divides by the decode bound, so
 *            "sgemv alone is X% of the bound" is the most the decode row can reach with this BLAS.
 *   prefill: 8 x 32 = 256 rows through the blocks and 8 rows through the head (the last position of each
 *            sequence), as the prefill row computes: tokens/s, the most the prefill row can reach.
 *
 * Build (bench/run.sh does): cc -O2 -fopenmp -Iinclude -Isrc bench/blas_ceiling.c lib/libfrozen.a $(libs)
 * Run: blas_ceiling [threads] [passes]. Prints "sgemv_pass_tok_s X", "sgemm_prefill_tok_s Y" and
 * "sgemv_bytes_per_pass N". */
#include "math/blas.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

enum { LAYERS = 12, C = 768, V = 50257 };

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static float *filled(size_t n)
{
    float *a = malloc(n * sizeof *a);
    if (!a) {
        fprintf(stderr, "blas_ceiling: out of memory\n");
        exit(1);
    }
    for (size_t i = 0; i < n; i++) a[i] = (float)((i * 2654435761u) & 1023) * 1e-4f - 0.05f;
    return a;
}

int main(int argc, char **argv)
{
    const int threads = argc > 1 ? atoi(argv[1]) : 2;
    const int passes = argc > 2 ? atoi(argv[2]) : 20;
    if (threads < 1 || passes < 1) {
        fprintf(stderr, "usage: blas_ceiling [threads] [passes]\n");
        return 2;
    }
    /* per layer, as GPT-2 stores them (Conv1D [in, out]) */
    static const int in_dim[4] = {C, C, C, 4 * C}, out_dim[4] = {3 * C, C, 4 * C, C};
    float *w[LAYERS][4];
    size_t bytes = 0;
    for (int l = 0; l < LAYERS; l++)
        for (int k = 0; k < 4; k++) {
            w[l][k] = filled((size_t)in_dim[k] * out_dim[k]);
            bytes += (size_t)in_dim[k] * out_dim[k] * sizeof(float);
        }
    float *head = filled((size_t)V * C); /* wte [V, C]: logits = head @ x */
    bytes += (size_t)V * C * sizeof(float);
    enum { ROWS = 8 * 32, SEQS = 8 };
    float *x = filled((size_t)ROWS * 4 * C), *y = filled((size_t)ROWS * 4 * C), *logits = filled((size_t)SEQS * V);

    double best[2] = {1e30, 1e30};
    for (int mode = 0; mode < 2; mode++) { /* 0: decode (1 row), 1: prefill (ROWS rows, SEQS through the head) */
        const int M = mode ? ROWS : 1, H = mode ? SEQS : 1;
        for (int p = 0; p < passes + 1; p++) { /* the first pass pages everything in */
            const double t0 = now();
            for (int l = 0; l < LAYERS; l++)
                for (int k = 0; k < 4; k++)
                    frz_gemm_acc(CblasNoTrans, CblasNoTrans, M, out_dim[k], in_dim[k], x, in_dim[k], w[l][k],
                                 out_dim[k], y, out_dim[k], threads);
            frz_gemm_acc(CblasNoTrans, CblasTrans, H, V, C, x, C, head, C, logits, V, threads);
            const double t = now() - t0;
            if (p > 0 && t < best[mode]) best[mode] = t;
        }
    }
    printf("sgemv_pass_tok_s %.3f\nsgemm_prefill_tok_s %.3f\nsgemv_bytes_per_pass %zu\n", 1.0 / best[0],
           ROWS / best[1], bytes);
    for (int l = 0; l < LAYERS; l++)
        for (int k = 0; k < 4; k++) free(w[l][k]);
    free(head), free(x), free(y), free(logits);
    return 0;
}
