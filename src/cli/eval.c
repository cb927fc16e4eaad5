/* eval.c -- `frozen eval vqa|binding`: few-shot evaluation as the paper ran it, through the driver of
 * src/prompt/fewshot.h (which uses the internal evaluation library, src/eval). This command shows progress and
 * turns Ctrl-C into a clean stop: the current example finishes, the summaries are written, exit status 130. */
#include "cli.h"
#include "prompt/fewshot.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- options shared by both tasks -------------------------------------------------------------------------- */

#define COMMON_USAGE                                                                                                 \
    "  -m, --lm DIR          the language model folder\n"                                                           \
    "  --model RUNDIR        a `frozen train` run folder (vision.safetensors, projector.safetensors)\n"             \
    "  --out OUTDIR          results.jsonl, summary.json and summary.md go here (created if missing)\n"             \
    "  --blind               black images instead of the real ones (row \"blind\"; the paper's test-blind)\n"       \
    "  --with-blind          both rows: the real images and black ones\n"                                           \
    "  --limit N             only the first N questions / episodes\n"                                               \
    "  --task NAME           the task's name in the report\n"                                                       \
    "  -n, --max-tokens N    tokens generated per answer before <|endoftext|> or a newline (1..1000, default 10)\n" \
    "  --no-cache            evaluate every prompt from scratch (same results, slower; for checking)\n"             \
    "  --batch N             examples sharing a support are run together, N at most (1..1024, default 8)\n"       \
    "  --resume              continue the report in OUTDIR, skipping the examples it holds\n"                       \
    "  --overwrite           start OUTDIR's report afresh even if it holds results\n"                               \
    "  -t, --threads N       threads (1..4096, default: the processors online)\n"                                   \
    "  -v, --verbose         library info/debug messages on stderr\n"                                               \
    "  -h, --help            this help\n"                                                                           \
    "\n"                                                                                                            \
    "Decoding is greedy and stops at <|endoftext|> or a newline. The report is written as the run goes; Ctrl-C\n"   \
    "finishes the current example, writes the summaries and exits with status 130 (continue with --resume).\n"     \
    "A progress bar with the running accuracy is drawn on a terminal, plain lines otherwise.\n"

#define COMMON_OPTIONS                                                                                        \
    {"lm", 'm', 1}, {"model", 0, 1}, {"out", 0, 1}, {"blind", 0, 0}, {"with-blind", 0, 0}, {"limit", 0, 1},   \
        {"task", 0, 1}, {"max-tokens", 'n', 1}, {"no-cache", 0, 0}, {"resume", 0, 0}, {"overwrite", 0, 0},    \
        {"threads", 't', 1}, {"batch", 0, 1}
enum {
    OPT_LM, OPT_MODEL, OPT_OUT, OPT_BLIND, OPT_WITH_BLIND, OPT_LIMIT, OPT_TASK, OPT_MAX_TOKENS, OPT_NO_CACHE,
    OPT_RESUME, OPT_OVERWRITE, OPT_THREADS, OPT_BATCH, N_COMMON
};

typedef struct common {
    const char *lm, *model, *out, *task;
    int blind, with_blind, no_cache, resume, overwrite;
    long limit, max_tokens, threads, batch;
} common;

static int common_option(const cli_command *cmd, common *c, size_t index, const char *value)
{
    switch (index) {
    case OPT_LM: c->lm = value; return CLI_OK;
    case OPT_MODEL: c->model = value; return CLI_OK;
    case OPT_OUT: c->out = value; return CLI_OK;
    case OPT_BLIND: c->blind = 1; return CLI_OK;
    case OPT_WITH_BLIND: c->with_blind = 1; return CLI_OK;
    case OPT_LIMIT: return cli_parse_long(cmd, "--limit", value, 1, 1L << 40, &c->limit);
    case OPT_TASK: c->task = value; return CLI_OK;
    case OPT_MAX_TOKENS: return cli_parse_long(cmd, "--max-tokens", value, 1, 1000, &c->max_tokens);
    case OPT_NO_CACHE: c->no_cache = 1; return CLI_OK;
    case OPT_RESUME: c->resume = 1; return CLI_OK;
    case OPT_OVERWRITE: c->overwrite = 1; return CLI_OK;
    case OPT_THREADS: return cli_parse_long(cmd, "--threads", value, 1, 4096, &c->threads);
    case OPT_BATCH: return cli_parse_long(cmd, "--batch", value, 1, 1024, &c->batch);
    default: return CLI_OK;
    }
}

static int common_check(const cli_command *cmd, const common *c)
{
    if (!c->lm) return cli_usage_error(cmd, "--lm DIR is required");
    if (!c->model) return cli_usage_error(cmd, "--model RUNDIR is required");
    if (!c->out) return cli_usage_error(cmd, "--out OUTDIR is required");
    if (c->blind && c->with_blind) return cli_usage_error(cmd, "--blind and --with-blind exclude each other");
    if (c->resume && c->overwrite) return cli_usage_error(cmd, "--resume and --overwrite exclude each other");
    /* results are never thrown away by accident */
    if (!c->resume && !c->overwrite) {
        size_t n = strlen(c->out) + 16;
        char *path = malloc(n);
        if (!path) return cli_fail("out of memory");
        snprintf(path, n, "%s/results.jsonl", c->out);
        struct stat sb;
        int exists = stat(path, &sb) == 0 && sb.st_size > 0;
        free(path);
        if (exists)
            return cli_fail("%s/results.jsonl already holds results: add --resume to continue them or --overwrite to "
                            "start afresh", c->out);
    }
    return CLI_OK;
}

/* ---- progress ------------------------------------------------------------------------------------------ */

typedef struct progress_state {
    int tty;
    size_t next_line; /* plain output: the next count that prints a line */
} progress_state;

static void on_progress(const frz_fewshot_progress *p, void *user_data)
{
    progress_state *ps = user_data;
    const double acc = p->scored ? 100.0 * p->score_sum / (double)p->scored : 0.0;
    const size_t run = p->done - p->skipped;
    const double rate = p->elapsed_s > 0 ? (double)run / p->elapsed_s : 0.0;
    const double eta = rate > 0 ? (double)(p->total - p->done) / rate : 0.0;
    if (ps->tty) {
        enum { WIDTH = 24 };
        char bar[WIDTH + 1];
        size_t fill = p->total ? p->done * WIDTH / p->total : WIDTH;
        for (size_t i = 0; i < WIDTH; i++) bar[i] = i < fill ? '#' : '-';
        bar[WIDTH] = '\0';
        fprintf(stderr, "\r[%s] %zu/%zu  acc %5.1f%%  %.2f ex/s  ETA %2d:%02d  %s %s %d-shot\x1b[K", bar, p->done,
                p->total, acc, rate, (int)(eta / 60), (int)eta % 60, p->task, p->setting, p->shots);
    } else if (p->done >= ps->next_line || p->done == p->total) {
        fprintf(stderr, "frozen eval: %zu/%zu examples, accuracy %.1f%% over %zu, %.2f examples/s, %s %s %d-shot\n",
                p->done, p->total, acc, p->scored, rate, p->task, p->setting, p->shots);
        size_t step = p->total / 20 ? p->total / 20 : 1;
        ps->next_line = (p->done / step + 1) * step;
    }
    fflush(stderr);
}

/* Loads the models, fills the driver's parameters, runs `run`, and reports how it ended. */
typedef frz_status (*task_fn)(const frz_fewshot_params *p, const void *task);

static int run_task(const common *c, task_fn fn, const void *task)
{
    frz_lm *lm = NULL;
    frz_vision *v = NULL;
    frz_projector *pj = NULL;
    int rc = cli_load_lm(c->lm, &lm);
    if (rc == CLI_OK) rc = cli_load_run(c->model, &v, &pj);
    if (rc == CLI_OK) {
        progress_state ps = {isatty(STDERR_FILENO), 0};
        frz_fewshot_params p;
        frz_fewshot_params_init(&p);
        p.lm = lm;
        p.vision = v;
        p.proj = pj;
        p.n_threads = (int)c->threads;
        p.max_tokens = (int)c->max_tokens;
        p.cache = !c->no_cache;
        p.batch = (int)c->batch;
        p.settings = c->with_blind ? FRZ_FEWSHOT_SEEING | FRZ_FEWSHOT_BLIND : c->blind ? FRZ_FEWSHOT_BLIND
                                                                                         : FRZ_FEWSHOT_SEEING;
        p.limit = (size_t)c->limit;
        p.out_dir = c->out;
        p.resume = c->resume;
        p.progress = on_progress;
        p.progress_data = &ps;
        p.abort = cli_abort_requested;

        cli_catch_sigint(1);
        frz_status st = fn(&p, task);
        signal(SIGINT, SIG_DFL);
        if (ps.tty) fputc('\n', stderr); /* below the bar */
        if (st == FRZ_ERR_CANCELLED && cli_interrupted()) {
            fprintf(stderr, "frozen eval: interrupted; %s holds every finished example and the summaries "
                    "(continue with --resume)\n", c->out);
            rc = 130;
        } else if (st != FRZ_OK) {
            rc = cli_lib_error(st);
        } else {
            /* the table, as written to summary.md */
            size_t n = strlen(c->out) + 16;
            char *path = malloc(n);
            FILE *f = path ? (snprintf(path, n, "%s/summary.md", c->out), fopen(path, "rb")) : NULL;
            char buf[4096];
            size_t got;
            while (f && (got = fread(buf, 1, sizeof buf, f)) > 0) fwrite(buf, 1, got, stdout);
            if (f) fclose(f);
            free(path);
        }
    }
    frz_projector_free(pj);
    frz_vision_free(v);
    frz_lm_free(lm);
    return rc;
}

/* ---- frozen eval vqa ----------------------------------------------------------------------------------------- */

static const cli_option vqa_options[] = {
    COMMON_OPTIONS,           {"questions", 0, 1},     {"annotations", 0, 1}, {"images", 0, 1},
    {"support-questions", 0, 1}, {"support-annotations", 0, 1}, {"support-images", 0, 1}, {"shots", 0, 1},
    {"seed", 0, 1},           {"shared-shots", 0, 0},
};
enum {
    OPT_QUESTIONS = N_COMMON, OPT_ANNOTATIONS, OPT_IMAGES, OPT_SUP_Q, OPT_SUP_A, OPT_SUP_IMAGES, OPT_SHOTS, OPT_SEED,
    OPT_SHARED
};

static const cli_command vqa_command = {
    "eval vqa",
    "usage: frozen eval vqa --lm DIR --model RUNDIR --questions Q.json --annotations A.json --images DIR\n"
    "                       [--support-questions SQ.json --support-annotations SA.json [--support-images SDIR]]\n"
    "                       [--shots 0,1,4] [--seed S] [--shared-shots] --out OUTDIR [options]\n"
    "\n"
    "VQAv2 or OK-VQA (the files as released; COCO images) at each shot count: the prompt is, per shot, its image\n"
    "and \"Question: ... Answer: ...\", then the question's image and \"Question: ... Answer:\". Scored with the\n"
    "standard VQA accuracy (docs/eval-formats.md). Shots are drawn from the support split (the paper: VQAv2\n"
    "train), or without one from the questions' own file, never showing the question's image; the draw depends\n"
    "only on the seed and the question, and a question's 1-shot draw is the first shot of its 4-shot draw.\n"
    "\n"
    "  --questions FILE      questions JSON ({\"questions\": [...]})\n"
    "  --annotations FILE    annotations JSON ({\"annotations\": [...]})\n"
    "  --images DIR          the questions' COCO images\n"
    "  --support-questions FILE, --support-annotations FILE, --support-images DIR\n"
    "                        the split shots come from (images default to --images)\n"
    "  --shots LIST          comma-separated shot counts (default 0,1,4)\n"
    "  --seed S              the shots' draw (0..2^63-1, default 0)\n"
    "  --shared-shots        one support set for every question (drawn once; needs a support split)\n"
    COMMON_USAGE,
    vqa_options, sizeof vqa_options / sizeof vqa_options[0],
};

typedef struct vqa_args {
    common c;
    const char *questions, *annotations, *images, *sq, *sa, *simages, *shots;
    long seed;
    int shared;
} vqa_args;

static int vqa_option(void *ctx, size_t index, const char *value)
{
    vqa_args *a = ctx;
    switch (index) {
    case OPT_QUESTIONS: a->questions = value; return CLI_OK;
    case OPT_ANNOTATIONS: a->annotations = value; return CLI_OK;
    case OPT_IMAGES: a->images = value; return CLI_OK;
    case OPT_SUP_Q: a->sq = value; return CLI_OK;
    case OPT_SUP_A: a->sa = value; return CLI_OK;
    case OPT_SUP_IMAGES: a->simages = value; return CLI_OK;
    case OPT_SHOTS: a->shots = value; return CLI_OK;
    case OPT_SEED: return cli_parse_long(&vqa_command, "--seed", value, 0, 0x7fffffffffffffffL, &a->seed);
    case OPT_SHARED: a->shared = 1; return CLI_OK;
    default: return common_option(&vqa_command, &a->c, index, value);
    }
}

/* "0,1,4" -> shots (room for 32). */
static int parse_shots(const char *s, int *shots, size_t *n)
{
    *n = 0;
    const char *p = s;
    while (*p) {
        char word[32];
        size_t len = strcspn(p, ",");
        if (len == 0 || len >= sizeof word || *n == 32)
            return cli_usage_error(&vqa_command, "--shots: '%s' is not a list of shot counts such as 0,1,4", s);
        memcpy(word, p, len);
        word[len] = '\0';
        long v;
        int rc = cli_parse_long(&vqa_command, "--shots", word, 0, 64, &v);
        if (rc != CLI_OK) return rc;
        shots[(*n)++] = (int)v;
        p += len;
        if (*p == ',') p++;
    }
    if (*n == 0) return cli_usage_error(&vqa_command, "--shots: empty list");
    return CLI_OK;
}

static frz_status run_vqa(const frz_fewshot_params *p, const void *task)
{
    return frz_fewshot_run_vqa(p, task);
}

static int cmd_eval_vqa(int argc, char **argv)
{
    vqa_args a = {0};
    a.c.max_tokens = 10;
    a.c.batch = 8;
    a.c.threads = cli_nproc();
    a.shots = "0,1,4";
    size_t n_shots = 0;
    int shots[32];
    int rc = cli_parse_options(&vqa_command, argc, argv, vqa_option, &a);
    if (rc == CLI_OK && (!a.questions || !a.annotations || !a.images))
        rc = cli_usage_error(&vqa_command, "--questions, --annotations and --images are required");
    if (rc == CLI_OK && !a.sq != !a.sa)
        rc = cli_usage_error(&vqa_command, "--support-questions and --support-annotations go together");
    if (rc == CLI_OK && a.shared && !a.sq)
        rc = cli_usage_error(&vqa_command, "--shared-shots needs a support split (--support-questions ...)");
    if (rc == CLI_OK) rc = parse_shots(a.shots, shots, &n_shots);
    if (rc == CLI_OK) rc = common_check(&vqa_command, &a.c);
    frz_vqa_set *q = NULL, *s = NULL;
    frz_status st = FRZ_OK;
    if (rc == CLI_OK && (st = frz_vqa_load(a.questions, a.annotations, a.images, &q)) != FRZ_OK)
        rc = cli_lib_error(st);
    if (rc == CLI_OK && a.sq &&
        (st = frz_vqa_load(a.sq, a.sa, a.simages ? a.simages : a.images, &s)) != FRZ_OK)
        rc = cli_lib_error(st);
    if (rc == CLI_OK) {
        frz_fewshot_vqa v = {q, s, a.c.task ? a.c.task : "vqav2", shots, n_shots, (uint64_t)a.seed,
                             a.shared ? FRZ_FEWSHOT_SHARED_SHOTS : 0};
        rc = run_task(&a.c, run_vqa, &v);
    }
    frz_vqa_free(q);
    frz_vqa_free(s);
    return rc;
}

/* ---- frozen eval binding ------------------------------------------------------------------------------------ */

static const cli_option bind_options[] = {
    COMMON_OPTIONS, {"episodes", 0, 1}, {"task-induction", 0, 1}, {"repeats", 0, 1}, {"shot-template", 0, 1},
    {"query-template", 0, 1}, {"induction-template", 0, 1},
};
enum { OPT_EPISODES = N_COMMON, OPT_INDUCTION, OPT_REPEATS, OPT_SHOT_TEMPLATE, OPT_QUERY_TEMPLATE,
       OPT_INDUCTION_TEMPLATE };

static const cli_command bind_command = {
    "eval binding",
    "usage: frozen eval binding --lm DIR --model RUNDIR --episodes FILE|DIR\n"
    "                           [--task-induction on|off|both] [--repeats N] --out OUTDIR [options]\n"
    "\n"
    "Open-ended fast concept binding (Open-Ended miniImageNet, Fast-VQA): per episode, [\"Answer with dax or\n"
    "blicket.\"] then each support image with \"This is a dax.\" (1 + repeats times), then the query image and\n"
    "\"Question: What is this? Answer:\" (or the episode's question). Correct only if exactly the right name is\n"
    "generated (Fast-VQA: the answer, normalised). Rows: settings (frozen / blind, task induction, repeats);\n"
    "columns: inner shots. Episodes showing the same support evaluate it once (prompt caching).\n"
    "\n"
    "  --episodes PATH       our JSONL (.jsonl), the released *_all_questions.json, or its folder\n"
    "                        (docs/eval-formats.md)\n"
    "  --task-induction M    on, off, both (two rows), or episode (each episode's flag; the default)\n"
    "  --repeats N           present the support 1 + N times (default: each episode's)\n"
    "  --shot-template T     the text after each support image (default \"This is a {name}.\"; a shot's own\n"
    "                        caption in the episode file wins)\n"
    "  --query-template T    the text after the query image (default \"Question: {question} Answer:\"; may be\n"
    "                        empty: the answer then follows the image)\n"
    "  --induction-template T  the task-induction text (default \"Answer with {names}.\")\n"
    COMMON_USAGE,
    bind_options, sizeof bind_options / sizeof bind_options[0],
};

typedef struct bind_args {
    common c;
    const char *episodes;
    int induction;
    long repeats;
    const char *shot_template, *query_template, *induction_template;
} bind_args;

static int bind_option(void *ctx, size_t index, const char *value)
{
    bind_args *a = ctx;
    switch (index) {
    case OPT_EPISODES: a->episodes = value; return CLI_OK;
    case OPT_INDUCTION:
        if (strcmp(value, "on") == 0) a->induction = 1;
        else if (strcmp(value, "off") == 0) a->induction = 0;
        else if (strcmp(value, "both") == 0) a->induction = 2;
        else if (strcmp(value, "episode") == 0) a->induction = -1;
        else return cli_usage_error(&bind_command, "--task-induction: '%s' is not on, off, both or episode", value);
        return CLI_OK;
    case OPT_REPEATS: return cli_parse_long(&bind_command, "--repeats", value, 0, 100, &a->repeats);
    case OPT_SHOT_TEMPLATE: a->shot_template = value; return CLI_OK;
    case OPT_QUERY_TEMPLATE: a->query_template = value; return CLI_OK;
    case OPT_INDUCTION_TEMPLATE: a->induction_template = value; return CLI_OK;
    default: return common_option(&bind_command, &a->c, index, value);
    }
}

static frz_status run_binding(const frz_fewshot_params *p, const void *task)
{
    return frz_fewshot_run_binding(p, task);
}

static int cmd_eval_binding(int argc, char **argv)
{
    bind_args a = {0};
    a.c.max_tokens = 10;
    a.c.batch = 8;
    a.c.threads = cli_nproc();
    a.induction = -1;
    a.repeats = -1;
    int rc = cli_parse_options(&bind_command, argc, argv, bind_option, &a);
    if (rc == CLI_OK && !a.episodes) rc = cli_usage_error(&bind_command, "--episodes FILE|DIR is required");
    if (rc == CLI_OK) rc = common_check(&bind_command, &a.c);
    frz_bind_set *set = NULL;
    frz_status st = FRZ_OK;
    if (rc == CLI_OK && (st = frz_bind_load(a.episodes, &set)) != FRZ_OK) rc = cli_lib_error(st);
    if (rc == CLI_OK) {
        frz_fewshot_binding b = {set, a.c.task, a.induction, (int)a.repeats, a.shot_template, a.query_template,
                                 a.induction_template};
        rc = run_task(&a.c, run_binding, &b);
    }
    frz_bind_free(set);
    return rc;
}

/* ---- dispatch ------------------------------------------------------------------------------------------------ */

static const char eval_usage[] =
    "usage: frozen eval vqa     --lm DIR --model RUNDIR --questions Q.json --annotations A.json --images DIR\n"
    "                           [--shots 0,1,4] [--seed S] [--blind] --out OUTDIR ...\n"
    "       frozen eval binding --lm DIR --model RUNDIR --episodes FILE|DIR [--task-induction on|off|both]\n"
    "                           [--blind] --out OUTDIR ...\n"
    "\n"
    "Few-shot evaluation of a trained run (see frozen eval vqa --help, frozen eval binding --help).\n";

int cmd_eval(int argc, char **argv)
{
    if (argc >= 1 && strcmp(argv[0], "vqa") == 0) return cmd_eval_vqa(argc - 1, argv + 1);
    if (argc >= 1 && strcmp(argv[0], "binding") == 0) return cmd_eval_binding(argc - 1, argv + 1);
    if (argc >= 1 && (strcmp(argv[0], "--help") == 0 || strcmp(argv[0], "-h") == 0)) {
        fputs(eval_usage, stdout);
        return -1;
    }
    fprintf(stderr, "frozen eval: %s\n\n%s", argc ? "unknown task (vqa or binding)" : "which task? (vqa or binding)",
            eval_usage);
    return CLI_USAGE;
}
