/*
 * dht_store.c — the announce_peer store of a DHT node and its BEP 51
 * samples. Engine layer, pure: it must not touch a socket or read the clock
 * (now_ms comes in); every table in it is capped.
 *
 * Swarms are kept in an array sorted by infohash (binary search; the store
 * holds a few thousand at most, so an insert's memmove is a few KiB), each
 * with its peers in a small array of at most DHT_STORE_MAX_PER_HASH. Least
 * recently used means least recently announced to or asked for; finding it
 * is a linear pass, made only when the store is full.
 */
#include "engine/dht_store.h"

#include <string.h>

#include "base/alloc.h"
#include "base/rng.h"
#include "shoal.h"

struct speer {
    struct dht_addr a;
    int64_t seen_ms;
};

struct swarm {
    uint8_t ih[DHT_ID_LEN];
    int64_t used_ms;
    size_t n, cap;
    struct speer *p;
};

struct dht_store {
    size_t max_hashes, max_peers;
    uint64_t rng;
    struct swarm **v; /* sorted by infohash */
    size_t n, cap;
    size_t peers;
    struct dht_store_stats st;
};

struct dht_store *
dht_store_new(size_t max_hashes, size_t max_peers, uint64_t seed)
{
    struct dht_store *s = xcalloc(1, sizeof(*s));
    if (!s)
        return NULL;
    s->max_hashes = max_hashes ? max_hashes : DHT_STORE_DEFAULT_HASHES;
    s->max_peers = max_peers ? max_peers : DHT_STORE_DEFAULT_PEERS;
    s->rng = seed;
    return s;
}

static void
swarm_free(struct swarm *w)
{
    if (w) {
        xfree(w->p);
        xfree(w);
    }
}

void
dht_store_free(struct dht_store *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->n; i++)
        swarm_free(s->v[i]);
    xfree(s->v);
    xfree(s);
}

/* Index of ih, or where it would go (with *found 0). */
static size_t
search(const struct dht_store *s, const uint8_t ih[DHT_ID_LEN], int *found)
{
    size_t lo = 0, hi = s->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = memcmp(s->v[mid]->ih, ih, DHT_ID_LEN);
        if (c == 0) {
            *found = 1;
            return mid;
        }
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    *found = 0;
    return lo;
}

static void
remove_swarm(struct dht_store *s, size_t i)
{
    s->peers -= s->v[i]->n;
    swarm_free(s->v[i]);
    memmove(&s->v[i], &s->v[i + 1], (s->n - i - 1) * sizeof(s->v[0]));
    s->n--;
}

/* Evicts the least recently used swarm other than `keep`. Returns 1 when
 * one went. */
static int
evict_lru(struct dht_store *s, const struct swarm *keep)
{
    size_t victim = s->n;
    for (size_t i = 0; i < s->n; i++)
        if (s->v[i] != keep &&
            (victim == s->n || s->v[i]->used_ms < s->v[victim]->used_ms))
            victim = i;
    if (victim == s->n)
        return 0;
    remove_swarm(s, victim);
    s->st.evicted_hashes++;
    return 1;
}

static struct swarm *
add_swarm(struct dht_store *s, const uint8_t ih[DHT_ID_LEN], int64_t now_ms)
{
    if (s->n >= s->max_hashes && !evict_lru(s, NULL))
        return NULL;
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 16;
        if (cap > s->max_hashes)
            cap = s->max_hashes;
        struct swarm **v = xreallocarray(s->v, cap, sizeof(*v));
        if (!v)
            return NULL;
        s->v = v;
        s->cap = cap;
    }
    struct swarm *w = xcalloc(1, sizeof(*w));
    if (!w)
        return NULL;
    memcpy(w->ih, ih, DHT_ID_LEN);
    w->used_ms = now_ms;
    int found;
    size_t pos = search(s, ih, &found);
    memmove(&s->v[pos + 1], &s->v[pos], (s->n - pos) * sizeof(s->v[0]));
    s->v[pos] = w;
    s->n++;
    return w;
}

static int
live(const struct speer *p, int64_t now_ms)
{
    return now_ms - p->seen_ms < DHT_STORE_PEER_TTL_MS;
}

int
dht_store_announce(struct dht_store *s, const uint8_t ih[DHT_ID_LEN],
                   const struct dht_addr *a, int64_t now_ms)
{
    if ((a->len != 4 && a->len != 16) || a->port == 0)
        return SHOAL_EINVAL;
    int found;
    size_t i = search(s, ih, &found);
    struct swarm *w = found ? s->v[i] : add_swarm(s, ih, now_ms);
    if (!w)
        return SHOAL_ENOMEM;
    w->used_ms = now_ms;
    for (size_t j = 0; j < w->n; j++)
        if (dht_addr_eq(&w->p[j].a, a)) {
            w->p[j].seen_ms = now_ms;
            return 0;
        }
    while (s->peers >= s->max_peers && w->n < DHT_STORE_MAX_PER_HASH)
        if (!evict_lru(s, w))
            break;
    size_t slot = w->n;
    if (w->n >= DHT_STORE_MAX_PER_HASH || s->peers >= s->max_peers) {
        if (w->n == 0)
            return SHOAL_ENOMEM;
        /* Full: the peer announced longest ago gives way. */
        slot = 0;
        for (size_t j = 1; j < w->n; j++)
            if (w->p[j].seen_ms < w->p[slot].seen_ms)
                slot = j;
        s->st.replaced_peers++;
    } else {
        if (w->n == w->cap) {
            size_t cap = w->cap ? w->cap * 2 : 4;
            if (cap > DHT_STORE_MAX_PER_HASH)
                cap = DHT_STORE_MAX_PER_HASH;
            struct speer *p = xreallocarray(w->p, cap, sizeof(*p));
            if (!p)
                return SHOAL_ENOMEM;
            w->p = p;
            w->cap = cap;
        }
        w->n++;
        s->peers++;
    }
    w->p[slot].a = *a;
    w->p[slot].seen_ms = now_ms;
    return 0;
}

size_t
dht_store_get(struct dht_store *s, const uint8_t ih[DHT_ID_LEN], int family,
              int64_t now_ms, uint8_t *out, size_t max)
{
    int found;
    size_t i = search(s, ih, &found);
    if (!found)
        return 0;
    struct swarm *w = s->v[i];
    w->used_ms = now_ms;
    uint8_t len = family == 6 ? 16 : 4;
    uint16_t idx[DHT_STORE_MAX_PER_HASH];
    size_t n = 0;
    for (size_t j = 0; j < w->n; j++)
        if (w->p[j].a.len == len && live(&w->p[j], now_ms))
            idx[n++] = (uint16_t)j;
    size_t take = n < max ? n : max;
    size_t off = 0;
    for (size_t j = 0; j < take; j++) {
        /* Partial Fisher-Yates: a uniform sample without repeats. */
        size_t r = j + (size_t)(rng_next(&s->rng) % (n - j));
        uint16_t t = idx[j];
        idx[j] = idx[r];
        idx[r] = t;
        off += dht_addr_to_compact(&w->p[idx[j]].a, out + off);
    }
    return take;
}

size_t
dht_store_count(const struct dht_store *s, const uint8_t ih[DHT_ID_LEN], int64_t now_ms)
{
    int found;
    size_t i = search(s, ih, &found);
    if (!found)
        return 0;
    size_t n = 0;
    for (size_t j = 0; j < s->v[i]->n; j++)
        n += live(&s->v[i]->p[j], now_ms) ? 1 : 0;
    return n;
}

size_t
dht_store_sample(struct dht_store *s, uint8_t (*out)[DHT_ID_LEN], size_t max, size_t *num)
{
    *num = s->n;
    size_t take = s->n < max ? s->n : max;
    if (take == s->n) {
        for (size_t i = 0; i < take; i++)
            memcpy(out[i], s->v[i]->ih, DHT_ID_LEN);
        return take;
    }
    /* take < n: draw distinct indices; a repeat is drawn again, and since
     * at least one swarm is left unpicked each draw succeeds with
     * probability 1/n or better. */
    size_t picked[DHT_STORE_SAMPLES * 4];
    if (take > sizeof(picked) / sizeof(picked[0]))
        take = sizeof(picked) / sizeof(picked[0]);
    size_t k = 0;
    while (k < take) {
        size_t r = (size_t)(rng_next(&s->rng) % s->n);
        size_t j = 0;
        while (j < k && picked[j] != r)
            j++;
        if (j < k)
            continue;
        picked[k] = r;
        memcpy(out[k++], s->v[r]->ih, DHT_ID_LEN);
    }
    return k;
}

size_t
dht_store_sweep(struct dht_store *s, int64_t now_ms)
{
    size_t dropped = 0;
    for (size_t i = 0; i < s->n;) {
        struct swarm *w = s->v[i];
        for (size_t j = 0; j < w->n;) {
            if (live(&w->p[j], now_ms)) {
                j++;
                continue;
            }
            w->p[j] = w->p[--w->n];
            s->peers--;
            dropped++;
        }
        if (w->n == 0)
            remove_swarm(s, i);
        else
            i++;
    }
    s->st.expired_peers += dropped;
    return dropped;
}

void
dht_store_stats(const struct dht_store *s, struct dht_store_stats *out)
{
    *out = s->st;
    out->hashes = s->n;
    out->peers = s->peers;
}
