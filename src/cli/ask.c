/* ask.c -- `frozen ask`: one prompt of text and images (inline markers or a request file), continued by the LM.
 *
 * The prompt is parsed into segments first (src/prompt/markup.c), so a bad marker is reported before any model
 * is loaded; images are read while the prompt is built, and a missing one is reported with the marker's byte
 * offset or the request's segment index. The continuation is streamed: the library hands over a token only once
 * no stop string can still begin inside it, and an incomplete UTF-8 character is held back here. */
#include "cli.h"
#include "prompt/markup.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const cli_option options[] = {
    {"lm", 'm', 1},      {"model", 0, 1},     {"prompt", 'p', 1}, {"request", 0, 1}, CLI_DECODING_OPTIONS,
    {"newline", 0, 0},   {"blind", 0, 0},    {"threads", 't', 1}, {"special", 0, 0}, {"show-prompt", 0, 0},
};
enum {
    OPT_LM, OPT_MODEL, OPT_PROMPT, OPT_REQUEST, OPT_MAX_TOKENS, OPT_GREEDY, OPT_TEMPERATURE, OPT_TOP_K, OPT_TOP_P,
    OPT_SEED, OPT_STOP, OPT_NEWLINE, OPT_BLIND, OPT_THREADS, OPT_SPECIAL, OPT_SHOW_PROMPT
};

static const cli_command command = {
    "ask",
    "usage: frozen ask --lm DIR [--model RUNDIR] (--prompt TEXT | --request FILE.json)\n"
    "                  [--max-tokens N] [--greedy | --temperature T --top-k K --top-p P --seed S]\n"
    "                  [--stop STR]... [--newline] [--blind] [--threads N] [--special] [--show-prompt]\n"
    "\n"
    "Continues a prompt that interleaves text and images, as Frozen does: each image becomes its visual prefix\n"
    "(the trained encoder and projector of RUNDIR) at its place in the text. Images are marked inline:\n"
    "\n"
    "  frozen ask --lm gpt2 --model run --prompt '<img:a.jpg>This is a dax.<img:b.jpg>Q: What is this? A:'\n"
    "\n"
    "  <img:PATH>   an image (PATH relative to the current folder; '\\>' for a '>' inside PATH)\n"
    "  \\<           a literal '<' (so '\\<img:x>' is text); '\\\\' a literal backslash; nothing else is special\n"
    "\n"
    "No spaces are added around images. A request file holds the same as JSON, paths relative to the file:\n"
    "  {\"segments\": [{\"image\": \"a.jpg\"}, {\"text\": \"This is a dax.\"}, ...]}\n"
    "\n"
    "  -m, --lm DIR          the language model folder\n"
    "  --model RUNDIR        a `frozen train` run folder (vision.safetensors, projector.safetensors);\n"
    "                        needed when the prompt has images\n"
    "  -p, --prompt TEXT     the prompt with inline image markers; '-' reads stdin\n"
    "  --request FILE.json   the prompt as a request file\n"
    "  -n, --max-tokens N    at most N new tokens (0..1000000, default 64)\n"
    "  --greedy              always take the most likely token (the default without sampling options)\n"
    "  --temperature T       sample with temperature T (0..100; default 1 once any sampling option is given)\n"
    "  --top-k K             sample among the K most likely tokens (0 = all, the default)\n"
    "  --top-p P             nucleus sampling (0..1, default 1)\n"
    "  --seed S              RNG seed (0..2^63-1); default: from the clock, shown with --verbose\n"
    "  --stop STR            stop before STR (repeatable; not printed)\n"
    "  --newline             stop at the first newline (not printed)\n"
    "  --blind               replace every image with a black image (the paper's blind baseline)\n"
    "  -t, --threads N       threads (1..4096, default: the processors online)\n"
    "  --special             parse special tokens such as <|endoftext|> in the text\n"
    "  --show-prompt         print the prompt's segments and positions on stderr first\n"
    "  -v, --verbose         library info/debug messages on stderr\n"
    "  -h, --help            this help\n"
    "\n"
    "Generation ends after N tokens, at <|endoftext|> (not printed), at the end of the model's context, or at a\n"
    "stop string. A newline follows the text only when stdout is a terminal.\n"
    "Exit status: 0 success, 1 failure (bad marker or request, missing image, model), 2 bad command line,\n"
    "130 interrupted (the text so far is printed).\n",
    options, sizeof options / sizeof options[0],
};

typedef struct args {
    const char *lm, *model, *prompt, *request;
    cli_decoding dec;
    long threads;
    int newline, blind, show_prompt;
    unsigned flags;
} args;

static int on_option(void *ctx, size_t index, const char *value)
{
    args *a = ctx;
    switch (index) {
    case OPT_LM: a->lm = value; return CLI_OK;
    case OPT_MODEL: a->model = value; return CLI_OK;
    case OPT_PROMPT: a->prompt = value; return CLI_OK;
    case OPT_REQUEST: a->request = value; return CLI_OK;
    case OPT_NEWLINE: a->newline = 1; return CLI_OK;
    case OPT_BLIND: a->blind = 1; return CLI_OK;
    case OPT_THREADS: return cli_parse_long(&command, "--threads", value, 1, 4096, &a->threads);
    case OPT_SPECIAL: a->flags |= FRZ_TOKENIZE_SPECIAL; return CLI_OK;
    case OPT_SHOW_PROMPT: a->show_prompt = 1; return CLI_OK;
    default: return cli_decoding_option(&command, &a->dec, options[index].name, value);
    }
}

int cli_load_run(const char *dir, frz_vision **v, frz_projector **p)
{
    *v = NULL;
    *p = NULL;
    size_t n = strlen(dir) + 32;
    char *path = malloc(n);
    if (!path) return cli_fail("out of memory");
    snprintf(path, n, "%s/vision.safetensors", dir);
    frz_status st = frz_vision_load(path, v);
    if (st == FRZ_OK) {
        snprintf(path, n, "%s/projector.safetensors", dir);
        st = frz_projector_load(path, p);
    }
    free(path);
    if (st == FRZ_OK) return CLI_OK;
    frz_vision_free(*v);
    *v = NULL;
    return cli_lib_error(st);
}

/* ---- streaming ------------------------------------------------------------------------------------------- */

typedef struct stream {
    const frz_lm *lm;
    char pending[8]; /* bytes of an incomplete UTF-8 character */
    size_t n_pending;
    size_t printed;  /* bytes written so far */
    int failed;
} stream;

/* Length of the longest prefix of s[0..n) that does not end inside an incomplete UTF-8 character. */
static size_t utf8_complete(const char *s, size_t n)
{
    for (size_t back = 1; back <= 3 && back <= n; back++) {
        unsigned char c = (unsigned char)s[n - back];
        if ((c & 0xC0) == 0x80) continue;
        size_t need = c >= 0xF0 && c <= 0xF4 ? 4 : c >= 0xE0 ? 3 : c >= 0xC2 && c < 0xE0 ? 2 : 1;
        return need > back ? n - back : n;
    }
    return n;
}

static int on_token(int32_t token, void *user_data)
{
    stream *st = user_data;
    if (cli_interrupted()) return 1;
    if (st->failed) return 0;
    char buf[256 + sizeof st->pending];
    size_t n = 0;
    memcpy(buf, st->pending, st->n_pending);
    if (frz_detokenize(st->lm, &token, 1, buf + st->n_pending, 256, &n) != FRZ_OK) {
        st->failed = 1; /* a token over 255 bytes: the final text is printed when generation ends */
        return 0;
    }
    n += st->n_pending;
    size_t ready = utf8_complete(buf, n);
    if (n - ready > sizeof st->pending) ready = n; /* not UTF-8 after all: let it through */
    fwrite(buf, 1, ready, stdout);
    fflush(stdout);
    st->printed += ready;
    st->n_pending = n - ready;
    memcpy(st->pending, buf + ready, st->n_pending);
    return 0;
}

/* ---- the command ----------------------------------------------------------------------------------------- */

static void show_prompt(const frz_prompt *pr, const frz_markup *m)
{
    fprintf(stderr, "frozen: prompt of %zu positions:\n", frz_prompt_len(pr));
    for (size_t i = 0; i < frz_prompt_n_segments(pr) && i < m->segs.n; i++) {
        frz_prompt_seg_kind kind;
        size_t start, n;
        frz_prompt_segment(pr, i, &kind, &start, &n);
        const frz_eval_seg *seg = &m->segs.segs[i];
        fprintf(stderr, "  [%4zu, %4zu)  %-5s  %s\n", start, start + n, kind == FRZ_PROMPT_SEG_IMAGE ? "image" : "text",
                seg->kind == FRZ_EVAL_SEG_IMAGE ? seg->image_path : seg->text);
    }
}

static int run(const args *a, const frz_markup *m)
{
    frz_lm *lm = NULL;
    frz_vision *v = NULL;
    frz_projector *p = NULL;
    frz_session *s = NULL;
    frz_prompt *pr = NULL;
    int32_t *out = NULL;
    size_t n_out = 0;
    frz_status fs = FRZ_OK;
    stream st = {0};

    int rc = cli_load_lm(a->lm, &lm);
    if (rc == CLI_OK && a->model) rc = cli_load_run(a->model, &v, &p);
    if (rc == CLI_OK && (fs = frz_prompt_create(lm, v, p, &pr)) != FRZ_OK) rc = cli_lib_error(fs);
    if (rc == CLI_OK && (fs = frz_prompt_set_int(pr, FRZ_PROMPT_OPT_THREADS, a->threads)) != FRZ_OK)
        rc = cli_lib_error(fs);
    if (rc == CLI_OK && (fs = frz_prompt_set_int(pr, FRZ_PROMPT_OPT_BLIND, a->blind)) != FRZ_OK)
        rc = cli_lib_error(fs);
    if (rc == CLI_OK && (fs = frz_markup_to_prompt(m, pr, a->flags)) != FRZ_OK) rc = cli_lib_error(fs);
    if (rc == CLI_OK && frz_prompt_len(pr) == 0) { /* an empty prompt starts from <|endoftext|> */
        if ((fs = frz_prompt_add_text(pr, "<|endoftext|>", (size_t)-1, FRZ_TOKENIZE_SPECIAL)) != FRZ_OK)
            rc = cli_lib_error(fs);
    }
    if (rc == CLI_OK && a->show_prompt) show_prompt(pr, m);
    if (rc == CLI_OK && (fs = frz_session_create(lm, &s)) != FRZ_OK) rc = cli_lib_error(fs);
    if (rc == CLI_OK && (fs = frz_session_set_int(s, FRZ_OPT_THREADS, a->threads)) != FRZ_OK) rc = cli_lib_error(fs);
    if (rc == CLI_OK) rc = cli_decoding_session(&a->dec, s);
    if (rc == CLI_OK && !(out = malloc(((size_t)a->dec.max_tokens + 1) * sizeof *out))) rc = cli_fail("out of memory");
    if (rc == CLI_OK) {
        frz_session_set_abort(s, cli_abort_requested, NULL);
        frz_generate_params gp;
        cli_decoding_params(&a->dec, &gp);
        gp.on_token = on_token;
        gp.on_token_data = &st;
        st.lm = lm;
        if (a->dec.max_tokens == 0) {
            fs = frz_prompt_eval(s, 0, pr, FRZ_LOGITS_NONE);
        } else {
            fs = frz_prompt_generate(s, 0, pr, &gp, a->newline ? FRZ_PROMPT_STOP_NEWLINE : 0, out,
                                     (size_t)a->dec.max_tokens, &n_out);
        }
        if (fs != FRZ_OK && !(fs == FRZ_ERR_CANCELLED && cli_interrupted())) rc = cli_lib_error(fs);
    }
    if (rc == CLI_OK) {
        /* what streaming held back: the authoritative text, past what was printed */
        char *text = NULL;
        size_t len = 0;
        rc = cli_detokenize(lm, out, n_out, &text, &len);
        if (rc == CLI_OK && st.printed <= len) fwrite(text + st.printed, 1, len - st.printed, stdout);
        free(text);
        if (rc == CLI_OK && isatty(STDOUT_FILENO)) putchar('\n');
    }
    if (rc == CLI_OK && cli_interrupted()) rc = 130;
    free(out);
    frz_prompt_free(pr);
    frz_session_free(s);
    frz_projector_free(p);
    frz_vision_free(v);
    frz_lm_free(lm);
    return rc;
}

int cmd_ask(int argc, char **argv)
{
    args a = {0};
    a.threads = cli_nproc();
    char *input = NULL;
    size_t len = 0;
    frz_markup m = {0};
    int rc = cli_decoding_init(&a.dec, argc);
    if (rc == CLI_OK) rc = cli_parse_options(&command, argc, argv, on_option, &a);
    if (rc == CLI_OK && !a.lm) rc = cli_usage_error(&command, "--lm DIR is required");
    if (rc == CLI_OK && !a.prompt == !a.request)
        rc = cli_usage_error(&command, "give exactly one of --prompt TEXT and --request FILE.json");
    if (rc == CLI_OK) rc = cli_decoding_finish(&command, &a.dec);
    const char *prompt = a.prompt;
    if (rc == CLI_OK && prompt && strcmp(prompt, "-") == 0) {
        rc = cli_read_stdin(&input, &len);
        prompt = input;
    }
    /* the prompt is parsed before any model is loaded: a bad marker or request fails fast */
    if (rc == CLI_OK) {
        frz_status fs = a.request ? frz_markup_load_request(a.request, &m)
                                  : frz_markup_parse(prompt, NULL, strcmp(a.prompt, "-") == 0 ? "stdin" : "--prompt",
                                                     &m);
        if (fs != FRZ_OK) rc = cli_lib_error(fs);
    }
    if (rc == CLI_OK && frz_markup_n_images(&m) > 0 && !a.model)
        rc = cli_usage_error(&command, "the prompt has %zu image%s: --model RUNDIR is required",
                             frz_markup_n_images(&m), frz_markup_n_images(&m) == 1 ? "" : "s");
    if (rc == CLI_OK) {
        cli_catch_sigint(0);
        rc = run(&a, &m);
    }
    frz_markup_free(&m);
    free(input);
    cli_decoding_free(&a.dec);
    return rc;
}
