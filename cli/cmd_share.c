/*
 * cmd_share.c — `shoal share PATH`: makes a torrent of a file or folder,
 * writes it beside the current folder's other files, prints its magnet link,
 * and seeds it until stopped. CLI layer.
 */
#include <errno.h>
#include <getopt.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cmd.h"
#include "swarm.h"
#include "swarm_opts.h"

#define SHARE_MAX_TRACKERS 32

static int
run_share(int argc, char **argv)
{
    static const struct option opts[] = {
        {"tracker", required_argument, NULL, 't'},
        {"output", required_argument, NULL, 'o'},
        {"private", no_argument, NULL, 'p'},
        {"help", no_argument, NULL, 'h'},
        SWARM_LONGOPTS,
        {NULL, 0, NULL, 0},
    };
    struct swarm_opts o;
    swarm_opts_init(&o);
    o.seed_only = 1;
    o.exit_when_done = 0;
    const char *trackers[SHARE_MAX_TRACKERS + 1] = {NULL};
    int ntrackers = 0, private_flag = 0;
    const char *output = NULL;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "t:o:phv", opts, NULL)) != -1) {
        int r = swarm_option("share", c, optarg, &o);
        if (r < 0)
            return EXIT_USAGE;
        if (r > 0)
            continue;
        switch (c) {
        case 't':
            if (ntrackers == SHARE_MAX_TRACKERS) {
                cli_error("share", "at most %d trackers", SHARE_MAX_TRACKERS);
                return EXIT_USAGE;
            }
            trackers[ntrackers++] = optarg;
            break;
        case 'o':
            output = optarg;
            break;
        case 'p':
            private_flag = 1;
            break;
        case 'v':
            o.verbose = 1;
            break;
        case 'h':
            printf("usage: shoal share %s\n", cmd_share.usage);
            return EXIT_OK;
        default:
            return cli_usage(&cmd_share);
        }
    }
    if (optind != argc - 1)
        return cli_usage(&cmd_share);
    const char *path = argv[optind];

    char creator[64];
    snprintf(creator, sizeof(creator), "shoal/%s", shoal_version());
    struct shoal_create_opts co = {
        .path = path,
        .trackers = trackers,
        .creator = creator,
        .creation_date = (int64_t)time(NULL),
        .private_flag = private_flag,
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
    char outbuf[4200];
    if (!output) {
        snprintf(outbuf, sizeof(outbuf), "%.4000s.torrent", shoal_metainfo_name(m));
        output = outbuf;
    }
    rc = shoal_write_file(output, data, len, 0);
    shoal_free(data);
    if (rc) {
        cli_error("share", "cannot write %s: %s", output, shoal_strerror(rc));
        shoal_metainfo_free(m);
        return EXIT_FAIL;
    }
    char *magnet = shoal_metainfo_magnet(m);
    printf("torrent: %s\nmagnet: %s\n", output, magnet ? magnet : "(out of memory)");
    shoal_free(magnet);
    fflush(stdout);

    /* The data lives where PATH is: its parent folder is the save folder. */
    char copy[4096];
    snprintf(copy, sizeof(copy), "%s", path);
    size_t n = strlen(copy);
    while (n > 1 && copy[n - 1] == '/')
        copy[--n] = '\0';
    o.dir = dirname(copy);
    return swarm_run("share", &o, m);
}

const struct cmd_entry cmd_share = {
    .name = "share",
    .usage =
        "PATH [-t TRACKER]... [-o FILE] [--private] [--peer HOST:PORT]... [--port N] "
        "[--max-up RATE] [--local-only] [-v]",
    .summary = "make a torrent of PATH, print its magnet link, and seed it",
    .run = run_share,
};
