/*
 * announcer.c — tracker choice and announce timing for one torrent (BEP 12).
 * Engine layer, sans-I/O: no sockets, no clock; the session passes `now`.
 */
#include "engine/announcer.h"

#include <stdio.h>
#include <string.h>

#include "base/alloc.h"
#include "shoal.h"

void
announcer_init(struct announcer *a, uint64_t seed)
{
    memset(a, 0, sizeof(*a));
    a->current = -1;
    a->rng = seed | 1;
}

void
announcer_cleanup(struct announcer *a)
{
    for (size_t i = 0; i < a->n; i++)
        xfree(a->t[i].url);
    memset(a, 0, sizeof(*a));
    a->current = -1;
}

int
announcer_add(struct announcer *a, const char *url, int tier)
{
    for (size_t i = 0; i < a->n; i++)
        if (!strcmp(a->t[i].url, url))
            return 0;
    if (a->n >= ANNOUNCER_MAX_TRACKERS)
        return SHOAL_ETOOBIG;
    struct announcer_tracker *t = &a->t[a->n];
    memset(t, 0, sizeof(*t));
    t->url = xstrdup(url);
    if (!t->url)
        return SHOAL_ENOMEM;
    t->tier = tier;
    t->id = a->next_id++;
    t->seeders = t->leechers = t->completed = -1;
    a->n++;
    return 0;
}

static uint64_t
next_random(struct announcer *a)
{
    /* xorshift64: only for shuffling tiers. */
    a->rng ^= a->rng << 13;
    a->rng ^= a->rng >> 7;
    a->rng ^= a->rng << 17;
    return a->rng;
}

void
announcer_shuffle(struct announcer *a)
{
    /* Stable sort by tier (insertion sort: at most 64 entries). */
    for (size_t i = 1; i < a->n; i++) {
        struct announcer_tracker t = a->t[i];
        size_t j = i;
        while (j > 0 && a->t[j - 1].tier > t.tier) {
            a->t[j] = a->t[j - 1];
            j--;
        }
        a->t[j] = t;
    }
    /* BEP 12: shuffle each tier once. */
    for (size_t start = 0; start < a->n;) {
        size_t end = start;
        while (end < a->n && a->t[end].tier == a->t[start].tier)
            end++;
        for (size_t i = end - 1; i > start; i--) {
            size_t j = start + next_random(a) % (i - start + 1);
            struct announcer_tracker tmp = a->t[i];
            a->t[i] = a->t[j];
            a->t[j] = tmp;
        }
        start = end;
    }
}

void
announcer_completed(struct announcer *a)
{
    a->completed_due = 1;
}

void
announcer_stop(struct announcer *a)
{
    a->stopping = 1;
}

static uint64_t
retry_ms(int fails)
{
    uint64_t s = ANNOUNCER_RETRY_MIN_S;
    for (int i = 1; i < fails && s < ANNOUNCER_RETRY_MAX_S; i++)
        s *= 2;
    return (s < ANNOUNCER_RETRY_MAX_S ? s : ANNOUNCER_RETRY_MAX_S) * 1000;
}

int
announcer_next(struct announcer *a, uint64_t now, struct announce_job *job,
               uint64_t *wake_ms)
{
    *wake_ms = UINT64_MAX;
    if (a->busy || a->n == 0 || a->stopped_sent)
        return 0;
    if (a->current < 0)
        a->current = 0;
    struct announcer_tracker *t = &a->t[a->current];
    if (a->stopping) {
        if (!t->started_sent) {
            a->stopped_sent = 1; /* it never heard of us: nothing to take back */
            return 0;
        }
        /* A download that finished just before leaving still counts as
         * completed for the tracker's statistics. */
        enum announcer_event ev =
            a->completed_due ? ANNOUNCER_EV_COMPLETED : ANNOUNCER_EV_STOPPED;
        *job = (struct announce_job){a->current, ev};
        a->busy = 1;
        return 1;
    }
    enum announcer_event ev = !t->started_sent   ? ANNOUNCER_EV_STARTED
                              : a->completed_due ? ANNOUNCER_EV_COMPLETED
                                                 : ANNOUNCER_EV_NONE;
    uint64_t due = t->next_ms;
    if (ev == ANNOUNCER_EV_COMPLETED && t->fails == 0) {
        /* Tell the tracker soon, but never more often than it allows. */
        due = t->last_ms + (uint64_t)t->min_interval * 1000;
    }
    if (now < due) {
        *wake_ms = due;
        return 0;
    }
    *job = (struct announce_job){a->current, ev};
    a->busy = 1;
    return 1;
}

/* Keeps the counts a reply gave; one it left out keeps its old value. */
static void
set_counts(struct announcer_tracker *t, int64_t seeders, int64_t leechers,
           int64_t completed, uint64_t now)
{
    if (seeders < 0 && leechers < 0 && completed < 0)
        return;
    if (seeders >= 0)
        t->seeders = seeders;
    if (leechers >= 0)
        t->leechers = leechers;
    if (completed >= 0)
        t->completed = completed;
    t->counts_ms = now;
}

/* BEP 12: a tracker that answers moves to the front of its tier. */
static int
promote(struct announcer *a, int idx)
{
    int first = idx;
    while (first > 0 && a->t[first - 1].tier == a->t[idx].tier)
        first--;
    if (first == idx)
        return idx;
    struct announcer_tracker t = a->t[idx];
    memmove(&a->t[first + 1], &a->t[first], (size_t)(idx - first) * sizeof(t));
    a->t[first] = t;
    return first;
}

void
announcer_done(struct announcer *a, const struct announce_job *job, int ok,
               uint32_t interval, uint32_t min_interval, const char *trackerid,
               int64_t seeders, int64_t leechers, int64_t completed, const char *error,
               uint64_t now)
{
    a->busy = 0;
    if (job->tracker < 0 || (size_t)job->tracker >= a->n)
        return;
    struct announcer_tracker *t = &a->t[job->tracker];
    t->last_ms = now;
    if (job->event == ANNOUNCER_EV_STOPPED) {
        /* One try only: the torrent is going away either way. */
        a->stopped_sent = 1;
        return;
    }
    if (!ok && a->stopping) {
        /* Leaving: no retries, no other trackers. */
        a->stopped_sent = 1;
        return;
    }
    if (!ok) {
        t->fails++;
        snprintf(t->error, sizeof(t->error), "%s", error ? error : "announce failed");
        t->next_ms = now + retry_ms(t->fails);
        /* Try the next tracker of the tier, then the next tier; after the
         * last, start over (each keeps its own back-off). */
        a->current = (int)(((size_t)job->tracker + 1) % a->n);
        return;
    }
    t->fails = 0;
    t->working = 1;
    t->error[0] = '\0';
    t->interval = interval ? interval : ANNOUNCER_DEFAULT_INTERVAL_S;
    t->min_interval = min_interval;
    if (trackerid && trackerid[0])
        snprintf(t->trackerid, sizeof(t->trackerid), "%s", trackerid);
    set_counts(t, seeders, leechers, completed, now);
    t->next_ms = now + (uint64_t)t->interval * 1000;
    if (job->event == ANNOUNCER_EV_STARTED)
        t->started_sent = 1;
    if (job->event == ANNOUNCER_EV_COMPLETED)
        a->completed_due = 0;
    a->current = promote(a, job->tracker);
}

int
announcer_is_finished(const struct announcer *a)
{
    return a->stopped_sent || a->n == 0;
}

int
announcer_find(const struct announcer *a, uint32_t id)
{
    for (size_t i = 0; i < a->n; i++)
        if (a->t[i].id == id)
            return (int)i;
    return -1;
}

int
announcer_next_scrape(struct announcer *a, uint64_t now, uint32_t *id, uint64_t *wake_ms)
{
    *wake_ms = UINT64_MAX;
    if (a->scrapes >= ANNOUNCER_MAX_SCRAPES || a->stopping || a->stopped_sent)
        return 0;
    int best = -1;
    for (size_t i = 0; i < a->n; i++) {
        const struct announcer_tracker *t = &a->t[i];
        if (t->scrape_unsupported || t->scrape_busy)
            continue;
        /* Its announce is on the way: scrape once the answer is in. */
        if (a->busy && (int)i == a->current)
            continue;
        if (t->scrape_next_ms > now) {
            if (t->scrape_next_ms < *wake_ms)
                *wake_ms = t->scrape_next_ms;
            continue;
        }
        if (best < 0 || t->scrape_next_ms < a->t[best].scrape_next_ms)
            best = (int)i;
    }
    if (best < 0)
        return 0;
    *id = a->t[best].id;
    a->t[best].scrape_busy = 1;
    a->scrapes++;
    *wake_ms = UINT64_MAX;
    return 1;
}

void
announcer_scrape_done(struct announcer *a, uint32_t id,
                      enum announcer_scrape_result result, int64_t seeders,
                      int64_t leechers, int64_t completed, uint32_t min_interval,
                      const char *error, uint64_t now)
{
    if (a->scrapes > 0)
        a->scrapes--;
    int i = announcer_find(a, id);
    if (i < 0)
        return;
    struct announcer_tracker *t = &a->t[i];
    t->scrape_busy = 0;
    switch (result) {
    case ANNOUNCER_SCRAPE_OK: {
        t->scrape_fails = 0;
        t->scrape_error[0] = '\0';
        t->scrape_last_ms = now;
        /* BEP 48: a tracker may ask for longer gaps than ours, never
         * shorter ones. */
        uint32_t gap_s = min_interval > ANNOUNCER_SCRAPE_INTERVAL_S
                             ? min_interval
                             : ANNOUNCER_SCRAPE_INTERVAL_S;
        t->scrape_next_ms = now + (uint64_t)gap_s * 1000;
        set_counts(t, seeders, leechers, completed, now);
        break;
    }
    case ANNOUNCER_SCRAPE_FAILED: {
        t->scrape_fails++;
        snprintf(t->scrape_error, sizeof(t->scrape_error), "%s",
                 error ? error : "scrape failed");
        /* Back off as failed announces do, but never wait longer than the
         * regular scrape interval. */
        uint64_t wait = retry_ms(t->scrape_fails);
        uint64_t cap = (uint64_t)ANNOUNCER_SCRAPE_INTERVAL_S * 1000;
        t->scrape_next_ms = now + (wait < cap ? wait : cap);
        break;
    }
    case ANNOUNCER_SCRAPE_UNSUPPORTED:
        t->scrape_unsupported = 1;
        snprintf(t->scrape_error, sizeof(t->scrape_error), "%s",
                 error ? error : "the tracker has no scrape");
        break;
    }
}

void
announcer_best_counts(const struct announcer *a, int64_t *seeders, int64_t *leechers,
                      int64_t *completed)
{
    *seeders = *leechers = *completed = -1;
    for (size_t i = 0; i < a->n; i++) {
        const struct announcer_tracker *t = &a->t[i];
        if (t->seeders > *seeders)
            *seeders = t->seeders;
        if (t->leechers > *leechers)
            *leechers = t->leechers;
        if (t->completed > *completed)
            *completed = t->completed;
    }
}
