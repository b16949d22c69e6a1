/*
 * peer_io.c — a peer's byte stream: the transport's callbacks, framing of
 * what arrives into whole handshakes and messages for the pure codec
 * (wire.c), the connect timeout, and closing and freeing the peer. Session
 * layer, loop thread only.
 *
 * It does not know what carries the bytes (transport.h: TCP today) and
 * does not act on a message; peer_wire.c does. A peer is never freed inside
 * its own callbacks: peer_close() marks it dead and frees its transport,
 * and the session reaps it once no disk job refers to it.
 */
#include "session/peer.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>

#include "base/alloc.h"
#include "base/sockaddr.h"
#include "base/util.h"
#include "engine/picker.h"
#include "session/metadata.h"
#include "session/session.h"
#include "session/transport.h"

/* ------------------------------------------------------------------ output */

void
peer_io_send(struct peer *p, const void *data, size_t len)
{
    if (p->state == PEER_DEAD || !p->bev)
        return;
    bufferevent_write(p->bev, data, len);
    p->last_send_ms = session_now_ms(p->ss);
}

size_t
peer_io_queued(const struct peer *p)
{
    return p->bev ? evbuffer_get_length(bufferevent_get_output(p->bev)) : 0;
}

/* ------------------------------------------------------------------ close */

void
peer_close(struct peer *p, const char *fmt, ...)
{
    if (p->state == PEER_DEAD)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(p->dead_reason, sizeof(p->dead_reason), fmt, ap);
    va_end(ap);
    p->state = PEER_DEAD;
    transport_free(p->bev);
    p->bev = NULL;
    if (p->t)
        metadata_peer_gone(p);
    if (p->t && p->t->picker) {
        /* Give its requests back so other peers can fetch those blocks. */
        picker_peer_gone(p->t->picker, p);
        if (p->has_all)
            picker_peer_lost_all(p->t->picker);
        else if (p->has.bits)
            picker_peer_lost(p->t->picker, &p->has);
        p->nreqs = 0;
        p->nupq = 0;
    }
    session_emit(p->ss, SHOAL_EV_PEER_DISCONNECTED, p->t, p, 0, "%s", p->dead_reason);
}

void
peer_free(struct peer *p)
{
    if (!p)
        return;
    transport_free(p->bev);
    p->ss->npeers--;
    bitfield_cleanup(&p->has);
    xfree(p->reqs);
    xfree(p->upq);
    xfree(p->early_bits);
    xfree(p);
}

/* ------------------------------------------------------------------ input */

/* Reads the 68-byte handshake. Returns 1 when the caller may go on reading
 * messages, 0 to wait for more bytes or stop. */
static int
read_handshake(struct peer *p, struct evbuffer *in)
{
    size_t avail = evbuffer_get_length(in);
    if (avail == 0)
        return 0;
    struct shoal_perr err;
    memset(&err, 0, sizeof(err));
    size_t n = avail < WIRE_HANDSHAKE_LEN ? avail : WIRE_HANDSHAKE_LEN;
    int rc = wire_parse_handshake(evbuffer_pullup(in, (ssize_t)n), n, &p->hs, &err);
    if (rc == WIRE_NEED_MORE)
        return 0;
    if (rc < 0) {
        peer_close(p, "bad handshake: %s", shoal_perr_text(&err));
        return 0;
    }
    evbuffer_drain(in, WIRE_HANDSHAKE_LEN);
    peer_wire_handshake(p);
    if (p->state != PEER_ACTIVE)
        return 0;
    /* The connect timeout no longer applies once the peer has answered. */
    if (!p->incoming)
        bufferevent_set_timeouts(p->bev, NULL, NULL);
    return 1;
}

/* Parses and hands on one message. Returns 1 when the caller may read the
 * next, 0 to wait for more bytes or stop. */
static int
read_message(struct peer *p, struct evbuffer *in, uint64_t now)
{
    size_t avail = evbuffer_get_length(in);
    if (avail < 4)
        return 0;
    uint8_t hdr[4];
    evbuffer_copyout(in, hdr, 4);
    /* Make contiguous only what the codec needs: the whole message when it
     * is here, else its id byte so the length is checked against the type
     * before the payload is buffered, and never more than the cap. */
    uint64_t total = 4 + (uint64_t)be32_get(hdr);
    size_t take = total <= avail ? (size_t)total : (avail < 5 ? avail : 5);
    if (total > 4 + (uint64_t)WIRE_MAX_MSG)
        take = 4;
    struct shoal_perr err;
    memset(&err, 0, sizeof(err));
    struct wire_msg msg;
    long used = wire_parse(evbuffer_pullup(in, (ssize_t)take), take, &p->lim, &msg, &err);
    if (used < 0) {
        peer_close(p, "protocol error: %s", shoal_perr_text(&err));
        return 0;
    }
    if (used == 0)
        return 0;
    peer_wire_message(p, &msg, now);
    if (p->state == PEER_DEAD)
        return 0;
    evbuffer_drain(in, (size_t)used);
    return 1;
}

static void
on_read(struct bufferevent *bev, void *arg)
{
    struct peer *p = arg;
    struct evbuffer *in = bufferevent_get_input(bev);
    uint64_t now = session_now_ms(p->ss);
    p->last_recv_ms = now;
    for (;;) {
        int more;
        if (p->state == PEER_HANDSHAKE)
            more = read_handshake(p, in);
        else if (p->state == PEER_ACTIVE)
            more = read_message(p, in, now);
        else
            more = 0;
        if (!more)
            break;
    }
}

static void
on_write(struct bufferevent *bev, void *arg)
{
    (void)bev;
    peer_pump_uploads(arg);
}

static void
on_event(struct bufferevent *bev, short what, void *arg)
{
    (void)bev;
    struct peer *p = arg;
    if (what & BEV_EVENT_CONNECTED) {
        p->state = PEER_HANDSHAKE;
        p->connected_ms = session_now_ms(p->ss);
        p->last_recv_ms = p->connected_ms;
        peer_wire_connected(p);
        return;
    }
    if (what & BEV_EVENT_EOF)
        peer_close(p, "connection closed by peer");
    else if (what & BEV_EVENT_TIMEOUT)
        peer_close(p, "connect timed out");
    else if (what & BEV_EVENT_ERROR)
        peer_close(p, "socket error: %s",
                   evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()));
}

/* ------------------------------------------------------------------ lifecycle */

struct peer *
peer_new(struct shoal_session *ss, struct torrent *t, struct bufferevent *bev,
         const struct sockaddr *sa, socklen_t salen, int incoming)
{
    struct peer *p = xcalloc(1, sizeof(*p));
    if (!p)
        return NULL;
    p->ss = ss;
    p->t = t;
    p->bev = bev;
    p->id = ++ss->next_peer_id;
    ss->npeers++;
    p->incoming = incoming;
    memcpy(&p->sa, sa, salen < sizeof(p->sa) ? salen : sizeof(p->sa));
    sockaddr_format(sa, p->addr, sizeof(p->addr));
    p->am_choking = 1;
    p->peer_choking = 1;
    p->state = incoming ? PEER_HANDSHAKE : PEER_CONNECTING;
    p->connected_ms = p->last_recv_ms = p->last_send_ms = session_now_ms(ss);
    p->started_ms = p->connected_ms;
    if (t)
        p->lim = t->lim;
    bufferevent_setcb(bev, on_read, on_write, on_event, p);
    /* Refill from the disk once half the upload budget has been written. */
    bufferevent_setwatermark(bev, EV_WRITE, PEER_MAX_SEND_QUEUE / 2, 0);
    if (!incoming) {
        /* Until the handshake arrives, a write that cannot go out (the
         * connect itself, then our handshake) gives up after this long. */
        struct timeval tv = {SESSION_CONNECT_TIMEOUT_S, 0};
        bufferevent_set_timeouts(bev, NULL, &tv);
    }
    bufferevent_enable(bev, EV_READ | EV_WRITE);
    return p;
}
