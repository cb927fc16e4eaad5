/* world.h -- the demo world (demo/world/README.md): its vocabulary, its scenes, the generator's settings and
 * the parts that write each file. Everything is drawn from src/math/rng.h streams derived from the seed, one
 * stream per part (world_rng), so changing one part's count leaves the others' draws as they were. */
#ifndef FRZ_DEMO_WORLD_H
#define FRZ_DEMO_WORLD_H

#include "core/core.h"
#include "math/rng.h"
#include "idx.h"

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* ---- vocabulary (vocab.c) ---------------------------------------------------------------------------------- */
enum {
    W_SHAPES = 6, W_COLOURS = 8, W_SIZES = 2, W_COUNTS = 3, W_POSITIONS = 5,
    W_QTYPES = 4,      /* colour, shape, size, position */
    W_KTYPES = 3,      /* made of, worn on, used for */
    W_CLASSES = 10,    /* Fashion-MNIST */
    W_HELDOUT = 8,     /* held-out shape-colour combos: each colour once, each shape at least once */
    W_NAMES = 30       /* nonsense words for binding */
};
#define W_SIDE 64                      /* shape scenes are W_SIDE x W_SIDE RGB */
#define W_FASHION_TEST_ID 100000       /* fashion test image i has id W_FASHION_TEST_ID + i; train image i: i + 1 */

extern const char *const w_shape[W_SHAPES], *const w_shape_plural[W_SHAPES];
extern const char *const w_colour[W_COLOURS];
extern const uint8_t w_colour_rgb[W_COLOURS][3];
extern const char *const w_size[W_SIZES], *const w_count[W_COUNTS];
extern const char *const w_position[W_POSITIONS], *const w_position_answer[W_POSITIONS];
extern const char *const w_question[W_QTYPES], *const w_question_type[W_QTYPES];
extern const char *const w_class[W_CLASSES];
extern const char *const w_kquestion[W_KTYPES], *const w_kquestion_type[W_KTYPES];
extern const char *const w_fact[W_CLASSES][W_KTYPES];
extern const char *const w_names[W_NAMES];

/* A fact as a sentence ("A sandal is made of leather."), into buf. */
void w_fact_sentence(int cls, int ktype, char *buf, size_t cap);
/* A fashion image's caption: "a sandal". */
void w_fashion_caption(int cls, char *buf, size_t cap);

/* ---- scenes (scene.c, render.c) ---------------------------------------------------------------------------- */
typedef struct w_scene {
    int64_t id;  /* image id (file <id>.png), 0 for scenes that only exist as text */
    uint8_t shape, colour, size, count, pos;
    int8_t cx[3], cy[3];  /* object centres in pixels */
} w_scene;

/* Draws attributes and a layout. held_out[shape][colour] marks the held-out combos; want_held_out picks a combo
 * among them (1), outside them (0), or any (-1). */
void w_scene_draw(frz_rng *rng, const uint8_t held_out[W_SHAPES][W_COLOURS], int want_held_out, w_scene *s);
/* "two small red circles on the left" (no period, no leading space). */
void w_scene_caption(const w_scene *s, char *buf, size_t cap);
/* The answer to question type q (w_question[q]) about s: a colour, shape, size or position word. */
const char *w_scene_answer(const w_scene *s, int q);
/* Object half-size in pixels (the shape fits in the square centre +- half). */
int w_half_size(int size);
/* Renders onto black: rgb (W_SIDE, W_SIDE, 3). aa = supersampling factor per axis (1: hard edges). */
void w_scene_render(const w_scene *s, int aa, uint8_t *rgb);

/* ---- random numbers (rng_util.c) --------------------------------------------------------------------------- */
/* An independent stream for one part of the world: seeded with a hash of (seed, part). */
void world_rng(frz_rng *rng, uint64_t seed, const char *part);
/* Uniform integer in [0, n), n >= 1 (rejection: no modulo bias). */
uint32_t w_below(frz_rng *rng, uint32_t n);
/* Fisher-Yates shuffle of n ints; draws k distinct of 0..n-1 into out (k <= n). */
void w_shuffle(frz_rng *rng, int *a, size_t n);
frz_status w_choose(frz_rng *rng, int n, int k, int *out);

/* ---- binding episodes (episode.c) --------------------------------------------------------------------------- */
enum { W_MAX_WAYS = 5, W_MAX_SHOTS = 5 };
typedef struct w_episode {
    int ways, shots;
    int name[W_MAX_WAYS];                   /* indices into w_names, distinct */
    int cls[W_MAX_WAYS];                    /* the class (shape or fashion class) each name stands for, distinct */
    int support[W_MAX_WAYS * W_MAX_SHOTS];  /* the way (0..ways-1) of each support slot, in prompt order */
    int query;                              /* the query's way */
} w_episode;

/* Names drawn afresh from the pool, ways distinct classes of n_classes, the support in `shots` rounds that each
 * show every way once in a new random order, and a query way. */
frz_status w_episode_draw(frz_rng *rng, int ways, int shots, int n_classes, w_episode *ep);
/* The episode as the eval harness builds its prompt (frz_bind_build_prompt), each image replaced by its text:
 * support slot k by texts[k], the query by texts[ways * shots]; segments appended to *segs (TAB-joined into a
 * corpus line by the caller). With with_answer, the query segment ends with " <name>". */
typedef struct w_segments {
    char **text;
    size_t n, cap;
} w_segments;
frz_status w_episode_segments(const w_episode *ep, int task_induction, const char *const *texts, int with_answer,
                              w_segments *segs);
void w_segments_clear(w_segments *segs);

/* ---- settings (main.c) -------------------------------------------------------------------------------------- */
enum { K_CAPTION, K_QA, K_FEWSHOT, K_BINDING, K_FACT, K_KNOWLEDGE, K_REPEAT, W_KINDS };
extern const char *const w_kind_name[W_KINDS];

typedef struct w_config {
    const char *out;          /* the world folder */
    const char *fashion_dir;  /* Fashion-MNIST IDX files */
    uint64_t seed, eval_seed; /* eval_seed: the VQA shot draw of the probes (frozen eval vqa --seed) */
    const char *scale;        /* "small" or "full" */
    int aa;                   /* supersampling per axis (1 = off) */
    long shape_scenes, heldout_scenes, fashion_train, fashion_pool, vqa_test, vqa_support, knowledge, episodes,
        corpus, max_tokens;
    double easy_fraction;     /* the first part of the corpus: easy kinds only */
    double mix[W_KINDS];      /* the corpus mix (relative weights) */
} w_config;

/* ---- the generated world, shared by the writers ------------------------------------------------------------ */
typedef struct w_world {
    const w_config *cfg;
    uint8_t held_out[W_SHAPES][W_COLOURS];
    int held_list[W_HELDOUT][2];     /* (shape, colour) */
    w_scene *train, *val;            /* train: ids 1..n_train; val (held-out combos): ids n_train+1.. */
    size_t n_train, n_val;
    int *ftrain;                     /* Fashion-MNIST train indices captioned (id = index + 1) */
    size_t n_ftrain;
    int *pool[W_CLASSES];            /* Fashion-MNIST test indices per class (id = W_FASHION_TEST_ID + index) */
    size_t n_pool;                   /* per class */
    uint8_t *test_labels;            /* (10000) the test split's labels, for probes */
    size_t n_test;
    uint8_t *train_labels;
    size_t n_train_labels;
} w_world;

/* The caption of an image, found from its file path (<dir>/shapes/<id>.png or <dir>/fashion/<id>.png), into
 * buf. FRZ_ERR_INVALID_ARG when the path names no image of the world. */
frz_status w_caption_of_path(const w_world *w, const char *path, char *buf, size_t cap);

/* The parts, in the order main runs them. Each writes its files under cfg->out. */
frz_status w_make_scenes(w_world *w);                              /* scenes.c: images/shapes, scene lists */
frz_status w_make_fashion(w_world *w);                             /* fashion.c: images/fashion */
frz_status w_write_captions(const w_world *w);                     /* captions.c: the two TSV files */
frz_status w_write_vqa(const w_world *w);                          /* vqa.c: vqa/ and knowledge/ */
frz_status w_write_binding(const w_world *w);                      /* binding.c: binding/fashion_*.jsonl */
typedef struct w_corpus_stats {
    size_t lines, kinds[W_KINDS], easy_lines, max_pretokens, redrawn;
    double mean_pretokens;
} w_corpus_stats;
frz_status w_write_corpus(const w_world *w, w_corpus_stats *stats);   /* corpus.c: lm/corpus.txt */
frz_status w_write_probes(const w_world *w, size_t *n);            /* probes.c: text/probes.jsonl */
frz_status w_write_meta(const w_world *w, const w_corpus_stats *cs, size_t n_probes); /* meta.c: meta.json */
void w_world_free(w_world *w);

/* ---- small helpers (files.c) -------------------------------------------------------------------------------- */
/* cfg->out + "/" + rel, into buf (FRZ_ERR_INVALID_ARG when too long). */
frz_status w_path(const w_world *w, const char *rel, char *buf, size_t cap);
/* mkdir -p. */
frz_status w_mkdirs(const char *path);
/* fopen for writing with an error naming the path. */
frz_status w_open(const char *path, FILE **f);
/* fclose checking that everything reached the file. */
frz_status w_close(const char *path, FILE *f);

/* A growable string for composing corpus lines and probe segments. */
typedef struct w_buf {
    char *s;
    size_t n, cap;
} w_buf;
frz_status w_buf_add(w_buf *b, const char *text);
frz_status w_buf_addf(w_buf *b, const char *fmt, ...) FRZ_PRINTF(2, 3);
void w_buf_free(w_buf *b);

/* Pre-tokens of a text as GPT-2's pre-tokenizer splits it (a word with its leading space, a digit run, a run of
 * other symbols): a lower bound on its BPE tokens, the corpus length limit's measure. */
size_t w_pretokens(const char *text);

#endif
