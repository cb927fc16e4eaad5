/* binding.c -- binding/fashion_{2,5}way_{1,3,5}shot.jsonl: episodes over the fashion test pool in the JSONL
 * format of docs/eval-formats.md, names drawn afresh from the pool for each episode, task_induction false (the
 * harness switches it), each support image shown once, the query image never among the support. */
#include "world.h"

#include <jansson.h>
#include <stdlib.h>

static frz_status one_file(const w_world *w, int ways, int shots)
{
    char part[64], rel[64], path[4096];
    snprintf(part, sizeof part, "binding %dway %dshot", ways, shots);
    snprintf(rel, sizeof rel, "binding/fashion_%dway_%dshot.jsonl", ways, shots);
    if (w->n_pool < (size_t)shots + 1)
        return frz_fail(FRZ_ERR_INVALID_ARG, "%s: %d-shot episodes need %d test images per class, the pool has %zu",
                        rel, shots, shots + 1, w->n_pool);
    frz_rng rng;
    world_rng(&rng, w->cfg->seed, part);
    FILE *f = NULL;
    frz_status st = w_path(w, rel, path, sizeof path);
    if (st == FRZ_OK) st = w_open(path, &f);
    for (long e = 0; st == FRZ_OK && e < w->cfg->episodes; e++) {
        w_episode ep;
        int pick[W_MAX_WAYS][W_MAX_SHOTS + 1]; /* pool positions: shots support images, then a query image */
        st = w_episode_draw(&rng, ways, shots, W_CLASSES, &ep);
        for (int k = 0; st == FRZ_OK && k < ways; k++) st = w_choose(&rng, (int)w->n_pool, shots + 1, pick[k]);
        if (st) break;
        json_t *names = json_array(), *support = json_array();
        int used[W_MAX_WAYS] = {0};
        for (int k = 0; k < ways; k++) json_array_append_new(names, json_string(w_names[ep.name[ep.support[k]]]));
        for (int i = 0; i < ways * shots; i++) {
            int k = ep.support[i];
            char img[64];
            snprintf(img, sizeof img, "../images/fashion/%d.png", W_FASHION_TEST_ID + w->pool[ep.cls[k]][pick[k][used[k]++]]);
            json_array_append_new(support, json_pack("{s:s, s:s}", "image", img, "name", w_names[ep.name[k]]));
        }
        char qimg[64], id[64];
        snprintf(qimg, sizeof qimg, "../images/fashion/%d.png",
                 W_FASHION_TEST_ID + w->pool[ep.cls[ep.query]][pick[ep.query][shots]]);
        snprintf(id, sizeof id, "%dway_%dshot_%04ld", ways, shots, e + 1);
        json_t *line = json_pack("{s:s, s:i, s:i, s:i, s:b, s:o, s:o, s:{s:s, s:s}}", "id", id, "ways", ways,
                                 "inner_shots", shots, "repeats", 0, "task_induction", 0, "names", names, "support",
                                 support, "query", "image", qimg, "answer", w_names[ep.name[ep.query]]);
        char *text = line ? json_dumps(line, JSON_COMPACT) : NULL;
        if (!text) st = frz_fail(FRZ_ERR_NOMEM, "%s: cannot build episode %ld", path, e + 1);
        else fprintf(f, "%s\n", text);
        free(text); /* json_dumps' malloc */
        json_decref(line);
    }
    if (f) {
        frz_status cs = w_close(path, f);
        if (st == FRZ_OK) st = cs;
    }
    return st;
}

frz_status w_write_binding(const w_world *w)
{
    static const int ways[2] = {2, 5}, shots[3] = {1, 3, 5};
    char dir[4096];
    frz_status st = w_path(w, "binding", dir, sizeof dir);
    if (st == FRZ_OK) st = w_mkdirs(dir);
    for (int a = 0; st == FRZ_OK && a < 2; a++)
        for (int b = 0; st == FRZ_OK && b < 3; b++) st = one_file(w, ways[a], shots[b]);
    return st;
}
