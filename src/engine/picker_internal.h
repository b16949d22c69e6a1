/*
 * picker_internal.h — what the two files of the piece picker share: its
 * structs and the helpers each calls in the other. Engine layer, private to
 * src/engine/picker.c and src/engine/picker_trust.c; everything else uses
 * picker.h.
 *
 * picker.c picks blocks and keeps the request and arrival records;
 * picker_trust.c keeps the trust levels smart ban needs (new peers, parole,
 * rejects, contributors kept for blame) and decides from them what a
 * verdict on a piece or a peer leaving does to those records.
 */
#ifndef SHOAL_PICKER_INTERNAL_H
#define SHOAL_PICKER_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "base/bitfield.h"
#include "engine/picker.h"

/* In endgame a block is requested from at most this many peers at a time. */
#define PICKER_ENDGAME_REQUESTERS 3
/* Availability counts below this each get a bucket of their own... */
#define PICKER_AVAIL_EXACT 32
/* ...above it, buckets are this wide (rarity matters less among the common)... */
#define PICKER_AVAIL_STEP 16
/* ...up to this many buckets per priority level; the rest share the last. */
#define PICKER_AVAIL_BUCKETS 64

/* Priority levels 1..PICKER_PRIO_HIGH, each a run of availability buckets,
 * then one bucket for pieces that are had or skipped. */
#define LEVELS          PICKER_PRIO_HIGH
#define EXCLUDED_BUCKET (LEVELS * PICKER_AVAIL_BUCKETS)
#define ORDER_BUCKETS   (EXCLUDED_BUCKET + 1)

#define PF_HAVE    0x1 /* verified and had */
#define PF_PARTIAL 0x2 /* has a struct partial */

#define BF_RECEIVED 0x1 /* the block arrived */
#define BF_ASKED    0x2 /* it was requested since the piece was last reset */

struct piece_info {
    uint16_t avail; /* non-seed peers that have it */
    uint8_t prio;
    uint8_t flags; /* PF_* */
    uint32_t pos;  /* index in picker.order */
};

struct blk {
    /* Before arrival: the peers it is requested from. After: those asked that
     * did not deliver it, kept so the session can cancel them. */
    void *who[PICKER_ENDGAME_REQUESTERS];
    void *from; /* who delivered it, once received */
    uint8_t nwho;
    uint8_t flags; /* BF_* */
};

/* A peer that requested or sent blocks of a partial piece. */
struct piece_peer {
    void *key;
    uint32_t out;     /* blocks of this piece requested from it now */
    uint32_t got;     /* blocks of this piece it sent */
    uint8_t rejected; /* it refused a block of this piece: ask it no more */
    uint8_t gone;     /* picker_peer_gone() ran; kept only for blame */
};

struct partial {
    uint32_t piece;
    uint32_t idx; /* index in picker.parts */
    uint32_t nblocks;
    uint32_t nfree;     /* blocks neither requested nor received */
    uint32_t nreceived; /* blocks received */
    uint32_t next_free; /* no free block has a lower index */
    uint32_t npeers;
    uint32_t cappeers;
    void *owner; /* the peer on parole whose piece this is, or NULL */
    /* An idle peer wanted this piece while a PICKER_TRUST_WHOLE owner held
     * it unfinished (picker_piece_awaited()). */
    uint8_t awaited;
    struct piece_peer *peers;
    struct blk blocks[];
};

/* A peer with requests outstanding. */
struct peer_rec {
    void *key;
    uint32_t nreq;    /* blocks requested from it */
    uint32_t npieces; /* distinct pieces among them */
};

/* Open-addressing hash table from a 64-bit key to a non-NULL pointer, with
 * linear probing and backward-shift deletion (no tombstones). */
struct map {
    uint64_t *keys;
    void **vals;
    size_t cap; /* power of two, or 0 */
    size_t n;
};

struct picker {
    uint32_t npieces;
    uint32_t piece_length;
    uint32_t last_size; /* size of the last piece */
    uint32_t bpp;       /* blocks in a full piece */
    uint64_t total_size;

    struct piece_info *pi;
    uint32_t *order;
    uint32_t bstart[ORDER_BUCKETS + 1]; /* bucket b is order[bstart[b]..bstart[b+1]) */
    int order_valid;
    uint64_t rng;

    struct bitfield have;
    uint32_t seeds;
    int sequential;
    /* Sequential mode: every piece below seq_cursor[l] is had or not at
     * priority l, and none at or past seq_end[l] is at priority l. */
    uint32_t seq_cursor[LEVELS + 1];
    uint32_t seq_end[LEVELS + 1];

    uint32_t level_missing[LEVELS + 1]; /* missing pieces per priority */
    uint32_t want_missing;              /* missing pieces with priority > 0 */
    uint64_t want_left;                 /* their bytes */
    uint32_t want_partial;              /* of those, how many have a partial */
    uint64_t want_free;                 /* free blocks in those partials */

    struct partial **parts;
    uint32_t nparts;
    uint32_t capparts;
    struct map part_map;  /* piece -> struct partial */
    struct map peer_map;  /* key -> struct peer_rec */
    struct map trust_map; /* key -> enum picker_trust, FULL ones absent */
};

/* ------------------------------------------------------------------ picker.c */

/* The hash map: absent keys read as NULL; put adds a key that is not
 * present and returns 0 or SHOAL_ENOMEM (map unchanged). */
void *picker_map_get(const struct map *m, uint64_t key);
int picker_map_put(struct map *m, uint64_t key, void *val);
void picker_map_del(struct map *m, uint64_t key);
/* A peer key as a map key. */
uint64_t picker_key(void *peer);

/* The request record of a peer with requests outstanding, or NULL. */
struct peer_rec *picker_rec_find(const struct picker *p, void *key);
/* The partial of a piece, or NULL. */
struct partial *picker_part_find(const struct picker *p, uint32_t piece);
/* The record of a connected peer in a partial (not one kept for blame). */
struct piece_peer *picker_piece_peer(struct partial *r, void *key);
/* Frees a piece's partial, releasing what its peers had outstanding. */
void picker_part_destroy(struct picker *p, struct partial *r);
/* Takes peer off block b's list, releasing its request; 1 when it was on. */
int picker_blk_drop(struct picker *p, struct partial *r, uint32_t b, void *peer);
/* Throws a received block away: it is free to be fetched again. */
void picker_blk_unreceive(struct picker *p, struct partial *r, uint32_t b);
/* 1 when the block is still outstanding with peer. */
int picker_blk_asked(const struct blk *k, void *peer);
/* The partial and block index named by (piece, begin), or NULL. */
struct partial *picker_find_block(const struct picker *p, uint32_t piece, uint32_t begin,
                                  uint32_t *b);
/* Unverified pieces that hold the peer's data or requests. */
uint32_t picker_touched(const struct picker *p, void *peer);

/* ------------------------------------------------------------ picker_trust.c */

/* The peer's trust level; PICKER_TRUST_FULL when it has none recorded. */
enum picker_trust picker_trust_of(const struct picker *p, void *peer);

/* Levels whose pieces are their own: blocks from nobody else (picker.h). */
static inline int
picker_trust_owns(enum picker_trust t)
{
    return t == PICKER_TRUST_PAROLE || t == PICKER_TRUST_WHOLE;
}

/* Levels held to data in one unverified piece at a time. */
static inline int
picker_trust_one_piece(enum picker_trust t)
{
    return t == PICKER_TRUST_NEW || t == PICKER_TRUST_PAROLE;
}

#endif
