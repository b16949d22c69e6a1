/*
 * test_wire.c — the peer wire codec (src/wire.c), table-driven: valid
 * messages and what they parse to, "need more" on every prefix of each,
 * invalid messages with the offset and reason, encoder round trips, piece
 * bounds (the last piece is shorter), bitfield spare bits, fast messages
 * without negotiation, the handshake, and the BEP 6 allowed fast vectors.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "base/util.h"
#include "codec/wire.h"
#include "shoal.h"

/* A byte-string literal and its length, NULs included. */
#define B(s) (const uint8_t *)(s), sizeof(s) - 1

/* 10 pieces of 32 KiB and a last one of 1000 bytes. */
#define PLEN  32768u
#define COUNT 11u
#define TOTAL (10ull * PLEN + 1000)

static const struct wire_limits full = {
    .piece_count = COUNT,
    .piece_length = PLEN,
    .total_size = TOTAL,
    .max_request = 16384,
    .fast = 1,
    .extended = 1,
};

static const struct wire_limits plain = {
    .piece_count = COUNT,
    .piece_length = PLEN,
    .total_size = TOTAL,
    .max_request = 16384,
};

/* Metadata not known yet (magnet link), defaults for the request limit. */
static const struct wire_limits magnet = {.fast = 1, .extended = 1};

/* ------------------------------------------------------------------ valid */

struct good_vector {
    const char *name;
    const uint8_t *in;
    size_t len;
    const struct wire_limits *lim;
    int type;
    uint32_t index, begin, length;
    size_t data_off; /* where data points in `in`, 0 for none */
    size_t data_len;
    uint8_t ext_id;
    uint16_t port;
};

static const struct good_vector goods[] = {
    {"keepalive", B("\0\0\0\0"), &full, WIRE_KEEPALIVE},
    {"choke", B("\0\0\0\1\0"), &full, WIRE_CHOKE},
    {"unchoke", B("\0\0\0\1\1"), &full, WIRE_UNCHOKE},
    {"interested", B("\0\0\0\1\2"), &full, WIRE_INTERESTED},
    {"not interested", B("\0\0\0\1\3"), &full, WIRE_NOT_INTERESTED},
    {"have first", B("\0\0\0\5\4\0\0\0\0"), &full, WIRE_HAVE, 0},
    {"have last", B("\0\0\0\5\4\0\0\0\x0a"), &plain, WIRE_HAVE, 10},
    {"bitfield", B("\0\0\0\3\5\xff\xe0"), &full, WIRE_BITFIELD, .data_off = 5,
     .data_len = 2},
    {"bitfield empty", B("\0\0\0\3\5\0\0"), &full, WIRE_BITFIELD, .data_off = 5,
     .data_len = 2},
    {"request", B("\0\0\0\x0d\6\0\0\0\1\0\0\x40\0\0\0\x40\0"), &full, WIRE_REQUEST, 1,
     16384, 16384},
    {"request end of full piece", B("\0\0\0\x0d\6\0\0\0\x09\0\0\x7f\xff\0\0\0\1"), &full,
     WIRE_REQUEST, 9, 32767, 1},
    {"request whole last piece", B("\0\0\0\x0d\6\0\0\0\x0a\0\0\0\0\0\0\x03\xe8"), &full,
     WIRE_REQUEST, 10, 0, 1000},
    {"piece", B("\0\0\0\x0d\7\0\0\0\2\0\0\x40\0abcd"), &full, WIRE_PIECE, 2, 16384,
     .data_off = 13, .data_len = 4},
    {"piece end of last", B("\0\0\0\x0d\7\0\0\0\x0a\0\0\x03\xe4wxyz"), &full, WIRE_PIECE,
     10, 996, .data_off = 13, .data_len = 4},
    {"cancel", B("\0\0\0\x0d\x08\0\0\0\3\0\0\0\0\0\0\x40\0"), &plain, WIRE_CANCEL, 3, 0,
     16384},
    {"port", B("\0\0\0\3\x09\x1a\xe1"), &plain, WIRE_PORT, .port = 6881},
    {"suggest", B("\0\0\0\5\x0d\0\0\0\7"), &full, WIRE_SUGGEST, 7},
    {"have all", B("\0\0\0\1\x0e"), &full, WIRE_HAVE_ALL},
    {"have none", B("\0\0\0\1\x0f"), &full, WIRE_HAVE_NONE},
    {"reject", B("\0\0\0\x0d\x10\0\0\0\x0a\0\0\0\0\0\0\x03\xe8"), &full, WIRE_REJECT, 10,
     0, 1000},
    {"allowed fast", B("\0\0\0\5\x11\0\0\0\x0a"), &full, WIRE_ALLOWED_FAST, 10},
    {"extended handshake", B("\0\0\0\4\x14\0de"), &full, WIRE_EXTENDED, .data_off = 6,
     .data_len = 2, .ext_id = 0},
    {"extended empty payload", B("\0\0\0\2\x14\x03"), &full, WIRE_EXTENDED, .data_off = 6,
     .data_len = 0, .ext_id = 3},
    {"unknown id", B("\0\0\0\4\x63xyz"), &plain, 99, .data_off = 5, .data_len = 3},
    {"unknown id no payload", B("\0\0\0\1\xff"), &plain, 255, .data_off = 5},
    {"unknown id 10", B("\0\0\0\2\x0a\0"), &plain, 10, .data_off = 5, .data_len = 1},
    /* Metadata unknown: indices are not checked, bitfields of any size pass. */
    {"magnet have", B("\0\0\0\5\4\xff\xff\xff\xff"), &magnet, WIRE_HAVE, 0xffffffffu},
    {"magnet bitfield", B("\0\0\0\6\5\xff\xff\xff\xff\xff"), &magnet, WIRE_BITFIELD,
     .data_off = 5, .data_len = 5},
    {"magnet bitfield empty", B("\0\0\0\1\5"), &magnet, WIRE_BITFIELD, .data_off = 5},
    {"magnet request", B("\0\0\0\x0d\6\0\1\0\0\xff\xff\0\0\0\2\0\0"), &magnet,
     WIRE_REQUEST, 65536, 0xffff0000u, 131072},
    {"magnet piece", B("\0\0\0\x0a\7\0\0\0\x63\x7f\xff\xff\xff!"), &magnet, WIRE_PIECE,
     99, 0x7fffffffu, .data_off = 13, .data_len = 1},
};

static void
check_good(size_t i, const struct good_vector *v, const uint8_t *in, size_t len)
{
    struct wire_msg m;
    struct shoal_perr err = {0};
    long rc = wire_parse(in, len, v->lim, &m, &err);
    if (rc != (long)v->len)
        fail_msg("%s: rc %ld, want %zu (%s)", v->name, rc, v->len, shoal_perr_text(&err));
    if (m.type != v->type || m.index != v->index || m.begin != v->begin ||
        m.length != v->length || m.data_len != v->data_len || m.ext_id != v->ext_id ||
        m.port != v->port)
        fail_msg("vector %zu %s: type %d index %u begin %u length %u data_len %zu "
                 "ext %u port %u",
                 i, v->name, m.type, (unsigned)m.index, (unsigned)m.begin,
                 (unsigned)m.length, m.data_len, (unsigned)m.ext_id, (unsigned)m.port);
    if (v->data_off) {
        assert_ptr_equal(m.data, in + v->data_off);
    } else {
        assert_null(m.data);
    }
}

static void
test_good(void **state)
{
    (void)state;
    for (size_t i = 0; i < ARRAY_LEN(goods); i++)
        check_good(i, &goods[i], goods[i].in, goods[i].len);
}

/* Every proper prefix of a valid message asks for more and fills no error. */
static void
test_need_more(void **state)
{
    (void)state;
    for (size_t i = 0; i < ARRAY_LEN(goods); i++) {
        const struct good_vector *v = &goods[i];
        for (size_t n = 0; n < v->len; n++) {
            struct wire_msg m;
            struct shoal_perr err = {0};
            long rc = wire_parse(v->in, n, v->lim, &m, &err);
            if (rc != 0 || err.why != NULL)
                fail_msg("%s: prefix of %zu bytes gave %ld (%s)", v->name, n, rc,
                         err.why ? err.why : "-");
        }
    }
}

/* A message followed by more bytes takes only its own. */
static void
test_trailing_bytes(void **state)
{
    (void)state;
    uint8_t in[64];
    for (size_t i = 0; i < ARRAY_LEN(goods); i++) {
        const struct good_vector *v = &goods[i];
        assert_true(v->len + 7 <= sizeof(in));
        memcpy(in, v->in, v->len);
        memcpy(in + v->len, "\0\0\0\1\2zz", 7);
        check_good(i, v, in, v->len + 7);
    }
}

/* ------------------------------------------------------------------ invalid */

struct bad_vector {
    const char *name;
    const uint8_t *in;
    size_t len;
    const struct wire_limits *lim;
    int rc;
    size_t off;
    const char *why;
};

#define LEN_WHY   "wrong length for the message type"
#define FAST_WHY  "fast extension message without negotiation"
#define RANGE_WHY "piece index out of range"

static const struct bad_vector bads[] = {
    /* Length prefix: refused as soon as its four bytes are in. */
    {"length over the cap", B("\0\x10\0\x03"), &full, SHOAL_ETOOBIG, 0,
     "message length above the limit"},
    {"length 4 GiB", B("\xff\xff\xff\xff"), &full, SHOAL_ETOOBIG, 0,
     "message length above the limit"},
    {"unknown id over the cap", B("\0\x10\0\x03\x63"), &full, SHOAL_ETOOBIG, 0,
     "message length above the limit"},
    /* Sizes per type: refused as soon as the id is in. */
    {"choke with payload", B("\0\0\0\2\0"), &full, SHOAL_EPARSE, 0, LEN_WHY},
    {"unchoke with payload", B("\0\0\0\5\1"), &full, SHOAL_EPARSE, 0, LEN_WHY},
    {"interested with payload", B("\0\0\0\2\2"), &full, SHOAL_EPARSE, 0, LEN_WHY},
    {"not interested with payload", B("\0\0\0\2\3"), &full, SHOAL_EPARSE, 0, LEN_WHY},
    {"have short", B("\0\0\0\4\4"), &full, SHOAL_EPARSE, 0, LEN_WHY},
    {"have long", B("\0\0\0\6\4"), &full, SHOAL_EPARSE, 0, LEN_WHY},
    {"request short", B("\0\0\0\x0c\6"), &full, SHOAL_EPARSE, 0, LEN_WHY},
    {"request long", B("\0\0\0\x0e\6"), &full, SHOAL_EPARSE, 0, LEN_WHY},
    {"cancel short", B("\0\0\0\x05\x08"), &full, SHOAL_EPARSE, 0, LEN_WHY},
    {"reject long", B("\0\0\0\x11\x10"), &full, SHOAL_EPARSE, 0, LEN_WHY},
    {"port short", B("\0\0\0\2\x09"), &full, SHOAL_EPARSE, 0, LEN_WHY},
    {"port long", B("\0\0\0\5\x09"), &full, SHOAL_EPARSE, 0, LEN_WHY},
    {"suggest short", B("\0\0\0\1\x0d"), &full, SHOAL_EPARSE, 0, LEN_WHY},
    {"have all with payload", B("\0\0\0\2\x0e"), &full, SHOAL_EPARSE, 0, LEN_WHY},
    {"have none with payload", B("\0\0\0\3\x0f"), &full, SHOAL_EPARSE, 0, LEN_WHY},
    {"allowed fast long", B("\0\0\0\x09\x11"), &full, SHOAL_EPARSE, 0, LEN_WHY},
    {"piece without header", B("\0\0\0\x08\7"), &full, SHOAL_EPARSE, 0, LEN_WHY},
    {"piece empty block", B("\0\0\0\x09\7"), &full, SHOAL_EPARSE, 0, "empty piece block"},
    {"piece block over the limit", B("\0\0\x40\x0a\7"), &full, SHOAL_EPARSE, 0,
     "piece block larger than the request limit"},
    {"extended without id", B("\0\0\0\1\x14"), &full, SHOAL_EPARSE, 0, LEN_WHY},
    {"bitfield short", B("\0\0\0\2\5"), &full, SHOAL_EPARSE, 0, "wrong bitfield length"},
    {"bitfield long", B("\0\0\0\4\5"), &full, SHOAL_EPARSE, 0, "wrong bitfield length"},
    {"magnet bitfield over the cap", B("\0\x04\0\x02\5"), &magnet, SHOAL_EPARSE, 0,
     "bitfield too large"},
    /* BEP 6 and BEP 10 messages need the bit on both sides. */
    {"suggest unnegotiated", B("\0\0\0\5\x0d"), &plain, SHOAL_EPARSE, 4, FAST_WHY},
    {"have all unnegotiated", B("\0\0\0\1\x0e"), &plain, SHOAL_EPARSE, 4, FAST_WHY},
    {"have none unnegotiated", B("\0\0\0\1\x0f"), &plain, SHOAL_EPARSE, 4, FAST_WHY},
    {"reject unnegotiated", B("\0\0\0\x0d\x10"), &plain, SHOAL_EPARSE, 4, FAST_WHY},
    {"allowed fast unnegotiated", B("\0\0\0\5\x11"), &plain, SHOAL_EPARSE, 4, FAST_WHY},
    {"extended unnegotiated", B("\0\0\0\2\x14"), &plain, SHOAL_EPARSE, 4,
     "extended message without negotiation"},
    /* Contents. */
    {"bitfield spare bits", B("\0\0\0\3\5\xff\xf0"), &full, SHOAL_EPARSE, 6,
     "bitfield has spare bits set"},
    {"bitfield last spare bit", B("\0\0\0\3\5\0\x01"), &full, SHOAL_EPARSE, 6,
     "bitfield has spare bits set"},
    {"have past the end", B("\0\0\0\5\4\0\0\0\x0b"), &full, SHOAL_EPARSE, 5, RANGE_WHY},
    {"have huge index", B("\0\0\0\5\4\xff\xff\xff\xff"), &full, SHOAL_EPARSE, 5,
     RANGE_WHY},
    {"suggest past the end", B("\0\0\0\5\x0d\0\0\0\x0b"), &full, SHOAL_EPARSE, 5,
     RANGE_WHY},
    {"allowed fast past the end", B("\0\0\0\5\x11\0\0\1\0"), &full, SHOAL_EPARSE, 5,
     RANGE_WHY},
    {"request zero bytes", B("\0\0\0\x0d\6\0\0\0\1\0\0\0\0\0\0\0\0"), &full, SHOAL_EPARSE,
     13, "request for zero bytes"},
    {"request over the limit", B("\0\0\0\x0d\6\0\0\0\1\0\0\0\0\0\0\x40\x01"), &full,
     SHOAL_EPARSE, 13, "request length above the limit"},
    {"request past the end", B("\0\0\0\x0d\6\0\0\0\x0b\0\0\0\0\0\0\x40\0"), &full,
     SHOAL_EPARSE, 5, RANGE_WHY},
    {"request past a piece", B("\0\0\0\x0d\6\0\0\0\1\0\0\x7f\xf0\0\0\0\x11"), &full,
     SHOAL_EPARSE, 9, "request past the end of the piece"},
    {"request past the last piece", B("\0\0\0\x0d\6\0\0\0\x0a\0\0\x03\x84\0\0\0\xc8"),
     &full, SHOAL_EPARSE, 9, "request past the end of the piece"},
    {"request begin wraps", B("\0\0\0\x0d\6\0\0\0\0\xff\xff\xff\xff\0\0\0\2"), &full,
     SHOAL_EPARSE, 9, "request past the end of the piece"},
    {"cancel zero bytes", B("\0\0\0\x0d\x08\0\0\0\1\0\0\0\0\0\0\0\0"), &full,
     SHOAL_EPARSE, 13, "request for zero bytes"},
    {"reject past the last piece", B("\0\0\0\x0d\x10\0\0\0\x0a\0\0\0\0\0\0\x03\xe9"),
     &full, SHOAL_EPARSE, 9, "request past the end of the piece"},
    {"magnet request over the limit", B("\0\0\0\x0d\6\0\0\0\0\0\0\0\0\0\2\0\1"), &magnet,
     SHOAL_EPARSE, 13, "request length above the limit"},
    {"piece past the end", B("\0\0\0\x0a\7\0\0\0\x0b\0\0\0\0x"), &full, SHOAL_EPARSE, 5,
     RANGE_WHY},
    {"piece past the last piece", B("\0\0\0\x0d\7\0\0\0\x0a\0\0\x03\xe5wxyz"), &full,
     SHOAL_EPARSE, 9, "block past the end of the piece"},
    {"piece past a piece", B("\0\0\0\x0b\7\0\0\0\0\0\0\x7f\xffxy"), &full, SHOAL_EPARSE,
     9, "block past the end of the piece"},
};

static void
test_bad(void **state)
{
    (void)state;
    for (size_t i = 0; i < ARRAY_LEN(bads); i++) {
        const struct bad_vector *v = &bads[i];
        struct wire_msg m;
        struct shoal_perr err = {0};
        long rc = wire_parse(v->in, v->len, v->lim, &m, &err);
        if (rc != v->rc || err.why == NULL || err.off != v->off ||
            strcmp(err.why, v->why) != 0)
            fail_msg("%s: rc %ld off %zu why \"%s\" (want %d, %zu, \"%s\")", v->name, rc,
                     err.off, err.why ? err.why : "-", v->rc, v->off, v->why);
    }
}

static void
test_error_messages(void **state)
{
    (void)state;
    struct wire_msg m;
    struct shoal_perr err = {0};
    assert_int_equal(wire_parse(B("\0\0\0\4\4"), &full, &m, &err), SHOAL_EPARSE);
    assert_string_equal(shoal_perr_text(&err), "message 4 has a length of 4, want 5");
    assert_int_equal(wire_parse(B("\0\0\0\5\4\0\0\0\x0b"), &full, &m, &err),
                     SHOAL_EPARSE);
    assert_string_equal(shoal_perr_text(&err), "piece 11 of 11");
    assert_int_equal(
        wire_parse(B("\0\0\0\x0d\6\0\0\0\x0a\0\0\x03\x84\0\0\0\xc8"), &full, &m, &err),
        SHOAL_EPARSE);
    assert_string_equal(shoal_perr_text(&err),
                        "bytes 900+200 of piece 10, which has 1000");
    /* Without numbers the message is the reason itself. */
    assert_int_equal(wire_parse(B("\0\0\0\2\x14"), &plain, &m, &err), SHOAL_EPARSE);
    assert_string_equal(shoal_perr_text(&err), "extended message without negotiation");
}

/* A request limit of 0 (or above the cap) means WIRE_MAX_BLOCK. */
static void
test_request_limit_default(void **state)
{
    (void)state;
    struct wire_limits lim = {
        .piece_count = 2, .piece_length = 1u << 20, .total_size = 2u << 20};
    uint8_t in[WIRE_MAX_HEADER];
    struct wire_msg m;
    struct shoal_perr err = {0};
    for (int pass = 0; pass < 2; pass++) {
        lim.max_request = pass ? 1u << 30 : 0;
        size_t n = wire_encode_request(in, WIRE_REQUEST, 1, 0, WIRE_MAX_BLOCK);
        assert_int_equal(wire_parse(in, n, &lim, &m, &err), 17);
        n = wire_encode_request(in, WIRE_REQUEST, 1, 0, WIRE_MAX_BLOCK + 1);
        assert_int_equal(wire_parse(in, n, &lim, &m, &err), SHOAL_EPARSE);
        assert_string_equal(err.why, "request length above the limit");
    }
}

/* The largest messages of each kind fit under WIRE_MAX_MSG. */
static void
test_largest_messages(void **state)
{
    (void)state;
    struct wire_limits lim = {.piece_count = SHOAL_MAX_PIECES,
                              .piece_length = 1u << 20,
                              .total_size = (uint64_t)SHOAL_MAX_PIECES << 20,
                              .extended = 1};
    size_t cap = 6 + WIRE_MAX_EXT_PAYLOAD;
    static uint8_t big[6 + WIRE_MAX_EXT_PAYLOAD];
    struct wire_msg m;
    struct shoal_perr err = {0};

    memset(big, 0, cap);
    size_t n = wire_encode_bitfield_header(big, SHOAL_MAX_PIECES / 8);
    assert_int_equal(wire_parse(big, n + SHOAL_MAX_PIECES / 8, &lim, &m, &err),
                     5 + SHOAL_MAX_PIECES / 8);
    assert_int_equal(m.data_len, SHOAL_MAX_PIECES / 8);

    n = wire_encode_piece_header(big, 7, 0, WIRE_MAX_BLOCK);
    assert_int_equal(wire_parse(big, n + WIRE_MAX_BLOCK, &lim, &m, &err),
                     13 + WIRE_MAX_BLOCK);

    n = wire_encode_extended_header(big, 3, WIRE_MAX_EXT_PAYLOAD);
    assert_int_equal(wire_parse(big, cap, &lim, &m, &err), (long)cap);
    assert_int_equal(m.data_len, WIRE_MAX_EXT_PAYLOAD);
    assert_int_equal(m.ext_id, 3);

    /* One byte more is refused from the length prefix alone. */
    n = wire_encode_extended_header(big, 3, WIRE_MAX_EXT_PAYLOAD + 1);
    assert_int_equal(wire_parse(big, 4, &lim, &m, &err), SHOAL_ETOOBIG);
}

/* ------------------------------------------------------------------ pieces */

static void
test_piece_size(void **state)
{
    (void)state;
    assert_int_equal(wire_piece_size(&full, 0), PLEN);
    assert_int_equal(wire_piece_size(&full, 9), PLEN);
    assert_int_equal(wire_piece_size(&full, 10), 1000);
    assert_int_equal(wire_piece_size(&full, 11), 0);
    assert_int_equal(wire_piece_size(&full, UINT32_MAX), 0);
    assert_int_equal(wire_piece_size(&magnet, 0), 0);

    /* A total that is an exact multiple: the last piece is full. */
    struct wire_limits exact = {
        .piece_count = 4, .piece_length = 16384, .total_size = 4 * 16384};
    assert_int_equal(wire_piece_size(&exact, 3), 16384);
    /* One piece smaller than the piece length. */
    struct wire_limits one = {
        .piece_count = 1, .piece_length = 1u << 20, .total_size = 5};
    assert_int_equal(wire_piece_size(&one, 0), 5);
    /* Inconsistent geometry never yields more than the bytes left. */
    struct wire_limits odd = {.piece_count = 8, .piece_length = 100, .total_size = 250};
    assert_int_equal(wire_piece_size(&odd, 2), 50);
    assert_int_equal(wire_piece_size(&odd, 3), 0);
}

/* Spare bits are checked for every remainder of piece_count / 8. */
static void
test_bitfield_spare_bits(void **state)
{
    (void)state;
    for (uint32_t count = 1; count <= 24; count++) {
        struct wire_limits lim = {.piece_count = count,
                                  .piece_length = 16384,
                                  .total_size = (uint64_t)count * 16384};
        uint32_t nbytes = (count + 7) / 8;
        uint8_t in[8];
        size_t h = wire_encode_bitfield_header(in, nbytes);
        memset(in + h, 0xff, nbytes);
        if (count % 8)
            in[h + nbytes - 1] = (uint8_t)(0xff << (8 - count % 8));
        struct wire_msg m;
        struct shoal_perr err = {0};
        assert_int_equal(wire_parse(in, h + nbytes, &lim, &m, &err), (long)(h + nbytes));
        for (uint32_t bit = count; bit < nbytes * 8; bit++) {
            in[h + bit / 8] |= (uint8_t)(0x80 >> (bit % 8));
            assert_int_equal(wire_parse(in, h + nbytes, &lim, &m, &err), SHOAL_EPARSE);
            assert_string_equal(err.why, "bitfield has spare bits set");
            assert_int_equal(err.off, h + nbytes - 1);
            in[h + bit / 8] &= (uint8_t) ~(0x80 >> (bit % 8));
        }
    }
}

/* Requests at and just past the end of every piece, for several geometries. */
static void
test_request_bounds(void **state)
{
    (void)state;
    static const struct {
        uint32_t count, plen;
        uint64_t total;
    } geo[] = {
        {11, 32768, 10ull * 32768 + 1000},
        {1, 16384, 1},
        {3, 16384, 3 * 16384},
        {5, 1u << 22, 4ull * (1u << 22) + 16385},
    };
    for (size_t g = 0; g < ARRAY_LEN(geo); g++) {
        struct wire_limits lim = {.piece_count = geo[g].count,
                                  .piece_length = geo[g].plen,
                                  .total_size = geo[g].total,
                                  .max_request = 16384,
                                  .fast = 1};
        for (uint32_t i = 0; i < geo[g].count; i++) {
            uint32_t size = wire_piece_size(&lim, i);
            uint32_t len = size < 16384 ? size : 16384;
            uint8_t in[WIRE_MAX_HEADER];
            struct wire_msg m;
            struct shoal_perr err = {0};
            for (int type = WIRE_REQUEST; type <= WIRE_REJECT; type++) {
                size_t n = wire_encode_request(in, type, i, size - len, len);
                if (n == 0)
                    continue;
                assert_int_equal(wire_parse(in, n, &lim, &m, &err), 17);
                n = wire_encode_request(in, type, i, size - len + 1, len);
                assert_int_equal(wire_parse(in, n, &lim, &m, &err), SHOAL_EPARSE);
                assert_string_equal(err.why, "request past the end of the piece");
            }
            /* The same for a block. */
            uint8_t blk[13 + 16384];
            memset(blk, 'x', sizeof(blk));
            size_t n = wire_encode_piece_header(blk, i, size - len, len);
            assert_int_equal(wire_parse(blk, n + len, &lim, &m, &err), (long)(n + len));
            assert_true(m.begin + m.data_len == size);
            n = wire_encode_piece_header(blk, i, size - len + 1, len);
            assert_int_equal(wire_parse(blk, n + len, &lim, &m, &err), SHOAL_EPARSE);
            assert_string_equal(err.why, "block past the end of the piece");
        }
    }
}

/* ------------------------------------------------------------------ encoders */

static struct wire_msg
parse_ok(const uint8_t *in, size_t n)
{
    struct wire_msg m;
    struct shoal_perr err = {0};
    long rc = wire_parse(in, n, &full, &m, &err);
    if (rc != (long)n)
        fail_msg("parse of %zu encoded bytes: %ld (%s)", n, rc, shoal_perr_text(&err));
    return m;
}

static void
test_round_trips(void **state)
{
    (void)state;
    uint8_t out[WIRE_MAX_HEADER + 16];
    struct wire_msg m;
    size_t n;

    n = wire_encode_keepalive(out);
    assert_int_equal(n, 4);
    assert_int_equal(parse_ok(out, n).type, WIRE_KEEPALIVE);

    static const int simple[] = {WIRE_CHOKE,          WIRE_UNCHOKE,  WIRE_INTERESTED,
                                 WIRE_NOT_INTERESTED, WIRE_HAVE_ALL, WIRE_HAVE_NONE};
    for (size_t i = 0; i < ARRAY_LEN(simple); i++) {
        n = wire_encode_simple(out, simple[i]);
        assert_int_equal(n, 5);
        assert_int_equal(parse_ok(out, n).type, simple[i]);
    }
    static const int not_simple[] = {
        WIRE_KEEPALIVE, WIRE_HAVE, WIRE_BITFIELD, WIRE_REQUEST, WIRE_PORT,
        WIRE_EXTENDED,  99};
    for (size_t i = 0; i < ARRAY_LEN(not_simple); i++)
        assert_int_equal(wire_encode_simple(out, not_simple[i]), 0);

    n = wire_encode_have(out, 10);
    assert_int_equal(n, 9);
    m = parse_ok(out, n);
    assert_int_equal(m.type, WIRE_HAVE);
    assert_int_equal(m.index, 10);
    n = wire_encode_suggest(out, 3);
    m = parse_ok(out, n);
    assert_int_equal(m.type, WIRE_SUGGEST);
    assert_int_equal(m.index, 3);
    n = wire_encode_allowed_fast(out, 4);
    m = parse_ok(out, n);
    assert_int_equal(m.type, WIRE_ALLOWED_FAST);
    assert_int_equal(m.index, 4);
    assert_int_equal(wire_encode_index(out, WIRE_CHOKE, 1), 0);
    assert_int_equal(wire_encode_index(out, WIRE_REQUEST, 1), 0);

    static const int reqs[] = {WIRE_REQUEST, WIRE_CANCEL, WIRE_REJECT};
    for (size_t i = 0; i < ARRAY_LEN(reqs); i++) {
        n = wire_encode_request(out, reqs[i], 10, 500, 500);
        assert_int_equal(n, WIRE_MAX_HEADER);
        m = parse_ok(out, n);
        assert_int_equal(m.type, reqs[i]);
        assert_int_equal(m.index, 10);
        assert_int_equal(m.begin, 500);
        assert_int_equal(m.length, 500);
    }
    assert_int_equal(wire_encode_request(out, WIRE_PIECE, 1, 2, 3), 0);
    assert_int_equal(wire_encode_request(out, WIRE_HAVE, 1, 2, 3), 0);

    n = wire_encode_piece_header(out, 10, 990, 10);
    assert_int_equal(n, 13);
    memcpy(out + n, "0123456789", 10);
    m = parse_ok(out, n + 10);
    assert_int_equal(m.type, WIRE_PIECE);
    assert_int_equal(m.index, 10);
    assert_int_equal(m.begin, 990);
    assert_int_equal(m.data_len, 10);
    assert_ptr_equal(m.data, out + 13);
    assert_int_equal(wire_encode_piece_header(out, 0, 0, UINT32_MAX - 8), 0);

    n = wire_encode_bitfield_header(out, 2);
    assert_int_equal(n, 5);
    out[5] = 0xa5;
    out[6] = 0x80;
    m = parse_ok(out, n + 2);
    assert_int_equal(m.type, WIRE_BITFIELD);
    assert_int_equal(m.data_len, 2);
    assert_int_equal(m.data[0], 0xa5);
    assert_int_equal(wire_encode_bitfield_header(out, UINT32_MAX), 0);

    n = wire_encode_port(out, 51413);
    assert_int_equal(n, 7);
    m = parse_ok(out, n);
    assert_int_equal(m.type, WIRE_PORT);
    assert_int_equal(m.port, 51413);

    n = wire_encode_extended_header(out, 2, 3);
    assert_int_equal(n, 6);
    memcpy(out + n, "abc", 3);
    m = parse_ok(out, n + 3);
    assert_int_equal(m.type, WIRE_EXTENDED);
    assert_int_equal(m.ext_id, 2);
    assert_int_equal(m.data_len, 3);
    assert_memory_equal(m.data, "abc", 3);
    assert_int_equal(wire_encode_extended_header(out, 0, UINT32_MAX - 1), 0);
}

/* The exact bytes of a few encodings (BEP 3 and BEP 6 layouts). */
static void
test_encoded_bytes(void **state)
{
    (void)state;
    uint8_t out[WIRE_MAX_HEADER];
    assert_int_equal(wire_encode_request(out, WIRE_REQUEST, 0x01020304, 0x4000, 0x4000),
                     17);
    assert_memory_equal(out, "\0\0\0\x0d\6\1\2\3\4\0\0\x40\0\0\0\x40\0", 17);
    assert_int_equal(wire_encode_simple(out, WIRE_HAVE_NONE), 5);
    assert_memory_equal(out, "\0\0\0\1\x0f", 5);
    assert_int_equal(wire_encode_piece_header(out, 1, 2, 16384), 13);
    assert_memory_equal(out, "\0\0\x40\x09\7\0\0\0\1\0\0\0\2", 13);
    assert_int_equal(wire_encode_port(out, 6881), 7);
    assert_memory_equal(out, "\0\0\0\3\x09\x1a\xe1", 7);
    assert_int_equal(wire_encode_extended_header(out, 0, 100), 6);
    assert_memory_equal(out, "\0\0\0\x66\x14\0", 6);
    assert_int_equal(wire_encode_allowed_fast(out, 1059), 9);
    assert_memory_equal(out, "\0\0\0\5\x11\0\0\x04\x23", 9);
}

/* Several messages back to back parse one after the other. */
static void
test_stream(void **state)
{
    (void)state;
    uint8_t buf[256];
    size_t n = 0;
    n += wire_encode_bitfield_header(buf + n, 2);
    buf[n++] = 0xff;
    buf[n++] = 0xe0;
    n += wire_encode_keepalive(buf + n);
    n += wire_encode_simple(buf + n, WIRE_UNCHOKE);
    n += wire_encode_request(buf + n, WIRE_REQUEST, 10, 0, 1000);
    n += wire_encode_extended_header(buf + n, 0, 2);
    memcpy(buf + n, "de", 2);
    n += 2;
    n += wire_encode_have(buf + n, 5);
    static const int want[] = {WIRE_BITFIELD, WIRE_KEEPALIVE, WIRE_UNCHOKE,
                               WIRE_REQUEST,  WIRE_EXTENDED,  WIRE_HAVE};
    size_t pos = 0;
    for (size_t i = 0; i < ARRAY_LEN(want); i++) {
        struct wire_msg m;
        struct shoal_perr err = {0};
        long rc = wire_parse(buf + pos, n - pos, &full, &m, &err);
        assert_true(rc > 0);
        assert_int_equal(m.type, want[i]);
        pos += (size_t)rc;
    }
    assert_int_equal(pos, n);
}

/* ------------------------------------------------------------------ handshake */

static void
test_handshake(void **state)
{
    (void)state;
    uint8_t reserved[8] = {0};
    uint8_t ih[20], id[20], out[WIRE_HANDSHAKE_LEN];
    for (int i = 0; i < 20; i++) {
        ih[i] = (uint8_t)(0xa0 + i);
        id[i] = (uint8_t)('A' + i);
    }
    wire_reserved_set(reserved, WIRE_RESERVED_EXTENDED);
    wire_reserved_set(reserved, WIRE_RESERVED_FAST);
    wire_reserved_set(reserved, WIRE_RESERVED_DHT);
    assert_memory_equal(reserved, "\0\0\0\0\0\x10\0\x05", 8);
    assert_true(wire_reserved_has(reserved, WIRE_RESERVED_EXTENDED));
    assert_true(wire_reserved_has(reserved, WIRE_RESERVED_FAST));
    assert_true(wire_reserved_has(reserved, WIRE_RESERVED_DHT));
    assert_false(wire_reserved_has(reserved, 1));
    assert_false(wire_reserved_has(reserved, 63));

    wire_encode_handshake(out, reserved, ih, id);
    assert_memory_equal(out, "\023BitTorrent protocol", 20);

    struct wire_handshake hs;
    struct shoal_perr err = {0};
    assert_int_equal(wire_parse_handshake(out, sizeof(out), &hs, &err), 0);
    assert_memory_equal(hs.reserved, reserved, 8);
    assert_memory_equal(hs.infohash, ih, 20);
    assert_memory_equal(hs.peer_id, id, 20);

    /* Every prefix is a valid start. */
    for (size_t n = 0; n < WIRE_HANDSHAKE_LEN; n++) {
        assert_int_equal(wire_parse_handshake(out, n, &hs, &err), WIRE_NEED_MORE);
        assert_null(err.why);
    }
    /* Extra bytes after the 68 belong to the caller. */
    uint8_t more[WIRE_HANDSHAKE_LEN + 5];
    memcpy(more, out, sizeof(out));
    memset(more + sizeof(out), 0, 5);
    assert_int_equal(wire_parse_handshake(more, sizeof(more), &hs, &err), 0);

    /* A wrong byte in the protocol string fails as soon as it arrives. */
    for (size_t i = 0; i < 20; i++) {
        uint8_t bad[WIRE_HANDSHAKE_LEN];
        memcpy(bad, out, sizeof(bad));
        bad[i] ^= 0x20;
        for (size_t n = i + 1; n <= WIRE_HANDSHAKE_LEN; n += 67) {
            struct shoal_perr e = {0};
            assert_int_equal(wire_parse_handshake(bad, n, &hs, &e), SHOAL_EPARSE);
            assert_int_equal(e.off, i);
            assert_string_equal(e.why, "not the BitTorrent protocol");
        }
        /* Before the wrong byte arrives it still looks fine. */
        assert_int_equal(wire_parse_handshake(bad, i, &hs, &err), WIRE_NEED_MORE);
    }
    /* An HTTP request is refused at the first byte. */
    struct shoal_perr e = {0};
    assert_int_equal(wire_parse_handshake((const uint8_t *)"GET / HTTP/1.1", 14, &hs, &e),
                     SHOAL_EPARSE);
    assert_int_equal(e.off, 0);
}

/* ------------------------------------------------------------------ BEP 6 */

static const uint8_t ip_example[4] = {80, 4, 4, 200};

static void
test_allowed_fast_vectors(void **state)
{
    (void)state;
    uint8_t ih[20];
    memset(ih, 0xaa, sizeof(ih));
    uint32_t out[16];

    /* The example results in BEP 6. */
    static const uint32_t want7[] = {1059, 431, 808, 1217, 287, 376, 1188};
    assert_int_equal(wire_allowed_fast_set(ip_example, 4, ih, 1313, 7, out), 7);
    assert_memory_equal(out, want7, sizeof(want7));

    static const uint32_t want9[] = {1059, 431, 808, 1217, 287, 376, 1188, 353, 508};
    assert_int_equal(wire_allowed_fast_set(ip_example, 4, ih, 1313, 9, out), 9);
    assert_memory_equal(out, want9, sizeof(want9));

    /* The last octet is masked away. */
    static const uint8_t same_net[4] = {80, 4, 4, 1};
    assert_int_equal(wire_allowed_fast_set(same_net, 4, ih, 1313, 9, out), 9);
    assert_memory_equal(out, want9, sizeof(want9));
    static const uint8_t other_net[4] = {80, 4, 5, 200};
    assert_int_equal(wire_allowed_fast_set(other_net, 4, ih, 1313, 9, out), 9);
    assert_true(memcmp(out, want9, sizeof(want9)) != 0);
}

static void
test_allowed_fast_edges(void **state)
{
    (void)state;
    uint8_t ih[20];
    memset(ih, 0xaa, sizeof(ih));
    uint32_t out[WIRE_MAX_ALLOWED_FAST + 1];

    /* Fewer pieces than k: the whole torrent. */
    assert_int_equal(wire_allowed_fast_set(ip_example, 4, ih, 5, 10, out), 5);
    for (uint32_t i = 0; i < 5; i++)
        assert_int_equal(out[i], i);
    assert_int_equal(wire_allowed_fast_set(ip_example, 4, ih, 7, 7, out), 7);
    assert_int_equal(wire_allowed_fast_set(ip_example, 4, ih, 0, 10, out), 0);
    assert_int_equal(wire_allowed_fast_set(ip_example, 4, ih, 1313, 0, out), 0);

    /* Bad arguments. */
    assert_int_equal(wire_allowed_fast_set(ip_example, 5, ih, 1313, 7, out),
                     SHOAL_EINVAL);
    assert_int_equal(wire_allowed_fast_set(ip_example, 0, ih, 1313, 7, out),
                     SHOAL_EINVAL);
    assert_int_equal(wire_allowed_fast_set(ip_example, 4, ih, 1u << 20,
                                           WIRE_MAX_ALLOWED_FAST + 1, out),
                     SHOAL_EINVAL);

    /* k just below the piece count still finishes, with distinct indices. */
    uint32_t count = WIRE_MAX_ALLOWED_FAST + 1;
    assert_int_equal(
        wire_allowed_fast_set(ip_example, 4, ih, count, WIRE_MAX_ALLOWED_FAST, out),
        WIRE_MAX_ALLOWED_FAST);
    static uint8_t seen[WIRE_MAX_ALLOWED_FAST + 1];
    memset(seen, 0, sizeof(seen));
    for (uint32_t i = 0; i < WIRE_MAX_ALLOWED_FAST; i++) {
        assert_true(out[i] < count);
        assert_false(seen[out[i]]);
        seen[out[i]] = 1;
    }

    /* A larger k extends a smaller one (BEP 6: "the same k plus one more"). */
    uint32_t small[10], large[20];
    assert_int_equal(wire_allowed_fast_set(ip_example, 4, ih, 100000, 10, small), 10);
    assert_int_equal(wire_allowed_fast_set(ip_example, 4, ih, 100000, 20, large), 20);
    assert_memory_equal(small, large, sizeof(small));
}

static void
test_allowed_fast_ipv6(void **state)
{
    (void)state;
    uint8_t ih[20];
    memset(ih, 0x11, sizeof(ih));
    uint8_t a[16] = {0x20, 0x01, 0x0d, 0xb8, 0x12, 0x34, 0x56, 0x78,
                     0x9a, 0xbc, 0xde, 0xf0, 0x11, 0x22, 0x33, 0x44};
    uint32_t x[10], y[10];
    assert_int_equal(wire_allowed_fast_set(a, 16, ih, 5000, 10, x), 10);
    /* Same /48: the same set. */
    a[6] ^= 0xff;
    a[15] ^= 0xff;
    assert_int_equal(wire_allowed_fast_set(a, 16, ih, 5000, 10, y), 10);
    assert_memory_equal(x, y, sizeof(x));
    /* Another /48: another set. */
    a[5] ^= 0x01;
    assert_int_equal(wire_allowed_fast_set(a, 16, ih, 5000, 10, y), 10);
    assert_true(memcmp(x, y, sizeof(x)) != 0);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_good),
        cmocka_unit_test(test_need_more),
        cmocka_unit_test(test_trailing_bytes),
        cmocka_unit_test(test_bad),
        cmocka_unit_test(test_error_messages),
        cmocka_unit_test(test_request_limit_default),
        cmocka_unit_test(test_largest_messages),
        cmocka_unit_test(test_piece_size),
        cmocka_unit_test(test_bitfield_spare_bits),
        cmocka_unit_test(test_request_bounds),
        cmocka_unit_test(test_round_trips),
        cmocka_unit_test(test_encoded_bytes),
        cmocka_unit_test(test_stream),
        cmocka_unit_test(test_handshake),
        cmocka_unit_test(test_allowed_fast_vectors),
        cmocka_unit_test(test_allowed_fast_edges),
        cmocka_unit_test(test_allowed_fast_ipv6),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
