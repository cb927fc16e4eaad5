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
#include "lm_products.h"

#include <stdio.h>
#include <stdlib.h>

enum { LAYERS = 12, C = 768, V = 50257 };

int main(int argc, char **argv)
{
    const int threads = argc > 1 ? atoi(argv[1]) : 2;
    const int passes = argc > 2 ? atoi(argv[2]) : 20;
    if (threads < 1 || passes < 1) {
        fprintf(stderr, "usage: blas_ceiling [threads] [passes]\n");
        return 2;
    }
    enum { ROWS = 8 * 32, SEQS = 8 };
    lm_products p;
    lm_products_init(&p, LAYERS, C, V, ROWS);
    const double decode = lm_products_eval_s(&p, 1, 1, threads, passes);        /* one row, its logits */
    const double prefill = lm_products_eval_s(&p, ROWS, SEQS, threads, passes);  /* each sequence's last row */
    printf("sgemv_pass_tok_s %.3f\nsgemm_prefill_tok_s %.3f\nsgemv_bytes_per_pass %zu\n", 1.0 / decode,
           ROWS / prefill, p.weight_bytes);
    lm_products_free(&p);
    return 0;
}
