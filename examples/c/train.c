/* train.c -- train Frozen's vision side on a captions file: an NF-ResNet encoder and the projector to the
 * visual prefix learn captioning through the frozen GPT-2, whose weights never change.
 *
 *   usage: train LM_DIR CAPTIONS RUN_DIR [--steps N] [--vision ARCH] [--width W] [--image-size R]
 *                [--batch B] [--seed S] [--threads T]
 *
 * CAPTIONS is a TSV file (image path TAB caption per line, paths relative to the file) or a COCO captions
 * JSON. RUN_DIR receives vision.safetensors and projector.safetensors (what caption.c and fewshot.c load),
 * checkpoint.safetensors, metrics.csv and loss.png. Unset options keep the paper's defaults (nf_resnet50 at
 * 224 pixels, batch 128): fine on a large machine; try --vision tiny --width 0.0625 --image-size 32 on a laptop.
 * Prints one line per step. Every run holds out no validation images here (val_fraction 0).
 * Build: cc -std=c11 train.c $(pkg-config --cflags --libs frozen) -o train */
#include "common.h"

#include <string.h>

/* Called on the training thread after every optimisation step. */
static void on_progress(const frz_train_progress *p, void *user_data)
{
    (void)user_data;
    printf("step %lld/%lld epoch %d loss %.6f\n", (long long)p->step, (long long)p->total_steps, (int)p->epoch,
           (double)p->loss);
    fflush(stdout);
}

int main(int argc, char **argv)
{
    if (argc < 4 || (argc - 4) % 2 != 0) {
        fprintf(stderr, "usage: %s LM_DIR CAPTIONS RUN_DIR [--steps N] [--vision ARCH] [--width W] "
                        "[--image-size R] [--batch B] [--seed S] [--threads T]\n", argv[0]);
        return 2;
    }
    check_library_version();

    /* Parameter structs are versioned: _init sets struct_size and the defaults, then set what you need. */
    frz_train_params p;
    frz_train_params_init(&p);
    p.val_fraction = 0;
    for (int i = 4; i < argc; i += 2) {
        const char *opt = argv[i], *val = argv[i + 1];
        if (strcmp(opt, "--steps") == 0) p.max_steps = atoll(val);
        else if (strcmp(opt, "--vision") == 0) p.vision_arch = val;
        else if (strcmp(opt, "--width") == 0) p.vision_width = (float)atof(val);
        else if (strcmp(opt, "--image-size") == 0) p.image_size = atoi(val);
        else if (strcmp(opt, "--batch") == 0) p.batch_size = atoi(val);
        else if (strcmp(opt, "--seed") == 0) p.seed = strtoull(val, NULL, 10);
        else if (strcmp(opt, "--threads") == 0) p.n_threads = atoi(val);
        else {
            fprintf(stderr, "unknown option %s\n", opt);
            return 2;
        }
    }
    p.progress = on_progress;

    frz_lm *lm = NULL;
    check(frz_lm_load(argv[1], &lm), argv[1]);
    frz_train *t = NULL;
    check(frz_train_create(lm, argv[2], argv[3], &p, &t), "train"); /* data errors name file:line */
    check(frz_train_run(t), "train");

    frz_train_progress done;
    done.struct_size = sizeof done; /* the caller says how much of the struct it knows */
    check(frz_train_get_progress(t, &done), "progress");
    printf("done: %lld steps, %lld training examples, %lld skipped images; model in %s\n", (long long)done.step,
           (long long)done.n_train, (long long)done.skipped_images, argv[3]);

    frz_train_free(t); /* before the model it trains through */
    frz_lm_free(lm);
    return 0;
}
