/*
 * server/tracker.c — `shoal tracker`: an HTTP and UDP (BEP 15) tracker on
 * one libevent loop. Server layer: requests are parsed by the pure codecs in
 * tracker_req.c, swarms live in swarm_table.c (compact records, a sweeper
 * for expiry, a hard memory bound with eviction), HTTP connections are
 * admitted and held to their deadlines by http_guard.c, and this file only
 * moves bytes and applies the per-address rate limit.
 *
 * Endpoints: GET /announce, GET /scrape, GET /stats (JSON), GET / (an HTML
 * page listing swarms). Every malformed request gets the protocol's failure
 * reply (HTTP "failure reason", UDP action 3) or is dropped; nothing a
 * client sends can make the server allocate without bound.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "base/alloc.h"
#include "base/buf.h"
#include "base/clock.h"
#include "base/file.h"
#include "base/netguard.h"
#include "base/rng.h"
#include "base/sockaddr.h"
#include "base/util.h"
#include "codec/tracker_req.h"
#include "engine/swarm_table.h"
#include "server/http_guard.h"
#include "session/listen_guard.h"
#include "shoal.h"

/* Announce interval handed to clients; peers expire after twice that. */
#define TRACKER_DEFAULT_INTERVAL 1800
/* Requests per second (and burst) allowed per client address. */
#define TRACKER_DEFAULT_RATE 100
#define TRACKER_RATE_BURST   200
/* Rate-limit buckets: a fixed table, so a flood of addresses costs nothing
 * more (addresses that collide share a bucket). */
#define TRACKER_RATE_SLOTS 65536
/* HTTP limits: header bytes, and seconds a connection may idle between two
 * reads (http_guard.c bounds each whole request more tightly). */
#define TRACKER_HTTP_MAX_HEADERS 8192
#define TRACKER_HTTP_TIMEOUT_S   15
/* UDP datagrams handled per wake-up (recvmmsg batch). */
#define TRACKER_UDP_BATCH      64
#define TRACKER_UDP_MAX_PACKET 2048
/* Peers expired per sweeper tick (once a second). */
#define TRACKER_SWEEP_BUDGET 200000
/* Swarms listed on the HTML page. */
#define TRACKER_HTML_MAX 1000
/* Largest whitelist file read (about 1.6 million infohashes, one a line). */
#define TRACKER_MAX_WHITELIST (64u * 1024 * 1024)

struct rate_slot {
    uint64_t ms; /* last refill */
    double tokens;
};

struct shoal_tracker {
    struct shoal_tracker_settings cfg;
    struct event_base *base;
    struct evhttp *http;
    struct http_guard *http_guard;
    struct listen_guard *listen_guard;
    int http_port;
    int udp_fd;
    int udp_port;
    struct event *udp_ev;
    struct event *sweep_ev;
    struct event *stop_ev;
    int stop_fd;
    struct swarm_table *table;
    uint8_t key[32];
    uint64_t rng;
    struct rate_slot *rate;
    uint64_t n_http, n_udp, n_failed, n_limited;
};

/* ------------------------------------------------------------------ rate */

static uint32_t
addr_hash(const struct sockaddr *sa, const uint8_t key[32])
{
    uint8_t p[16];
    size_t n = sockaddr_ip_bytes(sa, 0, p);
    uint32_t h = 2166136261u ^ key[0] ^ (uint32_t)key[1] << 8;
    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= 16777619u;
    }
    return h;
}

/* 1 when the client may be served at `now` (monotonic ms; token bucket per
 * address). */
static int
rate_ok(struct shoal_tracker *tr, const struct sockaddr *sa, uint64_t now)
{
    struct rate_slot *s = &tr->rate[addr_hash(sa, tr->key) % TRACKER_RATE_SLOTS];
    double rate = tr->cfg.rate_per_ip;
    /* The bucket holds a tenth of a second's worth, at least the burst. */
    double burst = rate / 10 > TRACKER_RATE_BURST ? rate / 10 : TRACKER_RATE_BURST;
    if (s->ms == 0)
        s->tokens = burst;
    else
        s->tokens += (double)(now - s->ms) * rate / 1000.0;
    if (s->tokens > burst)
        s->tokens = burst;
    s->ms = now;
    if (s->tokens < 1.0) {
        tr->n_limited++;
        return 0;
    }
    s->tokens -= 1.0;
    return 1;
}

/* ------------------------------------------------------------------ announces */

/* Fills a swarm_announce from an address; IPv4-mapped IPv6 counts as IPv4. */
static void
set_addr(struct swarm_announce *a, const struct sockaddr *sa)
{
    memset(a->ip, 0, sizeof(a->ip));
    a->family = sockaddr_ip_bytes(sa, SOCKADDR_UNMAP_V4, a->ip) == 16 ? 6 : 4;
}

static const char *
announce_error(int rc)
{
    if (rc == SWARM_ENOTREGISTERED)
        return "unregistered torrent";
    if (rc == SHOAL_ETOOBIG)
        return "tracker is full, try later";
    return "announce failed";
}

/* ------------------------------------------------------------------ HTTP */

static void
reply_buf(struct evhttp_request *req, int code, const char *type, const struct buf *b)
{
    struct evbuffer *out = evbuffer_new();
    if (!out) {
        evhttp_send_error(req, 500, NULL);
        return;
    }
    evbuffer_add(out, b->data, b->len);
    evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type", type);
    evhttp_send_reply(req, code, code == 200 ? "OK" : "Error", out);
    evbuffer_free(out);
}

static void
reply_failure(struct shoal_tracker *tr, struct evhttp_request *req, const char *why)
{
    struct buf b;
    buf_init(&b, 1024);
    tr->n_failed++;
    tracker_req_encode_failure(&b, why);
    reply_buf(req, 200, "text/plain", &b);
    buf_cleanup(&b);
}

/* The client's address as a sockaddr. */
static int
peer_addr(struct evhttp_request *req, struct sockaddr_storage *ss)
{
    struct evhttp_connection *conn = evhttp_request_get_connection(req);
    const struct sockaddr *sa = evhttp_connection_get_addr(conn);
    if (!sa)
        return -1;
    memcpy(ss, sa, sockaddr_len(sa->sa_family));
    return 0;
}

static void
http_announce(struct shoal_tracker *tr, struct evhttp_request *req, const char *query,
              const struct sockaddr *client)
{
    struct tracker_req_announce r;
    struct shoal_perr err;
    memset(&err, 0, sizeof(err));
    if (tracker_req_parse_announce(query, strlen(query), &r, &err) != 0) {
        reply_failure(tr, req, shoal_perr_text(&err));
        return;
    }
    struct swarm_announce a;
    memset(&a, 0, sizeof(a));
    memcpy(a.info_hash, r.info_hash, 20);
    set_addr(&a, client);
    a.port = r.port;
    a.left = r.left;
    a.event = r.event;
    uint8_t p4[TRACKER_REQ_NUMWANT_MAX * SWARM_REC4];
    uint8_t p6[TRACKER_REQ_NUMWANT_MAX * SWARM_REC6];
    size_t n4 = 0, n6 = 0;
    int own6 = a.family == 6;
    /* The client's own family comes with the announce (one lookup); the
     * other family has no asker to leave out, but a seeder still gets only
     * leechers from it. */
    struct swarm_stats st;
    int rc = swarm_table_announce_sample(
        tr->table, &a, clock_now_ms() / 1000, &st, r.numwant, &tr->rng, own6 ? p6 : p4,
        own6 ? sizeof(p6) : sizeof(p4), own6 ? &n6 : &n4);
    if (rc != 0) {
        reply_failure(tr, req, announce_error(rc));
        return;
    }
    tr->n_http++;
    if (r.event != TRACKER_REQ_EVENT_STOPPED) {
        int seeder = a.left == 0;
        if (own6)
            n4 = swarm_table_sample_other(tr->table, r.info_hash, 4, r.numwant, seeder,
                                          &tr->rng, p4, sizeof(p4));
        else
            n6 = swarm_table_sample_other(tr->table, r.info_hash, 6, r.numwant, seeder,
                                          &tr->rng, p6, sizeof(p6));
    }
    struct buf b;
    buf_init(&b, 64 * 1024);
    tracker_req_encode_announce_reply(&b, tr->cfg.interval, tr->cfg.interval / 2,
                                      st.seeders, st.leechers, p4, n4, p6, n6, r.compact,
                                      NULL);
    reply_buf(req, 200, "text/plain", &b);
    buf_cleanup(&b);
}

static void
http_scrape(struct shoal_tracker *tr, struct evhttp_request *req, const char *query)
{
    uint8_t ih[TRACKER_REQ_MAX_SCRAPE][20];
    size_t n = 0;
    struct shoal_perr err;
    memset(&err, 0, sizeof(err));
    if (tracker_req_parse_scrape(query, strlen(query), ih, TRACKER_REQ_MAX_SCRAPE, &n,
                                 &err)) {
        reply_failure(tr, req, shoal_perr_text(&err));
        return;
    }
    if (n == 0) {
        reply_failure(tr, req, "full scrape is not offered; name info_hash values");
        return;
    }
    struct tracker_req_scrape_entry e[TRACKER_REQ_MAX_SCRAPE];
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        struct swarm_stats st;
        if (swarm_table_scrape(tr->table, ih[i], &st) != 0)
            continue;
        memcpy(e[k].info_hash, ih[i], 20);
        e[k].complete = st.seeders;
        e[k].incomplete = st.leechers;
        e[k].downloaded = st.completed;
        k++;
    }
    struct buf b;
    buf_init(&b, 64 * 1024);
    tracker_req_encode_scrape_reply(&b, e, k);
    reply_buf(req, 200, "text/plain", &b);
    buf_cleanup(&b);
}

static void
http_stats(struct shoal_tracker *tr, struct evhttp_request *req)
{
    struct swarm_table_totals t;
    swarm_table_stats(tr->table, &t);
    struct http_guard_stats hs;
    http_guard_get_stats(tr->http_guard, &hs);
    struct buf b;
    buf_init(&b, 4096);
    buf_printf(&b,
               "{\"swarms\": %zu, \"peers\": %zu, \"peers6\": %zu, \"seeders\": %zu, "
               "\"leechers\": %zu, \"memory_bytes\": %zu, \"announces_http\": %llu, "
               "\"announces_udp\": %llu, \"failures\": %llu, \"rate_limited\": %llu, "
               "\"evicted_swarms\": %llu, \"expired_peers\": %llu, \"interval\": %u, "
               "\"http_connections\": %zu, \"http_expired\": %llu, \"http_replaced\": "
               "%llu}\n",
               t.swarms, t.peers, t.peers6, t.seeders, t.peers - t.seeders, t.mem_bytes,
               (unsigned long long)tr->n_http, (unsigned long long)tr->n_udp,
               (unsigned long long)tr->n_failed, (unsigned long long)tr->n_limited,
               (unsigned long long)t.evicted_swarms, (unsigned long long)t.expired_peers,
               tr->cfg.interval, hs.conns, (unsigned long long)hs.expired,
               (unsigned long long)hs.evicted);
    reply_buf(req, 200, "application/json", &b);
    buf_cleanup(&b);
}

struct html_ctx {
    struct buf *b;
    size_t n;
};

static int
html_row(const uint8_t ih[20], const struct swarm_stats *st, void *user)
{
    struct html_ctx *c = user;
    char hex[41];
    hex_encode(ih, 20, hex);
    buf_printf(c->b,
               "<tr><td><code>%s</code></td><td>%u</td><td>%u</td><td>%u</td></tr>\n",
               hex, st->seeders, st->leechers, st->completed);
    return ++c->n < TRACKER_HTML_MAX ? 0 : 1;
}

static void
http_index(struct shoal_tracker *tr, struct evhttp_request *req)
{
    struct swarm_table_totals t;
    swarm_table_stats(tr->table, &t);
    struct buf b;
    buf_init(&b, 1024 * 1024);
    buf_printf(&b,
               "<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>shoal "
               "tracker</title></head><body>\n<h1>shoal tracker</h1>\n<p>%zu swarms, %zu "
               "peers (%zu seeders). <a href=\"/stats\">stats (JSON)</a></p>\n<table "
               "border=\"1\"><tr><th>infohash</th><th>seeders</th><th>leechers</th>"
               "<th>completed</th></tr>\n",
               t.swarms, t.peers, t.seeders);
    struct html_ctx c = {&b, 0};
    swarm_table_foreach(tr->table, html_row, &c);
    buf_printf(&b, "</table>%s</body></html>\n",
               c.n >= TRACKER_HTML_MAX ? "<p>(first swarms only)</p>" : "");
    reply_buf(req, 200, "text/html; charset=utf-8", &b);
    buf_cleanup(&b);
}

static void
on_http(struct evhttp_request *req, void *arg)
{
    struct shoal_tracker *tr = arg;
    struct sockaddr_storage client;
    if (evhttp_request_get_command(req) != EVHTTP_REQ_GET ||
        peer_addr(req, &client) != 0) {
        evhttp_send_error(req, 405, "only GET");
        return;
    }
    if (!rate_ok(tr, (struct sockaddr *)&client, clock_now_ms())) {
        evhttp_send_error(req, 429, "too many requests");
        return;
    }
    const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
    const char *path = uri ? evhttp_uri_get_path(uri) : NULL;
    const char *query = uri ? evhttp_uri_get_query(uri) : NULL;
    if (!path) {
        evhttp_send_error(req, 400, "bad request");
        return;
    }
    if (!strcmp(path, "/announce"))
        http_announce(tr, req, query ? query : "", (struct sockaddr *)&client);
    else if (!strcmp(path, "/scrape"))
        http_scrape(tr, req, query ? query : "");
    else if (!strcmp(path, "/stats"))
        http_stats(tr, req);
    else if (!strcmp(path, "/"))
        http_index(tr, req);
    else
        evhttp_send_error(req, 404, "not found");
}

/* ------------------------------------------------------------------ UDP */

/* Answers one datagram into out[0..cap); returns the reply's length (0:
 * no reply). now is in monotonic seconds. out may be the datagram's own
 * buffer: whatever the reply needs from the request is copied out (parsed,
 * or scrape entries built) before the first byte of the reply is written. */
static size_t
udp_handle(struct shoal_tracker *tr, const uint8_t *p, size_t n,
           const struct sockaddr *client, uint64_t now, uint8_t *out, size_t cap)
{
    struct tracker_req_udp r;
    struct shoal_perr err;
    memset(&err, 0, sizeof(err));
    if (tracker_req_parse_udp(p, n, &r, &err) != 0) {
        /* BEP 15: answer with an error when there is a transaction id. */
        if (n < 16)
            return 0;
        uint32_t tid =
            (uint32_t)p[12] << 24 | (uint32_t)p[13] << 16 | (uint32_t)p[14] << 8 | p[15];
        tr->n_failed++;
        return tracker_req_udp_error_resp(out, cap, tid, shoal_perr_text(&err));
    }
    if (r.action == TRACKER_REQ_CONNECT)
        return tracker_req_udp_connect_resp(out, r.tid,
                                            tracker_req_conn_id(tr->key, client, now));
    if (!tracker_req_conn_id_ok(tr->key, client, r.conn_id, now)) {
        tr->n_failed++;
        return tracker_req_udp_error_resp(out, cap, r.tid, "bad connection id");
    }
    if (r.action == TRACKER_REQ_SCRAPE) {
        struct tracker_req_scrape_entry e[TRACKER_REQ_UDP_MAX_SCRAPE];
        for (size_t i = 0; i < r.nhashes; i++) {
            struct swarm_stats st = {0, 0, 0};
            swarm_table_scrape(tr->table, r.hashes + 20 * i, &st);
            memcpy(e[i].info_hash, r.hashes + 20 * i, 20);
            e[i].complete = st.seeders;
            e[i].incomplete = st.leechers;
            e[i].downloaded = st.completed;
        }
        return tracker_req_udp_scrape_resp(out, cap, r.tid, e, r.nhashes);
    }
    struct swarm_announce a;
    memset(&a, 0, sizeof(a));
    memcpy(a.info_hash, r.info_hash, 20);
    set_addr(&a, client);
    a.port = r.port;
    a.left = r.left;
    a.event = (int)r.event;
    /* The peers go straight into the reply, after its header. BEP 15 gives
     * peers of the client's family: an IPv4 client on an IPv6 socket
     * (v4-mapped) counts as IPv4, like everywhere in this server. */
    size_t room = cap - TRACKER_REQ_UDP_ANNOUNCE_HDR;
    size_t np = 0;
    struct swarm_stats st;
    int rc = swarm_table_announce_sample(tr->table, &a, now, &st, r.numwant, &tr->rng,
                                         out + TRACKER_REQ_UDP_ANNOUNCE_HDR, room, &np);
    if (rc != 0) {
        tr->n_failed++;
        return tracker_req_udp_error_resp(out, cap, r.tid, announce_error(rc));
    }
    tr->n_udp++;
    return tracker_req_udp_announce_resp(out, cap, r.tid, tr->cfg.interval, st.leechers,
                                         st.seeders, NULL, np);
}

static void
on_udp(evutil_socket_t fd, short what, void *arg)
{
    (void)what;
    struct shoal_tracker *tr = arg;
    /* Each reply is written over its request: half the buffers, and the
     * reply goes into cache lines the request just brought in. */
    static __thread uint8_t buf[TRACKER_UDP_BATCH][TRACKER_UDP_MAX_PACKET];
    struct mmsghdr rmsg[TRACKER_UDP_BATCH], smsg[TRACKER_UDP_BATCH];
    struct iovec riov[TRACKER_UDP_BATCH], siov[TRACKER_UDP_BATCH];
    struct sockaddr_storage from[TRACKER_UDP_BATCH];
    memset(rmsg, 0, sizeof(rmsg));
    for (int i = 0; i < TRACKER_UDP_BATCH; i++) {
        riov[i].iov_base = buf[i];
        riov[i].iov_len = sizeof(buf[i]);
        rmsg[i].msg_hdr.msg_iov = &riov[i];
        rmsg[i].msg_hdr.msg_iovlen = 1;
        rmsg[i].msg_hdr.msg_name = &from[i];
        rmsg[i].msg_hdr.msg_namelen = sizeof(from[i]);
    }
    int n = recvmmsg(fd, rmsg, TRACKER_UDP_BATCH, MSG_DONTWAIT, NULL);
    if (n <= 0)
        return;
    /* One clock read per batch: a batch takes well under a millisecond. */
    uint64_t ms = clock_now_ms();
    int ns = 0;
    for (int i = 0; i < n; i++) {
        const struct sockaddr *client = (const struct sockaddr *)&from[i];
        if (!rate_ok(tr, client, ms))
            continue;
        size_t len = udp_handle(tr, buf[i], rmsg[i].msg_len, client, ms / 1000, buf[i],
                                sizeof(buf[i]));
        if (len == 0)
            continue;
        memset(&smsg[ns], 0, sizeof(smsg[ns]));
        siov[ns].iov_base = buf[i];
        siov[ns].iov_len = len;
        smsg[ns].msg_hdr.msg_iov = &siov[ns];
        smsg[ns].msg_hdr.msg_iovlen = 1;
        smsg[ns].msg_hdr.msg_name = &from[i];
        smsg[ns].msg_hdr.msg_namelen = rmsg[i].msg_hdr.msg_namelen;
        ns++;
    }
    /* sendmmsg stops at the first datagram that fails; the rest go in
     * another call, unless the socket is full (then they are dropped, as a
     * network would drop them). */
    for (int sent = 0; sent < ns;) {
        int r = sendmmsg(fd, smsg + sent, (unsigned)(ns - sent), MSG_DONTWAIT);
        if (r > 0) {
            sent += r;
            continue;
        }
        if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOBUFS)) {
            tr->n_failed += (uint64_t)(ns - sent);
            break;
        }
        /* This datagram cannot go (e.g. an address the route refuses). */
        tr->n_failed++;
        sent++;
    }
}

/* ------------------------------------------------------------------ setup */

static void
on_sweep(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct shoal_tracker *tr = arg;
    swarm_table_sweep(tr->table, clock_now_ms() / 1000, TRACKER_SWEEP_BUDGET);
}

static void
on_stop(evutil_socket_t fd, short what, void *arg)
{
    (void)what;
    uint64_t v;
    ssize_t r = read(fd, &v, sizeof(v));
    (void)r;
    event_base_loopbreak(((struct shoal_tracker *)arg)->base);
}

static int
load_whitelist(struct shoal_tracker *tr, const char *path, struct shoal_perr *err)
{
    uint8_t *data;
    size_t len;
    enum file_step step;
    int rc = file_read_capped(path, TRACKER_MAX_WHITELIST, 0, &data, &len, &step);
    if (rc) {
        err->why = step == FILE_STEP_SIZE ? "the whitelist is larger than 64 MiB"
                                          : "cannot read the whitelist";
        return rc;
    }
    size_t lineno = 0;
    for (size_t at = 0; at < len && rc == 0;) {
        const uint8_t *nl = memchr(data + at, '\n', len - at);
        size_t end = nl ? (size_t)(nl - data) : len;
        const char *line = (const char *)data + at;
        lineno++;
        at = end + 1;
        /* An infohash, then optionally blanks and a # comment. */
        size_t n = 0;
        while (line + n < (const char *)data + end && !strchr(" \t\r#", line[n]))
            n++;
        if (n == 0)
            continue;
        uint8_t ih[20];
        if (n != 40 || hex_decode(line, ih, 20) != 0) {
            err->off = lineno;
            err->why = "whitelist lines must be 40 hex digits";
            snprintf(err->msg, sizeof(err->msg),
                     "whitelist line %zu is not a 40-digit infohash", lineno);
            rc = SHOAL_EPARSE;
            break;
        }
        rc = swarm_table_register(tr->table, ih);
    }
    xfree(data);
    return rc;
}

void
shoal_tracker_settings_init(struct shoal_tracker_settings *s)
{
    memset(s, 0, sizeof(*s));
    s->interval = TRACKER_DEFAULT_INTERVAL;
    s->rate_per_ip = TRACKER_DEFAULT_RATE;
}

int
shoal_tracker_new(const struct shoal_tracker_settings *cfg, shoal_tracker **out,
                  struct shoal_perr *err)
{
    struct shoal_perr scratch;
    if (!err)
        err = &scratch;
    memset(err, 0, sizeof(*err));
    *out = NULL;
    struct shoal_tracker *tr = xcalloc(1, sizeof(*tr));
    if (!tr)
        return SHOAL_ENOMEM;
    int rc = SHOAL_ENOMEM;
    tr->cfg = *cfg;
    tr->udp_fd = tr->stop_fd = -1;
    if (!tr->cfg.interval)
        tr->cfg.interval = TRACKER_DEFAULT_INTERVAL;
    if (!tr->cfg.rate_per_ip)
        tr->cfg.rate_per_ip = TRACKER_DEFAULT_RATE;
    int local_only = cfg->local_only || netguard_env_local_only();
    int seeded = rng_bytes(tr->key, sizeof(tr->key));
    if (seeded != 0) {
        xfree(tr);
        return seeded;
    }
    memcpy(&tr->rng, tr->key + 8, 8);
    tr->rng |= 1;
    struct swarm_table_cfg tc = {
        .max_swarms = cfg->max_swarms,
        .max_peers_total = cfg->max_peers,
        .peer_timeout_s = 2 * tr->cfg.interval,
        .open = cfg->whitelist == NULL,
    };
    memcpy(&tc.seed, tr->key + 16, 8);
    tr->table = swarm_table_new(&tc);
    tr->rate = xcalloc(TRACKER_RATE_SLOTS, sizeof(*tr->rate));
    tr->base = event_base_new();
    if (!tr->table || !tr->rate || !tr->base)
        goto fail;
    if (cfg->whitelist) {
        rc = load_whitelist(tr, cfg->whitelist, err);
        if (rc)
            goto fail;
    }
    if (cfg->http_addr) {
        struct sockaddr_storage ss;
        char host[SOCKADDR_HOST_MAX];
        uint16_t port;
        rc = SHOAL_EINVAL;
        if (sockaddr_split_hostport(cfg->http_addr, SOCKADDR_ANY_PORT, host, sizeof(host),
                                    &port) != 0 ||
            sockaddr_from_ip(host, port, &ss, NULL) != 0) {
            err->why = "--http wants ADDR:PORT, e.g. 127.0.0.1:6969";
            goto fail;
        }
        if (local_only && !netguard_is_loopback((struct sockaddr *)&ss)) {
            rc = SHOAL_ELOCALONLY;
            err->why = "local-only mode: the tracker may listen on loopback only";
            goto fail;
        }
        tr->http = evhttp_new(tr->base);
        if (!tr->http)
            goto fail;
        evhttp_set_max_headers_size(tr->http, TRACKER_HTTP_MAX_HEADERS);
        evhttp_set_max_body_size(tr->http, 0);
        evhttp_set_timeout(tr->http, TRACKER_HTTP_TIMEOUT_S);
        evhttp_set_allowed_methods(tr->http, EVHTTP_REQ_GET);
        tr->http_guard = http_guard_new(tr->base, tr->http, NULL, on_http, tr);
        if (!tr->http_guard)
            goto fail;
        struct evhttp_bound_socket *bs =
            evhttp_bind_socket_with_handle(tr->http, host, port);
        if (!bs) {
            rc = -EADDRINUSE;
            err->why = "cannot listen on the HTTP address";
            goto fail;
        }
        tr->listen_guard =
            listen_guard_new(evhttp_bound_socket_get_listener(bs), "http listener",
                             tr->cfg.log, tr->cfg.log_user);
        if (!tr->listen_guard)
            goto fail;
        tr->http_port = sockaddr_bound_port(evhttp_bound_socket_get_fd(bs));
    }
    if (cfg->udp_addr) {
        struct sockaddr_storage ss;
        socklen_t len;
        rc = SHOAL_EINVAL;
        if (sockaddr_parse(cfg->udp_addr, SOCKADDR_ANY_PORT, &ss, &len) != 0) {
            err->why = "--udp wants ADDR:PORT, e.g. 127.0.0.1:6969";
            goto fail;
        }
        if (local_only && !netguard_is_loopback((struct sockaddr *)&ss)) {
            rc = SHOAL_ELOCALONLY;
            err->why = "local-only mode: the tracker may listen on loopback only";
            goto fail;
        }
        tr->udp_fd = socket(ss.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (tr->udp_fd < 0 || bind(tr->udp_fd, (struct sockaddr *)&ss, len) != 0) {
            rc = -errno;
            err->why = "cannot listen on the UDP address";
            goto fail;
        }
        int big = 4 * 1024 * 1024;
        setsockopt(tr->udp_fd, SOL_SOCKET, SO_RCVBUF, &big, sizeof(big));
        tr->udp_port = sockaddr_bound_port(tr->udp_fd);
        tr->udp_ev = event_new(tr->base, tr->udp_fd, EV_READ | EV_PERSIST, on_udp, tr);
        if (!tr->udp_ev)
            goto fail;
        event_add(tr->udp_ev, NULL);
    }
    if (!cfg->http_addr && !cfg->udp_addr) {
        rc = SHOAL_EINVAL;
        err->why = "nothing to listen on: give --http and/or --udp";
        goto fail;
    }
    tr->sweep_ev = event_new(tr->base, -1, EV_PERSIST, on_sweep, tr);
    tr->stop_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (!tr->sweep_ev || tr->stop_fd < 0)
        goto fail;
    tr->stop_ev = event_new(tr->base, tr->stop_fd, EV_READ | EV_PERSIST, on_stop, tr);
    if (!tr->stop_ev)
        goto fail;
    struct timeval sec = {1, 0};
    event_add(tr->sweep_ev, &sec);
    event_add(tr->stop_ev, NULL);
    *out = tr;
    return 0;
fail:
    if (!err->why)
        err->why = shoal_strerror(rc);
    shoal_tracker_free(tr);
    return rc;
}

int
shoal_tracker_http_port(const shoal_tracker *tr)
{
    return tr->http_port;
}

int
shoal_tracker_udp_port(const shoal_tracker *tr)
{
    return tr->udp_port;
}

int
shoal_tracker_run(shoal_tracker *tr)
{
    return event_base_dispatch(tr->base) < 0 ? SHOAL_EINVAL : 0;
}

void
shoal_tracker_stop(shoal_tracker *tr)
{
    uint64_t one = 1;
    ssize_t r = write(tr->stop_fd, &one, sizeof(one));
    (void)r;
}

void
shoal_tracker_free(shoal_tracker *tr)
{
    if (!tr)
        return;
    /* The listener guard first (evhttp owns the listener it watches), the
     * connection guard last (evhttp's connections report to it as they go). */
    listen_guard_free(tr->listen_guard);
    if (tr->http)
        evhttp_free(tr->http);
    http_guard_free(tr->http_guard);
    if (tr->udp_ev)
        event_free(tr->udp_ev);
    if (tr->sweep_ev)
        event_free(tr->sweep_ev);
    if (tr->stop_ev)
        event_free(tr->stop_ev);
    if (tr->udp_fd >= 0)
        close(tr->udp_fd);
    if (tr->stop_fd >= 0)
        close(tr->stop_fd);
    if (tr->base)
        event_base_free(tr->base);
    swarm_table_free(tr->table);
    xfree(tr->rate);
    xfree(tr);
}
