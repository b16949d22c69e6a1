/*
 * swarm.h — what `shoal get`, `shoal seed` and `shoal share` share: the
 * options that run a session, the progress display, and the run loop with
 * clean shutdown on SIGINT/SIGTERM. CLI layer; uses only shoal.h.
 */
#ifndef SHOAL_CLI_SWARM_H
#define SHOAL_CLI_SWARM_H

#include "shoal.h"

#define SWARM_MAX_PEERS 64

struct swarm_opts {
    const char *dir;
    const char *peers[SWARM_MAX_PEERS];
    int npeers;
    const char *trackers[SWARM_MAX_PEERS + 1]; /* NULL-terminated */
    int ntrackers;
    int port;
    int exit_when_done;
    uint64_t max_up, max_down;
    const char *only;
    int sequential;
    int recheck;
    int seed_only;
    int verbose;
    int local_only;
};

/* Long options every session command accepts, and their ids. */
enum {
    SWARM_OPT_PEER = 1000,
    SWARM_OPT_PORT,
    SWARM_OPT_MAX_UP,
    SWARM_OPT_MAX_DOWN,
    SWARM_OPT_LOCAL_ONLY,
    SWARM_OPT_RECHECK,
    SWARM_OPT_VERBOSE,
    SWARM_OPT_TRACKER,
};

/* clang-format off */
#define SWARM_LONGOPTS                                              \
    {"peer", required_argument, NULL, SWARM_OPT_PEER},              \
    {"port", required_argument, NULL, SWARM_OPT_PORT},              \
    {"max-up", required_argument, NULL, SWARM_OPT_MAX_UP},          \
    {"max-down", required_argument, NULL, SWARM_OPT_MAX_DOWN},      \
    {"local-only", no_argument, NULL, SWARM_OPT_LOCAL_ONLY},        \
    {"recheck", no_argument, NULL, SWARM_OPT_RECHECK},              \
    {"verbose", no_argument, NULL, SWARM_OPT_VERBOSE},              \
    {"tracker", required_argument, NULL, SWARM_OPT_TRACKER}
/* clang-format on */

/* Handles one of the SWARM_OPT_* options: 1 handled, 0 not ours, -1 bad
 * value (an error line is printed). */
int swarm_option(const char *cmd, int c, const char *arg, struct swarm_opts *o);

/*
 * Runs a session with one torrent until it is done (exit_when_done) or a
 * signal arrives. Takes ownership of m. Returns an exit code.
 */
int swarm_run(const char *cmd, const struct swarm_opts *o, shoal_metainfo *m);

/* Loads a torrent file for a command; prints the error and returns the
 * exit code (2 for bad input) when it fails, 0 on success. */
int swarm_load(const char *cmd, const char *path, shoal_metainfo **out);

#endif
