/*
 * test_udp.c — the session's UDP demultiplexer: udp_classify() puts KRPC
 * dictionaries, BEP 15 replies, uTP headers and junk where they belong
 * (table-driven), and a session's UDP socket hands real datagrams sent over
 * loopback to the handler registered for their kind, counts what nobody
 * takes, and refuses to send outside loopback in local-only mode.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "session/session.h"
#include "session/udp.h"
#include "shoal.h"

/* A datagram written as a C string literal; len counts its bytes, since
 * binary ones hold NULs. */
struct udp_case {
    const char *name;
    const char *bytes;
    size_t len;
    enum udp_kind kind;
};

#define CASE(name, lit, kind)                                                            \
    {                                                                                    \
        name, lit, sizeof(lit) - 1, kind                                                 \
    }

/* uTP headers (BEP 29): type << 4 | version 1, extension, connection id,
 * timestamp, timestamp difference, window, seq_nr, ack_nr. */
#define UTP_REST                                                                         \
    "\x00\x12\x34\x00\x00\x00\x01\x00\x00\x00\x00\x00\x10\x00\x00\x00\x01\x00\x00"

static const struct udp_case cases[] = {
    /* KRPC (BEP 5): queries, responses and errors are dictionaries. */
    CASE("krpc ping query", "d1:ad2:id20:abcdefghij0123456789e1:q4:ping1:t2:aa1:y1:qe",
         UDP_DHT),
    CASE("krpc find_node query",
         "d1:ad2:id20:abcdefghij01234567896:target20:mnopqrstuvwxyz123456e"
         "1:q9:find_node1:t2:aa1:y1:qe",
         UDP_DHT),
    CASE("krpc response", "d1:rd2:id20:mnopqrstuvwxyz123456e1:t2:aa1:y1:re", UDP_DHT),
    CASE("krpc error", "d1:eli201e23:A Generic Error Ocurrede1:t2:aa1:y1:ee", UDP_DHT),
    CASE("empty dictionary", "de", UDP_DHT),
    /* BEP 15 replies: action, transaction id, then the body. */
    CASE("tracker connect reply",
         "\x00\x00\x00\x00\xde\xad\xbe\xef\x01\x02\x03\x04\x05\x06\x07\x08", UDP_TRACKER),
    CASE(
        "tracker announce reply",
        "\x00\x00\x00\x01\xde\xad\xbe\xef\x00\x00\x07\x08\x00\x00\x00\x01\x00\x00\x00\x02"
        "\x7f\x00\x00\x01\x1a\xe1",
        UDP_TRACKER),
    CASE("tracker empty announce reply", "\x00\x00\x00\x01\xde\xad\xbe\xef", UDP_TRACKER),
    CASE("tracker scrape reply",
         "\x00\x00\x00\x02\xde\xad\xbe\xef\x00\x00\x00\x05\x00\x00\x00\x09\x00\x00\x00"
         "\x03",
         UDP_TRACKER),
    CASE("tracker error reply", "\x00\x00\x00\x03\xde\xad\xbe\xefunknown torrent",
         UDP_TRACKER),
    CASE("tracker error, little-endian action",
         "\x03\x00\x00\x00\xde\xad\xbe\xef"
         "bad id",
         UDP_TRACKER),
    /* uTP: every type, version 1, a full 20-byte header. */
    CASE("utp data", "\x01" UTP_REST "payload", UDP_UTP),
    CASE("utp data, header only", "\x01" UTP_REST, UDP_UTP),
    CASE("utp fin", "\x11" UTP_REST, UDP_UTP),
    CASE("utp state", "\x21" UTP_REST, UDP_UTP),
    CASE("utp reset", "\x31" UTP_REST, UDP_UTP),
    CASE("utp syn", "\x41" UTP_REST, UDP_UTP),
    CASE("utp data ending in e", "\x01" UTP_REST "e", UDP_UTP),
    /* Junk: nothing can take these. */
    CASE("empty", "", UDP_JUNK),
    CASE("one byte", "x", UDP_JUNK),
    CASE("one zero byte", "\x00", UDP_JUNK),
    CASE("lone d", "d", UDP_JUNK),
    CASE("truncated dictionary", "d1:ad2:id20:abcdef", UDP_JUNK),
    CASE("bencoded list", "li1ei2ee", UDP_JUNK),
    CASE("bencoded integer", "i42e", UDP_JUNK),
    CASE("bencoded string", "4:spam", UDP_JUNK),
    CASE("tracker reply too short", "\x00\x00\x00\x01\xde\xad\xbe", UDP_JUNK),
    CASE("tracker action 4", "\x00\x00\x00\x04\xde\xad\xbe\xef", UDP_JUNK),
    CASE("tracker connect request",
         "\x00\x00\x04\x17\x27\x10\x19\x80\x00\x00\x00\x00\xde\xad\xbe\xef", UDP_JUNK),
    CASE("utp header too short", "\x41\x00\x12\x34", UDP_JUNK),
    CASE("utp version 2", "\x42" UTP_REST, UDP_JUNK),
    CASE("utp type 5", "\x51" UTP_REST, UDP_JUNK),
};

static void
test_classify(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const struct udp_case *c = &cases[i];
        enum udp_kind k = udp_classify((const uint8_t *)c->bytes, c->len);
        if (k != c->kind)
            fail_msg("%s: routed to %d, expected %d", c->name, (int)k, (int)c->kind);
    }
}

/* ------------------------------------------------------------------ loopback */

/* What one registered handler saw. */
struct seen {
    enum udp_kind kind;
    int calls;
    int from_loopback;
    int refuse; /* answer "not mine" */
    size_t last_len;
};

static int
record(void *ctx, const uint8_t *p, size_t n, const struct sockaddr *from,
       socklen_t fromlen)
{
    struct seen *s = ctx;
    (void)fromlen;
    assert_int_equal(udp_classify(p, n), s->kind);
    s->calls++;
    s->last_len = n;
    if (from->sa_family == AF_INET &&
        ((const struct sockaddr_in *)from)->sin_addr.s_addr == htonl(INADDR_LOOPBACK))
        s->from_loopback++;
    return s->refuse ? SHOAL_EINVAL : 0;
}

static uint64_t
mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static uint64_t
total_received(const struct udp_mux *u)
{
    struct udp_stats st;
    udp_mux_stats(u, &st);
    uint64_t n = 0;
    for (int k = 0; k <= UDP_JUNK; k++)
        n += st.received[k];
    return n;
}

/* Runs the session's loop until the mux has read `want` datagrams in all,
 * or two seconds pass. */
static void
pump(struct shoal_session *ss, uint64_t want)
{
    uint64_t until = mono_ms() + 2000;
    while (total_received(ss->udp) < want && mono_ms() < until) {
        event_base_loop(ss->base, EVLOOP_NONBLOCK);
        usleep(1000);
    }
}

static struct shoal_session *
new_session(void)
{
    struct shoal_settings s;
    shoal_settings_init(&s);
    s.local_only = 1;
    shoal_session *ss = NULL;
    assert_int_equal(shoal_session_new(&s, &ss), 0);
    assert_non_null(ss->udp);
    assert_true(udp_has_family(ss->udp, AF_INET));
    return ss;
}

static void
test_loopback_routing(void **state)
{
    (void)state;
    struct shoal_session *ss = new_session();
    struct seen dht = {.kind = UDP_DHT}, trk = {.kind = UDP_TRACKER},
                utp = {.kind = UDP_UTP};
    struct udp_handler h;
    h = (struct udp_handler){record, &dht};
    udp_mux_set_handler(ss->udp, UDP_DHT, &h);
    h = (struct udp_handler){record, &trk};
    udp_mux_set_handler(ss->udp, UDP_TRACKER, &h);
    h = (struct udp_handler){record, &utp};
    udp_mux_set_handler(ss->udp, UDP_UTP, &h);

    int port = udp_port(ss->udp, AF_INET);
    assert_true(port > 0);
    struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    assert_true(fd >= 0);

    int want[UDP_JUNK + 1] = {0};
    size_t n = sizeof(cases) / sizeof(cases[0]);
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(sendto(fd, cases[i].bytes, cases[i].len, 0,
                                (struct sockaddr *)&to, sizeof(to)),
                         (ssize_t)cases[i].len);
        want[cases[i].kind]++;
        /* One at a time, so that none waits in a full socket buffer. */
        pump(ss, i + 1);
    }
    struct udp_stats st;
    udp_mux_stats(ss->udp, &st);
    for (int k = 0; k <= UDP_JUNK; k++)
        assert_int_equal(st.received[k], want[k]);
    assert_int_equal(dht.calls, want[UDP_DHT]);
    assert_int_equal(trk.calls, want[UDP_TRACKER]);
    assert_int_equal(utp.calls, want[UDP_UTP]);
    assert_int_equal(dht.from_loopback, dht.calls);
    assert_int_equal(st.unhandled, 0);
    assert_int_equal(st.refused, 0);

    /* An empty slot drops its kind and counts it; a handler that says
     * "not mine" is counted as refused. */
    udp_mux_set_handler(ss->udp, UDP_DHT, NULL);
    utp.refuse = 1;
    const char krpc[] = "d1:ad2:id20:abcdefghij0123456789e1:q4:ping1:t2:aa1:y1:qe";
    const char syn[] = "\x41" UTP_REST;
    sendto(fd, krpc, sizeof(krpc) - 1, 0, (struct sockaddr *)&to, sizeof(to));
    sendto(fd, syn, sizeof(syn) - 1, 0, (struct sockaddr *)&to, sizeof(to));
    pump(ss, n + 2);
    udp_mux_stats(ss->udp, &st);
    assert_int_equal(st.unhandled, 1);
    assert_int_equal(st.refused, 1);
    assert_int_equal(dht.calls, want[UDP_DHT]);
    assert_int_equal(utp.calls, want[UDP_UTP] + 1);
    assert_int_equal(utp.last_len, sizeof(syn) - 1);

    close(fd);
    shoal_session_free(ss);
}

static void
test_send(void **state)
{
    (void)state;
    struct shoal_session *ss = new_session();
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    assert_true(fd >= 0);
    struct sockaddr_in me = {.sin_family = AF_INET};
    me.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(fd, (struct sockaddr *)&me, sizeof(me)), 0);
    socklen_t len = sizeof(me);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&me, &len), 0);

    const char msg[] = "d1:t2:aa1:y1:re";
    assert_int_equal(
        udp_send(ss->udp, msg, sizeof(msg) - 1, (struct sockaddr *)&me, sizeof(me)), 0);
    char got[64];
    struct sockaddr_in from;
    len = sizeof(from);
    ssize_t n = recvfrom(fd, got, sizeof(got), 0, (struct sockaddr *)&from, &len);
    assert_int_equal(n, (ssize_t)(sizeof(msg) - 1));
    assert_memory_equal(got, msg, sizeof(msg) - 1);
    /* It came from the session's socket, so replies find their way back. */
    assert_int_equal(ntohs(from.sin_port), udp_port(ss->udp, AF_INET));

    /* Local-only mode: nothing leaves for an address outside loopback. */
    struct sockaddr_in out = {.sin_family = AF_INET, .sin_port = htons(6881)};
    inet_pton(AF_INET, "192.0.2.1", &out.sin_addr);
    assert_int_equal(
        udp_send(ss->udp, msg, sizeof(msg) - 1, (struct sockaddr *)&out, sizeof(out)),
        SHOAL_ELOCALONLY);

    close(fd);
    shoal_session_free(ss);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_classify),
        cmocka_unit_test(test_loopback_routing),
        cmocka_unit_test(test_send),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
