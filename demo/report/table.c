/* table.c -- the demo's summary table: one row per task cell, the runs as columns, then the chance level, the
 * paper's figure for Frozen where it reports one (../shared/FROZEN.md: VQAv2, OK-VQA, Open-Ended miniImageNet),
 * the target and whether Frozen met it. The default target of a row is the demo's claim in miniature: Frozen
 * above both chance and the blind baseline; --targets FILE sets numbers instead. */
#include "report.h"

#include "cli/cli.h"

#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define B2 "Open-Ended miniImageNet 2-way"
#define B5 "Open-Ended miniImageNet 5-way"

dr_row dr_rows[] = {
    {"caption", "captioning (held-out combos)", "caption", 0, -1, NAN, NULL, NAN, -1},
    {"vqa/0", "VQA 0-shot", "vqa", 0, -1, 29.5, "VQAv2", NAN, -1},
    {"vqa/1", "VQA 1-shot", "vqa", 1, -1, 35.7, "VQAv2", NAN, -1},
    {"vqa/4", "VQA 4-shot", "vqa", 4, -1, 38.2, "VQAv2", NAN, -1},
    {"binding_2way/1", "binding 2-way, 1 inner-shot", "binding_2way", 1, 0, 29.0, B2, NAN, -1},
    {"binding_2way/3", "binding 2-way, 3 inner-shots", "binding_2way", 3, 0, NAN, NULL, NAN, -1},
    {"binding_2way/5", "binding 2-way, 5 inner-shots", "binding_2way", 5, 0, NAN, NULL, NAN, -1},
    {"binding_2way/1/ti", "binding 2-way, 1 inner-shot, task induction", "binding_2way", 1, 1, 53.4, B2, NAN, -1},
    {"binding_2way/3/ti", "binding 2-way, 3 inner-shots, task induction", "binding_2way", 3, 1, 57.9, B2, NAN, -1},
    {"binding_2way/5/ti", "binding 2-way, 5 inner-shots, task induction", "binding_2way", 5, 1, 58.9, B2, NAN, -1},
    {"binding_5way/1", "binding 5-way, 1 inner-shot", "binding_5way", 1, 0, 18.0, B5, NAN, -1},
    {"binding_5way/3", "binding 5-way, 3 inner-shots", "binding_5way", 3, 0, NAN, NULL, NAN, -1},
    {"binding_5way/5", "binding 5-way, 5 inner-shots", "binding_5way", 5, 0, NAN, NULL, NAN, -1},
    {"binding_5way/1/ti", "binding 5-way, 1 inner-shot, task induction", "binding_5way", 1, 1, 20.2, B5, NAN, -1},
    {"binding_5way/3/ti", "binding 5-way, 3 inner-shots, task induction", "binding_5way", 3, 1, 22.3, B5, NAN, -1},
    {"binding_5way/5/ti", "binding 5-way, 5 inner-shots, task induction", "binding_5way", 5, 1, 21.3, B5, NAN, -1},
    {"knowledge", "knowledge (facts only the LM knows)", "knowledge", 0, -1, 5.9, "OK-VQA", NAN, -1},
};
const size_t dr_n_rows = sizeof dr_rows / sizeof dr_rows[0];

int dr_targets_load(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) return cli_fail("%s: cannot open", path), -1;
    char line[256];
    int lineno = 0, rc = 0;
    while (rc == 0 && fgets(line, sizeof line, f)) {
        lineno++;
        char key[64], base[64], extra[2];
        double v;
        char *hash = strchr(line, '#');
        if (hash) *hash = '\0';
        if (strspn(line, " \t\r\n") == strlen(line)) continue;
        int got = sscanf(line, "%63s %lf %63s %1s", key, &v, base, extra);
        if (got != 2 && got != 3) {
            rc = (cli_fail("%s:%d: expected 'key percent' (e.g. 'vqa/0 30') or 'key +points base-key' (e.g. "
                           "'vqa/4 +10 vqa/0')", path, lineno), -1);
            break;
        }
        int b = -1;
        if (got == 3) {
            for (size_t j = 0; j < dr_n_rows; j++)
                if (strcmp(dr_rows[j].key, base) == 0) b = (int)j;
            if (b < 0) {
                rc = (cli_fail("%s:%d: unknown base row '%s'", path, lineno, base), -1);
                break;
            }
        }
        size_t i = 0;
        while (i < dr_n_rows && strcmp(dr_rows[i].key, key) != 0) i++;
        if (i == dr_n_rows) rc = (cli_fail("%s:%d: unknown row '%s'", path, lineno, key), -1);
        else dr_rows[i].target = v, dr_rows[i].target_base = b;
    }
    fclose(f);
    return rc;
}

/* ---- chance levels ------------------------------------------------------------------------------------ */

/* The questions of a VQA-style result file and their answers: chance = mean over examples of 1 / (the number
 * of distinct answers given to the same question text in the file). */
typedef struct qa {
    char **q, **a;
    size_t n, cap;
} qa;

static void collect_qa(void *ctx, void *line)
{
    qa *x = ctx;
    json_t *o = line;
    const char *prompt = json_string_value(json_object_get(o, "prompt"));
    const char *answer = json_string_value(json_array_get(json_object_get(o, "answers"), 0));
    json_t *shots = json_object_get(o, "shots");
    if (!prompt || !answer || json_integer_value(shots) != 0) return;
    /* the query is the last "Question: ... Answer:" */
    const char *q = NULL;
    for (const char *p = strstr(prompt, "Question: "); p; p = strstr(p + 1, "Question: ")) q = p;
    if (!q) q = prompt;
    if (x->n == x->cap) {
        size_t cap = x->cap ? 2 * x->cap : 256;
        char **nq = realloc(x->q, cap * sizeof *nq);
        if (!nq) return;
        x->q = nq;
        char **na = realloc(x->a, cap * sizeof *na);
        if (!na) return;
        x->a = na;
        x->cap = cap;
    }
    x->q[x->n] = strdup(q);
    x->a[x->n] = strdup(answer);
    if (x->q[x->n] && x->a[x->n]) x->n++;
    else free(x->q[x->n]), free(x->a[x->n]);
}

static double qa_chance(const qa *x)
{
    if (!x->n) return NAN;
    double sum = 0;
    for (size_t i = 0; i < x->n; i++) {
        size_t distinct = 0;
        for (size_t j = 0; j < x->n; j++) {
            if (strcmp(x->q[i], x->q[j]) != 0) continue;
            size_t k = 0; /* is a[j] the first of its kind among this question's answers? */
            while (k < j && !(strcmp(x->q[i], x->q[k]) == 0 && strcmp(x->a[k], x->a[j]) == 0)) k++;
            distinct += k == j;
        }
        sum += 1.0 / (double)distinct;
    }
    return 100.0 * sum / (double)x->n;
}

/* Chance of a VQA-style task from the first run whose examples of it (0-shot) can be read. */
static double vqa_chance(const char *out_dir, const dr_results *r, const char *task)
{
    double c = NAN;
    for (size_t i = 0; i < r->n && isnan(c); i++) {
        if (strcmp(r->v[i].task, task) != 0 || r->v[i].shots != 0) continue;
        qa x = {0};
        if (dr_each_line(out_dir, r->v[i].run, r->v[i].dir, collect_qa, &x) == 0) c = qa_chance(&x);
        for (size_t k = 0; k < x.n; k++) free(x.q[k]), free(x.a[k]);
        free(x.q), free(x.a);
    }
    return c;
}

void dr_chance(const char *out_dir, const dr_results *r, double *chance)
{
    double vqa = vqa_chance(out_dir, r, "vqa"), knowledge = vqa_chance(out_dir, r, "knowledge");
    for (size_t i = 0; i < dr_n_rows; i++) {
        const char *t = dr_rows[i].task;
        int ways = 0;
        if (strcmp(t, "caption") == 0) chance[i] = 100.0 / dr_caption_combinations();
        else if (strcmp(t, "vqa") == 0) chance[i] = vqa;
        else if (strcmp(t, "knowledge") == 0) chance[i] = knowledge;
        else if (sscanf(t, "binding_%dway", &ways) == 1 && ways > 0) chance[i] = 100.0 / ways;
        else chance[i] = NAN;
    }
}

/* ---- the table ---------------------------------------------------------------------------------------- */

static void cell(FILE *f, double v)
{
    if (isnan(v)) fputs(" - |", f);
    else fprintf(f, " %.1f |", v);
}

/* Frozen's value in row i (NAN: none). */
static double frozen_value(const dr_results *r, size_t i)
{
    const dr_result *x = dr_results_find(r, dr_runs[0].name, dr_rows[i].task, dr_rows[i].shots, dr_rows[i].induction);
    return x ? x->percent : NAN;
}

/* Whether value v reaches a target (relative: strictly above it). */
static int reaches(double v, double target, int relative)
{
    return relative ? v > target : v >= target;
}

void dr_table_write(FILE *f, const dr_results *r, const double *chance, dr_tally *tally)
{
    *tally = (dr_tally){0, 0, 0};
    fputs("| task |", f);
    for (size_t k = 0; k < dr_n_runs; k++) fprintf(f, " %s |", dr_runs[k].title);
    fputs(" chance | paper (Frozen) | target | met | n |\n|---|", f);
    for (size_t k = 0; k < dr_n_runs + 5; k++) fputs("---:|", f);
    fputc('\n', f);
    for (size_t i = 0; i < dr_n_rows; i++) {
        const dr_row *row = &dr_rows[i];
        fprintf(f, "| %s |", row->label);
        double v[16], ceiling = NAN;
        long n = 0;
        for (size_t k = 0; k < dr_n_runs; k++) {
            const dr_result *x = dr_results_find(r, dr_runs[k].name, row->task, row->shots, row->induction);
            v[k] = x ? x->percent : NAN;
            if (x && k == 0) n = x->n;
            if (strcmp(dr_runs[k].name, "text") == 0) ceiling = v[k];
            cell(f, v[k]);
        }
        cell(f, chance[i]);
        cell(f, row->paper);
        /* the target: a given number, or above chance and blind (v[1]) */
        double target = row->target;
        int relative = isnan(target);
        if (!relative && row->target_base >= 0) target += frozen_value(r, (size_t)row->target_base);
        if (relative) target = fmax(isnan(chance[i]) ? -INFINITY : chance[i], isnan(v[1]) ? -INFINITY : v[1]);
        const char *met = "-";
        if (!isnan(v[0]) && isfinite(target)) {
            int ok = reaches(v[0], target, relative);
            met = ok ? "yes" : "no";
            tally->judged++;
            tally->met += ok;
            tally->beyond_lm += !ok && !isnan(ceiling) && !reaches(ceiling, target, relative);
        }
        if (!isfinite(target)) fputs(" - |", f);
        else fprintf(f, " %s%.1f |", relative ? "> " : ">= ", target);
        fprintf(f, " %s |", met);
        if (n) fprintf(f, " %ld |\n", n);
        else fputs(" - |\n", f);
    }
}

void dr_tally_write(FILE *f, const dr_tally *t)
{
    fprintf(f, "\nFrozen met %d of %d targets.", t->met, t->judged);
    const int missed = t->judged - t->met;
    if (t->beyond_lm > 0)
        fprintf(f, " Of the %d missed, %d %s beyond the LM itself: its text ceiling (captions in place of the "
                   "images) does not reach the target either, so no vision encoder can get there through this LM.",
                missed, t->beyond_lm, t->beyond_lm == 1 ? "is" : "are");
    fputc('\n', f);
}
