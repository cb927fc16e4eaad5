/* train.c -- `frozen train`: trains the vision encoder and the projector through a frozen LM (frz_train_*),
 * with a progress bar on a terminal and plain log lines otherwise. Ctrl-C stops after the current step and
 * writes a checkpoint that --resume continues from. */
#include "cli.h"

#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const cli_option options[] = {
    {"lm", 'm', 1},          {"data", 'd', 1},         {"out", 'o', 1},          {"vision", 0, 1},
    {"width", 0, 1},         {"image-size", 0, 1},     {"prefix-tokens", 0, 1},  {"batch", 'b', 1},
    {"lr", 0, 1},            {"epochs", 0, 1},         {"steps", 0, 1},          {"val-fraction", 0, 1},
    {"val-every", 0, 1},     {"patience", 0, 1},       {"blind", 0, 0},          {"resume", 0, 0},
    {"seed", 0, 1},          {"threads", 't', 1},      {"beta1", 0, 1},          {"beta2", 0, 1},
    {"adam-eps", 0, 1},      {"weight-decay", 0, 1},   {"grad-clip", 0, 1},      {"max-caption-tokens", 0, 1},
    {"checkpoint-every", 0, 1}, {"image-dir", 0, 1},     {"micro-batch", 0, 1},    {"finetune-lm", 0, 0},
    {"scratch-lm", 0, 0},    {"lm-lr", 0, 1},          {"lr-decay", 0, 1},
};
enum {
    OPT_LM, OPT_DATA, OPT_OUT, OPT_VISION, OPT_WIDTH, OPT_IMAGE_SIZE, OPT_PREFIX, OPT_BATCH, OPT_LR, OPT_EPOCHS,
    OPT_STEPS, OPT_VAL_FRACTION, OPT_VAL_EVERY, OPT_PATIENCE, OPT_BLIND, OPT_RESUME, OPT_SEED, OPT_THREADS,
    OPT_BETA1, OPT_BETA2, OPT_ADAM_EPS, OPT_WEIGHT_DECAY, OPT_GRAD_CLIP, OPT_MAX_CAPTION, OPT_CKPT_EVERY,
    OPT_IMAGE_DIR, OPT_MICRO_BATCH, OPT_FINETUNE_LM, OPT_SCRATCH_LM, OPT_LM_LR,
    OPT_LR_DECAY
};

static const cli_command command = {
    "train",
    "usage: frozen train --lm DIR --data FILE --out RUNDIR [options]\n"
    "\n"
    "Trains a vision encoder (NF-ResNet) and the projector that turns its output into a visual prefix, through\n"
    "the frozen language model, on image captioning (Frozen, Tsimpoukelli et al. 2021). The LM is not\n"
    "changed (but see the baselines --finetune-lm and --scratch-lm). FILE is a TSV (image path TAB caption per\n"
    "line; paths relative to the file's folder) or a COCO captions JSON. RUNDIR receives vision.safetensors and projector.safetensors (what `frozen caption` loads:\n"
    "the best model by validation perplexity), checkpoint.safetensors, metrics.csv and loss.png.\n"
    "\n"
    "  -m, --lm DIR              the frozen language model (a GPT-2 folder)\n"
    "  -d, --data FILE           training data: .tsv (path TAB caption) or COCO captions .json\n"
    "  -o, --out RUNDIR          the run folder (created if missing)\n"
    "  --vision ARCH             nf_resnet50 (default, the paper's), nf_resnet26, tiny\n"
    "  --width W                 channel width factor (default 1)\n"
    "  --image-size R            images are padded to a square and resized to R x R (default 224)\n"
    "  --prefix-tokens N         visual prefix length (default 2, the paper's best)\n"
    "  -b, --batch B             images per step (default 128)\n"
    "  --micro-batch M           images per forward/backward pass, dividing B: memory follows M, results B\n"
    "  --lr LR                   Adam learning rate (default 3e-4), constant unless --lr-decay\n"
    "  --lr-decay F              over the last share F of the steps (0..1), lower the learning rates\n"
    "                            linearly towards 0 (default 0: constant, as in the paper)\n"
    "  --beta1 B1 --beta2 B2     Adam betas (default 0.9, 0.95)\n"
    "  --adam-eps E              Adam epsilon (default 1e-8)\n"
    "  --weight-decay WD         decoupled weight decay (default 0)\n"
    "  --grad-clip N             clip the global gradient norm to N (default 0: off)\n"
    "  --epochs E                passes over the training split (default 1)\n"
    "  --steps S                 stop after S steps instead (overrides --epochs)\n"
    "  --val-fraction F          share of the images held out for validation (0..0.5, default 0.01)\n"
    "  --val-every N             validate every N steps (default: once per epoch) and at the end\n"
    "  --patience P              stop after P validations without a better perplexity (default 3; 0: never)\n"
    "  --max-caption-tokens N    cut captions to N tokens (default 32)\n"
    "  --checkpoint-every N      checkpoint every N steps (default: after each validation) and at the end\n"
    "  --blind                   black images: the paper's blind baseline (prefix tuning)\n"
    "  --finetune-lm             train the LM's weights too, from the loaded values (Frozen_finetuned);\n"
    "                            the trained LM is saved as a model folder RUNDIR/lm/\n"
    "  --scratch-lm              re-initialise the LM randomly (its sizes and tokenizer) and train it with the\n"
    "                            rest (Frozen_scratch); saved as RUNDIR/lm/\n"
    "  --lm-lr LR                the LM's AdamW learning rate (default 1e-5 finetuning, --lr from scratch)\n"
    "  --resume                  continue from RUNDIR/checkpoint.safetensors with the same data and settings\n"
    "  --seed S                  initialisation, split and shuffles (default 0)\n"
    "  --image-dir DIR           COCO: the images' folder (default: the JSON file's folder)\n"
    "  -t, --threads N           threads (default: the processors online)\n"
    "  -v, --verbose             library info/debug messages on stderr\n"
    "  -h, --help                this help\n"
    "\n"
    "Progress goes to stderr: a bar on a terminal, one line per step otherwise. The same data, options, seed\n"
    "and threads give the same losses; an interrupted run resumed with --resume gives the losses it would have\n"
    "given uninterrupted. Ctrl-C stops after the current step and writes a checkpoint.\n"
    "\n"
    "Exit status: 0 success (also after early stopping), 1 failure, 2 bad command line, 130 interrupted.\n",
    options, sizeof options / sizeof options[0],
};

typedef struct args {
    const char *lm, *data, *out;
    frz_train_params p;
} args;

static int on_option(void *ctx, size_t index, const char *value)
{
    args *a = ctx;
    frz_train_params *p = &a->p;
    long v;
    int rc;
    switch (index) {
    case OPT_LM: a->lm = value; return CLI_OK;
    case OPT_DATA: a->data = value; return CLI_OK;
    case OPT_OUT: a->out = value; return CLI_OK;
    case OPT_VISION: p->vision_arch = value; return CLI_OK;
    case OPT_WIDTH: return cli_parse_float(&command, "--width", value, 1e-3, 16, &p->vision_width);
    case OPT_IMAGE_SIZE: return cli_parse_int32(&command, "--image-size", value, 16, 4096, &p->image_size);
    case OPT_PREFIX: return cli_parse_int32(&command, "--prefix-tokens", value, 1, 4096, &p->prefix_tokens);
    case OPT_BATCH: return cli_parse_int32(&command, "--batch", value, 1, 65536, &p->batch_size);
    case OPT_LR: return cli_parse_float(&command, "--lr", value, 1e-12, 10, &p->lr);
    case OPT_BETA1: return cli_parse_float(&command, "--beta1", value, 0, 0.999999, &p->beta1);
    case OPT_BETA2: return cli_parse_float(&command, "--beta2", value, 0, 0.999999, &p->beta2);
    case OPT_ADAM_EPS: return cli_parse_float(&command, "--adam-eps", value, 1e-30, 1, &p->adam_eps);
    case OPT_WEIGHT_DECAY: return cli_parse_float(&command, "--weight-decay", value, 0, 100, &p->weight_decay);
    case OPT_GRAD_CLIP: return cli_parse_float(&command, "--grad-clip", value, 0, 1e30, &p->grad_clip);
    case OPT_EPOCHS: return cli_parse_int32(&command, "--epochs", value, 1, INT32_MAX, &p->epochs);
    case OPT_STEPS:
        rc = cli_parse_long(&command, "--steps", value, 1, LONG_MAX, &v);
        if (rc == CLI_OK) p->max_steps = v;
        return rc;
    case OPT_VAL_FRACTION: return cli_parse_float(&command, "--val-fraction", value, 0, 0.5, &p->val_fraction);
    case OPT_VAL_EVERY: return cli_parse_int32(&command, "--val-every", value, 1, INT32_MAX, &p->val_every);
    case OPT_PATIENCE: return cli_parse_int32(&command, "--patience", value, 0, INT32_MAX, &p->patience);
    case OPT_MAX_CAPTION: return cli_parse_int32(&command, "--max-caption-tokens", value, 1, 1 << 20, &p->max_caption_tokens);
    case OPT_CKPT_EVERY: return cli_parse_int32(&command, "--checkpoint-every", value, 1, INT32_MAX, &p->checkpoint_every);
    case OPT_BLIND: p->blind = 1; return CLI_OK;
    case OPT_RESUME: p->resume = 1; return CLI_OK;
    case OPT_SEED:
        rc = cli_parse_long(&command, "--seed", value, 0, LONG_MAX, &v);
        if (rc == CLI_OK) p->seed = (uint64_t)v;
        return rc;
    case OPT_THREADS: return cli_parse_int32(&command, "--threads", value, 1, 4096, &p->n_threads);
    case OPT_IMAGE_DIR: p->image_dir = value; return CLI_OK;
    case OPT_MICRO_BATCH: return cli_parse_int32(&command, "--micro-batch", value, 1, 65536, &p->micro_batch);
    case OPT_FINETUNE_LM:
    case OPT_SCRATCH_LM: {
        const int32_t mode = index == OPT_FINETUNE_LM ? FRZ_TRAIN_LM_FINETUNE : FRZ_TRAIN_LM_SCRATCH;
        if (p->lm_mode != FRZ_TRAIN_LM_FROZEN && p->lm_mode != mode)
            return cli_usage_error(&command, "--finetune-lm and --scratch-lm exclude each other");
        p->lm_mode = mode;
        return CLI_OK;
    }
    case OPT_LM_LR: return cli_parse_float(&command, "--lm-lr", value, 1e-12, 10, &p->lm_lr);
    case OPT_LR_DECAY: return cli_parse_float(&command, "--lr-decay", value, 0, 1, &p->lr_decay);
    default: return CLI_OK;
    }
}

/* ---- progress ------------------------------------------------------------------------------------------------ */

static void on_progress(const frz_train_progress *pr, void *user_data)
{
    cli_step_bar *b = user_data;
    char eta[32], val[48] = "", line[256];
    cli_step_bar_eta(b, pr->step, pr->total_steps, pr->elapsed_s, eta, sizeof eta);
    if (pr->val_ppl > 0) snprintf(val, sizeof val, " val_ppl %.4g", pr->val_ppl);
    if (b->tty)
        snprintf(line, sizeof line, "step %lld/%lld epoch %d loss %.4f%s %.1f img/s ETA %s", (long long)pr->step,
                 (long long)pr->total_steps, (int)pr->epoch, (double)pr->loss, val, pr->images_per_s, eta);
    else
        snprintf(line, sizeof line, "step %lld/%lld epoch %d loss %.6f%s images/s %.2f skipped %lld eta %s",
                 (long long)pr->step, (long long)pr->total_steps, (int)pr->epoch, (double)pr->loss, val,
                 pr->images_per_s, (long long)pr->skipped_images, eta);
    cli_step_bar_print(b, pr->step, pr->total_steps, line, pr->val_ppl > 0); /* validation lines stay */
}

/* ---- the command --------------------------------------------------------------------------------------------- */

static int run(args *a)
{
    const char *advice = frz_blas_advice();
    if (advice) fprintf(stderr, "frozen: warning: %s\n", advice);
    frz_lm *lm = NULL;
    frz_train *t = NULL;
    int rc = cli_load_lm(a->lm, &lm);
    cli_step_bar b;
    cli_step_bar_init(&b);
    a->p.progress = on_progress;
    a->p.progress_data = &b;
    a->p.abort = cli_abort_requested;
    frz_status st = FRZ_OK;
    if (rc == CLI_OK && (st = frz_train_create(lm, a->data, a->out, &a->p, &t)) != FRZ_OK) rc = cli_lib_error(st);
    if (rc == CLI_OK) {
        frz_train_progress pr;
        pr.struct_size = sizeof pr;
        frz_train_get_progress(t, &pr);
        fprintf(stderr, "frozen: training on %lld examples, validating on %lld; %lld steps (%lld per epoch)%s\n",
                (long long)pr.n_train, (long long)pr.n_val, (long long)pr.total_steps, (long long)pr.steps_per_epoch,
                pr.step > 0 ? ", resuming" : "");
        st = frz_train_run(t);
        cli_step_bar_end(&b);
        frz_train_get_progress(t, &pr);
        if (st == FRZ_ERR_CANCELLED && cli_interrupted()) {
            fprintf(stderr, "frozen: interrupted after step %lld; checkpoint written; continue with --resume\n",
                    (long long)pr.step);
            rc = 130;
        } else if (st != FRZ_OK) {
            rc = cli_lib_error(st);
        } else {
            printf("steps %lld, best validation perplexity %.6g, skipped images %lld, run folder %s\n",
                   (long long)pr.step, pr.best_val_ppl, (long long)pr.skipped_images, a->out);
        }
    }
    frz_train_free(t);
    frz_lm_free(lm);
    return rc;
}

int cmd_train(int argc, char **argv)
{
    args a;
    memset(&a, 0, sizeof a);
    frz_train_params_init(&a.p);
    a.p.n_threads = cli_nproc();
    int rc = cli_parse_options(&command, argc, argv, on_option, &a);
    if (rc == CLI_OK && !a.lm) rc = cli_usage_error(&command, "--lm DIR is required");
    if (rc == CLI_OK && !a.data) rc = cli_usage_error(&command, "--data FILE is required");
    if (rc == CLI_OK && !a.out) rc = cli_usage_error(&command, "--out RUNDIR is required");
    if (rc == CLI_OK) {
        cli_catch_sigint(0);
        rc = run(&a);
    }
    return rc;
}
