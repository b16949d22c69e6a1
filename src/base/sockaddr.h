/*
 * sockaddr.h — IPv4 and IPv6 socket addresses: compare, measure, read and
 * set the port, format as text, and parse "host:port" / "[v6]:port".
 * Base layer: pure functions, no I/O, no name look-ups.
 *
 * Every function here knows AF_INET and AF_INET6 only; any other family is
 * "not an address" (unequal to everything, no port, length 0).
 */
#ifndef SHOAL_SOCKADDR_H
#define SHOAL_SOCKADDR_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/* Room for the longest text sockaddr_format writes: "[" + an IPv6 address
 * (45 characters with an embedded IPv4) + "]:65535" and the NUL. */
#define SOCKADDR_TEXT_MAX 64

/* Room for any host sockaddr_split_hostport returns: a DNS name is at most
 * 253 characters. */
#define SOCKADDR_HOST_MAX 256

/* sockaddr_split_hostport flag: accept port 0 ("any free port"), for the
 * addresses a server binds to. Without it the port must be 1..65535. */
#define SOCKADDR_ANY_PORT 0x1u

/* sizeof(struct sockaddr_in) or sizeof(struct sockaddr_in6) for AF_INET or
 * AF_INET6; 0 for any other family. */
socklen_t sockaddr_len(int family);

/* 1 when a and b are the same IP address (ports ignored), else 0. IPv6 flow
 * information and scope ids are ignored; an IPv4 address and its
 * IPv4-mapped IPv6 form are different addresses here. */
int sockaddr_same_host(const struct sockaddr *a, const struct sockaddr *b);

/* 1 when a and b are the same IP address and the same port, else 0. */
int sockaddr_same_endpoint(const struct sockaddr *a, const struct sockaddr *b);

/* The port in host byte order; 0 for an unknown family. */
uint16_t sockaddr_port(const struct sockaddr *sa);

/* Sets the port (given in host byte order); does nothing for an unknown
 * family. */
void sockaddr_set_port(struct sockaddr *sa, uint16_t port);

/* Writes "1.2.3.4:5" or "[::1]:5" and a NUL into out[0..len), cut short to
 * fit; "(unknown address family N)" for anything else. SOCKADDR_TEXT_MAX
 * bytes always suffice. */
void sockaddr_format(const struct sockaddr *sa, char *out, size_t len);

/*
 * Splits "host:port" or "[ipv6]:port" into the host (brackets removed, NUL
 * terminated, into host[0..hostlen)) and the port. The host is not looked up
 * or checked: it may be a name or an address. A host with a ':' in it must
 * be bracketed, so "a:b:c" and a bare "::1:80" are refused as ambiguous.
 * The port is decimal without sign or leading zeros, 1..65535 (0 too with
 * SOCKADDR_ANY_PORT). Returns 0, or SHOAL_EINVAL for a malformed string or
 * a host that does not fit; then host and *port are unspecified.
 */
int sockaddr_split_hostport(const char *s, unsigned flags, char *host, size_t hostlen,
                            uint16_t *port);

/*
 * Fills *out with a numeric IPv4 or IPv6 address (no name look-up) and a port
 * in host byte order, zeroing the rest; *len (may be NULL) receives its
 * length. Returns 0, or SHOAL_EINVAL when ip is not an address literal.
 */
int sockaddr_from_ip(const char *ip, uint16_t port, struct sockaddr_storage *out,
                     socklen_t *len);

/*
 * Fills *out from an address in network byte order as peers and trackers
 * send it (iplen 4 for IPv4, 16 for IPv6) and a port in host byte order;
 * *len (may be NULL) receives its length. Returns 0, or SHOAL_EINVAL for
 * any other iplen.
 */
int sockaddr_from_bytes(const uint8_t *ip, size_t iplen, uint16_t port,
                        struct sockaddr_storage *out, socklen_t *len);

/* sockaddr_ip_bytes flag: an IPv4-mapped IPv6 address (::ffff:a.b.c.d)
 * comes out as the IPv4 address it carries, so a dual-stack socket's view of
 * a client matches the same client over IPv4. */
#define SOCKADDR_UNMAP_V4 0x1u

/* Copies the address of sa in network byte order (as the wire carries it)
 * into out. Returns its length: 4, 16, or 0 for another family. */
size_t sockaddr_ip_bytes(const struct sockaddr *sa, unsigned flags, uint8_t out[16]);

/* The part of sa's address that names one host, for limits and bans: the
 * IPv4 address (an IPv4-mapped IPv6 address counts as IPv4), or the /64
 * prefix of an IPv6 address, since a host is usually given a whole /64 and
 * picks addresses in it freely. Writes it into out and returns its length:
 * 4, 8, or 0 for another family. */
size_t sockaddr_host_bytes(const struct sockaddr *sa, uint8_t out[16]);

/* The local port a bound socket got (getsockname), or 0 when it cannot be
 * read. */
uint16_t sockaddr_bound_port(int fd);

/* sockaddr_split_hostport() then sockaddr_from_ip(): "127.0.0.1:6969" or
 * "[::1]:6969" to a socket address. Names are refused (SHOAL_EINVAL). */
int sockaddr_parse(const char *s, unsigned flags, struct sockaddr_storage *out,
                   socklen_t *len);

#endif
