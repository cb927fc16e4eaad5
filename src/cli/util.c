/* util.c -- what the `frozen` commands share beyond parsing: errors, logging, model loading, stdin, buffers
 * sized by the library's (buffer, capacity, *needed) protocol. */
#include "cli.h"

#include <errno.h>
#include <stdarg.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int cli_lib_error(frz_status st)
{
    const char *detail = frz_last_error();
    if (detail && detail[0])
        fprintf(stderr, "frozen: %s: %s\n", frz_strerror(st), detail);
    else
        fprintf(stderr, "frozen: %s\n", frz_strerror(st));
    return CLI_FAIL;
}

int cli_fail(const char *fmt, ...)
{
    va_list ap;
    fputs("frozen: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return CLI_FAIL;
}

static void log_to_stderr(frz_log_level level, const char *text, void *user_data)
{
    static const char *const names[] = {"error", "warning", "info", "debug"};
    (void)user_data;
    const char *name = (unsigned)level < sizeof names / sizeof names[0] ? names[level] : "log";
    fprintf(stderr, "frozen: %s: %s\n", name, text);
}

static int verbose;

void cli_setup_logging(void) { frz_set_log_callback(log_to_stderr, NULL, FRZ_LOG_WARN); }

void cli_set_verbose(void)
{
    verbose = 1;
    frz_set_log_callback(log_to_stderr, NULL, FRZ_LOG_DEBUG);
}

int cli_is_verbose(void) { return verbose; }

int cli_load_lm(const char *dir, frz_lm **out)
{
    frz_status st = frz_lm_load(dir, out);
    if (st == FRZ_OK) return CLI_OK;
    /* The library's message names the file at fault; make sure the folder the user gave appears too. */
    const char *detail = frz_last_error();
    if (detail && strstr(detail, dir))
        return cli_lib_error(st);
    return cli_fail("%s: loading model '%s': %s", frz_strerror(st), dir, detail ? detail : "");
}

int cli_read_stdin(char **out, size_t *len)
{
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    if (!buf) return cli_fail("out of memory reading stdin");
    for (;;) {
        if (n + 1 >= cap) {
            char *bigger = realloc(buf, cap * 2);
            if (!bigger) {
                free(buf);
                return cli_fail("out of memory reading stdin");
            }
            buf = bigger;
            cap *= 2;
        }
        size_t got = fread(buf + n, 1, cap - 1 - n, stdin);
        n += got;
        if (got == 0) break;
    }
    if (ferror(stdin)) {
        free(buf);
        return cli_fail("reading stdin: %s", strerror(errno));
    }
    buf[n] = '\0';
    *out = buf;
    *len = n;
    return CLI_OK;
}

int cli_tokenize(const frz_lm *lm, const char *text, size_t len, unsigned flags, int32_t **ids, size_t *n)
{
    /* A byte-level BPE never makes more tokens than bytes, so one call normally suffices; the retry follows the
     * API's protocol should that ever change. */
    size_t cap = len + 1, needed = 0;
    for (int attempt = 0; attempt < 2; attempt++) {
        int32_t *buf = malloc(cap * sizeof *buf);
        if (!buf) return cli_fail("out of memory tokenizing %zu bytes", len);
        frz_status st = frz_tokenize(lm, text, len, flags, buf, cap, &needed);
        if (st == FRZ_OK) {
            *ids = buf;
            *n = needed;
            return CLI_OK;
        }
        free(buf);
        if (st != FRZ_ERR_BUFFER_TOO_SMALL) return cli_lib_error(st);
        cap = needed;
    }
    return cli_fail("tokenizer asked for a growing buffer (%zu ids)", needed);
}

int cli_detokenize(const frz_lm *lm, const int32_t *ids, size_t n, char **text, size_t *len)
{
    size_t cap = 16 * n + 1, needed = 0;
    if (n == 0) { /* nothing to decode; the library need not see an empty (maybe NULL) array */
        *text = calloc(1, 1);
        *len = 0;
        return *text ? CLI_OK : cli_fail("out of memory");
    }
    for (int attempt = 0; attempt < 2; attempt++) {
        char *buf = malloc(cap);
        if (!buf) return cli_fail("out of memory decoding %zu tokens", n);
        frz_status st = frz_detokenize(lm, ids, n, buf, cap, &needed);
        if (st == FRZ_OK) {
            *text = buf;
            *len = needed;
            return CLI_OK;
        }
        free(buf);
        if (st != FRZ_ERR_BUFFER_TOO_SMALL) return cli_lib_error(st);
        cap = needed + 1;
    }
    return cli_fail("detokenizer asked for a growing buffer (%zu bytes)", needed);
}

int cli_tokenize_prompt(const frz_lm *lm, const char *text, unsigned flags, int32_t **ids, size_t *n)
{
    if (text[0] != '\0') {
        int rc = cli_tokenize(lm, text, strlen(text), flags, ids, n);
        if (rc != CLI_OK) return rc;
        if (*n > 0) return CLI_OK;
        free(*ids);
    }
    int64_t eot = frz_lm_get(lm, FRZ_LM_EOT_TOKEN);
    if (eot < 0) return cli_fail("empty prompt, and the vocabulary has no <|endoftext|> token to start from");
    *ids = malloc(sizeof **ids);
    if (!*ids) return cli_fail("out of memory");
    (*ids)[0] = (int32_t)eot;
    *n = 1;
    return CLI_OK;
}

int cli_nproc(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n >= 1 && n <= 4096 ? (int)n : 1;
}

int cli_finish_stdout(void)
{
    if (fflush(stdout) != 0 || ferror(stdout)) return cli_fail("writing output: %s", strerror(errno));
    return CLI_OK;
}

/* ---- Ctrl-C ------------------------------------------------------------------------------------------------ */

static volatile sig_atomic_t interrupted;

static void on_sigint(int sig)
{
    (void)sig;
    interrupted = 1;
}

void cli_catch_sigint(int second_kills)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sigint;
    sa.sa_flags = second_kills ? SA_RESETHAND : 0;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
}

int cli_interrupted(void) { return interrupted != 0; }

int cli_abort_requested(void *user_data)
{
    (void)user_data;
    return interrupted != 0;
}
