/* check_eval_prompt.c -- prompt segments for concept binding and VQA n-shot, and the scoring rules. The
 * expected texts are the paper's prompt ("Answer with dax or blicket." / "This is a dax." /
 * "Question: What is this? Answer:"), written out here by hand. */
#include "eval/eval.h"
#include "util/testutil.h"

#include <stdio.h>
#include <string.h>

static void assert_text(const frz_eval_prompt *p, size_t i, const char *want)
{
    ck_assert_uint_lt(i, p->n);
    ck_assert_int_eq(p->segs[i].kind, FRZ_EVAL_SEG_TEXT);
    ck_assert_ptr_null(p->segs[i].image_path);
    ck_assert_msg(strcmp(p->segs[i].text, want) == 0, "segment %zu: \"%s\", want \"%s\"", i, p->segs[i].text, want);
}

static void assert_image(const frz_eval_prompt *p, size_t i, const char *want)
{
    ck_assert_uint_lt(i, p->n);
    ck_assert_int_eq(p->segs[i].kind, FRZ_EVAL_SEG_IMAGE);
    ck_assert_ptr_null(p->segs[i].text);
    ck_assert_msg(strcmp(p->segs[i].image_path, want) == 0, "segment %zu: %s, want %s", i, p->segs[i].image_path, want);
}

static frz_bind_set *episodes(void)
{
    frz_bind_set *set = NULL;
    ck_assert_int_eq(frz_bind_load(fixture_path("eval/episodes/episodes.jsonl"), &set), FRZ_OK);
    return set;
}

static char *render(const frz_eval_prompt *p)
{
    char *s = NULL;
    ck_assert_int_eq(frz_eval_prompt_render(p, "<image>", &s), FRZ_OK);
    return s;
}

/* 2-way 1-shot, no task induction: image, "This is a dax.", image, "This is a blicket.", query image,
 * "Question: What is this? Answer:". */
START_TEST(test_bind_two_way_plain)
{
    frz_bind_set *set = episodes();
    frz_bind_prompt_settings s;
    frz_bind_prompt_settings_init(&s);
    s.task_induction = 0; /* the episode asks for it; the setting overrides */
    frz_eval_prompt p = {0};
    ck_assert_int_eq(frz_bind_build_prompt(&set->episodes[0], &s, &p), FRZ_OK);
    ck_assert_uint_eq(p.n, 6);
    assert_image(&p, 0, fixture_path("eval/episodes/img/dax1.jpg"));
    assert_text(&p, 1, "This is a dax.");
    assert_image(&p, 2, fixture_path("eval/episodes/img/blicket1.jpg"));
    assert_text(&p, 3, "This is a blicket.");
    assert_image(&p, 4, fixture_path("eval/episodes/img/query1.jpg"));
    assert_text(&p, 5, "Question: What is this? Answer:");
    char *text = render(&p);
    ck_assert_str_eq(text, "<image>This is a dax.<image>This is a blicket.<image>Question: What is this? Answer:");
    free(text);
    frz_eval_prompt_clear(&p);
    ck_assert_uint_eq(p.n, 0);
    frz_bind_free(set);
}
END_TEST

/* The same episode with task induction (its own flag): "Answer with dax or blicket." leads. */
START_TEST(test_bind_two_way_induction)
{
    frz_bind_set *set = episodes();
    frz_bind_prompt_settings s;
    frz_bind_prompt_settings_init(&s);
    frz_eval_prompt p = {0};
    ck_assert_int_eq(frz_bind_build_prompt(&set->episodes[0], &s, &p), FRZ_OK);
    ck_assert_uint_eq(p.n, 7);
    assert_text(&p, 0, "Answer with dax or blicket.");
    assert_image(&p, 1, fixture_path("eval/episodes/img/dax1.jpg"));
    assert_text(&p, 2, "This is a dax.");
    char *text = render(&p);
    ck_assert_str_eq(text, "Answer with dax or blicket.<image>This is a dax.<image>This is a blicket.<image>"
                           "Question: What is this? Answer:");
    free(text);
    frz_eval_prompt_clear(&p);
    frz_bind_free(set);
}
END_TEST

/* Repeats present the whole support again: ep2 (2-way 2 inner-shots, repeats 1) has 4 (image, caption) pairs
 * twice, then the query: 18 segments; the second presentation starts at segment 8 with the first image again.
 * A setting of 0 repeats overrides: 10 segments. */
START_TEST(test_bind_repeats)
{
    frz_bind_set *set = episodes();
    frz_bind_prompt_settings s;
    frz_bind_prompt_settings_init(&s);
    frz_eval_prompt p = {0};
    ck_assert_int_eq(frz_bind_build_prompt(&set->episodes[1], &s, &p), FRZ_OK);
    ck_assert_uint_eq(p.n, 18);
    const char *img[4] = {"blicket1", "dax1", "dax2", "blicket2"};
    const char *cap[4] = {"This is a blicket.", "This is a dax.", "This is a dax.", "This is a blicket."};
    for (size_t r = 0; r < 2; r++)
        for (size_t i = 0; i < 4; i++) {
            char rel[64];
            snprintf(rel, sizeof rel, "eval/episodes/img/%s.jpg", img[i]);
            assert_image(&p, r * 8 + 2 * i, fixture_path(rel));
            assert_text(&p, r * 8 + 2 * i + 1, cap[i]);
        }
    assert_image(&p, 16, fixture_path("eval/episodes/img/query2.jpg"));
    assert_text(&p, 17, "Question: What is this? Answer:");
    s.repeats = 0;
    ck_assert_int_eq(frz_bind_build_prompt(&set->episodes[1], &s, &p), FRZ_OK);
    ck_assert_uint_eq(p.n, 10);
    frz_eval_prompt_clear(&p);
    frz_bind_free(set);
}
END_TEST

/* Fast-VQA: the query text carries the episode's question. */
START_TEST(test_bind_fast_vqa)
{
    frz_bind_set *set = episodes();
    frz_bind_prompt_settings s;
    frz_bind_prompt_settings_init(&s);
    frz_eval_prompt p = {0};
    ck_assert_int_eq(frz_bind_build_prompt(&set->episodes[2], &s, &p), FRZ_OK);
    ck_assert_uint_eq(p.n, 6);
    assert_text(&p, 5, "Question: What color is the dax? Answer:");
    frz_eval_prompt_clear(&p);
    frz_bind_free(set);
}
END_TEST

/* Released data: its captions are used as given; names read from them drive the task induction. */
START_TEST(test_bind_released_prompt)
{
    frz_bind_set *set = NULL;
    ck_assert_int_eq(frz_bind_load(fixture_path("eval/open_ended_mi"), &set), FRZ_OK);
    frz_bind_prompt_settings s;
    frz_bind_prompt_settings_init(&s);
    s.task_induction = 1;
    frz_eval_prompt p = {0};
    ck_assert_int_eq(frz_bind_build_prompt(&set->episodes[1], &s, &p), FRZ_OK);
    char *text = render(&p);
    ck_assert_str_eq(text, "Answer with blicket or dax.<image>This is a blicket.<image>This is a dax.<image>"
                           "Question: What is this? Answer:");
    free(text);
    frz_eval_prompt_clear(&p);
    frz_bind_free(set);
}
END_TEST

/* A hand-made episode: 5 names ("a, b, c, d or e"), a question already framed by the data, a caption-only
 * shot (no task induction possible), templates with literal braces and an unknown placeholder. */
START_TEST(test_bind_templates_and_names)
{
    char *names[5] = {"dax", "blicket", "shously", "slation", "perpo"};
    frz_bind_shot shots[5];
    for (int i = 0; i < 5; i++) shots[i] = (frz_bind_shot){"img.jpg", names[i], NULL};
    frz_bind_episode ep = {0};
    ep.id = "hand";
    ep.ways = 5;
    ep.inner_shots = 1;
    ep.task_induction = 1;
    ep.names = names;
    ep.n_names = 5;
    ep.support = shots;
    ep.n_support = 5;
    ep.query_image = "q.jpg";
    ep.question = "Question: What is this? Answer:";
    ep.answer = "perpo";
    frz_bind_prompt_settings s;
    frz_bind_prompt_settings_init(&s);
    frz_eval_prompt p = {0};
    ck_assert_int_eq(frz_bind_build_prompt(&ep, &s, &p), FRZ_OK);
    assert_text(&p, 0, "Answer with dax, blicket, shously, slation or perpo.");
    assert_text(&p, p.n - 1, "Question: What is this? Answer:"); /* not wrapped twice */

    s.caption_template = "{{{name}}} is here";
    ck_assert_int_eq(frz_bind_build_prompt(&ep, &s, &p), FRZ_OK);
    assert_text(&p, 2, "{dax} is here");

    s.caption_template = "This is a {nme}.";
    ck_assert_int_eq(frz_bind_build_prompt(&ep, &s, &p), FRZ_ERR_INVALID_ARG);
    ck_assert_uint_eq(p.n, 0); /* cleared on failure */
    ASSERT_MSG_HAS("caption template \"This is a {nme}.\": unknown placeholder at \"{nme}.\"");

    frz_bind_prompt_settings_init(&s);
    shots[3] = (frz_bind_shot){"img.jpg", NULL, "Look, a slation!"};
    ck_assert_int_eq(frz_bind_build_prompt(&ep, &s, &p), FRZ_ERR_INVALID_ARG);
    ASSERT_MSG_HAS("episode hand: task induction needs every support image's name; support[3]");
    s.task_induction = 0;
    ck_assert_int_eq(frz_bind_build_prompt(&ep, &s, &p), FRZ_OK);
    assert_text(&p, 7, "Look, a slation!");
    frz_eval_prompt_clear(&p);
}
END_TEST

/* VQA 2-shot: per shot its image and "Question: ... Answer: <answer>", then the query's image and
 * "Question: ... Answer:". Shots from the train-like split (COCO_train2014 names), the query from val. */
START_TEST(test_vqa_prompt)
{
    frz_vqa_set *q = NULL, *s = NULL;
    ck_assert_int_eq(frz_vqa_load(fixture_path("eval/vqa/questions.json"), fixture_path("eval/vqa/annotations.json"),
                                  fixture_path("eval/vqa/images"), &q), FRZ_OK);
    ck_assert_int_eq(frz_vqa_load(fixture_path("eval/vqa/support_questions.json"),
                                  fixture_path("eval/vqa/support_annotations.json"), fixture_path("eval/vqa/images"),
                                  &s), FRZ_OK);
    frz_vqa_prompt_settings ps;
    frz_vqa_prompt_settings_init(&ps);
    frz_eval_prompt p = {0};
    size_t shots[2] = {1, 3};
    ck_assert_int_eq(frz_vqa_build_prompt(q, 0, s, shots, 2, &ps, &p), FRZ_OK);
    ck_assert_uint_eq(p.n, 6);
    assert_image(&p, 0, fixture_path("eval/vqa/images/COCO_train2014_000000000012.jpg"));
    assert_text(&p, 1, "Question: What is on the plate? Answer: pizza");
    assert_image(&p, 2, fixture_path("eval/vqa/images/COCO_train2014_000000000014.jpg"));
    assert_text(&p, 3, "Question: What animal is this? Answer: giraffe");
    assert_image(&p, 4, fixture_path("eval/vqa/images/COCO_val2014_000000000001.jpg"));
    assert_text(&p, 5, "Question: What color is the bus? Answer:");

    ck_assert_int_eq(frz_vqa_build_prompt(q, 1, s, NULL, 0, &ps, &p), FRZ_OK); /* 0-shot */
    ck_assert_uint_eq(p.n, 2);
    assert_text(&p, 1, "Question: How many dogs are there? Answer:");

    ck_assert_int_eq(frz_vqa_build_prompt(q, 4, s, shots, 2, &ps, &p), FRZ_ERR_IO); /* question 105: no image */
    ck_assert_uint_eq(p.n, 0);
    ASSERT_MSG_HAS("question_id 105");
    frz_eval_prompt_clear(&p);
    frz_vqa_free(q);
    frz_vqa_free(s);
}
END_TEST

/* ---- scoring ----------------------------------------------------------------------------------------- */

/* Correct only when the right name, and nothing but whitespace, comes before the end (EOT, newline, end). */
START_TEST(test_binding_correct)
{
    ck_assert_int_eq(frz_eval_binding_correct(" dax", "dax"), 1);
    ck_assert_int_eq(frz_eval_binding_correct("dax", "dax"), 1);
    ck_assert_int_eq(frz_eval_binding_correct(" dax\nThis is a blicket.", "dax"), 1);
    ck_assert_int_eq(frz_eval_binding_correct(" dax<|endoftext|>junk", "dax"), 1);
    ck_assert_int_eq(frz_eval_binding_correct(" dax \r\n", "dax"), 1);
    ck_assert_int_eq(frz_eval_binding_correct(" dax.", "dax"), 0);
    ck_assert_int_eq(frz_eval_binding_correct(" Dax", "dax"), 0);
    ck_assert_int_eq(frz_eval_binding_correct(" dax blicket", "dax"), 0);
    ck_assert_int_eq(frz_eval_binding_correct(" This is a dax.", "dax"), 0);
    ck_assert_int_eq(frz_eval_binding_correct(" blicket", "dax"), 0);
    ck_assert_int_eq(frz_eval_binding_correct("", "dax"), 0);
    ck_assert_int_eq(frz_eval_binding_correct("\n dax", "dax"), 0);
    ck_assert_int_eq(frz_eval_binding_correct(" daxes", "dax"), 0);
}
END_TEST

/* VQA: the answer is cut at the newline / EOT text, then the official normalisation applies. */
START_TEST(test_vqa_generation_cut)
{
    ck_assert_uint_eq(frz_eval_answer_len("blue\nQuestion: x"), 4);
    ck_assert_uint_eq(frz_eval_answer_len(" red<|endoftext|>"), 4);
    ck_assert_uint_eq(frz_eval_answer_len("<|endoftext|>\n"), 0);
    ck_assert_uint_eq(frz_eval_answer_len("abc"), 3);
    const char *gen = " Two dogs.\nQuestion: What is this? Answer: a cat";
    char cut[64];
    size_t n = frz_eval_answer_len(gen);
    memcpy(cut, gen, n);
    cut[n] = '\0';
    const char *ans[10] = {"2 dogs", "2 dogs", "2 dogs", "2", "2", "2", "2", "2", "2", "2"};
    double acc = -1;
    ck_assert_int_eq(frz_vqa_accuracy(cut, ans, 10, &acc), FRZ_OK);
    ck_assert_double_eq_tol(acc, 0.9, 1e-12); /* "2 dogs" matches 3 of 10: (3*(2/3) + 7*1) / 10 */
}
END_TEST

/* Fast-VQA's single answer: both sides normalised as the VQA script does, then compared. */
START_TEST(test_normalized_match)
{
    int m = -1;
    ck_assert_int_eq(frz_eval_normalized_match(" A Dog.\nQuestion:", "dog", &m), FRZ_OK);
    ck_assert_int_eq(m, 1);
    ck_assert_int_eq(frz_eval_normalized_match(" two", "2", &m), FRZ_OK);
    ck_assert_int_eq(m, 1);
    ck_assert_int_eq(frz_eval_normalized_match(" wood", "Wooden", &m), FRZ_OK);
    ck_assert_int_eq(m, 0);
    ck_assert_int_eq(frz_eval_normalized_match("\nwood", "wood", &m), FRZ_OK);
    ck_assert_int_eq(m, 0);
}
END_TEST

START_TEST(test_prompt_alloc_failures)
{
    frz_bind_set *set = episodes();
    frz_bind_prompt_settings s;
    frz_bind_prompt_settings_init(&s);
    int failures = 0;
    for (long k = 1; k < 1000; k++) {
        frz_eval_prompt p = {0};
        frz_test_fail_alloc_at(k);
        frz_status st = frz_bind_build_prompt(&set->episodes[1], &s, &p);
        frz_test_fail_alloc_at(0);
        if (st == FRZ_OK) {
            frz_eval_prompt_clear(&p);
            break;
        }
        ck_assert_int_eq(st, FRZ_ERR_NOMEM);
        ck_assert_uint_eq(p.n, 0);
        failures++;
    }
    ck_assert_int_gt(failures, 10);
    frz_bind_free(set);
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("eval_prompt");
    TCase *tc = tcase_create("prompt");
    tcase_add_test(tc, test_bind_two_way_plain);
    tcase_add_test(tc, test_bind_two_way_induction);
    tcase_add_test(tc, test_bind_repeats);
    tcase_add_test(tc, test_bind_fast_vqa);
    tcase_add_test(tc, test_bind_released_prompt);
    tcase_add_test(tc, test_bind_templates_and_names);
    tcase_add_test(tc, test_vqa_prompt);
    tcase_add_test(tc, test_binding_correct);
    tcase_add_test(tc, test_vqa_generation_cut);
    tcase_add_test(tc, test_normalized_match);
    tcase_add_test(tc, test_prompt_alloc_failures);
    suite_add_tcase(s, tc);
    return s;
}

FRZ_TEST_MAIN(make_suite)
