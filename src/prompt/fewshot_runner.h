/* fewshot_runner.h -- what the VQA and binding loops of the few-shot driver share (fewshot_runner.c): the
 * session with its chunk cache, the image memo, the report, progress and the abort check. Internal to
 * src/prompt/fewshot*.c. */
#ifndef FRZ_PROMPT_FEWSHOT_RUNNER_H
#define FRZ_PROMPT_FEWSHOT_RUNNER_H

#include "prompt/fewshot.h"

typedef struct fs_runner fs_runner;

/* Opens the report in p->out_dir (created if missing) and the session. total: examples planned. */
frz_status fs_runner_open(const frz_fewshot_params *p, size_t total, fs_runner **out);

/* 1 when the example is already in a resumed report: it counts as done (progress) and must be skipped. */
int fs_runner_skip(fs_runner *r, const char *task, const char *setting, int shots, const char *id);

/* 1 when the abort callback asks to stop (checked between examples). */
int fs_runner_should_stop(fs_runner *r);

/* Runs one prompt: segs split into chunks ending at segment indices chunk_end[0..n_chunks) (ascending, the last
 * = segs->n; the last chunk is the query, the others the cacheable support), images black when blind. Greedy
 * decoding to <|endoftext|>, a newline or max_tokens. *gen: the generated text (free()). `what` names the example
 * in error messages. */
frz_status fs_runner_generate(fs_runner *r, const frz_eval_prompt *segs, const size_t *chunk_end, size_t n_chunks,
                              int blind, const char *what, char **gen);

/* Writes the record and advances the progress. */
frz_status fs_runner_record(fs_runner *r, const frz_eval_record *rec);

/* Closes the report (complete unless st is FRZ_ERR_CANCELLED or another error) and frees everything. Returns st,
 * or the close's error when st is FRZ_OK. */
frz_status fs_runner_close(fs_runner *r, frz_status st);

#endif
