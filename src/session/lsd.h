/*
 * lsd.h — local service discovery (BEP 14): announces the infohashes of
 * our public torrents by multicast on the local network and takes peers
 * from the announces of others. Session layer, loop thread only.
 *
 * It owns its UDP sockets (one per address family, bound to the group's
 * port and joined to the group on the default interface) and a timer on
 * the session's loop; it reports peers through hooks->on_peers as
 * PEER_SOURCE_LSD. The session makes one only when LSD is on and the
 * session is not in local-only mode: multicast leaves loopback.
 */
#ifndef SHOAL_LSD_H
#define SHOAL_LSD_H

#include <stdint.h>

#include "session/hooks.h"

struct event_base;

#define LSD_DEFAULT_GROUP4 "239.192.152.143"
#define LSD_DEFAULT_GROUP6 "ff15::efc0:988f"
#define LSD_DEFAULT_PORT   6771
/* Every torrent is announced this often (BEP 14 suggests 5 minutes), and
 * once soon after it is added. */
#define LSD_INTERVAL_MS (5 * 60 * 1000)
/* Torrents announced, at most: a message carries about 25, and a session
 * with more than this many is not served better by multicasting them all. */
#define LSD_MAX_TORRENTS 1024
/* Announces read from one sender in a minute, at most; the rest are
 * dropped unread. An honest node sends a few every five minutes. */
#define LSD_MAX_PER_SENDER_MIN 20
/* Senders whose counts are kept; a full table forgets the oldest. */
#define LSD_MAX_SENDERS 64

struct lsd_cfg {
    const char *group4;   /* NULL: LSD_DEFAULT_GROUP4 */
    const char *group6;   /* NULL: LSD_DEFAULT_GROUP6 */
    uint16_t port;        /* 0: LSD_DEFAULT_PORT */
    uint16_t listen_port; /* our TCP port, which the announces carry */
};

struct lsd;

/*
 * Opens the sockets, joins the groups and starts the timer on base. Keeps
 * a reference to base and h. A family whose socket cannot be made or
 * joined (no IPv6, no route to the group) is left out; when neither works
 * returns the error of the IPv4 one (-errno or SHOAL_EINVAL for a group
 * that is not a multicast address) and *out stays NULL.
 */
int lsd_new(struct event_base *base, const struct hooks *h, const struct lsd_cfg *cfg,
            struct lsd **out);
/* Closes the sockets and frees it; NULL does nothing. */
void lsd_free(struct lsd *l);
/*
 * Adds a torrent to announce and announces it within a second (with any
 * others added meanwhile). Only announces for added infohashes are taken
 * from the network. The caller leaves private torrents out (BEP 27).
 * Returns 0, or SHOAL_ETOOBIG past LSD_MAX_TORRENTS.
 */
int lsd_add(struct lsd *l, const uint8_t ih[20]);
/* Stops announcing ih (and hearing announces for it): a torrent that
 * turned out private once its metadata came, say. Unknown ih or a NULL l
 * does nothing. */
void lsd_remove(struct lsd *l, const uint8_t ih[20]);

#endif
