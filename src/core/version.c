/* version.c -- the version of the library actually linked, and the header/library compatibility check. */
#include "core/core.h"

unsigned frz_version_number(void) { return FRZ_VERSION_NUMBER; }
const char *frz_version_string(void) { return FRZ_VERSION_STRING; }

/* The policy of docs/abi.md: a major version is one ABI (the soname's number); minor versions only add, so a
 * library serves every header of its major whose minor is not newer than its own. */
frz_status frz_version_check(unsigned header_version)
{
    unsigned major = header_version / 10000, minor = header_version / 100 % 100, patch = header_version % 100;
    if (major == FRZ_VERSION_MAJOR && minor <= FRZ_VERSION_MINOR) return FRZ_OK;
    const char *why = major != FRZ_VERSION_MAJOR ? "another major version (ABI)"
                                                 : "the header is newer than the library and may use API it lacks";
    return frz_fail(FRZ_ERR_UNSUPPORTED,
                    "libfrozen %s loaded, but the program was compiled with frozen.h %u.%u.%u: %s; rebuild it "
                    "against the installed header or install libfrozen >= %u.%u with soname libfrozen.so.%u",
                    FRZ_VERSION_STRING, major, minor, patch, why, major, minor, major);
}
