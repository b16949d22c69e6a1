/*
 * alloc.h — the one allocation wrapper of libshoal. Base layer.
 *
 * Every heap allocation in the library goes through these functions so that
 * tests can make the Nth allocation fail and check that each error path
 * cleans up (tests/unit/test_bencode.c, test_metainfo.c, test_picker.c,
 * test_disk.c and the other unit tests that call alloc_fail_after). Nothing
 * else calls malloc.
 */
#ifndef SHOAL_ALLOC_H
#define SHOAL_ALLOC_H

#include <stddef.h>

void *xmalloc(size_t n);
void *xcalloc(size_t count, size_t size);
/* Like realloc, but count * size is checked for overflow (NULL on overflow). */
void *xreallocarray(void *p, size_t count, size_t size);
void xfree(void *p);
/* Copies s (or its first n bytes) into a new NUL-terminated string. */
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);

/*
 * Test hook: after `n` more successful allocations on the calling thread,
 * every allocation on that thread fails until the hook is reset with a
 * negative n. Other threads are not affected. Returns how many allocations
 * the calling thread attempted since its last call.
 */
long alloc_fail_after(long n);

#endif
