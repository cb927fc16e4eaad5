/* bench_lm_train.c -- one Frozen training step through the frozen LM: the GPT-2 training forward over a batch
 * (prefix vectors + caption tokens) and the backward down to the input embeddings, on a random
 * GPT-2-small-shaped model (12 layers, 12 heads, C 768, V 50257). Not a test.
 *
 *   bench_lm_train B T THREADS REPS [grads]
 * The batch: B sequences of T positions, the first 2 vectors (FRZ_TOKEN_EMBEDDING), then T-2 tokens; targets
 * on positions 1 .. T-2 (each predicts the next token; the last position has none). "grads" also computes
 * every weight gradient. Prints medians over REPS runs after one warm-up, in milliseconds:
 *   forward_ms X / backward_ms Y / step_ms Z / step_cpu_ms (process CPU time: all threads) / ws_mb W
 * Build (after make) and run beside the PyTorch peer, bench/torch_lm_train.py:
 *   cc -O2 -std=c11 -D_POSIX_C_SOURCE=200809L -Iinclude -Isrc $(pkg-config --cflags openblas) \
 *      bench/bench_lm_train.c -o bench/out/bench_lm_train lib/libfrozen.a \
 *      $(pkg-config --libs openblas libpcre2-8 jansson libpng16 libjpeg) -lm -fopenmp
 *   OPENBLAS_CORETYPE=SkylakeX OMP_NUM_THREADS=2 bench/out/bench_lm_train 8 18 2 5
 *   OPENBLAS_CORETYPE=SkylakeX OMP_NUM_THREADS=2 /usr/bin/python3 bench/torch_lm_train.py 8 18 5           */
#include "lm/gpt2_train.h"
#include "math/rng.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double clock_ms(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}
static double now_ms(void) { return clock_ms(CLOCK_MONOTONIC); }

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

int main(int argc, char **argv)
{
    if (argc < 5) {
        fprintf(stderr, "usage: %s B T THREADS REPS [grads]\n", argv[0]);
        return 2;
    }
    const int B = atoi(argv[1]), T = atoi(argv[2]), nth = atoi(argv[3]), reps = atoi(argv[4]);
    const int with_grads = argc > 5 && strcmp(argv[5], "grads") == 0;
    frz_gpt2_config c;
    frz_gpt2_config_init(&c, 12, 12, 768, 50257, 1024);
    frz_lm *lm;
    frz_gpt2_train_ws *ws;
    frz_gpt2_grads *g = NULL;
    if (frz_gpt2_create_random(&c, 1, &lm) || frz_gpt2_train_ws_create(lm, B, T, &ws) ||
        (with_grads && frz_gpt2_grads_create(lm, &g))) {
        fprintf(stderr, "bench_lm_train: %s\n", frz_last_error());
        return 1;
    }
    const size_t n = (size_t)B * T;
    int32_t *tokens = malloc(n * sizeof *tokens), *targets = malloc(n * sizeof *targets);
    float *embd = malloc(n * 768 * sizeof *embd), *d_embd = malloc(n * 768 * sizeof *d_embd);
    frz_rng rng;
    frz_rng_seed(&rng, 2);
    for (size_t i = 0; i < n; i++) {
        const int t = (int)(i % (size_t)T);
        tokens[i] = t < 2 ? FRZ_TOKEN_EMBEDDING : (int32_t)(frz_rng_next(&rng) % 50257);
        for (int k = 0; k < 768; k++) embd[i * 768 + k] = (float)(0.02 * frz_rng_normal(&rng));
    }
    for (size_t i = 0; i < n; i++) {
        const int t = (int)(i % (size_t)T);
        targets[i] = t >= 1 && t < T - 1 ? tokens[i + 1] : -1;
    }
    double *tf = malloc((size_t)reps * sizeof *tf), *tb = malloc((size_t)reps * sizeof *tb);
    double *ts = malloc((size_t)reps * sizeof *ts), *tc = malloc((size_t)reps * sizeof *tc);
    float loss = 0;
    for (int r = -1; r < reps; r++) {
        memset(d_embd, 0, n * 768 * sizeof *d_embd);
        double c0 = clock_ms(CLOCK_PROCESS_CPUTIME_ID), t0 = now_ms();
        if (frz_gpt2_train_forward(ws, tokens, embd, targets, nth, &loss)) return 1;
        double t1 = now_ms();
        if (frz_gpt2_train_backward(ws, d_embd, g, nth)) return 1;
        double t2 = now_ms(), c2 = clock_ms(CLOCK_PROCESS_CPUTIME_ID);
        if (r >= 0) tf[r] = t1 - t0, tb[r] = t2 - t1, ts[r] = t2 - t0, tc[r] = c2 - c0;
    }
    printf("loss %.4f\n", (double)loss);
    printf("forward_ms %.1f\nbackward_ms %.1f\nstep_ms %.1f\nstep_cpu_ms %.1f\nws_mb %.1f\n", median(tf, reps),
           median(tb, reps), median(ts, reps), median(tc, reps), frz_gpt2_train_ws_bytes(ws) / 1048576.0);
    free(tokens), free(targets), free(embd), free(d_embd), free(tf), free(tb), free(ts), free(tc);
    frz_gpt2_grads_free(g);
    frz_gpt2_train_ws_free(ws);
    frz_lm_free(lm);
    return 0;
}
