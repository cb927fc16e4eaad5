/* score.c -- `frozen score`: the log-probability of a continuation given a context, in total and per token. */
#include "cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const cli_option options[] = {
    {"lm", 'm', 1}, {"context", 'c', 1}, {"continuation", 'x', 1}, {"threads", 't', 1}, {"special", 0, 0},
};
enum { OPT_LM, OPT_CONTEXT, OPT_CONTINUATION, OPT_THREADS, OPT_SPECIAL };

static const cli_command command = {
    "score",
    "usage: frozen score --lm DIR --context TEXT --continuation TEXT [--threads N] [--special]\n"
    "\n"
    "Scores the continuation's tokens given the context (each is tokenized on its own).\n"
    "Output: the first line is the total natural-log probability of the continuation (%.6f); then one line per\n"
    "continuation token: id, TAB, the token's text as a JSON string, TAB, its log-probability (%.6f).\n"
    "In the token text, bytes that are not valid UTF-8 (a token may hold part of a character) are written\n"
    "\\xNN, the one departure from JSON.\n"
    "\n"
    "  -m, --lm DIR               model folder\n"
    "  -c, --context TEXT         the context; empty: start from <|endoftext|>\n"
    "  -x, --continuation TEXT    the text to score (not empty)\n"
    "  -t, --threads N            threads (1..4096, default: the processors online)\n"
    "  --special                  parse special tokens such as <|endoftext|> in both texts\n"
    "  -v, --verbose              library info/debug messages on stderr\n"
    "  -h, --help                 this help\n",
    options, sizeof options / sizeof options[0],
};

typedef struct args {
    const char *lm, *context, *continuation;
    long threads;
    unsigned flags;
} args;

static int on_option(void *ctx, size_t index, const char *value)
{
    args *a = ctx;
    switch (index) {
    case OPT_LM: a->lm = value; return CLI_OK;
    case OPT_CONTEXT: a->context = value; return CLI_OK;
    case OPT_CONTINUATION: a->continuation = value; return CLI_OK;
    case OPT_THREADS: return cli_parse_long(&command, "--threads", value, 1, 4096, &a->threads);
    case OPT_SPECIAL: a->flags |= FRZ_TOKENIZE_SPECIAL; return CLI_OK;
    default: return CLI_OK;
    }
}

/* Length of the valid UTF-8 character at s (n bytes available), or 0 if the bytes there are not one. */
static size_t utf8_char_len(const unsigned char *s, size_t n)
{
    unsigned c = s[0];
    size_t len;
    unsigned min;
    if (c < 0x80) return 1;
    if (c >= 0xC2 && c <= 0xDF) len = 2, min = 0x80;
    else if (c >= 0xE0 && c <= 0xEF) len = 3, min = 0x800;
    else if (c >= 0xF0 && c <= 0xF4) len = 4, min = 0x10000;
    else return 0;
    if (n < len) return 0;
    unsigned cp = c & (0x7Fu >> len);
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80) return 0;
        cp = (cp << 6) | (s[i] & 0x3Fu);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
    return len;
}

/* Writes bytes as a one-line JSON string (with \xNN for bytes that are not valid UTF-8). */
static void print_escaped(const char *text, size_t n)
{
    const unsigned char *s = (const unsigned char *)text;
    putchar('"');
    for (size_t i = 0; i < n;) {
        unsigned c = s[i];
        size_t len = utf8_char_len(s + i, n - i);
        if (len == 0) {
            printf("\\x%02X", c);
            i++;
            continue;
        }
        if (len > 1) {
            fwrite(s + i, 1, len, stdout);
        } else if (c == '"' || c == '\\') {
            printf("\\%c", (char)c);
        } else if (c == '\n') {
            fputs("\\n", stdout);
        } else if (c == '\r') {
            fputs("\\r", stdout);
        } else if (c == '\t') {
            fputs("\\t", stdout);
        } else if (c < 0x20 || c == 0x7F) {
            printf("\\u%04X", c);
        } else {
            putchar((int)c);
        }
        i += len;
    }
    putchar('"');
}

static int run(const args *a)
{
    frz_lm *lm = NULL;
    frz_session *s = NULL;
    int32_t *ctx_ids = NULL, *cont_ids = NULL;
    size_t n_ctx = 0, n_cont = 0;
    float *logprobs = NULL;
    double total = 0.0;
    frz_status fs = FRZ_OK;

    int rc = cli_load_lm(a->lm, &lm);
    if (rc == CLI_OK) rc = cli_tokenize_prompt(lm, a->context, a->flags, &ctx_ids, &n_ctx);
    if (rc == CLI_OK) rc = cli_tokenize(lm, a->continuation, strlen(a->continuation), a->flags, &cont_ids, &n_cont);
    if (rc == CLI_OK && n_cont == 0) rc = cli_fail("the continuation has no tokens");
    if (rc == CLI_OK && !(logprobs = malloc(n_cont * sizeof *logprobs))) rc = cli_fail("out of memory");
    if (rc == CLI_OK && (fs = frz_session_create(lm, &s)) != FRZ_OK) rc = cli_lib_error(fs);
    if (rc == CLI_OK && (fs = frz_session_set_int(s, FRZ_OPT_THREADS, a->threads)) != FRZ_OK) rc = cli_lib_error(fs);
    if (rc == CLI_OK) {
        frz_input in = {0, n_ctx, ctx_ids, NULL};
        if ((fs = frz_session_eval(s, &in, 1, FRZ_LOGITS_NONE)) != FRZ_OK) rc = cli_lib_error(fs);
    }
    if (rc == CLI_OK && (fs = frz_score(s, 0, cont_ids, n_cont, logprobs, &total)) != FRZ_OK) rc = cli_lib_error(fs);
    if (rc == CLI_OK) {
        printf("%.6f\n", total);
        for (size_t i = 0; i < n_cont && rc == CLI_OK; i++) {
            char *text = NULL;
            size_t len = 0;
            rc = cli_detokenize(lm, &cont_ids[i], 1, &text, &len);
            if (rc != CLI_OK) break;
            printf("%d\t", (int)cont_ids[i]);
            print_escaped(text, len);
            printf("\t%.6f\n", (double)logprobs[i]);
            free(text);
        }
    }
    free(logprobs);
    free(cont_ids);
    free(ctx_ids);
    frz_session_free(s);
    frz_lm_free(lm);
    return rc;
}

int cmd_score(int argc, char **argv)
{
    args a = {0};
    a.threads = cli_nproc();
    int rc = cli_parse_options(&command, argc, argv, on_option, &a);
    if (rc == CLI_OK && !a.lm) rc = cli_usage_error(&command, "--lm DIR is required");
    if (rc == CLI_OK && !a.context) rc = cli_usage_error(&command, "--context TEXT is required");
    if (rc == CLI_OK && !a.continuation) rc = cli_usage_error(&command, "--continuation TEXT is required");
    if (rc == CLI_OK && a.continuation[0] == '\0') rc = cli_usage_error(&command, "--continuation is empty");
    return rc == CLI_OK ? run(&a) : rc;
}
