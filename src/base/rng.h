/*
 * rng.h — randomness: bytes from the operating system, and the splitmix64
 * step every module uses for cheap, seeded pseudo-random numbers.
 * Base layer.
 *
 * rng_bytes() is for seeds and keys (hash keys, peer ids, the first state of
 * a generator). rng_next() is for tie-breaks, sampling and shuffles: fast and
 * well mixed, but predictable to anyone who knows the state, so nothing
 * secret rides on it. Sans-I/O modules never call rng_bytes(): they are
 * handed a seed and step their own state with rng_next().
 */
#ifndef SHOAL_RNG_H
#define SHOAL_RNG_H

#include <stddef.h>
#include <stdint.h>

/* Fills buf[0..len) with random bytes from the kernel (getrandom(2); it
 * blocks only until the kernel's pool is first seeded, at boot). Returns 0,
 * or a negative errno when the kernel gives none (then buf is unspecified). */
int rng_bytes(void *buf, size_t len);

/* splitmix64 (Steele, Lea, Flood 2014): advances *state and returns the next
 * 64-bit output. Any state, 0 included, is a fine start; the sequence from a
 * state is fixed, so tests can replay it. */
uint64_t rng_next(uint64_t *state);

#endif
