/* fewshot_runner.h -- what the VQA and binding loops of the few-shot driver share (fewshot_runner.c): the
 * session with its chunk cache, batches of queries that share a support, the image memo, the report, progress
 * and the abort check. Internal to src/prompt/fewshot*.c. */
#ifndef FRZ_PROMPT_FEWSHOT_RUNNER_H
#define FRZ_PROMPT_FEWSHOT_RUNNER_H

#include "prompt/fewshot.h"

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

#endif
