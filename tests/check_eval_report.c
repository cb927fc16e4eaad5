/* check_eval_report.c -- the per-example JSONL and the summaries: parseable (read back with Jansson), correct
 * totals, atomic summary replacement, and valid partial results after an interrupted run, which a resumed run
 * continues. */
#include "eval/eval.h"
#include "util/testutil.h"

#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

typedef struct paths {
    char jsonl[4200], json[4200], md[4200];
} paths;

static paths fresh_paths(void)
{
    const char *dir = make_temp_dir();
    paths p;
    snprintf(p.jsonl, sizeof p.jsonl, "%s/results.jsonl", dir);
    snprintf(p.json, sizeof p.json, "%s/summary.json", dir);
    snprintf(p.md, sizeof p.md, "%s/summary.md", dir);
    return p;
}

/* Every line of a JSONL file parsed; returns the number of lines and fills lines[] (json_decref each). */
static size_t read_lines(const char *path, json_t **lines, size_t cap)
{
    size_t len, n = 0;
    char *buf = read_file_or_fail(path, &len);
    ck_assert_msg(len == 0 || buf[len - 1] == '\n', "%s does not end with a newline", path);
    for (char *s = buf; *s;) {
        char *nl = strchr(s, '\n');
        ck_assert_ptr_nonnull(nl);
        json_error_t err;
        json_t *o = json_loadb(s, (size_t)(nl - s), 0, &err);
        ck_assert_msg(o != NULL, "%s line %zu: %s", path, n + 1, err.text);
        ck_assert_uint_lt(n, cap);
        lines[n++] = o;
        s = nl + 1;
    }
    free(buf);
    return n;
}

static json_t *read_json(const char *path)
{
    json_error_t err;
    json_t *o = json_load_file(path, 0, &err);
    ck_assert_msg(o != NULL, "%s: %s", path, err.text);
    return o;
}

/* The summary result for (task, setting, shots), or NULL. */
static const json_t *result(const json_t *summary, const char *task, const char *setting, int shots)
{
    const json_t *results = json_object_get(summary, "results");
    for (size_t i = 0; i < json_array_size(results); i++) {
        const json_t *r = json_array_get(results, i);
        if (strcmp(json_string_value(json_object_get(r, "task")), task) == 0 &&
            strcmp(json_string_value(json_object_get(r, "setting")), setting) == 0 &&
            json_integer_value(json_object_get(r, "shots")) == shots)
            return r;
    }
    return NULL;
}

static void add(frz_eval_report *r, const char *task, const char *setting, int shots, const char *id, double score,
                int binary)
{
    const char *answers[2] = {"blue", "navy"};
    frz_eval_record rec = {task, setting, shots, id, NULL, " blue", answers, 2, score, binary};
    frz_status st = frz_eval_report_add(r, &rec);
    ck_assert_msg(st == FRZ_OK, "%s", frz_last_error());
}

/* Lines carry every field; the summary means are the hand-computed averages: vqav2/frozen/0: (1.0 + 0.3) / 2
 * = 0.65; vqav2/frozen/4: 0.6; vqav2/blind/0: 0.0; open_ended_mi/frozen/1: (1 + 0 + 1) / 3. */
START_TEST(test_report_basic)
{
    paths p = fresh_paths();
    frz_eval_report *r = NULL;
    ck_assert_int_eq(frz_eval_report_open(p.jsonl, p.json, p.md, 0, 100, &r), FRZ_OK);

    frz_eval_prompt prompt = {0};
    ck_assert_int_eq(frz_eval_prompt_add_text(&prompt, "Answer with dax or blicket."), FRZ_OK);
    ck_assert_int_eq(frz_eval_prompt_add_image(&prompt, "img/a.jpg"), FRZ_OK);
    ck_assert_int_eq(frz_eval_prompt_add_text(&prompt, "This is a dax."), FRZ_OK);
    ck_assert_int_eq(frz_eval_prompt_add_image(&prompt, "img/q.jpg"), FRZ_OK);
    ck_assert_int_eq(frz_eval_prompt_add_text(&prompt, "Question: What is this? Answer:"), FRZ_OK);
    const char *dax[1] = {"dax"};
    frz_eval_record rec = {"open_ended_mi", "frozen", 1, "ep1", &prompt, " dax\n", dax, 1, 1.0, 1};
    ck_assert_int_eq(frz_eval_report_add(r, &rec), FRZ_OK);
    add(r, "vqav2", "frozen", 0, "101", 1.0, 0);
    add(r, "vqav2", "frozen", 0, "102", 0.3, 0);
    add(r, "vqav2", "frozen", 4, "101", 0.6, 0);
    add(r, "vqav2", "blind", 0, "101", 0.0, 0);
    add(r, "open_ended_mi", "frozen", 1, "ep2", 0.0, 1);
    add(r, "open_ended_mi", "frozen", 1, "ep3", 1.0, 1);
    ck_assert_int_eq(frz_eval_report_done(r, "vqav2", "frozen", 4, "101"), 1);
    ck_assert_int_eq(frz_eval_report_done(r, "vqav2", "frozen", 1, "101"), 0);
    ck_assert_int_eq(frz_eval_report_close(r), FRZ_OK);
    frz_eval_prompt_clear(&prompt);

    json_t *lines[16];
    size_t n = read_lines(p.jsonl, lines, 16);
    ck_assert_uint_eq(n, 7);
    const json_t *l = lines[0];
    ck_assert_str_eq(json_string_value(json_object_get(l, "task")), "open_ended_mi");
    ck_assert_str_eq(json_string_value(json_object_get(l, "setting")), "frozen");
    ck_assert_int_eq(json_integer_value(json_object_get(l, "shots")), 1);
    ck_assert_str_eq(json_string_value(json_object_get(l, "id")), "ep1");
    ck_assert_str_eq(json_string_value(json_object_get(l, "prompt")),
                     "Answer with dax or blicket.<image>This is a dax.<image>Question: What is this? Answer:");
    const json_t *images = json_object_get(l, "images");
    ck_assert_uint_eq(json_array_size(images), 2);
    ck_assert_str_eq(json_string_value(json_array_get(images, 1)), "img/q.jpg");
    ck_assert_str_eq(json_string_value(json_object_get(l, "generation")), " dax\n");
    ck_assert_str_eq(json_string_value(json_array_get(json_object_get(l, "answers"), 0)), "dax");
    ck_assert(json_is_true(json_object_get(l, "correct")));
    ck_assert(json_is_false(json_object_get(lines[5], "correct")));
    ck_assert_ptr_null(json_object_get(lines[1], "correct")); /* VQA lines: a score only */
    ck_assert(json_is_null(json_object_get(lines[1], "prompt")));
    ck_assert_double_eq_tol(json_number_value(json_object_get(lines[2], "score")), 0.3, 1e-12);
    for (size_t i = 0; i < n; i++) json_decref(lines[i]);

    json_t *sum = read_json(p.json);
    ck_assert(json_is_true(json_object_get(sum, "complete")));
    ck_assert_uint_eq(json_array_size(json_object_get(sum, "results")), 4);
    const json_t *c = result(sum, "vqav2", "frozen", 0);
    ck_assert_ptr_nonnull(c);
    ck_assert_int_eq(json_integer_value(json_object_get(c, "n")), 2);
    ck_assert_double_eq_tol(json_number_value(json_object_get(c, "score")), 0.65, 1e-12);
    ck_assert_double_eq_tol(json_number_value(json_object_get(c, "percent")), 65.0, 1e-9);
    c = result(sum, "open_ended_mi", "frozen", 1);
    ck_assert_int_eq(json_integer_value(json_object_get(c, "n")), 3);
    ck_assert_double_eq_tol(json_number_value(json_object_get(c, "score")), 2.0 / 3.0, 1e-12);
    ck_assert_double_eq_tol(json_number_value(json_object_get(result(sum, "vqav2", "blind", 0), "score")), 0.0, 1e-12);
    json_decref(sum);

    /* Markdown: a table per task, settings as rows (first-seen order), shot counts as columns (ascending). */
    char *md = read_file_or_fail(p.md, NULL);
    ck_assert_msg(strstr(md, "## vqav2\n\n| setting | 0-shot | 4-shot |\n| --- | ---: | ---: |\n"
                             "| frozen | 65.00 (n=2) | 60.00 (n=1) |\n| blind | 0.00 (n=1) | - |\n") != NULL, "%s", md);
    ck_assert_msg(strstr(md, "## open_ended_mi\n\n| setting | 1-shot |\n| --- | ---: |\n| frozen | 66.67 (n=3) |\n"),
                  "%s", md);
    ck_assert_ptr_nonnull(strstr(md, "Complete: 7 examples."));
    free(md);
}
END_TEST

/* With summary_every = 1 the summary after each example holds every example so far; it is replaced by rename
 * (a new inode each time: an open reader keeps the whole previous version), and no temporary file is left. */
START_TEST(test_summary_atomic)
{
    paths p = fresh_paths();
    frz_eval_report *r = NULL;
    ck_assert_int_eq(frz_eval_report_open(p.jsonl, p.json, p.md, 0, 1, &r), FRZ_OK);
    struct stat before;
    ck_assert_int_eq(stat(p.json, &before), 0); /* written at open: an empty summary */
    json_t *empty = read_json(p.json);
    ck_assert_uint_eq(json_array_size(json_object_get(empty, "results")), 0);
    json_decref(empty);
    FILE *old = fopen(p.json, "r");
    for (int i = 1; i <= 5; i++) {
        char id[16];
        snprintf(id, sizeof id, "%d", i);
        add(r, "okvqa", "frozen", 0, id, 0.5, 0);
        json_t *sum = read_json(p.json);
        ck_assert(json_is_false(json_object_get(sum, "complete")));
        ck_assert_int_eq(json_integer_value(json_object_get(result(sum, "okvqa", "frozen", 0), "n")), i);
        json_decref(sum);
        struct stat now;
        ck_assert_int_eq(stat(p.json, &now), 0);
        ck_assert_msg(now.st_ino != before.st_ino, "summary rewritten in place");
        before = now;
        char tmp[4300];
        snprintf(tmp, sizeof tmp, "%s.tmp", p.json);
        ck_assert_int_ne(access(tmp, F_OK), 0);
    }
    /* The reader that opened the first version still reads it whole. */
    json_error_t err;
    json_t *first = json_loadf(old, 0, &err);
    ck_assert_ptr_nonnull(first);
    ck_assert_uint_eq(json_array_size(json_object_get(first, "results")), 0);
    json_decref(first);
    fclose(old);
    ck_assert_int_eq(frz_eval_report_close(r), FRZ_OK);
}
END_TEST

/* summary_every = 3: the summary is refreshed after the 3rd and 6th examples (and at close). */
START_TEST(test_summary_interval)
{
    paths p = fresh_paths();
    frz_eval_report *r = NULL;
    ck_assert_int_eq(frz_eval_report_open(p.jsonl, p.json, NULL, 0, 3, &r), FRZ_OK);
    const int want[7] = {0, 0, 0, 3, 3, 3, 6};
    for (int i = 1; i <= 6; i++) {
        char id[16];
        snprintf(id, sizeof id, "%d", i);
        add(r, "vqav2", "frozen", 0, id, 1.0, 0);
        json_t *sum = read_json(p.json);
        const json_t *c = result(sum, "vqav2", "frozen", 0);
        ck_assert_int_eq(c ? json_integer_value(json_object_get(c, "n")) : 0, want[i]);
        json_decref(sum);
    }
    add(r, "vqav2", "frozen", 0, "7", 1.0, 0);
    ck_assert_int_eq(frz_eval_report_close(r), FRZ_OK);
    json_t *sum = read_json(p.json);
    ck_assert_int_eq(json_integer_value(json_object_get(result(sum, "vqav2", "frozen", 0), "n")), 7);
    json_decref(sum);
}
END_TEST

/* A run killed mid-way (a child process that exits without closing, after which a partial line is appended as
 * if the kill came in the middle of a write) leaves a parseable JSONL prefix and a valid summary. Resuming
 * counts the complete lines, cuts the partial one, skips what is done and continues. */
START_TEST(test_interrupted_and_resumed)
{
    paths p = fresh_paths();
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        frz_eval_report *r = NULL;
        if (frz_eval_report_open(p.jsonl, p.json, p.md, 0, 1, &r) != FRZ_OK) _exit(2);
        const char *ans[1] = {"yes"};
        for (int i = 1; i <= 3; i++) {
            char id[16];
            snprintf(id, sizeof id, "%d", i);
            frz_eval_record rec = {"vqav2", "frozen", 0, id, NULL, "yes", ans, 1, i == 2 ? 0.0 : 1.0, 0};
            if (frz_eval_report_add(r, &rec) != FRZ_OK) _exit(3);
        }
        _exit(0); /* killed: no close */
    }
    int status;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert_int_eq(WEXITSTATUS(status), 0);

    json_t *lines[16];
    size_t n = read_lines(p.jsonl, lines, 16);
    ck_assert_uint_eq(n, 3);
    for (size_t i = 0; i < n; i++) json_decref(lines[i]);
    json_t *sum = read_json(p.json);
    ck_assert(json_is_false(json_object_get(sum, "complete")));
    ck_assert_int_eq(json_integer_value(json_object_get(result(sum, "vqav2", "frozen", 0), "n")), 3);
    json_decref(sum);

    FILE *f = fopen(p.jsonl, "a");
    fputs("{\"task\":\"vqav2\",\"setting\":\"fro", f);
    fclose(f);

    frz_eval_report *r = NULL;
    ck_assert_int_eq(frz_eval_report_open(p.jsonl, p.json, p.md, FRZ_EVAL_REPORT_RESUME, 1, &r), FRZ_OK);
    for (int i = 1; i <= 3; i++) {
        char id[16];
        snprintf(id, sizeof id, "%d", i);
        ck_assert_int_eq(frz_eval_report_done(r, "vqav2", "frozen", 0, id), 1);
    }
    ck_assert_int_eq(frz_eval_report_done(r, "vqav2", "frozen", 0, "4"), 0);
    /* Recording a done example again is refused (it would be counted twice). */
    const char *ans[1] = {"yes"};
    frz_eval_record dup = {"vqav2", "frozen", 0, "2", NULL, "yes", ans, 1, 1.0, 0};
    ck_assert_int_eq(frz_eval_report_add(r, &dup), FRZ_ERR_INVALID_ARG);
    ASSERT_MSG_HAS("example 2 (vqav2, frozen, 0 shots) is already recorded");
    add(r, "vqav2", "frozen", 0, "4", 1.0, 0);
    ck_assert_int_eq(frz_eval_report_close(r), FRZ_OK);

    n = read_lines(p.jsonl, lines, 16); /* the partial line is gone */
    ck_assert_uint_eq(n, 4);
    ck_assert_str_eq(json_string_value(json_object_get(lines[3], "id")), "4");
    for (size_t i = 0; i < n; i++) json_decref(lines[i]);
    sum = read_json(p.json);
    ck_assert(json_is_true(json_object_get(sum, "complete")));
    const json_t *c = result(sum, "vqav2", "frozen", 0);
    ck_assert_int_eq(json_integer_value(json_object_get(c, "n")), 4);
    ck_assert_double_eq_tol(json_number_value(json_object_get(c, "score")), 0.75, 1e-12); /* (1+0+1+1)/4 */
    json_decref(sum);
}
END_TEST

/* Resuming over a file whose complete lines are not report lines is refused, naming the line. Without the
 * resume flag the file is started afresh. */
START_TEST(test_resume_refuses_garbage)
{
    paths p = fresh_paths();
    FILE *f = fopen(p.jsonl, "w");
    fputs("{\"task\":\"a\",\"setting\":\"b\",\"shots\":0,\"id\":\"1\",\"score\":1}\nnot json\n", f);
    fclose(f);
    frz_eval_report *r = (frz_eval_report *)1;
    ck_assert_int_eq(frz_eval_report_open(p.jsonl, p.json, NULL, FRZ_EVAL_REPORT_RESUME, 1, &r), FRZ_ERR_FORMAT);
    ck_assert_ptr_null(r);
    char want[4300];
    snprintf(want, sizeof want, "%s: line 2 column", p.jsonl);
    ASSERT_MSG_HAS(want);
    f = fopen(p.jsonl, "w");
    fputs("{\"task\":\"a\",\"shots\":0,\"id\":\"1\",\"score\":1}\n", f);
    fclose(f);
    ck_assert_int_eq(frz_eval_report_open(p.jsonl, NULL, NULL, FRZ_EVAL_REPORT_RESUME, 1, &r), FRZ_ERR_FORMAT);
    ASSERT_MSG_HAS("line 1: needs task, setting, id");

    ck_assert_int_eq(frz_eval_report_open(p.jsonl, NULL, NULL, 0, 1, &r), FRZ_OK);
    ck_assert_int_eq(frz_eval_report_close(r), FRZ_OK);
    size_t len;
    free(read_file_or_fail(p.jsonl, &len));
    ck_assert_uint_eq(len, 0);
}
END_TEST

/* Generated text may end inside a UTF-8 character: the line stays valid JSON with U+FFFD in its place. Text
 * with '|' or newlines cannot break the Markdown table. */
START_TEST(test_invalid_utf8_and_markdown_escaping)
{
    paths p = fresh_paths();
    frz_eval_report *r = NULL;
    ck_assert_int_eq(frz_eval_report_open(p.jsonl, NULL, p.md, 0, 1, &r), FRZ_OK);
    const char *ans[1] = {"caf\xC3\xA9"};
    frz_eval_record rec = {"vqav2", "a|b\nc", 0, "1", NULL, " caf\xC3", ans, 1, 0.0, 0};
    ck_assert_int_eq(frz_eval_report_add(r, &rec), FRZ_OK);
    ck_assert_int_eq(frz_eval_report_close(r), FRZ_OK);
    json_t *lines[4];
    ck_assert_uint_eq(read_lines(p.jsonl, lines, 4), 1);
    ck_assert_str_eq(json_string_value(json_object_get(lines[0], "generation")), " caf\xEF\xBF\xBD");
    ck_assert_str_eq(json_string_value(json_array_get(json_object_get(lines[0], "answers"), 0)), "caf\xC3\xA9");
    json_decref(lines[0]);
    char *md = read_file_or_fail(p.md, NULL);
    ck_assert_msg(strstr(md, "| a\\|b c | 0.00 (n=1) |\n") != NULL, "%s", md);
    free(md);
}
END_TEST

START_TEST(test_report_errors)
{
    frz_eval_report *r = (frz_eval_report *)1;
    ck_assert_int_eq(frz_eval_report_open("/nonexistent-dir/x.jsonl", NULL, NULL, 0, 1, &r), FRZ_ERR_IO);
    ck_assert_ptr_null(r);
    ASSERT_MSG_HAS("/nonexistent-dir/x.jsonl: cannot open for writing");
    paths p = fresh_paths();
    ck_assert_int_eq(frz_eval_report_open(p.jsonl, "/nonexistent-dir/s.json", NULL, 0, 1, &r), FRZ_ERR_IO);
    ASSERT_MSG_HAS("/nonexistent-dir/s.json.tmp: cannot create");
    ck_assert_int_eq(frz_eval_report_open(p.jsonl, NULL, NULL, 0, 0, &r), FRZ_ERR_INVALID_ARG);
    ck_assert_int_eq(frz_eval_report_close(NULL), FRZ_OK);
}
END_TEST

START_TEST(test_report_alloc_failures)
{
    int failures = 0;
    for (long k = 1; k < 2000; k++) {
        paths p = fresh_paths();
        frz_eval_report *r = NULL;
        frz_test_fail_alloc_at(k);
        frz_status st = frz_eval_report_open(p.jsonl, p.json, p.md, 0, 1, &r);
        if (st == FRZ_OK) {
            const char *ans[1] = {"x"};
            frz_eval_record rec = {"vqav2", "frozen", 0, "1", NULL, "x", ans, 1, 1.0, 0};
            st = frz_eval_report_add(r, &rec);
            frz_status cst = frz_eval_report_close(r);
            if (st == FRZ_OK) st = cst;
        }
        frz_test_fail_alloc_at(0);
        if (st == FRZ_OK) break;
        ck_assert_int_eq(st, FRZ_ERR_NOMEM);
        failures++;
    }
    ck_assert_int_gt(failures, 10);
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("eval_report");
    TCase *tc = tcase_create("report");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_report_basic);
    tcase_add_test(tc, test_summary_atomic);
    tcase_add_test(tc, test_summary_interval);
    tcase_add_test(tc, test_interrupted_and_resumed);
    tcase_add_test(tc, test_resume_refuses_garbage);
    tcase_add_test(tc, test_invalid_utf8_and_markdown_escaping);
    tcase_add_test(tc, test_report_errors);
    tcase_add_test(tc, test_report_alloc_failures);
    suite_add_tcase(s, tc);
    return s;
}

FRZ_TEST_MAIN(make_suite)
