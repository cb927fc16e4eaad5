/* generate.c -- continue a text prompt with a GPT-2 model: load, tokenize, prefill, generate, detokenize.
 *
 *   usage: generate LM_DIR PROMPT [MAX_TOKENS]
 *
 * LM_DIR is a Hugging Face GPT-2 folder (config.json, model.safetensors, vocab.json, merges.txt). Prints two
 * lines: "ids:" and the new token ids, then "text:" and their text. Greedy, so the same as
 *   frozen generate --lm LM_DIR --prompt PROMPT --max-tokens N --ids      (the ids)
 * Build: cc -std=c11 generate.c $(pkg-config --cflags --libs frozen) -o generate */
#include "common.h"

int main(int argc, char **argv)
{
    if (argc < 3 || argc > 4) {
        fprintf(stderr, "usage: %s LM_DIR PROMPT [MAX_TOKENS]\n", argv[0]);
        return 2;
    }
    check_library_version();
    int max_tokens = argc == 4 ? atoi(argv[3]) : 20;
    if (max_tokens < 1) max_tokens = 1;

    /* The model is read-only once loaded; a session holds one thread's running state (the KV cache). */
    frz_lm *lm = NULL;
    check(frz_lm_load(argv[1], &lm), argv[1]);
    frz_session *s = NULL;
    check(frz_session_create(lm, &s), "session");
    check(frz_session_set_int(s, FRZ_OPT_THREADS, 1), "threads");

    /* Buffer protocol: a first call with no buffer says how many ids the prompt needs. */
    size_t n = 0;
    frz_status st = frz_tokenize(lm, argv[2], (size_t)-1, 0, NULL, 0, &n);
    if (st != FRZ_ERR_BUFFER_TOO_SMALL) check(st, "tokenize");
    if (n == 0) {
        fprintf(stderr, "the prompt is empty\n");
        return 2;
    }
    int32_t *ids = malloc(n * sizeof *ids);
    check(ids ? frz_tokenize(lm, argv[2], (size_t)-1, 0, ids, n, &n) : FRZ_ERR_NOMEM, "tokenize");

    /* Prefill: the prompt enters sequence slot 0 in one batched pass and fills its KV cache. */
    frz_input in = {0, n, ids, NULL};
    check(frz_session_eval(s, &in, 1, FRZ_LOGITS_NONE), "eval");

    /* Generation continues slot 0. The defaults are greedy and stop at <|endoftext|>. */
    frz_generate_params gp;
    frz_generate_params_init(&gp);
    gp.max_tokens = max_tokens;
    int32_t *out = malloc((size_t)max_tokens * sizeof *out);
    size_t n_out = 0;
    check(out ? frz_generate(s, 0, &gp, out, (size_t)max_tokens, &n_out) : FRZ_ERR_NOMEM, "generate");

    size_t len = 0;
    st = frz_detokenize(lm, out, n_out, NULL, 0, &len);
    if (st != FRZ_ERR_BUFFER_TOO_SMALL) check(st, "detokenize");
    char *text = malloc(len + 1);
    check(text ? frz_detokenize(lm, out, n_out, text, len + 1, &len) : FRZ_ERR_NOMEM, "detokenize");

    printf("ids:");
    for (size_t i = 0; i < n_out; i++) printf(" %d", (int)out[i]);
    printf("\ntext: %s\n", text);

    free(text);
    free(out);
    free(ids);
    frz_session_free(s); /* every session before its model */
    frz_lm_free(lm);
    return 0;
}
