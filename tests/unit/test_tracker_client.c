/*
 * test_tracker_client.c — the tracker client (session/tracker_client.h) on
 * hooks of the test's own, with no session: a fake clock and random
 * numbers, a recording on_peers and emit, and a UDP tracker played by a
 * plain socket. Checks that the transaction ids come from rand64, that the
 * retransmit waits on now_ms, that replies with a stale or unknown
 * transaction id or from another address are dropped, and that the peers
 * of the reply go up as tracker peers with the status line after them.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>
#include <event2/event.h>

#include "base/util.h"
#include "engine/announcer.h"
#include "session/dns.h"
#include "session/hooks.h"
#include "session/http.h"
#include "session/tracker_client.h"
#include "session/udp.h"

/* What the test's hooks saw, and the clock and random numbers they give. */
struct fake {
    uint64_t now;
    uint64_t next_rand;
    size_t npeers, peer_calls;
    enum peer_source src;
    struct sockaddr_storage peer;
    char line[512];
    int lines;
};

static void
fake_on_peers(void *ctx, const uint8_t ih[20], enum peer_source src,
              const struct sockaddr_storage *peers, size_t n)
{
    struct fake *f = ctx;
    (void)ih;
    f->peer_calls++;
    f->src = src;
    if (n > 0)
        f->peer = peers[0];
    f->npeers += n;
}

static uint64_t
fake_now(void *ctx)
{
    return ((struct fake *)ctx)->now;
}

static uint64_t
fake_rand(void *ctx)
{
    return ((struct fake *)ctx)->next_rand++;
}

static void
fake_log(void *ctx, const char *msg)
{
    (void)ctx;
    (void)msg;
}

static void
fake_emit(void *ctx, const uint8_t ih[20], enum shoal_event_type type, const char *msg)
{
    struct fake *f = ctx;
    (void)ih;
    (void)type;
    snprintf(f->line, sizeof(f->line), "%s", msg);
    f->lines++;
}

static void
fake_counts(void *arg, struct tracker_counts *out)
{
    (void)arg;
    out->uploaded = 1;
    out->downloaded = 2;
    out->left = 3;
}

/* A UDP socket on loopback, non-blocking; its port in *port. */
static int
udp_socket(uint16_t *port)
{
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    assert_true(fd >= 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(0x7f000001)};
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    socklen_t len = sizeof(a);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    *port = ntohs(a.sin_port);
    fcntl(fd, F_SETFL, O_NONBLOCK);
    return fd;
}

/* Runs the loop until the tracker socket has a datagram; returns its
 * length and the client's address in *from. */
static size_t
expect_datagram(struct event_base *base, int fd, uint8_t *buf, size_t cap,
                struct sockaddr_in *from)
{
    for (int i = 0; i < 500; i++) {
        socklen_t len = sizeof(*from);
        ssize_t n = recvfrom(fd, buf, cap, 0, (struct sockaddr *)from, &len);
        if (n > 0)
            return (size_t)n;
        event_base_loop(base, EVLOOP_NONBLOCK);
        usleep(1000);
    }
    fail_msg("no datagram reached the tracker");
    return 0;
}

static void
spin(struct event_base *base)
{
    for (int i = 0; i < 20; i++) {
        event_base_loop(base, EVLOOP_NONBLOCK);
        usleep(1000);
    }
}

static void
reply(int fd, const struct sockaddr_in *to, const uint8_t *p, size_t n)
{
    assert_int_equal(sendto(fd, p, n, 0, (const struct sockaddr *)to, sizeof(*to)),
                     (ssize_t)n);
}

static void
test_udp_announce_on_fake_hooks(void **state)
{
    (void)state;
    struct event_base *base = event_base_new();
    struct udp_mux *udp;
    struct http_client *http;
    struct dns_resolver *dns;
    assert_int_equal(udp_mux_new(base, 1, 0, &udp), 0);
    assert_int_equal(http_client_new(base, 1, &http), 0);
    assert_int_equal(dns_resolver_new(base, 1, &dns), 0);

    struct fake f = {.now = 1000000, .next_rand = 0x1111111100000001ull};
    struct hooks h = {.ctx = &f,
                      .on_peers = fake_on_peers,
                      .now_ms = fake_now,
                      .rand64 = fake_rand,
                      .log = fake_log,
                      .emit = fake_emit};
    struct tracker_client_cfg cfg = {.port = 6881, .local_only = 1};
    memset(cfg.peer_id, 'p', sizeof(cfg.peer_id));
    struct tracker_client *tc;
    assert_int_equal(tracker_client_new(&h, http, dns, udp, &cfg, &tc), 0);

    uint16_t tport, fport;
    int tfd = udp_socket(&tport);
    int forger = udp_socket(&fport);
    char url[64];
    snprintf(url, sizeof(url), "udp://127.0.0.1:%u/announce", (unsigned)tport);
    struct tracker_torrent tt;
    memset(&tt, 0, sizeof(tt));
    memset(tt.infohash, 0x42, sizeof(tt.infohash));
    tt.counts = fake_counts;
    announcer_init(&tt.announcer, 7);
    assert_int_equal(announcer_add(&tt.announcer, url, 0), 0);
    tracker_client_attach(tc, &tt);
    tracker_client_tick(&tt, f.now);
    assert_false(tracker_client_idle(&tt));

    /* The connect request carries a transaction id drawn through rand64. */
    uint8_t buf[256];
    struct sockaddr_in client;
    size_t n = expect_datagram(base, tfd, buf, sizeof(buf), &client);
    assert_int_equal(n, 16);
    uint32_t tid1 = be32_get(buf + 12);
    assert_true(tid1 >= 1 && tid1 < 0x100);

    /* No answer: nothing is sent again until the fake clock says so. */
    tracker_client_tick(&tt, f.now);
    spin(base);
    assert_true(recv(tfd, buf, sizeof(buf), 0) < 0);
    f.now += 3000;
    tracker_client_tick(&tt, f.now);
    n = expect_datagram(base, tfd, buf, sizeof(buf), &client);
    assert_int_equal(n, 16);
    uint32_t tid2 = be32_get(buf + 12);
    assert_int_not_equal(tid1, tid2);

    /* A connect reply with the retired id, one with an id never used, and
     * one from another address are all dropped. */
    uint8_t conn[16];
    be32_put(conn, 0);
    be64_put(conn + 8, 0x0102030405060708ull);
    be32_put(conn + 4, tid1);
    reply(tfd, &client, conn, sizeof(conn));
    be32_put(conn + 4, tid2 + 77);
    reply(tfd, &client, conn, sizeof(conn));
    be32_put(conn + 4, tid2);
    reply(forger, &client, conn, sizeof(conn));
    spin(base);
    assert_true(recv(tfd, buf, sizeof(buf), 0) < 0);

    /* The right one: the announce follows with the connection id. */
    reply(tfd, &client, conn, sizeof(conn));
    n = expect_datagram(base, tfd, buf, sizeof(buf), &client);
    assert_true(n >= 98);
    assert_int_equal(be64_get(buf), 0x0102030405060708ull);
    assert_int_equal(be32_get(buf + 8), 1);
    assert_memory_equal(buf + 16, tt.infohash, 20);
    assert_int_equal(be64_get(buf + 56), 2); /* downloaded */
    assert_int_equal(be64_get(buf + 64), 3); /* left */
    assert_int_equal(be64_get(buf + 72), 1); /* uploaded */
    uint32_t tid3 = be32_get(buf + 12);

    /* The announce reply: one peer, 3 leechers, 5 seeders. */
    uint8_t ann[26];
    be32_put(ann, 1);
    be32_put(ann + 4, tid3);
    be32_put(ann + 8, 1800);
    be32_put(ann + 12, 3);
    be32_put(ann + 16, 5);
    be32_put(ann + 20, 0x7f000009);
    ann[24] = 0x1a;
    ann[25] = 0xe1;
    reply(tfd, &client, ann, sizeof(ann));
    spin(base);
    assert_true(tracker_client_idle(&tt));
    assert_int_equal(f.npeers, 1);
    assert_int_equal(f.src, PEER_SOURCE_TRACKER);
    const struct sockaddr_in *p = (const struct sockaddr_in *)&f.peer;
    assert_int_equal(ntohl(p->sin_addr.s_addr), 0x7f000009);
    assert_int_equal(ntohs(p->sin_port), 6881);
    char want[128];
    snprintf(want, sizeof(want), "tracker %s: 5 seeders, 3 leechers", url);
    assert_string_equal(f.line, want);

    /* The same reply again finds no exchange. */
    size_t calls = f.peer_calls;
    reply(tfd, &client, ann, sizeof(ann));
    spin(base);
    assert_int_equal(f.peer_calls, calls);

    tracker_client_free(tc);
    tracker_client_detach(&tt); /* after the client: does nothing */
    announcer_cleanup(&tt.announcer);
    close(tfd);
    close(forger);
    dns_resolver_free(dns);
    http_client_free(http);
    udp_mux_free(udp);
    event_base_free(base);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_udp_announce_on_fake_hooks),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
