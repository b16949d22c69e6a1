/*
 * dht.c — a DHT node's datagrams: queries we answer (BEP 5 ping,
 * find_node, get_peers, announce_peer; BEP 51 sample_infohashes), replies
 * to the queries we sent, the saved routing table, our id (BEP 42) and the
 * timer. Session layer: the engine decides (tables, store, tokens,
 * lookups), the codec checks and writes the bytes, the UDP mux carries
 * them; the lookups themselves are in dht_search.c.
 *
 * What gets no answer at all: a datagram over KRPC_MAX_PACKET bytes or
 * not one bencoded dictionary, one carrying our own id, a reply that no
 * transaction of ours awaits from that address, any query while we are
 * read-only (BEP 43) and queries past an address's rate. A reply is never
 * more than DHT_AMPLIFY times the query that asked, nor over
 * KRPC_REPLY_BUDGET bytes. In local-only mode nothing but loopback is
 * sent to or taken into a table.
 */
#include "session/dht.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <event2/event.h>

#include "base/alloc.h"
#include "base/buf.h"
#include "base/file.h"
#include "base/netguard.h"
#include "base/rng.h"
#include "base/siphash.h"
#include "base/sockaddr.h"
#include "base/util.h"
#include "codec/bencode.h"
#include "session/dht_internal.h"
#include "session/dns.h"
#include "session/hooks.h"
#include "session/udp.h"
#include "shoal.h"

/* Queries one address may send: a burst, then a few a second (a lookup
 * asks one node once; a node refreshing its table a few times). */
#define DHT_RATE_BURST 20
#define DHT_RATE_PER_S 5
/* A reply may be this many times the query's size at most, so a forged
 * source address buys an attacker little: 4 is what a find_node reply of
 * 8 nodes needs (about 280 bytes for a 95-byte query); a get_peers reply
 * then carries about 35 IPv4 peers instead of the store's 50. */
#define DHT_AMPLIFY 4
/* Housekeeping: pings, bucket refresh, torrents, every second. */
#define DHT_HOUSE_MS 1000
/* The table is saved this often, besides at exit. */
#define DHT_SAVE_MS (10 * 60 * 1000)
/* Expired peers leave the store this often. */
#define DHT_SWEEP_MS (60 * 1000)
/* A saved table larger than this is not read: a full one is 100 KB. */
#define DHT_STATE_MAX (512 * 1024)
/* Our client version (BEP 20 style): "SH", 0.1. */
static const uint8_t dht_version[4] = {'S', 'H', 0, 1};

/* ------------------------------------------------------------------ helpers */

int64_t
dht_now(const struct dht *d)
{
    return (int64_t)d->cfg.h->now_ms(d->cfg.h->ctx);
}

static uint64_t
rnd(struct dht *d)
{
    return d->cfg.h->rand64(d->cfg.h->ctx);
}

struct dht_table *
dht_tab(const struct dht *d, int fam)
{
    return fam == 0 || fam == 1 ? d->t[fam] : NULL;
}

static int
fam_of(const struct dht_addr *a)
{
    return a->len == 16 ? 1 : 0;
}

int
dht_addr_allowed(const struct dht *d, const struct dht_addr *a)
{
    struct sockaddr_storage ss;
    if (a->port == 0 || dht_addr_to_sockaddr(a, &ss, NULL) != 0)
        return 0;
    return netguard_check_addr(d->cfg.local_only, (struct sockaddr *)&ss) == 0;
}

void
dht_wake(struct dht *d, int64_t at_ms)
{
    if (d->timer_at && d->timer_at <= at_ms)
        return;
    int64_t now = dht_now(d);
    int64_t in = at_ms > now ? at_ms - now : 0;
    struct timeval tv = {(time_t)(in / 1000), (suseconds_t)(in % 1000) * 1000};
    d->timer_at = at_ms;
    evtimer_add(d->timer, &tv);
}

/* Sends the encoding of m to a. Returns 0 or a negative code; a refusal
 * of local-only mode is counted, never logged (a table full of outside
 * nodes would log without end). */
static int
send_msg(struct dht *d, const struct krpc_msg *m, const struct sockaddr *to,
         socklen_t tolen, size_t cap)
{
    struct buf b;
    buf_init(&b, cap);
    int rc = krpc_encode(m, &b);
    if (!rc)
        rc = udp_send(d->cfg.udp, b.data, b.len, to, tolen);
    buf_cleanup(&b);
    return rc;
}

/* ------------------------------------------------------------------ transactions */

static struct dht_txn *
txn_alloc(struct dht *d, size_t *slot)
{
    if (d->npending >= DHT_MAX_PENDING)
        return NULL;
    for (size_t i = 0; i < DHT_MAX_PENDING; i++) {
        size_t k = (d->txn_cursor + i) % DHT_MAX_PENDING;
        if (d->txn[k].kind == TXN_FREE) {
            d->txn_cursor = (k + 1) % DHT_MAX_PENDING;
            *slot = k;
            return &d->txn[k];
        }
    }
    return NULL;
}

static void
txn_free(struct dht *d, struct dht_txn *x)
{
    if (x->kind != TXN_FREE && d->npending > 0)
        d->npending--;
    memset(x, 0, sizeof(*x));
}

int
dht_send_query(struct dht *d, int method, const struct dht_addr *to, const uint8_t *id,
               const struct krpc_msg *args, struct dht_txn *proto)
{
    struct sockaddr_storage sa;
    socklen_t salen;
    if (!dht_addr_allowed(d, to) || dht_addr_to_sockaddr(to, &sa, &salen) != 0)
        return SHOAL_ELOCALONLY;
    /* Replies name us among the nodes near our id: never ask ourselves. */
    if (id && !memcmp(id, d->id, DHT_ID_LEN))
        return SHOAL_EINVAL;
    if (!udp_has_family(d->cfg.udp, sa.ss_family))
        return SHOAL_EINVAL;
    size_t slot;
    struct dht_txn *x = txn_alloc(d, &slot);
    if (!x)
        return -EAGAIN;
    uint8_t tid[4];
    uint16_t salt = (uint16_t)rnd(d);
    be16_put(tid, (uint16_t)slot);
    be16_put(tid + 2, salt);
    struct krpc_msg q;
    if (args)
        q = *args;
    else
        memset(&q, 0, sizeof(q));
    uint8_t target[DHT_ID_LEN];
    memcpy(target, q.target, sizeof(target));
    unsigned has = q.has;
    uint16_t port = q.port;
    uint8_t implied = q.implied_port, token_len = q.token_len;
    uint8_t token[KRPC_MAX_TOKEN];
    memcpy(token, q.token, sizeof(token));
    krpc_query_init(&q, method, tid, sizeof(tid), d->id);
    memcpy(q.target, target, sizeof(target));
    q.has = has;
    q.port = port;
    q.implied_port = implied;
    q.token_len = token_len;
    memcpy(q.token, token, sizeof(token));
    q.ro = (uint8_t)(d->cfg.read_only != 0);
    memcpy(q.v, dht_version, sizeof(dht_version));
    q.v_len = sizeof(dht_version);
    q.has |= KRPC_HAS_V;
    int rc = send_msg(d, &q, (struct sockaddr *)&sa, salen, KRPC_MAX_PACKET);
    if (rc)
        return rc;
    *x = *proto;
    x->salt = salt;
    x->to = *to;
    x->has_id = id != NULL;
    if (id)
        memcpy(x->id, id, DHT_ID_LEN);
    x->sent_ms = dht_now(d);
    if (x->kind == TXN_FREE)
        x->kind = TXN_PING;
    d->npending++;
    d->st.queries_out++;
    return (int)slot;
}

static void
ping(struct dht *d, const uint8_t *id, const struct dht_addr *a)
{
    struct dht_txn proto = {.kind = TXN_PING};
    dht_send_query(d, KRPC_PING, a, id, NULL, &proto);
}

/* Gives up the transactions past their time. */
static void
expire_txns(struct dht *d, int64_t now)
{
    for (size_t i = 0; i < DHT_MAX_PENDING && d->npending > 0; i++) {
        struct dht_txn *x = &d->txn[i];
        if (x->kind == TXN_FREE || now - x->sent_ms < DHT_TXN_TIMEOUT_MS)
            continue;
        struct dht_txn copy = *x;
        txn_free(d, x);
        if (copy.kind == TXN_PING && copy.has_id && dht_tab(d, fam_of(&copy.to)))
            dht_table_failed(dht_tab(d, fam_of(&copy.to)), copy.id, &copy.to, now);
        else if (copy.kind == TXN_SAMPLE && copy.scb)
            copy.scb(copy.suser, -ETIMEDOUT, NULL, 0, 0, 0);
    }
}

/* ------------------------------------------------------------------ our id (BEP 42) */

/* Moves every node into fresh tables for the new id d->id (they come
 * back as questionable and are pinged). */
static void
rebuild_tables(struct dht *d, int64_t now)
{
    for (int f = 0; f < 2; f++) {
        struct dht_table *old = d->t[f];
        if (!old)
            continue;
        struct dht_table *nt = dht_table_new(d->id, f ? 6 : 4, DHT_TABLE_BEP42, rnd(d));
        if (!nt)
            continue;
        struct dht_table_entry *e = xcalloc(DHT_TABLE_MAX_NODES, sizeof(*e));
        size_t n = e ? dht_table_dump(old, now, e, DHT_TABLE_MAX_NODES) : 0;
        if (n > DHT_TABLE_MAX_NODES)
            n = DHT_TABLE_MAX_NODES;
        for (size_t i = 0; i < n; i++)
            if (e[i].quality != DHT_BAD)
                dht_table_heard(nt, e[i].id, &e[i].addr, DHT_HEARD_SAVED, now);
        xfree(e);
        dht_table_free(old);
        d->t[f] = nt;
    }
}

/* A reply told us our address (BEP 42 `ip`): once enough agree on a
 * public IPv4 address our id does not fit, the id follows it, so that
 * nodes enforcing BEP 42 keep us. */
static void
vote_ip(struct dht *d, const struct krpc_msg *m, const struct dht_addr *from)
{
    if (!(m->has & KRPC_HAS_IP) || m->ip_len != 6 || dht_id_exempt(m->ip, 4))
        return;
    size_t slot = DHT_VOTES;
    for (size_t i = 0; i < DHT_VOTES; i++) {
        if (d->votes[i].n && !memcmp(d->votes[i].ip, m->ip, 4)) {
            slot = i;
            break;
        }
        if (slot == DHT_VOTES && !d->votes[i].n)
            slot = i;
    }
    if (slot == DHT_VOTES)
        return; /* full of other claims: they age out at the next change */
    /* One vote per node address: one liar cannot move our id. */
    uint8_t key[18];
    size_t klen = dht_addr_to_compact(from, key);
    uint64_t voter = siphash24(d->rate_k0, d->rate_k1, key, klen);
    for (unsigned i = 0; i < d->votes[slot].n; i++)
        if (d->votes[slot].voters[i] == voter)
            return;
    memcpy(d->votes[slot].ip, m->ip, 4);
    d->votes[slot].voters[d->votes[slot].n] = voter;
    if (++d->votes[slot].n < DHT_VOTES_NEEDED)
        return;
    memset(d->votes, 0, sizeof(d->votes));
    if (!memcmp(d->external, m->ip, 4) || dht_id_valid(d->id, m->ip, 4)) {
        memcpy(d->external, m->ip, 4);
        return;
    }
    uint8_t r[DHT_ID_LEN];
    for (size_t i = 0; i < DHT_ID_LEN; i += 8) {
        uint64_t v = rnd(d);
        memcpy(r + i, &v, i + 8 <= DHT_ID_LEN ? 8 : DHT_ID_LEN - i);
    }
    if (dht_id_make(d->id, m->ip, 4, r) != 0)
        return;
    memcpy(d->external, m->ip, 4);
    char line[96];
    snprintf(line, sizeof(line), "dht: new node id for our address %u.%u.%u.%u (BEP 42)",
             m->ip[0], m->ip[1], m->ip[2], m->ip[3]);
    d->cfg.h->log(d->cfg.h->ctx, line);
    rebuild_tables(d, dht_now(d));
}

/* ------------------------------------------------------------------ answers */

/* 1 when the address may send another query now. Loopback addresses are
 * counted per port: tests run many nodes on 127.0.0.1. */
static int
rate_ok(struct dht *d, const struct dht_addr *a, int64_t now)
{
    uint8_t key[18];
    size_t n = a->len;
    memcpy(key, a->ip, n);
    struct sockaddr_storage ss;
    if (dht_addr_to_sockaddr(a, &ss, NULL) == 0 &&
        netguard_is_loopback((struct sockaddr *)&ss)) {
        be16_put(key + n, a->port);
        n += 2;
    }
    uint64_t k = siphash24(d->rate_k0, d->rate_k1, key, n);
    struct dht_rate *r = &d->rate[k % DHT_RATE_SLOTS];
    if (r->key != k || r->last_ms == 0) {
        r->key = k;
        r->milli = DHT_RATE_BURST * 1000;
    } else {
        int64_t gain = (now - r->last_ms) * DHT_RATE_PER_S;
        uint64_t m = (uint64_t)r->milli + (uint64_t)(gain > 0 ? gain : 0);
        r->milli = m > DHT_RATE_BURST * 1000 ? DHT_RATE_BURST * 1000 : (uint32_t)m;
    }
    r->last_ms = now ? now : 1;
    if (r->milli < 1000)
        return 0;
    r->milli -= 1000;
    return 1;
}

/* Writes the closest nodes of family index fam to target into mem
 * (room for DHT_TABLE_K nodes of that family) and returns the bytes. */
static size_t
closest_compact(struct dht *d, int fam, const uint8_t target[DHT_ID_LEN], int64_t now,
                uint8_t *mem, size_t max)
{
    struct dht_table *t = dht_tab(d, fam);
    if (!t)
        return 0;
    struct dht_table_entry e[DHT_TABLE_K];
    if (max > DHT_TABLE_K)
        max = DHT_TABLE_K;
    size_t n = dht_table_closest(t, target, 0, now, e, max);
    size_t off = 0;
    for (size_t i = 0; i < n; i++)
        off += krpc_put_node(mem + off, e[i].id, e[i].addr.ip, e[i].addr.len,
                             e[i].addr.port);
    return off;
}

/* The reply's fields that every method shares: our id, the querier's
 * address (BEP 42 `ip`) and our version. */
static void
reply_init(struct dht *d, struct krpc_msg *r, const struct krpc_msg *q,
           const struct dht_addr *from)
{
    krpc_response_init(r, q->tid, q->tid_len, d->id);
    r->ip_len = (uint8_t)dht_addr_to_compact(from, r->ip);
    if (r->ip_len)
        r->has |= KRPC_HAS_IP;
    memcpy(r->v, dht_version, sizeof(dht_version));
    r->v_len = sizeof(dht_version);
    r->has |= KRPC_HAS_V;
}

/* Which families of nodes the querier wants (BEP 32): what it asked for,
 * else the family it asked over. */
static unsigned
wanted(const struct krpc_msg *q, const struct dht_addr *from)
{
    if ((q->has & KRPC_HAS_WANT) && q->want)
        return q->want;
    return from->len == 16 ? KRPC_WANT_N6 : KRPC_WANT_N4;
}

/* Sends reply r to a query of qlen bytes, halving the values, then the
 * nodes, until it fits the amplification cap. */
static void
send_reply(struct dht *d, struct krpc_msg *r, size_t qlen, const struct sockaddr *to,
           socklen_t tolen)
{
    size_t cap = qlen * DHT_AMPLIFY;
    if (cap > KRPC_REPLY_BUDGET)
        cap = KRPC_REPLY_BUDGET;
    for (int tries = 0; tries < 16; tries++) {
        int rc = send_msg(d, r, to, tolen, cap);
        if (rc != SHOAL_ETOOBIG) {
            if (!rc)
                d->st.replies_out++;
            return;
        }
        if (r->nvalues4 + r->nvalues6 > 0) {
            r->nvalues4 /= 2;
            r->nvalues6 /= 2;
        } else if (r->nodes6.len > 0) {
            r->nodes6.len = r->nodes6.len / KRPC_NODE6_LEN / 2 * KRPC_NODE6_LEN;
            if (!r->nodes6.len)
                r->has &= ~KRPC_HAS_NODES6;
        } else if (r->nodes.len > 0) {
            r->nodes.len = r->nodes.len / KRPC_NODE4_LEN / 2 * KRPC_NODE4_LEN;
            if (!r->nodes.len)
                r->has &= ~KRPC_HAS_NODES;
        } else if (r->samples.len > 0) {
            r->samples.len = r->samples.len / KRPC_ID_LEN / 2 * KRPC_ID_LEN;
        } else {
            return;
        }
    }
}

static void
send_error(struct dht *d, const struct krpc_msg *q, int code, const char *msg,
           const struct sockaddr *to, socklen_t tolen)
{
    struct krpc_msg e;
    krpc_error_init(&e, q->tid, q->tid_len, code, msg);
    if (send_msg(d, &e, to, tolen, KRPC_REPLY_BUDGET) == 0)
        d->st.replies_out++;
}

/* Adds the nodes near target the querier wants to reply r, in n4 / n6. */
static void
add_nodes(struct dht *d, struct krpc_msg *r, const struct krpc_msg *q,
          const struct dht_addr *from, int64_t now, uint8_t *n4, uint8_t *n6)
{
    unsigned w = wanted(q, from);
    if (w & KRPC_WANT_N4) {
        r->nodes.p = n4;
        r->nodes.len = closest_compact(d, 0, q->target, now, n4, DHT_TABLE_K);
        if (r->nodes.len)
            r->has |= KRPC_HAS_NODES;
    }
    if (w & KRPC_WANT_N6) {
        r->nodes6.p = n6;
        r->nodes6.len = closest_compact(d, 1, q->target, now, n6, DHT_TABLE_K);
        if (r->nodes6.len)
            r->has |= KRPC_HAS_NODES6;
    }
    /* BEP 5: find_node always names nodes; an empty string says we know
     * none. */
    if (!(r->has & (KRPC_HAS_NODES | KRPC_HAS_NODES6)))
        r->has |= from->len == 16 ? KRPC_HAS_NODES6 : KRPC_HAS_NODES;
}

static void
answer(struct dht *d, const struct krpc_msg *q, size_t qlen, const struct dht_addr *from,
       const struct sockaddr *sa, socklen_t salen, int64_t now)
{
    struct krpc_msg r;
    uint8_t n4[DHT_TABLE_K * KRPC_NODE4_LEN], n6[DHT_TABLE_K * KRPC_NODE6_LEN];
    uint8_t samples[DHT_STORE_SAMPLES][DHT_ID_LEN];
    reply_init(d, &r, q, from);
    switch (q->method) {
    case KRPC_PING:
        break;
    case KRPC_FIND_NODE:
        add_nodes(d, &r, q, from, now, n4, n6);
        break;
    case KRPC_GET_PEERS: {
        add_nodes(d, &r, q, from, now, n4, n6);
        r.token_len =
            (uint8_t)dht_token_make(&d->token, from->ip, from->len, now, r.token);
        r.has |= KRPC_HAS_TOKEN;
        uint8_t vals[DHT_STORE_GET6 * KRPC_PEER6_LEN];
        if (from->len == 4) {
            size_t n = dht_store_get(d->store, q->target, 4, now, vals, DHT_STORE_GET4);
            for (size_t i = 0; i < n; i++)
                memcpy(r.values4[i], vals + i * KRPC_PEER4_LEN, KRPC_PEER4_LEN);
            r.nvalues4 = n;
        } else {
            size_t n = dht_store_get(d->store, q->target, 6, now, vals, DHT_STORE_GET6);
            for (size_t i = 0; i < n; i++)
                memcpy(r.values6[i], vals + i * KRPC_PEER6_LEN, KRPC_PEER6_LEN);
            r.nvalues6 = n;
        }
        if (r.nvalues4 + r.nvalues6)
            r.has |= KRPC_HAS_VALUES;
        break;
    }
    case KRPC_ANNOUNCE_PEER: {
        if (!(q->has & KRPC_HAS_TOKEN) || !dht_token_check(&d->token, from->ip, from->len,
                                                           q->token, q->token_len, now)) {
            d->st.bad_tokens++;
            send_error(d, q, KRPC_ERR_PROTOCOL, "bad token", sa, salen);
            return;
        }
        struct dht_addr peer = *from;
        if (!q->implied_port)
            peer.port = q->port;
        if (dht_store_announce(d->store, q->target, &peer, now) != 0) {
            send_error(d, q, KRPC_ERR_PROTOCOL, "bad port", sa, salen);
            return;
        }
        break;
    }
    case KRPC_SAMPLE_INFOHASHES: {
        add_nodes(d, &r, q, from, now, n4, n6);
        size_t num = 0;
        size_t n = dht_store_sample(d->store, samples, DHT_STORE_SAMPLES, &num);
        r.samples.p = &samples[0][0];
        r.samples.len = n * DHT_ID_LEN;
        r.num = (int64_t)num;
        r.interval = DHT_STORE_SAMPLE_INTERVAL_S;
        r.has |= KRPC_HAS_SAMPLES | KRPC_HAS_NUM | KRPC_HAS_INTERVAL;
        break;
    }
    default:
        send_error(d, q, KRPC_ERR_METHOD, "method unknown", sa, salen);
        return;
    }
    send_reply(d, &r, qlen, sa, salen);
}

static void
on_query(struct dht *d, const struct krpc_msg *q, size_t qlen,
         const struct dht_addr *from, const struct sockaddr *sa, socklen_t salen,
         int64_t now)
{
    d->st.queries_in++;
    /* BEP 43: a read-only node answers nothing. */
    if (d->cfg.read_only)
        return;
    if (!rate_ok(d, from, now)) {
        d->st.rate_limited++;
        return;
    }
    /* BEP 43: a read-only querier cannot be asked anything, so it stays
     * out of the table. */
    struct dht_table *t = dht_tab(d, fam_of(from));
    if (t && !q->ro)
        dht_table_heard(t, q->id, from, DHT_HEARD_QUERY, now);
    answer(d, q, qlen, from, sa, salen, now);
}

static void
on_reply(struct dht *d, const struct krpc_msg *m, const struct dht_addr *from,
         int64_t now)
{
    if (m->tid_len != 4) {
        d->st.dropped++;
        return;
    }
    size_t slot = be16_get(m->tid);
    struct dht_txn *x = slot < DHT_MAX_PENDING ? &d->txn[slot] : NULL;
    if (!x || x->kind == TXN_FREE || x->salt != be16_get(m->tid + 2) ||
        !dht_addr_eq(&x->to, from)) {
        d->st.dropped++;
        return;
    }
    struct dht_txn copy = *x;
    txn_free(d, x);
    int ok = m->type == KRPC_RESPONSE;
    if (ok) {
        d->st.replies_in++;
        struct dht_table *t = dht_tab(d, fam_of(from));
        if (t)
            dht_table_heard(t, m->id, from, DHT_HEARD_REPLY, now);
        vote_ip(d, m, from);
    }
    switch (copy.kind) {
    case TXN_LOOKUP:
        dht_search_reply(d, &copy, from, ok ? m : NULL);
        break;
    case TXN_SAMPLE:
        if (copy.scb)
            copy.scb(copy.suser, ok ? 0 : SHOAL_EINVAL,
                     ok ? (const uint8_t(*)[DHT_ID_LEN])m->samples.p : NULL,
                     ok ? krpc_nsamples(m) : 0, ok ? m->num : 0, ok ? m->interval : 0);
        break;
    default:
        break;
    }
}

static int
on_datagram(void *ctx, const uint8_t *p, size_t n, const struct sockaddr *sa,
            socklen_t salen)
{
    struct dht *d = ctx;
    struct dht_addr from;
    if (n > KRPC_MAX_PACKET || dht_addr_from_sockaddr(&from, sa) != 0 || from.port == 0 ||
        netguard_check_addr(d->cfg.local_only, sa) != 0) {
        d->st.dropped++;
        return SHOAL_EINVAL;
    }
    /* The message is large (values): off the stack. */
    struct krpc_msg *m = xmalloc(sizeof(*m));
    if (!m)
        return SHOAL_ENOMEM;
    struct shoal_perr err;
    memset(&err, 0, sizeof(err));
    int64_t now = dht_now(d);
    int rc = krpc_parse(m, p, n, &err);
    if (rc) {
        /* Arguments wrong in a query we can answer: BEP 5 error 203. */
        if (m->type == KRPC_QUERY && m->tid_len && !d->cfg.read_only &&
            rate_ok(d, &from, now))
            send_error(d, m, KRPC_ERR_PROTOCOL, err.why ? err.why : "malformed", sa,
                       salen);
        else
            d->st.dropped++;
        goto out;
    }
    if (!memcmp(m->id, d->id, DHT_ID_LEN)) {
        d->st.dropped++;
        rc = SHOAL_EINVAL;
        goto out;
    }
    if (m->type == KRPC_QUERY)
        on_query(d, m, n, &from, sa, salen, now);
    else
        on_reply(d, m, &from, now);
out:
    xfree(m);
    return rc;
}

/* ------------------------------------------------------------------ timer */

static void
on_timer(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct dht *d = arg;
    d->timer_at = 0;
    int64_t now = dht_now(d);
    int house = now >= d->next_house_ms;
    if (house) {
        d->next_house_ms = now + DHT_HOUSE_MS;
        expire_txns(d, now);
        for (int f = 0; f < 2; f++) {
            struct dht_table_entry e[8];
            size_t n = d->t[f] ? dht_table_pings(d->t[f], now, e, 8) : 0;
            for (size_t i = 0; i < n; i++)
                ping(d, e[i].id, &e[i].addr);
        }
        if (now >= d->next_sweep_ms) {
            d->next_sweep_ms = now + DHT_SWEEP_MS;
            dht_store_sweep(d->store, now);
        }
        if (d->state_path && now >= d->next_save_ms) {
            d->next_save_ms = now + DHT_SAVE_MS;
            dht_save(d);
        }
    }
    int64_t next = dht_search_tick(d, now, house);
    if (next > d->next_house_ms)
        next = d->next_house_ms;
    dht_wake(d, next);
}

/* ------------------------------------------------------------------ saved table */

/* The table of a state file: its id and compact nodes. */
struct saved {
    uint8_t *data;
    struct benc_doc doc;
    int ok;
};

/* Reads the state file; a missing or broken one leaves s->ok at 0 and
 * the node as it would be without (a new id, empty tables). */
static void
saved_read(const char *path, struct saved *s)
{
    size_t len = 0;
    memset(s, 0, sizeof(*s));
    s->ok = file_read_capped(path, DHT_STATE_MAX, FILE_READ_REGULAR, &s->data, &len,
                             NULL) == 0 &&
            benc_decode(&s->doc, s->data, len, 64, NULL, NULL) == 0 &&
            s->doc.tok[0].type == BENC_DICT;
}

static void
saved_free(struct saved *s)
{
    benc_doc_cleanup(&s->doc);
    xfree(s->data);
}

/* The saved string `key` when it is a whole number of `each`-byte
 * entries, else NULL. */
static const uint8_t *
saved_str(const struct saved *s, const char *key, size_t each, size_t *n)
{
    uint32_t t = s->ok ? benc_dict_get_type(&s->doc, 0, key, BENC_STR) : 0;
    if (!t)
        return NULL;
    const uint8_t *p = benc_str(&s->doc, t, n);
    return *n % each == 0 ? p : NULL;
}

/* The saved nodes go in as questionable: pinged, then kept or dropped. */
static void
saved_nodes(struct dht *d, const struct saved *s, int64_t now)
{
    for (int f = 0; f < 2; f++) {
        size_t n = 0, each = f ? KRPC_NODE6_LEN : KRPC_NODE4_LEN;
        const uint8_t *p =
            d->t[f] ? saved_str(s, f ? "nodes6" : "nodes", each, &n) : NULL;
        for (size_t i = 0; p && i < n / each; i++) {
            uint8_t id[DHT_ID_LEN];
            struct dht_addr a;
            dht_node_from_compact(p, i, f ? 6 : 4, id, &a);
            if (dht_addr_allowed(d, &a))
                dht_table_heard(d->t[f], id, &a, DHT_HEARD_SAVED, now);
        }
    }
}

int
dht_save(struct dht *d)
{
    if (!d->state_path)
        return SHOAL_EINVAL;
    int64_t now = dht_now(d);
    struct dht_table_entry *e = xcalloc(DHT_TABLE_MAX_NODES, sizeof(*e));
    uint8_t *compact = xmalloc(DHT_TABLE_MAX_NODES * KRPC_NODE6_LEN);
    struct benc_enc enc;
    benc_enc_init(&enc, DHT_STATE_MAX);
    int rc = SHOAL_ENOMEM;
    if (!e || !compact)
        goto out;
    benc_dict_begin(&enc);
    benc_key(&enc, "id");
    benc_put_str(&enc, d->id, DHT_ID_LEN);
    for (int f = 0; f < 2; f++) {
        size_t n = d->t[f] ? dht_table_dump(d->t[f], now, e, DHT_TABLE_MAX_NODES) : 0;
        if (n > DHT_TABLE_MAX_NODES)
            n = DHT_TABLE_MAX_NODES;
        size_t off = 0;
        for (size_t i = 0; i < n; i++)
            if (e[i].quality != DHT_BAD && !e[i].replacement)
                off += krpc_put_node(compact + off, e[i].id, e[i].addr.ip, e[i].addr.len,
                                     e[i].addr.port);
        benc_key(&enc, f ? "nodes6" : "nodes");
        benc_put_str(&enc, compact, off);
    }
    benc_end(&enc);
    uint8_t *out = NULL;
    size_t len = 0;
    rc = benc_enc_finish(&enc, &out, &len);
    if (!rc)
        rc = file_write_atomic(d->state_path, out, len, 0);
    xfree(out);
out:
    benc_enc_cleanup(&enc);
    xfree(compact);
    xfree(e);
    return rc;
}

/* ------------------------------------------------------------------ life */

int
dht_new(const struct dht_cfg *cfg, struct dht **out)
{
    *out = NULL;
    struct dht *d = xcalloc(1, sizeof(*d));
    if (!d)
        return SHOAL_ENOMEM;
    d->cfg = *cfg;
    d->cfg.bootstrap = NULL;
    d->cfg.state_path = NULL;
    int rc = SHOAL_ENOMEM;
    for (size_t i = 0; i < DHT_ID_LEN; i += 8) {
        uint64_t v = rnd(d);
        memcpy(d->id + i, &v, i + 8 <= DHT_ID_LEN ? 8 : DHT_ID_LEN - i);
    }
    uint8_t key[DHT_TOKEN_KEY_LEN + 16];
    if (rng_bytes(key, sizeof(key)) != 0)
        goto fail;
    memcpy(&d->rate_k0, key + DHT_TOKEN_KEY_LEN, 8);
    memcpy(&d->rate_k1, key + DHT_TOKEN_KEY_LEN + 8, 8);
    int64_t now = dht_now(d);
    dht_token_init(&d->token, key, now);
    if (cfg->state_path && !(d->state_path = xstrdup(cfg->state_path)))
        goto fail;
    d->store = dht_store_new(0, 0, rnd(d));
    d->timer = evtimer_new(cfg->base, on_timer, d);
    if (!d->store || !d->timer)
        goto fail;
    rc = 0;
    /* The id first (it may come from the saved state), then the tables. */
    struct saved sv;
    memset(&sv, 0, sizeof(sv));
    if (d->state_path)
        saved_read(d->state_path, &sv);
    size_t idlen = 0;
    const uint8_t *id = saved_str(&sv, "id", DHT_ID_LEN, &idlen);
    if (id && idlen == DHT_ID_LEN)
        memcpy(d->id, id, DHT_ID_LEN);
    for (int f = 0; f < 2 && !rc; f++) {
        if (!udp_has_family(cfg->udp, f ? AF_INET6 : AF_INET))
            continue;
        if (!(d->t[f] = dht_table_new(d->id, f ? 6 : 4, DHT_TABLE_BEP42, rnd(d))))
            rc = SHOAL_ENOMEM;
    }
    if (!rc)
        saved_nodes(d, &sv, now);
    saved_free(&sv);
    if (rc)
        goto fail;
    struct udp_handler h = {on_datagram, d};
    udp_mux_set_handler(cfg->udp, UDP_DHT, &h);
    d->st.port = udp_port(cfg->udp, AF_INET);
    if (!d->st.port)
        d->st.port = udp_port(cfg->udp, AF_INET6);

    /* Bootstrap names: the ones given, else the public routers. */
    static const char *const routers[] = {
        "router.bittorrent.com:6881",
        "dht.transmissionbt.com:6881",
        "router.utorrent.com:6881",
        "dht.libtorrent.org:25401",
        NULL,
    };
    const char *const *names = cfg->bootstrap ? cfg->bootstrap : routers;
    if (!cfg->bootstrap && cfg->local_only)
        names = routers + 4; /* none: the routers are outside */
    for (size_t i = 0; names[i] && d->nboot_names < DHT_MAX_BOOTSTRAP; i++) {
        char **nb = xreallocarray(d->boot_names, d->nboot_names + 1, sizeof(char *));
        rc = SHOAL_ENOMEM;
        if (!nb)
            goto fail;
        d->boot_names = nb;
        if (!(d->boot_names[d->nboot_names] = xstrdup(names[i])))
            goto fail;
        rc = 0;
        d->nboot_names++;
    }
    d->next_house_ms = now;
    d->next_save_ms = now + DHT_SAVE_MS;
    d->next_sweep_ms = now + DHT_SWEEP_MS;
    dht_boot_resolve(d);
    dht_bootstrap(d);
    dht_wake(d, now);
    *out = d;
    return 0;
fail:
    xfree(d->state_path); /* nothing of a half-made node is saved */
    d->state_path = NULL;
    dht_free(d);
    return rc;
}

void
dht_free(struct dht *d)
{
    if (!d)
        return;
    if (d->state_path && (d->t[0] || d->t[1]))
        dht_save(d);
    dht_boot_names_free(d);
    dht_search_free_all(d);
    for (size_t i = 0; i < DHT_MAX_PENDING; i++) {
        struct dht_txn *x = &d->txn[i];
        if (x->kind == TXN_SAMPLE && x->scb) {
            dht_sample_cb cb = x->scb;
            void *user = x->suser;
            txn_free(d, x);
            cb(user, SHOAL_ECANCELED, NULL, 0, 0, 0);
        }
    }
    if (d->cfg.udp)
        udp_mux_set_handler(d->cfg.udp, UDP_DHT, NULL);
    if (d->timer)
        event_free(d->timer);
    for (int f = 0; f < 2; f++)
        dht_table_free(d->t[f]);
    dht_store_free(d->store);
    xfree(d->tor);
    xfree(d->state_path);
    xfree(d);
}

/* ------------------------------------------------------------------ API */

int
dht_add_node(struct dht *d, const struct sockaddr *sa)
{
    struct dht_addr a;
    if (dht_addr_from_sockaddr(&a, sa) != 0 || a.port == 0)
        return SHOAL_EINVAL;
    if (!dht_addr_allowed(d, &a))
        return SHOAL_ELOCALONLY;
    if (!dht_tab(d, fam_of(&a)))
        return SHOAL_EINVAL;
    size_t i;
    for (i = 0; i < d->nboot; i++)
        if (dht_addr_eq(&d->boot[i], &a))
            break;
    if (i == d->nboot && d->nboot < DHT_MAX_BOOTSTRAP)
        d->boot[d->nboot++] = a;
    ping(d, NULL, &a);
    dht_bootstrap(d);
    dht_wake(d, dht_now(d));
    return 0;
}

int
dht_ping_node(struct dht *d, const struct sockaddr *sa)
{
    struct dht_addr a;
    if (dht_addr_from_sockaddr(&a, sa) != 0 || a.port == 0)
        return SHOAL_EINVAL;
    if (!dht_addr_allowed(d, &a))
        return SHOAL_ELOCALONLY;
    if (!dht_tab(d, fam_of(&a)))
        return SHOAL_EINVAL;
    ping(d, NULL, &a);
    return 0;
}

int
dht_sample(struct dht *d, const struct sockaddr *sa, const uint8_t target[DHT_ID_LEN],
           dht_sample_cb cb, void *user)
{
    struct dht_addr a;
    if (!cb || dht_addr_from_sockaddr(&a, sa) != 0 || a.port == 0)
        return SHOAL_EINVAL;
    if (!dht_addr_allowed(d, &a))
        return SHOAL_ELOCALONLY;
    struct krpc_msg q;
    memset(&q, 0, sizeof(q));
    memcpy(q.target, target, DHT_ID_LEN);
    struct dht_txn proto = {.kind = TXN_SAMPLE, .scb = cb, .suser = user};
    int rc = dht_send_query(d, KRPC_SAMPLE_INFOHASHES, &a, NULL, &q, &proto);
    return rc < 0 ? rc : 0;
}

void
dht_info(const struct dht *d, struct dht_info *out)
{
    *out = d->st;
    memcpy(out->id, d->id, DHT_ID_LEN);
    int64_t now = dht_now(d);
    for (int f = 0; f < 2; f++) {
        if (!d->t[f])
            continue;
        struct dht_table_stats ts;
        dht_table_stats(d->t[f], now, &ts);
        out->nodes[f] = ts.nodes;
        out->good[f] = ts.good;
        out->buckets[f] = ts.buckets;
        out->replacements[f] = ts.replacements;
    }
    struct dht_store_stats ss;
    dht_store_stats(d->store, &ss);
    out->infohashes = ss.hashes;
    out->peers = ss.peers;
    out->torrents = d->ntor;
    out->pending = d->npending;
    out->searches = d->nsearches;
}

size_t
dht_stored(const struct dht *d, const uint8_t ih[DHT_ID_LEN])
{
    return dht_store_count(d->store, ih, dht_now(d));
}

static void
hex(const uint8_t *p, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[p[i] >> 4];
        out[2 * i + 1] = digits[p[i] & 15];
    }
    out[2 * n] = 0;
}

char *
dht_table_text(const struct dht *d)
{
    struct buf b;
    buf_init(&b, 4u << 20);
    char idhex[2 * DHT_ID_LEN + 1];
    hex(d->id, DHT_ID_LEN, idhex);
    buf_printf(&b, "id %s\n", idhex);
    struct dht_table_entry *e = xcalloc(DHT_TABLE_MAX_NODES, sizeof(*e));
    if (!e) {
        buf_cleanup(&b);
        return NULL;
    }
    int64_t now = dht_now(d);
    for (int f = 0; f < 2; f++) {
        if (!d->t[f])
            continue;
        struct dht_table_stats ts;
        dht_table_stats(d->t[f], now, &ts);
        buf_printf(&b,
                   "%s: %zu nodes (%zu good, %zu questionable, %zu bad), %zu buckets, "
                   "%zu waiting\n",
                   f ? "ipv6" : "ipv4", ts.nodes, ts.good, ts.questionable, ts.bad,
                   ts.buckets, ts.replacements);
        size_t n = dht_table_dump(d->t[f], now, e, DHT_TABLE_MAX_NODES);
        if (n > DHT_TABLE_MAX_NODES)
            n = DHT_TABLE_MAX_NODES;
        int last = -1;
        for (size_t i = 0; i < n; i++) {
            int bucket = dht_id_common_bits(d->id, e[i].id);
            if (ts.buckets && bucket > (int)ts.buckets - 1)
                bucket = (int)ts.buckets - 1;
            if (e[i].replacement && last != -2) {
                buf_printf(&b, "  waiting:\n");
                last = -2;
            } else if (!e[i].replacement && bucket != last) {
                buf_printf(&b, "  bucket %d:\n", bucket);
                last = bucket;
            }
            struct sockaddr_storage ss;
            char addr[SOCKADDR_TEXT_MAX] = "?";
            if (dht_addr_to_sockaddr(&e[i].addr, &ss, NULL) == 0)
                sockaddr_format((struct sockaddr *)&ss, addr, sizeof(addr));
            hex(e[i].id, DHT_ID_LEN, idhex);
            buf_printf(&b, "    %s %s %s\n", idhex, addr, dht_quality_name(e[i].quality));
        }
    }
    xfree(e);
    return (char *)buf_steal(&b, NULL);
}
