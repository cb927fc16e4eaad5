/* trainer.c -- the training run: data, models, the step loop, validation and early stopping, checkpoints,
 * metrics (see trainer.h). */
#include "train/trainer.h"
#include "core/file.h"

#include "api/api.h"
#include "lm/gpt2.h"
#include "math/rng.h"
#include "train/adam.h"
#include "train/checkpoint.h"
#include "train/data.h"
#include "train/lm_opt.h"
#include "train/loader.h"
#include "train/metrics.h"
#include "train/step.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

struct frz_train {
    const frz_lm *lm;
    frz_train_params p;          /* the caller's parameters; the strings point at our copies below */
    char *arch, *image_dir;
    char *ckpt_path, *vision_path, *proj_path, *metrics_path, *png_path, *lm_dir;

    frz_lm *lm_own;              /* finetune / scratch: the LM being trained (own weights); NULL when frozen */
    frz_lm_opt *lm_opt;

    frz_dataset *ds;
    int32_t *train_idx, *val_idx;
    size_t n_train, n_val;
    int32_t *order;              /* (n_train) the order of loader_epoch */
    int64_t loader_epoch;        /* epoch the training loader runs, -1: none */

    frz_nfr_model *enc;
    int32_t image_size;
    frz_projector *proj;
    frz_ckpt_moments mom;
    frz_ckpt_state s;

    frz_step *step;              /* sized for micro-batches of `micro` examples */
    int micro;
    frz_loader *train_loader, *val_loader;
    frz_metrics *metrics;

    int64_t steps_per_epoch, total_steps, val_every;
    frz_train_progress prog;
    double t_start;
};

/* The learning rate of step s (1-based) of the planned t->total_steps: base, or during their last lr_decay share a
 * linear cool-down towards 0 (the "decay" of warmup-stable-decay schedules). A run at a constant rate ends wherever
 * its last noisy updates left it; a cool-down settles it. On the demo's short runs it was no reliable gain (+2
 * points of held-out captioning on average over five runs, inside their spread: docs/demo-run.md), so the default is
 * off. */
static float scheduled_lr(const frz_train *t, float base, int64_t s)
{
    const float decay = t->p.lr_decay;
    if (s < 1) s = 1; /* before any step: the first step's */
    if (decay <= 0 || t->total_steps <= 0) return base;
    const double x = (double)(s - 1) / (double)t->total_steps;
    if (x < 1.0 - decay) return base;
    return (float)((double)base * (1.0 - x) / decay);
}

/* Fills t->prog from the state; val is the validation perplexity measured after the latest step (0: none). */
static void refresh_progress(frz_train *t, double val)
{
    frz_train_progress *o = &t->prog;
    memset(o, 0, sizeof *o);
    o->struct_size = sizeof *o;
    o->step = t->s.step;
    o->total_steps = t->total_steps;
    o->steps_per_epoch = t->steps_per_epoch;
    o->epoch = t->s.step > 0 ? (int32_t)((t->s.step - 1) / t->steps_per_epoch) : 0;
    o->loss = t->s.last_loss;
    o->lr = scheduled_lr(t, t->p.lr, t->s.step);
    o->images_per_s = t->s.last_images_per_s;
    o->val_ppl = val;
    o->best_val_ppl = t->s.best_val_ppl;
    o->skipped_images = t->s.skipped_images;
    o->n_train = (int64_t)t->n_train;
    o->n_val = (int64_t)t->n_val;
    o->elapsed_s = t->t_start > 0 ? frz_monotonic_s() - t->t_start : 0.0;
}

void frz_trainer_progress(const frz_train *t, frz_train_progress *out)
{
    *out = t->prog;
    out->elapsed_s = t->t_start > 0 ? frz_monotonic_s() - t->t_start : 0.0;
}

void frz_trainer_epoch_order(const int32_t *train, size_t n, uint64_t seed, int64_t epoch, int32_t *out)
{
    frz_rng rng;
    frz_rng_seed(&rng, seed ^ (0xD1B54A32D192ED03ull * (uint64_t)(epoch + 1)));
    memcpy(out, train, n * sizeof *out);
    for (size_t i = n; i > 1; i--) {
        size_t j = (size_t)(frz_rng_uniform(&rng) * (double)i); /* 0 .. i-1 */
        int32_t x = out[i - 1];
        out[i - 1] = out[j];
        out[j] = x;
    }
}

/* ---- creation ------------------------------------------------------------------------------------------------ */

static frz_status make_dir(const char *dir)
{
    if (mkdir(dir, 0777) == 0) return FRZ_OK;
    struct stat sb;
    if (errno == EEXIST && stat(dir, &sb) == 0 && S_ISDIR(sb.st_mode)) return FRZ_OK;
    return frz_fail(FRZ_ERR_IO, "%s: cannot create the run folder: %s", dir, strerror(errno));
}

static int file_exists(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0;
}

/* A resumed run must batch the data as the checkpoint's run did. */
static frz_status check_resume(const frz_train *t, const frz_nfr_config *want)
{
    const frz_ckpt_state *s = &t->s;
    const char *c = t->ckpt_path;
#define SAME(cond, what, now, then)                                                                              \
    if (!(cond))                                                                                                 \
        return frz_fail(FRZ_ERR_INVALID_ARG, "%s: cannot resume: %s is %lld now but %lld in the checkpoint", c, what, \
                        (long long)(now), (long long)(then))
    SAME(s->batch_size == t->p.batch_size, "the batch size", t->p.batch_size, s->batch_size);
    SAME(s->max_caption_tokens == t->p.max_caption_tokens, "max caption tokens", t->p.max_caption_tokens,
         s->max_caption_tokens);
    SAME(s->blind == (t->p.blind != 0), "blind", t->p.blind != 0, s->blind);
    SAME(s->seed == t->p.seed, "the seed", t->p.seed, s->seed);
    SAME(s->n_train == (int64_t)t->n_train, "the training split's size", t->n_train, s->n_train);
    SAME(s->n_val == (int64_t)t->n_val, "the validation split's size", t->n_val, s->n_val);
    SAME(t->image_size == t->p.image_size, "the image size", t->p.image_size, t->image_size);
    SAME(t->proj->n_prefix == t->p.prefix_tokens, "the number of prefix tokens", t->p.prefix_tokens, t->proj->n_prefix);
#undef SAME
    if (memcmp(want->depths, t->enc->cfg.depths, sizeof want->depths) != 0 || want->width != t->enc->cfg.width)
        return frz_fail(FRZ_ERR_INVALID_ARG, "%s: cannot resume: the checkpoint's encoder (depths %d,%d,%d,%d, width "
                        "%g) is not %s at width %g", c, t->enc->cfg.depths[0], t->enc->cfg.depths[1],
                        t->enc->cfg.depths[2], t->enc->cfg.depths[3], (double)t->enc->cfg.width, t->arch,
                        (double)want->width);
    return FRZ_OK;
}

/* Root mean square of the LM's token embeddings: the scale the projector's output starts at. */
static double wte_rms(const frz_lm *lm)
{
    const size_t n = (size_t)lm->cfg.n_vocab * (size_t)lm->cfg.n_embd;
    double s = 0.0;
    for (size_t i = 0; i < n; i++) s += (double)lm->w.wte[i] * lm->w.wte[i];
    return n ? sqrt(s / (double)n) : 1.0;
}

static frz_status init_models(frz_train *t)
{
    frz_nfr_config cfg;
    frz_status st = frz_nfr_config_named(t->arch, t->p.vision_width, &cfg);
    if (st != FRZ_OK) return st;
    if (t->p.resume) {
        if (!file_exists(t->ckpt_path))
            return frz_fail(FRZ_ERR_IO, "%s: no checkpoint to resume from", t->ckpt_path);
        st = frz_ckpt_load(t->ckpt_path, &t->enc, &t->image_size, &t->proj, &t->mom, &t->s);
        if (st == FRZ_OK) st = check_resume(t, &cfg);
        if (st == FRZ_OK)
            frz_log(FRZ_LOG_INFO, "resuming %s at step %lld (epoch %d)", t->ckpt_path, (long long)t->s.step,
                    (int)t->s.epoch);
        return st;
    }
    if (file_exists(t->ckpt_path))
        return frz_fail(FRZ_ERR_INVALID_ARG, "%s already exists: resume the run, or train into another folder",
                        t->ckpt_path);
    const int64_t C = frz_lm_get(t->lm, FRZ_LM_N_EMBD);
    st = frz_nfr_create(&cfg, &t->enc);
    if (st == FRZ_OK) st = frz_proj_create(t->enc->arch.num_features, t->p.prefix_tokens, (int)C, &t->proj);
    if (st == FRZ_OK) st = frz_ckpt_moments_create(t->enc->arch.n_params, t->proj->n_params, &t->mom);
    if (st != FRZ_OK) return st;
    frz_nfr_init(t->enc, t->p.seed);
    frz_proj_init(t->proj, t->p.seed ^ 0x5851F42D4C957F2Dull, sqrt(3.0) * wte_rms(t->lm_own ? t->lm_own : t->lm));
    t->image_size = t->p.image_size;
    memset(&t->s, 0, sizeof t->s);
    t->s.seed = t->p.seed;
    t->s.best_step = t->s.last_val_step = -1;
    t->s.last_loss = NAN;
    t->s.batch_size = t->p.batch_size;
    t->s.max_caption_tokens = t->p.max_caption_tokens;
    t->s.blind = t->p.blind != 0;
    t->s.n_train = (int64_t)t->n_train;
    t->s.n_val = (int64_t)t->n_val;
    return FRZ_OK;
}

/* The LM trained beside the encoder: a writable copy of the loaded one (finetune) or a GPT-2-initialised model of
 * its sizes with its tokenizer (scratch); its optimiser. A resumed run overwrites both from the checkpoint. */
static frz_status init_lm(frz_train *t, const char *out_dir)
{
    frz_status st;
    if (t->p.lm_mode == FRZ_TRAIN_LM_FINETUNE) {
        st = frz_gpt2_clone(t->lm, &t->lm_own);
    } else {
        st = frz_gpt2_create_init(&t->lm->cfg, t->p.seed ^ 0x2545F4914F6CDD1Dull, 1, &t->lm_own);
        if (st == FRZ_OK && t->lm->tok_dir) st = frz_gpt2_load_tokenizer(t->lm_own, t->lm->tok_dir);
    }
    if (st == FRZ_OK) st = frz_lm_opt_create(t->lm_own, &t->lm_opt);
    if (st == FRZ_OK && !(t->lm_dir = frz_path_join(out_dir, "lm"))) st = FRZ_ERR_NOMEM;
    if (st == FRZ_OK)
        frz_log(FRZ_LOG_INFO, "the LM is trained too (%s, lr %g): %zu parameters",
                t->p.lm_mode == FRZ_TRAIN_LM_FINETUNE ? "finetuned from the loaded weights" : "from scratch",
                (double)t->p.lm_lr, t->lm_opt->n);
    return st;
}

frz_status frz_trainer_create(const frz_lm *lm, const char *data_path, const char *out_dir,
                              const frz_train_params *params, frz_train **out)
{
    *out = NULL;
    frz_train *t = frz_calloc(1, sizeof *t, "training run");
    if (!t) return FRZ_ERR_NOMEM;
    t->lm = lm;
    t->p = *params;
    t->loader_epoch = -1;
    t->micro = params->micro_batch > 0 ? params->micro_batch : params->batch_size;
    t->arch = frz_strdup(params->vision_arch, "vision architecture");
    t->image_dir = params->image_dir ? frz_strdup(params->image_dir, "image folder") : NULL;
    t->p.vision_arch = t->arch;
    t->p.image_dir = t->image_dir;
    t->ckpt_path = frz_path_join(out_dir, "checkpoint.safetensors");
    t->vision_path = frz_path_join(out_dir, "vision.safetensors");
    t->proj_path = frz_path_join(out_dir, "projector.safetensors");
    t->metrics_path = frz_path_join(out_dir, "metrics.csv");
    t->png_path = frz_path_join(out_dir, "loss.png");
    frz_status st = t->arch && (t->image_dir || !params->image_dir) && t->ckpt_path && t->vision_path &&
                            t->proj_path && t->metrics_path && t->png_path
                        ? FRZ_OK
                        : FRZ_ERR_NOMEM;
    if (st == FRZ_OK) st = frz_dataset_load(data_path, t->image_dir, &t->ds);
    if (st == FRZ_OK)
        st = frz_dataset_split(t->ds, t->p.val_fraction, t->p.seed, &t->train_idx, &t->n_train, &t->val_idx, &t->n_val);
    if (st == FRZ_OK && !(t->order = frz_malloc(t->n_train * sizeof *t->order, "epoch order"))) st = FRZ_ERR_NOMEM;
    if (st == FRZ_OK) st = make_dir(out_dir);
    if (st == FRZ_OK && t->p.lm_mode != FRZ_TRAIN_LM_FROZEN) st = init_lm(t, out_dir);
    if (st == FRZ_OK) st = init_models(t);
    if (st == FRZ_OK && t->lm_opt && t->p.resume) {
        const frz_ckpt_lm cl = {t->lm_own->mem, t->lm_opt->m, t->lm_opt->v, t->lm_opt->n, t->p.lm_mode};
        st = frz_ckpt_load_lm(t->ckpt_path, &cl);
    }
    if (st == FRZ_OK)
        st = frz_step_create(t->lm_own ? t->lm_own : lm, t->enc, t->proj, t->micro, t->p.blind != 0,
                             t->image_size, t->p.max_caption_tokens, &t->step);
    if (st == FRZ_OK && t->lm_opt) t->step->lm_grads = t->lm_opt->g;
    frz_loader_config lc = {t->ds, lm, t->p.batch_size, t->image_size, t->p.max_caption_tokens, t->p.blind != 0};
    if (st == FRZ_OK) st = frz_loader_create(&lc, &t->train_loader);
    if (st == FRZ_OK && t->n_val > 0) st = frz_loader_create(&lc, &t->val_loader);
    if (st == FRZ_OK) st = frz_metrics_open(t->metrics_path, t->p.resume ? t->s.step : -1, &t->metrics);
    if (st != FRZ_OK) {
        frz_trainer_free(t);
        return st;
    }
    t->steps_per_epoch = frz_loader_n_batches(t->n_train, t->p.batch_size);
    t->total_steps = t->p.max_steps > 0 ? t->p.max_steps : (int64_t)t->p.epochs * t->steps_per_epoch;
    t->val_every = t->p.val_every > 0 ? t->p.val_every : t->steps_per_epoch;
    frz_log(FRZ_LOG_INFO, "training on %zu examples, validating on %zu; %lld steps of %d (%lld per epoch)", t->n_train,
            t->n_val, (long long)t->total_steps, (int)t->p.batch_size, (long long)t->steps_per_epoch);
    refresh_progress(t, 0.0);
    *out = t;
    return FRZ_OK;
}

void frz_trainer_free(frz_train *t)
{
    if (!t) return;
    frz_loader_free(t->train_loader);
    frz_loader_free(t->val_loader);
    frz_step_free(t->step);
    frz_metrics_close(t->metrics);
    frz_nfr_free(t->enc);
    frz_proj_free(t->proj);
    frz_ckpt_moments_free(&t->mom);
    frz_lm_opt_free(t->lm_opt);
    frz_lm_free(t->lm_own);
    free(t->lm_dir);
    frz_dataset_free(t->ds);
    free(t->train_idx), free(t->val_idx), free(t->order);
    free(t->arch), free(t->image_dir);
    free(t->ckpt_path), free(t->vision_path), free(t->proj_path), free(t->metrics_path), free(t->png_path);
    free(t);
}

/* ---- the run ------------------------------------------------------------------------------------------------- */

static int aborted(const frz_train *t) { return t->p.abort && t->p.abort(t->p.abort_data); }

static frz_status save_model(const frz_train *t)
{
    frz_vision v = {t->enc, t->image_size, NULL}; /* only saved: no working memory */
    frz_status st = frz_vision_save(&v, t->vision_path);
    if (st == FRZ_OK) st = frz_proj_save(t->proj, t->proj_path);
    if (st == FRZ_OK && t->lm_own) st = frz_lm_save(t->lm_own, t->lm_dir);
    return st;
}

static frz_status save_checkpoint(const frz_train *t)
{
    const frz_ckpt_lm cl = {t->lm_own ? t->lm_own->mem : NULL, t->lm_opt ? t->lm_opt->m : NULL,
                            t->lm_opt ? t->lm_opt->v : NULL, t->lm_opt ? t->lm_opt->n : 0, t->p.lm_mode};
    frz_status st = frz_ckpt_save(t->ckpt_path, t->enc, t->image_size, t->proj, &t->mom, &t->s, t->lm_opt ? &cl : NULL);
    if (st == FRZ_OK && t->n_val == 0) st = save_model(t); /* no validation: the latest model is the one */
    if (st == FRZ_OK) st = frz_metrics_plot(t->metrics, t->png_path);
    return st;
}

/* The pass over one loaded batch, in micro-batches of t->micro examples: the mean loss over the batch's targets
 * into *loss (NaN when it has none) and, for validation, each valid slot's NLL and target count added to
 * *nll_sum and *count (may be NULL). With backward, the batch's gradient ends in the models' gradients. */
static frz_status batch_pass(frz_train *t, const frz_batch *b, int backward, float *loss, double *nll_sum,
                             int64_t *count)
{
    const int M = t->micro, T = t->p.max_caption_tokens;
    const size_t img = (size_t)3 * t->image_size * t->image_size;
    int64_t total = 0;
    for (int i = 0; i < b->B; i++) total += b->len[i] >= 0 ? b->len[i] + 1 : 0;
    *loss = NAN;
    if (total == 0) return FRZ_OK;
    frz_status st = backward ? frz_step_zero_grads(t->step, t->p.n_threads) : FRZ_OK;
    double sum = 0.0;
    for (int c0 = 0; st == FRZ_OK && c0 < b->B; c0 += M) {
        int64_t part = 0;
        for (int i = c0; i < c0 + M; i++) part += b->len[i] >= 0 ? b->len[i] + 1 : 0;
        if (part == 0) continue; /* only empty slots: nothing to learn or measure */
        float l;
        int64_t n;
        st = frz_step_run(t->step, b->images + (size_t)c0 * img, b->tokens + (size_t)c0 * T, T, b->len + c0, backward,
                          (float)((double)part / (double)total), t->p.n_threads, &l, &n);
        sum += (double)l * (double)n;
        for (int i = 0; st == FRZ_OK && nll_sum && i < M; i++) {
            if (b->len[c0 + i] < 0) continue;
            double nll;
            int c;
            frz_step_seq_nll(t->step, i, &nll, &c);
            *nll_sum += nll;
            *count += c;
        }
    }
    if (st == FRZ_OK) *loss = (float)(sum / (double)total);
    return st;
}

/* Validation perplexity over the validation split: exp(total NLL / total targets); 0 if nothing loaded. */
static frz_status validate(frz_train *t, double *ppl)
{
    *ppl = 0.0;
    frz_status st = frz_loader_start(t->val_loader, t->val_idx, t->n_val, 0);
    double nll_sum = 0.0;
    int64_t count = 0;
    const frz_batch *b = NULL;
    while (st == FRZ_OK && (st = frz_loader_next(t->val_loader, &b)) == FRZ_OK && b) {
        float loss;
        if (aborted(t)) st = frz_fail(FRZ_ERR_CANCELLED, "training: cancelled during validation");
        if (st == FRZ_OK) st = batch_pass(t, b, 0, &loss, &nll_sum, &count);
        frz_loader_release(t->val_loader);
    }
    frz_loader_stop(t->val_loader);
    if (st == FRZ_OK && count > 0) *ppl = exp(nll_sum / (double)count);
    return st;
}

static frz_status update(frz_train *t, int64_t adam_t)
{
    const int nth = t->p.n_threads;
    const size_t ne = t->enc->arch.n_params, np = t->proj->n_params;
    double sq = frz_sum_squares(t->enc->grads, ne, nth) + frz_sum_squares(t->proj->grads, np, nth);
    if (t->lm_opt) sq += frz_lm_opt_sum_squares(t->lm_opt, nth); /* one global norm over everything trained */
    if (!isfinite(sq)) {
        frz_log(FRZ_LOG_WARN, "step %lld: the gradient is not finite; no update", (long long)adam_t);
        return FRZ_OK;
    }
    const float scale = frz_clip_scale(sqrt(sq), t->p.grad_clip);
    const frz_adam_hp hp = {scheduled_lr(t, t->p.lr, adam_t), t->p.beta1, t->p.beta2, t->p.adam_eps,
                            t->p.weight_decay};
    frz_adam_update(t->enc->params, t->enc->grads, t->mom.m_vision, t->mom.v_vision, ne, &hp, adam_t, scale, nth);
    frz_adam_update(t->proj->params, t->proj->grads, t->mom.m_proj, t->mom.v_proj, np, &hp, adam_t, scale, nth);
    if (t->lm_opt) {
        const frz_adam_hp lm_hp = {scheduled_lr(t, t->p.lm_lr, adam_t), t->p.beta1, t->p.beta2, t->p.adam_eps,
                                   t->p.weight_decay};
        frz_lm_opt_step(t->lm_opt, &lm_hp, adam_t, scale, nth);
    }
    return FRZ_OK;
}

/* After step t->s.step: validation when due, the metrics row, the progress callback, the checkpoint when due. */
static frz_status finish_step(frz_train *t)
{
    const int64_t s = t->s.step;
    const int last = s == t->total_steps;
    const int do_val = t->n_val > 0 && (s % t->val_every == 0 || last);
    double val = 0.0;
    frz_status st = FRZ_OK;
    if (do_val) {
        if ((st = validate(t, &val)) != FRZ_OK) return st;
        t->s.last_val_step = s;
        if (val > 0 && (t->s.best_val_ppl == 0 || val < t->s.best_val_ppl)) {
            t->s.best_val_ppl = val;
            t->s.best_step = s;
            t->s.bad_validations = 0;
            if ((st = save_model(t)) != FRZ_OK) return st;
        } else if (val > 0) {
            t->s.bad_validations++;
            if (t->p.patience > 0 && t->s.bad_validations >= t->p.patience) {
                t->s.stopped = 1;
                frz_log(FRZ_LOG_INFO, "early stopping after step %lld: no better validation perplexity than %.4f "
                        "(step %lld) for %d validations", (long long)s, t->s.best_val_ppl, (long long)t->s.best_step,
                        (int)t->s.bad_validations);
            }
        }
    }
    const int32_t epoch = (int32_t)((s - 1) / t->steps_per_epoch);
    st = frz_metrics_add(t->metrics, s, epoch, t->s.last_loss, val, t->s.last_images_per_s,
                         scheduled_lr(t, t->p.lr, s));
    if (st != FRZ_OK) return st;
    refresh_progress(t, val);
    if (t->p.progress) t->p.progress(&t->prog, t->p.progress_data);
    const int ckpt_due = t->p.checkpoint_every > 0 ? s % t->p.checkpoint_every == 0 : do_val;
    if (ckpt_due || last || t->s.stopped) st = save_checkpoint(t);
    return st;
}

/* One optimisation step: batch k of epoch e. */
static frz_status train_step(frz_train *t)
{
    const int64_t s = t->s.step, e = s / t->steps_per_epoch, k = s % t->steps_per_epoch;
    frz_status st = FRZ_OK;
    if (t->loader_epoch != e) {
        frz_trainer_epoch_order(t->train_idx, t->n_train, t->p.seed, e, t->order);
        if ((st = frz_loader_start(t->train_loader, t->order, t->n_train, k)) != FRZ_OK) return st;
        t->loader_epoch = e;
    }
    const double t0 = frz_monotonic_s();
    const frz_batch *b = NULL;
    if ((st = frz_loader_next(t->train_loader, &b)) != FRZ_OK) return st;
    if (!b || b->index != k) return frz_fail(FRZ_ERR_INVALID_ARG, "training: the loader lost its place at step %lld",
                                             (long long)s);
    float loss = NAN;
    if (b->n_valid > 0) {
        st = batch_pass(t, b, 1, &loss, NULL, NULL);
        if (st == FRZ_OK) st = update(t, s + 1);
    } else {
        frz_log(FRZ_LOG_WARN, "step %lld: no image of the batch loaded; no update", (long long)(s + 1));
    }
    const int n_valid = b->n_valid, n_skipped = b->n_skipped;
    frz_loader_release(t->train_loader);
    if (st != FRZ_OK) return st;
    const double dt = frz_monotonic_s() - t0;
    t->s.step = s + 1;
    t->s.epoch = (int32_t)(t->s.step / t->steps_per_epoch);
    t->s.skipped_images += n_skipped;
    t->s.last_loss = loss;
    t->s.last_images_per_s = dt > 0 ? n_valid / dt : 0.0;
    return finish_step(t);
}

frz_status frz_trainer_run(frz_train *t)
{
    t->t_start = frz_monotonic_s();
    frz_status st = FRZ_OK;
    /* A validation that an abort interrupted runs first (the step itself was done and checkpointed). */
    const int64_t s = t->s.step;
    if (s > 0 && !t->s.stopped && t->n_val > 0 && t->s.last_val_step != s && (s % t->val_every == 0 || s == t->total_steps))
        st = finish_step(t);
    while (st == FRZ_OK && !t->s.stopped && t->s.step < t->total_steps) {
        if (aborted(t)) {
            st = frz_fail(FRZ_ERR_CANCELLED, "training: cancelled after step %lld", (long long)t->s.step);
            break;
        }
        st = train_step(t);
    }
    frz_loader_stop(t->train_loader);
    t->loader_epoch = -1;
    if (st == FRZ_ERR_CANCELLED) {
        /* The state is that of the last completed step: keep it, then report the cancellation. */
        char msg[512];
        snprintf(msg, sizeof msg, "%s", frz_last_error());
        frz_status w = save_checkpoint(t);
        if (w != FRZ_OK) return w;
        return frz_fail(FRZ_ERR_CANCELLED, "%s; checkpoint written at step %lld", msg, (long long)t->s.step);
    }
    return st;
}
