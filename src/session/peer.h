/*
 * peer.h — one peer connection: handshake, messages, request pipeline and
 * uploads. Session layer, loop thread only.
 *
 * The module is two files. peer_wire.c is the protocol: it acts on parsed
 * handshakes and messages and on calls from the torrent, and writes what it
 * sends through peer_io_send(); it never touches the stream itself.
 * peer_io.c is the stream: it owns the transport (transport.h) the peer was
 * handed, frames and parses what arrives, and closes and frees the peer.
 */
#ifndef SHOAL_PEER_H
#define SHOAL_PEER_H

#include <stdint.h>
#include <sys/socket.h>

#include "base/bitfield.h"
#include "base/rate.h"
#include "codec/ext.h"
#include "codec/wire.h"
#include "shoal.h"

struct bufferevent;
struct shoal_session;
struct torrent;

/* A peer that sends nothing (not even keep-alives) for this long is dropped. */
#define PEER_IDLE_TIMEOUT_MS (180 * 1000)
/* From accept (or from the start of our connect) to a complete handshake, at
 * most: a whole deadline, not restarted by each byte, so a peer that trickles
 * its handshake holds a slot no longer than a silent one. libtorrent and
 * Transmission allow about as long. */
#define PEER_HANDSHAKE_TIMEOUT_MS (10 * 1000)
/* From the handshake to the first message other than a keep-alive, at most.
 * An honest client sends its bitfield, have-none or extension handshake in
 * the same burst as its handshake; 20 s is room for a slow link many times
 * over, and frees a slot held by a peer that only sends keep-alives in a
 * ninth of the idle timeout. */
#define PEER_FIRST_MESSAGE_MS (20 * 1000)
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
/* A peer on parole that rejected a block of its own piece is asked for
 * nothing for this long, so a peer that rejects everything costs one round
 * trip a second, not a busy loop. */
#define PEER_REJECT_HOLD_MS 1000

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
    struct torrent *t;       /* NULL until an incoming handshake names the torrent */
    struct peer *next;       /* in the torrent's (or session's half-open) list */
    struct bufferevent *bev; /* the transport; NULL once closed */
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
    int dht_port_heard; /* its PORT message (BEP 5) was taken: one per connection */
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
    uint64_t started_ms;     /* peer_new(): accepted, or our connect began */
    uint64_t active_ms;      /* the handshake completed (PEER_ACTIVE) */
    uint64_t first_msg_ms;   /* its first message but a keep-alive; 0: none yet */
    uint64_t last_upload_ms; /* we last sent it a block */
    uint64_t last_unchoked_ms;
    uint64_t hold_until_ms; /* ask it for nothing before then */
    uint32_t cancels_out;   /* cancels sent whose block or reject may still come */
    int snubbed;

    /* Before the torrent has metadata: what the peer said it has, kept
     * until the piece count is known and checked then (at most
     * SHOAL_MAX_PIECES bits). */
    uint8_t *early_bits;
    uint32_t early_len;          /* bytes of early_bits */
    uint32_t early_bitfield_len; /* a bitfield came: its length must match */
    uint32_t early_have_end;     /* one past the highest have index */
    int early_all;               /* have_all */
    /* Metadata pieces we served it in the current window (metadata.h). */
    uint32_t md_served;
    uint64_t md_window_ms;
};

/* ------------------------------------------------------------ peer_io.c */

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
/* Marks the peer dead with a reason, frees its transport and gives its
 * requests back to the picker; freed later by the session's reaper once no
 * disk job refers to it. A second close does nothing. */
void peer_close(struct peer *p, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Frees a dead peer with no pending I/O. NULL does nothing. */
void peer_free(struct peer *p);

/* For peer_wire.c: queues bytes on the transport (nothing once dead). */
void peer_io_send(struct peer *p, const void *data, size_t len);
/* For peer_wire.c: bytes queued on the transport and not yet written. */
size_t peer_io_queued(const struct peer *p);

/* ---------------------------------------------------------- peer_wire.c */

/* For peer_io.c: the transport is up; sends our handshake. */
void peer_wire_connected(struct peer *p);
/* For peer_io.c: acts on the handshake just read into p->hs. Adopts an
 * incoming peer into its torrent, answers with our handshake, extension
 * handshake and what we have, and makes the peer PEER_ACTIVE; or closes it
 * with the reason. */
void peer_wire_handshake(struct peer *p);
/* For peer_io.c: acts on one message parsed against p->lim (BEP 3, BEP 6,
 * BEP 10), received at now; may close the peer. m's slices are borrowed. */
void peer_wire_message(struct peer *p, const struct wire_msg *m, uint64_t now);

/* The torrent's metadata arrived: the peer gets the piece geometry, what
 * it said it has before is checked against it (a peer that claimed pieces
 * that do not exist is closed) and given to the picker, and it hears of
 * the pieces we already have. */
void peer_wire_metadata_arrived(struct peer *p);
/* Tells the peer we now have piece (BEP 3 have). */
void peer_send_have(struct peer *p, uint32_t piece);
/* Chokes or unchokes the peer when that changes its state. Choking drops
 * its queued requests: rejected one by one with the fast extension, silently
 * without it (BEP 6, BEP 3). Only for an active peer. */
void peer_set_choke(struct peer *p, int choke);
/* Sends interested or not interested when our interest changed: interested
 * while it has a wanted piece we lack. */
void peer_update_interest(struct peer *p);
/* Tops up the request pipeline from the picker: only while it unchokes us,
 * we are interested, the torrent downloads and the disk keeps up. */
void peer_fill_requests(struct peer *p);
/* Cancels (on the wire) our requests that the picker no longer lists as
 * outstanding with this peer: those a parole or a given-back piece took
 * back. */
void peer_sync_requests(struct peer *p);
/* Drops our request for a block others delivered first and sends a cancel
 * (endgame); nothing when we had not asked it for that block. */
void peer_cancel_block(struct peer *p, uint32_t piece, uint32_t begin, uint32_t length);
/* Once a second, at now_ms: the handshake and first-message deadlines, idle
 * timeout, keep-alives, snub detection. */
void peer_tick(struct peer *p, uint64_t now_ms);
/* Starts disk reads for queued upload requests while the data queued on the
 * transport and in flight from the disk stays under PEER_MAX_SEND_QUEUE. */
void peer_pump_uploads(struct peer *p);

#endif
