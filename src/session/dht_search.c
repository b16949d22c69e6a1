/*
 * dht_search.c — a DHT node's own lookups: the lookup of our id that
 * joins the network (from the saved table or the bootstrap nodes), bucket
 * refresh, the torrents' get_peers lookups and announces, and the ones the
 * API asks for. Session layer: engine/dht_lookup.c decides whom to ask;
 * this file sends through dht_send_query() (dht.c), matches the replies,
 * hands peers up and announces to the closest nodes that gave tokens.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "base/alloc.h"
#include "base/sockaddr.h"
#include "session/dht_internal.h"
#include "session/dns.h"
#include "session/hooks.h"
#include "shoal.h"

/* Seeds taken from the table per lookup: twice k, so that a few stale
 * ones do not stall it. */
#define DHT_SEEDS (2 * DHT_LOOKUP_K)
/* Actions taken from a lookup per step call. */
#define DHT_ACTS 8
/* A torrent is looked up again after this long; sooner with few peers. */
#define DHT_TORRENT_INTERVAL_MS (15 * 60 * 1000)
#define DHT_TORRENT_FEW_MS      (2 * 60 * 1000)
/* With no peer at all the lookups come sooner, the first ones sooner
 * still: a seeder that started a moment before may not have announced yet. */
#define DHT_TORRENT_NONE_MS     (30 * 1000)
#define DHT_TORRENT_NONE_MIN_MS (4 * 1000)
#define DHT_TORRENT_FEW_PEERS   8
/* With no table yet, a torrent's lookup waits this long and tries again. */
#define DHT_TORRENT_EMPTY_MS 5000
/* A torrent the session stopped naming is forgotten after this long. */
#define DHT_TORRENT_FORGET_MS 10000
/* Bucket refresh lookups started per housekeeping round at most. */
#define DHT_REFRESH_PER_ROUND 2
/* With an empty table, bootstrap again this often. */
#define DHT_REBOOT_MS (60 * 1000)

static int
fam_index(const struct dht_addr *a)
{
    return a->len == 16 ? 1 : 0;
}

static size_t
table_nodes(const struct dht *d, int f)
{
    struct dht_table *t = dht_tab(d, f);
    if (!t)
        return 0;
    struct dht_table_stats ts;
    dht_table_stats(t, dht_now(d), &ts);
    return ts.nodes;
}

/* ------------------------------------------------------------------ one search */

/* Seeds lookup f of s from the table and, when the table is thin, from
 * the bootstrap addresses. Returns the seeds added. */
static size_t
seed(struct dht *d, struct dht_search *s, int f, int64_t now)
{
    size_t added = 0;
    struct dht_table_entry e[DHT_SEEDS];
    size_t n = dht_table_closest(dht_tab(d, f), s->target, 0, now, e, DHT_SEEDS);
    for (size_t i = 0; i < n; i++)
        added += dht_lookup_add(s->l[f], e[i].id, &e[i].addr) == 1;
    if (n < DHT_LOOKUP_K) {
        for (size_t i = 0; i < d->nboot; i++)
            if (fam_index(&d->boot[i]) == f)
                added += dht_lookup_add(s->l[f], NULL, &d->boot[i]) == 1;
    }
    return added;
}

static int
method_of(int kind)
{
    switch (kind) {
    case DHT_LOOKUP_GET_PEERS:
        return KRPC_GET_PEERS;
    case DHT_LOOKUP_SAMPLE_INFOHASHES:
        return KRPC_SAMPLE_INFOHASHES;
    default:
        return KRPC_FIND_NODE;
    }
}

/* Sends what lookup f of s asks for until it waits for replies. */
static void
run(struct dht *d, struct dht_search *s, int f, int64_t now)
{
    struct dht_lookup *l = s->l[f];
    if (!l)
        return;
    struct dht_lookup_action acts[DHT_ACTS];
    /* Bounded: each round either sends, or fails a query, and a lookup
     * makes at most DHT_LOOKUP_MAX_QUERIES. */
    for (int round = 0; round < DHT_LOOKUP_MAX_QUERIES + 2; round++) {
        int64_t wake = INT64_MAX;
        size_t n = dht_lookup_step(l, now, acts, DHT_ACTS, &wake);
        s->wake[f] = wake;
        int again = n == DHT_ACTS;
        for (size_t i = 0; i < n; i++) {
            struct dht_lookup_action *a = &acts[i];
            if (a->act == DHT_LOOKUP_FAILED) {
                if (a->has_id && dht_tab(d, f))
                    dht_table_failed(dht_tab(d, f), a->id, &a->addr, now);
                continue;
            }
            struct krpc_msg q;
            memset(&q, 0, sizeof(q));
            memcpy(q.target, s->target, DHT_ID_LEN);
            struct dht_txn proto = {.kind = TXN_LOOKUP, .s = s, .fam = f, .qid = a->qid};
            int rc = dht_send_query(d, method_of(s->kind), &a->addr,
                                    a->has_id ? a->id : NULL, &q, &proto);
            if (rc < 0) {
                /* Refused (local-only mode, a family we lack) or the
                 * transaction table is full: the query fails now. */
                dht_lookup_error(l, a->qid, &a->addr, now);
                again = 1;
            }
        }
        if (!again)
            break;
    }
}

static int
finished(const struct dht_search *s)
{
    for (int f = 0; f < 2; f++)
        if (s->l[f] && !dht_lookup_done(s->l[f]))
            return 0;
    return 1;
}

/* Hands up the peers lookup f found since the last call. */
static void
report_peers(struct dht *d, struct dht_search *s, int f)
{
    size_t n = 0;
    const struct dht_addr *p = dht_lookup_peers(s->l[f], &n);
    struct sockaddr_storage out[64];
    while (s->reported[f] < n) {
        size_t k = 0;
        for (; s->reported[f] < n && k < sizeof(out) / sizeof(out[0]); s->reported[f]++) {
            const struct dht_addr *a = &p[s->reported[f]];
            if (dht_addr_allowed(d, a) && dht_addr_to_sockaddr(a, &out[k], NULL) == 0)
                k++;
        }
        if (k == 0)
            continue;
        if (s->purpose == DHT_FOR_TORRENT)
            d->cfg.h->on_peers(d->cfg.h->ctx, s->target, PEER_SOURCE_DHT, out, k);
        else if (s->cb.peers)
            s->cb.peers(s->cb.user, out, k);
    }
}

/* BEP 5: announce_peer to the closest nodes that gave a token. */
static void
announce(struct dht *d, struct dht_search *s)
{
    for (int f = 0; f < 2; f++) {
        if (!s->l[f])
            continue;
        struct dht_lookup_responder r[DHT_LOOKUP_K];
        size_t n = dht_lookup_responders(s->l[f], r, DHT_LOOKUP_K);
        for (size_t i = 0; i < n; i++) {
            if (!r[i].token_len)
                continue;
            struct krpc_msg q;
            memset(&q, 0, sizeof(q));
            memcpy(q.target, s->target, DHT_ID_LEN);
            q.port = s->announce_port;
            q.has = KRPC_HAS_TOKEN | KRPC_HAS_PORT;
            q.token_len = r[i].token_len;
            memcpy(q.token, r[i].token, r[i].token_len);
            struct dht_txn proto = {.kind = TXN_ANNOUNCE};
            if (dht_send_query(d, KRPC_ANNOUNCE_PEER, &r[i].addr, r[i].id, &q, &proto) >=
                0)
                s->announced++;
        }
    }
}

static void
unlink_search(struct dht *d, struct dht_search *s)
{
    struct dht_search **pp = &d->searches;
    while (*pp && *pp != s)
        pp = &(*pp)->next;
    if (*pp) {
        *pp = s->next;
        d->nsearches--;
    }
    /* Late replies to its queries find no search. */
    for (size_t i = 0; i < DHT_MAX_PENDING; i++)
        if (d->txn[i].kind == TXN_LOOKUP && d->txn[i].s == s)
            d->txn[i].s = NULL;
}

static struct dht_torrent *
find_torrent(struct dht *d, const uint8_t ih[DHT_ID_LEN])
{
    for (size_t i = 0; i < d->ntor; i++)
        if (!memcmp(d->tor[i].ih, ih, DHT_ID_LEN))
            return &d->tor[i];
    return NULL;
}

/*
 * Kademlia's join: once the lookup of our own id has filled the buckets
 * near us, one lookup of a random id in each farther bucket's range fills
 * those too. Without it a new node knows only its own neighbourhood, and
 * the nodes that join after it only theirs: lookups that start in one half
 * of the id space would then never find the other.
 */
static void
refresh_all(struct dht *d)
{
    for (int f = 0; f < 2; f++) {
        struct dht_table *t = dht_tab(d, f);
        if (!t)
            continue;
        struct dht_table_stats ts;
        dht_table_stats(t, dht_now(d), &ts);
        for (size_t b = 0; b + 1 < ts.buckets && b < DHT_ID_LEN * 8; b++) {
            uint8_t target[DHT_ID_LEN];
            for (size_t i = 0; i < DHT_ID_LEN; i += 8) {
                uint64_t v = d->cfg.h->rand64(d->cfg.h->ctx);
                memcpy(target + i, &v, i + 8 <= DHT_ID_LEN ? 8 : DHT_ID_LEN - i);
            }
            /* The first b bits are ours, bit b is not. */
            for (size_t bit = 0; bit <= b; bit++) {
                uint8_t mask = (uint8_t)(0x80u >> (bit % 8));
                uint8_t mine = d->id[bit / 8] & mask;
                if (bit == b)
                    mine ^= mask;
                target[bit / 8] = (uint8_t)((target[bit / 8] & ~mask) | mine);
            }
            int rc;
            if (!dht_search_new(d, DHT_LOOKUP_FIND_NODE, target, DHT_FOR_REFRESH, &rc))
                return;
        }
    }
}

/* Ends s: announces, reports and frees it. The done callback runs with s
 * already unlinked, so it may start other searches. */
static void
finish(struct dht *d, struct dht_search *s, int64_t now)
{
    unlink_search(d, s);
    if (s->kind == DHT_LOOKUP_GET_PEERS && s->announce_port)
        announce(d, s);
    struct dht_search_stats st;
    memset(&st, 0, sizeof(st));
    for (int f = 0; f < 2; f++) {
        if (!s->l[f])
            continue;
        struct dht_lookup_stats ls;
        dht_lookup_stats(s->l[f], &ls);
        st.queries += ls.queries;
        st.replies += ls.replies;
        st.peers += ls.peers;
        if (ls.round_trips > st.round_trips)
            st.round_trips = ls.round_trips;
    }
    st.announced = s->announced;
    st.ms = now - s->started_ms;
    if (s->purpose == DHT_FOR_BOOT && st.replies > 0 && !d->closing)
        refresh_all(d);
    if (s->purpose == DHT_FOR_TORRENT) {
        struct dht_torrent *t = find_torrent(d, s->target);
        if (t)
            t->searching = 0;
    }
    if (s->cb.done)
        s->cb.done(s->cb.user, &st);
    for (int f = 0; f < 2; f++)
        dht_lookup_free(s->l[f]);
    xfree(s);
}

struct dht_search *
dht_search_new(struct dht *d, int kind, const uint8_t target[DHT_ID_LEN], int purpose,
               int *rc)
{
    *rc = 0;
    if (d->nsearches >= DHT_MAX_SEARCHES) {
        *rc = -EAGAIN;
        return NULL;
    }
    struct dht_search *s = xcalloc(1, sizeof(*s));
    if (!s) {
        *rc = SHOAL_ENOMEM;
        return NULL;
    }
    int64_t now = dht_now(d);
    s->kind = kind;
    s->purpose = purpose;
    memcpy(s->target, target, DHT_ID_LEN);
    s->started_ms = now;
    for (int f = 0; f < 2; f++) {
        if (!dht_tab(d, f))
            continue;
        s->l[f] = dht_lookup_new(kind, target, f ? 6 : 4, now);
        if (!s->l[f]) {
            *rc = SHOAL_ENOMEM;
            break;
        }
        dht_lookup_set_self(s->l[f], d->id);
        if (seed(d, s, f, now) == 0) {
            /* Nobody to ask in this family. */
            dht_lookup_free(s->l[f]);
            s->l[f] = NULL;
        }
    }
    if (*rc) {
        for (int f = 0; f < 2; f++)
            dht_lookup_free(s->l[f]);
        xfree(s);
        return NULL;
    }
    s->next = d->searches;
    d->searches = s;
    d->nsearches++;
    /* The first queries go out from the timer, never inside the caller. */
    s->wake[0] = s->wake[1] = now;
    dht_wake(d, now);
    return s;
}

void
dht_search_reply(struct dht *d, const struct dht_txn *x, const struct dht_addr *from,
                 const struct krpc_msg *m)
{
    struct dht_search *s = x->s;
    if (!s || !s->l[x->fam])
        return;
    int64_t now = dht_now(d);
    if (m) {
        int n = dht_lookup_reply(s->l[x->fam], x->qid, from, m, now);
        if (n > 0)
            report_peers(d, s, x->fam);
    } else {
        dht_lookup_error(s->l[x->fam], x->qid, from, now);
    }
    run(d, s, x->fam, now);
    if (finished(s))
        finish(d, s, now);
    else
        dht_wake(d, s->wake[x->fam]);
}

/* ------------------------------------------------------------------ bootstrap */

void
dht_bootstrap(struct dht *d)
{
    int64_t now = dht_now(d);
    d->next_boot_ms = now + DHT_REBOOT_MS;
    for (struct dht_search *s = d->searches; s; s = s->next) {
        if (s->purpose != DHT_FOR_BOOT)
            continue;
        /* Running already: the new bootstrap nodes join it. */
        for (int f = 0; f < 2; f++) {
            if (!dht_tab(d, f))
                continue;
            if (!s->l[f]) {
                if (!(s->l[f] = dht_lookup_new(s->kind, s->target, f ? 6 : 4, now)))
                    continue;
                dht_lookup_set_self(s->l[f], d->id);
            }
            seed(d, s, f, now);
            s->wake[f] = now;
        }
        dht_wake(d, now);
        return;
    }
    int rc;
    dht_search_new(d, DHT_LOOKUP_FIND_NODE, d->id, DHT_FOR_BOOT, &rc);
}

/* A bootstrap name's look-up: the node and its slot. */
struct boot_req {
    struct dht *d;
    size_t slot;
};

static void
on_boot_name(void *arg, int rc, const struct sockaddr_storage *addrs, size_t n,
             const char *why)
{
    struct boot_req *br = arg;
    struct dht *d = br->d;
    d->boot_dns[br->slot] = NULL;
    xfree(br);
    if (rc) {
        if (rc != SHOAL_ECANCELED) {
            char line[160];
            snprintf(line, sizeof(line), "dht: cannot resolve a bootstrap node: %s",
                     why ? why : shoal_strerror(rc));
            d->cfg.h->log(d->cfg.h->ctx, line);
        }
        return;
    }
    for (size_t i = 0; i < n; i++)
        dht_add_node(d, (const struct sockaddr *)&addrs[i]);
}

void
dht_boot_resolve(struct dht *d)
{
    for (size_t i = 0; i < d->nboot_names && i < DHT_MAX_BOOTSTRAP; i++) {
        if (d->boot_dns[i])
            continue;
        char host[256];
        uint16_t port;
        if (sockaddr_split_hostport(d->boot_names[i], 0, host, sizeof(host), &port) != 0)
            continue;
        struct sockaddr_storage sa;
        if (dns_literal(host, port, AF_UNSPEC, &sa) == 0) {
            dht_add_node(d, (struct sockaddr *)&sa);
            continue;
        }
        if (!d->cfg.dns)
            continue;
        struct boot_req *br = xcalloc(1, sizeof(*br));
        if (!br)
            return;
        br->d = d;
        br->slot = i;
        if (dns_lookup(d->cfg.dns, host, port, AF_UNSPEC, SOCK_DGRAM, on_boot_name, br,
                       &d->boot_dns[i]) != 0) {
            d->boot_dns[i] = NULL;
            xfree(br);
        }
    }
}

void
dht_boot_names_free(struct dht *d)
{
    for (size_t i = 0; i < DHT_MAX_BOOTSTRAP; i++)
        if (d->boot_dns[i])
            dns_cancel(d->boot_dns[i]); /* its callback clears the slot */
    for (size_t i = 0; i < d->nboot_names; i++)
        xfree(d->boot_names[i]);
    xfree(d->boot_names);
    d->boot_names = NULL;
    d->nboot_names = 0;
}

int
dht_add_node_name(struct dht *d, const char *hostport)
{
    char host[256];
    uint16_t port;
    if (sockaddr_split_hostport(hostport, 0, host, sizeof(host), &port) != 0)
        return SHOAL_EINVAL;
    struct sockaddr_storage sa;
    if (dns_literal(host, port, AF_UNSPEC, &sa) == 0)
        return dht_add_node(d, (struct sockaddr *)&sa);
    if (!d->cfg.dns)
        return SHOAL_EINVAL;
    size_t i;
    for (i = 0; i < DHT_MAX_BOOTSTRAP && d->boot_dns[i]; i++)
        ;
    if (i == DHT_MAX_BOOTSTRAP)
        return -EAGAIN;
    struct boot_req *br = xcalloc(1, sizeof(*br));
    if (!br)
        return SHOAL_ENOMEM;
    br->d = d;
    br->slot = i;
    int rc = dns_lookup(d->cfg.dns, host, port, AF_UNSPEC, SOCK_DGRAM, on_boot_name, br,
                        &d->boot_dns[i]);
    if (rc) {
        d->boot_dns[i] = NULL;
        xfree(br);
    }
    return rc;
}

/* ------------------------------------------------------------------ torrents */

void
dht_torrent_want(struct dht *d, const uint8_t ih[DHT_ID_LEN], int npeers)
{
    int64_t now = dht_now(d);
    struct dht_torrent *t = find_torrent(d, ih);
    if (!t) {
        if (d->ntor == d->tor_cap) {
            if (d->tor_cap >= DHT_MAX_TORRENTS)
                return;
            size_t cap = d->tor_cap ? d->tor_cap * 2 : 16;
            struct dht_torrent *nt = xreallocarray(d->tor, cap, sizeof(*nt));
            if (!nt)
                return;
            d->tor = nt;
            d->tor_cap = cap;
        }
        t = &d->tor[d->ntor++];
        memset(t, 0, sizeof(*t));
        memcpy(t->ih, ih, DHT_ID_LEN);
        t->next_ms = now;
        dht_wake(d, now);
    }
    t->npeers = npeers;
    t->named_ms = now;
}

void
dht_torrent_forget(struct dht *d, const uint8_t ih[DHT_ID_LEN])
{
    struct dht_torrent *t = find_torrent(d, ih);
    if (t)
        *t = d->tor[--d->ntor];
    /* The search stays (freeing it here could pull it from under a
     * callback of its own); it just tells nobody about us. */
    for (struct dht_search *s = d->searches; s; s = s->next)
        if (s->purpose == DHT_FOR_TORRENT && !memcmp(s->target, ih, DHT_ID_LEN))
            s->announce_port = 0;
}

/* Starts the torrents' lookups that are due, forgets the ones the
 * session no longer names. */
static void
torrents_tick(struct dht *d, int64_t now)
{
    int empty = !table_nodes(d, 0) && !table_nodes(d, 1) && d->nboot == 0;
    for (size_t i = 0; i < d->ntor;) {
        struct dht_torrent *t = &d->tor[i];
        if (now - t->named_ms > DHT_TORRENT_FORGET_MS && !t->searching) {
            d->tor[i] = d->tor[--d->ntor];
            continue;
        }
        i++;
        if (t->searching || now < t->next_ms)
            continue;
        if (empty) {
            t->next_ms = now + DHT_TORRENT_EMPTY_MS;
            continue;
        }
        int rc;
        struct dht_search *s =
            dht_search_new(d, DHT_LOOKUP_GET_PEERS, t->ih, DHT_FOR_TORRENT, &rc);
        if (!s)
            continue; /* too many at once: the next tick tries again */
        s->announce_port = d->cfg.peer_port;
        t->searching = 1;
        int64_t none = (int64_t)DHT_TORRENT_NONE_MIN_MS << (t->tries < 4 ? t->tries : 4);
        if (none > DHT_TORRENT_NONE_MS)
            none = DHT_TORRENT_NONE_MS;
        t->tries++;
        t->next_ms =
            now + (t->npeers == 0                      ? none
                   : t->npeers < DHT_TORRENT_FEW_PEERS ? DHT_TORRENT_FEW_MS
                                                       : DHT_TORRENT_INTERVAL_MS);
    }
}

/* ------------------------------------------------------------------ tick */

int64_t
dht_search_tick(struct dht *d, int64_t now, int house)
{
    if (house) {
        torrents_tick(d, now);
        for (int f = 0; f < 2; f++) {
            uint8_t targets[DHT_REFRESH_PER_ROUND][DHT_ID_LEN];
            size_t n = dht_tab(d, f) ? dht_table_refresh(dht_tab(d, f), now, targets,
                                                         DHT_REFRESH_PER_ROUND)
                                     : 0;
            for (size_t i = 0; i < n; i++) {
                int rc;
                dht_search_new(d, DHT_LOOKUP_FIND_NODE, targets[i], DHT_FOR_REFRESH, &rc);
            }
        }
        /* An empty table: look the routers up again, and start over. */
        if (!table_nodes(d, 0) && !table_nodes(d, 1) && now >= d->next_boot_ms) {
            dht_boot_resolve(d);
            dht_bootstrap(d);
        }
    }
    int64_t next = INT64_MAX;
    struct dht_search *s = d->searches;
    while (s) {
        struct dht_search *nx = s->next;
        for (int f = 0; f < 2; f++)
            if (s->l[f] && s->wake[f] <= now)
                run(d, s, f, now);
        if (finished(s)) {
            finish(d, s, now);
        } else {
            for (int f = 0; f < 2; f++)
                if (s->l[f] && !dht_lookup_done(s->l[f]) && s->wake[f] < next)
                    next = s->wake[f];
        }
        s = nx;
    }
    return next;
}

void
dht_search_free_all(struct dht *d)
{
    int64_t now = dht_now(d);
    d->closing = 1;
    while (d->searches) {
        struct dht_search *s = d->searches;
        s->announce_port = 0; /* nothing goes out any more */
        finish(d, s, now);
    }
}

/* ------------------------------------------------------------------ API */

int
dht_search(struct dht *d, const uint8_t ih[DHT_ID_LEN], uint16_t announce_port,
           const struct dht_search_cb *cb)
{
    int rc;
    struct dht_search *s = dht_search_new(d, DHT_LOOKUP_GET_PEERS, ih, DHT_FOR_USER, &rc);
    if (!s)
        return rc;
    s->announce_port = announce_port;
    if (cb)
        s->cb = *cb;
    return 0;
}
