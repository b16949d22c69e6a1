/*
 * http_guard.c — deadlines that never restart and a connection table with
 * replacement, around evhttp. Server layer: owns one timer, one deferred
 * event and the table; evhttp owns the connections. See http_guard.h.
 */
#include "server/http_guard.h"

#include <string.h>
#include <sys/resource.h>

#include <event2/bufferevent.h>

#include "base/alloc.h"
#include "base/clock.h"
#include "base/netguard.h"
#include "base/rng.h"
#include "base/siphash.h"
#include "base/sockaddr.h"

/* Defaults: a request's line, headers and body arrive within 10 s of its
 * start (a browser or a client sends them at once); its reply is written
 * within 30 s (the largest reply, the tracker's HTML page, is about 1 MB). */
#define HTTP_GUARD_READ_MS  10000
#define HTTP_GUARD_REPLY_MS 30000
/* Connections at most when RLIMIT_NOFILE allows more: each costs a
 * descriptor and a few KB; thousands of clients announce over few sockets
 * each. */
#define HTTP_GUARD_MAX_CONNS 8192
/* Connections below the descriptor limit kept for the rest of the process
 * (listeners, UDP, the loop, files): a quarter of it. */
#define HTTP_GUARD_FD_SHARE_DIV 4
/* The smallest table, whatever the limit says. */
#define HTTP_GUARD_MIN_CONNS 8
/* Connections per address: enough for a NAT with a few users and a
 * browser's six. */
#define HTTP_GUARD_PER_ADDR 32
/* Per-address counts live in a fixed table keyed by a keyed hash; two
 * addresses that collide share a count. */
#define HTTP_GUARD_ADDR_SLOTS 4096
/* How often deadlines are checked: they are met within this. */
#define HTTP_GUARD_TICK_MS 250

struct conn {
    struct http_guard *g;
    struct bufferevent *bev;         /* until taken in; then unused */
    struct evhttp_connection *evcon; /* once taken in */
    struct conn *prev, *next;        /* in a list of the guard (below) */
    uint64_t deadline;               /* monotonic ms */
    uint32_t slot;                   /* per-address count, when counted */
    int counted;
    int busy; /* in the busy list: a request is with its handler or its reply */
};

/* A list of connections, oldest first; each gets its deadline when it goes
 * in at the tail, always now plus the same span, so heads expire first. */
struct clist {
    struct conn *head, *tail;
};

struct http_guard {
    struct http_guard_cfg cfg;
    void (*cb)(struct evhttp_request *, void *);
    void *arg;
    struct event *adopt_ev;
    struct event *tick_ev;
    struct conn *pending; /* bufferevents made, connections not taken in yet */
    struct clist waiting; /* waiting for a request to arrive whole */
    struct clist busy;    /* a request being handled or its reply written */
    size_t n;
    /* evcon -> conn, open addressing with linear probing. */
    struct conn **map;
    size_t map_cap; /* a power of two, at least twice max_conns */
    uint16_t *addr_count;
    uint64_t key[2];
    struct http_guard_stats st;
};

/* ------------------------------------------------------------------ lists */

static void
clist_unlink(struct clist *l, struct conn *c)
{
    if (c->prev)
        c->prev->next = c->next;
    else
        l->head = c->next;
    if (c->next)
        c->next->prev = c->prev;
    else
        l->tail = c->prev;
    c->prev = c->next = NULL;
}

static void
clist_push(struct clist *l, struct conn *c)
{
    c->next = NULL;
    c->prev = l->tail;
    if (l->tail)
        l->tail->next = c;
    else
        l->head = c;
    l->tail = c;
}

/* Moves c to the tail of waiting (busy = 0) or busy, due in span ms. */
static void
place(struct http_guard *g, struct conn *c, int busy, uint32_t span, uint64_t now)
{
    clist_unlink(c->busy ? &g->busy : &g->waiting, c);
    c->busy = busy;
    c->deadline = now + span;
    clist_push(busy ? &g->busy : &g->waiting, c);
}

/* ------------------------------------------------------------------ map */

static size_t
map_home(const struct http_guard *g, const void *evcon)
{
    uint64_t h = (uint64_t)(uintptr_t)evcon * 0x9e3779b97f4a7c15ull;
    return (size_t)(h >> 20) & (g->map_cap - 1);
}

static struct conn *
map_get(const struct http_guard *g, const struct evhttp_connection *evcon)
{
    for (size_t i = map_home(g, evcon);; i = (i + 1) & (g->map_cap - 1)) {
        if (!g->map[i])
            return NULL;
        if (g->map[i]->evcon == evcon)
            return g->map[i];
    }
}

static void
map_put(struct http_guard *g, struct conn *c)
{
    size_t i = map_home(g, c->evcon);
    while (g->map[i])
        i = (i + 1) & (g->map_cap - 1);
    g->map[i] = c;
}

static void
map_del(struct http_guard *g, const struct conn *c)
{
    size_t mask = g->map_cap - 1, i = map_home(g, c->evcon);
    while (g->map[i] != c)
        i = (i + 1) & mask;
    g->map[i] = NULL;
    /* Backward shift: move up each later entry of the run whose home is
     * not between the hole and it, so lookups never stop early. */
    for (size_t j = (i + 1) & mask; g->map[j]; j = (j + 1) & mask) {
        size_t home = map_home(g, g->map[j]->evcon);
        if (((j - home) & mask) >= ((j - i) & mask)) {
            g->map[i] = g->map[j];
            g->map[j] = NULL;
            i = j;
        }
    }
}

/* ------------------------------------------------------------------ table */

static void
forget(struct http_guard *g, struct conn *c)
{
    clist_unlink(c->busy ? &g->busy : &g->waiting, c);
    map_del(g, c);
    if (c->counted)
        g->addr_count[c->slot]--;
    g->n--;
    xfree(c);
}

/* evhttp frees a connection: it leaves the table. */
static void
on_close(struct evhttp_connection *evcon, void *arg)
{
    (void)evcon;
    struct conn *c = arg;
    forget(c->g, c);
}

/* Closes c, taking it out of the table first rather than waiting for its
 * close callback. Safe from the guard's own events only: no evhttp
 * callback of c's is running. */
static void
close_conn(struct conn *c)
{
    struct evhttp_connection *evcon = c->evcon;
    evhttp_connection_set_closecb(evcon, NULL, NULL);
    forget(c->g, c);
    evhttp_connection_free(evcon);
}

/* The first connection of l from slot's address, oldest first. */
static struct conn *
oldest_of(const struct clist *l, uint32_t slot)
{
    for (struct conn *c = l->head; c; c = c->next)
        if (c->counted && c->slot == slot)
            return c;
    return NULL;
}

/* The address slot of sa, and whether it has a per-address cap. */
static int
addr_slot(const struct http_guard *g, const struct sockaddr *sa, uint32_t *slot)
{
    if (!sa || (!g->cfg.cap_loopback && netguard_is_loopback(sa)))
        return 0;
    uint8_t host[16];
    size_t n = sockaddr_host_bytes(sa, host);
    *slot = (uint32_t)(siphash13(g->key[0], g->key[1], host, n) % HTTP_GUARD_ADDR_SLOTS);
    return 1;
}

/* Takes a new connection in, replacing another when its address or the
 * table is full. Returns 0, or -1 when it was refused (and freed). */
static int
admit(struct http_guard *g, struct conn *c, uint64_t now)
{
    const struct sockaddr *sa = evhttp_connection_get_addr(c->evcon);
    uint32_t slot = 0;
    int capped = addr_slot(g, sa, &slot);
    if (capped && g->addr_count[slot] >= g->cfg.max_per_addr) {
        struct conn *v = oldest_of(&g->waiting, slot);
        if (!v)
            v = oldest_of(&g->busy, slot);
        if (v) {
            g->st.evicted++;
            close_conn(v);
        }
    }
    if (g->n >= g->cfg.max_conns) {
        struct conn *v = g->waiting.head ? g->waiting.head : g->busy.head;
        if (v) {
            g->st.evicted++;
            close_conn(v);
        }
    }
    if (g->n >= g->cfg.max_conns ||
        (capped && g->addr_count[slot] >= g->cfg.max_per_addr)) {
        /* Nothing to replace: an address that collides with a full one. */
        evhttp_connection_free(c->evcon);
        xfree(c);
        return -1;
    }
    if (capped) {
        c->slot = slot;
        c->counted = 1;
        g->addr_count[slot]++;
    }
    c->busy = 0;
    c->deadline = now + g->cfg.read_ms;
    clist_push(&g->waiting, c);
    map_put(g, c);
    g->n++;
    g->st.admitted++;
    evhttp_connection_set_closecb(c->evcon, on_close, c);
    return 0;
}

/* ------------------------------------------------------------------ events */

/*
 * Takes in the connections whose bufferevents were made since the last
 * run. It runs in the loop iteration that accepted them, after evhttp has
 * made each connection and set its callbacks on the bufferevent, and
 * before the loop polls their sockets. The guard holds a reference to each
 * bufferevent till then: should evhttp have failed and freed the
 * connection meanwhile, the bufferevent is still there, its callbacks
 * cleared, and the reference is all that is left to drop.
 */
static void
on_adopt(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct http_guard *g = arg;
    uint64_t now = clock_now_ms();
    while (g->pending) {
        struct conn *c = g->pending;
        g->pending = c->next;
        c->next = NULL;
        bufferevent_data_cb rd, wr;
        bufferevent_event_cb ev;
        void *evcon = NULL;
        bufferevent_getcb(c->bev, &rd, &wr, &ev, &evcon);
        bufferevent_decref(c->bev);
        c->bev = NULL;
        if (!evcon) {
            xfree(c);
            continue;
        }
        c->evcon = evcon;
        admit(g, c, now);
    }
}

static struct bufferevent *
on_bev(struct event_base *base, void *arg)
{
    struct http_guard *g = arg;
    struct conn *c = xcalloc(1, sizeof(*c));
    if (!c)
        return NULL; /* evhttp makes one of its own: that one goes unguarded */
    /* Options as evhttp's own: it closes the socket itself. */
    c->bev = bufferevent_socket_new(base, -1, 0);
    if (!c->bev) {
        xfree(c);
        return NULL;
    }
    bufferevent_incref(c->bev);
    c->g = g;
    c->next = g->pending;
    g->pending = c;
    event_active(g->adopt_ev, EV_TIMEOUT, 0);
    return c->bev;
}

static void
on_complete(struct evhttp_request *req, void *arg)
{
    (void)req;
    struct conn *c = arg;
    /* A kept-alive connection's next request starts now. */
    place(c->g, c, 0, c->g->cfg.read_ms, clock_now_ms());
}

static void
on_request(struct evhttp_request *req, void *arg)
{
    struct http_guard *g = arg;
    struct conn *c = map_get(g, evhttp_request_get_connection(req));
    if (c) {
        place(g, c, 1, g->cfg.reply_ms, clock_now_ms());
        evhttp_request_set_on_complete_cb(req, on_complete, c);
    }
    g->cb(req, g->arg);
}

static void
on_tick(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct http_guard *g = arg;
    uint64_t now = clock_now_ms();
    /* Each list is in deadline order: only its heads can be due. */
    while (g->waiting.head && g->waiting.head->deadline <= now) {
        g->st.expired++;
        close_conn(g->waiting.head);
    }
    while (g->busy.head && g->busy.head->deadline <= now) {
        g->st.expired++;
        close_conn(g->busy.head);
    }
}

/* ------------------------------------------------------------------ setup */

static size_t
default_max_conns(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY)
        return HTTP_GUARD_MAX_CONNS;
    rlim_t n = rl.rlim_cur - rl.rlim_cur / HTTP_GUARD_FD_SHARE_DIV;
    if (n > HTTP_GUARD_MAX_CONNS)
        return HTTP_GUARD_MAX_CONNS;
    return n < HTTP_GUARD_MIN_CONNS ? HTTP_GUARD_MIN_CONNS : (size_t)n;
}

struct http_guard *
http_guard_new(struct event_base *base, struct evhttp *http,
               const struct http_guard_cfg *cfg,
               void (*cb)(struct evhttp_request *, void *), void *arg)
{
    struct http_guard *g = xcalloc(1, sizeof(*g));
    if (!g)
        return NULL;
    if (cfg)
        g->cfg = *cfg;
    if (!g->cfg.read_ms)
        g->cfg.read_ms = HTTP_GUARD_READ_MS;
    if (!g->cfg.reply_ms)
        g->cfg.reply_ms = HTTP_GUARD_REPLY_MS;
    if (!g->cfg.max_conns)
        g->cfg.max_conns = default_max_conns();
    if (!g->cfg.max_per_addr)
        g->cfg.max_per_addr = HTTP_GUARD_PER_ADDR;
    if (g->cfg.max_per_addr > UINT16_MAX)
        g->cfg.max_per_addr = UINT16_MAX;
    g->cb = cb;
    g->arg = arg;
    g->map_cap = 16;
    while (g->map_cap < 2 * g->cfg.max_conns)
        g->map_cap *= 2;
    g->map = xcalloc(g->map_cap, sizeof(*g->map));
    g->addr_count = xcalloc(HTTP_GUARD_ADDR_SLOTS, sizeof(*g->addr_count));
    g->adopt_ev = event_new(base, -1, 0, on_adopt, g);
    g->tick_ev = event_new(base, -1, EV_PERSIST, on_tick, g);
    struct timeval tick = {0, HTTP_GUARD_TICK_MS * 1000};
    if (!g->map || !g->addr_count || !g->adopt_ev || !g->tick_ev ||
        rng_bytes(g->key, sizeof(g->key)) != 0 || event_add(g->tick_ev, &tick) != 0) {
        http_guard_free(g);
        return NULL;
    }
    evhttp_set_bevcb(http, on_bev, g);
    evhttp_set_gencb(http, on_request, g);
    return g;
}

void
http_guard_free(struct http_guard *g)
{
    if (!g)
        return;
    /* evhttp is gone, and with it every connection (each left the table
     * through its close callback); the references to bufferevents not
     * taken in yet are all that remain. */
    while (g->pending) {
        struct conn *c = g->pending;
        g->pending = c->next;
        bufferevent_decref(c->bev);
        xfree(c);
    }
    if (g->adopt_ev)
        event_free(g->adopt_ev);
    if (g->tick_ev)
        event_free(g->tick_ev);
    xfree(g->map);
    xfree(g->addr_count);
    xfree(g);
}

void
http_guard_get_stats(const struct http_guard *g, struct http_guard_stats *st)
{
    *st = g->st;
    st->conns = g->n;
}
