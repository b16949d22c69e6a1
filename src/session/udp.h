/*
 * udp.h — a session's UDP sockets (one per address family) and the
 * demultiplexer that hands each datagram to the module it is for: the DHT
 * (BEP 5), the UDP tracker client (BEP 15) or uTP (BEP 29). Session layer:
 * the mux owns the sockets and their read events; the modules only register
 * a handler and call udp_send().
 *
 * All of it runs on the session's loop thread.
 */
#ifndef SHOAL_UDP_H
#define SHOAL_UDP_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

struct event_base;
struct udp_mux;

/* Where a datagram goes. UDP_JUNK is for datagrams no module can take:
 * they are counted and dropped. */
enum udp_kind {
    UDP_DHT,     /* a bencoded dictionary: KRPC (BEP 5) */
    UDP_TRACKER, /* a reply from a UDP tracker (BEP 15) */
    UDP_UTP,     /* a uTP packet (BEP 29) */
    UDP_JUNK,
};

/* Handler slots: one per kind a module can take. */
#define UDP_NKINDS UDP_JUNK

/*
 * A module's receiver. on_datagram gets one datagram of the kind it was
 * registered for; p and from are borrowed until it returns. It returns 0
 * when the datagram was its own, or a negative SHOAL_E* when it was not
 * (stray, stale or malformed), which the mux counts as refused. It may call
 * udp_send() and udp_mux_set_handler(), but must not free the mux.
 */
struct udp_handler {
    int (*on_datagram)(void *ctx, const uint8_t *p, size_t n, const struct sockaddr *from,
                       socklen_t fromlen);
    void *ctx;
};

/* Counts since the mux was made, for tests and statistics. */
struct udp_stats {
    uint64_t received[UDP_JUNK + 1]; /* datagrams by kind, junk included */
    uint64_t unhandled;              /* of a kind whose slot is empty: dropped */
    uint64_t refused;                /* a handler said not its own */
};

/*
 * Decides where a datagram goes from its bytes alone. The three shapes
 * cannot be mistaken for one another:
 *  - DHT: first byte 'd' and last byte 'e' (a KRPC message is one bencoded
 *    dictionary, BEP 5);
 *  - tracker: at least 8 bytes (action and transaction id) and an action of
 *    0..3 in the first 4 bytes, big-endian, so the first byte is 0 (BEP 15);
 *    also 0x03000000, the error action of older opentracker releases in
 *    little-endian order;
 *  - uTP: at least the 20-byte header, version 1 in the low nibble of the
 *    first byte and a type 0..4 in the high nibble (BEP 29): the first byte
 *    is 0x01, 0x11, 0x21, 0x31 or 0x41, never 0, 3 or 'd';
 *  - anything else is UDP_JUNK.
 * Pure: no state, no I/O.
 */
enum udp_kind udp_classify(const uint8_t *p, size_t n);

/*
 * Opens the session's UDP sockets, IPv4 and IPv6, bound to port (0: any)
 * on every address, or on loopback only when local_only is set; a port in
 * use falls back to one the system picks. With port 0 the IPv6 socket
 * takes the number the IPv4 one got, when it is free. A family the host lacks is left
 * out. Keeps base, which must outlive the mux. Returns 0 and *out, or
 * SHOAL_ENOMEM.
 */
int udp_mux_new(struct event_base *base, int local_only, int port, struct udp_mux **out);
/* A mux with one socket, bound to addr (of either family; port 0: any),
 * for programs that run many nodes on their own addresses (tests/sim puts
 * each on a 127.x.y.z of its own). Returns 0 and *out, -errno when the
 * address cannot be bound, SHOAL_EINVAL, or SHOAL_ENOMEM. */
int udp_mux_new_at(struct event_base *base, int local_only, const struct sockaddr *addr,
                   struct udp_mux **out);
/* Closes the sockets and frees the mux; NULL does nothing. */
void udp_mux_free(struct udp_mux *u);

/* Puts h in the slot of kind (h is copied), or empties the slot when h is
 * NULL; a datagram of a kind with an empty slot is dropped and counted. */
void udp_mux_set_handler(struct udp_mux *u, enum udp_kind kind,
                         const struct udp_handler *h);

/*
 * Sends one datagram to `to` from the socket of its family. Returns 0,
 * SHOAL_ELOCALONLY when the local-only guard refuses the address,
 * SHOAL_EINVAL when the mux has no socket of that family, or -errno when
 * the system refuses (-EAGAIN when the send buffer is full: the datagram is
 * lost, as UDP allows).
 */
int udp_send(struct udp_mux *u, const void *buf, size_t len, const struct sockaddr *to,
             socklen_t tolen);

/* 1 when the mux has a socket of family (AF_INET or AF_INET6). */
int udp_has_family(const struct udp_mux *u, int family);
/* The port the socket of family is bound to, or 0 without one. */
int udp_port(const struct udp_mux *u, int family);
/* Copies the counts into *out. */
void udp_mux_stats(const struct udp_mux *u, struct udp_stats *out);

#endif
