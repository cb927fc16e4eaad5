/* main.c -- the `frozen` command-line tool: dispatches to one command per file. */
#include "cli.h"

#include <stdio.h>
#include <string.h>

static const char usage[] =
    "usage: frozen [--verbose] COMMAND [OPTIONS]\n"
    "\n"
    "Commands:\n"
    "  tokenize    --lm DIR [--special] TEXT     token ids of TEXT ('-' reads stdin)\n"
    "  detokenize  --lm DIR ID...                the text of token ids ('-' reads ids from stdin)\n"
    "  generate    --lm DIR --prompt TEXT ...    continue a prompt (greedy or sampled)\n"
    "  score       --lm DIR --context TEXT --continuation TEXT\n"
    "                                            log-probability of a continuation, per token\n"
    "  train       --lm DIR --data FILE --out RUNDIR ...\n"
    "                                            train a vision encoder through the frozen LM (captioning)\n"
    "  pretrain    --data CORPUS --tokenizer DIR --out DIR ...\n"
    "                                            train a GPT-2 language model on text (one sample per line)\n"
    "  caption     --lm DIR --model RUNDIR IMAGE...\n"
    "                                            greedy captions of images with a trained run\n"
    "  ask         --lm DIR --model RUNDIR --prompt '<img:a.jpg>This is a dax. ...'\n"
    "                                            continue a prompt of text and images\n"
    "  eval        vqa|binding --lm DIR --model RUNDIR ... --out OUTDIR\n"
    "                                            few-shot evaluation (VQAv2/OK-VQA, concept binding)\n"
    "  tokenizer-train --data FILE --out DIR --vocab-size N\n"
    "                                            learn a byte-level BPE vocabulary (vocab.json, merges.txt)\n"
    "  info                                      version, BLAS kernel, threads\n"
    "\n"
    "  frozen COMMAND --help    options of a command\n"
    "  frozen --version         the version\n"
    "\n"
    "Exit status: 0 success, 1 failure (model, I/O), 2 bad command line.\n";

typedef int (*command_fn)(int argc, char **argv);

static const struct {
    const char *name;
    command_fn run;
} commands[] = {
    {"tokenize", cmd_tokenize}, {"detokenize", cmd_detokenize}, {"generate", cmd_generate},
    {"score", cmd_score},       {"info", cmd_info},         {"train", cmd_train},
    {"pretrain", cmd_pretrain}, {"caption", cmd_caption},   {"ask", cmd_ask},           {"eval", cmd_eval},
    {"tokenizer-train", cmd_tokenizer_train},
};

int main(int argc, char **argv)
{
    cli_setup_logging();
    int i = 1;
    for (; i < argc && argv[i][0] == '-'; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            fputs(usage, stdout);
            return cli_finish_stdout();
        }
        if (strcmp(argv[i], "--version") == 0) {
            printf("frozen %s\n", frz_version_string());
            return cli_finish_stdout();
        }
        if (strcmp(argv[i], "--verbose") == 0 || strcmp(argv[i], "-v") == 0) {
            cli_set_verbose();
            continue;
        }
        fprintf(stderr, "frozen: unknown option '%s'\n\n%s", argv[i], usage);
        return CLI_USAGE;
    }
    if (i >= argc) {
        fprintf(stderr, "frozen: no command given\n\n%s", usage);
        return CLI_USAGE;
    }
    for (size_t c = 0; c < sizeof commands / sizeof commands[0]; c++) {
        if (strcmp(argv[i], commands[c].name) == 0) {
            int rc = commands[c].run(argc - i - 1, argv + i + 1);
            if (rc < 0) rc = CLI_OK; /* --help was printed */
            int out_rc = cli_finish_stdout();
            return rc != CLI_OK ? rc : out_rc;
        }
    }
    fprintf(stderr, "frozen: unknown command '%s'\n\n%s", argv[i], usage);
    return CLI_USAGE;
}
