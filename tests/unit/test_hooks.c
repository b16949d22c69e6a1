/*
 * test_hooks.c — the session's hooks (session/hooks.h), as a module below
 * the session sees them: peers reported for a torrent's infohash become its
 * known peers, minus what the local-only guard refuses and the session's
 * own address; peers for an infohash the session lacks go nowhere; a
 * private torrent takes peers only from trackers and its user; now_ms
 * and rand64 answer. Also: shoal_torrent_add_peer() keeps its synchronous
 * answers for literals, localhost and refused names.
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
#include <sys/stat.h>

#include <cmocka.h>

#include "codec/metainfo.h"
#include "session/hooks.h"
#include "session/session.h"
#include "session/torrent.h"
#include "shoal.h"

static char workdir[256];

static shoal_metainfo *
make_torrent_opt(const char *path, int private_flag)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    for (int i = 0; i < 70000; i++)
        fputc(i * 7 & 0xff, f);
    fclose(f);
    struct shoal_create_opts o = {
        .path = path, .creation_date = -1, .piece_length = 16384};
    o.private_flag = private_flag;
    uint8_t *data;
    size_t len;
    struct shoal_perr err = {0};
    assert_int_equal(shoal_create_torrent(&o, &data, &len, &err), 0);
    shoal_metainfo *m;
    assert_int_equal(shoal_metainfo_parse(data, len, &m, &err), 0);
    shoal_free(data);
    return m;
}

static shoal_metainfo *
make_torrent(const char *path)
{
    return make_torrent_opt(path, 0);
}

static struct sockaddr_storage
v4(const char *ip, uint16_t port)
{
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof(ss));
    struct sockaddr_in *in = (struct sockaddr_in *)&ss;
    in->sin_family = AF_INET;
    in->sin_port = htons(port);
    assert_int_equal(inet_pton(AF_INET, ip, &in->sin_addr), 1);
    return ss;
}

static void
test_on_peers(void **state)
{
    (void)state;
    char path[300];
    snprintf(path, sizeof(path), "%s/a.bin", workdir);
    struct shoal_settings set;
    shoal_settings_init(&set);
    set.local_only = 1;
    shoal_session *ss;
    assert_int_equal(shoal_session_new(&set, &ss), 0);
    struct shoal_torrent_opts opts = {.save_dir = workdir, .seed_only = 1};
    struct shoal_perr err = {0};
    shoal_torrent *pt;
    assert_int_equal(shoal_session_add(ss, make_torrent(path), &opts, &pt, &err), 0);
    struct torrent *t = (struct torrent *)pt;
    const struct hooks *h = &ss->hooks;

    /* The session's own address, one outside loopback, and one to keep:
     * nothing listens on port 9 (discard), so the dial fails later, but
     * the address is known at once. */
    struct sockaddr_storage peers[3] = {
        v4("127.0.0.1", (uint16_t)shoal_session_port(ss)),
        v4("192.0.2.7", 6881),
        v4("127.0.0.2", 9),
    };
    size_t before = t->nknown;
    h->on_peers(h->ctx, t->m->infohash, PEER_SOURCE_TRACKER, peers, 3);
    assert_int_equal(t->nknown, before + 1);
    assert_memory_equal(&t->known[before].sa, &peers[2], sizeof(struct sockaddr_in));

    /* Peers for a torrent the session lacks go nowhere; none is fine. */
    uint8_t other[20];
    memset(other, 0xab, sizeof(other));
    struct sockaddr_storage p = v4("127.0.0.3", 6881);
    h->on_peers(h->ctx, other, PEER_SOURCE_DHT, &p, 1);
    h->on_peers(h->ctx, t->m->infohash, PEER_SOURCE_PEX, NULL, 0);
    assert_int_equal(t->nknown, before + 1);

    uint64_t a = h->now_ms(h->ctx), b = h->now_ms(h->ctx);
    assert_true(a > 0 && b >= a);
    assert_true(h->rand64(h->ctx) != h->rand64(h->ctx));
    h->log(h->ctx, "a line through the hooks");
    h->emit(h->ctx, t->m->infohash, SHOAL_EV_LOG, "an event of the torrent");
    h->emit(h->ctx, other, SHOAL_EV_WARNING, "an event of the session");

    /* Literals and localhost go in at once; names in local-only mode are
     * refused at once; malformed input is refused at once. */
    size_t n = t->nknown;
    assert_int_equal(shoal_torrent_add_peer(pt, "127.0.0.4:6881"), 0);
    assert_int_equal(shoal_torrent_add_peer(pt, "localhost:6882"), 0);
    assert_int_equal(shoal_torrent_add_peer(pt, "[::1]:6883"), 0);
    assert_int_equal(t->nknown, n + 3);
    assert_int_equal(shoal_torrent_add_peer(pt, "tracker.example:6881"),
                     SHOAL_ELOCALONLY);
    assert_int_equal(shoal_torrent_add_peer(pt, "127.0.0.1:0"), SHOAL_EINVAL);
    assert_int_equal(shoal_torrent_add_peer(pt, "127.0.0.1"), SHOAL_EINVAL);
    assert_int_equal(t->nknown, n + 3);
    shoal_session_free(ss);
}

/* BEP 27: a private torrent refuses peers from the DHT, PEX and local
 * discovery, and takes those of its trackers and its user; a public one
 * takes them from anywhere. */
static void
test_private_sources(void **state)
{
    (void)state;
    char path[300];
    snprintf(path, sizeof(path), "%s/p.bin", workdir);
    struct shoal_settings set;
    shoal_settings_init(&set);
    set.local_only = 1;
    shoal_session *ss;
    assert_int_equal(shoal_session_new(&set, &ss), 0);
    struct shoal_torrent_opts opts = {.save_dir = workdir, .seed_only = 1};
    struct shoal_perr err = {0};
    shoal_torrent *pt;
    assert_int_equal(shoal_session_add(ss, make_torrent_opt(path, 1), &opts, &pt, &err),
                     0);
    struct torrent *t = (struct torrent *)pt;
    assert_true(t->m->private_flag);
    const struct hooks *h = &ss->hooks;

    static const struct {
        enum peer_source src;
        int taken;
    } cases[] = {
        {PEER_SOURCE_DHT, 0},     {PEER_SOURCE_PEX, 0},  {PEER_SOURCE_LSD, 0},
        {PEER_SOURCE_TRACKER, 1}, {PEER_SOURCE_USER, 1},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct sockaddr_storage p = v4("127.0.0.5", (uint16_t)(7000 + i));
        size_t before = t->nknown;
        h->on_peers(h->ctx, t->m->infohash, cases[i].src, &p, 1);
        assert_int_equal(t->nknown, before + (size_t)cases[i].taken);
    }
    shoal_session_free(ss);

    /* The same sources all reach a public torrent. */
    snprintf(path, sizeof(path), "%s/q.bin", workdir);
    assert_int_equal(shoal_session_new(&set, &ss), 0);
    assert_int_equal(shoal_session_add(ss, make_torrent(path), &opts, &pt, &err), 0);
    t = (struct torrent *)pt;
    h = &ss->hooks;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct sockaddr_storage p = v4("127.0.0.6", (uint16_t)(7000 + i));
        size_t before = t->nknown;
        h->on_peers(h->ctx, t->m->infohash, cases[i].src, &p, 1);
        assert_int_equal(t->nknown, before + 1);
    }
    shoal_session_free(ss);
}

int
main(void)
{
    snprintf(workdir, sizeof(workdir), "/tmp/shoal-test-hooks-XXXXXX");
    if (!mkdtemp(workdir))
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_on_peers),
        cmocka_unit_test(test_private_sources),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    char cmd[300];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", workdir);
    if (system(cmd) != 0)
        rc = 1;
    return rc;
}
