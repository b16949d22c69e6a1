/*
 * metadata.h — the metadata exchange (BEP 9, ut_metadata) on a torrent's
 * connections: every torrent serves its info dictionary to peers that ask,
 * and a torrent added from a magnet fetches it (engine/meta_fetch.h does
 * the bookkeeping), verifies it, makes a .torrent of it and hands it to
 * torrent.c. Session layer, loop thread only.
 */
#ifndef SHOAL_SESSION_METADATA_H
#define SHOAL_SESSION_METADATA_H

#include <stddef.h>
#include <stdint.h>

#include "codec/ext.h"

struct peer;
struct torrent;

/* Metadata pieces one peer may ask of us per window; past that it gets
 * rejects: a whole 16 MiB copy in about 3 minutes, and no flood. */
#define METADATA_SERVE_BURST     100
#define METADATA_SERVE_WINDOW_MS 20000

/* Our side of the extension handshake: the ut_metadata id, and the size of
 * the metadata when we have it. */
void metadata_fill_handshake(const struct peer *p, struct ext_handshake *ours);
/* The peer's extension handshake was parsed into p->ext: a peer offering
 * metadata we lack is asked for pieces. */
void metadata_on_handshake(struct peer *p, uint64_t now);
/* A ut_metadata message (the payload after the extended id) from p at now:
 * requests are served or rejected, data and rejects go to the fetch. A
 * malformed message closes p; an unknown msg_type is ignored. When the
 * last piece verifies, the torrent gets its metadata before this returns
 * (SHOAL_EV_METADATA is emitted). */
void metadata_on_message(struct peer *p, const uint8_t *data, size_t len, uint64_t now);
/* p closed: its outstanding metadata requests go to other peers. */
void metadata_peer_gone(struct peer *p);
/* Once a second for a torrent fetching metadata: timeouts, new requests. */
void metadata_tick(struct torrent *t, uint64_t now);

#endif
