/*
 * test_dht_lookup.c — the lookup state machine (src/engine/dht_lookup.c)
 * with a fake clock and a scripted network: 1000 fake nodes, each with a
 * real routing table of the others, answering find_node and get_peers with
 * their closest nodes. Lookups must find the true closest 8 (brute force)
 * and converge, also with dead and slow nodes; get_peers collects the
 * peers and the tokens of the closest responders; at most alpha queries
 * are in flight; timeouts come on time and a late reply still counts;
 * bootstrap addresses without ids work; and hostile replies (from an
 * address not queried, with a wrong query number, repeated, with another
 * id, naming one node 1000 times or thousands of nodes, or an endless
 * chain of closer fake nodes) neither grow the lookup past its caps nor
 * end it early.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "base/alloc.h"
#include "base/rng.h"
#include "codec/krpc.h"
#include "engine/dht_lookup.h"
#include "engine/dht_table.h"
#include "shoal.h"

#define NN 1000

struct fnet {
    size_t n;
    uint8_t id[NN][20];
    struct dht_addr addr[NN];
    struct dht_table *t[NN];
    uint8_t dead[NN];
    int32_t delay[NN];
    uint8_t holds[NN]; /* stores a peer for get_peers */
};

static void
random_id(uint64_t *rng, uint8_t id[20])
{
    for (int i = 0; i < 20; i += 4) {
        uint64_t r = rng_next(rng);
        memcpy(id + i, &r, 4);
    }
}

/* Node i lives at 10.0.(i >> 8).(i & 255):(1000 + i). */
static struct dht_addr
node_addr(size_t i)
{
    struct dht_addr a = {0};
    a.len = 4;
    a.ip[0] = 10;
    a.ip[2] = (uint8_t)(i >> 8);
    a.ip[3] = (uint8_t)i;
    a.port = (uint16_t)(1000 + i);
    return a;
}

static long
node_of(const struct fnet *n, const struct dht_addr *a)
{
    if (a->len != 4 || a->ip[0] != 10 || a->port < 1000 ||
        (size_t)(a->port - 1000) >= n->n)
        return -1;
    size_t i = (size_t)(a->port - 1000);
    return dht_addr_eq(&n->addr[i], a) ? (long)i : -1;
}

static struct fnet *
net_new(size_t count, uint64_t seed)
{
    struct fnet *n = calloc(1, sizeof(*n));
    assert_non_null(n);
    n->n = count;
    uint64_t rng = seed;
    for (size_t i = 0; i < count; i++) {
        random_id(&rng, n->id[i]);
        n->addr[i] = node_addr(i);
        n->delay[i] = 20 + (int32_t)(rng_next(&rng) % 200);
    }
    for (size_t i = 0; i < count; i++) {
        n->t[i] = dht_table_new(n->id[i], 4, 0, i);
        assert_non_null(n->t[i]);
        for (size_t j = 0; j < count; j++)
            if (j != i)
                dht_table_heard(n->t[i], n->id[j], &n->addr[j], DHT_HEARD_REPLY, 0);
    }
    return n;
}

static void
net_free(struct fnet *n)
{
    for (size_t i = 0; i < n->n; i++)
        dht_table_free(n->t[i]);
    free(n);
}

static const uint8_t *sort_target;
static const struct fnet *sort_net;

static int
by_dist(const void *a, const void *b)
{
    size_t i = *(const size_t *)a, j = *(const size_t *)b;
    return dht_id_cmp_dist(sort_target, sort_net->id[i], sort_net->id[j]);
}

/* The k live nodes truly closest to target. */
static size_t
truth(const struct fnet *n, const uint8_t target[20], size_t *out, size_t k)
{
    static size_t idx[NN];
    size_t m = 0;
    for (size_t i = 0; i < n->n; i++)
        if (!n->dead[i])
            idx[m++] = i;
    sort_target = target;
    sort_net = n;
    qsort(idx, m, sizeof(idx[0]), by_dist);
    size_t r = m < k ? m : k;
    memcpy(out, idx, r * sizeof(out[0]));
    return r;
}

/* Node i's answer to a lookup of `kind` for target. nodes_buf has room for
 * 8 compact nodes. */
static void
answer(const struct fnet *n, size_t i, int kind, const uint8_t target[20],
       struct krpc_msg *m, uint8_t *nodes_buf)
{
    krpc_response_init(m, (const uint8_t *)"aa", 2, n->id[i]);
    struct dht_table_entry e[8];
    size_t k = dht_table_closest(n->t[i], target, 0, 0, e, 8);
    for (size_t j = 0; j < k; j++)
        krpc_put_node(nodes_buf + j * KRPC_NODE4_LEN, e[j].id, e[j].addr.ip, 4,
                      e[j].addr.port);
    m->nodes.p = nodes_buf;
    m->nodes.len = k * KRPC_NODE4_LEN;
    m->has |= KRPC_HAS_NODES;
    if (kind == DHT_LOOKUP_GET_PEERS) {
        m->has |= KRPC_HAS_TOKEN;
        m->token_len = 4;
        memcpy(m->token, "tok", 3);
        m->token[3] = (uint8_t)i;
        if (n->holds[i]) {
            static const uint8_t ip[4] = {192, 0, 2, 0};
            uint8_t pip[4];
            memcpy(pip, ip, 4);
            pip[3] = (uint8_t)i;
            krpc_put_peer(m->values4[0], pip, 4, (uint16_t)(2000 + i));
            m->nvalues4 = 1;
            m->has |= KRPC_HAS_VALUES;
        }
    }
}

struct ev {
    int64_t at;
    uint32_t qid;
    size_t node;
};

struct run {
    int64_t now;
    uint32_t sends, fails, max_inflight;
    int done;
};

/* Drives lookup l over the network until it is done (or 100000 steps). */
static void
run_lookup(struct fnet *n, struct dht_lookup *l, struct run *r)
{
    static struct ev ev[4096];
    size_t nev = 0;
    uint32_t inflight = 0;
    memset(r, 0, sizeof(*r));
    for (int iter = 0; iter < 100000; iter++) {
        struct dht_lookup_action acts[8];
        int64_t wake;
        size_t k = dht_lookup_step(l, r->now, acts, 8, &wake);
        for (size_t i = 0; i < k; i++) {
            if (acts[i].act == DHT_LOOKUP_FAILED) {
                r->fails++;
                inflight--;
                continue;
            }
            assert_int_equal(acts[i].act, DHT_LOOKUP_SEND);
            r->sends++;
            inflight++;
            if (inflight > r->max_inflight)
                r->max_inflight = inflight;
            long node = node_of(n, &acts[i].addr);
            assert_true(node >= 0);
            if (acts[i].has_id)
                assert_memory_equal(acts[i].id, n->id[node], 20);
            if (n->dead[node])
                continue;
            assert_true(nev < sizeof(ev) / sizeof(ev[0]));
            ev[nev++] = (struct ev){r->now + n->delay[node], acts[i].qid, (size_t)node};
        }
        if (dht_lookup_done(l)) {
            r->done = 1;
            return;
        }
        int64_t next = wake;
        for (size_t i = 0; i < nev; i++)
            if (ev[i].at < next)
                next = ev[i].at;
        assert_true(next != INT64_MAX);
        if (next > r->now)
            r->now = next;
        for (size_t i = 0; i < nev;) {
            if (ev[i].at > r->now) {
                i++;
                continue;
            }
            struct krpc_msg m;
            uint8_t nodes[8 * KRPC_NODE4_LEN];
            answer(n, ev[i].node, dht_lookup_kind(l), dht_lookup_target(l), &m, nodes);
            struct dht_lookup_stats before;
            dht_lookup_stats(l, &before);
            int rc = dht_lookup_reply(l, ev[i].qid, &n->addr[ev[i].node], &m, r->now);
            assert_true(rc >= 0);
            struct dht_lookup_stats after;
            dht_lookup_stats(l, &after);
            /* A reply within its time frees an in-flight slot; a late one
             * had its slot freed by its timeout. */
            if (after.failures == before.failures)
                inflight--;
            ev[i] = ev[--nev];
        }
    }
    fail_msg("lookup did not finish");
}

static void
seed_from(struct fnet *n, struct dht_lookup *l, size_t from, const uint8_t target[20])
{
    struct dht_table_entry e[8];
    size_t k = dht_table_closest(n->t[from], target, 0, 0, e, 8);
    for (size_t i = 0; i < k; i++)
        assert_int_equal(dht_lookup_add(l, e[i].id, &e[i].addr), 1);
}

static void
check_found(struct fnet *n, struct dht_lookup *l, const uint8_t target[20])
{
    size_t want[8];
    size_t nw = truth(n, target, want, 8);
    /* Nodes slower than the timeout may or may not have replied before the
     * end: they are left out on both sides. */
    struct dht_lookup_responder got[DHT_LOOKUP_MAX_CANDIDATES];
    size_t ng = dht_lookup_responders(l, got, DHT_LOOKUP_MAX_CANDIDATES);
    size_t j = 0;
    for (size_t i = 0; i < ng && j < nw; i++) {
        long node = node_of(n, &got[i].addr);
        assert_true(node >= 0);
        assert_memory_equal(got[i].id, n->id[node], 20);
        if (n->delay[node] > DHT_LOOKUP_TIMEOUT_MS)
            continue;
        while (j < nw && n->delay[want[j]] > DHT_LOOKUP_TIMEOUT_MS)
            j++;
        if (j == nw)
            break;
        if (memcmp(got[i].id, n->id[want[j]], 20) != 0)
            fail_msg("responder %zu is node %ld, want node %zu", i, node, want[j]);
        j++;
    }
    while (j < nw && n->delay[want[j]] > DHT_LOOKUP_TIMEOUT_MS)
        j++;
    assert_int_equal(j, nw);
}

static struct fnet *the_net;

static int
setup(void **state)
{
    (void)state;
    the_net = net_new(NN, 12345);
    return 0;
}

static int
teardown(void **state)
{
    (void)state;
    net_free(the_net);
    return 0;
}

static int
cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

static void
test_find_node_converges(void **state)
{
    (void)state;
    struct fnet *n = the_net;
    uint64_t rng = 1;
    enum { ROUNDS = 100 };
    uint32_t rt[ROUNDS], q[ROUNDS];
    for (int round = 0; round < ROUNDS; round++) {
        uint8_t target[20];
        random_id(&rng, target);
        size_t from = (size_t)(rng_next(&rng) % n->n);
        struct dht_lookup *l = dht_lookup_new(DHT_LOOKUP_FIND_NODE, target, 4, 0);
        assert_non_null(l);
        seed_from(n, l, from, target);
        struct run r;
        run_lookup(n, l, &r);
        assert_true(r.done);
        assert_true(r.max_inflight <= DHT_LOOKUP_ALPHA);
        check_found(n, l, target);
        struct dht_lookup_stats st;
        dht_lookup_stats(l, &st);
        assert_int_equal(st.queries, r.sends);
        assert_int_equal(st.failures, 0);
        assert_true(st.queries <= DHT_LOOKUP_MAX_QUERIES);
        assert_true(st.finished_ms > 0);
        rt[round] = st.round_trips;
        q[round] = st.queries;
        dht_lookup_free(l);
    }
    qsort(rt, ROUNDS, sizeof(rt[0]), cmp_u32);
    qsort(q, ROUNDS, sizeof(q[0]), cmp_u32);
    print_message(
        "find_node over %d nodes: queries median %u p95 %u, round trips median %u "
        "p95 %u (log2 N = 10)\n",
        NN, q[ROUNDS / 2], q[ROUNDS * 95 / 100], rt[ROUNDS / 2], rt[ROUNDS * 95 / 100]);
    /* The goal, log2(N) / 2 round trips at the median, holds with
     * room to spare when every node's table is complete. */
    assert_true(rt[ROUNDS / 2] <= 5);
}

static void
test_dead_and_slow_nodes(void **state)
{
    (void)state;
    struct fnet *n = net_new(NN, 777);
    uint64_t rng = 2;
    /* A fifth of the nodes are dead, and the others' tables have noticed
     * (three failures each: bad, left out of answers); a tenth answer
     * after the timeout. */
    for (size_t i = 0; i < n->n; i++) {
        uint64_t r = rng_next(&rng) % 10;
        n->dead[i] = r < 2;
        if (r == 2)
            n->delay[i] = DHT_LOOKUP_TIMEOUT_MS + 500;
    }
    for (size_t i = 0; i < n->n; i++)
        for (size_t j = 0; j < n->n; j++)
            if (n->dead[j] && j != i)
                for (int f = 0; f < DHT_TABLE_BAD_FAILURES; f++)
                    dht_table_failed(n->t[i], n->id[j], &n->addr[j], 0);
    uint32_t late = 0;
    for (int round = 0; round < 30; round++) {
        uint8_t target[20];
        random_id(&rng, target);
        size_t from;
        do
            from = (size_t)(rng_next(&rng) % n->n);
        while (n->dead[from]);
        struct dht_lookup *l = dht_lookup_new(DHT_LOOKUP_FIND_NODE, target, 4, 0);
        seed_from(n, l, from, target);
        /* Seeds from an older view of the network: some are dead. */
        for (size_t i = 0; i < 4; i++)
            dht_lookup_add(l, n->id[i], &n->addr[i]);
        struct run r;
        run_lookup(n, l, &r);
        assert_true(r.done);
        check_found(n, l, target);
        struct dht_lookup_stats st;
        dht_lookup_stats(l, &st);
        /* Every timed-out query that later replied was taken back. */
        assert_true(st.failures <= r.fails);
        late += r.fails - st.failures;
        dht_lookup_free(l);
    }
    assert_true(late > 0);
    net_free(n);
}

static void
test_get_peers(void **state)
{
    (void)state;
    struct fnet *n = the_net;
    uint8_t target[20];
    uint64_t rng = 3;
    random_id(&rng, target);
    size_t close[8];
    truth(n, target, close, 8);
    for (size_t i = 0; i < 8; i++)
        n->holds[close[i]] = 1;
    struct dht_lookup *l = dht_lookup_new(DHT_LOOKUP_GET_PEERS, target, 4, 0);
    seed_from(n, l, n->n / 2, target);
    struct run r;
    run_lookup(n, l, &r);
    check_found(n, l, target);
    size_t np;
    const struct dht_addr *p = dht_lookup_peers(l, &np);
    assert_int_equal(np, 8);
    for (size_t i = 0; i < np; i++) {
        assert_int_equal(p[i].ip[0], 192);
        size_t who = p[i].ip[3];
        int found = 0;
        for (size_t j = 0; j < 8; j++)
            found |= (close[j] & 255) == who && p[i].port == 2000 + close[j];
        assert_true(found);
    }
    /* The responders come with the tokens they gave. */
    struct dht_lookup_responder resp[8];
    assert_int_equal(dht_lookup_responders(l, resp, 8), 8);
    for (size_t i = 0; i < 8; i++) {
        assert_int_equal(resp[i].token_len, 4);
        assert_memory_equal(resp[i].token, "tok", 3);
        assert_int_equal(resp[i].token[3], (uint8_t)close[i]);
        assert_true(dht_addr_eq(&resp[i].addr, &n->addr[close[i]]));
    }
    for (size_t i = 0; i < 8; i++)
        n->holds[close[i]] = 0;
    dht_lookup_free(l);
}

static void
test_bootstrap_by_address(void **state)
{
    (void)state;
    struct fnet *n = the_net;
    uint8_t target[20];
    uint64_t rng = 4;
    random_id(&rng, target);
    struct dht_lookup *l = dht_lookup_new(DHT_LOOKUP_FIND_NODE, target, 4, 0);
    /* Only addresses, as the routers are known; duplicates are refused. */
    for (size_t i = 0; i < 3; i++)
        assert_int_equal(dht_lookup_add(l, NULL, &n->addr[i * 100]), 1);
    assert_int_equal(dht_lookup_add(l, NULL, &n->addr[0]), 0);
    assert_int_equal(dht_lookup_add(l, n->id[7], &n->addr[0]), 0);
    struct dht_addr v6 = {.len = 16, .port = 1};
    assert_int_equal(dht_lookup_add(l, NULL, &v6), 0);
    struct run r;
    run_lookup(n, l, &r);
    check_found(n, l, target);
    dht_lookup_free(l);
}

static void
test_timeouts_and_alpha(void **state)
{
    (void)state;
    uint8_t target[20] = {0};
    struct dht_lookup *l = dht_lookup_new(DHT_LOOKUP_FIND_NODE, target, 4, 100);
    for (uint32_t i = 0; i < 5; i++) {
        uint8_t id[20] = {0};
        id[0] = (uint8_t)(i + 1);
        struct dht_addr a = node_addr(i);
        assert_int_equal(dht_lookup_add(l, id, &a), 1);
    }
    struct dht_lookup_action acts[8];
    int64_t wake;
    /* Alpha queries go out, closest first, then it waits. */
    assert_int_equal(dht_lookup_step(l, 100, acts, 8, &wake), DHT_LOOKUP_ALPHA);
    for (size_t i = 0; i < DHT_LOOKUP_ALPHA; i++) {
        assert_int_equal(acts[i].act, DHT_LOOKUP_SEND);
        assert_int_equal(acts[i].id[0], i + 1);
    }
    assert_int_equal(wake, 100 + DHT_LOOKUP_TIMEOUT_MS);
    assert_int_equal(dht_lookup_step(l, 101, acts, 8, &wake), 0);
    /* One step returns as many actions as fit; the rest come next. */
    assert_int_equal(dht_lookup_step(l, 100 + DHT_LOOKUP_TIMEOUT_MS, acts, 2, &wake), 2);
    assert_int_equal(acts[0].act, DHT_LOOKUP_FAILED);
    assert_int_equal(acts[1].act, DHT_LOOKUP_FAILED);
    size_t k = dht_lookup_step(l, 100 + DHT_LOOKUP_TIMEOUT_MS, acts, 8, &wake);
    assert_int_equal(k, 3); /* the third timeout, then the two left */
    assert_int_equal(acts[0].act, DHT_LOOKUP_FAILED);
    assert_int_equal(acts[1].act, DHT_LOOKUP_SEND);
    assert_int_equal(acts[2].act, DHT_LOOKUP_SEND);
    /* Nobody answers: the lookup gives up when nothing is left. */
    k = dht_lookup_step(l, 200 + 2 * DHT_LOOKUP_TIMEOUT_MS, acts, 8, &wake);
    assert_int_equal(k, 2);
    assert_true(dht_lookup_done(l));
    assert_int_equal(wake, INT64_MAX);
    struct dht_lookup_stats st;
    dht_lookup_stats(l, &st);
    assert_int_equal(st.queries, 5);
    assert_int_equal(st.failures, 5);
    assert_int_equal(st.replies, 0);
    assert_int_equal(st.round_trips, 1);
    struct dht_lookup_responder resp[8];
    assert_int_equal(dht_lookup_responders(l, resp, 8), 0);
    dht_lookup_free(l);
}

static void
test_hostile_replies(void **state)
{
    (void)state;
    uint8_t target[20] = {0};
    struct dht_lookup *l = dht_lookup_new(DHT_LOOKUP_GET_PEERS, target, 4, 0);
    uint8_t id0[20];
    memset(id0, 0x40, 20);
    struct dht_addr a0 = node_addr(0), a1 = node_addr(1);
    assert_int_equal(dht_lookup_add(l, id0, &a0), 1);
    struct dht_lookup_action acts[8];
    int64_t wake;
    assert_int_equal(dht_lookup_step(l, 0, acts, 8, &wake), 1);
    uint32_t qid = acts[0].qid;

    struct krpc_msg m;
    static uint8_t nodes[1000 * KRPC_NODE4_LEN];
    krpc_response_init(&m, (const uint8_t *)"aa", 2, id0);
    /* From an address we did not query, or with a query number we never
     * used: ignored. */
    assert_int_equal(dht_lookup_reply(l, qid, &a1, &m, 10), SHOAL_EINVAL);
    assert_int_equal(dht_lookup_reply(l, qid + 7, &a0, &m, 10), SHOAL_EINVAL);
    assert_int_equal(dht_lookup_reply(l, 0, &a0, &m, 10), SHOAL_EINVAL);
    assert_int_equal(dht_lookup_error(l, qid, &a1, 10), SHOAL_EINVAL);
    /* An error type is not a response. */
    struct krpc_msg e;
    krpc_error_init(&e, (const uint8_t *)"aa", 2, 201, "x");
    assert_int_equal(dht_lookup_reply(l, qid, &a0, &e, 10), SHOAL_EINVAL);

    /* The real reply names one node 1000 times and a flood of 1000 peers
     * that are all one peer. */
    uint8_t nid[20];
    memset(nid, 0x20, 20);
    for (size_t i = 0; i < 1000; i++)
        krpc_put_node(nodes + i * KRPC_NODE4_LEN, nid, a1.ip, 4, a1.port);
    m.nodes.p = nodes;
    m.nodes.len = 1000 * KRPC_NODE4_LEN;
    m.has |= KRPC_HAS_NODES | KRPC_HAS_VALUES;
    static const uint8_t pip[4] = {192, 0, 2, 1};
    for (size_t i = 0; i < KRPC_MAX_VALUES; i++)
        krpc_put_peer(m.values4[i], pip, 4, 7000);
    m.nvalues4 = KRPC_MAX_VALUES;
    assert_int_equal(dht_lookup_reply(l, qid, &a0, &m, 10), 1);
    struct dht_lookup_stats st;
    dht_lookup_stats(l, &st);
    assert_int_equal(st.candidates, 2);
    assert_int_equal(st.peers, 1);
    /* The same reply again: already answered. */
    assert_int_equal(dht_lookup_reply(l, qid, &a0, &m, 11), SHOAL_EINVAL);

    /* The next node answers with another id than the one it was named
     * with: its query failed, what it says is not used. */
    assert_int_equal(dht_lookup_step(l, 20, acts, 8, &wake), 1);
    assert_memory_equal(acts[0].id, nid, 20);
    uint8_t liar[20];
    memset(liar, 0x01, 20);
    krpc_response_init(&m, (const uint8_t *)"aa", 2, liar);
    for (size_t i = 0; i < 1000; i++) {
        uint8_t fid[20];
        memset(fid, 0, 20);
        fid[18] = (uint8_t)(i >> 8);
        fid[19] = (uint8_t)i;
        struct dht_addr fa = node_addr(2 + i % 900);
        fa.ip[1] = (uint8_t)(1 + i / 900);
        krpc_put_node(nodes + i * KRPC_NODE4_LEN, fid, fa.ip, 4, fa.port);
    }
    m.nodes.p = nodes;
    m.nodes.len = 1000 * KRPC_NODE4_LEN;
    m.has |= KRPC_HAS_NODES;
    assert_int_equal(dht_lookup_reply(l, acts[0].qid, &acts[0].addr, &m, 30), 0);
    dht_lookup_stats(l, &st);
    assert_int_equal(st.candidates, 2);
    assert_int_equal(st.failures, 1);

    /* A thousand distinct fake nodes from a real reply: the candidate list
     * stays at its cap, and the lookup is not over. */
    uint8_t id2[20];
    memset(id2, 0x30, 20);
    struct dht_lookup *l2 = dht_lookup_new(DHT_LOOKUP_FIND_NODE, target, 4, 0);
    struct dht_addr a2 = node_addr(950);
    a2.ip[1] = 200;
    assert_int_equal(dht_lookup_add(l2, id2, &a2), 1);
    assert_int_equal(dht_lookup_step(l2, 0, acts, 8, &wake), 1);
    krpc_response_init(&m, (const uint8_t *)"aa", 2, id2);
    m.nodes.p = nodes;
    m.nodes.len = 1000 * KRPC_NODE4_LEN;
    m.has |= KRPC_HAS_NODES;
    assert_int_equal(dht_lookup_reply(l2, acts[0].qid, &a2, &m, 5), 0);
    dht_lookup_stats(l2, &st);
    assert_int_equal(st.candidates, DHT_LOOKUP_MAX_CANDIDATES);
    assert_false(dht_lookup_done(l2));
    /* Those fakes are queried and time out; the lookup ends once they
     * have, within its query cap, without a reply it can trust. */
    int64_t now = 5;
    for (int i = 0; i < 1000 && !dht_lookup_done(l2); i++) {
        dht_lookup_step(l2, now, acts, 8, &wake);
        if (!dht_lookup_done(l2))
            now = wake;
    }
    assert_true(dht_lookup_done(l2));
    dht_lookup_stats(l2, &st);
    assert_true(st.queries <= DHT_LOOKUP_MAX_QUERIES);
    assert_int_equal(st.replies, 1);
    assert_true(st.candidates <= DHT_LOOKUP_MAX_CANDIDATES);
    dht_lookup_free(l2);
    dht_lookup_free(l);
}

static void
test_endless_chain_hits_query_cap(void **state)
{
    (void)state;
    /* Every node answers with a node a little closer than itself: the
     * lookup would never converge; the query cap ends it. */
    uint8_t target[20];
    memset(target, 0xff, 20);
    struct dht_lookup *l = dht_lookup_new(DHT_LOOKUP_FIND_NODE, target, 4, 0);
    uint8_t id[20] = {0};
    struct dht_addr a = node_addr(0);
    a.ip[1] = 0;
    assert_int_equal(dht_lookup_add(l, id, &a), 1);
    int64_t now = 0;
    uint32_t serial = 0;
    for (int iter = 0; iter < 10000 && !dht_lookup_done(l); iter++) {
        struct dht_lookup_action acts[8];
        int64_t wake;
        size_t k = dht_lookup_step(l, now, acts, 8, &wake);
        for (size_t i = 0; i < k; i++) {
            if (acts[i].act != DHT_LOOKUP_SEND)
                continue;
            struct krpc_msg m;
            uint8_t nodes[3 * KRPC_NODE4_LEN];
            krpc_response_init(&m, (const uint8_t *)"aa", 2, acts[i].id);
            for (size_t j = 0; j < 3; j++) {
                serial++;
                /* target XOR (2^32 - 1 - serial): closer with every
                 * serial. */
                uint8_t nid[20];
                memset(nid, 0xff, 20);
                uint32_t d = 0xffffffffu - serial;
                for (int b = 0; b < 4; b++)
                    nid[16 + b] = (uint8_t) ~(d >> (24 - 8 * b));
                struct dht_addr na = node_addr(serial % 900);
                na.ip[1] = (uint8_t)(serial / 900 + 1);
                krpc_put_node(nodes + j * KRPC_NODE4_LEN, nid, na.ip, 4, na.port);
            }
            m.nodes.p = nodes;
            m.nodes.len = sizeof(nodes);
            m.has |= KRPC_HAS_NODES;
            assert_true(dht_lookup_reply(l, acts[i].qid, &acts[i].addr, &m, now) >= 0);
        }
        now += 10;
    }
    assert_true(dht_lookup_done(l));
    struct dht_lookup_stats st;
    dht_lookup_stats(l, &st);
    assert_int_equal(st.queries, DHT_LOOKUP_MAX_QUERIES);
    assert_true(st.candidates <= DHT_LOOKUP_MAX_CANDIDATES);
    dht_lookup_free(l);
}

static void
test_samples(void **state)
{
    (void)state;
    uint8_t target[20] = {0}, id[20];
    memset(id, 0x10, 20);
    struct dht_lookup *l = dht_lookup_new(DHT_LOOKUP_SAMPLE_INFOHASHES, target, 4, 0);
    struct dht_addr a = node_addr(3);
    assert_int_equal(dht_lookup_add(l, id, &a), 1);
    struct dht_lookup_action acts[4];
    int64_t wake;
    assert_int_equal(dht_lookup_step(l, 0, acts, 4, &wake), 1);
    struct krpc_msg m;
    uint8_t samples[30 * 20];
    for (size_t i = 0; i < 30; i++) {
        memset(samples + i * 20, 0, 20);
        samples[i * 20] = (uint8_t)(i % 25); /* 5 repeats */
    }
    krpc_response_init(&m, (const uint8_t *)"aa", 2, id);
    m.samples.p = samples;
    m.samples.len = sizeof(samples);
    m.has |= KRPC_HAS_SAMPLES | KRPC_HAS_NUM | KRPC_HAS_INTERVAL;
    m.num = 30;
    assert_int_equal(dht_lookup_reply(l, acts[0].qid, &a, &m, 1), 0);
    size_t n;
    const uint8_t *s = dht_lookup_samples(l, &n);
    assert_int_equal(n, 25);
    assert_int_equal(s[24 * 20], 24);
    dht_lookup_free(l);
}

static void
test_self_is_never_a_candidate(void **state)
{
    (void)state;
    uint8_t target[20] = {0}, self[20], other[20];
    memset(self, 0x01, 20);
    memset(other, 0x02, 20);
    struct dht_lookup *l = dht_lookup_new(DHT_LOOKUP_FIND_NODE, target, 4, 0);
    dht_lookup_set_self(l, self);
    struct dht_addr a = node_addr(1), b = node_addr(2), c = node_addr(3);
    assert_int_equal(dht_lookup_add(l, self, &a), 0);
    assert_int_equal(dht_lookup_add(l, other, &b), 1);
    struct dht_lookup_action acts[4];
    int64_t wake;
    assert_int_equal(dht_lookup_step(l, 0, acts, 4, &wake), 1);
    /* The reply names us (closest of all to the target) and nobody else. */
    uint8_t nodes[KRPC_NODE4_LEN];
    krpc_put_node(nodes, self, c.ip, 4, c.port);
    struct krpc_msg m;
    krpc_response_init(&m, (const uint8_t *)"aa", 2, other);
    m.nodes.p = nodes;
    m.nodes.len = sizeof(nodes);
    m.has |= KRPC_HAS_NODES;
    assert_int_equal(dht_lookup_reply(l, acts[0].qid, &b, &m, 5), 0);
    assert_int_equal(dht_lookup_step(l, 5, acts, 4, &wake), 0);
    assert_true(dht_lookup_done(l));
    struct dht_lookup_stats st;
    dht_lookup_stats(l, &st);
    assert_int_equal(st.candidates, 1);
    assert_int_equal(st.queries, 1);
    dht_lookup_free(l);
}

static void
test_bad_arguments(void **state)
{
    (void)state;
    uint8_t t[20] = {0};
    assert_null(dht_lookup_new(7, t, 4, 0));
    assert_null(dht_lookup_new(DHT_LOOKUP_FIND_NODE, t, 5, 0));
    struct dht_lookup *l = dht_lookup_new(DHT_LOOKUP_FIND_NODE, t, 6, 0);
    struct dht_addr a = node_addr(1);
    assert_int_equal(dht_lookup_add(l, NULL, &a), 0); /* IPv4 into an IPv6 lookup */
    struct dht_lookup_action acts[2];
    int64_t wake;
    /* Nothing to ask: done at once. */
    assert_int_equal(dht_lookup_step(l, 0, acts, 2, &wake), 0);
    assert_true(dht_lookup_done(l));
    dht_lookup_free(l);
    dht_lookup_free(NULL);
    alloc_fail_after(0);
    assert_null(dht_lookup_new(DHT_LOOKUP_FIND_NODE, t, 4, 0));
    alloc_fail_after(-1);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_find_node_converges),
        cmocka_unit_test(test_dead_and_slow_nodes),
        cmocka_unit_test(test_get_peers),
        cmocka_unit_test(test_bootstrap_by_address),
        cmocka_unit_test(test_timeouts_and_alpha),
        cmocka_unit_test(test_hostile_replies),
        cmocka_unit_test(test_endless_chain_hits_query_cap),
        cmocka_unit_test(test_samples),
        cmocka_unit_test(test_self_is_never_a_candidate),
        cmocka_unit_test(test_bad_arguments),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
