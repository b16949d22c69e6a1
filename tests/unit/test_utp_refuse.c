/*
 * test_utp_refuse.c — the reset that answers a uTP SYN while shoal has no
 * uTP (session/utp_refuse.c): a SYN gets an ST_RESET naming its
 * connection id and acking its sequence number; any other packet gets
 * nothing; and over a real UDP mux, resets stop at the per-second cap.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>
#include <event2/event.h>

#include "base/sockaddr.h"
#include "session/udp.h"
#include "session/utp_refuse.h"

/* A SYN as libtorrent sends it: type 4, version 1, connection id 0x1234,
 * seq_nr 0xbeef. */
static const uint8_t syn[20] = {0x41, 0, 0x12, 0x34, 1, 2, 3,    4,    0, 0,
                                0,    0, 0,    0,    1, 0, 0xbe, 0xef, 0, 0};

static void
test_syn_gets_reset(void **state)
{
    (void)state;
    uint8_t out[UTP_REFUSE_HEADER_LEN];
    assert_int_equal(utp_refuse_reply(syn, sizeof(syn), out), 20);
    assert_int_equal(out[0], 0x31); /* ST_RESET, version 1 */
    assert_int_equal(out[2], 0x12);
    assert_int_equal(out[3], 0x34);
    assert_int_equal(out[18], 0xbe); /* ack_nr = the SYN's seq_nr */
    assert_int_equal(out[19], 0xef);
}

static void
test_others_get_nothing(void **state)
{
    (void)state;
    uint8_t out[UTP_REFUSE_HEADER_LEN], p[20];
    memcpy(p, syn, sizeof(p));
    assert_int_equal(utp_refuse_reply(p, 19, out), 0); /* short */
    for (int type = 0; type < 4; type++) {             /* data, fin, state, reset */
        p[0] = (uint8_t)(type << 4 | 1);
        assert_int_equal(utp_refuse_reply(p, sizeof(p), out), 0);
    }
    p[0] = 0x42; /* a SYN of another version */
    assert_int_equal(utp_refuse_reply(p, sizeof(p), out), 0);
}

static uint64_t
fixed_clock(void *ctx)
{
    return *(uint64_t *)ctx;
}

static void
test_resets_are_capped(void **state)
{
    (void)state;
    struct event_base *base = event_base_new();
    struct udp_mux *u = NULL;
    assert_int_equal(udp_mux_new(base, 1, 0, &u), 0);
    uint64_t now = 5000;
    struct utp_refuse *r = NULL;
    assert_int_equal(utp_refuse_new(u, fixed_clock, &now, &r), 0);

    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
    struct sockaddr_storage to;
    socklen_t len;
    sockaddr_from_ip("127.0.0.1", (uint16_t)udp_port(u, AF_INET), &to, &len);
    /* 300 SYNs within one second of the clock: at most 100 resets. */
    for (int round = 0; round < 6; round++) {
        for (int i = 0; i < 50; i++)
            sendto(fd, syn, sizeof(syn), 0, (struct sockaddr *)&to, len);
        event_base_loop(base, EVLOOP_NONBLOCK);
        usleep(10000);
        event_base_loop(base, EVLOOP_NONBLOCK);
    }
    assert_true(utp_refuse_sent(r) > 0);
    assert_true(utp_refuse_sent(r) <= 100);
    uint8_t buf[64];
    ssize_t n = recv(fd, buf, sizeof(buf), 0);
    assert_int_equal(n, 20);
    assert_int_equal(buf[0], 0x31);

    close(fd);
    utp_refuse_free(r);
    udp_mux_free(u);
    event_base_free(base);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_syn_gets_reset),
        cmocka_unit_test(test_others_get_nothing),
        cmocka_unit_test(test_resets_are_capped),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
