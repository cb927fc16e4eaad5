/* check_eval_e2e.c -- few-shot evaluation end to end on the fixture datasets (tests/fixtures/eval/): VQA and
 * concept binding, through the driver `frozen eval` runs (src/prompt/fewshot.h) and through bin/frozen itself.
 *
 * The model: the fixture LM tests/fixtures/prompt/lm (random GPT-2, context 256) and a run folder written here
 * (a "tiny" NF-ResNet at 32 pixels and a random projector). Its answers are checked: every generation in the
 * report must equal the greedy continuation computed here with the lower-level API alone -- prompts written out
 * by hand from the data files, frz_tokenize, frz_image_prefix, frz_session_eval, frz_generate -- evaluated in the
 * same pieces the driver evaluates (support, then query), so the comparison is exact. Properties that hold for any
 * model are checked too: one line per example, summary scores = means of the lines, the paper's rows and
 * columns, same seed = same files, cached = uncached, interrupted + resumed = uninterrupted. */
#include "prompt/fewshot.h"
#include "util/testutil.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define EVAL(rel) fixture_path("eval/" rel)
#define MAX_TOKENS 10

static frz_lm *lm;
static frz_vision *vis;
static frz_projector *proj;
static char run_dir[1024];
static size_t D;

static void ok(frz_status st, const char *what)
{
    ck_assert_msg(st == FRZ_OK, "%s: %s: %s", what, frz_strerror(st), frz_last_error());
}

static void setup(void)
{
    ok(frz_lm_load(fixture_path("prompt/lm"), &lm), "load LM");
    D = (size_t)frz_lm_get(lm, FRZ_LM_N_EMBD);
    ok(frz_vision_create("tiny", 0.0625f, 32, 7, &vis), "encoder");
    ok(frz_projector_create((int32_t)frz_vision_get(vis, FRZ_VISION_N_FEATURES), 2, (int32_t)D, 9, &proj), "proj");
    snprintf(run_dir, sizeof run_dir, "%s", make_temp_dir());
    char path[4200];
    snprintf(path, sizeof path, "%s/vision.safetensors", run_dir);
    ok(frz_vision_save(vis, path), "save encoder");
    snprintf(path, sizeof path, "%s/projector.safetensors", run_dir);
    ok(frz_projector_save(proj, path), "save projector");
}

static void teardown(void)
{
    frz_projector_free(proj);
    frz_vision_free(vis);
    frz_lm_free(lm);
}

/* A fresh temporary folder, copied out of testutil's rotating buffers. */
#define TEMP_DIR(name) \
    char name[1024];   \
    snprintf(name, sizeof name, "%s", make_temp_dir())

/* ---- the same computation by hand --------------------------------------------------------------------------- */

/* A prompt written out: items in order, each a text or an image path; chunk_end[] as the driver splits. */
typedef struct item {
    char text[256];
    char image[4300];
} item;

static void add_text(item *it, size_t *n, const char *fmt, const char *a, const char *b)
{
    memset(&it[*n], 0, sizeof it[*n]);
    snprintf(it[*n].text, sizeof it[*n].text, fmt, a, b);
    (*n)++;
}

static void add_image(item *it, size_t *n, const char *path)
{
    memset(&it[*n], 0, sizeof it[*n]);
    snprintf(it[*n].image, sizeof it[*n].image, "%s", path);
    (*n)++;
}

/* The greedy answer: each chunk one frz_session_eval of its tokens and image prefixes, then frz_generate to
 * <|endoftext|>, a newline or MAX_TOKENS. Returns the text (free()). */
static char *by_hand(const item *it, size_t n, const size_t *chunk_end, size_t n_chunks, int blind)
{
    ck_assert(n_chunks >= 1 && chunk_end[n_chunks - 1] == n);
    frz_session *s = NULL;
    ok(frz_session_create(lm, &s), "session");
    size_t first = 0;
    for (size_t c = 0; c < n_chunks; c++) {
        int32_t tokens[512];
        float *embd = calloc(512 * D, sizeof *embd);
        size_t len = 0;
        for (size_t i = first; i < chunk_end[c]; i++) {
            if (it[i].image[0]) {
                frz_image *img = NULL;
                ok(frz_image_load_file(it[i].image, &img), it[i].image);
                if (blind) { /* a black image of any size pads and resizes to the same black input */
                    frz_image_free(img);
                    static const uint8_t px[3] = {0, 0, 0};
                    ok(frz_image_from_rgb8(px, 1, 1, 3, &img), "black");
                }
                size_t need;
                ok(frz_image_prefix(vis, proj, img, 1, embd + len * D, 2 * D, &need), "prefix");
                frz_image_free(img);
                tokens[len++] = FRZ_TOKEN_EMBEDDING;
                tokens[len++] = FRZ_TOKEN_EMBEDDING;
            } else {
                size_t k = 0;
                ok(frz_tokenize(lm, it[i].text, (size_t)-1, 0, tokens + len, 512 - len, &k), "tokenize");
                len += k;
            }
        }
        if (len) {
            frz_input in = {0, len, tokens, embd};
            ok(frz_session_eval(s, &in, 1, c + 1 == n_chunks ? FRZ_LOGITS_LAST : FRZ_LOGITS_NONE), "eval");
        }
        free(embd);
        first = chunk_end[c];
    }
    frz_generate_params gp;
    frz_generate_params_init(&gp);
    gp.max_tokens = MAX_TOKENS;
    const char *nl[1] = {"\n"};
    gp.stop = nl;
    gp.n_stop = 1;
    int32_t out[MAX_TOKENS];
    size_t n_out = 0, len = 0;
    ok(frz_generate(s, 0, &gp, out, MAX_TOKENS, &n_out), "generate");
    char *text = malloc(16 * MAX_TOKENS + 1);
    text[0] = '\0';
    if (n_out) ok(frz_detokenize(lm, out, n_out, text, 16 * MAX_TOKENS + 1, &len), "detokenize");
    frz_session_free(s);
    return text;
}

/* "<image>" for images, the texts as they are. */
static void render(const item *it, size_t n, char *out, size_t cap)
{
    out[0] = '\0';
    for (size_t i = 0; i < n; i++) strncat(out, it[i].image[0] ? "<image>" : it[i].text, cap - strlen(out) - 1);
}

/* ---- reading the report -------------------------------------------------------------------------------------- */

static json_t **read_lines(const char *dir, size_t *n)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/results.jsonl", dir);
    size_t len;
    char *text = read_file_or_fail(path, &len);
    json_t **lines = calloc(len + 1, sizeof *lines);
    *n = 0;
    for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
        json_error_t err;
        lines[*n] = json_loads(line, 0, &err);
        ck_assert_msg(lines[*n] != NULL, "%s: line %zu is not JSON: %s", path, *n + 1, err.text);
        (*n)++;
    }
    free(text);
    return lines;
}

static void free_lines(json_t **lines, size_t n)
{
    for (size_t i = 0; i < n; i++) json_decref(lines[i]);
    free(lines);
}

static const char *str_of(const json_t *o, const char *key)
{
    const json_t *v = json_object_get(o, key);
    ck_assert_msg(json_is_string(v), "field %s is not a string", key);
    return json_string_value(v);
}

static json_t *read_json(const char *dir, const char *name)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    json_error_t err;
    json_t *j = json_load_file(path, 0, &err);
    ck_assert_msg(j != NULL, "%s: %s", path, err.text);
    return j;
}

/* The summary's score of each cell is the mean of that cell's lines, and its n their count; every line is in a
 * cell. */
static void check_summary_means(const char *dir, json_t **lines, size_t n_lines, int complete)
{
    json_t *sum = read_json(dir, "summary.json");
    ck_assert(json_is_true(json_object_get(sum, "complete")) == complete);
    json_t *results = json_object_get(sum, "results");
    size_t counted = 0, i;
    json_t *cell;
    json_array_foreach(results, i, cell) {
        double total = 0;
        size_t n = 0;
        for (size_t k = 0; k < n_lines; k++) {
            if (strcmp(str_of(lines[k], "task"), str_of(cell, "task")) != 0 ||
                strcmp(str_of(lines[k], "setting"), str_of(cell, "setting")) != 0 ||
                json_integer_value(json_object_get(lines[k], "shots")) != json_integer_value(json_object_get(cell, "shots")))
                continue;
            total += json_number_value(json_object_get(lines[k], "score"));
            n++;
        }
        ck_assert_int_eq((int)json_integer_value(json_object_get(cell, "n")), (int)n);
        ck_assert_msg(fabs(json_number_value(json_object_get(cell, "score")) - total / (double)n) < 1e-9,
                      "cell score is not the mean of its lines");
        counted += n;
    }
    ck_assert_uint_eq(counted, n_lines);
    json_decref(sum);
}

static int same_file(const char *dir_a, const char *dir_b, const char *name)
{
    char pa[4200], pb[4200];
    snprintf(pa, sizeof pa, "%s/%s", dir_a, name);
    snprintf(pb, sizeof pb, "%s/%s", dir_b, name);
    size_t na, nb;
    char *a = read_file_or_fail(pa, &na), *b = read_file_or_fail(pb, &nb);
    int same = na == nb && memcmp(a, b, na) == 0;
    free(a), free(b);
    return same;
}

/* ---- running the driver ------------------------------------------------------------------------------------- */

typedef struct progress_log {
    frz_fewshot_progress last;
    size_t calls;
    size_t stop_after; /* abort once this many examples are done (0: never) */
} progress_log;

static void on_progress(const frz_fewshot_progress *p, void *user)
{
    progress_log *l = user;
    l->last = *p;
    l->calls++;
}

static int stop_when_done(void *user)
{
    progress_log *l = user;
    return l->stop_after && l->last.done >= l->stop_after;
}

static frz_fewshot_params params(const char *out, progress_log *log)
{
    frz_fewshot_params p;
    frz_fewshot_params_init(&p);
    p.lm = lm;
    p.vision = vis;
    p.proj = proj;
    p.max_tokens = MAX_TOKENS;
    p.out_dir = out;
    p.summary_every = 1;
    p.progress = on_progress;
    p.progress_data = log;
    p.abort = stop_when_done;
    p.abort_data = log;
    return p;
}

static frz_vqa_set *queries, *support;

static void load_vqa(void)
{
    ok(frz_vqa_load(EVAL("vqa/questions.json"), EVAL("vqa/annotations.json"), EVAL("vqa/images"), &queries), "q");
    ok(frz_vqa_load(EVAL("vqa/support_questions.json"), EVAL("vqa/support_annotations.json"), EVAL("vqa/images"),
                    &support),
       "support");
}

static frz_status run_vqa(const char *out, progress_log *log, unsigned settings, int cache, uint64_t seed,
                          int resume)
{
    static const int shots[3] = {0, 1, 4};
    frz_fewshot_params p = params(out, log);
    p.settings = settings;
    p.cache = cache;
    p.limit = 4; /* question 105's image is missing from the fixture on purpose */
    p.resume = resume;
    frz_fewshot_vqa v = {queries, support, "vqav2", shots, 3, seed, 0};
    return frz_fewshot_run_vqa(&p, &v);
}

/* ---- VQA ------------------------------------------------------------------------------------------------------ */

START_TEST(test_vqa_answers_checked)
{
    load_vqa();
    TEMP_DIR(out);
    progress_log log = {0};
    ok(run_vqa(out, &log, FRZ_FEWSHOT_SEEING | FRZ_FEWSHOT_BLIND, 1, 3, 0), "run");
    size_t n;
    json_t **lines = read_lines(out, &n);
    ck_assert_uint_eq(n, 2 * 4 * 3); /* settings x questions x shot counts */
    ck_assert_uint_eq(log.last.done, 24);
    ck_assert_uint_eq(log.last.total, 24);
    ck_assert_uint_eq(log.last.scored, 24);
    ck_assert_uint_gt(log.last.chunks_reused, 0); /* the 4-shot prompts reused their 1-shot's first shot */

    size_t line = 0;
    for (int blind = 0; blind < 2; blind++) {
        for (size_t qi = 0; qi < 4; qi++) {
            const frz_vqa_item *q = &queries->items[qi];
            size_t idx[4];
            ok(frz_vqa_sample_shots(support, q, 3, 4, 0, idx), "shots");
            const int ks[3] = {0, 1, 4};
            for (int ki = 0; ki < 3; ki++, line++) {
                item it[16];
                size_t ni = 0, ends[3], ne = 0;
                for (int s = 0; s < ks[ki]; s++) {
                    char *path = NULL;
                    ok(frz_vqa_image_path(support, idx[s], &path), "shot image");
                    add_image(it, &ni, path);
                    free(path);
                    const frz_vqa_item *sh = &support->items[idx[s]];
                    add_text(it, &ni, "Question: %s Answer: %s", sh->question, sh->mc_answer);
                    if (s + 1 == 1 || s + 1 == 4) ends[ne++] = ni; /* chunks at the run's shot counts */
                }
                char *path = NULL;
                ok(frz_vqa_image_path(queries, qi, &path), "query image");
                add_image(it, &ni, path);
                free(path);
                add_text(it, &ni, "Question: %s Answer:%s", q->question, "");
                ends[ne++] = ni;
                char *want = by_hand(it, ni, ends, ne, blind);
                char prompt[4096];
                render(it, ni, prompt, sizeof prompt);

                const json_t *l = lines[line];
                char id[32];
                snprintf(id, sizeof id, "%lld", (long long)q->question_id);
                ck_assert_str_eq(str_of(l, "id"), id);
                ck_assert_str_eq(str_of(l, "setting"), blind ? "blind" : "frozen");
                ck_assert_int_eq((int)json_integer_value(json_object_get(l, "shots")), ks[ki]);
                ck_assert_str_eq(str_of(l, "prompt"), prompt);
                ck_assert_msg(strcmp(str_of(l, "generation"), want) == 0, "line %zu: generation '%s', by hand '%s'",
                              line + 1, str_of(l, "generation"), want);
                ck_assert_msg(strchr(want, '\n') == NULL, "cut at the newline");
                double acc;
                ok(frz_vqa_accuracy(want, (const char *const *)q->answers, q->n_answers, &acc), "accuracy");
                ck_assert(fabs(json_number_value(json_object_get(l, "score")) - acc) < 1e-12);
                free(want);
            }
        }
    }
    check_summary_means(out, lines, n, 1);
    /* the paper's table: settings as rows, shot counts as columns */
    char path[4200];
    snprintf(path, sizeof path, "%s/summary.md", out);
    char *md = read_file_or_fail(path, NULL);
    ck_assert_msg(strstr(md, "| setting | 0-shot | 1-shot | 4-shot |") != NULL, "%s", md);
    ck_assert(strstr(md, "\n| frozen |") != NULL && strstr(md, "\n| blind |") != NULL);
    free(md);
    free_lines(lines, n);
    frz_vqa_free(queries), frz_vqa_free(support);
}
END_TEST

/* Same seed: the same files; another seed: other shots; no cache: the same files; --blind changes answers'
 * inputs (checked above by hand) and here at least one generation. */
START_TEST(test_vqa_deterministic_and_cache_free)
{
    load_vqa();
    TEMP_DIR(a);
    TEMP_DIR(b);
    TEMP_DIR(c);
    TEMP_DIR(d);
    progress_log la = {0}, lb = {0}, lc = {0}, ld = {0};
    ok(run_vqa(a, &la, FRZ_FEWSHOT_SEEING, 1, 3, 0), "a");
    ok(run_vqa(b, &lb, FRZ_FEWSHOT_SEEING, 1, 3, 0), "b");
    ok(run_vqa(c, &lc, FRZ_FEWSHOT_SEEING, 0, 3, 0), "c (no cache)");
    ok(run_vqa(d, &ld, FRZ_FEWSHOT_SEEING, 1, 4, 0), "d (seed 4)");
    ck_assert(same_file(a, b, "results.jsonl") && same_file(a, b, "summary.json") && same_file(a, b, "summary.md"));
    ck_assert_msg(same_file(a, c, "results.jsonl"), "caching changed the results");
    ck_assert_uint_eq(lc.last.chunks_reused, 0);
    ck_assert_uint_gt(la.last.chunks_reused, 0);
    ck_assert_uint_lt(la.last.chunks_evaluated, lc.last.chunks_evaluated);
    ck_assert_msg(!same_file(a, d, "results.jsonl"), "another seed drew the same shots");
    frz_vqa_free(queries), frz_vqa_free(support);
}
END_TEST

/* Interrupted after 5 examples: the 5 lines, summaries marked incomplete; resumed: the uninterrupted files. */
START_TEST(test_vqa_interrupt_resume)
{
    load_vqa();
    TEMP_DIR(full);
    TEMP_DIR(cut);
    progress_log lf = {0}, lc = {0};
    ok(run_vqa(full, &lf, FRZ_FEWSHOT_SEEING, 1, 3, 0), "full");
    lc.stop_after = 5;
    ck_assert_int_eq(run_vqa(cut, &lc, FRZ_FEWSHOT_SEEING, 1, 3, 0), FRZ_ERR_CANCELLED);
    size_t n;
    json_t **lines = read_lines(cut, &n);
    ck_assert_uint_eq(n, 5);
    check_summary_means(cut, lines, n, 0);
    free_lines(lines, n);
    progress_log lr = {0};
    ok(run_vqa(cut, &lr, FRZ_FEWSHOT_SEEING, 1, 3, 1), "resume");
    ck_assert_uint_eq(lr.last.skipped, 5);
    ck_assert_uint_eq(lr.last.scored, 7);
    ck_assert(same_file(full, cut, "results.jsonl"));
    ck_assert(same_file(full, cut, "summary.json"));
    frz_vqa_free(queries), frz_vqa_free(support);
}
END_TEST

/* ---- concept binding ---------------------------------------------------------------------------------------------- */

static void strip(const char *s, char *out, size_t cap)
{
    while (*s == ' ' || *s == '\t') s++;
    snprintf(out, cap, "%s", s);
    size_t n = strlen(out);
    while (n && (out[n - 1] == ' ' || out[n - 1] == '\t')) out[--n] = '\0';
}

/* The fixture episodes (tests/fixtures/eval/episodes/episodes.jsonl, loaded into *set) through the binding driver
 * with b's settings, the first `limit` of them (0: all), reported into out: the report's lines, *n of them. */
static json_t **run_fixture_episodes(const char *out, frz_bind_set **set, frz_fewshot_binding b, size_t limit,
                                     size_t *n)
{
    ok(frz_bind_load(EVAL("episodes/episodes.jsonl"), set), "episodes");
    progress_log log = {0};
    frz_fewshot_params p = params(out, &log);
    p.limit = limit;
    b.set = *set;
    ok(frz_fewshot_run_binding(&p, &b), "run");
    return read_lines(out, n);
}

/* The path of a fixture episode image (tests/fixtures/eval/episodes/img/NAME). */
static void episode_image(char *buf, size_t cap, const char *name)
{
    snprintf(buf, cap, "%s", fixture_path("eval/episodes/img/"));
    strncat(buf, name, cap - strlen(buf) - 1);
}

START_TEST(test_binding_answers_checked)
{
    frz_bind_set *set = NULL;
    size_t n;
    TEMP_DIR(out);
    frz_fewshot_binding b = {NULL, NULL, 2, -1, NULL, NULL, NULL}; /* task induction off and on */
    json_t **lines = run_fixture_episodes(out, &set, b, 0, &n);
    ck_assert_uint_eq(n, 2 * 3);
    /* the episodes as the fixture file states them (tests/fixtures/eval/episodes/episodes.jsonl) */
    static const struct {
        const char *id, *names, *support[4][2], *query, *question, *answer;
        int n_support, repeats, inner;
    } eps[3] = {
        {"ep1", "dax or blicket", {{"dax1.jpg", "dax"}, {"blicket1.jpg", "blicket"}}, "query1.jpg", NULL, "dax", 2, 0, 1},
        {"ep2", "blicket or dax",
         {{"blicket1.jpg", "blicket"}, {"dax1.jpg", "dax"}, {"dax2.jpg", "dax"}, {"blicket2.jpg", "blicket"}},
         "query2.jpg", NULL, "blicket", 4, 1, 2},
        {"fastvqa1", "dax or blicket", {{"dax1.jpg", "dax"}, {"blicket1.jpg", "blicket"}}, "query1.jpg",
         "What color is the dax?", "red", 2, 0, 1},
    };
    size_t line = 0;
    for (int ti = 0; ti < 2; ti++) {
        for (int e = 0; e < 3; e++, line++) {
            item it[32];
            size_t ni = 0;
            if (ti) add_text(it, &ni, "Answer with %s.%s", eps[e].names, "");
            for (int r = 0; r <= eps[e].repeats; r++)
                for (int k = 0; k < eps[e].n_support; k++) {
                    char path[4096];
                    episode_image(path, sizeof path, eps[e].support[k][0]);
                    add_image(it, &ni, path);
                    add_text(it, &ni, "This is a %s.%s", eps[e].support[k][1], "");
                }
            const size_t support_end = ni;
            char qpath[4096];
            episode_image(qpath, sizeof qpath, eps[e].query);
            add_image(it, &ni, qpath);
            add_text(it, &ni, "Question: %s Answer:%s", eps[e].question ? eps[e].question : "What is this?", "");
            const size_t ends[2] = {support_end, ni};
            char *want = by_hand(it, ni, ends, 2, 0);
            char prompt[4096];
            render(it, ni, prompt, sizeof prompt);

            const json_t *l = lines[line];
            ck_assert_str_eq(str_of(l, "id"), eps[e].id);
            ck_assert_str_eq(str_of(l, "prompt"), prompt);
            ck_assert_int_eq((int)json_integer_value(json_object_get(l, "shots")), eps[e].inner);
            char setting[64];
            snprintf(setting, sizeof setting, "frozen%s%s", ti ? ", task induction" : "",
                     eps[e].repeats ? ", repeats 1" : "");
            ck_assert_str_eq(str_of(l, "setting"), setting);
            ck_assert_str_eq(str_of(l, "task"), eps[e].question ? "fast_vqa_2way" : "binding_2way");
            ck_assert_msg(strcmp(str_of(l, "generation"), want) == 0, "line %zu: generation '%s', by hand '%s'",
                          line + 1, str_of(l, "generation"), want);
            if (!eps[e].question) { /* the paper's rule, applied here on its own: exactly the name */
                char stripped[256];
                strip(want, stripped, sizeof stripped);
                const int correct = strcmp(stripped, eps[e].answer) == 0;
                ck_assert(json_is_true(json_object_get(l, "correct")) == correct);
                ck_assert(json_number_value(json_object_get(l, "score")) == correct);
            }
            free(want);
        }
    }
    check_summary_means(out, lines, n, 1);
    free_lines(lines, n);
    frz_bind_free(set);
}
END_TEST

/* Episodes sharing one support set: with caching the support is evaluated once, and the files equal an uncached
 * run's. Known outcomes for the scorers: episodes whose answer is what the model says (computed by hand; not a
 * support name, so scored as Fast-VQA, normalised) score 1; episodes answering "dax" (a name: the exact binding
 * rule) score 0 unless the model says exactly "dax". */
START_TEST(test_binding_shared_support_cached)
{
    TEMP_DIR(dir);
    char img[4096];
    ck_assert(realpath(fixture_path("eval/episodes/img"), img) != NULL); /* episode paths are file-relative */
    const char *queries_img[3] = {"query1.jpg", "query2.jpg", "dax2.jpg"};
    char path[4200], said[3][256];
    snprintf(path, sizeof path, "%s/shared.jsonl", dir);
    FILE *f = fopen(path, "w");
    ck_assert(f != NULL);
    for (int q = 0; q < 6; q++) {
        char p1[4200], p2[4200], pq[4200];
        snprintf(p1, sizeof p1, "%s/dax1.jpg", img);
        snprintf(p2, sizeof p2, "%s/blicket1.jpg", img);
        snprintf(pq, sizeof pq, "%s/%s", img, queries_img[q % 3]);
        if (q < 3) { /* what the model answers for this query, by hand */
            item it[8];
            size_t ni = 0;
            add_image(it, &ni, p1);
            add_text(it, &ni, "This is a %s.%s", "dax", "");
            add_image(it, &ni, p2);
            add_text(it, &ni, "This is a %s.%s", "blicket", "");
            add_image(it, &ni, pq);
            add_text(it, &ni, "Question: What is this? Answer:%s%s", "", "");
            const size_t ends[2] = {4, 6};
            char *gen = by_hand(it, ni, ends, 2, 0);
            strip(gen, said[q], sizeof said[q]);
            free(gen);
        }
        /* the question is the default one, so the prompt is the same; with it the answer may be any text */
        json_t *ep = json_pack("{s:s, s:[{s:s, s:s}, {s:s, s:s}], s:{s:s, s:s, s:s}}", "id", "",
                               "support", "image", p1, "name", "dax", "image", p2, "name", "blicket", "query", "image",
                               pq, "question", "What is this?", "answer", q < 3 ? said[q] : "dax");
        ck_assert_msg(ep != NULL, "the model's answer '%s' is not valid UTF-8", q < 3 ? said[q] : "");
        char id[16];
        snprintf(id, sizeof id, "%s%d", q < 3 ? "right" : "wrong", q % 3);
        json_object_set_new(ep, "id", json_string(id));
        char *line = json_dumps(ep, JSON_COMPACT);
        fprintf(f, "%s\n", line);
        free(line);
        json_decref(ep);
    }
    fclose(f);
    frz_bind_set *set = NULL;
    ok(frz_bind_load(path, &set), "episodes");
    TEMP_DIR(cached);
    TEMP_DIR(plain);
    progress_log lc = {0}, lp = {0};
    frz_fewshot_params pc = params(cached, &lc), pp = params(plain, &lp);
    pp.cache = 0;
    frz_fewshot_binding b = {set, "shared", 0, -1, NULL, NULL, NULL};
    ok(frz_fewshot_run_binding(&pc, &b), "cached");
    ok(frz_fewshot_run_binding(&pp, &b), "uncached");
    /* one batch of six: the support once; uncached, once per query */
    ck_assert_uint_eq(lc.last.chunks_evaluated, 1);
    ck_assert_uint_eq(lp.last.chunks_evaluated, 6);
    ck_assert_uint_eq(lp.last.chunks_reused, 0);
    /* the tallies: the support's positions once (uncached six times), the six queries in one evaluation and their
     * decoding in the same steps either way, each of the five image files (two shots, three queries) encoded once */
    ck_assert_uint_gt(lc.last.support_positions, 0);
    ck_assert_uint_eq(lp.last.support_positions, 6 * lc.last.support_positions);
    ck_assert_uint_eq(lc.last.query_evals, 1);
    ck_assert_uint_eq(lp.last.query_evals, 1);
    ck_assert_uint_eq(lc.last.query_positions, lp.last.query_positions);
    ck_assert_uint_ge(lc.last.query_positions, 6 * 3); /* an image and the question's tokens */
    ck_assert_uint_eq(lc.last.decode_evals, lp.last.decode_evals);
    ck_assert_uint_eq(lc.last.decode_rows, lp.last.decode_rows);
    ck_assert_uint_eq(lc.last.images_encoded, 5);
    ck_assert_uint_eq(lp.last.images_encoded, 5);
    ck_assert(same_file(cached, plain, "results.jsonl"));
    /* batches of four and two: the second reuses the support the first left in the cache */
    TEMP_DIR(small);
    progress_log ls = {0};
    frz_fewshot_params ps = params(small, &ls);
    ps.batch = 4;
    ok(frz_fewshot_run_binding(&ps, &b), "batches of 4");
    ck_assert_uint_eq(ls.last.chunks_evaluated, 1);
    ck_assert_uint_eq(ls.last.chunks_reused, 1);
    size_t n;
    json_t **lines = read_lines(cached, &n);
    ck_assert_uint_eq(n, 6);
    for (size_t i = 0; i < n; i++) {
        const double want = i < 3 ? 1.0 : strcmp(said[i - 3], "dax") == 0;
        ck_assert_msg(json_number_value(json_object_get(lines[i], "score")) == want, "episode %zu ('%s'): score %g", i,
                      i < 3 ? said[i] : "dax", json_number_value(json_object_get(lines[i], "score")));
    }
    check_summary_means(cached, lines, n, 1);
    free_lines(lines, n);
    frz_bind_free(set);
}
END_TEST

/* Allocation failures anywhere in a run: an error (never a crash), nothing leaked (ASan), the files left
 * readable. Every allocation index up to 80, then a sample of the rest, up to the first run that succeeds. */
START_TEST(test_alloc_failures)
{
    frz_bind_set *set = NULL;
    ok(frz_bind_load(EVAL("episodes/episodes.jsonl"), &set), "episodes");
    frz_fewshot_binding b = {set, NULL, -1, -1, NULL, NULL, NULL};
    TEMP_DIR(out);
    progress_log log = {0};
    frz_fewshot_params p = params(out, &log);
    frz_test_fail_alloc_at(0);
    long before = frz_test_alloc_count();
    ok(frz_fewshot_run_binding(&p, &b), "a run without failures");
    const long total = frz_test_alloc_count() - before;
    ck_assert_int_gt(total, 10);
    int failures = 0;
    for (long k = 1; k <= total; k += k < 80 ? 1 : 29) {
        TEMP_DIR(dir);
        progress_log l = {0};
        frz_fewshot_params q = params(dir, &l);
        frz_test_fail_alloc_at(k);
        frz_status st = frz_fewshot_run_binding(&q, &b);
        frz_test_fail_alloc_at(0);
        if (st == FRZ_OK) continue; /* the failing allocation was one a retry or a cache absorbs */
        ck_assert_msg(st == FRZ_ERR_NOMEM || st == FRZ_ERR_IO, "allocation %ld: %s: %s", k, frz_strerror(st),
                      frz_last_error());
        failures++;
    }
    if (getenv("FRZ_TEST_VERBOSE")) fprintf(stderr, "alloc failures: %d of the sampled runs failed, %ld allocations\n", failures, total);
    ck_assert_int_gt(failures, 10);
    frz_bind_free(set);
}
END_TEST

/* Templates other than the paper's: the prompt is built from them (an empty query template puts the answer right
 * after the query image), and the generation is the one computed by hand for that prompt. */
START_TEST(test_binding_templates)
{
    frz_bind_set *set = NULL;
    size_t n;
    TEMP_DIR(out);
    frz_fewshot_binding b = {NULL, NULL, 1, -1, " {name}.", "", "Names: {names}."};
    json_t **lines = run_fixture_episodes(out, &set, b, 1, &n); /* ep1: dax1 (dax), blicket1 (blicket); query1 */
    ck_assert_uint_eq(n, 1);
    item it[8];
    size_t ni = 0;
    char dax[4096], blicket[4096], query[4096];
    episode_image(dax, sizeof dax, "dax1.jpg");
    episode_image(blicket, sizeof blicket, "blicket1.jpg");
    episode_image(query, sizeof query, "query1.jpg");
    add_text(it, &ni, "Names: %s.%s", "dax or blicket", "");
    add_image(it, &ni, dax);
    add_text(it, &ni, " %s.%s", "dax", "");
    add_image(it, &ni, blicket);
    add_text(it, &ni, " %s.%s", "blicket", "");
    const size_t support_end = ni;
    add_image(it, &ni, query);
    add_text(it, &ni, "%s%s", "", "");
    const size_t ends[2] = {support_end, ni};
    char *want = by_hand(it, ni, ends, 2, 0);
    char prompt[4096];
    render(it, ni, prompt, sizeof prompt);
    ck_assert_str_eq(str_of(lines[0], "prompt"), prompt);
    ck_assert_msg(strcmp(str_of(lines[0], "generation"), want) == 0, "generation '%s', by hand '%s'",
                  str_of(lines[0], "generation"), want);
    free(want);
    free_lines(lines, n);
    frz_bind_free(set);
}
END_TEST

/* ---- the command line ---------------------------------------------------------------------------------------- */

static int have_cli(void)
{
    return access("bin/frozen", X_OK) == 0;
}

/* Runs bin/frozen with args (NULL-terminated); stdout and stderr to files in dir; returns the exit status. */
static int run_cli(const char *dir, const char *const *args)
{
    char out[8400], err[8400];
    snprintf(out, sizeof out, "%s/stdout", dir);
    snprintf(err, sizeof err, "%s/stderr", dir);
    pid_t pid = fork();
    ck_assert(pid >= 0);
    if (pid == 0) {
        if (!freopen(out, "w", stdout) || !freopen(err, "w", stderr)) _exit(99);
        execv("bin/frozen", (char *const *)args);
        _exit(98);
    }
    int status;
    waitpid(pid, &status, 0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

static char *cli_output(const char *dir, const char *which)
{
    char path[8400];
    snprintf(path, sizeof path, "%s/%s", dir, which);
    return read_file_or_fail(path, NULL);
}

START_TEST(test_cli_eval_and_ask)
{
    if (!have_cli()) {
        fprintf(stderr, "check_eval_e2e: bin/frozen not built; the command-line part is skipped\n");
        return;
    }
    TEMP_DIR(dir);
    char out[1100];
    snprintf(out, sizeof out, "%s/report", dir);
    const char *eval_args[] = {"frozen", "eval", "binding", "--lm", fixture_path("prompt/lm"), "--model", run_dir,
                               "--episodes", EVAL("open_ended_mi"), "--with-blind", "--threads", "1", "--out", out,
                               NULL};
    int rc = run_cli(dir, eval_args);
    char *err = cli_output(dir, "stderr");
    ck_assert_msg(rc == 0, "frozen eval binding: exit %d: %s", rc, err);
    free(err);
    size_t n;
    json_t **lines = read_lines(out, &n);
    ck_assert_uint_eq(n, 4); /* two released questions, seeing and blind */
    ck_assert_str_eq(str_of(lines[0], "task"), "open_ended_mi_2way");
    check_summary_means(out, lines, n, 1);
    free_lines(lines, n);
    char *table = cli_output(dir, "stdout");
    ck_assert_msg(strstr(table, "| setting | 1-shot |") && strstr(table, "| blind |"), "%s", table);
    free(table);
    /* a second run into the same folder refuses to overwrite without --resume / --overwrite */
    rc = run_cli(dir, eval_args);
    err = cli_output(dir, "stderr");
    ck_assert_msg(rc == 1 && strstr(err, "--resume") != NULL, "exit %d: %s", rc, err);
    free(err);

    /* ask: the text printed is the greedy continuation computed by hand */
    char prompt[9000], p1[4200], pq[4200];
    episode_image(p1, sizeof p1, "dax1.jpg");
    episode_image(pq, sizeof pq, "query1.jpg");
    snprintf(prompt, sizeof prompt, "<img:%s>This is a dax.<img:%s>Question: What is this? Answer:", p1, pq);
    const char *ask_args[] = {"frozen", "ask", "--lm", fixture_path("prompt/lm"), "--model", run_dir, "--prompt",
                              prompt, "--max-tokens", "10", "--newline", "--threads", "1", NULL};
    rc = run_cli(dir, ask_args);
    ck_assert_int_eq(rc, 0);
    item it[4];
    size_t ni = 0;
    add_image(it, &ni, p1);
    add_text(it, &ni, "This is a dax.%s%s", "", "");
    add_image(it, &ni, pq);
    add_text(it, &ni, "Question: What is this? Answer:%s%s", "", "");
    const size_t whole[1] = {4};
    char *want = by_hand(it, ni, whole, 1, 0);
    char *got = cli_output(dir, "stdout");
    ck_assert_msg(strcmp(got, want) == 0, "ask printed '%s', by hand '%s'", got, want);
    free(got), free(want);

    /* errors: exit 1 naming the offset, the path, the segment */
    const char *bad_marker[] = {"frozen", "ask", "--lm", fixture_path("prompt/lm"), "--prompt", "ab <img:x.jpg", NULL};
    rc = run_cli(dir, bad_marker);
    err = cli_output(dir, "stderr");
    ck_assert_msg(rc == 1 && strstr(err, "byte 3") && strstr(err, "no closing"), "exit %d: %s", rc, err);
    free(err);
    const char *missing[] = {"frozen", "ask", "--lm", fixture_path("prompt/lm"), "--model", run_dir, "--prompt",
                             "Look: <img:/nonexistent/cat.jpg> ok", NULL};
    rc = run_cli(dir, missing);
    err = cli_output(dir, "stderr");
    ck_assert_msg(rc == 1 && strstr(err, "byte 6") && strstr(err, "/nonexistent/cat.jpg"), "exit %d: %s", rc, err);
    free(err);
    char req[4200];
    snprintf(req, sizeof req, "%s/req.json", dir);
    FILE *f = fopen(req, "w");
    fprintf(f, "{\"segments\": [{\"text\": \"A\"}, {\"image\": \"no-such.png\"}]}");
    fclose(f);
    const char *bad_req[] = {"frozen", "ask", "--lm", fixture_path("prompt/lm"), "--model", run_dir, "--request", req,
                             NULL};
    rc = run_cli(dir, bad_req);
    err = cli_output(dir, "stderr");
    ck_assert_msg(rc == 1 && strstr(err, "segments[1]") && strstr(err, "no-such.png"), "exit %d: %s", rc, err);
    free(err);
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("eval_e2e");
    TCase *tc = tcase_create("e2e");
    tcase_set_timeout(tc, 120);
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_vqa_answers_checked);
    tcase_add_test(tc, test_vqa_deterministic_and_cache_free);
    tcase_add_test(tc, test_vqa_interrupt_resume);
    tcase_add_test(tc, test_binding_answers_checked);
    tcase_add_test(tc, test_binding_templates);
    tcase_add_test(tc, test_binding_shared_support_cached);
    tcase_add_test(tc, test_alloc_failures);
    tcase_add_test(tc, test_cli_eval_and_ask);
    suite_add_tcase(s, tc);
    return s;
}

FRZ_TEST_MAIN(make_suite)
