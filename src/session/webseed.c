/*
 * webseed.c — the web seeds of one torrent (BEP 19): each asks the picker
 * for blocks like a peer that has every piece, and fetches them with ranged
 * GETs through the session's HTTP client (http.c). Session layer glue: the
 * picker decides what to fetch, webseed_map.c where those bytes live on the
 * server, and this file keeps the requests, the back-off and the verdicts.
 * It never blocks the loop and never includes torrent.h or session.h.
 *
 * A request (a "job") is what one picker_next_blocks() call hands out, at
 * most WEBSEED_JOB_BLOCKS blocks: usually one run of consecutive pieces,
 * since the web seed suggests the pieces after its last one. Each run of
 * consecutive blocks is fetched file by file, one GET per file it crosses,
 * into a buffer of the run's size, and handed to the torrent block by block
 * once whole; the torrent hashes the pieces as for any peer. A job that
 * fails gives its blocks back to the picker, and with them the whole of any
 * piece it had begun (PICKER_TRUST_WHOLE: whole from one source or not at
 * all).
 */
#include "session/webseed.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "base/alloc.h"
#include "codec/metainfo.h"
#include "engine/picker.h"
#include "engine/webseed_map.h"
#include "session/hooks.h"
#include "session/http.h"

/* Blocks per request at most: 1 MiB, so a buffer is small and a slow
 * server finishes one well inside its time limit. */
#define WEBSEED_JOB_BLOCKS 64
/* A web seed not yet measured asks for one piece, or this much of a larger
 * one; then for what it sends in WEBSEED_JOB_SECONDS at the rate it showed,
 * so a slow server holds few pieces and a fast one gets long runs. */
#define WEBSEED_JOB_FIRST   (256 * 1024)
#define WEBSEED_JOB_SECONDS 3
/* A job that an idle peer waits for is given back unless it should be done
 * within this long; then the web seeds start nothing for WEBSEED_HOLD_MS,
 * which covers a tick, so that the peers take those pieces first. */
#define WEBSEED_YIELD_GRACE_MS 1000
#define WEBSEED_HOLD_MS        2000
/* Requests to one web seed at once (also bounded by WEBSEED_MAX_INFLIGHT). */
#define WEBSEED_PER_SEED 4
/* One GET (redirects included) may take this long, and this long to
 * connect; one that moves less than WEBSEED_LOW_SPEED_BPS for
 * WEBSEED_LOW_SPEED_S ends sooner: a slow server still gets its 1 MiB
 * through, a stalled one holds its pieces from the peers for 30 s at most. */
#define WEBSEED_TIMEOUT_S         600
#define WEBSEED_CONNECT_TIMEOUT_S 15
#define WEBSEED_LOW_SPEED_BPS     2048
#define WEBSEED_LOW_SPEED_S       30
/* Redirects followed per GET, each to a host the local-only guard allows. */
#define WEBSEED_MAX_REDIRECTS 5
/* After a failure a web seed waits this long, doubled for each failure in
 * a row, up to the cap. */
#define WEBSEED_BACKOFF_FIRST_MS 2000
#define WEBSEED_BACKOFF_MAX_MS   (300 * 1000)
/* Longest reason kept, and longest status line sent up. */
#define WEBSEED_WHY_LEN  256
#define WEBSEED_LINE_LEN 600

/* What went wrong with a web seed, as far as its warnings go: a failure
 * of the same kind and code as the last one is not reported again, however
 * its words differ (a size, a file). */
enum ws_fail {
    WS_OK,
    WS_FAIL_STATUS,   /* an HTTP error status; code: the status */
    WS_FAIL_TRANSFER, /* no usable reply; code: the SHOAL_E* */
    WS_FAIL_LENGTH,   /* a reply of the wrong size */
    WS_FAIL_URL,      /* no URL could be made; code: the SHOAL_E* */
};

struct webseed {
    struct webseeds *w;
    char *url;
    int dropped;       /* sent bad data or cannot serve ranges: not used again */
    unsigned fails;    /* failures in a row */
    uint64_t retry_ms; /* no new request before then */
    uint32_t cursor;   /* the piece to suggest next */
    int jobs;          /* requests in flight */
    uint64_t rate;     /* bytes a second one GET moves, 0 until measured */
    int yielded;       /* has given pieces back to idle peers */
    enum ws_fail fail; /* the failure last reported, WS_OK while working */
    long fail_code;
};

struct ws_job {
    struct webseeds *w;
    struct webseed *s;
    struct ws_job *next;
    struct http_request *req; /* the GET in flight, or NULL */
    int cancelling;           /* we cancel it ourselves */
    struct picker_block blocks[WEBSEED_JOB_BLOCKS];
    int nblocks;
    int run_first, run_end; /* blocks[run_first..run_end): the run fetched now */
    uint64_t run_off, run_len;
    uint64_t got;               /* bytes of the run in buf */
    struct webseed_segment seg; /* what the GET in flight asks for */
    uint64_t seg_ms;            /* when that GET started */
    uint8_t *buf;
};

struct webseeds {
    const struct hooks *h;
    struct http_client *http;
    struct picker *picker;
    const shoal_metainfo *m;
    struct webseed_owner owner;
    struct webseed *seeds;
    size_t n;
    struct ws_job *jobs;
    int njobs;
    int stopped;
    uint64_t hold_ms; /* no new request before then: peers go first */
};

/* ------------------------------------------------------------------ helpers */

static void __attribute__((format(printf, 3, 4)))
emit(const struct webseeds *w, enum shoal_event_type type, const char *fmt, ...)
{
    char line[WEBSEED_LINE_LEN];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    w->h->emit(w->h->ctx, w->m->infohash, type, line);
}

static uint64_t
now_ms(const struct webseeds *w)
{
    return w->h->now_ms(w->h->ctx);
}

static uint64_t
block_off(const struct webseeds *w, const struct picker_block *b)
{
    return (uint64_t)b->piece * w->m->piece_length + b->begin;
}

/* 1 when block b starts where block a ends, in the torrent's byte stream. */
static int
follows(const struct webseeds *w, const struct picker_block *a,
        const struct picker_block *b)
{
    return block_off(w, a) + a->length == block_off(w, b);
}

static int
http_scheme(const char *url)
{
    return !strncasecmp(url, "http://", 7) || !strncasecmp(url, "https://", 8);
}

/* ------------------------------------------------------------------ jobs */

static void
job_unlink(struct ws_job *j)
{
    struct ws_job **pp = &j->w->jobs;
    while (*pp && *pp != j)
        pp = &(*pp)->next;
    if (*pp) {
        *pp = j->next;
        j->w->njobs--;
        j->s->jobs--;
    }
}

/* Gives the blocks not yet handed to the torrent back to the picker (for a
 * piece the web seed owns, the whole piece), and frees j. */
static void
job_release(struct ws_job *j)
{
    struct webseeds *w = j->w;
    job_unlink(j);
    for (int i = j->run_first; i < j->nblocks; i++)
        picker_block_cancelled(w->picker, j->s, j->blocks[i].piece, j->blocks[i].begin);
    xfree(j->buf);
    xfree(j);
}

static void drop_seed(struct webseed *s, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* A failure that may pass: the web seed waits, twice as long after each
 * failure in a row. The reason (why; detail only adds where) goes up once
 * per change of kind and code, not once per failure. */
static void
back_off(struct webseed *s, enum ws_fail kind, long code, const char *why,
         const char *detail)
{
    struct webseeds *w = s->w;
    uint64_t now = now_ms(w);
    if (now >= s->retry_ms) {
        unsigned shift = s->fails < 8 ? s->fails : 8;
        uint64_t delay = (uint64_t)WEBSEED_BACKOFF_FIRST_MS << shift;
        if (delay > WEBSEED_BACKOFF_MAX_MS)
            delay = WEBSEED_BACKOFF_MAX_MS;
        s->fails++;
        s->retry_ms = now + delay;
    }
    if (s->fail != kind || s->fail_code != code) {
        s->fail = kind;
        s->fail_code = code;
        emit(w, SHOAL_EV_WARNING,
             "web seed %.200s: %s%s%s%s; trying again in %" PRIu64 " s", s->url, why,
             detail[0] ? " (" : "", detail, detail[0] ? ")" : "",
             (s->retry_ms - now + 999) / 1000);
    }
}

static void
worked(struct webseed *s)
{
    if (s->fail != WS_OK)
        emit(s->w, SHOAL_EV_LOG, "web seed %.200s: working again", s->url);
    s->fail = WS_OK;
    s->fail_code = 0;
    s->fails = 0;
}

/* Ends j for a reason of the server's: its blocks go back, and the web
 * seed is dropped (permanent) or waits. detail names the file, when one. */
static void
job_failed(struct ws_job *j, int permanent, enum ws_fail kind, long code, const char *why,
           const char *detail)
{
    struct webseed *s = j->s;
    struct webseeds *w = j->w;
    job_release(j);
    if (permanent)
        drop_seed(s, "%s%s%s%s", why, detail[0] ? " (" : "", detail,
                  detail[0] ? ")" : "");
    else
        back_off(s, kind, code, why, detail);
    webseeds_fill(w);
}

static void start_segment(struct ws_job *j);

/* Sets up the run that begins at blocks[run_first]. 0, or SHOAL_ENOMEM. */
static int
begin_run(struct ws_job *j)
{
    struct webseeds *w = j->w;
    int i = j->run_first;
    j->run_off = block_off(w, &j->blocks[i]);
    j->run_len = j->blocks[i].length;
    for (i++; i < j->nblocks && follows(w, &j->blocks[i - 1], &j->blocks[i]); i++)
        j->run_len += j->blocks[i].length;
    j->run_end = i;
    j->got = 0;
    xfree(j->buf);
    j->buf = xmalloc(j->run_len);
    return j->buf ? 0 : SHOAL_ENOMEM;
}

/* The run is whole: its blocks go to the torrent, and the next run starts,
 * or the job ends. */
static void
run_done(struct ws_job *j)
{
    struct webseeds *w = j->w;
    for (int i = j->run_first; i < j->run_end; i++) {
        const struct picker_block *b = &j->blocks[i];
        /* Handed over: a failure from here on cannot take it back. */
        j->run_first = i + 1;
        w->owner.on_block(w->owner.ctx, j->s, b->piece, b->begin,
                          j->buf + (block_off(w, b) - j->run_off), b->length);
    }
    if (j->run_first < j->nblocks) {
        if (w->stopped || begin_run(j) != 0) {
            job_release(j);
            return;
        }
        start_segment(j);
        return;
    }
    struct webseed *s = j->s;
    job_release(j);
    worked(s);
    webseeds_fill(w);
}

static void on_reply(void *arg, const struct http_result *r);

/* Fetches the rest of the run: pad files are filled with zeros here, the
 * next piece of a real file is asked for. */
static void
start_segment(struct ws_job *j)
{
    struct webseeds *w = j->w;
    while (j->got < j->run_len) {
        if (webseed_map_segment(w->m, j->run_off + j->got, j->run_off + j->run_len,
                                &j->seg) != 0) {
            job_release(j);
            return;
        }
        if (!j->seg.pad)
            break;
        /* BEP 47: a pad file is zeros, and servers need not have it. */
        memset(j->buf + j->got, 0, j->seg.len);
        j->got += j->seg.len;
    }
    if (j->got == j->run_len) {
        run_done(j);
        return;
    }
    char *url = NULL;
    int rc = webseed_map_url(j->s->url, w->m, j->seg.file, &url);
    if (rc) {
        char why[WEBSEED_WHY_LEN];
        snprintf(why, sizeof(why), "cannot make the URL of file %zu: %s", j->seg.file,
                 shoal_strerror(rc));
        job_failed(j, rc != SHOAL_ENOMEM, WS_FAIL_URL, rc, why, "");
        return;
    }
    char range[48];
    snprintf(range, sizeof(range), "%" PRIu64 "-%" PRIu64, j->seg.file_off,
             j->seg.file_off + j->seg.len - 1);
    const struct http_opts o = {
        .max_body = (size_t)j->seg.len,
        .timeout_s = WEBSEED_TIMEOUT_S,
        .connect_timeout_s = WEBSEED_CONNECT_TIMEOUT_S,
        .max_redirects = WEBSEED_MAX_REDIRECTS,
        .low_speed_bps = WEBSEED_LOW_SPEED_BPS,
        .low_speed_time_s = WEBSEED_LOW_SPEED_S,
        .range = range,
    };
    j->seg_ms = now_ms(w);
    rc = http_start(w->http, url, &o, on_reply, j, &j->req);
    xfree(url);
    if (rc) {
        char why[WEBSEED_WHY_LEN];
        snprintf(why, sizeof(why), "%s", shoal_strerror(rc));
        job_failed(j, rc == SHOAL_ELOCALONLY, WS_FAIL_TRANSFER, rc, why, "");
    }
}

/* 1 when a 200 reply (the whole file) is what was asked for anyway. */
static int
whole_file(const struct ws_job *j)
{
    return j->seg.file_off == 0 && j->seg.len == j->w->m->files[j->seg.file].size;
}

/* One GET moved len bytes in ms: the web seed's rate follows, smoothed. */
static void
measure(struct webseed *s, uint64_t len, uint64_t ms)
{
    uint64_t sample = len * 1000 / (ms ? ms : 1);
    s->rate = s->rate ? (s->rate * 3 + sample) / 4 : sample;
}

static void
on_reply(void *arg, const struct http_result *r)
{
    struct ws_job *j = arg;
    struct webseeds *w = j->w;
    j->req = NULL;
    if (r->rc == SHOAL_ECANCELED) {
        /* Not ours: the HTTP client is going away with the session, and no
         * request may start after it. */
        if (!j->cancelling)
            w->stopped = 1;
        job_release(j);
        return;
    }
    char why[WEBSEED_WHY_LEN];
    const char *path = w->m->files[j->seg.file].path;
    if (r->rc == SHOAL_ELOCALONLY) {
        /* A redirect off this machine: it will say the same next time. */
        job_failed(j, 1, WS_FAIL_TRANSFER, r->rc, r->error ? r->error : "", path);
        return;
    }
    if (r->status == 200 && !whole_file(j)) {
        /* Cut off at the range's size: the server sends whole files. */
        job_failed(j, 1, WS_FAIL_STATUS, 200, "the server ignores Range requests", path);
        return;
    }
    /* An error status says more than what went wrong reading its body (too
     * long for the range, cut short); a failed redirect's status says less
     * than its reason. */
    int http_error =
        r->status >= 400 || (r->rc == 0 && r->status != 200 && r->status != 206);
    if (http_error) {
        snprintf(why, sizeof(why), "HTTP %ld", r->status);
        job_failed(j, 0, WS_FAIL_STATUS, r->status, why, path);
        return;
    }
    if (r->rc != 0) {
        job_failed(j, 0, WS_FAIL_TRANSFER, r->rc, r->error ? r->error : "", path);
        return;
    }
    if (r->len != j->seg.len) {
        snprintf(why, sizeof(why), "%zu bytes for a range of %" PRIu64, r->len,
                 j->seg.len);
        job_failed(j, 0, WS_FAIL_LENGTH, 0, why, path);
        return;
    }
    measure(j->s, r->len, now_ms(w) - j->seg_ms);
    memcpy(j->buf + j->got, r->body, r->len);
    j->got += r->len;
    start_segment(j);
}

int
webseed_job_blocks(uint32_t piece_length, uint64_t rate)
{
    const uint64_t most = (uint64_t)WEBSEED_JOB_BLOCKS * PICKER_BLOCK_SIZE;
    uint64_t bytes = rate >= most ? most : rate * WEBSEED_JOB_SECONDS;
    if (!rate)
        bytes = piece_length < WEBSEED_JOB_FIRST ? piece_length : WEBSEED_JOB_FIRST;
    uint64_t n = (bytes + PICKER_BLOCK_SIZE - 1) / PICKER_BLOCK_SIZE;
    if (n < 1)
        n = 1;
    return n > WEBSEED_JOB_BLOCKS ? WEBSEED_JOB_BLOCKS : (int)n;
}

/* Asks the picker for blocks for s and starts fetching them. Returns 1 when
 * a job started, 0 when the picker had nothing for it (or memory ran out). */
static int
start_job(struct webseed *s)
{
    struct webseeds *w = s->w;
    uint32_t npieces = w->m->piece_count;
    int max = webseed_job_blocks(w->m->piece_length, s->rate);
    /* The pieces after its last one, so that its runs stay long. */
    uint32_t bpp = (w->m->piece_length + PICKER_BLOCK_SIZE - 1) / PICKER_BLOCK_SIZE;
    uint32_t sug[WEBSEED_JOB_BLOCKS + 1];
    uint32_t nsug = (uint32_t)max / bpp + 1;
    if (nsug > npieces)
        nsug = npieces;
    for (uint32_t i = 0; i < nsug; i++)
        sug[i] = (s->cursor + i) % npieces;
    struct ws_job *j = xcalloc(1, sizeof(*j));
    if (!j)
        return 0;
    j->w = w;
    j->s = s;
    int n = picker_next_blocks(w->picker, s, NULL, sug, nsug, j->blocks, max);
    if (n <= 0) {
        xfree(j);
        return 0;
    }
    j->nblocks = n;
    const struct picker_block *last = &j->blocks[n - 1];
    int ends = last->begin + last->length >= picker_piece_size(w->picker, last->piece);
    s->cursor = (last->piece + (ends ? 1 : 0)) % npieces;
    j->next = w->jobs;
    w->jobs = j;
    w->njobs++;
    s->jobs++;
    if (begin_run(j) != 0) {
        job_release(j);
        return 0;
    }
    start_segment(j);
    return 1;
}

/* ------------------------------------------------------------------ seeds */

/* The web seed is not used again in this run: its requests are cancelled
 * and the picker forgets it (it stays a contributor of the pieces it sent,
 * for blame). */
static void
drop_seed(struct webseed *s, const char *fmt, ...)
{
    struct webseeds *w = s->w;
    if (s->dropped)
        return;
    s->dropped = 1;
    for (;;) {
        struct ws_job *j = w->jobs;
        while (j && (j->s != s || !j->req || j->cancelling))
            j = j->next;
        if (!j)
            break;
        j->cancelling = 1;
        http_cancel(j->req); /* on_reply() releases and frees it */
    }
    picker_peer_gone(w->picker, s);
    char why[WEBSEED_WHY_LEN];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof(why), fmt, ap);
    va_end(ap);
    emit(w, SHOAL_EV_WARNING, "web seed %.200s dropped: %s", s->url, why);
}

/* The usable web seed with the fewest requests in flight that may take
 * another, or NULL. */
static struct webseed *
next_seed(struct webseeds *w, uint64_t now)
{
    struct webseed *best = NULL;
    for (size_t i = 0; i < w->n; i++) {
        struct webseed *s = &w->seeds[i];
        if (s->dropped || now < s->retry_ms || s->jobs >= WEBSEED_PER_SEED)
            continue;
        if (!best || s->jobs < best->jobs)
            best = s;
    }
    return best;
}

/* 1 when an idle peer waits for a piece of j not yet handed over, and j
 * will not be done with it soon. */
static int
in_the_way(const struct ws_job *j)
{
    const struct webseeds *w = j->w;
    int awaited = 0;
    uint64_t left = 0;
    for (int i = j->run_first; i < j->nblocks; i++) {
        awaited |= picker_piece_awaited(w->picker, j->blocks[i].piece);
        left += j->blocks[i].length;
    }
    if (!awaited)
        return 0;
    left -= j->got;
    uint64_t rate = j->s->rate;
    return !rate || left * 1000 / rate > WEBSEED_YIELD_GRACE_MS;
}

/* Cancels the jobs idle peers wait for: their pieces go back to the picker
 * whole, to be fetched whole from the peers (the web seed's blocks of them
 * are thrown away, so a failure still names one source). Then the web seeds
 * hold back for a while, so that the peers get those pieces first; a piece
 * no peer took is the web seeds' again after that. Returns 1 when it gave
 * any back. */
static int
yield_to_peers(struct webseeds *w, uint64_t now)
{
    int gave = 0;
    for (;;) {
        struct ws_job *j = w->jobs;
        while (j && (!j->req || j->cancelling || !in_the_way(j)))
            j = j->next;
        if (!j)
            break;
        if (!j->s->yielded)
            emit(w, SHOAL_EV_LOG,
                 "web seed %.200s: leaves its unfinished pieces to idle peers",
                 j->s->url);
        j->s->yielded = 1;
        j->cancelling = 1;
        http_cancel(j->req); /* on_reply() releases and frees it */
        gave = 1;
    }
    if (gave)
        w->hold_ms = now + WEBSEED_HOLD_MS;
    return gave;
}

void
webseeds_fill(struct webseeds *w)
{
    if (!w || w->stopped || w->n == 0)
        return;
    uint64_t now = now_ms(w);
    if (yield_to_peers(w, now) || now < w->hold_ms || !w->owner.can_fetch(w->owner.ctx))
        return;
    while (w->njobs < WEBSEED_MAX_INFLIGHT && !w->stopped) {
        struct webseed *s = next_seed(w, now);
        if (!s || !start_job(s))
            break;
    }
}

int
webseeds_piece_failed(struct webseeds *w, uint32_t piece)
{
    if (!w || w->n == 0)
        return 0;
    void *who[16];
    size_t n = picker_piece_contributors(w->picker, piece, who, 16);
    int found = 0;
    for (size_t i = 0; i < n && i < 16; i++) {
        for (size_t k = 0; k < w->n; k++) {
            if (who[i] != &w->seeds[k])
                continue;
            drop_seed(&w->seeds[k],
                      "sent data that failed the hash check of piece %" PRIu32, piece);
            found = 1;
        }
    }
    return found;
}

int
webseeds_is_key(const struct webseeds *w, const void *key)
{
    if (!w || w->n == 0)
        return 0;
    for (size_t i = 0; i < w->n; i++)
        if (key == &w->seeds[i])
            return 1;
    return 0;
}

size_t
webseeds_usable(const struct webseeds *w)
{
    size_t n = 0;
    for (size_t i = 0; w && i < w->n; i++)
        n += !w->seeds[i].dropped;
    return n;
}

int
webseeds_active(const struct webseeds *w)
{
    int n = 0;
    for (size_t i = 0; w && i < w->n; i++)
        n += w->seeds[i].jobs > 0;
    return n;
}

/* ------------------------------------------------------------------ lifecycle */

int
webseeds_new(const struct hooks *h, struct http_client *http, struct picker *picker,
             const shoal_metainfo *m, const struct webseed_owner *owner,
             struct webseeds **out)
{
    *out = NULL;
    struct webseeds *w = xcalloc(1, sizeof(*w));
    if (!w)
        return SHOAL_ENOMEM;
    w->h = h;
    w->http = http;
    w->picker = picker;
    w->m = m;
    w->owner = *owner;
    size_t cap =
        m->webseed_count < WEBSEED_MAX_SEEDS ? m->webseed_count : WEBSEED_MAX_SEEDS;
    if (cap)
        w->seeds = xcalloc(cap, sizeof(*w->seeds));
    if (cap && !w->seeds) {
        xfree(w);
        return SHOAL_ENOMEM;
    }
    for (size_t i = 0; i < m->webseed_count && w->n < cap; i++) {
        const char *url = m->webseeds[i];
        if (!http_scheme(url)) {
            emit(w, SHOAL_EV_LOG, "web seed %.200s: only HTTP and HTTPS are used", url);
            continue;
        }
        int rc = http_url_allowed(http, url);
        if (rc) {
            emit(w, SHOAL_EV_WARNING, "web seed %.200s: %s", url, shoal_strerror(rc));
            continue;
        }
        struct webseed *s = &w->seeds[w->n];
        s->url = xstrdup(url);
        if (!s->url) {
            webseeds_free(w);
            return SHOAL_ENOMEM;
        }
        s->w = w;
        /* Several web seeds start in different places, so that they rarely
         * want the same pieces. */
        s->cursor = (uint32_t)((uint64_t)m->piece_count * w->n / cap);
        if (picker_peer_set_trust(picker, s, PICKER_TRUST_WHOLE) != 0) {
            xfree(s->url);
            webseeds_free(w);
            return SHOAL_ENOMEM;
        }
        w->n++;
    }
    if (m->webseed_count > cap)
        emit(w, SHOAL_EV_LOG, "using %zu of the torrent's %zu web seeds", w->n,
             m->webseed_count);
    *out = w;
    return 0;
}

/* Cancels every request in flight; their blocks go back to the picker. */
static void
cancel_requests(struct webseeds *w)
{
    for (;;) {
        struct ws_job *j = w->jobs;
        while (j && (!j->req || j->cancelling))
            j = j->next;
        if (!j)
            break;
        j->cancelling = 1;
        http_cancel(j->req); /* on_reply() releases and frees it */
    }
}

void
webseeds_stop(struct webseeds *w)
{
    if (!w)
        return;
    w->stopped = 1;
    cancel_requests(w);
}

void
webseeds_free(struct webseeds *w)
{
    if (!w)
        return;
    w->stopped = 1;
    cancel_requests(w);
    /* Any left are handing a run over (on_block() is running). */
    while (w->jobs)
        job_release(w->jobs);
    for (size_t i = 0; i < w->n; i++)
        xfree(w->seeds[i].url);
    xfree(w->seeds);
    xfree(w);
}
