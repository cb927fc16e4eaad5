/* bench_lm_dev.c -- developer timing of the LM forward on a random GPT-2-small-shaped model (12 x 768, vocab
 * 50257, 1024 positions): prefill of a ragged batch of 8 x 32 tokens, and greedy decode at batch 1.
 * Not part of `make bench` (bench/run.sh is the benchmark beside PyTorch); a quick loop for kernel work:
 *   make && cc -O2 -fopenmp -Iinclude -Isrc $(pkg-config --cflags openblas jansson) bench/bench_lm_dev.c \
 *       lib/libfrozen.a $(pkg-config --libs openblas jansson libpcre2-8 libpng16 libjpeg) -lm -o /tmp/bench
 *   OPENBLAS_CORETYPE=SkylakeX /tmp/bench [threads=2] [decode_tokens=64] [prompt_len=32] */
#include "lm/gpt2.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

int main(int argc, char **argv)
{
    int nth = argc > 1 ? atoi(argv[1]) : 2;
    int n_decode = argc > 2 ? atoi(argv[2]) : 64;
    int prompt_len = argc > 3 ? atoi(argv[3]) : 32;
    frz_gpt2_config cfg;
    frz_gpt2_config_init(&cfg, 12, 12, 768, 50257, 1024);
    frz_lm *lm;
    if (frz_gpt2_create_random(&cfg, 1, &lm)) { fprintf(stderr, "%s\n", frz_last_error()); return 1; }
    frz_session *s;
    frz_session_create(lm, &s);
    frz_session_set_int(s, FRZ_OPT_THREADS, nth);
    frz_session_set_int(s, FRZ_OPT_MAX_SEQS, 8);
    printf("BLAS core %s, %d threads\n", frz_blas_corename(), nth);

    int32_t *ids = malloc(8 * (size_t)prompt_len * sizeof *ids);
    for (int i = 0; i < 8 * prompt_len; i++) ids[i] = (i * 7919) % 50257;
    frz_input in[8];
    for (int i = 0; i < 8; i++) in[i] = (frz_input){i, (size_t)prompt_len, ids + i * prompt_len, NULL};
    double best = 1e9;
    for (int rep = 0; rep < 4; rep++) {
        frz_session_seq_truncate(s, -1, 0);
        double t0 = now();
        if (frz_session_eval(s, in, 8, FRZ_LOGITS_LAST)) { fprintf(stderr, "%s\n", frz_last_error()); return 1; }
        double dt = now() - t0;
        if (dt < best) best = dt;
    }
    printf("prefill 8 x %d: %.1f ms, %.0f tokens/s\n", prompt_len, best * 1e3, 8 * prompt_len / best);

    /* decode: best of 3 runs of n_decode tokens after the same prompt */
    frz_generate_params gp;
    frz_generate_params_init(&gp);
    gp.max_tokens = n_decode;
    gp.stop_at_eot = 0;
    int32_t *out = malloc((size_t)n_decode * sizeof *out);
    size_t n_out = 0;
    best = 1e9;
    for (int rep = 0; rep < 3; rep++) {
        frz_session_seq_truncate(s, -1, 0);
        frz_session_eval(s, in, 1, FRZ_LOGITS_LAST);
        double t0 = now();
        if (frz_generate(s, 0, &gp, out, (size_t)n_decode, &n_out)) {
            fprintf(stderr, "%s\n", frz_last_error());
            return 1;
        }
        double dt = now() - t0;
        if (dt < best) best = dt;
    }
    printf("greedy decode batch 1: %zu tokens in %.1f ms, %.1f tokens/s\n", n_out, best * 1e3, (double)n_out / best);
    frz_session_free(s);
    frz_lm_free(lm);
    free(ids);
    free(out);
    return 0;
}
