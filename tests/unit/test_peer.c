/*
 * test_peer.c — the peer protocol (peer_wire.c over peer_io.c) driven over
 * scripted byte streams, with no network: the peer runs on one end of a
 * bufferevent_pair and the test plays the remote peer on the other end,
 * writing its messages and reading back exactly what shoal sends. The
 * torrent is a real one in a real session (no listening socket): four pieces
 * of 32 KiB, the last one short, of which the session has piece 0.
 *
 * The session's one-second tick is stopped, so nothing times out and no
 * dead peer is reaped while a test still looks at it.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "codec/metainfo.h"
#include "engine/picker.h"
#include "session/peer.h"
#include "session/session.h"
#include "session/torrent.h"
#include "session/udp.h"
#include "shoal.h"

/* The torrent: piece 3 is short, so its second block is too. */
#define PIECE_LEN  32768u
#define NPIECES    4u
#define LAST_PIECE (PIECE_LEN - 12000u)
#define FILE_SIZE  ((NPIECES - 1) * PIECE_LEN + LAST_PIECE)
#define FAST       0x04 /* reserved[7]: BEP 6 */
#define DHT        0x01 /* reserved[7]: BEP 5, ours while the session runs a DHT node */
#define EXTENDED   0x10 /* reserved[5]: BEP 10 */
/* How long a test waits for bytes that need the disk pool. */
#define WAIT_MS 5000

static char workdir[256];
static char data_dir[300], leech_dir[300], empty_dir[300];
static uint8_t file_data[FILE_SIZE];
static const uint8_t remote_id[20] = "-XX0001-abcdefghijkl";

struct fx {
    shoal_session *ss;
    struct torrent *t;     /* we have piece 0 of it */
    struct torrent *empty; /* we have nothing of it */
    struct peer *p;
    struct bufferevent *far; /* the remote peer's end */
    char reason[256];        /* last SHOAL_EV_PEER_DISCONNECTED message */
    int closes;
};

/* ------------------------------------------------------------------ bytes */

static void
put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

/* <len><id> */
static size_t
msg_simple(uint8_t *out, uint8_t id)
{
    put32(out, 1);
    out[4] = id;
    return 5;
}

/* <len=5><id><index>: have, allowed fast */
static size_t
msg_index(uint8_t *out, uint8_t id, uint32_t index)
{
    put32(out, 5);
    out[4] = id;
    put32(out + 5, index);
    return 9;
}

/* <len=13><id><index><begin><length>: request, cancel, reject */
static size_t
msg_req(uint8_t *out, uint8_t id, uint32_t index, uint32_t begin, uint32_t length)
{
    put32(out, 13);
    out[4] = id;
    put32(out + 5, index);
    put32(out + 9, begin);
    put32(out + 13, length);
    return 17;
}

static size_t
handshake(uint8_t *out, uint8_t res5, uint8_t res7, const uint8_t ih[20],
          const uint8_t id[20])
{
    memcpy(out, "\023BitTorrent protocol", 20);
    memset(out + 20, 0, 8);
    out[25] = res5;
    out[27] = res7;
    memcpy(out + 28, ih, 20);
    memcpy(out + 48, id, 20);
    return 68;
}

/* ------------------------------------------------------------------ fixture */

static void
on_event(shoal_session *ss, const struct shoal_event *ev, void *user)
{
    (void)ss;
    struct fx *f = user;
    if (ev->type != SHOAL_EV_PEER_DISCONNECTED)
        return;
    snprintf(f->reason, sizeof(f->reason), "%s", ev->message);
    f->closes++;
}

static uint64_t
now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Runs the loop until nothing is left to do now: pair callbacks are
 * deferred, and each may schedule the next. */
static void
pump(struct fx *f)
{
    for (int i = 0; i < 16; i++)
        event_base_loop(f->ss->base, EVLOOP_NONBLOCK);
}

static shoal_metainfo *
make_metainfo(const char *path)
{
    struct shoal_create_opts o = {
        .path = path, .creation_date = -1, .piece_length = PIECE_LEN};
    uint8_t *data;
    size_t len;
    struct shoal_perr err = {0};
    assert_int_equal(shoal_create_torrent(&o, &data, &len, &err), 0);
    shoal_metainfo *m;
    assert_int_equal(shoal_metainfo_parse(data, len, &m, &err), 0);
    shoal_free(data);
    return m;
}

static struct torrent *
add_torrent(struct fx *f, const char *src, const char *save_dir)
{
    struct shoal_torrent_opts opts = {.save_dir = save_dir, .recheck = 1};
    struct shoal_perr err = {0};
    shoal_torrent *st;
    assert_int_equal(shoal_session_add(f->ss, make_metainfo(src), &opts, &st, &err), 0);
    struct torrent *t = (struct torrent *)st;
    /* Checking may finish on the disk pool: wait for it. */
    uint64_t deadline = now_ms() + WAIT_MS;
    while (t->state == SHOAL_TS_CHECKING && now_ms() < deadline) {
        pump(f);
        usleep(1000);
    }
    assert_int_equal(t->state, SHOAL_TS_DOWNLOADING);
    return t;
}

static int
setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    struct shoal_settings set;
    shoal_settings_init(&set);
    set.local_only = 1;
    set.listen = 0;
    set.disk_threads = 1;
    assert_int_equal(shoal_session_new(&set, &f->ss), 0);
    shoal_session_set_event_cb(f->ss, on_event, f);
    event_del(f->ss->tick_ev);
    char src[320];
    snprintf(src, sizeof(src), "%s/data.bin", data_dir);
    f->t = add_torrent(f, src, leech_dir);
    snprintf(src, sizeof(src), "%s/other.bin", data_dir);
    f->empty = add_torrent(f, src, empty_dir);
    assert_int_equal(picker_have_count(f->t->picker), 1);
    assert_true(picker_have(f->t->picker, 0));
    assert_int_equal(picker_have_count(f->empty->picker), 0);
    *state = f;
    return 0;
}

static int
teardown(void **state)
{
    struct fx *f = *state;
    if (f->far)
        bufferevent_free(f->far);
    shoal_session_free(f->ss);
    free(f);
    return 0;
}

static void
addr_v4(struct sockaddr_storage *sa, socklen_t *len)
{
    struct sockaddr_in *in = (struct sockaddr_in *)sa;
    memset(sa, 0, sizeof(*sa));
    in->sin_family = AF_INET;
    in->sin_port = htons(6881);
    in->sin_addr.s_addr = htonl(0x7f000001);
    *len = sizeof(*in);
}

/* IPv6 peers get no allowed-fast set (BEP 6 defines it for IPv4 only), so
 * what we send them depends on choking alone. */
static void
addr_v6(struct sockaddr_storage *sa, socklen_t *len)
{
    struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)sa;
    memset(sa, 0, sizeof(*sa));
    in6->sin6_family = AF_INET6;
    in6->sin6_port = htons(6881);
    in6->sin6_addr = in6addr_loopback;
    *len = sizeof(*in6);
}

/* A remote peer dialing us over a pair, as an accepted transport would. */
static void
accept_peer(struct fx *f, int v6)
{
    struct bufferevent *pair[2];
    assert_int_equal(bufferevent_pair_new(f->ss->base, 0, pair), 0);
    struct sockaddr_storage sa;
    socklen_t len;
    if (v6)
        addr_v6(&sa, &len);
    else
        addr_v4(&sa, &len);
    f->p = session_accept(f->ss, pair[0], (struct sockaddr *)&sa, len);
    assert_non_null(f->p);
    f->far = pair[1];
    bufferevent_enable(f->far, EV_READ | EV_WRITE);
}

/* We dial the remote peer for t; the pair reports the connect. */
static void
dial_peer(struct fx *f, struct torrent *t)
{
    struct bufferevent *pair[2];
    assert_int_equal(bufferevent_pair_new(f->ss->base, 0, pair), 0);
    struct sockaddr_storage sa;
    socklen_t len;
    addr_v6(&sa, &len);
    f->p = peer_new(f->ss, t, pair[0], (struct sockaddr *)&sa, len, 0);
    assert_non_null(f->p);
    torrent_peer_attached(t, f->p);
    f->far = pair[1];
    bufferevent_enable(f->far, EV_READ | EV_WRITE);
    assert_int_equal(f->p->state, PEER_CONNECTING);
    bufferevent_trigger_event(pair[0], BEV_EVENT_CONNECTED, 0);
    pump(f);
}

static void
feed(struct fx *f, const void *data, size_t len)
{
    assert_int_equal(bufferevent_write(f->far, data, len), 0);
    pump(f);
}

/* Asserts that shoal sent exactly want[0..len) since the last check,
 * waiting for the disk pool when need be, and consumes it. */
static void
expect_sent(struct fx *f, const void *want, size_t len)
{
    struct evbuffer *in = bufferevent_get_input(f->far);
    uint64_t deadline = now_ms() + WAIT_MS;
    pump(f);
    while (evbuffer_get_length(in) < len && now_ms() < deadline) {
        usleep(1000);
        pump(f);
    }
    size_t got = evbuffer_get_length(in);
    if (got != len)
        fail_msg("sent %zu bytes, want %zu", got, len);
    if (len)
        assert_memory_equal(evbuffer_pullup(in, (ssize_t)len), want, len);
    evbuffer_drain(in, len);
}

static void
expect_nothing_sent(struct fx *f)
{
    expect_sent(f, NULL, 0);
}

static void
drain_sent(struct fx *f)
{
    pump(f);
    struct evbuffer *in = bufferevent_get_input(f->far);
    evbuffer_drain(in, evbuffer_get_length(in));
}

static void
expect_closed(struct fx *f, const char *reason)
{
    assert_int_equal(f->p->state, PEER_DEAD);
    assert_string_equal(f->p->dead_reason, reason);
    assert_int_equal(f->closes, 1);
    assert_string_equal(f->reason, reason);
    assert_null(f->p->bev);
}

/* Handshakes as an incoming peer for t with the given reserved bits and
 * throws away our answer (test_handshake_answer checks it). */
static void
open_active(struct fx *f, struct torrent *t, uint8_t res5, uint8_t res7)
{
    accept_peer(f, 1);
    uint8_t hs[68];
    feed(f, hs, handshake(hs, res5, res7, t->m->infohash, remote_id));
    assert_int_equal(f->p->state, PEER_ACTIVE);
    assert_ptr_equal(f->p->t, t);
    drain_sent(f);
}

/* ------------------------------------------------------------------ tests */

/* Our extension handshake to a peer at 127.0.0.1 about t: ut_metadata and
 * the size of t's metadata (BEP 9), ut_pex (the torrent is public, peer
 * exchange on by default), no listen port (the session does not listen),
 * the request queue we accept, our name and the address we see it at. */
static size_t
our_ext_handshake(uint8_t *out, const struct torrent *t)
{
    char dict[192];
    const char *v = "shoal/" SHOAL_VERSION;
    int n = snprintf(dict, sizeof(dict),
                     "d1:md11:ut_metadatai%de6:ut_pexi%dee13:metadata_sizei%zue4:reqqi%de"
                     "1:v%zu:%s6:yourip4:",
                     EXT_ID_UT_METADATA, EXT_ID_UT_PEX, t->m->info_len, PEER_REQQ,
                     strlen(v), v);
    static const uint8_t loopback[4] = {127, 0, 0, 1};
    memcpy(dict + n, loopback, 4);
    dict[n + 4] = 'e';
    size_t dlen = (size_t)n + 5;
    put32(out, (uint32_t)(2 + dlen));
    out[4] = 20;
    out[5] = 0;
    memcpy(out + 6, dict, dlen);
    return 6 + dlen;
}

static void
test_handshake_answer(void **state)
{
    static const struct {
        const char *what;
        int empty;          /* the torrent we have nothing of */
        uint8_t res5, res7; /* its reserved bits */
    } cases[] = {
        {"fast + extended, we have piece 0", 0, EXTENDED, FAST},
        {"plain BEP 3, we have piece 0", 0, 0, 0},
        {"fast + extended, we have nothing", 1, EXTENDED, FAST},
        {"plain BEP 3, we have nothing", 1, 0, 0},
    };
    struct fx *f = *state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct torrent *t = cases[i].empty ? f->empty : f->t;
        int fast = cases[i].res7 == FAST;
        accept_peer(f, 0);
        uint8_t hs[68];
        feed(f, hs,
             handshake(hs, cases[i].res5, cases[i].res7, t->m->infohash, remote_id));
        assert_int_equal(f->p->state, PEER_ACTIVE);

        uint8_t want[512];
        size_t n = handshake(want, EXTENDED, FAST | DHT, t->m->infohash, f->ss->peer_id);
        if (cases[i].res5 == EXTENDED)
            n += our_ext_handshake(want + n, t);
        if (!cases[i].empty) {
            /* A bitfield with piece 0; a fast peer at an IPv4 address also
             * gets piece 0 as allowed fast: with four pieces the BEP 6 set
             * is every piece, and we grant those we have. */
            put32(want + n, 2);
            want[n + 4] = 5;
            want[n + 5] = 0x80;
            n += 6;
            if (fast)
                n += msg_index(want + n, 17, 0);
        } else if (fast) {
            n += msg_simple(want + n, 15); /* have none */
        }
        print_message("case: %s\n", cases[i].what);
        expect_sent(f, want, n);
        assert_int_equal(f->p->fast, fast);

        /* Close it, so the next case is not a duplicate connection. */
        peer_close(f->p, "test done");
        bufferevent_free(f->far);
        f->far = NULL;
        f->closes = 0;
    }
}

/* BEP 5: a peer that runs a DHT node hears the port of ours right after
 * the handshake, and its own PORT message gets its node pinged, once
 * however often it is sent. */
static void
test_dht_port(void **state)
{
    struct fx *f = *state;
    int node = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
    assert_true(node >= 0);
    struct sockaddr_in sin = {.sin_family = AF_INET};
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t slen = sizeof(sin);
    assert_int_equal(bind(node, (struct sockaddr *)&sin, sizeof(sin)), 0);
    assert_int_equal(getsockname(node, (struct sockaddr *)&sin, &slen), 0);

    accept_peer(f, 0);
    uint8_t hs[68];
    feed(f, hs, handshake(hs, EXTENDED, FAST | DHT, f->t->m->infohash, remote_id));
    uint8_t want[512];
    size_t n = handshake(want, EXTENDED, FAST | DHT, f->t->m->infohash, f->ss->peer_id);
    n += our_ext_handshake(want + n, f->t);
    int ours = udp_port(f->ss->udp, AF_INET);
    assert_true(ours > 0);
    put32(want + n, 3);
    want[n + 4] = 9;
    want[n + 5] = (uint8_t)(ours >> 8);
    want[n + 6] = (uint8_t)ours;
    n += 7;
    put32(want + n, 2); /* the bitfield with piece 0, then it as allowed fast */
    want[n + 4] = 5;
    want[n + 5] = 0x80;
    n += 6;
    n += msg_index(want + n, 17, 0);
    expect_sent(f, want, n);

    uint8_t port[7 * 3];
    for (int i = 0; i < 3; i++) {
        put32(port + 7 * i, 3);
        port[7 * i + 4] = 9;
        memcpy(port + 7 * i + 5, &sin.sin_port, 2); /* network order already */
    }
    feed(f, port, sizeof(port));
    uint8_t dgram[1500];
    ssize_t got = -1;
    uint64_t deadline = now_ms() + WAIT_MS;
    while (got < 0 && now_ms() < deadline) {
        pump(f);
        got = recv(node, dgram, sizeof(dgram), 0);
        if (got < 0)
            usleep(1000);
    }
    assert_true(got > 0);
    assert_non_null(memmem(dgram, (size_t)got, "1:q4:ping", 9));
    uint64_t quiet = now_ms() + 200;
    while (now_ms() < quiet) {
        pump(f);
        usleep(1000);
    }
    assert_true(recv(node, dgram, sizeof(dgram), 0) < 0); /* one ping, not three */
    assert_int_equal(f->p->state, PEER_ACTIVE);
    close(node);
}

static void
test_handshake_refused(void **state)
{
    struct fx *f = *state;
    uint8_t hs[68], want[68];

    /* We dialed for t: our handshake goes first, then the answer must
     * name the same torrent. */
    dial_peer(f, f->t);
    assert_int_equal(f->p->state, PEER_HANDSHAKE);
    expect_sent(f, want,
                handshake(want, EXTENDED, FAST | DHT, f->t->m->infohash, f->ss->peer_id));
    feed(f, hs, handshake(hs, EXTENDED, FAST, f->empty->m->infohash, remote_id));
    expect_closed(f, "wrong infohash in handshake");
    expect_nothing_sent(f);
    bufferevent_free(f->far);
    f->far = NULL;
    f->closes = 0;

    /* An incoming peer for a torrent the session does not have. */
    accept_peer(f, 0);
    uint8_t ih[20];
    memset(ih, 0xab, sizeof(ih));
    feed(f, hs, handshake(hs, 0, 0, ih, remote_id));
    expect_closed(f, "handshake for a torrent we do not have "
                     "(abababababababababababababababababababab)");
    expect_nothing_sent(f);
    bufferevent_free(f->far);
    f->far = NULL;
    f->closes = 0;

    /* Not BitTorrent at all: refused at the first wrong byte. */
    accept_peer(f, 0);
    feed(f, "GET / HTTP/1.1\r\n", 16);
    expect_closed(f, "bad handshake: not the BitTorrent protocol");
    expect_nothing_sent(f);
}

static void
test_bitfield_then_have(void **state)
{
    struct fx *f = *state;
    uint8_t m[64], want[64];
    open_active(f, f->t, 0, 0);

    /* It has piece 0 only, which we have too: nothing to want. */
    put32(m, 2);
    m[4] = 5;
    m[5] = 0x80;
    feed(f, m, 6);
    expect_nothing_sent(f);
    assert_int_equal(f->p->am_interested, 0);

    /* It gains piece 3, which we lack: interested, and no request while it
     * chokes us. */
    feed(f, m, msg_index(m, 4, 3));
    expect_sent(f, want, msg_simple(want, 2));
    assert_int_equal(f->p->am_interested, 1);
    assert_int_equal(f->p->nreqs, 0);

    /* Another have of a piece we lack changes nothing more. */
    feed(f, m, msg_index(m, 4, 2));
    expect_nothing_sent(f);
}

/* An active peer that has piece 3 only, and we interested in it. */
static void
open_with_piece3(struct fx *f, uint8_t res7)
{
    uint8_t m[64], want[64];
    open_active(f, f->t, 0, res7);
    put32(m, 2);
    m[4] = 5;
    m[5] = 0x10;
    feed(f, m, 6);
    expect_sent(f, want, msg_simple(want, 2));
}

/* The requests for all of piece 3: a full block and the short last one. */
static size_t
piece3_requests(uint8_t *out)
{
    size_t n = msg_req(out, 6, 3, 0, PICKER_BLOCK_SIZE);
    return n + msg_req(out + n, 6, 3, PICKER_BLOCK_SIZE, LAST_PIECE - PICKER_BLOCK_SIZE);
}

static void
test_unchoke_sends_requests(void **state)
{
    struct fx *f = *state;
    uint8_t m[64], want[64];
    open_with_piece3(f, 0);
    feed(f, m, msg_simple(m, 1));
    expect_sent(f, want, piece3_requests(want));
    assert_int_equal(f->p->nreqs, 2);
    assert_int_equal(f->p->reqs[0].piece, 3);
    assert_int_equal(f->p->reqs[0].begin, 0);
    assert_int_equal(f->p->reqs[0].length, PICKER_BLOCK_SIZE);
}

static void
test_choke_drops_requests(void **state)
{
    struct fx *f = *state;
    uint8_t m[64], want[64];
    open_with_piece3(f, 0);
    feed(f, m, msg_simple(m, 1));
    expect_sent(f, want, piece3_requests(want));

    /* BEP 3: without the fast extension a choke drops our requests; the
     * picker takes the blocks back and asks again after the next unchoke. */
    feed(f, m, msg_simple(m, 0));
    expect_nothing_sent(f);
    assert_int_equal(f->p->nreqs, 0);
    feed(f, m, msg_simple(m, 1));
    expect_sent(f, want, piece3_requests(want));
    assert_int_equal(f->p->nreqs, 2);
}

static void
test_choke_keeps_requests_with_fast(void **state)
{
    struct fx *f = *state;
    uint8_t m[64], want[64];
    open_with_piece3(f, FAST);
    feed(f, m, msg_simple(m, 1));
    expect_sent(f, want, piece3_requests(want));

    /* BEP 6: requests stand until answered or rejected one by one. */
    feed(f, m, msg_simple(m, 0));
    expect_nothing_sent(f);
    assert_int_equal(f->p->nreqs, 2);
    feed(f, m, msg_req(m, 16, 3, 0, PICKER_BLOCK_SIZE));
    assert_int_equal(f->p->state, PEER_ACTIVE);
    assert_int_equal(f->p->nreqs, 1);
    assert_int_equal(f->p->reqs[0].begin, PICKER_BLOCK_SIZE);
}

static void
test_request_choked_then_served(void **state)
{
    struct fx *f = *state;
    uint8_t m[64], want[64];
    open_active(f, f->t, 0, FAST);
    assert_int_equal(f->p->am_choking, 1);

    /* We choke it: a request for a piece we have is rejected (BEP 6), and
     * no data goes out. */
    feed(f, m, msg_req(m, 6, 0, 0, PICKER_BLOCK_SIZE));
    expect_sent(f, want, msg_req(want, 16, 0, 0, PICKER_BLOCK_SIZE));

    /* Interested, with an upload slot free: unchoked at once. */
    feed(f, m, msg_simple(m, 2));
    expect_sent(f, want, msg_simple(want, 1));
    assert_int_equal(f->p->am_choking, 0);

    /* Now the block comes from the disk: header, then the file's bytes. */
    feed(f, m, msg_req(m, 6, 0, PICKER_BLOCK_SIZE, PICKER_BLOCK_SIZE));
    static uint8_t piece[13 + PICKER_BLOCK_SIZE];
    put32(piece, 9 + PICKER_BLOCK_SIZE);
    piece[4] = 7;
    put32(piece + 5, 0);
    put32(piece + 9, PICKER_BLOCK_SIZE);
    memcpy(piece + 13, file_data + PICKER_BLOCK_SIZE, PICKER_BLOCK_SIZE);
    expect_sent(f, piece, sizeof(piece));
    assert_int_equal(f->p->uploaded, PICKER_BLOCK_SIZE);

    /* A piece we do not have is rejected even while unchoked. */
    feed(f, m, msg_req(m, 6, 1, 0, PICKER_BLOCK_SIZE));
    expect_sent(f, want, msg_req(want, 16, 1, 0, PICKER_BLOCK_SIZE));
}

static void
test_request_choked_without_fast(void **state)
{
    struct fx *f = *state;
    uint8_t m[64];
    open_active(f, f->t, 0, 0);
    /* BEP 3: a request while choked is dropped without a word. */
    feed(f, m, msg_req(m, 6, 0, 0, PICKER_BLOCK_SIZE));
    expect_nothing_sent(f);
    assert_int_equal(f->p->nupq, 0);
    assert_int_equal(f->p->state, PEER_ACTIVE);
}

static void
test_reject_not_requested(void **state)
{
    struct fx *f = *state;
    uint8_t m[64];
    open_active(f, f->t, 0, FAST);
    feed(f, m, msg_req(m, 16, 1, 0, PICKER_BLOCK_SIZE));
    expect_closed(f, "reject for a block we did not request");
    expect_nothing_sent(f);
}

/* A peer from ip:port (host order) with peer id id that handshakes for t
 * with the fast extension and says it has every piece; its end of the pair
 * goes to *far. */
static struct peer *
accept_seed_from(struct fx *f, struct torrent *t, uint32_t ip, uint16_t port,
                 const uint8_t *id, uint8_t res5, struct bufferevent **far)
{
    struct bufferevent *pair[2];
    assert_int_equal(bufferevent_pair_new(f->ss->base, 0, pair), 0);
    struct sockaddr_storage sa;
    socklen_t len;
    addr_v4(&sa, &len);
    ((struct sockaddr_in *)&sa)->sin_addr.s_addr = htonl(ip);
    ((struct sockaddr_in *)&sa)->sin_port = htons(port);
    struct peer *p = session_accept(f->ss, pair[0], (struct sockaddr *)&sa, len);
    assert_non_null(p);
    *far = pair[1];
    bufferevent_enable(*far, EV_READ | EV_WRITE);
    uint8_t m[128];
    assert_int_equal(
        bufferevent_write(*far, m, handshake(m, res5, FAST, t->m->infohash, id)), 0);
    pump(f);
    assert_int_equal(p->state, PEER_ACTIVE);
    assert_int_equal(bufferevent_write(*far, m, msg_simple(m, 14)), 0);
    pump(f);
    assert_int_equal(p->am_interested, 1);
    return p;
}

/* The same from 127.0.0.1 with remote_id. */
static struct peer *
accept_seed(struct fx *f, struct torrent *t, uint16_t port, uint8_t res5,
            struct bufferevent **far)
{
    return accept_seed_from(f, t, 0x7f000001, port, remote_id, res5, far);
}

/* bad, unchoking us from the far end far, answers every request of its
 * one piece with zeros; returns once it is closed. */
static void
send_bad_piece(struct fx *f, struct peer *bad, struct bufferevent *far)
{
    uint8_t m[64];
    assert_int_equal(bufferevent_write(far, m, msg_simple(m, 1)), 0);
    pump(f);
    assert_true(bad->nreqs > 0);
    static uint8_t blk[13 + PICKER_BLOCK_SIZE];
    size_t n = bad->nreqs;
    struct peer_req reqs[8];
    assert_true(n <= 8);
    memcpy(reqs, bad->reqs, n * sizeof(reqs[0]));
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(reqs[i].piece, reqs[0].piece);
        put32(blk, 9 + reqs[i].length);
        blk[4] = 7;
        put32(blk + 5, reqs[i].piece);
        put32(blk + 9, reqs[i].begin);
        assert_int_equal(bufferevent_write(far, blk, 13 + reqs[i].length), 0);
    }
    uint64_t deadline = now_ms() + WAIT_MS;
    while (bad->state != PEER_DEAD && now_ms() < deadline) {
        pump(f);
        usleep(1000);
    }
}

static void
test_reject_refills_elsewhere(void **state)
{
    struct fx *f = *state;
    uint8_t m[64], want[64];
    f->p = accept_seed(f, f->t, 6881, EXTENDED, &f->far);
    assert_int_equal(picker_peer_trust(f->t->picker, f->p), PICKER_TRUST_NEW);
    picker_peer_set_trust(f->t->picker, f->p, PICKER_TRUST_FULL);
    /* It takes one request at a time (BEP 10 reqq). */
    static const char ext[] = "d4:reqqi1ee";
    put32(m, 2 + sizeof(ext) - 1);
    m[4] = 20;
    m[5] = 0;
    memcpy(m + 6, ext, sizeof(ext) - 1);
    feed(f, m, 6 + sizeof(ext) - 1);
    drain_sent(f);
    feed(f, m, msg_simple(m, 1));
    assert_int_equal(f->p->nreqs, 1);
    uint32_t first = f->p->reqs[0].piece;
    assert_int_equal(f->p->reqs[0].begin, 0);
    drain_sent(f);
    /* Rejected while it unchokes us: the slot is refilled at once, from
     * another piece than the one it refused. */
    feed(f, m, msg_req(m, 16, first, 0, PICKER_BLOCK_SIZE));
    assert_int_equal(f->p->state, PEER_ACTIVE);
    assert_int_equal(f->p->nreqs, 1);
    uint32_t second = f->p->reqs[0].piece;
    assert_int_not_equal(second, first);
    expect_sent(f, want, msg_req(want, 6, second, 0, PICKER_BLOCK_SIZE));
    /* A reject for a request we cancelled is no violation (BEP 6). */
    peer_cancel_block(f->p, second, 0, PICKER_BLOCK_SIZE);
    expect_sent(f, want, msg_req(want, 8, second, 0, PICKER_BLOCK_SIZE));
    feed(f, m, msg_req(m, 16, second, 0, PICKER_BLOCK_SIZE));
    assert_int_equal(f->p->state, PEER_ACTIVE);
    /* One more is: nothing was cancelled. */
    feed(f, m, msg_req(m, 16, second, 0, PICKER_BLOCK_SIZE));
    assert_int_equal(f->p->state, PEER_DEAD);
}

static void
test_ban_covers_host_and_torrents(void **state)
{
    struct fx *f = *state;
    /* The same host (not a shared address) on two torrents, from two
     * source ports and with two peer ids. */
    static const uint8_t other_id[20] = "-XX0001-other-id-000";
    struct bufferevent *far2;
    f->p = accept_seed_from(f, f->t, 0x7f000002, 6881, other_id, 0, &f->far);
    struct peer *bad =
        accept_seed_from(f, f->empty, 0x7f000002, 7000, remote_id, 0, &far2);
    /* And a third connection that has not handshaked yet. */
    struct bufferevent *pair3[2];
    assert_int_equal(bufferevent_pair_new(f->ss->base, 0, pair3), 0);
    struct sockaddr_storage sa3;
    socklen_t len3;
    addr_v4(&sa3, &len3);
    ((struct sockaddr_in *)&sa3)->sin_addr.s_addr = htonl(0x7f000002);
    ((struct sockaddr_in *)&sa3)->sin_port = htons(7002);
    struct peer *half = session_accept(f->ss, pair3[0], (struct sockaddr *)&sa3, len3);
    assert_non_null(half);
    send_bad_piece(f, bad, far2);
    /* Its one piece failed: banned, and so is the host everywhere. */
    assert_int_equal(f->empty->hash_failures, 1);
    assert_int_equal(f->empty->nbanned, 1);
    assert_int_equal(bad->state, PEER_DEAD);
    assert_string_equal(bad->dead_reason,
                        "banned: sent a piece that failed its hash check");
    assert_int_equal(f->p->state, PEER_DEAD);
    assert_string_equal(f->p->dead_reason,
                        "banned: sent a piece that failed its hash check");
    assert_int_equal(half->state, PEER_DEAD);
    assert_string_equal(half->dead_reason, "banned address");
    bufferevent_free(pair3[1]);
    struct sockaddr_storage sa;
    socklen_t len;
    addr_v4(&sa, &len);
    ((struct sockaddr_in *)&sa)->sin_addr.s_addr = htonl(0x7f000002);
    ((struct sockaddr_in *)&sa)->sin_port = htons(9999);
    assert_true(torrent_is_banned(f->t, (struct sockaddr *)&sa));
    assert_int_equal(torrent_add_known(f->t, (struct sockaddr *)&sa, len), SHOAL_EBANNED);
    ((struct sockaddr_in *)&sa)->sin_addr.s_addr = htonl(0x7f000003);
    assert_false(torrent_is_banned(f->t, (struct sockaddr *)&sa));
    /* It comes back from yet another port: refused at accept, before a
     * peer is made of the connection (the transport is freed). */
    bufferevent_free(far2);
    bufferevent_free(f->far);
    f->far = NULL;
    struct bufferevent *pair[2];
    assert_int_equal(bufferevent_pair_new(f->ss->base, 0, pair), 0);
    ((struct sockaddr_in *)&sa)->sin_addr.s_addr = htonl(0x7f000002);
    ((struct sockaddr_in *)&sa)->sin_port = htons(7001);
    int before = f->ss->npeers;
    f->p = session_accept(f->ss, pair[0], (struct sockaddr *)&sa, len);
    assert_null(f->p);
    assert_int_equal(f->ss->npeers, before);
    bufferevent_free(pair[1]);
}

/* On 127.0.0.1, every local client's address, a ban names the poisoner's
 * endpoint and peer id: its connections (any port, any torrent) close, the
 * honest local peer stays, and its next connection gets in only as far as
 * the handshake that names it. */
static void
test_shared_address_ban_names_the_peer(void **state)
{
    struct fx *f = *state;
    static const uint8_t honest_id[20] = "-XX0001-honest-seedr";
    struct bufferevent *far2, *far3;
    f->p = accept_seed_from(f, f->t, 0x7f000001, 6881, honest_id, 0, &f->far);
    struct peer *bad =
        accept_seed_from(f, f->empty, 0x7f000001, 7000, remote_id, 0, &far2);
    struct peer *bad2 = accept_seed_from(f, f->t, 0x7f000001, 7003, remote_id, 0, &far3);
    struct bufferevent *pair3[2];
    assert_int_equal(bufferevent_pair_new(f->ss->base, 0, pair3), 0);
    struct sockaddr_storage sa;
    socklen_t len;
    addr_v4(&sa, &len);
    ((struct sockaddr_in *)&sa)->sin_port = htons(7002);
    struct peer *half = session_accept(f->ss, pair3[0], (struct sockaddr *)&sa, len);
    assert_non_null(half);
    send_bad_piece(f, bad, far2);
    assert_int_equal(f->empty->hash_failures, 1);
    assert_int_equal(f->empty->nbanned, 1);
    assert_string_equal(bad->dead_reason,
                        "banned: sent a piece that failed its hash check");
    /* Its other connection, same peer id on another torrent, goes too. */
    assert_int_equal(bad2->state, PEER_DEAD);
    assert_string_equal(bad2->dead_reason,
                        "banned: sent a piece that failed its hash check");
    /* The honest local peer and a stranger not yet handshaked stay. */
    assert_int_equal(f->p->state, PEER_ACTIVE);
    assert_int_not_equal(half->state, PEER_DEAD);
    /* Its endpoint is refused; other ports of 127.0.0.1 are not. */
    ((struct sockaddr_in *)&sa)->sin_port = htons(7000);
    assert_true(torrent_is_banned(f->t, (struct sockaddr *)&sa));
    assert_int_equal(torrent_add_known(f->t, (struct sockaddr *)&sa, len), SHOAL_EBANNED);
    ((struct sockaddr_in *)&sa)->sin_port = htons(9999);
    assert_false(torrent_is_banned(f->t, (struct sockaddr *)&sa));
    /* It comes back from a new port with its peer id: refused at the
     * handshake. */
    struct bufferevent *pair[2];
    assert_int_equal(bufferevent_pair_new(f->ss->base, 0, pair), 0);
    ((struct sockaddr_in *)&sa)->sin_port = htons(7001);
    struct peer *again = session_accept(f->ss, pair[0], (struct sockaddr *)&sa, len);
    assert_non_null(again);
    bufferevent_enable(pair[1], EV_READ | EV_WRITE);
    uint8_t m[128];
    assert_int_equal(bufferevent_write(
                         pair[1], m, handshake(m, 0, FAST, f->t->m->infohash, remote_id)),
                     0);
    pump(f);
    assert_int_equal(again->state, PEER_DEAD);
    assert_string_equal(again->dead_reason, "banned peer id");
    assert_int_equal(f->p->state, PEER_ACTIVE);
    bufferevent_free(pair[1]);
    bufferevent_free(pair3[1]);
    bufferevent_free(far2);
    bufferevent_free(far3);
}

/* Each breaks the protocol; the reason is the codec's (wire.c). */
static void
test_protocol_violations(void **state)
{
    static const struct {
        const char *what;
        uint8_t res7;
        uint8_t bytes[24];
        size_t len;
        const char *reason;
    } cases[] = {
        {"have past the end",
         0,
         {0, 0, 0, 5, 4, 0, 0, 0, 4},
         9,
         "protocol error: piece 4 of 4"},
        {"length prefix over the cap",
         0,
         {0x7f, 0xff, 0xff, 0xff},
         4,
         "protocol error: message of 2147483647 bytes, limit 1048578"},
        {"have of the wrong length",
         0,
         {0, 0, 0, 7, 4, 0, 0, 0, 0, 0, 0},
         11,
         "protocol error: message 4 has a length of 7, want 5"},
        {"bitfield with spare bits",
         0,
         {0, 0, 0, 2, 5, 0x01},
         6,
         "protocol error: bitfield has spare bits set"},
        {"reject without the fast extension",
         0,
         {0, 0, 0, 13, 16, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x40, 0},
         17,
         "protocol error: message 16 needs the fast extension"},
        {"request past the end of the last piece",
         FAST,
         {0, 0, 0, 13, 6, 0, 0, 0, 3, 0, 0, 0x40, 0, 0, 0, 0x40, 0},
         17,
         "protocol error: bytes 16384+16384 of piece 3, which has 20768"},
    };
    struct fx *f = *state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        print_message("case: %s\n", cases[i].what);
        open_active(f, f->t, 0, cases[i].res7);
        feed(f, cases[i].bytes, cases[i].len);
        expect_closed(f, cases[i].reason);
        expect_nothing_sent(f);
        bufferevent_free(f->far);
        f->far = NULL;
        f->closes = 0;
    }
}

static void
test_messages_split_anywhere(void **state)
{
    /* Framing: a bitfield and a have arriving a byte at a time act just as
     * when they arrive whole. */
    struct fx *f = *state;
    uint8_t m[64], want[64];
    open_active(f, f->t, 0, 0);
    size_t n = 0;
    put32(m, 2);
    m[4] = 5;
    m[5] = 0x80;
    n = 6;
    n += msg_index(m + n, 4, 2);
    for (size_t i = 0; i < n; i++)
        feed(f, m + i, 1);
    expect_sent(f, want, msg_simple(want, 2));
    assert_true(bitfield_get(&f->p->has, 0));
    assert_true(bitfield_get(&f->p->has, 2));
}

/* ------------------------------------------------------------------ main */

static void
write_file(const char *path, const uint8_t *data, size_t n)
{
    FILE *fp = fopen(path, "wb");
    assert_non_null(fp);
    assert_int_equal(fwrite(data, 1, n, fp), n);
    fclose(fp);
}

static int
make_files(void)
{
    snprintf(data_dir, sizeof(data_dir), "%s/data", workdir);
    snprintf(leech_dir, sizeof(leech_dir), "%s/leech", workdir);
    snprintf(empty_dir, sizeof(empty_dir), "%s/empty", workdir);
    if (mkdir(data_dir, 0755) || mkdir(leech_dir, 0755) || mkdir(empty_dir, 0755))
        return -1;
    srand(7);
    for (size_t i = 0; i < FILE_SIZE; i++)
        file_data[i] = (uint8_t)(rand() & 0xff);
    char path[320];
    snprintf(path, sizeof(path), "%s/data.bin", data_dir);
    write_file(path, file_data, FILE_SIZE);
    snprintf(path, sizeof(path), "%s/other.bin", data_dir);
    write_file(path, file_data + 1, FILE_SIZE - 1);
    /* The downloading copy has piece 0 right and the rest zeros. */
    static uint8_t partial[FILE_SIZE];
    memcpy(partial, file_data, PIECE_LEN);
    snprintf(path, sizeof(path), "%s/data.bin", leech_dir);
    write_file(path, partial, FILE_SIZE);
    return 0;
}

int
main(void)
{
    snprintf(workdir, sizeof(workdir), "/tmp/shoal-test-peer-XXXXXX");
    if (!mkdtemp(workdir) || make_files() != 0)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_handshake_answer, setup, teardown),
        cmocka_unit_test_setup_teardown(test_handshake_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dht_port, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bitfield_then_have, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unchoke_sends_requests, setup, teardown),
        cmocka_unit_test_setup_teardown(test_choke_drops_requests, setup, teardown),
        cmocka_unit_test_setup_teardown(test_choke_keeps_requests_with_fast, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_request_choked_then_served, setup, teardown),
        cmocka_unit_test_setup_teardown(test_request_choked_without_fast, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_reject_not_requested, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reject_refills_elsewhere, setup, teardown),
        cmocka_unit_test_setup_teardown(test_shared_address_ban_names_the_peer, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_ban_covers_host_and_torrents, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_protocol_violations, setup, teardown),
        cmocka_unit_test_setup_teardown(test_messages_split_anywhere, setup, teardown),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    char cmd[300];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", workdir);
    if (system(cmd) != 0)
        rc = 1;
    return rc;
}
