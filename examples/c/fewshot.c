/* fewshot.c -- a few-shot prompt that interleaves images and text, as in the paper's fast concept binding:
 *
 *   fewshot LM_DIR RUN_DIR img:a.jpg "This is a dax." img:b.jpg "This is a blicket." \
 *           img:q.jpg "Question: What is this? Answer:"
 *
 * Each "img:PATH" argument is an image (its visual prefix: encoder, then projector), every other argument is
 * text, tokenized on its own and appended as written (no spaces are added). The continuation is generated
 * greedily up to the first newline or 8 tokens and printed on one line; the same as
 *   frozen ask --lm LM_DIR --model RUN_DIR --newline --max-tokens 8 --prompt '<img:a.jpg>This is a dax....'
 * Build: cc -std=c11 fewshot.c $(pkg-config --cflags --libs frozen) -o fewshot */
#include "common.h"

#include <string.h>

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: %s LM_DIR RUN_DIR (img:PATH | TEXT)...\n", argv[0]);
        return 2;
    }
    check_library_version();

    frz_lm *lm = NULL;
    check(frz_lm_load(argv[1], &lm), argv[1]);
    char path[4096];
    frz_vision *v = NULL;
    snprintf(path, sizeof path, "%s/vision.safetensors", argv[2]);
    check(frz_vision_load(path, &v), path);
    frz_projector *proj = NULL;
    snprintf(path, sizeof path, "%s/projector.safetensors", argv[2]);
    check(frz_projector_load(path, &proj), path);

    /* The prompt encodes its images with this encoder and projector as they are appended. */
    frz_prompt *pr = NULL;
    check(frz_prompt_create(lm, v, proj, &pr), "prompt");
    for (int i = 3; i < argc; i++) {
        if (strncmp(argv[i], "img:", 4) == 0)
            check(frz_prompt_add_image_file(pr, argv[i] + 4), argv[i]);
        else
            check(frz_prompt_add_text(pr, argv[i], (size_t)-1, 0), "text");
    }
    fprintf(stderr, "prompt: %zu segments, %zu positions\n", frz_prompt_n_segments(pr), frz_prompt_len(pr));

    /* Run it on slot 0 of a fresh session: greedy (params NULL), stop at a newline. */
    frz_session *s = NULL;
    check(frz_session_create(lm, &s), "session");
    int32_t out[8];
    size_t n_out = 0;
    check(frz_prompt_generate(s, 0, pr, NULL, FRZ_PROMPT_STOP_NEWLINE, out, 8, &n_out), "generate");
    char text[1024];
    size_t len = 0;
    check(frz_detokenize(lm, out, n_out, text, sizeof text, &len), "detokenize");
    printf("%s\n", text);

    frz_session_free(s);
    frz_prompt_free(pr); /* before the encoder, projector and model it reads */
    frz_projector_free(proj);
    frz_vision_free(v);
    frz_lm_free(lm);
    return 0;
}
