/*
 * dht_store.h — the peers other nodes announced to us (BEP 5
 * announce_peer), served back by get_peers, and the BEP 51 samples of the
 * infohashes held. Engine layer, pure: no sockets, no clock (calls take
 * now_ms), randomness from the seed given at creation.
 *
 * infohash -> peers, each peer a compact address (IPv4 and IPv6 kept
 * apart) with the time of its last announce. A peer expires
 * DHT_STORE_PEER_TTL_MS after its last announce (dht_store_sweep() drops
 * it, and a get never returns it). Everything is capped, since anyone can
 * announce: DHT_STORE_MAX_PER_HASH peers per infohash (a new peer replaces
 * the one announced longest ago), max_hashes infohashes and max_peers
 * peers in total (a new infohash or peer that finds the store full evicts
 * the infohash announced to or asked for least recently, with its peers;
 * so a flood of random infohashes replaces its own, while a swarm that is
 * used stays).
 *
 * Not thread-safe: one thread (the session's loop) owns a store.
 */
#ifndef SHOAL_DHT_STORE_H
#define SHOAL_DHT_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "engine/dht_id.h"

/* BEP 5 sets no lifetime; clients re-announce every 15 to 30 minutes and
 * libtorrent keeps peers 30 minutes. */
#define DHT_STORE_PEER_TTL_MS (30 * 60 * 1000)
/* Peers per infohash: a reply carries at most DHT_STORE_GET4 of them, so a
 * few times that is enough to vary the answer. */
#define DHT_STORE_MAX_PER_HASH 150
/* Default caps for dht_store_new (0 asks for them): a few MB at most. */
#define DHT_STORE_DEFAULT_HASHES 4096
#define DHT_STORE_DEFAULT_PEERS  65536
/*
 * Peers per get_peers reply, so a reply stays under KRPC_REPLY_BUDGET
 * (1400 bytes). The largest reply we write holds, besides the values,
 * d + ip (25 for IPv6) + r, id (4 + 27) + nodes (219) + nodes6 (316) +
 * token (17) + "6:valuesl" and its e (10) + the closing e (1) + t with a
 * 16-byte tid (22) + v (9) + y (6) + e (1): 658 bytes. An IPv4 value costs
 * 8 bytes ("6:" + 6), an IPv6 one 21 ("18:" + 18): 658 + 50 * 8 = 1058 and
 * 658 + 32 * 21 = 1330 (test_dht_store.c encodes both). IPv4 stays below
 * what the budget allows since every reply also amplifies its query.
 */
#define DHT_STORE_GET4 50
#define DHT_STORE_GET6 32
/* BEP 51: samples per reply; 20 * 20 bytes keeps the reply small. */
#define DHT_STORE_SAMPLES 20
/* BEP 51 interval: our samples are drawn at random on each request and
 * peers expire within 30 minutes, so a crawler learns nothing new by coming
 * back sooner than an hour. */
#define DHT_STORE_SAMPLE_INTERVAL_S 3600

struct dht_store_stats {
    size_t hashes;
    size_t peers;
    uint64_t evicted_hashes; /* infohashes evicted to make room */
    uint64_t replaced_peers; /* peers replaced in a full infohash */
    uint64_t expired_peers;
};

struct dht_store;

/* A store of at most max_hashes infohashes and max_peers peers (0 for the
 * defaults). Returns NULL when out of memory. Free with dht_store_free(). */
struct dht_store *dht_store_new(size_t max_hashes, size_t max_peers, uint64_t seed);
void dht_store_free(struct dht_store *s);

/*
 * Records that peer (a->ip, a->port) announced infohash ih at now_ms: a
 * known peer has its time renewed, a new one is added, evicting as the top
 * of this file says. Returns 0, SHOAL_EINVAL for an address that is not
 * IPv4 or IPv6 or has port 0, SHOAL_ENOMEM.
 */
int dht_store_announce(struct dht_store *s, const uint8_t ih[DHT_ID_LEN],
                       const struct dht_addr *a, int64_t now_ms);

/*
 * Up to max peers of family 4 or 6 for ih that have not expired, drawn at
 * random when there are more, written as compact peers (6 or 18 bytes
 * each) into out (room for max of them). Counts as a use of ih. Returns how
 * many.
 */
size_t dht_store_get(struct dht_store *s, const uint8_t ih[DHT_ID_LEN], int family,
                     int64_t now_ms, uint8_t *out, size_t max);

/* Number of live peers held for ih (both families). */
size_t dht_store_count(const struct dht_store *s, const uint8_t ih[DHT_ID_LEN],
                       int64_t now_ms);

/*
 * BEP 51: up to max (at most DHT_STORE_SAMPLES makes sense) distinct
 * infohashes drawn at random into out; *num receives the number of
 * infohashes held. Returns how many were written.
 */
size_t dht_store_sample(struct dht_store *s, uint8_t (*out)[DHT_ID_LEN], size_t max,
                        size_t *num);

/* Drops the peers that expired by now_ms and the infohashes left without
 * peers. Returns the number of peers dropped. */
size_t dht_store_sweep(struct dht_store *s, int64_t now_ms);

void dht_store_stats(const struct dht_store *s, struct dht_store_stats *out);

#endif
