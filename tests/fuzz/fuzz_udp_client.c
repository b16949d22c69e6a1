/*
 * fuzz_udp_client.c — libFuzzer target for the UDP tracker client codec.
 *
 * The first 4 bytes of the input are the transaction id the client expects;
 * the rest is a packet from the tracker. The packet is parsed for an IPv4 and
 * an IPv6 socket, once with the expected id from the input and once with the
 * packet's own id, so that both the mismatch path and every action are
 * reached. Every accepted response must agree with the raw bytes (sizes per
 * action, connection id, counts, whole peers and scrape entries) and keep the
 * promises of tracker_udp.h (dialable unique peers, clamped interval, clean
 * error text); every refusal needs SHOAL_EPARSE, a reason and an offset
 * inside the packet. The input is also read as a udp:// URL, and a URL that
 * parses must survive the trip through an announce request: the URLData
 * options read back from the packet give the URL's path and query again.
 * The connect and scrape encoders are fed from the input too and checked
 * against the BEP 15 layout. Any broken promise aborts so that the fuzzer
 * reports the input.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/util.h"
#include "codec/tracker_udp.h"
#include "shoal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint32_t
be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void
check_peers(const struct tracker_peer *p, size_t n)
{
    static const uint8_t zero[16] = {0};
    if ((n == 0) != (p == NULL) || n > TRACKER_MAX_PEERS)
        abort();
    for (size_t i = 0; i < n; i++) {
        if (p[i].port == 0)
            abort();
        if (p[i].family == 4) {
            if (memcmp(p[i].ip + 4, zero, 12) != 0 || p[i].ip[0] == 0 ||
                p[i].ip[0] >= 224)
                abort();
        } else if (p[i].family == 6) {
            if (memcmp(p[i].ip, zero, 16) == 0 || p[i].ip[0] == 0xff)
                abort();
        } else {
            abort();
        }
        for (size_t j = 0; j < i; j++)
            if (p[i].family == p[j].family && p[i].port == p[j].port &&
                memcmp(p[i].ip, p[j].ip, 16) == 0)
                abort();
    }
}

static void
check_response(const uint8_t *p, size_t n, uint32_t tid, int family)
{
    struct tracker_udp_response r;
    struct shoal_perr err = {0};
    int rc = tracker_udp_parse_response(p, n, tid, family, &r, &err);
    if (rc != 0) {
        if (rc != SHOAL_EPARSE || err.why == NULL || err.off > n)
            abort();
        if (r.peers || r.npeers || r.nscrape)
            abort();
        /* Packets of another transaction are always refused as such. */
        if (n >= 8 && be32(p + 4) != tid && strcmp(err.why, "transaction id mismatch"))
            abort();
        tracker_udp_response_cleanup(&r);
        return;
    }
    if (n < 8 || r.tid != tid || be32(p + 4) != tid)
        abort();
    /* The action is the packet's, except for the two forms read as errors:
     * the little-endian error action and an announce of the header alone. */
    int quirk =
        r.action == TRACKER_UDP_ERROR &&
        (be32(p) == TRACKER_UDP_ERROR_LE || (be32(p) == TRACKER_UDP_ANNOUNCE && n == 8));
    if ((uint32_t)r.action != be32(p) && !quirk)
        abort();
    size_t stride = family == 4 ? 6 : 18;
    switch (r.action) {
    case TRACKER_UDP_CONNECT:
        if (n < 16 || r.conn_id != ((uint64_t)be32(p + 8) << 32 | be32(p + 12)))
            abort();
        break;
    case TRACKER_UDP_ANNOUNCE:
        if (n < 20 || (n - 20) % stride || r.npeers > (n - 20) / stride)
            abort();
        if (r.leechers != be32(p + 12) || r.seeders != be32(p + 16))
            abort();
        if (r.interval != 0 &&
            (r.interval < TRACKER_MIN_INTERVAL_S || r.interval > TRACKER_MAX_INTERVAL_S))
            abort();
        check_peers(r.peers, r.npeers);
        break;
    case TRACKER_UDP_SCRAPE:
        if ((n - 8) % 12 || r.nscrape != (n - 8) / 12 ||
            r.nscrape > TRACKER_UDP_MAX_SCRAPE)
            abort();
        for (size_t i = 0; i < r.nscrape; i++) {
            const uint8_t *e = p + 8 + 12 * i;
            if (r.scrape[i].seeders != be32(e) || r.scrape[i].completed != be32(e + 4) ||
                r.scrape[i].leechers != be32(e + 8))
                abort();
        }
        break;
    case TRACKER_UDP_ERROR: {
        size_t len = strnlen(r.error, sizeof(r.error));
        if (be32(p) == TRACKER_UDP_ANNOUNCE &&
            strcmp(r.error, TRACKER_UDP_EMPTY_ANNOUNCE))
            abort();
        if (len >= sizeof(r.error) || (len > n - 8 && be32(p) != TRACKER_UDP_ANNOUNCE) ||
            !utf8_valid((const uint8_t *)r.error, len))
            abort();
        for (size_t i = 0; i < len; i++)
            if ((uint8_t)r.error[i] < 0x20 || r.error[i] == 0x7f)
                abort();
        break;
    }
    default:
        abort();
    }
    if (r.action != TRACKER_UDP_ANNOUNCE && (r.peers || r.npeers))
        abort();
    tracker_udp_response_cleanup(&r);
}

/* Reads the BEP 41 options after the 98 fixed bytes of an announce and
 * joins the URLData chunks into out; returns the joined length. */
static size_t
read_urldata(const uint8_t *pkt, size_t n, char *out)
{
    size_t o = 0, i = TRACKER_UDP_ANNOUNCE_LEN;
    while (i < n) {
        uint8_t type = pkt[i++];
        if (type == TRACKER_UDP_OPT_END)
            break;
        if (type == TRACKER_UDP_OPT_NOP)
            continue;
        if (i >= n)
            abort();
        size_t len = pkt[i++];
        if (i + len > n || type != TRACKER_UDP_OPT_URLDATA || len == 0)
            abort();
        memcpy(out + o, pkt + i, len);
        o += len;
        i += len;
    }
    /* The end marker is the last byte written. */
    if (i != n)
        abort();
    return o;
}

static void
check_url(const uint8_t *data, size_t size)
{
    if (size > 2 * TRACKER_UDP_MAX_URLDATA)
        return;
    char *url = xmalloc(size + 1);
    if (!url)
        return;
    memcpy(url, data, size);
    url[size] = '\0';
    char host[256], urldata[TRACKER_UDP_MAX_URLDATA + 1];
    uint16_t port = 0;
    int rc =
        tracker_udp_parse_url(url, host, sizeof(host), &port, urldata, sizeof(urldata));
    if (rc == 0) {
        size_t hn = strlen(host), un = strlen(urldata);
        if (port == 0 || hn == 0 || un > TRACKER_UDP_MAX_URLDATA)
            abort();
        if (un && urldata[0] != '/' && urldata[0] != '?')
            abort();
        if (strpbrk(host, "/?#@ ") || strpbrk(urldata, "# "))
            abort();
        struct tracker_announce a;
        memset(&a, 0, sizeof(a));
        a.port = port;
        a.numwant = -1;
        a.event = (int)(size % 4);
        uint8_t pkt[TRACKER_UDP_MAX_REQUEST];
        size_t n = tracker_udp_announce_req(pkt, sizeof(pkt), 1, 2, &a, 0, urldata);
        if (n < TRACKER_UDP_ANNOUNCE_LEN || n > sizeof(pkt))
            abort();
        if (pkt[96] != (uint8_t)(port >> 8) || pkt[97] != (uint8_t)port)
            abort();
        char back[TRACKER_UDP_MAX_URLDATA + 1];
        size_t bn = read_urldata(pkt, n, back);
        if (bn != un || memcmp(back, urldata, un) != 0)
            abort();
        /* One byte less room is always refused. */
        if (tracker_udp_announce_req(pkt, n - 1, 1, 2, &a, 0, urldata) != 0)
            abort();
    } else if (rc != SHOAL_EINVAL && rc != SHOAL_ETOOBIG) {
        abort();
    }
    xfree(url);
}

/* The fixed-size encoders: header fields and hashes land where BEP 15 puts
 * them, and out-of-range counts are refused. */
static void
check_encoders(const uint8_t *data, size_t size)
{
    uint32_t tid = size >= 4 ? be32(data) : (uint32_t)size;
    uint64_t conn = size >= 12 ? (uint64_t)be32(data + 4) << 32 | be32(data + 8) : 0;
    uint8_t c[TRACKER_UDP_CONNECT_LEN];
    if (tracker_udp_connect_req(c, tid) != TRACKER_UDP_CONNECT_LEN ||
        memcmp(c, "\x00\x00\x04\x17\x27\x10\x19\x80\0\0\0\0", 12) != 0 ||
        be32(c + 12) != tid)
        abort();

    size_t n = size / 20;
    uint8_t out[TRACKER_UDP_SCRAPE_LEN(TRACKER_UDP_MAX_SCRAPE)];
    size_t len = tracker_udp_scrape_req(out, sizeof(out), conn, tid,
                                        (const uint8_t(*)[20])data, n);
    if (n == 0 || n > TRACKER_UDP_MAX_SCRAPE) {
        if (len != 0)
            abort();
        return;
    }
    if (len != 16 + 20 * n || be32(out) != (uint32_t)(conn >> 32) ||
        be32(out + 4) != (uint32_t)conn || be32(out + 8) != TRACKER_UDP_SCRAPE ||
        be32(out + 12) != tid || memcmp(out + 16, data, 20 * n) != 0)
        abort();
    if (tracker_udp_scrape_req(out, len - 1, conn, tid, (const uint8_t(*)[20])data, n))
        abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    check_url(data, size);
    check_encoders(data, size);
    if (size < 4)
        return 0;
    uint32_t tid = be32(data);
    const uint8_t *p = data + 4;
    size_t n = size - 4;
    check_response(p, n, tid, 4);
    check_response(p, n, tid, 6);
    if (n >= 8) {
        check_response(p, n, be32(p + 4), 4);
        check_response(p, n, be32(p + 4), 6);
    }
    return 0;
}
