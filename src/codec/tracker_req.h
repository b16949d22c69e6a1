/*
 * tracker_req.h — the server side of the tracker protocols as a pure codec:
 * HTTP announce and scrape queries in, bencoded replies out (BEP 3, BEP 23,
 * BEP 7, BEP 48), and UDP tracker packets both ways (BEP 15, with BEP 41
 * options), plus stateless UDP connection ids. Codec layer, pure: no
 * socket, no clock (the time is passed in), no allocation on the parse path.
 *
 * Parsers validate everything and fill a struct, or return a negative code
 * with *err naming the byte offset and a static reason. Slices in the parsed
 * structs point into the caller's input. Encoders append to a struct buf or
 * write into a caller buffer.
 *
 * The names here carry the tracker_req_ prefix so that they never clash
 * with the tracker client codecs (tracker_http.h, tracker_udp.h).
 */
#ifndef SHOAL_TRACKER_REQ_H
#define SHOAL_TRACKER_REQ_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "base/buf.h"
#include "shoal.h"

/* ------------------------------------------------------------------ limits */

/* Longest query string accepted; a real announce is a few hundred bytes. */
#define TRACKER_REQ_MAX_QUERY 4096
/* numwant when absent, negative or not a number, and the most we give. */
#define TRACKER_REQ_NUMWANT_DEFAULT 50
#define TRACKER_REQ_NUMWANT_MAX     200
/* Infohashes in one HTTP scrape; each costs a lookup and 60 reply bytes. */
#define TRACKER_REQ_MAX_SCRAPE 100
/* Longest decoded ip, ipv4 or ipv6 parameter ("[v6]:port" is 47 bytes). */
#define TRACKER_REQ_MAX_IP 63

/* BEP 15. */
#define TRACKER_REQ_UDP_PROTOCOL_ID  0x41727101980ull
#define TRACKER_REQ_UDP_CONNECT_LEN  16
#define TRACKER_REQ_UDP_ANNOUNCE_LEN 98
#define TRACKER_REQ_UDP_ANNOUNCE_HDR 20 /* announce response before the peers */
/* 16 + 20 * 74 = 1496 bytes: a scrape that fits one Ethernet frame. */
#define TRACKER_REQ_UDP_MAX_SCRAPE 74
/* BEP 41 URLData kept at most (several options are concatenated). */
#define TRACKER_REQ_UDP_MAX_URL 1024
/* Connection ids change every window and are accepted in that window and
 * the two after it: BEP 15 lets a client use one for a minute and asks a
 * tracker to accept it for two. */
#define TRACKER_REQ_CONN_WINDOW  60
#define TRACKER_REQ_CONN_WINDOWS 3

/* Events, numbered as BEP 15 numbers them (also used for HTTP). */
enum tracker_req_event {
    TRACKER_REQ_EVENT_NONE = 0,
    TRACKER_REQ_EVENT_COMPLETED = 1,
    TRACKER_REQ_EVENT_STARTED = 2,
    TRACKER_REQ_EVENT_STOPPED = 3,
};

/* BEP 15 actions. */
enum tracker_req_action {
    TRACKER_REQ_CONNECT = 0,
    TRACKER_REQ_ANNOUNCE = 1,
    TRACKER_REQ_SCRAPE = 2,
    TRACKER_REQ_ERROR = 3,
};

/* ------------------------------------------------------------------ HTTP */

struct tracker_req_announce {
    uint8_t info_hash[20];
    uint8_t peer_id[20];
    uint16_t port;                 /* 1..65535 */
    uint64_t uploaded, downloaded; /* 0 when absent */
    uint64_t left;                 /* UINT64_MAX when absent: a leecher */
    int event;                     /* enum tracker_req_event */
    int paused;                    /* BEP 21 event=paused (event is NONE) */
    int compact;                   /* 1 unless the client sent compact=0 */
    int no_peer_id;
    uint32_t numwant; /* already defaulted and capped */
    /* Raw slices of the query (still percent-encoded); NULL when absent. */
    const char *key;
    size_t key_len;
    const char *trackerid;
    size_t trackerid_len;
    /* Percent-decoded addresses the client claims (BEP 3 ip, BEP 7 ipv4 and
     * ipv6); "" when absent. Recorded only: the server decides whether to
     * believe them. */
    char ip[TRACKER_REQ_MAX_IP + 1];
    char ipv4[TRACKER_REQ_MAX_IP + 1];
    char ipv6[TRACKER_REQ_MAX_IP + 1];
};

/*
 * Parses the query string of GET /announce?... (query[0..len), without the
 * '?'). Required: info_hash and peer_id (each exactly 20 bytes once
 * percent-decoded, info_hash given once) and port (1..65535). uploaded,
 * downloaded and left are plain decimal numbers. event is started,
 * completed, stopped, paused or empty. compact and no_peer_id are 0 or 1.
 * numwant that is negative or no number means the default; above the
 * maximum it is capped. Unknown parameters are ignored, and so is a repeated
 * known one other than info_hash (the last one counts).
 * Returns 0, SHOAL_ETOOBIG for a query over TRACKER_REQ_MAX_QUERY bytes, or
 * SHOAL_EPARSE with err->off at the parameter (or bad escape) and err->why.
 */
int tracker_req_parse_announce(const char *query, size_t len,
                               struct tracker_req_announce *out, struct shoal_perr *err);

/*
 * Parses the query of GET /scrape?...: every info_hash (20 bytes decoded)
 * goes into out[0..max) in order, repeats included; *n receives the count
 * (0: the client asked for a full scrape; the server decides). Other
 * parameters are ignored. Returns 0, SHOAL_ETOOBIG (query too long, or more
 * than max infohashes) or SHOAL_EPARSE.
 */
int tracker_req_parse_scrape(const char *query, size_t len, uint8_t (*out)[20],
                             size_t max, size_t *n, struct shoal_perr *err);

/*
 * Appends an announce reply (BEP 3, keys sorted): complete, incomplete,
 * interval, min interval (when nonzero), peers, peers6 (when compact and
 * there are IPv6 peers), warning message (when not NULL). With compact,
 * peers is the IPv4 records as one string (BEP 23) and peers6 the IPv6
 * records (BEP 7); without, peers is a list of {ip, port} dicts holding both
 * families (no peer id). n4bytes must be a multiple of 6, n6bytes of 18.
 * Returns 0, SHOAL_EINVAL, or the buffer's error (SHOAL_ETOOBIG,
 * SHOAL_ENOMEM); on error out->len is unchanged.
 */
int tracker_req_encode_announce_reply(struct buf *out, uint32_t interval,
                                      uint32_t min_interval, int64_t complete,
                                      int64_t incomplete, const uint8_t *peers4,
                                      size_t n4bytes, const uint8_t *peers6,
                                      size_t n6bytes, int compact, const char *warning);

/* Appends d14:failure reason<n>:<reason>e. */
int tracker_req_encode_failure(struct buf *out, const char *reason);

struct tracker_req_scrape_entry {
    uint8_t info_hash[20];
    uint64_t complete;   /* seeders */
    uint64_t downloaded; /* completions */
    uint64_t incomplete; /* leechers */
};

/*
 * Appends a scrape reply (BEP 48): d5:filesd<hash>d8:complete..
 * 10:downloaded..10:incomplete..e...ee, with the raw 20-byte hashes as keys
 * in byte order. Sorts e[0..n) in place and writes a repeated hash once.
 * Returns 0 or the buffer's error; on error out->len is unchanged.
 */
int tracker_req_encode_scrape_reply(struct buf *out, struct tracker_req_scrape_entry *e,
                                    size_t n);

/* ------------------------------------------------------------------ UDP */

struct tracker_req_udp {
    uint32_t action;  /* enum tracker_req_action: CONNECT, ANNOUNCE or SCRAPE */
    uint32_t tid;     /* transaction id, echoed in the response */
    uint64_t conn_id; /* the protocol id for CONNECT; else check it with
                       * tracker_req_conn_id_ok() */
    /* ANNOUNCE */
    uint8_t info_hash[20];
    uint8_t peer_id[20];
    uint64_t downloaded, left, uploaded;
    uint32_t event; /* enum tracker_req_event */
    uint32_t ip;    /* IPv4 the client claims, host order; 0: none */
    uint32_t key;
    int32_t numwant_raw; /* as sent; -1 means "default" */
    uint32_t numwant;    /* defaulted and capped like the HTTP one */
    uint16_t port;       /* nonzero */
    /* BEP 41 URLData, all options concatenated (path and query of the URL
     * the client used); url_truncated when more did not fit or the options
     * ended early. Bytes past url_len are unspecified. */
    uint8_t url[TRACKER_REQ_UDP_MAX_URL];
    size_t url_len;
    int url_truncated;
    /* SCRAPE: nhashes (1..74) hashes of 20 bytes, a slice of the packet. */
    const uint8_t *hashes;
    size_t nhashes;
};

/*
 * Parses one request datagram p[0..n). connect: at least 16 bytes with the
 * protocol id; announce: at least 98 bytes, event 0..3, port nonzero, then
 * BEP 41 options (EndOfOptions, NOP, and type-length-value for any other
 * type; URLData is kept; options cut short end the list without failing the
 * announce); scrape: 16 + 20k bytes with 1 <= k <= 74. Returns 0,
 * SHOAL_EPARSE or SHOAL_ETOOBIG (scrape of too many hashes) with *err set.
 * When the transaction id could be read (n >= 16), out->tid and out->action
 * are set even on error, so the server can send an error response.
 */
int tracker_req_parse_udp(const uint8_t *p, size_t n, struct tracker_req_udp *out,
                          struct shoal_perr *err);

/* Writes the 16-byte connect response into out; returns 16. */
size_t tracker_req_udp_connect_resp(uint8_t *out, uint32_t tid, uint64_t conn_id);

/*
 * Writes an announce response: 20 bytes then the compact peer records
 * (6 bytes each on an IPv4 socket, 18 on an IPv6 one, as BEP 15 says).
 * peers NULL means the caller already wrote the peers_len bytes of records
 * at out + TRACKER_REQ_UDP_ANNOUNCE_HDR (a server samples straight into the
 * reply). Returns the length, or 0 when it does not fit in outcap.
 */
size_t tracker_req_udp_announce_resp(uint8_t *out, size_t outcap, uint32_t tid,
                                     uint32_t interval, uint32_t leechers,
                                     uint32_t seeders, const uint8_t *peers,
                                     size_t peers_len);

/*
 * Writes a scrape response: 8 bytes then seeders, completed, leechers for
 * each entry in request order (values above 2^32 - 1 are clamped). Returns
 * the length, or 0 when it does not fit.
 */
size_t tracker_req_udp_scrape_resp(uint8_t *out, size_t outcap, uint32_t tid,
                                   const struct tracker_req_scrape_entry *e, size_t n);

/* Writes an error response (action 3, then the message, cut to fit).
 * Returns the length, or 0 when outcap < 8. */
size_t tracker_req_udp_error_resp(uint8_t *out, size_t outcap, uint32_t tid,
                                  const char *msg);

/*
 * Stateless connection ids (BEP 15 connect): SipHash-2-4 keyed with the
 * first 16 bytes of `key` over the client's address family, IP, port and
 * the time window now_s / 60. No per-client state is kept. An IPv4-mapped IPv6 address
 * counts as the IPv4 address. Returns 0 for an address family other than
 * AF_INET or AF_INET6 (never accepted).
 */
uint64_t tracker_req_conn_id(const uint8_t key[32], const struct sockaddr *client,
                             uint64_t now_s);

/* 1 when conn_id was made for this client in the current window or one of
 * the two before (so an id lives 120 to 180 seconds), else 0. Compares in
 * constant time. */
int tracker_req_conn_id_ok(const uint8_t key[32], const struct sockaddr *client,
                           uint64_t conn_id, uint64_t now_s);

#endif
