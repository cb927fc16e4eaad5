/* fewshot_vqa.c -- VQAv2 / OK-VQA at 0, 1, 4, ... shots: for each setting (seeing, blind), each question and each
 * shot count (ascending), the prompt (shot image, "Question: ... Answer: ...")* + (query image, "Question: ...
 * Answer:"), greedy decoding, the standard VQA accuracy. A question's k-shot draw is the first k shots of its
 * largest draw, so its 1-shot and 4-shot prompts share the first shot, which the chunk cache evaluates once. */
#include "prompt/fewshot_runner.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int cmp_int(const void *a, const void *b)
{
    int x = *(const int *)a, y = *(const int *)b;
    return (x > y) - (x < y);
}

/* The chunk ends of a k-shot prompt: after each of the run's shot counts up to k (a shot is two segments: its
 * image and its text), then the query. */
static size_t chunk_ends(const int *shots, size_t n_shots, int k, size_t n_segs, size_t *ends)
{
    size_t n = 0;
    for (size_t i = 0; i < n_shots && shots[i] <= k; i++)
        if (shots[i] > 0) ends[n++] = 2 * (size_t)shots[i];
    ends[n++] = n_segs;
    return n;
}

/* One example: prompt, generation, accuracy, record. */
static frz_status one(fs_runner *r, const frz_fewshot_vqa *v, const frz_vqa_set *support, size_t qi,
                      const size_t *idx, const int *shots, size_t n_shots, int k, const char *setting, int blind,
                      const char *id, frz_eval_prompt *segs, size_t *ends)
{
    const frz_vqa_item *q = &v->queries->items[qi];
    frz_vqa_prompt_settings ps;
    frz_vqa_prompt_settings_init(&ps);
    frz_status st = frz_vqa_build_prompt(v->queries, qi, support, idx, (size_t)k, &ps, segs);
    char what[96];
    snprintf(what, sizeof what, "%s question %s (%s, %d shots)", v->task, id, setting, k);
    if (st) return frz_fail_prefix(st, "%s: ", what);
    size_t n_chunks = chunk_ends(shots, n_shots, k, segs->n, ends);
    char *gen = NULL, *answer = NULL;
    st = fs_runner_generate(r, segs, ends, n_chunks, blind, what, &gen);
    double acc = 0.0;
    if (st == FRZ_OK) {
        size_t n = frz_eval_answer_len(gen);
        answer = frz_malloc(n + 1, "answer");
        if (!answer) st = FRZ_ERR_NOMEM;
        else memcpy(answer, gen, n), answer[n] = '\0';
    }
    if (st == FRZ_OK) st = frz_vqa_accuracy(answer, (const char *const *)q->answers, q->n_answers, &acc);
    if (st == FRZ_OK) {
        frz_eval_record rec = {v->task, setting, k, id, segs, gen, (const char *const *)q->answers, q->n_answers,
                               acc, 0};
        st = fs_runner_record(r, &rec);
    }
    free(gen);
    free(answer);
    return st;
}

frz_status frz_fewshot_run_vqa(const frz_fewshot_params *p, const frz_fewshot_vqa *v)
{
    if (!p || !v || !v->queries || !v->task || !v->shots || v->n_shots == 0)
        return frz_fail(FRZ_ERR_INVALID_ARG, "frz_fewshot_run_vqa: queries, task and shots are required");
    /* the shot counts, ascending, once each */
    int *shots = frz_malloc(v->n_shots * sizeof *shots, "shot counts");
    if (!shots) return FRZ_ERR_NOMEM;
    memcpy(shots, v->shots, v->n_shots * sizeof *shots);
    qsort(shots, v->n_shots, sizeof *shots, cmp_int);
    size_t n_shots = 0;
    for (size_t i = 0; i < v->n_shots; i++)
        if (n_shots == 0 || shots[i] != shots[n_shots - 1]) shots[n_shots++] = shots[i];
    if (shots[0] < 0) {
        int bad = shots[0];
        free(shots);
        return frz_fail(FRZ_ERR_INVALID_ARG, "frz_fewshot_run_vqa: a shot count is negative (%d)", bad);
    }
    if ((v->flags & FRZ_FEWSHOT_SHARED_SHOTS) && !v->support) {
        free(shots);
        return frz_fail(FRZ_ERR_INVALID_ARG, "frz_fewshot_run_vqa: shared shots need a separate support set (drawn "
                        "from the questions themselves, a question could be its own shot)");
    }
    const int max_shot = shots[n_shots - 1];
    const frz_vqa_set *support = v->support ? v->support : v->queries;
    const unsigned draw_flags = v->support ? 0 : FRZ_VQA_SHOTS_OTHER_IMAGES;
    const size_t n_q = p->limit && p->limit < v->queries->n ? p->limit : v->queries->n;
    const char *names[2];
    int blinds[2];
    size_t n_settings = 0;
    if (p->settings & FRZ_FEWSHOT_SEEING) names[n_settings] = "frozen", blinds[n_settings++] = 0;
    if (p->settings & FRZ_FEWSHOT_BLIND) names[n_settings] = "blind", blinds[n_settings++] = 1;

    fs_runner *r = NULL;
    size_t *idx = frz_calloc((size_t)max_shot + 1, sizeof *idx, "shot indices");
    size_t *ends = frz_calloc(n_shots + 1, sizeof *ends, "chunk ends");
    frz_eval_prompt segs = {0};
    frz_status st = idx && ends ? fs_runner_open(p, n_q * n_shots * n_settings, &r) : FRZ_ERR_NOMEM;
    if (st == FRZ_OK && max_shot > 0 && (v->flags & FRZ_FEWSHOT_SHARED_SHOTS)) {
        /* one support set for every query: drawn for a question id no real question has */
        frz_vqa_item none = {INT64_MIN, -1, NULL, NULL, 0, NULL, NULL, NULL};
        st = frz_vqa_sample_shots(support, &none, v->seed, (size_t)max_shot, 0, idx);
    }
    for (size_t si = 0; st == FRZ_OK && si < n_settings; si++) {
        for (size_t qi = 0; st == FRZ_OK && qi < n_q; qi++) {
            const frz_vqa_item *q = &v->queries->items[qi];
            char id[32];
            snprintf(id, sizeof id, "%lld", (long long)q->question_id);
            int drawn = (v->flags & FRZ_FEWSHOT_SHARED_SHOTS) != 0;
            for (size_t ki = 0; st == FRZ_OK && ki < n_shots; ki++) {
                if (fs_runner_skip(r, v->task, names[si], shots[ki], id)) continue;
                if (!drawn && max_shot > 0) {
                    st = frz_vqa_sample_shots(support, q, v->seed, (size_t)max_shot, draw_flags, idx);
                    if (st) st = frz_fail_prefix(st, "%s question %s: ", v->task, id);
                    drawn = 1;
                }
                if (st == FRZ_OK)
                    st = one(r, v, support, qi, idx, shots, n_shots, shots[ki], names[si], blinds[si], id, &segs,
                             ends);
                if (st == FRZ_OK && fs_runner_should_stop(r))
                    st = frz_fail(FRZ_ERR_CANCELLED, "evaluation stopped by the abort callback");
            }
        }
    }
    frz_eval_prompt_clear(&segs);
    free(idx);
    free(ends);
    free(shots);
    return fs_runner_close(r, st);
}
