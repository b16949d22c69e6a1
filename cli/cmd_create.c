/*
 * cmd_create.c — `shoal create PATH [...]`: makes a .torrent for a file or a
 * folder. CLI layer; uses only shoal.h. The library scans and hashes; this
 * file parses options, shows progress, and writes the result atomically
 * (shoal_write_file: a fresh temporary file, fsync, then a rename), so a
 * crash never leaves half a torrent under the final name.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "cmd.h"
#include "shoal.h"

/* Redraws of the progress bar are at least this far apart (10 per second). */
#define PROGRESS_REDRAW_NS (100 * 1000 * 1000L)
/* Width of the bar itself, in characters. */
#define PROGRESS_BAR_WIDTH 30
/* More threads than this is surely a typo. */
#define MAX_THREADS 1024

enum {
    OPT_PIECE_SIZE = 256,
    OPT_SOURCE,
};

static const struct option longopts[] = {
    {"output", required_argument, NULL, 'o'},
    {"tracker", required_argument, NULL, 't'},
    {"webseed", required_argument, NULL, 'w'},
    {"private", no_argument, NULL, 'p'},
    {"piece-size", required_argument, NULL, OPT_PIECE_SIZE},
    {"comment", required_argument, NULL, 'c'},
    {"source", required_argument, NULL, OPT_SOURCE},
    {"no-date", no_argument, NULL, 'd'},
    {"threads", required_argument, NULL, 'j'},
    {"follow-symlinks", no_argument, NULL, 'L'},
    {"force", no_argument, NULL, 'f'},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

struct progress {
    int tty;
    uint64_t start_ns; /* shoal_now_ns() when hashing began */
    uint64_t last_ns;  /* ... and at the last redraw */
    int drawn;
};

static int
on_progress(uint64_t done, uint64_t total, void *user)
{
    struct progress *p = user;
    if (!p->tty)
        return 0;
    uint64_t now = shoal_now_ns();
    if (p->drawn && done < total && now - p->last_ns < PROGRESS_REDRAW_NS)
        return 0;
    p->last_ns = now;
    p->drawn = 1;
    double secs = (double)(now - p->start_ns) / 1e9;
    double pct = total ? 100.0 * (double)done / (double)total : 100.0;
    int fill = (int)(pct * PROGRESS_BAR_WIDTH / 100.0);
    char bar[PROGRESS_BAR_WIDTH + 1];
    for (int i = 0; i < PROGRESS_BAR_WIDTH; i++)
        bar[i] = i < fill ? '#' : '.';
    bar[PROGRESS_BAR_WIDTH] = '\0';
    fprintf(stderr, "\rhashing [%s] %5.1f%%  %7.0f MB/s", bar, pct,
            secs > 0 ? (double)done / secs / 1e6 : 0.0);
    fflush(stderr);
    return 0;
}

static void
progress_clear(struct progress *p)
{
    if (p->tty && p->drawn)
        fputs("\r\033[K", stderr);
}

/* Parses a piece size: bytes, or a number with a K, M or G suffix (binary
 * units, optionally followed by "iB" or "B"). Returns 0 or -1. */
static int
parse_piece_size(const char *s, uint32_t *out)
{
    uint64_t v;
    if (cli_parse_size(s, &v) != 0 || v > UINT32_MAX)
        return -1;
    *out = (uint32_t)v;
    return 0;
}

/* The default output name: the last component of the path plus ".torrent",
 * in the current folder. */
static int
default_output(const char *path, char *out, size_t size)
{
    char real[PATH_MAX];
    size_t len = strlen(path);
    while (len > 1 && path[len - 1] == '/')
        len--;
    size_t start = len;
    while (start > 0 && path[start - 1] != '/')
        start--;
    const char *name = path + start;
    int nlen = (int)(len - start);
    if (nlen == 0 || (nlen == 1 && name[0] == '.') ||
        (nlen == 2 && name[0] == '.' && name[1] == '.')) {
        if (!realpath(path, real))
            return -1;
        name = strrchr(real, '/');
        name = name ? name + 1 : real;
        nlen = (int)strlen(name);
    }
    if (nlen == 0)
        return -1;
    int n = snprintf(out, size, "%.*s.torrent", nlen, name);
    return n > 0 && (size_t)n < size ? 0 : -1;
}

/* Library errors about the input are the user's to fix (exit 2); the rest
 * are failures at run time (exit 1). */
static int
exit_code(int err)
{
    switch (err) {
    case SHOAL_EINVAL:
    case SHOAL_ENODATA:
    case SHOAL_ETOOBIG:
    case SHOAL_EUNSUPPORTED:
        return EXIT_USAGE;
    default:
        return EXIT_FAIL;
    }
}

static void
print_summary(const char *out, const uint8_t *data, size_t len, double secs)
{
    shoal_metainfo *m = NULL;
    struct shoal_perr perr = {0};
    char hex[2 * SHOAL_INFOHASH_LEN + 1];
    char total[32], piece[32], fsize[32];

    cli_human_size(len, fsize, sizeof(fsize));
    if (shoal_metainfo_parse(data, len, &m, &perr) < 0) {
        /* Should not happen: shoal reads what it writes. */
        printf("wrote %s (%s)\n", out, fsize);
        fprintf(stderr, "shoal create: warning: cannot read back the torrent: %s\n",
                perr.why ? perr.why : "unknown reason");
        return;
    }
    uint64_t size = shoal_metainfo_total_size(m);
    size_t nfiles = shoal_metainfo_file_count(m);
    cli_human_size(size, total, sizeof(total));
    cli_human_size(shoal_metainfo_piece_length(m), piece, sizeof(piece));
    shoal_hex(shoal_metainfo_infohash(m), SHOAL_INFOHASH_LEN, hex);
    for (size_t i = 0; i < shoal_metainfo_warning_count(m); i++)
        fprintf(stderr, "shoal create: warning: %s\n", shoal_metainfo_warning(m, i));
    uint32_t npieces = shoal_metainfo_piece_count(m);
    printf("wrote %s (%s): %s in %zu file%s, %" PRIu32 " piece%s of %s, made in %.2f s"
           " (%.0f MB/s)\n",
           out, fsize, total, nfiles, nfiles == 1 ? "" : "s", npieces,
           npieces == 1 ? "" : "s", piece, secs,
           secs > 0 ? (double)size / secs / 1e6 : 0.0);
    printf("infohash %s\n", hex);
    shoal_metainfo_free(m);
}

static int
run(int argc, char **argv)
{
    struct shoal_create_opts o;
    struct shoal_perr perr = {0};
    struct progress prog;
    const char **trackers = NULL, **webseeds = NULL;
    size_t ntrackers = 0, nwebseeds = 0;
    const char *output = NULL;
    char outbuf[PATH_MAX];
    char creator[64];
    uint8_t *data = NULL;
    size_t len = 0;
    int force = 0, no_date = 0, c, rc = EXIT_OK;
    uint64_t done_ns;
    struct stat st;

    memset(&o, 0, sizeof(o));
    memset(&prog, 0, sizeof(prog));
    trackers = calloc((size_t)argc + 1, sizeof(*trackers));
    webseeds = calloc((size_t)argc + 1, sizeof(*webseeds));
    if (!trackers || !webseeds) {
        cli_error(cmd_create.name, "out of memory");
        rc = EXIT_FAIL;
        goto out;
    }

    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":o:t:w:pc:dj:Lfh", longopts, NULL)) != -1) {
        switch (c) {
        case 'o':
            output = optarg;
            break;
        case 't':
            trackers[ntrackers++] = optarg;
            break;
        case 'w':
            webseeds[nwebseeds++] = optarg;
            break;
        case 'p':
            o.private_flag = 1;
            break;
        case OPT_PIECE_SIZE:
            if (parse_piece_size(optarg, &o.piece_length) < 0 || o.piece_length == 0) {
                cli_error(cmd_create.name,
                          "bad piece size '%s' (bytes, or with K or M: 256K, 4M)",
                          optarg);
                rc = EXIT_USAGE;
                goto out;
            }
            break;
        case 'c':
            o.comment = optarg;
            break;
        case OPT_SOURCE:
            o.source = optarg;
            break;
        case 'd':
            no_date = 1;
            break;
        case 'j': {
            char *end;
            errno = 0;
            unsigned long n = strtoul(optarg, &end, 10);
            if (optarg[0] < '0' || optarg[0] > '9' || *end || errno || n > MAX_THREADS) {
                cli_error(cmd_create.name, "bad thread count '%s' (0 = one per core)",
                          optarg);
                rc = EXIT_USAGE;
                goto out;
            }
            o.threads = (unsigned)n;
            break;
        }
        case 'L':
            o.follow_symlinks = 1;
            break;
        case 'f':
            force = 1;
            break;
        case 'h':
            printf("usage: shoal %s %s\n\n%s\n", cmd_create.name, cmd_create.usage,
                   cmd_create.summary);
            printf(
                "\n"
                "  -o, --output FILE       write FILE (default: NAME.torrent here)\n"
                "  -t, --tracker URL       add a tracker tier; commas separate the\n"
                "                          URLs of one tier\n"
                "  -w, --webseed URL       add a web seed (BEP 19)\n"
                "  -p, --private           private torrent: trackers only (BEP 27)\n"
                "      --piece-size N      piece size: 16K to 64M, a power of two\n"
                "                          (default: about 1000-2000 pieces)\n"
                "  -c, --comment TEXT      add a comment\n"
                "      --source TEXT       add a source tag (changes the infohash)\n"
                "  -d, --no-date           leave out the creation date\n"
                "  -j, --threads N         hashing threads (default: one per core)\n"
                "  -L, --follow-symlinks   follow symbolic links (default: skip them)\n"
                "  -f, --force             replace an existing output file\n");
            rc = EXIT_OK;
            goto out;
        case ':':
            cli_error(cmd_create.name, "option '%s' needs a value", argv[optind - 1]);
            rc = cli_usage(&cmd_create);
            goto out;
        default:
            cli_error(cmd_create.name, "unknown option '%s'", argv[optind - 1]);
            rc = cli_usage(&cmd_create);
            goto out;
        }
    }
    if (optind + 1 != argc) {
        rc = cli_usage(&cmd_create);
        goto out;
    }
    o.path = argv[optind];
    if (stat(o.path, &st) < 0) {
        cli_error(cmd_create.name, "%s: %s", o.path, strerror(errno));
        rc = EXIT_USAGE;
        goto out;
    }
    if (!output) {
        if (default_output(o.path, outbuf, sizeof(outbuf)) < 0) {
            cli_error(cmd_create.name, "cannot name the output after '%s'; use -o FILE",
                      o.path);
            rc = EXIT_USAGE;
            goto out;
        }
        output = outbuf;
    }
    if (!force && lstat(output, &st) == 0) {
        cli_error(cmd_create.name, "%s exists (use --force to replace it)", output);
        rc = EXIT_USAGE;
        goto out;
    }

    snprintf(creator, sizeof(creator), "shoal/%s", shoal_version());
    o.trackers = trackers;
    o.webseeds = webseeds;
    o.creator = creator;
    o.creation_date = no_date ? -1 : (int64_t)time(NULL);
    o.progress = on_progress;
    o.user = &prog;
    prog.tty = cli_is_tty();
    prog.start_ns = shoal_now_ns();

    int err = shoal_create_torrent(&o, &data, &len, &perr);
    done_ns = shoal_now_ns();
    progress_clear(&prog);
    if (err < 0) {
        /* msg, when set, names the file that failed. */
        const char *why =
            perr.msg[0] || perr.why ? shoal_perr_text(&perr) : shoal_strerror(err);
        if (err == -EAGAIN) /* files changed while hashing */
            cli_error(cmd_create.name, "%s: %s; try again once it stops changing", o.path,
                      why);
        else if (err > SHOAL_ELAST) /* an errno: say which */
            cli_error(cmd_create.name, "%s: %s: %s", o.path, why, shoal_strerror(err));
        else
            cli_error(cmd_create.name, "%s: %s", o.path, why);
        rc = exit_code(err);
        goto out;
    }
    /* Without --force an existing file is never replaced, even one that
     * appeared while hashing. */
    int wrc = shoal_write_file(output, data, len, force ? 0 : SHOAL_WRITE_NO_REPLACE);
    if (wrc) {
        cli_error(cmd_create.name, "cannot write %s: %s", output, shoal_strerror(wrc));
        rc = wrc == -EEXIST ? EXIT_USAGE : EXIT_FAIL;
        goto out;
    }
    print_summary(output, data, len, (double)(done_ns - prog.start_ns) / 1e9);
out:
    shoal_free(data);
    free(trackers);
    free(webseeds);
    return rc;
}

const struct cmd_entry cmd_create = {
    .name = "create",
    .usage = "PATH [-o FILE] [-t TRACKER]... [-w WEBSEED]... [--private] "
             "[--piece-size N] [--comment TEXT] [--source TEXT] [--no-date] "
             "[-j THREADS] [--follow-symlinks] [--force]",
    .summary = "make a .torrent for a file or a folder",
    .run = run,
};
