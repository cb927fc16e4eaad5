/* captions.c -- captioning accuracy on held-out scenes (unseen colour/shape combinations) from `frozen caption`
 * output. A caption is right when its shape word and its colour word both equal the reference's: the held-out
 * part of a scene is exactly its colour/shape combination, so those two words are what the encoder must get
 * right; size, count and position words are left to other questions. Words are those of the demo world
 * (docs/demo-run.md), shapes in singular or plural ("crosses" is "cross"). The result is written as a harness
 * report (src/eval/report.c), task "caption", so the demo report reads it like every other result. */
#include "report.h"

#include "../common.h"
#include "cli/cli.h"
#include "eval/eval.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const char *const shapes[] = {"circle", "square", "triangle", "diamond", "cross", "star"};
static const char *const colours[] = {"red", "green", "blue", "yellow", "purple", "orange", "white", "pink"};
#define N_SHAPES (sizeof shapes / sizeof shapes[0])
#define N_COLOURS (sizeof colours / sizeof colours[0])

int dr_caption_combinations(void) { return (int)(N_SHAPES * N_COLOURS); }

/* The first word of caption that is in words[] (or its plural, when plural), copied to buf; NULL if none. */
static const char *first_word(const char *caption, const char *const *words, size_t n, int plural, char *buf,
                              size_t cap)
{
    const char *p = caption;
    while (*p) {
        while (*p && !isalpha((unsigned char)*p)) p++;
        const char *w = p;
        while (isalpha((unsigned char)*p)) p++;
        size_t len = (size_t)(p - w);
        for (size_t i = 0; len && i < n; i++) {
            size_t k = strlen(words[i]);
            int same = len == k && strncasecmp(w, words[i], k) == 0;
            /* plurals: "circles", "crosses" */
            int plur = plural && len > k && strncasecmp(w, words[i], k) == 0 &&
                       ((len == k + 1 && tolower((unsigned char)w[k]) == 's') ||
                        (len == k + 2 && strncasecmp(w + k, "es", 2) == 0 && words[i][k - 1] == 's'));
            if (same || plur) {
                snprintf(buf, cap, "%s", words[i]);
                return buf;
            }
        }
    }
    return NULL;
}

const char *dr_caption_shape(const char *caption, char *buf, size_t cap)
{
    return first_word(caption, shapes, N_SHAPES, 1, buf, cap);
}

const char *dr_caption_colour(const char *caption, char *buf, size_t cap)
{
    return first_word(caption, colours, N_COLOURS, 0, buf, cap);
}

/* A TSV line "path<TAB>text" split in place; 0 when it has no TAB. */
static int split_tab(char *line, char **path, char **text)
{
    size_t n = strlen(line);
    while (n && (line[n - 1] == '\n' || line[n - 1] == '\r')) line[--n] = '\0';
    char *tab = strchr(line, '\t');
    if (!tab) return 0;
    *tab = '\0';
    *path = line;
    *text = tab + 1;
    return 1;
}

typedef struct gen_line {
    char *path, *caption;
} gen_line;

/* gen's path names the reference image when it is the same path or ends with "/" + the reference's path
 * (`frozen caption` prints the path it was given, the reference is relative to its TSV's folder). */
static const gen_line *find_gen(const gen_line *g, size_t n, const char *ref_path)
{
    size_t k = strlen(ref_path);
    for (size_t i = 0; i < n; i++) {
        size_t m = strlen(g[i].path);
        if (strcmp(g[i].path, ref_path) == 0 || (m > k && g[i].path[m - k - 1] == '/' && strcmp(g[i].path + m - k, ref_path) == 0))
            return &g[i];
    }
    return NULL;
}

static int read_gen(const char *path, gen_line **out, size_t *n)
{
    *out = NULL, *n = 0;
    FILE *f = fopen(path, "rb");
    if (!f) return cli_fail("%s: cannot open", path), -1;
    char *line = NULL;
    size_t cap = 0, vcap = 0;
    int rc = 0;
    while (rc == 0 && getline(&line, &cap, f) > 0) {
        char *p, *t;
        if (!split_tab(line, &p, &t)) continue;
        if (*n == vcap) {
            vcap = vcap ? 2 * vcap : 64;
            gen_line *bigger = realloc(*out, vcap * sizeof *bigger);
            if (!bigger) {
                rc = (cli_fail("out of memory"), -1);
                break;
            }
            *out = bigger;
        }
        (*out)[*n].path = strdup(p);
        (*out)[*n].caption = strdup(t);
        if (!(*out)[*n].path || !(*out)[*n].caption) rc = (cli_fail("out of memory"), -1);
        (*n)++;
    }
    free(line);
    fclose(f);
    return rc;
}

/* Scores one reference line into the report. */
static int score_one(frz_eval_report *rep, const char *setting, const char *ref_path, const char *ref_caption,
                     const gen_line *g, const char *image, size_t *n_right)
{
    char rs[32], rc_[32], gs[32], gc[32];
    const char *gen = g ? g->caption : "";
    const char *r_shape = dr_caption_shape(ref_caption, rs, sizeof rs);
    const char *r_colour = dr_caption_colour(ref_caption, rc_, sizeof rc_);
    const char *g_shape = dr_caption_shape(gen, gs, sizeof gs), *g_colour = dr_caption_colour(gen, gc, sizeof gc);
    int right = r_shape && r_colour && g_shape && g_colour && strcmp(r_shape, g_shape) == 0 &&
                strcmp(r_colour, g_colour) == 0;
    *n_right += (size_t)right;
    frz_eval_prompt pr = {0};
    frz_status st = frz_eval_prompt_add_image(&pr, image);
    const char *answers[1] = {ref_caption};
    frz_eval_record rec = {"caption", setting, 0, ref_path, &pr, gen, answers, 1, right ? 1.0 : 0.0, 1};
    if (st == FRZ_OK) st = frz_eval_report_add(rep, &rec);
    frz_eval_prompt_clear(&pr);
    return st == FRZ_OK ? 0 : (cli_lib_error(st), -1);
}

int dr_score_captions(const char *ref, const char *gen, const char *out_dir, const char *setting)
{
    gen_line *g = NULL;
    size_t n_gen = 0;
    if (read_gen(gen, &g, &n_gen) != 0) return CLI_FAIL;
    char *jsonl = demo_join(out_dir, "results.jsonl"), *sjson = demo_join(out_dir, "summary.json"),
         *smd = demo_join(out_dir, "summary.md");
    FILE *f = fopen(ref, "rb");
    int rc = jsonl && sjson && smd ? CLI_OK : cli_fail("out of memory");
    if (rc == CLI_OK && !f) rc = cli_fail("%s: cannot open", ref);
    if (rc == CLI_OK && demo_mkdirs(out_dir) != 0) rc = CLI_FAIL;
    frz_eval_report *rep = NULL;
    frz_status st;
    if (rc == CLI_OK && (st = frz_eval_report_open(jsonl, sjson, smd, 0, 100, &rep)) != FRZ_OK) rc = cli_lib_error(st);
    char *line = NULL;
    size_t cap = 0, lineno = 0, n = 0, right = 0, missing = 0;
    while (rc == CLI_OK && getline(&line, &cap, f) > 0) {
        lineno++;
        char *path, *caption;
        if (strspn(line, " \t\r\n") == strlen(line)) continue;
        if (!split_tab(line, &path, &caption)) {
            rc = cli_fail("%s:%zu: not path<TAB>caption", ref, lineno);
            break;
        }
        const gen_line *x = find_gen(g, n_gen, path);
        missing += x == NULL;
        if (score_one(rep, setting, path, caption, x, x ? x->path : path, &right) != 0) rc = CLI_FAIL;
        n++;
    }
    free(line);
    if (f) fclose(f);
    if (rep && (st = rc == CLI_OK ? frz_eval_report_close(rep) : frz_eval_report_close_incomplete(rep)) != FRZ_OK &&
        rc == CLI_OK)
        rc = cli_lib_error(st);
    if (rc == CLI_OK) {
        fprintf(stderr, "frozen-demo-report: captions %s: %zu of %zu right (%.1f%%)\n", setting, right, n,
                n ? 100.0 * (double)right / (double)n : 0.0);
        if (missing)
            fprintf(stderr, "frozen-demo-report: warning: %zu reference images have no caption in %s (counted wrong)\n",
                    missing, gen);
    }
    for (size_t i = 0; i < n_gen; i++) free(g[i].path), free(g[i].caption);
    free(g);
    free(jsonl), free(sjson), free(smd);
    return rc;
}
