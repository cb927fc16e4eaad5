/* tokenize.c -- `frozen tokenize`: the token ids of a text, space-separated on one line. */
#include "cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const cli_option options[] = {
    {"lm", 'm', 1},
    {"special", 0, 0},
};
enum { OPT_LM, OPT_SPECIAL };

static const cli_command command = {
    "tokenize",
    "usage: frozen tokenize --lm DIR [--special] TEXT\n"
    "\n"
    "Prints the GPT-2 token ids of TEXT, space-separated, on one line.\n"
    "\n"
    "  -m, --lm DIR     model folder (config.json, model.safetensors, vocab.json, merges.txt)\n"
    "  --special        parse special tokens such as <|endoftext|> in TEXT (default: ordinary text)\n"
    "  TEXT             the text; '-' reads all of stdin (bytes as they are, newlines included)\n"
    "  -v, --verbose    library info/debug messages on stderr\n"
    "  -h, --help       this help\n",
    options, sizeof options / sizeof options[0],
};

typedef struct args {
    const char *lm;
    unsigned flags;
} args;

static int on_option(void *ctx, size_t index, const char *value)
{
    args *a = ctx;
    if (index == OPT_LM) a->lm = value;
    if (index == OPT_SPECIAL) a->flags |= FRZ_TOKENIZE_SPECIAL;
    return CLI_OK;
}

int cmd_tokenize(int argc, char **argv)
{
    args a = {NULL, 0};
    char **words = malloc(((size_t)argc + 1) * sizeof *words);
    if (!words) return cli_fail("out of memory");
    size_t n_words = 0;
    int rc = cli_parse(&command, argc, argv, on_option, &a, words, &n_words);
    const char *text = n_words == 1 ? words[0] : NULL;
    free(words);
    if (rc != CLI_OK) return rc;
    if (!a.lm) return cli_usage_error(&command, "--lm DIR is required");
    if (n_words != 1) return cli_usage_error(&command, "expected one TEXT argument, got %zu", n_words);

    char *input = NULL;
    size_t len = 0;
    if (strcmp(text, "-") == 0) {
        if (cli_read_stdin(&input, &len) != CLI_OK) return CLI_FAIL;
        text = input;
    } else {
        len = strlen(text);
    }

    frz_lm *lm = NULL;
    int32_t *ids = NULL;
    size_t n = 0;
    rc = cli_load_lm(a.lm, &lm);
    if (rc == CLI_OK) rc = cli_tokenize(lm, text, len, a.flags, &ids, &n);
    if (rc == CLI_OK) {
        for (size_t i = 0; i < n; i++) printf(i ? " %d" : "%d", (int)ids[i]);
        putchar('\n');
    }
    free(ids);
    frz_lm_free(lm);
    free(input);
    return rc;
}
