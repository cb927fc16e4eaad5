/* decoding.c -- the decoding options `frozen generate` and `frozen ask` share: --max-tokens, --greedy,
 * --temperature, --top-k, --top-p, --seed and --stop, their checks, the clock seed, and the frz_generate_params
 * they make. */
#include "cli.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

int cli_decoding_init(cli_decoding *d, int argc)
{
    memset(d, 0, sizeof *d);
    d->max_tokens = 64;
    d->temperature = 1.0;
    d->top_p = 1.0;
    d->stop = malloc(((size_t)argc + 1) * sizeof *d->stop); /* one entry per command-line word at most */
    return d->stop ? CLI_OK : cli_fail("out of memory");
}

void cli_decoding_free(cli_decoding *d)
{
    free(d->stop);
    d->stop = NULL;
}

int cli_decoding_option(const cli_command *cmd, cli_decoding *d, const char *name, const char *value)
{
    if (strcmp(name, "max-tokens") == 0) return cli_parse_long(cmd, "--max-tokens", value, 0, 1000000, &d->max_tokens);
    if (strcmp(name, "greedy") == 0) {
        d->greedy = 1;
        return CLI_OK;
    }
    if (strcmp(name, "stop") == 0) {
        if (value[0] == '\0') return cli_usage_error(cmd, "--stop: the stop string is empty");
        d->stop[d->n_stop++] = value;
        return CLI_OK;
    }
    /* the rest choose sampling */
    if (strcmp(name, "temperature") == 0) {
        d->sampling = 1;
        return cli_parse_double(cmd, "--temperature", value, 0.0, 100.0, &d->temperature);
    }
    if (strcmp(name, "top-k") == 0) {
        d->sampling = 1;
        return cli_parse_long(cmd, "--top-k", value, 0, INT32_MAX, &d->top_k);
    }
    if (strcmp(name, "top-p") == 0) {
        d->sampling = 1;
        return cli_parse_double(cmd, "--top-p", value, 0.0, 1.0, &d->top_p);
    }
    if (strcmp(name, "seed") == 0) {
        d->sampling = 1;
        d->seed_given = 1;
        return cli_parse_long(cmd, "--seed", value, 0, LONG_MAX, &d->seed);
    }
    return CLI_OK; /* not a decoding option: the command's own */
}

int cli_decoding_finish(const cli_command *cmd, cli_decoding *d)
{
    if (d->greedy && d->sampling)
        return cli_usage_error(cmd, "--greedy cannot be combined with --temperature/--top-k/--top-p/--seed");
    if (d->sampling && !d->seed_given) {
        d->seed = (long)(((unsigned long)time(NULL) * 2654435761u) ^ (unsigned long)getpid()) & LONG_MAX;
        if (cli_is_verbose()) fprintf(stderr, "frozen: info: seed %ld\n", d->seed);
    }
    return CLI_OK;
}

int cli_decoding_session(const cli_decoding *d, frz_session *s)
{
    frz_status st = d->sampling ? frz_session_set_int(s, FRZ_OPT_SEED, d->seed) : FRZ_OK;
    return st == FRZ_OK ? CLI_OK : cli_lib_error(st);
}

void cli_decoding_params(const cli_decoding *d, frz_generate_params *gp)
{
    frz_generate_params_init(gp);
    gp->max_tokens = (int32_t)d->max_tokens;
    gp->temperature = d->sampling ? (float)d->temperature : 0.0f;
    gp->top_k = (int32_t)d->top_k;
    gp->top_p = (float)d->top_p;
    gp->stop = d->stop;
    gp->n_stop = d->n_stop;
}
