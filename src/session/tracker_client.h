/*
 * tracker_client.h — a session's announces and scrapes to HTTP(S) and UDP
 * trackers, on its event loop. Session layer; see tracker_client.c.
 */
#ifndef SHOAL_TRACKER_CLIENT_H
#define SHOAL_TRACKER_CLIENT_H

#include <stdint.h>
#include <sys/socket.h>

#include "codec/tracker_udp.h"
#include "engine/announcer.h"

struct shoal_session;
struct torrent;
struct http_request;
struct dns_lookup;

/* Tries per UDP announce before the announcer moves to another tracker. */
#define TRACKER_UDP_CLIENT_MAX_TRIES 4
/* Tries per UDP scrape: the counts can wait for the next round, and a
 * scrape slot held by a dead tracker is one the others lack. */
#define TRACKER_UDP_SCRAPE_MAX_TRIES 2
/* UDP connection ids remembered per session (one per tracker address). */
#define TRACKER_UDP_CONN_CACHE 16

enum tracker_job_kind { TRACKER_JOB_NONE, TRACKER_JOB_HTTP, TRACKER_JOB_UDP };

/*
 * One exchange with a tracker that a torrent has in flight: an announce or
 * a scrape. A torrent has one for announces and ANNOUNCER_MAX_SCRAPES for
 * scrapes, so a scrape never waits for an announce. The tracker is named by its announcer
 * id, since BEP 12 promotion may move it while the exchange runs.
 */
struct tracker_xfer {
    struct torrent *t;
    int scrape; /* 1: scrapes, 0: announces */
    enum tracker_job_kind kind;
    uint32_t tracker;          /* announcer_tracker.id */
    struct announce_job job;   /* announces: what the announcer asked for */
    struct http_request *http; /* HTTP transfer in flight, or NULL */
    struct dns_lookup *dns;    /* name look-up in flight, or NULL */
    /* UDP (BEP 15) */
    int udp_active; /* a request is out and a reply expected */
    int connected;
    int attempt;
    uint32_t tid;
    uint64_t conn_id;
    uint64_t conn_until_ms; /* conn_id may be used until then (BEP 15) */
    int conn_cached;        /* conn_id came from the session's cache */
    uint64_t deadline_ms;
    struct sockaddr_storage sa;
    char urldata[TRACKER_UDP_MAX_URLDATA + 1];
};

/* A connection id a UDP tracker gave, reused for the minute BEP 15 allows. */
struct tracker_udp_conn {
    struct sockaddr_storage sa;
    uint64_t conn_id;
    uint64_t until_ms;
};

/* Takes BEP 15 replies from the session's UDP mux (ss->udp and ss->http
 * are made first). Returns 0; tracker_client_cleanup() is safe after a
 * failure of anything else. */
int tracker_client_init(struct shoal_session *ss);
/* Cancels every torrent's transfers and look-ups in flight and leaves the
 * UDP mux; no announcer hears about the cancelled exchanges. Runs before
 * the session frees ss->http, ss->dns and ss->udp. */
void tracker_client_cleanup(struct shoal_session *ss);
/* Ties t's announce and scrape exchanges to t; once, before any other call
 * for t. */
void tracker_client_attach(struct torrent *t);
/* Starts the announce and the scrape that are due for t, and handles UDP
 * retransmits. */
void tracker_client_tick(struct torrent *t, uint64_t now);
/* 1 when no announce of t is in flight (a scrape may be). */
int tracker_client_idle(const struct torrent *t);
/* Cancels whatever t has in flight, before t is freed. */
void tracker_client_forget(struct torrent *t);

#endif
