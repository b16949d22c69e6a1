/*
 * swarm_table.c — the tracker's peer store: a hash of swarms, each holding
 * its peers as compact wire records in sorted buckets. Engine layer, pure:
 * no sockets, no clock, no globals; the caller passes the time.
 *
 * Memory layout of one bucket: one block holding `cap` records of klen
 * bytes (6 or 18, exactly the BEP 23 / BEP 7 wire form) followed by `cap`
 * one-byte tags. The leechers come first and the seeders after them, each
 * run sorted by its bytes, which is (ip, port) order because both are stored
 * big-endian. Keeping the two runs apart lets a seeder's sample draw from
 * the leechers alone, with no rejection, so its cost does not depend on how
 * many seeders the swarm has. Swarms are allocated one by one so that a
 * pointer to a swarm stays valid while the hash table moves its slots
 * around.
 */
#include "engine/swarm_table.h"

#include <string.h>

#include "base/alloc.h"
#include "base/rng.h"
#include "base/siphash.h"
#include "base/util.h"

/* Allocator bookkeeping per heap block, counted in the memory estimate
 * (glibc: an 8-byte header and rounding to 16). */
#define ALLOC_OVERHEAD 16
/* Coarse ticks per peer timeout: a peer expires at most 1/8 late (16 ticks,
 * rounded), and a peer timeout is at most 32 ticks, so the 7-bit tick wraps
 * no sooner than 3 timeouts after an expiry (the sweeper's deadline). */
#define TICKS_PER_TIMEOUT 16
/* Tag bits: completion counted, and the tick of the last announce modulo
 * 2^7. Whether the peer seeds is told by the run it sits in. */
#define TAG_DONE 0x80u
#define TAG_TIME 0x7fu
/* The swarm hash starts this small and doubles at half load. */
#define MIN_SLOTS 64
/* Samples from at most this many candidates are drawn exactly (reservoir
 * over all of them); from more, in strata, which costs O(numwant). A walk
 * over 64 records costs about what 50 strata draws do. */
#define SCAN_ALL_MAX 64
/* Probes per stratum: the first at random, then its neighbours, so that an
 * expired peer or the asker is stepped over. */
#define PROBES 3
/* A family halves its buckets when they average fewer peers than this. */
#define MERGE_BELOW (SWARM_BUCKET_TARGET / 8)
/* Most buckets per family: 2^20 buckets of 512 peers is far beyond any
 * swarm; the bucket count is a uint32. */
#define MAX_BUCKETS (1u << 20)
/* No swarm, in the links of the one-shot lists (dense indices). */
#define NIL UINT32_MAX
/* Empty one-shot swarms cleared away per announce when it needs room for a
 * peer: they free none, so they count no eviction try, but stay bounded. */
#define EVICT_EMPTY_MAX 64

struct bucket {
    uint8_t *mem; /* cap records, then cap tags */
    uint32_t n;   /* records [0, nl) are leechers, [nl, n) seeders */
    uint32_t nl;
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

/*
 * What a swarm has shown of its peers, in the order eviction spares it. A
 * swarm one announce made (a flood of random infohashes makes nothing else)
 * sits on the list of its kind, oldest first; an announce that comes
 * SWARM_PROVE_S or more after the swarm was made (a peer that came back on
 * its interval, or a second peer later) proves it and takes it off, so a
 * flood that announces each infohash twice in a row proves nothing. A
 * swarm left without peers goes to the front of KIND_ONESHOT: it holds
 * nothing worth keeping. Eviction takes those empty ones first, then the
 * newest one-shot swarm, so that a flood replaces its own latest swarms and
 * the one-shot swarms that were there before it (a lone seeder waiting for
 * its next announce) stay.
 */
enum swarm_kind {
    KIND_ONESHOT = 0,      /* one announce from a leecher, or no peers */
    KIND_ONESHOT_SEED = 1, /* one announce, from a seeder */
    KIND_PROVEN = 2,       /* announced to again, or registered: on no list */
};

struct swarm {
    uint8_t ih[20];
    uint32_t hash; /* low bits pick the home slot */
    uint32_t last; /* now_s of the last announce, modulo 2^32 */
    uint32_t completed;
    uint32_t idx;        /* position in the table's dense array */
    uint32_t prev, next; /* dense indices of the neighbours on its kind's list */
    uint8_t registered;
    uint8_t kind;  /* enum swarm_kind */
    uint16_t born; /* now_s when made, modulo 2^16: fits the padding here */
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
    /* The one-shot lists, by kind: dense indices, oldest at the head. */
    uint32_t head[KIND_PROVEN], tail[KIND_PROVEN];
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

static size_t
rand_below(uint64_t *s, size_t n)
{
    return (size_t)(((unsigned __int128)rng_next(s) * n) >> 64);
}

/* Draws below n (< 2^32) two to a 64-bit random number, for loops that
 * draw once per peer: the high half of a 32 x 32-bit product, biased by
 * less than n / 2^32. */
struct draws {
    uint64_t *s;
    uint64_t bits;
    int left;
};

static uint32_t
draw_below(struct draws *d, uint32_t n)
{
    if (d->left == 0) {
        d->bits = rng_next(d->s);
        d->left = 2;
    }
    uint32_t x = (uint32_t)d->bits;
    d->bits >>= 32;
    d->left--;
    return (uint32_t)(((uint64_t)x * n) >> 32);
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

static uint8_t *
tags_of(const struct bucket *b, size_t klen)
{
    return b->mem ? b->mem + (size_t)b->cap * klen : NULL;
}

static size_t
block_size(uint32_t cap, size_t klen)
{
    return cap ? (size_t)cap * (klen + 1) + ALLOC_OVERHEAD : 0;
}

/*
 * The capacity to ask for when at least `want` entries must fit: rounded up
 * to fill the block the allocator hands out anyway (glibc: sizes of 16k - 8
 * bytes, 24 at least), so the rounding holds records instead of nothing.
 */
static uint32_t
fit_cap(size_t want, size_t klen)
{
    size_t chunk = (want * (klen + 1) + 8 + 15) & ~(size_t)15;
    if (chunk < 32)
        chunk = 32;
    return (uint32_t)((chunk - 8) / (klen + 1));
}

static struct bucket *
bucket_at(struct fam *f, uint32_t i)
{
    return f->nb <= 1 ? &f->one : &f->many[i];
}

static int
expired(const struct swarm_table *t, uint8_t tag)
{
    return ((t->now_tick - tag) & TAG_TIME) > t->timeout_ticks;
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

/* Binary search for key among the records [lo, hi): 1 and its index when
 * present, else 0 and the index where it would go. */
static int
run_find(const struct bucket *b, size_t klen, uint32_t lo, uint32_t hi,
         const uint8_t *key, uint32_t *pos)
{
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

/*
 * Looks for key in the run of `seeder` first (a peer mostly announces what it
 * announced before), then in the other run. Found: returns 1, its index in
 * *pos and its run in *was_seeder. Not found: returns 0 and in *pos the
 * index where it goes in the run of `seeder`.
 */
static int
bucket_find(const struct bucket *b, size_t klen, const uint8_t *key, int seeder,
            uint32_t *pos, int *was_seeder)
{
    uint32_t ins;
    if (run_find(b, klen, seeder ? b->nl : 0, seeder ? b->n : b->nl, key, &ins)) {
        *pos = ins;
        *was_seeder = seeder;
        return 1;
    }
    if (run_find(b, klen, seeder ? 0 : b->nl, seeder ? b->nl : b->n, key, pos)) {
        *was_seeder = !seeder;
        return 1;
    }
    *pos = ins;
    return 0;
}

/*
 * Moves the bucket to a block of newcap (>= n) entries. realloc, so that a
 * block with free room after it grows in place instead of moving and leaving
 * a hole; the tags then move to their new offset.
 */
static int
bucket_resize(struct swarm_table *t, struct bucket *b, size_t klen, uint32_t newcap)
{
    if (newcap == 0) {
        t->mem -= block_size(b->cap, klen);
        xfree(b->mem);
        b->mem = NULL;
        b->cap = 0;
        b->n = b->nl = 0;
        return 0;
    }
    uint8_t *old = b->mem;
    size_t from = (size_t)b->cap * klen, to = (size_t)newcap * klen;
    if (old && to < from)
        memmove(old + to, old + from, b->n);
    uint8_t *mem = xreallocarray(old, newcap, klen + 1);
    if (!mem) {
        /* The old block stays; put its tags back. */
        if (old && to < from)
            memmove(old + from, old + to, b->n);
        return SHOAL_ENOMEM;
    }
    if (to > from && b->n)
        memmove(mem + to, mem + from, b->n);
    t->mem += block_size(newcap, klen);
    t->mem -= block_size(b->cap, klen);
    b->mem = mem;
    b->cap = newcap;
    return 0;
}

/* After a peer left: gives back memory once more than 3/8 of the block is
 * unused (a bucket that grew in steps of an eighth never is; one that got
 * room for growth at a split and stopped growing is, at its first leaving
 * peer). */
static void
bucket_maybe_shrink(struct swarm_table *t, struct bucket *b, size_t klen)
{
    if (b->n == 0)
        bucket_resize(t, b, klen, 0);
    else if (b->cap > 16 && b->n < b->cap - b->cap * 3 / 8)
        bucket_resize(t, b, klen, fit_cap(b->n + b->n / 8 + 2, klen));
}

/* Opens a gap at pos, which must lie in the run the peer belongs to, and
 * writes the record there. The block must have room. */
static void
bucket_put(struct bucket *b, size_t klen, uint32_t pos, const uint8_t *key, uint8_t tag,
           int seeder)
{
    uint8_t *r = b->mem + (size_t)pos * klen;
    uint8_t *tg = tags_of(b, klen);
    memmove(r + klen, r, (size_t)(b->n - pos) * klen);
    memmove(tg + pos + 1, tg + pos, b->n - pos);
    memcpy(r, key, klen);
    tg[pos] = tag;
    b->n++;
    b->nl += !seeder;
}

static int
bucket_insert(struct swarm_table *t, struct bucket *b, size_t klen, uint32_t pos,
              const uint8_t *key, uint8_t tag, int seeder)
{
    if (b->n == b->cap) {
        /* Small steps: a bucket wastes at most an eighth of its block, and
         * with realloc a step costs one copy of at most a bucket. */
        int rc = bucket_resize(t, b, klen, fit_cap(b->cap + b->cap / 8 + 1, klen));
        if (rc)
            return rc;
    }
    bucket_put(b, klen, pos, key, tag, seeder);
    return 0;
}

static void
bucket_remove(struct bucket *b, size_t klen, uint32_t pos)
{
    uint8_t *r = b->mem + (size_t)pos * klen;
    uint8_t *tg = tags_of(b, klen);
    memmove(r, r + klen, (size_t)(b->n - pos - 1) * klen);
    memmove(tg + pos, tg + pos + 1, b->n - pos - 1);
    b->nl -= pos < b->nl;
    b->n--;
}

/* Moves the record at pos into the other run (a leecher that finished, or a
 * seeder that turned back into a leecher), with a new tag. Returns its new
 * index. */
static uint32_t
bucket_switch(struct bucket *b, size_t klen, uint32_t pos, uint8_t tag, int seeder)
{
    uint8_t key[SWARM_REC6];
    memcpy(key, b->mem + (size_t)pos * klen, klen);
    bucket_remove(b, klen, pos);
    uint32_t at;
    run_find(b, klen, seeder ? b->nl : 0, seeder ? b->n : b->nl, key, &at);
    /* One record out, one in: the block has room, nothing is allocated. */
    bucket_put(b, klen, at, key, tag, seeder);
    return at;
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
 * bit. Each half keeps the order of the source, so its leechers come first
 * and both runs stay sorted. The records that stay are packed in place in
 * their old block (which holds more than SWARM_BUCKET_TARGET), and the new
 * half gets room for about SWARM_BUCKET_TARGET: a swarm that splits is
 * growing, and each half fills that room before the next split without a
 * realloc on the way. Blocks freed and regrown while swarms grow side by
 * side leave holes in the heap too small for what comes after them, which
 * cost more than the room (measured, 1000 swarms growing to 1000 peers:
 * 8.6 to 9.3 bytes of RSS per peer this way, 9.6 to 9.8 with halves sized
 * to fit). A swarm that stops growing gives the room back as its peers
 * come and go (bucket_maybe_shrink). On failure nothing changes (buckets
 * are only a speed-up).
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
        uint32_t room = fit_cap(SWARM_BUCKET_TARGET + SWARM_BUCKET_TARGET / 32, klen);
        if (hi && bucket_resize(t, &nw[i + nb], klen, hi > room ? hi : room)) {
            for (uint32_t j = nb; j < nb2; j++)
                bucket_resize(t, &nw[j], klen, 0);
            xfree(nw);
            return;
        }
    }
    for (uint32_t i = 0; i < nb; i++) {
        struct bucket *o = bucket_at(f, i), *d = &nw[i + nb];
        uint8_t *otg = tags_of(o, klen);
        uint32_t w = 0, wl = 0;
        for (uint32_t j = 0; j < o->n; j++) {
            uint8_t *r = o->mem + (size_t)j * klen;
            uint32_t h = (uint32_t)keyed_hash(t, r, klen);
            if (h & nb) {
                memcpy(d->mem + (size_t)d->n * klen, r, klen);
                tags_of(d, klen)[d->n++] = otg[j];
                d->nl += j < o->nl;
            } else {
                /* w <= j: packing forward never overwrites what is unread. */
                memmove(o->mem + (size_t)w * klen, r, klen);
                otg[w++] = otg[j];
                wl += j < o->nl;
            }
        }
        nw[i] = *o;
        nw[i].n = w;
        nw[i].nl = wl;
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

/* Appends the merge of a's records [xa, ya) and b's [xb, yb), two sorted
 * runs, to d, which has room. */
static void
merge_runs(struct bucket *d, const struct bucket *a, uint32_t xa, uint32_t ya,
           const struct bucket *b, uint32_t xb, uint32_t yb, size_t klen)
{
    const uint8_t *ta = tags_of(a, klen), *tb = tags_of(b, klen);
    uint8_t *td = tags_of(d, klen);
    while (xa < ya || xb < yb) {
        int take_a =
            xb >= yb || (xa < ya && rec_cmp(a->mem + (size_t)xa * klen,
                                            b->mem + (size_t)xb * klen, klen) < 0);
        const uint8_t *r =
            take_a ? a->mem + (size_t)xa * klen : b->mem + (size_t)xb * klen;
        uint8_t tg = take_a ? ta[xa++] : tb[xb++];
        memcpy(d->mem + (size_t)d->n * klen, r, klen);
        td[d->n++] = tg;
    }
}

/* Halves the buckets: i and i + nb/2 merge back, leechers with leechers and
 * seeders with seeders. */
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
        if (n && bucket_resize(t, d, klen, fit_cap(n + n / 8 + 2, klen)) != 0) {
            for (uint32_t j = 0; j <= i; j++)
                bucket_resize(t, half > 1 ? &nw[j] : &single, klen, 0);
            xfree(nw);
            return;
        }
    }
    for (uint32_t i = 0; i < half; i++) {
        struct bucket *d = half > 1 ? &nw[i] : &single;
        struct bucket *a = &f->many[i], *b = &f->many[i + half];
        merge_runs(d, a, 0, a->nl, b, 0, b->nl, klen);
        d->nl = d->n;
        merge_runs(d, a, a->nl, a->n, b, b->nl, b->n, klen);
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

/* ------------------------------------------------------------------ kinds */

/* Takes s off its kind's list; it is KIND_PROVEN afterwards. */
static void
kind_unlink(struct swarm_table *t, struct swarm *s)
{
    if (s->kind == KIND_PROVEN)
        return;
    if (s->prev != NIL)
        t->dense[s->prev]->next = s->next;
    else
        t->head[s->kind] = s->next;
    if (s->next != NIL)
        t->dense[s->next]->prev = s->prev;
    else
        t->tail[s->kind] = s->prev;
    s->kind = KIND_PROVEN;
}

/* Puts s on the list of `kind` (on none for KIND_PROVEN): at the back, or
 * at the front, where eviction looks first. O(1). */
static void
set_kind(struct swarm_table *t, struct swarm *s, int kind, int front)
{
    kind_unlink(t, s);
    s->kind = (uint8_t)kind;
    if (kind == KIND_PROVEN)
        return;
    uint32_t i = s->idx;
    if (front) {
        s->prev = NIL;
        s->next = t->head[kind];
        if (s->next != NIL)
            t->dense[s->next]->prev = i;
        else
            t->tail[kind] = i;
        t->head[kind] = i;
    } else {
        s->next = NIL;
        s->prev = t->tail[kind];
        if (s->prev != NIL)
            t->dense[s->prev]->next = i;
        else
            t->head[kind] = i;
        t->tail[kind] = i;
    }
}

/* s moves to dense index `to`: its neighbours on its list follow it. */
static void
kind_moved(struct swarm_table *t, struct swarm *s, uint32_t to)
{
    if (s->kind == KIND_PROVEN)
        return;
    if (s->prev != NIL)
        t->dense[s->prev]->next = to;
    else
        t->head[s->kind] = to;
    if (s->next != NIL)
        t->dense[s->next]->prev = to;
    else
        t->tail[s->kind] = to;
}

static void
swarm_destroy(struct swarm_table *t, struct swarm *s)
{
    int found;
    size_t slot = slot_of(t, s->ih, s->hash, &found);
    slot_remove(t, slot);
    kind_unlink(t, s);
    /* The last swarm of the dense array takes this one's place. */
    struct swarm *moved = t->dense[--t->nswarms];
    if (moved != s)
        kind_moved(t, moved, s->idx);
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
    s->born = (uint16_t)t->now_s;
    s->registered = (uint8_t)registered;
    s->kind = KIND_PROVEN;
    s->v4.nb = 1;
    int found;
    t->slot[slot_of(t, ih, s->hash, &found)] = s;
    s->idx = (uint32_t)t->nswarms;
    t->dense[t->nswarms++] = s;
    if (!registered)
        set_kind(t, s, KIND_ONESHOT, 0);
    t->mem += sizeof(*s) + ALLOC_OVERHEAD;
    return s;
}

/* ------------------------------------------------------------------ eviction */

/*
 * The victim when every swarm is proven, among SWARM_EVICT_SAMPLE at random: first a
 * swarm nobody announced to for a peer timeout (all its peers are stale), then the one
 * with the fewest peers (peers are the announce rate: a flood of random infohashes makes
 * one-peer swarms, a popular swarm has many), then the one announced to least recently.
 * Skips `protect` and, when want_swarm, registered swarms; when freeing peers, swarms
 * without any.
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

/* The one-shot swarm to evict other than `protect`, a leecher's before a
 * seeder's: one without peers at the front of its list, else the newest;
 * NULL when every swarm is proven. */
static struct swarm *
pick_oneshot(struct swarm_table *t, const struct swarm *protect)
{
    for (int k = KIND_ONESHOT; k < KIND_PROVEN; k++) {
        uint32_t i = t->head[k];
        if (i != NIL && t->dense[i] == protect)
            i = protect->next;
        if (i != NIL && swarm_peers(t->dense[i]) == 0)
            return t->dense[i];
        i = t->tail[k];
        if (i != NIL && t->dense[i] == protect)
            i = protect->prev;
        if (i != NIL)
            return t->dense[i];
    }
    return NULL;
}

/*
 * Makes room for one more swarm (want_swarm) or one more peer. One-shot
 * swarms go first, empty ones and then the newest, so that a flood of
 * random infohashes replaces its own swarms and never reaches a proven one
 * while any one-shot swarm is left; only when none is left does the sample of
 * pick_victim() choose among proven swarms.
 */
static int
make_room(struct swarm_table *t, int want_swarm, const struct swarm *protect)
{
    int tries = 0, empties = 0;
    for (;;) {
        int full = want_swarm ? t->nswarms >= t->max_swarms : t->npeers >= t->max_peers;
        if (!full)
            return 0;
        if (tries == SWARM_EVICT_TRIES || t->nswarms == 0)
            return SHOAL_ETOOBIG;
        struct swarm *v = pick_oneshot(t, protect);
        if (v && !want_swarm && swarm_peers(v) == 0 && empties < EVICT_EMPTY_MAX) {
            empties++;
            evict(t, v);
            continue;
        }
        if (!v)
            v = pick_victim(t, protect, want_swarm);
        if (v)
            evict(t, v);
        tries++;
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
    for (int k = 0; k < KIND_PROVEN; k++)
        t->head[k] = t->tail[k] = NIL;
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
        set_kind(t, s, KIND_PROVEN, 0);
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

/* Where an announce left the peer, for a sample that follows it. */
struct placed {
    struct fam *f;
    const uint8_t *rec; /* the peer's record; NULL when it is not in the table */
    int seeder;
};

static int
announce(struct swarm_table *t, const struct swarm_announce *a, uint64_t now_s,
         struct swarm_stats *out, struct placed *pl)
{
    pl->rec = NULL;
    if ((a->family != 4 && a->family != 6) || a->port == 0)
        return SHOAL_EINVAL;
    int is6 = a->family == 6;
    size_t klen = klen_of(is6);
    uint8_t key[SWARM_REC6];
    memcpy(key, a->ip, klen - 2);
    be16_put(key + klen - 2, a->port);
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
        if (a->left == 0)
            set_kind(t, s, KIND_ONESHOT_SEED, 0);
    } else if (!stopped && s->kind != KIND_PROVEN &&
               (uint16_t)(t->now_s - s->born) >= SWARM_PROVE_S) {
        /* Announced to again a while after it was made: a peer that came
         * back on its interval, or another one that found it. */
        set_kind(t, s, KIND_PROVEN, 0);
    }
    s->last = t->now_s;

    struct fam *f = swarm_fam(t, s, is6, !stopped);
    if (!f) {
        swarm_fill_stats(s, out);
        return stopped ? 0 : SHOAL_ENOMEM;
    }
    struct bucket *b = fam_bucket_for(t, f, key, klen);
    int seeder = a->left == 0;
    uint32_t pos;
    int was_seeder = 0;
    int found = bucket_find(b, klen, key, seeder, &pos, &was_seeder);
    uint8_t tick = (uint8_t)(t->now_tick & TAG_TIME);
    int done = a->event == SWARM_EVENT_COMPLETED;

    if (stopped) {
        if (found) {
            bucket_remove(b, klen, pos);
            bucket_maybe_shrink(t, b, klen);
            f->n--;
            f->seeders -= (uint32_t)was_seeder;
            count_peers(t, is6, -1, -was_seeder);
            fam_rebalance(t, f, klen);
            if (swarm_peers(s) == 0 && !s->registered)
                set_kind(t, s, KIND_ONESHOT, 1);
        }
    } else if (found) {
        uint8_t *tg = &tags_of(b, klen)[pos];
        uint8_t flags = *tg & TAG_DONE;
        if (done && !flags) {
            flags = TAG_DONE;
            s->completed += s->completed != UINT32_MAX;
        }
        if (seeder == was_seeder)
            *tg = (uint8_t)(flags | tick);
        else
            pos = bucket_switch(b, klen, pos, (uint8_t)(flags | tick), seeder);
        f->seeders += (uint32_t)(seeder - was_seeder);
        count_peers(t, is6, 0, seeder - was_seeder);
        pl->rec = b->mem + (size_t)pos * klen;
    } else {
        if (t->npeers >= t->max_peers && make_room(t, 0, s) != 0) {
            t->refused++;
            swarm_fill_stats(s, out);
            return SHOAL_ETOOBIG;
        }
        uint8_t tag = (uint8_t)((done ? TAG_DONE : 0) | tick);
        int rc = bucket_insert(t, b, klen, pos, key, tag, seeder);
        if (rc)
            return rc;
        if (done)
            s->completed += s->completed != UINT32_MAX;
        f->n++;
        f->seeders += (uint32_t)seeder;
        count_peers(t, is6, 1, seeder);
        uint32_t nb = f->nb;
        fam_rebalance(t, f, klen);
        if (f->nb != nb) {
            /* The buckets were split: the record moved. */
            b = fam_bucket_for(t, f, key, klen);
            bucket_find(b, klen, key, seeder, &pos, &was_seeder);
        }
        pl->rec = b->mem + (size_t)pos * klen;
    }
    pl->f = f;
    pl->seeder = seeder;
    swarm_fill_stats(s, out);
    return 0;
}

int
swarm_table_announce(struct swarm_table *t, const struct swarm_announce *a,
                     uint64_t now_s, struct swarm_stats *out)
{
    struct placed pl;
    return announce(t, a, now_s, out, &pl);
}

/* Where a walk over the candidates of a family stands: bucket b holds the
 * candidates numbered base .. base + cands(b) - 1. */
struct cursor {
    uint32_t b;
    size_t base;
};

struct sampler {
    const struct swarm_table *t;
    size_t klen;
    const uint8_t *exclude; /* the asker's record in the table, or NULL */
    int leechers_only;      /* candidates: each bucket's leecher run only */
    size_t k;               /* records wanted, at most SWARM_SAMPLE_MAX */
    size_t n;               /* records picked */
    size_t seen;            /* eligible records seen (reservoir) */
    uint64_t *rng;
    struct draws rnd; /* from *rng */
    /* k slots: the picks point into the buckets and are copied out once,
     * at the end, so that no record is written twice. */
    const uint8_t **pick;
};

/* The candidates of a bucket are its first cands() records. */
static uint32_t
cands(const struct sampler *sm, const struct bucket *b)
{
    return sm->leechers_only ? b->nl : b->n;
}

static struct bucket *
seek(const struct sampler *sm, struct fam *f, struct cursor *c, size_t idx, uint32_t *off)
{
    if (f->nb <= 1) {
        *off = (uint32_t)idx;
        return &f->one;
    }
    /* One tight loop per kind of count: in a swarm of a million peers this
     * walks two thousand bucket headers per sample. */
    const struct bucket *bk = f->many;
    uint32_t b = c->b;
    size_t base = c->base;
    if (sm->leechers_only)
        while (idx >= base + bk[b].nl)
            base += bk[b++].nl;
    else
        while (idx >= base + bk[b].n)
            base += bk[b++].n;
    c->b = b;
    c->base = base;
    *off = (uint32_t)(idx - base);
    return &f->many[b];
}

/* Candidates are of the right kind already; this steps over the asker and
 * peers that expired but were not swept yet. The asker is told by where its
 * record is, so a draw's record need not be read until it is copied out. */
static int
eligible(const struct sampler *sm, const uint8_t *r, uint8_t tag)
{
    return !expired(sm->t, tag) && r != sm->exclude;
}

/* Reservoir sampling (Vitter's algorithm R) over every candidate: an exact
 * uniform sample, for few candidates. */
static void
sample_all(struct sampler *sm, struct fam *f)
{
    for (uint32_t i = 0; i < f->nb; i++) {
        const struct bucket *b = bucket_at(f, i);
        const uint8_t *tg = tags_of(b, sm->klen);
        uint32_t m = cands(sm, b);
        for (uint32_t j = 0; j < m; j++) {
            const uint8_t *r = b->mem + (size_t)j * sm->klen;
            if (!eligible(sm, r, tg[j]))
                continue;
            size_t slot = sm->seen < sm->k ? sm->seen : rand_below(sm->rng, sm->seen + 1);
            sm->seen++;
            if (slot < sm->k) {
                sm->pick[slot] = r;
                if (slot == sm->n)
                    sm->n++;
            }
        }
    }
}

/*
 * One candidate from each of k equal runs of the `total` candidates (total
 * >= 2k, so each run has two at least and the asker alone cannot empty one).
 * Every candidate is drawn with probability 1 / (its run's length), which
 * is k / total within one: a fair sample, in O(k) plus a walk over the
 * bucket headers. An ineligible draw moves on to its neighbours in the run.
 *
 * The draws are random reads over a bucket of several KiB, each likely a
 * cache miss; all of them are placed and prefetched before any is read, so
 * that the misses overlap instead of queueing.
 */
static void
sample_strata(struct sampler *sm, struct fam *f, size_t total)
{
    const uint8_t *tag[SWARM_SAMPLE_MAX];
    uint32_t r[SWARM_SAMPLE_MAX];
    struct cursor c = {0, 0};
    size_t klen = sm->klen, k = sm->k;
    /* Strata of total / k candidates, the first total % k of them one
     * longer (no division per stratum: they cost more than the rest). */
    size_t q = total / k, extra = total % k, lo = 0;
    for (size_t i = 0; i < k; i++) {
        size_t len = q + (i < extra);
        r[i] = draw_below(&sm->rnd, (uint32_t)len);
        uint32_t off;
        const struct bucket *b = seek(sm, f, &c, lo + r[i], &off);
        sm->pick[i] = b->mem + (size_t)off * klen;
        tag[i] = tags_of(b, klen) + off;
        __builtin_prefetch(sm->pick[i]);
        __builtin_prefetch(tag[i]);
        lo += len;
    }
    size_t n = 0;
    for (size_t i = 0; i < k; i++) {
        if (eligible(sm, sm->pick[i], *tag[i])) {
            sm->pick[n++] = sm->pick[i];
            continue;
        }
        /* Rare (the asker, or a peer the sweeper has not reached yet):
         * walk again from the start rather than keep a cursor per draw. */
        size_t len = q + (i < extra);
        lo = i * q + (i < extra ? i : extra);
        c = (struct cursor){0, 0};
        for (size_t p = 1; p < PROBES && p < len; p++) {
            size_t idx = lo + (r[i] + p) % len;
            if (idx < c.base)
                c = (struct cursor){0, 0};
            uint32_t off;
            const struct bucket *b = seek(sm, f, &c, idx, &off);
            const uint8_t *rec = b->mem + (size_t)off * klen;
            if (eligible(sm, rec, tags_of(b, klen)[off])) {
                sm->pick[n++] = rec;
                break;
            }
        }
    }
    sm->n = n;
}

/* A sample of family f for an asker whose record in the table is `asker`
 * (NULL: not among f's peers), a seeder or not; see swarm_table_sample(). A
 * seeder gets leechers only, whether its record is in f or in the swarm's
 * other family. */
static size_t
sample_fam(struct swarm_table *t, struct fam *f, int is6, size_t numwant,
           const uint8_t *asker, int seeder, uint64_t *rng, uint8_t *out, size_t outcap)
{
    size_t klen = klen_of(is6);
    size_t k = outcap / klen < numwant ? outcap / klen : numwant;
    k = k < SWARM_SAMPLE_MAX ? k : SWARM_SAMPLE_MAX;
    if (!f || f->n == 0 || k == 0)
        return 0;
    const uint8_t *pick[SWARM_SAMPLE_MAX];
    struct sampler sm = {.t = t,
                         .klen = klen,
                         .exclude = asker,
                         .leechers_only = seeder,
                         .k = k,
                         .rng = rng,
                         .rnd = {rng, 0, 0},
                         .pick = pick};
    size_t total = sm.leechers_only ? f->n - f->seeders : f->n;
    if (total <= SCAN_ALL_MAX || total < 2 * k)
        sample_all(&sm, f);
    else
        sample_strata(&sm, f, total);

    /* Fisher-Yates, so that a client that tries only the first few peers
     * does not always try the lowest addresses. */
    for (size_t i = sm.n; i > 1; i--) {
        uint32_t j = draw_below(&sm.rnd, (uint32_t)i);
        const uint8_t *tmp = pick[i - 1];
        pick[i - 1] = pick[j];
        pick[j] = tmp;
    }
    /* Constant sizes, so that each copy is a couple of moves. */
    if (is6)
        for (size_t i = 0; i < sm.n; i++)
            memcpy(out + i * SWARM_REC6, pick[i], SWARM_REC6);
    else
        for (size_t i = 0; i < sm.n; i++)
            memcpy(out + i * SWARM_REC4, pick[i], SWARM_REC4);
    return sm.n * klen;
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
    if (!f)
        return 0;
    const uint8_t *asker = NULL;
    int seeder = 0;
    if (exclude_ip) {
        uint8_t key[SWARM_REC6];
        memcpy(key, exclude_ip, klen - 2);
        be16_put(key + klen - 2, exclude_port);
        struct bucket *b = fam_bucket_for(t, f, key, klen);
        uint32_t pos;
        if (bucket_find(b, klen, key, 1, &pos, &seeder))
            asker = b->mem + (size_t)pos * klen;
    }
    return sample_fam(t, f, is6, numwant, asker, seeder, rng, out, outcap);
}

size_t
swarm_table_sample_other(struct swarm_table *t, const uint8_t ih[20], int family,
                         size_t numwant, int seeder, uint64_t *rng, uint8_t *out,
                         size_t outcap)
{
    if (family != 4 && family != 6)
        return 0;
    struct swarm *s = lookup(t, ih);
    if (!s)
        return 0;
    struct fam *f = swarm_fam(t, s, family == 6, 0);
    if (!f)
        return 0;
    return sample_fam(t, f, family == 6, numwant, NULL, seeder, rng, out, outcap);
}

int
swarm_table_announce_sample(struct swarm_table *t, const struct swarm_announce *a,
                            uint64_t now_s, struct swarm_stats *st, size_t numwant,
                            uint64_t *rng, uint8_t *out, size_t outcap, size_t *outlen)
{
    struct placed pl;
    *outlen = 0;
    int rc = announce(t, a, now_s, st, &pl);
    if (rc == 0 && pl.rec)
        *outlen = sample_fam(t, pl.f, a->family == 6, numwant, pl.rec, pl.seeder, rng,
                             out, outcap);
    return rc;
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
    uint8_t *tg = tags_of(b, klen);
    uint32_t w = 0, gone_leechers = 0, gone_seeders = 0;
    for (uint32_t j = 0; j < b->n; j++) {
        if (expired(t, tg[j])) {
            gone_leechers += j < b->nl;
            gone_seeders += j >= b->nl;
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
    b->nl -= gone_leechers;
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
            if (swarm_peers(s) == 0 && !s->registered)
                set_kind(t, s, KIND_ONESHOT, 1);
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
