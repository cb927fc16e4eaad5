/* cli.h -- what the `frozen` commands share: option parsing, strict numbers, error reporting, model loading.
 * The CLI is a client of the public API only (frozen.h); it never includes library internals. */
#ifndef FRZ_CLI_H
#define FRZ_CLI_H

#include "frozen.h"

#include <stddef.h>
#include <stdint.h>

/* Exit codes of the tool. */
#define CLI_OK 0
#define CLI_FAIL 1   /* the library or the system failed (bad model folder, I/O, ...) */
#define CLI_USAGE 2  /* the command line is wrong */

#if defined(__GNUC__)
#define CLI_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define CLI_PRINTF(a, b)
#endif

/* One option a command accepts: "--name" (and "-c" when short_name is non-zero). */
typedef struct cli_option {
    const char *name;  /* long name without the dashes */
    char short_name;   /* 0: none */
    int takes_value;   /* 1: "--name VALUE" or "--name=VALUE" */
} cli_option;

/* A command: its name, usage text (printed by --help and after usage errors) and the options it accepts. */
typedef struct cli_command {
    const char *name;
    const char *usage;  /* full help text, ending in a newline */
    const cli_option *options;
    size_t n_options;
} cli_command;

/* Called for each option in command-line order, with its index in cmd->options and its value (NULL for a flag).
 * Returns CLI_OK, or an exit code to stop parsing (after printing its own message). */
typedef int (*cli_on_option)(void *ctx, size_t index, const char *value);

/* Parses argv[0..argc) (the words after the command name). --help/-h prints the usage to stdout and returns -1
 * (the caller exits 0). --verbose/-v is accepted by every command and raises the log level. Non-option words
 * (and every word after "--"; a lone "-" is a word) are stored in positional[0..*n_positional), which must hold
 * argc entries. Unknown options and missing values print a message and the usage to stderr and return
 * CLI_USAGE. */
int cli_parse(const cli_command *cmd, int argc, char **argv, cli_on_option on_option, void *ctx,
              char **positional, size_t *n_positional);

/* cli_parse for a command that takes options only: a non-option word is refused as a usage error ("unexpected
 * argument 'WORD'", naming the first one) right after parsing. Returns what cli_parse returns (CLI_OK, -1 after
 * --help, CLI_USAGE, or an on_option code), CLI_USAGE for a word, or CLI_FAIL when out of memory. */
int cli_parse_options(const cli_command *cmd, int argc, char **argv, cli_on_option on_option, void *ctx);

/* Reports a usage error: "frozen CMD: message", then the command's usage, to stderr. Returns CLI_USAGE. */
int cli_usage_error(const cli_command *cmd, const char *fmt, ...) CLI_PRINTF(2, 3);

/* Reports a library failure as "frozen: <frz_strerror>: <frz_last_error>" on stderr. Returns CLI_FAIL. */
int cli_lib_error(frz_status st);

/* Reports any other failure as "frozen: message" on stderr. Returns CLI_FAIL. */
int cli_fail(const char *fmt, ...) CLI_PRINTF(1, 2);

/* Strict number parsing for option `opt`: the whole word must be a number within [min, max]; otherwise a usage
 * error is printed and CLI_USAGE returned. */
int cli_parse_long(const cli_command *cmd, const char *opt, const char *s, long min, long max, long *out);
int cli_parse_double(const cli_command *cmd, const char *opt, const char *s, double min, double max,
                     double *out);
/* The same into the narrower types parameter structs use. */
int cli_parse_float(const cli_command *cmd, const char *opt, const char *s, double min, double max, float *out);
int cli_parse_int32(const cli_command *cmd, const char *opt, const char *s, long min, long max, int32_t *out);

/* Sets the library's log callback (warnings and errors to stderr; info and debug too once --verbose was seen). */
void cli_setup_logging(void);
void cli_set_verbose(void);
int cli_is_verbose(void);

/* Loads the model folder; on failure prints the error (naming the folder) and returns CLI_FAIL. */
int cli_load_lm(const char *dir, frz_lm **out);

/* Reads all of stdin into a NUL-terminated malloc'ed buffer. Returns CLI_OK or CLI_FAIL (message printed). */
int cli_read_stdin(char **out, size_t *len);

/* Tokenizes text into a malloc'ed array (*ids may be NULL when *n is 0). Returns CLI_OK or CLI_FAIL. */
int cli_tokenize(const frz_lm *lm, const char *text, size_t len, unsigned flags, int32_t **ids, size_t *n);

/* Decodes ids into a malloc'ed NUL-terminated buffer. Returns CLI_OK or CLI_FAIL. */
int cli_detokenize(const frz_lm *lm, const int32_t *ids, size_t n, char **text, size_t *len);

/* Tokenizes a prompt or context for evaluation: an empty text becomes the single <|endoftext|> token. */
int cli_tokenize_prompt(const frz_lm *lm, const char *text, unsigned flags, int32_t **ids, size_t *n);

/* Loads a `frozen train` run folder: dir/vision.safetensors and dir/projector.safetensors (ask.c). On failure
 * prints the error and returns CLI_FAIL with both NULL. */
int cli_load_run(const char *dir, frz_vision **v, frz_projector **p);

/* Number of processors online (>= 1). */
int cli_nproc(void);

/* Flushes stdout; reports a write error (CLI_FAIL) if any output was lost. */
int cli_finish_stdout(void);

/* ---- decoding options shared by generate and ask (decoding.c) ---------------------------------------------- */

/* The entries of a command's option table, in its enum's order: OPT_MAX_TOKENS ... OPT_STOP. */
#define CLI_DECODING_OPTIONS                                                                                   \
    {"max-tokens", 'n', 1}, {"greedy", 0, 0}, {"temperature", 0, 1}, {"top-k", 0, 1}, {"top-p", 0, 1},       \
        {"seed", 0, 1}, {"stop", 0, 1}

typedef struct cli_decoding {
    long max_tokens, top_k, seed;
    double temperature, top_p;
    int greedy, sampling, seed_given;  /* sampling: any of --temperature/--top-k/--top-p/--seed was given */
    const char **stop;                 /* the --stop strings, n_stop of them */
    size_t n_stop;
} cli_decoding;

/* Defaults (64 tokens, greedy) and room for argc stop strings. Returns CLI_OK or CLI_FAIL. */
int cli_decoding_init(cli_decoding *d, int argc);
void cli_decoding_free(cli_decoding *d);
/* Takes the option `name` (long name) if it is a decoding option; returns CLI_OK (also for any other name) or a
 * usage error's exit code. */
int cli_decoding_option(const cli_command *cmd, cli_decoding *d, const char *name, const char *value);
/* After parsing: refuses --greedy with sampling options; draws a seed from the clock when sampling without one. */
int cli_decoding_finish(const cli_command *cmd, cli_decoding *d);
/* The session's seed when sampling. Returns CLI_OK or CLI_FAIL (message printed). */
int cli_decoding_session(const cli_decoding *d, frz_session *s);
/* frz_generate_params_init, then the options' max_tokens, temperature (0 unless sampling), top_k, top_p, stop. */
void cli_decoding_params(const cli_decoding *d, frz_generate_params *gp);

/* The commands. argv[0] is the first word after the command name. They return an exit code, or -1 after printing
 * their --help (exit 0). */
int cmd_tokenize(int argc, char **argv);
int cmd_detokenize(int argc, char **argv);
int cmd_generate(int argc, char **argv);
int cmd_score(int argc, char **argv);
int cmd_info(int argc, char **argv);
int cmd_train(int argc, char **argv);
int cmd_pretrain(int argc, char **argv);
int cmd_caption(int argc, char **argv);
int cmd_ask(int argc, char **argv);
int cmd_eval(int argc, char **argv);
int cmd_tokenizer_train(int argc, char **argv);

/* ---- step progress of train and pretrain (progress.c) ------------------------------------------------------- */
typedef struct cli_step_bar {
    int tty;              /* stderr is a terminal: one line redrawn in place */
    int open;             /* that line is on the screen without its newline */
    int started;
    int64_t first_step;   /* the step before the first one this process saw (for the ETA) */
} cli_step_bar;

void cli_step_bar_init(cli_step_bar *b);
/* The time left at `step` of `total` after elapsed_s seconds, into buf ("m:ss", "h:mm:ss" or "?"). */
void cli_step_bar_eta(cli_step_bar *b, int64_t step, int64_t total, double elapsed_s, char *buf, size_t cap);
/* One update: on a terminal "[####....] text" redrawn in place (kept on the screen with a newline when keep);
 * otherwise text on a line of its own. */
void cli_step_bar_print(cli_step_bar *b, int64_t step, int64_t total, const char *text, int keep);
/* Ends a line left open on the terminal. */
void cli_step_bar_end(cli_step_bar *b);

/* Ctrl-C: the first SIGINT sets a flag that the library's abort callbacks poll (cli_abort_requested), so the
 * running command finishes its current unit of work (a token, a step, an example) and stops cleanly. With
 * second_kills, a second Ctrl-C ends the process at once (the default action). */
void cli_catch_sigint(int second_kills);
int cli_interrupted(void);
/* An frz_abort_fn: non-zero once Ctrl-C was pressed. */
int cli_abort_requested(void *user_data);

#endif
