/*
 * picker.h — the piece picker: which blocks to request from which peer.
 * Engine layer, pure policy.
 *
 * The picker keeps its own picture of the torrent — which pieces we have,
 * how many peers have each piece, piece priorities, and which blocks are
 * requested from whom — and the session keeps it current by calling the
 * functions below as messages arrive. It never sees a socket, a file or the
 * clock, and it never dereferences a peer: peers are opaque `void *` keys
 * compared by value. Randomness comes from the seed given to picker_new(), so
 * a run is reproducible.
 *
 * Order of choice for picker_next_blocks(), per priority level from high to
 * low (priority 0 = skip is never requested):
 *   1. free blocks of partial pieces this peer already works on;
 *   2. free blocks of other partial pieces;
 *   3. pieces the peer suggested (BEP 6), when not in sequential mode;
 *   4. new pieces: rarest first with a random tie-break, or, in sequential
 *      mode, lowest index first;
 * and when every wanted block is requested or received (endgame), blocks
 * already requested from other peers, each block from at most a few peers
 * (PICKER_ENDGAME_REQUESTERS in picker_internal.h). Outside endgame a peer
 * works on a bounded number of pieces at once (enough to fill its pipeline,
 * at least PICKER_PEER_PIECES in picker.c), so pieces finish instead of all
 * being half done.
 *
 * Trust (smart ban). A peer whose data was never verified could poison any
 * piece it touches, and a piece that fails with blocks from several peers
 * does not say who lied. So the picker keeps a trust level per peer (see
 * enum picker_trust): a new peer's data sits in one unverified piece at a
 * time, and after a failed piece each of its senders is on parole, fetching
 * whole pieces alone, until a piece it sent alone passes. A liar can thus
 * spoil at most one piece before its parole and at most one more during
 * it, and that one names it alone. A peer that rejects a block of a piece
 * is not asked for that piece again until picker_peer_forgive().
 *
 * Blocks are PICKER_BLOCK_SIZE bytes; the last block of a piece whose size is
 * not a multiple of it, and the last block of the torrent, are shorter.
 */
#ifndef SHOAL_PICKER_H
#define SHOAL_PICKER_H

#include <stddef.h>
#include <stdint.h>

#include "base/bitfield.h"

/* The request size every client uses (BEP 3 practice; larger is refused). */
#define PICKER_BLOCK_SIZE 16384

/* Piece priorities: 0 is never downloaded, higher is picked first. */
#define PICKER_PRIO_SKIP   0
#define PICKER_PRIO_LOW    1
#define PICKER_PRIO_NORMAL 4
#define PICKER_PRIO_HIGH   7

struct picker;

struct picker_block {
    uint32_t piece;
    uint32_t begin;  /* byte offset in the piece, a multiple of 16 KiB */
    uint32_t length; /* 16 KiB except at the end of a piece */
};

/*
 * Makes a picker for a torrent of piece_count pieces of piece_length bytes
 * (the last one shorter, so that they add up to total_size). Every piece
 * starts missing, at PICKER_PRIO_NORMAL, with no peer having it. `seed`
 * drives the random tie-break. Returns NULL when the sizes do not fit
 * together (piece_count 0 or above SHOAL_MAX_PIECES, piece_length 0 or above
 * 1 GiB, total_size outside ((piece_count-1)*piece_length,
 * piece_count*piece_length]) or when out of memory.
 */
struct picker *picker_new(uint32_t piece_count, uint32_t piece_length,
                          uint64_t total_size, uint64_t seed);
void picker_free(struct picker *p);

uint32_t picker_piece_count(const struct picker *p);
/* Size in bytes of piece i (0 when out of range). */
uint32_t picker_piece_size(const struct picker *p, uint32_t piece);

/* ---------------------------------------------------------------- our pieces */

/* Marks a verified piece as had (from resume data or a hash check). Any
 * requests for it are forgotten. Out-of-range indices are ignored. */
void picker_set_have(struct picker *p, uint32_t piece);
int picker_have(const struct picker *p, uint32_t piece);
uint32_t picker_have_count(const struct picker *p);
/* Our pieces as a wire bitfield, owned by the picker, valid until it is freed. */
const struct bitfield *picker_have_bits(const struct picker *p);
/* 1 when every piece with priority above 0 is had. */
int picker_is_complete(const struct picker *p);
/* Bytes of pieces with priority above 0 that we do not have yet. */
uint64_t picker_left_bytes(const struct picker *p);

/* ---------------------------------------------------------------- availability */

/*
 * What connected peers have. Every call that adds must later be matched by
 * the call that removes, when the peer goes away: picker_peer_have() and
 * picker_peer_bitfield() by picker_peer_lost() with the peer's final
 * bitfield, picker_peer_have_all() by picker_peer_lost_all(). A seed (BEP 6
 * have_all, or a full bitfield) is best reported with have_all: it costs one
 * counter, not one count per piece. Out-of-range indices are ignored; a
 * bitfield must have picker_piece_count() bits (extra bits are ignored).
 */
void picker_peer_have(struct picker *p, uint32_t piece);
void picker_peer_bitfield(struct picker *p, const struct bitfield *bf);
void picker_peer_have_all(struct picker *p);
void picker_peer_lost(struct picker *p, const struct bitfield *bf);
void picker_peer_lost_all(struct picker *p);
/* Number of connected peers known to have the piece (seeds included). */
uint32_t picker_availability(const struct picker *p, uint32_t piece);

/* ---------------------------------------------------------------- priorities */

/* Sets one piece's priority (0..7). Returns 0, or SHOAL_EINVAL for a bad
 * index or priority. */
int picker_set_piece_priority(struct picker *p, uint32_t piece, int prio);
/*
 * Raises every piece in [first, last] to at least `prio`: a piece shared by
 * two files gets the higher of their priorities. To apply file priorities,
 * call picker_set_all_priority(p, PICKER_PRIO_SKIP) and then this once per
 * file. Returns 0, or SHOAL_EINVAL (nothing changed) for a bad range/priority.
 */
int picker_set_range_priority(struct picker *p, uint32_t first, uint32_t last, int prio);
/* Sets every piece to prio. 0 or SHOAL_EINVAL. */
int picker_set_all_priority(struct picker *p, int prio);
int picker_piece_priority(const struct picker *p, uint32_t piece);
/* Sequential mode: lowest wanted index first instead of rarest first.
 * Priorities still come first. */
void picker_set_sequential(struct picker *p, int on);

/* ---------------------------------------------------------------- requests */

/*
 * Chooses up to `max` blocks to request from `peer` now, writes them to out,
 * and records them as requested by that peer. peer_has is what the peer has
 * (NULL when it is a seed); it must agree with what the session reported
 * through picker_peer_*(). `suggested` lists pieces the peer suggested
 * (BEP 6), best first; may be NULL. Returns the number of blocks written
 * (0 when there is nothing to ask this peer for). When memory runs out part
 * way, the blocks chosen so far are returned as usual; SHOAL_ENOMEM comes
 * back only when none could be chosen (then none is recorded).
 *
 * Cost: the partial pieces are walked once per priority level in use, plus
 * the pieces passed over before finding the peer's; a peer that lacks the
 * rarest pieces costs at most PICKER_SCAN_BUDGET (picker.c) steps and then
 * one walk of its bitfield a word at a time.
 */
int picker_next_blocks(struct picker *p, void *peer, const struct bitfield *peer_has,
                       const uint32_t *suggested, size_t nsuggested,
                       struct picker_block *out, int max);

/* 1 when every block of every wanted missing piece is requested or received,
 * so picker_next_blocks() hands out duplicate requests. */
int picker_in_endgame(const struct picker *p);

/*
 * 1 when a peer that had nothing outstanding asked picker_next_blocks() in
 * vain and has the piece, which a PICKER_TRUST_WHOLE source holds
 * unfinished: that source stands in an idle peer's way, and should give the
 * piece back (picker_block_cancelled() of a block it has outstanding gives
 * back the whole piece, which is then fetched whole from peers). The mark
 * lasts as long as that hold on the piece.
 */
int picker_piece_awaited(const struct picker *p, uint32_t piece);

/*
 * Records a block that arrived from `peer`. Returns 1 when it completed the
 * piece (every block received: hash it, then call picker_piece_passed() or
 * picker_piece_failed()), 0 when the piece still misses blocks, SHOAL_EINVAL
 * when the block is not wanted — the piece is had, the block was already
 * received, was never requested from anyone since the piece was last reset,
 * or begin/length do not name a block — and SHOAL_ENOMEM. On a negative
 * return nothing changed; the caller drops the data (the peer did nothing
 * wrong by sending a block we cancelled too late).
 *
 * A block arriving from a peer other than the one asked is accepted too. The
 * other peers it was requested from stay listed by picker_block_requesters()
 * so the session can cancel them. Not accepted (SHOAL_EINVAL): a block of a
 * piece that is another peer's on parole, or from a peer on parole for a
 * piece not its own.
 */
int picker_block_received(struct picker *p, void *peer, uint32_t piece, uint32_t begin,
                          uint32_t length);

/*
 * Forgets that `peer` has the block requested (rejected, timed out, choked,
 * cancelled). When no other peer has it requested and it was not received,
 * it can be handed out again. Unknown blocks are ignored. A piece that is
 * the peer's own on parole is given back wholly (see PICKER_TRUST_PAROLE).
 */
void picker_block_cancelled(struct picker *p, void *peer, uint32_t piece, uint32_t begin);

/*
 * Releases everything `peer` has requested, as if each block were cancelled,
 * and drops it from every requesters list (one walk over the blocks of the
 * partial pieces it worked on). It stays in the contributor list
 * of pieces it sent blocks for until those pieces pass or fail (for
 * smart-ban). Pieces that were its own on parole are given back wholly, and
 * its trust level is forgotten. The key is never dereferenced, but if the session reuses
 * the same pointer for a new peer, the two are one key to the picker.
 */
void picker_peer_gone(struct picker *p, void *peer);

/* The piece hashed correctly: it is had now; its request records are freed.
 * Its senders gain trust: a new one becomes fully trusted, and so does one
 * on parole that sent the whole piece alone. */
void picker_piece_passed(struct picker *p, uint32_t piece);
/* The piece failed its hash: every block of it can be requested again and
 * its contributors are forgotten. When it came from several peers, each of
 * them still connected goes on parole (picker_peer_set_trust()); a single
 * sender is the session's to ban. Requests the parole took back are no
 * longer listed by picker_block_requesters(): the session should cancel
 * them. */
void picker_piece_failed(struct picker *p, uint32_t piece);
/* The piece's data was lost on our side (a write failed, out of memory):
 * every block of it can be requested again; nobody is blamed. */
void picker_piece_reset(struct picker *p, uint32_t piece);

/* ---------------------------------------------------------------- trust */

enum picker_trust {
    /* The default: picks as described at the top. */
    PICKER_TRUST_FULL,
    /* Nothing it sent has been verified yet: its blocks sit in at most one
     * unverified piece at a time (requested, received, or being hashed). */
    PICKER_TRUST_NEW,
    /* It sent blocks of a piece that failed: as NEW, and its piece is its
     * alone: no other peer gets blocks of it, it gets no blocks of others'
     * pieces, and when it rejects or drops a request of it (cancel, choke,
     * time-out, gone) before the piece is whole, the whole piece is given
     * back, its blocks thrown away. */
    PICKER_TRUST_PAROLE,
    /* A source that fetches whole pieces, such as a web seed (BEP 19): as
     * PAROLE, each piece it starts is its own and takes blocks from it
     * alone (so a bad piece names it), but it may work on several pieces
     * at once, and verdicts never change its level. It gets no endgame
     * duplicates, and nobody duplicates its blocks; a peer left idle by
     * its pieces marks them (picker_piece_awaited()) for it to give back. */
    PICKER_TRUST_WHOLE,
};

/*
 * Sets how far peer's data is trusted. Putting a peer on parole takes back
 * what it has in pieces that are not its own and not yet complete: its
 * received blocks are thrown away (fetched again, from anyone) and its
 * requests released (cancel them on the wire). Returns 0 or SHOAL_ENOMEM
 * (then nothing changed). picker_peer_gone() forgets it.
 */
int picker_peer_set_trust(struct picker *p, void *peer, enum picker_trust trust);
enum picker_trust picker_peer_trust(const struct picker *p, void *peer);
/* Unverified pieces that hold data or requests of peer (one walk of the
 * partial pieces). */
uint32_t picker_peer_unverified(const struct picker *p, void *peer);

/*
 * The peer refused a block we asked for (BEP 6 reject, while it unchokes
 * us). Like picker_block_cancelled(), and the peer is not asked for more of
 * that piece until the piece resolves or picker_peer_forgive(). When the
 * piece was the peer's own on parole, it is given back wholly (its blocks
 * thrown away) and 1 is returned: cancel the peer's other requests in it.
 * Else 0.
 */
int picker_block_rejected(struct picker *p, void *peer, uint32_t piece, uint32_t begin);
/* Lets the peer be asked again for pieces it rejected blocks of (so a peer
 * that rejected once is not shut out of a piece only it has). */
void picker_peer_forgive(struct picker *p, void *peer);

/*
 * The peers that sent blocks of a missing piece since it was last reset
 * (call before picker_piece_failed() to know whom to suspect). Writes up to
 * max keys to out and returns how many there are in all (may exceed max).
 */
size_t picker_piece_contributors(const struct picker *p, uint32_t piece, void **out,
                                 size_t max);

/*
 * The peers the block is requested from: before it arrives, everyone it is
 * outstanding with; after picker_block_received(), the others that were
 * asked too and should now get a cancel (until they are cancelled or gone or
 * the piece resolves). Writes up to max keys and returns the total.
 */
size_t picker_block_requesters(const struct picker *p, uint32_t piece, uint32_t begin,
                               void **out, size_t max);

/* Number of blocks currently requested from peer (by this picker). */
uint32_t picker_peer_requests(const struct picker *p, void *peer);

/*
 * How many 16 KiB requests to keep outstanding with a peer that sends
 * `peer_rate_bytes_per_s` with a round trip of `rtt_ms_estimate`: enough
 * bytes in flight to cover the rate over one round trip plus one second of
 * margin (rate * (rtt + 1000 ms) / 16 KiB), at least PICKER_PIPELINE_MIN (so
 * a new, not yet measured peer gets going) and at most PICKER_PIPELINE_MAX
 * (32 MiB in flight). Pure.
 */
int picker_pipeline_depth(uint64_t peer_rate_bytes_per_s, uint32_t rtt_ms_estimate);

#define PICKER_PIPELINE_MIN 4
#define PICKER_PIPELINE_MAX 2000

#endif
