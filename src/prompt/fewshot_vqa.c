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

/* What the finish callback needs to score and record an example; tags are (setting, question, shot count). */
typedef struct vqa_ctx {
    const frz_fewshot_vqa *v;
    const int *shots;
    size_t n_shots, n_q;
    const char *const *names;
} vqa_ctx;

static frz_status finish(fs_runner *r, size_t tag, const frz_eval_prompt *segs, const char *gen, void *ctx)
{
    const vqa_ctx *c = ctx;
    const size_t ki = tag % c->n_shots, qi = tag / c->n_shots % c->n_q, si = tag / c->n_shots / c->n_q;
    const frz_vqa_item *q = &c->v->queries->items[qi];
    char id[32];
    snprintf(id, sizeof id, "%lld", (long long)q->question_id);
    size_t n = frz_eval_answer_len(gen);
    char *answer = frz_malloc(n + 1, "answer");
    if (!answer) return FRZ_ERR_NOMEM;
    memcpy(answer, gen, n);
    answer[n] = '\0';
    double acc = 0.0;
    frz_status st = frz_vqa_accuracy(answer, (const char *const *)q->answers, q->n_answers, &acc);
    free(answer);
    if (st) return st;
    frz_eval_record rec = {c->v->task, c->names[si], c->shots[ki], id, segs, gen, (const char *const *)q->answers,
                           q->n_answers, acc, 0};
    return fs_runner_record(r, &rec);
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
    vqa_ctx ctx = {v, shots, n_shots, n_q, names};
    frz_status st = idx && ends ? fs_runner_open(p, n_q * n_shots * n_settings, finish, &ctx, &r) : FRZ_ERR_NOMEM;
    if (st == FRZ_OK && max_shot > 0 && (v->flags & FRZ_FEWSHOT_SHARED_SHOTS)) {
        /* one support set for every query: drawn for a question id no real question has */
        frz_vqa_item none = {INT64_MIN, -1, NULL, NULL, 0, NULL, NULL, NULL};
        st = frz_vqa_sample_shots(support, &none, v->seed, (size_t)max_shot, 0, idx);
    }
    frz_vqa_prompt_settings ps;
    frz_vqa_prompt_settings_init(&ps);
    for (size_t si = 0; st == FRZ_OK && si < n_settings; si++) {
        for (size_t qi = 0; st == FRZ_OK && qi < n_q; qi++) {
            const frz_vqa_item *q = &v->queries->items[qi];
            char id[32];
            snprintf(id, sizeof id, "%lld", (long long)q->question_id);
            int drawn = (v->flags & FRZ_FEWSHOT_SHARED_SHOTS) != 0;
            for (size_t ki = 0; st == FRZ_OK && ki < n_shots; ki++) {
                const int k = shots[ki];
                if (fs_runner_skip(r, v->task, names[si], k, id)) continue;
                char what[96];
                snprintf(what, sizeof what, "%s question %s (%s, %d shots)", v->task, id, names[si], k);
                if (!drawn && max_shot > 0) {
                    st = frz_vqa_sample_shots(support, q, v->seed, (size_t)max_shot, draw_flags, idx);
                    drawn = 1;
                }
                if (st == FRZ_OK) st = frz_vqa_build_prompt(v->queries, qi, support, idx, (size_t)k, &ps, &segs);
                if (st) {
                    st = frz_fail_prefix(st, "%s: ", what);
                    break;
                }
                size_t n_chunks = chunk_ends(shots, n_shots, k, segs.n, ends);
                st = fs_runner_submit(r, &segs, ends, n_chunks, blinds[si], what, (si * n_q + qi) * n_shots + ki);
                if (st == FRZ_OK && fs_runner_should_stop(r))
                    st = frz_fail(FRZ_ERR_CANCELLED, "evaluation stopped by the abort callback");
            }
        }
    }
    st = fs_runner_close(r, st); /* runs what is queued: before the arrays its callback reads are freed */
    frz_eval_prompt_clear(&segs);
    free(idx);
    free(ends);
    free(shots);
    return st;
}
