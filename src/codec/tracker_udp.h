/*
 * tracker_udp.h — the client side of the UDP tracker protocol (BEP 15, with
 * the BEP 41 URLData option) as a pure codec. Codec layer.
 *
 * Encoders write request packets into caller buffers; the parser checks a
 * received packet against the transaction it answers and returns its
 * contents. The retransmit schedule and the connection id lifetime are here
 * as plain functions and constants, so the session that owns the socket and
 * the timers only has to follow them. Nothing here touches a socket, a host
 * name or the clock.
 */
#ifndef SHOAL_TRACKER_UDP_H
#define SHOAL_TRACKER_UDP_H

#include <stddef.h>
#include <stdint.h>

#include "codec/tracker_http.h"
#include "shoal.h"

/* ------------------------------------------------------------------ protocol */

/* BEP 15: the magic connection id of a connect request. */
#define TRACKER_UDP_PROTOCOL_ID 0x41727101980ull

enum tracker_udp_action {
    TRACKER_UDP_CONNECT = 0,
    TRACKER_UDP_ANNOUNCE = 1,
    TRACKER_UDP_SCRAPE = 2,
    TRACKER_UDP_ERROR = 3,
};

/* The error action as older opentracker releases sent it: written in host
 * byte order on a little-endian machine. Read as TRACKER_UDP_ERROR. */
#define TRACKER_UDP_ERROR_LE 0x03000000u
/* The error text given for an announce response that is only the 8-byte
 * header (opentracker's answer for a torrent it does not serve). */
#define TRACKER_UDP_EMPTY_ANNOUNCE                                                       \
    "empty announce response: the tracker does not serve this torrent"

/* Request sizes (BEP 15). */
#define TRACKER_UDP_CONNECT_LEN  16
#define TRACKER_UDP_ANNOUNCE_LEN 98
/* BEP 15: "up to about 74 torrents can be scraped at once". */
#define TRACKER_UDP_MAX_SCRAPE    74
#define TRACKER_UDP_SCRAPE_LEN(n) (16 + 20 * (size_t)(n))

/* BEP 41 option types. */
#define TRACKER_UDP_OPT_END     0
#define TRACKER_UDP_OPT_NOP     1
#define TRACKER_UDP_OPT_URLDATA 2

/* Longest path and query sent as URLData. Tracker URLs carry a passkey or a
 * signature, a few dozen bytes; 1 KiB keeps the request one small packet. */
#define TRACKER_UDP_MAX_URLDATA 1024
/* Largest announce request: the fixed part, URLData in chunks of at most
 * 255 bytes with two bytes of header each, and the end-of-options byte. */
#define TRACKER_UDP_MAX_REQUEST                                                          \
    (TRACKER_UDP_ANNOUNCE_LEN + TRACKER_UDP_MAX_URLDATA +                                \
     2 * ((TRACKER_UDP_MAX_URLDATA + 254) / 255) + 1)

/* BEP 15: a client may use a connection id until one minute after it got
 * it; after that it must connect again. */
#define TRACKER_UDP_CONN_ID_TTL_S 60
/* BEP 15: retransmit after 15 * 2^n seconds, n = 0..8, then give up. */
#define TRACKER_UDP_BASE_TIMEOUT_S 15
#define TRACKER_UDP_MAX_ATTEMPT    8

/* Size of the error message buffer of a response. */
#define TRACKER_UDP_MAX_ERROR 256

/* ------------------------------------------------------------------ requests */

/* Writes a connect request; returns TRACKER_UDP_CONNECT_LEN. */
size_t tracker_udp_connect_req(uint8_t out[TRACKER_UDP_CONNECT_LEN], uint32_t tid);

/*
 * Writes an announce request into out[0..cap): the 98 bytes of BEP 15 and,
 * when urldata is neither NULL nor empty, the BEP 41 options: URLData in
 * chunks of at most 255 bytes (the tracker joins them), then EndOfOptions.
 * urldata is the path and query of the tracker URL (tracker_udp_parse_url).
 * a->numwant < 0 sends -1 (the tracker's default); ip is the IPv4 address to
 * announce in host order, normally 0 (the packet's source); a->trackerid,
 * a->compact and a->no_peer_id have no meaning over UDP and are ignored.
 * Returns the packet length, or 0 when cap is too small (TRACKER_UDP_MAX_REQUEST
 * always suffices), urldata is longer than TRACKER_UDP_MAX_URLDATA or
 * a->event is unknown.
 */
size_t tracker_udp_announce_req(uint8_t *out, size_t cap, uint64_t conn_id, uint32_t tid,
                                const struct tracker_announce *a, uint32_t ip,
                                const char *urldata);

/*
 * Writes a scrape request for n info hashes (1..TRACKER_UDP_MAX_SCRAPE).
 * Returns TRACKER_UDP_SCRAPE_LEN(n), or 0 when n is out of range or cap too
 * small.
 */
size_t tracker_udp_scrape_req(uint8_t *out, size_t cap, uint64_t conn_id, uint32_t tid,
                              const uint8_t (*hashes)[20], size_t n);

/* ------------------------------------------------------------------ responses */

/* One torrent of a scrape response, in the order the request named them. */
struct tracker_udp_scrape_entry {
    uint32_t seeders, completed, leechers;
};

struct tracker_udp_response {
    int action;   /* enum tracker_udp_action */
    uint32_t tid; /* always the expected one */
    /* connect */
    uint64_t conn_id;
    /* announce: interval clamped like the HTTP one (TRACKER_MIN_INTERVAL_S..
     * TRACKER_MAX_INTERVAL_S), 0 when the tracker sent 0 or a negative one */
    uint32_t interval, leechers, seeders;
    struct tracker_peer *peers; /* heap; free with tracker_udp_response_cleanup */
    size_t npeers;
    /* scrape */
    struct tracker_udp_scrape_entry scrape[TRACKER_UDP_MAX_SCRAPE];
    size_t nscrape;
    /* error: the tracker's message, sanitized (tracker_http_sanitize_text) */
    char error[TRACKER_UDP_MAX_ERROR];
};

/*
 * Parses a packet received from a tracker in answer to the request with
 * transaction id expect_tid. `family` is the address family of the socket
 * (4 or 6): BEP 15 makes the peers of an announce response 6 bytes long from
 * an IPv4 tracker address and 18 bytes from an IPv6 one.
 *
 * Returns 0 with *out filled: out->action says which response it is (the
 * caller checks it is the one it asked for, or TRACKER_UDP_ERROR). An error
 * (action 3, or TRACKER_UDP_ERROR_LE) is recognised before any length rule
 * of the other actions: 8 bytes of header, then the message, which may be
 * empty. An announce response of exactly 8 bytes is reported as an error
 * with the text TRACKER_UDP_EMPTY_ANNOUNCE. Checked:
 * at least 8 bytes (action and transaction id); the transaction id; 16 bytes
 * for connect (BEP 15: packets may grow, so extra bytes are ignored); 20 for
 * announce, followed by whole peers only; scrape entries of 12 bytes, whole
 * and at most TRACKER_UDP_MAX_SCRAPE; a known action. Announce peers are
 * filtered like HTTP ones (port 0, unspecified, multicast and repeated
 * addresses are dropped; at most TRACKER_MAX_PEERS kept).
 *
 * Errors: SHOAL_EPARSE with err->off and err->why ("transaction id mismatch"
 * for a packet of another transaction, which the caller simply ignores);
 * SHOAL_EINVAL for a family other than 4 or 6; SHOAL_ENOMEM. On error *out
 * holds nothing to free; tracker_udp_response_cleanup(out) is always safe.
 */
int tracker_udp_parse_response(const uint8_t *p, size_t n, uint32_t expect_tid,
                               int family, struct tracker_udp_response *out,
                               struct shoal_perr *err);

/* Frees the peers and zeroes the response. */
void tracker_udp_response_cleanup(struct tracker_udp_response *r);

/* ------------------------------------------------------------------ timing */

/* BEP 15: seconds to wait for an answer to try number `attempt` (0 for the
 * first send): 15 * 2^attempt, attempt clamped into 0..TRACKER_UDP_MAX_ATTEMPT
 * (15 s up to 3840 s). */
uint32_t tracker_udp_timeout_s(int attempt);

/* 1 when try number `attempt` is past the last one BEP 15 allows (attempt >
 * TRACKER_UDP_MAX_ATTEMPT): the tracker is unreachable. */
int tracker_udp_give_up(int attempt);

/* ------------------------------------------------------------------ URLs */

/*
 * Splits "udp://host:port/path?query" (scheme in any case; host a name, a
 * dotted IPv4 address or a bracketed IPv6 literal). Writes the host (without
 * brackets) to host[0..hostlen), the port to *port, and the path and query
 * (for BEP 41 URLData; "" when the URL has neither) to urldata[0..urldatalen);
 * a fragment is dropped. Returns 0; SHOAL_EINVAL when the scheme is not udp,
 * the host is empty or holds user info, spaces or control bytes, an IPv6
 * literal is not closed, or the port is missing, not a number or not in
 * 1..65535; SHOAL_ETOOBIG when the host or the urldata does not fit (or the
 * urldata exceeds TRACKER_UDP_MAX_URLDATA).
 */
int tracker_udp_parse_url(const char *url, char *host, size_t hostlen, uint16_t *port,
                          char *urldata, size_t urldatalen);

#endif
