/*
 * hooks.c — the session's side of the hooks (hooks.h): what happens when a
 * module below reports peers, asks the time, logs or emits an event. Session layer: this
 * is the one place that turns "peers for infohash X" into known peers of a
 * torrent, so every source of peers gets the same checks.
 */
#include "session/hooks.h"

#include <arpa/inet.h>
#include <string.h>

#include "base/netguard.h"
#include "base/sockaddr.h"
#include "codec/metainfo.h"
#include "session/session.h"
#include "session/torrent.h"

/* BEP 27: a private torrent's peers come from its trackers only; the
 * user may still name one by hand. A torrent whose metadata has not come
 * yet counts as public: its magnet is all there is to go by. */
static int
source_allowed(const struct torrent *t, enum peer_source src)
{
    if (!t->m || !t->m->private_flag)
        return 1;
    return src == PEER_SOURCE_TRACKER || src == PEER_SOURCE_USER;
}

static void
on_peers(void *ctx, const uint8_t ih[20], enum peer_source src,
         const struct sockaddr_storage *peers, size_t n)
{
    struct shoal_session *ss = ctx;
    struct torrent *t = session_find_torrent(ss, ih);
    if (!t || t->state == SHOAL_TS_STOPPED || !source_allowed(t, src))
        return;
    for (size_t i = 0; i < n; i++) {
        const struct sockaddr *sa = (const struct sockaddr *)&peers[i];
        if (sa->sa_family != AF_INET && sa->sa_family != AF_INET6)
            continue;
        if (netguard_check_addr(ss->local_only, sa) != 0)
            continue; /* a source handing out outside addresses: not ours to dial */
        /* Our own listening address comes back from trackers (and the DHT). */
        if (sockaddr_port(sa) == ss->port && netguard_is_loopback(sa))
            continue;
        torrent_add_known(t, sa, sockaddr_len(sa->sa_family));
    }
    torrent_dial_now(t, session_now_ms(ss));
}

static uint64_t
now_ms(void *ctx)
{
    return session_now_ms(ctx);
}

static uint64_t
rand64(void *ctx)
{
    return session_random(ctx);
}

static void
log_line(void *ctx, const char *msg)
{
    session_log(ctx, "%s", msg);
}

static void
emit(void *ctx, const uint8_t ih[20], enum shoal_event_type type, const char *msg)
{
    struct shoal_session *ss = ctx;
    session_emit(ss, type, session_find_torrent(ss, ih), NULL, 0, "%s", msg);
}

void
hooks_init(struct hooks *h, struct shoal_session *ss)
{
    memset(h, 0, sizeof(*h));
    h->ctx = ss;
    h->on_peers = on_peers;
    h->now_ms = now_ms;
    h->rand64 = rand64;
    h->log = log_line;
    h->emit = emit;
}
