/*
 * dht_sim.c — many shoal DHT nodes in one process, each on a loopback
 * address of its own (127.1.x.y; all of 127.0.0.0/8 is local on Linux), on
 * one event loop: they join through one bootstrap node, some announce
 * torrents, and lookups from random other nodes must find them. Prints the
 * median and 95th percentile of queries and round trips per lookup beside
 * log2(N).
 *
 *   dht_sim [--nodes N] [--announces A] [--lookups L] [--assert] [--seed S]
 *
 * With --assert it exits 1 unless every announce reached some node, every
 * lookup found its peer, and the median round trips are at most log2(N)/2.
 * Real sockets and the real clock: the nodes are the session's dht.c, only
 * without sessions around them.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include <event2/event.h>

#include "base/clock.h"
#include "base/rng.h"
#include "base/sockaddr.h"
#include "session/dht.h"
#include "session/hooks.h"
#include "session/udp.h"

/* Nodes started per wave while the network grows. */
#define SIM_WAVE 50
/* Lookups in flight at once. */
#define SIM_PARALLEL 100
/* Longest any phase may run, in ms. */
#define SIM_PHASE_MS 120000

struct node {
    struct udp_mux *u;
    struct dht *d;
    struct hooks h;
    uint64_t rng;
    struct sockaddr_storage sa;
};

struct lookup {
    int target;   /* index of the announce looked up */
    int found;    /* the announcer's address came back */
    int done;
    struct dht_search_stats st;
};

struct announce {
    int node;
    uint8_t ih[DHT_ID_LEN];
    uint16_t port;
    int done;
    struct dht_search_stats st;
};

static struct event_base *base;
static struct node *nodes;
static struct announce *ann;
static uint64_t sim_rng;

static uint64_t
now_ms(void *ctx)
{
    (void)ctx;
    return clock_now_ms();
}

static uint64_t
rand64(void *ctx)
{
    return rng_next(&((struct node *)ctx)->rng);
}

static void
log_line(void *ctx, const char *msg)
{
    (void)ctx;
    (void)msg;
}

static void
no_peers(void *ctx, const uint8_t ih[20], enum peer_source src,
         const struct sockaddr_storage *peers, size_t n)
{
    (void)ctx;
    (void)ih;
    (void)src;
    (void)peers;
    (void)n;
}

static void
no_emit(void *ctx, const uint8_t ih[20], enum shoal_event_type type, const char *msg)
{
    (void)ctx;
    (void)ih;
    (void)type;
    (void)msg;
}

static int
start_node(size_t i)
{
    struct node *n = &nodes[i];
    char ip[32];
    snprintf(ip, sizeof(ip), "127.1.%zu.%zu", i / 250, i % 250 + 1);
    socklen_t len;
    sockaddr_from_ip(ip, 0, &n->sa, &len);
    int rc = udp_mux_new_at(base, 1, (struct sockaddr *)&n->sa, &n->u);
    if (rc) {
        fprintf(stderr, "dht_sim: cannot bind %s: %s\n", ip, shoal_strerror(rc));
        return -1;
    }
    sockaddr_set_port((struct sockaddr *)&n->sa, (uint16_t)udp_port(n->u, AF_INET));
    n->rng = rng_next(&sim_rng) | 1;
    n->h = (struct hooks){.ctx = n,
                          .on_peers = no_peers,
                          .now_ms = now_ms,
                          .rand64 = rand64,
                          .log = log_line,
                          .emit = no_emit};
    static const char *const none[] = {NULL};
    struct dht_cfg c = {.base = base, .udp = n->u, .h = &n->h, .local_only = 1,
                        .bootstrap = none};
    rc = dht_new(&c, &n->d);
    if (rc) {
        fprintf(stderr, "dht_sim: node %zu: %s\n", i, shoal_strerror(rc));
        return -1;
    }
    return 0;
}

/* Runs the loop until cond(arg) or the phase's time is up. Returns 1 when
 * cond came true. */
static int
run_until(int (*cond)(void *), void *arg, uint64_t ms)
{
    uint64_t end = clock_now_ms() + ms;
    while (!cond(arg)) {
        if (clock_now_ms() > end)
            return 0;
        struct timeval tv = {0, 20000};
        event_base_loopexit(base, &tv);
        event_base_loop(base, 0);
    }
    return 1;
}

struct span {
    size_t from, to;
};

static int
joined(void *arg)
{
    struct span *s = arg;
    for (size_t i = s->from; i < s->to; i++) {
        struct dht_info in;
        dht_info(nodes[i].d, &in);
        if (in.searches > 0)
            return 0;
    }
    return 1;
}

static int
never(void *arg)
{
    (void)arg;
    return 0;
}

static void
ann_done(void *user, const struct dht_search_stats *st)
{
    struct announce *a = user;
    a->st = *st;
    a->done = 1;
}

static struct lookup *lookups;

static void
lk_peers(void *user, const struct sockaddr_storage *peers, size_t n)
{
    struct lookup *l = user;
    const struct announce *a = &ann[l->target];
    const struct sockaddr_in *want = (const struct sockaddr_in *)&nodes[a->node].sa;
    for (size_t i = 0; i < n; i++) {
        const struct sockaddr_in *p = (const struct sockaddr_in *)&peers[i];
        if (p->sin_family == AF_INET && p->sin_addr.s_addr == want->sin_addr.s_addr &&
            ntohs(p->sin_port) == a->port)
            l->found = 1;
    }
}

static void
lk_done(void *user, const struct dht_search_stats *st)
{
    struct lookup *l = user;
    l->st = *st;
    l->done = 1;
}

static const uint8_t *rank_target;

static int
cmp_dist(const void *a, const void *b)
{
    struct dht_info x, y;
    dht_info(nodes[*(const int *)a].d, &x);
    dht_info(nodes[*(const int *)b].d, &y);
    return dht_id_cmp_dist(rank_target, x.id, y.id);
}

/* For each lookup that missed (DHT_SIM_DEBUG=1): which of the 12 nodes
 * closest to the target hold the peer, and the ranks of all that do. */
static void
explain_misses(size_t N, size_t L)
{
    int *order = calloc(N, sizeof(int));
    for (size_t i = 0; i < L; i++) {
        if (lookups[i].found)
            continue;
        const struct announce *a = &ann[lookups[i].target];
        for (size_t k = 0; k < N; k++)
            order[k] = (int)k;
        rank_target = a->ih;
        qsort(order, N, sizeof(int), cmp_dist);
        printf("miss %zu (queries %u):", i, lookups[i].st.queries);
        for (size_t k = 0; k < 12; k++)
            printf(" %c", dht_stored(nodes[order[k]].d, a->ih) ? 'H' : '.');
        size_t holders = 0;
        for (size_t k = 0; k < N; k++)
            if (dht_stored(nodes[order[k]].d, a->ih) > 0) {
                holders++;
                printf(" r%zu", k);
            }
        printf(" holders %zu announced %u\n", holders, a->st.announced);
    }
    uint64_t bad = 0;
    for (size_t k = 0; k < N; k++) {
        struct dht_info in;
        dht_info(nodes[k].d, &in);
        bad += in.bad_tokens;
    }
    printf("bad tokens %llu\n", (unsigned long long)bad);
    free(order);
}

static int
cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

/* The p-th percentile (0..100) of v[0..n), sorted in place. */
static uint32_t
pct(uint32_t *v, size_t n, int p)
{
    qsort(v, n, sizeof(*v), cmp_u32);
    size_t i = (n * (size_t)p + 99) / 100;
    return v[i ? i - 1 : 0];
}

int
main(int argc, char **argv)
{
    size_t N = 1000, A = 200, L = 1000;
    int do_assert = 0;
    sim_rng = 0x5eed5eed;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--nodes") && i + 1 < argc)
            N = strtoul(argv[++i], NULL, 10);
        else if (!strcmp(argv[i], "--announces") && i + 1 < argc)
            A = strtoul(argv[++i], NULL, 10);
        else if (!strcmp(argv[i], "--lookups") && i + 1 < argc)
            L = strtoul(argv[++i], NULL, 10);
        else if (!strcmp(argv[i], "--seed") && i + 1 < argc)
            sim_rng = strtoull(argv[++i], NULL, 10);
        else if (!strcmp(argv[i], "--assert"))
            do_assert = 1;
        else {
            fprintf(stderr, "usage: dht_sim [--nodes N] [--announces A] [--lookups L] "
                            "[--seed S] [--assert]\n");
            return 2;
        }
    }
    if (N < 10 || N > 60000 || A == 0 || A >= N || L == 0) {
        fprintf(stderr, "dht_sim: need 10 <= nodes <= 60000, 0 < announces < nodes\n");
        return 2;
    }
    struct rlimit rl;
    getrlimit(RLIMIT_NOFILE, &rl);
    if (rl.rlim_cur < N + 64) {
        rl.rlim_cur = N + 64 < rl.rlim_max ? N + 64 : rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
        if (rl.rlim_cur < N + 64) {
            printf("SKIP: %zu nodes need %zu descriptors; the limit is %llu\n", N, N + 64,
                   (unsigned long long)rl.rlim_max);
            return 0;
        }
    }
    base = event_base_new();
    nodes = calloc(N, sizeof(*nodes));
    ann = calloc(A, sizeof(*ann));
    lookups = calloc(L, sizeof(*lookups));
    if (!base || !nodes || !ann || !lookups)
        return 1;
    uint64_t t0 = clock_now_ms();

    /* Join: node 0 alone, then waves that bootstrap from it. */
    if (start_node(0) != 0)
        return 1;
    for (size_t w = 1; w < N; w += SIM_WAVE) {
        struct span s = {w, w + SIM_WAVE < N ? w + SIM_WAVE : N};
        for (size_t i = s.from; i < s.to; i++) {
            if (start_node(i) != 0)
                return 1;
            dht_add_node(nodes[i].d, (struct sockaddr *)&nodes[0].sa);
        }
        run_until(joined, &s, SIM_PHASE_MS);
    }
    size_t total = 0;
    uint64_t qout = 0, rin = 0, limited = 0, dropped = 0, qin = 0, rout = 0;
    for (size_t i = 0; i < N; i++) {
        struct dht_info in;
        dht_info(nodes[i].d, &in);
        total += in.nodes[0];
        qout += in.queries_out;
        rin += in.replies_in;
        qin += in.queries_in;
        rout += in.replies_out;
        limited += in.rate_limited;
        dropped += in.dropped;
    }
    if (getenv("DHT_SIM_DEBUG"))
        printf("queries out %llu, replies in %llu, queries in %llu, replies out %llu, "
               "limited %llu, dropped %llu\n",
               (unsigned long long)qout, (unsigned long long)rin, (unsigned long long)qin,
               (unsigned long long)rout, (unsigned long long)limited,
               (unsigned long long)dropped);
    uint64_t t1 = clock_now_ms();
    printf("dht sim: %zu nodes joined in %.1f s, %.1f nodes per table on average\n", N,
           (t1 - t0) / 1000.0, (double)total / (double)N);

    /* Announces from A distinct random nodes. */
    for (size_t j = 0; j < A; j++) {
        int again;
        do {
            ann[j].node = (int)(rng_next(&sim_rng) % N);
            again = 0;
            for (size_t k = 0; k < j; k++)
                again |= ann[k].node == ann[j].node;
        } while (again);
        for (size_t b = 0; b < DHT_ID_LEN; b++)
            ann[j].ih[b] = (uint8_t)rng_next(&sim_rng);
        ann[j].port = (uint16_t)(10000 + j);
        struct dht_search_cb cb = {NULL, ann_done, &ann[j]};
        if (dht_search(nodes[ann[j].node].d, ann[j].ih, ann[j].port, &cb) != 0) {
            fprintf(stderr, "dht_sim: announce %zu could not start\n", j);
            return 1;
        }
    }
    int annok = 1;
    uint64_t end = clock_now_ms() + SIM_PHASE_MS;
    for (;;) {
        size_t left = 0;
        for (size_t j = 0; j < A; j++)
            left += !ann[j].done;
        if (!left || clock_now_ms() > end)
            break;
        struct timeval tv = {0, 20000};
        event_base_loopexit(base, &tv);
        event_base_loop(base, 0);
    }
    size_t announced = 0;
    for (size_t j = 0; j < A; j++)
        announced += ann[j].done && ann[j].st.announced > 0;
    /* Let the announce_peer queries land. */
    run_until(never, NULL, 300);
    uint64_t t2 = clock_now_ms();
    printf("dht sim: %zu of %zu announces reached nodes in %.1f s\n", announced, A,
           (t2 - t1) / 1000.0);
    if (announced < A)
        annok = 0;

    /* Lookups from random nodes other than the announcer, SIM_PARALLEL at
     * a time. */
    size_t started = 0, finished = 0;
    end = clock_now_ms() + SIM_PHASE_MS;
    while (finished < L && clock_now_ms() < end) {
        while (started < L && started - finished < SIM_PARALLEL) {
            struct lookup *l = &lookups[started];
            l->target = (int)(rng_next(&sim_rng) % A);
            int from;
            do
                from = (int)(rng_next(&sim_rng) % N);
            while (from == ann[l->target].node);
            struct dht_search_cb cb = {lk_peers, lk_done, l};
            if (dht_search(nodes[from].d, ann[l->target].ih, 0, &cb) != 0)
                break; /* that node is busy: try again after a round */
            started++;
        }
        struct timeval tv = {0, 20000};
        event_base_loopexit(base, &tv);
        event_base_loop(base, 0);
        finished = 0;
        for (size_t i = 0; i < started; i++)
            finished += lookups[i].done;
    }
    uint64_t t3 = clock_now_ms();
    size_t found = 0;
    uint32_t *q = calloc(L, sizeof(uint32_t)), *rt = calloc(L, sizeof(uint32_t));
    if (!q || !rt)
        return 1;
    for (size_t i = 0; i < L; i++) {
        found += lookups[i].found;
        q[i] = lookups[i].st.queries;
        rt[i] = lookups[i].st.round_trips;
    }
    if (getenv("DHT_SIM_DEBUG"))
        explain_misses(N, L);
    double lg = log2((double)N);
    uint32_t qmed = pct(q, L, 50), q95 = pct(q, L, 95);
    uint32_t rmed = pct(rt, L, 50), r95 = pct(rt, L, 95);
    printf("dht sim: %zu lookups in %.1f s: %zu found their peer (%.1f%%)\n", L,
           (t3 - t2) / 1000.0, found, 100.0 * (double)found / (double)L);
    printf("dht sim: queries per lookup: median %u, p95 %u\n", qmed, q95);
    printf("dht sim: round trips per lookup: median %u, p95 %u; log2(N) = %.2f, "
           "goal: median <= %.2f\n",
           rmed, r95, lg, lg / 2);

    for (size_t i = 0; i < N; i++) {
        dht_free(nodes[i].d);
        udp_mux_free(nodes[i].u);
    }
    event_base_free(base);
    free(nodes);
    free(ann);
    free(lookups);
    free(q);
    free(rt);
    if (!do_assert)
        return 0;
    int ok = annok && found == L && rmed <= lg / 2;
    printf("dht sim: %s\n", ok ? "PASS" : "FAIL");
    return ok ? 0 : 1;
}
