/* gpt2_save.c -- frz_lm_save: a model as a Hugging Face GPT-2 folder that frz_lm_load (and transformers'
 * GPT2LMHeadModel.from_pretrained) reads back: config.json, model.safetensors (F32, the hub's gpt2 names without
 * the "transformer." prefix, a tied head not stored), vocab.json and merges.txt copied from the tokenizer's
 * folder. Every file is written atomically (temporary file, fsync, rename), so a failed save leaves the previous
 * files whole. */
#include "core/file.h"
#include "formats/safetensors.h"
#include "lm/gpt2.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static const char *activation_name(frz_activation act)
{
    switch (act) {
    case FRZ_ACT_GELU_ERF: return "gelu";
    case FRZ_ACT_RELU: return "relu";
    default: return "gelu_new";
    }
}

/* The shortest decimal that reads back as the same float (1e-05, not 9.99999975e-06). */
static double shortest(float x)
{
    char buf[32];
    for (int prec = 1; prec < 9; prec++) {
        snprintf(buf, sizeof buf, "%.*g", prec, (double)x);
        if (strtof(buf, NULL) == x) return strtod(buf, NULL);
    }
    return (double)x;
}

/* config.json as GPT2Config.to_json_string writes it for GPT2LMHeadModel (keys sorted). Dropout rates are 0:
 * libfrozen trains without dropout, and the file describes the model as trained. */
static frz_status write_config(const frz_lm *lm, const char *path)
{
    const frz_gpt2_config *c = &lm->cfg;
    json_t *eot = lm->eot >= 0 ? json_integer(lm->eot) : json_null();
    json_t *root = json_pack(
        "{s:s, s:[s], s:f, s:o, s:f, s:O, s:f, s:f, s:s, s:i, s:i, s:i, s:o, s:i, s:i, s:b, s:f, s:b, s:b, s:n,"
        " s:f, s:b, s:s, s:b, s:s, s:b, s:i}",
        "activation_function", activation_name(c->act), "architectures", "GPT2LMHeadModel", "attn_pdrop", 0.0,
        "bos_token_id", eot, "embd_pdrop", 0.0, "eos_token_id", eot, "initializer_range", 0.02,
        "layer_norm_epsilon", shortest(c->ln_eps), "model_type", "gpt2", "n_ctx", c->n_ctx, "n_embd", c->n_embd,
        "n_head", c->n_head, "n_inner", c->n_inner == 4 * c->n_embd ? json_null() : json_integer(c->n_inner),
        "n_layer", c->n_layer, "n_positions", c->n_ctx, "reorder_and_upcast_attn", 0, "resid_pdrop", 0.0,
        "scale_attn_by_inverse_layer_idx", 0, "scale_attn_weights", c->scale_attn != 0, "summary_activation",
        "summary_first_dropout", 0.0, "summary_proj_to_labels", 1, "summary_type", "cls_index", "summary_use_proj", 1,
        "torch_dtype", "float32", "tie_word_embeddings", c->tie_lm_head != 0, "vocab_size", c->n_vocab);
    if (!root) return frz_fail(FRZ_ERR_NOMEM, "%s: cannot build the JSON", path);
    char *text = json_dumps(root, JSON_INDENT(2) | JSON_SORT_KEYS | JSON_REAL_PRECISION(9));
    json_decref(root);
    if (!text) return frz_fail(FRZ_ERR_NOMEM, "%s: cannot format the JSON", path);
    size_t len = strlen(text);
    char *buf = frz_malloc(len + 2, "config.json text");
    frz_status st = buf ? FRZ_OK : FRZ_ERR_NOMEM;
    if (buf) {
        memcpy(buf, text, len);
        buf[len] = '\n';
        st = frz_write_file_atomic(path, buf, len + 1);
    }
    free(buf);
    free(text);
    return st;
}

static frz_status write_weights(const frz_lm *lm, const char *path)
{
    frz_lm shape = {0};
    shape.cfg = lm->cfg;
    frz_gpt2_weights w = lm->w; /* the table reads the tensors' addresses from a copy; nothing is written */
    frz_gpt2_tensor *t;
    size_t n;
    frz_status st = frz_gpt2_table(&shape.cfg, &w, &t, &n);
    if (st) return st;
    frz_st_write_tensor *ws = frz_calloc(n, sizeof *ws, "the safetensors write list");
    if (!ws) {
        free(t);
        return FRZ_ERR_NOMEM;
    }
    for (size_t i = 0; i < n; i++) {
        ws[i].name = t[i].name; /* "lm_head.weight" is top-level already; the rest without "transformer." */
        ws[i].dtype = FRZ_DT_F32;
        ws[i].ndim = t[i].ndim;
        ws[i].shape[0] = t[i].shape[0];
        ws[i].shape[1] = t[i].shape[1];
        ws[i].data = *t[i].dst;
    }
    static const char *const meta[] = {"format", "pt"};
    st = frz_st_write_file(path, ws, n, meta, 1);
    free(ws);
    free(t);
    return st;
}

/* Copies a tokenizer file (read whole first, so saving over the folder it came from rewrites it unchanged). */
static frz_status copy_file(const char *from_dir, const char *to_dir, const char *name)
{
    char *from = frz_path_join(from_dir, name), *to = frz_path_join(to_dir, name);
    char *buf = NULL;
    size_t len = 0;
    frz_status st = from && to ? frz_read_file(from, &buf, &len) : FRZ_ERR_NOMEM;
    if (st == FRZ_OK) st = frz_write_file_atomic(to, buf, len);
    free(buf);
    free(from);
    free(to);
    return st;
}

frz_status frz_lm_save(const frz_lm *lm, const char *dir)
{
    if (!lm || !dir) return frz_fail(FRZ_ERR_INVALID_ARG, "frz_lm_save: NULL model or folder");
    if (!lm->tok_dir)
        return frz_fail(FRZ_ERR_INVALID_ARG, "frz_lm_save: %s: the model has no tokenizer to save with it", dir);
    if (mkdir(dir, 0777) != 0 && errno != EEXIST)
        return frz_fail(FRZ_ERR_IO, "%s: cannot create the model folder: %s", dir, strerror(errno));
    struct stat sb;
    if (stat(dir, &sb) != 0 || !S_ISDIR(sb.st_mode))
        return frz_fail(FRZ_ERR_IO, "%s: not a folder", dir);
    char *cfg = frz_path_join(dir, "config.json"), *weights = frz_path_join(dir, "model.safetensors");
    frz_status st = cfg && weights ? FRZ_OK : FRZ_ERR_NOMEM;
    /* the tokenizer, then the weights, then config.json */
    if (st == FRZ_OK) st = copy_file(lm->tok_dir, dir, "vocab.json");
    if (st == FRZ_OK) st = copy_file(lm->tok_dir, dir, "merges.txt");
    if (st == FRZ_OK) st = write_weights(lm, weights);
    if (st == FRZ_OK) st = write_config(lm, cfg);
    free(cfg);
    free(weights);
    return st;
}
