/* plots.c -- the report's pictures, drawn by the training plot renderer (src/train/plot.h), which draws no
 * text: the legends are written into report.md beside them.
 *   loss.png   each run's training loss per step (OUT/runs/<run>/metrics.csv), one colour per run
 *   shots.png  accuracy (%) against shots, one colour per model (runs and the text ceiling), one line style per
 *              task: VQA (shots) solid, 2-way binding with task induction (inner shots) dashed, 5-way dots */
#include "report.h"

#include "../common.h"
#include "cli/cli.h"
#include "train/metrics.h"
#include "train/plot.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *style_name(frz_plot_style s)
{
    return s == FRZ_PLOT_DASHED ? "dashed line" : s == FRZ_PLOT_DOTS ? "dots" : "solid line";
}

static void legend_line(FILE *md, const frz_plot_curve *c, const char *what)
{
    fprintf(md, "- %s #%02x%02x%02x: %s\n", style_name(c->style), c->rgb[0], c->rgb[1], c->rgb[2], what);
}

static int write_png(const char *path, const frz_plot_curve *curves, size_t n, double y_lo, double y_hi)
{
    frz_status st = frz_plot_write_curves(path, curves, n, y_lo, y_hi);
    return st == FRZ_OK ? 0 : (cli_lib_error(st), -1);
}

/* loss.png from the runs that trained (those of dr_runs with a metrics.csv). */
static int loss_plot(const char *out_dir, const char *plots, FILE *md)
{
    frz_metrics *m[16] = {0};
    frz_plot_curve curves[16];
    const char *names[16];
    size_t n = 0;
    int rc = 0;
    for (size_t k = 0; rc == 0 && k < dr_n_runs && n < 16; k++) {
        size_t len = strlen(out_dir) + strlen(dr_runs[k].name) + 32;
        char *path = malloc(len);
        if (!path) return cli_fail("out of memory"), -1;
        snprintf(path, len, "%s/runs/%s/metrics.csv", out_dir, dr_runs[k].name);
        if (access(path, F_OK) == 0) {
            frz_status st = frz_metrics_read(path, &m[n]);
            if (st != FRZ_OK) rc = (cli_lib_error(st), -1);
            else {
                curves[n].s = (frz_plot_series){m[n]->step, m[n]->loss, m[n]->n};
                memcpy(curves[n].rgb, frz_plot_colour(k), 3);
                curves[n].style = FRZ_PLOT_LINE;
                names[n++] = dr_runs[k].name;
            }
        }
        free(path);
    }
    char *png = demo_join(plots, "loss.png");
    if (rc == 0 && !png) rc = (cli_fail("out of memory"), -1);
    if (rc == 0) rc = write_png(png, curves, n, 0, 0);
    if (rc == 0) {
        fputs("![training loss](plots/loss.png)\n\nTraining loss (nats per caption token, from 0; grid lines at round "
              "values, the numbers in OUT/runs/<run>/metrics.csv) against step:\n",
              md);
        for (size_t i = 0; i < n; i++) legend_line(md, &curves[i], names[i]);
        if (!n) fputs("- (no run has a metrics.csv)\n", md);
    }
    free(png);
    for (size_t i = 0; i < n; i++) frz_metrics_close(m[i]);
    return rc;
}

/* A task's line on shots.png: the cells it takes (task, shot counts, induction). */
typedef struct shots_task {
    const char *task, *label;
    int shots[3];
    int induction;
    frz_plot_style style;
} shots_task;

static const shots_task tasks[] = {
    {"vqa", "VQA (x: shots)", {0, 1, 4}, -1, FRZ_PLOT_LINE},
    {"binding_2way", "binding 2-way with task induction (x: inner shots)", {1, 3, 5}, 1, FRZ_PLOT_DASHED},
    {"binding_5way", "binding 5-way with task induction (x: inner shots)", {1, 3, 5}, 1, FRZ_PLOT_DOTS},
};
#define N_TASKS (sizeof tasks / sizeof tasks[0])

static int shots_plot(const dr_results *r, const char *plots, FILE *md)
{
    enum { MAX = 64 };
    frz_plot_curve curves[MAX];
    int64_t xs[MAX][3];
    float ys[MAX][3];
    char what[MAX][128];
    size_t n = 0;
    for (size_t k = 0; k < dr_n_runs; k++)
        for (size_t t = 0; t < N_TASKS && n < MAX; t++) {
            size_t m = 0;
            for (size_t j = 0; j < 3; j++) {
                const dr_result *x = dr_results_find(r, dr_runs[k].name, tasks[t].task, tasks[t].shots[j],
                                                     tasks[t].induction);
                if (!x) continue;
                xs[n][m] = tasks[t].shots[j];
                ys[n][m++] = (float)x->percent;
            }
            if (!m) continue;
            curves[n].s = (frz_plot_series){xs[n], ys[n], m};
            memcpy(curves[n].rgb, frz_plot_colour(k), 3);
            curves[n].style = tasks[t].style;
            snprintf(what[n], sizeof what[n], "%s, %s", dr_runs[k].title, tasks[t].label);
            n++;
        }
    char *png = demo_join(plots, "shots.png");
    if (!png) return cli_fail("out of memory"), -1;
    int rc = write_png(png, curves, n, 0, 100);
    free(png);
    if (rc == 0) {
        fputs("\n![accuracy against shots](plots/shots.png)\n\nAccuracy against shots (x: shots from 0; y: 0 to "
              "100%, a grid line every 20%):\n",
              md);
        for (size_t i = 0; i < n; i++) legend_line(md, &curves[i], what[i]);
        if (!n) fputs("- (no VQA or binding results)\n", md);
    }
    return rc;
}

int dr_plots_write(const char *out_dir, const dr_results *r, FILE *md)
{
    char *plots = demo_join(out_dir, "plots");
    int rc = plots ? demo_mkdirs(plots) : (cli_fail("out of memory"), -1);
    if (rc == 0) rc = loss_plot(out_dir, plots, md);
    if (rc == 0) rc = shots_plot(r, plots, md);
    free(plots);
    return rc;
}
