/*
 * storage.c — maps a torrent's byte space onto the files of a download
 * folder. Engine layer: blocking pread/pwrite, called from the disk worker
 * threads; it must not touch the event loop, sockets or the clock.
 *
 * Files are opened on demand and kept in a small cache of descriptors shared
 * by all threads. A mutex guards the cache only; reads and writes go to the
 * kernel unlocked. A descriptor in use is pinned by a reference count, so a
 * thread never has its descriptor closed under it by another thread's
 * eviction.
 *
 * Every path is opened one component at a time from a descriptor of the
 * download folder, with O_NOFOLLOW on each, so no symlink found in the folder
 * is ever followed, whatever the torrent's paths say. The one exception is a
 * storage over files its caller listed (storage_open_files, used to make a
 * torrent): it has no download folder, reads only, and opens each path as
 * given, since those paths come from the user and not from a torrent.
 */
#include "engine/storage.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/alloc.h"
#include "codec/metainfo.h"

/* Open descriptors kept: enough for the files a swarm touches at once, far
 * below the usual limit of 1024 per process. */
#define STORAGE_MAX_FDS 64
/* Bytes read per step when hashing: stays in L2 cache while it is hashed. */
#define STORAGE_HASH_CHUNK (256u * 1024)
/* iovec entries handed to one pwritev; the kernel takes up to IOV_MAX. */
#define STORAGE_MAX_IOV 64

/* A cached descriptor. */
struct slot {
    int fd;        /* -1 when the slot is free */
    size_t file;   /* index of the file it belongs to */
    unsigned refs; /* threads using it now; evicted only at 0 */
    uint64_t used; /* tick of the last use, for LRU */
};

/* Per-file state, under the mutex. */
struct sfile {
    int slot;  /* cache slot holding its descriptor, or -1 */
    int dirty; /* written since the last fsync */
};

struct storage {
    const struct shoal_metainfo *m; /* the torrent, or &layout */
    int flags;
    int root; /* the download folder; -1 for listed files */
    pthread_mutex_t mu;
    struct sfile *files;
    struct slot slots[STORAGE_MAX_FDS];
    uint64_t tick;
    int first_err;         /* first failed read or write (under mu) */
    size_t first_err_file; /* ... and the file it failed on */
    /* storage_open_files: the files and pieces of the caller's list, with
     * no hashes, and the copy of the list it points into (else NULL). */
    struct shoal_metainfo layout;
    struct shoal_file *listed;
};

/* A descriptor borrowed from the cache, or an uncached one (slot -1). */
struct fref {
    int fd;
    int slot;
};

/* ------------------------------------------------------------------ paths */

/* Creates `dir` and its missing parents, following symlinks: the user chose
 * this path, unlike the paths inside it. */
static int
mkdir_p(const char *dir)
{
    int rc = 0;
    char *p = xstrdup(dir);
    if (!p)
        return SHOAL_ENOMEM;
    size_t n = strlen(p);
    for (size_t i = 1; i <= n; i++) {
        if (p[i] != '/' && p[i] != '\0')
            continue;
        char c = p[i];
        p[i] = '\0';
        if (mkdir(p, 0777) < 0 && errno != EEXIST) {
            rc = -errno;
            p[i] = c;
            break;
        }
        p[i] = c;
    }
    xfree(p);
    return rc;
}

/*
 * Opens the folder that holds the last component of `path` (relative to the
 * download folder), one component at a time, never following a symlink, and
 * creating missing folders when `create` is set. Returns a descriptor (the
 * root itself when path has one component: *owned tells whether the caller
 * must close it) and points *name at the last component; or -errno.
 */
static int
open_parent(struct storage *s, const char *path, int create, const char **name,
            int *owned)
{
    int dfd = s->root;
    const char *p = path;
    *owned = 0;
    for (;;) {
        const char *slash = strchr(p, '/');
        if (!slash)
            break;
        char comp[NAME_MAX + 1];
        size_t n = (size_t)(slash - p);
        if (n == 0 || n > NAME_MAX) {
            if (*owned)
                close(dfd);
            return n ? -ENAMETOOLONG : -EINVAL;
        }
        memcpy(comp, p, n);
        comp[n] = '\0';
        int flags = O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC;
        int fd = openat(dfd, comp, flags);
        if (fd < 0 && errno == ENOENT && create) {
            if (mkdirat(dfd, comp, 0777) == 0 || errno == EEXIST)
                fd = openat(dfd, comp, flags);
        }
        int e = errno;
        if (*owned)
            close(dfd);
        if (fd < 0)
            return -e;
        dfd = fd;
        *owned = 1;
        p = slash + 1;
    }
    *name = p;
    return dfd;
}

/*
 * Opens file i. In a writable storage the descriptor is read-write, so the
 * cache can serve both kinds of request; `create` (writes only) makes the
 * file and its folders when missing and extends it to its full size.
 */
static int
open_file(struct storage *s, size_t i, int create, int *out)
{
    const struct shoal_file *f = &s->m->files[i];
    int ro = s->flags & STORAGE_READONLY;
    const char *name = f->path;
    int owned = 0, rc = 0, dfd = AT_FDCWD;
    int flags = O_CLOEXEC | O_NONBLOCK | (ro ? O_RDONLY : O_RDWR);
    if (!s->listed) {
        dfd = open_parent(s, f->path, create && !ro, &name, &owned);
        if (dfd < 0)
            return dfd;
        flags |= O_NOFOLLOW;
    }
    if (create && !ro)
        flags |= O_CREAT;
    mode_t mode = (f->attr & SHOAL_FILE_EXEC) ? 0777 : 0666;
    /* O_NONBLOCK keeps a FIFO planted in the folder from blocking the open;
     * it changes nothing for the regular files accepted below. */
    int fd = openat(dfd, name, flags, mode);
    if (fd < 0) {
        rc = -errno;
        goto out;
    }
    struct stat st;
    if (fstat(fd, &st) < 0) {
        rc = -errno;
        goto out;
    }
    if (!S_ISREG(st.st_mode)) {
        rc = S_ISDIR(st.st_mode) ? -EISDIR : -EINVAL;
        goto out;
    }
    if (s->listed && (uint64_t)st.st_size != f->size) {
        rc = STORAGE_ECHANGED;
        goto out;
    }
    if (create && !ro && (uint64_t)st.st_size < f->size) {
        int e = 0;
        if (s->flags & STORAGE_PREALLOCATE) {
            e = posix_fallocate(fd, 0, (off_t)f->size);
            if (e == EOPNOTSUPP || e == EINVAL)
                e = 0; /* the file system cannot reserve: leave it sparse */
            else if (e)
                e = -e;
        }
        if (!e && ftruncate(fd, (off_t)f->size) < 0)
            e = -errno;
        /* ftruncate never shrinks here: the size was checked above. */
        rc = e;
    }
out:
    if (rc && fd >= 0)
        close(fd);
    if (owned)
        close(dfd);
    if (!rc)
        *out = fd;
    return rc;
}

/* ------------------------------------------------------------------ fd cache */

static int
acquire(struct storage *s, size_t i, int create, struct fref *r)
{
    int fd = -1, spare = -1, victim_fd = -1;
    pthread_mutex_lock(&s->mu);
    int sl = s->files[i].slot;
    if (sl >= 0) {
        s->slots[sl].refs++;
        s->slots[sl].used = ++s->tick;
        r->fd = s->slots[sl].fd;
        r->slot = sl;
        pthread_mutex_unlock(&s->mu);
        return 0;
    }
    pthread_mutex_unlock(&s->mu);

    /* Opening may create folders and reserve space: not under the lock. */
    int rc = open_file(s, i, create, &fd);
    if (rc)
        return rc;

    pthread_mutex_lock(&s->mu);
    sl = s->files[i].slot;
    if (sl >= 0) {
        /* Another thread opened it meanwhile: use theirs. */
        spare = fd;
        s->slots[sl].refs++;
        s->slots[sl].used = ++s->tick;
        r->fd = s->slots[sl].fd;
        r->slot = sl;
        goto out;
    }
    int best = -1;
    for (int k = 0; k < STORAGE_MAX_FDS; k++) {
        struct slot *c = &s->slots[k];
        if (c->fd < 0) {
            best = k;
            break;
        }
        if (c->refs == 0 && (best < 0 || c->used < s->slots[best].used))
            best = k;
    }
    if (best < 0) {
        /* Every slot is in use: this descriptor lives for one request. */
        r->fd = fd;
        r->slot = -1;
        goto out;
    }
    struct slot *c = &s->slots[best];
    if (c->fd >= 0) {
        victim_fd = c->fd;
        s->files[c->file].slot = -1;
    }
    c->fd = fd;
    c->file = i;
    c->refs = 1;
    c->used = ++s->tick;
    s->files[i].slot = best;
    r->fd = fd;
    r->slot = best;
out:
    pthread_mutex_unlock(&s->mu);
    if (spare >= 0)
        close(spare);
    if (victim_fd >= 0)
        close(victim_fd);
    return 0;
}

static void
release(struct storage *s, struct fref *r)
{
    if (r->slot < 0) {
        close(r->fd);
        return;
    }
    pthread_mutex_lock(&s->mu);
    s->slots[r->slot].refs--;
    pthread_mutex_unlock(&s->mu);
}

static void
mark_dirty(struct storage *s, size_t i)
{
    pthread_mutex_lock(&s->mu);
    s->files[i].dirty = 1;
    pthread_mutex_unlock(&s->mu);
}

/* Remembers the first failed read or write, for storage_first_error(). */
static void
note_error(struct storage *s, size_t i, int rc)
{
    pthread_mutex_lock(&s->mu);
    if (!s->first_err) {
        s->first_err = rc;
        s->first_err_file = i;
    }
    pthread_mutex_unlock(&s->mu);
}

int
storage_first_error(struct storage *s, size_t *file)
{
    pthread_mutex_lock(&s->mu);
    int rc = s->first_err;
    if (rc)
        *file = s->first_err_file;
    pthread_mutex_unlock(&s->mu);
    return rc;
}

/* ------------------------------------------------------------------ open */

static int
open_fail(struct shoal_perr *err, int rc, const char *why)
{
    if (err) {
        err->off = 0;
        err->why = why;
        err->msg[0] = '\0';
    }
    return rc;
}

/* A storage with no file open yet, over nfiles files. */
static struct storage *
storage_alloc(size_t nfiles, int flags)
{
    struct storage *s = xcalloc(1, sizeof(*s));
    if (!s)
        return NULL;
    s->flags = flags;
    s->root = -1;
    for (int k = 0; k < STORAGE_MAX_FDS; k++)
        s->slots[k].fd = -1;
    pthread_mutex_init(&s->mu, NULL);
    s->files = xcalloc(nfiles ? nfiles : 1, sizeof(*s->files));
    if (!s->files) {
        storage_close(s);
        return NULL;
    }
    for (size_t i = 0; i < nfiles; i++)
        s->files[i].slot = -1;
    return s;
}

int
storage_open(struct storage **out, const struct shoal_metainfo *m, const char *dir,
             int flags, struct shoal_perr *err)
{
    struct storage *s = NULL;
    int rc = 0;
    const char *why = NULL;

    if (out)
        *out = NULL;
    if (!out || !m || !dir || !dir[0] ||
        (flags & ~(STORAGE_READONLY | STORAGE_PREALLOCATE))) {
        return open_fail(err, SHOAL_EINVAL, "no torrent or download folder");
    }
    s = storage_alloc(m->file_count, flags);
    if (!s)
        return open_fail(err, SHOAL_ENOMEM, "out of memory opening the storage");
    s->m = m;

    if (!(flags & STORAGE_READONLY)) {
        rc = mkdir_p(dir);
        if (rc) {
            why = "cannot create the download folder";
            goto out;
        }
    }
    s->root = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (s->root < 0) {
        rc = -errno;
        why = "cannot open the download folder";
        goto out;
    }
    if (!(flags & STORAGE_READONLY)) {
        /* Empty files get no writes, so they are made now. Symlink entries
         * (BEP 47) are not made at all: their targets are not followed. */
        for (size_t i = 0; i < m->file_count; i++) {
            const struct shoal_file *f = &m->files[i];
            if (f->size || (f->attr & (SHOAL_FILE_PAD | SHOAL_FILE_SYMLINK)))
                continue;
            int fd;
            rc = open_file(s, i, 1, &fd);
            if (rc) {
                why = "cannot create an empty file of the torrent";
                goto out;
            }
            close(fd);
        }
    }
out:
    if (rc) {
        storage_close(s);
        return open_fail(err, rc, why);
    }
    *out = s;
    return 0;
}

int
storage_open_files(struct storage **out, const struct shoal_file *files, size_t nfiles,
                   uint32_t piece_length, struct shoal_perr *err)
{
    if (out)
        *out = NULL;
    if (!out || !files || nfiles == 0 || piece_length == 0)
        return open_fail(err, SHOAL_EINVAL, "no files or no piece length");
    uint64_t total = 0;
    for (size_t i = 0; i < nfiles; i++) {
        if (!files[i].path || files[i].size > UINT64_MAX - total)
            return open_fail(err, SHOAL_EINVAL, "a file has no path or is too large");
        total += files[i].size;
    }
    uint64_t npieces = total / piece_length + (total % piece_length != 0);
    if (npieces > UINT32_MAX)
        return open_fail(err, SHOAL_EINVAL, "too many pieces");
    struct storage *s = storage_alloc(nfiles, STORAGE_READONLY);
    if (s)
        s->listed = xcalloc(nfiles, sizeof(*s->listed));
    if (!s || !s->listed) {
        storage_close(s);
        return open_fail(err, SHOAL_ENOMEM, "out of memory opening the files");
    }
    uint64_t off = 0;
    for (size_t i = 0; i < nfiles; i++) {
        s->listed[i].path = files[i].path;
        s->listed[i].size = files[i].size;
        s->listed[i].offset = off;
        off += files[i].size;
    }
    s->layout.files = s->listed;
    s->layout.file_count = nfiles;
    s->layout.total_size = total;
    s->layout.piece_length = piece_length;
    s->layout.piece_count = (uint32_t)npieces;
    s->m = &s->layout;
    *out = s;
    return 0;
}

void
storage_close(struct storage *s)
{
    if (!s)
        return;
    for (int k = 0; k < STORAGE_MAX_FDS; k++)
        if (s->slots[k].fd >= 0)
            close(s->slots[k].fd);
    if (s->root >= 0)
        close(s->root);
    pthread_mutex_destroy(&s->mu);
    xfree(s->files);
    xfree(s->listed);
    xfree(s);
}

size_t
storage_file_count(const struct storage *s)
{
    return s->m->file_count;
}

uint32_t
storage_piece_size(const struct storage *s, uint32_t piece)
{
    const struct shoal_metainfo *m = s->m;
    if (piece >= m->piece_count)
        return 0;
    if (piece + 1 < m->piece_count)
        return m->piece_length;
    return (uint32_t)(m->total_size - (uint64_t)piece * m->piece_length);
}

/* ------------------------------------------------------------------ I/O */

/* Index of the file holding torrent byte `off`: the first whose end is past
 * it, which skips empty files. */
static size_t
file_at(const struct shoal_metainfo *m, uint64_t off)
{
    size_t lo = 0, hi = m->file_count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (m->files[mid].offset + m->files[mid].size > off)
            hi = mid;
        else
            lo = mid + 1;
    }
    return lo;
}

static int
in_range(const struct storage *s, uint64_t offset, uint64_t len)
{
    uint64_t total = s->m->total_size;
    return offset <= total && len <= total - offset;
}

/* Reads n bytes of file i from file offset pos. */
static int
read_span(struct storage *s, size_t i, uint64_t pos, uint8_t *out, size_t n)
{
    struct fref r;
    int rc = acquire(s, i, 0, &r);
    if (rc)
        return rc == -ENOTDIR ? STORAGE_EMISSING : rc;
    size_t got = 0;
    while (got < n) {
        ssize_t k = pread(r.fd, out + got, n - got, (off_t)(pos + got));
        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0) {
            rc = -errno;
            break;
        }
        if (k == 0) {
            /* The file is shorter than the torrent says; a listed file was
             * not when it was opened. */
            rc = s->listed ? STORAGE_ECHANGED : STORAGE_EMISSING;
            break;
        }
        got += (size_t)k;
    }
    release(s, &r);
    return rc;
}

int
storage_read(struct storage *s, uint64_t offset, uint8_t *out, size_t len)
{
    const struct shoal_metainfo *m = s->m;
    if (!in_range(s, offset, len))
        return SHOAL_EINVAL;
    size_t i = file_at(m, offset);
    while (len > 0) {
        const struct shoal_file *f = &m->files[i];
        uint64_t end = f->offset + f->size;
        if (end <= offset) {
            i++;
            continue;
        }
        size_t n = end - offset < len ? (size_t)(end - offset) : len;
        if (f->attr & SHOAL_FILE_PAD) {
            /* BEP 47: pad files are zeros and never stored. */
            memset(out, 0, n);
        } else {
            int rc = read_span(s, i, offset - f->offset, out, n);
            if (rc) {
                note_error(s, i, rc);
                return rc;
            }
        }
        out += n;
        offset += n;
        len -= n;
        i++;
    }
    return 0;
}

/* A position in an array of iovecs. */
struct iov_cursor {
    const struct iovec *iov;
    int cnt;
    size_t off; /* bytes of iov[0] already used */
};

static void
cursor_skip(struct iov_cursor *c, size_t n)
{
    while (n > 0 && c->cnt > 0) {
        size_t left = c->iov->iov_len - c->off;
        if (n < left) {
            c->off += n;
            return;
        }
        n -= left;
        c->iov++;
        c->cnt--;
        c->off = 0;
    }
    /* Skip emptied iovecs so iov[0] always has bytes left while any remain. */
    while (c->cnt > 0 && c->iov->iov_len == c->off) {
        c->iov++;
        c->cnt--;
        c->off = 0;
    }
}

/* Fills out[] with the next n bytes of the cursor (at most `max` entries)
 * without moving it; returns the entry count and sets *got to the bytes. */
static int
cursor_peek(const struct iov_cursor *c, size_t n, struct iovec *out, int max, size_t *got)
{
    int k = 0;
    size_t off = c->off;
    *got = 0;
    for (int j = 0; j < c->cnt && k < max && *got < n; j++) {
        size_t avail = c->iov[j].iov_len - off;
        if (avail > n - *got)
            avail = n - *got;
        if (avail > 0) {
            out[k].iov_base = (uint8_t *)c->iov[j].iov_base + off;
            out[k].iov_len = avail;
            k++;
            *got += avail;
        }
        off = 0;
    }
    return k;
}

/* 1 when the next n bytes of the cursor are all zero; moves past them. */
static int
cursor_zeros(struct iov_cursor *c, size_t n)
{
    int zero = 1;
    while (n > 0 && c->cnt > 0) {
        const uint8_t *p = (const uint8_t *)c->iov->iov_base + c->off;
        size_t left = c->iov->iov_len - c->off;
        size_t k = n < left ? n : left;
        for (size_t j = 0; j < k && zero; j++)
            zero = p[j] == 0;
        cursor_skip(c, k);
        n -= k;
    }
    return zero;
}

/* Writes the next n bytes of the cursor to file i at file offset pos. */
static int
write_span(struct storage *s, size_t i, uint64_t pos, struct iov_cursor *c, size_t n)
{
    struct iovec v[STORAGE_MAX_IOV];
    struct fref r;
    int rc = acquire(s, i, 1, &r);
    if (rc)
        return rc;
    while (n > 0) {
        size_t want;
        int k = cursor_peek(c, n, v, STORAGE_MAX_IOV, &want);
        ssize_t w = pwritev(r.fd, v, k, (off_t)pos);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0) {
            rc = -errno;
            break;
        }
        if (w == 0) {
            rc = -EIO; /* no progress on a regular file: give up, not spin */
            break;
        }
        cursor_skip(c, (size_t)w);
        pos += (uint64_t)w;
        n -= (size_t)w;
    }
    release(s, &r);
    if (!rc)
        mark_dirty(s, i);
    return rc;
}

int
storage_writev(struct storage *s, uint64_t offset, const struct iovec *iov, int iovcnt)
{
    const struct shoal_metainfo *m = s->m;
    uint64_t len = 0;
    int rc = 0;
    if (iovcnt < 0 || (iovcnt > 0 && !iov))
        return SHOAL_EINVAL;
    for (int k = 0; k < iovcnt; k++) {
        if (iov[k].iov_len > UINT64_MAX - len)
            return SHOAL_EINVAL;
        len += iov[k].iov_len;
    }
    if (!in_range(s, offset, len))
        return SHOAL_EINVAL;
    if (s->flags & STORAGE_READONLY)
        return len ? -EROFS : 0;
    struct iov_cursor c = {iov, iovcnt, 0};
    cursor_skip(&c, 0);
    size_t i = file_at(m, offset);
    while (len > 0) {
        const struct shoal_file *f = &m->files[i];
        uint64_t end = f->offset + f->size;
        if (end <= offset) {
            i++;
            continue;
        }
        uint64_t n = end - offset < len ? end - offset : len;
        if (f->attr & SHOAL_FILE_PAD) {
            /* BEP 47: pad bytes are zeros; anything else is bad data. */
            if (!cursor_zeros(&c, (size_t)n) && !rc)
                rc = STORAGE_ECORRUPT;
        } else {
            int e = write_span(s, i, offset - f->offset, &c, (size_t)n);
            if (e) {
                note_error(s, i, e);
                return e;
            }
        }
        offset += n;
        len -= n;
        i++;
    }
    return rc;
}

int
storage_write(struct storage *s, uint64_t offset, const uint8_t *data, size_t len)
{
    struct iovec v = {(void *)data, len};
    return storage_writev(s, offset, &v, 1);
}

/* ------------------------------------------------------------------ hashing */

int
storage_hasher_init(struct storage_hasher *h)
{
    memset(h, 0, sizeof(*h));
    h->chunk = xmalloc(STORAGE_HASH_CHUNK);
    if (!h->chunk || sha1_init(&h->sha)) {
        storage_hasher_cleanup(h);
        return SHOAL_ENOMEM;
    }
    return 0;
}

void
storage_hasher_cleanup(struct storage_hasher *h)
{
    if (h->sha.md)
        sha1_cleanup(&h->sha);
    xfree(h->chunk);
    memset(h, 0, sizeof(*h));
}

/* Feeds chunk[0..n) to the hashes of pieces from *piece on, *left bytes of
 * which remain in the current one; finishes each piece it completes into
 * out (indexed from `first`) and starts the next unless it is `end`. */
static int
hash_chunk(struct storage *s, struct storage_hasher *h, const uint8_t *chunk, size_t n,
           uint32_t first, uint32_t end, uint32_t *piece, uint32_t *left, uint8_t *out)
{
    int rc = 0;
    while (!rc && n > 0) {
        size_t k = n < *left ? n : *left;
        rc = sha1_update(&h->sha, chunk, k);
        chunk += k;
        n -= k;
        *left -= (uint32_t)k;
        if (rc || *left > 0)
            continue;
        rc = sha1_end(&h->sha, out + (size_t)(*piece - first) * SHA1_LEN);
        if (!rc && ++*piece < end) {
            *left = storage_piece_size(s, *piece);
            rc = sha1_begin(&h->sha);
        }
    }
    return rc;
}

int
storage_hash_pieces_with(struct storage *s, uint32_t first, uint32_t count, uint8_t *out,
                         struct storage_hasher *h)
{
    if (count == 0 || first > UINT32_MAX - (count - 1))
        return SHOAL_EINVAL;
    uint32_t end = first + count;
    uint32_t last_size = storage_piece_size(s, end - 1);
    if (last_size == 0)
        return SHOAL_EINVAL;
    /* Every piece but the last is full length. */
    uint64_t off = (uint64_t)first * s->m->piece_length;
    uint64_t stop = (uint64_t)(end - 1) * s->m->piece_length + last_size;
    uint32_t piece = first, left = storage_piece_size(s, first);
    int rc = sha1_begin(&h->sha);
    /* Chunks run on across piece boundaries: small pieces cost one read
     * per chunk, not one per piece. Reading into a small buffer also beats
     * hashing straight from an mmap of the file: the kernel copies through
     * its own mapping and the hash reads a buffer hot in L2, where a user
     * mapping pays a fault and a TLB miss per page (and a file truncated
     * under a mapping raises SIGBUS). */
    while (!rc && off < stop) {
        size_t n =
            stop - off < STORAGE_HASH_CHUNK ? (size_t)(stop - off) : STORAGE_HASH_CHUNK;
        rc = storage_read(s, off, h->chunk, n);
        if (!rc)
            rc = hash_chunk(s, h, h->chunk, n, first, end, &piece, &left, out);
        off += n;
    }
    return rc;
}

int
storage_hash_piece_with(struct storage *s, uint32_t piece, uint8_t out[SHA1_LEN],
                        struct storage_hasher *h)
{
    return storage_hash_pieces_with(s, piece, 1, out, h);
}

int
storage_hash_piece(struct storage *s, uint32_t piece, uint8_t out[SHA1_LEN])
{
    struct storage_hasher h;
    int rc = storage_hasher_init(&h);
    if (!rc)
        rc = storage_hash_piece_with(s, piece, out, &h);
    storage_hasher_cleanup(&h);
    return rc;
}

int
storage_verify_piece_with(struct storage *s, uint32_t piece, struct storage_hasher *h)
{
    uint8_t got[SHA1_LEN];
    if (!s->m->pieces)
        return SHOAL_EINVAL; /* listed files: nothing to compare with */
    int rc = storage_hash_piece_with(s, piece, got, h);
    if (rc)
        return rc;
    return memcmp(got, s->m->pieces + (size_t)piece * SHA1_LEN, SHA1_LEN) == 0;
}

int
storage_verify_piece(struct storage *s, uint32_t piece)
{
    struct storage_hasher h;
    int rc = storage_hasher_init(&h);
    if (!rc)
        rc = storage_verify_piece_with(s, piece, &h);
    storage_hasher_cleanup(&h);
    return rc;
}

/* ------------------------------------------------------------------ state */

int
storage_check_files(struct storage *s, struct storage_file_state *out)
{
    const struct shoal_metainfo *m = s->m;
    for (size_t i = 0; i < m->file_count; i++) {
        const struct shoal_file *f = &m->files[i];
        struct storage_file_state *o = &out[i];
        memset(o, 0, sizeof(*o));
        if (f->attr & SHOAL_FILE_PAD) {
            o->size = f->size;
            o->exists = 1;
            o->size_ok = 1;
            continue;
        }
        const char *name = f->path;
        int owned = 0, dfd = AT_FDCWD, at = 0;
        if (!s->listed) {
            dfd = open_parent(s, f->path, 0, &name, &owned);
            if (dfd < 0) {
                /* A missing folder, or one that is a symlink or a file: the
                 * data is not where this storage would read it. */
                if (dfd == -ENOENT || dfd == -ENOTDIR || dfd == -ELOOP)
                    continue;
                return dfd;
            }
            at = AT_SYMLINK_NOFOLLOW;
        }
        struct stat st;
        int rc = fstatat(dfd, name, &st, at) < 0 ? -errno : 0;
        if (owned)
            close(dfd);
        if (rc == -ENOENT || rc == -ENOTDIR)
            continue;
        if (rc)
            return rc;
        if (!S_ISREG(st.st_mode))
            continue;
        o->exists = 1;
        o->size = (uint64_t)st.st_size;
        o->mtime_ns = (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec;
        o->size_ok = o->size == f->size;
    }
    return 0;
}

int
storage_fsync(struct storage *s)
{
    int first = 0;
    for (size_t i = 0; i < s->m->file_count; i++) {
        pthread_mutex_lock(&s->mu);
        int dirty = s->files[i].dirty;
        s->files[i].dirty = 0;
        pthread_mutex_unlock(&s->mu);
        if (!dirty)
            continue;
        /* fsync flushes the file, whichever descriptor wrote to it. */
        struct fref r;
        int rc = acquire(s, i, 0, &r);
        if (!rc) {
            if (fsync(r.fd) < 0)
                rc = -errno;
            release(s, &r);
        }
        if (rc) {
            mark_dirty(s, i);
            if (!first)
                first = rc;
        }
    }
    return first;
}

/* ------------------------------------------------------------------ errors */

enum storage_error_class
storage_error_class(int err)
{
    switch (err) {
    case 0:
        return STORAGE_ERR_NONE;
    case -ENOSPC:
    case -EDQUOT:
    case -EFBIG:
        return STORAGE_ERR_FULL;
    case -EROFS:
    case -EACCES:
    case -EPERM:
        return STORAGE_ERR_READONLY;
    case STORAGE_EMISSING:
        return STORAGE_ERR_MISSING;
    case STORAGE_ECORRUPT:
        return STORAGE_ERR_CORRUPT;
    default:
        return STORAGE_ERR_IO;
    }
}

const char *
storage_error_kind(int err)
{
    switch (storage_error_class(err)) {
    case STORAGE_ERR_NONE:
        return "ok";
    case STORAGE_ERR_FULL:
        return "disk full";
    case STORAGE_ERR_READONLY:
        return "read-only";
    case STORAGE_ERR_MISSING:
        return "files missing";
    case STORAGE_ERR_CORRUPT:
        return "corrupt data";
    default:
        return "disk error";
    }
}
