/* metrics.c -- metrics.csv and the loss history (see metrics.h). */
#include "train/metrics.h"

#include "train/plot.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static frz_status push(int64_t **xs, float **ys, size_t *n, size_t *cap, int64_t x, float y)
{
    if (*n == *cap) {
        size_t c = *cap ? *cap * 2 : 256;
        int64_t *nx = frz_realloc(*xs, c * sizeof *nx, "metrics history");
        if (!nx) return FRZ_ERR_NOMEM;
        *xs = nx;
        float *ny = frz_realloc(*ys, c * sizeof *ny, "metrics history");
        if (!ny) return FRZ_ERR_NOMEM;
        *ys = ny;
        *cap = c;
    }
    (*xs)[*n] = x;
    (*ys)[*n] = y;
    (*n)++;
    return FRZ_OK;
}

static frz_status remember(frz_metrics *m, int64_t step, float loss, double val_ppl)
{
    frz_status st = push(&m->step, &m->loss, &m->n, &m->cap, step, loss);
    if (st == FRZ_OK && val_ppl > 0) st = push(&m->vstep, &m->vloss, &m->nv, &m->vcap, step, (float)log(val_ppl));
    return st;
}

/* Parses one row; returns 0 if malformed. */
static int parse_row(const char *line, int64_t *step, float *loss, double *val_ppl)
{
    char *end;
    long long s = strtoll(line, &end, 10);
    if (end == line || *end != ',') return 0;
    const char *p = strchr(end + 1, ','); /* skip the epoch */
    if (!p) return 0;
    double l = strtod(p + 1, &end);
    if (end == p + 1 || *end != ',') return 0;
    p = end + 1;
    double v = 0;
    if (*p != ',') {
        v = strtod(p, &end);
        if (end == p || *end != ',' || !(v > 0)) return 0;
    }
    *step = s;
    *loss = (float)l;
    *val_ppl = v;
    return 1;
}

/* Reads the rows of an open metrics file into the history, those with step <= keep_until only; each kept row is
 * also copied to `copy` (named copy_name in messages) when that is not NULL. */
static frz_status scan_rows(frz_metrics *m, FILE *in, int64_t keep_until, FILE *copy, const char *copy_name)
{
    frz_status st = FRZ_OK;
    char line[512];
    size_t lineno = 0;
    while (st == FRZ_OK && fgets(line, sizeof line, in)) {
        lineno++;
        size_t len = strlen(line);
        if (len > 0 && line[len - 1] != '\n' && !feof(in))
            return frz_fail(FRZ_ERR_FORMAT, "%s:%zu: line too long for a metrics row", m->path, lineno);
        /* either header (images/s or tokens/s in the fifth column): the first four names are the same */
        if (lineno == 1 && strncmp(line, "step,epoch,loss,val_ppl,", 24) == 0) continue;
        int64_t step;
        float loss;
        double val;
        if (!parse_row(line, &step, &loss, &val))
            return frz_fail(FRZ_ERR_FORMAT, "%s:%zu: not a metrics row (%s)", m->path, lineno,
                            m->header ? m->header : FRZ_METRICS_HEADER);
        if (step > keep_until) continue;
        st = remember(m, step, loss, val);
        if (st == FRZ_OK && copy && fputs(line, copy) == EOF) st = frz_fail(FRZ_ERR_IO, "%s: write error", copy_name);
    }
    if (st == FRZ_OK && ferror(in)) st = frz_fail(FRZ_ERR_IO, "%s: read error", m->path);
    return st;
}

/* Keeps the rows of the existing file up to keep_until: rewrites it through a temporary file. */
static frz_status reload(frz_metrics *m, int64_t keep_until, int *existed)
{
    *existed = 0;
    FILE *in = fopen(m->path, "rb");
    if (!in) return errno == ENOENT ? FRZ_OK : frz_fail(FRZ_ERR_IO, "%s: cannot open: %s", m->path, strerror(errno));
    *existed = 1;
    size_t cap = strlen(m->path) + 32;
    char *tmp = frz_malloc(cap, "temporary file name");
    FILE *out = NULL;
    frz_status st = tmp ? FRZ_OK : FRZ_ERR_NOMEM;
    if (st == FRZ_OK) {
        snprintf(tmp, cap, "%s.tmp.%ld", m->path, (long)getpid());
        out = fopen(tmp, "wb");
        if (!out) st = frz_fail(FRZ_ERR_IO, "%s: cannot create: %s", tmp, strerror(errno));
        else if (fputs(m->header, out) == EOF || fputc('\n', out) == EOF) st = frz_fail(FRZ_ERR_IO, "%s: write error", tmp);
    }
    if (st == FRZ_OK) st = scan_rows(m, in, keep_until, out, tmp);
    fclose(in);
    if (out) {
        if (fclose(out) != 0 && st == FRZ_OK) st = frz_fail(FRZ_ERR_IO, "%s: write error", tmp);
        if (st == FRZ_OK && rename(tmp, m->path) != 0)
            st = frz_fail(FRZ_ERR_IO, "%s: cannot rename %s to it: %s", m->path, tmp, strerror(errno));
        if (st != FRZ_OK) unlink(tmp);
    }
    free(tmp);
    return st;
}

frz_status frz_metrics_open(const char *path, int64_t keep_until, frz_metrics **out)
{
    return frz_metrics_open_with(path, keep_until, FRZ_METRICS_HEADER, out);
}

frz_status frz_metrics_open_with(const char *path, int64_t keep_until, const char *header, frz_metrics **out)
{
    *out = NULL;
    frz_metrics *m = frz_calloc(1, sizeof *m, "metrics");
    if (!m) return FRZ_ERR_NOMEM;
    m->header = header;
    m->path = frz_strdup(path, "metrics path");
    frz_status st = m->path ? FRZ_OK : FRZ_ERR_NOMEM;
    int existed = 0;
    if (st == FRZ_OK && keep_until >= 0) st = reload(m, keep_until, &existed);
    if (st == FRZ_OK) {
        m->f = fopen(path, existed ? "ab" : "wb");
        if (!m->f) st = frz_fail(FRZ_ERR_IO, "%s: cannot open for writing: %s", path, strerror(errno));
    }
    if (st == FRZ_OK && !existed &&
        (fputs(header, m->f) == EOF || fputc('\n', m->f) == EOF || fflush(m->f) != 0))
        st = frz_fail(FRZ_ERR_IO, "%s: write error: %s", path, strerror(errno));
    if (st != FRZ_OK) {
        frz_metrics_close(m);
        return st;
    }
    *out = m;
    return FRZ_OK;
}

frz_status frz_metrics_read(const char *path, frz_metrics **out)
{
    *out = NULL;
    frz_metrics *m = frz_calloc(1, sizeof *m, "metrics");
    if (!m) return FRZ_ERR_NOMEM;
    m->path = frz_strdup(path, "metrics path");
    frz_status st = m->path ? FRZ_OK : FRZ_ERR_NOMEM;
    FILE *in = st == FRZ_OK ? fopen(path, "rb") : NULL;
    if (st == FRZ_OK && !in) st = frz_fail(FRZ_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    if (st == FRZ_OK) st = scan_rows(m, in, INT64_MAX, NULL, NULL);
    if (in) fclose(in);
    if (st != FRZ_OK) {
        frz_metrics_close(m);
        return st;
    }
    *out = m;
    return FRZ_OK;
}

frz_status frz_metrics_add(frz_metrics *m, int64_t step, int32_t epoch, float loss, double val_ppl,
                           double images_per_s, float lr)
{
    if (!m->f) return frz_fail(FRZ_ERR_INVALID_ARG, "%s: opened for reading only", m->path);
    char val[40] = "";
    if (val_ppl > 0) snprintf(val, sizeof val, "%.9g", val_ppl);
    if (fprintf(m->f, "%lld,%d,%.9g,%s,%.3f,%.9g\n", (long long)step, (int)epoch, (double)loss, val, images_per_s,
                (double)lr) < 0 ||
        fflush(m->f) != 0)
        return frz_fail(FRZ_ERR_IO, "%s: write error: %s", m->path, strerror(errno));
    return remember(m, step, loss, val_ppl);
}

frz_status frz_metrics_plot(const frz_metrics *m, const char *png_path)
{
    frz_plot_series loss = {m->step, m->loss, m->n}, val = {m->vstep, m->vloss, m->nv};
    return frz_plot_write(png_path, &loss, &val);
}

void frz_metrics_close(frz_metrics *m)
{
    if (!m) return;
    if (m->f) fclose(m->f);
    free(m->path);
    free(m->step);
    free(m->loss);
    free(m->vstep);
    free(m->vloss);
    free(m);
}
