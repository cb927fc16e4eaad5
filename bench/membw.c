/* membw.c -- sustained memory read bandwidth: the sum of a 1 GB float array, in T threads, best of several.
 *
 * Decoding one token at batch 1 reads every weight once, so bandwidth / (bytes of weights) bounds the decode
 * rate; bench/run.sh divides by the weight bytes bench_lm reports. The array is 4x larger than any cache and
 * first touched by the threads that read it (so pages sit on their NUMA node). Each thread sums its half with
 * 16 independent accumulators so the loop is limited by memory, not by the add latency.
 *
 * Build: cc -O3 -march=native -fopenmp bench/membw.c -o membw.   Run: membw [threads] [MB] [repeats]
 * Prints "membw_gb_s X" (GB = 1e9 bytes). */
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>

#define LANES 16

static double sum_range(const float *a, size_t n)
{
    float acc[LANES] = {0};
    size_t i = 0;
    for (; i + LANES <= n; i += LANES)
        for (int k = 0; k < LANES; k++) acc[k] += a[i + k];
    double s = 0;
    for (int k = 0; k < LANES; k++) s += acc[k];
    for (; i < n; i++) s += a[i];
    return s;
}

int main(int argc, char **argv)
{
    int threads = argc > 1 ? atoi(argv[1]) : 2;
    size_t mb = argc > 2 ? (size_t)atol(argv[2]) : 1024;
    int repeats = argc > 3 ? atoi(argv[3]) : 5;
    if (threads < 1 || mb < 1 || repeats < 1) {
        fprintf(stderr, "usage: membw [threads] [MB] [repeats]\n");
        return 2;
    }
    size_t n = mb * 1000 * 1000 / sizeof(float);
    float *a = malloc(n * sizeof *a);
    if (!a) {
        fprintf(stderr, "membw: cannot allocate %zu MB\n", mb);
        return 1;
    }
#pragma omp parallel for num_threads(threads) schedule(static)
    for (size_t i = 0; i < n; i++) a[i] = (float)(i & 1023) * 1e-3f;

    double best = 0, check = 0;
    for (int r = 0; r < repeats; r++) {
        double total = 0;
        double t0 = omp_get_wtime();
#pragma omp parallel num_threads(threads) reduction(+ : total)
        {
            /* contiguous chunks, the same split as the first touch above */
            size_t nt = (size_t)omp_get_num_threads(), id = (size_t)omp_get_thread_num();
            size_t lo = n * id / nt, hi = n * (id + 1) / nt;
            total += sum_range(a + lo, hi - lo);
        }
        double dt = omp_get_wtime() - t0;
        double gbs = (double)(n * sizeof *a) / dt / 1e9;
        if (gbs > best) best = gbs;
        check = total;
    }
    printf("membw_gb_s %.3f\n", best);
    fprintf(stderr, "membw: %d threads, %zu MB, best of %d (checksum %.6g)\n", threads, mb, repeats, check);
    free(a);
    return 0;
}
