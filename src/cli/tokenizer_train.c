/* tokenizer_train.c -- `frozen tokenizer-train`: learns a byte-level BPE vocabulary (GPT-2's vocab.json and
 * merges.txt) from a text corpus with frz_tokenizer_train. */
#include "cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const cli_option options[] = {
    {"data", 'd', 1}, {"out", 'o', 1}, {"vocab-size", 0, 1}, {"min-frequency", 0, 1},
    {"tab-segments", 0, 0}, {"threads", 't', 1},
};
enum { OPT_DATA, OPT_OUT, OPT_VOCAB, OPT_MIN_FREQ, OPT_TAB, OPT_THREADS };

static const cli_command command = {
    "tokenizer-train",
    "usage: frozen tokenizer-train --data CORPUS --out DIR --vocab-size N [options]\n"
    "\n"
    "Learns a byte-level BPE tokenizer from a text file and writes DIR/vocab.json and DIR/merges.txt in\n"
    "GPT-2's format (what --lm folders hold). The corpus is split into words exactly as the tokenizer splits\n"
    "text (GPT-2's pattern); starting from the 256 bytes, the most frequent adjacent pair is merged, again and\n"
    "again (ties: the pair whose merged bytes sort first), until the vocabulary has N entries, <|endoftext|>\n"
    "(the last id) included, or no pair occurs F times.\n"
    "\n"
    "  -d, --data CORPUS         the training text (any bytes; invalid UTF-8 is kept, as the tokenizer keeps it)\n"
    "  -o, --out DIR             the output folder (created if missing; files replaced atomically)\n"
    "  --vocab-size N            entries in vocab.json, >= 257 (GPT-2: 50257)\n"
    "  --min-frequency F         never merge a pair occurring fewer than F times (default 2)\n"
    "  --tab-segments            TAB and line ends separate segments that are split on their own and are not\n"
    "                            text themselves (the corpus layout of `frozen pretrain --tab-segments`)\n"
    "  -t, --threads N           threads counting the corpus (default: the processors online)\n"
    "  -v, --verbose             library info/debug messages on stderr\n"
    "  -h, --help                this help\n"
    "\n"
    "Prints one summary line. The same corpus and options give the same files, whatever the threads.\n"
    "\n"
    "Exit status: 0 success, 1 failure (unreadable or empty corpus, unwritable folder), 2 bad command line,\n"
    "130 interrupted (nothing written).\n",
    options, sizeof options / sizeof options[0],
};

typedef struct args {
    const char *data, *out;
    int have_vocab;
    frz_tokenizer_train_params p;
} args;

static int on_option(void *ctx, size_t index, const char *value)
{
    args *a = ctx;
    switch (index) {
    case OPT_DATA: a->data = value; return CLI_OK;
    case OPT_OUT: a->out = value; return CLI_OK;
    case OPT_VOCAB: a->have_vocab = 1; return cli_parse_int32(&command, "--vocab-size", value, 257, INT32_MAX, &a->p.vocab_size);
    case OPT_MIN_FREQ: return cli_parse_int32(&command, "--min-frequency", value, 1, INT32_MAX, &a->p.min_frequency);
    case OPT_TAB: a->p.tab_segments = 1; return CLI_OK;
    case OPT_THREADS: return cli_parse_int32(&command, "--threads", value, 1, 4096, &a->p.n_threads);
    default: return CLI_OK;
    }
}

int cmd_tokenizer_train(int argc, char **argv)
{
    args a;
    memset(&a, 0, sizeof a);
    frz_tokenizer_train_params_init(&a.p);
    a.p.n_threads = cli_nproc();
    int rc = cli_parse_options(&command, argc, argv, on_option, &a);
    if (rc == CLI_OK && !a.data) rc = cli_usage_error(&command, "--data CORPUS is required");
    if (rc == CLI_OK && !a.out) rc = cli_usage_error(&command, "--out DIR is required");
    if (rc == CLI_OK && !a.have_vocab) rc = cli_usage_error(&command, "--vocab-size N is required");
    if (rc != CLI_OK) return rc;

    cli_catch_sigint(1);
    a.p.abort = cli_abort_requested;
    frz_tokenizer_train_stats s;
    s.struct_size = sizeof s;
    frz_status st = frz_tokenizer_train(a.data, a.out, &a.p, &s);
    if (st == FRZ_ERR_CANCELLED && cli_interrupted()) {
        fprintf(stderr, "frozen: interrupted; nothing written\n");
        return 130;
    }
    if (st != FRZ_OK) return cli_lib_error(st);
    printf("vocab %d tokens, %d merges (the last seen %lld times); %lld bytes, %lld words, %lld distinct; "
           "counted in %.2f s, merged in %.2f s; wrote %s/vocab.json and %s/merges.txt\n",
           (int)s.n_vocab, (int)s.n_merges, (long long)s.last_count, (long long)s.n_bytes, (long long)s.n_words,
           (long long)s.n_unique_words, s.count_s, s.merge_s, a.out, a.out);
    return CLI_OK;
}
