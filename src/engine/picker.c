/*
 * picker.c — the piece picker. Engine layer: pure policy.
 *
 * It decides which blocks to request from which peer, from state the session
 * feeds it (our pieces, what peers have, priorities, requests and arrivals).
 * It must not touch sockets, files or the clock, and it never dereferences a
 * peer key. All randomness comes from the seed given at creation. The trust
 * levels smart ban needs (new peers, parole, rejects, contributors kept for
 * blame) are kept in picker_trust.c; the structs both files use are in
 * picker_internal.h.
 *
 * Data layout, chosen so a torrent of SHOAL_MAX_PIECES pieces stays cheap:
 *
 *   - Per piece, 8 bytes (availability, priority, flags, position) plus 4
 *     bytes in `order`. Nothing per block until a piece is first requested.
 *   - `order` holds every piece, grouped in buckets by (priority, then
 *     availability): bucket 0 is the highest priority and the rarest pieces;
 *     had and skipped pieces sit in the last bucket. Within a bucket the order
 *     is random, which is the tie-break. When a peer gains or loses a piece,
 *     its availability changes by one and the piece moves to a neighbouring
 *     bucket by one swap at the bucket edge, then one swap to a random place
 *     inside the new bucket: O(1). Moves across many buckets (a piece passes,
 *     a priority changes) cost one swap per bucket crossed, at most
 *     ORDER_BUCKETS. Bulk changes (startup, file priorities) just mark the
 *     order stale and it is rebuilt by a counting sort, O(pieces), the next
 *     time it is needed.
 *   - Rarest first scans `order` from the front, so the cost is the number of
 *     pieces passed over, usually a handful. When a peer has few of the
 *     candidates, after PICKER_SCAN_BUDGET misses the scan walks the peer's
 *     bitfield instead and keeps the candidates with the lowest positions:
 *     the same answer in O(pieces / 64 + pieces the peer has).
 *   - A piece being downloaded has a `struct partial` with per-block state
 *     (requesters, received) and the peers working on it; it is made on the
 *     first request and freed when the piece passes or fails.
 *   - Peers with requests outstanding have a small record (request and piece
 *     counts) in a hash table; it goes away when they have none.
 *   - Peers trusted less than fully have their trust level in another hash
 *     table (enum picker_trust, kept by picker_trust.c); a piece on parole
 *     names its owner in its partial, and each received block its sender, so
 *     a paroled peer's blocks can be taken back.
 *
 * Availability counts non-seed peers only; seeds are one counter, which adds
 * the same to every piece and so never changes the order.
 */
#include "engine/picker.h"

#include <string.h>

#include "base/alloc.h"
#include "base/rng.h"
#include "engine/picker_internal.h"
#include "shoal.h"

/* A peer may work on this many pieces at once even with a short pipeline. */
#define PICKER_PEER_PIECES 4
/* Misses in the rarest-first scan before walking the peer's bitfield instead. */
#define PICKER_SCAN_BUDGET 4096
/* Candidates the bitfield walk keeps per pass (bounds stack use). */
#define PICKER_SPARSE_BATCH 256
/* Longest piece accepted: 1 GiB is far above any real torrent's. */
#define PICKER_MAX_PIECE_LENGTH (1u << 30)
/* Availability is 16-bit: no torrent has 65535 connections. */
#define PICKER_MAX_AVAIL 0xffffu

/* ------------------------------------------------------------------ small helpers */

/* Uniform enough in [0, n) for n far below 2^64; n > 0. */
static uint32_t
rng_below(uint64_t *s, uint32_t n)
{
    return (uint32_t)(rng_next(s) % n);
}

static uint32_t
piece_size(const struct picker *p, uint32_t i)
{
    return i + 1 == p->npieces ? p->last_size : p->piece_length;
}

static uint32_t
blocks_in(const struct picker *p, uint32_t i)
{
    return (piece_size(p, i) + PICKER_BLOCK_SIZE - 1) / PICKER_BLOCK_SIZE;
}

static uint32_t
block_len(const struct picker *p, uint32_t piece, uint32_t b)
{
    uint32_t rest = piece_size(p, piece) - b * PICKER_BLOCK_SIZE;
    return rest < PICKER_BLOCK_SIZE ? rest : PICKER_BLOCK_SIZE;
}

static int
prio_ok(int prio)
{
    return prio >= PICKER_PRIO_SKIP && prio <= PICKER_PRIO_HIGH;
}

/* ------------------------------------------------------------------ hash map */

static uint64_t
mix64(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ull;
    return x ^ (x >> 33);
}

void *
picker_map_get(const struct map *m, uint64_t key)
{
    if (!m->cap)
        return NULL;
    size_t mask = m->cap - 1;
    for (size_t i = mix64(key) & mask; m->vals[i]; i = (i + 1) & mask)
        if (m->keys[i] == key)
            return m->vals[i];
    return NULL;
}

static void
map_insert_slot(struct map *m, uint64_t key, void *val)
{
    size_t mask = m->cap - 1;
    size_t i = mix64(key) & mask;
    while (m->vals[i])
        i = (i + 1) & mask;
    m->keys[i] = key;
    m->vals[i] = val;
    m->n++;
}

/* Adds a key that is not present. 0 or SHOAL_ENOMEM (map unchanged). */
int
picker_map_put(struct map *m, uint64_t key, void *val)
{
    if ((m->n + 1) * 4 > m->cap * 3) {
        size_t ncap = m->cap ? m->cap * 2 : 16;
        uint64_t *nkeys = xcalloc(ncap, sizeof(*nkeys));
        void **nvals = xcalloc(ncap, sizeof(*nvals));
        if (!nkeys || !nvals) {
            xfree(nkeys);
            xfree(nvals);
            return SHOAL_ENOMEM;
        }
        struct map old = *m;
        m->keys = nkeys;
        m->vals = nvals;
        m->cap = ncap;
        m->n = 0;
        for (size_t i = 0; i < old.cap; i++)
            if (old.vals[i])
                map_insert_slot(m, old.keys[i], old.vals[i]);
        xfree(old.keys);
        xfree(old.vals);
    }
    map_insert_slot(m, key, val);
    return 0;
}

void
picker_map_del(struct map *m, uint64_t key)
{
    if (!m->cap)
        return;
    size_t mask = m->cap - 1;
    size_t i = mix64(key) & mask;
    while (m->vals[i] && m->keys[i] != key)
        i = (i + 1) & mask;
    if (!m->vals[i])
        return;
    m->vals[i] = NULL;
    m->n--;
    /* Pull later entries of the probe run back over the hole, unless their
     * home slot lies cyclically in (hole, j]. */
    for (size_t j = (i + 1) & mask; m->vals[j]; j = (j + 1) & mask) {
        size_t home = mix64(m->keys[j]) & mask;
        int stays = i <= j ? (home > i && home <= j) : (home > i || home <= j);
        if (stays)
            continue;
        m->keys[i] = m->keys[j];
        m->vals[i] = m->vals[j];
        m->vals[j] = NULL;
        i = j;
    }
}

static void
map_cleanup(struct map *m)
{
    xfree(m->keys);
    xfree(m->vals);
    memset(m, 0, sizeof(*m));
}

uint64_t
picker_key(void *peer)
{
    return (uint64_t)(uintptr_t)peer;
}

/* ------------------------------------------------------------------ order */

static uint32_t
avail_bucket(uint32_t a)
{
    if (a < PICKER_AVAIL_EXACT)
        return a;
    uint32_t b = PICKER_AVAIL_EXACT + (a - PICKER_AVAIL_EXACT) / PICKER_AVAIL_STEP;
    return b < PICKER_AVAIL_BUCKETS ? b : PICKER_AVAIL_BUCKETS - 1;
}

static uint32_t
level_first_bucket(int level)
{
    return (uint32_t)(PICKER_PRIO_HIGH - level) * PICKER_AVAIL_BUCKETS;
}

static uint32_t
bucket_of(const struct picker *p, uint32_t i)
{
    const struct piece_info *pi = &p->pi[i];
    if ((pi->flags & PF_HAVE) || pi->prio == PICKER_PRIO_SKIP)
        return EXCLUDED_BUCKET;
    return level_first_bucket(pi->prio) + avail_bucket(pi->avail);
}

static void
swap_pos(struct picker *p, uint32_t a, uint32_t b)
{
    uint32_t pa = p->order[a], pb = p->order[b];
    p->order[a] = pb;
    p->order[b] = pa;
    p->pi[pb].pos = a;
    p->pi[pa].pos = b;
}

/* Rebuilds the order by counting sort and shuffles every bucket. */
static void
order_rebuild(struct picker *p)
{
    uint32_t fill[ORDER_BUCKETS];
    memset(p->bstart, 0, sizeof(p->bstart));
    for (uint32_t i = 0; i < p->npieces; i++)
        p->bstart[bucket_of(p, i) + 1]++;
    for (uint32_t b = 0; b < ORDER_BUCKETS; b++) {
        p->bstart[b + 1] += p->bstart[b];
        fill[b] = p->bstart[b];
    }
    for (uint32_t i = 0; i < p->npieces; i++) {
        uint32_t at = fill[bucket_of(p, i)]++;
        p->order[at] = i;
        p->pi[i].pos = at;
    }
    for (uint32_t b = 0; b < EXCLUDED_BUCKET; b++) {
        uint32_t lo = p->bstart[b], n = p->bstart[b + 1] - lo;
        for (uint32_t k = n; k > 1; k--)
            swap_pos(p, lo + k - 1, lo + rng_below(&p->rng, k));
    }
    p->order_valid = 1;
}

/* Moves a piece from bucket `from` to bucket `to` one bucket edge at a time,
 * then to a random place in its new bucket. */
static void
order_move(struct picker *p, uint32_t piece, uint32_t from, uint32_t to)
{
    uint32_t x = p->pi[piece].pos;
    while (from < to) {
        uint32_t last = p->bstart[from + 1] - 1;
        swap_pos(p, x, last);
        x = last;
        p->bstart[from + 1]--;
        from++;
    }
    while (from > to) {
        uint32_t first = p->bstart[from];
        swap_pos(p, x, first);
        x = first;
        p->bstart[from]++;
        from--;
    }
    if (to != EXCLUDED_BUCKET) {
        uint32_t lo = p->bstart[to], n = p->bstart[to + 1] - lo;
        swap_pos(p, x, lo + rng_below(&p->rng, n));
    }
}

/* Call after changing a piece's fields, with the bucket it had before. */
static void
reposition(struct picker *p, uint32_t piece, uint32_t old_bucket)
{
    if (!p->order_valid)
        return;
    uint32_t nb = bucket_of(p, piece);
    if (nb != old_bucket)
        order_move(p, piece, old_bucket, nb);
}

/* ------------------------------------------------------------------ records */

struct peer_rec *
picker_rec_find(const struct picker *p, void *key)
{
    return picker_map_get(&p->peer_map, picker_key(key));
}

static struct peer_rec *
peer_get(struct picker *p, void *key)
{
    struct peer_rec *pr = picker_rec_find(p, key);
    if (pr)
        return pr;
    pr = xcalloc(1, sizeof(*pr));
    if (!pr)
        return NULL;
    pr->key = key;
    if (picker_map_put(&p->peer_map, picker_key(key), pr)) {
        xfree(pr);
        return NULL;
    }
    return pr;
}

/* Drops the record of a peer that has nothing requested any more. */
static void
peer_release_if_idle(struct picker *p, struct peer_rec *pr)
{
    if (pr && pr->nreq == 0) {
        picker_map_del(&p->peer_map, picker_key(pr->key));
        xfree(pr);
    }
}

struct partial *
picker_part_find(const struct picker *p, uint32_t piece)
{
    if (!(p->pi[piece].flags & PF_PARTIAL))
        return NULL;
    return picker_map_get(&p->part_map, piece);
}

/* The record of a connected peer: one that left is kept for blame only,
 * and a new peer that happens to get the same key starts afresh. */
struct piece_peer *
picker_piece_peer(struct partial *r, void *key)
{
    for (uint32_t i = 0; i < r->npeers; i++)
        if (r->peers[i].key == key && !r->peers[i].gone)
            return &r->peers[i];
    return NULL;
}

static struct piece_peer *
piece_peer_get(struct partial *r, void *key)
{
    struct piece_peer *pp = picker_piece_peer(r, key);
    if (pp)
        return pp;
    if (r->npeers == r->cappeers) {
        uint32_t ncap = r->cappeers ? r->cappeers * 2 : 4;
        struct piece_peer *grown = xreallocarray(r->peers, ncap, sizeof(*grown));
        if (!grown)
            return NULL;
        r->peers = grown;
        r->cappeers = ncap;
    }
    pp = &r->peers[r->npeers++];
    pp->key = key;
    pp->out = 0;
    pp->got = 0;
    pp->rejected = 0;
    pp->gone = 0;
    return pp;
}

static int
wanted(const struct picker *p, uint32_t piece)
{
    return p->pi[piece].prio != PICKER_PRIO_SKIP;
}

static void
free_delta(struct picker *p, struct partial *r, int64_t d)
{
    r->nfree = (uint32_t)((int64_t)r->nfree + d);
    if (wanted(p, r->piece))
        p->want_free = (uint64_t)((int64_t)p->want_free + d);
}

static struct partial *
part_create(struct picker *p, uint32_t piece)
{
    uint32_t nb = blocks_in(p, piece);
    if (p->nparts == p->capparts) {
        uint32_t ncap = p->capparts ? p->capparts * 2 : 16;
        struct partial **np = xreallocarray(p->parts, ncap, sizeof(*np));
        if (!np)
            return NULL;
        p->parts = np;
        p->capparts = ncap;
    }
    struct partial *r = xcalloc(1, sizeof(*r) + (size_t)nb * sizeof(struct blk));
    if (!r)
        return NULL;
    if (picker_map_put(&p->part_map, piece, r)) {
        xfree(r);
        return NULL;
    }
    r->piece = piece;
    r->nblocks = nb;
    r->idx = p->nparts;
    p->parts[p->nparts++] = r;
    p->pi[piece].flags |= PF_PARTIAL;
    r->nfree = 0;
    free_delta(p, r, nb);
    if (wanted(p, piece))
        p->want_partial++;
    return r;
}

/* Frees a piece's partial, releasing what its peers had outstanding. */
void
picker_part_destroy(struct picker *p, struct partial *r)
{
    for (uint32_t i = 0; i < r->npeers; i++) {
        struct piece_peer *pp = &r->peers[i];
        if (!pp->out)
            continue;
        struct peer_rec *pr = picker_rec_find(p, pp->key);
        if (pr) {
            pr->nreq -= pp->out;
            pr->npieces--;
            peer_release_if_idle(p, pr);
        }
    }
    free_delta(p, r, -(int64_t)r->nfree);
    if (wanted(p, r->piece))
        p->want_partial--;
    p->pi[r->piece].flags &= (uint8_t)~PF_PARTIAL;
    picker_map_del(&p->part_map, r->piece);
    p->parts[r->idx] = p->parts[--p->nparts];
    p->parts[r->idx]->idx = r->idx;
    xfree(r->peers);
    xfree(r);
}

/* One outstanding request of `peer` in this partial is over. */
static void
release_out(struct picker *p, struct partial *r, void *peer)
{
    struct piece_peer *pp = picker_piece_peer(r, peer);
    if (!pp || !pp->out)
        return;
    pp->out--;
    struct peer_rec *pr = picker_rec_find(p, peer);
    if (pr) {
        pr->nreq--;
        if (!pp->out)
            pr->npieces--;
        peer_release_if_idle(p, pr);
    }
}

/* Takes `peer` off a block's list. If the block was outstanding with it,
 * releases the request, and a block nobody is asked for any more becomes
 * free. Returns 1 when the peer was on the list. */
int
picker_blk_drop(struct picker *p, struct partial *r, uint32_t b, void *peer)
{
    struct blk *k = &r->blocks[b];
    uint32_t j = 0;
    while (j < k->nwho && k->who[j] != peer)
        j++;
    if (j == k->nwho)
        return 0;
    k->who[j] = k->who[--k->nwho];
    if (k->flags & BF_RECEIVED)
        return 1;
    release_out(p, r, peer);
    if (k->nwho == 0) {
        free_delta(p, r, 1);
        if (b < r->next_free)
            r->next_free = b;
    }
    return 1;
}

/* Throws a received block away: it is free to be fetched again, and a late
 * copy is refused until it is asked for anew. */
void
picker_blk_unreceive(struct picker *p, struct partial *r, uint32_t b)
{
    struct blk *k = &r->blocks[b];
    /* Its sender may have left since: the block was still its. */
    struct piece_peer *pp = NULL;
    for (uint32_t i = 0; k->from && i < r->npeers && !pp; i++)
        if (r->peers[i].key == k->from && r->peers[i].got)
            pp = &r->peers[i];
    if (pp)
        pp->got--;
    /* Whoever else was asked had its request released on arrival. */
    k->from = NULL;
    k->nwho = 0;
    k->flags = 0;
    r->nreceived--;
    free_delta(p, r, 1);
    if (b < r->next_free)
        r->next_free = b;
}

/* ------------------------------------------------------------------ lifetime */

struct picker *
picker_new(uint32_t piece_count, uint32_t piece_length, uint64_t total_size,
           uint64_t seed)
{
    if (piece_count == 0 || piece_count > SHOAL_MAX_PIECES || piece_length == 0 ||
        piece_length > PICKER_MAX_PIECE_LENGTH)
        return NULL;
    uint64_t below = (uint64_t)(piece_count - 1) * piece_length;
    if (total_size <= below || total_size > below + piece_length)
        return NULL;
    struct picker *p = xcalloc(1, sizeof(*p));
    if (!p)
        return NULL;
    p->npieces = piece_count;
    p->piece_length = piece_length;
    p->last_size = (uint32_t)(total_size - below);
    p->bpp = (piece_length + PICKER_BLOCK_SIZE - 1) / PICKER_BLOCK_SIZE;
    p->total_size = total_size;
    p->rng = seed;
    p->pi = xcalloc(piece_count, sizeof(*p->pi));
    p->order = xcalloc(piece_count, sizeof(*p->order));
    if (!p->pi || !p->order || bitfield_init(&p->have, piece_count)) {
        picker_free(p);
        return NULL;
    }
    for (uint32_t i = 0; i < piece_count; i++)
        p->pi[i].prio = PICKER_PRIO_NORMAL;
    p->level_missing[PICKER_PRIO_NORMAL] = piece_count;
    p->seq_end[PICKER_PRIO_NORMAL] = piece_count;
    p->want_missing = piece_count;
    p->want_left = total_size;
    /* The order is built when first needed, so resume data costs nothing. */
    p->order_valid = 0;
    return p;
}

void
picker_free(struct picker *p)
{
    if (!p)
        return;
    for (uint32_t i = 0; i < p->nparts; i++) {
        xfree(p->parts[i]->peers);
        xfree(p->parts[i]);
    }
    xfree(p->parts);
    for (size_t i = 0; i < p->peer_map.cap; i++)
        xfree(p->peer_map.vals[i]);
    map_cleanup(&p->part_map);
    map_cleanup(&p->peer_map);
    map_cleanup(&p->trust_map);
    bitfield_cleanup(&p->have);
    xfree(p->pi);
    xfree(p->order);
    xfree(p);
}

uint32_t
picker_piece_count(const struct picker *p)
{
    return p->npieces;
}

uint32_t
picker_piece_size(const struct picker *p, uint32_t piece)
{
    return piece < p->npieces ? piece_size(p, piece) : 0;
}

/* ------------------------------------------------------------------ our pieces */

void
picker_set_have(struct picker *p, uint32_t piece)
{
    if (piece >= p->npieces || (p->pi[piece].flags & PF_HAVE))
        return;
    uint32_t ob = bucket_of(p, piece);
    struct partial *r = picker_part_find(p, piece);
    if (r)
        picker_part_destroy(p, r);
    struct piece_info *pi = &p->pi[piece];
    pi->flags |= PF_HAVE;
    bitfield_set(&p->have, piece);
    p->level_missing[pi->prio]--;
    if (wanted(p, piece)) {
        p->want_missing--;
        p->want_left -= piece_size(p, piece);
    }
    reposition(p, piece, ob);
}

int
picker_have(const struct picker *p, uint32_t piece)
{
    return bitfield_get(&p->have, piece);
}

uint32_t
picker_have_count(const struct picker *p)
{
    return p->have.count;
}

const struct bitfield *
picker_have_bits(const struct picker *p)
{
    return &p->have;
}

int
picker_is_complete(const struct picker *p)
{
    return p->want_missing == 0;
}

uint64_t
picker_left_bytes(const struct picker *p)
{
    return p->want_left;
}

/* ------------------------------------------------------------------ availability */

static void
avail_add(struct picker *p, uint32_t piece, int up)
{
    struct piece_info *pi = &p->pi[piece];
    uint32_t ob = bucket_of(p, piece);
    if (up && pi->avail < PICKER_MAX_AVAIL)
        pi->avail++;
    else if (!up && pi->avail > 0)
        pi->avail--;
    reposition(p, piece, ob);
}

void
picker_peer_have(struct picker *p, uint32_t piece)
{
    if (piece < p->npieces)
        avail_add(p, piece, 1);
}

static void
avail_bitfield(struct picker *p, const struct bitfield *bf, int up)
{
    uint32_t n = bf->nbits < p->npieces ? bf->nbits : p->npieces;
    for (uint32_t i = bitfield_next_set(bf, 0); i < n; i = bitfield_next_set(bf, i + 1))
        avail_add(p, i, up);
}

void
picker_peer_bitfield(struct picker *p, const struct bitfield *bf)
{
    avail_bitfield(p, bf, 1);
}

void
picker_peer_lost(struct picker *p, const struct bitfield *bf)
{
    avail_bitfield(p, bf, 0);
}

void
picker_peer_have_all(struct picker *p)
{
    p->seeds++;
}

void
picker_peer_lost_all(struct picker *p)
{
    if (p->seeds)
        p->seeds--;
}

uint32_t
picker_availability(const struct picker *p, uint32_t piece)
{
    return piece < p->npieces ? p->pi[piece].avail + p->seeds : 0;
}

/* ------------------------------------------------------------------ priorities */

static void
set_prio(struct picker *p, uint32_t piece, int prio)
{
    struct piece_info *pi = &p->pi[piece];
    int old = pi->prio;
    if (old == prio)
        return;
    uint32_t ob = bucket_of(p, piece);
    int was = old != PICKER_PRIO_SKIP, is = prio != PICKER_PRIO_SKIP;
    if (!(pi->flags & PF_HAVE)) {
        p->level_missing[old]--;
        p->level_missing[prio]++;
        if (is && !was) {
            p->want_missing++;
            p->want_left += piece_size(p, piece);
        } else if (was && !is) {
            p->want_missing--;
            p->want_left -= piece_size(p, piece);
        }
    }
    struct partial *r = picker_part_find(p, piece);
    if (r && is && !was) {
        p->want_partial++;
        p->want_free += r->nfree;
    } else if (r && was && !is) {
        p->want_partial--;
        p->want_free -= r->nfree;
    }
    pi->prio = (uint8_t)prio;
    if (is && piece < p->seq_cursor[prio])
        p->seq_cursor[prio] = piece;
    if (is && piece >= p->seq_end[prio])
        p->seq_end[prio] = piece + 1;
    reposition(p, piece, ob);
}

int
picker_set_piece_priority(struct picker *p, uint32_t piece, int prio)
{
    if (piece >= p->npieces || !prio_ok(prio))
        return SHOAL_EINVAL;
    set_prio(p, piece, prio);
    return 0;
}

int
picker_set_range_priority(struct picker *p, uint32_t first, uint32_t last, int prio)
{
    if (first > last || last >= p->npieces || !prio_ok(prio))
        return SHOAL_EINVAL;
    /* Past a sixteenth of the torrent one rebuild is cheaper than the moves. */
    if (last - first >= p->npieces / 16)
        p->order_valid = 0;
    for (uint32_t i = first;; i++) {
        if (p->pi[i].prio < prio)
            set_prio(p, i, prio);
        if (i == last)
            break;
    }
    return 0;
}

int
picker_set_all_priority(struct picker *p, int prio)
{
    if (!prio_ok(prio))
        return SHOAL_EINVAL;
    p->order_valid = 0;
    for (uint32_t i = 0; i < p->npieces; i++)
        set_prio(p, i, prio);
    /* Every piece is at one level now: tighten the sequential bounds. */
    memset(p->seq_cursor, 0, sizeof(p->seq_cursor));
    memset(p->seq_end, 0, sizeof(p->seq_end));
    if (prio != PICKER_PRIO_SKIP)
        p->seq_end[prio] = p->npieces;
    return 0;
}

int
picker_piece_priority(const struct picker *p, uint32_t piece)
{
    return piece < p->npieces ? p->pi[piece].prio : PICKER_PRIO_SKIP;
}

void
picker_set_sequential(struct picker *p, int on)
{
    p->sequential = on != 0;
}

/* ------------------------------------------------------------------ picking */

/* One picker_next_blocks() call. */
struct pick {
    struct picker *p;
    void *peer;
    struct peer_rec *pr;
    const struct bitfield *has; /* NULL: a seed */
    int seedlike;               /* has every piece */
    struct picker_block *out;
    int n, max;
    uint32_t limit; /* distinct pieces the peer may work on */
    enum picker_trust trust;
    uint32_t touched; /* unverified pieces holding its data (NEW, PAROLE) */
    int claim;        /* PAROLE: may claim an idle piece that holds others' data */
    int err;
};

static int
peer_has(const struct pick *c, uint32_t piece)
{
    return !c->has || bitfield_get(c->has, piece);
}

static int
full(const struct pick *c)
{
    return c->n >= c->max || c->err;
}

/* No new piece may be started for this peer. */
static int
at_limit(const struct pick *c)
{
    return full(c) || c->pr->npieces >= c->limit ||
           (picker_trust_one_piece(c->trust) && c->touched >= 1);
}

/* 1 when the peer holds data or requests in the piece. */
static int
touching(const struct piece_peer *pp)
{
    return pp && (pp->out || pp->got);
}

/* Unverified pieces that hold the peer's data or requests. */
uint32_t
picker_touched(const struct picker *p, void *peer)
{
    uint32_t n = 0;
    for (uint32_t i = 0; i < p->nparts; i++)
        n += touching(picker_piece_peer(p->parts[i], peer));
    return n;
}

/* Requests outstanding in a partial, from anyone. */
static uint32_t
outstanding(const struct partial *r)
{
    return r->nblocks - r->nreceived - r->nfree;
}

/* 1 when the peer may get blocks of partial r (pp: its record there). */
static int
may_join(const struct pick *c, struct partial *r, const struct piece_peer *pp)
{
    if (pp && pp->rejected)
        return 0;
    if (r->owner)
        return r->owner == c->peer;
    if (!picker_trust_owns(c->trust))
        return 1;
    /* On parole only a piece nobody works on can become its own: one that
     * holds nothing yet, or, when nothing else is left, others' blocks that
     * are then thrown away. */
    if (outstanding(r) || r->nreceived == r->nblocks)
        return 0;
    return r->nreceived == 0 || c->claim;
}

/*
 * Requests free blocks of one piece (partial or fresh) from the peer, in
 * block order. A piece the peer has nothing outstanding in counts against its
 * limit; a peer not fully trusted may hold data in one piece at a time, and
 * one on parole takes the piece as its own. Returns the number of blocks
 * taken.
 */
static int
take(struct pick *c, uint32_t piece)
{
    struct picker *p = c->p;
    struct partial *r = picker_part_find(p, piece);
    struct piece_peer *pp = r ? picker_piece_peer(r, c->peer) : NULL;
    int fresh = !pp || pp->out == 0;
    int mine = touching(pp);
    if (full(c) || (fresh && c->pr->npieces >= c->limit) || (r && r->nfree == 0))
        return 0;
    if (r && !may_join(c, r, pp))
        return 0;
    if (picker_trust_one_piece(c->trust) && !mine && c->touched >= 1)
        return 0;
    if (!r && !(r = part_create(p, piece))) {
        c->err = SHOAL_ENOMEM;
        return 0;
    }
    if (picker_trust_owns(c->trust) && r->owner != c->peer) {
        for (uint32_t b = 0; b < r->nblocks; b++)
            if (r->blocks[b].flags & BF_RECEIVED)
                picker_blk_unreceive(p, r, b);
        r->owner = c->peer;
    }
    if (!pp && !(pp = piece_peer_get(r, c->peer))) {
        c->err = SHOAL_ENOMEM;
        return 0;
    }
    int taken = 0;
    uint32_t b = r->next_free;
    for (; b < r->nblocks && c->n < c->max; b++) {
        struct blk *k = &r->blocks[b];
        if ((k->flags & BF_RECEIVED) || k->nwho)
            continue;
        k->who[0] = c->peer;
        k->nwho = 1;
        k->flags |= BF_ASKED;
        free_delta(p, r, -1);
        pp->out++;
        c->pr->nreq++;
        c->out[c->n++] =
            (struct picker_block){piece, b * PICKER_BLOCK_SIZE, block_len(p, piece, b)};
        taken++;
    }
    r->next_free = b;
    if (taken && fresh)
        c->pr->npieces++;
    if (taken && !mine)
        c->touched++;
    return taken;
}

/* Partials at `level` the peer has: mine = 1 those it already works on
 * (requested or sent blocks), mine = 0 the others. */
static void
pick_partials(struct pick *c, int level, int mine)
{
    struct picker *p = c->p;
    /* take() on a piece that has a partial neither adds nor removes one, so
     * the walk is stable. */
    for (uint32_t i = 0; i < p->nparts && !full(c); i++) {
        struct partial *r = p->parts[i];
        if (p->pi[r->piece].prio != level || !r->nfree || !peer_has(c, r->piece))
            continue;
        if ((picker_piece_peer(r, c->peer) != NULL) == mine)
            take(c, r->piece);
    }
}

static void
pick_suggested(struct pick *c, int level, const uint32_t *sug, size_t nsug)
{
    struct picker *p = c->p;
    for (size_t i = 0; i < nsug && !at_limit(c); i++) {
        uint32_t s = sug[i];
        if (s < p->npieces && !(p->pi[s].flags & PF_HAVE) && p->pi[s].prio == level &&
            peer_has(c, s))
            take(c, s);
    }
}

/*
 * Rarest first by walking the peer's bitfield: repeatedly collects the
 * candidates with the lowest order positions in [from, end) and takes them in
 * that order, which is what the plain scan would have done.
 */
static void
pick_sparse(struct pick *c, uint32_t from, uint32_t end)
{
    struct picker *p = c->p;
    uint32_t cand[PICKER_SPARSE_BATCH];
    uint32_t nbits = c->has->nbits < p->npieces ? c->has->nbits : p->npieces;
    while (!at_limit(c) && from < end) {
        uint32_t want = ((uint32_t)(c->max - c->n) + p->bpp - 1) / p->bpp;
        uint32_t room = c->limit - c->pr->npieces;
        if (want > room)
            want = room;
        if (want > PICKER_SPARSE_BATCH)
            want = PICKER_SPARSE_BATCH;
        uint32_t k = 0;
        for (uint32_t i = bitfield_next_set(c->has, 0); i < nbits;
             i = bitfield_next_set(c->has, i + 1)) {
            uint32_t pos = p->pi[i].pos;
            if (pos < from || pos >= end || (p->pi[i].flags & PF_PARTIAL))
                continue;
            if (k == want && pos >= cand[k - 1])
                continue;
            /* Insert in sorted place; drop the largest when full. */
            uint32_t lo = 0, hi = k;
            while (lo < hi) {
                uint32_t mid = (lo + hi) / 2;
                if (cand[mid] < pos)
                    lo = mid + 1;
                else
                    hi = mid;
            }
            uint32_t move = (k == want ? k - 1 : k) - lo;
            memmove(&cand[lo + 1], &cand[lo], move * sizeof(cand[0]));
            cand[lo] = pos;
            if (k < want)
                k++;
        }
        if (k == 0)
            return;
        for (uint32_t t = 0; t < k && !at_limit(c); t++)
            take(c, p->order[cand[t]]);
        from = cand[k - 1] + 1;
    }
}

/* New pieces at `level`, rarest first. */
static void
pick_rarest(struct pick *c, int level)
{
    struct picker *p = c->p;
    if (!p->order_valid)
        order_rebuild(p);
    uint32_t b0 = level_first_bucket(level);
    /* A peer that is not a seed counts in the availability of every piece
     * it has, so pieces nobody but seeds has are not its to give. */
    uint32_t j = p->bstart[b0 + (c->seedlike ? 0 : 1)];
    uint32_t end = p->bstart[b0 + PICKER_AVAIL_BUCKETS];
    uint32_t budget = PICKER_SCAN_BUDGET;
    for (; j < end && !at_limit(c); j++) {
        uint32_t piece = p->order[j];
        if ((p->pi[piece].flags & PF_PARTIAL) || !peer_has(c, piece)) {
            /* Out of budget: walk the peer's bits instead, when that is
             * less work than the rest of this scan. */
            if (--budget == 0 && c->has &&
                (uint64_t)c->has->count + c->has->nbits / 64 < end - j) {
                pick_sparse(c, j + 1, end);
                return;
            }
            continue;
        }
        take(c, piece);
    }
}

/* The lowest index >= i that we miss and the peer has (npieces if none). */
static uint32_t
next_candidate(const struct pick *c, uint32_t i)
{
    const struct picker *p = c->p;
    for (;;) {
        i = bitfield_next_clear(&p->have, i);
        if (i >= p->npieces || !c->has)
            return i;
        uint32_t j = bitfield_next_set(c->has, i);
        if (j >= c->has->nbits)
            return p->npieces;
        if (j == i)
            return i;
        i = j;
    }
}

/* Pieces at `level` in index order, partial or not. */
static void
pick_sequential(struct pick *c, int level)
{
    struct picker *p = c->p;
    uint32_t end = p->seq_end[level];
    uint32_t i = p->seq_cursor[level];
    while (i < end && ((p->pi[i].flags & PF_HAVE) || p->pi[i].prio != level))
        i++;
    p->seq_cursor[level] = i;
    for (i = next_candidate(c, i); i < end && !at_limit(c); i = next_candidate(c, i + 1))
        if (p->pi[i].prio == level)
            take(c, i);
}

/* Endgame: blocks requested from others but not from this peer, those with
 * the fewest requesters first. */
static void
pick_endgame(struct pick *c)
{
    struct picker *p = c->p;
    /* On parole (or whole pieces) a peer works on its own pieces alone;
     * duplicates would mix. */
    if (picker_trust_owns(c->trust))
        return;
    for (uint8_t nwho = 1; nwho < PICKER_ENDGAME_REQUESTERS; nwho++) {
        for (uint32_t i = 0; i < p->nparts && !full(c); i++) {
            struct partial *r = p->parts[i];
            if (!wanted(p, r->piece) || !peer_has(c, r->piece) || r->owner)
                continue;
            struct piece_peer *pp = picker_piece_peer(r, c->peer);
            int mine = touching(pp);
            if ((pp && pp->rejected) ||
                (picker_trust_one_piece(c->trust) && !mine && c->touched >= 1))
                continue;
            for (uint32_t b = 0; b < r->nblocks && !full(c); b++) {
                struct blk *k = &r->blocks[b];
                if ((k->flags & BF_RECEIVED) || k->nwho != nwho)
                    continue;
                uint8_t j = 0;
                while (j < k->nwho && k->who[j] != c->peer)
                    j++;
                if (j < k->nwho)
                    continue;
                if (!pp && !(pp = piece_peer_get(r, c->peer))) {
                    c->err = SHOAL_ENOMEM;
                    return;
                }
                k->who[k->nwho++] = c->peer;
                if (!mine) {
                    mine = 1;
                    c->touched++;
                }
                if (pp->out++ == 0)
                    c->pr->npieces++;
                c->pr->nreq++;
                c->out[c->n++] = (struct picker_block){r->piece, b * PICKER_BLOCK_SIZE,
                                                       block_len(p, r->piece, b)};
            }
        }
    }
}

/* On parole with nothing else to take: claim a piece nobody works on even
 * though it holds others' blocks (they are thrown away), so that a torrent
 * whose last pieces hold data of peers that left still finishes. */
static void
pick_claim(struct pick *c)
{
    struct picker *p = c->p;
    c->claim = 1;
    for (uint32_t i = 0; i < p->nparts && !full(c) && c->touched == 0; i++) {
        struct partial *r = p->parts[i];
        if (wanted(p, r->piece) && peer_has(c, r->piece))
            take(c, r->piece);
    }
    c->claim = 0;
}

/* The peer got nothing and has nothing outstanding: it is idle for want of
 * pieces. Marks the unfinished pieces it has that a source of whole pieces
 * keeps from it, so that source can give them back. */
static void
mark_awaited(struct pick *c)
{
    struct picker *p = c->p;
    if (c->n || c->err || c->pr->nreq || c->trust == PICKER_TRUST_WHOLE ||
        (picker_trust_one_piece(c->trust) && c->touched >= 1))
        return;
    for (uint32_t i = 0; i < p->nparts; i++) {
        struct partial *r = p->parts[i];
        if (!r->owner || r->awaited || r->nreceived == r->nblocks ||
            !wanted(p, r->piece) || !peer_has(c, r->piece) ||
            picker_trust_of(p, r->owner) != PICKER_TRUST_WHOLE)
            continue;
        const struct piece_peer *pp = picker_piece_peer(r, c->peer);
        if (!pp || !pp->rejected)
            r->awaited = 1;
    }
}

int
picker_next_blocks(struct picker *p, void *peer, const struct bitfield *peer_has,
                   const uint32_t *suggested, size_t nsuggested, struct picker_block *out,
                   int max)
{
    if (max <= 0 || p->want_missing == 0 || (peer_has && peer_has->count == 0))
        return 0;
    struct pick c = {.p = p, .peer = peer, .has = peer_has, .out = out, .max = max};
    c.pr = peer_get(p, peer);
    if (!c.pr)
        return SHOAL_ENOMEM;
    c.seedlike =
        !peer_has || (peer_has->nbits >= p->npieces && bitfield_is_full(peer_has));
    if (c.seedlike)
        c.has = NULL;
    /* Enough pieces to hold what is outstanding plus this batch, and one
     * more so a piece finishing does not stall the pipeline. */
    uint64_t need = ((uint64_t)c.pr->nreq + (uint64_t)max + p->bpp - 1) / p->bpp + 1;
    c.limit = need > PICKER_PEER_PIECES ? (uint32_t)need : PICKER_PEER_PIECES;
    c.trust = picker_trust_of(p, peer);
    if (c.trust != PICKER_TRUST_FULL)
        c.touched = picker_touched(p, peer);

    for (int level = PICKER_PRIO_HIGH; level > PICKER_PRIO_SKIP && !full(&c); level--) {
        if (!p->level_missing[level])
            continue;
        pick_partials(&c, level, 1);
        if (p->sequential) {
            pick_sequential(&c, level);
        } else {
            pick_partials(&c, level, 0);
            pick_suggested(&c, level, suggested, nsuggested);
            pick_rarest(&c, level);
        }
    }
    if (!full(&c) && picker_in_endgame(p))
        pick_endgame(&c);
    if (c.n == 0 && picker_trust_owns(c.trust))
        pick_claim(&c);
    mark_awaited(&c);

    int n = c.n;
    peer_release_if_idle(p, c.pr);
    if (n == 0 && c.err)
        return c.err;
    return n;
}

int
picker_in_endgame(const struct picker *p)
{
    return p->want_missing > 0 && p->want_partial == p->want_missing && p->want_free == 0;
}

int
picker_piece_awaited(const struct picker *p, uint32_t piece)
{
    const struct partial *r = piece < p->npieces ? picker_part_find(p, piece) : NULL;
    return r && r->awaited;
}

/* ------------------------------------------------------------------ arrivals */

/* The partial and block index named by (piece, begin), or NULL. */
struct partial *
picker_find_block(const struct picker *p, uint32_t piece, uint32_t begin, uint32_t *b)
{
    if (piece >= p->npieces || begin % PICKER_BLOCK_SIZE)
        return NULL;
    struct partial *r = picker_part_find(p, piece);
    if (!r || begin / PICKER_BLOCK_SIZE >= r->nblocks)
        return NULL;
    *b = begin / PICKER_BLOCK_SIZE;
    return r;
}

int
picker_block_received(struct picker *p, void *peer, uint32_t piece, uint32_t begin,
                      uint32_t length)
{
    uint32_t b;
    struct partial *r = picker_find_block(p, piece, begin, &b);
    if (!r || length != block_len(p, piece, b))
        return SHOAL_EINVAL;
    struct blk *k = &r->blocks[b];
    if ((k->flags & BF_RECEIVED) || !(k->flags & BF_ASKED))
        return SHOAL_EINVAL;
    /* A piece on parole takes blocks from its owner only, and its owner
     * gives blocks to no other piece. */
    if (r->owner != peer && (r->owner || picker_trust_owns(picker_trust_of(p, peer))))
        return SHOAL_EINVAL;
    /* The only allocation comes first, so a failure changes nothing. */
    struct piece_peer *pp = piece_peer_get(r, peer);
    if (!pp)
        return SHOAL_ENOMEM;
    pp->got++;
    /* A block nobody had outstanding (cancelled, then sent anyway) was
     * counted free. */
    if (k->nwho == 0)
        free_delta(p, r, -1);
    /* Every request for it is over. The deliverer leaves the list; the
     * others stay on it so the session can send them cancels. */
    for (uint8_t j = 0; j < k->nwho; j++)
        release_out(p, r, k->who[j]);
    for (uint8_t j = 0; j < k->nwho; j++) {
        if (k->who[j] == peer) {
            k->who[j] = k->who[--k->nwho];
            break;
        }
    }
    k->flags |= BF_RECEIVED;
    k->from = peer;
    r->nreceived++;
    return r->nreceived == r->nblocks ? 1 : 0;
}

/* 1 when the block is still outstanding with peer. */
int
picker_blk_asked(const struct blk *k, void *peer)
{
    if (k->flags & BF_RECEIVED)
        return 0;
    for (uint8_t j = 0; j < k->nwho; j++)
        if (k->who[j] == peer)
            return 1;
    return 0;
}

void
picker_block_cancelled(struct picker *p, void *peer, uint32_t piece, uint32_t begin)
{
    uint32_t b;
    struct partial *r = picker_find_block(p, piece, begin, &b);
    if (!r)
        return;
    if (r->owner == peer && picker_blk_asked(&r->blocks[b], peer)) {
        /* A piece on parole is whole from its owner or not at all. */
        picker_part_destroy(p, r);
        return;
    }
    picker_blk_drop(p, r, b, peer);
}

void
picker_piece_reset(struct picker *p, uint32_t piece)
{
    struct partial *r = piece < p->npieces ? picker_part_find(p, piece) : NULL;
    if (r)
        picker_part_destroy(p, r);
}

size_t
picker_block_requesters(const struct picker *p, uint32_t piece, uint32_t begin,
                        void **out, size_t max)
{
    uint32_t b;
    struct partial *r = picker_find_block(p, piece, begin, &b);
    if (!r)
        return 0;
    const struct blk *k = &r->blocks[b];
    for (size_t j = 0; j < k->nwho && j < max; j++)
        out[j] = k->who[j];
    return k->nwho;
}

uint32_t
picker_peer_requests(const struct picker *p, void *peer)
{
    struct peer_rec *pr = picker_rec_find(p, peer);
    return pr ? pr->nreq : 0;
}

/* ------------------------------------------------------------------ pipeline */

int
picker_pipeline_depth(uint64_t peer_rate_bytes_per_s, uint32_t rtt_ms_estimate)
{
    /* Caps that keep the product in range; both are far past the maximum. */
    uint64_t rate = peer_rate_bytes_per_s;
    if (rate > (1ull << 40))
        rate = 1ull << 40;
    uint64_t window_ms = (uint64_t)(rtt_ms_estimate < 600000 ? rtt_ms_estimate : 600000);
    window_ms += 1000;
    uint64_t bytes = rate * window_ms / 1000;
    uint64_t depth = (bytes + PICKER_BLOCK_SIZE - 1) / PICKER_BLOCK_SIZE;
    if (depth < PICKER_PIPELINE_MIN)
        return PICKER_PIPELINE_MIN;
    if (depth > PICKER_PIPELINE_MAX)
        return PICKER_PIPELINE_MAX;
    return (int)depth;
}
