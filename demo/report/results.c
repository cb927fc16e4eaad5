/* results.c -- the evaluation summaries under OUT/eval/<run>/<dir>/ and their example lines (see report.h). */
#include "report.h"

#include "../common.h"
#include "cli/cli.h"

#include <dirent.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

const dr_run dr_runs[] = {
    {"frozen", "Frozen"}, {"blind", "blind"}, {"finetuned", "finetuned"}, {"scratch", "scratch"},
    {"text", "text ceiling"},
};
const size_t dr_n_runs = sizeof dr_runs / sizeof dr_runs[0];

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* The sub-folder names of dir, sorted (hidden ones left out); *n = 0 when dir cannot be read. */
static char **subdirs(const char *dir, size_t *n)
{
    *n = 0;
    DIR *d = opendir(dir);
    if (!d) return NULL;
    char **v = NULL;
    size_t cap = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.') continue;
        char *path = demo_join(dir, e->d_name);
        struct stat sb;
        int is_dir = path && stat(path, &sb) == 0 && S_ISDIR(sb.st_mode);
        free(path);
        if (!is_dir) continue;
        if (*n == cap) {
            cap = cap ? 2 * cap : 16;
            char **bigger = realloc(v, cap * sizeof *v);
            if (!bigger) break;
            v = bigger;
        }
        if ((v[*n] = strdup(e->d_name)) != NULL) (*n)++;
    }
    closedir(d);
    if (*n) qsort(v, *n, sizeof *v, cmp_str);
    return v;
}

static void free_names(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++) free(v[i]);
    free(v);
}

static int push(dr_results *r, const char *run, const char *dir, const char *task, const char *setting, int shots,
                long n, double percent)
{
    if (r->n == r->cap) {
        size_t cap = r->cap ? 2 * r->cap : 32;
        dr_result *bigger = realloc(r->v, cap * sizeof *bigger);
        if (!bigger) return cli_fail("out of memory"), -1;
        r->v = bigger;
        r->cap = cap;
    }
    dr_result *x = &r->v[r->n];
    x->run = strdup(run), x->dir = strdup(dir), x->task = strdup(task), x->setting = strdup(setting);
    x->shots = shots, x->n = n, x->percent = percent;
    if (!x->run || !x->dir || !x->task || !x->setting) {
        free(x->run), free(x->dir), free(x->task), free(x->setting);
        return cli_fail("out of memory"), -1;
    }
    r->n++;
    return 0;
}

/* One summary.json: its "results" array. */
static int load_summary(const char *path, const char *run, const char *dir, dr_results *r)
{
    json_error_t err;
    json_t *root = json_load_file(path, 0, &err);
    if (!root) return cli_fail("%s: line %d column %d: %s", path, err.line, err.column, err.text), -1;
    json_t *results = json_object_get(root, "results");
    int rc = json_is_array(results) ? 0 : (cli_fail("%s: no \"results\" array (not a summary.json)", path), -1);
    for (size_t i = 0; rc == 0 && i < json_array_size(results); i++) {
        json_t *o = json_array_get(results, i);
        const char *task = json_string_value(json_object_get(o, "task"));
        const char *setting = json_string_value(json_object_get(o, "setting"));
        json_t *shots = json_object_get(o, "shots"), *n = json_object_get(o, "n"), *pc = json_object_get(o, "percent");
        if (!task || !setting || !json_is_integer(shots) || !json_is_integer(n) || !json_is_number(pc))
            rc = (cli_fail("%s: results[%zu]: needs task, setting (strings), shots, n (integers) and percent", path, i),
                  -1);
        else
            rc = push(r, run, dir, task, setting, (int)json_integer_value(shots), (long)json_integer_value(n),
                      json_number_value(pc));
    }
    json_decref(root);
    return rc;
}

int dr_results_load(const char *out_dir, dr_results *r)
{
    memset(r, 0, sizeof *r);
    char *eval = demo_join(out_dir, "eval");
    if (!eval) return cli_fail("out of memory"), -1;
    size_t n_runs = 0;
    char **runs = subdirs(eval, &n_runs);
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < n_runs; i++) {
        char *run_dir = demo_join(eval, runs[i]);
        size_t n_dirs = 0;
        char **dirs = run_dir ? subdirs(run_dir, &n_dirs) : NULL;
        for (size_t j = 0; rc == 0 && j < n_dirs; j++) {
            char *d = demo_join(run_dir, dirs[j]), *path = d ? demo_join(d, "summary.json") : NULL;
            if (!path) rc = (cli_fail("out of memory"), -1);
            else if (access(path, F_OK) == 0) rc = load_summary(path, runs[i], dirs[j], r);
            free(path);
            free(d);
        }
        free_names(dirs, n_dirs);
        free(run_dir);
    }
    free_names(runs, n_runs);
    free(eval);
    if (rc != 0) dr_results_free(r);
    return rc;
}

void dr_results_free(dr_results *r)
{
    for (size_t i = 0; i < r->n; i++) {
        free(r->v[i].run), free(r->v[i].dir), free(r->v[i].task), free(r->v[i].setting);
    }
    free(r->v);
    memset(r, 0, sizeof *r);
}

int dr_setting_has_induction(const char *setting) { return strstr(setting, "task induction") != NULL; }

const dr_result *dr_results_find(const dr_results *r, const char *run, const char *task, int shots, int induction)
{
    for (size_t i = 0; i < r->n; i++) {
        const dr_result *x = &r->v[i];
        if (x->shots == shots && strcmp(x->run, run) == 0 && strcmp(x->task, task) == 0 &&
            (induction < 0 || dr_setting_has_induction(x->setting) == induction))
            return x;
    }
    return NULL;
}

int dr_each_line(const char *out_dir, const char *run, const char *dir, dr_line_fn fn, void *ctx)
{
    size_t n = strlen(out_dir) + strlen(run) + strlen(dir) + 32;
    char *path = malloc(n);
    if (!path) return cli_fail("out of memory"), -1;
    snprintf(path, n, "%s/eval/%s/%s/results.jsonl", out_dir, run, dir);
    FILE *f = fopen(path, "rb");
    free(path);
    if (!f) return -1;
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    while ((len = getline(&line, &cap, f)) > 0) {
        json_t *o = json_loadb(line, (size_t)len, 0, NULL);
        if (json_is_object(o)) fn(ctx, o);
        json_decref(o);
    }
    free(line);
    fclose(f);
    return 0;
}
