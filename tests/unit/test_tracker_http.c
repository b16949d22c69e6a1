/*
 * test_tracker_http.c — the HTTP tracker client codec (src/tracker_http.c),
 * table-driven: announce and scrape URLs byte for byte and the URLs refused;
 * announce replies as real trackers write them (opentracker's compact reply,
 * dictionary peers, peers6, failure reasons, warnings, HTML error pages) and
 * what they parse to; every malformed reply with its offset and reason; peer
 * filtering, repeats and the peer cap; scrape replies; text sanitizing; and
 * every allocation failing in turn.
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
#include "base/buf.h"
#include "base/util.h"
#include "codec/tracker_http.h"
#include "shoal.h"

/* A byte-string literal and its length, NULs included. */
#define B(s) (const uint8_t *)(s), sizeof(s) - 1

/* The info hash of the classic example: bytes 12 34 56 78 9a bc de f1 23 45
 * 67 89 ab cd ef 12 34 56 78 9a. */
#define IH                                                                               \
    "\x12\x34\x56\x78\x9a\xbc\xde\xf1\x23\x45\x67\x89\xab\xcd\xef\x12\x34\x56\x78\x9a"
#define IH_ESC "%124Vx%9A%BC%DE%F1%23Eg%89%AB%CD%EF%124Vx%9A"
/* A peer id with bytes that need escaping. */
#define PID     "-SH0001-\x00\xff a/b?c=d&~"
#define PID_ESC "-SH0001-%00%FF%20a%2Fb%3Fc%3Dd%26~"

static void
fill_announce(struct tracker_announce *a)
{
    memset(a, 0, sizeof(*a));
    memcpy(a->infohash, IH, 20);
    memcpy(a->peer_id, PID, 20);
    a->port = 6881;
    a->uploaded = 1024;
    a->downloaded = 2048;
    a->left = 1ull << 40;
    a->event = TRACKER_EVENT_STARTED;
    a->numwant = 50;
    a->key = 0xdeadbeef;
    a->compact = 1;
}

/* ------------------------------------------------------------------ announce URL */

#define COMMON                                                                           \
    "info_hash=" IH_ESC "&peer_id=" PID_ESC                                              \
    "&port=6881&uploaded=1024&downloaded=2048&left=1099511627776"

struct url_vector {
    const char *name;
    const char *url;
    int event;
    int numwant;
    const char *trackerid;
    int compact, no_peer_id;
    uint32_t key;
    const char *want;
};

static const struct url_vector announce_urls[] = {
    {"plain", "http://tracker.example.com:6969/announce", TRACKER_EVENT_STARTED, 50, NULL,
     1, 0, 0xdeadbeef,
     "http://tracker.example.com:6969/announce?" COMMON
     "&compact=1&event=started&numwant=50&key=DEADBEEF"},
    {"own query kept", "https://t.example.org/announce.php?passkey=abc",
     TRACKER_EVENT_NONE, -1, NULL, 1, 0, 7,
     "https://t.example.org/announce.php?passkey=abc&" COMMON "&compact=1&key=00000007"},
    {"query ends with ?", "http://t/announce?", TRACKER_EVENT_COMPLETED, 0, NULL, 0, 0, 0,
     "http://t/announce?" COMMON "&event=completed&numwant=0&key=00000000"},
    {"query ends with &", "http://t/a?x=1&", TRACKER_EVENT_STOPPED, -1, NULL, 0, 1,
     0xffffffff, "http://t/a?x=1&" COMMON "&no_peer_id=1&event=stopped&key=FFFFFFFF"},
    {"fragment dropped", "http://t/announce#top", TRACKER_EVENT_NONE, -1, NULL, 0, 0, 1,
     "http://t/announce?" COMMON "&key=00000001"},
    {"no path", "http://t:80", TRACKER_EVENT_NONE, -1, NULL, 0, 0, 1,
     "http://t:80?" COMMON "&key=00000001"},
    {"scheme in capitals", "HTTPS://T/announce", TRACKER_EVENT_NONE, -1, NULL, 0, 0, 1,
     "HTTPS://T/announce?" COMMON "&key=00000001"},
    {"tracker id escaped", "http://t/announce", TRACKER_EVENT_NONE, 200, "id 7&x=~y", 1,
     1, 0x0badf00d,
     "http://t/announce?" COMMON
     "&compact=1&no_peer_id=1&numwant=200&key=0BADF00D&trackerid=id%207%26x%3D~y"},
};

static void
test_announce_url(void **state)
{
    (void)state;
    for (size_t i = 0; i < ARRAY_LEN(announce_urls); i++) {
        const struct url_vector *v = &announce_urls[i];
        struct tracker_announce a;
        fill_announce(&a);
        a.event = v->event;
        a.numwant = v->numwant;
        a.trackerid = v->trackerid;
        a.compact = v->compact;
        a.no_peer_id = v->no_peer_id;
        a.key = v->key;
        struct buf b;
        buf_init(&b, 4096);
        int rc = tracker_http_announce_url(v->url, &a, &b);
        if (rc != 0)
            fail_msg("%s: rc %d", v->name, rc);
        if (b.len != strlen(v->want) || strcmp((char *)b.data, v->want) != 0)
            fail_msg("%s:\n got %.*s\nwant %s", v->name, (int)b.len, (char *)b.data,
                     v->want);
        buf_cleanup(&b);
    }
}

struct bad_url {
    const char *name;
    const char *url;
    int event;
    int rc;
};

static const struct bad_url bad_announce_urls[] = {
    {"udp scheme", "udp://t:80/announce", 0, SHOAL_EINVAL},
    {"ftp scheme", "ftp://t/announce", 0, SHOAL_EINVAL},
    {"no scheme", "t/announce", 0, SHOAL_EINVAL},
    {"empty", "", 0, SHOAL_EINVAL},
    {"scheme only", "http://", 0, SHOAL_EINVAL},
    {"no host", "http:///announce", 0, SHOAL_EINVAL},
    {"no host before query", "https://?x=1", 0, SHOAL_EINVAL},
    {"space", "http://t/ann ounce", 0, SHOAL_EINVAL},
    {"control byte", "http://t/announce\x01", 0, SHOAL_EINVAL},
    {"DEL byte", "http://t/\x7f", 0, SHOAL_EINVAL},
    {"unknown event", "http://t/announce", 4, SHOAL_EINVAL},
    {"negative event", "http://t/announce", -1, SHOAL_EINVAL},
};

static void
test_announce_url_bad(void **state)
{
    (void)state;
    for (size_t i = 0; i < ARRAY_LEN(bad_announce_urls); i++) {
        const struct bad_url *v = &bad_announce_urls[i];
        struct tracker_announce a;
        fill_announce(&a);
        a.event = v->event;
        struct buf b;
        buf_init(&b, 4096);
        int rc = tracker_http_announce_url(v->url, &a, &b);
        if (rc != v->rc || b.len != 0)
            fail_msg("%s: rc %d len %zu, want %d and nothing written", v->name, rc, b.len,
                     v->rc);
        buf_cleanup(&b);
    }
}

/* A buffer too small for the URL reports its own error. */
static void
test_announce_url_cap(void **state)
{
    (void)state;
    struct tracker_announce a;
    fill_announce(&a);
    struct buf b;
    buf_init(&b, 40);
    assert_int_equal(tracker_http_announce_url("http://t/announce", &a, &b),
                     SHOAL_ETOOBIG);
    buf_cleanup(&b);
}

/* ------------------------------------------------------------------ scrape URL */

#define IH2     "aaaaaaaaaaaaaaaaaaa\x01"
#define IH2_ESC "aaaaaaaaaaaaaaaaaaa%01"

static const uint8_t two_hashes[2][20] = {IH, IH2};

struct scrape_url_vector {
    const char *name;
    const char *url;
    size_t n;
    int rc;
    const char *want;
};

static const struct scrape_url_vector scrape_urls[] = {
    {"plain", "http://t.example.com:6969/announce", 1, 0,
     "http://t.example.com:6969/scrape?info_hash=" IH_ESC},
    {"two hashes", "http://t/announce", 2, 0,
     "http://t/scrape?info_hash=" IH_ESC "&info_hash=" IH2_ESC},
    {"suffix and query kept", "https://t/x/announce.php?passkey=1", 1, 0,
     "https://t/x/scrape.php?passkey=1&info_hash=" IH_ESC},
    {"query ends with ?", "http://t/announce?", 1, 0,
     "http://t/scrape?info_hash=" IH_ESC},
    {"fragment dropped", "http://t/announce#x", 1, 0,
     "http://t/scrape?info_hash=" IH_ESC},
    {"every torrent", "http://t/announce?k=v", 0, 0, "http://t/scrape?k=v"},
    {"every torrent, no query", "http://t/announce", 0, 0, "http://t/scrape"},
    {"announce not last", "http://t/announce/x", 1, SHOAL_EUNSUPPORTED, NULL},
    {"other name", "http://t/tracker", 1, SHOAL_EUNSUPPORTED, NULL},
    {"announce inside the name", "http://t/xannounce", 1, SHOAL_EUNSUPPORTED, NULL},
    {"capital A", "http://t/Announce", 1, SHOAL_EUNSUPPORTED, NULL},
    {"empty last component", "http://t/announce/", 1, SHOAL_EUNSUPPORTED, NULL},
    {"no path", "http://t", 1, SHOAL_EUNSUPPORTED, NULL},
    {"announce in the query only", "http://t/?announce", 1, SHOAL_EUNSUPPORTED, NULL},
    {"udp", "udp://t:1/announce", 1, SHOAL_EINVAL, NULL},
    {"space", "http://t/announce x", 1, SHOAL_EINVAL, NULL},
    {"too many hashes", "http://t/announce", TRACKER_HTTP_MAX_SCRAPE_HASHES + 1,
     SHOAL_ETOOBIG, NULL},
};

static void
test_scrape_url(void **state)
{
    (void)state;
    static uint8_t many[TRACKER_HTTP_MAX_SCRAPE_HASHES + 1][20];
    for (size_t i = 0; i < ARRAY_LEN(scrape_urls); i++) {
        const struct scrape_url_vector *v = &scrape_urls[i];
        struct buf b;
        buf_init(&b, 8192);
        const uint8_t(*h)[20] = v->n <= 2 ? two_hashes : (const uint8_t(*)[20])many;
        int rc = tracker_http_scrape_url(v->url, h, v->n, &b);
        if (rc != v->rc)
            fail_msg("%s: rc %d, want %d", v->name, rc, v->rc);
        if (v->want && strcmp((char *)b.data, v->want) != 0)
            fail_msg("%s:\n got %.*s\nwant %s", v->name, (int)b.len, (char *)b.data,
                     v->want);
        if (!v->want && b.len != 0)
            fail_msg("%s: wrote %zu bytes on error", v->name, b.len);
        buf_cleanup(&b);
    }
    /* The largest request fits a modest buffer. */
    struct buf b;
    buf_init(&b, 8192);
    assert_int_equal(tracker_http_scrape_url("http://t/announce",
                                             (const uint8_t(*)[20])many,
                                             TRACKER_HTTP_MAX_SCRAPE_HASHES, &b),
                     0);
    buf_cleanup(&b);
}

/* ------------------------------------------------------------------ replies */

/* Formats the peers as "a.b.c.d:port" / "[v6]:port", comma-separated. */
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

struct reply_vector {
    const char *name;
    const uint8_t *in;
    size_t len;
    const char *failure, *warning;
    uint32_t interval, min_interval;
    const char *trackerid;
    int64_t complete, incomplete, downloaded;
    const char *peers;
};

/* Six bytes of a compact IPv4 peer. */
#define P4(a, b, c, d, port) a b c d port

static const struct reply_vector replies[] = {
    /* opentracker: counts, intervals and a compact list. */
    {"opentracker compact",
     B("d8:completei1e10:incompletei1e8:intervali1800e12:min intervali900e"
       "5:peers6:\x7f\x00\x00\x01\x1a\xe1"
       "e"),
     "", "", 1800, 900, "", 1, 1, -1, "127.0.0.1:6881"},
    {"two compact peers and peers6",
     B("d8:intervali1800e5:peers12:" P4("\x0a", "\x00", "\x00", "\x02", "\x1a\xe1")
           P4("\xc0", "\xa8", "\x01", "\x07",
              "\xc3\x50") "6:peers618:"
                          "\x20\x01\x0d\xb8\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00"
                          "\x01\x1a\xe2"
                          "e"),
     "", "", 1800, 0, "", -1, -1, -1,
     "10.0.0.2:6881,192.168.1.7:50000,[2001:db8::1]:6882"},
    {"dictionary peers",
     B("d8:intervali900e5:peersl"
       "d2:ip8:10.0.0.17:peer id20:AAAAAAAAAAAAAAAAAAAA4:porti6881ee"
       "d2:ip11:example.com4:porti80ee"
       "d2:ip3:::14:porti6882ee"
       "d2:ip14:::ffff:1.2.3.44:porti1ee"
       "ee"),
     "", "", 900, 0, "", -1, -1, -1, "10.0.0.1:6881,[::1]:6882,1.2.3.4:1"},
    {"dictionary peers that cannot be used",
     B("d8:intervali900e5:peersl"
       "i5e"
       "d4:porti1ee"
       "d2:ip7:1.2.3.44:porti0ee"
       "d2:ip7:1.2.3.44:porti65536ee"
       "d2:ip7:1.2.3.44:porti-1ee"
       "d2:ip7:1.2.3.44:port4:6881e"
       "d2:ipi1e4:porti1ee"
       "d2:ip0:4:porti1ee"
       "d2:ip8:1.2.3.4\x00"
       "4:porti1ee"
       "d2:ip9:001.2.3.44:porti1ee"
       "d2:ip10:fe80::1%e04:porti1ee"
       "d2:ip47:a-very-long-host-name-that-is-too-long-for.ip.x4:porti1ee"
       "d2:ip7:5.6.7.84:porti65535ee"
       "ee"),
     "", "", 900, 0, "", -1, -1, -1, "5.6.7.8:65535"},
    {"undialable compact peers skipped",
     B("d8:intervali60e5:peers36:" P4("\x01", "\x02", "\x03", "\x04", "\x00\x00")
           P4("\x00", "\x00", "\x00", "\x00", "\x00\x50")
               P4("\x00", "\x01", "\x02", "\x03", "\x00\x50")
                   P4("\xe0", "\x00", "\x00", "\x01", "\x00\x50")
                       P4("\xff", "\xff", "\xff", "\xff", "\x00\x50")
                           P4("\xdf", "\xff", "\xff", "\xfe",
                              "\x00\x50") "6:peers636:"
                                          "\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00"
                                          "\x00\x00\x00\x00\x00\x00\x50"
                                          "\xff\x02\x00\x00\x00\x00\x00\x00\x00\x00\x00"
                                          "\x00\x00\x00\x00\x01\x00\x50"
                                          "e"),
     "", "", 60, 0, "", -1, -1, -1, "223.255.255.254:80"},
    {"repeats dropped, first kept in order",
     B("d8:intervali60e5:peers24:" P4("\x01", "\x01", "\x01", "\x01", "\x00\x02")
           P4("\x02", "\x02", "\x02", "\x02", "\x00\x02")
               P4("\x01", "\x01", "\x01", "\x01", "\x00\x02")
                   P4("\x01", "\x01", "\x01", "\x01",
                      "\x00\x03") "6:peers618:"
                                  "\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\xff\xff\x02"
                                  "\x02\x02\x02\x00\x02"
                                  "e"),
     "", "", 60, 0, "", -1, -1, -1, "1.1.1.1:2,2.2.2.2:2,1.1.1.1:3"},
    {"empty compact list", B("d8:intervali1800e5:peers0:e"), "", "", 1800, 0, "", -1, -1,
     -1, ""},
    {"empty dictionary list", B("d8:intervali1800e5:peerslee"), "", "", 1800, 0, "", -1,
     -1, -1, ""},
    {"peers6 only",
     B("d6:peers618:"
       "\x20\x01\x0d\xb8\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x02\x00\x16"
       "e"),
     "", "", 0, 0, "", -1, -1, -1, "[2001:db8::2]:22"},
    {"interval only", B("d8:intervali120ee"), "", "", 120, 0, "", -1, -1, -1, ""},
    {"counts", B("d8:completei10e10:downloadedi300e10:incompletei0e5:peers0:e"), "", "",
     0, 0, "", 10, 0, 300, ""},
    {"counts of the wrong type",
     B("d8:completei-1e10:downloaded2:3010:incompleteli1ee5:peers0:e"), "", "", 0, 0, "",
     -1, -1, -1, ""},
    {"interval clamped up", B("d8:intervali5e12:min intervali1e5:peers0:e"), "", "", 30,
     30, "", -1, -1, -1, ""},
    {"interval clamped down", B("d8:intervali999999999e12:min intervali86401e5:peers0:e"),
     "", "", 86400, 86400, "", -1, -1, -1, ""},
    {"interval zero, negative or text", B("d8:intervali0e12:min intervali-5e5:peers0:e"),
     "", "", 0, 0, "", -1, -1, -1, ""},
    {"interval as text", B("d8:interval4:18005:peers0:e"), "", "", 0, 0, "", -1, -1, -1,
     ""},
    {"tracker id", B("d8:intervali60e5:peers0:10:tracker id6:abc 12e"), "", "", 60, 0,
     "abc 12", -1, -1, -1, ""},
    {"tracker id with a NUL",
     B("d8:intervali60e5:peers0:10:tracker id3:a\x00"
       "be"),
     "", "", 60, 0, "", -1, -1, -1, ""},
    {"tracker id too long",
     B("d8:intervali60e5:peers0:10:tracker id128:"
       "0123456789012345678901234567890123456789012345678901234567890123"
       "0123456789012345678901234567890123456789012345678901234567890123"
       "e"),
     "", "", 60, 0, "", -1, -1, -1, ""},
    {"warning", B("d8:intervali60e5:peers0:15:warning message13:slow down \x01\n\ne"), "",
     "slow down ?", 60, 0, "", -1, -1, -1, ""},
    {"failure", B("d14:failure reason20:unregistered torrente"), "unregistered torrent",
     "", 0, 0, "", -1, -1, -1, ""},
    {"failure with retry interval and peers ignored",
     B("d14:failure reason4:nope8:intervali3600e5:peers6:\x01\x02\x03\x04\x00\x50"
       "e"),
     "nope", "", 3600, 0, "", -1, -1, -1, ""},
    {"failure with a bad peer list still a failure",
     B("d14:failure reason4:nope5:peers5:xxxxxe"), "nope", "", 0, 0, "", -1, -1, -1, ""},
    {"failure_reason spelling", B("d14:failure_reason6:bannede"), "banned", "", 0, 0, "",
     -1, -1, -1, ""},
    {"empty failure", B("d14:failure reason0:e"), "no reason given", "", 0, 0, "", -1, -1,
     -1, ""},
    {"failure sanitized",
     B("d14:failure reason17:bad\x1b[31m\xff\xc2\x9bz\xc3\xa9\t!\x00"
       "e"),
     "bad?[31m??z\xc3\xa9 !", "", 0, 0, "", -1, -1, -1, ""},
    {"whitespace around", B("\r\n d8:intervali60e5:peers0:e\r\n"), "", "", 60, 0, "", -1,
     -1, -1, ""},
    {"keys out of order", B("d5:peers0:8:intervali60ee"), "", "", 60, 0, "", -1, -1, -1,
     ""},
};

static void
test_reply_good(void **state)
{
    (void)state;
    for (size_t i = 0; i < ARRAY_LEN(replies); i++) {
        const struct reply_vector *v = &replies[i];
        struct tracker_reply r;
        struct shoal_perr err = {0};
        int rc = tracker_http_parse_reply(v->in, v->len, &r, &err);
        if (rc != 0)
            fail_msg("%s: rc %d (%s at %zu)", v->name, rc, shoal_perr_text(&err),
                     err.off);
        char peers[1024];
        peers_text(r.peers, r.npeers, peers, sizeof(peers));
        if (strcmp(r.failure, v->failure) || strcmp(r.warning, v->warning) ||
            r.interval != v->interval || r.min_interval != v->min_interval ||
            strcmp(r.trackerid, v->trackerid) || r.complete != v->complete ||
            r.incomplete != v->incomplete || r.downloaded != v->downloaded ||
            strcmp(peers, v->peers))
            fail_msg("%s: failure '%s' warning '%s' interval %u/%u id '%s' counts "
                     "%lld/%lld/%lld peers '%s'",
                     v->name, r.failure, r.warning, (unsigned)r.interval,
                     (unsigned)r.min_interval, r.trackerid, (long long)r.complete,
                     (long long)r.incomplete, (long long)r.downloaded, peers);
        if ((r.npeers == 0) != (r.peers == NULL))
            fail_msg("%s: peers pointer and count disagree", v->name);
        for (size_t k = 0; k < r.npeers; k++) {
            assert_true(r.peers[k].port != 0);
            assert_true(r.peers[k].family == 4 || r.peers[k].family == 6);
        }
        tracker_reply_cleanup(&r);
        assert_null(r.peers);
    }
}

struct bad_reply {
    const char *name;
    const uint8_t *in;
    size_t len;
    int rc;
    size_t off;
    const char *why;
};

#define NOT_DICT "reply is not a bencoded dictionary"
#define HTML     "reply is HTML, not bencode"
#define NOTHING  "reply has neither peers, an interval nor a failure reason"

static const struct bad_reply bad_replies[] = {
    {"empty", B(""), SHOAL_EPARSE, 0, "empty reply"},
    {"whitespace only", B(" \r\n"), SHOAL_EPARSE, 3, "empty reply"},
    {"HTML page", B("<html><body>502 Bad Gateway</body></html>"), SHOAL_EPARSE, 0, HTML},
    {"HTML after a newline", B("\n<!DOCTYPE html>"), SHOAL_EPARSE, 1, HTML},
    {"plain text", B("Not Found"), SHOAL_EPARSE, 0, NOT_DICT},
    {"a list", B("le"), SHOAL_EPARSE, 0, NOT_DICT},
    {"an integer", B("i5e"), SHOAL_EPARSE, 0, NOT_DICT},
    {"JSON", B("{\"interval\":1800}"), SHOAL_EPARSE, 0, NOT_DICT},
    {"truncated", B("d8:intervali1800e"), SHOAL_EPARSE, 17,
     "truncated: container not closed"},
    {"truncated string", B("d8:intervali1800e5:peers60:abc"), SHOAL_EPARSE, 24,
     "string length exceeds the input"},
    {"trailing garbage", B("d8:intervali1800ee<br>"), SHOAL_EPARSE, 18,
     "trailing data after the reply"},
    {"second dictionary", B("d8:intervali1ee d8:intervali1ee"), SHOAL_EPARSE, 16,
     "trailing data after the reply"},
    {"compact not a multiple of 6", B("d8:intervali1800e5:peers5:abcdee"), SHOAL_EPARSE,
     24, "compact peers length not a multiple of 6"},
    {"compact one byte long", B("d5:peers7:abcdefge"), SHOAL_EPARSE, 8,
     "compact peers length not a multiple of 6"},
    {"peers6 not a multiple of 18", B("d8:intervali1800e6:peers617:aaaaaaaaaaaaaaaaae"),
     SHOAL_EPARSE, 25, "compact peers6 length not a multiple of 18"},
    {"peers an integer", B("d8:intervali1800e5:peersi0ee"), SHOAL_EPARSE, 24,
     "peers is neither a string nor a list"},
    {"peers a dictionary", B("d8:intervali1800e5:peersdee"), SHOAL_EPARSE, 24,
     "peers is neither a string nor a list"},
    {"peers6 a list", B("d8:intervali1800e6:peers6lee"), SHOAL_EPARSE, 25,
     "peers6 is not a string"},
    {"failure an integer", B("d14:failure reasoni1ee"), SHOAL_EPARSE, 18,
     "failure reason is not a string"},
    {"empty dictionary", B("de"), SHOAL_EPARSE, 0, NOTHING},
    {"counts only", B("d8:completei5ee"), SHOAL_EPARSE, 0, NOTHING},
    {"a scrape reply", B("d5:filesdee"), SHOAL_EPARSE, 0, NOTHING},
    {"nothing after leading whitespace", B("  d8:completei5ee"), SHOAL_EPARSE, 2,
     NOTHING},
    {"duplicate key", B("d8:intervali1e8:intervali2ee"), SHOAL_EPARSE, 14,
     "duplicate dictionary key"},
    {"bad integer", B("d8:intervali01ee"), SHOAL_EPARSE, 11,
     "integer has a leading zero"},
};

static void
test_reply_bad(void **state)
{
    (void)state;
    for (size_t i = 0; i < ARRAY_LEN(bad_replies); i++) {
        const struct bad_reply *v = &bad_replies[i];
        struct tracker_reply r;
        struct shoal_perr err = {0};
        int rc = tracker_http_parse_reply(v->in, v->len, &r, &err);
        if (rc != v->rc || err.why == NULL || err.off != v->off ||
            strcmp(err.why, v->why) != 0)
            fail_msg("%s: rc %d off %zu why '%s', want %d off %zu why '%s'", v->name, rc,
                     err.off, err.why ? err.why : "-", v->rc, v->off, v->why);
        assert_null(r.peers);
        assert_int_equal(r.npeers, 0);
        assert_int_equal(r.failure[0], '\0');
        tracker_reply_cleanup(&r);
    }
    /* err may be NULL. */
    struct tracker_reply r;
    assert_int_equal(tracker_http_parse_reply(B("Not Found"), &r, NULL), SHOAL_EPARSE);
    tracker_reply_cleanup(&r);
}

/* A reply over the cap is refused before it is read. */
static void
test_reply_too_big(void **state)
{
    (void)state;
    size_t len = TRACKER_MAX_REPLY + 1;
    uint8_t *big = xmalloc(len);
    assert_non_null(big);
    memset(big, ' ', len);
    struct tracker_reply r;
    struct shoal_perr err = {0};
    assert_int_equal(tracker_http_parse_reply(big, len, &r, &err), SHOAL_ETOOBIG);
    assert_string_equal(err.why, "reply larger than 4 MiB");
    struct tracker_scrape_entry *e;
    size_t n;
    assert_int_equal(tracker_http_parse_scrape(big, len, &e, &n, NULL, &err),
                     SHOAL_ETOOBIG);
    assert_null(e);
    /* Many tiny values exhaust the token budget, not memory. */
    big[0] = 'd';
    big[1] = '1';
    big[2] = ':';
    big[3] = 'x';
    big[4] = 'l';
    size_t o = 5;
    while (o + 3 < TRACKER_MAX_REPLY) {
        memcpy(big + o, "le", 2);
        o += 2;
    }
    memcpy(big + o, "ee", 2);
    o += 2;
    assert_int_equal(tracker_http_parse_reply(big, o, &r, &err), SHOAL_ETOOBIG);
    assert_string_equal(err.why, "too many bencode values");
    xfree(big);
}

/* Peers beyond TRACKER_MAX_PEERS are dropped; the string length still has
 * to be whole peers. */
static void
test_reply_peer_cap(void **state)
{
    (void)state;
    size_t count = TRACKER_MAX_PEERS + 5;
    struct buf b;
    buf_init(&b, TRACKER_MAX_REPLY);
    buf_printf(&b, "d8:intervali60e5:peers%zu:", count * 6);
    for (size_t i = 0; i < count; i++) {
        uint8_t p[6] = {10,  (uint8_t)(i >> 16), (uint8_t)(i >> 8), (uint8_t)i, 0x1a,
                        0xe1};
        buf_append(&b, p, 6);
    }
    buf_append_str(&b, "e");
    assert_int_equal(buf_error(&b), 0);
    struct tracker_reply r;
    struct shoal_perr err = {0};
    assert_int_equal(tracker_http_parse_reply(b.data, b.len, &r, &err), 0);
    assert_int_equal(r.npeers, TRACKER_MAX_PEERS);
    /* In reply order: the first and the last kept. */
    assert_memory_equal(r.peers[0].ip, "\x0a\x00\x00\x00", 4);
    uint32_t last = TRACKER_MAX_PEERS - 1;
    uint8_t want[4] = {10, (uint8_t)(last >> 16), (uint8_t)(last >> 8), (uint8_t)last};
    assert_memory_equal(r.peers[TRACKER_MAX_PEERS - 1].ip, want, 4);
    tracker_reply_cleanup(&r);
    buf_cleanup(&b);
}

/* Many repeats of few peers: only the distinct ones remain. */
static void
test_reply_many_repeats(void **state)
{
    (void)state;
    struct buf b;
    buf_init(&b, TRACKER_MAX_REPLY);
    buf_printf(&b, "d8:intervali60e5:peers%u:", 3000u * 6);
    for (unsigned i = 0; i < 3000; i++) {
        uint8_t p[6] = {10, 0, 0, (uint8_t)(1 + i % 3), 0, 80};
        buf_append(&b, p, 6);
    }
    buf_append_str(&b, "e");
    struct tracker_reply r;
    assert_int_equal(tracker_http_parse_reply(b.data, b.len, &r, NULL), 0);
    char text[256];
    peers_text(r.peers, r.npeers, text, sizeof(text));
    assert_string_equal(text, "10.0.0.1:80,10.0.0.2:80,10.0.0.3:80");
    tracker_reply_cleanup(&r);
    buf_cleanup(&b);
}

/* ------------------------------------------------------------------ compact helper */

static void
test_compact_peers(void **state)
{
    (void)state;
    struct tracker_peer *p;
    size_t n;
    assert_int_equal(tracker_http_compact_peers(B("\x01\x02\x03\x04\x00\x50"), 5, &p, &n),
                     SHOAL_EINVAL);
    assert_null(p);
    assert_int_equal(
        tracker_http_compact_peers(B("\x01\x02\x03\x04\x00\x50\x01"), 4, &p, &n),
        SHOAL_EINVAL);
    assert_int_equal(tracker_http_compact_peers(B("\x01\x02\x03\x04\x00\x50"), 6, &p, &n),
                     SHOAL_EINVAL);
    assert_int_equal(tracker_http_compact_peers(NULL, 0, 4, &p, &n), 0);
    assert_null(p);
    assert_int_equal(n, 0);
    assert_int_equal(tracker_http_compact_peers(B("\x01\x02\x03\x04\x00\x50"
                                                  "\x01\x02\x03\x04\x00\x50"),
                                                4, &p, &n),
                     0);
    assert_int_equal(n, 1);
    assert_int_equal(p[0].family, 4);
    assert_int_equal(p[0].port, 80);
    assert_memory_equal(p[0].ip, "\x01\x02\x03\x04\0\0\0\0\0\0\0\0\0\0\0\0", 16);
    xfree(p);
    /* Only undialable peers: nothing, and nothing to free. */
    assert_int_equal(tracker_http_compact_peers(B("\x01\x02\x03\x04\x00\x00"), 4, &p, &n),
                     0);
    assert_null(p);
    assert_int_equal(n, 0);
}

/* ------------------------------------------------------------------ scrape replies */

static void
test_scrape_good(void **state)
{
    (void)state;
    /* The BEP 48 example, with a hash that is not 20 bytes, a value that is
     * no dictionary, a repeat, and missing counts. */
    static const uint8_t in[] =
        "d5:filesd"
        "20:xxxxxxxxxxxxxxxxxxxxd8:completei11e10:downloadedi13772e10:incompletei19ee"
        "20:yyyyyyyyyyyyyyyyyyyyd8:completei21e10:downloadedi206e10:incompletei20ee"
        "19:shortshortshortshord8:completei1ee"
        "20:wwwwwwwwwwwwwwwwwwwwi5e"
        "20:zzzzzzzzzzzzzzzzzzzzd8:completei14e10:downloadedi12191e10:incompletei9ee"
        "20:xxxxxxxxxxxxxxxxxxxxd8:completei99ee"
        "20:vvvvvvvvvvvvvvvvvvvvd8:completei-3e10:incomplete1:1e"
        "e5:flagsd20:min_request_intervali900eee";
    struct tracker_scrape_entry *e;
    size_t n;
    struct shoal_perr err = {0};
    uint32_t wait = 0;
    int rc = tracker_http_parse_scrape(in, sizeof(in) - 1, &e, &n, &wait, &err);
    if (rc)
        fail_msg("rc %d: %s at %zu", rc, shoal_perr_text(&err), err.off);
    assert_int_equal(n, 4);
    assert_int_equal(wait, 900);
    assert_memory_equal(e[0].infohash, "xxxxxxxxxxxxxxxxxxxx", 20);
    assert_int_equal(e[0].complete, 11);
    assert_int_equal(e[0].downloaded, 13772);
    assert_int_equal(e[0].incomplete, 19);
    assert_memory_equal(e[1].infohash, "yyyyyyyyyyyyyyyyyyyy", 20);
    assert_int_equal(e[1].complete, 21);
    assert_memory_equal(e[2].infohash, "zzzzzzzzzzzzzzzzzzzz", 20);
    assert_int_equal(e[2].downloaded, 12191);
    assert_int_equal(e[2].incomplete, 9);
    assert_memory_equal(e[3].infohash, "vvvvvvvvvvvvvvvvvvvv", 20);
    assert_int_equal(e[3].complete, -1);
    assert_int_equal(e[3].incomplete, -1);
    assert_int_equal(e[3].downloaded, -1);
    xfree(e);

    /* BEP 48 flags: clamped like intervals, ignored when malformed. */
    static const struct {
        const char *in;
        uint32_t want;
    } waits[] = {
        {"d5:filesde5:flagsd20:min_request_intervali10eee", TRACKER_MIN_INTERVAL_S},
        {"d5:filesde5:flagsd20:min_request_intervali999999999eee",
         TRACKER_MAX_INTERVAL_S},
        {"d5:filesde5:flagsd20:min_request_intervali-5eee", 0},
        {"d5:filesde5:flagsd20:min_request_interval2:60ee", 0},
        {"d5:filesde5:flagsli1eee", 0},
        {"d5:filesdee", 0},
    };
    for (size_t i = 0; i < ARRAY_LEN(waits); i++) {
        wait = 1;
        rc = tracker_http_parse_scrape((const uint8_t *)waits[i].in, strlen(waits[i].in),
                                       &e, &n, &wait, &err);
        if (rc != 0 || wait != waits[i].want)
            fail_msg("%s: rc %d wait %u, want %u", waits[i].in, rc, (unsigned)wait,
                     (unsigned)waits[i].want);
    }
    /* A refused scrape asks for no wait. */
    wait = 1;
    assert_int_equal(tracker_http_parse_scrape(
                         B("d14:failure reason1:x5:flagsd20:min_request_intervali99eee"),
                         &e, &n, &wait, &err),
                     SHOAL_EINVAL);
    assert_int_equal(wait, 0);

    /* No torrents known. */
    assert_int_equal(tracker_http_parse_scrape(B("d5:filesdee"), &e, &n, NULL, &err), 0);
    assert_null(e);
    assert_int_equal(n, 0);
}

struct bad_scrape {
    const char *name;
    const uint8_t *in;
    size_t len;
    int rc;
    size_t off;
    const char *why;
    const char *msg;
};

static const struct bad_scrape bad_scrapes[] = {
    {"failure reason", B("d14:failure reason17:scrape disallowede"), SHOAL_EINVAL, 18,
     "tracker refused the scrape", "scrape disallowed"},
    {"failure_reason", B("d14:failure_reason8:no \x07way\ne"), SHOAL_EINVAL, 18,
     "tracker refused the scrape", "no ?way"},
    {"failure not text", B("d14:failure reasoni3ee"), SHOAL_EINVAL, 18,
     "tracker refused the scrape", ""},
    {"no files", B("d8:intervali60ee"), SHOAL_EPARSE, 0,
     "scrape reply has no files dictionary", ""},
    {"files a list", B("d5:fileslee"), SHOAL_EPARSE, 8,
     "scrape reply has no files dictionary", ""},
    {"HTML", B("<html>"), SHOAL_EPARSE, 0, HTML, ""},
    {"not a dictionary", B("5:files"), SHOAL_EPARSE, 0, NOT_DICT, ""},
    {"truncated", B("d5:filesd20:xxxxxxxxxxxxxxxxxxxxd8:completei1e"), SHOAL_EPARSE, 46,
     "truncated: container not closed", ""},
};

static void
test_scrape_bad(void **state)
{
    (void)state;
    for (size_t i = 0; i < ARRAY_LEN(bad_scrapes); i++) {
        const struct bad_scrape *v = &bad_scrapes[i];
        struct tracker_scrape_entry *e = (void *)1;
        size_t n = 99;
        struct shoal_perr err = {0};
        int rc = tracker_http_parse_scrape(v->in, v->len, &e, &n, NULL, &err);
        if (rc != v->rc || err.off != v->off || !err.why || strcmp(err.why, v->why) ||
            strcmp(err.msg, v->msg))
            fail_msg("%s: rc %d off %zu why '%s' msg '%s'", v->name, rc, err.off,
                     err.why ? err.why : "-", err.msg);
        assert_null(e);
        assert_int_equal(n, 0);
    }
    /* err may be NULL. */
    struct tracker_scrape_entry *e;
    size_t n;
    assert_int_equal(
        tracker_http_parse_scrape(B("d14:failure reason1:xe"), &e, &n, NULL, NULL),
        SHOAL_EINVAL);
}

/* ------------------------------------------------------------------ sanitize */

struct text_vector {
    const char *name;
    const uint8_t *in;
    size_t len;
    size_t cap;
    const char *want;
};

static const struct text_vector texts[] = {
    {"plain", B("torrent not registered"), 64, "torrent not registered"},
    {"UTF-8 kept", B("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80"), 64,
     "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80"},
    {"controls",
     B("a\x01"
       "b\x1b"
       "c\x7f"
       "d"),
     64, "a?b?c?d"},
    {"whitespace made spaces", B("a\tb\nc\rd"), 64, "a b c d"},
    {"trailing NULs and whitespace", B("done\x00\x00 \r\n\x00"), 64, "done"},
    {"inner NUL",
     B("a\x00"
       "b"),
     64, "a?b"},
    {"invalid UTF-8", B("\xff\xfe\xc3(\xed\xa0\x80"), 64, "??\?(???"},
    {"overlong", B("\xc0\xaf"), 64, "??"},
    {"C1 control",
     B("x\xc2\x9b"
       "1m\xc2\xa0y"),
     64, "x?1m\xc2\xa0y"},
    {"cut to fit", B("abcdefgh"), 5, "abcd"},
    {"cut before a character", B("ab\xc3\xa9"), 4, "ab"},
    {"cut exactly after a character", B("ab\xc3\xa9"), 5, "ab\xc3\xa9"},
    {"room for nothing", B("abc"), 1, ""},
    {"empty", B(""), 8, ""},
};

static void
test_sanitize(void **state)
{
    (void)state;
    for (size_t i = 0; i < ARRAY_LEN(texts); i++) {
        const struct text_vector *v = &texts[i];
        char out[64];
        memset(out, 'Z', sizeof(out));
        size_t n = tracker_http_sanitize_text(out, v->cap, v->in, v->len);
        if (strcmp(out, v->want) != 0 || n != strlen(v->want))
            fail_msg("%s: got '%s' (%zu)", v->name, out, n);
        assert_true(utf8_valid((const uint8_t *)out, n));
    }
}

/* ------------------------------------------------------------------ allocation */

/* Every allocation failing in turn gives SHOAL_ENOMEM (or success once
 * enough succeed), never a crash or a leak. */
static void
test_alloc_failures(void **state)
{
    (void)state;
    static const uint8_t reply[] =
        "d8:intervali60e5:peers12:\x01\x01\x01\x01\x00\x01\x02\x02\x02\x02\x00\x02"
        "6:peers618:"
        "\x20\x01\x0d\xb8\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x01\x00\x01"
        "e";
    static const uint8_t scrape[] = "d5:filesd20:xxxxxxxxxxxxxxxxxxxxd8:completei1ee"
                                    "20:yyyyyyyyyyyyyyyyyyyyd8:completei2eeee";
    int ok = 0;
    for (long k = 0; k < 50 && !ok; k++) {
        struct tracker_reply r;
        alloc_fail_after(k);
        int rc = tracker_http_parse_reply(reply, sizeof(reply) - 1, &r, NULL);
        alloc_fail_after(-1);
        assert_true(rc == 0 || rc == SHOAL_ENOMEM);
        if (rc == 0) {
            assert_int_equal(r.npeers, 3);
            ok = 1;
        }
        tracker_reply_cleanup(&r);
    }
    assert_true(ok);
    ok = 0;
    for (long k = 0; k < 50 && !ok; k++) {
        struct tracker_scrape_entry *e;
        size_t n;
        alloc_fail_after(k);
        int rc =
            tracker_http_parse_scrape(scrape, sizeof(scrape) - 1, &e, &n, NULL, NULL);
        alloc_fail_after(-1);
        assert_true(rc == 0 || rc == SHOAL_ENOMEM);
        if (rc == 0) {
            assert_int_equal(n, 2);
            ok = 1;
        } else {
            assert_null(e);
        }
        xfree(e);
    }
    assert_true(ok);
    ok = 0;
    for (long k = 0; k < 50 && !ok; k++) {
        struct tracker_announce a;
        fill_announce(&a);
        struct buf b;
        buf_init(&b, 4096);
        alloc_fail_after(k);
        int rc = tracker_http_announce_url("http://t/announce", &a, &b);
        alloc_fail_after(-1);
        assert_true(rc == 0 || rc == SHOAL_ENOMEM);
        ok = rc == 0;
        buf_cleanup(&b);
    }
    assert_true(ok);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_announce_url),
        cmocka_unit_test(test_announce_url_bad),
        cmocka_unit_test(test_announce_url_cap),
        cmocka_unit_test(test_scrape_url),
        cmocka_unit_test(test_reply_good),
        cmocka_unit_test(test_reply_bad),
        cmocka_unit_test(test_reply_too_big),
        cmocka_unit_test(test_reply_peer_cap),
        cmocka_unit_test(test_reply_many_repeats),
        cmocka_unit_test(test_compact_peers),
        cmocka_unit_test(test_scrape_good),
        cmocka_unit_test(test_scrape_bad),
        cmocka_unit_test(test_sanitize),
        cmocka_unit_test(test_alloc_failures),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
