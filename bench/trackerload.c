/*
 * trackerload.c — a load generator for BitTorrent trackers, used by
 * bench/tracker.sh. Plain libc, loopback only, every loop bounded in count
 * and time.
 *
 *   trackerload udp  HOST PORT SECONDS NHASHES [PORTS]
 *   trackerload http HOST PORT SECONDS NHASHES [PORTS]
 *   trackerload fill HOST UDPPORT NPEERS NHASHES
 *   trackerload hashes NHASHES      the infohashes, 40 hex digits a line
 *   trackerload freeport            a port free for both TCP and UDP on 127.0.0.1
 *
 * Peers. A tracker keys a peer by ip:port within a swarm. Peer number p
 * announces infohash p % NHASHES with port 1 + (p / NHASHES) % PORTS from
 * the loopback address 127.0.0.(1 + p % SOURCES); its peer_id and key are
 * derived from p. Infohash and port alone already tell peers apart, so one
 * address holds at most 65535 peers per swarm and NHASHES swarms hold
 * NHASHES x 65535 (1000 x 1000 gives a million). Load modes walk
 * p = 0, 1, 2, ... modulo the population NHASHES x PORTS (PORTS defaults to
 * 1000; the population is rounded down to a multiple of 32), so the first
 * pass adds peers and later passes refresh them, and swarms grow to PORTS
 * peers. Every announce asks for 50 peers (numwant=50) and says left=1.
 *
 * Sources. SOURCES (environment, 1, 2, 4, 8 or 16; default 16) loopback
 * addresses send the load, as many clients would: a tracker that limits
 * requests per address in short bursts (shoal lets 200 through in one
 * millisecond, whatever its --rate) would otherwise throttle a benchmark
 * that all comes from 127.0.0.1. UDP socket i and HTTP connection c send
 * from address i % SOURCES and c % SOURCES, and take the peers whose number
 * matches their own modulo 16 and 32.
 *
 * udp: BEP 15 over UDP_SOCKS sockets, each a client with its own source
 * address and port and its own connection id (connect first, the id reused
 * for up to 60 s and fetched again when refused). Requests go out with
 * sendmmsg and come back with recvmmsg; at most WINDOW requests are
 * outstanding, and one unanswered for UDP_TIMEOUT seconds is counted lost
 * and sent again. Counts announce responses (action 1) that match an
 * outstanding transaction.
 *
 * http: HTTP_CONNS HTTP/1.1 keep-alive connections in one epoll loop, one
 * request in flight on each. Counts 200 responses whose body starts with 'd'
 * and holds no "failure reason". A connection the server closes (after a
 * reply, or idle) is opened again, and so is one that waits HTTP_TIMEOUT
 * seconds for a connect or an answer; the request goes out again.
 *
 * fill: announces peers 0 .. NPEERS-1 once each over UDP, as fast as the
 * window allows, for at most FILL_LIMIT seconds; lost ones are sent again.
 *
 * Output, one line: "announces N seconds S rate R/s" followed by counters
 * (errors, lost, failures, reconnects) and "cpu C", the generator's own user
 * plus system seconds.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* UDP clients (sockets), outstanding requests, datagrams per syscall. */
#define UDP_SOCKS 16
#define WINDOW    256
#define BATCH     64
/* Seconds before an unanswered request counts as lost, or a connect is
 * sent again; seconds a connection id is used. */
#define UDP_TIMEOUT   0.5
#define CONN_RETRY    0.5
#define CONN_LIFETIME 60.0
/* recvmmsg rounds per socket per wake-up. */
#define RECV_ROUNDS 8
/* HTTP connections, bytes kept of one response, seconds a connection may
 * go without an answer (connect, request, or the close the server said it
 * would make) before it is closed and opened again. */
#define HTTP_CONNS   32
#define HTTP_IN_MAX  16384
#define HTTP_TIMEOUT 1.0
/* Bounds on the arguments and on a fill. */
#define MAX_SECONDS 3600
#define MAX_HASHES  1000000
#define MAX_PORTS   65535
#define FILL_LIMIT  120.0
/* Peers asked for in every announce; source addresses at most. */
#define NUMWANT     50
#define MAX_SOURCES 16
/* BEP 15 */
#define UDP_PROTOCOL_ID  0x41727101980ull
#define UDP_ANNOUNCE_LEN 98
/* Transaction ids: announces carry a slot number in the low bits and a
 * generation above; connects have the top bit set. */
#define TID_SLOT_BITS 9
#define TID_CONNECT   0x80000000u

_Static_assert(WINDOW <= 1 << TID_SLOT_BITS, "a slot number must fit its tid bits");

static unsigned nhashes;
static unsigned nports;
static unsigned nsources = MAX_SOURCES;
static uint8_t (*hashes)[20];

/* ------------------------------------------------------------------ helpers */

static double
now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double
cpu_seconds(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
           (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

static uint64_t
mix64(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

/* Infohash i: 20 bytes from a fixed pseudo-random sequence, the same in
 * every run (tracker.sh whitelists them for opentracker). */
static void
make_hash(unsigned i, uint8_t out[20])
{
    uint64_t s = mix64(0x73686f616c000000ull ^ i);
    for (int k = 0; k < 20; k++) {
        if (k % 8 == 0)
            s = mix64(s);
        out[k] = (uint8_t)(s >> (8 * (k % 8)));
    }
}

static int
make_hashes(void)
{
    hashes = calloc(nhashes, sizeof(*hashes));
    if (!hashes)
        return -1;
    for (unsigned i = 0; i < nhashes; i++)
        make_hash(i, hashes[i]);
    return 0;
}

static unsigned
peer_hash(uint64_t p)
{
    return (unsigned)(p % nhashes);
}

static uint16_t
peer_port(uint64_t p)
{
    return (uint16_t)(1 + (p / nhashes) % nports);
}

/* peer_id: an Azureus-style prefix and 12 characters from p. */
static void
make_peer_id(uint64_t p, uint8_t out[20])
{
    static const char digits[] = "0123456789abcdef";
    memcpy(out, "-TL0001-", 8);
    uint64_t v = mix64(p);
    for (int k = 0; k < 12; k++)
        out[8 + k] = (uint8_t)digits[(v >> (4 * k)) & 15];
}

static void
put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static void
put64(uint8_t *p, uint64_t v)
{
    put32(p, (uint32_t)(v >> 32));
    put32(p + 4, (uint32_t)v);
}

static uint32_t
get32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* A positive integer argument no larger than max, or 0. */
static unsigned long
arg_num(const char *s, unsigned long max)
{
    char *end;
    errno = 0;
    unsigned long v = strtoul(s, &end, 10);
    if (errno || end == s || *end || s[0] == '-' || v == 0 || v > max)
        return 0;
    return v;
}

/* The loopback address HOST:PORT; refuses anything else. */
static int
loopback_addr(const char *host, const char *port, struct sockaddr_in *sa)
{
    memset(sa, 0, sizeof(*sa));
    sa->sin_family = AF_INET;
    unsigned long p = arg_num(port, 65535);
    if (!p || inet_pton(AF_INET, host, &sa->sin_addr) != 1)
        return -1;
    if ((ntohl(sa->sin_addr.s_addr) >> 24) != 127)
        return -1;
    sa->sin_port = htons((uint16_t)p);
    return 0;
}

/* Binds fd to source address number i (127.0.0.1 + i % SOURCES), any port. */
static int
bind_source(int fd, unsigned i)
{
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK + i % nsources);
    return bind(fd, (const struct sockaddr *)&sa, sizeof(sa));
}

static void
report(uint64_t n, double secs, const char *extra)
{
    printf("announces %llu seconds %.3f rate %.0f/s %s cpu %.2f\n", (unsigned long long)n,
           secs, secs > 0 ? (double)n / secs : 0.0, extra, cpu_seconds());
}

/* ------------------------------------------------------------------ UDP */

struct usock {
    int fd;
    int state;        /* 0: needs a connect, 1: connect sent, 2: has an id */
    uint8_t conn[8];  /* connection id, as received */
    double conn_at;   /* when the id came */
    double conn_sent; /* when the last connect went out */
    uint32_t conn_tid;
    uint64_t k;             /* this socket's next new peer: i + UDP_SOCKS * k */
    uint64_t retry[WINDOW]; /* its peers to send again; never more than WINDOW */
    int nretry;
};

struct slot {
    int busy;
    int sock;
    uint32_t tid;
    double sent;
    uint64_t peer;
};

struct udp_run {
    struct usock s[UDP_SOCKS];
    struct slot slot[WINDOW];
    int free_slots[WINDOW];
    int nfree;
    uint64_t limit;      /* fill: peers to announce; 0: endless */
    uint64_t population; /* load: peers, a multiple of UDP_SOCKS */
    uint32_t gen;
    uint64_t done, errors, lost, reconnects;
    int said_error;
};

static void
udp_send_connect(struct udp_run *u, int i, double t)
{
    struct usock *s = &u->s[i];
    static uint64_t count;
    uint8_t pkt[16];
    s->conn_tid = TID_CONNECT | ((uint32_t)mix64(++count) & 0x7fffff00u) | (uint32_t)i;
    put64(pkt, UDP_PROTOCOL_ID);
    put32(pkt + 8, 0);
    put32(pkt + 12, s->conn_tid);
    s->conn_sent = t;
    if (send(s->fd, pkt, sizeof(pkt), MSG_DONTWAIT) == (ssize_t)sizeof(pkt))
        s->state = 1;
}

/* Socket i's next peer to announce, or -1 when a fill has none left for it. */
static int
udp_next_peer(struct udp_run *u, int i, uint64_t *p)
{
    struct usock *s = &u->s[i];
    if (s->nretry > 0) {
        *p = s->retry[--s->nretry];
        return 0;
    }
    uint64_t n = (uint64_t)i + UDP_SOCKS * s->k;
    if (u->limit) {
        if (n >= u->limit)
            return -1;
    } else {
        n %= u->population;
    }
    s->k++;
    *p = n;
    return 0;
}

/* Frees window slot k; resend puts its peer back to be sent again. */
static void
udp_release(struct udp_run *u, int k, int resend)
{
    struct slot *sl = &u->slot[k];
    struct usock *s = &u->s[sl->sock];
    if (resend && s->nretry < WINDOW)
        s->retry[s->nretry++] = sl->peer;
    sl->busy = 0;
    u->free_slots[u->nfree++] = k;
}

/* 1 when a fill has sent every peer and nothing is outstanding. */
static int
udp_fill_over(const struct udp_run *u)
{
    if (!u->limit || u->nfree != WINDOW)
        return 0;
    for (int i = 0; i < UDP_SOCKS; i++)
        if (u->s[i].nretry || (uint64_t)i + UDP_SOCKS * u->s[i].k < u->limit)
            return 0;
    return 1;
}

static void
udp_build_announce(const struct usock *s, uint32_t tid, uint64_t p, uint8_t *pkt)
{
    memcpy(pkt, s->conn, 8);
    put32(pkt + 8, 1);
    put32(pkt + 12, tid);
    memcpy(pkt + 16, hashes[peer_hash(p)], 20);
    make_peer_id(p, pkt + 36);
    put64(pkt + 56, 0);                             /* downloaded */
    put64(pkt + 64, 1);                             /* left */
    put64(pkt + 72, 0);                             /* uploaded */
    put32(pkt + 80, 0);                             /* event: none */
    put32(pkt + 84, 0);                             /* ip: the sender's */
    put32(pkt + 88, (uint32_t)mix64(p ^ 0x6b6579)); /* key */
    put32(pkt + 92, NUMWANT);
    uint16_t port = peer_port(p);
    pkt[96] = (uint8_t)(port >> 8);
    pkt[97] = (uint8_t)port;
}

/* Fills free window slots with announces and sends them, a batch a socket. */
static void
udp_refill(struct udp_run *u, double t)
{
    static uint8_t pkt[UDP_SOCKS][BATCH][UDP_ANNOUNCE_LEN];
    static int idx[UDP_SOCKS][BATCH];
    int cnt[UDP_SOCKS] = {0};
    int open[UDP_SOCKS];
    for (int i = 0; i < UDP_SOCKS; i++)
        open[i] = u->s[i].state == 2;
    /* One request per socket per round, so the window is shared evenly. */
    for (int round = 0; round < BATCH && u->nfree > 0; round++) {
        int took = 0;
        for (int i = 0; i < UDP_SOCKS && u->nfree > 0; i++) {
            uint64_t p;
            if (!open[i] || udp_next_peer(u, i, &p) != 0) {
                open[i] = 0;
                continue;
            }
            int k = u->free_slots[--u->nfree];
            struct slot *sl = &u->slot[k];
            u->gen = (u->gen + 1) & ((TID_CONNECT - 1) >> TID_SLOT_BITS);
            sl->busy = 1;
            sl->sock = i;
            sl->tid = u->gen << TID_SLOT_BITS | (uint32_t)k;
            sl->sent = t;
            sl->peer = p;
            udp_build_announce(&u->s[i], sl->tid, p, pkt[i][cnt[i]]);
            idx[i][cnt[i]++] = k;
            took = 1;
        }
        if (!took)
            break;
    }
    for (int i = 0; i < UDP_SOCKS; i++) {
        if (!cnt[i])
            continue;
        struct mmsghdr msg[BATCH];
        struct iovec iov[BATCH];
        memset(msg, 0, sizeof(msg[0]) * (size_t)cnt[i]);
        for (int j = 0; j < cnt[i]; j++) {
            iov[j].iov_base = pkt[i][j];
            iov[j].iov_len = UDP_ANNOUNCE_LEN;
            msg[j].msg_hdr.msg_iov = &iov[j];
            msg[j].msg_hdr.msg_iovlen = 1;
        }
        int sent = sendmmsg(u->s[i].fd, msg, (unsigned)cnt[i], MSG_DONTWAIT);
        if (sent < 0)
            sent = 0;
        /* Whatever did not go out is sent again later. */
        for (int j = sent; j < cnt[i]; j++)
            udp_release(u, idx[i][j], 1);
    }
}

static void
udp_response(struct udp_run *u, int i, const uint8_t *p, size_t n, double t)
{
    if (n < 8)
        return;
    uint32_t action = get32(p), tid = get32(p + 4);
    struct usock *s = &u->s[i];
    if (action == 0 && n >= 16) {
        if (s->state == 1 && tid == s->conn_tid) {
            memcpy(s->conn, p + 8, 8);
            s->conn_at = t;
            s->state = 2;
        }
        return;
    }
    if (tid & TID_CONNECT)
        return;
    uint32_t k = tid & ((1u << TID_SLOT_BITS) - 1);
    if (k >= WINDOW)
        return;
    struct slot *sl = &u->slot[k];
    if (!sl->busy || sl->tid != tid || sl->sock != i)
        return;
    if (action == 1 && n >= 20) {
        u->done++;
        udp_release(u, (int)k, 0);
    } else if (action == 3) {
        /* A refused connection id: fetch a new one, send the announce again. */
        if (memmem(p + 8, n - 8, "onnection", 9)) {
            u->reconnects++;
            if (s->state == 2)
                s->state = 0;
            udp_release(u, (int)k, 1);
            return;
        }
        u->errors++;
        if (!u->said_error) {
            u->said_error = 1;
            fprintf(stderr, "trackerload: error from the tracker: %.*s\n",
                    (int)(n - 8 > 200 ? 200 : n - 8), (const char *)p + 8);
        }
        udp_release(u, (int)k, 0);
    }
}

/* Runs the UDP engine until the deadline or, for a fill, every peer is in.
 * Returns the seconds it ran. */
static double
udp_run(struct udp_run *u, const struct sockaddr_in *sa, double limit_s)
{
    struct pollfd pfd[UDP_SOCKS];
    static uint8_t in[BATCH][2048];
    for (int i = 0; i < UDP_SOCKS; i++) {
        int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0 || bind_source(fd, (unsigned)i) != 0 ||
            connect(fd, (const struct sockaddr *)sa, sizeof(*sa)) != 0) {
            perror("trackerload: udp socket");
            exit(1);
        }
        int big = 1 << 20;
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &big, sizeof(big));
        setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &big, sizeof(big));
        u->s[i].fd = fd;
        pfd[i].fd = fd;
        pfd[i].events = POLLIN;
    }
    for (int k = 0; k < WINDOW; k++)
        u->free_slots[u->nfree++] = WINDOW - 1 - k;
    double start = now(), last_expire = start, t = start;
    double deadline = start + limit_s;
    while (t < deadline) {
        if (udp_fill_over(u))
            break;
        for (int i = 0; i < UDP_SOCKS; i++) {
            struct usock *s = &u->s[i];
            if (s->state == 0 || (s->state == 1 && t - s->conn_sent > CONN_RETRY) ||
                (s->state == 2 && t - s->conn_at > CONN_LIFETIME))
                udp_send_connect(u, i, t);
        }
        udp_refill(u, t);
        if (t - last_expire > 0.05) {
            last_expire = t;
            for (int k = 0; k < WINDOW; k++) {
                if (u->slot[k].busy && t - u->slot[k].sent > UDP_TIMEOUT) {
                    u->lost++;
                    udp_release(u, k, 1);
                }
            }
        }
        int r = poll(pfd, UDP_SOCKS, 5);
        t = now();
        if (r <= 0)
            continue;
        for (int i = 0; i < UDP_SOCKS; i++) {
            if (!(pfd[i].revents & POLLIN))
                continue;
            for (int round = 0; round < RECV_ROUNDS; round++) {
                struct mmsghdr msg[BATCH];
                struct iovec iov[BATCH];
                memset(msg, 0, sizeof(msg));
                for (int j = 0; j < BATCH; j++) {
                    iov[j].iov_base = in[j];
                    iov[j].iov_len = sizeof(in[j]);
                    msg[j].msg_hdr.msg_iov = &iov[j];
                    msg[j].msg_hdr.msg_iovlen = 1;
                }
                int n = recvmmsg(u->s[i].fd, msg, BATCH, MSG_DONTWAIT, NULL);
                if (n <= 0)
                    break;
                for (int j = 0; j < n; j++)
                    udp_response(u, i, in[j], msg[j].msg_len, t);
                if (n < BATCH)
                    break;
            }
        }
    }
    double secs = now() - start;
    for (int i = 0; i < UDP_SOCKS; i++)
        close(u->s[i].fd);
    return secs;
}

static int
mode_udp(const struct sockaddr_in *sa, unsigned seconds)
{
    static struct udp_run u;
    u.population = (uint64_t)nhashes * nports / HTTP_CONNS * HTTP_CONNS;
    double secs = udp_run(&u, sa, seconds);
    char extra[160];
    snprintf(extra, sizeof(extra), "errors %llu lost %llu reconnects %llu",
             (unsigned long long)u.errors, (unsigned long long)u.lost,
             (unsigned long long)u.reconnects);
    report(u.done, secs, extra);
    return u.done > 0 ? 0 : 1;
}

static int
mode_fill(const struct sockaddr_in *sa, uint64_t npeers)
{
    static struct udp_run u;
    u.limit = npeers;
    double secs = udp_run(&u, sa, FILL_LIMIT);
    char extra[160];
    snprintf(extra, sizeof(extra), "errors %llu lost %llu reconnects %llu",
             (unsigned long long)u.errors, (unsigned long long)u.lost,
             (unsigned long long)u.reconnects);
    report(u.done, secs, extra);
    if (u.done < npeers) {
        fprintf(stderr, "trackerload: fill announced %llu of %llu peers\n",
                (unsigned long long)u.done, (unsigned long long)npeers);
        return 1;
    }
    return 0;
}

/* ------------------------------------------------------------------ HTTP */

struct hconn {
    int fd;
    int state; /* 0 closed, 1 connecting, 2 sending, 3 reading, 4 awaiting close */
    char req[512];
    size_t reqlen, reqoff;
    char in[HTTP_IN_MAX];
    size_t inlen;
    double since; /* when the current state began */
    int served;   /* responses on this connection */
    int have_req; /* req holds a request not yet answered */
    uint64_t k;   /* next peer: (index + HTTP_CONNS * k) % population */
};

struct http_run {
    struct sockaddr_in sa;
    int ep;
    struct hconn c[HTTP_CONNS];
    uint64_t population; /* a multiple of HTTP_CONNS */
    uint64_t ok, failures, reconnects, connect_errors, timeouts;
    int said_failure;
};

static void
http_build(struct http_run *h, struct hconn *c)
{
    static const char hex[] = "0123456789ABCDEF";
    uint64_t p = ((uint64_t)(c - h->c) + HTTP_CONNS * c->k++) % h->population;
    const uint8_t *ih = hashes[peer_hash(p)];
    uint8_t id[20];
    make_peer_id(p, id);
    char ihq[61], idq[61];
    for (int k = 0; k < 20; k++) {
        ihq[3 * k] = '%';
        ihq[3 * k + 1] = hex[ih[k] >> 4];
        ihq[3 * k + 2] = hex[ih[k] & 15];
        idq[3 * k] = '%';
        idq[3 * k + 1] = hex[id[k] >> 4];
        idq[3 * k + 2] = hex[id[k] & 15];
    }
    ihq[60] = idq[60] = '\0';
    int n = snprintf(c->req, sizeof(c->req),
                     "GET /announce?info_hash=%s&peer_id=%s&port=%u&uploaded=0"
                     "&downloaded=0&left=1&compact=1&numwant=%d&key=%08x HTTP/1.1\r\n"
                     "Host: 127.0.0.1:%u\r\n\r\n",
                     ihq, idq, (unsigned)peer_port(p), NUMWANT,
                     (unsigned)(uint32_t)mix64(p ^ 0x6b6579), ntohs(h->sa.sin_port));
    c->reqlen = (size_t)n;
    c->reqoff = 0;
    c->have_req = 1;
}

static void
http_watch(struct http_run *h, struct hconn *c, int op, uint32_t events)
{
    struct epoll_event ev;
    memset(&ev, 0, sizeof(ev));
    ev.events = events;
    ev.data.u32 = (uint32_t)(c - h->c);
    epoll_ctl(h->ep, op, c->fd, &ev);
}

static void
http_close(struct http_run *h, struct hconn *c)
{
    if (c->fd >= 0) {
        epoll_ctl(h->ep, EPOLL_CTL_DEL, c->fd, NULL);
        close(c->fd);
    }
    c->fd = -1;
    c->state = 0;
    c->inlen = 0;
    c->served = 0;
}

static void http_send(struct http_run *h, struct hconn *c);

static void
http_open(struct http_run *h, struct hconn *c)
{
    c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c->fd < 0) {
        c->state = 0;
        return;
    }
    int one = 1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (bind_source(c->fd, (unsigned)(c - h->c)) != 0) {
        h->connect_errors++;
        close(c->fd);
        c->fd = -1;
        c->state = 0;
        return;
    }
    c->inlen = 0;
    c->served = 0;
    c->reqoff = 0; /* an unanswered request goes out whole again */
    c->since = now();
    if (connect(c->fd, (const struct sockaddr *)&h->sa, sizeof(h->sa)) == 0) {
        c->state = 2;
        http_watch(h, c, EPOLL_CTL_ADD, EPOLLOUT);
        http_send(h, c);
        return;
    }
    if (errno != EINPROGRESS) {
        h->connect_errors++;
        close(c->fd);
        c->fd = -1;
        c->state = 0;
        return;
    }
    c->state = 1;
    http_watch(h, c, EPOLL_CTL_ADD, EPOLLOUT);
}

/* The server closed the connection or it failed: the main loop opens it
 * again; an unanswered request stays in req and goes out on the new one. */
static void
http_reopen(struct http_run *h, struct hconn *c)
{
    http_close(h, c);
}

static void
http_send(struct http_run *h, struct hconn *c)
{
    if (!c->have_req)
        http_build(h, c);
    while (c->reqoff < c->reqlen) {
        ssize_t w = send(c->fd, c->req + c->reqoff, c->reqlen - c->reqoff,
                         MSG_NOSIGNAL | MSG_DONTWAIT);
        if (w < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                if (c->state != 2) {
                    c->state = 2;
                    http_watch(h, c, EPOLL_CTL_MOD, EPOLLOUT);
                }
                return;
            }
            h->reconnects++;
            http_reopen(h, c);
            return;
        }
        c->reqoff += (size_t)w;
    }
    c->state = 3;
    c->inlen = 0;
    c->since = now();
    http_watch(h, c, EPOLL_CTL_MOD, EPOLLIN);
}

/* Case-insensitive search for a header line starting with name within the
 * header block; returns its value or NULL. */
static const char *
header_value(const char *hdr, size_t len, const char *name)
{
    size_t nl = strlen(name);
    const char *p = hdr, *end = hdr + len;
    while (p < end) {
        const char *eol = memmem(p, (size_t)(end - p), "\r\n", 2);
        if (!eol)
            eol = end;
        if ((size_t)(eol - p) > nl && strncasecmp(p, name, nl) == 0 && p[nl] == ':') {
            const char *v = p + nl + 1;
            while (v < eol && (*v == ' ' || *v == '\t'))
                v++;
            return v;
        }
        p = eol + 2;
    }
    return NULL;
}

/* Handles a whole response of hlen header bytes and blen body bytes. */
static void
http_done(struct http_run *h, struct hconn *c, size_t hlen, size_t blen, int must_close)
{
    const char *body = c->in + hlen;
    int status = 0;
    if (c->inlen > 12 && memcmp(c->in, "HTTP/1.", 7) == 0)
        status = (int)strtol(c->in + 9, NULL, 10);
    int failed = blen == 0 || body[0] != 'd' || memmem(body, blen, "failure reason", 14);
    if (status == 200 && !failed) {
        h->ok++;
    } else {
        h->failures++;
        if (!h->said_failure) {
            h->said_failure = 1;
            fprintf(stderr, "trackerload: failed response (status %d): %.*s\n", status,
                    (int)(blen > 200 ? 200 : blen), body);
        }
    }
    c->have_req = 0;
    c->served++;
    if (must_close) {
        c->state = 4;
        c->since = now();
        return;
    }
    /* A close that is already on its way means the connection is done. */
    char b;
    ssize_t r = recv(c->fd, &b, 1, MSG_PEEK | MSG_DONTWAIT);
    if (r == 0 || (r < 0 && errno != EAGAIN && errno != EWOULDBLOCK)) {
        h->reconnects++;
        http_reopen(h, c);
        return;
    }
    http_send(h, c);
}

static void
http_readable(struct http_run *h, struct hconn *c)
{
    for (int round = 0; round < 4; round++) {
        if (c->inlen == sizeof(c->in)) {
            fprintf(stderr, "trackerload: response over %d bytes\n", HTTP_IN_MAX);
            h->failures++;
            c->have_req = 0;
            http_reopen(h, c);
            return;
        }
        ssize_t r = recv(c->fd, c->in + c->inlen, sizeof(c->in) - c->inlen, MSG_DONTWAIT);
        if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return;
        if (c->state == 4) {
            /* Waiting for the server's close: any end of stream will do. */
            if (r <= 0) {
                h->reconnects++;
                http_reopen(h, c);
                return;
            }
            continue;
        }
        if (r <= 0) {
            /* Closed: a response without a length ends here; otherwise the
             * request goes out again on a new connection. */
            const char *eoh = memmem(c->in, c->inlen, "\r\n\r\n", 4);
            if (r == 0 && eoh &&
                !header_value(c->in, (size_t)(eoh - c->in), "Content-Length")) {
                size_t hlen = (size_t)(eoh - c->in) + 4;
                http_done(h, c, hlen, c->inlen - hlen, 1);
            }
            h->reconnects++;
            http_reopen(h, c);
            return;
        }
        c->inlen += (size_t)r;
        const char *eoh = memmem(c->in, c->inlen, "\r\n\r\n", 4);
        if (!eoh)
            continue;
        size_t hsize = (size_t)(eoh - c->in);
        size_t hlen = hsize + 4;
        const char *cl = header_value(c->in, hsize, "Content-Length");
        const char *conn = header_value(c->in, hsize, "Connection");
        int must_close =
            conn ? strncasecmp(conn, "close", 5) == 0 : memcmp(c->in, "HTTP/1.0", 8) == 0;
        if (!cl)
            continue; /* the body runs to the close */
        size_t blen = (size_t)strtoul(cl, NULL, 10);
        if (blen > sizeof(c->in) - hlen) {
            c->inlen = sizeof(c->in);
            continue;
        }
        if (c->inlen < hlen + blen)
            continue;
        http_done(h, c, hlen, blen, must_close);
        return;
    }
}

static int
mode_http(const struct sockaddr_in *sa, unsigned seconds)
{
    static struct http_run h;
    h.sa = *sa;
    h.population = (uint64_t)nhashes * nports / HTTP_CONNS * HTTP_CONNS;
    h.ep = epoll_create1(EPOLL_CLOEXEC);
    if (h.ep < 0) {
        perror("trackerload: epoll");
        return 1;
    }
    for (int i = 0; i < HTTP_CONNS; i++) {
        h.c[i].fd = -1;
        http_open(&h, &h.c[i]);
    }
    double start = now(), deadline = start + seconds, last_check = start;
    double t = start;
    while (t < deadline) {
        struct epoll_event ev[HTTP_CONNS];
        int n = epoll_wait(h.ep, ev, HTTP_CONNS, 10);
        for (int k = 0; k < n; k++) {
            struct hconn *c = &h.c[ev[k].data.u32];
            if (c->fd < 0)
                continue;
            if (c->state == 1) {
                int err = 0;
                socklen_t len = sizeof(err);
                getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len);
                if (err) {
                    h.connect_errors++;
                    http_close(&h, c);
                    continue;
                }
                c->state = 2;
                http_send(&h, c);
            } else if (c->state == 2) {
                http_send(&h, c);
            } else {
                http_readable(&h, c);
            }
        }
        /* Connections closed above open again, once per pass. */
        for (int i = 0; i < HTTP_CONNS; i++)
            if (h.c[i].state == 0)
                http_open(&h, &h.c[i]);
        t = now();
        if (t - last_check > 0.1) {
            last_check = t;
            /* No answer in time: a real client would give up and retry too. */
            for (int i = 0; i < HTTP_CONNS; i++) {
                struct hconn *c = &h.c[i];
                if (c->state != 0 && t - c->since > HTTP_TIMEOUT) {
                    h.timeouts += c->state != 4;
                    http_reopen(&h, c);
                }
            }
        }
    }
    double secs = now() - start;
    for (int i = 0; i < HTTP_CONNS; i++)
        http_close(&h, &h.c[i]);
    close(h.ep);
    char extra[160];
    snprintf(extra, sizeof(extra),
             "failures %llu reconnects %llu timeouts %llu connect_errors %llu",
             (unsigned long long)h.failures, (unsigned long long)h.reconnects,
             (unsigned long long)h.timeouts, (unsigned long long)h.connect_errors);
    report(h.ok, secs, extra);
    return h.ok > 0 ? 0 : 1;
}

/* ------------------------------------------------------------------ small modes */

static int
mode_hashes(void)
{
    for (unsigned i = 0; i < nhashes; i++) {
        for (int k = 0; k < 20; k++)
            printf("%02x", hashes[i][k]);
        putchar('\n');
    }
    return 0;
}

/* A port that is free on 127.0.0.1 for TCP and UDP alike (opentracker takes
 * both on one number, and tracker.sh passes them to it). */
static int
mode_freeport(void)
{
    for (int attempt = 0; attempt < 100; attempt++) {
        struct sockaddr_in sa;
        memset(&sa, 0, sizeof(sa));
        sa.sin_family = AF_INET;
        sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        int t = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        socklen_t len = sizeof(sa);
        if (t < 0 || bind(t, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
            getsockname(t, (struct sockaddr *)&sa, &len) != 0) {
            perror("trackerload: freeport");
            return 1;
        }
        int u = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        int ok = u >= 0 && bind(u, (struct sockaddr *)&sa, sizeof(sa)) == 0;
        if (u >= 0)
            close(u);
        close(t);
        if (ok) {
            printf("%u\n", ntohs(sa.sin_port));
            return 0;
        }
    }
    fprintf(stderr, "trackerload: no free port\n");
    return 1;
}

static int
usage(void)
{
    fprintf(stderr, "usage: trackerload udp|http HOST PORT SECONDS NHASHES [PORTS]\n"
                    "       trackerload fill HOST UDPPORT NPEERS NHASHES\n"
                    "       trackerload hashes NHASHES\n"
                    "       trackerload freeport\n");
    return 2;
}

int
main(int argc, char **argv)
{
    signal(SIGPIPE, SIG_IGN);
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc == 2 && !strcmp(argv[1], "freeport"))
        return mode_freeport();
    if (argc == 3 && !strcmp(argv[1], "hashes")) {
        nhashes = (unsigned)arg_num(argv[2], MAX_HASHES);
        if (!nhashes || make_hashes() != 0)
            return usage();
        return mode_hashes();
    }
    if (argc < 6 || argc > 7)
        return usage();
    struct sockaddr_in sa;
    if (loopback_addr(argv[2], argv[3], &sa) != 0) {
        fprintf(stderr, "trackerload: HOST must be an IPv4 loopback address and PORT "
                        "a port\n");
        return 2;
    }
    nhashes = (unsigned)arg_num(argv[5], MAX_HASHES);
    nports = argc == 7 ? (unsigned)arg_num(argv[6], MAX_PORTS) : 1000;
    if (!nhashes || !nports)
        return usage();
    const char *src = getenv("SOURCES");
    if (src) {
        nsources = (unsigned)arg_num(src, MAX_SOURCES);
        if (!nsources || MAX_SOURCES % nsources) {
            fprintf(stderr, "trackerload: SOURCES must be 1, 2, 4, 8 or 16\n");
            return 2;
        }
    }
    if (make_hashes() != 0) {
        fprintf(stderr, "trackerload: out of memory\n");
        return 1;
    }
    if (!strcmp(argv[1], "fill")) {
        if (argc != 6)
            return usage();
        unsigned long npeers = arg_num(argv[4], (unsigned long)MAX_HASHES * MAX_PORTS);
        if (!npeers || npeers > (unsigned long)nhashes * MAX_PORTS) {
            fprintf(stderr,
                    "trackerload: NPEERS must be at most NHASHES x %d (one "
                    "address has %d ports per swarm)\n",
                    MAX_PORTS, MAX_PORTS);
            return 2;
        }
        nports = MAX_PORTS;
        return mode_fill(&sa, npeers);
    }
    unsigned seconds = (unsigned)arg_num(argv[4], MAX_SECONDS);
    if (!seconds)
        return usage();
    if ((uint64_t)nhashes * nports < HTTP_CONNS) {
        fprintf(stderr, "trackerload: NHASHES x PORTS must be at least %d\n", HTTP_CONNS);
        return 2;
    }
    if (!strcmp(argv[1], "udp"))
        return mode_udp(&sa, seconds);
    if (!strcmp(argv[1], "http"))
        return mode_http(&sa, seconds);
    return usage();
}
