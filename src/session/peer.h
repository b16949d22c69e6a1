/*
 * peer.h — one peer connection: handshake, messages, request pipeline and
 * uploads. Session layer, loop thread only.
 */
#ifndef SHOAL_PEER_H
#define SHOAL_PEER_H

#include <stdint.h>
#include <sys/socket.h>

#include <event2/bufferevent.h>

#include "base/bitfield.h"
#include "base/rate.h"
#include "codec/ext.h"
#include "codec/wire.h"
#include "shoal.h"

struct shoal_session;
struct torrent;

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
};

/*
 * Creates a connection over transport bev, which nobody else may use after:
 * an incoming one (t == NULL; its handshake names the torrent) or an
 * outgoing one for t. An outgoing peer waits for the transport to report
 * BEV_EVENT_CONNECTED, then sends its handshake; start the transport
 * (transport_tcp_connect()) after this call, so the callbacks are in place.
 * Keeps a reference to ss and t. On success the peer owns bev; returns NULL
 * when out of memory, and bev is still the caller's.
 */
struct peer *peer_new(struct shoal_session *ss, struct torrent *t,
                      struct bufferevent *bev, const struct sockaddr *sa, socklen_t salen,
                      int incoming);
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

#endif
