/*
 * pex.c — peer exchange (BEP 11) for one torrent: the messages we send
 * each peer, and what we do with the peers they name. Session layer: it
 * reads the torrent's peer list and writes through peer_io_send(), and
 * reports the peers it learns through hooks->on_peers, never through the
 * session, which applies the same checks to every source (hooks.c).
 *
 * The decisions live in engine/pex_diff.c (what a message says, which
 * addresses to keep); the bytes in codec/ut_pex.c. Here is the state per
 * peer: what it was told, when, and how much it told us this minute.
 */
#include "session/pex.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "base/alloc.h"
#include "base/buf.h"
#include "base/netguard.h"
#include "base/sockaddr.h"
#include "codec/ut_pex.h"
#include "codec/wire.h"
#include "engine/pex_diff.h"
#include "session/peer.h"
#include "session/torrent.h"

/* Per-peer entries, at most: one per connection of the torrent, and a
 * torrent keeps far fewer connections than this. */
#define PEX_MAX_PEERS 2000

/* What we know of one connection, found by its peer id (peer.h `id`). */
struct pex_peer {
    uint64_t id;
    struct pex_sent sent;  /* what it was told */
    uint64_t last_sent_ms; /* 0: never */
    uint64_t window_ms;    /* start of the minute its counts below cover */
    unsigned window_msgs;  /* messages it sent in that minute */
    unsigned window_taken; /* entries of them handed up */
    int seen;              /* still connected at the last tick */
};

struct pex {
    const struct hooks *h;
    uint8_t ih[20];
    uint16_t port;
    struct pex_peer *peers;
    size_t npeers, cappeers;
    struct ut_pex_msg *msg;  /* scratch for parsing, made on first use */
    struct ut_pex_peer *cur; /* scratch: the peers to tell about now */
    size_t capcur;
};

struct pex *
pex_new(const struct hooks *h, const uint8_t ih[20], uint16_t listen_port)
{
    struct pex *x = xcalloc(1, sizeof(*x));
    if (!x)
        return NULL;
    x->h = h;
    memcpy(x->ih, ih, 20);
    x->port = listen_port;
    return x;
}

void
pex_free(struct pex *x)
{
    if (!x)
        return;
    for (size_t i = 0; i < x->npeers; i++)
        pex_sent_cleanup(&x->peers[i].sent);
    xfree(x->peers);
    xfree(x->msg);
    xfree(x->cur);
    xfree(x);
}

static void say(struct pex *x, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* A line for the torrent's log: what peer exchange did, for -v. */
static void
say(struct pex *x, const char *fmt, ...)
{
    char msg[300];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    x->h->emit(x->h->ctx, x->ih, SHOAL_EV_LOG, msg);
}

static struct pex_peer *
find_peer(struct pex *x, uint64_t id, int create)
{
    for (size_t i = 0; i < x->npeers; i++)
        if (x->peers[i].id == id)
            return &x->peers[i];
    if (!create || x->npeers >= PEX_MAX_PEERS)
        return NULL;
    if (x->npeers == x->cappeers) {
        size_t cap = x->cappeers ? x->cappeers * 2 : 8;
        struct pex_peer *v = xreallocarray(x->peers, cap, sizeof(*v));
        if (!v)
            return NULL;
        x->peers = v;
        x->cappeers = cap;
    }
    struct pex_peer *pp = &x->peers[x->npeers++];
    memset(pp, 0, sizeof(*pp));
    pp->id = id;
    pex_sent_init(&pp->sent);
    return pp;
}

/* The address where q can be dialed, as a PEX entry; 0 when there is none
 * we can vouch for: a peer that dialed us and gave no listening port. */
static int
entry_of(const struct peer *q, struct ut_pex_peer *e)
{
    memset(e, 0, sizeof(*e));
    size_t n =
        sockaddr_ip_bytes((const struct sockaddr *)&q->sa, SOCKADDR_UNMAP_V4, e->ip);
    if (n != 4 && n != 16)
        return 0;
    e->ip_len = (uint8_t)n;
    if (q->incoming) {
        /* BEP 10 `p`: its connection's source port is not where it listens. */
        if (!q->ext.listen_port)
            return 0;
        e->port = q->ext.listen_port;
    } else {
        e->port = sockaddr_port((const struct sockaddr *)&q->sa);
        e->flags |= UT_PEX_F_REACHABLE; /* we reached it */
    }
    if (q->has_all || q->ext.upload_only)
        e->flags |= UT_PEX_F_SEED;
    return 1;
}

/* The peers of t to tell r about now: the active ones but r, at their
 * listening addresses, loopback ones only to a peer on loopback itself. */
static size_t
current(struct pex *x, const struct torrent *t, const struct peer *r)
{
    size_t want = (size_t)(t->npeers > 0 ? t->npeers : 1);
    if (want > PEX_MAX_SENT)
        want = PEX_MAX_SENT;
    if (want > x->capcur) {
        struct ut_pex_peer *v = xreallocarray(x->cur, want, sizeof(*v));
        if (!v)
            return 0;
        x->cur = v;
        x->capcur = want;
    }
    int r_loop = netguard_is_loopback((const struct sockaddr *)&r->sa);
    size_t n = 0;
    for (const struct peer *q = t->peers; q && n < x->capcur; q = q->next) {
        if (q == r || q->state != PEER_ACTIVE)
            continue;
        if (!r_loop && netguard_is_loopback((const struct sockaddr *)&q->sa))
            continue;
        if (entry_of(q, &x->cur[n]))
            n++;
    }
    return n;
}

static void
send_due(struct pex *x, const struct torrent *t, struct peer *r, struct pex_peer *pp,
         uint64_t now)
{
    struct ut_pex_peer added[UT_PEX_MAX_SEND], dropped[UT_PEX_MAX_SEND];
    size_t nadded, ndropped;
    size_t ncur = current(x, t, r);
    /* A diff with nothing in it is not sent and does not restart the
     * minute: the next change goes out as soon as it is allowed. */
    if (pex_diff(&pp->sent, x->cur, ncur, added, UT_PEX_MAX_SEND, &nadded, dropped,
                 UT_PEX_MAX_SEND, &ndropped) <= 0)
        return;
    struct buf b;
    buf_init(&b, UT_PEX_MAX_MSG);
    if (ut_pex_encode(added, nadded, dropped, ndropped, &b) == 0) {
        uint8_t hdr[WIRE_MAX_HEADER];
        peer_io_send(r, hdr,
                     wire_encode_extended_header(hdr, r->ext.ut_pex, (uint32_t)b.len));
        peer_io_send(r, b.data, b.len);
        pp->last_sent_ms = now;
        say(x, "pex: told %s of %zu peers (%zu dropped)", r->addr, nadded, ndropped);
    }
    buf_cleanup(&b);
}

void
pex_tick(struct pex *x, struct torrent *t, uint64_t now)
{
    for (size_t i = 0; i < x->npeers; i++)
        x->peers[i].seen = 0;
    for (struct peer *p = t->peers; p; p = p->next) {
        if (p->state != PEER_ACTIVE)
            continue;
        struct pex_peer *pp = find_peer(x, p->id, p->ext.ut_pex != 0);
        if (!pp)
            continue;
        pp->seen = 1;
        /* BEP 10: a later handshake may switch ut_pex off again. */
        if (!p->ext.ut_pex)
            continue;
        if (pp->last_sent_ms && now - pp->last_sent_ms < PEX_INTERVAL_MS)
            continue;
        send_due(x, t, p, pp, now);
    }
    /* Connections that closed take their state along. */
    for (size_t i = 0; i < x->npeers;) {
        if (x->peers[i].seen) {
            i++;
            continue;
        }
        pex_sent_cleanup(&x->peers[i].sent);
        x->peers[i] = x->peers[--x->npeers];
    }
}

/* Our own addresses as a peer might name them, all at our listening
 * port: where p sees us (BEP 10 yourip) and loopback. */
static size_t
self_entries(const struct pex *x, const struct peer *p, struct ut_pex_peer self[3])
{
    size_t n = 0;
    memset(self, 0, 3 * sizeof(self[0]));
    self[n] = (struct ut_pex_peer){.ip = {127, 0, 0, 1}, .ip_len = 4, .port = x->port};
    n++;
    self[n] = (struct ut_pex_peer){.ip_len = 16, .port = x->port};
    self[n].ip[15] = 1;
    n++;
    if (p->ext.yourip_len == 4 || p->ext.yourip_len == 16) {
        memcpy(self[n].ip, p->ext.yourip, p->ext.yourip_len);
        self[n].ip_len = p->ext.yourip_len;
        self[n].port = x->port;
        n++;
    }
    return n;
}

/* Whether p may be heard now, counting the message against its minute. */
static int
admit(struct pex_peer *pp, uint64_t now)
{
    if (!pp->window_ms || now - pp->window_ms >= PEX_INTERVAL_MS) {
        pp->window_ms = now ? now : 1;
        pp->window_msgs = 0;
        pp->window_taken = 0;
    }
    return ++pp->window_msgs <= PEX_MAX_MSGS_PER_MIN;
}

void
pex_on_message(struct pex *x, struct peer *p, const uint8_t *data, size_t len,
               uint64_t now)
{
    struct pex_peer *pp = find_peer(x, p->id, 1);
    if (!pp)
        return;
    if (!admit(pp, now)) {
        if (pp->window_msgs == PEX_MAX_MSGS_PER_MIN + 1)
            say(x, "pex: %s sends more than %d messages a minute: ignored", p->addr,
                PEX_MAX_MSGS_PER_MIN);
        return;
    }
    if (!x->msg) {
        x->msg = xmalloc(sizeof(*x->msg));
        if (!x->msg)
            return;
    }
    struct shoal_perr err;
    memset(&err, 0, sizeof(err));
    if (ut_pex_parse(data, len, x->msg, &err) != 0) {
        say(x, "pex: bad message from %s: %s", p->addr, shoal_perr_text(&err));
        return;
    }
    struct ut_pex_peer self[3];
    size_t nself = self_entries(x, p, self);
    int sender_loop = netguard_is_loopback((const struct sockaddr *)&p->sa);
    struct sockaddr_storage take[PEX_MAX_TAKE_PER_MSG];
    size_t ntake = 0, refused = 0;
    const struct ut_pex_msg *m = x->msg;
    for (size_t i = 0; i < m->nadded; i++) {
        const struct ut_pex_peer *e = &m->added[i];
        if (ntake >= PEX_MAX_TAKE_PER_MSG || pp->window_taken >= PEX_MAX_TAKE_PER_MIN ||
            !pex_acceptable(e, sender_loop, self, nself) ||
            sockaddr_from_bytes(e->ip, e->ip_len, e->port, &take[ntake], NULL) != 0) {
            refused++;
            continue;
        }
        ntake++;
        pp->window_taken++;
    }
    refused += m->skipped;
    say(x, "pex: %zu peers from %s (%zu refused)", ntake, p->addr, refused);
    x->h->on_peers(x->h->ctx, x->ih, PEER_SOURCE_PEX, take, ntake);
}
