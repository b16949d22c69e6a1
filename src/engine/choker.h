/*
 * choker.h — who we upload to: the choke/unchoke decision. Engine layer,
 * pure policy: the session hands in a snapshot of its peers and the time,
 * and gets back which peers to unchoke. No sockets, no clock, no allocation.
 *
 * The session calls choker_run() every 10 s (and may call it early when a
 * peer becomes interested or leaves), passing rotate_optimistic = 1 on every
 * third call (every 30 s). It then sends `choke` / `unchoke` where the answer
 * differs from peers[i].choked, updates `choked`, and sets last_unchoked_ms
 * to now for each peer it unchokes. It keeps peers[i].optimistic between
 * rounds: choker_run() writes it.
 *
 * Rules (BEP 3 tit-for-tat with an optimistic unchoke):
 *   - Regular slots go to interested peers only. Downloading, the `slots`
 *     peers we receive from fastest (down_rate) win; snubbed peers are left
 *     out. Ties go to the peer already unchoked, then to chance.
 *   - Seeding, slots rotate (round robin, after libtorrent's idea): a peer we
 *     unchoked keeps its slot for a turn of CHOKER_SEED_TURN_MS; the free
 *     slots go first to those in their turn (fastest up_rate first), then to
 *     choked peers that have waited longest since their last unchoke (never
 *     unchoked first), and only then to peers whose turn is over (fastest
 *     first). So every interested peer is served in turn, and a fast one
 *     keeps going while nobody waits.
 *   - Optimistic slots: when rotate_optimistic is 1, each goes to a random
 *     interested peer that has no regular slot, a peer connected less than
 *     CHOKER_NEWCOMER_MS ago being three times as likely (it has nothing to
 *     trade yet). Otherwise the current optimistic peers keep their slot while
 *     still interested; a vacant one is filled the same way at once.
 *     Snubbed peers may be picked: this is how they get another chance.
 *   - Not-interested peers take no slot and keep their current state: one
 *     already unchoked stays unchoked, so it can request at once when it
 *     becomes interested, without costing an interested peer its slot. A
 *     not-interested seed is choked (it will never want anything).
 */
#ifndef SHOAL_CHOKER_H
#define SHOAL_CHOKER_H

#include <stddef.h>
#include <stdint.h>

/* Regular unchoke slots by default (BEP 3 suggests four). */
#define CHOKER_DEFAULT_SLOTS 4
/* Optimistic unchoke slots by default. */
#define CHOKER_DEFAULT_OPTIMISTIC 1
/* No block for this long with requests outstanding: the peer snubs us. */
#define CHOKER_SNUB_MS 60000
/* How long a seeding unchoke lasts before the slot rotates. */
#define CHOKER_SEED_TURN_MS 60000
/* Peers connected more recently than this are favoured optimistically. */
#define CHOKER_NEWCOMER_MS 90000
/* Weight of a newcomer in the optimistic draw (others weigh 1). */
#define CHOKER_NEWCOMER_WEIGHT 3

struct choker_peer {
    void *key;                 /* the session's peer; never dereferenced */
    uint64_t down_rate;        /* bytes/s we receive from it */
    uint64_t up_rate;          /* bytes/s we send it */
    int interested;            /* it wants our data */
    int choked;                /* current state: we choke it */
    int snubbed;               /* see choker_is_snubbed() */
    uint64_t last_unchoked_ms; /* when we last unchoked it; 0 = never */
    uint64_t connected_ms;     /* when the connection was made */
    int is_seed;               /* it has every piece */
    int optimistic;            /* holds an optimistic slot; kept by the caller,
                                * written by choker_run() */
};

struct choker_cfg {
    int slots;            /* regular unchoke slots, default 4 */
    int optimistic_slots; /* default 1 */
};

/*
 * Decides one round: unchoke_out[i] = 1 to unchoke peers[i], 0 to choke it,
 * and peers[i].optimistic = 1 for the optimistic slot holders. cfg NULL means
 * the defaults; negative counts are taken as 0. `seeding` selects the
 * seeding rules; *rng_state is the caller's random state (any value; it is
 * advanced), so the same inputs and state give the same answer. O(n * slots).
 */
void choker_run(struct choker_peer *peers, size_t n, const struct choker_cfg *cfg,
                int seeding, int rotate_optimistic, uint64_t now_ms, uint64_t *rng_state,
                int *unchoke_out);

/* 1 when the peer snubs us: we have requests outstanding with it and no block
 * came for CHOKER_SNUB_MS (last_block_ms is the later of the last block and
 * the first request of the current run). */
int choker_is_snubbed(uint64_t last_block_ms, uint64_t now_ms,
                      int have_outstanding_requests);

#endif
