/*
 * disk.c — the disk worker pool. Engine layer: runs storage jobs on its own
 * threads and hands the results back through a queue and an eventfd; it must
 * not know about the event loop, sockets or peers, and it never runs a
 * callback on a worker thread.
 *
 * One mutex guards everything shared: the job queue (accepted jobs not yet
 * finished, in submission order, running ones included), the list of finished
 * jobs and the counters. A worker takes the first queued job that no earlier
 * job in the queue blocks (see `blocks`), so the queue is also the ordering
 * record. Jobs come in two priorities: background jobs (the hashes of a full
 * check) wait while foreground ones (everything else) can run, with a floor
 * so that they still progress (see `take`). Workers usually take jobs from
 * the head, so the scan is short: the jobs ahead of the first runnable one
 * are the few running or blocked, plus the background jobs a check keeps
 * queued (its submitter bounds them).
 *
 * Memory: every allocation happens on a submitting thread; workers only free
 * (write data, once written), so the allocation hooks in alloc.c see one
 * thread.
 */
#include "engine/disk.h"

#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/uio.h>
#include <unistd.h>

#include "base/alloc.h"
#include "codec/metainfo.h"
#include "engine/storage.h"

/* More workers than this only contend for the disk and the lock. */
#define DISK_MAX_THREADS 64u
/* Adjacent writes joined into one pwritev: at most this many ... */
#define DISK_COALESCE_JOBS 64
/* ... and at most this many bytes, so one call cannot hold a worker long. */
#define DISK_COALESCE_BYTES (4u * 1024 * 1024)
/* How far past a write a worker looks for the block that follows it. */
#define DISK_COALESCE_SCAN 256
/* The largest single read: a whole piece of the largest size we accept. */
#define DISK_MAX_READ METAINFO_MAX_PIECE_LENGTH
/* Foreground jobs a worker takes in a row, while background jobs wait,
 * before it takes one of those: a check still moves on under steady load. */
#define DISK_BACKGROUND_EVERY 16u

enum job_kind { JOB_WRITE, JOB_READ, JOB_HASH, JOB_FSYNC, JOB_CLOSE, JOB_WORK };

struct job {
    struct job *prev, *next; /* in the queue, then in the finished list */
    struct job *gnext;       /* next write joined to this one by a worker */
    enum job_kind kind;
    int running;
    int background; /* disk_submit_check: taken after foreground jobs */
    int rc;
    struct storage *st;
    uint64_t off; /* byte range the job touches (empty for fsync/close) */
    uint64_t len;
    uint8_t *data; /* write: owned data; read: the buffer after the job */
    uint32_t piece;
    uint32_t count; /* hash: pieces from `piece` on (1 but for digests) */
    uint8_t expected[SHA1_LEN];
    uint8_t *digest; /* disk_submit_digest: where the hashes go, else NULL */
    disk_cb cb;
    disk_read_cb rcb;
    disk_work_fn work;
    void *arg;
    void *user;
};

struct disk_worker {
    struct disk *d;
    pthread_t thread;
    struct storage_hasher hasher;
};

struct disk {
    pthread_mutex_t mu;
    pthread_cond_t work;     /* a job may have become runnable, or stopping */
    pthread_cond_t finished; /* the finished list became non-empty */
    struct job *q_head, *q_tail;
    size_t nqueued;     /* in the queue and not running */
    size_t nbackground; /* of those, background jobs */
    unsigned fg_streak; /* foreground jobs taken while background ones waited */
    struct job *done_head, *done_tail;
    size_t pending_bytes;
    size_t pending_jobs;
    int stopping;
    int efd;
    struct disk_worker *workers;
    unsigned nworkers;
};

/* ------------------------------------------------------------------ queue */

static void
q_append(struct disk *d, struct job *j)
{
    j->next = NULL;
    j->prev = d->q_tail;
    if (d->q_tail)
        d->q_tail->next = j;
    else
        d->q_head = j;
    d->q_tail = j;
}

static void
q_remove(struct disk *d, struct job *j)
{
    if (j->prev)
        j->prev->next = j->next;
    else
        d->q_head = j->next;
    if (j->next)
        j->next->prev = j->prev;
    else
        d->q_tail = j->prev;
    j->prev = j->next = NULL;
}

static int
overlap(const struct job *a, const struct job *b)
{
    return a->off < b->off + b->len && b->off < a->off + a->len;
}

/* Whether `early`, submitted before `late`, must finish before late starts. */
static int
blocks(const struct job *early, const struct job *late)
{
    if (early->st != late->st || !late->st)
        return 0; /* different storages, or work that belongs to none */
    if (late->kind == JOB_CLOSE)
        return 1;
    if (late->kind == JOB_FSYNC)
        return early->kind == JOB_WRITE;
    if (early->kind == JOB_FSYNC || early->kind == JOB_CLOSE)
        return 0;
    if (early->kind != JOB_WRITE && late->kind != JOB_WRITE)
        return 0; /* readers share */
    return overlap(early, late);
}

static int
runnable(const struct disk *d, const struct job *j)
{
    for (const struct job *e = d->q_head; e != j; e = e->next)
        if (blocks(e, j))
            return 0;
    return 1;
}

static struct job *
mark_running(struct disk *d, struct job *j)
{
    j->running = 1;
    j->gnext = NULL;
    d->nqueued--;
    if (j->background)
        d->nbackground--;
    return j;
}

/*
 * The job a free worker should run, marked running, or NULL. Foreground jobs
 * come first: the first queued one nothing blocks. A background job (a full
 * check) runs when no foreground job can, and also once every
 * DISK_BACKGROUND_EVERY foreground jobs while it waits, so that neither kind
 * starves the other. A worker runs one piece at a time, so a foreground job
 * never waits behind more than the pieces being hashed at that moment.
 */
static struct job *
take(struct disk *d)
{
    if (d->nqueued == 0)
        return NULL;
    struct job *fg = NULL, *bg = NULL;
    int want_bg = d->nbackground > 0;
    for (struct job *j = d->q_head; j && !(fg && (bg || !want_bg)); j = j->next) {
        if (j->running || (j->background ? bg != NULL : fg != NULL))
            continue;
        if (!runnable(d, j))
            continue;
        if (j->background)
            bg = j;
        else
            fg = j;
    }
    if (bg && (!fg || d->fg_streak >= DISK_BACKGROUND_EVERY)) {
        d->fg_streak = 0;
        return mark_running(d, bg);
    }
    if (!fg)
        return NULL;
    if (bg)
        d->fg_streak++;
    return mark_running(d, fg);
}

/* Joins to write w the queued writes that continue it on the same storage,
 * so they go out in one pwritev. Returns the number of jobs in the group. */
static int
coalesce(struct disk *d, struct job *w)
{
    struct job *last = w;
    uint64_t end = w->off + w->len, bytes = w->len;
    int n = 1, scanned = 0;
    struct job *j = w->next;
    while (j && scanned < DISK_COALESCE_SCAN && n < DISK_COALESCE_JOBS) {
        if (!j->running && j->kind == JOB_WRITE && j->st == w->st && j->off == end &&
            bytes + j->len <= DISK_COALESCE_BYTES && runnable(d, j)) {
            mark_running(d, j);
            last->gnext = j;
            last = j;
            end += j->len;
            bytes += j->len;
            n++;
            scanned = 0; /* a chain of blocks may run on far into the queue */
            j = j->next;
            continue;
        }
        j = j->next;
        scanned++;
    }
    return n;
}

/* ------------------------------------------------------------------ workers */

/* A hash job: writes the hashes of its pieces to j->digest (0), or compares
 * its one piece with the expected hash (1 match, 0 mismatch). */
static int
hash_job(struct disk_worker *w, struct job *j)
{
    uint8_t got[SHA1_LEN];
    if (j->digest)
        return storage_hash_pieces_with(j->st, j->piece, j->count, j->digest, &w->hasher);
    int rc = storage_hash_piece_with(j->st, j->piece, got, &w->hasher);
    return rc ? rc : memcmp(got, j->expected, SHA1_LEN) == 0;
}

static void
run_job(struct disk_worker *w, struct job *j, int n)
{
    switch (j->kind) {
    case JOB_WRITE: {
        struct iovec v[DISK_COALESCE_JOBS] = {{0}};
        int k = 0;
        for (struct job *g = j; g && k < n; g = g->gnext, k++) {
            v[k].iov_base = g->data;
            v[k].iov_len = (size_t)g->len;
        }
        int rc = storage_writev(j->st, j->off, v, k);
        for (struct job *g = j; g; g = g->gnext) {
            g->rc = rc;
            xfree(g->data);
            g->data = NULL;
        }
        break;
    }
    case JOB_READ:
        j->rc = storage_read(j->st, j->off, j->data, (size_t)j->len);
        break;
    case JOB_HASH:
        j->rc = hash_job(w, j);
        break;
    case JOB_FSYNC:
        j->rc = storage_fsync(j->st);
        break;
    case JOB_CLOSE:
        storage_close(j->st);
        j->rc = 0;
        break;
    case JOB_WORK:
        j->rc = j->work(j->arg);
        break;
    }
}

/* Moves a finished job out of the queue. Returns 1 when the finished list
 * went from empty to not empty (the loop must be woken). */
static int
finish(struct disk *d, struct job *j)
{
    q_remove(d, j);
    j->running = 0;
    if (j->kind == JOB_WRITE)
        d->pending_bytes -= (size_t)j->len;
    j->next = NULL;
    if (d->done_tail) {
        d->done_tail->next = j;
        d->done_tail = j;
        return 0;
    }
    d->done_head = d->done_tail = j;
    pthread_cond_broadcast(&d->finished);
    return 1;
}

static void
wake_loop(struct disk *d)
{
    uint64_t one = 1;
    ssize_t r;
    do
        r = write(d->efd, &one, sizeof(one));
    while (r < 0 && errno == EINTR);
    /* EAGAIN means the counter is saturated: the fd is readable anyway. */
}

static void *
worker_main(void *arg)
{
    struct disk_worker *w = arg;
    struct disk *d = w->d;
    pthread_mutex_lock(&d->mu);
    for (;;) {
        struct job *j = take(d);
        if (!j) {
            if (d->stopping && d->nqueued == 0)
                break;
            pthread_cond_wait(&d->work, &d->mu);
            continue;
        }
        int n = j->kind == JOB_WRITE ? coalesce(d, j) : 1;
        pthread_mutex_unlock(&d->mu);

        run_job(w, j, n);

        pthread_mutex_lock(&d->mu);
        int wake = 0;
        for (struct job *g = j, *next; g; g = next) {
            next = g->gnext;
            wake |= finish(d, g);
        }
        /* Finishing may unblock queued jobs; stopping workers recheck too. */
        if (d->nqueued > 0 || d->stopping)
            pthread_cond_broadcast(&d->work);
        if (wake)
            wake_loop(d);
    }
    pthread_mutex_unlock(&d->mu);
    return NULL;
}

/* ------------------------------------------------------------------ pool */

/* Frees what disk_new() made once no worker runs: the first nhashers
 * workers' hashers, the locks, the eventfd and the pool itself. */
static void
release(struct disk *d, unsigned nhashers)
{
    for (unsigned i = 0; i < nhashers; i++)
        storage_hasher_cleanup(&d->workers[i].hasher);
    xfree(d->workers);
    pthread_cond_destroy(&d->finished);
    pthread_cond_destroy(&d->work);
    pthread_mutex_destroy(&d->mu);
    close(d->efd);
    xfree(d);
}

struct disk *
disk_new(unsigned threads)
{
    struct disk *d = xcalloc(1, sizeof(*d));
    if (!d)
        return NULL;
    if (threads == 0) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        threads = n > 0 ? (unsigned)n : 1;
    }
    if (threads > DISK_MAX_THREADS)
        threads = DISK_MAX_THREADS;
    d->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (d->efd < 0) {
        xfree(d);
        return NULL;
    }
    pthread_mutex_init(&d->mu, NULL);
    pthread_cond_init(&d->work, NULL);
    pthread_cond_init(&d->finished, NULL);
    d->workers = xcalloc(threads, sizeof(*d->workers));
    if (!d->workers)
        goto fail;
    for (unsigned i = 0; i < threads; i++) {
        d->workers[i].d = d;
        if (storage_hasher_init(&d->workers[i].hasher))
            goto fail;
    }
    for (unsigned i = 0; i < threads; i++) {
        if (pthread_create(&d->workers[i].thread, NULL, worker_main, &d->workers[i]))
            break;
        d->nworkers++;
    }
    if (d->nworkers == 0)
        goto fail;
    return d;
fail:
    release(d, d->workers ? threads : 0);
    return NULL;
}

static void
deliver(struct job *j, int rc)
{
    if (j->kind == JOB_READ) {
        if (rc == 0)
            j->rcb(j->user, 0, j->data, (size_t)j->len);
        else
            j->rcb(j->user, rc, NULL, 0);
    } else {
        j->cb(j->user, rc);
    }
    xfree(j->data);
    xfree(j);
}

static void
stop_workers(struct disk *d, unsigned n)
{
    pthread_mutex_lock(&d->mu);
    d->stopping = 1;
    pthread_cond_broadcast(&d->work);
    pthread_mutex_unlock(&d->mu);
    for (unsigned i = 0; i < n; i++)
        pthread_join(d->workers[i].thread, NULL);
}

void
disk_free(struct disk *d)
{
    if (!d)
        return;
    struct job *dropped = NULL, **tail = &dropped;

    /* Reads and hashes not started are dropped: their results would go to
     * a session that is going away. Writes still land on disk. */
    pthread_mutex_lock(&d->mu);
    for (struct job *j = d->q_head, *next; j; j = next) {
        next = j->next;
        if (j->running || (j->kind != JOB_READ && j->kind != JOB_HASH))
            continue;
        q_remove(d, j);
        d->nqueued--;
        if (j->background)
            d->nbackground--;
        *tail = j;
        tail = &j->next;
    }
    pthread_mutex_unlock(&d->mu);

    stop_workers(d, d->nworkers);

    /* The workers are gone: no lock is needed from here on. */
    for (struct job *j = d->done_head, *next; j; j = next) {
        next = j->next;
        deliver(j, DISK_ECANCELED);
    }
    for (struct job *j = dropped, *next; j; j = next) {
        next = j->next;
        deliver(j, DISK_ECANCELED);
    }
    release(d, d->nworkers);
}

int
disk_notify_fd(const struct disk *d)
{
    return d->efd;
}

size_t
disk_drain(struct disk *d)
{
    uint64_t v;
    ssize_t r;
    do
        r = read(d->efd, &v, sizeof(v));
    while (r < 0 && errno == EINTR);

    pthread_mutex_lock(&d->mu);
    struct job *list = d->done_head;
    d->done_head = d->done_tail = NULL;
    pthread_mutex_unlock(&d->mu);

    size_t n = 0;
    for (struct job *j = list, *next; j; j = next) {
        next = j->next;
        deliver(j, j->rc);
        n++;
    }
    if (n) {
        pthread_mutex_lock(&d->mu);
        d->pending_jobs -= n;
        pthread_mutex_unlock(&d->mu);
    }
    return n;
}

void
disk_wait(struct disk *d)
{
    pthread_mutex_lock(&d->mu);
    while (!d->done_head && d->pending_jobs > 0)
        pthread_cond_wait(&d->finished, &d->mu);
    pthread_mutex_unlock(&d->mu);
}

unsigned
disk_thread_count(const struct disk *d)
{
    return d->nworkers;
}

size_t
disk_pending_bytes(struct disk *d)
{
    pthread_mutex_lock(&d->mu);
    size_t n = d->pending_bytes;
    pthread_mutex_unlock(&d->mu);
    return n;
}

size_t
disk_pending_jobs(struct disk *d)
{
    pthread_mutex_lock(&d->mu);
    size_t n = d->pending_jobs;
    pthread_mutex_unlock(&d->mu);
    return n;
}

/* ------------------------------------------------------------------ submit */

static void
enqueue(struct disk *d, struct job *j)
{
    pthread_mutex_lock(&d->mu);
    q_append(d, j);
    d->nqueued++;
    if (j->background)
        d->nbackground++;
    d->pending_jobs++;
    if (j->kind == JOB_WRITE)
        d->pending_bytes += (size_t)j->len;
    pthread_cond_signal(&d->work);
    pthread_mutex_unlock(&d->mu);
}

static struct job *
new_job(enum job_kind kind, struct storage *st, void *user)
{
    struct job *j = xcalloc(1, sizeof(*j));
    if (!j)
        return NULL;
    j->kind = kind;
    j->st = st;
    j->user = user;
    return j;
}

int
disk_submit_write(struct disk *d, struct storage *st, uint64_t offset, uint8_t *data,
                  size_t len, disk_cb cb, void *user)
{
    struct job *j = NULL;
    if (!d || !st || !data || !cb || len == 0 || offset > UINT64_MAX - len) {
        xfree(data);
        return SHOAL_EINVAL;
    }
    j = new_job(JOB_WRITE, st, user);
    if (!j) {
        xfree(data);
        return SHOAL_ENOMEM;
    }
    j->off = offset;
    j->len = len;
    j->data = data;
    j->cb = cb;
    enqueue(d, j);
    return 0;
}

int
disk_submit_read(struct disk *d, struct storage *st, uint64_t offset, size_t len,
                 disk_read_cb cb, void *user)
{
    if (!d || !st || !cb || len == 0 || len > DISK_MAX_READ || offset > UINT64_MAX - len)
        return SHOAL_EINVAL;
    struct job *j = new_job(JOB_READ, st, user);
    if (!j)
        return SHOAL_ENOMEM;
    j->data = xmalloc(len);
    if (!j->data) {
        xfree(j);
        return SHOAL_ENOMEM;
    }
    j->off = offset;
    j->len = len;
    j->rcb = cb;
    enqueue(d, j);
    return 0;
}

/* The byte range of `count` pieces from `piece` on, for ordering; empty
 * past the end. */
static void
piece_range(struct storage *st, uint32_t piece, uint32_t count, uint64_t *off,
            uint64_t *len)
{
    /* Piece 0 is full length whenever there is more than one piece, and so
     * is every piece but the last. */
    uint64_t full = storage_piece_size(st, 0);
    *off = (uint64_t)piece * full;
    *len = (uint64_t)(count - 1) * full + storage_piece_size(st, piece + count - 1);
}

/* A hash job: one piece compared with `expected`, or `count` pieces handed
 * over into `digest`. */
static int
submit_hash(struct disk *d, struct storage *st, uint32_t piece, uint32_t count,
            const uint8_t expected[SHA1_LEN], uint8_t *digest, int background, disk_cb cb,
            void *user)
{
    if (!d || !st || !(expected || digest) || !cb)
        return SHOAL_EINVAL;
    struct job *j = new_job(JOB_HASH, st, user);
    if (!j)
        return SHOAL_ENOMEM;
    j->piece = piece;
    j->count = count;
    j->background = background;
    piece_range(st, piece, count, &j->off, &j->len);
    if (expected)
        memcpy(j->expected, expected, SHA1_LEN);
    j->digest = digest;
    j->cb = cb;
    enqueue(d, j);
    return 0;
}

int
disk_submit_hash(struct disk *d, struct storage *st, uint32_t piece,
                 const uint8_t expected[SHA1_LEN], disk_cb cb, void *user)
{
    return submit_hash(d, st, piece, 1, expected, NULL, 0, cb, user);
}

int
disk_submit_check(struct disk *d, struct storage *st, uint32_t piece,
                  const uint8_t expected[SHA1_LEN], disk_cb cb, void *user)
{
    return submit_hash(d, st, piece, 1, expected, NULL, 1, cb, user);
}

int
disk_submit_digest(struct disk *d, struct storage *st, uint32_t piece, uint32_t count,
                   uint8_t *out, disk_cb cb, void *user)
{
    if (!st || count == 0 || piece > UINT32_MAX - (count - 1) ||
        storage_piece_size(st, piece + count - 1) == 0)
        return SHOAL_EINVAL;
    return submit_hash(d, st, piece, count, NULL, out, 0, cb, user);
}

static int
submit_plain(struct disk *d, struct storage *st, enum job_kind kind, disk_cb cb,
             void *user)
{
    if (!d || !st || !cb)
        return SHOAL_EINVAL;
    struct job *j = new_job(kind, st, user);
    if (!j)
        return SHOAL_ENOMEM;
    j->cb = cb;
    enqueue(d, j);
    return 0;
}

int
disk_submit_fsync(struct disk *d, struct storage *st, disk_cb cb, void *user)
{
    return submit_plain(d, st, JOB_FSYNC, cb, user);
}

int
disk_submit_close(struct disk *d, struct storage *st, disk_cb cb, void *user)
{
    return submit_plain(d, st, JOB_CLOSE, cb, user);
}

int
disk_submit_work(struct disk *d, disk_work_fn work, void *arg, disk_cb cb, void *user)
{
    if (!d || !work || !cb)
        return SHOAL_EINVAL;
    struct job *j = new_job(JOB_WORK, NULL, user);
    if (!j)
        return SHOAL_ENOMEM;
    j->work = work;
    j->arg = arg;
    j->cb = cb;
    enqueue(d, j);
    return 0;
}
