/* gpt2_config.c -- config.json of a Hugging Face GPT-2 folder.
 *
 * Fields read: n_layer, n_head, n_embd, vocab_size, n_positions (or the older n_ctx), n_inner,
 * layer_norm_epsilon, activation_function, model_type, scale_attn_weights, tie_word_embeddings. Options that
 * change the architecture in ways this library does not implement are refused by name; the rest
 * (architectures, dropout rates, task parameters, reorder_and_upcast_attn, which only matters below f32) are
 * ignored. */
#include "formats/json_file.h"
#include "lm/gpt2.h"

#include <string.h>

/* Caps that make an absurd config fail before anything is allocated. */
#define MAX_LAYER 256
#define MAX_HEAD 256
#define MAX_EMBD 16384
#define MAX_INNER 65536
#define MAX_VOCAB (1 << 20)
#define MAX_CTX (1 << 16)

void frz_gpt2_config_init(frz_gpt2_config *cfg, int n_layer, int n_head, int n_embd, int n_vocab, int n_ctx)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->n_layer = n_layer;
    cfg->n_head = n_head;
    cfg->n_embd = n_embd;
    cfg->n_inner = 4 * n_embd;
    cfg->n_vocab = n_vocab;
    cfg->n_ctx = n_ctx;
    cfg->ln_eps = 1e-5f;
    cfg->act = FRZ_ACT_GELU_TANH;
    cfg->scale_attn = 1;
    cfg->tie_lm_head = 1;
}

frz_status frz_gpt2_config_check(const frz_gpt2_config *c, const char *what)
{
    struct { const char *field; int value, max; } sizes[] = {
        {"n_layer", c->n_layer, MAX_LAYER}, {"n_head", c->n_head, MAX_HEAD}, {"n_embd", c->n_embd, MAX_EMBD},
        {"n_inner", c->n_inner, MAX_INNER}, {"vocab_size", c->n_vocab, MAX_VOCAB},
        {"n_positions", c->n_ctx, MAX_CTX},
    };
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++)
        if (sizes[i].value < 1 || sizes[i].value > sizes[i].max)
            return frz_fail(FRZ_ERR_FORMAT, "%s: field '%s' is %d, expected 1 .. %d", what, sizes[i].field,
                            sizes[i].value, sizes[i].max);
    if (c->n_embd % c->n_head != 0)
        return frz_fail(FRZ_ERR_FORMAT, "%s: field 'n_embd' (%d) is not a multiple of field 'n_head' (%d)", what,
                        c->n_embd, c->n_head);
    if (!(c->ln_eps >= 0.0f && c->ln_eps <= 1.0f))
        return frz_fail(FRZ_ERR_FORMAT, "%s: field 'layer_norm_epsilon' is %g, expected 0 .. 1", what,
                        (double)c->ln_eps);
    return FRZ_OK;
}

/* A boolean field; missing or null yields dflt. */
static frz_status json_bool_or(const json_t *root, const char *key, const char *what, int dflt, int *out)
{
    const json_t *v = json_object_get(root, key);
    if (!v || json_is_null(v)) {
        *out = dflt;
        return FRZ_OK;
    }
    if (!json_is_boolean(v))
        return frz_fail(FRZ_ERR_FORMAT, "%s: field '%s' must be true or false", what, key);
    *out = json_is_true(v);
    return FRZ_OK;
}

static frz_status parse_activation(const json_t *root, const char *what, frz_activation *act)
{
    const char *name;
    frz_status st = frz_json_string_or(root, "activation_function", what, "gelu_new", &name);
    if (st) return st;
    /* gelu_pytorch_tanh is PyTorch's fused form of the same tanh approximation as gelu_new. */
    if (strcmp(name, "gelu_new") == 0 || strcmp(name, "gelu_pytorch_tanh") == 0)
        *act = FRZ_ACT_GELU_TANH;
    else if (strcmp(name, "gelu") == 0)
        *act = FRZ_ACT_GELU_ERF;
    else if (strcmp(name, "relu") == 0)
        *act = FRZ_ACT_RELU;
    else
        return frz_fail(FRZ_ERR_UNSUPPORTED,
                        "%s: field 'activation_function' is \"%s\"; supported: gelu_new, gelu_pytorch_tanh, "
                        "gelu, relu", what, name);
    return FRZ_OK;
}

frz_status frz_gpt2_config_from_json(const json_t *root, const char *what, frz_gpt2_config *cfg)
{
    if (!json_is_object(root)) return frz_fail(FRZ_ERR_FORMAT, "%s: expected a JSON object", what);
    frz_status st;
    const char *model_type;
    if ((st = frz_json_string_or(root, "model_type", what, NULL, &model_type))) return st;
    if (model_type && strcmp(model_type, "gpt2") != 0)
        return frz_fail(FRZ_ERR_UNSUPPORTED, "%s: field 'model_type' is \"%s\"; only \"gpt2\" is supported",
                        what, model_type);

    int64_t n_layer, n_head, n_embd, n_inner, vocab, n_ctx;
    if ((st = frz_json_int(root, "n_layer", what, 1, MAX_LAYER, &n_layer))) return st;
    if ((st = frz_json_int(root, "n_head", what, 1, MAX_HEAD, &n_head))) return st;
    if ((st = frz_json_int(root, "n_embd", what, 1, MAX_EMBD, &n_embd))) return st;
    if ((st = frz_json_int(root, "vocab_size", what, 1, MAX_VOCAB, &vocab))) return st;
    /* n_positions, or n_ctx in configs written before the two were told apart. */
    const json_t *np = json_object_get(root, "n_positions");
    const json_t *nc = json_object_get(root, "n_ctx");
    if ((!np || json_is_null(np)) && (!nc || json_is_null(nc)))
        return frz_fail(FRZ_ERR_FORMAT, "%s: field 'n_positions' (or 'n_ctx') is missing", what);
    const char *ctx_field = np && !json_is_null(np) ? "n_positions" : "n_ctx";
    if ((st = frz_json_int(root, ctx_field, what, 1, MAX_CTX, &n_ctx))) return st;
    frz_gpt2_config_init(cfg, (int)n_layer, (int)n_head, (int)n_embd, (int)vocab, (int)n_ctx);

    if ((st = frz_json_int_or(root, "n_inner", what, 1, MAX_INNER, 4 * n_embd, &n_inner))) return st;
    cfg->n_inner = (int)n_inner;
    double eps;
    if ((st = frz_json_real_or(root, "layer_norm_epsilon", what, 0.0, 1.0, 1e-5, &eps))) return st;
    cfg->ln_eps = (float)eps;
    if ((st = parse_activation(root, what, &cfg->act))) return st;
    if ((st = json_bool_or(root, "scale_attn_weights", what, 1, &cfg->scale_attn))) return st;
    if ((st = json_bool_or(root, "tie_word_embeddings", what, 1, &cfg->tie_lm_head))) return st;

    /* Architecture options this library does not implement. */
    static const char *const refused[] = {"add_cross_attention", "scale_attn_by_inverse_layer_idx"};
    for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++) {
        int on;
        if ((st = json_bool_or(root, refused[i], what, 0, &on))) return st;
        if (on) return frz_fail(FRZ_ERR_UNSUPPORTED, "%s: field '%s' is true; not supported", what, refused[i]);
    }
    return frz_gpt2_config_check(cfg, what);
}

frz_status frz_gpt2_config_load(const char *path, frz_gpt2_config *cfg)
{
    json_t *root = NULL;
    frz_status st = frz_json_load_file(path, &root);
    if (st) return st;
    st = frz_gpt2_config_from_json(root, path, cfg);
    json_decref(root);
    return st;
}
