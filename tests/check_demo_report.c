/* check_demo_report.c -- the demo's text probe and report tools (demo/textprobe.c, demo/report/), run as the
 * driver runs them, and the multi-curve plots they draw (src/train/plot.c).
 *
 * The probe's expected generations are computed independently through the lower-level API: each segment
 * tokenized on its own with frz_tokenize, the ids concatenated, frz_session_eval, greedy frz_generate to a
 * newline -- not through the prompt builder the tool uses. The report's inputs are written here by hand, and
 * its outputs are read back: the Markdown table must hold the numbers given, the PNGs must decode (with the
 * library's image loader) to 800 x 480 pictures holding each run's colour. */
#include "util/testutil.h"

#include "train/plot.h"

#include <jansson.h>
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>

#define LM_DIR FRZ_FIXTURES "/prompt/lm"

/* Runs a shell command line; returns its exit status. */
static int sh(const char *fmt, const char *a, const char *b, const char *c)
{
    char cmd[4096];
    snprintf(cmd, sizeof cmd, fmt, test_build_dir(), a, b, c);
    int st = system(cmd);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    fclose(f);
}

/* ---- the expected generation, computed without the prompt builder ------------------------------------------ */

static char *greedy_by_hand(const frz_lm *lm, const char *const *segs, size_t n_segs)
{
    int32_t ids[512];
    size_t n = 0;
    for (size_t i = 0; i < n_segs; i++) {
        size_t got = 0;
        ck_assert_int_eq(frz_tokenize(lm, segs[i], (size_t)-1, 0, ids + n, 512 - n, &got), FRZ_OK);
        n += got;
    }
    frz_session *s = NULL;
    ck_assert_int_eq(frz_session_create(lm, &s), FRZ_OK);
    frz_input in = {0, n, ids, NULL};
    ck_assert_int_eq(frz_session_eval(s, &in, 1, FRZ_LOGITS_LAST), FRZ_OK);
    frz_generate_params gp;
    frz_generate_params_init(&gp);
    gp.max_tokens = 10;
    const char *stop[1] = {"\n"};
    gp.stop = stop;
    gp.n_stop = 1;
    int32_t out[10];
    size_t n_out = 0, len = 0;
    ck_assert_int_eq(frz_generate(s, 0, &gp, out, 10, &n_out), FRZ_OK);
    char *text = malloc(16 * n_out + 1);
    text[0] = '\0';
    if (n_out) ck_assert_int_eq(frz_detokenize(lm, out, n_out, text, 16 * n_out + 1, &len), FRZ_OK);
    frz_session_free(s);
    return text;
}

/* Whitespace stripped at both ends, in a new buffer. */
static char *strip(const char *s)
{
    while (*s == ' ' || *s == '\t' || *s == '\n') s++;
    size_t n = strlen(s);
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\n')) n--;
    char *r = malloc(n + 1);
    memcpy(r, s, n);
    r[n] = '\0';
    return r;
}

static json_t *load_json(const char *path)
{
    json_error_t err;
    json_t *j = json_load_file(path, 0, &err);
    ck_assert_msg(j != NULL, "%s: %s", path, err.text);
    return j;
}

/* The summary cell (task, setting, shots) of a summary.json, or NULL. */
static json_t *summary_cell(json_t *summary, const char *task, const char *setting, int shots)
{
    json_t *res = json_object_get(summary, "results");
    for (size_t i = 0; i < json_array_size(res); i++) {
        json_t *o = json_array_get(res, i);
        if (strcmp(json_string_value(json_object_get(o, "task")), task) == 0 &&
            strcmp(json_string_value(json_object_get(o, "setting")), setting) == 0 &&
            json_integer_value(json_object_get(o, "shots")) == shots)
            return o;
    }
    return NULL;
}

START_TEST(textprobe_scores_the_greedy_answer_with_the_harness_rules)
{
    frz_lm *lm = NULL;
    ck_assert_int_eq(frz_lm_load(LM_DIR, &lm), FRZ_OK);
    /* A prompt whose segments split before a word: " dax" is one token in the joined text, " " + "dax" apart. */
    const char *segs[] = {"Answer with dax or blicket.", "a boot", "This is a ", "dax.", "Question: What is this? Answer:"};
    char *gen = greedy_by_hand(lm, segs, 5);
    char *answer = strip(gen);
    ck_assert_msg(answer[0] != '\0', "the fixture LM's answer is empty: pick another prompt");
    /* the joined text tokenizes differently, so a tool that joined the segments would be caught */
    int32_t a[256], b[256];
    size_t na = 0, nb = 0, k = 0;
    for (size_t i = 0; i < 5; i++, na += k)
        ck_assert_int_eq(frz_tokenize(lm, segs[i], (size_t)-1, 0, a + na, 256 - na, &k), FRZ_OK);
    ck_assert_int_eq(frz_tokenize(lm, "Answer with dax or blicket.a bootThis is a dax.Question: What is this? Answer:",
                                  (size_t)-1, 0, b, 256, &nb), FRZ_OK);
    ck_assert(na != nb || memcmp(a, b, na * sizeof *a) != 0);

    /* The same answer upper-cased: right for the normalised VQA rule, wrong for the strict binding rule. */
    char upper[256];
    size_t i;
    for (i = 0; answer[i] && i + 1 < sizeof upper; i++)
        upper[i] = (char)(answer[i] >= 'a' && answer[i] <= 'z' ? answer[i] - 32 : answer[i]);
    upper[i] = '\0';
    int has_lower = strcmp(upper, answer) != 0;
    json_t *sj = json_pack("[s,s,s,s,s]", segs[0], segs[1], segs[2], segs[3], segs[4]);
    char *segs_json = json_dumps(sj, JSON_COMPACT);
    json_decref(sj);
    json_t *aj = json_string(answer), *uj = json_string(upper);
    char *ans_json = json_dumps(aj, JSON_ENCODE_ANY), *up_json = json_dumps(uj, JSON_ENCODE_ANY);
    json_decref(aj);
    json_decref(uj);
    char probes[8192];
    snprintf(probes, sizeof probes,
             "{\"task\":\"binding_2way\",\"setting\":\"text\",\"shots\":1,\"id\":\"right\",\"segments\":%s,\"answer\":%s}\n"
             "\n"
             "{\"task\":\"binding_2way\",\"shots\":1,\"id\":\"wrong\",\"segments\":%s,\"answer\":\"blicket-not\"}\n"
             "{\"task\":\"vqa\",\"shots\":0,\"id\":\"upper-vqa\",\"segments\":%s,\"answer\":%s}\n"
             "{\"task\":\"binding_2way\",\"shots\":1,\"id\":\"upper-binding\",\"segments\":%s,\"answer\":%s,"
             "\"task_induction\":false}\n",
             segs_json, ans_json, segs_json, segs_json, up_json, segs_json, up_json);
    const char *dir = make_temp_dir();
    const char *pf = path_in(dir, "probes.jsonl");
    write_text(pf, probes);
    const char *out = path_in(dir, "out");
    ck_assert_int_eq(sh("%s/demo/frozen-demo-textprobe --lm %s --probes %s --out %s -t 1 >/dev/null 2>&1", LM_DIR, pf,
                        out),
                     0);

    /* results.jsonl: one parsable line per probe, the generation the lower-level API gives */
    char *text = read_file_or_fail(path_in(out, "results.jsonl"), NULL);
    const char *ids[4] = {"right", "wrong", "upper-vqa", "upper-binding"};
    const int correct[4] = {1, 0, 1, !has_lower};
    const char *settings[4] = {"text, task induction", "text, task induction", "text", "text"};
    size_t line = 0;
    for (char *p = text, *nl; (nl = strchr(p, '\n')) != NULL; p = nl + 1, line++) {
        ck_assert_uint_lt(line, 4);
        json_t *o = json_loadb(p, (size_t)(nl - p), 0, NULL);
        ck_assert_ptr_nonnull(o);
        ck_assert_str_eq(json_string_value(json_object_get(o, "id")), ids[line]);
        ck_assert_str_eq(json_string_value(json_object_get(o, "generation")), gen);
        ck_assert_str_eq(json_string_value(json_object_get(o, "setting")), settings[line]);
        ck_assert_msg(json_is_true(json_object_get(o, "correct")) == correct[line], "probe %s", ids[line]);
        ck_assert_double_eq(json_number_value(json_object_get(o, "score")), correct[line]);
        ck_assert_str_eq(json_string_value(json_object_get(o, "prompt")),
                         "Answer with dax or blicket.a bootThis is a dax.Question: What is this? Answer:");
        json_decref(o);
    }
    ck_assert_uint_eq(line, 4);
    free(text);
    /* summary.json: the harness's format, complete, the means of the lines */
    json_t *sum = load_json(path_in(out, "summary.json"));
    ck_assert_str_eq(json_string_value(json_object_get(sum, "format")), "libfrozen-eval-summary");
    ck_assert(json_is_true(json_object_get(sum, "complete")));
    json_t *c = summary_cell(sum, "binding_2way", "text, task induction", 1);
    ck_assert_ptr_nonnull(c);
    ck_assert_int_eq(json_integer_value(json_object_get(c, "n")), 2);
    ck_assert_double_eq_tol(json_number_value(json_object_get(c, "percent")), 50.0, 1e-9);
    c = summary_cell(sum, "vqa", "text", 0);
    ck_assert_ptr_nonnull(c);
    ck_assert_double_eq_tol(json_number_value(json_object_get(c, "percent")), 100.0, 1e-9);
    json_decref(sum);

    /* errors name the file and the line; exit status 1 (data) or 2 (command line) */
    const char *bad = path_in(dir, "bad.jsonl");
    write_text(bad, "{\"task\":\"vqa\",\"segments\":[\"a\"],\"answer\":\"x\"}\n{\"task\":\"vqa\",\"segments\":[1],\"answer\":\"x\"}\n");
    const char *err = path_in(dir, "err.txt");
    ck_assert_int_eq(sh("%s/demo/frozen-demo-textprobe --lm %s --probes %s --out %s -t 1 >/dev/null 2>&1", LM_DIR, bad,
                        path_in(dir, "out2")),
                     1);
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "%%s/demo/frozen-demo-textprobe --lm %%s --probes %%s --out %s/out3 2>%%s >/dev/null", dir);
    ck_assert_int_eq(sh(cmd, LM_DIR, bad, err), 1);
    text = read_file_or_fail(err, NULL);
    ck_assert_msg(strstr(text, "bad.jsonl: line 2: segments[0] must be a string") != NULL, "%s", text);
    free(text);
    ck_assert_int_eq(sh("%s/demo/frozen-demo-textprobe --lm %s%s%s >/dev/null 2>&1", LM_DIR, "", ""), 2);

    free(segs_json), free(ans_json), free(up_json);
    free(answer);
    free(gen);
    frz_lm_free(lm);
}
END_TEST

/* ---- the report ------------------------------------------------------------------------------------------ */

static void summary(const char *out, const char *run, const char *dir, const char *cells)
{
    char path[1024];
    snprintf(path, sizeof path, "mkdir -p %s/eval/%s/%s", out, run, dir);
    ck_assert_int_eq(system(path), 0);
    snprintf(path, sizeof path, "%s/eval/%s/%s/summary.json", out, run, dir);
    char text[4096];
    snprintf(text, sizeof text,
             "{\"format\": \"libfrozen-eval-summary\", \"version\": 1, \"complete\": true, \"results\": [%s]}\n", cells);
    write_text(path, text);
}

static int count_colour(const frz_image *img, const uint8_t *rgb)
{
    const uint8_t *p = frz_image_pixels(img);
    int n = 0;
    for (int i = 0; i < frz_image_width(img) * frz_image_height(img); i++)
        n += p[3 * i] == rgb[0] && p[3 * i + 1] == rgb[1] && p[3 * i + 2] == rgb[2];
    return n;
}

static frz_image *load_png(const char *path)
{
    frz_image *img = NULL;
    ck_assert_msg(frz_image_load_file(path, &img) == FRZ_OK, "%s: %s", path, frz_last_error());
    ck_assert_int_eq(frz_image_width(img), FRZ_PLOT_W);
    ck_assert_int_eq(frz_image_height(img), FRZ_PLOT_H);
    return img;
}

START_TEST(report_table_holds_the_numbers_and_the_plots_decode)
{
    const char *out = path_in(make_temp_dir(), "demo-out");
    summary(out, "frozen", "vqa",
            "{\"task\":\"vqa\",\"setting\":\"frozen\",\"shots\":0,\"n\":40,\"score\":0.375,\"percent\":37.5},"
            "{\"task\":\"vqa\",\"setting\":\"frozen\",\"shots\":1,\"n\":40,\"score\":0.425,\"percent\":42.5},"
            "{\"task\":\"vqa\",\"setting\":\"frozen\",\"shots\":4,\"n\":40,\"score\":0.475,\"percent\":47.5}");
    summary(out, "blind", "vqa",
            "{\"task\":\"vqa\",\"setting\":\"blind\",\"shots\":0,\"n\":40,\"score\":0.125,\"percent\":12.5},"
            "{\"task\":\"vqa\",\"setting\":\"blind\",\"shots\":4,\"n\":40,\"score\":0.6,\"percent\":60.0}");
    summary(out, "frozen", "fashion_2way_3shot",
            "{\"task\":\"binding_2way\",\"setting\":\"frozen\",\"shots\":3,\"n\":20,\"score\":0.55,\"percent\":55.0},"
            "{\"task\":\"binding_2way\",\"setting\":\"frozen, task induction\",\"shots\":3,\"n\":20,\"score\":0.65,"
            "\"percent\":65.0}");
    summary(out, "text", "probes",
            "{\"task\":\"vqa\",\"setting\":\"text\",\"shots\":0,\"n\":8,\"score\":0.875,\"percent\":87.5},"
            "{\"task\":\"vqa\",\"setting\":\"text\",\"shots\":1,\"n\":8,\"score\":0.5,\"percent\":50.0},"
            "{\"task\":\"knowledge\",\"setting\":\"text\",\"shots\":0,\"n\":8,\"score\":0.25,\"percent\":25.0}");
    summary(out, "frozen", "caption",
            "{\"task\":\"caption\",\"setting\":\"frozen\",\"shots\":0,\"n\":10,\"score\":0.7,\"percent\":70.0}");
    /* Frozen's 0-shot VQA examples: two questions, answered {red, blue} and {small}: chance (1/2+1/2+1)/3 */
    char path[1024];
    snprintf(path, sizeof path, "%s/eval/frozen/vqa/results.jsonl", out);
    write_text(path,
               "{\"task\":\"vqa\",\"setting\":\"frozen\",\"shots\":0,\"id\":\"1\",\"prompt\":\"<image>Question: What "
               "colour is it? Answer:\",\"images\":[\"" "x/1.png\"],\"generation\":\" red\",\"answers\":[\"red\",\"red\"],"
               "\"score\":1.0}\n"
               "{\"task\":\"vqa\",\"setting\":\"frozen\",\"shots\":0,\"id\":\"2\",\"prompt\":\"<image>Question: What "
               "colour is it? Answer:\",\"images\":[\"x/2.png\"],\"generation\":\" red\",\"answers\":[\"blue\"],"
               "\"score\":0.0}\n"
               "{\"task\":\"vqa\",\"setting\":\"frozen\",\"shots\":0,\"id\":\"3\",\"prompt\":\"<image>Question: How big "
               "is it? Answer:\",\"images\":[\"x/3.png\"],\"generation\":\" small\",\"answers\":[\"small\"],"
               "\"score\":1.0}\n");
    /* two runs' training losses */
    snprintf(path, sizeof path, "mkdir -p %s/runs/frozen %s/runs/blind", out, out);
    ck_assert_int_eq(system(path), 0);
    snprintf(path, sizeof path, "%s/runs/frozen/metrics.csv", out);
    write_text(path, "step,epoch,loss,val_ppl,images_per_s,lr\n1,0,5,,10,0.0003\n2,0,4,,10,0.0003\n3,0,3,20,10,0.0003\n");
    snprintf(path, sizeof path, "%s/runs/blind/metrics.csv", out);
    write_text(path, "step,epoch,loss,val_ppl,images_per_s,lr\n1,0,6,,10,0.0003\n2,0,5.5,,10,0.0003\n3,0,5.4,,10,0.0003\n");
    snprintf(path, sizeof path, "%s/timings.tsv", out);
    write_text(path, "generate the world\t3\ntrain Frozen\t120\n");

    const char *stdout_file = path_in(out, "stdout.txt");
    ck_assert_int_eq(sh("%s/demo/frozen-demo-report --out %s > %s 2>/dev/null%s", out, stdout_file, ""), 0);
    char *md = read_file_or_fail(path_in(out, "report.md"), NULL);
    char *table = read_file_or_fail(stdout_file, NULL);
    /* rows: runs in column order (Frozen, blind, finetuned, scratch, text), then chance, paper, target, met, n */
    const char *rows[] = {
        "| captioning (held-out combos) | 70.0 | - | - | - | - | 2.1 | - | > 2.1 | yes | 10 |",
        "| VQA 0-shot | 37.5 | 12.5 | - | - | 87.5 | 66.7 | 29.5 | > 66.7 | no | 40 |",
        "| VQA 1-shot | 42.5 | - | - | - | 50.0 | 66.7 | 35.7 | > 66.7 | no | 40 |",
        "| VQA 4-shot | 47.5 | 60.0 | - | - | - | 66.7 | 38.2 | > 66.7 | no | 40 |",
        "| binding 2-way, 3 inner-shots | 55.0 | - | - | - | - | 50.0 | - | > 50.0 | yes | 20 |",
        "| binding 2-way, 3 inner-shots, task induction | 65.0 | - | - | - | - | 50.0 | 57.9 | > 50.0 | yes | 20 |",
        "| binding 5-way, 1 inner-shot, task induction | - | - | - | - | - | 20.0 | 20.2 | > 20.0 | - | - |",
        "| knowledge (facts only the LM knows) | - | - | - | - | 25.0 | - | 5.9 | - | - | - |",
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        ck_assert_msg(strstr(md, rows[i]) != NULL, "report.md lacks\n%s\n%s", rows[i], md);
        ck_assert_msg(strstr(table, rows[i]) != NULL, "stdout lacks %s", rows[i]);
    }
    /* of the three missed rows only VQA 1-shot has a text ceiling short of its target (0-shot's, 87.5, is above) */
    const char *tally = "Frozen met 3 of 6 targets. Of the 3 missed, 1 is beyond the LM itself";
    ck_assert_msg(strstr(md, tally) != NULL, "report.md lacks %s", tally);
    ck_assert_msg(strstr(table, tally) != NULL, "stdout lacks %s", tally);
    ck_assert_ptr_nonnull(strstr(md, "prompt:     <image: x/1.png>Question: What colour is it? Answer:"));
    ck_assert_ptr_nonnull(strstr(md, "generation: \" red\""));
    ck_assert_ptr_nonnull(strstr(md, "| **total** | **123** |"));
    ck_assert_ptr_nonnull(strstr(md, "solid line #1f77b4: frozen"));
    ck_assert_ptr_nonnull(strstr(md, "solid line #ff7f0e: blind"));
    free(table);
    free(md);

    /* the pictures: each run in its colour (frozen: palette 0, blind: 1, text: 4) */
    frz_image *img = load_png(path_in(path_in(out, "plots"), "loss.png"));
    ck_assert_int_gt(count_colour(img, frz_plot_colour(0)), 100);
    ck_assert_int_gt(count_colour(img, frz_plot_colour(1)), 100);
    ck_assert_int_eq(count_colour(img, frz_plot_colour(2)), 0);
    frz_image_free(img);
    img = load_png(path_in(path_in(out, "plots"), "shots.png"));
    ck_assert_int_gt(count_colour(img, frz_plot_colour(0)), 100);
    ck_assert_int_gt(count_colour(img, frz_plot_colour(1)), 100);
    ck_assert_int_eq(count_colour(img, frz_plot_colour(2)), 0); /* finetuned: no results */
    frz_image_free(img);

    /* given targets replace the default; an unknown row is an error naming the line */
    const char *targets = path_in(out, "targets.txt");
    write_text(targets, "# demo targets\nvqa/0 30\n\n");
    ck_assert_int_eq(sh("%s/demo/frozen-demo-report --out %s --targets %s >/dev/null 2>&1", out, targets, ""), 0);
    md = read_file_or_fail(path_in(out, "report.md"), NULL);
    ck_assert_ptr_nonnull(strstr(md, "| VQA 0-shot | 37.5 | 12.5 | - | - | 87.5 | 66.7 | 29.5 | >= 30.0 | yes | 40 |"));
    ck_assert_ptr_nonnull(strstr(md, "Frozen met 4 of 6 targets. Of the 2 missed, 1 is beyond the LM itself"));
    free(md);
    write_text(targets, "vqa/7 30\n");
    ck_assert_int_eq(sh("%s/demo/frozen-demo-report --out %s --targets %s >/dev/null 2>&1", out, targets, ""), 1);
    ck_assert_int_eq(sh("%s/demo/frozen-demo-report%s%s%s >/dev/null 2>&1", "", "", ""), 2);
}
END_TEST

START_TEST(captions_right_when_shape_and_colour_match)
{
    const char *dir = make_temp_dir();
    const char *ref = path_in(dir, "ref.tsv"), *gen = path_in(dir, "gen.tsv");
    write_text(ref, "images/shapes/1.png\ttwo small red circles on the left\n"
                    "images/shapes/2.png\ta large blue cross at the top\n"
                    "images/shapes/3.png\ta green star\n"
                    "images/shapes/4.png\ta pink diamond\n");
    /* plural vs singular and other words differ: right; wrong shape; wrong colour; no caption at all */
    write_text(gen, "w/images/shapes/1.png\ta red circle at the top\n"
                    "w/images/shapes/2.png\tthree blue crosses\n"
                    "w/images/shapes/3.png\ta green square\n");
    const char *out = path_in(dir, "caption");
    ck_assert_int_eq(sh("%s/demo/frozen-demo-report score-captions --ref %s --gen %s --out %s 2>/dev/null", ref, gen, out),
                     0);
    json_t *sum = load_json(path_in(out, "summary.json"));
    json_t *c = summary_cell(sum, "caption", "frozen", 0);
    ck_assert_ptr_nonnull(c);
    ck_assert_int_eq(json_integer_value(json_object_get(c, "n")), 4);
    ck_assert_double_eq_tol(json_number_value(json_object_get(c, "percent")), 50.0, 1e-9);
    json_decref(sum);
    char *text = read_file_or_fail(path_in(out, "results.jsonl"), NULL);
    ck_assert_ptr_nonnull(strstr(text, "\"id\":\"images/shapes/2.png\""));
    ck_assert_ptr_nonnull(strstr(text, "\"generation\":\"three blue crosses\""));
    ck_assert_ptr_nonnull(strstr(text, "\"images\":[\"w/images/shapes/1.png\"]"));
    free(text);
}
END_TEST

START_TEST(plot_curves_colours_and_dashes)
{
    int64_t x[2] = {0, 10};
    float y1[2] = {1, 1}, y2[2] = {2, 2};
    frz_plot_curve c[2] = {{{x, y1, 2}, {0, 0, 0}, FRZ_PLOT_LINE}, {{x, y2, 2}, {0, 0, 0}, FRZ_PLOT_DASHED}};
    memcpy(c[0].rgb, frz_plot_colour(2), 3);
    memcpy(c[1].rgb, frz_plot_colour(5), 3);
    ck_assert_int_eq(memcmp(frz_plot_colour(12), frz_plot_colour(2), 3), 0); /* ten colours, repeating */
    uint8_t *rgb = malloc((size_t)FRZ_PLOT_W * FRZ_PLOT_H * 3);
    frz_plot_render_curves(rgb, c, 2, 0, 0);
    int solid = 0, dashed = 0;
    for (size_t i = 0; i < (size_t)FRZ_PLOT_W * FRZ_PLOT_H; i++) {
        solid += memcmp(rgb + 3 * i, frz_plot_colour(2), 3) == 0;
        dashed += memcmp(rgb + 3 * i, frz_plot_colour(5), 3) == 0;
    }
    /* same length, 2 pixels thick; the dashes draw 8 pixels of every 14 */
    ck_assert_int_gt(solid, 2 * 700);
    ck_assert_int_gt(dashed, solid * 8 / 14 - 20);
    ck_assert_int_lt(dashed, solid * 8 / 14 + 20);
    /* a fixed y range: 50 of 0..100 is half-way down the plotting area (rows 20..440), whatever the data */
    frz_plot_curve mid = {{x, y1, 2}, {0, 0, 0}, FRZ_PLOT_LINE};
    y1[0] = y1[1] = 50;
    memcpy(mid.rgb, frz_plot_colour(2), 3);
    frz_plot_render_curves(rgb, &mid, 1, 0, 100);
    int rows[FRZ_PLOT_H] = {0};
    for (int yy = 0; yy < FRZ_PLOT_H; yy++)
        for (int xx = 0; xx < FRZ_PLOT_W; xx++)
            rows[yy] += memcmp(rgb + 3 * ((size_t)yy * FRZ_PLOT_W + (size_t)xx), frz_plot_colour(2), 3) == 0;
    ck_assert_int_gt(rows[230], 600);
    ck_assert_int_eq(rows[100], 0);
    free(rgb);
}
END_TEST

/* ---- the driver -------------------------------------------------------------------------------------------- */

/* demo/run.sh QUICK=1 on the stand-in world (tests/fixtures/demo) and the fixture LM; settings: more VAR=value. */
static int run_demo(const char *out, const char *world_tool, const char *settings)
{
    char cmd[2048];
    snprintf(cmd, sizeof cmd,
             "sh demo/run.sh QUICK=1 OUT=%s SEED=3 THREADS=1 LM=%s BUILD=%s WORLD_TOOL=%s %s >%s.stdout 2>%s.stderr",
             out, LM_DIR, test_build_dir(), world_tool, settings, out, out);
    int st = system(cmd);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

START_TEST(driver_runs_every_stage_and_repeats_itself)
{
    if (access("bin/frozen", X_OK) != 0) {
        fprintf(stderr, "driver test skipped: bin/frozen is not built (make all)\n");
        return;
    }
    const char *dir = make_temp_dir(), *out = path_in(dir, "a"), *again = path_in(dir, "b");
    const char *adam = "LR=3e-3 BETA2=0.98 LR_DECAY=0.5";
    ck_assert_int_eq(run_demo(out, "tests/fixtures/demo/copy_world.sh", adam), 0);
    char *err = read_file_or_fail(path_in(dir, "a.stderr"), NULL);
    ck_assert_ptr_nonnull(strstr(err, "[1/12] generate the world"));
    ck_assert_ptr_nonnull(strstr(err, "[12/12] report"));
    /* the optimiser's settings reach every training run and the recorded settings */
    int n_train = 0;
    for (const char *p = err; (p = strstr(p, " train --lm ")) != NULL; p++) {
        const char *eol = strchr(p, '\n'), *hit = strstr(p, "--lr 3e-3 --beta2 0.98 --lr-decay 0.5 ");
        ck_assert_msg(hit != NULL && (eol == NULL || hit < eol), "a training command without the settings: %.200s", p);
        n_train++;
    }
    ck_assert_int_eq(n_train, 4);
    free(err);
    char *settings = read_file_or_fail(path_in(out, "settings.txt"), NULL);
    ck_assert_ptr_nonnull(strstr(settings, "--lr 3e-3 --beta2 0.98 --lr-decay 0.5 "));
    free(settings);
    char *stdout_text = read_file_or_fail(path_in(dir, "a.stdout"), NULL);
    ck_assert_ptr_nonnull(strstr(stdout_text, "demo: the report is "));
    ck_assert_ptr_nonnull(strstr(stdout_text, "budget"));
    free(stdout_text);
    /* every task has a Frozen number (its cell is not '-'); the text ceiling of VQA is there */
    char *md = read_file_or_fail(path_in(out, "report.md"), NULL);
    const char *rows[] = {"| captioning (held-out combos) | ", "| VQA 4-shot | ", "| binding 2-way, 1 inner-shot | ",
                          "| binding 5-way, 1 inner-shot, task induction | ", "| knowledge (facts only the LM knows) | "};
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        const char *r = strstr(md, rows[i]);
        ck_assert_msg(r != NULL, "no row %s", rows[i]);
        ck_assert_msg(r[strlen(rows[i])] != '-', "no Frozen result in %s", rows[i]);
    }
    ck_assert_ptr_nonnull(strstr(md, "![training loss](plots/loss.png)"));
    free(md);
    frz_image *img = load_png(path_in(path_in(out, "plots"), "loss.png"));
    frz_image_free(img);
    /* the same seed gives the same table */
    ck_assert_int_eq(run_demo(again, "tests/fixtures/demo/copy_world.sh", adam), 0);
    char *t1 = read_file_or_fail(path_in(out, "table.md"), NULL), *t2 = read_file_or_fail(path_in(again, "table.md"), NULL);
    ck_assert_str_eq(t1, t2);
    free(t1);
    free(t2);
    /* a failing stage stops the run with its name and the command */
    ck_assert_int_eq(run_demo(path_in(dir, "c"), "/bin/false", ""), 1);
    err = read_file_or_fail(path_in(dir, "c.stderr"), NULL);
    ck_assert_msg(strstr(err, "demo: FAILED at stage 1/12 (generate the world") != NULL, "%s", err);
    ck_assert_ptr_nonnull(strstr(err, "/bin/false --out"));
    ck_assert_ptr_null(strstr(err, "[2/12]"));
    free(err);
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("demo_report");
    TCase *tc = tcase_create("demo");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, textprobe_scores_the_greedy_answer_with_the_harness_rules);
    tcase_add_test(tc, report_table_holds_the_numbers_and_the_plots_decode);
    tcase_add_test(tc, captions_right_when_shape_and_colour_match);
    tcase_add_test(tc, plot_curves_colours_and_dashes);
    tcase_add_test(tc, driver_runs_every_stage_and_repeats_itself);
    suite_add_tcase(s, tc);
    return s;
}

FRZ_TEST_MAIN(make_suite)
