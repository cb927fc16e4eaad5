/* info.c -- `frozen info`: versions, the BLAS kernel in use, threads available, and advice on a slow kernel. */
#include "cli.h"

#include <stdio.h>
#include <stdlib.h>

static const cli_command command = {
    "info",
    "usage: frozen info\n"
    "\n"
    "Prints the library version (run time, and the header the tool was built with), the OpenBLAS core in use,\n"
    "the processors online, and a warning naming the fix when OpenBLAS runs a slow generic kernel on this CPU\n"
    "(for example: set OPENBLAS_CORETYPE=SkylakeX, or Haswell, in the environment).\n"
    "\n"
    "  -v, --verbose    library info/debug messages on stderr\n"
    "  -h, --help       this help\n",
    NULL, 0,
};

static int on_option(void *ctx, size_t index, const char *value)
{
    (void)ctx, (void)index, (void)value;
    return CLI_OK;
}

int cmd_info(int argc, char **argv)
{
    int rc = cli_parse_options(&command, argc, argv, on_option, NULL);
    if (rc != CLI_OK) return rc;

    printf("frozen %s (header %s)\n", frz_version_string(), FRZ_VERSION_STRING);
    printf("blas core: %s\n", frz_blas_corename());
    printf("threads available: %d\n", cli_nproc());
    const char *advice = frz_blas_advice();
    if (advice) printf("warning: %s\n", advice);
    return CLI_OK;
}
