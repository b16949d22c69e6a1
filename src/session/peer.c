/*
 * peer.c — one peer connection: handshake, message handling, request
 * pipeline and uploads (BEP 3, BEP 6 fast extension, BEP 10 handshake).
 * Session layer: runs on the loop thread over a transport it is handed
 * (transport.h), a libevent bufferevent it never made and calls no socket
 * function on.
 *
 * Every message is parsed by the pure codec in wire.c against the torrent's
 * limits before anything acts on it; a peer that breaks the protocol is
 * closed with the reason logged, and the session goes on. A peer is never
 * freed inside its own callbacks: peer_close() marks it dead and the
 * session reaps it once no disk job refers to it.
 */
#include "session/peer.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <event2/buffer.h>

#include "base/alloc.h"
#include "base/netguard.h"
#include "base/util.h"
#include "codec/metainfo.h"
#include "engine/disk.h"
#include "engine/picker.h"
#include "engine/storage.h"
#include "session/session.h"
#include "session/transport.h"

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

static void
send_bytes(struct peer *p, const void *data, size_t len)
{
    if (p->state == PEER_DEAD || !p->bev)
        return;
    bufferevent_write(p->bev, data, len);
    p->last_send_ms = session_now_ms(p->ss);
}

void
peer_close(struct peer *p, const char *fmt, ...)
{
    if (p->state == PEER_DEAD)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(p->dead_reason, sizeof(p->dead_reason), fmt, ap);
    va_end(ap);
    p->state = PEER_DEAD;
    transport_free(p->bev);
    p->bev = NULL;
    if (p->t) {
        /* Give its requests back so other peers can fetch those blocks. */
        picker_peer_gone(p->t->picker, p);
        if (p->has_all)
            picker_peer_lost_all(p->t->picker);
        else if (p->has.bits)
            picker_peer_lost(p->t->picker, &p->has);
        p->nreqs = 0;
        p->nupq = 0;
    }
    session_emit(p->ss, SHOAL_EV_PEER_DISCONNECTED, p->t, p, 0, "%s", p->dead_reason);
}

void
peer_free(struct peer *p)
{
    if (!p)
        return;
    transport_free(p->bev);
    p->ss->npeers--;
    bitfield_cleanup(&p->has);
    xfree(p->reqs);
    xfree(p->upq);
    xfree(p);
}

/* ------------------------------------------------------------------ sending */

void
peer_send_have(struct peer *p, uint32_t piece)
{
    uint8_t msg[WIRE_MAX_HEADER];
    send_bytes(p, msg, wire_encode_have(msg, piece));
}

void
peer_set_choke(struct peer *p, int choke)
{
    if (p->am_choking == choke || p->state != PEER_ACTIVE)
        return;
    p->am_choking = choke;
    uint8_t msg[WIRE_MAX_HEADER];
    send_bytes(p, msg, wire_encode_simple(msg, choke ? WIRE_CHOKE : WIRE_UNCHOKE));
    if (choke) {
        /* BEP 6: queued requests are rejected explicitly; without the fast
         * extension a choke discards them implicitly (BEP 3). */
        for (size_t i = 0; p->fast && i < p->nupq; i++) {
            struct peer_upreq *r = &p->upq[i];
            send_bytes(
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
    if (p->state != PEER_ACTIVE)
        return;
    int want = !torrent_is_done(p->t) && peer_has_wanted(p);
    if (want == p->am_interested)
        return;
    p->am_interested = want;
    uint8_t msg[WIRE_MAX_HEADER];
    send_bytes(p, msg,
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

void
peer_fill_requests(struct peer *p)
{
    if (p->state != PEER_ACTIVE || p->peer_choking || !p->am_interested || !p->t)
        return;
    struct torrent *t = p->t;
    if (t->state != SHOAL_TS_DOWNLOADING)
        return;
    /* Back-pressure: while the disk is behind, ask for nothing more. */
    if (disk_pending_bytes(p->ss->disk) > TORRENT_MAX_PENDING_WRITE)
        return;
    uint64_t now = session_now_ms(p->ss);
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
        send_bytes(p, out, o);
        need -= n;
        if (n < want)
            break;
    }
}

void
peer_cancel_block(struct peer *p, uint32_t piece, uint32_t begin, uint32_t length)
{
    if (!take_req(p, piece, begin, NULL))
        return;
    uint8_t msg[WIRE_MAX_HEADER];
    send_bytes(p, msg, wire_encode_request(msg, WIRE_CANCEL, piece, begin, length));
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
            send_bytes(p, msg,
                       wire_encode_request(msg, WIRE_REJECT, job->piece, job->begin,
                                           job->length));
        }
        xfree(job);
        return;
    }
    uint8_t hdr[WIRE_MAX_HEADER];
    send_bytes(p, hdr,
               wire_encode_piece_header(hdr, job->piece, job->begin, (uint32_t)len));
    send_bytes(p, data, len);
    uint64_t now = session_now_ms(p->ss);
    p->uploaded += len;
    t->uploaded += len;
    rate_add(&p->up, now, len);
    rate_add(&t->up, now, len);
    xfree(job);
    peer_pump_uploads(p);
}

void
peer_pump_uploads(struct peer *p)
{
    if (p->state != PEER_ACTIVE || !p->t || !p->bev)
        return;
    struct torrent *t = p->t;
    struct evbuffer *out = bufferevent_get_output(p->bev);
    while (p->nupq > 0) {
        /* A disk read in flight is counted as one block on its way out. */
        size_t queued =
            evbuffer_get_length(out) + (size_t)p->pending_io * PICKER_BLOCK_SIZE;
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
            send_bytes(
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
    if (p->sa.ss_family == AF_INET) {
        memcpy(ours.yourip, &((struct sockaddr_in *)&p->sa)->sin_addr, 4);
        ours.yourip_len = 4;
    } else if (p->sa.ss_family == AF_INET6) {
        memcpy(ours.yourip, &((struct sockaddr_in6 *)&p->sa)->sin6_addr, 16);
        ours.yourip_len = 16;
    }
    struct buf b;
    buf_init(&b, EXT_MAX_HANDSHAKE);
    if (ext_encode_handshake(&ours, &b) == 0) {
        uint8_t hdr[WIRE_MAX_HEADER];
        send_bytes(p, hdr,
                   wire_encode_extended_header(hdr, EXT_ID_HANDSHAKE, (uint32_t)b.len));
        send_bytes(p, b.data, b.len);
    }
    buf_cleanup(&b);
}

static void
send_have_state(struct peer *p)
{
    struct torrent *t = p->t;
    const struct bitfield *have = picker_have_bits(t->picker);
    uint8_t hdr[WIRE_MAX_HEADER];
    if (p->fast && have->count == have->nbits) {
        send_bytes(p, hdr, wire_encode_simple(hdr, WIRE_HAVE_ALL));
    } else if (p->fast && have->count == 0) {
        send_bytes(p, hdr, wire_encode_simple(hdr, WIRE_HAVE_NONE));
    } else if (have->count > 0) {
        uint32_t nbytes = (have->nbits + 7) / 8;
        send_bytes(p, hdr, wire_encode_bitfield_header(hdr, nbytes));
        send_bytes(p, have->bits, nbytes);
    }
    if (!p->fast || p->sa.ss_family != AF_INET)
        return;
    /* BEP 6: grant a few pieces it may fetch even while choked. */
    uint32_t set[PEER_ALLOWED_FAST_K];
    const uint8_t *ip = (const uint8_t *)&((struct sockaddr_in *)&p->sa)->sin_addr;
    int n = wire_allowed_fast_set(ip, 4, t->m->infohash, t->m->piece_count,
                                  PEER_ALLOWED_FAST_K, set);
    for (int i = 0; i < n; i++) {
        if (!picker_have(t->picker, set[i]))
            continue;
        p->allowed_fast[p->nallowed_fast++] = set[i];
        send_bytes(p, hdr, wire_encode_allowed_fast(hdr, set[i]));
    }
}

static void
send_handshake(struct peer *p)
{
    uint8_t reserved[8] = {0};
    wire_reserved_set(reserved, WIRE_RESERVED_FAST);
    wire_reserved_set(reserved, WIRE_RESERVED_EXTENDED);
    uint8_t hs[WIRE_HANDSHAKE_LEN];
    wire_encode_handshake(hs, reserved, p->t->m->infohash, p->ss->peer_id);
    send_bytes(p, hs, sizeof(hs));
    p->sent_handshake = 1;
}

/*
 * Two nodes that dial each other at once end up with two connections. Both
 * sides keep the same one: the connection opened by the node with the
 * smaller peer id. Returns 1 when p was closed.
 */
static int
drop_duplicate(struct peer *p)
{
    for (struct peer *q = p->t->peers; q; q = q->next) {
        if (q == p || q->state != PEER_ACTIVE || memcmp(q->hs.peer_id, p->hs.peer_id, 20))
            continue;
        int we_are_smaller = memcmp(p->ss->peer_id, p->hs.peer_id, 20) < 0;
        /* Keep our outgoing one when our id is smaller, else its incoming. */
        struct peer *drop = (p->incoming == we_are_smaller) ? p : q;
        peer_close(drop, "duplicate connection to the same peer");
        return drop == p;
    }
    return 0;
}

static void
on_handshake(struct peer *p)
{
    struct shoal_session *ss = p->ss;
    if (!memcmp(p->hs.peer_id, ss->peer_id, 20)) {
        peer_close(p, "connected to ourselves");
        return;
    }
    if (!p->t) {
        struct torrent *t = session_find_torrent(ss, p->hs.infohash);
        if (!t) {
            char hex[41];
            hex_encode(p->hs.infohash, 20, hex);
            peer_close(p, "handshake for a torrent we do not have (%s)", hex);
            return;
        }
        session_adopt_peer(ss, p, t);
    } else if (memcmp(p->hs.infohash, p->t->m->infohash, 20) != 0) {
        peer_close(p, "wrong infohash in handshake");
        return;
    }
    if (p->state == PEER_DEAD)
        return;
    if (torrent_is_banned(p->t, (struct sockaddr *)&p->sa)) {
        peer_close(p, "banned address");
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
    if (bitfield_init(&p->has, p->t->m->piece_count) != 0) {
        peer_close(p, "out of memory");
        return;
    }
    if (p->extended)
        send_extended_handshake(p);
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
    socklen_t len;
    if (sa.ss_family == AF_INET) {
        ((struct sockaddr_in *)&sa)->sin_port = htons(p->ext.listen_port);
        len = sizeof(struct sockaddr_in);
    } else {
        ((struct sockaddr_in6 *)&sa)->sin6_port = htons(p->ext.listen_port);
        len = sizeof(struct sockaddr_in6);
    }
    torrent_add_known(p->t, (struct sockaddr *)&sa, len);
}

static void
on_message(struct peer *p, const struct wire_msg *m)
{
    struct torrent *t = p->t;
    uint64_t now = session_now_ms(p->ss);

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
        peer_fill_requests(p);
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
        peer_fill_requests(p);
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
            return;
        }
        p->last_block_ms = now;
        p->snubbed = 0;
        torrent_on_block(t, p, m->index, m->begin, m->data, m->data_len);
        peer_fill_requests(p);
        return;
    }
    case WIRE_REJECT: {
        uint32_t length;
        if (!take_req(p, m->index, m->begin, &length)) {
            peer_close(p, "reject for a block we did not request");
            return;
        }
        picker_block_cancelled(t->picker, p, m->index, m->begin);
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
        }
        return;
    default:
        /* suggest, allowed fast, port and unknown ids: nothing to do yet. */
        return;
    }
}

static void
on_read(struct bufferevent *bev, void *arg)
{
    struct peer *p = arg;
    struct evbuffer *in = bufferevent_get_input(bev);
    struct shoal_perr err;
    p->last_recv_ms = session_now_ms(p->ss);
    while (p->state == PEER_HANDSHAKE || p->state == PEER_ACTIVE) {
        size_t avail = evbuffer_get_length(in);
        memset(&err, 0, sizeof(err));
        if (p->state == PEER_HANDSHAKE) {
            if (avail == 0)
                break;
            size_t n = avail < WIRE_HANDSHAKE_LEN ? avail : WIRE_HANDSHAKE_LEN;
            int rc =
                wire_parse_handshake(evbuffer_pullup(in, (ssize_t)n), n, &p->hs, &err);
            if (rc == WIRE_NEED_MORE)
                break;
            if (rc < 0) {
                peer_close(p, "bad handshake: %s", shoal_perr_text(&err));
                break;
            }
            evbuffer_drain(in, WIRE_HANDSHAKE_LEN);
            on_handshake(p);
            continue;
        }
        if (avail < 4)
            break;
        uint8_t hdr[4];
        evbuffer_copyout(in, hdr, 4);
        uint64_t total = 4 + (uint64_t)be32_get(hdr);
        size_t take = total <= avail ? (size_t)total : (avail < 5 ? avail : 5);
        if (total > 4 + (uint64_t)WIRE_MAX_MSG)
            take = 4;
        struct wire_msg msg;
        long used =
            wire_parse(evbuffer_pullup(in, (ssize_t)take), take, &p->lim, &msg, &err);
        if (used < 0) {
            peer_close(p, "protocol error: %s", shoal_perr_text(&err));
            break;
        }
        if (used == 0)
            break;
        on_message(p, &msg);
        if (p->state == PEER_DEAD)
            break;
        evbuffer_drain(in, (size_t)used);
    }
}

static void
on_write(struct bufferevent *bev, void *arg)
{
    (void)bev;
    peer_pump_uploads(arg);
}

static void
on_event(struct bufferevent *bev, short what, void *arg)
{
    (void)bev;
    struct peer *p = arg;
    if (what & BEV_EVENT_CONNECTED) {
        p->state = PEER_HANDSHAKE;
        p->connected_ms = session_now_ms(p->ss);
        p->last_recv_ms = p->connected_ms;
        send_handshake(p);
        return;
    }
    if (what & BEV_EVENT_EOF)
        peer_close(p, "connection closed by peer");
    else if (what & BEV_EVENT_TIMEOUT)
        peer_close(p, "connect timed out");
    else if (what & BEV_EVENT_ERROR)
        peer_close(p, "socket error: %s",
                   evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()));
}

/* ------------------------------------------------------------------ lifecycle */

struct peer *
peer_new(struct shoal_session *ss, struct torrent *t, struct bufferevent *bev,
         const struct sockaddr *sa, socklen_t salen, int incoming)
{
    struct peer *p = xcalloc(1, sizeof(*p));
    if (!p)
        return NULL;
    p->ss = ss;
    p->t = t;
    p->bev = bev;
    p->id = ++ss->next_peer_id;
    ss->npeers++;
    p->incoming = incoming;
    memcpy(&p->sa, sa, salen < sizeof(p->sa) ? salen : sizeof(p->sa));
    netguard_format_addr(sa, p->addr, sizeof(p->addr));
    p->am_choking = 1;
    p->peer_choking = 1;
    p->state = incoming ? PEER_HANDSHAKE : PEER_CONNECTING;
    p->connected_ms = p->last_recv_ms = p->last_send_ms = session_now_ms(ss);
    if (t)
        p->lim = t->lim;
    bufferevent_setcb(bev, on_read, on_write, on_event, p);
    /* Refill from the disk once half the upload budget has been written. */
    bufferevent_setwatermark(bev, EV_WRITE, PEER_MAX_SEND_QUEUE / 2, 0);
    if (!incoming) {
        /* Until the peer is active, a write that cannot go out (the connect
         * itself, then our handshake) gives up after this long. */
        struct timeval tv = {SESSION_CONNECT_TIMEOUT_S, 0};
        bufferevent_set_timeouts(bev, NULL, &tv);
    }
    bufferevent_enable(bev, EV_READ | EV_WRITE);
    return p;
}

void
peer_tick(struct peer *p, uint64_t now)
{
    if (p->state == PEER_DEAD)
        return;
    if (p->state == PEER_CONNECTING)
        return;
    if (p->state == PEER_ACTIVE && p->bev) {
        /* The connect timeout no longer applies once bytes flow. */
        bufferevent_set_timeouts(p->bev, NULL, NULL);
    }
    if (now - p->last_recv_ms > PEER_IDLE_TIMEOUT_MS) {
        peer_close(p, "idle for %d s", PEER_IDLE_TIMEOUT_MS / 1000);
        return;
    }
    if (p->state == PEER_ACTIVE && now - p->last_send_ms > PEER_KEEPALIVE_MS) {
        uint8_t ka[4];
        send_bytes(p, ka, wire_encode_keepalive(ka));
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
