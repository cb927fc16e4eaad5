/* fewshot_runner.c -- running evaluation prompts with prompt caching, and keeping the report and progress.
 *
 * Slot 0 of the session holds the support chunks of the latest prompt; chunk i is known by a key (its segments'
 * texts and image paths, and the blind setting) and by the slot length after it. A new prompt keeps the longest
 * run of leading chunks whose keys match, truncates the slot there and evaluates the rest. Because every chunk is
 * always evaluated as one frz_prompt_eval call on top of the same positions, a cached run and an uncached one
 * make the same calls with the same inputs: their results are identical. */
#include "prompt/fewshot_runner.h"
#include "eval/text.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#define MEMO_SIZE 256

void frz_fewshot_params_init(frz_fewshot_params *p)
{
    memset(p, 0, sizeof *p);
    p->n_threads = 1;
    p->max_tokens = 10;
    p->cache = 1;
    p->settings = FRZ_FEWSHOT_SEEING;
    p->summary_every = 10;
}

/* An image's prefix, kept while the file is among the last MEMO_SIZE used. */
typedef struct memo_entry {
    char *path;
    int blind;
    float *embd; /* (n, D) */
    size_t n;
    uint64_t used;
} memo_entry;

struct fs_runner {
    frz_fewshot_params p;
    frz_session *s;
    frz_prompt *chunk;     /* the chunk being built */
    frz_prompt *enc;       /* scratch prompt that encodes one image for the memo */
    memo_entry memo[MEMO_SIZE];
    uint64_t clock;
    char **keys;           /* chunks held by slot 0 */
    size_t *ends;          /* slot length after each */
    size_t n_keys, cap_keys;
    int32_t *out;          /* (max_tokens) */
    frz_eval_report *report;
    frz_fewshot_progress prog;
    struct timespec t0;
};

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

static char *join(const char *dir, const char *name)
{
    size_t n = strlen(dir) + strlen(name) + 2;
    char *s = frz_malloc(n, "output path");
    if (s) snprintf(s, n, "%s/%s", dir, name);
    return s;
}

frz_status fs_runner_open(const frz_fewshot_params *p, size_t total, fs_runner **out)
{
    *out = NULL;
    if (!p->lm || !p->out_dir || p->n_threads < 1 || p->max_tokens < 1 || !p->settings)
        return frz_fail(FRZ_ERR_INVALID_ARG, "few-shot evaluation: lm, out_dir, n_threads >= 1, max_tokens >= 1 "
                        "and a setting are required");
    fs_runner *r = frz_calloc(1, sizeof *r, "evaluation runner");
    if (!r) return FRZ_ERR_NOMEM;
    r->p = *p;
    if (r->p.summary_every < 1) r->p.summary_every = 1;
    r->prog.total = total;
    clock_gettime(CLOCK_MONOTONIC, &r->t0);
    char *jsonl = NULL, *sj = NULL, *sm = NULL;
    frz_status st = make_dirs(p->out_dir);
    if (st == FRZ_OK) {
        jsonl = join(p->out_dir, "results.jsonl");
        sj = join(p->out_dir, "summary.json");
        sm = join(p->out_dir, "summary.md");
        if (!jsonl || !sj || !sm) st = FRZ_ERR_NOMEM;
    }
    if (st == FRZ_OK)
        st = frz_eval_report_open(jsonl, sj, sm, p->resume ? FRZ_EVAL_REPORT_RESUME : 0, r->p.summary_every,
                                  &r->report);
    free(jsonl), free(sj), free(sm);
    if (st == FRZ_OK) st = frz_session_create(p->lm, &r->s);
    if (st == FRZ_OK) st = frz_session_set_int(r->s, FRZ_OPT_THREADS, p->n_threads);
    if (st == FRZ_OK) st = frz_prompt_create(p->lm, p->vision, p->proj, &r->chunk);
    if (st == FRZ_OK) st = frz_prompt_create(p->lm, p->vision, p->proj, &r->enc);
    if (st == FRZ_OK) st = frz_prompt_set_int(r->enc, FRZ_PROMPT_OPT_THREADS, p->n_threads);
    if (st == FRZ_OK && !(r->out = frz_malloc((size_t)p->max_tokens * sizeof *r->out, "generated tokens")))
        st = FRZ_ERR_NOMEM;
    if (st) {
        fs_runner_close(r, st);
        return st;
    }
    *out = r;
    return FRZ_OK;
}

static void forget_chunks(fs_runner *r, size_t keep)
{
    for (size_t i = keep; i < r->n_keys; i++) free(r->keys[i]);
    r->n_keys = FRZ_MIN(r->n_keys, keep);
}

frz_status fs_runner_close(fs_runner *r, frz_status st)
{
    if (!r) return st;
    frz_status cst = st == FRZ_OK ? frz_eval_report_close(r->report) : frz_eval_report_close_incomplete(r->report);
    for (size_t i = 0; i < MEMO_SIZE; i++) {
        free(r->memo[i].path);
        free(r->memo[i].embd);
    }
    forget_chunks(r, 0);
    free(r->keys);
    free(r->ends);
    free(r->out);
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

/* The prefix rows of an image file (blind: of a black image, the file still read), from the memo or encoded. */
static frz_status image_prefix(fs_runner *r, const char *path, int blind, const memo_entry **out)
{
    memo_entry *victim = &r->memo[0];
    for (size_t i = 0; i < MEMO_SIZE; i++) {
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

/* ---- chunks ---------------------------------------------------------------------------------------------- */

/* A chunk's identity: blind flag, then each segment's kind and text or path. *out: free(). */
static frz_status chunk_key(const frz_eval_prompt *segs, size_t from, size_t to, int blind, char **out)
{
    frz_sbuf b = {0};
    frz_status st = frz_sbuf_puts(&b, blind ? "B" : "S");
    for (size_t i = from; i < to && st == FRZ_OK; i++) {
        const frz_eval_seg *g = &segs->segs[i];
        st = frz_sbuf_puts(&b, g->kind == FRZ_EVAL_SEG_TEXT ? "\x1eT" : "\x1eI");
        if (st == FRZ_OK) st = frz_sbuf_puts(&b, g->kind == FRZ_EVAL_SEG_TEXT ? g->text : g->image_path);
    }
    if (st == FRZ_OK) return frz_sbuf_take(&b, out);
    free(b.p);
    return st;
}

/* The chunk's segments into r->chunk. */
static frz_status build_chunk(fs_runner *r, const frz_eval_prompt *segs, size_t from, size_t to, int blind)
{
    frz_prompt_clear(r->chunk);
    frz_status st = FRZ_OK;
    for (size_t i = from; i < to && st == FRZ_OK; i++) {
        const frz_eval_seg *g = &segs->segs[i];
        if (g->kind == FRZ_EVAL_SEG_TEXT) {
            st = frz_prompt_add_text(r->chunk, g->text, (size_t)-1, 0);
        } else {
            const memo_entry *m = NULL;
            st = image_prefix(r, g->image_path, blind, &m);
            if (st == FRZ_OK) st = frz_prompt_add_embeddings(r->chunk, m->embd, m->n);
        }
    }
    return st;
}

static frz_status push_chunk(fs_runner *r, char *key, size_t end)
{
    if (r->n_keys == r->cap_keys) {
        size_t cap = r->cap_keys ? 2 * r->cap_keys : 8;
        char **k = frz_realloc(r->keys, cap * sizeof *k, "chunk keys");
        if (k) r->keys = k;
        size_t *e = k ? frz_realloc(r->ends, cap * sizeof *e, "chunk ends") : NULL;
        if (!k || !e) {
            free(key);
            return FRZ_ERR_NOMEM;
        }
        r->ends = e;
        r->cap_keys = cap;
    }
    r->keys[r->n_keys] = key;
    r->ends[r->n_keys++] = end;
    return FRZ_OK;
}

/* The support chunks into slot 0, reusing what it holds. */
static frz_status eval_support(fs_runner *r, const frz_eval_prompt *segs, const size_t *chunk_end, size_t n_support,
                               int blind)
{
    char **keys = frz_calloc(n_support + 1, sizeof *keys, "chunk keys");
    if (!keys) return FRZ_ERR_NOMEM;
    frz_status st = FRZ_OK;
    for (size_t c = 0; c < n_support && st == FRZ_OK; c++)
        st = chunk_key(segs, c ? chunk_end[c - 1] : 0, chunk_end[c], blind, &keys[c]);
    size_t keep = 0;
    if (r->p.cache)
        while (keep < n_support && keep < r->n_keys && strcmp(keys[keep], r->keys[keep]) == 0) keep++;
    if (st == FRZ_OK) {
        forget_chunks(r, keep);
        st = frz_session_seq_truncate(r->s, 0, keep ? r->ends[keep - 1] : 0);
        r->prog.chunks_reused += keep;
    }
    for (size_t c = keep; c < n_support && st == FRZ_OK; c++) {
        st = build_chunk(r, segs, c ? chunk_end[c - 1] : 0, chunk_end[c], blind);
        if (st == FRZ_OK && frz_prompt_len(r->chunk) > 0) st = frz_prompt_eval(r->s, 0, r->chunk, FRZ_LOGITS_NONE);
        if (st == FRZ_OK && r->p.cache) {
            st = push_chunk(r, keys[c], (size_t)frz_session_seq_len(r->s, 0));
            keys[c] = NULL; /* taken */
        }
        r->prog.chunks_evaluated++;
    }
    if (st) forget_chunks(r, 0); /* the slot's state is unknown after a failure */
    for (size_t c = 0; c < n_support; c++) free(keys[c]);
    free(keys);
    return st;
}

frz_status fs_runner_generate(fs_runner *r, const frz_eval_prompt *segs, const size_t *chunk_end, size_t n_chunks,
                              int blind, const char *what, char **gen)
{
    *gen = NULL;
    if (n_chunks < 1 || chunk_end[n_chunks - 1] != segs->n)
        return frz_fail(FRZ_ERR_INVALID_ARG, "%s: the chunks do not cover the prompt", what);
    const size_t n_support = n_chunks - 1;
    frz_status st = eval_support(r, segs, chunk_end, n_support, blind);
    const size_t support_len = st == FRZ_OK ? (size_t)frz_session_seq_len(r->s, 0) : 0;
    if (st == FRZ_OK) st = build_chunk(r, segs, n_support ? chunk_end[n_support - 1] : 0, segs->n, blind);
    size_t n_out = 0;
    if (st == FRZ_OK) {
        frz_generate_params gp;
        frz_generate_params_init(&gp); /* greedy, stop at <|endoftext|> */
        gp.max_tokens = r->p.max_tokens;
        st = frz_prompt_generate(r->s, 0, r->chunk, &gp, FRZ_PROMPT_STOP_NEWLINE, r->out, (size_t)r->p.max_tokens,
                                 &n_out);
    }
    /* the query goes; the support stays for the next prompt */
    frz_status tst = frz_session_seq_truncate(r->s, 0, support_len);
    if (st == FRZ_OK) st = tst;
    if (st == FRZ_OK) {
        size_t cap = 16 * n_out + 1, len = 0;
        char *text = frz_malloc(cap, "generated text");
        if (!text) return FRZ_ERR_NOMEM;
        st = n_out ? frz_detokenize(r->p.lm, r->out, n_out, text, cap, &len) : FRZ_OK;
        if (st == FRZ_ERR_BUFFER_TOO_SMALL) {
            char *bigger = frz_realloc(text, len + 1, "generated text");
            st = bigger ? frz_detokenize(r->p.lm, r->out, n_out, bigger, len + 1, &len) : FRZ_ERR_NOMEM;
            if (bigger) text = bigger;
        }
        if (st == FRZ_OK && n_out == 0) text[0] = '\0';
        if (st == FRZ_OK) *gen = text;
        else free(text);
    }
    if (st != FRZ_OK && st != FRZ_ERR_NOMEM) return frz_fail_prefix(st, "%s: ", what);
    return st;
}
