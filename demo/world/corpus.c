/* corpus.c -- world/lm/corpus.txt, the demo LM's pretraining text: one sample per line, TAB between segments
 * that are tokenized on their own (frozen pretrain --tab-segments), an image's text form being its caption as a
 * segment. Prompt segments are exactly the eval harness's: "Question: {question} Answer: {answer}" and the
 * binding episode of frz_bind_build_prompt (episode.c). The kinds and the curriculum: demo/world/README.md. */
#include "world.h"

#include <stdlib.h>
#include <string.h>

const char *const w_kind_name[W_KINDS] = {"caption", "qa", "fewshot", "binding", "fact", "knowledge", "repeat"};
static const int easy_kind[W_KINDS] = {1, 1, 0, 0, 1, 1, 1};

static void random_scene(frz_rng *rng, w_scene *s, const uint8_t held_out[W_SHAPES][W_COLOURS])
{
    w_scene_draw(rng, held_out, -1, s); /* the corpus may name every combo (the LM knows the words) */
}

/* A clothing item's description before a knowledge question: its caption ("a boot") or a longer form of it, up
 * to a scene caption's length ("a large gray boot in the middle"). A visual prefix as long as a scene's caption
 * puts the question where, in text, only questions about scenes used to start; the LM must meet questions about
 * clothing there too (docs/demo-run.md). */
static void clothing_description(frz_rng *rng, int cls, char *buf, size_t cap)
{
    static const char *const forms[5] = {"a %s", "a gray %s", "a large gray %s", "a %s in the middle",
                                         "a large gray %s in the middle"};
    snprintf(buf, cap, forms[w_below(rng, 5)], w_class[cls]);
}

/* A shape scene's caption then one question about it: two segments, or the caption alone. */
static frz_status scene_qa(frz_rng *rng, const w_world *w, w_buf *b, int with_question)
{
    w_scene s;
    char cap[128];
    random_scene(rng, &s, w->held_out);
    w_scene_caption(&s, cap, sizeof cap);
    if (!with_question) return w_buf_add(b, cap);
    int q = (int)w_below(rng, W_QTYPES);
    return w_buf_addf(b, "%s\tQuestion: %s Answer: %s", cap, w_question[q], w_scene_answer(&s, q));
}

static frz_status binding(frz_rng *rng, const w_world *w, w_buf *b)
{
    static const int ways[2] = {2, 5}, shots[3] = {1, 3, 5};
    const int shapes = (int)w_below(rng, 2), ti = (int)w_below(rng, 2);
    w_episode ep;
    frz_status st = w_episode_draw(rng, ways[w_below(rng, 2)], shots[w_below(rng, 3)], shapes ? W_SHAPES : W_CLASSES,
                                   &ep);
    if (st) return st;
    const int n = ep.ways * ep.shots + 1;
    char texts[W_MAX_WAYS * W_MAX_SHOTS + 1][128];
    const char *ptr[W_MAX_WAYS * W_MAX_SHOTS + 1];
    for (int i = 0; i < n; i++) {
        int cls = ep.cls[i < n - 1 ? ep.support[i] : ep.query];
        if (shapes) { /* another scene of the class's shape each time: only the shape word tells the name */
            w_scene s;
            random_scene(rng, &s, w->held_out);
            s.shape = (uint8_t)cls;
            w_scene_caption(&s, texts[i], sizeof texts[i]);
        } else {
            w_fashion_caption(cls, texts[i], sizeof texts[i]);
        }
        ptr[i] = texts[i];
    }
    w_segments segs = {0};
    st = w_episode_segments(&ep, ti, ptr, 1, &segs);
    for (size_t i = 0; st == FRZ_OK && i < segs.n; i++) st = w_buf_addf(b, "%s%s", i ? "\t" : "", segs.text[i]);
    w_segments_clear(&segs);
    return st;
}

/* One to three sentences about one class, its facts in a random order. */
static frz_status facts(frz_rng *rng, w_buf *b)
{
    int cls = (int)w_below(rng, W_CLASSES), order[W_KTYPES] = {0, 1, 2};
    w_shuffle(rng, order, W_KTYPES);
    int n = 1 + (int)w_below(rng, W_KTYPES);
    frz_status st = FRZ_OK;
    for (int i = 0; st == FRZ_OK && i < n; i++) {
        char sentence[128];
        w_fact_sentence(cls, order[i], sentence, sizeof sentence);
        st = w_buf_addf(b, "%s%s", i ? " " : "", sentence);
    }
    return st;
}

static frz_status sample(frz_rng *rng, const w_world *w, int kind, w_buf *b)
{
    b->n = 0;
    if (b->s) b->s[0] = '\0';
    char cap[64];
    switch (kind) {
    case K_CAPTION:
        if (w_below(rng, 3) < 2) return scene_qa(rng, w, b, 0);
        w_fashion_caption((int)w_below(rng, W_CLASSES), cap, sizeof cap);
        return w_buf_add(b, cap);
    case K_QA: return scene_qa(rng, w, b, 1);
    case K_FEWSHOT: {
        int shots = 1 + (int)w_below(rng, 4);
        frz_status st = FRZ_OK;
        for (int i = 0; st == FRZ_OK && i <= shots; i++) {
            if (i) st = w_buf_add(b, "\t");
            if (st == FRZ_OK) st = scene_qa(rng, w, b, 1);
        }
        return st;
    }
    case K_BINDING: return binding(rng, w, b);
    case K_REPEAT: { /* "an image, then its caption" in words: the caption twice, as two segments. Text about the
                      * world never otherwise has a caption that earlier context predicts, and an LM that never
                      * saw one learns to ignore the context at a caption's words -- the visual prefix included. */
        char one[128];
        if (w_below(rng, 3) < 2) {
            w_scene s;
            random_scene(rng, &s, w->held_out);
            w_scene_caption(&s, one, sizeof one);
        } else {
            w_fashion_caption((int)w_below(rng, W_CLASSES), one, sizeof one);
        }
        return w_buf_addf(b, "%s\t%s", one, one);
    }
    case K_FACT: return facts(rng, b);
    default: {
        int cls = (int)w_below(rng, W_CLASSES), t = (int)w_below(rng, W_KTYPES);
        clothing_description(rng, cls, cap, sizeof cap);
        return w_buf_addf(b, "%s\tQuestion: %s Answer: %s", cap, w_kquestion[t], w_fact[cls][t]);
    }
    }
}

/* A kind drawn by the mix weights, among the easy kinds only when easy. */
static int draw_kind(frz_rng *rng, const double *mix, int easy)
{
    double total = 0;
    for (int k = 0; k < W_KINDS; k++)
        if (!easy || easy_kind[k]) total += mix[k];
    double u = frz_rng_uniform(rng) * total;
    int last = 0;
    for (int k = 0; k < W_KINDS; k++) {
        if (easy && !easy_kind[k]) continue;
        if (mix[k] <= 0) continue;
        last = k;
        if (u < mix[k]) return k;
        u -= mix[k];
    }
    return last;
}

frz_status w_write_corpus(const w_world *w, w_corpus_stats *cs)
{
    const w_config *cfg = w->cfg;
    memset(cs, 0, sizeof *cs);
    double easy_total = 0;
    for (int k = 0; k < W_KINDS; k++) easy_total += easy_kind[k] ? cfg->mix[k] : 0;
    const size_t n = (size_t)cfg->corpus;
    size_t n_easy = easy_total > 0 ? (size_t)(cfg->easy_fraction * (double)n + 0.5) : 0;
    char dir[4096], path[4096];
    FILE *f = NULL;
    frz_status st = w_path(w, "lm", dir, sizeof dir);
    if (st == FRZ_OK) st = w_mkdirs(dir);
    if (st == FRZ_OK) st = w_path(w, "lm/corpus.txt", path, sizeof path);
    if (st == FRZ_OK) st = w_open(path, &f);
    frz_rng rng;
    world_rng(&rng, cfg->seed, "corpus");
    w_buf b = {0};
    double sum = 0;
    for (size_t i = 0; st == FRZ_OK && i < n; i++) {
        int kind = draw_kind(&rng, cfg->mix, i < n_easy), tries = 0;
        size_t len;
        /* too long for the LM's sequences: draw again (5-way episodes over shapes with 3 or 5 shots never fit
         * in 200 pre-tokens, so the binding mix leans to the shorter settings there) */
        do {
            st = sample(&rng, w, kind, &b);
            len = w_pretokens(b.s);
        } while (st == FRZ_OK && len > (size_t)cfg->max_tokens && ++tries < 100);
        if (st == FRZ_OK && len > (size_t)cfg->max_tokens)
            st = frz_fail(FRZ_ERR_INVALID_ARG, "%s: no %s sample fits in --max-tokens %ld", path, w_kind_name[kind],
                          cfg->max_tokens);
        if (st) break;
        cs->redrawn += (size_t)tries;
        cs->kinds[kind]++;
        cs->max_pretokens = FRZ_MAX(cs->max_pretokens, len);
        sum += (double)len;
        fprintf(f, "%s\n", b.s);
    }
    w_buf_free(&b);
    if (f) {
        frz_status s2 = w_close(path, f);
        if (st == FRZ_OK) st = s2;
    }
    cs->lines = n;
    cs->easy_lines = n_easy;
    cs->mean_pretokens = n ? sum / (double)n : 0;
    return st;
}
