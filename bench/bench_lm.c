/* bench_lm.c -- LM throughput of libfrozen through its public API (the PyTorch peer is bench/torch_lm.py).
 *
 * (a) prefill: 8 sequence slots x 32 tokens in one frz_session_eval (FRZ_LOGITS_LAST), tokens/s;
 * (b) decode: batch 1 with the KV cache: prefill a 16-token prompt, then 64 single-token evals, each fed the
 *     argmax of the previous logits (greedy), tokens/s; and the same 64 tokens through frz_generate;
 * (c) a long prompt: one sequence of LONG_T tokens (the model's context if shorter) in one eval, tokens/s --
 *     where attention's share grows with the square of the length.
 * Warm-up runs first; each figure is the median of REPS runs.
 *
 * Build (bench/run.sh does): cc -O2 -Iinclude bench/bench_lm.c lib/libfrozen.a $(pkg-config --libs ...) -fopenmp
 * Run: bench_lm MODEL_DIR [threads] [reps]
 * Prints "key value" lines: prefill_tok_s, decode_tok_s, generate_tok_s, prefill_long_tok_s, long_tokens,
 * weight_bytes_per_token, blas_core. */
#include "frozen.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define PREFILL_B 8
#define PREFILL_T 32
#define DECODE_PROMPT 16
#define DECODE_N 64
#define LONG_T 1024
#define MAX_REPS 64

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

static void die(const char *what, frz_status st)
{
    fprintf(stderr, "bench_lm: %s: %s: %s\n", what, frz_strerror(st), frz_last_error());
    exit(1);
}

#define CHECK(what, call)                      \
    do {                                       \
        frz_status st_ = (call);               \
        if (st_ != FRZ_OK) die((what), st_);   \
    } while (0)

/* Deterministic pseudo-random token ids in [0, n_vocab). */
static void fill_ids(int32_t *ids, size_t n, int64_t n_vocab, unsigned seed)
{
    unsigned long long x = 0x9E3779B97F4A7C15ull * (seed + 1);
    for (size_t i = 0; i < n; i++) {
        x = x * 6364136223846793005ull + 1442695040888963407ull;
        ids[i] = (int32_t)((x >> 33) % (unsigned long long)n_vocab);
    }
}

static int32_t argmax(const float *v, int64_t n)
{
    int32_t best = 0;
    for (int64_t i = 1; i < n; i++)
        if (v[i] > v[best]) best = (int32_t)i;
    return best;
}

/* One prefill of PREFILL_B sequences x PREFILL_T tokens; returns seconds. */
static double run_prefill(frz_session *s, const int32_t *ids)
{
    frz_input in[PREFILL_B];
    for (int b = 0; b < PREFILL_B; b++) in[b] = (frz_input){b, PREFILL_T, ids + b * PREFILL_T, NULL};
    CHECK("clearing the sequences", frz_session_seq_truncate(s, -1, 0));
    double t0 = now();
    CHECK("prefill eval", frz_session_eval(s, in, PREFILL_B, FRZ_LOGITS_LAST));
    return now() - t0;
}

/* One prefill of a single sequence of n tokens; returns seconds. */
static double run_long(frz_session *s, const int32_t *ids, size_t n)
{
    frz_input in = {0, n, ids, NULL};
    CHECK("clearing the sequence", frz_session_seq_truncate(s, -1, 0));
    double t0 = now();
    CHECK("long prompt eval", frz_session_eval(s, &in, 1, FRZ_LOGITS_LAST));
    return now() - t0;
}

/* Greedy decode of DECODE_N tokens by single-token evals after a prompt; returns seconds for the decode. */
static double run_decode(frz_session *s, const int32_t *prompt, int64_t n_vocab)
{
    CHECK("clearing the sequence", frz_session_seq_truncate(s, 0, 0));
    frz_input in = {0, DECODE_PROMPT, prompt, NULL};
    CHECK("prompt eval", frz_session_eval(s, &in, 1, FRZ_LOGITS_LAST));
    double t0 = now();
    for (int i = 0; i < DECODE_N; i++) {
        int32_t next = argmax(frz_session_logits(s, 0), n_vocab);
        frz_input one = {0, 1, &next, NULL};
        CHECK("decode eval", frz_session_eval(s, &one, 1, FRZ_LOGITS_LAST));
    }
    return now() - t0;
}

/* The same decode through frz_generate (greedy, not stopping at <|endoftext|>); returns seconds. */
static double run_generate(frz_session *s, const int32_t *prompt)
{
    CHECK("clearing the sequence", frz_session_seq_truncate(s, 0, 0));
    frz_input in = {0, DECODE_PROMPT, prompt, NULL};
    CHECK("prompt eval", frz_session_eval(s, &in, 1, FRZ_LOGITS_NONE));
    frz_generate_params gp;
    frz_generate_params_init(&gp);
    gp.max_tokens = DECODE_N;
    gp.stop_at_eot = 0;
    int32_t out[DECODE_N];
    size_t n_out = 0;
    double t0 = now();
    CHECK("generate", frz_generate(s, 0, &gp, out, DECODE_N, &n_out));
    double dt = now() - t0;
    if (n_out != DECODE_N) {
        fprintf(stderr, "bench_lm: generate made %zu tokens, not %d\n", n_out, DECODE_N);
        exit(1);
    }
    return dt;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: bench_lm MODEL_DIR [threads] [reps]\n");
        return 2;
    }
    int threads = argc > 2 ? atoi(argv[2]) : 2;
    int reps = argc > 3 ? atoi(argv[3]) : 5;
    if (threads < 1 || reps < 1 || reps > MAX_REPS) {
        fprintf(stderr, "bench_lm: threads >= 1, reps in 1..%d\n", MAX_REPS);
        return 2;
    }

    frz_lm *lm = NULL;
    CHECK("loading the model", frz_lm_load(argv[1], &lm));
    int64_t L = frz_lm_get(lm, FRZ_LM_N_LAYER), D = frz_lm_get(lm, FRZ_LM_N_EMBD);
    int64_t V = frz_lm_get(lm, FRZ_LM_N_VOCAB);
    /* Weights read per decoded token: each layer's 12 D^2 + 13 D (4D-wide MLP), ln_f, the tied LM head (all of
     * wte) and one row of wpe. */
    int64_t weight_bytes = 4 * (L * (12 * D * D + 13 * D) + 2 * D + V * D + D);

    int32_t prefill_ids[PREFILL_B * PREFILL_T], prompt[DECODE_PROMPT];
    fill_ids(prefill_ids, PREFILL_B * PREFILL_T, V, 1);
    fill_ids(prompt, DECODE_PROMPT, V, 2);
    double t[MAX_REPS];

    frz_session *s = NULL;
    CHECK("creating a session", frz_session_create(lm, &s));
    CHECK("threads", frz_session_set_int(s, FRZ_OPT_THREADS, threads));
    CHECK("sequence slots", frz_session_set_int(s, FRZ_OPT_MAX_SEQS, PREFILL_B));
    for (int i = 0; i < 2; i++) run_prefill(s, prefill_ids); /* warm-up: page in the weights, size buffers */
    for (int i = 0; i < reps; i++) t[i] = run_prefill(s, prefill_ids);
    double prefill = PREFILL_B * PREFILL_T / median(t, reps);
    frz_session_free(s);

    s = NULL;
    CHECK("creating a session", frz_session_create(lm, &s));
    CHECK("threads", frz_session_set_int(s, FRZ_OPT_THREADS, threads));
    run_decode(s, prompt, V);
    for (int i = 0; i < reps; i++) t[i] = run_decode(s, prompt, V);
    double decode = DECODE_N / median(t, reps);
    run_generate(s, prompt);
    for (int i = 0; i < reps; i++) t[i] = run_generate(s, prompt);
    double generate = DECODE_N / median(t, reps);
    frz_session_free(s);

    const int64_t n_ctx = frz_lm_get(lm, FRZ_LM_N_CTX);
    const size_t long_n = (size_t)(n_ctx < LONG_T ? n_ctx : LONG_T);
    static int32_t long_ids[LONG_T];
    fill_ids(long_ids, long_n, V, 3);
    s = NULL;
    CHECK("creating a session", frz_session_create(lm, &s));
    CHECK("threads", frz_session_set_int(s, FRZ_OPT_THREADS, threads));
    run_long(s, long_ids, long_n);
    for (int i = 0; i < reps; i++) t[i] = run_long(s, long_ids, long_n);
    double prefill_long = (double)long_n / median(t, reps);
    frz_session_free(s);
    frz_lm_free(lm);

    printf("prefill_tok_s %.3f\n", prefill);
    printf("decode_tok_s %.3f\n", decode);
    printf("generate_tok_s %.3f\n", generate);
    printf("prefill_long_tok_s %.3f\n", prefill_long);
    printf("long_tokens %zu\n", long_n);
    printf("weight_bytes_per_token %lld\n", (long long)weight_bytes);
    printf("blas_core %s\n", frz_blas_corename());
    printf("threads %d\n", threads);
    return 0;
}
