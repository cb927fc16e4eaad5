/* version.c -- the version of the library actually linked. */
#include "core/core.h"

unsigned frz_version_number(void) { return FRZ_VERSION_NUMBER; }
const char *frz_version_string(void) { return FRZ_VERSION_STRING; }
