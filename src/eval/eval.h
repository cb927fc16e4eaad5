/* eval.h -- the evaluation harness's internal library (project issue 4): what `frozen eval` drives.
 *
 *   VQA accuracy        the official VQA script's normalisation and leave-one-out accuracy (vqa_metric.c)
 *   VQA data            VQAv2 / OK-VQA questions + annotations + COCO image folder, n-shot sampling (vqa_data.c)
 *   concept binding     Open-Ended miniImageNet / Fast-VQA episodes: the released layout and our JSONL
 *                       (binding_data.c)
 *   prompts             episode / VQA n-shot -> ordered {text | image} segments (prompt_seg.c)
 *   scoring             cutting a generation to its answer, the binding exact-match rule (scoring.c)
 *   reports             per-example JSONL, summary JSON + Markdown tables rewritten atomically (report.c)
 *
 * Not part of include/frozen.h. File formats and every assumption: docs/eval-formats.md.
 * Conventions are the library's: a frz_status per fallible call with a message naming file / field / index,
 * allocation through frz_malloc & co., nothing printed. Strings are UTF-8, NUL-terminated, owned by the
 * structure that holds them. */
#ifndef FRZ_EVAL_H
#define FRZ_EVAL_H

#include "core/core.h"

#include <stdint.h>

/* ======================================================================================================= */
/* VQA accuracy (vqa_metric.c)                                                                              */

/* The script's processPunctuation: the characters ; / [ ] " { } ( ) = + \ _ - > < @ ` , ? ! are deleted when
 * that character touches a space somewhere in the text or the text holds a digit-comma-digit ("1,000"), else
 * replaced by a space; then up to 32 '.' not followed by a digit are deleted. *out: free(). */
frz_status frz_vqa_process_punctuation(const char *in, char **out);

/* The script's processDigitArticle: lower-case, split on whitespace, "none"/"zero".."ten" -> "0".."10", drop
 * "a" "an" "the", expand contractions ("dont" -> "don't"), join with single spaces. *out: free(). */
frz_status frz_vqa_process_digit_article(const char *in, char **out);

/* What the script does to a predicted answer: '\n' and '\t' -> ' ', strip, punctuation, digits/articles. */
frz_status frz_vqa_normalize_answer(const char *in, char **out);

/* The VQA accuracy in [0, 1] of a predicted answer against the n human answers as stored in the annotation
 * file (raw). The prediction is normalised; the human answers get processPunctuation only when they are not all
 * the same string (the script's rule). acc = mean over i of min(#{j != i : answer_j == prediction} / 3, 1);
 * with 10 answers, 1 / 2 / 3 / 4+ matching humans give 0.3 / 0.6 / 0.9 / 1.0. */
frz_status frz_vqa_accuracy(const char *pred, const char *const *answers, size_t n_answers, double *acc);

/* ======================================================================================================= */
/* VQA data (vqa_data.c)                                                                                   */

typedef struct frz_vqa_item {
    int64_t question_id;
    int64_t image_id;
    char *question;
    char **answers;       /* the human answers' "answer" strings, raw, in file order */
    size_t n_answers;     /* >= 1 (10 in VQAv2 and OK-VQA) */
    char *mc_answer;      /* "multiple_choice_answer", or NULL */
    char *question_type;  /* or NULL */
    char *answer_type;    /* or NULL */
} frz_vqa_item;

typedef struct frz_vqa_set {
    frz_vqa_item *items;  /* in the questions file's order */
    size_t n;
    char *questions_path; /* for messages */
    char *image_dir;      /* NULL when none was given */
    char *coco_prefix;    /* "COCO_" + the questions file's data_subtype + "_" (default "COCO_val2014_") */
    size_t *by_id;        /* indices of items sorted by question_id (frz_vqa_find) */
} frz_vqa_set;

/* Reads a VQAv2 / OK-VQA questions file and its annotations file and joins them by question_id (every question
 * needs exactly one annotation; annotations of other questions are ignored). image_dir may be NULL (no images).
 * Errors name the file, the array index and the field ("...: annotations[3].answers[2]: field 'answer' ..."),
 * and a question without annotation by its question_id. */
frz_status frz_vqa_load(const char *questions_path, const char *annotations_path, const char *image_dir,
                        frz_vqa_set **out);
void frz_vqa_free(frz_vqa_set *set);

/* The item with this question_id: FRZ_OK and *index, or FRZ_ERR_INVALID_ARG. */
frz_status frz_vqa_find(const frz_vqa_set *set, int64_t question_id, size_t *index);

/* The image file of item `index`, searched in image_dir in this order: <coco_prefix><image_id %012d>.jpg,
 * <image_id %012d>.jpg, <image_id>.jpg, <image_id>.png. FRZ_ERR_IO naming the question, the image id and the
 * names tried when none exists; FRZ_ERR_INVALID_ARG when the set has no image_dir. *out: free(). */
frz_status frz_vqa_image_path(const frz_vqa_set *set, size_t index, char **out);

/* The answer a support shot shows: multiple_choice_answer when present, else the most frequent human answer
 * (the first of the most frequent in file order). */
const char *frz_vqa_shot_answer(const frz_vqa_item *item);

/* Also exclude support items showing the query's image (for drawing shots from the query's own split). */
#define FRZ_VQA_SHOTS_OTHER_IMAGES 1u

/* Draws n distinct support items for a query, reproducibly: the draw depends only on (seed, the query's
 * question_id, n, the support set), not on the order queries are evaluated in. Never the query itself (an item
 * with the query's question_id), nor, with FRZ_VQA_SHOTS_OTHER_IMAGES, an item with the query's image_id.
 * out_idx (n): support indices, in draw order. FRZ_ERR_INVALID_ARG when fewer than n items are eligible. */
frz_status frz_vqa_sample_shots(const frz_vqa_set *support, const frz_vqa_item *query, uint64_t seed, size_t n,
                                unsigned flags, size_t *out_idx);

/* ======================================================================================================= */
/* Fast concept binding episodes (binding_data.c)                                                          */

typedef struct frz_bind_shot {
    char *image;    /* path (resolved against the episode file's folder) */
    char *name;     /* the word bound to the image ("dax"), or NULL when only a caption is known */
    char *caption;  /* a caption given by the data ("This is a dax."), or NULL: then built from name */
} frz_bind_shot;

typedef struct frz_bind_episode {
    char *id;
    int ways;            /* classes in the support */
    int inner_shots;     /* distinct images per class */
    int repeats;         /* extra presentations of the whole support (0: shown once) */
    int task_induction;  /* lead with "Answer with dax or blicket." */
    char **names;        /* the episode's words, in order of first appearance */
    size_t n_names;
    frz_bind_shot *support;
    size_t n_support;
    char *query_image;
    char *question;      /* Fast-VQA's question ("What is the dax made of?"), or NULL: "What is this?" */
    char *answer;
} frz_bind_episode;

typedef struct frz_bind_set {
    frz_bind_episode *episodes;
    size_t n;
    char *source;
} frz_bind_set;

/* Our JSONL episode format (one episode per line; see docs/eval-formats.md). Image paths are relative to the
 * JSONL file's folder and must exist. Errors name the file, the line and the field ("eps.jsonl: line 3:
 * support[1].name: ..."). */
frz_status frz_bind_load_jsonl(const char *path, frz_bind_set **out);

/* The layout released with the Frozen paper: <dir>/<task>_shots_<n>_ways_<m>_all_questions.json plus the jpg
 * files it names (or, when a file name is absent, <task>_shots_<n>_ways_<m>_id_<x>_image_<i>.jpg and
 * ..._id_<x>_question.jpg). The field names are tolerant (docs/eval-formats.md); what is missing is named. */
frz_status frz_bind_load_released(const char *json_path, frz_bind_set **out);

/* Either of the above: a path ending in ".jsonl", a ".json" file, or a folder holding exactly one
 * *_all_questions.json. */
frz_status frz_bind_load(const char *path, frz_bind_set **out);
void frz_bind_free(frz_bind_set *set);

/* ======================================================================================================= */
/* Prompt segments (prompt_seg.c): what the prompt builder consumes, in order.                             */

typedef enum frz_eval_seg_kind {
    FRZ_EVAL_SEG_TEXT = 0,
    FRZ_EVAL_SEG_IMAGE = 1
} frz_eval_seg_kind;

typedef struct frz_eval_seg {
    frz_eval_seg_kind kind;
    char *text;        /* TEXT: the text, without added spaces; IMAGE: NULL */
    char *image_path;  /* IMAGE: the file; TEXT: NULL */
} frz_eval_seg;

/* Zero-initialise; frz_eval_prompt_clear frees the contents (and leaves an empty, reusable prompt). */
typedef struct frz_eval_prompt {
    frz_eval_seg *segs;
    size_t n, cap;
} frz_eval_prompt;

void frz_eval_prompt_clear(frz_eval_prompt *p);
frz_status frz_eval_prompt_add_text(frz_eval_prompt *p, const char *text);
frz_status frz_eval_prompt_add_image(frz_eval_prompt *p, const char *path);

/* The prompt as one string, each image replaced by `image_marker` (e.g. "<image>"). *out: free(). */
frz_status frz_eval_prompt_render(const frz_eval_prompt *p, const char *image_marker, char **out);

/* Templates use {name}, {names}, {question}, {answer}; "{{" and "}}" are literal braces; any other {...} is an
 * error. The defaults are the paper's text. */
typedef struct frz_bind_prompt_settings {
    int task_induction;              /* -1: the episode's flag; 0: off; 1: on */
    int repeats;                     /* -1: the episode's; else >= 0 extra presentations of the support */
    const char *induction_template;  /* "Answer with {names}." ({names}: "dax or blicket", "a, b or c") */
    const char *caption_template;    /* "This is a {name}." (used when a shot has no caption of its own) */
    const char *query_template;      /* "Question: {question} Answer:" */
    const char *default_question;    /* "What is this?" */
} frz_bind_prompt_settings;

void frz_bind_prompt_settings_init(frz_bind_prompt_settings *s);

/* [induction] then the support (image, caption) pairs (1 + repeats times), then the query image and the
 * query text. out is cleared first. */
frz_status frz_bind_build_prompt(const frz_bind_episode *ep, const frz_bind_prompt_settings *s,
                                 frz_eval_prompt *out);

typedef struct frz_vqa_prompt_settings {
    const char *shot_template;   /* "Question: {question} Answer: {answer}" */
    const char *query_template;  /* "Question: {question} Answer:" */
} frz_vqa_prompt_settings;

void frz_vqa_prompt_settings_init(frz_vqa_prompt_settings *s);

/* For each shot (support indices shot_idx[0..n_shots)): its image, then the shot text with
 * frz_vqa_shot_answer; then the query's image and the query text. Images come from frz_vqa_image_path of the
 * set each item belongs to. out is cleared first. */
frz_status frz_vqa_build_prompt(const frz_vqa_set *queries, size_t query_index, const frz_vqa_set *support,
                                const size_t *shot_idx, size_t n_shots, const frz_vqa_prompt_settings *s,
                                frz_eval_prompt *out);

/* ======================================================================================================= */
/* Scoring (scoring.c)                                                                                     */

/* The length of the answer part of a generated text: up to the first '\n' or the literal "<|endoftext|>"
 * (generation itself stops at the EOT token; the literal covers text detokenized with specials). */
size_t frz_eval_answer_len(const char *gen);

/* Concept binding: correct iff the answer part of gen, stripped of whitespace, is exactly `answer` (case and
 * punctuation count: "dax." and "Dax" are wrong). Returns 1 or 0. */
int frz_eval_binding_correct(const char *gen, const char *answer);

/* Single-answer open questions (Fast-VQA): *match = 1 iff the answer part of gen and `answer`, both normalised
 * as the VQA script normalises a prediction (frz_vqa_normalize_answer), are equal ("A Dog." matches "dog").
 * The VQA accuracy itself needs several human answers (with one, every leave-one-out subset is empty). */
frz_status frz_eval_normalized_match(const char *gen, const char *answer, int *match);

/* ======================================================================================================= */
/* Reports (report.c)                                                                                      */

typedef struct frz_eval_record {
    const char *task;              /* "vqav2", "okvqa", "open_ended_mi", "fast_vqa", ... */
    const char *setting;           /* a table row: "frozen", "blind", ... */
    int shots;                     /* a table column */
    const char *id;                /* the example's id (question id, episode id) */
    const frz_eval_prompt *prompt; /* may be NULL */
    const char *generation;        /* the raw generated text */
    const char *const *answers;    /* the reference answer(s) */
    size_t n_answers;
    double score;                  /* VQA accuracy in [0, 1], or 0 / 1 */
    int binary;                    /* also write "correct": score == 1 (binding tasks) */
} frz_eval_record;

typedef struct frz_eval_report frz_eval_report;

/* Continue an interrupted run: keep the JSONL's complete lines (a trailing partial line is cut off), count
 * them in the summary, and let frz_eval_report_done skip them. Without it the files are started afresh. */
#define FRZ_EVAL_REPORT_RESUME 1u

/* jsonl_path: one line per example, flushed line by line. summary_json / summary_md (either may be NULL):
 * rewritten atomically (temporary file, fsync, rename) every `summary_every` examples (>= 1) and by
 * frz_eval_report_close. */
frz_status frz_eval_report_open(const char *jsonl_path, const char *summary_json, const char *summary_md,
                                unsigned flags, int summary_every, frz_eval_report **out);

/* Appends one example: a JSON line with task, setting, shots, id, prompt (images as "<image>"), images,
 * generation, answers, score [, correct]. */
frz_status frz_eval_report_add(frz_eval_report *r, const frz_eval_record *rec);

/* Whether (task, setting, shots, id) is already in the report (resumed or added). */
int frz_eval_report_done(const frz_eval_report *r, const char *task, const char *setting, int shots,
                         const char *id);

/* Rewrites the summaries now (marked "complete": false). */
frz_status frz_eval_report_write_summary(frz_eval_report *r);

/* Writes the final summaries (marked "complete": true), closes, frees. Returns the first error met; the report
 * is freed either way. NULL is a no-op. */
frz_status frz_eval_report_close(frz_eval_report *r);
/* The same for a run that stops early (interrupted): the summaries say "complete": false. */
frz_status frz_eval_report_close_incomplete(frz_eval_report *r);

#endif
