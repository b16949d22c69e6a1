/*
 * dns.h — name look-ups on a session's event loop, through evdns. Session
 * layer: dns.c owns the evdns base (made on the first look-up, so that a
 * session that never meets a name never reads the resolver settings) and
 * every request in flight. Nothing here blocks the loop.
 *
 * In local-only mode no DNS query is ever sent: a name other than
 * "localhost" is refused before any look-up.
 *
 * All calls are made on the loop thread.
 */
#ifndef SHOAL_DNS_H
#define SHOAL_DNS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

struct event_base;
struct dns_resolver;
struct dns_lookup;

/* Addresses handed to a callback, at most. */
#define DNS_MAX_ADDRS 8

/*
 * How a look-up ended. rc is 0 with n >= 1 addresses (sockaddr_in or
 * sockaddr_in6 with the port filled in, in the resolver's order),
 * SHOAL_ECANCELED when dns_cancel() or dns_resolver_free() ended it, or
 * SHOAL_EINVAL when the name has no address, with why saying so in words
 * (a static string). addrs is borrowed until the callback returns. The
 * callback may start and cancel other look-ups, but must not free the
 * resolver.
 */
typedef void (*dns_done_cb)(void *arg, int rc, const struct sockaddr_storage *addrs,
                            size_t n, const char *why);

/* Makes a resolver on base, which it keeps and which must outlive it.
 * Returns 0 and *out, or SHOAL_ENOMEM. */
int dns_resolver_new(struct event_base *base, int local_only, struct dns_resolver **out);
/*
 * Cancels every look-up in flight (their callbacks run, with
 * SHOAL_ECANCELED, before this returns), lets evdns report the
 * cancellations by running a few rounds of the loop without waiting, and
 * frees the resolver. NULL does nothing.
 */
void dns_resolver_free(struct dns_resolver *r);

/*
 * Answers without a look-up when host is an IPv4 or IPv6 literal, or
 * "localhost" (RFC 6761: always loopback; ::1 when family is AF_INET6,
 * else 127.0.0.1). Fills *out with the address and port and returns 0, or
 * returns SHOAL_EINVAL when host is a name that needs a look-up. Pure.
 */
int dns_literal(const char *host, uint16_t port, int family,
                struct sockaddr_storage *out);

/*
 * Looks host up for addresses of family (AF_INET, AF_INET6 or AF_UNSPEC)
 * and socktype (SOCK_STREAM, SOCK_DGRAM), with port filled in. Returns 0
 * and, when out is not NULL, a handle valid until cb has run; cb then runs
 * exactly once, from the loop (never inside this call), even when the
 * answer is known at once. Literals and "localhost" are answered as
 * dns_literal() answers them, without any query ("localhost" for
 * AF_UNSPEC gives 127.0.0.1 then ::1). Returns SHOAL_ELOCALONLY for a name
 * refused by local-only mode, SHOAL_EINVAL for a name the resolver rejects
 * at once (malformed, known not to exist, or a literal of another family
 * than the one asked for), or SHOAL_ENOMEM; then cb never runs.
 */
int dns_lookup(struct dns_resolver *r, const char *host, uint16_t port, int family,
               int socktype, dns_done_cb cb, void *arg, struct dns_lookup **out);
/* Look-ups r has handed to evdns so far; answers known without a query
 * (literals, "localhost") do not count. */
uint64_t dns_resolver_queries(const struct dns_resolver *r);
/* Ends l now: its callback runs before this returns, with
 * SHOAL_ECANCELED. l is invalid afterwards. */
void dns_cancel(struct dns_lookup *l);

#endif
