/*
 * alloc.c — heap allocation with an injectable failure, for error-path tests.
 * Base layer: depends on nothing but libc.
 */
#include "base/alloc.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Test-only failure injection. Process-wide on purpose: it is a debugging
 * hook, never set outside tests, and reading it costs one compare. */
static long fail_countdown = -1;
static long attempts;

static int
should_fail(void)
{
    attempts++;
    if (fail_countdown < 0)
        return 0;
    if (fail_countdown == 0)
        return 1;
    fail_countdown--;
    return 0;
}

long
alloc_fail_after(long n)
{
    long seen = attempts;
    attempts = 0;
    fail_countdown = n;
    return seen;
}

void *
xmalloc(size_t n)
{
    if (should_fail())
        return NULL;
    return malloc(n ? n : 1);
}

void *
xcalloc(size_t count, size_t size)
{
    if (should_fail())
        return NULL;
    if (count == 0 || size == 0)
        count = size = 1;
    return calloc(count, size);
}

void *
xreallocarray(void *p, size_t count, size_t size)
{
    if (size && count > SIZE_MAX / size)
        return NULL;
    if (should_fail())
        return NULL;
    size_t n = count * size;
    return realloc(p, n ? n : 1);
}

void
xfree(void *p)
{
    free(p);
}

char *
xstrndup(const char *s, size_t n)
{
    char *d = xmalloc(n + 1);
    if (!d)
        return NULL;
    memcpy(d, s, n);
    d[n] = '\0';
    return d;
}

char *
xstrdup(const char *s)
{
    return xstrndup(s, strlen(s));
}
