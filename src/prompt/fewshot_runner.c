/* fewshot_runner.c -- running evaluation prompts with prompt caching and batching, and keeping the report and
 * progress.
 *
 * Slot 0 of the session holds the support chunks of the latest batch; chunk i is known by a key (its segments'
 * texts and image paths, and the blind setting) and by the slot length after it. A new batch keeps the longest
 * run of leading chunks whose keys match, truncates the slot there and evaluates the rest, then copies the slot
 * into one slot per query (frz_session_seq_copy). Uncached, each query's slot evaluates the whole support itself,
 * chunk by chunk. Either way every chunk is one evaluation on top of the same positions, and the queries of a
 * batch are evaluated and decoded together in the same calls: a cached run and an uncached one compute exactly
 * the same numbers.
 *
 * A batch holds consecutive examples with the same support (up to FRZ fewshot batch): their query chunks are one
 * frz_session_eval of several slots, and greedy decoding advances all of them one token per call, so the
 * weights are read once per step for the whole batch rather than once per query. */
#include "prompt/fewshot_runner.h"
#include "eval/text.h"
#include "prompt/prompt.h" /* the query prompts' arrays, batched into one eval */

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
    p->batch = 8;
}

/* An image's prefix, kept while the file is among the last MEMO_SIZE used. */
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
    memo_entry memo[MEMO_SIZE];
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

static void drop_queue(fs_runner *r)
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

static void forget_chunks(fs_runner *r, size_t keep)
{
    for (size_t i = keep; i < r->n_keys; i++) free(r->keys[i]);
    r->n_keys = FRZ_MIN(r->n_keys, keep);
}

frz_status fs_runner_close(fs_runner *r, frz_status st)
{
    if (!r) return st;
    if (st == FRZ_OK) st = fs_runner_flush(r);
    drop_queue(r);
    frz_status cst = st == FRZ_OK ? frz_eval_report_close(r->report) : frz_eval_report_close_incomplete(r->report);
    for (size_t i = 0; i < MEMO_SIZE; i++) {
        free(r->memo[i].path);
        free(r->memo[i].embd);
    }
    forget_chunks(r, 0);
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

/* Segments [from, to) into pr. */
static frz_status build_chunk(fs_runner *r, frz_prompt *pr, const frz_eval_prompt *segs, size_t from, size_t to,
                              int blind)
{
    frz_prompt_clear(pr);
    frz_status st = FRZ_OK;
    for (size_t i = from; i < to && st == FRZ_OK; i++) {
        const frz_eval_seg *g = &segs->segs[i];
        if (g->kind == FRZ_EVAL_SEG_TEXT) {
            st = frz_prompt_add_text(pr, g->text, (size_t)-1, 0);
        } else {
            const memo_entry *m = NULL;
            st = image_prefix(r, g->image_path, blind, &m);
            if (st == FRZ_OK) st = frz_prompt_add_embeddings(pr, m->embd, m->n);
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

/* Support chunk c of example q evaluated onto slot `slot` (one call). */
static frz_status eval_chunk(fs_runner *r, const pending *q, size_t c, int32_t slot)
{
    frz_status st = build_chunk(r, r->chunk, &q->segs, c ? q->ends[c - 1] : 0, q->ends[c], q->blind);
    if (st == FRZ_OK && frz_prompt_len(r->chunk) > 0) st = frz_prompt_eval(r->s, slot, r->chunk, FRZ_LOGITS_NONE);
    r->prog.chunks_evaluated++;
    return st;
}

/* The support of q into slot 0, reusing the chunks it holds. */
static frz_status eval_support_cached(fs_runner *r, pending *q)
{
    const size_t n_support = q->n_chunks - 1;
    size_t keep = 0;
    while (keep < n_support && keep < r->n_keys && strcmp(q->keys[keep], r->keys[keep]) == 0) keep++;
    forget_chunks(r, keep);
    frz_status st = frz_session_seq_truncate(r->s, 0, keep ? r->ends[keep - 1] : 0);
    r->prog.chunks_reused += keep;
    for (size_t c = keep; c < n_support && st == FRZ_OK; c++) {
        st = eval_chunk(r, q, c, 0);
        if (st == FRZ_OK) {
            st = push_chunk(r, q->keys[c], (size_t)frz_session_seq_len(r->s, 0));
            q->keys[c] = NULL; /* taken */
        }
    }
    if (st) forget_chunks(r, 0); /* the slot's state is unknown after a failure */
    return st;
}

/* ---- queue ----------------------------------------------------------------------------------------------- */

static int same_support(const pending *a, const pending *b)
{
    if (a->n_chunks != b->n_chunks) return 0;
    for (size_t c = 0; c + 1 < a->n_chunks; c++)
        if (!a->keys[c] || !b->keys[c] || strcmp(a->keys[c], b->keys[c]) != 0) return 0;
    return 1;
}

frz_status fs_runner_submit(fs_runner *r, frz_eval_prompt *segs, const size_t *chunk_end, size_t n_chunks,
                            int blind, const char *what, size_t tag)
{
    if (n_chunks < 1 || chunk_end[n_chunks - 1] != segs->n)
        return frz_fail(FRZ_ERR_INVALID_ARG, "%s: the chunks do not cover the prompt", what);
    pending q = {*segs, NULL, n_chunks, NULL, blind, "", tag};
    memset(segs, 0, sizeof *segs); /* taken over */
    snprintf(q.what, sizeof q.what, "%s", what);
    q.ends = frz_malloc(n_chunks * sizeof *q.ends, "chunk ends");
    q.keys = frz_calloc(n_chunks, sizeof *q.keys, "chunk keys");
    frz_status st = q.ends && q.keys ? FRZ_OK : FRZ_ERR_NOMEM;
    if (st == FRZ_OK) memcpy(q.ends, chunk_end, n_chunks * sizeof *q.ends);
    for (size_t c = 0; st == FRZ_OK && c + 1 < n_chunks; c++)
        st = chunk_key(&q.segs, c ? chunk_end[c - 1] : 0, chunk_end[c], blind, &q.keys[c]);
    if (st == FRZ_OK && r->n_queue > 0 &&
        (r->n_queue == (size_t)r->p.batch || !same_support(&r->queue[0], &q)))
        st = fs_runner_flush(r);
    if (st == FRZ_OK) {
        r->queue[r->n_queue++] = q;
        return FRZ_OK;
    }
    frz_eval_prompt_clear(&q.segs);
    for (size_t c = 0; q.keys && c + 1 < n_chunks; c++) free(q.keys[c]);
    free(q.keys);
    free(q.ends);
    return st;
}

/* Whether a token's text holds a newline (the answer ends before it). */
static int has_newline(const frz_lm *lm, int32_t tok)
{
    char buf[512];
    size_t n = 0;
    if (frz_detokenize(lm, &tok, 1, buf, sizeof buf, &n) == FRZ_OK) return memchr(buf, '\n', n) != NULL;
    char *big = n ? malloc(n + 1) : NULL; /* a very long token */
    int nl = big && frz_detokenize(lm, &tok, 1, big, n + 1, &n) == FRZ_OK && memchr(big, '\n', n) != NULL;
    free(big);
    return nl;
}

static int32_t argmax(const float *x, size_t n)
{
    size_t best = 0;
    for (size_t i = 1; i < n; i++)
        if (x[i] > x[best]) best = i;
    return (int32_t)best;
}

/* Greedy decoding of the k queries in lockstep: after each eval, every query still going takes its argmax;
 * <|endoftext|> or a token holding a newline ends it (not kept), max_tokens or a full context too. */
static frz_status decode(fs_runner *r, size_t k)
{
    const size_t n_ctx = (size_t)frz_lm_get(r->p.lm, FRZ_LM_N_CTX), max = (size_t)r->p.max_tokens;
    for (size_t i = 0; i < k; i++) {
        r->n_out[i] = 0;
        r->row_of[i] = i; /* the query eval's rows: one per query, in order */
    }
    for (;;) {
        size_t n_in = 0;
        for (size_t i = 0; i < k; i++) {
            if (r->row_of[i] == (size_t)-1) continue;
            const int32_t tok = argmax(frz_session_logits(r->s, r->row_of[i]), r->V);
            r->row_of[i] = (size_t)-1;
            if ((r->eot >= 0 && tok == r->eot) || has_newline(r->p.lm, tok)) continue;
            r->out[i * max + r->n_out[i]++] = tok;
            if (r->n_out[i] == max || (size_t)frz_session_seq_len(r->s, (int32_t)(i + 1)) >= n_ctx) continue;
            r->next[i] = tok;
            r->inputs[n_in] = (frz_input){(int32_t)(i + 1), 1, &r->next[i], NULL};
            r->row_of[i] = n_in++;
        }
        if (n_in == 0) return FRZ_OK;
        frz_status st = frz_session_eval(r->s, r->inputs, n_in, FRZ_LOGITS_LAST);
        if (st) return st;
    }
}

static frz_status detokenize(const fs_runner *r, const int32_t *ids, size_t n, char **out)
{
    size_t cap = 16 * n + 1, len = 0;
    char *text = frz_malloc(cap, "generated text");
    if (!text) return FRZ_ERR_NOMEM;
    text[0] = '\0';
    frz_status st = n ? frz_detokenize(r->p.lm, ids, n, text, cap, &len) : FRZ_OK;
    if (st == FRZ_ERR_BUFFER_TOO_SMALL) {
        char *bigger = frz_realloc(text, len + 1, "generated text");
        if (bigger) text = bigger;
        st = bigger ? frz_detokenize(r->p.lm, ids, n, text, len + 1, &len) : FRZ_ERR_NOMEM;
    }
    if (st) {
        free(text);
        return st;
    }
    *out = text;
    return FRZ_OK;
}

/* The queue's supports and queries into slots 1..k. */
static frz_status prefill(fs_runner *r, size_t k)
{
    frz_status st = FRZ_OK;
    const size_t n_support = r->queue[0].n_chunks - 1;
    if (r->p.cache) {
        st = eval_support_cached(r, &r->queue[0]);
        for (size_t i = 0; i < k && st == FRZ_OK; i++) st = frz_session_seq_copy(r->s, 0, (int32_t)(i + 1));
        if (st) return frz_fail_prefix(st, "%s: ", r->queue[0].what);
    } else {
        for (size_t i = 0; i < k && st == FRZ_OK; i++) {
            st = frz_session_seq_truncate(r->s, (int32_t)(i + 1), 0);
            for (size_t c = 0; c < n_support && st == FRZ_OK; c++) st = eval_chunk(r, &r->queue[i], c, (int32_t)(i + 1));
            if (st) return frz_fail_prefix(st, "%s: ", r->queue[i].what);
        }
    }
    /* the queries, one eval */
    const size_t n_ctx = (size_t)frz_lm_get(r->p.lm, FRZ_LM_N_CTX);
    for (size_t i = 0; i < k; i++) {
        const pending *q = &r->queue[i];
        frz_prompt *pr = r->query[i];
        st = build_chunk(r, pr, &q->segs, q->n_chunks > 1 ? q->ends[q->n_chunks - 2] : 0, q->segs.n, q->blind);
        const size_t held = (size_t)frz_session_seq_len(r->s, (int32_t)(i + 1));
        if (st == FRZ_OK && pr->len == 0) st = frz_fail(FRZ_ERR_INVALID_ARG, "the query is empty");
        if (st == FRZ_OK && pr->len > n_ctx - held)
            st = frz_fail(FRZ_ERR_CONTEXT_FULL, "the prompt needs %zu positions (support %zu, query %zu), %zu more "
                          "than the context length %zu", held + pr->len, held, pr->len, held + pr->len - n_ctx, n_ctx);
        if (st) return frz_fail_prefix(st, "%s: ", q->what);
        r->inputs[i] = (frz_input){(int32_t)(i + 1), pr->len, pr->tokens, pr->embd};
    }
    return frz_session_eval(r->s, r->inputs, k, FRZ_LOGITS_LAST);
}

frz_status fs_runner_flush(fs_runner *r)
{
    const size_t k = r->n_queue;
    if (k == 0) return FRZ_OK;
    frz_status st = prefill(r, k);
    if (st == FRZ_OK) st = decode(r, k);
    if (st != FRZ_OK && st != FRZ_ERR_NOMEM && strncmp(frz_last_error(), r->queue[0].what, strlen(r->queue[0].what)))
        st = frz_fail_prefix(st, "%s: ", r->queue[0].what);
    for (size_t i = 0; i < k && st == FRZ_OK; i++) {
        char *gen = NULL;
        st = detokenize(r, r->out + i * (size_t)r->p.max_tokens, r->n_out[i], &gen);
        if (st == FRZ_OK) st = r->finish(r, r->queue[i].tag, &r->queue[i].segs, gen, r->finish_ctx);
        free(gen);
    }
    drop_queue(r);
    return st;
}
