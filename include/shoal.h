/*
 * shoal.h — the public API of libshoal, a BitTorrent node.
 *
 * Everything a program needs to read and write torrent files and magnet links
 * lives here; the command-line tool in cli/ uses nothing else. Types are
 * opaque and come in _new/_free (or _parse/_free) pairs: whoever creates an
 * object frees it, and freeing NULL does nothing.
 *
 * Errors: functions return 0 (or a count >= 0) on success and a negative code
 * on failure. Codes from the operating system are -errno; shoal's own codes are
 * the SHOAL_E* values below. shoal_strerror() names either kind. Parsers also
 * fill a struct shoal_perr with the byte offset and a static reason string.
 */
#ifndef SHOAL_H
#define SHOAL_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define SHOAL_EXPORT __attribute__((visibility("default")))
#else
#define SHOAL_EXPORT
#endif

/* ------------------------------------------------------------------ errors */

/* name, message. Values are far from any errno so both can share an int. */
#define SHOAL_ERRNO_MAP(XX)                                                              \
    XX(NOMEM, "out of memory")                                                           \
    XX(INVAL, "invalid argument")                                                        \
    XX(PARSE, "malformed input")                                                         \
    XX(TOOBIG, "input exceeds a size limit")                                             \
    XX(UNSUPPORTED, "not supported")                                                     \
    XX(NODATA, "nothing to share")                                                       \
    XX(CANCELED, "canceled")                                                             \
    XX(LOCALONLY, "refused: local-only mode allows loopback addresses only")             \
    XX(BANNED, "peer is banned")

enum shoal_errno {
    SHOAL_EBASE = -30000,
#define SHOAL_XX(name, msg) SHOAL_E##name,
    SHOAL_ERRNO_MAP(SHOAL_XX)
#undef SHOAL_XX
        SHOAL_ELAST
};

/* Text for an error code: a SHOAL_E* value or a negative errno. Never NULL. */
SHOAL_EXPORT const char *shoal_strerror(int err);

/* Symbolic name of an error code ("SHOAL_EPARSE", "ENOENT"). Never NULL. */
SHOAL_EXPORT const char *shoal_err_name(int err);

/*
 * Where and why parsing failed. `why` points to a static string, so filling
 * this never allocates; `off` is the byte offset in the input. Some parsers
 * also write a fuller message with the numbers involved into `msg` (an inline
 * array, still no allocation). Zero the struct before use; read it with
 * shoal_perr_text().
 */
struct shoal_perr {
    size_t off;
    const char *why;
    char msg[160];
};

/* The most specific message: msg when set, else why, else "unknown". */
SHOAL_EXPORT const char *shoal_perr_text(const struct shoal_perr *e);

/* ------------------------------------------------------------------ limits */

#define SHOAL_INFOHASH_LEN 20
/* A .torrent larger than this is refused before it is read whole. */
#define SHOAL_MAX_TORRENT_FILE (10u * 1024 * 1024)
/* More pieces than this would make piece bookkeeping needlessly large. */
#define SHOAL_MAX_PIECES (1u << 21)
/* Deepest folder nesting a torrent may ask for. */
#define SHOAL_MAX_PATH_DEPTH 100

/* ------------------------------------------------------------------ torrents */

typedef struct shoal_metainfo shoal_metainfo;

/* File attributes (BEP 47). */
#define SHOAL_FILE_PAD     0x1
#define SHOAL_FILE_EXEC    0x2
#define SHOAL_FILE_HIDDEN  0x4
#define SHOAL_FILE_SYMLINK 0x8

/* One file of a torrent. All pointers are owned by the metainfo. */
struct shoal_file {
    /* Relative, '/'-separated, already made safe: it never starts with '/',
     * never has an empty, "." or ".." component, and stays inside the
     * download folder. For a single-file torrent it is the torrent's name. */
    const char *path;
    uint64_t size;
    uint64_t offset; /* byte offset of the file's first byte in the torrent */
    unsigned attr;   /* SHOAL_FILE_* */
    /* Target of a symlink entry, relative to the torrent root, or NULL. */
    const char *symlink;
};

/*
 * Parses a .torrent held in memory. On success *out is a new metainfo the
 * caller frees with shoal_metainfo_free(). On failure returns a negative code,
 * *out is NULL, and *err (if not NULL) says where and why.
 */
SHOAL_EXPORT int shoal_metainfo_parse(const void *buf, size_t len, shoal_metainfo **out,
                                      struct shoal_perr *err);

/*
 * Reads and parses a .torrent file. Files over SHOAL_MAX_TORRENT_FILE are
 * refused (SHOAL_ETOOBIG) before they are read. I/O failures return -errno
 * with err->why naming the step.
 */
SHOAL_EXPORT int shoal_metainfo_load(const char *path, shoal_metainfo **out,
                                     struct shoal_perr *err);

SHOAL_EXPORT void shoal_metainfo_free(shoal_metainfo *m);

/* The v1 infohash: SHA-1 over the raw bytes of the info dictionary. */
SHOAL_EXPORT const uint8_t *shoal_metainfo_infohash(const shoal_metainfo *m);
/* The torrent's (sanitized) name, UTF-8. */
SHOAL_EXPORT const char *shoal_metainfo_name(const shoal_metainfo *m);
SHOAL_EXPORT uint64_t shoal_metainfo_total_size(const shoal_metainfo *m);
SHOAL_EXPORT uint32_t shoal_metainfo_piece_length(const shoal_metainfo *m);
SHOAL_EXPORT uint32_t shoal_metainfo_piece_count(const shoal_metainfo *m);
/* SHA-1 of piece i (20 bytes), i < piece_count. */
SHOAL_EXPORT const uint8_t *shoal_metainfo_piece_hash(const shoal_metainfo *m,
                                                      uint32_t i);
/* 1 when the torrent is a multi-file torrent (has an info.files list). */
SHOAL_EXPORT int shoal_metainfo_is_multifile(const shoal_metainfo *m);
SHOAL_EXPORT int shoal_metainfo_is_private(const shoal_metainfo *m);

SHOAL_EXPORT size_t shoal_metainfo_file_count(const shoal_metainfo *m);
SHOAL_EXPORT const struct shoal_file *shoal_metainfo_file(const shoal_metainfo *m,
                                                          size_t i);

/* Trackers in announce-list order (BEP 12); `tier` receives the tier number.
 * A torrent with only `announce` has one tracker in tier 0. */
SHOAL_EXPORT size_t shoal_metainfo_tracker_count(const shoal_metainfo *m);
SHOAL_EXPORT const char *shoal_metainfo_tracker(const shoal_metainfo *m, size_t i,
                                                int *tier);

/* Web seeds (BEP 19 url-list). */
SHOAL_EXPORT size_t shoal_metainfo_webseed_count(const shoal_metainfo *m);
SHOAL_EXPORT const char *shoal_metainfo_webseed(const shoal_metainfo *m, size_t i);

/* DHT bootstrap nodes (BEP 5 `nodes`): host and port. */
SHOAL_EXPORT size_t shoal_metainfo_node_count(const shoal_metainfo *m);
SHOAL_EXPORT const char *shoal_metainfo_node(const shoal_metainfo *m, size_t i,
                                             int *port);

/* Optional text fields; NULL when the torrent has none. */
SHOAL_EXPORT const char *shoal_metainfo_comment(const shoal_metainfo *m);
SHOAL_EXPORT const char *shoal_metainfo_creator(const shoal_metainfo *m);
SHOAL_EXPORT const char *shoal_metainfo_source(const shoal_metainfo *m);
/* Creation date in seconds since the epoch, or -1 when absent. */
SHOAL_EXPORT int64_t shoal_metainfo_creation_date(const shoal_metainfo *m);

/* Things parsing changed to keep the torrent safe ("renamed ..."), one per
 * entry, for the user to see. Owned by the metainfo. */
SHOAL_EXPORT size_t shoal_metainfo_warning_count(const shoal_metainfo *m);
SHOAL_EXPORT const char *shoal_metainfo_warning(const shoal_metainfo *m, size_t i);

/*
 * Checks a file selection ("0,2,5-7": indices and inclusive ranges, numbered
 * as shoal_metainfo_file() numbers files) against m, with the rules
 * shoal_torrent_opts.only is read by. Returns 0, or SHOAL_EINVAL with
 * err->off at the offending item and shoal_perr_text(err) saying what is
 * allowed ("the torrent has 3 files, numbered 0-2").
 */
SHOAL_EXPORT int shoal_metainfo_check_selection(const shoal_metainfo *m, const char *only,
                                                struct shoal_perr *err);

/* A magnet link for the torrent (infohash, name, trackers, web seeds).
 * Returns a new string the caller frees with shoal_free(), or NULL when out
 * of memory. */
SHOAL_EXPORT char *shoal_metainfo_magnet(const shoal_metainfo *m);

/* ------------------------------------------------------------------ magnets */

typedef struct shoal_magnet shoal_magnet;

/*
 * Parses a magnet URI (BEP 9, plus BEP 53 `so`). `xt=urn:btih:` is required,
 * as 40 hex digits or 32 base32 characters. On failure returns SHOAL_EPARSE
 * with err->off at the offending byte of `uri` and err->why saying why.
 */
SHOAL_EXPORT int shoal_magnet_parse(const char *uri, shoal_magnet **out,
                                    struct shoal_perr *err);
SHOAL_EXPORT void shoal_magnet_free(shoal_magnet *mg);

SHOAL_EXPORT const uint8_t *shoal_magnet_infohash(const shoal_magnet *mg);
/* Display name (`dn`), percent-decoded, or NULL. */
SHOAL_EXPORT const char *shoal_magnet_name(const shoal_magnet *mg);
SHOAL_EXPORT size_t shoal_magnet_tracker_count(const shoal_magnet *mg);
SHOAL_EXPORT const char *shoal_magnet_tracker(const shoal_magnet *mg, size_t i);
SHOAL_EXPORT size_t shoal_magnet_webseed_count(const shoal_magnet *mg);
SHOAL_EXPORT const char *shoal_magnet_webseed(const shoal_magnet *mg, size_t i);
/* Peer addresses from `x.pe`, as given ("host:port", "[v6]:port"). */
SHOAL_EXPORT size_t shoal_magnet_peer_count(const shoal_magnet *mg);
SHOAL_EXPORT const char *shoal_magnet_peer(const shoal_magnet *mg, size_t i);
/* File selection (BEP 53 `so`): inclusive index ranges, merged and sorted. */
SHOAL_EXPORT size_t shoal_magnet_select_count(const shoal_magnet *mg);
SHOAL_EXPORT void shoal_magnet_select(const shoal_magnet *mg, size_t i, uint32_t *first,
                                      uint32_t *last);

/* Formats the magnet back into a URI. Returns a new string (free with
 * shoal_free()) or NULL when out of memory. */
SHOAL_EXPORT char *shoal_magnet_format(const shoal_magnet *mg);

/* ------------------------------------------------------------------ creating */

/* Called from the creating thread as pieces are hashed; return non-zero to
 * cancel (shoal_create_torrent then returns SHOAL_ECANCELED). */
typedef int (*shoal_progress_cb)(uint64_t done_bytes, uint64_t total_bytes, void *user);

struct shoal_create_opts {
    const char *path;            /* file or folder to share */
    const char *const *trackers; /* NULL-terminated; a "," inside one entry
                                  * separates URLs of the same tier */
    const char *const *webseeds; /* NULL-terminated */
    const char *comment;
    const char *source;
    const char *creator;   /* "created by"; NULL for none */
    int64_t creation_date; /* seconds since epoch; -1 for none */
    int private_flag;
    uint32_t piece_length; /* 0 = pick one (about 1000-2000 pieces) */
    unsigned threads;      /* 0 = one per core */
    int follow_symlinks;   /* 0: symlinks are skipped */
    shoal_progress_cb progress;
    void *user;
};

/* The name shoal_create_torrent gives a torrent of `path`: its last
 * component, or that of its real path when it ends in "." or "..". Writes
 * it NUL-terminated into out[0..size). Returns 0, -errno when the real path
 * cannot be found, or SHOAL_EINVAL when the name is empty or does not fit. */
SHOAL_EXPORT int shoal_create_name(const char *path, char *out, size_t size);

/* The piece length shoal_create_torrent picks for a total size. */
SHOAL_EXPORT uint32_t shoal_create_auto_piece_length(uint64_t total_size);

/*
 * Builds a .torrent for opts->path, hashing on opts->threads threads. On
 * success *out / *outlen hold the bencoded torrent; free *out with
 * shoal_free(). On failure returns a negative code and, when err is given,
 * err->why says what went wrong and, when a file could not be read or
 * changed while it was hashed, err->msg names it (shoal_perr_text() gives
 * the more specific of the two; err->off is unused). A file that changed
 * size gives -EAGAIN: trying again may succeed. Inside a folder, files
 * ending in ".part" (unfinished downloads) or ".parts" and folders named
 * ".shoal" (state of older versions) are left out.
 */
SHOAL_EXPORT int shoal_create_torrent(const struct shoal_create_opts *opts, uint8_t **out,
                                      size_t *outlen, struct shoal_perr *err);

/* ------------------------------------------------------------------ sessions */

/*
 * A session is one BitTorrent node: an event loop, listening sockets, a disk
 * worker pool and any number of torrents. Sessions share nothing, so several
 * can run in one process (each on its own thread, or one after another).
 * All shoal_session_* and shoal_torrent_* calls must come from the thread
 * that runs the session, except shoal_session_stop() and
 * shoal_session_post(); another thread hands work to the session with
 * shoal_session_post().
 */
typedef struct shoal_session shoal_session;
typedef struct shoal_torrent shoal_torrent;

/* A call made on the session's thread (shoal_session_post). */
typedef void (*shoal_session_fn)(shoal_session *ss, void *arg);

/* Transports of peer connections (bits of shoal_settings.transports). */
enum shoal_transport {
    SHOAL_TRANSPORT_TCP = 1,
    SHOAL_TRANSPORT_UTP = 2, /* BEP 29 */
};

/* Message stream encryption modes, as Transmission names them. */
enum shoal_encryption {
    SHOAL_ENCRYPTION_TOLERATED = 1, /* plaintext out; in: whatever the peer sends */
    SHOAL_ENCRYPTION_PREFERRED,     /* encrypted out, plaintext when the peer
                                     * will not; in: either */
    SHOAL_ENCRYPTION_REQUIRED,      /* encrypted only, both ways */
};

struct shoal_settings {
    int port;       /* TCP listen port; 0 = any free port */
    int listen;     /* 0: make outgoing connections only */
    int local_only; /* talk to 127.0.0.0/8 and ::1 only; also forced on
                     * by SHOAL_LOCAL_ONLY=1 in the environment */
    int max_peers;  /* connections across all torrents */
    int max_peers_per_torrent;
    uint64_t max_up;       /* bytes/s, 0 = unlimited */
    uint64_t max_down;     /* bytes/s, 0 = unlimited */
    unsigned disk_threads; /* 0 = one per core */
    int upload_slots;      /* regular unchoke slots per torrent */
    int verbose;           /* 1: log every event to stderr, unless an event
                            * callback is set (it shows them instead) */

    /* Trackerless discovery. shoal_settings_init() turns dht, pex and lsd
     * on; a private torrent (BEP 27) never uses any of them. */
    int dht;      /* run a DHT node (BEP 5, 32, 42, 43, 51) */
    int dht_port; /* UDP port of the DHT, UDP trackers and uTP; 0 = the TCP
                   * port's number (another when that one is taken) */
    /* Nodes to bootstrap from, "host:port" or "[v6]:port", NULL-terminated;
     * NULL = the well-known public routers (none in local-only mode). */
    const char *const *dht_bootstrap;
    /* File the routing table is loaded from at start and saved to at exit,
     * so that a restart needs no bootstrap node; NULL = none. */
    const char *dht_state_path;
    int dht_read_only; /* BEP 43: query others, answer no queries */
    int pex;           /* peer exchange (BEP 11, ut_pex) */
    int lsd;           /* local service discovery (BEP 14); never in
                        * local-only mode, since multicast leaves loopback */
    /* LSD groups and port; NULL/0 = 239.192.152.143, ff15::efc0:988f, 6771
     * (settings so that tests can run it in network namespaces). */
    const char *lsd_group4;
    const char *lsd_group6;
    int lsd_port;

    /* Reach and privacy. shoal_settings_init() sets transports to both,
     * encryption to preferred and port_mapping on. */
    int transports; /* SHOAL_TRANSPORT_* bits: what outgoing connections try
                     * (uTP first, then TCP, when both) and what is accepted */
    enum shoal_encryption encryption; /* message stream encryption (MSE/PE) */
    /* "socks5://[user:pass@]host:port": peer connections and trackers go
     * through it; NULL = none. */
    const char *proxy;
    int proxy_only; /* with proxy: nothing leaves except through it (no direct
                     * connection, DHT, LSD, uTP or port mapping) */
    int anonymous;  /* no client name, version or yourip; a peer id with no client
                     * prefix; no LSD, no port mapping; the proxy for everything */
    /* IP blocklist file (PeerGuardian text or eMule DAT, maybe gzip'd); NULL =
     * none. Blocked addresses are never dialled, accepted, or taken from the
     * DHT or PEX. */
    const char *blocklist;
    int port_mapping; /* UPnP IGD and NAT-PMP (never in local-only mode) */
    /* Address or interface name every socket is bound to (peers, DHT,
     * trackers, uTP); NULL = any. */
    const char *bind;
};

/* Fills *s with the defaults. */
SHOAL_EXPORT void shoal_settings_init(struct shoal_settings *s);

/* Creates a session and binds its listening sockets (IPv4 and IPv6). */
SHOAL_EXPORT int shoal_session_new(const struct shoal_settings *s, shoal_session **out);
/* Stops every torrent (saving resume state) and frees the session. */
SHOAL_EXPORT void shoal_session_free(shoal_session *ss);
/* The TCP port the session listens on (useful with port 0). */
SHOAL_EXPORT int shoal_session_port(const shoal_session *ss);
/* Runs the event loop until shoal_session_stop() or, with exit_when_done,
 * until every torrent has finished downloading. Returns 0 or an error. */
SHOAL_EXPORT int shoal_session_run(shoal_session *ss, int exit_when_done);
/* Asks the loop to return. Safe from a signal handler or another thread. */
SHOAL_EXPORT void shoal_session_stop(shoal_session *ss);

/*
 * Runs fn(ss, arg) on the session's thread: the way other threads use a
 * session. Callable from any thread, the session's own included (not from
 * a signal handler); it queues the call, wakes the loop and returns without
 * waiting. The calls run inside shoal_session_run(), one after another, in
 * the order they were posted (calls from one thread keep that thread's
 * order), each on a later loop iteration than its post, never inside
 * shoal_session_post() itself. fn may use the whole API, post again (that
 * call runs on a later iteration) and stop the loop; it must not free the
 * session. Posting never allocates.
 *
 * Returns 0, and then fn runs exactly once; or an error, and then fn never
 * runs: SHOAL_EINVAL (fn is NULL), -EAGAIN (1024 calls are already
 * waiting: the loop is busy or not running; try again later), or
 * SHOAL_ECANCELED (shoal_session_free() has begun).
 *
 * Freeing: stop or join every thread that posts before calling
 * shoal_session_free(): once it returns the session's memory is gone, and a
 * post then is a use after free. shoal_session_free() runs every call still
 * queued, on the freeing thread and with the session whole, so none is lost;
 * SHOAL_ECANCELED only tells a straggler that free has already begun.
 */
SHOAL_EXPORT int shoal_session_post(shoal_session *ss, shoal_session_fn fn, void *arg);

enum shoal_event_type {
    SHOAL_EV_LOG = 1,           /* message: a line for the log */
    SHOAL_EV_PEER_CONNECTED,    /* peer: "ip:port" */
    SHOAL_EV_PEER_DISCONNECTED, /* peer, message: why */
    SHOAL_EV_PEER_BANNED,       /* peer, message: why */
    SHOAL_EV_PIECE_VERIFIED,    /* piece */
    SHOAL_EV_PIECE_FAILED,      /* piece: hash mismatch, data discarded */
    SHOAL_EV_FINISHED,          /* every wanted piece is verified */
    SHOAL_EV_STATE_CHANGED,     /* see shoal_torrent_status().state */
    SHOAL_EV_ERROR,             /* message: what failed */
    SHOAL_EV_TICK,              /* once a second per torrent: time to show progress */
    SHOAL_EV_WARNING,           /* message: something the user should see, such as a
                                 * refusal of local-only mode */
    SHOAL_EV_METADATA,          /* message: the torrent's name. A torrent added from
                                 * a magnet has its metadata, verified against the
                                 * infohash: shoal_torrent_metainfo() and
                                 * shoal_torrent_file_data() now answer */
};

struct shoal_event {
    enum shoal_event_type type;
    shoal_torrent *torrent; /* NULL for session events */
    const char *peer;
    const char *message;
    uint32_t piece;
};

/* Borrowed pointers in ev are valid only during the callback. */
typedef void (*shoal_event_cb)(shoal_session *ss, const struct shoal_event *ev,
                               void *user);
SHOAL_EXPORT void shoal_session_set_event_cb(shoal_session *ss, shoal_event_cb cb,
                                             void *user);

struct shoal_torrent_opts {
    const char *save_dir; /* where the files live; required */
    /* Resume state file (a program keeps it in its own state folder, never
     * among the user's files); NULL = no resume state: nothing is read or
     * written, and every start hashes whatever data is there. The library
     * never writes anything of its own under save_dir. */
    const char *resume_path;
    /* Suffix for files not yet complete (".part"): each is created as
     * "<name><suffix>" and renamed to its name once all its pieces are
     * verified. NULL or "" = files carry their final names throughout.
     * At start each file is looked for under its final name first, then
     * under the suffixed one, and used where found. Empty files get their
     * final names at once; seed_only torrents use final names only. The
     * rename never replaces an existing file: if one has the final name
     * already and holds the same bytes, it is used and the suffixed copy
     * removed; otherwise both stay and SHOAL_EV_WARNING says so. */
    const char *incomplete_ext;
    /* A file of the program's own (beside the resume state) for the bytes of
     * unselected files that share a piece with a selected one, so that an
     * unselected file is never created. NULL = those bytes go into the
     * unselected files themselves, which then hold only those bytes (never
     * extended to their full size). Bytes sit at their torrent offset (a
     * sparse file), so a later selection cannot mix them up; a file
     * selected later takes its bytes over, an unselected file already on
     * disk keeps its own, and the file is removed once no file needs it. */
    const char *parts_path;
    int recheck;      /* hash everything, ignoring resume state */
    int sequential;   /* download pieces in order */
    int seed_only;    /* never create or extend files: seeding existing data */
    const char *only; /* file selection: "0,2,5-7" indices; NULL = all */
    /* Extra tracker URLs (NULL-terminated, may be NULL), each its own tier
     * after the torrent's own trackers. */
    const char *const *trackers;
};

/*
 * Adds a torrent. On success the session takes ownership of m (do not free
 * it) and *out is owned by the session; on failure m stays the caller's.
 * Returns at once, without reading the data: when the resume state matches
 * the files, or there is no data yet, the torrent starts downloading or
 * seeding straight away; otherwise (or with opts->recheck when there is
 * data) it is in SHOAL_TS_CHECKING while its pieces are hashed in the
 * background, one torrent of the session at a time, and
 * SHOAL_EV_STATE_CHANGED says when the check has ended. A check that cannot
 * read the data ends in SHOAL_TS_ERROR.
 */
SHOAL_EXPORT int shoal_session_add(shoal_session *ss, shoal_metainfo *m,
                                   const struct shoal_torrent_opts *opts,
                                   shoal_torrent **out, struct shoal_perr *err);

/*
 * Adds a torrent from a magnet link (BEP 9): it starts in SHOAL_TS_METADATA
 * and fetches its info dictionary from peers (ut_metadata), from the
 * magnet's `x.pe` peers (dialed at once), its `tr=` trackers (a tier each,
 * then opts->trackers) and peers added with shoal_torrent_add_peer(). `ws=`
 * web seeds are not used. The metadata is verified against the infohash
 * and parsed like a .torrent (same checks, same name sanitising); then the
 * torrent is set up exactly as shoal_session_add() would with opts, emits
 * SHOAL_EV_METADATA, and checks, downloads or seeds. The file selection is
 * opts->only, else the magnet's `so=` (BEP 53); a selection the torrent
 * cannot take puts it in SHOAL_TS_ERROR with the reason. mg stays the
 * caller's (nothing of it is kept). *out is owned by the session. Returns
 * 0, or SHOAL_EINVAL (no save_dir, or the torrent is already in the
 * session) or SHOAL_ENOMEM with err->why.
 */
SHOAL_EXPORT int shoal_session_add_magnet(shoal_session *ss, const shoal_magnet *mg,
                                          const struct shoal_torrent_opts *opts,
                                          shoal_torrent **out, struct shoal_perr *err);

/* The torrent's metadata, owned by the session; NULL while a torrent added
 * from a magnet has none yet (or its metadata could not be used). */
SHOAL_EXPORT const shoal_metainfo *shoal_torrent_metainfo(const shoal_torrent *t);
/* The torrent's infohash (20 bytes), with or without metadata. */
SHOAL_EXPORT const uint8_t *shoal_torrent_infohash(const shoal_torrent *t);
/* Its name: the metadata's, else the magnet's `dn`, else the infohash in hex. */
SHOAL_EXPORT const char *shoal_torrent_name(const shoal_torrent *t);
/*
 * For a torrent added from a magnet, once its metadata arrived: a .torrent
 * of it (the verified info dictionary as it was hashed, with the magnet's
 * trackers as announce-list), *len bytes owned by the session, for a
 * program to save so that a restart needs no metadata exchange. NULL (and
 * *len 0) before that, and for torrents added with their metadata.
 */
SHOAL_EXPORT const uint8_t *shoal_torrent_file_data(const shoal_torrent *t, size_t *len);

/*
 * Dials a peer ("host:port", "[v6]:port"). Honours local-only mode. An
 * address literal (or "localhost") is added at once; a name is looked up
 * without blocking, and the peer is added and dialed when the answer
 * comes (a failed look-up is reported as an SHOAL_EV_WARNING event; if the
 * torrent is removed first, the answer is dropped). Returns 0, or at once
 * SHOAL_EINVAL for malformed input or a name the resolver rejects on
 * sight, SHOAL_ELOCALONLY for a name or address that local-only mode
 * refuses, or SHOAL_ENOMEM.
 */
SHOAL_EXPORT int shoal_torrent_add_peer(shoal_torrent *t, const char *hostport);

enum shoal_torrent_state {
    SHOAL_TS_CHECKING = 1, /* existing data being hashed (or waiting its turn):
                            * peers may connect and are told only of pieces
                            * verified so far; nothing is requested from them
                            * or announced to trackers until the check ends,
                            * and the torrent never counts as done before */
    SHOAL_TS_DOWNLOADING,
    SHOAL_TS_SEEDING,
    SHOAL_TS_DISK_FULL,     /* paused on ENOSPC; resumes when space frees */
    SHOAL_TS_READ_ONLY,     /* cannot write the download folder */
    SHOAL_TS_FILES_MISSING, /* seeding data was deleted or truncated */
    SHOAL_TS_ERROR,
    SHOAL_TS_STOPPED,  /* shoal_torrent_stop(): no peers, nothing sent or saved */
    SHOAL_TS_METADATA, /* added from a magnet: the info dictionary is being
                        * fetched from peers (BEP 9); no files exist yet */
};

struct shoal_torrent_status {
    enum shoal_torrent_state state;
    const char *state_name; /* "downloading", "disk full", ... */
    const char *error;      /* why, for the error states; else NULL */
    uint64_t total_wanted;  /* bytes selected for download */
    uint64_t have_wanted;   /* of those, verified */
    uint32_t pieces_have;
    uint32_t piece_count;
    uint64_t downloaded; /* payload bytes received */
    uint64_t uploaded;   /* payload bytes sent */
    uint64_t down_rate;  /* bytes/s, recent average */
    uint64_t up_rate;
    int peers;
    int seeds;
    int web_seeds; /* web seeds (BEP 19) with a request in flight */
    uint32_t hash_failures;
    uint32_t banned;
    /* The swarm as its trackers count it, from announce replies and scrapes
     * (BEP 48, BEP 15): for each count the largest any tracker gave in its
     * latest answer; -1 while none has answered. Seeders and leechers
     * include this node once a tracker has heard from it. */
    int64_t tracker_seeders;
    int64_t tracker_leechers;
    int64_t tracker_downloaded; /* completed downloads the trackers saw */
    /* In SHOAL_TS_CHECKING: the share of pieces hashed so far, 0..1 (0 while
     * the check waits for another torrent's to end); 1 in every other state.
     * pieces_have and have_wanted count the pieces verified so far. */
    double check_progress;
    /* In SHOAL_TS_METADATA: connected peers that offer the metadata (BEP 9),
     * its size in bytes once one is being fetched (else 0) and the 16 KiB
     * pieces of it received so far. 0 in every other state. */
    int metadata_peers;
    uint32_t metadata_size;
    uint32_t metadata_have;
};

SHOAL_EXPORT void shoal_torrent_status(const shoal_torrent *t,
                                       struct shoal_torrent_status *st);

/*
 * Stops t for good while the session goes on (a seeding goal reached, say):
 * its peers are closed and no others are taken, its trackers hear
 * `stopped`, its resume state is saved, and it stays in SHOAL_TS_STOPPED
 * (its status still readable) until the session is freed. Emits
 * SHOAL_EV_STATE_CHANGED. Stopping a stopped torrent does nothing.
 */
SHOAL_EXPORT void shoal_torrent_stop(shoal_torrent *t);

/* One tracker of a torrent, as shoal_torrent_tracker() reports it. The
 * strings belong to the torrent and stay valid until the session runs again
 * (the next event callback or loop iteration). */
struct shoal_tracker_info {
    const char *url;
    int tier;
    int working;                           /* answered an announce at least once */
    int64_t seeders, leechers, downloaded; /* its latest counts; -1 unknown */
    int64_t counts_age_s;                  /* how old they are; -1 never given */
    const char *announce_error;            /* why the last announce failed, or NULL */
    const char *scrape_error;              /* why the last scrape failed, or NULL */
    int scrape_supported;                  /* 0: the URL allows no scrape (BEP 48) */
};

/* Trackers of the torrent, in the order they are tried (BEP 12). */
SHOAL_EXPORT size_t shoal_torrent_tracker_count(const shoal_torrent *t);
/* Fills *out for tracker i < shoal_torrent_tracker_count(). Returns 0, or
 * SHOAL_EINVAL (and a zeroed *out) for an index out of range. */
SHOAL_EXPORT int shoal_torrent_tracker(const shoal_torrent *t, size_t i,
                                       struct shoal_tracker_info *out);

/* ------------------------------------------------------------------ DHT */

/*
 * The session's DHT node (settings.dht). Every call returns
 * SHOAL_EUNSUPPORTED when the session runs none.
 */
struct shoal_dht_status {
    uint8_t id[20]; /* our node id */
    int port;       /* its UDP port */
    /* Routing tables: [0] IPv4, [1] IPv6. */
    size_t nodes[2], good[2], buckets[2], waiting[2];
    size_t infohashes, peers; /* announced to us, held in the store */
    size_t torrents;          /* the session's torrents it looks up */
    uint64_t queries_in, replies_out, queries_out, replies_in;
    uint64_t dropped;      /* datagrams that got no answer (junk, unasked replies) */
    uint64_t rate_limited; /* queries over one address's rate */
    uint64_t bad_tokens;   /* announce_peer refused: bad or expired token */
    size_t pending;        /* our queries awaiting a reply */
};

SHOAL_EXPORT int shoal_session_dht_status(const shoal_session *ss,
                                          struct shoal_dht_status *out);

/* The routing tables as text: "id HEX", then per family a summary line and
 * per bucket its nodes ("ID ADDR:PORT good|questionable|bad"), then the
 * nodes waiting for a place. A new string (free with shoal_free()), or NULL
 * (no DHT, out of memory). */
SHOAL_EXPORT char *shoal_session_dht_table(const shoal_session *ss);

/* How a lookup went. */
struct shoal_dht_lookup_stats {
    unsigned queries;     /* get_peers queries sent */
    unsigned replies;     /* answers to them */
    unsigned round_trips; /* the longest chain of queries, each sent on a reply */
    unsigned peers;       /* distinct peers found */
    unsigned announced;   /* announce_peer queries sent */
    uint64_t ms;          /* from start to end */
};

/* A lookup's progress: n peers ("ip:port", "[v6]:port", borrowed) found
 * since the last call, and done = 1 on the last call, which comes once
 * with stats (NULL before). */
typedef void (*shoal_dht_lookup_cb)(void *user, const char *const *peers, size_t n,
                                    int done, const struct shoal_dht_lookup_stats *st);

/*
 * Looks infohash ih up in the DHT (get_peers, BEP 5) and, when
 * announce_port is not 0, announces that port to the closest nodes.
 * Returns 0, and then cb runs one or more times on the session's thread,
 * the last with done = 1 (never inside this call); or an error, and then
 * cb never runs: -EAGAIN (too many lookups at once), SHOAL_EUNSUPPORTED.
 */
SHOAL_EXPORT int shoal_session_dht_lookup(shoal_session *ss, const uint8_t ih[20],
                                          int announce_port, shoal_dht_lookup_cb cb,
                                          void *user);

/* Adds a node ("host:port", "[v6]:port"; a name is looked up first): it
 * is pinged and, while the table is nearly empty, bootstrapped from.
 * Returns 0, SHOAL_EINVAL, SHOAL_ELOCALONLY, SHOAL_EUNSUPPORTED. */
SHOAL_EXPORT int shoal_session_dht_add_node(shoal_session *ss, const char *hostport);

/* BEP 51 answer: rc 0 and n infohashes of 20 bytes each (borrowed), num
 * the number the node holds, interval the seconds it asks a crawler to
 * wait; or rc < 0 (no answer in time, SHOAL_ECANCELED when the session
 * closes first). */
typedef void (*shoal_dht_sample_cb)(void *user, int rc, const uint8_t *ih, size_t n,
                                    int64_t num, int64_t interval);

/*
 * Asks the node at hostport (an address literal) for a sample of the
 * infohashes it holds (BEP 51 sample_infohashes), near target. Returns 0,
 * and then cb runs exactly once; or an error (SHOAL_EINVAL,
 * SHOAL_ELOCALONLY, -EAGAIN, SHOAL_EUNSUPPORTED) and cb never runs.
 */
SHOAL_EXPORT int shoal_session_dht_sample(shoal_session *ss, const char *hostport,
                                          const uint8_t target[20],
                                          shoal_dht_sample_cb cb, void *user);

/* Saves the routing table to settings.dht_state_path now (the session
 * also saves it every 10 minutes and when freed). Returns 0 or an error. */
SHOAL_EXPORT int shoal_session_dht_save(shoal_session *ss);

/* ------------------------------------------------------------------ tracker */

/*
 * A BitTorrent tracker and index (`shoal tracker`): HTTP and UDP (BEP 15)
 * announce and scrape, GET /stats as JSON and an HTML page of swarms. Runs
 * its own event loop; like a session, all calls but shoal_tracker_stop()
 * come from the thread that runs it.
 */
typedef struct shoal_tracker shoal_tracker;

struct shoal_tracker_settings {
    const char *http_addr; /* "127.0.0.1:6969", "[::1]:6969"; NULL = no HTTP */
    const char *udp_addr;  /* same form; NULL = no UDP */
    const char *whitelist; /* file of hex infohashes (closed mode); NULL = open */
    uint32_t interval;     /* announce interval, seconds (default 1800) */
    size_t max_swarms;     /* 0 = default (2^20) */
    size_t max_peers;      /* 0 = default (2^24) */
    uint32_t rate_per_ip;  /* requests per second per address (default 100) */
    int local_only;        /* listen on loopback only (also SHOAL_LOCAL_ONLY=1) */
    /* Where the tracker's warnings go (running out of descriptors, say),
     * one line without a newline each, on the tracker's thread; NULL drops
     * them. Repeats are already limited to a line per interval. */
    void (*log)(void *user, const char *line);
    void *log_user;
};

SHOAL_EXPORT void shoal_tracker_settings_init(struct shoal_tracker_settings *s);
/* Binds the sockets. On failure err->why says which step failed. */
SHOAL_EXPORT int shoal_tracker_new(const struct shoal_tracker_settings *s,
                                   shoal_tracker **out, struct shoal_perr *err);
SHOAL_EXPORT int shoal_tracker_http_port(const shoal_tracker *tr);
SHOAL_EXPORT int shoal_tracker_udp_port(const shoal_tracker *tr);
/* Serves until shoal_tracker_stop(). */
SHOAL_EXPORT int shoal_tracker_run(shoal_tracker *tr);
/* Safe from a signal handler or another thread. */
SHOAL_EXPORT void shoal_tracker_stop(shoal_tracker *tr);
SHOAL_EXPORT void shoal_tracker_free(shoal_tracker *tr);

/* ------------------------------------------------------------------ utilities */

/* shoal_parse_hostport flag: accept port 0 ("any free port"), as a listening
 * address may have. */
#define SHOAL_HOSTPORT_ANY_PORT 0x1u

/*
 * Splits "host:port" or "[v6]:port" into the host (brackets removed, NUL
 * terminated, in host[0..hostlen)) and the port, the way
 * shoal_torrent_add_peer() and the tracker's listening addresses read them.
 * The host is not looked up. A host containing ':' must be bracketed. The
 * port is 1..65535 in plain decimal (0 too with SHOAL_HOSTPORT_ANY_PORT).
 * Returns 0, or SHOAL_EINVAL for a malformed string or a host longer than
 * hostlen - 1 (256 bytes always suffice for a valid one).
 */
SHOAL_EXPORT int shoal_parse_hostport(const char *s, unsigned flags, char *host,
                                      size_t hostlen, uint16_t *port);

/*
 * Fetches an http:// or https:// URL into memory, blocking (for a program
 * before its session starts: a .torrent named by URL). At most 5 redirects
 * are followed, each to http or https only; connecting and the whole
 * transfer have time limits. With local_only (or SHOAL_LOCAL_ONLY=1 in the
 * environment) every host, redirects included, must be a loopback address
 * or "localhost" before it is looked up. A body over max_len bytes is
 * refused. On success *out (free with shoal_free()) and *outlen hold the
 * body of the 200 answer. Returns 0; SHOAL_EINVAL (not an http(s) URL),
 * SHOAL_ELOCALONLY, SHOAL_ETOOBIG, -ENOENT (HTTP 404 or 410), -EIO (any
 * other failure) or SHOAL_ENOMEM; err->msg then says what happened ("HTTP
 * 500", curl's reason).
 */
SHOAL_EXPORT int shoal_fetch_url(const char *url, int local_only, size_t max_len,
                                 uint8_t **out, size_t *outlen, struct shoal_perr *err);

/*
 * Checks a peer address ("host:port", "[v6]:port") as
 * shoal_torrent_add_peer() would use it, blocking (for a program before
 * its session starts): the form, local-only mode (local_only, or
 * SHOAL_LOCAL_ONLY=1 in the environment), and that a name resolves.
 * Returns 0; SHOAL_EINVAL (malformed), SHOAL_ELOCALONLY, or -ENOENT (the
 * name does not resolve); err->msg then says why.
 */
SHOAL_EXPORT int shoal_peer_check(const char *hostport, int local_only,
                                  struct shoal_perr *err);

/* shoal_write_file flag: refuse (-EEXIST) to replace an existing file, even
 * one that appears while writing. */
#define SHOAL_WRITE_NO_REPLACE 0x1u

/*
 * Writes data[0..len) to path atomically: through a new "<path>.tmp" (never
 * through a file or symlink already at that name), fsynced, then renamed
 * over path (or, with SHOAL_WRITE_NO_REPLACE, put there only if nothing is),
 * then the folder fsynced. A crash leaves the old file or the new one, whole.
 * Returns 0, -EEXIST, another -errno, or a SHOAL_E* code.
 */
SHOAL_EXPORT int shoal_write_file(const char *path, const void *data, size_t len,
                                  unsigned flags);

/* Monotonic time in nanoseconds from an arbitrary start: for measuring how
 * long something took. Never decreases. */
SHOAL_EXPORT uint64_t shoal_now_ns(void);

/* ------------------------------------------------------------------ misc */

/* Frees memory returned by libshoal. */
SHOAL_EXPORT void shoal_free(void *p);

/* Library version, "MAJOR.MINOR.PATCH". */
SHOAL_EXPORT const char *shoal_version(void);

/* Formats len bytes as lowercase hex plus a NUL into out[2 * len + 1]. */
SHOAL_EXPORT void shoal_hex(const uint8_t *in, size_t len, char *out);

#ifdef __cplusplus
}
#endif
#endif
