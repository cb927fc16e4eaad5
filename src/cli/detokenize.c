/* detokenize.c -- `frozen detokenize`: the text of token ids, written exactly as decoded. */
#include "cli.h"

#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const cli_option options[] = {
    {"lm", 'm', 1},
};
enum { OPT_LM };

static const cli_command command = {
    "detokenize",
    "usage: frozen detokenize --lm DIR ID...\n"
    "\n"
    "Prints the text of the token ids exactly as decoded (bytes, which may end inside a UTF-8 character).\n"
    "A newline follows only when stdout is a terminal, so `frozen detokenize ... > file` writes the text alone.\n"
    "\n"
    "  -m, --lm DIR     model folder\n"
    "  ID...            token ids (decimal); a lone '-' reads whitespace-separated ids from stdin\n"
    "  -v, --verbose    library info/debug messages on stderr\n"
    "  -h, --help       this help\n",
    options, sizeof options / sizeof options[0],
};

static int on_option(void *ctx, size_t index, const char *value)
{
    if (index == OPT_LM) *(const char **)ctx = value;
    return CLI_OK;
}

/* Appends one id to a growing array. */
static int push_id(int32_t **ids, size_t *n, size_t *cap, long id)
{
    if (*n == *cap) {
        size_t new_cap = *cap ? *cap * 2 : 64;
        int32_t *bigger = realloc(*ids, new_cap * sizeof *bigger);
        if (!bigger) return cli_fail("out of memory");
        *ids = bigger;
        *cap = new_cap;
    }
    (*ids)[(*n)++] = (int32_t)id;
    return CLI_OK;
}

/* Reads whitespace-separated decimal ids from stdin. Bad input is a failure (exit 1) naming the word. */
static int read_ids_from_stdin(int32_t **ids, size_t *n, size_t *cap)
{
    char *text = NULL;
    size_t len = 0;
    if (cli_read_stdin(&text, &len) != CLI_OK) return CLI_FAIL;
    int rc = CLI_OK;
    for (char *p = text; rc == CLI_OK;) {
        while (isspace((unsigned char)*p)) p++;
        if (*p == '\0') break;
        char *word = p;
        while (*p && !isspace((unsigned char)*p)) p++;
        char saved = *p;
        *p = '\0';
        char *end = NULL;
        long v = strtol(word, &end, 10);
        if (end == word || *end != '\0' || v < 0 || v > INT32_MAX)
            rc = cli_fail("stdin: '%s' is not a token id", word);
        else
            rc = push_id(ids, n, cap, v);
        *p = saved;
    }
    free(text);
    return rc;
}

int cmd_detokenize(int argc, char **argv)
{
    const char *lm_dir = NULL;
    char **words = malloc(((size_t)argc + 1) * sizeof *words);
    if (!words) return cli_fail("out of memory");
    size_t n_words = 0;
    int32_t *ids = NULL;
    size_t n = 0, cap = 0;
    int rc = cli_parse(&command, argc, argv, on_option, &lm_dir, words, &n_words);
    if (rc == CLI_OK && !lm_dir) rc = cli_usage_error(&command, "--lm DIR is required");
    if (rc == CLI_OK && n_words == 0) rc = cli_usage_error(&command, "expected token ids");
    for (size_t i = 0; rc == CLI_OK && i < n_words; i++) {
        long v;
        if (strcmp(words[i], "-") == 0)
            rc = read_ids_from_stdin(&ids, &n, &cap);
        else if ((rc = cli_parse_long(&command, "ID", words[i], 0, INT32_MAX, &v)) == CLI_OK)
            rc = push_id(&ids, &n, &cap, v);
    }
    free(words);

    frz_lm *lm = NULL;
    char *text = NULL;
    size_t len = 0;
    if (rc == CLI_OK) rc = cli_load_lm(lm_dir, &lm);
    if (rc == CLI_OK) rc = cli_detokenize(lm, ids, n, &text, &len);
    if (rc == CLI_OK) {
        fwrite(text, 1, len, stdout);
        if (isatty(STDOUT_FILENO)) putchar('\n');
    }
    free(text);
    frz_lm_free(lm);
    free(ids);
    return rc;
}
