/* probes.c -- text/probes.jsonl: every evaluation prompt of the world with each image replaced by its caption,
 * for measuring the LM's text-only ceiling. The prompts come from the written files through the library's own
 * readers and prompt builders (frz_vqa_load, frz_vqa_sample_shots, frz_vqa_build_prompt, frz_bind_load_jsonl,
 * frz_bind_build_prompt), so a probe is the evaluation's prompt to the byte, and generating it checks the files.
 * VQA shots are drawn as `frozen eval vqa --seed <eval_seed>` draws them (with a support split). */
#include "world.h"
#include "eval/eval.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

frz_status w_caption_of_path(const w_world *w, const char *path, char *buf, size_t cap)
{
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    char *end = NULL;
    long long id = strtoll(base, &end, 10);
    int shapes = strstr(path, "shapes/") != NULL, fashion = strstr(path, "fashion/") != NULL;
    if (end == base || strcmp(end, ".png") != 0 || id < 1 || shapes == fashion)
        return frz_fail(FRZ_ERR_INVALID_ARG, "%s: not an image of the world", path);
    if (shapes) {
        if ((size_t)id <= w->n_train) w_scene_caption(&w->train[id - 1], buf, cap);
        else if ((size_t)id <= w->n_train + w->n_val) w_scene_caption(&w->val[(size_t)id - w->n_train - 1], buf, cap);
        else return frz_fail(FRZ_ERR_INVALID_ARG, "%s: no scene %lld", path, id);
    } else if (id >= W_FASHION_TEST_ID && (size_t)(id - W_FASHION_TEST_ID) < w->n_test) {
        w_fashion_caption(w->test_labels[id - W_FASHION_TEST_ID], buf, cap);
    } else if (id < W_FASHION_TEST_ID && (size_t)id <= w->n_train_labels) {
        w_fashion_caption(w->train_labels[id - 1], buf, cap);
    } else {
        return frz_fail(FRZ_ERR_INVALID_ARG, "%s: no fashion image %lld", path, id);
    }
    return FRZ_OK;
}

typedef struct probe_out {
    FILE *f;
    size_t n;
} probe_out;

/* One probe line from a prompt: text segments as they are, images as their captions. */
static frz_status emit(const w_world *w, probe_out *o, const char *task, const char *setting, int shots,
                       const char *id, const frz_eval_prompt *p, const char *answer)
{
    json_t *segs = json_array();
    frz_status st = segs ? FRZ_OK : FRZ_ERR_NOMEM;
    for (size_t i = 0; st == FRZ_OK && i < p->n; i++) {
        char cap[128];
        const char *text = p->segs[i].text;
        if (p->segs[i].kind == FRZ_EVAL_SEG_IMAGE) {
            st = w_caption_of_path(w, p->segs[i].image_path, cap, sizeof cap);
            text = cap;
        }
        if (st == FRZ_OK && json_array_append_new(segs, json_string(text)) != 0) st = FRZ_ERR_NOMEM;
    }
    if (st) {
        json_decref(segs);
        return st;
    }
    json_t *line = json_pack("{s:s, s:s, s:i, s:s, s:o, s:s}", "task", task, "setting", setting, "shots", shots, "id",
                             id, "segments", segs, "answer", answer);
    char *text = line ? json_dumps(line, JSON_COMPACT) : NULL;
    json_decref(line);
    if (!text) return frz_fail(FRZ_ERR_NOMEM, "probe %s %s: cannot build the JSON line", task, id);
    fprintf(o->f, "%s\n", text);
    free(text);
    o->n++;
    return FRZ_OK;
}

/* A VQA-layout task: each question at each shot count the support allows. */
static frz_status vqa_probes(const w_world *w, probe_out *o, const char *task, const char *qrel, const char *arel,
                             const char *srel_q, const char *srel_a, const char *img_rel, const int *shots, int n_shots)
{
    char q[4096], a[4096], sq[4096], sa[4096], img[4096];
    frz_vqa_set *set = NULL, *sup = NULL;
    frz_status st = w_path(w, qrel, q, sizeof q);
    if (st == FRZ_OK) st = w_path(w, arel, a, sizeof a);
    if (st == FRZ_OK) st = w_path(w, img_rel, img, sizeof img);
    if (st == FRZ_OK) st = frz_vqa_load(q, a, img, &set);
    if (st == FRZ_OK && srel_q) {
        st = w_path(w, srel_q, sq, sizeof sq);
        if (st == FRZ_OK) st = w_path(w, srel_a, sa, sizeof sa);
        if (st == FRZ_OK) st = frz_vqa_load(sq, sa, img, &sup);
    }
    int max_shot = 0;
    for (int k = 0; k < n_shots; k++)
        if (sup && (size_t)shots[k] <= sup->n) max_shot = FRZ_MAX(max_shot, shots[k]);
    size_t idx[16] = {0};
    frz_vqa_prompt_settings ps;
    frz_vqa_prompt_settings_init(&ps);
    frz_eval_prompt p = {0};
    for (size_t i = 0; st == FRZ_OK && set && i < set->n; i++) {
        const frz_vqa_item *it = &set->items[i];
        if (max_shot > 0) st = frz_vqa_sample_shots(sup, it, w->cfg->eval_seed, (size_t)max_shot, 0, idx);
        char id[32];
        snprintf(id, sizeof id, "%lld", (long long)it->question_id);
        for (int k = 0; st == FRZ_OK && k < n_shots; k++) {
            if (shots[k] > max_shot) continue;
            st = frz_vqa_build_prompt(set, i, sup, idx, (size_t)shots[k], &ps, &p);
            if (st == FRZ_OK) st = emit(w, o, task, "text", shots[k], id, &p, frz_vqa_shot_answer(it));
        }
    }
    frz_eval_prompt_clear(&p);
    frz_vqa_free(set);
    frz_vqa_free(sup);
    return st;
}

static frz_status binding_probes(const w_world *w, probe_out *o, int ways, int shots)
{
    char rel[64], path[4096], task[32];
    snprintf(rel, sizeof rel, "binding/fashion_%dway_%dshot.jsonl", ways, shots);
    snprintf(task, sizeof task, "binding_%dway", ways); /* the harness's name for JSONL episodes */
    frz_bind_set *set = NULL;
    frz_status st = w_path(w, rel, path, sizeof path);
    if (st == FRZ_OK) st = frz_bind_load_jsonl(path, &set);
    frz_bind_prompt_settings s;
    frz_bind_prompt_settings_init(&s);
    frz_eval_prompt p = {0};
    for (int ti = 0; st == FRZ_OK && ti < 2; ti++) {
        s.task_induction = ti;
        for (size_t e = 0; st == FRZ_OK && e < set->n; e++) {
            st = frz_bind_build_prompt(&set->episodes[e], &s, &p);
            if (st == FRZ_OK)
                st = emit(w, o, task, ti ? "text, task induction" : "text", set->episodes[e].inner_shots,
                          set->episodes[e].id, &p, set->episodes[e].answer);
        }
    }
    frz_eval_prompt_clear(&p);
    frz_bind_free(set);
    return st;
}

frz_status w_write_probes(const w_world *w, size_t *n)
{
    static const int vqa_shots[3] = {0, 1, 4}, zero[1] = {0};
    static const int ways[2] = {2, 5}, shots[3] = {1, 3, 5};
    char dir[4096], path[4096];
    probe_out o = {NULL, 0};
    frz_status st = w_path(w, "text", dir, sizeof dir);
    if (st == FRZ_OK) st = w_mkdirs(dir);
    if (st == FRZ_OK) st = w_path(w, "text/probes.jsonl", path, sizeof path);
    if (st == FRZ_OK) st = w_open(path, &o.f);
    if (st == FRZ_OK)
        st = vqa_probes(w, &o, "vqa", "vqa/test_questions.json", "vqa/test_annotations.json",
                        "vqa/support_questions.json", "vqa/support_annotations.json", "images/shapes", vqa_shots, 3);
    if (st == FRZ_OK)
        st = vqa_probes(w, &o, "knowledge", "knowledge/questions.json", "knowledge/annotations.json", NULL, NULL,
                        "images/fashion", zero, 1);
    for (int a = 0; st == FRZ_OK && a < 2; a++)
        for (int b = 0; st == FRZ_OK && b < 3; b++) st = binding_probes(w, &o, ways[a], shots[b]);
    if (o.f) {
        frz_status cs = w_close(path, o.f);
        if (st == FRZ_OK) st = cs;
    }
    *n = o.n;
    return st;
}
