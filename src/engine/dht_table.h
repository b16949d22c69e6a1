/*
 * dht_table.h — the Kademlia routing table of a DHT node (BEP 5). Engine
 * layer, pure: no sockets and no clock (every call that needs the time
 * takes now_ms, any monotonic count of milliseconds); randomness comes from
 * the seed given at creation.
 *
 * One table holds the nodes of one address family (BEP 32: a node runs an
 * IPv4 table and an IPv6 table). Buckets hold DHT_TABLE_K nodes; bucket i
 * (of n) holds the nodes whose ids share exactly i leading bits with ours,
 * and the last bucket those that share n - 1 or more, so only the last one
 * covers our own id and only it splits when full (the Kademlia rule, kept
 * strict: the nodes near us are then known in full, which is what lookups
 * converging on our neighbourhood need). Each bucket has a replacement
 * cache of DHT_TABLE_REPLACEMENTS nodes, so the table never holds more
 * than DHT_TABLE_MAX_NODES nodes, whatever it is fed.
 *
 * Quality (BEP 5): a node is good when it replied to us within
 * DHT_TABLE_GOOD_MS, or queried us within DHT_TABLE_GOOD_MS after having
 * replied at least once; bad after DHT_TABLE_BAD_FAILURES queries in a row
 * that timed out; questionable otherwise.
 *
 * Who gets in:
 *   - a node that replied (DHT_HEARD_REPLY) goes into its bucket if there is
 *     room, or replaces a bad node at once; if the bucket is full of good and
 *     questionable nodes it waits in the replacement cache, and the bucket's
 *     questionable nodes are handed out by dht_table_pings(); each that
 *     fails DHT_TABLE_BAD_FAILURES times is replaced by the best waiting
 *     replacement (replied most recently);
 *   - a node that only queried us (DHT_HEARD_QUERY) is not trusted: it goes
 *     in as questionable when there is room (and is pinged), else into the
 *     replacement cache behind every node that replied;
 *   - a node loaded from a saved table (DHT_HEARD_SAVED) goes in as
 *     questionable, to be pinged.
 * A node with our own id, of the other family, with port 0, or (with
 * DHT_TABLE_BEP42, for an address dht_id_exempt() does not exempt) with an
 * id that does not match its address is refused; a second id for an IP
 * address (for IPv6, a /64) already in the table is ignored, except for
 * exempt addresses (tests run many nodes on 127.0.0.1). A known id heard from another
 * address keeps the old address unless the old entry is bad.
 *
 * Not thread-safe: one thread (the session's loop) owns a table.
 */
#ifndef SHOAL_DHT_TABLE_H
#define SHOAL_DHT_TABLE_H

#include <stddef.h>
#include <stdint.h>

#include "engine/dht_id.h"

/* BEP 5: k = 8 nodes per bucket. */
#define DHT_TABLE_K 8
/* Waiting nodes per bucket: as many as the bucket, so a bucket whose nodes
 * all left can be refilled at once. */
#define DHT_TABLE_REPLACEMENTS 8
/* At most one bucket per bit of the id. */
#define DHT_TABLE_MAX_BUCKETS 160
/* The hard cap on nodes, bucket members and replacements together. */
#define DHT_TABLE_MAX_NODES                                                              \
    (DHT_TABLE_MAX_BUCKETS * (DHT_TABLE_K + DHT_TABLE_REPLACEMENTS))
/* BEP 5: a node is good for 15 minutes after it replied. */
#define DHT_TABLE_GOOD_MS (15 * 60 * 1000)
/* BEP 5: "several" failures in a row make a node bad; three tolerates the
 * loss of two datagrams in a row. */
#define DHT_TABLE_BAD_FAILURES 3
/* BEP 5: a bucket untouched for 15 minutes is refreshed by a lookup. */
#define DHT_TABLE_REFRESH_MS (15 * 60 * 1000)
/* A node handed out by dht_table_pings() is not handed out again sooner:
 * the ping's own timeout (a few seconds) must be able to run out first. */
#define DHT_TABLE_PING_GAP_MS (10 * 1000)

/* dht_table_new flags. */
#define DHT_TABLE_BEP42 0x1u /* refuse public addresses whose id breaks BEP 42 */

enum dht_quality { DHT_GOOD = 0, DHT_QUESTIONABLE, DHT_BAD };

enum dht_heard { DHT_HEARD_REPLY = 0, DHT_HEARD_QUERY, DHT_HEARD_SAVED };

/* What dht_table_heard() did. */
enum dht_heard_result {
    DHT_TABLE_IGNORED = 0, /* already known elsewhere, or the table is full */
    DHT_TABLE_ADDED,       /* now in a bucket */
    DHT_TABLE_UPDATED,     /* was in a bucket: times refreshed */
    DHT_TABLE_CACHED,      /* in (or refreshed in) a replacement cache */
    DHT_TABLE_REFUSED,     /* never allowed in (see the top of this file) */
};

/* A node as the table reports it. */
struct dht_table_entry {
    uint8_t id[DHT_ID_LEN];
    struct dht_addr addr;
    uint8_t quality;     /* enum dht_quality */
    uint8_t failures;    /* queries in a row that timed out */
    uint8_t replacement; /* 1 for a node waiting in a replacement cache */
    int64_t last_reply;  /* now_ms of its last reply, 0 for never */
    int64_t last_query;  /* now_ms of its last query to us, 0 for never */
};

struct dht_table_stats {
    size_t buckets;
    size_t nodes; /* in buckets */
    size_t good, questionable, bad;
    size_t replacements;
    uint64_t refused; /* dht_table_heard() calls answered DHT_TABLE_REFUSED */
};

struct dht_table;

/*
 * Makes an empty table for our node id `id` and family 4 or 6, with flags
 * DHT_TABLE_*; seed feeds the random bucket-refresh targets. Returns NULL
 * when out of memory or when family is neither 4 nor 6. Free with
 * dht_table_free().
 */
struct dht_table *dht_table_new(const uint8_t id[DHT_ID_LEN], int family, unsigned flags,
                                uint64_t seed);
void dht_table_free(struct dht_table *t);

const uint8_t *dht_table_id(const struct dht_table *t);
int dht_table_family(const struct dht_table *t);

/*
 * Tells the table we heard from node (id, a): a reply to our query, a query
 * from it, or an entry of a saved table. A reply also clears the node's
 * failure count. Returns an enum dht_heard_result (never negative: the
 * table allocates nothing after dht_table_new).
 */
int dht_table_heard(struct dht_table *t, const uint8_t id[DHT_ID_LEN],
                    const struct dht_addr *a, int how, int64_t now_ms);

/*
 * Tells the table a query to (id, a) timed out. After DHT_TABLE_BAD_FAILURES
 * in a row the node is bad: if its bucket has a replacement waiting, the
 * replacement takes its place at once. Nothing happens when the node is not
 * in the table under that id and address.
 */
void dht_table_failed(struct dht_table *t, const uint8_t id[DHT_ID_LEN],
                      const struct dht_addr *a, int64_t now_ms);

/*
 * Nodes to ping now: the questionable nodes of buckets that have a
 * replacement waiting, and nodes that came in unverified (from a query or a
 * saved table), each at most once per DHT_TABLE_PING_GAP_MS. Writes up to
 * max of them into out and returns how many. The node pings each and
 * reports the outcome with dht_table_heard(REPLY) or dht_table_failed().
 */
size_t dht_table_pings(struct dht_table *t, int64_t now_ms, struct dht_table_entry *out,
                       size_t max);

/*
 * Targets to look up: one random id in the range of each bucket nobody was
 * added to or replied from for DHT_TABLE_REFRESH_MS (BEP 5 bucket refresh).
 * A bucket whose target was handed out counts as refreshed then. Writes up
 * to max targets and returns how many.
 */
size_t dht_table_refresh(struct dht_table *t, int64_t now_ms,
                         uint8_t (*targets)[DHT_ID_LEN], size_t max);

/*
 * The up to k nodes closest to target by XOR distance, closest first: bucket
 * members that are not bad (with DHT_CLOSEST_GOOD, only good ones), and
 * replacements that are good. Returns how many were written into out.
 *
 * Why good replacements: with strict splitting, the buckets just above our
 * own (ids sharing a few bits less with us than the nearest nodes do) hold
 * about k candidates in a network of any size, and those that come after a
 * full bucket wait as replacements; they are exactly the nodes a lookup
 * for a target near us needs (a 1000-node simulation misses one of the
 * true 8 closest in about 1 lookup of 20 without them). A replacement that
 * replied within DHT_TABLE_GOOD_MS is as alive as a bucket member, so the
 * answer includes it; bucket maintenance is unchanged.
 */
#define DHT_CLOSEST_GOOD 0x1u
size_t dht_table_closest(const struct dht_table *t, const uint8_t target[DHT_ID_LEN],
                         unsigned flags, int64_t now_ms, struct dht_table_entry *out,
                         size_t k);

/* The entry of node id (bucket member or replacement) into *out; returns 1
 * when found, else 0. */
int dht_table_find(const struct dht_table *t, const uint8_t id[DHT_ID_LEN],
                   int64_t now_ms, struct dht_table_entry *out);

/* Every node, bucket members first (in bucket order) then replacements, for
 * saving or showing the table: writes up to max into out and returns the
 * total number of nodes (which may be more than max). Load a saved table
 * with dht_table_heard(DHT_HEARD_SAVED). */
size_t dht_table_dump(const struct dht_table *t, int64_t now_ms,
                      struct dht_table_entry *out, size_t max);

void dht_table_stats(const struct dht_table *t, int64_t now_ms,
                     struct dht_table_stats *out);

/* Name of a quality: "good", "questionable", "bad". */
const char *dht_quality_name(int quality);

#endif
