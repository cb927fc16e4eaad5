/* check_eval_data.c -- the evaluation readers: VQAv2-style questions + annotations + COCO image names,
 * few-shot support sampling, concept-binding episodes in the released layout and in our JSONL; malformed files
 * with messages naming the file, the field and the index. Fixtures: tests/fixtures/eval (make_fixtures.py). */
#include "eval/eval.h"
#include "util/testutil.h"

#include <stdio.h>
#include <string.h>

static frz_vqa_set *load_vqa(const char *q, const char *a, const char *images)
{
    frz_vqa_set *set = NULL;
    frz_status st = frz_vqa_load(fixture_path(q), fixture_path(a), images ? fixture_path(images) : NULL, &set);
    ck_assert_msg(st == FRZ_OK, "%s", frz_last_error());
    return set;
}

static int ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

/* ---- VQA ------------------------------------------------------------------------------------------- */

/* Questions keep the questions file's order; each gets the annotation with its question_id (the annotations
 * file lists them in another order, plus one for a question not asked). */
START_TEST(test_vqa_load_join)
{
    frz_vqa_set *set = load_vqa("eval/vqa/questions.json", "eval/vqa/annotations.json", NULL);
    ck_assert_uint_eq(set->n, 5);
    const frz_vqa_item *it = &set->items[0];
    ck_assert_int_eq(it->question_id, 101);
    ck_assert_int_eq(it->image_id, 1);
    ck_assert_str_eq(it->question, "What color is the bus?");
    ck_assert_uint_eq(it->n_answers, 10);
    ck_assert_str_eq(it->answers[0], "blue");
    ck_assert_str_eq(it->answers[9], "blue and white");
    ck_assert_str_eq(it->mc_answer, "blue");
    ck_assert_str_eq(it->question_type, "what color is the");
    ck_assert_str_eq(it->answer_type, "other");
    ck_assert_int_eq(set->items[2].question_id, 103);
    ck_assert_str_eq(set->items[2].answers[0], "no");
    ck_assert_str_eq(set->items[2].answers[9], "yes");
    ck_assert_str_eq(set->coco_prefix, "COCO_val2014_");
    size_t idx = 99;
    ck_assert_int_eq(frz_vqa_find(set, 104, &idx), FRZ_OK);
    ck_assert_uint_eq(idx, 3);
    ck_assert_int_eq(frz_vqa_find(set, 999, &idx), FRZ_ERR_INVALID_ARG); /* annotated but not asked */
    ASSERT_MSG_HAS("question_id 999");
    frz_vqa_free(set);
}
END_TEST

/* The answer a shot shows: multiple_choice_answer, else the most frequent (question 104 has none: "kite" x5
 * beats "umbrella" x3 and "string" x2). */
START_TEST(test_vqa_shot_answer)
{
    frz_vqa_set *set = load_vqa("eval/vqa/questions.json", "eval/vqa/annotations.json", NULL);
    ck_assert_ptr_null(set->items[3].mc_answer);
    ck_assert_str_eq(frz_vqa_shot_answer(&set->items[3]), "kite");
    ck_assert_str_eq(frz_vqa_shot_answer(&set->items[0]), "blue");
    frz_vqa_free(set);
}
END_TEST

/* Image names are searched in order COCO_<subtype>_%012d.jpg, %012d.jpg, %d.jpg. Image 4 exists both as the
 * COCO name and as 4.jpg: the COCO name wins. Image 5 has no file: the message names the question, the image
 * and every name tried. */
START_TEST(test_vqa_image_paths)
{
    frz_vqa_set *set = load_vqa("eval/vqa/questions.json", "eval/vqa/annotations.json", "eval/vqa/images");
    const char *want[4] = {"/COCO_val2014_000000000001.jpg", "/000000000002.jpg", "/3.jpg",
                           "/COCO_val2014_000000000004.jpg"};
    for (size_t i = 0; i < 4; i++) {
        char *p = NULL;
        ck_assert_int_eq(frz_vqa_image_path(set, i, &p), FRZ_OK);
        ck_assert_msg(ends_with(p, want[i]), "image of question %zu: %s", i, p);
        ck_assert_msg(strncmp(p, fixture_path("eval/vqa/images"), strlen(fixture_path("eval/vqa/images"))) == 0,
                      "%s", p);
        free(p);
    }
    char *p = (char *)1;
    ck_assert_int_eq(frz_vqa_image_path(set, 4, &p), FRZ_ERR_IO);
    ck_assert_ptr_null(p);
    ASSERT_MSG_HAS("question_id 105");
    ASSERT_MSG_HAS("image_id 5");
    ASSERT_MSG_HAS("COCO_val2014_000000000005.jpg, 000000000005.jpg, 5.jpg, 5.png");
    frz_vqa_free(set);

    set = load_vqa("eval/vqa/questions.json", "eval/vqa/annotations.json", NULL);
    ck_assert_int_eq(frz_vqa_image_path(set, 0, &p), FRZ_ERR_INVALID_ARG);
    ASSERT_MSG_HAS("no image folder");
    frz_vqa_free(set);
}
END_TEST

/* The fourth name, <image_id>.png (generated worlds), comes after every .jpg name: image 7 exists only as 7.png,
 * image 8 as 8.jpg and 8.png (the .jpg wins). */
START_TEST(test_vqa_image_png)
{
    const char *dir = make_temp_dir();
    const char *q = path_in(dir, "q.json"), *a = path_in(dir, "a.json");
    const char *qs = "{\"questions\": [{\"image_id\": 7, \"question\": \"What colour?\", \"question_id\": 70},"
                     " {\"image_id\": 8, \"question\": \"Where?\", \"question_id\": 80}]}";
    const char *as = "{\"annotations\": [{\"question_id\": 70, \"answers\": [{\"answer\": \"red\"}]},"
                     " {\"question_id\": 80, \"answers\": [{\"answer\": \"left\"}]}]}";
    FILE *f = fopen(q, "w");
    fputs(qs, f);
    fclose(f);
    f = fopen(a, "w");
    fputs(as, f);
    fclose(f);
    frz_vqa_set *set = NULL;
    ck_assert_int_eq(frz_vqa_load(q, a, dir, &set), FRZ_OK);
    char *p = NULL;
    ck_assert_int_eq(frz_vqa_image_path(set, 0, &p), FRZ_ERR_IO); /* nothing there yet */
    ASSERT_MSG_HAS("7.jpg, 7.png");
    copy_file_or_fail(fixture_path("eval/vqa/images/3.jpg"), path_in(dir, "7.png")); /* only the name matters */
    copy_file_or_fail(fixture_path("eval/vqa/images/3.jpg"), path_in(dir, "8.png"));
    copy_file_or_fail(fixture_path("eval/vqa/images/3.jpg"), path_in(dir, "8.jpg"));
    ck_assert_int_eq(frz_vqa_image_path(set, 0, &p), FRZ_OK);
    ck_assert_str_eq(p, path_in(dir, "7.png"));
    free(p);
    ck_assert_int_eq(frz_vqa_image_path(set, 1, &p), FRZ_OK);
    ck_assert_str_eq(p, path_in(dir, "8.jpg"));
    free(p);
    frz_vqa_free(set);
}
END_TEST

/* Writes a questions and an annotations file into a fresh folder and loads them; returns the status. */
static frz_status load_texts(const char *questions, const char *annotations, char *qpath, char *apath)
{
    const char *dir = make_temp_dir();
    snprintf(qpath, 4096, "%s/q.json", dir);
    snprintf(apath, 4096, "%s/a.json", dir);
    FILE *f = fopen(qpath, "w");
    fputs(questions, f);
    fclose(f);
    f = fopen(apath, "w");
    fputs(annotations, f);
    fclose(f);
    frz_vqa_set *set = NULL;
    frz_status st = frz_vqa_load(qpath, apath, NULL, &set);
    if (st == FRZ_OK) frz_vqa_free(set);
    else ck_assert_ptr_null(set);
    return st;
}

#define Q1 "{\"questions\": [{\"image_id\": 7, \"question\": \"Why?\", \"question_id\": 70}]}"
#define ANS "[{\"answer\": \"x\"}]"

START_TEST(test_vqa_malformed)
{
    char q[4096], a[4096], want[8400];
    /* A question without annotation: named by its id and its place in the questions file. */
    ck_assert_int_eq(load_texts(Q1, "{\"annotations\": [{\"question_id\": 71, \"answers\": " ANS "}]}", q, a),
                     FRZ_ERR_FORMAT);
    snprintf(want, sizeof want, "%s: no annotation for question_id 70 (%s: questions[0])", a, q);
    ASSERT_MSG_HAS(want);

    /* Missing field, wrong type: file, index and field. */
    ck_assert_int_eq(load_texts("{\"questions\": [" "{\"image_id\": 7, \"question\": \"a\", \"question_id\": 70},"
                                "{\"image_id\": 8, \"question_id\": 80}]}", "{\"annotations\": []}", q, a),
                     FRZ_ERR_FORMAT);
    snprintf(want, sizeof want, "%s: questions[1]: field 'question' is missing", q);
    ASSERT_MSG_HAS(want);
    ck_assert_int_eq(load_texts("{\"questions\": [{\"image_id\": 7, \"question\": \"a\", \"question_id\": \"70\"}]}",
                                "{\"annotations\": []}", q, a), FRZ_ERR_FORMAT);
    snprintf(want, sizeof want, "%s: questions[0]: field 'question_id' must be an integer", q);
    ASSERT_MSG_HAS(want);

    /* A bad answer deep in the annotations. */
    ck_assert_int_eq(load_texts(Q1, "{\"annotations\": [{\"question_id\": 70, \"answers\": "
                                    "[{\"answer\": \"a\"}, {\"answer\": \"b\"}, {\"answer\": 5}]}]}", q, a),
                     FRZ_ERR_FORMAT);
    snprintf(want, sizeof want, "%s: annotations[0].answers[2]: field 'answer' must be a string", a);
    ASSERT_MSG_HAS(want);
    ck_assert_int_eq(load_texts(Q1, "{\"annotations\": [{\"question_id\": 70, \"answers\": []}]}", q, a),
                     FRZ_ERR_FORMAT);
    snprintf(want, sizeof want, "%s: annotations[0]: field 'answers' must be a non-empty array", a);
    ASSERT_MSG_HAS(want);

    /* Duplicates and inconsistencies. */
    ck_assert_int_eq(load_texts("{\"questions\": [{\"image_id\": 7, \"question\": \"a\", \"question_id\": 70},"
                                "{\"image_id\": 7, \"question\": \"b\", \"question_id\": 70}]}",
                                "{\"annotations\": []}", q, a), FRZ_ERR_FORMAT);
    ASSERT_MSG_HAS("questions[0] and questions[1] have the same question_id 70");
    ck_assert_int_eq(load_texts(Q1, "{\"annotations\": [{\"question_id\": 70, \"image_id\": 8, \"answers\": " ANS
                                    "}]}", q, a), FRZ_ERR_FORMAT);
    snprintf(want, sizeof want, "%s: annotations[0]: image_id 8 differs from the question's image_id 7", a);
    ASSERT_MSG_HAS(want);

    /* Wrong shape, syntax error. */
    ck_assert_int_eq(load_texts("[1, 2]", "{\"annotations\": []}", q, a), FRZ_ERR_FORMAT);
    ASSERT_MSG_HAS("expected a JSON object with a 'questions' array");
    ck_assert_int_eq(load_texts(Q1, "{\"annotations\": [}", q, a), FRZ_ERR_FORMAT);
    snprintf(want, sizeof want, "%s: line 1 column 18", a);
    ASSERT_MSG_HAS(want);
}
END_TEST

START_TEST(test_vqa_missing_file)
{
    frz_vqa_set *set = (frz_vqa_set *)1;
    ck_assert_int_eq(frz_vqa_load(fixture_path("eval/vqa/questions.json"), fixture_path("eval/vqa/none.json"), NULL,
                                  &set), FRZ_ERR_IO);
    ck_assert_ptr_null(set);
    ASSERT_MSG_HAS("eval/vqa/none.json: cannot open");
}
END_TEST

/* Every allocation of a load can fail; the load then reports FRZ_ERR_NOMEM and leaks nothing (ASan). */
START_TEST(test_vqa_alloc_failures)
{
    int failures = 0;
    for (long k = 1; k < 5000; k++) {
        frz_vqa_set *set = NULL;
        frz_test_fail_alloc_at(k);
        frz_status st = frz_vqa_load(fixture_path("eval/vqa/questions.json"), fixture_path("eval/vqa/annotations.json"),
                                     fixture_path("eval/vqa/images"), &set);
        frz_test_fail_alloc_at(0);
        if (st == FRZ_OK) {
            frz_vqa_free(set);
            break;
        }
        ck_assert_int_eq(st, FRZ_ERR_NOMEM);
        failures++;
    }
    ck_assert_int_gt(failures, 50);
}
END_TEST

/* ---- shot sampling ----------------------------------------------------------------------------------- */

/* Same seed, same shots; the 1-shot draw is the first shot of the 4-shot draw; all distinct; another seed
 * gives another draw for at least one of a few seeds. */
START_TEST(test_shots_reproducible)
{
    frz_vqa_set *q = load_vqa("eval/vqa/questions.json", "eval/vqa/annotations.json", NULL);
    frz_vqa_set *s = load_vqa("eval/vqa/support_questions.json", "eval/vqa/support_annotations.json", NULL);
    int differs = 0;
    for (uint64_t seed = 0; seed < 20; seed++) {
        size_t a[4], b[4], one[1];
        ck_assert_int_eq(frz_vqa_sample_shots(s, &q->items[0], seed, 4, 0, a), FRZ_OK);
        ck_assert_int_eq(frz_vqa_sample_shots(s, &q->items[0], seed, 4, 0, b), FRZ_OK);
        ck_assert_int_eq(memcmp(a, b, sizeof a), 0);
        ck_assert_int_eq(frz_vqa_sample_shots(s, &q->items[0], seed, 1, 0, one), FRZ_OK);
        ck_assert_uint_eq(one[0], a[0]);
        for (int i = 0; i < 4; i++) {
            ck_assert_uint_lt(a[i], s->n);
            for (int j = 0; j < i; j++) ck_assert_uint_ne(a[i], a[j]);
        }
        size_t c[4];
        ck_assert_int_eq(frz_vqa_sample_shots(s, &q->items[0], seed + 1000, 4, 0, c), FRZ_OK);
        differs |= memcmp(a, c, sizeof a) != 0;
    }
    ck_assert(differs);
    /* Another query, same seed: its own draw (for some seed). */
    int other = 0;
    for (uint64_t seed = 0; seed < 20; seed++) {
        size_t a[3], b[3];
        frz_vqa_sample_shots(s, &q->items[0], seed, 3, 0, a);
        frz_vqa_sample_shots(s, &q->items[1], seed, 3, 0, b);
        other |= memcmp(a, b, sizeof a) != 0;
    }
    ck_assert(other);
    frz_vqa_free(q);
    frz_vqa_free(s);
}
END_TEST

/* Drawing from the query's own split never returns the query: with 5 items, 4 shots are exactly the 4 others,
 * 5 shots cannot be drawn. */
START_TEST(test_shots_never_the_query)
{
    frz_vqa_set *q = load_vqa("eval/vqa/questions.json", "eval/vqa/annotations.json", NULL);
    for (size_t i = 0; i < q->n; i++)
        for (uint64_t seed = 0; seed < 50; seed++) {
            size_t idx[4];
            ck_assert_int_eq(frz_vqa_sample_shots(q, &q->items[i], seed, 4, 0, idx), FRZ_OK);
            int seen[5] = {0};
            for (int k = 0; k < 4; k++) {
                ck_assert_uint_ne(idx[k], i);
                seen[idx[k]]++;
            }
            for (size_t k = 0; k < 5; k++) ck_assert_int_eq(seen[k], k == i ? 0 : 1);
        }
    size_t idx[5];
    ck_assert_int_eq(frz_vqa_sample_shots(q, &q->items[2], 1, 5, 0, idx), FRZ_ERR_INVALID_ARG);
    ASSERT_MSG_HAS("cannot draw 5 shots for question_id 103: only 4 support items are eligible");
    frz_vqa_free(q);
}
END_TEST

/* With FRZ_VQA_SHOTS_OTHER_IMAGES, items showing the query's image are excluded too: the support split has
 * questions 201 and 205 on image 11, so for query 201 only 202, 203, 204, 206 remain. */
START_TEST(test_shots_other_images)
{
    frz_vqa_set *s = load_vqa("eval/vqa/support_questions.json", "eval/vqa/support_annotations.json", NULL);
    const frz_vqa_item *query = &s->items[0];
    ck_assert_int_eq(query->question_id, 201);
    for (uint64_t seed = 0; seed < 30; seed++) {
        size_t idx[4];
        ck_assert_int_eq(frz_vqa_sample_shots(s, query, seed, 4, FRZ_VQA_SHOTS_OTHER_IMAGES, idx), FRZ_OK);
        for (int k = 0; k < 4; k++) ck_assert_int_ne(s->items[idx[k]].image_id, 11);
    }
    size_t idx[5];
    ck_assert_int_eq(frz_vqa_sample_shots(s, query, 3, 5, FRZ_VQA_SHOTS_OTHER_IMAGES, idx), FRZ_ERR_INVALID_ARG);
    ck_assert_int_eq(frz_vqa_sample_shots(s, query, 3, 5, 0, idx), FRZ_OK); /* 205 shares the image: allowed */
    frz_vqa_free(s);
}
END_TEST

/* Uniform over the eligible items: 6000 one-shot draws over 6 support items give each about 1000 (a binomial
 * with sd 29; 850..1150 is more than 5 sd). */
START_TEST(test_shots_uniform)
{
    frz_vqa_set *q = load_vqa("eval/vqa/questions.json", "eval/vqa/annotations.json", NULL);
    frz_vqa_set *s = load_vqa("eval/vqa/support_questions.json", "eval/vqa/support_annotations.json", NULL);
    int count[6] = {0};
    for (uint64_t seed = 0; seed < 6000; seed++) {
        size_t one;
        ck_assert_int_eq(frz_vqa_sample_shots(s, &q->items[seed % 5], seed, 1, 0, &one), FRZ_OK);
        count[one]++;
    }
    for (int i = 0; i < 6; i++) ck_assert_msg(count[i] > 850 && count[i] < 1150, "item %d drawn %d times", i, count[i]);
    frz_vqa_free(q);
    frz_vqa_free(s);
}
END_TEST

/* ---- concept binding: our JSONL ---------------------------------------------------------------------- */

START_TEST(test_bind_jsonl)
{
    frz_bind_set *set = NULL;
    ck_assert_int_eq(frz_bind_load(fixture_path("eval/episodes/episodes.jsonl"), &set), FRZ_OK);
    ck_assert_uint_eq(set->n, 3);
    const frz_bind_episode *e = &set->episodes[0];
    ck_assert_str_eq(e->id, "ep1");
    ck_assert_int_eq(e->ways, 2);
    ck_assert_int_eq(e->inner_shots, 1);
    ck_assert_int_eq(e->repeats, 0);
    ck_assert_int_eq(e->task_induction, 1);
    ck_assert_uint_eq(e->n_names, 2);
    ck_assert_str_eq(e->names[0], "dax");
    ck_assert_str_eq(e->names[1], "blicket");
    ck_assert_uint_eq(e->n_support, 2);
    ck_assert_str_eq(e->support[0].image, fixture_path("eval/episodes/img/dax1.jpg"));
    ck_assert_str_eq(e->support[1].name, "blicket");
    ck_assert_ptr_null(e->support[0].caption);
    ck_assert_str_eq(e->query_image, fixture_path("eval/episodes/img/query1.jpg"));
    ck_assert_str_eq(e->answer, "dax");
    ck_assert_ptr_null(e->question);

    e = &set->episodes[1]; /* after a blank line */
    ck_assert_str_eq(e->id, "ep2");
    ck_assert_int_eq(e->inner_shots, 2);
    ck_assert_int_eq(e->repeats, 1);
    ck_assert_int_eq(e->task_induction, 0);
    ck_assert_str_eq(e->names[0], "blicket");
    ck_assert_uint_eq(e->n_support, 4);

    e = &set->episodes[2]; /* Fast-VQA: names, ways and inner_shots from the support */
    ck_assert_str_eq(e->id, "fastvqa1");
    ck_assert_int_eq(e->ways, 2);
    ck_assert_int_eq(e->inner_shots, 1);
    ck_assert_str_eq(e->names[0], "dax");
    ck_assert_str_eq(e->names[1], "blicket");
    ck_assert_str_eq(e->question, "What color is the dax?");
    ck_assert_str_eq(e->answer, "red");
    frz_bind_free(set);
}
END_TEST

/* A temporary folder holding img/a.jpg and img/b.jpg (copies of fixture images) and eps.jsonl = text. */
static const char *jsonl_in_temp(const char *text)
{
    const char *dir = make_temp_dir();
    static char path[4200];
    char img[4200];
    snprintf(img, sizeof img, "mkdir -p '%s/img'", dir);
    ck_assert_int_eq(system(img), 0);
    snprintf(img, sizeof img, "%s/img/a.jpg", dir);
    copy_file_or_fail(fixture_path("eval/episodes/img/dax1.jpg"), img);
    snprintf(img, sizeof img, "%s/img/b.jpg", dir);
    copy_file_or_fail(fixture_path("eval/episodes/img/blicket1.jpg"), img);
    snprintf(path, sizeof path, "%s/eps.jsonl", dir);
    FILE *f = fopen(path, "w");
    fputs(text, f);
    fclose(f);
    return path;
}

static void expect_jsonl_error(const char *text, frz_status code, const char *part)
{
    const char *path = jsonl_in_temp(text);
    frz_bind_set *set = (frz_bind_set *)1;
    ck_assert_int_eq(frz_bind_load_jsonl(path, &set), code);
    ck_assert_ptr_null(set);
    char want[4400];
    snprintf(want, sizeof want, "%s: %s", path, part);
    ASSERT_MSG_HAS(want);
}

#define SUP "\"support\": [{\"image\": \"img/a.jpg\", \"name\": \"dax\"}, {\"image\": \"img/b.jpg\", \"name\": \"blicket\"}]"
#define QRY "\"query\": {\"image\": \"img/a.jpg\", \"answer\": \"dax\"}"

START_TEST(test_bind_jsonl_malformed)
{
    /* The same text with valid content loads (so each failure below is the one change). */
    const char *ok = jsonl_in_temp("{\"id\": \"a\", " SUP ", " QRY "}\n");
    frz_bind_set *set = NULL;
    ck_assert_int_eq(frz_bind_load_jsonl(ok, &set), FRZ_OK);
    frz_bind_free(set);

    expect_jsonl_error("{\"id\": \"a\", " SUP ", " QRY "}\n{\"id\": \"b\",, }\n", FRZ_ERR_FORMAT, "line 2 column 12");
    expect_jsonl_error("{\"id\": \"a\", \"support\": [{\"image\": \"img/a.jpg\", \"name\": \"dax\"}, {\"image\": "
                       "\"img/b.jpg\"}], " QRY "}\n", FRZ_ERR_FORMAT, "line 1: support[1]: field 'name' is missing");
    expect_jsonl_error("{\"id\": \"a\", \"support\": [{\"image\": \"img/nope.jpg\", \"name\": \"dax\"}], " QRY "}\n",
                       FRZ_ERR_IO, "line 1: support[0]: image: image '");
    expect_jsonl_error("{\"id\": \"a\", \"names\": [\"dax\", \"wug\"], " SUP ", " QRY "}\n", FRZ_ERR_FORMAT,
                       "line 1: support[1].name 'blicket' is not in names");
    expect_jsonl_error("{\"id\": \"a\", \"ways\": 3, " SUP ", " QRY "}\n", FRZ_ERR_FORMAT,
                       "line 1: ways is 3 but the episode has 2 names");
    expect_jsonl_error("{\"id\": \"a\", \"inner_shots\": 2, " SUP ", " QRY "}\n", FRZ_ERR_FORMAT,
                       "line 1: 2 support images, but ways 2 x inner_shots 2 = 4");
    expect_jsonl_error("{\"id\": \"a\", " SUP ", \"query\": {\"image\": \"img/a.jpg\", \"answer\": \"wug\"}}\n",
                       FRZ_ERR_FORMAT, "line 1: query: answer 'wug' is not one of the episode's names");
    expect_jsonl_error("{\"id\": \"a\", " SUP ", \"query\": {\"image\": \"img/a.jpg\"}}\n", FRZ_ERR_FORMAT,
                       "line 1: query: field 'answer' is missing");
    expect_jsonl_error("{\"id\": \"a\", \"task_induction\": \"yes\", " SUP ", " QRY "}\n", FRZ_ERR_FORMAT,
                       "line 1: field 'task_induction' must be true or false");
    expect_jsonl_error("{\"id\": \"a\", \"repeats\": -1, " SUP ", " QRY "}\n", FRZ_ERR_FORMAT,
                       "line 1: field 'repeats' must be an integer in [0, 1000000], got -1");
    expect_jsonl_error("{\"id\": \"a\", " SUP ", " QRY "}\n\n{\"id\": \"a\", " SUP ", " QRY "}\n", FRZ_ERR_FORMAT,
                       "episodes 1 and 2 have the same id 'a'");
    expect_jsonl_error("\n  \n", FRZ_ERR_FORMAT, "no episodes");
    expect_jsonl_error("[1]\n", FRZ_ERR_FORMAT, "line 1: an episode must be a JSON object");
}
END_TEST

/* ---- concept binding: the released layout ------------------------------------------------------------ */

START_TEST(test_bind_released)
{
    frz_bind_set *set = NULL;
    /* The folder: its one *_all_questions.json is found. */
    ck_assert_int_eq(frz_bind_load(fixture_path("eval/open_ended_mi"), &set), FRZ_OK);
    ck_assert_uint_eq(set->n, 2);
    const frz_bind_episode *e = &set->episodes[0];
    ck_assert_str_eq(e->id, "1");
    ck_assert_int_eq(e->ways, 2);
    ck_assert_int_eq(e->inner_shots, 1);
    ck_assert_int_eq(e->repeats, 0);
    ck_assert_int_eq(e->task_induction, 0);
    ck_assert_uint_eq(e->n_support, 2);
    ck_assert_str_eq(e->support[0].image,
                     fixture_path("eval/open_ended_mi/open_ended_mi_shots_1_ways_2_id_1_image_1.jpg"));
    ck_assert_str_eq(e->support[0].caption, "This is a dax.");
    ck_assert_str_eq(e->support[0].name, "dax"); /* read from the caption */
    ck_assert_str_eq(e->support[1].name, "blicket");
    ck_assert_uint_eq(e->n_names, 2);
    ck_assert_str_eq(e->names[0], "dax");
    ck_assert_str_eq(e->query_image, fixture_path("eval/open_ended_mi/open_ended_mi_shots_1_ways_2_id_1_question.jpg"));
    ck_assert_str_eq(e->question, "What is this?");
    ck_assert_str_eq(e->answer, "dax");

    /* Question 2 names no files: the release's naming convention gives them. */
    e = &set->episodes[1];
    ck_assert_str_eq(e->id, "2");
    ck_assert_str_eq(e->support[1].image,
                     fixture_path("eval/open_ended_mi/open_ended_mi_shots_1_ways_2_id_2_image_2.jpg"));
    ck_assert_str_eq(e->query_image, fixture_path("eval/open_ended_mi/open_ended_mi_shots_1_ways_2_id_2_question.jpg"));
    ck_assert_str_eq(e->names[0], "blicket");
    frz_bind_free(set);
}
END_TEST

/* A released-layout JSON in a temp folder holding the fixture's images under the file names it uses. */
static const char *released_in_temp(const char *text)
{
    const char *dir = make_temp_dir();
    static char path[4200];
    char to[4200];
    const char *p = "open_ended_mi_shots_1_ways_2_id_1_";
    const char *files[] = {"image_1.jpg", "image_2.jpg", "question.jpg"};
    for (int i = 0; i < 3; i++) {
        char from[512];
        snprintf(from, sizeof from, "eval/open_ended_mi/%s%s", p, files[i]);
        snprintf(to, sizeof to, "%s/t_shots_1_ways_2_id_1_%s", dir, files[i]);
        copy_file_or_fail(fixture_path(from), to);
    }
    snprintf(path, sizeof path, "%s/t_shots_1_ways_2_all_questions.json", dir);
    FILE *f = fopen(path, "w");
    fputs(text, f);
    fclose(f);
    return path;
}

static void expect_released_error(const char *text, frz_status code, const char *part)
{
    const char *path = released_in_temp(text);
    frz_bind_set *set = (frz_bind_set *)1;
    ck_assert_int_eq(frz_bind_load_released(path, &set), code);
    ck_assert_ptr_null(set);
    char want[4400];
    snprintf(want, sizeof want, "%s: %s", path, part);
    ASSERT_MSG_HAS(want);
}

START_TEST(test_bind_released_tolerant)
{
    /* Alternative field names: "id", "query_image", bare-word captions (taken as names), "answers" as a list,
     * the list under "questions". */
    const char *path = released_in_temp(
        "{\"questions\": [{\"id\": \"q7\", \"image_1\": \"t_shots_1_ways_2_id_1_image_1.jpg\", \"caption_1\": \"dax\","
        " \"image_2\": \"t_shots_1_ways_2_id_1_image_2.jpg\", \"caption_2\": \"blicket\","
        " \"query_image\": \"t_shots_1_ways_2_id_1_question.jpg\", \"answers\": [\"blicket\"]}]}");
    frz_bind_set *set = NULL;
    ck_assert_msg(frz_bind_load_released(path, &set) == FRZ_OK, "%s", frz_last_error());
    const frz_bind_episode *e = &set->episodes[0];
    ck_assert_str_eq(e->id, "q7");
    ck_assert_str_eq(e->support[0].name, "dax");
    ck_assert_ptr_null(e->support[0].caption);
    ck_assert_str_eq(e->answer, "blicket");
    ck_assert_ptr_null(e->question);
    frz_bind_free(set);

    /* A caption of another form is kept for the prompt, with no name; an answer in the caption's form is the
     * name it contains. */
    path = released_in_temp("[{\"question_id\": 1, \"caption_1\": \"Look, a dax!\", \"caption_2\": \"This is an "
                            "apple.\", \"answer\": \"This is a dax.\"}]");
    ck_assert_int_eq(frz_bind_load_released(path, &set), FRZ_OK);
    e = &set->episodes[0];
    ck_assert_ptr_null(e->support[0].name);
    ck_assert_str_eq(e->support[0].caption, "Look, a dax!");
    ck_assert_str_eq(e->support[1].name, "apple");
    ck_assert_uint_eq(e->n_names, 1);
    ck_assert_str_eq(e->answer, "dax");
    frz_bind_free(set);
}
END_TEST

START_TEST(test_bind_released_malformed)
{
    expect_released_error("[{\"question_id\": 1, \"caption_1\": \"This is a dax.\", \"caption_2\": \"This is a "
                          "blicket.\"}]", FRZ_ERR_FORMAT,
                          "question 1 (id 1): no answer (looked for 'answer', 'answers', 'label', 'target')");
    expect_released_error("[{\"question_id\": 1, \"answer\": \"dax\"}]", FRZ_ERR_FORMAT,
                          "question 1 (id 1): no support images (looked for 'image_1', 'caption_1', ...)");
    expect_released_error("[{\"question_id\": 1, \"caption_1\": \"This is a dax.\", \"image_2\": "
                          "\"t_shots_1_ways_2_id_1_image_2.jpg\", \"answer\": \"dax\"}]", FRZ_ERR_FORMAT,
                          "question 1 (id 1): support image 2 has no text (looked for 'caption_2', 'name_2', 'label_2')");
    expect_released_error("[{\"question_id\": 2, \"caption_1\": \"This is a dax.\", \"answer\": \"dax\"}]", FRZ_ERR_IO,
                          "question 1 (id 2): image_1: image '");
    expect_released_error("[{\"question_id\": 1, \"caption_1\": \"This is a dax.\", \"answer\": 3}]", FRZ_ERR_FORMAT,
                          "question 1 (id 1): field 'answer' must be a string");
    expect_released_error("[]", FRZ_ERR_FORMAT, "expected a non-empty list of question objects");
    expect_released_error("[{\"question_id\": 1, \"caption_1\": \"dax\", \"answer\": \"dax\"},"
                          " {\"question_id\": 1, \"caption_1\": \"dax\", \"answer\": \"dax\"}]", FRZ_ERR_FORMAT,
                          "episodes 1 and 2 have the same id '1'");
}
END_TEST

/* A folder with several *_all_questions.json files: the caller must name one. */
START_TEST(test_bind_folder_ambiguous)
{
    const char *dir = make_temp_dir();
    char p[4200];
    snprintf(p, sizeof p, "%s/a_shots_1_ways_2_all_questions.json", dir);
    copy_file_or_fail(fixture_path("eval/open_ended_mi/open_ended_mi_shots_1_ways_2_all_questions.json"), p);
    snprintf(p, sizeof p, "%s/a_shots_3_ways_2_all_questions.json", dir);
    copy_file_or_fail(fixture_path("eval/open_ended_mi/open_ended_mi_shots_1_ways_2_all_questions.json"), p);
    frz_bind_set *set = NULL;
    ck_assert_int_eq(frz_bind_load(dir, &set), FRZ_ERR_INVALID_ARG);
    ASSERT_MSG_HAS("2 *_all_questions.json files");
    ck_assert_int_eq(frz_bind_load(make_temp_dir(), &set), FRZ_ERR_IO);
    ASSERT_MSG_HAS("no *_all_questions.json");
}
END_TEST

START_TEST(test_bind_alloc_failures)
{
    const char *paths[2] = {fixture_path("eval/episodes/episodes.jsonl"), fixture_path("eval/open_ended_mi")};
    for (int p = 0; p < 2; p++) {
        int failures = 0;
        for (long k = 1; k < 5000; k++) {
            frz_bind_set *set = NULL;
            frz_test_fail_alloc_at(k);
            frz_status st = frz_bind_load(paths[p], &set);
            frz_test_fail_alloc_at(0);
            if (st == FRZ_OK) {
                frz_bind_free(set);
                break;
            }
            ck_assert_msg(st == FRZ_ERR_NOMEM, "%s", frz_last_error());
            failures++;
        }
        ck_assert_int_gt(failures, 20);
    }
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("eval_data");
    TCase *vqa = tcase_create("vqa");
    tcase_add_test(vqa, test_vqa_load_join);
    tcase_add_test(vqa, test_vqa_shot_answer);
    tcase_add_test(vqa, test_vqa_image_paths);
    tcase_add_test(vqa, test_vqa_image_png);
    tcase_add_test(vqa, test_vqa_malformed);
    tcase_add_test(vqa, test_vqa_missing_file);
    tcase_add_test(vqa, test_vqa_alloc_failures);
    suite_add_tcase(s, vqa);
    TCase *shots = tcase_create("shots");
    tcase_add_test(shots, test_shots_reproducible);
    tcase_add_test(shots, test_shots_never_the_query);
    tcase_add_test(shots, test_shots_other_images);
    tcase_add_test(shots, test_shots_uniform);
    suite_add_tcase(s, shots);
    TCase *bind = tcase_create("binding");
    tcase_add_test(bind, test_bind_jsonl);
    tcase_add_test(bind, test_bind_jsonl_malformed);
    tcase_add_test(bind, test_bind_released);
    tcase_add_test(bind, test_bind_released_tolerant);
    tcase_add_test(bind, test_bind_released_malformed);
    tcase_add_test(bind, test_bind_folder_ambiguous);
    tcase_add_test(bind, test_bind_alloc_failures);
    suite_add_tcase(s, bind);
    return s;
}

FRZ_TEST_MAIN(make_suite)
