/* args.c -- command-line parsing for the `frozen` commands: options, strict numbers, usage errors. */
#include "cli.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int cli_usage_error(const cli_command *cmd, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "frozen %s: ", cmd->name);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\n\n%s", cmd->usage);
    return CLI_USAGE;
}

/* Finds a long option by name; name_len excludes any "=VALUE". */
static long find_long(const cli_command *cmd, const char *name, size_t name_len)
{
    for (size_t i = 0; i < cmd->n_options; i++)
        if (strlen(cmd->options[i].name) == name_len && strncmp(cmd->options[i].name, name, name_len) == 0)
            return (long)i;
    return -1;
}

static long find_short(const cli_command *cmd, char c)
{
    for (size_t i = 0; i < cmd->n_options; i++)
        if (cmd->options[i].short_name == c) return (long)i;
    return -1;
}

int cli_parse(const cli_command *cmd, int argc, char **argv, cli_on_option on_option, void *ctx,
              char **positional, size_t *n_positional)
{
    size_t np = 0;
    int only_words = 0;
    for (int i = 0; i < argc; i++) {
        char *w = argv[i];
        if (only_words || w[0] != '-' || w[1] == '\0') { /* a word, "-" (stdin) included */
            positional[np++] = w;
            continue;
        }
        if (strcmp(w, "--") == 0) {
            only_words = 1;
            continue;
        }
        if (strcmp(w, "--help") == 0 || strcmp(w, "-h") == 0) {
            fputs(cmd->usage, stdout);
            return -1;
        }
        if (strcmp(w, "--verbose") == 0 || strcmp(w, "-v") == 0) {
            cli_set_verbose();
            continue;
        }
        long idx;
        const char *inline_value = NULL;
        if (w[1] == '-') {
            const char *name = w + 2;
            const char *eq = strchr(name, '=');
            idx = find_long(cmd, name, eq ? (size_t)(eq - name) : strlen(name));
            if (eq) inline_value = eq + 1;
        } else {
            idx = w[2] == '\0' ? find_short(cmd, w[1]) : -1;
        }
        if (idx < 0) return cli_usage_error(cmd, "unknown option '%s'", w);
        const cli_option *o = &cmd->options[idx];
        const char *value = NULL;
        if (o->takes_value) {
            if (inline_value) {
                value = inline_value;
            } else if (i + 1 < argc) {
                value = argv[++i];
            } else {
                return cli_usage_error(cmd, "option '--%s' needs a value", o->name);
            }
        } else if (inline_value) {
            return cli_usage_error(cmd, "option '--%s' takes no value", o->name);
        }
        int rc = on_option(ctx, (size_t)idx, value);
        if (rc != CLI_OK) return rc;
    }
    *n_positional = np;
    return CLI_OK;
}

int cli_parse_options(const cli_command *cmd, int argc, char **argv, cli_on_option on_option, void *ctx)
{
    char **words = malloc(((size_t)argc + 1) * sizeof *words);
    if (!words) return cli_fail("out of memory");
    size_t n_words = 0;
    int rc = cli_parse(cmd, argc, argv, on_option, ctx, words, &n_words);
    if (rc == CLI_OK && n_words > 0) rc = cli_usage_error(cmd, "unexpected argument '%s'", words[0]);
    free(words);
    return rc;
}

int cli_parse_long(const cli_command *cmd, const char *opt, const char *s, long min, long max, long *out)
{
    char *end = NULL;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (end == s || *end != '\0' || isspace((unsigned char)s[0]))
        return cli_usage_error(cmd, "%s: '%s' is not an integer", opt, s);
    if (errno == ERANGE || v < min || v > max)
        return cli_usage_error(cmd, "%s: %s is out of range [%ld, %ld]", opt, s, min, max);
    *out = v;
    return CLI_OK;
}

int cli_parse_double(const cli_command *cmd, const char *opt, const char *s, double min, double max,
                     double *out)
{
    char *end = NULL;
    errno = 0;
    double v = strtod(s, &end);
    if (end == s || *end != '\0' || isspace((unsigned char)s[0]) || isnan(v))
        return cli_usage_error(cmd, "%s: '%s' is not a number", opt, s);
    if (errno == ERANGE || !(v >= min && v <= max))
        return cli_usage_error(cmd, "%s: %s is out of range [%g, %g]", opt, s, min, max);
    *out = v;
    return CLI_OK;
}

int cli_parse_float(const cli_command *cmd, const char *opt, const char *s, double min, double max, float *out)
{
    double d;
    int rc = cli_parse_double(cmd, opt, s, min, max, &d);
    if (rc == CLI_OK) *out = (float)d;
    return rc;
}

int cli_parse_int32(const cli_command *cmd, const char *opt, const char *s, long min, long max, int32_t *out)
{
    long v;
    int rc = cli_parse_long(cmd, opt, s, min, max, &v);
    if (rc == CLI_OK) *out = (int32_t)v;
    return rc;
}
