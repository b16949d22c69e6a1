/*
 * meta_fetch.h — assembling a torrent's metadata (its info dictionary) from
 * peers, BEP 9. Engine layer: sans-I/O, the time comes in as an argument;
 * the session sends the requests this module hands out and passes back what
 * arrives.
 *
 * Peers are opaque keys (the session's connection pointers). Each peer that
 * offers metadata says how big it is; the size most peers agree on is
 * fetched, in 16 KiB pieces spread over the peers that claim that size, a
 * few requests in flight per peer. A piece rejected or not answered in time
 * goes back to be asked of another peer. The whole is SHA-1 checked against
 * the infohash before anyone may use a byte of it; when the check fails the
 * buffer is dropped, and the peers that sent it are not asked again while
 * others offer the metadata (a lone sender is excluded for good; several
 * are each tried alone when nobody else is left, meta_fetch.c). Nothing is allocated by a
 * size claim until that size is being fetched, and never more than UT_METADATA_MAX_SIZE.
 */
#ifndef SHOAL_META_FETCH_H
#define SHOAL_META_FETCH_H

#include <stddef.h>
#include <stdint.h>

#include "codec/ut_metadata.h"

/* Peers tracked at once; more are not asked (their metadata is the same). */
#define META_FETCH_MAX_PEERS 256
/* Requests in flight to one peer: enough to spread the pieces over several
 * peers, few enough that a slow one holds little. */
#define META_FETCH_PEER_INFLIGHT 2
/* A request unanswered this long is asked of another peer. */
#define META_FETCH_TIMEOUT_MS 15000
/* A peer that rejected a request or let it time out is asked for nothing
 * for this long (BEP 9: a reject means it does not have the metadata). */
#define META_FETCH_HOLD_MS 10000

/* What meta_fetch_data() made of a piece. */
enum meta_fetch_verdict {
    META_FETCH_TAKEN = 0,    /* stored; more pieces to come */
    META_FETCH_DONE = 1,     /* the last piece: the metadata is verified */
    META_FETCH_BAD_HASH = 2, /* the last piece, and the whole failed its check:
                                dropped, and its senders excluded */
};

struct meta_fetch;

/* A fetch for the torrent whose infohash is ih (copied). NULL when out of
 * memory. */
struct meta_fetch *meta_fetch_new(const uint8_t ih[20]);
void meta_fetch_free(struct meta_fetch *mf);

/*
 * A peer offers metadata of size bytes (its BEP 10 metadata_size); a second
 * call for the same key changes its claim. Returns 0; SHOAL_EINVAL for a
 * size of 0 or over UT_METADATA_MAX_SIZE (ignored); SHOAL_EBANNED for an
 * excluded peer; SHOAL_ETOOBIG when the table is full.
 */
int meta_fetch_add_peer(struct meta_fetch *mf, void *key, uint32_t size);
/* Forgets a peer (it disconnected): its requests go back to be asked of
 * others. The key may be reused by a new peer after this. */
void meta_fetch_remove_peer(struct meta_fetch *mf, void *key);

/*
 * The next piece to ask key for, at now: returns 1 and sets *piece, or 0
 * when there is nothing to ask it (it claims another size, is excluded,
 * waits after a reject, has enough in flight, or every piece is asked for),
 * or SHOAL_ENOMEM. The first request of a size allocates its buffer.
 */
int meta_fetch_next(struct meta_fetch *mf, void *key, uint64_t now, uint32_t *piece);

/*
 * A data message from key: piece of metadata of total_size bytes, data of
 * len bytes. Returns an enum meta_fetch_verdict, or SHOAL_EINVAL when it is
 * nothing we asked key for (another size, a piece asked of another peer, a
 * wrong length): it is ignored.
 */
int meta_fetch_data(struct meta_fetch *mf, void *key, uint32_t piece, uint32_t total_size,
                    const uint8_t *data, size_t len, uint64_t now);
/* key rejected our request for piece: it goes to another peer, and key
 * waits META_FETCH_HOLD_MS. */
void meta_fetch_reject(struct meta_fetch *mf, void *key, uint32_t piece, uint64_t now);
/* Requests older than META_FETCH_TIMEOUT_MS go back, at now. */
void meta_fetch_tick(struct meta_fetch *mf, uint64_t now);

/* The verified metadata (len in *len), or NULL before it is. Owned by mf. */
const uint8_t *meta_fetch_result(const struct meta_fetch *mf, size_t *len);
/* Peers that offer metadata and are not excluded. */
int meta_fetch_peer_count(const struct meta_fetch *mf);
/* 1 when key is never asked again: its own copy failed the check. */
int meta_fetch_is_excluded(const struct meta_fetch *mf, const void *key);
/* The size being fetched (0: none yet) and its pieces received so far. */
uint32_t meta_fetch_size(const struct meta_fetch *mf);
uint32_t meta_fetch_received(const struct meta_fetch *mf);

#endif
