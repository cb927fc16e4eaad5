/* bench_nfresnet.c -- forward+backward throughput of libfrozen's NF-ResNet encoder (the PyTorch peer is
 * tests/reference/nfresnet_ref.py bench). Internal API, so it links the static archive and includes src/.
 *
 * Build: cc -O2 -std=c11 -Iinclude -Isrc $(pkg-config --cflags openblas) bench/bench_nfresnet.c build/libfrozen.a \
 *            $(pkg-config --libs openblas libpcre2-8 jansson) -lm -fopenmp -o build/bench_nfresnet
 * Run:   OPENBLAS_CORETYPE=SkylakeX build/bench_nfresnet nf_resnet50 1.0 224 8 2 [iters]
 * One warm-up pass, then the best of iters passes of zero_grad + forward + backward (as the PyTorch side). */
#include "vision/nfresnet.h"
#include "math/rng.h"

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
    if (argc < 6) {
        fprintf(stderr, "usage: %s ARCH WIDTH SIZE BATCH THREADS [ITERS]\n", argv[0]);
        return 2;
    }
    const char *arch = argv[1];
    float width = (float)atof(argv[2]);
    int size = atoi(argv[3]), B = atoi(argv[4]), threads = atoi(argv[5]), iters = argc > 6 ? atoi(argv[6]) : 3;
    frz_nfr_config cfg;
    frz_nfr_model *m;
    frz_nfr_state *st;
    if (frz_nfr_config_named(arch, width, &cfg) != FRZ_OK || frz_nfr_create(&cfg, &m) != FRZ_OK ||
        frz_nfr_state_create(m, B, size, size, &st) != FRZ_OK) {
        fprintf(stderr, "%s\n", frz_last_error());
        return 1;
    }
    frz_nfr_init(m, 1);
    size_t n_img = (size_t)B * 3 * size * size, n_out = (size_t)B * m->arch.num_features;
    float *img = malloc(n_img * sizeof *img), *pooled = malloc(n_out * sizeof *pooled), *r = malloc(n_out * sizeof *r);
    frz_rng rng;
    frz_rng_seed(&rng, 2);
    for (size_t i = 0; i < n_img; i++) img[i] = (float)frz_rng_normal(&rng);
    for (size_t i = 0; i < n_out; i++) r[i] = (float)frz_rng_normal(&rng);

    double best = 1e30, best_f = 1e30;
    for (int it = 0; it <= iters; it++) {
        double t0 = now();
        frz_nfr_zero_grad(m, threads);
        frz_nfr_forward(m, st, img, pooled, threads);
        double t1 = now();
        frz_nfr_backward(m, st, r, NULL, threads);
        double t2 = now();
        if (it > 0 && t2 - t0 < best) best = t2 - t0;
        if (it > 0 && t1 - t0 < best_f) best_f = t1 - t0;
    }
    printf("libfrozen %s width %g %dpx batch %d threads %d: forward+backward %.1f ms (forward %.1f ms) best of %d "
           "-> %.2f images/s; %zu parameters, activation arena %.0f MB\n",
           arch, (double)width, size, B, threads, best * 1e3, best_f * 1e3, iters, B / best, m->arch.n_params,
           frz_nfr_state_bytes(st) / 1e6);
    free(img); free(pooled); free(r);
    frz_nfr_state_free(st);
    frz_nfr_free(m);
    return 0;
}
