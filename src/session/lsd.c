/*
 * lsd.c — local service discovery (BEP 14) on the session's loop. Session
 * layer: it owns two UDP sockets (IPv4 and IPv6 groups) and a one-second
 * timer; the announce bytes are codec/lsd_msg.c's.
 *
 * What goes out: our listening port and the infohashes of the public
 * torrents the session added, to the multicast group only, with a hop limit
 * of one so it stays on the local link; and a random cookie, so that our
 * own announces, which multicast loops back to us, are recognised and
 * dropped. What comes in is from anyone on the link: each sender is held
 * to a few announces a minute, and only infohashes we announce ourselves
 * are looked at, so a flood of foreign torrents costs a parse and nothing
 * more.
 */
#include "session/lsd.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/event.h>

#include "base/alloc.h"
#include "base/buf.h"
#include "base/sockaddr.h"
#include "codec/lsd_msg.h"

/* Datagrams read per wake-up of one socket, at most, so a flood cannot
 * hold the loop. */
#define LSD_READ_BATCH 32

struct lsd_sock {
    int fd; /* -1: this family is not in use */
    struct event *ev;
    struct sockaddr_storage group; /* with the port */
    char host[64];                 /* the Host header: "group:port" */
};

struct lsd_sender {
    struct sockaddr_storage sa; /* port ignored */
    uint64_t since_ms;          /* start of the minute counted */
    unsigned n;
};

struct lsd {
    struct event_base *base;
    const struct hooks *h;
    struct lsd_sock s[2]; /* IPv4, IPv6 */
    struct event *timer;
    uint16_t listen_port;
    char cookie[17];
    uint8_t (*ih)[20];
    uint8_t *fresh; /* per infohash: added, not announced yet */
    size_t nih;
    int any_fresh;
    uint64_t next_all_ms;
    struct lsd_sender senders[LSD_MAX_SENDERS];
    size_t nsenders;
};

static void note(struct lsd *l, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
note(struct lsd *l, const char *fmt, ...)
{
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    l->h->log(l->h->ctx, msg);
}

/* ------------------------------------------------------------------ sending */

static void
send_batch(struct lsd *l, const uint8_t (*ih)[20], size_t n)
{
    for (int f = 0; f < 2; f++) {
        struct lsd_sock *s = &l->s[f];
        if (s->fd < 0)
            continue;
        for (size_t i = 0; i < n;) {
            struct buf b;
            buf_init(&b, LSD_MAX_MSG);
            int k = lsd_msg_format(s->host, l->listen_port, ih + i, n - i, l->cookie, &b);
            if (k > 0) {
                const struct sockaddr *g = (const struct sockaddr *)&s->group;
                if (sendto(s->fd, b.data, b.len, 0, g, sockaddr_len(g->sa_family)) < 0)
                    note(l, "lsd: cannot send to %s: %s", s->host, strerror(errno));
            }
            buf_cleanup(&b);
            if (k <= 0)
                break;
            i += (size_t)k;
        }
    }
}

static void
announce_fresh(struct lsd *l)
{
    uint8_t(*batch)[20] = xcalloc(l->nih ? l->nih : 1, 20);
    size_t n = 0;
    if (!batch)
        return;
    for (size_t i = 0; i < l->nih; i++) {
        if (!l->fresh[i])
            continue;
        memcpy(batch[n++], l->ih[i], 20);
        l->fresh[i] = 0;
    }
    if (n)
        send_batch(l, (const uint8_t(*)[20])batch, n);
    xfree(batch);
    l->any_fresh = 0;
}

static void
on_timer(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct lsd *l = arg;
    uint64_t now = l->h->now_ms(l->h->ctx);
    if (now >= l->next_all_ms) {
        l->next_all_ms = now + LSD_INTERVAL_MS;
        if (l->nih)
            send_batch(l, (const uint8_t(*)[20])l->ih, l->nih);
        memset(l->fresh, 0, l->nih);
        l->any_fresh = 0;
    } else if (l->any_fresh) {
        announce_fresh(l);
    }
}

int
lsd_add(struct lsd *l, const uint8_t ih[20])
{
    for (size_t i = 0; i < l->nih; i++)
        if (!memcmp(l->ih[i], ih, 20))
            return 0;
    if (l->nih >= LSD_MAX_TORRENTS)
        return SHOAL_ETOOBIG;
    memcpy(l->ih[l->nih], ih, 20);
    l->fresh[l->nih++] = 1;
    l->any_fresh = 1;
    return 0;
}

void
lsd_remove(struct lsd *l, const uint8_t ih[20])
{
    for (size_t i = 0; l && i < l->nih; i++) {
        if (memcmp(l->ih[i], ih, 20))
            continue;
        l->nih--;
        memcpy(l->ih[i], l->ih[l->nih], 20);
        l->fresh[i] = l->fresh[l->nih];
        return;
    }
}

/* ------------------------------------------------------------------ receiving */

/* Whether sa may be heard now, counting this announce against its minute. */
static int
sender_admit(struct lsd *l, const struct sockaddr *sa, uint64_t now)
{
    struct lsd_sender *s = NULL;
    for (size_t i = 0; i < l->nsenders && !s; i++)
        if (sockaddr_same_host((const struct sockaddr *)&l->senders[i].sa, sa))
            s = &l->senders[i];
    if (!s) {
        if (l->nsenders < LSD_MAX_SENDERS) {
            s = &l->senders[l->nsenders++];
        } else {
            /* Full: the sender counted longest ago makes room. */
            s = &l->senders[0];
            for (size_t i = 1; i < l->nsenders; i++)
                if (l->senders[i].since_ms < s->since_ms)
                    s = &l->senders[i];
        }
        memset(s, 0, sizeof(*s));
        memcpy(&s->sa, sa, sockaddr_len(sa->sa_family));
        s->since_ms = now;
    }
    if (now - s->since_ms >= 60 * 1000) {
        s->since_ms = now;
        s->n = 0;
    }
    return ++s->n <= LSD_MAX_PER_SENDER_MIN;
}

/* A sender address no honest node announces from. */
static int
bad_sender(const struct sockaddr *sa)
{
    uint8_t ip[16];
    size_t n = sockaddr_ip_bytes(sa, SOCKADDR_UNMAP_V4, ip);
    static const uint8_t zero[16];
    if (n == 4)
        return ip[0] == 0 || ip[0] >= 224;
    if (n == 16)
        return ip[0] == 0xff || !memcmp(ip, zero, 16);
    return 1;
}

static void
on_datagram(struct lsd *l, const uint8_t *p, size_t n, struct sockaddr_storage *from,
            uint64_t now)
{
    struct lsd_msg m;
    struct sockaddr *sa = (struct sockaddr *)from;
    if (bad_sender(sa) || !sender_admit(l, sa, now))
        return;
    if (lsd_msg_parse(p, n, &m, NULL) != 0 || !strcmp(m.cookie, l->cookie))
        return; /* not an announce, or our own come back */
    sockaddr_set_port(sa, m.port);
    char addr[SOCKADDR_TEXT_MAX];
    sockaddr_format(sa, addr, sizeof(addr));
    for (size_t i = 0; i < m.nih; i++) {
        for (size_t j = 0; j < l->nih; j++) {
            if (memcmp(m.ih[i], l->ih[j], 20) != 0)
                continue;
            char msg[128];
            snprintf(msg, sizeof(msg), "lsd: peer %s on the local network", addr);
            l->h->emit(l->h->ctx, m.ih[i], SHOAL_EV_LOG, msg);
            l->h->on_peers(l->h->ctx, m.ih[i], PEER_SOURCE_LSD, from, 1);
            break;
        }
    }
}

static void
on_read(evutil_socket_t fd, short what, void *arg)
{
    (void)what;
    struct lsd *l = arg;
    /* One byte more than an announce may have, to tell a long one. */
    uint8_t buf[LSD_MAX_MSG + 1];
    for (int i = 0; i < LSD_READ_BATCH; i++) {
        struct sockaddr_storage from;
        socklen_t flen = sizeof(from);
        memset(&from, 0, sizeof(from));
        ssize_t r = recvfrom(fd, buf, sizeof(buf), 0, (struct sockaddr *)&from, &flen);
        if (r < 0)
            return; /* EAGAIN, or an error the next read reports again */
        if ((size_t)r > LSD_MAX_MSG)
            continue;
        on_datagram(l, buf, (size_t)r, &from, l->h->now_ms(l->h->ctx));
    }
}

/* ------------------------------------------------------------------ sockets */

static int
open_family(struct lsd *l, struct lsd_sock *s, int family, const char *group,
            uint16_t port)
{
    int one = 1, hops = 1, rc;
    socklen_t glen;
    if (sockaddr_from_ip(group, port, &s->group, &glen) != 0 ||
        s->group.ss_family != family)
        return SHOAL_EINVAL;
    uint8_t ip[16];
    sockaddr_ip_bytes((struct sockaddr *)&s->group, 0, ip);
    if ((family == AF_INET && (ip[0] & 0xf0) != 0xe0) ||
        (family == AF_INET6 && ip[0] != 0xff))
        return SHOAL_EINVAL; /* not a multicast group */
    snprintf(s->host, sizeof(s->host), family == AF_INET ? "%s:%u" : "[%s]:%u", group,
             (unsigned)port);

    s->fd = socket(family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (s->fd < 0)
        return -errno;
    /* Other programs on this host (another node, another client) listen
     * on the same group and port. */
    setsockopt(s->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    setsockopt(s->fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
    struct sockaddr_storage any;
    memset(&any, 0, sizeof(any));
    if (family == AF_INET) {
        struct sockaddr_in *a = (struct sockaddr_in *)&any;
        a->sin_family = AF_INET;
        a->sin_port = htons(port);
        struct ip_mreq mr;
        memset(&mr, 0, sizeof(mr));
        mr.imr_multiaddr = ((struct sockaddr_in *)&s->group)->sin_addr;
        mr.imr_interface.s_addr = htonl(INADDR_ANY);
        rc = bind(s->fd, (struct sockaddr *)&any, sizeof(*a)) ||
             setsockopt(s->fd, IPPROTO_IP, IP_ADD_MEMBERSHIP, &mr, sizeof(mr)) ||
             setsockopt(s->fd, IPPROTO_IP, IP_MULTICAST_TTL, &hops, sizeof(hops)) ||
             setsockopt(s->fd, IPPROTO_IP, IP_MULTICAST_LOOP, &one, sizeof(one));
    } else {
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)&any;
        a->sin6_family = AF_INET6;
        a->sin6_port = htons(port);
        struct ipv6_mreq mr;
        memset(&mr, 0, sizeof(mr));
        mr.ipv6mr_multiaddr = ((struct sockaddr_in6 *)&s->group)->sin6_addr;
        rc = setsockopt(s->fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)) ||
             bind(s->fd, (struct sockaddr *)&any, sizeof(*a)) ||
             setsockopt(s->fd, IPPROTO_IPV6, IPV6_JOIN_GROUP, &mr, sizeof(mr)) ||
             setsockopt(s->fd, IPPROTO_IPV6, IPV6_MULTICAST_HOPS, &hops, sizeof(hops)) ||
             setsockopt(s->fd, IPPROTO_IPV6, IPV6_MULTICAST_LOOP, &one, sizeof(one));
    }
    if (rc) {
        rc = -errno;
        note(l, "lsd: cannot join %s: %s", s->host, strerror(errno));
        goto fail;
    }
    s->ev = event_new(l->base, s->fd, EV_READ | EV_PERSIST, on_read, l);
    if (!s->ev || event_add(s->ev, NULL) != 0) {
        rc = SHOAL_ENOMEM;
        goto fail;
    }
    return 0;
fail:
    if (s->ev)
        event_free(s->ev);
    s->ev = NULL;
    close(s->fd);
    s->fd = -1;
    return rc;
}

int
lsd_new(struct event_base *base, const struct hooks *h, const struct lsd_cfg *cfg,
        struct lsd **out)
{
    *out = NULL;
    struct lsd *l = xcalloc(1, sizeof(*l));
    if (!l)
        return SHOAL_ENOMEM;
    l->base = base;
    l->h = h;
    l->s[0].fd = l->s[1].fd = -1;
    l->listen_port = cfg->listen_port;
    l->ih = xcalloc(LSD_MAX_TORRENTS, 20);
    l->fresh = xcalloc(LSD_MAX_TORRENTS, 1);
    l->timer = event_new(base, -1, EV_PERSIST, on_timer, l);
    if (!l->ih || !l->fresh || !l->timer) {
        lsd_free(l);
        return SHOAL_ENOMEM;
    }
    snprintf(l->cookie, sizeof(l->cookie), "%016llx",
             (unsigned long long)h->rand64(h->ctx));
    uint16_t port = cfg->port ? cfg->port : LSD_DEFAULT_PORT;
    int rc4 = open_family(l, &l->s[0], AF_INET,
                          cfg->group4 ? cfg->group4 : LSD_DEFAULT_GROUP4, port);
    int rc6 = open_family(l, &l->s[1], AF_INET6,
                          cfg->group6 ? cfg->group6 : LSD_DEFAULT_GROUP6, port);
    if (rc4 && rc6) {
        lsd_free(l);
        return rc4;
    }
    l->next_all_ms = h->now_ms(h->ctx) + LSD_INTERVAL_MS;
    struct timeval sec = {1, 0};
    event_add(l->timer, &sec);
    *out = l;
    return 0;
}

void
lsd_free(struct lsd *l)
{
    if (!l)
        return;
    for (int f = 0; f < 2; f++) {
        if (l->s[f].ev)
            event_free(l->s[f].ev);
        if (l->s[f].fd >= 0)
            close(l->s[f].fd);
    }
    if (l->timer)
        event_free(l->timer);
    xfree(l->ih);
    xfree(l->fresh);
    xfree(l);
}
