/* vqa_data.c -- VQAv2 / OK-VQA as released: a questions file, an annotations file, a COCO image folder.
 *
 * The two files are joined by question_id, the way the VQA API does it; every question must have its
 * annotation (an evaluation that silently skipped questions would report a wrong accuracy). Image files are
 * looked up lazily (frz_vqa_image_path) so a run over a subset does not stat 200k files first.
 * Few-shot support items are drawn from a support split with a generator seeded from (seed, query id), so the
 * shots of a query never depend on which other queries were evaluated, or in which order. */
#include "eval/eval.h"
#include "eval/text.h"
#include "formats/json_file.h"
#include "math/rng.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static void free_item(frz_vqa_item *it)
{
    free(it->question);
    for (size_t k = 0; k < it->n_answers; k++) free(it->answers[k]);
    free(it->answers);
    free(it->mc_answer);
    free(it->question_type);
    free(it->answer_type);
}

void frz_vqa_free(frz_vqa_set *set)
{
    if (!set) return;
    for (size_t i = 0; i < set->n; i++) free_item(&set->items[i]);
    free(set->items);
    free(set->questions_path);
    free(set->image_dir);
    free(set->coco_prefix);
    free(set->by_id);
    free(set);
}

/* A copy of an optional string field (NULL when missing or null). */
static frz_status dup_string(const json_t *obj, const char *key, const char *what, int required, char **out)
{
    const char *s;
    frz_status st = frz_json_string_or(obj, key, what, NULL, &s);
    if (st != FRZ_OK) return st;
    if (!s) {
        *out = NULL;
        return required ? frz_fail(FRZ_ERR_FORMAT, "%s: field '%s' is missing (expected a string)", what, key)
                        : FRZ_OK;
    }
    *out = frz_strdup(s, key);
    return *out ? FRZ_OK : FRZ_ERR_NOMEM;
}

/* The array `key` of a file's top-level object. */
static frz_status top_array(const json_t *root, const char *path, const char *key, const json_t **arr)
{
    *arr = json_is_object(root) ? json_object_get(root, key) : NULL;
    if (!json_is_array(*arr))
        return frz_fail(FRZ_ERR_FORMAT, "%s: expected a JSON object with a '%s' array", path, key);
    return FRZ_OK;
}

/* (question_id, index) pairs sorted by id, for joins and look-ups. */
typedef struct id_index {
    int64_t id;
    size_t index;
} id_index;

static int cmp_id_index(const void *a, const void *b)
{
    const id_index *x = a, *y = b;
    if (x->id != y->id) return x->id < y->id ? -1 : 1;
    return x->index < y->index ? -1 : x->index > y->index;
}

static const id_index *find_id(const id_index *v, size_t n, int64_t id)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (v[mid].id < id) lo = mid + 1;
        else hi = mid;
    }
    return lo < n && v[lo].id == id ? &v[lo] : NULL;
}

/* Sorted ids of an array of objects; two entries sharing an id are an error naming both. */
static frz_status index_ids(const json_t *arr, const char *path, const char *array_name, id_index **out)
{
    size_t n = json_array_size(arr);
    id_index *v = frz_calloc(n ? n : 1, sizeof *v, "question id index");
    if (!v) return FRZ_ERR_NOMEM;
    char what[1200];
    for (size_t i = 0; i < n; i++) {
        snprintf(what, sizeof what, "%s: %s[%zu]", path, array_name, i);
        frz_status st = frz_json_int(json_array_get(arr, i), "question_id", what, 0, INT64_MAX, &v[i].id);
        if (st != FRZ_OK) {
            free(v);
            return st;
        }
        v[i].index = i;
    }
    qsort(v, n, sizeof *v, cmp_id_index);
    for (size_t i = 1; i < n; i++)
        if (v[i].id == v[i - 1].id) {
            frz_status st = frz_fail(FRZ_ERR_FORMAT, "%s: %s[%zu] and %s[%zu] have the same question_id %" PRId64,
                                     path, array_name, v[i - 1].index, array_name, v[i].index, v[i].id);
            free(v);
            return st;
        }
    *out = v;
    return FRZ_OK;
}

static frz_status read_question(const json_t *q, const char *what, frz_vqa_item *it)
{
    frz_status st = frz_json_int(q, "question_id", what, 0, INT64_MAX, &it->question_id);
    if (st == FRZ_OK) st = frz_json_int(q, "image_id", what, 0, INT64_MAX, &it->image_id);
    if (st == FRZ_OK) st = dup_string(q, "question", what, 1, &it->question);
    return st;
}

static frz_status read_annotation(const json_t *a, const char *what, frz_vqa_item *it)
{
    int64_t image_id;
    frz_status st = frz_json_int_or(a, "image_id", what, 0, INT64_MAX, it->image_id, &image_id);
    if (st != FRZ_OK) return st;
    if (image_id != it->image_id)
        return frz_fail(FRZ_ERR_FORMAT, "%s: image_id %" PRId64 " differs from the question's image_id %" PRId64,
                        what, image_id, it->image_id);
    const json_t *answers = json_object_get(a, "answers");
    if (!json_is_array(answers) || json_array_size(answers) == 0)
        return frz_fail(FRZ_ERR_FORMAT, "%s: field 'answers' must be a non-empty array of {\"answer\": ...}", what);
    size_t n = json_array_size(answers);
    it->answers = frz_calloc(n, sizeof *it->answers, "VQA answers");
    if (!it->answers) return FRZ_ERR_NOMEM;
    it->n_answers = n;
    char awhat[1300];
    for (size_t k = 0; k < n && st == FRZ_OK; k++) {
        snprintf(awhat, sizeof awhat, "%s.answers[%zu]", what, k);
        st = dup_string(json_array_get(answers, k), "answer", awhat, 1, &it->answers[k]);
    }
    if (st == FRZ_OK) st = dup_string(a, "multiple_choice_answer", what, 0, &it->mc_answer);
    if (st == FRZ_OK) st = dup_string(a, "question_type", what, 0, &it->question_type);
    if (st == FRZ_OK) st = dup_string(a, "answer_type", what, 0, &it->answer_type);
    return st;
}

/* Reads the questions into set->items and set->by_id. */
static frz_status load_questions(frz_vqa_set *set, const char *path)
{
    json_t *root;
    frz_status st = frz_json_load_file(path, &root);
    if (st != FRZ_OK) return st;
    const json_t *qs;
    st = top_array(root, path, "questions", &qs);
    const char *subtype = NULL;
    if (st == FRZ_OK) st = frz_json_string_or(root, "data_subtype", path, "val2014", &subtype);
    if (st == FRZ_OK) {
        size_t need = strlen(subtype) + 7;
        set->coco_prefix = frz_malloc(need, "COCO file prefix");
        if (!set->coco_prefix) st = FRZ_ERR_NOMEM;
        else snprintf(set->coco_prefix, need, "COCO_%s_", subtype);
    }
    if (st == FRZ_OK) {
        size_t n = json_array_size(qs);
        set->items = frz_calloc(n ? n : 1, sizeof *set->items, "VQA questions");
        if (!set->items) st = FRZ_ERR_NOMEM;
        else set->n = n;
    }
    char what[1200];
    for (size_t i = 0; st == FRZ_OK && i < set->n; i++) {
        snprintf(what, sizeof what, "%s: questions[%zu]", path, i);
        st = read_question(json_array_get(qs, i), what, &set->items[i]);
    }
    id_index *ids = NULL;
    if (st == FRZ_OK) st = index_ids(qs, path, "questions", &ids);
    if (st == FRZ_OK) {
        set->by_id = frz_malloc((set->n ? set->n : 1) * sizeof *set->by_id, "VQA question index");
        if (!set->by_id) st = FRZ_ERR_NOMEM;
        for (size_t i = 0; st == FRZ_OK && i < set->n; i++) set->by_id[i] = ids[i].index;
    }
    free(ids);
    json_decref(root);
    return st;
}

/* Attaches its annotation to every question. */
static frz_status load_annotations(frz_vqa_set *set, const char *path)
{
    json_t *root;
    frz_status st = frz_json_load_file(path, &root);
    if (st != FRZ_OK) return st;
    const json_t *anns;
    id_index *ids = NULL;
    st = top_array(root, path, "annotations", &anns);
    if (st == FRZ_OK) st = index_ids(anns, path, "annotations", &ids);
    char what[1200];
    for (size_t i = 0; st == FRZ_OK && i < set->n; i++) {
        frz_vqa_item *it = &set->items[i];
        const id_index *hit = find_id(ids, json_array_size(anns), it->question_id);
        if (!hit) {
            st = frz_fail(FRZ_ERR_FORMAT, "%s: no annotation for question_id %" PRId64 " (%s: questions[%zu])", path,
                          it->question_id, set->questions_path, i);
            break;
        }
        snprintf(what, sizeof what, "%s: annotations[%zu]", path, hit->index);
        st = read_annotation(json_array_get(anns, hit->index), what, it);
    }
    free(ids);
    json_decref(root);
    return st;
}

frz_status frz_vqa_load(const char *questions_path, const char *annotations_path, const char *image_dir,
                        frz_vqa_set **out)
{
    *out = NULL;
    frz_vqa_set *set = frz_calloc(1, sizeof *set, "VQA set");
    if (!set) return FRZ_ERR_NOMEM;
    frz_status st = FRZ_OK;
    set->questions_path = frz_strdup(questions_path, "VQA questions path");
    if (!set->questions_path) st = FRZ_ERR_NOMEM;
    if (st == FRZ_OK && image_dir) {
        set->image_dir = frz_strdup(image_dir, "VQA image folder");
        if (!set->image_dir) st = FRZ_ERR_NOMEM;
    }
    if (st == FRZ_OK) st = load_questions(set, questions_path);
    if (st == FRZ_OK) st = load_annotations(set, annotations_path);
    if (st != FRZ_OK) {
        frz_vqa_free(set);
        return st;
    }
    *out = set;
    return FRZ_OK;
}

frz_status frz_vqa_find(const frz_vqa_set *set, int64_t question_id, size_t *index)
{
    size_t lo = 0, hi = set->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (set->items[set->by_id[mid]].question_id < question_id) lo = mid + 1;
        else hi = mid;
    }
    if (lo < set->n && set->items[set->by_id[lo]].question_id == question_id) {
        *index = set->by_id[lo];
        return FRZ_OK;
    }
    return frz_fail(FRZ_ERR_INVALID_ARG, "%s: no question with question_id %" PRId64, set->questions_path,
                    question_id);
}

static int is_file(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0 && S_ISREG(sb.st_mode);
}

frz_status frz_vqa_image_path(const frz_vqa_set *set, size_t index, char **out)
{
    *out = NULL;
    const frz_vqa_item *it = &set->items[index];
    if (!set->image_dir)
        return frz_fail(FRZ_ERR_INVALID_ARG, "%s: question_id %" PRId64 ": no image folder was given",
                        set->questions_path, it->question_id);
    /* COCO 2014 names, COCO 2017 names, then bare ids (<id>.png: generated worlds such as the demo's). */
    char names[4][512];
    snprintf(names[0], sizeof names[0], "%s%012" PRId64 ".jpg", set->coco_prefix, it->image_id);
    snprintf(names[1], sizeof names[1], "%012" PRId64 ".jpg", it->image_id);
    snprintf(names[2], sizeof names[2], "%" PRId64 ".jpg", it->image_id);
    snprintf(names[3], sizeof names[3], "%" PRId64 ".png", it->image_id);
    size_t cap = strlen(set->image_dir) + sizeof names[0] + 2;
    char *path = frz_malloc(cap, "VQA image path");
    if (!path) return FRZ_ERR_NOMEM;
    for (int k = 0; k < 4; k++) {
        snprintf(path, cap, "%s/%s", set->image_dir, names[k]);
        if (is_file(path)) {
            *out = path;
            return FRZ_OK;
        }
    }
    free(path);
    return frz_fail(FRZ_ERR_IO, "%s: no image for question_id %" PRId64 " (image_id %" PRId64 "): tried %s, %s, %s, %s",
                    set->image_dir, it->question_id, it->image_id, names[0], names[1], names[2], names[3]);
}

const char *frz_vqa_shot_answer(const frz_vqa_item *it)
{
    if (it->mc_answer) return it->mc_answer;
    size_t best = 0, best_count = 0;
    for (size_t i = 0; i < it->n_answers; i++) {
        size_t c = 0;
        for (size_t j = 0; j < it->n_answers; j++) c += strcmp(it->answers[i], it->answers[j]) == 0;
        if (c > best_count) {
            best = i;
            best_count = c;
        }
    }
    return it->n_answers ? it->answers[best] : "";
}

/* Uniform in [0, n) without modulo bias. */
static size_t uniform_below(frz_rng *rng, size_t n)
{
    uint64_t limit = UINT64_MAX - UINT64_MAX % (uint64_t)n;
    uint64_t r;
    do r = frz_rng_next(rng);
    while (r >= limit);
    return (size_t)(r % (uint64_t)n);
}

static int eligible(const frz_vqa_set *s, size_t i, const frz_vqa_item *query, unsigned flags, const size_t *taken,
                    size_t n_taken)
{
    const frz_vqa_item *it = &s->items[i];
    if (it->question_id == query->question_id) return 0;
    if ((flags & FRZ_VQA_SHOTS_OTHER_IMAGES) && it->image_id == query->image_id) return 0;
    for (size_t k = 0; k < n_taken; k++)
        if (taken[k] == i) return 0;
    return 1;
}

/* Each shot: up to 64 uniform draws until an eligible item comes up (uniform over the eligible items); only
 * when the support set is nearly exhausted, a forward scan from the last draw. Shot k never depends on n, so
 * the 1-shot draw is the first shot of the 4-shot draw. */
frz_status frz_vqa_sample_shots(const frz_vqa_set *support, const frz_vqa_item *query, uint64_t seed, size_t n,
                                unsigned flags, size_t *out_idx)
{
    if (n == 0) return FRZ_OK;
    size_t N = support->n;
    frz_rng rng;
    frz_rng_seed(&rng, seed ^ ((uint64_t)query->question_id * 0x9E3779B97F4A7C15ull));
    for (size_t k = 0; k < n; k++) {
        size_t pick = SIZE_MAX;
        for (int attempt = 0; attempt < 64 && pick == SIZE_MAX && N > 0; attempt++) {
            size_t r = uniform_below(&rng, N);
            if (eligible(support, r, query, flags, out_idx, k)) pick = r;
        }
        if (pick == SIZE_MAX && N > 0) {
            size_t start = uniform_below(&rng, N);
            for (size_t j = 0; j < N && pick == SIZE_MAX; j++)
                if (eligible(support, (start + j) % N, query, flags, out_idx, k)) pick = (start + j) % N;
        }
        if (pick == SIZE_MAX)
            return frz_fail(FRZ_ERR_INVALID_ARG,
                            "%s: cannot draw %zu shots for question_id %" PRId64 ": only %zu support items are eligible",
                            support->questions_path, n, query->question_id, k);
        out_idx[k] = pick;
    }
    return FRZ_OK;
}
