/*
 * wire.h — the BitTorrent peer wire protocol (BEP 3, BEP 6, BEP 10 framing)
 * as a pure codec. Codec layer.
 *
 * Parsing takes the bytes received so far and says one of three things: here
 * is one complete, fully validated message and how many bytes it took; more
 * bytes are needed; or the peer broke the protocol (with the offset and a
 * static reason). Nothing here touches a socket or the clock, and the parse
 * path never allocates: message payloads are returned as slices of the
 * caller's buffer.
 *
 * Encoders write into a caller buffer and return the byte count. Piece data
 * and bitfield bytes are never copied: the encoders write only the header,
 * and the caller sends the payload after it.
 */
#ifndef SHOAL_WIRE_H
#define SHOAL_WIRE_H

#include <stddef.h>
#include <stdint.h>

#include "shoal.h"

/* ------------------------------------------------------------------ limits */

/* BEP 3: the handshake is 1 + 19 + 8 + 20 + 20 bytes. */
#define WIRE_HANDSHAKE_LEN 68
/* Largest block a peer may request or send; clients use 16 KiB, a few ask
 * for more, nobody sensible for more than 128 KiB. */
#define WIRE_MAX_BLOCK (128u * 1024)
/* Largest extended-message payload after the extension id. ut_metadata
 * pieces are 16 KiB and handshakes a few hundred bytes; 1 MiB leaves room for
 * extensions we do not know without letting a peer pin much memory. */
#define WIRE_MAX_EXT_PAYLOAD (1024u * 1024)
/*
 * Largest length prefix accepted: the largest of a bitfield for
 * SHOAL_MAX_PIECES pieces (1 + 262144 bytes), a piece message carrying a
 * WIRE_MAX_BLOCK block (9 + 131072) and an extended message (2 + 1 MiB).
 * The extended message is the largest, so it sets the cap.
 */
#define WIRE_MAX_MSG (2u + WIRE_MAX_EXT_PAYLOAD)
/* Longest header any encoder writes (request, cancel, reject: 4 + 1 + 12). */
#define WIRE_MAX_HEADER 17
/* Most indices wire_allowed_fast_set() computes; BEP 6 suggests k = 10. */
#define WIRE_MAX_ALLOWED_FAST 1024

/* wire_parse_handshake(): the input is a valid prefix of a handshake. */
#define WIRE_NEED_MORE 1

/* ------------------------------------------------------------------ handshake */

struct wire_handshake {
    uint8_t reserved[8];
    uint8_t infohash[20];
    uint8_t peer_id[20];
};

/*
 * Reserved bits, numbered from the right of the 64-bit field starting at 0
 * as BEP 10 counts them: bit b is reserved[7 - b / 8] & (1 << b % 8).
 */
#define WIRE_RESERVED_DHT      0  /* reserved[7] & 0x01, BEP 5 */
#define WIRE_RESERVED_FAST     2  /* reserved[7] & 0x04, BEP 6 */
#define WIRE_RESERVED_EXTENDED 20 /* reserved[5] & 0x10, BEP 10 */

static inline int
wire_reserved_has(const uint8_t r[8], int bit)
{
    return (r[7 - bit / 8] >> (bit % 8)) & 1;
}

static inline void
wire_reserved_set(uint8_t r[8], int bit)
{
    r[7 - bit / 8] |= (uint8_t)(1u << (bit % 8));
}

/*
 * Parses a handshake from p[0..n). Returns 0 when the 68 bytes are there
 * and valid (*hs filled), WIRE_NEED_MORE when n < 68 and every byte so far
 * is valid, or SHOAL_EPARSE with err->off at the first wrong byte and
 * err->why "not the BitTorrent protocol". A wrong protocol string is
 * therefore refused as soon as its first wrong byte arrives.
 */
int wire_parse_handshake(const uint8_t *p, size_t n, struct wire_handshake *hs,
                         struct shoal_perr *err);

/* Writes the 68-byte handshake. */
void wire_encode_handshake(uint8_t out[WIRE_HANDSHAKE_LEN], const uint8_t reserved[8],
                           const uint8_t infohash[20], const uint8_t peer_id[20]);

/* ------------------------------------------------------------------ messages */

enum wire_type {
    WIRE_KEEPALIVE = -1,
    WIRE_CHOKE = 0,
    WIRE_UNCHOKE = 1,
    WIRE_INTERESTED = 2,
    WIRE_NOT_INTERESTED = 3,
    WIRE_HAVE = 4,
    WIRE_BITFIELD = 5,
    WIRE_REQUEST = 6,
    WIRE_PIECE = 7,
    WIRE_CANCEL = 8,
    WIRE_PORT = 9,
    WIRE_SUGGEST = 13,
    WIRE_HAVE_ALL = 14,
    WIRE_HAVE_NONE = 15,
    WIRE_REJECT = 16,
    WIRE_ALLOWED_FAST = 17,
    WIRE_EXTENDED = 20
};

/* What the parser checks messages against. */
struct wire_limits {
    /* 0 means the metadata is not known yet (magnet link): index and bounds
     * checks are skipped and a bitfield of any size up to the cap passes;
     * the caller checks its length once the metadata arrives. */
    uint32_t piece_count;
    uint32_t piece_length;
    uint64_t total_size;
    /* Largest request length (and piece block) accepted; 0 or anything above
     * WIRE_MAX_BLOCK means WIRE_MAX_BLOCK. */
    uint32_t max_request;
    int fast;     /* BEP 6 negotiated: both handshakes set the bit */
    int extended; /* BEP 10 negotiated */
};

/* One parsed message. Pointers are slices of the buffer given to wire_parse. */
struct wire_msg {
    int type;        /* enum wire_type, or the raw id of an unknown message */
    uint32_t index;  /* have, request, piece, cancel, suggest, reject, allowed fast */
    uint32_t begin;  /* request, piece, cancel, reject */
    uint32_t length; /* request, cancel, reject */
    /* Bitfield bytes, piece block bytes, extended payload (after the
     * extension id) or the payload of an unknown message. */
    const uint8_t *data;
    size_t data_len;
    uint8_t ext_id; /* extended */
    uint16_t port;  /* port (BEP 5) */
};

/*
 * Parses one message at the start of buf[0..len).
 *
 * Returns the number of bytes the message occupies (> 0) when it is complete
 * and valid; 0 when more bytes are needed; SHOAL_ETOOBIG when the length
 * prefix exceeds WIRE_MAX_MSG; SHOAL_EPARSE for anything else wrong. On
 * error err->off is the offset in buf of the offending field, err->why a
 * static reason, and err->msg may hold the numbers involved.
 *
 * The length prefix and the message id are checked as soon as they arrive,
 * so a message of the wrong size for its type is refused before its payload
 * is buffered. Checked: exact payload sizes per type; bitfield size
 * (ceil(piece_count / 8) bytes) and zero spare bits; index < piece_count;
 * begin + length within the piece (the last piece is shorter); request,
 * cancel and reject lengths in 1..max_request; piece blocks of 1..max_request
 * bytes inside the piece; BEP 6 messages only when lim->fast and extended
 * messages only when lim->extended.
 *
 * BEP 3: unknown message ids are not an error. They are returned with type
 * set to the id and the payload in data/data_len (bounded by WIRE_MAX_MSG),
 * and the caller ignores them.
 */
long wire_parse(const uint8_t *buf, size_t len, const struct wire_limits *lim,
                struct wire_msg *msg, struct shoal_perr *err);

/* Size of piece `index`: piece_length, less for the last piece, 0 when the
 * index is out of range or the metadata is not known. */
uint32_t wire_piece_size(const struct wire_limits *lim, uint32_t index);

/*
 * Encoders: each writes a complete message (or, for piece, bitfield and
 * extended, its header) into out, which has room for WIRE_MAX_HEADER bytes,
 * and returns the number of bytes written. They return 0 for a type they do
 * not encode.
 */

/* Keep-alive: four zero bytes. */
size_t wire_encode_keepalive(uint8_t *out);
/* Choke, unchoke, interested, not interested, have all, have none. */
size_t wire_encode_simple(uint8_t *out, int type);
/* Have, suggest, allowed fast: <len=5><id><index>. */
size_t wire_encode_index(uint8_t *out, int type, uint32_t index);
/* Request, cancel, reject: <len=13><id><index><begin><length>. */
size_t wire_encode_request(uint8_t *out, int type, uint32_t index, uint32_t begin,
                           uint32_t length);
/* The 13 bytes before a block of block_len bytes; send the block after it. */
size_t wire_encode_piece_header(uint8_t *out, uint32_t index, uint32_t begin,
                                uint32_t block_len);
/* The 5 bytes before a bitfield of nbytes bytes. */
size_t wire_encode_bitfield_header(uint8_t *out, uint32_t nbytes);
/* Port (BEP 5). */
size_t wire_encode_port(uint8_t *out, uint16_t port);
/* The 6 bytes before an extended payload of payload_len bytes (BEP 10). */
size_t wire_encode_extended_header(uint8_t *out, uint8_t ext_id, uint32_t payload_len);

static inline size_t
wire_encode_have(uint8_t *out, uint32_t index)
{
    return wire_encode_index(out, WIRE_HAVE, index);
}

static inline size_t
wire_encode_suggest(uint8_t *out, uint32_t index)
{
    return wire_encode_index(out, WIRE_SUGGEST, index);
}

static inline size_t
wire_encode_allowed_fast(uint8_t *out, uint32_t index)
{
    return wire_encode_index(out, WIRE_ALLOWED_FAST, index);
}

/* ------------------------------------------------------------------ BEP 6 */

/*
 * Computes the allowed fast set (BEP 6) of the peer at address ip (4 bytes
 * for IPv4, 16 for IPv6, network order) for a torrent of piece_count pieces:
 * writes up to k piece indices to out and returns how many it wrote. When
 * k >= piece_count the set is every piece, written as 0..piece_count-1.
 * IPv4 addresses are masked to /24 as BEP 6 says; BEP 6 has no rule for
 * IPv6, so they are masked to /48, the prefix one end site usually gets.
 * Returns SHOAL_EINVAL for another iplen or k > WIRE_MAX_ALLOWED_FAST, and
 * SHOAL_ENOMEM when hashing fails.
 */
int wire_allowed_fast_set(const uint8_t ip[], size_t iplen, const uint8_t infohash[20],
                          uint32_t piece_count, uint32_t k, uint32_t *out);

#endif
