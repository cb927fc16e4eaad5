/* report.c -- evaluation output that survives an interrupted run.
 *
 * Per-example results go to a JSONL file, one line per example, flushed as soon as it is written: a killed run
 * leaves every finished example on disk and at most one partial last line (cut off when the run is resumed).
 * The summaries (JSON, and Markdown tables with settings as rows and shot counts as columns) are rebuilt from
 * running totals and replaced atomically -- written to a temporary file, fsync'ed, renamed over the old one --
 * so a reader never sees a half-written summary. */
#include "eval/eval.h"
#include "eval/text.h"
#include "core/file.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Running totals of one table cell. */
typedef struct cell {
    char *task, *setting;
    int shots;
    double sum;
    size_t n;
} cell;

struct frz_eval_report {
    FILE *jsonl;
    char *jsonl_path, *summary_json, *summary_md;
    int summary_every, since_summary;
    cell *cells;
    size_t n_cells, cap_cells;
    char **keys; /* open-addressing set of "task\x1fsetting\x1fshots\x1fid" */
    size_t cap_keys, n_keys;
};

/* ---- the set of recorded examples -------------------------------------------------------------------- */

static uint64_t fnv1a(const char *s)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 0x100000001b3ull;
    return h;
}

static char *make_key(const char *task, const char *setting, int shots, const char *id)
{
    size_t n = strlen(task) + strlen(setting) + strlen(id) + 32;
    char *k = frz_malloc(n, "report key");
    if (k) snprintf(k, n, "%s\x1f%s\x1f%d\x1f%s", task, setting, shots, id);
    return k;
}

static size_t key_slot(char *const *keys, size_t cap, const char *key)
{
    size_t i = (size_t)(fnv1a(key) & (cap - 1));
    while (keys[i] && strcmp(keys[i], key) != 0) i = (i + 1) & (cap - 1);
    return i;
}

/* Inserts key (taking ownership). Returns 0 if it was already there (and frees it). */
static frz_status key_insert(frz_eval_report *r, char *key, int *inserted)
{
    *inserted = 0;
    if ((r->n_keys + 1) * 2 > r->cap_keys) {
        size_t cap = r->cap_keys ? r->cap_keys * 2 : 64;
        char **keys = frz_calloc(cap, sizeof *keys, "report key set");
        if (!keys) {
            free(key);
            return FRZ_ERR_NOMEM;
        }
        for (size_t i = 0; i < r->cap_keys; i++)
            if (r->keys[i]) keys[key_slot(keys, cap, r->keys[i])] = r->keys[i];
        free(r->keys);
        r->keys = keys;
        r->cap_keys = cap;
    }
    size_t i = key_slot(r->keys, r->cap_keys, key);
    if (r->keys[i]) {
        free(key);
        return FRZ_OK;
    }
    r->keys[i] = key;
    r->n_keys++;
    *inserted = 1;
    return FRZ_OK;
}

int frz_eval_report_done(const frz_eval_report *r, const char *task, const char *setting, int shots,
                         const char *id)
{
    if (!r->cap_keys) return 0;
    char *key = make_key(task, setting, shots, id);
    if (!key) return 0;
    int found = r->keys[key_slot(r->keys, r->cap_keys, key)] != NULL;
    free(key);
    return found;
}

/* ---- running totals ---------------------------------------------------------------------------------- */

static frz_status tally(frz_eval_report *r, const char *task, const char *setting, int shots, double score)
{
    size_t i = 0;
    while (i < r->n_cells && !(r->cells[i].shots == shots && strcmp(r->cells[i].task, task) == 0 &&
                               strcmp(r->cells[i].setting, setting) == 0))
        i++;
    if (i == r->n_cells) {
        if (r->n_cells == r->cap_cells) {
            size_t cap = r->cap_cells ? r->cap_cells * 2 : 8;
            cell *c = frz_realloc(r->cells, cap * sizeof *c, "report cells");
            if (!c) return FRZ_ERR_NOMEM;
            r->cells = c;
            r->cap_cells = cap;
        }
        cell *c = &r->cells[i];
        memset(c, 0, sizeof *c);
        c->task = frz_strdup(task, "report task");
        c->setting = frz_strdup(setting, "report setting");
        if (!c->task || !c->setting) {
            free(c->task);
            free(c->setting);
            return FRZ_ERR_NOMEM;
        }
        c->shots = shots;
        r->n_cells++;
    }
    r->cells[i].sum += score;
    r->cells[i].n++;
    return FRZ_OK;
}

/* ---- atomic file replacement ------------------------------------------------------------------------- */

static frz_status write_atomic(const char *path, const char *data, size_t len)
{
    size_t n = strlen(path) + 8;
    char *tmp = frz_malloc(n, "temporary file name");
    if (!tmp) return FRZ_ERR_NOMEM;
    snprintf(tmp, n, "%s.tmp", path);
    frz_status st = FRZ_OK;
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) st = frz_fail(FRZ_ERR_IO, "%s: cannot create: %s", tmp, strerror(errno));
    size_t done = 0;
    while (st == FRZ_OK && done < len) {
        ssize_t w = write(fd, data + done, len - done);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) st = frz_fail(FRZ_ERR_IO, "%s: write failed: %s", tmp, strerror(errno));
        else done += (size_t)w;
    }
    if (st == FRZ_OK && fsync(fd) != 0) st = frz_fail(FRZ_ERR_IO, "%s: fsync failed: %s", tmp, strerror(errno));
    if (fd >= 0 && close(fd) != 0 && st == FRZ_OK)
        st = frz_fail(FRZ_ERR_IO, "%s: close failed: %s", tmp, strerror(errno));
    if (st == FRZ_OK && rename(tmp, path) != 0)
        st = frz_fail(FRZ_ERR_IO, "%s: cannot replace with %s: %s", path, tmp, strerror(errno));
    if (st != FRZ_OK && fd >= 0) unlink(tmp);
    free(tmp);
    return st;
}

/* ---- summaries --------------------------------------------------------------------------------------- */

static int cmp_int(const void *a, const void *b)
{
    int x = *(const int *)a, y = *(const int *)b;
    return (x > y) - (x < y);
}

/* The summary JSON text: cells in first-seen order. */
static frz_status summary_json_text(const frz_eval_report *r, int complete, char **out)
{
    json_t *root = json_object(), *results = json_array();
    int ok = root && results && json_object_set_new(root, "format", json_string("libfrozen-eval-summary")) == 0 &&
             json_object_set_new(root, "version", json_integer(1)) == 0 &&
             json_object_set_new(root, "complete", json_boolean(complete)) == 0 &&
             json_object_set(root, "results", results) == 0;
    for (size_t i = 0; ok && i < r->n_cells; i++) {
        const cell *c = &r->cells[i];
        double mean = c->n ? c->sum / (double)c->n : 0.0;
        json_t *o = json_object();
        ok = o && json_object_set_new(o, "task", json_string(c->task)) == 0 &&
             json_object_set_new(o, "setting", json_string(c->setting)) == 0 &&
             json_object_set_new(o, "shots", json_integer(c->shots)) == 0 &&
             json_object_set_new(o, "n", json_integer((json_int_t)c->n)) == 0 &&
             json_object_set_new(o, "score", json_real(mean)) == 0 &&
             json_object_set_new(o, "percent", json_real(100.0 * mean)) == 0 && json_array_append(results, o) == 0;
        json_decref(o);
    }
    char *text = ok ? json_dumps(root, JSON_INDENT(2)) : NULL;
    json_decref(results);
    json_decref(root);
    if (!text) return frz_fail(FRZ_ERR_NOMEM, "summary JSON: out of memory");
    /* json_dumps allocates with malloc; hand back a copy made the library's way plus a final newline. */
    frz_sbuf b = {0};
    frz_status st = frz_sbuf_puts(&b, text);
    if (st == FRZ_OK) st = frz_sbuf_putc(&b, '\n');
    free(text);
    if (st == FRZ_OK) return frz_sbuf_take(&b, out);
    free(b.p);
    return st;
}

/* Appends a Markdown table cell's text: "29.50 (n=1000)" or "-". */
static frz_status md_cell(frz_sbuf *b, const frz_eval_report *r, const char *task, const char *setting, int shots)
{
    for (size_t i = 0; i < r->n_cells; i++) {
        const cell *c = &r->cells[i];
        if (c->shots == shots && strcmp(c->task, task) == 0 && strcmp(c->setting, setting) == 0) {
            char buf[64];
            snprintf(buf, sizeof buf, " %.2f (n=%zu) |", 100.0 * c->sum / (double)c->n, c->n);
            return frz_sbuf_puts(b, buf);
        }
    }
    return frz_sbuf_puts(b, " - |");
}

/* Table cells use text that cannot break the table. */
static frz_status md_text(frz_sbuf *b, const char *s)
{
    frz_status st = FRZ_OK;
    for (; *s && st == FRZ_OK; s++)
        st = *s == '|' ? frz_sbuf_puts(b, "\\|") : frz_sbuf_putc(b, *s == '\n' ? ' ' : *s);
    return st;
}

/* One table per task: rows = settings (first-seen order), columns = shot counts (ascending). */
static frz_status md_task(frz_sbuf *b, const frz_eval_report *r, const char *task, int *shots)
{
    size_t ns = 0;
    for (size_t i = 0; i < r->n_cells; i++) {
        if (strcmp(r->cells[i].task, task) != 0) continue;
        size_t k = 0;
        while (k < ns && shots[k] != r->cells[i].shots) k++;
        if (k == ns) shots[ns++] = r->cells[i].shots;
    }
    qsort(shots, ns, sizeof *shots, cmp_int);
    frz_status st = frz_sbuf_puts(b, "\n## ");
    if (st == FRZ_OK) st = md_text(b, task);
    if (st == FRZ_OK) st = frz_sbuf_puts(b, "\n\n| setting |");
    char buf[32];
    for (size_t k = 0; k < ns && st == FRZ_OK; k++) {
        snprintf(buf, sizeof buf, " %d-shot |", shots[k]);
        st = frz_sbuf_puts(b, buf);
    }
    if (st == FRZ_OK) st = frz_sbuf_puts(b, "\n| --- |");
    for (size_t k = 0; k < ns && st == FRZ_OK; k++) st = frz_sbuf_puts(b, " ---: |");
    if (st == FRZ_OK) st = frz_sbuf_putc(b, '\n');
    for (size_t i = 0; i < r->n_cells && st == FRZ_OK; i++) {
        const cell *c = &r->cells[i];
        if (strcmp(c->task, task) != 0) continue;
        size_t j = 0; /* a setting's row is written at its first cell */
        while (j < i && !(strcmp(r->cells[j].task, task) == 0 && strcmp(r->cells[j].setting, c->setting) == 0)) j++;
        if (j < i) continue;
        st = frz_sbuf_puts(b, "| ");
        if (st == FRZ_OK) st = md_text(b, c->setting);
        if (st == FRZ_OK) st = frz_sbuf_puts(b, " |");
        for (size_t k = 0; k < ns && st == FRZ_OK; k++) st = md_cell(b, r, task, c->setting, shots[k]);
        if (st == FRZ_OK) st = frz_sbuf_putc(b, '\n');
    }
    return st;
}

static frz_status summary_md_text(const frz_eval_report *r, int complete, char **out)
{
    frz_sbuf b = {0};
    int *shots = frz_malloc((r->n_cells ? r->n_cells : 1) * sizeof *shots, "report columns");
    if (!shots) return FRZ_ERR_NOMEM;
    size_t total = 0;
    for (size_t i = 0; i < r->n_cells; i++) total += r->cells[i].n;
    char head[128];
    snprintf(head, sizeof head, "# Evaluation results\n\nScores in percent (n = examples). %s: %zu examples.\n",
             complete ? "Complete" : "In progress", total);
    frz_status st = frz_sbuf_puts(&b, head);
    for (size_t i = 0; i < r->n_cells && st == FRZ_OK; i++) {
        size_t j = 0;
        while (j < i && strcmp(r->cells[j].task, r->cells[i].task) != 0) j++;
        if (j == i) st = md_task(&b, r, r->cells[i].task, shots);
    }
    free(shots);
    if (st == FRZ_OK) return frz_sbuf_take(&b, out);
    free(b.p);
    return st;
}

static frz_status write_summaries(frz_eval_report *r, int complete)
{
    frz_status st = FRZ_OK;
    char *text = NULL;
    if (r->summary_json) {
        st = summary_json_text(r, complete, &text);
        if (st == FRZ_OK) st = write_atomic(r->summary_json, text, strlen(text));
        free(text);
        text = NULL;
    }
    if (st == FRZ_OK && r->summary_md) {
        st = summary_md_text(r, complete, &text);
        if (st == FRZ_OK) st = write_atomic(r->summary_md, text, strlen(text));
        free(text);
    }
    if (st == FRZ_OK) r->since_summary = 0;
    return st;
}

frz_status frz_eval_report_write_summary(frz_eval_report *r) { return write_summaries(r, 0); }

/* ---- resuming ---------------------------------------------------------------------------------------- */

/* Counts one line of an existing JSONL. */
static frz_status resume_line(frz_eval_report *r, const char *line, size_t n, size_t lineno)
{
    json_error_t err;
    json_t *o = json_loadb(line, n, 0, &err);
    if (!o)
        return frz_fail(FRZ_ERR_FORMAT, "%s: line %zu column %d: %s (not a report line; not resuming)",
                        r->jsonl_path, lineno, err.column, err.text);
    const char *task = json_string_value(json_object_get(o, "task"));
    const char *setting = json_string_value(json_object_get(o, "setting"));
    const char *id = json_string_value(json_object_get(o, "id"));
    const json_t *shots = json_object_get(o, "shots"), *score = json_object_get(o, "score");
    frz_status st = FRZ_OK;
    if (!task || !setting || !id || !json_is_integer(shots) || !json_is_number(score)) {
        st = frz_fail(FRZ_ERR_FORMAT, "%s: line %zu: needs task, setting, id (strings), shots (integer) and score",
                      r->jsonl_path, lineno);
    } else {
        int inserted;
        char *key = make_key(task, setting, (int)json_integer_value(shots), id);
        st = key ? key_insert(r, key, &inserted) : FRZ_ERR_NOMEM;
        if (st == FRZ_OK && inserted)
            st = tally(r, task, setting, (int)json_integer_value(shots), json_number_value(score));
    }
    json_decref(o);
    return st;
}

/* Reads back the complete lines of an existing JSONL and cuts off a partial last line. */
static frz_status resume(frz_eval_report *r)
{
    if (access(r->jsonl_path, F_OK) != 0) return FRZ_OK; /* nothing to resume */
    char *buf;
    size_t len;
    frz_status st = frz_read_file(r->jsonl_path, &buf, &len);
    if (st != FRZ_OK) return st;
    size_t keep = len;
    while (keep > 0 && buf[keep - 1] != '\n') keep--;
    size_t pos = 0, lineno = 0;
    while (st == FRZ_OK && pos < keep) {
        size_t end = pos;
        while (buf[end] != '\n') end++;
        lineno++;
        if (end > pos) st = resume_line(r, buf + pos, end - pos, lineno);
        pos = end + 1;
    }
    free(buf);
    if (st == FRZ_OK && keep < len) {
        frz_log(FRZ_LOG_WARN, "%s: dropping a partial last line (%zu bytes) left by an interrupted run",
                r->jsonl_path, len - keep);
        if (truncate(r->jsonl_path, (off_t)keep) != 0)
            st = frz_fail(FRZ_ERR_IO, "%s: cannot cut off the partial last line: %s", r->jsonl_path, strerror(errno));
    }
    return st;
}

/* ---- open / add / close ------------------------------------------------------------------------------ */

static void report_free(frz_eval_report *r)
{
    if (r->jsonl) fclose(r->jsonl);
    free(r->jsonl_path);
    free(r->summary_json);
    free(r->summary_md);
    for (size_t i = 0; i < r->n_cells; i++) {
        free(r->cells[i].task);
        free(r->cells[i].setting);
    }
    free(r->cells);
    for (size_t i = 0; i < r->cap_keys; i++) free(r->keys[i]);
    free(r->keys);
    free(r);
}

static frz_status dup_opt(const char *s, char **out)
{
    *out = NULL;
    if (!s) return FRZ_OK;
    *out = frz_strdup(s, "report path");
    return *out ? FRZ_OK : FRZ_ERR_NOMEM;
}

frz_status frz_eval_report_open(const char *jsonl_path, const char *summary_json, const char *summary_md,
                                unsigned flags, int summary_every, frz_eval_report **out)
{
    *out = NULL;
    if (summary_every < 1) return frz_fail(FRZ_ERR_INVALID_ARG, "report: summary_every must be >= 1");
    frz_eval_report *r = frz_calloc(1, sizeof *r, "report");
    if (!r) return FRZ_ERR_NOMEM;
    r->summary_every = summary_every;
    frz_status st = dup_opt(jsonl_path, &r->jsonl_path);
    if (st == FRZ_OK) st = dup_opt(summary_json, &r->summary_json);
    if (st == FRZ_OK) st = dup_opt(summary_md, &r->summary_md);
    if (st == FRZ_OK && (flags & FRZ_EVAL_REPORT_RESUME)) st = resume(r);
    if (st == FRZ_OK) {
        r->jsonl = fopen(jsonl_path, (flags & FRZ_EVAL_REPORT_RESUME) ? "a" : "w");
        if (!r->jsonl) st = frz_fail(FRZ_ERR_IO, "%s: cannot open for writing: %s", jsonl_path, strerror(errno));
    }
    if (st == FRZ_OK) st = write_summaries(r, 0);
    if (st != FRZ_OK) {
        report_free(r);
        return st;
    }
    *out = r;
    return FRZ_OK;
}

/* A JSON string of UTF-8-repaired text (generated text may end inside a character). */
static json_t *jstr(const char *s)
{
    char *fixed;
    if (frz_utf8_repair(s, strlen(s), &fixed) != FRZ_OK) return NULL;
    json_t *v = json_string(fixed);
    free(fixed);
    return v;
}

/* Sets key to a new value; a NULL value (allocation failure) makes it fail. */
static int set_new(json_t *o, const char *key, json_t *v) { return v && json_object_set_new(o, key, v) == 0; }

static frz_status record_line(const frz_eval_record *rec, char **out)
{
    *out = NULL;
    char *prompt = NULL;
    json_t *images = json_array(), *answers = json_array(), *o = json_object();
    frz_status st = rec->prompt ? frz_eval_prompt_render(rec->prompt, "<image>", &prompt) : FRZ_OK;
    int ok = st == FRZ_OK && images && answers && o;
    for (size_t i = 0; ok && rec->prompt && i < rec->prompt->n; i++)
        if (rec->prompt->segs[i].kind == FRZ_EVAL_SEG_IMAGE) {
            json_t *v = jstr(rec->prompt->segs[i].image_path);
            ok = v && json_array_append_new(images, v) == 0;
        }
    for (size_t i = 0; ok && i < rec->n_answers; i++) {
        json_t *v = jstr(rec->answers[i]);
        ok = v && json_array_append_new(answers, v) == 0;
    }
    ok = ok && set_new(o, "task", jstr(rec->task)) && set_new(o, "setting", jstr(rec->setting)) &&
         set_new(o, "shots", json_integer(rec->shots)) && set_new(o, "id", jstr(rec->id)) &&
         set_new(o, "prompt", prompt ? jstr(prompt) : json_null()) && json_object_set(o, "images", images) == 0 &&
         set_new(o, "generation", jstr(rec->generation)) && json_object_set(o, "answers", answers) == 0 &&
         set_new(o, "score", json_real(rec->score)) &&
         (!rec->binary || set_new(o, "correct", json_boolean(rec->score == 1.0)));
    char *text = ok ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(images);
    json_decref(answers);
    json_decref(o);
    free(prompt);
    if (st != FRZ_OK) return st;
    if (!text) return frz_fail(FRZ_ERR_NOMEM, "report line: out of memory");
    *out = text;
    return FRZ_OK;
}

frz_status frz_eval_report_add(frz_eval_report *r, const frz_eval_record *rec)
{
    if (!rec->task || !rec->setting || !rec->id || !rec->generation || (rec->n_answers && !rec->answers))
        return frz_fail(FRZ_ERR_INVALID_ARG, "report: a record needs task, setting, id and generation");
    char *key = make_key(rec->task, rec->setting, rec->shots, rec->id);
    if (!key) return FRZ_ERR_NOMEM;
    if (frz_eval_report_done(r, rec->task, rec->setting, rec->shots, rec->id)) {
        free(key);
        return frz_fail(FRZ_ERR_INVALID_ARG, "%s: example %s (%s, %s, %d shots) is already recorded", r->jsonl_path,
                        rec->id, rec->task, rec->setting, rec->shots);
    }
    char *line;
    frz_status st = record_line(rec, &line);
    if (st != FRZ_OK) {
        free(key);
        return st;
    }
    /* The line first: the totals only count what is on disk. */
    size_t n = strlen(line);
    int ok = fwrite(line, 1, n, r->jsonl) == n && fputc('\n', r->jsonl) != EOF && fflush(r->jsonl) == 0;
    free(line); /* json_dumps' malloc */
    if (!ok) {
        free(key);
        return frz_fail(FRZ_ERR_IO, "%s: write failed: %s", r->jsonl_path, strerror(errno));
    }
    int inserted;
    st = key_insert(r, key, &inserted);
    if (st == FRZ_OK) st = tally(r, rec->task, rec->setting, rec->shots, rec->score);
    if (st == FRZ_OK && ++r->since_summary >= r->summary_every) st = write_summaries(r, 0);
    return st;
}

static frz_status close_report(frz_eval_report *r, int complete)
{
    if (!r) return FRZ_OK;
    frz_status st = write_summaries(r, complete);
    if (r->jsonl && fclose(r->jsonl) != 0 && st == FRZ_OK)
        st = frz_fail(FRZ_ERR_IO, "%s: close failed: %s", r->jsonl_path, strerror(errno));
    r->jsonl = NULL;
    report_free(r);
    return st;
}

frz_status frz_eval_report_close(frz_eval_report *r) { return close_report(r, 1); }
frz_status frz_eval_report_close_incomplete(frz_eval_report *r) { return close_report(r, 0); }
