/*
 * bitfield.h — a fixed-size set of piece indices, stored in BitTorrent wire
 * form. Base layer: no I/O.
 *
 * The bytes are exactly the payload of a BEP 3 `bitfield` message: the high
 * bit of byte 0 is piece 0, the low bit of byte 0 is piece 7, and the spare
 * bits after the last piece are always zero. So `bits` can be sent as is and
 * a received payload can be loaded with bitfield_from_bytes(). `count` is kept
 * exact by every call below, so reading it is O(1).
 */
#ifndef SHOAL_BITFIELD_H
#define SHOAL_BITFIELD_H

#include <stddef.h>
#include <stdint.h>

struct bitfield {
    uint8_t *bits;  /* (nbits + 7) / 8 bytes, wire order; owned */
    uint32_t nbits; /* number of pieces */
    uint32_t count; /* number of set bits */
};

/* Bytes that hold n bits: the length of a bitfield message payload. */
#define BITFIELD_BYTES(n) (((size_t)(n) + 7) / 8)

/* Makes an empty (all clear) bitfield of nbits bits. Returns 0 or
 * SHOAL_ENOMEM (then bf is left empty and cleanup is still safe). */
int bitfield_init(struct bitfield *bf, uint32_t nbits);
/* Frees the bits; the struct may be initialized again. Safe on a zeroed
 * struct and after a failed init. */
void bitfield_cleanup(struct bitfield *bf);
/* Makes dst (not initialized, or cleaned up) a copy of src. 0 or SHOAL_ENOMEM. */
int bitfield_copy(struct bitfield *dst, const struct bitfield *src);

/* Sets / clears bit i. An index at or past nbits is ignored. */
void bitfield_set(struct bitfield *bf, uint32_t i);
void bitfield_clear(struct bitfield *bf, uint32_t i);
/* 1 when bit i is set; 0 when clear or i >= nbits. */
int bitfield_get(const struct bitfield *bf, uint32_t i);
void bitfield_set_all(struct bitfield *bf);
void bitfield_clear_all(struct bitfield *bf);

/*
 * Loads a wire bitfield (BEP 3) into bf, which was initialized with the
 * torrent's piece count. `len` must be exactly BITFIELD_BYTES(bf->nbits) and
 * the spare bits of the last byte must be zero; otherwise returns SHOAL_EPARSE
 * and bf is unchanged. Returns 0 on success.
 */
int bitfield_from_bytes(struct bitfield *bf, const uint8_t *buf, size_t len);

/* 1 when every bit is set (also for a zero-length bitfield). */
int bitfield_is_full(const struct bitfield *bf);
/* Number of set bits, O(1). */
uint32_t bitfield_count(const struct bitfield *bf);
/* Lowest set index >= from, or nbits when there is none. Skips clear runs a
 * word at a time. */
uint32_t bitfield_next_set(const struct bitfield *bf, uint32_t from);
/* Lowest clear index >= from, or nbits when there is none. */
uint32_t bitfield_next_clear(const struct bitfield *bf, uint32_t from);

#endif
