/*
 * dht_table.c — the Kademlia routing table (BEP 5): buckets of k nodes that
 * split around our own id, node quality, replacement caches, closest-k
 * search and bucket refresh. Engine layer, pure: it must not touch a socket
 * or read the clock (now_ms comes in), and it allocates only when a bucket
 * splits, so a flood of nodes costs no memory beyond the structural cap.
 *
 * Buckets live in one array in prefix order: bucket i < n - 1 holds the ids
 * sharing exactly i leading bits with ours, the last bucket the rest. A
 * lookup of an id's bucket is one count of leading bits. Searches scan all
 * nodes: at most DHT_TABLE_MAX_NODES, in practice a few hundred.
 */
#include "engine/dht_table.h"

#include <string.h>

#include "base/alloc.h"
#include "base/rng.h"
#include "shoal.h"

struct tnode {
    uint8_t id[DHT_ID_LEN];
    struct dht_addr addr;
    uint8_t failures;
    uint8_t replied; /* ever replied: verified (last_reply is set) */
    uint8_t queried; /* last_query is set */
    uint8_t pinged;  /* pinged_ms is set */
    int64_t last_reply;
    int64_t last_query;
    int64_t pinged_ms; /* last handed out by dht_table_pings */
};

struct bucket {
    uint8_t n, nrepl;
    uint8_t stamped;    /* changed_ms is set */
    int64_t changed_ms; /* last add or reply */
    struct tnode nodes[DHT_TABLE_K];
    struct tnode repl[DHT_TABLE_REPLACEMENTS];
};

struct dht_table {
    uint8_t id[DHT_ID_LEN];
    int family;
    unsigned flags;
    uint64_t rng;
    uint64_t refused;
    size_t nb;
    struct bucket *b;
};

/* ------------------------------------------------------------------ helpers */

static int
quality(const struct tnode *n, int64_t now_ms)
{
    if (n->failures >= DHT_TABLE_BAD_FAILURES)
        return DHT_BAD;
    if (n->replied && now_ms - n->last_reply < DHT_TABLE_GOOD_MS)
        return DHT_GOOD;
    if (n->replied && n->queried && now_ms - n->last_query < DHT_TABLE_GOOD_MS)
        return DHT_GOOD;
    return DHT_QUESTIONABLE;
}

static void
to_entry(const struct tnode *n, int replacement, int64_t now_ms,
         struct dht_table_entry *e)
{
    memcpy(e->id, n->id, DHT_ID_LEN);
    e->addr = n->addr;
    e->quality = (uint8_t)quality(n, now_ms);
    e->failures = n->failures;
    e->replacement = (uint8_t)replacement;
    e->last_reply = n->replied ? n->last_reply : 0;
    e->last_query = n->queried ? n->last_query : 0;
}

static size_t
bucket_of(const struct dht_table *t, const uint8_t id[DHT_ID_LEN])
{
    size_t cpl = (size_t)dht_id_common_bits(t->id, id);
    return cpl < t->nb - 1 ? cpl : t->nb - 1;
}

static struct tnode *
find_in(struct tnode *arr, size_t n, const uint8_t id[DHT_ID_LEN])
{
    for (size_t i = 0; i < n; i++)
        if (memcmp(arr[i].id, id, DHT_ID_LEN) == 0)
            return &arr[i];
    return NULL;
}

static void
remove_at(struct tnode *arr, uint8_t *n, size_t i)
{
    memmove(&arr[i], &arr[i + 1], (*n - i - 1) * sizeof(arr[0]));
    (*n)--;
}

static void
stamp(struct bucket *b, int64_t now_ms)
{
    b->changed_ms = now_ms;
    b->stamped = 1;
}

/* Replacement order: nodes that replied before nodes that did not, then
 * the most recent reply, then the most recent query. */
static int
better_repl(const struct tnode *a, const struct tnode *b)
{
    if (a->replied != b->replied)
        return a->replied;
    if (a->replied && a->last_reply != b->last_reply)
        return a->last_reply > b->last_reply;
    if (a->queried != b->queried)
        return a->queried;
    return a->last_query > b->last_query;
}

static int
best_repl(const struct bucket *b)
{
    int best = -1;
    for (int i = 0; i < b->nrepl; i++)
        if (b->repl[i].failures < DHT_TABLE_BAD_FAILURES &&
            (best < 0 || better_repl(&b->repl[i], &b->repl[best])))
            best = i;
    return best;
}

/* Puts the best replacement into slot i of the bucket (which is bad or
 * about to be dropped). Returns 1 when one was there. */
static int
promote(struct bucket *b, size_t i, int64_t now_ms)
{
    int r = best_repl(b);
    if (r < 0)
        return 0;
    b->nodes[i] = b->repl[r];
    b->nodes[i].pinged = 0;
    remove_at(b->repl, &b->nrepl, (size_t)r);
    stamp(b, now_ms);
    return 1;
}

/* Removes node slot i, filling it from the replacements when it can. */
static void
drop_node(struct bucket *b, size_t i, int64_t now_ms)
{
    if (!promote(b, i, now_ms))
        remove_at(b->nodes, &b->n, i);
}

static void
touch(struct tnode *n, int how, int64_t now_ms)
{
    if (how == DHT_HEARD_REPLY) {
        n->last_reply = now_ms;
        n->replied = 1;
        n->failures = 0;
    } else if (how == DHT_HEARD_QUERY) {
        n->last_query = now_ms;
        n->queried = 1;
    }
}

static void
fill(struct tnode *n, const uint8_t id[DHT_ID_LEN], const struct dht_addr *a, int how,
     int64_t now_ms)
{
    memset(n, 0, sizeof(*n));
    memcpy(n->id, id, DHT_ID_LEN);
    n->addr = *a;
    touch(n, how, now_ms);
}

/* Where an address already is in the table (by_host: any port, and for
 * IPv6 any address of the same /64, which one host holds whole): bucket and
 * slot, or NULL. */
static struct tnode *
find_addr(struct dht_table *t, const struct dht_addr *a, int by_host, size_t *bi,
          int *in_repl, size_t *slot)
{
    size_t host = by_host ? (a->len == 16 ? 8 : 4) : 0;
    for (size_t i = 0; i < t->nb; i++) {
        struct bucket *b = &t->b[i];
        for (int r = 0; r < 2; r++) {
            struct tnode *arr = r ? b->repl : b->nodes;
            size_t n = r ? b->nrepl : b->n;
            for (size_t j = 0; j < n; j++) {
                int same = host ? memcmp(arr[j].addr.ip, a->ip, host) == 0
                                : dht_addr_eq(&arr[j].addr, a);
                if (same) {
                    *bi = i;
                    *in_repl = r;
                    *slot = j;
                    return &arr[j];
                }
            }
        }
    }
    return NULL;
}

static int
split_last(struct dht_table *t)
{
    if (t->nb >= DHT_TABLE_MAX_BUCKETS)
        return 0;
    struct bucket *nb = xreallocarray(t->b, t->nb + 1, sizeof(*nb));
    if (!nb)
        return 0;
    t->b = nb;
    struct bucket *old = &t->b[t->nb - 1], *fresh = &t->b[t->nb];
    memset(fresh, 0, sizeof(*fresh));
    fresh->changed_ms = old->changed_ms;
    fresh->stamped = old->stamped;
    size_t depth = t->nb; /* the new bucket's ids share >= depth bits */
    t->nb++;
    for (size_t i = 0; i < old->n;) {
        if ((size_t)dht_id_common_bits(t->id, old->nodes[i].id) >= depth) {
            fresh->nodes[fresh->n++] = old->nodes[i];
            remove_at(old->nodes, &old->n, i);
        } else {
            i++;
        }
    }
    for (size_t i = 0; i < old->nrepl;) {
        if ((size_t)dht_id_common_bits(t->id, old->repl[i].id) >= depth) {
            fresh->repl[fresh->nrepl++] = old->repl[i];
            remove_at(old->repl, &old->nrepl, i);
        } else {
            i++;
        }
    }
    /* The replacements of a bucket that now has room move up. */
    for (struct bucket *b = old; b <= fresh; b++)
        while (b->n < DHT_TABLE_K && b->nrepl > 0) {
            int r = best_repl(b);
            if (r < 0)
                break;
            b->nodes[b->n++] = b->repl[r];
            remove_at(b->repl, &b->nrepl, (size_t)r);
        }
    return 1;
}

/* The slot of a full bucket a newcomer may take at once: a bad node, or for
 * a node that replied, an unverified one whose ping already failed. */
static int
victim(const struct bucket *b, int how, int64_t now_ms)
{
    for (int i = 0; i < b->n; i++)
        if (quality(&b->nodes[i], now_ms) == DHT_BAD)
            return i;
    if (how != DHT_HEARD_REPLY)
        return -1;
    for (int i = 0; i < b->n; i++)
        if (!b->nodes[i].replied && b->nodes[i].failures > 0)
            return i;
    return -1;
}

static int
cache(struct bucket *b, const uint8_t id[DHT_ID_LEN], const struct dht_addr *a, int how,
      int64_t now_ms)
{
    if (b->nrepl < DHT_TABLE_REPLACEMENTS) {
        fill(&b->repl[b->nrepl++], id, a, how, now_ms);
        return DHT_TABLE_CACHED;
    }
    /* Full: the newcomer replaces the worst waiting node if it is better. */
    struct tnode cand;
    fill(&cand, id, a, how, now_ms);
    int worst = 0;
    for (int i = 1; i < b->nrepl; i++)
        if (better_repl(&b->repl[worst], &b->repl[i]))
            worst = i;
    if (b->repl[worst].failures < DHT_TABLE_BAD_FAILURES &&
        !better_repl(&cand, &b->repl[worst]))
        return DHT_TABLE_IGNORED;
    b->repl[worst] = cand;
    return DHT_TABLE_CACHED;
}

/* ------------------------------------------------------------------ API */

struct dht_table *
dht_table_new(const uint8_t id[DHT_ID_LEN], int family, unsigned flags, uint64_t seed)
{
    if (family != 4 && family != 6)
        return NULL;
    struct dht_table *t = xcalloc(1, sizeof(*t));
    if (!t)
        return NULL;
    t->b = xcalloc(1, sizeof(*t->b));
    if (!t->b) {
        xfree(t);
        return NULL;
    }
    memcpy(t->id, id, DHT_ID_LEN);
    t->family = family;
    t->flags = flags;
    t->rng = seed;
    t->nb = 1;
    return t;
}

void
dht_table_free(struct dht_table *t)
{
    if (!t)
        return;
    xfree(t->b);
    xfree(t);
}

const uint8_t *
dht_table_id(const struct dht_table *t)
{
    return t->id;
}

int
dht_table_family(const struct dht_table *t)
{
    return t->family;
}

static int
admissible(const struct dht_table *t, const uint8_t id[DHT_ID_LEN],
           const struct dht_addr *a)
{
    if (a->len != (t->family == 4 ? 4 : 16) || a->port == 0)
        return 0;
    if (memcmp(id, t->id, DHT_ID_LEN) == 0)
        return 0;
    if ((t->flags & DHT_TABLE_BEP42) && !dht_id_exempt(a->ip, a->len) &&
        !dht_id_valid(id, a->ip, a->len))
        return 0;
    return 1;
}

/* A node already known by id: refresh it, or ignore an address change. */
static int
heard_known(struct bucket *b, struct tnode *n, int in_repl, const struct dht_addr *a,
            int how, int64_t now_ms)
{
    if (!dht_addr_eq(&n->addr, a)) {
        /* An id is not taken over from a live address (BEP 42's concern
         * without its crc): only a dead entry moves. */
        if (quality(n, now_ms) != DHT_BAD || how != DHT_HEARD_REPLY)
            return DHT_TABLE_IGNORED;
        n->addr = *a;
        n->queried = 0;
    }
    touch(n, how, now_ms);
    if (how == DHT_HEARD_REPLY)
        stamp(b, now_ms);
    if (!in_repl)
        return DHT_TABLE_UPDATED;
    /* A waiting node that replied takes the place of a bad one. */
    for (size_t i = 0; i < b->n; i++)
        if (quality(&b->nodes[i], now_ms) == DHT_BAD) {
            struct tnode moved = *n;
            remove_at(b->repl, &b->nrepl, (size_t)(n - b->repl));
            b->nodes[i] = moved;
            return DHT_TABLE_ADDED;
        }
    return DHT_TABLE_CACHED;
}

int
dht_table_heard(struct dht_table *t, const uint8_t id[DHT_ID_LEN],
                const struct dht_addr *a, int how, int64_t now_ms)
{
    if (!admissible(t, id, a)) {
        t->refused++;
        return DHT_TABLE_REFUSED;
    }
    struct bucket *b = &t->b[bucket_of(t, id)];
    struct tnode *n = find_in(b->nodes, b->n, id);
    if (n)
        return heard_known(b, n, 0, a, how, now_ms);
    n = find_in(b->repl, b->nrepl, id);
    if (n)
        return heard_known(b, n, 1, a, how, now_ms);

    /* A new id. One node per endpoint: a node that restarted with another
     * id replaces its old entry when it replies. One node per IP for public
     * addresses, so one host cannot fill a bucket. */
    size_t obi, oslot;
    int orepl;
    struct tnode *old = find_addr(t, a, 0, &obi, &orepl, &oslot);
    if (old) {
        if (how != DHT_HEARD_REPLY)
            return DHT_TABLE_IGNORED;
        struct bucket *ob = &t->b[obi];
        if (orepl)
            remove_at(ob->repl, &ob->nrepl, oslot);
        else
            drop_node(ob, oslot, now_ms);
    } else if (!dht_id_exempt(a->ip, a->len) &&
               find_addr(t, a, 1, &obi, &orepl, &oslot)) {
        return DHT_TABLE_IGNORED;
    }

    for (;;) {
        size_t bi = bucket_of(t, id);
        b = &t->b[bi];
        if (b->n < DHT_TABLE_K) {
            fill(&b->nodes[b->n++], id, a, how, now_ms);
            stamp(b, now_ms);
            return DHT_TABLE_ADDED;
        }
        if (bi != t->nb - 1 || !split_last(t))
            break;
    }
    int v = victim(b, how, now_ms);
    if (v >= 0) {
        fill(&b->nodes[v], id, a, how, now_ms);
        stamp(b, now_ms);
        return DHT_TABLE_ADDED;
    }
    return cache(b, id, a, how, now_ms);
}

void
dht_table_failed(struct dht_table *t, const uint8_t id[DHT_ID_LEN],
                 const struct dht_addr *a, int64_t now_ms)
{
    struct bucket *b = &t->b[bucket_of(t, id)];
    struct tnode *n = find_in(b->nodes, b->n, id);
    if (n && dht_addr_eq(&n->addr, a)) {
        if (n->failures < UINT8_MAX)
            n->failures++;
        if (n->failures >= DHT_TABLE_BAD_FAILURES)
            promote(b, (size_t)(n - b->nodes), now_ms);
        return;
    }
    n = find_in(b->repl, b->nrepl, id);
    if (n && dht_addr_eq(&n->addr, a) && ++n->failures >= DHT_TABLE_BAD_FAILURES)
        remove_at(b->repl, &b->nrepl, (size_t)(n - b->repl));
}

size_t
dht_table_pings(struct dht_table *t, int64_t now_ms, struct dht_table_entry *out,
                size_t max)
{
    size_t k = 0;
    for (size_t i = 0; i < t->nb && k < max; i++) {
        struct bucket *b = &t->b[i];
        for (size_t j = 0; j < b->n && k < max; j++) {
            struct tnode *n = &b->nodes[j];
            if (quality(n, now_ms) != DHT_QUESTIONABLE)
                continue;
            if (b->nrepl == 0 && n->replied)
                continue;
            if (n->pinged && now_ms - n->pinged_ms < DHT_TABLE_PING_GAP_MS)
                continue;
            n->pinged = 1;
            n->pinged_ms = now_ms;
            to_entry(n, 0, now_ms, &out[k++]);
        }
    }
    return k;
}

/* A random id in bucket i's range: our first i bits, then bit i flipped
 * (the last bucket keeps it), then random bits. */
static void
random_in_bucket(struct dht_table *t, size_t i, uint8_t out[DHT_ID_LEN])
{
    for (size_t j = 0; j < DHT_ID_LEN; j += 8) {
        uint64_t r = rng_next(&t->rng);
        for (size_t k = 0; k < 8 && j + k < DHT_ID_LEN; k++)
            out[j + k] = (uint8_t)(r >> (8 * k));
    }
    size_t keep = i < t->nb - 1 ? i + 1 : i;
    for (size_t bit = 0; bit < keep; bit++) {
        uint8_t m = (uint8_t)(0x80 >> (bit % 8));
        uint8_t want = t->id[bit / 8] & m;
        if (bit == i)
            want ^= m;
        out[bit / 8] = (uint8_t)((out[bit / 8] & ~m) | want);
    }
}

size_t
dht_table_refresh(struct dht_table *t, int64_t now_ms, uint8_t (*targets)[DHT_ID_LEN],
                  size_t max)
{
    size_t k = 0;
    for (size_t i = 0; i < t->nb && k < max; i++) {
        struct bucket *b = &t->b[i];
        if (!b->stamped) {
            /* The table does not know the time before the first call. */
            stamp(b, now_ms);
            continue;
        }
        if (now_ms - b->changed_ms < DHT_TABLE_REFRESH_MS)
            continue;
        random_in_bucket(t, i, targets[k++]);
        stamp(b, now_ms);
    }
    return k;
}

/* Inserts entry candidate nd into the sorted prefix out[0..*n) of at most
 * k entries. */
static void
keep_closest(const uint8_t target[DHT_ID_LEN], const struct tnode *nd, int replacement,
             int64_t now_ms, struct dht_table_entry *out, size_t *n, size_t k)
{
    size_t pos = *n;
    while (pos > 0 && dht_id_cmp_dist(target, nd->id, out[pos - 1].id) < 0)
        pos--;
    if (pos >= k)
        return;
    size_t last = *n < k ? *n : k - 1;
    memmove(&out[pos + 1], &out[pos], (last - pos) * sizeof(out[0]));
    to_entry(nd, replacement, now_ms, &out[pos]);
    if (*n < k)
        (*n)++;
}

size_t
dht_table_closest(const struct dht_table *t, const uint8_t target[DHT_ID_LEN],
                  unsigned flags, int64_t now_ms, struct dht_table_entry *out, size_t k)
{
    size_t n = 0;
    for (size_t i = 0; i < t->nb; i++) {
        const struct bucket *b = &t->b[i];
        for (size_t j = 0; j < b->n; j++) {
            int q = quality(&b->nodes[j], now_ms);
            if (q == DHT_BAD || ((flags & DHT_CLOSEST_GOOD) && q != DHT_GOOD))
                continue;
            keep_closest(target, &b->nodes[j], 0, now_ms, out, &n, k);
        }
        for (size_t j = 0; j < b->nrepl; j++)
            if (quality(&b->repl[j], now_ms) == DHT_GOOD)
                keep_closest(target, &b->repl[j], 1, now_ms, out, &n, k);
    }
    return n;
}

int
dht_table_find(const struct dht_table *t, const uint8_t id[DHT_ID_LEN], int64_t now_ms,
               struct dht_table_entry *out)
{
    struct bucket *b = &t->b[bucket_of(t, id)];
    struct tnode *n = find_in(b->nodes, b->n, id);
    if (n) {
        to_entry(n, 0, now_ms, out);
        return 1;
    }
    n = find_in(b->repl, b->nrepl, id);
    if (n) {
        to_entry(n, 1, now_ms, out);
        return 1;
    }
    return 0;
}

size_t
dht_table_dump(const struct dht_table *t, int64_t now_ms, struct dht_table_entry *out,
               size_t max)
{
    size_t k = 0;
    for (int r = 0; r < 2; r++)
        for (size_t i = 0; i < t->nb; i++) {
            const struct bucket *b = &t->b[i];
            const struct tnode *arr = r ? b->repl : b->nodes;
            size_t n = r ? b->nrepl : b->n;
            for (size_t j = 0; j < n; j++, k++)
                if (k < max)
                    to_entry(&arr[j], r, now_ms, &out[k]);
        }
    return k;
}

void
dht_table_stats(const struct dht_table *t, int64_t now_ms, struct dht_table_stats *out)
{
    memset(out, 0, sizeof(*out));
    out->buckets = t->nb;
    out->refused = t->refused;
    for (size_t i = 0; i < t->nb; i++) {
        const struct bucket *b = &t->b[i];
        out->nodes += b->n;
        out->replacements += b->nrepl;
        for (size_t j = 0; j < b->n; j++) {
            int q = quality(&b->nodes[j], now_ms);
            if (q == DHT_GOOD)
                out->good++;
            else if (q == DHT_BAD)
                out->bad++;
            else
                out->questionable++;
        }
    }
}

const char *
dht_quality_name(int quality)
{
    switch (quality) {
    case DHT_GOOD:
        return "good";
    case DHT_QUESTIONABLE:
        return "questionable";
    case DHT_BAD:
        return "bad";
    default:
        return "unknown";
    }
}
