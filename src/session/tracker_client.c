/*
 * tracker_client.c — announces torrents to trackers and scrapes them: HTTP(S)
 * (BEP 3, BEP 48) through the session's HTTP client (http.c) and UDP
 * (BEP 15) through its UDP mux (udp.c), with UDP tracker names resolved by
 * its resolver (dns.c), all on the session's event loop. Session layer
 * glue: the announcer decides what to send and when, the codecs in
 * tracker_http.c and tracker_udp.c build and check the bytes, and this
 * file keeps each exchange's state — the BEP 15 connection id cache and
 * retransmit schedule, the index that matches replies to exchanges — and
 * hands the peers found up through the hooks it was given (hooks.h). It
 * never includes session.h: torrents come to it as struct tracker_torrent,
 * and the clock, randomness and status lines go through the hooks. Nothing
 * here blocks the loop or owns a socket.
 *
 * In local-only mode a tracker whose host is not a loopback literal or
 * "localhost" is refused before any look-up or connection (so no DNS query
 * leaves the machine); http.c and udp.c guard every connection, redirect
 * and datagram the same way.
 */
#include "session/tracker_client.h"

#include <arpa/inet.h>
#include <stdarg.h>
#include <stdio.h>
#include <errno.h>
#include <string.h>
#include <strings.h>

#include "base/alloc.h"
#include "base/buf.h"
#include "base/netguard.h"
#include "base/sockaddr.h"
#include "base/util.h"
#include "codec/tracker_http.h"
#include "codec/tracker_udp.h"
#include "engine/announcer.h"
#include "session/dns.h"
#include "session/hooks.h"
#include "session/http.h"
#include "session/udp.h"

/* An HTTP request gets this long in all, and this long to connect. */
#define TRACKER_HTTP_TIMEOUT_S         30
#define TRACKER_HTTP_CONNECT_TIMEOUT_S 15
/* Redirects followed for one request. */
#define TRACKER_HTTP_MAX_REDIRECTS 5
/* Peers asked for per announce. */
#define TRACKER_NUMWANT 80
/* Peers handed up per on_peers call: 8 KiB of addresses on the stack. */
#define TRACKER_PEERS_PER_CALL 64
/* BEP 15 asks for 15 * 2^n s; on loopback and in tests that is an age, so
 * the first tries are shorter and the schedule then follows the BEP. */
#define TRACKER_UDP_FIRST_TIMEOUT_MS 3000
/* Longest reason kept for a failed exchange. */
#define TRACKER_WHY_LEN 300
/* Longest status line handed to the hooks' emit. */
#define TRACKER_LINE_LEN 512

/* A UDP exchange in flight, by its transaction id. */
struct tid_entry {
    uint32_t tid;
    struct tracker_xfer *x;
};

struct tracker_client {
    const struct hooks *h;
    struct http_client *http;
    struct dns_resolver *dns;
    struct udp_mux *udp;
    struct tracker_client_cfg cfg;
    struct tracker_torrent *torrents; /* attached, for tracker_client_free() */
    /* BEP 15 ties a connection id to the client and the tracker address,
     * not to a torrent, so all torrents share these. */
    struct tracker_udp_conn {
        struct sockaddr_storage sa;
        uint64_t conn_id;
        uint64_t until_ms;
    } conns[TRACKER_UDP_CONN_CACHE];
    /* UDP exchanges in flight sorted by tid (unique: a drawn tid already
     * in use is drawn again), so that a datagram finds its exchange, or
     * is dropped, with one binary search. */
    struct tid_entry *tids;
    size_t ntids;
};

/* ------------------------------------------------------------------ hooks */

static uint64_t
now_ms(const struct tracker_client *tc)
{
    return tc->h->now_ms(tc->h->ctx);
}

/* A status line about tt for the user (SHOAL_EV_LOG or SHOAL_EV_WARNING). */
static void __attribute__((format(printf, 3, 4)))
emit(const struct tracker_torrent *tt, enum shoal_event_type type, const char *fmt, ...)
{
    const struct hooks *h = tt->tc->h;
    char line[TRACKER_LINE_LEN];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    h->emit(h->ctx, tt->infohash, type, line);
}

/* ------------------------------------------------------------------ tid index */

/* The slot of tid in the index, or where it would go. */
static size_t
tid_slot(const struct tracker_client *tc, uint32_t tid)
{
    size_t lo = 0, hi = tc->ntids;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (tc->tids[mid].tid < tid)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static struct tracker_xfer *
tid_find(const struct tracker_client *tc, uint32_t tid)
{
    size_t i = tid_slot(tc, tid);
    return i < tc->ntids && tc->tids[i].tid == tid ? tc->tids[i].x : NULL;
}

static void
tid_remove(struct tracker_client *tc, struct tracker_xfer *x)
{
    if (!x->indexed)
        return;
    size_t i = tid_slot(tc, x->tid);
    if (i < tc->ntids && tc->tids[i].x == x) {
        memmove(&tc->tids[i], &tc->tids[i + 1],
                (tc->ntids - i - 1) * sizeof(tc->tids[0]));
        tc->ntids--;
    }
    x->indexed = 0;
}

/* Gives x a fresh transaction id no other exchange in flight has, and
 * indexes it. Returns 0, or -EAGAIN when the index is full. */
static int
tid_assign(struct tracker_client *tc, struct tracker_xfer *x)
{
    tid_remove(tc, x);
    if (tc->ntids >= TRACKER_UDP_MAX_INFLIGHT)
        return -EAGAIN;
    uint32_t tid;
    do
        tid = (uint32_t)tc->h->rand64(tc->h->ctx);
    while (tid_find(tc, tid));
    size_t i = tid_slot(tc, tid);
    memmove(&tc->tids[i + 1], &tc->tids[i], (tc->ntids - i) * sizeof(tc->tids[0]));
    tc->tids[i].tid = tid;
    tc->tids[i].x = x;
    tc->ntids++;
    x->tid = tid;
    x->indexed = 1;
    return 0;
}

/* No reply is awaited for x any more. */
static void
udp_idle(struct tracker_xfer *x)
{
    x->udp_active = 0;
    tid_remove(x->tt->tc, x);
}

/* ------------------------------------------------------------------ outcomes */

static enum tracker_event
wire_event(enum announcer_event ev)
{
    switch (ev) {
    case ANNOUNCER_EV_STARTED:
        return TRACKER_EVENT_STARTED;
    case ANNOUNCER_EV_COMPLETED:
        return TRACKER_EVENT_COMPLETED;
    case ANNOUNCER_EV_STOPPED:
        return TRACKER_EVENT_STOPPED;
    default:
        return TRACKER_EVENT_NONE;
    }
}

/* The URL of the exchange's tracker; "?" if it is gone. */
static const char *
xfer_url(const struct tracker_xfer *x)
{
    int i = announcer_find(&x->tt->announcer, x->tracker);
    return i < 0 ? "?" : x->tt->announcer.t[i].url;
}

static void
fill_announce(const struct tracker_xfer *x, struct tracker_announce *a)
{
    const struct tracker_torrent *tt = x->tt;
    struct tracker_counts c = {0};
    tt->counts(tt->counts_arg, &c);
    memset(a, 0, sizeof(*a));
    memcpy(a->infohash, tt->infohash, 20);
    memcpy(a->peer_id, tt->tc->cfg.peer_id, 20);
    a->port = tt->tc->cfg.port;
    a->uploaded = c.uploaded;
    a->downloaded = c.downloaded;
    a->left = c.left;
    a->event = wire_event(x->job.event);
    a->numwant = x->job.event == ANNOUNCER_EV_STOPPED ? 0 : TRACKER_NUMWANT;
    a->key = tt->key;
    const char *tid = tt->announcer.t[x->job.tracker].trackerid;
    a->trackerid = tid[0] ? tid : NULL;
    a->compact = 1;
}

/* Hands the peers of a reply up through the hooks, which check them, add
 * them to the torrent and dial them. */
static void
add_peers(struct tracker_torrent *tt, const struct tracker_peer *peers, size_t n)
{
    const struct hooks *h = tt->tc->h;
    struct sockaddr_storage sa[TRACKER_PEERS_PER_CALL];
    size_t i = 0;
    do {
        size_t k = 0;
        for (; i < n && k < TRACKER_PEERS_PER_CALL; i++, k++) {
            sockaddr_from_bytes(peers[i].ip, peers[i].family == 4 ? 4 : 16, peers[i].port,
                                &sa[k], NULL);
        }
        h->on_peers(h->ctx, tt->infohash, PEER_SOURCE_TRACKER, sa, k);
    } while (i < n);
}

/* Records the outcome of the announce in flight and tells the user. */
static void
announce_finish(struct tracker_xfer *x, int ok, uint32_t interval, uint32_t min_interval,
                const char *trackerid, int64_t seeders, int64_t leechers,
                int64_t completed, const char *error)
{
    struct tracker_torrent *tt = x->tt;
    struct announce_job job = x->job;
    const char *url = tt->announcer.t[job.tracker].url;
    if (ok && job.event == ANNOUNCER_EV_STOPPED)
        emit(tt, SHOAL_EV_LOG, "tracker %s: told we leave", url);
    else if (ok)
        emit(tt, SHOAL_EV_LOG, "tracker %s: %lld seeders, %lld leechers", url,
             (long long)seeders, (long long)leechers);
    else if (job.event != ANNOUNCER_EV_STOPPED)
        emit(tt, SHOAL_EV_WARNING, "tracker %s: %s", url, error);
    x->kind = TRACKER_JOB_NONE;
    udp_idle(x);
    announcer_done(&tt->announcer, &job, ok, interval, min_interval, trackerid, seeders,
                   leechers, completed, error, now_ms(tt->tc));
}

/* Records the outcome of the scrape in flight. Scrapes only feed the
 * counts, so their failures go to the log, not to the user's screen. */
static void
scrape_finish(struct tracker_xfer *x, enum announcer_scrape_result result,
              int64_t seeders, int64_t leechers, int64_t completed, uint32_t min_interval,
              const char *error)
{
    struct tracker_torrent *tt = x->tt;
    if (result == ANNOUNCER_SCRAPE_OK)
        emit(tt, SHOAL_EV_LOG,
             "tracker %s: scrape: %lld seeders, %lld leechers, %lld downloaded",
             xfer_url(x), (long long)seeders, (long long)leechers, (long long)completed);
    else
        emit(tt, SHOAL_EV_LOG, "tracker %s: scrape: %s", xfer_url(x), error);
    x->kind = TRACKER_JOB_NONE;
    udp_idle(x);
    announcer_scrape_done(&tt->announcer, x->tracker, result, seeders, leechers,
                          completed, min_interval, error, now_ms(tt->tc));
}

/* Ends the exchange in flight as failed, with a formatted reason. */
static void __attribute__((format(printf, 2, 3)))
xfer_fail(struct tracker_xfer *x, const char *fmt, ...)
{
    char why[TRACKER_WHY_LEN];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof(why), fmt, ap);
    va_end(ap);
    if (x->scrape)
        scrape_finish(x, ANNOUNCER_SCRAPE_FAILED, -1, -1, -1, 0, why);
    else
        announce_finish(x, 0, 0, 0, NULL, -1, -1, -1, why);
}

/* ------------------------------------------------------------------ HTTP */

/* The counts for our torrent in a scrape reply body. */
static void
http_scrape_done(struct tracker_xfer *x, const uint8_t *body, size_t len, long status)
{
    struct tracker_scrape_entry *e = NULL;
    size_t n = 0;
    struct shoal_perr err;
    memset(&err, 0, sizeof(err));
    uint32_t wait = 0;
    int rc = tracker_http_parse_scrape(body, len, &e, &n, &wait, &err);
    if (rc == SHOAL_EINVAL) {
        xfer_fail(x, "refused: %s", err.msg[0] ? err.msg : "no reason given");
        return;
    }
    if (rc) {
        xfer_fail(x, "bad scrape reply (HTTP %ld): %s", status, shoal_perr_text(&err));
        return;
    }
    const struct tracker_scrape_entry *mine = NULL;
    for (size_t i = 0; i < n && !mine; i++)
        if (!memcmp(e[i].infohash, x->tt->infohash, 20))
            mine = &e[i];
    if (mine)
        scrape_finish(x, ANNOUNCER_SCRAPE_OK, mine->complete, mine->incomplete,
                      mine->downloaded, wait, NULL);
    else
        xfer_fail(x, "the scrape reply does not list this torrent");
    xfree(e);
}

static void
http_announce_done(struct tracker_xfer *x, const uint8_t *body, size_t len, long status)
{
    struct tracker_reply r;
    struct shoal_perr err;
    memset(&err, 0, sizeof(err));
    int rc = tracker_http_parse_reply(body, len, &r, &err);
    if (rc != 0) {
        xfer_fail(x, "bad reply (HTTP %ld): %s", status, shoal_perr_text(&err));
        return;
    }
    if (r.failure[0]) {
        xfer_fail(x, "refused: %s", r.failure);
    } else {
        if (r.warning[0])
            emit(x->tt, SHOAL_EV_WARNING, "tracker warning: %s", r.warning);
        add_peers(x->tt, r.peers, r.npeers);
        announce_finish(x, 1, r.interval, r.min_interval, r.trackerid, r.complete,
                        r.incomplete, r.downloaded, NULL);
    }
    tracker_reply_cleanup(&r);
}

static void
on_http_done(void *arg, const struct http_result *r)
{
    struct tracker_xfer *x = arg;
    x->http = NULL;
    if (r->rc == SHOAL_ECANCELED)
        return; /* xfer_cancel(): the announcer hears nothing */
    if (r->rc)
        xfer_fail(x, "%s", r->error);
    else if (x->scrape)
        http_scrape_done(x, r->body, r->len, r->status);
    else
        http_announce_done(x, r->body, r->len, r->status);
}

/* Starts the HTTP request of x to the tracker at url. */
static int
start_http(struct tracker_xfer *x, const char *url)
{
    struct tracker_client *tc = x->tt->tc;
    /* Refused hosts fail first, before the URL is even built. */
    int rc = http_url_allowed(tc->http, url);
    if (rc)
        return rc;
    struct buf full;
    buf_init(&full, 8192);
    if (x->scrape) {
        rc =
            tracker_http_scrape_url(url, (const uint8_t(*)[20])x->tt->infohash, 1, &full);
    } else {
        struct tracker_announce a;
        fill_announce(x, &a);
        rc = tracker_http_announce_url(url, &a, &full);
    }
    if (rc)
        goto out;
    const struct http_opts o = {
        .max_body = TRACKER_MAX_REPLY,
        .timeout_s = TRACKER_HTTP_TIMEOUT_S,
        .connect_timeout_s = TRACKER_HTTP_CONNECT_TIMEOUT_S,
        .max_redirects = TRACKER_HTTP_MAX_REDIRECTS,
    };
    /* The URL builders NUL-terminate after len. */
    rc = http_start(tc->http, (const char *)full.data, &o, on_http_done, x, &x->http);
out:
    buf_cleanup(&full);
    return rc;
}

/* ------------------------------------------------------------------ UDP */

/* The connection id cache: BEP 15 ties an id to the client and the tracker
 * address, not to a torrent, so all torrents of the client share it. */
static struct tracker_udp_conn *
conn_find(struct tracker_client *tc, const struct sockaddr_storage *sa, uint64_t now)
{
    for (size_t i = 0; i < TRACKER_UDP_CONN_CACHE; i++) {
        struct tracker_udp_conn *c = &tc->conns[i];
        if (c->until_ms > now && sockaddr_same_endpoint((const struct sockaddr *)&c->sa,
                                                        (const struct sockaddr *)sa))
            return c;
    }
    return NULL;
}

static void
conn_store(struct tracker_client *tc, const struct sockaddr_storage *sa, uint64_t id,
           uint64_t now)
{
    struct tracker_udp_conn *slot = &tc->conns[0];
    for (size_t i = 0; i < TRACKER_UDP_CONN_CACHE; i++) {
        struct tracker_udp_conn *c = &tc->conns[i];
        if (sockaddr_same_endpoint((const struct sockaddr *)&c->sa,
                                   (const struct sockaddr *)sa)) {
            slot = c;
            break;
        }
        if (c->until_ms < slot->until_ms)
            slot = c;
    }
    slot->sa = *sa;
    slot->conn_id = id;
    slot->until_ms = now + (uint64_t)TRACKER_UDP_CONN_ID_TTL_S * 1000;
}

static void
conn_drop(struct tracker_client *tc, const struct sockaddr_storage *sa)
{
    for (size_t i = 0; i < TRACKER_UDP_CONN_CACHE; i++)
        if (sockaddr_same_endpoint((const struct sockaddr *)&tc->conns[i].sa,
                                   (const struct sockaddr *)sa))
            tc->conns[i].until_ms = 0;
}

static int
udp_request(struct tracker_xfer *x)
{
    struct tracker_client *tc = x->tt->tc;
    uint8_t pkt[TRACKER_UDP_MAX_REQUEST];
    size_t n;
    int rc = tid_assign(tc, x);
    if (rc)
        return rc;
    /* BEP 15: an id is good for a minute after it came, and a retransmit
     * may come later than that (the id may be from the cache, too): then
     * the tracker would refuse it, so connect again. */
    if (x->connected && now_ms(tc) >= x->conn_until_ms)
        x->connected = 0;
    if (!x->connected) {
        n = tracker_udp_connect_req(pkt, x->tid);
    } else if (x->scrape) {
        n = tracker_udp_scrape_req(pkt, sizeof(pkt), x->conn_id, x->tid,
                                   (const uint8_t(*)[20])x->tt->infohash, 1);
    } else {
        struct tracker_announce a;
        fill_announce(x, &a);
        n = tracker_udp_announce_req(pkt, sizeof(pkt), x->conn_id, x->tid, &a, 0,
                                     x->urldata[0] ? x->urldata : NULL);
    }
    if (n == 0)
        return SHOAL_EINVAL;
    rc = udp_send(tc->udp, pkt, n, (struct sockaddr *)&x->sa,
                  sockaddr_len(x->sa.ss_family));
    if (rc)
        return rc;
    /* Retransmit schedule: short first tries, then BEP 15's 15 * 2^n s. */
    uint64_t wait = x->attempt == 0
                        ? TRACKER_UDP_FIRST_TIMEOUT_MS
                        : (uint64_t)tracker_udp_timeout_s(x->attempt - 1) * 1000;
    x->deadline_ms = now_ms(tc) + wait;
    return 0;
}

static void
udp_send_or_fail(struct tracker_xfer *x)
{
    int rc = udp_request(x);
    if (rc)
        xfer_fail(x, "cannot send to the UDP tracker: %s", shoal_strerror(rc));
}

/* The tracker's address is known: check it and send the first request. */
static int
udp_go(struct tracker_xfer *x)
{
    struct tracker_client *tc = x->tt->tc;
    if (netguard_check_addr(tc->cfg.local_only, (struct sockaddr *)&x->sa) != 0)
        return SHOAL_ELOCALONLY;
    /* A connection id stays good for a minute (BEP 15). */
    const struct tracker_udp_conn *c = conn_find(tc, &x->sa, now_ms(tc));
    x->conn_cached = c != NULL;
    if (c) {
        x->connected = 1;
        x->conn_id = c->conn_id;
        x->conn_until_ms = c->until_ms;
    }
    x->udp_active = 1;
    return udp_request(x);
}

/* Takes the first address that a socket of ours can reach and the
 * local-only guard allows. */
static int
pick_addr(struct tracker_xfer *x, const struct sockaddr_storage *addrs, size_t n)
{
    struct tracker_client *tc = x->tt->tc;
    int rc = SHOAL_EINVAL;
    for (size_t i = 0; i < n; i++) {
        if (!udp_has_family(tc->udp, addrs[i].ss_family))
            continue;
        if (netguard_check_addr(tc->cfg.local_only, (const struct sockaddr *)&addrs[i]) !=
            0) {
            rc = SHOAL_ELOCALONLY;
            continue;
        }
        x->sa = addrs[i];
        return 0;
    }
    return rc;
}

/* ------------------------------------------------------------------ DNS */

/* The end of the look-up of a UDP tracker's name; x->dns pointed at it. */
static void
on_resolved(void *arg, int rc, const struct sockaddr_storage *addrs, size_t n,
            const char *why)
{
    struct tracker_xfer *x = arg;
    x->dns = NULL;
    if (rc == SHOAL_ECANCELED)
        return; /* xfer_cancel(): the announcer hears nothing */
    if (rc) {
        xfer_fail(x, "cannot resolve the tracker's name: %s", why);
        return;
    }
    rc = pick_addr(x, addrs, n);
    if (!rc)
        rc = udp_go(x);
    if (rc)
        xfer_fail(x, "%s",
                  rc == SHOAL_ELOCALONLY ? "refused by local-only mode"
                                         : shoal_strerror(rc));
}

/*
 * Finds the address of host for x->sa. Literals and "localhost" need no
 * look-up. Returns 0 when x->sa is filled now, 1 when a look-up runs (its
 * end reaches x exactly once, through on_resolved(); xfer_cancel() ends it
 * early), or an error: SHOAL_ELOCALONLY for a name in local-only mode,
 * where no DNS query may be sent at all.
 */
static int
resolve(struct tracker_xfer *x, const char *host, uint16_t port)
{
    struct tracker_client *tc = x->tt->tc;
    int has4 = udp_has_family(tc->udp, AF_INET), has6 = udp_has_family(tc->udp, AF_INET6);
    if (dns_literal(host, port, has4 ? AF_INET : AF_INET6, &x->sa) == 0)
        return 0;
    int family = !has4 ? AF_INET6 : !has6 ? AF_INET : AF_UNSPEC;
    int rc = dns_lookup(tc->dns, host, port, family, SOCK_DGRAM, on_resolved, x, &x->dns);
    return rc ? rc : 1;
}

/* Starts the UDP exchange of x with the tracker at url. */
static int
udp_start(struct tracker_xfer *x, const char *url)
{
    char host[256];
    uint16_t port;
    x->connected = 0;
    x->conn_cached = 0;
    x->attempt = 0;
    udp_idle(x);
    if (tracker_udp_parse_url(url, host, sizeof(host), &port, x->urldata,
                              sizeof(x->urldata)) != 0)
        return SHOAL_EINVAL;
    if (netguard_check_name(x->tt->tc->cfg.local_only, host) != 0)
        return SHOAL_ELOCALONLY;
    int rc = resolve(x, host, port);
    if (rc == 1)
        return 0; /* on_resolved() goes on */
    if (rc)
        return rc;
    return udp_go(x);
}

/* A reply of the transaction x waits for. */
static void
udp_reply(struct tracker_xfer *x, const uint8_t *p, size_t n)
{
    struct tracker_client *tc = x->tt->tc;
    struct tracker_udp_response r;
    struct shoal_perr err;
    memset(&err, 0, sizeof(err));
    int family = x->sa.ss_family == AF_INET6 ? 6 : 4;
    if (tracker_udp_parse_response(p, n, x->tid, family, &r, &err) != 0) {
        xfer_fail(x, "bad UDP reply: %s", shoal_perr_text(&err));
        return;
    }
    if (r.action == TRACKER_UDP_ERROR) {
        /* The refusal may be of a connection id the tracker no longer
         * takes (it restarted, say). An id from the cache gets one fresh
         * connect and a second try; any other refusal stands. */
        conn_drop(tc, &x->sa);
        if (x->connected && x->conn_cached) {
            x->connected = 0;
            x->conn_cached = 0;
            x->attempt = 0;
            udp_send_or_fail(x);
        } else {
            xfer_fail(x, "refused: %s", r.error[0] ? r.error : "no reason given");
        }
    } else if (r.action == TRACKER_UDP_CONNECT && !x->connected) {
        uint64_t now = now_ms(tc);
        x->connected = 1;
        x->conn_cached = 0;
        x->conn_id = r.conn_id;
        x->conn_until_ms = now + (uint64_t)TRACKER_UDP_CONN_ID_TTL_S * 1000;
        x->attempt = 0;
        conn_store(tc, &x->sa, r.conn_id, now);
        udp_send_or_fail(x);
    } else if (r.action == TRACKER_UDP_ANNOUNCE && x->connected && !x->scrape) {
        add_peers(x->tt, r.peers, r.npeers);
        announce_finish(x, 1, r.interval, 0, NULL, r.seeders, r.leechers, -1, NULL);
    } else if (r.action == TRACKER_UDP_SCRAPE && x->connected && x->scrape) {
        /* BEP 15: one entry per hash asked for, in order; we ask for one. */
        if (r.nscrape >= 1)
            scrape_finish(x, ANNOUNCER_SCRAPE_OK, r.scrape[0].seeders,
                          r.scrape[0].leechers, r.scrape[0].completed, 0, NULL);
        else
            xfer_fail(x, "the scrape reply does not list this torrent");
    }
    /* Any other action does not answer what we asked: the retransmit timer
     * still runs, so a lost or mixed-up reply costs a retry, no more. */
    tracker_udp_response_cleanup(&r);
}

/* The tracker client's handler on the session's UDP mux: a BEP 15 reply
 * goes to the exchange that waits for it. */
static int
on_datagram(void *ctx, const uint8_t *p, size_t n, const struct sockaddr *from,
            socklen_t fromlen)
{
    struct tracker_client *tc = ctx;
    (void)fromlen;
    if (n < 8)
        return SHOAL_EINVAL;
    /* A reply must come from the address the request went to and carry its
     * transaction id; anything else is stray or forged and is dropped,
     * after one look-up in the index. */
    struct tracker_xfer *x = tid_find(tc, be32_get(p + 4));
    if (!x || x->kind != TRACKER_JOB_UDP || !x->udp_active ||
        !sockaddr_same_endpoint((const struct sockaddr *)&x->sa, from))
        return SHOAL_EINVAL;
    udp_reply(x, p, n);
    return 0;
}

static void
udp_tick(struct tracker_xfer *x, uint64_t now)
{
    if (x->kind != TRACKER_JOB_UDP || !x->udp_active || now < x->deadline_ms)
        return;
    x->attempt++;
    int tries = x->scrape ? TRACKER_UDP_SCRAPE_MAX_TRIES : TRACKER_UDP_CLIENT_MAX_TRIES;
    if (tracker_udp_give_up(x->attempt) || x->attempt >= tries) {
        xfer_fail(x, "no answer from the UDP tracker");
        return;
    }
    /* Giving up takes minutes (BEP 15's back-off): say at the first
     * timeout that the tracker is silent, so the user is not left
     * wondering. Scrapes only feed counts and stay in the log. */
    if (x->attempt == 1)
        emit(x->tt, x->scrape ? SHOAL_EV_LOG : SHOAL_EV_WARNING,
             "tracker %s: no answer in %u s; still trying", xfer_url(x),
             tracker_udp_timeout_s(0));
    udp_send_or_fail(x);
}

/* ------------------------------------------------------------------ exchanges */

/* Ends whatever x has in flight without telling the announcer. */
static void
xfer_cancel(struct tracker_xfer *x)
{
    /* The callback clears x->http and tells no one. */
    http_cancel(x->http);
    dns_cancel(x->dns); /* the callback clears x->dns */
    udp_idle(x);
    x->kind = TRACKER_JOB_NONE;
}

/* Starts x toward the tracker with the given index in the announcer. */
static void
xfer_start(struct tracker_xfer *x, int idx)
{
    const char *url = x->tt->announcer.t[idx].url;
    x->tracker = x->tt->announcer.t[idx].id;
    int rc;
    if (!strncasecmp(url, "udp://", 6)) {
        x->kind = TRACKER_JOB_UDP;
        rc = udp_start(x, url);
    } else {
        x->kind = TRACKER_JOB_HTTP;
        rc = start_http(x, url);
    }
    if (rc == SHOAL_EUNSUPPORTED && x->scrape) {
        scrape_finish(x, ANNOUNCER_SCRAPE_UNSUPPORTED, -1, -1, -1, 0,
                      "no scrape: the URL's last path component is not announce");
    } else if (rc == SHOAL_ELOCALONLY) {
        xfer_fail(x, "refused by local-only mode");
    } else if (rc) {
        xfer_fail(x, "%s", shoal_strerror(rc));
    }
}

/* ------------------------------------------------------------------ public */

int
tracker_client_new(const struct hooks *h, struct http_client *http,
                   struct dns_resolver *dns, struct udp_mux *udp,
                   const struct tracker_client_cfg *cfg, struct tracker_client **out)
{
    int rc = 0;
    struct tracker_client *tc = xcalloc(1, sizeof(*tc));
    if (!tc) {
        rc = SHOAL_ENOMEM;
        goto out;
    }
    tc->tids = xcalloc(TRACKER_UDP_MAX_INFLIGHT, sizeof(tc->tids[0]));
    if (!tc->tids) {
        rc = SHOAL_ENOMEM;
        goto out;
    }
    tc->h = h;
    tc->http = http;
    tc->dns = dns;
    tc->udp = udp;
    tc->cfg = *cfg;
    struct udp_handler uh = {.on_datagram = on_datagram, .ctx = tc};
    udp_mux_set_handler(udp, UDP_TRACKER, &uh);
out:
    if (rc) {
        if (tc)
            xfree(tc->tids);
        xfree(tc);
        tc = NULL;
    }
    *out = tc;
    return rc;
}

void
tracker_client_attach(struct tracker_client *tc, struct tracker_torrent *tt)
{
    tt->tc = tc;
    tt->prev = NULL;
    tt->next = tc->torrents;
    if (tc->torrents)
        tc->torrents->prev = tt;
    tc->torrents = tt;
    tt->announce_x.tt = tt;
    for (int i = 0; i < ANNOUNCER_MAX_SCRAPES; i++) {
        tt->scrape_x[i].tt = tt;
        tt->scrape_x[i].scrape = 1;
    }
}

void
tracker_client_detach(struct tracker_torrent *tt)
{
    struct tracker_client *tc = tt->tc;
    if (!tc)
        return;
    xfer_cancel(&tt->announce_x);
    for (int i = 0; i < ANNOUNCER_MAX_SCRAPES; i++)
        xfer_cancel(&tt->scrape_x[i]);
    if (tt->prev)
        tt->prev->next = tt->next;
    else
        tc->torrents = tt->next;
    if (tt->next)
        tt->next->prev = tt->prev;
    tt->prev = tt->next = NULL;
    tt->tc = NULL;
}

void
tracker_client_free(struct tracker_client *tc)
{
    if (!tc)
        return;
    while (tc->torrents)
        tracker_client_detach(tc->torrents);
    if (tc->udp)
        udp_mux_set_handler(tc->udp, UDP_TRACKER, NULL);
    xfree(tc->tids);
    xfree(tc);
}

void
tracker_client_tick(struct tracker_torrent *tt, uint64_t now)
{
    if (!tt->tc)
        return;
    struct tracker_xfer *ax = &tt->announce_x;
    udp_tick(ax, now);
    for (int i = 0; i < ANNOUNCER_MAX_SCRAPES; i++)
        udp_tick(&tt->scrape_x[i], now);
    uint64_t wake;
    if (ax->kind == TRACKER_JOB_NONE &&
        announcer_next(&tt->announcer, now, &ax->job, &wake))
        xfer_start(ax, ax->job.tracker);
    /* The announce goes first, so that the scrapes skip its tracker. */
    for (int i = 0; i < ANNOUNCER_MAX_SCRAPES; i++) {
        struct tracker_xfer *sx = &tt->scrape_x[i];
        uint32_t id;
        if (sx->kind == TRACKER_JOB_NONE &&
            announcer_next_scrape(&tt->announcer, now, &id, &wake))
            xfer_start(sx, announcer_find(&tt->announcer, id));
    }
}

int
tracker_client_idle(const struct tracker_torrent *tt)
{
    return tt->announce_x.kind == TRACKER_JOB_NONE;
}
