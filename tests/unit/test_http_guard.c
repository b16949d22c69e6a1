/*
 * test_http_guard.c — the evhttp guard (src/server/http_guard.c) on a real
 * loopback server in this process: a connection that sends a byte at a
 * time is closed at its deadline all the same; a kept-alive connection's
 * deadline starts again at the end of each reply; a full table replaces the
 * connection that has waited longest, not one that just finished a
 * request; an address over its cap replaces its own oldest connection and
 * no one else's; loopback has no per-address cap unless asked; and freeing
 * the server with connections open leaves nothing behind (ASan).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <arpa/inet.h>
#include <cmocka.h>
#include <errno.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>

#include "base/clock.h"
#include "server/http_guard.h"

#define MAX_CLIENTS 16
#define REQUEST     "GET / HTTP/1.1\r\nHost: x\r\n\r\n"

struct fixture {
    struct event_base *base;
    struct evhttp *http;
    struct http_guard *g;
    int port;
    int served;
};

static void
on_request(struct evhttp_request *req, void *arg)
{
    struct fixture *f = arg;
    f->served++;
    struct evbuffer *b = evbuffer_new();
    evbuffer_add(b, "ok", 2);
    evhttp_send_reply(req, 200, "OK", b);
    evbuffer_free(b);
}

static void
start(struct fixture *f, const struct http_guard_cfg *cfg)
{
    memset(f, 0, sizeof(*f));
    f->base = event_base_new();
    f->http = evhttp_new(f->base);
    assert_non_null(f->http);
    f->g = http_guard_new(f->base, f->http, cfg, on_request, f);
    assert_non_null(f->g);
    struct evhttp_bound_socket *bs =
        evhttp_bind_socket_with_handle(f->http, "127.0.0.1", 0);
    assert_non_null(bs);
    struct sockaddr_in sa;
    socklen_t len = sizeof(sa);
    assert_int_equal(
        getsockname(evhttp_bound_socket_get_fd(bs), (struct sockaddr *)&sa, &len), 0);
    f->port = ntohs(sa.sin_port);
}

static void
stop(struct fixture *f)
{
    /* The order the guard's contract asks for, with connections open. */
    evhttp_free(f->http);
    http_guard_free(f->g);
    event_base_free(f->base);
}

/* Runs the server's loop for ms milliseconds. */
static void
spin(struct fixture *f, int ms)
{
    struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
    event_base_loopexit(f->base, &tv);
    event_base_dispatch(f->base);
}

/* A client connected from src (an address of 127/8); the server has taken
 * it in once this returns. */
static int
client(struct fixture *f, const char *src)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct sockaddr_in a = {.sin_family = AF_INET};
    inet_pton(AF_INET, src, &a.sin_addr);
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    a.sin_port = htons((uint16_t)f->port);
    inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
    assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    spin(f, 30);
    return fd;
}

/* 1 when the server has closed fd (what it sent before is read and
 * dropped), 0 when it is open. */
static int
closed(int fd)
{
    char buf[4096];
    for (;;) {
        ssize_t n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
        if (n == 0)
            return 1;
        if (n < 0)
            return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : 1;
    }
}

/* Sends a request on fd and reads its reply (the loop serves it). */
static void
ask(struct fixture *f, int fd)
{
    int before = f->served;
    assert_int_equal(send(fd, REQUEST, strlen(REQUEST), 0), (ssize_t)strlen(REQUEST));
    spin(f, 50);
    assert_int_equal(f->served, before + 1);
    assert_false(closed(fd));
}

static void
test_deadline_never_restarts(void **state)
{
    (void)state;
    struct fixture f;
    struct http_guard_cfg cfg = {.read_ms = 400};
    start(&f, &cfg);
    int fd = client(&f, "127.0.0.1");
    uint64_t t0 = clock_now_ms(), shut = 0;
    /* A byte every 50 ms of a request that never ends. */
    for (int i = 0; i < 60 && !shut; i++) {
        if (send(fd, "G", 1, MSG_NOSIGNAL) != 1 || closed(fd))
            shut = clock_now_ms();
        spin(&f, 50);
    }
    assert_true(shut != 0);
    assert_in_range(shut - t0, 350, 1500);
    struct http_guard_stats st;
    http_guard_get_stats(f.g, &st);
    assert_int_equal(st.expired, 1);
    assert_int_equal(st.conns, 0);
    assert_int_equal(f.served, 0);
    close(fd);
    stop(&f);
}

static void
test_keepalive_deadline_from_reply(void **state)
{
    (void)state;
    struct fixture f;
    struct http_guard_cfg cfg = {.read_ms = 1000};
    start(&f, &cfg);
    int fd = client(&f, "127.0.0.1");
    spin(&f, 600);
    ask(&f, fd);
    /* About 1.3 s after the connect, 0.6 s after the reply: still open. */
    spin(&f, 600);
    assert_false(closed(fd));
    /* And closed once the reply is over a second old. */
    spin(&f, 900);
    assert_true(closed(fd));
    close(fd);
    stop(&f);
}

static void
test_full_table_replaces_longest_waiting(void **state)
{
    (void)state;
    struct fixture f;
    struct http_guard_cfg cfg = {.read_ms = 10000, .max_conns = 4};
    start(&f, &cfg);
    int fd[6];
    for (int i = 0; i < 4; i++)
        fd[i] = client(&f, "127.0.0.1");
    /* 1 finishes a request: it now waits least. */
    ask(&f, fd[1]);
    fd[4] = client(&f, "127.0.0.1");
    assert_true(closed(fd[0]));
    for (int i = 1; i <= 4; i++)
        assert_false(closed(fd[i]));
    /* Next longest waiting: 2, not 1. */
    fd[5] = client(&f, "127.0.0.1");
    assert_true(closed(fd[2]));
    assert_false(closed(fd[1]));
    assert_false(closed(fd[5]));
    struct http_guard_stats st;
    http_guard_get_stats(f.g, &st);
    assert_int_equal(st.evicted, 2);
    assert_int_equal(st.conns, 4);
    assert_int_equal(st.admitted, 6);
    for (int i = 0; i < 6; i++)
        close(fd[i]);
    stop(&f);
}

static void
test_address_replaces_its_own(void **state)
{
    (void)state;
    struct fixture f;
    struct http_guard_cfg cfg = {.read_ms = 10000, .max_per_addr = 2, .cap_loopback = 1};
    start(&f, &cfg);
    int y = client(&f, "127.0.0.3");
    int x1 = client(&f, "127.0.0.2");
    int x2 = client(&f, "127.0.0.2");
    int x3 = client(&f, "127.0.0.2");
    assert_true(closed(x1));
    assert_false(closed(x2));
    assert_false(closed(x3));
    /* The other address's older connection is untouched. */
    assert_false(closed(y));
    ask(&f, y);
    struct http_guard_stats st;
    http_guard_get_stats(f.g, &st);
    assert_int_equal(st.evicted, 1);
    assert_int_equal(st.conns, 3);
    close(x1);
    close(x2);
    close(x3);
    close(y);
    stop(&f);
}

static void
test_loopback_has_no_address_cap(void **state)
{
    (void)state;
    struct fixture f;
    struct http_guard_cfg cfg = {.read_ms = 10000, .max_per_addr = 2};
    start(&f, &cfg);
    int fd[MAX_CLIENTS];
    for (int i = 0; i < MAX_CLIENTS; i++)
        fd[i] = client(&f, i % 2 ? "127.0.0.1" : "127.0.0.2");
    for (int i = 0; i < MAX_CLIENTS; i++)
        assert_false(closed(fd[i]));
    ask(&f, fd[0]);
    struct http_guard_stats st;
    http_guard_get_stats(f.g, &st);
    assert_int_equal(st.evicted, 0);
    assert_int_equal(st.conns, MAX_CLIENTS);
    for (int i = 0; i < MAX_CLIENTS; i++)
        close(fd[i]);
    stop(&f);
}

static void
test_client_close_leaves_table(void **state)
{
    (void)state;
    struct fixture f;
    start(&f, NULL);
    int a = client(&f, "127.0.0.1");
    int b = client(&f, "127.0.0.1");
    ask(&f, b);
    close(a);
    close(b);
    spin(&f, 50);
    struct http_guard_stats st;
    http_guard_get_stats(f.g, &st);
    assert_int_equal(st.conns, 0);
    assert_int_equal(st.expired + st.evicted, 0);
    stop(&f);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_deadline_never_restarts),
        cmocka_unit_test(test_keepalive_deadline_from_reply),
        cmocka_unit_test(test_full_table_replaces_longest_waiting),
        cmocka_unit_test(test_address_replaces_its_own),
        cmocka_unit_test(test_loopback_has_no_address_cap),
        cmocka_unit_test(test_client_close_leaves_table),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
