/*
 * tracker_client.h — announces and scrapes to HTTP(S) and UDP trackers, on
 * a session's event loop. Session layer; see tracker_client.c. The client
 * reaches the session only through the hooks it is given (hooks.h): peers
 * go up through on_peers, status lines through emit, and the clock and
 * randomness come from now_ms and rand64.
 *
 * All calls are made on the loop thread.
 */
#ifndef SHOAL_TRACKER_CLIENT_H
#define SHOAL_TRACKER_CLIENT_H

#include <stdint.h>
#include <sys/socket.h>

#include "codec/tracker_udp.h"
#include "engine/announcer.h"

struct hooks;
struct tracker_client;
struct tracker_torrent;
struct http_client;
struct http_request;
struct dns_resolver;
struct dns_lookup;
struct udp_mux;

/* Tries per UDP announce before the announcer moves to another tracker. */
#define TRACKER_UDP_CLIENT_MAX_TRIES 4
/* Tries per UDP scrape: the counts can wait for the next round, and a
 * scrape slot held by a dead tracker is one the others lack. */
#define TRACKER_UDP_SCRAPE_MAX_TRIES 2
/* UDP connection ids remembered per client (one per tracker address). */
#define TRACKER_UDP_CONN_CACHE 16
/* UDP exchanges in flight per client, at most: the index that matches
 * replies to them is allocated once at this size (16 KiB), and a torrent
 * holds 1 + ANNOUNCER_MAX_SCRAPES of them, so this serves hundreds of
 * torrents announcing at once; one past it fails and is retried later. */
#define TRACKER_UDP_MAX_INFLIGHT 1024

enum tracker_job_kind { TRACKER_JOB_NONE, TRACKER_JOB_HTTP, TRACKER_JOB_UDP };

/*
 * One exchange with a tracker that a torrent has in flight: an announce or
 * a scrape. A torrent has one for announces and ANNOUNCER_MAX_SCRAPES for
 * scrapes, so a scrape never waits for an announce. The tracker is named by
 * its announcer id, since BEP 12 promotion may move it while the exchange
 * runs. Owned by the client's functions; others only read it.
 */
struct tracker_xfer {
    struct tracker_torrent *tt;
    int scrape; /* 1: scrapes, 0: announces */
    enum tracker_job_kind kind;
    uint32_t tracker;          /* announcer_tracker.id */
    struct announce_job job;   /* announces: what the announcer asked for */
    struct http_request *http; /* HTTP transfer in flight, or NULL */
    struct dns_lookup *dns;    /* name look-up in flight, or NULL */
    /* UDP (BEP 15) */
    int udp_active; /* a request is out and a reply expected */
    int indexed;    /* tid is in the client's index of exchanges in flight */
    int connected;
    int attempt;
    uint32_t tid;
    uint64_t conn_id;
    uint64_t conn_until_ms; /* conn_id may be used until then (BEP 15) */
    int conn_cached;        /* conn_id came from the client's cache */
    uint64_t deadline_ms;
    struct sockaddr_storage sa;
    char urldata[TRACKER_UDP_MAX_URLDATA + 1];
};

/* What an announce says of a torrent's transfer, asked for each time a
 * request is built. */
struct tracker_counts {
    uint64_t uploaded, downloaded, left;
};

/*
 * A torrent as the tracker client sees it: the owner (torrent.h embeds
 * one) fills infohash, key and counts, and adds trackers to announcer;
 * the client keeps the exchanges. The owner reads announcer for the
 * user's view and tells it of events (announcer_completed(),
 * announcer_stop()).
 */
struct tracker_torrent {
    uint8_t infohash[20];
    uint32_t key; /* the announce key: who we are across address changes */
    struct announcer announcer;
    /* Fills *out with the torrent's counts now; called on the loop thread
     * whenever an announce is built. */
    void (*counts)(void *arg, struct tracker_counts *out);
    void *counts_arg;
    /* The client's own: */
    struct tracker_client *tc; /* set by tracker_client_attach() */
    struct tracker_torrent *prev, *next;
    struct tracker_xfer announce_x, scrape_x[ANNOUNCER_MAX_SCRAPES];
};

/* What the client says of us in every announce. */
struct tracker_client_cfg {
    uint8_t peer_id[20];
    uint16_t port; /* our listening port */
    int local_only;
};

/*
 * Makes a tracker client that reports through h and uses http, dns and udp
 * (it takes BEP 15 replies from udp's UDP_TRACKER handler). Keeps
 * references to h, http, dns and udp, which must outlive it. Returns 0 and
 * *out, or SHOAL_ENOMEM.
 */
int tracker_client_new(const struct hooks *h, struct http_client *http,
                       struct dns_resolver *dns, struct udp_mux *udp,
                       const struct tracker_client_cfg *cfg, struct tracker_client **out);
/*
 * Cancels every exchange and look-up in flight (no announcer hears of
 * them), detaches every torrent, leaves the UDP mux and frees tc. Runs
 * before http, dns and udp are freed. NULL does nothing.
 */
void tracker_client_free(struct tracker_client *tc);
/* Ties tt's exchanges to tc; once, after tt's fields are set and before
 * any other call for tt. Keeps a reference to tt until
 * tracker_client_detach(). */
void tracker_client_attach(struct tracker_client *tc, struct tracker_torrent *tt);
/* Cancels whatever tt has in flight and forgets tt, before it is freed.
 * Safe after tracker_client_free(), and twice. */
void tracker_client_detach(struct tracker_torrent *tt);
/* Starts the announce and the scrapes that are due for tt, and handles UDP
 * retransmits. Does nothing for a detached tt. */
void tracker_client_tick(struct tracker_torrent *tt, uint64_t now);
/* 1 when no announce of tt is in flight (a scrape may be). */
int tracker_client_idle(const struct tracker_torrent *tt);

#endif
