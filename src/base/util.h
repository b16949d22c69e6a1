/*
 * util.h — small pure helpers shared by the codecs: hex, base32 and
 * percent-encoding. Base layer: no I/O, no allocation.
 */
#ifndef SHOAL_UTIL_H
#define SHOAL_UTIL_H

#include <stddef.h>
#include <stdint.h>

#include "shoal.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* Writes 2*len lowercase hex digits and a NUL to out. */
void hex_encode(const uint8_t *in, size_t len, char *out);
/* Decodes exactly 2*outlen hex digits (either case). Returns 0, or -1 on a
 * non-hex character. */
int hex_decode(const char *in, uint8_t *out, size_t outlen);

/* RFC 4648 base32 without padding: decodes exactly 32 characters (either
 * case) into 20 bytes. Returns 0, or -1 on a character outside the alphabet. */
int base32_decode_20(const char *in, uint8_t out[20]);
/* Encodes 20 bytes as 32 uppercase base32 characters plus a NUL. */
void base32_encode_20(const uint8_t in[20], char out[33]);

/*
 * Percent-decodes in[0..len) into out (which has room for len bytes; the
 * result is never longer). '+' is kept as is. Returns the decoded length, or
 * -1 with *bad_off set on a malformed escape.
 */
long pct_decode(const char *in, size_t len, char *out, size_t *bad_off);

/* Characters that never need escaping in a URI query value (RFC 3986
 * unreserved). */
int pct_is_unreserved(uint8_t c);

/* Parses a decimal uint64 from s[0..len) with no sign, no leading zeros (unless
 * the number is 0) and no overflow. Returns 0 or -1. */
int parse_u64(const char *s, size_t len, uint64_t *out);

/* Length (1-4) of the valid UTF-8 sequence at p[0..n), or 0 when the bytes
 * there are not valid UTF-8 (overlong forms and surrogates are invalid). */
size_t utf8_seq_len(const uint8_t *p, size_t n);
/* 1 when p[0..n) is entirely valid UTF-8. */
int utf8_valid(const uint8_t *p, size_t n);

/* Fills *err (when not NULL) with the offset and static reason, clears its
 * message, and returns code: the one way codecs report a parse error. */
int perr_fail(struct shoal_perr *err, size_t off, int code, const char *why);
/* The same, plus a fuller message with the numbers involved in err->msg. */
int perr_failf(struct shoal_perr *err, size_t off, int code, const char *why,
               const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* Big-endian (network order) loads and stores, as the wire formats use. */
static inline uint16_t
be16_get(const uint8_t *p)
{
    return (uint16_t)(p[0] << 8 | p[1]);
}

static inline uint32_t
be32_get(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static inline uint64_t
be64_get(const uint8_t *p)
{
    return (uint64_t)be32_get(p) << 32 | be32_get(p + 4);
}

static inline void
be16_put(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static inline void
be32_put(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static inline void
be64_put(uint8_t *p, uint64_t v)
{
    be32_put(p, (uint32_t)(v >> 32));
    be32_put(p + 4, (uint32_t)v);
}

#endif
