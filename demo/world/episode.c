/* episode.c -- binding episodes: one sampler for the eval files (images) and the corpus (texts), and the
 * episode in text form, built by the eval harness's own prompt builder so every segment has the shape the
 * evaluation gives it. */
#include "world.h"
#include "eval/eval.h"

#include <stdlib.h>
#include <string.h>

frz_status w_episode_draw(frz_rng *rng, int ways, int shots, int n_classes, w_episode *ep)
{
    if (ways < 1 || ways > W_MAX_WAYS || shots < 1 || shots > W_MAX_SHOTS || ways > n_classes)
        return frz_fail(FRZ_ERR_INVALID_ARG, "episode of %d ways x %d shots over %d classes", ways, shots, n_classes);
    memset(ep, 0, sizeof *ep);
    ep->ways = ways;
    ep->shots = shots;
    frz_status st = w_choose(rng, W_NAMES, ways, ep->name);
    if (st == FRZ_OK) st = w_choose(rng, n_classes, ways, ep->cls);
    if (st) return st;
    for (int r = 0; r < shots; r++) {
        int *round = ep->support + r * ways;
        for (int k = 0; k < ways; k++) round[k] = k;
        w_shuffle(rng, round, (size_t)ways);
    }
    ep->query = (int)w_below(rng, (uint32_t)ways);
    return FRZ_OK;
}

void w_segments_clear(w_segments *segs)
{
    for (size_t i = 0; i < segs->n; i++) free(segs->text[i]);
    free(segs->text);
    memset(segs, 0, sizeof *segs);
}

static frz_status push(w_segments *segs, const char *a, const char *b)
{
    if (segs->n == segs->cap) {
        size_t cap = segs->cap ? 2 * segs->cap : 16;
        char **t = frz_realloc(segs->text, cap * sizeof *t, "segments");
        if (!t) return FRZ_ERR_NOMEM;
        segs->text = t;
        segs->cap = cap;
    }
    size_t la = strlen(a), lb = b ? strlen(b) : 0;
    char *s = frz_malloc(la + lb + 2, "segment");
    if (!s) return FRZ_ERR_NOMEM;
    memcpy(s, a, la);
    if (b) {
        s[la] = ' ';
        memcpy(s + la + 1, b, lb + 1);
    } else {
        s[la] = '\0';
    }
    segs->text[segs->n++] = s;
    return FRZ_OK;
}

frz_status w_episode_segments(const w_episode *ep, int task_induction, const char *const *texts, int with_answer,
                              w_segments *segs)
{
    const int n_sup = ep->ways * ep->shots;
    /* the episode as frz_bind_load_jsonl would give it; image paths are placeholders (never opened) */
    frz_bind_shot sup[W_MAX_WAYS * W_MAX_SHOTS];
    char *names[W_MAX_WAYS];
    for (int k = 0; k < ep->ways; k++) names[k] = (char *)w_names[ep->name[k]];
    for (int i = 0; i < n_sup; i++) sup[i] = (frz_bind_shot){"img", names[ep->support[i]], NULL};
    /* the harness lists names in order of first appearance in the support */
    char *order[W_MAX_WAYS];
    for (int i = 0; i < ep->ways; i++) order[i] = names[ep->support[i]];
    frz_bind_episode e = {"text", ep->ways, ep->shots, 0, task_induction, order, (size_t)ep->ways, sup,
                          (size_t)n_sup, "img", NULL, names[ep->query]};
    frz_bind_prompt_settings s;
    frz_bind_prompt_settings_init(&s);
    s.task_induction = task_induction;
    s.repeats = 0;
    frz_eval_prompt p = {0};
    frz_status st = frz_bind_build_prompt(&e, &s, &p);
    int img = 0;
    for (size_t i = 0; st == FRZ_OK && i < p.n; i++) {
        const frz_eval_seg *g = &p.segs[i];
        if (g->kind == FRZ_EVAL_SEG_IMAGE) st = push(segs, texts[img++], NULL);
        else st = push(segs, g->text, with_answer && i + 1 == p.n ? names[ep->query] : NULL);
    }
    if (st == FRZ_OK && img != n_sup + 1)
        st = frz_fail(FRZ_ERR_INVALID_ARG, "episode prompt with %d images for %d support + 1 query", img, n_sup);
    frz_eval_prompt_clear(&p);
    return st;
}
