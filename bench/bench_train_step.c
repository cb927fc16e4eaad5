/* bench_train_step.c -- one Frozen training step through libfrozen, timed: the trainer's own step function
 * (frz_step_run, src/train/step.h: NF-ResNet forward -> projector -> frozen GPT-2 training forward and backward
 * to the prefix -> projector backward -> encoder backward), then what the trainer's update does (global
 * gradient norm, frz_adam_update over the encoder and the projector). Synthetic in-memory images and captions,
 * so no decoding is timed. Not a test; bench/train_step.sh runs it beside bench/torch_train_step.py.
 *
 *   bench_train_step LM_DIR ARCH SIZE BATCH PREFIX TOKENS THREADS REPS [WIDTH]
 * e.g. bench_train_step bench/out/gpt2-small-random nf_resnet50 224 8 2 16 2 3
 *      bench_train_step models/demo-lm tiny 32 32 7 10 2 3 0.5      (the demo's step)
 * Every caption has TOKENS tokens, so the LM sees PREFIX + TOKENS positions and PREFIX - 1 + TOKENS + 1 targets.
 *
 * The parts: the program is linked with -Wl,--wrap for the encoder, projector and LM calls that step.c makes,
 * so the wrappers below time them inside the real step (nothing is re-driven on the side):
 *   vision  frz_nfr_forward + frz_nfr_backward
 *   lm      frz_gpt2_train_forward + frz_gpt2_train_backward (no weight gradients: the LM is frozen)
 *   other   step - vision - lm: projector forward/backward, sequence layout, clearing gradients, norm, Adam
 *   proj_adam  projector forward + backward + norm + Adam alone (the bulk of "other")
 * One warm-up step (it allocates the gradients and the LM workspace), then REPS steps; prints medians in
 * milliseconds as "key value" lines, and the peak resident memory (VmHWM) of the steps: the high-water mark is
 * reset (/proc/self/clear_refs) once everything is loaded and allocated, so loading the LM does not count, but
 * the resident LM weights, the encoder, its activations and Adam's moments do. */
#include "frozen.h"
#include "math/rng.h"
#include "train/adam.h"
#include "train/step.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---- the wrapped calls (-Wl,--wrap=NAME sends step.c's calls to __wrap_NAME) ---------------------------- */
frz_status __real_frz_nfr_forward(const frz_nfr_model *m, frz_nfr_state *st, const float *images, float *pooled,
                                  int n_threads);
frz_status __real_frz_nfr_backward(frz_nfr_model *m, frz_nfr_state *st, const float *d_pooled, float *d_images,
                                   int n_threads);
frz_status __real_frz_gpt2_train_forward(frz_gpt2_train_ws *ws, const int32_t *tokens, const float *embd,
                                         const int32_t *targets, int n_threads, float *loss);
frz_status __real_frz_gpt2_train_backward(frz_gpt2_train_ws *ws, float *d_embd, frz_gpt2_grads *grads,
                                          int n_threads);
void __real_frz_proj_forward(const frz_projector *p, float *out, const float *pooled, int B, int n_threads);
void __real_frz_proj_backward(frz_projector *p, float *d_pooled, const float *d_out, const float *pooled, int B,
                              int n_threads);
frz_status __wrap_frz_nfr_forward(const frz_nfr_model *m, frz_nfr_state *st, const float *images, float *pooled,
                                  int n_threads);
frz_status __wrap_frz_nfr_backward(frz_nfr_model *m, frz_nfr_state *st, const float *d_pooled, float *d_images,
                                   int n_threads);
frz_status __wrap_frz_gpt2_train_forward(frz_gpt2_train_ws *ws, const int32_t *tokens, const float *embd,
                                         const int32_t *targets, int n_threads, float *loss);
frz_status __wrap_frz_gpt2_train_backward(frz_gpt2_train_ws *ws, float *d_embd, frz_gpt2_grads *grads,
                                          int n_threads);
void __wrap_frz_proj_forward(const frz_projector *p, float *out, const float *pooled, int B, int n_threads);
void __wrap_frz_proj_backward(frz_projector *p, float *d_pooled, const float *d_out, const float *pooled, int B,
                              int n_threads);

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static double cpu_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* Milliseconds spent in the wrapped calls since the last reset. */
static double vision_ms, lm_ms, proj_ms;
static int wraps_seen; /* bit per wrapper: proves the link really routed step.c through them */

frz_status __wrap_frz_nfr_forward(const frz_nfr_model *m, frz_nfr_state *st, const float *images, float *pooled,
                                  int n_threads)
{
    double t0 = now_ms();
    frz_status rc = __real_frz_nfr_forward(m, st, images, pooled, n_threads);
    vision_ms += now_ms() - t0, wraps_seen |= 1;
    return rc;
}

frz_status __wrap_frz_nfr_backward(frz_nfr_model *m, frz_nfr_state *st, const float *d_pooled, float *d_images,
                                   int n_threads)
{
    double t0 = now_ms();
    frz_status rc = __real_frz_nfr_backward(m, st, d_pooled, d_images, n_threads);
    vision_ms += now_ms() - t0, wraps_seen |= 2;
    return rc;
}

frz_status __wrap_frz_gpt2_train_forward(frz_gpt2_train_ws *ws, const int32_t *tokens, const float *embd,
                                         const int32_t *targets, int n_threads, float *loss)
{
    double t0 = now_ms();
    frz_status rc = __real_frz_gpt2_train_forward(ws, tokens, embd, targets, n_threads, loss);
    lm_ms += now_ms() - t0, wraps_seen |= 4;
    return rc;
}

frz_status __wrap_frz_gpt2_train_backward(frz_gpt2_train_ws *ws, float *d_embd, frz_gpt2_grads *grads,
                                          int n_threads)
{
    double t0 = now_ms();
    frz_status rc = __real_frz_gpt2_train_backward(ws, d_embd, grads, n_threads);
    lm_ms += now_ms() - t0, wraps_seen |= 8;
    return rc;
}

void __wrap_frz_proj_forward(const frz_projector *p, float *out, const float *pooled, int B, int n_threads)
{
    double t0 = now_ms();
    __real_frz_proj_forward(p, out, pooled, B, n_threads);
    proj_ms += now_ms() - t0, wraps_seen |= 16;
}

void __wrap_frz_proj_backward(frz_projector *p, float *d_pooled, const float *d_out, const float *pooled, int B,
                              int n_threads)
{
    double t0 = now_ms();
    __real_frz_proj_backward(p, d_pooled, d_out, pooled, B, n_threads);
    proj_ms += now_ms() - t0, wraps_seen |= 32;
}

/* ---- helpers ------------------------------------------------------------------------------------------ */
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

/* A "VmHWM:" style line of /proc/self/status, in MB (0 if unreadable). */
static double status_mb(const char *key)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    double kb = 0;
    size_t n = strlen(key);
    while (f && fgets(line, sizeof line, f))
        if (strncmp(line, key, n) == 0) kb = atof(line + n);
    if (f) fclose(f);
    return kb / 1024.0;
}

static void reset_peak(void)
{
    FILE *f = fopen("/proc/self/clear_refs", "w"); /* "5": VmHWM := VmRSS (Linux >= 4.0) */
    if (f) fputs("5", f), fclose(f);
}

_Noreturn static void die(const char *what)
{
    fprintf(stderr, "bench_train_step: %s: %s\n", what, frz_last_error());
    exit(1);
}

/* The moments of Adam for the encoder and the projector, as the trainer keeps them. */
typedef struct moments {
    float *m_enc, *v_enc, *m_proj, *v_proj;
} moments;

/* The trainer's update (trainer.c): global gradient norm, clip factor (clipping off by default), Adam. */
static void update(frz_nfr_model *enc, frz_projector *proj, moments *mo, int64_t t, int nth)
{
    const size_t ne = enc->arch.n_params, np = proj->n_params;
    double sq = frz_sum_squares(enc->grads, ne, nth) + frz_sum_squares(proj->grads, np, nth);
    if (!isfinite(sq)) return;
    const float scale = frz_clip_scale(sqrt(sq), 0.0f);
    const frz_adam_hp hp = {3e-4f, 0.9f, 0.95f, 1e-8f, 0.0f};
    frz_adam_update(enc->params, enc->grads, mo->m_enc, mo->v_enc, ne, &hp, t, scale, nth);
    frz_adam_update(proj->params, proj->grads, mo->m_proj, mo->v_proj, np, &hp, t, scale, nth);
}

int main(int argc, char **argv)
{
    if (argc < 9) {
        fprintf(stderr, "usage: %s LM_DIR ARCH SIZE BATCH PREFIX TOKENS THREADS REPS [WIDTH]\n", argv[0]);
        return 2;
    }
    const char *lm_dir = argv[1], *arch = argv[2];
    const int R = atoi(argv[3]), B = atoi(argv[4]), P = atoi(argv[5]), L = atoi(argv[6]), nth = atoi(argv[7]),
              reps = atoi(argv[8]);
    const float width = argc > 9 ? (float)atof(argv[9]) : 1.0f;  /* the encoder's channel multiplier */
    if (R < 1 || B < 1 || P < 1 || L < 1 || nth < 1 || reps < 1) {
        fprintf(stderr, "bench_train_step: sizes, threads and reps must be positive\n");
        return 2;
    }

    frz_lm *lm;
    frz_nfr_config cfg;
    frz_nfr_model *enc;
    frz_projector *proj;
    frz_step *step;
    if (frz_lm_load(lm_dir, &lm) != FRZ_OK) die(lm_dir);
    const int C = lm->cfg.n_embd, V = lm->cfg.n_vocab;
    if (frz_nfr_config_named(arch, width, &cfg) != FRZ_OK || frz_nfr_create(&cfg, &enc) != FRZ_OK) die(arch);
    frz_nfr_init(enc, 1);
    const int F = enc->arch.num_features;
    if (frz_proj_create(F, P, C, &proj) != FRZ_OK) die("projector");
    frz_proj_init(proj, 2, 1.0);
    if (frz_step_create(lm, enc, proj, B, 0, R, L, &step) != FRZ_OK) die("step");

    /* Synthetic batch: normal pixels (the encoder's input is normalised), random caption tokens (not <|endoftext|>). */
    const size_t n_img = (size_t)B * 3 * R * R;
    float *images = malloc(n_img * sizeof *images);
    int32_t *tokens = malloc((size_t)B * L * sizeof *tokens), *len = malloc((size_t)B * sizeof *len);
    moments mo = {calloc(enc->arch.n_params, sizeof(float)), calloc(enc->arch.n_params, sizeof(float)),
                  calloc(proj->n_params, sizeof(float)), calloc(proj->n_params, sizeof(float))};
    double *t_step = malloc((size_t)reps * sizeof(double)), *t_cpu = malloc((size_t)reps * sizeof(double));
    double *t_vis = malloc((size_t)reps * sizeof(double)), *t_lm = malloc((size_t)reps * sizeof(double));
    double *t_other = malloc((size_t)reps * sizeof(double)), *t_pa = malloc((size_t)reps * sizeof(double));
    if (!images || !tokens || !len || !mo.m_enc || !mo.v_enc || !mo.m_proj || !mo.v_proj || !t_step || !t_cpu ||
        !t_vis || !t_lm || !t_other || !t_pa) {
        fprintf(stderr, "bench_train_step: out of memory\n");
        return 1;
    }
    frz_rng rng;
    frz_rng_seed(&rng, 3);
    for (size_t i = 0; i < n_img; i++) images[i] = (float)frz_rng_normal(&rng);
    for (int i = 0; i < B * L; i++) tokens[i] = (int32_t)(frz_rng_next(&rng) % (uint64_t)(V - 1));
    for (int b = 0; b < B; b++) len[b] = L;

    const double load_peak = status_mb("VmHWM:");
    reset_peak();
    float loss = 0.0f;
    int64_t n_targets = 0;
    for (int r = -1; r < reps; r++) {
        vision_ms = lm_ms = proj_ms = 0.0;
        const double c0 = cpu_ms(), t0 = now_ms();
        if (frz_step_zero_grads(step, nth) != FRZ_OK ||
            frz_step_run(step, images, tokens, L, len, 1, 1.0f, nth, &loss, &n_targets) != FRZ_OK)
            die("step");
        const double t1 = now_ms();
        update(enc, proj, &mo, (int64_t)r + 2, nth);
        const double t2 = now_ms(), c2 = cpu_ms();
        if (r < 0) continue;
        t_step[r] = t2 - t0, t_cpu[r] = c2 - c0, t_vis[r] = vision_ms, t_lm[r] = lm_ms;
        t_other[r] = t2 - t0 - vision_ms - lm_ms, t_pa[r] = proj_ms + (t2 - t1);
    }
    if (wraps_seen != 63) {
        fprintf(stderr, "bench_train_step: the step did not go through the timing wrappers (link with -Wl,--wrap)\n");
        return 1;
    }
    const double step_ms = median(t_step, reps);
    printf("side libfrozen\nconfig %s %g %dpx batch %d prefix %d tokens %d threads %d\n", arch, (double)width, R, B,
           P, L, nth);
    printf("blas_core %s\nloss %.4f\ntargets %lld\n", frz_blas_corename(), (double)loss, (long long)n_targets);
    printf("vision_ms %.1f\nlm_ms %.1f\nother_ms %.1f\nproj_adam_ms %.1f\nstep_ms %.1f\nstep_cpu_ms %.1f\n",
           median(t_vis, reps), median(t_lm, reps), median(t_other, reps), median(t_pa, reps), step_ms,
           median(t_cpu, reps));
    printf("images_s %.3f\npeak_mb %.0f\nload_peak_mb %.0f\n", B / (step_ms / 1e3), status_mb("VmHWM:"), load_peak);
    printf("params_vision %zu\nparams_projector %zu\n", enc->arch.n_params, proj->n_params);

    free(images), free(tokens), free(len);
    free(mo.m_enc), free(mo.v_enc), free(mo.m_proj), free(mo.v_proj);
    free(t_step), free(t_cpu), free(t_vis), free(t_lm), free(t_other), free(t_pa);
    frz_step_free(step);
    frz_proj_free(proj);
    frz_nfr_free(enc);
    frz_lm_free(lm);
    return 0;
}
