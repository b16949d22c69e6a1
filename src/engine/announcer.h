/*
 * announcer.h — which tracker a torrent announces to, when, and with which
 * event (BEP 3, BEP 12 multitracker). Engine layer, sans-I/O: it takes the
 * time and the outcome of each announce and says what to send next and when
 * to wake up; the session does the HTTP and UDP work.
 *
 * BEP 12: trackers come in tiers. Within a tier they are shuffled once, then
 * tried in order; one that answers moves to the front of its tier. A torrent
 * announces to the first tier that has a working tracker and moves on to the
 * next tier only when every tracker of a tier failed. Failures back off
 * (30 s, 60 s, ... up to an hour); a tracker's interval and min interval are
 * honoured. `started` goes with the first announce, `completed` once when the
 * download finishes, `stopped` on the way out.
 */
#ifndef SHOAL_ANNOUNCER_H
#define SHOAL_ANNOUNCER_H

#include <stddef.h>
#include <stdint.h>

/* Trackers per torrent, from the torrent, the magnet and --tracker. */
#define ANNOUNCER_MAX_TRACKERS 64
/* First retry after a failure; it doubles up to the maximum. */
#define ANNOUNCER_RETRY_MIN_S 30
#define ANNOUNCER_RETRY_MAX_S 3600
/* Interval used before a tracker said otherwise. */
#define ANNOUNCER_DEFAULT_INTERVAL_S 1800
/* Seconds between scrapes of one tracker, as Transmission does: the counts
 * are for people to look at, and a scrape every half hour keeps them fresh
 * without adding to a tracker's load more than the announces do. */
#define ANNOUNCER_SCRAPE_INTERVAL_S 1800
/* Scrapes in flight per torrent: a few at once, so that dead trackers (a UDP
 * one takes a while to give up on) do not hold up the others. */
#define ANNOUNCER_MAX_SCRAPES 4

enum announcer_event {
    ANNOUNCER_EV_NONE = 0,
    ANNOUNCER_EV_STARTED,
    ANNOUNCER_EV_COMPLETED,
    ANNOUNCER_EV_STOPPED,
};

/* How a scrape went (announcer_scrape_done). */
enum announcer_scrape_result {
    ANNOUNCER_SCRAPE_OK,
    ANNOUNCER_SCRAPE_FAILED,
    /* The tracker has no scrape (an HTTP URL whose last path component does
     * not start with "announce", BEP 48): it is never asked again. */
    ANNOUNCER_SCRAPE_UNSUPPORTED,
};

struct announcer_tracker {
    char *url;
    uint32_t id; /* stable while the order changes (BEP 12 promotion) */
    int tier;
    int fails;         /* in a row */
    int working;       /* answered at least once */
    int started_sent;  /* this tracker has seen our `started` */
    uint32_t interval; /* seconds, from the tracker */
    uint32_t min_interval;
    uint64_t next_ms; /* earliest time for the next regular announce */
    uint64_t last_ms; /* when the last announce was sent */
    char trackerid[128];
    char error[256];                      /* last failure, for status */
    int64_t seeders, leechers, completed; /* from the last reply, -1 unknown */
    uint64_t counts_ms;                   /* when they came; 0: never */
    /* Scrapes (BEP 48, BEP 15): when the next is due, failures in a row,
     * and why the last one failed. */
    uint64_t scrape_next_ms;
    uint64_t scrape_last_ms; /* when the last scrape answered; 0: never */
    int scrape_fails;
    int scrape_busy; /* a scrape of it is in flight */
    int scrape_unsupported;
    char scrape_error[256];
};

struct announcer {
    struct announcer_tracker t[ANNOUNCER_MAX_TRACKERS];
    size_t n;
    int current;       /* index of the tracker in use, -1 before the first */
    int busy;          /* an announce is in flight */
    int completed_due; /* the download finished: send `completed` */
    int stopping;      /* send `stopped`, then nothing more */
    int stopped_sent;
    int scrapes; /* scrapes in flight */
    uint32_t next_id;
    uint64_t rng;
};

/* What to send: the tracker index (into a->t) and the event. */
struct announce_job {
    int tracker;
    enum announcer_event event;
};

void announcer_init(struct announcer *a, uint64_t seed);
void announcer_cleanup(struct announcer *a);

/* Adds a tracker in `tier` (ignored when the URL is already there or the
 * list is full). Returns 0, SHOAL_ETOOBIG or SHOAL_ENOMEM. Call
 * announcer_shuffle() once all are added. */
int announcer_add(struct announcer *a, const char *url, int tier);
/* Orders by tier and shuffles within each tier (BEP 12). */
void announcer_shuffle(struct announcer *a);

/* The download finished: a `completed` goes out with the next announce. */
void announcer_completed(struct announcer *a);
/* The torrent stops: a `stopped` goes out to the current tracker if it has
 * seen `started`. */
void announcer_stop(struct announcer *a);

/*
 * Decides what to do at `now`. Returns 1 and fills *job when an announce is
 * due (the announcer is then busy until announcer_done()); returns 0 when
 * nothing is due. *wake_ms receives the time to ask again (UINT64_MAX for
 * never).
 */
int announcer_next(struct announcer *a, uint64_t now, struct announce_job *job,
                   uint64_t *wake_ms);

/* The outcome of the job announcer_next() gave: ok with the tracker's
 * interval/min interval (0 = not given), tracker id (may be NULL) and swarm
 * counts (-1 = not given; a count not given keeps the one known before), or
 * a failure with its reason. The answer to `stopped` changes no counts. */
void announcer_done(struct announcer *a, const struct announce_job *job, int ok,
                    uint32_t interval, uint32_t min_interval, const char *trackerid,
                    int64_t seeders, int64_t leechers, int64_t completed,
                    const char *error, uint64_t now);

/* Index in a->t of the tracker with this id, or -1 when there is none. */
int announcer_find(const struct announcer *a, uint32_t id);

/*
 * Decides which tracker to scrape at `now`. Every tracker is scraped, in
 * every tier, once at start and then every ANNOUNCER_SCRAPE_INTERVAL_S;
 * after a failure it backs off like announces do. At most
 * ANNOUNCER_MAX_SCRAPES run at once and one per tracker, none while
 * stopping, and never to the tracker an announce is in flight to (that
 * announce's answer comes first, so that the scrape counts this node too).
 * Returns 1 and sets *id (the tracker's id) when one is due; that tracker is
 * then being scraped until announcer_scrape_done(). Returns 0 otherwise. *wake_ms
 * receives the time to ask again (UINT64_MAX: never).
 */
int announcer_next_scrape(struct announcer *a, uint64_t now, uint32_t *id,
                          uint64_t *wake_ms);

/* The outcome of the scrape announcer_next_scrape() gave, for the tracker
 * with this id (which may have moved in the meantime): counts (-1 = not
 * given) and the tracker's minimum wait before the next scrape in seconds
 * (BEP 48 min_request_interval; 0 = not given) on success, a reason on
 * failure. */
void announcer_scrape_done(struct announcer *a, uint32_t id,
                           enum announcer_scrape_result result, int64_t seeders,
                           int64_t leechers, int64_t completed, uint32_t min_interval,
                           const char *error, uint64_t now);

/* The swarm as the trackers see it: for each count, the largest any tracker
 * reported in its latest reply; -1 when none has. */
void announcer_best_counts(const struct announcer *a, int64_t *seeders, int64_t *leechers,
                           int64_t *completed);

/* 1 once `stopped` has been answered (or there was nothing to tell). */
int announcer_is_finished(const struct announcer *a);

#endif
