/*
 * display.c — the progress line, event lines and closing lines of the
 * session commands. CLI layer.
 */
#include "display.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"

/* Seconds between plain progress lines when stderr is not a terminal. */
#define SWARM_PLAIN_EVERY_S 5

struct display {
    const char *cmd;
    shoal_torrent *t;
    char name[256];   /* the torrent's, for the line that says what was verified */
    int reported;     /* that line is out */
    int check_failed; /* the check of the existing data could not read it */
    int tty;
    int verbose;
    unsigned ticks;
    int line_open;     /* a live line is on screen without its newline */
    uint64_t start_ns; /* shoal_now_ns() when the session started */
    int finished;
    struct shoal_torrent_status last; /* as display_end saw it */
    char state[32];                   /* its state's name */
};

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

void
display_on_event(shoal_session *ss, const struct shoal_event *ev, void *user)
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

struct display *
display_new(const char *cmd, int verbose)
{
    struct display *d = calloc(1, sizeof(*d));
    if (!d)
        return NULL;
    d->cmd = cmd;
    d->tty = cli_is_tty();
    d->verbose = verbose;
    d->start_ns = shoal_now_ns();
    return d;
}

void
display_free(struct display *d)
{
    free(d);
}

void
display_add(struct display *d, shoal_session *ss, shoal_torrent *t, const char *name)
{
    struct shoal_torrent_status st;
    d->t = t;
    snprintf(d->name, sizeof(d->name), "%s", name);
    shoal_torrent_status(t, &st);
    if (st.state == SHOAL_TS_CHECKING)
        fprintf(stderr, "shoal %s: %s: checking the existing data (%" PRIu32 " pieces)\n",
                d->cmd, d->name, st.piece_count);
    report_verified(d, ss, t);
}

int
display_check_failed(const struct display *d)
{
    return d->check_failed;
}

void
display_end(struct display *d)
{
    end_line(d);
    if (!d->t)
        return;
    shoal_torrent_status(d->t, &d->last);
    snprintf(d->state, sizeof(d->state), "%s", d->last.state_name);
    d->last.state_name = NULL; /* owned by the session, gone after free */
    if (d->verbose)
        show_trackers(d->cmd, d->t);
}

void
display_totals(struct display *d)
{
    if (!d->t)
        return;
    const struct shoal_torrent_status *st = &d->last;
    /* One stable line for scripts and tests to read the counters from. */
    fprintf(stderr,
            "shoal %s: totals: downloaded=%" PRIu64 " uploaded=%" PRIu64
            " hash_failures=%" PRIu32 " banned=%" PRIu32 " pieces=%" PRIu32 "/%" PRIu32
            " state=%s tracker_seeders=%" PRId64 " tracker_leechers=%" PRId64
            " tracker_downloaded=%" PRId64 "\n",
            d->cmd, st->downloaded, st->uploaded, st->hash_failures, st->banned,
            st->pieces_have, st->piece_count, d->state, st->tracker_seeders,
            st->tracker_leechers, st->tracker_downloaded);
}

int
display_log_open(struct display *d, const char *path)
{
    (void)d;
    (void)path;
    return 0;
}

void
display_interrupted(struct display *d)
{
    end_line(d);
    fprintf(stderr, "shoal %s: stopped; run the same command to resume\n", d->cmd);
}
