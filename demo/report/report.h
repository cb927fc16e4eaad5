/* report.h -- frozen-demo-report: what its parts share.
 *
 *   results.c    every summary.json under OUT/eval/<run>/<dir>/ (the harness's format, docs/eval-formats.md),
 *                and example lines of the results.jsonl beside them
 *   table.c      the summary table: rows (the demo's tasks), columns (runs, chance, the paper, target, met)
 *   plots.c      OUT/plots/loss.png (each run's training loss) and OUT/plots/shots.png (accuracy vs shots)
 *   captions.c   captioning accuracy from `frozen caption` output, written as a harness report
 *   main.c       the command line and OUT/report.md
 *
 * Runs are the folders of OUT/eval (frozen, blind, finetuned, scratch; text for the LM's text-only ceilings)
 * and of OUT/runs (their training). */
#ifndef DEMO_REPORT_H
#define DEMO_REPORT_H

#include <stddef.h>
#include <stdio.h>

/* The table's model columns, in order: run folder name and column title. */
typedef struct dr_run {
    const char *name, *title;
} dr_run;

extern const dr_run dr_runs[];
extern const size_t dr_n_runs;

/* One cell of a summary.json. */
typedef struct dr_result {
    char *run, *dir;     /* OUT/eval/<run>/<dir>/summary.json */
    char *task, *setting;
    int shots;
    long n;
    double percent;
} dr_result;

typedef struct dr_results {
    dr_result *v;
    size_t n, cap;
} dr_results;

/* Reads every OUT/eval/<run>/<dir>/summary.json (runs and dirs in name order). A missing OUT/eval gives none;
 * a malformed file is an error naming it. Returns 0 or -1 (message printed). */
int dr_results_load(const char *out_dir, dr_results *r);
void dr_results_free(dr_results *r);

/* Whether a setting is a task-induction row ("frozen, task induction"). */
int dr_setting_has_induction(const char *setting);

/* The cell of run for (task, shots), induction -1: either, 0: without, 1: with task induction; NULL if none. */
const dr_result *dr_results_find(const dr_results *r, const char *run, const char *task, int shots, int induction);

/* Calls fn for each line of OUT/eval/<run>/<dir>/results.jsonl (parsed JSON objects, valid during the call).
 * Returns 0, or -1 when there is no such file (nothing printed); unparsable lines are skipped. */
typedef void (*dr_line_fn)(void *ctx, void *json_line);
int dr_each_line(const char *out_dir, const char *run, const char *dir, dr_line_fn fn, void *ctx);

/* ---- table.c ------------------------------------------------------------------------------------------ */

typedef struct dr_row {
    const char *key;      /* for --targets: "caption", "vqa/0", "binding_2way/3/ti", "knowledge" */
    const char *label;
    const char *task;
    int shots;
    int induction;        /* -1: any; 0 / 1: without / with task induction */
    double paper;         /* the paper's figure for Frozen (NAN: none) */
    const char *paper_src;
    double target;        /* NAN: the default target, above both chance and the blind baseline */
    int target_base;      /* >= 0: the target is Frozen's value in row target_base plus `target` points */
} dr_row;

extern dr_row dr_rows[];
extern const size_t dr_n_rows;

/* Reads "key value" or "key +points base-key" lines ('#' comments, blank lines) into the rows' targets. 0 or -1 (message printed). */
int dr_targets_load(const char *path);

/* What the table's last column adds up to. */
typedef struct dr_tally {
    int judged;     /* rows with both a Frozen result and a target */
    int met;        /* ... whose target Frozen met */
    int beyond_lm;  /* missed rows where the LM's own text ceiling does not reach the target either: with captions
                     * in place of the images the LM falls short, so no vision encoder can get there through it */
} dr_tally;

/* Writes the summary table as Markdown (also fit for a terminal). chance[] holds each row's chance level in
 * percent (NAN: unknown). */
void dr_table_write(FILE *f, const dr_results *r, const double *chance, dr_tally *tally);
/* The sentence under the table: targets met, and how many of the missed ones are beyond the LM. */
void dr_tally_write(FILE *f, const dr_tally *t);

/* Each row's chance level: binding 100/ways, captioning 100/(shapes x colours), VQA tasks from the questions
 * and answers of the evaluated examples (the mean over questions of 1/(distinct answers to that question)). */
void dr_chance(const char *out_dir, const dr_results *r, double *chance);

/* ---- plots.c ------------------------------------------------------------------------------------------ */

/* Writes OUT/plots/loss.png and OUT/plots/shots.png, and their legends (Markdown) to md. 0 or -1. */
int dr_plots_write(const char *out_dir, const dr_results *r, FILE *md);

/* ---- captions.c --------------------------------------------------------------------------------------- */

/* Scores `frozen caption` output (gen: IMAGE<TAB>caption lines) against the reference TSV (path<TAB>caption):
 * right when the caption's shape word and colour word both equal the reference's. Writes out_dir/results.jsonl,
 * summary.json, summary.md (task "caption", the given setting, 0 shots). Returns a CLI exit code. */
int dr_score_captions(const char *ref, const char *gen, const char *out_dir, const char *setting);

/* The caption's shape (singular) and colour words, or NULL when it has none. */
const char *dr_caption_shape(const char *caption, char *buf, size_t cap);
const char *dr_caption_colour(const char *caption, char *buf, size_t cap);
/* Shape words x colour words: the chance that a guess gets both right is 1 / this. */
int dr_caption_combinations(void);

#endif
