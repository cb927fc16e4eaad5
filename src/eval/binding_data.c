/* binding_data.c -- fast concept binding episodes (Open-Ended miniImageNet, Fast-VQA): the layout released
 * with the Frozen paper and our JSONL episode format, both into frz_bind_set.
 *
 * The released JSON's schema is not published; what is known (the release README, code that reads the files)
 * is: a list of per-question dictionaries with the support images and their texts ("image_1", "caption_1",
 * ...), the query image ("question_image"), the question text and the answer, plus a question id. The reader
 * accepts the plausible alternatives for each field and names what it looked for when something is missing;
 * docs/eval-formats.md records every assumption. */
#include "eval/eval.h"
#include "eval/text.h"
#include "core/file.h"
#include "formats/json_file.h"

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* ---- freeing ----------------------------------------------------------------------------------------- */

static void free_episode(frz_bind_episode *ep)
{
    free(ep->id);
    for (size_t i = 0; i < ep->n_names; i++) free(ep->names[i]);
    free(ep->names);
    for (size_t i = 0; i < ep->n_support; i++) {
        free(ep->support[i].image);
        free(ep->support[i].name);
        free(ep->support[i].caption);
    }
    free(ep->support);
    free(ep->query_image);
    free(ep->question);
    free(ep->answer);
}

void frz_bind_free(frz_bind_set *set)
{
    if (!set) return;
    for (size_t i = 0; i < set->n; i++) free_episode(&set->episodes[i]);
    free(set->episodes);
    free(set->source);
    free(set);
}

/* ---- small helpers ----------------------------------------------------------------------------------- */

static int is_file(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0 && S_ISREG(sb.st_mode);
}

/* The folder part of a file path ("." when there is none). */
static frz_status dir_of(const char *path, char **out)
{
    const char *slash = strrchr(path, '/');
    if (!slash) {
        *out = frz_strdup(".", "folder");
    } else {
        size_t n = slash == path ? 1 : (size_t)(slash - path);
        *out = frz_malloc(n + 1, "folder");
        if (*out) {
            memcpy(*out, path, n);
            (*out)[n] = '\0';
        }
    }
    return *out ? FRZ_OK : FRZ_ERR_NOMEM;
}

/* rel resolved against dir (absolute paths are kept), and checked to be a regular file. */
static frz_status resolve_image(const char *dir, const char *rel, const char *what, const char *field, char **out)
{
    *out = NULL;
    if (!rel[0]) return frz_fail(FRZ_ERR_FORMAT, "%s: %s: empty image path", what, field);
    size_t n = strlen(dir) + strlen(rel) + 2;
    char *p = frz_malloc(n, "image path");
    if (!p) return FRZ_ERR_NOMEM;
    if (rel[0] == '/') snprintf(p, n, "%s", rel);
    else snprintf(p, n, "%s/%s", dir, rel);
    if (!is_file(p)) {
        frz_status st = frz_fail(FRZ_ERR_IO, "%s: %s: image '%s' not found", what, field, p);
        free(p);
        return st;
    }
    *out = p;
    return FRZ_OK;
}

static frz_status dup_str(const char *s, char **out)
{
    *out = frz_strdup(s, "episode text");
    return *out ? FRZ_OK : FRZ_ERR_NOMEM;
}

/* A string field as text: strings as they are, integers printed (ids); NULL when missing or null. */
static frz_status text_field(const json_t *obj, const char *key, const char *what, char **out)
{
    *out = NULL;
    const json_t *v = json_object_get(obj, key);
    if (!v || json_is_null(v)) return FRZ_OK;
    if (json_is_integer(v)) {
        char buf[32];
        snprintf(buf, sizeof buf, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        return dup_str(buf, out);
    }
    if (!json_is_string(v)) return frz_fail(FRZ_ERR_FORMAT, "%s: field '%s' must be a string", what, key);
    return dup_str(json_string_value(v), out);
}

/* The first of several alternative keys present in obj (NULL if none). */
static const char *first_key(const json_t *obj, const char *const *keys)
{
    for (; *keys; keys++) {
        const json_t *v = json_object_get(obj, *keys);
        if (v && !json_is_null(v)) return *keys;
    }
    return NULL;
}

/* The word a caption names: "This is a dax." / "This is an apple" -> "dax" / "apple"; NULL when the caption
 * has another form. */
static frz_status name_from_caption(const char *caption, char **out)
{
    *out = NULL;
    size_t a, n;
    frz_py_strip(caption, strlen(caption), &a, &n);
    const char *s = caption + a;
    if (n && s[n - 1] == '.') n--;
    static const char *const lead[] = {"This is a ", "This is an ", "this is a ", "this is an "};
    size_t skip = 0;
    for (size_t k = 0; k < sizeof lead / sizeof lead[0]; k++)
        if (n > strlen(lead[k]) && strncmp(s, lead[k], strlen(lead[k])) == 0) skip = strlen(lead[k]);
    if (!skip) return FRZ_OK;
    *out = frz_malloc(n - skip + 1, "episode name");
    if (!*out) return FRZ_ERR_NOMEM;
    memcpy(*out, s + skip, n - skip);
    (*out)[n - skip] = '\0';
    return FRZ_OK;
}

/* A bare word (no whitespace, no sentence punctuation) given as a caption is the name itself. */
static int is_bare_word(const char *s)
{
    if (!*s) return 0;
    for (; *s; s++)
        if (*s == ' ' || *s == '\t' || *s == '\n' || *s == '.' || *s == '?' || *s == '!') return 0;
    return 1;
}

/* Fills ep->names from the support's names in order of first appearance. */
static frz_status collect_names(frz_bind_episode *ep)
{
    ep->names = frz_calloc(ep->n_support ? ep->n_support : 1, sizeof *ep->names, "episode names");
    if (!ep->names) return FRZ_ERR_NOMEM;
    for (size_t i = 0; i < ep->n_support; i++) {
        const char *nm = ep->support[i].name;
        if (!nm) continue;
        size_t k = 0;
        while (k < ep->n_names && strcmp(ep->names[k], nm) != 0) k++;
        if (k == ep->n_names) {
            frz_status st = dup_str(nm, &ep->names[ep->n_names]);
            if (st != FRZ_OK) return st;
            ep->n_names++;
        }
    }
    return FRZ_OK;
}

static int name_index(const frz_bind_episode *ep, const char *nm)
{
    for (size_t k = 0; k < ep->n_names; k++)
        if (strcmp(ep->names[k], nm) == 0) return (int)k;
    return -1;
}

/* Appends an empty episode to the set (growing its array). */
static frz_status push_episode(frz_bind_set *set, size_t *cap, frz_bind_episode **ep)
{
    if (set->n == *cap) {
        size_t nc = *cap ? *cap * 2 : 16;
        frz_bind_episode *p = frz_realloc(set->episodes, nc * sizeof *p, "episodes");
        if (!p) return FRZ_ERR_NOMEM;
        set->episodes = p;
        *cap = nc;
    }
    *ep = &set->episodes[set->n++];
    memset(*ep, 0, sizeof **ep);
    return FRZ_OK;
}

/* ---- our JSONL format -------------------------------------------------------------------------------- */

static frz_status int_opt(const json_t *obj, const char *key, const char *what, int min, int dflt, int *out)
{
    int64_t v;
    frz_status st = frz_json_int_or(obj, key, what, min, 1000000, dflt, &v);
    if (st == FRZ_OK) *out = (int)v;
    return st;
}

static frz_status jsonl_support(const json_t *arr, const char *dir, const char *what, frz_bind_episode *ep)
{
    size_t n = json_array_size(arr);
    if (!json_is_array(arr) || n == 0)
        return frz_fail(FRZ_ERR_FORMAT, "%s: field 'support' must be a non-empty array of {\"image\", \"name\"}", what);
    ep->support = frz_calloc(n, sizeof *ep->support, "episode support");
    if (!ep->support) return FRZ_ERR_NOMEM;
    ep->n_support = n;
    char swhat[1300];
    for (size_t i = 0; i < n; i++) {
        const json_t *s = json_array_get(arr, i);
        frz_bind_shot *shot = &ep->support[i];
        snprintf(swhat, sizeof swhat, "%s: support[%zu]", what, i);
        if (!json_is_object(s)) return frz_fail(FRZ_ERR_FORMAT, "%s: must be an object {\"image\", \"name\"}", swhat);
        const char *img;
        frz_status st = frz_json_string_or(s, "image", swhat, NULL, &img);
        if (st == FRZ_OK && !img) st = frz_fail(FRZ_ERR_FORMAT, "%s: field 'image' is missing", swhat);
        if (st == FRZ_OK) st = resolve_image(dir, img, swhat, "image", &shot->image);
        if (st == FRZ_OK) st = text_field(s, "name", swhat, &shot->name);
        if (st == FRZ_OK) st = text_field(s, "caption", swhat, &shot->caption);
        if (st == FRZ_OK && !shot->name && !shot->caption)
            st = frz_fail(FRZ_ERR_FORMAT, "%s: field 'name' is missing", swhat);
        if (st == FRZ_OK && !shot->name) st = name_from_caption(shot->caption, &shot->name);
        if (st != FRZ_OK) return st;
    }
    return FRZ_OK;
}

static frz_status jsonl_names(const json_t *obj, const char *what, frz_bind_episode *ep)
{
    const json_t *arr = json_object_get(obj, "names");
    if (!arr || json_is_null(arr)) return collect_names(ep);
    size_t n = json_array_size(arr);
    if (!json_is_array(arr) || n == 0)
        return frz_fail(FRZ_ERR_FORMAT, "%s: field 'names' must be a non-empty array of strings", what);
    ep->names = frz_calloc(n, sizeof *ep->names, "episode names");
    if (!ep->names) return FRZ_ERR_NOMEM;
    for (size_t i = 0; i < n; i++) {
        const json_t *v = json_array_get(arr, i);
        if (!json_is_string(v)) return frz_fail(FRZ_ERR_FORMAT, "%s: names[%zu] must be a string", what, i);
        frz_status st = dup_str(json_string_value(v), &ep->names[i]);
        if (st != FRZ_OK) return st;
        ep->n_names++;
        for (size_t k = 0; k < i; k++)
            if (strcmp(ep->names[k], ep->names[i]) == 0)
                return frz_fail(FRZ_ERR_FORMAT, "%s: names[%zu] repeats names[%zu] ('%s')", what, i, k, ep->names[i]);
    }
    for (size_t i = 0; i < ep->n_support; i++)
        if (ep->support[i].name && name_index(ep, ep->support[i].name) < 0)
            return frz_fail(FRZ_ERR_FORMAT, "%s: support[%zu].name '%s' is not in names", what, i, ep->support[i].name);
    return FRZ_OK;
}

static frz_status jsonl_query(const json_t *obj, const char *dir, const char *what, frz_bind_episode *ep)
{
    const json_t *q = json_object_get(obj, "query");
    char qwhat[1300];
    snprintf(qwhat, sizeof qwhat, "%s: query", what);
    if (!json_is_object(q)) return frz_fail(FRZ_ERR_FORMAT, "%s: field 'query' must be an object {\"image\", \"answer\"}", what);
    const char *img;
    frz_status st = frz_json_string_or(q, "image", qwhat, NULL, &img);
    if (st == FRZ_OK && !img) st = frz_fail(FRZ_ERR_FORMAT, "%s: field 'image' is missing", qwhat);
    if (st == FRZ_OK) st = resolve_image(dir, img, qwhat, "image", &ep->query_image);
    if (st == FRZ_OK) st = text_field(q, "answer", qwhat, &ep->answer);
    if (st == FRZ_OK && !ep->answer) st = frz_fail(FRZ_ERR_FORMAT, "%s: field 'answer' is missing", qwhat);
    if (st == FRZ_OK) st = text_field(q, "question", qwhat, &ep->question);
    /* Without a question the task is naming the query: the answer must be one of the episode's words. */
    if (st == FRZ_OK && !ep->question && ep->n_names && name_index(ep, ep->answer) < 0)
        st = frz_fail(FRZ_ERR_FORMAT, "%s: answer '%s' is not one of the episode's names", qwhat, ep->answer);
    return st;
}

static frz_status jsonl_episode(const json_t *obj, const char *dir, const char *what, size_t line,
                                frz_bind_episode *ep)
{
    if (!json_is_object(obj)) return frz_fail(FRZ_ERR_FORMAT, "%s: an episode must be a JSON object", what);
    frz_status st = text_field(obj, "id", what, &ep->id);
    if (st == FRZ_OK && !ep->id) {
        char buf[32];
        snprintf(buf, sizeof buf, "line%zu", line);
        st = dup_str(buf, &ep->id);
    }
    const json_t *ti = json_object_get(obj, "task_induction");
    if (st == FRZ_OK && ti && !json_is_null(ti) && !json_is_boolean(ti))
        st = frz_fail(FRZ_ERR_FORMAT, "%s: field 'task_induction' must be true or false", what);
    ep->task_induction = json_is_true(ti);
    if (st == FRZ_OK) st = int_opt(obj, "repeats", what, 0, 0, &ep->repeats);
    if (st == FRZ_OK) st = jsonl_support(json_object_get(obj, "support"), dir, what, ep);
    if (st == FRZ_OK) st = jsonl_names(obj, what, ep);
    if (st == FRZ_OK) st = int_opt(obj, "ways", what, 1, (int)ep->n_names, &ep->ways);
    if (st == FRZ_OK && ep->ways != (int)ep->n_names)
        st = frz_fail(FRZ_ERR_FORMAT, "%s: ways is %d but the episode has %zu names", what, ep->ways, ep->n_names);
    int dflt_shots = ep->ways ? (int)(ep->n_support / (size_t)ep->ways) : 0;
    if (st == FRZ_OK) st = int_opt(obj, "inner_shots", what, 1, dflt_shots, &ep->inner_shots);
    if (st == FRZ_OK && (size_t)ep->ways * (size_t)ep->inner_shots != ep->n_support)
        st = frz_fail(FRZ_ERR_FORMAT, "%s: %zu support images, but ways %d x inner_shots %d = %d", what,
                      ep->n_support, ep->ways, ep->inner_shots, ep->ways * ep->inner_shots);
    if (st == FRZ_OK) st = jsonl_query(obj, dir, what, ep);
    return st;
}

/* Two episodes with the same id would be indistinguishable in reports (and resumed runs). */
static frz_status check_unique_ids(const frz_bind_set *set, const char *path)
{
    for (size_t i = 0; i < set->n; i++)
        for (size_t j = 0; j < i; j++)
            if (strcmp(set->episodes[i].id, set->episodes[j].id) == 0)
                return frz_fail(FRZ_ERR_FORMAT, "%s: episodes %zu and %zu have the same id '%s'", path, j + 1, i + 1,
                                set->episodes[i].id);
    return FRZ_OK;
}

frz_status frz_bind_load_jsonl(const char *path, frz_bind_set **out)
{
    *out = NULL;
    char *buf = NULL, *dir = NULL;
    size_t len = 0, cap = 0;
    frz_bind_set *set = frz_calloc(1, sizeof *set, "episode set");
    if (!set) return FRZ_ERR_NOMEM;
    frz_status st = dup_str(path, &set->source);
    if (st == FRZ_OK) st = dir_of(path, &dir);
    if (st == FRZ_OK) st = frz_read_file(path, &buf, &len);
    size_t pos = 0, line = 0;
    while (st == FRZ_OK && pos < len) {
        line++;
        size_t end = pos;
        while (end < len && buf[end] != '\n') end++;
        size_t n = end - pos;
        if (n && buf[pos + n - 1] == '\r') n--;
        size_t a, m;
        frz_py_strip(buf + pos, n, &a, &m);
        if (m > 0) {
            char what[1200];
            snprintf(what, sizeof what, "%s: line %zu", path, line);
            json_error_t err;
            json_t *obj = json_loadb(buf + pos, n, JSON_REJECT_DUPLICATES, &err);
            if (!obj) {
                st = frz_fail(json_error_code(&err) == json_error_out_of_memory ? FRZ_ERR_NOMEM : FRZ_ERR_FORMAT,
                              "%s column %d: %s", what, err.column, err.text);
                break;
            }
            frz_bind_episode *ep;
            st = push_episode(set, &cap, &ep);
            if (st == FRZ_OK) st = jsonl_episode(obj, dir, what, line, ep);
            json_decref(obj);
        }
        pos = end + 1;
    }
    if (st == FRZ_OK && set->n == 0) st = frz_fail(FRZ_ERR_FORMAT, "%s: no episodes", path);
    if (st == FRZ_OK) st = check_unique_ids(set, path);
    free(buf);
    free(dir);
    if (st != FRZ_OK) {
        frz_bind_free(set);
        return st;
    }
    *out = set;
    return FRZ_OK;
}

/* ---- the released layout ----------------------------------------------------------------------------- */

/* What the file name tells: "<task>_shots_<n>_ways_<m>_all_questions.json" -> the image-name prefix
 * "<task>_shots_<n>_ways_<m>", n and m (0 when the name has another form). */
typedef struct released_name {
    char *prefix;
    int shots, ways;
} released_name;

static frz_status parse_released_name(const char *path, released_name *rn)
{
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    size_t n = strlen(base);
    static const char suffix[] = "_all_questions.json";
    size_t cut = n;
    if (n > strlen(suffix) && strcmp(base + n - strlen(suffix), suffix) == 0) cut = n - strlen(suffix);
    else if (n > 5 && strcmp(base + n - 5, ".json") == 0) cut = n - 5;
    rn->prefix = frz_malloc(cut + 1, "released file prefix");
    if (!rn->prefix) return FRZ_ERR_NOMEM;
    memcpy(rn->prefix, base, cut);
    rn->prefix[cut] = '\0';
    rn->shots = rn->ways = 0;
    const char *sh = strstr(rn->prefix, "_shots_");
    if (sh) {
        int s = 0, w = 0, used = 0;
        if (sscanf(sh, "_shots_%d_ways_%d%n", &s, &w, &used) == 2 && sh[used] == '\0' && s > 0 && w > 0) {
            rn->shots = s;
            rn->ways = w;
        }
    }
    return FRZ_OK;
}

static const char *const ID_KEYS[] = {"question_id", "id", "qid", NULL};
static const char *const QUERY_IMAGE_KEYS[] = {"question_image", "query_image", "image_question", "question_img", NULL};
static const char *const QUESTION_KEYS[] = {"question", "question_text", "prompt", NULL};
static const char *const ANSWER_KEYS[] = {"answer", "answers", "label", "target", NULL};

/* One support shot k (1-based) of a released question: "image_k" / "caption_k" / "name_k" (or "label_k"). */
static frz_status released_shot(const json_t *q, int k, const char *dir, const released_name *rn, const char *id,
                                const char *what, frz_bind_shot *shot)
{
    char ikey[32], ckey[32], nkey[32], lkey[32];
    snprintf(ikey, sizeof ikey, "image_%d", k);
    snprintf(ckey, sizeof ckey, "caption_%d", k);
    snprintf(nkey, sizeof nkey, "name_%d", k);
    snprintf(lkey, sizeof lkey, "label_%d", k);
    char *img = NULL;
    frz_status st = text_field(q, ikey, what, &img);
    if (st == FRZ_OK && !img) { /* the file name the release uses */
        size_t n = strlen(rn->prefix) + strlen(id) + 48;
        img = frz_malloc(n, "image name");
        if (!img) return FRZ_ERR_NOMEM;
        snprintf(img, n, "%s_id_%s_image_%d.jpg", rn->prefix, id, k);
    }
    if (st == FRZ_OK) st = resolve_image(dir, img, what, ikey, &shot->image);
    free(img);
    if (st == FRZ_OK) st = text_field(q, ckey, what, &shot->caption);
    if (st == FRZ_OK) st = text_field(q, nkey, what, &shot->name);
    if (st == FRZ_OK && !shot->name) st = text_field(q, lkey, what, &shot->name);
    if (st == FRZ_OK && !shot->name && !shot->caption)
        st = frz_fail(FRZ_ERR_FORMAT, "%s: support image %d has no text (looked for '%s', '%s', '%s')", what, k, ckey,
                      nkey, lkey);
    if (st == FRZ_OK && !shot->name && is_bare_word(shot->caption)) {
        shot->name = shot->caption;
        shot->caption = NULL;
    }
    if (st == FRZ_OK && !shot->name) st = name_from_caption(shot->caption, &shot->name);
    return st;
}

/* Number of support shots: consecutive image_k / caption_k keys from k = 1. */
static int count_shots(const json_t *q)
{
    int k = 1;
    for (;; k++) {
        char ikey[32], ckey[32];
        snprintf(ikey, sizeof ikey, "image_%d", k);
        snprintf(ckey, sizeof ckey, "caption_%d", k);
        if (!json_object_get(q, ikey) && !json_object_get(q, ckey)) break;
    }
    return k - 1;
}

static frz_status released_episode(const json_t *q, size_t index, const char *key, const char *dir,
                                   const released_name *rn, const char *path, frz_bind_episode *ep)
{
    char what[1200];
    snprintf(what, sizeof what, "%s: question %zu", path, index + 1);
    if (!json_is_object(q)) return frz_fail(FRZ_ERR_FORMAT, "%s: must be a JSON object", what);
    const char *k = first_key(q, ID_KEYS);
    frz_status st = k ? text_field(q, k, what, &ep->id) : dup_str(key, &ep->id);
    if (st != FRZ_OK) return st;
    snprintf(what, sizeof what, "%s: question %zu (id %s)", path, index + 1, ep->id);

    int n = count_shots(q);
    if (n == 0)
        return frz_fail(FRZ_ERR_FORMAT, "%s: no support images (looked for 'image_1', 'caption_1', ...)", what);
    ep->support = frz_calloc((size_t)n, sizeof *ep->support, "episode support");
    if (!ep->support) return FRZ_ERR_NOMEM;
    ep->n_support = (size_t)n;
    for (int i = 0; i < n && st == FRZ_OK; i++) st = released_shot(q, i + 1, dir, rn, ep->id, what, &ep->support[i]);
    if (st == FRZ_OK) st = collect_names(ep);
    if (st != FRZ_OK) return st;

    k = first_key(q, QUERY_IMAGE_KEYS);
    char *img = NULL;
    if (k) st = text_field(q, k, what, &img);
    else {
        size_t len = strlen(rn->prefix) + strlen(ep->id) + 32;
        img = frz_malloc(len, "image name");
        if (!img) return FRZ_ERR_NOMEM;
        snprintf(img, len, "%s_id_%s_question.jpg", rn->prefix, ep->id);
    }
    if (st == FRZ_OK) st = resolve_image(dir, img, what, k ? k : "question image", &ep->query_image);
    free(img);

    k = first_key(q, QUESTION_KEYS);
    if (st == FRZ_OK && k) st = text_field(q, k, what, &ep->question);
    k = first_key(q, ANSWER_KEYS);
    if (st == FRZ_OK && !k)
        st = frz_fail(FRZ_ERR_FORMAT, "%s: no answer (looked for 'answer', 'answers', 'label', 'target')", what);
    if (st == FRZ_OK) {
        const json_t *a = json_object_get(q, k);
        if (json_is_array(a)) a = json_array_get(a, 0); /* a list of answers: the first */
        if (json_is_string(a)) st = dup_str(json_string_value(a), &ep->answer);
        else st = frz_fail(FRZ_ERR_FORMAT, "%s: field '%s' must be a string (or a list of strings)", what, k);
    }
    /* An answer given in the caption's form ("This is a dax.") is the name it contains. */
    char *named = NULL;
    if (st == FRZ_OK) st = name_from_caption(ep->answer, &named);
    if (named) {
        free(ep->answer);
        ep->answer = named;
    }
    if (st != FRZ_OK) return st;

    ep->ways = rn->ways ? rn->ways : (int)ep->n_names;
    ep->inner_shots = rn->shots ? rn->shots : (ep->ways ? n / ep->ways : 0);
    if ((size_t)ep->ways * (size_t)ep->inner_shots != ep->n_support)
        frz_log(FRZ_LOG_WARN, "%s: %zu support images, but the file name says %d ways x %d shots", what,
                ep->n_support, ep->ways, ep->inner_shots);
    return FRZ_OK;
}

/* The list of questions: a top-level array, an array under "questions" / "data", or an object of objects. */
static frz_status released_list(const json_t *root, const char *path, const json_t **list)
{
    *list = NULL;
    if (json_is_array(root)) *list = root;
    else if (json_is_object(root)) {
        static const char *const keys[] = {"questions", "data", NULL};
        const char *k = first_key(root, keys);
        if (k && json_is_array(json_object_get(root, k))) *list = json_object_get(root, k);
        else *list = root; /* {"1": {...}, "2": {...}} */
    }
    if (!*list || json_object_size(*list) + json_array_size(*list) == 0)
        return frz_fail(FRZ_ERR_FORMAT, "%s: expected a non-empty list of question objects", path);
    return FRZ_OK;
}

frz_status frz_bind_load_released(const char *json_path, frz_bind_set **out)
{
    *out = NULL;
    released_name rn = {0};
    char *dir = NULL;
    json_t *root = NULL;
    size_t cap = 0;
    frz_bind_set *set = frz_calloc(1, sizeof *set, "episode set");
    if (!set) return FRZ_ERR_NOMEM;
    frz_status st = dup_str(json_path, &set->source);
    if (st == FRZ_OK) st = dir_of(json_path, &dir);
    if (st == FRZ_OK) st = parse_released_name(json_path, &rn);
    if (st == FRZ_OK) st = frz_json_load_file(json_path, &root);
    const json_t *list = NULL;
    if (st == FRZ_OK) st = released_list(root, json_path, &list);
    if (st == FRZ_OK && json_is_array(list)) {
        for (size_t i = 0; i < json_array_size(list) && st == FRZ_OK; i++) {
            frz_bind_episode *ep;
            char key[32];
            snprintf(key, sizeof key, "%zu", i + 1);
            st = push_episode(set, &cap, &ep);
            if (st == FRZ_OK) st = released_episode(json_array_get(list, i), i, key, dir, &rn, json_path, ep);
        }
    } else if (st == FRZ_OK) {
        const char *key;
        json_t *v;
        size_t i = 0;
        json_object_foreach((json_t *)list, key, v)
        {
            frz_bind_episode *ep;
            st = push_episode(set, &cap, &ep);
            if (st == FRZ_OK) st = released_episode(v, i++, key, dir, &rn, json_path, ep);
            if (st != FRZ_OK) break;
        }
    }
    if (st == FRZ_OK) st = check_unique_ids(set, json_path);
    json_decref(root);
    free(rn.prefix);
    free(dir);
    if (st != FRZ_OK) {
        frz_bind_free(set);
        return st;
    }
    *out = set;
    return FRZ_OK;
}

/* ---- dispatch ---------------------------------------------------------------------------------------- */

static int ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

/* The one *_all_questions.json in a folder. */
static frz_status find_released_json(const char *dir, char **out)
{
    *out = NULL;
    DIR *d = opendir(dir);
    if (!d) return frz_fail(FRZ_ERR_IO, "%s: cannot open folder: %s", dir, strerror(errno));
    char found[2][512] = {"", ""};
    int count = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        if (ends_with(e->d_name, "_all_questions.json")) {
            if (count < 2) snprintf(found[count], sizeof found[count], "%s", e->d_name);
            count++;
        }
    closedir(d);
    if (count != 1)
        return count == 0 ? frz_fail(FRZ_ERR_IO, "%s: no *_all_questions.json in this folder", dir)
                          : frz_fail(FRZ_ERR_INVALID_ARG,
                                     "%s: %d *_all_questions.json files (%s, %s, ...): name the one to use", dir,
                                     count, found[0], found[1]);
    size_t n = strlen(dir) + strlen(found[0]) + 2;
    *out = frz_malloc(n, "episode file path");
    if (!*out) return FRZ_ERR_NOMEM;
    snprintf(*out, n, "%s/%s", dir, found[0]);
    return FRZ_OK;
}

frz_status frz_bind_load(const char *path, frz_bind_set **out)
{
    *out = NULL;
    struct stat sb;
    if (stat(path, &sb) != 0) return frz_fail(FRZ_ERR_IO, "%s: %s", path, strerror(errno));
    if (S_ISDIR(sb.st_mode)) {
        char *json;
        frz_status st = find_released_json(path, &json);
        if (st != FRZ_OK) return st;
        st = frz_bind_load_released(json, out);
        free(json);
        return st;
    }
    return ends_with(path, ".jsonl") ? frz_bind_load_jsonl(path, out) : frz_bind_load_released(path, out);
}
