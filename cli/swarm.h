/*
 * swarm.h — what `shoal get`, `shoal seed` and `shoal share` share: the
 * options that run a session (parsed by swarm_opts.c from the command line
 * and the config file), and the run itself (swarm.c): loading the sources,
 * checking every option against them before anything is created or any
 * port opened, the state folder and its lock, the progress display, and a
 * clean stop on SIGINT/SIGTERM. CLI layer; uses only shoal.h.
 */
#ifndef SHOAL_CLI_SWARM_H
#define SHOAL_CLI_SWARM_H

#include <stdint.h>

#include "shoal.h"

#define SWARM_MAX_PEERS   64
#define SWARM_MAX_SOURCES 64

/* The default listening port (libtorrent's); when it is taken and no
 * --port was given, any free port is used instead, with a message. */
#define SWARM_DEFAULT_PORT 6881

/* Exit code after Ctrl-C: 128 + SIGINT, as shells expect (after SIGTERM
 * it is 128 + SIGTERM, 143). */
#define EXIT_INTERRUPTED 130

struct swarm_opts {
    /* Torrents to run: .torrent paths or http(s) URLs of one (get takes
     * several; seed one). share passes its metainfo to swarm_run instead. */
    const char *sources[SWARM_MAX_SOURCES];
    int nsources;

    const char *dir; /* -o/--dir (-d for seed kept as an alias); default "." */
    const char *peers[SWARM_MAX_PEERS];
    int npeers;
    const char *trackers[SWARM_MAX_PEERS + 1]; /* NULL-terminated */
    int ntrackers;
    int port;     /* SWARM_DEFAULT_PORT unless --port */
    int port_set; /* --port given: a taken port is an error, not a fallback */
    int exit_when_done;
    uint64_t max_up, max_down; /* bytes/s, 0 = unlimited */
    const char *only;          /* --only LIST, as shoal info numbers files */
    int sequential;
    int recheck;
    int seed_only; /* seed and share: never create or download */
    int verbose;
    int local_only;

    const char *state_dir; /* --state-dir; NULL = $XDG_STATE_HOME/shoal */
    int incomplete_ext;    /* --incomplete-ext (default on): ".part" names */
    double seed_ratio;     /* --seed-ratio R: stop seeding at R; 0 = never */
    uint64_t seed_time_s;  /* --seed-time DURATION: stop after it; 0 = never */
    const char *on_done;   /* --on-done CMD: run (no shell) when a torrent completes */
    const char *log_path;  /* --log FILE: the events, timestamped */

    int dht, pex, lsd; /* --no-dht, --no-pex, --no-lsd turn them off */
    int dht_port;      /* --dht-port N; 0 = the TCP port's number */
    const char *dht_bootstrap[SWARM_MAX_PEERS + 1]; /* NULL-terminated */
    int ndht_bootstrap;

    int transports;    /* --transport: SHOAL_TRANSPORT_* bits */
    int encryption;    /* --encryption: enum shoal_encryption */
    const char *proxy; /* --proxy URL */
    int proxy_only, anonymous;
    const char *blocklist; /* --blocklist FILE */
    int port_mapping;      /* --no-port-mapping turns it off */
    const char *bind;      /* --bind ADDR|IFACE */
};

/* Fills *o with the defaults (before the config file and the command line
 * override them). */
void swarm_opts_init(struct swarm_opts *o);

/*
 * Runs a session for o->sources: loads each (a file, or an http(s) URL),
 * checks every option against them, then downloads or seeds until done
 * (exit_when_done) or a signal arrives. Returns an exit code.
 */
int swarm_main(const char *cmd, const struct swarm_opts *o);

/*
 * Runs a session with the one torrent m (share: made a moment ago). Takes
 * ownership of m. Returns an exit code.
 */
int swarm_run(const char *cmd, const struct swarm_opts *o, shoal_metainfo *m);

/* Loads a torrent file for a command; prints the error and returns the
 * exit code (2 for bad input) when it fails, 0 on success. */
int swarm_load(const char *cmd, const char *path, shoal_metainfo **out);

#endif
