/*
 * alloc.c — heap allocation with an injectable failure, for error-path tests.
 * Base layer: depends on nothing but libc.
 */
#include "base/alloc.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/*
 * Test-only failure injection, one countdown per thread. A test arms it and
 * then counts on the Nth allocation *of its own thread* failing, while other
 * sessions may run their loops on other threads of the same process
 * (tests/unit/test_sessions.c). Thread-local counters keep that count exact
 * and free of data races; a shared atomic counter would be race-free too, but
 * another thread's allocations would then use up the countdown and fail
 * allocations the test never meant to touch. The cost: allocations on threads
 * the test did not arm never fail, which suits the library, whose worker
 * threads (disk pool, torrent hashing) allocate nothing through this file.
 */
static _Thread_local long fail_countdown = -1;
static _Thread_local long attempts;

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
