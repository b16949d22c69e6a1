/*
 * metadata.c — the metadata exchange on a torrent's connections (BEP 9).
 * Session layer, loop thread only.
 *
 * Serving: a request is answered with the piece of the raw info dictionary
 * the metainfo kept (the bytes that hash to the infohash), or rejected when
 * we have no metadata, the piece is past its end, or the peer asked for too
 * much lately. Fetching: peers whose extension handshake offers metadata
 * are handed to the assembler (engine/meta_fetch.h), which says which piece
 * to ask of whom; what it verifies is wrapped with the magnet's trackers
 * into a .torrent and parsed by the same metainfo parser as any torrent
 * file, so names and paths get the same sanitising, before torrent.c
 * attaches it.
 */
#include "session/metadata.h"

#include <string.h>

#include "base/alloc.h"
#include "codec/bencode.h"
#include "codec/metainfo.h"
#include "codec/ut_metadata.h"
#include "codec/wire.h"
#include "engine/meta_fetch.h"
#include "session/peer.h"
#include "session/session.h"
#include "session/torrent.h"

/* Sends one ut_metadata message to p, in its own id (BEP 10). */
static void
send_msg(struct peer *p, enum ut_metadata_type type, uint32_t piece, uint32_t total,
         const uint8_t *data, size_t len)
{
    if (!p->ext.ut_metadata || p->state != PEER_ACTIVE)
        return;
    uint8_t body[UT_METADATA_MAX_HEADER];
    size_t n = ut_metadata_encode(body, type, piece, total);
    uint8_t hdr[WIRE_MAX_HEADER];
    peer_io_send(
        p, hdr,
        wire_encode_extended_header(hdr, p->ext.ut_metadata, (uint32_t)(n + len)));
    peer_io_send(p, body, n);
    if (len)
        peer_io_send(p, data, len);
}

/* The size of the metadata we serve, or 0 when we have none to offer. */
static uint32_t
served_size(const struct torrent *t)
{
    if (!t->m || !t->m->info || t->m->info_len > EXT_MAX_METADATA_SIZE)
        return 0;
    return (uint32_t)t->m->info_len;
}

void
metadata_fill_handshake(const struct peer *p, struct ext_handshake *ours)
{
    ours->ut_metadata = EXT_ID_UT_METADATA;
    if (p->t)
        ours->metadata_size = served_size(p->t);
}

static void
serve(struct peer *p, uint32_t piece, uint64_t now)
{
    struct torrent *t = p->t;
    uint32_t size = served_size(t);
    if (now - p->md_window_ms >= METADATA_SERVE_WINDOW_MS) {
        p->md_window_ms = now;
        p->md_served = 0;
    }
    uint32_t len = ut_metadata_piece_len(size, piece);
    if (len == 0 || p->md_served >= METADATA_SERVE_BURST) {
        send_msg(p, UT_METADATA_REJECT, piece, 0, NULL, 0);
        return;
    }
    p->md_served++;
    send_msg(p, UT_METADATA_DATA, piece, size,
             t->m->info + (size_t)piece * UT_METADATA_PIECE, len);
}

/* Asks p for what the assembler gives it. */
static void
request_from(struct peer *p, uint64_t now)
{
    struct torrent *t = p->t;
    uint32_t piece;
    while (t->mf && p->state == PEER_ACTIVE &&
           meta_fetch_next(t->mf, p, now, &piece) == 1)
        send_msg(p, UT_METADATA_REQUEST, piece, 0, NULL, 0);
}

static void
request_all(struct torrent *t, uint64_t now)
{
    for (struct peer *p = t->peers; p && t->mf; p = p->next)
        if (p->state == PEER_ACTIVE && p->ext.ut_metadata)
            request_from(p, now);
}

void
metadata_on_handshake(struct peer *p, uint64_t now)
{
    struct torrent *t = p->t;
    if (!t || !t->mf)
        return;
    if (!p->ext.ut_metadata || !p->ext.metadata_size) {
        /* BEP 10: a later handshake may take the extension back. */
        meta_fetch_remove_peer(t->mf, p);
        return;
    }
    if (meta_fetch_add_peer(t->mf, p, p->ext.metadata_size) == 0)
        request_from(p, now);
}

/* The .torrent for verified metadata info[0..len): the torrent's trackers
 * (BEP 12 announce-list, and announce for old clients) around the info
 * dictionary exactly as it hashed. */
static int
make_torrent(const struct torrent *t, const uint8_t *info, size_t len, uint8_t **out,
             size_t *outlen)
{
    const struct announcer *a = &t->tracker.announcer;
    struct benc_enc e;
    benc_enc_init(&e, len + 64 * 1024 + a->n * 512);
    benc_dict_begin(&e);
    if (a->n > 0) {
        benc_key(&e, "announce");
        benc_put_cstr(&e, a->t[0].url);
        benc_key(&e, "announce-list");
        benc_list_begin(&e);
        int tier = a->t[0].tier;
        benc_list_begin(&e);
        for (size_t i = 0; i < a->n; i++) {
            if (a->t[i].tier != tier) {
                benc_end(&e);
                benc_list_begin(&e);
                tier = a->t[i].tier;
            }
            benc_put_cstr(&e, a->t[i].url);
        }
        benc_end(&e);
        benc_end(&e);
    }
    benc_key(&e, "info");
    benc_put_raw(&e, info, len);
    benc_end(&e);
    int rc = benc_enc_finish(&e, out, outlen);
    benc_enc_cleanup(&e);
    return rc;
}

/* The metadata verified: the torrent gets it, or an error state saying why
 * it cannot be used. */
static void
got_metadata(struct torrent *t)
{
    struct shoal_session *ss = t->ss;
    size_t len = 0;
    const uint8_t *info = meta_fetch_result(t->mf, &len);
    uint8_t *file = NULL;
    size_t flen = 0;
    shoal_metainfo *m = NULL;
    struct shoal_perr err;
    memset(&err, 0, sizeof(err));
    int rc = make_torrent(t, info, len, &file, &flen);
    if (rc == 0) {
        rc = shoal_metainfo_parse(file, flen, &m, &err);
        if (rc == 0 && memcmp(m->infohash, t->infohash, 20) != 0) {
            shoal_metainfo_free(m);
            m = NULL;
            rc = SHOAL_EPARSE;
            err.why = "the metadata does not hash to the infohash";
        }
    } else {
        err.why = "out of memory";
    }
    if (rc) {
        xfree(file);
        torrent_metadata_arrived(t, NULL, &err);
        return;
    }
    t->torrent_file = file;
    t->torrent_file_len = flen;
    session_log(ss, "%s: metadata verified (%zu bytes)", m->name, len);
    if (torrent_metadata_arrived(t, m, &err) == 0)
        session_emit(ss, SHOAL_EV_METADATA, t, NULL, 0, "%s", torrent_name(t));
}

static void
on_data(struct peer *p, const struct ut_metadata_msg *m, uint64_t now)
{
    struct torrent *t = p->t;
    if (!t->mf)
        return; /* we have it already: a late answer */
    int v = meta_fetch_data(t->mf, p, m->piece, m->total_size, m->data, m->data_len, now);
    if (v == META_FETCH_DONE) {
        got_metadata(t);
    } else if (v == META_FETCH_BAD_HASH) {
        session_emit(t->ss, SHOAL_EV_WARNING, t, p, 0,
                     "metadata did not hash to the infohash: dropped; its senders are "
                     "not asked again while others offer it");
        /* The assembler forgets a peer when it disconnects: a lone sender
         * of a bad copy would be asked again on its next connection. */
        for (struct peer *q = t->peers; q && t->mf; q = q->next)
            if (q->state != PEER_DEAD && meta_fetch_is_excluded(t->mf, q))
                torrent_ban_address(t, &q->sa,
                                    "sent metadata that does not hash to the infohash");
        request_all(t, now);
    } else if (v == META_FETCH_TAKEN) {
        request_from(p, now);
    }
}

void
metadata_on_message(struct peer *p, const uint8_t *data, size_t len, uint64_t now)
{
    struct torrent *t = p->t;
    if (!t)
        return;
    struct ut_metadata_msg m;
    struct shoal_perr err;
    memset(&err, 0, sizeof(err));
    int rc = ut_metadata_parse(data, len, &m, &err);
    if (rc == SHOAL_EUNSUPPORTED || rc == SHOAL_ENOMEM)
        return; /* BEP 9: unknown message types are ignored */
    if (rc) {
        peer_close(p, "bad ut_metadata message: %s", shoal_perr_text(&err));
        return;
    }
    switch (m.type) {
    case UT_METADATA_REQUEST:
        serve(p, m.piece, now);
        break;
    case UT_METADATA_DATA:
        on_data(p, &m, now);
        break;
    case UT_METADATA_REJECT:
        if (t->mf) {
            meta_fetch_reject(t->mf, p, m.piece, now);
            request_all(t, now);
        }
        break;
    }
}

void
metadata_peer_gone(struct peer *p)
{
    if (!p->t || !p->t->mf)
        return;
    meta_fetch_remove_peer(p->t->mf, p);
    /* Not from inside the closing peer's own callbacks: the next tick
     * hands its pieces to others. */
}

void
metadata_tick(struct torrent *t, uint64_t now)
{
    if (!t->mf)
        return;
    meta_fetch_tick(t->mf, now);
    request_all(t, now);
}
