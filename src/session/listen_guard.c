/*
 * listen_guard.c — pause, shed and retry for a listener that accept()
 * fails on, with rate-limited lines. Session layer: owns one timer and one
 * reserve descriptor per guard, never the listener.
 */
#include "session/listen_guard.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/event.h>

#include "base/alloc.h"
#include "base/clock.h"
#include "base/loglimit.h"

/* How long a listener stays paused before it tries accept() again: short,
 * so that service resumes soon after descriptors come free, yet a retry
 * that fails again costs a few wake-ups a second. */
#define LISTEN_GUARD_RETRY_MS 250
/* One line about accept() failing per this interval, at most. */
#define LISTEN_GUARD_LOG_MS 10000
/* Pending connections shed per failure: the listen backlog's worth. */
#define LISTEN_GUARD_SHED_MAX 256
/* Room for the name in a line. */
#define LISTEN_GUARD_NAME_MAX 48

struct listen_guard {
    struct evconnlistener *lis;
    struct event *retry_ev;
    /* Always pending, so that on_error can find the guard; every log
     * interval it reports failures held back since the last line. */
    struct event *anchor_ev;
    int reserve_fd; /* /dev/null held for shedding; -1 when it could not reopen */
    char name[LISTEN_GUARD_NAME_MAX];
    listen_guard_log_fn log;
    void *ctx;
    struct loglimit limit;
    int last_err;                  /* errno of the last failure, for the flushed line */
    unsigned long long shed_since; /* connections shed since the last line */
    unsigned long long pauses;
};

static int
open_reserve(void)
{
    return open("/dev/null", O_RDONLY | O_CLOEXEC);
}

static int
out_of_descriptors(int err)
{
    return err == EMFILE || err == ENFILE || err == ENOBUFS || err == ENOMEM;
}

/* Accepts and closes what waits in the queue, with the reserve's slot.
 * Returns how many went. */
static unsigned
shed(struct listen_guard *g)
{
    if (g->reserve_fd < 0)
        g->reserve_fd = open_reserve();
    if (g->reserve_fd < 0)
        return 0;
    close(g->reserve_fd);
    evutil_socket_t lfd = evconnlistener_get_fd(g->lis);
    unsigned n = 0;
    while (n < LISTEN_GUARD_SHED_MAX) {
        int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0)
            break;
        close(fd);
        n++;
    }
    /* Another thread (a disk worker opening a file) may have taken the
     * slot meanwhile; then there is no reserve until a retry finds room. */
    g->reserve_fd = open_reserve();
    return n;
}

static void
say(struct listen_guard *g, int err, unsigned long long held)
{
    if (!g->log)
        return;
    char line[256];
    int n = snprintf(line, sizeof(line), "%s: accept failed: %s; listening paused",
                     g->name, strerror(err));
    if (n > 0 && (size_t)n < sizeof(line) && g->shed_since)
        n += snprintf(line + n, sizeof(line) - (size_t)n,
                      ", %llu waiting connections closed", g->shed_since);
    if (n > 0 && (size_t)n < sizeof(line) && held)
        snprintf(line + n, sizeof(line) - (size_t)n, " (%llu more failures in %d s)",
                 held, LISTEN_GUARD_LOG_MS / 1000);
    g->shed_since = 0;
    g->log(g->ctx, line);
}

static void
on_retry(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct listen_guard *g = arg;
    if (g->reserve_fd < 0)
        g->reserve_fd = open_reserve();
    /* If descriptors are still short, the next accept fails and pauses the
     * listener again. */
    evconnlistener_enable(g->lis);
}

static void
on_anchor(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct listen_guard *g = arg;
    uint64_t held;
    if (loglimit_flush(&g->limit, clock_now_ms(), &held))
        say(g, g->last_err, held);
}

struct find {
    struct evconnlistener *lis;
    struct listen_guard *g;
};

static int
match_anchor(const struct event_base *base, const struct event *ev, void *arg)
{
    (void)base;
    struct find *f = arg;
    if (event_get_callback(ev) != on_anchor)
        return 0;
    struct listen_guard *g = event_get_callback_arg(ev);
    if (g->lis != f->lis)
        return 0;
    f->g = g;
    return 1;
}

static void
on_error(struct evconnlistener *lis, void *arg)
{
    /*
     * libevent hands an error callback the listener's accept argument,
     * which is not ours: evhttp binds its listeners to itself. So the
     * guard finds itself among the loop's pending events by its anchor
     * timer. This runs only when accept() fails, at most a few times a
     * second while the listener pauses between tries.
     */
    (void)arg;
    int err = EVUTIL_SOCKET_ERROR();
    struct find f = {lis, NULL};
    event_base_foreach_event(evconnlistener_get_base(lis), match_anchor, &f);
    struct listen_guard *g = f.g;
    if (!g) {
        /* Not ours any more: still never spin. */
        evconnlistener_disable(lis);
        return;
    }
    if (out_of_descriptors(err))
        g->shed_since += shed(g);
    evconnlistener_disable(lis);
    g->pauses++;
    g->last_err = err;
    struct timeval tv = {0, LISTEN_GUARD_RETRY_MS * 1000};
    event_add(g->retry_ev, &tv);
    uint64_t held;
    if (loglimit_hit(&g->limit, clock_now_ms(), &held))
        say(g, err, held);
}

struct listen_guard *
listen_guard_new(struct evconnlistener *lis, const char *name, listen_guard_log_fn log,
                 void *ctx)
{
    struct listen_guard *g = xcalloc(1, sizeof(*g));
    if (!g)
        return NULL;
    g->lis = lis;
    g->log = log;
    g->ctx = ctx;
    snprintf(g->name, sizeof(g->name), "%s", name);
    loglimit_init(&g->limit, LISTEN_GUARD_LOG_MS);
    g->reserve_fd = open_reserve();
    struct event_base *base = evconnlistener_get_base(lis);
    g->retry_ev = evtimer_new(base, on_retry, g);
    g->anchor_ev = event_new(base, -1, EV_PERSIST, on_anchor, g);
    struct timeval period = {LISTEN_GUARD_LOG_MS / 1000, 0};
    if (g->reserve_fd < 0 || !g->retry_ev || !g->anchor_ev ||
        event_add(g->anchor_ev, &period) != 0) {
        listen_guard_free(g);
        return NULL;
    }
    evconnlistener_set_error_cb(lis, on_error);
    return g;
}

void
listen_guard_free(struct listen_guard *g)
{
    if (!g)
        return;
    if (g->anchor_ev) {
        evconnlistener_set_error_cb(g->lis, NULL);
        event_free(g->anchor_ev);
    }
    if (g->retry_ev)
        event_free(g->retry_ev);
    if (g->reserve_fd >= 0)
        close(g->reserve_fd);
    xfree(g);
}

unsigned long long
listen_guard_pauses(const struct listen_guard *g)
{
    return g->pauses;
}
