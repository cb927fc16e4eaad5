/* check_train.c -- Frozen's training end to end: one step's loss and gradients against PyTorch autograd, the
 * frozen LM never written, overfitting a few images until `caption` reproduces their captions, determinism,
 * resuming an interrupted run with the uninterrupted run's losses, the abort callback, early stopping, the
 * blind baseline, skipped images, and the errors of frz_train_create. */
#include "api/api.h"
#include "lm/gpt2.h"
#include "train/plot.h"
#include "train/step.h"
#include "util/testutil.h"

#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define SMALL_LM "models/gpt2-f32"  /* under tests/fixtures: 2 layers, width 48, 457 ids */

/* max |got - want| / max |want|: the error against the tensor's own scale. */
static double rel_err(const float *got, const float *want, size_t n)
{
    double e = 0, m = 0;
    for (size_t i = 0; i < n; i++) {
        e = fmax(e, fabs((double)got[i] - want[i]));
        m = fmax(m, fabs((double)want[i]));
    }
    return m > 0 ? e / m : e;
}

/* ---- 1. one step against PyTorch ---------------------------------------------------------------------------- */

static const float *tensor_f32(const frz_st_set *set, const char *name, size_t *n)
{
    const frz_st_tensor *t = frz_st_find(set, name);
    ck_assert_msg(t != NULL, "expected tensor %s", name);
    ck_assert_int_eq(t->dtype, FRZ_DT_F32);
    *n = t->nbytes / 4;
    return t->data;
}

/* The step fixture: the small LM, the encoder and projector, and the expected values with the batch they came from
 * (tests/reference/make_train_fixtures.py). */
typedef struct step_fixture {
    frz_lm *lm;
    frz_nfr_model *enc;
    frz_projector *proj;
    frz_st_set *ex;
    const frz_st_tensor *img, *tok, *len; /* images (B,3,R,R), caption tokens (B,L), their counts (B) */
    int B, R, L;
} step_fixture;

static void step_fixture_load(step_fixture *f)
{
    memset(f, 0, sizeof *f);
    ck_assert_int_eq(frz_lm_load(fixture_path(SMALL_LM), &f->lm), FRZ_OK);
    ck_assert_int_eq(frz_nfr_load(fixture_path("train/encoder.safetensors"), NULL, &f->enc), FRZ_OK);
    ck_assert_int_eq(frz_proj_load(fixture_path("train/projector.safetensors"), &f->proj), FRZ_OK);
    ck_assert_int_eq(frz_st_open_file(fixture_path("train/expected.safetensors"), &f->ex), FRZ_OK);
    f->img = frz_st_find(f->ex, "images"), f->tok = frz_st_find(f->ex, "tokens"), f->len = frz_st_find(f->ex, "len");
    f->B = (int)f->img->shape[0], f->R = (int)f->img->shape[2], f->L = (int)f->tok->shape[1];
}

static void step_fixture_free(step_fixture *f)
{
    frz_st_close(f->ex);
    frz_proj_free(f->proj);
    frz_nfr_free(f->enc);
    frz_lm_free(f->lm);
}

START_TEST(step_matches_pytorch_autograd)
{
    step_fixture f;
    step_fixture_load(&f);
    ck_assert_int_eq(f.len->shape[0], f.B);

    frz_step *s = NULL;
    ck_assert_int_eq(frz_step_create(f.lm, f.enc, f.proj, f.B, 0, f.R, f.L, &s), FRZ_OK);
    float loss;
    int64_t n_targets;
    ck_assert_int_eq(frz_step_zero_grads(s, 2), FRZ_OK);
    ck_assert_int_eq(frz_step_run(s, f.img->data, f.tok->data, f.L, f.len->data, 1, 1.0f, 2, &loss, &n_targets),
                     FRZ_OK);
    const double want_loss = *(const double *)frz_st_find(f.ex, "loss")->data;
    ck_assert_msg(fabs(loss - want_loss) <= 1e-4 * fabs(want_loss), "loss %.7g, PyTorch %.7g", loss, want_loss);
    int64_t want_targets = 0;
    const int32_t *lens = f.len->data;
    for (int b = 0; b < f.B; b++) want_targets += lens[b] >= 0 ? lens[b] + 1 : 0;
    ck_assert_int_eq(n_targets, want_targets);

    size_t n;
    const float *w = tensor_f32(f.ex, "pooled", &n);
    ck_assert_msg(rel_err(s->pooled, w, n) <= 1e-4, "pooled: %.3g", rel_err(s->pooled, w, n));
    w = tensor_f32(f.ex, "prefix", &n);
    ck_assert_msg(rel_err(s->prefix, w, n) <= 1e-4, "prefix: %.3g", rel_err(s->prefix, w, n));
    w = tensor_f32(f.ex, "grad.prefix", &n);
    ck_assert_msg(rel_err(s->d_prefix, w, n) <= 1e-4, "grad.prefix: %.3g", rel_err(s->d_prefix, w, n));
    /* The empty slot (len -1) has no targets: no gradient reaches its prefix. */
    const size_t PC = (size_t)f.proj->n_prefix * f.proj->n_embd;
    for (int b = 0; b < f.B; b++)
        if (lens[b] < 0)
            for (size_t i = 0; i < PC; i++) ck_assert_float_eq(s->d_prefix[b * PC + i], 0.0f);
    w = tensor_f32(f.ex, "grad.projector.weight", &n);
    ck_assert_msg(rel_err(f.proj->grads, w, n) <= 1e-4, "grad.projector.weight: %.3g", rel_err(f.proj->grads, w, n));
    const float *wb = tensor_f32(f.ex, "grad.projector.bias", &n);
    ck_assert_msg(rel_err(f.proj->grads + frz_proj_out(f.proj) * f.proj->n_features, wb, n) <= 1e-4,
                  "grad.projector.bias");
    for (int i = 0; i < f.enc->arch.n_tensors; i++) {
        const frz_nfr_tensor *t = &f.enc->arch.tensors[i];
        char name[80];
        snprintf(name, sizeof name, "grad.%s", t->name);
        w = tensor_f32(f.ex, name, &n);
        ck_assert_uint_eq(n, t->numel);
        double e = rel_err(f.enc->grads + t->offset, w, n);
        ck_assert_msg(e <= 1e-4, "%s: relative error %.3g", name, e);
    }
    /* A forward-only pass (validation) gives the same loss and touches no gradient. */
    float g0 = f.proj->grads[0], loss2;
    ck_assert_int_eq(frz_step_run(s, f.img->data, f.tok->data, f.L, f.len->data, 0, 1.0f, 1, &loss2, &n_targets),
                     FRZ_OK);
    ck_assert_float_eq_tol(loss2, loss, 1e-6f * loss);
    ck_assert_float_eq(f.proj->grads[0], g0);
    double nll_sum = 0;
    int count = 0;
    for (int b = 0; b < f.B; b++) {
        double nll;
        int c;
        frz_step_seq_nll(s, b, &nll, &c);
        nll_sum += nll;
        count += c;
    }
    ck_assert_int_eq(count, want_targets);
    ck_assert_msg(fabs(nll_sum / count - want_loss) <= 1e-4 * want_loss, "per-sequence NLL %.7g", nll_sum / count);

    frz_step_free(s);
    step_fixture_free(&f);
}
END_TEST

START_TEST(micro_batches_sum_to_the_batch_gradient)
{
    /* The fixture's batch of 4 as two micro-batches of 2, each weighted by its share of the targets: the summed
     * gradients are the whole batch's (to float rounding), and so is the target-weighted loss. */
    step_fixture f;
    step_fixture_load(&f);
    const int32_t *lens = f.len->data;
    frz_step *s = NULL;
    ck_assert_int_eq(frz_step_create(f.lm, f.enc, f.proj, f.B / 2, 0, f.R, f.L, &s), FRZ_OK);
    int64_t total = 0, part[2] = {0, 0};
    for (int b = 0; b < f.B; b++) part[b / (f.B / 2)] += lens[b] >= 0 ? lens[b] + 1 : 0;
    total = part[0] + part[1];
    ck_assert_int_eq(frz_step_zero_grads(s, 2), FRZ_OK);
    double sum = 0;
    for (int h = 0; h < 2; h++) {
        const size_t off = (size_t)h * (f.B / 2);
        float l;
        int64_t n;
        const float *images = (const float *)f.img->data + off * 3 * f.R * f.R;
        const int32_t *tokens = (const int32_t *)f.tok->data + off * f.L;
        ck_assert_int_eq(frz_step_run(s, images, tokens, f.L, lens + off, 1, (float)part[h] / (float)total, 1, &l, &n),
                         FRZ_OK);
        ck_assert_int_eq(n, part[h]);
        sum += (double)l * n;
    }
    const double want_loss = *(const double *)frz_st_find(f.ex, "loss")->data;
    ck_assert_msg(fabs(sum / total - want_loss) <= 1e-4 * want_loss, "loss %.7g vs %.7g", sum / total, want_loss);
    size_t n;
    const float *w = tensor_f32(f.ex, "grad.projector.weight", &n);
    ck_assert_msg(rel_err(f.proj->grads, w, n) <= 1e-4, "grad.projector.weight: %.3g", rel_err(f.proj->grads, w, n));
    w = tensor_f32(f.ex, "grad.stem.conv.weight", &n);
    ck_assert_msg(rel_err(f.enc->grads, w, n) <= 1e-4, "grad.stem.conv.weight: %.3g", rel_err(f.enc->grads, w, n));
    frz_step_free(s);
    step_fixture_free(&f);
}
END_TEST

START_TEST(a_shared_image_is_encoded_once)
{
    /* The blind baseline's batches show one (black) image in every slot: with shared_image the step encodes it
     * once and sums the slots' prefix gradients, which must give the loss and gradients of the plain step over
     * B copies of the image (to float rounding). The fixture's first image stands in for the black one. */
    step_fixture f;
    step_fixture_load(&f);
    const size_t per_image = (size_t)3 * f.R * f.R;
    float *copies = malloc((size_t)f.B * per_image * sizeof *copies);
    ck_assert_ptr_nonnull(copies);
    for (int b = 0; b < f.B; b++) memcpy(copies + b * per_image, f.img->data, per_image * sizeof *copies);

    float loss[2];
    int64_t n_targets[2];
    float *proj_grads[2], *enc_grads[2];
    const size_t n_proj = f.proj->n_params, n_enc = (size_t)f.enc->arch.n_params;
    for (int shared = 0; shared < 2; shared++) {
        frz_step *s = NULL;
        ck_assert_int_eq(frz_step_create(f.lm, f.enc, f.proj, f.B, shared, f.R, f.L, &s), FRZ_OK);
        ck_assert_int_eq(s->n_images, shared ? 1 : f.B);
        ck_assert_int_eq(frz_step_zero_grads(s, 2), FRZ_OK);
        ck_assert_int_eq(frz_step_run(s, copies, f.tok->data, f.L, f.len->data, 1, 0.5f, 2, &loss[shared],
                                      &n_targets[shared]), FRZ_OK);
        proj_grads[shared] = malloc(n_proj * sizeof(float));
        enc_grads[shared] = malloc(n_enc * sizeof(float));
        ck_assert_ptr_nonnull(proj_grads[shared]);
        ck_assert_ptr_nonnull(enc_grads[shared]);
        memcpy(proj_grads[shared], f.proj->grads, n_proj * sizeof(float));
        memcpy(enc_grads[shared], f.enc->grads, n_enc * sizeof(float));
        frz_step_free(s);
    }
    ck_assert_int_eq(n_targets[1], n_targets[0]);
    ck_assert_msg(fabsf(loss[1] - loss[0]) <= 1e-6f * loss[0], "loss %.7g, copies %.7g", loss[1], loss[0]);
    double e = rel_err(proj_grads[1], proj_grads[0], n_proj);
    ck_assert_msg(e <= 1e-5, "projector gradients: relative error %.3g", e);
    e = rel_err(enc_grads[1], enc_grads[0], n_enc);
    ck_assert_msg(e <= 1e-5, "encoder gradients: relative error %.3g", e);
    double norm = 0;
    for (size_t i = 0; i < n_enc; i++) norm += (double)enc_grads[0][i] * enc_grads[0][i];
    ck_assert_msg(norm > 0, "the encoder got no gradient: the comparison would be empty");
    for (int i = 0; i < 2; i++) free(proj_grads[i]), free(enc_grads[i]);
    free(copies);
    step_fixture_free(&f);
}
END_TEST

/* ---- data for the runs -------------------------------------------------------------------------------------- */

typedef struct colour {
    const char *name;
    uint8_t rgb[3];
    const char *caption;
} colour;

/* Writes one solid-colour 24x24 PNG per entry and a TSV "name.png TAB caption" in a fresh folder; returns the
 * TSV's path. extra (may be NULL) is appended to the TSV as is. */
static const char *make_data(const colour *c, int n, const char *extra)
{
    const char *dir = make_temp_dir();
    char tsv[8192] = "";
    for (int i = 0; i < n; i++) {
        uint8_t px[24 * 24 * 3];
        for (int k = 0; k < 24 * 24; k++) memcpy(px + 3 * k, c[i].rgb, 3);
        char file[64];
        snprintf(file, sizeof file, "%s.png", c[i].name);
        ck_assert_int_eq(frz_png_write_rgb(path_in(dir, file), px, 24, 24), FRZ_OK);
        snprintf(tsv + strlen(tsv), sizeof tsv - strlen(tsv), "%s\t%s\n", file, c[i].caption);
    }
    if (extra) snprintf(tsv + strlen(tsv), sizeof tsv - strlen(tsv), "%s", extra);
    const char *path = path_in(dir, "data.tsv");
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    fputs(tsv, f);
    fclose(f);
    return path;
}

static const colour EIGHT[8] = {
    {"red", {255, 0, 0}, "a red circle"},        {"green", {0, 255, 0}, "a green square"},
    {"blue", {0, 0, 255}, "a blue triangle"},    {"yellow", {255, 255, 0}, "a yellow star"},
    {"white", {255, 255, 255}, "a white heart"}, {"gray", {128, 128, 128}, "a small grey diamond"},
    {"cyan", {0, 255, 255}, "cyan"},             {"pink", {255, 128, 192}, "a large pink heart on the left"},
};

/* Small, fast settings: the tiny NF-ResNet at width 1/16 on 24x24 images, one thread (deterministic). */
static void small_params(frz_train_params *p)
{
    frz_train_params_init(p);
    p->vision_arch = "tiny";
    p->vision_width = 0.0625f;
    p->image_size = 24;
    p->batch_size = 3;
    p->lr = 1e-3f;
    p->n_threads = 1;
    p->seed = 7;
}

/* Progress recorder: every step's loss, the validations, and an abort after a chosen step. */
typedef struct recorder {
    float loss[512], lr[512];
    double val[512];
    int64_t first, last;       /* steps seen */
    int64_t abort_after;       /* abort once this step is done (0: never) */
    int abort_in_validation;   /* 1: abort from inside the validation of step abort_after */
    int validating;            /* set by the abort callback when polled during validation */
    int64_t skipped;
    int calls;
} recorder;

static void on_progress(const frz_train_progress *p, void *user)
{
    recorder *r = user;
    ck_assert_uint_eq(p->struct_size, sizeof *p);
    ck_assert(p->step >= 1 && p->step < 512);
    if (r->calls++ == 0) r->first = p->step;
    r->last = p->step;
    r->loss[p->step] = p->loss;
    r->lr[p->step] = p->lr;
    r->val[p->step] = p->val_ppl;
    r->skipped = p->skipped_images;
}

static int on_abort(void *user)
{
    recorder *r = user;
    return r->abort_after > 0 && r->calls > 0 && r->last >= r->abort_after;
}

static frz_status train(const frz_lm *lm, const char *data, const char *out, frz_train_params *p, recorder *r)
{
    memset(r->loss, 0, sizeof r->loss);
    r->calls = 0;
    p->progress = on_progress;
    p->progress_data = r;
    p->abort = on_abort;
    p->abort_data = r;
    frz_train *t = NULL;
    frz_status st = frz_train_create(lm, data, out, p, &t);
    if (st != FRZ_OK) return st;
    st = frz_train_run(t);
    frz_train_free(t);
    return st;
}

/* ---- 2. the LM is never written ------------------------------------------------------------------------------ */

static uint64_t fnv(const void *data, size_t n, uint64_t h)
{
    const unsigned char *p = data;
    for (size_t i = 0; i < n; i++) h = (h ^ p[i]) * 0x100000001b3ull;
    return h;
}

/* A checksum of every weight the model holds in memory. */
static uint64_t lm_checksum(const frz_lm *lm)
{
    const frz_gpt2_config *c = &lm->cfg;
    const size_t C = (size_t)c->n_embd, Fi = (size_t)c->n_inner, V = (size_t)c->n_vocab, f = sizeof(float);
    uint64_t h = 0xcbf29ce484222325ull;
    h = fnv(lm->w.wte, V * C * f, h);
    h = fnv(lm->w.wpe, (size_t)c->n_ctx * C * f, h);
    for (int l = 0; l < c->n_layer; l++) {
        const frz_gpt2_layer *L = &lm->w.layers[l];
        h = fnv(L->ln1_w, C * f, h), h = fnv(L->ln1_b, C * f, h), h = fnv(L->qkv_w, 3 * C * C * f, h);
        h = fnv(L->qkv_b, 3 * C * f, h), h = fnv(L->attn_proj_w, C * C * f, h), h = fnv(L->attn_proj_b, C * f, h);
        h = fnv(L->ln2_w, C * f, h), h = fnv(L->ln2_b, C * f, h), h = fnv(L->fc_w, C * Fi * f, h);
        h = fnv(L->fc_b, Fi * f, h), h = fnv(L->fc_proj_w, Fi * C * f, h), h = fnv(L->fc_proj_b, C * f, h);
    }
    h = fnv(lm->w.lnf_w, C * f, h);
    return fnv(lm->w.lnf_b, C * f, h);
}

static uint64_t file_checksum(const char *path)
{
    size_t n;
    char *data = read_file_or_fail(path, &n);
    uint64_t h = fnv(data, n, 0xcbf29ce484222325ull);
    free(data);
    return h;
}

START_TEST(the_lm_is_never_written)
{
    const char *files[4] = {"config.json", "model.safetensors", "vocab.json", "merges.txt"};
    uint64_t before[4];
    char lm_dir[256];
    snprintf(lm_dir, sizeof lm_dir, "%s", fixture_path(SMALL_LM));
    for (int i = 0; i < 4; i++) before[i] = file_checksum(path_in(lm_dir, files[i]));
    frz_lm *lm = NULL;
    ck_assert_int_eq(frz_lm_load(lm_dir, &lm), FRZ_OK);
    const uint64_t mem_before = lm_checksum(lm);
    frz_train_params p;
    small_params(&p);
    p.max_steps = 4;
    p.val_fraction = 0.25f;
    p.val_every = 2;
    recorder r = {0};
    ck_assert_int_eq(train(lm, make_data(EIGHT, 8, NULL), make_temp_dir(), &p, &r), FRZ_OK);
    ck_assert_int_eq(r.last, 4);
    for (int s = 1; s <= 4; s++) ck_assert(isfinite(r.loss[s]) && r.loss[s] > 0);
    ck_assert(lm_checksum(lm) == mem_before);
    frz_lm_free(lm);
    for (int i = 0; i < 4; i++) ck_assert_msg(file_checksum(path_in(lm_dir, files[i])) == before[i], "%s changed", files[i]);
}
END_TEST

/* ---- 3. overfitting a handful of images ------------------------------------------------------------------- */

START_TEST(overfit_then_caption)
{
    /* Four solid-colour images with distinct captions, through the random fixture LM (its vocabulary spells any
     * text, a few bytes per token): four prefix tokens carry a caption of about ten tokens. */
    static const colour four[4] = {
        {"red", {255, 0, 0}, "a red circle"},
        {"green", {0, 255, 0}, "a green square"},
        {"white", {255, 255, 255}, "a white heart"},
        {"yellow", {255, 255, 0}, "a yellow star"},
    };
    const char *data = make_data(four, 4, NULL);
    const char *run = make_temp_dir();
    frz_lm *lm = NULL;
    ck_assert_int_eq(frz_lm_load(fixture_path(SMALL_LM), &lm), FRZ_OK);
    frz_train_params p;
    small_params(&p);
    p.batch_size = 4;
    p.prefix_tokens = 4;
    p.val_fraction = 0;
    p.max_steps = 400;
    recorder r = {0};
    ck_assert_int_eq(train(lm, data, run, &p, &r), FRZ_OK);
    ck_assert_msg(r.loss[400] < 0.1f * r.loss[1], "loss %g -> %g", r.loss[1], r.loss[400]);

    /* What `frozen caption` does: load the run folder and caption each image greedily. */
    frz_vision *v = NULL;
    frz_projector *pr = NULL;
    frz_session *s = NULL;
    ck_assert_int_eq(frz_vision_load(path_in(run, "vision.safetensors"), &v), FRZ_OK);
    ck_assert_int_eq(frz_projector_load(path_in(run, "projector.safetensors"), &pr), FRZ_OK);
    ck_assert_int_eq(frz_projector_get(pr, FRZ_PROJECTOR_N_PREFIX), 4);
    ck_assert_int_eq(frz_session_create(lm, &s), FRZ_OK);
    char dir[1024];
    snprintf(dir, sizeof dir, "%s", data);
    *strrchr(dir, '/') = '\0';
    for (int i = 0; i < 4; i++) {
        char file[64], text[256];
        size_t n = 0;
        snprintf(file, sizeof file, "%s.png", four[i].name);
        frz_image *img = NULL;
        ck_assert_int_eq(frz_image_load_file(path_in(dir, file), &img), FRZ_OK);
        ck_assert_int_eq(frz_caption(s, 0, v, pr, img, 20, text, sizeof text, &n), FRZ_OK);
        ck_assert_msg(strcmp(text, four[i].caption) == 0, "%s: \"%s\", trained on \"%s\"", file, text, four[i].caption);
        ck_assert_uint_eq(n, strlen(four[i].caption));
        /* The buffer protocol: too small says how much is needed. */
        ck_assert_int_eq(frz_caption(s, 0, v, pr, img, 20, text, n, &n), FRZ_ERR_BUFFER_TOO_SMALL);
        ck_assert_uint_eq(n, strlen(four[i].caption));
        frz_image_free(img);
    }
    /* A projector for another LM width is refused. */
    frz_projector *wrong = NULL;
    ck_assert_int_eq(frz_projector_create(128, 2, 64, 0, &wrong), FRZ_OK);
    frz_image *img = NULL;
    ck_assert_int_eq(frz_image_load_file(path_in(dir, "red.png"), &img), FRZ_OK);
    char text[64];
    size_t n;
    ck_assert_int_eq(frz_caption(s, 0, v, wrong, img, 5, text, sizeof text, &n), FRZ_ERR_SHAPE);
    frz_image_free(img);
    frz_projector_free(wrong);
    /* The run folder's other files. */
    char *csv = read_file_or_fail(path_in(run, "metrics.csv"), NULL);
    int rows = -1;
    for (char *c = csv; *c; c++) rows += *c == '\n';
    ck_assert_int_eq(rows, 400);
    free(csv);
    ck_assert_int_eq(frz_image_load_file(path_in(run, "loss.png"), &img), FRZ_OK);
    ck_assert_int_eq(frz_image_width(img), FRZ_PLOT_W);
    frz_image_free(img);
    frz_session_free(s);
    frz_projector_free(pr);
    frz_vision_free(v);
    frz_lm_free(lm);
}
END_TEST

/* ---- 4. determinism and resuming ---------------------------------------------------------------------------- */

START_TEST(resume_gives_the_uninterrupted_losses)
{
    /* 8 images, one of them corrupt and one missing; 2 held out; batches of 3 -> steps per epoch 2. */
    const char *data = make_data(EIGHT, 8, "corrupt.png\ta broken image\nmissing.png\tnothing here\n");
    char dir[1024];
    snprintf(dir, sizeof dir, "%s", data);
    *strrchr(dir, '/') = '\0';
    FILE *f = fopen(path_in(dir, "corrupt.png"), "wb");
    fputs("\x89PNG\r\n\x1a\nnot really", f);
    fclose(f);
    frz_lm *lm = NULL;
    ck_assert_int_eq(frz_lm_load(fixture_path(SMALL_LM), &lm), FRZ_OK);
    frz_train_params p;
    small_params(&p);
    p.max_steps = 9;
    p.val_fraction = 0.2f;
    p.val_every = 2;
    p.patience = 0;
    p.checkpoint_every = 4;

    /* A: uninterrupted. B: the same again (determinism). */
    const char *run_a = make_temp_dir(), *run_b = make_temp_dir(), *run_c = make_temp_dir();
    recorder a = {0}, b = {0}, c = {0};
    ck_assert_int_eq(train(lm, data, run_a, &p, &a), FRZ_OK);
    ck_assert_int_eq(a.last, 9);
    ck_assert_int_eq(train(lm, data, run_b, &p, &b), FRZ_OK);
    for (int s = 1; s <= 9; s++) {
        ck_assert_msg(memcmp(&a.loss[s], &b.loss[s], sizeof(float)) == 0, "step %d: %.9g vs %.9g", s, a.loss[s], b.loss[s]);
        ck_assert(a.val[s] == b.val[s]);
        ck_assert_int_eq(a.val[s] > 0, s % 2 == 0 || s == 9); /* validations every 2 steps and at the end */
    }
    ck_assert_int_gt(a.skipped, 0); /* the corrupt and the missing image, each time they come up */

    /* D: the same batches in micro-batches of one example: the same run up to float rounding. */
    recorder d = {0};
    frz_train_params pm = p;
    pm.micro_batch = 1;
    ck_assert_int_eq(train(lm, data, make_temp_dir(), &pm, &d), FRZ_OK);
    for (int s = 1; s <= 9; s++) {
        ck_assert_msg(fabsf(d.loss[s] - a.loss[s]) <= 1e-3f * a.loss[s], "step %d: %.9g vs %.9g", s, d.loss[s], a.loss[s]);
        ck_assert(fabs(d.val[s] - a.val[s]) <= 1e-3 * a.val[s]);
    }

    /* C: aborted after step 5 (a checkpoint is written there), then resumed to the end. */
    c.abort_after = 5;
    ck_assert_int_eq(train(lm, data, run_c, &p, &c), FRZ_ERR_CANCELLED);
    ASSERT_MSG_HAS("checkpoint written at step 5");
    ck_assert_int_eq(c.last, 5);
    c.abort_after = 0;
    p.resume = 1;
    ck_assert_int_eq(train(lm, data, run_c, &p, &c), FRZ_OK);
    ck_assert_int_eq(c.first, 6);
    ck_assert_int_eq(c.last, 9);
    for (int s = 6; s <= 9; s++) {
        ck_assert_msg(memcmp(&a.loss[s], &c.loss[s], sizeof(float)) == 0, "step %d: %.9g vs %.9g", s, a.loss[s], c.loss[s]);
        ck_assert_msg(a.val[s] == c.val[s], "step %d: val %.17g vs %.17g", s, a.val[s], c.val[s]);
    }
    ck_assert_int_eq(c.skipped, a.skipped); /* the count carries over */
    /* The end states are identical: the same model files, and metrics.csv holds the same losses. */
    const char *same[2] = {"vision.safetensors", "projector.safetensors"};
    for (int i = 0; i < 2; i++)
        ck_assert_msg(file_checksum(path_in(run_a, same[i])) == file_checksum(path_in(run_c, same[i])), "%s", same[i]);
    char *ma = read_file_or_fail(path_in(run_a, "metrics.csv"), NULL), *mc = read_file_or_fail(path_in(run_c, "metrics.csv"), NULL);
    char *pa = ma, *pc = mc;
    for (int line = 0; line < 10; line++) { /* compare step,epoch,loss,val_ppl (images/s differs) */
        char *ea = strchr(pa, '\n'), *ec = strchr(pc, '\n');
        ck_assert(ea && ec);
        const char *ka = pa, *kc = pc;
        for (int comma = 0; comma < 4; comma++) ka = strchr(ka, ',') + 1, kc = strchr(kc, ',') + 1;
        if (line > 0) ck_assert_msg(ka - pa == kc - pc && strncmp(pa, pc, (size_t)(ka - pa)) == 0, "line %d", line);
        pa = ea + 1, pc = ec + 1;
    }
    ck_assert_str_eq(pa, "");
    ck_assert_str_eq(pc, "");
    free(ma), free(mc);

    /* Resuming a finished run does nothing; resuming with another batch size is refused. */
    c.calls = 0;
    ck_assert_int_eq(train(lm, data, run_c, &p, &c), FRZ_OK);
    ck_assert_int_eq(c.calls, 0);
    p.batch_size = 4;
    ck_assert_int_eq(train(lm, data, run_c, &p, &c), FRZ_ERR_INVALID_ARG);
    ASSERT_MSG_HAS("batch size");
    frz_lm_free(lm);
}
END_TEST

START_TEST(abort_keeps_the_checkpoint_intact)
{
    const char *data = make_data(EIGHT, 8, NULL);
    frz_lm *lm = NULL;
    ck_assert_int_eq(frz_lm_load(fixture_path(SMALL_LM), &lm), FRZ_OK);
    frz_train_params p;
    small_params(&p);
    p.max_steps = 6;
    p.val_fraction = 0.25f;
    p.val_every = 3;
    p.patience = 0;
    const char *run = make_temp_dir(), *ref = make_temp_dir();
    recorder a = {0}, r = {0};
    ck_assert_int_eq(train(lm, data, ref, &p, &a), FRZ_OK);

    /* Abort after step 2: the checkpoint holds step 2 and loads. */
    r.abort_after = 2;
    ck_assert_int_eq(train(lm, data, run, &p, &r), FRZ_ERR_CANCELLED);
    frz_st_set *set = NULL;
    ck_assert_int_eq(frz_st_open_file(path_in(run, "checkpoint.safetensors"), &set), FRZ_OK);
    ck_assert_str_eq(frz_st_metadata(set, "frozen.train.step"), "2");
    frz_st_close(set);
    size_t len0;
    char *ck0 = read_file_or_fail(path_in(run, "checkpoint.safetensors"), &len0);

    /* A resumed run whose checkpoint write fails (a folder blocks the temporary file's name) reports the I/O
     * error and leaves the previous checkpoint as it was, byte for byte. */
    char tmp[4300];
    snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path_in(run, "checkpoint.safetensors"), (long)getpid());
    ck_assert_int_eq(mkdir(tmp, 0777), 0);
    p.resume = 1;
    r.abort_after = 0;
    ck_assert_int_eq(train(lm, data, run, &p, &r), FRZ_ERR_IO);
    ASSERT_MSG_HAS("checkpoint.safetensors");
    size_t len1;
    char *ck1 = read_file_or_fail(path_in(run, "checkpoint.safetensors"), &len1);
    ck_assert(len1 == len0 && memcmp(ck0, ck1, len0) == 0);
    free(ck0), free(ck1);
    rmdir(tmp);

    /* From that checkpoint the run still ends as the uninterrupted one. */
    ck_assert_int_eq(train(lm, data, run, &p, &r), FRZ_OK);
    ck_assert_int_eq(r.first, 3);
    for (int s = 3; s <= 6; s++) ck_assert(memcmp(&a.loss[s], &r.loss[s], sizeof(float)) == 0);
    ck_assert_int_eq(file_checksum(path_in(ref, "vision.safetensors")) == file_checksum(path_in(run, "vision.safetensors")), 1);
    frz_lm_free(lm);
}
END_TEST

/* ---- 5. early stopping, blind, errors --------------------------------------------------------------------- */

START_TEST(early_stopping_follows_the_patience)
{
    const char *data = make_data(EIGHT, 8, NULL);
    frz_lm *lm = NULL;
    ck_assert_int_eq(frz_lm_load(fixture_path(SMALL_LM), &lm), FRZ_OK);
    frz_train_params p;
    small_params(&p);
    p.max_steps = 40;
    p.val_fraction = 0.25f;
    p.val_every = 1;
    p.patience = 2;
    p.lr = 0.5f; /* far too large: the validation perplexity soon stops improving */
    recorder r = {0};
    ck_assert_int_eq(train(lm, data, make_temp_dir(), &p, &r), FRZ_OK);
    ck_assert_int_lt(r.last, 40);
    /* Replay the rule on the recorded perplexities: the run stops at the first step where the last two
     * validations were no better than the best before them, and not earlier. */
    double best = 0;
    int bad = 0;
    int64_t stop = 0;
    for (int s = 1; s <= r.last; s++) {
        ck_assert(r.val[s] > 0);
        if (best == 0 || r.val[s] < best) best = r.val[s], bad = 0;
        else bad++;
        if (bad >= 2 && !stop) stop = s;
    }
    ck_assert_int_eq(stop, r.last);
    frz_lm_free(lm);
}
END_TEST

START_TEST(lr_decay_cools_down_the_last_steps)
{
    const char *data = make_data(EIGHT, 8, NULL);
    frz_lm *lm = NULL;
    ck_assert_int_eq(frz_lm_load(fixture_path(SMALL_LM), &lm), FRZ_OK);
    frz_train_params p;
    small_params(&p);
    p.max_steps = 8;
    p.val_fraction = 0;
    recorder flat = {0}, cool = {0};
    ck_assert_int_eq(train(lm, data, make_temp_dir(), &p, &flat), FRZ_OK);
    const char *run = make_temp_dir();
    p.lr_decay = 0.5f;
    ck_assert_int_eq(train(lm, data, run, &p, &cool), FRZ_OK);
    ck_assert_int_eq(cool.last, 8);
    for (int s = 1; s <= 8; s++) {
        ck_assert_float_eq(flat.lr[s], p.lr);
        /* The second half falls linearly: step s of 8 at lr (1 - (s-1)/8) / 0.5 = lr (9 - s) / 4. */
        const double want = s <= 4 ? p.lr : p.lr * (9.0 - s) / 4.0;
        ck_assert_msg(fabs(cool.lr[s] - want) <= 1e-6 * want, "step %d: lr %.9g, want %.9g", s, cool.lr[s], want);
    }
    /* The schedule is what Adam used: the same losses while the rates agree (a step's loss comes before its
     * update, and step 5 still runs at the full rate), different ones after step 6's smaller update. */
    for (int s = 1; s <= 6; s++) ck_assert_msg(memcmp(&flat.loss[s], &cool.loss[s], sizeof(float)) == 0, "step %d", s);
    ck_assert(flat.loss[7] != cool.loss[7] && flat.loss[8] != cool.loss[8]);
    /* metrics.csv's lr column is the scheduled rate: the last row's is a quarter of lr. */
    char *csv = read_file_or_fail(path_in(run, "metrics.csv"), NULL);
    char *end = csv + strlen(csv) - 1; /* the final newline */
    while (end > csv && end[-1] != ',') end--;
    ck_assert_msg(fabs(strtod(end, NULL) - p.lr / 4.0) <= 1e-6 * p.lr, "last row's lr: %s", end);
    free(csv);
    /* Stopped inside the cool-down and resumed, the run goes on down the same slope: the same rates and losses. */
    recorder part = {0};
    const char *run_r = make_temp_dir();
    part.abort_after = 6;
    ck_assert_int_eq(train(lm, data, run_r, &p, &part), FRZ_ERR_CANCELLED);
    part.abort_after = 0;
    p.resume = 1;
    ck_assert_int_eq(train(lm, data, run_r, &p, &part), FRZ_OK);
    ck_assert_int_eq(part.first, 7);
    for (int s = 7; s <= 8; s++) {
        ck_assert_float_eq(part.lr[s], cool.lr[s]);
        ck_assert_msg(memcmp(&part.loss[s], &cool.loss[s], sizeof(float)) == 0, "step %d", s);
    }
    frz_lm_free(lm);
}
END_TEST

START_TEST(blind_training_never_reads_images)
{
    /* Every image is missing: with --blind nothing is decoded, nothing skipped, and training runs. */
    const char *tsv = write_temp_file("blind.tsv", "nope1.png\ta cat\nnope2.png\ta dog\nnope3.png\ta cow\n", 47);
    frz_lm *lm = NULL;
    ck_assert_int_eq(frz_lm_load(fixture_path(SMALL_LM), &lm), FRZ_OK);
    frz_train_params p;
    small_params(&p);
    p.blind = 1;
    p.val_fraction = 0;
    p.max_steps = 3;
    recorder r = {0};
    ck_assert_int_eq(train(lm, tsv, make_temp_dir(), &p, &r), FRZ_OK);
    ck_assert_int_eq(r.skipped, 0);
    ck_assert(isfinite(r.loss[3]));
    /* Without --blind every image fails: no step updates anything, the loss is NaN, each skip is counted. */
    p.blind = 0;
    ck_assert_int_eq(train(lm, tsv, make_temp_dir(), &p, &r), FRZ_OK);
    ck_assert_int_eq(r.skipped, 9);
    ck_assert(isnan(r.loss[3]));
    frz_lm_free(lm);
}
END_TEST

START_TEST(create_errors)
{
    const char *data = make_data(EIGHT, 4, NULL);
    frz_lm *lm = NULL;
    ck_assert_int_eq(frz_lm_load(fixture_path(SMALL_LM), &lm), FRZ_OK);
    frz_train_params p;
    small_params(&p);
    p.max_steps = 1;
    p.val_fraction = 0;
    frz_train *t = (frz_train *)1;
    const char *run = make_temp_dir();
    /* Resuming without a checkpoint. */
    p.resume = 1;
    ck_assert_int_eq(frz_train_create(lm, data, run, &p, &t), FRZ_ERR_IO);
    ck_assert_ptr_null(t);
    ASSERT_MSG_HAS("no checkpoint");
    /* A run folder that already holds a checkpoint is not overwritten. */
    p.resume = 0;
    recorder r = {0};
    ck_assert_int_eq(train(lm, data, run, &p, &r), FRZ_OK);
    ck_assert_int_eq(frz_train_create(lm, data, run, &p, &t), FRZ_ERR_INVALID_ARG);
    ASSERT_MSG_HAS("already exists");
    /* Parameters. */
    const char *fresh = make_temp_dir();
    frz_train_params q = p;
    q.struct_size = 0;
    ck_assert_int_eq(frz_train_create(lm, data, fresh, &q, &t), FRZ_ERR_INVALID_ARG);
    q = p, q.vision_arch = "nf_resnet99";
    ck_assert_int_eq(frz_train_create(lm, data, fresh, &q, &t), FRZ_ERR_INVALID_ARG);
    q = p, q.prefix_tokens = 60, q.max_caption_tokens = 10; /* 70 positions > the LM's 64 */
    ck_assert_int_eq(frz_train_create(lm, data, fresh, &q, &t), FRZ_ERR_INVALID_ARG);
    ASSERT_MSG_HAS("context length");
    q = p, q.val_fraction = 0.9f;
    ck_assert_int_eq(frz_train_create(lm, data, fresh, &q, &t), FRZ_ERR_INVALID_ARG);
    ASSERT_MSG_HAS("val_fraction");
    q = p, q.lr_decay = 1.5f;
    ck_assert_int_eq(frz_train_create(lm, data, fresh, &q, &t), FRZ_ERR_INVALID_ARG);
    ASSERT_MSG_HAS("lr_decay is 1.5");
    ck_assert_int_eq(frz_train_create(lm, "/nonexistent/data.tsv", fresh, &p, &t), FRZ_ERR_IO);
    ck_assert_int_eq(frz_train_create(lm, data, "/nonexistent/dir/run", &p, &t), FRZ_ERR_IO);
    ck_assert_int_eq(frz_train_run(NULL), FRZ_ERR_INVALID_ARG);
    frz_train_free(NULL);
    /* Defaults are the paper's. */
    frz_train_params_init(&q);
    ck_assert_str_eq(q.vision_arch, "nf_resnet50");
    ck_assert_float_eq(q.beta1, 0.9f);
    ck_assert_float_eq(q.beta2, 0.95f);
    ck_assert_float_eq(q.lr, 3e-4f);
    ck_assert_float_eq(q.lr_decay, 0.0f); /* constant, as in the paper */
    ck_assert_int_eq(q.prefix_tokens, 2);
    ck_assert_int_eq(q.image_size, 224);
    frz_lm_free(lm);
}
END_TEST

/* ---- the baselines that train the LM too ------------------------------------------------------------------- */

START_TEST(finetune_and_scratch_train_the_lm)
{
    frz_lm *lm = NULL;
    ck_assert_int_eq(frz_lm_load(fixture_path(SMALL_LM), &lm), FRZ_OK);
    const uint64_t mem_before = lm_checksum(lm);
    const char *data = make_data(EIGHT, 8, NULL);
    frz_train_params p;
    small_params(&p);
    p.max_steps = 4;
    p.val_fraction = 0.25f;
    p.val_every = 2;
    p.patience = 0;

    /* frozen (the default): no LM folder */
    recorder r = {0};
    const char *run_frozen = make_temp_dir();
    ck_assert_int_eq(train(lm, data, run_frozen, &p, &r), FRZ_OK);
    FILE *f = fopen(path_in(run_frozen, "lm/model.safetensors"), "rb");
    ck_assert(f == NULL);
    const float frozen_loss4 = r.loss[4];

    /* finetuned: the loaded model stays as it was; RUNDIR/lm holds trained weights near the loaded ones */
    frz_train_params pf = p;
    pf.lm_mode = FRZ_TRAIN_LM_FINETUNE;
    pf.lm_lr = 1e-3f;
    const char *run_ft = make_temp_dir();
    ck_assert_int_eq(train(lm, data, run_ft, &pf, &r), FRZ_OK);
    ck_assert(lm_checksum(lm) == mem_before);
    ck_assert(r.loss[4] != frozen_loss4); /* the LM moved under the later steps */
    frz_lm *ft = NULL;
    ck_assert_msg(frz_lm_load(path_in(run_ft, "lm"), &ft) == FRZ_OK, "%s", frz_last_error());
    const size_t n = (size_t)lm->cfg.n_vocab * (size_t)lm->cfg.n_embd;
    double moved = 0;
    for (size_t i = 0; i < n; i++) moved = fmax(moved, fabs(ft->w.wte[i] - lm->w.wte[i]));
    ck_assert_msg(moved > 1e-4 && moved < 0.05, "finetuned wte moved by %g", moved); /* a few steps of lr 1e-3 */
    frz_lm_free(ft);

    /* from scratch: GPT-2's init (wte std 0.02, not the fixture's 0.3), then trained */
    frz_train_params ps = p;
    ps.lm_mode = FRZ_TRAIN_LM_SCRATCH;
    const char *run_sc = make_temp_dir();
    ck_assert_int_eq(train(lm, data, run_sc, &ps, &r), FRZ_OK);
    frz_lm *sc = NULL;
    ck_assert(frz_lm_load(path_in(run_sc, "lm"), &sc) == FRZ_OK);
    double s2 = 0;
    for (size_t i = 0; i < n; i++) s2 += (double)sc->w.wte[i] * sc->w.wte[i];
    ck_assert_msg(sqrt(s2 / (double)n) < 0.05, "scratch wte rms %g", sqrt(s2 / (double)n));
    ck_assert(sc->w.layers[0].ln1_w[0] != 1.0f); /* trained, not just initialised */
    frz_lm_free(sc);

    /* resuming a finetuned run restores the LM's weights and moments: the uninterrupted losses */
    recorder a = {0}, b = {0};
    const char *run_b = make_temp_dir();
    ck_assert_int_eq(train(lm, data, make_temp_dir(), &pf, &a), FRZ_OK);
    b.abort_after = 2;
    ck_assert_int_eq(train(lm, data, run_b, &pf, &b), FRZ_ERR_CANCELLED);
    frz_train_params pr = pf;
    pr.resume = 1;
    b.abort_after = 0;
    ck_assert_int_eq(train(lm, data, run_b, &pr, &b), FRZ_OK);
    for (int s = 3; s <= 4; s++)
        ck_assert_msg(memcmp(&a.loss[s], &b.loss[s], sizeof(float)) == 0, "step %d: %.9g vs %.9g", s, a.loss[s], b.loss[s]);
    /* and resuming it with another LM mode is refused */
    frz_train_params pz = pr;
    pz.lm_mode = FRZ_TRAIN_LM_SCRATCH;
    ck_assert_int_eq(train(lm, data, run_b, &pz, &b), FRZ_ERR_INVALID_ARG);
    ASSERT_MSG_HAS("LM mode");
    frz_lm_free(lm);
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("train");
    TCase *tc = tcase_create("train");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, step_matches_pytorch_autograd);
    tcase_add_test(tc, micro_batches_sum_to_the_batch_gradient);
    tcase_add_test(tc, a_shared_image_is_encoded_once);
    tcase_add_test(tc, the_lm_is_never_written);
    tcase_add_test(tc, overfit_then_caption);
    tcase_add_test(tc, resume_gives_the_uninterrupted_losses);
    tcase_add_test(tc, abort_keeps_the_checkpoint_intact);
    tcase_add_test(tc, early_stopping_follows_the_patience);
    tcase_add_test(tc, lr_decay_cools_down_the_last_steps);
    tcase_add_test(tc, blind_training_never_reads_images);
    tcase_add_test(tc, create_errors);
    tcase_add_test(tc, finetune_and_scratch_train_the_lm);
    suite_add_tcase(s, tc);
    return s;
}

FRZ_TEST_MAIN(make_suite)
