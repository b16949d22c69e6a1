/*
 * fuzz_wire.c — libFuzzer target for the peer wire codec.
 *
 * The first 8 bytes of the input choose the limits (negotiated extensions,
 * request limit, torrent geometry, or none for a magnet link); the rest is
 * read as a byte stream of messages, parsed one after another the way a
 * connection reads them. Every accepted message must keep the promises
 * wire.h makes (indices in range, blocks inside their piece, bitfields of the
 * right size with zero spare bits, fast and extended messages only when
 * negotiated), every proper prefix of it must ask for more bytes, and a
 * message an encoder can write must re-encode to the same bytes. Any broken
 * promise aborts so that the fuzzer reports the input.
 *
 * Header layout: [0] flags, [1..2] piece count, [3..4] piece length - 1,
 * [5..6] last piece size, [7] allowed fast set size k.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "codec/wire.h"
#include "shoal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define HDR 8

/* Flags in header byte 0. */
#define F_FAST     0x01
#define F_EXTENDED 0x02
#define F_MAGNET   0x04 /* piece_count 0 */
#define F_RAWSIZE  0x08 /* total_size taken as is, possibly inconsistent */
#define F_IPV6     0x10 /* allowed fast set for an IPv6 address */

static const uint32_t max_requests[4] = {0, 16384, 1, WIRE_MAX_BLOCK + 7};

static uint32_t
be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static uint32_t
effective_max(const struct wire_limits *lim)
{
    uint32_t m = lim->max_request;
    return m == 0 || m > WIRE_MAX_BLOCK ? WIRE_MAX_BLOCK : m;
}

static int
is_fast(int t)
{
    return t == WIRE_SUGGEST || t == WIRE_HAVE_ALL || t == WIRE_HAVE_NONE ||
           t == WIRE_REJECT || t == WIRE_ALLOWED_FAST;
}

/* Checks one accepted message of `used` bytes at p. */
static void
check_msg(const uint8_t *p, size_t avail, long used, const struct wire_limits *lim,
          const struct wire_msg *m)
{
    if (used < 4 || (size_t)used > avail || (size_t)used != 4 + (size_t)be32(p))
        abort();
    if (is_fast(m->type) && !lim->fast)
        abort();
    if (m->type == WIRE_EXTENDED && !lim->extended)
        abort();
    if (m->data && (m->data < p || m->data + m->data_len > p + used))
        abort();

    /* n: bytes the encoder wrote; cmp: how many of them to compare, all of
     * them for a whole message, the header for one with a payload after it. */
    uint8_t out[WIRE_MAX_HEADER];
    size_t n = 0, cmp = 0;
    int whole = 1;
    uint32_t pc = lim->piece_count;
    switch (m->type) {
    case WIRE_KEEPALIVE:
        n = cmp = wire_encode_keepalive(out);
        break;
    case WIRE_CHOKE:
    case WIRE_UNCHOKE:
    case WIRE_INTERESTED:
    case WIRE_NOT_INTERESTED:
    case WIRE_HAVE_ALL:
    case WIRE_HAVE_NONE:
        n = cmp = wire_encode_simple(out, m->type);
        break;
    case WIRE_HAVE:
    case WIRE_SUGGEST:
    case WIRE_ALLOWED_FAST:
        if (pc && m->index >= pc)
            abort();
        n = cmp = wire_encode_index(out, m->type, m->index);
        break;
    case WIRE_REQUEST:
    case WIRE_CANCEL:
    case WIRE_REJECT:
        if (m->length == 0 || m->length > effective_max(lim))
            abort();
        if (pc && (m->index >= pc ||
                   (uint64_t)m->begin + m->length > wire_piece_size(lim, m->index)))
            abort();
        n = cmp = wire_encode_request(out, m->type, m->index, m->begin, m->length);
        break;
    case WIRE_PIECE:
        if (m->data_len == 0 || m->data_len > effective_max(lim) || m->data != p + 13)
            abort();
        if (pc && (m->index >= pc ||
                   (uint64_t)m->begin + m->data_len > wire_piece_size(lim, m->index)))
            abort();
        n = wire_encode_piece_header(out, m->index, m->begin, (uint32_t)m->data_len);
        cmp = 13;
        whole = 0;
        break;
    case WIRE_BITFIELD:
        if (m->data != p + 5)
            abort();
        if (pc) {
            if (m->data_len != (pc + 7ull) / 8)
                abort();
            if (pc % 8 && (m->data[m->data_len - 1] & (0xff >> (pc % 8))))
                abort();
        } else if (m->data_len > SHOAL_MAX_PIECES / 8) {
            abort();
        }
        n = wire_encode_bitfield_header(out, (uint32_t)m->data_len);
        cmp = 5;
        whole = 0;
        break;
    case WIRE_PORT:
        n = cmp = wire_encode_port(out, m->port);
        break;
    case WIRE_EXTENDED:
        if (m->data != p + 6 || m->data_len > WIRE_MAX_EXT_PAYLOAD)
            abort();
        n = wire_encode_extended_header(out, m->ext_id, (uint32_t)m->data_len);
        cmp = 6;
        whole = 0;
        break;
    default:
        /* Unknown ids: any id the codec does not name, payload after it. */
        if (m->type < 0 || m->type > 255 || m->data != p + 5 ||
            m->data_len != (size_t)used - 5)
            abort();
        return;
    }
    if (n == 0 || n < cmp || (size_t)used < cmp || memcmp(out, p, cmp) != 0)
        abort();
    if (whole && (size_t)used != n)
        abort();
}

/* Every proper prefix of an accepted message asks for more, without error. */
static void
check_prefixes(const uint8_t *p, long used, const struct wire_limits *lim)
{
    struct wire_msg m;
    struct shoal_perr err = {0};
    size_t step = used > 64 ? (size_t)used / 16 : 1;
    for (size_t k = 0; k < (size_t)used; k += step)
        if (wire_parse(p, k, lim, &m, &err) != 0 || err.why != NULL)
            abort();
    if (wire_parse(p, (size_t)used - 1, lim, &m, &err) != 0 || err.why != NULL)
        abort();
}

static void
check_allowed_fast(const uint8_t *data, size_t size, const struct wire_limits *lim,
                   uint32_t k)
{
    uint8_t ip[16] = {0};
    size_t iplen = data[0] & F_IPV6 ? 16 : 4;
    uint8_t ih[20] = {0};
    memcpy(ip, data + 1, size - 1 < iplen ? size - 1 : iplen);
    memcpy(ih, data, size < 20 ? size : 20);
    uint32_t out[32];
    int n = wire_allowed_fast_set(ip, iplen, ih, lim->piece_count, k, out);
    uint32_t want = k < lim->piece_count ? k : lim->piece_count;
    if (n < 0 || (uint32_t)n != want)
        abort();
    for (int i = 0; i < n; i++) {
        if (out[i] >= lim->piece_count)
            abort();
        for (int j = 0; j < i; j++)
            if (out[i] == out[j])
                abort();
    }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* The handshake parser sees the whole input as a handshake. */
    struct wire_handshake hs;
    struct shoal_perr herr = {0};
    int hrc = wire_parse_handshake(data, size, &hs, &herr);
    if (hrc == 0) {
        uint8_t again[WIRE_HANDSHAKE_LEN];
        if (size < WIRE_HANDSHAKE_LEN)
            abort();
        wire_encode_handshake(again, hs.reserved, hs.infohash, hs.peer_id);
        if (memcmp(again, data, WIRE_HANDSHAKE_LEN) != 0)
            abort();
    } else if (hrc == WIRE_NEED_MORE) {
        if (size >= WIRE_HANDSHAKE_LEN)
            abort();
    } else if (hrc != SHOAL_EPARSE || herr.why == NULL || herr.off >= size ||
               herr.off >= 20) {
        abort();
    }

    if (size < HDR)
        return 0;
    struct wire_limits lim = {0};
    uint8_t f = data[0];
    lim.fast = f & F_FAST;
    lim.extended = (f & F_EXTENDED) != 0;
    lim.max_request = max_requests[(f >> 5) & 3];
    if (!(f & F_MAGNET)) {
        lim.piece_count = (uint32_t)data[1] << 8 | data[2];
        lim.piece_length = ((uint32_t)data[3] << 8 | data[4]) + 1;
        uint32_t last = ((uint32_t)data[5] << 8 | data[6]) % lim.piece_length + 1;
        if (f & F_RAWSIZE)
            lim.total_size = (uint64_t)data[5] << 24 | (uint64_t)data[6] << 8 | data[7];
        else if (lim.piece_count)
            lim.total_size = (uint64_t)(lim.piece_count - 1) * lim.piece_length + last;
    }
    if (f & 0x80)
        check_allowed_fast(data, size, &lim, data[7] % 32);

    /* The rest is a stream of messages, parsed as a connection reads them. */
    size_t pos = HDR;
    while (pos < size) {
        struct wire_msg m;
        struct shoal_perr err = {0};
        long rc = wire_parse(data + pos, size - pos, &lim, &m, &err);
        if (rc == 0) {
            if (err.why != NULL)
                abort();
            break;
        }
        if (rc < 0) {
            if ((rc != SHOAL_EPARSE && rc != SHOAL_ETOOBIG) || err.why == NULL ||
                err.off >= size - pos)
                abort();
            break;
        }
        check_msg(data + pos, size - pos, rc, &lim, &m);
        check_prefixes(data + pos, rc, &lim);
        pos += (size_t)rc;
    }
    return 0;
}
