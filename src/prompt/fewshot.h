/* fewshot.h -- the few-shot evaluation driver behind `frozen eval`: builds each example's prompt from the
 * evaluation library (src/eval), runs it through prompt caching, decodes greedily to <|endoftext|> or a newline,
 * scores the answer and writes the report as it goes. Internal.
 *
 * Prompt caching. Each prompt is evaluated in chunks whose boundaries depend only on the prompt and the run's
 * settings: a VQA k-shot prompt splits after every shot count of the run's --shots list (shots 0,1,4: [shot 1]
 * [shots 2-4] [query]); a binding prompt is [task induction + support] [query]. Slot 0 keeps the support chunks
 * it holds; the next prompt reuses the longest run of identical leading chunks (same texts, same image files,
 * same blind setting), truncates the slot to it and evaluates only the rest, then forks it (frz_session_seq_copy)
 * for the queries. An uncached run (cache = 0) evaluates every chunk of every prompt in the query's own cleared
 * slot, in the same calls: its logits, generations and reports are identical, bit for bit.
 * Batching. Consecutive examples with the same support (binding episodes sharing a support set; VQA questions
 * with shared shots) form a batch of up to `batch`: their query chunks are one evaluation over several slots and
 * greedy decoding steps them together, so the weights are read once per step for the whole batch.
 * Images are encoded once per file while they stay in a small memo (the last 256 files).
 *
 * Files written in out_dir: results.jsonl (one line per example), summary.json and summary.md (rows = settings,
 * columns = shots), see docs/eval-formats.md and docs/prompting.md. */
#ifndef FRZ_PROMPT_FEWSHOT_H
#define FRZ_PROMPT_FEWSHOT_H

#include "eval/eval.h"

typedef struct frz_fewshot_progress {
    size_t done;           /* examples finished so far in this run (skipped ones included) */
    size_t total;          /* examples planned */
    size_t skipped;        /* examples found already done in a resumed report */
    size_t scored;         /* examples evaluated in this run */
    double score_sum;      /* sum of their scores: running accuracy = score_sum / scored */
    const char *task, *setting;
    int shots;             /* the cell of the latest example */
    size_t chunks_evaluated, chunks_reused; /* support chunks computed / taken from the cache */
    size_t support_positions;  /* positions of the support chunks computed */
    size_t query_evals, query_positions; /* batched evaluations of the queries, and their positions */
    size_t decode_evals, decode_rows;    /* batched decoding steps after them, and the tokens they took in */
    size_t images_encoded; /* image files encoded (each once while it stays in the memo of recent ones) */
    double elapsed_s;
} frz_fewshot_progress;

typedef void (*frz_fewshot_progress_fn)(const frz_fewshot_progress *p, void *user_data);

enum { FRZ_FEWSHOT_SEEING = 1, FRZ_FEWSHOT_BLIND = 2 }; /* settings bits: images as they are, black images */

typedef struct frz_fewshot_params {
    const frz_lm *lm;
    const frz_vision *vision;      /* may be NULL only when no prompt has an image */
    const frz_projector *proj;
    int n_threads;                 /* >= 1 */
    int max_tokens;                /* generated tokens per example, before EOT / newline; default 10 */
    int cache;                     /* 1: prompt caching (default); 0: every prompt from scratch, same results */
    unsigned settings;             /* FRZ_FEWSHOT_SEEING and/or FRZ_FEWSHOT_BLIND; default SEEING */
    size_t limit;                  /* evaluate the first `limit` queries / episodes; 0: all */
    const char *out_dir;           /* created if missing */
    int resume;                    /* continue the report in out_dir (skip the examples it holds) */
    int summary_every;             /* rewrite the summaries every this many examples; default 10 */
    int batch;                     /* consecutive examples with the same support are evaluated and decoded together,
                                    * this many at most (1..1024; default 8). Results depend on it in the last bits
                                    * only (BLAS rows in a bigger product), never on `cache` */
    frz_fewshot_progress_fn progress;
    void *progress_data;
    frz_abort_fn abort;            /* polled between examples: what is running finishes, examples queued but not
                                    * started are left for a resumed run, the summaries are written ("complete":
                                    * false) and the run returns FRZ_ERR_CANCELLED */
    void *abort_data;
} frz_fewshot_params;

void frz_fewshot_params_init(frz_fewshot_params *p);

/* Share one support set among all queries: drawn once (seed) for a synthetic query, instead of per query. */
#define FRZ_FEWSHOT_SHARED_SHOTS 1u

typedef struct frz_fewshot_vqa {
    const frz_vqa_set *queries;
    const frz_vqa_set *support;    /* NULL: the queries' own set, shots never showing the query's image */
    const char *task;              /* report task name, e.g. "vqav2", "okvqa" */
    const int *shots;              /* shot counts (each >= 0; evaluated ascending) */
    size_t n_shots;
    uint64_t seed;
    unsigned flags;                /* FRZ_FEWSHOT_SHARED_SHOTS */
} frz_fewshot_vqa;

frz_status frz_fewshot_run_vqa(const frz_fewshot_params *p, const frz_fewshot_vqa *v);

typedef struct frz_fewshot_binding {
    const frz_bind_set *set;
    const char *task;              /* NULL: "<prefix>_<ways>way" with the released file's prefix (open_ended_mi,
                                    * fast_vqa, ...); for JSONL "binding_<ways>way", or "fast_vqa_<ways>way" for an
                                    * episode whose answer is not one of its names */
    int task_induction;            /* -1: each episode's flag; 0: off; 1: on; 2: both */
    int repeats;                   /* -1: each episode's; else extra presentations of the support */
    /* the prompt's wording (frz_bind_prompt_settings); NULL: the paper's ("This is a {name}.", ...) */
    const char *shot_template, *query_template, *induction_template;
} frz_fewshot_binding;

frz_status frz_fewshot_run_binding(const frz_fewshot_params *p, const frz_fewshot_binding *b);

#endif
