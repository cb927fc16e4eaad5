/* vqa.c -- the VQAv2-layout files: vqa/{test,support}_{questions,annotations}.json over the shape scenes
 * (test: held-out scenes; support: train scenes) and knowledge/{questions,annotations}.json over the fashion test
 * pool. Every question has one answer, given ten times, and question_id = image_id * 10 + question type. */
#include "world.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

typedef struct vqa_q {
    int64_t image_id;
    int type;
    const char *question, *question_type, *answer;
} vqa_q;

static frz_status dump(json_t *root, const char *path)
{
    if (!root) return FRZ_ERR_NOMEM;
    int rc = json_dump_file(root, path, JSON_COMPACT);
    json_decref(root);
    return rc == 0 ? FRZ_OK : frz_fail(FRZ_ERR_IO, "%s: cannot write the JSON file", path);
}

/* Writes <rel_q> and <rel_a> (relative to the world) for the n questions. */
static frz_status write_pair(const w_world *w, const char *rel_q, const char *rel_a, const char *subtype,
                             const vqa_q *qs, size_t n)
{
    json_t *questions = json_array(), *annotations = json_array();
    int bad = !questions || !annotations;
    for (size_t i = 0; !bad && i < n; i++) {
        json_int_t qid = (json_int_t)(qs[i].image_id * 10 + qs[i].type), img = (json_int_t)qs[i].image_id;
        bad |= json_array_append_new(questions, json_pack("{s:I, s:s, s:I}", "image_id", img, "question",
                                                          qs[i].question, "question_id", qid)) != 0;
        json_t *answers = json_array();
        for (int k = 1; answers && k <= 10; k++)
            bad |= json_array_append_new(answers, json_pack("{s:s, s:s, s:i}", "answer", qs[i].answer,
                                                            "answer_confidence", "yes", "answer_id", k)) != 0;
        bad |= json_array_append_new(annotations,
                                     json_pack("{s:I, s:I, s:o, s:s, s:s, s:s}", "question_id", qid, "image_id", img,
                                               "answers", answers, "multiple_choice_answer", qs[i].answer,
                                               "question_type", qs[i].question_type, "answer_type", "other")) != 0;
    }
    json_t *info = json_pack("{s:s, s:s}", "description", "libfrozen demo world (demo/world/README.md)", "version",
                             "1");
    json_t *qroot = bad ? NULL
                        : json_pack("{s:O, s:s, s:s, s:s, s:o}", "info", info, "task_type", "Open-Ended", "data_type",
                                    "demo", "data_subtype", subtype, "questions", questions);
    json_t *aroot = bad || !qroot ? NULL
                                  : json_pack("{s:O, s:s, s:s, s:o}", "info", info, "data_type", "demo",
                                              "data_subtype", subtype, "annotations", annotations);
    json_decref(info); /* the roots hold their own references */
    if (!qroot) json_decref(questions);
    if (!aroot) json_decref(annotations);
    char qpath[4096], apath[4096];
    frz_status st = w_path(w, rel_q, qpath, sizeof qpath);
    if (st == FRZ_OK) st = w_path(w, rel_a, apath, sizeof apath);
    if (st == FRZ_OK && (!qroot || !aroot)) st = frz_fail(FRZ_ERR_NOMEM, "%s: cannot build the JSON", qpath);
    if (st == FRZ_OK) {
        st = dump(qroot, qpath);
        qroot = NULL;
    }
    if (st == FRZ_OK) {
        st = dump(aroot, apath);
        aroot = NULL;
    }
    json_decref(qroot);
    json_decref(aroot);
    return st;
}

/* n questions over n_img images: question i asks about image i % n_img; the rounds a = i / n_img give each image
 * a different type each time (type = (offset[image] + a) % n_types), so no (image, type) pair repeats. */
static frz_status check_room(const char *what, size_t n, size_t n_img, int n_types)
{
    if (n_img == 0 && n > 0) return frz_fail(FRZ_ERR_INVALID_ARG, "%s: %zu questions wanted but no images", what, n);
    if (n > n_img * (size_t)n_types)
        return frz_fail(FRZ_ERR_INVALID_ARG, "%s: %zu questions wanted, at most %zu (%d per image) fit", what, n,
                        n_img * (size_t)n_types, n_types);
    return FRZ_OK;
}

static frz_status scene_questions(const w_world *w, const char *part, const w_scene *scenes, size_t n_img, size_t n,
                                  int random_offset, const char *rel_q, const char *rel_a, const char *subtype)
{
    frz_status st = check_room(rel_q, n, n_img, W_QTYPES);
    if (st) return st;
    vqa_q *qs = frz_calloc(n + 1, sizeof *qs, "questions");
    uint8_t *offset = frz_calloc(n_img + 1, 1, "question offsets");
    if (!qs || !offset) st = FRZ_ERR_NOMEM;
    frz_rng rng;
    world_rng(&rng, w->cfg->seed, part);
    for (size_t s = 0; st == FRZ_OK && s < n_img; s++)
        offset[s] = (uint8_t)(random_offset ? w_below(&rng, W_QTYPES) : s % W_QTYPES);
    for (size_t i = 0; st == FRZ_OK && i < n; i++) {
        const w_scene *sc = &scenes[i % n_img];
        int t = (int)((offset[i % n_img] + i / n_img) % W_QTYPES);
        qs[i] = (vqa_q){sc->id, t, w_question[t], w_question_type[t], w_scene_answer(sc, t)};
    }
    if (st == FRZ_OK) st = write_pair(w, rel_q, rel_a, subtype, qs, n);
    free(qs);
    free(offset);
    return st;
}

static frz_status knowledge(const w_world *w)
{
    const size_t n = (size_t)w->cfg->knowledge, n_img = w->n_pool * W_CLASSES;
    frz_status st = check_room("knowledge", n, n_img, W_KTYPES);
    if (st) return st;
    vqa_q *qs = frz_calloc(n + 1, sizeof *qs, "questions");
    if (!qs) return FRZ_ERR_NOMEM;
    for (size_t i = 0; i < n; i++) {
        size_t s = i % n_img; /* classes in turn */
        int c = (int)(s % W_CLASSES), t = (int)((s + i / n_img) % W_KTYPES);
        int64_t id = W_FASHION_TEST_ID + w->pool[c][s / W_CLASSES];
        qs[i] = (vqa_q){id, t, w_kquestion[t], w_kquestion_type[t], w_fact[c][t]};
    }
    char dir[4096];
    st = w_path(w, "knowledge", dir, sizeof dir);
    if (st == FRZ_OK) st = w_mkdirs(dir);
    if (st == FRZ_OK)
        st = write_pair(w, "knowledge/questions.json", "knowledge/annotations.json", "knowledge", qs, n);
    free(qs);
    return st;
}

frz_status w_write_vqa(const w_world *w)
{
    char dir[4096];
    frz_status st = w_path(w, "vqa", dir, sizeof dir);
    if (st == FRZ_OK) st = w_mkdirs(dir);
    if (st == FRZ_OK)
        st = scene_questions(w, "vqa test", w->val, w->n_val, (size_t)w->cfg->vqa_test, 0, "vqa/test_questions.json",
                             "vqa/test_annotations.json", "test");
    if (st == FRZ_OK)
        st = scene_questions(w, "vqa support", w->train, w->n_train, (size_t)w->cfg->vqa_support, 1,
                             "vqa/support_questions.json", "vqa/support_annotations.json", "support");
    return st == FRZ_OK ? knowledge(w) : st;
}
