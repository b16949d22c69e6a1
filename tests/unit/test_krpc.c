/*
 * test_krpc.c — the KRPC codec (src/codec/krpc.c): BEP 5's own examples
 * byte for byte, parse-then-encode round trips of every message kind
 * (BEP 32 nodes6 and want, BEP 42 ip, BEP 43 ro, BEP 51 samples), the
 * encoders from scratch, lenient reading of what real nodes send, and every
 * rejection with its reason.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "base/alloc.h"
#include "base/buf.h"
#include "codec/krpc.h"
#include "shoal.h"

#define S(lit) lit, sizeof(lit) - 1

/* Parses then encodes: the bytes must come back the same. */
static void
roundtrip(const char *in, size_t len)
{
    struct krpc_msg m;
    struct shoal_perr err = {0};
    int rc = krpc_parse(&m, in, len, &err);
    if (rc)
        fail_msg("parse failed: %s at %zu", err.why, err.off);
    struct buf b;
    buf_init(&b, KRPC_MAX_PACKET);
    assert_int_equal(krpc_encode(&m, &b), 0);
    assert_int_equal(b.len, len);
    assert_memory_equal(b.data, in, len);
    buf_cleanup(&b);
}

/* ------------------------------------------------------------------ BEP 5 */

static void
test_bep5_ping(void **state)
{
    (void)state;
    static const char q[] = "d1:ad2:id20:abcdefghij0123456789e1:q4:ping1:t2:aa1:y1:qe";
    static const char r[] = "d1:rd2:id20:mnopqrstuvwxyz123456e1:t2:aa1:y1:re";
    struct krpc_msg m;
    assert_int_equal(krpc_parse(&m, S(q), NULL), 0);
    assert_int_equal(m.type, KRPC_QUERY);
    assert_int_equal(m.method, KRPC_PING);
    assert_int_equal(m.tid_len, 2);
    assert_memory_equal(m.tid, "aa", 2);
    assert_memory_equal(m.id, "abcdefghij0123456789", 20);
    assert_int_equal(m.ro, 0);
    assert_int_equal(krpc_parse(&m, S(r), NULL), 0);
    assert_int_equal(m.type, KRPC_RESPONSE);
    assert_memory_equal(m.id, "mnopqrstuvwxyz123456", 20);
    assert_int_equal(m.has, 0);
    roundtrip(S(q));
    roundtrip(S(r));
}

static void
test_bep5_find_node(void **state)
{
    (void)state;
    static const char q[] =
        "d1:ad2:id20:abcdefghij01234567896:target20:mnopqrstuvwxyz123456e"
        "1:q9:find_node1:t2:aa1:y1:qe";
    struct krpc_msg m;
    assert_int_equal(krpc_parse(&m, S(q), NULL), 0);
    assert_int_equal(m.method, KRPC_FIND_NODE);
    assert_memory_equal(m.target, "mnopqrstuvwxyz123456", 20);
    roundtrip(S(q));
    /* BEP 5's example reply carries "def456..." as a placeholder for the
     * nodes: 9 bytes, not whole compact nodes, so it is refused. */
    static const char r[] =
        "d1:rd2:id20:0123456789abcdefghij5:nodes9:def456...e1:t2:aa1:y1:re";
    struct shoal_perr err = {0};
    assert_int_equal(krpc_parse(&m, S(r), &err), SHOAL_EPARSE);
    assert_string_equal(err.why, "nodes not a multiple of 26 bytes");
}

static void
test_bep5_get_peers(void **state)
{
    (void)state;
    static const char q[] =
        "d1:ad2:id20:abcdefghij01234567899:info_hash20:mnopqrstuvwxyz123456e"
        "1:q9:get_peers1:t2:aa1:y1:qe";
    static const char r[] = "d1:rd2:id20:abcdefghij01234567895:token8:aoeusnth"
                            "6:valuesl6:axje.u6:idhtnmee1:t2:aa1:y1:re";
    struct krpc_msg m;
    assert_int_equal(krpc_parse(&m, S(q), NULL), 0);
    assert_int_equal(m.method, KRPC_GET_PEERS);
    assert_memory_equal(m.target, "mnopqrstuvwxyz123456", 20);
    roundtrip(S(q));
    assert_int_equal(krpc_parse(&m, S(r), NULL), 0);
    assert_int_equal(m.has, KRPC_HAS_TOKEN | KRPC_HAS_VALUES);
    assert_int_equal(m.token_len, 8);
    assert_memory_equal(m.token, "aoeusnth", 8);
    assert_int_equal(m.nvalues4, 2);
    assert_int_equal(m.nvalues6, 0);
    assert_memory_equal(m.values4[0], "axje.u", 6);
    assert_memory_equal(m.values4[1], "idhtnm", 6);
    roundtrip(S(r));
}

static void
test_bep5_announce_peer(void **state)
{
    (void)state;
    static const char q[] =
        "d1:ad2:id20:abcdefghij012345678912:implied_porti1e9:info_hash20:"
        "mnopqrstuvwxyz123456"
        "4:porti6881e5:token8:aoeusnthe1:q13:announce_peer1:t2:aa1:y1:qe";
    struct krpc_msg m;
    assert_int_equal(krpc_parse(&m, S(q), NULL), 0);
    assert_int_equal(m.method, KRPC_ANNOUNCE_PEER);
    assert_int_equal(m.implied_port, 1);
    assert_int_equal(m.port, 6881);
    assert_memory_equal(m.token, "aoeusnth", 8);
    assert_memory_equal(m.target, "mnopqrstuvwxyz123456", 20);
    roundtrip(S(q));
}

static void
test_bep5_error(void **state)
{
    (void)state;
    static const char e[] = "d1:eli201e23:A Generic Error Ocurrede1:t2:aa1:y1:ee";
    struct krpc_msg m;
    assert_int_equal(krpc_parse(&m, S(e), NULL), 0);
    assert_int_equal(m.type, KRPC_ERROR);
    assert_int_equal(m.ecode, 201);
    assert_int_equal(m.emsg.len, 23);
    assert_memory_equal(m.emsg.p, "A Generic Error Ocurred", 23);
    roundtrip(S(e));
}

/* ------------------------------------------------------------------ extensions */

static void
test_extensions_roundtrip(void **state)
{
    (void)state;
    /* What libtorrent sends: a 4-byte tid, its version, ro in a query. */
    roundtrip(S("d1:ad2:id20:abcdefghij0123456789e1:q4:ping2:roi1e1:t4:\x01\x02\x03\x04"
                "1:v4:LT\x01\x02"
                "1:y1:qe"));
    /* BEP 32 want, BEP 42 ip, nodes and nodes6 (one each). */
    roundtrip(
        S("d1:ad2:id20:abcdefghij01234567896:target20:mnopqrstuvwxyz1234564:wantl2:n42:"
          "n6ee1:q9:find_node1:t2:aa1:y1:qe"));
    roundtrip(S(
        "d2:ip6:\x7f\x00\x00\x01\x1a\xe1"
        "1:rd2:id20:abcdefghij01234567895:nodes26:ABCDEFGHIJKLMNOPQRST\x7f\x00\x00\x02"
        "\x1a\xe1"
        "6:nodes638:ABCDEFGHIJKLMNOPQRST\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00"
        "\x00\x00\x00\x01\x1a\xe1"
        "e1:t2:aa1:y1:re"));
    /* BEP 51 query and reply. */
    roundtrip(
        S("d1:ad2:id20:abcdefghij01234567896:target20:mnopqrstuvwxyz123456e1:q17:sample_"
          "infohashes1:t2:aa1:y1:qe"));
    roundtrip(S("d1:rd2:id20:abcdefghij01234567898:intervali3600e3:numi2e7:samples40:"
                "ABCDEFGHIJKLMNOPQRSTabcdefghijklmnopqrste1:t2:aa1:y1:re"));
    /* IPv6 values and an IPv6 ip. */
    roundtrip(
        S("d2:ip18:\x20\x01\x0d\xb8\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x01\x1a"
          "\xe1"
          "1:rd2:id20:abcdefghij01234567895:token4:abcd6:valuesl18:\x20\x01\x0d\xb8\x00"
          "\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x02\x1a\xe1"
          "ee1:t2:aa1:y1:re"));

    struct krpc_msg m;
    assert_int_equal(
        krpc_parse(&m,
                   S("d1:ad2:id20:abcdefghij01234567896:target20:mnopqrstuv"
                     "wxyz1234564:wantl2:n62:xxee1:q9:find_node1:t2:aa1:y1:qe"),
                   NULL),
        0);
    assert_int_equal(m.want, KRPC_WANT_N6);
    assert_int_equal(krpc_parse(&m,
                                S("d1:ad2:id20:abcdefghij0123456789e1:q4:ping2:roi1e1:t2:"
                                  "aa1:y1:qe"),
                                NULL),
                     0);
    assert_int_equal(m.ro, 1);
}

static void
test_unknown_method(void **state)
{
    (void)state;
    struct krpc_msg m;
    assert_int_equal(
        krpc_parse(&m, S("d1:ad2:id20:abcdefghij0123456789e1:q3:put1:t2:aa1:y1:qe"),
                   NULL),
        0);
    assert_int_equal(m.type, KRPC_QUERY);
    assert_int_equal(m.method, KRPC_METHOD_UNKNOWN);
    assert_memory_equal(m.tid, "aa", 2);
    /* It cannot be written back: the node answers it with error 204. */
    struct buf b;
    buf_init(&b, KRPC_MAX_PACKET);
    assert_int_equal(krpc_encode(&m, &b), SHOAL_EINVAL);
    buf_cleanup(&b);
}

static void
test_lenient_values(void **state)
{
    (void)state;
    /* Entries of other lengths and non-strings are skipped. */
    struct krpc_msg m;
    assert_int_equal(krpc_parse(&m,
                                S("d1:rd2:id20:abcdefghij01234567896:valuesl6:abcdef5:"
                                  "abcdei3e6:ghijklee1:t2:aa1:y1:re"),
                                NULL),
                     0);
    assert_int_equal(m.nvalues4, 2);
    assert_int_equal(m.values_dropped, 2);
    /* Past KRPC_MAX_VALUES per family, entries are dropped. */
    char big[1900];
    size_t n = 0;
    n += (size_t)snprintf(big + n, sizeof(big) - n,
                          "d1:rd2:id20:abcdefghij01234567896:valuesl");
    for (int i = 0; i < KRPC_MAX_VALUES + 20; i++)
        n += (size_t)snprintf(big + n, sizeof(big) - n, "6:%06d", i);
    n += (size_t)snprintf(big + n, sizeof(big) - n, "ee1:t2:aa1:y1:re");
    assert_true(n < sizeof(big));
    assert_int_equal(krpc_parse(&m, big, n, NULL), 0);
    assert_int_equal(m.nvalues4, KRPC_MAX_VALUES);
    assert_int_equal(m.values_dropped, 20);
    /* A long v is ignored; an unknown key is skipped; ro other than 1 is
     * not read-only. */
    assert_int_equal(krpc_parse(&m,
                                S("d1:ad2:id20:abcdefghij0123456789e1:q4:ping2:roi2e1:t2:"
                                  "aa1:v17:abcdefghijklmnopq1:xi1e1:y1:qe"),
                                NULL),
                     0);
    assert_int_equal(m.v_len, 0);
    assert_int_equal(m.ro, 0);
    /* Announce with implied_port and no port. */
    assert_int_equal(
        krpc_parse(&m,
                   S("d1:ad2:id20:abcdefghij012345678912:implied_porti1e9:info"
                     "_hash20:mnopqrstuvwxyz1234565:token1:xe1:q13:announce_"
                     "peer1:t2:aa1:y1:qe"),
                   NULL),
        0);
    assert_int_equal(m.implied_port, 1);
    assert_int_equal(m.has & KRPC_HAS_PORT, 0);
}

/* ------------------------------------------------------------------ rejections */

struct reject {
    const char *in;
    size_t len;
    int rc;
    const char *why;
    int query_tid; /* 1: type and tid stay set for a 203 answer */
};

#define R(lit, rc, why, q)                                                               \
    {                                                                                    \
        lit, sizeof(lit) - 1, rc, why, q                                                 \
    }

static const struct reject rejects[] = {
    R("", SHOAL_EPARSE, NULL, 0),
    R("i1e", SHOAL_EPARSE, "message is not a dictionary", 0),
    R("l1:ae", SHOAL_EPARSE, "message is not a dictionary", 0),
    R("d1:t2:aa1:y1:re garbage", SHOAL_EPARSE, NULL, 0),
    R("d1:y1:qe", SHOAL_EPARSE, "missing transaction id t", 0),
    R("d1:t0:1:y1:qe", SHOAL_EPARSE, "empty transaction id", 0),
    R("d1:t17:abcdefghijklmnopq1:y1:qe", SHOAL_EPARSE,
      "transaction id longer than 16 bytes", 0),
    R("d1:t2:aae", SHOAL_EPARSE, "missing message type y", 0),
    R("d1:t2:aa1:y1:xe", SHOAL_EPARSE, "message type y is not q, r or e", 0),
    R("d1:t2:aa1:y1:qe", SHOAL_EPARSE, "query without a method name q", 1),
    R("d1:q4:ping1:t2:aa1:y1:qe", SHOAL_EPARSE, "query without an argument dictionary a",
      1),
    R("d1:ade1:q4:ping1:t2:aa1:y1:qe", SHOAL_EPARSE, "query without a node id", 1),
    R("d1:ad2:id19:abcdefghij012345678e1:q4:ping1:t2:aa1:y1:qe", SHOAL_EPARSE,
      "node id is not 20 bytes", 1),
    R("d1:ad2:id20:abcdefghij0123456789e1:q9:find_node1:t2:aa1:y1:qe", SHOAL_EPARSE,
      "query without a target", 1),
    R("d1:ad2:id20:abcdefghij01234567896:target3:abce1:q9:find_node1:t2:aa1:y1:qe",
      SHOAL_EPARSE, "target is not 20 bytes", 1),
    R("d1:ad2:id20:abcdefghij0123456789e1:q9:get_peers1:t2:aa1:y1:qe", SHOAL_EPARSE,
      "query without an info_hash", 1),
    R("d1:ad2:id20:abcdefghij01234567899:info_hash2:abe1:q9:get_peers1:t2:aa1:y1:qe",
      SHOAL_EPARSE, "info_hash is not 20 bytes", 1),
    R("d1:ad2:id20:abcdefghij01234567899:info_hash20:mnopqrstuvwxyz1234564:porti1ee1:q13:"
      "announce_peer1:t2:aa1:y1:qe",
      SHOAL_EPARSE, "announce_peer without a token", 1),
    R("d1:ad2:id20:abcdefghij01234567899:info_hash20:mnopqrstuvwxyz1234565:token0:e1:q13:"
      "announce_peer1:t2:aa1:y1:qe",
      SHOAL_EPARSE, "announce_peer without a token", 1),
    R("d1:ad2:id20:abcdefghij01234567899:info_hash20:mnopqrstuvwxyz1234565:token1:xe1:"
      "q13:"
      "announce_peer1:t2:aa1:y1:qe",
      SHOAL_EPARSE, "announce_peer without a port", 1),
    R("d1:ad2:id20:abcdefghij01234567899:info_hash20:mnopqrstuvwxyz1234564:porti0e5:"
      "token1:"
      "xe1:q13:announce_peer1:t2:aa1:y1:qe",
      SHOAL_EPARSE, "port out of range", 1),
    R("d1:ad2:id20:abcdefghij01234567899:info_hash20:mnopqrstuvwxyz1234564:porti65536e5:"
      "token1:xe1:q13:announce_peer1:t2:aa1:y1:qe",
      SHOAL_EPARSE, "port out of range", 1),
    R("d1:ad2:id20:abcdefghij01234567899:info_hash20:mnopqrstuvwxyz1234564:porti1e5:"
      "token65:"
      "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxe1:q13:announce_"
      "peer1:t2:aa1:y1:qe",
      SHOAL_EPARSE, "token longer than 64 bytes", 1),
    R("d2:ip5:abcde1:ad2:id20:abcdefghij0123456789e1:q4:ping1:t2:aa1:y1:qe", SHOAL_EPARSE,
      "ip is neither 6 nor 18 bytes", 1),
    R("d1:t2:aa1:y1:re", SHOAL_EPARSE, "response without a dictionary r", 0),
    R("d1:rde1:t2:aa1:y1:re", SHOAL_EPARSE, "response without a node id", 0),
    R("d1:rd2:id21:abcdefghij0123456789xe1:t2:aa1:y1:re", SHOAL_EPARSE,
      "node id is not 20 bytes", 0),
    R("d1:rd2:id20:abcdefghij01234567896:nodes637:"
      "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxe1:t2:"
      "aa1:y1:re",
      SHOAL_EPARSE, "nodes6 not a multiple of 38 bytes", 0),
    R("d1:rd2:id20:abcdefghij01234567897:samples3:abce1:t2:aa1:y1:re", SHOAL_EPARSE,
      "samples not a multiple of 20 bytes", 0),
    R("d1:t2:aa1:y1:ee", SHOAL_EPARSE, "error without a list e", 0),
    R("d1:ele1:t2:aa1:y1:ee", SHOAL_EPARSE, "error list does not start with a code", 0),
    R("d1:el3:abce1:t2:aa1:y1:ee", SHOAL_EPARSE, "error list does not start with a code",
      0),
};

static void
test_rejections(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(rejects) / sizeof(rejects[0]); i++) {
        const struct reject *r = &rejects[i];
        struct krpc_msg m;
        struct shoal_perr err = {0};
        int rc = krpc_parse(&m, r->in, r->len, &err);
        if (rc != r->rc)
            fail_msg("case %zu (%s): rc %d, want %d", i, r->in, rc, r->rc);
        assert_non_null(err.why);
        assert_true(err.off <= r->len);
        if (r->why && strcmp(err.why, r->why) != 0)
            fail_msg("case %zu (%s): reason \"%s\", want \"%s\"", i, r->in, err.why,
                     r->why);
        if (r->query_tid) {
            assert_int_equal(m.type, KRPC_QUERY);
            assert_int_equal(m.tid_len, 2);
            assert_memory_equal(m.tid, "aa", 2);
        } else {
            assert_int_equal(m.tid_len, 0);
        }
    }
}

static void
test_oversized(void **state)
{
    (void)state;
    static char big[KRPC_MAX_PACKET + 1];
    memset(big, 'x', sizeof(big));
    struct krpc_msg m;
    struct shoal_perr err = {0};
    assert_int_equal(krpc_parse(&m, big, sizeof(big), &err), SHOAL_ETOOBIG);
    assert_string_equal(err.why, "datagram longer than 2048 bytes");
}

/* ------------------------------------------------------------------ encoders */

static void
encode_expect(const struct krpc_msg *m, const char *want, size_t len)
{
    struct buf b;
    buf_init(&b, KRPC_MAX_PACKET);
    assert_int_equal(krpc_encode(m, &b), 0);
    if (b.len != len || memcmp(b.data, want, len) != 0)
        fail_msg("encoded %.*s, want %.*s", (int)b.len, (const char *)b.data, (int)len,
                 want);
    buf_cleanup(&b);
}

static const uint8_t ID_A[20] = "abcdefghij0123456789";
static const uint8_t ID_M[20] = "mnopqrstuvwxyz123456";

static void
test_encode_queries(void **state)
{
    (void)state;
    struct krpc_msg m;
    krpc_query_init(&m, KRPC_PING, (const uint8_t *)"aa", 2, ID_A);
    encode_expect(&m, S("d1:ad2:id20:abcdefghij0123456789e1:q4:ping1:t2:aa1:y1:qe"));
    m.ro = 1;
    encode_expect(&m,
                  S("d1:ad2:id20:abcdefghij0123456789e1:q4:ping2:roi1e1:t2:aa1:y1:qe"));

    krpc_query_init(&m, KRPC_FIND_NODE, (const uint8_t *)"aa", 2, ID_A);
    memcpy(m.target, ID_M, 20);
    encode_expect(
        &m, S("d1:ad2:id20:abcdefghij01234567896:target20:mnopqrstuvwxyz123456e1:q9:"
              "find_node1:t2:aa1:y1:qe"));
    m.has |= KRPC_HAS_WANT;
    m.want = KRPC_WANT_N4 | KRPC_WANT_N6;
    encode_expect(&m,
                  S("d1:ad2:id20:abcdefghij01234567896:target20:mnopqrstuvwxyz1234564:"
                    "wantl2:n42:n6ee1:q9:find_node1:t2:aa1:y1:qe"));

    krpc_query_init(&m, KRPC_GET_PEERS, (const uint8_t *)"aa", 2, ID_A);
    memcpy(m.target, ID_M, 20);
    encode_expect(
        &m, S("d1:ad2:id20:abcdefghij01234567899:info_hash20:mnopqrstuvwxyz123456e1:"
              "q9:get_peers1:t2:aa1:y1:qe"));

    krpc_query_init(&m, KRPC_ANNOUNCE_PEER, (const uint8_t *)"aa", 2, ID_A);
    memcpy(m.target, ID_M, 20);
    m.has |= KRPC_HAS_PORT | KRPC_HAS_IMPLIED_PORT | KRPC_HAS_TOKEN;
    m.port = 6881;
    m.implied_port = 1;
    memcpy(m.token, "aoeusnth", 8);
    m.token_len = 8;
    encode_expect(&m,
                  S("d1:ad2:id20:abcdefghij012345678912:implied_porti1e9:info_hash20:"
                    "mnopqrstuvwxyz1234564:porti6881e5:token8:aoeusnthe1:q13:announce_"
                    "peer1:t2:aa1:y1:qe"));

    krpc_query_init(&m, KRPC_SAMPLE_INFOHASHES, (const uint8_t *)"aa", 2, ID_A);
    memcpy(m.target, ID_M, 20);
    encode_expect(&m,
                  S("d1:ad2:id20:abcdefghij01234567896:target20:mnopqrstuvwxyz123456e1:"
                    "q17:sample_infohashes1:t2:aa1:y1:qe"));
}

static void
test_encode_responses(void **state)
{
    (void)state;
    struct krpc_msg m;
    krpc_response_init(&m, (const uint8_t *)"aa", 2, ID_M);
    encode_expect(&m, S("d1:rd2:id20:mnopqrstuvwxyz123456e1:t2:aa1:y1:re"));

    krpc_response_init(&m, (const uint8_t *)"aa", 2, ID_A);
    m.has |= KRPC_HAS_TOKEN | KRPC_HAS_VALUES;
    memcpy(m.token, "aoeusnth", 8);
    m.token_len = 8;
    memcpy(m.values4[0], "axje.u", 6);
    memcpy(m.values4[1], "idhtnm", 6);
    m.nvalues4 = 2;
    encode_expect(&m,
                  S("d1:rd2:id20:abcdefghij01234567895:token8:aoeusnth6:valuesl6:axje.u6:"
                    "idhtnmee1:t2:aa1:y1:re"));

    uint8_t node[KRPC_NODE4_LEN];
    static const uint8_t lo[4] = {127, 0, 0, 2};
    assert_int_equal(krpc_put_node(node, ID_M, lo, 4, 6881), KRPC_NODE4_LEN);
    krpc_response_init(&m, (const uint8_t *)"aa", 2, ID_A);
    m.has |= KRPC_HAS_NODES | KRPC_HAS_IP;
    m.nodes.p = node;
    m.nodes.len = sizeof(node);
    assert_int_equal(krpc_put_peer(m.ip, lo, 4, 6881), 6);
    m.ip_len = 6;
    encode_expect(
        &m, S("d2:ip6:\x7f\x00\x00\x02\x1a\xe1"
              "1:rd2:id20:abcdefghij01234567895:nodes26:mnopqrstuvwxyz123456\x7f\x00"
              "\x00\x02\x1a\xe1"
              "e1:t2:aa1:y1:re"));

    krpc_error_init(&m, (const uint8_t *)"aa", 2, KRPC_ERR_GENERIC,
                    "A Generic Error Ocurred");
    encode_expect(&m, S("d1:eli201e23:A Generic Error Ocurrede1:t2:aa1:y1:ee"));
}

static void
test_encode_refusals(void **state)
{
    (void)state;
    struct krpc_msg m;
    struct buf b;
    buf_init(&b, KRPC_MAX_PACKET);
    /* No tid. */
    krpc_query_init(&m, KRPC_PING, (const uint8_t *)"", 0, ID_A);
    assert_int_equal(krpc_encode(&m, &b), SHOAL_EINVAL);
    /* Announce with neither port nor implied_port, or without a token. */
    krpc_query_init(&m, KRPC_ANNOUNCE_PEER, (const uint8_t *)"aa", 2, ID_A);
    m.has |= KRPC_HAS_TOKEN;
    m.token_len = 1;
    assert_int_equal(krpc_encode(&m, &b), SHOAL_EINVAL);
    m.has |= KRPC_HAS_PORT;
    m.port = 1;
    m.has &= ~KRPC_HAS_TOKEN;
    assert_int_equal(krpc_encode(&m, &b), SHOAL_EINVAL);
    /* Nodes that are not whole entries. */
    krpc_response_init(&m, (const uint8_t *)"aa", 2, ID_A);
    m.has |= KRPC_HAS_NODES;
    m.nodes.p = ID_A;
    m.nodes.len = 20;
    assert_int_equal(krpc_encode(&m, &b), SHOAL_EINVAL);
    /* ip of a bad length. */
    krpc_response_init(&m, (const uint8_t *)"aa", 2, ID_A);
    m.has |= KRPC_HAS_IP;
    m.ip_len = 4;
    assert_int_equal(krpc_encode(&m, &b), SHOAL_EINVAL);
    assert_int_equal(b.len, 0);
    /* A buffer too small for the message. */
    struct buf small;
    buf_init(&small, 10);
    krpc_query_init(&m, KRPC_PING, (const uint8_t *)"aa", 2, ID_A);
    assert_int_equal(krpc_encode(&m, &small), SHOAL_ETOOBIG);
    buf_cleanup(&small);
    buf_cleanup(&b);
}

static void
test_method_names(void **state)
{
    (void)state;
    assert_string_equal(krpc_method_name(KRPC_PING), "ping");
    assert_string_equal(krpc_method_name(KRPC_SAMPLE_INFOHASHES), "sample_infohashes");
    assert_null(krpc_method_name(KRPC_METHOD_UNKNOWN));
    assert_null(krpc_method_name(99));
}

static void
test_alloc_failure(void **state)
{
    (void)state;
    static const char q[] = "d1:ad2:id20:abcdefghij0123456789e1:q4:ping1:t2:aa1:y1:qe";
    struct krpc_msg m;
    alloc_fail_after(0);
    int rc = krpc_parse(&m, S(q), NULL);
    alloc_fail_after(-1);
    assert_int_equal(rc, SHOAL_ENOMEM);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bep5_ping),
        cmocka_unit_test(test_bep5_find_node),
        cmocka_unit_test(test_bep5_get_peers),
        cmocka_unit_test(test_bep5_announce_peer),
        cmocka_unit_test(test_bep5_error),
        cmocka_unit_test(test_extensions_roundtrip),
        cmocka_unit_test(test_unknown_method),
        cmocka_unit_test(test_lenient_values),
        cmocka_unit_test(test_rejections),
        cmocka_unit_test(test_oversized),
        cmocka_unit_test(test_encode_queries),
        cmocka_unit_test(test_encode_responses),
        cmocka_unit_test(test_encode_refusals),
        cmocka_unit_test(test_method_names),
        cmocka_unit_test(test_alloc_failure),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
