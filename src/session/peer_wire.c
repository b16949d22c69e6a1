/*
 * peer_wire.c — the peer protocol: the handshake, every message and what it
 * does (BEP 3, BEP 6 fast extension, BEP 10 extension handshake), the
 * request pipeline, the upload queue, keep-alives and snub detection.
 * Session layer, loop thread only.
 *
 * It works on a peer, its torrent and the peer's output: messages come in
 * already framed and validated by the pure codec in wire.c against the
 * torrent's limits (peer_io.c does that), and what we send goes out through
 * peer_io_send(). Nothing here touches a socket or a bufferevent. A peer
 * that breaks the protocol is closed with the reason logged, and the
 * session goes on.
 */
#include "session/peer.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include "base/alloc.h"
#include "base/buf.h"
#include "base/sockaddr.h"
#include "base/util.h"
#include "codec/metainfo.h"
#include "engine/banlist.h"
#include "engine/disk.h"
#include "engine/picker.h"
#include "engine/storage.h"
#include "session/pex.h"
#include "session/dht.h"
#include "session/metadata.h"
#include "session/session.h"
#include "session/udp.h"

/* Client name sent in the extension handshake. */
#define PEER_CLIENT_NAME "shoal/" SHOAL_VERSION
/* Requests kept in flight when the peer did not say (BEP 10 reqq). */
#define PEER_DEFAULT_REQQ 250
/* Size of the allowed-fast set we grant (BEP 6 suggests 10). */
#define PEER_ALLOWED_FAST_K 10
/* Round-trip estimate used for pipeline sizing on loopback and LAN. */
#define PEER_RTT_GUESS_MS 50
/* Requests in flight to a new peer before its rate is known (1 MiB). */
#define PEER_PIPELINE_START 64

/* ------------------------------------------------------------------ sending */

void
peer_send_have(struct peer *p, uint32_t piece)
{
    uint8_t msg[WIRE_MAX_HEADER];
    peer_io_send(p, msg, wire_encode_have(msg, piece));
}

void
peer_set_choke(struct peer *p, int choke)
{
    if (p->am_choking == choke || p->state != PEER_ACTIVE)
        return;
    p->am_choking = choke;
    uint8_t msg[WIRE_MAX_HEADER];
    peer_io_send(p, msg, wire_encode_simple(msg, choke ? WIRE_CHOKE : WIRE_UNCHOKE));
    if (choke) {
        /* BEP 6: queued requests are rejected explicitly; without the fast
         * extension a choke discards them implicitly (BEP 3). */
        for (size_t i = 0; p->fast && i < p->nupq; i++) {
            struct peer_upreq *r = &p->upq[i];
            peer_io_send(
                p, msg,
                wire_encode_request(msg, WIRE_REJECT, r->piece, r->begin, r->length));
        }
        p->nupq = 0;
    } else {
        p->last_unchoked_ms = session_now_ms(p->ss);
    }
}

/* 1 when the peer has a piece we want and lack. */
static int
peer_has_wanted(const struct peer *p)
{
    const struct torrent *t = p->t;
    for (uint32_t i = 0; i < t->m->piece_count; i++)
        if (t->wanted[i] && !picker_have(t->picker, i) &&
            (p->has_all || bitfield_get(&p->has, i)))
            return 1;
    return 0;
}

void
peer_update_interest(struct peer *p)
{
    if (p->state != PEER_ACTIVE || !p->t->m)
        return;
    int want = !torrent_is_done(p->t) && peer_has_wanted(p);
    if (want == p->am_interested)
        return;
    p->am_interested = want;
    uint8_t msg[WIRE_MAX_HEADER];
    peer_io_send(p, msg,
                 wire_encode_simple(msg, want ? WIRE_INTERESTED : WIRE_NOT_INTERESTED));
}

static int
add_req(struct peer *p, uint32_t piece, uint32_t begin, uint32_t length, uint64_t now)
{
    if (p->nreqs == p->capreqs) {
        size_t cap = p->capreqs ? p->capreqs * 2 : 64;
        struct peer_req *r = xreallocarray(p->reqs, cap, sizeof(*r));
        if (!r)
            return SHOAL_ENOMEM;
        p->reqs = r;
        p->capreqs = cap;
    }
    p->reqs[p->nreqs++] = (struct peer_req){piece, begin, length, now};
    return 0;
}

/* Removes our request for (piece, begin); returns 1 when it was there. */
static int
take_req(struct peer *p, uint32_t piece, uint32_t begin, uint32_t *length)
{
    for (size_t i = 0; i < p->nreqs; i++) {
        if (p->reqs[i].piece == piece && p->reqs[i].begin == begin) {
            if (length)
                *length = p->reqs[i].length;
            memmove(&p->reqs[i], &p->reqs[i + 1],
                    (p->nreqs - i - 1) * sizeof(p->reqs[0]));
            p->nreqs--;
            return 1;
        }
    }
    return 0;
}

/* 1 when another connection from p's host that is not fully trusted holds
 * unverified data: trust is earned by a host, not by each of its
 * connections, so a poisoner gains nothing by opening several. On a shared
 * address, where every local client is, the host is one peer (banlist.h).
 * One that stalled (snubbed), or that chokes us with nothing asked of it,
 * sends no more and holds up the others no longer. */
static int
host_holds_unverified(const struct peer *p)
{
    const struct torrent *t = p->t;
    for (const struct peer *q = t->peers; q; q = q->next) {
        if (q == p || q->state != PEER_ACTIVE || q->snubbed ||
            (q->peer_choking && q->nreqs == 0) ||
            picker_peer_trust(t->picker, (void *)q) == PICKER_TRUST_FULL ||
            !banlist_same_peer((const struct sockaddr *)&q->sa, q->hs.peer_id,
                               (const struct sockaddr *)&p->sa, p->hs.peer_id))
            continue;
        if (picker_peer_unverified(t->picker, (void *)q) > 0)
            return 1;
    }
    return 0;
}

static void
fill_requests(struct peer *p, uint64_t now)
{
    if (p->state != PEER_ACTIVE || p->peer_choking || !p->am_interested || !p->t)
        return;
    struct torrent *t = p->t;
    if (t->state != SHOAL_TS_DOWNLOADING || now < p->hold_until_ms)
        return;
    /* Back-pressure: while the disk is behind, ask for nothing more. */
    if (disk_pending_bytes(p->ss->disk) > TORRENT_MAX_PENDING_WRITE)
        return;
    int depth = picker_pipeline_depth(rate_get(&p->down, now), PEER_RTT_GUESS_MS);
    /* Slow start: the rate needs a whole second to show, so until then grow
     * the pipeline by two requests per block received, from a start that
     * keeps a fast peer busy at once. */
    int start = PEER_PIPELINE_START + 2 * (int)(p->downloaded / PICKER_BLOCK_SIZE);
    if (depth < start)
        depth = start;
    int reqq = p->ext.reqq ? (int)p->ext.reqq : PEER_DEFAULT_REQQ;
    if (depth > reqq)
        depth = reqq;
    if (p->snubbed)
        depth = 1;
    int need = depth - (int)p->nreqs;
    if (need <= 0)
        return;
    if (picker_peer_trust(t->picker, p) != PICKER_TRUST_FULL &&
        picker_peer_unverified(t->picker, p) == 0 && host_holds_unverified(p))
        return;
    struct picker_block blocks[256];
    uint8_t out[256 * 17];
    while (need > 0) {
        int want = need < 256 ? need : 256;
        int n = picker_next_blocks(t->picker, p, p->has_all ? NULL : &p->has, NULL, 0,
                                   blocks, want);
        if (n <= 0)
            break;
        size_t o = 0;
        for (int i = 0; i < n; i++) {
            if (add_req(p, blocks[i].piece, blocks[i].begin, blocks[i].length, now) !=
                0) {
                picker_block_cancelled(t->picker, p, blocks[i].piece, blocks[i].begin);
                continue;
            }
            o += wire_encode_request(out + o, WIRE_REQUEST, blocks[i].piece,
                                     blocks[i].begin, blocks[i].length);
        }
        peer_io_send(p, out, o);
        need -= n;
        if (n < want)
            break;
    }
}

void
peer_fill_requests(struct peer *p)
{
    fill_requests(p, session_now_ms(p->ss));
}

/* 1 when the picker lists p among the peers the block is asked of. */
static int
picker_asks(const struct peer *p, const struct peer_req *r)
{
    void *who[8];
    size_t n = picker_block_requesters(p->t->picker, r->piece, r->begin, who, 8);
    for (size_t i = 0; i < n && i < 8; i++)
        if (who[i] == p)
            return 1;
    return 0;
}

void
peer_sync_requests(struct peer *p)
{
    if (p->state != PEER_ACTIVE || !p->t)
        return;
    uint8_t msg[WIRE_MAX_HEADER];
    size_t keep = 0;
    for (size_t i = 0; i < p->nreqs; i++) {
        struct peer_req *r = &p->reqs[i];
        if (picker_asks(p, r)) {
            p->reqs[keep++] = *r;
            continue;
        }
        peer_io_send(
            p, msg, wire_encode_request(msg, WIRE_CANCEL, r->piece, r->begin, r->length));
        p->cancels_out++;
    }
    p->nreqs = keep;
}

void
peer_cancel_block(struct peer *p, uint32_t piece, uint32_t begin, uint32_t length)
{
    if (!take_req(p, piece, begin, NULL))
        return;
    uint8_t msg[WIRE_MAX_HEADER];
    peer_io_send(p, msg, wire_encode_request(msg, WIRE_CANCEL, piece, begin, length));
    p->cancels_out++;
}

/* ------------------------------------------------------------------ uploads */

struct upload_job {
    struct peer *p;
    uint32_t piece, begin, length;
};

static void
on_upload_read(void *user, int rc, const uint8_t *data, size_t len)
{
    struct upload_job *job = user;
    struct peer *p = job->p;
    p->pending_io--;
    if (p->state == PEER_DEAD || !p->t) {
        xfree(job);
        return;
    }
    struct torrent *t = p->t;
    if (rc != 0) {
        /* The data is gone from disk: stop offering it rather than lie. */
        session_log(p->ss, "%s: cannot read piece %u for upload: %s", t->m->name,
                    job->piece, storage_error_kind(rc));
        if (storage_error_class(rc) == STORAGE_ERR_MISSING &&
            t->state != SHOAL_TS_FILES_MISSING)
            torrent_set_state(t, SHOAL_TS_FILES_MISSING, "piece %u cannot be read",
                              job->piece);
        if (p->fast) {
            uint8_t msg[WIRE_MAX_HEADER];
            peer_io_send(p, msg,
                         wire_encode_request(msg, WIRE_REJECT, job->piece, job->begin,
                                             job->length));
        }
        xfree(job);
        return;
    }
    uint8_t hdr[WIRE_MAX_HEADER];
    peer_io_send(p, hdr,
                 wire_encode_piece_header(hdr, job->piece, job->begin, (uint32_t)len));
    peer_io_send(p, data, len);
    uint64_t now = session_now_ms(p->ss);
    p->uploaded += len;
    p->last_upload_ms = now;
    t->uploaded += len;
    rate_add(&p->up, now, len);
    rate_add(&t->up, now, len);
    xfree(job);
    peer_pump_uploads(p);
}

void
peer_pump_uploads(struct peer *p)
{
    if (p->state != PEER_ACTIVE || !p->t)
        return;
    struct torrent *t = p->t;
    while (p->nupq > 0) {
        /* A disk read in flight is counted as one block on its way out. */
        size_t queued = peer_io_queued(p) + (size_t)p->pending_io * PICKER_BLOCK_SIZE;
        if (queued >= PEER_MAX_SEND_QUEUE)
            break;
        struct peer_upreq r = p->upq[0];
        memmove(&p->upq[0], &p->upq[1], (p->nupq - 1) * sizeof(p->upq[0]));
        p->nupq--;
        struct upload_job *job = xmalloc(sizeof(*job));
        if (!job)
            break;
        *job = (struct upload_job){p, r.piece, r.begin, r.length};
        uint64_t off = (uint64_t)r.piece * t->m->piece_length + r.begin;
        if (disk_submit_read(p->ss->disk, t->st, off, r.length, on_upload_read, job) !=
            0) {
            xfree(job);
            break;
        }
        p->pending_io++;
    }
}

static int
in_allowed_fast(const struct peer *p, uint32_t piece)
{
    for (size_t i = 0; i < p->nallowed_fast; i++)
        if (p->allowed_fast[i] == piece)
            return 1;
    return 0;
}

static void
on_request(struct peer *p, const struct wire_msg *m)
{
    struct torrent *t = p->t;
    uint8_t msg[WIRE_MAX_HEADER];
    int ok = picker_have(t->picker, m->index) && t->state != SHOAL_TS_FILES_MISSING &&
             (!p->am_choking || in_allowed_fast(p, m->index));
    if (!ok) {
        /* BEP 6: tell the peer; without it, a request while choked is dropped. */
        if (p->fast)
            peer_io_send(
                p, msg,
                wire_encode_request(msg, WIRE_REJECT, m->index, m->begin, m->length));
        return;
    }
    if (p->nupq >= PEER_MAX_INCOMING_REQUESTS) {
        peer_close(p, "request flood: more than %d queued requests",
                   PEER_MAX_INCOMING_REQUESTS);
        return;
    }
    if (p->nupq == p->capupq) {
        size_t cap = p->capupq ? p->capupq * 2 : 64;
        struct peer_upreq *q = xreallocarray(p->upq, cap, sizeof(*q));
        if (!q) {
            peer_close(p, "out of memory");
            return;
        }
        p->upq = q;
        p->capupq = cap;
    }
    p->upq[p->nupq++] = (struct peer_upreq){m->index, m->begin, m->length};
    peer_pump_uploads(p);
}

static void
on_cancel(struct peer *p, const struct wire_msg *m)
{
    for (size_t i = 0; i < p->nupq; i++) {
        struct peer_upreq *r = &p->upq[i];
        if (r->piece == m->index && r->begin == m->begin && r->length == m->length) {
            memmove(r, r + 1, (p->nupq - i - 1) * sizeof(*r));
            p->nupq--;
            return;
        }
    }
}

/* ------------------------------------------------------------------ receiving */

static void
send_extended_handshake(struct peer *p)
{
    struct ext_handshake ours;
    memset(&ours, 0, sizeof(ours));
    snprintf(ours.client, sizeof(ours.client), "%s", PEER_CLIENT_NAME);
    ours.reqq = PEER_REQQ;
    ours.listen_port = (uint16_t)p->ss->port;
    ours.ut_pex = p->t->pex ? EXT_ID_UT_PEX : 0;
    metadata_fill_handshake(p, &ours);
    ours.yourip_len = sockaddr_ip_bytes((const struct sockaddr *)&p->sa,
                                        SOCKADDR_UNMAP_V4, ours.yourip);
    struct buf b;
    buf_init(&b, EXT_MAX_HANDSHAKE);
    if (ext_encode_handshake(&ours, &b) == 0) {
        uint8_t hdr[WIRE_MAX_HEADER];
        peer_io_send(p, hdr,
                     wire_encode_extended_header(hdr, EXT_ID_HANDSHAKE, (uint32_t)b.len));
        peer_io_send(p, b.data, b.len);
    }
    buf_cleanup(&b);
}

static void
send_have_state(struct peer *p)
{
    struct torrent *t = p->t;
    uint8_t hdr[WIRE_MAX_HEADER];
    if (!t->m) {
        /* No metadata, so nothing to offer: BEP 6 still wants one of
         * these first; without it, silence says the same. */
        if (p->fast)
            peer_io_send(p, hdr, wire_encode_simple(hdr, WIRE_HAVE_NONE));
        return;
    }
    const struct bitfield *have = picker_have_bits(t->picker);
    if (p->fast && have->count == have->nbits) {
        peer_io_send(p, hdr, wire_encode_simple(hdr, WIRE_HAVE_ALL));
    } else if (p->fast && have->count == 0) {
        peer_io_send(p, hdr, wire_encode_simple(hdr, WIRE_HAVE_NONE));
    } else if (have->count > 0) {
        uint32_t nbytes = (have->nbits + 7) / 8;
        peer_io_send(p, hdr, wire_encode_bitfield_header(hdr, nbytes));
        peer_io_send(p, have->bits, nbytes);
    }
    /* BEP 6: grant a few pieces it may fetch even while choked (the set is
     * defined for IPv4 peers). */
    uint8_t ip[16];
    if (!p->fast ||
        sockaddr_ip_bytes((const struct sockaddr *)&p->sa, SOCKADDR_UNMAP_V4, ip) != 4)
        return;
    uint32_t set[PEER_ALLOWED_FAST_K];
    int n = wire_allowed_fast_set(ip, 4, t->m->infohash, t->m->piece_count,
                                  PEER_ALLOWED_FAST_K, set);
    for (int i = 0; i < n; i++) {
        if (!picker_have(t->picker, set[i]))
            continue;
        p->allowed_fast[p->nallowed_fast++] = set[i];
        peer_io_send(p, hdr, wire_encode_allowed_fast(hdr, set[i]));
    }
}

/* Whether the DHT may hear of this peer and it of our DHT node: BEP 27
 * keeps private torrents out (a magnet counts as public until its
 * metadata says otherwise). */
static int
dht_allowed(const struct peer *p)
{
    return p->ss->dht && !(p->t->m && p->t->m->private_flag);
}

static void
send_handshake(struct peer *p)
{
    uint8_t reserved[8] = {0};
    wire_reserved_set(reserved, WIRE_RESERVED_FAST);
    wire_reserved_set(reserved, WIRE_RESERVED_EXTENDED);
    if (dht_allowed(p))
        wire_reserved_set(reserved, WIRE_RESERVED_DHT);
    uint8_t hs[WIRE_HANDSHAKE_LEN];
    wire_encode_handshake(hs, reserved, p->t->infohash, p->ss->peer_id);
    peer_io_send(p, hs, sizeof(hs));
    p->sent_handshake = 1;
}

/*
 * Two nodes that dial each other at once end up with two connections. Both
 * sides keep the same one: the connection opened by the node with the
 * smaller peer id. Returns 1 when p was closed. Only a connection from the
 * same host counts: a peer id is whatever the other side says, and one
 * copied from an honest peer must not push that peer out.
 */
static int
drop_duplicate(struct peer *p)
{
    for (struct peer *q = p->t->peers; q; q = q->next) {
        if (q == p || q->state != PEER_ACTIVE ||
            memcmp(q->hs.peer_id, p->hs.peer_id, 20) ||
            !banlist_same_host((const struct sockaddr *)&q->sa,
                               (const struct sockaddr *)&p->sa))
            continue;
        int we_are_smaller = memcmp(p->ss->peer_id, p->hs.peer_id, 20) < 0;
        /* Keep our outgoing one when our id is smaller, else its incoming. */
        struct peer *drop = (p->incoming == we_are_smaller) ? p : q;
        peer_close(drop, "duplicate connection to the same peer");
        return drop == p;
    }
    return 0;
}

void
peer_wire_connected(struct peer *p)
{
    send_handshake(p);
}

void
peer_wire_handshake(struct peer *p)
{
    struct shoal_session *ss = p->ss;
    if (!memcmp(p->hs.peer_id, ss->peer_id, 20)) {
        peer_close(p, "connected to ourselves");
        return;
    }
    if (!p->t) {
        struct torrent *t = session_find_torrent(ss, p->hs.infohash);
        if (t && t->state == SHOAL_TS_STOPPED) {
            peer_close(p, "handshake for a stopped torrent");
            return;
        }
        if (!t) {
            char hex[41];
            hex_encode(p->hs.infohash, 20, hex);
            peer_close(p, "handshake for a torrent we do not have (%s)", hex);
            return;
        }
        session_adopt_peer(ss, p, t);
    } else if (memcmp(p->hs.infohash, p->t->infohash, 20) != 0) {
        peer_close(p, "wrong infohash in handshake");
        return;
    }
    if (p->state == PEER_DEAD)
        return;
    if (torrent_is_banned(p->t, (struct sockaddr *)&p->sa)) {
        peer_close(p, "banned address");
        return;
    }
    /* On a shared address the ban may name the peer id only (banlist.h). */
    if (banlist_has_peer(ss->bans, (struct sockaddr *)&p->sa, p->hs.peer_id,
                         session_now_ms(ss))) {
        peer_close(p, "banned peer id");
        return;
    }
    if (drop_duplicate(p))
        return;
    if (!p->sent_handshake)
        send_handshake(p);
    p->fast = wire_reserved_has(p->hs.reserved, WIRE_RESERVED_FAST);
    p->extended = wire_reserved_has(p->hs.reserved, WIRE_RESERVED_EXTENDED);
    p->lim = p->t->lim;
    p->lim.fast = p->fast;
    p->lim.extended = p->extended;
    p->state = PEER_ACTIVE;
    p->active_ms = session_now_ms(ss);
    /* Without metadata the piece count is unknown: the bit field and the
     * picker's view of the peer wait for peer_wire_metadata_arrived(). */
    if (p->t->m && (bitfield_init(&p->has, p->t->m->piece_count) != 0 ||
                    torrent_peer_trust_init(p->t, p) != 0)) {
        peer_close(p, "out of memory");
        return;
    }
    if (p->extended)
        send_extended_handshake(p);
    /* BEP 5: to a peer that runs a DHT node, the port of ours. */
    int udp = udp_port(ss->udp, p->sa.ss_family);
    if (udp > 0 && dht_allowed(p) &&
        wire_reserved_has(p->hs.reserved, WIRE_RESERVED_DHT)) {
        uint8_t port_msg[7]; /* <len=3><id=9><port> */
        peer_io_send(p, port_msg, wire_encode_port(port_msg, (uint16_t)udp));
    }
    send_have_state(p);
    session_emit(ss, SHOAL_EV_PEER_CONNECTED, p->t, p, 0, "%s",
                 p->incoming ? "incoming" : "outgoing");
}

/* Drops what the peer told us it has, before a new bitfield replaces it. */
static void
forget_availability(struct peer *p)
{
    if (p->has_all)
        picker_peer_lost_all(p->t->picker);
    else
        picker_peer_lost(p->t->picker, &p->has);
    p->has_all = 0;
    bitfield_clear_all(&p->has);
}

static void
on_bitfield_like(struct peer *p, const struct wire_msg *m)
{
    struct torrent *t = p->t;
    /* BEP 3 wants the bitfield first, but some clients (aria2) send a fresh
     * one later; take it as a replacement rather than drop the peer. */
    if (p->bitfield_seen)
        forget_availability(p);
    p->bitfield_seen = 1;
    if (m->type == WIRE_HAVE_ALL) {
        p->has_all = 1;
        picker_peer_have_all(t->picker);
    } else if (m->type == WIRE_BITFIELD) {
        if (bitfield_from_bytes(&p->has, m->data, m->data_len) != 0) {
            peer_close(p, "malformed bitfield");
            return;
        }
        if (bitfield_is_full(&p->has)) {
            /* Count a full bitfield like have-all: cheaper for the picker. */
            p->has_all = 1;
            picker_peer_have_all(t->picker);
        } else {
            picker_peer_bitfield(t->picker, &p->has);
        }
    }
    peer_update_interest(p);
}

/* A peer that dialed us told its listening port (BEP 10 `p`): that address,
 * not the connection's source port, is where to reach it again. */
static void
remember_listen_port(struct peer *p)
{
    struct sockaddr_storage sa = p->sa;
    sockaddr_set_port((struct sockaddr *)&sa, p->ext.listen_port);
    torrent_add_known(p->t, (struct sockaddr *)&sa, sockaddr_len(sa.ss_family));
}

/* Pieces a torrent whose metadata we can fetch has at most: its info
 * dictionary holds 20 bytes of hash for each, and a peer offering more
 * than EXT_MAX_METADATA_SIZE bytes of it is refused. So a 9-byte have
 * before the metadata grows early_bits by 64 KiB at most. */
#define EARLY_MAX_PIECES (EXT_MAX_METADATA_SIZE / 20)

/* Makes early_bits at least n bytes long (zero-filled). */
static int
early_grow(struct peer *p, uint32_t n)
{
    if (n <= p->early_len)
        return 0;
    uint8_t *b = xreallocarray(p->early_bits, n, 1);
    if (!b)
        return SHOAL_ENOMEM;
    memset(b + p->early_len, 0, n - p->early_len);
    p->early_bits = b;
    p->early_len = n;
    return 0;
}

/*
 * A message before the torrent has its metadata. What the peer has is kept
 * for when the piece count is known; a request is refused (we have
 * nothing), and blocks we never asked for are dropped. Returns 1 when the
 * message was handled here, 0 for the ones handled as always (keep-alive,
 * not interested, extended, port, unknown).
 */
static int
early_message(struct peer *p, const struct wire_msg *m)
{
    uint8_t msg[WIRE_MAX_HEADER];
    switch (m->type) {
    case WIRE_HAVE:
        if (m->index >= EARLY_MAX_PIECES) {
            peer_close(p, "have for piece %u, past any torrent's size", m->index);
            return 1;
        }
        if (early_grow(p, m->index / 8 + 1) != 0) {
            peer_close(p, "out of memory");
            return 1;
        }
        p->early_bits[m->index / 8] |= (uint8_t)(0x80 >> (m->index % 8));
        if (m->index + 1 > p->early_have_end)
            p->early_have_end = m->index + 1;
        return 1;
    case WIRE_BITFIELD:
        if (m->data_len > (EARLY_MAX_PIECES + 7) / 8) {
            peer_close(p, "bitfield of %zu bytes, past any torrent's size", m->data_len);
            return 1;
        }
        p->early_len = 0;
        p->early_have_end = 0;
        if (early_grow(p, (uint32_t)m->data_len) != 0) {
            peer_close(p, "out of memory");
            return 1;
        }
        memcpy(p->early_bits, m->data, m->data_len);
        p->early_bitfield_len = (uint32_t)m->data_len;
        p->early_all = 0;
        return 1;
    case WIRE_HAVE_ALL:
    case WIRE_HAVE_NONE:
        p->early_all = m->type == WIRE_HAVE_ALL;
        p->early_len = p->early_bitfield_len = p->early_have_end = 0;
        return 1;
    case WIRE_REQUEST:
        if (p->fast)
            peer_io_send(
                p, msg,
                wire_encode_request(msg, WIRE_REJECT, m->index, m->begin, m->length));
        return 1;
    case WIRE_CHOKE:
    case WIRE_UNCHOKE:
        p->peer_choking = m->type == WIRE_CHOKE;
        return 1;
    case WIRE_INTERESTED:
        p->peer_interested = 1;
        return 1;
    case WIRE_PIECE:
    case WIRE_REJECT:
    case WIRE_CANCEL:
    case WIRE_SUGGEST:
    case WIRE_ALLOWED_FAST:
        return 1;
    default:
        return 0;
    }
}

/* Why what the peer said it had before the metadata cannot be true of a
 * torrent of pc pieces, or NULL when it can. */
static const char *
early_mismatch(const struct peer *p, uint32_t pc, char *why, size_t len)
{
    uint32_t want = (pc + 7) / 8;
    if (p->early_bitfield_len && p->early_bitfield_len != want)
        snprintf(why, len, "its bitfield had %u bytes, the torrent's has %u",
                 (unsigned)p->early_bitfield_len, (unsigned)want);
    else if (p->early_have_end > pc)
        snprintf(why, len, "it had piece %u, the torrent has %u",
                 (unsigned)p->early_have_end - 1, (unsigned)pc);
    else
        return NULL;
    return why;
}

void
peer_wire_metadata_arrived(struct peer *p)
{
    struct torrent *t = p->t;
    if (p->state != PEER_ACTIVE)
        return;
    uint32_t pc = t->m->piece_count;
    p->lim = t->lim;
    p->lim.fast = p->fast;
    p->lim.extended = p->extended;
    char why[128];
    const char *bad = early_mismatch(p, pc, why, sizeof(why));
    if (bad) {
        peer_close(p, "wrong have state before the metadata: %s", bad);
        return;
    }
    if (bitfield_init(&p->has, pc) != 0 || torrent_peer_trust_init(t, p) != 0) {
        peer_close(p, "out of memory");
        return;
    }
    uint32_t want = (pc + 7) / 8;
    if (p->early_all) {
        p->has_all = 1;
        picker_peer_have_all(t->picker);
    } else if (p->early_len) {
        int rc = early_grow(p, want);
        if (!rc)
            rc = bitfield_from_bytes(&p->has, p->early_bits, want);
        if (rc) {
            peer_close(p, rc == SHOAL_ENOMEM ? "out of memory"
                                             : "its bitfield claims pieces past the end");
            return;
        }
        if (bitfield_is_full(&p->has)) {
            p->has_all = 1;
            picker_peer_have_all(t->picker);
        } else {
            picker_peer_bitfield(t->picker, &p->has);
        }
    }
    p->bitfield_seen = p->early_all || p->early_len > 0;
    xfree(p->early_bits);
    p->early_bits = NULL;
    p->early_len = p->early_bitfield_len = p->early_have_end = 0;
    /* BEP 10 lets a handshake be sent again: now it says the metadata's
     * size, so a peer fetching it too may ask us. */
    if (p->extended)
        send_extended_handshake(p);
    /* We told it nothing (or have-none): pieces a resume state gave us
     * go out as haves. */
    const struct bitfield *have = picker_have_bits(t->picker);
    for (uint32_t i = bitfield_next_set(have, 0); i < pc;
         i = bitfield_next_set(have, i + 1))
        peer_send_have(p, i);
    peer_update_interest(p);
}

void
peer_wire_message(struct peer *p, const struct wire_msg *m, uint64_t now)
{
    struct torrent *t = p->t;

    if (m->type != WIRE_KEEPALIVE && !p->first_msg_ms)
        p->first_msg_ms = now ? now : 1;
    if (!t->m && early_message(p, m))
        return;
    switch (m->type) {
    case WIRE_KEEPALIVE:
        return;
    case WIRE_CHOKE:
        p->peer_choking = 1;
        if (!p->fast) {
            /* BEP 3: a choke drops our outstanding requests. */
            for (size_t i = 0; i < p->nreqs; i++)
                picker_block_cancelled(t->picker, p, p->reqs[i].piece, p->reqs[i].begin);
            p->nreqs = 0;
        }
        return;
    case WIRE_UNCHOKE:
        p->peer_choking = 0;
        fill_requests(p, now);
        return;
    case WIRE_INTERESTED:
        p->peer_interested = 1;
        torrent_peer_interested(t, p);
        return;
    case WIRE_NOT_INTERESTED:
        p->peer_interested = 0;
        return;
    case WIRE_HAVE:
        p->bitfield_seen = 1;
        if (p->has_all || bitfield_get(&p->has, m->index))
            return;
        bitfield_set(&p->has, m->index);
        picker_peer_have(t->picker, m->index);
        if (bitfield_is_full(&p->has)) {
            picker_peer_lost(t->picker, &p->has);
            picker_peer_have_all(t->picker);
            p->has_all = 1;
        }
        /* Only this piece can make us interested: skip the full scan. */
        if (!p->am_interested && t->wanted[m->index] && !picker_have(t->picker, m->index))
            peer_update_interest(p);
        fill_requests(p, now);
        return;
    case WIRE_BITFIELD:
    case WIRE_HAVE_ALL:
    case WIRE_HAVE_NONE:
        on_bitfield_like(p, m);
        return;
    case WIRE_REQUEST:
        on_request(p, m);
        return;
    case WIRE_CANCEL:
        on_cancel(p, m);
        return;
    case WIRE_PIECE: {
        uint32_t length;
        if (!take_req(p, m->index, m->begin, &length) || length != m->data_len) {
            /* Late after a cancel, or never asked for: count it as waste. */
            if (p->cancels_out)
                p->cancels_out--;
            return;
        }
        p->last_block_ms = now;
        p->snubbed = 0;
        torrent_on_block(t, p, m->index, m->begin, m->data, m->data_len);
        fill_requests(p, now);
        return;
    }
    case WIRE_REJECT: {
        uint32_t length;
        if (!take_req(p, m->index, m->begin, &length)) {
            /* BEP 6: a cancelled request may still be rejected. */
            if (p->cancels_out) {
                p->cancels_out--;
                return;
            }
            peer_close(p, "reject for a block we did not request");
            return;
        }
        if (p->peer_choking) {
            /* BEP 6: the rejects that follow a choke say nothing of the
             * peer or the piece. */
            picker_block_cancelled(t->picker, p, m->index, m->begin);
        } else if (picker_block_rejected(t->picker, p, m->index, m->begin) == 1) {
            /* Its piece on parole was given back: the rest of its requests
             * there are void, and it waits before it gets another. */
            peer_sync_requests(p);
            p->hold_until_ms = now + PEER_REJECT_HOLD_MS;
        }
        /* The freed slot in the pipeline goes to another block at once. */
        fill_requests(p, now);
        return;
    }
    case WIRE_EXTENDED:
        if (m->ext_id == EXT_ID_HANDSHAKE) {
            struct shoal_perr err;
            memset(&err, 0, sizeof(err));
            if (ext_parse_handshake(m->data, m->data_len, &p->ext, &err) != 0) {
                peer_close(p, "bad extension handshake: %s", shoal_perr_text(&err));
                return;
            }
            if (p->incoming && p->ext.listen_port)
                remember_listen_port(p);
            metadata_on_handshake(p, now);
        } else if (m->ext_id == EXT_ID_UT_METADATA) {
            metadata_on_message(p, m->data, m->data_len, now);
        } else if (m->ext_id == EXT_ID_UT_PEX && t->pex) {
            pex_on_message(t->pex, p, m->data, m->data_len, now);
        }
        return;
    case WIRE_PORT:
        /* BEP 5: its DHT node is pinged, once per connection, so that a
         * flood of PORT messages costs one query. */
        if (!p->dht_port_heard && m->port && dht_allowed(p)) {
            p->dht_port_heard = 1;
            struct sockaddr_storage sa = p->sa;
            sockaddr_set_port((struct sockaddr *)&sa, m->port);
            dht_ping_node(p->ss->dht, (const struct sockaddr *)&sa);
        }
        return;
    default:
        /* suggest, allowed fast and unknown ids: nothing to do yet. */
        return;
    }
}

/* ------------------------------------------------------------------ time */

void
peer_tick(struct peer *p, uint64_t now)
{
    if (p->state == PEER_DEAD)
        return;
    if (p->state != PEER_ACTIVE) {
        /* Counted from accept or from our connect, whatever came since:
         * bytes that trickle in do not buy time. */
        if (now - p->started_ms >= PEER_HANDSHAKE_TIMEOUT_MS)
            peer_close(p, "no handshake within %d s", PEER_HANDSHAKE_TIMEOUT_MS / 1000);
        return;
    }
    if (!p->first_msg_ms && now - p->active_ms >= PEER_FIRST_MESSAGE_MS) {
        peer_close(p, "nothing but keep-alives for %d s after the handshake",
                   PEER_FIRST_MESSAGE_MS / 1000);
        return;
    }
    if (now - p->last_recv_ms > PEER_IDLE_TIMEOUT_MS) {
        peer_close(p, "idle for %d s", PEER_IDLE_TIMEOUT_MS / 1000);
        return;
    }
    /* A peer that rejected blocks of a piece may be asked for it again once
     * a second: it may only have been busy, and it may be the only source. */
    if (p->t && p->t->picker)
        picker_peer_forgive(p->t->picker, p);
    if (now - p->last_send_ms > PEER_KEEPALIVE_MS) {
        uint8_t ka[4];
        peer_io_send(p, ka, wire_encode_keepalive(ka));
    }
    /* Snubbed: requests outstanding and nothing for a minute. Give the
     * blocks back so faster peers can take them. */
    if (p->nreqs > 0 && now - p->reqs[0].sent_ms > PEER_REQUEST_TIMEOUT_MS &&
        now - p->last_block_ms > PEER_REQUEST_TIMEOUT_MS) {
        p->snubbed = 1;
        for (size_t i = 0; i < p->nreqs; i++)
            picker_block_cancelled(p->t->picker, p, p->reqs[i].piece, p->reqs[i].begin);
        p->nreqs = 0;
    }
}
