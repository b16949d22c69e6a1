/*
 * test_tracker_req.c — the tracker server codec (src/tracker_req.c),
 * table-driven: HTTP announce queries and what they parse to, every bad
 * query with its offset and reason, scrape queries, the bencoded replies
 * byte for byte, UDP requests (BEP 15 with BEP 41 options) good and bad,
 * UDP responses byte for byte, and stateless connection ids.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/un.h>

#include "base/buf.h"
#include "base/siphash.h"
#include "codec/tracker_req.h"
#include "shoal.h"

/* A byte-string literal and its length, NULs included. */
#define B(s) (const uint8_t *)(s), sizeof(s) - 1

/* info_hash 00 01 .. 13, percent-encoded; peer_id in plain text. */
#define IH  "%00%01%02%03%04%05%06%07%08%09%0a%0b%0c%0d%0e%0f%10%11%12%13"
#define PID "-SH0001-abcdefghijkl"
#define REQ "info_hash=" IH "&peer_id=" PID "&port=6881"

static const uint8_t ih_bytes[20] = {0,  1,  2,  3,  4,  5,  6,  7,  8,  9,
                                     10, 11, 12, 13, 14, 15, 16, 17, 18, 19};

/* ------------------------------------------------------------------ announce */

struct good_announce {
    const char *name;
    const char *q;
    uint16_t port;
    uint64_t uploaded, downloaded, left;
    int event, paused, compact, no_peer_id;
    uint32_t numwant;
    const char *key, *trackerid, *ip, *ipv4, *ipv6;
};

#define NONE TRACKER_REQ_EVENT_NONE
#define ALL  UINT64_MAX

static const struct good_announce goods[] = {
    {"minimal", REQ, 6881, 0, 0, ALL, NONE, 0, 1, 0, 50},
    {"typical",
     REQ "&uploaded=10&downloaded=20&left=30&event=started&compact=1&numwant=80"
         "&key=ab%2Fc&no_peer_id=1&supportcrypto=1",
     6881, 10, 20, 30, TRACKER_REQ_EVENT_STARTED, 0, 1, 1, 80, "ab%2Fc"},
    {"order does not matter", "port=1&peer_id=" PID "&left=0&info_hash=" IH, 1, 0, 0, 0,
     NONE, 0, 1, 0, 50},
    {"completed", REQ "&event=completed&left=0", 6881, 0, 0, 0,
     TRACKER_REQ_EVENT_COMPLETED, 0, 1, 0, 50},
    {"stopped", REQ "&event=stopped", 6881, 0, 0, ALL, TRACKER_REQ_EVENT_STOPPED, 0, 1, 0,
     50},
    {"empty event", REQ "&event=", 6881, 0, 0, ALL, NONE, 0, 1, 0, 50},
    {"event empty", REQ "&event=empty", 6881, 0, 0, ALL, NONE, 0, 1, 0, 50},
    {"paused (BEP 21)", REQ "&event=paused", 6881, 0, 0, ALL, NONE, 1, 1, 0, 50},
    {"compact 0", REQ "&compact=0", 6881, 0, 0, ALL, NONE, 0, 0, 0, 50},
    {"numwant 0", REQ "&numwant=0", 6881, 0, 0, ALL, NONE, 0, 1, 0, 0},
    {"numwant capped", REQ "&numwant=5000", 6881, 0, 0, ALL, NONE, 0, 1, 0, 200},
    {"numwant huge", REQ "&numwant=99999999999999999999999", 6881, 0, 0, ALL, NONE, 0, 1,
     0, 200},
    {"numwant -1", REQ "&numwant=-1", 6881, 0, 0, ALL, NONE, 0, 1, 0, 50},
    {"numwant garbage", REQ "&numwant=lots", 6881, 0, 0, ALL, NONE, 0, 1, 0, 50},
    {"numwant empty", REQ "&numwant=", 6881, 0, 0, ALL, NONE, 0, 1, 0, 50},
    {"max numbers", REQ "&uploaded=18446744073709551615&left=0&downloaded=0", 6881,
     UINT64_MAX, 0, 0, NONE, 0, 1, 0, 50},
    {"port max", "info_hash=" IH "&peer_id=" PID "&port=65535", 65535, 0, 0, ALL, NONE, 0,
     1, 0, 50},
    {"repeated port: last wins", REQ "&port=7000", 7000, 0, 0, ALL, NONE, 0, 1, 0, 50},
    {"empty pairs skipped", "&&" REQ "&&&", 6881, 0, 0, ALL, NONE, 0, 1, 0, 50},
    {"unknown params ignored", REQ "&foo=%zz&bar&=x&requirecrypto=1", 6881, 0, 0, ALL,
     NONE, 0, 1, 0, 50},
    {"addresses recorded",
     REQ "&ip=10.0.0.1&ipv6=%5B2001%3Adb8%3A%3A1%5D%3A6881&ipv4=1.2.3.4", 6881, 0, 0, ALL,
     NONE, 0, 1, 0, 50, NULL, NULL, "10.0.0.1", "1.2.3.4", "[2001:db8::1]:6881"},
    {"trackerid", REQ "&trackerid=xyz", 6881, 0, 0, ALL, NONE, 0, 1, 0, 50, NULL, "xyz"},
    {"plus kept in a hash",
     "info_hash=+%01%02%03%04%05%06%07%08%09%0a%0b%0c%0d%0e%0f%10%11"
     "%12%13&peer_id=" PID "&port=1",
     1, 0, 0, ALL, NONE, 0, 1, 0, 50},
};

static void
check_slice(const char *name, const char *p, size_t n, const char *want)
{
    if (!want) {
        if (p)
            fail_msg("%s: slice set, want absent", name);
        return;
    }
    if (!p || n != strlen(want) || memcmp(p, want, n) != 0)
        fail_msg("%s: slice \"%.*s\", want \"%s\"", name, p ? (int)n : 0, p ? p : "",
                 want);
}

static void
test_announce_good(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(goods) / sizeof(goods[0]); i++) {
        const struct good_announce *v = &goods[i];
        struct tracker_req_announce a;
        struct shoal_perr err = {0};
        int rc = tracker_req_parse_announce(v->q, strlen(v->q), &a, &err);
        if (rc != 0)
            fail_msg("%s: rc %d at %zu: %s", v->name, rc, err.off, shoal_perr_text(&err));
        if (strstr(v->q, "info_hash=+"))
            assert_int_equal(a.info_hash[0], '+');
        else
            assert_memory_equal(a.info_hash, ih_bytes, 20);
        assert_memory_equal(a.peer_id, PID, 20);
        if (a.port != v->port || a.uploaded != v->uploaded ||
            a.downloaded != v->downloaded || a.left != v->left || a.event != v->event ||
            a.paused != v->paused || a.compact != v->compact ||
            a.no_peer_id != v->no_peer_id || a.numwant != v->numwant)
            fail_msg("%s: port %u up %llu down %llu left %llu event %d paused %d compact "
                     "%d npi %d numwant %u",
                     v->name, a.port, (unsigned long long)a.uploaded,
                     (unsigned long long)a.downloaded, (unsigned long long)a.left,
                     a.event, a.paused, a.compact, a.no_peer_id, a.numwant);
        check_slice(v->name, a.key, a.key_len, v->key);
        check_slice(v->name, a.trackerid, a.trackerid_len, v->trackerid);
        assert_string_equal(a.ip, v->ip ? v->ip : "");
        assert_string_equal(a.ipv4, v->ipv4 ? v->ipv4 : "");
        assert_string_equal(a.ipv6, v->ipv6 ? v->ipv6 : "");
    }
}

struct bad_query {
    const char *name;
    const char *q;
    int code;
    const char *at; /* the error offset is where this first occurs ... */
    int delta;      /* ... plus this; at NULL: the end of the query */
    const char *why;
};

static const struct bad_query bads[] = {
    {"no info_hash", "peer_id=" PID "&port=1", SHOAL_EPARSE, NULL, 0,
     "info_hash missing"},
    {"no peer_id", "info_hash=" IH "&port=1", SHOAL_EPARSE, NULL, 0, "peer_id missing"},
    {"no port", "info_hash=" IH "&peer_id=" PID, SHOAL_EPARSE, NULL, 0, "port missing"},
    {"empty query", "", SHOAL_EPARSE, NULL, 0, "info_hash missing"},
    {"info_hash short", "info_hash=%00%01&peer_id=" PID "&port=1", SHOAL_EPARSE,
     "info_hash", 0, "value is not 20 bytes"},
    {"info_hash long", "info_hash=" IH "x&peer_id=" PID "&port=1", SHOAL_EPARSE,
     "info_hash", 0, "value is not 20 bytes"},
    {"info_hash far too long", "info_hash=" IH IH "&peer_id=" PID "&port=1", SHOAL_EPARSE,
     "info_hash", 0, "value is not 20 bytes"},
    {"info_hash empty", "info_hash&peer_id=" PID "&port=1", SHOAL_EPARSE, "info_hash", 0,
     "value is not 20 bytes"},
    {"info_hash bad escape",
     "info_hash=%0g%01%02%03%04%05%06%07%08%09%0a%0b%0c%0d%0e%0f"
     "%10%11%12%13&peer_id=" PID "&port=1",
     SHOAL_EPARSE, "%0g", 0, "bad percent escape"},
    {"info_hash cut escape",
     "peer_id=" PID "&port=1&info_hash=%00%01%02%03%04%05%06%07"
     "%08%09%0a%0b%0c%0d%0e%0f%10%11%12%1",
     SHOAL_EPARSE, "%12%1", 3, "bad percent escape"},
    {"info_hash repeated", REQ "&info_hash=" IH, SHOAL_EPARSE, "&info_hash", 1,
     "info_hash repeated"},
    {"peer_id short", "info_hash=" IH "&peer_id=abc&port=1", SHOAL_EPARSE, "peer_id", 0,
     "value is not 20 bytes"},
    {"port 0", "info_hash=" IH "&peer_id=" PID "&port=0", SHOAL_EPARSE, "port=", 5,
     "port 0"},
    {"port 65536", "info_hash=" IH "&peer_id=" PID "&port=65536", SHOAL_EPARSE,
     "port=", 5, "port above 65535"},
    {"port garbage", "info_hash=" IH "&peer_id=" PID "&port=68x1", SHOAL_EPARSE,
     "port=", 5, "port is not a number"},
    {"port negative", "info_hash=" IH "&peer_id=" PID "&port=-1", SHOAL_EPARSE,
     "port=", 5, "port is not a number"},
    {"port empty", "info_hash=" IH "&peer_id=" PID "&port=", SHOAL_EPARSE, "port=", 5,
     "port is not a number"},
    {"port leading zero", "info_hash=" IH "&peer_id=" PID "&port=06881", SHOAL_EPARSE,
     "port=", 5, "port is not a number"},
    {"uploaded garbage", REQ "&uploaded=1e3", SHOAL_EPARSE, "uploaded=", 9,
     "uploaded is not a number"},
    {"downloaded negative", REQ "&downloaded=-5", SHOAL_EPARSE, "downloaded=", 11,
     "downloaded is not a number"},
    {"left overflow", REQ "&left=18446744073709551616", SHOAL_EPARSE, "left=", 5,
     "left is not a number"},
    {"left empty", REQ "&left=", SHOAL_EPARSE, "left=", 5, "left is not a number"},
    {"left spaces", REQ "&left=%2010", SHOAL_EPARSE, "left=", 5, "left is not a number"},
    {"unknown event", REQ "&event=start", SHOAL_EPARSE, "event=", 6, "unknown event"},
    {"event case", REQ "&event=Started", SHOAL_EPARSE, "event=", 6, "unknown event"},
    {"compact 2", REQ "&compact=2", SHOAL_EPARSE, "compact=", 8, "compact is not 0 or 1"},
    {"compact empty", REQ "&compact", SHOAL_EPARSE, "compact", 7,
     "compact is not 0 or 1"},
    {"no_peer_id yes", REQ "&no_peer_id=yes", SHOAL_EPARSE, "no_peer_id=", 11,
     "no_peer_id is not 0 or 1"},
    {"ip bad escape", REQ "&ip=1.2.3.%", SHOAL_EPARSE, "1.2.3.%", 6,
     "bad percent escape"},
    {"ip NUL", REQ "&ip=1.2.3.4%00x", SHOAL_EPARSE, "&ip", 1,
     "address contains a NUL byte"},
    {"ip too long",
     REQ "&ipv6=0123456789012345678901234567890123456789012345678901234567890123",
     SHOAL_EPARSE, "&ipv6", 1, "address too long"},
};

static void
test_announce_bad(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(bads) / sizeof(bads[0]); i++) {
        const struct bad_query *v = &bads[i];
        struct tracker_req_announce a;
        struct shoal_perr err = {0};
        size_t len = strlen(v->q);
        int rc = tracker_req_parse_announce(v->q, len, &a, &err);
        size_t off =
            v->at ? (size_t)(strstr(v->q, v->at) - v->q) + (size_t)v->delta : len;
        if (rc != v->code || err.off != off || !err.why || strcmp(err.why, v->why) != 0)
            fail_msg("%s: rc %d off %zu why \"%s\"; want %d off %zu \"%s\"", v->name, rc,
                     err.off, err.why ? err.why : "(null)", v->code, off, v->why);
    }
}

static void
test_announce_limits(void **state)
{
    (void)state;
    /* Exactly at the limit parses; one byte more is refused before parsing. */
    char q[TRACKER_REQ_MAX_QUERY + 2];
    size_t n = strlen(REQ);
    memcpy(q, REQ "&pad=", n + 5);
    memset(q + n + 5, 'x', sizeof(q) - n - 5);
    struct tracker_req_announce a;
    struct shoal_perr err = {0};
    assert_int_equal(tracker_req_parse_announce(q, TRACKER_REQ_MAX_QUERY, &a, &err), 0);
    assert_int_equal(tracker_req_parse_announce(q, TRACKER_REQ_MAX_QUERY + 1, &a, &err),
                     SHOAL_ETOOBIG);
    assert_int_equal(err.off, TRACKER_REQ_MAX_QUERY);
    assert_string_equal(err.why, "query too long");
    assert_string_equal(shoal_perr_text(&err), "query of 4097 bytes, the limit is 4096");

    /* The fuller message names the field and the decoded length. */
    const char *s = "info_hash=%00%01&peer_id=" PID "&port=1";
    assert_int_equal(tracker_req_parse_announce(s, strlen(s), &a, &err), SHOAL_EPARSE);
    assert_string_equal(shoal_perr_text(&err), "info_hash decodes to 2 bytes, want 20");
    s = "info_hash=" IH "&peer_id=x&port=1";
    assert_int_equal(tracker_req_parse_announce(s, strlen(s), &a, &err), SHOAL_EPARSE);
    assert_string_equal(shoal_perr_text(&err), "peer_id decodes to 1 bytes, want 20");

    /* A NUL inside the query is just a byte: here, garbage in a number. */
    const char withnul[] = REQ "&left=1\0";
    assert_int_equal(tracker_req_parse_announce(withnul, sizeof(withnul) - 1, &a, &err),
                     SHOAL_EPARSE);
    assert_string_equal(err.why, "left is not a number");
    /* err may be NULL. */
    assert_int_equal(tracker_req_parse_announce("x", 1, &a, NULL), SHOAL_EPARSE);
}

/* ------------------------------------------------------------------ scrape */

static void
test_scrape_parse(void **state)
{
    (void)state;
    uint8_t out[4][20];
    size_t n = 99;
    struct shoal_perr err = {0};
    const char *q = "info_hash=" IH "&foo=bar&info_hash=%ff%ff%ff%ff%ff%ff%ff%ff%ff%ff"
                    "%ff%ff%ff%ff%ff%ff%ff%ff%ff%ff&info_hash=" IH;
    assert_int_equal(tracker_req_parse_scrape(q, strlen(q), out, 4, &n, &err), 0);
    assert_int_equal(n, 3);
    assert_memory_equal(out[0], ih_bytes, 20);
    for (int i = 0; i < 20; i++)
        assert_int_equal(out[1][i], 0xff);
    assert_memory_equal(out[2], ih_bytes, 20);

    /* No info_hash: a full scrape request, which the server may refuse. */
    assert_int_equal(tracker_req_parse_scrape("", 0, out, 4, &n, &err), 0);
    assert_int_equal(n, 0);

    /* More than max. */
    q = "info_hash=" IH "&info_hash=" IH "&info_hash=" IH;
    assert_int_equal(tracker_req_parse_scrape(q, strlen(q), out, 2, &n, &err),
                     SHOAL_ETOOBIG);
    assert_string_equal(err.why, "too many info_hash");
    assert_int_equal(err.off, 2 * (strlen("info_hash=" IH) + 1));
    assert_string_equal(shoal_perr_text(&err), "more than 2 info_hash in one scrape");

    q = "info_hash=" IH "&info_hash=%01";
    assert_int_equal(tracker_req_parse_scrape(q, strlen(q), out, 4, &n, &err),
                     SHOAL_EPARSE);
    assert_string_equal(err.why, "value is not 20 bytes");
    assert_int_equal(err.off, strlen("info_hash=" IH) + 1);

    char big[TRACKER_REQ_MAX_QUERY + 1];
    memset(big, 'a', sizeof(big));
    assert_int_equal(tracker_req_parse_scrape(big, sizeof(big), out, 4, &n, &err),
                     SHOAL_ETOOBIG);
    assert_string_equal(err.why, "query too long");
}

/* ------------------------------------------------------------------ replies */

static void
expect_buf(const struct buf *b, const uint8_t *want, size_t n)
{
    if (b->len != n || memcmp(b->data, want, n) != 0)
        fail_msg("got %zu bytes \"%.*s\", want %zu \"%.*s\"", b->len, (int)b->len,
                 (const char *)b->data, n, (int)n, (const char *)want);
}

static const uint8_t p4[12] = {10, 0, 0, 1, 0x1a, 0xe1, 192, 168, 1, 2, 0, 80};
static const uint8_t p6[18] = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0,    0,
                               0,    0,    0,    0,    0, 0, 1, 0x1a, 0xe2};

static void
test_announce_reply(void **state)
{
    (void)state;
    struct buf b;
    buf_init(&b, 1 << 16);

    assert_int_equal(
        tracker_req_encode_announce_reply(&b, 1800, 0, 3, 4, p4, 12, NULL, 0, 1, NULL),
        0);
    expect_buf(&b, B("d8:completei3e10:incompletei4e8:intervali1800e5:peers12:"
                     "\x0a\x00\x00\x01\x1a\xe1\xc0\xa8\x01\x02\x00\x50"
                     "e"));

    buf_reset(&b);
    assert_int_equal(tracker_req_encode_announce_reply(&b, 1800, 900, 0, 0, NULL, 0, p6,
                                                       18, 1, "be nice"),
                     0);
    expect_buf(&b, B("d8:completei0e10:incompletei0e8:intervali1800e12:min intervali900e"
                     "5:peers0:6:peers618:"
                     "\x20\x01\x0d\xb8\0\0\0\0\0\0\0\0\0\0\0\x01\x1a\xe2"
                     "15:warning message7:be nicee"));

    buf_reset(&b);
    assert_int_equal(
        tracker_req_encode_announce_reply(&b, 60, 30, 1, 2, p4, 12, p6, 18, 0, NULL), 0);
    expect_buf(&b, B("d8:completei1e10:incompletei2e8:intervali60e12:min intervali30e"
                     "5:peersl"
                     "d2:ip8:10.0.0.14:porti6881ee"
                     "d2:ip11:192.168.1.24:porti80ee"
                     "d2:ip11:2001:db8::14:porti6882ee"
                     "ee"));

    /* Records must be whole. */
    buf_reset(&b);
    assert_int_equal(
        tracker_req_encode_announce_reply(&b, 60, 0, 0, 0, p4, 7, NULL, 0, 1, NULL),
        SHOAL_EINVAL);
    assert_int_equal(
        tracker_req_encode_announce_reply(&b, 60, 0, 0, 0, NULL, 0, p6, 6, 1, NULL),
        SHOAL_EINVAL);
    assert_int_equal(b.len, 0);

    /* Appends after what is there; a reply that does not fit leaves it. */
    buf_cleanup(&b);
    buf_init(&b, 60);
    buf_append(&b, "HDR", 3);
    assert_int_equal(
        tracker_req_encode_announce_reply(&b, 1800, 0, 3, 4, p4, 12, NULL, 0, 1, NULL),
        SHOAL_ETOOBIG);
    assert_int_equal(b.len, 3);
    buf_cleanup(&b);
}

static void
test_failure_reply(void **state)
{
    (void)state;
    struct buf b;
    buf_init(&b, 1024);
    assert_int_equal(tracker_req_encode_failure(&b, "unregistered torrent"), 0);
    expect_buf(&b, B("d14:failure reason20:unregistered torrente"));
    buf_reset(&b);
    assert_int_equal(tracker_req_encode_failure(&b, ""), 0);
    expect_buf(&b, B("d14:failure reason0:e"));
    buf_cleanup(&b);
}

static void
test_scrape_reply(void **state)
{
    (void)state;
    struct tracker_req_scrape_entry e[3] = {
        {.complete = 5, .downloaded = 7, .incomplete = 1},
        {.complete = 0, .downloaded = 0, .incomplete = 0},
        {.complete = 9, .downloaded = 9, .incomplete = 9},
    };
    memset(e[0].info_hash, 'b', 20);
    memset(e[1].info_hash, 'a', 20);
    memset(e[2].info_hash, 'b', 20); /* repeat: written once */
    struct buf b;
    buf_init(&b, 1024);
    assert_int_equal(tracker_req_encode_scrape_reply(&b, e, 3), 0);
    expect_buf(&b,
               B("d5:filesd"
                 "20:aaaaaaaaaaaaaaaaaaaad8:completei0e10:downloadedi0e10:incompletei0ee"
                 "20:bbbbbbbbbbbbbbbbbbbbd8:completei5e10:downloadedi7e10:incompletei1ee"
                 "ee"));

    /* Raw hashes with NULs and high bytes sort bytewise. */
    struct tracker_req_scrape_entry f[2] = {{.complete = 1}, {.complete = 2}};
    f[0].info_hash[0] = 0x80;
    f[1].info_hash[0] = 0x00;
    buf_reset(&b);
    assert_int_equal(tracker_req_encode_scrape_reply(&b, f, 2), 0);
    /* "d5:filesd", two entries of "20:" + hash + a 47-byte dict, "ee". */
    assert_int_equal(b.len, 9 + 2 * (3 + 20 + 47) + 2);
    assert_int_equal(b.data[12], 0x00);
    assert_int_equal(b.data[12 + 70], 0x80);

    buf_reset(&b);
    assert_int_equal(tracker_req_encode_scrape_reply(&b, NULL, 0), 0);
    expect_buf(&b, B("d5:filesdee"));
    buf_cleanup(&b);

    buf_init(&b, 20);
    assert_int_equal(tracker_req_encode_scrape_reply(&b, e, 1), SHOAL_ETOOBIG);
    assert_int_equal(b.len, 0);
    buf_cleanup(&b);
}

/* ------------------------------------------------------------------ UDP */

/* An announce request: conn id 0x0102030405060708, tid 0xdeadbeef, hash
 * 00..13, peer id "-SH0001-abcdefghijkl", downloaded 1, left 2, uploaded 3,
 * event 2, ip 10.0.0.1, key 0x11223344, numwant -1, port 6881. */
#define ANN                                                                              \
    "\x01\x02\x03\x04\x05\x06\x07\x08"                                                   \
    "\0\0\0\x01"                                                                         \
    "\xde\xad\xbe\xef"                                                                   \
    "\x00\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b\x0c\x0d\x0e\x0f\x10\x11\x12\x13"   \
    "-SH0001-abcdefghijkl"                                                               \
    "\0\0\0\0\0\0\0\x01"                                                                 \
    "\0\0\0\0\0\0\0\x02"                                                                 \
    "\0\0\0\0\0\0\0\x03"                                                                 \
    "\0\0\0\x02"                                                                         \
    "\x0a\0\0\x01"                                                                       \
    "\x11\x22\x33\x44"                                                                   \
    "\xff\xff\xff\xff"                                                                   \
    "\x1a\xe1"

#define CONNECT "\0\0\x04\x17\x27\x10\x19\x80\0\0\0\0\x12\x34\x56\x78"
#define SCRAPE1                                                                          \
    "\x01\x02\x03\x04\x05\x06\x07\x08\0\0\0\x02\0\0\0\x09"                               \
    "\x00\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b\x0c\x0d\x0e\x0f\x10\x11\x12\x13"

static void
test_udp_good(void **state)
{
    (void)state;
    struct tracker_req_udp r;
    struct shoal_perr err = {0};

    assert_int_equal(tracker_req_parse_udp(B(CONNECT), &r, &err), 0);
    assert_int_equal(r.action, TRACKER_REQ_CONNECT);
    assert_int_equal(r.tid, 0x12345678);
    assert_true(r.conn_id == TRACKER_REQ_UDP_PROTOCOL_ID);
    /* BEP 15: do not assume a size; extra bytes are fine. */
    assert_int_equal(tracker_req_parse_udp(B(CONNECT "extra"), &r, &err), 0);

    assert_int_equal(tracker_req_parse_udp(B(ANN), &r, &err), 0);
    assert_int_equal(r.action, TRACKER_REQ_ANNOUNCE);
    assert_true(r.conn_id == 0x0102030405060708ull);
    assert_int_equal(r.tid, 0xdeadbeef);
    assert_memory_equal(r.info_hash, ih_bytes, 20);
    assert_memory_equal(r.peer_id, PID, 20);
    assert_int_equal(r.downloaded, 1);
    assert_int_equal(r.left, 2);
    assert_int_equal(r.uploaded, 3);
    assert_int_equal(r.event, TRACKER_REQ_EVENT_STARTED);
    assert_int_equal(r.ip, 0x0a000001);
    assert_int_equal(r.key, 0x11223344);
    assert_int_equal(r.numwant_raw, -1);
    assert_int_equal(r.numwant, TRACKER_REQ_NUMWANT_DEFAULT);
    assert_int_equal(r.port, 6881);
    assert_int_equal(r.url_len, 0);
    assert_int_equal(r.url_truncated, 0);

    assert_int_equal(tracker_req_parse_udp(B(CONNECT "\0\0\0\0"), &r, &err), 0);

    assert_int_equal(tracker_req_parse_udp(B(SCRAPE1), &r, &err), 0);
    assert_int_equal(r.action, TRACKER_REQ_SCRAPE);
    assert_int_equal(r.tid, 9);
    assert_int_equal(r.nhashes, 1);
    assert_memory_equal(r.hashes, ih_bytes, 20);

    uint8_t big[16 + 20 * TRACKER_REQ_UDP_MAX_SCRAPE];
    memcpy(big, SCRAPE1, 16);
    for (int i = 0; i < TRACKER_REQ_UDP_MAX_SCRAPE; i++)
        memset(big + 16 + 20 * i, i, 20);
    assert_int_equal(tracker_req_parse_udp(big, sizeof(big), &r, &err), 0);
    assert_int_equal(r.nhashes, 74);
    assert_ptr_equal(r.hashes, big + 16);
}

struct opt_vector {
    const char *name;
    const uint8_t *in;
    size_t len;
    const char *url;
    int truncated;
};

static const struct opt_vector opts[] = {
    {"end of options", B(ANN "\x00\x02\x03zzz"), "", 0},
    {"nop then url", B(ANN "\x01\x01\x02\x09/announce\x00"), "/announce", 0},
    {"urls concatenate",
     B(ANN "\x02\x04/ann\x02\x0d"
           "ounce?passkey\x00"),
     "/announce?passkey", 0},
    {"unknown type skipped", B(ANN "\x07\x03xyz\x02\x02/a"), "/a", 0},
    {"no end marker", B(ANN "\x02\x02/a"), "/a", 0},
    {"length past the end", B(ANN "\x02\x05/a"), "", 1},
    {"type without length", B(ANN "\x02\x02/a\x02"), "/a", 1},
    {"empty url option", B(ANN "\x02\x00\x00"), "", 0},
};

static void
test_udp_options(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(opts) / sizeof(opts[0]); i++) {
        struct tracker_req_udp r;
        struct shoal_perr err = {0};
        int rc = tracker_req_parse_udp(opts[i].in, opts[i].len, &r, &err);
        if (rc != 0 || r.url_len != strlen(opts[i].url) ||
            memcmp(r.url, opts[i].url, r.url_len) != 0 ||
            r.url_truncated != opts[i].truncated)
            fail_msg("%s: rc %d url \"%.*s\" truncated %d", opts[i].name, rc,
                     (int)r.url_len, (const char *)r.url, r.url_truncated);
        assert_int_equal(r.port, 6881);
    }

    /* More URLData than fits: kept up to the cap, flagged. */
    uint8_t p[98 + 6 * 257];
    memcpy(p, ANN, 98);
    size_t n = 98;
    for (int i = 0; i < 6; i++) {
        p[n++] = 2;
        p[n++] = 255;
        memset(p + n, 'a' + i, 255);
        n += 255;
    }
    struct tracker_req_udp r;
    assert_int_equal(tracker_req_parse_udp(p, n, &r, NULL), 0);
    assert_int_equal(r.url_len, TRACKER_REQ_UDP_MAX_URL);
    assert_int_equal(r.url_truncated, 1);
    assert_int_equal(r.url[0], 'a');
    assert_int_equal(r.url[1023], 'e');
}

struct bad_udp {
    const char *name;
    const uint8_t *in;
    size_t len;
    int code;
    size_t off;
    const char *why;
    uint32_t tid; /* still read when the packet has 16 bytes */
};

static const struct bad_udp bad_udps[] = {
    {"empty", B(""), SHOAL_EPARSE, 0, "packet too short"},
    {"15 bytes", B("\0\0\x04\x17\x27\x10\x19\x80\0\0\0\0\x12\x34\x56"), SHOAL_EPARSE, 15,
     "packet too short"},
    {"connect wrong magic", B("\0\0\x04\x17\x27\x10\x19\x81\0\0\0\0\x12\x34\x56\x78"),
     SHOAL_EPARSE, 0, "connect without the protocol id", 0x12345678},
    {"announce 97 bytes", (const uint8_t *)ANN, 97, SHOAL_EPARSE, 97,
     "announce too short", 0xdeadbeef},
    {"announce event 4",
     B("\x01\x02\x03\x04\x05\x06\x07\x08\0\0\0\x01\xde\xad\xbe\xef"
       "\x00\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b\x0c\x0d\x0e\x0f\x10\x11\x12\x13"
       "-SH0001-abcdefghijkl"
       "\0\0\0\0\0\0\0\x01\0\0\0\0\0\0\0\x02\0\0\0\0\0\0\0\x03"
       "\0\0\0\x04\x0a\0\0\x01\x11\x22\x33\x44\xff\xff\xff\xff\x1a\xe1"),
     SHOAL_EPARSE, 80, "unknown event", 0xdeadbeef},
    {"announce port 0",
     B("\x01\x02\x03\x04\x05\x06\x07\x08\0\0\0\x01\xde\xad\xbe\xef"
       "\x00\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b\x0c\x0d\x0e\x0f\x10\x11\x12\x13"
       "-SH0001-abcdefghijkl"
       "\0\0\0\0\0\0\0\x01\0\0\0\0\0\0\0\x02\0\0\0\0\0\0\0\x03"
       "\0\0\0\x00\x0a\0\0\x01\x11\x22\x33\x44\xff\xff\xff\xff\x00\x00"),
     SHOAL_EPARSE, 96, "port 0", 0xdeadbeef},
    {"scrape no hash", B("\x01\x02\x03\x04\x05\x06\x07\x08\0\0\0\x02\0\0\0\x09"),
     SHOAL_EPARSE, 16, "scrape without an info_hash", 9},
    {"scrape odd length", B(SCRAPE1 "x"), SHOAL_EPARSE, 36,
     "scrape length is not 16 + 20k", 9},
    {"scrape 19 bytes of hash", (const uint8_t *)SCRAPE1, 35, SHOAL_EPARSE, 16,
     "scrape length is not 16 + 20k", 9},
    {"action 3 from a client", B("\x01\x02\x03\x04\x05\x06\x07\x08\0\0\0\x03\0\0\0\x07"),
     SHOAL_EPARSE, 8, "unknown action", 7},
    {"action huge", B("\x01\x02\x03\x04\x05\x06\x07\x08\xff\xff\xff\xff\0\0\0\x07"),
     SHOAL_EPARSE, 8, "unknown action", 7},
};

static void
test_udp_bad(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(bad_udps) / sizeof(bad_udps[0]); i++) {
        const struct bad_udp *v = &bad_udps[i];
        struct tracker_req_udp r;
        struct shoal_perr err = {0};
        int rc = tracker_req_parse_udp(v->in, v->len, &r, &err);
        if (rc != v->code || err.off != v->off || !err.why ||
            strcmp(err.why, v->why) != 0 || r.tid != v->tid)
            fail_msg("%s: rc %d off %zu why \"%s\" tid %x", v->name, rc, err.off,
                     err.why ? err.why : "(null)", r.tid);
    }

    /* 75 hashes: one too many for a datagram. */
    uint8_t big[16 + 20 * 75] = {0};
    memcpy(big, SCRAPE1, 16);
    struct tracker_req_udp r;
    struct shoal_perr err = {0};
    assert_int_equal(tracker_req_parse_udp(big, sizeof(big), &r, &err), SHOAL_ETOOBIG);
    assert_string_equal(err.why, "too many info_hash");
    assert_int_equal(err.off, 16 + 20 * 74);
    assert_string_equal(shoal_perr_text(&err), "a scrape of 75 info_hash, at most 74");
}

static void
test_udp_numwant(void **state)
{
    (void)state;
    uint8_t p[98];
    memcpy(p, ANN, 98);
    struct tracker_req_udp r;
    static const struct {
        uint8_t raw[4];
        uint32_t want;
    } v[] = {
        {{0, 0, 0, 0}, 0},
        {{0, 0, 0, 10}, 10},
        {{0, 0, 0, 200}, 200},
        {{0, 0, 0, 201}, 200},
        {{0x7f, 0xff, 0xff, 0xff}, 200},
        {{0x80, 0, 0, 0}, 50},
        {{0xff, 0xff, 0xff, 0xfe}, 50},
    };
    for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        memcpy(p + 92, v[i].raw, 4);
        assert_int_equal(tracker_req_parse_udp(p, 98, &r, NULL), 0);
        assert_int_equal(r.numwant, v[i].want);
    }
}

static void
test_udp_encoders(void **state)
{
    (void)state;
    uint8_t out[200];
    assert_int_equal(tracker_req_udp_connect_resp(out, 0x12345678, 0x0102030405060708ull),
                     16);
    assert_memory_equal(out, "\0\0\0\0\x12\x34\x56\x78\x01\x02\x03\x04\x05\x06\x07\x08",
                        16);

    assert_int_equal(
        tracker_req_udp_announce_resp(out, sizeof(out), 0xdeadbeef, 1800, 3, 4, p4, 12),
        32);
    assert_memory_equal(out,
                        "\0\0\0\x01\xde\xad\xbe\xef\0\0\x07\x08\0\0\0\x03\0\0\0\x04"
                        "\x0a\x00\x00\x01\x1a\xe1\xc0\xa8\x01\x02\x00\x50",
                        32);
    assert_int_equal(tracker_req_udp_announce_resp(out, 38, 1, 60, 0, 0, p6, 18), 38);
    assert_memory_equal(out + 20, p6, 18);
    assert_int_equal(tracker_req_udp_announce_resp(out, 37, 1, 60, 0, 0, p6, 18), 0);
    assert_int_equal(tracker_req_udp_announce_resp(out, 19, 1, 60, 0, 0, NULL, 0), 0);
    assert_int_equal(tracker_req_udp_announce_resp(out, 20, 1, 60, 0, 0, NULL, 0), 20);
    /* Peers already in place (sampled into the reply): only the header is
     * written, the records stay. */
    memcpy(out + 20, p4, 12);
    assert_int_equal(tracker_req_udp_announce_resp(out, 32, 2, 60, 5, 6, NULL, 12), 32);
    assert_memory_equal(out, "\0\0\0\x01\0\0\0\x02\0\0\0\x3c\0\0\0\x05\0\0\0\x06", 20);
    assert_memory_equal(out + 20, p4, 12);
    assert_int_equal(tracker_req_udp_announce_resp(out, 31, 2, 60, 5, 6, NULL, 12), 0);

    struct tracker_req_scrape_entry e[2] = {
        {.complete = 1, .downloaded = 2, .incomplete = 3},
        {.complete = 1ull << 40, .downloaded = 0, .incomplete = 0xffffffff},
    };
    assert_int_equal(tracker_req_udp_scrape_resp(out, sizeof(out), 9, e, 2), 32);
    assert_memory_equal(out,
                        "\0\0\0\x02\0\0\0\x09"
                        "\0\0\0\x01\0\0\0\x02\0\0\0\x03"
                        "\xff\xff\xff\xff\0\0\0\0\xff\xff\xff\xff",
                        32);
    assert_int_equal(tracker_req_udp_scrape_resp(out, 31, 9, e, 2), 0);
    assert_int_equal(tracker_req_udp_scrape_resp(out, 8, 9, e, 0), 8);

    assert_int_equal(tracker_req_udp_error_resp(out, sizeof(out), 7, "bad conn"), 16);
    assert_memory_equal(out,
                        "\0\0\0\x03\0\0\0\x07"
                        "bad conn",
                        16);
    assert_int_equal(tracker_req_udp_error_resp(out, 11, 7, "bad conn"), 11);
    assert_memory_equal(out,
                        "\0\0\0\x03\0\0\0\x07"
                        "bad",
                        11);
    assert_int_equal(tracker_req_udp_error_resp(out, 7, 7, "x"), 0);
}

/* A response the server writes parses as a request only where it should:
 * the encoders and the parser agree on the announce field layout. */
static void
test_udp_round_trip(void **state)
{
    (void)state;
    uint8_t p[98 + 20];
    memcpy(p, ANN, 98);
    memcpy(p + 98, "\x02\x10/announce?k=abc\x00\x01", 20);
    struct tracker_req_udp r;
    assert_int_equal(tracker_req_parse_udp(p, sizeof(p), &r, NULL), 0);
    assert_int_equal(r.url_len, 16);
    assert_memory_equal(r.url, "/announce?k=abc\x00", 16);
}

/* ------------------------------------------------------------------ conn ids */

static struct sockaddr_in
v4(const char *ip, uint16_t port)
{
    struct sockaddr_in sa = {0};
    sa.sin_family = AF_INET;
    sa.sin_port = htons(port);
    inet_pton(AF_INET, ip, &sa.sin_addr);
    return sa;
}

static struct sockaddr_in6
v6(const char *ip, uint16_t port)
{
    struct sockaddr_in6 sa = {0};
    sa.sin6_family = AF_INET6;
    sa.sin6_port = htons(port);
    inet_pton(AF_INET6, ip, &sa.sin6_addr);
    return sa;
}

#define SA(x) ((const struct sockaddr *)&(x))

static void
test_conn_ids(void **state)
{
    (void)state;
    uint8_t key[32], key2[32];
    for (int i = 0; i < 32; i++) {
        key[i] = (uint8_t)i;
        key2[i] = (uint8_t)(i + 1);
    }
    struct sockaddr_in a = v4("192.0.2.7", 6881);
    uint64_t t0 = 1000020; /* window 16667 starts at 1000020 */
    uint64_t id = tracker_req_conn_id(key, SA(a), t0);
    assert_true(id != 0);

    /* Deterministic: same inputs, same id; same window, same id. */
    assert_true(tracker_req_conn_id(key, SA(a), t0) == id);
    assert_true(tracker_req_conn_id(key, SA(a), t0 + 59) == id);
    assert_true(tracker_req_conn_id(key, SA(a), t0 + 60) != id);

    struct {
        const char *name;
        uint64_t now;
        int ok;
    } times[] = {
        {"same second", t0, 1},
        {"end of window", t0 + 59, 1},
        {"next window", t0 + 60, 1},
        {"end of next window", t0 + 119, 1},
        {"two windows on", t0 + 120, 1},
        {"end of the third", t0 + 179, 1},
        {"three windows on", t0 + 180, 0},
        {"the window before", t0 - 1, 0},
        {"far future", t0 + 100000, 0},
    };
    for (size_t i = 0; i < sizeof(times) / sizeof(times[0]); i++)
        if (tracker_req_conn_id_ok(key, SA(a), id, times[i].now) != times[i].ok)
            fail_msg("%s: want %d", times[i].name, times[i].ok);

    struct sockaddr_in other_ip = v4("192.0.2.8", 6881);
    struct sockaddr_in other_port = v4("192.0.2.7", 6882);
    assert_int_equal(tracker_req_conn_id_ok(key, SA(other_ip), id, t0), 0);
    assert_int_equal(tracker_req_conn_id_ok(key, SA(other_port), id, t0), 0);
    assert_int_equal(tracker_req_conn_id_ok(key2, SA(a), id, t0), 0);
    assert_int_equal(tracker_req_conn_id_ok(key, SA(a), id ^ 1, t0), 0);
    assert_int_equal(tracker_req_conn_id_ok(key, SA(a), 0, t0), 0);

    /* IPv6, and an IPv4-mapped address counts as the IPv4 one. */
    struct sockaddr_in6 b = v6("2001:db8::7", 6881);
    uint64_t id6 = tracker_req_conn_id(key, SA(b), t0);
    assert_true(id6 != 0 && id6 != id);
    assert_int_equal(tracker_req_conn_id_ok(key, SA(b), id6, t0 + 61), 1);
    struct sockaddr_in6 b2 = v6("2001:db8::8", 6881);
    assert_int_equal(tracker_req_conn_id_ok(key, SA(b2), id6, t0), 0);
    struct sockaddr_in6 mapped = v6("::ffff:192.0.2.7", 6881);
    assert_true(tracker_req_conn_id(key, SA(mapped), t0) == id);
    assert_int_equal(tracker_req_conn_id_ok(key, SA(mapped), id, t0), 1);

    /* Other families never get an id. */
    struct sockaddr_un un = {0};
    un.sun_family = AF_UNIX;
    assert_true(tracker_req_conn_id(key, SA(un), t0) == 0);
    assert_int_equal(tracker_req_conn_id_ok(key, SA(un), 0, t0), 0);

    /* Window 0 has no window before it. */
    uint64_t id0 = tracker_req_conn_id(key, SA(a), 5);
    assert_int_equal(tracker_req_conn_id_ok(key, SA(a), id0, 0), 1);
    assert_int_equal(tracker_req_conn_id_ok(key, SA(a), id0, 65), 1);
    assert_int_equal(tracker_req_conn_id_ok(key, SA(a), id0, 125), 1);
    assert_int_equal(tracker_req_conn_id_ok(key, SA(a), id0, 185), 0);
    assert_int_equal(tracker_req_conn_id_ok(key, SA(a), id ^ 1, 65), 0);
}

/* SipHash, which the connection ids and the tracker's tables stand on:
 * the reference vectors of the SipHash paper for 2-4 (key 00..0f, message
 * 00 01 02 ...), and 1-3 with the same inputs. */
static void
test_siphash(void **state)
{
    (void)state;
    static const struct {
        size_t n;
        uint64_t h24, h13;
    } v[] = {
        {0, 0x726fdb47dd0e0e31ull, 0xabac0158050fc4dcull},
        {7, 0xab0200f58b01d137ull, 0xd3927d989bb11140ull},
        {8, 0x93f5f5799a932462ull, 0x369095118d299a8eull},
        {15, 0xa129ca6149be45e5ull, 0xd320d86d2a519956ull},
        {20, 0xbed65cf21aa2ee98ull, 0xc0dc2f46a6cce040ull},
    };
    uint8_t msg[32];
    for (size_t i = 0; i < sizeof(msg); i++)
        msg[i] = (uint8_t)i;
    uint64_t k0 = 0x0706050403020100ull, k1 = 0x0f0e0d0c0b0a0908ull;
    for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        assert_true(siphash24(k0, k1, msg, v[i].n) == v[i].h24);
        assert_true(siphash13(k0, k1, msg, v[i].n) == v[i].h13);
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_announce_good),   cmocka_unit_test(test_announce_bad),
        cmocka_unit_test(test_announce_limits), cmocka_unit_test(test_scrape_parse),
        cmocka_unit_test(test_announce_reply),  cmocka_unit_test(test_failure_reply),
        cmocka_unit_test(test_scrape_reply),    cmocka_unit_test(test_udp_good),
        cmocka_unit_test(test_udp_options),     cmocka_unit_test(test_udp_bad),
        cmocka_unit_test(test_udp_numwant),     cmocka_unit_test(test_udp_encoders),
        cmocka_unit_test(test_udp_round_trip),  cmocka_unit_test(test_conn_ids),
        cmocka_unit_test(test_siphash),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
