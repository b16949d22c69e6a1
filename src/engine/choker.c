/*
 * choker.c — choke/unchoke decisions. Engine layer: pure policy.
 *
 * Works only on the peer snapshot and the time it is handed (the rules are in
 * choker.h). It must not send anything, read a clock, keep state between
 * calls (the caller keeps `optimistic` and the random state) or allocate:
 * picking the best `slots` peers is done by repeated scans, O(n * slots),
 * which for the handful of slots is cheaper than sorting.
 */
#include "engine/choker.h"

#include <stdint.h>

#include "base/rng.h"

/* unchoke_out holds these while a round is worked out; only 0 and 1 leave. */
#define MARK_NONE    0 /* no slot (yet) */
#define MARK_REGULAR 1 /* won a regular slot */
#define MARK_PREV    2 /* held the optimistic slot until this rotation */

/* A per-round random rank for peer i, for breaking ties without storage. */
static uint64_t
tie_rank(uint64_t salt, size_t i)
{
    uint64_t s = salt ^ ((uint64_t)i * 0xd6e8feb86659fd93ull);
    return rng_next(&s);
}

/* Seeding classes, best first. */
enum seed_class { IN_TURN, WAITING, TURN_OVER };

static enum seed_class
seed_class(const struct choker_peer *c, uint64_t now_ms)
{
    if (c->choked)
        return WAITING;
    if (now_ms < c->last_unchoked_ms ||
        now_ms - c->last_unchoked_ms < CHOKER_SEED_TURN_MS)
        return IN_TURN;
    return TURN_OVER;
}

/* 1 when peer a should get a regular slot before peer b. */
static int
better(const struct choker_peer *peers, size_t a, size_t b, int seeding, uint64_t now_ms,
       uint64_t salt)
{
    const struct choker_peer *x = &peers[a], *y = &peers[b];
    if (seeding) {
        enum seed_class cx = seed_class(x, now_ms), cy = seed_class(y, now_ms);
        if (cx != cy)
            return cx < cy;
        if (cx == WAITING) {
            if (x->last_unchoked_ms != y->last_unchoked_ms)
                return x->last_unchoked_ms < y->last_unchoked_ms;
        } else if (x->up_rate != y->up_rate) {
            return x->up_rate > y->up_rate;
        }
    } else {
        if (x->down_rate != y->down_rate)
            return x->down_rate > y->down_rate;
        /* Keep the current holder rather than churn on a tie. */
        if (x->choked != y->choked)
            return !x->choked;
    }
    return tie_rank(salt, a) > tie_rank(salt, b);
}

static int
is_newcomer(const struct choker_peer *c, uint64_t now_ms)
{
    return now_ms >= c->connected_ms && now_ms - c->connected_ms < CHOKER_NEWCOMER_MS;
}

/*
 * Gives the optimistic slot to one interested peer without a slot, drawn at
 * random with newcomers weighted CHOKER_NEWCOMER_WEIGHT. Peers marked
 * `avoid` (the previous holder) are drawn only when nobody else can be.
 * Returns 0 when there is no candidate at all.
 */
static int
draw_optimistic(struct choker_peer *peers, size_t n, const int *mark, uint64_t now_ms,
                uint64_t *rng)
{
    for (int allow_prev = 0; allow_prev < 2; allow_prev++) {
        uint64_t total = 0;
        for (size_t i = 0; i < n; i++) {
            const struct choker_peer *c = &peers[i];
            if (!c->interested || c->optimistic || mark[i] == MARK_REGULAR ||
                (mark[i] == MARK_PREV && !allow_prev))
                continue;
            total += is_newcomer(c, now_ms) ? CHOKER_NEWCOMER_WEIGHT : 1;
        }
        if (!total)
            continue;
        uint64_t r = rng_next(rng) % total;
        for (size_t i = 0; i < n; i++) {
            struct choker_peer *c = &peers[i];
            if (!c->interested || c->optimistic || mark[i] == MARK_REGULAR ||
                (mark[i] == MARK_PREV && !allow_prev))
                continue;
            uint64_t w = is_newcomer(c, now_ms) ? CHOKER_NEWCOMER_WEIGHT : 1;
            if (r < w) {
                c->optimistic = 1;
                return 1;
            }
            r -= w;
        }
    }
    return 0;
}

void
choker_run(struct choker_peer *peers, size_t n, const struct choker_cfg *cfg, int seeding,
           int rotate_optimistic, uint64_t now_ms, uint64_t *rng_state, int *unchoke_out)
{
    int slots = cfg ? cfg->slots : CHOKER_DEFAULT_SLOTS;
    int opt_slots = cfg ? cfg->optimistic_slots : CHOKER_DEFAULT_OPTIMISTIC;
    if (slots < 0)
        slots = 0;
    if (opt_slots < 0)
        opt_slots = 0;
    uint64_t salt = rng_next(rng_state);

    for (size_t i = 0; i < n; i++)
        unchoke_out[i] = MARK_NONE;

    /* Regular slots: the best interested peers, one scan per slot. Snubbed
     * peers send us nothing, so downloading they earn no slot. */
    for (int s = 0; s < slots; s++) {
        size_t best = n;
        for (size_t i = 0; i < n; i++) {
            const struct choker_peer *c = &peers[i];
            if (!c->interested || unchoke_out[i] == MARK_REGULAR ||
                (!seeding && c->snubbed))
                continue;
            if (best == n || better(peers, i, best, seeding, now_ms, salt))
                best = i;
        }
        if (best == n)
            break;
        unchoke_out[best] = MARK_REGULAR;
    }

    /* Optimistic slots: holders that lost interest or won a regular slot
     * give theirs up; on rotation everyone does. */
    int held = 0;
    for (size_t i = 0; i < n; i++) {
        struct choker_peer *c = &peers[i];
        if (!c->optimistic)
            continue;
        if (!c->interested || unchoke_out[i] == MARK_REGULAR || rotate_optimistic ||
            held >= opt_slots) {
            c->optimistic = 0;
            if (rotate_optimistic && c->interested && unchoke_out[i] == MARK_NONE)
                unchoke_out[i] = MARK_PREV;
        } else {
            held++;
        }
    }
    while (held < opt_slots && draw_optimistic(peers, n, unchoke_out, now_ms, rng_state))
        held++;

    for (size_t i = 0; i < n; i++) {
        const struct choker_peer *c = &peers[i];
        if (!c->interested)
            /* Keeps its state so it can ask at once when interest comes; a
             * seed never will, so it is choked. */
            unchoke_out[i] = !c->choked && !c->is_seed;
        else
            unchoke_out[i] = unchoke_out[i] == MARK_REGULAR || c->optimistic;
    }
}

int
choker_is_snubbed(uint64_t last_block_ms, uint64_t now_ms, int have_outstanding_requests)
{
    return have_outstanding_requests && now_ms >= last_block_ms &&
           now_ms - last_block_ms >= CHOKER_SNUB_MS;
}
