/*
 * krpc.h — KRPC, the message format of the BitTorrent DHT (BEP 5, with the
 * BEP 32 IPv6 fields, BEP 42 `ip`, BEP 43 `ro` and BEP 51
 * sample_infohashes). Codec layer: pure, no I/O, no clock.
 *
 * A KRPC message is one bencoded dictionary in one UDP datagram: a query
 * (y = "q"), a response (y = "r") or an error (y = "e"), tied together by
 * the transaction id `t` the querier chose. krpc_parse() checks a datagram
 * and fills a struct krpc_msg; krpc_encode() writes one from the same
 * struct, so every message the node sends goes through the same fields it
 * reads, and a parse of an encoding gives the struct back.
 *
 * What the parser refuses (SHOAL_EPARSE or SHOAL_ETOOBIG, with the offset
 * and a static reason in struct shoal_perr): anything that is not exactly
 * one bencoded dictionary (trailing bytes included), a datagram over
 * KRPC_MAX_PACKET bytes, a missing or empty `t`, one over KRPC_MAX_TID
 * bytes, a `y` other than q/r/e, a query without `q` or without an `a`
 * dictionary holding a 20-byte `id`, a response without an `r` dictionary
 * holding a 20-byte `id`, an error without an `e` list that starts with an
 * integer code, and per method the arguments BEP 5 makes mandatory
 * (find_node and sample_infohashes: a 20-byte `target`; get_peers: a
 * 20-byte `info_hash`; announce_peer: `info_hash`, a `token` of 1 to
 * KRPC_MAX_TOKEN bytes and a `port` of 1..65535 unless `implied_port` is
 * set). Optional fields of the wrong shape are refused too: `nodes` not a
 * multiple of 26 bytes, `nodes6` not a multiple of 38, `samples` not a
 * multiple of 20, `ip` neither 6 nor 18 bytes, `token` over KRPC_MAX_TOKEN.
 *
 * Lenient where real nodes differ and nothing is at stake: keys the codec
 * does not know are skipped; a query with an unknown method name parses
 * with method KRPC_METHOD_UNKNOWN (the node answers error 204); `values`
 * entries that are neither 6 nor 18 bytes are skipped, and entries past
 * KRPC_MAX_VALUES per family are dropped (counted in values_dropped); a `v`
 * longer than KRPC_MAX_V is ignored; `want` entries other than n4/n6 are
 * ignored.
 *
 * When a query parses as far as its `t` and `y` but its arguments are
 * wrong, krpc_parse() fails and leaves m->type == KRPC_QUERY and m->tid set,
 * so the node may answer error 203 with err->why as the message.
 */
#ifndef SHOAL_KRPC_H
#define SHOAL_KRPC_H

#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "shoal.h"

/* ---------------------------------------------------------------- limits */

/* Largest datagram parsed. An Ethernet-sized datagram carries 1472 bytes of
 * UDP payload over IPv4; the largest messages seen from real clients are
 * get_peers replies (libtorrent sends up to 100 IPv4 values, about 1.2 KB),
 * and a query is never near 500 bytes. 2048 keeps those with room to spare,
 * while anything bigger could only arrive as IP fragments, which is how
 * reflection floods look. Replies we write stay under KRPC_REPLY_BUDGET. */
#define KRPC_MAX_PACKET 2048
/* Bencode tokens per datagram: the smallest value is 2 bytes ("0:"), so no
 * datagram under KRPC_MAX_PACKET is refused for its token count. */
#define KRPC_MAX_TOKENS (KRPC_MAX_PACKET / 2)
/* Size we keep every reply we write under: an unfragmented datagram over
 * IPv6 (1500 - 40 - 8 = 1452) with a margin for tunnels. */
#define KRPC_REPLY_BUDGET 1400
/* Transaction ids: clients use 2 to 4 bytes; BEP 5 sets no limit, 16 is
 * generous and keeps the struct small. */
#define KRPC_MAX_TID 16
/* Tokens: libtorrent sends 4 bytes, jech/dht 4 to 8, shoal 8; 64 leaves
 * room for any scheme without letting a reply store kilobytes. */
#define KRPC_MAX_TOKEN 64
/* Client version `v`: BEP 20 style two letters and two bytes; a longer one
 * is ignored rather than refused. */
#define KRPC_MAX_V 16
/* Peers kept per family from one `values` list: more than libtorrent's 100
 * cannot fit a datagram anyway once nodes are counted. */
#define KRPC_MAX_VALUES 100
/* Error messages longer than this are cut (the slice is shortened). */
#define KRPC_MAX_ERROR_MSG 256

#define KRPC_ID_LEN    20
#define KRPC_NODE4_LEN 26 /* BEP 5 compact node: id, IPv4 address, port */
#define KRPC_NODE6_LEN 38 /* BEP 32: id, IPv6 address, port */
#define KRPC_PEER4_LEN 6
#define KRPC_PEER6_LEN 18

/* BEP 5 and BEP 43/44 error codes. */
#define KRPC_ERR_GENERIC  201
#define KRPC_ERR_SERVER   202
#define KRPC_ERR_PROTOCOL 203 /* malformed packet, invalid arguments, bad token */
#define KRPC_ERR_METHOD   204 /* method unknown */

/* ---------------------------------------------------------------- message */

enum krpc_type { KRPC_QUERY = 1, KRPC_RESPONSE, KRPC_ERROR };

enum krpc_method {
    KRPC_METHOD_UNKNOWN = 0,
    KRPC_PING,
    KRPC_FIND_NODE,
    KRPC_GET_PEERS,
    KRPC_ANNOUNCE_PEER,
    KRPC_SAMPLE_INFOHASHES,
};

/* BEP 32 `want`: which families of nodes the querier asks for. */
#define KRPC_WANT_N4 0x1u
#define KRPC_WANT_N6 0x2u

/* Bits of krpc_msg.has: optional fields that are present. The encoder
 * writes an optional field exactly when its bit is set. */
#define KRPC_HAS_TOKEN        0x001u /* a.token (announce_peer), r.token */
#define KRPC_HAS_PORT         0x002u /* a.port */
#define KRPC_HAS_IMPLIED_PORT 0x004u /* a.implied_port */
#define KRPC_HAS_WANT         0x008u /* a.want */
#define KRPC_HAS_NODES        0x010u /* r.nodes */
#define KRPC_HAS_NODES6       0x020u /* r.nodes6 */
#define KRPC_HAS_VALUES       0x040u /* r.values (possibly with no entry) */
#define KRPC_HAS_SAMPLES      0x080u /* r.samples */
#define KRPC_HAS_INTERVAL     0x100u /* r.interval */
#define KRPC_HAS_NUM          0x200u /* r.num */
#define KRPC_HAS_IP           0x400u /* top-level ip (BEP 42) */
#define KRPC_HAS_V            0x800u /* top-level v */

/* A byte range; in a parsed message it points into the datagram. */
struct krpc_slice {
    const uint8_t *p;
    size_t len;
};

/*
 * One KRPC message. Fixed-size fields are copied; `nodes`, `nodes6`,
 * `samples` and `emsg` are slices into the parsed datagram (or, for the
 * encoder, into the caller's memory), so a parsed message is valid only
 * while the datagram buffer is. Zero the struct before filling it to
 * encode (krpc_query_init and friends do).
 */
struct krpc_msg {
    uint8_t type;   /* enum krpc_type */
    uint8_t method; /* enum krpc_method; queries only */
    uint8_t tid_len;
    uint8_t tid[KRPC_MAX_TID];
    unsigned has; /* KRPC_HAS_* */

    /* Top level. */
    uint8_t ro;     /* BEP 43: the querier is read-only (ro=1) */
    uint8_t ip_len; /* BEP 42 ip: 6 (IPv4 + port) or 18 (IPv6 + port) */
    uint8_t ip[KRPC_PEER6_LEN];
    uint8_t v_len;
    uint8_t v[KRPC_MAX_V];

    /* Queries (a) and responses (r). */
    uint8_t id[KRPC_ID_LEN];

    /* Query arguments. `target` holds find_node's and sample_infohashes's
     * target and get_peers's and announce_peer's info_hash. */
    uint8_t target[KRPC_ID_LEN];
    uint16_t port;        /* announce_peer */
    uint8_t implied_port; /* announce_peer: 1 = use the datagram's port */
    uint8_t want;         /* KRPC_WANT_* */

    /* announce_peer argument and get_peers response. */
    uint8_t token_len;
    uint8_t token[KRPC_MAX_TOKEN];

    /* Responses. */
    struct krpc_slice nodes;   /* KRPC_NODE4_LEN-byte entries */
    struct krpc_slice nodes6;  /* KRPC_NODE6_LEN-byte entries */
    struct krpc_slice samples; /* BEP 51: 20-byte infohashes */
    int64_t interval;          /* BEP 51, seconds */
    int64_t num;               /* BEP 51: infohashes the node holds */
    size_t nvalues4, nvalues6;
    size_t values_dropped; /* parse only: entries skipped or over the cap */
    uint8_t values4[KRPC_MAX_VALUES][KRPC_PEER4_LEN];
    uint8_t values6[KRPC_MAX_VALUES][KRPC_PEER6_LEN];

    /* Errors. */
    int64_t ecode;
    struct krpc_slice emsg;
};

/* ---------------------------------------------------------------- parse */

/*
 * Parses one datagram buf[0..len) into *m (which it zeroes first). Returns
 * 0, or SHOAL_EPARSE / SHOAL_ETOOBIG with *err (may be NULL) at the
 * offending byte and its reason; SHOAL_ENOMEM when the token array cannot
 * be allocated. Keeps pointers into buf in m (see struct krpc_msg).
 */
int krpc_parse(struct krpc_msg *m, const void *buf, size_t len, struct shoal_perr *err);

/* Number of entries of the nodes / nodes6 / samples slices. */
static inline size_t
krpc_nnodes(const struct krpc_msg *m)
{
    return m->nodes.len / KRPC_NODE4_LEN;
}

static inline size_t
krpc_nnodes6(const struct krpc_msg *m)
{
    return m->nodes6.len / KRPC_NODE6_LEN;
}

static inline size_t
krpc_nsamples(const struct krpc_msg *m)
{
    return m->samples.len / KRPC_ID_LEN;
}

/* The method's name as sent on the wire ("find_node"), or NULL for
 * KRPC_METHOD_UNKNOWN and values out of range. */
const char *krpc_method_name(int method);

/* ---------------------------------------------------------------- encode */

/* Zeroes *m and makes it a query of `method` (not KRPC_METHOD_UNKNOWN) with
 * transaction id tid[0..tid_len) (1..KRPC_MAX_TID bytes) from node `id`.
 * The caller then sets the method's arguments: target for find_node,
 * get_peers, announce_peer and sample_infohashes; port or implied_port and
 * the token for announce_peer; want, ro and v when wanted. */
void krpc_query_init(struct krpc_msg *m, int method, const uint8_t *tid, size_t tid_len,
                     const uint8_t id[KRPC_ID_LEN]);

/* Zeroes *m and makes it a response with transaction id tid[0..tid_len)
 * from node `id`. The caller adds nodes, nodes6, token, values, samples,
 * interval, num, ip and v (setting the matching KRPC_HAS_* bits). */
void krpc_response_init(struct krpc_msg *m, const uint8_t *tid, size_t tid_len,
                        const uint8_t id[KRPC_ID_LEN]);

/* Zeroes *m and makes it an error with the code and the NUL-terminated
 * message msg (borrowed: it must outlive the encoding). */
void krpc_error_init(struct krpc_msg *m, const uint8_t *tid, size_t tid_len, int code,
                     const char *msg);

/*
 * Appends the bencoding of *m to out. Writes, in key order, `a` / `r` / `e`
 * as the type asks, with the arguments its method needs and the optional
 * fields whose KRPC_HAS_* bit is set, then `ip`, `q`, `ro`, `t`, `v`, `y`.
 * Returns 0; SHOAL_EINVAL when *m could not be parsed back (unknown type or
 * query method, tid of length 0 or over KRPC_MAX_TID, slices of the wrong
 * multiple, token over KRPC_MAX_TOKEN, ip_len not 6 or 18 when KRPC_HAS_IP,
 * an announce_peer with neither a port nor implied_port, counts over
 * KRPC_MAX_VALUES); SHOAL_ETOOBIG when out's cap is reached; SHOAL_ENOMEM.
 * On failure out may hold a partial message (its sticky error set).
 */
int krpc_encode(const struct krpc_msg *m, struct buf *out);

/* ---------------------------------------------------------------- compact forms */

/* Writes a compact peer (BEP 5/32): ip[0..iplen) (4 or 16 bytes, network
 * order) and port (host order) into out. Returns 6, 18, or 0 for another
 * iplen. */
size_t krpc_put_peer(uint8_t *out, const uint8_t *ip, size_t iplen, uint16_t port);

/* Writes a compact node: the id then the compact peer. Returns 26, 38, or
 * 0 for another iplen. */
size_t krpc_put_node(uint8_t *out, const uint8_t id[KRPC_ID_LEN], const uint8_t *ip,
                     size_t iplen, uint16_t port);

#endif
