/* caption.c -- caption images with a trained run: the encoder and projector turn each image into a visual
 * prefix, and the frozen LM continues it greedily until <|endoftext|>.
 *
 *   usage: caption LM_DIR RUN_DIR IMAGE...
 *
 * RUN_DIR holds vision.safetensors and projector.safetensors (from train.c or `frozen train`); LM_DIR must be
 * the LM the run was trained through. Prints "IMAGE<TAB>caption" per image, as `frozen caption` does.
 * Build: cc -std=c11 caption.c $(pkg-config --cflags --libs frozen) -o caption */
#include "common.h"

#include <string.h>

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: %s LM_DIR RUN_DIR IMAGE...\n", argv[0]);
        return 2;
    }
    check_library_version();

    frz_lm *lm = NULL;
    check(frz_lm_load(argv[1], &lm), argv[1]);
    char path[4096];
    frz_vision *v = NULL; /* read-only once loaded: threads may share it */
    snprintf(path, sizeof path, "%s/vision.safetensors", argv[2]);
    check(frz_vision_load(path, &v), path);
    frz_projector *proj = NULL;
    snprintf(path, sizeof path, "%s/projector.safetensors", argv[2]);
    check(frz_projector_load(path, &proj), path);
    frz_session *s = NULL;
    check(frz_session_create(lm, &s), "session");

    for (int i = 3; i < argc; i++) {
        frz_image *img = NULL; /* PNG or JPEG, told by its signature */
        check(frz_image_load_file(argv[i], &img), argv[i]);
        /* frz_caption clears slot 0, feeds the image's prefix and generates up to 32 tokens. */
        char text[1024];
        size_t len = 0;
        check(frz_caption(s, 0, v, proj, img, 32, text, sizeof text, &len), argv[i]);
        frz_image_free(img);
        for (size_t k = 0; k < len; k++)
            if (text[k] == '\t' || text[k] == '\n' || text[k] == '\r') text[k] = ' ';
        printf("%s\t%s\n", argv[i], text);
    }

    frz_session_free(s);
    frz_projector_free(proj);
    frz_vision_free(v);
    frz_lm_free(lm);
    return 0;
}
