/*
 * swarm.c — runs a session for the get, seed and share commands: common
 * options, the live progress line, and shutdown on a signal. CLI layer.
 */
#include "swarm.h"

#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "cmd.h"

/* Seconds between plain progress lines when stderr is not a terminal. */
#define SWARM_PLAIN_EVERY_S 5

struct display {
    const char *cmd;
    const char *name; /* the torrent's, for the line that says what was verified */
    int reported;     /* that line is out */
    int check_failed; /* the check of the existing data could not read it */
    int tty;
    int verbose;
    unsigned ticks;
    int line_open;     /* a live line is on screen without its newline */
    uint64_t start_ns; /* shoal_now_ns() when the session started */
    int finished;
};

/* The session a signal should stop: one per process, set by swarm_run. */
static shoal_session *signal_target;

static void
on_signal(int sig)
{
    (void)sig;
    if (signal_target)
        shoal_session_stop(signal_target);
}

int
swarm_load(const char *cmd, const char *path, shoal_metainfo **out)
{
    struct shoal_perr err;
    memset(&err, 0, sizeof(err));
    if (!strncasecmp(path, "magnet:", 7)) {
        cli_error(cmd, "magnet links need the metadata exchange, which this build does "
                       "not have yet; use a .torrent file");
        return EXIT_USAGE;
    }
    int rc = shoal_metainfo_load(path, out, &err);
    if (rc == SHOAL_EPARSE || rc == SHOAL_ETOOBIG) {
        cli_error(cmd, "bad torrent: %s (at byte %zu)", shoal_perr_text(&err), err.off);
        return EXIT_USAGE;
    }
    if (rc) {
        cli_error(cmd, "%s: %s: %s", path, shoal_perr_text(&err), shoal_strerror(rc));
        return rc == -ENOENT || rc == -EISDIR ? EXIT_USAGE : EXIT_FAIL;
    }
    return 0;
}

static void
format_eta(uint64_t left, uint64_t rate, char *out, size_t len)
{
    if (rate == 0) {
        snprintf(out, len, "--:--");
        return;
    }
    uint64_t s = left / rate;
    if (s >= 100 * 3600)
        snprintf(out, len, ">99h");
    else
        snprintf(out, len, "%" PRIu64 ":%02" PRIu64 ":%02" PRIu64, s / 3600, s / 60 % 60,
                 s % 60);
}

static void
show_progress(struct display *d, const shoal_torrent *t)
{
    struct shoal_torrent_status st;
    shoal_torrent_status(t, &st);
    double pct = st.total_wanted
                     ? 100.0 * (double)st.have_wanted / (double)st.total_wanted
                     : 100.0;
    /* While the existing data is checked, the percentage is the check's. */
    if (st.state == SHOAL_TS_CHECKING)
        pct = 100.0 * st.check_progress;
    char down[32], up[32], eta[32];
    cli_human_size(st.down_rate, down, sizeof(down));
    cli_human_size(st.up_rate, up, sizeof(up));
    format_eta(st.total_wanted - st.have_wanted, st.down_rate, eta, sizeof(eta));
    /* What the trackers count, once one has said: the whole swarm, not
     * only the peers we are connected to. The live line stays within the
     * width of a terminal, so it is on the plain lines only. */
    char swarm[96] = "";
    if (!d->tty && (st.tracker_seeders >= 0 || st.tracker_leechers >= 0))
        snprintf(swarm, sizeof(swarm),
                 "  tracker: %" PRId64 " seeders, %" PRId64 " leechers, %" PRId64
                 " downloaded",
                 st.tracker_seeders, st.tracker_leechers, st.tracker_downloaded);
    char line[256];
    snprintf(line, sizeof(line),
             "%-11s %5.1f%%  down %s/s  up %s/s  peers %d (%d seeds)  ETA %s%s",
             st.state_name, pct, down, up, st.peers, st.seeds, eta, swarm);
    if (d->tty) {
        fprintf(stderr, "\r%-100s", line);
        d->line_open = 1;
    } else if (d->ticks % SWARM_PLAIN_EVERY_S == 0) {
        fprintf(stderr, "%s\n", line);
    }
    fflush(stderr);
}

static void
end_line(struct display *d)
{
    if (d->line_open) {
        fputc('\n', stderr);
        d->line_open = 0;
    }
}

/* Says once what the data on disk holds, when it is known: at once with
 * matching resume state, else when the check ends. A check that could not
 * read the data stops the run, as it did when checks ran before the start. */
static void
report_verified(struct display *d, shoal_session *ss, const shoal_torrent *t)
{
    struct shoal_torrent_status st;
    shoal_torrent_status(t, &st);
    if (d->reported || st.state == SHOAL_TS_CHECKING)
        return;
    d->reported = 1;
    if (st.state == SHOAL_TS_ERROR) {
        d->check_failed = 1;
        shoal_session_stop(ss);
        return;
    }
    fprintf(stderr, "shoal %s: %s: %s, %" PRIu32 " of %" PRIu32 " pieces verified\n",
            d->cmd, d->name, st.state_name, st.pieces_have, st.piece_count);
}

static void
on_event(shoal_session *ss, const struct shoal_event *ev, void *user)
{
    struct display *d = user;
    switch (ev->type) {
    case SHOAL_EV_TICK:
        d->ticks++;
        show_progress(d, ev->torrent);
        break;
    case SHOAL_EV_FINISHED: {
        double secs = (double)(shoal_now_ns() - d->start_ns) / 1e9;
        struct shoal_torrent_status st;
        shoal_torrent_status(ev->torrent, &st);
        char size[32];
        cli_human_size(st.total_wanted, size, sizeof(size));
        end_line(d);
        fprintf(stderr, "shoal %s: finished: %s in %.3f s, all pieces verified\n", d->cmd,
                size, secs);
        d->finished = 1;
        break;
    }
    case SHOAL_EV_STATE_CHANGED:
    case SHOAL_EV_PEER_BANNED:
    case SHOAL_EV_WARNING:
    case SHOAL_EV_ERROR:
        end_line(d);
        fprintf(stderr, "shoal %s: %s%s%s\n", d->cmd, ev->peer ? ev->peer : "",
                ev->peer ? ": " : "", ev->message);
        if (ev->type == SHOAL_EV_STATE_CHANGED && ev->torrent)
            report_verified(d, ss, ev->torrent);
        break;
    case SHOAL_EV_PIECE_FAILED:
    case SHOAL_EV_LOG:
        if (d->verbose || ev->type == SHOAL_EV_PIECE_FAILED) {
            end_line(d);
            fprintf(stderr, "shoal %s: %s\n", d->cmd, ev->message);
        }
        break;
    default:
        break;
    }
}

/* With -v, each tracker's last word: its counts and what failed. */
static void
show_trackers(const char *cmd, const shoal_torrent *t)
{
    size_t n = shoal_torrent_tracker_count(t);
    for (size_t i = 0; i < n; i++) {
        struct shoal_tracker_info ti;
        if (shoal_torrent_tracker(t, i, &ti) != 0)
            continue;
        fprintf(stderr,
                "shoal %s: tracker %s (tier %d): seeders=%" PRId64 " leechers=%" PRId64
                " downloaded=%" PRId64 "%s%s%s%s\n",
                cmd, ti.url, ti.tier, ti.seeders, ti.leechers, ti.downloaded,
                ti.announce_error ? "; announce: " : "",
                ti.announce_error ? ti.announce_error : "",
                ti.scrape_error ? "; scrape: " : "",
                ti.scrape_error ? ti.scrape_error : "");
    }
}

int
swarm_run(const char *cmd, const struct swarm_opts *o, shoal_metainfo *m)
{
    struct shoal_settings set;
    shoal_settings_init(&set);
    set.port = o->port;
    set.local_only = o->local_only;
    set.max_up = o->max_up;
    set.max_down = o->max_down;
    set.verbose = o->verbose;
    shoal_session *ss = NULL;
    int rc = shoal_session_new(&set, &ss);
    if (rc) {
        cli_error(cmd, "cannot start the session: %s", shoal_strerror(rc));
        shoal_metainfo_free(m);
        return EXIT_FAIL;
    }
    struct display d = {.cmd = cmd, .tty = cli_is_tty(), .verbose = o->verbose};
    d.start_ns = shoal_now_ns();
    shoal_session_set_event_cb(ss, on_event, &d);
    printf("listening on port %d\n", shoal_session_port(ss));
    fflush(stdout);

    struct shoal_torrent_opts topts = {
        .save_dir = o->dir,
        .recheck = o->recheck,
        .sequential = o->sequential,
        .seed_only = o->seed_only,
        .only = o->only,
        .trackers = o->trackers,
    };
    struct shoal_perr err;
    shoal_torrent *t = NULL;
    char name[256];
    snprintf(name, sizeof(name), "%s", shoal_metainfo_name(m));
    d.name = name;
    rc = shoal_session_add(ss, m, &topts, &t, &err);
    if (rc) {
        cli_error(cmd, "%s: %s", name, shoal_perr_text(&err));
        shoal_metainfo_free(m);
        shoal_session_free(ss);
        return rc == SHOAL_EINVAL ? EXIT_USAGE : EXIT_FAIL;
    }
    for (int i = 0; i < o->npeers; i++) {
        rc = shoal_torrent_add_peer(t, o->peers[i]);
        if (rc) {
            cli_error(cmd, "--peer %s: %s", o->peers[i], shoal_strerror(rc));
            shoal_session_free(ss);
            return EXIT_USAGE;
        }
    }
    struct shoal_torrent_status st;
    shoal_torrent_status(t, &st);
    if (st.state == SHOAL_TS_CHECKING)
        fprintf(stderr, "shoal %s: %s: checking the existing data (%" PRIu32 " pieces)\n",
                cmd, name, st.piece_count);
    report_verified(&d, ss, t);

    signal_target = ss;
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    rc = shoal_session_run(ss, o->exit_when_done);
    end_line(&d);
    shoal_torrent_status(t, &st);
    int done = st.have_wanted == st.total_wanted;
    /* One stable line for scripts and tests to read the counters from. */
    fprintf(stderr,
            "shoal %s: totals: downloaded=%" PRIu64 " uploaded=%" PRIu64
            " hash_failures=%" PRIu32 " banned=%" PRIu32 " pieces=%" PRIu32 "/%" PRIu32
            " state=%s tracker_seeders=%" PRId64 " tracker_leechers=%" PRId64
            " tracker_downloaded=%" PRId64 "\n",
            cmd, st.downloaded, st.uploaded, st.hash_failures, st.banned, st.pieces_have,
            st.piece_count, st.state_name, st.tracker_seeders, st.tracker_leechers,
            st.tracker_downloaded);
    if (o->verbose)
        show_trackers(cmd, t);
    signal_target = NULL;
    shoal_session_free(ss);
    if (rc) {
        cli_error(cmd, "session failed: %s", shoal_strerror(rc));
        return EXIT_FAIL;
    }
    if (d.check_failed) {
        /* Why was said when the state changed. */
        cli_error(cmd, "%s: cannot check the existing data", name);
        return EXIT_FAIL;
    }
    if (o->exit_when_done && !done)
        return EXIT_FAIL;
    return EXIT_OK;
}

int
swarm_main(const char *cmd, const struct swarm_opts *o)
{
    if (o->nsources != 1) {
        cli_error(cmd, "one torrent at a time in this build");
        return EXIT_USAGE;
    }
    shoal_metainfo *m = NULL;
    int rc = swarm_load(cmd, o->sources[0], &m);
    if (rc)
        return rc;
    return swarm_run(cmd, o, m);
}
