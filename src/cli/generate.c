/* generate.c -- `frozen generate`: continues a prompt, streaming the text as tokens come.
 *
 * Streaming must never print what the final result will not contain. Two things can take back the tail of the
 * text: a stop string (the library cuts the output before the token in which it begins, and that token may have
 * arrived several tokens before the string is complete), and a UTF-8 character split across tokens (printing half
 * of it garbles a terminal). So the tail that might begin a stop string is held back at token granularity, and an
 * incomplete UTF-8 sequence at the end is held back at byte granularity; the rest is printed at once. When
 * generation ends, the authoritative ids from frz_generate are decoded and whatever is still held is printed. */
#include "cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const cli_option options[] = {
    {"lm", 'm', 1}, {"prompt", 'p', 1}, CLI_DECODING_OPTIONS, {"ids", 0, 0}, {"threads", 't', 1}, {"special", 0, 0},
};
enum {
    OPT_LM, OPT_PROMPT, OPT_MAX_TOKENS, OPT_GREEDY, OPT_TEMPERATURE, OPT_TOP_K, OPT_TOP_P, OPT_SEED,
    OPT_STOP, OPT_IDS, OPT_THREADS, OPT_SPECIAL
};

static const cli_command command = {
    "generate",
    "usage: frozen generate --lm DIR --prompt TEXT [--max-tokens N]\n"
    "                       [--greedy | --temperature T --top-k K --top-p P --seed S]\n"
    "                       [--stop STR]... [--ids] [--threads N] [--special]\n"
    "\n"
    "Prints the continuation of TEXT as it is generated. Generation ends after N tokens, at <|endoftext|>\n"
    "(not printed), at the end of the model's context, or before the token in which a stop string begins\n"
    "(the stop string is not printed). A newline follows the text only when stdout is a terminal.\n"
    "\n"
    "  -m, --lm DIR          model folder\n"
    "  -p, --prompt TEXT     the prompt; '-' reads stdin; empty: start from <|endoftext|>\n"
    "  -n, --max-tokens N    at most N new tokens (0..1000000, default 64)\n"
    "  --greedy              always take the most likely token (the default without sampling options)\n"
    "  --temperature T       sample with temperature T (0..100, default 1 once any sampling option is given;\n"
    "                        0 is greedy)\n"
    "  --top-k K             sample among the K most likely tokens (0 = all, the default)\n"
    "  --top-p P             nucleus sampling: the smallest set with probability mass >= P (0..1, default 1)\n"
    "  --seed S              RNG seed (0..2^63-1); the same seed, prompt and options give the same text.\n"
    "                        Default: a seed from the clock, shown with --verbose\n"
    "  --stop STR            stop before STR (repeatable)\n"
    "  --ids                 print the new token ids, space-separated on one line, instead of the text\n"
    "  -t, --threads N       threads (1..4096, default: the processors online)\n"
    "  --special             parse special tokens such as <|endoftext|> in the prompt\n"
    "  -v, --verbose         library info/debug messages on stderr\n"
    "  -h, --help            this help\n"
    "\n"
    "Exit status: 0 success, 1 failure, 2 bad command line, 130 interrupted (the text so far is printed).\n",
    options, sizeof options / sizeof options[0],
};

typedef struct args {
    const char *lm, *prompt;
    cli_decoding dec;
    long threads;
    int ids;
    unsigned flags;
} args;

static int on_option(void *ctx, size_t index, const char *value)
{
    args *a = ctx;
    switch (index) {
    case OPT_LM: a->lm = value; return CLI_OK;
    case OPT_PROMPT: a->prompt = value; return CLI_OK;
    case OPT_IDS: a->ids = 1; return CLI_OK;
    case OPT_THREADS: return cli_parse_long(&command, "--threads", value, 1, 4096, &a->threads);
    case OPT_SPECIAL: a->flags |= FRZ_TOKENIZE_SPECIAL; return CLI_OK;
    default: return cli_decoding_option(&command, &a->dec, options[index].name, value);
    }
}

/* ---- streaming ------------------------------------------------------------------------------------------- */

typedef struct stream {
    const frz_lm *lm;
    int32_t eot;
    const char *const *stop;
    size_t n_stop;
    char *text;          /* bytes of the tokens received so far */
    size_t len, cap;
    size_t *tok_start;   /* byte offset at which each received token begins */
    size_t n_tok, tok_cap;
    size_t safe_tok;     /* tokens before this one can no longer be taken back by a stop string */
    size_t printed;      /* bytes of text already written to stdout */
    int failed;          /* an allocation or decoding failure; streaming stops, the final text still prints */
    int quiet;           /* --ids: nothing is streamed, the callback only watches for Ctrl-C */
} stream;

/* Length of the longest prefix of text[0..end) that does not end inside an incomplete UTF-8 character. */
static size_t utf8_complete(const char *text, size_t end)
{
    for (size_t back = 1; back <= 3 && back <= end; back++) {
        unsigned char c = (unsigned char)text[end - back];
        if ((c & 0xC0) == 0x80) continue; /* a continuation byte: look further back for the lead */
        size_t need = c >= 0xF0 && c <= 0xF4 ? 4 : c >= 0xE0 ? 3 : c >= 0xC2 && c < 0xE0 ? 2 : 1;
        return need > back ? end - back : end;
    }
    return end;
}

/* The first byte at or after `from` where a stop string begins or might begin once more text arrives. */
static size_t first_stop_candidate(const stream *st, size_t from)
{
    for (size_t p = from; p < st->len; p++) {
        size_t avail = st->len - p;
        for (size_t i = 0; i < st->n_stop; i++) {
            size_t slen = strlen(st->stop[i]);
            if (memcmp(st->text + p, st->stop[i], avail < slen ? avail : slen) == 0) return p;
        }
    }
    return st->len;
}

static int stream_append(stream *st, const char *bytes, size_t n)
{
    if (st->n_tok == st->tok_cap) {
        size_t cap = st->tok_cap ? st->tok_cap * 2 : 256;
        size_t *bigger = realloc(st->tok_start, cap * sizeof *bigger);
        if (!bigger) return -1;
        st->tok_start = bigger;
        st->tok_cap = cap;
    }
    if (st->len + n + 1 > st->cap) {
        size_t cap = st->cap ? st->cap : 1024;
        while (cap < st->len + n + 1) cap *= 2;
        char *bigger = realloc(st->text, cap);
        if (!bigger) return -1;
        st->text = bigger;
        st->cap = cap;
    }
    st->tok_start[st->n_tok++] = st->len;
    memcpy(st->text + st->len, bytes, n);
    st->len += n;
    return 0;
}

static int on_token(int32_t token, void *user_data)
{
    stream *st = user_data;
    if (cli_interrupted()) return 1;
    if (st->quiet || st->failed || token == st->eot) return 0; /* <|endoftext|> ends generation, never printed */

    char small[256];
    size_t n = 0;
    if (frz_detokenize(st->lm, &token, 1, small, sizeof small, &n) != FRZ_OK || stream_append(st, small, n) != 0) {
        st->failed = 1; /* rare (a token over 255 bytes, no memory): the text is printed once generation ends */
        return 0;
    }

    size_t from = st->safe_tok < st->n_tok ? st->tok_start[st->safe_tok] : st->len;
    size_t p = first_stop_candidate(st, from);
    while (st->safe_tok < st->n_tok && (st->safe_tok + 1 == st->n_tok ? st->len : st->tok_start[st->safe_tok + 1]) <= p)
        st->safe_tok++;
    size_t end = st->safe_tok < st->n_tok ? st->tok_start[st->safe_tok] : st->len;
    end = utf8_complete(st->text, end);
    if (end > st->printed) {
        fwrite(st->text + st->printed, 1, end - st->printed, stdout);
        fflush(stdout);
        st->printed = end;
    }
    return 0;
}

/* Prints whatever of the final text streaming held back. */
static int finish_text(stream *st, const int32_t *out, size_t n_out)
{
    char *final = NULL;
    size_t len = 0;
    int rc = cli_detokenize(st->lm, out, n_out, &final, &len);
    if (rc != CLI_OK) return rc;
    if (st->printed <= len && memcmp(final, st->text, st->printed) == 0)
        fwrite(final + st->printed, 1, len - st->printed, stdout);
    else
        fprintf(stderr, "frozen: warning: the streamed text differs from the final text:\n%.*s\n", (int)len, final);
    free(final);
    return CLI_OK;
}

/* ---- the command ----------------------------------------------------------------------------------------- */

static int run(const args *a, const char *prompt)
{
    const char *advice = frz_blas_advice();
    if (advice) fprintf(stderr, "frozen: warning: %s\n", advice);

    frz_lm *lm = NULL;
    frz_session *s = NULL;
    int32_t *prompt_ids = NULL, *out = NULL;
    size_t n_prompt = 0, n_out = 0;
    stream st = {0};
    frz_status fs = FRZ_OK;

    int rc = cli_load_lm(a->lm, &lm);
    if (rc == CLI_OK) rc = cli_tokenize_prompt(lm, prompt, a->flags, &prompt_ids, &n_prompt);
    if (rc == CLI_OK && (fs = frz_session_create(lm, &s)) != FRZ_OK) rc = cli_lib_error(fs);
    if (rc == CLI_OK && (fs = frz_session_set_int(s, FRZ_OPT_THREADS, a->threads)) != FRZ_OK) rc = cli_lib_error(fs);
    if (rc == CLI_OK) rc = cli_decoding_session(&a->dec, s);
    if (rc == CLI_OK && a->dec.max_tokens > 0 && !(out = malloc((size_t)a->dec.max_tokens * sizeof *out)))
        rc = cli_fail("out of memory");
    if (rc == CLI_OK) {
        frz_session_set_abort(s, cli_abort_requested, NULL);
        frz_input in = {0, n_prompt, prompt_ids, NULL};
        if ((fs = frz_session_eval(s, &in, 1, FRZ_LOGITS_NONE)) != FRZ_OK) rc = cli_lib_error(fs);
    }
    if (rc == CLI_OK && a->dec.max_tokens > 0) {
        frz_generate_params gp;
        cli_decoding_params(&a->dec, &gp);
        st.lm = lm;
        st.eot = (int32_t)frz_lm_get(lm, FRZ_LM_EOT_TOKEN);
        st.stop = a->dec.stop;
        st.n_stop = a->dec.n_stop;
        st.quiet = a->ids;
        gp.on_token = on_token;
        gp.on_token_data = &st;
        fs = frz_generate(s, 0, &gp, out, (size_t)a->dec.max_tokens, &n_out);
        if (fs != FRZ_OK && !(fs == FRZ_ERR_CANCELLED && cli_interrupted())) rc = cli_lib_error(fs);
    }
    if (rc == CLI_OK) {
        if (a->ids) {
            for (size_t i = 0; i < n_out; i++) printf(i ? " %d" : "%d", (int)out[i]);
            putchar('\n');
        } else {
            rc = finish_text(&st, out, n_out);
            if (isatty(STDOUT_FILENO)) putchar('\n');
        }
    }
    if (rc == CLI_OK && cli_interrupted()) rc = 130;
    free(st.text);
    free(st.tok_start);
    free(out);
    free(prompt_ids);
    frz_session_free(s);
    frz_lm_free(lm);
    return rc;
}

int cmd_generate(int argc, char **argv)
{
    args a = {0};
    a.threads = cli_nproc();
    char *input = NULL;
    size_t len = 0;
    int rc = cli_decoding_init(&a.dec, argc);
    if (rc == CLI_OK) rc = cli_parse_options(&command, argc, argv, on_option, &a);
    if (rc == CLI_OK && !a.lm) rc = cli_usage_error(&command, "--lm DIR is required");
    if (rc == CLI_OK && !a.prompt) rc = cli_usage_error(&command, "--prompt TEXT is required");
    if (rc == CLI_OK) rc = cli_decoding_finish(&command, &a.dec);
    const char *prompt = a.prompt;
    if (rc == CLI_OK && strcmp(prompt, "-") == 0) {
        rc = cli_read_stdin(&input, &len);
        prompt = input;
    }
    if (rc == CLI_OK) {
        cli_catch_sigint(0);
        rc = run(&a, prompt);
    }
    free(input);
    cli_decoding_free(&a.dec);
    return rc;
}
