/*
 * cmd_share.c — `shoal share PATH`: makes a torrent of a file or folder,
 * writes it into the current folder, prints its magnet link, and seeds it
 * until stopped. CLI layer.
 */
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "cmd.h"
#include "swarm.h"
#include "swarm_opts.h"

#define SHARE_MAX_TRACKERS 32

enum {
    OPT_SHARE_TRACKER = SWARM_OPT_END,
    OPT_SHARE_OUTPUT,
    OPT_SHARE_PRIVATE,
    OPT_SHARE_FORCE,
};

/* clang-format off */
static const struct opt_def share_opts[] = {
    {OPT_SHARE_TRACKER, "tracker", 't', "URL", "none",
     "put a tracker in the torrent (one tier each) and announce to it",
     OPT_REPEAT | OPT_CONFIG},
    {OPT_SHARE_OUTPUT, "output", 'o', "FILE", "NAME.torrent in the current folder",
     "write the torrent to FILE", 0},
    {OPT_SHARE_PRIVATE, "private", 'p', NULL, "off",
     "private torrent: peers come from its trackers only (BEP 27)", OPT_CONFIG},
    {OPT_SHARE_FORCE, "force", 'f', NULL, "off",
     "replace an existing torrent file", 0},
    SWARM_DEF_PEER,
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

struct share_ctx {
    struct swarm_opts o;
    const char *trackers[SHARE_MAX_TRACKERS + 1];
    int ntrackers;
    int private_flag, force;
    const char *output;
};

static void
init_share(void *ctx)
{
    struct share_ctx *s = ctx;
    swarm_opts_init(&s->o);
    s->o.seed_only = 1;
    s->o.exit_when_done = 0;
}

static int
set_share(void *ctx, int id, const char *val, char *why, size_t whylen)
{
    struct share_ctx *s = ctx;
    switch (id) {
    case OPT_SHARE_TRACKER:
        if (!strstr(val, "://")) {
            snprintf(why, whylen, "expected a URL (http://, https:// or udp://)");
            return -1;
        }
        if (s->ntrackers == SHARE_MAX_TRACKERS) {
            snprintf(why, whylen, "at most %d trackers", SHARE_MAX_TRACKERS);
            return -1;
        }
        s->trackers[s->ntrackers++] = val;
        return 0;
    case OPT_SHARE_OUTPUT:
        s->output = val;
        return 0;
    case OPT_SHARE_PRIVATE:
        s->private_flag = val[0] == '1';
        return 0;
    case OPT_SHARE_FORCE:
        s->force = val[0] == '1';
        return 0;
    default:
        return swarm_opts_set(&s->o, id, val, why, whylen);
    }
}

static int
run_share(void *ctx, int argc, char **argv)
{
    struct share_ctx *s = ctx;
    const char *path = argv[0];
    const char *output = s->output;
    char outbuf[PATH_MAX];
    struct stat st;
    (void)argc;

    if (stat(path, &st) < 0) {
        cli_error("share", "%s: %s", path, strerror(errno));
        return EXIT_USAGE;
    }
    if (!output) {
        if (cli_torrent_name(path, outbuf, sizeof(outbuf)) < 0) {
            cli_error("share", "cannot name the torrent after '%s'; use -o FILE", path);
            return EXIT_USAGE;
        }
        output = outbuf;
    }
    /* Checked before hashing, which can take long; the write below checks
     * again in case the file appeared meanwhile. */
    if (!s->force && lstat(output, &st) == 0) {
        cli_error("share", "%s exists (use --force to replace it)", output);
        return EXIT_USAGE;
    }

    char creator[64];
    snprintf(creator, sizeof(creator), "shoal/%s", shoal_version());
    struct shoal_create_opts co = {
        .path = path,
        .trackers = s->trackers,
        .creator = creator,
        .creation_date = (int64_t)time(NULL),
        .private_flag = s->private_flag,
    };
    struct shoal_perr err;
    memset(&err, 0, sizeof(err));
    uint8_t *data = NULL;
    size_t len = 0;
    int rc = shoal_create_torrent(&co, &data, &len, &err);
    if (rc) {
        cli_error("share", "%s: %s", path, shoal_perr_text(&err));
        return rc == SHOAL_ENOMEM || rc == -EIO ? EXIT_FAIL : EXIT_USAGE;
    }
    shoal_metainfo *m = NULL;
    rc = shoal_metainfo_parse(data, len, &m, &err);
    if (rc) {
        cli_error("share", "cannot read back the torrent: %s", shoal_perr_text(&err));
        shoal_free(data);
        return EXIT_FAIL;
    }
    rc = shoal_write_file(output, data, len, s->force ? 0 : SHOAL_WRITE_NO_REPLACE);
    shoal_free(data);
    if (rc) {
        cli_error("share", "cannot write %s: %s", output, shoal_strerror(rc));
        shoal_metainfo_free(m);
        return rc == -EEXIST ? EXIT_USAGE : EXIT_FAIL;
    }
    char *magnet = shoal_metainfo_magnet(m);
    printf("torrent: %s\nmagnet: %s\n", output, magnet ? magnet : "(out of memory)");
    shoal_free(magnet);
    fflush(stdout);

    /* The data lives where PATH is: its parent folder is the save folder. */
    char copy[PATH_MAX];
    snprintf(copy, sizeof(copy), "%s", path);
    size_t n = strlen(copy);
    while (n > 1 && copy[n - 1] == '/')
        copy[--n] = '\0';
    s->o.dir = dirname(copy);
    return swarm_run("share", &s->o, m);
}

const struct cmd_entry cmd_share = {
    .name = "share",
    .args = "PATH",
    .summary = "make a torrent of PATH, print its magnet link, and seed it",
    .about = "Makes a torrent of the file or folder PATH, writes it into the current "
             "folder (NAME.torrent; an existing one is not replaced without --force), "
             "prints its magnet link, and seeds PATH until stopped.",
    .opts = share_opts,
    .min_args = 1,
    .max_args = 1,
    .ctx_size = sizeof(struct share_ctx),
    .init = init_share,
    .set = set_share,
    .run = run_share,
};
