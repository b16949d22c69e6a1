/*
 * hooks.h — the way a module that finds peers or learns about torrents
 * reports to the session without knowing it: a struct of callbacks and a
 * context. Session layer.
 *
 * The tracker client hands the peers of each reply up through on_peers;
 * the DHT node, local service discovery (BEP 14), peer exchange (BEP 11)
 * and ut_metadata (BEP 9) attach the same way: each is given a
 * `const struct hooks *` when it is made and calls up through it, never
 * through session.h or torrent.h, so that it can be built and tested with
 * hooks of a test's own (a fake clock, a recording on_peers).
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

struct shoal_session;

struct hooks {
    void *ctx; /* passed to every callback */
    /*
     * Peers found for the torrent whose infohash is ih: n addresses, each
     * a sockaddr_in or sockaddr_in6 with its port. The session's answer:
     * addresses the local-only guard refuses and our own listening address
     * are skipped, the rest join the torrent's known peers and are dialed
     * when a slot is free; an infohash the session does not have is
     * ignored. Safe to call with n == 0.
     */
    void (*on_peers)(void *ctx, const uint8_t ih[20],
                     const struct sockaddr_storage *peers, size_t n);
    /* The loop's clock: monotonic milliseconds. */
    uint64_t (*now_ms)(void *ctx);
    /* 64 random bits, for transaction ids and tie-breaks (nothing secret). */
    uint64_t (*rand64)(void *ctx);
    /* One line for the log (an SHOAL_EV_LOG event, and stderr when verbose). */
    void (*log)(void *ctx, const char *msg);
};

/* Fills h with the session's implementation, ctx = ss. The session keeps
 * one in ss->hooks and hands modules a pointer to it. */
void hooks_init(struct hooks *h, struct shoal_session *ss);

#endif
