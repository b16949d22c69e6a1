/*
 * swarm_opts.c — the command-line options of the session commands. CLI
 * layer.
 */
#include "swarm_opts.h"

#include <stdio.h>
#include <string.h>

#include "cmd.h"

void
swarm_opts_init(struct swarm_opts *o)
{
    memset(o, 0, sizeof(*o));
    o->dir = ".";
    o->port = SWARM_DEFAULT_PORT;
    o->exit_when_done = 1;
    o->incomplete_ext = 1;
}

int
swarm_option(const char *cmd, int c, const char *arg, struct swarm_opts *o)
{
    uint64_t v;
    switch (c) {
    case SWARM_OPT_PEER: {
        char host[256];
        uint16_t port;
        if (shoal_parse_hostport(arg, 0, host, sizeof(host), &port) != 0) {
            cli_error(cmd, "bad --peer '%s' (HOST:PORT or [IPV6]:PORT, port 1-65535)",
                      arg);
            return -1;
        }
        if (o->npeers >= SWARM_MAX_PEERS) {
            cli_error(cmd, "at most %d --peer options", SWARM_MAX_PEERS);
            return -1;
        }
        o->peers[o->npeers++] = arg;
        return 1;
    }
    case SWARM_OPT_PORT:
        if (cli_parse_size(arg, &v) != 0 || v > 65535 || strpbrk(arg, "kKmMgG")) {
            cli_error(cmd, "bad port '%s' (0-65535; 0 = any free port)", arg);
            return -1;
        }
        o->port = (int)v;
        return 1;
    case SWARM_OPT_MAX_UP:
    case SWARM_OPT_MAX_DOWN:
        if (cli_parse_size(arg, &v) != 0) {
            cli_error(cmd, "bad rate '%s' (bytes per second, e.g. 500K or 10M)", arg);
            return -1;
        }
        if (c == SWARM_OPT_MAX_UP)
            o->max_up = v;
        else
            o->max_down = v;
        return 1;
    case SWARM_OPT_LOCAL_ONLY:
        o->local_only = 1;
        return 1;
    case SWARM_OPT_RECHECK:
        o->recheck = 1;
        return 1;
    case SWARM_OPT_VERBOSE:
        o->verbose = 1;
        return 1;
    case SWARM_OPT_TRACKER:
        if (o->ntrackers >= SWARM_MAX_PEERS) {
            cli_error(cmd, "at most %d --tracker options", SWARM_MAX_PEERS);
            return -1;
        }
        o->trackers[o->ntrackers++] = arg;
        o->trackers[o->ntrackers] = NULL;
        return 1;
    default:
        return 0;
    }
}
