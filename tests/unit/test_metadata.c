/*
 * test_metadata.c — the metadata exchange on a session's connections
 * (session/metadata.c with torrent.c and peer_wire.c): a torrent added
 * from a magnet asks a peer for its metadata, keeps what the peer says it
 * has until the piece count is known, becomes a whole torrent when the
 * metadata verifies (the .torrent made of it, the event, the peer's have
 * state applied); a peer that leaves with a request outstanding has it
 * given to another; metadata of the wrong hash is dropped; a torrent with
 * metadata serves it and rejects what it cannot serve. The remote peers
 * are bufferevent pairs driven by hand; the session's tick is off, so
 * torrent_tick() runs when a test says.
 */
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "base/bitfield.h"
#include "base/sha.h"
#include "codec/ext.h"
#include "codec/metainfo.h"
#include "session/peer.h"
#include "session/session.h"
#include "session/torrent.h"
#include "shoal.h"

#define PIECE_LEN 16384u
#define NPIECES   20u
#define FILE_SIZE (NPIECES * PIECE_LEN - 1000u)
#define FAST      0x04
#define EXTENDED  0x10
#define WAIT_MS   5000
#define THEIR_ID  3 /* the ut_metadata id the remote peers ask for */

static char workdir[256];
static char data_dir[300], leech_dir[300];
static uint8_t *torrent_bytes;
static size_t torrent_len;

struct remote {
    struct peer *p;
    struct bufferevent *far;
};

struct fx {
    shoal_session *ss;
    shoal_metainfo *ref; /* the torrent as the peers know it */
    struct torrent *t;   /* added from its magnet */
    int metadata_events;
    int warnings;
};

static uint64_t
now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void
pump(struct fx *f)
{
    for (int i = 0; i < 16; i++)
        event_base_loop(f->ss->base, EVLOOP_NONBLOCK);
}

static void
on_event(shoal_session *ss, const struct shoal_event *ev, void *user)
{
    (void)ss;
    struct fx *f = user;
    if (ev->type == SHOAL_EV_METADATA) {
        f->metadata_events++;
        assert_string_equal(ev->message, "data.bin");
    } else if (ev->type == SHOAL_EV_WARNING) {
        f->warnings++;
    }
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
send_raw(struct fx *f, struct remote *r, const void *p, size_t n)
{
    assert_int_equal(bufferevent_write(r->far, p, n), 0);
    pump(f);
}

/* An extended message (BEP 10) with id and payload. */
static void
send_ext(struct fx *f, struct remote *r, uint8_t id, const void *payload, size_t n)
{
    uint8_t hdr[6];
    put32(hdr, (uint32_t)(n + 2));
    hdr[4] = 20;
    hdr[5] = id;
    assert_int_equal(bufferevent_write(r->far, hdr, 6), 0);
    send_raw(f, r, payload, n);
}

/* The next message shoal sent r (keep-alives skipped): its id, and its
 * payload in out[0..*len). Fails the test when none comes in time. */
static uint8_t
next_msg(struct fx *f, struct remote *r, uint8_t *out, size_t cap, size_t *len)
{
    struct evbuffer *in = bufferevent_get_input(r->far);
    uint64_t deadline = now_ms() + WAIT_MS;
    for (;;) {
        pump(f);
        size_t have = evbuffer_get_length(in);
        if (have >= 4) {
            uint8_t *h = evbuffer_pullup(in, 4);
            uint32_t n =
                (uint32_t)h[0] << 24 | (uint32_t)h[1] << 16 | (uint32_t)h[2] << 8 | h[3];
            if (n == 0) {
                evbuffer_drain(in, 4);
                continue;
            }
            if (have >= 4 + (size_t)n) {
                assert_true(n - 1 <= cap);
                uint8_t *b = evbuffer_pullup(in, 4 + n);
                uint8_t id = b[4];
                memcpy(out, b + 5, n - 1);
                *len = n - 1;
                evbuffer_drain(in, 4 + n);
                return id;
            }
        }
        if (now_ms() > deadline)
            fail_msg("no message from shoal within %d ms", WAIT_MS);
        usleep(1000);
    }
}

/* Reads until an extended message with our ut_metadata id; returns its
 * payload length (after the id) in out. */
static size_t
next_meta(struct fx *f, struct remote *r, uint8_t *out, size_t cap)
{
    static uint8_t buf[64 * 1024];
    for (int i = 0; i < 50; i++) {
        size_t len;
        uint8_t id = next_msg(f, r, buf, sizeof(buf), &len);
        if (id == 20 && len > 0 && buf[0] == THEIR_ID) {
            assert_true(len - 1 <= cap);
            memcpy(out, buf + 1, len - 1);
            return len - 1;
        }
    }
    fail_msg("no ut_metadata message");
    return 0;
}

/* 1 when nothing shoal sent r so far (read and dropped) is a ut_metadata
 * message. */
static int
quiet(struct fx *f, struct remote *r)
{
    pump(f);
    usleep(20000);
    pump(f);
    struct evbuffer *in = bufferevent_get_input(r->far);
    int none = 1;
    while (evbuffer_get_length(in) >= 4) {
        uint8_t *h = evbuffer_pullup(in, 4);
        uint32_t n =
            (uint32_t)h[0] << 24 | (uint32_t)h[1] << 16 | (uint32_t)h[2] << 8 | h[3];
        if (evbuffer_get_length(in) < 4 + (size_t)n)
            break;
        uint8_t *b = evbuffer_pullup(in, 4 + n);
        if (n >= 2 && b[4] == 20 && b[5] == THEIR_ID)
            none = 0;
        evbuffer_drain(in, 4 + n);
    }
    return none;
}

/* A remote peer dials us for ih; handshakes are exchanged and shoal's
 * handshake read. offer: its extension handshake offers the metadata (and
 * names THEIR_ID); without it, shoal's first messages are read too. */
static void
connect_remote(struct fx *f, struct remote *r, const uint8_t *ih, uint8_t last_octet,
               int offer)
{
    struct bufferevent *pair[2];
    assert_int_equal(bufferevent_pair_new(f->ss->base, 0, pair), 0);
    struct sockaddr_in in;
    memset(&in, 0, sizeof(in));
    in.sin_family = AF_INET;
    in.sin_port = htons(6881);
    in.sin_addr.s_addr = htonl(0x7f000000u | last_octet);
    r->p = session_accept(f->ss, pair[0], (struct sockaddr *)&in, sizeof(in));
    assert_non_null(r->p);
    r->far = pair[1];
    bufferevent_enable(r->far, EV_READ | EV_WRITE);
    uint8_t hs[68];
    memcpy(hs, "\023BitTorrent protocol", 20);
    memset(hs + 20, 0, 8);
    hs[25] = EXTENDED;
    hs[27] = FAST;
    memcpy(hs + 28, ih, 20);
    memset(hs + 48, 'a' + last_octet, 20);
    send_raw(f, r, hs, sizeof(hs));
    assert_int_equal(r->p->state, PEER_ACTIVE);
    struct evbuffer *inb = bufferevent_get_input(r->far);
    evbuffer_drain(inb, 68);
    char ext[128];
    int n = offer ? snprintf(ext, sizeof(ext),
                             "d1:md11:ut_metadatai%dee13:metadata_sizei%zuee", THEIR_ID,
                             f->ref->info_len)
                  : snprintf(ext, sizeof(ext), "d1:md11:ut_metadatai%deee", THEIR_ID);
    send_ext(f, r, 0, ext, (size_t)n);
    /* Our extension handshake and have-none: read past them. */
    pump(f);
    if (!offer)
        evbuffer_drain(inb, evbuffer_get_length(inb));
}

static void
close_remote(struct remote *r)
{
    if (r->far)
        bufferevent_free(r->far);
    r->far = NULL;
}

/* Sends the whole metadata as piece 0 (it is under 16 KiB), spoiled or not. */
static void
send_metadata(struct fx *f, struct remote *r, int spoil)
{
    static uint8_t msg[64 + 16384];
    int n = snprintf((char *)msg, 64, "d8:msg_typei1e5:piecei0e10:total_sizei%zuee",
                     f->ref->info_len);
    assert_true(f->ref->info_len <= 16384);
    memcpy(msg + n, f->ref->info, f->ref->info_len);
    if (spoil)
        msg[n + f->ref->info_len - 2] ^= 1;
    send_ext(f, r, 1, msg, (size_t)n + f->ref->info_len);
}

static void
expect_request(struct fx *f, struct remote *r, uint32_t piece)
{
    uint8_t body[128];
    size_t n = next_meta(f, r, body, sizeof(body));
    char want[64];
    int w = snprintf(want, sizeof(want), "d8:msg_typei0e5:piecei%uee", (unsigned)piece);
    assert_int_equal(n, (size_t)w);
    assert_memory_equal(body, want, n);
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
    set.dht = set.pex = set.lsd = 0;
    assert_int_equal(shoal_session_new(&set, &f->ss), 0);
    shoal_session_set_event_cb(f->ss, on_event, f);
    event_del(f->ss->tick_ev);
    struct shoal_perr err = {0};
    assert_int_equal(shoal_metainfo_parse(torrent_bytes, torrent_len, &f->ref, &err), 0);
    char hex[41], uri[128];
    shoal_hex(f->ref->infohash, 20, hex);
    snprintf(uri, sizeof(uri), "magnet:?xt=urn:btih:%s", hex);
    shoal_magnet *mg;
    assert_int_equal(shoal_magnet_parse(uri, &mg, &err), 0);
    char dir[320];
    snprintf(dir, sizeof(dir), "%s/%d", leech_dir, rand());
    struct shoal_torrent_opts opts = {.save_dir = dir};
    shoal_torrent *st;
    assert_int_equal(shoal_session_add_magnet(f->ss, mg, &opts, &st, &err), 0);
    shoal_magnet_free(mg);
    f->t = (struct torrent *)st;
    *state = f;
    return 0;
}

static int
teardown(void **state)
{
    struct fx *f = *state;
    shoal_session_free(f->ss);
    shoal_metainfo_free(f->ref);
    free(f);
    return 0;
}

static void
test_before_metadata(void **state)
{
    struct fx *f = *state;
    struct shoal_torrent_status st;
    shoal_torrent_status((shoal_torrent *)f->t, &st);
    assert_int_equal(st.state, SHOAL_TS_METADATA);
    assert_string_equal(st.state_name, "fetching metadata");
    assert_int_equal(st.piece_count, 0);
    assert_int_equal(st.total_wanted, 0);
    assert_int_equal(st.metadata_peers, 0);
    assert_null(shoal_torrent_metainfo((shoal_torrent *)f->t));
    size_t len = 1;
    assert_null(shoal_torrent_file_data((shoal_torrent *)f->t, &len));
    assert_int_equal(len, 0);
    assert_false(torrent_is_done(f->t));
    assert_memory_equal(shoal_torrent_infohash((shoal_torrent *)f->t), f->ref->infohash,
                        20);
    torrent_tick(f->t, now_ms()); /* nothing to choke, request or save */
}

static void
test_fetch_then_download(void **state)
{
    struct fx *f = *state;
    struct remote r = {0};
    connect_remote(f, &r, f->ref->infohash, 2, 1);
    /* What it has, before we know how many pieces there are. */
    uint8_t have[9];
    put32(have, 5);
    have[4] = 4;
    put32(have + 5, 3);
    send_raw(f, &r, have, sizeof(have));
    expect_request(f, &r, 0);
    struct shoal_torrent_status st;
    shoal_torrent_status((shoal_torrent *)f->t, &st);
    assert_int_equal(st.metadata_peers, 1);
    assert_int_equal(st.metadata_size, f->ref->info_len);

    send_metadata(f, &r, 0);
    assert_int_equal(f->metadata_events, 1);
    assert_int_equal(f->t->state, SHOAL_TS_DOWNLOADING);
    const shoal_metainfo *m = shoal_torrent_metainfo((shoal_torrent *)f->t);
    assert_non_null(m);
    assert_int_equal(m->piece_count, NPIECES);
    size_t len;
    const uint8_t *file = shoal_torrent_file_data((shoal_torrent *)f->t, &len);
    shoal_metainfo *back;
    struct shoal_perr err = {0};
    assert_int_equal(shoal_metainfo_parse(file, len, &back, &err), 0);
    assert_memory_equal(back->infohash, f->ref->infohash, 20);
    shoal_metainfo_free(back);
    /* Its early have is applied, and makes us interested. */
    assert_int_equal(r.p->state, PEER_ACTIVE);
    assert_true(bitfield_get(&r.p->has, 3));
    assert_int_equal(bitfield_count(&r.p->has), 1);
    /* A new extension handshake says the metadata's size, then interest. */
    static uint8_t body[1024];
    size_t n;
    uint8_t id;
    char size[48];
    snprintf(size, sizeof(size), "13:metadata_sizei%zue", f->ref->info_len);
    int told = 0;
    do {
        id = next_msg(f, &r, body, sizeof(body), &n);
        if (id == 20 && n > 1 && body[0] == 0 && memmem(body, n, size, strlen(size)))
            told = 1;
    } while (id != 2);
    assert_true(told);
    assert_int_equal(r.p->am_interested, 1);
    close_remote(&r);
}

static void
test_wrong_early_have(void **state)
{
    struct fx *f = *state;
    struct remote r = {0};
    connect_remote(f, &r, f->ref->infohash, 2, 1);
    uint8_t have[9];
    put32(have, 5);
    have[4] = 4;
    put32(have + 5, NPIECES + 5); /* a piece the torrent turns out not to have */
    send_raw(f, &r, have, sizeof(have));
    expect_request(f, &r, 0);
    send_metadata(f, &r, 0);
    assert_int_equal(f->t->state, SHOAL_TS_DOWNLOADING);
    assert_int_equal(r.p->state, PEER_DEAD);
    assert_string_equal(r.p->dead_reason,
                        "wrong have state before the metadata: it had piece 25, the "
                        "torrent has 20");
    close_remote(&r);
}

/* A have before the metadata for a piece no metadata we would fetch can
 * describe (each piece takes 20 bytes of it): the peer is closed, and no
 * bit field is grown for its claim. */
static void
test_early_have_past_any_metadata(void **state)
{
    struct fx *f = *state;
    struct remote r = {0};
    connect_remote(f, &r, f->ref->infohash, 2, 1);
    uint8_t have[9];
    put32(have, 5);
    have[4] = 4;
    put32(have + 5, EXT_MAX_METADATA_SIZE / 20);
    send_raw(f, &r, have, sizeof(have));
    assert_int_equal(r.p->state, PEER_DEAD);
    assert_null(r.p->early_bits);
    close_remote(&r);
    /* The last piece such metadata could have is taken. */
    struct remote q = {0};
    connect_remote(f, &q, f->ref->infohash, 3, 1);
    put32(have + 5, EXT_MAX_METADATA_SIZE / 20 - 1);
    send_raw(f, &q, have, sizeof(have));
    assert_int_equal(q.p->state, PEER_ACTIVE);
    close_remote(&q);
}

static void
test_peer_leaves_mid_request(void **state)
{
    struct fx *f = *state;
    struct remote a = {0}, b = {0};
    connect_remote(f, &a, f->ref->infohash, 2, 1);
    expect_request(f, &a, 0);
    connect_remote(f, &b, f->ref->infohash, 3, 1);
    assert_true(quiet(f, &b)); /* the one piece is asked of a */
    /* a goes away with the request: b is asked at the next tick. */
    peer_close(a.p, "test: gone");
    close_remote(&a);
    torrent_tick(f->t, now_ms());
    expect_request(f, &b, 0);
    send_metadata(f, &b, 0);
    assert_int_equal(f->metadata_events, 1);
    close_remote(&b);
}

static void
test_bad_hash(void **state)
{
    struct fx *f = *state;
    struct remote a = {0}, b = {0};
    connect_remote(f, &a, f->ref->infohash, 2, 1);
    expect_request(f, &a, 0);
    send_metadata(f, &a, 1);
    assert_int_equal(f->warnings, 1);
    assert_int_equal(f->metadata_events, 0);
    assert_int_equal(f->t->state, SHOAL_TS_METADATA);
    /* Never asked again, however long it waits. */
    torrent_tick(f->t, now_ms() + 60000);
    assert_true(quiet(f, &a));
    connect_remote(f, &b, f->ref->infohash, 3, 1);
    expect_request(f, &b, 0);
    send_metadata(f, &b, 0);
    assert_int_equal(f->metadata_events, 1);
    close_remote(&a);
    close_remote(&b);
}

/* The lone sender of metadata that did not hash comes back on a new
 * connection: it is not let in to be asked again. */
static void
test_bad_hash_sender_returns(void **state)
{
    struct fx *f = *state;
    struct remote a = {0}, a2 = {0};
    connect_remote(f, &a, f->ref->infohash, 2, 1);
    expect_request(f, &a, 0);
    send_metadata(f, &a, 1);
    assert_int_equal(f->warnings, 1);
    peer_close(a.p, "test: gone");
    close_remote(&a);
    torrent_tick(f->t, now_ms());
    struct bufferevent *pair[2];
    assert_int_equal(bufferevent_pair_new(f->ss->base, 0, pair), 0);
    struct sockaddr_in in;
    memset(&in, 0, sizeof(in));
    in.sin_family = AF_INET;
    in.sin_port = htons(6881);
    in.sin_addr.s_addr = htonl(0x7f000002u);
    a2.p = session_accept(f->ss, pair[0], (struct sockaddr *)&in, sizeof(in));
    a2.far = pair[1];
    if (a2.p) {
        /* Let in after all: it must still never be asked. */
        bufferevent_enable(a2.far, EV_READ | EV_WRITE);
        uint8_t hs[68];
        memcpy(hs, "\023BitTorrent protocol", 20);
        memset(hs + 20, 0, 8);
        hs[25] = EXTENDED;
        hs[27] = FAST;
        memcpy(hs + 28, f->ref->infohash, 20);
        memset(hs + 48, 'a' + 2, 20);
        send_raw(f, &a2, hs, sizeof(hs));
        evbuffer_drain(bufferevent_get_input(a2.far), 68);
        char ext[128];
        int n =
            snprintf(ext, sizeof(ext), "d1:md11:ut_metadatai%dee13:metadata_sizei%zuee",
                     THEIR_ID, f->ref->info_len);
        send_ext(f, &a2, 0, ext, (size_t)n);
        torrent_tick(f->t, now_ms() + 60000);
        assert_true(quiet(f, &a2));
    }
    assert_int_equal(f->metadata_events, 0);
    close_remote(&a2);
}

/* Metadata that hashes to the infohash but is no usable torrent: the
 * torrent ends in an error state, and the DHT no longer looks it up (nor
 * announces it). A session of its own, with the DHT on. */
static void
test_unusable_metadata_leaves_dht(void **state)
{
    struct fx *f = *state;
    static uint8_t bad[] = "d4:name1:xe"; /* no pieces, no piece length */
    struct shoal_settings set;
    shoal_settings_init(&set);
    set.local_only = 1;
    set.listen = 0;
    set.disk_threads = 1;
    set.pex = set.lsd = 0;
    static const char *const none[] = {NULL};
    set.dht_bootstrap = none;
    shoal_session *ss;
    assert_int_equal(shoal_session_new(&set, &ss), 0);
    event_del(ss->tick_ev);
    uint8_t ih[20];
    char hex[41], uri[128];
    assert_int_equal(sha1(bad, sizeof(bad) - 1, ih), 0);
    shoal_hex(ih, 20, hex);
    snprintf(uri, sizeof(uri), "magnet:?xt=urn:btih:%s", hex);
    shoal_magnet *mg;
    struct shoal_perr err = {0};
    assert_int_equal(shoal_magnet_parse(uri, &mg, &err), 0);
    char dir[320];
    snprintf(dir, sizeof(dir), "%s/%d", leech_dir, rand());
    struct shoal_torrent_opts opts = {.save_dir = dir};
    shoal_torrent *st;
    assert_int_equal(shoal_session_add_magnet(ss, mg, &opts, &st, &err), 0);
    shoal_magnet_free(mg);
    session_dht_tick(ss);
    struct shoal_dht_status ds;
    assert_int_equal(shoal_session_dht_status(ss, &ds), 0);
    assert_int_equal(ds.torrents, 1);
    /* The fixture's helpers speak for f->ss and f->ref: lend them ours. */
    shoal_session *keep_ss = f->ss;
    uint8_t *keep_info = f->ref->info;
    size_t keep_len = f->ref->info_len;
    f->ss = ss;
    f->ref->info = bad;
    f->ref->info_len = sizeof(bad) - 1;
    struct remote r = {0};
    connect_remote(f, &r, ih, 2, 1);
    expect_request(f, &r, 0);
    send_metadata(f, &r, 0);
    f->ss = keep_ss;
    f->ref->info = keep_info;
    f->ref->info_len = keep_len;
    struct shoal_torrent_status ts;
    shoal_torrent_status(st, &ts);
    assert_int_equal(ts.state, SHOAL_TS_ERROR);
    session_dht_tick(ss);
    assert_int_equal(shoal_session_dht_status(ss, &ds), 0);
    assert_int_equal(ds.torrents, 0);
    close_remote(&r);
    shoal_session_free(ss);
}

static void
test_serve(void **state)
{
    struct fx *f = *state;
    struct remote a = {0}, b = {0};
    /* Without metadata: a request is rejected. */
    connect_remote(f, &a, f->ref->infohash, 2, 0);
    const char req0[] = "d8:msg_typei0e5:piecei0ee";
    send_ext(f, &a, 1, req0, sizeof(req0) - 1);
    uint8_t body[64 + 16384];
    size_t n = next_meta(f, &a, body, sizeof(body));
    assert_memory_equal(body, "d8:msg_typei2e5:piecei0ee", n);
    /* With it (from b): data, the info dictionary as it hashed. */
    connect_remote(f, &b, f->ref->infohash, 3, 1);
    expect_request(f, &b, 0);
    send_metadata(f, &b, 0);
    assert_non_null(f->t->m);
    send_ext(f, &a, 1, req0, sizeof(req0) - 1);
    n = next_meta(f, &a, body, sizeof(body));
    char hdr[64];
    int h = snprintf(hdr, sizeof(hdr), "d8:msg_typei1e5:piecei0e10:total_sizei%zuee",
                     f->ref->info_len);
    assert_int_equal(n, (size_t)h + f->ref->info_len);
    assert_memory_equal(body, hdr, (size_t)h);
    assert_memory_equal(body + h, f->ref->info, f->ref->info_len);
    /* Past the end: rejected. A malformed message closes the peer. */
    const char req1[] = "d8:msg_typei0e5:piecei1ee";
    send_ext(f, &a, 1, req1, sizeof(req1) - 1);
    n = next_meta(f, &a, body, sizeof(body));
    assert_memory_equal(body, "d8:msg_typei2e5:piecei1ee", n);
    send_ext(f, &a, 1, "xx", 2);
    assert_int_equal(a.p->state, PEER_DEAD);
    close_remote(&a);
    close_remote(&b);
}

static int
make_files(void)
{
    snprintf(data_dir, sizeof(data_dir), "%s/data", workdir);
    snprintf(leech_dir, sizeof(leech_dir), "%s/leech", workdir);
    if (mkdir(data_dir, 0755) != 0 || mkdir(leech_dir, 0755) != 0)
        return -1;
    char path[400];
    snprintf(path, sizeof(path), "%s/data.bin", data_dir);
    FILE *fp = fopen(path, "wb");
    if (!fp)
        return -1;
    for (size_t i = 0; i < FILE_SIZE; i++)
        fputc((int)(i * 31 % 251), fp);
    fclose(fp);
    struct shoal_create_opts o = {
        .path = path, .creation_date = -1, .piece_length = PIECE_LEN};
    struct shoal_perr err = {0};
    return shoal_create_torrent(&o, &torrent_bytes, &torrent_len, &err);
}

int
main(void)
{
    snprintf(workdir, sizeof(workdir), "/tmp/shoal-test-metadata-XXXXXX");
    if (!mkdtemp(workdir) || make_files() != 0)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_before_metadata, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fetch_then_download, setup, teardown),
        cmocka_unit_test_setup_teardown(test_wrong_early_have, setup, teardown),
        cmocka_unit_test_setup_teardown(test_peer_leaves_mid_request, setup, teardown),
        cmocka_unit_test_setup_teardown(test_early_have_past_any_metadata, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_bad_hash, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unusable_metadata_leaves_dht, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_bad_hash_sender_returns, setup, teardown),
        cmocka_unit_test_setup_teardown(test_serve, setup, teardown),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    shoal_free(torrent_bytes);
    char cmd[300];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", workdir);
    if (system(cmd) != 0)
        rc = 1;
    return rc;
}
