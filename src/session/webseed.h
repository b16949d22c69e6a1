/*
 * webseed.h — downloading a torrent's pieces from its web seeds (BEP 19
 * url-list) with ranged HTTP GETs on the session's loop. Session layer,
 * loop thread only.
 *
 * Each web seed is one source for the piece picker, with the trust level
 * PICKER_TRUST_WHOLE: the pieces it starts are its own, so a web seed and
 * a peer never fetch the same block, and a piece that fails its hash check
 * names the web seed that sent it. A request asks for a few seconds' worth
 * at the rate the web seed has shown, and when peers that could supply a
 * piece it holds have nothing else to do, it gives that piece back to them:
 * a slow web seed never holds up the peers, and one that is the only
 * source still finishes. Such a web seed is dropped for the rest
 * of the run; HTTP failures (an error status, a refused connection, a time
 * out) only make it wait, longer after each failure in a row. At most
 * WEBSEED_MAX_INFLIGHT requests run per torrent.
 *
 * The module never includes torrent.h or session.h: it sees its torrent
 * through struct webseed_owner, and the clock and status lines through the
 * session's hooks (hooks.h).
 */
#ifndef SHOAL_WEBSEED_H
#define SHOAL_WEBSEED_H

#include <stddef.h>
#include <stdint.h>

#include "shoal.h"

struct hooks;
struct http_client;
struct picker;
struct webseeds;

/* Web seeds taken from a torrent's url-list; the rest are ignored. */
#define WEBSEED_MAX_SEEDS 8
/* Requests in flight per torrent, over all its web seeds. */
#define WEBSEED_MAX_INFLIGHT 4

/* What the web seeds see of their torrent. */
struct webseed_owner {
    void *ctx; /* passed to both callbacks */
    /* 1 while the torrent wants data now (downloading, and the disk keeps
     * up); 0 stops new requests, and those in flight run to their end. */
    int (*can_fetch)(void *ctx);
    /* A block of a piece arrived from the web seed whose picker key is
     * `key`: store it as a peer's block would be (picker_block_received()
     * and the rest). data is borrowed until the call returns. */
    void (*on_block)(void *ctx, void *key, uint32_t piece, uint32_t begin,
                     const uint8_t *data, size_t len);
};

/*
 * Makes the web seeds of torrent m: the first WEBSEED_MAX_SEEDS HTTP(S)
 * URLs of its url-list that the local-only guard allows (the others are
 * reported through h->emit and skipped). Keeps references to h, http,
 * picker, m and owner->ctx, which must outlive it. A torrent without web
 * seeds gets an empty set. Returns 0 and *out, or SHOAL_ENOMEM.
 */
int webseeds_new(const struct hooks *h, struct http_client *http, struct picker *picker,
                 const shoal_metainfo *m, const struct webseed_owner *owner,
                 struct webseeds **out);
/* Cancels the requests in flight, giving their blocks back to the picker
 * (which must still exist), and frees w. NULL does nothing. */
void webseeds_free(struct webseeds *w);
/* Cancels the requests in flight, giving their blocks back to the
 * picker; no request starts after this, and no block is handed over. */
void webseeds_stop(struct webseeds *w);
/* Gives back the pieces idle peers wait for (picker_piece_awaited()) that
 * a web seed will not finish soon, then starts requests while slots are
 * free, a web seed is not waiting out a failure, the owner can fetch and
 * the picker has blocks for it. Call it after the peers have asked for
 * blocks, when blocks may have been given back (a piece failed), and on
 * every tick. */
void webseeds_fill(struct webseeds *w);
/* Blocks one request asks for, for a web seed whose GETs move `rate` bytes
 * a second (0: not measured yet): a few seconds' worth, at least one block
 * and at most 1 MiB; before it is measured, one piece, or 256 KiB of a
 * larger one. Pure. */
int webseed_job_blocks(uint32_t piece_length, uint64_t rate);
/*
 * Piece `piece` failed its hash check: when a web seed sent blocks of it,
 * that web seed is dropped (its requests cancelled, picker_peer_gone()),
 * and 1 is returned; call it before picker_piece_failed(). 0 when no web
 * seed sent any of it.
 */
int webseeds_piece_failed(struct webseeds *w, uint32_t piece);
/* 1 when key is the picker key of one of w's web seeds. */
int webseeds_is_key(const struct webseeds *w, const void *key);
/* Web seeds not dropped. */
size_t webseeds_usable(const struct webseeds *w);
/* Web seeds with a request in flight (w may be NULL). */
int webseeds_active(const struct webseeds *w);

#endif
