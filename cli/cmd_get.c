/*
 * cmd_get.c — `shoal get SOURCE...`: downloads torrents (files, or http(s)
 * URLs of one) from their peers with a live progress line, then exits or
 * keeps seeding. CLI layer.
 */
#include <stdio.h>
#include <string.h>

#include "cmd.h"
#include "swarm.h"
#include "swarm_opts.h"

/* clang-format off */
static const struct opt_def get_opts[] = {
    {SWARM_OPT_DIR, "dir", 'o', "DIR", "the current folder",
     "save into DIR; a torrent of several files gets its own folder inside it",
     OPT_CONFIG, "output"},
    {SWARM_OPT_ONLY, "only", 0, "LIST", "every file",
     "download only these files, numbered as shoal info shows them (from 0): "
     "0,2,5-7", 0},
    {SWARM_OPT_SEQUENTIAL, "sequential", 0, NULL, "off",
     "fetch pieces in order (for playing while downloading) instead of rarest "
     "first", OPT_CONFIG},
    {SWARM_OPT_SEED, "seed", 0, NULL, "off",
     "keep seeding when the download is complete, until stopped", OPT_CONFIG},
    {SWARM_OPT_EXIT_WHEN_DONE, "exit-when-done", 0, NULL, "on",
     "exit once every selected file is complete (the opposite of --seed)", OPT_CONFIG},
    {SWARM_OPT_INCOMPLETE_EXT, "incomplete-ext", 0, NULL, "on",
     "name unfinished files NAME.part and rename them when complete",
     OPT_CONFIG | OPT_NEGATE},
    {SWARM_OPT_ON_DONE, "on-done", 0, "CMD", "none",
     "run the program CMD (no shell) when a torrent completes, with "
     "SHOAL_TORRENT_NAME, SHOAL_TORRENT_DIR and SHOAL_TORRENT_HASH in its "
     "environment", OPT_CONFIG},
    SWARM_DEF_PEER,
    SWARM_DEF_TRACKER,
    SWARM_DEF_PORT,
    SWARM_DEF_MAX_DOWN,
    SWARM_DEF_MAX_UP,
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
init_get(void *ctx)
{
    struct swarm_opts *o = ctx;
    swarm_opts_init(o);
    o->exit_when_done = 1;
}

static int
run_get(void *ctx, int argc, char **argv)
{
    struct swarm_opts *o = ctx;
    for (int i = 0; i < argc; i++) {
        if (!argv[i][0]) {
            cli_error("get",
                      "an empty SOURCE: expected a .torrent file, an http(s) URL, a "
                      "magnet link or an infohash");
            return EXIT_USAGE;
        }
        o->sources[o->nsources++] = argv[i];
    }
    return swarm_main("get", o);
}

const struct cmd_entry cmd_get = {
    .name = "get",
    .args = "SOURCE...",
    .summary = "download torrents from their peers, then exit (or seed with --seed)",
    .about = "Downloads each SOURCE (a .torrent file, an http:// or https:// URL of "
             "one, a magnet link, or a bare infohash of 40 hex or 32 base32 characters) "
             "from its peers and web seeds, verifying every piece, then exits; with "
             "--seed it goes on seeding. A magnet's metadata is fetched from its peers "
             "first (its x.pe peers, tr= trackers and --peer), verified against the "
             "infohash and saved as NAME.torrent in the download folder; --only is "
             "checked once it is there. Resume state is kept in the state folder, so "
             "running the same command again resumes, without fetching the metadata "
             "again.",
    .opts = get_opts,
    .min_args = 1,
    .max_args = SWARM_MAX_SOURCES,
    .ctx_size = sizeof(struct swarm_opts),
    .init = init_get,
    .set = swarm_opts_set_fn,
    .run = run_get,
};
