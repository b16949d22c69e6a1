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
 *
 * A file not complete yet may carry a suffix (".part"); its name is decided
 * once at open (final name first) and changes only in storage_finish_file(),
 * under the mutex. Opens and stats that raced with that rename find nothing
 * under the old name and look once more under the new one, so a reader
 * never sees a renamed file as missing; descriptors already open stay
 * valid. The parts file holds unselected files' bytes at their torrent
 * offsets, through one descriptor kept open for the storage's life.
 */
#include "engine/storage.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/alloc.h"
#include "codec/metainfo.h"
#include "engine/storage_internal.h"

/* A descriptor borrowed from the cache, an uncached one (slot -1), or the
 * parts file's (slot FREF_PARTS), with the position of the file's byte 0
 * in it. */
struct fref {
    int fd;
    int slot;
    uint64_t base;
};
#define FREF_PARTS (-2)

/* Bytes read per step when hashing: stays in L2 cache while it is hashed. */
#define STORAGE_HASH_CHUNK (256u * 1024)
/* iovec entries handed to one pwritev; the kernel takes up to IOV_MAX. */
#define STORAGE_MAX_IOV 64

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
int
storage_open_parent(struct storage *s, const char *path, int create, const char **name,
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

/* Whether file i carries its incomplete name now. */
int
storage_name_is_part(struct storage *s, size_t i)
{
    pthread_mutex_lock(&s->mu);
    int part = s->files[i].part;
    pthread_mutex_unlock(&s->mu);
    return part;
}

/* The name of a file in its folder: `leaf`, or while it is incomplete
 * leaf + suffix, built in buf. Names too long for a suffix never get one
 * (storage_open_with), so this cannot overflow. */
const char *
storage_disk_name(const struct storage *s, const char *leaf, int part,
                  char buf[NAME_MAX + 1])
{
    if (!part)
        return leaf;
    size_t a = strlen(leaf), b = strlen(s->ext);
    memcpy(buf, leaf, a);
    memcpy(buf + a, s->ext, b + 1);
    return buf;
}

/*
 * Opens file i under the name it has when `part` says so. In a writable
 * storage the descriptor is read-write, so the cache can serve both kinds
 * of request; `create` (writes only) makes the file and its folders when
 * missing and extends a selected file to its full size.
 */
static int
open_named(struct storage *s, size_t i, int create, int part, int *out)
{
    const struct shoal_file *f = &s->m->files[i];
    int ro = s->flags & STORAGE_READONLY;
    const char *name = f->path;
    char buf[NAME_MAX + 1];
    int owned = 0, rc = 0, dfd = AT_FDCWD;
    int flags = O_CLOEXEC | O_NONBLOCK | (ro ? O_RDONLY : O_RDWR);
    if (!s->listed) {
        dfd = storage_open_parent(s, f->path, create && !ro, &name, &owned);
        if (dfd < 0)
            return dfd;
        flags |= O_NOFOLLOW;
        name = storage_disk_name(s, name, part, buf);
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
    /* An unselected file holds only what was written to it. */
    if (create && !ro && !s->files[i].partial && (uint64_t)st.st_size < f->size) {
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

/* Opens file i under its current name. A file renamed to its final name
 * between the look at its name and the open is opened again under that
 * name, so readers never see it missing. */
static int
open_file(struct storage *s, size_t i, int create, int *out)
{
    int part = storage_name_is_part(s, i);
    int rc = open_named(s, i, create, part, out);
    if (rc == -ENOENT && storage_name_is_part(s, i) != part)
        rc = open_named(s, i, create, !part, out);
    return rc;
}

/* ------------------------------------------------------------------ fd cache */

/* Opens the parts file; creating it (and its folder) when `create`. */
static int
open_parts(const struct storage *s, int create)
{
    int ro = s->flags & STORAGE_READONLY;
    int flags = O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK | (ro ? O_RDONLY : O_RDWR);
    if (create && !ro)
        flags |= O_CREAT;
    int fd = open(s->parts_path, flags, 0600);
    if (fd < 0 && errno == ENOENT && create && !ro) {
        /* Its folder is the program's own: made when missing. */
        char *dir = xstrdup(s->parts_path);
        char *slash = dir ? strrchr(dir, '/') : NULL;
        if (!dir)
            return SHOAL_ENOMEM;
        if (slash && slash != dir) {
            *slash = '\0';
            mkdir_p(dir);
        }
        xfree(dir);
        fd = open(s->parts_path, flags, 0600);
    }
    if (fd < 0)
        return -errno;
    struct stat st;
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return -EINVAL;
    }
    return fd;
}

/* The parts file's descriptor, kept open once opened: it holds file i's
 * bytes at their torrent offsets. A read before anything was written there
 * finds nothing. */
static int
acquire_parts(struct storage *s, size_t i, int create, struct fref *r)
{
    int rc = 0;
    pthread_mutex_lock(&s->mu);
    if (s->parts_fd < 0) {
        int fd = open_parts(s, create);
        if (fd >= 0)
            s->parts_fd = fd;
        else
            rc = fd == -ENOENT ? STORAGE_EMISSING : fd;
    }
    r->fd = s->parts_fd;
    pthread_mutex_unlock(&s->mu);
    r->slot = FREF_PARTS;
    r->base = s->m->files[i].offset;
    return rc;
}

static int
acquire(struct storage *s, size_t i, int create, struct fref *r)
{
    int fd = -1, spare = -1, victim_fd = -1;
    if (s->files[i].in_parts)
        return acquire_parts(s, i, create, r);
    r->base = 0;
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
    if (r->slot == FREF_PARTS)
        return;
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
    if (s->files[i].in_parts)
        s->parts_dirty = 1;
    else
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
    s->parts_fd = -1;
    for (int k = 0; k < STORAGE_MAX_FDS; k++)
        s->slots[k].fd = -1;
    pthread_mutex_init(&s->mu, NULL);
    pthread_mutex_init(&s->scratch_mu, NULL);
    s->files = xcalloc(nfiles ? nfiles : 1, sizeof(*s->files));
    if (!s->files) {
        storage_close(s);
        return NULL;
    }
    for (size_t i = 0; i < nfiles; i++)
        s->files[i].slot = -1;
    return s;
}

/* The last component of a torrent path. */
static const char *
leaf_of(const char *path)
{
    const char *slash = strrchr(path, '/');
    return slash ? slash + 1 : path;
}

/* Whether file i may take the incomplete suffix: its name leaves room for
 * it, and the suffixed name is not another file's of the torrent. */
static int
suffix_ok(const struct storage *s, size_t i)
{
    const char *leaf = leaf_of(s->m->files[i].path);
    return s->ext && !s->files[i].plain && strlen(leaf) + strlen(s->ext) <= NAME_MAX;
}

/* A path to look up among the files, sorted by path. */
struct path_key {
    const char *p;
    size_t len;
    const struct shoal_file *files;
};

static int
by_path(const void *a, const void *b, void *files)
{
    const struct shoal_file *f = files;
    return strcmp(f[*(const size_t *)a].path, f[*(const size_t *)b].path);
}

static int
key_cmp(const void *k, const void *e)
{
    const struct path_key *key = k;
    const char *path = key->files[*(const size_t *)e].path;
    int c = strncmp(key->p, path, key->len);
    if (c)
        return c;
    return path[key->len] ? -1 : 0;
}

/* A torrent may hold both "a" and "a.part": "a" then never takes the
 * suffix, or its unfinished data would land in the other file. */
static int
mark_clashes(struct storage *s)
{
    const struct shoal_metainfo *m = s->m;
    size_t n = m->file_count, el = strlen(s->ext);
    size_t *order = xcalloc(n ? n : 1, sizeof(*order));
    if (!order)
        return SHOAL_ENOMEM;
    for (size_t i = 0; i < n; i++)
        order[i] = i;
    qsort_r(order, n, sizeof(*order), by_path, (void *)m->files);
    for (size_t i = 0; i < n; i++) {
        const char *p = m->files[i].path;
        size_t len = strlen(p);
        if (len <= el || strcmp(p + len - el, s->ext) != 0)
            continue;
        struct path_key key = {p, len - el, m->files};
        size_t *hit = bsearch(&key, order, n, sizeof(*order), key_cmp);
        if (hit)
            s->files[*hit].plain = 1;
    }
    xfree(order);
    return 0;
}

enum found { FOUND_NONE, FOUND_FINAL, FOUND_PART };

/* Looks for file i under its final name first, then under its incomplete
 * one. Whatever sits at a name counts, even a folder or a symlink: opening
 * it later refuses it, rather than writing beside it under the other name. */
static int
find_file(struct storage *s, size_t i, enum found *out)
{
    const char *leaf;
    char buf[NAME_MAX + 1];
    int owned = 0, rc = 0;
    struct stat st;
    *out = FOUND_NONE;
    int dfd = storage_open_parent(s, s->m->files[i].path, 0, &leaf, &owned);
    if (dfd < 0)
        return dfd == -ENOENT || dfd == -ENOTDIR || dfd == -ELOOP ? 0 : dfd;
    if (fstatat(dfd, leaf, &st, AT_SYMLINK_NOFOLLOW) == 0)
        *out = FOUND_FINAL;
    else if (errno != ENOENT && errno != ENOTDIR)
        rc = -errno;
    else if (suffix_ok(s, i)) {
        if (fstatat(dfd, storage_disk_name(s, leaf, 1, buf), &st, AT_SYMLINK_NOFOLLOW) ==
            0)
            *out = FOUND_PART;
        else if (errno != ENOENT && errno != ENOTDIR)
            rc = -errno;
    }
    if (owned)
        close(dfd);
    return rc;
}

/* 1 when n bytes are all zero. */
static int
all_zero(const uint8_t *p, size_t n)
{
    for (size_t k = 0; k < n; k++)
        if (p[k])
            return 0;
    return 1;
}

/*
 * File i is selected now and not on disk, but an earlier selection left it
 * in the parts file: the bytes it has there, which can only be in its first
 * and last pieces (the ones it shares with other files), move into the
 * file, so that pieces verified then verify again. Holes of the parts file
 * read as zeros and are not copied.
 */
static int
take_from_parts(struct storage *s, size_t i, int pfd, uint8_t *buf)
{
    const struct shoal_file *f = &s->m->files[i];
    uint64_t plen = s->m->piece_length, end = f->offset + f->size;
    uint64_t first_end = (f->offset / plen + 1) * plen;
    uint64_t last_start = (end - 1) / plen * plen;
    uint64_t ranges[2][2] = {
        {f->offset, first_end < end ? first_end : end},
        {last_start > f->offset ? last_start : f->offset, end},
    };
    int nranges = ranges[1][0] >= ranges[0][1] ? 2 : 1;
    for (int k = 0; k < nranges; k++) {
        size_t n = (size_t)(ranges[k][1] - ranges[k][0]);
        ssize_t got = pread(pfd, buf, n, (off_t)ranges[k][0]);
        if (got <= 0)
            continue;
        if (all_zero(buf, (size_t)got))
            continue;
        int rc = storage_write(s, ranges[k][0], buf, (size_t)got);
        if (rc)
            return rc;
    }
    return 0;
}

/* Moves what the parts file holds of newly selected files into them
 * (`missing` marks the selected files not on disk), and removes the parts
 * file once no file keeps its bytes there. */
static int
settle_parts(struct storage *s, const uint8_t *missing)
{
    int pfd = open(s->parts_path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
    if (pfd < 0)
        return errno == ENOENT ? 0 : -errno;
    int rc = 0;
    uint8_t *buf = xmalloc(s->m->piece_length);
    if (!buf)
        rc = SHOAL_ENOMEM;
    for (size_t i = 0; !rc && i < s->m->file_count; i++)
        if (missing[i])
            rc = take_from_parts(s, i, pfd, buf);
    xfree(buf);
    close(pfd);
    if (!rc && s->nparts == 0 && unlink(s->parts_path) < 0 && errno != ENOENT)
        rc = -errno;
    return rc;
}

/*
 * Decides, for every file, the name it has on disk now and where its bytes
 * go: a file on disk keeps its data where it is (final name first); a
 * missing one is made under its incomplete name, or, when it is not
 * selected and there is a parts file, not made at all. Fills missing[i] for
 * the selected files not on disk.
 */
static int
place_files(struct storage *s, const struct storage_opts *o, uint8_t *missing)
{
    const struct shoal_metainfo *m = s->m;
    for (size_t i = 0; i < m->file_count; i++) {
        const struct shoal_file *f = &m->files[i];
        struct sfile *sf = &s->files[i];
        if (f->attr & (SHOAL_FILE_PAD | SHOAL_FILE_SYMLINK))
            continue;
        enum found found;
        int rc = find_file(s, i, &found);
        if (rc)
            return rc;
        int want = !o->wanted || o->wanted[i];
        if (found == FOUND_NONE && !want && s->parts_path) {
            sf->in_parts = 1;
            s->nparts++;
            continue;
        }
        if (found == FOUND_PART)
            sf->part = 1;
        else if (found == FOUND_NONE)
            sf->part = f->size > 0 && suffix_ok(s, i);
        sf->partial = !want;
        missing[i] = want && found == FOUND_NONE && f->size > 0;
    }
    return 0;
}

int
storage_open_with(struct storage **out, const struct shoal_metainfo *m, const char *dir,
                  const struct storage_opts *o, struct shoal_perr *err)
{
    struct storage *s = NULL;
    uint8_t *missing = NULL;
    int rc = 0;
    const char *why = NULL;

    if (out)
        *out = NULL;
    if (!out || !m || !dir || !dir[0] || !o ||
        (o->flags & ~(STORAGE_READONLY | STORAGE_PREALLOCATE))) {
        return open_fail(err, SHOAL_EINVAL, "no torrent or download folder");
    }
    int ro = o->flags & STORAGE_READONLY;
    s = storage_alloc(m->file_count, o->flags);
    missing = xcalloc(m->file_count ? m->file_count : 1, 1);
    if (!s || !missing) {
        storage_close(s);
        xfree(missing);
        return open_fail(err, SHOAL_ENOMEM, "out of memory opening the storage");
    }
    s->m = m;
    /* Seeding uses final names only: the data is complete, or refused. */
    if (!ro && o->incomplete_ext && o->incomplete_ext[0]) {
        s->ext = xstrdup(o->incomplete_ext);
        s->scratch = xmalloc(STORAGE_COMPARE_CHUNK);
    }
    if (o->parts_path && o->parts_path[0])
        s->parts_path = xstrdup(o->parts_path);
    if ((!ro && o->incomplete_ext && o->incomplete_ext[0] && (!s->ext || !s->scratch)) ||
        (o->parts_path && o->parts_path[0] && !s->parts_path)) {
        rc = SHOAL_ENOMEM;
        why = "out of memory opening the storage";
        goto out;
    }
    if (s->ext && strchr(s->ext, '/')) {
        rc = SHOAL_EINVAL;
        why = "the suffix of incomplete files contains a '/'";
        goto out;
    }

    if (!ro) {
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
    if (s->ext && (rc = mark_clashes(s)) != 0) {
        why = "out of memory opening the storage";
        goto out;
    }
    rc = place_files(s, o, missing);
    if (rc) {
        why = "cannot look at the files of the torrent";
        goto out;
    }
    if (ro)
        goto out;
    if (s->parts_path) {
        rc = settle_parts(s, missing);
        if (rc) {
            why = "cannot move data out of the parts file";
            goto out;
        }
    }
    /* Empty files get no writes, so they are made now, under their final
     * names. Symlink entries (BEP 47) are not made at all: their targets are
     * not followed. */
    for (size_t i = 0; i < m->file_count; i++) {
        const struct shoal_file *f = &m->files[i];
        if (f->size || (f->attr & (SHOAL_FILE_PAD | SHOAL_FILE_SYMLINK)) ||
            s->files[i].in_parts)
            continue;
        int fd;
        rc = open_file(s, i, 1, &fd);
        if (rc) {
            why = "cannot create an empty file of the torrent";
            goto out;
        }
        close(fd);
    }
out:
    xfree(missing);
    if (rc) {
        storage_close(s);
        return open_fail(err, rc, why);
    }
    *out = s;
    return 0;
}

int
storage_open(struct storage **out, const struct shoal_metainfo *m, const char *dir,
             int flags, struct shoal_perr *err)
{
    struct storage_opts o = {.flags = flags};
    return storage_open_with(out, m, dir, &o, err);
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
    if (s->parts_fd >= 0)
        close(s->parts_fd);
    pthread_mutex_destroy(&s->mu);
    pthread_mutex_destroy(&s->scratch_mu);
    xfree(s->scratch);
    xfree(s->ext);
    xfree(s->parts_path);
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
        ssize_t k = pread(r.fd, out + got, n - got, (off_t)(r.base + pos + got));
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
        ssize_t w = pwritev(r.fd, v, k, (off_t)(r.base + pos));
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

/* Fills *o from a stat of the regular file at `name` in dfd, following no
 * symlink; a missing name leaves *o empty. */
static int
stat_state(int dfd, const char *name, int at, uint64_t want_size,
           struct storage_file_state *o)
{
    struct stat st;
    if (fstatat(dfd, name, &st, at) < 0)
        return errno == ENOENT || errno == ENOTDIR ? 0 : -errno;
    if (!S_ISREG(st.st_mode))
        return 0;
    o->exists = 1;
    o->size = (uint64_t)st.st_size;
    o->mtime_ns = (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec;
    o->size_ok = o->size == want_size;
    return 0;
}

/* The state of file i under the name it has when `part` says so. */
static int
check_named(struct storage *s, size_t i, int part, struct storage_file_state *o)
{
    const struct shoal_file *f = &s->m->files[i];
    const char *name = f->path;
    char buf[NAME_MAX + 1];
    int owned = 0, dfd = AT_FDCWD, at = 0;
    memset(o, 0, sizeof(*o));
    if (!s->listed) {
        dfd = storage_open_parent(s, f->path, 0, &name, &owned);
        if (dfd < 0) {
            /* A missing folder, or one that is a symlink or a file: the
             * data is not where this storage would read it. */
            if (dfd == -ENOENT || dfd == -ENOTDIR || dfd == -ELOOP)
                return 0;
            return dfd;
        }
        at = AT_SYMLINK_NOFOLLOW;
        name = storage_disk_name(s, name, part, buf);
    }
    int rc = stat_state(dfd, name, at, f->size, o);
    if (owned)
        close(dfd);
    return rc;
}

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
        if (s->files[i].in_parts)
            continue; /* never on disk: its bytes are in the parts file */
        int part = storage_name_is_part(s, i);
        int rc = check_named(s, i, part, o);
        if (!rc && !o->exists && storage_name_is_part(s, i) != part)
            rc = check_named(s, i, !part, o); /* renamed meanwhile */
        if (rc)
            return rc;
    }
    return 0;
}

int
storage_check_parts(struct storage *s, struct storage_file_state *out)
{
    memset(out, 0, sizeof(*out));
    if (!s->parts_path)
        return 0;
    return stat_state(AT_FDCWD, s->parts_path, AT_SYMLINK_NOFOLLOW, 0, out);
}

int
storage_fsync(struct storage *s)
{
    int first = 0;
    /* The parts descriptor, once open, stays open until storage_close. */
    pthread_mutex_lock(&s->mu);
    int pfd = s->parts_dirty ? s->parts_fd : -1;
    s->parts_dirty = 0;
    pthread_mutex_unlock(&s->mu);
    if (pfd >= 0 && fsync(pfd) < 0) {
        first = -errno;
        pthread_mutex_lock(&s->mu);
        s->parts_dirty = 1;
        pthread_mutex_unlock(&s->mu);
    }
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

/* ------------------------------------------------------------------ names */

int
storage_file_is_part(struct storage *s, size_t i)
{
    return i < s->m->file_count && storage_name_is_part(s, i);
}

int
storage_file_in_parts(const struct storage *s, size_t i)
{
    return i < s->m->file_count && s->files[i].in_parts;
}

size_t
storage_file_at(const struct storage *s, uint64_t off)
{
    return file_at(s->m, off);
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
