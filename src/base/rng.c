/*
 * rng.c — random bytes from the kernel and the splitmix64 step (rng.h).
 * Base layer: libc and one system call, no state of its own.
 */
#include "base/rng.h"

#include <errno.h>
#include <sys/random.h>

/* getrandom(2) returns at most this many bytes per call from the urandom
 * source; larger requests are looped. */
#define RNG_MAX_CHUNK (32u * 1024 * 1024)

int
rng_bytes(void *buf, size_t len)
{
    unsigned char *p = buf;
    size_t got = 0;
    while (got < len) {
        size_t want = len - got < RNG_MAX_CHUNK ? len - got : RNG_MAX_CHUNK;
        ssize_t r = getrandom(p + got, want, 0);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return -errno;
        if (r == 0)
            return -EIO;
        got += (size_t)r;
    }
    return 0;
}

uint64_t
rng_next(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}
