/* metrics.h -- metrics.csv of a training run ("step,epoch,loss,val_ppl,images_per_s,lr", one row per step,
 * val_ppl empty where no validation ran) and the history behind loss.png.
 *
 * Resuming keeps the rows up to the checkpoint's step and drops later ones (a run that went on past its last
 * checkpoint and then died), so the file always describes the run the checkpoint continues. */
#ifndef FRZ_TRAIN_METRICS_H
#define FRZ_TRAIN_METRICS_H

#include "core/core.h"

#include <stdint.h>
#include <stdio.h>

typedef struct frz_metrics {
    char *path;
    const char *header; /* the first line (static text) */
    FILE *f;
    int64_t *step;      /* (n) every row: the training loss curve */
    float *loss;
    size_t n, cap;
    int64_t *vstep;     /* (nv) rows with a validation: ln(val_ppl) */
    float *vloss;
    size_t nv, vcap;
} frz_metrics;

#define FRZ_METRICS_HEADER "step,epoch,loss,val_ppl,images_per_s,lr"

/* keep_until < 0: a fresh file (an old one is replaced). Otherwise the existing file's rows with step <=
 * keep_until are kept (and loaded into the history); a missing file starts fresh. A malformed row is
 * FRZ_ERR_FORMAT naming "file:line". */
frz_status frz_metrics_open(const char *path, int64_t keep_until, frz_metrics **out);
/* Reads an existing file's history only (for reports and plots): a handle that frz_metrics_plot and the
 * step/loss/vstep/vloss arrays serve, and frz_metrics_add refuses. Same row rules and errors as above. */
frz_status frz_metrics_read(const char *path, frz_metrics **out);
/* The same with another header line (static text) whose columns mean the same but for the fifth, the speed:
 * "step,epoch,loss,val_ppl,tokens_per_s,lr" for LM pretraining. */
#define FRZ_METRICS_HEADER_TOKENS "step,epoch,loss,val_ppl,tokens_per_s,lr"
frz_status frz_metrics_open_with(const char *path, int64_t keep_until, const char *header, frz_metrics **out);
/* Appends a row (flushed at once). val_ppl 0: none. */
frz_status frz_metrics_add(frz_metrics *m, int64_t step, int32_t epoch, float loss, double val_ppl,
                           double images_per_s, float lr);
/* Writes the loss picture (plot.h) from the history. */
frz_status frz_metrics_plot(const frz_metrics *m, const char *png_path);
void frz_metrics_close(frz_metrics *m);

#endif
