/* scoring.c -- from a generated text to a judgement.
 *
 * Generation is greedy and stops at the end-of-text token; the answer is what comes before it, or before the
 * first newline (a model that keeps going on a new line has started another example). VQA then applies the
 * official normalisation (vqa_metric.c); concept binding asks for the exact name and nothing after it, the
 * paper's "the right name followed by the end of the sequence". */
#include "eval/eval.h"
#include "eval/text.h"

#include <stdlib.h>
#include <string.h>

static const char EOT_TEXT[] = "<|endoftext|>";

size_t frz_eval_answer_len(const char *gen)
{
    size_t n = strcspn(gen, "\n");
    const char *eot = strstr(gen, EOT_TEXT);
    if (eot && (size_t)(eot - gen) < n) n = (size_t)(eot - gen);
    return n;
}

int frz_eval_binding_correct(const char *gen, const char *answer)
{
    size_t a, n;
    frz_py_strip(gen, frz_eval_answer_len(gen), &a, &n);
    return n == strlen(answer) && memcmp(gen + a, answer, n) == 0;
}

frz_status frz_eval_normalized_match(const char *gen, const char *answer, int *match)
{
    *match = 0;
    size_t n = frz_eval_answer_len(gen);
    char *cut = frz_malloc(n + 1, "generated answer");
    if (!cut) return FRZ_ERR_NOMEM;
    memcpy(cut, gen, n);
    cut[n] = '\0';
    char *a = NULL, *b = NULL;
    frz_status st = frz_vqa_normalize_answer(cut, &a);
    if (st == FRZ_OK) st = frz_vqa_normalize_answer(answer, &b);
    if (st == FRZ_OK) *match = strcmp(a, b) == 0;
    free(cut);
    free(a);
    free(b);
    return st;
}
