/* fewshot_runner.c -- the few-shot driver's runner: parameters, output files, report, progress, and the memo of
 * image prefixes. Running the prompts (chunks, prompt caching, batches, decoding) is fewshot_batch.c. */
#include "prompt/fewshot_runner.h"
#include "core/file.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

void frz_fewshot_params_init(frz_fewshot_params *p)
{
    memset(p, 0, sizeof *p);
    p->n_threads = 1;
    p->max_tokens = 10;
    p->cache = 1;
    p->settings = FRZ_FEWSHOT_SEEING;
    p->summary_every = 10;
    p->batch = 8;
}

/* ---- files ---------------------------------------------------------------------------------------------- */

/* mkdir -p */
static frz_status make_dirs(const char *dir)
{
    char *d = frz_strdup(dir, "output folder");
    if (!d) return FRZ_ERR_NOMEM;
    frz_status st = FRZ_OK;
    for (char *q = d + 1;; q++) {
        if (*q != '/' && *q != '\0') continue;
        char c = *q;
        *q = '\0';
        if (mkdir(d, 0755) != 0 && errno != EEXIST) {
            st = frz_fail(FRZ_ERR_IO, "%s: cannot create the folder: %s", d, strerror(errno));
            break;
        }
        *q = c;
        if (c == '\0') break;
    }
    free(d);
    return st;
}

void fs_drop_queue(fs_runner *r)
{
    for (size_t i = 0; i < r->n_queue; i++) {
        pending *q = &r->queue[i];
        frz_eval_prompt_clear(&q->segs);
        for (size_t c = 0; c + 1 < q->n_chunks; c++) free(q->keys[c]);
        free(q->keys);
        free(q->ends);
        memset(q, 0, sizeof *q);
    }
    r->n_queue = 0;
}

frz_status fs_runner_open(const frz_fewshot_params *p, size_t total, fs_finish_fn finish, void *ctx,
                          fs_runner **out)
{
    *out = NULL;
    if (!p->lm || !p->out_dir || p->n_threads < 1 || p->max_tokens < 1 || !p->settings || p->batch < 1 ||
        p->batch > 1024)
        return frz_fail(FRZ_ERR_INVALID_ARG, "few-shot evaluation: lm, out_dir, n_threads >= 1, max_tokens >= 1, "
                        "batch 1..1024 and a setting are required");
    fs_runner *r = frz_calloc(1, sizeof *r, "evaluation runner");
    if (!r) return FRZ_ERR_NOMEM;
    r->p = *p;
    r->finish = finish;
    r->finish_ctx = ctx;
    if (r->p.summary_every < 1) r->p.summary_every = 1;
    r->prog.total = total;
    r->eot = (int32_t)frz_lm_get(p->lm, FRZ_LM_EOT_TOKEN);
    r->V = (size_t)frz_lm_get(p->lm, FRZ_LM_N_VOCAB);
    clock_gettime(CLOCK_MONOTONIC, &r->t0);
    const size_t B = (size_t)p->batch;
    char *jsonl = NULL, *sj = NULL, *sm = NULL;
    frz_status st = make_dirs(p->out_dir);
    if (st == FRZ_OK) {
        jsonl = frz_path_join(p->out_dir, "results.jsonl");
        sj = frz_path_join(p->out_dir, "summary.json");
        sm = frz_path_join(p->out_dir, "summary.md");
        if (!jsonl || !sj || !sm) st = FRZ_ERR_NOMEM;
    }
    if (st == FRZ_OK)
        st = frz_eval_report_open(jsonl, sj, sm, p->resume ? FRZ_EVAL_REPORT_RESUME : 0, r->p.summary_every,
                                  &r->report);
    free(jsonl), free(sj), free(sm);
    if (st == FRZ_OK) st = frz_session_create(p->lm, &r->s);
    if (st == FRZ_OK) st = frz_session_set_int(r->s, FRZ_OPT_THREADS, p->n_threads);
    if (st == FRZ_OK) st = frz_session_set_int(r->s, FRZ_OPT_MAX_SEQS, (int64_t)B + 1);
    if (st == FRZ_OK) st = frz_prompt_create(p->lm, p->vision, p->proj, &r->chunk);
    if (st == FRZ_OK) st = frz_prompt_create(p->lm, p->vision, p->proj, &r->enc);
    if (st == FRZ_OK) st = frz_prompt_set_int(r->enc, FRZ_PROMPT_OPT_THREADS, p->n_threads);
    if (st == FRZ_OK) {
        r->query = frz_calloc(B, sizeof *r->query, "query prompts");
        r->queue = frz_calloc(B, sizeof *r->queue, "example queue");
        r->out = frz_calloc(B * (size_t)p->max_tokens, sizeof *r->out, "generated tokens");
        r->n_out = frz_calloc(B, sizeof *r->n_out, "generated counts");
        r->inputs = frz_calloc(B, sizeof *r->inputs, "batch inputs");
        r->next = frz_calloc(B, sizeof *r->next, "next tokens");
        r->row_of = frz_calloc(B, sizeof *r->row_of, "logits rows");
        if (!r->query || !r->queue || !r->out || !r->n_out || !r->inputs || !r->next || !r->row_of)
            st = FRZ_ERR_NOMEM;
    }
    for (size_t i = 0; st == FRZ_OK && i < B; i++) st = frz_prompt_create(p->lm, p->vision, p->proj, &r->query[i]);
    if (st) {
        fs_runner_close(r, st);
        return st;
    }
    *out = r;
    return FRZ_OK;
}

void fs_forget_chunks(fs_runner *r, size_t keep)
{
    for (size_t i = keep; i < r->n_keys; i++) free(r->keys[i]);
    r->n_keys = FRZ_MIN(r->n_keys, keep);
}

frz_status fs_runner_close(fs_runner *r, frz_status st)
{
    if (!r) return st;
    if (st == FRZ_OK) st = fs_runner_flush(r);
    fs_drop_queue(r);
    frz_status cst = st == FRZ_OK ? frz_eval_report_close(r->report) : frz_eval_report_close_incomplete(r->report);
    for (size_t i = 0; i < FS_MEMO_SIZE; i++) {
        free(r->memo[i].path);
        free(r->memo[i].embd);
    }
    fs_forget_chunks(r, 0);
    for (size_t i = 0; r->query && i < (size_t)r->p.batch; i++) frz_prompt_free(r->query[i]);
    free(r->query);
    free(r->queue);
    free(r->keys);
    free(r->ends);
    free(r->out);
    free(r->n_out);
    free(r->inputs);
    free(r->next);
    free(r->row_of);
    frz_prompt_free(r->chunk);
    frz_prompt_free(r->enc);
    frz_session_free(r->s);
    free(r);
    return st != FRZ_OK ? st : cst;
}

/* ---- progress -------------------------------------------------------------------------------------------- */

static void report_progress(fs_runner *r, const char *task, const char *setting, int shots)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    r->prog.elapsed_s = (double)(t.tv_sec - r->t0.tv_sec) + 1e-9 * (double)(t.tv_nsec - r->t0.tv_nsec);
    r->prog.task = task;
    r->prog.setting = setting;
    r->prog.shots = shots;
    if (r->p.progress) r->p.progress(&r->prog, r->p.progress_data);
}

int fs_runner_skip(fs_runner *r, const char *task, const char *setting, int shots, const char *id)
{
    if (!frz_eval_report_done(r->report, task, setting, shots, id)) return 0;
    r->prog.done++;
    r->prog.skipped++;
    report_progress(r, task, setting, shots);
    return 1;
}

int fs_runner_should_stop(fs_runner *r)
{
    return r->p.abort && r->p.abort(r->p.abort_data);
}

frz_status fs_runner_record(fs_runner *r, const frz_eval_record *rec)
{
    frz_status st = frz_eval_report_add(r->report, rec);
    if (st) return st;
    r->prog.done++;
    r->prog.scored++;
    r->prog.score_sum += rec->score;
    report_progress(r, rec->task, rec->setting, rec->shots);
    return FRZ_OK;
}

/* ---- images ----------------------------------------------------------------------------------------------- */

frz_status fs_image_prefix(fs_runner *r, const char *path, int blind, const memo_entry **out)
{
    memo_entry *victim = &r->memo[0];
    for (size_t i = 0; i < FS_MEMO_SIZE; i++) {
        memo_entry *m = &r->memo[i];
        if (m->path && m->blind == blind && strcmp(m->path, path) == 0) {
            m->used = ++r->clock;
            *out = m;
            return FRZ_OK;
        }
        if (m->used < victim->used) victim = m;
    }
    frz_prompt_clear(r->enc);
    frz_status st = frz_prompt_set_int(r->enc, FRZ_PROMPT_OPT_BLIND, blind);
    if (st == FRZ_OK) st = frz_prompt_add_image_file(r->enc, path);
    if (st) return st;
    r->prog.images_encoded++;
    const size_t n = frz_prompt_len(r->enc), D = (size_t)frz_lm_get(r->p.lm, FRZ_LM_N_EMBD);
    float *embd = frz_malloc(n * D * sizeof *embd, "image prefix memo");
    char *p = frz_strdup(path, "image path memo");
    if (!embd || !p) {
        free(embd), free(p);
        return FRZ_ERR_NOMEM;
    }
    for (size_t i = 0; i < n; i++) memcpy(embd + i * D, frz_prompt_embedding(r->enc, i), D * sizeof *embd);
    free(victim->path);
    free(victim->embd);
    *victim = (memo_entry){p, blind, embd, n, ++r->clock};
    *out = victim;
    return FRZ_OK;
}
