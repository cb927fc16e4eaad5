/* main.c -- frozen-demo-report: OUT/report.md from the demo's evaluation summaries, training metrics and
 * timings (the summary table is printed on stdout too); and `score-captions`, the captioning accuracy the
 * driver computes from `frozen caption` output. */
#include "report.h"

#include "../common.h"
#include "cli/cli.h"

#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- the report ------------------------------------------------------------------------------------------- */

static const cli_option report_options[] = {{"out", 0, 1}, {"targets", 0, 1}, {"samples", 0, 1}};
enum { OPT_OUT, OPT_TARGETS, OPT_SAMPLES };

static const cli_command report_command = {
    "demo-report",
    "usage: frozen-demo-report --out OUT [--targets FILE] [--samples N]\n"
    "       frozen-demo-report score-captions --ref REF.tsv --gen CAPTIONS.tsv --out DIR [--setting NAME]\n"
    "\n"
    "Writes OUT/report.md from the demo's results: every OUT/eval/<run>/<dir>/summary.json (`frozen eval`,\n"
    "frozen-demo-textprobe and score-captions write them), OUT/runs/<run>/metrics.csv, OUT/settings.txt and\n"
    "OUT/timings.tsv when present; draws OUT/plots/loss.png and OUT/plots/shots.png; prints the summary table.\n"
    "\n"
    "  --out OUT         the demo's output folder\n"
    "  --targets FILE    'row percent' lines that replace the default targets (above chance and blind); rows:\n"
    "                    caption, vqa/0, vqa/1, vqa/4, binding_2way/1[/ti] (3, 5; 5way too), knowledge\n"
    "  --samples N       example prompts shown per task cell (default 1)\n"
    "\n"
    "score-captions scores `frozen caption` output against the reference TSV: a caption is right when its\n"
    "shape word and its colour word both equal the reference's. It writes DIR/results.jsonl, summary.json and\n"
    "summary.md (task \"caption\", row NAME, default \"frozen\").\n",
    report_options, sizeof report_options / sizeof report_options[0],
};

typedef struct report_args {
    const char *out, *targets;
    long samples;
} report_args;

static int report_option(void *ctx, size_t index, const char *value)
{
    report_args *a = ctx;
    switch (index) {
    case OPT_OUT: a->out = value; return CLI_OK;
    case OPT_TARGETS: a->targets = value; return CLI_OK;
    case OPT_SAMPLES: return cli_parse_long(&report_command, "--samples", value, 0, 100, &a->samples);
    default: return CLI_OK;
    }
}

/* Copies a small text file into the report as a code block, if it exists. */
static void include_file(FILE *md, const char *out_dir, const char *name, const char *title)
{
    char *path = demo_join(out_dir, name);
    FILE *f = path ? fopen(path, "rb") : NULL;
    free(path);
    if (!f) return;
    fprintf(md, "\n## %s\n\n```\n", title);
    char buf[4096];
    size_t got;
    while ((got = fread(buf, 1, sizeof buf, f)) > 0) fwrite(buf, 1, got, md);
    fputs("```\n", md);
    fclose(f);
}

/* OUT/timings.tsv ("stage<TAB>seconds" lines, written by demo/run.sh) as a table with the total. */
static void timings(FILE *md, const char *out_dir)
{
    char *path = demo_join(out_dir, "timings.tsv");
    FILE *f = path ? fopen(path, "rb") : NULL;
    free(path);
    if (!f) return;
    fputs("\n## Time\n\n| stage | seconds |\n|---|---:|\n", md);
    char line[512];
    double total = 0;
    while (fgets(line, sizeof line, f)) {
        char *tab = strchr(line, '\t');
        if (!tab) continue;
        *tab = '\0';
        double s = strtod(tab + 1, NULL);
        total += s;
        fprintf(md, "| %s | %.0f |\n", line, s);
    }
    fprintf(md, "| **total** | **%.0f** |\n\nThe demo's budget is 600 s (10 minutes) on 2 cores.\n", total);
    fclose(f);
}

/* ---- samples ---------------------------------------------------------------------------------------------- */

typedef struct sample_ctx {
    FILE *md;
    const char *out_dir; /* image paths are shown relative to it */
    long per_cell;
    char seen[64][160]; /* task/setting/shots cells and how many were shown */
    int count[64];
    size_t n_seen;
} sample_ctx;

/* The prompt with each "<image>" followed by its path: "<image: path>" (relative to OUT). */
static void write_prompt(FILE *md, const char *prompt, json_t *images, const char *out_dir)
{
    size_t k = 0, n = strlen(out_dir);
    for (const char *p = prompt; *p;) {
        if (strncmp(p, "<image>", 7) == 0) {
            const char *img = json_string_value(json_array_get(images, k++));
            if (img && strncmp(img, out_dir, n) == 0 && img[n] == '/') img += n + 1;
            fprintf(md, "<image: %s>", img ? img : "?");
            p += 7;
        } else {
            fputc(*p == '\n' ? ' ' : *p, md);
            p++;
        }
    }
}

static void sample_line(void *ctx, void *line)
{
    sample_ctx *c = ctx;
    json_t *o = line;
    const char *task = json_string_value(json_object_get(o, "task"));
    const char *setting = json_string_value(json_object_get(o, "setting"));
    const char *prompt = json_string_value(json_object_get(o, "prompt"));
    json_t *gen = json_object_get(o, "generation"), *images = json_object_get(o, "images");
    if (!task || !setting || !json_is_string(gen)) return;
    char key[160];
    snprintf(key, sizeof key, "%s|%s|%lld", task, setting, (long long)json_integer_value(json_object_get(o, "shots")));
    size_t i = 0;
    while (i < c->n_seen && strcmp(c->seen[i], key) != 0) i++;
    if (i == c->n_seen) {
        if (c->n_seen == 64) return;
        snprintf(c->seen[c->n_seen], sizeof c->seen[0], "%s", key);
        c->count[c->n_seen++] = 0;
    }
    if (c->count[i] >= c->per_cell) return;
    c->count[i]++;
    char *g = json_dumps(gen, JSON_ENCODE_ANY);
    /* the distinct answers (VQA files repeat one answer ten times) */
    json_t *all = json_object_get(o, "answers"), *distinct = json_array();
    for (size_t a = 0; distinct && a < json_array_size(all); a++) {
        size_t k = 0;
        while (k < json_array_size(distinct) && !json_equal(json_array_get(distinct, k), json_array_get(all, a))) k++;
        if (k == json_array_size(distinct)) json_array_append(distinct, json_array_get(all, a));
    }
    char *answers = distinct ? json_dumps(distinct, JSON_COMPACT) : NULL;
    json_decref(distinct);
    fprintf(c->md, "[%s | %s | %lld-shot | id %s]\nprompt:     ", task, setting,
            (long long)json_integer_value(json_object_get(o, "shots")),
            json_string_value(json_object_get(o, "id")) ? json_string_value(json_object_get(o, "id")) : "?");
    if (prompt) write_prompt(c->md, prompt, images, c->out_dir);
    else fputs("(none)", c->md);
    fprintf(c->md, "\ngeneration: %s\nanswer:     %s -> score %.2f\n\n", g ? g : "?", answers ? answers : "?",
            json_number_value(json_object_get(o, "score")));
    free(g);
    free(answers);
}

static void samples(FILE *md, const char *out_dir, const dr_results *r, long per_cell)
{
    if (per_cell <= 0) return;
    fputs("\n## Sample prompts and generations\n\nImages appear as `<image: path>` where their visual prefix "
          "enters the prompt; the generation is shown as a JSON string (the leading space is the LM's).\n",
          md);
    for (size_t k = 0; k < dr_n_runs; k++)
        for (size_t i = 0; i < r->n; i++) {
            const dr_result *x = &r->v[i];
            if (strcmp(x->run, dr_runs[k].name) != 0) continue;
            size_t j = 0; /* each folder once */
            while (j < i && !(strcmp(r->v[j].run, x->run) == 0 && strcmp(r->v[j].dir, x->dir) == 0)) j++;
            if (j < i) continue;
            sample_ctx *c = calloc(1, sizeof *c);
            if (!c) return;
            c->per_cell = per_cell;
            c->out_dir = out_dir;
            /* collect first (the file may be missing), then write */
            char *buf = NULL;
            size_t len = 0;
            c->md = open_memstream(&buf, &len);
            int ok = c->md && dr_each_line(out_dir, x->run, x->dir, sample_line, c) == 0;
            if (c->md) fclose(c->md);
            if (ok && len) fprintf(md, "\n### %s: %s\n\n```\n%s```\n", dr_runs[k].title, x->dir, buf);
            free(buf);
            free(c);
        }
}

/* ---- main ------------------------------------------------------------------------------------------------- */

static int write_report(const report_args *a)
{
    if (a->targets && dr_targets_load(a->targets) != 0) return CLI_FAIL;
    dr_results r;
    if (dr_results_load(a->out, &r) != 0) return CLI_FAIL;
    double chance[64];
    dr_chance(a->out, &r, chance);
    char *path = demo_join(a->out, "report.md");
    FILE *md = path ? fopen(path, "wb") : NULL;
    int rc = md ? CLI_OK : cli_fail("%s: cannot create", path ? path : a->out);
    if (rc == CLI_OK) {
        fputs("# libfrozen demo report\n\nFrozen in miniature on the built-in world (docs/demo-run.md): a vision encoder "
              "trained on captions only, through a frozen LM, then asked questions, taught new words and asked "
              "for facts only the LM knows.\n",
              md);
        include_file(md, a->out, "settings.txt", "Settings");
        fputs("\n## Summary\n\nAccuracy in percent. Columns: the runs (Frozen: LM frozen; blind: trained and tested "
              "on black images; finetuned: LM trained too; scratch: LM randomly initialised and trained; text "
              "ceiling: the LM alone with every image replaced by its caption), the chance level, the paper's "
              "figure for Frozen (VQAv2, OK-VQA, Open-Ended miniImageNet; none for captioning), the target "
              "(default: above both chance and blind) and whether Frozen met it; n: Frozen's examples. '-': not "
              "run. Captioning is right when the caption's shape and colour words equal the reference's.\n\n",
              md);
        dr_tally tally;
        dr_table_write(md, &r, chance, &tally);
        dr_tally_write(md, &tally);
        fputs("\n## Plots\n\n", md);
        /* the table on stdout too */
        dr_table_write(stdout, &r, chance, &tally);
        dr_tally_write(stdout, &tally);
        if (dr_plots_write(a->out, &r, md) != 0) rc = CLI_FAIL;
        samples(md, a->out, &r, a->samples);
        timings(md, a->out);
        if (fclose(md) != 0 && rc == CLI_OK) rc = cli_fail("%s: write error", path);
    }
    if (rc == CLI_OK) fprintf(stderr, "frozen-demo-report: wrote %s\n", path);
    free(path);
    dr_results_free(&r);
    return rc;
}

static const cli_option cap_options[] = {{"ref", 0, 1}, {"gen", 0, 1}, {"out", 0, 1}, {"setting", 0, 1}};
enum { CAP_REF, CAP_GEN, CAP_OUT, CAP_SETTING };

static const cli_command cap_command = {
    "demo-report score-captions",
    "usage: frozen-demo-report score-captions --ref REF.tsv --gen CAPTIONS.tsv --out DIR [--setting NAME]\n",
    cap_options, sizeof cap_options / sizeof cap_options[0],
};

typedef struct cap_args {
    const char *ref, *gen, *out, *setting;
} cap_args;

static int cap_option(void *ctx, size_t index, const char *value)
{
    cap_args *a = ctx;
    const char **slot[] = {&a->ref, &a->gen, &a->out, &a->setting};
    *slot[index] = value;
    return CLI_OK;
}

int main(int argc, char **argv)
{
    cli_setup_logging();
    char **words = malloc(((size_t)argc + 1) * sizeof *words);
    size_t n_words = 0;
    if (!words) return cli_fail("out of memory");
    int rc;
    if (argc > 1 && strcmp(argv[1], "score-captions") == 0) {
        cap_args a = {NULL, NULL, NULL, "frozen"};
        rc = cli_parse(&cap_command, argc - 2, argv + 2, cap_option, &a, words, &n_words);
        if (rc == CLI_OK && (n_words || !a.ref || !a.gen || !a.out))
            rc = cli_usage_error(&cap_command, "--ref, --gen and --out are required (and nothing else)");
        if (rc == CLI_OK) rc = dr_score_captions(a.ref, a.gen, a.out, a.setting);
    } else {
        report_args a = {NULL, NULL, 1};
        rc = cli_parse(&report_command, argc - 1, argv + 1, report_option, &a, words, &n_words);
        if (rc == CLI_OK && (n_words || !a.out))
            rc = cli_usage_error(&report_command, "--out OUT is required (and nothing else)");
        if (rc == CLI_OK) rc = write_report(&a);
    }
    free(words);
    if (rc < 0) return 0; /* --help */
    if (rc == CLI_OK) rc = cli_finish_stdout();
    return rc;
}
