/*
 * fuzz_udp_server.c — libFuzzer target for the tracker server's UDP side
 * (BEP 15 requests with BEP 41 options, src/tracker_req.c).
 *
 * The input is one datagram. It parses or fails cleanly (a known code, a
 * reason, an offset inside the packet, the transaction id read whenever 16
 * bytes are there). A request that parses keeps the header's promises: a
 * connect carries the protocol id; an announce has its 98 bytes, a known
 * event, a nonzero port, a capped numwant, and its fields written back give
 * the same 98 bytes; its URLData is no longer than the options and equals
 * them in a packet made of one URLData option; a scrape has 1 to 74 hashes
 * that are a slice of the packet. The responses built for it have the
 * lengths BEP 15 gives, and connection ids made for an address taken from
 * the input are accepted for that address only. Any broken promise aborts.
 */
#include <netinet/in.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "codec/tracker_req.h"
#include "shoal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint32_t
be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void
put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static void
put64(uint8_t *p, uint64_t v)
{
    put32(p, (uint32_t)(v >> 32));
    put32(p + 4, (uint32_t)v);
}

static void
check_announce(const uint8_t *data, size_t size, const struct tracker_req_udp *r)
{
    if (size < TRACKER_REQ_UDP_ANNOUNCE_LEN || r->event > TRACKER_REQ_EVENT_STOPPED ||
        r->port == 0 || r->numwant > TRACKER_REQ_NUMWANT_MAX)
        abort();
    if (r->numwant_raw < 0 && r->numwant != TRACKER_REQ_NUMWANT_DEFAULT)
        abort();
    /* Every field, written back, gives the bytes it came from. */
    uint8_t p[TRACKER_REQ_UDP_ANNOUNCE_LEN];
    put64(p, r->conn_id);
    put32(p + 8, r->action);
    put32(p + 12, r->tid);
    memcpy(p + 16, r->info_hash, 20);
    memcpy(p + 36, r->peer_id, 20);
    put64(p + 56, r->downloaded);
    put64(p + 64, r->left);
    put64(p + 72, r->uploaded);
    put32(p + 80, r->event);
    put32(p + 84, r->ip);
    put32(p + 88, r->key);
    put32(p + 92, (uint32_t)r->numwant_raw);
    p[96] = (uint8_t)(r->port >> 8);
    p[97] = (uint8_t)r->port;
    if (memcmp(p, data, sizeof(p)) != 0)
        abort();
    /* URLData comes from the options: never more bytes than they have. */
    size_t opts = size - TRACKER_REQ_UDP_ANNOUNCE_LEN;
    if (r->url_len > TRACKER_REQ_UDP_MAX_URL || r->url_len > opts)
        abort();
    /* One URLData option filling the rest exactly: the URL is its data. */
    const uint8_t *o = data + TRACKER_REQ_UDP_ANNOUNCE_LEN;
    if (opts >= 2 && o[0] == 2 && (size_t)o[1] + 2 == opts &&
        (r->url_len != o[1] || r->url_truncated || memcmp(r->url, o + 2, o[1]) != 0))
        abort();

    uint8_t out[TRACKER_REQ_UDP_ANNOUNCE_HDR + 18 * 4];
    size_t peers = (size - TRACKER_REQ_UDP_ANNOUNCE_LEN) % (sizeof(out) - 19);
    size_t n =
        tracker_req_udp_announce_resp(out, sizeof(out), r->tid, 1800, 1, 2, data, peers);
    if (n != TRACKER_REQ_UDP_ANNOUNCE_HDR + peers || be32(out) != TRACKER_REQ_ANNOUNCE ||
        be32(out + 4) != r->tid || memcmp(out + 20, data, peers) != 0)
        abort();
}

static void
check_scrape(const uint8_t *data, size_t size, const struct tracker_req_udp *r)
{
    if (r->nhashes < 1 || r->nhashes > TRACKER_REQ_UDP_MAX_SCRAPE ||
        r->hashes != data + 16 || size != 16 + 20 * r->nhashes)
        abort();
    struct tracker_req_scrape_entry e[TRACKER_REQ_UDP_MAX_SCRAPE];
    for (size_t i = 0; i < r->nhashes; i++) {
        memcpy(e[i].info_hash, r->hashes + 20 * i, 20);
        e[i].complete = be32(e[i].info_hash);
        e[i].downloaded = (uint64_t)be32(e[i].info_hash + 4) << 8;
        e[i].incomplete = be32(e[i].info_hash + 8);
    }
    uint8_t out[8 + 12 * TRACKER_REQ_UDP_MAX_SCRAPE];
    size_t n = tracker_req_udp_scrape_resp(out, sizeof(out), r->tid, e, r->nhashes);
    if (n != 8 + 12 * r->nhashes || be32(out) != TRACKER_REQ_SCRAPE)
        abort();
    for (size_t i = 0; i < r->nhashes; i++) {
        uint64_t d = e[i].downloaded > UINT32_MAX ? UINT32_MAX : e[i].downloaded;
        if (be32(out + 8 + 12 * i) != e[i].complete || be32(out + 12 + 12 * i) != d ||
            be32(out + 16 + 12 * i) != e[i].incomplete)
            abort();
    }
}

/* Connection ids for an address made from the input's first bytes. */
static void
check_conn_ids(const uint8_t *data, size_t size)
{
    uint8_t key[32] = {0};
    memcpy(key, data, size < 32 ? size : 32);
    uint64_t now = size >= 8 ? (uint64_t)be32(data) << 20 | be32(data + 4) : size;
    struct sockaddr_in6 a = {0}, b;
    a.sin6_family = AF_INET6;
    memcpy(&a.sin6_addr, data + (size > 16 ? size - 16 : 0), size < 16 ? size : 16);
    a.sin6_port = (uint16_t)(size * 257);
    uint64_t id = tracker_req_conn_id(key, (struct sockaddr *)&a, now);
    if (!tracker_req_conn_id_ok(key, (struct sockaddr *)&a, id, now) ||
        !tracker_req_conn_id_ok(key, (struct sockaddr *)&a, id,
                                now + TRACKER_REQ_CONN_WINDOW))
        abort();
    /* Another port, another id (a 64-bit collision would be a finding too). */
    b = a;
    b.sin6_port ^= 1;
    if (tracker_req_conn_id_ok(key, (struct sockaddr *)&b, id, now))
        abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct tracker_req_udp r;
    struct shoal_perr err = {0};
    int rc = tracker_req_parse_udp(data, size, &r, &err);
    if (rc != 0) {
        if ((rc != SHOAL_EPARSE && rc != SHOAL_ETOOBIG) || !err.why || err.off > size)
            abort();
        if (size >= 16 && (r.tid != be32(data + 12) || r.action != be32(data + 8)))
            abort();
    } else {
        if (size < 16 || r.tid != be32(data + 12))
            abort();
        switch (r.action) {
        case TRACKER_REQ_CONNECT: {
            if (r.conn_id != TRACKER_REQ_UDP_PROTOCOL_ID)
                abort();
            uint8_t out[16];
            if (tracker_req_udp_connect_resp(out, r.tid, 42) != 16 || be32(out) != 0)
                abort();
            break;
        }
        case TRACKER_REQ_ANNOUNCE:
            check_announce(data, size, &r);
            break;
        case TRACKER_REQ_SCRAPE:
            check_scrape(data, size, &r);
            break;
        default:
            abort();
        }
    }
    /* The error response carries the message, cut to fit. */
    uint8_t out[64];
    char msg[80];
    size_t m = size < sizeof(msg) - 1 ? size : sizeof(msg) - 1;
    memcpy(msg, data, m);
    msg[m] = '\0';
    size_t n = tracker_req_udp_error_resp(out, sizeof(out), r.tid, msg);
    size_t want = strlen(msg) > sizeof(out) - 8 ? sizeof(out) : 8 + strlen(msg);
    if (n != want || be32(out) != TRACKER_REQ_ERROR || memcmp(out + 8, msg, n - 8) != 0)
        abort();
    check_conn_ids(data, size);
    return 0;
}
