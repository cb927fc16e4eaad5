/* textprobe.c -- frozen-demo-textprobe: the demo LM's text-only ceilings. Each probe is an evaluation task with
 * every image replaced by its caption, as its own segment. The prompt is built with the public prompt builder,
 * one frz_prompt_add_text per segment, so every segment is tokenized on its own exactly as the texts around an
 * image are in `frozen eval`; decoding is the harness's (greedy, stop at a newline or <|endoftext|>, 10 tokens);
 * the scorers and the report files are the harness's own (src/eval: scoring.c, report.c), so the demo report reads
 * the ceilings like every other result.
 *
 * Probe lines (world/text/probes.jsonl, one JSON object per line, blank lines skipped):
 *   {"task": "binding_2way", "setting": "text", "shots": 1, "segments": ["Answer with dax or blicket.", "a boot",
 *    "This is a dax.", ...], "answer": "dax", "id": "..."?, "task_induction": true?}
 * task, segments (non-empty strings) and answer are required; setting defaults to "text", shots to 0, id to
 * "line<N>". Scoring: tasks named binding* use the binding rule (exactly the right name, then the end);
 * every other task the single-answer normalised match (the VQA normalisation of both). A binding probe with task
 * induction gets ", task induction" appended to its setting, as `frozen eval binding` names that row; it is told
 * by "task_induction": true or, without the field, by the harness's own instruction opening the prompt
 * ("Answer with ..."). */
#include "common.h"

#include "cli/cli.h"
#include "core/file.h"
#include "eval/eval.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const cli_option options[] = {
    {"lm", 'm', 1}, {"probes", 0, 1}, {"out", 0, 1}, {"max-tokens", 'n', 1}, {"limit", 0, 1}, {"threads", 't', 1},
};
enum { OPT_LM, OPT_PROBES, OPT_OUT, OPT_MAX_TOKENS, OPT_LIMIT, OPT_THREADS };

static const cli_command command = {
    "demo-textprobe",
    "usage: frozen-demo-textprobe --lm DIR --probes FILE.jsonl --out OUTDIR [--max-tokens N] [--limit N]\n"
    "                             [--threads N]\n"
    "\n"
    "Runs text-only probes (each evaluation prompt with its images replaced by their captions) through the LM:\n"
    "every segment tokenized on its own, greedy decoding to a newline or <|endoftext|>, scored with the\n"
    "evaluation harness's rules (binding tasks: exactly the right name; others: the VQA-normalised answer).\n"
    "Writes OUTDIR/results.jsonl, summary.json and summary.md in `frozen eval`'s formats and prints the table.\n"
    "\n"
    "  -m, --lm DIR          the language model folder\n"
    "  --probes FILE         the probes, one JSON object per line\n"
    "  --out OUTDIR          where the report goes (created if missing; an earlier report is replaced)\n"
    "  -n, --max-tokens N    tokens generated per answer (1..1000, default 10, as `frozen eval`)\n"
    "  --limit N             only the first N probes\n"
    "  -t, --threads N       threads (default: the processors online)\n"
    "  -h, --help            this help\n",
    options, sizeof options / sizeof options[0],
};

typedef struct args {
    const char *lm, *probes, *out;
    long max_tokens, limit, threads;
} args;

static int on_option(void *ctx, size_t index, const char *value)
{
    args *a = ctx;
    switch (index) {
    case OPT_LM: a->lm = value; return CLI_OK;
    case OPT_PROBES: a->probes = value; return CLI_OK;
    case OPT_OUT: a->out = value; return CLI_OK;
    case OPT_MAX_TOKENS: return cli_parse_long(&command, "--max-tokens", value, 1, 1000, &a->max_tokens);
    case OPT_LIMIT: return cli_parse_long(&command, "--limit", value, 1, 1L << 40, &a->limit);
    case OPT_THREADS: return cli_parse_long(&command, "--threads", value, 1, 4096, &a->threads);
    default: return CLI_OK;
    }
}

/* ---- one probe ------------------------------------------------------------------------------------------- */

typedef struct probe {
    const char *task, *answer;
    char setting[128], id[128];
    int shots;
    frz_eval_prompt segs; /* text segments only */
} probe;

/* Reads one probe line into p (strings point into obj). Returns CLI_OK or CLI_FAIL (message printed). */
static int parse_probe(const char *file, size_t lineno, json_t *obj, probe *p)
{
    json_t *segs = json_object_get(obj, "segments"), *shots = json_object_get(obj, "shots");
    json_t *setting = json_object_get(obj, "setting"), *id = json_object_get(obj, "id");
    json_t *ti = json_object_get(obj, "task_induction");
    p->task = json_string_value(json_object_get(obj, "task"));
    p->answer = json_string_value(json_object_get(obj, "answer"));
    if (!json_is_object(obj)) return cli_fail("%s: line %zu: not a JSON object", file, lineno);
    if (!p->task || !p->task[0]) return cli_fail("%s: line %zu: field 'task' must be a non-empty string", file, lineno);
    if (!p->answer) return cli_fail("%s: line %zu: field 'answer' must be a string", file, lineno);
    if (!json_is_array(segs) || json_array_size(segs) == 0)
        return cli_fail("%s: line %zu: field 'segments' must be a non-empty array of strings", file, lineno);
    if (shots && !(json_is_integer(shots) && json_integer_value(shots) >= 0 && json_integer_value(shots) <= 1000))
        return cli_fail("%s: line %zu: field 'shots' must be an integer 0..1000", file, lineno);
    if (setting && !json_is_string(setting)) return cli_fail("%s: line %zu: field 'setting' must be a string", file, lineno);
    if (ti && !json_is_boolean(ti)) return cli_fail("%s: line %zu: field 'task_induction' must be a boolean", file, lineno);
    p->shots = shots ? (int)json_integer_value(shots) : 0;
    if (json_is_string(id)) snprintf(p->id, sizeof p->id, "%.127s", json_string_value(id));
    else if (json_is_integer(id)) snprintf(p->id, sizeof p->id, "%lld", (long long)json_integer_value(id));
    else if (id) return cli_fail("%s: line %zu: field 'id' must be a string or an integer", file, lineno);
    else snprintf(p->id, sizeof p->id, "line%zu", lineno);
    for (size_t i = 0; i < json_array_size(segs); i++) {
        const char *t = json_string_value(json_array_get(segs, i));
        if (!t) return cli_fail("%s: line %zu: segments[%zu] must be a string", file, lineno, i);
        frz_status st = frz_eval_prompt_add_text(&p->segs, t);
        if (st != FRZ_OK) return cli_lib_error(st);
    }
    int binding = strncmp(p->task, "binding", 7) == 0;
    int induction = ti ? json_is_true(ti)
                       : binding && strncmp(p->segs.segs[0].text, "Answer with ", 12) == 0;
    const char *base = setting ? json_string_value(setting) : "text";
    snprintf(p->setting, sizeof p->setting, "%s%s", base,
             induction && !strstr(base, "task induction") ? ", task induction" : "");
    return CLI_OK;
}

/* The probe's greedy answer, decoded into *gen (malloc'ed). */
static int generate(const frz_lm *lm, frz_session *s, frz_prompt *pr, const probe *p, long max_tokens, int32_t *out,
                    char **gen)
{
    frz_prompt_clear(pr);
    frz_status st = FRZ_OK;
    for (size_t i = 0; st == FRZ_OK && i < p->segs.n; i++)
        st = frz_prompt_add_text(pr, p->segs.segs[i].text, (size_t)-1, 0);
    if (st == FRZ_OK && frz_prompt_len(pr) == 0) return cli_fail("probe %s: the segments are all empty", p->id);
    frz_generate_params gp;
    frz_generate_params_init(&gp); /* greedy, stops at <|endoftext|> */
    gp.max_tokens = (int32_t)max_tokens;
    size_t n = 0, len = 0;
    if (st == FRZ_OK) st = frz_session_seq_truncate(s, 0, 0);
    if (st == FRZ_OK) st = frz_prompt_generate(s, 0, pr, &gp, FRZ_PROMPT_STOP_NEWLINE, out, (size_t)max_tokens, &n);
    if (st != FRZ_OK) {
        fprintf(stderr, "frozen-demo-textprobe: probe %s (%s):\n", p->id, p->task);
        return cli_lib_error(st);
    }
    return cli_detokenize(lm, out, n, gen, &len);
}

static double seconds_since(const struct timespec *t0)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)(t.tv_sec - t0->tv_sec) + 1e-9 * (double)(t.tv_nsec - t0->tv_nsec);
}

/* Scores one probe with the harness's rule for its task and records it. */
static int score_and_record(frz_eval_report *rep, const probe *p, const char *gen, double *score)
{
    int right = 0;
    if (strncmp(p->task, "binding", 7) == 0) {
        right = frz_eval_binding_correct(gen, p->answer);
    } else {
        frz_status st = frz_eval_normalized_match(gen, p->answer, &right);
        if (st != FRZ_OK) return cli_lib_error(st);
    }
    *score = right ? 1.0 : 0.0;
    const char *answers[1] = {p->answer};
    frz_eval_record rec = {p->task, p->setting, p->shots, p->id, &p->segs, gen, answers, 1, *score, 1};
    frz_status st = frz_eval_report_add(rep, &rec);
    return st == FRZ_OK ? CLI_OK : cli_lib_error(st);
}

/* Runs every probe of the file (text already read, NUL-terminated) into the report. */
static int run_probes(const args *a, const frz_lm *lm, frz_session *s, frz_prompt *pr, char *text,
                      frz_eval_report *rep)
{
    size_t total = 0; /* non-blank lines */
    for (const char *c = text; *c;) {
        size_t n = strcspn(c, "\n");
        total += strspn(c, " \t\r") < n;
        c += n + (c[n] == '\n');
    }
    if (a->limit && (size_t)a->limit < total) total = (size_t)a->limit;
    int32_t *out = malloc((size_t)a->max_tokens * sizeof *out);
    if (!out) return cli_fail("out of memory");
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    size_t lineno = 0, done = 0, next_line = 0;
    double sum = 0;
    int rc = CLI_OK;
    for (char *line = text; rc == CLI_OK && *line && done < total;) {
        char *end = strchr(line, '\n');
        size_t len = end ? (size_t)(end - line) : strlen(line);
        char *next = end ? end + 1 : line + len;
        lineno++;
        size_t blank = 0;
        while (blank < len && (line[blank] == ' ' || line[blank] == '\t' || line[blank] == '\r')) blank++;
        if (blank == len) {
            line = next;
            continue;
        }
        json_error_t err;
        json_t *obj = json_loadb(line, len, JSON_REJECT_DUPLICATES, &err);
        probe p;
        memset(&p, 0, sizeof p);
        char *gen = NULL;
        double score = 0;
        if (!obj) rc = cli_fail("%s: line %zu column %d: %s", a->probes, lineno, err.column, err.text);
        if (rc == CLI_OK) rc = parse_probe(a->probes, lineno, obj, &p);
        if (rc == CLI_OK) rc = generate(lm, s, pr, &p, a->max_tokens, out, &gen);
        if (rc == CLI_OK) rc = score_and_record(rep, &p, gen, &score);
        free(gen);
        frz_eval_prompt_clear(&p.segs);
        json_decref(obj);
        if (rc != CLI_OK) break;
        done++;
        sum += score;
        if (done >= next_line || done == total) {
            double el = seconds_since(&t0);
            fprintf(stderr, "frozen-demo-textprobe: %zu/%zu probes, accuracy %.1f%%, %.1f probes/s\n", done, total,
                    100.0 * sum / (double)done, el > 0 ? (double)done / el : 0.0);
            size_t step = total / 10 ? total / 10 : 1;
            next_line = (done / step + 1) * step;
        }
        line = next;
    }
    free(out);
    return rc;
}

int main(int argc, char **argv)
{
    cli_setup_logging();
    args a = {0};
    a.max_tokens = 10;
    a.threads = cli_nproc();
    int rc = cli_parse_options(&command, argc - 1, argv + 1, on_option, &a);
    if (rc < 0) return 0; /* --help */
    if (rc == CLI_OK && (!a.lm || !a.probes || !a.out))
        rc = cli_usage_error(&command, "--lm, --probes and --out are required");
    if (rc != CLI_OK) return rc;

    frz_lm *lm = NULL;
    frz_session *s = NULL;
    frz_prompt *pr = NULL;
    frz_eval_report *rep = NULL;
    char *text = NULL, *jsonl = demo_join(a.out, "results.jsonl"), *sjson = demo_join(a.out, "summary.json"),
         *smd = demo_join(a.out, "summary.md");
    size_t len = 0;
    frz_status st = FRZ_OK;
    if (!jsonl || !sjson || !smd) rc = cli_fail("out of memory");
    if (rc == CLI_OK && (st = frz_read_file(a.probes, &text, &len)) != FRZ_OK) rc = cli_lib_error(st);
    if (rc == CLI_OK) rc = cli_load_lm(a.lm, &lm);
    if (rc == CLI_OK && (st = frz_session_create(lm, &s)) != FRZ_OK) rc = cli_lib_error(st);
    if (rc == CLI_OK && (st = frz_session_set_int(s, FRZ_OPT_THREADS, a.threads)) != FRZ_OK) rc = cli_lib_error(st);
    if (rc == CLI_OK && (st = frz_prompt_create(lm, NULL, NULL, &pr)) != FRZ_OK) rc = cli_lib_error(st);
    if (rc == CLI_OK) rc = demo_mkdirs(a.out) == 0 ? CLI_OK : CLI_FAIL;
    if (rc == CLI_OK && (st = frz_eval_report_open(jsonl, sjson, smd, 0, 10, &rep)) != FRZ_OK) rc = cli_lib_error(st);
    if (rc == CLI_OK) rc = run_probes(&a, lm, s, pr, text, rep);
    if (rep) {
        st = rc == CLI_OK ? frz_eval_report_close(rep) : frz_eval_report_close_incomplete(rep);
        if (st != FRZ_OK && rc == CLI_OK) rc = cli_lib_error(st);
    }
    if (rc == CLI_OK) demo_cat(smd);
    free(text);
    free(jsonl);
    free(sjson);
    free(smd);
    frz_prompt_free(pr);
    frz_session_free(s);
    frz_lm_free(lm);
    if (rc == CLI_OK) rc = cli_finish_stdout();
    return rc;
}
