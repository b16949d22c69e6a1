/*
 * wire.c — the BitTorrent peer wire protocol: handshake, length-prefixed
 * messages (BEP 3), the fast extension messages and allowed fast set
 * (BEP 6) and the extended message frame (BEP 10). Codec layer.
 *
 * Every message is checked completely before it is returned, against the
 * torrent's geometry in struct wire_limits, so the peer code above can act on
 * a parsed message without re-checking it. The parser reads only the bytes it
 * is given, never allocates and never keeps a pointer; it touches no socket,
 * file or clock. The only state is the caller's buffer: a partial message
 * simply parses again when more bytes have arrived.
 */
#include "codec/wire.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "base/sha.h"
#include "base/util.h"

/* Upper bound on SHA-1 rounds for one allowed fast set. With k at most
 * WIRE_MAX_ALLOWED_FAST and below the piece count, a set completes in a few
 * thousand rounds; the bound only guarantees the loop ends. */
#define WIRE_MAX_FAST_ROUNDS (1u << 16)

/* The biggest bitfield: one bit per piece of the largest torrent we accept. */
#define WIRE_MAX_BITFIELD ((SHOAL_MAX_PIECES + 7) / 8)

_Static_assert(WIRE_MAX_MSG >= 1 + WIRE_MAX_BITFIELD, "a full bitfield must fit");
_Static_assert(WIRE_MAX_MSG >= 9 + WIRE_MAX_BLOCK, "a full piece message must fit");
_Static_assert(WIRE_MAX_MSG >= 2 + WIRE_MAX_EXT_PAYLOAD, "an extended message must fit");

/* BEP 3: the length byte 19 (octal 023), then the protocol name. */
static const char protocol[] = "\023BitTorrent protocol";

/* ------------------------------------------------------------------ helpers */

/* The request limit in effect: 0 and anything too large mean the cap. */
static uint32_t
max_block(const struct wire_limits *lim)
{
    uint32_t m = lim->max_request;
    return m == 0 || m > WIRE_MAX_BLOCK ? WIRE_MAX_BLOCK : m;
}

static int
is_fast_type(int id)
{
    return id == WIRE_SUGGEST || id == WIRE_HAVE_ALL || id == WIRE_HAVE_NONE ||
           id == WIRE_REJECT || id == WIRE_ALLOWED_FAST;
}

/* ------------------------------------------------------------------ handshake */

int
wire_parse_handshake(const uint8_t *p, size_t n, struct wire_handshake *hs,
                     struct shoal_perr *err)
{
    /* BEP 3: the handshake opens with the byte 19 and "BitTorrent protocol";
     * check what has arrived so a stranger is dropped at its first byte. */
    size_t check = n < 20 ? n : 20;
    for (size_t i = 0; i < check; i++)
        if (p[i] != (uint8_t)protocol[i])
            return perr_fail(err, i, SHOAL_EPARSE, "not the BitTorrent protocol");
    if (n < WIRE_HANDSHAKE_LEN)
        return WIRE_NEED_MORE;
    memcpy(hs->reserved, p + 20, 8);
    memcpy(hs->infohash, p + 28, 20);
    memcpy(hs->peer_id, p + 48, 20);
    return 0;
}

void
wire_encode_handshake(uint8_t out[WIRE_HANDSHAKE_LEN], const uint8_t reserved[8],
                      const uint8_t infohash[20], const uint8_t peer_id[20])
{
    memcpy(out, protocol, 20);
    memcpy(out + 20, reserved, 8);
    memcpy(out + 28, infohash, 20);
    memcpy(out + 48, peer_id, 20);
}

/* ------------------------------------------------------------------ parsing */

uint32_t
wire_piece_size(const struct wire_limits *lim, uint32_t index)
{
    if (index >= lim->piece_count)
        return 0;
    uint64_t start = (uint64_t)index * lim->piece_length;
    if (start >= lim->total_size)
        return 0;
    uint64_t left = lim->total_size - start;
    return left < lim->piece_length ? (uint32_t)left : lim->piece_length;
}

static int
wrong_length(struct shoal_perr *err, int id, uint32_t n, uint32_t want)
{
    return perr_failf(err, 0, SHOAL_EPARSE, "wrong length for the message type",
                      "message %d has a length of %u, want %u", id, (unsigned)n,
                      (unsigned)want);
}

/*
 * Checks a message's length prefix n against its id before the payload is
 * there, so that nothing of the wrong size is ever buffered whole.
 */
static int
check_frame(int id, uint32_t n, const struct wire_limits *lim, struct shoal_perr *err)
{
    /* BEP 6: fast messages without the bit on both sides close the connection. */
    if (is_fast_type(id) && !lim->fast)
        return perr_failf(err, 4, SHOAL_EPARSE,
                          "fast extension message without negotiation",
                          "message %d needs the fast extension", id);
    if (id == WIRE_EXTENDED && !lim->extended)
        return perr_fail(err, 4, SHOAL_EPARSE, "extended message without negotiation");

    switch (id) {
    case WIRE_CHOKE:
    case WIRE_UNCHOKE:
    case WIRE_INTERESTED:
    case WIRE_NOT_INTERESTED:
    case WIRE_HAVE_ALL:
    case WIRE_HAVE_NONE:
        return n == 1 ? 0 : wrong_length(err, id, n, 1);
    case WIRE_HAVE:
    case WIRE_SUGGEST:
    case WIRE_ALLOWED_FAST:
        return n == 5 ? 0 : wrong_length(err, id, n, 5);
    case WIRE_REQUEST:
    case WIRE_CANCEL:
    case WIRE_REJECT:
        return n == 13 ? 0 : wrong_length(err, id, n, 13);
    case WIRE_PORT:
        return n == 3 ? 0 : wrong_length(err, id, n, 3);
    case WIRE_PIECE:
        if (n < 9)
            return perr_failf(err, 0, SHOAL_EPARSE, "wrong length for the message type",
                              "message %d has a length of %u, want at least 9", id,
                              (unsigned)n);
        /* A block answers a request, and requests are never empty. */
        if (n == 9)
            return perr_fail(err, 0, SHOAL_EPARSE, "empty piece block");
        if (n - 9 > max_block(lim))
            return perr_failf(err, 0, SHOAL_EPARSE,
                              "piece block larger than the request limit",
                              "block of %u bytes, limit %u", (unsigned)(n - 9),
                              (unsigned)max_block(lim));
        return 0;
    case WIRE_BITFIELD:
        if (lim->piece_count > 0) {
            /* BEP 3: exactly one bit per piece, rounded up to whole bytes. */
            uint32_t want = (uint32_t)(((uint64_t)lim->piece_count + 7) / 8);
            if (n - 1 != want)
                return perr_failf(err, 0, SHOAL_EPARSE, "wrong bitfield length",
                                  "bitfield of %u bytes, want %u for %u pieces",
                                  (unsigned)(n - 1), (unsigned)want,
                                  (unsigned)lim->piece_count);
        } else if (n - 1 > WIRE_MAX_BITFIELD) {
            return perr_failf(err, 0, SHOAL_EPARSE, "bitfield too large",
                              "bitfield of %u bytes, limit %u", (unsigned)(n - 1),
                              (unsigned)WIRE_MAX_BITFIELD);
        }
        return 0;
    case WIRE_EXTENDED:
        /* BEP 10: the payload opens with the extended message id. */
        return n >= 2
                   ? 0
                   : perr_failf(err, 0, SHOAL_EPARSE, "wrong length for the message type",
                                "message %d has a length of %u, want at least 2", id,
                                (unsigned)n);
    default:
        /* BEP 3: unknown messages are skipped; WIRE_MAX_MSG bounds them. */
        return 0;
    }
}

/* Checks index, begin and length of a request, cancel or reject. */
static int
check_request(const struct wire_limits *lim, const struct wire_msg *m,
              struct shoal_perr *err)
{
    if (m->length == 0)
        return perr_fail(err, 13, SHOAL_EPARSE, "request for zero bytes");
    if (m->length > max_block(lim))
        return perr_failf(err, 13, SHOAL_EPARSE, "request length above the limit",
                          "request for %u bytes, limit %u", (unsigned)m->length,
                          (unsigned)max_block(lim));
    if (lim->piece_count == 0)
        return 0;
    if (m->index >= lim->piece_count)
        return perr_failf(err, 5, SHOAL_EPARSE, "piece index out of range",
                          "piece %u of %u", (unsigned)m->index,
                          (unsigned)lim->piece_count);
    uint32_t size = wire_piece_size(lim, m->index);
    if ((uint64_t)m->begin + m->length > size)
        return perr_failf(err, 9, SHOAL_EPARSE, "request past the end of the piece",
                          "bytes %u+%u of piece %u, which has %u", (unsigned)m->begin,
                          (unsigned)m->length, (unsigned)m->index, (unsigned)size);
    return 0;
}

long
wire_parse(const uint8_t *buf, size_t len, const struct wire_limits *lim,
           struct wire_msg *msg, struct shoal_perr *err)
{
    memset(msg, 0, sizeof(*msg));
    if (len < 4)
        return 0;
    uint32_t n = be32_get(buf);
    if (n > WIRE_MAX_MSG)
        return perr_failf(err, 0, SHOAL_ETOOBIG, "message length above the limit",
                          "message of %u bytes, limit %u", (unsigned)n,
                          (unsigned)WIRE_MAX_MSG);
    if (n == 0) {
        msg->type = WIRE_KEEPALIVE;
        return 4;
    }
    if (len < 5)
        return 0;
    int id = buf[4];
    int rc = check_frame(id, n, lim, err);
    if (rc)
        return rc;
    if (len - 4 < n)
        return 0;

    msg->type = id;
    switch (id) {
    case WIRE_HAVE:
    case WIRE_SUGGEST:
    case WIRE_ALLOWED_FAST:
        msg->index = be32_get(buf + 5);
        /* BEP 3: a have for a piece past the end is a protocol violation. */
        if (lim->piece_count > 0 && msg->index >= lim->piece_count)
            return perr_failf(err, 5, SHOAL_EPARSE, "piece index out of range",
                              "piece %u of %u", (unsigned)msg->index,
                              (unsigned)lim->piece_count);
        break;
    case WIRE_REQUEST:
    case WIRE_CANCEL:
    case WIRE_REJECT:
        msg->index = be32_get(buf + 5);
        msg->begin = be32_get(buf + 9);
        msg->length = be32_get(buf + 13);
        rc = check_request(lim, msg, err);
        if (rc)
            return rc;
        break;
    case WIRE_PIECE:
        msg->index = be32_get(buf + 5);
        msg->begin = be32_get(buf + 9);
        msg->data = buf + 13;
        msg->data_len = n - 9;
        if (lim->piece_count > 0) {
            if (msg->index >= lim->piece_count)
                return perr_failf(err, 5, SHOAL_EPARSE, "piece index out of range",
                                  "piece %u of %u", (unsigned)msg->index,
                                  (unsigned)lim->piece_count);
            uint32_t size = wire_piece_size(lim, msg->index);
            if ((uint64_t)msg->begin + msg->data_len > size)
                return perr_failf(err, 9, SHOAL_EPARSE, "block past the end of the piece",
                                  "bytes %u+%zu of piece %u, which has %u",
                                  (unsigned)msg->begin, msg->data_len,
                                  (unsigned)msg->index, (unsigned)size);
        }
        break;
    case WIRE_BITFIELD:
        msg->data = buf + 5;
        msg->data_len = n - 1;
        /* BEP 3: spare bits at the end are zero; a peer setting them claims
         * pieces that do not exist. */
        if (lim->piece_count % 8 != 0) {
            uint8_t spare = (uint8_t)(0xffu >> (lim->piece_count % 8));
            if (buf[4 + n - 1] & spare)
                return perr_fail(err, 4 + (size_t)n - 1, SHOAL_EPARSE,
                                 "bitfield has spare bits set");
        }
        break;
    case WIRE_PORT:
        /* A port of 0 is passed on; the caller has no use for it. */
        msg->port = (uint16_t)(buf[5] << 8 | buf[6]);
        break;
    case WIRE_EXTENDED:
        msg->ext_id = buf[5];
        msg->data = buf + 6;
        msg->data_len = n - 2;
        break;
    case WIRE_CHOKE:
    case WIRE_UNCHOKE:
    case WIRE_INTERESTED:
    case WIRE_NOT_INTERESTED:
    case WIRE_HAVE_ALL:
    case WIRE_HAVE_NONE:
        break;
    default:
        msg->data = buf + 5;
        msg->data_len = n - 1;
        break;
    }
    return 4 + (long)n;
}

/* ------------------------------------------------------------------ encoding */

size_t
wire_encode_keepalive(uint8_t *out)
{
    be32_put(out, 0);
    return 4;
}

size_t
wire_encode_simple(uint8_t *out, int type)
{
    switch (type) {
    case WIRE_CHOKE:
    case WIRE_UNCHOKE:
    case WIRE_INTERESTED:
    case WIRE_NOT_INTERESTED:
    case WIRE_HAVE_ALL:
    case WIRE_HAVE_NONE:
        be32_put(out, 1);
        out[4] = (uint8_t)type;
        return 5;
    default:
        return 0;
    }
}

size_t
wire_encode_index(uint8_t *out, int type, uint32_t index)
{
    if (type != WIRE_HAVE && type != WIRE_SUGGEST && type != WIRE_ALLOWED_FAST)
        return 0;
    be32_put(out, 5);
    out[4] = (uint8_t)type;
    be32_put(out + 5, index);
    return 9;
}

size_t
wire_encode_request(uint8_t *out, int type, uint32_t index, uint32_t begin,
                    uint32_t length)
{
    if (type != WIRE_REQUEST && type != WIRE_CANCEL && type != WIRE_REJECT)
        return 0;
    be32_put(out, 13);
    out[4] = (uint8_t)type;
    be32_put(out + 5, index);
    be32_put(out + 9, begin);
    be32_put(out + 13, length);
    return 17;
}

size_t
wire_encode_piece_header(uint8_t *out, uint32_t index, uint32_t begin, uint32_t block_len)
{
    if (block_len > UINT32_MAX - 9)
        return 0;
    be32_put(out, 9 + block_len);
    out[4] = WIRE_PIECE;
    be32_put(out + 5, index);
    be32_put(out + 9, begin);
    return 13;
}

size_t
wire_encode_bitfield_header(uint8_t *out, uint32_t nbytes)
{
    if (nbytes > UINT32_MAX - 1)
        return 0;
    be32_put(out, 1 + nbytes);
    out[4] = WIRE_BITFIELD;
    return 5;
}

size_t
wire_encode_port(uint8_t *out, uint16_t port)
{
    be32_put(out, 3);
    out[4] = WIRE_PORT;
    be16_put(out + 5, port);
    return 7;
}

size_t
wire_encode_extended_header(uint8_t *out, uint8_t ext_id, uint32_t payload_len)
{
    if (payload_len > UINT32_MAX - 2)
        return 0;
    be32_put(out, 2 + payload_len);
    out[4] = WIRE_EXTENDED;
    out[5] = ext_id;
    return 6;
}

/* ------------------------------------------------------------------ BEP 6 */

static int
contains(const uint32_t *a, uint32_t n, uint32_t v)
{
    for (uint32_t i = 0; i < n; i++)
        if (a[i] == v)
            return 1;
    return 0;
}

int
wire_allowed_fast_set(const uint8_t ip[], size_t iplen, const uint8_t infohash[20],
                      uint32_t piece_count, uint32_t k, uint32_t *out)
{
    if ((iplen != 4 && iplen != 16) || k > WIRE_MAX_ALLOWED_FAST)
        return SHOAL_EINVAL;
    if (piece_count == 0 || k == 0)
        return 0;
    if (k >= piece_count) {
        for (uint32_t i = 0; i < piece_count; i++)
            out[i] = i;
        return (int)piece_count;
    }

    /* BEP 6 step (1)-(2): the masked address, then the infohash. */
    uint8_t x[16 + 20];
    size_t xlen = iplen + 20;
    memcpy(x, ip, iplen);
    if (iplen == 4)
        x[3] = 0;
    else
        memset(x + 6, 0, 10);
    memcpy(x + iplen, infohash, 20);

    uint32_t n = 0;
    for (uint32_t round = 0; n < k && round < WIRE_MAX_FAST_ROUNDS; round++) {
        /* Step (3): each round hashes the previous hash. */
        uint8_t h[SHA1_LEN];
        if (sha1(x, xlen, h) != 0)
            return SHOAL_ENOMEM;
        memcpy(x, h, SHA1_LEN);
        xlen = SHA1_LEN;
        /* Steps (4)-(9): five big-endian words, each taken mod the count. */
        for (int i = 0; i < 5 && n < k; i++) {
            uint32_t index = be32_get(h + 4 * i) % piece_count;
            if (!contains(out, n, index))
                out[n++] = index;
        }
    }
    return (int)n;
}
