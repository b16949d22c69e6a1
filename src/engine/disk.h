/*
 * disk.h — a pool of worker threads that runs storage jobs (write, read,
 * hash, fsync, close) and other blocking file work off the event loop.
 * Engine layer.
 *
 * It knows nothing of the event loop: finished jobs wait in a queue, and the
 * pool makes disk_notify_fd() readable when that queue stops being empty. The
 * session watches that fd on its loop and calls disk_drain(), which runs the
 * callbacks of finished jobs on the loop thread. Callbacks never run on a
 * worker thread.
 *
 * Async rule: when a disk_submit_* call returns non-zero, its callback never
 * runs; when it returns 0, the callback runs exactly once, from disk_drain()
 * or, for jobs still pending then, from disk_free() with rc = SHOAL_ECANCELED.
 *
 * Priority: jobs of a full check (disk_submit_check) are background jobs; a
 * worker takes one only when no other job can run, or after 16 other jobs
 * in a row while it waited (DISK_BACKGROUND_EVERY in disk.c). Downloads and
 * uploads of other torrents thus go first while a big check runs, and the
 * check still moves on under load. Priority never reorders jobs that the
 * rule below orders.
 *
 * Ordering: jobs on the same storage whose byte ranges overlap run in
 * submission order when at least one of them writes. So a hash or a read of
 * a piece sees every write to it submitted before, and a write waits for
 * earlier reads of the same bytes. An fsync runs after every earlier write
 * to its storage, a close after every earlier job on it. Jobs that do not
 * overlap run in parallel, in any order, and their callbacks come in the
 * order they finish.
 *
 * Submitting is thread-safe; disk_drain(), disk_wait() and disk_free()
 * belong to the one thread that owns the pool (the loop thread).
 */
#ifndef SHOAL_DISK_H
#define SHOAL_DISK_H

#include <stddef.h>
#include <stdint.h>

#include "base/sha.h"
#include "shoal.h"

/* rc for jobs that were still pending when the pool was freed. */
#define DISK_ECANCELED SHOAL_ECANCELED

struct disk;
struct storage;

/* Completion of a write, fsync or close: rc 0 or a negative code (see
 * storage.h); of a hash: 1 match, 0 mismatch, < 0 error; of a digest: 0 or
 * a negative code. */
typedef void (*disk_cb)(void *user, int rc);
/* Work for disk_submit_work(), run on a worker thread: returns 0 or a
 * negative code. It must not allocate (allocation stays on the submitting
 * thread) nor touch anything the loop thread uses meanwhile. */
typedef int (*disk_work_fn)(void *arg);
/* Completion of a read: on rc 0, data holds len bytes, borrowed until the
 * callback returns; otherwise data is NULL. */
typedef void (*disk_read_cb)(void *user, int rc, const uint8_t *data, size_t len);

/*
 * Starts a pool of `threads` workers (0: one per core, at most 64). Returns
 * NULL when out of memory or when no thread could start.
 */
struct disk *disk_new(unsigned threads);

/*
 * Stops the pool. Jobs already running finish; of the jobs still queued,
 * writes, fsyncs, closes and work run (so no accepted data is lost) while
 * reads and hashes are dropped unrun. Then every callback not yet delivered
 * runs, with rc = SHOAL_ECANCELED. Must not be called from a disk callback.
 * NULL does nothing.
 */
void disk_free(struct disk *d);

/* An fd that turns readable when finished jobs wait for disk_drain(). Owned
 * by the pool; watch it for reading, never read or close it. */
int disk_notify_fd(const struct disk *d);

/*
 * Runs the callbacks of every job finished so far, on the calling thread, in
 * the order the jobs finished, and clears disk_notify_fd(). Callbacks may
 * submit new jobs (they are delivered by a later drain) but must not call
 * disk_drain() or disk_free(). Returns the number of callbacks run.
 */
size_t disk_drain(struct disk *d);

/*
 * Queues a write of data[0..len) at torrent byte `offset`. Takes ownership of
 * data (an xmalloc'd block) in every case: it is freed with xfree once
 * written, or before returning when the call fails. Adjacent queued writes to
 * one storage may be joined into one pwritev. The storage must stay open
 * until the callback has run (or use disk_submit_close). Returns 0, or
 * SHOAL_EINVAL / SHOAL_ENOMEM.
 */
int disk_submit_write(struct disk *d, struct storage *st, uint64_t offset, uint8_t *data,
                      size_t len, disk_cb cb, void *user);

/* Queues a read of len bytes at torrent byte `offset` (len > 0). Returns 0,
 * or SHOAL_EINVAL / SHOAL_ENOMEM. */
int disk_submit_read(struct disk *d, struct storage *st, uint64_t offset, size_t len,
                     disk_read_cb cb, void *user);

/* Queues a hash of `piece`, compared with expected[0..20) (copied). The
 * callback's rc is 1 on a match, 0 on a mismatch, < 0 on an error. */
int disk_submit_hash(struct disk *d, struct storage *st, uint32_t piece,
                     const uint8_t expected[SHA1_LEN], disk_cb cb, void *user);

/*
 * The same at background priority, for the pieces of a full check. Whoever
 * checks keeps only a few of these queued at a time (a small multiple of
 * disk_thread_count()), submitting the next as each one completes, so that
 * a check of any size holds little of the queue and can stop at once.
 */
int disk_submit_check(struct disk *d, struct storage *st, uint32_t piece,
                      const uint8_t expected[SHA1_LEN], disk_cb cb, void *user);

/*
 * Queues the hashing of `count` consecutive pieces from `piece` on, handing
 * their SHA-1s over instead of comparing them, as for making a torrent,
 * which has no hashes yet. A worker writes them to out[0 .. count * 20),
 * which must stay valid, and which nothing else may touch, until the
 * callback has run. The callback's rc is 0 when out holds every hash, or
 * < 0 on the first error (out is then partly written). One job holds a
 * worker for all its pieces: keep a run to a few MiB so that other jobs are
 * not held up long. Foreground priority, like disk_submit_hash(). Returns
 * 0, SHOAL_EINVAL (no pieces, or pieces past the end), or SHOAL_ENOMEM.
 */
int disk_submit_digest(struct disk *d, struct storage *st, uint32_t piece, uint32_t count,
                       uint8_t *out, disk_cb cb, void *user);

/* Queues a storage_fsync() that runs once every earlier write to st is done. */
int disk_submit_fsync(struct disk *d, struct storage *st, disk_cb cb, void *user);

/*
 * Queues storage_close(st) to run once every earlier job on st is done; st is
 * invalid once the callback has run (rc is always 0). Nothing may be
 * submitted on st after this call.
 */
int disk_submit_close(struct disk *d, struct storage *st, disk_cb cb, void *user);

/*
 * Queues work(arg) to run on a worker, for blocking file work that belongs
 * to no storage (writing a resume state file with its fsyncs). It is not
 * ordered against any other job; the callback's rc is work's. Like writes,
 * it still runs when the pool is freed with it queued. arg must stay valid
 * until the callback has run. Returns 0, or SHOAL_EINVAL / SHOAL_ENOMEM.
 */
int disk_submit_work(struct disk *d, disk_work_fn work, void *arg, disk_cb cb,
                     void *user);

/*
 * Bytes of write data held by the pool, accepted but not yet written. The
 * session stops reading blocks from peers while this is above its limit
 * (back-pressure) and resumes when a drain brings it down.
 */
size_t disk_pending_bytes(struct disk *d);

/* Jobs accepted whose callbacks have not run yet. */
size_t disk_pending_jobs(struct disk *d);

/*
 * Blocks until a finished job waits for disk_drain() or no job is pending,
 * without spinning; returns at once when either holds already. For the
 * owner when it must wait for the pool (a session being freed); a running
 * loop watches disk_notify_fd() instead.
 */
void disk_wait(struct disk *d);

/* The number of worker threads. */
unsigned disk_thread_count(const struct disk *d);

#endif
