/* vqa_metric.c -- the standard VQA accuracy, as the official evaluation script computes it.
 *
 * Reference: vqaEval.py of the VQA API (github.com/GT-Vision-Lab/VQA, PythonEvaluationTools/vqaEvaluation, the
 * Python 3 version). Its behaviour is reproduced rule by rule, quirks included, because published VQAv2 / OK-VQA
 * numbers (the Frozen paper's among them) come from it:
 *   - the prediction: '\n' and '\t' become spaces, str.strip(), processPunctuation, processDigitArticle;
 *   - the human answers are compared raw, except that when they hold more than one distinct string each gets
 *     processPunctuation (and only that: no lower-casing, number words or articles);
 *   - accuracy = mean over the n leave-one-out subsets of min(#matches among the other n-1 answers / 3, 1).
 * docs/eval-formats.md lists the deviations (non-ASCII digits; the script's leave-one-out by dict equality). */
#include "eval/eval.h"
#include "eval/text.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* The script's punct list: every character here is removed or turned into a space. '.' has its own rule
 * (periodStrip); ':' '\'' '*' '#' '$' '%' '&' '~' '^' '|' are left alone. */
static const char PUNCT[] = ";/[]\"{}()=+\\_-><@`,?!";

/* periodStrip is passed re.UNICODE (== 32) in the position of re.sub's `count`, so at most 32 periods go. */
enum { PERIOD_STRIP_MAX = 32 };

static int is_digit(char c) { return c >= '0' && c <= '9'; }

/* commaStrip "(\d)(\,)(\d)" searched anywhere in the text. */
static int has_digit_comma_digit(const char *s, size_t n)
{
    for (size_t i = 1; i + 1 < n; i++)
        if (s[i] == ',' && is_digit(s[i - 1]) && is_digit(s[i + 1])) return 1;
    return 0;
}

/* Whether s contains p followed by a space, or a space followed by p. */
static int punct_touches_space(const char *s, size_t n, char p)
{
    for (size_t i = 0; i + 1 < n; i++)
        if ((s[i] == p && s[i + 1] == ' ') || (s[i] == ' ' && s[i + 1] == p)) return 1;
    return 0;
}

/* processPunctuation. The script replaces each punctuation character in turn, deciding from the *input* text
 * whether it is deleted (it touches a space, or the text has a digit-comma-digit anywhere) or becomes a space;
 * since the replacements never create another punctuation character, one pass over the input is equivalent. */
static frz_status process_punctuation(const char *in, size_t n, char **out)
{
    int drop[sizeof PUNCT];
    int comma_digits = has_digit_comma_digit(in, n);
    for (size_t k = 0; k + 1 < sizeof PUNCT; k++) drop[k] = comma_digits || punct_touches_space(in, n, PUNCT[k]);

    char *tmp = frz_malloc(n + 1, "VQA answer");
    if (!tmp) return FRZ_ERR_NOMEM;
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        const char *p = in[i] ? strchr(PUNCT, in[i]) : NULL;
        if (!p) tmp[m++] = in[i];
        else if (!drop[p - PUNCT]) tmp[m++] = ' ';
    }
    /* periodStrip "(?!<=\d)(\.)(?!\d)": the first look-ahead can never fail at a '.', so it reads "a period not
     * followed by a digit"; the look-ahead sees the text before any removal. */
    char *res = frz_malloc(m + 1, "VQA answer");
    if (!res) {
        free(tmp);
        return FRZ_ERR_NOMEM;
    }
    size_t r = 0;
    int removed = 0;
    for (size_t i = 0; i < m; i++) {
        if (tmp[i] == '.' && removed < PERIOD_STRIP_MAX && !(i + 1 < m && is_digit(tmp[i + 1]))) {
            removed++;
            continue;
        }
        res[r++] = tmp[i];
    }
    res[r] = '\0';
    free(tmp);
    *out = res;
    return FRZ_OK;
}

frz_status frz_vqa_process_punctuation(const char *in, char **out)
{
    return process_punctuation(in, strlen(in), out);
}

/* manualMap: number words to digits ("none" counts as zero). */
static const char *const MANUAL_MAP[][2] = {
    {"none", "0"}, {"zero", "0"}, {"one", "1"}, {"two", "2"}, {"three", "3"}, {"four", "4"},
    {"five", "5"}, {"six", "6"}, {"seven", "7"}, {"eight", "8"}, {"nine", "9"}, {"ten", "10"},
};

static const char *const ARTICLES[] = {"a", "an", "the"};

/* The script's contractions map, entry for entry, in its order (keys with capitals can never match, since the
 * text is lower-cased first; "somebody'd" -> "somebodyd" is the script's own). */
static const char *const CONTRACTIONS[][2] = {
    {"aint", "ain't"}, {"arent", "aren't"}, {"cant", "can't"}, {"couldve", "could've"},
    {"couldnt", "couldn't"}, {"couldn'tve", "couldn't've"}, {"couldnt've", "couldn't've"}, {"didnt", "didn't"},
    {"doesnt", "doesn't"}, {"dont", "don't"}, {"hadnt", "hadn't"}, {"hadnt've", "hadn't've"},
    {"hadn'tve", "hadn't've"}, {"hasnt", "hasn't"}, {"havent", "haven't"}, {"hed", "he'd"},
    {"hed've", "he'd've"}, {"he'dve", "he'd've"}, {"hes", "he's"}, {"howd", "how'd"}, {"howll", "how'll"},
    {"hows", "how's"}, {"Id've", "I'd've"}, {"I'dve", "I'd've"}, {"Im", "I'm"}, {"Ive", "I've"},
    {"isnt", "isn't"}, {"itd", "it'd"}, {"itd've", "it'd've"}, {"it'dve", "it'd've"}, {"itll", "it'll"},
    {"let's", "let's"}, {"maam", "ma'am"}, {"mightnt", "mightn't"}, {"mightnt've", "mightn't've"},
    {"mightn'tve", "mightn't've"}, {"mightve", "might've"}, {"mustnt", "mustn't"}, {"mustve", "must've"},
    {"neednt", "needn't"}, {"notve", "not've"}, {"oclock", "o'clock"}, {"oughtnt", "oughtn't"},
    {"ow's'at", "'ow's'at"}, {"'ows'at", "'ow's'at"}, {"'ow'sat", "'ow's'at"}, {"shant", "shan't"},
    {"shed've", "she'd've"}, {"she'dve", "she'd've"}, {"she's", "she's"}, {"shouldve", "should've"},
    {"shouldnt", "shouldn't"}, {"shouldnt've", "shouldn't've"}, {"shouldn'tve", "shouldn't've"},
    {"somebody'd", "somebodyd"}, {"somebodyd've", "somebody'd've"}, {"somebody'dve", "somebody'd've"},
    {"somebodyll", "somebody'll"}, {"somebodys", "somebody's"}, {"someoned", "someone'd"},
    {"someoned've", "someone'd've"}, {"someone'dve", "someone'd've"}, {"someonell", "someone'll"},
    {"someones", "someone's"}, {"somethingd", "something'd"}, {"somethingd've", "something'd've"},
    {"something'dve", "something'd've"}, {"somethingll", "something'll"}, {"thats", "that's"},
    {"thered", "there'd"}, {"thered've", "there'd've"}, {"there'dve", "there'd've"}, {"therere", "there're"},
    {"theres", "there's"}, {"theyd", "they'd"}, {"theyd've", "they'd've"}, {"they'dve", "they'd've"},
    {"theyll", "they'll"}, {"theyre", "they're"}, {"theyve", "they've"}, {"twas", "'twas"},
    {"wasnt", "wasn't"}, {"wed've", "we'd've"}, {"we'dve", "we'd've"}, {"weve", "we've"},
    {"werent", "weren't"}, {"whatll", "what'll"}, {"whatre", "what're"}, {"whats", "what's"},
    {"whatve", "what've"}, {"whens", "when's"}, {"whered", "where'd"}, {"wheres", "where's"},
    {"whereve", "where've"}, {"whod", "who'd"}, {"whod've", "who'd've"}, {"who'dve", "who'd've"},
    {"wholl", "who'll"}, {"whos", "who's"}, {"whove", "who've"}, {"whyll", "why'll"}, {"whyre", "why're"},
    {"whys", "why's"}, {"wont", "won't"}, {"wouldve", "would've"}, {"wouldnt", "wouldn't"},
    {"wouldnt've", "wouldn't've"}, {"wouldn'tve", "wouldn't've"}, {"yall", "y'all"}, {"yall'll", "y'all'll"},
    {"y'allll", "y'all'll"}, {"yall'd've", "y'all'd've"}, {"y'alld've", "y'all'd've"},
    {"y'all'dve", "y'all'd've"}, {"youd", "you'd"}, {"youd've", "you'd've"}, {"you'dve", "you'd've"},
    {"youll", "you'll"}, {"youre", "you're"}, {"youve", "you've"},
};

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

/* The table value for the word w[0..n), or NULL. */
static const char *lookup(const char *const (*table)[2], size_t count, const char *w, size_t n)
{
    for (size_t i = 0; i < count; i++)
        if (strlen(table[i][0]) == n && memcmp(table[i][0], w, n) == 0) return table[i][1];
    return NULL;
}

static int is_article(const char *w, size_t n)
{
    for (size_t i = 0; i < COUNT(ARTICLES); i++)
        if (strlen(ARTICLES[i]) == n && memcmp(ARTICLES[i], w, n) == 0) return 1;
    return 0;
}

/* processDigitArticle: lower-case, split on whitespace, number words to digits, drop articles, expand
 * contractions, join with single spaces. */
static frz_status process_digit_article(const char *in, size_t n, char **out)
{
    char *low;
    size_t len;
    frz_status st = frz_py_lower(in, n, &low, &len);
    if (st != FRZ_OK) return st;
    frz_sbuf b = {0};
    st = frz_sbuf_append(&b, "", 0);
    size_t i = 0;
    while (st == FRZ_OK) {
        size_t k;
        while (i < len && (k = frz_py_space_len(low + i, len - i)) > 0) i += k;
        if (i >= len) break;
        size_t w0 = i;
        while (i < len && frz_py_space_len(low + i, len - i) == 0) i++;
        const char *w = low + w0;
        size_t wn = i - w0;
        const char *mapped = lookup(MANUAL_MAP, COUNT(MANUAL_MAP), w, wn);
        if (mapped) {
            w = mapped;
            wn = strlen(mapped);
        }
        if (is_article(w, wn)) continue;
        const char *expanded = lookup(CONTRACTIONS, COUNT(CONTRACTIONS), w, wn);
        if (expanded) {
            w = expanded;
            wn = strlen(expanded);
        }
        if (b.len) st = frz_sbuf_putc(&b, ' ');
        if (st == FRZ_OK) st = frz_sbuf_append(&b, w, wn);
    }
    free(low);
    if (st == FRZ_OK) return frz_sbuf_take(&b, out);
    free(b.p);
    return st;
}

frz_status frz_vqa_process_digit_article(const char *in, char **out)
{
    return process_digit_article(in, strlen(in), out);
}

frz_status frz_vqa_normalize_answer(const char *in, char **out)
{
    *out = NULL;
    size_t n = strlen(in);
    char *t = frz_malloc(n + 1, "VQA answer");
    if (!t) return FRZ_ERR_NOMEM;
    for (size_t i = 0; i <= n; i++) t[i] = in[i] == '\n' || in[i] == '\t' ? ' ' : in[i];
    size_t a, len;
    frz_py_strip(t, n, &a, &len);
    char *punct;
    frz_status st = process_punctuation(t + a, len, &punct);
    free(t);
    if (st != FRZ_OK) return st;
    st = frz_vqa_process_digit_article(punct, out);
    free(punct);
    return st;
}

frz_status frz_vqa_accuracy(const char *pred, const char *const *answers, size_t n_answers, double *acc)
{
    *acc = 0.0;
    if (n_answers == 0) return frz_fail(FRZ_ERR_INVALID_ARG, "VQA accuracy: no human answers");
    char *res;
    frz_status st = frz_vqa_normalize_answer(pred, &res);
    if (st != FRZ_OK) return st;

    int distinct = 0;
    for (size_t i = 1; i < n_answers && !distinct; i++) distinct = strcmp(answers[i], answers[0]) != 0;
    char **processed = NULL;
    if (distinct) {
        processed = frz_calloc(n_answers, sizeof *processed, "VQA answers");
        for (size_t i = 0; processed && i < n_answers && st == FRZ_OK; i++)
            st = frz_vqa_process_punctuation(answers[i], &processed[i]);
        if (!processed) st = FRZ_ERR_NOMEM;
    }
    if (st == FRZ_OK) {
        /* matches[i] = answers equal to the prediction among the others = total - (answer i itself matches). */
        size_t total = 0;
        for (size_t i = 0; i < n_answers; i++) total += strcmp(distinct ? processed[i] : answers[i], res) == 0;
        double sum = 0.0;
        for (size_t i = 0; i < n_answers; i++) {
            size_t m = total - (strcmp(distinct ? processed[i] : answers[i], res) == 0);
            sum += fmin(1.0, (double)m / 3.0);
        }
        *acc = sum / (double)n_answers;
    }
    if (processed)
        for (size_t i = 0; i < n_answers; i++) free(processed[i]);
    free(processed);
    free(res);
    return st;
}
