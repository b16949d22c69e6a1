/*
 * pex.h — peer exchange (BEP 11, ut_pex) for one torrent. Session layer,
 * loop thread only.
 *
 * Each peer that names ut_pex in its extension handshake gets, at most once
 * a minute, the peers we are connected to that it has not heard of from us
 * (at most 50) and the ones we told it of and lost since (at most 50). Peers
 * it tells us of are filtered, capped per message and per minute, and
 * handed up through hooks->on_peers as PEER_SOURCE_PEX. The torrent makes
 * one only when PEX is on and the torrent is public (BEP 27), so a torrent
 * without one neither advertises ut_pex nor reads it.
 */
#ifndef SHOAL_PEX_H
#define SHOAL_PEX_H

#include <stddef.h>
#include <stdint.h>

#include "session/hooks.h"

struct peer;
struct torrent;

/* BEP 11: no more than one message a minute to one peer. */
#define PEX_INTERVAL_MS (60 * 1000)
/* Received entries handed up from one message, at most: libtorrent's first
 * message lists up to 100 peers. */
#define PEX_MAX_TAKE_PER_MSG 100
/* And from one peer in one minute. */
#define PEX_MAX_TAKE_PER_MIN 200
/* Messages read from one peer in one minute; more are dropped unread (an
 * honest peer sends one; libtorrent tolerates bursts of six). */
#define PEX_MAX_MSGS_PER_MIN 6

struct pex;

/*
 * The peer exchange of the torrent whose infohash is ih, for a session
 * listening on listen_port (our own address in received lists is ignored).
 * Keeps a reference to h. Returns NULL when out of memory.
 */
struct pex *pex_new(const struct hooks *h, const uint8_t ih[20], uint16_t listen_port);
/* Frees it; NULL does nothing. */
void pex_free(struct pex *x);
/* Once a second from the torrent, at now: sends each active peer of t that
 * speaks ut_pex its message when one is due and has anything to say, and
 * forgets peers that left. */
void pex_tick(struct pex *x, struct torrent *t, uint64_t now);
/* A ut_pex message from p (the payload after the extended id), received
 * at now. Bad or excess messages are ignored (and logged); the peer stays
 * connected. */
void pex_on_message(struct pex *x, struct peer *p, const uint8_t *data, size_t len,
                    uint64_t now);

#endif
