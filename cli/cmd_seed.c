/*
 * cmd_seed.c — `shoal seed TORRENT -d DIR`: serves a torrent's files that are
 * already on disk. The data is verified first (quickly when the resume
 * state matches the files); nothing is ever created or downloaded. CLI layer.
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cmd.h"
#include "swarm.h"
#include "swarm_opts.h"

static int
run_seed(int argc, char **argv)
{
    static const struct option opts[] = {
        {"dir", required_argument, NULL, 'd'},
        {"help", no_argument, NULL, 'h'},
        SWARM_LONGOPTS,
        {NULL, 0, NULL, 0},
    };
    struct swarm_opts o;
    swarm_opts_init(&o);
    o.seed_only = 1;
    o.exit_when_done = 0;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "d:hv", opts, NULL)) != -1) {
        int r = swarm_option("seed", c, optarg, &o);
        if (r < 0)
            return EXIT_USAGE;
        if (r > 0)
            continue;
        switch (c) {
        case 'd':
            o.dir = optarg;
            break;
        case 'v':
            o.verbose = 1;
            break;
        case 'h':
            printf("usage: shoal seed %s\n", cmd_seed.usage);
            return EXIT_OK;
        default:
            return cli_usage(&cmd_seed);
        }
    }
    if (optind != argc - 1)
        return cli_usage(&cmd_seed);
    o.sources[o.nsources++] = argv[optind];
    return swarm_main("seed", &o);
}

const struct cmd_entry cmd_seed = {
    .name = "seed",
    .usage = "TORRENT [-d DIR] [--peer HOST:PORT]... [--tracker URL]... [--port N] "
             "[--max-up RATE] "
             "[--recheck] [--local-only] [-v]",
    .summary = "serve a torrent's files from DIR (verified first) until stopped",
    .run = run_seed,
};
