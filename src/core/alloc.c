/* alloc.c -- checked allocation with a fault-injection hook for tests. */
#include "core/core.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

static atomic_long alloc_count;
static atomic_long fail_at;

void frz_test_fail_alloc_at(long index)
{
    atomic_store(&alloc_count, 0);
    atomic_store(&fail_at, index);
}

long frz_test_alloc_count(void) { return atomic_load(&alloc_count); }

/* True when this allocation must fail (test hook). */
static int injected_failure(void)
{
    long n = atomic_fetch_add(&alloc_count, 1) + 1;
    long k = atomic_load(&fail_at);
    return k > 0 && n == k;
}

int frz_mul_size(size_t a, size_t b, size_t *out)
{
    if (a != 0 && b > (size_t)-1 / a) return 0;
    *out = a * b;
    return 1;
}

void *frz_malloc(size_t size, const char *what)
{
    void *p = injected_failure() ? NULL : malloc(size ? size : 1);
    if (!p) frz_fail(FRZ_ERR_NOMEM, "out of memory allocating %zu bytes for %s", size, what);
    return p;
}

void *frz_calloc(size_t count, size_t size, const char *what)
{
    size_t total;
    if (!frz_mul_size(count, size, &total)) {
        frz_fail(FRZ_ERR_NOMEM, "size overflow allocating %zu x %zu bytes for %s", count, size, what);
        return NULL;
    }
    void *p = injected_failure() ? NULL : calloc(total ? count : 1, total ? size : 1);
    if (!p) frz_fail(FRZ_ERR_NOMEM, "out of memory allocating %zu bytes for %s", total, what);
    return p;
}

void *frz_realloc(void *ptr, size_t size, const char *what)
{
    void *p = injected_failure() ? NULL : realloc(ptr, size ? size : 1);
    if (!p) frz_fail(FRZ_ERR_NOMEM, "out of memory reallocating %zu bytes for %s", size, what);
    return p;
}

char *frz_strdup(const char *s, const char *what)
{
    size_t n = strlen(s) + 1;
    char *p = frz_malloc(n, what);
    if (p) memcpy(p, s, n);
    return p;
}
