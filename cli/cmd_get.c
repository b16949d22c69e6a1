/*
 * cmd_get.c — `shoal get TORRENT [-o DIR] ...`: downloads a torrent from its
 * peers with a live progress line, then exits or keeps seeding. CLI layer.
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cmd.h"
#include "swarm.h"
#include "swarm_opts.h"

enum { OPT_SEED = 1, OPT_EXIT, OPT_ONLY, OPT_SEQUENTIAL };

static int
run_get(int argc, char **argv)
{
    static const struct option opts[] = {
        {"output", required_argument, NULL, 'o'},
        {"seed", no_argument, NULL, OPT_SEED},
        {"exit-when-done", no_argument, NULL, OPT_EXIT},
        {"only", required_argument, NULL, OPT_ONLY},
        {"sequential", no_argument, NULL, OPT_SEQUENTIAL},
        {"help", no_argument, NULL, 'h'},
        SWARM_LONGOPTS,
        {NULL, 0, NULL, 0},
    };
    struct swarm_opts o;
    swarm_opts_init(&o);
    o.exit_when_done = 1;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "o:hv", opts, NULL)) != -1) {
        int r = swarm_option("get", c, optarg, &o);
        if (r < 0)
            return EXIT_USAGE;
        if (r > 0)
            continue;
        switch (c) {
        case 'o':
            o.dir = optarg;
            break;
        case OPT_SEED:
            o.exit_when_done = 0;
            break;
        case OPT_EXIT:
            o.exit_when_done = 1;
            break;
        case OPT_ONLY:
            o.only = optarg;
            break;
        case OPT_SEQUENTIAL:
            o.sequential = 1;
            break;
        case 'v':
            o.verbose = 1;
            break;
        case 'h':
            printf("usage: shoal get %s\n", cmd_get.usage);
            return EXIT_OK;
        default:
            return cli_usage(&cmd_get);
        }
    }
    if (optind != argc - 1)
        return cli_usage(&cmd_get);
    o.sources[o.nsources++] = argv[optind];
    return swarm_main("get", &o);
}

const struct cmd_entry cmd_get = {
    .name = "get",
    .usage = "TORRENT [-o DIR] [--peer HOST:PORT]... [--tracker URL]... [--port N] "
             "[--seed | --exit-when-done] "
             "[--max-up RATE] [--max-down RATE] [--only LIST] [--sequential] [--recheck] "
             "[--local-only] [-v]",
    .summary = "download a torrent from its peers, then exit (or seed with --seed)",
    .run = run_get,
};
