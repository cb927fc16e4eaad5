/* common.h -- what the four examples share: stop with the library's message when a call fails, and the
 * start-up check that the libfrozen loaded at run time suits the frozen.h the example was compiled with. */
#ifndef FRZ_EXAMPLE_COMMON_H
#define FRZ_EXAMPLE_COMMON_H

#include <frozen.h>

#include <stdio.h>
#include <stdlib.h>

/* Every fallible call returns a frz_status; frz_strerror names the kind, frz_last_error the details (the file,
 * tensor, field or byte offset at fault). The examples simply stop; the OS frees what they hold. */
static inline void check(frz_status st, const char *what)
{
    if (st == FRZ_OK) return;
    fprintf(stderr, "%s: %s: %s\n", what, frz_strerror(st), frz_last_error());
    exit(1);
}

/* Header 0.3 against library 0.2 would call functions the library lacks: refuse at once, saying so. */
static inline void check_library_version(void)
{
    check(FRZ_CHECK_VERSION(), "libfrozen version");
}

#endif
