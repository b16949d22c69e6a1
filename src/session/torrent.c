/*
 * torrent.c — one torrent in a session: its storage, picker, peers, choker
 * rounds, hash checks, smart ban and resume state. Session layer, loop
 * thread only; disk work goes through the disk pool.
 *
 * A piece becomes "have" only after its SHA-1 matches. On a mismatch the
 * piece is thrown away and fetched again; a peer that was the only source of
 * a bad piece, or whose block differs from the same block of the piece once
 * it verifies (smartban.h), is banned: its host, for the whole session
 * (banlist.h). The senders of a piece that fails with blocks from several
 * peers go on parole in the picker (picker.h), so none can spoil another
 * piece shared with others before the refetch names the liar.
 *
 * Existing data is checked without blocking the loop: the pieces are hashed
 * on the disk pool at background priority, a few at a time, one torrent of
 * the session at a time, and each one that matches counts as verified at
 * once (peers hear of it). The torrent stays in SHOAL_TS_CHECKING, asking
 * nothing of peers and announcing nothing, until the last piece is hashed.
 */
#include "session/torrent.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "base/alloc.h"
#include "base/buf.h"
#include "base/sockaddr.h"
#include "base/util.h"
#include "codec/fileselect.h"
#include "codec/magnet.h"
#include "codec/metainfo.h"
#include "engine/banlist.h"
#include "engine/choker.h"
#include "engine/disk.h"
#include "engine/meta_fetch.h"
#include "engine/picker.h"
#include "engine/resume.h"
#include "engine/smartban.h"
#include "engine/storage.h"
#include "session/dht.h"
#include "session/lsd.h"
#include "session/metadata.h"
#include "session/pex.h"
#include "session/session.h"
#include "session/tracker_client.h"
#include "session/webseed.h"

/* Choker rounds (BEP 3 practice: every 10 s, optimistic every 30 s). */
#define TORRENT_CHOKE_INTERVAL_MS      10000
#define TORRENT_OPTIMISTIC_INTERVAL_MS 30000
/* Resume state is saved this often while it changes, and on exit. */
#define TORRENT_RESUME_INTERVAL_MS 30000
/* How often the files of a torrent are looked at (stat) to notice deletion. */
#define TORRENT_FILE_CHECK_MS 10000
/* After a disk-full or read-only stop, try writing again this often. */
#define TORRENT_DISK_RETRY_MS 10000
/* Dial a known address again after a failed connection at most this often. */
#define TORRENT_REDIAL_MS 5000
/* Known addresses kept per torrent (given with --peer, or that dialed us). */
#define TORRENT_MAX_KNOWN 1000
/* Failed connection attempts in a row after which an address is forgotten
 * (with the back-off that is about half an hour of trying). */
#define TORRENT_MAX_DIAL_FAILS 10
/* Check pieces in flight per disk worker: enough that no worker idles while
 * the loop hands out the next piece, few enough that a check of any size
 * holds only a sliver of the pool's queue. */
#define TORRENT_CHECK_JOBS_PER_THREAD 4u

static const char *const state_names[] = {
    [SHOAL_TS_CHECKING] = "checking",
    [SHOAL_TS_DOWNLOADING] = "downloading",
    [SHOAL_TS_SEEDING] = "seeding",
    [SHOAL_TS_DISK_FULL] = "disk full",
    [SHOAL_TS_READ_ONLY] = "read-only",
    [SHOAL_TS_FILES_MISSING] = "files missing",
    [SHOAL_TS_ERROR] = "error",
    [SHOAL_TS_STOPPED] = "stopped",
    [SHOAL_TS_METADATA] = "fetching metadata",
};

void
torrent_set_state(struct torrent *t, enum shoal_torrent_state st, const char *fmt, ...)
{
    if (t->state == SHOAL_TS_STOPPED)
        return; /* for good: work still in flight changes nothing */
    if (fmt) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(t->error, sizeof(t->error), fmt, ap);
        va_end(ap);
    } else {
        t->error[0] = '\0';
    }
    if (t->state == st)
        return;
    t->state = st;
    t->state_since_ms = session_now_ms(t->ss);
    session_emit(t->ss, SHOAL_EV_STATE_CHANGED, t, NULL, 0, "%s%s%s", state_names[st],
                 t->error[0] ? ": " : "", t->error);
}

int
torrent_is_done(const struct torrent *t)
{
    /* A check that has not ended may not have found every piece yet, and
     * a torrent without metadata does not know what it has to get. */
    return t->m && t->state != SHOAL_TS_CHECKING && picker_is_complete(t->picker);
}

double
torrent_check_progress(const struct torrent *t)
{
    if (t->state != SHOAL_TS_CHECKING || !t->m || t->m->piece_count == 0)
        return 1.0;
    return (double)t->check.done / (double)t->m->piece_count;
}

/* ------------------------------------------------------------------ bans */

/* Bans are the session's and cover a host, whatever its port
 * (engine/banlist.h): a poisoner that comes back from a new source port, or
 * that joins another torrent of the session, is refused. On 127.0.0.1 and
 * ::1 this sees the endpoint only; the handshake checks the peer id. */
int
torrent_is_banned(const struct torrent *t, const struct sockaddr *sa)
{
    return banlist_has(t->ss->bans, sa, session_now_ms(t->ss));
}

static void
ban_peer(struct torrent *t, struct peer *p, const char *why)
{
    session_emit(t->ss, SHOAL_EV_PEER_BANNED, t, p, 0, "%s", why);
    peer_close(p, "banned: %s", why);
}

/* ------------------------------------------------------------------ pieces */

struct piece_job {
    struct torrent *t;
    uint32_t piece;
    uint64_t seq; /* of a hash job: t->hash_seq when it was submitted */
};

/* The peer id of p's handshake, or NULL before it. */
static const uint8_t *
peer_ident(const struct peer *p)
{
    return p->state == PEER_ACTIVE ? p->hs.peer_id : NULL;
}

/* The peer id of the connection at endpoint sa on any torrent, or NULL:
 * on a shared address the ban names it, so the peer stays banned when it
 * comes back from a new source port. */
static const uint8_t *
ident_at(const struct shoal_session *ss, const struct sockaddr *sa)
{
    for (const struct torrent *o = ss->torrents; o; o = o->next)
        for (const struct peer *p = o->peers; p; p = p->next)
            if (peer_ident(p) &&
                sockaddr_same_endpoint((const struct sockaddr *)&p->sa, sa))
                return peer_ident(p);
    return NULL;
}

/* Bans a host (on a shared address, one peer: banlist.h) for the session:
 * every connection from it on every torrent closes, and it is neither
 * dialed nor let in again while the ban lasts. */
static void
ban_address(struct torrent *t, const struct sockaddr_storage *sa, const char *why)
{
    struct shoal_session *ss = t->ss;
    const struct sockaddr *bad = (const struct sockaddr *)sa;
    uint8_t id_buf[20];
    const uint8_t *id = ident_at(ss, bad);
    if (id)
        id = memcpy(id_buf, id, sizeof(id_buf)); /* its peer closes below */
    if (banlist_add_peer(ss->bans, bad, id, session_now_ms(ss)) == 1)
        t->nbanned++;
    for (struct peer *p = ss->halfopen; p; p = p->next)
        if (p->state != PEER_DEAD &&
            banlist_same_peer((const struct sockaddr *)&p->sa, NULL, bad, id))
            peer_close(p, "banned address");
    int connected = 0;
    for (struct torrent *o = ss->torrents; o; o = o->next) {
        for (struct peer *p = o->peers; p; p = p->next) {
            if (p->state == PEER_DEAD ||
                !banlist_same_peer((const struct sockaddr *)&p->sa, peer_ident(p), bad,
                                   id))
                continue;
            ban_peer(o, p, why);
            connected |= o == t;
        }
    }
    if (connected)
        return;
    char addr[SOCKADDR_TEXT_MAX];
    sockaddr_format(bad, addr, sizeof(addr));
    session_emit(ss, SHOAL_EV_PEER_BANNED, t, NULL, 0, "%s banned: %s", addr, why);
}

void
torrent_ban_address(struct torrent *t, const struct sockaddr_storage *sa, const char *why)
{
    ban_address(t, sa, why);
}

enum readback_kind { READBACK_BAD, READBACK_GOOD };

struct readback {
    struct torrent *t;
    uint32_t piece;
    enum readback_kind kind;
};

/* The stored data of a piece, read back to settle who sent bad blocks. */
static void
on_readback(void *user, int rc, const uint8_t *data, size_t len)
{
    struct readback *rb = user;
    struct torrent *t = rb->t;
    uint32_t piece = rb->piece;
    enum readback_kind kind = rb->kind;
    xfree(rb);
    if (t->dying)
        return;
    if (rc != 0) {
        smartban_forget(t->sb, piece);
        return;
    }
    if (kind == READBACK_BAD) {
        smartban_bad_data(t->sb, piece, data, len);
        return;
    }
    struct sockaddr_storage liars[16];
    size_t n = smartban_piece_passed(t->sb, piece, data, len, liars, 16);
    for (size_t i = 0; i < n; i++)
        ban_address(t, &liars[i], "sent a block that did not match the verified piece");
}

static void
read_back(struct torrent *t, uint32_t piece, enum readback_kind kind)
{
    struct readback *rb = xmalloc(sizeof(*rb));
    if (!rb) {
        smartban_forget(t->sb, piece);
        return;
    }
    *rb = (struct readback){t, piece, kind};
    /* The pool runs this read before any later write to the same bytes, so
     * a failed piece is read as it was, even if refetching starts now. */
    uint64_t off = (uint64_t)piece * t->m->piece_length;
    if (disk_submit_read(t->ss->disk, t->st, off, storage_piece_size(t->st, piece),
                         on_readback, rb) != 0) {
        xfree(rb);
        smartban_forget(t->sb, piece);
    }
}

/* After a verdict changed trust levels in the picker: a peer put on parole
 * has its requests taken back cancelled on the wire, and its host (on a
 * shared address its endpoint and peer id) is remembered so a new
 * connection from it starts on parole too; a peer that
 * left parole is forgotten there. */
static void
sync_trust(struct torrent *t)
{
    uint64_t now = session_now_ms(t->ss);
    for (struct peer *p = t->peers; p; p = p->next) {
        if (p->state != PEER_ACTIVE)
            continue;
        const struct sockaddr *sa = (const struct sockaddr *)&p->sa;
        if (picker_peer_trust(t->picker, p) == PICKER_TRUST_PAROLE) {
            banlist_add_peer(t->suspects, sa, p->hs.peer_id, now);
            peer_sync_requests(p);
        } else if (picker_peer_trust(t->picker, p) == PICKER_TRUST_FULL) {
            banlist_del_peer(t->suspects, sa, p->hs.peer_id);
        }
    }
}

int
torrent_peer_trust_init(struct torrent *t, struct peer *p)
{
    const struct sockaddr *sa = (const struct sockaddr *)&p->sa;
    int parole = banlist_has_peer(t->suspects, sa, p->hs.peer_id, session_now_ms(t->ss));
    return picker_peer_set_trust(t->picker, p,
                                 parole ? PICKER_TRUST_PAROLE : PICKER_TRUST_NEW);
}

static void
piece_failed(struct torrent *t, uint32_t piece)
{
    struct sockaddr_storage single;
    t->hash_failures++;
    session_emit(t->ss, SHOAL_EV_PIECE_FAILED, t, NULL, piece,
                 "piece %u failed its hash check; fetching it again", piece);
    if (webseeds_piece_failed(t->ws, piece)) {
        /* Its pieces are its own (PICKER_TRUST_WHOLE): the web seed alone
         * sent it, and is dropped. */
        smartban_forget(t->sb, piece);
        picker_piece_failed(t->picker, piece);
        return;
    }
    int one = smartban_piece_failed(t->sb, piece, &single);
    if (one == 1) {
        /* Every block came from one peer: it alone sent bad data. */
        ban_address(t, &single, "sent a piece that failed its hash check");
        smartban_forget(t->sb, piece);
    } else if (one == 0) {
        read_back(t, piece, READBACK_BAD);
        /* Fetched again first, so its verdict names the liar soon. */
        picker_set_piece_priority(t->picker, piece, PICKER_PRIO_HIGH);
    }
    /* Several senders go on parole (picker.h). */
    picker_piece_failed(t->picker, piece);
    sync_trust(t);
}

/* ------------------------------------------------------------------ final names */

struct finish_job {
    struct torrent *t;
    size_t file;
};

/* Says the torrent is complete: once every piece is verified and every
 * file has its final name. */
static void
emit_finished(struct torrent *t)
{
    t->finished_held = 0;
    session_emit(t->ss, SHOAL_EV_FINISHED, t, NULL, 0, "download finished");
}

/* On a disk worker: the rename may wait for the disk. */
static int
finish_work(void *arg)
{
    struct finish_job *job = arg;
    return storage_finish_file(job->t->st, job->file);
}

static void
on_file_finished(void *user, int rc)
{
    struct finish_job *job = user;
    struct torrent *t = job->t;
    const char *path = t->m->files[job->file].path;
    xfree(job);
    t->renames_pending--;
    if (t->dying)
        return;
    if (t->renames_pending == 0 && t->finished_held)
        emit_finished(t);
    if (!rc)
        return;
    /* Not tried again in this run: the file stays whole under its
     * incomplete name, and the next start tries once more. */
    if (rc == -EEXIST)
        session_emit(t->ss, SHOAL_EV_WARNING, t, NULL, 0,
                     "%s is complete, but another file has that name: the download "
                     "keeps its incomplete name",
                     path);
    else
        session_emit(t->ss, SHOAL_EV_WARNING, t, NULL, 0,
                     "cannot give %s its final name: %s", path, shoal_strerror(rc));
}

/* Every piece over file i is verified: it takes its final name. */
static void
finish_file(struct torrent *t, size_t i)
{
    if (t->file_finishing[i] || !storage_file_is_part(t->st, i))
        return;
    struct finish_job *job = xmalloc(sizeof(*job));
    if (!job)
        return; /* the next start renames it */
    job->t = t;
    job->file = i;
    if (disk_submit_work(t->ss->disk, finish_work, job, on_file_finished, job) != 0) {
        xfree(job);
        return;
    }
    t->file_finishing[i] = 1;
    t->renames_pending++;
}

static int
has_data(const struct shoal_file *f)
{
    return f->size > 0 && !(f->attr & SHOAL_FILE_PAD);
}

/* Counts, per file, the pieces over it not verified yet, once the have
 * bits are known; files with none left take their final names. */
static void
count_missing(struct torrent *t)
{
    const shoal_metainfo *m = t->m;
    for (size_t i = 0; i < m->file_count; i++) {
        const struct shoal_file *f = &m->files[i];
        t->file_missing[i] = 0;
        if (!has_data(f))
            continue;
        uint32_t first = (uint32_t)(f->offset / m->piece_length);
        uint32_t last = (uint32_t)((f->offset + f->size - 1) / m->piece_length);
        for (uint32_t p = first; p <= last; p++)
            t->file_missing[i] += !picker_have(t->picker, p);
        if (t->file_missing[i] == 0)
            finish_file(t, i);
    }
}

/* A piece was verified: the files it covers have one piece less to wait
 * for. */
static void
piece_covers_files(struct torrent *t, uint32_t piece)
{
    const shoal_metainfo *m = t->m;
    uint64_t start = (uint64_t)piece * m->piece_length;
    uint64_t end = start + storage_piece_size(t->st, piece);
    for (size_t i = storage_file_at(t->st, start);
         i < m->file_count && m->files[i].offset < end; i++) {
        if (has_data(&m->files[i]) && t->file_missing[i] > 0 && --t->file_missing[i] == 0)
            finish_file(t, i);
    }
}

static void
piece_passed(struct torrent *t, uint32_t piece)
{
    picker_piece_passed(t->picker, piece);
    piece_covers_files(t, piece);
    if (smartban_is_suspect(t->sb, piece))
        read_back(t, piece, READBACK_GOOD);
    else
        smartban_forget(t->sb, piece);
    t->resume_dirty = 1;
    for (struct peer *p = t->peers; p; p = p->next)
        if (p->state == PEER_ACTIVE)
            peer_send_have(p, piece);
    session_emit(t->ss, SHOAL_EV_PIECE_VERIFIED, t, NULL, piece, "piece %u verified",
                 piece);
    if (torrent_is_done(t) && !t->finished_sent) {
        t->finished_sent = 1;
        torrent_set_state(t, SHOAL_TS_SEEDING, NULL);
        announcer_completed(&t->tracker.announcer);
        if (t->renames_pending > 0)
            t->finished_held = 1;
        else
            emit_finished(t);
        for (struct peer *p = t->peers; p; p = p->next)
            peer_update_interest(p);
    }
}

static void resume_hash_landed(struct torrent *t, uint64_t seq);

static void
on_hash_done(void *user, int rc)
{
    struct piece_job *job = user;
    struct torrent *t = job->t;
    uint32_t piece = job->piece;
    uint64_t seq = job->seq;
    xfree(job);
    t->pending_hashes--;
    if (t->dying)
        return;
    if (t->io_failed[piece]) {
        /* The data never reached the disk whole: not the peers' fault. */
        t->io_failed[piece] = 0;
        picker_piece_reset(t->picker, piece);
        resume_hash_landed(t, seq);
        return;
    }
    if (rc == 1) {
        piece_passed(t, piece);
        sync_trust(t);
    } else if (rc == 0) {
        piece_failed(t, piece);
    } else {
        picker_piece_reset(t->picker, piece);
    }
    for (struct peer *p = t->peers; p; p = p->next)
        peer_fill_requests(p);
    webseeds_fill(t->ws);
    resume_hash_landed(t, seq);
}

static void
on_write_done(void *user, int rc)
{
    struct piece_job *job = user;
    struct torrent *t = job->t;
    uint32_t piece = job->piece;
    xfree(job);
    t->pending_writes--;
    if (t->dying || rc == 0)
        return;
    t->io_failed[piece] = 1;
    enum storage_error_class cls = storage_error_class(rc);
    if (cls == STORAGE_ERR_FULL)
        torrent_set_state(t, SHOAL_TS_DISK_FULL, "no space left in %s; waiting for space",
                          t->save_dir);
    else if (cls == STORAGE_ERR_READONLY)
        torrent_set_state(t, SHOAL_TS_READ_ONLY, "cannot write to %s: %s", t->save_dir,
                          shoal_strerror(rc));
    else
        torrent_set_state(t, SHOAL_TS_ERROR, "disk error writing piece %u: %s", piece,
                          shoal_strerror(rc));
}

/* A block from src, a peer (sa: its address, for smart ban) or a web seed
 * (sa NULL): the picker records it, the disk writes it, and the last block
 * of a piece has the piece hashed. */
static void
store_block(struct torrent *t, void *src, const struct sockaddr_storage *sa,
            uint32_t piece, uint32_t begin, const uint8_t *data, size_t len)
{
    uint64_t now = session_now_ms(t->ss);
    t->downloaded += len;
    rate_add(&t->down, now, len);

    int rc = picker_block_received(t->picker, src, piece, begin, (uint32_t)len);
    if (rc < 0)
        return; /* a duplicate from endgame, or already verified */
    if (sa)
        smartban_block(t->sb, piece, begin, sa);

    /* Endgame: whoever else was asked for this block can stop. */
    void *others[16];
    size_t n = picker_block_requesters(t->picker, piece, begin, others, 16);
    for (size_t i = 0; i < n && i < 16; i++)
        if (others[i] != src && !webseeds_is_key(t->ws, others[i]))
            peer_cancel_block(others[i], piece, begin, (uint32_t)len);

    uint8_t *copy = xmalloc(len);
    struct piece_job *job = xmalloc(sizeof(*job));
    if (!copy || !job) {
        xfree(copy);
        xfree(job);
        picker_piece_reset(t->picker, piece);
        return;
    }
    memcpy(copy, data, len);
    *job = (struct piece_job){t, piece};
    uint64_t off = (uint64_t)piece * t->m->piece_length + begin;
    if (disk_submit_write(t->ss->disk, t->st, off, copy, len, on_write_done, job) != 0) {
        xfree(job);
        picker_piece_reset(t->picker, piece);
        return;
    }
    t->pending_writes++;
    if (rc != 1)
        return;
    /* Last block: hash it once every write of the piece is on disk (the
     * pool orders a hash after earlier overlapping writes). */
    job = xmalloc(sizeof(*job));
    if (!job) {
        picker_piece_reset(t->picker, piece);
        return;
    }
    *job = (struct piece_job){t, piece, ++t->hash_seq};
    if (disk_submit_hash(t->ss->disk, t->st, piece, t->m->pieces + (size_t)piece * 20,
                         on_hash_done, job) != 0) {
        xfree(job);
        picker_piece_reset(t->picker, piece);
        return;
    }
    t->pending_hashes++;
}

void
torrent_on_block(struct torrent *t, struct peer *p, uint32_t piece, uint32_t begin,
                 const uint8_t *data, size_t len)
{
    p->downloaded += len;
    rate_add(&p->down, session_now_ms(t->ss), len);
    store_block(t, p, &p->sa, piece, begin, data, len);
}

/* ------------------------------------------------------------------ web seeds */

/* A web seed may ask for more: the torrent downloads and the disk keeps up
 * (the same back-pressure as peers'). */
static int
webseed_can_fetch(void *ctx)
{
    const struct torrent *t = ctx;
    return t->state == SHOAL_TS_DOWNLOADING && !t->stopped && !t->dying &&
           disk_pending_bytes(t->ss->disk) <= TORRENT_MAX_PENDING_WRITE;
}

static void
webseed_block(void *ctx, void *key, uint32_t piece, uint32_t begin, const uint8_t *data,
              size_t len)
{
    store_block(ctx, key, NULL, piece, begin, data, len);
}

/* ------------------------------------------------------------------ peers */

void
torrent_peer_attached(struct torrent *t, struct peer *p)
{
    p->t = t;
    p->next = t->peers;
    t->peers = p;
    t->npeers++;
}

static int
unchoked_count(const struct torrent *t)
{
    int n = 0;
    for (const struct peer *p = t->peers; p; p = p->next)
        if (p->state == PEER_ACTIVE && !p->am_choking && p->peer_interested)
            n++;
    return n;
}

void
torrent_peer_interested(struct torrent *t, struct peer *p)
{
    /* Free slot: do not make a new peer wait up to 10 s for the choker. */
    if (p->am_choking && unchoked_count(t) < t->ss->cfg.upload_slots + 1)
        peer_set_choke(p, 0);
}

static void
run_choker(struct torrent *t, uint64_t now)
{
    int rotate = now - t->last_optimistic_ms >= TORRENT_OPTIMISTIC_INTERVAL_MS;
    if (rotate)
        t->last_optimistic_ms = now;
    size_t n = 0;
    for (struct peer *p = t->peers; p; p = p->next)
        if (p->state == PEER_ACTIVE)
            n++;
    if (n == 0)
        return;
    struct choker_peer *cp = xcalloc(n, sizeof(*cp));
    int *unchoke = xcalloc(n, sizeof(*unchoke));
    if (!cp || !unchoke) {
        xfree(cp);
        xfree(unchoke);
        return;
    }
    size_t i = 0;
    for (struct peer *p = t->peers; p; p = p->next) {
        if (p->state != PEER_ACTIVE)
            continue;
        cp[i].key = p;
        cp[i].down_rate = rate_get(&p->down, now);
        cp[i].up_rate = rate_get(&p->up, now);
        cp[i].interested = p->peer_interested;
        cp[i].choked = p->am_choking;
        cp[i].snubbed = p->snubbed;
        cp[i].last_unchoked_ms = p->last_unchoked_ms;
        cp[i].connected_ms = p->connected_ms;
        cp[i].is_seed = p->has_all;
        cp[i].optimistic = p->optimistic;
        i++;
    }
    struct choker_cfg cfg = {.slots = t->ss->cfg.upload_slots, .optimistic_slots = 1};
    choker_run(cp, n, &cfg, torrent_is_done(t), rotate, now, &t->rng, unchoke);
    for (i = 0; i < n; i++) {
        struct peer *p = cp[i].key;
        p->optimistic = cp[i].optimistic;
        peer_set_choke(p, !unchoke[i]);
    }
    xfree(cp);
    xfree(unchoke);
}

void
torrent_peer_detached(struct torrent *t, struct peer *p)
{
    struct peer **pp = &t->peers;
    while (*pp && *pp != p)
        pp = &(*pp)->next;
    if (*pp) {
        *pp = p->next;
        t->npeers--;
    }
    if (t->mf)
        meta_fetch_remove_peer(t->mf, p);
}

/* ------------------------------------------------------------------ known peers */

int
torrent_add_known(struct torrent *t, const struct sockaddr *sa, socklen_t len)
{
    if (torrent_is_banned(t, sa))
        return SHOAL_EBANNED;
    for (size_t i = 0; i < t->nknown; i++)
        if (sockaddr_same_endpoint((const struct sockaddr *)&t->known[i].sa, sa))
            return 0;
    if (t->nknown >= TORRENT_MAX_KNOWN)
        return SHOAL_ETOOBIG;
    if (t->nknown == t->capknown) {
        size_t cap = t->capknown ? t->capknown * 2 : 8;
        struct known_peer *k = xreallocarray(t->known, cap, sizeof(*k));
        if (!k)
            return SHOAL_ENOMEM;
        t->known = k;
        t->capknown = cap;
    }
    struct known_peer *k = &t->known[t->nknown++];
    memset(k, 0, sizeof(*k));
    memcpy(&k->sa, sa, len < sizeof(k->sa) ? len : sizeof(k->sa));
    return 0;
}

/* Connected to that address: by the socket's own endpoint, or, for a peer
 * that dialed us, by the listen port its extension handshake gave. */
static int
is_connected(const struct torrent *t, const struct sockaddr_storage *sa)
{
    for (const struct peer *p = t->peers; p; p = p->next) {
        if (p->state == PEER_DEAD)
            continue;
        const struct sockaddr *psa = (const struct sockaddr *)&p->sa;
        if (sockaddr_same_endpoint(psa, (const struct sockaddr *)sa))
            return 1;
        if (p->ext.listen_port &&
            p->ext.listen_port == sockaddr_port((const struct sockaddr *)sa) &&
            sockaddr_same_host(psa, (const struct sockaddr *)sa))
            return 1;
    }
    return 0;
}

static void
dial_known(struct torrent *t, uint64_t now)
{
    /* Keep every known address connected, with a growing pause after each
     * failed attempt. */
    for (size_t i = 0; i < t->nknown; i++) {
        struct known_peer *k = &t->known[i];
        if (is_connected(t, &k->sa)) {
            k->fails = 0;
            continue;
        }
        if (k->fails >= TORRENT_MAX_DIAL_FAILS ||
            torrent_is_banned(t, (struct sockaddr *)&k->sa)) {
            /* Give up on it: drop the entry so the list makes room. */
            t->known[i--] = t->known[--t->nknown];
            continue;
        }
        if (now < k->next_try_ms)
            continue;
        if (t->npeers >= t->ss->cfg.max_peers_per_torrent ||
            t->ss->npeers >= t->ss->cfg.max_peers)
            return;
        /* Back off: 5 s, 10 s, 20 s ... up to 5 min between attempts. */
        uint64_t delay = (uint64_t)TORRENT_REDIAL_MS << (k->fails < 6 ? k->fails : 6);
        k->next_try_ms = now + delay;
        k->fails++;
        session_dial(t->ss, t, (struct sockaddr *)&k->sa);
    }
}

void
torrent_dial_now(struct torrent *t, uint64_t now)
{
    dial_known(t, now);
}

/* ------------------------------------------------------------------ resume */

/*
 * A resume save on its way: the files' sizes and times, taken first; then,
 * once every hash in flight at that moment has landed, the have bits and the
 * encoded state; then the data files' fsync and the state file's write.
 */
struct resume_save {
    struct torrent *t;
    const char *path;  /* the torrent's resume_path */
    uint64_t hash_seq; /* hash jobs numbered up to this were in flight, or
                        * done, when the file times were taken */
    struct storage_file_state *fs;
    struct storage_file_state parts; /* the parts file, taken with them */
    uint8_t *data;
    size_t len;
};

static void
free_resume_save(struct resume_save *sv)
{
    if (sv) {
        xfree(sv->fs);
        xfree(sv->data);
        xfree(sv);
    }
}

/* The state for the file times of sv and the have bits and totals as of
 * now, encoded for resume_write(). */
static int
encode_resume(struct torrent *t, struct resume_save *sv)
{
    struct resume_state rs;
    size_t nfiles = storage_file_count(t->st);
    int rc = resume_init(&rs, t->m->infohash, t->m->piece_count, nfiles);
    if (rc)
        return rc;
    const struct bitfield *have = picker_have_bits(t->picker);
    memcpy(rs.have, have->bits, BITFIELD_BYTES(t->m->piece_count));
    /* Totals over every run; the status shows this run's alone. */
    rs.uploaded = t->uploaded_before + t->uploaded;
    rs.downloaded = t->downloaded_before + t->downloaded;
    rc = resume_set_files(&rs, sv->fs, nfiles);
    resume_set_parts(&rs, &sv->parts);
    if (!rc)
        rc = resume_encode(&rs, &sv->data, &sv->len);
    resume_cleanup(&rs);
    return rc;
}

/* On a disk worker: the file, its fsync, the rename and the folder's fsync. */
static int
write_resume_file(void *arg)
{
    struct resume_save *sv = arg;
    return resume_write(sv->path, sv->data, sv->len);
}

static void request_resume_save(struct torrent *t);

static void
on_resume_written(void *user, int rc)
{
    struct resume_save *sv = user;
    struct torrent *t = sv->t;
    if (rc)
        t->resume_dirty = 1; /* the older state file stays, and stays true */
    t->resume_busy = 0;
    free_resume_save(sv);
    if (t->resume_again && !t->dying) {
        t->resume_again = 0;
        request_resume_save(t);
    }
}

/* The data files are on stable storage, and with them every piece the
 * state claims: the state may follow. */
static void
on_resume_synced(void *user, int rc)
{
    struct resume_save *sv = user;
    if (rc == 0 && disk_submit_work(sv->t->ss->disk, write_resume_file, sv,
                                    on_resume_written, sv) == 0)
        return;
    on_resume_written(sv, rc ? rc : SHOAL_ENOMEM);
}

/* Every hash in flight when the file times were taken has landed: takes the
 * have bits, and has the pool flush the data files (after every write
 * submitted before, which includes each write of a piece now verified) and
 * then write the state. */
static void
finish_resume_save(struct torrent *t)
{
    struct resume_save *sv = t->resume_pending;
    t->resume_pending = NULL;
    if (encode_resume(t, sv) != 0 ||
        disk_submit_fsync(t->ss->disk, t->st, on_resume_synced, sv) != 0)
        on_resume_written(sv, SHOAL_ENOMEM);
}

/*
 * Saves the resume state, so that a restart that trusts it (every file has
 * the size and time it records) loses no piece that was whole on disk at
 * those times, and a power cut never leaves a state that claims data not on
 * stable storage; the loop never waits for the disk.
 *
 * The file times come first, then the have bits, once every piece hash in
 * flight at that moment has landed (on_hash_done counts them down). A piece
 * whole on disk at the file times had its last block received, and so its
 * hash submitted, before them: it is claimed if it passed. A piece claimed
 * that was written after the file times changed its file, so a restart does
 * not trust the state and checks the data instead. One save at a time: one
 * asked for meanwhile starts when it ends.
 */
static void
request_resume_save(struct torrent *t)
{
    if (!t->resume_path) {
        t->resume_dirty = 0; /* the owner keeps no state: nothing to save */
        return;
    }
    if (t->resume_busy) {
        t->resume_again = 1;
        return;
    }
    size_t nfiles = storage_file_count(t->st);
    struct resume_save *sv = xcalloc(1, sizeof(*sv));
    if (sv)
        sv->fs = xcalloc(nfiles ? nfiles : 1, sizeof(*sv->fs));
    if (!sv || !sv->fs || storage_check_files(t->st, sv->fs) != 0 ||
        storage_check_parts(t->st, &sv->parts) != 0) {
        free_resume_save(sv);
        t->resume_dirty = 1;
        return;
    }
    sv->t = t;
    sv->path = t->resume_path;
    sv->hash_seq = t->hash_seq;
    t->resume_busy = 1;
    t->resume_dirty = 0;
    t->resume_pending = sv;
    t->resume_hashes_left = (uint32_t)t->pending_hashes;
    if (t->resume_hashes_left == 0)
        finish_resume_save(t);
}

/* A piece hash numbered seq landed (its piece counted as passed or not). */
static void
resume_hash_landed(struct torrent *t, uint64_t seq)
{
    struct resume_save *sv = t->resume_pending;
    if (sv && seq <= sv->hash_seq && --t->resume_hashes_left == 0)
        finish_resume_save(t);
}

/* A seeding torrent whose files were deleted or truncated stops offering
 * them and says so; nothing is downloaded again unless asked (--recheck). */
static void
check_files_present(struct torrent *t)
{
    if (t->state != SHOAL_TS_SEEDING && t->state != SHOAL_TS_DOWNLOADING)
        return;
    size_t n = storage_file_count(t->st);
    struct storage_file_state *fs = xcalloc(n ? n : 1, sizeof(*fs));
    if (!fs || storage_check_files(t->st, fs) != 0) {
        xfree(fs);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        const struct shoal_file *f = &t->m->files[i];
        uint32_t first = (uint32_t)(f->offset / t->m->piece_length);
        /* An unselected file holds at most the bytes of shared pieces,
         * if it is on disk at all. */
        int had = t->file_wanted[i] && f->size > 0 && picker_have(t->picker, first);
        if (had && !fs[i].size_ok) {
            torrent_set_state(t, SHOAL_TS_FILES_MISSING, "%s is %s", f->path,
                              fs[i].exists ? "shorter than it should be" : "missing");
            break;
        }
    }
    xfree(fs);
}

/* Loads resume state when it matches the files on disk; returns 1 when the
 * have bits were taken from it, 0 when a full check is needed. */
static int
load_resume(struct torrent *t)
{
    struct resume_state rs;
    struct shoal_perr err;
    struct storage_file_state parts;
    memset(&err, 0, sizeof(err));
    if (!t->resume_path || resume_load(t->resume_path, &rs, &err) != 0)
        return 0;
    int ok = resume_check(&rs, t->m, &err) == 0;
    size_t nfiles = storage_file_count(t->st);
    struct storage_file_state *fs = xcalloc(nfiles ? nfiles : 1, sizeof(*fs));
    if (ok && fs && storage_check_files(t->st, fs) == 0 &&
        resume_matches(&rs, fs, nfiles) && storage_check_parts(t->st, &parts) == 0 &&
        resume_parts_match(&rs, &parts)) {
        for (uint32_t i = 0; i < t->m->piece_count; i++)
            if (rs.have[i / 8] & (0x80 >> (i % 8)))
                picker_set_have(t->picker, i);
        t->uploaded_before = rs.uploaded;
        t->downloaded_before = rs.downloaded;
    } else {
        ok = 0;
    }
    xfree(fs);
    resume_cleanup(&rs);
    return ok;
}

/* ------------------------------------------------------------------ check */

/* Once the have bits are known (from resume state or a check): the state the
 * data calls for, and a resume save to match. */
static void
torrent_ready(struct torrent *t)
{
    const shoal_metainfo *m = t->m;
    int complete = picker_is_complete(t->picker);
    if (t->seed_only && !complete && picker_have_count(t->picker) < m->piece_count)
        torrent_set_state(t, SHOAL_TS_FILES_MISSING,
                          "%u of %u pieces are missing or damaged",
                          m->piece_count - picker_have_count(t->picker), m->piece_count);
    else
        torrent_set_state(t, complete ? SHOAL_TS_SEEDING : SHOAL_TS_DOWNLOADING, NULL);
    t->finished_sent = torrent_is_done(t);
    count_missing(t);
    request_resume_save(t);
}

/* 1 when no file of the torrent holds a byte yet (a new download): every
 * piece is missing, and a check could only say so. Found with a stat per
 * file, as the resume check does. */
static int
nothing_on_disk(struct torrent *t)
{
    size_t n = storage_file_count(t->st);
    struct storage_file_state *fs = xcalloc(n ? n : 1, sizeof(*fs));
    struct storage_file_state parts;
    int none = fs && storage_check_files(t->st, fs) == 0 &&
               storage_check_parts(t->st, &parts) == 0 && parts.size == 0;
    for (size_t i = 0; none && i < n; i++)
        if (!(t->m->files[i].attr & SHOAL_FILE_PAD) && fs[i].exists && fs[i].size > 0)
            none = 0;
    xfree(fs);
    return none;
}

static int
checking_now(const struct shoal_session *ss)
{
    for (const struct torrent *t = ss->torrents; t; t = t->next)
        if (t->check.state == TORRENT_CHECK_RUNNING)
            return 1;
    return 0;
}

static void check_begin(struct torrent *t);

/* Starts the check that has waited longest, unless one runs. New torrents
 * go to the head of the session's list, so that is the last one queued. */
static void
start_next_check(struct shoal_session *ss)
{
    if (checking_now(ss))
        return;
    struct torrent *oldest = NULL;
    for (struct torrent *t = ss->torrents; t; t = t->next)
        if (t->check.state == TORRENT_CHECK_QUEUED && !t->stopped)
            oldest = t;
    if (oldest)
        check_begin(oldest);
}

/* The check is over: the torrent takes the state its data calls for, tells
 * its peers what it now wants, announces, and the next check starts. */
static void
check_end(struct torrent *t)
{
    t->check.state = TORRENT_CHECK_NONE;
    if (t->check.err) {
        torrent_set_state(t, SHOAL_TS_ERROR, "cannot check the existing data: %s",
                          shoal_strerror(t->check.err));
    } else {
        torrent_ready(t);
        for (struct peer *p = t->peers; p; p = p->next) {
            peer_update_interest(p);
            peer_fill_requests(p);
        }
        webseeds_fill(t->ws);
        tracker_client_tick(&t->tracker, session_now_ms(t->ss));
    }
    start_next_check(t->ss);
}

static void check_fill(struct torrent *t);

static void
on_check_hash(void *user, int rc)
{
    struct piece_job *job = user;
    struct torrent *t = job->t;
    uint32_t piece = job->piece;
    xfree(job);
    t->check.inflight--;
    t->check.done++;
    if (t->check.state != TORRENT_CHECK_RUNNING)
        return; /* stopped: the session is going away */
    if (rc == 1) {
        /* Verified now, so peers may hear of it now. */
        picker_set_have(t->picker, piece);
        for (struct peer *p = t->peers; p; p = p->next)
            if (p->state == PEER_ACTIVE)
                peer_send_have(p, piece);
    } else if (rc < 0 && rc != STORAGE_EMISSING && !t->check.err) {
        t->check.err = rc; /* missing data is simply not there yet */
    }
    check_fill(t);
}

/* Keeps the check's window of pieces in flight; ends the check once every
 * piece has come back (or an error stopped new submissions). */
static void
check_fill(struct torrent *t)
{
    struct torrent_check *c = &t->check;
    while (!c->err && c->next < t->m->piece_count && c->inflight < c->window) {
        struct piece_job *job = xmalloc(sizeof(*job));
        int rc = SHOAL_ENOMEM;
        if (job) {
            *job = (struct piece_job){t, c->next};
            rc = disk_submit_check(t->ss->disk, t->st, c->next,
                                   t->m->pieces + (size_t)c->next * SHA1_LEN,
                                   on_check_hash, job);
        }
        if (rc) {
            xfree(job);
            c->err = rc;
            break;
        }
        c->next++;
        c->inflight++;
    }
    if (c->inflight == 0)
        check_end(t);
}

static void
check_begin(struct torrent *t)
{
    struct torrent_check *c = &t->check;
    c->state = TORRENT_CHECK_RUNNING;
    c->next = c->done = c->inflight = 0;
    c->err = 0;
    c->window = disk_thread_count(t->ss->disk) * TORRENT_CHECK_JOBS_PER_THREAD;
    session_log(t->ss, "%s: checking %u pieces of existing data", t->m->name,
                t->m->piece_count);
    check_fill(t);
}

/* ------------------------------------------------------------------ selection */

/* Parses "0,2,5-7" into wanted[file] flags, by the rules programs check
 * --only with before they add a torrent (shoal_metainfo_check_selection). */
static int
parse_only(const char *only, size_t nfiles, uint8_t *want, struct shoal_perr *err)
{
    int rc = fileselect_parse(only, nfiles, want, err);
    if (rc)
        return rc;
    return 0;
}

/* The files the user selected, into t->file_wanted. */
static int
parse_selection(struct torrent *t, const char *only, struct shoal_perr *err)
{
    size_t n = t->m->file_count;
    t->file_wanted = xcalloc(n ? n : 1, 1);
    if (!t->file_wanted)
        return SHOAL_ENOMEM;
    if (!only) {
        memset(t->file_wanted, 1, n);
        return 0;
    }
    return parse_only(only, n, t->file_wanted, err);
}

/* The pieces of the selected files get downloaded; the rest are skipped. */
static void
select_files(struct torrent *t)
{
    const shoal_metainfo *m = t->m;
    picker_set_all_priority(t->picker, PICKER_PRIO_SKIP);
    t->total_wanted = 0;
    for (size_t i = 0; i < m->file_count; i++) {
        const struct shoal_file *f = &m->files[i];
        if (!t->file_wanted[i] || f->size == 0 || (f->attr & SHOAL_FILE_PAD))
            continue;
        uint32_t first = (uint32_t)(f->offset / m->piece_length);
        uint32_t last = (uint32_t)((f->offset + f->size - 1) / m->piece_length);
        picker_set_range_priority(t->picker, first, last, PICKER_PRIO_NORMAL);
        memset(t->wanted + first, 1, last - first + 1);
    }
    for (uint32_t i = 0; i < m->piece_count; i++)
        if (t->wanted[i])
            t->total_wanted += storage_piece_size(t->st, i);
}

/* ------------------------------------------------------------------ trackers */

/* What the tracker client says of t in an announce. */
static void
tracker_counts(void *arg, struct tracker_counts *out)
{
    const struct torrent *t = arg;
    out->uploaded = t->uploaded;
    out->downloaded = t->downloaded;
    /* Before the metadata the size is unknown, but we are surely no seed. */
    out->left = t->picker ? picker_left_bytes(t->picker) : TORRENT_UNKNOWN_LEFT;
}

/* The announcer for t: n trackers with their tiers (BEP 12), then each of
 * extra in a tier of its own. */
static void
setup_trackers(struct torrent *t, char *const *urls, const int *tiers, size_t n,
               const char *const *extra)
{
    struct tracker_torrent *tt = &t->tracker;
    announcer_init(&tt->announcer, session_random(t->ss));
    memcpy(tt->infohash, t->infohash, sizeof(tt->infohash));
    tt->key = (uint32_t)session_random(t->ss);
    tt->counts = tracker_counts;
    tt->counts_arg = t;
    int last_tier = -1;
    for (size_t i = 0; i < n; i++) {
        int tier = tiers ? tiers[i] : (int)i;
        announcer_add(&tt->announcer, urls[i], tier);
        if (tier > last_tier)
            last_tier = tier;
    }
    for (size_t i = 0; extra && extra[i]; i++)
        announcer_add(&tt->announcer, extra[i], ++last_tier);
    announcer_shuffle(&tt->announcer);
    tracker_client_attach(t->ss->tracker, tt);
}

/* ------------------------------------------------------------------ lifecycle */

/* A torrent known by its infohash alone: what every torrent has, with or
 * without metadata. NULL when out of memory. */
static struct torrent *
torrent_alloc(struct shoal_session *ss, const uint8_t ih[20],
              const struct shoal_torrent_opts *opts)
{
    struct torrent *t = xcalloc(1, sizeof(*t));
    if (!t)
        return NULL;
    t->ss = ss;
    memcpy(t->infohash, ih, sizeof(t->infohash));
    t->rng = session_random(ss) | 1;
    t->lim.max_request = WIRE_MAX_BLOCK;
    t->state = SHOAL_TS_CHECKING;
    t->save_dir = xstrdup(opts->save_dir);
    t->suspects = banlist_new();
    /* No default: nothing of the program's own goes into the save folder. */
    if (!t->save_dir || !t->suspects ||
        (opts->resume_path && !(t->resume_path = xstrdup(opts->resume_path)))) {
        banlist_free(t->suspects);
        xfree(t->save_dir);
        xfree(t->resume_path);
        xfree(t);
        return NULL;
    }
    return t;
}

/* Frees what torrent_attach() made; t->m is left to the caller. */
static void
torrent_detach(struct torrent *t)
{
    webseeds_free(t->ws);
    pex_free(t->pex);
    smartban_free(t->sb);
    storage_close(t->st);
    picker_free(t->picker);
    xfree(t->wanted);
    xfree(t->file_wanted);
    xfree(t->file_missing);
    xfree(t->file_finishing);
    xfree(t->io_failed);
    t->ws = NULL;
    t->pex = NULL;
    t->sb = NULL;
    t->st = NULL;
    t->picker = NULL;
    t->wanted = t->file_wanted = t->file_finishing = t->io_failed = NULL;
    t->file_missing = NULL;
}

/*
 * Gives t its metadata: the piece geometry, picker, smart ban, selection,
 * storage and web seeds, then the resume state or a queued check. The one
 * path for a torrent added with its metadata and one whose metadata just
 * arrived. On failure everything made here is freed again and t->m is NULL
 * (m stays the caller's).
 */
static int
torrent_attach(struct torrent *t, shoal_metainfo *m,
               const struct shoal_torrent_opts *opts, struct shoal_perr *err)
{
    struct shoal_session *ss = t->ss;
    int rc = SHOAL_ENOMEM;
    t->m = m;
    t->lim.piece_count = m->piece_count;
    t->lim.piece_length = m->piece_length;
    t->lim.total_size = m->total_size;
    t->io_failed = xcalloc(m->piece_count, 1);
    t->wanted = xcalloc(m->piece_count, 1);
    t->file_missing =
        xcalloc(m->file_count ? m->file_count : 1, sizeof(*t->file_missing));
    t->file_finishing = xcalloc(m->file_count ? m->file_count : 1, 1);
    t->picker =
        picker_new(m->piece_count, m->piece_length, m->total_size, session_random(ss));
    t->sb = smartban_new(m->piece_length, m->total_size);
    if (!t->io_failed || !t->wanted || !t->file_missing || !t->file_finishing ||
        !t->picker || !t->sb)
        goto fail;
    t->seed_only = opts->seed_only;
    /* The selection is checked before anything is created. */
    rc = parse_selection(t, opts->only, err);
    if (rc)
        goto fail;
    struct storage_opts so = {
        .flags = opts->seed_only ? STORAGE_READONLY : 0,
        .incomplete_ext = opts->incomplete_ext,
        .parts_path = opts->parts_path,
        .wanted = t->file_wanted,
    };
    rc = storage_open_with(&t->st, m, opts->save_dir, &so, err);
    if (rc)
        goto fail;
    picker_set_sequential(t->picker, opts->sequential);
    select_files(t);
    const struct webseed_owner wo = {t, webseed_can_fetch, webseed_block};
    rc = opts->seed_only ? 0
                         : webseeds_new(&ss->hooks, ss->http, t->picker, m, &wo, &t->ws);
    if (rc)
        goto fail;
    /* BEP 27: a private torrent exchanges no peers. */
    if (ss->cfg.pex && !m->private_flag &&
        !(t->pex = pex_new(&ss->hooks, m->infohash, (uint16_t)ss->port)))
        goto fail;
    if ((!opts->recheck && load_resume(t)) || nothing_on_disk(t))
        torrent_ready(t);
    else
        t->check.state = TORRENT_CHECK_QUEUED; /* torrent_start() runs it */
    return 0;
fail:
    torrent_detach(t);
    t->m = NULL;
    t->lim.piece_count = 0;
    t->lim.piece_length = 0;
    t->lim.total_size = 0;
    return rc;
}

int
torrent_new(struct shoal_session *ss, shoal_metainfo *m,
            const struct shoal_torrent_opts *opts, struct torrent **out,
            struct shoal_perr *err)
{
    struct torrent *t = torrent_alloc(ss, m->infohash, opts);
    if (!t)
        return SHOAL_ENOMEM;
    int rc = torrent_attach(t, m, opts, err);
    if (rc) {
        torrent_free(t);
        return rc;
    }
    setup_trackers(t, m->trackers, m->tracker_tiers, m->tracker_count, opts->trackers);
    *out = t;
    return 0;
}

/* A heap copy of the options a torrent without metadata needs once the
 * metadata arrives. */
static struct torrent_later *
later_new(const struct shoal_torrent_opts *opts, const shoal_magnet *mg)
{
    struct torrent_later *l = xcalloc(1, sizeof(*l));
    if (!l)
        return NULL;
    l->opts = *opts;
    l->opts.trackers = NULL; /* already in the announcer */
    int bad = 0;
    const char **dst[] = {&l->opts.save_dir, &l->opts.resume_path,
                          &l->opts.incomplete_ext, &l->opts.parts_path, &l->opts.only};
    const char *src[] = {opts->save_dir, opts->resume_path, opts->incomplete_ext,
                         opts->parts_path, opts->only};
    for (size_t i = 0; i < sizeof(src) / sizeof(src[0]); i++) {
        *dst[i] = NULL;
        if (src[i] && !(*dst[i] = xstrdup(src[i])))
            bad = 1;
    }
    if (!opts->only && mg->nso > 0) {
        l->so = xcalloc(mg->nso, sizeof(*l->so));
        if (l->so) {
            memcpy(l->so, mg->so, mg->nso * sizeof(*l->so));
            l->nso = mg->nso;
        } else {
            bad = 1;
        }
    }
    if (bad) {
        torrent_later_free(l);
        return NULL;
    }
    return l;
}

void
torrent_later_free(struct torrent_later *l)
{
    if (!l)
        return;
    xfree((char *)l->opts.save_dir);
    xfree((char *)l->opts.resume_path);
    xfree((char *)l->opts.incomplete_ext);
    xfree((char *)l->opts.parts_path);
    xfree((char *)l->opts.only);
    xfree(l->so);
    xfree(l);
}

int
torrent_new_magnet(struct shoal_session *ss, const shoal_magnet *mg,
                   const struct shoal_torrent_opts *opts, struct torrent **out)
{
    struct torrent *t = torrent_alloc(ss, mg->infohash, opts);
    if (!t)
        return SHOAL_ENOMEM;
    t->state = SHOAL_TS_METADATA;
    t->later = later_new(opts, mg);
    t->mf = meta_fetch_new(mg->infohash);
    if (mg->name)
        t->name_hint = xstrdup(mg->name);
    else if ((t->name_hint = xmalloc(41)))
        hex_encode(mg->infohash, 20, t->name_hint);
    if (!t->later || !t->mf || !t->name_hint) {
        torrent_free(t);
        return SHOAL_ENOMEM;
    }
    /* BEP 9: each tr= is a tier of its own. */
    setup_trackers(t, mg->tr.v, NULL, mg->tr.n, opts->trackers);
    *out = t;
    return 0;
}

const char *
torrent_name(const struct torrent *t)
{
    return t->m ? t->m->name : t->name_hint;
}

/* The so= ranges of l as a selection of the n files ("0,2-5"), cut to
 * them; NULL when none is left (then every file), or out of memory. */
static char *
so_selection(const struct torrent_later *l, size_t n)
{
    struct buf b;
    buf_init(&b, 64 * 1024);
    for (size_t i = 0; i < l->nso && l->so[i].first < n; i++) {
        uint32_t last = l->so[i].last < n ? l->so[i].last : (uint32_t)(n - 1);
        buf_printf(&b, "%s%u-%u", b.len ? "," : "", (unsigned)l->so[i].first,
                   (unsigned)last);
    }
    char *s = NULL;
    if (b.len && buf_append_byte(&b, 0) == 0) {
        size_t len;
        s = (char *)buf_steal(&b, &len);
    }
    buf_cleanup(&b);
    return s;
}

int
torrent_metadata_arrived(struct torrent *t, shoal_metainfo *m, struct shoal_perr *err)
{
    struct torrent_later *l = t->later;
    t->later = NULL;
    meta_fetch_free(t->mf);
    t->mf = NULL;
    if (m && l->nso && !l->opts.only)
        l->opts.only = so_selection(l, m->file_count);
    /* m is NULL when the verified metadata is no usable torrent. */
    int rc = m ? torrent_attach(t, m, &l->opts, err) : SHOAL_EPARSE;
    torrent_later_free(l);
    if (rc) {
        shoal_metainfo_free(m);
        for (struct peer *p = t->peers; p; p = p->next)
            peer_close(p, "the torrent cannot be used");
        t->nknown = 0;
        announcer_stop(&t->tracker.announcer);
        if (t->ss->dht)
            dht_torrent_forget(t->ss->dht, t->infohash);
        torrent_set_state(t, SHOAL_TS_ERROR, "%s", shoal_perr_text(err));
        return rc;
    }
    /* BEP 27: a magnet was taken for public until its info said private;
     * from now on it is announced neither on the local network nor in the
     * DHT. */
    if (m->private_flag) {
        lsd_remove(t->ss->lsd, t->infohash);
        /* Its lookup may be running: it must not announce us. */
        if (t->ss->dht)
            dht_torrent_forget(t->ss->dht, t->infohash);
    }
    if (t->check.state == TORRENT_CHECK_QUEUED)
        torrent_set_state(t, SHOAL_TS_CHECKING, NULL);
    for (struct peer *p = t->peers; p; p = p->next)
        peer_wire_metadata_arrived(p);
    torrent_start(t);
    for (struct peer *p = t->peers; p; p = p->next)
        peer_fill_requests(p);
    return 0;
}

void
torrent_start(struct torrent *t)
{
    if (t->check.state == TORRENT_CHECK_QUEUED)
        start_next_check(t->ss);
    else
        tracker_client_tick(&t->tracker, session_now_ms(t->ss)); /* announce at once */
    webseeds_fill(t->ws);
}

void
torrent_stop(struct torrent *t)
{
    if (t->stopped)
        return;
    t->stopped = 1;
    webseeds_stop(t->ws);
    /* A lookup of it still running would announce a torrent we no longer
     * serve. */
    if (t->ss->dht)
        dht_torrent_forget(t->ss->dht, t->infohash);
    if (!t->m)
        return; /* nothing on disk, nothing to save */
    if (t->state == SHOAL_TS_CHECKING || t->check.err) {
        /* Pieces in flight finish and are ignored. The state file keeps
         * what it said before the check began: a check that did not end
         * knows too little to replace it. */
        t->check.state = TORRENT_CHECK_NONE;
        return;
    }
    request_resume_save(t);
}

void
torrent_tick(struct torrent *t, uint64_t now)
{
    if (t->state == SHOAL_TS_STOPPED) {
        /* Only the `stopped` announce is left to send. */
        tracker_client_tick(&t->tracker, now);
        return;
    }
    for (struct peer *p = t->peers; p; p = p->next)
        peer_tick(p, now);
    if (!t->m) {
        /* Fetching the metadata: no choking, requests or disk yet. */
        if (t->state == SHOAL_TS_METADATA) {
            metadata_tick(t, now);
            dial_known(t, now);
        }
        tracker_client_tick(&t->tracker, now);
        return;
    }
    if (now - t->last_choke_ms >= TORRENT_CHOKE_INTERVAL_MS) {
        t->last_choke_ms = now;
        run_choker(t, now);
    }
    if ((t->state == SHOAL_TS_DISK_FULL || t->state == SHOAL_TS_READ_ONLY) &&
        now - t->state_since_ms >= TORRENT_DISK_RETRY_MS) {
        /* Try again: if space was freed the writes now succeed. */
        torrent_set_state(t, SHOAL_TS_DOWNLOADING, NULL);
    }
    int backlog = disk_pending_bytes(t->ss->disk) > TORRENT_MAX_PENDING_WRITE;
    if (!backlog)
        for (struct peer *p = t->peers; p; p = p->next)
            peer_fill_requests(p);
    webseeds_fill(t->ws);
    dial_known(t, now);
    if (t->pex)
        pex_tick(t->pex, t, now);
    if (t->state == SHOAL_TS_CHECKING)
        return; /* no announce and no resume save before the check ends */
    tracker_client_tick(&t->tracker, now);
    if (t->resume_dirty && !t->resume_busy &&
        now - t->last_resume_ms >= TORRENT_RESUME_INTERVAL_MS) {
        t->last_resume_ms = now;
        request_resume_save(t);
    }
    if (now - t->last_file_check_ms >= TORRENT_FILE_CHECK_MS) {
        t->last_file_check_ms = now;
        check_files_present(t);
    }
}

void
torrent_free(struct torrent *t)
{
    if (!t)
        return;
    t->dying = 1;
    /* The session stopped the torrent (its last resume save is written) and
     * drained the disk pool first, so no job refers to any of this; a save
     * still waits for hashes only when the pool dropped them. */
    free_resume_save(t->resume_pending);
    while (t->peers) {
        struct peer *p = t->peers;
        peer_close(p, "torrent stopped");
        torrent_peer_detached(t, p);
        peer_free(p);
    }
    banlist_free(t->suspects);
    tracker_client_detach(&t->tracker);
    announcer_cleanup(&t->tracker.announcer);
    /* No disk job refers to the storage any more: the session ran every
     * one to its callback before freeing torrents. */
    torrent_detach(t);
    shoal_metainfo_free(t->m);
    meta_fetch_free(t->mf);
    torrent_later_free(t->later);
    xfree(t->name_hint);
    xfree(t->torrent_file);
    xfree(t->save_dir);
    xfree(t->resume_path);
    xfree(t->known);
    xfree(t);
}

/* ------------------------------------------------------------------ public */

void
shoal_torrent_status(const shoal_torrent *pt, struct shoal_torrent_status *st)
{
    const struct torrent *t = (const struct torrent *)pt;
    uint64_t now = session_now_ms(t->ss);
    memset(st, 0, sizeof(*st));
    st->state = t->state;
    st->state_name = state_names[t->state];
    st->check_progress = torrent_check_progress(t);
    st->error = t->error[0] ? t->error : NULL;
    st->total_wanted = t->total_wanted;
    for (uint32_t i = 0; t->m && i < t->m->piece_count; i++)
        if (t->wanted[i] && picker_have(t->picker, i))
            st->have_wanted += storage_piece_size(t->st, i);
    st->pieces_have = t->picker ? picker_have_count(t->picker) : 0;
    st->piece_count = t->m ? t->m->piece_count : 0;
    if (t->mf) {
        st->metadata_peers = meta_fetch_peer_count(t->mf);
        st->metadata_size = meta_fetch_size(t->mf);
        st->metadata_have = meta_fetch_received(t->mf);
    }
    st->downloaded = t->downloaded;
    st->uploaded = t->uploaded;
    st->down_rate = rate_get(&t->down, now);
    st->up_rate = rate_get(&t->up, now);
    for (const struct peer *p = t->peers; p; p = p->next) {
        if (p->state != PEER_ACTIVE)
            continue;
        st->peers++;
        if (p->has_all)
            st->seeds++;
    }
    st->web_seeds = webseeds_active(t->ws);
    st->hash_failures = t->hash_failures;
    st->banned = (uint32_t)t->nbanned;
    announcer_best_counts(&t->tracker.announcer, &st->tracker_seeders,
                          &st->tracker_leechers, &st->tracker_downloaded);
}

void
shoal_torrent_stop(shoal_torrent *pt)
{
    struct torrent *t = (struct torrent *)pt;
    if (t->state == SHOAL_TS_STOPPED || t->stopped)
        return;
    for (struct peer *p = t->peers; p; p = p->next)
        peer_close(p, "torrent stopped");
    t->nknown = 0; /* nobody left to dial */
    announcer_stop(&t->tracker.announcer);
    torrent_stop(t);
    torrent_set_state(t, SHOAL_TS_STOPPED, NULL);
    tracker_client_tick(&t->tracker, session_now_ms(t->ss));
    start_next_check(t->ss); /* its own check, if it ran, is over */
}

/* ------------------------------------------------------------------ tracker info */

size_t
shoal_torrent_tracker_count(const shoal_torrent *pt)
{
    const struct torrent *t = (const struct torrent *)pt;
    return t->tracker.announcer.n;
}

int
shoal_torrent_tracker(const shoal_torrent *pt, size_t i, struct shoal_tracker_info *out)
{
    const struct torrent *t = (const struct torrent *)pt;
    memset(out, 0, sizeof(*out));
    if (i >= t->tracker.announcer.n)
        return SHOAL_EINVAL;
    const struct announcer_tracker *a = &t->tracker.announcer.t[i];
    uint64_t now = session_now_ms(t->ss);
    out->url = a->url;
    out->tier = a->tier;
    out->working = a->working;
    out->seeders = a->seeders;
    out->leechers = a->leechers;
    out->downloaded = a->completed;
    out->counts_age_s = a->counts_ms ? (int64_t)((now - a->counts_ms) / 1000) : -1;
    out->announce_error = a->error[0] ? a->error : NULL;
    out->scrape_error = a->scrape_error[0] ? a->scrape_error : NULL;
    out->scrape_supported = !a->scrape_unsupported;
    return 0;
}
