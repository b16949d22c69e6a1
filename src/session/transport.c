/*
 * transport.c — the byte streams peers talk over: TCP listening, accepting
 * and dialing as libevent socket bufferevents, and freeing any transport.
 * Session layer: the only peer-side code that calls socket functions. It
 * knows nothing of BitTorrent; the peer code (peer_io.c) frames and parses.
 */
#include "session/transport.h"

#include <arpa/inet.h>
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include <event2/bufferevent.h>
#include <event2/event.h>

#include "base/sockaddr.h"
#include "shoal.h"

/* Bytes moved per socket read or write call. libevent's default of 4 KiB is
 * far too little for a peer sending hundreds of MB/s. */
#define TRANSPORT_MAX_SINGLE_IO (256 * 1024)
/* Connections the kernel queues for accept(). */
#define TRANSPORT_LISTEN_BACKLOG 128

struct evconnlistener *
transport_tcp_listen(struct event_base *base, int family, int port, int loopback_only,
                     evconnlistener_cb cb, void *arg)
{
    struct sockaddr_storage sa;
    socklen_t len;
    if (family == AF_INET)
        sockaddr_from_ip(loopback_only ? "127.0.0.1" : "0.0.0.0", (uint16_t)port, &sa,
                         &len);
    else
        sockaddr_from_ip(loopback_only ? "::1" : "::", (uint16_t)port, &sa, &len);
    evutil_socket_t fd = socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return NULL;
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (family == AF_INET6)
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
    struct evconnlistener *lis = NULL;
    if (bind(fd, (struct sockaddr *)&sa, len) != 0)
        goto out;
    lis = evconnlistener_new(base, cb, arg, LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC,
                             TRANSPORT_LISTEN_BACKLOG, fd);
out:
    if (!lis) {
        int e = errno;
        close(fd);
        errno = e;
    }
    return lis;
}

int
transport_tcp_port(struct evconnlistener *lis)
{
    return sockaddr_bound_port(evconnlistener_get_fd(lis));
}

static struct bufferevent *
tcp_wrap(struct event_base *base, evutil_socket_t fd,
         struct bufferevent_rate_limit_group *rl)
{
    struct bufferevent *bev = bufferevent_socket_new(base, fd, BEV_OPT_CLOSE_ON_FREE);
    if (!bev)
        return NULL;
    bufferevent_set_max_single_read(bev, TRANSPORT_MAX_SINGLE_IO);
    bufferevent_set_max_single_write(bev, TRANSPORT_MAX_SINGLE_IO);
    if (rl && bufferevent_add_to_rate_limit_group(bev, rl) != 0) {
        /* The caller keeps fd on failure: do not let the free close it. */
        bufferevent_setfd(bev, -1);
        bufferevent_free(bev);
        return NULL;
    }
    return bev;
}

struct bufferevent *
transport_tcp_accept(struct event_base *base, evutil_socket_t fd,
                     struct bufferevent_rate_limit_group *rl)
{
    return tcp_wrap(base, fd, rl);
}

struct bufferevent *
transport_tcp_new(struct event_base *base, struct bufferevent_rate_limit_group *rl)
{
    return tcp_wrap(base, -1, rl);
}

/* Stands in for the owner's event callback while libevent may report a
 * failure from inside bufferevent_socket_connect(). */
static void
note_sync_error(struct bufferevent *bev, short what, void *arg)
{
    (void)bev;
    if (what & BEV_EVENT_ERROR)
        *(int *)arg = EVUTIL_SOCKET_ERROR();
}

int
transport_tcp_connect(struct bufferevent *bev, const struct sockaddr *sa, socklen_t len)
{
    /*
     * libevent reports a connect(2) that fails at once by running the event
     * callback before bufferevent_socket_connect() returns, and one refused
     * at once by a deferred callback. Our contract is that a call that
     * fails runs no callback, so a stand-in takes the immediate report; the
     * deferred one reads the owner's callback back when it runs.
     */
    bufferevent_data_cb rd, wr;
    bufferevent_event_cb ev;
    void *arg;
    bufferevent_getcb(bev, &rd, &wr, &ev, &arg);
    int sync_errno = 0;
    bufferevent_setcb(bev, rd, wr, note_sync_error, &sync_errno);
    errno = 0;
    int rc = bufferevent_socket_connect(bev, (struct sockaddr *)sa, (int)len);
    int e = errno;
    bufferevent_setcb(bev, rd, wr, ev, arg);
    if (rc == 0)
        return 0;
    if (sync_errno)
        return -sync_errno;
    return e ? -e : SHOAL_EINVAL;
}

void
transport_free(struct bufferevent *bev)
{
    if (!bev)
        return;
    for (struct bufferevent *b = bev; b; b = bufferevent_get_underlying(b))
        bufferevent_remove_from_rate_limit_group(b);
    bufferevent_free(bev);
}
