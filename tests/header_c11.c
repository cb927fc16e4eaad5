/* header_c11.c -- frozen.h is plain C11: this file includes nothing else of the library, compiles with
 * -std=c11 -pedantic -Werror, links to the shared library, and checks a few calls that need no model. */
#include "frozen.h"

#include <stdio.h>
#include <string.h>

static int failures;
#define EXPECT(cond)                                                       \
    do {                                                                   \
        if (!(cond)) { printf("header_c11: FAILED %s\n", #cond); failures++; } \
    } while (0)

int main(void)
{
    EXPECT(frz_version_number() == FRZ_VERSION_NUMBER);
    EXPECT(FRZ_CHECK_VERSION() == FRZ_OK);
    EXPECT(strcmp(frz_version_string(), FRZ_VERSION_STRING) == 0);
    EXPECT(strcmp(frz_strerror(FRZ_OK), frz_strerror(FRZ_ERR_IO)) != 0);
    EXPECT(frz_strerror((frz_status)999) != NULL);
    frz_lm *lm = NULL;
    EXPECT(frz_lm_load("/nonexistent/model/dir", &lm) == FRZ_ERR_IO);
    EXPECT(lm == NULL);
    EXPECT(strstr(frz_last_error(), "/nonexistent/model/dir") != NULL);
    frz_lm_free(NULL);
    frz_session_free(NULL);
    EXPECT(frz_lm_get(NULL, FRZ_LM_N_EMBD) == -1);
    frz_generate_params gp;
    frz_generate_params_init(&gp);
    EXPECT(gp.struct_size == sizeof gp);
    EXPECT(frz_blas_corename() != NULL);
    if (failures == 0) printf("header_c11: all checks passed\n");
    return failures ? 1 : 0;
}
