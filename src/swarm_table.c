/*
 * swarm_table.c — the tracker's peer store: a hash of swarms, each holding
 * its peers as compact wire records in sorted buckets. Server layer, pure:
 * no sockets, no clock, no globals; the caller passes the time.
 *
 * Memory layout of one bucket: one block holding `cap` records of klen
 * bytes (6 or 18, exactly the BEP 23 / BEP 7 wire form) followed by `cap`
 * 16-bit tags. The records are sorted by their bytes, which is (ip, port)
 * order because both are stored big-endian. Swarms are allocated one by one
 * so that a pointer to a swarm stays valid while the hash table moves its
 * slots around.
 */
#include "swarm_table.h"

#include <string.h>

#include "alloc.h"
#include "siphash.h"

/* Allocator bookkeeping per heap block, counted in the memory estimate
 * (glibc: an 8-byte header and rounding to 16). */
#define ALLOC_OVERHEAD 16
/* Coarse ticks per peer timeout: a peer expires at most 1/32 late. */
#define TICKS_PER_TIMEOUT 32
/* Tag bits: seeder, completion counted, and the tick of the last announce
 * modulo 2^14. */
#define TAG_SEEDER 0x8000u
#define TAG_DONE   0x4000u
#define TAG_TIME   0x3fffu
/* The swarm hash starts this small and doubles at half load. */
#define MIN_SLOTS 64
/* Swarms of at most this many peers in a family are sampled exactly
 * (reservoir over all of them); larger ones in strata. */
#define SCAN_ALL_MAX 4096
/* Probes per stratum: a few, so expired peers and the asker are stepped
 * over; more when only leechers will do. */
#define PROBES         3
#define LEECHER_PROBES 8
/* A family halves its buckets when they average fewer peers than this. */
#define MERGE_BELOW (SWARM_BUCKET_TARGET / 8)
/* Most buckets per family: 2^20 buckets of 512 peers is far beyond any
 * swarm; the bucket count is a uint32. */
#define MAX_BUCKETS (1u << 20)

struct bucket {
    uint8_t *mem; /* cap records, then cap tags */
    uint32_t n;
    uint32_t cap;
};

/* The peers of one address family of a swarm. */
struct fam {
    struct bucket *many; /* nb buckets when nb > 1 */
    uint32_t nb;         /* power of two; 1 uses `one` */
    uint32_t n;
    uint32_t seeders;
    struct bucket one;
};

struct swarm {
    uint8_t ih[20];
    uint32_t hash; /* low bits pick the home slot */
    uint32_t last; /* now_s of the last announce, modulo 2^32 */
    uint32_t completed;
    uint32_t idx; /* position in the table's dense array */
    uint8_t registered;
    struct fam v4;
    struct fam *v6; /* made on the first IPv6 peer */
};

struct swarm_table {
    struct swarm **slot; /* the hash: open addressing, linear probing */
    size_t cap;          /* power of two */
    /* Every swarm once more, packed, for uniform random picks and walks. */
    struct swarm **dense;
    size_t dense_cap;
    size_t nswarms;
    size_t max_swarms;
    size_t max_peers;
    uint32_t unit;          /* seconds per tick */
    uint32_t timeout_ticks; /* a peer older than this many ticks expires */
    uint32_t timeout_s;
    uint32_t now_tick; /* the latest time the table was given, in ticks */
    uint32_t now_s;    /* and in seconds, modulo 2^32 */
    int open;
    uint64_t k0, k1; /* SipHash key */
    uint64_t rng;    /* eviction sampling */
    size_t npeers, npeers6, nseeders;
    size_t mem;
    uint64_t evicted_swarms, evicted_peers, expired_peers, refused;
    /* Sweeper position: a dense index, and a bucket of the swarm there. */
    size_t sw_idx;
    uint32_t sw_sub;
    const struct swarm *sw_swarm;
};

/* ------------------------------------------------------------------ helpers */

static uint64_t
rotl(uint64_t x, int b)
{
    return (x << b) | (x >> (64 - b));
}

/* SipHash-1-3: a keyed hash, so that nobody who does not know the key can
 * choose infohashes or addresses that collide. */
static uint64_t
keyed_hash(const struct swarm_table *t, const uint8_t *p, size_t n)
{
    return siphash13(t->k0, t->k1, p, n);
}

/* splitmix64: small, fast, and any state (0 included) is fine. */
static uint64_t
next_rand(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static size_t
rand_below(uint64_t *s, size_t n)
{
    return (size_t)(((unsigned __int128)next_rand(s) * n) >> 64);
}

/* Compares two records: 6-byte ones inline, as big-endian numbers. */
static inline int
rec_cmp(const uint8_t *a, const uint8_t *b, size_t klen)
{
    if (klen == 6) {
        uint64_t x = (uint64_t)a[0] << 40 | (uint64_t)a[1] << 32 | (uint64_t)a[2] << 24 |
                     (uint64_t)a[3] << 16 | (uint64_t)a[4] << 8 | a[5];
        uint64_t y = (uint64_t)b[0] << 40 | (uint64_t)b[1] << 32 | (uint64_t)b[2] << 24 |
                     (uint64_t)b[3] << 16 | (uint64_t)b[4] << 8 | b[5];
        return (x > y) - (x < y);
    }
    return memcmp(a, b, klen);
}

static size_t
klen_of(int is6)
{
    return is6 ? SWARM_REC6 : SWARM_REC4;
}

static uint16_t *
tags_of(const struct bucket *b, size_t klen)
{
    /* cap * klen is even for klen 6 and 18, so the tags are aligned. */
    return b->mem ? (uint16_t *)(void *)(b->mem + (size_t)b->cap * klen) : NULL;
}

static size_t
block_size(uint32_t cap, size_t klen)
{
    return cap ? (size_t)cap * (klen + 2) + ALLOC_OVERHEAD : 0;
}

static struct bucket *
bucket_at(struct fam *f, uint32_t i)
{
    return f->nb <= 1 ? &f->one : &f->many[i];
}

static int
expired(const struct swarm_table *t, uint16_t tag)
{
    return ((t->now_tick - (tag & TAG_TIME)) & TAG_TIME) > t->timeout_ticks;
}

static void
set_now(struct swarm_table *t, uint64_t now_s)
{
    t->now_tick = (uint32_t)(now_s / t->unit);
    t->now_s = (uint32_t)now_s;
}

/* Seconds since the swarm's last announce. */
static uint32_t
swarm_age(const struct swarm_table *t, const struct swarm *s)
{
    return t->now_s - s->last;
}

/* ------------------------------------------------------------------ buckets */

/* Binary search for key: 1 and its index when present, else 0 and the index
 * where it would go. */
static int
bucket_find(const struct bucket *b, size_t klen, const uint8_t *key, uint32_t *pos)
{
    uint32_t lo = 0, hi = b->n;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        int c = rec_cmp(b->mem + (size_t)mid * klen, key, klen);
        if (c == 0) {
            *pos = mid;
            return 1;
        }
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    *pos = lo;
    return 0;
}

/* Moves the bucket to a block of newcap (>= n) entries. */
static int
bucket_resize(struct swarm_table *t, struct bucket *b, size_t klen, uint32_t newcap)
{
    if (newcap == 0) {
        t->mem -= block_size(b->cap, klen);
        xfree(b->mem);
        b->mem = NULL;
        b->cap = 0;
        return 0;
    }
    uint8_t *mem = xmalloc((size_t)newcap * (klen + 2));
    if (!mem)
        return SHOAL_ENOMEM;
    if (b->n) {
        memcpy(mem, b->mem, (size_t)b->n * klen);
        memcpy(mem + (size_t)newcap * klen, tags_of(b, klen), (size_t)b->n * 2);
    }
    t->mem += block_size(newcap, klen);
    t->mem -= block_size(b->cap, klen);
    xfree(b->mem);
    b->mem = mem;
    b->cap = newcap;
    return 0;
}

/* Gives back memory once a bucket is mostly empty. */
static void
bucket_maybe_shrink(struct swarm_table *t, struct bucket *b, size_t klen)
{
    if (b->n == 0)
        bucket_resize(t, b, klen, 0);
    else if (b->cap > 8 && b->n < b->cap / 3)
        bucket_resize(t, b, klen, b->n + b->n / 2 + 2);
}

static int
bucket_insert(struct swarm_table *t, struct bucket *b, size_t klen, uint32_t pos,
              const uint8_t *key, uint16_t tag)
{
    if (b->n == b->cap) {
        /* Growing by half wastes at most a third of the block. */
        int rc = bucket_resize(t, b, klen, b->cap + b->cap / 2 + 2);
        if (rc)
            return rc;
    }
    uint8_t *r = b->mem + (size_t)pos * klen;
    uint16_t *tg = tags_of(b, klen);
    memmove(r + klen, r, (size_t)(b->n - pos) * klen);
    memmove(tg + pos + 1, tg + pos, (size_t)(b->n - pos) * 2);
    memcpy(r, key, klen);
    tg[pos] = tag;
    b->n++;
    return 0;
}

static void
bucket_remove(struct bucket *b, size_t klen, uint32_t pos)
{
    uint8_t *r = b->mem + (size_t)pos * klen;
    uint16_t *tg = tags_of(b, klen);
    memmove(r, r + klen, (size_t)(b->n - pos - 1) * klen);
    memmove(tg + pos, tg + pos + 1, (size_t)(b->n - pos - 1) * 2);
    b->n--;
}

/* ------------------------------------------------------------------ families */

static void
count_peers(struct swarm_table *t, int is6, long dn, long ds)
{
    t->npeers += (size_t)dn;
    if (is6)
        t->npeers6 += (size_t)dn;
    t->nseeders += (size_t)ds;
}

static struct bucket *
fam_bucket_for(const struct swarm_table *t, struct fam *f, const uint8_t *key,
               size_t klen)
{
    if (f->nb <= 1)
        return &f->one;
    return &f->many[(uint32_t)keyed_hash(t, key, klen) & (f->nb - 1)];
}

/* Frees every peer of the family; the family is empty afterwards. */
static void
fam_clear(struct swarm_table *t, struct fam *f, int is6)
{
    size_t klen = klen_of(is6);
    for (uint32_t i = 0; i < f->nb; i++)
        bucket_resize(t, bucket_at(f, i), klen, 0);
    if (f->nb > 1) {
        t->mem -= (size_t)f->nb * sizeof(struct bucket) + ALLOC_OVERHEAD;
        xfree(f->many);
    }
    count_peers(t, is6, -(long)f->n, -(long)f->seeders);
    memset(f, 0, sizeof(*f));
    f->nb = 1;
}

/*
 * Doubles the buckets: bucket i splits into i and i + nb by the next hash
 * bit. Each half keeps the order of the source, so stays sorted. On failure
 * nothing changes (buckets are only a speed-up).
 */
static void
fam_split(struct swarm_table *t, struct fam *f, size_t klen)
{
    uint32_t nb = f->nb, nb2 = nb * 2;
    struct bucket *nw = xcalloc(nb2, sizeof(*nw));
    if (!nw)
        return;
    /* Size every new bucket first, so that a failure leaves the old ones. */
    for (uint32_t i = 0; i < nb; i++) {
        const struct bucket *o = bucket_at(f, i);
        uint32_t hi = 0;
        for (uint32_t j = 0; j < o->n; j++) {
            uint32_t h = (uint32_t)keyed_hash(t, o->mem + (size_t)j * klen, klen);
            hi += (h & nb) != 0;
        }
        uint32_t lo = o->n - hi;
        if ((lo && bucket_resize(t, &nw[i], klen, lo + lo / 4 + 2) != 0) ||
            (hi && bucket_resize(t, &nw[i + nb], klen, hi + hi / 4 + 2) != 0)) {
            for (uint32_t j = 0; j < nb2; j++)
                bucket_resize(t, &nw[j], klen, 0);
            xfree(nw);
            return;
        }
    }
    for (uint32_t i = 0; i < nb; i++) {
        struct bucket *o = bucket_at(f, i);
        const uint16_t *otg = tags_of(o, klen);
        for (uint32_t j = 0; j < o->n; j++) {
            const uint8_t *r = o->mem + (size_t)j * klen;
            uint32_t h = (uint32_t)keyed_hash(t, r, klen);
            struct bucket *d = &nw[(h & nb) ? i + nb : i];
            memcpy(d->mem + (size_t)d->n * klen, r, klen);
            tags_of(d, klen)[d->n++] = otg[j];
        }
        bucket_resize(t, o, klen, 0);
    }
    if (nb > 1) {
        t->mem -= (size_t)nb * sizeof(struct bucket) + ALLOC_OVERHEAD;
        xfree(f->many);
    }
    memset(&f->one, 0, sizeof(f->one));
    f->many = nw;
    f->nb = nb2;
    t->mem += (size_t)nb2 * sizeof(struct bucket) + ALLOC_OVERHEAD;
}

/* Halves the buckets: i and i + nb/2 merge back (two sorted runs). */
static void
fam_merge(struct swarm_table *t, struct fam *f, size_t klen)
{
    uint32_t nb = f->nb, half = nb / 2;
    struct bucket *nw = half > 1 ? xcalloc(half, sizeof(*nw)) : NULL;
    struct bucket single = {0};
    if (half > 1 && !nw)
        return;
    for (uint32_t i = 0; i < half; i++) {
        struct bucket *d = half > 1 ? &nw[i] : &single;
        uint32_t n = f->many[i].n + f->many[i + half].n;
        if (n && bucket_resize(t, d, klen, n + n / 4 + 2) != 0) {
            for (uint32_t j = 0; j <= i; j++)
                bucket_resize(t, half > 1 ? &nw[j] : &single, klen, 0);
            xfree(nw);
            return;
        }
    }
    for (uint32_t i = 0; i < half; i++) {
        struct bucket *d = half > 1 ? &nw[i] : &single;
        struct bucket *a = &f->many[i], *b = &f->many[i + half];
        const uint16_t *ta = tags_of(a, klen), *tb = tags_of(b, klen);
        uint16_t *td = tags_of(d, klen);
        uint32_t x = 0, y = 0;
        while (x < a->n || y < b->n) {
            int take_a =
                y >= b->n || (x < a->n && memcmp(a->mem + (size_t)x * klen,
                                                 b->mem + (size_t)y * klen, klen) < 0);
            const uint8_t *r =
                take_a ? a->mem + (size_t)x * klen : b->mem + (size_t)y * klen;
            uint16_t tg = take_a ? ta[x++] : tb[y++];
            memcpy(d->mem + (size_t)d->n * klen, r, klen);
            td[d->n++] = tg;
        }
        bucket_resize(t, a, klen, 0);
        bucket_resize(t, b, klen, 0);
    }
    t->mem -= (size_t)nb * sizeof(struct bucket) + ALLOC_OVERHEAD;
    xfree(f->many);
    if (half > 1) {
        f->many = nw;
        t->mem += (size_t)half * sizeof(struct bucket) + ALLOC_OVERHEAD;
    } else {
        f->many = NULL;
        f->one = single;
    }
    f->nb = half;
}

/* Keeps the bucket count in step with the peer count. */
static void
fam_rebalance(struct swarm_table *t, struct fam *f, size_t klen)
{
    if (f->n > (uint64_t)f->nb * SWARM_BUCKET_TARGET && f->nb < MAX_BUCKETS)
        fam_split(t, f, klen);
    else if (f->nb > 1 && f->n < (uint64_t)f->nb * MERGE_BELOW)
        fam_merge(t, f, klen);
}

/* ------------------------------------------------------------------ swarms */

static size_t
swarm_peers(const struct swarm *s)
{
    return (size_t)s->v4.n + (s->v6 ? s->v6->n : 0);
}

static void
swarm_fill_stats(const struct swarm *s, struct swarm_stats *out)
{
    if (!out)
        return;
    uint32_t seeders = s->v4.seeders + (s->v6 ? s->v6->seeders : 0);
    out->seeders = seeders;
    out->leechers = (uint32_t)swarm_peers(s) - seeders;
    out->completed = s->completed;
}

static struct fam *
swarm_fam(struct swarm_table *t, struct swarm *s, int is6, int create)
{
    if (!is6)
        return &s->v4;
    if (!s->v6 && create) {
        s->v6 = xcalloc(1, sizeof(*s->v6));
        if (!s->v6)
            return NULL;
        s->v6->nb = 1;
        t->mem += sizeof(*s->v6) + ALLOC_OVERHEAD;
    }
    return s->v6;
}

/* Drops every peer of the swarm; frees the IPv6 part. */
static void
swarm_clear(struct swarm_table *t, struct swarm *s)
{
    fam_clear(t, &s->v4, 0);
    if (s->v6) {
        fam_clear(t, s->v6, 1);
        xfree(s->v6);
        s->v6 = NULL;
        t->mem -= sizeof(struct fam) + ALLOC_OVERHEAD;
    }
}

static size_t
slot_of(const struct swarm_table *t, const uint8_t ih[20], uint32_t hash, int *found)
{
    size_t mask = t->cap - 1;
    for (size_t i = hash & mask;; i = (i + 1) & mask) {
        const struct swarm *s = t->slot[i];
        if (!s) {
            *found = 0;
            return i;
        }
        if (s->hash == hash && memcmp(s->ih, ih, 20) == 0) {
            *found = 1;
            return i;
        }
    }
}

static struct swarm *
lookup(const struct swarm_table *t, const uint8_t ih[20])
{
    int found;
    size_t i = slot_of(t, ih, (uint32_t)keyed_hash(t, ih, 20), &found);
    return found ? t->slot[i] : NULL;
}

/* Removes the swarm at slot i, shifting later entries of its run back so
 * that no tombstones are needed. */
static void
slot_remove(struct swarm_table *t, size_t i)
{
    size_t mask = t->cap - 1;
    t->slot[i] = NULL;
    for (size_t j = (i + 1) & mask; t->slot[j]; j = (j + 1) & mask) {
        size_t home = t->slot[j]->hash & mask;
        /* Move the entry back unless its home lies in (i, j]. */
        if (((j - home) & mask) >= ((j - i) & mask)) {
            t->slot[i] = t->slot[j];
            t->slot[j] = NULL;
            i = j;
        }
    }
}

static int
grow_slots(struct swarm_table *t)
{
    size_t ncap = t->cap * 2;
    struct swarm **ns = xcalloc(ncap, sizeof(*ns));
    if (!ns)
        return SHOAL_ENOMEM;
    for (size_t i = 0; i < t->cap; i++) {
        struct swarm *s = t->slot[i];
        if (!s)
            continue;
        size_t j = s->hash & (ncap - 1);
        while (ns[j])
            j = (j + 1) & (ncap - 1);
        ns[j] = s;
    }
    xfree(t->slot);
    t->mem += ncap * sizeof(*ns) - t->cap * sizeof(*ns);
    t->slot = ns;
    t->cap = ncap;
    return 0;
}

static void
swarm_destroy(struct swarm_table *t, struct swarm *s)
{
    int found;
    size_t slot = slot_of(t, s->ih, s->hash, &found);
    slot_remove(t, slot);
    /* The last swarm of the dense array takes this one's place. */
    struct swarm *moved = t->dense[--t->nswarms];
    t->dense[s->idx] = moved;
    moved->idx = s->idx;
    if (t->sw_swarm == s)
        t->sw_swarm = NULL;
    swarm_clear(t, s);
    xfree(s);
    t->mem -= sizeof(struct swarm) + ALLOC_OVERHEAD;
}

static struct swarm *
swarm_create(struct swarm_table *t, const uint8_t ih[20], int registered)
{
    if ((t->nswarms + 1) * 2 > t->cap && grow_slots(t) != 0)
        return NULL;
    if (t->nswarms == t->dense_cap) {
        size_t ncap = t->dense_cap ? t->dense_cap * 2 : MIN_SLOTS / 2;
        struct swarm **nd = xreallocarray(t->dense, ncap, sizeof(*nd));
        if (!nd)
            return NULL;
        t->mem +=
            (ncap - t->dense_cap) * sizeof(*nd) + (t->dense_cap ? 0 : ALLOC_OVERHEAD);
        t->dense = nd;
        t->dense_cap = ncap;
    }
    struct swarm *s = xcalloc(1, sizeof(*s));
    if (!s)
        return NULL;
    memcpy(s->ih, ih, 20);
    s->hash = (uint32_t)keyed_hash(t, ih, 20);
    s->last = t->now_s;
    s->registered = (uint8_t)registered;
    s->v4.nb = 1;
    int found;
    t->slot[slot_of(t, ih, s->hash, &found)] = s;
    s->idx = (uint32_t)t->nswarms;
    t->dense[t->nswarms++] = s;
    t->mem += sizeof(*s) + ALLOC_OVERHEAD;
    return s;
}

/* ------------------------------------------------------------------ eviction */

/*
 * The victim among SWARM_EVICT_SAMPLE swarms at random slots: first a swarm
 * nobody announced to for a peer timeout (all its peers are stale), then the
 * one with the fewest peers (peers are the announce rate: a flood of random
 * infohashes makes one-peer swarms, a popular swarm has many), then the one
 * announced to least recently. Skips `protect` and, when want_swarm,
 * registered swarms; when freeing peers, swarms without any.
 */
static struct swarm *
pick_victim(struct swarm_table *t, const struct swarm *protect, int want_swarm)
{
    struct swarm *best = NULL;
    int best_live = 0;
    size_t best_peers = 0;
    uint32_t best_age = 0;
    for (int k = 0; k < SWARM_EVICT_SAMPLE; k++) {
        struct swarm *s = t->dense[rand_below(&t->rng, t->nswarms)];
        if (s == protect)
            continue;
        size_t peers = swarm_peers(s);
        if (want_swarm ? s->registered : peers == 0)
            continue;
        uint32_t age = swarm_age(t, s);
        int live = age <= t->timeout_s;
        int better = !best || live < best_live ||
                     (live == best_live &&
                      (peers < best_peers || (peers == best_peers && age > best_age)));
        if (better) {
            best = s;
            best_live = live;
            best_peers = peers;
            best_age = age;
        }
    }
    return best;
}

static void
evict(struct swarm_table *t, struct swarm *s)
{
    t->evicted_swarms++;
    t->evicted_peers += swarm_peers(s);
    if (s->registered)
        swarm_clear(t, s);
    else
        swarm_destroy(t, s);
}

/* Makes room for one more swarm (want_swarm) or one more peer. */
static int
make_room(struct swarm_table *t, int want_swarm, const struct swarm *protect)
{
    for (int tries = 0;; tries++) {
        int full = want_swarm ? t->nswarms >= t->max_swarms : t->npeers >= t->max_peers;
        if (!full)
            return 0;
        if (tries == SWARM_EVICT_TRIES || t->nswarms == 0)
            return SHOAL_ETOOBIG;
        struct swarm *v = pick_victim(t, protect, want_swarm);
        if (v)
            evict(t, v);
    }
}

/* ------------------------------------------------------------------ API */

struct swarm_table *
swarm_table_new(const struct swarm_table_cfg *cfg)
{
    struct swarm_table_cfg c = {0};
    if (cfg)
        c = *cfg;
    struct swarm_table *t = xcalloc(1, sizeof(*t));
    if (!t)
        return NULL;
    t->max_swarms = c.max_swarms ? c.max_swarms : SWARM_DEFAULT_MAX_SWARMS;
    t->max_peers = c.max_peers_total ? c.max_peers_total : SWARM_DEFAULT_MAX_PEERS;
    uint32_t timeout = c.peer_timeout_s ? c.peer_timeout_s : SWARM_DEFAULT_PEER_TIMEOUT;
    t->unit = timeout / TICKS_PER_TIMEOUT ? timeout / TICKS_PER_TIMEOUT : 1;
    t->timeout_ticks = (timeout + t->unit - 1) / t->unit;
    t->timeout_s = timeout;
    t->open = c.open;
    t->k0 = c.seed ^ 0x5bd1e9955bd1e995ull;
    t->k1 = rotl(c.seed, 29) ^ 0x27d4eb2f165667c5ull;
    t->rng = c.seed;
    t->cap = MIN_SLOTS;
    t->slot = xcalloc(t->cap, sizeof(*t->slot));
    if (!t->slot) {
        xfree(t);
        return NULL;
    }
    t->mem = sizeof(*t) + ALLOC_OVERHEAD + t->cap * sizeof(*t->slot) + ALLOC_OVERHEAD;
    return t;
}

void
swarm_table_free(struct swarm_table *t)
{
    if (!t)
        return;
    for (size_t i = 0; i < t->nswarms; i++) {
        swarm_clear(t, t->dense[i]);
        xfree(t->dense[i]);
    }
    xfree(t->dense);
    xfree(t->slot);
    xfree(t);
}

int
swarm_table_register(struct swarm_table *t, const uint8_t ih[20])
{
    struct swarm *s = lookup(t, ih);
    if (s) {
        s->registered = 1;
        return 0;
    }
    if (make_room(t, 1, NULL) != 0)
        return SHOAL_ETOOBIG;
    return swarm_create(t, ih, 1) ? 0 : SHOAL_ENOMEM;
}

int
swarm_table_unregister(struct swarm_table *t, const uint8_t ih[20])
{
    struct swarm *s = lookup(t, ih);
    if (!s || !s->registered)
        return SWARM_ENOTREGISTERED;
    s->registered = 0;
    if (!t->open)
        swarm_destroy(t, s);
    return 0;
}

int
swarm_table_announce(struct swarm_table *t, const struct swarm_announce *a,
                     uint64_t now_s, struct swarm_stats *out)
{
    if ((a->family != 4 && a->family != 6) || a->port == 0)
        return SHOAL_EINVAL;
    int is6 = a->family == 6;
    size_t klen = klen_of(is6);
    uint8_t key[SWARM_REC6];
    memcpy(key, a->ip, klen - 2);
    key[klen - 2] = (uint8_t)(a->port >> 8);
    key[klen - 1] = (uint8_t)a->port;
    int stopped = a->event == SWARM_EVENT_STOPPED;
    set_now(t, now_s);

    struct swarm *s = lookup(t, a->info_hash);
    if (!s || (!t->open && !s->registered)) {
        if (!t->open)
            return SWARM_ENOTREGISTERED;
        if (stopped) {
            if (out)
                memset(out, 0, sizeof(*out));
            return 0;
        }
        if (make_room(t, 1, NULL) != 0 || make_room(t, 0, NULL) != 0) {
            t->refused++;
            return SHOAL_ETOOBIG;
        }
        s = swarm_create(t, a->info_hash, 0);
        if (!s)
            return SHOAL_ENOMEM;
    }
    s->last = t->now_s;

    struct fam *f = swarm_fam(t, s, is6, !stopped);
    if (!f) {
        swarm_fill_stats(s, out);
        return stopped ? 0 : SHOAL_ENOMEM;
    }
    struct bucket *b = fam_bucket_for(t, f, key, klen);
    uint32_t pos;
    int found = bucket_find(b, klen, key, &pos);
    uint16_t tick = (uint16_t)(t->now_tick & TAG_TIME);
    int seeder = a->left == 0;
    int done = a->event == SWARM_EVENT_COMPLETED;

    if (stopped) {
        if (found) {
            int was_seeder = (tags_of(b, klen)[pos] & TAG_SEEDER) != 0;
            bucket_remove(b, klen, pos);
            bucket_maybe_shrink(t, b, klen);
            f->n--;
            f->seeders -= (uint32_t)was_seeder;
            count_peers(t, is6, -1, -was_seeder);
            fam_rebalance(t, f, klen);
        }
    } else if (found) {
        uint16_t *tg = &tags_of(b, klen)[pos];
        int was_seeder = (*tg & TAG_SEEDER) != 0;
        uint16_t flags = *tg & TAG_DONE;
        if (done && !flags) {
            flags = TAG_DONE;
            s->completed += s->completed != UINT32_MAX;
        }
        *tg = (uint16_t)(flags | (seeder ? TAG_SEEDER : 0) | tick);
        f->seeders += (uint32_t)(seeder - was_seeder);
        count_peers(t, is6, 0, seeder - was_seeder);
    } else {
        if (t->npeers >= t->max_peers && make_room(t, 0, s) != 0) {
            t->refused++;
            swarm_fill_stats(s, out);
            return SHOAL_ETOOBIG;
        }
        uint16_t tag =
            (uint16_t)((seeder ? TAG_SEEDER : 0) | (done ? TAG_DONE : 0) | tick);
        int rc = bucket_insert(t, b, klen, pos, key, tag);
        if (rc)
            return rc;
        if (done)
            s->completed += s->completed != UINT32_MAX;
        f->n++;
        f->seeders += (uint32_t)seeder;
        count_peers(t, is6, 1, seeder);
        fam_rebalance(t, f, klen);
    }
    swarm_fill_stats(s, out);
    return 0;
}

/* Where a walk over a family's peers stands: bucket b covers the peers
 * numbered base .. base + n - 1. */
struct cursor {
    uint32_t b;
    size_t base;
};

static struct bucket *
seek(struct fam *f, struct cursor *c, size_t idx, uint32_t *off)
{
    while (idx >= c->base + bucket_at(f, c->b)->n) {
        c->base += bucket_at(f, c->b)->n;
        c->b++;
    }
    *off = (uint32_t)(idx - c->base);
    return bucket_at(f, c->b);
}

struct sampler {
    const struct swarm_table *t;
    size_t klen;
    const uint8_t *exclude; /* asker's record, or NULL */
    int leechers_only;
    uint8_t *out;
    size_t k;    /* records wanted */
    size_t n;    /* records written */
    size_t seen; /* eligible records seen (reservoir) */
    uint64_t *rng;
};

static int
eligible(const struct sampler *sm, const uint8_t *r, uint16_t tag)
{
    if (sm->leechers_only && (tag & TAG_SEEDER))
        return 0;
    if (expired(sm->t, tag))
        return 0;
    return !sm->exclude || rec_cmp(r, sm->exclude, sm->klen) != 0;
}

/* Reservoir sampling (Vitter's algorithm R) over every peer of the family:
 * an exact uniform sample, for small families. */
static void
sample_all(struct sampler *sm, struct fam *f)
{
    for (uint32_t i = 0; i < f->nb; i++) {
        const struct bucket *b = bucket_at(f, i);
        const uint16_t *tg = tags_of(b, sm->klen);
        for (uint32_t j = 0; j < b->n; j++) {
            const uint8_t *r = b->mem + (size_t)j * sm->klen;
            if (!eligible(sm, r, tg[j]))
                continue;
            size_t slot = sm->seen < sm->k ? sm->seen : rand_below(sm->rng, sm->seen + 1);
            sm->seen++;
            if (slot < sm->k) {
                memcpy(sm->out + slot * sm->klen, r, sm->klen);
                if (slot == sm->n)
                    sm->n++;
            }
        }
    }
}

/* One peer from each of k equal runs of the family (k < f->n). */
static void
sample_strata(struct sampler *sm, struct fam *f)
{
    struct cursor c = {0, 0};
    size_t total = f->n;
    int probes = sm->leechers_only ? LEECHER_PROBES : PROBES;
    for (size_t i = 0; i < sm->k; i++) {
        size_t lo = i * total / sm->k, hi = (i + 1) * total / sm->k;
        size_t len = hi - lo;
        if (len == 0)
            continue;
        uint32_t off;
        seek(f, &c, lo, &off);
        struct cursor start = c;
        size_t r = rand_below(sm->rng, len);
        for (int p = 0; p < probes && (size_t)p < len; p++) {
            size_t idx = lo + (r + (size_t)p) % len;
            if (idx < c.base)
                c = start;
            const struct bucket *b = seek(f, &c, idx, &off);
            const uint8_t *rec = b->mem + (size_t)off * sm->klen;
            if (eligible(sm, rec, tags_of(b, sm->klen)[off])) {
                memcpy(sm->out + sm->n * sm->klen, rec, sm->klen);
                sm->n++;
                break;
            }
        }
    }
}

size_t
swarm_table_sample(struct swarm_table *t, const uint8_t ih[20], int family,
                   size_t numwant, const uint8_t *exclude_ip, uint16_t exclude_port,
                   uint64_t *rng, uint8_t *out, size_t outcap)
{
    if (family != 4 && family != 6)
        return 0;
    int is6 = family == 6;
    size_t klen = klen_of(is6);
    struct swarm *s = lookup(t, ih);
    if (!s)
        return 0;
    struct fam *f = swarm_fam(t, s, is6, 0);
    size_t k = outcap / klen < numwant ? outcap / klen : numwant;
    if (!f || f->n == 0 || k == 0)
        return 0;

    struct sampler sm = {.t = t, .klen = klen, .out = out, .k = k, .rng = rng};
    uint8_t key[SWARM_REC6];
    if (exclude_ip) {
        memcpy(key, exclude_ip, klen - 2);
        key[klen - 2] = (uint8_t)(exclude_port >> 8);
        key[klen - 1] = (uint8_t)exclude_port;
        sm.exclude = key;
        struct bucket *b = fam_bucket_for(t, f, key, klen);
        uint32_t pos;
        if (bucket_find(b, klen, key, &pos))
            sm.leechers_only = (tags_of(b, klen)[pos] & TAG_SEEDER) != 0;
    }
    if (f->n <= SCAN_ALL_MAX || f->n <= k)
        sample_all(&sm, f);
    else
        sample_strata(&sm, f);

    /* Fisher-Yates, so that a client that tries only the first few peers
     * does not always try the lowest addresses. */
    uint8_t tmp[SWARM_REC6];
    for (size_t i = sm.n; i > 1; i--) {
        size_t j = rand_below(rng, i);
        if (j == i - 1)
            continue;
        memcpy(tmp, out + (i - 1) * klen, klen);
        memcpy(out + (i - 1) * klen, out + j * klen, klen);
        memcpy(out + j * klen, tmp, klen);
    }
    return sm.n * klen;
}

int
swarm_table_scrape(struct swarm_table *t, const uint8_t ih[20], struct swarm_stats *out)
{
    struct swarm *s = lookup(t, ih);
    if (!s || (!t->open && !s->registered)) {
        memset(out, 0, sizeof(*out));
        return t->open ? 0 : SWARM_ENOTREGISTERED;
    }
    swarm_fill_stats(s, out);
    return 0;
}

/* Drops the expired peers of one bucket; returns how many. */
static size_t
sweep_bucket(struct swarm_table *t, struct fam *f, struct bucket *b, int is6)
{
    size_t klen = klen_of(is6);
    uint16_t *tg = tags_of(b, klen);
    uint32_t w = 0, gone_seeders = 0;
    for (uint32_t j = 0; j < b->n; j++) {
        if (expired(t, tg[j])) {
            gone_seeders += (tg[j] & TAG_SEEDER) != 0;
            continue;
        }
        if (w != j) {
            memcpy(b->mem + (size_t)w * klen, b->mem + (size_t)j * klen, klen);
            tg[w] = tg[j];
        }
        w++;
    }
    size_t gone = b->n - w;
    if (gone == 0)
        return 0;
    b->n = w;
    f->n -= (uint32_t)gone;
    f->seeders -= gone_seeders;
    count_peers(t, is6, -(long)gone, -(long)gone_seeders);
    bucket_maybe_shrink(t, b, klen);
    return gone;
}

size_t
swarm_table_sweep(struct swarm_table *t, uint64_t now_s, size_t budget)
{
    set_now(t, now_s);
    size_t removed = 0, work = 0;
    while (work < budget && t->nswarms > 0) {
        if (t->sw_idx >= t->nswarms)
            t->sw_idx = 0;
        struct swarm *s = t->dense[t->sw_idx];
        work++;
        if (s != t->sw_swarm) {
            t->sw_swarm = s;
            t->sw_sub = 0;
        }
        uint32_t nb4 = s->v4.nb, nb6 = s->v6 ? s->v6->nb : 0;
        if (t->sw_sub < nb4 + nb6) {
            int is6 = t->sw_sub >= nb4;
            struct fam *f = is6 ? s->v6 : &s->v4;
            struct bucket *b = bucket_at(f, is6 ? t->sw_sub - nb4 : t->sw_sub);
            work += b->n;
            removed += sweep_bucket(t, f, b, is6);
            t->sw_sub++;
            continue;
        }
        /* Every bucket of this swarm is done: tidy it up. */
        fam_rebalance(t, &s->v4, SWARM_REC4);
        if (s->v6) {
            fam_rebalance(t, s->v6, SWARM_REC6);
            if (s->v6->n == 0) {
                fam_clear(t, s->v6, 1);
                xfree(s->v6);
                s->v6 = NULL;
                t->mem -= sizeof(struct fam) + ALLOC_OVERHEAD;
            }
        }
        t->sw_swarm = NULL;
        if (swarm_peers(s) == 0 && !s->registered && swarm_age(t, s) > t->timeout_s) {
            /* The last swarm moves into this place: look at it next. */
            swarm_destroy(t, s);
        } else {
            t->sw_idx++;
        }
    }
    t->expired_peers += removed;
    return removed;
}

void
swarm_table_stats(const struct swarm_table *t, struct swarm_table_totals *out)
{
    out->swarms = t->nswarms;
    out->peers = t->npeers;
    out->peers6 = t->npeers6;
    out->seeders = t->nseeders;
    out->mem_bytes = t->mem;
    out->evicted_swarms = t->evicted_swarms;
    out->evicted_peers = t->evicted_peers;
    out->expired_peers = t->expired_peers;
    out->refused = t->refused;
}

size_t
swarm_table_foreach(const struct swarm_table *t, swarm_table_cb cb, void *user)
{
    size_t calls = 0;
    for (size_t i = 0; i < t->nswarms; i++) {
        const struct swarm *s = t->dense[i];
        struct swarm_stats st;
        swarm_fill_stats(s, &st);
        calls++;
        if (cb(s->ih, &st, user))
            break;
    }
    return calls;
}
