/*
 * pex_diff.h — the decisions of peer exchange (BEP 11), without I/O: what
 * the next message to one peer says, given what that peer was told before
 * and who we are connected to now; and which received addresses are worth
 * dialing. Engine layer: pure, no socket, no clock.
 */
#ifndef SHOAL_PEX_DIFF_H
#define SHOAL_PEX_DIFF_H

#include <stddef.h>
#include <stdint.h>

#include "codec/ut_pex.h"

/* Addresses remembered as told to one peer, at most: more than any torrent
 * keeps connected, so the set only stops growing for a hostile caller. */
#define PEX_MAX_SENT 1000

/* What one peer has been told: the addresses sent as added and not since
 * sent as dropped. */
struct pex_sent {
    struct ut_pex_peer *v;
    size_t n, cap;
};

void pex_sent_init(struct pex_sent *s);
void pex_sent_cleanup(struct pex_sent *s);

/*
 * The next message to a peer told *s so far, when cur[0..ncur) are the
 * addresses to tell it about now: added[] (at most max_added) are in cur
 * and not in s, in cur's order; dropped[] (at most max_dropped) are in s
 * and not in cur. Entries past the limits wait for a later message. *s is
 * updated as if the message were sent (added ones joined, dropped ones
 * left). An entry of cur that would take the set past PEX_MAX_SENT is not
 * added. Returns the number of entries in the message (added + dropped),
 * or SHOAL_ENOMEM, leaving *s as it was.
 */
int pex_diff(struct pex_sent *s, const struct ut_pex_peer *cur, size_t ncur,
             struct ut_pex_peer *added, size_t max_added, size_t *nadded,
             struct ut_pex_peer *dropped, size_t max_dropped, size_t *ndropped);

/*
 * 1 when a received entry is worth dialing, else 0. Refused: port 0;
 * unspecified (0.0.0.0/8, ::), multicast (224.0.0.0/4, ff00::/8), the IPv4
 * broadcast and reserved block (240.0.0.0/4); loopback (127.0.0.0/8, ::1)
 * unless the sender itself is on loopback (sender_loopback), since a
 * remote peer cannot know what listens on ours; and any of self[0..nself),
 * our own addresses with our listening port. An IPv4-mapped IPv6 address
 * is judged as the IPv4 address it carries.
 */
int pex_acceptable(const struct ut_pex_peer *e, int sender_loopback,
                   const struct ut_pex_peer *self, size_t nself);

#endif
