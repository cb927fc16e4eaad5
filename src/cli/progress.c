/* progress.c -- the step progress of `frozen train` and `frozen pretrain` on stderr: on a terminal one line
 * redrawn in place behind a bar, kept on the screen at validations; otherwise plain lines the caller chooses when
 * to print. The ETA counts from the first step this process saw (a resumed run starts past 1). */
#include "cli.h"

#include <stdio.h>
#include <unistd.h>

void cli_step_bar_init(cli_step_bar *b)
{
    b->tty = isatty(STDERR_FILENO);
    b->open = 0;
    b->started = 0;
    b->first_step = 0;
}

/* m:ss or h:mm:ss, "?" when unknown. */
static void fmt_duration(char *buf, size_t cap, double s)
{
    if (!(s >= 0) || s > 1e8) {
        snprintf(buf, cap, "?");
        return;
    }
    long t = (long)(s + 0.5);
    if (t >= 3600) snprintf(buf, cap, "%ld:%02ld:%02ld", t / 3600, t / 60 % 60, t % 60);
    else snprintf(buf, cap, "%ld:%02ld", t / 60, t % 60);
}

void cli_step_bar_eta(cli_step_bar *b, int64_t step, int64_t total, double elapsed_s, char *buf, size_t cap)
{
    if (!b->started) {
        b->first_step = step - 1;
        b->started = 1;
    }
    const int64_t done = step - b->first_step;
    fmt_duration(buf, cap, done > 0 ? elapsed_s / (double)done * (double)(total - step) : -1.0);
}

void cli_step_bar_print(cli_step_bar *b, int64_t step, int64_t total, const char *text, int keep)
{
    if (b->tty) {
        enum { WIDTH = 24 };
        const int filled = total > 0 ? (int)((double)step / (double)total * WIDTH) : 0;
        char cells[WIDTH + 1];
        for (int i = 0; i < WIDTH; i++) cells[i] = i < filled ? '#' : '.';
        cells[WIDTH] = '\0';
        fprintf(stderr, "\r[%s] %s\033[K", cells, text);
        b->open = !keep;
        if (keep) fputc('\n', stderr);
    } else {
        fprintf(stderr, "%s\n", text);
    }
    fflush(stderr);
}

void cli_step_bar_end(cli_step_bar *b)
{
    if (b->open) fputc('\n', stderr);
    b->open = 0;
}
