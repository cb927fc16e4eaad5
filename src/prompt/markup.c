/* markup.c -- inline image markers and request files -> ordered text/image segments -> a frz_prompt. */
#include "prompt/markup.h"
#include "eval/text.h"
#include "formats/json_file.h"

#include <stdlib.h>
#include <string.h>

#define MARKER "<img:"

void frz_markup_free(frz_markup *m)
{
    if (!m) return;
    frz_eval_prompt_clear(&m->segs);
    free(m->origin);
    free(m->source);
    memset(m, 0, sizeof *m);
}

size_t frz_markup_n_images(const frz_markup *m)
{
    size_t n = 0;
    for (size_t i = 0; i < m->segs.n; i++) n += m->segs.segs[i].kind == FRZ_EVAL_SEG_IMAGE;
    return n;
}

/* Records where the segment just added came from (origin grows with segs.cap). */
static frz_status note_origin(frz_markup *m, size_t origin)
{
    size_t *o = frz_realloc(m->origin, m->segs.cap * sizeof *o, "segment origins");
    if (!o) return FRZ_ERR_NOMEM;
    m->origin = o;
    m->origin[m->segs.n - 1] = origin;
    return FRZ_OK;
}

/* path, or base_dir/path when base_dir is given and path is relative. *out: free(). */
static frz_status resolve(const char *base_dir, const char *path, char **out)
{
    if (!base_dir || !*base_dir || path[0] == '/') {
        *out = frz_strdup(path, "image path");
        return *out ? FRZ_OK : FRZ_ERR_NOMEM;
    }
    size_t n = strlen(base_dir) + strlen(path) + 2;
    *out = frz_malloc(n, "image path");
    if (!*out) return FRZ_ERR_NOMEM;
    snprintf(*out, n, "%s/%s", base_dir, path);
    return FRZ_OK;
}

static frz_status add_text(frz_markup *m, frz_sbuf *text, size_t origin)
{
    if (text->len == 0) return FRZ_OK;
    frz_status st = frz_eval_prompt_add_text(&m->segs, text->p);
    if (st == FRZ_OK) st = note_origin(m, origin);
    text->len = 0;
    text->p[0] = '\0';
    return st;
}

static frz_status add_image(frz_markup *m, const char *base_dir, const char *path, size_t origin)
{
    char *full = NULL;
    frz_status st = resolve(base_dir, path, &full);
    if (st == FRZ_OK) st = frz_eval_prompt_add_image(&m->segs, full);
    if (st == FRZ_OK) st = note_origin(m, origin);
    free(full);
    return st;
}

/* The path of the marker whose path begins at s[i]: unescaped into *path; *end is the index of its '>'. */
static frz_status read_path(const char *s, size_t i, const char *source, size_t marker_at, frz_sbuf *path,
                            size_t *end)
{
    path->len = 0;
    frz_status st = frz_sbuf_append(path, "", 0);
    for (; st == FRZ_OK; i++) {
        if (s[i] == '\0' || s[i] == '\n')
            return frz_fail(FRZ_ERR_FORMAT, "%s: byte %zu: '" MARKER "' has no closing '>'%s (write '\\" MARKER
                            "' for the text itself)", source, marker_at, s[i] ? " on its line" : "");
        if (s[i] == '\\' && (s[i + 1] == '>' || s[i + 1] == '\\')) {
            st = frz_sbuf_putc(path, s[++i]);
            continue;
        }
        if (s[i] == '>') break;
        st = frz_sbuf_putc(path, s[i]);
    }
    if (st) return st;
    if (path->len == 0) return frz_fail(FRZ_ERR_FORMAT, "%s: byte %zu: empty image path in '" MARKER ">'", source,
                                        marker_at);
    *end = i;
    return FRZ_OK;
}

frz_status frz_markup_parse(const char *s, const char *base_dir, const char *source, frz_markup *out)
{
    memset(out, 0, sizeof *out);
    out->source = frz_strdup(source, "markup source");
    if (!out->source) return FRZ_ERR_NOMEM;
    frz_sbuf text = {0}, path = {0};
    frz_status st = frz_sbuf_append(&text, "", 0);
    size_t text_at = 0;
    for (size_t i = 0; st == FRZ_OK && s[i];) {
        if (s[i] == '\\' && (s[i + 1] == '<' || s[i + 1] == '\\')) { /* an escaped '<' or backslash */
            if (text.len == 0) text_at = i;
            st = frz_sbuf_putc(&text, s[i + 1]);
            i += 2;
        } else if (strncmp(s + i, MARKER, strlen(MARKER)) == 0) {
            size_t end = 0;
            if ((st = add_text(out, &text, text_at))) break;
            if ((st = read_path(s, i + strlen(MARKER), source, i, &path, &end))) break;
            st = add_image(out, base_dir, path.p, i);
            i = end + 1;
        } else {
            if (text.len == 0) text_at = i;
            st = frz_sbuf_putc(&text, s[i++]);
        }
    }
    if (st == FRZ_OK) st = add_text(out, &text, text_at);
    free(text.p);
    free(path.p);
    if (st) frz_markup_free(out);
    return st;
}

/* ---- request files ---------------------------------------------------------------------------------------- */

/* The folder of path ("." when it has none). *out: free(). */
static frz_status dir_of(const char *path, char **out)
{
    const char *slash = strrchr(path, '/');
    size_t n = slash ? (size_t)(slash - path) : 0;
    if (slash && n == 0) n = 1; /* "/x.json" */
    *out = frz_malloc(n + 2, "request folder");
    if (!*out) return FRZ_ERR_NOMEM;
    if (slash) {
        memcpy(*out, path, n);
        (*out)[n] = '\0';
    } else {
        strcpy(*out, ".");
    }
    return FRZ_OK;
}

static frz_status read_segment(frz_markup *m, const json_t *seg, size_t i, const char *path, const char *dir)
{
    if (!json_is_object(seg))
        return frz_fail(FRZ_ERR_FORMAT, "%s: segments[%zu]: must be an object {\"text\": ...} or {\"image\": ...}",
                        path, i);
    const char *key;
    json_t *value;
    json_object_foreach((json_t *)seg, key, value) {
        if (strcmp(key, "text") != 0 && strcmp(key, "image") != 0)
            return frz_fail(FRZ_ERR_FORMAT, "%s: segments[%zu]: unknown key '%s' (a segment is {\"text\": ...} or "
                            "{\"image\": ...})", path, i, key);
    }
    const json_t *text = json_object_get(seg, "text"), *image = json_object_get(seg, "image");
    if ((text != NULL) == (image != NULL))
        return frz_fail(FRZ_ERR_FORMAT, "%s: segments[%zu]: needs exactly one of 'text' and 'image'", path, i);
    const json_t *v = text ? text : image;
    if (!json_is_string(v))
        return frz_fail(FRZ_ERR_FORMAT, "%s: segments[%zu]: field '%s' must be a string", path, i,
                        text ? "text" : "image");
    const char *str = json_string_value(v);
    if (image && !*str) return frz_fail(FRZ_ERR_FORMAT, "%s: segments[%zu]: field 'image' is empty", path, i);
    if (text) {
        if (!*str) return FRZ_OK;
        frz_status st = frz_eval_prompt_add_text(&m->segs, str);
        return st ? st : note_origin(m, i);
    }
    return add_image(m, dir, str, i);
}

frz_status frz_markup_load_request(const char *path, frz_markup *out)
{
    memset(out, 0, sizeof *out);
    out->from_request = 1;
    out->source = frz_strdup(path, "request path");
    if (!out->source) return FRZ_ERR_NOMEM;
    json_t *root = NULL;
    char *dir = NULL;
    frz_status st = frz_json_load_file(path, &root);
    if (st == FRZ_OK) st = dir_of(path, &dir);
    const json_t *segs = st == FRZ_OK ? json_object_get(root, "segments") : NULL;
    if (st == FRZ_OK && (!json_is_object(root) || !json_is_array(segs)))
        st = frz_fail(FRZ_ERR_FORMAT, "%s: expected an object with a 'segments' array", path);
    if (st == FRZ_OK && json_object_size(root) != 1) {
        const char *key;
        json_t *value;
        json_object_foreach(root, key, value) {
            if (strcmp(key, "segments") != 0) {
                st = frz_fail(FRZ_ERR_FORMAT, "%s: unknown key '%s' (the request holds 'segments' only)", path, key);
                break;
            }
        }
    }
    for (size_t i = 0; st == FRZ_OK && i < json_array_size(segs); i++)
        st = read_segment(out, json_array_get(segs, i), i, path, dir);
    json_decref(root);
    free(dir);
    if (st) frz_markup_free(out);
    return st;
}

/* ---- into a prompt ------------------------------------------------------------------------------------------ */

frz_status frz_markup_to_prompt(const frz_markup *m, frz_prompt *pr, unsigned text_flags)
{
    for (size_t i = 0; i < m->segs.n; i++) {
        const frz_eval_seg *seg = &m->segs.segs[i];
        frz_status st = seg->kind == FRZ_EVAL_SEG_TEXT ? frz_prompt_add_text(pr, seg->text, (size_t)-1, text_flags)
                                                       : frz_prompt_add_image_file(pr, seg->image_path);
        if (st == FRZ_OK) continue;
        const char *kind = seg->kind == FRZ_EVAL_SEG_TEXT ? "text" : "image '";
        const char *name = seg->kind == FRZ_EVAL_SEG_TEXT ? "" : seg->image_path;
        const char *close = seg->kind == FRZ_EVAL_SEG_TEXT ? "" : "'";
        if (m->from_request)
            return frz_fail_prefix(st, "%s: segments[%zu]: %s%s%s: ", m->source, m->origin[i], kind, name, close);
        return frz_fail_prefix(st, "%s: byte %zu: %s%s%s: ", m->source, m->origin[i], kind, name, close);
    }
    return FRZ_OK;
}
