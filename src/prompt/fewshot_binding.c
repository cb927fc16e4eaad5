/* fewshot_binding.c -- open-ended concept binding (Open-Ended miniImageNet) and Fast-VQA: for each setting
 * (seeing, blind), each task-induction mode and each episode, the prompt [task induction] + support (image,
 * "This is a dax.") x (1 + repeats) + query image + "Question: What is this? Answer:", greedy decoding, and the
 * paper's rule: correct iff the right name is generated followed by the end. An episode whose answer is not one
 * of its names is Fast-VQA: the answer and the generation are compared after the VQA normalisation.
 * The support is one chunk: consecutive episodes showing the same support evaluate it once. */
#include "prompt/fewshot_runner.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct bind_cell {
    char task[64], setting[64];
} bind_cell;

/* Concept binding proper (the answer is one of the episode's new words) or Fast-VQA (a question about the named
 * object, answered in other words). */
static int answer_is_a_name(const frz_bind_episode *ep)
{
    for (size_t i = 0; i < ep->n_names; i++)
        if (strcmp(ep->names[i], ep->answer) == 0) return 1;
    return 0;
}

/* The task's name: the released file's own ("open_ended_mi" of open_ended_mi_shots_1_ways_2_all_questions.json),
 * else "binding" or "fast_vqa"; then the number of ways. */
static void name_cell(const frz_fewshot_binding *b, const frz_bind_episode *ep, int blind, int ti, int repeats,
                      bind_cell *c)
{
    const char *src = b->set->source ? b->set->source : "";
    const char *base = strrchr(src, '/') ? strrchr(src, '/') + 1 : src;
    const char *shots = strstr(base, "_shots_");
    if (b->task)
        snprintf(c->task, sizeof c->task, "%s", b->task);
    else if (shots && strstr(base, "_all_questions.json"))
        snprintf(c->task, sizeof c->task, "%.*s_%dway", (int)FRZ_MIN((size_t)(shots - base), 40), base, ep->ways);
    else
        snprintf(c->task, sizeof c->task, "%s_%dway", answer_is_a_name(ep) ? "binding" : "fast_vqa", ep->ways);
    int n = snprintf(c->setting, sizeof c->setting, "%s%s", blind ? "blind" : "frozen", ti ? ", task induction" : "");
    if (repeats > 0 && n > 0 && (size_t)n < sizeof c->setting)
        snprintf(c->setting + n, sizeof c->setting - (size_t)n, ", repeats %d", repeats);
}

/* What the finish callback needs; tags are (setting, induction mode, episode). */
typedef struct bind_ctx {
    const frz_fewshot_binding *b;
    const int *modes, *blinds;
    size_t n_modes, n_ep;
} bind_ctx;

static void cell_of(const bind_ctx *c, size_t tag, const frz_bind_episode **ep, int *blind, int *ti, bind_cell *cell)
{
    const size_t e = tag % c->n_ep, mi = tag / c->n_ep % c->n_modes, si = tag / c->n_ep / c->n_modes;
    *ep = &c->b->set->episodes[e];
    *blind = c->blinds[si];
    *ti = c->modes[mi] < 0 ? (*ep)->task_induction : c->modes[mi];
    name_cell(c->b, *ep, *blind, *ti, c->b->repeats < 0 ? (*ep)->repeats : c->b->repeats, cell);
}

static frz_status finish(fs_runner *r, size_t tag, const frz_eval_prompt *segs, const char *gen, void *ctx)
{
    const frz_bind_episode *ep;
    int blind, ti;
    bind_cell c;
    cell_of(ctx, tag, &ep, &blind, &ti, &c);
    double score = 0.0;
    if (!answer_is_a_name(ep)) { /* Fast-VQA */
        int match = 0;
        frz_status st = frz_eval_normalized_match(gen, ep->answer, &match);
        if (st) return st;
        score = match;
    } else {
        score = frz_eval_binding_correct(gen, ep->answer);
    }
    const char *answers[1] = {ep->answer};
    frz_eval_record rec = {c.task, c.setting, ep->inner_shots, ep->id, segs, gen, answers, 1, score, 1};
    return fs_runner_record(r, &rec);
}

frz_status frz_fewshot_run_binding(const frz_fewshot_params *p, const frz_fewshot_binding *b)
{
    if (!p || !b || !b->set)
        return frz_fail(FRZ_ERR_INVALID_ARG, "frz_fewshot_run_binding: the episodes are required");
    if (b->task_induction < -1 || b->task_induction > 2 || b->repeats < -1)
        return frz_fail(FRZ_ERR_INVALID_ARG, "frz_fewshot_run_binding: task_induction %d or repeats %d out of range",
                        b->task_induction, b->repeats);
    int modes[2], n_modes = 0;
    if (b->task_induction == 2) modes[n_modes++] = 0, modes[n_modes++] = 1;
    else modes[n_modes++] = b->task_induction;
    int blinds[2], n_settings = 0;
    if (p->settings & FRZ_FEWSHOT_SEEING) blinds[n_settings++] = 0;
    if (p->settings & FRZ_FEWSHOT_BLIND) blinds[n_settings++] = 1;
    const size_t n_ep = p->limit && p->limit < b->set->n ? p->limit : b->set->n;

    fs_runner *r = NULL;
    frz_eval_prompt segs = {0};
    bind_ctx ctx = {b, modes, blinds, (size_t)n_modes, n_ep};
    frz_status st = fs_runner_open(p, n_ep * (size_t)n_modes * (size_t)n_settings, finish, &ctx, &r);
    frz_bind_prompt_settings bs;
    frz_bind_prompt_settings_init(&bs);
    bs.repeats = b->repeats;
    if (b->shot_template) bs.caption_template = b->shot_template;
    if (b->query_template) bs.query_template = b->query_template;
    if (b->induction_template) bs.induction_template = b->induction_template;
    for (size_t tag = 0; st == FRZ_OK && tag < n_ep * (size_t)n_modes * (size_t)n_settings; tag++) {
        const frz_bind_episode *ep;
        int blind, ti;
        bind_cell c;
        cell_of(&ctx, tag, &ep, &blind, &ti, &c);
        if (fs_runner_skip(r, c.task, c.setting, ep->inner_shots, ep->id)) continue;
        char what[192];
        snprintf(what, sizeof what, "%s episode %s (%s)", c.task, ep->id, c.setting);
        bs.task_induction = ti;
        st = frz_bind_build_prompt(ep, &bs, &segs);
        if (st) {
            st = frz_fail_prefix(st, "%s: ", what);
            break;
        }
        /* [induction + support] [query image + question]: the builder ends with those two segments */
        const size_t ends[2] = {segs.n - 2, segs.n};
        st = fs_runner_submit(r, &segs, ends, 2, blind, what, tag);
        if (st == FRZ_OK && fs_runner_should_stop(r))
            st = frz_fail(FRZ_ERR_CANCELLED, "evaluation stopped by the abort callback");
    }
    st = fs_runner_close(r, st);
    frz_eval_prompt_clear(&segs);
    return st;
}
