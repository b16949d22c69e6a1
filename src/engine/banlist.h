/*
 * banlist.h — the addresses a session refuses to talk to. Engine layer,
 * pure: no I/O; the time comes in as `now` (milliseconds, monotonic).
 *
 * A ban names a host, not a connection: an IPv4 address (an IPv4-mapped
 * IPv6 address counts as the IPv4 address it carries), or an IPv6 /64, the
 * block one host is usually given, so a peer cannot dodge a ban with a new
 * source port or the next address of its own prefix. A ban lasts
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

/* The part of an address a ban covers: family (AF_INET or AF_INET6) and the
 * IPv4 address or the first 8 bytes of the IPv6 one. */
struct ban_key {
    uint8_t family;
    uint8_t bytes[8];
};

/* Fills *key for sa. Returns 0, or SHOAL_EINVAL for a family other than
 * IPv4 and IPv6 (such an address is never banned). */
int banlist_key(const struct sockaddr *sa, struct ban_key *key);

/* 1 when a and b fall under one ban (same IPv4 address, same IPv6 /64). */
int banlist_same_host(const struct sockaddr *a, const struct sockaddr *b);

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

/* Bans in force at now. */
size_t banlist_count(const struct banlist *bl, uint64_t now);

#endif
