/* meta.c -- world/meta.json: the seed, every word list, the held-out combos, the name pool, the facts, the
 * counts and the corpus mix, so a reader of the results knows exactly what the world held. */
#include "world.h"

#include <jansson.h>

static json_t *strings(const char *const *s, int n)
{
    json_t *a = json_array();
    for (int i = 0; a && i < n; i++) json_array_append_new(a, json_string(s[i]));
    return a;
}

frz_status w_write_meta(const w_world *w, const w_corpus_stats *cs, size_t n_probes)
{
    const w_config *c = w->cfg;
    json_t *colours = json_array(), *held = json_array(), *facts = json_object(), *mix = json_object(),
           *kinds = json_object();
    for (int i = 0; i < W_COLOURS; i++)
        json_array_append_new(colours, json_pack("{s:s, s:[i,i,i]}", "name", w_colour[i], "rgb", w_colour_rgb[i][0],
                                                 w_colour_rgb[i][1], w_colour_rgb[i][2]));
    for (int i = 0; i < W_HELDOUT; i++)
        json_array_append_new(held, json_pack("{s:s, s:s}", "shape", w_shape[w->held_list[i][0]], "colour",
                                              w_colour[w->held_list[i][1]]));
    for (int i = 0; i < W_CLASSES; i++)
        json_object_set_new(facts, w_class[i], json_pack("{s:s, s:s, s:s}", "made of", w_fact[i][0], "worn on",
                                                         w_fact[i][1], "used for", w_fact[i][2]));
    for (int k = 0; k < W_KINDS; k++) {
        json_object_set_new(mix, w_kind_name[k], json_real(c->mix[k]));
        json_object_set_new(kinds, w_kind_name[k], json_integer((json_int_t)cs->kinds[k]));
    }
    json_t *counts = json_pack(
        "{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "shape_scenes_train", (json_int_t)w->n_train,
        "shape_scenes_heldout", (json_int_t)w->n_val, "fashion_train", (json_int_t)w->n_ftrain,
        "fashion_test_per_class", (json_int_t)w->n_pool, "captions_train", (json_int_t)(w->n_train + w->n_ftrain),
        "vqa_test", (json_int_t)c->vqa_test, "vqa_support", (json_int_t)c->vqa_support, "knowledge",
        (json_int_t)c->knowledge, "binding_episodes_per_file", (json_int_t)c->episodes, "corpus_lines",
        (json_int_t)cs->lines, "probes", (json_int_t)n_probes);
    json_t *corpus = json_pack("{s:o, s:f, s:I, s:o, s:I, s:I, s:f, s:I}", "mix", mix, "easy_fraction",
                               c->easy_fraction, "easy_lines", (json_int_t)cs->easy_lines, "kinds", kinds, "max_tokens",
                               (json_int_t)c->max_tokens, "max_pretokens", (json_int_t)cs->max_pretokens,
                               "mean_pretokens", cs->mean_pretokens, "redrawn", (json_int_t)cs->redrawn);
    json_t *root = json_pack(
        "{s:s, s:i, s:I, s:I, s:s, s:i, s:i, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o}",
        "format", "libfrozen-demo-world", "version", 1, "seed", (json_int_t)c->seed, "eval_seed",
        (json_int_t)c->eval_seed, "scale", c->scale, "image_size", W_SIDE, "antialias", c->aa, "shapes",
        strings(w_shape, W_SHAPES), "colours", colours, "sizes", strings(w_size, W_SIZES), "counts_words",
        strings(w_count, W_COUNTS), "positions", strings(w_position, W_POSITIONS), "position_answers",
        strings(w_position_answer, W_POSITIONS), "questions", strings(w_question, W_QTYPES), "held_out", held,
        "fashion_classes", strings(w_class, W_CLASSES), "knowledge_questions", strings(w_kquestion, W_KTYPES),
        "facts", facts, "names", strings(w_names, W_NAMES), "counts", counts, "corpus", corpus);
    char path[4096];
    frz_status st = w_path(w, "meta.json", path, sizeof path);
    if (st == FRZ_OK && !root) st = frz_fail(FRZ_ERR_NOMEM, "%s: cannot build the JSON", path);
    if (st == FRZ_OK && json_dump_file(root, path, JSON_INDENT(2)) != 0)
        st = frz_fail(FRZ_ERR_IO, "%s: cannot write", path);
    json_decref(root);
    return st;
}
