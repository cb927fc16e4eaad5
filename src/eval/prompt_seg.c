/* prompt_seg.c -- evaluation prompts as ordered {text | image} segments: concept-binding episodes and VQA
 * n-shot prompts, with the paper's wording as default templates.
 *
 * Segments carry no added spaces or separators: the prompt builder places each image's visual prefix between
 * the token runs of the texts around it, exactly in this order. */
#include "eval/eval.h"
#include "eval/text.h"

#include <stdlib.h>
#include <string.h>

void frz_eval_prompt_clear(frz_eval_prompt *p)
{
    for (size_t i = 0; i < p->n; i++) {
        free(p->segs[i].text);
        free(p->segs[i].image_path);
    }
    free(p->segs);
    p->segs = NULL;
    p->n = p->cap = 0;
}

/* Appends a segment taking ownership of the string (freed here on failure). */
static frz_status push(frz_eval_prompt *p, frz_eval_seg_kind kind, char *s)
{
    if (!s) return FRZ_ERR_NOMEM;
    if (p->n == p->cap) {
        size_t nc = p->cap ? p->cap * 2 : 8;
        frz_eval_seg *v = frz_realloc(p->segs, nc * sizeof *v, "prompt segments");
        if (!v) {
            free(s);
            return FRZ_ERR_NOMEM;
        }
        p->segs = v;
        p->cap = nc;
    }
    frz_eval_seg *seg = &p->segs[p->n++];
    seg->kind = kind;
    seg->text = kind == FRZ_EVAL_SEG_TEXT ? s : NULL;
    seg->image_path = kind == FRZ_EVAL_SEG_IMAGE ? s : NULL;
    return FRZ_OK;
}

frz_status frz_eval_prompt_add_text(frz_eval_prompt *p, const char *text)
{
    return push(p, FRZ_EVAL_SEG_TEXT, frz_strdup(text, "prompt text"));
}

frz_status frz_eval_prompt_add_image(frz_eval_prompt *p, const char *path)
{
    return push(p, FRZ_EVAL_SEG_IMAGE, frz_strdup(path, "prompt image path"));
}

frz_status frz_eval_prompt_render(const frz_eval_prompt *p, const char *image_marker, char **out)
{
    frz_sbuf b = {0};
    frz_status st = frz_sbuf_append(&b, "", 0);
    for (size_t i = 0; i < p->n && st == FRZ_OK; i++)
        st = frz_sbuf_puts(&b, p->segs[i].kind == FRZ_EVAL_SEG_TEXT ? p->segs[i].text : image_marker);
    if (st == FRZ_OK) return frz_sbuf_take(&b, out);
    free(b.p);
    return st;
}

/* ---- templates --------------------------------------------------------------------------------------- */

typedef struct tvar {
    const char *name, *value;
} tvar;

/* Expands {var} placeholders of tmpl from vars; "{{" / "}}" are literal braces. An unknown or unclosed
 * placeholder is an error naming the template (`what`). */
static frz_status expand(const char *tmpl, const tvar *vars, size_t n_vars, const char *what, char **out)
{
    frz_sbuf b = {0};
    frz_status st = frz_sbuf_append(&b, "", 0);
    const char *s = tmpl;
    while (*s && st == FRZ_OK) {
        if ((s[0] == '{' && s[1] == '{') || (s[0] == '}' && s[1] == '}')) {
            st = frz_sbuf_putc(&b, s[0]);
            s += 2;
        } else if (s[0] == '{') {
            const char *close = strchr(s, '}');
            size_t k = 0, len = close ? (size_t)(close - s - 1) : 0;
            while (close && k < n_vars && !(strlen(vars[k].name) == len && strncmp(vars[k].name, s + 1, len) == 0)) k++;
            if (!close || k == n_vars) {
                free(b.p);
                return frz_fail(FRZ_ERR_INVALID_ARG, "%s \"%s\": unknown placeholder at \"%.20s\"", what, tmpl, s);
            }
            st = frz_sbuf_puts(&b, vars[k].value);
            s = close + 1;
        } else {
            st = frz_sbuf_putc(&b, *s++);
        }
    }
    if (st == FRZ_OK) return frz_sbuf_take(&b, out);
    free(b.p);
    return st;
}

/* Expands a template and appends it as a text segment. */
static frz_status add_expanded(frz_eval_prompt *p, const char *tmpl, const tvar *vars, size_t n_vars,
                               const char *what)
{
    char *text;
    frz_status st = expand(tmpl, vars, n_vars, what, &text);
    return st == FRZ_OK ? push(p, FRZ_EVAL_SEG_TEXT, text) : st;
}

/* ---- concept binding --------------------------------------------------------------------------------- */

void frz_bind_prompt_settings_init(frz_bind_prompt_settings *s)
{
    s->task_induction = -1;
    s->repeats = -1;
    s->induction_template = "Answer with {names}.";
    s->caption_template = "This is a {name}.";
    s->query_template = "Question: {question} Answer:";
    s->default_question = "What is this?";
}

/* "dax", "dax or blicket", "dax, blicket or perpo". */
static frz_status join_names(char *const *names, size_t n, char **out)
{
    frz_sbuf b = {0};
    frz_status st = frz_sbuf_append(&b, "", 0);
    for (size_t i = 0; i < n && st == FRZ_OK; i++) {
        if (i > 0) st = frz_sbuf_puts(&b, i + 1 == n ? " or " : ", ");
        if (st == FRZ_OK) st = frz_sbuf_puts(&b, names[i]);
    }
    if (st == FRZ_OK) return frz_sbuf_take(&b, out);
    free(b.p);
    return st;
}

/* A question the data already frames ("Question: ... Answer:", "Q: ...") is used as it is. */
static int is_framed(const char *q) { return strncmp(q, "Question:", 9) == 0 || strncmp(q, "Q:", 2) == 0; }

static frz_status bind_induction(const frz_bind_episode *ep, const frz_bind_prompt_settings *s, frz_eval_prompt *out)
{
    for (size_t i = 0; i < ep->n_support; i++)
        if (!ep->support[i].name)
            return frz_fail(FRZ_ERR_INVALID_ARG,
                            "episode %s: task induction needs every support image's name; support[%zu] has only the "
                            "caption \"%s\"", ep->id, i, ep->support[i].caption);
    if (ep->n_names == 0) return frz_fail(FRZ_ERR_INVALID_ARG, "episode %s: task induction needs names", ep->id);
    char *names;
    frz_status st = join_names(ep->names, ep->n_names, &names);
    if (st != FRZ_OK) return st;
    tvar v[] = {{"names", names}};
    st = add_expanded(out, s->induction_template, v, 1, "induction template");
    free(names);
    return st;
}

frz_status frz_bind_build_prompt(const frz_bind_episode *ep, const frz_bind_prompt_settings *s,
                                 frz_eval_prompt *out)
{
    frz_eval_prompt_clear(out);
    int induction = s->task_induction < 0 ? ep->task_induction : s->task_induction;
    int repeats = s->repeats < 0 ? ep->repeats : s->repeats;
    frz_status st = induction ? bind_induction(ep, s, out) : FRZ_OK;
    for (int r = 0; r <= repeats && st == FRZ_OK; r++)
        for (size_t i = 0; i < ep->n_support && st == FRZ_OK; i++) {
            const frz_bind_shot *shot = &ep->support[i];
            st = frz_eval_prompt_add_image(out, shot->image);
            if (st != FRZ_OK) break;
            if (shot->caption) {
                st = frz_eval_prompt_add_text(out, shot->caption);
            } else {
                tvar v[] = {{"name", shot->name}};
                st = add_expanded(out, s->caption_template, v, 1, "caption template");
            }
        }
    if (st == FRZ_OK) st = frz_eval_prompt_add_image(out, ep->query_image);
    const char *q = ep->question ? ep->question : s->default_question;
    if (st == FRZ_OK && is_framed(q)) st = frz_eval_prompt_add_text(out, q);
    else if (st == FRZ_OK) {
        tvar v[] = {{"question", q}};
        st = add_expanded(out, s->query_template, v, 1, "query template");
    }
    if (st != FRZ_OK) frz_eval_prompt_clear(out);
    return st;
}

/* ---- VQA --------------------------------------------------------------------------------------------- */

void frz_vqa_prompt_settings_init(frz_vqa_prompt_settings *s)
{
    s->shot_template = "Question: {question} Answer: {answer}";
    s->query_template = "Question: {question} Answer:";
}

static frz_status add_vqa_item(frz_eval_prompt *out, const frz_vqa_set *set, size_t index, const char *tmpl,
                               const char *what, int with_answer)
{
    char *path;
    frz_status st = frz_vqa_image_path(set, index, &path);
    if (st != FRZ_OK) return st;
    st = push(out, FRZ_EVAL_SEG_IMAGE, path);
    const frz_vqa_item *it = &set->items[index];
    tvar v[] = {{"question", it->question}, {"answer", with_answer ? frz_vqa_shot_answer(it) : ""}};
    if (st == FRZ_OK) st = add_expanded(out, tmpl, v, with_answer ? 2 : 1, what);
    return st;
}

frz_status frz_vqa_build_prompt(const frz_vqa_set *queries, size_t query_index, const frz_vqa_set *support,
                                const size_t *shot_idx, size_t n_shots, const frz_vqa_prompt_settings *s,
                                frz_eval_prompt *out)
{
    frz_eval_prompt_clear(out);
    frz_status st = FRZ_OK;
    for (size_t k = 0; k < n_shots && st == FRZ_OK; k++)
        st = add_vqa_item(out, support, shot_idx[k], s->shot_template, "VQA shot template", 1);
    if (st == FRZ_OK) st = add_vqa_item(out, queries, query_index, s->query_template, "VQA query template", 0);
    if (st != FRZ_OK) frz_eval_prompt_clear(out);
    return st;
}
