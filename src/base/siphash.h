/*
 * siphash.h — SipHash, a keyed 64-bit hash (Aumasson and Bernstein). Base
 * layer, pure. Used where outsiders must not be able to predict or force
 * hash values: tracker hash tables and UDP connection ids.
 */
#ifndef SHOAL_SIPHASH_H
#define SHOAL_SIPHASH_H

#include <stddef.h>
#include <stdint.h>

/* SipHash-1-3: fast, for hash tables. */
uint64_t siphash13(uint64_t k0, uint64_t k1, const void *p, size_t n);
/* SipHash-2-4: the standard variant, for MACs. */
uint64_t siphash24(uint64_t k0, uint64_t k1, const void *p, size_t n);

#endif
