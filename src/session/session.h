/*
 * session.h — internal view of sessions, torrents and peer connections.
 * Session layer: session.c owns the event loop and sockets, torrent.c one
 * torrent's pieces, storage and peers, peer.c one connection's protocol
 * state. All of it runs on the session's one loop thread; disk work runs on
 * the disk pool and reports back through disk_drain() on the loop.
 */
#ifndef SHOAL_SESSION_H
#define SHOAL_SESSION_H

#include <stdint.h>
#include <sys/socket.h>

#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>

#include "engine/announcer.h"
#include "base/bitfield.h"
#include "codec/ext.h"
#include "codec/metainfo.h"
#include "shoal.h"
#include "session/tracker_client.h"
#include "codec/wire.h"

struct disk;
struct storage;
struct picker;
struct smartban;
struct torrent;
struct evdns_base;

/* ------------------------------------------------------------------ tunables */

/* Seconds a TCP connect may take before the peer is given up. */
#define SESSION_CONNECT_TIMEOUT_S 10
/* A peer that sends nothing (not even keep-alives) for this long is dropped. */
#define PEER_IDLE_TIMEOUT_MS (180 * 1000)
/* BEP 3 suggests keep-alives every two minutes; send one after 90 s silence. */
#define PEER_KEEPALIVE_MS (90 * 1000)
/* Requests a peer may have queued with us; more is a flood and closes it. */
#define PEER_MAX_INCOMING_REQUESTS 2000
/* Requests we advertise we accept (BEP 10 reqq). */
#define PEER_REQQ 1500
/* Upload data queued in a peer's socket buffer before we stop reading more
 * blocks from disk for it. */
#define PEER_MAX_SEND_QUEUE (4u * 1024 * 1024)
/* A request not answered in this long is given back to the picker. */
#define PEER_REQUEST_TIMEOUT_MS (60 * 1000)
/* Hash failures a peer may take part in before it is banned. */
#define PEER_BAN_STRIKES 2
/* Bytes of block data waiting for the disk before we stop asking peers for
 * more (back-pressure: memory stays bounded when the disk is slow). */
#define TORRENT_MAX_PENDING_WRITE (16u * 1024 * 1024)
/* Rate estimates are averaged over this many one-second buckets. */
#define RATE_WINDOW 5

/* A rate meter over RATE_WINDOW one-second buckets. */
struct rate {
    uint64_t bucket[RATE_WINDOW];
    uint64_t second; /* which second bucket[second % RATE_WINDOW] holds */
};

void rate_add(struct rate *r, uint64_t now_ms, uint64_t bytes);
uint64_t rate_get(const struct rate *r, uint64_t now_ms);

/* ------------------------------------------------------------------ peers */

enum peer_state { PEER_CONNECTING, PEER_HANDSHAKE, PEER_ACTIVE, PEER_DEAD };

/* A request we sent and wait on. */
struct peer_req {
    uint32_t piece, begin, length;
    uint64_t sent_ms;
};

/* A request a peer sent us, waiting for upload. */
struct peer_upreq {
    uint32_t piece, begin, length;
};

struct peer {
    struct shoal_session *ss;
    struct torrent *t; /* NULL until an incoming handshake names the torrent */
    struct peer *next; /* in the torrent's (or session's half-open) list */
    struct bufferevent *bev;
    struct sockaddr_storage sa;
    char addr[64];
    uint64_t id;
    int incoming;
    enum peer_state state;
    int pending_io; /* disk reads in flight for it: reap only at 0 */
    int sent_handshake;
    char dead_reason[128];

    struct wire_handshake hs;
    struct wire_limits lim; /* the torrent's, with what was negotiated */
    int fast;
    int extended;
    struct ext_handshake ext;

    int am_choking, am_interested, peer_choking, peer_interested;
    int optimistic;
    struct bitfield has;
    int has_all;
    int bitfield_seen; /* a bitfield/have_all/have_none came (only first) */

    struct peer_req *reqs; /* our outstanding requests */
    size_t nreqs, capreqs;
    struct peer_upreq *upq; /* its requests waiting for upload */
    size_t nupq, capupq;
    uint32_t allowed_fast[16]; /* pieces we let it fetch while choked */
    size_t nallowed_fast;

    struct rate down, up;
    uint64_t downloaded, uploaded;
    uint64_t connected_ms, last_recv_ms, last_send_ms, last_block_ms;
    uint64_t last_unchoked_ms;
    int snubbed;
    uint32_t strikes;
};

/* Creates a connection object for an accepted socket (t == NULL) or an
 * outgoing connect to sa for torrent t. Returns NULL on failure. */
struct peer *peer_new(struct shoal_session *ss, struct torrent *t, evutil_socket_t fd,
                      const struct sockaddr *sa, socklen_t salen, int incoming);
/* Starts the outgoing connect (after peer_new with incoming = 0). */
int peer_connect(struct peer *p);
/* Marks the peer dead with a reason and closes its socket; freed later by
 * peer_reap() once no disk job refers to it. */
void peer_close(struct peer *p, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Frees a dead peer with no pending I/O. */
void peer_free(struct peer *p);

void peer_send_have(struct peer *p, uint32_t piece);
void peer_set_choke(struct peer *p, int choke);
void peer_update_interest(struct peer *p);
/* Tops up the request pipeline from the picker. */
void peer_fill_requests(struct peer *p);
/* Sends cancels for a block others delivered first (endgame). */
void peer_cancel_block(struct peer *p, uint32_t piece, uint32_t begin, uint32_t length);
/* Once a second: timeouts, keep-alives, snub detection. */
void peer_tick(struct peer *p, uint64_t now_ms);
/* Starts disk reads for queued upload requests, within the send budget. */
void peer_pump_uploads(struct peer *p);

/* ------------------------------------------------------------------ torrents */

struct torrent {
    struct shoal_session *ss;
    struct torrent *next;
    shoal_metainfo *m;
    struct storage *st;
    struct picker *picker;
    struct smartban *sb;
    char *save_dir;
    char *resume_path;
    struct wire_limits lim;
    enum shoal_torrent_state state;
    char error[256];
    int seed_only;
    int finished_sent;

    struct peer *peers;
    int npeers;
    uint8_t *wanted; /* per piece: 1 when selected for download */
    uint64_t total_wanted;

    struct rate down, up;
    uint64_t downloaded, uploaded;               /* payload bytes, this run */
    uint64_t downloaded_before, uploaded_before; /* earlier runs, from resume */
    uint32_t hash_failures;
    uint32_t nbanned;
    struct sockaddr_storage *banned;
    size_t capbanned;
    uint8_t *io_failed; /* per piece: a write of it failed */
    int dying;
    uint64_t state_since_ms;

    /* Addresses to keep connected (from --peer, later trackers and DHT). */
    struct known_peer {
        struct sockaddr_storage sa;
        uint64_t next_try_ms;
        int fails;
    } * known;
    size_t nknown, capknown;

    /* Trackers: the announcer decides, tracker_client.c sends. */
    struct announcer announcer;
    struct tracker_xfer announce_x, scrape_x[ANNOUNCER_MAX_SCRAPES];
    uint32_t tracker_key;

    int pending_hashes;
    int pending_writes;
    uint64_t last_choke_ms;
    uint64_t last_optimistic_ms;
    uint64_t last_resume_ms;
    uint64_t last_file_check_ms;
    int resume_dirty;
    int resume_syncing;
    uint64_t rng;
};

/* Creates a torrent and checks its data. Takes ownership of m on success. */
int torrent_new(struct shoal_session *ss, shoal_metainfo *m,
                const struct shoal_torrent_opts *opts, struct torrent **out,
                struct shoal_perr *err);
/* Remembers an address to keep connected; dialed from torrent_tick(). */
int torrent_add_known(struct torrent *t, const struct sockaddr *sa, socklen_t len);
/* Dials the known addresses that are due now, without waiting for a tick. */
void torrent_dial_now(struct torrent *t, uint64_t now);

/* Called from peer.c: */
void torrent_on_block(struct torrent *t, struct peer *p, uint32_t piece, uint32_t begin,
                      const uint8_t *data, size_t len);
int torrent_is_banned(const struct torrent *t, const struct sockaddr *sa);
void torrent_peer_attached(struct torrent *t, struct peer *p);
/* A peer said it is interested: unchoke at once when a slot is free. */
void torrent_peer_interested(struct torrent *t, struct peer *p);
void torrent_peer_detached(struct torrent *t, struct peer *p);
/* Once a second from the session. */
void torrent_tick(struct torrent *t, uint64_t now_ms);
void torrent_free(struct torrent *t);
int torrent_is_done(const struct torrent *t);

/* ------------------------------------------------------------------ session */

struct shoal_session {
    struct event_base *base;
    struct shoal_settings cfg;
    int local_only;
    struct evconnlistener *lis4, *lis6;
    int port;
    uint8_t peer_id[20];
    struct disk *disk;
    struct event *disk_ev;
    struct event *tick_ev;
    struct event *stop_ev;
    int stop_fd; /* eventfd: shoal_session_stop() writes, the loop wakes */
    struct bufferevent_rate_limit_group *rl;
    void *curlm; /* CURLM */
    struct event *curl_timer;
    int curl_inited;
    int udp4, udp6; /* UDP sockets for trackers (and later the DHT) */
    struct event *udp4_ev, *udp6_ev;
    struct tracker_udp_conn udp_conns[TRACKER_UDP_CONN_CACHE];
    struct evdns_base *dns; /* made on the first look-up of a tracker name */
    int dns_jobs;           /* look-ups not yet reported, cancelled ones too */
    struct torrent *torrents;
    struct peer *halfopen; /* accepted, handshake not read yet */
    int npeers;
    uint64_t next_peer_id;
    shoal_event_cb cb;
    void *cb_user;
    int exit_when_done;
    uint64_t rng;
};

uint64_t session_now_ms(const struct shoal_session *ss);
uint64_t session_random(struct shoal_session *ss);
/* Emits an event to the user's callback (if any). */
void session_emit(struct shoal_session *ss, enum shoal_event_type type, struct torrent *t,
                  const struct peer *p, uint32_t piece, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));
/* Logs a line (as an SHOAL_EV_LOG event, and to stderr when verbose). */
void session_log(struct shoal_session *ss, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Finds the torrent for an infohash, or NULL. */
struct torrent *session_find_torrent(struct shoal_session *ss, const uint8_t ih[20]);
/* Opens an outgoing connection for t (checked against local-only mode). */
int session_dial(struct shoal_session *ss, struct torrent *t, const struct sockaddr *sa);
/* Moves a half-open incoming peer into its torrent. */
void session_adopt_peer(struct shoal_session *ss, struct peer *p, struct torrent *t);

#endif
