/*
 * dht_lookup.h — one iterative Kademlia lookup (BEP 5) as a state machine.
 * Engine layer, sans-I/O: it says whom to query and when to wake it, and
 * is told what came back; the node owns the socket, the transaction ids on
 * the wire and the timers.
 *
 * A lookup walks toward a target: find_node (nodes near an id), get_peers
 * (nodes near an infohash, the peers they store and the tokens that allow
 * an announce to them) or sample_infohashes (BEP 51: a find_node walk that
 * also collects the samples). It keeps up to DHT_LOOKUP_MAX_CANDIDATES
 * candidates sorted by XOR distance to the target, deduplicated by id and by
 * address, keeps DHT_LOOKUP_ALPHA queries in flight, counts a query failed
 * after DHT_LOOKUP_TIMEOUT_MS (a slow node still counts if it answers
 * later) and is done when the DHT_LOOKUP_K closest candidates have all
 * replied or failed and nothing closer is in flight, when nothing is left
 * to ask, or after DHT_LOOKUP_MAX_QUERIES queries.
 *
 * The flow:
 *   l = dht_lookup_new(...); dht_lookup_add() the table's closest nodes (or
 *   bootstrap addresses, whose ids are not known);
 *   loop: n = dht_lookup_step(l, now, acts, max, &wake); send a query for
 *   each DHT_LOOKUP_SEND action, tell the table of each DHT_LOOKUP_FAILED
 *   one; on a reply or an error matched to (lookup, query number) call
 *   dht_lookup_reply() / dht_lookup_error(); step again; until
 *   dht_lookup_done(). Then dht_lookup_responders() gives the closest nodes
 *   that replied, with their tokens, for announce_peer.
 *
 * Hostile input cannot grow it or end it early: a reply counts only from
 * the address a pending query went to, with its query number; the nodes of
 * one reply are deduplicated and at most DHT_LOOKUP_MAX_CANDIDATES kept;
 * peers are capped at DHT_LOOKUP_MAX_PEERS and samples at
 * DHT_LOOKUP_MAX_SAMPLES, both deduplicated.
 *
 * Not thread-safe: one thread (the session's loop) owns a lookup.
 */
#ifndef SHOAL_DHT_LOOKUP_H
#define SHOAL_DHT_LOOKUP_H

#include <stddef.h>
#include <stdint.h>

#include "codec/krpc.h"
#include "engine/dht_id.h"

/* BEP 5: the k closest nodes are what a lookup converges on. */
#define DHT_LOOKUP_K 8
/* Kademlia's alpha: queries in flight at once. */
#define DHT_LOOKUP_ALPHA 3
/* A query unanswered this long counts as failed and frees its slot; most
 * replies come within a few hundred milliseconds. */
#define DHT_LOOKUP_TIMEOUT_MS 2000
/* Candidates kept: 8k of the closest seen, enough that the nodes that time
 * out near the end still leave k to converge on. */
#define DHT_LOOKUP_MAX_CANDIDATES (8 * DHT_LOOKUP_K)
/* Queries per lookup at most: a lookup in a million-node DHT needs about
 * 20 to 40. */
#define DHT_LOOKUP_MAX_QUERIES 100
/* Peers collected by a get_peers lookup at most. */
#define DHT_LOOKUP_MAX_PEERS 1000
/* Infohashes collected by a sample_infohashes walk at most. */
#define DHT_LOOKUP_MAX_SAMPLES 2000

enum dht_lookup_kind {
    DHT_LOOKUP_FIND_NODE = 0,
    DHT_LOOKUP_GET_PEERS,
    DHT_LOOKUP_SAMPLE_INFOHASHES,
};

enum dht_lookup_act {
    DHT_LOOKUP_SEND = 1, /* send the lookup's query to (id, addr), number qid */
    DHT_LOOKUP_FAILED,   /* query qid to (id, addr) timed out: tell the table */
};

struct dht_lookup_action {
    uint8_t act;    /* enum dht_lookup_act */
    uint8_t has_id; /* 0 for an address whose id is not known yet */
    uint32_t qid;   /* query number, unique within the lookup */
    uint8_t id[DHT_ID_LEN];
    struct dht_addr addr;
};

/* A node that replied, with the token it gave (get_peers). */
struct dht_lookup_responder {
    uint8_t id[DHT_ID_LEN];
    struct dht_addr addr;
    uint8_t token_len;
    uint8_t token[KRPC_MAX_TOKEN];
};

struct dht_lookup_stats {
    uint32_t queries;                /* sent */
    uint32_t replies;                /* matched replies */
    uint32_t failures;               /* timeouts and errors */
    uint32_t round_trips;            /* greatest depth of a node queried (seeds are 1) */
    uint32_t candidates;             /* held now */
    uint32_t peers;                  /* collected */
    uint32_t samples;                /* collected */
    int64_t started_ms, finished_ms; /* finished_ms is 0 until done */
};

struct dht_lookup;

/*
 * A lookup of `kind` for target, over nodes of family 4 or 6 (the family of
 * the table it is seeded from and of the nodes it follows), started at
 * now_ms. Returns NULL when out of memory or on a bad kind or family. Free
 * with dht_lookup_free().
 */
struct dht_lookup *dht_lookup_new(int kind, const uint8_t target[DHT_ID_LEN], int family,
                                  int64_t now_ms);
void dht_lookup_free(struct dht_lookup *l);

/* Our own node id: a node named with it is never a candidate (other nodes
 * know us, and a query to ourselves would only time out). Call it before
 * adding seeds. */
void dht_lookup_set_self(struct dht_lookup *l, const uint8_t self[DHT_ID_LEN]);

/*
 * Adds a seed: a node of the table (id given) or a bootstrap address (id
 * NULL: such nodes sort after every node of known id until their reply
 * names them). Duplicates (same id or same address) and addresses of the
 * other family are ignored. Returns 1 when added, 0 when not.
 */
int dht_lookup_add(struct dht_lookup *l, const uint8_t *id, const struct dht_addr *a);

/*
 * Advances the lookup to now_ms: queries pending for DHT_LOOKUP_TIMEOUT_MS
 * become failed (a DHT_LOOKUP_FAILED action each), then new queries go out
 * (a DHT_LOOKUP_SEND action each) while fewer than DHT_LOOKUP_ALPHA are in
 * flight. Writes up to max actions into out and returns how many; call it
 * again when it returns max. *wake_ms receives the time at which it should
 * next be called if no reply comes first (INT64_MAX when done).
 */
size_t dht_lookup_step(struct dht_lookup *l, int64_t now_ms,
                       struct dht_lookup_action *out, size_t max, int64_t *wake_ms);

/*
 * A response m from address `from` to query qid. Ignored (returns
 * SHOAL_EINVAL) when qid was never sent, was sent to another address, was
 * answered already, or m is not a response. A reply whose id differs from
 * the id we queried counts as that query failing. Otherwise the node counts
 * as replied (even after its timeout), its token is kept, the nodes of our
 * family it names become candidates one round deeper, and get_peers values
 * and BEP 51 samples are collected. Returns the number of new peers (0 or
 * more).
 */
int dht_lookup_reply(struct dht_lookup *l, uint32_t qid, const struct dht_addr *from,
                     const struct krpc_msg *m, int64_t now_ms);

/* An error reply (or an unusable one) to query qid from `from`: the query
 * counts as failed. Returns 0, or SHOAL_EINVAL when it matches no pending
 * query (then nothing changes). */
int dht_lookup_error(struct dht_lookup *l, uint32_t qid, const struct dht_addr *from,
                     int64_t now_ms);

/* 1 once the lookup has converged or given up; it sends nothing more. */
int dht_lookup_done(const struct dht_lookup *l);

int dht_lookup_kind(const struct dht_lookup *l);
const uint8_t *dht_lookup_target(const struct dht_lookup *l);

/* The peers collected so far, in the order they came: *n receives their
 * number. The array stays valid until the next dht_lookup_reply() or
 * dht_lookup_free(); new peers are appended, so a caller can report
 * [old n, new n) after each reply. */
const struct dht_addr *dht_lookup_peers(const struct dht_lookup *l, size_t *n);

/* The collected BEP 51 samples: *n infohashes of DHT_ID_LEN bytes each,
 * one after the other (same lifetime rule as peers). */
const uint8_t *dht_lookup_samples(const struct dht_lookup *l, size_t *n);

/* Up to max of the candidates that replied, closest to the target first,
 * with their tokens (token_len 0 when they gave none). Returns how many. */
size_t dht_lookup_responders(const struct dht_lookup *l, struct dht_lookup_responder *out,
                             size_t max);

void dht_lookup_stats(const struct dht_lookup *l, struct dht_lookup_stats *out);

#endif
