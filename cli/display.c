/*
 * display.c — the progress line, event lines and closing lines of the
 * session commands. CLI layer.
 *
 * On a terminal one live line is redrawn in place, cut to the terminal's
 * width so that it never wraps (a wrapped line can no longer be redrawn
 * with a carriage return). Elsewhere (a pipe, a log collector) a plain line
 * comes every few seconds while something downloads and once a minute
 * while it only seeds, plus one at each change of state. Event lines end the
 * live line first so that the two never mix.
 */
#include "display.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "cmd.h"

/* Plain progress lines: this often while downloading or checking... */
#define DISPLAY_PLAIN_BUSY_MS 5000
/* ... and this often while seeding or waiting, when little changes. */
#define DISPLAY_PLAIN_IDLE_MS 60000
/* Width assumed when the terminal does not say (the classic one). */
#define DISPLAY_DEFAULT_COLUMNS 80
/* Torrents one display shows (the session commands take at most 64). */
#define DISPLAY_MAX_TORRENTS 64
/* Trackers whose last failure is remembered, so each is shown once. */
#define DISPLAY_MAX_TRACKER_NOTES 64

struct shown {
    shoal_torrent *t;
    char name[256];
    int reported;                     /* the "N of M pieces verified" line is out */
    uint64_t start_ns;                /* when it was added: the finished line's clock */
    uint64_t plain_ms;                /* when its last plain line was printed; 0 = due */
    struct shoal_torrent_status last; /* as display_end saw it */
    char state[32];                   /* last.state_name, kept past the session */
};

/* The last failure shown for one tracker (by URL). */
struct tracker_note {
    char url[256];
    char why[256];
};

struct display {
    const char *cmd;
    int tty;
    int verbose;
    int check_failed;  /* the check of some torrent's data could not read it */
    int line_open;     /* a live line is on screen without its newline */
    uint64_t start_ns; /* shoal_now_ns() at display_new */
    FILE *log;         /* --log FILE, or NULL */
    struct shown shown[DISPLAY_MAX_TORRENTS];
    int nshown;
    struct tracker_note notes[DISPLAY_MAX_TRACKER_NOTES];
    int nnotes;
};

/* ------------------------------------------------------------------ formatting */

/* Three significant digits in binary units: "512 B", "1.50 MiB", "15.0 GiB". */
static void
fmt_size(uint64_t n, char *out, size_t len)
{
    static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
    double v = (double)n;
    size_t u = 0;
    while (v >= 1024 && u + 1 < sizeof(units) / sizeof(units[0])) {
        v /= 1024;
        u++;
    }
    if (u == 0)
        snprintf(out, len, "%" PRIu64 " B", n);
    else if (v < 10)
        snprintf(out, len, "%.2f %s", v, units[u]);
    else if (v < 100)
        snprintf(out, len, "%.1f %s", v, units[u]);
    else
        snprintf(out, len, "%.0f %s", v, units[u]);
}

/* "12.3/30.0 MiB": both in the unit of the total, so they compare at a
 * glance. */
static void
fmt_size_pair(uint64_t done, uint64_t total, char *out, size_t len)
{
    static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
    double div = 1;
    size_t u = 0;
    while ((double)total / div >= 1024 && u + 1 < sizeof(units) / sizeof(units[0])) {
        div *= 1024;
        u++;
    }
    if (u == 0)
        snprintf(out, len, "%" PRIu64 "/%" PRIu64 " B", done, total);
    else
        snprintf(out, len, "%.1f/%.1f %s", (double)done / div, (double)total / div,
                 units[u]);
}

static void
fmt_eta(uint64_t left, uint64_t rate, char *out, size_t len)
{
    if (left == 0) {
        snprintf(out, len, "0:00");
        return;
    }
    if (rate == 0) {
        snprintf(out, len, "--:--");
        return;
    }
    uint64_t s = (left + rate - 1) / rate;
    if (s >= 100 * 3600)
        snprintf(out, len, ">99h");
    else if (s >= 3600)
        snprintf(out, len, "%" PRIu64 ":%02" PRIu64 ":%02" PRIu64, s / 3600, s / 60 % 60,
                 s % 60);
    else
        snprintf(out, len, "%" PRIu64 ":%02" PRIu64, s / 60, s % 60);
}

/* What a progress line shows, summed over the torrents it covers. */
struct line_view {
    const char *state;
    char state_buf[48]; /* "fetching metadata (3 peers)" */
    int size_unknown;   /* no metadata yet: no ETA to give */
    double pct;
    uint64_t done, total;
    uint64_t down, up;
    int peers, seeds;
    int web_seeds;
    int seeding; /* everything wanted is there */
};

/*
 * Writes the richest form of the line that fits in `width` columns, shorter
 * forms dropping first the upload rate, then the seeds, then the peers and
 * rates; the state and the percentage always stay (cut at the width if even
 * they do not fit).
 */
static void
format_line(const struct line_view *v, int width, char *out, size_t len)
{
    char bytes[48], down[24], up[24], eta[24];
    fmt_size_pair(v->done, v->total, bytes, sizeof(bytes));
    fmt_size(v->down, down, sizeof(down));
    fmt_size(v->up, up, sizeof(up));
    fmt_eta(v->total - v->done, v->down, eta, sizeof(eta));
    if (v->size_unknown)
        snprintf(eta, sizeof(eta), "--:--");
    char pct[16];
    snprintf(pct, sizeof(pct), "%5.1f%%", v->pct);
    char peers[32], webs[40] = "";
    snprintf(peers, sizeof(peers), "%d peer%s", v->peers, v->peers == 1 ? "" : "s");
    if (v->web_seeds > 0)
        snprintf(webs, sizeof(webs), " + %d web seed%s", v->web_seeds,
                 v->web_seeds == 1 ? "" : "s");
    char form[4][256];
    snprintf(form[0], sizeof(form[0]),
             "%-11s %s  %s  down %s/s  up %s/s  %s (%d seed%s)%s  ETA %s", v->state, pct,
             bytes, down, up, peers, v->seeds, v->seeds == 1 ? "" : "s", webs, eta);
    /* A seeder's figure is what it sends, a downloader's what it gets. */
    if (v->seeding)
        snprintf(form[1], sizeof(form[1]), "%s %s  %s  up %s/s  %s%s", v->state, pct,
                 bytes, up, peers, webs);
    else
        snprintf(form[1], sizeof(form[1]), "%s %s  %s  down %s/s  %s%s  ETA %s", v->state,
                 pct, bytes, down, peers, webs, eta);
    snprintf(form[2], sizeof(form[2]), "%s %s %s ETA %s", v->state, pct, bytes, eta);
    snprintf(form[3], sizeof(form[3]), "%s %s", v->state, pct);
    for (size_t i = 0; i < 4; i++) {
        if ((int)strlen(form[i]) <= width || i == 3) {
            snprintf(out, len, "%.*s", width > 0 ? width : 1, form[i]);
            return;
        }
    }
}

static void
view_of(const struct shoal_torrent_status *st, struct line_view *v)
{
    memset(v, 0, sizeof(*v));
    v->state = st->state_name;
    v->done = st->have_wanted;
    v->total = st->total_wanted;
    v->pct = st->total_wanted ? 100.0 * (double)st->have_wanted / (double)st->total_wanted
                              : 100.0;
    /* While the existing data is checked, the percentage is the check's. */
    if (st->state == SHOAL_TS_CHECKING)
        v->pct = 100.0 * st->check_progress;
    /* Without metadata nothing is known to be wanted: the share of the
     * metadata itself, and how many peers offer it. */
    if (st->state == SHOAL_TS_METADATA) {
        uint32_t pieces = (st->metadata_size + 16383) / 16384;
        v->pct = pieces ? 100.0 * st->metadata_have / pieces : 0.0;
        v->total = st->metadata_size;
        v->done = (uint64_t)st->metadata_have * 16384;
        if (v->done > v->total)
            v->done = v->total;
        snprintf(v->state_buf, sizeof(v->state_buf), "fetching metadata (%d peer%s)",
                 st->metadata_peers, st->metadata_peers == 1 ? "" : "s");
        v->state = v->state_buf;
        v->size_unknown = 1;
    }
    v->down = st->down_rate;
    v->up = st->up_rate;
    v->peers = st->peers;
    v->seeds = st->seeds;
    v->web_seeds = st->web_seeds;
    v->seeding = st->state == SHOAL_TS_SEEDING;
}

/* The columns of the terminal on stderr; one is kept free, because a
 * character in the last column makes some terminals wrap at once. */
static int
line_width(void)
{
    struct winsize ws;
    int cols = DISPLAY_DEFAULT_COLUMNS;
    if (ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0)
        cols = ws.ws_col;
    return cols > 1 ? cols - 1 : 1;
}

/* ------------------------------------------------------------------ output */

static void
end_line(struct display *d)
{
    if (d->line_open) {
        fputs("\r\033[K", stderr);
        d->line_open = 0;
    }
}

static void
stamp(char *out, size_t len, const char *fmt)
{
    time_t now = time(NULL);
    struct tm tm;
    if (!localtime_r(&now, &tm) || !strftime(out, len, fmt, &tm))
        snprintf(out, len, "?");
}

static void
log_line(struct display *d, const char *text)
{
    if (!d->log)
        return;
    char when[32];
    stamp(when, sizeof(when), "%Y-%m-%d %H:%M:%S");
    fprintf(d->log, "%s %s: %s\n", when, d->cmd, text);
    fflush(d->log);
}

/*
 * One event line: "shoal CMD: [NAME: ]TEXT", on stderr when `show` (with a
 * timestamp under -v), and in the log file always. The live line is ended
 * first and redrawn by the next tick.
 */
static void __attribute__((format(printf, 4, 5)))
say(struct display *d, int show, const struct shown *s, const char *fmt, ...)
{
    char text[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof(text), fmt, ap);
    va_end(ap);
    char line[1400];
    if (s && d->nshown > 1)
        snprintf(line, sizeof(line), "%s: %s", s->name, text);
    else
        snprintf(line, sizeof(line), "%s", text);
    log_line(d, line);
    if (!show)
        return;
    end_line(d);
    if (d->verbose) {
        char when[16];
        stamp(when, sizeof(when), "%H:%M:%S");
        fprintf(stderr, "shoal %s: [%s] %s\n", d->cmd, when, line);
    } else {
        fprintf(stderr, "shoal %s: %s\n", d->cmd, line);
    }
    fflush(stderr);
}

static struct shown *
find_shown(struct display *d, const shoal_torrent *t)
{
    for (int i = 0; i < d->nshown; i++)
        if (d->shown[i].t == t)
            return &d->shown[i];
    return NULL;
}

/* The live line: one for all torrents, the sum of their figures. */
static void
draw_live(struct display *d)
{
    struct line_view sum;
    memset(&sum, 0, sizeof(sum));
    int active = 0;
    for (int i = 0; i < d->nshown; i++) {
        struct shoal_torrent_status st;
        struct line_view v;
        shoal_torrent_status(d->shown[i].t, &st);
        view_of(&st, &v);
        if (v.state == v.state_buf) {
            memcpy(sum.state_buf, v.state_buf, sizeof(sum.state_buf));
            sum.state = sum.state_buf;
        } else {
            sum.state = v.state;
        }
        sum.done += v.done;
        sum.total += v.total;
        sum.down += v.down;
        sum.up += v.up;
        sum.peers += v.peers;
        sum.seeds += v.seeds;
        sum.web_seeds += v.web_seeds;
        sum.size_unknown |= v.size_unknown;
        active += !v.seeding;
        if (d->nshown == 1)
            sum.pct = v.pct;
    }
    char label[32];
    sum.seeding = active == 0;
    if (d->nshown > 1) {
        snprintf(label, sizeof(label), "%d/%d done", d->nshown - active, d->nshown);
        sum.state = label;
        sum.pct = sum.total ? 100.0 * (double)sum.done / (double)sum.total : 100.0;
    }
    if (!sum.state)
        return;
    char line[512];
    format_line(&sum, line_width(), line, sizeof(line));
    fprintf(stderr, "\r%s\033[K", line);
    fflush(stderr);
    d->line_open = 1;
}

/* "  tracker: 12 seeders, 3 leechers, 40 downloaded", leaving out what no
 * tracker has said (a count of -1); "" when none said anything. */
static void
swarm_counts(const struct shoal_torrent_status *st, char *out, size_t len)
{
    const int64_t v[3] = {st->tracker_seeders, st->tracker_leechers,
                          st->tracker_downloaded};
    static const char *const what[3] = {"seeders", "leechers", "downloaded"};
    size_t n = 0;
    out[0] = '\0';
    for (int i = 0; i < 3 && n < len; i++) {
        if (v[i] < 0)
            continue;
        int w = snprintf(out + n, len - n, "%s %" PRId64 " %s",
                         n ? "," : "  tracker:", v[i], what[i]);
        if (w < 0)
            break;
        n += (size_t)w;
    }
}

/* A plain line for one torrent when it is due: with the swarm as the
 * trackers count it, since a plain line may be as long as it likes. */
static void
draw_plain(struct display *d, struct shown *s, int force)
{
    struct shoal_torrent_status st;
    shoal_torrent_status(s->t, &st);
    uint64_t now = shoal_now_ns() / 1000000;
    int busy = st.state == SHOAL_TS_DOWNLOADING || st.state == SHOAL_TS_CHECKING ||
               st.state == SHOAL_TS_METADATA;
    uint64_t every = busy ? DISPLAY_PLAIN_BUSY_MS : DISPLAY_PLAIN_IDLE_MS;
    if (!force && s->plain_ms && now - s->plain_ms < every)
        return;
    s->plain_ms = now;
    struct line_view v;
    view_of(&st, &v);
    char line[512];
    format_line(&v, (int)sizeof(line) - 1, line, sizeof(line));
    char swarm[128] = "";
    swarm_counts(&st, swarm, sizeof(swarm));
    if (d->nshown > 1)
        fprintf(stderr, "%s: %s%s\n", s->name, line, swarm);
    else
        fprintf(stderr, "%s%s\n", line, swarm);
    fflush(stderr);
}

/* ------------------------------------------------------------------ trackers */

static struct tracker_note *
note_for(struct display *d, const char *url, int create)
{
    for (int i = 0; i < d->nnotes; i++)
        if (!strcmp(d->notes[i].url, url))
            return &d->notes[i];
    if (!create || d->nnotes == DISPLAY_MAX_TRACKER_NOTES)
        return NULL;
    struct tracker_note *n = &d->notes[d->nnotes++];
    snprintf(n->url, sizeof(n->url), "%s", url);
    n->why[0] = '\0';
    return n;
}

/*
 * A tracker's failure is shown when it first happens and when its reason
 * changes, not at each retry: a tracker that is down would otherwise fill
 * the screen. Returns 1 when the message should be shown.
 */
static int
tracker_failure_is_news(struct display *d, const char *msg)
{
    if (strncmp(msg, "tracker ", 8) != 0)
        return 1;
    const char *url = msg + 8;
    const char *colon = strstr(url, ": ");
    if (!colon || colon - url >= 256)
        return 1;
    char key[256];
    snprintf(key, sizeof(key), "%.*s", (int)(colon - url), url);
    struct tracker_note *n = note_for(d, key, 1);
    if (!n)
        return 1;
    if (!strcmp(n->why, colon + 2))
        return 0;
    snprintf(n->why, sizeof(n->why), "%s", colon + 2);
    return 1;
}

/* Says so when a tracker whose failure was shown answers again. */
static void
note_recoveries(struct display *d, const struct shown *s)
{
    size_t n = shoal_torrent_tracker_count(s->t);
    for (size_t i = 0; i < n; i++) {
        struct shoal_tracker_info ti;
        if (shoal_torrent_tracker(s->t, i, &ti) != 0 || !ti.working || ti.announce_error)
            continue;
        struct tracker_note *note = note_for(d, ti.url, 0);
        if (!note || !note->why[0])
            continue;
        note->why[0] = '\0';
        say(d, 1, s, "tracker %s: working again", ti.url);
    }
}

/* With -v, each tracker's last word: its counts and what failed. */
static void
show_trackers(struct display *d, const struct shown *s)
{
    size_t n = shoal_torrent_tracker_count(s->t);
    for (size_t i = 0; i < n; i++) {
        struct shoal_tracker_info ti;
        if (shoal_torrent_tracker(s->t, i, &ti) != 0)
            continue;
        say(d, 1, s,
            "tracker %s (tier %d): seeders=%" PRId64 " leechers=%" PRId64
            " downloaded=%" PRId64 "%s%s%s%s",
            ti.url, ti.tier, ti.seeders, ti.leechers, ti.downloaded,
            ti.announce_error ? "; announce: " : "",
            ti.announce_error ? ti.announce_error : "",
            ti.scrape_error ? "; scrape: " : "", ti.scrape_error ? ti.scrape_error : "");
    }
}

/* ------------------------------------------------------------------ events */

/* Says once what the data on disk holds, when it is known: at once with
 * matching resume state, else when the check ends. A check that could not
 * read the data stops the run, as it did when checks ran before the start. */
static void
report_verified(struct display *d, shoal_session *ss, struct shown *s)
{
    struct shoal_torrent_status st;
    shoal_torrent_status(s->t, &st);
    if (s->reported || st.state == SHOAL_TS_CHECKING || st.state == SHOAL_TS_METADATA)
        return;
    /* A magnet's name is the metadata's once it came. */
    snprintf(s->name, sizeof(s->name), "%s", shoal_torrent_name(s->t));
    s->reported = 1;
    if (st.state == SHOAL_TS_ERROR) {
        d->check_failed = 1;
        shoal_session_stop(ss);
        return;
    }
    end_line(d);
    /* Always with the name: scripts look for this line. */
    char text[512];
    snprintf(text, sizeof(text), "%s: %s, %" PRIu32 " of %" PRIu32 " pieces verified",
             s->name, st.state_name, st.pieces_have, st.piece_count);
    log_line(d, text);
    fprintf(stderr, "shoal %s: %s\n", d->cmd, text);
    fflush(stderr);
}

static void
on_finished(struct display *d, struct shown *s)
{
    struct shoal_torrent_status st;
    shoal_torrent_status(s->t, &st);
    /* The line at 100% stays on screen, so the last figure there is the
     * true one. */
    if (d->tty) {
        draw_live(d);
        fputc('\n', stderr);
        d->line_open = 0;
    }
    double secs = (double)(shoal_now_ns() - s->start_ns) / 1e9;
    char got[32], rate[32], total[32];
    fmt_size(st.downloaded, got, sizeof(got));
    fmt_size(secs > 0 ? (uint64_t)((double)st.downloaded / secs) : 0, rate, sizeof(rate));
    fmt_size(st.total_wanted, total, sizeof(total));
    char text[512];
    snprintf(text, sizeof(text),
             "finished: %s: %s fetched in %.3f s (%s/s); %s, all %" PRIu32
             " pieces verified",
             s->name, got, secs, rate, total, st.pieces_have);
    log_line(d, text);
    fprintf(stderr, "shoal %s: %s\n", d->cmd, text);
    fflush(stderr);
}

void
display_on_event(shoal_session *ss, const struct shoal_event *ev, void *user)
{
    struct display *d = user;
    struct shown *s = ev->torrent ? find_shown(d, ev->torrent) : NULL;
    /* A torrent that is being added: display_add reports its state as soon
     * as the add returns, and it has no line yet; its other events (a
     * tracker refused at once, say) are shown as they come. */
    if (ev->torrent && !s &&
        (ev->type == SHOAL_EV_STATE_CHANGED || ev->type == SHOAL_EV_TICK ||
         ev->type == SHOAL_EV_FINISHED))
        return;
    switch (ev->type) {
    case SHOAL_EV_TICK:
        note_recoveries(d, s);
        if (d->tty) {
            /* One redraw per second however many torrents there are. */
            if (s == &d->shown[0])
                draw_live(d);
        } else {
            draw_plain(d, s, 0);
        }
        break;
    case SHOAL_EV_FINISHED:
        on_finished(d, s);
        break;
    case SHOAL_EV_STATE_CHANGED:
        say(d, 1, s, "%s", ev->message);
        if (s) {
            report_verified(d, ss, s);
            s->plain_ms = 0; /* a plain line with the new state, at the next tick */
        }
        break;
    case SHOAL_EV_WARNING:
        say(d, tracker_failure_is_news(d, ev->message), s, "%s", ev->message);
        break;
    case SHOAL_EV_PEER_BANNED:
    case SHOAL_EV_ERROR:
    case SHOAL_EV_PIECE_FAILED:
        say(d, 1, s, "%s%s%s", ev->peer ? ev->peer : "", ev->peer ? ": " : "",
            ev->message);
        break;
    case SHOAL_EV_LOG:
        say(d, d->verbose, s, "%s", ev->message);
        break;
    case SHOAL_EV_PEER_CONNECTED:
    case SHOAL_EV_PEER_DISCONNECTED:
        /* "ADDR: outgoing", "ADDR: bad handshake: ...": the peer and what
         * happened, in the words scripts already look for. */
        say(d, d->verbose, s, "%s: %s", ev->peer ? ev->peer : "?",
            ev->message ? ev->message : "");
        break;
    case SHOAL_EV_PIECE_VERIFIED:
        say(d, d->verbose, s, "%s", ev->message);
        break;
    default:
        break;
    }
}

/* ------------------------------------------------------------------ life */

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
    if (!d)
        return;
    if (d->log)
        fclose(d->log);
    free(d);
}

int
display_log_open(struct display *d, const char *path)
{
    FILE *f = fopen(path, "ae");
    if (!f)
        return -errno;
    if (d->log)
        fclose(d->log);
    d->log = f;
    return 0;
}

void
display_add(struct display *d, shoal_session *ss, shoal_torrent *t, const char *name)
{
    if (d->nshown == DISPLAY_MAX_TORRENTS)
        return;
    struct shown *s = &d->shown[d->nshown++];
    memset(s, 0, sizeof(*s));
    s->t = t;
    s->start_ns = shoal_now_ns();
    snprintf(s->name, sizeof(s->name), "%s", name);
    struct shoal_torrent_status st;
    shoal_torrent_status(t, &st);
    if (st.state == SHOAL_TS_CHECKING) {
        char text[512];
        snprintf(text, sizeof(text),
                 "%s: checking the existing data (%" PRIu32 " pieces)", s->name,
                 st.piece_count);
        log_line(d, text);
        end_line(d);
        fprintf(stderr, "shoal %s: %s\n", d->cmd, text);
    }
    report_verified(d, ss, s);
}

int
display_check_failed(const struct display *d)
{
    return d->check_failed;
}

void
display_interrupted(struct display *d)
{
    say(d, 1, NULL, "stopped; run the same command to resume");
}

void
display_end(struct display *d)
{
    end_line(d);
    for (int i = 0; i < d->nshown; i++) {
        struct shown *s = &d->shown[i];
        shoal_torrent_status(s->t, &s->last);
        snprintf(s->state, sizeof(s->state), "%s", s->last.state_name);
        s->last.state_name = NULL; /* owned by the session, gone after free */
        if (d->verbose)
            show_trackers(d, s);
    }
}

void
display_totals(struct display *d)
{
    for (int i = 0; i < d->nshown; i++) {
        const struct shown *s = &d->shown[i];
        const struct shoal_torrent_status *st = &s->last;
        char which[32] = "";
        if (d->nshown > 1)
            snprintf(which, sizeof(which), "torrent=%d ", i + 1);
        /* One stable line per torrent for scripts and tests to read the
         * counters from; these are the very last lines. */
        char text[512];
        snprintf(text, sizeof(text),
                 "totals: %sdownloaded=%" PRIu64 " uploaded=%" PRIu64
                 " hash_failures=%" PRIu32 " banned=%" PRIu32 " pieces=%" PRIu32
                 "/%" PRIu32 " state=%s tracker_seeders=%" PRId64
                 " tracker_leechers=%" PRId64 " tracker_downloaded=%" PRId64,
                 which, st->downloaded, st->uploaded, st->hash_failures, st->banned,
                 st->pieces_have, st->piece_count, s->state, st->tracker_seeders,
                 st->tracker_leechers, st->tracker_downloaded);
        log_line(d, text);
        fprintf(stderr, "shoal %s: %s\n", d->cmd, text);
    }
    fflush(stderr);
}
