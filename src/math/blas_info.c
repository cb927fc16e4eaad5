/* blas_info.c -- which OpenBLAS kernel runs, and advice when it is the slow generic one. */
#include "core/core.h"
#include "math/blas.h"

#include <string.h>

/* Provided by OpenBLAS (declared in its cblas.h on Debian, but not in every cblas.h). */
extern char *openblas_get_corename(void);
extern void openblas_set_num_threads(int num_threads);
extern int openblas_get_num_threads(void);

const char *frz_blas_corename(void)
{
    const char *name = openblas_get_corename();
    return name ? name : "unknown";
}

/* Kernels OpenBLAS falls back to on CPUs it does not recognise; all lack AVX2 code paths. */
static int is_pre_avx2_core(const char *name)
{
    static const char *const old[] = {"Prescott", "Core2", "Penryn", "Dunnington", "Nehalem", "Atom",
                                      "Katmai", "Coppermine", "Northwood", "Banias", "Sandybridge"};
    for (size_t i = 0; i < sizeof old / sizeof old[0]; i++)
        if (strcmp(name, old[i]) == 0) return 1;
    return 0;
}

const char *frz_blas_advice(void)
{
    const char *core = frz_blas_corename();
    if (!is_pre_avx2_core(core)) return NULL;
#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f"))
        return "OpenBLAS runs a generic pre-AVX2 kernel on a CPU with AVX-512: matrix products are about 5x "
               "slower than they could be; set OPENBLAS_CORETYPE=SkylakeX in the environment";
    if (__builtin_cpu_supports("avx2"))
        return "OpenBLAS runs a generic pre-AVX2 kernel on a CPU with AVX2: matrix products are several "
               "times slower than they could be; set OPENBLAS_CORETYPE=Haswell in the environment";
#endif
    return NULL;
}

/* Compared with OpenBLAS's own current value, not a cached one: the host may change it between our calls, and the
 * products run inside OpenMP regions that need it at 1 (math/matmul.c). */
void frz_blas_set_threads(int n_threads)
{
    if (n_threads < 1) n_threads = 1;
    if (openblas_get_num_threads() != n_threads) openblas_set_num_threads(n_threads);
}
