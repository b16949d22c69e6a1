/*
 * cmd_create.c — `shoal create PATH [...]`: makes a .torrent for a file or a
 * folder. CLI layer; uses only shoal.h. The library scans and hashes; this
 * file parses options, shows progress, and writes the result atomically
 * (shoal_write_file: a fresh temporary file, fsync, then a rename), so a
 * crash never leaves half a torrent under the final name.
 */
#include <errno.h>
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

/* Trackers and web seeds one torrent may list from the command line. */
#define MAX_URLS 256

enum {
    OPT_OUTPUT = 1,
    OPT_TRACKER,
    OPT_WEBSEED,
    OPT_PRIVATE,
    OPT_PIECE_SIZE,
    OPT_COMMENT,
    OPT_SOURCE,
    OPT_NO_DATE,
    OPT_THREADS,
    OPT_FOLLOW_SYMLINKS,
    OPT_FORCE,
};

/* clang-format off */
static const struct opt_def create_opts[] = {
    {OPT_OUTPUT, "output", 'o', "FILE", "NAME.torrent in the current folder",
     "write the torrent to FILE", 0},
    {OPT_TRACKER, "tracker", 't', "URL", "none",
     "add a tracker tier; commas separate the URLs of one tier (BEP 12)",
     OPT_REPEAT | OPT_CONFIG},
    {OPT_WEBSEED, "webseed", 'w', "URL", "none", "add a web seed (BEP 19)",
     OPT_REPEAT | OPT_CONFIG},
    {OPT_PRIVATE, "private", 'p', NULL, "off",
     "private torrent: peers come from its trackers only (BEP 27)", OPT_CONFIG},
    {OPT_PIECE_SIZE, "piece-size", 0, "N", "about 1000-2000 pieces, 16K to 16M",
     "piece size: a power of two from 16K to 64M (K, M: KiB, MiB)", OPT_CONFIG},
    {OPT_COMMENT, "comment", 'c', "TEXT", "none", "add a comment", 0},
    {OPT_SOURCE, "source", 0, "TEXT", "none",
     "add a source tag (changes the infohash)", OPT_CONFIG},
    {OPT_NO_DATE, "no-date", 'd', NULL, "off",
     "leave out the creation date (the same folder then always makes the same "
     "torrent)", OPT_CONFIG},
    {OPT_THREADS, "threads", 'j', "N", "0: one per core", "hashing threads",
     OPT_CONFIG},
    {OPT_FOLLOW_SYMLINKS, "follow-symlinks", 'L', NULL, "off",
     "follow symbolic links (otherwise they are skipped)", OPT_CONFIG},
    {OPT_FORCE, "force", 'f', NULL, "off", "replace an existing output file", 0},
    {0},
};
/* clang-format on */

struct create_ctx {
    struct shoal_create_opts o;
    const char *trackers[MAX_URLS + 1];
    const char *webseeds[MAX_URLS + 1];
    size_t ntrackers, nwebseeds;
    const char *output;
    int force, no_date;
};

/* The library checks each URL's form (and says what is wrong with it). */
static int
add_url(const char **list, size_t *n, const char *val, char *why, size_t whylen)
{
    if (*n >= MAX_URLS) {
        snprintf(why, whylen, "at most %d of them", MAX_URLS);
        return -1;
    }
    list[(*n)++] = val;
    return 0;
}

static int
set_create(void *ctx, int id, const char *val, char *why, size_t whylen)
{
    struct create_ctx *c = ctx;
    uint64_t v;
    int on = val[0] == '1';
    switch (id) {
    case OPT_OUTPUT:
        c->output = val;
        return 0;
    case OPT_TRACKER:
        return add_url(c->trackers, &c->ntrackers, val, why, whylen);
    case OPT_WEBSEED:
        return add_url(c->webseeds, &c->nwebseeds, val, why, whylen);
    case OPT_PRIVATE:
        c->o.private_flag = on;
        return 0;
    case OPT_PIECE_SIZE:
        if (cli_parse_size(val, &v) != 0 || v == 0 || v > UINT32_MAX) {
            snprintf(why, whylen, "expected bytes, or with K or M: 256K, 4M");
            return -1;
        }
        c->o.piece_length = (uint32_t)v;
        return 0;
    case OPT_COMMENT:
        c->o.comment = val;
        return 0;
    case OPT_SOURCE:
        c->o.source = val;
        return 0;
    case OPT_NO_DATE:
        c->no_date = on;
        return 0;
    case OPT_THREADS:
        if (cli_parse_uint(val, 0, MAX_THREADS, &v) != 0) {
            snprintf(why, whylen, "expected a thread count 0-%d (0: one per core)",
                     MAX_THREADS);
            return -1;
        }
        c->o.threads = (unsigned)v;
        return 0;
    case OPT_FOLLOW_SYMLINKS:
        c->o.follow_symlinks = on;
        return 0;
    case OPT_FORCE:
        c->force = on;
        return 0;
    default:
        snprintf(why, whylen, "not an option of create");
        return -1;
    }
}

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
run(void *ctx, int argc, char **argv)
{
    struct create_ctx *c = ctx;
    struct shoal_create_opts *o = &c->o;
    struct shoal_perr perr = {0};
    struct progress prog;
    const char *output = c->output;
    char outbuf[PATH_MAX];
    char creator[64];
    uint8_t *data = NULL;
    size_t len = 0;
    int rc = EXIT_OK;
    uint64_t done_ns;
    struct stat st;

    (void)argc;
    memset(&prog, 0, sizeof(prog));
    o->path = argv[0];
    if (stat(o->path, &st) < 0) {
        cli_error(cmd_create.name, "%s: %s", o->path, strerror(errno));
        return EXIT_USAGE;
    }
    if (!output) {
        if (cli_torrent_name(o->path, outbuf, sizeof(outbuf)) < 0) {
            cli_error(cmd_create.name, "cannot name the output after '%s'; use -o FILE",
                      o->path);
            return EXIT_USAGE;
        }
        output = outbuf;
    }
    if (!c->force && lstat(output, &st) == 0) {
        cli_error(cmd_create.name, "%s exists (use --force to replace it)", output);
        return EXIT_USAGE;
    }

    snprintf(creator, sizeof(creator), "shoal/%s", shoal_version());
    o->trackers = c->trackers;
    o->webseeds = c->webseeds;
    o->creator = creator;
    o->creation_date = c->no_date ? -1 : (int64_t)time(NULL);
    o->progress = on_progress;
    o->user = &prog;
    prog.tty = cli_is_tty();
    prog.start_ns = shoal_now_ns();

    int err = shoal_create_torrent(o, &data, &len, &perr);
    done_ns = shoal_now_ns();
    progress_clear(&prog);
    if (err < 0) {
        /* msg, when set, names the file that failed. */
        const char *why =
            perr.msg[0] || perr.why ? shoal_perr_text(&perr) : shoal_strerror(err);
        if (err == -EAGAIN) /* files changed while hashing */
            cli_error(cmd_create.name, "%s: %s; try again once it stops changing",
                      o->path, why);
        else if (err > SHOAL_ELAST) /* an errno: say which */
            cli_error(cmd_create.name, "%s: %s: %s", o->path, why, shoal_strerror(err));
        else
            cli_error(cmd_create.name, "%s: %s", o->path, why);
        rc = exit_code(err);
        goto out;
    }
    /* Without --force an existing file is never replaced, even one that
     * appeared while hashing. */
    int wrc = shoal_write_file(output, data, len, c->force ? 0 : SHOAL_WRITE_NO_REPLACE);
    if (wrc) {
        cli_error(cmd_create.name, "cannot write %s: %s", output, shoal_strerror(wrc));
        rc = wrc == -EEXIST ? EXIT_USAGE : EXIT_FAIL;
        goto out;
    }
    print_summary(output, data, len, (double)(done_ns - prog.start_ns) / 1e9);
out:
    shoal_free(data);
    return rc;
}

const struct cmd_entry cmd_create = {
    .name = "create",
    .args = "PATH",
    .summary = "make a .torrent for a file or a folder",
    .about = "Makes a .torrent for the file or folder PATH. Files are listed in sorted "
             "order, so the same folder always gives the same torrent (with --no-date, "
             "byte for byte). An existing output file is not replaced without --force.",
    .opts = create_opts,
    .min_args = 1,
    .max_args = 1,
    .ctx_size = sizeof(struct create_ctx),
    .set = set_create,
    .run = run,
};
