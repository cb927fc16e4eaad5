/* pretrain.c -- `frozen pretrain`: trains a GPT-2 language model on a text corpus (one sample per line) from a
 * random initialisation or from an existing model folder, and writes it as a Hugging Face folder. A new model's
 * tokenizer is given (--tokenizer) or first learned from the corpus itself (--vocab-size, as `frozen
 * tokenizer-train` does). Progress as `frozen train` shows it; Ctrl-C stops after the current step and saves the
 * model. */
#include "cli.h"

#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const cli_option options[] = {
    {"data", 'd', 1},     {"tokenizer", 0, 1},    {"out", 'o', 1},         {"init", 0, 1},
    {"layers", 0, 1},     {"width", 0, 1},        {"heads", 0, 1},         {"context", 0, 1},
    {"steps", 0, 1},      {"batch", 'b', 1},      {"lr", 0, 1},            {"warmup", 0, 1},
    {"weight-decay", 0, 1}, {"grad-clip", 0, 1},  {"seed", 0, 1},          {"threads", 't', 1},
    {"tab-segments", 0, 0}, {"no-shuffle", 0, 0}, {"val-fraction", 0, 1},  {"val-every", 0, 1},
    {"checkpoint-every", 0, 1}, {"min-lr-ratio", 0, 1}, {"vocab-size", 0, 1}, {"min-frequency", 0, 1},
    {"resume", 0, 0},     {"untied-head", 0, 0},
};
enum {
    OPT_DATA, OPT_TOKENIZER, OPT_OUT, OPT_INIT, OPT_LAYERS, OPT_WIDTH, OPT_HEADS, OPT_CONTEXT, OPT_STEPS, OPT_BATCH,
    OPT_LR, OPT_WARMUP, OPT_WEIGHT_DECAY, OPT_GRAD_CLIP, OPT_SEED, OPT_THREADS, OPT_TAB_SEGMENTS, OPT_NO_SHUFFLE,
    OPT_VAL_FRACTION, OPT_VAL_EVERY, OPT_CKPT_EVERY, OPT_MIN_LR, OPT_VOCAB_SIZE, OPT_MIN_FREQUENCY, OPT_RESUME,
    OPT_UNTIED_HEAD
};

static const cli_command command = {
    "pretrain",
    "usage: frozen pretrain --data CORPUS (--tokenizer DIR | --vocab-size N | --init DIR | --resume) --out DIR\n"
    "                       [options]\n"
    "\n"
    "Trains a GPT-2 language model on next-token prediction over CORPUS: UTF-8 text, one sample per line (blank\n"
    "lines skipped). Each sample is its own sequence from position 0, ending in <|endoftext|>, padded, never\n"
    "packed with another; longer samples are cut to the context. AdamW (betas 0.9/0.95, weight decay on the\n"
    "matrices and embeddings), global-norm clipping, linear warmup then cosine decay to a tenth of the peak LR.\n"
    "DIR receives the model as a Hugging Face GPT-2 folder (config.json, model.safetensors, vocab.json,\n"
    "merges.txt; what --lm takes), metrics.csv and loss.png; while the run is unfinished, also\n"
    "pretrain-checkpoint.safetensors (weights, optimiser state, step), which --resume continues from.\n"
    "\n"
    "  -d, --data CORPUS         the text corpus, one sample per line\n"
    "  --tokenizer DIR           vocab.json + merges.txt for a new, randomly initialised model\n"
    "  --vocab-size N            instead, learn a byte-level BPE tokenizer of N entries (>= 257) from CORPUS first,\n"
    "                            as `frozen tokenizer-train` does (with --tab-segments if given), into DIR\n"
    "  --min-frequency F         with --vocab-size: never merge a pair seen fewer than F times (default 2)\n"
    "  --init DIR                continue training an existing model folder instead (its tokenizer and sizes)\n"
    "  --resume                  continue the interrupted run in DIR (its model, checkpoint and metrics) with the\n"
    "                            same corpus and options: the losses of the uninterrupted run\n"
    "  -o, --out DIR             the output folder (created if missing; may be the --init folder)\n"
    "  --layers N --heads H --width C\n"
    "                            a new model's sizes (default 4 layers, 4 heads, width 128)\n"
    "  --untied-head             a new model's LM head is its own matrix (lm_head.weight), not wte as in GPT-2\n"
    "  --context N               positions per sample (default 256 for a new model, else the model's)\n"
    "  --steps S                 optimisation steps (default 1000)\n"
    "  -b, --batch B             samples per step (default 32)\n"
    "  --lr LR                   peak learning rate (default 1e-3)\n"
    "  --warmup N                linear warmup steps (default 100)\n"
    "  --min-lr-ratio R          the cosine decay ends at R x LR (default 0.1)\n"
    "  --weight-decay WD         decoupled weight decay on 2-D tensors (default 0.1)\n"
    "  --grad-clip N             clip the global gradient norm to N (default 1; 0: off)\n"
    "  --tab-segments            a TAB separates segments tokenized independently (as a prompt's text around\n"
    "                            its images); the TAB is not text\n"
    "  --no-shuffle              keep the file's order every epoch (a curriculum); default: shuffled per epoch\n"
    "  --val-fraction F          share of the samples held out for validation (0..0.5, default 0.05)\n"
    "  --val-every N             validate every N steps (default: 20 times over the run) and at the end\n"
    "  --checkpoint-every N      save the model and checkpoint every N steps (default: at each validation)\n"
    "                            and at the end\n"
    "  --seed S                  initialisation, split and shuffles (default 0)\n"
    "  -t, --threads N           threads (default: the processors online)\n"
    "  -v, --verbose             library info/debug messages on stderr\n"
    "  -h, --help                this help\n"
    "\n"
    "Progress goes to stderr: a bar on a terminal, a line per validation (and per 1% of the run) otherwise.\n"
    "The same corpus, options, seed and threads give the same model. Ctrl-C stops after the current step and\n"
    "saves the model and the checkpoint as they are (continue with --resume).\n"
    "\n"
    "Exit status: 0 success, 1 failure, 2 bad command line, 130 interrupted.\n",
    options, sizeof options / sizeof options[0],
};

typedef struct args {
    const char *data, *tokenizer, *out, *init;
    frz_tokenizer_train_params tok; /* --vocab-size: learned into --out first */
    int learn_tokenizer, min_frequency_given;
    frz_lm_config cfg;
    int sizes_given;
    uint64_t seed;
    frz_pretrain_params p;
} args;

static int on_option(void *ctx, size_t index, const char *value)
{
    args *a = ctx;
    frz_pretrain_params *p = &a->p;
    long v;
    int rc;
    switch (index) {
    case OPT_DATA: a->data = value; return CLI_OK;
    case OPT_TOKENIZER: a->tokenizer = value; return CLI_OK;
    case OPT_OUT: a->out = value; return CLI_OK;
    case OPT_INIT: a->init = value; return CLI_OK;
    case OPT_LAYERS: a->sizes_given = 1; return cli_parse_int32(&command, "--layers", value, 1, 256, &a->cfg.n_layer);
    case OPT_WIDTH: a->sizes_given = 1; return cli_parse_int32(&command, "--width", value, 1, 16384, &a->cfg.n_embd);
    case OPT_HEADS: a->sizes_given = 1; return cli_parse_int32(&command, "--heads", value, 1, 256, &a->cfg.n_head);
    case OPT_CONTEXT: return cli_parse_int32(&command, "--context", value, 1, 65536, &p->context);
    case OPT_STEPS:
        rc = cli_parse_long(&command, "--steps", value, 1, LONG_MAX, &v);
        if (rc == CLI_OK) p->steps = v;
        return rc;
    case OPT_BATCH: return cli_parse_int32(&command, "--batch", value, 1, 65536, &p->batch_size);
    case OPT_LR: return cli_parse_float(&command, "--lr", value, 1e-12, 10, &p->lr);
    case OPT_WARMUP: return cli_parse_int32(&command, "--warmup", value, 0, INT32_MAX, &p->warmup);
    case OPT_MIN_LR: return cli_parse_float(&command, "--min-lr-ratio", value, 0, 1, &p->min_lr_ratio);
    case OPT_WEIGHT_DECAY: return cli_parse_float(&command, "--weight-decay", value, 0, 100, &p->weight_decay);
    case OPT_GRAD_CLIP: return cli_parse_float(&command, "--grad-clip", value, 0, 1e30, &p->grad_clip);
    case OPT_SEED:
        rc = cli_parse_long(&command, "--seed", value, 0, LONG_MAX, &v);
        if (rc == CLI_OK) a->seed = p->seed = (uint64_t)v;
        return rc;
    case OPT_THREADS: return cli_parse_int32(&command, "--threads", value, 1, 4096, &p->n_threads);
    case OPT_TAB_SEGMENTS: p->tab_segments = 1; return CLI_OK;
    case OPT_NO_SHUFFLE: p->no_shuffle = 1; return CLI_OK;
    case OPT_VAL_FRACTION: return cli_parse_float(&command, "--val-fraction", value, 0, 0.5, &p->val_fraction);
    case OPT_VAL_EVERY: return cli_parse_int32(&command, "--val-every", value, 1, INT32_MAX, &p->val_every);
    case OPT_CKPT_EVERY: return cli_parse_int32(&command, "--checkpoint-every", value, 1, INT32_MAX, &p->checkpoint_every);
    case OPT_VOCAB_SIZE:
        a->learn_tokenizer = 1;
        return cli_parse_int32(&command, "--vocab-size", value, 257, INT32_MAX, &a->tok.vocab_size);
    case OPT_RESUME: p->resume = 1; return CLI_OK;
    case OPT_UNTIED_HEAD: a->sizes_given = 1; a->cfg.untied_head = 1; return CLI_OK;
    case OPT_MIN_FREQUENCY:
        a->min_frequency_given = 1;
        return cli_parse_int32(&command, "--min-frequency", value, 1, INT32_MAX, &a->tok.min_frequency);
    default: return CLI_OK;
    }
}

/* ---- progress ------------------------------------------------------------------------------------------------ */

static void on_progress(const frz_pretrain_progress *pr, void *user_data)
{
    cli_step_bar *b = user_data;
    char eta[32], val[48] = "", line[256];
    cli_step_bar_eta(b, pr->step, pr->total_steps, pr->elapsed_s, eta, sizeof eta);
    const int64_t every = pr->total_steps >= 100 ? pr->total_steps / 100 : 1;
    if (!b->tty && !(pr->val_loss > 0 || pr->step % every == 0 || pr->step == pr->total_steps))
        return; /* plain output: a line per validation and per 1% of the run */
    if (pr->val_loss > 0) snprintf(val, sizeof val, " val_loss %.4f", pr->val_loss);
    if (b->tty)
        snprintf(line, sizeof line, "step %lld/%lld epoch %d loss %.4f%s lr %.2e %.0f tok/s ETA %s",
                 (long long)pr->step, (long long)pr->total_steps, (int)pr->epoch, (double)pr->loss, val,
                 (double)pr->lr, pr->tokens_per_s, eta);
    else
        snprintf(line, sizeof line, "step %lld/%lld epoch %d loss %.6f%s lr %.3e tokens/s %.0f eta %s",
                 (long long)pr->step, (long long)pr->total_steps, (int)pr->epoch, (double)pr->loss, val,
                 (double)pr->lr, pr->tokens_per_s, eta);
    cli_step_bar_print(b, pr->step, pr->total_steps, line, pr->val_loss > 0); /* validation lines stay */
}

/* ---- the command --------------------------------------------------------------------------------------------- */

/* --vocab-size: the tokenizer learned from the corpus into the output folder, which the new model then takes. */
static int learn_tokenizer(args *a)
{
    a->tok.tab_segments = a->p.tab_segments;
    a->tok.n_threads = a->p.n_threads;
    a->tok.abort = cli_abort_requested;
    frz_tokenizer_train_stats s;
    s.struct_size = sizeof s;
    frz_status st = frz_tokenizer_train(a->data, a->out, &a->tok, &s);
    if (st == FRZ_ERR_CANCELLED && cli_interrupted()) {
        fprintf(stderr, "frozen: interrupted while learning the tokenizer; nothing written\n");
        return 130;
    }
    if (st != FRZ_OK) return cli_lib_error(st);
    fprintf(stderr, "frozen: tokenizer of %d tokens (%d merges) learned from %lld words of %s in %.1f s\n",
            (int)s.n_vocab, (int)s.n_merges, (long long)s.n_words, a->data, s.count_s + s.merge_s);
    a->tokenizer = a->out;
    return CLI_OK;
}

static int make_model(args *a, frz_lm **lm)
{
    if (a->p.resume) return cli_load_lm(a->out, lm); /* the interrupted run's sizes and tokenizer */
    if (a->init) return cli_load_lm(a->init, lm);
    if (a->learn_tokenizer) {
        int rc = learn_tokenizer(a);
        if (rc != CLI_OK) return rc;
    }
    frz_lm_config c = a->cfg;
    c.n_ctx = a->p.context > 0 ? a->p.context : c.n_ctx;
    frz_status st = frz_lm_create_random(&c, a->tokenizer, a->seed, lm);
    return st == FRZ_OK ? CLI_OK : cli_lib_error(st);
}

static int run(args *a)
{
    const char *advice = frz_blas_advice();
    if (advice) fprintf(stderr, "frozen: warning: %s\n", advice);
    frz_lm *lm = NULL;
    frz_pretrain *t = NULL;
    cli_step_bar b;
    cli_step_bar_init(&b);
    a->p.progress = on_progress;
    a->p.progress_data = &b;
    a->p.abort = cli_abort_requested;
    int rc = make_model(a, &lm);
    frz_status st = FRZ_OK;
    if (rc == CLI_OK && (st = frz_pretrain_create(lm, a->data, a->out, &a->p, &t)) != FRZ_OK) rc = cli_lib_error(st);
    if (rc == CLI_OK) {
        frz_pretrain_progress pr;
        pr.struct_size = sizeof pr;
        frz_pretrain_get_progress(t, &pr);
        fprintf(stderr, "frozen: GPT-2 %lld layers, width %lld, vocab %lld, context %lld, %lld parameters\n",
                (long long)frz_lm_get(lm, FRZ_LM_N_LAYER), (long long)frz_lm_get(lm, FRZ_LM_N_EMBD),
                (long long)frz_lm_get(lm, FRZ_LM_N_VOCAB), (long long)frz_lm_get(lm, FRZ_LM_N_CTX),
                (long long)frz_lm_get(lm, FRZ_LM_N_PARAMS));
        fprintf(stderr, "frozen: pretraining on %lld samples (%lld tokens), validating on %lld; %lld steps; %lld "
                "samples cut to the context\n", (long long)pr.n_train, (long long)pr.n_tokens, (long long)pr.n_val,
                (long long)pr.total_steps, (long long)pr.n_truncated);
        st = frz_pretrain_run(t);
        cli_step_bar_end(&b);
        frz_pretrain_get_progress(t, &pr);
        if (st == FRZ_ERR_CANCELLED && cli_interrupted()) {
            fprintf(stderr, "frozen: interrupted after step %lld; the model is saved in %s (continue with --resume)\n",
                    (long long)pr.step, a->out);
            rc = 130;
        } else if (st != FRZ_OK) {
            rc = cli_lib_error(st);
        } else {
            printf("steps %lld, loss %.6g, validation loss %.6g, truncated samples %lld, model %s\n",
                   (long long)pr.step, (double)pr.loss, pr.val_loss, (long long)pr.n_truncated, a->out);
        }
    }
    frz_pretrain_free(t);
    frz_lm_free(lm);
    return rc;
}

int cmd_pretrain(int argc, char **argv)
{
    args a;
    memset(&a, 0, sizeof a);
    frz_lm_config_init(&a.cfg);
    frz_pretrain_params_init(&a.p);
    frz_tokenizer_train_params_init(&a.tok);
    a.p.n_threads = cli_nproc();
    int rc = cli_parse_options(&command, argc, argv, on_option, &a);
    if (rc == CLI_OK && !a.data) rc = cli_usage_error(&command, "--data CORPUS is required");
    if (rc == CLI_OK && !a.out) rc = cli_usage_error(&command, "--out DIR is required");
    if (rc == CLI_OK && a.p.resume && (a.init || a.tokenizer || a.learn_tokenizer || a.sizes_given))
        rc = cli_usage_error(&command, "--resume continues the model in --out DIR: drop --init, --tokenizer, "
                             "--vocab-size, --layers, --heads, --width and --untied-head");
    if (rc == CLI_OK && !a.p.resume && !a.init && !a.tokenizer && !a.learn_tokenizer)
        rc = cli_usage_error(&command, "--tokenizer DIR or --vocab-size N (a new model), --init DIR (an existing "
                             "one) or --resume is required");
    if (rc == CLI_OK && a.init && (a.tokenizer || a.learn_tokenizer || a.sizes_given))
        rc = cli_usage_error(&command, "--init takes the model's own tokenizer and sizes: drop --tokenizer, "
                             "--vocab-size, --layers, --heads, --width and --untied-head");
    if (rc == CLI_OK && a.tokenizer && a.learn_tokenizer)
        rc = cli_usage_error(&command, "--tokenizer DIR and --vocab-size N both give the tokenizer: use one");
    if (rc == CLI_OK && a.min_frequency_given && !a.learn_tokenizer)
        rc = cli_usage_error(&command, "--min-frequency applies to a tokenizer learned with --vocab-size");
    if (rc == CLI_OK) {
        cli_catch_sigint(0);
        rc = run(&a);
    }
    return rc;
}
