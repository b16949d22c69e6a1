/*
 * dht_lookup.c — one iterative Kademlia lookup (BEP 5) as a state machine.
 * Engine layer, sans-I/O: it must not touch a socket or read the clock;
 * the node sends what dht_lookup_step() asks for and reports what came
 * back. Everything it holds is capped: candidates, peers, samples, queries.
 *
 * Candidates sit in one array sorted by XOR distance to the target (those
 * of unknown id, bootstrap addresses, at the end in the order they came).
 * The array is small (DHT_LOOKUP_MAX_CANDIDATES), so every operation is a
 * linear pass over it.
 */
#include "engine/dht_lookup.h"

#include <string.h>

#include "base/alloc.h"
#include "shoal.h"

enum cstate {
    C_NEW = 0, /* not queried yet */
    C_PENDING, /* query in flight */
    C_LATE,    /* query timed out: counts as failed, a reply still counts */
    C_REPLIED,
    C_FAILED,
};

struct cand {
    uint8_t id[DHT_ID_LEN];
    uint8_t has_id;
    uint8_t state; /* enum cstate */
    uint8_t token_len;
    struct dht_addr addr;
    uint32_t qid; /* 0 until queried */
    uint32_t depth;
    int64_t sent_ms;
    uint8_t token[KRPC_MAX_TOKEN];
};

struct dht_lookup {
    int kind;
    int family;
    uint8_t target[DHT_ID_LEN];
    int done;
    int has_self;
    uint8_t self[DHT_ID_LEN];
    uint32_t next_qid;
    uint32_t inflight;
    struct dht_lookup_stats st;
    size_t nc;
    struct cand c[DHT_LOOKUP_MAX_CANDIDATES];
    struct dht_addr *peers;
    size_t npeers, peers_cap;
    uint8_t (*samples)[DHT_ID_LEN];
    size_t nsamples, samples_cap;
};

struct dht_lookup *
dht_lookup_new(int kind, const uint8_t target[DHT_ID_LEN], int family, int64_t now_ms)
{
    if (kind < DHT_LOOKUP_FIND_NODE || kind > DHT_LOOKUP_SAMPLE_INFOHASHES)
        return NULL;
    if (family != 4 && family != 6)
        return NULL;
    struct dht_lookup *l = xcalloc(1, sizeof(*l));
    if (!l)
        return NULL;
    l->kind = kind;
    l->family = family;
    memcpy(l->target, target, DHT_ID_LEN);
    l->st.started_ms = now_ms;
    return l;
}

void
dht_lookup_free(struct dht_lookup *l)
{
    if (!l)
        return;
    xfree(l->peers);
    xfree(l->samples);
    xfree(l);
}

int
dht_lookup_kind(const struct dht_lookup *l)
{
    return l->kind;
}

const uint8_t *
dht_lookup_target(const struct dht_lookup *l)
{
    return l->target;
}

int
dht_lookup_done(const struct dht_lookup *l)
{
    return l->done;
}

/* ------------------------------------------------------------------ candidates */

void
dht_lookup_set_self(struct dht_lookup *l, const uint8_t self[DHT_ID_LEN])
{
    memcpy(l->self, self, DHT_ID_LEN);
    l->has_self = 1;
}

static int
is_self(const struct dht_lookup *l, const uint8_t *id)
{
    return id && l->has_self && memcmp(id, l->self, DHT_ID_LEN) == 0;
}

/* Where a candidate of this id belongs in the sorted array. */
static size_t
position(const struct dht_lookup *l, const uint8_t *id)
{
    size_t pos = 0;
    if (!id)
        return l->nc;
    while (pos < l->nc && l->c[pos].has_id &&
           dht_id_cmp_dist(l->target, l->c[pos].id, id) < 0)
        pos++;
    return pos;
}

static int
known(const struct dht_lookup *l, const uint8_t *id, const struct dht_addr *a)
{
    for (size_t i = 0; i < l->nc; i++) {
        if (dht_addr_eq(&l->c[i].addr, a))
            return 1;
        if (id && l->c[i].has_id && memcmp(l->c[i].id, id, DHT_ID_LEN) == 0)
            return 1;
    }
    return 0;
}

/* Makes room at pos in a full array by dropping the farthest candidate that
 * has no query in flight. Returns the (possibly shifted) position, or -1
 * when nothing can go. */
static long
make_room(struct dht_lookup *l, size_t pos)
{
    for (size_t i = l->nc; i-- > pos;) {
        if (l->c[i].state == C_PENDING)
            continue;
        memmove(&l->c[i], &l->c[i + 1], (l->nc - i - 1) * sizeof(l->c[0]));
        l->nc--;
        return (long)pos;
    }
    return -1;
}

/* Inserts a candidate; returns its index, or -1 when it was not taken. */
static long
insert(struct dht_lookup *l, const uint8_t *id, const struct dht_addr *a, uint32_t depth)
{
    size_t pos = position(l, id);
    if (l->nc == DHT_LOOKUP_MAX_CANDIDATES) {
        if (pos >= l->nc)
            return -1;
        long p = make_room(l, pos);
        if (p < 0)
            return -1;
        pos = (size_t)p;
    }
    memmove(&l->c[pos + 1], &l->c[pos], (l->nc - pos) * sizeof(l->c[0]));
    l->nc++;
    struct cand *c = &l->c[pos];
    memset(c, 0, sizeof(*c));
    if (id) {
        memcpy(c->id, id, DHT_ID_LEN);
        c->has_id = 1;
    }
    c->addr = *a;
    c->depth = depth;
    return (long)pos;
}

static int
addr_fits(const struct dht_lookup *l, const struct dht_addr *a)
{
    return a->len == (l->family == 4 ? 4 : 16) && a->port != 0;
}

int
dht_lookup_add(struct dht_lookup *l, const uint8_t *id, const struct dht_addr *a)
{
    if (!addr_fits(l, a) || is_self(l, id) || known(l, id, a))
        return 0;
    return insert(l, id, a, 1) >= 0;
}

static struct cand *
by_qid(struct dht_lookup *l, uint32_t qid, const struct dht_addr *from)
{
    if (qid == 0)
        return NULL;
    for (size_t i = 0; i < l->nc; i++)
        if (l->c[i].qid == qid)
            return dht_addr_eq(&l->c[i].addr, from) ? &l->c[i] : NULL;
    return NULL;
}

/* ------------------------------------------------------------------ stepping */

/*
 * Walks the candidates closest first: the lookup still needs the ones not
 * yet queried that come before the k-th node that replied. Returns the
 * index of the first such candidate (or -1) and tells whether any query
 * before that k-th node is still in flight.
 */
static long
next_needed(const struct dht_lookup *l, int *pending_before)
{
    size_t replied = 0;
    long first_new = -1;
    *pending_before = 0;
    for (size_t i = 0; i < l->nc && replied < DHT_LOOKUP_K; i++) {
        const struct cand *c = &l->c[i];
        if (c->state == C_REPLIED)
            replied++;
        else if (c->state == C_PENDING)
            *pending_before = 1;
        else if (c->state == C_NEW && first_new < 0)
            first_new = (long)i;
    }
    return first_new;
}

static void
finish(struct dht_lookup *l, int64_t now_ms)
{
    l->done = 1;
    l->st.finished_ms = now_ms;
}

size_t
dht_lookup_step(struct dht_lookup *l, int64_t now_ms, struct dht_lookup_action *out,
                size_t max, int64_t *wake_ms)
{
    size_t k = 0;
    *wake_ms = INT64_MAX;
    if (l->done)
        return 0;
    for (size_t i = 0; i < l->nc && k < max; i++) {
        struct cand *c = &l->c[i];
        if (c->state != C_PENDING || now_ms - c->sent_ms < DHT_LOOKUP_TIMEOUT_MS)
            continue;
        c->state = C_LATE;
        l->inflight--;
        l->st.failures++;
        struct dht_lookup_action *a = &out[k++];
        memset(a, 0, sizeof(*a));
        a->act = DHT_LOOKUP_FAILED;
        a->has_id = c->has_id;
        a->qid = c->qid;
        memcpy(a->id, c->id, DHT_ID_LEN);
        a->addr = c->addr;
    }
    while (k < max && l->inflight < DHT_LOOKUP_ALPHA &&
           l->st.queries < DHT_LOOKUP_MAX_QUERIES) {
        int pending;
        long i = next_needed(l, &pending);
        if (i < 0)
            break;
        struct cand *c = &l->c[i];
        c->state = C_PENDING;
        c->qid = ++l->next_qid;
        c->sent_ms = now_ms;
        l->inflight++;
        l->st.queries++;
        if (c->depth > l->st.round_trips)
            l->st.round_trips = c->depth;
        struct dht_lookup_action *a = &out[k++];
        memset(a, 0, sizeof(*a));
        a->act = DHT_LOOKUP_SEND;
        a->has_id = c->has_id;
        a->qid = c->qid;
        memcpy(a->id, c->id, DHT_ID_LEN);
        a->addr = c->addr;
    }
    if (k == max) {
        *wake_ms = now_ms;
        return k;
    }
    int pending;
    long need = next_needed(l, &pending);
    int can_send = need >= 0 && l->st.queries < DHT_LOOKUP_MAX_QUERIES;
    if (!pending && !can_send) {
        /* Converged (the k closest replied or failed), exhausted, or out of
         * queries: what is still in flight farther out cannot change the
         * k closest enough to matter. */
        finish(l, now_ms);
        return k;
    }
    for (size_t i = 0; i < l->nc; i++)
        if (l->c[i].state == C_PENDING &&
            l->c[i].sent_ms + DHT_LOOKUP_TIMEOUT_MS < *wake_ms)
            *wake_ms = l->c[i].sent_ms + DHT_LOOKUP_TIMEOUT_MS;
    return k;
}

/* ------------------------------------------------------------------ replies */

static int
add_peer(struct dht_lookup *l, const struct dht_addr *a)
{
    if (a->port == 0 || l->npeers >= DHT_LOOKUP_MAX_PEERS)
        return 0;
    for (size_t i = 0; i < l->npeers; i++)
        if (dht_addr_eq(&l->peers[i], a))
            return 0;
    if (l->npeers == l->peers_cap) {
        size_t cap = l->peers_cap ? l->peers_cap * 2 : 16;
        if (cap > DHT_LOOKUP_MAX_PEERS)
            cap = DHT_LOOKUP_MAX_PEERS;
        struct dht_addr *p = xreallocarray(l->peers, cap, sizeof(*p));
        if (!p)
            return 0;
        l->peers = p;
        l->peers_cap = cap;
    }
    l->peers[l->npeers++] = *a;
    return 1;
}

static void
add_sample(struct dht_lookup *l, const uint8_t *ih)
{
    if (l->nsamples >= DHT_LOOKUP_MAX_SAMPLES)
        return;
    for (size_t i = 0; i < l->nsamples; i++)
        if (memcmp(l->samples[i], ih, DHT_ID_LEN) == 0)
            return;
    if (l->nsamples == l->samples_cap) {
        size_t cap = l->samples_cap ? l->samples_cap * 2 : 64;
        if (cap > DHT_LOOKUP_MAX_SAMPLES)
            cap = DHT_LOOKUP_MAX_SAMPLES;
        uint8_t(*p)[DHT_ID_LEN] = xreallocarray(l->samples, cap, sizeof(*p));
        if (!p)
            return;
        l->samples = p;
        l->samples_cap = cap;
    }
    memcpy(l->samples[l->nsamples++], ih, DHT_ID_LEN);
}

/* A named node: a new candidate one round deeper, or a shallower depth for
 * one already known. */
static void
add_named(struct dht_lookup *l, const uint8_t *id, const struct dht_addr *a,
          uint32_t depth)
{
    if (!addr_fits(l, a) || is_self(l, id))
        return;
    for (size_t i = 0; i < l->nc; i++) {
        struct cand *c = &l->c[i];
        int same_id = c->has_id && memcmp(c->id, id, DHT_ID_LEN) == 0;
        if (same_id || dht_addr_eq(&c->addr, a)) {
            if (same_id && c->state == C_NEW && depth < c->depth)
                c->depth = depth;
            return;
        }
    }
    insert(l, id, a, depth);
}

/* A candidate of unknown id learnt it from its reply: it moves to its
 * place, or goes if the id is already a candidate. Returns its new index,
 * or -1. */
static long
learn_id(struct dht_lookup *l, size_t i, const uint8_t *id)
{
    struct cand c = l->c[i];
    memmove(&l->c[i], &l->c[i + 1], (l->nc - i - 1) * sizeof(l->c[0]));
    l->nc--;
    for (size_t j = 0; j < l->nc; j++)
        if (l->c[j].has_id && memcmp(l->c[j].id, id, DHT_ID_LEN) == 0)
            return -1;
    memcpy(c.id, id, DHT_ID_LEN);
    c.has_id = 1;
    size_t pos = position(l, id);
    memmove(&l->c[pos + 1], &l->c[pos], (l->nc - pos) * sizeof(l->c[0]));
    l->c[pos] = c;
    l->nc++;
    return (long)pos;
}

int
dht_lookup_reply(struct dht_lookup *l, uint32_t qid, const struct dht_addr *from,
                 const struct krpc_msg *m, int64_t now_ms)
{
    (void)now_ms;
    struct cand *c = by_qid(l, qid, from);
    if (!c || (c->state != C_PENDING && c->state != C_LATE) || m->type != KRPC_RESPONSE)
        return SHOAL_EINVAL;
    if (c->state == C_PENDING)
        l->inflight--;
    else
        l->st.failures--; /* a late reply undoes its timeout */
    if (c->has_id && memcmp(c->id, m->id, DHT_ID_LEN) != 0) {
        c->state = C_FAILED;
        l->st.failures++;
        return 0;
    }
    c->state = C_REPLIED;
    l->st.replies++;
    uint32_t depth = c->depth + 1;
    if (m->has & KRPC_HAS_TOKEN) {
        memcpy(c->token, m->token, m->token_len);
        c->token_len = m->token_len;
    }
    if (!c->has_id) {
        long i = learn_id(l, (size_t)(c - l->c), m->id);
        if (i < 0)
            return 0;
    }

    const struct krpc_slice *nodes = l->family == 4 ? &m->nodes : &m->nodes6;
    size_t entry = l->family == 4 ? KRPC_NODE4_LEN : KRPC_NODE6_LEN;
    unsigned bit = l->family == 4 ? KRPC_HAS_NODES : KRPC_HAS_NODES6;
    if (m->has & bit)
        for (size_t i = 0; i < nodes->len / entry; i++) {
            uint8_t id[DHT_ID_LEN];
            struct dht_addr a;
            dht_node_from_compact(nodes->p, i, l->family, id, &a);
            add_named(l, id, &a, depth);
        }

    int fresh = 0;
    if (l->kind == DHT_LOOKUP_GET_PEERS) {
        struct dht_addr a;
        for (size_t i = 0; i < m->nvalues4; i++)
            if (!dht_addr_from_compact(&a, m->values4[i], KRPC_PEER4_LEN))
                fresh += add_peer(l, &a);
        for (size_t i = 0; i < m->nvalues6; i++)
            if (!dht_addr_from_compact(&a, m->values6[i], KRPC_PEER6_LEN))
                fresh += add_peer(l, &a);
    }
    if (l->kind == DHT_LOOKUP_SAMPLE_INFOHASHES && (m->has & KRPC_HAS_SAMPLES))
        for (size_t i = 0; i < m->samples.len / DHT_ID_LEN; i++)
            add_sample(l, m->samples.p + i * DHT_ID_LEN);
    l->st.peers = (uint32_t)l->npeers;
    l->st.samples = (uint32_t)l->nsamples;
    return fresh;
}

int
dht_lookup_error(struct dht_lookup *l, uint32_t qid, const struct dht_addr *from,
                 int64_t now_ms)
{
    (void)now_ms;
    struct cand *c = by_qid(l, qid, from);
    if (!c || (c->state != C_PENDING && c->state != C_LATE))
        return SHOAL_EINVAL;
    if (c->state == C_PENDING) {
        l->inflight--;
        l->st.failures++;
    }
    c->state = C_FAILED;
    return 0;
}

/* ------------------------------------------------------------------ results */

const struct dht_addr *
dht_lookup_peers(const struct dht_lookup *l, size_t *n)
{
    *n = l->npeers;
    return l->peers;
}

const uint8_t *
dht_lookup_samples(const struct dht_lookup *l, size_t *n)
{
    *n = l->nsamples;
    return (const uint8_t *)l->samples;
}

size_t
dht_lookup_responders(const struct dht_lookup *l, struct dht_lookup_responder *out,
                      size_t max)
{
    size_t k = 0;
    for (size_t i = 0; i < l->nc && k < max; i++) {
        const struct cand *c = &l->c[i];
        if (c->state != C_REPLIED || !c->has_id)
            continue;
        memcpy(out[k].id, c->id, DHT_ID_LEN);
        out[k].addr = c->addr;
        out[k].token_len = c->token_len;
        memcpy(out[k].token, c->token, c->token_len);
        k++;
    }
    return k;
}

void
dht_lookup_stats(const struct dht_lookup *l, struct dht_lookup_stats *out)
{
    *out = l->st;
    out->candidates = (uint32_t)l->nc;
    out->peers = (uint32_t)l->npeers;
    out->samples = (uint32_t)l->nsamples;
}
