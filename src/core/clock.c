/* clock.c -- the monotonic clock the training loops time their steps with. */
#include "core/core.h"

#include <time.h>

double frz_monotonic_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}
