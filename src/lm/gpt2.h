/* gpt2.h -- the GPT-2 language model inside libfrozen: its configuration, its weights (read-only after load)
 * and the forward pass. Internal; the public API is include/frozen.h. */
#ifndef FRZ_GPT2_H
#define FRZ_GPT2_H

#include "core/core.h"
#include "math/nn.h"

#include <jansson.h>

typedef struct frz_gpt2_config {
    int n_layer;
    int n_head;
    int n_embd;            /* C */
    int n_inner;           /* MLP width, 4C unless config.json says otherwise */
    int n_vocab;           /* V, vocab_size */
    int n_ctx;             /* n_positions */
    float ln_eps;          /* layer_norm_epsilon */
    frz_activation act;    /* activation_function */
    int scale_attn;        /* scale_attn_weights: scores divided by sqrt(head size) (default 1) */
    int tie_lm_head;       /* tie_word_embeddings: the LM head is wte (default 1) */
} frz_gpt2_config;

/* Reads a parsed config.json; `what` names the file in messages. Missing optional fields take Hugging Face's
 * defaults. Checks the sizes (FRZ_ERR_FORMAT naming the field) before anything is allocated. */
frz_status frz_gpt2_config_from_json(const json_t *root, const char *what, frz_gpt2_config *cfg);
/* The same from a file. */
frz_status frz_gpt2_config_load(const char *path, frz_gpt2_config *cfg);
/* The size checks alone (also applied to in-memory test models). */
frz_status frz_gpt2_config_check(const frz_gpt2_config *cfg, const char *what);

/* One transformer block. Conv1D weights are stored (in, out) and used as stored. */
typedef struct frz_gpt2_layer {
    const float *ln1_w, *ln1_b;             /* (C) */
    const float *qkv_w, *qkv_b;             /* (C,3C), (3C) attn.c_attn */
    const float *attn_proj_w, *attn_proj_b; /* (C,C), (C)   attn.c_proj */
    const float *ln2_w, *ln2_b;             /* (C) */
    const float *fc_w, *fc_b;               /* (C,F), (F)   mlp.c_fc, F = n_inner */
    const float *fc_proj_w, *fc_proj_b;     /* (F,C), (C)   mlp.c_proj */
} frz_gpt2_layer;

typedef struct frz_gpt2_weights {
    const float *wte;      /* (V,C) */
    const float *wpe;      /* (n_ctx,C) */
    frz_gpt2_layer *layers; /* n_layer */
    const float *lnf_w, *lnf_b; /* (C) */
    const float *lm_head;  /* (V,C): wte when tied */
} frz_gpt2_weights;

struct frz_tokenizer;
struct frz_st_set;

struct frz_lm {
    frz_gpt2_config cfg;
    frz_gpt2_weights w;
    int64_t n_params;
    int32_t eot;                 /* <|endoftext|> id, -1 if none */
    struct frz_tokenizer *tok;   /* NULL for in-memory models */
    struct frz_st_set *st;       /* the mapping the weights point into (NULL for in-memory models) */
    float **owned;               /* tensors converted at load (F16/BF16), freed with the model */
    size_t n_owned;
    float *mem;                  /* in-memory and writable models: every parameter in one allocation, in the
                                  * order of the tensor table (frz_gpt2_tensors), n_mem floats */
    size_t n_mem;
    char *tok_dir;               /* the folder vocab.json and merges.txt came from (frz_lm_save copies them);
                                  * NULL without a tokenizer */
};

/* One named parameter tensor, as a table the loader and the random constructor both walk. */
typedef struct frz_gpt2_tensor {
    const float **dst;  /* the weights member it fills */
    char name[64];      /* Hugging Face name without the "transformer." prefix */
    int ndim;
    int64_t shape[2];
    int init;           /* for random models: FRZ_INIT_* */
    int top_level;      /* lm_head.weight: never under "transformer." */
} frz_gpt2_tensor;

enum { FRZ_INIT_NORMAL, FRZ_INIT_NORMAL_RESIDUAL, FRZ_INIT_LN_WEIGHT, FRZ_INIT_SMALL };

/* Allocates lm->w.layers and returns the table of every parameter tensor (caller frees *out), in checkpoint
 * order. lm->cfg must be set. */
frz_status frz_gpt2_tensors(frz_lm *lm, frz_gpt2_tensor **out, size_t *n_out);

/* The same table for weights w whose layer array is already allocated: each entry's dst is the member of w that
 * holds the tensor now (frz_gpt2_make_writable reads them there). */
frz_status frz_gpt2_table(const frz_gpt2_config *cfg, frz_gpt2_weights *w, frz_gpt2_tensor **out, size_t *n_out);

/* Elements of a table entry. */
size_t frz_gpt2_numel(const frz_gpt2_tensor *t);

/* Once every tensor of the table is attached: counts the parameters and points a tied LM head at wte. */
void frz_gpt2_finish(frz_lm *lm, const frz_gpt2_tensor *t, size_t n);

/* An empty model for cfg (checked), ready for its weights to be attached. */
frz_status frz_gpt2_alloc(const frz_gpt2_config *cfg, const char *what, frz_lm **out);

/* A model with random GPT-2-style weights (normal, std 0.02; residual projections 0.02/sqrt(2 n_layer); layer
 * norms and biases slightly perturbed so tests see them) and no tokenizer. Same seed, same weights. */
frz_status frz_gpt2_create_random(const frz_gpt2_config *cfg, uint64_t seed, frz_lm **out);

/* The same with GPT-2's own initialisation when hf_init is set: LayerNorm weights 1, every bias and LayerNorm
 * bias 0 (the matrices as above). What `frozen pretrain` starts from. */
frz_status frz_gpt2_create_init(const frz_gpt2_config *cfg, uint64_t seed, int hf_init, frz_lm **out);

/* Makes the weights the model's own: every tensor is copied into lm->mem (table order), the mapped file and the
 * converted tensors are released, and the weights may be written from then on (training). Already writable (an
 * in-memory model): nothing changes. The model must not be in use by any session meanwhile. */
frz_status frz_gpt2_make_writable(frz_lm *lm);

/* A writable copy of src (weights in its own lm->mem; the tokenizer read again from src->tok_dir, none when src
 * has none). */
frz_status frz_gpt2_clone(const frz_lm *src, frz_lm **out);

/* Reads dir/vocab.json and dir/merges.txt into lm->tok (its ids must fit lm->cfg.n_vocab), sets lm->eot and
 * lm->tok_dir. */
frz_status frz_gpt2_load_tokenizer(frz_lm *lm, const char *dir);

/* A config of the given sizes with GPT-2's defaults for the rest (n_inner 4C, eps 1e-5, gelu_new, scaled
 * attention, tied head). */
void frz_gpt2_config_init(frz_gpt2_config *cfg, int n_layer, int n_head, int n_embd, int n_vocab, int n_ctx);

#endif
