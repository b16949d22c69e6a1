/*
 * http_guard.h — admission and whole-request deadlines for an evhttp
 * server. Server layer, loop thread only. The tracker uses it; the search
 * index and the daemon's RPC are meant to.
 *
 * evhttp's own timeout restarts with every byte, so a client that sends
 * one byte every few seconds holds a connection for ever, and it takes
 * every connection it is offered, so a few thousand idle ones exhaust the
 * process's descriptors. The guard:
 *   - gives each request a deadline that never restarts: the request line,
 *     headers and body must all arrive within read_ms of its start (the
 *     accept, or the end of the previous reply on a kept-alive connection),
 *     and the reply must be written within reply_ms of the request reaching
 *     the handler. A connection past its deadline is closed.
 *   - caps connections in total and per client address (IPv6 by /64); a
 *     new connection that finds the table full replaces the least useful
 *     one: the connection that has waited longest for a request (an idle
 *     kept-alive one, or one closest to its deadline), and only when none
 *     waits, the reply closest to its deadline. An address over its cap
 *     replaces its own oldest connection, so it can only crowd out itself.
 *     Loopback addresses have no per-address cap: local tools, tests and
 *     benchmarks open hundreds of connections from 127.0.0.1, and only the
 *     host itself can use them.
 *
 * How: evhttp (2.1) has no hook for a new connection, so the guard makes
 * each connection's bufferevent (evhttp_set_bevcb) and takes the
 * connection in, with its address, right after evhttp has set it up, in
 * the same loop iteration; its close callback tells the guard when evhttp
 * frees it. The guard wraps the request handler to see requests start and
 * end.
 *
 * Handlers must reply before they return (evhttp_send_reply and friends):
 * the guard may free a connection whose reply is being written, never one
 * whose request a handler still holds, and it cannot tell the two apart.
 */
#ifndef SHOAL_HTTP_GUARD_H
#define SHOAL_HTTP_GUARD_H

#include <stddef.h>
#include <stdint.h>

#include <event2/event.h>
#include <event2/http.h>

struct http_guard_cfg {
    uint32_t read_ms;    /* a whole request arrives within this (default 10 s) */
    uint32_t reply_ms;   /* a reply is written within this (default 30 s) */
    size_t max_conns;    /* 0: three quarters of RLIMIT_NOFILE, at most 8192 */
    size_t max_per_addr; /* 0: 32; loopback has no per-address cap... */
    int cap_loopback;    /* ...unless this is set (tests use 127.0.0.x as hosts) */
};

struct http_guard_stats {
    size_t conns;      /* connections now held */
    uint64_t expired;  /* closed at their deadline */
    uint64_t evicted;  /* closed to make room for a new one */
    uint64_t admitted; /* connections taken in */
};

/*
 * Guards http, which runs on base: sets its bufferevent callback and its
 * generic handler, which becomes cb with arg (called for every request, as
 * evhttp_set_gencb's would be). cfg may be NULL for the defaults. Keeps a
 * reference to http and its callbacks point at the guard: free http first,
 * then the guard. Returns NULL when out of memory.
 */
struct http_guard *http_guard_new(struct event_base *base, struct evhttp *http,
                                  const struct http_guard_cfg *cfg,
                                  void (*cb)(struct evhttp_request *, void *), void *arg);

/* Frees the guard, after evhttp_free() of its server (which closes every
 * connection, and each leaves the guard's table). NULL does nothing. */
void http_guard_free(struct http_guard *g);

void http_guard_get_stats(const struct http_guard *g, struct http_guard_stats *st);

#endif
