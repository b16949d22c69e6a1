/*
 * bitfield.c — piece sets in BEP 3 wire order. Base layer.
 *
 * Keeps `count` exact on every change so callers never recount, and keeps the
 * spare bits of the last byte zero so the bytes can go on the wire as they
 * are. Does no I/O and reads no clock.
 */
#include "base/bitfield.h"

#include <string.h>

#include "base/alloc.h"
#include "shoal.h"

static uint8_t
mask_of(uint32_t i)
{
    return (uint8_t)(0x80u >> (i & 7));
}

/* Bits of the last byte that belong to pieces (the rest are spare). */
static uint8_t
last_byte_mask(uint32_t nbits)
{
    unsigned used = nbits & 7;
    return used ? (uint8_t)(0xffu << (8 - used)) : 0xffu;
}

static uint32_t
popcount_bytes(const uint8_t *b, size_t n)
{
    uint32_t c = 0;
    for (size_t i = 0; i < n; i++)
        c += (uint32_t)__builtin_popcount(b[i]);
    return c;
}

int
bitfield_init(struct bitfield *bf, uint32_t nbits)
{
    bf->nbits = 0;
    bf->count = 0;
    bf->bits = xcalloc(BITFIELD_BYTES(nbits), 1);
    if (!bf->bits)
        return SHOAL_ENOMEM;
    bf->nbits = nbits;
    return 0;
}

void
bitfield_cleanup(struct bitfield *bf)
{
    xfree(bf->bits);
    bf->bits = NULL;
    bf->nbits = 0;
    bf->count = 0;
}

int
bitfield_copy(struct bitfield *dst, const struct bitfield *src)
{
    int rc = bitfield_init(dst, src->nbits);
    if (rc)
        return rc;
    memcpy(dst->bits, src->bits, BITFIELD_BYTES(src->nbits));
    dst->count = src->count;
    return 0;
}

void
bitfield_set(struct bitfield *bf, uint32_t i)
{
    if (i >= bf->nbits)
        return;
    uint8_t *b = &bf->bits[i >> 3];
    if (!(*b & mask_of(i))) {
        *b |= mask_of(i);
        bf->count++;
    }
}

void
bitfield_clear(struct bitfield *bf, uint32_t i)
{
    if (i >= bf->nbits)
        return;
    uint8_t *b = &bf->bits[i >> 3];
    if (*b & mask_of(i)) {
        *b &= (uint8_t)~mask_of(i);
        bf->count--;
    }
}

int
bitfield_get(const struct bitfield *bf, uint32_t i)
{
    if (i >= bf->nbits)
        return 0;
    return (bf->bits[i >> 3] & mask_of(i)) != 0;
}

void
bitfield_set_all(struct bitfield *bf)
{
    size_t n = BITFIELD_BYTES(bf->nbits);
    if (n == 0)
        return;
    memset(bf->bits, 0xff, n);
    bf->bits[n - 1] = last_byte_mask(bf->nbits);
    bf->count = bf->nbits;
}

void
bitfield_clear_all(struct bitfield *bf)
{
    memset(bf->bits, 0, BITFIELD_BYTES(bf->nbits));
    bf->count = 0;
}

int
bitfield_from_bytes(struct bitfield *bf, const uint8_t *buf, size_t len)
{
    size_t n = BITFIELD_BYTES(bf->nbits);
    if (len != n)
        return SHOAL_EPARSE;
    /* BEP 3: spare bits at the end are zero; a peer that sets them is broken. */
    if (n && (buf[n - 1] & (uint8_t)~last_byte_mask(bf->nbits)))
        return SHOAL_EPARSE;
    if (n)
        memcpy(bf->bits, buf, n);
    bf->count = popcount_bytes(bf->bits, n);
    return 0;
}

int
bitfield_is_full(const struct bitfield *bf)
{
    return bf->count == bf->nbits;
}

uint32_t
bitfield_count(const struct bitfield *bf)
{
    return bf->count;
}

/* Lowest index >= from whose bit equals `want`, scanning whole words where
 * they are all the other value. */
static uint32_t
next_bit(const struct bitfield *bf, uint32_t from, int want)
{
    if (from >= bf->nbits)
        return bf->nbits;
    const uint8_t flip = want ? 0 : 0xff; /* makes the wanted bits ones */
    size_t nbytes = BITFIELD_BYTES(bf->nbits);
    size_t byte = from >> 3;
    uint8_t v = (uint8_t)((bf->bits[byte] ^ flip) & (0xffu >> (from & 7)));
    while (!v) {
        byte++;
        /* Whole zero words, once aligned; the spare bits make the tail short. */
        while (!(byte & 7) && byte + 8 <= nbytes) {
            uint64_t w;
            memcpy(&w, bf->bits + byte, 8);
            if (w != (want ? 0 : UINT64_MAX))
                break;
            byte += 8;
        }
        if (byte >= nbytes)
            return bf->nbits;
        v = (uint8_t)(bf->bits[byte] ^ flip);
    }
    uint32_t i = (uint32_t)(byte * 8 + (size_t)(__builtin_clz(v) - 24));
    /* A clear spare bit in the last byte can look wanted when scanning for
     * clear bits; it is past nbits. */
    return i < bf->nbits ? i : bf->nbits;
}

uint32_t
bitfield_next_set(const struct bitfield *bf, uint32_t from)
{
    return next_bit(bf, from, 1);
}

uint32_t
bitfield_next_clear(const struct bitfield *bf, uint32_t from)
{
    return next_bit(bf, from, 0);
}
