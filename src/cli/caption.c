/* caption.c -- `frozen caption`: greedy captions of images with a trained run (vision + projector) and the
 * frozen LM it was trained through. */
#include "cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const cli_option options[] = {
    {"lm", 'm', 1}, {"model", 0, 1}, {"max-tokens", 'n', 1}, {"threads", 't', 1},
};
enum { OPT_LM, OPT_MODEL, OPT_MAX_TOKENS, OPT_THREADS };

static const cli_command command = {
    "caption",
    "usage: frozen caption --lm DIR --model RUNDIR [--max-tokens N] [--threads N] IMAGE...\n"
    "\n"
    "Prints one line per image: the image's name, a TAB, and the greedy caption the LM generates after the\n"
    "image's visual prefix (until <|endoftext|> or N tokens). Tabs and line breaks inside a caption are printed\n"
    "as spaces. RUNDIR is a `frozen train` run folder (vision.safetensors, projector.safetensors); DIR must be\n"
    "the LM it was trained with. An image that cannot be read is reported on stderr and the others go on\n"
    "(exit status 1).\n"
    "\n"
    "  -m, --lm DIR          the language model folder\n"
    "  --model RUNDIR        the trained run folder\n"
    "  -n, --max-tokens N    at most N caption tokens (1..100000, default 32)\n"
    "  -t, --threads N       threads (default: the processors online)\n"
    "  -v, --verbose         library info/debug messages on stderr\n"
    "  -h, --help            this help\n",
    options, sizeof options / sizeof options[0],
};

typedef struct args {
    const char *lm, *model;
    long max_tokens, threads;
} args;

static int on_option(void *ctx, size_t index, const char *value)
{
    args *a = ctx;
    switch (index) {
    case OPT_LM: a->lm = value; return CLI_OK;
    case OPT_MODEL: a->model = value; return CLI_OK;
    case OPT_MAX_TOKENS: return cli_parse_long(&command, "--max-tokens", value, 1, 100000, &a->max_tokens);
    case OPT_THREADS: return cli_parse_long(&command, "--threads", value, 1, 4096, &a->threads);
    default: return CLI_OK;
    }
}

/* Captions one image onto stdout; returns CLI_OK or CLI_FAIL (message printed). */
static int caption_one(frz_session *s, const frz_vision *v, const frz_projector *p, const char *path, long max_tokens,
                       char **buf, size_t *cap)
{
    frz_image *img = NULL;
    frz_status st = frz_image_load_file(path, &img);
    size_t len = 0;
    if (st == FRZ_OK) {
        st = frz_caption(s, 0, v, p, img, (int32_t)max_tokens, *buf, *cap, &len);
        if (st == FRZ_ERR_BUFFER_TOO_SMALL) {
            char *bigger = realloc(*buf, len + 1);
            if (!bigger) {
                frz_image_free(img);
                return cli_fail("out of memory");
            }
            *buf = bigger;
            *cap = len + 1;
            st = frz_caption(s, 0, v, p, img, (int32_t)max_tokens, *buf, *cap, &len);
        }
    }
    frz_image_free(img);
    if (st != FRZ_OK) return cli_lib_error(st);
    for (size_t i = 0; i < len; i++)
        if ((*buf)[i] == '\t' || (*buf)[i] == '\n' || (*buf)[i] == '\r') (*buf)[i] = ' ';
    printf("%s\t%s\n", path, *buf);
    return CLI_OK;
}

static int run(const args *a, char **images, size_t n_images)
{
    frz_lm *lm = NULL;
    frz_session *s = NULL;
    frz_vision *v = NULL;
    frz_projector *p = NULL;
    size_t n = strlen(a->model) + 32;
    char *path = malloc(n);
    if (!path) return cli_fail("out of memory");
    frz_status st = FRZ_OK;
    int rc = cli_load_lm(a->lm, &lm);
    if (rc == CLI_OK) {
        snprintf(path, n, "%s/vision.safetensors", a->model);
        if ((st = frz_vision_load(path, &v)) != FRZ_OK) rc = cli_lib_error(st);
    }
    if (rc == CLI_OK) {
        snprintf(path, n, "%s/projector.safetensors", a->model);
        if ((st = frz_projector_load(path, &p)) != FRZ_OK) rc = cli_lib_error(st);
    }
    if (rc == CLI_OK && (st = frz_session_create(lm, &s)) != FRZ_OK) rc = cli_lib_error(st);
    if (rc == CLI_OK && (st = frz_session_set_int(s, FRZ_OPT_THREADS, a->threads)) != FRZ_OK) rc = cli_lib_error(st);
    size_t cap = 256;
    char *buf = rc == CLI_OK ? malloc(cap) : NULL;
    if (rc == CLI_OK && !buf) rc = cli_fail("out of memory");
    int any_failed = 0;
    for (size_t i = 0; rc == CLI_OK && i < n_images; i++) {
        if (caption_one(s, v, p, images[i], a->max_tokens, &buf, &cap) != CLI_OK) any_failed = 1;
        fflush(stdout);
    }
    if (rc == CLI_OK && any_failed) rc = CLI_FAIL;
    free(buf);
    free(path);
    frz_session_free(s);
    frz_projector_free(p);
    frz_vision_free(v);
    frz_lm_free(lm);
    return rc;
}

int cmd_caption(int argc, char **argv)
{
    args a = {NULL, NULL, 32, cli_nproc()};
    char **words = malloc(((size_t)argc + 1) * sizeof *words);
    size_t n_words = 0;
    int rc = words ? CLI_OK : cli_fail("out of memory");
    if (rc == CLI_OK) rc = cli_parse(&command, argc, argv, on_option, &a, words, &n_words);
    if (rc == CLI_OK && !a.lm) rc = cli_usage_error(&command, "--lm DIR is required");
    if (rc == CLI_OK && !a.model) rc = cli_usage_error(&command, "--model RUNDIR is required");
    if (rc == CLI_OK && n_words == 0) rc = cli_usage_error(&command, "no IMAGE given");
    if (rc == CLI_OK) rc = run(&a, words, n_words);
    free(words);
    return rc;
}
