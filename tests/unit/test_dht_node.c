/*
 * test_dht_node.c — the session's DHT node (session/dht.c, dht_search.c)
 * over real loopback sockets, with hooks of the test's own: nodes join
 * through one another, an announce is found by a third node's lookup and
 * by a torrent's (reported through on_peers as PEER_SOURCE_DHT), the
 * table survives a save and a load, and in local-only mode no outside
 * address is queried or taken into the table, even when a reply names one.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>
#include <event2/event.h>

#include "base/alloc.h"
#include "base/clock.h"
#include "base/sockaddr.h"
#include "codec/bencode.h"
#include "codec/krpc.h"
#include "session/dht.h"
#include "session/hooks.h"
#include "session/udp.h"

struct node {
    struct udp_mux *u;
    struct dht *d;
    struct hooks h;
    uint64_t rng;
    struct sockaddr_storage sa;
    /* on_peers */
    int calls;
    enum peer_source src;
    char last[SOCKADDR_TEXT_MAX];
};

static struct event_base *base;

static uint64_t
now_ms(void *ctx)
{
    (void)ctx;
    return clock_now_ms();
}

static uint64_t
rand64(void *ctx)
{
    struct node *n = ctx;
    n->rng = n->rng * 6364136223846793005ull + 1442695040888963407ull;
    return n->rng ^ (n->rng >> 29);
}

static void
log_line(void *ctx, const char *msg)
{
    (void)ctx;
    (void)msg;
}

static void
on_peers(void *ctx, const uint8_t ih[20], enum peer_source src,
         const struct sockaddr_storage *peers, size_t n)
{
    (void)ih;
    struct node *x = ctx;
    for (size_t i = 0; i < n; i++) {
        x->calls++;
        x->src = src;
        sockaddr_format((const struct sockaddr *)&peers[i], x->last, sizeof(x->last));
    }
}

static void
emit(void *ctx, const uint8_t ih[20], enum shoal_event_type type, const char *msg)
{
    (void)ctx;
    (void)ih;
    (void)type;
    (void)msg;
}

static void
start(struct node *n, uint64_t seed, const char *state)
{
    memset(n, 0, sizeof(*n));
    socklen_t len;
    sockaddr_from_ip("127.0.0.1", 0, &n->sa, &len);
    assert_int_equal(udp_mux_new_at(base, 1, (struct sockaddr *)&n->sa, &n->u), 0);
    sockaddr_set_port((struct sockaddr *)&n->sa, (uint16_t)udp_port(n->u, AF_INET));
    n->rng = seed;
    n->h = (struct hooks){.ctx = n,
                          .on_peers = on_peers,
                          .now_ms = now_ms,
                          .rand64 = rand64,
                          .log = log_line,
                          .emit = emit};
    static const char *const none[] = {NULL};
    struct dht_cfg c = {.base = base,
                        .udp = n->u,
                        .h = &n->h,
                        .local_only = 1,
                        .peer_port = 1234,
                        .bootstrap = none,
                        .state_path = state};
    assert_int_equal(dht_new(&c, &n->d), 0);
}

static void
stop(struct node *n)
{
    dht_free(n->d);
    udp_mux_free(n->u);
    n->d = NULL;
    n->u = NULL;
}

/* Runs the loop for ms milliseconds. */
static void
run(int ms)
{
    struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
    event_base_loopexit(base, &tv);
    event_base_dispatch(base);
}

static size_t
nodes_of(const struct node *n)
{
    struct dht_info in;
    dht_info(n->d, &in);
    return in.nodes[0];
}

struct found {
    int done;
    int hit;
    uint32_t announced;
};

static void
found_peers(void *user, const struct sockaddr_storage *peers, size_t n)
{
    struct found *f = user;
    for (size_t i = 0; i < n; i++) {
        char a[SOCKADDR_TEXT_MAX];
        sockaddr_format((const struct sockaddr *)&peers[i], a, sizeof(a));
        if (!strcmp(a, "127.0.0.1:4321"))
            f->hit = 1;
    }
}

static void
found_done(void *user, const struct dht_search_stats *st)
{
    struct found *f = user;
    f->done = 1;
    f->announced = st->announced;
}

static void
run_until_done(struct found *f)
{
    for (int i = 0; i < 100 && !f->done; i++)
        run(50);
}

struct sampled {
    const uint8_t *want;
    int done, rc, hit;
    int64_t num, interval;
};

static void
on_sample(void *user, int rc, const uint8_t (*ih)[DHT_ID_LEN], size_t n, int64_t num,
          int64_t interval)
{
    struct sampled *s = user;
    s->done = 1;
    s->rc = rc;
    s->num = num;
    s->interval = interval;
    for (size_t i = 0; i < n; i++)
        if (!memcmp(ih[i], s->want, DHT_ID_LEN))
            s->hit = 1;
}

static void
test_join_announce_lookup(void **state)
{
    (void)state;
    struct node a, b, c;
    start(&a, 1, NULL);
    start(&b, 2, NULL);
    start(&c, 3, NULL);
    assert_int_equal(dht_add_node(b.d, (struct sockaddr *)&a.sa), 0);
    assert_int_equal(dht_add_node(c.d, (struct sockaddr *)&a.sa), 0);
    run(300);
    assert_true(nodes_of(&a) >= 2);
    assert_true(nodes_of(&b) >= 1);

    uint8_t ih[20];
    memset(ih, 0x42, sizeof(ih));
    struct found f = {0};
    struct dht_search_cb cb = {found_peers, found_done, &f};
    assert_int_equal(dht_search(b.d, ih, 4321, &cb), 0);
    assert_int_equal(f.done, 0); /* never inside the call */
    run_until_done(&f);
    assert_true(f.done);
    assert_true(f.announced >= 1);
    run(100);

    struct found g = {0};
    struct dht_search_cb cb2 = {found_peers, found_done, &g};
    assert_int_equal(dht_search(c.d, ih, 0, &cb2), 0);
    run_until_done(&g);
    assert_true(g.done);
    assert_true(g.hit);

    /* BEP 51: b's store (or a's) holds ih; a sample names it. */
    struct sampled sm = {0};
    sm.want = ih;
    for (int k = 0; k < 2 && !sm.hit; k++) {
        memset(&sm, 0, sizeof(sm));
        sm.want = ih;
        assert_int_equal(
            dht_sample(c.d, (struct sockaddr *)(k ? &b.sa : &a.sa), ih, on_sample, &sm),
            0);
        for (int i = 0; i < 40 && !sm.done; i++)
            run(25);
        assert_true(sm.done);
        assert_int_equal(sm.rc, 0);
    }
    assert_true(sm.hit);
    assert_true(sm.num >= 1);
    assert_true(sm.interval > 0);

    /* A torrent of the session: its peers come up through on_peers. */
    dht_torrent_want(c.d, ih, 0);
    for (int i = 0; i < 60 && !c.calls; i++)
        run(50);
    assert_true(c.calls > 0);
    assert_int_equal(c.src, PEER_SOURCE_DHT);
    assert_string_equal(c.last, "127.0.0.1:4321");

    char *text = dht_table_text(a.d);
    assert_non_null(text);
    assert_non_null(strstr(text, "ipv4: "));
    assert_non_null(strstr(text, " good\n"));
    xfree(text);
    stop(&c);
    stop(&b);
    stop(&a);
}

/* A torrent the session stops naming in the middle of its lookup (a
 * magnet whose metadata says private, BEP 27): the lookup announces
 * nothing, and the node forgets the torrent at once. */
static void
test_forget_mid_lookup(void **state)
{
    (void)state;
    struct node a, b;
    start(&a, 11, NULL);
    start(&b, 12, NULL);
    assert_int_equal(dht_add_node(b.d, (struct sockaddr *)&a.sa), 0);
    run(300);
    assert_true(nodes_of(&b) >= 1);
    uint8_t ih[20];
    memset(ih, 0x5a, sizeof(ih));
    struct dht_info in;
    /* The joins' own lookups done first: the next search is the torrent's. */
    for (int i = 0; i < 100; i++) {
        dht_info(b.d, &in);
        if (in.searches == 0)
            break;
        run(50);
    }
    assert_int_equal(in.searches, 0);
    dht_torrent_want(b.d, ih, 0);
    /* Its lookup starts on the node's next round; forgotten right then,
     * before any reply is read. */
    for (int i = 0; i < 3000; i++) {
        event_base_loop(base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
        dht_info(b.d, &in);
        if (in.searches > 0)
            break;
        usleep(1000);
    }
    assert_true(in.searches > 0);
    dht_torrent_forget(b.d, ih);
    dht_info(b.d, &in);
    assert_int_equal(in.torrents, 0);
    run(1500);
    assert_false(dht_stored(a.d, ih));
    dht_info(b.d, &in);
    assert_int_equal(in.torrents, 0);
    stop(&b);
    stop(&a);
}

static void
test_save_and_load(void **state)
{
    (void)state;
    char path[] = "/tmp/shoal-dht-node-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    unlink(path);
    struct node a, b;
    start(&a, 11, NULL);
    start(&b, 12, path);
    dht_add_node(b.d, (struct sockaddr *)&a.sa);
    run(300);
    assert_true(nodes_of(&b) >= 1);
    struct dht_info before;
    dht_info(b.d, &before);
    stop(&b); /* saves */
    start(&b, 13, path);
    struct dht_info after;
    dht_info(b.d, &after);
    assert_memory_equal(before.id, after.id, 20);
    assert_true(after.nodes[0] >= 1); /* before any datagram */
    stop(&b);
    stop(&a);
    unlink(path);
}

/* A fake node that answers every query with nodes naming an outside
 * address and a loopback one. */
static void
test_local_only_keeps_outside_out(void **state)
{
    (void)state;
    struct node a;
    start(&a, 21, NULL);
    struct sockaddr_storage out;
    socklen_t len;
    sockaddr_from_ip("8.8.8.8", 6881, &out, &len);
    assert_int_equal(dht_add_node(a.d, (struct sockaddr *)&out), SHOAL_ELOCALONLY);
    uint8_t t[20] = {0};
    assert_int_equal(dht_add_node_name(a.d, "8.8.4.4:6881"), SHOAL_ELOCALONLY);

    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
    struct sockaddr_storage me;
    sockaddr_from_ip("127.0.0.1", 0, &me, &len);
    assert_int_equal(bind(fd, (struct sockaddr *)&me, len), 0);
    uint16_t port = sockaddr_bound_port(fd);
    sockaddr_set_port((struct sockaddr *)&me, port);
    assert_int_equal(dht_add_node(a.d, (struct sockaddr *)&me), 0);
    uint8_t fake_id[20];
    memset(fake_id, 0x77, sizeof(fake_id));
    int answered = 0;
    for (int round = 0; round < 40; round++) {
        run(25);
        uint8_t buf[2048];
        struct sockaddr_storage from;
        socklen_t flen = sizeof(from);
        ssize_t n;
        while ((n = recvfrom(fd, buf, sizeof(buf), 0, (struct sockaddr *)&from, &flen)) >
               0) {
            struct krpc_msg *q = xmalloc(sizeof(*q));
            if (krpc_parse(q, buf, (size_t)n, NULL) == 0 && q->type == KRPC_QUERY) {
                struct krpc_msg *r = xmalloc(sizeof(*r));
                krpc_response_init(r, q->tid, q->tid_len, fake_id);
                uint8_t nodes[2 * KRPC_NODE4_LEN];
                uint8_t outside[4] = {8, 8, 8, 8}, lo[4] = {127, 0, 0, 1};
                uint8_t id1[20], id2[20];
                memset(id1, 0x11, 20);
                memset(id2, 0x22, 20);
                krpc_put_node(nodes, id1, outside, 4, 6881);
                krpc_put_node(nodes + KRPC_NODE4_LEN, id2, lo, 4, 9);
                r->nodes.p = nodes;
                r->nodes.len = sizeof(nodes);
                r->has |= KRPC_HAS_NODES;
                struct buf b;
                buf_init(&b, 2048);
                assert_int_equal(krpc_encode(r, &b), 0);
                sendto(fd, b.data, b.len, 0, (struct sockaddr *)&from, flen);
                buf_cleanup(&b);
                xfree(r);
                answered++;
            }
            xfree(q);
            flen = sizeof(from);
        }
    }
    assert_true(answered > 0);
    char *text = dht_table_text(a.d);
    assert_non_null(text);
    assert_null(strstr(text, "8.8.8.8"));
    assert_non_null(strstr(text, "127.0.0.1"));
    xfree(text);
    (void)t;
    close(fd);
    stop(&a);
}

int
main(void)
{
    base = event_base_new();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_join_announce_lookup),
        cmocka_unit_test(test_save_and_load),
        cmocka_unit_test(test_forget_mid_lookup),
        cmocka_unit_test(test_local_only_keeps_outside_out),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    event_base_free(base);
    return rc;
}
