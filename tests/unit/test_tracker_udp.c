/*
 * test_tracker_udp.c — the UDP tracker client codec (src/tracker_udp.c),
 * table-driven: the BEP 15 request layouts byte for byte, the BEP 41 URLData
 * option (the BEP's own example, chunking at 255 bytes, the size limit),
 * responses of every action for IPv4 and IPv6 sockets and what they parse
 * to, every malformed response with its offset and reason, the retransmit
 * schedule, udp:// URLs, and allocation failures.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <arpa/inet.h>
#include <cmocka.h>

#include "base/alloc.h"
#include "base/util.h"
#include "codec/tracker_udp.h"
#include "shoal.h"

#define B(s) (const uint8_t *)(s), sizeof(s) - 1

#define IH                                                                               \
    "\x12\x34\x56\x78\x9a\xbc\xde\xf1\x23\x45\x67\x89\xab\xcd\xef\x12\x34\x56\x78\x9a"
#define PID "-SH0001-abcdefghijkl"

static void
fill_announce(struct tracker_announce *a)
{
    memset(a, 0, sizeof(*a));
    memcpy(a->infohash, IH, 20);
    memcpy(a->peer_id, PID, 20);
    a->port = 6881;
    a->downloaded = 0x0102030405060708ull;
    a->left = 0x1112131415161718ull;
    a->uploaded = 0x2122232425262728ull;
    a->event = TRACKER_EVENT_STARTED;
    a->numwant = 50;
    a->key = 0xdeadbeef;
    /* HTTP-only fields, which the UDP encoder ignores. */
    a->trackerid = "ignored";
    a->compact = 1;
    a->no_peer_id = 1;
}

/* ------------------------------------------------------------------ requests */

static void
test_connect_req(void **state)
{
    (void)state;
    uint8_t out[TRACKER_UDP_CONNECT_LEN];
    assert_int_equal(tracker_udp_connect_req(out, 0x01020304), 16);
    assert_memory_equal(out,
                        "\x00\x00\x04\x17\x27\x10\x19\x80"
                        "\x00\x00\x00\x00"
                        "\x01\x02\x03\x04",
                        16);
}

/* The 98 bytes of BEP 15, field by field. */
#define ANNOUNCE_98                                                                      \
    "\x11\x22\x33\x44\x55\x66\x77\x88"            /* connection id */                    \
    "\x00\x00\x00\x01"                            /* action: announce */                 \
    "\xa1\xb2\xc3\xd4"                            /* transaction id */                   \
        IH PID "\x01\x02\x03\x04\x05\x06\x07\x08" /* downloaded */                       \
    "\x11\x12\x13\x14\x15\x16\x17\x18"            /* left */                             \
    "\x21\x22\x23\x24\x25\x26\x27\x28"            /* uploaded */                         \
    "\x00\x00\x00\x02"                            /* event: started */                   \
    "\x00\x00\x00\x00"                            /* ip: the packet's source */          \
    "\xde\xad\xbe\xef"                            /* key */                              \
    "\x00\x00\x00\x32"                            /* num_want: 50 */                     \
    "\x1a\xe1"                                    /* port 6881 */

static void
test_announce_req(void **state)
{
    (void)state;
    struct tracker_announce a;
    fill_announce(&a);
    uint8_t out[TRACKER_UDP_MAX_REQUEST];
    size_t n = tracker_udp_announce_req(out, sizeof(out), 0x1122334455667788ull,
                                        0xa1b2c3d4, &a, 0, NULL);
    assert_int_equal(n, TRACKER_UDP_ANNOUNCE_LEN);
    assert_memory_equal(out, ANNOUNCE_98, 98);

    /* An empty URLData string sends no options either. */
    assert_int_equal(
        tracker_udp_announce_req(out, 98, 0x1122334455667788ull, 0xa1b2c3d4, &a, 0, ""),
        98);
    assert_memory_equal(out, ANNOUNCE_98, 98);

    /* Events use the BEP 15 numbers; numwant < 0 is -1; the ip is sent. */
    static const struct {
        int event;
        const char *bytes;
    } events[] = {{TRACKER_EVENT_NONE, "\0\0\0\0"},
                  {TRACKER_EVENT_COMPLETED, "\0\0\0\1"},
                  {TRACKER_EVENT_STARTED, "\0\0\0\2"},
                  {TRACKER_EVENT_STOPPED, "\0\0\0\3"}};
    for (size_t i = 0; i < ARRAY_LEN(events); i++) {
        a.event = events[i].event;
        a.numwant = -7;
        assert_int_equal(
            tracker_udp_announce_req(out, sizeof(out), 1, 2, &a, 0x7f000001, NULL), 98);
        assert_memory_equal(out + 80, events[i].bytes, 4);
        assert_memory_equal(out + 84, "\x7f\x00\x00\x01", 4);
        assert_memory_equal(out + 92, "\xff\xff\xff\xff", 4);
    }

    /* Refused: unknown event, short buffer. */
    a.event = 4;
    assert_int_equal(tracker_udp_announce_req(out, sizeof(out), 1, 2, &a, 0, NULL), 0);
    a.event = -1;
    assert_int_equal(tracker_udp_announce_req(out, sizeof(out), 1, 2, &a, 0, NULL), 0);
    a.event = TRACKER_EVENT_NONE;
    assert_int_equal(tracker_udp_announce_req(out, 97, 1, 2, &a, 0, NULL), 0);
}

/* BEP 41: URLData chunks of at most 255 bytes, then EndOfOptions. */
static void
test_announce_urldata(void **state)
{
    (void)state;
    struct tracker_announce a;
    fill_announce(&a);
    uint8_t out[TRACKER_UDP_MAX_REQUEST];

    /* The BEP's own example: udp://tracker.example.com:80/dir?a=b&c=d. */
    size_t n = tracker_udp_announce_req(out, sizeof(out), 0x1122334455667788ull,
                                        0xa1b2c3d4, &a, 0, "/dir?a=b&c=d");
    assert_int_equal(n, 98 + 2 + 12 + 1);
    assert_memory_equal(out, ANNOUNCE_98, 98);
    assert_memory_equal(out + 98, "\x02\x0c/dir?a=b&c=d\x00", 15);

    /* Exactly the room needed, and one byte less. */
    assert_int_equal(tracker_udp_announce_req(out, 113, 1, 2, &a, 0, "/dir?a=b&c=d"),
                     113);
    assert_int_equal(tracker_udp_announce_req(out, 112, 1, 2, &a, 0, "/dir?a=b&c=d"), 0);

    static const struct {
        size_t len;
        size_t chunks[5];
    } sizes[] = {
        {1, {1}},
        {254, {254}},
        {255, {255}},
        {256, {255, 1}},
        {300, {255, 45}},
        {510, {255, 255}},
        {TRACKER_UDP_MAX_URLDATA, {255, 255, 255, 255, 4}},
    };
    char url[TRACKER_UDP_MAX_URLDATA + 2];
    for (size_t i = 0; i < sizeof(url) - 1; i++)
        url[i] = (char)('a' + i % 26);
    for (size_t i = 0; i < ARRAY_LEN(sizes); i++) {
        char saved = url[sizes[i].len];
        url[sizes[i].len] = '\0';
        n = tracker_udp_announce_req(out, sizeof(out), 1, 2, &a, 0, url);
        url[sizes[i].len] = saved;
        size_t o = 98, done = 0;
        for (size_t c = 0; c < 5 && sizes[i].chunks[c]; c++) {
            size_t k = sizes[i].chunks[c];
            if (out[o] != TRACKER_UDP_OPT_URLDATA || out[o + 1] != k ||
                memcmp(out + o + 2, url + done, k) != 0)
                fail_msg("urldata of %zu bytes: chunk %zu wrong", sizes[i].len, c);
            o += 2 + k;
            done += k;
        }
        assert_int_equal(done, sizes[i].len);
        assert_int_equal(out[o], TRACKER_UDP_OPT_END);
        assert_int_equal(n, o + 1);
    }
    /* The largest request is TRACKER_UDP_MAX_REQUEST bytes; more URLData is
     * refused. */
    url[TRACKER_UDP_MAX_URLDATA] = '\0';
    assert_int_equal(tracker_udp_announce_req(out, sizeof(out), 1, 2, &a, 0, url),
                     TRACKER_UDP_MAX_REQUEST);
    url[TRACKER_UDP_MAX_URLDATA] = 'x';
    url[TRACKER_UDP_MAX_URLDATA + 1] = '\0';
    assert_int_equal(tracker_udp_announce_req(out, sizeof(out), 1, 2, &a, 0, url), 0);
}

static void
test_scrape_req(void **state)
{
    (void)state;
    static const uint8_t hashes[2][20] = {IH, "bbbbbbbbbbbbbbbbbbbb"};
    uint8_t out[TRACKER_UDP_SCRAPE_LEN(TRACKER_UDP_MAX_SCRAPE)];
    assert_int_equal(tracker_udp_scrape_req(out, sizeof(out), 0x0102030405060708ull,
                                            0xcafebabe, hashes, 2),
                     56);
    assert_memory_equal(out,
                        "\x01\x02\x03\x04\x05\x06\x07\x08"
                        "\x00\x00\x00\x02"
                        "\xca\xfe\xba\xbe" IH "bbbbbbbbbbbbbbbbbbbb",
                        56);
    assert_int_equal(tracker_udp_scrape_req(out, 56, 1, 2, hashes, 2), 56);
    assert_int_equal(tracker_udp_scrape_req(out, 55, 1, 2, hashes, 2), 0);
    assert_int_equal(tracker_udp_scrape_req(out, sizeof(out), 1, 2, hashes, 0), 0);

    static uint8_t many[TRACKER_UDP_MAX_SCRAPE + 1][20];
    for (size_t i = 0; i < ARRAY_LEN(many); i++)
        memset(many[i], (int)i, 20);
    assert_int_equal(tracker_udp_scrape_req(out, sizeof(out), 1, 2,
                                            (const uint8_t(*)[20])many,
                                            TRACKER_UDP_MAX_SCRAPE),
                     16 + 20 * 74);
    assert_memory_equal(out + 16 + 20 * 73, many[73], 20);
    assert_int_equal(tracker_udp_scrape_req(out, sizeof(out), 1, 2,
                                            (const uint8_t(*)[20])many,
                                            TRACKER_UDP_MAX_SCRAPE + 1),
                     0);
}

/* ------------------------------------------------------------------ responses */

static void
peers_text(const struct tracker_peer *p, size_t n, char *out, size_t cap)
{
    size_t o = 0;
    out[0] = '\0';
    for (size_t i = 0; i < n && o < cap; i++) {
        char ip[INET6_ADDRSTRLEN];
        inet_ntop(p[i].family == 4 ? AF_INET : AF_INET6, p[i].ip, ip, sizeof(ip));
        int w = snprintf(out + o, cap - o, p[i].family == 4 ? "%s%s:%u" : "%s[%s]:%u",
                         i ? "," : "", ip, (unsigned)p[i].port);
        o += (size_t)w;
    }
}

#define TID     "\x0b\xad\xca\xfe"
#define TID_VAL 0x0badcafeu

struct good_vector {
    const char *name;
    const uint8_t *in;
    size_t len;
    int family;
    int action;
    uint64_t conn_id;
    uint32_t interval, leechers, seeders;
    const char *peers;
    size_t nscrape;
    uint32_t s0[3]; /* first scrape entry: seeders, completed, leechers */
    const char *error;
};

static const struct good_vector goods[] = {
    {"connect", B("\0\0\0\0" TID "\x01\x02\x03\x04\x05\x06\x07\x08"), 4,
     TRACKER_UDP_CONNECT, 0x0102030405060708ull},
    {"connect with extra bytes",
     B("\0\0\0\0" TID "\xff\xff\xff\xff\xff\xff\xff\xfe"
       "more"),
     6, TRACKER_UDP_CONNECT, 0xfffffffffffffffeull},
    {"announce, IPv4 peers",
     B("\0\0\0\1" TID "\0\0\x07\x08"
       "\0\0\0\x05"
       "\0\0\0\x03"
       "\x0a\x00\x00\x01\x1a\xe1"
       "\xc0\xa8\x00\x02\xc3\x50"),
     4, TRACKER_UDP_ANNOUNCE, 0, 1800, 5, 3, "10.0.0.1:6881,192.168.0.2:50000"},
    {"announce, IPv6 peers",
     B("\0\0\0\1" TID "\0\0\x03\x84"
       "\0\0\0\0"
       "\0\0\0\x01"
       "\x20\x01\x0d\xb8\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x09\x1a\xe1"),
     6, TRACKER_UDP_ANNOUNCE, 0, 900, 0, 1, "[2001:db8::9]:6881"},
    {"announce, no peers", B("\0\0\0\1" TID "\0\0\x07\x08\0\0\0\0\0\0\0\0"), 4,
     TRACKER_UDP_ANNOUNCE, 0, 1800, 0, 0, ""},
    {"announce, 12 bytes of peers on an IPv4 socket are two peers",
     B("\0\0\0\1" TID "\0\0\x07\x08\0\0\0\0\0\0\0\0"
       "\x01\x01\x01\x01\x00\x01\x02\x02\x02\x02\x00\x02"),
     4, TRACKER_UDP_ANNOUNCE, 0, 1800, 0, 0, "1.1.1.1:1,2.2.2.2:2"},
    {"announce, undialable and repeated peers dropped",
     B("\0\0\0\1" TID "\0\0\x07\x08\0\0\0\0\0\0\0\0"
       "\x01\x01\x01\x01\x00\x00"
       "\x00\x00\x00\x00\x00\x01"
       "\xe0\x00\x00\x01\x00\x01"
       "\x03\x03\x03\x03\x00\x03"
       "\x03\x03\x03\x03\x00\x03"),
     4, TRACKER_UDP_ANNOUNCE, 0, 1800, 0, 0, "3.3.3.3:3"},
    {"announce, interval clamped up", B("\0\0\0\1" TID "\0\0\0\x05\0\0\0\0\0\0\0\0"), 4,
     TRACKER_UDP_ANNOUNCE, 0, 30},
    {"announce, interval clamped down",
     B("\0\0\0\1" TID "\x7f\xff\xff\xff\0\0\0\0\0\0\0\0"), 4, TRACKER_UDP_ANNOUNCE, 0,
     86400},
    {"announce, interval zero", B("\0\0\0\1" TID "\0\0\0\0\0\0\0\0\0\0\0\0"), 4,
     TRACKER_UDP_ANNOUNCE, 0, 0},
    {"announce, interval negative", B("\0\0\0\1" TID "\xff\xff\xff\xff\0\0\0\0\0\0\0\0"),
     4, TRACKER_UDP_ANNOUNCE, 0, 0},
    {"scrape, two torrents",
     B("\0\0\0\2" TID "\0\0\0\x0b\0\0\x35\xcc\0\0\0\x13"
       "\0\0\0\x15\0\0\0\xce\0\0\0\x14"),
     4, TRACKER_UDP_SCRAPE, .nscrape = 2, .s0 = {11, 13772, 19}},
    {"scrape, nothing", B("\0\0\0\2" TID), 6, TRACKER_UDP_SCRAPE},
    {"error", B("\0\0\0\3" TID "unregistered torrent"), 4, TRACKER_UDP_ERROR,
     .error = "unregistered torrent"},
    {"error with a trailing NUL", B("\0\0\0\3" TID "bad connection id\0"), 6,
     TRACKER_UDP_ERROR, .error = "bad connection id"},
    {"error without text", B("\0\0\0\3" TID), 4, TRACKER_UDP_ERROR, .error = ""},
    {"error sanitized", B("\0\0\0\3" TID "x\x1b[2J\xff\ty"), 4, TRACKER_UDP_ERROR,
     .error = "x?[2J? y"},
    /* opentracker's reply to a stale connection id, byte for byte. */
    {"opentracker connection id error",
     B("\x00\x00\x00\x03\x0b\xad\xca\xfe\x43\x6f\x6e\x6e\x65\x63\x74\x69\x6f\x6e"
       "\x20\x49\x44\x20\x6d\x69\x73\x73\x6d\x61\x74\x63\x68\x2e\x00"),
     4, TRACKER_UDP_ERROR, .error = "Connection ID missmatch."},
    /* Shorter than an announce response: the error is read before any
     * announce length rule. */
    {"error shorter than an announce", B("\0\0\0\3" TID "denied"), 4, TRACKER_UDP_ERROR,
     .error = "denied"},
    {"error action in little-endian order", B("\3\0\0\0" TID "not whitelisted"), 6,
     TRACKER_UDP_ERROR, .error = "not whitelisted"},
    /* opentracker with a whitelist, for a torrent not on it. */
    {"announce of the header alone", B("\x00\x00\x00\x01\x0b\xad\xca\xfe"), 4,
     TRACKER_UDP_ERROR, .error = TRACKER_UDP_EMPTY_ANNOUNCE},
};

static void
test_parse_good(void **state)
{
    (void)state;
    for (size_t i = 0; i < ARRAY_LEN(goods); i++) {
        const struct good_vector *v = &goods[i];
        struct tracker_udp_response r;
        struct shoal_perr err = {0};
        int rc = tracker_udp_parse_response(v->in, v->len, TID_VAL, v->family, &r, &err);
        if (rc != 0)
            fail_msg("%s: rc %d (%s at %zu)", v->name, rc, shoal_perr_text(&err),
                     err.off);
        char peers[512];
        peers_text(r.peers, r.npeers, peers, sizeof(peers));
        if (r.action != v->action || r.tid != TID_VAL || r.conn_id != v->conn_id ||
            r.interval != v->interval || r.leechers != v->leechers ||
            r.seeders != v->seeders || strcmp(peers, v->peers ? v->peers : "") ||
            r.nscrape != v->nscrape || strcmp(r.error, v->error ? v->error : ""))
            fail_msg("%s: action %d conn %llx interval %u leechers %u seeders %u peers "
                     "'%s' nscrape %zu error '%s'",
                     v->name, r.action, (unsigned long long)r.conn_id,
                     (unsigned)r.interval, (unsigned)r.leechers, (unsigned)r.seeders,
                     peers, r.nscrape, r.error);
        if (v->nscrape) {
            assert_int_equal(r.scrape[0].seeders, v->s0[0]);
            assert_int_equal(r.scrape[0].completed, v->s0[1]);
            assert_int_equal(r.scrape[0].leechers, v->s0[2]);
        }
        if ((r.npeers == 0) != (r.peers == NULL))
            fail_msg("%s: peers pointer and count disagree", v->name);
        tracker_udp_response_cleanup(&r);
    }
}

/* The second scrape entry, and the largest scrape response. */
static void
test_parse_scrape(void **state)
{
    (void)state;
    struct tracker_udp_response r;
    assert_int_equal(
        tracker_udp_parse_response(goods[11].in, goods[11].len, TID_VAL, 4, &r, NULL), 0);
    assert_int_equal(r.scrape[1].seeders, 21);
    assert_int_equal(r.scrape[1].completed, 206);
    assert_int_equal(r.scrape[1].leechers, 20);

    uint8_t p[8 + 12 * (TRACKER_UDP_MAX_SCRAPE + 1)];
    memcpy(p, "\0\0\0\2" TID, 8);
    for (size_t i = 0; i < TRACKER_UDP_MAX_SCRAPE + 1; i++)
        memset(p + 8 + 12 * i, (int)i, 12);
    assert_int_equal(tracker_udp_parse_response(p, sizeof(p) - 12, TID_VAL, 6, &r, NULL),
                     0);
    assert_int_equal(r.nscrape, TRACKER_UDP_MAX_SCRAPE);
    assert_int_equal(r.scrape[73].leechers, 0x49494949);
    struct shoal_perr err = {0};
    assert_int_equal(tracker_udp_parse_response(p, sizeof(p), TID_VAL, 6, &r, &err),
                     SHOAL_EPARSE);
    assert_string_equal(err.why, "more scrape entries than a request can ask for");
    assert_int_equal(err.off, 8 + 12 * TRACKER_UDP_MAX_SCRAPE);
    tracker_udp_response_cleanup(&r);
}

/* A long error message is cut to the buffer at a character boundary. */
static void
test_parse_long_error(void **state)
{
    (void)state;
    uint8_t p[8 + 600];
    memcpy(p, "\0\0\0\3" TID, 8);
    for (size_t i = 8; i < sizeof(p); i += 2)
        memcpy(p + i, "\xc3\xa9", 2);
    struct tracker_udp_response r;
    assert_int_equal(tracker_udp_parse_response(p, sizeof(p), TID_VAL, 4, &r, NULL), 0);
    assert_int_equal(strlen(r.error), TRACKER_UDP_MAX_ERROR - 2);
    assert_true(utf8_valid((const uint8_t *)r.error, strlen(r.error)));
}

struct bad_vector {
    const char *name;
    const uint8_t *in;
    size_t len;
    int family;
    int rc;
    size_t off;
    const char *why;
};

static const struct bad_vector bads[] = {
    {"empty", B(""), 4, SHOAL_EPARSE, 0, "response shorter than 8 bytes"},
    {"seven bytes", B("\0\0\0\0\x0b\xad\xca"), 4, SHOAL_EPARSE, 7, NULL},
    {"transaction id mismatch", B("\0\0\0\0\x0b\xad\xca\xff\0\0\0\0\0\0\0\1"), 4,
     SHOAL_EPARSE, 4, "transaction id mismatch"},
    {"error of another transaction", B("\0\0\0\3\0\0\0\0oops"), 4, SHOAL_EPARSE, 4,
     "transaction id mismatch"},
    {"connect short", B("\0\0\0\0" TID "\1\2\3\4\5\6\7"), 4, SHOAL_EPARSE, 15,
     "connect response shorter than 16 bytes"},
    {"connect without id", B("\0\0\0\0" TID), 4, SHOAL_EPARSE, 8,
     "connect response shorter than 16 bytes"},
    {"announce short", B("\0\0\0\1" TID "\0\0\0\1\0\0\0\0\0\0\0"), 4, SHOAL_EPARSE, 19,
     "announce response shorter than 20 bytes"},
    {"announce of nine bytes", B("\0\0\0\1" TID "\0"), 4, SHOAL_EPARSE, 9,
     "announce response shorter than 20 bytes"},
    {"announce partial IPv4 peer",
     B("\0\0\0\1" TID "\0\0\0\1\0\0\0\0\0\0\0\0"
       "\1\1\1\1\0\1"
       "\2"),
     4, SHOAL_EPARSE, 26, "peer list length not a multiple of 6"},
    {"announce IPv4 peer on an IPv6 socket",
     B("\0\0\0\1" TID "\0\0\0\1\0\0\0\0\0\0\0\0"
       "\1\1\1\1\0\1"),
     6, SHOAL_EPARSE, 20, "peer list length not a multiple of 18"},
    {"announce IPv6 peer on an IPv4 socket",
     B("\0\0\0\1" TID "\0\0\0\1\0\0\0\0\0\0\0\0"
       "\x20\x01\x0d\xb8\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x09\x1a\xe1"
       "\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0"
       "\1\1"),
     4, SHOAL_EPARSE, 74, "peer list length not a multiple of 6"},
    {"scrape partial entry", B("\0\0\0\2" TID "\0\0\0\1\0\0\0\2\0\0\0"), 4, SHOAL_EPARSE,
     8, "scrape response length not a multiple of 12"},
    {"scrape trailing bytes", B("\0\0\0\2" TID "\0\0\0\1\0\0\0\2\0\0\0\3\0"), 4,
     SHOAL_EPARSE, 20, "scrape response length not a multiple of 12"},
    {"action 4", B("\0\0\0\4" TID), 4, SHOAL_EPARSE, 0, "unknown action"},
    {"action 256", B("\0\0\1\0" TID "\0\0\0\0\0\0\0\1"), 4, SHOAL_EPARSE, 0,
     "unknown action"},
    {"action -1", B("\xff\xff\xff\xff" TID), 6, SHOAL_EPARSE, 0, "unknown action"},
    /* What a confused server sends back instead of BEP 15. */
    {"an HTTP reply", B("HTTP/1.1 400 Bad Request\r\n\r\n"), 4, SHOAL_EPARSE, 4,
     "transaction id mismatch"},
    {"a bencoded reply", B("d14:failure reason3:no!e"), 4, SHOAL_EPARSE, 4,
     "transaction id mismatch"},
    {"garbage with our transaction id", B("\x5a\xa5\x00\x17" TID "\x00\xff\x10"), 4,
     SHOAL_EPARSE, 0, "unknown action"},
    {"family 5", B("\0\0\0\0" TID "\0\0\0\0\0\0\0\1"), 5, SHOAL_EINVAL, 0,
     "address family is neither 4 nor 6"},
    {"family 0", B("\0\0\0\0" TID "\0\0\0\0\0\0\0\1"), 0, SHOAL_EINVAL, 0,
     "address family is neither 4 nor 6"},
};

static void
test_parse_bad(void **state)
{
    (void)state;
    for (size_t i = 0; i < ARRAY_LEN(bads); i++) {
        const struct bad_vector *v = &bads[i];
        const char *why = v->why ? v->why : "response shorter than 8 bytes";
        struct tracker_udp_response r;
        struct shoal_perr err = {0};
        int rc = tracker_udp_parse_response(v->in, v->len, TID_VAL, v->family, &r, &err);
        if (rc != v->rc || err.off != v->off || !err.why || strcmp(err.why, why))
            fail_msg("%s: rc %d off %zu why '%s', want %d off %zu why '%s'", v->name, rc,
                     err.off, err.why ? err.why : "-", v->rc, v->off, why);
        assert_null(r.peers);
        assert_int_equal(r.npeers, 0);
        assert_int_equal(r.nscrape, 0);
        tracker_udp_response_cleanup(&r);
    }
    /* err may be NULL. */
    struct tracker_udp_response r;
    assert_int_equal(tracker_udp_parse_response(B("\0"), 1, 4, &r, NULL), SHOAL_EPARSE);
}

/* Announce responses allocate the peer list; each failure is clean. */
static void
test_parse_alloc_failures(void **state)
{
    (void)state;
    const struct good_vector *v = &goods[2];
    int ok = 0;
    for (long k = 0; k < 20 && !ok; k++) {
        struct tracker_udp_response r;
        struct shoal_perr err = {0};
        alloc_fail_after(k);
        int rc = tracker_udp_parse_response(v->in, v->len, TID_VAL, 4, &r, &err);
        alloc_fail_after(-1);
        assert_true(rc == 0 || rc == SHOAL_ENOMEM);
        if (rc == 0) {
            assert_int_equal(r.npeers, 2);
            ok = 1;
        } else {
            assert_string_equal(err.why, "out of memory");
            assert_null(r.peers);
        }
        tracker_udp_response_cleanup(&r);
    }
    assert_true(ok);
}

/* ------------------------------------------------------------------ timing */

static void
test_timeouts(void **state)
{
    (void)state;
    static const uint32_t want[] = {15, 30, 60, 120, 240, 480, 960, 1920, 3840};
    for (int n = 0; n <= TRACKER_UDP_MAX_ATTEMPT; n++) {
        assert_int_equal(tracker_udp_timeout_s(n), want[n]);
        assert_false(tracker_udp_give_up(n));
    }
    assert_int_equal(tracker_udp_timeout_s(-1), 15);
    assert_int_equal(tracker_udp_timeout_s(9), 3840);
    assert_int_equal(tracker_udp_timeout_s(1000), 3840);
    assert_true(tracker_udp_give_up(9));
    assert_true(tracker_udp_give_up(100));
    /* BEP 15 "connect times out": requests at t = 0, 15, 45, 105. */
    uint32_t t = 0;
    static const uint32_t sends[] = {0, 15, 45, 105, 225};
    for (int n = 0; n < 5; n++) {
        assert_int_equal(t, sends[n]);
        t += tracker_udp_timeout_s(n);
    }
    assert_int_equal(TRACKER_UDP_CONN_ID_TTL_S, 60);
}

/* ------------------------------------------------------------------ URLs */

struct url_vector {
    const char *url;
    int rc;
    const char *host;
    uint16_t port;
    const char *urldata;
};

static const struct url_vector urls[] = {
    {"udp://tracker.opentrackr.org:1337/announce", 0, "tracker.opentrackr.org", 1337,
     "/announce"},
    {"udp://tracker.example.com:80/dir?a=b&c=d", 0, "tracker.example.com", 80,
     "/dir?a=b&c=d"},
    {"UDP://t:80", 0, "t", 80, ""},
    {"udp://1.2.3.4:65535?passkey=a", 0, "1.2.3.4", 65535, "?passkey=a"},
    {"udp://[2001:db8::1]:6969/announce?x=1#frag", 0, "2001:db8::1", 6969,
     "/announce?x=1"},
    {"udp://[::ffff:1.2.3.4]:1/", 0, "::ffff:1.2.3.4", 1, "/"},
    {"udp://t:1#only-a-fragment", 0, "t", 1, ""},
    {"http://t:80/announce", SHOAL_EINVAL},
    {"udp:/t:80", SHOAL_EINVAL},
    {"", SHOAL_EINVAL},
    {"udp://t", SHOAL_EINVAL},
    {"udp://t/announce", SHOAL_EINVAL},
    {"udp://t:", SHOAL_EINVAL},
    {"udp://t:/announce", SHOAL_EINVAL},
    {"udp://t:0", SHOAL_EINVAL},
    {"udp://t:65536", SHOAL_EINVAL},
    {"udp://t:123456", SHOAL_EINVAL},
    {"udp://t:8a", SHOAL_EINVAL},
    {"udp://t:+80", SHOAL_EINVAL},
    {"udp://t:-1", SHOAL_EINVAL},
    {"udp://:80", SHOAL_EINVAL},
    {"udp://[]:80", SHOAL_EINVAL},
    {"udp://[::1]", SHOAL_EINVAL},
    {"udp://[::1]80", SHOAL_EINVAL},
    {"udp://[::1:80", SHOAL_EINVAL},
    {"udp://[::1%eth0]:80", SHOAL_EINVAL},
    {"udp://[tracker]:80", SHOAL_EINVAL},
    {"udp://::1:80", SHOAL_EINVAL},
    {"udp://user@t:80", SHOAL_EINVAL},
    {"udp://t:80/a b", SHOAL_EINVAL},
    {"udp://t:80/\x01", SHOAL_EINVAL},
};

static void
test_parse_url(void **state)
{
    (void)state;
    for (size_t i = 0; i < ARRAY_LEN(urls); i++) {
        const struct url_vector *v = &urls[i];
        char host[64] = "untouched", data[64] = "untouched";
        uint16_t port = 0;
        int rc =
            tracker_udp_parse_url(v->url, host, sizeof(host), &port, data, sizeof(data));
        if (rc != v->rc)
            fail_msg("%s: rc %d, want %d", v->url, rc, v->rc);
        if (rc == 0 &&
            (strcmp(host, v->host) || port != v->port || strcmp(data, v->urldata)))
            fail_msg("%s: host '%s' port %u urldata '%s'", v->url, host, (unsigned)port,
                     data);
    }
}

static void
test_parse_url_sizes(void **state)
{
    (void)state;
    char host[8], data[8];
    uint16_t port;
    /* "tracker" needs 8 bytes with its NUL. */
    assert_int_equal(tracker_udp_parse_url("udp://tracker:1/ab", host, 8, &port, data, 8),
                     0);
    assert_int_equal(
        tracker_udp_parse_url("udp://trackers:1/ab", host, 8, &port, data, 8),
        SHOAL_ETOOBIG);
    assert_int_equal(tracker_udp_parse_url("udp://t:1/abcdefg", host, 8, &port, data, 8),
                     SHOAL_ETOOBIG);
    assert_int_equal(tracker_udp_parse_url("udp://t:1/abcdef", host, 8, &port, data, 8),
                     0);
    assert_string_equal(data, "/abcdef");

    /* URLData beyond the BEP 41 budget is refused even with room for it. */
    static char url[32 + TRACKER_UDP_MAX_URLDATA + 2];
    static char big[TRACKER_UDP_MAX_URLDATA + 2];
    int n = snprintf(url, sizeof(url), "udp://t:1/");
    memset(url + n, 'a', TRACKER_UDP_MAX_URLDATA - 1);
    url[n + TRACKER_UDP_MAX_URLDATA - 1] = '\0';
    assert_int_equal(tracker_udp_parse_url(url, host, 8, &port, big, sizeof(big)), 0);
    assert_int_equal(strlen(big), TRACKER_UDP_MAX_URLDATA);
    url[n + TRACKER_UDP_MAX_URLDATA - 1] = 'a';
    url[n + TRACKER_UDP_MAX_URLDATA] = '\0';
    assert_int_equal(tracker_udp_parse_url(url, host, 8, &port, big, sizeof(big)),
                     SHOAL_ETOOBIG);
}

/* A URL's path and query go into the announce as URLData, as BEP 41 shows. */
static void
test_url_to_announce(void **state)
{
    (void)state;
    char host[64], data[TRACKER_UDP_MAX_URLDATA + 1];
    uint16_t port;
    assert_int_equal(tracker_udp_parse_url("udp://tracker.example.com:80/dir?a=b&c=d",
                                           host, sizeof(host), &port, data, sizeof(data)),
                     0);
    struct tracker_announce a;
    fill_announce(&a);
    uint8_t out[TRACKER_UDP_MAX_REQUEST];
    size_t n = tracker_udp_announce_req(out, sizeof(out), 7, 8, &a, 0, data);
    assert_int_equal(n, 113);
    assert_memory_equal(out + 98,
                        "\x02\x0c/dir?a=b&c=d"
                        "\x00",
                        15);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_connect_req),
        cmocka_unit_test(test_announce_req),
        cmocka_unit_test(test_announce_urldata),
        cmocka_unit_test(test_scrape_req),
        cmocka_unit_test(test_parse_good),
        cmocka_unit_test(test_parse_scrape),
        cmocka_unit_test(test_parse_long_error),
        cmocka_unit_test(test_parse_bad),
        cmocka_unit_test(test_parse_alloc_failures),
        cmocka_unit_test(test_timeouts),
        cmocka_unit_test(test_parse_url),
        cmocka_unit_test(test_parse_url_sizes),
        cmocka_unit_test(test_url_to_announce),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
