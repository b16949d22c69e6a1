/*
 * swarm_table.h — the peer store of `shoal tracker`: infohash -> swarm of
 * peers, with seeder, leecher and completed counts. Engine layer, pure: no
 * sockets and no clock (every call that needs the time takes `now_s`, any
 * monotonic count of seconds).
 *
 * Built to hold millions of peers in little memory. A peer is its address in
 * compact wire form (BEP 23: 4-byte IPv4 address and 2-byte port, both in
 * network order; BEP 7: 16 + 2 bytes for IPv6) plus a 1-byte tag holding a
 * "completion counted" flag and the coarse time of its last announce. In
 * each bucket (below) the leechers form one run of records and the seeders
 * a second run after it, and their tags a parallel run of the same block,
 * so a reply copies records as they are and a seeder's sample draws from
 * the leechers alone. A peer is identified by its (ip, port), as
 * opentracker does; the peer_id is not stored. Measured: about 7.6 to 8.3
 * bytes per IPv4 peer (7 bytes plus the growth slack of the arrays, which
 * grow by an eighth, and the room a split leaves for growth), and about 180
 * bytes per swarm.
 *
 * Layout and cost per announce. Swarms live in an open-addressing hash table
 * keyed by a keyed hash of the infohash (SipHash, so chosen infohashes cannot
 * pile up in one chain). Each swarm keeps its IPv4 peers and, separately, its
 * IPv6 peers in buckets chosen by a keyed hash of the address; each bucket is
 * sorted by address bytes within its two runs. A bucket holds about
 * SWARM_BUCKET_TARGET peers at
 * most before the family doubles its bucket count (each bucket splits in two
 * by one more hash bit, which keeps both halves sorted). An announce costs an
 * O(1) expected swarm lookup, a binary search in one run of one bucket
 * (about 9 compares; a peer that turned seeder or leecher is found in the
 * other run) and, for a new, leaving or switching peer, a memmove of at most
 * one bucket (a few KiB); splits and merges are O(peers of the swarm),
 * amortised O(1).
 *
 * Expiry is not per peer: swarm_table_sweep() walks the table a bounded
 * amount at a time and drops peers not seen for peer_timeout_s. Times in
 * tags are coarse ticks of peer_timeout_s / 16 seconds (at least 1), kept
 * modulo 2^7, so a peer expires between peer_timeout_s and about 1.13 times
 * that, provided the sweeper passes every peer at least once every 3
 * timeouts (past that, the tick of a peer that went quiet wraps around and
 * the peer looks fresh until the sweeper does come by). shoal tracker's
 * sweeper passes 16 million peers in under two minutes.
 *
 * Bounds. The table never holds more than max_swarms swarms or more than
 * max_peers_total peers. When an announce needs a new swarm or a new peer and
 * the table is full, it evicts, sparing the swarms that showed real peers:
 *   1. a swarm without peers (its peers stopped or expired);
 *   2. a one-shot swarm (no announce to it yet SWARM_PROVE_S or more after
 *      it was made) whose first peer is a leecher, newest first;
 *   3. a one-shot swarm whose first peer is a seeder, newest first;
 *   4. only when none of those is left, a proven swarm (announced to again
 *      SWARM_PROVE_S or more after it was made, by the same peer coming
 *      back or by another; or registered):
 *      of SWARM_EVICT_SAMPLE picked at random, one nobody announced to for
 *      peer_timeout_s, else the one with the fewest peers, else the one
 *      announced to least recently.
 * A flood of random infohashes makes one-shot swarms (announcing each twice
 * in a row proves nothing), and newest first it replaces its own latest
 * swarms: it never reaches a one-shot swarm made before it (a lone seeder
 * waiting for its next announce), a lone seeder that announced again (as
 * every client does each interval) or a popular swarm; a flood that claims
 * to seed makes one-shot swarms all the same. The swarms of 1
 * to 3 sit on two lists threaded through the dense array (below; empty ones
 * at the front), so each such pick is O(1). Evicting drops the swarm's
 * peers and, unless it is registered, the swarm itself. The swarm being
 * announced to and, for a new swarm, registered swarms are never victims.
 * If no room could be made, the announce fails with SHOAL_ETOOBIG. Swarms
 * are also kept in a dense array, so each random pick of 4 is O(1) and
 * uniform. An announce thus frees at most SWARM_EVICT_TRIES swarms that
 * held peers (plus a bounded number of empty ones) and looks at no more
 * than SWARM_EVICT_TRIES * SWARM_EVICT_SAMPLE swarms, however hard the
 * flood.
 *
 * Not thread-safe: one thread (the tracker's event loop) owns a table.
 */
#ifndef SHOAL_SWARM_TABLE_H
#define SHOAL_SWARM_TABLE_H

#include <stddef.h>
#include <stdint.h>

#include "shoal.h"

/* ------------------------------------------------------------------ limits */

/* Defaults for zero fields of struct swarm_table_cfg. */
#define SWARM_DEFAULT_MAX_SWARMS   (1u << 20)
#define SWARM_DEFAULT_MAX_PEERS    (1u << 24)
#define SWARM_DEFAULT_PEER_TIMEOUT 3600
/* Peers per bucket before a family doubles its buckets: a new peer then
 * moves at most this many records (3 KiB of IPv4 records). */
#define SWARM_BUCKET_TARGET 512
/* A swarm announced to this long after it was made is proven: longer than
 * a flood takes to repeat an announce, shorter than any client's interval. */
#define SWARM_PROVE_S 30
/* Swarms looked at per eviction, and evictions per announce at most. */
#define SWARM_EVICT_SAMPLE 8
#define SWARM_EVICT_TRIES  4
/* Most peers in one sample: more than any client asks for (BEP 15 clients
 * ask for 50 or -1, shoal tracker gives 200 at most). */
#define SWARM_SAMPLE_MAX 256
/* Compact record sizes: BEP 23 (IPv4) and BEP 7 (IPv6). */
#define SWARM_REC4 6
#define SWARM_REC6 18

/* Announce to an infohash that a closed table does not track. An alias of
 * SHOAL_EUNSUPPORTED, so shoal_strerror() reads "not supported"; callers
 * reply with a failure reason of their own ("unregistered torrent"). */
#define SWARM_ENOTREGISTERED SHOAL_EUNSUPPORTED

/* Events, numbered as BEP 15 numbers them on the wire. */
enum swarm_event {
    SWARM_EVENT_NONE = 0,
    SWARM_EVENT_COMPLETED = 1,
    SWARM_EVENT_STARTED = 2,
    SWARM_EVENT_STOPPED = 3,
};

struct swarm_table_cfg {
    size_t max_swarms;       /* 0: SWARM_DEFAULT_MAX_SWARMS */
    size_t max_peers_total;  /* IPv4 + IPv6 peers; 0: SWARM_DEFAULT_MAX_PEERS */
    uint32_t peer_timeout_s; /* 2 x announce interval; 0: SWARM_DEFAULT_PEER_TIMEOUT */
    int open;                /* 1: any infohash; 0: only registered ones */
    uint64_t seed;           /* secret for the hashes and eviction sampling; give
                              * random bytes in a server (0 is fine in tests) */
};

struct swarm_announce {
    uint8_t info_hash[20];
    int family;     /* 4 or 6 */
    uint8_t ip[16]; /* network order; the first 4 bytes for IPv4 */
    uint16_t port;  /* host order, nonzero */
    uint64_t left;  /* 0: the peer is a seeder */
    int event;      /* enum swarm_event */
};

struct swarm_stats {
    uint32_t seeders;
    uint32_t leechers;
    uint32_t completed; /* completions counted since the swarm was created */
};

struct swarm_table_totals {
    size_t swarms;
    size_t peers; /* IPv4 + IPv6 */
    size_t peers6;
    size_t seeders;
    size_t mem_bytes;        /* estimate: every block the table holds, plus 16 bytes
                              * of allocator overhead per block */
    uint64_t evicted_swarms; /* evictions since the table was made */
    uint64_t evicted_peers;  /* peers dropped by those evictions */
    uint64_t expired_peers;  /* peers dropped by the sweeper */
    uint64_t refused;        /* announces refused with SHOAL_ETOOBIG */
};

struct swarm_table;

/* ------------------------------------------------------------------ API */

/*
 * Makes an empty table. cfg may be NULL: all defaults, which is a closed
 * table (open is 0). Returns NULL when out of memory. Memory grows with use, not with the
 * limits: the swarm hash starts small and doubles.
 */
struct swarm_table *swarm_table_new(const struct swarm_table_cfg *cfg);
void swarm_table_free(struct swarm_table *t);

/*
 * Adds ih to the whitelist (needed in a closed table; allowed in an open one,
 * where it pins the swarm: a registered swarm is never freed or evicted,
 * only its peers may be). Registering twice is fine. Returns 0,
 * SHOAL_ETOOBIG when max_swarms swarms exist and none could be evicted, or
 * SHOAL_ENOMEM.
 */
int swarm_table_register(struct swarm_table *t, const uint8_t ih[20]);

/* Removes ih from the whitelist. In a closed table the swarm and its peers
 * go at once; in an open one the swarm stays until it empties. Returns 0, or
 * SWARM_ENOTREGISTERED when ih was not registered. */
int swarm_table_unregister(struct swarm_table *t, const uint8_t ih[20]);

/*
 * Records an announce. Event stopped removes the peer (and never creates a
 * swarm). Any other event adds or refreshes the peer; left == 0 makes it a
 * seeder, left > 0 a leecher (a seeder may turn back into a leecher).
 * `completed` counts event=completed once per peer: a repeated completed from
 * the same peer is not counted again, and neither is a seeder that never
 * sends the event (BEP 48 "downloaded": completions the tracker registered).
 * On success fills *out (if not NULL) with the swarm's counts after the
 * announce and returns 0. Errors: SHOAL_EINVAL (family not 4 or 6, port 0),
 * SWARM_ENOTREGISTERED (closed table, unknown infohash), SHOAL_ETOOBIG (table
 * full and eviction made no room; the announce is not recorded), SHOAL_ENOMEM.
 */
int swarm_table_announce(struct swarm_table *t, const struct swarm_announce *a,
                         uint64_t now_s, struct swarm_stats *out);

/*
 * Writes a random sample of at most numwant peers of ih in family 4 or 6 as
 * compact records (SWARM_REC4 or SWARM_REC6 bytes each) into out[0..outcap)
 * and returns the bytes written (a multiple of the record size; 0 for an
 * unknown swarm).
 *
 * The asker (exclude_ip/exclude_port, in the sampled family; exclude_ip may
 * be NULL) is never returned. When the asker is in the swarm as a seeder,
 * only leechers are returned: a seeder has nothing to fetch from seeders.
 * Peers past their timeout but not yet swept are skipped (as of the latest
 * now_s the table was given).
 *
 * The candidates are the family's peers, or its leechers alone for a seeder
 * asker. At most 64 candidates, or fewer than 2 x numwant, are sampled
 * exactly (a reservoir over all of them, so when all fit all are returned);
 * more are sampled in strata: the candidates are cut into numwant equal
 * runs and one is drawn from each run, so every candidate is equally
 * likely (within one part in a run's length) and none comes twice. A drawn
 * peer that is the asker or expired gives way to its neighbour in the run.
 * The result is shuffled. Work: O(numwant) plus a walk over the bucket
 * headers; O(candidates) for at most 64 or 2 x numwant of them.
 * numwant is capped at SWARM_SAMPLE_MAX.
 *
 * *rng is the caller's random state (any value, 0 included), advanced here.
 */
size_t swarm_table_sample(struct swarm_table *t, const uint8_t ih[20], int family,
                          size_t numwant, const uint8_t *exclude_ip,
                          uint16_t exclude_port, uint64_t *rng, uint8_t *out,
                          size_t outcap);

/*
 * swarm_table_sample() for an asker that is not among the family's peers
 * because it announced from the other family (an IPv4 client of an HTTP
 * tracker gets peers6 too). `seeder` says whether the asker seeds: a seeder
 * gets leechers only, as in swarm_table_sample().
 */
size_t swarm_table_sample_other(struct swarm_table *t, const uint8_t ih[20], int family,
                                size_t numwant, int seeder, uint64_t *rng, uint8_t *out,
                                size_t outcap);

/*
 * swarm_table_announce() and then, when the peer is in the swarm afterwards
 * (any event but stopped, and no error), swarm_table_sample() of the peer's
 * own family with the peer as the asker; in one lookup of the swarm and of
 * the peer. Returns what swarm_table_announce() returns; *outlen receives
 * the sample's length in bytes (0 when no sample was taken).
 */
int swarm_table_announce_sample(struct swarm_table *t, const struct swarm_announce *a,
                                uint64_t now_s, struct swarm_stats *st, size_t numwant,
                                uint64_t *rng, uint8_t *out, size_t outcap,
                                size_t *outlen);

/* Counts of one swarm. An unknown infohash yields zeros and 0 in an open
 * table, SWARM_ENOTREGISTERED in a closed one. */
int swarm_table_scrape(struct swarm_table *t, const uint8_t ih[20],
                       struct swarm_stats *out);

/*
 * Drops peers whose last announce is older than peer_timeout_s, resuming
 * where the last call stopped. Looks at roughly `budget` peers and swarms
 * (a bucket is done whole), then returns. A swarm left without
 * peers and without an announce for peer_timeout_s is freed (unless it is
 * registered). Returns the number of peers dropped. Call it every few
 * seconds with a budget of some thousands.
 */
size_t swarm_table_sweep(struct swarm_table *t, uint64_t now_s, size_t budget);

/* Totals for GET /stats. */
void swarm_table_stats(const struct swarm_table *t, struct swarm_table_totals *out);

/*
 * Calls cb once per swarm, in no particular order, until cb returns non-zero
 * or every swarm was visited. Returns the number of calls. The table must
 * not be changed from inside cb; the arguments are valid during the call.
 */
typedef int (*swarm_table_cb)(const uint8_t ih[20], const struct swarm_stats *st,
                              void *user);
size_t swarm_table_foreach(const struct swarm_table *t, swarm_table_cb cb, void *user);

#endif
