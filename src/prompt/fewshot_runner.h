/* fewshot_runner.h -- what the VQA and binding loops of the few-shot driver share (fewshot_runner.c): the
 * session with its chunk cache, batches of queries that share a support, the image memo, the report, progress
 * and the abort check. Internal to src/prompt/fewshot*.c. */
#ifndef FRZ_PROMPT_FEWSHOT_RUNNER_H
#define FRZ_PROMPT_FEWSHOT_RUNNER_H

#include "prompt/fewshot.h"

#include <time.h>

typedef struct fs_runner fs_runner;

/* A queued example once its answer is generated: the task scores it and records it (fs_runner_record). tag is
 * what the task gave fs_runner_submit; segs the example's prompt. */
typedef frz_status (*fs_finish_fn)(fs_runner *r, size_t tag, const frz_eval_prompt *segs, const char *gen,
                                   void *ctx);

/* Opens the report in p->out_dir (created if missing) and the session. total: examples planned. */
frz_status fs_runner_open(const frz_fewshot_params *p, size_t total, fs_finish_fn finish, void *ctx,
                          fs_runner **out);

/* 1 when the example is already in a resumed report: it counts as done (progress) and must be skipped. */
int fs_runner_skip(fs_runner *r, const char *task, const char *setting, int shots, const char *id);

/* Queues an example: segs (taken over: *segs is left empty) split into chunks ending at segment indices
 * chunk_end[0..n_chunks) (ascending, the last = the number of segments; the last chunk is the query, the others
 * the support), images black when blind; `what` names it in messages. The queue runs (fs_runner_flush) first
 * when this example's support differs from the queued ones' or the queue is full. */
frz_status fs_runner_submit(fs_runner *r, frz_eval_prompt *segs, const size_t *chunk_end, size_t n_chunks,
                            int blind, const char *what, size_t tag);

/* Runs the queued examples: their shared support once (or, uncached, once per example), their queries in one
 * batched evaluation, greedy decoding of all of them in lockstep to <|endoftext|>, a newline or max_tokens; then
 * the finish callback for each, in order. */
frz_status fs_runner_flush(fs_runner *r);

/* 1 when the abort callback asks to stop (checked by the loops after each submit). */
int fs_runner_should_stop(fs_runner *r);

/* Writes the record and advances the progress. */
frz_status fs_runner_record(fs_runner *r, const frz_eval_record *rec);

/* Closes: st == FRZ_OK runs what is queued and marks the summaries complete; otherwise the queue is dropped
 * (examples not started are left for a resumed run) and the summaries say "complete": false. Frees everything.
 * Returns st, or the first error of the flush or the close. */
frz_status fs_runner_close(fs_runner *r, frz_status st);

/* ---- internals shared by fewshot_runner.c (files, report, progress, image memo) and fewshot_batch.c (chunks,
 * batches, decoding) ---------------------------------------------------------------------------------------- */

#define FS_MEMO_SIZE 256

/* An image's prefix, kept while the file is among the last FS_MEMO_SIZE used. */
typedef struct memo_entry {
    char *path;
    int blind;
    float *embd; /* (n, D) */
    size_t n;
    uint64_t used;
} memo_entry;

/* A queued example. */
typedef struct pending {
    frz_eval_prompt segs;
    size_t *ends;          /* (n_chunks) chunk ends */
    size_t n_chunks;
    char **keys;           /* (n_chunks - 1) support chunk keys */
    int blind;
    char what[192];
    size_t tag;
} pending;

struct fs_runner {
    frz_fewshot_params p;
    fs_finish_fn finish;
    void *finish_ctx;
    frz_session *s;        /* slot 0: the cached support; slots 1..batch: the queries */
    frz_prompt *chunk;     /* a support chunk being built */
    frz_prompt *enc;       /* scratch prompt that encodes one image for the memo */
    frz_prompt **query;    /* (batch) the queries' chunks */
    memo_entry memo[FS_MEMO_SIZE];
    uint64_t clock;
    char **keys;           /* chunks held by slot 0 */
    size_t *ends;          /* slot length after each */
    size_t n_keys, cap_keys;
    pending *queue;        /* (batch) */
    size_t n_queue;
    int32_t *out;          /* (batch, max_tokens) generated tokens */
    size_t *n_out;         /* (batch) */
    frz_input *inputs;     /* (batch) */
    int32_t *next;         /* (batch) the token each slot takes next */
    size_t *row_of;        /* (batch) logits row of each query in the latest eval, or (size_t)-1 when done */
    int32_t eot;
    size_t V;
    frz_eval_report *report;
    frz_fewshot_progress prog;
    struct timespec t0;
};

/* The prefix rows of an image file (blind: of a black image, the file still read), from the memo or encoded. */
frz_status fs_image_prefix(fs_runner *r, const char *path, int blind, const memo_entry **out);
/* Forgets the chunks slot 0 holds past the first `keep`. */
void fs_forget_chunks(fs_runner *r, size_t keep);
/* Empties the queue, freeing its examples. */
void fs_drop_queue(fs_runner *r);

#endif
