/*
 * admission.h — which connection gives way when a connection table is full.
 * Engine layer, pure policy: the session hands in a snapshot of the
 * connections of one table and the time, and gets back the one to close to
 * make room for a newcomer, or none (the newcomer is refused). No sockets,
 * no clock, no allocation.
 *
 * Two tables, two rules:
 *   - Half-open connections (accepted, no handshake yet) are worth nothing
 *     until they speak, so when the table is full the oldest one gives way:
 *     the oldest of the newcomer's own address when that address holds its
 *     share already, else the oldest of the address that holds the most.
 *     A connection younger than ADMISSION_HALFOPEN_GRACE_MS is picked only
 *     when the whole table is that young (a flood faster than the grace):
 *     refusing then would lock out every newcomer, and the oldest has had
 *     the longest to finish its handshake. An address over its own share
 *     never pushes out its young ones.
 *   - Established peers give way only when they trade nothing: connected
 *     for at least ADMISSION_MIN_AGE_MS (time to say what it wants), and no
 *     payload either way for ADMISSION_IDLE_MS (or ever). Interest alone
 *     buys no slot, or a peer that says "interested" and then only sends
 *     keep-alives would hold one for good; it only ranks: peers interested
 *     neither way go first, then the one idle longest. A peer that trades
 *     data is never picked, so a full table of idle peers cannot lock out a
 *     working one, and a working table is not disturbed by newcomers.
 */
#ifndef SHOAL_ADMISSION_H
#define SHOAL_ADMISSION_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/* A half-open connection this young is never pushed out: an honest peer's
 * handshake follows its connect by half a round trip. */
#define ADMISSION_HALFOPEN_GRACE_MS 500
/* An established peer connected more recently than this is never pushed
 * out: it has had no time yet to send interested or its first request. */
#define ADMISSION_MIN_AGE_MS 5000
/* No payload for this long (and none ever, for a newer peer) counts as "no
 * data exchanged". */
#define ADMISSION_IDLE_MS 60000

/* What the policy knows of one connection. */
struct admission_conn {
    uint64_t key;             /* admission_addr_key() of its address */
    uint64_t since_ms;        /* accepted (half-open) or handshake done (established) */
    uint64_t last_payload_ms; /* last block sent or received; 0: never */
    int interested;           /* we or it is interested */
    int active;               /* established and alive; others are never picked */
};

/*
 * The key connections are counted under per address: the IPv4 address (an
 * IPv4-mapped IPv6 address counts as IPv4), or the /64 prefix of an IPv6
 * address, where one host usually holds the whole prefix. Distinct for
 * IPv4 and IPv6 unicast. 0 for another family.
 */
uint64_t admission_addr_key(const struct sockaddr *sa);
/*
 * 1 for 127.0.0.1 and ::1, the addresses every local client connects from:
 * a swarm of local clients shares one of them, so per-address limits do not
 * apply there (the table-wide limits and eviction still do). Other loopback
 * addresses (127.0.0.2 ...) count as distinct hosts.
 */
int admission_addr_shared(const struct sockaddr *sa);
/*
 * The half-open connection of c[0..n) to close for a newcomer at now: when
 * key is not NULL, the oldest of that address; else the oldest of the
 * address with the most connections (ties: the address whose oldest is
 * oldest). Only connections at least ADMISSION_HALFOPEN_GRACE_MS old count,
 * except that without key, when none is, the oldest of all goes. Returns
 * its index, or -1 when none may go. Reads since_ms and key.
 */
long admission_halfopen_victim(const struct admission_conn *c, size_t n,
                               const uint64_t *key, uint64_t now);
/* 1 when established connection c may be closed for a newcomer at now
 * (see the rules above). */
int admission_idle_candidate(const struct admission_conn *c, uint64_t now);
/* 1 when candidate a should go before candidate b: interested neither way
 * while b is, else idle longer (since its last payload, or since it
 * connected), ties to the older one. */
int admission_idle_before(const struct admission_conn *a, const struct admission_conn *b);
/* The candidate of c[0..n) to close for a newcomer at now, or -1. */
long admission_idle_victim(const struct admission_conn *c, size_t n, uint64_t now);

#endif
