/*
 * torrent.h — one torrent in a session: storage, picker, peers, choking,
 * hash checks, bans, resume state and trackers. Session layer, loop thread
 * only.
 */
#ifndef SHOAL_TORRENT_H
#define SHOAL_TORRENT_H

#include <stdint.h>
#include <sys/socket.h>

#include "base/rate.h"
#include "codec/wire.h"
#include "engine/announcer.h"
#include "session/tracker_client.h"
#include "shoal.h"

struct banlist;
struct magnet_range;
struct meta_fetch;
struct peer;
struct pex;
struct picker;
struct resume_save;
struct shoal_session;
struct smartban;
struct storage;
struct webseeds;

/* Bytes of block data waiting for the disk before we stop asking peers for
 * more (back-pressure: memory stays bounded when the disk is slow). */
#define TORRENT_MAX_PENDING_WRITE (16u * 1024 * 1024)
/* `left` announced before the metadata says the size: not 0, which would
 * make us a seed in the tracker's eyes. */
#define TORRENT_UNKNOWN_LEFT (16u * 1024)

/* What a torrent added from a magnet keeps for the moment its metadata
 * arrives: the options it was added with, strings copied. */
struct torrent_later {
    struct shoal_torrent_opts opts;
    /* The magnet's so= (BEP 53) when opts.only is NULL: file ranges, cut to
     * the torrent's files when they are known. */
    struct magnet_range *so;
    size_t nso;
};

/* Where a torrent's full check of its existing data stands. */
enum torrent_check_state {
    TORRENT_CHECK_NONE,    /* no check due, or it ended or was stopped */
    TORRENT_CHECK_QUEUED,  /* due: starts when no other torrent is checking */
    TORRENT_CHECK_RUNNING, /* pieces are being hashed on the disk pool */
};

struct torrent {
    struct shoal_session *ss;
    struct torrent *next;
    uint8_t infohash[SHOAL_INFOHASH_LEN]; /* known from the start */
    /* NULL while a torrent added from a magnet fetches its metadata
     * (SHOAL_TS_METADATA), or when the metadata could not be used
     * (SHOAL_TS_ERROR); then picker, storage and the per-piece arrays are
     * NULL too, and the peers carry only what they said they have. */
    shoal_metainfo *m;
    struct meta_fetch *mf;       /* the metadata being fetched (BEP 9), or NULL */
    struct torrent_later *later; /* options for when it arrives, or NULL */
    char *name_hint;             /* a magnet's dn (or the infohash in hex) */
    uint8_t *torrent_file;       /* from a magnet: the .torrent made of the
                                    metadata and its trackers, once verified */
    size_t torrent_file_len;
    struct storage *st;
    struct picker *picker;
    struct smartban *sb;
    char *save_dir;
    char *resume_path;
    struct wire_limits lim;
    enum shoal_torrent_state state;
    char error[256];
    int seed_only;
    int finished_sent;

    struct peer *peers;
    int npeers;
    uint8_t *wanted; /* per piece: 1 when selected for download */
    uint64_t total_wanted;
    uint8_t *file_wanted;    /* per file: 1 when selected */
    uint32_t *file_missing;  /* per file: pieces over it not verified yet */
    uint8_t *file_finishing; /* per file: its rename to the final name is
                                under way or done */
    int renames_pending;     /* renames to final names on the disk threads */
    int finished_held;       /* complete, but SHOAL_EV_FINISHED waits for the
                                renames: a program run "on done" must find
                                the files under their final names */

    struct rate down, up;
    uint64_t downloaded, uploaded;               /* payload bytes, this run */
    uint64_t downloaded_before, uploaded_before; /* earlier runs, from resume */
    uint32_t hash_failures;
    uint32_t nbanned;         /* hosts this torrent's hash checks banned */
    struct banlist *suspects; /* hosts (peers on 127.0.0.1, ::1) on parole
                                 (picker.h), kept across reconnects */
    uint8_t *io_failed;       /* per piece: a write of it failed */
    int dying;
    uint64_t state_since_ms;

    /* Addresses to keep connected (from --peer, later trackers and DHT). */
    struct known_peer {
        struct sockaddr_storage sa;
        uint64_t next_try_ms;
        int fails;
    } * known;
    size_t nknown, capknown;

    /* Trackers: the announcer (in it) decides, tracker_client.c sends. */
    struct tracker_torrent tracker;
    struct webseeds *ws; /* BEP 19 web seeds (webseed.h) */
    struct pex *pex;     /* BEP 11 peer exchange (pex.h); NULL: off or private */

    /* The full check: one torrent of the session at a time, a few pieces in
     * flight on the disk pool at background priority (torrent.c). */
    struct torrent_check {
        enum torrent_check_state state;
        uint32_t next;     /* the next piece to submit */
        uint32_t done;     /* pieces hashed so far */
        uint32_t inflight; /* submitted, callback not run yet */
        uint32_t window;   /* at most this many in flight */
        int err;           /* the first error other than missing data */
    } check;
    int stopped; /* torrent_stop() ran */

    int pending_hashes;
    int pending_writes;
    uint64_t last_choke_ms;
    uint64_t last_optimistic_ms;
    uint64_t last_resume_ms;
    uint64_t last_file_check_ms;
    int resume_dirty;
    uint64_t hash_seq; /* numbers the hash jobs of downloaded pieces */
    /* A resume save: the file times are taken, then the have bits once the
     * hashes in flight then have landed; the pool flushes the data files,
     * then writes the state file. One save at a time, so they land in
     * order. */
    int resume_busy;                    /* a save is under way */
    int resume_again;                   /* one asked for meanwhile, to start after it */
    struct resume_save *resume_pending; /* the save that waits for hashes */
    uint32_t resume_hashes_left;        /* how many it waits for */
    uint64_t rng;
};

/*
 * Creates a torrent. Takes ownership of m on success. When the resume state
 * matches the files (and no recheck is asked), or no file holds any data
 * yet, the torrent is ready at once: downloading, seeding or files missing
 * (a stat per file, nothing read). Otherwise it stays in
 * SHOAL_TS_CHECKING with a check queued; nothing is hashed here. Either way,
 * call torrent_start() once the torrent is in the session's list.
 */
int torrent_new(struct shoal_session *ss, shoal_metainfo *m,
                const struct shoal_torrent_opts *opts, struct torrent **out,
                struct shoal_perr *err);
/*
 * Creates a torrent from a magnet link (BEP 9), in SHOAL_TS_METADATA: no
 * files, picker or storage until the metadata arrives from peers. Its
 * trackers are the magnet's tr= (a tier each) and opts->trackers; its
 * files will be opts->only, else the magnet's so= (BEP 53) cut to the
 * torrent's files, else all. Keeps copies of what it needs of opts and mg.
 * Call torrent_start() once it is in the session's list.
 */
int torrent_new_magnet(struct shoal_session *ss, const shoal_magnet *mg,
                       const struct shoal_torrent_opts *opts, struct torrent **out);
/*
 * The verified metadata m (parsed from it) arrived for a torrent in
 * SHOAL_TS_METADATA: attaches it exactly as torrent_new() would, then the
 * connected peers get the piece geometry, what they said they have is
 * checked and applied, and the torrent checks, downloads or seeds. Takes m
 * in every case. On failure (a bad file selection, a storage error) the
 * torrent is left in SHOAL_TS_ERROR with the reason, and its peers closed.
 */
int torrent_metadata_arrived(struct torrent *t, shoal_metainfo *m,
                             struct shoal_perr *err);
void torrent_later_free(struct torrent_later *l);
/* The torrent's name: from its metadata, else the magnet's. */
const char *torrent_name(const struct torrent *t);
/*
 * Starts a torrent just linked into the session: its queued check, when no
 * other torrent of the session is checking (else it starts when theirs
 * ends), or, for a torrent that is ready, its first announce. While a torrent
 * checks, peers may connect: they are told only of pieces verified so far
 * (the picker holds nothing else), and nothing is requested or announced
 * until the check ends and torrent_set_state() leaves SHOAL_TS_CHECKING.
 */
void torrent_start(struct torrent *t);
/*
 * Winds a torrent down ahead of the session's final drain of the disk pool:
 * a running or queued check stops (jobs in flight finish and are ignored;
 * no state is saved for a check that did not end), and a torrent that is
 * ready starts its last resume save (flushed on the pool, written by the
 * drain). Call it after its peers are closed; then drain the pool, then
 * torrent_free(). Calling it twice does nothing more.
 */
void torrent_stop(struct torrent *t);
/* The one way a torrent's state changes: records the message (printf-style,
 * or NULL for none) as the torrent's error text and, when the state is new,
 * notes the time and emits SHOAL_EV_STATE_CHANGED. */
void torrent_set_state(struct torrent *t, enum shoal_torrent_state st, const char *fmt,
                       ...) __attribute__((format(printf, 3, 4)));
/* Remembers an address to keep connected; dialed from torrent_tick(). */
int torrent_add_known(struct torrent *t, const struct sockaddr *sa, socklen_t len);
/* Dials the known addresses that are due now, without waiting for a tick. */
void torrent_dial_now(struct torrent *t, uint64_t now);

/* Called from peer_wire.c: */
void torrent_on_block(struct torrent *t, struct peer *p, uint32_t piece, uint32_t begin,
                      const uint8_t *data, size_t len);
int torrent_is_banned(const struct torrent *t, const struct sockaddr *sa);
/* Bans sa's host for the session (a shared address: its peer), closing its
 * connections on every torrent, with why in the events. */
void torrent_ban_address(struct torrent *t, const struct sockaddr_storage *sa,
                         const char *why);
/* Tells the picker how far a newly active peer is trusted: on parole when
 * its host is (it reconnected), else new. 0 or SHOAL_ENOMEM. */
int torrent_peer_trust_init(struct torrent *t, struct peer *p);
/* Adds p to the torrent's peer list and count (the only place t->npeers
 * grows); torrent_peer_detached() is the only place it shrinks. */
void torrent_peer_attached(struct torrent *t, struct peer *p);
/* A peer said it is interested: unchoke at once when a slot is free. */
void torrent_peer_interested(struct torrent *t, struct peer *p);
void torrent_peer_detached(struct torrent *t, struct peer *p);
/* Once a second from the session. */
void torrent_tick(struct torrent *t, uint64_t now_ms);
/* Frees the torrent. The session drains the disk pool first (see
 * torrent_stop()), so no job refers to it any more. */
void torrent_free(struct torrent *t);
/* 1 when the check is over and every wanted piece is verified. */
int torrent_is_done(const struct torrent *t);
/* Share of the pieces the check has hashed, 0..1; 1 when no check runs. */
double torrent_check_progress(const struct torrent *t);

#endif
