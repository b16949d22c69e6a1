/*
 * test_webseed_stop.c — shoal_torrent_stop() ends a torrent's web seed
 * requests at once. A stalling HTTP server on 127.0.0.1, run on a thread
 * here, answers each GET with headers and then nothing; once the web seed
 * has requests open, the torrent is stopped, and every connection must be
 * closed by the client within a couple of ticks (before, they stayed open
 * until the low-speed limit, 30 s, and could still deliver blocks).
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
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

#include "shoal.h"

#define MAX_CONNS 16

/* The stalling server: what it has seen, shared with the loop thread. */
static struct {
    int lfd;
    int port;
    pthread_mutex_t mu;
    int opened; /* connections that sent a request */
    int open;   /* of those, not yet closed by the client */
    int quit;
} srv = {.mu = PTHREAD_MUTEX_INITIALIZER};

static char workdir[256];

static void *
serve(void *arg)
{
    (void)arg;
    struct pollfd fds[MAX_CONNS + 1];
    int answered[MAX_CONNS + 1] = {0};
    int n = 1;
    fds[0] = (struct pollfd){.fd = srv.lfd, .events = POLLIN};
    /* Bounded: 60 s at most, whatever happens. */
    for (int round = 0; round < 600; round++) {
        pthread_mutex_lock(&srv.mu);
        int quit = srv.quit;
        pthread_mutex_unlock(&srv.mu);
        if (quit)
            break;
        if (poll(fds, (nfds_t)n, 100) <= 0)
            continue;
        if ((fds[0].revents & POLLIN) && n <= MAX_CONNS) {
            int c = accept(srv.lfd, NULL, NULL);
            if (c >= 0) {
                answered[n] = 0;
                fds[n++] = (struct pollfd){.fd = c, .events = POLLIN};
            }
        }
        for (int i = 1; i < n; i++) {
            if (!(fds[i].revents & (POLLIN | POLLHUP | POLLERR)))
                continue;
            char buf[4096];
            ssize_t got = recv(fds[i].fd, buf, sizeof(buf), 0);
            if (got > 0 && !answered[i]) {
                /* Headers promising a range, then silence. */
                const char *h = "HTTP/1.1 206 Partial Content\r\n"
                                "Content-Length: 16384\r\n\r\n";
                if (send(fds[i].fd, h, strlen(h), MSG_NOSIGNAL) < 0)
                    got = 0;
                answered[i] = 1;
                pthread_mutex_lock(&srv.mu);
                srv.opened++;
                srv.open++;
                pthread_mutex_unlock(&srv.mu);
            }
            if (got <= 0) {
                pthread_mutex_lock(&srv.mu);
                srv.open -= answered[i];
                pthread_mutex_unlock(&srv.mu);
                close(fds[i].fd);
                fds[i] = fds[--n];
                answered[i] = answered[n];
                i--;
            }
        }
    }
    for (int i = 1; i < n; i++)
        close(fds[i].fd);
    return NULL;
}

static void
server_start(void)
{
    srv.lfd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(srv.lfd >= 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(0x7f000001)};
    assert_int_equal(bind(srv.lfd, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(listen(srv.lfd, 16), 0);
    socklen_t len = sizeof(a);
    assert_int_equal(getsockname(srv.lfd, (struct sockaddr *)&a, &len), 0);
    srv.port = ntohs(a.sin_port);
}

/* What the loop thread does, tick by tick. */
struct run {
    shoal_torrent *t;
    int ticks;
    int stopped_at; /* the tick of shoal_torrent_stop(), or 0 */
    int open_after; /* connections open two ticks after it */
    int opened_at_stop;
    int opened_after;
};

static void
on_event(shoal_session *ss, const struct shoal_event *ev, void *user)
{
    struct run *r = user;
    if (ev->type != SHOAL_EV_TICK)
        return;
    r->ticks++;
    pthread_mutex_lock(&srv.mu);
    int open = srv.open, opened = srv.opened;
    pthread_mutex_unlock(&srv.mu);
    if (!r->stopped_at && open > 0) {
        r->stopped_at = r->ticks;
        r->opened_at_stop = opened;
        shoal_torrent_stop(r->t);
    } else if (r->stopped_at && r->ticks >= r->stopped_at + 2) {
        r->open_after = open;
        r->opened_after = opened;
        shoal_session_stop(ss);
    } else if (r->ticks > 20) {
        shoal_session_stop(ss); /* the web seed never asked: fails below */
    }
}

static void
test_stop_cancels_requests(void **state)
{
    (void)state;
    char data[300], dir[300], url[64];
    snprintf(data, sizeof(data), "%s/f.bin", workdir);
    snprintf(dir, sizeof(dir), "%s/out", workdir);
    FILE *f = fopen(data, "wb");
    assert_non_null(f);
    for (int i = 0; i < 8 * 16384; i++)
        fputc(i * 7 & 0xff, f);
    fclose(f);
    server_start();
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/f.bin", srv.port);
    const char *seeds[] = {url, NULL};
    struct shoal_create_opts o = {
        .path = data, .creation_date = -1, .piece_length = 16384, .webseeds = seeds};
    uint8_t *buf;
    size_t len;
    struct shoal_perr err = {0};
    assert_int_equal(shoal_create_torrent(&o, &buf, &len, &err), 0);
    shoal_metainfo *m;
    assert_int_equal(shoal_metainfo_parse(buf, len, &m, &err), 0);
    shoal_free(buf);

    struct shoal_settings set;
    shoal_settings_init(&set);
    set.local_only = 1;
    shoal_session *ss;
    assert_int_equal(shoal_session_new(&set, &ss), 0);
    struct run r = {0};
    shoal_session_set_event_cb(ss, on_event, &r);
    struct shoal_torrent_opts to = {.save_dir = dir};
    assert_int_equal(shoal_session_add(ss, m, &to, &r.t, &err), 0);
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, serve, NULL), 0);
    assert_int_equal(shoal_session_run(ss, 0), 0);
    struct shoal_torrent_status st;
    shoal_torrent_status(r.t, &st);
    shoal_session_free(ss);
    pthread_mutex_lock(&srv.mu);
    srv.quit = 1;
    pthread_mutex_unlock(&srv.mu);
    pthread_join(th, NULL);
    close(srv.lfd);

    assert_true(r.stopped_at > 0); /* the web seed had requests open */
    assert_true(r.opened_at_stop > 0);
    assert_int_equal(r.open_after, 0);                  /* every one closed by the stop */
    assert_int_equal(r.opened_after, r.opened_at_stop); /* and none since */
    assert_int_equal(st.state, SHOAL_TS_STOPPED);
}

static int
setup(void **state)
{
    (void)state;
    snprintf(workdir, sizeof(workdir), "/tmp/shoal-test-webseed-stop-XXXXXX");
    return mkdtemp(workdir) ? 0 : -1;
}

static int
teardown(void **state)
{
    (void)state;
    char cmd[300];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", workdir);
    return system(cmd) == 0 ? 0 : -1;
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stop_cancels_requests),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
