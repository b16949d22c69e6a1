/*
 * hooks.h — the way a module that finds peers or learns about torrents
 * reports to the session without knowing it: a struct of callbacks and a
 * context. Session layer.
 *
 * The tracker client hands the peers of each reply up through on_peers
 * and its status lines through emit; the DHT node, local service discovery
 * (BEP 14), peer exchange (BEP 11) and ut_metadata (BEP 9) attach the same
 * way: each is given a
 * `const struct hooks *` when it is made and calls up through it, never
 * through session.h or torrent.h, so that it can be built and tested with
 * hooks of a test's own (a fake clock, a recording on_peers).
 *
 * ut_metadata (BEP 9) will need more than peers: the extension messages
 * of a connection and a place to hand finished metadata. A callback for
 * those is added with it, not before, so that no hook here lacks a caller.
 *
 * Every callback runs on the loop thread, synchronously; arguments are
 * borrowed until it returns. None of them may be called from a thread
 * other than the loop's.
 */
#ifndef SHOAL_HOOKS_H
#define SHOAL_HOOKS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "shoal.h"

struct shoal_session;

/* Where a batch of peers came from. BEP 27: a private torrent takes peers
 * only from its trackers (and from its user), so the session must know. */
enum peer_source {
    PEER_SOURCE_TRACKER, /* an announce reply (BEP 3, BEP 15) */
    PEER_SOURCE_DHT,     /* a get_peers lookup (BEP 5) */
    PEER_SOURCE_PEX,     /* a peer's ut_pex message (BEP 11) */
    PEER_SOURCE_LSD,     /* a local discovery announce (BEP 14) */
    PEER_SOURCE_USER,    /* named by the user (--peer, the API) */
};

struct hooks {
    void *ctx; /* passed to every callback */
    /*
     * Peers found by src for the torrent whose infohash is ih: n
     * addresses, each a sockaddr_in or sockaddr_in6 with its port. The
     * session's answer: a private torrent (BEP 27) drops them all unless
     * src is PEER_SOURCE_TRACKER or PEER_SOURCE_USER; addresses the
     * local-only guard refuses and our own listening address are skipped;
     * the rest join the torrent's known peers and are dialed when a slot
     * is free; an infohash the session does not have is ignored. Safe to
     * call with n == 0.
     */
    void (*on_peers)(void *ctx, const uint8_t ih[20], enum peer_source src,
                     const struct sockaddr_storage *peers, size_t n);
    /* The loop's clock: monotonic milliseconds. */
    uint64_t (*now_ms)(void *ctx);
    /* 64 random bits, for transaction ids and tie-breaks (nothing secret). */
    uint64_t (*rand64)(void *ctx);
    /* One line for the log (an SHOAL_EV_LOG event, and stderr when verbose). */
    void (*log)(void *ctx, const char *msg);
    /*
     * An event of type (SHOAL_EV_LOG or SHOAL_EV_WARNING) about the torrent
     * whose infohash is ih, with msg as its text, for the user's callback
     * (and stderr when verbose): a tracker's status, say. An infohash the
     * session does not have makes it an event of the session.
     */
    void (*emit)(void *ctx, const uint8_t ih[20], enum shoal_event_type type,
                 const char *msg);
};

/* Fills h with the session's implementation, ctx = ss. The session keeps
 * one in ss->hooks and hands modules a pointer to it. */
void hooks_init(struct hooks *h, struct shoal_session *ss);

#endif
