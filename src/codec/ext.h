/*
 * ext.h — the BEP 10 extension handshake: the bencoded dictionary a peer
 * sends as extended message 0 to say which extensions it speaks and under
 * which message ids. Codec layer: pure, bytes in and struct out.
 */
#ifndef SHOAL_EXT_H
#define SHOAL_EXT_H

#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "shoal.h"

/* Extended message ids we ask peers to use when they write to us. BEP 10:
 * 0 is the handshake itself; the others are ours to choose. */
#define EXT_ID_HANDSHAKE   0
#define EXT_ID_UT_METADATA 1
#define EXT_ID_UT_PEX      2

/* A longer handshake payload is refused: real ones are a few hundred bytes. */
#define EXT_MAX_HANDSHAKE (16u * 1024)
/* Bencode values decoded from one handshake, at most. */
#define EXT_MAX_TOKENS 1000
/* A reqq above this is clamped: more outstanding requests than this to one
 * peer buys nothing and costs memory on both sides. */
#define EXT_MAX_REQQ 2048
/* metadata_size larger than a torrent file may be is a lie (BEP 9). */
#define EXT_MAX_METADATA_SIZE SHOAL_MAX_TORRENT_FILE

/* Bits of ext_handshake.present: which extensions appeared in `m`, even with
 * id 0. BEP 10 makes later handshakes additive: an extension missing from
 * `m` keeps its id, one listed with 0 is disabled. */
#define EXT_HAS_UT_METADATA 0x1
#define EXT_HAS_UT_PEX      0x2

struct ext_handshake {
    /* The peer's ids for the extensions, 0 = not supported (or disabled). */
    uint8_t ut_metadata;
    uint8_t ut_pex;
    unsigned present; /* EXT_HAS_* */
    /* `v`: the client's name, printable UTF-8 (control characters and bad
     * bytes become '?'), cut at a character boundary; "" when absent. */
    char client[64];
    uint32_t reqq;          /* 1..EXT_MAX_REQQ, 0 if absent */
    uint16_t listen_port;   /* `p`, 0 if absent */
    uint32_t metadata_size; /* 1..EXT_MAX_METADATA_SIZE, 0 if absent */
    uint8_t yourip[16];     /* our address as the peer sees it, network order */
    uint8_t yourip_len;     /* 0, 4 or 16 */
    int upload_only;        /* BEP 21: the peer is a seed or partial seed */
};

/*
 * Parses an extension handshake payload (the bytes after the extended id)
 * into *out, which is zeroed first. Rules, following BEP 10 and leaving out
 * what a peer cannot be trusted with:
 *   - the payload is one bencoded dictionary of at most EXT_MAX_HANDSHAKE
 *     bytes and EXT_MAX_TOKENS values, with nothing after it;
 *   - `m`, when present, must be a dictionary; an id that is not an integer
 *     in 0..255 is ignored (the extension counts as unsupported); two known
 *     extensions sharing one nonzero id is an error;
 *   - `reqq` below 1 is ignored, above EXT_MAX_REQQ clamped;
 *   - `metadata_size` outside 1..EXT_MAX_METADATA_SIZE is ignored (left
 *     0): nothing is ever fetched or allocated on such a claim (BEP 9);
 *   - `p` outside 1..65535 and `yourip` of another length than 4 or 16 are
 *     ignored, as is any key of an unexpected type or unknown name.
 * Returns 0, SHOAL_ETOOBIG for an oversized payload, SHOAL_EPARSE with
 * err->off and err->why otherwise, or SHOAL_ENOMEM.
 */
int ext_parse_handshake(const uint8_t *p, size_t n, struct ext_handshake *out,
                        struct shoal_perr *err);

/*
 * Appends our handshake as bencode to out: "m" (with "ut_metadata" and
 * "ut_pex" when nonzero), then "metadata_size", "p", "reqq", "upload_only",
 * "v" and "yourip" when set. Returns 0 or the buffer's error.
 */
int ext_encode_handshake(const struct ext_handshake *ours, struct buf *out);

#endif
