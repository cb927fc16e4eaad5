/* loader.c -- the prefetching batch loader (see loader.h). */
#include "train/loader.h"

#include "image/image.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define N_SLOTS 2 /* the batch in use and the one being filled */

enum { SLOT_FREE, SLOT_READY, SLOT_IN_USE };

typedef struct slot {
    frz_batch b;
    int state;
    frz_status status;  /* a failure of the loader itself while filling */
    char error[512];    /* its message (frz_last_error is per thread) */
} slot;

struct frz_loader {
    frz_loader_config cfg;
    frz_image_prep_params prep;
    size_t image_floats;   /* 3 R R */
    float *black;          /* (3,R,R) */
    int32_t *tok_buf;      /* tokenizer output, grown as needed */
    size_t tok_cap;
    slot slots[N_SLOTS];

    pthread_mutex_t mu;
    pthread_cond_t cv;
    pthread_t thread;
    int running;           /* a thread exists (joined by stop) */
    int stop;              /* asks the thread to end */
    int finished;          /* the thread has left its loop */
    const int32_t *order;
    size_t n;
    int64_t n_batches;
    int64_t next_fill;     /* batch the thread fills next */
    int64_t next_take;     /* batch the caller takes next */
};

/* ---- filling one batch (on the loader thread, without the lock) ------------------------------------------ */

/* Tokenizes a caption into tok_buf, cut to max_tokens. Returns the count or -1 (message set). */
static int tokenize(frz_loader *L, const char *caption, frz_status *st)
{
    size_t n = 0;
    *st = frz_tokenize(L->cfg.lm, caption, (size_t)-1, 0, L->tok_buf, L->tok_cap, &n);
    if (*st == FRZ_ERR_BUFFER_TOO_SMALL) {
        int32_t *bigger = frz_realloc(L->tok_buf, n * sizeof *bigger, "caption tokens");
        if (!bigger) {
            *st = FRZ_ERR_NOMEM;
            return -1;
        }
        L->tok_buf = bigger;
        L->tok_cap = n;
        *st = frz_tokenize(L->cfg.lm, caption, (size_t)-1, 0, L->tok_buf, L->tok_cap, &n);
    }
    if (*st != FRZ_OK) return -1;
    return (int)(n < (size_t)L->cfg.max_tokens ? n : (size_t)L->cfg.max_tokens);
}

/* Loads one image into dst; on failure logs it and returns 0. */
static int load_image(frz_loader *L, const char *path, float *dst)
{
    frz_image *img = NULL;
    size_t need = 0;
    frz_status st = frz_image_load_file(path, &img);
    if (st == FRZ_OK) st = frz_image_preprocess(img, &L->prep, dst, L->image_floats, &need);
    frz_image_free(img);
    if (st == FRZ_OK) return 1;
    frz_log(FRZ_LOG_WARN, "skipping image %s: %s: %s", path, frz_strerror(st), frz_last_error());
    return 0;
}

static frz_status fill(frz_loader *L, frz_batch *b, int64_t k)
{
    const int B = L->cfg.B, T = L->cfg.max_tokens;
    size_t first = (size_t)k * (size_t)B;
    b->index = k;
    b->n_valid = b->n_skipped = b->max_len = 0;
    for (int i = 0; i < B; i++) {
        float *img = b->images + (size_t)i * L->image_floats;
        b->len[i] = -1;
        b->example[i] = -1;
        memset(b->tokens + (size_t)i * T, 0, (size_t)T * sizeof *b->tokens);
        if (first + (size_t)i >= L->n) {
            memcpy(img, L->black, L->image_floats * sizeof *img);
            continue;
        }
        int32_t ex = L->order[first + (size_t)i];
        if (L->cfg.blind) {
            memcpy(img, L->black, L->image_floats * sizeof *img);
        } else if (!load_image(L, frz_dataset_path(L->cfg.ds, (size_t)ex), img)) {
            memcpy(img, L->black, L->image_floats * sizeof *img);
            b->n_skipped++;
            continue;
        }
        frz_status st;
        int n = tokenize(L, frz_dataset_caption(L->cfg.ds, (size_t)ex), &st);
        if (n < 0) return frz_fail_prefix(st, "tokenizing the caption of example %d: ", (int)ex);
        memcpy(b->tokens + (size_t)i * T, L->tok_buf, (size_t)n * sizeof *b->tokens);
        b->len[i] = n;
        b->example[i] = ex;
        b->n_valid++;
        if (n > b->max_len) b->max_len = n;
    }
    return FRZ_OK;
}

static void *loader_main(void *arg)
{
    frz_loader *L = arg;
    pthread_mutex_lock(&L->mu);
    while (!L->stop && L->next_fill < L->n_batches) {
        int64_t k = L->next_fill;
        slot *s = &L->slots[k % N_SLOTS];
        if (s->state != SLOT_FREE) {
            pthread_cond_wait(&L->cv, &L->mu);
            continue;
        }
        pthread_mutex_unlock(&L->mu);
        frz_status st = fill(L, &s->b, k);
        pthread_mutex_lock(&L->mu);
        s->status = st;
        if (st != FRZ_OK) snprintf(s->error, sizeof s->error, "%s", frz_last_error());
        s->state = SLOT_READY;
        L->next_fill++;
        pthread_cond_broadcast(&L->cv);
        if (st != FRZ_OK) break; /* the caller reports it; nothing after it is loaded */
    }
    L->finished = 1;
    pthread_cond_broadcast(&L->cv);
    pthread_mutex_unlock(&L->mu);
    return NULL;
}

/* ---- the caller's side ----------------------------------------------------------------------------------- */

frz_status frz_loader_create(const frz_loader_config *cfg, frz_loader **out)
{
    *out = NULL;
    if (!cfg || !cfg->ds || !cfg->lm || cfg->B < 1 || cfg->max_tokens < 1)
        return frz_fail(FRZ_ERR_INVALID_ARG, "loader: bad configuration");
    frz_loader *L = frz_calloc(1, sizeof *L, "loader");
    if (!L) return FRZ_ERR_NOMEM;
    L->cfg = *cfg;
    frz_image_prep_params_init(&L->prep);
    L->prep.size = cfg->image_size;
    L->image_floats = frz_image_prep_count(&L->prep);
    frz_status st = L->image_floats ? FRZ_OK : frz_fail(FRZ_ERR_INVALID_ARG, "loader: image size %d", cfg->image_size);
    size_t need = 0;
    if (st == FRZ_OK && !(L->black = frz_malloc(L->image_floats * sizeof *L->black, "black image"))) st = FRZ_ERR_NOMEM;
    if (st == FRZ_OK) st = frz_image_black(&L->prep, L->black, L->image_floats, &need);
    L->tok_cap = (size_t)cfg->max_tokens + 16;
    if (st == FRZ_OK && !(L->tok_buf = frz_malloc(L->tok_cap * sizeof *L->tok_buf, "caption tokens"))) st = FRZ_ERR_NOMEM;
    for (int s = 0; s < N_SLOTS && st == FRZ_OK; s++) {
        frz_batch *b = &L->slots[s].b;
        b->B = cfg->B;
        b->images = frz_calloc((size_t)cfg->B, L->image_floats * sizeof(float), "batch images");
        b->tokens = frz_calloc((size_t)cfg->B * (size_t)cfg->max_tokens, sizeof(int32_t), "batch tokens");
        b->len = frz_calloc((size_t)cfg->B, sizeof(int32_t), "batch lengths");
        b->example = frz_calloc((size_t)cfg->B, sizeof(int32_t), "batch examples");
        if (!b->images || !b->tokens || !b->len || !b->example) st = FRZ_ERR_NOMEM;
    }
    if (st == FRZ_OK && pthread_mutex_init(&L->mu, NULL) != 0) st = frz_fail(FRZ_ERR_NOMEM, "loader: mutex");
    if (st == FRZ_OK && pthread_cond_init(&L->cv, NULL) != 0) {
        pthread_mutex_destroy(&L->mu);
        st = frz_fail(FRZ_ERR_NOMEM, "loader: condition variable");
    }
    if (st != FRZ_OK) {
        for (int s = 0; s < N_SLOTS; s++) {
            frz_batch *b = &L->slots[s].b;
            free(b->images), free(b->tokens), free(b->len), free(b->example);
        }
        free(L->black);
        free(L->tok_buf);
        free(L);
        return st;
    }
    *out = L;
    return FRZ_OK;
}

void frz_loader_stop(frz_loader *L)
{
    if (!L || !L->running) return;
    pthread_mutex_lock(&L->mu);
    L->stop = 1;
    pthread_cond_broadcast(&L->cv);
    pthread_mutex_unlock(&L->mu);
    pthread_join(L->thread, NULL);
    L->running = 0;
}

void frz_loader_free(frz_loader *L)
{
    if (!L) return;
    frz_loader_stop(L);
    pthread_cond_destroy(&L->cv);
    pthread_mutex_destroy(&L->mu);
    for (int s = 0; s < N_SLOTS; s++) {
        frz_batch *b = &L->slots[s].b;
        free(b->images), free(b->tokens), free(b->len), free(b->example);
    }
    free(L->black);
    free(L->tok_buf);
    free(L);
}

frz_status frz_loader_start(frz_loader *L, const int32_t *order, size_t n, int64_t first_batch)
{
    frz_loader_stop(L);
    L->order = order;
    L->n = n;
    L->n_batches = frz_loader_n_batches(n, L->cfg.B);
    if (first_batch < 0 || first_batch > L->n_batches) first_batch = L->n_batches;
    L->next_fill = L->next_take = first_batch;
    L->stop = L->finished = 0;
    for (int s = 0; s < N_SLOTS; s++) L->slots[s].state = SLOT_FREE;
    if (L->next_fill >= L->n_batches) return FRZ_OK; /* nothing to load: no thread */
    int e = pthread_create(&L->thread, NULL, loader_main, L);
    if (e != 0) return frz_fail(FRZ_ERR_NOMEM, "loader: cannot start its thread (error %d)", e);
    L->running = 1;
    return FRZ_OK;
}

frz_status frz_loader_next(frz_loader *L, const frz_batch **out)
{
    *out = NULL;
    if (L->next_take >= L->n_batches) return FRZ_OK;
    slot *s = &L->slots[L->next_take % N_SLOTS];
    pthread_mutex_lock(&L->mu);
    while (s->state == SLOT_FREE && !L->finished) pthread_cond_wait(&L->cv, &L->mu);
    int state = s->state;
    frz_status st = s->status;
    if (state == SLOT_READY) s->state = SLOT_IN_USE;
    pthread_mutex_unlock(&L->mu);
    if (state == SLOT_IN_USE) return frz_fail(FRZ_ERR_INVALID_ARG, "loader: the previous batch was not released");
    if (state != SLOT_READY) return frz_fail(FRZ_ERR_INVALID_ARG, "loader: the job ended early (after a failure)");
    if (st != FRZ_OK) return frz_fail(st, "%s", s->error);
    *out = &s->b;
    return FRZ_OK;
}

void frz_loader_release(frz_loader *L)
{
    slot *s = &L->slots[L->next_take % N_SLOTS];
    pthread_mutex_lock(&L->mu);
    if (s->state == SLOT_IN_USE) {
        s->state = SLOT_FREE;
        L->next_take++;
        pthread_cond_broadcast(&L->cv);
    }
    pthread_mutex_unlock(&L->mu);
}
