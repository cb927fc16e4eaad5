/* check_eval_metric.c -- the VQA accuracy: each normalisation rule of the official vqaEval.py and the
 * leave-one-out averaging. Every expected value is derived by hand from the script's rules, in the comments. */
#include "eval/eval.h"
#include "util/testutil.h"

#include <math.h>
#include <string.h>

/* Normalises `in` as the script does with a prediction and compares with `want`. */
static void check_norm(const char *in, const char *want)
{
    char *out = NULL;
    ck_assert_int_eq(frz_vqa_normalize_answer(in, &out), FRZ_OK);
    ck_assert_msg(strcmp(out, want) == 0, "normalize(\"%s\") = \"%s\", want \"%s\"", in, out, want);
    free(out);
}

static void check_punct(const char *in, const char *want)
{
    char *out = NULL;
    ck_assert_int_eq(frz_vqa_process_punctuation(in, &out), FRZ_OK);
    ck_assert_msg(strcmp(out, want) == 0, "processPunctuation(\"%s\") = \"%s\", want \"%s\"", in, out, want);
    free(out);
}

static double accuracy(const char *pred, const char *const *answers, size_t n)
{
    double acc = -1;
    ck_assert_int_eq(frz_vqa_accuracy(pred, answers, n, &acc), FRZ_OK);
    return acc;
}

#define ASSERT_NEAR(got, want) \
    ck_assert_msg(fabs((got) - (want)) < 1e-12, "got %.17g, want %.17g", (double)(got), (double)(want))

/* '\n' and '\t' become spaces, then str.strip(): "two\tdogs\n" -> "two dogs" -> number word -> "2 dogs". */
START_TEST(test_newline_tab_strip)
{
    check_norm("two\tdogs\n", "2 dogs");
    check_norm("  Yes  ", "yes");
    /* strip() also removes Unicode whitespace such as NO-BREAK SPACE (U+00A0) and U+3000. */
    check_norm("\xC2\xA0yes\xE3\x80\x80", "yes");
    /* split() joins words separated by runs of whitespace with one space. */
    check_norm("red   \n car", "red car");
}
END_TEST

/* A punctuation character is deleted when it touches a space anywhere in the text ("p " or " p"), else it
 * becomes a space. "hot-dog": '-' touches no space -> "hot dog". "hot-dog - fries": " -" occurs, so every '-'
 * is deleted -> "hotdog  fries" -> split/join -> "hotdog fries". */
START_TEST(test_punctuation_space_rule)
{
    check_norm("hot-dog", "hot dog");
    check_norm("hot-dog - fries", "hotdog fries");
    /* Each character decides for itself: '/' touches no space (-> ' '), '?' does (" ?" -> deleted). */
    check_punct("red/blue ?", "red blue ");
    /* Every listed character: ; / [ ] " { } ( ) = + \ _ - > < @ ` , ? ! -- none touches a space here. */
    check_punct("a;b/c[d]e\"f{g}h(i)j=k+l\\m_n-o>p<q@r`s,t?u!v", "a b c d e f g h i j k l m n o p q r s t u v");
    /* Not in the list: ':' '\'' '*' '#' '$' '%' '&' '~' '^' '|' stay. */
    check_punct("10:30 it's *#$%&~^|", "10:30 it's *#$%&~^|");
}
END_TEST

/* commaStrip: a digit-comma-digit anywhere makes *every* punctuation character be deleted (not spaced).
 * "1,000" -> "1000" (a plain ',' would otherwise give "1 000"); "1,000 red/blue" -> "1000 redblue". */
START_TEST(test_comma_in_numbers)
{
    check_norm("1,000", "1000");
    check_norm("1,000 red/blue", "1000 redblue");
    check_norm("red,blue", "red blue"); /* no digits around the comma: space */
    check_punct("1 ,000", "1 000");     /* " ," touches a space: deleted, the space stays */
}
END_TEST

/* periodStrip: '.' not followed by a digit is deleted; "3.5" keeps its period. The script passes re.UNICODE
 * (32) as re.sub's count, so only the first 32 such periods go: "x" + 40 periods -> "x" + 8 periods. */
START_TEST(test_period_strip)
{
    check_norm("dog.", "dog");
    check_norm("3.5", "3.5");
    check_norm("a.m.", "am");  /* "am" is no article: kept */
    char in[64], want[16];
    memset(in, '.', sizeof in);
    in[0] = 'x';
    in[41] = '\0';
    strcpy(want, "x........");
    check_norm(in, want);
}
END_TEST

/* manualMap: none/zero..ten -> 0..10 after lower-casing, whole words only. */
START_TEST(test_number_words)
{
    check_norm("Two", "2");
    check_norm("none", "0");
    check_norm("zero", "0");
    check_norm("ten", "10");
    check_norm("one two three four five six seven eight nine", "1 2 3 4 5 6 7 8 9");
    check_norm("eleven", "eleven");
    check_norm("twofold", "twofold");
}
END_TEST

/* Articles a / an / the are dropped after lower-casing; other words stay. */
START_TEST(test_articles)
{
    check_norm("a dog", "dog");
    check_norm("The Big Apple", "big apple");
    check_norm("an", "");
    check_norm("A", "");
    check_norm("theater", "theater");
}
END_TEST

/* Contractions: words missing their apostrophe are expanded ("dont" -> "don't"); apostrophes are never punct.
 * The script's keys with capitals ("Im", "Ive") can never match a lower-cased word; its odd entry
 * "somebody'd" -> "somebodyd" is kept. */
START_TEST(test_contractions)
{
    check_norm("dont", "don't");
    check_norm("Isnt it", "isn't it");
    check_norm("don't", "don't");
    check_norm("Im", "im");
    check_norm("somebody'd", "somebodyd");
    check_norm("oclock", "o'clock");
    check_norm("yall'd've", "y'all'd've");
    check_norm("twas", "'twas");
}
END_TEST

/* Lower-casing is Python's str.lower(): Latin-1 letters too; U+0130 becomes "i" + U+0307. */
START_TEST(test_lowercase_unicode)
{
    check_norm("\xC3\x9C" "BER", "\xC3\xBC" "ber");          /* ÜBER -> über */
    check_norm("\xC4\xB0", "i\xCC\x87");                       /* İ -> i̇ */
    check_norm("\xD0\x9C\xD0\x98\xD0\xA0", "\xD0\xBC\xD0\xB8\xD1\x80"); /* МИР -> мир */
}
END_TEST

/* 10 answers, k equal to the prediction. Leaving out a matching answer leaves k-1 matches, leaving out another
 * leaves k: acc = (k * min((k-1)/3, 1) + (10-k) * min(k/3, 1)) / 10.
 *   k=0: 0.   k=1: (1*0 + 9*(1/3))/10 = 0.3.   k=2: (2*(1/3) + 8*(2/3))/10 = 0.6.
 *   k=3: (3*(2/3) + 7*1)/10 = 0.9.   k=4: (4*1 + 6*1)/10 = 1.0.   k=10: 1.0. */
START_TEST(test_leave_one_out)
{
    const char *base[10] = {"cat", "cat", "cat", "cat", "cat", "cat", "cat", "cat", "cat", "cat"};
    const double want[11] = {0.0, 0.3, 0.6, 0.9, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0};
    for (int k = 0; k <= 10; k++) {
        const char *ans[10];
        for (int i = 0; i < 10; i++) ans[i] = i < k ? "dog" : base[i];
        /* k == 10 makes the answers identical; the prediction "dog" then matches them raw. */
        ASSERT_NEAR(accuracy("dog", ans, 10), want[k]);
    }
    /* Where the matching answers sit does not matter. */
    const char *spread[10] = {"cat", "dog", "cat", "cat", "cat", "cat", "cat", "cat", "cat", "dog"};
    ASSERT_NEAR(accuracy("dog", spread, 10), 0.6);
}
END_TEST

/* Other answer counts: 3 answers red, blue, blue and the prediction blue: leaving out a blue leaves 1 match
 * (1/3), twice; leaving out red leaves 2 (2/3). Mean (1/3 + 1/3 + 2/3) / 3 = 4/9. One answer: the other
 * subset is empty -> 0. No answers: an error. */
START_TEST(test_other_counts)
{
    const char *three[3] = {"red", "blue", "blue"};
    ASSERT_NEAR(accuracy("blue", three, 3), 4.0 / 9.0);
    const char *one[1] = {"blue"};
    ASSERT_NEAR(accuracy("blue", one, 1), 0.0);
    double acc = 5;
    ck_assert_int_eq(frz_vqa_accuracy("blue", one, 0, &acc), FRZ_ERR_INVALID_ARG);
    ck_assert_ptr_nonnull(strstr(frz_last_error(), "no human answers"));
}
END_TEST

/* The prediction is normalised before matching: "Two." -> "2", "The Dog!" -> "dog". */
START_TEST(test_prediction_normalised)
{
    const char *ans[10] = {"2", "2", "2", "2", "2", "3", "3", "3", "3", "3"};
    ASSERT_NEAR(accuracy("Two.", ans, 10), 1.0);
    const char *dogs[10] = {"dog", "dog", "dog", "cat", "cat", "cat", "cat", "cat", "cat", "cat"};
    ASSERT_NEAR(accuracy("The Dog!", dogs, 10), 0.9); /* k = 3 */
}
END_TEST

/* Human answers are only processed (and then only by processPunctuation) when they are not all equal:
 *   - all ten "Yes": compared raw, so "yes" (the normalised prediction) matches none -> 0;
 *   - all ten "yes.": raw, prediction "yes." -> "yes" != "yes." -> 0;
 *   - nine "yes." and one "no": processed, "yes." -> "yes": k = 9 -> 1.0;
 *   - "yes!" (distinct set) -> processPunctuation gives "yes " (the '!' becomes a space, no strip) -> no match;
 *   - number words in human answers are not mapped: five "two", two "2", three "3"; the prediction "two" -> "2"
 *     matches only the two "2": k = 2 -> 0.6;
 *   - "hot-dog" x3 (-> "hot dog"), "hot dog" x1, "sandwich" x6: prediction "hot dog" -> k = 4 -> 1.0. */
START_TEST(test_human_answers_conditional)
{
    const char *caps[10] = {"Yes", "Yes", "Yes", "Yes", "Yes", "Yes", "Yes", "Yes", "Yes", "Yes"};
    ASSERT_NEAR(accuracy("yes", caps, 10), 0.0);
    const char *dots[10] = {"yes.", "yes.", "yes.", "yes.", "yes.", "yes.", "yes.", "yes.", "yes.", "yes."};
    ASSERT_NEAR(accuracy("yes.", dots, 10), 0.0);
    const char *mixed[10] = {"yes.", "yes.", "yes.", "yes.", "yes.", "yes.", "yes.", "yes.", "yes.", "no"};
    ASSERT_NEAR(accuracy("yes", mixed, 10), 1.0);
    const char *bang[10] = {"yes!", "yes!", "yes!", "yes!", "yes!", "no", "no", "no", "no", "no"};
    ASSERT_NEAR(accuracy("yes", bang, 10), 0.0);
    const char *words[10] = {"two", "two", "two", "two", "two", "2", "2", "3", "3", "3"};
    ASSERT_NEAR(accuracy("two", words, 10), 0.6);
    const char *hot[10] = {"hot-dog", "hot-dog", "hot-dog", "hot dog", "sandwich",
                           "sandwich", "sandwich", "sandwich", "sandwich", "sandwich"};
    ASSERT_NEAR(accuracy("hot dog", hot, 10), 1.0);
    ASSERT_NEAR(accuracy("hotdog", hot, 10), 0.0);
}
END_TEST

/* Every allocation of an accuracy computation can fail; the call then reports FRZ_ERR_NOMEM (ASan checks that
 * nothing leaks) and the next call works. */
START_TEST(test_alloc_failures)
{
    const char *ans[10] = {"two", "2", "2", "3", "3", "3", "3", "3", "3", "3"};
    int failures = 0;
    for (long k = 1; k < 200; k++) {
        double acc = -1;
        frz_test_fail_alloc_at(k);
        frz_status st = frz_vqa_accuracy("Two dogs, one cat.", ans, 10, &acc);
        frz_test_fail_alloc_at(0);
        if (st == FRZ_OK) break;
        ck_assert_int_eq(st, FRZ_ERR_NOMEM);
        failures++;
    }
    ck_assert_int_gt(failures, 3);
    ASSERT_NEAR(accuracy("2", ans, 10), 0.6);
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("eval_metric");
    TCase *tc = tcase_create("vqa");
    tcase_add_test(tc, test_newline_tab_strip);
    tcase_add_test(tc, test_punctuation_space_rule);
    tcase_add_test(tc, test_comma_in_numbers);
    tcase_add_test(tc, test_period_strip);
    tcase_add_test(tc, test_number_words);
    tcase_add_test(tc, test_articles);
    tcase_add_test(tc, test_contractions);
    tcase_add_test(tc, test_lowercase_unicode);
    tcase_add_test(tc, test_leave_one_out);
    tcase_add_test(tc, test_other_counts);
    tcase_add_test(tc, test_prediction_normalised);
    tcase_add_test(tc, test_human_answers_conditional);
    tcase_add_test(tc, test_alloc_failures);
    suite_add_tcase(s, tc);
    return s;
}

FRZ_TEST_MAIN(make_suite)
