/*
 * cmd_seed.c — `shoal seed TORRENT -o DIR`: serves a torrent's files that are
 * already on disk. The data is verified first (quickly when the resume
 * state matches the files); nothing is ever created or downloaded. CLI layer.
 */
#include <stdio.h>
#include <string.h>

#include "cmd.h"
#include "swarm.h"
#include "swarm_opts.h"

/* clang-format off */
static const struct opt_def seed_opts[] = {
    {SWARM_OPT_DIR, "dir", 'o', "DIR", "the current folder",
     "the folder the torrent was downloaded into: its files are DIR/NAME (one "
     "file) or DIR/NAME/... (several)", OPT_CONFIG, NULL, 'd'},
    SWARM_DEF_PEER,
    SWARM_DEF_TRACKER,
    SWARM_DEF_PORT,
    SWARM_DEF_MAX_UP,
    SWARM_DEF_MAX_DOWN,
    SWARM_DEF_SEED_RATIO,
    SWARM_DEF_SEED_TIME,
    SWARM_DEF_STATE_DIR,
    SWARM_DEF_RECHECK,
    SWARM_DEF_LOCAL_ONLY,
    SWARM_DEF_LOG,
    SWARM_DEF_DISCOVERY,
    SWARM_DEF_REACH,
    SWARM_DEF_VERBOSE,
    {0},
};
/* clang-format on */

static void
init_seed(void *ctx)
{
    struct swarm_opts *o = ctx;
    swarm_opts_init(o);
    o->seed_only = 1;
    o->exit_when_done = 0;
}

static int
run_seed(void *ctx, int argc, char **argv)
{
    struct swarm_opts *o = ctx;
    (void)argc;
    o->sources[o->nsources++] = argv[0];
    return swarm_main("seed", o);
}

const struct cmd_entry cmd_seed = {
    .name = "seed",
    .args = "TORRENT",
    .summary = "serve a torrent's files from DIR (verified first) until stopped",
    .about = "Serves the files of TORRENT that are already on disk under DIR. They are "
             "verified first (quickly when the resume state matches them); nothing is "
             "ever created or downloaded, and missing data is an error that names the "
             "first file expected.",
    .opts = seed_opts,
    .min_args = 1,
    .max_args = 1,
    .ctx_size = sizeof(struct swarm_opts),
    .init = init_seed,
    .set = swarm_opts_set_fn,
    .run = run_seed,
};
