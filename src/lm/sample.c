/* sample.c -- greedy, temperature, top-k and top-p (nucleus) token choice.
 *
 * Determinism: candidates are ordered by (logit descending, id ascending), a total order, so which tokens are
 * kept never depends on how they were found, and a draw uses exactly one number from the session's
 * xoshiro256** stream (math/rng.h): the same seed gives the same tokens. */
#include "lm/sample.h"

#include <math.h>

static int better(const frz_cand *a, const frz_cand *b)
{
    return a->logit > b->logit || (a->logit == b->logit && a->id < b->id);
}

static void swap(frz_cand *a, frz_cand *b)
{
    frz_cand t = *a;
    *a = *b;
    *b = t;
}

/* Restores the heap order below i in a heap whose root is the worst of its k entries. */
static void sift_down(frz_cand *h, size_t k, size_t i)
{
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, w = i;
        if (l < k && better(&h[w], &h[l])) w = l;
        if (r < k && better(&h[w], &h[r])) w = r;
        if (w == i) return;
        swap(&h[i], &h[w]);
        i = w;
    }
}

/* Moves the k best of c[0..n) to c[0..k), best first: a heap of the k best so far (O(n log k)), then a heap
 * sort of those k. */
static void top_sorted(frz_cand *c, size_t n, size_t k)
{
    for (size_t i = k / 2; i-- > 0;) sift_down(c, k, i);
    for (size_t i = k; i < n; i++)
        if (better(&c[i], &c[0])) {
            swap(&c[0], &c[i]);
            sift_down(c, k, 0);
        }
    /* pop the worst to the back, repeatedly: c[0..k) ends up best first */
    for (size_t end = k; end > 1; end--) {
        swap(&c[0], &c[end - 1]);
        sift_down(c, end - 1, 0);
    }
}

static int32_t argmax(const float *logits, int V)
{
    int32_t best = 0;
    for (int32_t i = 1; i < V; i++)
        if (logits[i] > logits[best]) best = i;
    return best;
}

int32_t frz_sample(const float *logits, int V, float temperature, int top_k, float top_p, frz_rng *rng,
                   frz_cand *cand)
{
    if (!(temperature > 0.0f)) return argmax(logits, V);
    size_t n = (size_t)V;
    for (size_t i = 0; i < n; i++) cand[i] = (frz_cand){logits[i], (int32_t)i};
    size_t n_sorted = 0; /* cand[0..n_sorted) are the best, in order */
    if (top_k > 0 && (size_t)top_k < n) {
        top_sorted(cand, n, (size_t)top_k);
        n = n_sorted = (size_t)top_k;
    }

    /* weights exp((logit - max) / T) in double; their sum is the softmax's denominator */
    float mx = cand[0].logit;
    for (size_t i = 1; i < n; i++) mx = cand[i].logit > mx ? cand[i].logit : mx;
    const double inv_t = 1.0 / (double)temperature;
    double total = 0.0;
    for (size_t i = 0; i < n; i++) total += exp(((double)cand[i].logit - mx) * inv_t);

    if (top_p < 1.0f) {
        /* the nucleus: sort a growing prefix until it holds top_p of the mass (usually a few dozen tokens) */
        const double want = (double)top_p * total;
        size_t keep = 0;
        for (size_t k = FRZ_MIN(n, (size_t)64);; k = FRZ_MIN(n, k * 8)) {
            if (k > n_sorted) top_sorted(cand, n, k);
            n_sorted = k;
            double mass = 0.0;
            for (keep = 0; keep < k;) {
                mass += exp(((double)cand[keep].logit - mx) * inv_t);
                keep++;
                if (mass >= want) break;
            }
            if (mass >= want || k == n) break;
        }
        n = keep > 0 ? keep : 1;
        total = 0.0;
        for (size_t i = 0; i < n; i++) total += exp(((double)cand[i].logit - mx) * inv_t);
    }

    /* one uniform draw, walked through the kept candidates in their order */
    const double u = frz_rng_uniform(rng) * total;
    double acc = 0.0;
    for (size_t i = 0; i < n; i++) {
        acc += exp(((double)cand[i].logit - mx) * inv_t);
        if (u < acc) return cand[i].id;
    }
    return cand[n - 1].id; /* rounding left u at the very top */
}
