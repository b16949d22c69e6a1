/*
 * banlist.h — the addresses a session refuses to talk to. Engine layer,
 * pure: no I/O; the time comes in as `now` (milliseconds, monotonic).
 *
 * A ban names a host, not a connection: an IPv4 address (an IPv4-mapped
 * IPv6 address counts as the IPv4 address it carries), or an IPv6 /64, the
 * block one host is usually given, so a peer cannot dodge a ban with a new
 * source port or the next address of its own prefix.
 *
 * A shared address (admission_addr_shared(): 127.0.0.1, ::1) is every local
 * client's, so a ban there names one peer instead: its endpoint (address and
 * port) and, once its handshake is known, its 20-byte peer id, which a
 * poisoner coming back from a new source port still carries. The same rule
 * ("one identity") serves trust that is earned per host. A ban lasts
 * BANLIST_TTL_MS; the list holds at most BANLIST_MAX bans, and a new ban
 * past that evicts the oldest.
 */
#ifndef SHOAL_BANLIST_H
#define SHOAL_BANLIST_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/* How long a ban lasts: long enough that a poisoner gives up, short enough
 * that an address passed on to an honest host (DHCP, CGNAT) comes back. */
#define BANLIST_TTL_MS (60u * 60 * 1000)
/* Bans kept at most; the oldest goes first. */
#define BANLIST_MAX 1024

struct banlist;

/* What a ban covers. */
enum ban_kind {
    BAN_HOST_V4 = 1, /* bytes: the IPv4 address */
    BAN_HOST_V6,     /* bytes: the first 8 bytes, a /64 */
    BAN_ENDPOINT,    /* bytes: the 16-byte address (IPv4 in the first 4), port */
    BAN_PEER_ID,     /* bytes: the peer id */
};

struct ban_key {
    uint8_t kind; /* enum ban_kind */
    uint8_t bytes[20];
};

/* Fills *key for sa: its host, or its endpoint for a shared address.
 * Returns 0, or SHOAL_EINVAL for a family other than IPv4 and IPv6 (such
 * an address is never banned). */
int banlist_key(const struct sockaddr *sa, struct ban_key *key);

/* 1 when a and b fall under one address ban (same IPv4 address, same IPv6
 * /64; same endpoint on a shared address). */
int banlist_same_host(const struct sockaddr *a, const struct sockaddr *b);

/*
 * 1 when two connections are one identity: the same host; on a shared
 * address, the same endpoint or the same peer id. An id is the 20-byte peer
 * id of a handshake, or NULL before it.
 */
int banlist_same_peer(const struct sockaddr *a, const uint8_t *id_a,
                      const struct sockaddr *b, const uint8_t *id_b);

/* An empty list, or NULL when out of memory. */
struct banlist *banlist_new(void);
void banlist_free(struct banlist *bl);

/* Bans sa's host from now until now + BANLIST_TTL_MS; a host banned already
 * gets its time renewed. Returns 1 for a new ban, 0 for a renewed one,
 * SHOAL_EINVAL for an address that cannot be banned. */
int banlist_add(struct banlist *bl, const struct sockaddr *sa, uint64_t now);

/* Lifts the ban on sa's host, if any. */
void banlist_del(struct banlist *bl, const struct sockaddr *sa);

/* 1 when sa's host is banned at now. */
int banlist_has(const struct banlist *bl, const struct sockaddr *sa, uint64_t now);

/* Bans a peer: banlist_add(sa), and on a shared address its peer id too
 * when id is not NULL. Returns what banlist_add() returned. */
int banlist_add_peer(struct banlist *bl, const struct sockaddr *sa, const uint8_t *id,
                     uint64_t now);

/* Lifts both bans banlist_add_peer() puts. */
void banlist_del_peer(struct banlist *bl, const struct sockaddr *sa, const uint8_t *id);

/* 1 when sa's host (endpoint) is banned at now, or sa is a shared address
 * and id is not NULL and banned. */
int banlist_has_peer(const struct banlist *bl, const struct sockaddr *sa,
                     const uint8_t *id, uint64_t now);

/* Bans in force at now. */
size_t banlist_count(const struct banlist *bl, uint64_t now);

#endif
