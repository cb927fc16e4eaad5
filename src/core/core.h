/* core.h -- what every part of the library shares: status/error reporting, logging, checked allocation.
 * Internal; the public API is include/frozen.h. */
#ifndef FRZ_CORE_H
#define FRZ_CORE_H

#ifndef FRZ_BUILDING
#define FRZ_BUILDING 1
#endif
#include "frozen.h"

#include <stdarg.h>
#include <stddef.h>

#if defined(__GNUC__)
#define FRZ_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define FRZ_PRINTF(a, b)
#endif

/* Records a detailed message for the calling thread (frz_last_error) and returns code, so a failure reads
 *     return frz_fail(FRZ_ERR_FORMAT, "%s: tensor '%s': ...", path, name);                                  */
frz_status frz_fail(frz_status code, const char *fmt, ...) FRZ_PRINTF(2, 3);

/* Prefixes the thread's current error message with more context ("loading gpt2/: " + message) and returns code. */
frz_status frz_fail_prefix(frz_status code, const char *fmt, ...) FRZ_PRINTF(2, 3);

/* Sends one line to the host's log callback, if any is set for this level. */
void frz_log(frz_log_level level, const char *fmt, ...) FRZ_PRINTF(2, 3);

/* Checked allocation: on failure they record FRZ_ERR_NOMEM with `what` in the thread's message and return NULL.
 * Sizes are checked for overflow (count * size). All library allocations go through these so tests can inject
 * a failure at the k-th allocation (frz_test_fail_alloc_at). Free with free(). */
void *frz_malloc(size_t size, const char *what);
void *frz_calloc(size_t count, size_t size, const char *what);
void *frz_realloc(void *ptr, size_t size, const char *what);
char *frz_strdup(const char *s, const char *what);

/* Test hook (not exported from the shared library): when > 0, the allocation with this 1-based index, counted
 * from the moment it is set, fails. 0 disables. frz_test_alloc_count() tells how many allocations were made. */
void frz_test_fail_alloc_at(long index);
long frz_test_alloc_count(void);

/* Parameter structs begin with `size_t struct_size` and only ever grow at the end (frozen.h). dst holds the
 * library's defaults (full_size bytes); the caller's first struct_size bytes replace them, so members a caller's
 * older struct lacks keep their defaults, and dst's struct_size becomes full_size. user may be NULL (all
 * defaults). fn and init_fn name the public function and the _init to call when struct_size is too small to
 * be real. */
frz_status frz_params_merge(void *dst, size_t full_size, const void *user, const char *fn, const char *init_fn);

/* The other half of that rule, for the *_init_size functions: the caller's struct gets the first
 * min(size, full_size) bytes of `full` (the library's defaults) and struct_size = that many bytes, so an older
 * caller's smaller struct is never written past its end. A size too small to hold struct_size writes nothing. */
void frz_params_init_copy(void *dst, size_t size, const void *full, size_t full_size);

/* Output structs (progress reports) the same way round: the caller's struct_size says how many bytes it has; the
 * first min(struct_size, full_size) bytes of `full` are copied and struct_size becomes that count, so a caller
 * compiled against a newer header (a longer struct) gets the members this library knows and learns which.
 * FRZ_ERR_INVALID_ARG naming fn when struct_size cannot be real. */
frz_status frz_params_copy_out(void *out, const void *full, size_t full_size, const char *fn);

/* Defines NAME_size (T *p, size_t size) from NAME (T *p), the function that fills a whole T with defaults.
 * NAME is parenthesised because frozen.h makes it a macro that calls NAME_size with sizeof *(p). */
#define FRZ_DEFINE_INIT_SIZE(NAME, T)                                                                         \
    void NAME##_size(T *p, size_t size)                                                                       \
    {                                                                                                        \
        T full;                                                                                              \
        (NAME)(&full);                                                                                       \
        frz_params_init_copy(p, size, &full, sizeof full);                                                   \
    }

/* Seconds on the monotonic clock (for rates and ETAs, never for results). */
double frz_monotonic_s(void);

/* size_t multiplication with overflow detection: returns 0 and leaves *out unset on overflow. */
int frz_mul_size(size_t a, size_t b, size_t *out);

/* Number of threads to use for a parallel region given a session's setting (>= 1). */
#define FRZ_MIN(a, b) ((a) < (b) ? (a) : (b))
#define FRZ_MAX(a, b) ((a) > (b) ? (a) : (b))

#endif
