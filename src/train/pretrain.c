/* pretrain.c -- the LM pretraining run: corpus, batches of whole samples, AdamW, validation, metrics and saving
 * the model (see pretrain.h). */
#include "train/pretrain.h"
#include "core/file.h"

#include "lm/gpt2.h"
#include "train/corpus.h"
#include "train/lm_opt.h"
#include "train/metrics.h"
#include "train/pretrain_ckpt.h"
#include "train/trainer.h"
#include "math/rng.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <time.h>

struct frz_pretrain {
    frz_lm *lm;
    frz_pretrain_params p;
    char *out_dir, *metrics_path, *png_path, *ckpt_path;

    frz_corpus *corpus;
    int32_t *train_idx, *val_idx;
    size_t n_train, n_val;
    int32_t *order;              /* (n_train) the order of order_epoch */
    int64_t order_epoch;         /* -1: none yet */

    frz_lm_opt *opt;
    frz_gpt2_train_ws *ws;       /* reshaped to each batch */
    int32_t *tokens, *targets;   /* (B, context) */
    frz_metrics *metrics;

    int64_t step, total_steps, steps_per_epoch, val_every, n_tokens;
    frz_pretrain_pending pending; /* a step whose validation was interrupted: its row is still to be written */
    frz_pretrain_progress prog;
    double t_start;
};

float frz_pretrain_lr(const frz_pretrain_params *p, int64_t s, int64_t total)
{
    int64_t warm = p->warmup;
    if (warm > total / 2) warm = total / 2;
    if (s < warm) return p->lr * (float)(s + 1) / (float)warm;
    const double span = (double)(total - 1 - warm), x = span > 0 ? (double)(s - warm) / span : 1.0;
    const double lo = (double)p->lr * p->min_lr_ratio, c = 0.5 * (1.0 + cos(M_PI * (x < 1 ? x : 1)));
    return (float)(lo + ((double)p->lr - lo) * c);
}

void frz_pretrainer_progress(const frz_pretrain *t, frz_pretrain_progress *out)
{
    *out = t->prog;
    out->elapsed_s = t->t_start > 0 ? frz_monotonic_s() - t->t_start : 0.0;
}

static frz_status make_dir(const char *dir)
{
    if (mkdir(dir, 0777) == 0) return FRZ_OK;
    struct stat sb;
    if (errno == EEXIST && stat(dir, &sb) == 0 && S_ISDIR(sb.st_mode)) return FRZ_OK;
    return frz_fail(FRZ_ERR_IO, "%s: cannot create the output folder: %s", dir, strerror(errno));
}

frz_status frz_pretrainer_create(frz_lm *lm, const char *corpus_path, const char *out_dir,
                                 const frz_pretrain_params *params, frz_pretrain **out)
{
    *out = NULL;
    frz_pretrain *t = frz_calloc(1, sizeof *t, "the pretraining run");
    if (!t) return FRZ_ERR_NOMEM;
    t->lm = lm;
    t->p = *params;
    t->order_epoch = -1;
    t->out_dir = frz_strdup(out_dir, "output folder");
    t->metrics_path = frz_path_join(out_dir, "metrics.csv");
    t->png_path = frz_path_join(out_dir, "loss.png");
    t->ckpt_path = frz_path_join(out_dir, FRZ_PRETRAIN_CKPT_FILE);
    const size_t B = (size_t)t->p.batch_size, T = (size_t)t->p.context;
    frz_status st = t->out_dir && t->metrics_path && t->png_path && t->ckpt_path ? FRZ_OK : FRZ_ERR_NOMEM;
    if (st == FRZ_OK) st = frz_corpus_load(corpus_path, lm->tok, lm->eot, t->p.tab_segments, (int)T + 1, &t->corpus);
    if (st == FRZ_OK)
        st = frz_corpus_split(t->corpus, t->p.val_fraction, t->p.seed, &t->train_idx, &t->n_train, &t->val_idx,
                              &t->n_val);
    if (st == FRZ_OK && !(t->order = frz_malloc(t->n_train * sizeof *t->order, "epoch order"))) st = FRZ_ERR_NOMEM;
    if (st == FRZ_OK) {
        t->tokens = frz_malloc(B * T * sizeof *t->tokens, "batch tokens");
        t->targets = frz_malloc(B * T * sizeof *t->targets, "batch targets");
        if (!t->tokens || !t->targets) st = FRZ_ERR_NOMEM;
    }
    if (st == FRZ_OK) st = make_dir(out_dir);
    if (st == FRZ_OK) st = frz_gpt2_make_writable(lm);
    if (st == FRZ_OK) st = frz_lm_opt_create(lm, &t->opt);
    if (st == FRZ_OK) st = frz_gpt2_train_ws_create(lm, (int)B, (int)T, &t->ws);
    for (size_t i = 0; st == FRZ_OK && i < t->n_train; i++)
        t->n_tokens += (int64_t)frz_corpus_len(t->corpus, (size_t)t->train_idx[i]) - 1;
    if (st == FRZ_OK && t->p.resume) { /* the weights, moments and step of the interrupted run */
        const frz_pretrain_ckpt_run run = {&t->p, (int64_t)t->n_train, (int64_t)t->n_val, t->n_tokens};
        st = frz_pretrain_ckpt_load(t->ckpt_path, t->opt, &run, &t->step, &t->pending);
    }
    /* metrics.csv keeps the rows of the steps done (a resumed run's own), and loses any written after them */
    if (st == FRZ_OK)
        st = frz_metrics_open_with(t->metrics_path, t->p.resume ? t->step : -1, FRZ_METRICS_HEADER_TOKENS,
                                   &t->metrics);
    if (st != FRZ_OK) {
        frz_pretrainer_free(t);
        return st;
    }
    t->steps_per_epoch = (int64_t)((t->n_train + B - 1) / B);
    t->total_steps = t->p.steps;
    t->val_every = t->p.val_every > 0 ? t->p.val_every : (t->total_steps >= 20 ? t->total_steps / 20 : 1);
    frz_pretrain_progress *o = &t->prog;
    o->struct_size = sizeof *o;
    o->total_steps = t->total_steps;
    o->n_train = (int64_t)t->n_train;
    o->n_val = (int64_t)t->n_val;
    o->n_truncated = t->corpus->n_truncated;
    o->n_tokens = t->n_tokens;
    o->step = t->step;
    frz_log(FRZ_LOG_INFO, "pretraining on %zu samples (%lld targets), validating on %zu; %lld steps of %d (%lld per "
            "epoch); %lld samples cut to %d tokens", t->n_train, (long long)t->n_tokens, t->n_val,
            (long long)t->total_steps, (int)B, (long long)t->steps_per_epoch, (long long)t->corpus->n_truncated,
            (int)T + 1);
    *out = t;
    return FRZ_OK;
}

void frz_pretrainer_free(frz_pretrain *t)
{
    if (!t) return;
    frz_metrics_close(t->metrics);
    frz_gpt2_train_ws_free(t->ws);
    frz_lm_opt_free(t->opt);
    frz_corpus_free(t->corpus);
    free(t->train_idx), free(t->val_idx), free(t->order);
    free(t->tokens), free(t->targets);
    free(t->out_dir), free(t->metrics_path), free(t->png_path), free(t->ckpt_path);
    free(t);
}

/* ---- the run ------------------------------------------------------------------------------------------------- */

static int aborted(const frz_pretrain *t) { return t->p.abort && t->p.abort(t->p.abort_data); }

/* Lays out samples idx[0..n) as n sequences (pretrain.h, step 3) and reshapes the workspace to them; *n_targets:
 * the targets they hold. */
static frz_status build_batch(frz_pretrain *t, const int32_t *idx, size_t n, int64_t *n_targets)
{
    const frz_corpus *c = t->corpus;
    size_t T = 1;
    *n_targets = 0;
    for (size_t b = 0; b < n; b++) {
        size_t len = frz_corpus_len(c, (size_t)idx[b]) - 1; /* positions = targets */
        if (len > T) T = len;
        *n_targets += (int64_t)len;
    }
    for (size_t b = 0; b < n; b++) {
        const int32_t *s = c->ids + c->off[idx[b]];
        const size_t len = frz_corpus_len(c, (size_t)idx[b]) - 1;
        int32_t *in = t->tokens + b * T, *tg = t->targets + b * T;
        for (size_t i = 0; i < T; i++) {
            in[i] = i < len ? s[i] : t->lm->eot;
            tg[i] = i < len ? s[i + 1] : -1;
        }
    }
    return frz_gpt2_train_ws_reshape(t->ws, (int)n, (int)T);
}

/* Mean NLL over every target of the validation split (0 when there is none). */
static frz_status validate(frz_pretrain *t, double *val_loss)
{
    *val_loss = 0.0;
    const size_t B = (size_t)t->p.batch_size;
    double sum = 0.0;
    int64_t count = 0;
    for (size_t a = 0; a < t->n_val; a += B) {
        if (aborted(t)) return frz_fail(FRZ_ERR_CANCELLED, "pretraining: cancelled during validation");
        const size_t n = t->n_val - a < B ? t->n_val - a : B;
        int64_t nt;
        frz_status st = build_batch(t, t->val_idx + a, n, &nt);
        if (st == FRZ_OK) st = frz_gpt2_train_forward(t->ws, t->tokens, NULL, t->targets, t->p.n_threads, NULL);
        if (st != FRZ_OK) return st;
        for (size_t b = 0; b < n; b++) {
            double nll;
            int k;
            frz_gpt2_train_seq_nll(t->ws, (int)b, &nll, &k);
            sum += nll;
            count += k;
        }
    }
    if (count > 0) *val_loss = sum / (double)count;
    return FRZ_OK;
}

/* ---- length buckets ------------------------------------------------------------------------------------------ */

/* A batch costs as much as its longest sample times the batch size (padding is computed like real positions),
 * and the demo corpus mixes 5-token captions with 200-token episodes: in order as drawn, most of a step is
 * padding. So each window of BUCKET_BATCHES batches of the epoch's order is sorted by length and cut into
 * batches, and those batches are put in a random order (seeded by seed and epoch). Which samples an epoch
 * visits, and roughly when, is unchanged -- shuffled or file order (a curriculum keeps its course at the
 * scale of a window) -- only the grouping into batches changes. */
#define BUCKET_BATCHES 16

static int by_key(const void *a, const void *b)
{
    const uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

static frz_status bucket_by_length(const frz_corpus *c, int32_t *order, size_t n, size_t B, uint64_t seed,
                                   int64_t epoch)
{
    frz_rng rng;
    frz_rng_seed(&rng, seed ^ (0x9E3779B97F4A7C15ull * (uint64_t)(epoch + 1)) ^ 0xB5C0FBCFEC4D3B2Full);
    const size_t window = B * BUCKET_BATCHES < n ? B * BUCKET_BATCHES : n;
    uint64_t *key = frz_malloc(window * sizeof *key, "length buckets");
    int32_t *moved = frz_malloc(window * sizeof *moved, "length buckets");
    if (!key || !moved) {
        free(key), free(moved);
        return FRZ_ERR_NOMEM;
    }
    for (size_t w = 0; w < n; w += window) {
        const size_t m = n - w < window ? n - w : window, full = m / B; /* a short last batch stays last */
        /* (length, sample index): sorted by length, ties by index, the same every run */
        for (size_t i = 0; i < m; i++)
            key[i] = (uint64_t)frz_corpus_len(c, (size_t)order[w + i]) << 32 | (uint32_t)order[w + i];
        qsort(key, m, sizeof *key, by_key);
        for (size_t i = 0; i < m; i++) order[w + i] = (int32_t)(uint32_t)key[i];
        /* the window's full batches in a random order: a Fisher-Yates shuffle of batch numbers */
        int32_t perm[BUCKET_BATCHES];
        for (size_t i = 0; i < full; i++) perm[i] = (int32_t)i;
        for (size_t i = full; i > 1; i--) {
            size_t j = (size_t)(frz_rng_uniform(&rng) * (double)i);
            int32_t x = perm[i - 1];
            perm[i - 1] = perm[j];
            perm[j] = x;
        }
        for (size_t i = 0; i < full; i++) memcpy(moved + i * B, order + w + (size_t)perm[i] * B, B * sizeof *moved);
        memcpy(order + w, moved, full * B * sizeof *moved);
    }
    free(key), free(moved);
    return FRZ_OK;
}

/* The model and its plot; then, while steps (or the last step's interrupted validation) remain, the checkpoint a
 * resumed run continues from, and once the run is done, no checkpoint (there is nothing left to resume, and the
 * folder is just the model). */
static frz_status save(const frz_pretrain *t)
{
    frz_status st = frz_lm_save(t->lm, t->out_dir);
    if (st == FRZ_OK) st = frz_metrics_plot(t->metrics, t->png_path);
    if (st == FRZ_OK && (t->step < t->total_steps || t->pending.active)) {
        const frz_pretrain_ckpt_run run = {&t->p, (int64_t)t->n_train, (int64_t)t->n_val, t->n_tokens};
        st = frz_pretrain_ckpt_save(t->ckpt_path, t->opt, &run, t->step, &t->pending);
    } else if (st == FRZ_OK && unlink(t->ckpt_path) != 0 && errno != ENOENT) {
        st = frz_fail(FRZ_ERR_IO, "%s: cannot remove the finished run's checkpoint: %s", t->ckpt_path,
                      strerror(errno));
    }
    return st;
}

/* After the update of step t->step: the validation when due, the metrics row, the progress callback and the
 * save when due. Until the row is written the step is pending: an abort during the validation leaves it so, the
 * checkpoint keeps it, and a resumed run finishes it first (the validation, then the row it would have had). */
static frz_status finish_step(frz_pretrain *t)
{
    const int64_t s = t->step - 1, e = s / t->steps_per_epoch;
    const float lr = frz_pretrain_lr(&t->p, s, t->total_steps);
    const int last = t->step == t->total_steps, do_val = t->n_val > 0 && (t->step % t->val_every == 0 || last);
    double val = 0.0;
    frz_status st = do_val ? validate(t, &val) : FRZ_OK;
    if (st != FRZ_OK) return st;
    t->pending.active = 0;
    frz_pretrain_progress *o = &t->prog;
    o->step = t->step;
    o->epoch = (int32_t)e;
    o->loss = t->pending.loss;
    o->lr = lr;
    o->tokens_per_s = t->pending.tokens_per_s;
    o->val_loss = val;
    o->elapsed_s = frz_monotonic_s() - t->t_start;
    st = frz_metrics_add(t->metrics, t->step, (int32_t)e, o->loss, do_val ? exp(val) : 0.0, o->tokens_per_s, lr);
    if (st != FRZ_OK) return st;
    if (t->p.progress) t->p.progress(o, t->p.progress_data);
    const int save_due = t->p.checkpoint_every > 0 ? t->step % t->p.checkpoint_every == 0 : do_val;
    return save_due || last ? save(t) : FRZ_OK;
}

static frz_status train_step(frz_pretrain *t)
{
    const int64_t s = t->step, e = s / t->steps_per_epoch, k = s % t->steps_per_epoch;
    const size_t B = (size_t)t->p.batch_size;
    if (t->order_epoch != e) {
        if (t->p.no_shuffle) memcpy(t->order, t->train_idx, t->n_train * sizeof *t->order);
        else frz_trainer_epoch_order(t->train_idx, t->n_train, t->p.seed, e, t->order);
        frz_status bst = bucket_by_length(t->corpus, t->order, t->n_train, B, t->p.seed, e);
        if (bst != FRZ_OK) return bst;
        t->order_epoch = e;
    }
    const double t0 = frz_monotonic_s();
    const size_t first = (size_t)k * B, n = t->n_train - first < B ? t->n_train - first : B;
    const float lr = frz_pretrain_lr(&t->p, s, t->total_steps);
    const int nth = t->p.n_threads;
    int64_t n_targets;
    float loss = NAN;
    frz_status st = build_batch(t, t->order + first, n, &n_targets);
    if (st == FRZ_OK) st = frz_gpt2_train_forward(t->ws, t->tokens, NULL, t->targets, nth, &loss);
    frz_gpt2_grads_zero(t->opt->g, nth);
    if (st == FRZ_OK) st = frz_gpt2_train_backward(t->ws, NULL, t->opt->g, nth);
    if (st != FRZ_OK) return st;
    const double sq = frz_lm_opt_sum_squares(t->opt, nth);
    if (isfinite(sq)) {
        const frz_adam_hp hp = {lr, t->p.beta1, t->p.beta2, t->p.adam_eps, t->p.weight_decay};
        frz_lm_opt_step(t->opt, &hp, s + 1, frz_clip_scale(sqrt(sq), t->p.grad_clip), nth);
    } else {
        frz_log(FRZ_LOG_WARN, "step %lld: the gradient is not finite; no update", (long long)(s + 1));
    }
    const double dt = frz_monotonic_s() - t0;
    t->step = s + 1;
    t->pending = (frz_pretrain_pending){1, loss, dt > 0 ? (double)n_targets / dt : 0.0};
    return finish_step(t);
}

frz_status frz_pretrainer_run(frz_pretrain *t)
{
    t->t_start = frz_monotonic_s();
    frz_status st = t->pending.active ? finish_step(t) : FRZ_OK; /* a resumed run's interrupted validation */
    while (st == FRZ_OK && t->step < t->total_steps) {
        if (aborted(t)) {
            st = frz_fail(FRZ_ERR_CANCELLED, "pretraining: cancelled after step %lld", (long long)t->step);
            break;
        }
        st = train_step(t);
    }
    if (st == FRZ_ERR_CANCELLED) {
        char msg[512];
        snprintf(msg, sizeof msg, "%s", frz_last_error());
        frz_status w = save(t);
        if (w != FRZ_OK) return w;
        t->prog.step = t->step; /* the saved step, also when its validation was cut short */
        return frz_fail(FRZ_ERR_CANCELLED, "%s; the model after step %lld is saved in %s", msg, (long long)t->step,
                        t->out_dir);
    }
    return st;
}
