/* main.c -- frozen-demo-world: writes the demo's world (demo/world/README.md) into a folder.
 *   frozen-demo-world --out DIR [--seed S] [--scale small|full] [counts, corpus mix ...]
 * Progress on stderr, a summary on stdout; exit 0, 1 (a failure) or 2 (a usage error), as bin/frozen. */
#include "world.h"
#include "cli/cli.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char usage[] =
    "usage: frozen-demo-world --out DIR [--seed S] [--scale small|full] [options]\n"
    "\n"
    "Generates the demo world: shape scenes and Fashion-MNIST images, captions, VQA and knowledge questions,\n"
    "binding episodes, the LM corpus and the text probes (demo/world/README.md). Same seed, same files.\n"
    "\n"
    "  --out DIR             the world folder (created)\n"
    "  --seed S              the world's seed (default 1)\n"
    "  --scale small|full    the counts' defaults: small for tests, full for the demo (default full)\n"
    "  --fashion-dir DIR     Fashion-MNIST IDX files (default /usr/share/datasets/fashion-mnist)\n"
    "  --eval-seed S         the VQA shot draw the probes use, as `frozen eval vqa --seed S` (default: --seed)\n"
    "  --antialias N         N x N samples per pixel (1: hard edges; default 4)\n"
    "Counts (defaults small / full):\n"
    "  --shape-scenes N      train-combo scenes, captioned (48 / 40000)\n"
    "  --heldout-scenes N    held-out-combo scenes (24 / 200)\n"
    "  --fashion-train N     Fashion-MNIST training images captioned, class-balanced (30 / 6000)\n"
    "  --fashion-pool N      Fashion-MNIST test images per class, for binding and knowledge (8 / 60)\n"
    "  --vqa-test N          questions about held-out scenes (24 / 200)\n"
    "  --vqa-support N       questions about train scenes, the shots (24 / 400)\n"
    "  --knowledge N         knowledge questions (15 / 150)\n"
    "  --episodes N          binding episodes per file (8 / 100)\n"
    "  --corpus N            corpus lines (600 / 150000)\n"
    "Corpus:\n"
    "  --mix K=W,...         relative weights of the kinds caption, qa, fewshot, binding, fact, knowledge,\n"
    "                        repeat (default caption=0.10,qa=0.20,fewshot=0.15,binding=0.30,fact=0.05,\n"
    "                        knowledge=0.10,repeat=0.10)\n"
    "  --easy-fraction F     the corpus's first part holds the easy kinds only (caption, qa, fact, knowledge,\n"
    "                        repeat; default 0.2)\n"
    "  --max-tokens N        longest sample in GPT-2 pre-tokens; longer draws are redrawn (default 200)\n";

enum {
    O_OUT, O_SEED, O_SCALE, O_FDIR, O_ESEED, O_AA, O_SHAPES, O_HELD, O_FTRAIN, O_FPOOL, O_VTEST, O_VSUP, O_KNOW,
    O_EPIS, O_CORPUS, O_MIX, O_EASY, O_MAXTOK, O_COUNT
};
static const cli_option options[O_COUNT] = {
    {"out", 'o', 1}, {"seed", 0, 1}, {"scale", 0, 1}, {"fashion-dir", 0, 1}, {"eval-seed", 0, 1},
    {"antialias", 0, 1}, {"shape-scenes", 0, 1}, {"heldout-scenes", 0, 1}, {"fashion-train", 0, 1},
    {"fashion-pool", 0, 1}, {"vqa-test", 0, 1}, {"vqa-support", 0, 1}, {"knowledge", 0, 1}, {"episodes", 0, 1},
    {"corpus", 0, 1}, {"mix", 0, 1}, {"easy-fraction", 0, 1}, {"max-tokens", 0, 1},
};
static const cli_command command = {"demo-world", usage, options, O_COUNT};

/* The counts' defaults per scale, in option order from O_SHAPES. */
#define N_COUNTS (O_CORPUS - O_SHAPES + 1)
static const long small_counts[N_COUNTS] = {48, 24, 30, 8, 24, 24, 15, 8, 600};
static const long full_counts[N_COUNTS] = {40000, 200, 6000, 60, 200, 400, 150, 100, 150000};
static const double default_mix[W_KINDS] = {0.10, 0.20, 0.15, 0.30, 0.05, 0.10, 0.10};

typedef struct args {
    w_config cfg;
    long seed, eval_seed;  /* -1: not given */
    long counts[N_COUNTS]; /* -1: the scale's */
} args;

static long *count_field(w_config *c, int i)
{
    long *f[N_COUNTS] = {&c->shape_scenes, &c->heldout_scenes, &c->fashion_train, &c->fashion_pool, &c->vqa_test,
                         &c->vqa_support, &c->knowledge, &c->episodes, &c->corpus};
    return f[i];
}

static int parse_mix(const char *s, double *mix)
{
    char buf[512];
    if (snprintf(buf, sizeof buf, "%s", s) >= (int)sizeof buf) return cli_usage_error(&command, "--mix: too long");
    for (char *tok = strtok(buf, ","); tok; tok = strtok(NULL, ",")) {
        char *eq = strchr(tok, '=');
        if (!eq) return cli_usage_error(&command, "--mix: '%s' is not KIND=WEIGHT", tok);
        *eq = '\0';
        int k = 0;
        while (k < W_KINDS && strcmp(w_kind_name[k], tok) != 0) k++;
        if (k == W_KINDS)
            return cli_usage_error(&command,
                                   "--mix: unknown kind '%s' (caption, qa, fewshot, binding, fact, knowledge, repeat)",
                                   tok);
        int rc = cli_parse_double(&command, "--mix", eq + 1, 0.0, 1e6, &mix[k]);
        if (rc != CLI_OK) return rc;
    }
    double total = 0;
    for (int k = 0; k < W_KINDS; k++) total += mix[k];
    if (!(total > 0)) return cli_usage_error(&command, "--mix: the weights sum to 0");
    return CLI_OK;
}

static int on_option(void *ctx, size_t i, const char *v)
{
    args *a = ctx;
    w_config *c = &a->cfg;
    long n = 0;
    int rc = CLI_OK;
    switch ((int)i) {
    case O_OUT: c->out = v; return CLI_OK;
    case O_SEED: return cli_parse_long(&command, "--seed", v, 0, 0x7fffffffffffffffL, &a->seed);
    case O_ESEED: return cli_parse_long(&command, "--eval-seed", v, 0, 0x7fffffffffffffffL, &a->eval_seed);
    case O_SCALE:
        if (strcmp(v, "small") != 0 && strcmp(v, "full") != 0)
            return cli_usage_error(&command, "--scale: '%s' is not small or full", v);
        c->scale = v;
        return CLI_OK;
    case O_FDIR: c->fashion_dir = v; return CLI_OK;
    case O_AA:
        rc = cli_parse_long(&command, "--antialias", v, 1, 16, &n);
        c->aa = (int)n;
        return rc;
    case O_MIX: return parse_mix(v, c->mix);
    case O_EASY: return cli_parse_double(&command, "--easy-fraction", v, 0.0, 1.0, &c->easy_fraction);
    case O_MAXTOK: return cli_parse_long(&command, "--max-tokens", v, 16, 100000, &c->max_tokens);
    default: /* a count */
        return cli_parse_long(&command, options[i].name, v, (int)i == O_EPIS || (int)i == O_FPOOL ? 1 : 0,
                              (int)i == O_FPOOL ? 1000 : 10000000, &a->counts[i - O_SHAPES]);
    }
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

void w_world_free(w_world *w)
{
    free(w->train);
    free(w->val);
    free(w->ftrain);
    for (int c = 0; c < W_CLASSES; c++) free(w->pool[c]);
    free(w->test_labels);
    free(w->train_labels);
}

typedef frz_status (*part_fn)(w_world *w);
static frz_status part_scenes(w_world *w) { return w_make_scenes(w); }
static frz_status part_fashion(w_world *w) { return w_make_fashion(w); }
static frz_status part_captions(w_world *w) { return w_write_captions(w); }
static frz_status part_vqa(w_world *w) { return w_write_vqa(w); }
static frz_status part_binding(w_world *w) { return w_write_binding(w); }

static int generate(const w_config *cfg)
{
    w_world w = {0};
    w.cfg = cfg;
    static const struct {
        const char *name;
        part_fn fn;
    } parts[] = {{"shape scenes", part_scenes}, {"fashion images", part_fashion}, {"captions", part_captions},
                 {"vqa and knowledge", part_vqa}, {"binding episodes", part_binding}};
    const double t0 = now();
    frz_status st = w_mkdirs(cfg->out);
    for (size_t i = 0; st == FRZ_OK && i < sizeof parts / sizeof parts[0]; i++) {
        double t = now();
        st = parts[i].fn(&w);
        if (st == FRZ_OK) fprintf(stderr, "frozen-demo-world: %-18s %6.2f s\n", parts[i].name, now() - t);
    }
    w_corpus_stats cs = {0};
    size_t n_probes = 0;
    double t = now();
    if (st == FRZ_OK && (st = w_write_corpus(&w, &cs)) == FRZ_OK)
        fprintf(stderr, "frozen-demo-world: %-18s %6.2f s\n", "corpus", now() - t);
    t = now();
    if (st == FRZ_OK && (st = w_write_probes(&w, &n_probes)) == FRZ_OK)
        fprintf(stderr, "frozen-demo-world: %-18s %6.2f s\n", "probes", now() - t);
    if (st == FRZ_OK) st = w_write_meta(&w, &cs, n_probes);
    int rc = st == FRZ_OK ? CLI_OK : cli_lib_error(st);
    if (rc == CLI_OK) {
        printf("world %s (seed %llu, %s): %zu + %zu shape scenes, %zu + %zu fashion images, %zu training captions,\n"
               "  vqa %ld test / %ld support, knowledge %ld, binding 6 x %ld episodes, corpus %zu lines (max %zu "
               "pre-tokens), %zu probes; %.1f s\n",
               cfg->out, (unsigned long long)cfg->seed, cfg->scale, w.n_train, w.n_val, w.n_ftrain,
               w.n_pool * W_CLASSES, w.n_train + w.n_ftrain, cfg->vqa_test, cfg->vqa_support, cfg->knowledge,
               cfg->episodes, cs.lines, cs.max_pretokens, n_probes, now() - t0);
        rc = cli_finish_stdout();
    }
    w_world_free(&w);
    return rc;
}

int main(int argc, char **argv)
{
    cli_setup_logging();
    args a = {0};
    a.seed = a.eval_seed = -1;
    for (int i = 0; i < N_COUNTS; i++) a.counts[i] = -1;
    w_config *c = &a.cfg;
    c->scale = "full";
    c->fashion_dir = "/usr/share/datasets/fashion-mnist";
    c->aa = 4;
    c->easy_fraction = 0.2;
    c->max_tokens = 200;
    memcpy(c->mix, default_mix, sizeof c->mix);
    int rc = cli_parse_options(&command, argc - 1, argv + 1, on_option, &a);
    if (rc == CLI_OK && !c->out) rc = cli_usage_error(&command, "--out is required");
    if (rc != CLI_OK) return rc < 0 ? 0 : rc;
    c->seed = (uint64_t)(a.seed < 0 ? 1 : a.seed);
    c->eval_seed = a.eval_seed < 0 ? c->seed : (uint64_t)a.eval_seed;
    const long *defaults = strcmp(c->scale, "small") == 0 ? small_counts : full_counts;
    for (int i = 0; i < N_COUNTS; i++) *count_field(c, i) = a.counts[i] >= 0 ? a.counts[i] : defaults[i];
    return generate(c);
}
