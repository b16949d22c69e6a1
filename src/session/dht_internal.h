/*
 * dht_internal.h — what dht.c (datagrams, queries and answers, the saved
 * table) and dht_search.c (lookups, torrents, bootstrap) share of a node.
 * Session layer; nothing outside those two files includes it.
 */
#ifndef SHOAL_DHT_INTERNAL_H
#define SHOAL_DHT_INTERNAL_H

#include <stdint.h>

#include "codec/krpc.h"
#include "engine/dht_id.h"
#include "engine/dht_lookup.h"
#include "engine/dht_store.h"
#include "engine/dht_table.h"
#include "engine/dht_token.h"
#include "session/dht.h"

struct event;
struct dns_lookup;

/* Transactions awaiting a reply, at most (a power of two: the slot is
 * half of the 4-byte transaction id). */
#define DHT_MAX_PENDING 1024
/* A query not answered this long is given up (lookups give up sooner on
 * their own, but a late reply still counts for them till then). */
#define DHT_TXN_TIMEOUT_MS 5000

enum dht_txn_kind { TXN_FREE = 0, TXN_PING, TXN_LOOKUP, TXN_ANNOUNCE, TXN_SAMPLE };

struct dht_search;

/* One query in flight, found again by the slot and salt of its tid and
 * checked against the address it went to. */
struct dht_txn {
    uint8_t kind; /* enum dht_txn_kind */
    uint8_t has_id;
    uint16_t salt;
    uint8_t id[DHT_ID_LEN];
    struct dht_addr to;
    int64_t sent_ms;
    struct dht_search *s; /* TXN_LOOKUP */
    int fam;              /* TXN_LOOKUP: 0 IPv4, 1 IPv6 */
    uint32_t qid;         /* TXN_LOOKUP: the lookup's query number */
    dht_sample_cb scb;    /* TXN_SAMPLE */
    void *suser;
};

enum dht_purpose { DHT_FOR_BOOT = 0, DHT_FOR_REFRESH, DHT_FOR_TORRENT, DHT_FOR_USER };

/* A lookup of ours in one or both families. */
struct dht_search {
    struct dht_search *next;
    int kind;    /* enum dht_lookup_kind */
    int purpose; /* enum dht_purpose */
    uint8_t target[DHT_ID_LEN];
    struct dht_lookup *l[2]; /* IPv4, IPv6; NULL when not run */
    int64_t wake[2];
    size_t reported[2]; /* peers of each lookup handed up so far */
    uint16_t announce_port;
    uint32_t announced;
    int64_t started_ms;
    struct dht_search_cb cb;
};

/* A torrent the session named (dht_torrent_want). */
struct dht_torrent {
    uint8_t ih[DHT_ID_LEN];
    int npeers;
    int64_t named_ms;
    int64_t next_ms;
    int searching;
    unsigned tries; /* lookups started so far */
};

/* A query rate bucket of one address (dht.c). */
struct dht_rate {
    uint64_t key;
    int64_t last_ms;
    uint32_t milli; /* tokens, in thousandths */
};

/* Slots of the rate table: addresses beyond it share slots, and a
 * newcomer takes a slot over (with a full bucket, which costs a flood
 * nothing it could not get by changing its address). */
#define DHT_RATE_SLOTS 1024
/* BEP 42 votes on our external address kept, and the distinct nodes
 * that must name the same address before our id follows it. */
#define DHT_VOTES        8
#define DHT_VOTES_NEEDED 4

struct dht {
    struct dht_cfg cfg;
    char *state_path;
    uint8_t id[DHT_ID_LEN];
    struct dht_table *t[2]; /* IPv4, IPv6; NULL without a socket of the family */
    struct dht_store *store;
    struct dht_token token;
    struct event *timer;
    int64_t timer_at; /* when the timer is set for; 0: not set */
    int64_t next_house_ms, next_save_ms, next_sweep_ms, next_boot_ms;
    struct dht_txn txn[DHT_MAX_PENDING];
    size_t npending;
    size_t txn_cursor;
    struct dht_search *searches;
    size_t nsearches;
    struct dht_torrent *tor;
    size_t ntor, tor_cap;
    /* Bootstrap: the names to look up, their look-ups in flight, and the
     * addresses known. */
    char **boot_names;
    size_t nboot_names;
    struct dns_lookup *boot_dns[DHT_MAX_BOOTSTRAP];
    struct dht_addr boot[DHT_MAX_BOOTSTRAP];
    size_t nboot;
    struct dht_rate rate[DHT_RATE_SLOTS];
    uint64_t rate_k0, rate_k1;
    struct {
        uint8_t ip[4];
        unsigned n;
        uint64_t voters[DHT_VOTES_NEEDED];
    } votes[DHT_VOTES];
    uint8_t external[4]; /* the address our id was made for, or zeros */
    struct dht_info st;  /* counters; the rest is filled by dht_info() */
    int closing;         /* dht_free() began: no new searches */
};

/* dht.c */
int64_t dht_now(const struct dht *d);
/* Sends a query of method to `to` (id known when id is not NULL) for
 * kind; fills in the target/token/port fields from q (may be NULL).
 * Returns the slot, or a negative code (the datagram was not sent). */
int dht_send_query(struct dht *d, int method, const struct dht_addr *to,
                   const uint8_t *id, const struct krpc_msg *args, struct dht_txn *proto);
/* The table of family index fam (0 IPv4, 1 IPv6), or NULL. */
struct dht_table *dht_tab(const struct dht *d, int fam);
/* Asks the timer to fire by at_ms. */
void dht_wake(struct dht *d, int64_t at_ms);
/* 1 when local-only mode allows a. */
int dht_addr_allowed(const struct dht *d, const struct dht_addr *a);

/* dht_search.c */
/* A lookup of ours got a reply (m a response) or an error (m NULL). */
void dht_search_reply(struct dht *d, const struct dht_txn *x, const struct dht_addr *from,
                      const struct krpc_msg *m);
/* Runs the searches due by now and the periodic work; returns when the
 * next is due. */
int64_t dht_search_tick(struct dht *d, int64_t now, int house);
/* Ends every search (done callbacks run). */
void dht_search_free_all(struct dht *d);
/* Starts the lookup of our own id from the table and bootstrap nodes. */
void dht_bootstrap(struct dht *d);
/* Starts a search; returns it or NULL (-EAGAIN, SHOAL_ENOMEM in *rc). */
struct dht_search *dht_search_new(struct dht *d, int kind,
                                  const uint8_t target[DHT_ID_LEN], int purpose, int *rc);
/* Frees the bootstrap names and cancels their look-ups. */
void dht_boot_names_free(struct dht *d);
/* Starts the look-ups of the bootstrap names. */
void dht_boot_resolve(struct dht *d);

#endif
