/*
 * tracker_client.c — announces torrents to trackers and scrapes them: HTTP(S)
 * (BEP 3, BEP 48) through the session's HTTP client (http.c) and UDP
 * (BEP 15) through its UDP mux (udp.c), with UDP tracker names resolved by
 * its resolver (dns.c), all on the session's event loop. Session layer
 * glue: the announcer decides what to send and when, the codecs in
 * tracker_http.c and tracker_udp.c build and check the bytes, and this
 * file keeps each exchange's state — the BEP 15 connection id cache and
 * retransmit schedule, the reply matching — and hands the peers found up
 * through the session's hooks (hooks.h). Nothing here blocks the loop or
 * owns a socket.
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
#include <string.h>
#include <strings.h>

#include "base/alloc.h"
#include "base/buf.h"
#include "base/netguard.h"
#include "base/sockaddr.h"
#include "base/util.h"
#include "codec/metainfo.h"
#include "codec/tracker_http.h"
#include "codec/tracker_udp.h"
#include "engine/announcer.h"
#include "engine/picker.h"
#include "session/dns.h"
#include "session/hooks.h"
#include "session/http.h"
#include "session/session.h"
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
    int i = announcer_find(&x->t->announcer, x->tracker);
    return i < 0 ? "?" : x->t->announcer.t[i].url;
}

static void
fill_announce(const struct tracker_xfer *x, struct tracker_announce *a)
{
    const struct torrent *t = x->t;
    memset(a, 0, sizeof(*a));
    memcpy(a->infohash, t->m->infohash, 20);
    memcpy(a->peer_id, t->ss->peer_id, 20);
    a->port = (uint16_t)t->ss->port;
    a->uploaded = t->uploaded;
    a->downloaded = t->downloaded;
    a->left = picker_left_bytes(t->picker);
    a->event = wire_event(x->job.event);
    a->numwant = x->job.event == ANNOUNCER_EV_STOPPED ? 0 : TRACKER_NUMWANT;
    a->key = t->tracker_key;
    const char *tid = t->announcer.t[x->job.tracker].trackerid;
    a->trackerid = tid[0] ? tid : NULL;
    a->compact = 1;
}

/* Hands the peers of a reply up through the session's hooks, which check
 * them, add them to the torrent and dial them. */
static void
add_peers(struct torrent *t, const struct tracker_peer *peers, size_t n)
{
    const struct hooks *h = &t->ss->hooks;
    struct sockaddr_storage sa[TRACKER_PEERS_PER_CALL];
    size_t i = 0;
    do {
        size_t k = 0;
        for (; i < n && k < TRACKER_PEERS_PER_CALL; i++, k++) {
            sockaddr_from_bytes(peers[i].ip, peers[i].family == 4 ? 4 : 16, peers[i].port,
                                &sa[k], NULL);
        }
        h->on_peers(h->ctx, t->m->infohash, PEER_SOURCE_TRACKER, sa, k);
    } while (i < n);
}

/* Records the outcome of the announce in flight and tells the user. */
static void
announce_finish(struct tracker_xfer *x, int ok, uint32_t interval, uint32_t min_interval,
                const char *trackerid, int64_t seeders, int64_t leechers,
                int64_t completed, const char *error)
{
    struct torrent *t = x->t;
    struct announce_job job = x->job;
    const char *url = t->announcer.t[job.tracker].url;
    if (ok && job.event == ANNOUNCER_EV_STOPPED)
        session_emit(t->ss, SHOAL_EV_LOG, t, NULL, 0, "tracker %s: told we leave", url);
    else if (ok)
        session_emit(t->ss, SHOAL_EV_LOG, t, NULL, 0,
                     "tracker %s: %lld seeders, %lld leechers", url, (long long)seeders,
                     (long long)leechers);
    else if (job.event != ANNOUNCER_EV_STOPPED)
        session_emit(t->ss, SHOAL_EV_WARNING, t, NULL, 0, "tracker %s: %s", url, error);
    x->kind = TRACKER_JOB_NONE;
    x->udp_active = 0;
    announcer_done(&t->announcer, &job, ok, interval, min_interval, trackerid, seeders,
                   leechers, completed, error, session_now_ms(t->ss));
}

/* Records the outcome of the scrape in flight. Scrapes only feed the
 * counts, so their failures go to the log, not to the user's screen. */
static void
scrape_finish(struct tracker_xfer *x, enum announcer_scrape_result result,
              int64_t seeders, int64_t leechers, int64_t completed, uint32_t min_interval,
              const char *error)
{
    struct torrent *t = x->t;
    if (result == ANNOUNCER_SCRAPE_OK)
        session_emit(t->ss, SHOAL_EV_LOG, t, NULL, 0,
                     "tracker %s: scrape: %lld seeders, %lld leechers, %lld downloaded",
                     xfer_url(x), (long long)seeders, (long long)leechers,
                     (long long)completed);
    else
        session_emit(t->ss, SHOAL_EV_LOG, t, NULL, 0, "tracker %s: scrape: %s",
                     xfer_url(x), error);
    x->kind = TRACKER_JOB_NONE;
    x->udp_active = 0;
    announcer_scrape_done(&t->announcer, x->tracker, result, seeders, leechers, completed,
                          min_interval, error, session_now_ms(t->ss));
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
        if (!memcmp(e[i].infohash, x->t->m->infohash, 20))
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
            session_emit(x->t->ss, SHOAL_EV_WARNING, x->t, NULL, 0, "tracker warning: %s",
                         r.warning);
        add_peers(x->t, r.peers, r.npeers);
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
    struct shoal_session *ss = x->t->ss;
    /* Refused hosts fail first, before the URL is even built. */
    int rc = http_url_allowed(ss->http, url);
    if (rc)
        return rc;
    struct buf full;
    buf_init(&full, 8192);
    if (x->scrape) {
        rc = tracker_http_scrape_url(url, (const uint8_t(*)[20])x->t->m->infohash, 1,
                                     &full);
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
    rc = http_start(ss->http, (const char *)full.data, &o, on_http_done, x, &x->http);
out:
    buf_cleanup(&full);
    return rc;
}

/* ------------------------------------------------------------------ UDP */

/* The connection id cache: BEP 15 ties an id to the client and the tracker
 * address, not to a torrent, so all torrents of the session share it. */
static struct tracker_udp_conn *
conn_find(struct shoal_session *ss, const struct sockaddr_storage *sa, uint64_t now)
{
    for (size_t i = 0; i < TRACKER_UDP_CONN_CACHE; i++) {
        struct tracker_udp_conn *c = &ss->udp_conns[i];
        if (c->until_ms > now && sockaddr_same_endpoint((const struct sockaddr *)&c->sa,
                                                        (const struct sockaddr *)sa))
            return c;
    }
    return NULL;
}

static void
conn_store(struct shoal_session *ss, const struct sockaddr_storage *sa, uint64_t id,
           uint64_t now)
{
    struct tracker_udp_conn *slot = &ss->udp_conns[0];
    for (size_t i = 0; i < TRACKER_UDP_CONN_CACHE; i++) {
        struct tracker_udp_conn *c = &ss->udp_conns[i];
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
conn_drop(struct shoal_session *ss, const struct sockaddr_storage *sa)
{
    for (size_t i = 0; i < TRACKER_UDP_CONN_CACHE; i++)
        if (sockaddr_same_endpoint((const struct sockaddr *)&ss->udp_conns[i].sa,
                                   (const struct sockaddr *)sa))
            ss->udp_conns[i].until_ms = 0;
}

static int
udp_request(struct tracker_xfer *x)
{
    struct shoal_session *ss = x->t->ss;
    uint8_t pkt[TRACKER_UDP_MAX_REQUEST];
    size_t n;
    x->tid = (uint32_t)session_random(ss);
    /* BEP 15: an id is good for a minute after it came, and a retransmit
     * may come later than that (the id may be from the cache, too): then
     * the tracker would refuse it, so connect again. */
    if (x->connected && session_now_ms(ss) >= x->conn_until_ms)
        x->connected = 0;
    if (!x->connected) {
        n = tracker_udp_connect_req(pkt, x->tid);
    } else if (x->scrape) {
        n = tracker_udp_scrape_req(pkt, sizeof(pkt), x->conn_id, x->tid,
                                   (const uint8_t(*)[20])x->t->m->infohash, 1);
    } else {
        struct tracker_announce a;
        fill_announce(x, &a);
        n = tracker_udp_announce_req(pkt, sizeof(pkt), x->conn_id, x->tid, &a, 0,
                                     x->urldata[0] ? x->urldata : NULL);
    }
    if (n == 0)
        return SHOAL_EINVAL;
    int rc = udp_send(ss->udp, pkt, n, (struct sockaddr *)&x->sa,
                      sockaddr_len(x->sa.ss_family));
    if (rc)
        return rc;
    /* Retransmit schedule: short first tries, then BEP 15's 15 * 2^n s. */
    uint64_t wait = x->attempt == 0
                        ? TRACKER_UDP_FIRST_TIMEOUT_MS
                        : (uint64_t)tracker_udp_timeout_s(x->attempt - 1) * 1000;
    x->deadline_ms = session_now_ms(ss) + wait;
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
    struct shoal_session *ss = x->t->ss;
    if (netguard_check_addr(ss->local_only, (struct sockaddr *)&x->sa) != 0)
        return SHOAL_ELOCALONLY;
    /* A connection id stays good for a minute (BEP 15). */
    const struct tracker_udp_conn *c = conn_find(ss, &x->sa, session_now_ms(ss));
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
    struct shoal_session *ss = x->t->ss;
    int rc = SHOAL_EINVAL;
    for (size_t i = 0; i < n; i++) {
        if (!udp_has_family(ss->udp, addrs[i].ss_family))
            continue;
        if (netguard_check_addr(ss->local_only, (const struct sockaddr *)&addrs[i]) !=
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
    struct shoal_session *ss = x->t->ss;
    int has4 = udp_has_family(ss->udp, AF_INET), has6 = udp_has_family(ss->udp, AF_INET6);
    if (dns_literal(host, port, has4 ? AF_INET : AF_INET6, &x->sa) == 0)
        return 0;
    int family = !has4 ? AF_INET6 : !has6 ? AF_INET : AF_UNSPEC;
    int rc = dns_lookup(ss->dns, host, port, family, SOCK_DGRAM, on_resolved, x, &x->dns);
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
    x->udp_active = 0;
    if (tracker_udp_parse_url(url, host, sizeof(host), &port, x->urldata,
                              sizeof(x->urldata)) != 0)
        return SHOAL_EINVAL;
    if (netguard_check_name(x->t->ss->local_only, host) != 0)
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
    struct shoal_session *ss = x->t->ss;
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
        conn_drop(ss, &x->sa);
        if (x->connected && x->conn_cached) {
            x->connected = 0;
            x->conn_cached = 0;
            x->attempt = 0;
            udp_send_or_fail(x);
        } else {
            xfer_fail(x, "refused: %s", r.error[0] ? r.error : "no reason given");
        }
    } else if (r.action == TRACKER_UDP_CONNECT && !x->connected) {
        uint64_t now = session_now_ms(ss);
        x->connected = 1;
        x->conn_cached = 0;
        x->conn_id = r.conn_id;
        x->conn_until_ms = now + (uint64_t)TRACKER_UDP_CONN_ID_TTL_S * 1000;
        x->attempt = 0;
        conn_store(ss, &x->sa, r.conn_id, now);
        udp_send_or_fail(x);
    } else if (r.action == TRACKER_UDP_ANNOUNCE && x->connected && !x->scrape) {
        add_peers(x->t, r.peers, r.npeers);
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
    struct shoal_session *ss = ctx;
    (void)fromlen;
    if (n < 8)
        return SHOAL_EINVAL;
    uint32_t tid = be32_get(p + 4);
    /* A reply must come from the address the request went to and carry its
     * transaction id; anything else is stray or forged and is dropped. */
    for (struct torrent *t = ss->torrents; t; t = t->next) {
        for (int i = -1; i < ANNOUNCER_MAX_SCRAPES; i++) {
            struct tracker_xfer *x = i < 0 ? &t->announce_x : &t->scrape_x[i];
            if (x->kind == TRACKER_JOB_UDP && x->udp_active && x->tid == tid &&
                sockaddr_same_endpoint((const struct sockaddr *)&x->sa, from)) {
                udp_reply(x, p, n);
                return 0;
            }
        }
    }
    return SHOAL_EINVAL;
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
    x->udp_active = 0;
    x->kind = TRACKER_JOB_NONE;
}

/* Starts x toward the tracker with the given index in the announcer. */
static void
xfer_start(struct tracker_xfer *x, int idx)
{
    const char *url = x->t->announcer.t[idx].url;
    x->tracker = x->t->announcer.t[idx].id;
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
tracker_client_init(struct shoal_session *ss)
{
    struct udp_handler h = {.on_datagram = on_datagram, .ctx = ss};
    udp_mux_set_handler(ss->udp, UDP_TRACKER, &h);
    return 0;
}

void
tracker_client_attach(struct torrent *t)
{
    t->announce_x.t = t;
    for (int i = 0; i < ANNOUNCER_MAX_SCRAPES; i++) {
        t->scrape_x[i].t = t;
        t->scrape_x[i].scrape = 1;
    }
}

void
tracker_client_forget(struct torrent *t)
{
    xfer_cancel(&t->announce_x);
    for (int i = 0; i < ANNOUNCER_MAX_SCRAPES; i++)
        xfer_cancel(&t->scrape_x[i]);
}

void
tracker_client_cleanup(struct shoal_session *ss)
{
    for (struct torrent *t = ss->torrents; t; t = t->next)
        tracker_client_forget(t);
    if (ss->udp)
        udp_mux_set_handler(ss->udp, UDP_TRACKER, NULL);
}

void
tracker_client_tick(struct torrent *t, uint64_t now)
{
    struct tracker_xfer *ax = &t->announce_x;
    udp_tick(ax, now);
    for (int i = 0; i < ANNOUNCER_MAX_SCRAPES; i++)
        udp_tick(&t->scrape_x[i], now);
    uint64_t wake;
    if (ax->kind == TRACKER_JOB_NONE &&
        announcer_next(&t->announcer, now, &ax->job, &wake))
        xfer_start(ax, ax->job.tracker);
    /* The announce goes first, so that the scrapes skip its tracker. */
    for (int i = 0; i < ANNOUNCER_MAX_SCRAPES; i++) {
        struct tracker_xfer *sx = &t->scrape_x[i];
        uint32_t id;
        if (sx->kind == TRACKER_JOB_NONE &&
            announcer_next_scrape(&t->announcer, now, &id, &wake))
            xfer_start(sx, announcer_find(&t->announcer, id));
    }
}

int
tracker_client_idle(const struct torrent *t)
{
    return t->announce_x.kind == TRACKER_JOB_NONE;
}

size_t
shoal_torrent_tracker_count(const shoal_torrent *pt)
{
    const struct torrent *t = (const struct torrent *)pt;
    return t->announcer.n;
}

int
shoal_torrent_tracker(const shoal_torrent *pt, size_t i, struct shoal_tracker_info *out)
{
    const struct torrent *t = (const struct torrent *)pt;
    memset(out, 0, sizeof(*out));
    if (i >= t->announcer.n)
        return SHOAL_EINVAL;
    const struct announcer_tracker *a = &t->announcer.t[i];
    uint64_t now = session_now_ms(t->ss);
    out->url = a->url;
    out->tier = a->tier;
    out->working = a->working;
    out->seeders = a->seeders;
    out->leechers = a->leechers;
    out->downloaded = a->completed;
    out->counts_age_s = a->counts_ms ? (int64_t)((now - a->counts_ms) / 1000) : -1;
    out->announce_error = a->error[0] ? a->error : NULL;
    out->scrape_error = a->scrape_error[0] ? a->scrape_error : NULL;
    out->scrape_supported = !a->scrape_unsupported;
    return 0;
}
