/* bench_fewshot.c -- few-shot evaluation throughput with and without prompt caching: the driver `frozen eval`
 * runs (src/prompt/fewshot.h), on data it writes itself, cached and uncached, side by side.
 *
 *   binding   2-way, 5-inner-shot concept binding with task induction: QPS queries per support set, so a
 *             support (the instruction, 10 images and their captions) is shared by QPS episodes
 *   vqa       4-shot VQA, shots drawn per question (the paper's protocol: little is shared)
 *   vqa-sh    4-shot VQA with one support set for every question (--shared-shots)
 *
 * Each line gives queries/s uncached and cached, by wall time and by process CPU time (all threads; steadier on
 * a machine other processes load), the speedups, and whether both runs wrote identical results (they must:
 * caching changes nothing but the time). Modes alternate for BENCH_ROUNDS rounds (default 2); the best is kept.
 * On a loaded machine run it with OMP_WAIT_POLICY=passive (spinning OpenMP threads then cost several-fold).
 * BENCH_BATCH sets the driver's batch (queries sharing a support decoded together; default 8). Decoding is greedy to <|endoftext|>, a newline or
 * MAX_TOKENS (default 4: a one-word answer and its end; a random model never ends on its own, so a larger cap
 * measures decoding, not prompts).
 *
 * Under the binding line, "BLAS-only ceiling": the same run's language-model work reduced to its weight products
 * (through the library's own frz_gemm_acc, on matrices of the model's shapes), counted from the driver's own
 * tallies (support chunks and their positions, the queries' batched evaluations, the decoding steps): the
 * speedup caching would give if the language model's work were only its matrix products (attention, norms,
 * activations, copies free) and no image had to be encoded (the images cost both modes the same, which only
 * lowers the ratio). It is not a strict bound -- attention and the rest scale with positions, as the products
 * do -- but it says where the target sits against what this BLAS does. A second figure adds the encoder's conv
 * products for the images the run encoded (the same in both modes, so it lowers the ratio).
 *
 * Model: bench/out/gpt2-small-random if it exists (bench/run.sh or bench/make_gpt2_small.py makes it), else the
 * small test LM tests/fixtures/prompt/lm. Vision: a random NF-ResNet, arch BENCH_VISION (default "tiny"; set
 * nf_resnet50 for the paper's) at 224 pixels, width BENCH_VISION_WIDTH (default 0.25); images are encoded once
 * per file in both modes (the driver's memo), so the comparison is about the language model's prompt work.
 *
 * Build: cc -O2 -std=c11 -D_POSIX_C_SOURCE=200809L -Iinclude -Isrc $(pkg-config --cflags openblas) \
 *            bench/bench_fewshot.c lib/libfrozen.a $(pkg-config --libs openblas libpcre2-8 jansson libpng16 libjpeg) \
 *            -lm -fopenmp -o bench/out/bench_fewshot
 * Run (from the repository root): bench/out/bench_fewshot [threads] [queries per support set] [support sets]
 */
#include "api/api.h"
#include "lm_products.h"
#include "prompt/fewshot.h"
#include "vision/layers.h"
#include "vision/nfresnet_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define OUT "bench/out/fewshot"
#define N_IMAGES 64

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void die(const char *what, frz_status st)
{
    fprintf(stderr, "bench_fewshot: %s: %s: %s\n", what, frz_strerror(st), frz_last_error());
    exit(1);
}

static char *slurp(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *b = malloc((size_t)len + 1);
    if (b && fread(b, 1, (size_t)len, f) != (size_t)len) len = 0;
    fclose(f);
    *n = (size_t)len;
    return b;
}

static int same_file(const char *a, const char *b)
{
    size_t na, nb;
    char *x = slurp(a, &na), *y = slurp(b, &nb);
    int same = x && y && na == nb && memcmp(x, y, na) == 0;
    free(x), free(y);
    return same;
}

/* N_IMAGES image files img/i.jpg: copies of the fixture JPEGs (each file is encoded once per run). */
static void write_images(void)
{
    static const char *src[] = {"dax1.jpg", "dax2.jpg", "blicket1.jpg", "blicket2.jpg", "query1.jpg", "query2.jpg"};
    mkdir(OUT "/img", 0755);
    for (int i = 0; i < N_IMAGES; i++) {
        char from[256], to[256];
        snprintf(from, sizeof from, "tests/fixtures/eval/episodes/img/%s", src[i % 6]);
        snprintf(to, sizeof to, OUT "/img/%d.jpg", i);
        size_t n;
        char *b = slurp(from, &n);
        FILE *f = fopen(to, "wb");
        if (!b || !f || fwrite(b, 1, n, f) != n) {
            fprintf(stderr, "bench_fewshot: cannot write %s (run from the repository root)\n", to);
            exit(1);
        }
        fclose(f);
        free(b);
    }
}

/* sets x qps episodes; set s shows images 10s .. 10s+9 (5 per name); queries use the images after them. */
static void write_episodes(int sets, int qps)
{
    FILE *f = fopen(OUT "/episodes.jsonl", "w");
    for (int s = 0; s < sets; s++)
        for (int q = 0; q < qps; q++) {
            fprintf(f, "{\"id\": \"s%dq%d\", \"task_induction\": true, \"names\": [\"dax\", \"blicket\"], \"support\": [",
                    s, q);
            for (int k = 0; k < 10; k++)
                fprintf(f, "%s{\"image\": \"img/%d.jpg\", \"name\": \"%s\"}", k ? ", " : "", (10 * s + k) % N_IMAGES,
                        k % 2 ? "blicket" : "dax");
            fprintf(f, "], \"query\": {\"image\": \"img/%d.jpg\", \"answer\": \"%s\"}}\n", (10 * sets + q) % N_IMAGES,
                    q % 2 ? "blicket" : "dax");
        }
    fclose(f);
}

/* n questions (ids 1000+) and a support split of 40 (ids 2000+), COCO-named images. */
static void write_vqa(int n)
{
    static const char *qs[] = {"What color is the bus?", "How many dogs are there?", "Is it raining?",
                               "What is the man holding?", "What sport is this?", "Where is the cat?"};
    static const char *as[] = {"blue", "2", "no", "umbrella", "tennis", "on the couch"};
    for (int split = 0; split < 2; split++) {
        const int count = split ? 40 : n, base = split ? 2000 : 1000;
        char qp[256], ap[256];
        snprintf(qp, sizeof qp, OUT "/%s_questions.json", split ? "support" : "val");
        snprintf(ap, sizeof ap, OUT "/%s_annotations.json", split ? "support" : "val");
        FILE *q = fopen(qp, "w"), *a = fopen(ap, "w");
        fprintf(q, "{\"data_subtype\": \"%s\", \"questions\": [", split ? "train2014" : "val2014");
        fprintf(a, "{\"annotations\": [");
        for (int i = 0; i < count; i++) {
            const int id = base + i, img = base + i;
            fprintf(q, "%s{\"image_id\": %d, \"question\": \"%s\", \"question_id\": %d}", i ? ", " : "", img,
                    qs[i % 6], id);
            fprintf(a, "%s{\"question_id\": %d, \"image_id\": %d, \"multiple_choice_answer\": \"%s\", \"answers\": [",
                    i ? ", " : "", id, img, as[i % 6]);
            for (int k = 0; k < 10; k++) fprintf(a, "%s{\"answer\": \"%s\", \"answer_id\": %d}", k ? ", " : "",
                                                 as[(i + (k > 6)) % 6], k + 1);
            fprintf(a, "]}");
            char from[256], to[256];
            snprintf(from, sizeof from, OUT "/img/%d.jpg", i % N_IMAGES);
            snprintf(to, sizeof to, OUT "/img/COCO_%s_%012d.jpg", split ? "train2014" : "val2014", img);
            if (link(from, to) != 0 && access(to, F_OK) != 0) {
                fprintf(stderr, "bench_fewshot: cannot link %s\n", to);
                exit(1);
            }
        }
        fprintf(q, "]}\n");
        fprintf(a, "]}\n");
        fclose(q);
        fclose(a);
    }
}

/* ---- the BLAS-only ceiling ----------------------------------------------------------------------------------- */

/* Seconds of the conv products of one image's encode (each conv as one product, weights x unfolded input, through
 * frz_gemm_acc): the encoder's BLAS work, without unfolding, pooling or activations. */
static double encoder_products_s(const frz_vision *v, int threads)
{
    const int R = (int)frz_vision_get(v, FRZ_VISION_IMAGE_SIZE);
    const frz_nfr_arch *a = &v->m->arch;
    frz_nfr_state *st = NULL;
    if (frz_nfr_state_create_frozen(v->m, 1, R, R, &st) != FRZ_OK) return 0.0;
    enum { MAX_CONVS = 1 + 4 * FRZ_NFR_MAX_BLOCKS };
    const frz_nfr_conv_arch *conv[MAX_CONVS];
    int H[MAX_CONVS], n = 0;
    conv[n] = &a->stem, H[n++] = st->H;
    for (int i = 0; i < a->n_blocks; i++) { /* square maps: one side is enough */
        const frz_nfr_block_acts *b = &st->blocks[i];
        if (a->blocks[i].has_down) conv[n] = &a->down[i], H[n++] = b->p ? b->OH : b->H;
        conv[n] = &a->conv1[i], H[n++] = b->H;
        conv[n] = &a->conv2[i], H[n++] = b->H;
        conv[n] = &a->conv3[i], H[n++] = b->OH;
    }
    frz_nfr_state_free(st);
    size_t max_w = 0, max_col = 0, max_out = 0;
    int N[MAX_CONVS];
    for (int i = 0; i < n; i++) {
        frz_conv_shape cs;
        frz_conv_shape_init(&cs, 1, conv[i]->ic, H[i], H[i], conv[i]->oc, conv[i]->k, conv[i]->stride, conv[i]->pad);
        N[i] = cs.OH * cs.OW;
        const size_t ckk = (size_t)conv[i]->ic * conv[i]->k * conv[i]->k;
        if ((size_t)conv[i]->oc * ckk > max_w) max_w = (size_t)conv[i]->oc * ckk;
        if (ckk * N[i] > max_col) max_col = ckk * N[i];
        if ((size_t)conv[i]->oc * N[i] > max_out) max_out = (size_t)conv[i]->oc * N[i];
    }
    float *w = lm_products_filled(max_w), *col = lm_products_filled(max_col), *out = lm_products_filled(max_out);
    double best = 1e30;
    for (int pass = 0; pass < 6; pass++) {
        const double t0 = now();
        for (int i = 0; i < n; i++) {
            const int ckk = conv[i]->ic * conv[i]->k * conv[i]->k;
            frz_gemm_acc(CblasNoTrans, CblasNoTrans, conv[i]->oc, N[i], ckk, w, ckk, col, N[i], out, N[i], threads);
        }
        const double t = now() - t0;
        if (pass > 0 && t < best) best = t;
    }
    free(w), free(col), free(out);
    return best;
}

/* The cached and uncached runs' language-model work as weight products only: the speedup caching gives then. */
static void print_blas_ceiling(const frz_fewshot_progress *cached, const frz_fewshot_progress *uncached,
                               const frz_lm *lm, const frz_vision *v, int threads)
{
    if (!cached->chunks_evaluated || !cached->query_evals || !uncached->chunks_evaluated) return;
    const int support_rows = (int)((cached->support_positions + cached->chunks_evaluated / 2) / cached->chunks_evaluated);
    const int query_rows = (int)((cached->query_positions + cached->query_evals / 2) / cached->query_evals);
    const int queries = (int)((cached->scored + cached->query_evals / 2) / cached->query_evals);
    const int decode_rows = cached->decode_evals
                                ? (int)((cached->decode_rows + cached->decode_evals / 2) / cached->decode_evals)
                                : 0;
    const int max_rows = support_rows > query_rows ? support_rows : query_rows;
    lm_products b;
    lm_products_init(&b, (int)frz_lm_get(lm, FRZ_LM_N_LAYER), (int)frz_lm_get(lm, FRZ_LM_N_EMBD),
                     (int)frz_lm_get(lm, FRZ_LM_N_VOCAB), max_rows);
    const double support = lm_products_eval_s(&b, support_rows, 0, threads, 3);
    const double query = lm_products_eval_s(&b, query_rows, queries, threads, 3);
    const double step = decode_rows ? lm_products_eval_s(&b, decode_rows, decode_rows, threads, 3) : 0.0;
    const double shared = (double)cached->query_evals * query + (double)cached->decode_evals * step;
    const double c = (double)cached->chunks_evaluated * support + shared;
    const double u = (double)uncached->chunks_evaluated * support + shared;
    printf("%-36s products only (BLAS): %.2fx: supports %zu (uncached %zu) x %d positions %.1f ms, query evals %zu x %d "
           "positions %.1f ms, decoding steps %zu x %d rows %.1f ms\n", "", u / c, cached->chunks_evaluated,
           uncached->chunks_evaluated, support_rows, 1e3 * support, cached->query_evals, query_rows, 1e3 * query,
           cached->decode_evals, decode_rows, 1e3 * step);
    lm_products_free(&b);
    /* each query's own image too: the same work in both modes, so it lowers the ratio */
    const double image = encoder_products_s(v, threads), images = (double)cached->images_encoded * image;
    printf("%-36s with the images' conv products (%zu images x %.2f ms): %.2fx\n", "", cached->images_encoded,
           1e3 * image, (u + images) / (c + images));
}

typedef struct bench_ctx {
    frz_fewshot_params p;
    frz_vqa_set *val, *sup;
    frz_bind_set *eps;
} bench_ctx;

static double cpu_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* One task, uncached and cached, alternating for `rounds` rounds; each mode's best wall time and its least CPU
 * time (all threads) are kept: other processes on the machine only ever add to either. Prints the task's line. */
static void run_pair(bench_ctx *c, const char *name, int kind, size_t n_queries, int rounds)
{
    double wall[2] = {1e30, 1e30}, cpu[2] = {1e30, 1e30};
    char dirs[2][256];
    frz_fewshot_progress tally[2];
    memset(tally, 0, sizeof tally);
    for (int round = 0; round < rounds; round++)
        for (int cached = 0; cached < 2; cached++) {
            snprintf(dirs[cached], sizeof dirs[cached], OUT "/report-%s-%s", name, cached ? "cached" : "uncached");
            for (char *p = dirs[cached] + strlen(OUT "/"); *p; p++)
                if (*p == ' ' || *p == '(' || *p == ')' || *p == '/') *p = '_';
            frz_fewshot_params p = c->p;
            p.cache = cached;
            p.out_dir = dirs[cached];
            frz_fewshot_progress last = {0};
            p.progress_data = &last;
            const double t0 = now(), c0 = cpu_now();
            frz_status st;
            if (kind == 0) {
                frz_fewshot_binding b = {c->eps, "binding", -1, -1, NULL, NULL, NULL};
                st = frz_fewshot_run_binding(&p, &b);
            } else {
                static const int shots[1] = {4};
                frz_fewshot_vqa v = {c->val, c->sup, "vqav2", shots, 1, 1, kind == 2 ? FRZ_FEWSHOT_SHARED_SHOTS : 0};
                st = frz_fewshot_run_vqa(&p, &v);
            }
            if (st) die(name, st);
            const double w = now() - t0, u = cpu_now() - c0;
            if (w < wall[cached]) wall[cached] = w;
            if (u < cpu[cached]) cpu[cached] = u;
            tally[cached] = last;
        }
    char a[300], b[300];
    snprintf(a, sizeof a, "%s/results.jsonl", dirs[0]);
    snprintf(b, sizeof b, "%s/results.jsonl", dirs[1]);
    const double n = (double)n_queries;
    printf("%-36s %7zu %9.2f %9.2f %8.2fx %8.2f %8.2f %8.2fx %9s   support evals %zu (uncached %zu)\n", name,
           n_queries, n / wall[0], n / wall[1], wall[0] / wall[1], n / cpu[0], n / cpu[1], cpu[0] / cpu[1],
           same_file(a, b) ? "yes" : "NO", tally[1].chunks_evaluated, tally[0].chunks_evaluated);
    if (kind == 0) print_blas_ceiling(&tally[1], &tally[0], c->p.lm, c->p.vision, c->p.n_threads);
    fflush(stdout);
}

static void keep_last(const frz_fewshot_progress *p, void *user)
{
    *(frz_fewshot_progress *)user = *p;
}

int main(int argc, char **argv)
{
    const int threads = argc > 1 ? atoi(argv[1]) : 2;
    const int qps = argc > 2 ? atoi(argv[2]) : 8;
    const int sets = argc > 3 ? atoi(argv[3]) : 2;
    const char *max_env = getenv("BENCH_MAX_TOKENS");
    const int max_tokens = max_env ? atoi(max_env) : 4;
    const int rounds = getenv("BENCH_ROUNDS") ? atoi(getenv("BENCH_ROUNDS")) : 2;
    const char *arch = getenv("BENCH_VISION") ? getenv("BENCH_VISION") : "tiny";
    const float width = getenv("BENCH_VISION_WIDTH") ? (float)atof(getenv("BENCH_VISION_WIDTH")) : 0.25f;
    const char *model = access("bench/out/gpt2-small-random/model.safetensors", R_OK) == 0
                            ? "bench/out/gpt2-small-random"
                            : "tests/fixtures/prompt/lm";
    if (threads < 1 || qps < 1 || sets < 1 || max_tokens < 1 || rounds < 1) {
        fprintf(stderr, "usage: bench_fewshot [threads] [queries per support set] [support sets]\n");
        return 2;
    }
    mkdir("bench/out", 0755);
    mkdir(OUT, 0755);
    write_images();
    write_episodes(sets, qps);
    const int n_vqa = qps * sets;
    write_vqa(n_vqa);

    frz_lm *lm = NULL;
    frz_vision *v = NULL;
    frz_projector *pj = NULL;
    frz_status st = frz_lm_load(model, &lm);
    if (st) die(model, st);
    if ((st = frz_vision_create(arch, width, 224, 1, &v))) die("encoder", st);
    if ((st = frz_projector_create((int32_t)frz_vision_get(v, FRZ_VISION_N_FEATURES), 2,
                                   (int32_t)frz_lm_get(lm, FRZ_LM_N_EMBD), 1, &pj)))
        die("projector", st);
    bench_ctx c = {0};
    frz_fewshot_params_init(&c.p);
    c.p.lm = lm;
    c.p.vision = v;
    c.p.proj = pj;
    c.p.n_threads = threads;
    c.p.max_tokens = max_tokens;
    if (getenv("BENCH_BATCH")) c.p.batch = atoi(getenv("BENCH_BATCH")); /* default: the driver's, 8 */
    c.p.summary_every = 1000;
    c.p.progress = keep_last;
    if ((st = frz_bind_load(OUT "/episodes.jsonl", &c.eps))) die("episodes", st);
    if ((st = frz_vqa_load(OUT "/val_questions.json", OUT "/val_annotations.json", OUT "/img", &c.val)))
        die("vqa", st);
    if ((st = frz_vqa_load(OUT "/support_questions.json", OUT "/support_annotations.json", OUT "/img", &c.sup)))
        die("vqa support", st);

    /* warm-up: the weights' pages, the BLAS and OpenMP threads */
    {
        frz_fewshot_params w = c.p;
        w.limit = 2;
        w.out_dir = OUT "/report-warmup";
        frz_fewshot_binding b = {c.eps, "binding", -1, -1, NULL, NULL, NULL};
        frz_fewshot_progress last;
        w.progress_data = &last;
        if ((st = frz_fewshot_run_binding(&w, &b))) die("warm-up", st);
    }
    printf("bench_fewshot: model %s (%lld parameters), vision %s x%.3g at 224, %d threads, answers up to %d tokens, "
           "batch %d, BLAS %s\n", model, (long long)frz_lm_get(lm, FRZ_LM_N_PARAMS), arch, (double)width, threads,
           max_tokens, c.p.batch, frz_blas_corename());
    printf("%-36s %7s %9s %9s %9s %8s %8s %9s %9s\n", "", "", "wall q/s", "", "", "q/cpu-s", "", "", "");
    printf("%-36s %7s %9s %9s %9s %8s %8s %9s %9s\n", "task", "queries", "uncached", "cached", "speedup",
           "uncached", "cached", "speedup", "identical");
    char name[64];
    snprintf(name, sizeof name, "binding 2-way 5-shot (%d q/support)", qps);
    run_pair(&c, name, 0, (size_t)(qps * sets), rounds);
    run_pair(&c, "vqa 4-shot (shots per question)", 1, (size_t)n_vqa, rounds);
    run_pair(&c, "vqa 4-shot (shared shots)", 2, (size_t)n_vqa, rounds);

    frz_bind_free(c.eps);
    frz_vqa_free(c.val);
    frz_vqa_free(c.sup);
    frz_projector_free(pj);
    frz_vision_free(v);
    frz_lm_free(lm);
    return 0;
}
