/*
 * dht.h — a DHT node (BEP 5, 32, 42, 43, 51) on a session's loop and UDP
 * socket. Session layer: the node owns its transactions, lookups, timer
 * and the torrents it looks up; the KRPC codec (codec/krpc.h), the routing
 * tables, lookups, tokens and peer store (engine/dht_*.h) decide, and this
 * file moves datagrams between them and the UDP mux (udp.h). Peers found
 * go up through the hooks it is given (hooks.h, PEER_SOURCE_DHT); it never
 * includes session.h.
 *
 * The node can run without a session: give it an event base, a UDP mux and
 * hooks of your own (tests/sim runs thousands in one process this way).
 *
 * All calls are made on the loop thread.
 */
#ifndef SHOAL_DHT_H
#define SHOAL_DHT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "engine/dht_id.h"

struct dht;
struct dns_resolver;
struct event_base;
struct hooks;
struct udp_mux;

/* Lookups of the node's own (torrents, bootstrap, refresh, the API's) in
 * flight at once; one past it is refused with -EAGAIN (the torrents' wait
 * for a later tick). */
#define DHT_MAX_SEARCHES 64
/* Torrents looked up and announced, at most. */
#define DHT_MAX_TORRENTS 4096
/* Bootstrap addresses kept, from names and dht_add_node(). */
#define DHT_MAX_BOOTSTRAP 16

struct dht_cfg {
    struct event_base *base;
    struct udp_mux *udp;      /* the node becomes its UDP_DHT handler */
    struct dns_resolver *dns; /* for bootstrap names; NULL: literals only */
    const struct hooks *h;
    int local_only;     /* nodes outside 127.0.0.0/8 and ::1 are ignored */
    int read_only;      /* BEP 43: ro=1 in our queries; no answers */
    uint16_t peer_port; /* the port announced for torrents; 0: none */
    /* "host:port" names, NULL-terminated; NULL = the public routers (none
     * in local-only mode); an empty list = none. Borrowed until dht_new()
     * returns. */
    const char *const *bootstrap;
    /* Where the table is loaded from and saved to; NULL = nowhere.
     * Copied. */
    const char *state_path;
};

/* What a node is, for the API and `shoal dht`. */
struct dht_info {
    uint8_t id[DHT_ID_LEN];
    int port; /* UDP, IPv4 socket (else IPv6) */
    size_t nodes[2], good[2], buckets[2], replacements[2]; /* [0] IPv4, [1] IPv6 */
    size_t infohashes, peers;                              /* the store */
    size_t torrents;                                       /* looked up by us */
    uint64_t queries_in, replies_out, queries_out, replies_in;
    uint64_t dropped;      /* datagrams with no answer: junk, ours, unasked */
    uint64_t rate_limited; /* queries over an address's rate */
    uint64_t bad_tokens;   /* announce_peer refused with 203 */
    size_t pending;        /* transactions awaiting a reply */
    size_t searches;       /* lookups of ours running */
};

/* How a lookup of dht_search() went. */
struct dht_search_stats {
    uint32_t queries; /* get_peers/find_node queries sent, both families */
    uint32_t replies;
    uint32_t round_trips; /* the deeper family's */
    uint32_t peers;       /* distinct peers found */
    uint32_t announced;   /* announce_peer queries sent */
    int64_t ms;           /* from start to done */
};

/*
 * Callbacks of a search. peers: n addresses found (borrowed, each once per
 * search); done: the search ended (it is freed after done returns). Either
 * may be NULL.
 */
struct dht_search_cb {
    void (*peers)(void *user, const struct sockaddr_storage *peers, size_t n);
    void (*done)(void *user, const struct dht_search_stats *st);
    void *user;
};

/*
 * BEP 51 answer: rc 0 with n infohashes (20 bytes each, borrowed), num the
 * number the node holds and interval its advice in seconds; or rc < 0 when
 * it did not answer (SHOAL_ECANCELED when the node is freed first).
 */
typedef void (*dht_sample_cb)(void *user, int rc, const uint8_t (*ih)[DHT_ID_LEN],
                              size_t n, int64_t num, int64_t interval);

/*
 * Makes a node: loads the table from cfg->state_path when there is one,
 * takes the UDP_DHT slot of cfg->udp, starts the look-ups of the
 * bootstrap names and the lookup of our own id. Keeps references to base,
 * udp, dns and h, which must outlive it. Returns 0 and *out, or
 * SHOAL_ENOMEM.
 */
int dht_new(const struct dht_cfg *cfg, struct dht **out);
/* Saves the table (when it has a state path), ends every search (their
 * done callbacks run), empties the UDP_DHT slot and frees d. Runs before
 * the dns resolver and the mux are freed. NULL does nothing. */
void dht_free(struct dht *d);

/*
 * The session names each public torrent it runs once a tick: the node
 * looks ih up (get_peers) at once and then every 15 minutes, more often
 * while the torrent has few peers (npeers), announces it to the closest
 * nodes (when peer_port is set) and hands the peers up through on_peers.
 * A torrent not named for a few ticks is forgotten. Never name a private
 * torrent (BEP 27). Only the infohash is needed: a magnet's torrent works
 * before its metadata.
 */
void dht_torrent_want(struct dht *d, const uint8_t ih[DHT_ID_LEN], int npeers);

/* The session stops naming ih for good (it was stopped, or a magnet's
 * metadata says private, BEP 27): forgotten now, and a lookup of it that
 * is running announces nothing. Safe from inside the node's callbacks. */
void dht_torrent_forget(struct dht *d, const uint8_t ih[DHT_ID_LEN]);

/*
 * Starts a get_peers lookup of ih in each family with nodes (announcing
 * announce_port to the closest nodes when it is not 0), reporting through
 * cb. Returns 0, and then cb->done runs exactly once (never inside this
 * call); or -EAGAIN when DHT_MAX_SEARCHES run already, SHOAL_ENOMEM.
 */
int dht_search(struct dht *d, const uint8_t ih[DHT_ID_LEN], uint16_t announce_port,
               const struct dht_search_cb *cb);

/*
 * Adds a node by address: pinged now, kept as a bootstrap address, and
 * when the table is nearly empty a lookup of our own id starts from it.
 * Returns 0, SHOAL_ELOCALONLY, or SHOAL_EINVAL for another family.
 */
int dht_add_node(struct dht *d, const struct sockaddr *sa);

/*
 * A peer of a torrent said its DHT port (BEP 5 PORT message): the node at
 * sa is pinged and joins the table if it answers; unlike dht_add_node() it
 * is not kept as a bootstrap address. Returns 0, SHOAL_ELOCALONLY, or
 * SHOAL_EINVAL (port 0, another family).
 */
int dht_ping_node(struct dht *d, const struct sockaddr *sa);

/* Adds a node by "host:port" (a name is looked up first). Returns 0,
 * SHOAL_EINVAL, SHOAL_ELOCALONLY. */
int dht_add_node_name(struct dht *d, const char *hostport);

/*
 * BEP 51: asks the node at sa for a sample of its infohashes, near target.
 * Returns 0, and then cb runs exactly once (never inside this call); or
 * SHOAL_ELOCALONLY, -EAGAIN (too many transactions), SHOAL_EINVAL.
 */
int dht_sample(struct dht *d, const struct sockaddr *sa, const uint8_t target[DHT_ID_LEN],
               dht_sample_cb cb, void *user);

void dht_info(const struct dht *d, struct dht_info *out);
/* Peers held in the store for ih (announced to this node). */
size_t dht_stored(const struct dht *d, const uint8_t ih[DHT_ID_LEN]);

/*
 * The routing tables as text: "id HEX", then per family and bucket the
 * nodes with their address and quality. Returns a heap string (free with
 * xfree) or NULL when out of memory.
 */
char *dht_table_text(const struct dht *d);

/* Saves the table now (also done on free and every 10 minutes). Returns 0,
 * -errno, or SHOAL_EINVAL without a state path. */
int dht_save(struct dht *d);

#endif
