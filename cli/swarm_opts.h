/*
 * swarm_opts.h — the command-line options of the session commands (get,
 * seed, share) and how they fill a struct swarm_opts. CLI layer.
 */
#ifndef SHOAL_CLI_SWARM_OPTS_H
#define SHOAL_CLI_SWARM_OPTS_H

#include <getopt.h>

#include "swarm.h"

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

#endif
