/*
 * session.c — a BitTorrent node's event loop: listening sockets, outgoing
 * connections, the one-second tick, the disk pool's completions, rate
 * limits, events for the program, and the public shoal_session_* API.
 * Session layer. Every socket toward the outside is checked by the
 * local-only guard (netguard.h) before it is opened.
 */
#include "session/session.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/thread.h>

#include "base/alloc.h"
#include "base/clock.h"
#include "base/netguard.h"
#include "base/rng.h"
#include "base/sockaddr.h"
#include "codec/magnet.h"
#include "codec/metainfo.h"
#include "engine/admission.h"
#include "engine/banlist.h"
#include "engine/disk.h"
#include "engine/picker.h"
#include "session/dht.h"
#include "session/dns.h"
#include "session/http.h"
#include "session/lsd.h"
#include "session/tracker_client.h"
#include "session/transport.h"
#include "session/udp.h"
#include "session/utp_refuse.h"

/* Defaults for struct shoal_settings. */
#define SESSION_DEFAULT_MAX_PEERS             400
#define SESSION_DEFAULT_MAX_PEERS_PER_TORRENT 80
#define SESSION_DEFAULT_UPLOAD_SLOTS          4
/* Incoming connections that have not sent a handshake yet, at most. */
#define SESSION_MAX_HALFOPEN 64
/* Of those, from one address at most: one host cannot take the table. */
#define SESSION_MAX_HALFOPEN_PER_ADDR 4
/* Established incoming connections of one address to one torrent, at most:
 * room for a few clients behind one NAT, not for one host to fill the
 * torrent. */
#define SESSION_MAX_PEERS_PER_ADDR 4
/* Bytes a token bucket may burst above its rate. */
#define SESSION_RATE_BURST_S 1
/* How long a closing session waits for trackers to hear `stopped`. */
#define SESSION_STOP_ANNOUNCE_MS 3000

/* ------------------------------------------------------------------ helpers */

uint64_t
session_now_ms(const struct shoal_session *ss)
{
    (void)ss;
    return clock_now_ms();
}

uint64_t
session_random(struct shoal_session *ss)
{
    /* Fine for tie-breaks and peer ids; nothing secret rides on it. */
    return rng_next(&ss->rng);
}

void
session_emit(struct shoal_session *ss, enum shoal_event_type type, struct torrent *t,
             const struct peer *p, uint32_t piece, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    /* A program that takes the events shows them itself: printing them
     * here as well would show each twice. */
    if (ss->cfg.verbose && !ss->cb && type != SHOAL_EV_TICK) {
        fprintf(stderr, "[%s] %s%s%s\n", t ? torrent_name(t) : "session",
                p ? p->addr : "", p ? ": " : "", msg);
    }
    if (!ss->cb)
        return;
    struct shoal_event ev = {
        .type = type,
        .torrent = (shoal_torrent *)t,
        .peer = p ? p->addr : NULL,
        .message = msg,
        .piece = piece,
    };
    ss->cb(ss, &ev, ss->cb_user);
}

void
session_log(struct shoal_session *ss, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    session_emit(ss, SHOAL_EV_LOG, NULL, NULL, 0, "%s", msg);
}

struct torrent *
session_find_torrent(struct shoal_session *ss, const uint8_t ih[20])
{
    for (struct torrent *t = ss->torrents; t; t = t->next)
        if (!memcmp(t->infohash, ih, 20))
            return t;
    return NULL;
}

/* ------------------------------------------------------------------ peers */

static void
unlink_halfopen(struct shoal_session *ss, struct peer *p)
{
    struct peer **pp = &ss->halfopen;
    while (*pp && *pp != p)
        pp = &(*pp)->next;
    if (*pp)
        *pp = p->next;
}

/* What admission.h weighs of an established peer. */
static struct admission_conn
peer_conn(const struct peer *p)
{
    uint64_t payload =
        p->last_block_ms > p->last_upload_ms ? p->last_block_ms : p->last_upload_ms;
    return (struct admission_conn){
        .key = admission_addr_key((const struct sockaddr *)&p->sa),
        .since_ms = p->active_ms,
        .last_payload_ms = payload,
        .interested = p->am_interested || p->peer_interested,
        .active = p->state == PEER_ACTIVE,
    };
}

/* Counts t's live peers, and in *same those of address key; keeps in
 * *victim the one admission.h would close first (NULL: none may go). */
static int
scan_torrent(const struct torrent *t, uint64_t key, uint64_t now, int *same,
             struct peer **victim, struct admission_conn *vc)
{
    int alive = 0;
    for (struct peer *q = t->peers; q; q = q->next) {
        if (q->state == PEER_DEAD)
            continue;
        alive++;
        struct admission_conn c = peer_conn(q);
        if (same && c.key == key)
            (*same)++;
        if (admission_idle_candidate(&c, now) &&
            (!*victim || admission_idle_before(&c, vc))) {
            *victim = q;
            *vc = c;
        }
    }
    return alive;
}

/*
 * Whether newcomer p, whose handshake names t, may join it. Per-address and
 * torrent limits first, then the session's; when a table is full, the peer
 * admission.h finds idle longest gives way (in t for t's limit, anywhere
 * for the session's), else p is refused. Returns NULL to admit p, or the
 * reason to refuse it.
 */
static const char *
admit_established(struct shoal_session *ss, struct peer *p, struct torrent *t)
{
    uint64_t now = session_now_ms(ss);
    uint64_t key = admission_addr_key((const struct sockaddr *)&p->sa);
    int same = 0;
    struct peer *victim = NULL;
    struct admission_conn vc;
    int alive = scan_torrent(t, key, now, &same, &victim, &vc);
    if (same >= SESSION_MAX_PEERS_PER_ADDR &&
        !admission_addr_shared((const struct sockaddr *)&p->sa))
        return "too many connections from this address";
    if (alive >= ss->cfg.max_peers_per_torrent) {
        if (!victim)
            return "too many peers for this torrent";
        peer_close(victim, "idle: made room for a new peer");
        return NULL;
    }
    /* The session's limit counts established peers of every torrent; p is
     * among npeers but in none yet, so below that no count is needed. */
    if (ss->npeers <= ss->cfg.max_peers)
        return NULL;
    int total = 0;
    struct peer *any = NULL;
    for (struct torrent *u = ss->torrents; u; u = u->next)
        total += scan_torrent(u, key, now, NULL, &any, &vc);
    if (total >= ss->cfg.max_peers) {
        if (!any)
            return "too many peers";
        peer_close(any, "idle: made room for a new peer");
    }
    return NULL;
}

void
session_adopt_peer(struct shoal_session *ss, struct peer *p, struct torrent *t)
{
    const char *refused = admit_established(ss, p, t);
    if (refused) {
        /* Left on the half-open list so the reaper frees it. */
        peer_close(p, "%s", refused);
        return;
    }
    unlink_halfopen(ss, p);
    p->next = NULL;
    p->lim = t->lim;
    torrent_peer_attached(t, p);
}

int
session_dial(struct shoal_session *ss, struct torrent *t, const struct sockaddr *sa)
{
    char addr[SOCKADDR_TEXT_MAX];
    sockaddr_format(sa, addr, sizeof(addr));
    if (netguard_check_addr(ss->local_only, sa) != 0) {
        session_emit(ss, SHOAL_EV_WARNING, t, NULL, 0,
                     "local-only mode: refused to connect to %s", addr);
        return SHOAL_ELOCALONLY;
    }
    socklen_t len = sockaddr_len(sa->sa_family);
    struct bufferevent *bev = transport_tcp_new(ss->base, ss->rl);
    if (!bev)
        return SHOAL_ENOMEM;
    struct peer *p = peer_new(ss, t, bev, sa, len, 0);
    if (!p) {
        transport_free(bev);
        return SHOAL_ENOMEM;
    }
    torrent_peer_attached(t, p);
    /* Started only now that the peer's callbacks are set on the transport. */
    int rc = transport_tcp_connect(bev, sa, len);
    if (rc)
        peer_close(p, "cannot connect: %s", shoal_strerror(rc));
    return 0;
}

/* Frees the dead half-open connections (nothing else refers to one: no
 * disk job, no torrent) and fills c and who with the live ones, at most
 * SESSION_MAX_HALFOPEN. Returns how many are live. */
static size_t
scan_halfopen(struct shoal_session *ss, struct admission_conn *c, struct peer **who)
{
    size_t n = 0;
    struct peer **pp = &ss->halfopen;
    while (*pp) {
        struct peer *p = *pp;
        if (p->state == PEER_DEAD && p->pending_io == 0) {
            *pp = p->next;
            peer_free(p);
            continue;
        }
        if (p->state != PEER_DEAD && n < SESSION_MAX_HALFOPEN) {
            c[n] = (struct admission_conn){
                .key = admission_addr_key((const struct sockaddr *)&p->sa),
                .since_ms = p->started_ms,
            };
            who[n++] = p;
        }
        pp = &p->next;
    }
    return n;
}

/*
 * 1 when an incoming connection from sa, a host not banned, may become
 * half-open, after closing the half-open connection that admission.h says
 * gives way for it when its address or the table is full; 0 to refuse it. The session's
 * own limit is checked once the handshake names the torrent (admit_established()); here
 * only a bound on every connection kept, live or waiting to be reaped.
 */
static int
may_accept(struct shoal_session *ss, const struct sockaddr *sa)
{
    uint64_t now = session_now_ms(ss);
    /* A banned host is refused before anyone gives way for it. */
    if (banlist_has(ss->bans, sa, now) ||
        ss->npeers >= ss->cfg.max_peers + SESSION_MAX_HALFOPEN)
        return 0;
    struct admission_conn c[SESSION_MAX_HALFOPEN];
    struct peer *who[SESSION_MAX_HALFOPEN];
    size_t n = scan_halfopen(ss, c, who);
    uint64_t key = admission_addr_key(sa);
    size_t same = 0;
    for (size_t i = 0; i < n; i++)
        same += c[i].key == key;
    long victim = -1;
    if (same >= SESSION_MAX_HALFOPEN_PER_ADDR && !admission_addr_shared(sa)) {
        victim = admission_halfopen_victim(c, n, &key, now);
        if (victim < 0)
            return 0;
    } else if (n >= SESSION_MAX_HALFOPEN) {
        victim = admission_halfopen_victim(c, n, NULL, now);
        if (victim < 0)
            return 0;
    }
    if (victim >= 0)
        peer_close(who[victim], "no handshake yet, and a new connection needs the slot");
    return 1;
}

/* Makes a half-open peer of a connection may_accept() let in. */
static struct peer *
accept_halfopen(struct shoal_session *ss, struct bufferevent *bev,
                const struct sockaddr *sa, socklen_t len)
{
    struct peer *p = peer_new(ss, NULL, bev, sa, len, 1);
    if (!p) {
        transport_free(bev);
        return NULL;
    }
    p->next = ss->halfopen;
    ss->halfopen = p;
    return p;
}

struct peer *
session_accept(struct shoal_session *ss, struct bufferevent *bev,
               const struct sockaddr *sa, socklen_t len)
{
    if (!may_accept(ss, sa)) {
        transport_free(bev);
        return NULL;
    }
    return accept_halfopen(ss, bev, sa, len);
}

static void
on_accept(struct evconnlistener *lis, evutil_socket_t fd, struct sockaddr *sa, int len,
          void *arg)
{
    (void)lis;
    struct shoal_session *ss = arg;
    /* Refuse before making anything of the socket when the limits are hit
     * or the host is banned. */
    struct bufferevent *bev =
        may_accept(ss, sa) ? transport_tcp_accept(ss->base, fd, ss->rl) : NULL;
    if (!bev) {
        evutil_closesocket(fd);
        return;
    }
    accept_halfopen(ss, bev, sa, (socklen_t)len);
}

/* Frees dead peers that no disk job refers to any more. */
static void
reap_peers(struct shoal_session *ss)
{
    struct peer **pp = &ss->halfopen;
    while (*pp) {
        struct peer *p = *pp;
        if (p->state == PEER_DEAD && p->pending_io == 0) {
            *pp = p->next;
            peer_free(p);
        } else {
            pp = &p->next;
        }
    }
    for (struct torrent *t = ss->torrents; t; t = t->next) {
        struct peer *p = t->peers;
        while (p) {
            struct peer *next = p->next;
            if (p->state == PEER_DEAD && p->pending_io == 0) {
                torrent_peer_detached(t, p);
                peer_free(p);
            }
            p = next;
        }
    }
}

/* ------------------------------------------------------------------ loop */

static int
all_done(const struct shoal_session *ss)
{
    if (!ss->torrents)
        return 0;
    for (const struct torrent *t = ss->torrents; t; t = t->next)
        if (!torrent_is_done(t) || t->pending_writes > 0 || t->renames_pending > 0)
            return 0;
    return 1;
}

static void
on_tick(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct shoal_session *ss = arg;
    uint64_t now = session_now_ms(ss);
    for (struct peer *p = ss->halfopen; p; p = p->next)
        peer_tick(p, now);
    for (struct torrent *t = ss->torrents; t; t = t->next)
        torrent_tick(t, now);
    session_dht_tick(ss);
    reap_peers(ss);
    for (struct torrent *t = ss->torrents; t; t = t->next)
        session_emit(ss, SHOAL_EV_TICK, t, NULL, 0, "tick");
    if (ss->exit_when_done && all_done(ss))
        event_base_loopexit(ss->base, NULL);
}

static void
on_disk(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct shoal_session *ss = arg;
    disk_drain(ss->disk);
    if (ss->exit_when_done && all_done(ss))
        event_base_loopexit(ss->base, NULL);
}

static void
on_stop(evutil_socket_t fd, short what, void *arg)
{
    (void)what;
    struct shoal_session *ss = arg;
    uint64_t v;
    ssize_t r = read(fd, &v, sizeof(v));
    (void)r;
    event_base_loopbreak(ss->base);
}

/* ------------------------------------------------------------------ posted calls */

/* Runs the calls queued when it starts, in order; calls those post run on
 * the next wake-up, so a call that posts itself cannot hold the loop. The
 * lock is not held while a call runs: it may post. */
static void
run_posted(struct shoal_session *ss)
{
    pthread_mutex_lock(&ss->post_mu);
    size_t n = ss->post_count;
    pthread_mutex_unlock(&ss->post_mu);
    while (n-- > 0) {
        pthread_mutex_lock(&ss->post_mu);
        struct session_post c = ss->posted[ss->post_head];
        ss->post_head = (ss->post_head + 1) % SESSION_MAX_POSTED;
        ss->post_count--;
        pthread_mutex_unlock(&ss->post_mu);
        c.fn(ss, c.arg);
    }
}

static void
on_post(evutil_socket_t fd, short what, void *arg)
{
    (void)what;
    uint64_t v;
    ssize_t r = read(fd, &v, sizeof(v));
    (void)r;
    run_posted(arg);
}

/* The ring and its eventfd, made on the session's thread so that posting
 * never allocates. */
static int
post_init(struct shoal_session *ss)
{
    ss->posted = xcalloc(SESSION_MAX_POSTED, sizeof(*ss->posted));
    ss->post_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (!ss->posted || ss->post_fd < 0)
        return SHOAL_ENOMEM;
    ss->post_ev = event_new(ss->base, ss->post_fd, EV_READ | EV_PERSIST, on_post, ss);
    if (!ss->post_ev || event_add(ss->post_ev, NULL) != 0)
        return SHOAL_ENOMEM;
    return 0;
}

/* Refuses posts from now on and runs the ones queued before. */
static void
post_close(struct shoal_session *ss)
{
    pthread_mutex_lock(&ss->post_mu);
    ss->post_closed = 1;
    pthread_mutex_unlock(&ss->post_mu);
    if (ss->posted)
        run_posted(ss);
}

int
shoal_session_post(shoal_session *ss, shoal_session_fn fn, void *arg)
{
    if (!ss || !fn)
        return SHOAL_EINVAL;
    int rc = 0;
    pthread_mutex_lock(&ss->post_mu);
    if (ss->post_closed || !ss->posted) {
        rc = SHOAL_ECANCELED;
    } else if (ss->post_count == SESSION_MAX_POSTED) {
        rc = -EAGAIN;
    } else {
        size_t i = (ss->post_head + ss->post_count) % SESSION_MAX_POSTED;
        ss->posted[i] = (struct session_post){fn, arg};
        ss->post_count++;
        /* Every post wakes the loop: one that lands after the loop counted
         * the queue must not wait for the next. Under the lock, so the fd
         * is still open (the session closes it only after post_close()). */
        uint64_t one = 1;
        ssize_t r = write(ss->post_fd, &one, sizeof(one));
        (void)r; /* EAGAIN: the counter is saturated, the fd readable anyway */
    }
    pthread_mutex_unlock(&ss->post_mu);
    return rc;
}

/* ------------------------------------------------------------------ sockets */

/* A listener guard's line, as a warning of the session. */
static void
listen_warn(void *ctx, const char *msg)
{
    session_emit(ctx, SHOAL_EV_WARNING, NULL, NULL, 0, "%s", msg);
}

/* Listens for peers on port (0: any) of family; loopback only in
 * local-only mode. *guard keeps the listener from spinning when
 * descriptors run out; its lines are the session's warnings. */
static struct evconnlistener *
listen_on(struct shoal_session *ss, int family, int port, struct listen_guard **guard)
{
    struct evconnlistener *lis =
        transport_tcp_listen(ss->base, family, port, ss->local_only, on_accept, ss);
    if (lis && !(*guard = listen_guard_new(lis, "peer listener", listen_warn, ss))) {
        evconnlistener_free(lis);
        errno = ENOMEM;
        return NULL;
    }
    return lis;
}

/* ------------------------------------------------------------------ public */

void
shoal_settings_init(struct shoal_settings *s)
{
    memset(s, 0, sizeof(*s));
    s->listen = 1;
    s->max_peers = SESSION_DEFAULT_MAX_PEERS;
    s->max_peers_per_torrent = SESSION_DEFAULT_MAX_PEERS_PER_TORRENT;
    s->upload_slots = SESSION_DEFAULT_UPLOAD_SLOTS;
    s->dht = 1;
    s->pex = 1;
    s->lsd = 1;
    s->transports = SHOAL_TRANSPORT_TCP | SHOAL_TRANSPORT_UTP;
    s->encryption = SHOAL_ENCRYPTION_PREFERRED;
    s->port_mapping = 1;
}

static int
setup_rate_limit(struct shoal_session *ss)
{
    uint64_t up = ss->cfg.max_up, down = ss->cfg.max_down;
    if (!up && !down)
        return 0;
    /* libevent wants both directions; "unlimited" is a very large rate. */
    size_t big = (size_t)1 << 40;
    size_t r = down ? (size_t)down : big, w = up ? (size_t)up : big;
    struct timeval tick = {1, 0};
    struct ev_token_bucket_cfg *cfg = ev_token_bucket_cfg_new(
        r, r * SESSION_RATE_BURST_S, w, w * SESSION_RATE_BURST_S, &tick);
    if (!cfg)
        return SHOAL_ENOMEM;
    ss->rl = bufferevent_rate_limit_group_new(ss->base, cfg);
    ev_token_bucket_cfg_free(cfg);
    return ss->rl ? 0 : SHOAL_ENOMEM;
}

/* Local service discovery (BEP 14), when it is on. Never in local-only
 * mode: multicast leaves loopback. A network without multicast is no
 * reason to fail: the session goes on without it. */
static void
start_lsd(struct shoal_session *ss)
{
    if (!ss->cfg.lsd || ss->local_only || !ss->port)
        return;
    struct lsd_cfg lc = {.group4 = ss->cfg.lsd_group4,
                         .group6 = ss->cfg.lsd_group6,
                         .port = (uint16_t)ss->cfg.lsd_port,
                         .listen_port = (uint16_t)ss->port};
    int rc = lsd_new(ss->base, &ss->hooks, &lc, &ss->lsd);
    if (rc)
        session_emit(ss, SHOAL_EV_WARNING, NULL, NULL, 0,
                     "local service discovery is off: %s", shoal_strerror(rc));
}

int
shoal_session_new(const struct shoal_settings *s, shoal_session **out)
{
    *out = NULL;
    struct shoal_session *ss = xcalloc(1, sizeof(*ss));
    if (!ss)
        return SHOAL_ENOMEM;
    int rc = SHOAL_ENOMEM;
    if (s)
        ss->cfg = *s;
    else
        shoal_settings_init(&ss->cfg);
    if (ss->cfg.max_peers <= 0)
        ss->cfg.max_peers = SESSION_DEFAULT_MAX_PEERS;
    if (ss->cfg.max_peers_per_torrent <= 0)
        ss->cfg.max_peers_per_torrent = SESSION_DEFAULT_MAX_PEERS_PER_TORRENT;
    if (ss->cfg.upload_slots <= 0)
        ss->cfg.upload_slots = SESSION_DEFAULT_UPLOAD_SLOTS;
    ss->local_only = ss->cfg.local_only || netguard_env_local_only();
    ss->post_fd = -1;
    ss->stop_fd = -1;
    hooks_init(&ss->hooks, ss);

    /* Peer id: Azureus style "-SH0100-" then random bytes (BEP 20). */
    int seeded = rng_bytes(&ss->rng, sizeof(ss->rng));
    if (seeded != 0) {
        xfree(ss);
        return seeded;
    }
    memcpy(ss->peer_id, "-SH0100-", 8);
    for (int i = 8; i < 20; i++)
        ss->peer_id[i] =
            (uint8_t) "0123456789abcdefghijklmnopqrstuvwxyz"[session_random(ss) % 36];

    pthread_mutex_init(&ss->post_mu, NULL); /* from here on, failures free ss */
    ss->base = event_base_new();
    ss->disk = disk_new(ss->cfg.disk_threads);
    ss->bans = banlist_new();
    if (!ss->base || !ss->disk || !ss->bans)
        goto fail;
    ss->disk_ev =
        event_new(ss->base, disk_notify_fd(ss->disk), EV_READ | EV_PERSIST, on_disk, ss);
    ss->tick_ev = event_new(ss->base, -1, EV_PERSIST, on_tick, ss);
    ss->stop_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (!ss->disk_ev || !ss->tick_ev || ss->stop_fd < 0)
        goto fail;
    ss->stop_ev = event_new(ss->base, ss->stop_fd, EV_READ | EV_PERSIST, on_stop, ss);
    if (!ss->stop_ev || post_init(ss) != 0)
        goto fail;
    struct timeval sec = {1, 0};
    event_add(ss->disk_ev, NULL);
    event_add(ss->tick_ev, &sec);
    event_add(ss->stop_ev, NULL);
    rc = setup_rate_limit(ss);
    if (!rc)
        rc = http_client_new(ss->base, ss->local_only, &ss->http);
    if (!rc)
        rc = dns_resolver_new(ss->base, ss->local_only, &ss->dns);
    if (rc)
        goto fail;

    if (ss->cfg.listen) {
        ss->lis4 = listen_on(ss, AF_INET, ss->cfg.port, &ss->guard4);
        if (!ss->lis4) {
            rc = -errno ? -errno : -EADDRINUSE;
            goto fail;
        }
        ss->port = transport_tcp_port(ss->lis4);
        /* IPv6 on the same port; a host without IPv6 still works. */
        ss->lis6 = listen_on(ss, AF_INET6, ss->port, &ss->guard6);
    }
    /* UDP on the TCP port's number: the DHT tells other nodes that port,
     * and a peer that tries uTP there first gets a reset (utp_refuse.h)
     * and falls back to TCP at once. */
    int uport = ss->cfg.dht_port > 0 ? ss->cfg.dht_port : ss->port;
    rc = udp_mux_new(ss->base, ss->local_only, uport, &ss->udp);
    if (!rc)
        rc = utp_refuse_new(ss->udp, ss->hooks.now_ms, ss->hooks.ctx, &ss->utp);
    if (!rc) {
        struct tracker_client_cfg tcfg = {.port = (uint16_t)ss->port,
                                          .local_only = ss->local_only};
        memcpy(tcfg.peer_id, ss->peer_id, sizeof(tcfg.peer_id));
        rc = tracker_client_new(&ss->hooks, ss->http, ss->dns, ss->udp, &tcfg,
                                &ss->tracker);
    }
    if (!rc && ss->cfg.dht)
        rc = session_dht_start(ss);
    if (rc)
        goto fail;
    start_lsd(ss);
    *out = ss;
    return 0;
fail:
    shoal_session_free(ss);
    return rc;
}

/* Tells trackers we leave (event=stopped), waiting at most a few seconds. */
static void
send_stopped(struct shoal_session *ss)
{
    if (!ss->base || !ss->http)
        return;
    for (struct torrent *t = ss->torrents; t; t = t->next)
        announcer_stop(&t->tracker.announcer);
    uint64_t deadline = session_now_ms(ss) + SESSION_STOP_ANNOUNCE_MS;
    for (;;) {
        int pending = 0;
        uint64_t now = session_now_ms(ss);
        for (struct torrent *t = ss->torrents; t; t = t->next) {
            if (tracker_client_idle(&t->tracker))
                tracker_client_tick(&t->tracker, now);
            if (!announcer_is_finished(&t->tracker.announcer) ||
                !tracker_client_idle(&t->tracker))
                pending = 1;
        }
        if (!pending || now >= deadline)
            break;
        struct timeval tv = {0, 50000};
        event_base_loopexit(ss->base, &tv);
        event_base_loop(ss->base, 0);
    }
}

void
shoal_session_free(shoal_session *ss)
{
    if (!ss)
        return;
    post_close(ss);
    /* No new connections from here on: the loop still runs below (for the
     * trackers and evdns), and must not take in peers that would read. */
    listen_guard_free(ss->guard4);
    listen_guard_free(ss->guard6);
    ss->guard4 = ss->guard6 = NULL;
    if (ss->lis4)
        evconnlistener_free(ss->lis4);
    if (ss->lis6)
        evconnlistener_free(ss->lis6);
    ss->lis4 = ss->lis6 = NULL;
    send_stopped(ss);
    /* Close every connection so no new work reaches the disk. */
    for (struct peer *p = ss->halfopen; p; p = p->next)
        peer_close(p, "session stopped");
    for (struct torrent *t = ss->torrents; t; t = t->next)
        for (struct peer *p = t->peers; p; p = p->next)
            peer_close(p, "session stopped");
    /* Transfers in flight refer to their torrents: end them while the
     * torrents exist. The clean-up may run the loop a few rounds (for
     * evdns); nothing may tick meanwhile. */
    if (ss->tick_ev)
        event_del(ss->tick_ev);
    tracker_client_free(ss->tracker);
    ss->tracker = NULL;
    dht_free(ss->dht); /* saves the table; before the resolver it uses */
    ss->dht = NULL;
    dns_resolver_free(ss->dns);
    ss->dns = NULL;
    http_client_free(ss->http);
    ss->http = NULL;
    utp_refuse_free(ss->utp);
    ss->utp = NULL;
    udp_mux_free(ss->udp);
    ss->udp = NULL;
    lsd_free(ss->lsd);
    ss->lsd = NULL;
    /* Last, the disk: checks stop and the last resume saves start; then
     * every disk job runs to its callback while the torrents still exist
     * (the callbacks refer to them), and nothing runs the loop after this
     * wait, so no job can be added behind it. The wait blocks on the pool;
     * it does not poll. */
    for (struct torrent *t = ss->torrents; t; t = t->next)
        torrent_stop(t);
    if (ss->disk) {
        while (disk_pending_jobs(ss->disk) > 0) {
            disk_wait(ss->disk);
            disk_drain(ss->disk);
        }
    }
    struct torrent *t = ss->torrents;
    while (t) {
        struct torrent *next = t->next;
        torrent_free(t);
        t = next;
    }
    ss->torrents = NULL;
    disk_free(ss->disk);
    reap_peers(ss);
    banlist_free(ss->bans);
    for (struct peer *p = ss->halfopen; p;) {
        struct peer *next = p->next;
        peer_free(p);
        p = next;
    }
    if (ss->disk_ev)
        event_free(ss->disk_ev);
    if (ss->tick_ev)
        event_free(ss->tick_ev);
    if (ss->stop_ev)
        event_free(ss->stop_ev);
    if (ss->stop_fd >= 0)
        close(ss->stop_fd);
    if (ss->post_ev)
        event_free(ss->post_ev);
    if (ss->post_fd >= 0)
        close(ss->post_fd);
    xfree(ss->posted);
    pthread_mutex_destroy(&ss->post_mu);
    if (ss->rl)
        bufferevent_rate_limit_group_free(ss->rl);
    if (ss->base)
        event_base_free(ss->base);
    xfree(ss);
}

int
shoal_session_port(const shoal_session *ss)
{
    return ss->port;
}

void
shoal_session_set_event_cb(shoal_session *ss, shoal_event_cb cb, void *user)
{
    ss->cb = cb;
    ss->cb_user = user;
}

int
shoal_session_run(shoal_session *ss, int exit_when_done)
{
    ss->exit_when_done = exit_when_done;
    if (exit_when_done && all_done(ss))
        return 0;
    return event_base_dispatch(ss->base) < 0 ? SHOAL_EINVAL : 0;
}

void
shoal_session_stop(shoal_session *ss)
{
    /* write(2) on an eventfd is async-signal-safe. */
    uint64_t one = 1;
    ssize_t r = write(ss->stop_fd, &one, sizeof(one));
    (void)r;
}

/* What both ways of adding a torrent check first: a download folder, and an
 * infohash not in the session yet. Clears *err. Returns 0 or SHOAL_EINVAL. */
static int
check_new_torrent(struct shoal_session *ss, const uint8_t *infohash,
                  const struct shoal_torrent_opts *opts, struct shoal_perr *err)
{
    if (err)
        memset(err, 0, sizeof(*err));
    const char *why = NULL;
    if (!opts || !opts->save_dir)
        why = "no download folder given";
    else if (session_find_torrent(ss, infohash))
        why = "the torrent is already in the session";
    if (why && err)
        err->why = why;
    return why ? SHOAL_EINVAL : 0;
}

int
shoal_session_add(shoal_session *ss, shoal_metainfo *m,
                  const struct shoal_torrent_opts *opts, shoal_torrent **out,
                  struct shoal_perr *err)
{
    int rc = check_new_torrent(ss, m->infohash, opts, err);
    if (rc)
        return rc;
    struct torrent *t;
    rc = torrent_new(ss, m, opts, &t, err);
    if (rc)
        return rc;
    t->next = ss->torrents;
    ss->torrents = t;
    if (out)
        *out = (shoal_torrent *)t;
    /* Its check starts (or queues), or, when it is ready, it announces at
     * once rather than at the next tick. */
    torrent_start(t);
    /* BEP 27: a private torrent is not announced on the local network. */
    if (ss->lsd && !m->private_flag)
        lsd_add(ss->lsd, m->infohash);
    return 0;
}

int
shoal_session_add_magnet(shoal_session *ss, const shoal_magnet *mg,
                         const struct shoal_torrent_opts *opts, shoal_torrent **out,
                         struct shoal_perr *err)
{
    int rc = check_new_torrent(ss, mg->infohash, opts, err);
    if (rc)
        return rc;
    struct torrent *t;
    rc = torrent_new_magnet(ss, mg, opts, &t);
    if (rc) {
        if (err)
            err->why = "out of memory";
        return rc;
    }
    t->next = ss->torrents;
    ss->torrents = t;
    if (out)
        *out = (shoal_torrent *)t;
    torrent_start(t);
    /* x.pe peers (BEP 9) are dialed like --peer ones; one that local-only
     * mode refuses or that is malformed is skipped with a warning. */
    for (size_t i = 0; i < mg->pe.n; i++)
        shoal_torrent_add_peer((shoal_torrent *)t, mg->pe.v[i]);
    /* Public until its metadata says otherwise (torrent_metadata_arrived). */
    if (ss->lsd)
        lsd_add(ss->lsd, mg->infohash);
    return 0;
}

const shoal_metainfo *
shoal_torrent_metainfo(const shoal_torrent *pt)
{
    return ((const struct torrent *)pt)->m;
}

const uint8_t *
shoal_torrent_infohash(const shoal_torrent *pt)
{
    return ((const struct torrent *)pt)->infohash;
}

const char *
shoal_torrent_name(const shoal_torrent *pt)
{
    return torrent_name((const struct torrent *)pt);
}

const uint8_t *
shoal_torrent_file_data(const shoal_torrent *pt, size_t *len)
{
    const struct torrent *t = (const struct torrent *)pt;
    *len = t->torrent_file_len;
    return t->torrent_file;
}

/* A peer given by name, waiting for its address. It names its torrent by
 * infohash: the torrent may be removed while the look-up runs, and then
 * the answer finds nobody and is dropped. */
struct peer_lookup {
    struct shoal_session *ss;
    uint8_t ih[20];
    char host[256];
};

/* Adds the first of addrs that local-only mode allows to t's known peers
 * and dials it. */
static int
add_peer_addr(struct torrent *t, const struct sockaddr_storage *addrs, size_t n)
{
    struct shoal_session *ss = t->ss;
    int rc = SHOAL_EINVAL;
    for (size_t i = 0; i < n; i++) {
        const struct sockaddr *sa = (const struct sockaddr *)&addrs[i];
        if (netguard_check_addr(ss->local_only, sa) != 0) {
            char a[SOCKADDR_TEXT_MAX];
            sockaddr_format(sa, a, sizeof(a));
            session_emit(ss, SHOAL_EV_WARNING, t, NULL, 0,
                         "local-only mode: refused to connect to %s", a);
            rc = SHOAL_ELOCALONLY;
            continue;
        }
        rc = torrent_add_known(t, sa, sockaddr_len(sa->sa_family));
        break;
    }
    /* Dial now rather than at the next tick: a second matters to a user. */
    if (rc == 0)
        torrent_dial_now(t, session_now_ms(ss));
    return rc;
}

static void
on_peer_resolved(void *arg, int rc, const struct sockaddr_storage *addrs, size_t n,
                 const char *why)
{
    struct peer_lookup *pl = arg;
    /* Cancelled only when the session closes: nobody is left to tell. */
    struct torrent *t =
        rc == SHOAL_ECANCELED ? NULL : session_find_torrent(pl->ss, pl->ih);
    if (t && rc)
        session_emit(pl->ss, SHOAL_EV_WARNING, t, NULL, 0, "cannot resolve peer %s: %s",
                     pl->host, why);
    else if (t)
        add_peer_addr(t, addrs, n);
    xfree(pl);
}

int
shoal_torrent_add_peer(shoal_torrent *pt, const char *hostport)
{
    struct torrent *t = (struct torrent *)pt;
    struct shoal_session *ss = t->ss;
    char host[SOCKADDR_HOST_MAX];
    uint16_t port;
    if (sockaddr_split_hostport(hostport, 0, host, sizeof(host), &port) != 0)
        return SHOAL_EINVAL;
    /* In local-only mode a name other than localhost is never looked up:
     * the DNS query itself would leave the machine. */
    if (netguard_check_name(ss->local_only, host) != 0) {
        session_emit(ss, SHOAL_EV_WARNING, t, NULL, 0,
                     "local-only mode: refused %s (only 127.0.0.0/8, ::1 and localhost)",
                     host);
        return SHOAL_ELOCALONLY;
    }
    struct sockaddr_storage sa;
    if (dns_literal(host, port, AF_UNSPEC, &sa) == 0)
        return add_peer_addr(t, &sa, 1);
    /* A name: looked up on the loop, and the peer is added and dialed when
     * the answer comes. */
    struct peer_lookup *pl = xcalloc(1, sizeof(*pl));
    if (!pl)
        return SHOAL_ENOMEM;
    pl->ss = ss;
    memcpy(pl->ih, t->infohash, 20);
    snprintf(pl->host, sizeof(pl->host), "%s", host);
    int rc = dns_lookup(ss->dns, host, port, AF_UNSPEC, SOCK_STREAM, on_peer_resolved, pl,
                        NULL);
    if (rc)
        xfree(pl);
    return rc;
}
