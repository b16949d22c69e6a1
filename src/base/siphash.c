/*
 * siphash.c — SipHash-c-d over a byte string with a 128-bit key. Base layer.
 *
 * The state lives in four locals and the rounds are a macro, so that the
 * compiler keeps it all in registers: the tracker hashes an infohash, a
 * peer address and a connection id for every announce.
 */
#include "base/siphash.h"

static inline uint64_t
rotl(uint64_t x, int b)
{
    return (x << b) | (x >> (64 - b));
}

/* Little-endian load of 8 bytes: compilers turn this into one move. */
static inline uint64_t
le64(const uint8_t *p)
{
    return (uint64_t)p[0] | (uint64_t)p[1] << 8 | (uint64_t)p[2] << 16 |
           (uint64_t)p[3] << 24 | (uint64_t)p[4] << 32 | (uint64_t)p[5] << 40 |
           (uint64_t)p[6] << 48 | (uint64_t)p[7] << 56;
}

#define SIPROUND                                                                         \
    do {                                                                                 \
        v0 += v1;                                                                        \
        v1 = rotl(v1, 13);                                                               \
        v1 ^= v0;                                                                        \
        v0 = rotl(v0, 32);                                                               \
        v2 += v3;                                                                        \
        v3 = rotl(v3, 16);                                                               \
        v3 ^= v2;                                                                        \
        v0 += v3;                                                                        \
        v3 = rotl(v3, 21);                                                               \
        v3 ^= v0;                                                                        \
        v2 += v1;                                                                        \
        v1 = rotl(v1, 17);                                                               \
        v1 ^= v2;                                                                        \
        v2 = rotl(v2, 32);                                                               \
    } while (0)

/* c and d are constants at every call, so the round loops unroll. */
static inline uint64_t
siphash(uint64_t k0, uint64_t k1, const uint8_t *p, size_t n, int c, int d)
{
    uint64_t v0 = k0 ^ 0x736f6d6570736575ull, v1 = k1 ^ 0x646f72616e646f6dull;
    uint64_t v2 = k0 ^ 0x6c7967656e657261ull, v3 = k1 ^ 0x7465646279746573ull;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t m = le64(p + i);
        v3 ^= m;
        for (int r = 0; r < c; r++)
            SIPROUND;
        v0 ^= m;
    }
    uint64_t last = (uint64_t)n << 56;
    for (size_t j = 0; i + j < n; j++)
        last |= (uint64_t)p[i + j] << (8 * j);
    v3 ^= last;
    for (int r = 0; r < c; r++)
        SIPROUND;
    v0 ^= last;
    v2 ^= 0xff;
    for (int r = 0; r < d; r++)
        SIPROUND;
    return v0 ^ v1 ^ v2 ^ v3;
}

uint64_t
siphash13(uint64_t k0, uint64_t k1, const void *p, size_t n)
{
    return siphash(k0, k1, p, n, 1, 3);
}

uint64_t
siphash24(uint64_t k0, uint64_t k1, const void *p, size_t n)
{
    return siphash(k0, k1, p, n, 2, 4);
}
