/*
 * test_http.c — the session's HTTP client (session/http.h) against a small
 * server on loopback: a reply and its status come back, redirects are
 * followed only to loopback in local-only mode and only so many times, a
 * body past its cap fails the request, a refused host fails at once,
 * a ranged GET sends its Range and offers no content coding, a stalled
 * server is let go of at the low-speed limit,
 * cancelling or freeing runs the callback with SHOAL_ECANCELED exactly
 * once, timeout_s bounds a chain of redirects as a whole, and clients on
 * several threads at once share curl's one global
 * set-up (and a client made after others are gone still works).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <event2/event.h>

#include "session/http.h"
#include "shoal.h"

static int server_port;

/* ------------------------------------------------------------------ server */

static void
reply(int fd, const char *status, const char *headers, const char *body, size_t len)
{
    char head[512];
    int n = snprintf(head, sizeof(head),
                     "HTTP/1.1 %s\r\n%sContent-Length: %zu\r\nConnection: close\r\n\r\n",
                     status, headers, len);
    if (write(fd, head, (size_t)n) < 0 || (len && write(fd, body, len) < 0))
        return;
}

/* One connection: reads the request line, answers by path. */
static void *
serve(void *arg)
{
    int fd = (int)(intptr_t)arg;
    char req[2048];
    ssize_t n = read(fd, req, sizeof(req) - 1);
    if (n <= 0)
        goto out;
    req[n] = '\0';
    char path[256] = "";
    if (sscanf(req, "GET %255s", path) != 1)
        goto out;
    char hdr[256];
    if (!strcmp(path, "/ok")) {
        reply(fd, "200 OK", "", "hello", 5);
    } else if (!strcmp(path, "/missing")) {
        reply(fd, "404 Not Found", "", "no", 2);
    } else if (!strcmp(path, "/hop")) {
        snprintf(hdr, sizeof(hdr), "Location: http://127.0.0.1:%d/ok\r\n", server_port);
        reply(fd, "302 Found", hdr, "", 0);
    } else if (!strcmp(path, "/out")) {
        reply(fd, "301 Moved", "Location: http://192.0.2.1/ok\r\n", "", 0);
    } else if (!strcmp(path, "/name")) {
        reply(fd, "307 Temporary", "Location: http://tracker.example/ok\r\n", "", 0);
    } else if (!strcmp(path, "/loop")) {
        reply(fd, "302 Found", "Location: /loop\r\n", "", 0);
    } else if (!strcmp(path, "/big")) {
        static char big[5000];
        memset(big, 'x', sizeof(big));
        reply(fd, "200 OK", "", big, sizeof(big));
    } else if (!strncmp(path, "/lag", 4)) {
        /* /lagN: after 400 ms, a redirect to /lag(N-1); /lag0 answers. */
        int left = (int)strtol(path + 4, NULL, 10);
        usleep(400 * 1000);
        if (left <= 0) {
            reply(fd, "200 OK", "", "late", 4);
        } else {
            snprintf(hdr, sizeof(hdr), "Location: /lag%d\r\n", left - 1);
            reply(fd, "302 Found", hdr, "", 0);
        }
    } else if (!strcmp(path, "/range")) {
        /* Echoes the Range header, and whether a content coding was offered
         * (a range of a compressed reply would not be a range of the file). */
        char val[64] = "none", body[96];
        const char *r = strstr(req, "\r\nRange: ");
        if (r)
            sscanf(r + 9, "%63[^\r]", val);
        int len = snprintf(body, sizeof(body), "%s%s", val,
                           strstr(req, "Accept-Encoding") ? " coded" : "");
        reply(fd, r ? "206 Partial Content" : "200 OK", "", body, (size_t)len);
    } else if (!strcmp(path, "/slow")) {
        /* Never answers: waits for the client to hang up. */
        while (read(fd, req, sizeof(req)) > 0)
            ;
    }
out:
    close(fd);
    return NULL;
}

static void *
accept_loop(void *arg)
{
    int lfd = (int)(intptr_t)arg;
    for (;;) {
        int fd = accept(lfd, NULL, NULL);
        if (fd < 0)
            return NULL;
        pthread_t th;
        if (pthread_create(&th, NULL, serve, (void *)(intptr_t)fd) == 0)
            pthread_detach(th);
        else
            close(fd);
    }
}

static int
start_server(void **state)
{
    (void)state;
    int lfd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(sa);
    if (lfd < 0 || bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
        listen(lfd, 16) != 0 || getsockname(lfd, (struct sockaddr *)&sa, &len) != 0)
        return -1;
    server_port = ntohs(sa.sin_port);
    pthread_t th;
    if (pthread_create(&th, NULL, accept_loop, (void *)(intptr_t)lfd) != 0)
        return -1;
    pthread_detach(th);
    return 0;
}

/* ------------------------------------------------------------------ client */

struct seen {
    int calls;
    int rc;
    long status;
    char error[300];
    char body[64];
    size_t len;
};

static void
record(void *arg, const struct http_result *r)
{
    struct seen *s = arg;
    s->calls++;
    s->rc = r->rc;
    s->status = r->status;
    snprintf(s->error, sizeof(s->error), "%s", r->error ? r->error : "");
    s->len = r->len;
    if (r->body && r->len < sizeof(s->body)) {
        memcpy(s->body, r->body, r->len);
        s->body[r->len] = '\0';
    }
    if (r->rc == 0)
        assert_null(r->error);
    else
        assert_non_null(r->error);
}

static void
record_plain(void *arg, const struct http_result *r)
{
    struct seen *s = arg;
    s->calls++;
    s->rc = r->rc;
    s->status = r->status;
}

static const struct http_opts opts = {
    .max_body = 1000, .timeout_s = 10, .connect_timeout_s = 5, .max_redirects = 3};

static uint64_t
mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Runs the loop until s has been called, or ten seconds pass. */
static void
wait_for(struct event_base *base, const struct seen *s)
{
    uint64_t until = mono_ms() + 10000;
    while (s->calls == 0 && mono_ms() < until) {
        event_base_loop(base, EVLOOP_NONBLOCK);
        usleep(1000);
    }
}

/* GETs path from the test server and waits for the answer. */
static void
get(struct event_base *base, struct http_client *c, const char *path, struct seen *s)
{
    char url[128];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", server_port, path);
    memset(s, 0, sizeof(*s));
    assert_int_equal(http_start(c, url, &opts, record, s, NULL), 0);
    assert_int_equal(s->calls, 0); /* never from inside http_start() */
    wait_for(base, s);
    assert_int_equal(s->calls, 1);
}

static void
test_requests(void **state)
{
    (void)state;
    struct event_base *base = event_base_new();
    struct http_client *c;
    assert_int_equal(http_client_new(base, 1, &c), 0);
    struct seen s;

    get(base, c, "/ok", &s);
    assert_int_equal(s.rc, 0);
    assert_int_equal(s.status, 200);
    assert_string_equal(s.body, "hello");

    /* Any status is a reply; what it means is the caller's business. */
    get(base, c, "/missing", &s);
    assert_int_equal(s.rc, 0);
    assert_int_equal(s.status, 404);

    get(base, c, "/hop", &s);
    assert_int_equal(s.rc, 0);
    assert_int_equal(s.status, 200);
    assert_string_equal(s.body, "hello");

    get(base, c, "/out", &s);
    assert_int_equal(s.rc, SHOAL_ELOCALONLY);
    assert_non_null(strstr(s.error, "redirect to http://192.0.2.1/ok"));

    get(base, c, "/name", &s);
    assert_int_equal(s.rc, SHOAL_ELOCALONLY);

    get(base, c, "/loop", &s);
    assert_int_equal(s.rc, SHOAL_EPARSE);
    assert_string_equal(s.error, "more than 3 redirects");

    /* A ranged GET says so, and asks for no content coding. */
    struct http_opts ranged = opts;
    ranged.range = "5-9";
    char rurl[128];
    snprintf(rurl, sizeof(rurl), "http://127.0.0.1:%d/range", server_port);
    memset(&s, 0, sizeof(s));
    assert_int_equal(http_start(c, rurl, &ranged, record, &s, NULL), 0);
    wait_for(base, &s);
    assert_int_equal(s.rc, 0);
    assert_int_equal(s.status, 206);
    assert_string_equal(s.body, "bytes=5-9");
    get(base, c, "/range", &s);
    assert_int_equal(s.status, 200);
    assert_string_equal(s.body, "none coded");

    get(base, c, "/big", &s);
    assert_int_equal(s.rc, SHOAL_ETOOBIG);
    assert_string_equal(s.error, "reply larger than 1000 bytes");

    /* A refused host fails at once, and the callback never runs. */
    memset(&s, 0, sizeof(s));
    assert_int_equal(
        http_start(c, "http://tracker.example/announce", &opts, record, &s, NULL),
        SHOAL_ELOCALONLY);
    assert_int_equal(http_url_allowed(c, "https://[::1]:8443/x"), 0);
    assert_int_equal(http_url_allowed(c, "http://localhost/x"), 0);
    assert_int_equal(http_url_allowed(c, "http://10.0.0.1/x"), SHOAL_ELOCALONLY);

    /* A server that sends nothing is let go of at the low-speed limit, long
     * before the whole request's time runs out. */
    struct http_opts stall = opts;
    stall.low_speed_bps = 1;
    stall.low_speed_time_s = 1;
    char surl[128];
    snprintf(surl, sizeof(surl), "http://127.0.0.1:%d/slow", server_port);
    memset(&s, 0, sizeof(s));
    uint64_t t0 = mono_ms();
    assert_int_equal(http_start(c, surl, &stall, record, &s, NULL), 0);
    wait_for(base, &s);
    assert_int_equal(s.calls, 1);
    assert_int_equal(s.rc, -ETIMEDOUT);
    assert_true(mono_ms() - t0 < 5000);

    /* Cancelled while the server sits on it: the callback runs inside
     * http_cancel(), once. */
    char url[128];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/slow", server_port);
    struct http_request *r;
    memset(&s, 0, sizeof(s));
    assert_int_equal(http_start(c, url, &opts, record, &s, &r), 0);
    for (int i = 0; i < 50; i++) {
        event_base_loop(base, EVLOOP_NONBLOCK);
        usleep(1000);
    }
    http_cancel(r);
    assert_int_equal(s.calls, 1);
    assert_int_equal(s.rc, SHOAL_ECANCELED);

    /* Still running when the client goes: cancelled the same way. */
    memset(&s, 0, sizeof(s));
    assert_int_equal(http_start(c, url, &opts, record, &s, NULL), 0);
    http_client_free(c);
    assert_int_equal(s.calls, 1);
    assert_int_equal(s.rc, SHOAL_ECANCELED);
    event_base_free(base);
}

/* timeout_s covers the whole request: three redirects of 400 ms each and a
 * last answer 400 ms later do not fit in one second, though every hop
 * alone does. */
static void
test_timeout_spans_redirects(void **state)
{
    (void)state;
    struct event_base *base = event_base_new();
    struct http_client *c;
    assert_int_equal(http_client_new(base, 1, &c), 0);
    struct http_opts o = opts;
    o.timeout_s = 1;
    o.max_redirects = 5;
    char url[128];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/lag3", server_port);
    struct seen s;
    memset(&s, 0, sizeof(s));
    uint64_t start = mono_ms();
    assert_int_equal(http_start(c, url, &o, record, &s, NULL), 0);
    wait_for(base, &s);
    assert_int_equal(s.calls, 1);
    assert_int_equal(s.rc, -ETIMEDOUT);
    uint64_t took = mono_ms() - start;
    assert_true(took >= 900 && took < 1500);

    /* With time enough, the same chain ends in the last reply. */
    o.timeout_s = 5;
    memset(&s, 0, sizeof(s));
    assert_int_equal(http_start(c, url, &o, record, &s, NULL), 0);
    wait_for(base, &s);
    assert_int_equal(s.rc, 0);
    assert_string_equal(s.body, "late");
    http_client_free(c);
    event_base_free(base);
}

/* Three GETs on a client of its own; no cmocka asserts off the main
 * thread, so it returns how many went wrong. */
static void *
one_client(void *arg)
{
    (void)arg;
    intptr_t bad = 0;
    struct event_base *base = event_base_new();
    struct http_client *c = NULL;
    if (!base || http_client_new(base, 1, &c) != 0)
        return (void *)(intptr_t)1;
    char url[128];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/ok", server_port);
    for (int i = 0; i < 3; i++) {
        struct seen s = {0};
        if (http_start(c, url, &opts, record_plain, &s, NULL) != 0) {
            bad++;
            continue;
        }
        wait_for(base, &s);
        bad += s.calls != 1 || s.rc != 0 || s.status != 200;
    }
    http_client_free(c);
    event_base_free(base);
    return (void *)bad;
}

static void
test_threads(void **state)
{
    (void)state;
    pthread_t th[4];
    for (int i = 0; i < 4; i++)
        assert_int_equal(pthread_create(&th[i], NULL, one_client, NULL), 0);
    for (int i = 0; i < 4; i++) {
        void *bad;
        pthread_join(th[i], &bad);
        assert_int_equal((intptr_t)bad, 0);
    }
    /* Every client is gone; curl's global state is not, so a new one works. */
    assert_int_equal((intptr_t)one_client(NULL), 0);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_requests),
        cmocka_unit_test(test_timeout_spans_redirects),
        cmocka_unit_test(test_threads),
    };
    return cmocka_run_group_tests(tests, start_server, NULL);
}
