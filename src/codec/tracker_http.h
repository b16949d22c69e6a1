/*
 * tracker_http.h — the client side of the HTTP tracker protocol as a pure
 * codec: announce and scrape URLs (BEP 3, BEP 48) and the bencoded replies
 * (BEP 3, compact peers of BEP 23, peers6 of BEP 7, scrape files of BEP 48).
 * Codec layer.
 *
 * Nothing here opens a socket, resolves a name or reads the clock; the
 * session fetches the URL (with libcurl) and hands the body back. Replies are
 * validated completely: what comes out is a list of peers that can be dialed
 * as they are (no port 0, no unspecified address, no duplicates) and numbers
 * in sane ranges. The announce parameters and the peer type are shared with
 * the UDP tracker codec (tracker_udp.h).
 */
#ifndef SHOAL_TRACKER_HTTP_H
#define SHOAL_TRACKER_HTTP_H

#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "shoal.h"

/* ------------------------------------------------------------------ limits */

/* Largest reply body parsed. A compact reply for 200 peers is 1-2 KiB and a
 * scrape of 64 torrents 5 KiB; 4 MiB leaves room for dictionary peer lists
 * and odd trackers while bounding what one reply can make us hold. */
#define TRACKER_MAX_REPLY (4u * 1024 * 1024)
/* Peers kept from one reply (peers and peers6 together); the rest are
 * dropped. Trackers send at most a few hundred; a swarm never needs more. */
#define TRACKER_MAX_PEERS 10000
/* Entries kept from one scrape reply; a client scrapes the torrents it has,
 * so a longer reply is a full scrape we did not ask for, and is cut. */
#define TRACKER_MAX_SCRAPE 10000
/* Info hashes in one HTTP scrape request; trackers such as opentracker
 * answer at most 64 at once, and the URL stays a few KiB. */
#define TRACKER_HTTP_MAX_SCRAPE_HASHES 64
/* Announce intervals are clamped into this range (seconds): a tracker
 * asking for less than 30 s would have us hammer it, and one asking for more
 * than a day would leave us without fresh peers. */
#define TRACKER_MIN_INTERVAL_S 30
#define TRACKER_MAX_INTERVAL_S 86400

/* ------------------------------------------------------------------ announce */

/* Announce events, numbered as the UDP protocol sends them (BEP 15). */
enum tracker_event {
    TRACKER_EVENT_NONE = 0,
    TRACKER_EVENT_COMPLETED = 1,
    TRACKER_EVENT_STARTED = 2,
    TRACKER_EVENT_STOPPED = 3,
};

/* What a client tells a tracker; used by the HTTP and the UDP encoder. */
struct tracker_announce {
    uint8_t infohash[20];
    uint8_t peer_id[20];
    uint16_t port; /* TCP port this node listens on */
    uint64_t uploaded, downloaded, left;
    int event;             /* enum tracker_event */
    int numwant;           /* peers wanted; negative: omit (tracker default) */
    uint32_t key;          /* random per torrent session, same for v4 and v6 */
    const char *trackerid; /* "tracker id" from an earlier reply; NULL: omit */
    int compact;           /* ask for compact peer lists (BEP 23) */
    int no_peer_id;        /* ask the tracker to leave out peer ids */
};

/*
 * Builds the announce GET URL for the tracker at announce_url and appends it
 * to out (an initialized buffer, normally empty), NUL-terminated after
 * out->len. The tracker URL's own query is kept and the parameters follow it;
 * a fragment is dropped (it is never sent). info_hash, peer_id and trackerid
 * are percent-encoded byte by byte: every byte that is not RFC 3986
 * unreserved becomes %XX (uppercase). The key is sent as 8 hex digits.
 *
 * Returns 0; SHOAL_EINVAL when the URL is not http:// or https://, has no
 * host, or contains spaces or control bytes, or when a->event is unknown;
 * the buffer's error (SHOAL_ETOOBIG, SHOAL_ENOMEM) when it cannot grow.
 */
int tracker_http_announce_url(const char *announce_url, const struct tracker_announce *a,
                              struct buf *out);

/*
 * Builds the scrape URL (BEP 48) for n info hashes and appends it to out like
 * tracker_http_announce_url(). The scrape URL is the announce URL with the
 * "announce" that opens its last path component replaced by "scrape"
 * ("/announce.php" gives "/scrape.php"); n == 0 asks for every torrent the
 * tracker has. Returns 0; SHOAL_EUNSUPPORTED when the last path component
 * does not start with "announce" (the tracker has no scrape convention);
 * SHOAL_EINVAL for a URL tracker_http_announce_url() refuses; SHOAL_ETOOBIG
 * for more than TRACKER_HTTP_MAX_SCRAPE_HASHES hashes.
 */
int tracker_http_scrape_url(const char *announce_url, const uint8_t (*infohashes)[20],
                            size_t n, struct buf *out);

/* ------------------------------------------------------------------ replies */

/* One peer a tracker returned: an address to dial. */
struct tracker_peer {
    uint8_t ip[16]; /* network order; IPv4 uses the first 4 bytes */
    uint8_t family; /* 4 or 6 */
    uint16_t port;  /* host order, never 0 */
};

struct tracker_reply {
    /* "failure reason": when set, the tracker refused the announce and
     * nothing below except warning and the intervals is filled. */
    char failure[256];
    char warning[256]; /* "warning message" */
    /* Seconds, clamped into TRACKER_MIN_INTERVAL_S..TRACKER_MAX_INTERVAL_S;
     * 0 when absent, not an integer, or below 1. */
    uint32_t interval, min_interval;
    /* "tracker id", to send back in later announces; empty when absent or
     * unusable (longer than 127 bytes or holding a NUL byte). */
    char trackerid[128];
    /* Swarm counts; -1 when absent, negative or not an integer. */
    int64_t complete, incomplete, downloaded;
    /* Heap array (free with tracker_reply_cleanup). */
    struct tracker_peer *peers;
    size_t npeers;
};

/*
 * Parses an announce reply body. On success returns 0 with *out filled; a
 * reply carrying "failure reason" is a success of the parser: out->failure
 * holds the (sanitized) text and the caller treats it as a tracker error.
 *
 * Accepted peer lists: "peers" as a compact string (BEP 23, 6 bytes per
 * peer) or as a list of dictionaries with "ip" (dotted IPv4 or IPv6 text;
 * host names are skipped, as they cannot be dialed without a DNS lookup) and
 * "port" (1..65535), and "peers6" (BEP 7, 18 bytes per peer). Peers with port
 * 0 or an unspecified, multicast or broadcast address are skipped, as are
 * repeats of an earlier peer; IPv4-mapped IPv6 addresses become IPv4. At
 * most TRACKER_MAX_PEERS peers are kept, the rest dropped. Scalar fields of
 * the wrong type are treated as absent, so that a tracker's quirk never costs
 * the peers. Text fields are sanitized (tracker_http_sanitize_text).
 *
 * Errors: SHOAL_ETOOBIG for a body over TRACKER_MAX_REPLY; SHOAL_EPARSE when
 * the body is not one bencoded dictionary (optionally followed by
 * whitespace), when a compact list's length is not a multiple of 6 (18 for
 * peers6), when "peers" or "peers6" has the wrong type, when "failure reason"
 * is not a string, or when the reply has neither peers, an interval nor a
 * failure reason; SHOAL_ENOMEM. On error
 * err (if not NULL) names the offset and reason and *out holds nothing to
 * free. Either way tracker_reply_cleanup(out) is safe.
 */
int tracker_http_parse_reply(const uint8_t *buf, size_t len, struct tracker_reply *out,
                             struct shoal_perr *err);

/* Frees the peers and zeroes the reply. */
void tracker_reply_cleanup(struct tracker_reply *r);

/* One torrent of a scrape reply. */
struct tracker_scrape_entry {
    uint8_t infohash[20];
    int64_t complete, incomplete, downloaded; /* -1 when absent */
};

/*
 * Parses a scrape reply (BEP 48): "files" maps 20-byte info hashes to
 * dictionaries of counts. On success returns 0, *out is a heap array of *n
 * entries in reply order (NULL when *n is 0; free with xfree), and
 * *min_interval (when min_interval is not NULL) the seconds BEP 48's
 * "flags" ask to wait before the next scrape ("min_request_interval"),
 * clamped like announce intervals, or 0 when absent or unusable. Keys that are
 * not 20 bytes long, values that are not dictionaries and repeated hashes
 * are skipped; at most TRACKER_MAX_SCRAPE entries are kept.
 *
 * Errors: SHOAL_EINVAL when the tracker refused ("failure reason"): err->why
 * is "tracker refused the scrape" and err->msg the tracker's sanitized text;
 * SHOAL_EPARSE when the body is no bencoded dictionary or has no "files"
 * dictionary; SHOAL_ETOOBIG over TRACKER_MAX_REPLY; SHOAL_ENOMEM. On error
 * *out is NULL and *n is 0.
 */
int tracker_http_parse_scrape(const uint8_t *buf, size_t len,
                              struct tracker_scrape_entry **out, size_t *n,
                              uint32_t *min_interval, struct shoal_perr *err);

/*
 * Decodes a compact peer list (6 bytes a peer for family 4, 18 for family 6)
 * with the same filtering as tracker_http_parse_reply(): undialable peers and
 * repeats are dropped and at most TRACKER_MAX_PEERS kept. On success *out is
 * a heap array of *count peers (NULL when none; free with xfree). Returns 0,
 * SHOAL_EINVAL for another family or a length that is not a whole number of
 * peers, or SHOAL_ENOMEM. Used by the UDP codec for announce responses.
 */
int tracker_http_compact_peers(const uint8_t *p, size_t n, int family,
                               struct tracker_peer **out, size_t *count);

/*
 * Copies tracker text (a failure reason, warning or UDP error message) into
 * out[0..cap) as a NUL-terminated string safe to print: valid UTF-8 is kept,
 * control characters (C0, DEL, C1) and bytes that are not valid UTF-8 become
 * '?', trailing NUL bytes and whitespace are dropped, and the text is cut at
 * a character boundary to fit. Returns the length written (without the NUL).
 * cap must be at least 1.
 */
size_t tracker_http_sanitize_text(char *out, size_t cap, const uint8_t *in, size_t n);

#endif
