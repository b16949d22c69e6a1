/*
 * udp.c — the session's UDP sockets and the demultiplexer in front of them.
 * Session layer: this file owns the sockets and their read events; the
 * DHT, the tracker client and uTP share them through handlers (udp.h) and
 * never see a file descriptor.
 *
 * One socket per address family serves every UDP protocol, as in
 * libtorrent and Transmission, so that the DHT, uTP and tracker replies all
 * use one port (the listening port, once uTP answers there). Each datagram is routed by
 * its first bytes (udp_classify()); the shapes of KRPC, BEP 15 replies and uTP headers
 * are disjoint, so the routing needs no state and no module is asked to guess. Sends pass
 * the local-only guard first.
 */
#include "session/udp.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "base/alloc.h"
#include "base/netguard.h"
#include "base/sockaddr.h"
#include "base/util.h"
#include "codec/tracker_udp.h"
#include "shoal.h"

/* Largest datagram read whole: a tracker may ignore numwant, and 16 KiB
 * holds 900 IPv6 peers (a longer one is cut, then refused by its parser). */
#define UDP_MAX_DATAGRAM 16384
/* Datagrams read per wake-up, so that a flood cannot hold the loop. */
#define UDP_READS_PER_WAKE 64
/* BEP 15: a reply starts with a 4-byte action and a 4-byte transaction id. */
#define UDP_TRACKER_MIN_LEN 8
/* BEP 29: the uTP header is 20 bytes; version 1; types ST_DATA..ST_SYN. */
#define UDP_UTP_HEADER_LEN 20
#define UDP_UTP_VERSION    1
#define UDP_UTP_MAX_TYPE   4

struct udp_sock {
    int fd; /* -1 when the family is missing */
    struct event *ev;
    struct udp_mux *u;
};

struct udp_mux {
    struct event_base *base;
    int local_only;
    struct udp_sock s4, s6;
    struct udp_handler h[UDP_NKINDS];
    struct udp_stats st;
};

enum udp_kind
udp_classify(const uint8_t *p, size_t n)
{
    if (n == 0)
        return UDP_JUNK;
    /* BEP 5: every KRPC message is a single bencoded dictionary. */
    if (n >= 2 && p[0] == 'd' && p[n - 1] == 'e')
        return UDP_DHT;
    if (n >= UDP_TRACKER_MIN_LEN) {
        uint32_t action = be32_get(p);
        if (action <= TRACKER_UDP_ERROR || action == TRACKER_UDP_ERROR_LE)
            return UDP_TRACKER;
    }
    if (n >= UDP_UTP_HEADER_LEN && (p[0] & 0x0f) == UDP_UTP_VERSION &&
        (p[0] >> 4) <= UDP_UTP_MAX_TYPE)
        return UDP_UTP;
    return UDP_JUNK;
}

static void
dispatch(struct udp_mux *u, const uint8_t *p, size_t n, const struct sockaddr *from,
         socklen_t fromlen)
{
    enum udp_kind k = udp_classify(p, n);
    u->st.received[k]++;
    if (k == UDP_JUNK)
        return;
    /* Copied: the handler may empty or refill its own slot. */
    struct udp_handler h = u->h[k];
    if (!h.on_datagram) {
        u->st.unhandled++;
        return;
    }
    if (h.on_datagram(h.ctx, p, n, from, fromlen) != 0)
        u->st.refused++;
}

static void
on_read(evutil_socket_t fd, short what, void *arg)
{
    (void)what;
    struct udp_sock *s = arg;
    uint8_t buf[UDP_MAX_DATAGRAM];
    /* Drain what is queued, but bounded per wake-up. */
    for (int i = 0; i < UDP_READS_PER_WAKE; i++) {
        struct sockaddr_storage from;
        socklen_t len = sizeof(from);
        memset(&from, 0, sizeof(from));
        ssize_t n = recvfrom(fd, buf, sizeof(buf), 0, (struct sockaddr *)&from, &len);
        if (n < 0)
            return;
        dispatch(s->u, buf, (size_t)n, (struct sockaddr *)&from, len);
    }
}

static int
bind_to(int fd, int family, int local_only, int port)
{
    struct sockaddr_storage sa;
    socklen_t len;
    if (family == AF_INET)
        sockaddr_from_ip(local_only ? "127.0.0.1" : "0.0.0.0", (uint16_t)port, &sa, &len);
    else
        sockaddr_from_ip(local_only ? "::1" : "::", (uint16_t)port, &sa, &len);
    return bind(fd, (struct sockaddr *)&sa, len);
}

/* Opens s for family; a family the host cannot give leaves s->fd at -1.
 * Returns SHOAL_ENOMEM only when the read event cannot be made. */
static int
sock_open(struct udp_mux *u, struct udp_sock *s, int family, int port)
{
    int rc = 0;
    s->u = u;
    s->fd = socket(family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (s->fd < 0)
        goto out;
    if (family == AF_INET6) {
        int one = 1;
        setsockopt(s->fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
    }
    /* The port asked for when it is unused, else any: the tracker client
     * works from any port, and the DHT tells peers its port (BEP 5). */
    if (bind_to(s->fd, family, u->local_only, port) != 0 &&
        (port == 0 || bind_to(s->fd, family, u->local_only, 0) != 0)) {
        close(s->fd);
        s->fd = -1;
        goto out;
    }
    s->ev = event_new(u->base, s->fd, EV_READ | EV_PERSIST, on_read, s);
    if (!s->ev) {
        rc = SHOAL_ENOMEM;
        goto out;
    }
    event_add(s->ev, NULL);
out:
    return rc;
}

static void
sock_close(struct udp_sock *s)
{
    if (s->ev)
        event_free(s->ev);
    s->ev = NULL;
    if (s->fd >= 0)
        close(s->fd);
    s->fd = -1;
}

int
udp_mux_new(struct event_base *base, int local_only, int port, struct udp_mux **out)
{
    *out = NULL;
    struct udp_mux *u = xcalloc(1, sizeof(*u));
    if (!u)
        return SHOAL_ENOMEM;
    u->base = base;
    u->local_only = local_only;
    u->s4.fd = u->s6.fd = -1;
    int rc = sock_open(u, &u->s4, AF_INET, port);
    /* Both families on one port number, the one IPv4 got when any would
     * do: the DHT tells others a single port (BEP 32). */
    if (!rc && port == 0 && u->s4.fd >= 0)
        port = sockaddr_bound_port(u->s4.fd);
    if (!rc)
        rc = sock_open(u, &u->s6, AF_INET6, port);
    if (rc) {
        udp_mux_free(u);
        return rc;
    }
    *out = u;
    return 0;
}

int
udp_mux_new_at(struct event_base *base, int local_only, const struct sockaddr *addr,
               struct udp_mux **out)
{
    *out = NULL;
    if (addr->sa_family != AF_INET && addr->sa_family != AF_INET6)
        return SHOAL_EINVAL;
    struct udp_mux *u = xcalloc(1, sizeof(*u));
    if (!u)
        return SHOAL_ENOMEM;
    u->base = base;
    u->local_only = local_only;
    u->s4.fd = u->s6.fd = -1;
    struct udp_sock *s = addr->sa_family == AF_INET ? &u->s4 : &u->s6;
    s->u = u;
    int rc = 0;
    s->fd = socket(addr->sa_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (s->fd < 0 || bind(s->fd, addr, sockaddr_len(addr->sa_family)) != 0)
        rc = -errno;
    if (!rc && !(s->ev = event_new(base, s->fd, EV_READ | EV_PERSIST, on_read, s)))
        rc = SHOAL_ENOMEM;
    if (rc) {
        udp_mux_free(u);
        return rc;
    }
    event_add(s->ev, NULL);
    *out = u;
    return 0;
}

void
udp_mux_free(struct udp_mux *u)
{
    if (!u)
        return;
    sock_close(&u->s4);
    sock_close(&u->s6);
    xfree(u);
}

void
udp_mux_set_handler(struct udp_mux *u, enum udp_kind kind, const struct udp_handler *h)
{
    if ((unsigned)kind >= UDP_NKINDS)
        return;
    if (h)
        u->h[kind] = *h;
    else
        memset(&u->h[kind], 0, sizeof(u->h[kind]));
}

static const struct udp_sock *
sock_for(const struct udp_mux *u, int family)
{
    if (family == AF_INET)
        return &u->s4;
    if (family == AF_INET6)
        return &u->s6;
    return NULL;
}

int
udp_send(struct udp_mux *u, const void *buf, size_t len, const struct sockaddr *to,
         socklen_t tolen)
{
    if (netguard_check_addr(u->local_only, to) != 0)
        return SHOAL_ELOCALONLY;
    const struct udp_sock *s = sock_for(u, to->sa_family);
    if (!s || s->fd < 0 || len == 0)
        return SHOAL_EINVAL;
    if (sendto(s->fd, buf, len, 0, to, tolen) < 0)
        return -errno;
    return 0;
}

int
udp_has_family(const struct udp_mux *u, int family)
{
    const struct udp_sock *s = sock_for(u, family);
    return s && s->fd >= 0;
}

int
udp_port(const struct udp_mux *u, int family)
{
    const struct udp_sock *s = sock_for(u, family);
    if (!s || s->fd < 0)
        return 0;
    return sockaddr_bound_port(s->fd);
}

void
udp_mux_stats(const struct udp_mux *u, struct udp_stats *out)
{
    *out = u->st;
}
