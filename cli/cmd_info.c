/*
 * cmd_info.c — `shoal info TORRENT|MAGNET [--json]`: shows what a torrent
 * file or magnet link describes. CLI layer; uses only shoal.h.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <jansson.h>

#include "cmd.h"
#include "shoal.h"

static void
attr_letters(unsigned attr, char out[5])
{
    size_t n = 0;
    if (attr & SHOAL_FILE_PAD)
        out[n++] = 'p';
    if (attr & SHOAL_FILE_EXEC)
        out[n++] = 'x';
    if (attr & SHOAL_FILE_HIDDEN)
        out[n++] = 'h';
    if (attr & SHOAL_FILE_SYMLINK)
        out[n++] = 'l';
    out[n] = '\0';
}

static int
print_json(json_t *obj)
{
    char *s = json_dumps(obj, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    json_decref(obj);
    if (!s) {
        fprintf(stderr, "shoal info: out of memory\n");
        return EXIT_FAIL;
    }
    puts(s);
    free(s);
    return EXIT_OK;
}

static json_t *
json_str_or_null(const char *s)
{
    return s ? json_string(s) : json_null();
}

/* ------------------------------------------------------------------ torrent */

static int
torrent_json(const shoal_metainfo *m)
{
    char hex[41];
    shoal_hex(shoal_metainfo_infohash(m), SHOAL_INFOHASH_LEN, hex);
    char *magnet = shoal_metainfo_magnet(m);
    json_t *o = json_object();
    json_object_set_new(o, "type", json_string("torrent"));
    json_object_set_new(o, "name", json_string(shoal_metainfo_name(m)));
    json_object_set_new(o, "infohash", json_string(hex));
    json_object_set_new(o, "magnet", json_str_or_null(magnet));
    shoal_free(magnet);
    json_object_set_new(o, "total_size",
                        json_integer((json_int_t)shoal_metainfo_total_size(m)));
    json_object_set_new(o, "piece_length", json_integer(shoal_metainfo_piece_length(m)));
    json_object_set_new(o, "piece_count", json_integer(shoal_metainfo_piece_count(m)));
    json_object_set_new(o, "multifile", json_boolean(shoal_metainfo_is_multifile(m)));
    json_object_set_new(o, "private", json_boolean(shoal_metainfo_is_private(m)));

    json_t *files = json_array();
    for (size_t i = 0; i < shoal_metainfo_file_count(m); i++) {
        const struct shoal_file *f = shoal_metainfo_file(m, i);
        json_t *jf = json_object();
        char attr[5];
        attr_letters(f->attr, attr);
        /* The number --only takes: the file's place in the torrent, pad
         * files counted, as the library counts them. */
        json_object_set_new(jf, "index", json_integer((json_int_t)i));
        json_object_set_new(jf, "path", json_string(f->path));
        json_object_set_new(jf, "size", json_integer((json_int_t)f->size));
        json_object_set_new(jf, "offset", json_integer((json_int_t)f->offset));
        json_object_set_new(jf, "attr", json_string(attr));
        if (f->symlink)
            json_object_set_new(jf, "symlink", json_string(f->symlink));
        json_array_append_new(files, jf);
    }
    json_object_set_new(o, "files", files);

    json_t *trackers = json_array();
    for (size_t i = 0; i < shoal_metainfo_tracker_count(m); i++) {
        int tier = 0;
        const char *url = shoal_metainfo_tracker(m, i, &tier);
        json_t *t = json_object();
        json_object_set_new(t, "url", json_string(url));
        json_object_set_new(t, "tier", json_integer(tier));
        json_array_append_new(trackers, t);
    }
    json_object_set_new(o, "trackers", trackers);

    json_t *ws = json_array();
    for (size_t i = 0; i < shoal_metainfo_webseed_count(m); i++)
        json_array_append_new(ws, json_string(shoal_metainfo_webseed(m, i)));
    json_object_set_new(o, "webseeds", ws);

    json_t *nodes = json_array();
    for (size_t i = 0; i < shoal_metainfo_node_count(m); i++) {
        int port = 0;
        const char *host = shoal_metainfo_node(m, i, &port);
        json_t *n = json_object();
        json_object_set_new(n, "host", json_string(host));
        json_object_set_new(n, "port", json_integer(port));
        json_array_append_new(nodes, n);
    }
    json_object_set_new(o, "nodes", nodes);

    json_object_set_new(o, "comment", json_str_or_null(shoal_metainfo_comment(m)));
    json_object_set_new(o, "created_by", json_str_or_null(shoal_metainfo_creator(m)));
    int64_t date = shoal_metainfo_creation_date(m);
    json_object_set_new(o, "creation_date", date >= 0 ? json_integer(date) : json_null());
    json_object_set_new(o, "source", json_str_or_null(shoal_metainfo_source(m)));

    json_t *warnings = json_array();
    for (size_t i = 0; i < shoal_metainfo_warning_count(m); i++)
        json_array_append_new(warnings, json_string(shoal_metainfo_warning(m, i)));
    json_object_set_new(o, "warnings", warnings);
    return print_json(o);
}

/* Prints the file list as an indented tree; folders are shown once. Each
 * file line starts with its index, the number --only takes (pad files are
 * counted: the library counts them too). */
static void
print_tree(const shoal_metainfo *m)
{
    const char *prev = "";
    size_t nfiles = shoal_metainfo_file_count(m);
    int w = 1;
    for (size_t n = nfiles > 0 ? nfiles - 1 : 0; n >= 10; n /= 10)
        w++;
    for (size_t i = 0; i < nfiles; i++) {
        const struct shoal_file *f = shoal_metainfo_file(m, i);
        /* Skip the folders this file shares with the one before it. */
        size_t common = 0, depth = 0;
        for (size_t k = 0; prev[k] && prev[k] == f->path[k]; k++)
            if (f->path[k] == '/') {
                common = k + 1;
                depth++;
            }
        const char *p = f->path + common;
        const char *slash;
        while ((slash = strchr(p, '/')) != NULL) {
            printf("  %*s  %*s%.*s/\n", w, "", (int)(2 * depth), "", (int)(slash - p), p);
            depth++;
            p = slash + 1;
        }
        char size[32], attr[5];
        cli_human_size(f->size, size, sizeof(size));
        attr_letters(f->attr, attr);
        printf("  %*zu  %*s%s  (%s)%s%s%s%s\n", w, i, (int)(2 * depth), "", p, size,
               attr[0] ? " [" : "", attr, attr[0] ? "]" : "",
               f->attr & SHOAL_FILE_PAD ? " padding" : "");
        if (f->symlink)
            printf("  %*s  %*s  -> %s\n", w, "", (int)(2 * depth), "", f->symlink);
        prev = f->path;
    }
}

static int
torrent_text(const shoal_metainfo *m)
{
    char hex[41], size[32], piece[32];
    shoal_hex(shoal_metainfo_infohash(m), SHOAL_INFOHASH_LEN, hex);
    cli_human_size(shoal_metainfo_total_size(m), size, sizeof(size));
    cli_human_size(shoal_metainfo_piece_length(m), piece, sizeof(piece));
    char *magnet = shoal_metainfo_magnet(m);

    printf("name:        %s\n", shoal_metainfo_name(m));
    printf("infohash:    %s\n", hex);
    printf("magnet:      %s\n", magnet ? magnet : "(out of memory)");
    shoal_free(magnet);
    printf("size:        %s (%" PRIu64 " bytes)\n", size, shoal_metainfo_total_size(m));
    printf("pieces:      %" PRIu32 " x %s\n", shoal_metainfo_piece_count(m), piece);
    printf("private:     %s\n", shoal_metainfo_is_private(m) ? "yes" : "no");
    if (shoal_metainfo_creator(m))
        printf("created by:  %s\n", shoal_metainfo_creator(m));
    int64_t date = shoal_metainfo_creation_date(m);
    if (date >= 0) {
        time_t t = (time_t)date;
        struct tm tm;
        char when[64];
        if (gmtime_r(&t, &tm) &&
            strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S UTC", &tm))
            printf("created:     %s\n", when);
    }
    if (shoal_metainfo_comment(m))
        printf("comment:     %s\n", shoal_metainfo_comment(m));
    if (shoal_metainfo_source(m))
        printf("source:      %s\n", shoal_metainfo_source(m));
    if (shoal_metainfo_tracker_count(m)) {
        printf("trackers:\n");
        for (size_t i = 0; i < shoal_metainfo_tracker_count(m); i++) {
            int tier = 0;
            const char *url = shoal_metainfo_tracker(m, i, &tier);
            printf("  tier %d  %s\n", tier, url);
        }
    }
    if (shoal_metainfo_webseed_count(m)) {
        printf("web seeds:\n");
        for (size_t i = 0; i < shoal_metainfo_webseed_count(m); i++)
            printf("  %s\n", shoal_metainfo_webseed(m, i));
    }
    if (shoal_metainfo_node_count(m)) {
        printf("dht nodes:\n");
        for (size_t i = 0; i < shoal_metainfo_node_count(m); i++) {
            int port = 0;
            const char *host = shoal_metainfo_node(m, i, &port);
            printf("  %s:%d\n", host, port);
        }
    }
    printf("files (%zu, numbered as get --only counts them):\n",
           shoal_metainfo_file_count(m));
    print_tree(m);
    return EXIT_OK;
}

/* ------------------------------------------------------------------ magnet */

static int
magnet_json(const shoal_magnet *mg)
{
    char hex[41];
    shoal_hex(shoal_magnet_infohash(mg), SHOAL_INFOHASH_LEN, hex);
    json_t *o = json_object();
    json_object_set_new(o, "type", json_string("magnet"));
    json_object_set_new(o, "name", json_str_or_null(shoal_magnet_name(mg)));
    json_object_set_new(o, "infohash", json_string(hex));
    char *uri = shoal_magnet_format(mg);
    json_object_set_new(o, "magnet", json_str_or_null(uri));
    shoal_free(uri);
    /* The torrent's schema: a magnet's tr= parameters have no tiers, so
     * each is a tier of its own, in the order given (BEP 9). */
    json_t *a = json_array();
    for (size_t i = 0; i < shoal_magnet_tracker_count(mg); i++) {
        json_t *t = json_object();
        json_object_set_new(t, "url", json_string(shoal_magnet_tracker(mg, i)));
        json_object_set_new(t, "tier", json_integer((json_int_t)i));
        json_array_append_new(a, t);
    }
    json_object_set_new(o, "trackers", a);
    a = json_array();
    for (size_t i = 0; i < shoal_magnet_webseed_count(mg); i++)
        json_array_append_new(a, json_string(shoal_magnet_webseed(mg, i)));
    json_object_set_new(o, "webseeds", a);
    a = json_array();
    for (size_t i = 0; i < shoal_magnet_peer_count(mg); i++)
        json_array_append_new(a, json_string(shoal_magnet_peer(mg, i)));
    json_object_set_new(o, "peers", a);
    a = json_array();
    for (size_t i = 0; i < shoal_magnet_select_count(mg); i++) {
        uint32_t first, last;
        shoal_magnet_select(mg, i, &first, &last);
        json_t *r = json_array();
        json_array_append_new(r, json_integer(first));
        json_array_append_new(r, json_integer(last));
        json_array_append_new(a, r);
    }
    json_object_set_new(o, "select_only", a);
    return print_json(o);
}

static int
magnet_text(const shoal_magnet *mg)
{
    char hex[41];
    shoal_hex(shoal_magnet_infohash(mg), SHOAL_INFOHASH_LEN, hex);
    printf("name:        %s\n", shoal_magnet_name(mg) ? shoal_magnet_name(mg) : "(none)");
    printf("infohash:    %s\n", hex);
    printf("metadata:    not yet fetched (files, size and pieces come from peers)\n");
    if (shoal_magnet_tracker_count(mg)) {
        printf("trackers:\n");
        for (size_t i = 0; i < shoal_magnet_tracker_count(mg); i++)
            printf("  tier %zu  %s\n", i, shoal_magnet_tracker(mg, i));
    }
    if (shoal_magnet_webseed_count(mg)) {
        printf("web seeds:\n");
        for (size_t i = 0; i < shoal_magnet_webseed_count(mg); i++)
            printf("  %s\n", shoal_magnet_webseed(mg, i));
    }
    if (shoal_magnet_peer_count(mg)) {
        printf("peers:\n");
        for (size_t i = 0; i < shoal_magnet_peer_count(mg); i++)
            printf("  %s\n", shoal_magnet_peer(mg, i));
    }
    if (shoal_magnet_select_count(mg)) {
        printf("select only:");
        for (size_t i = 0; i < shoal_magnet_select_count(mg); i++) {
            uint32_t first, last;
            shoal_magnet_select(mg, i, &first, &last);
            if (first == last)
                printf(" %" PRIu32, first);
            else
                printf(" %" PRIu32 "-%" PRIu32, first, last);
        }
        printf("\n");
    }
    return EXIT_OK;
}

/* ------------------------------------------------------------------ command */

static const struct opt_def info_opts[] = {
    {1, "json", 0, NULL, "off", "print one JSON object instead of text, for scripts",
     OPT_CONFIG},
    {0},
};

static int
set_info(void *ctx, int id, const char *val, char *why, size_t whylen)
{
    (void)id;
    (void)why;
    (void)whylen;
    *(int *)ctx = val[0] == '1';
    return 0;
}

static int
run_info(void *ctx, int argc, char **argv)
{
    int json = *(int *)ctx;
    (void)argc;
    const char *arg = argv[0];
    struct shoal_perr err;
    memset(&err, 0, sizeof(err));

    if (!strncasecmp(arg, "magnet:", 7)) {
        shoal_magnet *mg = NULL;
        int rc = shoal_magnet_parse(arg, &mg, &err);
        if (rc) {
            cli_error("info", "bad magnet: %s (at character %zu)", shoal_perr_text(&err),
                      err.off);
            return rc == SHOAL_ENOMEM ? EXIT_FAIL : EXIT_USAGE;
        }
        rc = json ? magnet_json(mg) : magnet_text(mg);
        shoal_magnet_free(mg);
        return rc;
    }

    shoal_metainfo *m = NULL;
    int rc = shoal_metainfo_load(arg, &m, &err);
    if (rc == SHOAL_EPARSE || rc == SHOAL_ETOOBIG) {
        cli_error("info", "bad torrent: %s (at byte %zu)", shoal_perr_text(&err),
                  err.off);
        return EXIT_USAGE;
    }
    if (rc) {
        cli_error("info", "%s: %s: %s", arg, shoal_perr_text(&err), shoal_strerror(rc));
        /* A path that names nothing is the user's mistake; other I/O is not. */
        return rc == -ENOENT || rc == -EISDIR ? EXIT_USAGE : EXIT_FAIL;
    }
    for (size_t i = 0; i < shoal_metainfo_warning_count(m); i++)
        cli_error("info", "note: %s", shoal_metainfo_warning(m, i));
    rc = json ? torrent_json(m) : torrent_text(m);
    shoal_metainfo_free(m);
    return rc;
}

const struct cmd_entry cmd_info = {
    .name = "info",
    .args = "TORRENT|MAGNET",
    .summary = "show what a torrent file or magnet link holds",
    .about = "Shows what a torrent file or magnet link describes: name, infohash, "
             "magnet link, size, pieces, trackers by tier, web seeds, and the files, "
             "each with the number that get --only takes.",
    .opts = info_opts,
    .min_args = 1,
    .max_args = 1,
    .ctx_size = sizeof(int),
    .set = set_info,
    .run = run_info,
};
