/*
 * swarm.c — runs a session for the get, seed and share commands. CLI layer.
 *
 * The order is the point: every source is loaded and every option checked
 * (the file selection, the folder, the peers, the data a seeder must have,
 * the --on-done program, the log file) before anything is created or any
 * port opened, so that a mistake costs nothing. Only then the state folder,
 * the lock on each torrent's state, the session and its port, and the
 * torrents. Nothing of shoal's goes into the download folder.
 */
#include "swarm.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cmd.h"
#include "display.h"
#include "ondone.h"
#include "state.h"

/* .torrent files looked at in the download folder for a magnet's saved
 * metadata, at most: a folder of many torrents is not read whole. */
#define SWARM_MAX_SAVED_SCAN 256

/* One torrent of the run. */
struct src {
    shoal_metainfo *m; /* ours until the session takes it; NULL for a magnet
                          whose metadata is still to come */
    shoal_magnet *mg;  /* the magnet link it was given as, or NULL */
    int meta_handled;  /* a magnet's metadata arrived and was dealt with */
    uint8_t ih[SHOAL_INFOHASH_LEN];
    shoal_torrent *t;
    const char *label; /* the source as given */
    char name[256];
    char hex[SHOAL_INFOHASH_LEN * 2 + 1];
    char stem[STATE_PATH_MAX];
    int lock_fd;
    int ran_on_done;
    int limit_hit;             /* a seed limit stopped it */
    uint64_t seeding_since_ns; /* when it was first seen seeding; 0 before */
};

struct run {
    const char *cmd;
    const struct swarm_opts *o;
    struct src src[SWARM_MAX_SOURCES];
    int n;
    int exit_when_done;
    int limits;      /* --seed-ratio or --seed-time given */
    int limits_left; /* torrents no seed limit has stopped yet */
    char real_dir[PATH_MAX];
    char sdir[STATE_PATH_MAX]; /* the state folder */
    struct display *d;
    shoal_session *ss;
    struct ondone od;
    int meta_fail; /* exit code when a magnet's metadata refused the options */
};

/* The session a signal should stop: one per process, set while it runs. */
static shoal_session *signal_target;
static volatile sig_atomic_t interrupted;

static void
on_signal(int sig)
{
    interrupted = sig;
    if (signal_target)
        shoal_session_stop(signal_target);
}

static int
is_url(const char *s)
{
    return !strncasecmp(s, "http://", 7) || !strncasecmp(s, "https://", 8);
}

/* ------------------------------------------------------------------ sources */

static int
fetch_source(const char *cmd, const char *url, int local_only, shoal_metainfo **out)
{
    struct shoal_perr err;
    memset(&err, 0, sizeof(err));
    uint8_t *data = NULL;
    size_t len = 0;
    int rc = shoal_fetch_url(url, local_only, SHOAL_MAX_TORRENT_FILE, &data, &len, &err);
    if (rc) {
        cli_error(cmd, "%s: %s", url, shoal_perr_text(&err));
        return rc == -EIO || rc == SHOAL_ENOMEM ? EXIT_FAIL : EXIT_USAGE;
    }
    memset(&err, 0, sizeof(err));
    rc = shoal_metainfo_parse(data, len, out, &err);
    shoal_free(data);
    if (rc) {
        cli_error(cmd, "%s: bad torrent: %s (at byte %zu)", url, shoal_perr_text(&err),
                  err.off);
        return rc == SHOAL_ENOMEM ? EXIT_FAIL : EXIT_USAGE;
    }
    return 0;
}

static int
load_source(const char *cmd, const char *path, int local_only, shoal_metainfo **out)
{
    struct shoal_perr err;
    memset(&err, 0, sizeof(err));
    if (is_url(path))
        return fetch_source(cmd, path, local_only, out);
    const char *scheme_end = strstr(path, "://");
    if (scheme_end && !memchr(path, '/', (size_t)(scheme_end - path))) {
        cli_error(cmd, "%s: only http:// and https:// URLs can be fetched", path);
        return EXIT_USAGE;
    }
    int rc = shoal_metainfo_load(path, out, &err);
    if (rc == SHOAL_EPARSE || rc == SHOAL_ETOOBIG) {
        cli_error(cmd, "%s: bad torrent: %s (at byte %zu)", path, shoal_perr_text(&err),
                  err.off);
        return EXIT_USAGE;
    }
    if (rc) {
        cli_error(cmd, "%s: %s: %s", path, shoal_perr_text(&err), shoal_strerror(rc));
        return rc == -ENOENT || rc == -EISDIR ? EXIT_USAGE : EXIT_FAIL;
    }
    return 0;
}

int
swarm_load(const char *cmd, const char *path, shoal_metainfo **out)
{
    return load_source(cmd, path, 0, out);
}

/* ------------------------------------------------------------------ checks */

/* What a torrent puts directly in the download folder: the file of a
 * single-file torrent, the folder of a multi-file one (its first path
 * component either way). */
static void
top_entry(const shoal_metainfo *m, char *out, size_t len)
{
    const char *path = shoal_metainfo_file_count(m) ? shoal_metainfo_file(m, 0)->path
                                                    : shoal_metainfo_name(m);
    size_t n = strcspn(path, "/");
    snprintf(out, len, "%.*s", (int)n, path);
}

static int
check_duplicates(struct run *r)
{
    for (int i = 0; i < r->n; i++)
        for (int j = 0; j < i; j++) {
            if (!strcmp(r->src[i].hex, r->src[j].hex)) {
                cli_error(r->cmd, "%s and %s are the same torrent", r->src[j].label,
                          r->src[i].label);
                return EXIT_USAGE;
            }
            /* A magnet's files are not known yet. */
            if (!r->src[i].m || !r->src[j].m)
                continue;
            /* Two torrents that put the same file or folder in the download
             * folder would overwrite each other's data. */
            char a[512], b[512];
            top_entry(r->src[i].m, a, sizeof(a));
            top_entry(r->src[j].m, b, sizeof(b));
            if (!strcmp(a, b)) {
                cli_error(r->cmd,
                          "%s and %s both write %s/%s; download them into "
                          "different folders",
                          r->src[j].label, r->src[i].label, r->o->dir, a);
                return EXIT_USAGE;
            }
        }
    return 0;
}

static int
check_selection(struct run *r)
{
    if (!r->o->only)
        return 0;
    for (int i = 0; i < r->n; i++) {
        struct shoal_perr err;
        memset(&err, 0, sizeof(err));
        /* A magnet's is checked when its metadata arrives. */
        if (r->src[i].m &&
            shoal_metainfo_check_selection(r->src[i].m, r->o->only, &err) != 0) {
            cli_error(r->cmd, "--only %s: %s%s%s", r->o->only, shoal_perr_text(&err),
                      r->n > 1 ? " in " : "", r->n > 1 ? r->src[i].name : "");
            return EXIT_USAGE;
        }
    }
    return 0;
}

/* path, or the nearest part of it that exists (the rest is created), must
 * be a folder. what names the option for the message. */
static int
check_folder(struct run *r, const char *path, const char *what)
{
    char p[STATE_PATH_MAX];
    snprintf(p, sizeof(p), "%s", path);
    for (;;) {
        struct stat st;
        if (stat(p, &st) == 0) {
            if (S_ISDIR(st.st_mode))
                return 0;
            cli_error(r->cmd, "%s%s is a file, not a folder", what, p);
            return EXIT_USAGE;
        }
        char *slash = strrchr(p, '/');
        while (slash && slash > p && slash[-1] == '/')
            slash--;
        if (!slash || slash == p)
            return 0;
        *slash = '\0';
    }
}

static int
check_dirs(struct run *r)
{
    int rc = check_folder(r, r->o->dir, "");
    if (rc)
        return rc;
    if (state_dir_path(r->o->state_dir, r->sdir, sizeof(r->sdir)) != 0) {
        cli_error(r->cmd, "no state folder: set XDG_STATE_HOME or HOME, or use "
                          "--state-dir DIR");
        return EXIT_USAGE;
    }
    return check_folder(r, r->sdir, "state folder: ");
}

static int
check_peers(struct run *r)
{
    for (int i = 0; i < r->o->npeers; i++) {
        struct shoal_perr err;
        memset(&err, 0, sizeof(err));
        int rc = shoal_peer_check(r->o->peers[i], r->o->local_only, &err);
        if (rc) {
            cli_error(r->cmd, "--peer %s: %s", r->o->peers[i], shoal_perr_text(&err));
            return EXIT_USAGE;
        }
    }
    return 0;
}

/* A seeder serves what is there: each file must be there, whole, before
 * anything is created; the first one that is not is named. */
static int
check_data(struct run *r)
{
    if (!r->o->seed_only)
        return 0;
    for (int i = 0; i < r->n; i++) {
        const shoal_metainfo *m = r->src[i].m;
        size_t nf = shoal_metainfo_file_count(m);
        for (size_t k = 0; k < nf; k++) {
            const struct shoal_file *f = shoal_metainfo_file(m, k);
            if (f->attr & (SHOAL_FILE_PAD | SHOAL_FILE_SYMLINK))
                continue;
            char path[STATE_PATH_MAX];
            snprintf(path, sizeof(path), "%s/%s", r->o->dir, f->path);
            struct stat st;
            char found[96];
            /* lstat: the seeder opens no symlink inside the folder (a link
             * planted there must not send it elsewhere), so one here is as
             * good as missing. */
            if (lstat(path, &st) != 0)
                snprintf(found, sizeof(found), "%s", strerror(errno));
            else if (S_ISLNK(st.st_mode))
                snprintf(found, sizeof(found), "a symlink, which is not followed");
            else if (!S_ISREG(st.st_mode))
                snprintf(found, sizeof(found), "not a file");
            else if ((uint64_t)st.st_size < f->size)
                snprintf(found, sizeof(found), "%" PRIu64 " of %" PRIu64 " bytes",
                         (uint64_t)st.st_size, f->size);
            else
                continue;
            cli_error(r->cmd, "%s: the data is not there: expected %s (%s)%s%s%s",
                      r->src[i].label, path, found,
                      shoal_metainfo_is_multifile(m) ? "; the folder given must hold '"
                                                     : "",
                      shoal_metainfo_is_multifile(m) ? shoal_metainfo_name(m) : "",
                      shoal_metainfo_is_multifile(m) ? "'" : "");
            return EXIT_USAGE;
        }
    }
    return 0;
}

static int
check_on_done(struct run *r)
{
    const char *prog = r->o->on_done;
    if (!prog)
        return 0;
    struct stat st;
    if (stat(prog, &st) != 0 || !S_ISREG(st.st_mode) || access(prog, X_OK) != 0) {
        cli_error(r->cmd,
                  "--on-done %s: not an executable file (a program's path; it is "
                  "run without a shell)",
                  prog);
        return EXIT_USAGE;
    }
    return 0;
}

static int
check_all(struct run *r)
{
    int rc = check_duplicates(r);
    if (!rc)
        rc = check_selection(r);
    if (!rc)
        rc = check_dirs(r);
    if (!rc)
        rc = check_peers(r);
    if (!rc)
        rc = check_data(r);
    if (!rc)
        rc = check_on_done(r);
    if (!rc && r->o->log_path) {
        int lrc = display_log_open(r->d, r->o->log_path);
        if (lrc) {
            cli_error(r->cmd, "--log %s: %s", r->o->log_path, shoal_strerror(lrc));
            rc = EXIT_USAGE;
        }
    }
    return rc;
}

/* ------------------------------------------------------------------ state */

/* The state folder, the download folder, and the lock on each torrent. */
static int
prepare_state(struct run *r)
{
    const char *sdir = r->sdir;
    int rc = state_dir_create(sdir);
    if (rc) {
        cli_error(r->cmd, "cannot create the state folder %s: %s", sdir,
                  shoal_strerror(rc));
        return EXIT_FAIL;
    }
    if (!r->o->seed_only && (rc = state_mkdirs(r->o->dir, 0755)) != 0) {
        cli_error(r->cmd, "cannot create %s: %s", r->o->dir, shoal_strerror(rc));
        return EXIT_FAIL;
    }
    if (!realpath(r->o->dir, r->real_dir)) {
        cli_error(r->cmd, "%s: %s", r->o->dir, strerror(errno));
        return EXIT_FAIL;
    }
    for (int i = 0; i < r->n; i++) {
        struct src *s = &r->src[i];
        if (state_stem(sdir, s->ih, r->real_dir, s->stem, sizeof(s->stem) - 8) != 0) {
            cli_error(r->cmd, "state folder path too long: %s", sdir);
            return EXIT_FAIL;
        }
        s->lock_fd = state_lock(s->stem);
        if (s->lock_fd == -EWOULDBLOCK) {
            cli_error(r->cmd,
                      "%s: another shoal is using the folder %s (%s) for this torrent; "
                      "stop it first (lock %s.lock)",
                      s->name, r->o->dir, r->real_dir, s->stem);
            return EXIT_FAIL;
        }
        if (s->lock_fd < 0) {
            cli_error(r->cmd, "cannot lock %s.lock: %s", s->stem,
                      shoal_strerror(s->lock_fd));
            return EXIT_FAIL;
        }
    }
    return 0;
}

/* ------------------------------------------------------------------ session */

/* Local-only mode, asked for or set in the environment, as the library
 * reads it. */
static int
local_only(const struct swarm_opts *o)
{
    const char *lo = getenv("SHOAL_LOCAL_ONLY");
    return o->local_only || (lo && lo[0] && strcmp(lo, "0") != 0);
}

/* Whether anything of the run can find peers for magnet mg: its trackers or
 * peers, the user's, the DHT (which needs a bootstrap node in local-only
 * mode, where the public routers are not asked) or local discovery (never
 * in local-only mode). */
static int
magnet_has_peer_source(const struct swarm_opts *o, const shoal_magnet *mg)
{
    if (shoal_magnet_tracker_count(mg) || shoal_magnet_peer_count(mg) || o->npeers ||
        o->ntrackers)
        return 1;
    if (local_only(o))
        return o->dht && o->ndht_bootstrap;
    return o->dht || o->lsd;
}

static int
start_session(struct run *r)
{
    const struct swarm_opts *o = r->o;
    struct shoal_settings set;
    shoal_settings_init(&set);
    set.port = o->port;
    set.local_only = o->local_only;
    set.max_up = o->max_up;
    set.max_down = o->max_down;
    set.dht = o->dht;
    set.dht_port = o->dht_port;
    set.dht_bootstrap = o->ndht_bootstrap ? o->dht_bootstrap : NULL;
    /* The DHT's routing table is kept in the state folder, so a restart
     * needs no bootstrap node; not in local-only mode, where runs side by
     * side (tests) would share one table. */
    char dht_state[STATE_PATH_MAX + 16];
    if (!local_only(o)) {
        snprintf(dht_state, sizeof(dht_state), "%s/dht.dat", r->sdir);
        set.dht_state_path = dht_state;
    }
    set.pex = o->pex;
    set.lsd = o->lsd;
    set.transports = o->transports;
    set.encryption = (enum shoal_encryption)o->encryption;
    set.proxy = o->proxy;
    set.proxy_only = o->proxy_only;
    set.anonymous = o->anonymous;
    set.blocklist = o->blocklist;
    set.port_mapping = o->port_mapping;
    set.bind = o->bind;
    /* The display shows the events, -v or not; the library printing them
     * as well would show each twice. */
    set.verbose = 0;
    int rc = shoal_session_new(&set, &r->ss);
    if (rc == -EADDRINUSE && !o->port_set && o->port != 0) {
        /* The default port is a convenience: another client (or another
         * shoal) may hold it, and any port serves as well. */
        set.port = 0;
        rc = shoal_session_new(&set, &r->ss);
        if (!rc)
            fprintf(stderr, "shoal %s: port %d is in use; listening on %d instead\n",
                    r->cmd, o->port, shoal_session_port(r->ss));
    }
    if (rc == -EADDRINUSE || rc == -EACCES) {
        cli_error(r->cmd, "cannot listen on port %d: %s", set.port, shoal_strerror(rc));
        return EXIT_FAIL;
    }
    if (rc) {
        cli_error(r->cmd, "cannot start the session: %s", shoal_strerror(rc));
        return EXIT_FAIL;
    }
    printf("listening on port %d\n", shoal_session_port(r->ss));
    fflush(stdout);
    return 0;
}

/* A magnet's so= (BEP 53) as a --only list for its saved torrent m, cut to
 * m's files, into out; NULL when it has none (then every file). */
static const char *
magnet_selection(const shoal_magnet *mg, const shoal_metainfo *m, char *out, size_t len)
{
    size_t nfiles = shoal_metainfo_file_count(m), n = 0;
    out[0] = '\0';
    for (size_t i = 0; mg && i < shoal_magnet_select_count(mg) && n + 24 < len; i++) {
        uint32_t first, last;
        shoal_magnet_select(mg, i, &first, &last);
        if (first >= nfiles)
            break;
        if (last >= nfiles)
            last = (uint32_t)(nfiles - 1);
        int w = snprintf(out + n, len - n, "%s%u-%u", n ? "," : "", first, last);
        if (w < 0)
            break;
        n += (size_t)w;
    }
    return n ? out : NULL;
}

static int
add_torrents(struct run *r)
{
    const struct swarm_opts *o = r->o;
    for (int i = 0; i < r->n; i++) {
        struct src *s = &r->src[i];
        /* Room for the stem and either suffix, so neither is ever cut. */
        char resume[STATE_PATH_MAX + 8], parts[STATE_PATH_MAX + 8];
        snprintf(resume, sizeof(resume), "%s.resume", s->stem);
        snprintf(parts, sizeof(parts), "%s.parts", s->stem);
        struct shoal_torrent_opts topts = {
            .save_dir = o->dir,
            .resume_path = resume,
            .parts_path = parts,
            .incomplete_ext = o->incomplete_ext && !o->seed_only ? ".part" : NULL,
            .recheck = o->recheck,
            .sequential = o->sequential,
            .seed_only = o->seed_only,
            .only = o->only,
            .trackers = o->trackers,
        };
        /* A magnet run again with its saved torrent selects as it did. */
        char so[4096];
        if (!o->only && s->m && s->mg)
            topts.only = magnet_selection(s->mg, s->m, so, sizeof(so));
        struct shoal_perr err;
        memset(&err, 0, sizeof(err));
        int rc = s->m ? shoal_session_add(r->ss, s->m, &topts, &s->t, &err)
                      : shoal_session_add_magnet(r->ss, s->mg, &topts, &s->t, &err);
        if (rc) {
            cli_error(r->cmd, "%s: %s", s->name, shoal_perr_text(&err));
            return rc == SHOAL_EINVAL ? EXIT_USAGE : EXIT_FAIL;
        }
        int fetching = !s->m; /* a magnet whose metadata is to come */
        /* A magnet whose .torrent was found: its x.pe peers still count. */
        for (size_t k = 0; s->m && s->mg && k < shoal_magnet_peer_count(s->mg); k++)
            shoal_torrent_add_peer(s->t, shoal_magnet_peer(s->mg, k));
        s->m = NULL; /* the session's now */
        for (int k = 0; k < o->npeers; k++) {
            rc = shoal_torrent_add_peer(s->t, o->peers[k]);
            if (rc) {
                cli_error(r->cmd, "--peer %s: %s", o->peers[k], shoal_strerror(rc));
                return EXIT_USAGE;
            }
        }
        if (fetching && !magnet_has_peer_source(o, s->mg))
            fprintf(stderr,
                    "shoal %s: %s: nothing will look for peers: the magnet names no "
                    "tracker (tr=) and no peer (x.pe=), no --peer or --tracker is "
                    "given, and %s; waiting for peers to connect\n",
                    r->cmd, s->name,
                    !o->dht ? "the DHT is off (--no-dht)"
                            : "local-only mode has no DHT node without --dht-bootstrap");
        display_add(r->d, r->ss, s->t, s->name);
    }
    return 0;
}

/* A line of the run's own (a seed limit, the --on-done program), shown
 * like the session's warnings so it ends the live line and reaches the log. */
static void
note(void *user, const char *line)
{
    struct run *r = user;
    if (r->ss) {
        struct shoal_event ev = {.type = SHOAL_EV_WARNING, .message = line};
        display_on_event(r->ss, &ev, r->d);
    } else {
        fprintf(stderr, "shoal %s: %s\n", r->cmd, line);
    }
}

static struct src *
find_src(struct run *r, const shoal_torrent *t)
{
    for (int i = 0; i < r->n; i++)
        if (r->src[i].t == t)
            return &r->src[i];
    return NULL;
}

/* Stops seeding a torrent whose --seed-ratio or --seed-time is reached;
 * the run ends when no torrent is left. */
static void
check_limits(struct run *r, struct src *s)
{
    const struct swarm_opts *o = r->o;
    if (!r->limits || s->limit_hit)
        return;
    struct shoal_torrent_status st;
    shoal_torrent_status(s->t, &st);
    if (st.state != SHOAL_TS_SEEDING)
        return;
    uint64_t now = shoal_now_ns();
    if (!s->seeding_since_ns)
        s->seeding_since_ns = now;
    double ratio = st.total_wanted ? (double)st.uploaded / (double)st.total_wanted : 0;
    uint64_t secs = (now - s->seeding_since_ns) / 1000000000u;
    char line[400], up[32], size[32];
    cli_human_size(st.uploaded, up, sizeof(up));
    cli_human_size(st.total_wanted, size, sizeof(size));
    if (o->seed_ratio > 0 && ratio >= o->seed_ratio)
        snprintf(line, sizeof(line),
                 "%s: seed ratio %.2f reached (uploaded %s of %s); stopped seeding",
                 s->name, o->seed_ratio, up, size);
    else if (o->seed_time_s > 0 && secs >= o->seed_time_s)
        snprintf(line, sizeof(line),
                 "%s: seeded for %" PRIu64
                 " s (--seed-time), ratio %.2f; stopped seeding",
                 s->name, secs, ratio);
    else
        return;
    s->limit_hit = 1;
    note(r, line);
    shoal_torrent_stop(s->t);
    if (--r->limits_left == 0)
        shoal_session_stop(r->ss);
}

/* Saves a magnet's metadata as NAME.torrent in the download folder (never
 * over a different file), so that the same command finds it next time. */
static void
save_torrent(struct run *r, struct src *s, const uint8_t *data, size_t len)
{
    char file[300], path[STATE_PATH_MAX + 300], line[STATE_PATH_MAX + 1000];
    snprintf(file, sizeof(file), "%s.torrent", s->name);
    for (char *c = file; *c; c++)
        if (*c == '/')
            *c = '_';
    snprintf(path, sizeof(path), "%s/%s", r->o->dir, file);
    int rc = shoal_write_file(path, data, len, SHOAL_WRITE_NO_REPLACE);
    if (rc == -EEXIST) {
        shoal_metainfo *old = NULL;
        int same = shoal_metainfo_load(path, &old, NULL) == 0 &&
                   !memcmp(shoal_metainfo_infohash(old), s->ih, SHOAL_INFOHASH_LEN);
        shoal_metainfo_free(old);
        if (same)
            snprintf(line, sizeof(line), "%s: metadata received; %s is already there",
                     s->name, path);
        else
            snprintf(line, sizeof(line),
                     "%s: metadata received; not saved: %s exists and is another "
                     "torrent",
                     s->name, path);
    } else if (rc) {
        snprintf(line, sizeof(line), "%s: metadata received; cannot save %s: %s", s->name,
                 path, shoal_strerror(rc));
    } else {
        snprintf(line, sizeof(line),
                 "%s: metadata received; saved %s (the same command uses it next time)",
                 s->name, path);
    }
    note(r, line);
}

/* A magnet's metadata arrived (or arrived and could not be used): it is
 * saved, and the options the preflight could not check are checked now.
 * A --only the torrent cannot take ends the run as it would have before
 * the start: the same message, exit 2. */
static void
on_metadata(struct run *r, struct src *s)
{
    size_t len = 0;
    const uint8_t *data = shoal_torrent_file_data(s->t, &len);
    if (s->meta_handled || !data)
        return;
    s->meta_handled = 1;
    shoal_metainfo *m = NULL;
    if (shoal_metainfo_parse(data, len, &m, NULL) != 0)
        return;
    snprintf(s->name, sizeof(s->name), "%s", shoal_metainfo_name(m));
    save_torrent(r, s, data, len);
    struct shoal_perr err;
    memset(&err, 0, sizeof(err));
    if (r->o->only && shoal_metainfo_check_selection(m, r->o->only, &err) != 0) {
        cli_error(r->cmd, "--only %s: %s%s%s", r->o->only, shoal_perr_text(&err),
                  r->n > 1 ? " in " : "", r->n > 1 ? s->name : "");
        r->meta_fail = EXIT_USAGE;
        shoal_session_stop(r->ss);
    }
    shoal_metainfo_free(m);
}

static void
on_event(shoal_session *ss, const struct shoal_event *ev, void *user)
{
    struct run *r = user;
    struct src *s = ev->torrent ? find_src(r, ev->torrent) : NULL;
    /* Before the display reports the new state, so that a line about the
     * metadata comes first and a bad --only is not taken for a failed
     * check. */
    if (s && s->mg &&
        (ev->type == SHOAL_EV_METADATA || ev->type == SHOAL_EV_STATE_CHANGED))
        on_metadata(r, s);
    display_on_event(ss, ev, r->d);
    if (!s)
        return;
    if (ev->type == SHOAL_EV_FINISHED && r->o->on_done && !s->ran_on_done) {
        s->ran_on_done = 1;
        ondone_run(&r->od, s->name, r->real_dir, s->hex);
    } else if (ev->type == SHOAL_EV_TICK) {
        ondone_reap(&r->od);
        check_limits(r, s);
    }
}

static int
all_done(const struct run *r)
{
    for (int i = 0; i < r->n; i++) {
        struct shoal_torrent_status st;
        shoal_torrent_status(r->src[i].t, &st);
        if (st.have_wanted != st.total_wanted || st.state == SHOAL_TS_METADATA ||
            st.state == SHOAL_TS_ERROR)
            return 0;
    }
    return 1;
}

/* Runs the loop and ends the run: the exit code. */
static int
run_loop(struct run *r)
{
    signal_target = r->ss;
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    int rc = interrupted ? 0 : shoal_session_run(r->ss, r->exit_when_done);
    display_end(r->d);
    int done = all_done(r);
    signal_target = NULL;
    shoal_session_set_event_cb(r->ss, NULL, NULL);
    shoal_session_free(r->ss);
    r->ss = NULL;
    ondone_reap(&r->od);
    if (r->od.running > 0) {
        note(r, "waiting for the --on-done commands still running");
        ondone_wait(&r->od);
    }
    int code = EXIT_OK;
    if (rc) {
        cli_error(r->cmd, "session failed: %s", shoal_strerror(rc));
        code = EXIT_FAIL;
    } else if (interrupted) {
        display_interrupted(r->d);
        /* 128 + the signal, as shells report it: 130 after Ctrl-C, 143
         * after SIGTERM. */
        code = 128 + interrupted;
    } else if (r->meta_fail) {
        code = r->meta_fail;
    } else if (display_check_failed(r->d)) {
        /* Why was said when the state changed. */
        cli_error(r->cmd, "cannot check the existing data");
        code = EXIT_FAIL;
    } else if (r->exit_when_done && !done) {
        code = EXIT_FAIL;
    }
    display_totals(r->d);
    return code;
}

/* ------------------------------------------------------------------ runs */

static void
run_free(struct run *r)
{
    if (r->ss)
        shoal_session_free(r->ss);
    for (int i = 0; i < r->n; i++) {
        shoal_metainfo_free(r->src[i].m);
        shoal_magnet_free(r->src[i].mg);
        state_unlock(r->src[i].lock_fd);
    }
    display_free(r->d);
    free(r);
}

/* A torrent of the run: m, or a magnet mg whose metadata is to come, or
 * both (a magnet whose .torrent was saved before). Takes both. */
static void
add_src(struct run *r, const char *label, shoal_metainfo *m, shoal_magnet *mg)
{
    struct src *s = &r->src[r->n++];
    s->m = m;
    s->mg = mg;
    s->label = label;
    s->lock_fd = -1;
    memcpy(s->ih, m ? shoal_metainfo_infohash(m) : shoal_magnet_infohash(mg),
           SHOAL_INFOHASH_LEN);
    shoal_hex(s->ih, SHOAL_INFOHASH_LEN, s->hex);
    if (m)
        snprintf(s->name, sizeof(s->name), "%s", shoal_metainfo_name(m));
    else if (shoal_magnet_name(mg))
        snprintf(s->name, sizeof(s->name), "%s", shoal_magnet_name(mg));
    else
        memcpy(s->name, s->hex, sizeof(s->hex));
}

/* ------------------------------------------------------------------ magnets */

/* 1 when s is a bare infohash: 40 hex digits or 32 base32 characters. */
static int
is_infohash(const char *s)
{
    size_t n = strlen(s), hex = 0, b32 = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        hex += isxdigit(c) != 0;
        b32 += isalpha(c) || (c >= '2' && c <= '7');
    }
    return (n == 40 && hex == n) || (n == 32 && b32 == n);
}

/* 1 when the .torrent at path is the torrent ih: *out is it. */
static int
saved_matches(const char *path, const uint8_t *ih, shoal_metainfo **out)
{
    struct stat st;
    shoal_metainfo *m = NULL;
    if (stat(path, &st) != 0 || !S_ISREG(st.st_mode) ||
        shoal_metainfo_load(path, &m, NULL) != 0)
        return 0;
    if (memcmp(shoal_metainfo_infohash(m), ih, SHOAL_INFOHASH_LEN) != 0) {
        shoal_metainfo_free(m);
        return 0;
    }
    *out = m;
    return 1;
}

/*
 * The .torrent an earlier run saved for magnet mg in the download folder:
 * NAME.torrent for the magnet's dn first, then any *.torrent there with the
 * same infohash (the first SWARM_MAX_SAVED_SCAN). NULL when there is none.
 */
static shoal_metainfo *
find_saved(const char *dir, const shoal_magnet *mg, char *found, size_t flen)
{
    const uint8_t *ih = shoal_magnet_infohash(mg);
    shoal_metainfo *m = NULL;
    if (shoal_magnet_name(mg) && !strchr(shoal_magnet_name(mg), '/')) {
        snprintf(found, flen, "%s/%s.torrent", dir, shoal_magnet_name(mg));
        if (saved_matches(found, ih, &m))
            return m;
    }
    DIR *d = opendir(dir);
    if (!d)
        return NULL;
    int seen = 0;
    struct dirent *e;
    while (!m && seen < SWARM_MAX_SAVED_SCAN && (e = readdir(d)) != NULL) {
        size_t n = strlen(e->d_name);
        if (n <= 8 || strcmp(e->d_name + n - 8, ".torrent") != 0)
            continue;
        seen++;
        snprintf(found, flen, "%s/%s", dir, e->d_name);
        saved_matches(found, ih, &m);
    }
    closedir(d);
    return m;
}

/*
 * A magnet link or bare infohash as a source: parsed (a bad one is refused
 * with the reason, exit 2), and its metadata looked for where an earlier
 * run saved it. Returns 0 (the source added), or an exit code.
 */
static int
add_magnet(struct run *r, const char *label)
{
    char uri[128];
    const char *text = label;
    if (strncasecmp(label, "magnet:", 7) != 0) {
        snprintf(uri, sizeof(uri), "magnet:?xt=urn:btih:%s", label);
        text = uri;
    }
    shoal_magnet *mg = NULL;
    struct shoal_perr err;
    memset(&err, 0, sizeof(err));
    int rc = shoal_magnet_parse(text, &mg, &err);
    if (rc) {
        cli_error(r->cmd, "%s: bad magnet link: %s (at byte %zu)", label,
                  shoal_perr_text(&err), err.off);
        return rc == SHOAL_ENOMEM ? EXIT_FAIL : EXIT_USAGE;
    }
    char found[STATE_PATH_MAX];
    shoal_metainfo *m = find_saved(r->o->dir, mg, found, sizeof(found));
    if (m)
        printf("%s: using %s, saved by an earlier run\n", shoal_metainfo_name(m), found);
    else if (r->o->seed_only) {
        cli_error(r->cmd,
                  "%s: a magnet link has no metadata to check the data against; "
                  "seed the .torrent file",
                  label);
        shoal_magnet_free(mg);
        return EXIT_USAGE;
    }
    add_src(r, label, m, mg);
    return 0;
}

static struct run *
run_new(const char *cmd, const struct swarm_opts *o)
{
    struct run *r = calloc(1, sizeof(*r));
    if (!r)
        return NULL;
    r->cmd = cmd;
    r->o = o;
    r->d = display_new(cmd, o->verbose);
    if (!r->d) {
        free(r);
        return NULL;
    }
    r->limits = o->seed_ratio > 0 || o->seed_time_s > 0;
    /* A seed limit says how long to seed after the download: it implies
     * seeding on. */
    r->exit_when_done = o->exit_when_done && !r->limits;
    ondone_init(&r->od, o->on_done, note, r);
    return r;
}

/* Everything after the sources are loaded. */
static int
run_all(struct run *r)
{
    int rc = check_all(r);
    if (!rc)
        rc = prepare_state(r);
    if (!rc)
        rc = start_session(r);
    if (rc)
        return rc;
    r->limits_left = r->n;
    shoal_session_set_event_cb(r->ss, on_event, r);
    rc = add_torrents(r);
    if (rc)
        return rc;
    return run_loop(r);
}

int
swarm_run(const char *cmd, const struct swarm_opts *o, shoal_metainfo *m)
{
    struct run *r = run_new(cmd, o);
    if (!r) {
        cli_error(cmd, "out of memory");
        shoal_metainfo_free(m);
        return EXIT_FAIL;
    }
    add_src(r, shoal_metainfo_name(m), m, NULL);
    int code = run_all(r);
    run_free(r);
    return code;
}

int
swarm_main(const char *cmd, const struct swarm_opts *o)
{
    if (o->nsources < 1 || o->nsources > SWARM_MAX_SOURCES) {
        cli_error(cmd, "give 1 to %d torrents", SWARM_MAX_SOURCES);
        return EXIT_USAGE;
    }
    struct run *r = run_new(cmd, o);
    if (!r) {
        cli_error(cmd, "out of memory");
        return EXIT_FAIL;
    }
    int code = 0;
    for (int i = 0; i < o->nsources && !code; i++) {
        const char *src = o->sources[i];
        struct stat st;
        if (!strncasecmp(src, "magnet:", 7) ||
            (is_infohash(src) && stat(src, &st) != 0)) {
            code = add_magnet(r, src);
            continue;
        }
        shoal_metainfo *m = NULL;
        code = load_source(cmd, src, o->local_only, &m);
        if (!code)
            add_src(r, src, m, NULL);
    }
    if (!code)
        code = run_all(r);
    run_free(r);
    return code;
}
