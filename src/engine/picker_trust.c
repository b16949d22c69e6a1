/*
 * picker_trust.c — the piece picker's trust levels for smart ban. Engine
 * layer: pure policy, like picker.c.
 *
 * A new peer holds data in one unverified piece at a time; after a piece
 * fails with blocks from several peers, each of them goes on parole and
 * fetches whole pieces alone until one it sent alone passes. This file keeps
 * those levels (enum picker_trust, in picker.trust_map), takes back what a
 * peer going on parole holds in others' pieces, turns a hash verdict into
 * trust, keeps a peer that left listed as a contributor until its pieces
 * resolve (for blame), and remembers rejects until the peer is forgiven.
 * How the levels limit what a peer is given is picker.c's part, at pick
 * time. Like picker.c it must not touch sockets, files or the clock, and it
 * never dereferences a peer key.
 */
#include "engine/picker.h"

#include <stdint.h>

#include "base/alloc.h"
#include "engine/picker_internal.h"
#include "shoal.h"

/* ------------------------------------------------------------------ trust levels */

enum picker_trust
picker_trust_of(const struct picker *p, void *peer)
{
    /* Absent means fully trusted: the map holds the others only. */
    return (enum picker_trust)(uintptr_t)picker_map_get(&p->trust_map, picker_key(peer));
}

/* Takes back what a peer going on parole has in pieces that are not its own
 * and not yet complete (a complete one is being hashed: its verdict will
 * come): its blocks are thrown away and its requests released. */
static void
take_back(struct picker *p, void *peer)
{
    for (uint32_t i = 0; i < p->nparts; i++) {
        struct partial *r = p->parts[i];
        if (r->owner == peer || r->nreceived == r->nblocks || !picker_piece_peer(r, peer))
            continue;
        for (uint32_t b = 0; b < r->nblocks; b++) {
            struct blk *k = &r->blocks[b];
            if (k->flags & BF_RECEIVED) {
                if (k->from == peer)
                    picker_blk_unreceive(p, r, b);
            } else if (k->nwho) {
                picker_blk_drop(p, r, b, peer);
            }
        }
    }
}

int
picker_peer_set_trust(struct picker *p, void *peer, enum picker_trust trust)
{
    enum picker_trust old = picker_trust_of(p, peer);
    if (old == trust)
        return 0;
    if (old == PICKER_TRUST_FULL &&
        picker_map_put(&p->trust_map, picker_key(peer), (void *)(uintptr_t)trust) != 0)
        return SHOAL_ENOMEM;
    if (old != PICKER_TRUST_FULL) {
        /* Deleting first leaves room, so the put cannot fail. */
        picker_map_del(&p->trust_map, picker_key(peer));
        if (trust != PICKER_TRUST_FULL)
            picker_map_put(&p->trust_map, picker_key(peer), (void *)(uintptr_t)trust);
    }
    if (picker_trust_owns(trust)) {
        take_back(p, peer);
    } else if (picker_trust_owns(old)) {
        /* Off parole: its pieces may be shared again. */
        for (uint32_t i = 0; i < p->nparts; i++)
            if (p->parts[i]->owner == peer)
                p->parts[i]->owner = NULL;
    }
    return 0;
}

enum picker_trust
picker_peer_trust(const struct picker *p, void *peer)
{
    return picker_trust_of(p, peer);
}

uint32_t
picker_peer_unverified(const struct picker *p, void *peer)
{
    return picker_touched(p, peer);
}

/* ------------------------------------------------------------------ rejects */

int
picker_block_rejected(struct picker *p, void *peer, uint32_t piece, uint32_t begin)
{
    uint32_t b;
    struct partial *r = picker_find_block(p, piece, begin, &b);
    if (!r || !picker_blk_asked(&r->blocks[b], peer))
        return 0;
    if (r->owner == peer) {
        picker_part_destroy(p, r);
        return 1;
    }
    struct piece_peer *pp = picker_piece_peer(r, peer);
    if (pp)
        pp->rejected = 1;
    picker_blk_drop(p, r, b, peer);
    return 0;
}

void
picker_peer_forgive(struct picker *p, void *peer)
{
    for (uint32_t i = 0; i < p->nparts; i++) {
        struct piece_peer *pp = picker_piece_peer(p->parts[i], peer);
        if (pp)
            pp->rejected = 0;
    }
}

/* ------------------------------------------------------------------ peers leaving */

void
picker_peer_gone(struct picker *p, void *peer)
{
    for (uint32_t i = 0; i < p->nparts; i++) {
        struct partial *r = p->parts[i];
        if (r->owner == peer && r->nreceived < r->nblocks) {
            /* Its piece on parole is whole from it or not at all. The last
             * partial moves into slot i: look at slot i again. */
            picker_part_destroy(p, r);
            i--;
            continue;
        }
        if (r->owner == peer)
            r->owner = NULL;
        struct piece_peer *pp = picker_piece_peer(r, peer);
        if (!pp)
            continue;
        for (uint32_t b = 0; b < r->nblocks; b++)
            if (r->blocks[b].nwho)
                picker_blk_drop(p, r, b, peer);
        /* It stays a contributor until the piece resolves. */
        pp = picker_piece_peer(r, peer);
        if (pp && pp->got == 0)
            *pp = r->peers[--r->npeers];
        else if (pp)
            pp->gone = 1;
    }
    struct peer_rec *pr = picker_rec_find(p, peer);
    if (pr) {
        picker_map_del(&p->peer_map, picker_key(peer));
        xfree(pr);
    }
    picker_map_del(&p->trust_map, picker_key(peer));
}

/* ------------------------------------------------------------------ verdicts */

/* Peers still connected that sent blocks of r. */
static uint32_t
senders(const struct partial *r)
{
    uint32_t n = 0;
    for (uint32_t i = 0; i < r->npeers; i++)
        n += r->peers[i].got && !r->peers[i].gone;
    return n;
}

void
picker_piece_passed(struct picker *p, uint32_t piece)
{
    struct partial *r = piece < p->npieces ? picker_part_find(p, piece) : NULL;
    uint32_t alone = r && senders(r) == 1;
    for (uint32_t i = 0; r && i < r->npeers; i++) {
        struct piece_peer *pp = &r->peers[i];
        if (!pp->got || pp->gone)
            continue;
        enum picker_trust t = picker_trust_of(p, pp->key);
        if (t == PICKER_TRUST_NEW || (t == PICKER_TRUST_PAROLE && alone))
            picker_peer_set_trust(p, pp->key, PICKER_TRUST_FULL);
    }
    picker_set_have(p, piece);
}

void
picker_piece_failed(struct picker *p, uint32_t piece)
{
    if (piece >= p->npieces)
        return;
    struct partial *r = picker_part_find(p, piece);
    if (!r)
        return;
    /* Several senders and no telling who lied: each one fetches whole
     * pieces alone from now on, so it can spoil no piece but its own. The
     * failed piece is complete, so take_back() leaves it alone. */
    if (senders(r) > 1)
        for (uint32_t i = 0; i < r->npeers; i++)
            if (r->peers[i].got && !r->peers[i].gone &&
                picker_trust_of(p, r->peers[i].key) != PICKER_TRUST_WHOLE)
                picker_peer_set_trust(p, r->peers[i].key, PICKER_TRUST_PAROLE);
    picker_part_destroy(p, r);
}

size_t
picker_piece_contributors(const struct picker *p, uint32_t piece, void **out, size_t max)
{
    struct partial *r = piece < p->npieces ? picker_part_find(p, piece) : NULL;
    size_t n = 0;
    for (uint32_t i = 0; r && i < r->npeers; i++) {
        if (!r->peers[i].got)
            continue;
        if (n < max)
            out[n] = r->peers[i].key;
        n++;
    }
    return n;
}
