/*
 * tracker_client.c — announces torrents to HTTP(S) trackers through libcurl's
 * multi interface and to UDP trackers (BEP 15) over the session's UDP
 * sockets, all on the session's event loop. Protocol layer glue: the
 * announcer decides what to send and when, the codecs in tracker_http.c and
 * tracker_udp.c build and check the bytes, and this file moves them.
 *
 * In local-only mode a tracker whose host is not a loopback literal or
 * "localhost" is refused before any lookup or connection, curl may only open
 * sockets to loopback addresses, and redirects are not followed.
 */
#include "tracker_client.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <curl/curl.h>
#include <event2/event.h>

#include "alloc.h"
#include "announcer.h"
#include "buf.h"
#include "netguard.h"
#include "picker.h"
#include "session.h"
#include "tracker_http.h"
#include "tracker_udp.h"

/* An HTTP announce gets this long in all, and this long to connect. */
#define TRACKER_HTTP_TIMEOUT_S         30
#define TRACKER_HTTP_CONNECT_TIMEOUT_S 15
/* Redirects followed for one announce (not in local-only mode). */
#define TRACKER_HTTP_MAX_REDIRECTS 5
/* Peers asked for per announce. */
#define TRACKER_NUMWANT 80
/* BEP 15 asks for 15 * 2^n s; on loopback and in tests that is an age, so
 * the first tries are shorter and the schedule then follows the BEP. */
#define TRACKER_UDP_FIRST_TIMEOUT_MS 3000

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

static void
fill_announce(struct torrent *t, enum announcer_event ev, struct tracker_announce *a)
{
    memset(a, 0, sizeof(*a));
    memcpy(a->infohash, t->m->infohash, 20);
    memcpy(a->peer_id, t->ss->peer_id, 20);
    a->port = (uint16_t)t->ss->port;
    a->uploaded = t->uploaded;
    a->downloaded = t->downloaded;
    a->left = picker_left_bytes(t->picker);
    a->event = wire_event(ev);
    a->numwant = ev == ANNOUNCER_EV_STOPPED ? 0 : TRACKER_NUMWANT;
    a->key = t->tracker_key;
    const char *tid = t->announcer.t[t->job.tracker].trackerid;
    a->trackerid = tid[0] ? tid : NULL;
    a->compact = 1;
}

/* Hands the peers of a reply to the torrent, which dials them. */
static void
add_peers(struct torrent *t, const struct tracker_peer *peers, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        struct sockaddr_storage sa;
        memset(&sa, 0, sizeof(sa));
        socklen_t len;
        if (peers[i].family == 4) {
            struct sockaddr_in *in = (struct sockaddr_in *)&sa;
            in->sin_family = AF_INET;
            memcpy(&in->sin_addr, peers[i].ip, 4);
            in->sin_port = htons(peers[i].port);
            len = sizeof(*in);
        } else {
            struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&sa;
            in6->sin6_family = AF_INET6;
            memcpy(&in6->sin6_addr, peers[i].ip, 16);
            in6->sin6_port = htons(peers[i].port);
            len = sizeof(*in6);
        }
        if (netguard_check_addr(t->ss->local_only, (struct sockaddr *)&sa) != 0)
            continue; /* a tracker handing out outside addresses: not ours to dial */
        /* Our own listening address comes back from the tracker too. */
        if (peers[i].port == t->ss->port && netguard_is_loopback((struct sockaddr *)&sa))
            continue;
        torrent_add_known(t, (struct sockaddr *)&sa, len);
    }
    torrent_dial_now(t, session_now_ms(t->ss));
}

/* Records the outcome of the job in flight and tells the user. */
static void
finish(struct torrent *t, int ok, uint32_t interval, uint32_t min_interval,
       const char *trackerid, int64_t seeders, int64_t leechers, const char *error)
{
    struct announce_job job = t->job;
    const char *url = t->announcer.t[job.tracker].url;
    if (ok)
        session_emit(t->ss, SHOAL_EV_LOG, t, NULL, 0,
                     "tracker %s: %lld seeders, %lld leechers", url, (long long)seeders,
                     (long long)leechers);
    else if (job.event != ANNOUNCER_EV_STOPPED)
        session_emit(t->ss, SHOAL_EV_WARNING, t, NULL, 0, "tracker %s: %s", url, error);
    announcer_done(&t->announcer, &job, ok, interval, min_interval, trackerid, seeders,
                   leechers, error, session_now_ms(t->ss));
    t->job_kind = TRACKER_JOB_NONE;
}

/* ------------------------------------------------------------------ HTTP */

struct http_job {
    struct torrent *t;
    CURL *easy;
    struct buf body;
    char errbuf[CURL_ERROR_SIZE];
};

static size_t
on_body(char *data, size_t size, size_t nmemb, void *user)
{
    struct http_job *job = user;
    size_t n = size * nmemb;
    /* The codec caps replies; past the cap the transfer is cut off. */
    if (buf_append(&job->body, data, n) != 0)
        return 0;
    return n;
}

static curl_socket_t
open_socket(void *user, curlsocktype purpose, struct curl_sockaddr *addr)
{
    struct shoal_session *ss = user;
    (void)purpose;
    if (netguard_check_addr(ss->local_only, &addr->addr) != 0)
        return CURL_SOCKET_BAD;
    return socket(addr->family, addr->socktype | SOCK_CLOEXEC, addr->protocol);
}

static void
http_job_free(struct http_job *job)
{
    if (!job)
        return;
    if (job->easy) {
        curl_multi_remove_handle(job->t->ss->curlm, job->easy);
        curl_easy_cleanup(job->easy);
    }
    buf_cleanup(&job->body);
    xfree(job);
}

static void
http_done(struct http_job *job, CURLcode code)
{
    struct torrent *t = job->t;
    t->http = NULL;
    long status = 0;
    curl_easy_getinfo(job->easy, CURLINFO_RESPONSE_CODE, &status);
    if (code != CURLE_OK) {
        char why[300];
        snprintf(why, sizeof(why), "%s",
                 job->errbuf[0] ? job->errbuf : curl_easy_strerror(code));
        finish(t, 0, 0, 0, NULL, -1, -1, why);
        http_job_free(job);
        return;
    }
    struct tracker_reply r;
    struct shoal_perr err;
    memset(&err, 0, sizeof(err));
    int rc = tracker_http_parse_reply(job->body.data, job->body.len, &r, &err);
    if (rc != 0) {
        char why[300];
        snprintf(why, sizeof(why), "bad reply (HTTP %ld): %s", status,
                 shoal_perr_text(&err));
        finish(t, 0, 0, 0, NULL, -1, -1, why);
    } else if (r.failure[0]) {
        char why[300];
        snprintf(why, sizeof(why), "refused: %s", r.failure);
        finish(t, 0, 0, 0, NULL, -1, -1, why);
    } else {
        if (r.warning[0])
            session_emit(t->ss, SHOAL_EV_WARNING, t, NULL, 0, "tracker warning: %s",
                         r.warning);
        add_peers(t, r.peers, r.npeers);
        finish(t, 1, r.interval, r.min_interval, r.trackerid, r.complete, r.incomplete,
               NULL);
    }
    if (rc == 0)
        tracker_reply_cleanup(&r);
    http_job_free(job);
}

static int
http_start(struct torrent *t, const char *url, const struct tracker_announce *a)
{
    struct shoal_session *ss = t->ss;
    struct http_job *job = xcalloc(1, sizeof(*job));
    if (!job)
        return SHOAL_ENOMEM;
    job->t = t;
    buf_init(&job->body, TRACKER_MAX_REPLY);
    struct buf full;
    buf_init(&full, 8192);
    int rc = tracker_http_announce_url(url, a, &full);
    if (!rc)
        rc = buf_append_byte(&full, 0);
    job->easy = rc ? NULL : curl_easy_init();
    if (!job->easy) {
        buf_cleanup(&full);
        http_job_free(job);
        return rc ? rc : SHOAL_ENOMEM;
    }
    CURL *e = job->easy;
    curl_easy_setopt(e, CURLOPT_URL, (const char *)full.data);
    buf_cleanup(&full);
    curl_easy_setopt(e, CURLOPT_PRIVATE, job);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, job);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, job->errbuf);
    curl_easy_setopt(e, CURLOPT_TIMEOUT, (long)TRACKER_HTTP_TIMEOUT_S);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT, (long)TRACKER_HTTP_CONNECT_TIMEOUT_S);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_USERAGENT, "shoal/" SHOAL_VERSION);
    curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, "");
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_OPENSOCKETFUNCTION, open_socket);
    curl_easy_setopt(e, CURLOPT_OPENSOCKETDATA, ss);
    if (!ss->local_only) {
        curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 1L);
        curl_easy_setopt(e, CURLOPT_MAXREDIRS, (long)TRACKER_HTTP_MAX_REDIRECTS);
        curl_easy_setopt(e, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    }
    if (curl_multi_add_handle(ss->curlm, e) != CURLM_OK) {
        http_job_free(job);
        return SHOAL_ENOMEM;
    }
    t->http = job;
    return 0;
}

/* Collects finished transfers. */
static void
http_check_done(struct shoal_session *ss)
{
    CURLMsg *msg;
    int left;
    while ((msg = curl_multi_info_read(ss->curlm, &left)) != NULL) {
        if (msg->msg != CURLMSG_DONE)
            continue;
        struct http_job *job = NULL;
        curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&job);
        if (job)
            http_done(job, msg->data.result);
    }
}

struct curl_sock {
    struct event *ev;
};

static void
on_curl_event(evutil_socket_t fd, short what, void *arg)
{
    struct shoal_session *ss = arg;
    int flags =
        (what & EV_READ ? CURL_CSELECT_IN : 0) | (what & EV_WRITE ? CURL_CSELECT_OUT : 0);
    int running;
    curl_multi_socket_action(ss->curlm, fd, flags, &running);
    http_check_done(ss);
}

static int
on_curl_socket(CURL *easy, curl_socket_t fd, int what, void *user, void *socketp)
{
    (void)easy;
    struct shoal_session *ss = user;
    struct curl_sock *cs = socketp;
    if (what == CURL_POLL_REMOVE) {
        if (cs) {
            event_free(cs->ev);
            xfree(cs);
            curl_multi_assign(ss->curlm, fd, NULL);
        }
        return 0;
    }
    if (!cs) {
        cs = xcalloc(1, sizeof(*cs));
        if (!cs)
            return -1;
        curl_multi_assign(ss->curlm, fd, cs);
    } else if (cs->ev) {
        event_free(cs->ev);
    }
    short ev = EV_PERSIST | (what & CURL_POLL_IN ? EV_READ : 0) |
               (what & CURL_POLL_OUT ? EV_WRITE : 0);
    cs->ev = event_new(ss->base, fd, ev, on_curl_event, ss);
    if (!cs->ev)
        return -1;
    event_add(cs->ev, NULL);
    return 0;
}

static void
on_curl_timer_fired(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct shoal_session *ss = arg;
    int running;
    curl_multi_socket_action(ss->curlm, CURL_SOCKET_TIMEOUT, 0, &running);
    http_check_done(ss);
}

static int
on_curl_timer(CURLM *multi, long timeout_ms, void *user)
{
    (void)multi;
    struct shoal_session *ss = user;
    if (timeout_ms < 0) {
        evtimer_del(ss->curl_timer);
        return 0;
    }
    struct timeval tv = {timeout_ms / 1000, (timeout_ms % 1000) * 1000};
    evtimer_add(ss->curl_timer, &tv);
    return 0;
}

/* ------------------------------------------------------------------ UDP */

static int
udp_send(struct torrent *t)
{
    struct shoal_session *ss = t->ss;
    struct udp_job *u = &t->udp;
    uint8_t pkt[TRACKER_UDP_MAX_REQUEST];
    size_t n;
    u->tid = (uint32_t)session_random(ss);
    if (!u->connected) {
        n = tracker_udp_connect_req(pkt, u->tid);
    } else {
        struct tracker_announce a;
        fill_announce(t, t->job.event, &a);
        n = tracker_udp_announce_req(pkt, sizeof(pkt), u->conn_id, u->tid, &a, 0,
                                     u->urldata[0] ? u->urldata : NULL);
    }
    int fd = u->sa.ss_family == AF_INET6 ? ss->udp6 : ss->udp4;
    socklen_t len = u->sa.ss_family == AF_INET6 ? sizeof(struct sockaddr_in6)
                                                : sizeof(struct sockaddr_in);
    if (fd < 0 || n == 0)
        return SHOAL_EINVAL;
    if (sendto(fd, pkt, n, 0, (struct sockaddr *)&u->sa, len) < 0)
        return -errno;
    /* Retransmit schedule: short first tries, then BEP 15's 15 * 2^n s. */
    uint64_t wait = u->attempt == 0
                        ? TRACKER_UDP_FIRST_TIMEOUT_MS
                        : (uint64_t)tracker_udp_timeout_s(u->attempt - 1) * 1000;
    u->deadline_ms = session_now_ms(ss) + wait;
    return 0;
}

static int
udp_start(struct torrent *t, const char *url)
{
    struct shoal_session *ss = t->ss;
    struct udp_job *u = &t->udp;
    char host[256];
    uint16_t port;
    memset(u, 0, sizeof(*u));
    if (tracker_udp_parse_url(url, host, sizeof(host), &port, u->urldata,
                              sizeof(u->urldata)) != 0)
        return SHOAL_EINVAL;
    if (netguard_check_name(ss->local_only, host) != 0)
        return SHOAL_ELOCALONLY;
    /* Numeric hosts and localhost only need no DNS; names are resolved with
     * the system resolver (a later release moves this onto evdns). */
    struct addrinfo hints = {.ai_socktype = SOCK_DGRAM, .ai_family = AF_UNSPEC};
    struct addrinfo *res = NULL;
    char ps[8];
    snprintf(ps, sizeof(ps), "%u", port);
    if (getaddrinfo(host, ps, &hints, &res) != 0 || !res)
        return SHOAL_EINVAL;
    int rc = SHOAL_EINVAL;
    for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
        if (netguard_check_addr(ss->local_only, ai->ai_addr) != 0) {
            rc = SHOAL_ELOCALONLY;
            continue;
        }
        if ((ai->ai_family == AF_INET && ss->udp4 < 0) ||
            (ai->ai_family == AF_INET6 && ss->udp6 < 0))
            continue;
        memcpy(&u->sa, ai->ai_addr, ai->ai_addrlen);
        rc = 0;
        break;
    }
    freeaddrinfo(res);
    if (rc)
        return rc;
    /* A connection id stays good for a minute (BEP 15). */
    if (t->udp_conn_valid_until > session_now_ms(ss) &&
        t->udp_conn_url == t->job.tracker) {
        u->connected = 1;
        u->conn_id = t->udp_conn_id;
    }
    u->active = 1;
    return udp_send(t);
}

static void
udp_packet(struct shoal_session *ss, const uint8_t *p, size_t n,
           const struct sockaddr_storage *from)
{
    if (n < 8)
        return;
    uint32_t tid =
        (uint32_t)p[4] << 24 | (uint32_t)p[5] << 16 | (uint32_t)p[6] << 8 | p[7];
    for (struct torrent *t = ss->torrents; t; t = t->next) {
        struct udp_job *u = &t->udp;
        if (!u->active || u->tid != tid || u->sa.ss_family != from->ss_family)
            continue;
        struct tracker_udp_response r;
        struct shoal_perr err;
        memset(&err, 0, sizeof(err));
        int family = from->ss_family == AF_INET6 ? 6 : 4;
        if (tracker_udp_parse_response(p, n, tid, family, &r, &err) != 0) {
            u->active = 0;
            char why[300];
            snprintf(why, sizeof(why), "bad UDP reply: %s", shoal_perr_text(&err));
            finish(t, 0, 0, 0, NULL, -1, -1, why);
            return;
        }
        if (r.action == TRACKER_UDP_ERROR) {
            u->active = 0;
            char why[300];
            snprintf(why, sizeof(why), "refused: %s", r.error);
            finish(t, 0, 0, 0, NULL, -1, -1, why);
        } else if (r.action == TRACKER_UDP_CONNECT && !u->connected) {
            u->connected = 1;
            u->conn_id = r.conn_id;
            u->attempt = 0;
            t->udp_conn_id = r.conn_id;
            t->udp_conn_url = t->job.tracker;
            t->udp_conn_valid_until =
                session_now_ms(ss) + (uint64_t)TRACKER_UDP_CONN_ID_TTL_S * 1000;
            if (udp_send(t) != 0) {
                u->active = 0;
                finish(t, 0, 0, 0, NULL, -1, -1, "cannot send to the tracker");
            }
        } else if (r.action == TRACKER_UDP_ANNOUNCE && u->connected) {
            u->active = 0;
            add_peers(t, r.peers, r.npeers);
            finish(t, 1, r.interval, 0, NULL, r.seeders, r.leechers, NULL);
        }
        tracker_udp_response_cleanup(&r);
        return;
    }
}

static void
on_udp_read(evutil_socket_t fd, short what, void *arg)
{
    (void)what;
    struct shoal_session *ss = arg;
    uint8_t buf[2048];
    /* Drain what is queued, but bounded per wake-up. */
    for (int i = 0; i < 64; i++) {
        struct sockaddr_storage from;
        socklen_t len = sizeof(from);
        ssize_t n = recvfrom(fd, buf, sizeof(buf), 0, (struct sockaddr *)&from, &len);
        if (n < 0)
            return;
        udp_packet(ss, buf, (size_t)n, &from);
    }
}

static void
udp_tick(struct torrent *t, uint64_t now)
{
    struct udp_job *u = &t->udp;
    if (!u->active || now < u->deadline_ms)
        return;
    u->attempt++;
    if (tracker_udp_give_up(u->attempt) || u->attempt > TRACKER_UDP_CLIENT_MAX_TRIES) {
        u->active = 0;
        finish(t, 0, 0, 0, NULL, -1, -1, "no answer from the UDP tracker");
        return;
    }
    if (udp_send(t) != 0) {
        u->active = 0;
        finish(t, 0, 0, 0, NULL, -1, -1, "cannot send to the UDP tracker");
    }
}

static int
udp_socket(struct shoal_session *ss, int family, struct event **ev)
{
    int fd = socket(family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    if (family == AF_INET6) {
        int one = 1;
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
    }
    *ev = event_new(ss->base, fd, EV_READ | EV_PERSIST, on_udp_read, ss);
    if (!*ev) {
        close(fd);
        return -1;
    }
    event_add(*ev, NULL);
    return fd;
}

/* ------------------------------------------------------------------ public */

int
tracker_client_init(struct shoal_session *ss)
{
    ss->udp4 = ss->udp6 = -1;
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        return SHOAL_ENOMEM;
    ss->curl_inited = 1;
    ss->curlm = curl_multi_init();
    ss->curl_timer = evtimer_new(ss->base, on_curl_timer_fired, ss);
    if (!ss->curlm || !ss->curl_timer)
        return SHOAL_ENOMEM;
    curl_multi_setopt(ss->curlm, CURLMOPT_SOCKETFUNCTION, on_curl_socket);
    curl_multi_setopt(ss->curlm, CURLMOPT_SOCKETDATA, ss);
    curl_multi_setopt(ss->curlm, CURLMOPT_TIMERFUNCTION, on_curl_timer);
    curl_multi_setopt(ss->curlm, CURLMOPT_TIMERDATA, ss);
    ss->udp4 = udp_socket(ss, AF_INET, &ss->udp4_ev);
    ss->udp6 = udp_socket(ss, AF_INET6, &ss->udp6_ev);
    return 0;
}

void
tracker_client_cleanup(struct shoal_session *ss)
{
    for (struct torrent *t = ss->torrents; t; t = t->next) {
        http_job_free(t->http);
        t->http = NULL;
    }
    if (ss->curlm)
        curl_multi_cleanup(ss->curlm);
    ss->curlm = NULL;
    if (ss->curl_timer)
        event_free(ss->curl_timer);
    ss->curl_timer = NULL;
    if (ss->udp4_ev)
        event_free(ss->udp4_ev);
    if (ss->udp6_ev)
        event_free(ss->udp6_ev);
    ss->udp4_ev = ss->udp6_ev = NULL;
    if (ss->udp4 >= 0)
        close(ss->udp4);
    if (ss->udp6 >= 0)
        close(ss->udp6);
    ss->udp4 = ss->udp6 = -1;
    if (ss->curl_inited)
        curl_global_cleanup();
    ss->curl_inited = 0;
}

void
tracker_client_tick(struct torrent *t, uint64_t now)
{
    if (t->job_kind == TRACKER_JOB_UDP)
        udp_tick(t, now);
    if (t->job_kind != TRACKER_JOB_NONE)
        return;
    uint64_t wake;
    if (!announcer_next(&t->announcer, now, &t->job, &wake))
        return;
    const char *url = t->announcer.t[t->job.tracker].url;
    int rc;
    if (!strncmp(url, "udp://", 6)) {
        t->job_kind = TRACKER_JOB_UDP;
        rc = udp_start(t, url);
    } else {
        t->job_kind = TRACKER_JOB_HTTP;
        struct tracker_announce a;
        fill_announce(t, t->job.event, &a);
        rc = http_start(t, url, &a);
    }
    if (rc) {
        if (t->job_kind == TRACKER_JOB_UDP)
            t->udp.active = 0;
        finish(t, 0, 0, 0, NULL, -1, -1,
               rc == SHOAL_ELOCALONLY ? "refused by local-only mode"
                                      : shoal_strerror(rc));
    }
}

int
tracker_client_idle(const struct torrent *t)
{
    return t->job_kind == TRACKER_JOB_NONE;
}
