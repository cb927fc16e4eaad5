/* params.c -- reading a caller's parameter struct of any (older or newer) size. */
#include "core/core.h"

#include <string.h>

frz_status frz_params_merge(void *dst, size_t full_size, const void *user, const char *fn, const char *init_fn)
{
    if (!user) return FRZ_OK;
    size_t user_size;
    memcpy(&user_size, user, sizeof user_size);
    if (user_size < sizeof user_size)
        return frz_fail(FRZ_ERR_INVALID_ARG, "%s: params->struct_size is %zu; call %s first",
                        fn, user_size, init_fn);
    memcpy(dst, user, user_size < full_size ? user_size : full_size);
    memcpy(dst, &full_size, sizeof full_size);
    return FRZ_OK;
}

/* The first min(size, full_size) bytes of full into dst, whose struct_size becomes that count. */
static void copy_prefix(void *dst, size_t size, const void *full, size_t full_size)
{
    const size_t n = size < full_size ? size : full_size;
    memcpy(dst, full, n);
    memcpy(dst, &n, sizeof n);
}

void frz_params_init_copy(void *dst, size_t size, const void *full, size_t full_size)
{
    if (dst && size >= sizeof(size_t)) copy_prefix(dst, size, full, full_size);
}

frz_status frz_params_copy_out(void *out, const void *full, size_t full_size, const char *fn)
{
    size_t size;
    memcpy(&size, out, sizeof size);
    if (size < sizeof size)
        return frz_fail(FRZ_ERR_INVALID_ARG, "%s: out->struct_size is %zu; set it to the sizeof of your struct", fn,
                        size);
    copy_prefix(out, size, full, full_size);
    return FRZ_OK;
}
