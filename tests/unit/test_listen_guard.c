/*
 * test_listen_guard.c — a listener that runs out of descriptors
 * (src/session/listen_guard.c), in this process with RLIMIT_NOFILE lowered
 * to the descriptors already open: accept() fails, and instead of spinning
 * the guard closes the waiting connections through its reserve descriptor,
 * pauses, logs once however often it fails, and takes connections again as
 * soon as descriptors come free.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <arpa/inet.h>
#include <cmocka.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/listener.h>

#include "session/listen_guard.h"
#include "session/transport.h"

#define WAITING 20
#define LATER   4

struct ctx {
    int accepted;
    int lines;
    char last[256];
};

static void
on_accept(struct evconnlistener *lis, evutil_socket_t fd, struct sockaddr *sa, int len,
          void *arg)
{
    (void)lis;
    (void)sa;
    (void)len;
    ((struct ctx *)arg)->accepted++;
    close(fd);
}

static void
on_line(void *arg, const char *msg)
{
    struct ctx *c = arg;
    c->lines++;
    strncpy(c->last, msg, sizeof(c->last) - 1);
}

static void
spin(struct event_base *base, int ms)
{
    struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
    event_base_loopexit(base, &tv);
    event_base_dispatch(base);
}

static int
dial(int fd, int port)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
    return connect(fd, (struct sockaddr *)&a, sizeof(a));
}

/* 1 when the far end closed fd (a reset counts). */
static int
closed(int fd)
{
    char b[16];
    ssize_t n = recv(fd, b, sizeof(b), MSG_DONTWAIT);
    return n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK);
}

static void
test_out_of_descriptors(void **state)
{
    (void)state;
    struct ctx c;
    memset(&c, 0, sizeof(c));
    struct event_base *base = event_base_new();
    struct evconnlistener *lis = transport_tcp_listen(base, AF_INET, 0, 1, on_accept, &c);
    assert_non_null(lis);
    int port = transport_tcp_port(lis);
    struct listen_guard *g = listen_guard_new(lis, "test listener", on_line, &c);
    assert_non_null(g);

    int waiting[WAITING], later[LATER];
    for (int i = 0; i < WAITING; i++) {
        waiting[i] = socket(AF_INET, SOCK_STREAM, 0);
        assert_int_equal(dial(waiting[i], port), 0);
    }
    for (int i = 0; i < LATER; i++)
        later[i] = socket(AF_INET, SOCK_STREAM, 0);

    /* No descriptor free below the limit: the lowest free one is the limit. */
    struct rlimit old, low;
    assert_int_equal(getrlimit(RLIMIT_NOFILE, &old), 0);
    int probe = open("/dev/null", O_RDONLY);
    assert_true(probe >= 0);
    close(probe);
    low = old;
    low.rlim_cur = (rlim_t)probe;
    assert_int_equal(setrlimit(RLIMIT_NOFILE, &low), 0);

    spin(base, 600);
    assert_int_equal(c.accepted, 0);
    for (int i = 0; i < WAITING; i++)
        assert_true(closed(waiting[i]));
    assert_int_equal(c.lines, 1);
    assert_non_null(strstr(c.last, "test listener: accept failed: Too many open files"));
    assert_non_null(strstr(c.last, "20 waiting connections closed"));
    unsigned long long pauses = listen_guard_pauses(g);
    assert_true(pauses >= 1);

    /* Still short: more come, are shed, and the log stays quiet. */
    for (int i = 0; i < LATER - 1; i++)
        assert_int_equal(dial(later[i], port), 0);
    spin(base, 600);
    assert_int_equal(c.accepted, 0);
    for (int i = 0; i < LATER - 1; i++)
        assert_true(closed(later[i]));
    assert_int_equal(c.lines, 1);
    /* A pause per retry that found work, not a spin. */
    assert_in_range(listen_guard_pauses(g), pauses + 1, pauses + 6);

    /* Descriptors free again: the next connection is taken. */
    assert_int_equal(setrlimit(RLIMIT_NOFILE, &old), 0);
    assert_int_equal(dial(later[LATER - 1], port), 0);
    spin(base, 1000);
    assert_int_equal(c.accepted, 1);

    for (int i = 0; i < WAITING; i++)
        close(waiting[i]);
    for (int i = 0; i < LATER; i++)
        close(later[i]);
    listen_guard_free(g);
    evconnlistener_free(lis);
    event_base_free(base);
}

static void
test_free_without_failure(void **state)
{
    (void)state;
    struct ctx c;
    memset(&c, 0, sizeof(c));
    struct event_base *base = event_base_new();
    struct evconnlistener *lis = transport_tcp_listen(base, AF_INET, 0, 1, on_accept, &c);
    assert_non_null(lis);
    struct listen_guard *g = listen_guard_new(lis, "x", NULL, NULL);
    assert_non_null(g);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_int_equal(dial(fd, transport_tcp_port(lis)), 0);
    spin(base, 100);
    assert_int_equal(c.accepted, 1);
    assert_int_equal(listen_guard_pauses(g), 0);
    close(fd);
    listen_guard_free(g);
    listen_guard_free(NULL);
    evconnlistener_free(lis);
    event_base_free(base);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_out_of_descriptors),
        cmocka_unit_test(test_free_without_failure),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
